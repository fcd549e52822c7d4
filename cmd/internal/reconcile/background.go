package reconcile

import (
	"context"
	"fmt"
	"runtime/debug"
)

// background is a job of the run started in its own goroutine, beside the
// run's other outputs, under a context of its own that only stop cancels
// (the public snapshot's staging, the warehouse's). A panic in it becomes
// its error instead of taking the process down.
type background[T any] struct {
	cancel context.CancelFunc
	done   chan struct{}
	val    T // what the job filled in, kept when it failed (for the caller to release)
	err    error
}

// inBackground starts f, which fills in *v as it goes. label names the job
// in a panic's error ("" for none).
func inBackground[T any](ctx context.Context, label string, f func(ctx context.Context, v *T) error) *background[T] {
	ctx, cancel := context.WithCancel(ctx)
	b := &background[T]{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		defer func() {
			if r := recover(); r != nil {
				if label != "" {
					label += ": "
				}
				b.err = fmt.Errorf("%spanic: %v\n%s", label, r, debug.Stack())
			}
		}()
		b.err = f(ctx, &b.val)
	}()
	return b
}

// wait returns what the job filled in and its error once it has finished.
func (b *background[T]) wait() (T, error) {
	<-b.done
	return b.val, b.err
}

// stop cancels the job if it is still running, waits for it, and returns
// what it filled in.
func (b *background[T]) stop() T {
	b.cancel()
	<-b.done
	return b.val
}
