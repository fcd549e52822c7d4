package warehousetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/sinks/warehouse"
)

// RunLedger runs the conformance suite of the settlement ledger
// (warehouse.LedgerDriver, used through warehouse.Ledger). open must return
// a new, empty warehouse each time; the suite closes it when it has a Close
// method. What it checks:
//   - an empty ledger has no entries and no settled cycles;
//   - Record stores a cycle's entries, every field round-trips (Unicode,
//     int64 extremes, microsecond times), and SettledCycles names the cycle
//     with its snapshot;
//   - Record of a cycle that has entries writes nothing and returns
//     warehouse.ErrCycleRecorded, and other cycles are independent;
//   - Append adds state changes: Entries gives each entry's latest row,
//     History every row in order; appends are all-or-nothing per call as
//     far as the suite can observe (every row of the call is read back);
//   - a row stored twice (a retried append) reads as one;
//   - when the driver also writes snapshots, WriteSnapshot of the settled
//     snapshot's date leaves the ledger untouched.
func RunLedger(t *testing.T, open func(t *testing.T) warehouse.LedgerDriver) {
	ctx := context.Background()
	with := func(t *testing.T, f func(t *testing.T, d warehouse.LedgerDriver, l *warehouse.Ledger)) {
		t.Helper()
		d := open(t)
		if c, ok := d.(interface{ Close() error }); ok {
			defer func() {
				if err := c.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
		}
		f(t, d, warehouse.NewLedger(d))
	}
	// record records the sample settlement of cycle at snapshot and returns it.
	record := func(t *testing.T, l *warehouse.Ledger, cycle, snapshot string) []warehouse.Settlement {
		t.Helper()
		rec := SampleSettlement(cycle, snapshot)
		if err := l.Record(ctx, rec); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	// history is every row of cycle, in order.
	history := func(t *testing.T, l *warehouse.Ledger, cycle string) []warehouse.Settlement {
		t.Helper()
		h, err := l.History(ctx, cycle)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	t.Run("Empty", func(t *testing.T) {
		with(t, func(t *testing.T, _ warehouse.LedgerDriver, l *warehouse.Ledger) {
			if e, err := l.Entries(ctx, "cycle-1"); err != nil || len(e) != 0 {
				t.Errorf("Entries of an empty ledger = %v, %v; want none", e, err)
			}
			if c, err := l.SettledCycles(ctx); err != nil || len(c) != 0 {
				t.Errorf("SettledCycles of an empty ledger = %v, %v; want none", c, err)
			}
		})
	})

	t.Run("RecordRoundTrip", func(t *testing.T) {
		with(t, func(t *testing.T, _ warehouse.LedgerDriver, l *warehouse.Ledger) {
			want := record(t, l, "cycle-1", "20260415T000000Z-aaaaaaaaaaaa")
			checkEntries(ctx, t, l, "cycle-1", want)
			got, err := l.SettledCycles(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if w := []warehouse.SettledCycle{{CycleID: "cycle-1", SnapshotID: "20260415T000000Z-aaaaaaaaaaaa"}}; !reflect.DeepEqual(got, w) {
				t.Errorf("SettledCycles = %v, want %v", got, w)
			}
		})
	})

	t.Run("RecordOnlyOnce", func(t *testing.T) {
		with(t, func(t *testing.T, _ warehouse.LedgerDriver, l *warehouse.Ledger) {
			first := record(t, l, "cycle-1", "20260415T000000Z-aaaaaaaaaaaa")
			again := SampleSettlement("cycle-1", "20260416T000000Z-bbbbbbbbbbbb")
			if err := l.Record(ctx, again); !errors.Is(err, warehouse.ErrCycleRecorded) {
				t.Fatalf("second Record of cycle-1 = %v, want ErrCycleRecorded", err)
			}
			h := history(t, l, "cycle-1")
			if len(h) != len(first) {
				t.Errorf("after a refused Record, cycle-1 has %d rows, want %d", len(h), len(first))
			}
			other := SampleSettlement("cycle-2", "20260416T000000Z-bbbbbbbbbbbb")
			if err := l.Record(ctx, other); err != nil {
				t.Fatalf("Record of another cycle: %v", err)
			}
			checkEntries(ctx, t, l, "cycle-1", first)
			checkEntries(ctx, t, l, "cycle-2", other)
			got, err := l.SettledCycles(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := []warehouse.SettledCycle{{CycleID: "cycle-1", SnapshotID: "20260415T000000Z-aaaaaaaaaaaa"}, {CycleID: "cycle-2", SnapshotID: "20260416T000000Z-bbbbbbbbbbbb"}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("SettledCycles = %v, want %v", got, want)
			}
		})
	})

	t.Run("AppendStateChanges", func(t *testing.T) {
		with(t, func(t *testing.T, _ warehouse.LedgerDriver, l *warehouse.Ledger) {
			rec := record(t, l, "cycle-1", "20260415T000000Z-aaaaaaaaaaaa")
			at := time.Date(2026, 4, 16, 10, 0, 0, 123456000, time.UTC)
			failed := rec[0].Next(warehouse.StateFailed, "stripe: 400 invalid currency", at)
			done := failed.Next(warehouse.StateDone, "", at.Add(time.Minute))
			done.BalanceTransactionID = "cbtxn_1"
			skipped := rec[2].Next(warehouse.StateSkipped, "row changed since the snapshot", at)
			if err := l.Append(ctx, failed, skipped); err != nil {
				t.Fatal(err)
			}
			if err := l.Append(ctx, done); err != nil {
				t.Fatal(err)
			}
			want := []warehouse.Settlement{done, rec[1], skipped, rec[3]}
			checkEntries(ctx, t, l, "cycle-1", want)
			h := history(t, l, "cycle-1")
			wantH := []warehouse.Settlement{rec[0], failed, done, rec[1], rec[2], skipped, rec[3]}
			if !equalRows(h, wantH) {
				t.Errorf("History:\n got %+v\nwant %+v", h, wantH)
			}
			if err := l.Append(ctx, rec[1]); err == nil {
				t.Error("Append of a row with seq 1: no error")
			}
		})
	})

	t.Run("CopiesReadAsOne", func(t *testing.T) {
		with(t, func(t *testing.T, d warehouse.LedgerDriver, l *warehouse.Ledger) {
			rec := record(t, l, "cycle-1", "20260415T000000Z-aaaaaaaaaaaa")
			ch := rec[1].Next(warehouse.StateDone, "", time.Date(2026, 4, 16, 0, 0, 0, 0, time.UTC))
			for range 2 {
				if _, err := d.AppendSettlements(ctx, []warehouse.Settlement{ch}, ""); err != nil {
					t.Fatal(err)
				}
			}
			checkEntries(ctx, t, l, "cycle-1", []warehouse.Settlement{rec[0], ch, rec[2], rec[3]})
			h := history(t, l, "cycle-1")
			if len(h) != len(rec)+1 {
				t.Errorf("History has %d rows, want %d", len(h), len(rec)+1)
			}
		})
	})

	t.Run("SnapshotWriteLeavesLedger", func(t *testing.T) {
		with(t, func(t *testing.T, d warehouse.LedgerDriver, l *warehouse.Ledger) {
			w, ok := d.(interface {
				WriteSnapshot(context.Context, warehouse.Snapshot) error
			})
			if !ok {
				t.Skip("the driver writes no snapshots")
			}
			rec := record(t, l, "cycle-1", "20260415T000000Z-aaaaaaaaaaaa")
			day := rec[0].SnapshotDate
			for range 2 {
				if err := w.WriteSnapshot(ctx, Sample(day, "20260415T000000Z-cccccccccccc").Snapshot()); err != nil {
					t.Fatal(err)
				}
			}
			checkEntries(ctx, t, l, "cycle-1", rec)
		})
	})

	t.Run("ReferralDecisionsOfASnapshot", func(t *testing.T) {
		with(t, func(t *testing.T, d warehouse.LedgerDriver, _ *warehouse.Ledger) {
			w, ok := d.(interface {
				WriteSnapshot(context.Context, warehouse.Snapshot) error
				ReferralDecisions(context.Context, civil.Date, string) ([]warehouse.ReferralDecision, error)
			})
			if !ok {
				t.Skip("the driver reads no referral decisions")
			}
			day := civil.Date{Year: 2026, Month: 4, Day: 15}
			want := Sample(day, "20260415T000000Z-cccccccccccc")
			if err := w.WriteSnapshot(ctx, want.Snapshot()); err != nil {
				t.Fatal(err)
			}
			if err := w.WriteSnapshot(ctx, Sample(day.AddDays(1), "20260416T000000Z-dddddddddddd").Snapshot()); err != nil {
				t.Fatal(err)
			}
			got, err := w.ReferralDecisions(ctx, day, "20260415T000000Z-cccccccccccc")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 || len(got) != len(want.ReferralDecisions) {
				t.Fatalf("ReferralDecisions: %d rows, want the sample's %d", len(got), len(want.ReferralDecisions))
			}
			for i := range got {
				g, w := got[i], want.ReferralDecisions[i]
				if g.RefereeEmail != w.RefereeEmail || g.Refcode != w.Refcode || g.Rewarded != w.Rewarded || len(g.Conversions) != len(w.Conversions) {
					t.Errorf("row %d = %+v, want %+v", i, g, w)
					continue
				}
				for j := range g.Conversions {
					if g.Conversions[j].CycleID != w.Conversions[j].CycleID || g.Conversions[j].RewardEligible != w.Conversions[j].RewardEligible {
						t.Errorf("row %d conversion %d = %+v, want %+v", i, j, g.Conversions[j], w.Conversions[j])
					}
				}
			}
			if got, err := w.ReferralDecisions(ctx, day, "20260415T060000Z-eeeeeeeeeeee"); err != nil || len(got) != 0 {
				t.Errorf("ReferralDecisions of a snapshot never written = %d rows, %v; want none", len(got), err)
			}
		})
	})

	t.Run("RecordValidates", func(t *testing.T) {
		with(t, func(t *testing.T, _ warehouse.LedgerDriver, l *warehouse.Ledger) {
			rec := SampleSettlement("cycle-1", "20260415T000000Z-aaaaaaaaaaaa")
			bad := append([]warehouse.Settlement(nil), rec...)
			bad[1].State = "paid"
			if err := l.Record(ctx, bad); err == nil {
				t.Error("Record with an unknown state: no error")
			}
			mixed := append([]warehouse.Settlement(nil), rec...)
			mixed[2].CycleID = "cycle-2"
			if err := l.Record(ctx, mixed); err == nil {
				t.Error("Record of two cycles at once: no error")
			}
			if err := l.Record(ctx, nil); err == nil {
				t.Error("Record of no entries: no error")
			}
			if c, err := l.SettledCycles(ctx); err != nil || len(c) != 0 {
				t.Errorf("after refused Records, SettledCycles = %v, %v; want none", c, err)
			}
		})
	})
}

// SampleSettlement is the first rows of a cycle's entries: two awards (one
// by Stripe credit, one unpayable by payout file) and two referral rows,
// with fields that test a driver's encoding.
func SampleSettlement(cycleID, snapshotID string) []warehouse.Settlement {
	day := civil.Date{Year: 2026, Month: 4, Day: 15}
	at := time.Date(2026, 4, 15, 9, 30, 1, 500000000, time.FixedZone("CEST", 2*3600)).UTC()
	base := warehouse.Settlement{SnapshotID: snapshotID, SnapshotDate: day, CycleID: cycleID, Currency: "usd", Seq: 1, RecordedAt: at, State: warehouse.StatePending}
	a1 := base
	a1.EntryKind, a1.Refcode, a1.ReferrerEmail = warehouse.EntryAward, "ALICE2025", "Alice+ref@Example.com"
	a1.StripeCustomerID, a1.Method, a1.AwardMinor = "cus_Alice", warehouse.MethodStripeCredit, 1<<62
	a1.IdempotencyKey = "refrecon-0123456789abcdef0123456789abcdef"
	a2 := base
	a2.EntryKind, a2.Refcode, a2.ReferrerEmail = warehouse.EntryAward, "zoë-\"q\"", "zoë@exämple.com"
	a2.Method, a2.AwardMinor, a2.State, a2.Reason = warehouse.MethodPayoutFile, 1, warehouse.StateUnpayable, "no Stripe customer has the referrer's email\n(canonical)"
	r1 := base
	r1.EntryKind, r1.Refcode, r1.RefereeEmail, r1.ReferrerEmail = warehouse.EntryReferral, "ALICE2025", " Bob@Example.COM ", "Alice+ref@Example.com"
	r2 := r1
	r2.RefereeEmail = "carol@example.com"
	return []warehouse.Settlement{a1, a2, r1, r2}
}

func checkEntries(ctx context.Context, t *testing.T, l *warehouse.Ledger, cycle string, want []warehouse.Settlement) {
	t.Helper()
	got, err := l.Entries(ctx, cycle)
	if err != nil {
		t.Fatal(err)
	}
	// Entries orders awards then referrals, each by refcode and email.
	w, err := warehouse.Latest(want)
	if err != nil {
		t.Fatal(err)
	}
	if !equalRows(got, w) {
		t.Errorf("Entries(%s):\n got %+v\nwant %+v", cycle, got, w)
	}
}

func equalRows(a, b []warehouse.Settlement) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if !x.RecordedAt.Equal(y.RecordedAt.Truncate(time.Microsecond)) {
			return false
		}
		x.RecordedAt, y.RecordedAt = time.Time{}, time.Time{}
		if x != y {
			return false
		}
	}
	return true
}
