// Command refrecon reconciles referral rewards: it reads referrals and Stripe
// data, computes each cycle's leaderboard, awards and reward eligibility, and
// publishes a snapshot (public JSON, warehouse tables, finance CSV reports).
//
// main only wires: every command is a function of (ctx, args, stdout,
// stderr) returning an error; the exit status comes from the error's kind.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit statuses (SPEC 4).
const (
	exitOK     = 0
	exitFailed = 1
	exitConfig = 2
)

// command is one sub-command. Commands register themselves from their own
// file with register, so adding one never edits this file.
type command struct {
	name    string // "run", "cycles validate", "stripe export"
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("refrecon: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// configError marks an error as a configuration error: exit status 2.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// asConfigError wraps err as a configuration error (nil stays nil).
func asConfigError(err error) error {
	if err == nil {
		return nil
	}
	return &configError{err: err}
}

// errUsage is returned after usage has been printed for a bad command line.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain dispatches args to a command and maps its error to an exit status.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, rest := lookup(args)
	if cmd == nil {
		if len(args) > 0 && args[0] != "help" && args[0] != "-h" && args[0] != "--help" {
			fmt.Fprintf(stderr, "refrecon: unknown command %q\n\n", joinArgs(args))
			usage(stderr)
			return exitConfig
		}
		usage(stdout)
		return exitOK
	}
	err := cmd.run(ctx, rest, stdout, stderr)
	var cfgErr *configError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		return exitConfig
	case errors.As(err, &cfgErr):
		fmt.Fprintf(stderr, "refrecon %s: configuration error: %v\n", cmd.name, err)
		return exitConfig
	default:
		fmt.Fprintf(stderr, "refrecon %s: %v\n", cmd.name, err)
		return exitFailed
	}
}

// lookup finds the longest registered command name that prefixes args.
func lookup(args []string) (*command, []string) {
	for n := min(len(args), 2); n > 0; n-- {
		if c, ok := commands[joinArgs(args[:n])]; ok {
			return c, args[n:]
		}
	}
	return nil, args
}

func joinArgs(args []string) string {
	s := ""
	for i, a := range args {
		if i > 0 {
			s += " "
		}
		s += a
	}
	return s
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "refrecon reconciles referral rewards against Stripe payments and publishes a snapshot.")
	fmt.Fprintln(w, "\nUsage: refrecon COMMAND [flags]   (every command takes --help)\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nConfiguration comes from the environment; see README.md.")
}
