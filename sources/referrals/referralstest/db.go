package referralstest

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sources/referrals"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// SchemaSQL is the referrals service's schema, as SPEC 1.1 gives it.
const SchemaSQL = `CREATE TABLE users (email TEXT PRIMARY KEY, refcode TEXT UNIQUE);
CREATE TABLE referrals (email TEXT PRIMARY KEY, refcode TEXT,
  referred_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  selected_plan TEXT, rewarded BOOLEAN DEFAULT false,
  FOREIGN KEY(refcode) REFERENCES users(refcode));`

// Stmt is one SQL statement with its arguments (Go values of SQLite's
// storage classes: nil, int64, float64, string, []byte).
type Stmt struct {
	SQL  string
	Args []any
}

// Insert returns a statement inserting one row into table.
func Insert(table string, cols []string, vals ...any) Stmt {
	q := make([]string, len(cols))
	p := make([]string, len(cols))
	for i, c := range cols {
		q[i] = referrals.QuoteIdent(c)
		p[i] = "?" + strconv.Itoa(i+1)
	}
	return Stmt{
		SQL:  fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", referrals.QuoteIdent(table), strings.Join(q, ", "), strings.Join(p, ", ")),
		Args: vals,
	}
}

// CreateDB creates a SQLite file at path and runs the statements in one
// transaction. The file must not exist.
func CreateDB(t testing.TB, path string, stmts ...Stmt) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("create test database: %s already exists", path)
	}
	db, err := sql.Open("sqlite", referrals.FileURI(path))
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(s.SQL, s.Args...); err != nil {
			t.Fatalf("create test database: %s %v: %v", s.SQL, s.Args, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("create test database: %v", err)
	}
}

// WriteDump writes the SQLite file at dbPath as a wrangler d1 export style
// SQL dump to dumpPath.
func WriteDump(t testing.TB, dbPath, dumpPath string) {
	t.Helper()
	db, err := sql.Open("sqlite", referrals.FileURI(dbPath)+"?mode=ro")
	if err != nil {
		t.Fatalf("dump test database: %v", err)
	}
	defer db.Close()
	f, err := os.Create(dumpPath)
	if err != nil {
		t.Fatalf("dump test database: %v", err)
	}
	if err := Dump(context.Background(), db, f); err != nil {
		f.Close()
		t.Fatalf("dump test database: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("dump test database: %v", err)
	}
}

// Dump writes db as SQL text in the shape `wrangler d1 export` (and
// sqlite3's .dump) produce: PRAGMA defer_foreign_keys=TRUE, then each table's
// CREATE TABLE followed by one INSERT INTO "t" VALUES(...) per row, then
// indexes, views and triggers. Every value keeps its storage class: reals
// always carry a '.' or exponent, text is single-quoted with ” for ', and
// blobs are X'..'. Text containing NUL bytes is not supported.
func Dump(ctx context.Context, db *sql.DB, w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "PRAGMA defer_foreign_keys=TRUE;")

	type obj struct{ name, sql string }
	var tables, others []obj
	rs, err := db.QueryContext(ctx, "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid")
	if err != nil {
		return fmt.Errorf("dump: list schema: %w", err)
	}
	for rs.Next() {
		var typ string
		var o obj
		if err := rs.Scan(&typ, &o.name, &o.sql); err != nil {
			rs.Close()
			return fmt.Errorf("dump: list schema: %w", err)
		}
		if typ == "table" {
			tables = append(tables, o)
		} else {
			others = append(others, o)
		}
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return fmt.Errorf("dump: list schema: %w", err)
	}

	for _, t := range tables {
		fmt.Fprintf(bw, "%s;\n", t.sql)
		if err := dumpRows(ctx, db, bw, t.name); err != nil {
			return err
		}
	}
	for _, o := range others {
		fmt.Fprintf(bw, "%s;\n", o.sql)
	}
	return bw.Flush()
}

func dumpRows(ctx context.Context, db *sql.DB, w io.Writer, table string) error {
	cols, err := referrals.Columns(ctx, db, table)
	if err != nil {
		return fmt.Errorf("dump: columns of %s: %w", table, err)
	}
	for i, c := range cols {
		cols[i] = "+" + referrals.QuoteIdent(c) // "+": raw values, no time parsing
	}

	rs, err := db.QueryContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+referrals.QuoteIdent(table))
	if err != nil {
		return fmt.Errorf("dump: rows of %s: %w", table, err)
	}
	defer rs.Close()
	err = referrals.ScanRows(rs, func(vals []any) error {
		lits := make([]string, len(vals))
		for i, v := range vals {
			var err error
			if lits[i], err = literal(v); err != nil {
				return err
			}
		}
		_, err := fmt.Fprintf(w, "INSERT INTO %s VALUES(%s);\n", referrals.QuoteIdent(table), strings.Join(lits, ","))
		return err
	})
	if err != nil {
		return fmt.Errorf("dump: rows of %s: %w", table, err)
	}
	return nil
}

// literal renders a stored value as an SQLite literal of the same storage class.
func literal(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "NULL", nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		switch {
		case math.IsInf(v, 1):
			return "1e999", nil
		case math.IsInf(v, -1):
			return "-1e999", nil
		}
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s, nil
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			return "", fmt.Errorf("text with a NUL byte is not supported: %q", v)
		}
		return "'" + strings.ReplaceAll(v, "'", "''") + "'", nil
	case []byte:
		return "X'" + strings.ToUpper(hex.EncodeToString(v)) + "'", nil
	default:
		return "", fmt.Errorf("unexpected value %T", v)
	}
}
