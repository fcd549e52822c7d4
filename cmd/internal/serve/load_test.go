package serve_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refrecon/refrecon/cmd/internal/serve"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	"github.com/refrecon/refrecon/sinks/public/publictest"
)

// publishedStore publishes a snapshot of n referrers (one pie-split cycle,
// 100 records per leaderboard page) into a temporary directory and returns
// the store and the URL paths of its leaderboard pages and referrer files.
func publishedStore(tb testing.TB, n int) (store *localdir.Dir, pages, referrers []string) {
	tb.Helper()
	const id = "20260415T000000Z-0123456789ab"
	dir := filepath.Join(tb.TempDir(), "public")
	store = localdir.Open(dir)
	info, res := publictest.Result(id, n)
	if err := public.New(store, 100).Publish(context.Background(), info, res); err != nil {
		tb.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "snapshots", id, "cycles", "cycle-1", "leaderboard"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		pages = append(pages, "/snapshots/"+id+"/cycles/cycle-1/leaderboard/"+e.Name())
	}
	for _, u := range res.Referrers {
		referrers = append(referrers, "/snapshots/"+id+"/referrers/"+public.RefcodeFileName(u.Refcode)+".json")
	}
	slices.Sort(pages)
	return store, pages, referrers
}

// BenchmarkLeaderboardPage: one request for a 100-entry leaderboard page
// (29 KB) through the handler, without the network: from the document
// cache, and without it (a read of the file from the OS page cache, its
// sha256, and gzip where asked). Figures in docs/performance.md.
func BenchmarkLeaderboardPage(b *testing.B) {
	store, pages, _ := publishedStore(b, 2_000)
	h := serve.Handler(store, serve.Options{})
	probe := httptest.NewRecorder()
	h.ServeHTTP(probe, httptest.NewRequest("GET", pages[0], nil))
	etag := probe.Header().Get("ETag")
	uncached := serve.Handler(store, serve.Options{CacheBytes: -1})
	for _, c := range []struct {
		name string
		h    http.Handler
		hdr  map[string]string
	}{
		{"identity", h, nil},
		{"gzip", h, map[string]string{"Accept-Encoding": "gzip"}},
		{"not-modified", h, map[string]string{"If-None-Match": etag}},
		// Without the document cache: every request reads the file,
		// hashes it and (gzip) compresses it.
		{"uncached-identity", uncached, nil},
		{"uncached-gzip", uncached, map[string]string{"Accept-Encoding": "gzip"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", pages[0], nil)
			for k, v := range c.hdr {
				req.Header.Set(k, v)
			}
			b.SetBytes(int64(probe.Body.Len()))
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				c.h.ServeHTTP(rec, req)
				if rec.Code != 200 && rec.Code != 304 {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// TestBoundedLoad: 16 concurrent clients against a real listener on
// 127.0.0.1 for at most 2 s or 20,000 requests, whichever comes first,
// asking for random leaderboard pages, referrer files and latest.json, half
// of them with gzip and some conditional. Every response must be complete
// and correct (bytes equal to the store's, 304 only for a matching ETag);
// the throughput is logged, never asserted.
func TestBoundedLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: skipped with -short")
	}
	const (
		clients     = 16
		maxRequests = 20_000
		maxDuration = 2 * time.Second
	)
	store, pages, referrers := publishedStore(t, 2_000)
	paths := append(append([]string{"/latest.json"}, pages...), referrers...)
	want := map[string][]byte{}
	for _, p := range paths {
		key := p[1:]
		var b []byte
		var err error
		if p == "/latest.json" {
			b, _, err = store.ReadLatest(context.Background())
		} else {
			b, err = store.ReadObject(context.Background(), key)
		}
		if err != nil {
			t.Fatal(err)
		}
		want[p] = b
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve.Serve(ctx, ln, serve.Handler(store, serve.Options{})) }()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}, Timeout: 10 * time.Second}

	var issued, ok, notModified atomic.Int64
	var mu sync.Mutex
	var failures []string
	var latencies []time.Duration
	deadline := time.Now().Add(maxDuration)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			etags := map[string]string{}
			var local []time.Duration
			fail := func(format string, args ...any) {
				mu.Lock()
				failures = append(failures, fmt.Sprintf(format, args...))
				mu.Unlock()
			}
			for time.Now().Before(deadline) && issued.Add(1) <= maxRequests {
				var p string
				switch r := rng.IntN(10); {
				case r == 0:
					p = "/latest.json"
				case r < 5:
					p = pages[rng.IntN(len(pages))]
				default:
					p = referrers[rng.IntN(len(referrers))]
				}
				req, _ := http.NewRequest("GET", base+p, nil)
				gz := rng.IntN(2) == 0
				if gz {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				key := fmt.Sprint(gz, p)
				if tag, seen := etags[key]; seen && rng.IntN(4) == 0 {
					req.Header.Set("If-None-Match", tag)
				}
				start := time.Now()
				res, err := client.Do(req)
				if err != nil {
					fail("%s: %v", p, err)
					continue
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				local = append(local, time.Since(start))
				switch {
				case err != nil:
					fail("%s: reading the body: %v", p, err)
				case res.StatusCode == http.StatusNotModified:
					if req.Header.Get("If-None-Match") != res.Header.Get("ETag") {
						fail("%s: 304 for ETag %q, asked %q", p, res.Header.Get("ETag"), req.Header.Get("If-None-Match"))
					}
					notModified.Add(1)
				case res.StatusCode != http.StatusOK:
					fail("%s: status %d", p, res.StatusCode)
				default:
					if gz {
						zr, err := gzip.NewReader(bytes.NewReader(body))
						if err == nil {
							body, err = io.ReadAll(zr)
						}
						if err != nil {
							fail("%s: gzip: %v", p, err)
							continue
						}
					}
					if !bytes.Equal(body, want[p]) {
						fail("%s: body differs from the store's (%d bytes, want %d)", p, len(body), len(want[p]))
					}
					etags[key] = res.Header.Get("ETag")
					ok.Add(1)
				}
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	began := time.Now()
	wg.Wait()
	elapsed := time.Since(began)
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more failures", len(failures)-10)
			break
		}
		t.Error(f)
	}
	done := ok.Load() + notModified.Load()
	if done == 0 {
		t.Fatal("no request completed")
	}
	slices.Sort(latencies)
	pct := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
	t.Logf("%d clients, %d requests (%d 200, %d 304) in %v: %.0f requests/s; latency p50 %v, p99 %v, max %v",
		clients, done, ok.Load(), notModified.Load(), elapsed.Round(time.Millisecond), float64(done)/elapsed.Seconds(),
		pct(0.5), pct(0.99), latencies[len(latencies)-1])
}
