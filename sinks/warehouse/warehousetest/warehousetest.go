// Package warehousetest is the conformance suite every warehouse driver
// (sinks/sqlite, sinks/bigquery) must pass, in the style of go-cloud's
// drivertest: a driver's test calls Run with a function that opens a fresh,
// empty warehouse.
//
// What the suite checks:
//   - a snapshot with every table populated (repeated fields, Unicode and
//     control characters, zero and non-UTC times, int64 extremes, floats)
//     reads back equal;
//   - writing a snapshot replaces the rows of its date: writing the same date
//     again never duplicates rows, and a smaller snapshot (or one with empty
//     tables) leaves no stale rows behind;
//   - snapshots of different dates are kept apart;
//   - reading a date never written gives an empty snapshot, not an error;
//   - a snapshot whose rows are produced one at a time in a reused
//     variable (Stream, as warehouse.FromResult's are) is written like one
//     held in slices;
//   - a snapshot that fails Validate (also when the bad row is only met
//     while streaming, after other rows were written), or a write under a
//     cancelled context, returns an error and leaves the rows already
//     stored untouched;
//   - a driver that stages (Stage, warehouse.Staged): a staged snapshot is
//     not read back until it is committed, and then replaces the day; an
//     aborted one, or one whose Stage context is cancelled before the
//     commit, leaves the rows already stored; Commit after Abort fails.
//
// Comparison rules: row order within a table is not part of the contract
// (rows are sorted before comparing); times are compared as instants in UTC
// at microsecond precision (BigQuery TIMESTAMP precision; the sample's times
// are whole seconds, as the pipeline only produces Unix seconds); a nil and
// an empty repeated field are equal.
package warehousetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"reflect"
	"sort"
	"testing"
	"time"

	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/sinks/warehouse"
)

// Driver is a warehouse under test: the driver's WriteSnapshot and Close,
// and ReadDay, which the driver's test implements (a run never reads a
// snapshot back, so the drivers' interfaces have no such read; the suite
// needs one to check what was stored).
type Driver interface {
	WriteSnapshot(ctx context.Context, s warehouse.Snapshot) error
	Close() error
	// ReadDay returns every row stored for date; a date never written
	// gives a Day with no rows, not an error.
	ReadDay(ctx context.Context, date civil.Date) (Day, error)
}

// Stager is a Driver that can stage a snapshot before committing it; Run
// checks staging for drivers that implement it.
type Stager interface {
	Stage(ctx context.Context, s warehouse.Snapshot) (warehouse.Staged, error)
}

// Day is a snapshot held in slices: what Sample builds and what ReadDay
// returns, for comparisons.
type Day struct {
	Date               civil.Date
	Runs               []warehouse.Run
	CycleSummaries     []warehouse.CycleSummary
	LeaderboardEntries []warehouse.LeaderboardEntry
	ReferralDecisions  []warehouse.ReferralDecision
	PaymentAccounting  []warehouse.PaymentAccounting
	Subscriptions      []warehouse.Subscription
}

// Snapshot is d as a warehouse.Snapshot whose sequences yield pointers
// into d's slices.
func (d Day) Snapshot() warehouse.Snapshot {
	return warehouse.Snapshot{
		Date:               d.Date,
		Runs:               warehouse.Values(d.Runs),
		CycleSummaries:     warehouse.Values(d.CycleSummaries),
		LeaderboardEntries: warehouse.Values(d.LeaderboardEntries),
		ReferralDecisions:  warehouse.Values(d.ReferralDecisions),
		PaymentAccounting:  warehouse.Values(d.PaymentAccounting),
		Subscriptions:      warehouse.Values(d.Subscriptions),
	}
}

// Table returns a pointer to d's slice of the named table's rows (for
// example *[]warehouse.Run), for a driver's ReadDay to append to; nil for
// an unknown table.
func (d *Day) Table(name string) any {
	switch name {
	case warehouse.TableRuns:
		return &d.Runs
	case warehouse.TableCycleSummaries:
		return &d.CycleSummaries
	case warehouse.TableLeaderboardEntries:
		return &d.LeaderboardEntries
	case warehouse.TableReferralDecisions:
		return &d.ReferralDecisions
	case warehouse.TablePaymentAccounting:
		return &d.PaymentAccounting
	case warehouse.TableSubscriptions:
		return &d.Subscriptions
	}
	return nil
}

