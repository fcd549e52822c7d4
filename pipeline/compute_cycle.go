package pipeline

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// referrerMetrics are one referrer's metrics in the cycle being computed
// (SPEC 2.3).
type referrerMetrics struct {
	referrer    int32
	ranked      bool
	referrals   int64
	conversions int64
	pendingConv int64
	revenue     int64
	pendingRev  int64
	lastConv    int64 // valid when conversions > 0
	lastRev     int64 // valid when revenue > 0
	accumulated int64 // revenue so far while the events are replayed
}

// cycleScratch is one worker's reusable per-cycle state: the metrics of the
// referrers a cycle touches, found through a dense slot index.
type cycleScratch struct {
	slot    []int32 // per referrer: index into metrics, or -1
	metrics []referrerMetrics
}

func newCycleScratch(referrers int) *cycleScratch {
	sc := &cycleScratch{slot: make([]int32, referrers)}
	for i := range sc.slot {
		sc.slot[i] = -1
	}
	return sc
}

// get is the referrer's metrics. The pointer is valid until the next get of
// another referrer.
func (sc *cycleScratch) get(ref int32) *referrerMetrics {
	if k := sc.slot[ref]; k >= 0 {
		return &sc.metrics[k]
	}
	sc.slot[ref] = int32(len(sc.metrics))
	sc.metrics = append(sc.metrics, referrerMetrics{referrer: ref})
	return &sc.metrics[len(sc.metrics)-1]
}

// reset forgets the cycle's metrics.
func (sc *cycleScratch) reset() {
	for i := range sc.metrics {
		sc.slot[sc.metrics[i].referrer] = -1
	}
	sc.metrics = sc.metrics[:0]
}

// revenueEvent is a qualifying payment paid in the cycle's window.
type revenueEvent struct {
	paidAt  int64
	net     int64
	inv     int32 // index into in.Stripe.Invoices
	ref     int32 // index into engine.valid
	pending bool
}

// refConversion is a valid referral's conversion in a cycle.
type refConversion struct {
	valid int32 // index into engine.valid
	conv  Conversion
}

// qualifies reports whether a candidate payment qualifies for the cycle
// (SPEC 2.2) given the referral's referred_at.
func (e *engine) qualifies(c *cycleRules, p *payment, at int64) bool {
	inv := &e.in.Stripe.Invoices[p.inv]
	if inv.Currency != c.c.Rules.Currency || (c.hasAttr && p.paidAt > satAdd(at, c.attrSecs)) {
		return false
	}
	if len(e.cycles) <= 64 {
		return p.plans&(1<<c.idx) != 0
	}
	return c.planEligible(inv)
}

// planEligible reports whether some line of the invoice has an eligible
// price id or lookup key.
func (c *cycleRules) planEligible(inv *Invoice) bool {
	if c.plans == nil {
		return true
	}
	for _, p := range inv.Prices {
		if _, ok := c.plans[p.ID]; ok && p.ID != "" {
			return true
		}
		if _, ok := c.plans[p.LookupKey]; ok && p.LookupKey != "" {
			return true
		}
	}
	return false
}

// pending reports whether a payment paid at paidAt is still in its hold.
func (e *engine) pending(c *cycleRules, paidAt int64) bool {
	return satAdd(paidAt, c.holdSecs) > e.asOfSec
}

// computeCycles computes every cycle, in parallel, and records the
// conversions in the decisions in cycle order.
func (e *engine) computeCycles() ([]CycleResult, error) {
	type output struct {
		cr    CycleResult
		convs []refConversion
		err   error
	}
	outs := make([]output, len(e.cycles))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(e.cycles)) {
		wg.Go(func() {
			sc := newCycleScratch(len(e.refcodes))
			for ci := range next {
				o := &outs[ci]
				o.cr, o.convs, o.err = e.computeCycle(ci, sc)
				sc.reset()
			}
		})
	}
	for ci := range e.cycles {
		next <- ci
	}
	close(next)
	wg.Wait()
	res := make([]CycleResult, len(e.cycles))
	for ci := range outs {
		if err := outs[ci].err; err != nil {
			return nil, fmt.Errorf("cycle %q: %w", e.cycles[ci].c.ID, err)
		}
		res[ci] = outs[ci].cr
		for _, rc := range outs[ci].convs {
			v := &e.valid[rc.valid]
			v.converted = true
			d := &e.decisions[v.decision]
			d.Conversions = append(d.Conversions, rc.conv)
		}
	}
	return res, nil
}

