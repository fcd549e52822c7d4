package pipeline

import (
	"flag"
	"testing"
)

// benchReferrals sizes the synthetic inputs of the benchmarks, for example
// go test -run '^$' -bench . -benchmem -benchreferrals 1000000 ./pipeline.
var benchReferrals = flag.Int("benchreferrals", 100_000, "referrals in the benchmarks' synthetic inputs")

func BenchmarkCompute(b *testing.B) {
	in := genInputs(42, *benchReferrals)
	set := genCycles()
	asOf := atTime("2026-06-15T00:00:00Z")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Compute(in, set, asOf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(in.Referrals.Rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkDigestInputs(b *testing.B) {
	in := genInputs(42, *benchReferrals)
	records := len(in.Referrals.Users) + len(in.Referrals.Rows) + len(in.Stripe.Customers) +
		len(in.Stripe.Subscriptions) + len(in.Stripe.Invoices) + len(in.Stripe.Refunds)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		DigestInputs(in)
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
