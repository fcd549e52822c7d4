package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/refrecon/refrecon/sources/internal/inputfile"
	"github.com/refrecon/refrecon/sources/referrals"
)

// Writer is the SQLite file of a referrals source opened read-write, for
// `refrecon settle apply` alone (SPEC 2.8): it sets referrals.rewarded and
// nothing else. Runs never open one.
type Writer struct {
	path string
	db   *sql.DB
}

// OpenWriter opens the existing SQLite file at path read-write (mode=rw:
// never created). The path is checked first, as for reads (package
// inputfile): a directory, a named pipe (which SQLite's open would block
// on) or a device is refused.
func OpenWriter(path string) (*Writer, error) {
	if _, err := inputfile.Check(path, 0); err != nil {
		return nil, fmt.Errorf("referrals sqlite:%s: open for writing: %w", path, err)
	}
	db, err := sql.Open("sqlite", referrals.FileURI(path)+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("referrals sqlite:%s: open for writing: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return &Writer{path: path, db: db}, nil
}

// Close closes the file.
func (w *Writer) Close() error {
	if err := w.db.Close(); err != nil {
		return fmt.Errorf("referrals sqlite:%s: close: %w", w.path, err)
	}
	return nil
}

// RowStates reads the refcode and rewarded flag of the rows with these raw
// emails (at most referrals.MaxRewardedBatch); an email with no row is
// absent from the result.
func (w *Writer) RowStates(ctx context.Context, emails []string) (map[string]referrals.RowState, error) {
	q, err := referrals.RowStateSQL(len(emails))
	if err != nil {
		return nil, err
	}
	rows, err := w.db.QueryContext(ctx, q, referrals.EmailArgs(emails)...)
	if err != nil {
		return nil, fmt.Errorf("referrals sqlite:%s: read rewarded: %w", w.path, err)
	}
	defer rows.Close()
	out := map[string]referrals.RowState{}
	for rows.Next() {
		var e, r, b any
		if err := rows.Scan(&e, &r, &b); err != nil {
			return nil, fmt.Errorf("referrals sqlite:%s: read rewarded: %w", w.path, err)
		}
		email, st, err := referrals.ScanRowState(e, r, b)
		if err != nil {
			return nil, fmt.Errorf("referrals sqlite:%s: %w", w.path, err)
		}
		out[email] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("referrals sqlite:%s: read rewarded: %w", w.path, err)
	}
	return out, nil
}

// MarkRewarded sets rewarded = 1 on the rows with these raw emails (at most
// referrals.MaxRewardedBatch) that are not rewarded yet, in one statement.
func (w *Writer) MarkRewarded(ctx context.Context, emails []string) error {
	q, err := referrals.MarkRewardedSQL(len(emails))
	if err != nil {
		return err
	}
	if _, err := w.db.ExecContext(ctx, q, referrals.EmailArgs(emails)...); err != nil {
		return fmt.Errorf("referrals sqlite:%s: mark rewarded: %w", w.path, err)
	}
	return nil
}
