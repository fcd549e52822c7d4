package pipeline

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// The Stripe statuses the money rules read (SPEC 2.2). Statuses are taken
// as read: any other value, or one in another case, takes nothing.
const (
	refundSucceeded       = "succeeded"
	creditNotePostPayment = "post_payment"
	creditNoteIssued      = "issued"
)

// disputeTakes reports whether a dispute in this status takes its amount
// from the invoice's net: needs_response, under_review and lost. won and
// the warning_* inquiries take nothing (no money moved, or it came back).
func disputeTakes(status string) bool {
	switch status {
	case "needs_response", "under_review", "lost":
		return true
	}
	return false
}

// netParts is an invoice's net amount and what it is made of (SPEC 2.2):
// net = gross - R - N - D, floored at 0.
type netParts struct {
	Gross    int64 // amount_paid - tax
	Refunded int64 // R: succeeded refunds on its charge, created by asOf
	Credited int64 // N: issued post-payment credit notes, less the refunds they name
	Disputed int64 // D: disputes on its charge that took money
	// AfterCredits is gross - R - N floored at 0: when gross > 0 and this
	// is 0, the invoice is refunded; when this is > 0 and Net is 0, it is
	// disputed.
	AfterCredits int64
	Net          int64
}

// netOf is invoice ii's net amount and its parts. All amounts are known to
// be non-negative (checkAmounts), so the differences cannot overflow; the
// error is kept for amount_paid - tax on inputs built by hand.
func (e *engine) netOf(ii int32) (netParts, error) {
	inv := &e.in.Stripe.Invoices[ii]
	g, ok := subInt64(inv.AmountPaid, inv.Tax)
	if !ok {
		return netParts{}, fmt.Errorf("invoice %q: amount_paid - tax: %w", inv.ID, errOverflow)
	}
	p := netParts{Gross: g}
	if e.deductions != nil {
		d := &e.deductions[ii]
		p.Refunded, p.Credited, p.Disputed = d.refunded, d.credited, d.disputed
	}
	// Deductions are >= 0 and are taken only from a positive remainder, so
	// no step leaves int64.
	x := g
	if x > 0 {
		x -= p.Refunded
	}
	if x > 0 {
		x -= p.Credited
	}
	p.AfterCredits = max(x, 0)
	if p.AfterCredits > 0 {
		p.Net = max(p.AfterCredits-p.Disputed, 0)
	}
	return p, nil
}

// deduction is one invoice's R, N and D (SPEC 2.2), looked up once per
// invoice (sumDeductions) instead of by id in three maps on every use: per
// referral and invoice, and again per cycle for each accounting line, those
// lookups were about 2.9 s of a 1M-referral night's CPU (docs/performance.md,
// change 41).
type deduction struct{ refunded, credited, disputed int64 }

