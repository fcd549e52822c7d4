package bigquery

import (
	"context"
	"errors"
	"fmt"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/iterator"

	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sources/retry"
)

// The settlement ledger (warehouse.LedgerDriver) is the settlements table,
// day-partitioned on snapshot_date (the settled snapshot's date) like the
// others but never loaded by WriteSnapshot. Rows are appended with load jobs
// (WRITE_APPEND on the bare table; a load job stores all its rows or none),
// and read back with tabledata.list over the whole table (a ledger holds a
// few rows per referrer per settled cycle).
//
// BigQuery has no transaction spanning a read and a load job, so the
// "append only if the cycle has no rows" of AppendSettlements is a read
// followed by a load: it is one transaction only because every writer
// (refrecon settle apply) holds the PUBLIC_DIR lock while it writes. A load
// retried after a lost answer may store its rows twice; the copies are
// identical (same entry and seq) and warehouse.Ledger drops them.

var _ warehouse.LedgerDriver = (*Warehouse)(nil)

// AppendSettlements appends rows in one load job; with ifNoneFor set it
// first reads the ledger and appends nothing (false, nil) when it has a row
// of that cycle. The dataset and table are created when missing.
func (w *Warehouse) AppendSettlements(ctx context.Context, rows []warehouse.Settlement, ifNoneFor string) (bool, error) {
	ok, err := w.appendSettlements(ctx, rows, ifNoneFor)
	if err != nil {
		return false, fmt.Errorf("append to the bigquery settlement ledger: %w", err)
	}
	return ok, nil
}

func (w *Warehouse) appendSettlements(ctx context.Context, rows []warehouse.Settlement, ifNoneFor string) (bool, error) {
	media := &spool{dir: w.cfg.TempDir}
	defer media.remove()
	if err := encodeRows(ctx, media, warehouse.SettlementRows(rows)); err != nil {
		return false, fmt.Errorf("encode: %w", err)
	}
	if err := w.ensureDataset(ctx); err != nil {
		return false, err
	}
	if err := w.ensureTable(ctx, warehouse.LedgerTable()); err != nil {
		return false, err
	}
	if ifNoneFor != "" {
		have, err := w.readSettlements(ctx, ifNoneFor)
		if err != nil {
			return false, err
		}
		if len(have) > 0 {
			return false, nil
		}
	}
	_, err := retry.Do(ctx, w.cfg.Retry, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, classify(w.loadOnce(ctx, warehouse.TableSettlements, "refrecon_settlements", bq.WriteAppend, media))
	})
	if err != nil {
		return false, fmt.Errorf("load %s: %w", warehouse.TableSettlements, err)
	}
	return true, nil
}

// ReadSettlements returns the ledger's rows of cycleID ("" = all). A
// missing table reads as empty.
func (w *Warehouse) ReadSettlements(ctx context.Context, cycleID string) ([]warehouse.Settlement, error) {
	rows, err := w.readSettlements(ctx, cycleID)
	if err != nil {
		return nil, fmt.Errorf("read the bigquery settlement ledger: %w", err)
	}
	return rows, nil
}

func (w *Warehouse) readSettlements(ctx context.Context, cycleID string) ([]warehouse.Settlement, error) {
	rows, err := readRows(ctx, w.ds.Table(warehouse.TableSettlements), func(r *warehouse.Settlement) bool {
		return cycleID == "" || r.CycleID == cycleID
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", warehouse.TableSettlements, err)
	}
	return rows, nil
}

// readRows reads the rows of t that keep keeps, in the table's order; a
// missing table reads as none.
func readRows[T any](ctx context.Context, t *bq.Table, keep func(*T) bool) ([]T, error) {
	it := t.Read(ctx)
	var out []T
	for {
		var r T
		err := it.Next(&r)
		if errors.Is(err, iterator.Done) || isHTTP(err, 404) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if keep(&r) {
			out = append(out, r)
		}
	}
}

// ReferralDecisions returns the referral_decisions rows of one snapshot
// (its date's partition, filtered on snapshot_id): what `settle` marks
// rewarded is read from the snapshot it settles (SPEC 2.8). A missing table
// or a snapshot whose rows are gone gives none.
func (w *Warehouse) ReferralDecisions(ctx context.Context, date civil.Date, snapshotID string) ([]warehouse.ReferralDecision, error) {
	rows, err := readRows(ctx, w.ds.Table(partition(warehouse.TableReferralDecisions, date)), func(r *warehouse.ReferralDecision) bool {
		return r.SnapshotID == snapshotID
	})
	if err != nil {
		return nil, fmt.Errorf("read bigquery referral decisions of %s: %w", snapshotID, err)
	}
	return rows, nil
}
