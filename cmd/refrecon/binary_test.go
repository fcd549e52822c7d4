package main

import (
	"os"
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

// binaryCommand is the built binary run with args and an environment of
// only PATH, TMPDIR=tmp and env: tmp is where a killed run leaves its
// temporary files (its fixture copy), for the test to clean up.
func binaryCommand(bin, tmp string, env map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + tmp}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}
