// Command refrecon reconciles referral rewards: it reads referrals and Stripe
// data, computes each cycle's leaderboard, awards and reward eligibility, and
// publishes a snapshot (public JSON, warehouse tables, finance CSV reports).
//
// main only wires: it calls run under signal.NotifyContext and maps the
// error to an exit status. Every command is a function of (ctx, args,
// stdout, stderr) returning an error: it parses its flags and the
// environment, builds its dependencies, and calls the package that does
// the work (a run: cmd/internal/reconcile).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/sethvargo/go-envconfig"
)

// command is one sub-command. Commands register themselves from their own
// file with register, so adding one never edits this file.
type command struct {
	name    string // "run", "cycles validate", "stripe export"
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// withOSEnv is a command that takes its environment as a Lookuper (so that
// tests can pass a map) run with the process's environment.
func withOSEnv(f func(ctx context.Context, args []string, stdout, stderr io.Writer, env envconfig.Lookuper) error) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return f(ctx, args, stdout, stderr, envconfig.OsLookuper())
	}
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("refrecon: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// commandError is a command's error with the command's name: the one place
// "refrecon NAME:" is added.
type commandError struct {
	name string
	err  error
}

func (e *commandError) Error() string {
	var cfgErr *configError
	if errors.As(e.err, &cfgErr) {
		return "refrecon " + e.name + ": configuration error: " + e.err.Error()
	}
	return "refrecon " + e.name + ": " + e.err.Error()
}

func (e *commandError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitStatus(err, os.Stderr))
}

// run dispatches args to a command. A command's error comes back naming
// the command.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd, rest := lookup(args)
	if cmd == nil {
		if len(args) > 0 && args[0] != "help" && args[0] != "-h" && args[0] != "--help" {
			fmt.Fprintf(stderr, "refrecon: unknown command %q\n\n", strings.Join(args, " "))
			usage(stderr)
			return errUsage
		}
		usage(stdout)
		return nil
	}
	if err := cmd.run(ctx, rest, stdout, stderr); err != nil {
		return &commandError{name: cmd.name, err: err}
	}
	return nil
}

// exitStatus maps a command's error to the process's exit status (SPEC 4)
// and prints it on stderr, once: not after usage (already printed) and not
// when it is in the log already.
func exitStatus(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	code := exitFailed
	ec := classify(err)
	if ec != nil {
		code = ec.exit
	}
	var cfgErr *configError
	if errors.Is(err, errUsage) || errors.As(err, &cfgErr) {
		code = exitConfig
	}
	var reported *reportedError
	if errors.Is(err, errUsage) || errors.As(err, &reported) {
		return code
	}
	fmt.Fprintln(stderr, err)
	if ec != nil {
		fmt.Fprintf(stderr, "  (%s: %s)\n", ec.name, ec.hint)
	}
	return code
}

// parseFlags parses a command's args with fs, whose own output it
// silences: --help prints usage on stdout; a bad flag, or more than maxArgs
// arguments (maxArgs < 0: any number), print the problem and usage on
// stderr. done says the command must return err at once: nil after --help,
// errUsage after a bad command line.
func parseFlags(fs *flag.FlagSet, args []string, maxArgs int, usage string, stdout, stderr io.Writer) (done bool, err error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return true, nil
		}
		return true, badUsage(fs.Name(), err.Error(), usage, stderr)
	}
	if maxArgs >= 0 && fs.NArg() > maxArgs {
		return true, badUsage(fs.Name(), fmt.Sprintf("unexpected arguments %q", fs.Args()), usage, stderr)
	}
	return false, nil
}

// badUsage prints what is wrong with the command line of the command name,
// then its usage, on stderr, and returns errUsage.
func badUsage(name, problem, usage string, stderr io.Writer) error {
	fmt.Fprintf(stderr, "refrecon %s: %s\n\n%s", name, problem, usage)
	return errUsage
}

// lookup finds the longest registered command name that prefixes args.
func lookup(args []string) (*command, []string) {
	for n := min(len(args), 2); n > 0; n-- {
		if c, ok := commands[strings.Join(args[:n], " ")]; ok {
			return c, args[n:]
		}
	}
	return nil, args
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "refrecon reconciles referral rewards against Stripe payments and publishes a snapshot.")
	fmt.Fprintln(w, "\nUsage: refrecon COMMAND [flags]   (every command takes --help)\n\nCommands:")
	for _, n := range slices.Sorted(maps.Keys(commands)) {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nConfiguration comes from the environment; see README.md.")
}
