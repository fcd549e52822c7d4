package warehouse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"cloud.google.com/go/civil"
)

// TableSettlements is the settlement ledger (SPEC 2.8, 3.2): an append-only
// event log written only by `refrecon settle apply`. It is not one of
// Tables(): a run never writes, replaces or deletes its rows.
const TableSettlements = "settlements"

// Entry kinds of the ledger.
const (
	EntryAward    = "award"    // one per referrer with award > 0 in the cycle
	EntryReferral = "referral" // one per referrals row rewardEligible in the cycle
)

// Payout methods of an award entry.
const (
	MethodStripeCredit = "stripe_credit" // a Stripe customer balance credit (and the payout file)
	MethodPayoutFile   = "payout_file"   // the payout file only: finance pays by hand
)

// Entry states. pending is the state an entry is recorded with; done,
// unpayable, failed and skipped are where apply leaves it. failed is not
// final: the next apply tries again.
const (
	StatePending   = "pending"
	StateDone      = "done"
	StateUnpayable = "unpayable" // award: no or several Stripe customers match the referrer
	StateFailed    = "failed"    // award: Stripe refused the credit (a 4xx other than 401/403)
	StateSkipped   = "skipped"   // referral: the row is gone or changed since the snapshot
)

// Settlement is one row of the ledger: one state of one entry. An entry is
// identified by (cycle_id, entry_kind, refcode, referee_email); its state is
// the row with the greatest seq (1 for the row it is recorded with, then
// +1 per change). Every row of an entry repeats the entry's fields, so the
// latest row alone says everything about it.
type Settlement struct {
	SnapshotID   string     `bigquery:"snapshot_id" json:"snapshot_id"` // the snapshot the cycle is settled from
	SnapshotDate civil.Date `bigquery:"snapshot_date" json:"snapshot_date"`
	CycleID      string     `bigquery:"cycle_id" json:"cycle_id"`
	EntryKind    string     `bigquery:"entry_kind" json:"entry_kind"` // award | referral
	Refcode      string     `bigquery:"refcode" json:"refcode"`       // the referrer
	// RefereeEmail is the referrals row's email, raw as read (referral
	// entries; "" for awards): the key the source row is updated by.
	RefereeEmail         string    `bigquery:"referee_email" json:"referee_email"`
	ReferrerEmail        string    `bigquery:"referrer_email" json:"referrer_email"`
	StripeCustomerID     string    `bigquery:"stripe_customer_id" json:"stripe_customer_id"` // award: the one matched customer, "" when none or several
	Method               string    `bigquery:"method" json:"method"`                         // award: stripe_credit | payout_file; "" for referrals
	Currency             string    `bigquery:"currency" json:"currency"`
	AwardMinor           int64     `bigquery:"award_minor" json:"award_minor"` // award: minor units; 0 for referrals
	IdempotencyKey       string    `bigquery:"idempotency_key" json:"idempotency_key"`
	BalanceTransactionID string    `bigquery:"balance_transaction_id" json:"balance_transaction_id"`
	State                string    `bigquery:"state" json:"state"`
	Reason               string    `bigquery:"reason" json:"reason"`
	Seq                  int64     `bigquery:"seq" json:"seq"`
	RecordedAt           time.Time `bigquery:"recorded_at" json:"recorded_at"`
}

