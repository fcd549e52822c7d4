package warehouse

import (
	"fmt"
	"iter"
	"reflect"
	"slices"

	"cloud.google.com/go/civil"
)

// Table describes one warehouse table for drivers: its name, its row type and
// how to reach its rows in a Snapshot. Drivers derive their columns from the
// struct tags of Row, so every driver has the same columns.
type Table struct {
	Name string
	// Row is the zero value of the table's row struct (for example Run{}).
	Row any
	// Rows returns a pointer to the snapshot's slice of this table's rows
	// (for example *[]Run), for reading or appending. It does not include
	// the rows of a snapshot's generator: read those with Snapshot.Rows.
	Rows func(s *Snapshot) any
}

// RowType is the reflect.Type of the table's row struct.
func (t Table) RowType() reflect.Type { return reflect.TypeOf(t.Row) }

// Tables lists every warehouse table, in a fixed order.
func Tables() []Table {
	return []Table{
		{TableRuns, Run{}, func(s *Snapshot) any { return &s.Runs }},
		{TableCycleSummaries, CycleSummary{}, func(s *Snapshot) any { return &s.CycleSummaries }},
		{TableLeaderboardEntries, LeaderboardEntry{}, func(s *Snapshot) any { return &s.LeaderboardEntries }},
		{TableReferralDecisions, ReferralDecision{}, func(s *Snapshot) any { return &s.ReferralDecisions }},
		{TablePaymentAccounting, PaymentAccounting{}, func(s *Snapshot) any { return &s.PaymentAccounting }},
		{TableSubscriptions, Subscription{}, func(s *Snapshot) any { return &s.Subscriptions }},
	}
}

func knownTable(name string) bool {
	switch name {
	case TableRuns, TableCycleSummaries, TableLeaderboardEntries, TableReferralDecisions, TablePaymentAccounting, TableSubscriptions:
		return true
	}
	return false
}

// Streamed returns a snapshot of date whose rows are produced by rows each
// time a table is read, instead of being held in memory. rows(table) yields
// pointers to the table's row struct (*Run for runs, *ReferralDecision for
// referral_decisions, ...), in order. A yielded row (and the slices it
// refers to) need only stay valid until the next row is asked for, so a
// generator may reuse one variable; readers copy what they keep. rows may be
// called any number of times and must yield the same rows each time.
func Streamed(date civil.Date, rows func(table string) iter.Seq[any]) Snapshot {
	return Snapshot{Date: date, gen: rows}
}

// Rows yields the rows of one table, in order: the rows in s's slice, then
// the rows s's generator produces. Each row is a pointer to the table's row
// struct (for example *Run), valid only until the next iteration step; it
// must not be modified. Each row's snapshot_date is checked against s.Date
// as it is yielded: a row of another date (or an unknown table) ends the
// sequence with a non-nil error and a nil row. A driver that stops at the
// first error before committing never replaces good rows with bad ones.
func (s Snapshot) Rows(table string) iter.Seq2[any, error] {
	return func(yield func(any, error) bool) {
		if !knownTable(table) {
			yield(nil, fmt.Errorf("validate snapshot: unknown table %q", table))
			return
		}
		i := 0
		for row := range s.rows(table) {
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

// rows yields a table's rows, unchecked.
func (s Snapshot) rows(table string) iter.Seq[any] {
	return func(yield func(any) bool) {
		if !each(s.sliceRows(table), yield) {
			return
		}
		if s.gen != nil {
			for row := range s.gen(table) {
				if !yield(row) {
					return
				}
			}
		}
	}
}

// sliceRows yields pointers into the table's slice.
func (s Snapshot) sliceRows(table string) iter.Seq[any] {
	switch table {
	case TableRuns:
		return ptrs(s.Runs)
	case TableCycleSummaries:
		return ptrs(s.CycleSummaries)
	case TableLeaderboardEntries:
		return ptrs(s.LeaderboardEntries)
	case TableReferralDecisions:
		return ptrs(s.ReferralDecisions)
	case TablePaymentAccounting:
		return ptrs(s.PaymentAccounting)
	case TableSubscriptions:
		return ptrs(s.Subscriptions)
	}
	return func(func(any) bool) {}
}

func ptrs[T any](rows []T) iter.Seq[any] {
	return func(yield func(any) bool) {
		for i := range rows {
			if !yield(&rows[i]) {
				return
			}
		}
	}
}

func each(seq iter.Seq[any], yield func(any) bool) bool {
	for v := range seq {
		if !yield(v) {
			return false
		}
	}
	return true
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

// Collect returns s with every table's rows in its slices: the generator's
// rows are produced and copied (with their repeated fields), and the result
// has no generator. For tests and comparisons: it holds every row at once.
func Collect(s Snapshot) Snapshot {
	out := Snapshot{Date: s.Date}
	for row := range s.rows(TableRuns) {
		r := *row.(*Run)
		r.Notes = slices.Clone(r.Notes)
		out.Runs = append(out.Runs, r)
	}
	for row := range s.rows(TableCycleSummaries) {
		out.CycleSummaries = append(out.CycleSummaries, *row.(*CycleSummary))
	}
	for row := range s.rows(TableLeaderboardEntries) {
		out.LeaderboardEntries = append(out.LeaderboardEntries, *row.(*LeaderboardEntry))
	}
	for row := range s.rows(TableReferralDecisions) {
		r := *row.(*ReferralDecision)
		r.Conversions = slices.Clone(r.Conversions)
		out.ReferralDecisions = append(out.ReferralDecisions, r)
	}
	for row := range s.rows(TablePaymentAccounting) {
		out.PaymentAccounting = append(out.PaymentAccounting, *row.(*PaymentAccounting))
	}
	for row := range s.rows(TableSubscriptions) {
		r := *row.(*Subscription)
		r.PriceIDs = slices.Clone(r.PriceIDs)
		out.Subscriptions = append(out.Subscriptions, r)
	}
	return out
}

// Validate checks what every driver relies on before it replaces a day:
// Date is a valid date and every row's snapshot_date equals it. It reads
// every table (a streamed snapshot's rows are produced once, one at a
// time). Drivers check Date first and each row as they read it (Rows), so a
// bad snapshot never replaces good rows.
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