// Collect reads every table of s into a Day, copying each row (and its
// repeated fields, which a generator may reuse).
func Collect(s warehouse.Snapshot) Day {
	out := Day{Date: s.Date}
	for _, tb := range warehouse.Tables() {
		dst := reflect.ValueOf(out.Table(tb.Name)).Elem()
		for row := range s.Rows(tb.Name) {
			if row == nil {
				break // a row of another date: Collect keeps what came before it
			}
			dst.Set(reflect.Append(dst, deepCopy(reflect.ValueOf(row).Elem())))
		}
	}
	return out
}

// deepCopy copies a row struct with its slices.
func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(deepCopy(v.Index(i)))
		}
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.Kind() == reflect.Slice && out.Field(i).CanSet() {
				out.Field(i).Set(deepCopy(f))
			}
		}
		return out
	}
	return v
}

// Run runs the conformance suite. open must return a new, empty warehouse
// each time it is called; the suite closes it.
func Run(t *testing.T, open func(t *testing.T) Driver) {
	ctx := context.Background()
	d1 := civil.Date{Year: 2026, Month: 4, Day: 15}
	d2 := civil.Date{Year: 2026, Month: 4, Day: 16}

	withDriver := func(t *testing.T, f func(t *testing.T, d Driver)) {
		t.Helper()
		d := open(t)
		defer func() {
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}()
		f(t, d)
	}

	t.Run("RoundTrip", func(t *testing.T) {
		withDriver(t, func(t *testing.T, d Driver) {
			want := Sample(d1, "20260415T000000Z-aaaaaaaaaaaa")
			mustWrite(ctx, t, d, want)
			Check(ctx, t, d, want)
		})
	})

	t.Run("RewriteSameDateReplaces", func(t *testing.T) {
		withDriver(t, func(t *testing.T, d Driver) {
			first := Sample(d1, "20260415T000000Z-aaaaaaaaaaaa")
			mustWrite(ctx, t, d, first)
			mustWrite(ctx, t, d, first)
			Check(ctx, t, d, first) // one copy, not two

			// A re-run of the same day with other results: only the new
			// rows remain, including in tables that shrank.
			second := Sample(d1, "20260415T060000Z-bbbbbbbbbbbb")
			second.LeaderboardEntries = second.LeaderboardEntries[:1]
			second.ReferralDecisions = second.ReferralDecisions[1:2]
			second.PaymentAccounting = nil
			mustWrite(ctx, t, d, second)
			Check(ctx, t, d, second)
		})
	})

	t.Run("EmptyTablesReplaceDay", func(t *testing.T) {
		withDriver(t, func(t *testing.T, d Driver) {
			mustWrite(ctx, t, d, Sample(d1, "20260415T000000Z-aaaaaaaaaaaa"))
			empty := Day{Date: d1}
			mustWrite(ctx, t, d, empty)
			Check(ctx, t, d, empty)

			onlyRun := Sample(d1, "20260415T010000Z-cccccccccccc")
			onlyRun = Day{Date: d1, Runs: onlyRun.Runs}
			onlyRun.Runs[0].Notes = nil
			mustWrite(ctx, t, d, onlyRun)
			Check(ctx, t, d, onlyRun)
		})
	})

	t.Run("DatesAreSeparate", func(t *testing.T) {
		withDriver(t, func(t *testing.T, d Driver) {
			a := Sample(d1, "20260415T000000Z-aaaaaaaaaaaa")
			b := Sample(d2, "20260416T000000Z-dddddddddddd")
			b.LeaderboardEntries = b.LeaderboardEntries[1:]
			mustWrite(ctx, t, d, a)
			mustWrite(ctx, t, d, b)
			Check(ctx, t, d, a)
			Check(ctx, t, d, b)

			// Replacing one day leaves the other alone.
			b2 := Sample(d2, "20260416T120000Z-eeeeeeeeeeee")
			mustWrite(ctx, t, d, b2)
			Check(ctx, t, d, a)
			Check(ctx, t, d, b2)
		})
	})

	t.Run("ReadUnknownDateIsEmpty", func(t *testing.T) {
		withDriver(t, func(t *testing.T, d Driver) {
			Check(ctx, t, d, Day{Date: d2})
			mustWrite(ctx, t, d, Sample(d1, "20260415T000000Z-aaaaaaaaaaaa"))
			Check(ctx, t, d, Day{Date: d2})
		})
	})

	t.Run("StreamedRoundTrip", func(t *testing.T) {
		withDriver(t, func(t *testing.T, d Driver) {
			want := Sample(d1, "20260415T000000Z-aaaaaaaaaaaa")
			mustWrite(ctx, t, d, Stream(want))
			Check(ctx, t, d, want)

			// A snapshot mixing tables held in slices and generated ones.
			mixed := Sample(d1, "20260415T060000Z-bbbbbbbbbbbb")
			rest := Stream(Day{Date: d1, ReferralDecisions: mixed.ReferralDecisions, Subscriptions: mixed.Subscriptions})
			rest.Runs = warehouse.Values(mixed.Runs)
			mustWrite(ctx, t, d, rest)
			Check(ctx, t, d, Day{Date: d1, Runs: mixed.Runs, ReferralDecisions: mixed.ReferralDecisions, Subscriptions: mixed.Subscriptions})
		})
	})

	// A write that fails leaves the rows written before it, and writes no
	// rows of another day.
	for _, c := range []struct {
		name string
		fail func(t *testing.T, d Driver)
	}{
		{"InvalidSnapshotLeavesRows", func(t *testing.T, d Driver) {
			bad := Sample(d1, "20260415T060000Z-bbbbbbbbbbbb")
			bad.PaymentAccounting[1].SnapshotDate = d2 // row of another day
			if err := d.WriteSnapshot(ctx, bad.Snapshot()); err == nil {
				t.Errorf("WriteSnapshot with a row of another date: got nil error")
			}
			if err := d.WriteSnapshot(ctx, warehouse.Snapshot{}); err == nil {
				t.Errorf("WriteSnapshot with a zero date: got nil error")
			}
		}},
		{"StreamedInvalidRowLeavesRows", func(t *testing.T, d Driver) {
			// The bad row comes late in the snapshot's last table: the
			// driver has already read (and perhaps written) other rows.
			bad := Sample(d1, "20260415T060000Z-bbbbbbbbbbbb")
			bad.Subscriptions[1].SnapshotDate = d2
			if err := d.WriteSnapshot(ctx, Stream(bad)); err == nil {
				t.Errorf("WriteSnapshot of a streamed snapshot with a row of another date: got nil error")
			}
		}},
		{"CancelledContextLeavesRows", func(t *testing.T, d Driver) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := d.WriteSnapshot(cctx, Sample(d1, "20260415T060000Z-bbbbbbbbbbbb").Snapshot()); err == nil {
				t.Errorf("WriteSnapshot with a cancelled context: got nil error")
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			withDriver(t, func(t *testing.T, d Driver) {
				good := Sample(d1, "20260415T000000Z-aaaaaaaaaaaa")
				mustWrite(ctx, t, d, good)
				c.fail(t, d)
				Check(ctx, t, d, good)
				Check(ctx, t, d, Day{Date: d2})
			})
		})
	}
	runStaged(t, withDriver)
}

