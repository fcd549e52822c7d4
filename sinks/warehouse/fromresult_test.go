package warehouse_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
)

func testResult() (pipeline.RunInfo, *pipeline.Result, []pipeline.Subscription) {
	asOf := time.Date(2026, 4, 15, 23, 30, 0, 0, time.FixedZone("EST", -5*3600)) // 2026-04-16 UTC
	c1 := pipeline.Cycle{ID: "cycle-1", DisplayName: "One", RulesURL: "https://example.com/1", Rules: pipeline.Rules{
		AwardModel: pipeline.PieSplit, Currency: "usd", AwardPool: pipeline.Money{Currency: "usd", Amount: 1000},
		StartTime: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), EndTime: time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC),
		MaxQualifiedReferrers: 3, ScoreBy: pipeline.ScoreByConversions,
	}}
	c2 := pipeline.Cycle{ID: "cycle-2", DisplayName: "Two", RulesURL: "https://example.com/2", Rules: pipeline.Rules{
		AwardModel: pipeline.RevShareCap, Currency: "jpy", AwardPool: pipeline.Money{Currency: "jpy", Amount: 500},
		StartTime: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), EndTime: time.Date(2026, 4, 30, 23, 59, 59, 0, time.UTC),
		RevenueShareBps: 1000,
	}}
	warn := &pipeline.AdminAction{ActionType: pipeline.Warning, Refcode: "bob", Reason: "spam"}
	res := &pipeline.Result{
		AsOf: asOf,
		Cycles: []pipeline.CycleResult{
			{Cycle: c1, Status: pipeline.AwardsReview, SettlesAt: c1.Rules.EndTime, Totals: pipeline.Totals{Referrals: 3, Conversions: 2, Revenue: 300, Awarded: 1000, RankedReferrers: 2, QualifiedReferrers: 2},
				Leaderboard: []pipeline.Entry{
					{Rank: 1, Refcode: "alice", Score: 2, Conversions: 2, Revenue: 200, ScoreReachedAt: 1772755200, Qualified: true, BoostNum: 1, BoostDen: 1, Award: 800},
					{Rank: 2, Refcode: "bob", Score: 1, Conversions: 1, Revenue: 100, ScoreReachedAt: 1772755300, Qualified: true, BoostNum: 1, BoostDen: 2, Award: 200, AdminAction: warn},
				},
				Unranked: []pipeline.Entry{{Refcode: "carol", BoostDen: 1}},
				Events: []pipeline.AccountingLine{
					{InvoiceID: "in_1", CustomerID: "cus_1", Refcode: "alice", RefereeEmail: "x@example.com", PaidAt: 1772755200, Net: 100, AccumulatedRevenue: 100},
					{InvoiceID: "in_2", CustomerID: "cus_2", Refcode: "bob", RefereeEmail: "y@example.com", PaidAt: 1772755300,
						Gross: 900, Refunded: 300, Credited: 200, Disputed: 300, Net: 100, AccumulatedRevenue: 100},
					{InvoiceID: "in_3", CustomerID: "cus_1", Refcode: "alice", RefereeEmail: "x@example.com", PaidAt: 1772755400, Net: 100, AccumulatedRevenue: 200},
				}},
			{Cycle: c2, Status: pipeline.Active, SettlesAt: c2.Rules.EndTime, AwardPoolRemaining: 490,
				Leaderboard: []pipeline.Entry{{Rank: 1, Refcode: "alice", Score: 100, Revenue: 100, PendingRevenue: 100, Qualified: true, Award: 10}},
				Events: []pipeline.AccountingLine{
					{InvoiceID: "in_4", CustomerID: "cus_1", Refcode: "alice", RefereeEmail: "x@example.com", PaidAt: 1775000000, Net: 100, Pending: true, AccumulatedRevenue: 100, PoolBefore: 500, Claim: 10},
				}},
		},
		Decisions: []pipeline.ReferralDecision{
			{Row: pipeline.ReferralRow{Email: "bad", Refcode: "alice", ReferredAt: "x", Rewarded: true}, Outcome: pipeline.Quarantined, Reason: pipeline.ReasonInvalidEmail, Clawback: true},
			{Row: pipeline.ReferralRow{Email: "x@example.com", Refcode: "alice", ReferredAt: "2026-03-01 00:00:00", Rewarded: true}, CanonicalEmail: "x@example.com", ReferredAt: 1772323200, Outcome: pipeline.Valid,
				Conversions: []pipeline.Conversion{{CycleID: "cycle-1", ConvertedAt: 1772755200, InvoiceID: "in_1", Reason: pipeline.ReasonAlreadyRewarded}, {CycleID: "cycle-2", ConvertedAt: 1775000000, InvoiceID: "in_4", Pending: true, Reason: pipeline.ReasonPendingHold}}},
		},
		Referrers: []pipeline.User{{Email: "a@example.com", Refcode: "alice"}, {Email: "b@example.com", Refcode: "bob"}, {Email: "c@example.com", Refcode: "carol"}},
	}
	info := pipeline.RunInfo{SnapshotID: "20260416T043000Z-0123456789ab", AsOf: asOf, CodeVersion: "test", CycleSetSHA256: "cs", Inputs: pipeline.InputsDigest{SHA256: "in", Counts: pipeline.InputCounts{Users: 3, Referrals: 2, Subscriptions: 2, Disputes: 4, CreditNotes: 5}}, Notes: []string{"n"}}
	subs := []pipeline.Subscription{{ID: "sub_b", Customer: "cus_2", Status: "active", Created: 1772000000, PriceIDs: []string{"p2"}}, {ID: "sub_a", Customer: "cus_1", Status: "canceled", Created: 1771000000}}
	return info, res, subs
}

