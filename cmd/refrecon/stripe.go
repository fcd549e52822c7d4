package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/fixtures"
	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	stripeapi "github.com/refrecon/refrecon/sources/stripe/api"
	stripeexport "github.com/refrecon/refrecon/sources/stripe/export"
	"github.com/rs/zerolog"
	"github.com/sethvargo/go-envconfig"
)

func init() {
	register(&command{
		name:    "stripe export",
		summary: "write the live Stripe data as an NDJSON export, for offline replay",
		run:     withOSEnv(stripeExportCommand),
	})
}

const stripeExportUsage = `Usage: refrecon stripe export --out FILE

Lists the Stripe account through the API (customers, subscriptions of every
status, invoices, refunds, disputes, credit notes) and writes it to FILE in
the export format: one Stripe API object per line (API version 2023-10-16),
customers, then subscriptions, invoices, refunds, disputes and credit notes,
each sorted by id. A run with
STRIPE_SOURCE=file:FILE then reads exactly what STRIPE_SOURCE=api would have.

FILE is written as FILE.tmp, synced, then renamed over FILE, so FILE is
either the old file or the complete new one. It is created with mode 0600:
it holds customer emails.

Needs STRIPE_SECRET_KEY (a restricted read-only key is enough: customers,
subscriptions, invoices, refunds, disputes, credit notes). STRIPE_API_BASE and STRIPE_RATE_LIMIT
(requests per second, default 20) as for "refrecon run"; STRIPE_SOURCE is
ignored. Exit status 0 done, 1 failed (FILE untouched), 2 configuration error.

Flags:
  --out FILE   where to write the export (required)
`

func stripeExportCommand(ctx context.Context, args []string, stdout, stderr io.Writer, env envconfig.Lookuper) error {
	fs := flag.NewFlagSet("stripe export", flag.ContinueOnError)
	out := fs.String("out", "", "")
	if done, err := parseFlags(fs, args, 0, stripeExportUsage, stdout, stderr); done {
		return err
	}
	if *out == "" {
		return badUsage(fs.Name(), "--out FILE is required", stripeExportUsage, stderr)
	}
	cfg, log, err := loadEnv(ctx, env, stderr)
	if err != nil {
		return err
	}
	src, err := newStripeAPISource(cfg, log)
	if err != nil {
		return err
	}
	n, err := writeStripeExport(ctx, src, *out)
	if err != nil {
		return err
	}
	log.Info().Str("file", *out).Int("objects", n).Msg("stripe export written")
	fmt.Fprintf(stdout, "wrote %d Stripe objects to %s\n", n, *out)
	return nil
}

// writeStripeExport lists the account and replaces path with the export,
// atomically: path.tmp is written and synced, renamed over path, and the
// directory synced. On failure path is untouched and path.tmp removed.
func writeStripeExport(ctx context.Context, src *stripeapi.Source, path string) (n int, err error) {
	tmp := path + ".tmp"
	// A new file, never one opened through a symlink or left by someone
	// else (createNew).
	f, err := createNew(tmp, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := stripeexport.NewWriter(f)
	if err := src.Export(ctx, w); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, err
	}
	if err := localdir.SyncDir(filepath.Dir(path)); err != nil {
		return w.Count(), fmt.Errorf("syncing the directory of %s: %w", path, err)
	}
	return w.Count(), nil
}

// newStripeSource builds the Stripe source STRIPE_SOURCE names: "" the
// embedded fixture, "file:PATH" an export file, "api" the live API. Every
// problem it finds is a configuration error; it reads nothing.
func newStripeSource(cfg *config, log zerolog.Logger) (reconcile.StripeSource, error) {
	switch s := cfg.StripeSource; {
	case s == "" || s == pipeline.SourceFixture:
		return embeddedStripe{}, nil
	case strings.HasPrefix(s, "file:"):
		path := strings.TrimPrefix(s, "file:")
		if path == "" {
			return nil, asConfigError(errors.New(`STRIPE_SOURCE "file:": the path of an export file is missing`))
		}
		return stripeexport.NewFile(path), nil
	case s == "api":
		return newStripeAPISource(cfg, log)
	default:
		return nil, asConfigError(fmt.Errorf("STRIPE_SOURCE %q: want file:PATH or api (unset: the embedded fixture)", s))
	}
}

// newStripeAPISource builds the live Stripe source from STRIPE_SECRET_KEY,
// STRIPE_API_BASE and STRIPE_RATE_LIMIT.
func newStripeAPISource(cfg *config, log zerolog.Logger) (*stripeapi.Source, error) {
	if cfg.StripeSecretKey == "" {
		return nil, asConfigError(errors.New("STRIPE_SECRET_KEY is not set; the Stripe API needs it"))
	}
	if err := checkStripeRateLimit(cfg); err != nil {
		return nil, asConfigError(err)
	}
	sc := stripeapi.Config{
		SecretKey: cfg.StripeSecretKey,
		BaseURL:   cfg.StripeAPIBase,
		RateLimit: cfg.StripeRateLimit,
		Logger:    log.With().Str("source", "stripe").Logger(),
	}
	testRetryOverride.apply(&sc.Retry, &sc.HTTPClient)
	src, err := stripeapi.New(sc)
	if err != nil {
		return nil, asConfigError(fmt.Errorf("STRIPE_SECRET_KEY / STRIPE_API_BASE: %w", err))
	}
	return src, nil
}

// checkStripeRateLimit refuses a STRIPE_RATE_LIMIT that is not a finite
// number of requests per second greater than 0 (the source's and the
// settlement's Stripe clients).
func checkStripeRateLimit(cfg *config) error {
	if !(cfg.StripeRateLimit > 0) || math.IsInf(cfg.StripeRateLimit, 0) {
		return fmt.Errorf("STRIPE_RATE_LIMIT %v: want a number of requests per second greater than 0", cfg.StripeRateLimit)
	}
	return nil
}

// embeddedStripe is the Stripe export shipped in fixtures.
type embeddedStripe struct{}

func (embeddedStripe) ReadStripe(ctx context.Context) (pipeline.Stripe, error) {
	return stripeexport.Read(ctx, bytes.NewReader(fixtures.StripeNDJSON))
}
