package sqlite_test

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/refrecon/refrecon/sources/internal/inputfile"
	"github.com/refrecon/refrecon/sources/referrals/referralstest"
	"github.com/refrecon/refrecon/sources/referrals/sqlite"
)

func TestWriterConformance(t *testing.T) {
	referralstest.RunWriter(t, func(t *testing.T, dbPath string) referralstest.Writer {
		w, err := sqlite.OpenWriter(dbPath)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Close() })
		return w
	})
}

// A directory or a named pipe is refused before SQLite opens it (its open
// of a pipe would block).
func TestOpenWriterRefusesNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	for _, path := range []string{dir, fifo} {
		w, err := sqlite.OpenWriter(path)
		if !errors.Is(err, inputfile.ErrNotRegular) {
			if w != nil {
				_ = w.Close()
			}
			t.Errorf("OpenWriter(%s) = %v, want %v", path, err, inputfile.ErrNotRegular)
		}
	}
}