// runStaged checks Stage and its Staged (Stager drivers).
func runStaged(t *testing.T, withDriver func(t *testing.T, f func(t *testing.T, d Driver))) {
	ctx := context.Background()
	d1 := civil.Date{Year: 2026, Month: 4, Day: 15}
	stage := func(ctx context.Context, t *testing.T, d Driver, s Day) warehouse.Staged {
		t.Helper()
		st, ok := d.(Stager)
		if !ok {
			t.Skip("the driver does not stage")
		}
		staged, err := st.Stage(ctx, Stream(s))
		if err != nil {
			t.Fatalf("Stage(%v): %v", s.Date, err)
		}
		return staged
	}
	good := Sample(d1, "20260415T000000Z-aaaaaaaaaaaa")
	next := Sample(d1, "20260415T060000Z-bbbbbbbbbbbb")
	next.PaymentAccounting = next.PaymentAccounting[:1]

	t.Run("StagedCommitReplaces", func(t *testing.T) {
		withDriver(t, func(t *testing.T, d Driver) {
			mustWrite(ctx, t, d, good)
			staged := stage(ctx, t, d, next)
			Check(ctx, t, d, good) // not visible before the commit
			if err := staged.Commit(ctx); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			Check(ctx, t, d, next)
			if err := staged.Abort(); err != nil {
				t.Errorf("Abort after Commit: %v", err)
			}
			Check(ctx, t, d, next)
		})
	})
	t.Run("StagedAbortLeavesRows", func(t *testing.T) {
		withDriver(t, func(t *testing.T, d Driver) {
			mustWrite(ctx, t, d, good)
			staged := stage(ctx, t, d, next)
			if err := staged.Abort(); err != nil {
				t.Fatalf("Abort: %v", err)
			}
			if err := staged.Abort(); err != nil {
				t.Errorf("second Abort: %v", err)
			}
			if err := staged.Commit(ctx); err == nil {
				t.Errorf("Commit after Abort: got nil error")
			}
			Check(ctx, t, d, good)
			// The driver is usable again.
			mustWrite(ctx, t, d, next)
			Check(ctx, t, d, next)
		})
	})
	t.Run("StagedCancelledLeavesRows", func(t *testing.T) {
		withDriver(t, func(t *testing.T, d Driver) {
			mustWrite(ctx, t, d, good)
			sctx, cancel := context.WithCancel(ctx)
			staged := stage(sctx, t, d, next)
			cancel()
			if err := staged.Commit(ctx); err == nil {
				t.Errorf("Commit after Stage's context was cancelled: got nil error")
			}
			if err := staged.Abort(); err != nil {
				t.Errorf("Abort after a failed Commit: %v", err)
			}
			Check(ctx, t, d, good)
		})
	})
}

