package main

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// buildBinary builds the refrecon binary into a new temporary directory
// and returns its path and the directory; under -short it skips the test,
// saying why (what the test does with the binary).
func buildBinary(t *testing.T, why string) (bin, tmp string) {
	t.Helper()
	if testing.Short() {
		t.Skip(why)
	}
	tmp = t.TempDir()
	bin = filepath.Join(tmp, "refrecon")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin, tmp
}
