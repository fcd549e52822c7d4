package sqlite_test

import (
	"context"
	"testing"

	"github.com/refrecon/refrecon/sources/internal/inputfile/inputfiletest"
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

// What is not a regular file is refused before SQLite opens it (its open
// of a named pipe would block), as for reads.
func TestOpenWriterRefusesNonRegularFiles(t *testing.T) {
	inputfiletest.Run(t, func(_ context.Context, path string) error {
		w, err := sqlite.OpenWriter(path)
		if w != nil {
			_ = w.Close()
		}
		return err
	})
}
