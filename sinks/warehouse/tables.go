package warehouse

import (
	"fmt"
	"reflect"
)

// Table describes one warehouse table for drivers: its name, its row type and
// how to reach its rows in a Snapshot. Drivers derive their columns from the
// struct tags of Row, so every driver has the same columns.
type Table struct {
	Name string
	// Row is the zero value of the table's row struct (for example Run{}).
	Row any
	// Rows returns a pointer to the snapshot's slice of this table's rows
	// (for example *[]Run), for reading or appending.
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

// Validate checks what every driver relies on before it replaces a day:
// Date is a valid date and every row's snapshot_date equals it. Drivers call
// it first, so a bad snapshot never replaces good rows.
func (s Snapshot) Validate() error {
	if !s.Date.IsValid() {
		return fmt.Errorf("validate snapshot: invalid date %v", s.Date)
	}
	for _, t := range Tables() {
		rows := reflect.ValueOf(t.Rows(&s)).Elem()
		for i := 0; i < rows.Len(); i++ {
			d := rows.Index(i).FieldByName("SnapshotDate").Interface()
			if d != s.Date {
				return fmt.Errorf("validate snapshot: %s row %d has snapshot_date %v, want %v", t.Name, i, d, s.Date)
			}
		}
	}
	return nil
}
