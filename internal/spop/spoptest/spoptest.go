// Package spoptest plays HAProxy's side of SPOP against an agent, for
// tests: the HAPROXY-HELLO that HAProxy 2.6 sends, NOTIFY frames, and the
// set-var actions of the ACK read back as variables.
package spoptest

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gatehouse/gatehouse/internal/spop"
)

// Client is one HAProxy connection to an agent.
type Client struct {
	Conn net.Conn
	// Hello is the agent's AGENT-HELLO, decoded.
	Hello map[string]spop.Value
	buf   []byte
	max   uint32
}

// HelloOptions shape the HAPROXY-HELLO.
type HelloOptions struct {
	MaxFrameSize uint32 // default 16380
	Capabilities string // default "pipelining,async", as HAProxy 2.6 sends
	Healthcheck  bool
}

// Dial connects to addr and completes the HELLO handshake.
func Dial(addr string, o HelloOptions) (*Client, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c, err := Handshake(nc, o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Handshake sends HAPROXY-HELLO on nc and reads the AGENT-HELLO.
func Handshake(nc net.Conn, o HelloOptions) (*Client, error) {
	if o.MaxFrameSize == 0 {
		o.MaxFrameSize = 16380
	}
	if o.Capabilities == "" {
		o.Capabilities = "pipelining,async"
	}
	var p []byte
	p = spop.AppendKV(p, "supported-versions", spop.StringValue("2.0"))
	p = spop.AppendKV(p, "max-frame-size", spop.UintValue(uint64(o.MaxFrameSize)))
	p = spop.AppendKV(p, "capabilities", spop.StringValue(o.Capabilities))
	if o.Healthcheck {
		p = spop.AppendKV(p, "healthcheck", spop.BoolValue(true))
	}
	p = spop.AppendKV(p, "engine-id", spop.StringValue("spoptest-engine"))
	c := &Client{Conn: nc, max: o.MaxFrameSize}
	if err := c.Send(spop.Frame{Type: spop.TypeHAProxyHello, Flags: spop.FlagFin, Payload: p}); err != nil {
		return nil, err
	}
	f, err := c.Read()
	if err != nil {
		return nil, err
	}
	if f.Type != spop.TypeAgentHello {
		return nil, fmt.Errorf("spoptest: got frame type %d, want AGENT-HELLO", f.Type)
	}
	kvs, err := spop.DecodeKVList(f.Payload, 32)
	if err != nil {
		return nil, err
	}
	c.Hello = map[string]spop.Value{}
	for _, kv := range kvs {
		c.Hello[kv.Name] = kv.Value
	}
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.Conn.Close() }

// Send writes one frame.
func (c *Client) Send(f spop.Frame) error {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Conn.Write(spop.AppendFrame(nil, f))
	return err
}

// Read reads one frame; its payload is a copy.
func (c *Client) Read() (spop.Frame, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, buf, err := spop.ReadFrame(c.Conn, spop.MaxFrameSize, c.buf)
	c.buf = buf
	f.Payload = append([]byte(nil), f.Payload...)
	return f, err
}

// Notify sends a NOTIFY frame with msgs.
func (c *Client) Notify(streamID, frameID uint64, msgs ...spop.Message) error {
	var p []byte
	for _, m := range msgs {
		p = spop.AppendMessage(p, m)
	}
	return c.Send(spop.Frame{Type: spop.TypeNotify, Flags: spop.FlagFin, StreamID: streamID, FrameID: frameID, Payload: p})
}

// Vars decodes an ACK's set-var actions (transaction scope) by name.
func Vars(ack spop.Frame) (map[string]spop.Value, error) {
	if ack.Type != spop.TypeAck {
		return nil, fmt.Errorf("spoptest: got frame type %d, want ACK", ack.Type)
	}
	acts, err := spop.DecodeActions(ack.Payload)
	if err != nil {
		return nil, err
	}
	vars := map[string]spop.Value{}
	for _, a := range acts {
		if a.Type != spop.ActionSetVar || a.Scope != spop.ScopeTransaction {
			return nil, fmt.Errorf("spoptest: unexpected action %+v", a)
		}
		if _, dup := vars[a.Name]; dup {
			return nil, fmt.Errorf("spoptest: variable %s set twice", a.Name)
		}
		vars[a.Name] = a.Value
	}
	return vars, nil
}

// errStream is returned when an ACK answers another frame.
var errStream = errors.New("spoptest: ACK for another frame")

// Check sends one NOTIFY and returns the variables of its ACK.
func (c *Client) Check(streamID, frameID uint64, msgs ...spop.Message) (map[string]spop.Value, error) {
	if err := c.Notify(streamID, frameID, msgs...); err != nil {
		return nil, err
	}
	f, err := c.Read()
	if err != nil {
		return nil, err
	}
	if f.StreamID != streamID || f.FrameID != frameID {
		return nil, fmt.Errorf("%w: %d/%d, want %d/%d", errStream, f.StreamID, f.FrameID, streamID, frameID)
	}
	return Vars(f)
}

// HeadersBin encodes headers as HAProxy's req.hdrs_bin does: a
// length-prefixed name and value per header, then an empty name and value.
func HeadersBin(headers [][2]string) []byte {
	var b []byte
	for _, h := range headers {
		b = append(spop.AppendVarint(b, uint64(len(h[0]))), h[0]...)
		b = append(spop.AppendVarint(b, uint64(len(h[1]))), h[1]...)
	}
	return append(b, 0, 0)
}
