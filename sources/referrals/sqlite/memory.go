package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// OpenMemory opens an empty in-memory SQLite database. Every connection to
// ":memory:" is a database of its own, so the pool keeps exactly one,
// forever. Used for a dump (sources/referrals/d1dump) and for a database image.
func OpenMemory() (*sql.DB, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, fmt.Errorf("open in-memory database: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// NewImage returns a Source reading the bytes of a SQLite database file
// (such as one embedded in the binary), loaded into memory with
// sqlite3_deserialize: nothing is written to disk. name says where the
// bytes came from in errors.
func NewImage(name string, image []byte) *Source {
	return FromDB(name, func(ctx context.Context) (*sql.DB, error) { return openImage(ctx, image) })
}

func openImage(ctx context.Context, image []byte) (*sql.DB, error) {
	db, err := OpenMemory()
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open in-memory database: %w", err)
	}
	err = conn.Raw(func(dc any) error {
		d, ok := dc.(interface{ Deserialize([]byte) error })
		if !ok {
			return errors.New("the SQLite driver cannot load a database image")
		}
		return d.Deserialize(image)
	})
	if cerr := conn.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load database image: %w", err)
	}
	return db, nil
}
