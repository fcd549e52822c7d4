package warehouse

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/pipeline"
)

// FromResult converts one run into its warehouse rows. No row is built
// until a driver reads the table, and then one at a time, so the rows never all exist at once next to the
// result. It reads res and subs whenever a table is read: they must not
// change until the snapshot is written.
//
// The rows come out in a deterministic order: cycles in the result's order
// (startTime ascending), leaderboard entries in rank order, decisions in
// the result's order, accounting lines in event order (Seq is 1-based
// within a cycle), and subscriptions by id. Date is asOf's UTC date.
// Unix-second instants become UTC times; 0 ("never") becomes the zero
// time.Time.
func FromResult(info pipeline.RunInfo, res *pipeline.Result, subs []pipeline.Subscription) Snapshot {
	g := &resultRows{
		id: info.SnapshotID, date: civil.DateOf(info.AsOf.UTC()), res: res, subs: subs,
	}
	c := info.Inputs.Counts
	g.run = Run{
		SnapshotID: g.id, SnapshotDate: g.date, AsOf: info.AsOf.UTC(),
		CodeVersion: info.CodeVersion, CycleSetSHA256: info.CycleSetSHA256, InputsSHA256: info.Inputs.SHA256,
		Users: c.Users, Referrals: c.Referrals, Customers: c.Customers, Subscriptions: c.Subscriptions,
		Invoices: c.Invoices, Refunds: c.Refunds, Disputes: c.Disputes, CreditNotes: c.CreditNotes,
		Notes: slices.Clone(info.Notes),
	}
	if res != nil {
		g.run.Cycles = int64(len(res.Cycles))
		for i := range res.Decisions {
			if res.Decisions[i].Clawback {
				g.run.ClawbackCandidates++
			}
		}
	}
	return Snapshot{
		Date: g.date,
		Runs: func(yield func(*Run) bool) {
			row := g.run
			yield(&row)
		},
		CycleSummaries: g.cycleSummaries, LeaderboardEntries: g.leaderboard, ReferralDecisions: g.decisions,
		PaymentAccounting: g.accounting, Subscriptions: g.subscriptions,
	}
}

// resultRows produces a run's rows from its result. Each table's sequence
// reuses one row variable (and one conversions slice).
type resultRows struct {
	id   string
	date civil.Date
	run  Run
	res  *pipeline.Result
	subs []pipeline.Subscription

	subOrder     []int32 // subs' positions in row order; built once
	subOrderOnce sync.Once
}

func (g *resultRows) cycles() []pipeline.CycleResult {
	if g.res == nil {
		return nil
	}
	return g.res.Cycles
}

func (g *resultRows) cycleSummaries(yield func(*CycleSummary) bool) {
	var row CycleSummary
	for i := range g.cycles() {
		cr := &g.res.Cycles[i]
		r := cr.Cycle.Rules
		row = CycleSummary{
			SnapshotID: g.id, SnapshotDate: g.date, CycleID: cr.Cycle.ID, DisplayName: cr.Cycle.DisplayName,
			AwardModel: string(r.AwardModel), StartTime: r.StartTime.UTC(), EndTime: r.EndTime.UTC(),
			Currency: r.Currency, Status: string(cr.Status), IsFinal: cr.IsFinal, SettlesAt: cr.SettlesAt.UTC(),
			AwardPool: r.AwardPool.Amount, AwardPoolRemaining: cr.AwardPoolRemaining, Awarded: cr.Totals.Awarded,
			Referrals: cr.Totals.Referrals, Conversions: cr.Totals.Conversions,
			PendingConversions: cr.Totals.PendingConversions, Revenue: cr.Totals.Revenue,
			PendingRevenue: cr.Totals.PendingRevenue, RankedReferrers: cr.Totals.RankedReferrers,
			QualifiedReferrers: cr.Totals.QualifiedReferrers,
		}
		if !yield(&row) {
			return
		}
	}
}

