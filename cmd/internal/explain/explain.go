// Package explain is `refrecon explain`: why a referral row or a referrer
// got what it got, step by step. Explain computes the decision trace the
// pipeline returns (pipeline.ComputeTrace) from the inputs a run reads and
// keeps the cycle asked for; Write prints it for a person, and the
// Explanation's fields are the --json output. The command in cmd/refrecon
// builds the sources, the cycle set and the asOf; nothing here reads the
// environment.
package explain

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/pipeline"
)

// Explanation is what explain prints.
type Explanation struct {
	AsOf     time.Time                 `json:"asOf"`
	Rows     []pipeline.RowTrace       `json:"rows,omitempty"`
	Referrer *pipeline.ReferrerTrace   `json:"referrer,omitempty"`
	Cycles   map[string]pipeline.Cycle `json:"-"` // by id, for the text
}

// Explain reads the inputs (both sources at once, as a run) and computes
// the trace q asks for at asOf. Only cycle (when set) is kept. An email or
// refcode that is not in the inputs is an error.
func Explain(ctx context.Context, referrals reconcile.ReferralSource, stripe reconcile.StripeSource, set pipeline.CycleSet, asOf time.Time, q pipeline.TraceQuery, cycle string) (*Explanation, error) {
	if cycle != "" && !hasCycle(set, cycle) {
		return nil, fmt.Errorf("cycle %q is not in the cycle set", cycle)
	}
	in, err := reconcile.Read(ctx, reconcile.Plan{Referrals: referrals, Stripe: stripe})
	if err != nil {
		return nil, err
	}
	res, tr, err := pipeline.ComputeTrace(in, set, asOf, q)
	if err != nil {
		return nil, err
	}
	switch {
	case q.RefereeEmail != "" && len(tr.Rows) == 0:
		return nil, fmt.Errorf("no referrals row has the referee email %q (matched canonically)", q.RefereeEmail)
	case q.Refcode != "" && tr.Referrer == nil:
		return nil, fmt.Errorf("no users row has the refcode %q", q.Refcode)
	}
	ex := &Explanation{AsOf: res.AsOf, Rows: tr.Rows, Referrer: tr.Referrer, Cycles: map[string]pipeline.Cycle{}}
	for _, cr := range res.Cycles {
		ex.Cycles[cr.Cycle.ID] = cr.Cycle
	}
	if cycle != "" {
		ex.keepCycle(cycle)
	}
	return ex, nil
}

func hasCycle(set pipeline.CycleSet, id string) bool {
	for _, c := range set.Cycles {
		if c.ID == id {
			return true
		}
	}
	return false
}

// keepCycle drops every other cycle from the explanation.
func (ex *Explanation) keepCycle(id string) {
	for i := range ex.Rows {
		r := &ex.Rows[i]
		var convs []pipeline.Conversion
		for _, c := range r.Decision.Conversions {
			if c.CycleID == id {
				convs = append(convs, c)
			}
		}
		r.Decision.Conversions = convs
		for j := range r.Invoices {
			var cs []pipeline.InvoiceCycle
			for _, c := range r.Invoices[j].Cycles {
				if c.CycleID == id {
					cs = append(cs, c)
				}
			}
			r.Invoices[j].Cycles = cs
		}
	}
	if ex.Referrer != nil {
		var cs []pipeline.ReferrerCycle
		for _, c := range ex.Referrer.Cycles {
			if c.Cycle.ID == id {
				cs = append(cs, c)
			}
		}
		ex.Referrer.Cycles = cs
	}
}

func unixText(s int64) string {
	if s == 0 {
		return "-"
	}
	return time.Unix(s, 0).UTC().Format("2006-01-02 15:04:05")
}

// Write prints ex for a person.
func Write(w io.Writer, ex *Explanation) {
	fmt.Fprintf(w, "as of %s\n", ex.AsOf.Format(time.RFC3339))
	for _, r := range ex.Rows {
		writeRowTrace(w, ex, &r)
	}
	if ex.Referrer != nil {
		writeReferrerTrace(w, ex, ex.Referrer)
	}
}

