package csvreport_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/csvreport"
)

// BenchmarkWrite writes the reports of two cycles with 50,000 referrers
// each (a tenth ranked) and 20,000 accounting events.
func BenchmarkWrite(b *testing.B) {
	const referrers, events = 50_000, 20_000
	res := &pipeline.Result{AsOf: info.AsOf}
	for k, model := range []pipeline.AwardModel{pipeline.PieSplit, pipeline.RevShareCap} {
		cr := pipeline.CycleResult{Cycle: cycle(fmt.Sprintf("cycle-%d", k+1), "usd", model, 1_000_000)}
		for i := range referrers {
			ref := fmt.Sprintf("ref%06d", i)
			if k == 0 {
				res.Referrers = append(res.Referrers, pipeline.User{Email: ref + "@example.com", Refcode: ref})
			}
			if i%10 == 0 {
				cr.Leaderboard = append(cr.Leaderboard, pipeline.Entry{Rank: i/10 + 1, Refcode: ref, Score: int64(referrers - i), Referrals: 3,
					Conversions: 2, Revenue: int64(referrers-i) * 100, PendingRevenue: 250, Qualified: true, Award: 1234})
			} else {
				cr.Unranked = append(cr.Unranked, pipeline.Entry{Refcode: ref})
			}
		}
		if model == pipeline.RevShareCap {
			for i := range events {
				cr.Events = append(cr.Events, pipeline.AccountingLine{PaidAt: 1772755200 + int64(i), InvoiceID: fmt.Sprintf("in_%d", i),
					CustomerID: fmt.Sprintf("cus_%d", i), Refcode: fmt.Sprintf("ref%06d", i*10%referrers), RefereeEmail: "referee@example.com",
					Net: 1999, AccumulatedRevenue: int64(i) * 1999, PoolBefore: 1_000_000, Claim: 199})
			}
		}
		res.Cycles = append(res.Cycles, cr)
	}
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		if err := csvreport.New(dir).Write(context.Background(), info, res); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2*referrers+events)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
