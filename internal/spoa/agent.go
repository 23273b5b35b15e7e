package spoa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/spop"
)

// Reasons the agent itself may answer with.
const (
	reasonInternal      authz.Reason = "internal_error"
	reasonReplyTooLarge authz.Reason = "reply_too_large"
)

// Observer is told about every decision the agent answers, for metrics.
type Observer interface {
	ObserveDecision(adapter string, d authz.Decision, took time.Duration)
}

// AdapterName labels the agent's decisions for an Observer.
const AdapterName = "spoe"

// Options configure an Agent. The zero value is usable.
type Options struct {
	Logger   *slog.Logger
	Observer Observer
	// MaxFrameSize is the largest frame the agent reads or writes; the
	// handshake lowers it to HAProxy's when that is smaller. Default
	// 16380 (HAProxy's default, tune.bufsize - 4).
	MaxFrameSize uint32
	// MaxInFlight bounds the NOTIFY frames answered at once on one
	// pipelined connection; default 20 (HAProxy's max-waiting-frames).
	MaxInFlight int
	// HelloTimeout bounds the wait for HAPROXY-HELLO; default 5s.
	HelloTimeout time.Duration
	// IdleTimeout closes a connection on which nothing arrived for that
	// long; default 5m (HAProxy's "timeout idle" should be shorter).
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to HAProxy; default 5s.
	WriteTimeout time.Duration
}

// Agent answers HAProxy's SPOE filter. It is safe for concurrent use.
type Agent struct {
	checker *check.Checker
	log     *slog.Logger
	obs     Observer
	opts    Options
}

// New returns an agent that decides with checker.
func New(checker *check.Checker, opts Options) *Agent {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxFrameSize == 0 {
		opts.MaxFrameSize = 16380
	}
	opts.MaxFrameSize = max(min(opts.MaxFrameSize, spop.MaxFrameSize), spop.MinFrameSize)
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 20
	}
	if opts.HelloTimeout <= 0 {
		opts.HelloTimeout = 5 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 5 * time.Minute
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 5 * time.Second
	}
	return &Agent{checker: checker, log: opts.Logger, obs: opts.Observer, opts: opts}
}

// Run accepts HAProxy's connections on ln and answers them until ctx ends
// or ln fails. Then it stops accepting, lets every connection finish the
// answers in flight (each bounded by the check's own deadlines and
// WriteTimeout), tells HAProxy with an AGENT-DISCONNECT and closes it. Run owns ln and closes it; it returns
// nil after a stop through ctx, else the listener's error. Every goroutine
// it starts has ended when it returns.
func (a *Agent) Run(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		<-ctx.Done()
		_ = ln.Close()
	})
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				cancel()
				return fmt.Errorf("spoe listener: %w", err)
			}
			// Out of file descriptors and the like: wait, as net/http
			// does, rather than stop answering HAProxy for good.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			a.log.LogAttrs(ctx, slog.LevelWarn, "spoe accept failed", slog.String("error", err.Error()), slog.Duration("retry_in", backoff))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		wg.Go(func() { a.serveConn(ctx, c) })
	}
}

// conn is one HAProxy connection. Its reader (serveConn) owns reads; each
// NOTIFY is answered by one worker; writes are serialized by mu.
type conn struct {
	c       net.Conn
	mu      sync.Mutex // guards writes and wbuf
	wbuf    []byte
	timeout time.Duration
}

func (c *conn) write(f spop.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wbuf = spop.AppendFrame(c.wbuf[:0], f)
	_ = c.c.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.c.Write(c.wbuf)
	return err
}

// serveConn runs the handshake, then answers NOTIFY frames until HAProxy
// disconnects, an error ends the connection, or ctx ends.
func (a *Agent) serveConn(ctx context.Context, nc net.Conn) {
	c := &conn{c: nc, timeout: a.opts.WriteTimeout}
	defer nc.Close()
	// A stop interrupts a blocked read; the loop below then drains.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(time.Now()) })
	defer stop()
	log := a.log.With(slog.String("peer", nc.RemoteAddr().String()))

	_ = nc.SetReadDeadline(time.Now().Add(a.opts.HelloTimeout))
	if ctx.Err() != nil {
		return // stopped before the handshake (the deadline above may have undone the stop's)
	}
	f, buf, err := spop.ReadFrame(nc, a.opts.MaxFrameSize, nil)
	if err != nil {
		a.fail(ctx, log, c, err, "reading HAPROXY-HELLO")
		return
	}
	hello, err := spop.DecodeHello(f)
	var neg spop.Negotiated
	if err == nil {
		neg, err = spop.Negotiate(hello, a.opts.MaxFrameSize, true)
	}
	if err != nil {
		a.fail(ctx, log, c, err, "HELLO handshake")
		return
	}
	if err := c.write(spop.AgentHello(neg)); err != nil {
		log.LogAttrs(ctx, slog.LevelDebug, "spoe write failed", slog.String("error", err.Error()))
		return
	}
	if hello.Healthcheck {
		return
	}

	var workers sync.WaitGroup
	defer workers.Wait()
	slots := make(chan struct{}, a.opts.MaxInFlight)
	for {
		if ctx.Err() != nil {
			workers.Wait()
			_ = c.write(spop.AgentDisconnect(spop.StatusNormal, "agent shutting down"))
			return
		}
		_ = nc.SetReadDeadline(time.Now().Add(a.opts.IdleTimeout))
		if ctx.Err() != nil {
			continue // the deadline above may have undone the stop's
		}
		f, buf, err = spop.ReadFrame(nc, neg.MaxFrameSize, buf)
		if err != nil {
			if ctx.Err() != nil {
				continue // drain and say goodbye above
			}
			workers.Wait()
			a.fail(ctx, log, c, err, "reading a frame")
			return
		}
		switch f.Type {
		case spop.TypeNotify:
		case spop.TypeHAProxyDisconnect:
			d, _ := spop.DecodeDisconnect(f)
			if d.Status != spop.StatusNormal {
				log.LogAttrs(ctx, slog.LevelWarn, "haproxy disconnected with an error", slog.Int("status", int(d.Status)), slog.String("message", d.Message))
			}
			workers.Wait()
			_ = c.write(spop.AgentDisconnect(spop.StatusNormal, "bye"))
			return
		case spop.TypeUnset:
			workers.Wait()
			a.fail(ctx, log, c, &spop.Error{Status: spop.StatusFragNotSupported, Message: "fragmented frame: the agent does not announce fragmentation"}, "reading a frame")
			return
		default:
			continue // unknown frames may be skipped
		}
		if f.Flags&spop.FlagFin == 0 {
			workers.Wait()
			a.fail(ctx, log, c, &spop.Error{Status: spop.StatusFragNotSupported, Message: "fragmented NOTIFY: the agent does not announce fragmentation"}, "reading a frame")
			return
		}
		// The messages must not alias buf, which the next read reuses
		// while a worker may still be reading them.
		msgs, err := spop.DecodeMessages(bytes.Clone(f.Payload))
		if err != nil {
			workers.Wait()
			a.fail(ctx, log, c, err, "decoding NOTIFY")
			return
		}
		notify := spop.Frame{StreamID: f.StreamID, FrameID: f.FrameID}
		if !neg.Pipelining {
			if err := a.answer(ctx, log, c, notify, msgs, neg.MaxFrameSize); err != nil {
				return
			}
			continue
		}
		slots <- struct{}{}
		workers.Go(func() {
			defer func() { <-slots }()
			if err := a.answer(ctx, log, c, notify, msgs, neg.MaxFrameSize); err != nil {
				_ = nc.Close() // the reader sees the error and ends
			}
		})
	}
}

