package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sinks/sqlite"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
)

// The warehouse holds emails: a new file, and the journal files SQLite
// makes next to it (with the same mode), are readable by the owner only.
func TestNewFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wh", "warehouse.sqlite")
	w, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSnapshot(context.Background(), warehousetest.Sample(day, "20260415T000000Z-aaaaaaaaaaaa").Snapshot()); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "warehouse.sqlite") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", e.Name(), m)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
