package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sinks/publicjson"
)

// A private stage that fails after the public snapshot was staged aborts
// it: no new snapshot directory, no temporary directory, latest.json and
// the previous snapshot as they were. Not parallel: it sets a hook.
func TestFailedPrivateAbortsStagedPublish(t *testing.T) {
	d := newDirs(t)
	first := mustRun(t, d.env(fixtureAsOf))
	before := readTree(t, d.Public)

	blocked := filepath.Join(d.Root, "private-is-a-file")
	if err := os.WriteFile(blocked, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var staged []string
	testHookStaged = func(s *publicjson.Staged, err error) {
		if err != nil || s == nil {
			t.Errorf("Prepare: %v", err)
			return
		}
		ents, err := os.ReadDir(filepath.Join(d.Public, "snapshots"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				staged = append(staged, e.Name())
			}
		}
	}
	defer func() { testHookStaged = nil }()
	rep, err := runEnv(t, d.env("2026-04-16T00:00:00Z", "PRIVATE_DIR", blocked))
	if err == nil {
		t.Fatal("the run succeeded with PRIVATE_DIR a file")
	}
	if !strings.Contains(err.Error(), "finance reports") {
		t.Errorf("error %v: want the private stage's", err)
	}
	if len(staged) != 1 {
		t.Fatalf("staged directories while the private outputs were written: %v, want one", staged)
	}
	if rep == nil || rep.SnapshotID == "" || rep.SnapshotID == first.SnapshotID {
		t.Fatalf("report %+v: want the new snapshot id", rep)
	}
	if _, err := os.Stat(filepath.Join(d.Public, "snapshots", rep.SnapshotID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("snapshots/%s exists after the failed run (err %v)", rep.SnapshotID, err)
	}
	noTempLeft(t, d.Public)
	if diff := diffTrees(before, readTree(t, d.Public)); diff != "" {
		t.Errorf("a failed run changed the public tree:\n%s", diff)
	}
}

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
