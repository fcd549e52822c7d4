package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/csvreport"
)

// writeSummary prints the table a person reads after a run: per cycle its
// status, ranked referrers, conversions, revenue, pool and what was awarded,
// then the number of clawback candidates (SPEC 2.7; a count only, the rows
// are in the private outputs).
func writeSummary(w io.Writer, rep *reconcile.Report) {
	fmt.Fprintf(w, "snapshot %s (%s referrals, %s invoices)\n", rep.SnapshotID,
		strconv.FormatInt(rep.Counts.Referrals, 10), strconv.FormatInt(rep.Counts.Invoices, 10))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "cycle\tstatus\tfinal\tranked\tconversions\tpending\trevenue\tpool\tawarded\tremaining\t")
	for i := len(rep.Result.Cycles) - 1; i >= 0; i-- {
		c := rep.Result.Cycles[i]
		cur := c.Cycle.Rules.Currency
		final := "no"
		if c.IsFinal {
			final = "yes"
		}
		status := string(c.Status)
		if rep.Result.SettledCycle(c.Cycle.ID) != nil {
			status = "settled; now" // published as settled; the numbers are the current data's (drift below)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", c.Cycle.ID, status, final,
			c.Totals.RankedReferrers, c.Totals.Conversions, c.Totals.PendingConversions,
			formatMoney(cur, c.Totals.Revenue), formatMoney(cur, c.Cycle.Rules.AwardPool.Amount),
			formatMoney(cur, c.Totals.Awarded), formatMoney(cur, c.AwardPoolRemaining))
	}
	tw.Flush()
	claw := 0
	for i := range rep.Result.Decisions {
		if rep.Result.Decisions[i].Clawback {
			claw++
		}
	}
	fmt.Fprintf(w, "clawback candidates: %d (rewarded referral rows that convert in no cycle any more; listed in %s)\n",
		claw, csvreport.ClawbackFile)
	writeDrift(w, rep.Result)
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if rep.Changes != nil {
		fmt.Fprintf(w, "changes %s\n", rep.Changes.Headline())
	}
}

// formatMoney renders minor units as "USD 1234.56" for people to read.
func formatMoney(currency string, minor int64) string {
	return fmt.Sprintf("%s %s", strings.ToUpper(currency), pipeline.FormatDecimal(currency, minor))
}

// writeDrift prints, per settled cycle, the snapshot it is published from
// and the award drift (SPEC 2.7): what was settled against what the current
// data gives, and the referrers paid more than that (clawback candidates).
func writeDrift(w io.Writer, res *pipeline.Result) {
	for _, s := range res.Settled {
		var over, under int
		for _, d := range s.Drift {
			if d.Drift > 0 {
				over++
			} else if d.Drift < 0 {
				under++
			}
		}
		where := ""
		if !s.InCycleSet {
			where = ", no longer in the cycle set"
		}
		fmt.Fprintf(w, "settled %s from %s%s: settled %s, current data %s, drift %s (%d referrers paid more than the data now gives: clawback candidates; %d less)\n",
			s.CycleID, s.SnapshotID, where, formatMoney(s.Currency, s.SettledTotal), formatMoney(s.Currency, s.CurrentTotal),
			formatMoney(s.Currency, s.SettledTotal-s.CurrentTotal), over, under)
		for _, d := range s.Drift {
			if d.Drift > 0 {
				fmt.Fprintf(w, "  clawback candidate %s: settled %s, now %s, drift %s\n", d.Refcode,
					formatMoney(s.Currency, d.Settled), formatMoney(s.Currency, d.Current), formatMoney(s.Currency, d.Drift))
			}
		}
	}
}