func TestFromResult(t *testing.T) {
	info, res, subs := testResult()
	streamed := warehouse.FromResult(info, res, subs)
	if err := streamed.Validate(); err != nil {
		t.Fatal(err)
	}
	s := warehousetest.Collect(streamed)
	if want := (civil.Date{Year: 2026, Month: 4, Day: 16}); s.Date != want {
		t.Errorf("Date = %v, want %v (asOf's UTC date)", s.Date, want)
	}
	if r := s.Runs[len(s.Runs)-1]; r.Disputes != 4 || r.CreditNotes != 5 || r.ClawbackCandidates != 1 {
		t.Errorf("run counts disputes %d, credit notes %d, clawback candidates %d; want 4, 5, 1", r.Disputes, r.CreditNotes, r.ClawbackCandidates)
	}
	if p := s.PaymentAccounting[1]; p.Gross != 900 || p.Refunds != 300 || p.CreditNotes != 200 || p.Disputes != 300 || p.Net != 100 {
		t.Errorf("accounting row with R, N, D = %+v", p)
	}
	if !s.ReferralDecisions[0].Clawback || s.ReferralDecisions[1].Clawback {
		t.Errorf("clawback flags %v %v, want true false", s.ReferralDecisions[0].Clawback, s.ReferralDecisions[1].Clawback)
	}
	if len(s.Runs) != 1 || s.Runs[0].Cycles != 2 || s.Runs[0].Users != 3 || s.Runs[0].AsOf.Location() != time.UTC || !s.Runs[0].AsOf.Equal(info.AsOf) {
		t.Errorf("Runs = %+v", s.Runs)
	}
	if len(s.CycleSummaries) != 2 || s.CycleSummaries[1].AwardPool != 500 || s.CycleSummaries[1].AwardPoolRemaining != 490 || s.CycleSummaries[0].Awarded != 1000 {
		t.Errorf("CycleSummaries = %+v", s.CycleSummaries)
	}
	// Ranked entries only (carol is unranked).
	if len(s.LeaderboardEntries) != 3 {
		t.Fatalf("got %d leaderboard rows, want 3", len(s.LeaderboardEntries))
	}
	bob := s.LeaderboardEntries[1]
	if bob.Refcode != "bob" || bob.FinalScoreBoost != 0.5 || bob.AdminAction != "Warning" || bob.AdminActionReason != "spam" || bob.Currency != "usd" {
		t.Errorf("bob = %+v", bob)
	}
	if got := s.LeaderboardEntries[2]; got.CycleID != "cycle-2" || got.FinalScoreBoost != 0 || got.Currency != "jpy" {
		t.Errorf("cycle-2 entry = %+v", got)
	}
	var seqs []int64
	for _, p := range s.PaymentAccounting {
		seqs = append(seqs, p.Seq)
	}
	if !reflect.DeepEqual(seqs, []int64{1, 2, 3, 1}) {
		t.Errorf("Seq = %v, want [1 2 3 1]", seqs)
	}
	if p := s.PaymentAccounting[3]; p.PoolBefore != 500 || p.Claim != 10 || !p.Pending || p.PaidAt.Unix() != 1775000000 || p.RefereeEmail != "x@example.com" {
		t.Errorf("rev-share accounting row = %+v", p)
	}
	if len(s.ReferralDecisions) != 2 || s.ReferralDecisions[0].Conversions != nil || len(s.ReferralDecisions[1].Conversions) != 2 || !s.ReferralDecisions[1].Rewarded {
		t.Errorf("ReferralDecisions = %+v", s.ReferralDecisions)
	}
	if cv := s.ReferralDecisions[1].Conversions[1]; cv.CycleID != "cycle-2" || !cv.Pending || cv.Reason != "pending_hold" {
		t.Errorf("conversion = %+v", cv)
	}
	if len(s.Subscriptions) != 2 || s.Subscriptions[0].SubscriptionID != "sub_a" || s.Subscriptions[1].PriceIDs[0] != "p2" {
		t.Errorf("Subscriptions = %+v", s.Subscriptions)
	}

	// Deterministic: same input, same rows, also when read again; collected
	// rows do not alias the inputs.
	if again := warehousetest.Collect(warehouse.FromResult(info, res, subs)); !reflect.DeepEqual(s, again) {
		t.Errorf("FromResult is not deterministic")
	}
	if again := warehousetest.Collect(streamed); !reflect.DeepEqual(s, again) {
		t.Errorf("reading a streamed snapshot twice gives other rows")
	}
	subs[0].PriceIDs[0] = "changed"
	res.Decisions[1].Conversions[0].InvoiceID = "changed"
	if s.Subscriptions[1].PriceIDs[0] != "p2" || s.ReferralDecisions[1].Conversions[0].InvoiceID != "in_1" {
		t.Errorf("collected rows alias the input slices")
	}
}

