package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/fixtures"
	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/bigquery"
	sqlitewh "github.com/refrecon/refrecon/sinks/sqlite"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sources/referrals/d1"
	"github.com/refrecon/refrecon/sources/referrals/d1dump"
	sqlitesrc "github.com/refrecon/refrecon/sources/referrals/sqlite"
	"github.com/rs/zerolog"
	"github.com/sethvargo/go-envconfig"
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

const runUsage = `Usage: refrecon run [--wait-lock] [--force]

One run: reads the sources, computes every cycle, writes the finance
reports and the warehouse, then publishes the public JSON snapshot, and
prints a summary. Configured from the environment (README.md). Exit
status 0 published; 1 the run failed (its error is in the run's "run
finished" log record on stderr, and nothing new is published); 2 a
configuration error (printed; nothing read or written).

Flags:
  --wait-lock   wait for another process publishing into PUBLIC_DIR
                instead of failing (as LOCK_WAIT=true)
  --force       publish even when an input count (users, referrals,
                customers, invoices) dropped more than
                PUBLISH_GUARD_MAX_DROP percent against the previous
                snapshot; this run only
`

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	wait := fs.Bool("wait-lock", false, "")
	force := fs.Bool("force", false, "")
	if done, err := parseFlags(fs, args, 0, runUsage, stdout, stderr); done {
		return err
	}
	cfg, log, err := loadEnv(ctx, envconfig.OsLookuper(), stderr)
	if err != nil {
		return err
	}
	cfg.LockWait = cfg.LockWait || *wait
	if err := logMemoryLimit(cfg, log); err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(cfg.CPUProfile)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.RunTimeout)
	defer cancel()
	rep, err := runForced(runCtx, cfg, log, *force)
	if perr := stopProfile(); perr != nil && err == nil {
		err = perr
	}
	if rep != nil && rep.Result != nil {
		writeSummary(stdout, rep)
	}
	return err
}

// runOnce performs one run with cfg: newPlan checks every variable and
// loads the cycle set, then reconcile.Run does the run. A configuration
// error comes back as it is: no run started and nothing was logged. The
// run's own error comes back as a reportedError: reconcile.Run has logged
// it in the run's "run finished" record.
func runOnce(ctx context.Context, cfg *config, log zerolog.Logger) (*reconcile.Report, error) {
	return runForced(ctx, cfg, log, false)
}

// runForced is runOnce; force overrides the publish guard for this run
// (run --force).
func runForced(ctx context.Context, cfg *config, log zerolog.Logger, force bool) (*reconcile.Report, error) {
	started := time.Now() // timing only; the computation uses asOf
	runID := reconcile.NewRunID()
	p, err := newPlan(ctx, cfg, log.With().Str("run_id", runID).Logger())
	if err != nil {
		return nil, err
	}
	defer p.close()
	store, closeStore, err := p.public.open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer closeStore()
	p.Public = store
	p.RunID, p.Started, p.Log = runID, started, log
	p.PublishGuard.Force = force
	rep, err := reconcile.Run(ctx, p.Plan)
	if err != nil {
		return &rep, &reportedError{err: err}
	}
	return &rep, nil
}

// plan is a run's reconcile.Plan and what newPlan opened for it.
type plan struct {
	reconcile.Plan
	public  publicTarget // PUBLIC_DIR, opened by runOnce (a bucket is reached then: exit 1 when it cannot be)
	cleanup []func()     // closes what newPlan opened; close runs them
}

// close releases what newPlan opened and the run did not take.
func (p *plan) close() {
	for _, f := range p.cleanup {
		f()
	}
	p.cleanup = nil
}

