package pipeline

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Compute applies the rules (SPEC 2) to the inputs for every cycle of set at
// asOf. It is a pure function: the result depends on nothing else, and not
// on the order of any input slice.
//
// It fails on a cycle set whose values make the rules undefined (the ones
// DecodeCycleSet rejects, such as a negative pool), on a negative amount of
// money in any Stripe object (SPEC 2.2: never a silent increase of revenue)
// and on sums that do not fit in int64; the error names the cycle, referrer
// or object. Bad referral rows never fail a run: they become quarantine
// decisions.
func Compute(in Inputs, set CycleSet, asOf time.Time) (*Result, error) {
	res, _, err := compute(in, set, asOf, false)
	return res, err
}

// compute is Compute; with trace it also keeps what the decision trace
// (trace.go) reads, and returns the engine.
func compute(in Inputs, set CycleSet, asOf time.Time, trace bool) (*Result, *engine, error) {
	cycles, err := prepareCycles(set)
	if err != nil {
		return nil, nil, fmt.Errorf("compute: %w", err)
	}
	if err := checkAmounts(&in.Stripe); err != nil {
		return nil, nil, fmt.Errorf("compute: %w", err)
	}
	e := &engine{
		in:      &in,
		asOf:    asOf,
		asOfSec: floorUnix(asOf),
		cycles:  cycles,
	}
	if trace {
		e.trace = &traceState{pie: make([][]pieDetail, len(cycles))}
	}
	e.indexReferrers()
	e.classifyRows()
	e.matchCustomers()
	if err := e.matchInvoices(); err != nil {
		return nil, nil, fmt.Errorf("compute: %w", err)
	}
	res := &Result{
		AsOf:      asOf,
		Decisions: e.decisions,
		Referrers: e.sortedUsers(),
	}
	if res.Cycles, err = e.computeCycles(); err != nil {
		return nil, nil, fmt.Errorf("compute: %w", err)
	}
	e.assignStopReasons()
	e.markClawbacks()
	return res, e, nil
}

// engine holds the indexes one Compute call builds once and shares between
// cycles.
type engine struct {
	in      *Inputs
	asOf    time.Time
	asOfSec int64 // floor(asOf): paid_at <= asOf ⇔ paid_at <= asOfSec
	cycles  []cycleRules

	// referrers: distinct non-empty refcodes of the users table, ascending.
	refcodes     []string
	refcodeIndex map[string]int32
	refEmails    [][]string // canonical emails of each refcode's users rows

	// decisions, one per referrals row, in the canonical Result order.
	decisions []ReferralDecision
	// valid referrals, in decision order.
	valid []validReferral
	// canonical referee email -> index into decisions of its valid row.
	refereeDecision map[string]int32
	// decision index -> index into valid (for valid decisions).
	validOf []int32

	// customer id -> valid referral whose referee has the customer's
	// canonical email; custExtra holds the rare further referrals of a
	// customer id listed twice with different emails.
	custRef   map[string]int32
	custExtra map[string][]int32

	// invoices (indexes into in.Stripe.Invoices) of each valid referral's
	// customers, contiguous per referral, in invoice order.
	refInvoices []int32
	// candidate payments (SPEC 2.2) with a positive net amount, contiguous
	// per referral, ordered by (paid_at, invoice id).
	payments []payment
	// The deductions of SPEC 2.2 of each invoice, by index into
	// in.Stripe.Invoices; nil when the data has none.
	deductions []deduction
	// aligned with refInvoices: net amount (0 when it does not fit int64)
	// and the cycles (bit = index in cycles) whose eligible plans match.
	invNet   []int64
	invPlans []uint64

	// trace is nil unless a decision trace was asked for (ComputeTrace).
	trace *traceState
}

// validReferral is a referrals row that passed SPEC 2.1.
type validReferral struct {
	decision    int32 // index into engine.decisions
	referrer    int32 // index into engine.refcodes
	at          int64 // referred_at, Unix seconds
	hasCustomer bool
	converted   bool
	invLo       int32 // engine.refInvoices[invLo:invHi]
	invHi       int32
	payLo       int32 // engine.payments[payLo:payHi]
	payHi       int32
}

