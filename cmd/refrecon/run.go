package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refrecon/refrecon/fixtures"
	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/bigquery"
	"github.com/refrecon/refrecon/sinks/csvreport"
	"github.com/refrecon/refrecon/sinks/publicjson"
	"github.com/refrecon/refrecon/sinks/snapshots"
	sqlitewh "github.com/refrecon/refrecon/sinks/sqlite"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sources/referrals/d1"
	"github.com/refrecon/refrecon/sources/referrals/d1dump"
	sqlitesrc "github.com/refrecon/refrecon/sources/referrals/sqlite"
	"github.com/rs/zerolog"
	"github.com/sethvargo/go-envconfig"
	"golang.org/x/sync/errgroup"
)

// codeVersion is set at build time (-ldflags -X main.codeVersion=...). It
// is part of every snapshot id: a new version may compute differently.
var codeVersion = "dev"

func init() {
	register(&command{
		name:    "run",
		summary: "one run now (or at AS_OF), then exit",
		run:     runCommand,
	})
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	wait := fs.Bool("wait-lock", false, "wait for another process publishing into PUBLIC_DIR instead of failing")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: refrecon run [--wait-lock]\n\nOne run: reads the sources, computes every cycle, writes the finance CSV reports and the\nwarehouse, then publishes the public JSON snapshot. Configured from the environment (README.md).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	cfg, err := loadConfig(ctx, envconfig.OsLookuper())
	if err != nil {
		return err
	}
	cfg.LockWait = cfg.LockWait || *wait
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	if err := logMemoryLimit(cfg, log); err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(os.Getenv("REFRECON_CPUPROFILE"))
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.RunTimeout)
	defer cancel()
	rep, err := runOnce(runCtx, cfg, log)
	if perr := stopProfile(); perr != nil && err == nil {
		err = perr
	}
	if rep != nil && rep.Result != nil {
		writeSummary(stdout, rep)
	}
	return err
}

// runReport is what one run did; it makes the final log record and the
// summary table.
type runReport struct {
	RunID      string
	SnapshotID string
	Status     string // "ok" or "failed"
	Seconds    float64
	Counts     pipeline.InputCounts
	Notes      []string
	Result     *pipeline.Result // nil when the run failed before computing
	Pruned     []string
}

// plan is a run's validated configuration: everything is parsed and checked
// before any input is read or any output written.
type plan struct {
	asOf      time.Time
	cycles    pipeline.CycleSet
	referrals referralSource
	stripe    stripeSource
	warehouse func(ctx context.Context) (warehouseWriter, error) // nil = none
	cleanup   []func()
}

type referralSource interface {
	ReadReferrals(ctx context.Context) (pipeline.Referrals, error)
}

type warehouseWriter interface {
	WriteSnapshot(ctx context.Context, s warehouse.Snapshot) error
	Close() error
}

// noter is a source that has something to say about what it read.
type noter interface{ Notes() []string }

