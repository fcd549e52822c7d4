package sqlite_test

import (
	"testing"

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
