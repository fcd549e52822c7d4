package localdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A snapshot file that exists already is an error, never an overwrite (two
// refcodes that are one name on a case-insensitive filesystem).
func TestWriteNewRefusesToReplace(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "X.json")
	if err := writeNew(dst, []byte("first"), false); err != nil {
		t.Fatal(err)
	}
	if err := writeNew(dst, []byte("second"), true); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Fatalf("second write: %v, want an 'exists already' error", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "first" {
		t.Errorf("the existing file was replaced: %q", b)
	}
}

// latest.json that is a symlink is replaced (the link itself), never
// written through: its target keeps its bytes. The same holds for every
// file the driver writes (created with O_EXCL, which does not follow).
func TestWriteLatestReplacesASymlinkNotItsTarget(t *testing.T) {
	root := t.TempDir()
	target := filepath.Join(root, "elsewhere")
	if err := os.WriteFile(target, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "public")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	latest := filepath.Join(dir, "latest.json")
	if err := os.Symlink(target, latest); err != nil {
		t.Fatal(err)
	}
	if err := Open(dir).WriteLatest(t.Context(), []byte(`{"x":1}`), ""); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Errorf("the symlink's target now holds %q", b)
	}
	fi, err := os.Lstat(latest)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("latest.json: %v, %v; want a regular file", fi, err)
	}
	if err := writeFile(filepath.Join(dir, "l2"), nil, false); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "l3")); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(dir, "l3"), []byte("x"), false); err == nil {
		t.Error("writeFile wrote through a symlink")
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Errorf("the symlink's target now holds %q", b)
	}
}
