package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/refrecon/refrecon/pipeline"
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

// ImageSource reads referrals from the bytes of a SQLite database file
// (such as one embedded in the binary), loaded into memory with
// sqlite3_deserialize: nothing is written to disk.
type ImageSource struct {
	name  string
	image []byte
}

// NewImage returns a source reading image; name says where it came from in
// errors.
func NewImage(name string, image []byte) *ImageSource {
	return &ImageSource{name: name, image: image}
}

// ReadReferrals reads the users and referrals tables of the image.
func (s *ImageSource) ReadReferrals(ctx context.Context) (pipeline.Referrals, error) {
	refs, err := s.read(ctx)
	if err != nil {
		return pipeline.Referrals{}, fmt.Errorf("referrals source %s: %w", s.name, err)
	}
	return refs, nil
}

func (s *ImageSource) read(ctx context.Context) (pipeline.Referrals, error) {
	db, err := OpenMemory()
	if err != nil {
		return pipeline.Referrals{}, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return pipeline.Referrals{}, fmt.Errorf("open in-memory database: %w", err)
	}
	err = conn.Raw(func(dc any) error {
		d, ok := dc.(interface{ Deserialize([]byte) error })
		if !ok {
			return errors.New("the SQLite driver cannot load a database image")
		}
		return d.Deserialize(s.image)
	})
	if cerr := conn.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return pipeline.Referrals{}, fmt.Errorf("load database image: %w", err)
	}
	return ReadDB(ctx, db)
}