// computeCycle computes one cycle's metrics, leaderboard, awards and
// accounting, and the conversions of the referrals in it. It only reads the
// engine.
func (e *engine) computeCycle(ci int, sc *cycleScratch) (CycleResult, []refConversion, error) {
	c := &e.cycles[ci]
	var events []revenueEvent
	var convs []refConversion
	for vi := range e.valid {
		v := &e.valid[vi]
		if v.at >= c.start && v.at <= c.end {
			sc.get(v.referrer).referrals++
		}
		pays := e.payments[v.payLo:v.payHi]
		// Only a referral with a candidate payment in the window can have
		// revenue events or convert in this cycle.
		first, _ := slices.BinarySearchFunc(pays, c.start, func(p payment, t int64) int { return cmp.Compare(p.paidAt, t) })
		if first == len(pays) || pays[first].paidAt > c.end {
			continue
		}
		var n int64
		m := sc.get(v.referrer)
		for pi := range pays {
			p := &pays[pi]
			if p.paidAt > c.end {
				break
			}
			if !e.qualifies(c, p, v.at) {
				continue
			}
			n++
			if p.paidAt < c.start {
				continue
			}
			pend := e.pending(c, p.paidAt)
			events = append(events, revenueEvent{paidAt: p.paidAt, net: p.net, inv: p.inv, ref: int32(vi), pending: pend})
			var ok bool
			if m.revenue, ok = addInt64(m.revenue, p.net); !ok {
				return CycleResult{}, nil, fmt.Errorf("referrer %q: revenue: %w", e.refcodes[v.referrer], errOverflow)
			}
			if pend {
				m.pendingRev += p.net // <= revenue, cannot overflow
			}
			m.lastRev = max(m.lastRev, p.paidAt) // a referrer's payments come from many referrals, in no order
			if n == c.minPays {
				m.conversions++
				if pend {
					m.pendingConv++
				}
				m.lastConv = max(m.lastConv, p.paidAt)
				convs = append(convs, refConversion{int32(vi), e.conversion(c, v, p, pend)})
			}
		}
	}
	slices.SortFunc(events, func(a, b revenueEvent) int { return e.compareEvents(&a, &b) })

	// Ranked referrers: revenue > 0 in the cycle.
	var ranked []rankedReferrer
	for k := range sc.metrics {
		m := &sc.metrics[k]
		if m.revenue <= 0 {
			continue
		}
		m.ranked = true
		r := rankedReferrer{referrer: m.referrer, refcode: e.refcodes[m.referrer], m: m, disqualified: c.disqualified(e.refcodes[m.referrer])}
		r.reachedAt = m.lastRev
		if c.c.Rules.AwardModel == PieSplit && c.c.Rules.ScoreBy == ScoreByConversions && m.conversions > 0 {
			r.reachedAt = m.lastConv
		}
		ranked = append(ranked, r)
	}
	cr := CycleResult{Cycle: c.c, Events: make([]AccountingLine, len(events))}
	var err error
	switch c.c.Rules.AwardModel {
	case PieSplit:
		err = e.pieSplitCycle(c, ranked, events, sc, &cr)
	case RevShareCap:
		err = e.revShareCycle(c, ranked, events, &cr)
	}
	if err != nil {
		return CycleResult{}, nil, err
	}

	// Unranked: every other refcode of the users table.
	cr.Unranked = make([]Entry, 0, len(e.refcodes)-len(ranked))
	for ref, rc := range e.refcodes {
		en := Entry{Refcode: rc, BoostDen: 1}
		if k := sc.slot[ref]; k >= 0 {
			if sc.metrics[k].ranked {
				continue
			}
			en.Referrals = sc.metrics[k].referrals
		}
		en.AdminAction = c.action(rc)
		cr.Unranked = append(cr.Unranked, en)
	}

	if err := e.totals(&cr, sc.metrics); err != nil {
		return CycleResult{}, nil, err
	}
	cr.Status, cr.SettlesAt, cr.IsFinal = e.status(c, cr.AwardPoolRemaining)
	return cr, convs, nil
}

// conversion is the decision record of a referral converting in a cycle on
// payment p (SPEC 2.7). The reasons are checked in the order pending_hold,
// referrer_disqualified, already_rewarded.
func (e *engine) conversion(c *cycleRules, v *validReferral, p *payment, pending bool) Conversion {
	conv := Conversion{
		CycleID:     c.c.ID,
		ConvertedAt: p.paidAt,
		InvoiceID:   e.in.Stripe.Invoices[p.inv].ID,
		Pending:     pending,
	}
	switch {
	case pending:
		conv.Reason = ReasonPendingHold
	case c.disqualified(e.refcodes[v.referrer]):
		conv.Reason = ReasonReferrerDisqualified
	case e.decisions[v.decision].Row.Rewarded:
		conv.Reason = ReasonAlreadyRewarded
	default:
		conv.RewardEligible = true
	}
	return conv
}

