package main

// Whole runs against inputs an adversarial user would try (issue #14):
// file inputs that are not regular files, and the like. Helpers are
// prefixed inp*.

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// inpFIFO makes a named pipe that nobody writes to: an ordinary open of it
// for reading blocks forever, ignoring RUN_TIMEOUT and SIGTERM.
func inpFIFO(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	return p
}

// Every file input refuses a named pipe and a device before opening it: the
// run ends with a message naming the variable's path and what it is, and
// nothing is published.
func TestInputsThatAreNotRegularFiles(t *testing.T) {
	for _, tc := range []struct {
		name     string
		variable string
		value    func(path string) string
		code     int
	}{
		{"cycle set", "CUSTOM_REFERRAL_PROGRAM_CYCLES", func(p string) string { return "file://" + p }, exitConfig},
		{"sqlite referrals", "REFERRALS_SOURCE", func(p string) string { return "sqlite:" + p }, exitFailed},
		{"d1dump referrals", "REFERRALS_SOURCE", func(p string) string { return "d1dump:" + p }, exitFailed},
		{"stripe export", "STRIPE_SOURCE", func(p string) string { return "file:" + p }, exitFailed},
	} {
		for what, path := range map[string]string{"named pipe": inpFIFO(t), "character device": "/dev/zero"} {
			t.Run(tc.name+"/"+what, func(t *testing.T) {
				d := newDirs(t)
				code, stdout, stderr := runMainEnv(t, d.env(fixtureAsOf, tc.variable, tc.value(path)), "run")
				if code != tc.code {
					t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
				}
				if !strings.Contains(stderr, path) || !strings.Contains(stderr, "not a regular file: it is a "+what) {
					t.Errorf("stderr does not name %s as a %s:\n%s", path, what, stderr)
				}
				mustNotExist(t, filepath.Join(d.Public, "latest.json"), filepath.Join(d.Public, "snapshots"), d.Private)
			})
		}
	}
}