// SettlementRows yields pointers to rows' elements, as Snapshot.Rows
// yields a table's rows: the rows a driver's AppendSettlements inserts.
func SettlementRows(rows []Settlement) iter.Seq2[any, error] {
	return func(yield func(any, error) bool) {
		for r := range Values(rows) {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// EntryKey identifies a ledger entry within the whole ledger.
type EntryKey struct {
	CycleID, Kind, Refcode, RefereeEmail string
}

// Key is the entry this row is a state of.
func (s Settlement) Key() EntryKey {
	return EntryKey{s.CycleID, s.EntryKind, s.Refcode, s.RefereeEmail}
}

// Next is the row that moves s's entry to state with reason, recorded at
// at: a copy of s with the next seq.
func (s Settlement) Next(state, reason string, at time.Time) Settlement {
	n := s
	n.State, n.Reason, n.Seq, n.RecordedAt = state, reason, s.Seq+1, at.UTC()
	return n
}

// LedgerTable describes the settlements table for drivers (columns from the
// struct tags of Settlement, as for Tables()). Its Rows is nil: the table is
// never part of a Snapshot.
func LedgerTable() Table { return Table{Name: TableSettlements, Row: Settlement{}} }

// AllTables is Tables() followed by LedgerTable(): every table a warehouse
// holds (schemas, table creation).
func AllTables() []Table { return append(Tables(), LedgerTable()) }

// SettledCycle is a cycle with ledger entries and the snapshot it was
// settled from. A cycle counts as settled from the moment its entries are
// recorded (SPEC 2.8), whatever their states.
type SettledCycle struct {
	CycleID    string
	SnapshotID string
}

// LedgerDriver is what a warehouse driver implements for the ledger
// (sinks/sqlite, sinks/bigquery); use it through Ledger.
type LedgerDriver interface {
	// AppendSettlements appends rows to the ledger in one write that
	// either stores every row or none. When ifNoneFor is not "", it first
	// checks that the ledger has no row of cycle ifNoneFor, and appends
	// nothing (false, nil) when it has.
	AppendSettlements(ctx context.Context, rows []Settlement, ifNoneFor string) (bool, error)
	// ReadSettlements returns the ledger's rows of one cycle ("" = every
	// cycle), in no particular order. A missing table reads as empty. A
	// row may appear more than once (a retried append whose first attempt
	// was stored after all); Ledger drops such copies.
	ReadSettlements(ctx context.Context, cycleID string) ([]Settlement, error)
}

// Ledger is the settlement ledger over a driver. Its methods check what
// they append, so every driver stores only well-formed rows.
type Ledger struct{ d LedgerDriver }

// NewLedger returns the ledger stored by d.
func NewLedger(d LedgerDriver) *Ledger { return &Ledger{d: d} }

// ErrCycleRecorded is returned by Record when the ledger already has
// entries of the cycle (nothing was written).
var ErrCycleRecorded = errors.New("the ledger already has entries of this cycle")

// Record records the first rows of one cycle's entries (seq 1, one per
// entry, every row of the same cycle and snapshot) in one write, only if
// the ledger has no entry of that cycle; otherwise it writes nothing and
// returns ErrCycleRecorded. An empty entries is an error: a cycle is
// recorded as settled by its entries.
func (l *Ledger) Record(ctx context.Context, entries []Settlement) error {
	if len(entries) == 0 {
		return errors.New("record settlement: no entries")
	}
	c, snap := entries[0].CycleID, entries[0].SnapshotID
	seen := map[EntryKey]bool{}
	for i, e := range entries {
		if err := e.validate(); err != nil {
			return fmt.Errorf("record settlement of %s: entry %d: %w", c, i, err)
		}
		if e.CycleID != c || e.SnapshotID != snap {
			return fmt.Errorf("record settlement of %s from %s: entry %d is of %s from %s", c, snap, i, e.CycleID, e.SnapshotID)
		}
		if e.Seq != 1 {
			return fmt.Errorf("record settlement of %s: entry %d has seq %d, want 1", c, i, e.Seq)
		}
		if seen[e.Key()] {
			return fmt.Errorf("record settlement of %s: entry %d (%s %s %s) is recorded twice", c, i, e.EntryKind, e.Refcode, e.RefereeEmail)
		}
		seen[e.Key()] = true
	}
	ok, err := l.d.AppendSettlements(ctx, entries, c)
	if err != nil {
		return fmt.Errorf("record settlement of %s: %w", c, err)
	}
	if !ok {
		return fmt.Errorf("record settlement of %s: %w", c, ErrCycleRecorded)
	}
	return nil
}

// Append appends state changes of recorded entries (rows made with
// Settlement.Next), in one write.
func (l *Ledger) Append(ctx context.Context, rows ...Settlement) error {
	if len(rows) == 0 {
		return nil
	}
	for i, r := range rows {
		if err := r.validate(); err != nil {
			return fmt.Errorf("append to settlement ledger: row %d: %w", i, err)
		}
		if r.Seq < 2 {
			return fmt.Errorf("append to settlement ledger: row %d (%s %s %s) has seq %d: a change has seq >= 2 (Settlement.Next)", i, r.EntryKind, r.Refcode, r.RefereeEmail, r.Seq)
		}
	}
	if _, err := l.d.AppendSettlements(ctx, rows, ""); err != nil {
		return fmt.Errorf("append to settlement ledger: %w", err)
	}
	return nil
}

// Entries returns the latest row of every entry of cycle: awards first,
// then referral rows, each by refcode and referee email (bytewise). A
// cycle without entries gives none.
func (l *Ledger) Entries(ctx context.Context, cycleID string) ([]Settlement, error) {
	rows, err := l.d.ReadSettlements(ctx, cycleID)
	if err != nil {
		return nil, fmt.Errorf("read settlement ledger of %s: %w", cycleID, err)
	}
	out, err := Latest(rows)
	if err != nil {
		return nil, fmt.Errorf("read settlement ledger of %s: %w", cycleID, err)
	}
	return out, nil
}

// History returns every row of cycle's entries (copies dropped), by entry
// (as Entries orders them) and seq.
func (l *Ledger) History(ctx context.Context, cycleID string) ([]Settlement, error) {
	rows, err := l.d.ReadSettlements(ctx, cycleID)
	if err != nil {
		return nil, fmt.Errorf("read settlement ledger of %s: %w", cycleID, err)
	}
	rows = dedupe(rows)
	slices.SortFunc(rows, func(a, b Settlement) int {
		return cmp.Or(compareKeys(a.Key(), b.Key()), cmp.Compare(a.Seq, b.Seq))
	})
	return rows, nil
}

// SettledCycles lists every cycle the ledger has entries of, with the
// snapshot it was settled from, by cycle id.
func (l *Ledger) SettledCycles(ctx context.Context) ([]SettledCycle, error) {
	rows, err := l.d.ReadSettlements(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("read settled cycles: %w", err)
	}
	return SettledCycles(rows)
}

// SettledCycles gives the settled cycles of a ledger's rows, by cycle id.
// A cycle whose rows name two snapshots is an error (a ledger refrecon
// never writes).
func SettledCycles(rows []Settlement) ([]SettledCycle, error) {
	from := map[string]string{}
	for _, r := range rows {
		if s, ok := from[r.CycleID]; ok && s != r.SnapshotID {
			return nil, fmt.Errorf("settlement ledger: cycle %s has rows of snapshots %s and %s", r.CycleID, min(s, r.SnapshotID), max(s, r.SnapshotID))
		}
		from[r.CycleID] = r.SnapshotID
	}
	out := make([]SettledCycle, 0, len(from))
	for c, s := range from {
		out = append(out, SettledCycle{CycleID: c, SnapshotID: s})
	}
	slices.SortFunc(out, func(a, b SettledCycle) int { return cmp.Compare(a.CycleID, b.CycleID) })
	return out, nil
}

// Latest reduces ledger rows to each entry's latest row (greatest seq),
// ordered as Entries orders them. Two different rows with the same entry and
// seq are an error (two writers; refrecon's lock prevents it).
func Latest(rows []Settlement) ([]Settlement, error) {
	latest := map[EntryKey]Settlement{}
	for _, r := range rows {
		cur, ok := latest[r.Key()]
		switch {
		case !ok || r.Seq > cur.Seq:
			latest[r.Key()] = r
		case r.Seq == cur.Seq && !sameRow(r, cur):
			return nil, fmt.Errorf("entry %s %s %s of %s has two different rows with seq %d", r.EntryKind, r.Refcode, r.RefereeEmail, r.CycleID, r.Seq)
		}
	}
	out := make([]Settlement, 0, len(latest))
	for _, r := range latest {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Settlement) int { return compareKeys(a.Key(), b.Key()) })
	return out, nil
}

func dedupe(rows []Settlement) []Settlement {
	type k struct {
		EntryKey
		seq int64
	}
	seen := map[k]bool{}
	out := rows[:0:0]
	for _, r := range rows {
		if key := (k{r.Key(), r.Seq}); !seen[key] {
			seen[key] = true
			out = append(out, r)
		}
	}
	return out
}

func sameRow(a, b Settlement) bool {
	if !a.RecordedAt.Equal(b.RecordedAt) {
		return false
	}
	a.RecordedAt, b.RecordedAt = time.Time{}, time.Time{}
	return a == b
}

func kindOrder(k string) int {
	if k == EntryAward {
		return 0
	}
	return 1
}

func compareKeys(a, b EntryKey) int {
	return cmp.Or(cmp.Compare(a.CycleID, b.CycleID), cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)),
		cmp.Compare(a.Refcode, b.Refcode), cmp.Compare(a.RefereeEmail, b.RefereeEmail))
}

