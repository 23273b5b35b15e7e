package spoa

import (
	"bytes"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/spop"
)

// TestReadsWhatHAProxy26Sends: the gatehouse-check message Debian's HAProxy
// 2.6.12 sent with the shipped configuration (internal/spop/testdata)
// becomes the request that was made: GET https://app.example.com:28443/app?x=1
// from 127.0.0.1 with a method override and two cookies.
func TestReadsWhatHAProxy26Sends(t *testing.T) {
	b, err := os.ReadFile("../spop/testdata/haproxy-2.6.12-hello-notify.bin")
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(b)
	if _, _, err := spop.ReadFrame(r, spop.MaxFrameSize, nil); err != nil {
		t.Fatal(err)
	}
	f, _, err := spop.ReadFrame(r, spop.MaxFrameSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := spop.DecodeMessages(f.Payload)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("messages %v, %v", msgs, err)
	}
	in, err := toRequest(&msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	q := in.req
	if q.Method != "GET" || q.Scheme != "https" || q.Host != "app.example.com:28443" || q.Path != "/app" || q.RawQuery != "x=1" ||
		q.MethodOverride != "GET" || q.Accept != "*/*" || q.ClientIP != netip.MustParseAddr("127.0.0.1") || len(q.UnderscoreHeaders) != 0 {
		t.Errorf("request %+v", q)
	}
	if !strings.HasPrefix(in.cookie, "theme=dark; _gatehouse=") || in.authorization != "" {
		t.Errorf("cookie %q, authorization %q", in.cookie, in.authorization)
	}
}
