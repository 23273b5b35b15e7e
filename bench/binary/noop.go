package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/bench/internal/extauthz"
)

// noopMain is the "noop" subcommand: a server that does nothing but what
// its kind says, in a process of its own like gatehouse, on a free loopback
// port that it prints on its first line of output. It runs until SIGTERM.
//
//	http   a net/http server answering 200
//	redis  the same, after one Redis GET of -key (the session record)
//	grpc   an ext_authz Authorization server answering OK
func noopMain(args []string) error {
	fs := flag.NewFlagSet("noop", flag.ContinueOnError)
	kind := fs.String("kind", "http", "http, redis or grpc")
	redisAddr := fs.String("redis", "127.0.0.1:6379", "Redis address (kind redis)")
	key := fs.String("key", "", "the key to GET (kind redis)")
	var headers headerList
	fs.Var(&headers, "header", "a response header \"Name: value\" to send (kind http; repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var serve func() error
	var shutdown func()
	switch *kind {
	case "http", "redis":
		h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
		if len(headers) > 0 {
			h = func(w http.ResponseWriter, _ *http.Request) {
				hdr := w.Header()
				for _, kv := range headers {
					hdr[kv[0]] = append(hdr[kv[0]], kv[1])
				}
				w.WriteHeader(http.StatusOK)
			}
		}
		if *kind == "redis" {
			if *key == "" {
				return errors.New("noop: kind redis needs -key")
			}
			rc := redis.NewClient(&redis.Options{Addr: *redisAddr})
			defer rc.Close()
			if err := rc.Get(ctx, *key).Err(); err != nil {
				return fmt.Errorf("noop: redis GET %s: %w", *key, err)
			}
			h = func(w http.ResponseWriter, r *http.Request) {
				if err := rc.Get(r.Context(), *key).Err(); err != nil {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusOK)
			}
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		serve = func() error { return srv.Serve(ln) }
		shutdown = func() { _ = srv.Close() }
	case "grpc":
		srv := extauthz.Serve(extauthz.NoopServer{})
		serve = func() error { return srv.Serve(ln) }
		shutdown = srv.Stop
	default:
		return fmt.Errorf("noop: unknown -kind %q", *kind)
	}
	fmt.Fprintln(os.Stdout, ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- serve() }()
	select {
	case <-ctx.Done():
		shutdown()
		<-done
		return nil
	case err := <-done:
		return err
	}
}

// headerList is the repeatable -header flag: canonical name and value.
type headerList [][2]string

func (h *headerList) String() string { return fmt.Sprint(*h) }

func (h *headerList) Set(s string) error {
	k, v, ok := strings.Cut(s, ": ")
	if !ok || k == "" {
		return fmt.Errorf("want \"Name: value\", got %q", s)
	}
	*h = append(*h, [2]string{http.CanonicalHeaderKey(k), v})
	return nil
}
