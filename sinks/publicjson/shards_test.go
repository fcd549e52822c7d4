package publicjson

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSharderPlacesEveryFileAndCleansUp(t *testing.T) {
	root := t.TempDir()
	final := filepath.Join(root, "referrers")
	if err := os.Mkdir(final, 0o755); err != nil {
		t.Fatal(err)
	}
	s := newSharder(filepath.Join(root, ".shards"))
	for i := range 3 * shardCount {
		name := filepath.Join(final, "ref"+strconv.Itoa(i)+".json")
		if err := s.write(name, []byte(strconv.Itoa(i)), false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.place(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(final)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3*shardCount {
		t.Errorf("%d files placed, want %d", len(entries), 3*shardCount)
	}
	if _, err := os.Stat(filepath.Join(root, ".shards")); !os.IsNotExist(err) {
		t.Errorf("staging directories left behind: %v", err)
	}
}

// A destination that exists already is an error, never an overwrite (two
// refcodes that are one name on a case-insensitive filesystem).
func TestSharderRefusesToReplace(t *testing.T) {
	root := t.TempDir()
	dst := filepath.Join(root, "X.json")
	if err := os.WriteFile(dst, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newSharder(filepath.Join(root, ".shards"))
	if err := s.write(dst, []byte("second"), false); err != nil {
		t.Fatal(err)
	}
	if err := s.place(); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Fatalf("place: %v, want an 'exists already' error", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "first" {
		t.Errorf("the existing file was replaced: %q", b)
	}
}

// The fallback for filesystems without RENAME_NOREPLACE refuses to replace
// too.
func TestCheckedRenameRefusesToReplace(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "from"), filepath.Join(dir, "to")
	for _, p := range []string{from, to} {
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkedRename(from, to); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("checkedRename onto an existing file: %v, want fs.ErrExist", err)
	}
	if err := os.Remove(to); err != nil {
		t.Fatal(err)
	}
	if err := checkedRename(from, to); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(to); string(b) != from {
		t.Errorf("moved file holds %q", b)
	}
}
