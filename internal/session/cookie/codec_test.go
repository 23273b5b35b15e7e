package cookie

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

const testCookie = "_gatehouse"

func testKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newTestCodec(t testing.TB, now func() time.Time, keys ...[]byte) *Codec {
	t.Helper()
	c, err := NewCodec(keys, now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewCodecRejectsBadKeys(t *testing.T) {
	for name, keys := range map[string][][]byte{
		"none":      nil,
		"short":     {make([]byte, 16)},
		"long":      {make([]byte, 64)},
		"second ok": {make([]byte, KeySize), make([]byte, 31)},
	} {
		if _, err := NewCodec(keys, nil); err == nil {
			t.Errorf("%s: NewCodec succeeded", name)
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	clock := sessiontest.NewClock()
	c := newTestCodec(t, clock.Now, testKey(t))
	exp := clock.Now().Add(time.Hour)
	for _, payload := range [][]byte{{}, []byte("x"), bytes.Repeat([]byte{0xff}, 1000)} {
		v, err := c.Seal(testCookie, payload, exp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Open(testCookie, v)
		if err != nil {
			t.Fatalf("Open(%d bytes): %v", len(payload), err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("Open = %x, want %x", got, payload)
		}
	}
	// Two seals of one payload differ (random nonce).
	a, _ := c.Seal(testCookie, []byte("same"), exp)
	b, _ := c.Seal(testCookie, []byte("same"), exp)
	if a == b {
		t.Fatal("two seals of one payload are equal")
	}
}

func TestCodecSealIDOpenID(t *testing.T) {
	clock := sessiontest.NewClock()
	c := newTestCodec(t, clock.Now, testKey(t))
	id := sessiontest.NewID(t)
	v, err := c.SealID(testCookie, id, clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(v, id) {
		t.Fatal("cookie value shows the session ID")
	}
	got, err := c.OpenID(testCookie, v)
	if err != nil || got != id {
		t.Fatalf("OpenID = %q, %v; want %q", got, err, id)
	}
	if _, err := c.SealID(testCookie, "not-an-id", clock.Now().Add(time.Hour)); !errors.Is(err, session.ErrInvalidID) {
		t.Fatalf("SealID(bad) = %v, want session.ErrInvalidID", err)
	}
	// A validly sealed value whose payload is not an ID is refused.
	other, _ := c.Seal(testCookie, []byte("short"), clock.Now().Add(time.Hour))
	if _, err := c.OpenID(testCookie, other); !errors.Is(err, ErrInvalid) {
		t.Fatalf("OpenID(non-ID payload) = %v, want ErrInvalid", err)
	}
}

func TestCodecKeyRotation(t *testing.T) {
	clock := sessiontest.NewClock()
	oldKey, newKey := testKey(t), testKey(t)
	before := newTestCodec(t, clock.Now, oldKey)
	after := newTestCodec(t, clock.Now, newKey, oldKey)
	exp := clock.Now().Add(time.Hour)

	oldValue, _ := before.Seal(testCookie, []byte("issued before rotation"), exp)
	if got, err := after.Open(testCookie, oldValue); err != nil || string(got) != "issued before rotation" {
		t.Fatalf("rotated codec cannot open an old cookie: %q, %v", got, err)
	}
	newValue, _ := after.Seal(testCookie, []byte("issued after rotation"), exp)
	if _, err := before.Open(testCookie, newValue); !errors.Is(err, ErrInvalid) {
		t.Fatalf("old-key-only codec opened a cookie sealed after rotation: %v", err)
	}
	// Once the old key is retired, its cookies are refused.
	retired := newTestCodec(t, clock.Now, newKey)
	if _, err := retired.Open(testCookie, oldValue); !errors.Is(err, ErrInvalid) {
		t.Fatalf("cookie sealed with a retired key opened: %v", err)
	}
	if _, err := retired.Open(testCookie, newValue); err != nil {
		t.Fatalf("new cookie after retiring old key: %v", err)
	}
}

func TestCodecBindsCookieName(t *testing.T) {
	clock := sessiontest.NewClock()
	c := newTestCodec(t, clock.Now, testKey(t))
	v, _ := c.Seal("_gatehouse_csrf", []byte("state"), clock.Now().Add(time.Hour))
	for _, name := range []string{testCookie, "_gatehouse_csrF", "", "_gatehouse_csrf "} {
		if _, err := c.Open(name, v); !errors.Is(err, ErrInvalid) {
			t.Errorf("value for _gatehouse_csrf opened as %q: %v", name, err)
		}
	}
}

func TestCodecExpiry(t *testing.T) {
	clock := sessiontest.NewClock()
	c := newTestCodec(t, clock.Now, testKey(t))
	v, _ := c.Seal(testCookie, []byte("p"), clock.Now().Add(time.Minute))
	clock.Advance(59 * time.Second)
	if _, err := c.Open(testCookie, v); err != nil {
		t.Fatalf("Open before expiry: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := c.Open(testCookie, v); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open at expiry = %v, want ErrInvalid", err)
	}
	past, _ := c.Seal(testCookie, []byte("p"), clock.Now().Add(-time.Hour))
	if _, err := c.Open(testCookie, past); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open(sealed already expired) = %v, want ErrInvalid", err)
	}
}

// TestCodecTamper flips every bit position of the sealed bytes and replaces
// every character of the text: nothing but the original opens.
func TestCodecTamper(t *testing.T) {
	clock := sessiontest.NewClock()
	c := newTestCodec(t, clock.Now, testKey(t))
	v, err := c.SealID(testCookie, sessiontest.NewID(t), clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			b := bytes.Clone(raw)
			b[i] ^= mask
			if _, err := c.Open(testCookie, base64.RawURLEncoding.EncodeToString(b)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("byte %d ^ %#x: Open = %v, want ErrInvalid", i, mask, err)
			}
		}
	}
	// Character edits include ones that decode to the same bytes (the
	// unused low bits of the last character): the encoding must be
	// canonical, so those are refused too.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(v) {
		for j := range len(alphabet) {
			if alphabet[j] == v[i] {
				continue
			}
			w := v[:i] + alphabet[j:j+1] + v[i+1:]
			if _, err := c.Open(testCookie, w); !errors.Is(err, ErrInvalid) {
				t.Fatalf("char %d -> %q: Open = %v, want ErrInvalid", i, alphabet[j], err)
			}
		}
	}
	for name, w := range map[string]string{
		"newline inside": v[:10] + "\n" + v[10:],
		"crlf at end":    v + "\r\n",
		"padded":         v + "==",
		"std alphabet":   strings.NewReplacer("-", "+", "_", "/").Replace(v) + "+",
	} {
		if _, err := c.Open(testCookie, w); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Open = %v, want ErrInvalid", name, err)
		}
	}
}

func TestCodecRefusesJunk(t *testing.T) {
	clock := sessiontest.NewClock()
	c := newTestCodec(t, clock.Now, testKey(t))
	v, _ := c.SealID(testCookie, sessiontest.NewID(t), clock.Now().Add(time.Hour))
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	big, _ := c.Seal(testCookie, make([]byte, MaxValue), clock.Now().Add(time.Hour))
	junk := map[string]string{
		"empty":         "",
		"one char":      "A",
		"non-base64":    "!!!!not base64!!!!",
		"spaces":        "    ",
		"nul":           "\x00\x00\x00",
		"unicode":       "séance",
		"garbage":       base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 80)),
		"nonce only":    base64.RawURLEncoding.EncodeToString(raw[:12]),
		"nonce+8":       base64.RawURLEncoding.EncodeToString(raw[:20]),
		"truncated tag": base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]),
		"minus 1 char":  v[:len(v)-1],
		"doubled":       v + v,
		"oversize":      strings.Repeat("A", MaxValue+1),
		"huge":          strings.Repeat("A", 1<<20),
		"valid but big": big,
		"quoted":        `"` + v + `"`,
		"cookie syntax": testCookie + "=" + v,
	}
	for name, value := range junk {
		if _, err := c.Open(testCookie, value); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Open = %v, want ErrInvalid", name, err)
		}
		if _, err := c.OpenID(testCookie, value); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: OpenID = %v, want ErrInvalid", name, err)
		}
	}
	for i := range len(v) { // every prefix
		if _, err := c.Open(testCookie, v[:i]); !errors.Is(err, ErrInvalid) {
			t.Fatalf("prefix %d: Open = %v, want ErrInvalid", i, err)
		}
	}
}

