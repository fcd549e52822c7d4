package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
)

// attemptsHeader is set on the response handed back to stripe-go, so the
// error built from it can say how many attempts were made.
const attemptsHeader = "X-Refrecon-Attempts"

// transport is the http.RoundTripper under the stripe-go client: every
// attempt waits for the shared rate limiter, then goes out through inner
// (whose Timeout bounds one attempt). Idempotent requests (GET, HEAD) are
// retried with exponential backoff and jitter on 429, on 5xx and on
// transport errors, honouring Retry-After and Stripe-Should-Retry, at most
// maxRetries times and sleeping at most budget in total. The body is read
// here, so a connection that breaks mid-body (a truncated page) is a
// transport error too, retried like a reset.
type transport struct {
	inner      *http.Client
	limiter    *rate.Limiter
	maxRetries int
	base       time.Duration // first backoff
	maxDelay   time.Duration // cap of one backoff
	budget     time.Duration // cap of all sleeps for one request
	sleep      func(ctx context.Context, d time.Duration) error
	log        zerolog.Logger
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	idempotent := req.Method == http.MethodGet || req.Method == http.MethodHead
	var slept time.Duration
	for attempt := 1; ; attempt++ {
		if err := t.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("rate limiter: %w", err)
		}
		resp, err := t.inner.Do(req.Clone(ctx))
		if err == nil {
			// Read the whole body here: a connection that breaks while the
			// body arrives is a transport error worth another attempt, not a
			// page stripe-go fails to decode.
			err = bufferBody(resp)
			if err != nil {
				resp = nil
			}
		}
		if err != nil {
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err // the outer client adds method and URL again
			}
		}
		retry, delay, why := t.decide(ctx, resp, err, attempt)
		if !retry || !idempotent {
			return finish(resp, err, attempt)
		}
		if attempt > t.maxRetries || slept+delay > t.budget {
			if err != nil {
				return nil, fmt.Errorf("giving up after %d attempts: %w", attempt, err)
			}
			return finish(resp, nil, attempt)
		}
		t.log.Warn().Str("path", req.URL.Path).Int("attempt", attempt).Dur("backoff", delay).
			Str("reason", why).Msg("stripe request failed; retrying")
		if err := t.sleep(ctx, delay); err != nil {
			return nil, err
		}
		slept += delay
	}
}

// maxBodyBytes bounds one response body; a list page of 100 objects is a
// few hundred KiB.
const maxBodyBytes = 64 << 20

// bufferBody replaces resp.Body with its content, read in full. On a read
// error (or a body over maxBodyBytes) it closes the body and returns the
// error.
func bufferBody(resp *http.Response) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return fmt.Errorf("reading the response body (HTTP %d): %w", resp.StatusCode, err)
	}
	if len(b) > maxBodyBytes {
		return fmt.Errorf("response body over %d bytes (HTTP %d)", maxBodyBytes, resp.StatusCode)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return nil
}

func finish(resp *http.Response, err error, attempts int) (*http.Response, error) {
	if resp != nil {
		resp.Header.Set(attemptsHeader, strconv.Itoa(attempts))
	}
	return resp, err
}

// decide says whether an attempt's outcome is worth retrying, after how
// long, and why.
func (t *transport) decide(ctx context.Context, resp *http.Response, err error, attempt int) (bool, time.Duration, string) {
	backoff := t.backoff(attempt)
	if err != nil {
		if ctx.Err() != nil {
			return false, 0, ""
		}
		return true, backoff, err.Error()
	}
	code := resp.StatusCode
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return false, 0, ""
	case resp.Header.Get("Stripe-Should-Retry") == "false":
		return false, 0, ""
	case code == http.StatusTooManyRequests || code >= 500 || resp.Header.Get("Stripe-Should-Retry") == "true":
		delay := backoff
		if ra, ok := retryAfter(resp.Header.Get("Retry-After")); ok && ra > delay {
			delay = ra
		}
		return true, delay, resp.Status
	}
	return false, 0, ""
}

// backoff is the wait before retry number attempt: base·2^(attempt-1),
// capped at maxDelay, with "equal jitter" (half fixed, half random).
func (t *transport) backoff(attempt int) time.Duration {
	d := t.base
	for i := 1; i < attempt && d < t.maxDelay; i++ {
		d *= 2
	}
	d = min(d, t.maxDelay)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, 24*3600)) * time.Second, true
	}
	if at, err := http.ParseTime(h); err == nil {
		return max(time.Until(at), 0), true
	}
	return 0, false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
