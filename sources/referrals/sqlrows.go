package referrals

import (
	"context"
	"database/sql"
)

// Querier runs a query: a *sql.DB, *sql.Tx or *sql.Conn.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Columns returns the column names of an SQLite table in their order
// (pragma_table_info); none, and no error, when there is no such table.
func Columns(ctx context.Context, db Querier, table string) ([]string, error) {
	rs, err := db.QueryContext(ctx, "SELECT name FROM pragma_table_info(?1) ORDER BY cid", table)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var names []string
	for rs.Next() {
		var name string
		if err := rs.Scan(&name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, rs.Err()
}

// ScanRows scans every row of rs into one slice of a T per column (reused:
// copy what must outlive the call) and calls row with it. It returns the
// first error of Scan, row or the iteration; the caller closes rs.
func ScanRows[T any](rs *sql.Rows, row func(vals []T) error) error {
	cols, err := rs.Columns()
	if err != nil {
		return err
	}
	vals := make([]T, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return err
		}
		if err := row(vals); err != nil {
			return err
		}
	}
	return rs.Err()
}