// sumDeductions sums R per charge, N per invoice and D per charge over the
// Stripe data (SPEC 2.2) and gives each invoice its own (e.deductions; nil
// when there are none at all). A sum that does not fit in int64 is an error
// naming the charge or invoice.
func (e *engine) sumDeductions() error {
	s := &e.in.Stripe
	asOf := e.asOfSec
	refunded, disputed, credited := map[string]int64{}, map[string]int64{}, map[string]int64{}
	for i := range s.Refunds {
		r := &s.Refunds[i]
		if r.Status != refundSucceeded || r.Charge == "" || r.Created > asOf {
			continue
		}
		if err := addTo(refunded, r.Charge, r.Amount, "refunds of charge"); err != nil {
			return err
		}
	}
	for i := range s.Disputes {
		d := &s.Disputes[i]
		if !disputeTakes(d.Status) || d.Charge == "" || d.Created > asOf {
			continue
		}
		if err := addTo(disputed, d.Charge, d.Amount, "disputes of charge"); err != nil {
			return err
		}
	}
	counted := func(c *CreditNote) bool {
		return c.Type == creditNotePostPayment && c.Status == creditNoteIssued && c.Invoice != "" && c.Created <= asOf
	}
	// The refunds the counted credit notes name, by id, whatever their
	// status or creation time ("present in the data"). An id listed twice
	// (hand-built inputs; the sources reject it) keeps its smallest amount,
	// so N is never smaller than with either.
	named := make(map[string]int64)
	for i := range s.CreditNotes {
		if c := &s.CreditNotes[i]; counted(c) && c.Refund != "" {
			named[c.Refund] = -1
		}
	}
	if len(named) > 0 {
		for i := range s.Refunds {
			r := &s.Refunds[i]
			if prev, ok := named[r.ID]; ok && (prev < 0 || r.Amount < prev) {
				named[r.ID] = r.Amount
			}
		}
	}
	for i := range s.CreditNotes {
		c := &s.CreditNotes[i]
		if !counted(c) {
			continue
		}
		n := c.Amount
		if ra, ok := named[c.Refund]; ok && ra >= 0 {
			n = max(n-ra, 0) // both >= 0: no overflow
		}
		if err := addTo(credited, c.Invoice, n, "credit notes of invoice"); err != nil {
			return err
		}
	}
	if len(refunded)+len(disputed)+len(credited) == 0 {
		return nil
	}
	invoices := s.Invoices
	e.deductions = make([]deduction, len(invoices))
	parallelRanges(len(invoices), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			inv := &invoices[i]
			d := &e.deductions[i]
			d.credited = credited[inv.ID]
			if inv.Charge != "" {
				d.refunded, d.disputed = refunded[inv.Charge], disputed[inv.Charge]
			}
		}
	})
	return nil
}

// addTo adds v to m[k], or fails naming what overflowed.
func addTo(m map[string]int64, k string, v int64, what string) error {
	s, ok := addInt64(m[k], v)
	if !ok {
		return fmt.Errorf("%s %q: %w", what, k, errOverflow)
	}
	m[k] = s
	return nil
}

// badAmount is a negative amount of money found in one Stripe object.
type badAmount struct {
	kind  int // position in amountKinds: the report order
	id    string
	field string
	v     int64
}

var amountKinds = [...]string{"invoice", "refund", "credit note", "dispute"}

// checkAmounts fails when any Stripe object carries a negative amount_paid,
// tax, or refund, credit note or dispute amount, whether or not the rules
// would count it (SPEC 2.2): a negative deduction would silently raise
// revenue. The error names the first such object (by kind, then id) and
// how many more there are.
func checkAmounts(s *Stripe) error {
	var bad []badAmount
	note := func(kind int, id, field string, v int64) {
		if v < 0 {
			bad = append(bad, badAmount{kind, id, field, v})
		}
	}
	for i := range s.Invoices {
		inv := &s.Invoices[i]
		note(0, inv.ID, "amount_paid", inv.AmountPaid)
		note(0, inv.ID, "tax", inv.Tax)
	}
	for i := range s.Refunds {
		note(1, s.Refunds[i].ID, "amount", s.Refunds[i].Amount)
	}
	for i := range s.CreditNotes {
		note(2, s.CreditNotes[i].ID, "amount", s.CreditNotes[i].Amount)
	}
	for i := range s.Disputes {
		note(3, s.Disputes[i].ID, "amount", s.Disputes[i].Amount)
	}
	if len(bad) == 0 {
		return nil
	}
	first := slices.MinFunc(bad, func(a, b badAmount) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), strings.Compare(a.id, b.id), strings.Compare(a.field, b.field), cmp.Compare(a.v, b.v))
	})
	msg := fmt.Sprintf("%s %q: negative %s %d: Stripe amounts are never negative", amountKinds[first.kind], first.id, first.field, first.v)
	if len(bad) > 1 {
		msg += fmt.Sprintf(" (and %d more negative amounts)", len(bad)-1)
	}
	return fmt.Errorf("bad Stripe data: %s", msg)
}