func (g *resultRows) leaderboard(yield func(*LeaderboardEntry) bool) {
	var row LeaderboardEntry
	inSet := map[string]bool{}
	for i := range g.cycles() {
		cr := &g.res.Cycles[i]
		cur := cr.Cycle.Rules.Currency
		inSet[cr.Cycle.ID] = true
		st := g.res.SettledCycle(cr.Cycle.ID)
		ranked := map[string]bool{}
		for j := range cr.Leaderboard {
			e := &cr.Leaderboard[j]
			row = LeaderboardEntry{
				SnapshotID: g.id, SnapshotDate: g.date, CycleID: cr.Cycle.ID, Rank: int64(e.Rank), Refcode: e.Refcode,
				Currency: cur, Score: e.Score, Referrals: e.Referrals, Conversions: e.Conversions,
				PendingConversions: e.PendingConversions, Revenue: e.Revenue, PendingRevenue: e.PendingRevenue,
				ScoreReachedAt: unixTime(e.ScoreReachedAt), Qualified: e.Qualified,
				FinalScoreBoost: Boost(*e), Award: e.Award,
			}
			if e.AdminAction != nil {
				row.AdminAction = string(e.AdminAction.ActionType)
				row.AdminActionReason = e.AdminAction.Reason
			}
			if st != nil {
				d, _ := st.DriftOf(e.Refcode)
				row.SettledFrom, row.SettledAward, row.AwardDrift = st.SnapshotID, d.Settled, d.Settled-e.Award
				ranked[e.Refcode] = true
			}
			if !yield(&row) {
				return
			}
		}
		if st != nil && !g.settledOnly(st, cur, ranked, &row, yield) {
			return
		}
	}
	for i := range g.settled() {
		st := &g.res.Settled[i]
		if !inSet[st.CycleID] && !g.settledOnly(st, st.Currency, nil, &row, yield) {
			return
		}
	}
}

func (g *resultRows) settled() []pipeline.SettledResult {
	if g.res == nil {
		return nil
	}
	return g.res.Settled
}

// settledOnly yields the rank-0 rows of settled cycle st: its referrers
// with a settled award that are not in ranked.
func (g *resultRows) settledOnly(st *pipeline.SettledResult, cur string, ranked map[string]bool, row *LeaderboardEntry, yield func(*LeaderboardEntry) bool) bool {
	for _, d := range st.Drift {
		if ranked[d.Refcode] || d.Settled == 0 {
			continue
		}
		*row = LeaderboardEntry{
			SnapshotID: g.id, SnapshotDate: g.date, CycleID: st.CycleID, Refcode: d.Refcode, Currency: cur,
			SettledFrom: st.SnapshotID, SettledAward: d.Settled, AwardDrift: d.Drift,
		}
		if !yield(row) {
			return false
		}
	}
	return true
}

func (g *resultRows) accounting(yield func(*PaymentAccounting) bool) {
	var row PaymentAccounting
	for i := range g.cycles() {
		cr := &g.res.Cycles[i]
		cur := cr.Cycle.Rules.Currency
		for j := range cr.Events {
			ev := &cr.Events[j]
			row = PaymentAccounting{
				SnapshotID: g.id, SnapshotDate: g.date, CycleID: cr.Cycle.ID, Seq: int64(j + 1),
				InvoiceID: ev.InvoiceID, CustomerID: ev.CustomerID, Refcode: ev.Refcode, RefereeEmail: ev.RefereeEmail,
				PaidAt: unixTime(ev.PaidAt), Currency: cur, Net: ev.Net, Pending: ev.Pending,
				AccumulatedRevenue: ev.AccumulatedRevenue, PoolBefore: ev.PoolBefore, Claim: ev.Claim,
				Gross: ev.Gross, Refunds: ev.Refunded, CreditNotes: ev.Credited, Disputes: ev.Disputed,
			}
			if !yield(&row) {
				return
			}
		}
	}
}

