// Package d1dump reads the referrals service's database (SPEC 1.1) from a
// `wrangler d1 export` SQL dump: plain SQLite .dump text (PRAGMA
// defer_foreign_keys, CREATE TABLE, INSERT INTO ... VALUES ...), possibly
// with D1's own tables (_cf_KV, d1_migrations, sqlite_sequence rows), which
// are loaded and ignored.
//
// The dump is executed with one Exec into a private in-memory SQLite
// database (modernc.org/sqlite), which is then read by the sqlite driver (sqlite.FromDB), so a
// dump gives exactly what the SQLite file it came from gives. The dump file
// itself is only read. ATTACH is disabled while loading, so a dump cannot
// reach other database files.
package d1dump

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/refrecon/refrecon/sources/internal/inputfile"
	"github.com/refrecon/refrecon/sources/referrals/sqlite"
	sqlite3 "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"
)

// MaxDumpSize is the largest dump read, in bytes. The whole dump is held in
// memory with the database it loads; a D1 database is at most 10 GB, and a
// dump of a referrals database anywhere near that is not what this driver is
// for (use a sqlite: replica).
const MaxDumpSize = 4 << 30

// New returns a source reading the dump at path. Nothing is read until
// ReadReferrals, which loads the dump into memory and reads the users and
// referrals tables from it.
func New(path string) *sqlite.Source {
	return sqlite.FromDB("d1dump:"+path, func(ctx context.Context) (*sql.DB, error) { return open(ctx, path) })
}

// open loads the dump at path into a new in-memory database. The dump is
// checked before it is opened (a regular file of at most MaxDumpSize
// bytes): a named pipe or /dev/zero is refused, not waited on or read
// without end.
func open(ctx context.Context, path string) (*sql.DB, error) {
	dump, err := inputfile.ReadAll(ctx, path, MaxDumpSize)
	if err != nil {
		return nil, err
	}
	db, err := sqlite.OpenMemory()
	if err != nil {
		return nil, err
	}
	if err := load(ctx, db, string(dump)); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// load executes the dump on the pool's single connection, with ATTACH
// disabled.
func load(ctx context.Context, db *sql.DB, dump string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open in-memory database: %w", err)
	}
	defer conn.Close()
	if _, err := sqlite3.Limit(conn, sqlitelib.SQLITE_LIMIT_ATTACHED, 0); err != nil {
		return fmt.Errorf("open in-memory database: disable ATTACH: %w", err)
	}
	if _, err := conn.ExecContext(ctx, dump); err != nil {
		return fmt.Errorf("load dump: %w", err)
	}
	return nil
}
