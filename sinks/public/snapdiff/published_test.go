package snapdiff_test

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
)

// TestPublishedReadsWhatWasPublished publishes a result (pages of 2, so a
// leaderboard spans pages) and reads it back: the same snapshot as
// FromResult gives, but for the rows.
func TestPublishedReadsWhatWasPublished(t *testing.T) {
	asOf := time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)
	start, end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	pie := pipeline.Cycle{ID: "pie", DisplayName: "Pie", RulesURL: "https://example.com/r", Rules: pipeline.Rules{AwardModel: pipeline.PieSplit,
		StartTime: start, EndTime: end, Currency: "usd", AwardPool: pipeline.Money{Currency: "usd", Amount: 1000},
		MaxQualifiedReferrers: 2, ScoreBy: pipeline.ScoreByConversions, MinPaymentsToConvert: 1}}
	rs := pipeline.Cycle{ID: "share", DisplayName: "Share", RulesURL: "https://example.com/r", Rules: pipeline.Rules{AwardModel: pipeline.RevShareCap,
		StartTime: start.AddDate(0, 1, 0), EndTime: end.AddDate(0, 1, 0), Currency: "jpy", AwardPool: pipeline.Money{Currency: "jpy", Amount: 500},
		MinQualifyingRevenue: pipeline.Money{Currency: "jpy", Amount: 1}, RevenueShareBps: 1000, MinPaymentsToConvert: 1}}
	res := &pipeline.Result{AsOf: asOf, Referrers: []pipeline.User{{Email: "a@x", Refcode: "a"}, {Email: "b@x", Refcode: "b"}, {Email: "c@x", Refcode: "c"}},
		Cycles: []pipeline.CycleResult{
			{Cycle: pie, Status: pipeline.AwardsReview, Totals: pipeline.Totals{Referrals: 3, Conversions: 6, Revenue: 300, RankedReferrers: 3, QualifiedReferrers: 2, Awarded: 1000},
				Leaderboard: []pipeline.Entry{
					{Rank: 1, Refcode: "a", Score: 3, Conversions: 3, Revenue: 100, Qualified: true, BoostNum: 1, BoostDen: 1, Award: 750},
					{Rank: 2, Refcode: "b", Score: 2, Conversions: 2, Revenue: 100, Qualified: true, BoostDen: 1, Award: 250},
					{Rank: 3, Refcode: "c", Score: 1, Conversions: 1, Revenue: 100, BoostDen: 1},
				}},
			{Cycle: rs, Status: pipeline.Active, AwardPoolRemaining: 480, Totals: pipeline.Totals{Revenue: 200, RankedReferrers: 1, QualifiedReferrers: 1, Awarded: 20},
				Leaderboard: []pipeline.Entry{{Rank: 1, Refcode: "a", Score: 200, Revenue: 200, Qualified: true, BoostDen: 1, Award: 20}},
				Unranked:    []pipeline.Entry{{Refcode: "b", BoostDen: 1}, {Refcode: "c", BoostDen: 1}}},
		}}
	res.Cycles[0].AwardPoolRemaining = 0
	info := pipeline.RunInfo{SnapshotID: "20260415T000000Z-0123456789ab", AsOf: asOf}
	store := localdir.Open(t.TempDir())
	ctx := context.Background()
	if err := public.New(store, 2).Publish(ctx, info, res); err != nil {
		t.Fatal(err)
	}
	got, err := snapdiff.Published(ctx, public.NewReader(store), info.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	want := snapdiff.FromResult(info, res)
	want.Rows, want.HasRows = nil, false
	// cycles.json lists cycles startTime descending; the result ascending.
	slices.Reverse(want.Cycles)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
	if d := snapdiff.Compare(got, want); !d.Empty() {
		t.Errorf("diff of a snapshot with its publication: %+v", d)
	}
}
