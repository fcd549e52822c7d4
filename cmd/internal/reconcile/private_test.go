package reconcile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	sqlitewh "github.com/refrecon/refrecon/sinks/sqlite"
	"github.com/refrecon/refrecon/sinks/sqlite/sqlitetest"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
)

// day is the warehouse partition of the fixture runs at 2026-04-15.
var day = civil.Date{Year: 2026, Month: 4, Day: 15}

// privateTree is every file under dir (but the lock file) with its bytes.
func privateTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || e.Name() == localdir.LockFile {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// When the warehouse write fails, every private file (CSV reports, the
// workbook and the HTML report) is as the last successful run left it, and
// no staging directory is left.
func TestFailedWarehouseLeavesPrivateFilesAlone(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var logs bytes.Buffer
	if _, err := reconcile.Run(t.Context(), fixturePlan(t, root, "2026-04-15T00:00:00Z", &logs)); err != nil {
		t.Fatalf("first run: %v\n%s", err, logs.String())
	}
	priv := filepath.Join(root, "private")
	before := privateTree(t, priv)
	if len(before) < 3 {
		t.Fatalf("private files after the first run: %v", keys(before))
	}

	p := fixturePlan(t, root, "2026-04-16T00:00:00Z", &logs)
	p.Warehouse = func(context.Context) (reconcile.Warehouse, error) { return nil, errors.New("warehouse unreachable") }
	if _, err := reconcile.Run(t.Context(), p); err == nil || !strings.Contains(err.Error(), "warehouse unreachable") {
		t.Fatalf("run with a failing warehouse: %v", err)
	}
	after := privateTree(t, priv)
	if !maps.Equal(before, after) {
		t.Errorf("PRIVATE_DIR changed although the run failed:\nbefore %v\nafter  %v", keys(before), keys(after))
	}
	if left := entries(t, priv, ".staging-"); len(left) > 0 {
		t.Errorf("staging directories left: %v", left)
	}
}

// warehouseDay reads day's rows from the SQLite warehouse file at path.
func warehouseDay(t *testing.T, path string, day civil.Date) warehousetest.Day {
	t.Helper()
	d, err := sqlitetest.ReadDay(context.Background(), path, day)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Runs) == 0 {
		t.Fatalf("no warehouse rows of %v", day)
	}
	return d
}

