package pipeline

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// genInputs builds a synthetic dataset of about n referrals with every kind
// of row the rules handle: invalid and duplicate referees, self-referrals,
// unknown refcodes, several customers per referee, refunds (some after
// asOf), disputes in every status, credit notes of every kind, other
// currencies and plans, unpaid invoices. It is deterministic
// for a seed.
func genInputs(seed uint64, n int) Inputs {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	var in Inputs
	referrers := n/8 + 2
	for i := range referrers {
		in.Referrals.Users = append(in.Referrals.Users, User{Email: fmt.Sprintf("ref%d@referrers.test", i), Refcode: "R" + strconv.Itoa(i)})
	}
	in.Referrals.Users = append(in.Referrals.Users, User{Email: "nocode@referrers.test"})
	from := atUnix("2025-11-01T00:00:00Z")
	span := atUnix("2026-12-31T00:00:00Z") - from
	var invoiceN, refundN int
	for i := range n {
		ref := "R" + strconv.Itoa(rng.IntN(referrers))
		local := "u" + strconv.Itoa(i)
		domain := "example.com"
		if rng.IntN(4) == 0 {
			domain = "gmail.com"
		}
		email := local + "@" + domain
		at := from + rng.Int64N(span/2)
		atText := time.Unix(at, 0).UTC().Format(time.DateTime)
		switch rng.IntN(40) {
		case 0:
			email = "broken-" + local
		case 1:
			ref = "NOPE" + strconv.Itoa(i%7)
		case 2:
			atText = "yesterday"
		case 3: // a duplicate of an earlier referee, written differently
			if i > 0 {
				email = fmt.Sprintf("u%d+dup@example.com", rng.IntN(i))
			}
		case 4: // self-referral
			r := rng.IntN(referrers)
			ref, email = "R"+strconv.Itoa(r), fmt.Sprintf("Ref%d+me@referrers.test", r)
		case 5:
			atText = time.Unix(at, 0).UTC().Format(time.RFC3339)
		}
		row := ReferralRow{Email: email, Refcode: ref, ReferredAt: atText, SelectedPlan: "pro", Rewarded: rng.IntN(10) == 0}
		if rng.IntN(3) == 0 {
			row.Email = " " + row.Email
		}
		in.Referrals.Rows = append(in.Referrals.Rows, row)

		customers := 0
		switch r := rng.IntN(10); {
		case r < 7:
			customers = 1
		case r < 8:
			customers = 2
		}
		for c := range customers {
			cusID := fmt.Sprintf("cus_%d_%d", i, c)
			cusEmail := email
			if c == 1 {
				cusEmail = local + "+billing@" + domain
			}
			in.Stripe.Customers = append(in.Stripe.Customers, Customer{ID: cusID, Email: cusEmail})
			if rng.IntN(5) == 0 {
				in.Stripe.Subscriptions = append(in.Stripe.Subscriptions, Subscription{ID: "sub_" + cusID, Customer: cusID, Status: "active", Created: at, PriceIDs: []string{"price_pro", "price_addon"}})
			}
			paidAt := at - 10*daySeconds + rng.Int64N(40*daySeconds)
			invoices := rng.IntN(5)
			special := -1
			if customers == 1 && rng.IntN(5) == 0 {
				// One invoice that stops the referral at a given stage.
				special, invoices = rng.IntN(3), 1
				if special == 2 {
					paidAt = at + 200*daySeconds
				}
			}
			for range invoices {
				invoiceN++
				inv := Invoice{
					ID: fmt.Sprintf("in_%07d", invoiceN), Customer: cusID, Charge: fmt.Sprintf("ch_%07d", invoiceN),
					Status: "paid", Currency: "usd", AmountPaid: 500 + rng.Int64N(5000), PaidAt: paidAt,
					Prices: []Price{{ID: "price_pro", LookupKey: "pro_monthly"}},
				}
				switch special {
				case 0:
					in.Stripe.Refunds = append(in.Stripe.Refunds, Refund{ID: "re_full_" + inv.ID, Amount: inv.AmountPaid, Status: "succeeded", Created: paidAt + daySeconds, Charge: inv.Charge})
				case 1:
					inv.Prices = []Price{{ID: "price_basic"}}
				}
				switch rng.IntN(12) {
				case 0:
					inv.Status, inv.PaidAt = "open", 0
				case 1:
					inv.Currency = "eur"
				case 2:
					inv.Prices = []Price{{ID: "price_basic"}, {ID: "price_addon", LookupKey: "addon"}}
				case 3:
					inv.Tax = inv.AmountPaid / 5
				case 4:
					inv.AmountPaid = 0
				}
				in.Stripe.Invoices = append(in.Stripe.Invoices, inv)
				if rng.IntN(10) == 0 {
					// A dispute in any status; some take the whole payment.
					amount := inv.AmountPaid
					if rng.IntN(2) == 0 {
						amount = rng.Int64N(inv.AmountPaid + 1)
					}
					in.Stripe.Disputes = append(in.Stripe.Disputes, Dispute{
						ID: "dp_" + inv.ID, Charge: inv.Charge, Amount: amount, Currency: inv.Currency,
						Status: disputeStatuses[rng.IntN(len(disputeStatuses))], Created: paidAt + rng.Int64N(60*daySeconds),
					})
				}
				if rng.IntN(10) == 0 {
					// A credit note: post- or pre-payment, issued or void,
					// naming a refund that exists, one that does not, or none.
					cn := CreditNote{ID: "cn_" + inv.ID, Invoice: inv.ID, Type: "post_payment", Status: "issued",
						Amount: rng.Int64N(inv.AmountPaid + 1), Created: paidAt + rng.Int64N(60*daySeconds)}
					switch rng.IntN(6) {
					case 0:
						cn.Type = "pre_payment"
					case 1:
						cn.Status = "void"
					case 2:
						cn.Refund = "re_missing_" + inv.ID
					case 3, 4:
						refundN++
						cn.Refund = fmt.Sprintf("re_%07d", refundN)
						status := "succeeded"
						if rng.IntN(3) == 0 {
							status = "pending"
						}
						in.Stripe.Refunds = append(in.Stripe.Refunds, Refund{ID: cn.Refund, Amount: rng.Int64N(cn.Amount + 1),
							Status: status, Created: cn.Created, Charge: inv.Charge})
					}
					in.Stripe.CreditNotes = append(in.Stripe.CreditNotes, cn)
				}
				if rng.IntN(8) == 0 {
					refundN++
					status := "succeeded"
					if rng.IntN(4) == 0 {
						status = "failed"
					}
					in.Stripe.Refunds = append(in.Stripe.Refunds, Refund{
						ID: fmt.Sprintf("re_%07d", refundN), Amount: rng.Int64N(inv.AmountPaid + 1), Status: status,
						Created: paidAt + rng.Int64N(60*daySeconds), Charge: inv.Charge,
					})
				}
				paidAt += 20*daySeconds + rng.Int64N(20*daySeconds)
			}
		}
	}
	// Customers nobody referred.
	for i := range n / 4 {
		in.Stripe.Customers = append(in.Stripe.Customers, Customer{ID: fmt.Sprintf("cus_x%d", i), Email: fmt.Sprintf("stranger%d@example.org", i)})
	}
	return in
}

