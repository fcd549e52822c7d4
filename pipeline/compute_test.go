package pipeline

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReferralOutcomes(t *testing.T) {
	w := &testWorld{}
	w.user("alice@example.com", "ALICE").
		user("J.Doe@gmail.com", "JDOE").
		user("carol+x@example.com", "CAROL").
		user("nobody@example.com", "")
	type want struct {
		outcome Outcome
		reason  string
	}
	rows := []struct {
		email, refcode, at string
		want               want
	}{
		{"bad-email", "ALICE", "2026-03-01 00:00:00", want{Quarantined, ReasonInvalidEmail}},
		{"a@b@c", "ALICE", "2026-03-01 00:00:00", want{Quarantined, ReasonInvalidEmail}},
		{"bad@", "NOPE", "garbage", want{Quarantined, ReasonInvalidEmail}}, // email checked first
		{"x@example.com", "", "2026-03-01 00:00:00", want{Quarantined, ReasonUnknownRefcode}},
		{"y@example.com", "NOPE", "2026-03-01 00:00:00", want{Quarantined, ReasonUnknownRefcode}},
		{"y2@example.com", "alice", "2026-03-01 00:00:00", want{Quarantined, ReasonUnknownRefcode}}, // refcodes are case-sensitive
		{"z3@example.com", "NOPE", "garbage", want{Quarantined, ReasonUnknownRefcode}},              // refcode before timestamp
		{"z@example.com", "ALICE", "2026-13-01 00:00:00", want{Quarantined, ReasonInvalidTimestamp}},
		{"z2@example.com", "ALICE", "", want{Quarantined, ReasonInvalidTimestamp}},
		{"z4@example.com", "ALICE", "2026-03-01T00:00:00", want{Quarantined, ReasonInvalidTimestamp}}, // no zone
		{"z5@example.com", "ALICE", "1772323200", want{Quarantined, ReasonInvalidTimestamp}},
		{"z6@example.com", "ALICE", "2026-03-01T10:00:00+24:00", want{Quarantined, ReasonInvalidTimestamp}}, // RFC 3339 offsets stop at 23:59
		{"z7@example.com", "ALICE", "2026-03-01T10:00:00+00:60", want{Quarantined, ReasonInvalidTimestamp}},
		{"jdoe+ref@googlemail.com", "JDOE", "2026-03-01 00:00:00", want{Excluded, ReasonSelfReferral}},
		{"j.d.o.e@gmail.com", "JDOE", "2026-03-01 00:00:00", want{Excluded, ReasonSelfReferral}},
		{"CAROL+other@Example.com", "CAROL", "2026-03-01 00:00:00", want{Excluded, ReasonSelfReferral}},
		// Valid rows with no Stripe customer carry no_customer.
		{"jdoe@gmail.com", "ALICE", "2026-03-02 00:00:00", want{Valid, ReasonNoCustomer}},
		{"J.Doe+2@gmail.com", "ALICE", "2026-03-05T00:00:00Z", want{Excluded, ReasonDuplicateReferee}},
		{"eve+1@example.com", "ALICE", "2026-03-03 00:00:00", want{Excluded, ReasonDuplicateReferee}},
		{"eve+2@example.com", "CAROL", "2026-03-02 23:59:59", want{Valid, ReasonNoCustomer}},
		// Same instant: the raw email decides bytewise ('D' < 'd').
		{"dup@example.com", "ALICE", "2026-03-01 10:00:00", want{Excluded, ReasonDuplicateReferee}},
		{"Dup@example.com", "CAROL", "2026-03-01T11:00:00+01:00", want{Valid, ReasonNoCustomer}},
		{"off@example.com", "ALICE", "2026-03-01T01:00:00.75+01:00", want{Valid, ReasonNoCustomer}},
	}
	for _, r := range rows {
		w.referral(r.email, r.refcode, r.at)
	}
	res := computeOK(t, w.in, setOf(pieCycleMarch()), atTime("2026-05-01T00:00:00Z"))
	if len(res.Decisions) != len(rows) {
		t.Fatalf("got %d decisions for %d rows", len(res.Decisions), len(rows))
	}
	if !slices.IsSortedFunc(res.Decisions, func(a, b ReferralDecision) int { return strings.Compare(a.Row.Email, b.Row.Email) }) {
		t.Error("decisions are not sorted by raw email")
	}
	for _, r := range rows {
		d := decisionFor(t, res, r.email)
		if got := (want{d.Outcome, d.Reason}); got != r.want {
			t.Errorf("%s (%s, %q): got %v, want %v", r.email, r.refcode, r.at, got, r.want)
		}
		if len(d.Conversions) != 0 {
			t.Errorf("%s: unexpected conversions %v", r.email, d.Conversions)
		}
	}
	if d := decisionFor(t, res, "off@example.com"); d.ReferredAt != atUnix("2026-03-01T00:00:00Z") || d.CanonicalEmail != "off@example.com" {
		t.Errorf("off@example.com: ReferredAt %d, canonical %q", d.ReferredAt, d.CanonicalEmail)
	}
	if d := decisionFor(t, res, "J.Doe+2@gmail.com"); d.CanonicalEmail != "jdoe@gmail.com" || d.ReferredAt != atUnix("2026-03-05T00:00:00Z") {
		t.Errorf("J.Doe+2@gmail.com: canonical %q, ReferredAt %d", d.CanonicalEmail, d.ReferredAt)
	}
	if d := decisionFor(t, res, "bad-email"); d.CanonicalEmail != "" || d.ReferredAt != atUnix("2026-03-01T00:00:00Z") {
		t.Errorf("bad-email: canonical %q, ReferredAt %d", d.CanonicalEmail, d.ReferredAt)
	}
	// Valid referrals with referred_at in March count for their referrer.
	if en := entryFor(t, res, 0, "ALICE"); en.Referrals != 2 { // jdoe@gmail.com, off@example.com
		t.Errorf("ALICE referrals = %d, want 2", en.Referrals)
	}
	if en := entryFor(t, res, 0, "CAROL"); en.Referrals != 2 { // eve+2, Dup
		t.Errorf("CAROL referrals = %d, want 2", en.Referrals)
	}
	if got := res.Cycles[0].Totals.Referrals; got != 4 {
		t.Errorf("Totals.Referrals = %d, want 4", got)
	}
	// Referrers: every users row by refcode; the empty refcode has no entry.
	wantUsers := []User{{"nobody@example.com", ""}, {"alice@example.com", "ALICE"}, {"carol+x@example.com", "CAROL"}, {"J.Doe@gmail.com", "JDOE"}}
	if !reflect.DeepEqual(res.Referrers, wantUsers) {
		t.Errorf("Referrers = %v, want %v", res.Referrers, wantUsers)
	}
	var unranked []string
	for _, en := range res.Cycles[0].Unranked {
		unranked = append(unranked, en.Refcode)
	}
	if want := []string{"ALICE", "CAROL", "JDOE"}; !slices.Equal(unranked, want) {
		t.Errorf("Unranked = %v, want %v", unranked, want)
	}
}

