package htmlreport_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/htmlreport"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
)

var asOf = time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)

var info = pipeline.RunInfo{SnapshotID: "20260415T000000Z-0123456789ab", AsOf: asOf, CodeVersion: "test"}

func day(d int, h int) int64 { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC).Unix() }

// testResult has a pie-split cycle with 30 ranked referrers (more than the
// award chart's bars and the leaderboard's rows) and a rev-share-cap cycle
// whose pool drains.
func testResult() *pipeline.Result {
	window := pipeline.Rules{StartTime: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), EndTime: time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC), HoldDays: 30}
	pie := pipeline.CycleResult{Cycle: pipeline.Cycle{ID: "march-pie", DisplayName: "March <b>pie</b>", Rules: window},
		Status: pipeline.AwardsReview, SettlesAt: time.Date(2026, 4, 30, 23, 59, 59, 0, time.UTC)}
	pie.Cycle.Rules.AwardModel, pie.Cycle.Rules.ScoreBy, pie.Cycle.Rules.Currency = pipeline.PieSplit, pipeline.ScoreByConversions, "usd"
	pie.Cycle.Rules.AwardPool = pipeline.Money{Currency: "usd", Amount: 1_000_000}
	pie.Cycle.Rules.MaxQualifiedReferrers = 30
	var awarded int64
	for i := range 30 {
		e := pipeline.Entry{Rank: i + 1, Refcode: fmt.Sprintf("ref%02d", i), Score: int64(30 - i), Conversions: int64(30 - i),
			Revenue: int64(1000 * (30 - i)), Qualified: true, BoostNum: int64(29 - i), BoostDen: 29, Award: int64(60_000 - 1_500*i)}
		if i == 1 {
			e.Refcode = "<script>alert(1)</script>"
			e.AdminAction = &pipeline.AdminAction{ActionType: pipeline.Warning, Reason: "=cmd|' /C calc'!A0"}
		}
		awarded += e.Award
		pie.Leaderboard = append(pie.Leaderboard, e)
		pie.Events = append(pie.Events, pipeline.AccountingLine{InvoiceID: fmt.Sprintf("in_%d", i), Refcode: e.Refcode,
			PaidAt: day(1+i, 12), Net: 1999, Pending: 1+i >= 16})
	}
	pie.Totals = pipeline.Totals{Referrals: 40, Conversions: 30, Revenue: 30 * 1999, RankedReferrers: 30, QualifiedReferrers: 30, Awarded: awarded}
	pie.AwardPoolRemaining = 1_000_000 - awarded

	rs := pipeline.CycleResult{Cycle: pipeline.Cycle{ID: "march-share", DisplayName: "March rev share", Rules: window},
		Status: pipeline.Exhausted}
	rs.Cycle.Rules.AwardModel, rs.Cycle.Rules.Currency = pipeline.RevShareCap, "jpy"
	rs.Cycle.Rules.AwardPool = pipeline.Money{Currency: "jpy", Amount: 5000}
	pool := int64(5000)
	for i, claim := range []int64{2000, 2500, 500, 0} {
		rs.Events = append(rs.Events, pipeline.AccountingLine{InvoiceID: fmt.Sprintf("in_j%d", i), Refcode: "ref00", PaidAt: day(3+5*i, 9),
			Net: 20_000, PoolBefore: pool, Claim: claim})
		pool -= claim
	}
	rs.Leaderboard = []pipeline.Entry{{Rank: 1, Refcode: "ref00", Score: 80_000, Revenue: 80_000, Qualified: true, Award: 5000}}
	rs.Totals = pipeline.Totals{Revenue: 80_000, Awarded: 5000, RankedReferrers: 1, QualifiedReferrers: 1}
	return &pipeline.Result{AsOf: asOf, Cycles: []pipeline.CycleResult{pie, rs},
		Decisions: []pipeline.ReferralDecision{{Row: pipeline.ReferralRow{Email: "back@example.com", Refcode: "ref03", Rewarded: true},
			Outcome: pipeline.Valid, Reason: pipeline.ReasonDisputed, Clawback: true}}}
}

func testChanges(res *pipeline.Result) *snapdiff.Diff {
	now := snapdiff.FromResult(info, res)
	old := snapdiff.FromResult(pipeline.RunInfo{SnapshotID: "20260414T000000Z-000000000000"}, res)
	old.Cycles = append([]snapdiff.Cycle(nil), old.Cycles...)
	old.Cycles[0].Entries = append([]snapdiff.Entry(nil), old.Cycles[0].Entries...)
	old.Cycles[0].Entries[0].Award -= 1500
	old.Cycles[0].Status = "Active"
	return snapdiff.Compare(old, now)
}

func writeReport(t *testing.T) (string, []byte) {
	t.Helper()
	res := testResult()
	path, err := htmlreport.Write(context.Background(), t.TempDir(), htmlreport.Input{Info: info, Result: res, Changes: testChanges(res)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

func TestReportIsSelfContainedAndEscaped(t *testing.T) {
	path, b := writeReport(t)
	if !strings.HasSuffix(path, "/report-"+info.SnapshotID+".html") {
		t.Fatalf("path %s", path)
	}
	s := string(b)
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "@import", "url("} {
		if strings.Contains(strings.ToLower(s), bad) {
			t.Errorf("report contains %q", bad)
		}
	}
	// Only in-page links and the SVG namespace.
	for _, m := range regexp.MustCompile(`(?i)(?:href|src)="([^"]*)"`).FindAllStringSubmatch(s, -1) {
		if !strings.HasPrefix(m[1], "#") {
			t.Errorf("reference out of the page: %s", m[0])
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "March &lt;b&gt;pie&lt;/b&gt;", "10,000.00 USD",
		"5,000 JPY", "back@example.com", "disputed", "hold boundary 2026-03-16", "since 20260414T000000Z-000000000000"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Same inputs, same bytes.
	_, again := writeReport(t)
	if string(again) != s {
		t.Error("two reports of the same inputs differ")
	}
}

func TestReportWithoutPreviousSnapshotOrCycles(t *testing.T) {
	dir := t.TempDir()
	path, err := htmlreport.Write(context.Background(), dir, htmlreport.Input{Info: info, Result: &pipeline.Result{AsOf: asOf}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{"There is no previous snapshot", "The cycle set is empty"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestReportLaterChangesSameBytes: a report given the comparison later
// (LaterChanges, called once the rest is made) has the bytes of one given
// it at once, and calls it once.
func TestReportLaterChangesSameBytes(t *testing.T) {
	_, want := writeReport(t)
	res := testResult()
	d, calls := testChanges(res), 0
	path, err := htmlreport.Write(context.Background(), t.TempDir(), htmlreport.Input{Info: info, Result: res,
		LaterChanges: func() *snapdiff.Diff { calls++; return d }})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || calls != 1 {
		t.Errorf("report with LaterChanges differs (%d calls)", calls)
	}
}
