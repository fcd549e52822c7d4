// Package sqlite is the referrals driver for a SQLite file (SPEC 1.1), such
// as a local replica of the Cloudflare D1 database.
//
// The file is opened read-only (mode=ro and PRAGMA query_only): the job
// never writes to a source. Columns are discovered with pragma_table_info
// and resolved by name against the schema of package referrals; a missing
// table or required column is a *referrals.SchemaError naming it. Values are
// converted by the rules of package referrals, which every referrals driver
// shares, so every driver delivers the same Referrals for the same data.
//
// NewImage reads the bytes of such a file (the fixture embedded in the
// binary) from memory, with the same rules; FromDB reads a database
// another driver builds, such as the in-memory one (OpenMemory) that
// sources/referrals/d1dump loads a dump into.
//
// Both tables are read in one read transaction, so users and referrals come
// from the same state of the file even while the referrals service writes
// to it.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sources/internal/inputfile"
	"github.com/refrecon/refrecon/sources/referrals"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Source reads referrals from a SQLite database: a file (New), the bytes
// of one (NewImage), or one another driver builds (FromDB).
type Source struct {
	name string // where the data comes from, for errors: "sqlite:PATH"
	open func(ctx context.Context) (*sql.DB, error)
}

// New returns a Source reading the SQLite file at path. Nothing is opened
// until ReadReferrals.
func New(path string) *Source {
	return FromDB("sqlite:"+path, func(context.Context) (*sql.DB, error) { return openFile(path) })
}

// FromDB returns a Source reading the database open returns, closed after
// each read; name says where the data comes from in errors. It is for
// drivers that load their data into SQLite first (sources/referrals/d1dump).
func FromDB(name string, open func(ctx context.Context) (*sql.DB, error)) *Source {
	return &Source{name: name, open: open}
}

// ReadReferrals reads the users and referrals tables.
func (s *Source) ReadReferrals(ctx context.Context) (pipeline.Referrals, error) {
	refs, err := s.read(ctx)
	if err != nil {
		return pipeline.Referrals{}, fmt.Errorf("referrals source %s: %w", s.name, err)
	}
	return refs, nil
}

func (s *Source) read(ctx context.Context) (pipeline.Referrals, error) {
	db, err := s.open(ctx)
	if err != nil {
		return pipeline.Referrals{}, err
	}
	defer db.Close()
	return readDB(ctx, db)
}

// openFile opens the SQLite file at path read-only.
func openFile(path string) (*sql.DB, error) {
	// Checked before SQLite opens it: SQLite's own error for a missing file
	// under mode=ro is "unable to open database file", and a named pipe
	// would block its open(2) forever.
	if _, err := inputfile.Check(path, 0); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", ReadOnlyDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return db, nil
}

// ReadOnlyDSN returns the modernc.org/sqlite data source name that opens the
// file at path read-only: mode=ro, so the file is never created or written,
// and PRAGMA query_only, so no statement can change it.
func ReadOnlyDSN(path string) string {
	return referrals.FileURI(path) + "?mode=ro&_pragma=query_only(1)"
}

// readDB reads the users and referrals tables from an open SQLite database,
// in one read transaction.
func readDB(ctx context.Context, db *sql.DB) (pipeline.Referrals, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return pipeline.Referrals{}, fmt.Errorf("begin read transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to undo

	refs, err := referrals.ReadTables(func(t referrals.Table, size func(int64), row func([]any) error) error {
		return readTable(ctx, tx, t, size, row)
	})
	if err != nil {
		return pipeline.Referrals{}, err
	}
	if err := tx.Commit(); err != nil {
		return pipeline.Referrals{}, fmt.Errorf("end read transaction: %w", err)
	}
	return refs, nil
}

// readTable discovers the table's columns, calls size with its row count
// and then row with each row, streamed: the table's columns in t.Columns
// order, nil for an absent optional column. The slice is reused.
func readTable(ctx context.Context, tx *sql.Tx, t referrals.Table, size func(n int64), row func(vals []any) error) error {
	names, err := tableColumns(ctx, tx, t.Name)
	if err != nil {
		return err
	}
	actual, err := t.Resolve(names)
	if err != nil {
		return err
	}

	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+referrals.QuoteIdent(t.Name)).Scan(&n); err != nil {
		return fmt.Errorf("count rows of table %s: %w", t.Name, err)
	}
	size(min(n, 1<<24)) // a hint only; cap what a corrupt count could ask for

	// "+col" is an expression, so the driver sees no declared type and
	// returns the stored value as is (modernc.org/sqlite would otherwise
	// parse text in a DATETIME column into a time.Time, losing the raw text).
	var sel []string
	vals := make([]any, len(t.Columns))
	var scan []any
	for i, name := range actual {
		if name != "" {
			sel = append(sel, "+"+referrals.QuoteIdent(name))
			scan = append(scan, &vals[i])
		}
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + referrals.QuoteIdent(t.Name)
	rs, err := tx.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("read table %s: %w", t.Name, err)
	}
	defer rs.Close()
	for rs.Next() {
		if err := rs.Scan(scan...); err != nil {
			return fmt.Errorf("read table %s: %w", t.Name, err)
		}
		if err := row(vals); err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("read table %s: %w", t.Name, err)
	}
	return nil
}

// tableColumns returns the column names of a table, or a *SchemaError when
// there is no such table.
func tableColumns(ctx context.Context, tx *sql.Tx, table string) ([]string, error) {
	names, err := referrals.Columns(ctx, tx, table)
	if err != nil {
		return nil, fmt.Errorf("list columns of table %s: %w", table, err)
	}
	if len(names) == 0 {
		return nil, &referrals.SchemaError{Table: table}
	}
	return names, nil
}
