// Package cycleurl loads a custom cycle set (SPEC 1.3) from the URL in
// CUSTOM_REFERRAL_PROGRAM_CYCLES: an absolute http://, https:// or file://
// URL of a JSON document.
//
// A load is one attempt, bounded by a timeout (10 s by default) that covers
// connecting, the response headers and reading the body. A non-2xx status, a
// connection error, a timeout, a body larger than pipeline.MaxCycleSetSize or
// a document that pipeline.DecodeCycleSet rejects is an error; nothing is
// retried, because a wrong cycle set must stop the run before it reads any
// input.
//
// Errors name the URL through redact.URL: without credentials, query string or
// fragment, which may carry secrets (signed URLs, tokens). Credentials in an
// http(s) URL are still sent, as HTTP basic authentication.
package cycleurl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sources/internal/inputfile"
	"github.com/refrecon/refrecon/sources/redact"
)

// DefaultTimeout bounds one load (SPEC 1.3).
const DefaultTimeout = 10 * time.Second

// Loader loads cycle sets. The zero value is ready to use and is what Load
// uses; tests set the fields.
type Loader struct {
	// HTTPClient fetches http(s) URLs. Nil means a client with the default
	// transport (which honours HTTPS_PROXY) and no timeout of its own.
	HTTPClient *http.Client
	// Timeout bounds the whole load; zero means DefaultTimeout.
	Timeout time.Duration
	// MaxSize is the largest document accepted, in bytes; zero means
	// pipeline.MaxCycleSetSize.
	MaxSize int64
}

// Load fetches and validates the cycle set at rawURL with a zero Loader.
func Load(ctx context.Context, rawURL string) (pipeline.CycleSet, error) {
	var l Loader
	return l.Load(ctx, rawURL)
}

// Load fetches the document at rawURL and decodes it with
// pipeline.DecodeCycleSet. Every error starts with "load cycle set from
// <redacted URL>: "; an invalid document's error wraps the
// *pipeline.CycleSetError that lists its problems.
func (l *Loader) Load(ctx context.Context, rawURL string) (pipeline.CycleSet, error) {
	data, err := l.fetch(ctx, rawURL)
	if err == nil {
		var set pipeline.CycleSet
		if set, err = pipeline.DecodeCycleSet(data); err == nil {
			return set, nil
		}
		err = fmt.Errorf("invalid cycle set:\n%w", err)
	}
	return pipeline.CycleSet{}, fmt.Errorf("load cycle set from %s: %w", redact.URL(rawURL), err)
}

func (l *Loader) fetch(ctx context.Context, rawURL string) ([]byte, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var data []byte
	if u.Scheme == "file" {
		data, err = l.readFile(ctx, u)
	} else {
		data, err = l.get(ctx, u)
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("timed out after %v", timeout)
	}
	return data, err
}

var errNotAbsolute = errors.New("not an absolute http://, https:// or file:// URL")

func parseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// The parse error quotes the URL, credentials included: leave it out.
		return nil, errNotAbsolute
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" || u.Opaque != "" {
			return nil, errNotAbsolute
		}
	case "file":
		if u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
			return nil, errNotAbsolute
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("file URL names host %q; only local files (file:///path) can be read", u.Host)
		}
	default:
		return nil, errNotAbsolute
	}
	return u, nil
}

func (l *Loader) get(ctx context.Context, u *url.URL) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, errNotAbsolute
	}
	req.Header.Set("Accept", "application/json")
	client := l.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the URL with its query string: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			if ue.Timeout() {
				return nil, errors.New("timed out")
			}
			err = ue.Err
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	if resp.ContentLength > l.maxSize() {
		return nil, l.tooLarge()
	}
	return l.readAll(resp.Body)
}

func (l *Loader) readFile(ctx context.Context, u *url.URL) ([]byte, error) {
	// Checked before it is opened: a named pipe or a device never blocks
	// or floods the load (package inputfile).
	data, err := inputfile.ReadAll(ctx, u.Path, l.maxSize())
	if errors.Is(err, inputfile.ErrTooLarge) {
		return nil, l.tooLarge()
	}
	if err != nil {
		return nil, err // names the path
	}
	return data, nil
}

func (l *Loader) readAll(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, l.maxSize()+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if int64(len(data)) > l.maxSize() {
		return nil, l.tooLarge()
	}
	return data, nil
}

func (l *Loader) maxSize() int64 {
	if l.MaxSize > 0 {
		return l.MaxSize
	}
	return pipeline.MaxCycleSetSize
}

func (l *Loader) tooLarge() error {
	return fmt.Errorf("document is larger than the limit of %d bytes", l.maxSize())
}
