package pipeline

import (
	"testing"
	"time"
)

// Test helpers shared by the engine's tests: instants, cycles and a small
// testWorld of inputs built as Go values.

func atTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func atUnix(s string) int64 { return atTime(s).Unix() }

func daysPtr(v int64) *int64 { return &v }

// pieCycleMarch is a pie-split cycle over March 2026 in usd: pool 1000, 3
// qualified referrers, by conversions, hold 30 days, attribution 365 days,
// one payment to convert.
func pieCycleMarch() Cycle {
	return Cycle{
		ID:          "c1",
		DisplayName: "March",
		RulesURL:    "https://example.com/rules",
		Rules: Rules{
			AwardModel:            PieSplit,
			StartTime:             atTime("2026-03-01T00:00:00Z"),
			EndTime:               atTime("2026-03-31T23:59:59Z"),
			Currency:              "usd",
			AwardPool:             Money{"usd", 1000},
			HoldDays:              30,
			AttributionDays:       daysPtr(365),
			MinPaymentsToConvert:  1,
			MaxQualifiedReferrers: 3,
			ScoreBy:               ScoreByConversions,
		},
	}
}

// revCycleMarch is pieCycleMarch as rev-share-cap: 10 % of revenue, qualifying at 500.
func revCycleMarch() Cycle {
	c := pieCycleMarch()
	c.Rules.AwardModel = RevShareCap
	c.Rules.MaxQualifiedReferrers, c.Rules.ScoreBy = 0, ""
	c.Rules.MinQualifyingRevenue = Money{"usd", 500}
	c.Rules.RevenueShareBps = 1000
	return c
}

func setOf(cs ...Cycle) CycleSet { return CycleSet{Cycles: cs} }

// testWorld builds Inputs.
type testWorld struct{ in Inputs }

func (w *testWorld) user(email, refcode string) *testWorld {
	w.in.Referrals.Users = append(w.in.Referrals.Users, User{Email: email, Refcode: refcode})
	return w
}

func (w *testWorld) referral(email, refcode, at string) *testWorld {
	w.in.Referrals.Rows = append(w.in.Referrals.Rows, ReferralRow{Email: email, Refcode: refcode, ReferredAt: at})
	return w
}

func (w *testWorld) customer(id, email string) *testWorld {
	w.in.Stripe.Customers = append(w.in.Stripe.Customers, Customer{ID: id, Email: email})
	return w
}

// invoice adds a paid usd invoice on charge "ch_"+id with one line of
// price_pro (lookup key pro_monthly).
func (w *testWorld) invoice(id, cust, paidAt string, amount int64, mod ...func(*Invoice)) *testWorld {
	inv := Invoice{
		ID: id, Customer: cust, Charge: "ch_" + id, Status: "paid", Currency: "usd",
		AmountPaid: amount, PaidAt: atUnix(paidAt),
		Prices: []Price{{ID: "price_pro", LookupKey: "pro_monthly"}},
	}
	for _, m := range mod {
		m(&inv)
	}
	w.in.Stripe.Invoices = append(w.in.Stripe.Invoices, inv)
	return w
}

func (w *testWorld) refund(id, charge string, amount int64, created, status string) *testWorld {
	w.in.Stripe.Refunds = append(w.in.Stripe.Refunds, Refund{ID: id, Charge: charge, Amount: amount, Created: atUnix(created), Status: status})
	return w
}

func computeOK(t *testing.T, in Inputs, set CycleSet, asOf time.Time) *Result {
	t.Helper()
	res, err := Compute(in, set, asOf)
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	return res
}

// decisionFor is the decision of the row with the raw email.
func decisionFor(t *testing.T, res *Result, email string) ReferralDecision {
	t.Helper()
	for _, d := range res.Decisions {
		if d.Row.Email == email {
			return d
		}
	}
	t.Fatalf("no decision for %q", email)
	return ReferralDecision{}
}

// entryFor is refcode's entry (ranked or unranked) in cycle ci.
func entryFor(t *testing.T, res *Result, ci int, refcode string) Entry {
	t.Helper()
	for _, list := range [][]Entry{res.Cycles[ci].Leaderboard, res.Cycles[ci].Unranked} {
		for _, en := range list {
			if en.Refcode == refcode {
				return en
			}
		}
	}
	t.Fatalf("no entry for %q", refcode)
	return Entry{}
}
