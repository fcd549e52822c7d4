package bucket_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/bucket"
	"github.com/refrecon/refrecon/sinks/public/bucket/s3fake"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	"github.com/refrecon/refrecon/sinks/public/publictest"
)

// benchReferrers is the referrer count of the 100k-referral dataset
// (refrecon generate: one user per five referrals).
const benchReferrers = 20_000

// BenchmarkPublish publishes a snapshot of benchReferrers referrers (cold:
// into an empty store) and then the next night's (one referrer changed:
// every other object reused), and reports objects/s of each, to the S3
// fake (the real s3blob client over HTTP on 127.0.0.1; uploading every
// object, or copying unchanged ones server-side), to fileblob, and to the
// local-directory driver.
func BenchmarkPublish(b *testing.B) {
	for _, tc := range []struct {
		name  string
		store func(b *testing.B) public.Storage
	}{
		{"s3fake-put", func(b *testing.B) public.Storage {
			srv := s3fake.Start(b, "bench")
			o := opts()
			o.Copy = false
			st, err := bucket.Open(ctx, srv.URL("bench", fmt.Sprint(time.Now().UnixNano())), o)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			return st
		}},
		{"s3fake-copy", func(b *testing.B) public.Storage {
			srv := s3fake.Start(b, "bench")
			return open(b, srv.URL("bench", fmt.Sprint(time.Now().UnixNano())))
		}},
		{"fileblob", func(b *testing.B) public.Storage { return open(b, "file://"+filepath.Join(b.TempDir(), "pub")) }},
		{"localdir", func(b *testing.B) public.Storage { return localdir.Open(filepath.Join(b.TempDir(), "pub")) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			info, res := publictest.Result("20260415T000000Z-aaaaaaaaaaaa", benchReferrers)
			next, res2 := publictest.Result("20260416T000000Z-bbbbbbbbbbbb", benchReferrers)
			res2.Cycles[0].Leaderboard[7].Referrals++
			var cold, night time.Duration
			var objects int
			for b.Loop() {
				st := tc.store(b)
				t0 := time.Now()
				p, err := public.New(st, 25).Prepare(ctx, info, res)
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := public.New(st, 25).Publish(ctx, next, res2); err != nil {
					b.Fatal(err)
				}
				cold += t1.Sub(t0)
				night += time.Since(t1)
				objects = p.Stats().Files
			}
			n := float64(b.N)
			b.ReportMetric(float64(objects)*n/cold.Seconds(), "cold-objects/s")
			b.ReportMetric(float64(objects)*n/night.Seconds(), "night-objects/s")
		})
	}
}
