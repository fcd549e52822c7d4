package privatefile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestCommitReplacesOlderReportsAbortKeepsThem(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"report-1.xlsx", "report-1.html", "cycle-1.csv"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Create(dir, "report-2.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("half")
	f.Abort()
	f.Abort() // idempotent
	if got, want := names(t, dir), []string{"cycle-1.csv", "report-1.html", "report-1.xlsx"}; !slices.Equal(got, want) {
		t.Fatalf("after abort: %v, want %v", got, want)
	}

	f, err = Create(dir, "report-2.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("new"); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort() // no-op after commit
	if got, want := names(t, dir), []string{"cycle-1.csv", "report-1.html", "report-1.xlsx", "report-2.xlsx"}; !slices.Equal(got, want) {
		t.Fatalf("after commit: %v, want %v", got, want)
	}
	if err := RemoveOthers(dir, "report-", ".xlsx", "report-2.xlsx"); err != nil {
		t.Fatal(err)
	}
	if got, want := names(t, dir), []string{"cycle-1.csv", "report-1.html", "report-2.xlsx"}; !slices.Equal(got, want) {
		t.Fatalf("after RemoveOthers: %v, want %v", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "report-2.xlsx")); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
	if err := f.Commit(); err == nil {
		t.Fatal("second commit succeeded")
	}
}

func TestCreateRemovesStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".report-0.xlsx.tmp-0123456789ab")
	other := filepath.Join(dir, ".report-0.html.tmp-0123456789ab")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Create(dir, "report-1.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("temporary file of another kind removed: %v", err)
	}
}
