// Package background runs a component's best-effort jobs (recording a
// session's use, refreshing its tokens) under the lifetime its owner gives
// it: jobs are offered at any time, bounded in number, and run only while
// the owner's Run is running, so no goroutine outlives the process's
// shutdown.
package background

import (
	"context"
	"errors"
	"sync"
)

// ErrStarted is returned by a second call of Run.
var ErrStarted = errors.New("background: Run called more than once")

// Pool runs offered jobs, at most a fixed number waiting or running at once.
// Its zero value is not usable; make one with NewPool.
type Pool struct {
	// slots holds one token per job waiting or running.
	slots chan struct{}
	// queue holds the jobs offered but not started; it never blocks a
	// sender, since every queued job holds a slot.
	queue chan func(context.Context)

	mu      sync.Mutex
	started bool
	stopped bool
}

// NewPool returns a Pool that holds at most limit jobs (at least one).
func NewPool(limit int) *Pool {
	limit = max(limit, 1)
	return &Pool{slots: make(chan struct{}, limit), queue: make(chan func(context.Context), limit)}
}

// TryGo offers job and reports whether it was taken: it is refused when
// limit jobs are already waiting or running, or once Run has stopped. A job
// taken before Run starts waits for it; a job taken always runs if Run is
// ever called.
func (p *Pool) TryGo(job func(ctx context.Context)) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	select {
	case p.slots <- struct{}{}:
	default:
		return false
	}
	p.queue <- job
	return true
}

// Run starts the offered jobs until ctx ends; then it refuses new ones,
// starts those already taken and returns once every job has returned. Jobs
// get ctx's values but not its cancellation: each bounds itself with its
// own deadline, so that work in flight (a token refresh the provider has
// already answered) is finished rather than cut short at shutdown.
func (p *Pool) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return ErrStarted
	}
	p.started = true
	p.mu.Unlock()

	jobCtx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	start := func(job func(context.Context)) {
		wg.Go(func() {
			defer func() { <-p.slots }()
			job(jobCtx)
		})
	}
	for {
		select {
		case job := <-p.queue:
			start(job)
		case <-ctx.Done():
			p.mu.Lock()
			p.stopped = true
			p.mu.Unlock()
			for len(p.queue) > 0 {
				start(<-p.queue)
			}
			wg.Wait()
			return nil
		}
	}
}
