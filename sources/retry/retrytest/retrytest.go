// Package retrytest holds test helpers for clients that retry
// (sources/retry) and the fakes of the services they talk to: the network
// faults a fake injects (a connection dropped without an answer, an answer
// cut in half) and a recorder of the waits a retry.Policy asks for.
package retrytest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Close says how a fault ends a connection.
type Close int

const (
	// FIN closes the connection in order: the client reads an EOF.
	FIN Close = iota
	// RST resets it (SO_LINGER 0): the client reads "connection reset".
	RST
)

// Drop ends the connection under w without (more of) an answer.
func Drop(w http.ResponseWriter, how Close) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if how == RST {
		if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
			_ = tc.SetLinger(0)
		}
	}
	conn.Close()
}

// CutInHalf answers r with what serve would answer (status, headers and
// the Content-Length of the whole body), sends only the first half of the
// body, then ends the connection: the client reads an unexpected EOF (or a
// reset) while reading the body. Whatever serve did, it did.
func CutInHalf(w http.ResponseWriter, r *http.Request, serve http.HandlerFunc, how Close) {
	rec := httptest.NewRecorder()
	serve(rec, r)
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body[:len(body)/2])
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	Drop(w, how)
}

// Waits records the waits a retry.Policy asks for, without waiting: set
// Policy.Sleep to its Sleep.
type Waits struct {
	mu sync.Mutex
	d  []time.Duration
}

// Sleep records d and returns at once (with ctx's error, if any).
func (w *Waits) Sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

// All returns the waits recorded so far.
func (w *Waits) All() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}
