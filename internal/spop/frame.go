package spop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// FrameType is the first byte of a frame.
type FrameType uint8

// The frame types of SPOP: HAProxy sends 1-3, the agent 101-103.
const (
	TypeUnset             FrameType = 0
	TypeHAProxyHello      FrameType = 1
	TypeHAProxyDisconnect FrameType = 2
	TypeNotify            FrameType = 3
	TypeAgentHello        FrameType = 101
	TypeAgentDisconnect   FrameType = 102
	TypeAck               FrameType = 103
)

// Frame flags (bit 0 is the least significant).
const (
	FlagFin   uint32 = 1 << 0
	FlagAbort uint32 = 1 << 1
)

// MinFrameSize is the smallest max-frame-size a peer may announce.
const MinFrameSize = 256

// MaxFrameSize is the largest frame this package reads: HAProxy's default
// is tune.bufsize-4 (16380), and an agent that announces more is never
// sent more than HAProxy's own limit.
const MaxFrameSize = 1 << 20

// Frame is one decoded frame. Payload aliases the buffer it was read into.
type Frame struct {
	Type     FrameType
	Flags    uint32
	StreamID uint64
	FrameID  uint64
	Payload  []byte
}

// Status is a SPOP status code, carried by DISCONNECT frames.
type Status uint32

// The status codes of SPOP.
const (
	StatusNormal           Status = 0
	StatusIO               Status = 1
	StatusTimeout          Status = 2
	StatusTooBig           Status = 3
	StatusInvalid          Status = 4
	StatusNoVersion        Status = 5
	StatusNoFrameSize      Status = 6
	StatusNoCapabilities   Status = 7
	StatusBadVersion       Status = 8
	StatusBadFrameSize     Status = 9
	StatusFragNotSupported Status = 10
	StatusInterlaced       Status = 11
	StatusFrameIDNotFound  Status = 12
	StatusResource         Status = 13
	StatusUnknown          Status = 99
)

// Error is a protocol error the agent reports to HAProxy in an
// AGENT-DISCONNECT frame before it closes the connection.
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("spop: %s (status %d)", e.Message, e.Status) }

// errorf returns an *Error with a formatted message.
func errorf(st Status, format string, args ...any) *Error {
	return &Error{Status: st, Message: fmt.Sprintf(format, args...)}
}

// StatusOf returns the status to report for err: its *Error's, else
// StatusInvalid for a malformed frame and StatusIO for anything else.
func StatusOf(err error) Status {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Status
	case errors.Is(err, ErrTruncated), errors.Is(err, errBadType), errors.Is(err, errVarintOverflow):
		return StatusInvalid
	}
	return StatusIO
}

// DecodeFrame decodes one frame (without its 4-byte length prefix). It
// never panics; Payload aliases b.
func DecodeFrame(b []byte) (Frame, error) {
	if len(b) < 5 {
		return Frame{}, errorf(StatusInvalid, "frame of %d bytes is too short", len(b))
	}
	f := Frame{Type: FrameType(b[0]), Flags: binary.BigEndian.Uint32(b[1:5])}
	rest := b[5:]
	sid, n, err := Varint(rest)
	if err != nil {
		return Frame{}, errorf(StatusInvalid, "bad stream-id: %v", err)
	}
	rest = rest[n:]
	fid, n, err := Varint(rest)
	if err != nil {
		return Frame{}, errorf(StatusInvalid, "bad frame-id: %v", err)
	}
	f.StreamID, f.FrameID, f.Payload = sid, fid, rest[n:]
	return f, nil
}

// AppendFrame appends f with its 4-byte length prefix.
func AppendFrame(dst []byte, f Frame) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(f.Type))
	dst = binary.BigEndian.AppendUint32(dst, f.Flags)
	dst = AppendVarint(dst, f.StreamID)
	dst = AppendVarint(dst, f.FrameID)
	dst = append(dst, f.Payload...)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// ReadFrame reads one length-prefixed frame from r into buf (grown as
// needed) and decodes it. A frame longer than maxSize is refused with
// StatusTooBig before any of it is read, so a peer cannot make the reader
// allocate more than maxSize. The returned frame aliases the returned
// buffer, which the caller passes back to reuse.
func ReadFrame(r io.Reader, maxSize uint32, buf []byte) (Frame, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Frame{}, buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxSize {
		return Frame{}, buf, errorf(StatusTooBig, "frame of %d bytes exceeds max-frame-size %d", n, maxSize)
	}
	if uint32(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, buf, err
	}
	f, err := DecodeFrame(buf)
	return f, buf, err
}
