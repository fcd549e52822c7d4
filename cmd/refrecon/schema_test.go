package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sinks/public/schema"
)

func TestSchemaCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runMain(t.Context(), []string{"schema"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, n := range append(schema.Names(), "typescript") {
		if !strings.Contains(out.String(), n+"\t") {
			t.Errorf("list lacks %s:\n%s", n, out.String())
		}
	}
	for _, n := range schema.Names() {
		out.Reset()
		if code := runMain(t.Context(), []string{"schema", n}, &out, &errOut); code != exitOK {
			t.Fatalf("schema %s: exit %d: %s", n, code, errOut.String())
		}
		want, _ := schema.Source(n)
		if !bytes.Equal(out.Bytes(), want) || !json.Valid(out.Bytes()) {
			t.Errorf("schema %s printed something else than its embedded schema", n)
		}
	}
	out.Reset()
	if code := runMain(t.Context(), []string{"schema", "typescript"}, &out, &errOut); code != exitOK {
		t.Fatalf("schema typescript: exit %d", code)
	}
	want, err := os.ReadFile("../../sinks/public/schema/" + schema.DeclarationsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Error("schema typescript differs from the checked-in declarations")
	}
	errOut.Reset()
	if code := runMain(t.Context(), []string{"schema", "nope"}, &out, &errOut); code != exitConfig || !strings.Contains(errOut.String(), `no schema named "nope"`) {
		t.Errorf("unknown name: exit %d, %q", code, errOut.String())
	}
}

// validatePublic checks every file under a PUBLIC_DIR that a run wrote
// against the public contract (sinks/public/schema). The run helpers of
// the end-to-end tests call it after every successful run, so fixtures,
// custom cycle sets, generated and hostile data are all checked.
func validatePublic(t *testing.T, env map[string]string) {
	t.Helper()
	dir := env["PUBLIC_DIR"]
	if dir == "" {
		return
	}
	if _, err := os.Stat(filepath.Join(dir, "latest.json")); err != nil {
		return // nothing published ("run --help"); the tests of publishing check that a run publishes
	}
	if err := schema.ValidateSnapshot(os.DirFS(dir)); err != nil {
		t.Error(err)
	}
}