// Stream returns d as a snapshot whose sequences copy each row, one at a
// time, into one variable that is yielded and then overwritten (repeated
// fields too), as warehouse.FromResult's do: a driver that keeps a yielded
// row instead of copying it stores wrong rows.
func Stream(d Day) warehouse.Snapshot {
	return warehouse.Snapshot{
		Date:               d.Date,
		Runs:               reused(d.Runs),
		CycleSummaries:     reused(d.CycleSummaries),
		LeaderboardEntries: reused(d.LeaderboardEntries),
		ReferralDecisions:  reused(d.ReferralDecisions),
		PaymentAccounting:  reused(d.PaymentAccounting),
		Subscriptions:      reused(d.Subscriptions),
	}
}

func reused[T any](rows []T) iter.Seq[*T] {
	return func(yield func(*T) bool) {
		cur := reflect.New(reflect.TypeFor[T]())
		for i := range rows {
			cur.Elem().Set(reuse(cur.Elem(), reflect.ValueOf(rows[i])))
			if !yield(cur.Interface().(*T)) {
				return
			}
		}
	}
}

// reuse copies row, putting its repeated fields into the backing arrays of
// prev's where they fit (as a generator reusing buffers does).
func reuse(prev, row reflect.Value) reflect.Value {
	out := reflect.New(row.Type()).Elem()
	out.Set(row)
	for i := 0; i < row.NumField(); i++ {
		f := row.Field(i)
		if f.Kind() != reflect.Slice || f.Len() == 0 {
			continue
		}
		buf := prev.Field(i)
		if buf.Cap() < f.Len() {
			buf = reflect.MakeSlice(f.Type(), f.Len(), f.Len()*2)
		}
		buf = buf.Slice(0, f.Len())
		reflect.Copy(buf, f)
		out.Field(i).Set(buf)
	}
	return out
}