// disputeStatuses are every status of a dispute in API 2023-10-16.
var disputeStatuses = []string{"warning_needs_response", "warning_under_review", "warning_closed",
	"needs_response", "under_review", "won", "lost"}

// genCycles is 12 monthly cycles from November 2025, alternating the award
// models and rules, with admin actions on a few referrers.
func genCycles() CycleSet {
	var set CycleSet
	start := atTime("2025-11-01T00:00:00Z")
	for m := range 12 {
		end := start.AddDate(0, 1, 0).Add(-time.Second)
		r := Rules{
			StartTime: start, EndTime: end, Currency: "usd", AwardPool: Money{"usd", 1_000_000},
			HoldDays: 30, AttributionDays: daysPtr(90), MinPaymentsToConvert: 1 + int64(m%3/2),
			EligiblePlans: []string{"pro_monthly", "price_addon"},
			AdminActions: []AdminAction{
				{ActionType: Disqualification, Refcode: "R" + strconv.Itoa(m), Reason: "fraud"},
				{ActionType: Warning, Refcode: "R" + strconv.Itoa(m+1), Reason: "watch"},
			},
		}
		if m%2 == 1 {
			r.AttributionDays = daysPtr(120)
			r.EligiblePlans = []string{"price_pro"}
		}
		switch m % 3 {
		case 0:
			r.AwardModel, r.MaxQualifiedReferrers, r.ScoreBy = PieSplit, 10, ScoreByConversions
		case 1:
			r.AwardModel, r.MaxQualifiedReferrers, r.ScoreBy = PieSplit, 1+int64(m), ScoreByRevenue
		default:
			r.AwardModel, r.MinQualifyingRevenue, r.RevenueShareBps = RevShareCap, Money{"usd", 5000}, 1500
			r.AwardPool.Amount = 50_000
		}
		set.Cycles = append(set.Cycles, Cycle{ID: fmt.Sprintf("m%02d", m), DisplayName: "month", RulesURL: "https://example.com/rules", Rules: r})
		start = end.Add(time.Second)
	}
	return set
}

// shuffleInputs returns a copy of in with every slice, nested ones too, in
// a random order.
func shuffleInputs(rng *rand.Rand, in Inputs) Inputs {
	out := Inputs{
		Referrals: Referrals{Users: shuffled(rng, in.Referrals.Users), Rows: shuffled(rng, in.Referrals.Rows)},
		Stripe: Stripe{
			Customers:     shuffled(rng, in.Stripe.Customers),
			Subscriptions: shuffled(rng, in.Stripe.Subscriptions),
			Invoices:      shuffled(rng, in.Stripe.Invoices),
			Refunds:       shuffled(rng, in.Stripe.Refunds),
			Disputes:      shuffled(rng, in.Stripe.Disputes),
			CreditNotes:   shuffled(rng, in.Stripe.CreditNotes),
		},
	}
	for i := range out.Stripe.Invoices {
		out.Stripe.Invoices[i].Prices = shuffled(rng, out.Stripe.Invoices[i].Prices)
	}
	for i := range out.Stripe.Subscriptions {
		out.Stripe.Subscriptions[i].PriceIDs = shuffled(rng, out.Stripe.Subscriptions[i].PriceIDs)
	}
	return out
}

func shuffled[T any](rng *rand.Rand, s []T) []T {
	if s == nil {
		return nil
	}
	c := append([]T(nil), s...)
	rng.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c
}
