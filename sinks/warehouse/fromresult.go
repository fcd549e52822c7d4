package warehouse

import (
	"cmp"
	"slices"
	"time"

	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/pipeline"
)

// FromResult converts one run into its warehouse rows. The rows come out in
// a deterministic order: cycles in the result's order (startTime ascending),
// leaderboard entries in rank order, decisions in the result's order,
// accounting lines in event order (Seq is 1-based within a cycle), and
// subscriptions by id. Date is asOf's UTC date. Unix-second instants become
// UTC times; 0 ("never") becomes the zero time.Time.
func FromResult(info pipeline.RunInfo, res *pipeline.Result, subs []pipeline.Subscription) Snapshot {
	date := civil.DateOf(info.AsOf.UTC())
	id := info.SnapshotID
	s := Snapshot{Date: date}

	c := info.Inputs.Counts
	run := Run{
		SnapshotID: id, SnapshotDate: date, AsOf: info.AsOf.UTC(),
		CodeVersion: info.CodeVersion, CycleSetSHA256: info.CycleSetSHA256, InputsSHA256: info.Inputs.SHA256,
		Users: c.Users, Referrals: c.Referrals, Customers: c.Customers, Subscriptions: c.Subscriptions,
		Invoices: c.Invoices, Refunds: c.Refunds,
		Notes: slices.Clone(info.Notes),
	}
	if res == nil {
		s.Runs = []Run{run}
		s.Subscriptions = subscriptionRows(id, date, subs)
		return s
	}
	run.Cycles = int64(len(res.Cycles))
	s.Runs = []Run{run}

	for _, cr := range res.Cycles {
		r := cr.Cycle.Rules
		cur := r.Currency
		s.CycleSummaries = append(s.CycleSummaries, CycleSummary{
			SnapshotID: id, SnapshotDate: date, CycleID: cr.Cycle.ID, DisplayName: cr.Cycle.DisplayName,
			AwardModel: string(r.AwardModel), StartTime: r.StartTime.UTC(), EndTime: r.EndTime.UTC(),
			Currency: cur, Status: string(cr.Status), IsFinal: cr.IsFinal, SettlesAt: cr.SettlesAt.UTC(),
			AwardPool: r.AwardPool.Amount, AwardPoolRemaining: cr.AwardPoolRemaining, Awarded: cr.Totals.Awarded,
			Referrals: cr.Totals.Referrals, Conversions: cr.Totals.Conversions,
			PendingConversions: cr.Totals.PendingConversions, Revenue: cr.Totals.Revenue,
			PendingRevenue: cr.Totals.PendingRevenue, RankedReferrers: cr.Totals.RankedReferrers,
			QualifiedReferrers: cr.Totals.QualifiedReferrers,
		})
		for _, e := range cr.Leaderboard {
			row := LeaderboardEntry{
				SnapshotID: id, SnapshotDate: date, CycleID: cr.Cycle.ID, Rank: int64(e.Rank), Refcode: e.Refcode,
				Currency: cur, Score: e.Score, Referrals: e.Referrals, Conversions: e.Conversions,
				PendingConversions: e.PendingConversions, Revenue: e.Revenue, PendingRevenue: e.PendingRevenue,
				ScoreReachedAt: unixTime(e.ScoreReachedAt), Qualified: e.Qualified,
				FinalScoreBoost: Boost(e), Award: e.Award,
			}
			if e.AdminAction != nil {
				row.AdminAction = string(e.AdminAction.ActionType)
				row.AdminActionReason = e.AdminAction.Reason
			}
			s.LeaderboardEntries = append(s.LeaderboardEntries, row)
		}
		for i, ev := range cr.Events {
			s.PaymentAccounting = append(s.PaymentAccounting, PaymentAccounting{
				SnapshotID: id, SnapshotDate: date, CycleID: cr.Cycle.ID, Seq: int64(i + 1),
				InvoiceID: ev.InvoiceID, CustomerID: ev.CustomerID, Refcode: ev.Refcode, RefereeEmail: ev.RefereeEmail,
				PaidAt: unixTime(ev.PaidAt), Currency: cur, Net: ev.Net, Pending: ev.Pending,
				AccumulatedRevenue: ev.AccumulatedRevenue, PoolBefore: ev.PoolBefore, Claim: ev.Claim,
			})
		}
	}

	s.ReferralDecisions = make([]ReferralDecision, 0, len(res.Decisions))
	for _, d := range res.Decisions {
		row := ReferralDecision{
			SnapshotID: id, SnapshotDate: date, RefereeEmail: d.Row.Email, CanonicalEmail: d.CanonicalEmail,
			Refcode: d.Row.Refcode, ReferredAtRaw: d.Row.ReferredAt, SelectedPlan: d.Row.SelectedPlan,
			Rewarded: d.Row.Rewarded, Outcome: string(d.Outcome), Reason: d.Reason,
		}
		if len(d.Conversions) > 0 {
			row.Conversions = make([]Conversion, len(d.Conversions))
			for i, cv := range d.Conversions {
				row.Conversions[i] = Conversion{
					CycleID: cv.CycleID, ConvertedAt: unixTime(cv.ConvertedAt), InvoiceID: cv.InvoiceID,
					Pending: cv.Pending, RewardEligible: cv.RewardEligible, Reason: cv.Reason,
				}
			}
		}
		s.ReferralDecisions = append(s.ReferralDecisions, row)
	}
	s.Subscriptions = subscriptionRows(id, date, subs)
	return s
}

func subscriptionRows(id string, date civil.Date, subs []pipeline.Subscription) []Subscription {
	if len(subs) == 0 {
		return nil
	}
	sorted := slices.Clone(subs)
	slices.SortStableFunc(sorted, func(a, b pipeline.Subscription) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Customer, b.Customer), cmp.Compare(a.Created, b.Created))
	})
	rows := make([]Subscription, len(sorted))
	for i, sub := range sorted {
		rows[i] = Subscription{
			SnapshotID: id, SnapshotDate: date, SubscriptionID: sub.ID, CustomerID: sub.Customer,
			Status: sub.Status, Created: unixTime(sub.Created), PriceIDs: slices.Clone(sub.PriceIDs),
		}
	}
	return rows
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
