// Package s3fake runs an S3-compatible server for tests on 127.0.0.1:
// github.com/johannesboyne/gofakes3 (in memory), wrapped so that it keeps
// what real S3 keeps and it does not: Cache-Control is stored with the
// object (as x-amz-meta-cache-control, given back as Cache-Control on GET
// and HEAD). The real s3blob client talks to it with
// request_checksum_calculation=when_required, so uploads are plain bodies
// (gofakes3 does not decode aws-sdk-go-v2's aws-chunked ones). Faults can
// be injected into requests (5xx, a reset connection, a slow answer).
package s3fake

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is a running fake.
type Server struct {
	srv *httptest.Server

	mu     sync.Mutex
	fault  func(r *http.Request) Fault
	counts map[string]int // requests by method
}

// Fault is what to do to one request.
type Fault struct {
	Status int           // answer with this status (5xx) instead of serving it
	Reset  bool          // close the connection without an answer
	Delay  time.Duration // wait this long before serving it
}

const metaCacheControl = "X-Amz-Meta-Cache-Control"

// Start starts a fake with the named buckets and sets the AWS credential
// variables for the test (any non-empty values work).
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	faker := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog()))
	s := &Server{counts: map[string]int{}}
	inner := faker.Server()
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.counts[r.Method]++
		fault := s.fault
		s.mu.Unlock()
		if fault != nil {
			f := fault(r)
			if f.Delay > 0 {
				// Read the body first: only then does net/http watch the
				// connection and cancel r.Context() when the client gives
				// up. Otherwise a request the client abandoned would still
				// be stored after the delay, into a later test's bucket.
				body, err := io.ReadAll(r.Body)
				if err != nil {
					return
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				select {
				case <-time.After(f.Delay):
				case <-r.Context().Done():
					return
				}
			}
			if f.Reset {
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						if tc, ok := c.(*net.TCPConn); ok {
							_ = tc.SetLinger(0)
						}
						c.Close()
						return
					}
				}
			}
			if f.Status != 0 {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(f.Status)
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected %d</Message></Error>`, f.Status)
				return
			}
		}
		if cc := r.Header.Get("Cache-Control"); cc != "" && r.Method == http.MethodPut {
			r.Header.Set(metaCacheControl, cc)
		}
		rw := &restoreHeaders{ResponseWriter: w}
		inner.ServeHTTP(rw, r)
		if !rw.wrote { // a HEAD answered without WriteHeader
			rw.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(func() { s.srv.CloseClientConnections(); s.srv.Close() })
	t.Setenv("AWS_ACCESS_KEY_ID", "test-access-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	return s
}

// URL is a PUBLIC_DIR URL for bucket and key prefix on this server.
func (s *Server) URL(bucket, prefix string) string {
	return fmt.Sprintf("s3://%s/%s?region=us-east-1&endpoint=%s&use_path_style=true&request_checksum_calculation=when_required&response_checksum_validation=when_required",
		bucket, strings.Trim(prefix, "/"), s.srv.URL)
}

// Endpoint is the server's base URL.
func (s *Server) Endpoint() string { return s.srv.URL }

// SetFault makes every later request go through f (nil: none).
func (s *Server) SetFault(f func(r *http.Request) Fault) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// Requests returns how many requests of method the server received.
func (s *Server) Requests(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[method]
}

// restoreHeaders gives the stored Cache-Control back under its name.
type restoreHeaders struct {
	http.ResponseWriter
	wrote bool
}

func (w *restoreHeaders) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		h := w.Header()
		if cc := h.Get(metaCacheControl); cc != "" {
			h.Set("Cache-Control", cc)
			h.Del(metaCacheControl)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *restoreHeaders) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