// payment is a candidate payment: a paid invoice of the referee, paid
// between referred_at and asOf, with a positive net amount.
type payment struct {
	paidAt int64
	net    int64
	plans  uint64 // bit ci: plan eligible in cycle ci (when at most 64 cycles)
	inv    int32  // index into in.Stripe.Invoices
}

// cycleRules is a cycle with its rules in the units the engine compares.
type cycleRules struct {
	idx        int // position in the sorted cycles
	c          Cycle
	start, end int64 // the window [start, end] in whole seconds
	holdSecs   int64 // saturated
	attrSecs   int64 // saturated; valid when hasAttr
	hasAttr    bool
	minPays    int64
	plans      map[string]struct{} // nil: every plan
	actions    map[string]AdminAction
}

// prepareCycles validates what the engine relies on and orders the cycles by
// start time (then id).
func prepareCycles(set CycleSet) ([]cycleRules, error) {
	out := make([]cycleRules, 0, len(set.Cycles))
	for i, c := range set.Cycles {
		r := c.Rules
		var problems []string
		switch r.AwardModel {
		case PieSplit:
			if r.MaxQualifiedReferrers < 0 {
				problems = append(problems, "maxQualifiedReferrers is negative")
			}
			if r.ScoreBy != ScoreByConversions && r.ScoreBy != ScoreByRevenue {
				problems = append(problems, fmt.Sprintf("unknown scoreBy %q", r.ScoreBy))
			}
		case RevShareCap:
			if r.RevenueShareBps < 0 || r.RevenueShareBps > 10000 {
				problems = append(problems, "revenueShareBps outside 0..10000")
			}
			if r.MinQualifyingRevenue.Amount < 0 {
				problems = append(problems, "minQualifyingRevenue is negative")
			}
		default:
			problems = append(problems, fmt.Sprintf("unknown award model %q", r.AwardModel))
		}
		if r.AwardPool.Amount < 0 {
			problems = append(problems, "awardPool is negative")
		}
		if r.EndTime.Before(r.StartTime) {
			problems = append(problems, "endTime is before startTime")
		}
		if r.HoldDays < 0 {
			problems = append(problems, "holdDays is negative")
		}
		if r.AttributionDays != nil && *r.AttributionDays < 0 {
			problems = append(problems, "attributionDays is negative")
		}
		if r.MinPaymentsToConvert < 1 {
			problems = append(problems, "minPaymentsToConvert is below 1")
		}
		if len(problems) > 0 {
			return nil, fmt.Errorf("cycle [%d] %q: %s", i, c.ID, strings.Join(problems, "; "))
		}
		cr := cycleRules{
			c:        c,
			start:    ceilUnix(r.StartTime),
			end:      floorUnix(r.EndTime),
			holdSecs: satMul(r.HoldDays, daySeconds),
			minPays:  r.MinPaymentsToConvert,
		}
		if r.AttributionDays != nil {
			cr.hasAttr = true
			cr.attrSecs = satMul(*r.AttributionDays, daySeconds)
		}
		if len(r.EligiblePlans) > 0 {
			cr.plans = make(map[string]struct{}, len(r.EligiblePlans))
			for _, p := range r.EligiblePlans {
				cr.plans[p] = struct{}{}
			}
		}
		if len(r.AdminActions) > 0 {
			cr.actions = make(map[string]AdminAction, len(r.AdminActions))
			for _, a := range r.AdminActions {
				// At most one per refcode (DecodeCycleSet); should a set
				// built by hand repeat one, a disqualification wins.
				if prev, dup := cr.actions[a.Refcode]; dup && prev.ActionType == Disqualification {
					continue
				}
				cr.actions[a.Refcode] = a
			}
		}
		out = append(out, cr)
	}
	slices.SortStableFunc(out, func(a, b cycleRules) int {
		if c := a.c.Rules.StartTime.Compare(b.c.Rules.StartTime); c != 0 {
			return c
		}
		return strings.Compare(a.c.ID, b.c.ID)
	})
	for i := range out {
		out[i].idx = i
	}
	return out, nil
}

// disqualified reports whether refcode is disqualified in the cycle.
func (c *cycleRules) disqualified(refcode string) bool {
	a, ok := c.actions[refcode]
	return ok && a.ActionType == Disqualification
}