// Rows stops where the caller stops, and yields each row before producing
// the next (one reused variable per table).
func TestFromResultRowsStream(t *testing.T) {
	info, res, subs := testResult()
	s := warehouse.FromResult(info, res, subs)
	var emails []string
	for row, err := range s.Rows(warehouse.TableReferralDecisions) {
		if err != nil {
			t.Fatal(err)
		}
		emails = append(emails, row.(*warehouse.ReferralDecision).RefereeEmail)
	}
	if !reflect.DeepEqual(emails, []string{"bad", "x@example.com"}) {
		t.Errorf("decision emails %q", emails)
	}
	n := 0
	for range s.Rows(warehouse.TablePaymentAccounting) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("break after one row: %d rows", n)
	}
	for _, err := range s.Rows("no_such_table") {
		if err == nil {
			t.Errorf("Rows of an unknown table gave no error")
		}
	}
}

func TestFromResultNil(t *testing.T) {
	info, _, _ := testResult()
	s := warehousetest.Collect(warehouse.FromResult(info, nil, nil))
	if err := s.Snapshot().Validate(); err != nil || len(s.Runs) != 1 || s.Runs[0].Cycles != 0 {
		t.Errorf("FromResult(nil result) = %+v, %v", s, err)
	}
}

func TestValidate(t *testing.T) {
	info, res, subs := testResult()
	day := warehousetest.Collect(warehouse.FromResult(info, res, subs))
	day.ReferralDecisions[1].SnapshotDate = day.Date.AddDays(-1)
	s := day.Snapshot()
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "referral_decisions row 1") {
		t.Errorf("Validate accepted a row of another date (%v)", err)
	}
	var yielded int
	for row, err := range s.Rows(warehouse.TableReferralDecisions) {
		if err != nil {
			if row != nil || yielded != 1 {
				t.Errorf("Rows: error after %d rows with row %v", yielded, row)
			}
			continue
		}
		yielded++
	}
	if err := (warehouse.Snapshot{}).Validate(); err == nil {
		t.Errorf("Validate accepted a zero date")
	}
}