// TestPaymentRules runs one referral (bob, referred by ALICE on 1 February
// 2026) through the payment rules against the March pie-split cycle.
func TestPaymentRules(t *testing.T) {
	const defaultAsOf = "2026-05-15T00:00:00Z"
	mar10 := "2026-03-10T00:00:00Z"
	conv := func(inv, at string, pending bool, reason string) Conversion {
		return Conversion{CycleID: "c1", ConvertedAt: atUnix(at), InvoiceID: inv, Pending: pending, RewardEligible: reason == "", Reason: reason}
	}
	eligible := func(inv, at string) []Conversion { return []Conversion{conv(inv, at, false, "")} }
	tests := []struct {
		name        string
		build       func(w *testWorld)
		rules       func(r *Rules)
		asOf        string
		wantReason  string
		wantConv    []Conversion
		wantRevenue int64
		wantPending int64
		wantEvents  int
	}{
		{name: "converts", build: func(w *testWorld) { w.invoice("in_1", "cus_1", mar10, 500) },
			wantConv: eligible("in_1", mar10), wantRevenue: 500, wantEvents: 1},
		{name: "tax is not revenue", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", mar10, 500, func(i *Invoice) { i.Tax = 120 })
		}, wantConv: eligible("in_1", mar10), wantRevenue: 380, wantEvents: 1},
		{name: "partial refund", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", mar10, 500).refund("re_1", "ch_in_1", 200, "2026-03-20T00:00:00Z", "succeeded")
		}, wantConv: eligible("in_1", mar10), wantRevenue: 300, wantEvents: 1},
		{name: "full refund", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", mar10, 500).refund("re_1", "ch_in_1", 500, "2026-03-20T00:00:00Z", "succeeded")
		}, wantReason: ReasonRefunded},
		{name: "refunds summed beyond the amount", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", mar10, 500).
				refund("re_1", "ch_in_1", 300, "2026-03-20T00:00:00Z", "succeeded").
				refund("re_2", "ch_in_1", 300, "2026-03-21T00:00:00Z", "succeeded")
		}, wantReason: ReasonRefunded},
		{name: "refund created after asOf ignored", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", mar10, 500).refund("re_1", "ch_in_1", 500, "2026-05-15T00:00:01Z", "succeeded")
		}, wantConv: eligible("in_1", mar10), wantRevenue: 500, wantEvents: 1},
		{name: "refund created at asOf counts", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", mar10, 500).refund("re_1", "ch_in_1", 500, defaultAsOf, "succeeded")
		}, wantReason: ReasonRefunded},
		{name: "failed and pending refunds ignored", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", mar10, 500).
				refund("re_1", "ch_in_1", 500, "2026-03-20T00:00:00Z", "failed").
				refund("re_2", "ch_in_1", 500, "2026-03-20T00:00:00Z", "pending")
		}, wantConv: eligible("in_1", mar10), wantRevenue: 500, wantEvents: 1},
		{name: "refund on a charge shared by two invoices applies to each", build: func(w *testWorld) {
			shared := func(i *Invoice) { i.Charge = "ch_x" }
			w.invoice("in_1", "cus_1", mar10, 500, shared).invoice("in_2", "cus_1", "2026-03-11T00:00:00Z", 500, shared).
				refund("re_1", "ch_x", 100, "2026-03-20T00:00:00Z", "succeeded")
		}, wantConv: eligible("in_1", mar10), wantRevenue: 800, wantEvents: 2},
		{name: "pending one second before the hold ends", build: func(w *testWorld) { w.invoice("in_1", "cus_1", mar10, 500) },
			asOf: "2026-04-08T23:59:59Z", wantConv: []Conversion{conv("in_1", mar10, true, ReasonPendingHold)},
			wantRevenue: 500, wantPending: 500, wantEvents: 1},
		{name: "confirmed exactly when the hold ends", build: func(w *testWorld) { w.invoice("in_1", "cus_1", mar10, 500) },
			asOf: "2026-04-09T00:00:00Z", wantConv: eligible("in_1", mar10), wantRevenue: 500, wantEvents: 1},
		{name: "window start inclusive", build: func(w *testWorld) { w.invoice("in_1", "cus_1", "2026-03-01T00:00:00Z", 500) },
			wantConv: eligible("in_1", "2026-03-01T00:00:00Z"), wantRevenue: 500, wantEvents: 1},
		{name: "window end inclusive", build: func(w *testWorld) { w.invoice("in_1", "cus_1", "2026-03-31T23:59:59Z", 500) },
			wantConv: eligible("in_1", "2026-03-31T23:59:59Z"), wantRevenue: 500, wantEvents: 1},
		{name: "after the window", build: func(w *testWorld) { w.invoice("in_1", "cus_1", "2026-04-01T00:00:00Z", 500) },
			wantReason: ReasonOutsideCycles},
		{name: "before the window", build: func(w *testWorld) { w.invoice("in_1", "cus_1", "2026-02-15T00:00:00Z", 500) },
			wantReason: ReasonOutsideCycles},
		{name: "paid before referral", build: func(w *testWorld) { w.invoice("in_1", "cus_1", "2026-01-31T23:59:59Z", 500) },
			wantReason: ReasonPaidBeforeReferral},
		{name: "paid at referred_at counts", build: func(w *testWorld) {
			w.in.Referrals.Rows[0].ReferredAt = "2026-03-05 00:00:00"
			w.invoice("in_1", "cus_1", "2026-03-05T00:00:00Z", 500)
		}, wantConv: eligible("in_1", "2026-03-05T00:00:00Z"), wantRevenue: 500, wantEvents: 1},
		{name: "no customer", build: func(w *testWorld) { w.in.Stripe.Customers = nil; w.invoice("in_1", "cus_1", mar10, 500) },
			wantReason: ReasonNoCustomer},
		{name: "customer found by canonical email", build: func(w *testWorld) {
			w.in.Stripe.Customers[0].Email = " Bob+stripe@EXAMPLE.com"
			w.invoice("in_1", "cus_1", mar10, 500)
		}, wantConv: eligible("in_1", mar10), wantRevenue: 500, wantEvents: 1},
		{name: "customer without invoices", build: func(w *testWorld) {}, wantReason: ReasonNoPaidInvoice},
		{name: "open invoice", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", mar10, 500, func(i *Invoice) { i.Status = "open" })
		}, wantReason: ReasonNoPaidInvoice},
		{name: "paid after asOf", build: func(w *testWorld) { w.invoice("in_1", "cus_1", mar10, 500) },
			asOf: "2026-03-09T23:59:59Z", wantReason: ReasonNoPaidInvoice},
		{name: "paid exactly at asOf", build: func(w *testWorld) { w.invoice("in_1", "cus_1", mar10, 500) },
			asOf: mar10, wantConv: []Conversion{conv("in_1", mar10, true, ReasonPendingHold)},
			wantRevenue: 500, wantPending: 500, wantEvents: 1},
		{name: "zero-amount invoice is not a payment", build: func(w *testWorld) { w.invoice("in_1", "cus_1", mar10, 0) },
			wantReason: ReasonNoPaidInvoice},
		{name: "tax at least the amount is not a payment", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", mar10, 100, func(i *Invoice) { i.Tax = 100 })
		}, wantReason: ReasonNoPaidInvoice},
		{name: "currency mismatch", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", mar10, 500, func(i *Invoice) { i.Currency = "eur" })
		}, wantReason: ReasonCurrencyMismatch},
		{name: "plan not eligible", build: func(w *testWorld) { w.invoice("in_1", "cus_1", mar10, 500) },
			rules: func(r *Rules) { r.EligiblePlans = []string{"price_enterprise"} }, wantReason: ReasonPlanNotEligible},
		{name: "plan eligible by price id on a later line", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", mar10, 500, func(i *Invoice) { i.Prices = append(i.Prices, Price{ID: "price_enterprise"}) })
		}, rules: func(r *Rules) { r.EligiblePlans = []string{"price_enterprise"} },
			wantConv: eligible("in_1", mar10), wantRevenue: 500, wantEvents: 1},
		{name: "plan eligible by lookup key", build: func(w *testWorld) { w.invoice("in_1", "cus_1", mar10, 500) },
			rules:    func(r *Rules) { r.EligiblePlans = []string{"pro_monthly"} },
			wantConv: eligible("in_1", mar10), wantRevenue: 500, wantEvents: 1},
		{name: "attribution window end inclusive", build: func(w *testWorld) { w.invoice("in_1", "cus_1", "2026-03-03T00:00:00Z", 500) },
			rules:    func(r *Rules) { r.AttributionDays = daysPtr(30) }, // 1 Feb + 30 days = 3 Mar
			wantConv: eligible("in_1", "2026-03-03T00:00:00Z"), wantRevenue: 500, wantEvents: 1},
		{name: "attribution window exceeded by a second", build: func(w *testWorld) { w.invoice("in_1", "cus_1", "2026-03-03T00:00:01Z", 500) },
			rules: func(r *Rules) { r.AttributionDays = daysPtr(30) }, wantReason: ReasonOutsideAttributionWindow},
		{name: "unlimited attribution", build: func(w *testWorld) {
			w.in.Referrals.Rows[0].ReferredAt = "2000-01-01 00:00:00"
			w.invoice("in_1", "cus_1", mar10, 500)
		}, rules: func(r *Rules) { r.AttributionDays = nil }, wantConv: eligible("in_1", mar10), wantRevenue: 500, wantEvents: 1},
		{name: "minPaymentsToConvert 2 counts a payment before the window", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", "2026-02-20T00:00:00Z", 100).invoice("in_2", "cus_1", mar10, 200)
		}, rules: func(r *Rules) { r.MinPaymentsToConvert = 2 }, wantConv: eligible("in_2", mar10), wantRevenue: 200, wantEvents: 1},
		{name: "minPaymentsToConvert 2 with one payment", build: func(w *testWorld) { w.invoice("in_1", "cus_1", mar10, 500) },
			rules: func(r *Rules) { r.MinPaymentsToConvert = 2 }, wantReason: ReasonOutsideCycles, wantRevenue: 500, wantEvents: 1},
		{name: "minPaymentsToConvert 2 reached after the window", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", mar10, 500).invoice("in_2", "cus_1", "2026-04-02T00:00:00Z", 500)
		}, rules: func(r *Rules) { r.MinPaymentsToConvert = 2 }, wantReason: ReasonOutsideCycles, wantRevenue: 500, wantEvents: 1},
		{name: "non-qualifying payments do not count towards minPayments", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", "2026-03-02T00:00:00Z", 500, func(i *Invoice) { i.Currency = "eur" }).
				invoice("in_2", "cus_1", mar10, 500)
		}, rules: func(r *Rules) { r.MinPaymentsToConvert = 2 }, wantReason: ReasonOutsideCycles, wantRevenue: 500, wantEvents: 1},
		{name: "customers sharing a canonical email pool their invoices", build: func(w *testWorld) {
			w.customer("cus_2", "bob+2@example.com").
				invoice("in_b", "cus_1", mar10, 500).invoice("in_a", "cus_2", "2026-03-05T00:00:00Z", 300)
		}, rules: func(r *Rules) { r.MinPaymentsToConvert = 2 }, wantConv: eligible("in_b", mar10), wantRevenue: 800, wantEvents: 2},
		{name: "equal paid_at ordered by invoice id", build: func(w *testWorld) {
			w.invoice("in_b", "cus_1", mar10, 500).invoice("in_a", "cus_1", mar10, 300)
		}, wantConv: eligible("in_a", mar10), wantRevenue: 800, wantEvents: 2},
		{name: "already rewarded", build: func(w *testWorld) {
			w.in.Referrals.Rows[0].Rewarded = true
			w.invoice("in_1", "cus_1", mar10, 500)
		}, wantConv: []Conversion{conv("in_1", mar10, false, ReasonAlreadyRewarded)}, wantRevenue: 500, wantEvents: 1},
		{name: "referrer disqualified", build: func(w *testWorld) { w.invoice("in_1", "cus_1", mar10, 500) },
			rules: func(r *Rules) {
				r.AdminActions = []AdminAction{{ActionType: Disqualification, Refcode: "ALICE", Reason: "fraud"}}
			}, wantConv: []Conversion{conv("in_1", mar10, false, ReasonReferrerDisqualified)}, wantRevenue: 500, wantEvents: 1},
		{name: "a warning does not block the reward", build: func(w *testWorld) { w.invoice("in_1", "cus_1", mar10, 500) },
			rules: func(r *Rules) {
				r.AdminActions = []AdminAction{{ActionType: Warning, Refcode: "ALICE", Reason: "watch"}}
			}, wantConv: eligible("in_1", mar10), wantRevenue: 500, wantEvents: 1},
		{name: "pending takes precedence over disqualified", build: func(w *testWorld) { w.invoice("in_1", "cus_1", mar10, 500) },
			asOf: "2026-03-20T00:00:00Z",
			rules: func(r *Rules) {
				r.AdminActions = []AdminAction{{ActionType: Disqualification, Refcode: "ALICE", Reason: "fraud"}}
			}, wantConv: []Conversion{conv("in_1", mar10, true, ReasonPendingHold)}, wantRevenue: 500, wantPending: 500, wantEvents: 1},
		{name: "disqualified takes precedence over already rewarded", build: func(w *testWorld) {
			w.in.Referrals.Rows[0].Rewarded = true
			w.invoice("in_1", "cus_1", mar10, 500)
		}, rules: func(r *Rules) {
			r.AdminActions = []AdminAction{{ActionType: Disqualification, Refcode: "ALICE", Reason: "fraud"}}
		}, wantConv: []Conversion{conv("in_1", mar10, false, ReasonReferrerDisqualified)}, wantRevenue: 500, wantEvents: 1},
		{name: "furthest stage over all invoices", build: func(w *testWorld) {
			w.invoice("in_1", "cus_1", "2026-01-10T00:00:00Z", 500).
				invoice("in_2", "cus_1", mar10, 500, func(i *Invoice) { i.Currency = "eur" }).
				invoice("in_3", "cus_1", mar10, 500, func(i *Invoice) { i.Status = "void" })
		}, wantReason: ReasonCurrencyMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &testWorld{}
			w.user("alice@example.com", "ALICE").
				referral("bob@example.com", "ALICE", "2026-02-01 00:00:00").
				customer("cus_1", "bob@example.com")
			tt.build(w)
			c := pieCycleMarch()
			if tt.rules != nil {
				tt.rules(&c.Rules)
			}
			asOf := tt.asOf
			if asOf == "" {
				asOf = defaultAsOf
			}
			res := computeOK(t, w.in, setOf(c), atTime(asOf))
			d := decisionFor(t, res, "bob@example.com")
			if d.Outcome != Valid || d.Reason != tt.wantReason {
				t.Errorf("outcome %s, reason %q; want valid, %q", d.Outcome, d.Reason, tt.wantReason)
			}
			if !reflect.DeepEqual(d.Conversions, tt.wantConv) {
				t.Errorf("conversions\n got %+v\nwant %+v", d.Conversions, tt.wantConv)
			}
			en := entryFor(t, res, 0, "ALICE")
			wantConvs, wantPendingConvs := int64(len(tt.wantConv)), int64(0)
			if len(tt.wantConv) == 1 && tt.wantConv[0].Pending {
				wantPendingConvs = 1
			}
			if en.Revenue != tt.wantRevenue || en.PendingRevenue != tt.wantPending || en.Conversions != wantConvs || en.PendingConversions != wantPendingConvs {
				t.Errorf("entry revenue %d pending %d conversions %d pending %d; want %d %d %d %d",
					en.Revenue, en.PendingRevenue, en.Conversions, en.PendingConversions,
					tt.wantRevenue, tt.wantPending, wantConvs, wantPendingConvs)
			}
			if got := len(res.Cycles[0].Events); got != tt.wantEvents {
				t.Errorf("%d events, want %d", got, tt.wantEvents)
			}
			if (en.Rank > 0) != (tt.wantRevenue > 0) {
				t.Errorf("rank %d with revenue %d", en.Rank, tt.wantRevenue)
			}
			tot := res.Cycles[0].Totals
			if tot.Revenue != tt.wantRevenue || tot.PendingRevenue != tt.wantPending || tot.Conversions != wantConvs || tot.PendingConversions != wantPendingConvs {
				t.Errorf("totals %+v", tot)
			}
		})
	}
}