// action is the admin action on refcode in the cycle, or nil.
func (c *cycleRules) action(refcode string) *AdminAction {
	a, ok := c.actions[refcode]
	if !ok {
		return nil
	}
	return &a
}

// indexReferrers collects the distinct non-empty refcodes of the users table
// and the canonical emails of their rows.
func (e *engine) indexReferrers() {
	users := e.in.Referrals.Users
	e.refcodeIndex = make(map[string]int32, len(users))
	for _, u := range users {
		if u.Refcode == "" {
			continue
		}
		if _, ok := e.refcodeIndex[u.Refcode]; !ok {
			e.refcodeIndex[u.Refcode] = 0
			e.refcodes = append(e.refcodes, u.Refcode)
		}
	}
	slices.Sort(e.refcodes)
	for i, rc := range e.refcodes {
		e.refcodeIndex[rc] = int32(i)
	}
	e.refEmails = make([][]string, len(e.refcodes))
	for _, u := range users {
		if u.Refcode == "" {
			continue
		}
		if c, ok := CanonicalEmail(u.Email); ok {
			i := e.refcodeIndex[u.Refcode]
			if !slices.Contains(e.refEmails[i], c) {
				e.refEmails[i] = append(e.refEmails[i], c)
			}
		}
	}
}

// sortedUsers is every users row, by refcode then email (bytewise).
func (e *engine) sortedUsers() []User {
	users := slices.Clone(e.in.Referrals.Users)
	slices.SortFunc(users, func(a, b User) int {
		if c := strings.Compare(a.Refcode, b.Refcode); c != 0 {
			return c
		}
		return strings.Compare(a.Email, b.Email)
	})
	return users
}

// compareRows is the Result order of decisions: raw email, refcode,
// referred_at bytewise, then the remaining fields so that the order is
// total.
func compareRows(a, b *ReferralRow) int {
	if c := strings.Compare(a.Email, b.Email); c != 0 {
		return c
	}
	if c := strings.Compare(a.Refcode, b.Refcode); c != 0 {
		return c
	}
	if c := strings.Compare(a.ReferredAt, b.ReferredAt); c != 0 {
		return c
	}
	if c := strings.Compare(a.SelectedPlan, b.SelectedPlan); c != 0 {
		return c
	}
	switch {
	case a.Rewarded == b.Rewarded:
		return 0
	case b.Rewarded:
		return -1
	default:
		return 1
	}
}

