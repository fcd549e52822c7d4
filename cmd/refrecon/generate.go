package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/refrecon/refrecon/fixtures/synth"
)

func init() {
	register(&command{
		name:    "generate",
		summary: "write a synthetic dataset (SQLite referrals, Stripe NDJSON, cycle set) of any size",
		run:     generateCommand,
	})
}

const generateUsage = `Usage: refrecon generate --out DIR [--referrals N] [--seed S] [--full]

Writes a synthetic dataset for benchmarks and load tests into DIR:

  DIR/referrals.sqlite   referrals database (D1 schema): N referrals rows, N/5 referrers
  DIR/stripe.ndjson      Stripe export (API 2023-10-16 objects, one per line)
  DIR/cycles.json        twelve monthly cycles, July 2025 to June 2026, both award models

The data is a deterministic function of N and S: the same flags give the
same bytes. About 70% of referees are Stripe customers with about three
invoices each; a small share of rows is malformed or duplicated on purpose.
Existing files of those names are replaced. Use them with
REFERRALS_SOURCE=sqlite:DIR/referrals.sqlite STRIPE_SOURCE=file:DIR/stripe.ndjson
CUSTOM_REFERRAL_PROGRAM_CYCLES=file://DIR/cycles.json (DIR absolute).

Flags:
  --out DIR         output directory, created when missing (required)
  --referrals N     number of referrals rows, 1..100000000 (default 100000)
  --seed S          random seed, an unsigned integer (default 1)
  --full            write customers and invoices with every field the
                    fixtures have (about 3x larger) instead of only the
                    fields refrecon reads
`

func generateCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	out := fs.String("out", "", "")
	n := fs.Int("referrals", 100000, "")
	seed := fs.Uint64("seed", 1, "")
	full := fs.Bool("full", false, "")
	if done, err := parseFlags(fs, args, 0, generateUsage, stdout, stderr); done {
		return err
	}
	switch {
	case *out == "":
		return badUsage(fs.Name(), "--out DIR is required", generateUsage, stderr)
	case *n < 1 || *n > synth.MaxReferrals:
		return badUsage(fs.Name(), fmt.Sprintf("--referrals must be 1..%d, got %d", synth.MaxReferrals, *n), generateUsage, stderr)
	}

	start := time.Now() // reporting only; the data never depends on the clock
	st, err := synth.Generate(ctx, synth.Config{Dir: *out, Referrals: *n, Seed: *seed, FullObjects: *full})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d users, %d referrals\n", filepath.Join(*out, synth.FileReferrals), st.Users, st.Referrals)
	fmt.Fprintf(stdout, "wrote %s: %d customers, %d subscriptions, %d invoices, %d refunds, %d disputes, %d credit notes\n",
		filepath.Join(*out, synth.FileStripe), st.Customers, st.Subscriptions, st.Invoices, st.Refunds, st.Disputes, st.CreditNotes)
	fmt.Fprintf(stdout, "wrote %s: %d cycles\n", filepath.Join(*out, synth.FileCycles), st.Cycles)
	fmt.Fprintf(stdout, "seed %d, %.1f seconds\n", *seed, time.Since(start).Seconds())
	return nil
}
