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

	"github.com/sethvargo/go-envconfig"

	"github.com/refrecon/refrecon/cmd/internal/diff"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
	sqlitewh "github.com/refrecon/refrecon/sinks/sqlite"
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
	store, closeStore, err := openPublicDir(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	r := public.NewReader(store)
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
			return fmt.Errorf("PUBLIC_DIR %s: no snapshot before %s to compare with", store, newID)
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
	diff.Write(stdout, d)
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

// addWarehouseRows fills the snapshots' referral rows from the warehouse
// when it holds both (WAREHOUSE=none, a SQLite file that does not exist, or
// a snapshot whose rows a later run of its day replaced: not compared).
func addWarehouseRows(ctx context.Context, cfg *config, snaps ...*snapdiff.Snapshot) error {
	w, err := openWarehouseForRead(ctx, cfg)
	if err != nil || w == nil {
		return err
	}
	defer w.Close()
	dr, ok := w.(diff.DecisionReader)
	if !ok {
		return nil // this driver cannot read rows back
	}
	return diff.AddRows(ctx, dr, snaps...)
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

// writeJSON prints v as indented JSON (the --json output of diff and explain).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