// parseReferredAt accepts SQLite's "YYYY-MM-DD HH:MM:SS" (UTC) and RFC 3339.
// Fractional seconds are truncated.
func parseReferredAt(s string) (int64, bool) {
	var t time.Time
	var err error
	if len(s) >= 19 && s[10] == ' ' {
		t, err = time.Parse(time.DateTime, s)
	} else {
		t, err = ParseRFC3339(s)
	}
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

// classifyRows gives every referrals row its outcome (SPEC 2.1) and collects
// the valid referrals.
func (e *engine) classifyRows() {
	rows := e.in.Referrals.Rows
	// The pure per-row work first, on every core: canonical emails and
	// timestamps, in input order.
	type parsed struct {
		canon   string
		at      int64
		emailOK bool
		atOK    bool
	}
	pr := make([]parsed, len(rows))
	parallelRanges(len(rows), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p := &pr[i]
			p.canon, p.emailOK = CanonicalEmail(rows[i].Email)
			p.at, p.atOK = parseReferredAt(rows[i].ReferredAt)
		}
	})
	type key struct {
		email string
		row   int32
	}
	order := make([]key, len(rows))
	for i := range rows {
		order[i] = key{rows[i].Email, int32(i)}
	}
	parallelSortFunc(order, func(a, b key) int {
		if a.email != b.email {
			return strings.Compare(a.email, b.email)
		}
		return compareRows(&rows[a.row], &rows[b.row])
	})

	e.decisions = make([]ReferralDecision, len(rows))
	// Rows that pass the quarantine and self-referral checks compete for
	// their canonical referee email: the winner is the earliest referred_at,
	// then the smallest raw email, then the decision order.
	winner := make(map[string]int32, len(rows))
	refOf := make([]int32, len(rows))
	for di, k := range order {
		d := &e.decisions[di]
		d.Row = rows[k.row]
		p := &pr[k.row]
		canon, emailOK, at, atOK := p.canon, p.emailOK, p.at, p.atOK
		if emailOK {
			d.CanonicalEmail = canon
		}
		if atOK {
			d.ReferredAt = at
		}
		ref, refOK := int32(0), false
		if d.Row.Refcode != "" {
			ref, refOK = e.refcodeIndex[d.Row.Refcode]
		}
		refOf[di] = ref
		switch {
		case !emailOK:
			d.Outcome, d.Reason = Quarantined, ReasonInvalidEmail
		case !refOK:
			d.Outcome, d.Reason = Quarantined, ReasonUnknownRefcode
		case !atOK:
			d.Outcome, d.Reason = Quarantined, ReasonInvalidTimestamp
		case slices.Contains(e.refEmails[ref], canon):
			d.Outcome, d.Reason = Excluded, ReasonSelfReferral
		default:
			d.Outcome = Valid
			w, seen := winner[canon]
			if !seen {
				winner[canon] = int32(di)
				continue
			}
			wd := &e.decisions[w]
			if at < wd.ReferredAt || (at == wd.ReferredAt && d.Row.Email < wd.Row.Email) {
				wd.Outcome, wd.Reason = Excluded, ReasonDuplicateReferee
				winner[canon] = int32(di)
			} else {
				d.Outcome, d.Reason = Excluded, ReasonDuplicateReferee
			}
		}
	}
	// The winners are the valid referrals, kept in decision order; the
	// winner map now finds a referee's decision, and validOf its referral.
	e.refereeDecision = winner
	e.validOf = make([]int32, len(e.decisions))
	e.valid = make([]validReferral, 0, len(winner))
	for di := range e.decisions {
		d := &e.decisions[di]
		if d.Outcome != Valid {
			continue
		}
		e.valid = append(e.valid, validReferral{decision: int32(di), referrer: refOf[di], at: d.ReferredAt})
		e.validOf[di] = int32(len(e.valid) - 1)
	}
}

// validByEmail finds the valid referral of a canonical referee email.
func (e *engine) validByEmail(canon string) (int32, bool) {
	di, ok := e.refereeDecision[canon]
	if !ok {
		return 0, false
	}
	return e.validOf[di], true
}

// matchCustomers maps every Stripe customer whose canonical email is a valid
// referee's to that referral.
func (e *engine) matchCustomers() {
	customers := e.in.Stripe.Customers
	// Canonical emails and lookups on every core (map reads only).
	match := make([]int32, len(customers))
	parallelRanges(len(customers), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			match[i] = -1
			if canon, ok := CanonicalEmail(customers[i].Email); ok {
				if v, ok := e.validByEmail(canon); ok {
					match[i] = v
				}
			}
		}
	})
	e.custRef = make(map[string]int32, len(e.valid))
	for i := range customers {
		c, v := &customers[i], match[i]
		if v < 0 {
			continue
		}
		e.valid[v].hasCustomer = true
		prev, seen := e.custRef[c.ID]
		switch {
		case !seen:
			e.custRef[c.ID] = v
		case prev != v:
			// The same customer id listed twice with emails of two
			// referees: its invoices belong to both (order-independent).
			if e.custExtra == nil {
				e.custExtra = make(map[string][]int32)
			}
			if !slices.Contains(e.custExtra[c.ID], v) {
				e.custExtra[c.ID] = append(e.custExtra[c.ID], v)
			}
		}
	}
	for id, vs := range e.custExtra {
		// Keep the smallest referral in custRef and the others here, so
		// that the mapping does not depend on the customers' order.
		all := append(vs, e.custRef[id])
		slices.Sort(all)
		all = slices.Compact(all)
		e.custRef[id] = all[0]
		e.custExtra[id] = all[1:]
	}
}

// compareInvoices orders invoices by (paid_at, id), then every other field,
// so that the order is total.
func compareInvoices(a, b *Invoice) int {
	if c := cmp.Compare(a.PaidAt, b.PaidAt); c != 0 {
		return c
	}
	if c := strings.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	for _, p := range [...][2]string{
		{a.Customer, b.Customer}, {a.Charge, b.Charge}, {a.Status, b.Status},
		{a.Currency, b.Currency}, {a.Subscription, b.Subscription},
	} {
		if c := strings.Compare(p[0], p[1]); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.AmountPaid, b.AmountPaid); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Tax, b.Tax); c != 0 {
		return c
	}
	return slices.CompareFunc(a.Prices, b.Prices, comparePrices)
}

