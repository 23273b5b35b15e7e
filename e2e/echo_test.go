//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// echoReply is what the upstream echo app answers: the request as it
// reached the app, after the proxy and gatehouse.
type echoReply struct {
	Method  string              `json:"method"`
	Host    string              `json:"host"`
	URI     string              `json:"uri"`
	Headers map[string][]string `json:"headers"`
}

// echoApp is the upstream app behind every proxy. It answers every request
// with the headers it received, as JSON, and remembers the "probe" query
// value of every request it saw, so a test can prove a request never
// reached it.
type echoApp struct {
	srv    *http.Server
	mu     sync.Mutex
	probes map[string]int
}

func startEcho(addr string) (*echoApp, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("echo app: %w", err)
	}
	e := &echoApp{probes: map[string]int{}}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go e.srv.Serve(l)
	return e, nil
}

func (e *echoApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Query().Get("probe"); p != "" {
		e.mu.Lock()
		e.probes[p]++
		e.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(echoReply{Method: r.Method, Host: r.Host, URI: r.RequestURI, Headers: r.Header})
}

// seen reports how many requests carrying the probe reached the app.
func (e *echoApp) seen(probe string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.probes[probe]
}

func (e *echoApp) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
}
