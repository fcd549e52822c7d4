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

// A published file truncated, overwritten with other bytes of the same size
// or deleted by hand is not hard-linked into the next snapshot (which must
// match its own manifest), and a re-run of the damaged snapshot's id
// repairs it.
func TestDamagedSnapshotIsNeitherLinkedNorKept(t *testing.T) {
	t.Parallel()
	d := newDirs(t)
	first := inpMustRun(t, d.env(fixtureAsOf))
	dir := filepath.Join(d.Public, "snapshots", first.SnapshotID)
	refs, err := filepath.Glob(filepath.Join(dir, "referrers", "*.json"))
	if err != nil || len(refs) < 3 {
		t.Fatalf("referrer files: %v, %v", refs, err)
	}
	damage := func() {
		t.Helper()
		if err := os.Truncate(refs[0], 3); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(refs[1])
		if err != nil {
			t.Fatal(err)
		}
		for i := range b[:len(b)-1] {
			b[i] = ' ' // same size, other bytes: written in place, so the inode is shared
		}
		if err := os.WriteFile(refs[1], b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(refs[2]); err != nil {
			t.Fatal(err)
		}
	}
	damage()

	inpMustRun(t, d.env("2026-04-16T00:00:00Z"))
	relCheckSnapshot(t, d.Public) // the next night's snapshot matches its manifest

	// The next night's publish linked nothing damaged; now re-run the first
	// night's id itself, with its files damaged again.
	if again := inpMustRun(t, d.env(fixtureAsOf)); again.SnapshotID != first.SnapshotID {
		t.Fatalf("re-run published %s, want %s", again.SnapshotID, first.SnapshotID)
	}
	if id := relCheckSnapshot(t, d.Public); id != first.SnapshotID {
		t.Fatalf("latest.json names %s, want %s", id, first.SnapshotID)
	}
	damage()
	inpMustRun(t, d.env(fixtureAsOf))
	if id := relCheckSnapshot(t, d.Public); id != first.SnapshotID {
		t.Fatalf("latest.json names %s after the repair, want %s", id, first.SnapshotID)
	}
}
