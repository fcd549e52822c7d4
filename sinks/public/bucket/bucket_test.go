package bucket_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/bucket"
	"github.com/refrecon/refrecon/sinks/public/bucket/s3fake"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	"github.com/refrecon/refrecon/sinks/public/publictest"
	"github.com/refrecon/refrecon/sources/retry"
)

var ctx = context.Background()

// fastRetry retries without waiting.
var fastRetry = retry.Policy{MaxAttempts: 4, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}

func opts() bucket.Options {
	return bucket.Options{Concurrency: 8, Retry: fastRetry, LockPoll: time.Millisecond, Copy: true}
}

func memStore(t *testing.T) *bucket.Store {
	s := bucket.New(memblob.OpenBucket(nil), "mem://test", opts())
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t testing.TB, url string) *bucket.Store {
	t.Helper()
	s, err := bucket.Open(ctx, url, opts())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformanceMemblob(t *testing.T) {
	publictest.RunStorageTests(t, func(t *testing.T) public.Storage { return memStore(t) }, publictest.Options{ConditionalLatest: true})
}

func TestConformanceFileblob(t *testing.T) {
	publictest.RunStorageTests(t, func(t *testing.T) public.Storage {
		return open(t, "file://"+filepath.Join(t.TempDir(), "pub"))
	}, publictest.Options{ConditionalLatest: true})
}

func TestConformanceS3(t *testing.T) {
	srv := s3fake.Start(t, "pub")
	n := 0
	publictest.RunStorageTests(t, func(t *testing.T) public.Storage {
		n++
		return open(t, srv.URL("pub", "run"+strings.Repeat("x", n)))
	}, publictest.Options{ConditionalLatest: true})
}

// checkHeaders checks the Content-Type and Cache-Control of every object.
func checkHeaders(t *testing.T, b *blob.Bucket, latestCC string) int {
	t.Helper()
	it := b.List(nil)
	n := 0
	for {
		o, err := it.Next(ctx)
		if err != nil {
			break
		}
		a, err := b.Attributes(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		want := bucket.SnapshotCacheControl
		switch {
		case o.Key == public.LatestName:
			want = latestCC
		case !strings.HasPrefix(o.Key, "snapshots/"):
			continue
		}
		if a.ContentType != "application/json" || a.CacheControl != want {
			t.Errorf("%s: Content-Type %q, Cache-Control %q; want application/json, %q", o.Key, a.ContentType, a.CacheControl, want)
		}
		n++
	}
	return n
}

// The same snapshot published to a bucket and to a directory has the same
// keys and bytes, and the SPEC's headers on every object.
func TestPublishMatchesDirectory(t *testing.T) {
	srv := s3fake.Start(t, "pub")
	startGCS(t, "gpub")
	for name, store := range map[string]*bucket.Store{
		"memblob": memStore(t),
		"s3":      open(t, srv.URL("pub", "site/public")),
		"gcs":     open(t, "gs://gpub/site/public"),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			info, res := publictest.Result("20260415T000000Z-aaaaaaaaaaaa", 40)
			next, res2 := publictest.Result("20260416T000000Z-bbbbbbbbbbbb", 40)
			res2.Cycles[0].Leaderboard[3].Referrals++
			for _, st := range []public.Storage{localdir.Open(dir), store} {
				if err := public.New(st, 25).Publish(ctx, info, res); err != nil {
					t.Fatal(err)
				}
				p, err := public.New(st, 25).Prepare(ctx, next, res2)
				if err != nil {
					t.Fatal(err)
				}
				if st == public.Storage(store) && p.Stats().Linked == 0 {
					t.Error("the second snapshot copied nothing server-side")
				}
				if err := p.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
			want := publictest.DirTree(t, dir)
			delete(want, localdir.LockFile)
			got := map[string][]byte{}
			it := store.Bucket().List(nil)
			for {
				o, err := it.Next(ctx)
				if err != nil {
					break
				}
				b, err := store.Bucket().ReadAll(ctx, o.Key)
				if err != nil {
					t.Fatal(err)
				}
				got[o.Key] = b
			}
			if !reflect.DeepEqual(got, want) {
				for k := range want {
					if !bytes.Equal(got[k], want[k]) {
						t.Errorf("%s differs or is missing", k)
					}
				}
				for k := range got {
					if _, ok := want[k]; !ok {
						t.Errorf("%s only in the bucket", k)
					}
				}
			}
			if n := checkHeaders(t, store.Bucket(), bucket.DefaultLatestCacheControl); n != len(want) {
				t.Errorf("checked %d objects, want %d", n, len(want))
			}
		})
	}
}

// A fault in the middle of the upload (a 5xx or reset every time, or a
// slow store past the deadline) fails the publish and leaves latest.json
// as it was; one transient fault is retried and the publish succeeds.
func TestFaultsLeaveLatest(t *testing.T) {
	srv := s3fake.Start(t, "pub")
	url := srv.URL("pub", "faults")
	st := open(t, url)
	info, res := publictest.Result("20260415T000000Z-aaaaaaaaaaaa", 60)
	if err := public.New(st, 25).Publish(ctx, info, res); err != nil {
		t.Fatal(err)
	}
	before, _, err := st.ReadLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next, res2 := publictest.Result("20260416T000000Z-bbbbbbbbbbbb", 60)
	res2.Cycles[0].Leaderboard[0].Referrals++ // every file changes its bytes? no: referrer ref0000 and page 1
	for i := range res2.Cycles[0].Leaderboard {
		res2.Cycles[0].Leaderboard[i].Conversions++ // every referrer file and page changes: uploads, not copies
	}
	afterPuts := func(n int64, f s3fake.Fault) func(r *http.Request) s3fake.Fault {
		var puts atomic.Int64
		return func(r *http.Request) s3fake.Fault {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/snapshots/") && puts.Add(1) > n {
				return f
			}
			return s3fake.Fault{}
		}
	}
	for name, tc := range map[string]struct {
		fault    s3fake.Fault
		deadline time.Duration
	}{
		"5xx":   {fault: s3fake.Fault{Status: 503}},
		"reset": {fault: s3fake.Fault{Reset: true}},
		"slow":  {fault: s3fake.Fault{Delay: 10 * time.Second}, deadline: 2 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			srv.SetFault(afterPuts(10, tc.fault))
			defer srv.SetFault(nil)
			c := ctx
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				c, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			if err := public.New(st, 25).Publish(c, next, res2); err == nil {
				t.Fatal("Publish succeeded under faults")
			}
			srv.SetFault(nil)
			after, _, err := st.ReadLatest(ctx)
			if err != nil || !bytes.Equal(after, before) {
				t.Errorf("latest.json after a failed publish = %q, %v; want %q", after, err, before)
			}
			// What the failed publish uploaded was removed again.
			if objs, _ := public.NewReader(st).Snapshots(ctx); len(objs) != 1 {
				t.Errorf("snapshots after a failed publish: %v", objs)
			}
		})
	}
	// One 503 on an upload is retried.
	var once atomic.Bool
	srv.SetFault(func(r *http.Request) s3fake.Fault {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/snapshots/") && once.CompareAndSwap(false, true) {
			return s3fake.Fault{Status: 503}
		}
		return s3fake.Fault{}
	})
	defer srv.SetFault(nil)
	if err := public.New(st, 25).Publish(ctx, next, res2); err != nil {
		t.Fatalf("Publish with one transient fault: %v", err)
	}
	if id, _ := public.NewReader(st).Latest(ctx); id != next.SnapshotID {
		t.Errorf("latest = %s, want %s", id, next.SnapshotID)
	}
}