// compareEvents orders revenue events by (paid_at, invoice id), then by the
// rest of the invoice and the referral so that the order is total.
func (e *engine) compareEvents(a, b *revenueEvent) int {
	if c := cmp.Compare(a.paidAt, b.paidAt); c != 0 {
		return c
	}
	if a.inv != b.inv {
		if c := compareInvoices(&e.in.Stripe.Invoices[a.inv], &e.in.Stripe.Invoices[b.inv]); c != 0 {
			return c
		}
	}
	return cmp.Compare(a.ref, b.ref)
}

// accountingLine is the accounting record of an event, without the claim.
func (e *engine) accountingLine(ev *revenueEvent, accumulated int64) AccountingLine {
	inv := &e.in.Stripe.Invoices[ev.inv]
	v := &e.valid[ev.ref]
	// The parts were computed without error when the payment was found.
	parts, _ := e.netOf(ev.inv)
	return AccountingLine{
		Gross:              parts.Gross,
		Refunded:           parts.Refunded,
		Credited:           parts.Credited,
		Disputed:           parts.Disputed,
		InvoiceID:          inv.ID,
		CustomerID:         inv.Customer,
		Refcode:            e.refcodes[v.referrer],
		RefereeEmail:       e.decisions[v.decision].Row.Email,
		PaidAt:             ev.paidAt,
		Net:                ev.net,
		Pending:            ev.pending,
		AccumulatedRevenue: accumulated,
	}
}

// rankedReferrer is a referrer with revenue in the cycle.
type rankedReferrer struct {
	referrer     int32
	refcode      string
	m            *referrerMetrics
	reachedAt    int64
	disqualified bool
}

// entry is the leaderboard line of a ranked referrer, without award
// fields.
func (r *rankedReferrer) entry(c *cycleRules, rank int, score int64) Entry {
	return Entry{
		Rank:               rank,
		Refcode:            r.refcode,
		Score:              score,
		Referrals:          r.m.referrals,
		Conversions:        r.m.conversions,
		PendingConversions: r.m.pendingConv,
		Revenue:            r.m.revenue,
		PendingRevenue:     r.m.pendingRev,
		ScoreReachedAt:     r.reachedAt,
		BoostDen:           1,
		AdminAction:        c.action(r.refcode),
	}
}

// totals fills the cycle's control totals.
func (e *engine) totals(cr *CycleResult, metrics []referrerMetrics) error {
	t := &cr.Totals
	var ok bool
	for k := range metrics {
		m := &metrics[k]
		rc := e.refcodes[m.referrer]
		if t.Referrals, ok = addInt64(t.Referrals, m.referrals); !ok {
			return fmt.Errorf("referrals total at referrer %q: %w", rc, errOverflow)
		}
		if t.Conversions, ok = addInt64(t.Conversions, m.conversions); !ok {
			return fmt.Errorf("conversions total at referrer %q: %w", rc, errOverflow)
		}
		if t.PendingConversions, ok = addInt64(t.PendingConversions, m.pendingConv); !ok {
			return fmt.Errorf("pending conversions total at referrer %q: %w", rc, errOverflow)
		}
		if t.Revenue, ok = addInt64(t.Revenue, m.revenue); !ok {
			return fmt.Errorf("revenue total at referrer %q: %w", rc, errOverflow)
		}
		if t.PendingRevenue, ok = addInt64(t.PendingRevenue, m.pendingRev); !ok {
			return fmt.Errorf("pending revenue total at referrer %q: %w", rc, errOverflow)
		}
	}
	t.RankedReferrers = int64(len(cr.Leaderboard))
	for i := range cr.Leaderboard {
		en := &cr.Leaderboard[i]
		if en.Qualified {
			t.QualifiedReferrers++
		}
		// Awards sum to at most the pool: no overflow.
		t.Awarded += en.Award
	}
	return nil
}

// status is the cycle's state at asOf (SPEC 2.6).
func (e *engine) status(c *cycleRules, remaining int64) (Status, time.Time, bool) {
	r := &c.c.Rules
	var st Status
	switch {
	case e.asOf.Before(r.StartTime):
		st = Scheduled
	case !e.asOf.After(r.EndTime):
		st = Active
		if r.AwardModel == RevShareCap && remaining == 0 {
			st = Exhausted
		}
	case r.AreAwardsDistributed:
		st = Closed
	default:
		st = AwardsReview
	}
	// settlesAt = endTime + holdDays (SPEC 2.6), days of 86400 s.
	settles := time.Unix(satAdd(floorUnix(r.EndTime), c.holdSecs), int64(r.EndTime.Nanosecond())).UTC()
	return st, settles, !e.asOf.Before(settles)
}

