package pipeline

import (
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

func (w *testWorld) dispute(id, charge string, amount int64, status, created string) *testWorld {
	w.in.Stripe.Disputes = append(w.in.Stripe.Disputes, Dispute{ID: id, Charge: charge, Amount: amount, Currency: "usd", Status: status, Created: atUnix(created)})
	return w
}

// creditNote adds an issued post-payment credit note; mod changes it.
func (w *testWorld) creditNote(id, invoice string, amount int64, refund, created string, mod ...func(*CreditNote)) *testWorld {
	c := CreditNote{ID: id, Invoice: invoice, Type: "post_payment", Status: "issued", Amount: amount, Refund: refund, Created: atUnix(created)}
	for _, m := range mod {
		m(&c)
	}
	w.in.Stripe.CreditNotes = append(w.in.Stripe.CreditNotes, c)
	return w
}

// bobWorld is bob, referred by ALICE on 1 February 2026, with customer
// cus_1 and invoice in_1 of amount paid on 10 March 2026 on charge ch_in_1.
func bobWorld(amount int64) *testWorld {
	w := &testWorld{}
	w.user("alice@example.com", "ALICE").
		referral("bob@example.com", "ALICE", "2026-02-01 00:00:00").
		customer("cus_1", "bob@example.com").
		invoice("in_1", "cus_1", "2026-03-10T00:00:00Z", amount)
	return w
}

// TestDeductions runs one referral (bob, referred by ALICE on 1 February
// 2026) with one 500 invoice paid on 10 March through refunds (R), credit
// notes (N) and disputes (D) against the March pie-split cycle at 15 May
// (SPEC 2.2): the event's parts, its net, and the reason when the net is 0.
func TestDeductions(t *testing.T) {
	const (
		asOf  = "2026-05-15T00:00:00Z"
		later = "2026-03-20T00:00:00Z"
		after = "2026-05-15T00:00:01Z"
	)
	type parts struct{ r, n, d, net int64 }
	tests := []struct {
		name       string
		build      func(w *testWorld)
		want       parts  // the invoice's R, N, D and net (the event's, when there is one)
		wantReason string // when the net is 0
	}{
		// Disputes: needs_response, under_review and lost take their amount.
		{"lost dispute takes it all", func(w *testWorld) { w.dispute("dp_1", "ch_in_1", 500, "lost", later) },
			parts{d: 500}, ReasonDisputed},
		{"needs_response takes its amount", func(w *testWorld) { w.dispute("dp_1", "ch_in_1", 200, "needs_response", later) },
			parts{d: 200, net: 300}, ""},
		{"under_review takes its amount", func(w *testWorld) { w.dispute("dp_1", "ch_in_1", 499, "under_review", later) },
			parts{d: 499, net: 1}, ""},
		{"won takes nothing", func(w *testWorld) { w.dispute("dp_1", "ch_in_1", 500, "won", later) },
			parts{net: 500}, ""},
		{"inquiries take nothing", func(w *testWorld) {
			w.dispute("dp_1", "ch_in_1", 500, "warning_needs_response", later).
				dispute("dp_2", "ch_in_1", 500, "warning_under_review", later).
				dispute("dp_3", "ch_in_1", 500, "warning_closed", later)
		}, parts{net: 500}, ""},
		{"statuses are taken as read", func(w *testWorld) { w.dispute("dp_1", "ch_in_1", 500, "Lost", later) },
			parts{net: 500}, ""},
		{"dispute created after asOf", func(w *testWorld) { w.dispute("dp_1", "ch_in_1", 500, "lost", after) },
			parts{net: 500}, ""},
		{"dispute created at asOf", func(w *testWorld) { w.dispute("dp_1", "ch_in_1", 500, "lost", asOf) },
			parts{d: 500}, ReasonDisputed},
		{"dispute beyond the amount floors at 0", func(w *testWorld) { w.dispute("dp_1", "ch_in_1", 900, "lost", later) },
			parts{d: 900}, ReasonDisputed},
		{"disputes summed", func(w *testWorld) {
			w.dispute("dp_1", "ch_in_1", 100, "lost", later).dispute("dp_2", "ch_in_1", 150, "needs_response", later)
		}, parts{d: 250, net: 250}, ""},
		{"dispute of another charge", func(w *testWorld) { w.dispute("dp_1", "ch_other", 500, "lost", later) },
			parts{net: 500}, ""},
		{"dispute without a charge", func(w *testWorld) { w.dispute("dp_1", "", 500, "lost", later) },
			parts{net: 500}, ""},
		{"dispute in another currency is taken in full", func(w *testWorld) {
			w.dispute("dp_1", "ch_in_1", 200, "lost", later)
			w.in.Stripe.Disputes[0].Currency = "eur"
		}, parts{d: 200, net: 300}, ""},
		{"dispute on a charge shared by two invoices applies to each", func(w *testWorld) {
			w.invoice("in_2", "cus_1", "2026-03-11T00:00:00Z", 500, func(i *Invoice) { i.Charge = "ch_in_1" }).
				dispute("dp_1", "ch_in_1", 500, "lost", later)
		}, parts{d: 500}, ReasonDisputed},

		// Credit notes: post_payment and issued, less the refund they name.
		{"credit note without a refund", func(w *testWorld) { w.creditNote("cn_1", "in_1", 200, "", later) },
			parts{n: 200, net: 300}, ""},
		{"credit note of the whole amount is refunded", func(w *testWorld) { w.creditNote("cn_1", "in_1", 500, "", later) },
			parts{n: 500}, ReasonRefunded},
		{"credit note with its refund counts once", func(w *testWorld) {
			w.refund("re_1", "ch_in_1", 200, later, "succeeded").creditNote("cn_1", "in_1", 200, "re_1", later)
		}, parts{r: 200, net: 300}, ""},
		{"credit note above its refund takes the rest", func(w *testWorld) {
			w.refund("re_1", "ch_in_1", 100, later, "succeeded").creditNote("cn_1", "in_1", 300, "re_1", later)
		}, parts{r: 100, n: 200, net: 200}, ""},
		{"credit note below its refund takes nothing", func(w *testWorld) {
			w.refund("re_1", "ch_in_1", 300, later, "succeeded").creditNote("cn_1", "in_1", 100, "re_1", later)
		}, parts{r: 300, net: 200}, ""},
		{"a pending linked refund is subtracted from the credit note", func(w *testWorld) {
			w.refund("re_1", "ch_in_1", 200, later, "pending").creditNote("cn_1", "in_1", 200, "re_1", later)
		}, parts{net: 500}, ""},
		{"a failed linked refund is subtracted from the credit note", func(w *testWorld) {
			w.refund("re_1", "ch_in_1", 150, later, "failed").creditNote("cn_1", "in_1", 200, "re_1", later)
		}, parts{n: 50, net: 450}, ""},
		{"a linked refund missing from the data takes the whole note", func(w *testWorld) {
			w.creditNote("cn_1", "in_1", 200, "re_gone", later)
		}, parts{n: 200, net: 300}, ""},
		{"void credit note", func(w *testWorld) {
			w.creditNote("cn_1", "in_1", 500, "", later, func(c *CreditNote) { c.Status = "void" })
		}, parts{net: 500}, ""},
		{"pre-payment credit note", func(w *testWorld) {
			w.creditNote("cn_1", "in_1", 500, "", later, func(c *CreditNote) { c.Type = "pre_payment" })
		}, parts{net: 500}, ""},
		{"credit note created after asOf", func(w *testWorld) { w.creditNote("cn_1", "in_1", 500, "", after) },
			parts{net: 500}, ""},
		{"credit note created at asOf", func(w *testWorld) { w.creditNote("cn_1", "in_1", 500, "", asOf) },
			parts{n: 500}, ReasonRefunded},
		{"credit note of another invoice", func(w *testWorld) { w.creditNote("cn_1", "in_other", 500, "", later) },
			parts{net: 500}, ""},
		{"credit notes summed", func(w *testWorld) {
			w.creditNote("cn_1", "in_1", 100, "", later).creditNote("cn_2", "in_1", 100, "re_gone", later)
		}, parts{n: 200, net: 300}, ""},

		// Together: refunded when R + N take it all, disputed when D takes the rest.
		{"refund and dispute: disputed", func(w *testWorld) {
			w.refund("re_1", "ch_in_1", 300, later, "succeeded").dispute("dp_1", "ch_in_1", 200, "lost", later)
		}, parts{r: 300, d: 200}, ReasonDisputed},
		{"refund of everything and a dispute: refunded", func(w *testWorld) {
			w.refund("re_1", "ch_in_1", 500, later, "succeeded").dispute("dp_1", "ch_in_1", 500, "lost", later)
		}, parts{r: 500, d: 500}, ReasonRefunded},
		{"refund and credit note take it all, dispute too: refunded", func(w *testWorld) {
			w.refund("re_1", "ch_in_1", 250, later, "succeeded").creditNote("cn_1", "in_1", 250, "", later).
				dispute("dp_1", "ch_in_1", 1, "lost", later)
		}, parts{r: 250, n: 250, d: 1}, ReasonRefunded},
		{"one unit left for the dispute: disputed", func(w *testWorld) {
			w.refund("re_1", "ch_in_1", 250, later, "succeeded").creditNote("cn_1", "in_1", 249, "", later).
				dispute("dp_1", "ch_in_1", 1, "lost", later)
		}, parts{r: 250, n: 249, d: 1}, ReasonDisputed},
		{"all three leave one unit", func(w *testWorld) {
			w.refund("re_1", "ch_in_1", 100, later, "succeeded").creditNote("cn_1", "in_1", 100, "", later).
				dispute("dp_1", "ch_in_1", 299, "needs_response", later)
		}, parts{r: 100, n: 100, d: 299, net: 1}, ""},
		{"tax is not revenue, deductions include tax", func(w *testWorld) {
			w.in.Stripe.Invoices[0].Tax = 100
			w.creditNote("cn_1", "in_1", 150, "", later).dispute("dp_1", "ch_in_1", 250, "lost", later)
		}, parts{n: 150, d: 250}, ReasonDisputed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := bobWorld(500)
			tt.build(w)
			res := computeOK(t, w.in, setOf(pieCycleMarch()), atTime(asOf))
			d := decisionFor(t, res, "bob@example.com")
			if d.Reason != tt.wantReason {
				t.Errorf("reason %q, want %q", d.Reason, tt.wantReason)
			}
			events := res.Cycles[0].Events
			if tt.want.net == 0 {
				if len(events) != 0 || len(d.Conversions) != 0 {
					t.Errorf("events %+v conversions %+v, want none", events, d.Conversions)
				}
				// No event carries the parts: read them from the trace.
				_, tr, err := ComputeTrace(w.in, setOf(pieCycleMarch()), atTime(asOf), TraceQuery{RefereeEmail: "bob@example.com"})
				if err != nil || len(tr.Rows) != 1 || len(tr.Rows[0].Invoices) == 0 {
					t.Fatalf("trace %+v, %v: want bob's row with its invoices", tr, err)
				}
				it := tr.Rows[0].Invoices[0]
				if got := (parts{it.Refunded, it.Credited, it.Disputed, it.Net}); it.ID != "in_1" || got != tt.want {
					t.Errorf("invoice %s: R %d N %d D %d net %d; want %+v", it.ID, got.r, got.n, got.d, got.net, tt.want)
				}
				return
			}
			if len(events) == 0 {
				t.Fatalf("no event, want net %d", tt.want.net)
			}
			ev := events[0]
			gross := w.in.Stripe.Invoices[0].AmountPaid - w.in.Stripe.Invoices[0].Tax
			got := parts{ev.Refunded, ev.Credited, ev.Disputed, ev.Net}
			if got != tt.want || ev.Gross != gross {
				t.Errorf("gross %d R %d N %d D %d net %d; want gross %d %+v", ev.Gross, got.r, got.n, got.d, got.net, gross, tt.want)
			}
			if len(d.Conversions) != 1 || !d.Conversions[0].RewardEligible {
				t.Errorf("conversions %+v, want one eligible", d.Conversions)
			}
			if en := entryFor(t, res, 0, "ALICE"); en.Revenue != sumNet(events) {
				t.Errorf("revenue %d, want the sum of the events' nets %d", en.Revenue, sumNet(events))
			}
		})
	}
}