// referee adds a referee n of refcode ref, referred on 10 February 2026,
// with customer cus_n and invoices in_<n><k> paid at the given times.
func (w *testWorld) referee(ref, n string, amount int64, paidAt ...string) *testWorld {
	w.referral(n+"@example.com", ref, "2026-02-10 00:00:00").customer("cus_"+n, n+"@example.com")
	for k, at := range paidAt {
		w.invoice("in_"+n+string(rune('1'+k)), "cus_"+n, at, amount)
	}
	return w
}

func TestPieSplitCycle(t *testing.T) {
	w := &testWorld{}
	for _, rc := range []string{"A", "B", "C", "D", "E", "F", "G", "H"} {
		w.user(strings.ToLower(rc)+"@referrers.test", rc)
	}
	w.referee("E", "e1", 100, "2026-03-02T00:00:00Z").
		referee("E", "e2", 100, "2026-03-02T12:00:00Z").
		referee("E", "e3", 100, "2026-03-04T00:00:00Z").
		referee("B", "b1", 100, "2026-03-03T00:00:00Z").
		referee("B", "b2", 100, "2026-03-06T00:00:00Z").
		referee("A", "a1", 100, "2026-03-05T00:00:00Z").
		referee("A", "a2", 100, "2026-03-07T00:00:00Z").
		referee("C", "c1", 100, "2026-03-08T00:00:00Z").
		referee("D", "d1", 100, "2026-03-08T00:00:00Z").
		// F converted before the window: March revenue, no March conversion.
		referee("F", "f1", 50, "2026-02-20T00:00:00Z", "2026-03-09T00:00:00Z").
		referral("h1@example.com", "H", "2026-03-15 00:00:00")
	for i := range w.in.Referrals.Rows {
		if w.in.Referrals.Rows[i].Email == "a2@example.com" {
			w.in.Referrals.Rows[i].ReferredAt = "2026-03-01 00:00:00" // counts as a March referral
		}
	}
	c := pieCycleMarch()
	c.Rules.AwardPool.Amount = 1001
	c.Rules.HoldDays = 0
	c.Rules.AdminActions = []AdminAction{
		{ActionType: Disqualification, Refcode: "E", Reason: "fraud"},
		{ActionType: Warning, Refcode: "F", Reason: "watch"},
	}
	res := computeOK(t, w.in, setOf(c), atTime("2026-05-01T00:00:00Z"))
	cr := res.Cycles[0]
	disq, warn := c.Rules.AdminActions[0], c.Rules.AdminActions[1]
	// E 3 (disqualified), B 2 (6 Mar), A 2 (7 Mar), C 1 and D 1 (8 Mar:
	// refcode), F 0. Qualified B, A, C: weights 2×4, 2×3, 1×2 = 8, 6, 2;
	// W = 16; 1001×8/16 = 500 r 8, 1001×6/16 = 375 r 6, 1001×2/16 = 125 r 2;
	// the one unit left goes to B.
	want := []Entry{
		{Rank: 1, Refcode: "E", Score: 3, Conversions: 3, Revenue: 300, ScoreReachedAt: atUnix("2026-03-04T00:00:00Z"), BoostDen: 1, AdminAction: &disq},
		{Rank: 2, Refcode: "B", Score: 2, Conversions: 2, Revenue: 200, ScoreReachedAt: atUnix("2026-03-06T00:00:00Z"), Qualified: true, BoostNum: 1, BoostDen: 1, Award: 501},
		{Rank: 3, Refcode: "A", Score: 2, Referrals: 1, Conversions: 2, Revenue: 200, ScoreReachedAt: atUnix("2026-03-07T00:00:00Z"), Qualified: true, BoostNum: 1, BoostDen: 2, Award: 375},
		{Rank: 4, Refcode: "C", Score: 1, Conversions: 1, Revenue: 100, ScoreReachedAt: atUnix("2026-03-08T00:00:00Z"), Qualified: true, BoostNum: 0, BoostDen: 1, Award: 125},
		{Rank: 5, Refcode: "D", Score: 1, Conversions: 1, Revenue: 100, ScoreReachedAt: atUnix("2026-03-08T00:00:00Z"), BoostDen: 1},
		{Rank: 6, Refcode: "F", Score: 0, Conversions: 0, Revenue: 50, ScoreReachedAt: atUnix("2026-03-09T00:00:00Z"), BoostDen: 1, AdminAction: &warn},
	}
	if !reflect.DeepEqual(cr.Leaderboard, want) {
		t.Errorf("leaderboard\n got %+v\nwant %+v", cr.Leaderboard, want)
	}
	wantUnranked := []Entry{{Refcode: "G", BoostDen: 1}, {Refcode: "H", Referrals: 1, BoostDen: 1}}
	if !reflect.DeepEqual(cr.Unranked, wantUnranked) {
		t.Errorf("unranked\n got %+v\nwant %+v", cr.Unranked, wantUnranked)
	}
	wantTotals := Totals{Referrals: 2, Conversions: 9, Revenue: 950, RankedReferrers: 6, QualifiedReferrers: 3, Awarded: 1001}
	if cr.Totals != wantTotals {
		t.Errorf("totals %+v, want %+v", cr.Totals, wantTotals)
	}
	if cr.AwardPoolRemaining != 0 || cr.Status != AwardsReview || !cr.IsFinal {
		t.Errorf("remaining %d status %s final %v", cr.AwardPoolRemaining, cr.Status, cr.IsFinal)
	}
	var ids []string
	for _, ev := range cr.Events {
		ids = append(ids, ev.InvoiceID)
		if ev.PoolBefore != 0 || ev.Claim != 0 {
			t.Errorf("pie-split event %s has pool %d claim %d", ev.InvoiceID, ev.PoolBefore, ev.Claim)
		}
	}
	wantIDs := []string{"in_e11", "in_e21", "in_b11", "in_e31", "in_a11", "in_b21", "in_a21", "in_c11", "in_d11", "in_f12"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("events %v, want %v", ids, wantIDs)
	}
	wantA2 := AccountingLine{InvoiceID: "in_a21", CustomerID: "cus_a2", Refcode: "A", RefereeEmail: "a2@example.com",
		PaidAt: atUnix("2026-03-07T00:00:00Z"), Gross: 100, Net: 100, AccumulatedRevenue: 200}
	if cr.Events[6] != wantA2 {
		t.Errorf("event a2 = %+v, want %+v", cr.Events[6], wantA2)
	}
	if d := decisionFor(t, res, "e1@example.com"); len(d.Conversions) != 1 || d.Conversions[0].Reason != ReasonReferrerDisqualified {
		t.Errorf("e1 conversions %+v", d.Conversions)
	}
	if d := decisionFor(t, res, "f1@example.com"); d.Reason != ReasonOutsideCycles || len(d.Conversions) != 0 {
		t.Errorf("f1: reason %q conversions %+v", d.Reason, d.Conversions)
	}
}

