package spop

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// The byte lengths the specification's table gives for each range.
func TestVarintLengthsFollowTheSpecification(t *testing.T) {
	for _, tc := range []struct {
		v    uint64
		size int
	}{
		{0, 1}, {239, 1},
		{240, 2}, {2287, 2},
		{2288, 3}, {264431, 3},
		{264432, 4}, {33818863, 4},
		{33818864, 5}, {4328786159, 5},
		{4328786160, 6},
		{math.MaxUint64, 10},
	} {
		b := AppendVarint(nil, tc.v)
		if len(b) != tc.size {
			t.Errorf("AppendVarint(%d) = %d bytes (% x), want %d", tc.v, len(b), b, tc.size)
		}
		got, n, err := Varint(b)
		if err != nil || got != tc.v || n != len(b) {
			t.Errorf("Varint(% x) = %d, %d, %v; want %d, %d", b, got, n, err, tc.v, len(b))
		}
		if _, _, err := Varint(b[:len(b)-1]); len(b) > 1 && !errors.Is(err, ErrTruncated) {
			t.Errorf("Varint of %d cut short: %v, want ErrTruncated", tc.v, err)
		}
	}
}

// Bytes worked out by hand from the encoding rules.
func TestVarintGoldenBytes(t *testing.T) {
	for v, want := range map[uint64][]byte{
		1:    {0x01},
		240:  {0xf0, 0x00},
		241:  {0xf1, 0x00},
		256:  {0xf0, 0x01},
		2287: {0xff, 0x7f},
		2288: {0xf0, 0x80, 0x00},
	} {
		if got := AppendVarint(nil, v); !bytes.Equal(got, want) {
			t.Errorf("AppendVarint(%d) = % x, want % x", v, got, want)
		}
	}
}

func TestVarintOverflowIsRefused(t *testing.T) {
	b := bytes.Repeat([]byte{0xff}, 11)
	b = append(b, 0)
	if _, _, err := Varint(b); !errors.Is(err, errVarintOverflow) {
		t.Fatalf("Varint(% x) err = %v, want overflow", b, err)
	}
	// Ten bytes whose last one carries more than the four bits left.
	b = append(AppendVarint(nil, math.MaxUint64)[:9], 0x10)
	if _, _, err := Varint(b); err == nil {
		t.Fatalf("Varint(% x) accepted a value above 2^64-1", b)
	}
}

func TestValuesRoundTrip(t *testing.T) {
	vals := []Value{
		{Kind: KindNull},
		BoolValue(true), BoolValue(false),
		IntValue(-1), IntValue(math.MinInt32), IntValue(math.MaxInt64), IntValue(math.MinInt64),
		UintValue(0), UintValue(math.MaxUint32), UintValue(math.MaxUint64),
		{Kind: KindIPv4, Addr: netip.MustParseAddr("203.0.113.7")},
		{Kind: KindIPv6, Addr: netip.MustParseAddr("2001:db8::1")},
		StringValue(""), StringValue("GET"), StringValue(strings.Repeat("x", 5000)),
		BinaryValue([]byte{0, 1, 2, 0xff}),
	}
	var b []byte
	for _, v := range vals {
		b = AppendValue(b, v)
	}
	for i, want := range vals {
		got, n, err := DecodeValue(b)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if want.Bytes == nil && got.Bytes != nil && len(got.Bytes) == 0 {
			got.Bytes = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("value %d: got %+v, want %+v", i, got, want)
		}
		b = b[n:]
	}
	if len(b) != 0 {
		t.Errorf("%d bytes left over", len(b))
	}
}

func TestValueEncodingBytes(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		want []byte
	}{
		{BoolValue(true), []byte{0x11}},
		{BoolValue(false), []byte{0x01}},
		{StringValue("ok"), []byte{0x08, 0x02, 'o', 'k'}},
		{UintValue(300), []byte{0x03, 0xfc, 0x03}},
		{Value{Kind: KindIPv4, Addr: netip.MustParseAddr("127.0.0.1")}, []byte{0x06, 127, 0, 0, 1}},
	} {
		if got := AppendValue(nil, tc.v); !bytes.Equal(got, tc.want) {
			t.Errorf("AppendValue(%+v) = % x, want % x", tc.v, got, tc.want)
		}
	}
}

func TestDecodeValueRefusesBadInput(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":              {},
		"unknown type":       {0x0a},
		"short ipv4":         {0x06, 1, 2, 3},
		"short ipv6":         {0x07, 1, 2, 3},
		"string past end":    {0x08, 0x05, 'a'},
		"uint32 too large":   append([]byte{0x03}, AppendVarint(nil, 1<<33)...),
		"int without varint": {0x02},
	} {
		if _, _, err := DecodeValue(b); err == nil {
			t.Errorf("%s: DecodeValue(% x) accepted", name, b)
		}
	}
}

