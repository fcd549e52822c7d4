// Package retry is refrecon's one retry policy and the error classes every
// source and sink shares.
//
// The policy (Policy, applied by Do, or by Transport for an HTTP client):
// an operation is retried only when it failed with an error of class
// ErrTransient (rate limits, server errors, broken connections); any other
// error ends it at once. The wait before retry n is an exponential backoff
// (github.com/cenkalti/backoff/v5: the interval starts at Initial, doubles
// per retry up to MaxInterval, and each wait is drawn from [0.5, 1.5] times
// the interval), or the server's Retry-After when that is longer: a
// Retry-After is honoured for the one wait it answers, and the backoff goes
// on growing under it. At most MaxAttempts attempts are made, and a wait
// that would bring the total waiting of one call past Budget is not
// started: the call gives up at once with the last error, saying why. A
// cancelled context ends the wait (and the call) at once with ctx.Err().
//
// The error classes are sentinel errors, matched with errors.Is: ErrRefused
// (a credential the service refused), ErrNotFound, ErrTransient (what
// retrying may fix; returned when the retries ran out) and ErrBadInput (the
// service or the data said the request or its input is wrong). Mark and
// Transient attach a class to an error without changing its text, so cmd
// can map any failure to a message and an exit status.
package retry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// The error classes.
var (
	ErrRefused   = errors.New("credential refused")
	ErrNotFound  = errors.New("not found")
	ErrTransient = errors.New("transient failure")
	ErrBadInput  = errors.New("bad input")
)

// Classes lists the error classes, for callers that map each to a message.
var Classes = []error{ErrRefused, ErrNotFound, ErrTransient, ErrBadInput}

// Mark returns err with class attached: its text is err's, and errors.Is
// matches both err's chain and class. Mark(nil, c) is nil.
func Mark(err, class error) error {
	if err == nil {
		return nil
	}
	return &classed{err: err, class: class}
}

// Transient marks err as ErrTransient; after, when positive, is how long
// the service asked to be left alone (Retry-After).
func Transient(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &classed{err: err, class: ErrTransient, after: after}
}

// ClassOf returns the class of err (one of Classes), or nil when it has
// none. A context error has none: it is not the service's doing.
func ClassOf(err error) error {
	for _, c := range Classes {
		if errors.Is(err, c) {
			return c
		}
	}
	return nil
}

// StatusClass is the class of an HTTP error status: 401 and 403 refuse the
// credential, 404 is not found, 408, 429 and 5xx are transient, any other
// 4xx is bad input; nil for a status that is no error.
func StatusClass(code int) error {
	switch {
	case code == 401 || code == 403:
		return ErrRefused
	case code == 404:
		return ErrNotFound
	case code == 408 || code == 429 || code >= 500:
		return ErrTransient
	case code >= 400:
		return ErrBadInput
	}
	return nil
}

type classed struct {
	err   error
	class error
	after time.Duration
}

func (e *classed) Error() string   { return e.err.Error() }
func (e *classed) Unwrap() []error { return []error{e.err, e.class} }

// Defaults of the policy (a zero field of Policy means its default).
const (
	DefaultMaxAttempts = 7                      // the first attempt and 6 retries
	DefaultInitial     = 500 * time.Millisecond // first backoff interval
	DefaultMaxInterval = 20 * time.Second       // cap of the backoff interval
	DefaultBudget      = 2 * time.Minute        // most waiting in one call
)

// Policy is the retry policy; the zero Policy is the production one.
// Tests shorten the waits or record them with Sleep.
type Policy struct {
	MaxAttempts int           // attempts in all, the first included
	Initial     time.Duration // first backoff interval
	MaxInterval time.Duration // cap of the backoff interval
	Budget      time.Duration // most total waiting between the attempts of one call

	// Sleep waits d, or until ctx is done (then returning ctx.Err()); nil
	// is a timer. Tests inject one that records the waits.
	Sleep func(ctx context.Context, d time.Duration) error
	// Notify, when set, is told of each failed attempt that will be
	// retried, before the wait: for a log line.
	Notify func(err error, attempt int, wait time.Duration)
}

// Validate reports a policy with a negative count or duration.
func (p Policy) Validate() error {
	if p.MaxAttempts < 0 || p.Initial < 0 || p.MaxInterval < 0 || p.Budget < 0 {
		return errors.New("retry policy: a negative attempt count or duration")
	}
	return nil
}

func (p Policy) withDefaults() Policy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.Initial == 0 {
		p.Initial = DefaultInitial
	}
	if p.MaxInterval == 0 {
		p.MaxInterval = max(DefaultMaxInterval, p.Initial)
	}
	if p.Budget == 0 {
		p.Budget = DefaultBudget
	}
	if p.Sleep == nil {
		p.Sleep = sleep
	}
	return p
}

// GiveUpError is the last error of a call whose retries ran out.
type GiveUpError struct {
	Attempts int
	Reason   string // why no further attempt was made
	Err      error  // the last attempt's error
}

func (e *GiveUpError) Error() string {
	return fmt.Sprintf("%s: %v", e.summary(), e.Err)
}

// summary says how many attempts were made and why no further one was.
func (e *GiveUpError) summary() string {
	s := "s"
	if e.Attempts == 1 {
		s = ""
	}
	return fmt.Sprintf("giving up after %d attempt%s%s", e.Attempts, s, e.Reason)
}

func (e *GiveUpError) Unwrap() error { return e.Err }

// Do calls op until it succeeds, fails with an error that is not
// ErrTransient, or the policy gives up (a *GiveUpError wrapping the last
// error, still ErrTransient). It returns op's last result with the error,
// so a caller can still read the last answer of a failed call.
func Do[T any](ctx context.Context, p Policy, op func(ctx context.Context) (T, error)) (T, error) {
	p = p.withDefaults()
	b := &backoff.ExponentialBackOff{
		InitialInterval:     p.Initial,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         p.MaxInterval,
	}
	b.Reset()
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		v, err := op(ctx)
		if err == nil {
			return v, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			if errors.Is(err, cerr) {
				return v, err
			}
			return v, cerr
		}
		if !errors.Is(err, ErrTransient) {
			return v, err
		}
		if attempt >= p.MaxAttempts {
			return v, &GiveUpError{Attempts: attempt, Err: err}
		}
		wait := b.NextBackOff()
		var c *classed
		if errors.As(err, &c) && c.after > wait {
			wait = c.after
		}
		if waited+wait > p.Budget {
			return v, &GiveUpError{Attempts: attempt, Err: err,
				Reason: fmt.Sprintf(" (waiting %s more would pass the retry budget of %s)", wait, p.Budget)}
		}
		if p.Notify != nil {
			p.Notify(err, attempt, wait)
		}
		if serr := p.Sleep(ctx, wait); serr != nil {
			return v, serr
		}
		waited += wait
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