func TestPieSplitByRevenueScoreReachedAt(t *testing.T) {
	// By revenue, scoreReachedAt is the latest revenue event even when there
	// are conversions; equal revenue is ordered by it.
	w := &testWorld{}
	w.user("a@r.test", "A").user("b@r.test", "B").
		referee("A", "a1", 100, "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z").
		referee("B", "b1", 200, "2026-03-05T00:00:00Z")
	c := pieCycleMarch()
	c.Rules.ScoreBy = ScoreByRevenue
	c.Rules.MaxQualifiedReferrers = 1
	res := computeOK(t, w.in, setOf(c), atTime("2026-05-01T00:00:00Z"))
	lb := res.Cycles[0].Leaderboard
	if len(lb) != 2 || lb[0].Refcode != "B" || lb[0].Score != 200 || lb[0].ScoreReachedAt != atUnix("2026-03-05T00:00:00Z") ||
		lb[1].Refcode != "A" || lb[1].ScoreReachedAt != atUnix("2026-03-09T00:00:00Z") {
		t.Fatalf("leaderboard %+v", lb)
	}
	if lb[0].Award != 1000 || !lb[0].Qualified || lb[0].BoostNum != 1 || lb[0].BoostDen != 1 || lb[1].Qualified || lb[1].Award != 0 {
		t.Errorf("one slot: %+v", lb)
	}
}

