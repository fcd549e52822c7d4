package d1_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/refrecon/refrecon/sources/referrals/d1"
	"github.com/refrecon/refrecon/sources/referrals/d1/d1fake"
	"github.com/refrecon/refrecon/sources/referrals/referralstest"
	"github.com/refrecon/refrecon/sources/retry"
)

func TestWriterConformance(t *testing.T) {
	referralstest.RunWriter(t, func(t *testing.T, dbPath string) referralstest.Writer {
		srv := d1fake.NewServer(t, dbPath, d1fake.WithWriteToken("d1-write-token"))
		src, _ := newSource(t, srv, func(c *d1.Config) { c.Token = "d1-write-token" })
		return src
	})
}

// The read token may not write when the database has a separate write
// token: least privilege, as SECURITY.md describes.
func TestReadTokenCannotWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "referrals.sqlite")
	referralstest.CreateDB(t, path, referralstest.Stmt{SQL: referralstest.SchemaSQL})
	srv := d1fake.NewServer(t, path, d1fake.WithWriteToken("d1-write-token"))
	src, _ := newSource(t, srv, func(c *d1.Config) { c.Retry = retry.Policy{MaxAttempts: 1} })
	err := src.MarkRewarded(context.Background(), []string{"a@example.com"})
	if err == nil || retry.ClassOf(err) != retry.ErrRefused {
		t.Fatalf("MarkRewarded with the read token = %v, want a refused error", err)
	}
	if _, err := src.RowStates(context.Background(), []string{"a@example.com"}); err != nil {
		t.Errorf("RowStates with the read token: %v", err)
	}
}
