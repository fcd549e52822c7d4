package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refrecon/refrecon/sources/retry"
	"github.com/refrecon/refrecon/sources/retry/retrytest"
)

var errFlaky = errors.New("flaky")

// do runs attempt under retry.Do with the default policy, the waits
// recorded instead of slept; attempt gets its number, from 1. It returns
// Do's value, the number of attempts, the waits and Do's error.
func do[T any](t *testing.T, attempt func(n int) (T, error)) (T, int, []time.Duration, error) {
	var w retrytest.Waits
	n := 0
	got, err := retry.Do(t.Context(), retry.Policy{Sleep: w.Sleep}, func(context.Context) (T, error) {
		n++
		return attempt(n)
	})
	return got, n, w.All(), err
}

func TestDoRetriesTransientUntilSuccess(t *testing.T) {
	got, n, waits, err := do(t, func(n int) (int, error) {
		if n < 4 {
			return 0, retry.Transient(errFlaky, 0)
		}
		return 42, nil
	})
	if err != nil || got != 42 || n != 4 || len(waits) != 3 {
		t.Fatalf("got %d, %v after %d calls and waits %v; want 42 after 4 calls, 3 waits", got, err, n, waits)
	}
	// Intervals 0.5 s, 1 s, 2 s, each wait within [0.5, 1.5] of its interval.
	for i, d := range waits {
		iv := retry.DefaultInitial << i
		if d < iv/2 || d > iv*3/2 {
			t.Errorf("wait %d = %v, want within [%v, %v]", i+1, d, iv/2, iv*3/2)
		}
	}
}

func TestDoStopsAtOnceOnOtherClasses(t *testing.T) {
	for _, class := range []error{retry.ErrRefused, retry.ErrNotFound, retry.ErrBadInput, nil} {
		base := errors.New("no")
		_, n, waits, err := do(t, func(int) (struct{}, error) {
			if class == nil {
				return struct{}{}, base
			}
			return struct{}{}, retry.Mark(base, class)
		})
		if n != 1 || len(waits) != 0 || !errors.Is(err, base) || err.Error() != "no" {
			t.Errorf("class %v: %d calls, waits %v, err %v; want one call, the error as is", class, n, waits, err)
		}
		if class != nil && (!errors.Is(err, class) || retry.ClassOf(err) != class) {
			t.Errorf("class %v: err %v lost its class", class, err)
		}
	}
}

func TestDoGivesUpAfterMaxAttempts(t *testing.T) {
	_, n, _, err := do(t, func(n int) (int, error) {
		return n, retry.Transient(errFlaky, 0)
	})
	var g *retry.GiveUpError
	if n != retry.DefaultMaxAttempts || !errors.As(err, &g) || g.Attempts != n || !errors.Is(err, retry.ErrTransient) || !errors.Is(err, errFlaky) {
		t.Fatalf("%d calls, err %v; want %d calls and a transient GiveUpError", n, err, retry.DefaultMaxAttempts)
	}
	if want := fmt.Sprintf("giving up after %d attempts: flaky", n); err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestDoRetryAfterLengthensOneWait(t *testing.T) {
	_, _, waits, err := do(t, func(n int) (int, error) {
		switch n {
		case 1:
			return 0, retry.Transient(errFlaky, 7*time.Second)
		case 2:
			return 0, retry.Transient(errFlaky, time.Millisecond) // shorter than the backoff
		}
		return 0, nil
	})
	if err != nil || len(waits) != 2 {
		t.Fatalf("err %v, waits %v", err, waits)
	}
	if waits[0] != 7*time.Second {
		t.Errorf("first wait %v, want Retry-After's 7s", waits[0])
	}
	if waits[1] < retry.DefaultInitial { // the second interval is 1 s: at least 0.5 s
		t.Errorf("second wait %v, want the backoff (a Retry-After shorter than it does not shorten it)", waits[1])
	}
}

func TestDoBudgetStopsBeforeTheWait(t *testing.T) {
	_, n, waits, err := do(t, func(int) (int, error) {
		return 0, retry.Transient(errFlaky, time.Hour)
	})
	if n != 1 || len(waits) != 0 || err == nil || !strings.Contains(err.Error(), "giving up after 1 attempt (waiting 1h0m0s more would pass the retry budget of 2m0s)") {
		t.Fatalf("%d calls, waits %v, err %v", n, waits, err)
	}
}

func TestDoCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	_, err := retry.Do(ctx, retry.Policy{}, func(context.Context) (int, error) {
		n++
		cancel()
		return 0, retry.Transient(errFlaky, 0)
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("%d calls, err %v; want one call and context.Canceled", n, err)
	}
	// A cancel during the (real) wait ends it at once.
	ctx, cancel = context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := retry.Do(ctx, retry.Policy{Initial: time.Hour, Budget: 10 * time.Hour}, func(context.Context) (int, error) {
			return 0, retry.Transient(errFlaky, 0)
		})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]error{200: nil, 304: nil, 400: retry.ErrBadInput, 401: retry.ErrRefused, 403: retry.ErrRefused,
		404: retry.ErrNotFound, 408: retry.ErrTransient, 409: retry.ErrBadInput, 429: retry.ErrTransient, 500: retry.ErrTransient, 503: retry.ErrTransient} {
		if got := retry.StatusClass(code); got != want {
			t.Errorf("StatusClass(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := (retry.Policy{}).Validate(); err != nil {
		t.Error(err)
	}
	if err := (retry.Policy{Budget: -1}).Validate(); err == nil {
		t.Error("a negative budget is valid")
	}
}

// server answers with the statuses of answers in turn, then 200 "ok".
func server(t *testing.T, answers ...func(w http.ResponseWriter)) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i < len(answers) {
			answers[i](w)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func status(code int, retryAfter string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "error body")
	}
}

func client(w *retrytest.Waits, mod func(*retry.Transport)) *http.Client {
	t := &retry.Transport{Policy: retry.Policy{Sleep: w.Sleep}}
	if mod != nil {
		mod(t)
	}
	return &http.Client{Transport: t}
}

func TestTransportRetriesAndHonoursRetryAfter(t *testing.T) {
	srv, n := server(t, status(429, "3"), status(503, ""), status(502, ""))
	var w retrytest.Waits
	resp, err := client(&w, nil).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok" || n.Load() != 4 || len(w.All()) != 3 {
		t.Fatalf("HTTP %d %q after %d requests, waits %v", resp.StatusCode, body, n.Load(), w.All())
	}
	if w.All()[0] != 3*time.Second {
		t.Errorf("first wait %v, want Retry-After's 3s", w.All()[0])
	}
	if g := retry.GaveUp(resp.Header); g != "" {
		t.Errorf("GaveUp = %q on a success", g)
	}
}

