// Command gendts writes sinks/public/schema/refrecon.d.ts from the JSON
// Schemas (go generate ./sinks/public/schema). TestDeclarationsUpToDate
// fails when the checked-in file differs from what this writes.
package main

import (
	"fmt"
	"os"

	"github.com/refrecon/refrecon/sinks/public/schema"
)

func main() {
	b, err := schema.TypeScript()
	if err == nil {
		err = os.WriteFile(schema.DeclarationsFile, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendts:", err)
		os.Exit(1)
	}
}
