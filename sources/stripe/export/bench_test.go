package export_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/refrecon/refrecon/fixtures/synth"
	"github.com/refrecon/refrecon/sources/stripe/export"
)

// The benchmark reads -benchfile when given (for example
// .bench/data/1000000-1/stripe.ndjson after make bench), else an export
// generated for -benchreferrals referrals:
//
//	go test -run '^$' -bench ReadStripe -benchmem ./sources/stripe/export -benchreferrals 100000
var (
	benchFile      = flag.String("benchfile", "", "a Stripe NDJSON export to read in the benchmarks")
	benchReferrals = flag.Int("benchreferrals", 20_000, "referrals of the generated export when -benchfile is not given")
)

func BenchmarkReadStripe(b *testing.B) {
	path := *benchFile
	if path == "" {
		dir := b.TempDir()
		if _, err := synth.Generate(context.Background(), synth.Config{Dir: dir, Referrals: *benchReferrals, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		path = filepath.Join(dir, synth.FileStripe)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	var objects int
	for b.Loop() {
		s, err := export.NewFile(path).ReadStripe(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		objects = len(s.Customers) + len(s.Subscriptions) + len(s.Invoices) + len(s.Refunds)
	}
	b.ReportMetric(float64(objects)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}
