package warehouse

import (
	"context"
	"errors"
	"fmt"
)

// Staged is a snapshot a driver has written but not made the day's rows
// yet (the SQLite driver: its transaction, still open). Commit makes it
// the day's rows; Abort drops it, and the warehouse keeps the rows it had.
// Exactly one of them takes effect: after the first Commit or Abort, Abort
// does nothing and Commit fails. A Staged belongs to the driver that
// staged it, which must not be closed before Commit or Abort returns.
type Staged interface {
	Commit(ctx context.Context) error
	Abort() error
}

// Writer is a driver that replaces a day in one call, with no staging of
// its own (sinks/bigquery: a load job per table).
type Writer interface {
	WriteSnapshot(ctx context.Context, s Snapshot) error
	Close() error
}

// WriteAtCommit stages a snapshot for w by keeping it, and writes it when
// it is committed: for a driver whose write cannot be held uncommitted
// (BigQuery's load jobs replace a partition each, with no transaction over
// the tables), Stage only checks the date, and the whole write happens in
// Commit, after everything else a run stages. The snapshot must stay valid
// until then, and a Staged lives as long as Stage's ctx, as a SQLite
// transaction does.
func WriteAtCommit(w Writer) *CommitWriter { return &CommitWriter{w: w} }

// CommitWriter is a Writer whose Stage defers the write to Commit
// (WriteAtCommit).
type CommitWriter struct{ w Writer }

// Stage checks s's date and returns a Staged that writes s when committed.
func (c *CommitWriter) Stage(ctx context.Context, s Snapshot) (Staged, error) {
	if err := s.ValidateDate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("stage snapshot %v: %w", s.Date, err)
	}
	return &deferredWrite{w: c.w, s: s, ctx: ctx}, nil
}

// Close closes the driver.
func (c *CommitWriter) Close() error { return c.w.Close() }

type deferredWrite struct {
	w    Writer
	s    Snapshot
	ctx  context.Context // Stage's: cancelled, the staged snapshot is dropped
	done bool
}

func (d *deferredWrite) Commit(ctx context.Context) error {
	if d.done {
		return errors.New("staged snapshot already committed or aborted")
	}
	d.done = true
	if err := d.ctx.Err(); err != nil {
		return fmt.Errorf("commit snapshot %v: staging %w", d.s.Date, err)
	}
	return d.w.WriteSnapshot(ctx, d.s)
}

func (d *deferredWrite) Abort() error {
	d.done = true
	return nil
}
