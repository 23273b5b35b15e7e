package limitedfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var errAny = errors.New("any error")

func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, n int) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte{'x'}, n), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, tc := range map[string]struct {
		path    string
		wantLen int
		wantErr error // nil: no error; errAny: an error of any kind
	}{
		"empty":         {path: file("empty", 0)},
		"at the bound":  {path: file("at", 16), wantLen: 16},
		"one byte over": {path: file("over", 17), wantErr: ErrTooLarge},
		"missing":       {path: filepath.Join(dir, "missing"), wantErr: fs.ErrNotExist},
		"a directory":   {path: dir, wantErr: errAny},
	} {
		t.Run(name, func(t *testing.T) {
			data, err := Read(tc.path, 16)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Read: %v", err)
			case tc.wantErr == nil && len(data) != tc.wantLen:
				t.Fatalf("read %d bytes, want %d", len(data), tc.wantLen)
			case tc.wantErr != nil && err == nil:
				t.Fatalf("Read gave %d bytes, want an error", len(data))
			case tc.wantErr != nil && !strings.Contains(err.Error(), tc.path):
				t.Fatalf("error %q does not name the path", err)
			case tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestReadEndlessFile: a file with no end is refused after max+1 bytes.
func TestReadEndlessFile(t *testing.T) {
	if _, err := Read("/dev/zero", 1<<10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("/dev/zero: %v, want ErrTooLarge", err)
	}
}
