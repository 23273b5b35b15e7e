//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawRequest is one request head exactly as it arrived on a socket: the
// request line's three parts and every header line in order, with the
// name spelled as sent.
type rawRequest struct {
	Method  string
	Target  string
	Proto   string
	Headers [][2]string
}

// values returns the values of every header whose name equals name, case
// ignored (not '-' versus '_': those are different headers on the wire).
func (r *rawRequest) values(name string) []string {
	var out []string
	for _, h := range r.Headers {
		if strings.EqualFold(h[0], name) {
			out = append(out, h[1])
		}
	}
	return out
}

// first returns the first value of the header name, or "".
func (r *rawRequest) first(name string) string {
	if v := r.values(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// String renders the head for a report.
func (r *rawRequest) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", r.Method, r.Target, r.Proto)
	for _, h := range r.Headers {
		fmt.Fprintf(&b, " | %s: %s", h[0], h[1])
	}
	return b.String()
}

// maxHead bounds a request head the recorder reads.
const maxHead = 64 << 10

// readHead reads one request head (up to the empty line) and the body its
// Content-Length or chunked Transfer-Encoding announces, which it drops.
// Lines may end in CRLF or LF; obs-fold continuation lines are appended
// to the previous header's value, as a lenient server does.
func readHead(br *bufio.Reader) (*rawRequest, error) {
	var lines []string
	total := 0
	for {
		line, err := br.ReadString('\n')
		total += len(line)
		if err != nil {
			if err == io.EOF && len(lines) == 0 && line == "" {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("read head: %w", err)
		}
		if total > maxHead {
			return nil, errors.New("request head too large")
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(lines) == 0 {
				continue // tolerate empty lines before a request line
			}
			break
		}
		lines = append(lines, line)
	}
	parts := strings.SplitN(lines[0], " ", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("bad request line %q", lines[0])
	}
	r := &rawRequest{Method: parts[0], Target: parts[1], Proto: parts[2]}
	for _, l := range lines[1:] {
		if (l[0] == ' ' || l[0] == '\t') && len(r.Headers) > 0 {
			r.Headers[len(r.Headers)-1][1] += " " + strings.TrimSpace(l)
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("bad header line %q", l)
		}
		r.Headers = append(r.Headers, [2]string{name, strings.TrimSpace(value)})
	}
	if err := dropBody(br, r); err != nil {
		return nil, err
	}
	return r, nil
}

// dropBody reads and discards the request's body.
func dropBody(br *bufio.Reader, r *rawRequest) error {
	if strings.EqualFold(strings.TrimSpace(r.first("Transfer-Encoding")), "chunked") {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return fmt.Errorf("chunk size: %w", err)
			}
			size, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(line, ";", 2)[0]), 16, 64)
			if err != nil || size < 0 {
				return fmt.Errorf("chunk size %q", line)
			}
			if size == 0 {
				for { // trailers, up to the empty line
					l, err := br.ReadString('\n')
					if err != nil {
						return err
					}
					if strings.TrimRight(l, "\r\n") == "" {
						return nil
					}
				}
			}
			if _, err := io.CopyN(io.Discard, br, size+2); err != nil {
				return err
			}
		}
	}
	if cl := r.first("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("content-length %q", cl)
		}
		_, err = io.CopyN(io.Discard, br, n)
		return err
	}
	return nil
}

// recorder is the app behind the proxies in the differential test: a raw
// HTTP/1.1 server that records every request head it receives, before any
// library could normalize it, and answers 200.
type recorder struct {
	l    net.Listener
	mu   sync.Mutex
	reqs []*rawRequest
	errs []error
	wg   sync.WaitGroup
}

func startRecorder(addr string) (*recorder, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	rc := &recorder{l: l}
	rc.wg.Add(1)
	go rc.accept()
	return rc, nil
}

func (rc *recorder) accept() {
	defer rc.wg.Done()
	for {
		c, err := rc.l.Accept()
		if err != nil {
			return
		}
		rc.wg.Add(1)
		go rc.serve(c)
	}
}

