// Package limitedfile reads small files (secrets, policies, certificates)
// with a bound on their size, so a wrong path (a log, a device, a FIFO) is a
// clear error instead of memory without end.
package limitedfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is returned (wrapped) by Read for a file longer than its bound.
var ErrTooLarge = errors.New("file too large")

// Read returns the content of the file at path, which must be at most max
// bytes long; at most max+1 bytes are ever read. Errors name the path.
func Read(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("read %s: larger than %d bytes: %w", path, max, ErrTooLarge)
	}
	return data, nil
}