func sumNet(events []AccountingLine) int64 {
	var s int64
	for _, e := range events {
		s += e.Net
	}
	return s
}

// worldCase is a case of a table test over a world: what build adds to
// bob's world, and what the case wants (a reason, an error message).
type worldCase struct {
	name  string
	build func(w *testWorld)
	want  string
}

// TestDeductionReasonOrder: refunded < disputed < currency_mismatch in the
// reason order of SPEC 2.7, over all invoices of a referral.
func TestDeductionReasonOrder(t *testing.T) {
	const later = "2026-03-20T00:00:00Z"
	for _, tc := range []worldCase{
		{"refunded and disputed invoices: disputed", func(w *testWorld) {
			w.invoice("in_1", "cus_1", "2026-03-10T00:00:00Z", 500).refund("re_1", "ch_in_1", 500, later, "succeeded").
				invoice("in_2", "cus_1", "2026-03-11T00:00:00Z", 500).dispute("dp_2", "ch_in_2", 500, "lost", later)
		}, ReasonDisputed},
		{"disputed and currency mismatch: currency_mismatch", func(w *testWorld) {
			w.invoice("in_1", "cus_1", "2026-03-10T00:00:00Z", 500).dispute("dp_1", "ch_in_1", 500, "under_review", later).
				invoice("in_2", "cus_1", "2026-03-11T00:00:00Z", 500, func(i *Invoice) { i.Currency = "eur" })
		}, ReasonCurrencyMismatch},
		{"disputed before the referral: paid_before_referral", func(w *testWorld) {
			w.invoice("in_1", "cus_1", "2026-01-10T00:00:00Z", 500).dispute("dp_1", "ch_in_1", 500, "lost", later)
		}, ReasonPaidBeforeReferral},
		{"a $0 invoice with a credit note: no_paid_invoice", func(w *testWorld) {
			w.invoice("in_1", "cus_1", "2026-03-10T00:00:00Z", 0).creditNote("cn_1", "in_1", 10, "", later)
		}, ReasonNoPaidInvoice},
		{"a credit note on an unpaid invoice: no_paid_invoice", func(w *testWorld) {
			w.invoice("in_1", "cus_1", "2026-03-10T00:00:00Z", 500, func(i *Invoice) { i.Status = "open"; i.PaidAt = 0 }).
				creditNote("cn_1", "in_1", 500, "", later)
		}, ReasonNoPaidInvoice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := bobWorld(0)
			w.in.Stripe.Invoices = nil
			tc.build(w)
			res := computeOK(t, w.in, setOf(pieCycleMarch()), atTime("2026-05-15T00:00:00Z"))
			if d := decisionFor(t, res, "bob@example.com"); d.Reason != tc.want || len(d.Conversions) != 0 {
				t.Errorf("reason %q conversions %+v, want %q", d.Reason, d.Conversions, tc.want)
			}
		})
	}
}

