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