// An object under snapshots/ is never overwritten with other bytes.
func TestNeverOverwrites(t *testing.T) {
	st := memStore(t)
	info, res := publictest.Result("20260415T000000Z-aaaaaaaaaaaa", 5)
	if err := public.New(st, 25).Publish(ctx, info, res); err != nil {
		t.Fatal(err)
	}
	// The same snapshot again (a re-run): identical objects are kept.
	if err := public.New(st, 25).Publish(ctx, info, res); err != nil {
		t.Fatalf("publishing the same snapshot again: %v", err)
	}
	// Other bytes under the same id: refused, latest.json unchanged.
	res.Cycles[0].Leaderboard[0].Referrals++
	err := public.New(st, 25).Publish(ctx, info, res)
	if err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Fatalf("Publish over other bytes: %v", err)
	}
	if id, _ := public.NewReader(st).Latest(ctx); id != info.SnapshotID {
		t.Errorf("latest = %q", id)
	}
}

// A lock whose holder died (expired) is taken over; a live one is not.
func TestLockExpiry(t *testing.T) {
	st := memStore(t)
	if _, err := st.Lock(ctx, public.LockRequest{RunID: "dead", TTL: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // expiries are whole seconds
	unlock, err := st.Lock(ctx, public.LockRequest{RunID: "next", TTL: time.Hour})
	if err != nil {
		t.Fatalf("Lock over an expired lock: %v", err)
	}
	_, err = st.Lock(ctx, public.LockRequest{RunID: "third", TTL: time.Hour})
	var le *public.LockedError
	if !errors.As(err, &le) || le.Holder.RunID != "next" || le.Holder.Expires.IsZero() {
		t.Fatalf("Lock over a live lock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	srv := s3fake.Start(t, "pub")
	for _, u := range []string{
		"ftp://x/y",
		strings.Replace(srv.URL("missing-bucket", "p"), "", "", 1),
		"s3://pub/p?region=us-east-1&endpoint=http://127.0.0.1:1&use_path_style=true",
		"s3://pub/p?no_such_param=1",
	} {
		if _, err := bucket.Open(ctx, u, bucket.Options{Retry: retry.Policy{MaxAttempts: 1}}); err == nil {
			t.Errorf("Open(%s) succeeded", u)
		} else if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), os.Getenv("AWS_SECRET_ACCESS_KEY")) {
			t.Errorf("Open(%s) error shows a credential: %v", u, err)
		}
	}
}