// TestClawback: a valid row already rewarded that converts in no cycle is a
// clawback candidate (SPEC 2.7); a pending conversion or one under a
// disqualified referrer still converts; rows that are not valid are never
// candidates.
func TestClawback(t *testing.T) {
	const later = "2026-03-20T00:00:00Z"
	w := &testWorld{}
	w.user("alice@example.com", "ALICE").user("dave@example.com", "DAVE")
	rewarded := func(email, ref string) {
		w.referral(email, ref, "2026-02-01 00:00:00")
		w.in.Referrals.Rows[len(w.in.Referrals.Rows)-1].Rewarded = true
	}
	pay := func(n, at string) {
		w.customer("cus_"+n, n+"@example.com").invoice("in_"+n, "cus_"+n, at, 500)
	}
	rewarded("kept@example.com", "ALICE")
	pay("kept", "2026-03-10T00:00:00Z")
	rewarded("disputed@example.com", "ALICE")
	pay("disputed", "2026-03-10T00:00:00Z")
	w.dispute("dp_1", "ch_in_disputed", 500, "lost", later)
	rewarded("credited@example.com", "ALICE")
	pay("credited", "2026-03-10T00:00:00Z")
	w.creditNote("cn_1", "in_credited", 500, "", later)
	rewarded("pending@example.com", "ALICE")
	pay("pending", "2026-03-31T00:00:00Z") // still in the 30-day hold on 15 April
	rewarded("disq@example.com", "DAVE")
	pay("disq", "2026-03-10T00:00:00Z")
	rewarded("nocustomer@example.com", "ALICE")
	w.referral("notrewarded@example.com", "ALICE", "2026-02-01 00:00:00")
	rewarded("dup@example.com", "ALICE")
	rewarded("dup+x@example.com", "ALICE") // later row of the same referee: duplicate_referee
	w.in.Referrals.Rows[len(w.in.Referrals.Rows)-1].ReferredAt = "2026-02-02 00:00:00"
	rewarded("unknown@example.com", "NOPE")

	c := pieCycleMarch()
	c.Rules.AdminActions = []AdminAction{{ActionType: Disqualification, Refcode: "DAVE", Reason: "fraud"}}
	res := computeOK(t, w.in, setOf(c), atTime("2026-04-15T00:00:00Z"))
	want := map[string]bool{"disputed@example.com": true, "credited@example.com": true, "nocustomer@example.com": true, "dup@example.com": true}
	got := map[string]bool{}
	for _, d := range res.Decisions {
		if d.Clawback {
			got[d.Row.Email] = true
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("clawback candidates %v, want %v", got, want)
	}
	for email, reason := range map[string]string{"disputed@example.com": ReasonDisputed, "credited@example.com": ReasonRefunded,
		"pending@example.com": "", "disq@example.com": "", "dup+x@example.com": ReasonDuplicateReferee} {
		if d := decisionFor(t, res, email); d.Reason != reason {
			t.Errorf("%s: reason %q, want %q", email, d.Reason, reason)
		}
	}
	// With no cycle at all, nothing converts: every valid rewarded row is a
	// candidate.
	res = computeOK(t, w.in, CycleSet{}, atTime("2026-04-15T00:00:00Z"))
	n := 0
	for _, d := range res.Decisions {
		if d.Clawback {
			n++
		}
	}
	if n != 7 {
		t.Errorf("%d candidates without cycles, want 7 (every valid rewarded row)", n)
	}
}

// TestNegativeAmounts: a negative amount_paid, tax, refund, credit note or
// dispute amount fails the run naming the object, whether or not the rules
// would count the object (SPEC 2.2).
func TestNegativeAmounts(t *testing.T) {
	const later = "2026-03-20T00:00:00Z"
	for _, tc := range []worldCase{
		{"amount_paid", func(w *testWorld) { w.in.Stripe.Invoices[0].AmountPaid = -1 }, `invoice "in_1": negative amount_paid -1`},
		{"tax", func(w *testWorld) { w.in.Stripe.Invoices[0].Tax = -1 }, `invoice "in_1": negative tax -1`},
		{"an unmatched void invoice", func(w *testWorld) {
			w.invoice("in_x", "cus_nobody", later, -5, func(i *Invoice) { i.Status = "void" })
		}, `invoice "in_x": negative amount_paid -5`},
		{"refund", func(w *testWorld) { w.refund("re_1", "ch_in_1", -100, later, "succeeded") }, `refund "re_1": negative amount -100`},
		{"a failed refund", func(w *testWorld) { w.refund("re_1", "ch_other", -1, later, "failed") }, `refund "re_1": negative amount -1`},
		{"credit note", func(w *testWorld) { w.creditNote("cn_1", "in_1", -100, "", later) }, `credit note "cn_1": negative amount -100`},
		{"a void credit note", func(w *testWorld) {
			w.creditNote("cn_1", "in_nowhere", -1, "", later, func(c *CreditNote) { c.Status = "void" })
		}, `credit note "cn_1": negative amount -1`},
		{"dispute", func(w *testWorld) { w.dispute("dp_1", "ch_in_1", -100, "lost", later) }, `dispute "dp_1": negative amount -100`},
		{"a won dispute", func(w *testWorld) { w.dispute("dp_1", "ch_other", math.MinInt64, "won", later) },
			`dispute "dp_1": negative amount -9223372036854775808`},
		{"several: the first by kind and id, and a count", func(w *testWorld) {
			w.dispute("dp_1", "ch_in_1", -1, "lost", later).refund("re_b", "", -1, later, "failed").refund("re_a", "", -2, later, "failed")
		}, `refund "re_a": negative amount -2: Stripe amounts are never negative (and 2 more negative amounts)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := bobWorld(500)
			tc.build(w)
			_, err := Compute(w.in, setOf(pieCycleMarch()), atTime("2026-05-15T00:00:00Z"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestDeductionOverflow: sums of deductions that leave int64 are errors
// naming what they join on, never a wrap.
func TestDeductionOverflow(t *testing.T) {
	const later = "2026-03-20T00:00:00Z"
	for _, tc := range []struct {
		build func(w *testWorld)
		want  string
	}{
		{func(w *testWorld) {
			w.dispute("dp_1", "ch_in_1", math.MaxInt64, "lost", later).dispute("dp_2", "ch_in_1", 1, "lost", later)
		}, `disputes of charge "ch_in_1": int64 overflow`},
		{func(w *testWorld) {
			w.creditNote("cn_1", "in_1", math.MaxInt64, "", later).creditNote("cn_2", "in_1", 1, "", later)
		}, `credit notes of invoice "in_1": int64 overflow`},
	} {
		w := bobWorld(500)
		tc.build(w)
		if _, err := Compute(w.in, setOf(pieCycleMarch()), atTime("2026-05-15T00:00:00Z")); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
	// Each deduction may be as large as int64 allows: the net floors at 0.
	w := bobWorld(math.MaxInt64)
	w.refund("re_1", "ch_in_1", math.MaxInt64-1, later, "succeeded").
		creditNote("cn_1", "in_1", math.MaxInt64, "", later).
		dispute("dp_1", "ch_in_1", math.MaxInt64, "lost", later)
	res := computeOK(t, w.in, setOf(pieCycleMarch()), atTime("2026-05-15T00:00:00Z"))
	if d := decisionFor(t, res, "bob@example.com"); d.Reason != ReasonRefunded {
		t.Errorf("reason %q, want refunded", d.Reason)
	}
}

// FuzzDeductions checks the net of one invoice against SPEC 2.2 computed
// with big integers: net = max(0, gross - R - N - D), the reason when it is
// 0, and an error naming the object for any negative amount.
func FuzzDeductions(f *testing.F) {
	f.Add(int64(500), int64(0), int64(200), uint8(0), int64(300), int64(100), uint8(1), int64(50), uint8(6))
	f.Add(int64(1000), int64(100), int64(900), uint8(0), int64(0), int64(0), uint8(0), int64(1), uint8(3))
	f.Add(int64(math.MaxInt64), int64(0), int64(math.MaxInt64), uint8(1), int64(math.MaxInt64), int64(5), uint8(2), int64(math.MaxInt64), uint8(4))
	f.Add(int64(10), int64(-1), int64(0), uint8(0), int64(0), int64(0), uint8(0), int64(0), uint8(0))
	f.Fuzz(func(t *testing.T, paid, tax, refund int64, refundSt uint8, note, noteRefund int64, noteKind uint8, dispute int64, disputeSt uint8) {
		const later = "2026-03-20T00:00:00Z"
		refundStatuses := []string{"succeeded", "pending", "failed"}
		w := bobWorld(paid)
		w.in.Stripe.Invoices[0].Tax = tax
		w.refund("re_1", "ch_in_1", refund, later, refundStatuses[int(refundSt)%3]).
			dispute("dp_1", "ch_in_1", dispute, disputeStatuses[int(disputeSt)%len(disputeStatuses)], later)
		// noteKind: 0 names re_1, 1 names re_2 (a second refund), 2 names a
		// missing refund, 3 none, 4 void, 5 pre_payment.
		k := int(noteKind) % 6
		switch k {
		case 0:
			w.creditNote("cn_1", "in_1", note, "re_1", later)
		case 1:
			w.refund("re_2", "ch_in_1", noteRefund, later, "succeeded").creditNote("cn_1", "in_1", note, "re_2", later)
		case 2:
			w.creditNote("cn_1", "in_1", note, "re_gone", later)
		case 3:
			w.creditNote("cn_1", "in_1", note, "", later)
		case 4:
			w.creditNote("cn_1", "in_1", note, "", later, func(c *CreditNote) { c.Status = "void" })
		case 5:
			w.creditNote("cn_1", "in_1", note, "", later, func(c *CreditNote) { c.Type = "pre_payment" })
		}
		res, err := Compute(w.in, setOf(pieCycleMarch()), atTime("2026-05-15T00:00:00Z"))
		negative := paid < 0 || tax < 0 || refund < 0 || note < 0 || dispute < 0 || k == 1 && noteRefund < 0
		if negative {
			if err == nil || !strings.Contains(err.Error(), "negative") {
				t.Fatalf("err = %v, want a negative amount error", err)
			}
			return
		}
		b := big.NewInt
		r := b(0)
		if refundStatuses[int(refundSt)%3] == "succeeded" {
			r.Add(r, b(refund))
		}
		if k == 1 {
			r.Add(r, b(noteRefund))
		}
		n := b(0)
		switch k {
		case 0:
			n.Sub(b(note), b(refund))
		case 1:
			n.Sub(b(note), b(noteRefund))
		case 2, 3:
			n.Set(b(note))
		}
		if n.Sign() < 0 {
			n.SetInt64(0)
		}
		d := b(0)
		if disputeTakes(disputeStatuses[int(disputeSt)%len(disputeStatuses)]) {
			d.SetInt64(dispute)
		}
		gross := new(big.Int).Sub(b(paid), b(tax))
		afterRN := new(big.Int).Sub(gross, r)
		afterRN.Sub(afterRN, n)
		net := new(big.Int).Sub(afterRN, d)
		if r.Cmp(b(math.MaxInt64)) > 0 {
			if err == nil || !strings.Contains(err.Error(), "overflow") {
				t.Fatalf("R = %v: err = %v, want an overflow error", r, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Compute: %v", err)
		}
		dec := decisionFor(t, res, "bob@example.com")
		events := res.Cycles[0].Events
		switch {
		case gross.Sign() <= 0:
			if dec.Reason != ReasonNoPaidInvoice {
				t.Fatalf("gross %v: reason %q", gross, dec.Reason)
			}
		case afterRN.Sign() <= 0:
			if dec.Reason != ReasonRefunded {
				t.Fatalf("gross-R-N %v: reason %q", afterRN, dec.Reason)
			}
		case net.Sign() <= 0:
			if dec.Reason != ReasonDisputed {
				t.Fatalf("net %v: reason %q", net, dec.Reason)
			}
		default:
			if len(events) != 1 || !net.IsInt64() || events[0].Net != net.Int64() {
				t.Fatalf("events %+v, want one with net %v", events, net)
			}
			e := events[0]
			if e.Gross != gross.Int64() || e.Refunded != r.Int64() || e.Credited != n.Int64() || e.Disputed != d.Int64() {
				t.Fatalf("event %+v, want gross %v R %v N %v D %v", e, gross, r, n, d)
			}
			return
		}
		if len(events) != 0 {
			t.Fatalf("events %+v, want none", events)
		}
	})
}
