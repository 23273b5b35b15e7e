package spop

import "errors"

// ErrTruncated is returned when the input ends inside a value.
var ErrTruncated = errors.New("spop: truncated input")

// errVarintOverflow is returned for a varint longer than a uint64 allows.
var errVarintOverflow = errors.New("spop: varint overflows 64 bits")

// AppendVarint appends v in SPOP's variable-length encoding (HAProxy's
// "Peers" encoding): values below 240 take one byte; larger ones set the
// top four bits of the first byte, keep their low four bits there, and go
// on seven bits at a time, the high bit of each following byte saying
// whether another one comes.
func AppendVarint(dst []byte, v uint64) []byte {
	if v < 240 {
		return append(dst, byte(v))
	}
	dst = append(dst, byte(v)|0xf0)
	v = (v - 240) >> 4
	for v >= 128 {
		dst = append(dst, byte(v)|0x80)
		v = (v - 128) >> 7
	}
	return append(dst, byte(v))
}

// Varint decodes a varint at the start of b and returns it with the number
// of bytes it took.
func Varint(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	v := uint64(b[0])
	if v < 240 {
		return v, 1, nil
	}
	shift := uint(4)
	for i := 1; i < len(b); i++ {
		c := uint64(b[i])
		if shift > 60 || (shift == 60 && c > 0x0f) {
			return 0, 0, errVarintOverflow
		}
		add := c << shift
		if v+add < v {
			return 0, 0, errVarintOverflow
		}
		v += add
		if c < 128 {
			return v, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, ErrTruncated
}
