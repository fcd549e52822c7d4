package d1

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/refrecon/refrecon/sources/retry"
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
	GaveUp string // how the retries ended (retry.GaveUp), "" when none were made
}

// Is matches the error class of the status (retry.StatusClass); an error
// envelope with a 2xx status (a failed statement) is bad input.
func (e *APIError) Is(target error) bool {
	c := retry.StatusClass(e.Status)
	if c == nil {
		c = retry.ErrBadInput
	}
	return target != nil && target == c
}

func (e *APIError) Error() string {
	var b strings.Builder
	if e.TokenRefused() {
		fmt.Fprintf(&b, "the D1 API refused the token (HTTP %d)", e.Status)
	} else {
		fmt.Fprintf(&b, "the D1 API answered HTTP %d with an error", e.Status)
	}
	if len(e.Errors) > 0 {
		ms := make([]string, len(e.Errors))
		for i, m := range e.Errors {
			ms[i] = fmt.Sprintf("code %d: %s", m.Code, m.Message)
		}
		b.WriteString(": " + strings.Join(ms, ", "))
	}
	if e.GaveUp != "" {
		b.WriteString(" (" + e.GaveUp + ")")
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

// query runs one parameterised statement and returns its result rows, with
// values as SQLite storage classes (nil, int64, float64, string, []byte).
// Retries happen below, in the client's retry.Transport.
func (s *Source) query(ctx context.Context, sql string, params ...any) ([]map[string]any, error) {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(queryBody{SQL: sql, Params: params})
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	rows, err := s.attempt(ctx, body)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return nil, ctx.Err()
	}
	return rows, err
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
		return nil, s.redact(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body) // already read, and bounded, by the retry.Transport
	if err != nil {
		return nil, fmt.Errorf("read D1 API response (HTTP %d): %w", resp.StatusCode, s.redact(err))
	}

	var env envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	decodeErr := dec.Decode(&env)
	if decodeErr == nil && dec.More() {
		decodeErr = errors.New("data after the JSON document")
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &APIError{Status: resp.StatusCode, GaveUp: retry.GaveUp(resp.Header)}
		if decodeErr == nil {
			apiErr.Errors = s.redactMessages(env.Errors)
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