// runOnce performs one whole run: configuration, sources, compute, then the
// private outputs and warehouse while the public snapshot is staged, and
// the public snapshot's commit (latest.json) last. A failure at any step
// before the commit leaves the previous snapshot and latest.json untouched.
func runOnce(ctx context.Context, cfg *config, log zerolog.Logger) (rep *runReport, err error) {
	started := time.Now() // timing only; the computation uses asOf
	rep = &runReport{RunID: newRunID(), Status: "failed"}
	log = log.With().Str("run_id", rep.RunID).Logger()
	defer func() {
		// A panic is a bug; it fails this run (exit 1, nothing published) and
		// is reported with its stack instead of taking the scheduler down.
		if r := recover(); r != nil {
			log.Error().Str("stack", string(debug.Stack())).Msg("run panicked")
			err = fmt.Errorf("run panicked: %v", r)
		}
		rep.Seconds = time.Since(started).Seconds()
		if err == nil {
			rep.Status = "ok"
		}
		logRunFinished(log, rep, err)
	}()

	p, err := newPlan(ctx, cfg, log)
	if err != nil {
		return rep, err
	}
	defer func() {
		for _, f := range p.cleanup {
			f()
		}
	}()
	log.Info().Str("stage", "config").Time("as_of", p.asOf).Int("cycles", len(p.cycles.Cycles)).
		Float64("seconds", time.Since(started).Seconds()).Msg("configuration loaded")

	unlock, err := snapshots.LockContext(ctx, cfg.PublicDir, cfg.LockWait)
	if err != nil {
		return rep, fmt.Errorf("lock public dir: %w", err)
	}
	defer func() {
		if uerr := unlock(); uerr != nil && err == nil {
			err = fmt.Errorf("unlock public dir: %w", uerr)
		}
	}()

	stage := time.Now()
	in, notes, err := readInputs(ctx, p)
	if err != nil {
		return rep, err
	}
	digest := pipeline.DigestInputs(in)
	rep.Counts = digest.Counts
	info := pipeline.NewRunInfo(digest, p.cycles, p.asOf, codeVersion)
	info.Notes = notes
	rep.SnapshotID, rep.Notes = info.SnapshotID, notes
	for _, n := range notes {
		log.Warn().Str("stage", "read").Str("note", n).Msg("source note")
	}
	c := digest.Counts
	log.Info().Str("stage", "read").Int64("rows", c.Users+c.Referrals+c.Customers+c.Subscriptions+c.Invoices+c.Refunds).
		Int64("users", c.Users).Int64("referrals", c.Referrals).
		Int64("customers", c.Customers).Int64("subscriptions", c.Subscriptions).Int64("invoices", c.Invoices).
		Int64("refunds", c.Refunds).Float64("seconds", time.Since(stage).Seconds()).Int64("peak_rss_bytes", peakRSS()).Msg("inputs read")

	stage = time.Now()
	res, err := pipeline.Compute(in, p.cycles, p.asOf)
	if err != nil {
		return rep, err // pipeline.Compute's errors say "compute: ..."
	}
	// The result holds what the outputs need; the inputs, but for the
	// subscriptions the warehouse keeps, can go.
	subs := in.Stripe.Subscriptions
	in = pipeline.Inputs{}
	// Collect now: the last collection ran while the inputs were live, and
	// the heap goal it set would let the output stage grow the heap to
	// twice that (measured at 1M referrals: peak RSS 3.4 GiB without this
	// collection, 2.6-2.8 GiB with it; see docs/performance.md).
	runtime.GC()
	log.Info().Str("stage", "compute").Int("rows", len(res.Decisions)).Str("snapshot_id", info.SnapshotID).Int("cycles", len(res.Cycles)).
		Int("decisions", len(res.Decisions)).Float64("seconds", time.Since(stage).Seconds()).Int64("peak_rss_bytes", peakRSS()).Msg("cycles computed")

	// The public snapshot is staged (written in full under a temporary
	// directory nobody reads) while the private outputs are written, and
	// committed (latest.json replaced) only when both succeeded; otherwise
	// it is aborted and the previous snapshot stays the published one.
	stage = time.Now()
	pub := publicjson.New(cfg.PublicDir, cfg.RecordsPerPage)
	staged := stagePublish(ctx, pub, info, res)
	defer func() {
		if aerr := staged.abort(); aerr != nil {
			log.Warn().Err(aerr).Str("stage", "publish").Msg("staged snapshot not removed")
		}
	}()
	if testHookStaged != nil {
		testHookStaged(staged.wait())
	}
	if err := writePrivate(ctx, cfg, p, info, res, subs); err != nil {
		return rep, err
	}
	if err := writeHeapProfile(os.Getenv("REFRECON_MEMPROFILE")); err != nil {
		return rep, err
	}
	log.Info().Str("stage", "private").Int("rows", privateRows(res, subs)).Float64("seconds", time.Since(stage).Seconds()).Int64("peak_rss_bytes", peakRSS()).Msg("reports and warehouse written")

	s, err := staged.wait()
	if err != nil {
		return rep, fmt.Errorf("publish public snapshot: %w", err)
	}
	commit := time.Now()
	if err := s.Commit(); err != nil {
		return rep, fmt.Errorf("publish public snapshot: %w", err)
	}
	rep.Result = res
	st := s.Stats()
	log.Info().Str("stage", "publish").Int("rows", publicRows(res)).Str("snapshot_id", info.SnapshotID).Str("dir", cfg.PublicDir).
		Int("files", st.Files).Int("linked", st.Linked).Float64("prepare_seconds", st.Prepare.Seconds()).
		Float64("flush_seconds", st.Flush.Seconds()).Float64("commit_seconds", time.Since(commit).Seconds()).
		Float64("seconds", time.Since(stage).Seconds()).Int64("peak_rss_bytes", peakRSS()).Msg("public snapshot published")

	if cfg.KeepSnapshots > 0 {
		removed, err := snapshots.Prune(cfg.PublicDir, cfg.KeepSnapshots)
		if err != nil {
			// The snapshot is published; a failed clean-up is reported, not fatal.
			log.Warn().Err(err).Str("stage", "retention").Msg("old snapshots not pruned")
		}
		rep.Pruned = removed
	}
	return rep, nil
}

