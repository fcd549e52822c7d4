package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/refrecon/refrecon/sources/referrals"
	_ "modernc.org/sqlite" // registers the "sqlite" driver, to export the anchor's CSV inputs
)

// The DuckDB anchor (../shared/bench/anchor_duckdb.mjs, issue #19): the same
// rules as DuckDB SQL, run by node. The bench finds it in --anchor-dir
// (default $ANCHOR_DIR, else .bench/anchor), a directory holding
// anchor_duckdb.mjs and node_modules/@duckdb/node-api.

// anchorScript is the anchor's file name in --anchor-dir.
const anchorScript = "anchor_duckdb.mjs"

// anchorInstall says how to install the anchor (the lines of
// ../shared/bench/README.md, with the directory the bench looks in).
func anchorInstall(dir string) string {
	return fmt.Sprintf(`to compare with the DuckDB anchor (issue #19), install node and the anchor once:
    mkdir -p %[1]s && (cd %[1]s && npm init -y >/dev/null && npm install @duckdb/node-api)
    cp ../shared/bench/anchor_duckdb.mjs %[1]s/      # from the repository's root
  then run make bench again (or point ANCHOR_DIR / --anchor-dir at an existing install; --anchor=false skips it)`, dir)
}

// anchorMissing returns why the anchor in dir cannot run ("" when it can).
func anchorMissing(dir string) string {
	if _, err := exec.LookPath("node"); err != nil {
		return "node is not on PATH"
	}
	if _, err := os.Stat(filepath.Join(dir, anchorScript)); err != nil {
		return fmt.Sprintf("no %s in %s", anchorScript, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api", "package.json")); err != nil {
		return fmt.Sprintf("no node_modules/@duckdb/node-api in %s", dir)
	}
	return ""
}

// anchorVersion is the installed @duckdb/node-api's version, for the table.
func anchorVersion(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "@duckdb", "node-api", "package.json"))
	if err != nil {
		return "?"
	}
	var p struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &p) != nil || p.Version == "" {
		return "?"
	}
	return p.Version
}

