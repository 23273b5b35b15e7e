// Package policyfile keeps the access policy in step with its file: it
// polls the file (content hash, every two seconds by default) and reloads
// on demand (SIGHUP), builds and validates the new policy off the request
// path, and hands it over to be swapped in atomically. A polled change is
// applied only once the content is the same on two polls in a row, so a
// file caught half-written is never applied; the policy is built from the
// very bytes that were hashed. A file that does not
// build keeps the old policy in force; the failure is logged and reported
// by Status until a good file is loaded.
package policyfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/config"
)

// Options are the optional settings of a Reloader.
type Options struct {
	// Interval between polls; default 2s.
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
	// OnReload, if set, is told the result of every reload attempt.
	OnReload func(ok bool)
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
	build func([]byte) (*authz.Policy, error)
	apply func(*authz.Policy)
	opts  Options

	mu        sync.Mutex // serializes reloads and guards status
	status    Status
	triedHash string // the content of the last attempt, good or bad
	seenHash  string // the content at the last poll
}

// New returns a Reloader for path. build compiles the file's content (for
// example config.Config.PolicyFromFile); apply installs a built policy (for
// example check.Checker.SetPolicy). The policy in force at start is taken
// to be built from the file as it is now.
func New(path string, build func([]byte) (*authz.Policy, error), apply func(*authz.Policy), opts Options) *Reloader {
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
	_, h, _ := r.read()
	r.status = Status{Path: path, Generation: 1, LoadedAt: opts.Now(), Hash: h}
	r.triedHash, r.seenHash = h, h
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

// poll reloads when the file's content differs from the last attempt and
// has not changed since the previous poll. A broken file is reported once,
// not every interval.
func (r *Reloader) poll() {
	data, h, err := r.read()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if r.triedHash != "unreadable" {
			r.triedHash, r.seenHash = "unreadable", "unreadable"
			r.failLocked(err)
		}
		return
	}
	stable := h == r.seenHash
	r.seenHash = h
	if h == r.triedHash || !stable {
		return
	}
	_ = r.reloadLocked(data, h) // logged and recorded in Status
}

// Reload reads, builds and applies the file now, whatever its content
// (call it on SIGHUP). On error the old policy stays in force.
func (r *Reloader) Reload() error {
	data, h, err := r.read()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failLocked(err)
		return err
	}
	r.seenHash = h
	return r.reloadLocked(data, h)
}

func (r *Reloader) reloadLocked(data []byte, h string) error {
	r.triedHash = h
	p, err := r.build(data)
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
	if r.opts.OnReload != nil {
		r.opts.OnReload(true)
	}
	return nil
}

func (r *Reloader) failLocked(err error) {
	r.status.LastError = err.Error()
	r.status.LastErrorAt = r.opts.Now()
	r.status.Failures++
	r.opts.Logger.Error("access policy not reloaded; the previous policy stays in force", "file", r.path, "error", err.Error())
	if r.opts.OnReload != nil {
		r.opts.OnReload(false)
	}
}

// Status returns the current state.
func (r *Reloader) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *Reloader) read() ([]byte, string, error) {
	data, err := config.ReadPolicyFile(r.path)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(data)
	return data, hex.EncodeToString(sum[:]), nil
}
