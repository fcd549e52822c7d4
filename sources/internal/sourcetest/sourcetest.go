// Package sourcetest holds what the sources' conformance suites
// (sources/referrals/referralstest, sources/stripe/stripetest) share: the
// cancellation cases every driver passes and the checks of an error: what
// it says, and that it is wrapped once.
package sourcetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// RunDoneContexts checks that a read under a context that is already done
// (cancelled, or past its deadline) fails with the context's error,
// wrapped once. read reads the driver's data under ctx.
func RunDoneContexts(t *testing.T, read func(t *testing.T, ctx context.Context) error) {
	t.Helper()
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"canceled context", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"deadline passed", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Unix(0, 0))
		}, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			err := read(t, ctx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("read: %v, want %v", err, tc.want)
			}
			CheckWrappedOnce(t, err)
		})
	}
}

// CheckError fails t unless err is an error whose text contains every
// string of want, wrapped once.
func CheckError(t testing.TB, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("read: no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("read error %q does not contain %q", err, w)
		}
	}
	CheckWrappedOnce(t, err)
}

// CheckWrappedOnce fails t when the first part of err's text (up to the
// first ": ") comes again later in it: "stripe export: stripe export: ...".
func CheckWrappedOnce(t testing.TB, err error) {
	t.Helper()
	head, rest, _ := strings.Cut(err.Error(), ": ")
	if rest != "" && strings.Contains(rest, head) {
		t.Errorf("error %q repeats %q: wrap once", err, head)
	}
}
