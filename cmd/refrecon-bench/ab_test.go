package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// A trial starts from its template as a previous night left it: the
// published snapshots' files are the template's (hard links), everything
// else is a copy the night may replace or lock without touching the
// template.
func TestCopyOutputsLinksSnapshotsAndCopiesTheRest(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "trial")
	files := map[string]string{
		"public/latest.json":    `{"snapshotId":"20260715T000000Z-0123456789ab","path":"snapshots/20260715T000000Z-0123456789ab/"}`,
		"public/.refrecon.lock": "",
		"public/snapshots/20260715T000000Z-0123456789ab/manifest.json":          `{"snapshotId":"20260715T000000Z-0123456789ab","codeVersion":"abc1234"}`,
		"public/snapshots/20260715T000000Z-0123456789ab/referrers/R1.json":      `{"refcode":"R1"}`,
		"private/report-20260715T000000Z-0123456789ab.xlsx":                     "xlsx",
		"private/synth-2026-01.csv":                                             "csv",
		"warehouse.sqlite":                                                      "db",
		"public/snapshots/20260715T000000Z-0123456789ab/cycles/c/leaderboard/1": "page",
	}
	for rel, data := range files {
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyOutputs(src, dst); err != nil {
		t.Fatal(err)
	}
	for rel, data := range files {
		got, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != data {
			t.Errorf("%s = %q, want %q", rel, got, data)
		}
		a, err := os.Stat(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.Stat(filepath.Join(dst, rel))
		if err != nil {
			t.Fatal(err)
		}
		linked := a.Sys().(*syscall.Stat_t).Ino == b.Sys().(*syscall.Stat_t).Ino
		if want := strings.HasPrefix(rel, "public/snapshots/"); linked != want {
			t.Errorf("%s: linked %v, want %v", rel, linked, want)
		}
	}
	if v, err := codeVersionOf(context.Background(), dst); err != nil || v != "abc1234" {
		t.Errorf("codeVersionOf = %q, %v; want the latest manifest's", v, err)
	}
	if err := copyOutputs(src, dst); err == nil {
		t.Error("copying over an existing trial succeeded")
	}
}

// The B/A ratios are of round k against round k, and their median is
// printed, not the ratio of the medians.
func TestPrintABRatiosArePairwise(t *testing.T) {
	sides := []*abBinary{{label: "A", bin: "a"}, {label: "B", bin: "b"}}
	var b bytes.Buffer
	printAB(&b, 10, sides, map[string][]processResult{
		"A": {{wall: 2, cpu: 4}, {wall: 10, cpu: 10}, {wall: 4, cpu: 8}},
		"B": {{wall: 3, cpu: 2}, {wall: 10, cpu: 10}, {wall: 1, cpu: 4}},
	})
	// Wall pairs 1.5, 1, 0.25: median 1 (the medians' ratio, 3/4, would
	// be 0.75); CPU pairs 0.5, 1, 0.5: median 0.5.
	want := `B / A, median of pairs: wall 1\.000 \(1\.500 1\.000 0\.250\), CPU 0\.500 \(0\.500 1\.000 0\.500\)`
	if !regexp.MustCompile(want).MatchString(b.String()) {
		t.Errorf("A/B table lacks %q:\n%s", want, b.String())
	}
	var r bytes.Buffer
	writeABResult(&r, 10, "B", processResult{wall: 1.5, cpu: 2.25, peakRSS: 4096})
	if got := r.String(); got != "BenchmarkNight/referrals=10/bin=B 1 1500000000 ns/op 2250000000 cpu-ns/op 4096 peak-rss-bytes\n" {
		t.Errorf("result line %q", got)
	}
}
