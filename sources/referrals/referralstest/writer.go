package referralstest

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/refrecon/refrecon/sources/referrals"
)

// Writer is what a driver that can settle offers (SPEC 2.8): it reads
// rows' rewarded state back and sets rewarded = 1, nothing else.
type Writer interface {
	RowStates(ctx context.Context, emails []string) (map[string]referrals.RowState, error)
	MarkRewarded(ctx context.Context, emails []string) error
}

// UpdateLogSQL creates a trigger that logs every actual change of
// referrals.rewarded into table rewarded_log(email), so a test can count
// how many times each row was written.
const UpdateLogSQL = `CREATE TABLE rewarded_log (email TEXT);
CREATE TRIGGER rewarded_log_t AFTER UPDATE OF rewarded ON referrals BEGIN INSERT INTO rewarded_log (email) VALUES (NEW.email); END;`

// UpdateCounts returns how many times each row's rewarded flag was written
// since UpdateLogSQL ran on the file at path.
func UpdateCounts(t testing.TB, path string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite", referrals.FileURI(path)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT email, COUNT(*) FROM rewarded_log GROUP BY email")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var e string
		var n int
		if err := rows.Scan(&e, &n); err != nil {
			t.Fatal(err)
		}
		out[e] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// RunWriter is the conformance suite of a referrals writer: open returns a
// writer of the SQLite file at dbPath (directly, or through a fake of the
// service that serves it). It checks that RowStates reads rows by raw email
// (absent rows omitted, NULL rewarded as false), that MarkRewarded writes
// exactly the rows not rewarded yet and writes none of them a second time
// when repeated, and that a batch over referrals.MaxRewardedBatch is refused.
func RunWriter(t *testing.T, open func(t *testing.T, dbPath string) Writer) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "referrals.sqlite")
	CreateDB(t, path,
		Stmt{SQL: SchemaSQL},
		Stmt{SQL: UpdateLogSQL},
		Insert("users", userCols, "alice@example.com", "ALICE1"),
		Insert("referrals", refCols, "Carol@Example.com", "ALICE1", "2024-03-01 10:00:00", "pro", int64(0)),
		Insert("referrals", refCols, "dave@example.com", "ALICE1", "2024-03-02 11:30:00", "basic", int64(1)),
		Insert("referrals", refCols, "erin@example.com", "ALICE1", "2024-03-03 12:00:00", "pro", nil),
		Insert("referrals", refCols, "frank@example.com", nil, "2024-03-03 12:00:00", "pro", int64(0)),
	)
	w := open(t, path)
	emails := []string{"Carol@Example.com", "dave@example.com", "erin@example.com", "frank@example.com", "carol@example.com", "gone@example.com"}
	got, err := w.RowStates(ctx, emails)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]referrals.RowState{
		"Carol@Example.com": {Refcode: "ALICE1"}, "dave@example.com": {Refcode: "ALICE1", Rewarded: true},
		"erin@example.com": {Refcode: "ALICE1"}, "frank@example.com": {},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RowStates = %v, want %v", got, want)
	}
	for range 2 {
		if err := w.MarkRewarded(ctx, emails); err != nil {
			t.Fatal(err)
		}
	}
	if c, want := UpdateCounts(t, path), map[string]int{"Carol@Example.com": 1, "erin@example.com": 1, "frank@example.com": 1}; !reflect.DeepEqual(c, want) {
		t.Errorf("rows written (email: times) = %v, want %v", c, want)
	}
	got, err = w.RowStates(ctx, emails[:4])
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range emails[:4] {
		if !got[e].Rewarded {
			t.Errorf("%s: not rewarded after MarkRewarded", e)
		}
	}
	many := make([]string, referrals.MaxRewardedBatch+1)
	for i := range many {
		many[i] = "x"
	}
	if err := w.MarkRewarded(ctx, many); err == nil {
		t.Errorf("MarkRewarded of %d emails: no error", len(many))
	}
	if _, err := w.RowStates(ctx, nil); err == nil {
		t.Error("RowStates of no emails: no error")
	}
}