// matchInvoices groups the matched customers' invoices by referral and
// derives each referral's candidate payments.
func (e *engine) matchInvoices() error {
	invoices := e.in.Stripe.Invoices
	type pair struct{ ref, inv int32 }
	// Customer lookups on every core (map reads only).
	match := make([]int32, len(invoices))
	parallelRanges(len(invoices), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			match[i] = -1
			if v, ok := e.custRef[invoices[i].Customer]; ok {
				match[i] = v
			}
		}
	})
	var pairs []pair
	counts := make([]int32, len(e.valid)+1)
	for i := range invoices {
		v := match[i]
		if v < 0 {
			continue
		}
		pairs = append(pairs, pair{v, int32(i)})
		counts[v+1]++
		for _, x := range e.custExtra[invoices[i].Customer] {
			pairs = append(pairs, pair{x, int32(i)})
			counts[x+1]++
		}
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	e.refInvoices = make([]int32, len(pairs))
	next := slices.Clone(counts[:len(e.valid)])
	for _, p := range pairs {
		e.refInvoices[next[p.ref]] = p.inv
		next[p.ref]++
	}

	if err := e.sumDeductions(); err != nil {
		return err
	}
	// Per referral, on every core: order its invoices, compute their net
	// amounts and, for up to 64 cycles, which cycles' plans they match.
	e.invNet = make([]int64, len(pairs))
	e.invPlans = make([]uint64, len(pairs))
	masks := len(e.cycles) <= 64
	var mu sync.Mutex
	errRef, errFirst := len(e.valid), error(nil)
	parallelRanges(len(e.valid), func(lo, hi int) {
		for vi := lo; vi < hi; vi++ {
			v := &e.valid[vi]
			v.invLo, v.invHi = counts[vi], counts[vi+1]
			mine := e.refInvoices[v.invLo:v.invHi]
			if len(mine) > 1 {
				slices.SortFunc(mine, func(a, b int32) int { return compareInvoices(&invoices[a], &invoices[b]) })
			}
			for k, ii := range mine {
				inv := &invoices[ii]
				parts, err := e.netOf(ii)
				net := parts.Net
				if err != nil && e.paid(inv) && inv.PaidAt >= v.at {
					// Only a candidate payment's amount matters; report the
					// first referral's error whatever the scheduling.
					mu.Lock()
					if vi < errRef {
						errRef, errFirst = vi, err
					}
					mu.Unlock()
				}
				pos := int(v.invLo) + k
				e.invNet[pos] = net
				if masks {
					for ci := range e.cycles {
						if e.cycles[ci].planEligible(inv) {
							e.invPlans[pos] |= 1 << ci
						}
					}
				}
			}
		}
	})
	if errFirst != nil {
		return errFirst
	}
	e.payments = make([]payment, 0, len(pairs))
	for vi := range e.valid {
		v := &e.valid[vi]
		v.payLo = int32(len(e.payments))
		for pos := v.invLo; pos < v.invHi; pos++ {
			ii := e.refInvoices[pos]
			inv := &invoices[ii]
			if e.paid(inv) && inv.PaidAt >= v.at && e.invNet[pos] > 0 {
				e.payments = append(e.payments, payment{paidAt: inv.PaidAt, net: e.invNet[pos], inv: ii, plans: e.invPlans[pos]})
			}
		}
		v.payHi = int32(len(e.payments))
	}
	return nil
}

// paid reports whether an invoice is paid at asOf.
func (e *engine) paid(inv *Invoice) bool {
	return inv.Status == "paid" && inv.PaidAt != 0 && inv.PaidAt <= e.asOfSec
}

// markClawbacks flags the clawback candidates (SPEC 2.7): valid referrals
// already rewarded that convert in no cycle (a pending conversion or one
// under a disqualified referrer still converts).
func (e *engine) markClawbacks() {
	for vi := range e.valid {
		d := &e.decisions[e.valid[vi].decision]
		d.Clawback = d.Row.Rewarded && len(d.Conversions) == 0
	}
}
