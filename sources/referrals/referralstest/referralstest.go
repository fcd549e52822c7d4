// Package referralstest is the conformance suite every referrals driver
// (sources/referrals/sqlite, d1dump, d1) must pass, and helpers to
// build real SQLite referrals databases for tests.
//
// Run builds a SQLite file in the referrals service's schema (SPEC 1.1) for
// each case, asks the source under test to read it (directly, through a dump,
// or through a fake D1 API over the file) and checks that the source returns
// exactly the stored rows. Order is not part of the contract: results are
// compared as sorted multisets. Odd values (bad timestamps, invalid emails,
// unknown refcodes) must pass through untouched: judging them is the
// pipeline's job.
package referralstest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sources/internal/sourcetest"
)

// Source is what the suite tests: a referrals source.
type Source interface {
	ReadReferrals(ctx context.Context) (pipeline.Referrals, error)
}

// Case is one database the suite builds, with what a source must return
// from it: the rows, or an error whose text contains every WantErr string.
type Case struct {
	Name    string
	Stmts   []Stmt
	Want    pipeline.Referrals
	WantErr []string
}

// Run runs every case of the suite against the sources open returns, then
// checks that a read under a cancelled context (or one past its deadline)
// fails with the context's error. open is given the path of a SQLite file
// built for the case; it must not change the file (the suite checks that
// it is byte-for-byte unchanged). Every error must be wrapped once: the
// text it starts with (up to the first ": ") does not come again.
func Run(t *testing.T, open func(t *testing.T, dbPath string) Source) {
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "referrals.sqlite")
			CreateDB(t, path, c.Stmts...)
			before := fileSum(t, path)
			src := open(t, path)
			got, err := src.ReadReferrals(context.Background())
			if c.WantErr != nil {
				sourcetest.CheckError(t, err, c.WantErr)
			} else {
				if err != nil {
					t.Fatalf("ReadReferrals: %v", err)
				}
				Compare(t, got, c.Want)
			}
			if fileSum(t, path) != before {
				t.Errorf("the source changed the database file")
			}
		})
	}
	sourcetest.RunDoneContexts(t, func(t *testing.T, ctx context.Context) error {
		path := filepath.Join(t.TempDir(), "referrals.sqlite")
		CreateDB(t, path, specCase().Stmts...)
		_, err := open(t, path).ReadReferrals(ctx)
		return err
	})
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// Compare fails t unless got and want hold the same users and rows, in any
// order (as multisets: duplicates count).
func Compare(t testing.TB, got, want pipeline.Referrals) {
	t.Helper()
	compareSets(t, "users", got.Users, want.Users, cmpUser)
	compareSets(t, "referrals rows", got.Rows, want.Rows, cmpRow)
}

func cmpUser(a, b pipeline.User) int {
	return cmp.Or(strings.Compare(a.Email, b.Email), strings.Compare(a.Refcode, b.Refcode))
}

func cmpRow(a, b pipeline.ReferralRow) int {
	bi := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	return cmp.Or(
		strings.Compare(a.Email, b.Email),
		strings.Compare(a.Refcode, b.Refcode),
		strings.Compare(a.ReferredAt, b.ReferredAt),
		strings.Compare(a.SelectedPlan, b.SelectedPlan),
		cmp.Compare(bi(a.Rewarded), bi(b.Rewarded)),
	)
}

func compareSets[T any](t testing.TB, what string, got, want []T, c func(a, b T) int) {
	t.Helper()
	g := slices.SortedFunc(slices.Values(got), c)
	w := slices.SortedFunc(slices.Values(want), c)
	if len(g) != len(w) {
		t.Errorf("%s: got %d, want %d", what, len(g), len(w))
	}
	// Merge the sorted lists to report what is missing and what is extra.
	var missing, extra []string
	i, j := 0, 0
	for i < len(g) || j < len(w) {
		switch {
		case j == len(w) || (i < len(g) && c(g[i], w[j]) < 0):
			extra = append(extra, fmt.Sprintf("%+v", g[i]))
			i++
		case i == len(g) || c(g[i], w[j]) > 0:
			missing = append(missing, fmt.Sprintf("%+v", w[j]))
			j++
		default:
			i++
			j++
		}
	}
	for k, s := range missing {
		if k == 10 {
			t.Errorf("%s: ... %d more missing", what, len(missing)-k)
			break
		}
		t.Errorf("%s: missing %s", what, s)
	}
	for k, s := range extra {
		if k == 10 {
			t.Errorf("%s: ... %d more unexpected", what, len(extra)-k)
			break
		}
		t.Errorf("%s: unexpected %s", what, s)
	}
}
