package pipeline

import (
	"slices"
	"strings"
	"time"
)

// The decision trace: what `refrecon explain` shows. ComputeTrace runs the
// same computation as Compute, keeping the few intermediate values the
// outputs do not carry (each pie-split share's arithmetic), and then reads
// the engine's state for one referee or one referrer: the customers it
// matched, each invoice's net and how far it got under each cycle's rules
// (the functions that decided it: paymentStage, cycleRules.stage, pending),
// the conversions and eligibility, and the award arithmetic. Compute keeps
// nothing of it (engine.trace is nil), so a normal run pays nothing.

// traceState is what the engine keeps while tracing.
type traceState struct {
	pie [][]pieDetail // per cycle index: the pie-split arithmetic, leaderboard order
}

// TraceQuery says what to trace: the referral rows of a referee email
// (matched canonically, SPEC 2.1), or the referrer with a refcode.
type TraceQuery struct {
	RefereeEmail string
	Refcode      string
}

// Trace is the explanation of the rows or the referrer a TraceQuery asked
// for. Rows is empty when no referrals row has the email; Referrer is nil
// when no users row has the refcode.
type Trace struct {
	Rows     []RowTrace
	Referrer *ReferrerTrace
}

// RowTrace explains one referrals row.
type RowTrace struct {
	Decision ReferralDecision
	// Customers are the Stripe customer ids whose canonical email is the
	// referee's (valid rows only), ascending.
	Customers []string
	// Invoices are those customers' invoices, (paid_at, id) order.
	Invoices []InvoiceTrace
}

// InvoiceTrace is one invoice of a referee and what became of it.
type InvoiceTrace struct {
	ID, Customer, Status, Currency string
	PaidAt                         int64 // Unix seconds; 0 = not paid
	Prices                         []Price
	// Paid: status paid and paid_at <= asOf.
	Paid bool
	// SPEC 2.2: Net = Gross - Refunded - Credited - Disputed, floored at 0.
	Gross, Refunded, Credited, Disputed, Net int64
	// Stop is the reason the invoice is no candidate payment
	// (no_paid_invoice, paid_before_referral, refunded, disputed); "" when
	// it is one, and Cycles says what each cycle made of it.
	Stop   string
	Cycles []InvoiceCycle
}

// InvoiceCycle is a candidate payment under one cycle's rules.
type InvoiceCycle struct {
	CycleID string
	// Qualifies under the cycle's rules (currency, plans, attribution);
	// otherwise Reason is the first rule it fails: currency_mismatch,
	// plan_not_eligible or outside_attribution_window.
	Qualifies bool
	Reason    string
	// InWindow: paid in the cycle's window, so a revenue event of it when
	// it qualifies. Pending: still in the cycle's hold at asOf.
	InWindow, Pending bool
}

// ReferrerTrace explains one referrer.
type ReferrerTrace struct {
	Refcode string
	Emails  []string // of its users rows
	Cycles  []ReferrerCycle
}

// ReferrerCycle is a referrer in one cycle.
type ReferrerCycle struct {
	Cycle  Cycle
	Ranked bool  // on the leaderboard (revenue > 0)
	Entry  Entry // its leaderboard or unranked entry
	// Pie is the pie-split award arithmetic of a ranked referrer; nil for
	// rev-share-cap and unranked referrers.
	Pie *PieArithmetic
	// Events are its revenue events in the cycle (rev-share-cap: with the
	// pool before each claim and the claim).
	Events []AccountingLine
	// Referrals are the referrals rows with its refcode whose referred_at
	// lies in the window (what Entry.Referrals counts), decision order.
	Referrals []ReferralDecision
}

// PieArithmetic is one ranked referrer's share of a pie-split pool (SPEC
// 2.4): award = floor(Pool × Weight / TotalWeight), plus one unit when
// ExtraUnit (the units left over go to the largest remainders). Big values
// are decimal strings: Weight and TotalWeight may exceed int64.
type PieArithmetic struct {
	Pool                  int64
	MaxQualifiedReferrers int64
	Qualified             bool
	Position              int64  // q, 1-based among qualified referrers; 0 when not qualified
	Multiplier            int64  // 2N - 1 - q (1 when N = 1)
	Weight                string // score × Multiplier
	TotalWeight           string // W, the sum of the qualified weights
	Quotient              int64  // floor(Pool × Weight / W)
	Remainder             string // Pool × Weight mod W
	ExtraUnit             bool
	Award                 int64
}

// ComputeTrace computes the result exactly as Compute does and explains
// what q asks for.
func ComputeTrace(in Inputs, set CycleSet, asOf time.Time, q TraceQuery) (*Result, *Trace, error) {
	res, e, err := compute(in, set, asOf, true)
	if err != nil {
		return nil, nil, err
	}
	tr := &Trace{}
	if q.RefereeEmail != "" {
		tr.Rows = e.traceRows(res, q.RefereeEmail)
	}
	if q.Refcode != "" {
		tr.Referrer = e.traceReferrer(res, q.Refcode)
	}
	return res, tr, nil
}

