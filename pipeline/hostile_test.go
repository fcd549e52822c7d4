package pipeline_test

// Hostile and broken input through Compute: bytes that are not meant to
// be in emails and refcodes, money at the edges of int64, currencies and
// statuses nobody configured. None may panic; every referrals row gets its
// one decision, and money that cannot be represented is an error naming
// what overflowed.

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/refrecon/refrecon/pipeline"
)

// hostileAsOf is after both cycles of the default set.
var hostileAsOf = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

// marchPaid is a paid_at inside the default set's March cycle.
var marchPaid = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC).Unix()

func hostileCompute(t *testing.T, in pipeline.Inputs) (*pipeline.Result, error) {
	t.Helper()
	var res *pipeline.Result
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Compute panicked: %v", p)
			}
		}()
		res, err = pipeline.Compute(in, pipeline.DefaultCycleSet(), hostileAsOf)
	}()
	if err == nil && len(res.Decisions) != len(in.Referrals.Rows) {
		t.Fatalf("%d decisions for %d referrals rows", len(res.Decisions), len(in.Referrals.Rows))
	}
	return res, err
}

func decisionOf(t *testing.T, res *pipeline.Result, email string) pipeline.ReferralDecision {
	t.Helper()
	for _, d := range res.Decisions {
		if d.Row.Email == email {
			return d
		}
	}
	t.Fatalf("no decision for %q", email)
	return pipeline.ReferralDecision{}
}

// Refcodes and emails holding path separators, dot-dot, NUL, control and
// direction characters, look-alike letters and 100 KB of text are data
// like any other: decided by the same rules, never confused with one
// another.
func TestHostileStrings(t *testing.T) {
	long := strings.Repeat("x", 100_000)
	cyrillicA := "\u0410LICE" // Cyrillic А: looks like ALICE, is not
	users := []pipeline.User{
		{Email: "alice@example.com", Refcode: "ALICE"},
		{Email: "slash@example.com", Refcode: "../../etc/passwd"},
		{Email: "nul@example.com", Refcode: "NUL\x00CODE"},
		{Email: "long@example.com", Refcode: long},
		{Email: "at@example.com", Refcode: "me@example.com"},
		{Email: "rtl@example.com", Refcode: "\u202eEDOC"},
		{Email: "bad-utf8@example.com", Refcode: "\xff\xfe"},
		{Email: "dup-code@example.com", Refcode: "ALICE"}, // a second users row with the same refcode
	}
	rows := []pipeline.ReferralRow{
		{Email: "r1@example.com", Refcode: "../../etc/passwd", ReferredAt: "2026-03-01 00:00:00"},
		{Email: "r2@example.com", Refcode: "NUL\x00CODE", ReferredAt: "2026-03-01 00:00:00"},
		{Email: "r3@example.com", Refcode: long, ReferredAt: "2026-03-01 00:00:00"},
		{Email: "r4@example.com", Refcode: cyrillicA, ReferredAt: "2026-03-01 00:00:00"},
		{Email: "r5@example.com", Refcode: "NUL", ReferredAt: "2026-03-01 00:00:00"}, // a prefix up to the NUL
		{Email: "r6@example.com", Refcode: "me@example.com", ReferredAt: "2026-03-01 00:00:00"},
		{Email: "r7@example.com", Refcode: "\xff\xfe", ReferredAt: "2026-03-01 00:00:00"},
		{Email: "a/b@example.com", Refcode: "ALICE", ReferredAt: "2026-03-01 00:00:00"},
		{Email: "../..@example.com", Refcode: "ALICE", ReferredAt: "2026-03-01 00:00:00"},
		{Email: "nul\x00@example.com", Refcode: "ALICE", ReferredAt: "2026-03-01 00:00:00"},
		{Email: long + "@example.com", Refcode: "ALICE", ReferredAt: "2026-03-01 00:00:00"},
		{Email: "\u0430lice@example.com", Refcode: "ALICE", ReferredAt: "2026-03-01 00:00:00"}, // Cyrillic а: not alice, not self
		{Email: "ALICE@EXAMPLE.COM", Refcode: "ALICE", ReferredAt: "2026-03-01 00:00:00"},
		{Email: "x@example.com", Refcode: "ALICE", ReferredAt: strings.Repeat("2026-03-01 ", 10_000)},
		{Email: "y@example.com", Refcode: "ALICE", ReferredAt: "2026-03-01 00:00:00\x00"},
		{Email: "\x00", Refcode: "ALICE", ReferredAt: "2026-03-01 00:00:00"},
		{Email: "@", Refcode: "\x00", ReferredAt: "\x00"},
		{Email: "", Refcode: "", ReferredAt: ""},
	}
	in := pipeline.Inputs{Referrals: pipeline.Referrals{Users: users, Rows: rows}}
	res, err := hostileCompute(t, in)
	if err != nil {
		// A refcode shared by two users rows may be refused; then it must
		// say so, and without it the rest must compute.
		if !strings.Contains(err.Error(), "ALICE") {
			t.Fatalf("Compute: %v", err)
		}
		in.Referrals.Users = users[:len(users)-1]
		if res, err = hostileCompute(t, in); err != nil {
			t.Fatalf("Compute without the duplicate refcode: %v", err)
		}
	}
	want := map[string][2]string{
		"r1@example.com":         {"valid", pipeline.ReasonNoCustomer},
		"r2@example.com":         {"valid", pipeline.ReasonNoCustomer},
		"r3@example.com":         {"valid", pipeline.ReasonNoCustomer},
		"r4@example.com":         {"quarantined", pipeline.ReasonUnknownRefcode},
		"r5@example.com":         {"quarantined", pipeline.ReasonUnknownRefcode},
		"r6@example.com":         {"valid", pipeline.ReasonNoCustomer},
		"r7@example.com":         {"valid", pipeline.ReasonNoCustomer},
		"\u0430lice@example.com": {"valid", pipeline.ReasonNoCustomer},
		"ALICE@EXAMPLE.COM":      {"excluded", pipeline.ReasonSelfReferral},
		"x@example.com":          {"quarantined", pipeline.ReasonInvalidTimestamp},
		"y@example.com":          {"quarantined", pipeline.ReasonInvalidTimestamp},
		"\x00":                   {"quarantined", pipeline.ReasonInvalidEmail},
		"@":                      {"quarantined", pipeline.ReasonInvalidEmail},
		"":                       {"quarantined", pipeline.ReasonInvalidEmail},
	}
	for email, w := range want {
		d := decisionOf(t, res, email)
		if string(d.Outcome) != w[0] || d.Reason != w[1] {
			t.Errorf("%.40q: %s/%s, want %s/%s", email, d.Outcome, d.Reason, w[0], w[1])
		}
	}
	// Every users row is a referrer, whatever its refcode.
	seen := map[string]bool{}
	for _, u := range res.Referrers {
		seen[u.Refcode] = true
	}
	for _, u := range in.Referrals.Users {
		if !seen[u.Refcode] {
			t.Errorf("referrer %.40q missing from the result", u.Refcode)
		}
	}
}

