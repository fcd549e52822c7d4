// Package diff is `refrecon diff`: what changed between two published
// snapshots (sinks/public/snapdiff), with the referral rows the warehouse
// holds of both (AddRows), printed for a person (Write). The command in
// cmd/refrecon opens PUBLIC_DIR and the warehouse; nothing here reads the
// environment.
package diff

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
	"github.com/refrecon/refrecon/sinks/warehouse"
)

// DecisionReader is a warehouse that returns one snapshot's
// referral_decisions rows.
type DecisionReader interface {
	ReferralDecisions(ctx context.Context, date civil.Date, snapshotID string) ([]warehouse.ReferralDecision, error)
}

// AddRows fills the snapshots' referral rows from w's referral_decisions
// when it holds every one of them; when it lacks one (a snapshot whose rows
// a later run of its day replaced), none is filled and the rows are not
// compared.
func AddRows(ctx context.Context, w DecisionReader, snaps ...*snapdiff.Snapshot) error {
	var err error
	rows := make([][]warehouse.ReferralDecision, len(snaps))
	for i, s := range snaps {
		if rows[i], err = w.ReferralDecisions(ctx, civil.DateOf(s.AsOf.UTC()), s.ID); err != nil {
			return fmt.Errorf("read warehouse rows of snapshot %s: %w", s.ID, err)
		}
		if len(rows[i]) == 0 {
			return nil
		}
	}
	for i, s := range snaps {
		s.HasRows = true
		s.Rows = make([]snapdiff.Row, len(rows[i]))
		for j, d := range rows[i] {
			row := snapdiff.Row{Email: d.RefereeEmail, Refcode: d.Refcode, Outcome: d.Outcome, Reason: d.Reason}
			for _, c := range d.Conversions {
				row.Conversions = append(row.Conversions, snapdiff.RowConversion{CycleID: c.CycleID, Pending: c.Pending,
					RewardEligible: c.RewardEligible, Reason: c.Reason})
			}
			s.Rows[j] = row
		}
	}
	return nil
}

// Write prints d for a person.
func Write(w io.Writer, d *snapdiff.Diff) {
	fmt.Fprintf(w, "diff %s (as of %s) -> %s (as of %s)\n", d.Old, d.OldAsOf.UTC().Format(time.RFC3339), d.New, d.NewAsOf.UTC().Format(time.RFC3339))
	fmt.Fprintln(w, d.Headline())
	for _, c := range d.Cycles {
		cur := c.Currency
		fmt.Fprintf(w, "\ncycle %s (%s)\n", c.CycleID, strings.ToUpper(cur))
		switch {
		case c.Added:
			fmt.Fprintln(w, "  new in this snapshot")
		case c.Removed:
			fmt.Fprintln(w, "  no longer in the snapshot")
		}
		if c.Status != nil {
			fmt.Fprintf(w, "  status: %s -> %s\n", c.Status.Old, c.Status.New)
		}
		if c.IsFinal != nil {
			fmt.Fprintf(w, "  final: %t -> %t\n", c.IsFinal.Old, c.IsFinal.New)
		}
		for _, t := range c.Totals {
			if t.Money {
				fmt.Fprintf(w, "  %s: %s -> %s (%s)\n", t.Field, money(cur, t.Old), money(cur, t.New), snapdiff.Signed(cur, t.Delta()))
			} else {
				fmt.Fprintf(w, "  %s: %d -> %d (%+d)\n", t.Field, t.Old, t.New, t.Delta())
			}
		}
		if len(c.Entered) > 0 {
			fmt.Fprintf(w, "  entered the qualified set: %s\n", strings.Join(c.Entered, ", "))
		}
		if len(c.Left) > 0 {
			fmt.Fprintf(w, "  left the qualified set: %s\n", strings.Join(c.Left, ", "))
		}
		if len(c.Moves) > 0 {
			fmt.Fprintln(w, "  leaderboard changes:")
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "    refcode\trank\tscore\tqualified\taward\tchange\t")
			for _, m := range c.Moves {
				fmt.Fprintf(tw, "    %s\t%s -> %s\t%d -> %d\t%s -> %s\t%s -> %s\t%s\t\n", m.Refcode, rankText(m.OldRank), rankText(m.NewRank),
					m.OldScore, m.NewScore, yesNo(m.OldQualified), yesNo(m.NewQualified),
					pipeline.FormatDecimal(cur, m.OldAward), pipeline.FormatDecimal(cur, m.NewAward), snapdiff.Signed(cur, m.AwardDelta()))
			}
			tw.Flush()
		}
	}
	if !d.RowsCompared {
		fmt.Fprintln(w, "\nreferral rows: not compared (WAREHOUSE is none, does not hold both snapshots, or cannot read them back)")
		return
	}
	fmt.Fprintf(w, "\nreferral rows (warehouse): %d changed\n", len(d.Rows))
	if len(d.Rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  referee\trefcode\toutcome\teligibility per cycle\t")
	for _, r := range d.Rows {
		var cycles []string
		for _, c := range r.Cycles {
			cycles = append(cycles, fmt.Sprintf("%s: %s -> %s", c.CycleID, cmp.Or(c.Old, "-"), cmp.Or(c.New, "-")))
		}
		outcome := r.Outcome.New
		if r.Outcome.Old != r.Outcome.New {
			outcome = cmp.Or(r.Outcome.Old, "-") + " -> " + cmp.Or(r.Outcome.New, "-")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", r.Email, r.Refcode, outcome, strings.Join(cycles, "; "))
	}
	tw.Flush()
}

func rankText(r int) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("#%d", r)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// money renders minor units as "USD 1234.56", as the run's summary does.
func money(currency string, minor int64) string {
	return strings.ToUpper(currency) + " " + pipeline.FormatDecimal(currency, minor)
}