// validate checks one row's fields.
func (s Settlement) validate() error {
	switch {
	case s.SnapshotID == "" || s.CycleID == "":
		return errors.New("snapshot_id and cycle_id are required")
	case !s.SnapshotDate.IsValid():
		return fmt.Errorf("invalid snapshot_date %v", s.SnapshotDate)
	case s.Refcode == "":
		return errors.New("refcode is required")
	case s.Seq < 1:
		return fmt.Errorf("seq %d, want >= 1", s.Seq)
	case s.RecordedAt.IsZero():
		return errors.New("recorded_at is required")
	}
	switch s.EntryKind {
	case EntryAward:
		if s.Method != MethodStripeCredit && s.Method != MethodPayoutFile {
			return fmt.Errorf("award of %s: method %q, want %s or %s", s.Refcode, s.Method, MethodStripeCredit, MethodPayoutFile)
		}
		if s.AwardMinor <= 0 || s.RefereeEmail != "" {
			return fmt.Errorf("award of %s: want award_minor > 0 and no referee_email", s.Refcode)
		}
		if !slices.Contains([]string{StatePending, StateDone, StateUnpayable, StateFailed}, s.State) {
			return fmt.Errorf("award of %s: state %q", s.Refcode, s.State)
		}
	case EntryReferral:
		if s.RefereeEmail == "" || s.AwardMinor != 0 || s.Method != "" {
			return fmt.Errorf("referral %q: want a referee_email, no award_minor and no method", s.RefereeEmail)
		}
		if !slices.Contains([]string{StatePending, StateDone, StateSkipped}, s.State) {
			return fmt.Errorf("referral %q: state %q", s.RefereeEmail, s.State)
		}
	default:
		return fmt.Errorf("entry_kind %q, want %s or %s", s.EntryKind, EntryAward, EntryReferral)
	}
	return nil
}