// newPlan checks every variable and loads the cycle set. It reads no input
// and writes no output; every error it returns is a configuration error.
func newPlan(ctx context.Context, cfg *config, log zerolog.Logger) (*plan, error) {
	p := &plan{Plan: reconcile.Plan{
		CodeVersion:    codeVersion,
		PrivateDir:     cfg.PrivateDir,
		RecordsPerPage: cfg.RecordsPerPage,
		KeepSnapshots:  cfg.KeepSnapshots,
		LockWait:       cfg.LockWait,
		Log:            log,
		HeapProfile:    cfg.MemProfile,
		Classify:       classifyForLog,
		PublishGuard:   &reconcile.PublishGuard{MaxDropPercent: cfg.PublishGuardMaxDrop},
	}}
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	var err0 error

	if cfg.AsOf == "" {
		p.AsOf = time.Now().UTC().Truncate(time.Second)
	} else if t, err := pipeline.ParseRFC3339(cfg.AsOf); err != nil {
		bad("AS_OF %q: want an RFC 3339 instant such as 2026-04-15T00:00:00Z", cfg.AsOf)
	} else {
		p.AsOf = t.UTC()
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
	if cfg.PublishGuardMaxDrop < 0 || cfg.PublishGuardMaxDrop > 100 {
		bad("PUBLISH_GUARD_MAX_DROP %d: want a percentage, 0..100", cfg.PublishGuardMaxDrop)
	}
	if p.public, err0 = parsePublicDir(cfg.PublicDir); err0 != nil {
		bad("%v", err0)
	}
	if cfg.PublicConcurrency < 1 || cfg.PublicConcurrency > 1000 {
		bad("PUBLIC_CONCURRENCY %d: want 1..1000", cfg.PublicConcurrency)
	}
	if strings.TrimSpace(cfg.PrivateDir) == "" {
		bad("PRIVATE_DIR is empty")
	}
	if msg := privateInsidePublic(cfg.PrivateDir, p.public.dir); msg != "" {
		bad("%s", msg)
	}
	var err error
	p.Sources = sourceKinds(cfg)
	if p.Referrals, err = newReferralSource(cfg); err != nil {
		problems = append(problems, err.Error())
	}
	if p.Stripe, err = newStripeSource(cfg, log); err != nil {
		problems = append(problems, err.Error())
	}
	if p.Warehouse, err = newWarehouse(ctx, cfg, p); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) == 0 {
		if p.Cycles, err = loadCycleSet(ctx, cfg); err != nil {
			p.close()
			return nil, err
		}
	}
	if len(problems) > 0 {
		p.close()
		return nil, asConfigError(errors.New(strings.Join(problems, "; ")))
	}
	return p, nil
}

// newReferralSource builds the source REFERRALS_SOURCE names.
func newReferralSource(cfg *config) (reconcile.ReferralSource, error) {
	kind, arg, _ := strings.Cut(cfg.ReferralsSource, ":")
	switch {
	case cfg.ReferralsSource == "" || cfg.ReferralsSource == pipeline.SourceFixture:
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
		testRetryOverride.apply(&dc.Retry, &dc.HTTPClient)
		src, err := d1.New(dc)
		if err != nil {
			return nil, fmt.Errorf("REFERRALS_SOURCE=d1 (D1_ACCOUNT_ID, D1_DATABASE_ID, D1_API_TOKEN, D1_API_BASE): %w", err)
		}
		return src, nil
	default:
		return nil, fmt.Errorf("REFERRALS_SOURCE %q: want sqlite:PATH, d1dump:PATH or d1", cfg.ReferralsSource)
	}
}

// warehouseTarget is what WAREHOUSE names: a SQLite file, a BigQuery
// dataset, or, both zero, none.
type warehouseTarget struct {
	sqlitePath string
	bigquery   *bigquery.Config
}

// parseWarehouse checks WAREHOUSE (with BIGQUERY_LOCATION and
// BIGQUERY_ENDPOINT for a dataset) and says what it names. It opens
// nothing.
func parseWarehouse(cfg *config) (warehouseTarget, error) {
	kind, arg, _ := strings.Cut(cfg.Warehouse, ":")
	switch {
	case cfg.Warehouse == "none":
		return warehouseTarget{}, nil
	case kind == "sqlite" && arg != "":
		return warehouseTarget{sqlitePath: arg}, nil
	case kind == "bigquery":
		project, dataset, ok := strings.Cut(arg, ".")
		if !ok || project == "" || dataset == "" || strings.Contains(dataset, ".") {
			return warehouseTarget{}, fmt.Errorf("WAREHOUSE %q: want bigquery:PROJECT.DATASET", cfg.Warehouse)
		}
		bqCfg := bigquery.Config{Project: project, Dataset: dataset, Location: cfg.BigQueryLocation, Endpoint: cfg.BigQueryEndpoint}
		testRetryOverride.apply(&bqCfg.Retry, nil)
		return warehouseTarget{bigquery: &bqCfg}, nil
	default:
		return warehouseTarget{}, fmt.Errorf("WAREHOUSE %q: want sqlite:PATH, bigquery:PROJECT.DATASET or none", cfg.Warehouse)
	}
}

// openBigQuery opens the BigQuery warehouse t names. That makes no request
// but checks the project, dataset, endpoint and credentials, so a bad one
// is a configuration error before any input is read.
func (t warehouseTarget) openBigQuery(ctx context.Context, cfg *config) (*bigquery.Warehouse, error) {
	w, err := bigquery.Open(ctx, *t.bigquery)
	if err != nil {
		return nil, fmt.Errorf("WAREHOUSE %q / BIGQUERY_ENDPOINT: %w", cfg.Warehouse, err)
	}
	return w, nil
}