// published is latest.json's bytes under root's public directory.
func published(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "public", "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// firstRun is what a successful run of the fixtures at 2026-04-15 left
// under a new root: the warehouse's day, latest.json and PRIVATE_DIR.
type firstRun struct {
	root, wh, priv string
	day            warehousetest.Day
	latest         string
	private        map[string]string
}

func newFirstRun(t *testing.T, logs *bytes.Buffer) firstRun {
	t.Helper()
	root := t.TempDir()
	if _, err := reconcile.Run(t.Context(), fixturePlan(t, root, "2026-04-15T00:00:00Z", logs)); err != nil {
		t.Fatalf("first run: %v\n%s", err, logs.String())
	}
	f := firstRun{root: root, wh: filepath.Join(root, "warehouse.sqlite"), priv: filepath.Join(root, "private")}
	f.day, f.latest, f.private = warehouseDay(t, f.wh, day), published(t, root), privateTree(t, f.priv)
	return f
}

// unchanged reports whatever a failed run (why) changed of f.
func (f firstRun) unchanged(t *testing.T, why string) {
	t.Helper()
	if diff := warehousetest.Diff(f.day, warehouseDay(t, f.wh, day)); diff != "" {
		t.Errorf("the warehouse's day changed although %s:\n%s", why, diff)
	}
	if got := published(t, f.root); got != f.latest {
		t.Errorf("latest.json replaced although %s: %s", why, got)
	}
	if after := privateTree(t, f.priv); !maps.Equal(f.private, after) {
		t.Errorf("PRIVATE_DIR changed although %s:\nbefore %v\nafter  %v", why, keys(f.private), keys(after))
	}
}

// When the private files cannot all be written, the warehouse's staged
// snapshot is rolled back: the warehouse keeps the day's rows of the last
// successful run (the second run is of the same day, so its staging had
// deleted them in its transaction), and nothing else changes. The private
// files fail after the warehouse was staged (their staging directory is
// replaced by a file, as a full disk or an operator would make them fail), before it
// was staged, and by the run being cancelled after it was staged.
func TestFailedPrivateFilesLeaveWarehouseAlone(t *testing.T) {
	t.Parallel()
	removeStaging := func(t *testing.T, priv string) {
		left := entries(t, priv, ".staging-")
		if len(left) != 1 {
			t.Errorf("staging directories: %v, want 1", left)
		}
		for _, e := range left {
			// A file where the directory was: no writer can create it again.
			if err := os.RemoveAll(filepath.Join(priv, e)); err != nil {
				t.Error(err)
			}
			if err := os.WriteFile(filepath.Join(priv, e), nil, 0o600); err != nil {
				t.Error(err)
			}
		}
	}
	for _, c := range []struct {
		name string
		// fail makes the private files fail: p's hooks, given the run's
		// cancel and PRIVATE_DIR.
		fail func(t *testing.T, p *reconcile.Plan, cancel func())
	}{
		{"after the warehouse is staged", func(t *testing.T, p *reconcile.Plan, _ func()) {
			p.OnWarehouseStaged = func(err error) {
				if err != nil {
					t.Errorf("warehouse staging: %v", err)
				}
				removeStaging(t, p.PrivateDir)
			}
		}},
		{"cancelled after the warehouse is staged", func(t *testing.T, p *reconcile.Plan, cancel func()) {
			p.OnWarehouseStaged = func(err error) {
				if err != nil {
					t.Errorf("warehouse staging: %v", err)
				}
				cancel()
			}
		}},
		{"cancelled before the warehouse is staged", func(t *testing.T, p *reconcile.Plan, cancel func()) {
			p.OnStaged = func(*public.Staged, error) { cancel() }
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			f := newFirstRun(t, &logs)
			root, wh := f.root, f.wh

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			p := fixturePlan(t, root, "2026-04-15T06:00:00Z", &logs)
			c.fail(t, &p, cancel)
			if _, err := reconcile.Run(ctx, p); err == nil {
				t.Fatal("run succeeded")
			}
			f.unchanged(t, "the run failed")
			// The warehouse is usable: a run of the same day replaces the day.
			p = fixturePlan(t, root, "2026-04-15T06:00:00Z", &logs)
			rep, err := reconcile.Run(t.Context(), p)
			if err != nil {
				t.Fatalf("run after the failed one: %v\n%s", err, logs.String())
			}
			if got := warehouseDay(t, wh, day); got.Runs[0].SnapshotID != rep.SnapshotID || len(got.Runs) != 1 {
				t.Errorf("warehouse runs after the next run: %+v, want one of %s", got.Runs, rep.SnapshotID)
			}
		})
	}
}

// stagedHook wraps a warehouse so that its staged snapshot's Commit first
// calls before (and fails, without committing, when before fails).
type stagedHook struct {
	reconcile.Warehouse
	before func() error
}

func (w stagedHook) Stage(ctx context.Context, s warehouse.Snapshot) (warehouse.Staged, error) {
	st, err := w.Warehouse.Stage(ctx, s)
	if err != nil {
		return nil, err
	}
	return hookedStaged{st, w.before}, nil
}

type hookedStaged struct {
	warehouse.Staged
	before func() error
}

func (s hookedStaged) Commit(ctx context.Context) error {
	if err := s.before(); err != nil {
		return err
	}
	return s.Staged.Commit(ctx)
}

// The warehouse is committed after every private file is staged and the
// public snapshot prepared, and before the private files are moved into
// PRIVATE_DIR and latest.json is replaced; a failed commit fails the run
// with neither done.
func TestWarehouseCommitOrder(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail=%v", fail), func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			f := newFirstRun(t, &logs)
			root, wh, priv, latest, privBefore := f.root, f.wh, f.priv, f.latest, f.private

			p := fixturePlan(t, root, "2026-04-15T06:00:00Z", &logs)
			commits := 0
			p.Warehouse = func(context.Context) (reconcile.Warehouse, error) {
				w, err := sqlitewh.Open(wh)
				if err != nil {
					return nil, err
				}
				return stagedHook{w, func() error {
					commits++
					// Every private file is staged, none moved in yet.
					staging := entries(t, priv, ".staging-")
					if len(staging) != 1 {
						t.Errorf("at the warehouse's commit, staging directories %v, want 1", staging)
					} else if staged := privateTree(t, filepath.Join(priv, staging[0])); len(staged) < len(privBefore) {
						t.Errorf("at the warehouse's commit, staged private files %v, want %v", keys(staged), keys(privBefore))
					}
					if now := privateTree(t, priv); len(now) != len(privBefore)+len(privBefore) {
						// the tree holds the old files and the staged copies
						t.Errorf("at the warehouse's commit, PRIVATE_DIR holds %v", keys(now))
					}
					if got := published(t, root); got != latest {
						t.Errorf("latest.json replaced before the warehouse's commit")
					}
					// The public snapshot is prepared: beside the first
					// run's snapshot, the new one (staged or installed).
					if snaps := entries(t, filepath.Join(root, "public", "snapshots"), ""); len(snaps) != 2 {
						t.Errorf("at the warehouse's commit, public snapshots %v, want the first run's and the prepared one", snaps)
					}
					if fail {
						return errors.New("commit refused")
					}
					return nil
				}}, nil
			}
			rep, err := reconcile.Run(t.Context(), p)
			if commits != 1 {
				t.Errorf("warehouse commits: %d, want 1", commits)
			}
			if fail {
				if err == nil || !strings.Contains(err.Error(), "write warehouse: commit refused") {
					t.Fatalf("run with a failing warehouse commit: %v", err)
				}
				f.unchanged(t, "the warehouse's commit failed")
				return
			}
			if err != nil {
				t.Fatalf("run: %v\n%s", err, logs.String())
			}
			if got := warehouseDay(t, wh, day); got.Runs[0].SnapshotID != rep.SnapshotID {
				t.Errorf("warehouse run %s, want %s", got.Runs[0].SnapshotID, rep.SnapshotID)
			}
			if got := published(t, root); got == latest || !strings.Contains(got, rep.SnapshotID) {
				t.Errorf("latest.json %s does not name %s", got, rep.SnapshotID)
			}
		})
	}
}

// Two runs sharing one PRIVATE_DIR (with different PUBLIC_DIRs) never write
// it at once: PRIVATE_DIR has its own lock.
func TestPrivateDirHasItsOwnLock(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var logs bytes.Buffer
	p := fixturePlan(t, root, "2026-04-15T00:00:00Z", &logs)
	unlock, err := localdir.Open(p.PrivateDir).Lock(t.Context(), public.LockRequest{RunID: "other"})
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = reconcile.Run(t.Context(), p)
	if !errors.Is(err, public.ErrLocked) || !strings.Contains(err.Error(), "PRIVATE_DIR "+p.PrivateDir+" is locked") {
		t.Fatalf("run while another holds PRIVATE_DIR: %v, want a locked error naming PRIVATE_DIR", err)
	}
	if _, err := os.Stat(filepath.Join(p.Public.String(), "latest.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("published while PRIVATE_DIR was locked (err %v)", err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