// prepareAnchorInputs writes what the anchor reads beside a generated
// dataset: users.csv and referrals.csv (the referrals database's tables,
// with a header, as `sqlite3 -header -csv` writes them; NULL is an empty
// field) and asof.txt. cycles.json and stripe.ndjson are the generator's.
// A marker (.anchor-complete, written last) records the dataset marker and
// AS_OF they were made from, so they are written once per dataset.
func prepareAnchorInputs(ctx context.Context, dir, asOf string) error {
	gen, err := os.ReadFile(filepath.Join(dir, ".complete"))
	if err != nil {
		return fmt.Errorf("anchor inputs: %w", err)
	}
	want := string(gen) + asOf + "\n"
	marker := filepath.Join(dir, ".anchor-complete")
	if got, err := os.ReadFile(marker); err == nil && string(got) == want {
		return nil
	}
	_ = os.Remove(marker)
	if err := exportTables(ctx, filepath.Join(dir, "referrals.sqlite"), dir, "users", "referrals"); err != nil {
		return fmt.Errorf("anchor inputs: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "asof.txt"), []byte(asOf+"\n"), 0o644); err != nil {
		return fmt.Errorf("anchor inputs: %w", err)
	}
	return os.WriteFile(marker, []byte(want), 0o644)
}

// exportTables writes each table of the SQLite database at db as
// DIR/<table>.csv: a header of its column names, then every row, each value
// as text (CAST, so the driver returns no time.Time for DATETIME columns).
func exportTables(ctx context.Context, db, dir string, tables ...string) error {
	u := url.URL{Scheme: "file", Path: db, RawQuery: "mode=ro"}
	conn, err := sql.Open("sqlite", u.String())
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, t := range tables {
		if err := exportTable(ctx, conn, t, filepath.Join(dir, t+".csv")); err != nil {
			return fmt.Errorf("export %s: %w", t, err)
		}
	}
	return nil
}

func exportTable(ctx context.Context, db *sql.DB, table, path string) (err error) {
	cols, err := referrals.Columns(ctx, db, table)
	if err != nil {
		return err
	}
	if len(cols) == 0 {
		return fmt.Errorf("no table %q", table)
	}
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = "CAST(" + referrals.QuoteIdent(c) + " AS TEXT)"
	}
	rows, err := db.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+` FROM "`+table+`" ORDER BY rowid`)
	if err != nil {
		return err
	}
	defer rows.Close()
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := csv.NewWriter(bw)
	if err := w.Write(cols); err != nil {
		return err
	}
	rec := make([]string, len(cols))
	err = referrals.ScanRows(rows, func(vals []sql.NullString) error {
		for i, v := range vals {
			rec[i] = v.String // NULL: an empty field, as the sqlite3 CLI writes it
		}
		return w.Write(rec)
	})
	if err != nil {
		return err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// processResult is one whole process's wall time and peak RSS.
type processResult struct {
	wall    float64 // seconds, start to exit
	peakRSS int64   // bytes, the child's rusage maximum
	cpu     float64 // seconds of user + system time (refrecon's runs)
	sys     float64 // seconds of system time, part of cpu
	inner   float64 // the anchor's own seconds (its JSON), 0 for refrecon
	rows    int     // the anchor's result rows
}

// runAnchor runs the anchor once on the dataset in dir.
func runAnchor(ctx context.Context, anchorDir, dir string) (processResult, error) {
	cmd := exec.CommandContext(ctx, "node", filepath.Join(anchorDir, anchorScript), dir)
	cmd.Dir = anchorDir
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	start := time.Now()
	err := cmd.Run()
	r := processResult{wall: time.Since(start).Seconds()}
	if err != nil {
		return r, fmt.Errorf("anchor: %w\n%s", err, tail(errs.String(), 4000))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.peakRSS = ru.Maxrss * 1024 // KiB on Linux
	}
	var res struct {
		Seconds float64           `json:"seconds"`
		Rows    []json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return r, fmt.Errorf("anchor: output is not its JSON: %w (%s)", err, tail(out.String(), 200))
	}
	if len(res.Rows) == 0 {
		return r, errors.New("anchor: no rows (are users.csv and referrals.csv empty?)")
	}
	r.inner, r.rows = res.Seconds, len(res.Rows)
	return r, nil
}

// comparison is one size's anchor comparison: runs in turn, refrecon cold,
// the anchor, then (--nightly) refrecon the next night.
type comparison struct {
	n       int
	version string
	cold    []processResult
	night   []processResult
	anchor  []processResult
	// noWarehouse: refrecon ran with WAREHOUSE=none (--warehouse=none).
	noWarehouse bool
}

// printComparison prints the medians of wall time and peak RSS of each
// side and the medians of the pairwise ratios (run k of refrecon against
// run k of the anchor), which are what issue #19's targets are stated in.
func printComparison(w io.Writer, c comparison) {
	fmt.Fprintf(w, "\nanchor comparison, %d referrals: whole processes in turn (refrecon cold, DuckDB anchor", c.n)
	if len(c.night) > 0 {
		fmt.Fprint(w, ", refrecon next night")
	}
	fmt.Fprintf(w, "), %d round(s); @duckdb/node-api %s\n", len(c.anchor), c.version)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "process\twall s (median)\twall s (each run)\tpeak RSS MiB (median)\tx anchor (median of pairs)\tpairwise ratios\t")
	row := func(name string, rs []processResult) {
		var walls, rss, ratios []float64
		var each, pairs []string
		for k, r := range rs {
			walls = append(walls, r.wall)
			rss = append(rss, float64(r.peakRSS))
			each = append(each, fmt.Sprintf("%.2f", r.wall))
			if k < len(c.anchor) && c.anchor[k].wall > 0 {
				ratio := r.wall / c.anchor[k].wall
				ratios = append(ratios, ratio)
				pairs = append(pairs, fmt.Sprintf("%.2f", ratio))
			}
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%.0f\t%.2f\t%s\t\n", name, median(walls), strings.Join(each, " "),
			median(rss)/(1<<20), median(ratios), strings.Join(pairs, " "))
	}
	row("refrecon run, cold", c.cold)
	if len(c.night) > 0 {
		row("refrecon run, next night", c.night)
	}
	row("DuckDB anchor", c.anchor)
	tw.Flush()
	var inner []float64
	for _, a := range c.anchor {
		inner = append(inner, a.inner)
	}
	writes := "refrecon writes every output"
	if c.noWarehouse {
		writes = "refrecon writes every output but the warehouse (WAREHOUSE=none), which the targets count"
	}
	fmt.Fprintf(w, "(wall: process start to exit; peak RSS: the child's rusage maximum. The anchor computes SPEC 2.1-2.3 only\n"+
		" (%d result rows; its own timer, node start-up and imports excluded: %.2f s median); %s.\n"+
		" Issue #19's targets at 1M: cold <= 1.5x, next night <= 1.0x, peak RSS <= the anchor's.)\n", c.anchor[0].rows, median(inner), writes)
}