func TestRevShareCapCycle(t *testing.T) {
	w := &testWorld{}
	for _, rc := range []string{"T", "U", "W", "X", "Y", "Z"} {
		w.user(strings.ToLower(rc)+"@referrers.test", rc)
	}
	w.referee("X", "x1", 300, "2026-03-02T00:00:00Z", "2026-03-04T00:00:00Z").
		referee("Y", "y1", 600, "2026-03-03T00:00:00Z").
		referee("Y", "y2", 100, "2026-03-05T00:00:00Z").
		referee("Z", "z1", 1000, "2026-03-06T00:00:00Z").
		referee("W", "w1", 200, "2026-03-07T00:00:00Z").
		referee("U", "u1", 200, "2026-03-08T00:00:00Z").
		referee("T", "t1", 200, "2026-03-08T00:00:00Z")
	c := revCycleMarch() // min 500, 10 %
	c.Rules.AwardPool.Amount = 100
	c.Rules.HoldDays = 0
	c.Rules.AdminActions = []AdminAction{{ActionType: Disqualification, Refcode: "Z", Reason: "fraud"}}
	res := computeOK(t, w.in, setOf(c), atTime("2026-05-01T00:00:00Z"))
	cr := res.Cycles[0]
	type line struct {
		inv                      string
		pool, claim, accumulated int64
	}
	var got []line
	for _, ev := range cr.Events {
		got = append(got, line{ev.InvoiceID, ev.PoolBefore, ev.Claim, ev.AccumulatedRevenue})
	}
	wantLines := []line{
		{"in_x11", 100, 0, 300},  // X 300 < 500
		{"in_y11", 100, 60, 600}, // Y qualifies: 10 % of 600
		{"in_x12", 40, 40, 600},  // X qualifies: 60, cut short to the 40 left
		{"in_y21", 0, 0, 700},    // 10 of 100, pool empty
		{"in_z11", 0, 0, 1000},   // disqualified
		{"in_w11", 0, 0, 200},
		{"in_t11", 0, 0, 200},
		{"in_u11", 0, 0, 200},
	}
	if !reflect.DeepEqual(got, wantLines) {
		t.Errorf("accounting\n got %v\nwant %v", got, wantLines)
	}
	var order []string
	for _, en := range cr.Leaderboard {
		order = append(order, en.Refcode)
	}
	// award desc (Y 60, X 40), revenue desc (Z 1000), scoreReachedAt (W 7
	// Mar before T and U 8 Mar), refcode (T before U).
	if want := []string{"Y", "X", "Z", "W", "T", "U"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	wantY := Entry{Rank: 1, Refcode: "Y", Score: 700, Conversions: 2, Revenue: 700, ScoreReachedAt: atUnix("2026-03-05T00:00:00Z"), Qualified: true, BoostDen: 1, Award: 60}
	if cr.Leaderboard[0] != wantY {
		t.Errorf("Y = %+v, want %+v", cr.Leaderboard[0], wantY)
	}
	if x := cr.Leaderboard[1]; !x.Qualified || x.Award != 40 || x.Conversions != 1 {
		t.Errorf("X = %+v", x)
	}
	if z := cr.Leaderboard[2]; z.Qualified || z.Award != 0 || z.AdminAction == nil || z.AdminAction.ActionType != Disqualification {
		t.Errorf("Z = %+v", z)
	}
	if cr.AwardPoolRemaining != 0 || cr.Totals.Awarded != 100 || cr.Totals.QualifiedReferrers != 2 || cr.Totals.Revenue != 2900 || cr.Status != AwardsReview {
		t.Errorf("remaining %d totals %+v status %s", cr.AwardPoolRemaining, cr.Totals, cr.Status)
	}
}

func TestStatus(t *testing.T) {
	// pieCycleMarch: 1 Mar .. 31 Mar 23:59:59, hold 30 days.
	settles := "2026-04-30T23:59:59Z"
	tests := []struct {
		name      string
		cycle     func() Cycle
		asOf      string
		want      Status
		wantFinal bool
		settlesAt string
	}{
		{"scheduled", pieCycleMarch, "2026-02-28T23:59:59Z", Scheduled, false, settles},
		{"active at start", pieCycleMarch, "2026-03-01T00:00:00Z", Active, false, settles},
		{"active at end", pieCycleMarch, "2026-03-31T23:59:59Z", Active, false, settles},
		{"review after end", pieCycleMarch, "2026-04-01T00:00:00Z", AwardsReview, false, settles},
		{"review before settling", pieCycleMarch, "2026-04-30T23:59:58Z", AwardsReview, false, settles},
		{"final at settlesAt", pieCycleMarch, settles, AwardsReview, true, settles},
		{"closed", func() Cycle { c := pieCycleMarch(); c.Rules.AreAwardsDistributed = true; return c }, "2026-05-01T00:00:00Z", Closed, true, settles},
		{"distributed but active", func() Cycle { c := pieCycleMarch(); c.Rules.AreAwardsDistributed = true; return c }, "2026-03-02T00:00:00Z", Active, false, settles},
		{"hold 0 settles at end", func() Cycle { c := pieCycleMarch(); c.Rules.HoldDays = 0; return c }, "2026-03-31T23:59:59Z", Active, true, "2026-03-31T23:59:59Z"},
		{"pie-split with empty pool is active", func() Cycle { c := pieCycleMarch(); c.Rules.AwardPool.Amount = 0; return c }, "2026-03-02T00:00:00Z", Active, false, settles},
		{"rev-share with pool left", revCycleMarch, "2026-03-02T00:00:00Z", Active, false, settles},
		{"rev-share exhausted", func() Cycle { c := revCycleMarch(); c.Rules.AwardPool.Amount = 0; return c }, "2026-03-02T00:00:00Z", Exhausted, false, settles},
		{"rev-share exhausted then review", func() Cycle { c := revCycleMarch(); c.Rules.AwardPool.Amount = 0; return c }, "2026-04-02T00:00:00Z", AwardsReview, false, settles},
		{"rev-share exhausted not yet started", func() Cycle { c := revCycleMarch(); c.Rules.AwardPool.Amount = 0; return c }, "2026-02-02T00:00:00Z", Scheduled, false, settles},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := computeOK(t, Inputs{}, setOf(tt.cycle()), atTime(tt.asOf))
			cr := res.Cycles[0]
			if cr.Status != tt.want || cr.IsFinal != tt.wantFinal || !cr.SettlesAt.Equal(atTime(tt.settlesAt)) {
				t.Errorf("status %s final %v settles %s; want %s %v %s", cr.Status, cr.IsFinal, cr.SettlesAt, tt.want, tt.wantFinal, tt.settlesAt)
			}
		})
	}
}