// mustWrite writes s, a Day (as Day.Snapshot) or a warehouse.Snapshot.
func mustWrite(ctx context.Context, t *testing.T, d Driver, s any) {
	t.Helper()
	snap, ok := s.(warehouse.Snapshot)
	if day, isDay := s.(Day); isDay {
		snap, ok = day.Snapshot(), true
	}
	if !ok {
		t.Fatalf("mustWrite: %T", s)
	}
	if err := d.WriteSnapshot(ctx, snap); err != nil {
		t.Fatalf("WriteSnapshot(%v): %v", snap.Date, err)
	}
}

// Check reads want.Date back from d and reports every difference from want.
func Check(ctx context.Context, t *testing.T, d Driver, want Day) {
	t.Helper()
	got, err := d.ReadDay(ctx, want.Date)
	if err != nil {
		t.Fatalf("ReadDay(%v): %v", want.Date, err)
	}
	if diff := Diff(want, got); diff != "" {
		t.Errorf("ReadDay(%v) differs from what was written:\n%s", want.Date, diff)
	}
}

// Diff compares two snapshots under the suite's comparison rules and
// describes the differences ("" when equal).
func Diff(want, got Day) string {
	want, got = Normalize(want), Normalize(got)
	var b bytes.Buffer
	if want.Date != got.Date {
		fmt.Fprintf(&b, "date: got %v, want %v\n", got.Date, want.Date)
	}
	for _, tb := range warehouse.Tables() {
		w := reflect.ValueOf(want.Table(tb.Name)).Elem()
		g := reflect.ValueOf(got.Table(tb.Name)).Elem()
		if w.Len() != g.Len() {
			fmt.Fprintf(&b, "%s: got %d rows, want %d\n", tb.Name, g.Len(), w.Len())
		}
		for i := 0; i < w.Len() && i < g.Len(); i++ {
			wi, gi := w.Index(i).Interface(), g.Index(i).Interface()
			if !reflect.DeepEqual(wi, gi) {
				fmt.Fprintf(&b, "%s row %d (sorted):\n  got  %+v\n  want %+v\n", tb.Name, i, gi, wi)
			}
		}
	}
	return b.String()
}

// Normalize returns a copy of s with times in UTC truncated to
// microseconds, empty repeated fields set to nil, and every table's rows
// sorted by their JSON encoding.
func Normalize(s Day) Day {
	out := Day{Date: s.Date}
	for _, tb := range warehouse.Tables() {
		src := reflect.ValueOf(s.Table(tb.Name)).Elem()
		if src.Len() == 0 {
			continue
		}
		dst := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		keys := make([]string, src.Len())
		for i := 0; i < src.Len(); i++ {
			v := normalizeValue(src.Index(i))
			dst.Index(i).Set(v)
			k, err := json.Marshal(v.Interface())
			if err != nil {
				k = fmt.Appendf(nil, "%#v", v.Interface())
			}
			keys[i] = string(k)
		}
		idx := make([]int, len(keys))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
		sorted := reflect.MakeSlice(src.Type(), len(idx), len(idx))
		for i, j := range idx {
			sorted.Index(i).Set(dst.Index(j))
		}
		reflect.ValueOf(out.Table(tb.Name)).Elem().Set(sorted)
	}
	return out
}

var timeType = reflect.TypeOf(time.Time{})

func normalizeValue(v reflect.Value) reflect.Value {
	switch {
	case v.Type() == timeType:
		tm := v.Interface().(time.Time)
		return reflect.ValueOf(tm.UTC().Truncate(time.Microsecond))
	case v.Kind() == reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		for i := 0; i < v.NumField(); i++ {
			if out.Field(i).CanSet() {
				out.Field(i).Set(normalizeValue(v.Field(i)))
			}
		}
		return out
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(normalizeValue(v.Index(i)))
		}
		return out
	}
	return v
}