// fail reports a protocol error to HAProxy (unless the peer is gone) and
// logs it.
func (a *Agent) fail(ctx context.Context, log *slog.Logger, c *conn, err error, during string) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return // HAProxy closed the connection
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		_ = c.write(spop.AgentDisconnect(spop.StatusTimeout, "timeout "+during))
		return
	}
	st := spop.StatusOf(err)
	log.LogAttrs(ctx, slog.LevelWarn, "spoe connection refused", slog.String("during", during), slog.Int("status", int(st)), slog.String("error", err.Error()))
	if st != spop.StatusIO {
		_ = c.write(spop.AgentDisconnect(st, err.Error()))
	}
}

// answer decides the messages of one NOTIFY and writes the ACK.
func (a *Agent) answer(ctx context.Context, log *slog.Logger, c *conn, notify spop.Frame, msgs []spop.Message, maxFrame uint32) error {
	var actions []byte
	for i := range msgs {
		if msgs[i].Name != MessageName {
			continue
		}
		v := a.decide(ctx, log, &msgs[i])
		actions = appendVerdict(nil, &v)
		if fits(actions, maxFrame) {
			break
		}
		if v.Outcome != authz.Allow && v.Reply.Body != "" {
			// A refusal whose page does not fit: the same refusal
			// without its body.
			v.Reply.Body = ""
			if actions = appendVerdict(nil, &v); fits(actions, maxFrame) {
				break
			}
		}
		// Cookies or groups too large for one frame: refuse rather than
		// truncate (haproxy.cfg answers it with a 500).
		log.LogAttrs(ctx, slog.LevelWarn, "spoe answer too large", slog.String("reason", string(reasonReplyTooLarge)), slog.Int("bytes", len(actions)), slog.Int("max_frame_size", int(maxFrame)))
		f := check.Failed(reasonReplyTooLarge)
		actions = appendVerdict(nil, &f)
		break
	}
	if err := c.write(spop.Ack(notify, actions)); err != nil {
		log.LogAttrs(ctx, slog.LevelDebug, "spoe write failed", slog.String("error", err.Error()))
		return err
	}
	return nil
}

// fits reports whether an ACK with these actions stays within maxFrame
// (the frame header takes at most 1+4+10+10 bytes).
func fits(actions []byte, maxFrame uint32) bool { return len(actions)+25 <= int(maxFrame) }

// decide judges one gatehouse-check message.
func (a *Agent) decide(ctx context.Context, log *slog.Logger, m *spop.Message) (v check.Verdict) {
	defer func() {
		if r := recover(); r != nil {
			log.LogAttrs(ctx, slog.LevelError, "spoe check panicked", slog.String("reason", string(reasonInternal)), slog.Any("panic", r))
			v = check.Failed(reasonInternal)
		}
	}()
	start := time.Now()
	in, err := toRequest(m)
	if err != nil {
		log.LogAttrs(ctx, slog.LevelInfo, "spoe bad request", slog.String("reason", string(authz.ReasonBadRequest)), slog.String("error", err.Error()))
		v = check.Refused(authz.ReasonBadRequest)
	} else {
		// A stop lets the answers in flight finish; the store lookup has
		// its own deadline (session.timeout).
		v = a.checker.Check(context.WithoutCancel(ctx), &in.req, check.Credentials{Cookie: in.cookie, Authorization: in.authorization})
		log.LogAttrs(ctx, slog.LevelDebug, "spoe check",
			slog.String("outcome", v.Outcome.String()),
			slog.String("reason", string(v.Reason)),
			slog.String("user", v.User),
			slog.String("method", in.req.Method),
			slog.String("host", in.req.Host),
			slog.String("path", in.req.Path),
		)
	}
	if a.obs != nil {
		a.obs.ObserveDecision(AdapterName, v.Decision, time.Since(start))
	}
	return v
}