func TestRevShareExhaustedByClaims(t *testing.T) {
	w := &testWorld{}
	w.user("a@r.test", "A").referee("A", "a1", 2000, "2026-03-02T00:00:00Z")
	c := revCycleMarch()
	c.Rules.AwardPool.Amount = 150 // 10 % of 2000 = 200 > 150
	res := computeOK(t, w.in, setOf(c), atTime("2026-03-03T00:00:00Z"))
	cr := res.Cycles[0]
	if cr.Status != Exhausted || cr.AwardPoolRemaining != 0 || cr.Leaderboard[0].Award != 150 || !cr.Events[0].Pending {
		t.Errorf("status %s remaining %d leaderboard %+v events %+v", cr.Status, cr.AwardPoolRemaining, cr.Leaderboard, cr.Events)
	}
	if cr.Totals.PendingRevenue != 2000 || cr.Totals.PendingConversions != 1 {
		t.Errorf("totals %+v", cr.Totals)
	}
}

func TestCyclesOrderAndConversionsPerCycle(t *testing.T) {
	// Two cycles given out of order; one referral converts in both (the
	// second cycle only counts invoices in its own currency).
	feb := pieCycleMarch()
	feb.ID = "feb"
	feb.Rules.StartTime, feb.Rules.EndTime = atTime("2026-02-01T00:00:00Z"), atTime("2026-02-28T23:59:59Z")
	mar := revCycleMarch()
	mar.ID = "mar"
	mar.Rules.Currency = "eur"
	mar.Rules.AwardPool.Currency = "eur"
	w := &testWorld{}
	w.user("a@r.test", "A").
		referral("bob@example.com", "A", "2026-01-20 00:00:00").customer("cus_1", "bob@example.com").
		invoice("in_1", "cus_1", "2026-02-10T00:00:00Z", 500).
		invoice("in_2", "cus_1", "2026-03-10T00:00:00Z", 700, func(i *Invoice) { i.Currency = "eur" })
	res := computeOK(t, w.in, setOf(mar, feb), atTime("2026-06-01T00:00:00Z"))
	if res.Cycles[0].Cycle.ID != "feb" || res.Cycles[1].Cycle.ID != "mar" {
		t.Fatalf("cycles not in start order: %s, %s", res.Cycles[0].Cycle.ID, res.Cycles[1].Cycle.ID)
	}
	d := decisionFor(t, res, "bob@example.com")
	want := []Conversion{
		{CycleID: "feb", ConvertedAt: atUnix("2026-02-10T00:00:00Z"), InvoiceID: "in_1", RewardEligible: true},
		{CycleID: "mar", ConvertedAt: atUnix("2026-03-10T00:00:00Z"), InvoiceID: "in_2", RewardEligible: true},
	}
	if !reflect.DeepEqual(d.Conversions, want) || d.Reason != "" {
		t.Errorf("conversions %+v reason %q", d.Conversions, d.Reason)
	}
	if r := res.Cycles[1].Leaderboard[0]; r.Revenue != 700 || r.Award != 70 {
		t.Errorf("mar entry %+v", r)
	}
}

