package sqlite

import (
	"context"
	"fmt"
	"reflect"

	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/sinks/warehouse"
)

// The settlement ledger (warehouse.LedgerDriver): the settlements table,
// created by Open like the others, is appended to in transactions and never
// touched by WriteSnapshot.

var _ warehouse.LedgerDriver = (*Warehouse)(nil)

// AppendSettlements appends rows in one transaction. With ifNoneFor set,
// the transaction first checks that no row of that cycle exists, and
// appends nothing when one does (false, nil). Should another process
// append between this transaction's check and its insert, SQLite refuses the
// insert (in WAL mode a read transaction cannot become a write transaction
// over a newer commit: SQLITE_BUSY), so the two never interleave.
func (w *Warehouse) AppendSettlements(ctx context.Context, rows []warehouse.Settlement, ifNoneFor string) (ok bool, err error) {
	ok, err = w.appendSettlements(ctx, rows, ifNoneFor)
	if err != nil {
		return false, fmt.Errorf("append to the settlement ledger in sqlite warehouse %s: %w", w.path, err)
	}
	return ok, nil
}

func (w *Warehouse) appendSettlements(ctx context.Context, rows []warehouse.Settlement, ifNoneFor string) (ok bool, err error) {
	tx, err := w.begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil || !ok {
			_ = tx.rollback() // the append's error is the one to report
		}
	}()
	if ifNoneFor != "" {
		var n int
		q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE cycle_id = ?", quoteIdent(w.ledger.Name))
		if err := tx.tx.QueryRowContext(ctx, q, ifNoneFor).Scan(&n); err != nil {
			return false, err
		}
		if n > 0 {
			return false, nil
		}
	}
	if err := insertRows(ctx, tx, w.ledger, warehouse.SettlementRows(rows)); err != nil {
		return false, fmt.Errorf("insert: %w", err)
	}
	if err := tx.commit(); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	return true, nil
}

// ReadSettlements returns the ledger's rows of cycleID ("" = all), in the
// order they were appended.
func (w *Warehouse) ReadSettlements(ctx context.Context, cycleID string) ([]warehouse.Settlement, error) {
	var out []warehouse.Settlement
	where, args := "1 = 1", []any(nil)
	if cycleID != "" {
		where, args = "cycle_id = ?", []any{cycleID}
	}
	if err := w.query(ctx, w.ledger, reflect.ValueOf(&out).Elem(), where, args...); err != nil {
		return nil, fmt.Errorf("read the settlement ledger in sqlite warehouse %s: %w", w.path, err)
	}
	return out, nil
}

// ReferralDecisions returns the referral_decisions rows of one snapshot
// (snapshot_id on its date), in insertion order: what `settle` marks
// rewarded is read from the snapshot it settles (SPEC 2.8). A snapshot
// whose rows are gone (replaced by a later run of its day) gives none.
func (w *Warehouse) ReferralDecisions(ctx context.Context, date civil.Date, snapshotID string) ([]warehouse.ReferralDecision, error) {
	var out []warehouse.ReferralDecision
	t, _ := w.table(warehouse.TableReferralDecisions)
	if err := w.query(ctx, t, reflect.ValueOf(&out).Elem(), "snapshot_date = ? AND snapshot_id = ?", date.String(), snapshotID); err != nil {
		return nil, fmt.Errorf("read referral decisions of %s from sqlite warehouse %s: %w", snapshotID, w.path, err)
	}
	return out, nil
}

// ReadRows appends to out, a pointer to a slice of the row type of the
// snapshot table name (warehouse.Tables), that table's rows of date in
// insertion order; a column added to an older file reads as the zero value.
// The run only writes snapshots; this reads one back (sqlitetest).
func (w *Warehouse) ReadRows(ctx context.Context, name string, date civil.Date, out any) error {
	t, ok := w.table(name)
	if !ok {
		return fmt.Errorf("read %s from sqlite warehouse %s: no such snapshot table", name, w.path)
	}
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.Elem().Type() != reflect.SliceOf(t.RowType()) {
		return fmt.Errorf("read %s from sqlite warehouse %s: want a *[]%s, got %T", name, w.path, t.RowType(), out)
	}
	if err := w.query(ctx, t, v.Elem(), "snapshot_date = ?", date.String()); err != nil {
		return fmt.Errorf("read %v from sqlite warehouse %s: %s: %w", date, w.path, name, err)
	}
	return nil
}

// table returns the snapshot table named name.
func (w *Warehouse) table(name string) (table, bool) {
	for _, t := range w.tables {
		if t.Name == name {
			return t, true
		}
	}
	return table{}, false
}
