package main

import (
	"os"
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

// The embedded fixture is read from memory: a run needs no temporary file
// (so a killed run cannot leave one behind), and works without a usable
// TMPDIR.
func TestEmbeddedReferralsNeedNoTempFile(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", notADir)
	rep := mustRun(t, newDirs(t).env(fixtureAsOf))
	if rep.Counts.Referrals != 254 {
		t.Errorf("read %d referrals rows from the embedded fixture, want 254", rep.Counts.Referrals)
	}
}