// assignStopReasons gives every valid referral that converts in no cycle the
// furthest stage any of its invoices reached against any cycle (SPEC 2.7):
// no_customer < no_paid_invoice < paid_before_referral < refunded <
// disputed < currency_mismatch < plan_not_eligible < outside_attribution_window <
// outside_cycles.
func (e *engine) assignStopReasons() {
	for vi := range e.valid {
		v := &e.valid[vi]
		if v.converted {
			continue
		}
		d := &e.decisions[v.decision]
		if !v.hasCustomer {
			d.Reason = ReasonNoCustomer
			continue
		}
		stage := stageNoPaidInvoice
		for pos := v.invLo; pos < v.invHi; pos++ {
			stage = max(stage, e.invoiceStage(e.refInvoices[pos], v.at))
			if stage == stageOutsideCycles {
				break
			}
		}
		d.Reason = stageReasons[stage]
	}
}

// The stages a referral's invoice can reach, in order.
const (
	stageNoPaidInvoice = iota
	stagePaidBeforeReferral
	stageRefunded
	stageDisputed
	stageCurrencyMismatch
	stagePlanNotEligible
	stageOutsideAttribution
	stageOutsideCycles
)

var stageReasons = [...]string{
	stageNoPaidInvoice:      ReasonNoPaidInvoice,
	stagePaidBeforeReferral: ReasonPaidBeforeReferral,
	stageRefunded:           ReasonRefunded,
	stageDisputed:           ReasonDisputed,
	stageCurrencyMismatch:   ReasonCurrencyMismatch,
	stagePlanNotEligible:    ReasonPlanNotEligible,
	stageOutsideAttribution: ReasonOutsideAttributionWindow,
	stageOutsideCycles:      ReasonOutsideCycles,
}

// invoiceStage is the furthest stage invoice ii of a referral referred at
// `at` reaches against any cycle. An invoice that charged nothing
// (amount_paid - tax <= 0) counts as not paid; one whose refunds took its
// net amount to 0 is refunded (refunds and credit notes) or disputed (the
// disputes took what the refunds and credit notes left).
func (e *engine) invoiceStage(ii int32, at int64) int {
	if s, ok := e.paymentStage(ii, at); !ok {
		return s
	}
	if len(e.cycles) == 0 {
		return stageOutsideCycles
	}
	best := stageCurrencyMismatch
	for ci := range e.cycles {
		best = max(best, e.cycles[ci].stage(&e.in.Stripe.Invoices[ii], at))
	}
	return best
}

// paymentStage is how far invoice ii gets before any cycle's rules: ok when
// it is a candidate payment with a positive net amount, otherwise the stage
// it stops at.
func (e *engine) paymentStage(ii int32, at int64) (int, bool) {
	inv := &e.in.Stripe.Invoices[ii]
	if !e.paid(inv) {
		return stageNoPaidInvoice, false
	}
	parts, err := e.netOf(ii)
	if err != nil || parts.Gross <= 0 {
		return stageNoPaidInvoice, false
	}
	if inv.PaidAt < at {
		return stagePaidBeforeReferral, false
	}
	if parts.AfterCredits <= 0 {
		return stageRefunded, false
	}
	if parts.Net <= 0 {
		return stageDisputed, false
	}
	return 0, true
}

// stage is how far a candidate payment gets under the cycle's rules:
// stageOutsideCycles when it qualifies for the cycle.
func (c *cycleRules) stage(inv *Invoice, at int64) int {
	switch {
	case inv.Currency != c.c.Rules.Currency:
		return stageCurrencyMismatch
	case !c.planEligible(inv):
		return stagePlanNotEligible
	case c.hasAttr && inv.PaidAt > satAdd(at, c.attrSecs):
		return stageOutsideAttribution
	}
	return stageOutsideCycles
}

// compareRanked orders by key descending, then reachedAt ascending, then
// refcode ascending.
func compareRanked(aKey, bKey int64, a, b *rankedReferrer) int {
	if c := cmp.Compare(bKey, aKey); c != 0 {
		return c
	}
	if c := cmp.Compare(a.reachedAt, b.reachedAt); c != 0 {
		return c
	}
	return strings.Compare(a.refcode, b.refcode)
}
