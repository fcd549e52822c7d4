package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/refrecon/refrecon/sinks/public/schema"
)

func init() {
	register(&command{
		name:    "schema",
		summary: "print the JSON Schema of a public document, or the TypeScript declarations",
		run:     schemaCommand,
	})
}

const schemaUsage = `Usage: refrecon schema [NAME]

The contract of the public snapshot (SPEC 3.1) for the frontend: JSON
Schemas (draft 2020-12) of every public document, embedded in the binary.

Without NAME it lists the names. NAME is one of
  latest       latest.json
  manifest     snapshots/<id>/manifest.json
  cycles       snapshots/<id>/cycles.json
  leaderboard  snapshots/<id>/cycles/<cycle>/leaderboard/<page>.json
  referrer     snapshots/<id>/referrers/<name>.json
  common       the definitions the others refer to (money, status, ...)
  typescript   the TypeScript declarations generated from the schemas
               (sinks/public/schema/refrecon.d.ts)
The schemas refer to each other by their $id; save them side by side
(<name>.schema.json) to resolve the references offline.
`

func schemaCommand(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	done, err := parseFlags(fs, args, -1, schemaUsage, stdout, stderr)
	if done {
		return err
	}
	rest := fs.Args()
	switch {
	case len(rest) == 0:
		for _, n := range schema.Names() {
			fmt.Fprintf(stdout, "%s\t%s.schema.json\n", n, n)
		}
		fmt.Fprintf(stdout, "typescript\t%s\n", schema.DeclarationsFile)
		return nil
	case len(rest) > 1:
		return badUsage(fs.Name(), fmt.Sprintf("at most one NAME, got %q", rest), schemaUsage, stderr)
	}
	var b []byte
	if rest[0] == "typescript" {
		b, err = schema.TypeScript()
	} else {
		b, err = schema.Source(rest[0])
	}
	if err != nil {
		return asConfigError(err)
	}
	_, err = stdout.Write(b)
	return err
}
