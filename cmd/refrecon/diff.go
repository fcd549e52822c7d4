package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/civil"
	"github.com/sethvargo/go-envconfig"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
	sqlitewh "github.com/refrecon/refrecon/sinks/sqlite"
	"github.com/refrecon/refrecon/sinks/warehouse"
)

func init() {
	register(&command{
		name:    "diff",
		summary: "what changed between two published snapshots (default: the latest and the one before)",
		run:     diffCommand,
	})
}

const diffUsage = `Usage: refrecon diff [OLD [NEW]] [--json]

What changed between two snapshots in PUBLIC_DIR: per cycle its status and
control totals, the referrers entering or leaving the qualified set, rank
and award changes with amounts; and, when the warehouse (WAREHOUSE) holds
both snapshots, every referral row whose outcome or eligibility changed,
with the reasons. NEW defaults to the latest snapshot, OLD to the greatest
snapshot id below NEW. Writes nothing; exits 0 whether or not anything
changed. Flags may come before or after the ids.

Flags:
  --json   print the diff as JSON
`

func diffCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("diff", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	asJSON := fset.Bool("json", false, "print JSON")
	ids, err := parseInterleaved(fset, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, diffUsage)
			return nil
		}
		fmt.Fprintf(stderr, "refrecon diff: %v\n\n%s", err, diffUsage)
		return errUsage
	}
	if len(ids) > 2 {
		fmt.Fprintf(stderr, "refrecon diff: at most two snapshot ids, got %q\n\n%s", ids, diffUsage)
		return errUsage
	}
	cfg, err := loadConfig(ctx, envconfig.OsLookuper())
	if err != nil {
		return err
	}
	if strings.TrimSpace(cfg.PublicDir) == "" {
		return asConfigError(errors.New("PUBLIC_DIR is empty"))
	}
	r := public.NewReader(localdir.Open(cfg.PublicDir))
	var oldID, newID string
	switch len(ids) {
	case 2:
		oldID, newID = ids[0], ids[1]
	case 1:
		oldID = ids[0]
	}
	for _, id := range ids {
		if !public.IsSnapshotID(id) {
			return asConfigError(fmt.Errorf("%q is not a snapshot id (YYYYMMDDTHHMMSSZ-<12 hex>)", id))
		}
	}
	if newID == "" {
		if newID, err = r.Latest(ctx); err != nil {
			return err
		}
	}
	if oldID == "" {
		if oldID, err = snapdiff.Previous(ctx, r, newID); err != nil {
			return err
		}
		if oldID == "" {
			return fmt.Errorf("PUBLIC_DIR %s: no snapshot before %s to compare with", cfg.PublicDir, newID)
		}
	}
	oldSnap, err := readSnapshot(ctx, r, oldID)
	if err != nil {
		return err
	}
	newSnap, err := readSnapshot(ctx, r, newID)
	if err != nil {
		return err
	}
	if err := addWarehouseRows(ctx, cfg, &oldSnap, &newSnap); err != nil {
		return err
	}
	d := snapdiff.Compare(oldSnap, newSnap)
	if *asJSON {
		return writeJSON(stdout, d)
	}
	writeDiff(stdout, d)
	return nil
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, and returns the positional ones. Every flag of
// fset must be boolean (or take its value as --flag=value).
func parseInterleaved(fset *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fset.Parse(args); err != nil {
			return nil, err
		}
		if fset.NArg() == 0 {
			return pos, nil
		}
		rest := fset.Args()
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func readSnapshot(ctx context.Context, r *public.Reader, id string) (snapdiff.Snapshot, error) {
	s, err := snapdiff.Published(ctx, r, id)
	if errors.Is(err, fs.ErrNotExist) {
		return s, fmt.Errorf("snapshot %s is not in PUBLIC_DIR (or is incomplete): %w", id, err)
	}
	return s, err
}

// decisionReader is a warehouse that returns one snapshot's
// referral_decisions rows.
type decisionReader interface {
	ReferralDecisions(ctx context.Context, date civil.Date, snapshotID string) ([]warehouse.ReferralDecision, error)
	Close() error
}

// addWarehouseRows fills the snapshots' referral rows from the warehouse
// when it holds both (WAREHOUSE=none, a SQLite file that does not exist, or
// a snapshot whose rows a later run of its day replaced: not compared).
func addWarehouseRows(ctx context.Context, cfg *config, snaps ...*snapdiff.Snapshot) error {
	w, err := openWarehouseForRead(ctx, cfg)
	if err != nil || w == nil {
		return err
	}
	defer w.Close()
	dr, ok := w.(decisionReader)
	if !ok {
		return nil // this driver cannot read rows back
	}
	rows := make([][]warehouse.ReferralDecision, len(snaps))
	for i, s := range snaps {
		if rows[i], err = dr.ReferralDecisions(ctx, civil.DateOf(s.AsOf.UTC()), s.ID); err != nil {
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

// openWarehouseForRead opens WAREHOUSE to read from it; nil when there is
// none to read (none, or a SQLite file that does not exist yet: opening it
// would create it).
func openWarehouseForRead(ctx context.Context, cfg *config) (io.Closer, error) {
	t, err := parseWarehouse(cfg)
	switch {
	case err != nil:
		return nil, asConfigError(err)
	case t.sqlitePath != "":
		if _, err := os.Stat(t.sqlitePath); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		w, err := sqlitewh.Open(t.sqlitePath)
		if err != nil {
			return nil, fmt.Errorf("open warehouse %s: %w", t.sqlitePath, err)
		}
		return w, nil
	case t.bigquery == nil:
		return nil, nil
	}
	w, err := t.openBigQuery(ctx, cfg)
	if err != nil {
		return nil, asConfigError(err)
	}
	return w, nil
}

// writeDiff prints a diff for a person.
func writeDiff(w io.Writer, d *snapdiff.Diff) {
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
				fmt.Fprintf(w, "  %s: %s -> %s (%s)\n", t.Field, formatMoney(cur, t.Old), formatMoney(cur, t.New), snapdiff.Signed(cur, t.Delta()))
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
			cycles = append(cycles, fmt.Sprintf("%s: %s -> %s", c.CycleID, orDash(c.Old), orDash(c.New)))
		}
		outcome := r.Outcome.New
		if r.Outcome.Old != r.Outcome.New {
			outcome = orDash(r.Outcome.Old) + " -> " + orDash(r.Outcome.New)
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

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeJSON prints v as indented JSON (the --json output of diff and explain).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