func TestTransportHandsBackTheLastAnswer(t *testing.T) {
	srv, n := server(t, status(500, ""), status(500, ""), status(500, ""))
	var w retrytest.Waits
	resp, err := client(&w, func(t *retry.Transport) { t.Policy.MaxAttempts = 3 }).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 || string(body) != "error body" || n.Load() != 3 {
		t.Fatalf("HTTP %d %q after %d requests", resp.StatusCode, body, n.Load())
	}
	if g := retry.GaveUp(resp.Header); g != "giving up after 3 attempts" {
		t.Errorf("GaveUp = %q", g)
	}
}

func TestTransportStopsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(http.ResponseWriter)
		mod    func(*retry.Transport)
		post   bool
	}{
		{"401", status(401, ""), nil, false},
		{"403", status(403, ""), nil, false},
		{"404", status(404, ""), nil, false},
		{"400", status(400, ""), nil, false},
		{"POST without Idempotency-Key", status(503, ""), nil, true},
		{"Decide says no", status(503, ""), func(t *retry.Transport) {
			t.Decide = func(*http.Response) (bool, bool) { return false, true }
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := server(t, tc.answer)
			var w retrytest.Waits
			c := client(&w, tc.mod)
			var resp *http.Response
			var err error
			if tc.post {
				resp, err = c.Post(srv.URL, "text/plain", strings.NewReader("x"))
			} else {
				resp, err = c.Get(srv.URL)
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if n.Load() != 1 || len(w.All()) != 0 {
				t.Errorf("%d requests, waits %v; want 1 and none", n.Load(), w.All())
			}
		})
	}
}

func TestTransportReplaysTheBodyOfARepeatableRequest(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if n.Add(1) == 1 {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	var w retrytest.Waits
	c := client(&w, func(t *retry.Transport) { t.Repeatable = func(*http.Request) bool { return true } })
	resp, err := c.Post(srv.URL, "application/json", strings.NewReader(`{"sql":"SELECT 1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 || bodies[0] != bodies[1] || bodies[1] != `{"sql":"SELECT 1"}` {
		t.Errorf("bodies sent %q, want the same body twice", bodies)
	}
}

func TestTransportRetriesABodyCutShort(t *testing.T) {
	srv, n := server(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "half")
	})
	var w retrytest.Waits
	resp, err := client(&w, nil).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "ok" || n.Load() != 2 || len(w.All()) != 1 {
		t.Fatalf("%q after %d requests, waits %v", body, n.Load(), w.All())
	}
}

func TestTransportTransportErrorGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // connection refused from now on
	var w retrytest.Waits
	_, err := client(&w, func(t *retry.Transport) { t.Policy.MaxAttempts = 3 }).Get(url)
	if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") || !errors.Is(err, retry.ErrTransient) || len(w.All()) != 2 {
		t.Fatalf("err %v, waits %v; want a transient give-up after 3 attempts", err, w.All())
	}
}

func TestRetryAfter(t *testing.T) {
	for h, want := range map[string]time.Duration{"": 0, "5": 5 * time.Second, " 5 ": 5 * time.Second, "-3": 0, "soon": 0,
		"Mon, 01 Jan 2001 00:00:00 GMT": 0, "99999999999": (1 << 31) * time.Second} {
		if got := retry.RetryAfter(http.Header{"Retry-After": {h}}); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", h, got, want)
		}
	}
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	if got := retry.RetryAfter(http.Header{"Retry-After": {future}}); got < 59*time.Minute || got > time.Hour {
		t.Errorf("RetryAfter(an hour from now) = %v", got)
	}
}
