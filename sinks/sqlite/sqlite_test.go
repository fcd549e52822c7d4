package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/sinks/internal/cpumeter"
	"github.com/refrecon/refrecon/sinks/sqlite"
	"github.com/refrecon/refrecon/sinks/sqlite/sqlitetest"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
)

var day = civil.Date{Year: 2026, Month: 4, Day: 15}

// harness is the warehouse under test and the file it writes, read back
// through sqlitetest.
type harness struct {
	*sqlite.Warehouse
	path string
}

func (h harness) ReadDay(ctx context.Context, date civil.Date) (warehousetest.Day, error) {
	return sqlitetest.ReadDay(ctx, h.path, date)
}

func open(t *testing.T, path string) harness {
	t.Helper()
	w, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return harness{w, path}
}

// openTemp opens a new warehouse in a temporary directory, closed when
// the test ends.
func openTemp(t *testing.T) harness {
	t.Helper()
	w := open(t, filepath.Join(t.TempDir(), "w.sqlite"))
	t.Cleanup(func() { w.Close() })
	return w
}

// write writes s to w and fails the test when it cannot.
func write(t *testing.T, w harness, s warehouse.Snapshot) {
	t.Helper()
	if err := w.WriteSnapshot(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// readDay reads back what w holds of day.
func readDay(t *testing.T, w harness) warehousetest.Day {
	t.Helper()
	got, err := w.ReadDay(context.Background(), day)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// failInsertsWhen adds a trigger to the file at path that aborts an
// insert into table whose new row matches when (an SQL condition on NEW).
func failInsertsWhen(t *testing.T, path, table, when string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`CREATE TRIGGER boom BEFORE INSERT ON ` + table + ` WHEN ` + when + `
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	warehousetest.Run(t, func(t *testing.T) warehousetest.Driver {
		return open(t, filepath.Join(t.TempDir(), "sub dir?#%", "warehouse.sqlite"))
	})
}

// commitHarness stages through warehouse.WriteAtCommit (how a run stages
// a driver without staging of its own, sinks/bigquery) over this driver.
type commitHarness struct {
	harness
	cw *warehouse.CommitWriter
}

func (h commitHarness) Stage(ctx context.Context, s warehouse.Snapshot) (warehouse.Staged, error) {
	return h.cw.Stage(ctx, s)
}

func TestConformanceWriteAtCommit(t *testing.T) {
	warehousetest.Run(t, func(t *testing.T) warehousetest.Driver {
		h := open(t, filepath.Join(t.TempDir(), "warehouse.sqlite"))
		return commitHarness{h, warehouse.WriteAtCommit(h.Warehouse)}
	})
}

func TestReopenKeepsRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.sqlite")
	ctx := context.Background()
	want := warehousetest.Sample(day, "20260415T000000Z-aaaaaaaaaaaa")
	w := open(t, path)
	write(t, w, want.Snapshot())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = open(t, path)
	defer w.Close()
	warehousetest.Check(ctx, t, w, want)
}

// A write that fails inside the transaction (here: a trigger that aborts
// the insert of one accounting row, after every table's rows of the day were
// already deleted) leaves the previous rows.
func TestFailedWriteRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.sqlite")
	ctx := context.Background()
	good := warehousetest.Sample(day, "20260415T000000Z-aaaaaaaaaaaa")
	w := open(t, path)
	defer w.Close()
	write(t, w, good.Snapshot())

	failInsertsWhen(t, path, "payment_accounting", "NEW.invoice_id = 'boom'")

	bad := warehousetest.Sample(day, "20260415T060000Z-bbbbbbbbbbbb")
	bad.PaymentAccounting[2].InvoiceID = "boom"
	err := w.WriteSnapshot(ctx, bad.Snapshot())
	if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "payment_accounting") {
		t.Fatalf("WriteSnapshot = %v, want the injected failure naming the table", err)
	}
	warehousetest.Check(ctx, t, w, good)
}

// Enough rows to cross batch boundaries (full batches and a remainder), and
// a snapshot_id that changes within a batch (an INSERT binds it once).
func TestManyRows(t *testing.T) {
	ctx := context.Background()
	w := openTemp(t)
	s := warehousetest.Day{Date: day}
	for i := range 2345 {
		s.ReferralDecisions = append(s.ReferralDecisions, warehouse.ReferralDecision{
			SnapshotID: fmt.Sprintf("x%d", i/700+i/2000), SnapshotDate: day, RefereeEmail: fmt.Sprintf("u%d@example.com", i), Outcome: "valid",
			Conversions: []warehouse.Conversion{{CycleID: "c", ConvertedAt: time.Unix(int64(i), 0), InvoiceID: fmt.Sprint(i)}},
		})
	}
	write(t, w, s.Snapshot())
	got := readDay(t, w)
	if len(got.ReferralDecisions) != 2345 {
		t.Fatalf("read %d rows, want 2345", len(got.ReferralDecisions))
	}
	// Insertion order is kept.
	for i, r := range got.ReferralDecisions {
		if r.RefereeEmail != s.ReferralDecisions[i].RefereeEmail || r.SnapshotID != s.ReferralDecisions[i].SnapshotID {
			t.Fatalf("row %d = %q, want %q", i, r.RefereeEmail, s.ReferralDecisions[i].RefereeEmail)
		}
	}
	warehousetest.Check(ctx, t, w, s)

	// The same rows streamed (one reused variable) replace them.
	write(t, w, warehousetest.Stream(s))
	warehousetest.Check(ctx, t, w, s)
}

// Columns at their zero value in every row of a batch are written as
// literals, not bound: batches where a column is zero in all rows, in all
// but one, and in none read back as written, zero times and empty JSON
// arrays included.
func TestZeroColumnsPerBatch(t *testing.T) {
	ctx := context.Background()
	w := openTemp(t)
	s := warehousetest.Day{Date: day}
	at := time.Unix(1772755200, 0).UTC()
	for i := range 1234 {
		r := warehouse.PaymentAccounting{SnapshotID: "x", SnapshotDate: day, CycleID: "c", Seq: int64(i + 1), InvoiceID: fmt.Sprint("in_", i)}
		switch {
		case i == 700: // one row of the second batch
			r.Refunds, r.Pending, r.RefereeEmail = 5, true, "u@example.com"
		case i >= 1000: // every row of the third
			r.Claim, r.PaidAt = int64(i), at
		}
		s.PaymentAccounting = append(s.PaymentAccounting, r)
		d := warehouse.ReferralDecision{SnapshotID: "x", SnapshotDate: day, RefereeEmail: fmt.Sprint("u", i)}
		if i == 3 {
			d.Conversions = []warehouse.Conversion{{CycleID: "c", InvoiceID: "in_3"}}
		}
		s.ReferralDecisions = append(s.ReferralDecisions, d)
	}
	write(t, w, warehousetest.Stream(s))
	got := readDay(t, w)
	for i, r := range got.PaymentAccounting {
		if r != s.PaymentAccounting[i] {
			t.Fatalf("accounting row %d = %+v, want %+v", i, r, s.PaymentAccounting[i])
		}
	}
	warehousetest.Check(ctx, t, w, s)
	// Stored as bound values are: the same storage classes.
	db, err := sql.Open("sqlite", w.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var kinds string
	if err := db.QueryRow(`SELECT group_concat(DISTINCT typeof(refunds) || typeof(pending) || typeof(referee_email) || typeof(paid_at))
		FROM payment_accounting`).Scan(&kinds); err != nil || kinds != "integerintegertexttext" {
		t.Errorf("storage classes of accounting columns: %q, %v", kinds, err)
	}
	if err := db.QueryRow(`SELECT group_concat(DISTINCT typeof(conversions) || typeof(clawback)) FROM referral_decisions`).Scan(&kinds); err != nil || kinds != "textinteger" {
		t.Errorf("storage classes of decision columns: %q, %v", kinds, err)
	}
}

// A new file gets 64 KiB pages; an existing file keeps its own.
func TestPageSize(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.sqlite")
	db, err := sql.Open("sqlite", old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA page_size = 4096; CREATE TABLE x (a)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for path, want := range map[string]int{filepath.Join(dir, "new.sqlite"): 65536, old: 4096} {
		w := open(t, path)
		s := warehousetest.Sample(day, "20260415T000000Z-aaaaaaaaaaaa")
		write(t, w, s.Snapshot())
		warehousetest.Check(context.Background(), t, w, s)
		w.Close()
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		var size int
		var mode string
		if err := db.QueryRow("PRAGMA page_size").Scan(&size); err != nil || size != want {
			t.Errorf("%s: page size %d (%v), want %d", filepath.Base(path), size, err, want)
		}
		if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("%s: journal mode %q (%v), want wal", filepath.Base(path), mode, err)
		}
		db.Close()
	}
}

func TestSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.sqlite")
	w := open(t, path)
	write(t, w, warehousetest.Sample(day, "20260415T000000Z-aaaaaaaaaaaa").Snapshot())
	w.Close()

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	colType := func(table, col string) string {
		var typ string
		if err := db.QueryRow("SELECT type FROM pragma_table_info(?) WHERE name = ?", table, col).Scan(&typ); err != nil {
			t.Errorf("%s.%s: %v", table, col, err)
		}
		return typ
	}
	for _, c := range []struct{ table, col, typ string }{
		{"runs", "snapshot_date", "TEXT"}, {"runs", "as_of", "TEXT"}, {"runs", "invoices", "INTEGER"}, {"runs", "notes", "TEXT"},
		{"leaderboard_entries", "qualified", "INTEGER"}, {"leaderboard_entries", "final_score_boost", "REAL"},
		{"referral_decisions", "conversions", "TEXT"}, {"subscriptions", "price_ids", "TEXT"},
	} {
		if got := colType(c.table, c.col); got != c.typ {
			t.Errorf("%s.%s type = %q, want %q", c.table, c.col, got, c.typ)
		}
	}
	// Stored representations, as other tools see them.
	var asOf, date, notes, conv string
	var qualified int64
	if err := db.QueryRow("SELECT as_of, snapshot_date, notes FROM runs").Scan(&asOf, &date, &notes); err != nil {
		t.Fatal(err)
	}
	if asOf != "2026-04-15T00:00:00Z" || date != "2026-04-15" || !strings.HasPrefix(notes, `["d1: users`) {
		t.Errorf("runs row: as_of=%q snapshot_date=%q notes=%q", asOf, date, notes)
	}
	if err := db.QueryRow("SELECT conversions FROM referral_decisions WHERE canonical_email = 'bob@example.com'").Scan(&conv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(conv, `"converted_at":"2026-03-07T00:00:00Z"`) || !strings.Contains(conv, `"converted_at":"2026-03-06T00:00:00Z"`) {
		t.Errorf("conversions JSON not in UTC: %s", conv)
	}
	if err := db.QueryRow("SELECT qualified FROM leaderboard_entries WHERE rank = 3").Scan(&qualified); err != nil || qualified != 0 {
		t.Errorf("qualified = %d, %v", qualified, err)
	}
	var idx int
	if err := db.QueryRow("SELECT count(*) FROM pragma_index_list('payment_accounting')").Scan(&idx); err != nil || idx == 0 {
		t.Errorf("payment_accounting has no index (%v)", err)
	}
}

// A file written by an older version, whose table lacks a column, gets the
// column added; old rows read back with the zero value.
func TestOpenAddsMissingColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.sqlite")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`CREATE TABLE subscriptions (snapshot_id TEXT, snapshot_date TEXT, subscription_id TEXT);
		INSERT INTO subscriptions VALUES ('old', '2026-04-15', 'sub_old')`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	w := open(t, path)
	defer w.Close()
	got := readDay(t, w)
	if len(got.Subscriptions) != 1 || got.Subscriptions[0].SubscriptionID != "sub_old" || got.Subscriptions[0].Status != "" {
		t.Errorf("Subscriptions = %+v", got.Subscriptions)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := sqlite.Open(""); err == nil {
		t.Errorf("Open(\"\") succeeded")
	}
	dir := t.TempDir()
	if _, err := sqlite.Open(dir); err == nil { // a directory, not a database file
		t.Errorf("Open(directory) succeeded")
	}
}

// benchDay is 100k referral decisions (every other one with a
// conversion) and 200k accounting rows, the mix of a run's largest tables.
func benchDay() warehousetest.Day {
	const id = "20260415T000000Z-0123456789ab"
	s := warehousetest.Day{Date: day}
	at := time.Unix(1772755200, 0).UTC()
	for i := range 100_000 {
		d := warehouse.ReferralDecision{
			SnapshotID: id, SnapshotDate: day, RefereeEmail: fmt.Sprintf("u%d@example.com", i), CanonicalEmail: fmt.Sprintf("u%d@example.com", i),
			Refcode: fmt.Sprintf("ref%d", i%20000), ReferredAtRaw: "2026-03-01 00:00:00", SelectedPlan: "pro", Outcome: "valid", Reason: "outside_cycles",
		}
		if i%2 == 0 {
			d.Reason = ""
			d.Conversions = []warehouse.Conversion{{CycleID: "cycle-3", ConvertedAt: at, InvoiceID: fmt.Sprintf("in_%024d", i), RewardEligible: true}}
		}
		s.ReferralDecisions = append(s.ReferralDecisions, d)
	}
	for i := range 200_000 {
		s.PaymentAccounting = append(s.PaymentAccounting, warehouse.PaymentAccounting{
			SnapshotID: id, SnapshotDate: day, CycleID: fmt.Sprintf("cycle-%d", 1+i/20_000), Seq: int64(i%20_000 + 1), InvoiceID: fmt.Sprintf("in_%024d", i),
			CustomerID: fmt.Sprintf("cus_%014d", i/3), Refcode: fmt.Sprintf("ref%d", i%20000), RefereeEmail: fmt.Sprintf("u%d@example.com", i/2),
			PaidAt: at.Add(time.Duration(i) * time.Second), Currency: "usd", Net: 1999, AccumulatedRevenue: int64(i) * 1999,
		})
	}
	return s
}

// BenchmarkWriteSnapshot replaces a day holding benchDay's rows (the
// previous iteration's) with benchDay's rows, as a re-run of the same day
// does; rows/s counts both tables.
func BenchmarkWriteSnapshot(b *testing.B) {
	ctx := context.Background()
	w, err := sqlite.Open(filepath.Join(b.TempDir(), "w.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	s := benchDay()
	var cpu cpumeter.Meter
	b.ResetTimer()
	for b.Loop() {
		cpu.Start()
		if err := w.WriteSnapshot(ctx, s.Snapshot()); err != nil {
			b.Fatal(err)
		}
		cpu.Stop()
	}
	cpu.Report(b)
	reportRows(b, 300_000)
}

// BenchmarkWriteSnapshotNextDay writes benchDay's rows as a new day into a
// file holding the previous day's (the nightly run).
func BenchmarkWriteSnapshotNextDay(b *testing.B) {
	s := benchDay()
	next := redate(s, day.AddDays(1))
	benchNewWarehouse(b, next.Snapshot(), func(w *sqlite.Warehouse) error { return w.WriteSnapshot(context.Background(), s.Snapshot()) })
}

// BenchmarkWriteSnapshotNewFile writes benchDay's rows into a new file
// (the first run).
func BenchmarkWriteSnapshotNewFile(b *testing.B) {
	s := benchDay()
	benchNewWarehouse(b, s.Snapshot(), func(*sqlite.Warehouse) error { return nil })
}

// BenchmarkCopyDayInSQLite is the floor under BenchmarkWriteSnapshotNextDay:
// the same rows added as the next day by SQLite alone (INSERT ... SELECT of
// the previous day's rows with the new date, in one transaction, on the
// driver's pragmas), with nothing encoded or bound from Go. The two
// benchmarks' ratio is how much of a night's warehouse write is SQLite's
// own insertion (docs/performance.md, session 9).
func BenchmarkCopyDayInSQLite(b *testing.B) {
	s := benchDay()
	next := day.AddDays(1).String()
	var cpu cpumeter.Meter
	for b.Loop() {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "w.sqlite")
		w, err := sqlite.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.WriteSnapshot(context.Background(), s.Snapshot()); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		db, err := sql.Open("sqlite", path+"?"+sqlite.Pragmas)
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		var copies []string
		for _, t := range []string{"referral_decisions", "payment_accounting"} {
			rows, err := db.Query(fmt.Sprintf(`SELECT * FROM %q LIMIT 0`, t))
			if err != nil {
				b.Fatal(err)
			}
			names, err := rows.Columns()
			if err != nil {
				b.Fatal(err)
			}
			rows.Close()
			var cols, sel []string
			for _, c := range names {
				cols = append(cols, `"`+c+`"`)
				if c == "snapshot_date" {
					sel = append(sel, "?1")
				} else {
					sel = append(sel, `"`+c+`"`)
				}
			}
			copies = append(copies, fmt.Sprintf(`INSERT INTO %q (%s) SELECT %s FROM %q WHERE snapshot_date = ?2`, t, strings.Join(cols, ","), strings.Join(sel, ","), t))
		}
		b.StartTimer()
		cpu.Start()
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for _, q := range copies {
			res, err := tx.Exec(q, next, day.String())
			if err != nil {
				b.Fatal(err)
			}
			k, _ := res.RowsAffected()
			n += k
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		cpu.Stop()
		b.StopTimer()
		if n != 300_000 {
			b.Fatalf("copied %d rows, want 300000", n)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	cpu.Report(b)
	reportRows(b, 300_000)
}

// benchNewWarehouse times writing s, once per iteration, into a new
// warehouse file that fill (untimed) wrote first.
func benchNewWarehouse(b *testing.B, s warehouse.Snapshot, fill func(*sqlite.Warehouse) error) {
	var cpu cpumeter.Meter
	for b.Loop() {
		b.StopTimer()
		w, err := sqlite.Open(filepath.Join(b.TempDir(), "w.sqlite"))
		if err != nil {
			b.Fatal(err)
		}
		if err := fill(w); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu.Start()
		if err := w.WriteSnapshot(context.Background(), s); err != nil {
			b.Fatal(err)
		}
		cpu.Stop()
		b.StopTimer()
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	cpu.Report(b)
	reportRows(b, 300_000)
}

// reportRows reports rows/s: rows per iteration over the wall time.
func reportRows(b *testing.B, rows int) {
	b.ReportMetric(float64(b.N)*float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// redate is d with every row of date.
func redate(d warehousetest.Day, date civil.Date) warehousetest.Day {
	out := warehousetest.Day{Date: date}
	for _, r := range d.ReferralDecisions {
		r.SnapshotDate = date
		out.ReferralDecisions = append(out.ReferralDecisions, r)
	}
	for _, r := range d.PaymentAccounting {
		r.SnapshotDate = date
		out.PaymentAccounting = append(out.PaymentAccounting, r)
	}
	return out
}

// A failure in an early batch of a long streamed table stops the write,
// rolls back, and reports the failure.
func TestFailedBatchStopsStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.sqlite")
	ctx := context.Background()
	w := open(t, path)
	defer w.Close()
	good := warehousetest.Sample(day, "20260415T000000Z-aaaaaaaaaaaa")
	write(t, w, good.Snapshot())
	failInsertsWhen(t, path, "referral_decisions", "NEW.referee_email = 'u700@example.com'")
	s := warehousetest.Day{Date: day}
	for i := range 20_000 {
		s.ReferralDecisions = append(s.ReferralDecisions, warehouse.ReferralDecision{
			SnapshotID: "x", SnapshotDate: day, RefereeEmail: fmt.Sprintf("u%d@example.com", i), Outcome: "valid",
		})
	}
	err := w.WriteSnapshot(ctx, warehousetest.Stream(s))
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("WriteSnapshot = %v, want the injected failure", err)
	}
	warehousetest.Check(ctx, t, w, good)
}

// Each table's rows are encoded in a goroutine of their own, ahead of the
// inserts: a failure in one table stops every table's reading before
// Stage returns (no row sequence is still running), and a panic in a row
// sequence fails the write instead of the process.
func TestStageStopsEncoding(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.sqlite")
	w := open(t, path)
	defer w.Close()
	good := warehousetest.Sample(day, "20260415T000000Z-aaaaaaaaaaaa")
	write(t, w, good.Snapshot())
	var running atomic.Int32
	endless := func(yield func(*warehouse.Subscription) bool) {
		running.Add(1)
		defer running.Add(-1)
		row := warehouse.Subscription{SnapshotID: "x", SnapshotDate: day, Status: "active"}
		for i := 0; ; i++ {
			row.SubscriptionID = fmt.Sprintf("sub_%d", i)
			if !yield(&row) {
				return
			}
		}
	}
	decisions := func(bad func(i int, row *warehouse.ReferralDecision)) func(yield func(*warehouse.ReferralDecision) bool) {
		return func(yield func(*warehouse.ReferralDecision) bool) {
			running.Add(1)
			defer running.Add(-1)
			for i := range 5000 {
				row := warehouse.ReferralDecision{SnapshotID: "x", SnapshotDate: day, RefereeEmail: fmt.Sprintf("u%d@example.com", i)}
				bad(i, &row)
				if !yield(&row) {
					return
				}
			}
		}
	}
	for _, tc := range []struct {
		name string
		bad  func(i int, row *warehouse.ReferralDecision)
		want string
	}{
		{"wrong date", func(i int, row *warehouse.ReferralDecision) {
			if i == 2100 {
				row.SnapshotDate = day.AddDays(1)
			}
		}, "snapshot_date"},
		{"panic", func(i int, row *warehouse.ReferralDecision) {
			if i == 2100 {
				panic("boom")
			}
		}, "panic: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := warehouse.Snapshot{Date: day, ReferralDecisions: decisions(tc.bad), Subscriptions: endless}
			err := w.WriteSnapshot(ctx, s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("WriteSnapshot = %v, want an error with %q", err, tc.want)
			}
			if n := running.Load(); n != 0 {
				t.Errorf("%d row sequences still running after WriteSnapshot returned", n)
			}
			warehousetest.Check(ctx, t, w, good)
		})
	}
	// The failed stagings, an aborted one and a committed one each gave
	// the warehouse's one connection back.
	st, err := w.Stage(ctx, good.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSnapshot(ctx, good.Snapshot()); err != nil {
		t.Fatalf("WriteSnapshot after failed and aborted stagings: %v", err)
	}
	if _, err := w.ReadSettlements(ctx, ""); err != nil {
		t.Fatalf("ReadSettlements after the stagings: %v", err)
	}
	warehousetest.Check(ctx, t, w, good)
}
