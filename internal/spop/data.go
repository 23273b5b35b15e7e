package spop

import (
	"errors"
	"fmt"
	"net/netip"
)

// Kind is the type of a typed-data value (the low four bits of its first
// byte; the high four are flags).
type Kind uint8

// The typed-data kinds of SPOP.
const (
	KindNull   Kind = 0
	KindBool   Kind = 1
	KindInt32  Kind = 2
	KindUint32 Kind = 3
	KindInt64  Kind = 4
	KindUint64 Kind = 5
	KindIPv4   Kind = 6
	KindIPv6   Kind = 7
	KindString Kind = 8
	KindBinary Kind = 9
)

// boolTrue is the flag bit that makes a boolean true.
const boolTrue = 0x10

// Value is one typed-data value. Which field holds it depends on Kind:
// Bool; Int (Int32, Int64); Uint (Uint32, Uint64); Addr (IPv4, IPv6);
// Bytes (String, Binary). Decoded Bytes alias the frame they came from.
type Value struct {
	Kind  Kind
	Bool  bool
	Int   int64
	Uint  uint64
	Addr  netip.Addr
	Bytes []byte
}

// String returns a string value's text ("" for any other kind).
func (v Value) String() string {
	if v.Kind == KindString || v.Kind == KindBinary {
		return string(v.Bytes)
	}
	return ""
}

// StringValue returns a String value.
func StringValue(s string) Value { return Value{Kind: KindString, Bytes: []byte(s)} }

// BinaryValue returns a Binary value.
func BinaryValue(b []byte) Value { return Value{Kind: KindBinary, Bytes: b} }

// IntValue returns an Int32 value when i fits, an Int64 one otherwise.
func IntValue(i int64) Value {
	if int64(int32(i)) == i {
		return Value{Kind: KindInt32, Int: i}
	}
	return Value{Kind: KindInt64, Int: i}
}

// UintValue returns a Uint32 value when u fits, a Uint64 one otherwise.
func UintValue(u uint64) Value {
	if u <= 1<<32-1 {
		return Value{Kind: KindUint32, Uint: u}
	}
	return Value{Kind: KindUint64, Uint: u}
}

// BoolValue returns a Bool value.
func BoolValue(b bool) Value { return Value{Kind: KindBool, Bool: b} }

// errBadType is returned for a typed-data kind SPOP does not define.
var errBadType = errors.New("spop: unknown typed-data type")

// AppendValue appends v as typed data.
func AppendValue(dst []byte, v Value) []byte {
	switch v.Kind {
	case KindBool:
		b := byte(KindBool)
		if v.Bool {
			b |= boolTrue
		}
		return append(dst, b)
	case KindInt32, KindInt64:
		// Signed integers travel as their two's complement bits.
		return AppendVarint(append(dst, byte(v.Kind)), uint64(v.Int))
	case KindUint32, KindUint64:
		return AppendVarint(append(dst, byte(v.Kind)), v.Uint)
	case KindIPv4:
		a := v.Addr.Unmap().As4()
		return append(append(dst, byte(KindIPv4)), a[:]...)
	case KindIPv6:
		a := v.Addr.As16()
		return append(append(dst, byte(KindIPv6)), a[:]...)
	case KindString, KindBinary:
		return append(AppendVarint(append(dst, byte(v.Kind)), uint64(len(v.Bytes))), v.Bytes...)
	default:
		return append(dst, byte(KindNull))
	}
}

// DecodeValue decodes the typed-data value at the start of b and returns it
// with the number of bytes it took.
func DecodeValue(b []byte) (Value, int, error) {
	if len(b) == 0 {
		return Value{}, 0, ErrTruncated
	}
	k := Kind(b[0] & 0x0f)
	v := Value{Kind: k}
	switch k {
	case KindNull:
		return v, 1, nil
	case KindBool:
		v.Bool = b[0]&boolTrue != 0
		return v, 1, nil
	case KindInt32, KindInt64, KindUint32, KindUint64:
		u, n, err := Varint(b[1:])
		if err != nil {
			return Value{}, 0, err
		}
		switch k {
		case KindInt32:
			v.Int = int64(int32(u))
		case KindInt64:
			v.Int = int64(u)
		case KindUint32:
			if u > 1<<32-1 {
				return Value{}, 0, fmt.Errorf("spop: uint32 value %d out of range", u)
			}
			v.Uint = u
		default:
			v.Uint = u
		}
		return v, 1 + n, nil
	case KindIPv4:
		if len(b) < 5 {
			return Value{}, 0, ErrTruncated
		}
		v.Addr = netip.AddrFrom4([4]byte(b[1:5]))
		return v, 5, nil
	case KindIPv6:
		if len(b) < 17 {
			return Value{}, 0, ErrTruncated
		}
		v.Addr = netip.AddrFrom16([16]byte(b[1:17]))
		return v, 17, nil
	case KindString, KindBinary:
		data, n, err := lengthPrefixed(b[1:])
		if err != nil {
			return Value{}, 0, err
		}
		v.Bytes = data
		return v, 1 + n, nil
	default:
		return Value{}, 0, fmt.Errorf("%w %d", errBadType, k)
	}
}

// lengthPrefixed reads a varint length and that many bytes (aliasing b).
func lengthPrefixed(b []byte) ([]byte, int, error) {
	l, n, err := Varint(b)
	if err != nil {
		return nil, 0, err
	}
	if l > uint64(len(b)-n) {
		return nil, 0, ErrTruncated
	}
	end := n + int(l)
	return b[n:end:end], end, nil
}

// appendString appends a SPOP STRING without its type byte (the form of a
// KV-NAME and a MESSAGE-NAME).
func appendString(dst []byte, s string) []byte {
	return append(AppendVarint(dst, uint64(len(s))), s...)
}

