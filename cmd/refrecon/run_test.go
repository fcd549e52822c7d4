package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// RUN_TIMEOUT bounds `refrecon run` too: a run that outlives it fails with
// exit 1 and publishes nothing.
func TestRunTimeoutFailsTheRun(t *testing.T) {
	d := newDirs(t)
	code, _, stderr := runMainEnv(t, d.env(fixtureAsOf, "RUN_TIMEOUT", "1ns", "LOG_LEVEL", "error"), "run")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFailed, stderr)
	}
	if !strings.Contains(stderr, "deadline exceeded") {
		t.Errorf("stderr does not say the deadline passed:\n%s", stderr)
	}
	mustNotExist(t, filepath.Join(d.Public, "latest.json"))
}

func TestRunTimeoutMustBePositive(t *testing.T) {
	d := newDirs(t)
	code, _, stderr := runMainEnv(t, d.env(fixtureAsOf, "RUN_TIMEOUT", "0s"), "run")
	if code != exitConfig || !strings.Contains(stderr, "RUN_TIMEOUT") {
		t.Fatalf("exit %d, want %d naming RUN_TIMEOUT; stderr:\n%s", code, exitConfig, stderr)
	}
	mustNotExist(t, d.Public, d.Private, d.Warehouse)
}