func (g *resultRows) decisions(yield func(*ReferralDecision) bool) {
	if g.res == nil {
		return
	}
	var row ReferralDecision
	var convs []Conversion
	for i := range g.res.Decisions {
		d := &g.res.Decisions[i]
		row = ReferralDecision{
			SnapshotID: g.id, SnapshotDate: g.date, RefereeEmail: d.Row.Email, CanonicalEmail: d.CanonicalEmail,
			Refcode: d.Row.Refcode, ReferredAtRaw: d.Row.ReferredAt, SelectedPlan: d.Row.SelectedPlan,
			Rewarded: d.Row.Rewarded, Outcome: string(d.Outcome), Reason: d.Reason, Clawback: d.Clawback,
		}
		if len(d.Conversions) > 0 {
			convs = convs[:0]
			for _, cv := range d.Conversions {
				convs = append(convs, Conversion{
					CycleID: cv.CycleID, ConvertedAt: unixTime(cv.ConvertedAt), InvoiceID: cv.InvoiceID,
					Pending: cv.Pending, RewardEligible: cv.RewardEligible, Reason: cv.Reason,
				})
			}
			row.Conversions = convs
		}
		if !yield(&row) {
			return
		}
	}
}

func (g *resultRows) subscriptions(yield func(*Subscription) bool) {
	g.subOrderOnce.Do(func() { g.subOrder = subscriptionOrder(g.subs) })
	var row Subscription
	for _, i := range g.subOrder {
		sub := &g.subs[i]
		row = Subscription{
			SnapshotID: g.id, SnapshotDate: g.date, SubscriptionID: sub.ID, CustomerID: sub.Customer,
			Status: sub.Status, Created: unixTime(sub.Created), PriceIDs: sub.PriceIDs,
		}
		if !yield(&row) {
			return
		}
	}
}

// subscriptionOrder returns the positions of subs in row order: by id,
// customer, created time, then position (the order a stable sort by the
// first three gives). Each id is first compared by a key: the 8 bytes
// after the prefix every id shares ("sub_"), as a big-endian integer
// (zero-padded), whose order is the ids' byte order; only ids with equal
// keys are compared in full. At 1M subscriptions this is a quarter of
// comparing the strings through the positions (docs/performance.md,
// change 28).
func subscriptionOrder(subs []pipeline.Subscription) []int32 {
	prefix := 0
	if len(subs) > 0 {
		first := subs[0].ID
		prefix = len(first)
		for i := range subs {
			id := subs[i].ID
			n := min(prefix, len(id))
			j := 0
			for j < n && id[j] == first[j] {
				j++
			}
			prefix = j
		}
	}
	type keyed struct {
		key uint64
		i   int32
	}
	keys := make([]keyed, len(subs))
	for i := range subs {
		var k uint64
		id := subs[i].ID[prefix:]
		for j := range 8 {
			k <<= 8
			if j < len(id) {
				k |= uint64(id[j])
			}
		}
		keys[i] = keyed{k, int32(i)}
	}
	// Ties broken by position: the order a stable sort gives, at
	// pdqsort's cost (SortStableFunc took twice as long).
	slices.SortFunc(keys, func(x, y keyed) int {
		if c := cmp.Compare(x.key, y.key); c != 0 {
			return c
		}
		a, b := &subs[x.i], &subs[y.i]
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Customer, b.Customer), cmp.Compare(a.Created, b.Created), cmp.Compare(x.i, y.i))
	})
	order := make([]int32, len(keys))
	for i, k := range keys {
		order[i] = k.i
	}
	return order
}

// Boost is an entry's finalScoreBoost as a float, for display only: 0 when
// the denominator is 0 (not qualified, rev-share-cap).
func Boost(e pipeline.Entry) float64 {
	if e.BoostDen == 0 {
		return 0
	}
	return float64(e.BoostNum) / float64(e.BoostDen)
}

func unixTime(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}