// traceRows explains the rows whose referee email is email canonically
// (or, for an email that is not valid, equal after trimming and
// lowercasing).
func (e *engine) traceRows(res *Result, email string) []RowTrace {
	canon, ok := CanonicalEmail(email)
	plain := strings.ToLower(strings.TrimSpace(email))
	var out []RowTrace
	for di := range res.Decisions {
		d := &res.Decisions[di]
		match := ok && d.CanonicalEmail == canon
		if !match && d.CanonicalEmail == "" {
			match = strings.ToLower(strings.TrimSpace(d.Row.Email)) == plain
		}
		if !match {
			continue
		}
		rt := RowTrace{Decision: *d}
		if d.Outcome == Valid {
			e.traceInvoices(&rt, e.validOf[di])
		}
		out = append(out, rt)
	}
	return out
}

func (e *engine) traceInvoices(rt *RowTrace, vi int32) {
	v := &e.valid[vi]
	for id, r := range e.custRef {
		if r == vi || slices.Contains(e.custExtra[id], vi) {
			rt.Customers = append(rt.Customers, id)
		}
	}
	slices.Sort(rt.Customers)
	for pos := v.invLo; pos < v.invHi; pos++ {
		ii := e.refInvoices[pos]
		inv := &e.in.Stripe.Invoices[ii]
		parts, _ := e.netOf(ii) // its error stops Compute for a candidate payment
		it := InvoiceTrace{ID: inv.ID, Customer: inv.Customer, Status: inv.Status, Currency: inv.Currency, PaidAt: inv.PaidAt,
			Prices: inv.Prices, Paid: e.paid(inv), Gross: parts.Gross, Refunded: parts.Refunded, Credited: parts.Credited,
			Disputed: parts.Disputed, Net: e.invNet[pos]}
		if s, ok := e.paymentStage(ii, v.at); !ok {
			it.Stop = stageReasons[s]
		} else {
			for ci := range e.cycles {
				c := &e.cycles[ci]
				s := c.stage(inv, v.at)
				ic := InvoiceCycle{CycleID: c.c.ID, Qualifies: s == stageOutsideCycles,
					InWindow: inv.PaidAt >= c.start && inv.PaidAt <= c.end, Pending: e.pending(c, inv.PaidAt)}
				if !ic.Qualifies {
					ic.Reason = stageReasons[s]
				}
				it.Cycles = append(it.Cycles, ic)
			}
		}
		rt.Invoices = append(rt.Invoices, it)
	}
}

// traceReferrer explains the referrer with refcode; nil when no users row
// has it.
func (e *engine) traceReferrer(res *Result, refcode string) *ReferrerTrace {
	ri, ok := e.refcodeIndex[refcode]
	if !ok {
		return nil
	}
	rt := &ReferrerTrace{Refcode: refcode}
	for _, u := range res.Referrers {
		if u.Refcode == refcode {
			rt.Emails = append(rt.Emails, u.Email)
		}
	}
	for ci := range res.Cycles {
		cr := &res.Cycles[ci]
		c := &e.cycles[ci]
		rc := ReferrerCycle{Cycle: cr.Cycle}
		if i := slices.IndexFunc(cr.Leaderboard, func(en Entry) bool { return en.Refcode == refcode }); i >= 0 {
			rc.Ranked, rc.Entry = true, cr.Leaderboard[i]
			if detail := e.trace.pie[ci]; i < len(detail) {
				rc.Pie = pieArithmetic(&cr.Cycle.Rules, &cr.Leaderboard[i], &detail[i])
			}
		} else if i := slices.IndexFunc(cr.Unranked, func(en Entry) bool { return en.Refcode == refcode }); i >= 0 {
			rc.Entry = cr.Unranked[i]
		}
		for _, ev := range cr.Events {
			if ev.Refcode == refcode {
				rc.Events = append(rc.Events, ev)
			}
		}
		for vi := range e.valid {
			v := &e.valid[vi]
			if v.referrer == ri && v.at >= c.start && v.at <= c.end {
				rc.Referrals = append(rc.Referrals, res.Decisions[v.decision])
			}
		}
		rt.Cycles = append(rt.Cycles, rc)
	}
	return rt
}

func pieArithmetic(r *Rules, en *Entry, sh *pieDetail) *PieArithmetic {
	p := &PieArithmetic{Pool: r.AwardPool.Amount, MaxQualifiedReferrers: r.MaxQualifiedReferrers, Qualified: en.Qualified,
		Award: en.Award, ExtraUnit: sh.extra}
	if !en.Qualified {
		return p
	}
	p.Position, p.Multiplier = sh.position, 1
	if n := r.MaxQualifiedReferrers; n > 1 {
		p.Multiplier = 2*n - 1 - sh.position // fits: the weight's factor, computed in big integers by pieSplit
	}
	p.Weight, p.TotalWeight = sh.weight.String(), sh.total.String()
	p.Quotient = en.Award
	if sh.extra {
		p.Quotient--
	}
	p.Remainder = "0"
	if sh.rem != nil { // nil when the pool is 0
		p.Remainder = sh.rem.String()
	}
	return p
}