// Sample builds a snapshot for date with every table populated, including
// the awkward values a driver must carry unchanged. Different snapshotIDs
// give different rows.
func Sample(date civil.Date, snapshotID string) Day {
	ist := time.FixedZone("IST", 5*3600+1800)
	asOf := time.Date(date.Year, date.Month, date.Day, 5, 30, 0, 0, ist) // 00:00 UTC
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC)
	settles := end.AddDate(0, 0, 30)
	paid := time.Unix(1772755200, 0) // local zone on purpose
	tag := snapshotID[len(snapshotID)-4:]

	return Day{
		Date: date,
		Runs: []warehouse.Run{{
			SnapshotID: snapshotID, SnapshotDate: date, AsOf: asOf,
			CodeVersion: "v1.2.3-" + tag, CycleSetSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			InputsSHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			Users:        3, Referrals: 1_000_000, Customers: 0, Subscriptions: 2, Invoices: math.MaxInt64, Refunds: 7,
			Cycles:   2,
			Notes:    []string{"d1: users changed while paging (41 → 42)", "quote \" backslash \\ tab \t newline \n end"},
			Disputes: 5, CreditNotes: math.MaxInt64 - 1, ClawbackCandidates: 1,
		}},
		CycleSummaries: []warehouse.CycleSummary{
			{
				SnapshotID: snapshotID, SnapshotDate: date, CycleID: "cycle-1", DisplayName: "Holiday Awards 🎁",
				AwardModel: "pie-split", StartTime: start.AddDate(0, -3, 0), EndTime: end.AddDate(0, -3, 0),
				Currency: "usd", Status: "Closed", IsFinal: true, SettlesAt: settles.AddDate(0, -3, 0),
				AwardPool: 1_000_000, AwardPoolRemaining: 0, Awarded: 1_000_000,
				Referrals: 12, Conversions: 5, PendingConversions: 0, Revenue: 74_950, PendingRevenue: 0,
				RankedReferrers: 3, QualifiedReferrers: 3,
			},
			{
				SnapshotID: snapshotID, SnapshotDate: date, CycleID: "cycle-2", DisplayName: "Mars 2026 — été",
				AwardModel: "rev-share-cap", StartTime: start, EndTime: end,
				Currency: "jpy", Status: "AwardsReview", IsFinal: false, SettlesAt: settles,
				AwardPool: math.MaxInt64, AwardPoolRemaining: math.MaxInt64 - 1500, Awarded: 1500,
				Referrals: 0, Conversions: 0, PendingConversions: 0, Revenue: 15_000, PendingRevenue: 15_000,
				RankedReferrers: 1, QualifiedReferrers: 1,
			},
		},
		LeaderboardEntries: []warehouse.LeaderboardEntry{
			{
				SnapshotID: snapshotID, SnapshotDate: date, CycleID: "cycle-1", Rank: 1, Refcode: "alice-" + tag,
				Currency: "usd", Score: 3, Referrals: 4, Conversions: 3, PendingConversions: 1,
				Revenue: 59_970, PendingRevenue: 19_990, ScoreReachedAt: paid, Qualified: true,
				FinalScoreBoost: 1, Award: 666_667,
			},
			{
				SnapshotID: snapshotID, SnapshotDate: date, CycleID: "cycle-1", Rank: 2, Refcode: "Ünïcødé-引荐-🎉",
				Currency: "usd", Score: 1, Referrals: 1, Conversions: 1, Revenue: 9_990,
				ScoreReachedAt: paid.Add(time.Hour), Qualified: true, FinalScoreBoost: 2.0 / 3.0, Award: 333_333,
				AdminAction: "Warning", AdminActionReason: "Spam in the \"referral\" forum,\nsee ticket #42",
			},
			{
				SnapshotID: snapshotID, SnapshotDate: date, CycleID: "cycle-1", Rank: 3, Refcode: "=cmd|' /C calc'!A0",
				Currency: "usd", Score: 1, Referrals: 9, Conversions: 1, Revenue: 4_990,
				ScoreReachedAt: time.Time{}, Qualified: false, FinalScoreBoost: 0, Award: 0,
				AdminAction: "Disqualification", AdminActionReason: "fraud",
			},
			{
				SnapshotID: snapshotID, SnapshotDate: date, CycleID: "cycle-2", Rank: 1, Refcode: "alice-" + tag,
				Currency: "jpy", Score: 15_000, Revenue: 15_000, PendingRevenue: 15_000,
				ScoreReachedAt: paid.In(ist), Qualified: true, Award: 1500,
			},
		},
		ReferralDecisions: []warehouse.ReferralDecision{
			{
				SnapshotID: snapshotID, SnapshotDate: date, RefereeEmail: "Bob+Promo@Example.com ",
				CanonicalEmail: "bob@example.com", Refcode: "alice-" + tag, ReferredAtRaw: "2026-03-01 10:00:00",
				SelectedPlan: "pro", Rewarded: false, Outcome: "valid", Reason: "",
				Conversions: []warehouse.Conversion{
					{CycleID: "cycle-1", ConvertedAt: paid, InvoiceID: "in_1", Pending: false, RewardEligible: true},
					{CycleID: "cycle-2", ConvertedAt: paid.Add(24 * time.Hour).In(ist), InvoiceID: "in_2", Pending: true, Reason: "pending_hold"},
				},
			},
			{
				SnapshotID: snapshotID, SnapshotDate: date, RefereeEmail: "not-an-email", Refcode: "nobody",
				ReferredAtRaw: "", Outcome: "quarantined", Reason: "invalid_email", Conversions: nil,
			},
			{
				SnapshotID: snapshotID, SnapshotDate: date, RefereeEmail: "zoë@exämple.de", CanonicalEmail: "zoë@exämple.de",
				Refcode: "Ünïcødé-引荐-🎉", ReferredAtRaw: "2026-03-02T10:00:00+01:00", SelectedPlan: "",
				Rewarded: true, Outcome: "valid", Reason: "",
				Conversions: []warehouse.Conversion{
					{CycleID: "cycle-2", ConvertedAt: paid, InvoiceID: "in_3", Reason: "already_rewarded"},
				},
			},
			{
				SnapshotID: snapshotID, SnapshotDate: date, RefereeEmail: "carol@example.com", CanonicalEmail: "carol@example.com",
				Refcode: "alice-" + tag, ReferredAtRaw: "2026-03-03 10:00:00", Rewarded: true, Outcome: "valid", Reason: "disputed",
				Conversions: []warehouse.Conversion{}, Clawback: true,
			},
		},
		PaymentAccounting: []warehouse.PaymentAccounting{
			{
				SnapshotID: snapshotID, SnapshotDate: date, CycleID: "cycle-1", Seq: 1, InvoiceID: "in_1", CustomerID: "cus_1",
				Refcode: "alice-" + tag, RefereeEmail: "Bob+Promo@Example.com ", PaidAt: paid, Currency: "usd",
				Net: 19_990, Pending: false, AccumulatedRevenue: 19_990,
			},
			{
				SnapshotID: snapshotID, SnapshotDate: date, CycleID: "cycle-1", Seq: 2, InvoiceID: "in_9", CustomerID: "cus_9",
				Refcode: "Ünïcødé-引荐-🎉", RefereeEmail: "zoë@exämple.de", PaidAt: paid.Add(time.Hour), Currency: "usd",
				Net: 9_990, Pending: true, AccumulatedRevenue: 9_990,
				Gross: 29_990, Refunds: 10_000, CreditNotes: 5_000, Disputes: 5_000,
			},
			{
				SnapshotID: snapshotID, SnapshotDate: date, CycleID: "cycle-2", Seq: 1, InvoiceID: "in_2", CustomerID: "cus_1",
				Refcode: "alice-" + tag, RefereeEmail: "Bob+Promo@Example.com ", PaidAt: paid.Add(24 * time.Hour), Currency: "jpy",
				Net: 15_000, Pending: true, AccumulatedRevenue: 15_000, PoolBefore: math.MaxInt64, Claim: 1500,
			},
		},
		Subscriptions: []warehouse.Subscription{
			{
				SnapshotID: snapshotID, SnapshotDate: date, SubscriptionID: "sub_1", CustomerID: "cus_1", Status: "active",
				Created: paid.Add(-time.Hour), PriceIDs: []string{"price_pro_monthly", "price_addon"},
			},
			{
				SnapshotID: snapshotID, SnapshotDate: date, SubscriptionID: "sub_2", CustomerID: "cus_9", Status: "canceled",
				Created: time.Unix(0, 0), PriceIDs: nil,
			},
		},
	}
}
