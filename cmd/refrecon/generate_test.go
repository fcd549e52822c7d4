package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/fixtures/synth"
)

func TestGenerateCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var stdout, stderr bytes.Buffer
	code := runMain(context.Background(), []string{"generate", "--out", dir, "--referrals", "500", "--seed", "42"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	for _, f := range []string{synth.FileReferrals, synth.FileStripe, synth.FileCycles} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, want := range []string{"100 users, 500 referrals", "customers", "12 cycles", "seed 42"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}

	// Same flags, same bytes.
	dir2 := filepath.Join(t.TempDir(), "data")
	if code := runMain(context.Background(), []string{"generate", "--out", dir2, "--referrals", "500", "--seed", "42"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	a, _ := os.ReadFile(filepath.Join(dir, synth.FileStripe))
	b, _ := os.ReadFile(filepath.Join(dir2, synth.FileStripe))
	if !bytes.Equal(a, b) {
		t.Error("two runs with the same flags wrote different exports")
	}
}

func TestGenerateCommandFlags(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := runMain(context.Background(), []string{"generate", "--help"}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "Usage: refrecon generate") {
		t.Errorf("--help: exit %d, stdout %q", code, stdout.String())
	}
	for _, args := range [][]string{
		{"generate"},
		{"generate", "--out", dir, "--referrals", "0"},
		{"generate", "--out", dir, "--referrals", "-3"},
		{"generate", "--out", dir, "--referrals", "many"},
		{"generate", "--out", dir, "--seed", "-1"},
		{"generate", "--out", dir, "--bogus"},
		{"generate", "--out", dir, "extra"},
	} {
		stderr.Reset()
		if code := runMain(context.Background(), args, &stdout, &stderr); code != exitConfig {
			t.Errorf("%q: exit %d, want %d", args, code, exitConfig)
		}
		if !strings.Contains(stderr.String(), "Usage: refrecon generate") {
			t.Errorf("%q: stderr lacks usage: %q", args, stderr.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("bad flags wrote files: %v", entries)
	}
}
