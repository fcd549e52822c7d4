package d1

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes bounds one response body; a page of 1000 referrals rows is
// well under 1 MiB.
const maxResponseBytes = 64 << 20

// Message is one entry of the errors list of a D1 API response.
type Message struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// APIError is a request the D1 API answered with an error: an HTTP error
// status or "success": false. It carries the API's own codes and messages
// (with the token, should an answer echo it, redacted).
type APIError struct {
	Status int // HTTP status
	Errors []Message
}

func (e *APIError) Error() string {
	var b strings.Builder
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		fmt.Fprintf(&b, "the D1 API refused the token (HTTP %d)", e.Status)
	} else {
		fmt.Fprintf(&b, "the D1 API answered HTTP %d with an error", e.Status)
	}
	for i, m := range e.Errors {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%scode %d: %s", sep, m.Code, m.Message)
	}
	return b.String()
}

// TokenRefused reports whether the API refused the credentials (HTTP 401 or 403).
func (e *APIError) TokenRefused() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// envelope is the D1 API's response to POST .../query.
type envelope struct {
	Success  *bool             `json:"success"`
	Errors   []Message         `json:"errors"`
	Messages []json.RawMessage `json:"messages"`
	Result   []struct {
		Results *[]map[string]any `json:"results"`
		Success *bool             `json:"success"`
		Meta    json.RawMessage   `json:"meta"`
	} `json:"result"`
}

type queryBody struct {
	SQL    string `json:"sql"`
	Params []any  `json:"params"`
}

// retryable marks a failure worth another attempt; after is the wait the
// server asked for (Retry-After), 0 when it did not say.
type retryable struct {
	err   error
	after time.Duration
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// query runs one parameterised statement and returns its result rows, with
// values as SQLite storage classes (nil, int64, float64, string, []byte).
// Rate limits (429), server errors (5xx) and transport errors are retried
// after the server's Retry-After, or else with exponential backoff and jitter, at most MaxRetries times and for at
// most RetryBudget of waiting; other failures return at once.
func (s *Source) query(ctx context.Context, sql string, params ...any) ([]map[string]any, error) {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(queryBody{SQL: sql, Params: params})
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	var waited time.Duration
	for attempt := 0; ; attempt++ {
		rows, err := s.attempt(ctx, body)
		if err == nil {
			return rows, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		var r *retryable
		if !errors.As(err, &r) {
			return nil, err
		}
		if attempt >= s.cfg.MaxRetries {
			return nil, fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1)
		}
		wait := r.after
		if wait == 0 {
			wait = s.backoff(attempt)
		}
		if waited+wait > s.cfg.RetryBudget {
			return nil, fmt.Errorf("%w (gave up after %d attempts: waiting %s more would exceed the retry budget of %s)",
				err, attempt+1, wait, s.cfg.RetryBudget)
		}
		waited += wait
		if err := s.cfg.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// backoff is the wait before retry number attempt+1: BackoffBase doubled
// per attempt, capped at MaxBackoff, with "equal jitter" (a random point in
// its upper half) so that clients do not retry in step.
func (s *Source) backoff(attempt int) time.Duration {
	d := s.cfg.BackoffBase
	for range attempt {
		d *= 2
		if d >= s.cfg.MaxBackoff {
			d = s.cfg.MaxBackoff
			break
		}
	}
	half := d / 2
	return half + rand.N(half+1)
}

func (s *Source) attempt(ctx context.Context, body []byte) ([]map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, &retryable{err: s.redact(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, &retryable{err: fmt.Errorf("read D1 API response (HTTP %d): %w", resp.StatusCode, s.redact(err))}
	}
	if len(data) > maxResponseBytes {
		return nil, fmt.Errorf("D1 API response larger than %d bytes", maxResponseBytes)
	}

	var env envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	decodeErr := dec.Decode(&env)
	if decodeErr == nil && dec.More() {
		decodeErr = errors.New("data after the JSON document")
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &APIError{Status: resp.StatusCode}
		if decodeErr == nil {
			apiErr.Errors = s.redactMessages(env.Errors)
		}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			return nil, &retryable{err: apiErr, after: retryAfter(resp.Header.Get("Retry-After"))}
		case resp.StatusCode >= 500: // a 503 may say when to come back, too
			return nil, &retryable{err: apiErr, after: retryAfter(resp.Header.Get("Retry-After"))}
		}
		return nil, apiErr
	}
	if decodeErr != nil {
		return nil, fmt.Errorf("decode D1 API response (HTTP %d): %w", resp.StatusCode, decodeErr)
	}
	if env.Success == nil {
		return nil, errors.New("malformed D1 API response: no \"success\" field")
	}
	if !*env.Success {
		return nil, &APIError{Status: resp.StatusCode, Errors: s.redactMessages(env.Errors)}
	}
	if len(env.Result) != 1 {
		return nil, fmt.Errorf("malformed D1 API response: %d results for one statement", len(env.Result))
	}
	res := env.Result[0]
	if res.Success == nil || !*res.Success {
		return nil, errors.New("malformed D1 API response: statement result without \"success\": true")
	}
	if res.Results == nil {
		return nil, errors.New("malformed D1 API response: statement result without \"results\"")
	}
	rows := *res.Results
	for i, row := range rows {
		if row == nil {
			return nil, fmt.Errorf("malformed D1 API response: result row %d is null", i)
		}
		for k, v := range row {
			sv, err := storageValue(v)
			if err != nil {
				return nil, fmt.Errorf("malformed D1 API response: result row %d, column %q: %w", i, k, err)
			}
			row[k] = sv
		}
	}
	return rows, nil
}

// storageValue converts a JSON value of a D1 result to the SQLite storage
// class it came from: numbers to int64 (when integral and in range) or
// float64, arrays of bytes (D1's rendering of a BLOB) to []byte. Booleans,
// which D1 does not send (it sends 0/1), are kept for BoolValue.
func storageValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, string, bool:
		return v, nil
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", v, err)
		}
		return f, nil
	case []any:
		b := make([]byte, len(v))
		for i, x := range v {
			n, ok := x.(json.Number)
			if !ok {
				return nil, fmt.Errorf("array element %d is not a byte", i)
			}
			c, err := strconv.ParseUint(string(n), 10, 8)
			if err != nil {
				return nil, fmt.Errorf("array element %d is not a byte: %w", i, err)
			}
			b[i] = byte(c)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("unexpected JSON value of type %T", v)
	}
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
// It returns 0 when the header is absent or unreadable (the caller then
// uses its own backoff).
func retryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > 1<<31 {
			n = 1 << 31
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// redact removes the token from an error's text. The token is only ever put
// into the Authorization header, but transport errors and API messages are
// not ours to vouch for.
func (s *Source) redact(err error) error {
	if s.cfg.Token == "" || !strings.Contains(err.Error(), s.cfg.Token) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), s.cfg.Token, "[REDACTED]"), err: err}
}

func (s *Source) redactMessages(ms []Message) []Message {
	out := make([]Message, len(ms))
	for i, m := range ms {
		out[i] = m
		if s.cfg.Token != "" {
			out[i].Message = strings.ReplaceAll(m.Message, s.cfg.Token, "[REDACTED]")
		}
	}
	return out
}

// redacted keeps the wrapped error for errors.Is (context.Canceled and
// the like) while its text no longer holds the token.
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