// KV is one entry of a key/value list. Its name may be empty (HAProxy sends
// unnamed message arguments so).
type KV struct {
	Name  string
	Value Value
}

// AppendKV appends a key/value list entry.
func AppendKV(dst []byte, name string, v Value) []byte {
	return AppendValue(appendString(dst, name), v)
}

// DecodeKVList decodes a key/value list filling the whole of b, as in a
// HELLO or DISCONNECT payload. At most maxItems entries are accepted.
func DecodeKVList(b []byte, maxItems int) ([]KV, error) {
	var kvs []KV
	for len(b) > 0 {
		if len(kvs) == maxItems {
			return nil, fmt.Errorf("spop: more than %d list items", maxItems)
		}
		kv, n, err := decodeKV(b)
		if err != nil {
			return nil, err
		}
		kvs = append(kvs, kv)
		b = b[n:]
	}
	return kvs, nil
}

func decodeKV(b []byte) (KV, int, error) {
	name, n, err := lengthPrefixed(b)
	if err != nil {
		return KV{}, 0, err
	}
	v, m, err := DecodeValue(b[n:])
	if err != nil {
		return KV{}, 0, err
	}
	return KV{Name: string(name), Value: v}, n + m, nil
}

// Message is one message of a NOTIFY frame: its name (the spoe-message
// section's) and its arguments in their declared order.
type Message struct {
	Name string
	Args []KV
}

// Arg returns the first argument called name.
func (m *Message) Arg(name string) (Value, bool) {
	for _, a := range m.Args {
		if a.Name == name {
			return a.Value, true
		}
	}
	return Value{}, false
}

// MaxMessages bounds the messages of one NOTIFY frame. Each carries at most
// 255 arguments (their count is one byte).
const MaxMessages = 64

// DecodeMessages decodes a NOTIFY payload: a list of messages, each a name,
// a one-byte argument count and that many key/value entries.
func DecodeMessages(b []byte) ([]Message, error) {
	var msgs []Message
	for len(b) > 0 {
		if len(msgs) == MaxMessages {
			return nil, fmt.Errorf("spop: more than %d messages in a frame", MaxMessages)
		}
		name, n, err := lengthPrefixed(b)
		if err != nil {
			return nil, err
		}
		b = b[n:]
		if len(b) == 0 {
			return nil, ErrTruncated
		}
		nargs := int(b[0])
		b = b[1:]
		// Every argument takes at least two bytes (an empty name and a
		// NULL), so a count the payload cannot hold is refused before
		// anything is allocated for it.
		if nargs*2 > len(b) {
			return nil, ErrTruncated
		}
		m := Message{Name: string(name), Args: make([]KV, 0, nargs)}
		for range nargs {
			kv, n, err := decodeKV(b)
			if err != nil {
				return nil, err
			}
			m.Args = append(m.Args, kv)
			b = b[n:]
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// AppendMessage appends one message of a NOTIFY payload (what HAProxy
// sends; the agent uses it in tests).
func AppendMessage(dst []byte, m Message) []byte {
	dst = append(appendString(dst, m.Name), byte(len(m.Args)))
	for _, a := range m.Args {
		dst = AppendKV(dst, a.Name, a.Value)
	}
	return dst
}

// Scope is the scope of a variable an ACK sets.
type Scope uint8

// The variable scopes of SPOP.
const (
	ScopeProcess     Scope = 0
	ScopeSession     Scope = 1
	ScopeTransaction Scope = 2
	ScopeRequest     Scope = 3
	ScopeResponse    Scope = 4
)

// Action types of an ACK payload.
const (
	ActionSetVar   = 1
	ActionUnsetVar = 2
)

// AppendSetVar appends a set-var action: HAProxy sets the variable
// <scope>.<var-prefix>.<name> to v (if it is a known variable).
func AppendSetVar(dst []byte, scope Scope, name string, v Value) []byte {
	dst = append(dst, ActionSetVar, 3, byte(scope))
	return AppendValue(appendString(dst, name), v)
}

// AppendUnsetVar appends an unset-var action.
func AppendUnsetVar(dst []byte, scope Scope, name string) []byte {
	dst = append(dst, ActionUnsetVar, 2, byte(scope))
	return appendString(dst, name)
}

// Action is one decoded action of an ACK payload.
type Action struct {
	Type  uint8
	Scope Scope
	Name  string
	Value Value // set-var only
}

// DecodeActions decodes an ACK payload (what HAProxy reads; used in tests
// and by tools that check an agent).
func DecodeActions(b []byte) ([]Action, error) {
	var acts []Action
	for len(b) > 0 {
		if len(b) < 3 {
			return nil, ErrTruncated
		}
		a := Action{Type: b[0], Scope: Scope(b[2])}
		nargs := b[1]
		b = b[3:]
		want := byte(3)
		if a.Type == ActionUnsetVar {
			want = 2
		} else if a.Type != ActionSetVar {
			return nil, fmt.Errorf("spop: unknown action type %d", a.Type)
		}
		if nargs != want {
			return nil, fmt.Errorf("spop: action %d with %d arguments, want %d", a.Type, nargs, want)
		}
		// The scope is a bare byte and the name a bare string (length and
		// bytes, no type), as HAProxy reads them.
		name, n, err := lengthPrefixed(b)
		if err != nil {
			return nil, err
		}
		a.Name = string(name)
		b = b[n:]
		if a.Type == ActionSetVar {
			v, n, err := DecodeValue(b)
			if err != nil {
				return nil, err
			}
			a.Value = v
			b = b[n:]
		}
		acts = append(acts, a)
	}
	return acts, nil
}
