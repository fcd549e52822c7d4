package pipeline

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestComputeShuffleInvariant checks that Compute's result does not depend
// on the order of any input slice, and that the generated data exercise
// every outcome.
func TestComputeShuffleInvariant(t *testing.T) {
	set := genCycles()
	reasons := map[string]bool{}
	for seed := uint64(1); seed <= 40; seed++ {
		in := genInputs(seed, 150)
		asOf := atTime("2026-03-15T00:00:00Z").Add(time.Duration(seed%5) * 37 * 24 * time.Hour)
		want := computeOK(t, in, set, asOf)
		rng := rand.New(rand.NewPCG(seed, 99))
		for k := 0; k < 3; k++ {
			got := computeOK(t, shuffleInputs(rng, in), set, asOf)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d shuffle %d: result differs", seed, k)
			}
		}
		for _, d := range want.Decisions {
			reasons[d.Reason] = true
			for _, c := range d.Conversions {
				reasons[c.Reason] = true
			}
		}
		checkResultInvariants(t, seed, want)
	}
	for _, r := range []string{"", ReasonInvalidEmail, ReasonUnknownRefcode, ReasonInvalidTimestamp, ReasonSelfReferral,
		ReasonDuplicateReferee, ReasonPendingHold, ReasonReferrerDisqualified, ReasonAlreadyRewarded, ReasonNoCustomer,
		ReasonNoPaidInvoice, ReasonPaidBeforeReferral, ReasonRefunded, ReasonDisputed, ReasonCurrencyMismatch, ReasonPlanNotEligible,
		ReasonOutsideAttributionWindow, ReasonOutsideCycles} {
		if !reasons[r] {
			t.Errorf("generated data never produced reason %q", r)
		}
	}
}

// checkResultInvariants checks what must hold for every result.
func checkResultInvariants(t *testing.T, seed uint64, res *Result) {
	t.Helper()
	for _, cr := range res.Cycles {
		r := cr.Cycle.Rules
		var awarded, revenue, events int64
		for i, en := range cr.Leaderboard {
			if en.Rank != i+1 || en.Revenue <= 0 || en.PendingRevenue > en.Revenue || en.PendingConversions > en.Conversions {
				t.Fatalf("seed %d %s: bad entry %+v", seed, cr.Cycle.ID, en)
			}
			if en.AdminAction != nil && en.AdminAction.ActionType == Disqualification && (en.Qualified || en.Award != 0) {
				t.Fatalf("seed %d %s: disqualified entry awarded %+v", seed, cr.Cycle.ID, en)
			}
			awarded += en.Award
			revenue += en.Revenue
		}
		for _, en := range cr.Unranked {
			if en.Rank != 0 || en.Revenue != 0 || en.Award != 0 || en.Conversions != 0 {
				t.Fatalf("seed %d %s: bad unranked entry %+v", seed, cr.Cycle.ID, en)
			}
		}
		for _, ev := range cr.Events {
			events += ev.Net
		}
		if awarded != cr.Totals.Awarded || awarded+cr.AwardPoolRemaining != r.AwardPool.Amount || revenue != cr.Totals.Revenue || events != revenue {
			t.Fatalf("seed %d %s: awarded %d remaining %d pool %d revenue %d events %d totals %+v",
				seed, cr.Cycle.ID, awarded, cr.AwardPoolRemaining, r.AwardPool.Amount, revenue, events, cr.Totals)
		}
		if r.AwardModel == PieSplit && cr.Totals.QualifiedReferrers > 0 && awarded != r.AwardPool.Amount {
			t.Fatalf("seed %d %s: pie-split awarded %d of %d", seed, cr.Cycle.ID, awarded, r.AwardPool.Amount)
		}
	}
	for _, d := range res.Decisions {
		if d.Reason != "" && len(d.Conversions) > 0 {
			t.Fatalf("seed %d: decision with both a reason and conversions: %+v", seed, d)
		}
		if d.Outcome != Valid && len(d.Conversions) > 0 {
			t.Fatalf("seed %d: %s row with conversions", seed, d.Outcome)
		}
		if d.Outcome == Valid && d.Reason == "" && len(d.Conversions) == 0 {
			t.Fatalf("seed %d: valid row with neither reason nor conversion: %+v", seed, d)
		}
	}
}

