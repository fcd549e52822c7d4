package reconcile_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/cmd/internal/reconcile"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	sqlitewh "github.com/refrecon/refrecon/sinks/sqlite"
)

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

// When the private files cannot all be written, the warehouse is not
// written at all (its last successful snapshot stays the one it holds).
func TestFailedPrivateFilesLeaveWarehouseAlone(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var logs bytes.Buffer
	if _, err := reconcile.Run(t.Context(), fixturePlan(t, root, "2026-04-15T00:00:00Z", &logs)); err != nil {
		t.Fatalf("first run: %v\n%s", err, logs.String())
	}
	wh := filepath.Join(root, "warehouse.sqlite")
	before, err := os.ReadFile(wh)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	p := fixturePlan(t, root, "2026-04-16T00:00:00Z", &logs)
	opened := false
	p.Warehouse = func(context.Context) (reconcile.Warehouse, error) { opened = true; return sqlitewh.Open(wh) }
	// The private files fail the way a full disk fails them: after the
	// public snapshot is staged, every write of them errors.
	p.OnStaged = func(*public.Staged, error) { cancel() }
	if _, err := reconcile.Run(ctx, p); err == nil {
		t.Fatal("run succeeded")
	}
	if opened {
		t.Error("the warehouse was opened although the private files failed")
	}
	if after, _ := os.ReadFile(wh); !bytes.Equal(before, after) {
		t.Error("the warehouse file changed although the run failed")
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
