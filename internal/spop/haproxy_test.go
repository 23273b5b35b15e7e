package spop

import (
	"bytes"
	"os"
	"reflect"
	"testing"
)

// haproxyCapture is what Debian's HAProxy 2.6.12 sent an agent with the
// shipped deploy/haproxy configuration, for one HTTP/1.1 request: its
// HAPROXY-HELLO, then the NOTIFY with the gatehouse-check message.
const haproxyCapture = "testdata/haproxy-2.6.12-hello-notify.bin"

func TestDecodesWhatHAProxy26Sends(t *testing.T) {
	b, err := os.ReadFile(haproxyCapture)
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(b)
	f, buf, err := ReadFrame(r, 16380, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := DecodeHello(f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h.SupportedVersions, []string{"2.0"}) || h.MaxFrameSize != 16380 ||
		!reflect.DeepEqual(h.Capabilities, []string{"pipelining", "async"}) || h.Healthcheck || h.EngineID == "" {
		t.Errorf("HAPROXY-HELLO %+v", h)
	}
	n, err := Negotiate(h, 16380, true)
	if err != nil || !n.Pipelining || n.MaxFrameSize != 16380 {
		t.Errorf("negotiated %+v, %v", n, err)
	}

	f, _, err = ReadFrame(r, n.MaxFrameSize, buf)
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != TypeNotify || f.Flags != FlagFin {
		t.Fatalf("frame type %d flags %#x, want an unfragmented NOTIFY", f.Type, f.Flags)
	}
	msgs, err := DecodeMessages(f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Name != "gatehouse-check" {
		t.Fatalf("messages %+v", msgs)
	}
	var kinds []Kind
	var names []string
	for _, a := range msgs[0].Args {
		names, kinds = append(names, a.Name), append(kinds, a.Value.Kind)
	}
	if want := []string{"method", "https", "url", "headers", "src"}; !reflect.DeepEqual(names, want) {
		t.Errorf("arguments %v, want %v", names, want)
	}
	if want := []Kind{KindString, KindBool, KindString, KindBinary, KindIPv4}; !reflect.DeepEqual(kinds, want) {
		t.Errorf("argument kinds %v, want %v", kinds, want)
	}
	if r.Len() != 0 {
		t.Errorf("%d bytes after the two frames", r.Len())
	}
}
