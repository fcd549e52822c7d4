package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/rs/zerolog"
	"github.com/sethvargo/go-envconfig"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/cmd/internal/settle"
	"github.com/refrecon/refrecon/pipeline"
	sqlitewh "github.com/refrecon/refrecon/sinks/sqlite"
	"github.com/refrecon/refrecon/sources/referrals/d1"
	sqlitesrc "github.com/refrecon/refrecon/sources/referrals/sqlite"
	stripeapi "github.com/refrecon/refrecon/sources/stripe/api"
)

func init() {
	register(&command{
		name:    "settle plan",
		summary: "show what settling a final cycle from a snapshot would do (writes nothing)",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return settleCommand(ctx, "plan", args, stdout, stderr)
		},
	})
	register(&command{
		name:    "settle apply",
		summary: "settle a final cycle from the latest snapshot: ledger, payout file, Stripe credits, rewarded rows",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return settleCommand(ctx, "apply", args, stdout, stderr)
		},
	})
}

func settleCommand(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("settle "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cycle := fs.String("cycle", "", "the cycle to settle (required)")
	snapshot := fs.String("snapshot", "", "the snapshot to settle it from: the one latest.json names (required)")
	asJSON := false
	if verb == "plan" {
		fs.BoolVar(&asJSON, "json", false, "print the plan as JSON")
	}
	fs.Usage = func() {
		if verb == "plan" {
			fmt.Fprintln(stderr, "Usage: refrecon settle plan --cycle C --snapshot ID [--json]\n\nShows what `settle apply` would do: each referrer's award, payout method and matched Stripe\ncustomer (unpayable ones with the reason), and the referral rows to mark rewarded. Writes nothing.\nWhen the cycle's settlement is recorded already, shows the ledger's entries and their states.")
		} else {
			fmt.Fprintln(stderr, "Usage: refrecon settle apply --cycle C --snapshot ID\n\nSettles cycle C from snapshot ID (SPEC 2.8): records the ledger (warehouse table settlements),\nwrites PRIVATE_DIR/settlements/<cycle>-<snapshot>.csv, grants Stripe credits when\nSETTLE_STRIPE_CREDIT=true (SETTLE_STRIPE_SECRET_KEY), and sets rewarded = 1 on the referral rows\n(sqlite: file, or D1 with SETTLE_D1_API_TOKEN). After a crash or a failure, run it again: it finishes\nthe rest and never pays or marks anything twice.")
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if *cycle == "" || *snapshot == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg, log, err := loadEnv(ctx, envconfig.OsLookuper(), stderr)
	if err != nil {
		return err
	}
	sc, closeAll, err := newSettleConfig(ctx, cfg, log, verb == "apply")
	if err != nil {
		return err
	}
	defer closeAll()
	sc.Cycle, sc.Snapshot, sc.Log = *cycle, *snapshot, log.With().Str("command", "settle "+verb).Logger()
	sc.RunID = reconcile.NewRunID()
	if verb == "plan" {
		p, err := settle.MakePlan(ctx, sc)
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(stdout, p)
		}
		settle.WritePlan(stdout, p)
		return nil
	}
	res, err := settle.Apply(ctx, sc)
	if res != nil && res.Plan != nil {
		settle.WriteResult(stdout, res)
	}
	return err
}

// newSettleConfig checks the variables a settlement needs and opens what
// it reads and writes; every problem is a configuration error (exit 2).
// The writers (the referrals file read-write, the D1 write token, the
// Stripe write key) are opened for apply only.
func newSettleConfig(ctx context.Context, cfg *config, log zerolog.Logger, apply bool) (*settle.Config, func(), error) {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	kind, arg, _ := strings.Cut(cfg.ReferralsSource, ":")
	switch {
	case cfg.Warehouse == "none":
		bad("WAREHOUSE=none cannot be settled: the settlement ledger and the snapshot's referral decisions live in the warehouse")
	case kind == "d1dump":
		bad("REFERRALS_SOURCE %q cannot be settled: a d1dump: export cannot be written back (settle against the database: sqlite:PATH or d1)", cfg.ReferralsSource)
	case (cfg.ReferralsSource == "" || cfg.ReferralsSource == pipeline.SourceFixture) && apply:
		bad("REFERRALS_SOURCE is the embedded fixture, which cannot be written: settle against sqlite:PATH or d1")
	}
	if apply && cfg.SettleStripeCredit && cfg.SettleStripeSecretKey == "" {
		bad("SETTLE_STRIPE_CREDIT=true needs SETTLE_STRIPE_SECRET_KEY (a key that may write customer balance transactions)")
	}
	if apply && cfg.ReferralsSource == "d1" && cfg.SettleD1APIToken == "" {
		bad("REFERRALS_SOURCE=d1 needs SETTLE_D1_API_TOKEN (a D1 token with edit permission) to mark referral rows rewarded")
	}
	sc := &settle.Config{PrivateDir: cfg.PrivateDir, Credit: cfg.SettleStripeCredit}
	pt, err := parsePublicDir(cfg.PublicDir)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if sc.Referrals, err = newReferralSource(cfg); err != nil {
		problems = append(problems, err.Error())
	}
	if sc.Stripe, err = newStripeSource(cfg, log); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, nil, asConfigError(errors.New(strings.Join(problems, "; ")))
	}
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			_ = c() // read-mostly handles; the command's outcome is already decided
		}
	}
	fails := func(err error) (*settle.Config, func(), error) {
		closeAll()
		return nil, nil, asConfigError(err)
	}
	store, closeStore, err := pt.open(ctx, cfg)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("PUBLIC_DIR: %w", err) // unreachable or missing: exit 1, as for run
	}
	closers = append(closers, func() error { closeStore(); return nil })
	sc.Public = store
	wt, err := parseWarehouse(cfg)
	switch {
	case err != nil:
		return fails(err)
	case wt.sqlitePath != "":
		w, err := sqlitewh.Open(wt.sqlitePath)
		if err != nil {
			return fails(fmt.Errorf("WAREHOUSE %q: %w", cfg.Warehouse, err))
		}
		closers = append(closers, w.Close)
		sc.Warehouse = w
	case wt.bigquery != nil:
		w, err := wt.openBigQuery(ctx, cfg)
		if err != nil {
			return fails(err)
		}
		closers = append(closers, w.Close)
		sc.Warehouse = w
	default:
		return fails(fmt.Errorf("WAREHOUSE %q: want sqlite:PATH or bigquery:PROJECT.DATASET", cfg.Warehouse))
	}
	if !apply {
		return sc, closeAll, nil
	}
	switch {
	case kind == "sqlite":
		w, err := sqlitesrc.OpenWriter(arg)
		if err != nil {
			return fails(fmt.Errorf("REFERRALS_SOURCE %q: %w", cfg.ReferralsSource, err))
		}
		closers = append(closers, w.Close)
		sc.Rows = w
	case cfg.ReferralsSource == "d1":
		dc := d1.Config{AccountID: cfg.D1AccountID, DatabaseID: cfg.D1DatabaseID, Token: cfg.SettleD1APIToken, BaseURL: cfg.D1APIBase}
		testRetryOverride.apply(&dc.Retry, &dc.HTTPClient)
		w, err := d1.New(dc)
		if err != nil {
			return fails(fmt.Errorf("SETTLE_D1_API_TOKEN / D1_*: %w", err))
		}
		sc.Rows = w
	}
	if cfg.SettleStripeCredit {
		if err := checkStripeRateLimit(cfg); err != nil {
			return fails(err)
		}
		stc := stripeapi.Config{SecretKey: cfg.SettleStripeSecretKey, BaseURL: cfg.StripeAPIBase, RateLimit: cfg.StripeRateLimit,
			Logger: log.With().Str("sink", "stripe credits").Logger()}
		testRetryOverride.apply(&stc.Retry, &stc.HTTPClient)
		cr, err := stripeapi.NewCreditor(stc)
		if err != nil {
			return fails(fmt.Errorf("SETTLE_STRIPE_SECRET_KEY / STRIPE_API_BASE: %w", err))
		}
		sc.Creditor = cr
	}
	return sc, closeAll, nil
}