func notifyPayload(msgs ...Message) []byte {
	var p []byte
	for _, m := range msgs {
		p = AppendMessage(p, m)
	}
	return p
}

func TestMessagesRoundTrip(t *testing.T) {
	want := []Message{
		{Name: "gatehouse-check", Args: []KV{
			{Name: "method", Value: StringValue("GET")},
			{Name: "src", Value: Value{Kind: KindIPv4, Addr: netip.MustParseAddr("10.0.0.1")}},
			{Name: "", Value: Value{Kind: KindNull}},
		}},
		{Name: "other", Args: []KV{}},
	}
	got, err := DecodeMessages(notifyPayload(want...))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if v, ok := got[0].Arg("method"); !ok || v.String() != "GET" {
		t.Errorf("Arg(method) = %v, %v", v, ok)
	}
	if _, ok := got[0].Arg("absent"); ok {
		t.Error("Arg(absent) found")
	}
}

func TestDecodeMessagesRefusesMoreArgumentsThanTheFrameHolds(t *testing.T) {
	// 255 arguments announced, three bytes of them sent: refused before
	// room for 255 is allocated.
	p := append(appendString(nil, "m"), 255, 0, 0, 0)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := DecodeMessages(p); !errors.Is(err, ErrTruncated) {
			t.Fatalf("err = %v, want ErrTruncated", err)
		}
	})
	if allocs > 0 {
		t.Errorf("%v allocations for a refused frame", allocs)
	}
	var many []byte
	for range MaxMessages + 1 {
		many = AppendMessage(many, Message{Name: "m"})
	}
	if _, err := DecodeMessages(many); err == nil {
		t.Errorf("%d messages accepted", MaxMessages+1)
	}
}

func TestActionsRoundTrip(t *testing.T) {
	var p []byte
	p = AppendSetVar(p, ScopeTransaction, "status", IntValue(302))
	p = AppendSetVar(p, ScopeTransaction, "location", StringValue("https://a/x"))
	p = AppendUnsetVar(p, ScopeRequest, "gone")
	// The wire form of the first action: type, 3 args, scope, bare name.
	if want := []byte{ActionSetVar, 3, byte(ScopeTransaction), 6, 's', 't', 'a', 't', 'u', 's', byte(KindInt32)}; !bytes.HasPrefix(p, want) {
		t.Fatalf("set-var bytes % x, want prefix % x", p[:len(want)], want)
	}
	got, err := DecodeActions(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Action{
		{Type: ActionSetVar, Scope: ScopeTransaction, Name: "status", Value: IntValue(302)},
		{Type: ActionSetVar, Scope: ScopeTransaction, Name: "location", Value: StringValue("https://a/x")},
		{Type: ActionUnsetVar, Scope: ScopeRequest, Name: "gone"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if _, err := DecodeActions([]byte{9, 3, 2}); err == nil {
		t.Error("unknown action accepted")
	}
	if _, err := DecodeActions([]byte{ActionSetVar, 2, 2, 0}); err == nil {
		t.Error("set-var with two arguments accepted")
	}
}

func TestFramesRoundTrip(t *testing.T) {
	f := Frame{Type: TypeNotify, Flags: FlagFin, StreamID: 7, FrameID: 300, Payload: []byte("payload")}
	b := AppendFrame(nil, f)
	if got := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3]); got != len(b)-4 {
		t.Fatalf("length prefix %d, frame is %d bytes", got, len(b)-4)
	}
	if !bytes.Equal(b[4:9], []byte{byte(TypeNotify), 0, 0, 0, 1}) {
		t.Fatalf("type and flags % x: flags must be in network byte order", b[4:9])
	}
	got, buf, err := ReadFrame(bytes.NewReader(b), 1024, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, f) {
		t.Fatalf("got %+v, want %+v", got, f)
	}
	// The buffer is reused for the next frame.
	if _, buf2, err := ReadFrame(bytes.NewReader(b), 1024, buf); err != nil || &buf2[0] != &buf[0] {
		t.Errorf("buffer not reused (err %v)", err)
	}
}

func TestReadFrameRefusesOversizedFramesBeforeReadingThem(t *testing.T) {
	// A length of 4 GiB - 1 with nothing behind it: refused at once, with
	// nothing allocated for it.
	hdr := []byte{0xff, 0xff, 0xff, 0xff}
	var err error
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		_, _, err = ReadFrame(bytes.NewReader(hdr), 16380, nil)
	}
	runtime.ReadMemStats(&after)
	if StatusOf(err) != StatusTooBig {
		t.Fatalf("err = %v (status %d), want StatusTooBig", err, StatusOf(err))
	}
	if perCall := (after.TotalAlloc - before.TotalAlloc) / 100; perCall > 1024 {
		t.Errorf("%d bytes allocated to refuse an oversized frame", perCall)
	}
	// One byte over the negotiated size is refused too.
	b := AppendFrame(nil, Frame{Type: TypeNotify, Flags: FlagFin, Payload: make([]byte, 300)})
	if _, _, err := ReadFrame(bytes.NewReader(b), uint32(len(b)-5), nil); StatusOf(err) != StatusTooBig {
		t.Errorf("frame one byte too big: %v", err)
	}
	if _, _, err := ReadFrame(bytes.NewReader(b), uint32(len(b)-4), nil); err != nil {
		t.Errorf("frame of exactly max-frame-size: %v", err)
	}
}