// FuzzCodecOpen: Open and OpenID never panic, fail only with ErrInvalid,
// and accept only values the codec sealed (plain go test runs the seeds).
func FuzzCodecOpen(f *testing.F) {
	now := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	key := bytes.Repeat([]byte{0x42}, KeySize)
	c, err := NewCodec([][]byte{key}, now)
	if err != nil {
		f.Fatal(err)
	}
	id := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{9}, session.IDBytes))
	valid, err := c.SealID(testCookie, id, now().Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(valid)
	f.Add(testCookie, valid)
	f.Add("_other", valid)
	f.Add(testCookie, valid[:len(valid)-1])
	f.Add(testCookie, valid+"A")
	f.Add(testCookie, "")
	f.Add(testCookie, "A")
	f.Add(testCookie, "====")
	f.Add(testCookie, "\r\n")
	f.Add(testCookie, strings.Repeat("A", MaxValue))
	f.Add(testCookie, base64.RawURLEncoding.EncodeToString(raw[:20]))
	f.Add(testCookie, base64.StdEncoding.EncodeToString(raw))
	f.Fuzz(func(t *testing.T, name, value string) {
		payload, err := c.Open(name, value)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Open error %v is not ErrInvalid", err)
			}
		} else {
			// Only values sealed here open: the one payload, for the one
			// name, in canonical form. (Seeds are sealed anew in each fuzz
			// worker, so the exact value cannot be compared.)
			if name != testCookie || !bytes.Equal(payload, bytes.Repeat([]byte{9}, session.IDBytes)) {
				t.Fatalf("Open accepted a value it never sealed: %q %q -> %x", name, value, payload)
			}
			if raw, err := base64.RawURLEncoding.DecodeString(value); err != nil || base64.RawURLEncoding.EncodeToString(raw) != value {
				t.Fatalf("Open accepted a non-canonical value %q", value)
			}
		}
		got, err := c.OpenID(name, value)
		if err == nil && got != id {
			t.Fatalf("OpenID = %q, want %q", got, id)
		}
	})
}