func TestFromResultAwardDrift(t *testing.T) {
	res := &pipeline.Result{Cycles: []pipeline.CycleResult{{
		Cycle: pipeline.Cycle{ID: "c1", Rules: pipeline.Rules{Currency: "usd"}},
		Leaderboard: []pipeline.Entry{
			{Rank: 1, Refcode: "A", Award: 700, BoostDen: 1}, {Rank: 2, Refcode: "B", Award: 300, BoostDen: 1},
		},
	}, {
		Cycle:       pipeline.Cycle{ID: "c2", Rules: pipeline.Rules{Currency: "usd"}},
		Leaderboard: []pipeline.Entry{{Rank: 1, Refcode: "A", Award: 5, BoostDen: 1}},
	}}}
	pipeline.ApplySettled(res, []pipeline.SettledCycle{
		{CycleID: "c1", SnapshotID: "S1", Currency: "usd", Awards: map[string]int64{"A": 600, "C": 400}},
		{CycleID: "gone", SnapshotID: "S0", Currency: "eur", Awards: map[string]int64{"A": 50}},
	})
	info := pipeline.RunInfo{SnapshotID: "20260501T000000Z-000000000000", AsOf: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	type got struct {
		cycle, refcode, from        string
		rank, award, settled, drift int64
	}
	var rows []got
	for r := range warehouse.FromResult(info, res, nil).LeaderboardEntries {
		rows = append(rows, got{r.CycleID, r.Refcode, r.SettledFrom, r.Rank, r.Award, r.SettledAward, r.AwardDrift})
	}
	want := []got{
		{"c1", "A", "S1", 1, 700, 600, -100},
		{"c1", "B", "S1", 2, 300, 0, -300},
		{"c1", "C", "S1", 0, 0, 400, 400},
		{"c2", "A", "", 1, 5, 0, 0},
		{"gone", "A", "S0", 0, 0, 50, 50},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("leaderboard rows\n got %v\nwant %v", rows, want)
	}
}

// BenchmarkFromResultSubscriptions produces the subscriptions table of
// 100k subscriptions in random id order (a run's are in the Stripe
// reader's order): sorting them by id is most of producing the rows.
func BenchmarkFromResultSubscriptions(b *testing.B) {
	info, _, _ := testResult()
	rng := rand.New(rand.NewPCG(1, 2))
	subs := make([]pipeline.Subscription, 100_000)
	for i := range subs {
		subs[i] = pipeline.Subscription{ID: fmt.Sprintf("sub_%024x", rng.Uint64()), Customer: fmt.Sprintf("cus_%014d", i), Status: "active", Created: int64(1772000000 + i)}
	}
	subs[7].ID = subs[3].ID // equal ids keep a deterministic order
	for b.Loop() {
		n := 0
		for range warehouse.FromResult(info, nil, subs).Subscriptions {
			n++
		}
		if n != len(subs) {
			b.Fatalf("%d rows, want %d", n, len(subs))
		}
	}
}

// The subscriptions come out in the order a stable sort by id, customer
// and created time gives, also for ids that share long prefixes, differ
// only past their first 8 bytes after the shared prefix, are prefixes of
// each other, are empty or hold bytes above 0x7f.
func TestSubscriptionOrder(t *testing.T) {
	info, _, _ := testResult()
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"", "a", "b", "\x00", "\xff", "sub_", "sub_1", "sub_10000000", "sub_1000000000", "é"}
	for round := range 50 {
		subs := make([]pipeline.Subscription, 200)
		for i := range subs {
			id := "sub_"
			if round%5 == 0 {
				id = ""
			}
			for range rng.IntN(4) {
				id += alphabet[rng.IntN(len(alphabet))]
			}
			subs[i] = pipeline.Subscription{ID: id, Customer: fmt.Sprintf("cus_%d", rng.IntN(3)), Created: int64(rng.IntN(3)), Status: fmt.Sprint(i)}
		}
		want := slices.Clone(subs)
		slices.SortStableFunc(want, func(a, b pipeline.Subscription) int {
			return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Customer, b.Customer), cmp.Compare(a.Created, b.Created))
		})
		i := 0
		for row := range warehouse.FromResult(info, nil, subs).Subscriptions {
			w := want[i]
			if row.SubscriptionID != w.ID || row.CustomerID != w.Customer || row.Status != w.Status {
				t.Fatalf("round %d row %d = %q %q %q, want %q %q %q", round, i, row.SubscriptionID, row.CustomerID, row.Status, w.ID, w.Customer, w.Status)
			}
			i++
		}
		if i != len(want) {
			t.Fatalf("round %d: %d rows, want %d", round, i, len(want))
		}
	}
}