func TestDigestInputs(t *testing.T) {
	in := genInputs(7, 200)
	want := DigestInputs(in)
	if len(want.SHA256) != 64 {
		t.Fatalf("SHA256 %q", want.SHA256)
	}
	wc := InputCounts{
		Users: int64(len(in.Referrals.Users)), Referrals: int64(len(in.Referrals.Rows)),
		Customers: int64(len(in.Stripe.Customers)), Subscriptions: int64(len(in.Stripe.Subscriptions)),
		Invoices: int64(len(in.Stripe.Invoices)), Refunds: int64(len(in.Stripe.Refunds)),
		Disputes: int64(len(in.Stripe.Disputes)), CreditNotes: int64(len(in.Stripe.CreditNotes)),
	}
	if wc.Disputes == 0 || wc.CreditNotes == 0 {
		t.Fatalf("generated data without disputes or credit notes: %+v", wc)
	}
	if want.Counts != wc {
		t.Errorf("counts %+v, want %+v", want.Counts, wc)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for k := 0; k < 200; k++ {
		if got := DigestInputs(shuffleInputs(rng, in)); got != want {
			t.Fatalf("shuffle %d: digest %s, want %s", k, got.SHA256, want.SHA256)
		}
	}

	// Every field of every kind matters, and moving bytes between adjacent
	// fields changes the digest.
	base := Inputs{
		Referrals: Referrals{Users: []User{{"ab", "c"}}, Rows: []ReferralRow{{"e", "r", "t", "p", false}}},
		Stripe: Stripe{
			Customers:     []Customer{{"cus", "e"}},
			Subscriptions: []Subscription{{"sub", "cus", "active", 1, []string{"p"}}},
			Invoices:      []Invoice{{"in", "cus", "sub", "ch", "paid", "usd", 100, 1, 5, []Price{{"p", "k"}}}},
			Refunds:       []Refund{{"re", 5, "succeeded", 6, "ch"}},
		},
	}
	// Data without disputes and credit notes keeps the digest it had
	// before they were read, so snapshot ids of such data do not change.
	if got := DigestInputs(base).SHA256; got != baseDigestV1 {
		t.Errorf("digest of data without disputes or credit notes %s, want %s as before", got, baseDigestV1)
	}
	base.Stripe.Disputes = []Dispute{{"dp", "ch", 7, "usd", "lost", 8}}
	base.Stripe.CreditNotes = []CreditNote{{"cn", "in", "post_payment", "issued", 9, "re", 10}}
	bd := DigestInputs(base)
	mods := map[string]func(in *Inputs){
		"user split":          func(in *Inputs) { in.Referrals.Users[0] = User{"a", "bc"} },
		"row rewarded":        func(in *Inputs) { in.Referrals.Rows[0].Rewarded = true },
		"row plan":            func(in *Inputs) { in.Referrals.Rows[0].SelectedPlan = "q" },
		"customer email":      func(in *Inputs) { in.Stripe.Customers[0].Email = "f" },
		"subscription":        func(in *Inputs) { in.Stripe.Subscriptions[0].PriceIDs = nil },
		"invoice tax":         func(in *Inputs) { in.Stripe.Invoices[0].Tax = 2 },
		"invoice paid_at":     func(in *Inputs) { in.Stripe.Invoices[0].PaidAt = 6 },
		"invoice price":       func(in *Inputs) { in.Stripe.Invoices[0].Prices[0].LookupKey = "" },
		"refund status":       func(in *Inputs) { in.Stripe.Refunds[0].Status = "failed" },
		"refund moved":        func(in *Inputs) { in.Stripe.Refunds = nil; in.Stripe.Invoices = append(in.Stripe.Invoices, Invoice{}) },
		"dispute status":      func(in *Inputs) { in.Stripe.Disputes[0].Status = "won" },
		"dispute amount":      func(in *Inputs) { in.Stripe.Disputes[0].Amount = 8 },
		"dispute currency":    func(in *Inputs) { in.Stripe.Disputes[0].Currency = "eur" },
		"dispute created":     func(in *Inputs) { in.Stripe.Disputes[0].Created = 9 },
		"no disputes":         func(in *Inputs) { in.Stripe.Disputes = nil },
		"no credit notes":     func(in *Inputs) { in.Stripe.CreditNotes = nil },
		"credit note type":    func(in *Inputs) { in.Stripe.CreditNotes[0].Type = "pre_payment" },
		"credit note status":  func(in *Inputs) { in.Stripe.CreditNotes[0].Status = "void" },
		"credit note refund":  func(in *Inputs) { in.Stripe.CreditNotes[0].Refund = "" },
		"credit note invoice": func(in *Inputs) { in.Stripe.CreditNotes[0].Invoice = "in2" },
		"credit note amount":  func(in *Inputs) { in.Stripe.CreditNotes[0].Amount = 1 },
		"dispute to credit note": func(in *Inputs) {
			in.Stripe.Disputes = nil
			in.Stripe.CreditNotes = append(in.Stripe.CreditNotes, CreditNote{ID: "dp", Invoice: "ch"})
		},
		"duplicated user": func(in *Inputs) { in.Referrals.Users = append(in.Referrals.Users, in.Referrals.Users[0]) },
		"user to customer": func(in *Inputs) {
			in.Referrals.Users = nil
			in.Stripe.Customers = append(in.Stripe.Customers, Customer{"ab", "c"})
		},
	}
	seen := map[string]string{bd.SHA256: "base"}
	for name, mod := range mods {
		c := cloneInputs(base)
		mod(&c)
		d := DigestInputs(c)
		if prev, dup := seen[d.SHA256]; dup {
			t.Errorf("%s: same digest as %s", name, prev)
		}
		seen[d.SHA256] = name
	}
	if DigestInputs(base) != bd {
		t.Error("mods changed the base inputs")
	}
}

// baseDigestV1 is the digest TestDigestInputs's base data (without disputes
// and credit notes) had before refrecon read disputes and credit notes.
const baseDigestV1 = "b5e0265a62177307269d5a76a272c345ad54288273e6972705f13979bbdcd85d"

// cloneInputs deep-copies the slices a test mutates.
func cloneInputs(in Inputs) Inputs {
	out := shuffleInputs(rand.New(rand.NewPCG(0, 0)), in) // copies; one-element slices keep their order
	for i := range out.Stripe.Invoices {
		out.Stripe.Invoices[i].Prices = append([]Price(nil), out.Stripe.Invoices[i].Prices...)
	}
	return out
}

func TestNewRunInfo(t *testing.T) {
	d := InputsDigest{SHA256: "00ff", Counts: InputCounts{Users: 1}}
	set := setOf(pieCycleMarch())
	asOf := time.Date(2026, 4, 15, 6, 7, 8, 0, time.FixedZone("x", 3600))
	info := NewRunInfo(d, set, asOf, "v1.2.3")
	if len(info.SnapshotID) != len("20260415T050708Z-")+12 || info.SnapshotID[:17] != "20260415T050708Z-" {
		t.Errorf("SnapshotID %q", info.SnapshotID)
	}
	if !info.AsOf.Equal(asOf) || info.AsOf.Location() != time.UTC || info.CodeVersion != "v1.2.3" || info.Inputs != d || info.CycleSetSHA256 != set.SHA256() {
		t.Errorf("%+v", info)
	}
	if again := NewRunInfo(d, set, asOf, "v1.2.3"); again.SnapshotID != info.SnapshotID {
		t.Error("not deterministic")
	}
	other := map[string]RunInfo{
		"code version": NewRunInfo(d, set, asOf, "v1.2.4"),
		"inputs":       NewRunInfo(InputsDigest{SHA256: "00fe"}, set, asOf, "v1.2.3"),
		"cycle set":    NewRunInfo(d, setOf(revCycleMarch()), asOf, "v1.2.3"),
		"settled":      NewRunInfo(d, set, asOf, "v1.2.3", SettledCycle{CycleID: "cycle-1", SnapshotID: "20260101T000000Z-000000000000"}),
		"settled from": NewRunInfo(d, set, asOf, "v1.2.3", SettledCycle{CycleID: "cycle-1", SnapshotID: "20260101T000000Z-000000000001"}),
	}
	if a, b := other["settled"], other["settled from"]; a.SnapshotID == b.SnapshotID {
		t.Errorf("the settled snapshot id is not hashed: %s", a.SnapshotID)
	}
	two := []SettledCycle{{CycleID: "a", SnapshotID: "20260101T000000Z-000000000000"}, {CycleID: "b", SnapshotID: "20260101T000000Z-000000000000"}}
	if x, y := NewRunInfo(d, set, asOf, "v1.2.3", two...), NewRunInfo(d, set, asOf, "v1.2.3", two[1], two[0]); x.SnapshotID != y.SnapshotID {
		t.Error("the settled cycles' order changes the id")
	}
	for name, o := range other {
		if o.SnapshotID[17:] == info.SnapshotID[17:] {
			t.Errorf("%s change keeps the hash %s", name, o.SnapshotID)
		}
	}
}
