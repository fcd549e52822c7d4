package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sources/cycleurl"
	"github.com/refrecon/refrecon/sources/redact"
	"github.com/sethvargo/go-envconfig"
)

// cyclesEnvVar is the variable that names a custom cycle set (SPEC 1.3).
const cyclesEnvVar = "CUSTOM_REFERRAL_PROGRAM_CYCLES"

func init() {
	register(&command{
		name:    "cycles validate",
		summary: "load and validate a cycle set (default: the configured one); print a summary or every error",
		run:     withOSEnv(cyclesValidateCommand),
	})
	register(&command{
		name:    "cycles default",
		summary: "print the built-in default cycle set as JSON",
		run:     cyclesDefaultCommand,
	})
}

// loadCycleSet returns the run's cycle set: the built-in default when
// CUSTOM_REFERRAL_PROGRAM_CYCLES is empty, otherwise the set at that URL.
// Any failure is a configuration error whose one message names the
// variable, the URL without credentials or query string, and every problem
// with its JSON path.
func loadCycleSet(ctx context.Context, cfg *config) (pipeline.CycleSet, error) {
	if cfg.CyclesURL == "" {
		return pipeline.DefaultCycleSet(), nil
	}
	set, err := cycleurl.Load(ctx, cfg.CyclesURL)
	if err != nil {
		// err reads "load cycle set from <redacted URL>: <cause or problems>".
		return pipeline.CycleSet{}, asConfigError(fmt.Errorf("%s: %w", cyclesEnvVar, err))
	}
	return set, nil
}

const cyclesValidateUsage = `Usage: refrecon cycles validate [URL]

Loads the cycle set at URL (an absolute https://, http:// or file:// URL)
and checks it against the rules of SPEC 1.3. Without URL it checks the set
a run would use: the one in CUSTOM_REFERRAL_PROGRAM_CYCLES, or the built-in
default set when that variable is empty.

A valid set prints one line per cycle (id, name, award model, window in UTC
with both ends inclusive, currency, award pool) and its SHA-256. An invalid
one prints every problem with its JSON path, for example
  [1].rules.awardPool.amount: must be a non-negative integer string
Exit status 0 valid, 2 invalid or not loadable.
`

func cyclesValidateCommand(ctx context.Context, args []string, stdout, stderr io.Writer, env envconfig.Lookuper) error {
	fs := flag.NewFlagSet("cycles validate", flag.ContinueOnError)
	done, err := parseFlags(fs, args, -1, cyclesValidateUsage, stdout, stderr)
	if done {
		return err
	}
	rest := fs.Args()
	if len(rest) > 1 {
		return badUsage(fs.Name(), fmt.Sprintf("at most one URL, got %q", rest), cyclesValidateUsage, stderr)
	}
	cfg := &config{}
	if len(rest) == 1 {
		cfg.CyclesURL = rest[0]
		if cfg.CyclesURL == "" {
			return badUsage(fs.Name(), "the URL is empty", cyclesValidateUsage, stderr)
		}
	} else if cfg, err = loadConfig(ctx, env); err != nil {
		return err
	}
	set, err := loadCycleSet(ctx, cfg)
	if err != nil {
		return err
	}
	source := "built-in default set"
	if cfg.CyclesURL != "" {
		source = redact.URL(cfg.CyclesURL)
	}
	return cyclesPrintSummary(stdout, source, set)
}

// cyclesPrintSummary writes one table row per cycle, in document order.
func cyclesPrintSummary(w io.Writer, source string, set pipeline.CycleSet) error {
	var buf bytes.Buffer
	noun := "cycles"
	if len(set.Cycles) == 1 {
		noun = "cycle"
	}
	fmt.Fprintf(&buf, "%s: valid, %d %s, sha256 %s\n\n", source, len(set.Cycles), noun, set.SHA256())
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tMODEL\tWINDOW (UTC, inclusive)\tCURRENCY\tPOOL")
	for _, c := range set.Cycles {
		r := c.Rules
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s .. %s\t%s\t%s\n", c.ID, c.DisplayName, r.AwardModel,
			r.StartTime.UTC().Format(time.RFC3339), r.EndTime.UTC().Format(time.RFC3339),
			r.Currency, pipeline.FormatDecimal(r.Currency, r.AwardPool.Amount))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("format cycle summary: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write cycle summary: %w", err)
	}
	return nil
}

const cyclesDefaultUsage = `Usage: refrecon cycles default

Prints the built-in default cycle set (used when
CUSTOM_REFERRAL_PROGRAM_CYCLES is empty) as indented canonical JSON: a
starting point for a custom set.
`

func cyclesDefaultCommand(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cycles default", flag.ContinueOnError)
	if done, err := parseFlags(fs, args, 0, cyclesDefaultUsage, stdout, stderr); done {
		return err
	}
	canonical, err := pipeline.DefaultCycleSet().MarshalJSON()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, canonical, "", "  "); err != nil {
		return fmt.Errorf("indent default cycle set: %w", err)
	}
	out.WriteByte('\n')
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return fmt.Errorf("write default cycle set: %w", err)
	}
	return nil
}