func TestComputeErrors(t *testing.T) {
	w := &testWorld{}
	big := int64(math.MaxInt64/2 + 1)
	w.user("a@r.test", "ALICE").referee("ALICE", "b", big, "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z")
	_, err := Compute(w.in, setOf(pieCycleMarch()), atTime("2026-05-01T00:00:00Z"))
	if err == nil || !strings.Contains(err.Error(), `"ALICE"`) || !strings.Contains(err.Error(), `"c1"`) || !strings.Contains(err.Error(), "overflow") {
		t.Errorf("revenue overflow: err = %v", err)
	}

	w = &testWorld{}
	w.user("a@r.test", "ALICE").referee("ALICE", "b", math.MinInt64+5, "2026-03-02T00:00:00Z")
	w.in.Stripe.Invoices[0].Tax = 10
	if _, err := Compute(w.in, setOf(pieCycleMarch()), atTime("2026-05-01T00:00:00Z")); err == nil || !strings.Contains(err.Error(), "in_b1") {
		t.Errorf("amount overflow: err = %v", err)
	}

	bad := []func(r *Rules){
		func(r *Rules) { r.AwardPool.Amount = -1 },
		func(r *Rules) { r.MinPaymentsToConvert = 0 },
		func(r *Rules) { r.HoldDays = -1 },
		func(r *Rules) { r.MaxQualifiedReferrers = -1 },
		func(r *Rules) { r.ScoreBy = "likes" },
		func(r *Rules) { r.AwardModel = "lottery" },
		func(r *Rules) { r.EndTime = r.StartTime.Add(-time.Second) },
		func(r *Rules) { *r = revCycleMarch().Rules; r.RevenueShareBps = 10001 },
		func(r *Rules) { *r = revCycleMarch().Rules; r.MinQualifyingRevenue.Amount = -1 },
	}
	for i, mod := range bad {
		c := pieCycleMarch()
		mod(&c.Rules)
		if _, err := Compute(Inputs{}, setOf(c), atTime("2026-05-01T00:00:00Z")); err == nil || !strings.Contains(err.Error(), `"c1"`) {
			t.Errorf("bad rules %d: err = %v", i, err)
		}
	}
}