// newWarehouse checks WAREHOUSE and returns how the run opens it (nil for
// none). A SQLite file is created only when the run opens it; a BigQuery
// client is opened here, once, and handed to the run; p's cleanup closes
// it when the run never took it.
func newWarehouse(ctx context.Context, cfg *config, p *plan) (func(ctx context.Context) (reconcile.Warehouse, error), error) {
	t, err := parseWarehouse(cfg)
	switch {
	case err != nil:
		return nil, err
	case t.sqlitePath != "":
		p.Settlements = func(ctx context.Context) ([]pipeline.SettledCycle, error) {
			// No warehouse file yet: no ledger, nothing settled (and the
			// run creates no file before it writes).
			if _, err := os.Stat(t.sqlitePath); errors.Is(err, fs.ErrNotExist) {
				return nil, nil
			}
			w, err := sqlitewh.Open(t.sqlitePath)
			if err != nil {
				return nil, err
			}
			defer w.Close()
			return reconcile.SettledFromLedger(ctx, warehouse.NewLedger(w))
		}
		return func(context.Context) (reconcile.Warehouse, error) { return sqlitewh.Open(t.sqlitePath) }, nil
	case t.bigquery == nil:
		return nil, nil
	}
	w, err := t.openBigQuery(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ledger := warehouse.NewLedger(w) // read before the run takes w to write
	p.Settlements = func(ctx context.Context) ([]pipeline.SettledCycle, error) {
		return reconcile.SettledFromLedger(ctx, ledger)
	}
	p.cleanup = append(p.cleanup, func() {
		if w != nil {
			_ = w.Close()
		}
	})
	return func(context.Context) (reconcile.Warehouse, error) {
		if w == nil {
			return nil, errors.New("the BigQuery warehouse was opened twice")
		}
		taken := w
		w = nil // the run closes it
		// BigQuery is written when the run commits (docs/decisions.md).
		return warehouse.WriteAtCommit(taken), nil
	}, nil
}

// startCPUProfile starts a pprof CPU profile of the run into path
// (REFRECON_CPUPROFILE, for docs/performance.md); "" does
// nothing. The returned function stops it and closes the file.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := createNew(path, 0o644)
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

// createNew replaces path with a new, empty file: whatever is there is
// unlinked first (a symlink's target is never truncated) and the file is
// created with O_EXCL|O_NOFOLLOW.
func createNew(path string, perm os.FileMode) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, perm)
}

// privateInsidePublic says why PRIVATE_DIR may not be where it is: equal to
// or inside a local PUBLIC_DIR, the finance reports (which hold emails)
// would sit in the web root. Paths are compared absolute and cleaned, with
// symlinks resolved as far as the directories exist. "" when it is fine;
// public is the local directory of PUBLIC_DIR ("" for a bucket, which a
// local directory cannot be inside).
func privateInsidePublic(private, public string) string {
	if private == "" || public == "" {
		return ""
	}
	pub, priv := resolvePath(public), resolvePath(private)
	if rel, err := filepath.Rel(pub, priv); err == nil && (rel == "." || !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && rel != "..") {
		return fmt.Sprintf("PRIVATE_DIR %s is inside PUBLIC_DIR %s: the finance reports hold emails and would be published; put them elsewhere", private, public)
	}
	return ""
}

// resolvePath is path made absolute, with the symlinks of its longest
// existing prefix resolved.
func resolvePath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	rest := ""
	for p := abs; ; {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return abs
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// sourceKinds names the kind of each configured source, for the manifest
// (pipeline.InputSources): unset and "fixture" are the embedded fixtures.
func sourceKinds(cfg *config) pipeline.InputSources {
	var k pipeline.InputSources
	switch kind, _, _ := strings.Cut(cfg.ReferralsSource, ":"); {
	case cfg.ReferralsSource == "" || cfg.ReferralsSource == pipeline.SourceFixture:
		k.Referrals = pipeline.SourceFixture
	default:
		k.Referrals = kind // sqlite, d1dump, d1 (newReferralSource checked it)
	}
	switch kind, _, _ := strings.Cut(cfg.StripeSource, ":"); {
	case cfg.StripeSource == "" || cfg.StripeSource == pipeline.SourceFixture:
		k.Stripe = pipeline.SourceFixture
	default:
		k.Stripe = kind // file, api
	}
	return k
}