func writeRowTrace(w io.Writer, ex *Explanation, r *pipeline.RowTrace) {
	d := &r.Decision
	fmt.Fprintf(w, "\nreferral row %q (refcode %q, referred_at %q, selected_plan %q, rewarded %t)\n",
		d.Row.Email, d.Row.Refcode, d.Row.ReferredAt, d.Row.SelectedPlan, d.Row.Rewarded)
	if d.CanonicalEmail != "" {
		fmt.Fprintf(w, "  canonical email: %s\n", d.CanonicalEmail)
	}
	switch d.Outcome {
	case pipeline.Quarantined, pipeline.Excluded:
		fmt.Fprintf(w, "  outcome: %s (%s): never evaluated against Stripe (SPEC 2.1)\n", d.Outcome, d.Reason)
		return
	}
	fmt.Fprintf(w, "  outcome: valid referral, referred at %s\n", unixText(d.ReferredAt))
	if len(r.Customers) == 0 {
		fmt.Fprintln(w, "  matched Stripe customers: none (no customer has the referee's canonical email)")
	} else {
		fmt.Fprintf(w, "  matched Stripe customers: %s\n", strings.Join(r.Customers, ", "))
	}
	for _, inv := range r.Invoices {
		fmt.Fprintf(w, "  invoice %s (customer %s): status %s, paid_at %s, %s\n", inv.ID, inv.Customer, inv.Status, unixText(inv.PaidAt), strings.ToUpper(inv.Currency))
		cur := inv.Currency
		fmt.Fprintf(w, "    gross %s - refunds %s - credit notes %s - disputes %s = net %s\n",
			pipeline.FormatDecimal(cur, inv.Gross), pipeline.FormatDecimal(cur, inv.Refunded), pipeline.FormatDecimal(cur, inv.Credited),
			pipeline.FormatDecimal(cur, inv.Disputed), pipeline.FormatDecimal(cur, inv.Net))
		if inv.Stop != "" {
			fmt.Fprintf(w, "    not a candidate payment: %s\n", inv.Stop)
			continue
		}
		for _, c := range inv.Cycles {
			switch {
			case !c.Qualifies:
				fmt.Fprintf(w, "    %s: does not qualify: %s\n", c.CycleID, c.Reason)
			case !c.InWindow:
				fmt.Fprintf(w, "    %s: qualifies, but paid outside the window (not a revenue event)\n", c.CycleID)
			case c.Pending:
				fmt.Fprintf(w, "    %s: qualifies, a revenue event, pending (in the %d-day hold)\n", c.CycleID, ex.Cycles[c.CycleID].Rules.HoldDays)
			default:
				fmt.Fprintf(w, "    %s: qualifies, a revenue event, out of hold\n", c.CycleID)
			}
		}
	}
	if len(d.Conversions) == 0 {
		fmt.Fprintf(w, "  converts in no cycle: %s\n", d.Reason)
	}
	for _, c := range d.Conversions {
		min := ex.Cycles[c.CycleID].Rules.MinPaymentsToConvert
		fmt.Fprintf(w, "  converts in %s at %s (payment #%d: invoice %s), pending %t\n", c.CycleID, unixText(c.ConvertedAt), min, c.InvoiceID, c.Pending)
		if c.RewardEligible {
			fmt.Fprintln(w, "    reward eligible")
		} else {
			fmt.Fprintf(w, "    not reward eligible: %s\n", c.Reason)
		}
	}
	if d.Clawback {
		fmt.Fprintln(w, "  clawback candidate: already rewarded, converts in no cycle any more")
	}
}

func writeReferrerTrace(w io.Writer, ex *Explanation, rt *pipeline.ReferrerTrace) {
	fmt.Fprintf(w, "\nreferrer %s (%s)\n", rt.Refcode, strings.Join(rt.Emails, ", "))
	for _, rc := range rt.Cycles {
		r := rc.Cycle.Rules
		cur := r.Currency
		e := rc.Entry
		fmt.Fprintf(w, "\n  cycle %s (%s, %s)\n", rc.Cycle.ID, r.AwardModel, strings.ToUpper(cur))
		fmt.Fprintf(w, "    referrals %d, conversions %d (%d pending), revenue %s (%s pending)\n", e.Referrals, e.Conversions,
			e.PendingConversions, pipeline.FormatDecimal(cur, e.Revenue), pipeline.FormatDecimal(cur, e.PendingRevenue))
		for _, d := range rc.Referrals {
			what := d.Reason
			for _, c := range d.Conversions {
				if c.CycleID == rc.Cycle.ID {
					what = "converts here"
				}
			}
			if what == "" {
				what = "-"
			}
			fmt.Fprintf(w, "      referral %s referred %s: %s\n", d.Row.Email, unixText(d.ReferredAt), what)
		}
		if !rc.Ranked {
			fmt.Fprintln(w, "    unranked: no revenue in this cycle")
			continue
		}
		fmt.Fprintf(w, "    rank %d, score %d, qualified %t", e.Rank, e.Score, e.Qualified)
		if e.AdminAction != nil {
			fmt.Fprintf(w, ", admin action %s: %s", e.AdminAction.ActionType, e.AdminAction.Reason)
		}
		fmt.Fprintln(w)
		if p := rc.Pie; p != nil {
			n := p.MaxQualifiedReferrers
			if !p.Qualified {
				fmt.Fprintf(w, "    not qualified (disqualified, a score of 0, or not among the first %d): no award\n", n)
				continue
			}
			if n > 1 {
				fmt.Fprintf(w, "    weight = score × (2N − 1 − q) = %d × (2×%d − 1 − %d) = %s\n", e.Score, n, p.Position, p.Weight)
			} else {
				fmt.Fprintf(w, "    weight = score = %s (N = 1)\n", p.Weight)
			}
			fmt.Fprintf(w, "    W (sum of the qualified weights) = %s\n", p.TotalWeight)
			fmt.Fprintf(w, "    pool × weight / W = %d × %s / %s = %d remainder %s (minor units)\n", p.Pool, p.Weight, p.TotalWeight, p.Quotient, p.Remainder)
			if p.ExtraUnit {
				fmt.Fprintln(w, "    + 1 unit: the units left over go to the largest remainders")
			}
			fmt.Fprintf(w, "    award %s %s\n", pipeline.FormatDecimal(cur, p.Award), strings.ToUpper(cur))
			continue
		}
		fmt.Fprintf(w, "    revenue events (min qualifying revenue %s, share %d bps):\n", pipeline.FormatDecimal(cur, r.MinQualifyingRevenue.Amount), r.RevenueShareBps)
		for _, ev := range rc.Events {
			fmt.Fprintf(w, "      %s %s net %s, accumulated %s, pool before %s, claim %s\n", unixText(ev.PaidAt), ev.InvoiceID,
				pipeline.FormatDecimal(cur, ev.Net), pipeline.FormatDecimal(cur, ev.AccumulatedRevenue),
				pipeline.FormatDecimal(cur, ev.PoolBefore), pipeline.FormatDecimal(cur, ev.Claim))
		}
		fmt.Fprintf(w, "    award %s %s\n", pipeline.FormatDecimal(cur, e.Award), strings.ToUpper(cur))
	}
}
