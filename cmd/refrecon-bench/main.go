// Command refrecon-bench is `make bench`: it times `refrecon run` end to end
// on synthetic datasets of several sizes and the pure computation with
// `go test -bench`, and writes the figures in Go benchmark format so that
// two commits can be compared with benchstat.
//
// For each size N (--sizes) it generates a dataset with `refrecon generate`
// into .bench/data/<N>-<seed>/ unless a complete one is there (the marker
// file .complete, written last, records the generator's source hash), runs
// `refrecon run` on it with the SQLite warehouse and the public JSON under
// .bench/out/<N>/, reads the stage log lines (stage, seconds, rows,
// peak_rss_bytes) and the child's peak RSS from its rusage, and prints one
// table per size: per stage seconds, rows/s and peak RSS so far. Each stage
// becomes a line such as
//
//	BenchmarkRun/referrals=1000000/stage=compute 1 4.2e+09 ns/op 238095 rows/s 2.1e+09 peak-rss-bytes
//
// in .bench/results.txt (and in .bench/results-<commit>.txt), followed by
// the output of `go test -run '^$' -bench . -benchmem ./pipeline/` with
// -benchreferrals set to the largest size. With
// --count K every size runs K times: the tables show medians and the file
// keeps every run, for benchstat.
//
// With --anchor (the default) the bench also times the DuckDB anchor (the
// same rules as DuckDB SQL, issue #19; ../shared/bench/README.md) on each
// dataset, as a whole process between refrecon's: refrecon cold, the
// anchor, refrecon the next night, --count times (A B A B). It prepares the
// anchor's inputs beside the dataset once (users.csv and referrals.csv
// exported from referrals.sqlite with the same SQLite driver refrecon uses,
// asof.txt), and prints per size the medians of wall time and peak RSS of
// each process and the medians of the pairwise ratios (run k against run
// k). The anchor is looked for in --anchor-dir (default $ANCHOR_DIR, else
// .bench/anchor): anchor_duckdb.mjs beside node_modules/@duckdb/node-api.
// When node or the anchor is missing the bench says how to install them and
// goes on without the comparison. Lines BenchmarkProcess/referrals=N/proc=P
// (P = refrecon-cold, refrecon-night, anchor) carry wall time and peak RSS
// for benchstat.
//
// With --nightly (the default) each run is followed by the next night's:
// `refrecon run` again at AS_OF + 1 day into the same public directory and
// warehouse, as the scheduler does, so that the public snapshot is published
// over the previous one (unchanged files are hard links). Its stages are
// lines such as BenchmarkRun/referrals=1000000/night=2/stage=publish and a
// table of their own.
//
// With --against OTHER (make bench-ab) it times two binaries instead: one
// cold run of each at AS_OF, then --count rounds of the next night of
// each over a copy of its own cold run, in alternating order (A B, B A,
// ...), and prints their medians and the medians of the pairwise ratios
// B/A of wall and CPU time (ab.go); the results file gets
// BenchmarkNight/referrals=N/bin=A|B lines.
//
// With --warehouse=none every run has WAREHOUSE=none: the figures then say
// what the run costs without the SQLite warehouse (the decision data of
// docs/performance.md, "Session 10"), not whether issue #19's targets,
// which count the warehouse, are met; the tables and the results file
// ("warehouse: none") say so.
//
// Usage:
//
//	go run ./cmd/refrecon-bench [--sizes 10000,100000,1000000] [--seed 1] [--count 1]
//	    [--keep-outputs] [--bin bin/refrecon] [--build=true] [--go-bench=true] [--nightly=true]
//	    [--anchor=true] [--anchor-dir $ANCHOR_DIR|.bench/anchor] [--against OTHER] [--warehouse sqlite|none]
//	benchstat old.txt .bench/results.txt
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// stages are the stage log lines of `refrecon run` that are timed, in
// order; "total" is the run_finished line (configuration included).
var stages = []string{"read", "compute", "private", "publish", "total"}

// outputs are the parts of the private stage that `refrecon run` times on
// their own (stage "private" with an "output" field; they run at once, so
// they overlap) and the comparison with the previous snapshot (stage
// "diff"), in the order the tables show them. A part missing from a run's
// log (a run without a warehouse) is left out.
var outputs = []string{"diff", "csv", "workbook", "html", "warehouse"}

