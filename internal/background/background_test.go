package background_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gatehouse/gatehouse/internal/background"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// run starts p.Run and returns the function that stops it and waits.
func run(t *testing.T, p *background.Pool) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return")
		}
	}
}

// TestPoolRunsJobsTakenBeforeRun: a job offered before Run starts runs once
// Run does, and Run returns only after it has finished.
func TestPoolRunsJobsTakenBeforeRun(t *testing.T) {
	p := background.NewPool(2)
	var ran atomic.Int32
	release := make(chan struct{})
	if !p.TryGo(func(context.Context) { <-release; ran.Add(1) }) {
		t.Fatal("first job refused")
	}
	stop := run(t, p)
	time.AfterFunc(50*time.Millisecond, func() { close(release) })
	stop()
	if ran.Load() != 1 {
		t.Fatal("Run returned before its job finished")
	}
}

// TestPoolLimit: beyond the limit, jobs waiting or running are refused.
func TestPoolLimit(t *testing.T) {
	p := background.NewPool(2)
	block := make(chan struct{})
	for i := range 2 {
		if !p.TryGo(func(context.Context) { <-block }) {
			t.Fatalf("job %d refused under the limit", i)
		}
	}
	if p.TryGo(func(context.Context) {}) {
		t.Fatal("third job taken with a limit of 2")
	}
	close(block)
	run(t, p)()
}

// TestPoolStops: after Run has returned, jobs are refused, and a second Run
// is an error.
func TestPoolStops(t *testing.T) {
	p := background.NewPool(1)
	run(t, p)()
	if p.TryGo(func(context.Context) { t.Error("job ran after stop") }) {
		t.Fatal("job taken after stop")
	}
	if err := p.Run(context.Background()); !errors.Is(err, background.ErrStarted) {
		t.Fatalf("second Run: %v, want ErrStarted", err)
	}
}

// TestPoolJobsOutliveCancel: a running job's context is not cancelled when
// Run's ends, and keeps its values.
func TestPoolJobsOutliveCancel(t *testing.T) {
	type key struct{}
	p := background.NewPool(1)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	started := make(chan struct{})
	var jobErr error
	var value any
	p.TryGo(func(ctx context.Context) {
		close(started)
		time.Sleep(50 * time.Millisecond)
		jobErr, value = ctx.Err(), ctx.Value(key{})
	})
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if jobErr != nil || value != "v" {
		t.Fatalf("job context: err %v, value %v; want no error and the value", jobErr, value)
	}
}
