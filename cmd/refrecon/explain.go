package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/refrecon/refrecon/cmd/internal/explain"
	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
)

func init() {
	register(&command{
		name:    "explain",
		summary: "why a referral row or a referrer got what it got, step by step (writes nothing)",
		run:     explainCommand,
	})
}

const explainUsage = `Usage: refrecon explain (--referee EMAIL | --refcode CODE) [--cycle C] [--json]

Recomputes from the configured inputs (REFERRALS_SOURCE, STRIPE_SOURCE,
CUSTOM_REFERRAL_PROGRAM_CYCLES) at AS_OF, or when AS_OF is unset at the asOf
of the latest snapshot in PUBLIC_DIR, and shows every step of the rules
(SPEC 2) for:

  --referee EMAIL  the referrals rows of a referee (matched canonically:
                   case, +tags and gmail dots do not matter): outcome and
                   why, the matched Stripe customers, each invoice with
                   gross, refunds, credit notes, disputes and net, whether
                   it qualifies under each cycle's rules and why not, the
                   conversions, pending or not, the eligibility and reason;
  --refcode CODE   a referrer: per cycle its referrals, conversions,
                   revenue, rank, score and qualification, the pie-split
                   weight and award arithmetic with its remainder, or the
                   rev-share-cap events with the pool before each claim.

The numbers come from the same computation as a run (a decision trace the
pipeline returns). Writes nothing. An email or refcode that is not in the
inputs exits 1.

Flags:
  --cycle C   only cycle C
  --json      print the trace as JSON
`

func explainCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("explain", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	referee := fset.String("referee", "", "referee email")
	refcode := fset.String("refcode", "", "referrer refcode")
	cycle := fset.String("cycle", "", "only this cycle")
	asJSON := fset.Bool("json", false, "print JSON")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, explainUsage)
			return nil
		}
		fmt.Fprintf(stderr, "refrecon explain: %v\n\n%s", err, explainUsage)
		return errUsage
	}
	if fset.NArg() > 0 || (*referee == "") == (*refcode == "") {
		fmt.Fprintf(stderr, "refrecon explain: give exactly one of --referee EMAIL and --refcode CODE\n\n%s", explainUsage)
		return errUsage
	}
	cfg, err := loadConfig(ctx, envconfig.OsLookuper())
	if err != nil {
		return err
	}
	q := pipeline.TraceQuery{RefereeEmail: *referee, Refcode: *refcode}
	ex, err := explainConfigured(ctx, cfg, q, *cycle)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, ex)
	}
	explain.Write(stdout, ex)
	return nil
}

// explainConfigured wires explain.Explain: the configured sources and cycle
// set, at AS_OF or the latest snapshot's asOf. Only cycle (when set) is kept.
func explainConfigured(ctx context.Context, cfg *config, q pipeline.TraceQuery, cycle string) (*explain.Explanation, error) {
	asOf, err := explainAsOf(ctx, cfg)
	if err != nil {
		return nil, err
	}
	log, err := newLogger(cfg, io.Discard)
	if err != nil {
		return nil, err
	}
	var problems []string
	referrals, err := newReferralSource(cfg)
	if err != nil {
		problems = append(problems, err.Error())
	}
	stripe, err := newStripeSource(cfg, log)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, asConfigError(errors.New(strings.Join(problems, "; ")))
	}
	set, err := loadCycleSet(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return explain.Explain(ctx, referrals, stripe, set, asOf, q, cycle)
}

// explainAsOf is AS_OF, or the asOf of the latest snapshot in PUBLIC_DIR.
func explainAsOf(ctx context.Context, cfg *config) (time.Time, error) {
	if cfg.AsOf != "" {
		t, err := pipeline.ParseRFC3339(cfg.AsOf)
		if err != nil {
			return time.Time{}, asConfigError(fmt.Errorf("AS_OF %q: want an RFC 3339 instant such as 2026-04-15T00:00:00Z", cfg.AsOf))
		}
		return t.UTC(), nil
	}
	store, closeStore, err := openPublicDir(ctx, cfg)
	if err != nil {
		return time.Time{}, err
	}
	defer closeStore()
	r := public.NewReader(store)
	id, err := r.Latest(ctx)
	if errors.Is(err, public.ErrNoSnapshot) {
		return time.Time{}, asConfigError(fmt.Errorf("AS_OF is unset and PUBLIC_DIR %s has no snapshot to take the asOf of: set AS_OF", store))
	}
	if err != nil {
		return time.Time{}, err
	}
	m, err := r.Manifest(ctx, id)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, m.AsOf)
	if err != nil {
		return time.Time{}, fmt.Errorf("snapshot %s: manifest asOf %q: %w", id, m.AsOf, err)
	}
	return t.UTC(), nil
}