// hostileWorld is one referrer, one referee with a Stripe customer, and the
// invoices given, all in the default set's March cycle.
func hostileWorld(invoices []pipeline.Invoice, refunds []pipeline.Refund) pipeline.Inputs {
	return pipeline.Inputs{
		Referrals: pipeline.Referrals{
			Users: []pipeline.User{{Email: "ref@example.com", Refcode: "REF"}},
			Rows:  []pipeline.ReferralRow{{Email: "payer@example.com", Refcode: "REF", ReferredAt: "2026-03-01 00:00:00"}},
		},
		Stripe: pipeline.Stripe{
			Customers: []pipeline.Customer{{ID: "cus_payer", Email: "payer@example.com"}},
			Invoices:  invoices,
			Refunds:   refunds,
		},
	}
}

func paid(id string, amount, tax int64, currency string) pipeline.Invoice {
	return pipeline.Invoice{ID: id, Customer: "cus_payer", Charge: "ch_" + id, Status: "paid", Currency: currency,
		AmountPaid: amount, Tax: tax, PaidAt: marchPaid, Prices: []pipeline.Price{{ID: "price_pro"}}}
}

// Money at the edges of int64: a single payment of MaxInt64 is counted
// exactly; two of them overflow the referrer's revenue, which is an error
// naming the overflow, never a wrapped negative total. Taxes above the
// amount and refunds above the payment floor the net at 0; a negative amount
// fails the run naming the object (SPEC 2.2).
func TestHostileMoney(t *testing.T) {
	t.Run("one MaxInt64 payment", func(t *testing.T) {
		res, err := hostileCompute(t, hostileWorld([]pipeline.Invoice{paid("in_max", math.MaxInt64, 0, "usd")}, nil))
		if err != nil {
			t.Fatalf("Compute: %v", err)
		}
		c := res.Cycles[len(res.Cycles)-1]
		if len(c.Leaderboard) != 1 || c.Leaderboard[0].Revenue != math.MaxInt64 {
			t.Fatalf("leaderboard %+v, want REF with revenue MaxInt64", c.Leaderboard)
		}
		var sum int64
		for _, e := range c.Leaderboard {
			if e.Award < 0 {
				t.Errorf("negative award %d", e.Award)
			}
			sum += e.Award
		}
		if sum > c.Cycle.Rules.AwardPool.Amount {
			t.Errorf("awards %d exceed the pool %d", sum, c.Cycle.Rules.AwardPool.Amount)
		}
	})
	t.Run("revenue overflow", func(t *testing.T) {
		_, err := hostileCompute(t, hostileWorld([]pipeline.Invoice{paid("in_a", math.MaxInt64, 0, "usd"), paid("in_b", math.MaxInt64, 0, "usd")}, nil))
		if err == nil || !strings.Contains(err.Error(), "overflow") {
			t.Fatalf("err = %v, want an overflow error", err)
		}
	})
	for _, tc := range []struct {
		name    string
		inv     pipeline.Invoice
		refunds []pipeline.Refund
		wantErr string // "" = no error; else what the error must name
	}{
		{"negative amount", paid("in_neg", math.MinInt64, 0, "usd"), nil, `invoice "in_neg": negative amount_paid`},
		{"tax above amount", paid("in_tax", 100, math.MaxInt64, "usd"), nil, ""},
		{"negative tax", paid("in_negtax", 100, math.MinInt64, "usd"), nil, `invoice "in_negtax": negative tax`},
		{"refunds above amount", paid("in_ref", 100, 0, "usd"), []pipeline.Refund{
			{ID: "re_1", Amount: math.MaxInt64, Status: "succeeded", Created: marchPaid, Charge: "ch_in_ref"},
			{ID: "re_2", Amount: math.MaxInt64, Status: "succeeded", Created: marchPaid, Charge: "ch_in_ref"}}, `refunds of charge "ch_in_ref": int64 overflow`},
		{"negative refund", paid("in_nref", 100, 0, "usd"), []pipeline.Refund{
			{ID: "re_n", Amount: math.MinInt64, Status: "succeeded", Created: marchPaid, Charge: "ch_in_nref"}}, `refund "re_n": negative amount`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := hostileCompute(t, hostileWorld([]pipeline.Invoice{tc.inv}, tc.refunds))
			if tc.wantErr != "" || err != nil {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || tc.wantErr == "" {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			for _, c := range res.Cycles {
				for _, e := range c.Leaderboard {
					if e.Revenue < 0 || e.Revenue > 100 && tc.inv.AmountPaid == 100 {
						t.Errorf("%s: revenue %d out of [0, 100]", c.Cycle.ID, e.Revenue)
					}
				}
			}
		})
	}
}

// Invoices in currencies no cycle uses, or in upper case, or empty, are
// not revenue: the referral says currency_mismatch.
func TestHostileCurrencies(t *testing.T) {
	for _, cur := range []string{"xyz", "USD", "", "us", "usd\x00", "ｕｓｄ"} {
		res, err := hostileCompute(t, hostileWorld([]pipeline.Invoice{paid("in_c", 5000, 0, cur)}, nil))
		if err != nil {
			t.Fatalf("%q: Compute: %v", cur, err)
		}
		d := decisionOf(t, res, "payer@example.com")
		if d.Outcome != pipeline.Valid || d.Reason != pipeline.ReasonCurrencyMismatch || len(d.Conversions) != 0 {
			t.Errorf("%q: %s/%s with %d conversions, want valid/currency_mismatch", cur, d.Outcome, d.Reason, len(d.Conversions))
		}
		for _, c := range res.Cycles {
			if len(c.Leaderboard) != 0 {
				t.Errorf("%q: %s has a leaderboard %+v", cur, c.Cycle.ID, c.Leaderboard)
			}
		}
	}
}
