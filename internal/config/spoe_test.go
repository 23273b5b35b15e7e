package config

import (
	"strings"
	"testing"
)

func TestSPOEListener(t *testing.T) {
	c, err := Load("testdata/valid.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SPOE.Addr != "" || c.SPOE.MaxFrameSize != 16380 {
		t.Errorf("defaults: %+v, want off with max_frame_size 16380", c.SPOE)
	}
	c, err = Load("testdata/valid.yaml", env(map[string]string{"GATEHOUSE_SPOE_ADDR": "127.0.0.1:12345", "GATEHOUSE_SPOE_MAX_FRAME_SIZE": "4096"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SPOE.Addr != "127.0.0.1:12345" || c.SPOE.MaxFrameSize != 4096 {
		t.Errorf("from the environment: %+v", c.SPOE)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"GATEHOUSE_SPOE_ADDR": "12345"}, `spoe.addr: must be host:port, not "12345"`},
		{map[string]string{"GATEHOUSE_SPOE_MAX_FRAME_SIZE": "100"}, "spoe.max_frame_size: must be between 256 and 1048576 bytes"},
		{map[string]string{"GATEHOUSE_SPOE_ADDR": "127.0.0.1:4180", "GATEHOUSE_HTTP_ADDR": "127.0.0.1:4180"}, "spoe.addr: must differ from http.addr"},
	} {
		_, err := Load("testdata/valid.yaml", env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.env, err, tc.want)
		}
	}
}
