package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The next night's run links the referrer files that did not change to the
// previous snapshot's, and its snapshot is the one a run into an empty
// public directory publishes.
func TestNextNightLinksUnchangedFiles(t *testing.T) {
	t.Parallel()
	d, cold := newDirs(t), newDirs(t)
	mustRun(t, d.env(fixtureAsOf))
	const next = "2026-04-16T00:00:00Z"
	rep := mustRun(t, d.env(next))
	mustRun(t, cold.env(next))
	snap := "snapshots/" + rep.SnapshotID + "/"
	got, want := readTree(t, d.Public), readTree(t, cold.Public)
	for p, b := range want {
		if g, ok := got[p]; !ok || string(g) != string(b) {
			t.Errorf("%s differs from a run into an empty directory", p)
		}
	}
	prevID := ""
	for p := range got {
		if strings.HasPrefix(p, "snapshots/") && !strings.HasPrefix(p, snap) {
			prevID = strings.Split(p, "/")[1]
			break
		}
	}
	linked := 0
	for p := range want {
		rel, ok := strings.CutPrefix(p, snap)
		if !ok || !strings.HasPrefix(rel, "referrers/") {
			continue
		}
		a, err1 := os.Stat(filepath.Join(d.Public, "snapshots", prevID, rel))
		b, err2 := os.Stat(filepath.Join(d.Public, filepath.FromSlash(p)))
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			linked++
		}
	}
	if linked == 0 {
		t.Error("no referrer file of the second night is a link to the first night's")
	}
}
