package d1_test

import (
	"context"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sources/internal/sourcetest"
	"github.com/refrecon/refrecon/sources/referrals/d1"
	"github.com/refrecon/refrecon/sources/referrals/d1/d1fake"
)

// A body cut short by a dropped connection, on any request of the read, is
// retried and the read comes out whole.
func TestTruncatedBodyRecovers(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5} { // PRAGMA, COUNT, first page, a later page
		path, c := largeDB(t, 5, 3, 0)
		srv := d1fake.NewServer(t, path, d1fake.WithFault(n, d1fake.TruncatedBody()))
		src, sl := newSource(t, srv, func(c *d1.Config) { c.PageSize = 2 })
		read(t, src, c)
		if len(sl.All()) != 1 {
			t.Errorf("request %d truncated: waits %v, want one retry", n, sl.All())
		}
	}
}

// A body that always arrives cut short exhausts the retries; the error
// names the step.
func TestPersistentTruncationFails(t *testing.T) {
	path, _ := largeDB(t, 5, 3, 0)
	srv := d1fake.NewServer(t, path, d1fake.WithFaultFrom(3, d1fake.TruncatedBody()))
	src, _ := newSource(t, srv, func(c *d1.Config) { c.PageSize = 2; c.Retry.MaxAttempts = 3 })
	_, err := src.ReadReferrals(context.Background())
	sourcetest.CheckError(t, err, []string{"read table users, page 1", "reading the response body", "giving up after 3 attempts"})
	if strings.Contains(err.Error(), srv.Token) {
		t.Error("the error holds the token")
	}
}

// The unpaged query for rows with a NULL key answered with a page of rows
// that have keys (a repeated answer) is an error, not duplicated rows.
func TestRepeatedAnswerToNullKeyQueryIsAnError(t *testing.T) {
	path, _ := largeDB(t, 5, 3, 0)
	// Users: PRAGMA, COUNT, pages of 2, 2 and 1, then the NULL-key query.
	srv := d1fake.NewServer(t, path, d1fake.WithFault(6, d1fake.RepeatPreviousPage()))
	src, _ := newSource(t, srv, func(c *d1.Config) { c.PageSize = 2 })
	refs, err := src.ReadReferrals(context.Background())
	if err == nil || !strings.Contains(err.Error(), "read table users, rows with a NULL key") {
		t.Fatalf("err = %v (%d users read), want an error about the NULL-key rows", err, len(refs.Users))
	}
}
