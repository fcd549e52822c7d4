package localdir

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A snapshot file that exists already is an error, never an overwrite (two
// refcodes that are one name on a case-insensitive filesystem).
func TestWriteNewRefusesToReplace(t *testing.T) {
	d, err := openDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	dst := filepath.Join(d.path, "X.json")
	if err := writeNew(d, "X.json", []byte("first"), false); err != nil {
		t.Fatal(err)
	}
	if err := writeNew(d, "X.json", []byte("second"), true); err == nil || !strings.Contains(err.Error(), "exists already") {
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

// checkContent accepts exactly the bytes with the sum, however the reads
// split them, and refuses a file shorter or longer than its size or one
// that cannot be read.
func TestCheckContent(t *testing.T) {
	want := []byte("0123456789")
	sum := sha256.Sum256(want)
	// reader gives data at most chunk bytes a read, then 0 bytes (end of
	// file) or, when fail, an error.
	reader := func(data []byte, chunk int, fail bool) func([]byte) (int, error) {
		return func(p []byte) (int, error) {
			if len(data) == 0 {
				if fail {
					return 0, errors.New("input/output error")
				}
				return 0, nil
			}
			n := copy(p[:min(len(p), chunk)], data)
			data = data[n:]
			return n, nil
		}
	}
	for _, c := range []struct {
		name  string
		data  []byte
		chunk int
		fail  bool
		ok    bool
	}{
		{"whole", want, 64, false, true},
		{"a byte a read", want, 1, false, true},
		{"shorter", want[:9], 64, false, false},
		{"shorter then an error", want[:9], 4, true, false},
		{"longer", append(slices.Clone(want), 'x'), 64, false, false},
		{"other bytes", []byte("0123456780"), 64, false, false},
	} {
		if got := checkContent(reader(c.data, c.chunk, c.fail), int64(len(want)), nil, sum); got != c.ok {
			t.Errorf("%s: checkContent by sha256 = %v, want %v", c.name, got, c.ok)
		}
		if got := checkContent(reader(c.data, c.chunk, c.fail), int64(len(want)), want, [sha256.Size]byte{}); got != c.ok {
			t.Errorf("%s: checkContent by bytes = %v, want %v", c.name, got, c.ok)
		}
	}
}
