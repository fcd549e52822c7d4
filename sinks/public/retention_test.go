package public_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
)

// publicDir makes dir/snapshots/<name>/manifest.json for each name and, when
// latest is not "", dir/latest.json pointing to it.
func publicDir(t *testing.T, latest string, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		p := filepath.Join(dir, "snapshots", n)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "manifest.json"), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if latest != "" {
		body := `{"snapshotId": "` + latest + `", "path": "snapshots/` + latest + `/"}`
		if err := os.WriteFile(filepath.Join(dir, "latest.json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func remaining(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

const (
	pid1 = "20260401T040000Z-aaaaaaaaaaaa"
	pid2 = "20260402T040000Z-0123456789ab"
	pid3 = "20260403T040000Z-ffffffffffff"
	pid4 = "20260404T040000Z-000000000000" // same asOf as pid5: ordered by hash
	pid5 = "20260404T040000Z-00000000000f"
)

func TestPruneKeepsNewestAndServed(t *testing.T) {
	// latest.json points to an old snapshot (e.g. a back-filled AS_OF run):
	// it stays, in addition to the newest two.
	dir := publicDir(t, pid2, pid3, pid1, pid5, pid2, pid4, ".tmp-123", "not-a-snapshot")
	removed, err := public.Prune(context.Background(), localdir.Open(dir), public.Retention{Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{pid1, pid3}; !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	if got, want := remaining(t, dir), []string{".tmp-123", pid2, pid4, pid5, "not-a-snapshot"}; !reflect.DeepEqual(got, want) {
		t.Errorf("remaining %v, want %v", got, want)
	}
	// Idempotent.
	if removed, err := public.Prune(context.Background(), localdir.Open(dir), public.Retention{Keep: 2}); err != nil || len(removed) != 0 {
		t.Errorf("second Prune removed %v, %v", removed, err)
	}
}

func TestPruneWithoutLatest(t *testing.T) {
	dir := publicDir(t, "", pid1, pid2, pid3)
	removed, err := public.Prune(context.Background(), localdir.Open(dir), public.Retention{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{pid1, pid2}; !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	if got := remaining(t, dir); !reflect.DeepEqual(got, []string{pid3}) {
		t.Errorf("remaining %v", got)
	}
}

func TestPruneKeepZeroKeepsAll(t *testing.T) {
	dir := publicDir(t, pid3, pid1, pid2, pid3)
	if removed, err := public.Prune(context.Background(), localdir.Open(dir), public.Retention{Keep: 0}); err != nil || len(removed) != 0 {
		t.Fatalf("Prune(0) removed %v, %v", removed, err)
	}
	if got := remaining(t, dir); len(got) != 3 {
		t.Errorf("remaining %v", got)
	}
}

func TestPruneNothingPublished(t *testing.T) {
	if removed, err := public.Prune(context.Background(), localdir.Open(filepath.Join(t.TempDir(), "none")), public.Retention{Keep: 3}); err != nil || removed != nil {
		t.Fatalf("got %v, %v", removed, err)
	}
}

func TestPruneRefuses(t *testing.T) {
	for name, latest := range map[string]string{
		"not json":        `{"snapshotId": `,
		"not an id":       `{"snapshotId": "../../etc", "path": "snapshots/../../etc/"}`,
		"path mismatch":   `{"snapshotId": "` + pid1 + `", "path": "snapshots/` + pid2 + `/"}`,
		"no id, no path":  `{}`,
		"latest is array": `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := publicDir(t, "", pid1, pid2, pid3)
			if err := os.WriteFile(filepath.Join(dir, "latest.json"), []byte(latest), 0o644); err != nil {
				t.Fatal(err)
			}
			if removed, err := public.Prune(context.Background(), localdir.Open(dir), public.Retention{Keep: 1}); err == nil || removed != nil {
				t.Fatalf("got %v, %v; want an error and nothing removed", removed, err)
			}
			if got := remaining(t, dir); len(got) != 3 {
				t.Errorf("remaining %v", got)
			}
		})
	}
	if _, err := public.Prune(context.Background(), localdir.Open(t.TempDir()), public.Retention{Keep: -1}); err == nil {
		t.Error("Prune(-1): no error")
	}
}

func TestPruneLatestByPathOnly(t *testing.T) {
	dir := publicDir(t, "", pid1, pid2, pid3)
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), []byte(`{"path": "snapshots/`+pid1+`/"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	removed, err := public.Prune(context.Background(), localdir.Open(dir), public.Retention{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{pid2}; !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
}

func TestPruneKeepsProtected(t *testing.T) {
	dir := publicDir(t, pid3, pid1, pid2, pid3)
	asked := 0
	removed, err := public.Prune(context.Background(), localdir.Open(dir), public.Retention{Keep: 1,
		Protected: func(context.Context) ([]string, error) { asked++; return []string{pid1}, nil }})
	if err != nil || asked != 1 {
		t.Fatal(err, asked)
	}
	if want := []string{pid2}; !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	// A failing hook stops Prune before anything is removed.
	dir = publicDir(t, pid3, pid1, pid2, pid3)
	_, err = public.Prune(context.Background(), localdir.Open(dir), public.Retention{Keep: 1,
		Protected: func(context.Context) ([]string, error) { return nil, errors.New("warehouse down") }})
	if err == nil || len(remaining(t, dir)) != 3 {
		t.Errorf("Prune with a failing hook: %v, remaining %v", err, remaining(t, dir))
	}
}