func TestReadFrameTruncated(t *testing.T) {
	b := AppendFrame(nil, Frame{Type: TypeNotify, Flags: FlagFin, Payload: []byte("abc")})
	if _, _, err := ReadFrame(bytes.NewReader(b[:len(b)-1]), 1024, nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut frame: %v, want ErrUnexpectedEOF", err)
	}
	if _, _, err := ReadFrame(bytes.NewReader(nil), 1024, nil); !errors.Is(err, io.EOF) {
		t.Errorf("no frame: %v, want EOF", err)
	}
	if _, err := DecodeFrame([]byte{3, 0, 0}); StatusOf(err) != StatusInvalid {
		t.Errorf("short frame: %v", err)
	}
}

// haproxyHello is a HAPROXY-HELLO as HAProxy 2.6 sends it.
func haproxyHello(items ...KV) Frame {
	var p []byte
	for _, kv := range items {
		p = AppendKV(p, kv.Name, kv.Value)
	}
	return Frame{Type: TypeHAProxyHello, Flags: FlagFin, Payload: p}
}

var hello26 = []KV{
	{"supported-versions", StringValue("2.0")},
	{"max-frame-size", UintValue(16380)},
	{"capabilities", StringValue("pipelining,async")},
	{"engine-id", StringValue("0F2C5B3E-1F1A-4C33-9A1B-6C7D0E2F3A4B")},
}

func TestHelloNegotiation(t *testing.T) {
	h, err := DecodeHello(haproxyHello(hello26...))
	if err != nil {
		t.Fatal(err)
	}
	want := Hello{SupportedVersions: []string{"2.0"}, MaxFrameSize: 16380, Capabilities: []string{"pipelining", "async"}, EngineID: "0F2C5B3E-1F1A-4C33-9A1B-6C7D0E2F3A4B"}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("got %+v, want %+v", h, want)
	}
	n, err := Negotiate(h, 4096, true)
	if err != nil {
		t.Fatal(err)
	}
	if n.MaxFrameSize != 4096 || !n.Pipelining || !reflect.DeepEqual(n.Capabilities, []string{"pipelining"}) {
		t.Errorf("negotiated %+v", n)
	}
	if n, _ := Negotiate(h, 1<<16, false); n.MaxFrameSize != 16380 || n.Pipelining || len(n.Capabilities) != 0 {
		t.Errorf("without pipelining: %+v", n)
	}
	noPipe := h
	noPipe.Capabilities = []string{"async"}
	if n, _ := Negotiate(noPipe, 4096, true); n.Pipelining {
		t.Error("pipelining used though HAProxy did not announce it")
	}

	ah := AgentHello(n)
	kvs, err := DecodeKVList(ah.Payload, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Value{}
	for _, kv := range kvs {
		got[kv.Name] = kv.Value
	}
	if got["version"].String() != "2.0" || got["max-frame-size"].Uint != 4096 || got["max-frame-size"].Kind != KindUint32 || got["capabilities"].String() != "pipelining" {
		t.Errorf("AGENT-HELLO %+v", got)
	}
	if ah.Type != TypeAgentHello || ah.Flags != FlagFin || ah.StreamID != 0 || ah.FrameID != 0 {
		t.Errorf("AGENT-HELLO header %+v", ah)
	}

	hc, err := DecodeHello(haproxyHello(append([]KV{{"healthcheck", BoolValue(true)}}, hello26...)...))
	if err != nil || !hc.Healthcheck {
		t.Errorf("healthcheck hello: %+v, %v", hc, err)
	}
	spaced, _ := DecodeHello(haproxyHello(KV{"supported-versions", StringValue(" 2.0 , 1.5 ")}, hello26[1], KV{"capabilities", StringValue("")}))
	if !reflect.DeepEqual(spaced.SupportedVersions, []string{"2.0", "1.5"}) || len(spaced.Capabilities) != 0 {
		t.Errorf("spaces not ignored: %+v", spaced)
	}
}

func TestHelloRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		items []KV
		frag  bool
		agent uint32
		want  Status
	}{
		{"no version", hello26[1:], false, 4096, StatusNoVersion},
		{"no max-frame-size", []KV{hello26[0], hello26[2]}, false, 4096, StatusNoFrameSize},
		{"no capabilities", hello26[:2], false, 4096, StatusNoCapabilities},
		{"version 1 only", []KV{{"supported-versions", StringValue("1.0")}, hello26[1], hello26[2]}, false, 4096, StatusBadVersion},
		{"frame size too small", []KV{hello26[0], {"max-frame-size", UintValue(255)}, hello26[2]}, false, 4096, StatusBadFrameSize},
		{"agent frame size too small", hello26, false, 100, StatusBadFrameSize},
		{"max-frame-size not a uint32", []KV{hello26[0], {"max-frame-size", StringValue("16380")}, hello26[2]}, false, 4096, StatusInvalid},
		{"fragmented", hello26, true, 4096, StatusFragNotSupported},
	} {
		f := haproxyHello(tc.items...)
		if tc.frag {
			f.Flags = 0
		}
		h, err := DecodeHello(f)
		if err == nil {
			_, err = Negotiate(h, tc.agent, true)
		}
		if got := StatusOf(err); got != tc.want {
			t.Errorf("%s: status %d (%v), want %d", tc.name, got, err, tc.want)
		}
	}
	if _, err := DecodeHello(Frame{Type: TypeNotify, Flags: FlagFin}); StatusOf(err) != StatusInvalid {
		t.Errorf("NOTIFY as hello: %v", err)
	}
}

func TestDisconnect(t *testing.T) {
	f := AgentDisconnect(StatusFragNotSupported, strings.Repeat("m", 300))
	d, err := DecodeDisconnect(f)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != StatusFragNotSupported || len(d.Message) != 200 || f.Type != TypeAgentDisconnect {
		t.Errorf("got %+v", d)
	}
}

// FuzzDecodeFrame feeds arbitrary bytes through every decoder an agent runs
// on what HAProxy sends: none may panic, and a frame that decodes must
// encode back to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(AppendFrame(nil, haproxyHello(hello26...))[4:])
	f.Add(AppendFrame(nil, Frame{Type: TypeNotify, Flags: FlagFin, StreamID: 1, FrameID: 2, Payload: notifyPayload(Message{Name: "check", Args: []KV{{"method", StringValue("GET")}, {"src", Value{Kind: KindIPv6, Addr: netip.IPv6Loopback()}}}})})[4:])
	f.Add(AppendFrame(nil, AgentDisconnect(StatusNormal, "bye"))[4:])
	f.Add(AppendFrame(nil, Ack(Frame{StreamID: 1, FrameID: 1}, AppendSetVar(nil, ScopeTransaction, "x", IntValue(1))))[4:])
	f.Add([]byte{3, 0, 0, 0, 1, 0xff, 0xff, 0xff})
	// The frames a real HAProxy 2.6 sent (without their length prefixes).
	if b, err := os.ReadFile(haproxyCapture); err == nil {
		for r := bytes.NewReader(b); r.Len() > 0; {
			fr, _, err := ReadFrame(r, MaxFrameSize, nil)
			if err != nil {
				break
			}
			f.Add(AppendFrame(nil, fr)[4:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			return
		}
		if again := AppendFrame(nil, fr)[4:]; len(again) > len(b) {
			t.Fatalf("re-encoded frame is longer (%d) than its input (%d)", len(again), len(b))
		}
		_, _ = DecodeHello(fr)
		_, _ = DecodeDisconnect(fr)
		if msgs, err := DecodeMessages(fr.Payload); err == nil {
			if re := notifyPayload(msgs...); len(re) > len(fr.Payload) {
				t.Fatalf("messages re-encode to %d bytes from %d", len(re), len(fr.Payload))
			}
		}
		_, _ = DecodeActions(fr.Payload)
		_, _, _ = ReadFrame(bytes.NewReader(b), 1<<16, nil)
	})
}
