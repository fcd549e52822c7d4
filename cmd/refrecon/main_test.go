package main

import (
	"context"
	"io"
)

// runMain is what main does, for tests: run the command line and map its
// error to the exit status, printing it on stderr as main does.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return exitStatus(run(ctx, args, stdout, stderr), stderr)
}