type options struct {
	sizes       []int
	seed        uint64
	count       int
	keepOutputs bool
	bin         string
	build       bool
	goBench     bool
	benchRows   int
	asOf        string
	nightly     bool
	anchor      bool   // compare with the DuckDB anchor (when installed)
	anchorDir   string // where anchor_duckdb.mjs and node_modules are
	against     string // --against: the binary whose next nights are timed against bin's (A/B)
	noWarehouse bool   // --warehouse=none: every run with WAREHOUSE=none, to measure what the warehouse costs
	root        string // the repository (working directory)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "refrecon-bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("refrecon-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("sizes", "10000,100000,1000000", "comma-separated dataset sizes (referrals rows)")
	seed := fs.Uint64("seed", 1, "dataset seed")
	count := fs.Int("count", 1, "runs per size (tables show medians; the results file keeps every run)")
	keep := fs.Bool("keep-outputs", false, "keep each run's outputs in .bench/out/<N>-<run> (by default removed when the bench ends)")
	bin := fs.String("bin", "bin/refrecon", "the refrecon binary to run")
	build := fs.Bool("build", true, "build --bin with `go build` first (make bench has built it already)")
	goBench := fs.Bool("go-bench", true, "also run the pipeline's go test benchmarks")
	benchRows := fs.Int("go-bench-referrals", 0, "referrals in the go test benchmarks' synthetic inputs (default: the largest size)")
	asOf := fs.String("as-of", "2026-07-15T00:00:00Z", "AS_OF of every run (after the generated cycles)")
	nightly := fs.Bool("nightly", true, "after each run, time the next night's (AS_OF + 1 day, same outputs) as night=2")
	anchor := fs.Bool("anchor", true, "time the DuckDB anchor between refrecon's runs (A B A B) and print the comparison, when node and the anchor are installed")
	against := fs.String("against", "", "time the next night of --bin (A) against this binary's (B) over copies of one cold run each, --count rounds in alternating order, instead of the bench (`make bench-ab AGAINST=...`)")
	wh := fs.String("warehouse", "sqlite", "the runs' warehouse: sqlite (the embedded default the targets count), or none (WAREHOUSE=none: what the rest of the run costs without it)")
	anchorDir := fs.String("anchor-dir", os.Getenv("ANCHOR_DIR"), "the anchor's directory: anchor_duckdb.mjs and node_modules/@duckdb/node-api (default $ANCHOR_DIR, else .bench/anchor)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: go run ./cmd/refrecon-bench [flags]\n\nTimes `refrecon run` on synthetic datasets and the pure computation; see the package doc.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o := options{seed: *seed, count: *count, keepOutputs: *keep, bin: *bin, build: *build, goBench: *goBench, benchRows: *benchRows, asOf: *asOf, nightly: *nightly,
		anchor: *anchor, anchorDir: *anchorDir, against: *against}
	switch *wh {
	case "sqlite":
	case "none":
		o.noWarehouse = true
	default:
		return fmt.Errorf("--warehouse: %q is neither sqlite nor none", *wh)
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("--sizes: %q is not a positive integer", s)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.benchRows == 0 {
		o.benchRows = slices.Max(o.sizes)
	}
	if o.count < 1 {
		return errors.New("--count must be at least 1")
	}
	if _, err := time.Parse(time.RFC3339, o.asOf); err != nil {
		return fmt.Errorf("--as-of: %w", err)
	}
	var err error
	if o.root, err = os.Getwd(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(o.root, "go.mod")); err != nil {
		return errors.New("run from the repository root (where go.mod is)")
	}
	if o.bin, err = filepath.Abs(o.bin); err != nil {
		return err
	}
	if o.against != "" {
		if o.against, err = filepath.Abs(o.against); err != nil {
			return err
		}
		if _, err := os.Stat(o.against); err != nil {
			return fmt.Errorf("--against: %w", err)
		}
		o.anchor, o.goBench = false, false
	}
	if o.anchorDir == "" {
		o.anchorDir = filepath.Join(o.root, ".bench", "anchor")
	}
	if o.anchorDir, err = filepath.Abs(o.anchorDir); err != nil {
		return err
	}
	if o.anchor {
		if why := anchorMissing(o.anchorDir); why != "" {
			fmt.Fprintf(stdout, "anchor comparison skipped: %s\n%s\n", why, anchorInstall(rel(o.root, o.anchorDir)))
			o.anchor = false
		} else {
			fmt.Fprintf(stdout, "anchor: %s (@duckdb/node-api %s)\n", o.anchorDir, anchorVersion(o.anchorDir))
		}
	}
	if o.build {
		fmt.Fprintf(stdout, "building %s\n", o.bin)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", o.bin, "./cmd/refrecon")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build refrecon: %w", err)
		}
	}
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("refrecon binary: %w (run make build)", err)
	}

	// Outputs are deleted only when every run is done: on ext4 without a
	// journal, files created soon after many were deleted cost more
	// (docs/performance.md, change 9). Outputs of an earlier bench are moved
	// aside now and deleted at the end, the end flushes (sync), and a bench
	// started within five minutes of the last clean-up says so, as its
	// publish figures may be high.
	outs := filepath.Join(o.root, ".bench", "out")
	stamp := filepath.Join(o.root, ".bench", "cleaned-at")
	if b, err := os.ReadFile(stamp); err == nil {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b))); err == nil {
			if ago := time.Since(t); ago >= 0 && ago < 5*time.Minute {
				fmt.Fprintf(stdout, "note: the last bench deleted its outputs %s ago; on ext4 without a journal, files created within 5 minutes of that cost more, so publish figures may be high (docs/performance.md)\n", ago.Round(time.Second))
			}
		}
	}
	if !o.keepOutputs {
		var old string
		if _, err := os.Stat(outs); err == nil {
			old = outs + ".old-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			if err := os.Rename(outs, old); err != nil {
				return err
			}
		}
		defer func() {
			for _, d := range []string{old, outs} {
				if d != "" {
					_ = os.RemoveAll(d)
				}
			}
			syscall.Sync()
			_ = os.WriteFile(stamp, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
		}()
	}

	if o.noWarehouse {
		fmt.Fprintln(stdout, "warehouse: none (every run with WAREHOUSE=none): these figures leave out the SQLite warehouse that issue #19's targets count")
	}
	var results bytes.Buffer
	writeHeader(&results, o.noWarehouse)
	for _, n := range o.sizes {
		dir, err := ensureDataset(ctx, o, n, stdout)
		if err != nil {
			return err
		}
		if o.against != "" {
			if err := runAB(ctx, o, n, dir, filepath.Join(outs, fmt.Sprintf("ab-%d", n)), o.against, stdout, &results); err != nil {
				return err
			}
			continue
		}
		if o.anchor {
			if err := prepareAnchorInputs(ctx, dir, o.asOf); err != nil {
				return err
			}
		}
		var runs, nights []runResult
		cmp := comparison{n: n, version: anchorVersion(o.anchorDir), noWarehouse: o.noWarehouse}
		for k := 0; k < o.count; k++ {
			r, r2, a, err := runNights(ctx, o, n, k, dir)
			if err != nil {
				return err
			}
			cmp.cold = append(cmp.cold, r.process)
			writeProcessResult(&results, n, "refrecon-cold", r.process)
			if o.anchor {
				cmp.anchor = append(cmp.anchor, a)
				writeProcessResult(&results, n, "anchor", a)
			}
			if o.nightly {
				cmp.night = append(cmp.night, r2.process)
				writeProcessResult(&results, n, "refrecon-night", r2.process)
			}
			runs = append(runs, r)
			writeStageResults(&results, n, "", r)
			if o.nightly {
				nights = append(nights, r2)
				writeStageResults(&results, n, "night=2/", r2)
			}
		}
		printTable(stdout, n, o.count, "", runs)
		if o.nightly {
			printTable(stdout, n, o.count, ", the next night (AS_OF + 1 day over the same outputs)", nights)
		}
		if o.anchor {
			printComparison(stdout, cmp)
		}
	}

	resultsPath := filepath.Join(o.root, ".bench", "results.txt")
	if err := os.WriteFile(resultsPath, results.Bytes(), 0o644); err != nil {
		return err
	}
	if o.goBench {
		if err := runGoBench(ctx, o, &results, stdout, stderr); err != nil {
			return err
		}
		if err := os.WriteFile(resultsPath, results.Bytes(), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\nresults (Go benchmark format, for benchstat): %s\n", resultsPath)
	if rev := gitRev(ctx, o.root); rev != "" {
		name := "results-" + rev + ".txt"
		if o.noWarehouse {
			name = "results-" + rev + "-warehouse-none.txt"
		}
		p := filepath.Join(o.root, ".bench", name)
		if err := os.WriteFile(p, results.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "copy for this commit: %s\n", p)
	}
	return nil
}

// writeHeader writes the lines benchstat uses to label a configuration;
// noWarehouse adds "warehouse: none".
func writeHeader(w io.Writer, noWarehouse bool) {
	fmt.Fprintf(w, "goos: %s\ngoarch: %s\npkg: github.com/refrecon/refrecon/cmd/refrecon-bench\n", runtime.GOOS, runtime.GOARCH)
	if cpu := cpuModel(); cpu != "" {
		fmt.Fprintf(w, "cpu: %s\n", cpu)
	}
	if noWarehouse {
		fmt.Fprintln(w, "warehouse: none")
	}
}

// writeProcessResult writes one whole process's line (Go benchmark format):
// BenchmarkProcess/referrals=N/proc=PROC.
func writeProcessResult(w io.Writer, n int, proc string, p processResult) {
	fmt.Fprintf(w, "BenchmarkProcess/referrals=%d/proc=%s 1 %d ns/op %d peak-rss-bytes\n", n, proc, int64(p.wall*1e9), p.peakRSS)
}

// writeStageResults writes a run's stage and private output lines (Go
// benchmark format): BenchmarkRun/referrals=N/NIGHTstage=..., where night is
// "" for the first night and "night=2/" for the next.
func writeStageResults(w io.Writer, n int, night string, r runResult) {
	for _, st := range r.stages {
		fmt.Fprintf(w, "BenchmarkRun/referrals=%d/%sstage=%s 1 %d ns/op %.0f rows/s %d peak-rss-bytes\n",
			n, night, st.name, int64(st.seconds*1e9), st.rate(), st.peakRSS)
	}
	for _, st := range r.outputs {
		fmt.Fprintf(w, "BenchmarkRun/referrals=%d/%sstage=private/output=%s 1 %d ns/op\n", n, night, st.name, int64(st.seconds*1e9))
	}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func gitRev(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "describe", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// ensureDataset returns the directory of the dataset of n referrals,
// generating it when missing, incomplete or made by another generator.
func ensureDataset(ctx context.Context, o options, n int, stdout io.Writer) (string, error) {
	dir := filepath.Join(o.root, ".bench", "data", fmt.Sprintf("%d-%d", n, o.seed))
	marker := filepath.Join(dir, ".complete")
	want, err := generatorHash(o.root)
	if err != nil {
		return "", err
	}
	if got, err := os.ReadFile(marker); err == nil && string(got) == want {
		fmt.Fprintf(stdout, "dataset %s: cached\n", rel(o.root, dir))
		return dir, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	fmt.Fprintf(stdout, "dataset %s: generating %d referrals (seed %d)\n", rel(o.root, dir), n, o.seed)
	start := time.Now()
	cmd := exec.CommandContext(ctx, o.bin, "generate", "--out", dir, "--referrals", strconv.Itoa(n), "--seed", strconv.FormatUint(o.seed, 10))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("generate %d referrals: %w\n%s", n, err, out.String())
	}
	fmt.Fprintf(stdout, "  %s  (%.1f s)\n", strings.ReplaceAll(strings.TrimSpace(out.String()), "\n", "\n  "), time.Since(start).Seconds())
	// The marker last: a dataset cut short by a crash is regenerated.
	if err := os.WriteFile(marker, []byte(want), 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// generatorHash identifies the generator's source (fixtures/synth and the
// formats it writes), so a changed generator invalidates cached datasets.
func generatorHash(root string) (string, error) {
	h := sha256.New()
	for _, d := range []string{"fixtures/synth", "fixtures/internal/format"} {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s %d\n", rel(root, p), len(b))
			h.Write(b)
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("hash generator source: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)) + "\n", nil
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}

type stageResult struct {
	name    string
	seconds float64
	rows    int64
	peakRSS int64 // bytes; for "total" the child's rusage
}

func (s stageResult) rate() float64 {
	if s.seconds <= 0 {
		return 0
	}
	return float64(s.rows) / s.seconds
}

type runResult struct {
	stages  []stageResult
	outputs []stageResult // the private outputs (csv, workbook, html, warehouse) and the diff, as logged
	process processResult
}

// runNights runs `refrecon run` on the dataset in dir into fresh outputs,
// then with --anchor the anchor, and with --nightly refrecon again the next
// night into the same outputs: whole processes in turn, so that each
// refrecon run has an anchor run next to it. Outputs go to
// .bench/out/<N>-<k>, removed when the bench ends.
func runNights(ctx context.Context, o options, n, k int, dir string) (first, second runResult, anchor processResult, err error) {
	out := filepath.Join(o.root, ".bench", "out", fmt.Sprintf("%d-%d", n, k))
	if err = os.RemoveAll(out); err != nil { // kept by an earlier --keep-outputs
		return
	}
	if err = os.MkdirAll(out, 0o755); err != nil {
		return
	}
	if first, err = runOnce(ctx, o, n, dir, out, o.asOf); err != nil {
		return
	}
	if o.anchor {
		if anchor, err = runAnchor(ctx, o.anchorDir, dir); err != nil {
			err = fmt.Errorf("%d referrals: %w", n, err)
			return
		}
	}
	if !o.nightly {
		return
	}
	t, _ := time.Parse(time.RFC3339, o.asOf) // checked in run
	second, err = runOnce(ctx, o, n, dir, out, t.AddDate(0, 0, 1).Format(time.RFC3339))
	return
}

// warehouseEnv is the WAREHOUSE of a run whose outputs are in out.
func warehouseEnv(o options, out string) string {
	if o.noWarehouse {
		return "none"
	}
	return "sqlite:" + filepath.Join(out, "warehouse.sqlite")
}

// runOnce runs `refrecon run` at asOf on the dataset in dir with its
// outputs in out.
func runOnce(ctx context.Context, o options, n int, dir, out, asOf string) (runResult, error) {
	env := map[string]string{
		"REFERRALS_SOURCE":               "sqlite:" + filepath.Join(dir, "referrals.sqlite"),
		"STRIPE_SOURCE":                  "file:" + filepath.Join(dir, "stripe.ndjson"),
		"CUSTOM_REFERRAL_PROGRAM_CYCLES": "file://" + filepath.Join(dir, "cycles.json"),
		"AS_OF":                          asOf,
		"PUBLIC_DIR":                     filepath.Join(out, "public"),
		"PRIVATE_DIR":                    filepath.Join(out, "private"),
		"WAREHOUSE":                      warehouseEnv(o, out),
		"LOG_FORMAT":                     "json",
		"LOG_LEVEL":                      "info",
		"RECORDS_PER_PAGE":               "25",
		"KEEP_SNAPSHOTS":                 "0",
	}
	cmd := exec.CommandContext(ctx, o.bin, "run")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); env[k] == "" && !strings.HasPrefix(k, "REFRECON_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs, summary bytes.Buffer
	cmd.Stdout, cmd.Stderr = &summary, &logs
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start).Seconds()
	if err != nil {
		return runResult{}, fmt.Errorf("refrecon run on %d referrals: %w\n%s", n, err, tail(logs.String(), 4000))
	}
	r, err := parseLogs(logs.Bytes())
	if err != nil {
		return runResult{}, fmt.Errorf("refrecon run on %d referrals: %w", n, err)
	}
	r.process.wall = wall
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.process.peakRSS = ru.Maxrss * 1024 // KiB on Linux
		r.process.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		r.process.sys = time.Duration(ru.Stime.Nano()).Seconds()
		for i := range r.stages {
			if r.stages[i].name == "total" {
				r.stages[i].peakRSS = r.process.peakRSS
			}
		}
	}
	return r, nil
}

// parseLogs reads the stage lines of one run's JSON log.
func parseLogs(b []byte) (runResult, error) {
	byName, byOutput := map[string]stageResult{}, map[string]stageResult{}
	var referrals int64
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var rec struct {
			Stage   string  `json:"stage"`
			Output  string  `json:"output"`
			Event   string  `json:"event"`
			Status  string  `json:"status"`
			Seconds float64 `json:"seconds"`
			Rows    int64   `json:"rows"`
			PeakRSS int64   `json:"peak_rss_bytes"`
			Counts  struct {
				Referrals int64 `json:"referrals"`
			} `json:"counts"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue // not a log record
		}
		switch {
		case rec.Event == "run_finished":
			if rec.Status != "ok" {
				return runResult{}, fmt.Errorf("run finished with status %q", rec.Status)
			}
			referrals = rec.Counts.Referrals
			byName["total"] = stageResult{name: "total", seconds: rec.Seconds}
		case rec.Stage == "private" && rec.Output != "":
			if slices.Contains(outputs, rec.Output) {
				byOutput[rec.Output] = stageResult{name: rec.Output, seconds: rec.Seconds}
			}
		case rec.Stage == "diff":
			byOutput["diff"] = stageResult{name: "diff", seconds: rec.Seconds}
		case rec.Stage != "" && slices.Contains(stages, rec.Stage):
			byName[rec.Stage] = stageResult{name: rec.Stage, seconds: rec.Seconds, rows: rec.Rows, peakRSS: rec.PeakRSS}
		}
	}
	if err := sc.Err(); err != nil {
		return runResult{}, err
	}
	var r runResult
	for _, name := range stages {
		st, ok := byName[name]
		if !ok {
			return runResult{}, fmt.Errorf("no %q stage line in the log", name)
		}
		if name == "total" {
			st.rows = referrals
		}
		r.stages = append(r.stages, st)
	}
	for _, name := range outputs {
		if st, ok := byOutput[name]; ok {
			r.outputs = append(r.outputs, st)
		}
	}
	return r, nil
}

// printTable prints the medians of the runs of one size.
func printTable(w io.Writer, n, count int, what string, runs []runResult) {
	label := "1 run"
	if count > 1 {
		label = fmt.Sprintf("median of %d runs", count)
	}
	fmt.Fprintf(w, "\nrefrecon run, %d referrals%s (%s)\n", n, what, label)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tseconds\trows\trows/s\tpeak RSS MiB\t")
	for i, name := range stages {
		var secs, rates, rss []float64
		var rows int64
		for _, r := range runs {
			st := r.stages[i]
			secs = append(secs, st.seconds)
			rates = append(rates, st.rate())
			rss = append(rss, float64(st.peakRSS))
			rows = st.rows
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%d\t%.0f\t%.0f\t\n", name, median(secs), rows, median(rates), median(rss)/(1<<20))
	}
	// The private stage's parts, each as its own seconds (they overlap).
	for _, name := range outputs {
		var secs []float64
		for _, r := range runs {
			for _, st := range r.outputs {
				if st.name == name {
					secs = append(secs, st.seconds)
				}
			}
		}
		if len(secs) > 0 {
			fmt.Fprintf(tw, "  private: %s\t%.2f\t\t\t\t\n", name, median(secs))
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "(rows: read = input records; compute = referrals rows; private = warehouse decision, leaderboard,\n accounting and subscription rows; publish = referrer files + leaderboard entries; total = referrals rows.\n peak RSS: the process's high-water mark when the stage ended; total = the child's rusage.\n private: <part>: each private output's own seconds, and the comparison with the previous snapshot (diff:\n from the end of the read, since its read of the previous snapshot runs beside the computation);\n csv, workbook, html and the warehouse's staging run at once beside the publish's prepare, so they overlap;\n the warehouse commits after them)")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// runGoBench runs the pipeline's benchmarks and appends their output.
func runGoBench(ctx context.Context, o options, results *bytes.Buffer, stdout, stderr io.Writer) error {
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(o.count), "./pipeline/",
		"-benchreferrals", strconv.Itoa(o.benchRows)}
	fmt.Fprintf(stdout, "\ngo %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = o.root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, stdout), stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go test -bench: %w", err)
	}
	results.WriteString("\n")
	results.Write(out.Bytes())
	return nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
