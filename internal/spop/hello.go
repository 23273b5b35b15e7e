package spop

import (
	"strconv"
	"strings"
)

// Version is the SPOP version this package speaks.
const Version = "2.0"

// Capabilities an agent may announce.
const (
	CapPipelining    = "pipelining"
	CapAsync         = "async"
	CapFragmentation = "fragmentation"
)

// maxHelloItems bounds the key/value list of a HELLO or DISCONNECT frame.
const maxHelloItems = 32

// Hello is what a HAPROXY-HELLO frame announces.
type Hello struct {
	// SupportedVersions are the "Major.Minor" versions HAProxy speaks.
	SupportedVersions []string
	// MaxFrameSize is the largest frame HAProxy accepts.
	MaxFrameSize uint32
	// Capabilities are HAProxy's (pipelining, async, ...).
	Capabilities []string
	// Healthcheck is set on SPOE health checks: answer, then close.
	Healthcheck bool
	// EngineID names the SPOE engine.
	EngineID string
}

// HasCapability reports whether h announces capability c.
func (h *Hello) HasCapability(c string) bool {
	for _, x := range h.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// splitList splits a comma-separated list, ignoring spaces and empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// DecodeHello reads a HAPROXY-HELLO frame. A missing mandatory item is the
// *Error HAProxy expects (StatusNoVersion, StatusNoFrameSize,
// StatusNoCapabilities); a fragmented HELLO is refused.
func DecodeHello(f Frame) (Hello, error) {
	if f.Type != TypeHAProxyHello {
		return Hello{}, errorf(StatusInvalid, "expected HAPROXY-HELLO, got frame type %d", f.Type)
	}
	if f.Flags&FlagFin == 0 {
		return Hello{}, errorf(StatusFragNotSupported, "fragmented HAPROXY-HELLO")
	}
	kvs, err := DecodeKVList(f.Payload, maxHelloItems)
	if err != nil {
		return Hello{}, errorf(StatusInvalid, "HAPROXY-HELLO: %v", err)
	}
	var h Hello
	var haveVersion, haveSize, haveCaps bool
	for _, kv := range kvs {
		switch kv.Name {
		case "supported-versions":
			if kv.Value.Kind != KindString {
				return Hello{}, errorf(StatusInvalid, "supported-versions is not a string")
			}
			h.SupportedVersions, haveVersion = splitList(kv.Value.String()), true
		case "max-frame-size":
			if kv.Value.Kind != KindUint32 {
				return Hello{}, errorf(StatusInvalid, "max-frame-size is not a uint32")
			}
			h.MaxFrameSize, haveSize = uint32(kv.Value.Uint), true
		case "capabilities":
			if kv.Value.Kind != KindString {
				return Hello{}, errorf(StatusInvalid, "capabilities is not a string")
			}
			h.Capabilities, haveCaps = splitList(kv.Value.String()), true
		case "healthcheck":
			h.Healthcheck = kv.Value.Kind == KindBool && kv.Value.Bool
		case "engine-id":
			h.EngineID = kv.Value.String()
		}
	}
	switch {
	case !haveVersion:
		return Hello{}, errorf(StatusNoVersion, "HAPROXY-HELLO has no supported-versions")
	case !haveSize:
		return Hello{}, errorf(StatusNoFrameSize, "HAPROXY-HELLO has no max-frame-size")
	case !haveCaps:
		return Hello{}, errorf(StatusNoCapabilities, "HAPROXY-HELLO has no capabilities")
	}
	return h, nil
}

// Negotiated is the outcome of a HELLO handshake.
type Negotiated struct {
	// MaxFrameSize applies to every later frame, both ways.
	MaxFrameSize uint32
	// Pipelining: NOTIFY frames may be answered out of order on this
	// connection.
	Pipelining bool
	// Capabilities is what the AGENT-HELLO announces.
	Capabilities []string
}

// Negotiate answers h for an agent that reads frames of up to agentMax
// bytes and can pipeline when pipelining is true. It refuses a HAProxy
// without SPOP 2.x and a max-frame-size below MinFrameSize. The agent never
// announces fragmentation, so HAProxy never fragments what it sends.
func Negotiate(h Hello, agentMax uint32, pipelining bool) (Negotiated, error) {
	ok := false
	for _, v := range h.SupportedVersions {
		major, _, _ := strings.Cut(v, ".")
		if n, err := strconv.Atoi(major); err == nil && n == 2 {
			ok = true
		}
	}
	if !ok {
		return Negotiated{}, errorf(StatusBadVersion, "no supported SPOP version in %q (want 2.x)", strings.Join(h.SupportedVersions, ","))
	}
	if h.MaxFrameSize < MinFrameSize {
		return Negotiated{}, errorf(StatusBadFrameSize, "max-frame-size %d is below %d", h.MaxFrameSize, MinFrameSize)
	}
	n := Negotiated{MaxFrameSize: min(h.MaxFrameSize, agentMax, MaxFrameSize)}
	if n.MaxFrameSize < MinFrameSize {
		return Negotiated{}, errorf(StatusBadFrameSize, "agent max-frame-size %d is below %d", agentMax, MinFrameSize)
	}
	if pipelining && h.HasCapability(CapPipelining) {
		n.Pipelining = true
		n.Capabilities = append(n.Capabilities, CapPipelining)
	}
	return n, nil
}

// AgentHello returns the AGENT-HELLO frame for n.
func AgentHello(n Negotiated) Frame {
	var p []byte
	p = AppendKV(p, "version", StringValue(Version))
	p = AppendKV(p, "max-frame-size", UintValue(uint64(n.MaxFrameSize)))
	p = AppendKV(p, "capabilities", StringValue(strings.Join(n.Capabilities, ",")))
	return Frame{Type: TypeAgentHello, Flags: FlagFin, Payload: p}
}

// AgentDisconnect returns the AGENT-DISCONNECT frame reporting st and msg.
func AgentDisconnect(st Status, msg string) Frame {
	if len(msg) > 200 {
		msg = msg[:200]
	}
	var p []byte
	p = AppendKV(p, "status-code", UintValue(uint64(st)))
	p = AppendKV(p, "message", StringValue(msg))
	return Frame{Type: TypeAgentDisconnect, Flags: FlagFin, Payload: p}
}

// Disconnect is what a DISCONNECT frame reports.
type Disconnect struct {
	Status  Status
	Message string
}

// DecodeDisconnect reads a HAPROXY-DISCONNECT (or AGENT-DISCONNECT) frame.
func DecodeDisconnect(f Frame) (Disconnect, error) {
	kvs, err := DecodeKVList(f.Payload, maxHelloItems)
	if err != nil {
		return Disconnect{}, errorf(StatusInvalid, "DISCONNECT: %v", err)
	}
	var d Disconnect
	for _, kv := range kvs {
		switch kv.Name {
		case "status-code":
			d.Status = Status(kv.Value.Uint)
		case "message":
			d.Message = kv.Value.String()
		}
	}
	return d, nil
}

// Ack returns the ACK frame answering the NOTIFY frame n with the encoded
// actions.
func Ack(n Frame, actions []byte) Frame {
	return Frame{Type: TypeAck, Flags: FlagFin, StreamID: n.StreamID, FrameID: n.FrameID, Payload: actions}
}