func (rc *recorder) serve(c net.Conn) {
	defer rc.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		r, err := readHead(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
				rc.mu.Lock()
				rc.errs = append(rc.errs, err)
				rc.mu.Unlock()
			}
			return
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, r)
		rc.mu.Unlock()
		const body = "recorded\n"
		if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: no-store\r\nContent-Length: %d\r\n\r\n%s", len(body), body); err != nil {
			return
		}
		if strings.EqualFold(r.first("Connection"), "close") || r.Proto == "HTTP/1.0" {
			return
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// take returns and forgets every request recorded so far.
func (rc *recorder) take() []*rawRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := rc.reqs
	rc.reqs = nil
	return out
}

func (rc *recorder) stop() {
	rc.l.Close()
	rc.wg.Wait()
}

// sendRaw writes raw on a fresh TLS connection to addr (SNI sni, HTTP/1.1
// only) and returns the status code of the answer (0 when the proxy closed
// the connection without one) and its first line.
func sendRaw(ctx context.Context, addr, sni string, raw []byte) (int, string, error) {
	d := tls.Dialer{Config: &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}} // test certificates only
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, "", fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	if _, err := c.Write(raw); err != nil {
		return 0, "", fmt.Errorf("write: %w", err)
	}
	// Half-close is not available on TLS; the requests carry
	// "Connection: close" or are answered and closed by the proxy.
	b, err := io.ReadAll(io.LimitReader(c, 1<<20))
	if err != nil && len(b) == 0 && !isTimeout(err) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, "", nil // reset without an answer: refused
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	first := strings.TrimSpace(string(line))
	f := strings.Fields(first)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") {
		return 0, first, nil
	}
	code, _ := strconv.Atoi(f[1])
	return code, first, nil
}

// h2Fields turns an HTTP/1.1 request head into the header fields of the
// same request over HTTP/2: :method, :scheme, :authority (the Host header,
// or an absolute-form target's authority, in which case a differing Host
// stays as a "host" field) and :path; other names lower-cased;
// connection-specific headers dropped. ok is false for a request HTTP/2
// cannot carry (a body, an asterisk target).
func h2Fields(r *rawRequest) (fields [][2]string, ok bool) {
	target, authority := r.Target, ""
	hosts := r.values("Host")
	if !strings.HasPrefix(target, "/") {
		i := strings.Index(target, "://")
		if i < 0 {
			return nil, false
		}
		rest := target[i+3:]
		j := strings.IndexAny(rest, "/?")
		if j < 0 {
			authority, target = rest, "/"
		} else {
			authority, target = rest[:j], rest[j:]
		}
	} else if len(hosts) > 0 {
		authority, hosts = hosts[0], hosts[1:]
	}
	fields = [][2]string{{":method", r.Method}, {":scheme", "https"}, {":authority", authority}, {":path", target}}
	for _, h := range hosts {
		fields = append(fields, [2]string{"host", h})
	}
	for _, h := range r.Headers {
		n := strings.ToLower(h[0])
		switch n {
		case "host", "connection", "keep-alive", "proxy-connection", "upgrade":
			continue
		case "transfer-encoding", "content-length":
			return nil, false
		}
		fields = append(fields, [2]string{n, h[1]})
	}
	return fields, true
}

// sendH2 sends one request with the given header fields (no body) on a
// fresh HTTP/2 connection (TLS, ALPN h2) and returns the response's status,
// 0 when the stream or connection was refused.
func sendH2(ctx context.Context, addr, sni string, fields [][2]string) (int, error) {
	d := tls.Dialer{Config: &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"h2"}}} // test certificates only
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Close()
	if p := c.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "h2" {
		return 0, fmt.Errorf("ALPN: %q, not h2", p)
	}
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return 0, err
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		return 0, err
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range fields {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			return 0, err
		}
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		return 0, err
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if isTimeout(err) {
				return 0, fmt.Errorf("no HTTP/2 answer: %w", err)
			}
			return 0, nil // connection closed or a protocol error: refused
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := fr.WriteSettingsAck(); err != nil {
					return 0, err
				}
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 {
				code, _ := strconv.Atoi(f.PseudoValue("status"))
				return code, nil
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				return 0, nil
			}
		case *http2.GoAwayFrame:
			return 0, nil
		}
	}
}
