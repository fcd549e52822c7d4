package settle

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/warehouse"
)

// WritePlan prints p for a person (settle plan): each award with its
// method, Stripe customer and state, the total, and the referral rows.
func WritePlan(w io.Writer, p *Plan) {
	state := "not recorded yet: `settle apply` records it"
	if p.Recorded {
		state = "recorded in the ledger: `settle apply` resumes it (or has nothing left to do)"
	}
	fmt.Fprintf(w, "settle cycle %s from snapshot %s (method %s; %s)\n\n", p.Cycle, p.Snapshot, p.Method, state)
	var total = map[string]int64{}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "AWARD\tREFCODE\tREFERRER\tAMOUNT\tMETHOD\tSTRIPE CUSTOMER\tSTATE\tREASON\n")
	for i, a := range p.Awards {
		total[a.Currency] += a.AwardMinor
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s %s\t%s\t%s\t%s\t%s\n", i+1, a.Refcode, a.ReferrerEmail, pipeline.FormatDecimal(a.Currency, a.AwardMinor),
			a.Currency, a.Method, cmp.Or(a.StripeCustomerID, "-"), a.State, cmp.Or(a.Reason, "-"))
	}
	_ = tw.Flush()
	for _, cur := range slices.Sorted(maps.Keys(total)) { // one line per currency, in a stable order
		fmt.Fprintf(w, "total awarded: %s %s in %d award(s)\n", pipeline.FormatDecimal(cur, total[cur]), cur, len(p.Awards))
	}
	fmt.Fprintf(w, "\n%d referral row(s) to mark rewarded = 1:\n", len(p.Rows))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "REFEREE EMAIL\tREFCODE\tSTATE\tREASON\n")
	for _, r := range p.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.RefereeEmail, r.Refcode, r.State, cmp.Or(r.Reason, "-"))
	}
	_ = tw.Flush()
}

// WriteResult prints what an Apply did (settle apply): the entries per
// state and the payout file.
func WriteResult(w io.Writer, res *Result) {
	p := res.Plan
	count := func(list []warehouse.Settlement) string {
		n := map[string]int{}
		for _, e := range list {
			n[e.State]++
		}
		var parts []string
		for _, s := range []string{warehouse.StateDone, warehouse.StatePending, warehouse.StateUnpayable, warehouse.StateFailed, warehouse.StateSkipped} {
			if n[s] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
			}
		}
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, ", ")
	}
	verb := "settled"
	if res.Resumed {
		verb = "resumed the settlement of"
	}
	fmt.Fprintf(w, "%s cycle %s from snapshot %s (method %s)\n", verb, p.Cycle, p.Snapshot, p.Method)
	fmt.Fprintf(w, "awards: %s\nreferral rows: %s\n", count(p.Awards), count(p.Rows))
	if res.PayoutFile != "" {
		fmt.Fprintf(w, "payout file: %s\n", res.PayoutFile)
	}
}
