package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxBody bounds one response body read by a Transport.
const DefaultMaxBody = 64 << 20

// gaveUpHeader is set on a response a Transport hands back after its
// retries ran out; GaveUp reads it.
const gaveUpHeader = "X-Refrecon-Retry"

// Transport is an http.RoundTripper that applies a Policy to each request
// that is safe to send again: a transport error, a body cut short, and an
// answer of class ErrTransient (408, 429, 5xx) are retried; the server's
// Retry-After (seconds or an HTTP date) lengthens the one wait it answers.
// Every other answer is handed back at once, as is the last answer when
// the retries run out (then GaveUp says so), for the client above to read
// the service's own error. The body of every answer is read here, in full
// and bounded by MaxBody, so that a connection that breaks mid-body is
// retried like a reset.
type Transport struct {
	// Attempt sends one attempt; its Timeout bounds the attempt, body
	// included. nil is a client with a 60 s timeout.
	Attempt *http.Client
	Policy  Policy
	// Before, when set, is called before every attempt (a rate limiter's
	// Wait); its error ends the request.
	Before func(ctx context.Context) error
	// Repeatable says whether a request may be sent more than once; nil
	// means GET, HEAD and requests with an Idempotency-Key header.
	Repeatable func(*http.Request) bool
	// Decide, when set, classifies an answer before its status does: ok
	// false leaves it to the status (Stripe's Stripe-Should-Retry header).
	Decide func(*http.Response) (retry, ok bool)
	// Notify, when set, is told of each attempt that will be retried.
	Notify func(req *http.Request, err error, attempt int, wait time.Duration)
	// MaxBody bounds one response body; 0 is DefaultMaxBody.
	MaxBody int64
}

var defaultAttempt = &http.Client{Timeout: 60 * time.Second}

// statusError is an answer worth another attempt.
type statusError struct{ status string }

func (e *statusError) Error() string { return "HTTP " + e.status }

// RoundTrip sends req under the policy.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	p := t.Policy
	if !t.repeatable(req) || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
		p.MaxAttempts = 1
	}
	if t.Notify != nil {
		p.Notify = func(err error, attempt int, wait time.Duration) { t.Notify(req, err, attempt, wait) }
	}
	first := true
	resp, err := Do(ctx, p, func(ctx context.Context) (*http.Response, error) {
		if t.Before != nil {
			if err := t.Before(ctx); err != nil {
				return nil, err
			}
		}
		r := req.Clone(ctx)
		if !first && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		first = false
		return t.attempt(r)
	})
	var se *statusError
	if resp != nil && errors.As(err, &se) {
		var g *GiveUpError
		if errors.As(err, &g) {
			resp.Header.Set(gaveUpHeader, g.summary())
		}
		return resp, nil
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (t *Transport) repeatable(req *http.Request) bool {
	if t.Repeatable != nil {
		return t.Repeatable(req)
	}
	return req.Method == http.MethodGet || req.Method == http.MethodHead || req.Header.Get("Idempotency-Key") != ""
}

// attempt sends one attempt and reads its body.
func (t *Transport) attempt(req *http.Request) (*http.Response, error) {
	c := t.Attempt
	if c == nil {
		c = defaultAttempt
	}
	resp, err := c.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the client above adds method and URL again
		}
		if req.Context().Err() != nil {
			return nil, err
		}
		return nil, Transient(err, 0)
	}
	if err := t.readBody(resp); err != nil {
		return nil, err
	}
	retry := StatusClass(resp.StatusCode) == ErrTransient
	if t.Decide != nil {
		if r, ok := t.Decide(resp); ok {
			retry = r
		}
	}
	if retry {
		return resp, Transient(&statusError{status: resp.Status}, RetryAfter(resp.Header))
	}
	return resp, nil
}

// readBody replaces resp.Body with its content, read in full. A read that
// breaks is transient; a body over the limit is not.
func (t *Transport) readBody(resp *http.Response) error {
	limit := t.MaxBody
	if limit == 0 {
		limit = DefaultMaxBody
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return Transient(fmt.Errorf("reading the response body (HTTP %d): %w", resp.StatusCode, err), 0)
	}
	if int64(len(b)) > limit {
		return fmt.Errorf("response body over %d bytes (HTTP %d)", limit, resp.StatusCode)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return nil
}

// GaveUp returns, from the header of an answer a Transport handed back
// because its retries ran out, how many attempts were made and why no
// further one was ("giving up after 7 attempts"); "" for any other answer.
func GaveUp(h http.Header) string { return h.Get(gaveUpHeader) }

// RetryAfter reads the Retry-After header of an answer: delay-seconds or
// an HTTP date; 0 when absent, unreadable or in the past. Give it to
// Transient.
func RetryAfter(header http.Header) time.Duration {
	h := strings.TrimSpace(header.Get("Retry-After"))
	if h == "" {
		return 0
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		return time.Duration(min(max(n, 0), 1<<31)) * time.Second
	}
	if at, err := http.ParseTime(h); err == nil {
		return max(time.Until(at), 0)
	}
	return 0
}
