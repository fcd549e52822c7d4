package schema_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sinks/public/schema"
)

// TestDeclarationsUpToDate is the gate that keeps refrecon.d.ts and the
// schemas from drifting: the checked-in file is exactly what the generator
// makes of the schemas. After changing a schema, run
// go generate ./sinks/public/schema.
func TestDeclarationsUpToDate(t *testing.T) {
	want, err := schema.TypeScript()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(schema.DeclarationsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the schemas generate; run: go generate ./sinks/public/schema", schema.DeclarationsFile)
	}
	for _, name := range []string{"Latest", "Manifest", "Cycles", "LeaderboardPage", "Referrer", "Money", "Status", "Rules"} {
		if !bytes.Contains(want, []byte("export interface "+name+" ")) && !bytes.Contains(want, []byte("export type "+name+" = ")) {
			t.Errorf("declarations lack %s", name)
		}
	}
}

// tscPath finds a TypeScript compiler: $TSC, or tsc on PATH.
func tscPath() string {
	if p := os.Getenv("TSC"); p != "" {
		return p
	}
	p, _ := exec.LookPath("tsc")
	return p
}

// TestDeclarationsTypeCheckDocuments compiles refrecon.d.ts with tsc
// --strict and type-checks every golden public document against its type
// (each as an object literal, so TypeScript's excess-property check rejects
// a field the declarations do not have). It needs a TypeScript compiler
// (npm install typescript; TSC=path/to/tsc or tsc on PATH) and skips
// without one, except under CI=true (as every test that needs a tool) or
// REFRECON_REQUIRE_TSC=1, where that is a failure.
// The Go drift test above is the gate; this one checks that the generated
// TypeScript means what the schemas mean.
func TestDeclarationsTypeCheckDocuments(t *testing.T) {
	tsc := tscPath()
	if tsc == "" {
		if os.Getenv("CI") == "true" || os.Getenv("REFRECON_REQUIRE_TSC") == "1" {
			t.Fatal("no TypeScript compiler (CI=true or REFRECON_REQUIRE_TSC=1: this test must run; .ci/run installs it): set TSC or put tsc on PATH")
		}
		t.Skip("no TypeScript compiler (set TSC=path/to/tsc or put tsc on PATH; CI=true or REFRECON_REQUIRE_TSC=1 makes this a failure)")
	}
	dir := t.TempDir()
	decl, err := os.ReadFile(schema.DeclarationsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "refrecon.d.ts"), decl, 0o644); err != nil {
		t.Fatal(err)
	}
	typeOf := map[schema.Kind]string{
		schema.Latest: "Latest", schema.Manifest: "Manifest", schema.Cycles: "Cycles",
		schema.Leaderboard: "LeaderboardPage", schema.Referrer: "Referrer",
	}
	var src strings.Builder
	src.WriteString("import type { Latest, Manifest, Cycles, LeaderboardPage, Referrer } from \"./refrecon\";\n")
	n := 0
	for _, tree := range goldenTrees(t) {
		fsys := os.DirFS(tree)
		var paths []string
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				paths = append(paths, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(paths)
		for _, p := range paths {
			kind := schema.Latest
			if p != "latest.json" {
				_, rel, _ := strings.Cut(strings.TrimPrefix(p, "snapshots/"), "/")
				if kind, err = schema.KindOf(rel); err != nil {
					t.Fatal(err)
				}
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&src, "// %s\nexport const doc%d: %s = %s;\n", filepath.Join(filepath.Base(filepath.Dir(tree)), p), n, typeOf[kind], bytes.TrimSpace(b))
			n++
		}
	}
	// A document with a field the declarations lack must fail to compile,
	// or the check above proves nothing.
	bad := filepath.Join(dir, "bad.ts")
	if err := os.WriteFile(bad, []byte("import type { Latest } from \"./refrecon\";\nexport const x: Latest = {\"snapshotId\": \"s\", \"path\": \"p\", \"extra\": 1};\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "documents.ts")
	if err := os.WriteFile(good, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(file string) ([]byte, error) {
		cmd := exec.Command(tsc, "--strict", "--noEmit", "--target", "es2020", "--moduleResolution", "node", file)
		cmd.Dir = dir
		return cmd.CombinedOutput()
	}
	if out, err := run(good); err != nil {
		t.Fatalf("tsc rejected the golden documents (%d of them): %v\n%s", n, err, out)
	}
	if out, err := run(bad); err == nil {
		t.Fatalf("tsc accepted a document with an extra field:\n%s", out)
	} else if !strings.Contains(string(out), "extra") {
		t.Fatalf("tsc failed for another reason than the extra field: %s", out)
	}
	t.Logf("tsc type-checked %d golden documents against %s", n, schema.DeclarationsFile)
}