func TestComputeEmpty(t *testing.T) {
	res := computeOK(t, Inputs{}, CycleSet{}, atTime("2026-05-01T00:00:00Z"))
	if len(res.Cycles) != 0 || len(res.Decisions) != 0 || len(res.Referrers) != 0 || !res.AsOf.Equal(atTime("2026-05-01T00:00:00Z")) {
		t.Errorf("%+v", res)
	}
	// A cycle with no activity: empty leaderboard, full pool left.
	w := &testWorld{}
	w.user("a@r.test", "A")
	res = computeOK(t, w.in, setOf(pieCycleMarch(), func() Cycle {
		c := revCycleMarch()
		c.ID = "c2"
		c.Rules.StartTime, c.Rules.EndTime = atTime("2026-04-01T00:00:00Z"), atTime("2026-04-30T00:00:00Z")
		return c
	}()), atTime("2026-03-05T00:00:00Z"))
	for _, cr := range res.Cycles {
		if len(cr.Leaderboard) != 0 || cr.AwardPoolRemaining != 1000 || len(cr.Unranked) != 1 || cr.Totals != (Totals{}) {
			t.Errorf("%s: %+v", cr.Cycle.ID, cr)
		}
	}
}

func TestNoCyclesStopReason(t *testing.T) {
	w := &testWorld{}
	w.user("a@r.test", "A").referee("A", "b", 100, "2026-03-02T00:00:00Z")
	res := computeOK(t, w.in, CycleSet{}, atTime("2026-05-01T00:00:00Z"))
	if d := decisionFor(t, res, "b@example.com"); d.Reason != ReasonOutsideCycles {
		t.Errorf("reason %q", d.Reason)
	}
}

func TestDuplicateCustomerID(t *testing.T) {
	// One customer id listed with two referees' emails: its invoices count
	// for both referrals, whatever the order of the customers.
	for _, swap := range []bool{false, true} {
		w := &testWorld{}
		w.user("a@r.test", "A").user("b@r.test", "B").
			referral("x@example.com", "A", "2026-02-01 00:00:00").
			referral("y@example.com", "B", "2026-02-01 00:00:00").
			customer("cus_1", "x@example.com").customer("cus_1", "y@example.com").
			invoice("in_1", "cus_1", "2026-03-02T00:00:00Z", 100)
		if swap {
			cs := w.in.Stripe.Customers
			cs[0], cs[1] = cs[1], cs[0]
		}
		res := computeOK(t, w.in, setOf(pieCycleMarch()), atTime("2026-05-01T00:00:00Z"))
		if a, b := entryFor(t, res, 0, "A"), entryFor(t, res, 0, "B"); a.Revenue != 100 || b.Revenue != 100 {
			t.Errorf("swap %v: A %+v B %+v", swap, a, b)
		}
	}
}

func TestManyCycles(t *testing.T) {
	// More than 64 cycles: plan eligibility is checked without the bitmask.
	var set CycleSet
	for d := range 70 {
		c := pieCycleMarch()
		c.ID = "d" + strings.Repeat("x", d/26) + string(rune('a'+d%26))
		c.Rules.StartTime = atTime("2026-03-01T00:00:00Z").AddDate(0, 0, d)
		c.Rules.EndTime = c.Rules.StartTime.Add(24*time.Hour - time.Second)
		c.Rules.EligiblePlans = []string{"price_pro"}
		set.Cycles = append(set.Cycles, c)
	}
	w := &testWorld{}
	w.user("a@r.test", "A").
		referee("A", "x", 100, "2026-03-03T12:00:00Z").
		referee("A", "y", 100, "2026-04-10T12:00:00Z") // day 40
	w.in.Stripe.Invoices[1].Prices = []Price{{ID: "price_basic"}}
	res := computeOK(t, w.in, set, atTime("2026-08-01T00:00:00Z"))
	if d := decisionFor(t, res, "x@example.com"); len(d.Conversions) != 1 || d.Conversions[0].CycleID != "dc" {
		t.Errorf("x: %+v", d)
	}
	if d := decisionFor(t, res, "y@example.com"); d.Reason != ReasonPlanNotEligible {
		t.Errorf("y: %+v", d)
	}
}

func TestScoreReachedAtAcrossReferrals(t *testing.T) {
	// The referrals are processed in decision (email) order; the latest
	// payment belongs to the first one.
	w := &testWorld{}
	w.user("a@r.test", "A").
		referee("A", "p1", 100, "2026-03-09T00:00:00Z").
		referee("A", "p2", 100, "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z")
	for _, by := range []ScoreBy{ScoreByConversions, ScoreByRevenue} {
		c := pieCycleMarch()
		c.Rules.ScoreBy = by
		res := computeOK(t, w.in, setOf(c), atTime("2026-05-01T00:00:00Z"))
		if got := res.Cycles[0].Leaderboard[0].ScoreReachedAt; got != atUnix("2026-03-09T00:00:00Z") {
			t.Errorf("%s: scoreReachedAt %s", by, time.Unix(got, 0).UTC())
		}
	}
	res := computeOK(t, w.in, setOf(revCycleMarch()), atTime("2026-05-01T00:00:00Z"))
	if got := res.Cycles[0].Leaderboard[0].ScoreReachedAt; got != atUnix("2026-03-09T00:00:00Z") {
		t.Errorf("rev-share: scoreReachedAt %s", time.Unix(got, 0).UTC())
	}
}
