// Package policyfile keeps the access policy in step with its file: it
// polls the file (content hash, every two seconds by default) and reloads
// on demand (SIGHUP), builds and validates the new policy off the request
// path, and hands it over to be swapped in atomically. A file that does not
// build keeps the old policy in force; the failure is logged and reported
// by Status until a good file is loaded.
package policyfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// Options are the optional settings of a Reloader.
type Options struct {
	// Interval between polls; default 2s.
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// Status is the state of the policy file, for /readyz detail and metrics.
type Status struct {
	// Path is the watched file.
	Path string
	// Generation counts the policies applied, the initial one included.
	Generation uint64
	// LoadedAt is when the policy in force was applied; Hash is the
	// SHA-256 of the file content it was built from.
	LoadedAt time.Time
	Hash     string
	// LastError is the last failed reload's error, cleared by a good one;
	// while it is set, the policy in force is older than the file.
	LastError   string
	LastErrorAt time.Time
	// Failures counts failed reloads since start.
	Failures uint64
}

// Reloader watches one policy file. Its methods are safe for concurrent use.
type Reloader struct {
	path  string
	build func() (*authz.Policy, error)
	apply func(*authz.Policy)
	opts  Options

	mu        sync.Mutex // serializes reloads and guards status
	status    Status
	triedHash string // the content of the last attempt, good or bad
}

// New returns a Reloader for path. build reads and compiles the file (for
// example config.Config.LoadPolicy); apply installs a built policy (for
// example check.Checker.SetPolicy). The policy in force at start is taken
// to be built from the file as it is now.
func New(path string, build func() (*authz.Policy, error), apply func(*authz.Policy), opts Options) *Reloader {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Reloader{path: path, build: build, apply: apply, opts: opts}
	h, _ := r.hash()
	r.status = Status{Path: path, Generation: 1, LoadedAt: opts.Now(), Hash: h}
	r.triedHash = h
	return r
}

// Run polls the file until ctx ends, reloading when its content changes.
func (r *Reloader) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.poll()
		}
	}
}

// poll reloads when the file's content differs from the last attempt, so
// a broken file is reported once, not every interval.
func (r *Reloader) poll() {
	h, err := r.hash()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if r.triedHash != "unreadable" {
			r.triedHash = "unreadable"
			r.failLocked(err)
		}
		return
	}
	if h == r.triedHash {
		return
	}
	r.reloadLocked(h)
}

// Reload reads, builds and applies the file now, whatever its content
// (call it on SIGHUP). On error the old policy stays in force.
func (r *Reloader) Reload() error {
	h, err := r.hash()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failLocked(err)
		return err
	}
	return r.reloadLocked(h)
}

func (r *Reloader) reloadLocked(h string) error {
	r.triedHash = h
	p, err := r.build()
	if err != nil {
		r.failLocked(err)
		return err
	}
	r.apply(p)
	r.status.Generation++
	r.status.LoadedAt = r.opts.Now()
	r.status.Hash = h
	r.status.LastError, r.status.LastErrorAt = "", time.Time{}
	r.opts.Logger.Info("access policy reloaded", "file", r.path, "generation", r.status.Generation, "rules", len(p.Rules))
	return nil
}

func (r *Reloader) failLocked(err error) {
	r.status.LastError = err.Error()
	r.status.LastErrorAt = r.opts.Now()
	r.status.Failures++
	r.opts.Logger.Error("access policy not reloaded; the previous policy stays in force", "file", r.path, "error", err.Error())
}

// Status returns the current state.
func (r *Reloader) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *Reloader) hash() (string, error) {
	data, err := os.ReadFile(r.path)
	if err != nil {
		return "", fmt.Errorf("read policy file: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}