// testHookStaged, when set (tests only), makes runOnce wait until the
// public snapshot is staged before it writes the private outputs, and is
// called with the staged snapshot.
var testHookStaged func(*publicjson.Staged, error)

// stagedPublish is a publicjson.Prepare running beside the private outputs.
type stagedPublish struct {
	cancel context.CancelFunc
	done   chan struct{}
	s      *publicjson.Staged
	err    error
}

// stagePublish starts preparing the public snapshot in a goroutine. A panic
// there fails the publish instead of the process.
func stagePublish(ctx context.Context, pub *publicjson.Publisher, info pipeline.RunInfo, res *pipeline.Result) *stagedPublish {
	ctx, cancel := context.WithCancel(ctx)
	sp := &stagedPublish{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(sp.done)
		defer func() {
			if r := recover(); r != nil {
				sp.err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		sp.s, sp.err = pub.Prepare(ctx, info, res)
	}()
	return sp
}

// wait returns the staged snapshot once Prepare has finished.
func (sp *stagedPublish) wait() (*publicjson.Staged, error) {
	<-sp.done
	return sp.s, sp.err
}

// abort stops a Prepare still running, waits for it and removes what it
// staged; after a Commit it does nothing.
func (sp *stagedPublish) abort() error {
	sp.cancel()
	<-sp.done
	if sp.s == nil {
		return nil
	}
	return sp.s.Abort()
}

// newPlan checks every variable and loads the cycle set. It reads no input
// and writes no output; every error it returns is a configuration error.
func newPlan(ctx context.Context, cfg *config, log zerolog.Logger) (*plan, error) {
	p := &plan{}
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	if cfg.AsOf == "" {
		p.asOf = time.Now().UTC().Truncate(time.Second)
	} else if t, err := time.Parse(time.RFC3339, cfg.AsOf); err != nil {
		bad("AS_OF %q: want an RFC 3339 instant such as 2026-04-15T00:00:00Z", cfg.AsOf)
	} else {
		p.asOf = t.UTC()
	}
	if cfg.RecordsPerPage < 1 || cfg.RecordsPerPage > 100 {
		bad("RECORDS_PER_PAGE %d: want 1..100", cfg.RecordsPerPage)
	}
	if cfg.RunTimeout <= 0 {
		bad("RUN_TIMEOUT %s: want more than 0", cfg.RunTimeout)
	}
	if cfg.KeepSnapshots < 0 {
		bad("KEEP_SNAPSHOTS %d: want 0 (keep all) or more", cfg.KeepSnapshots)
	}
	if strings.TrimSpace(cfg.PublicDir) == "" {
		bad("PUBLIC_DIR is empty")
	}
	if strings.TrimSpace(cfg.PrivateDir) == "" {
		bad("PRIVATE_DIR is empty")
	}
	var err error
	if p.referrals, err = newReferralSource(cfg, p); err != nil {
		problems = append(problems, err.Error())
	}
	if p.stripe, err = newStripeSource(cfg, log); err != nil {
		problems = append(problems, err.Error())
	}
	if p.warehouse, err = newWarehouse(ctx, cfg); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) == 0 {
		if p.cycles, err = loadCycleSet(ctx, cfg); err != nil {
			return nil, err
		}
	}
	if len(problems) > 0 {
		for _, f := range p.cleanup {
			f()
		}
		return nil, asConfigError(errors.New(strings.Join(problems, "; ")))
	}
	return p, nil
}

// newReferralSource builds the source REFERRALS_SOURCE names.
func newReferralSource(cfg *config, p *plan) (referralSource, error) {
	kind, arg, _ := strings.Cut(cfg.ReferralsSource, ":")
	switch {
	case cfg.ReferralsSource == "":
		// Loaded into memory: no temporary copy is written, or left behind
		// by a killed run.
		return sqlitesrc.NewImage("(embedded fixture)", fixtures.ReferralsSQLite), nil
	case kind == "sqlite" && arg != "":
		return sqlitesrc.New(arg), nil
	case kind == "d1dump" && arg != "":
		return d1dump.New(arg), nil
	case cfg.ReferralsSource == "d1":
		var missing []string
		for name, v := range map[string]string{"D1_ACCOUNT_ID": cfg.D1AccountID, "D1_DATABASE_ID": cfg.D1DatabaseID, "D1_API_TOKEN": cfg.D1APIToken} {
			if v == "" {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			return nil, fmt.Errorf("REFERRALS_SOURCE=d1 needs %s", strings.Join(missing, ", "))
		}
		dc := d1.Config{AccountID: cfg.D1AccountID, DatabaseID: cfg.D1DatabaseID, Token: cfg.D1APIToken, BaseURL: cfg.D1APIBase}
		testRetryOverride.d1(&dc)
		return d1.New(dc)
	default:
		return nil, fmt.Errorf("REFERRALS_SOURCE %q: want sqlite:PATH, d1dump:PATH or d1", cfg.ReferralsSource)
	}
}

// newWarehouse checks WAREHOUSE and returns how to open it (nil for none);
// nothing is created here and no request is made.
func newWarehouse(ctx context.Context, cfg *config) (func(ctx context.Context) (warehouseWriter, error), error) {
	kind, arg, _ := strings.Cut(cfg.Warehouse, ":")
	switch {
	case cfg.Warehouse == "none":
		return nil, nil
	case kind == "sqlite" && arg != "":
		return func(context.Context) (warehouseWriter, error) { return sqlitewh.Open(arg) }, nil
	case kind == "bigquery":
		project, dataset, ok := strings.Cut(arg, ".")
		if !ok || project == "" || dataset == "" || strings.Contains(dataset, ".") {
			return nil, fmt.Errorf("WAREHOUSE %q: want bigquery:PROJECT.DATASET", cfg.Warehouse)
		}
		bqCfg := bigquery.Config{Project: project, Dataset: dataset, Location: cfg.BigQueryLoc, Endpoint: cfg.BigQueryEndpt}
		testRetryOverride.bigquery(&bqCfg)
		// Open makes no request but checks the project, dataset, endpoint and
		// credentials: a bad one is a configuration error before any input
		// is read.
		w, err := bigquery.Open(ctx, bqCfg)
		if err != nil {
			return nil, fmt.Errorf("WAREHOUSE %q / BIGQUERY_ENDPOINT: %w", cfg.Warehouse, err)
		}
		_ = w.Close()
		return func(ctx context.Context) (warehouseWriter, error) { return bigquery.Open(ctx, bqCfg) }, nil
	default:
		return nil, fmt.Errorf("WAREHOUSE %q: want sqlite:PATH, bigquery:PROJECT.DATASET or none", cfg.Warehouse)
	}
}

// readInputs reads both sources at once.
func readInputs(ctx context.Context, p *plan) (pipeline.Inputs, []string, error) {
	var in pipeline.Inputs
	// The first error cancels the other read and is the one reported.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		if in.Referrals, err = p.referrals.ReadReferrals(gctx); err != nil {
			return fmt.Errorf("read referrals: %w", err)
		}
		return nil
	})
	g.Go(func() (err error) {
		if in.Stripe, err = p.stripe.ReadStripe(gctx); err != nil {
			return fmt.Errorf("read stripe: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return in, nil, err
	}
	var notes []string
	for _, s := range []any{p.referrals, p.stripe} {
		if n, ok := s.(noter); ok {
			notes = append(notes, n.Notes()...)
		}
	}
	return in, notes, nil
}

// writePrivate writes the finance CSV reports and the warehouse at once.
// Both are attempted to the end: one failing does not cancel the other, and
// both errors are reported.
func writePrivate(ctx context.Context, cfg *config, p *plan, info pipeline.RunInfo, res *pipeline.Result,
	subs []pipeline.Subscription) error {
	var g errgroup.Group
	var csvErr, whErr error
	g.Go(func() error {
		if err := csvreport.New(cfg.PrivateDir).Write(ctx, info, res); err != nil {
			csvErr = fmt.Errorf("write finance reports: %w", err)
		}
		return nil
	})
	if p.warehouse != nil {
		g.Go(func() error {
			whErr = writeWarehouse(ctx, p, info, res, subs)
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(csvErr, whErr)
}

func writeWarehouse(ctx context.Context, p *plan, info pipeline.RunInfo, res *pipeline.Result, subs []pipeline.Subscription) (err error) {
	w, err := p.warehouse(ctx)
	if err != nil {
		return fmt.Errorf("open warehouse: %w", err)
	}
	defer func() {
		if cerr := w.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close warehouse: %w", cerr)
		}
	}()
	if err := w.WriteSnapshot(ctx, warehouse.FromResult(info, res, subs)); err != nil {
		return fmt.Errorf("write warehouse: %w", err)
	}
	return nil
}

// logRunFinished emits the one-line record per run that alerts match on.
func logRunFinished(log zerolog.Logger, rep *runReport, err error) {
	ev := log.Info()
	if err != nil {
		ev = log.Error().Err(err)
	}
	c := rep.Counts
	ev.Str("event", "run_finished").Str("snapshot_id", rep.SnapshotID).Str("status", rep.Status).
		Float64("seconds", rep.Seconds).
		Dict("counts", zerolog.Dict().Int64("users", c.Users).Int64("referrals", c.Referrals).
			Int64("customers", c.Customers).Int64("subscriptions", c.Subscriptions).
			Int64("invoices", c.Invoices).Int64("refunds", c.Refunds)).
		Msg("run finished")
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// privateRows is how many records the private stage writes: the warehouse's
// decision, leaderboard, accounting and subscription rows (the CSV reports
// carry the same leaderboard and accounting lines). For the stage log.
func privateRows(res *pipeline.Result, subs []pipeline.Subscription) int {
	n := len(res.Decisions) + len(subs)
	for i := range res.Cycles {
		n += len(res.Cycles[i].Leaderboard) + len(res.Cycles[i].Events)
	}
	return n
}

// publicRows is how many records the public snapshot holds: one referrer
// file per users row and every leaderboard entry. For the stage log.
func publicRows(res *pipeline.Result) int {
	n := len(res.Referrers)
	for i := range res.Cycles {
		n += len(res.Cycles[i].Leaderboard)
	}
	return n
}

// peakRSS is the process's peak resident set size so far in bytes, from
// the kernel's own accounting (VmHWM in /proc/self/status); 0 where that is
// not available. The stage logs carry it for the benchmarks.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// startCPUProfile starts a pprof CPU profile of the run into path (the
// hidden REFRECON_CPUPROFILE variable, for docs/performance.md); "" does
// nothing. The returned function stops it and closes the file.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		return nil
	}, nil
}

// writeHeapProfile writes a pprof heap profile into path (the hidden
// REFRECON_MEMPROFILE variable) when the run's memory is at its largest:
// after the private outputs, with the inputs' subscriptions, the result
// and the warehouse rows all written. "" does nothing.
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC() // up-to-date statistics
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}
