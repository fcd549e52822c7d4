package warehouse

import (
	"fmt"
	"iter"
	"reflect"

	"cloud.google.com/go/civil"
)

// Table describes one warehouse table for drivers: its name, its row type
// and how to read its rows from a Snapshot. Drivers derive their columns
// from the struct tags of Row, so every driver has the same columns.
type Table struct {
	Name string
	// Row is the zero value of the table's row struct (for example Run{}).
	Row  any
	rows func(s Snapshot) iter.Seq[any]
}

// RowType is the reflect.Type of the table's row struct.
func (t Table) RowType() reflect.Type { return reflect.TypeOf(t.Row) }

// Tables lists every warehouse table, in a fixed order.
func Tables() []Table {
	return []Table{
		{TableRuns, Run{}, func(s Snapshot) iter.Seq[any] { return anyRows(s.Runs) }},
		{TableCycleSummaries, CycleSummary{}, func(s Snapshot) iter.Seq[any] { return anyRows(s.CycleSummaries) }},
		{TableLeaderboardEntries, LeaderboardEntry{}, func(s Snapshot) iter.Seq[any] { return anyRows(s.LeaderboardEntries) }},
		{TableReferralDecisions, ReferralDecision{}, func(s Snapshot) iter.Seq[any] { return anyRows(s.ReferralDecisions) }},
		{TablePaymentAccounting, PaymentAccounting{}, func(s Snapshot) iter.Seq[any] { return anyRows(s.PaymentAccounting) }},
		{TableSubscriptions, Subscription{}, func(s Snapshot) iter.Seq[any] { return anyRows(s.Subscriptions) }},
	}
}

// anyRows is a table's typed sequence as rows of any type (pointers to the
// row struct), for drivers that read every table the same way.
func anyRows[T any](seq iter.Seq[*T]) iter.Seq[any] {
	return func(yield func(any) bool) {
		if seq == nil {
			return
		}
		for r := range seq {
			if !yield(r) {
				return
			}
		}
	}
}

// Rows yields the rows of one table, in order, each a pointer to the
// table's row struct (for example *Run), valid only until the next
// iteration step; it must not be modified. Each row's snapshot_date is
// checked against s.Date as it is yielded: a row of another date (or an
// unknown table) ends the sequence with a non-nil error and a nil row. A
// driver that stops at the first error before committing never replaces
// good rows with bad ones.
func (s Snapshot) Rows(table string) iter.Seq2[any, error] {
	return func(yield func(any, error) bool) {
		var rows iter.Seq[any]
		for _, t := range Tables() {
			if t.Name == table {
				rows = t.rows(s)
			}
		}
		if rows == nil {
			yield(nil, fmt.Errorf("validate snapshot: unknown table %q", table))
			return
		}
		i := 0
		for row := range rows {
			if d := rowDate(row); d != s.Date {
				yield(nil, fmt.Errorf("validate snapshot: %s row %d has snapshot_date %v, want %v", table, i, d, s.Date))
				return
			}
			if !yield(row, nil) {
				return
			}
			i++
		}
	}
}

// rowDate is a row's snapshot_date; the zero date for a value that is not
// a pointer to a row struct.
func rowDate(row any) civil.Date {
	switch r := row.(type) {
	case *Run:
		return r.SnapshotDate
	case *CycleSummary:
		return r.SnapshotDate
	case *LeaderboardEntry:
		return r.SnapshotDate
	case *ReferralDecision:
		return r.SnapshotDate
	case *PaymentAccounting:
		return r.SnapshotDate
	case *Subscription:
		return r.SnapshotDate
	}
	return civil.Date{}
}

// Validate checks what every driver relies on before it replaces a day:
// Date is a valid date and every row's snapshot_date equals it. It reads
// every table (rows are produced once, one at a time). Drivers check Date
// first and each row as they read it (Rows), so a bad snapshot never
// replaces good rows.
func (s Snapshot) Validate() error {
	if err := s.ValidateDate(); err != nil {
		return err
	}
	for _, t := range Tables() {
		for _, err := range s.Rows(t.Name) {
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// ValidateDate checks that Date is a valid date.
func (s Snapshot) ValidateDate() error {
	if !s.Date.IsValid() {
		return fmt.Errorf("validate snapshot: invalid date %v", s.Date)
	}
	return nil
}
