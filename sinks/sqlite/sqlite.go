// Package sqlite is the embedded warehouse driver: finance's tables (SPEC
// 3.2) in a local SQLite file, through the pure-Go modernc.org/sqlite.
//
// Tables and columns are derived from the `bigquery` struct tags of the row
// types in sinks/warehouse, so they match the BigQuery tables name for name.
// Column types: string TEXT; int64 and int INTEGER; bool INTEGER 0/1;
// float64 REAL; civil.Date TEXT 'YYYY-MM-DD'; time.Time TEXT RFC 3339 in UTC
// (fractional seconds only when non-zero; the zero time is
// '0001-01-01T00:00:00Z'); repeated fields ([]string, []Conversion) TEXT
// holding a JSON array (times inside it in UTC). Each table has an index on
// (snapshot_date) or (snapshot_date, cycle_id).
//
// WriteSnapshot replaces a day: in one transaction it deletes the rows of the
// snapshot's date from every table and inserts the new rows with multi-row
// INSERTs through prepared statements (a batch binds each value once:
// snapshot_id, snapshot_date, cycle_id and currency once per INSERT, and a
// column at its zero value in every row of the batch is a literal). Each
// table's rows are read and encoded into batches by a goroutine of its
// own, started with the write and a few batches ahead of it, so the
// writing goroutine only binds and executes (on the driver's statements,
// with the values in the driver's types, bypassing database/sql). A
// failed or cancelled write rolls back and leaves the previous rows. Stage
// does the same but leaves the transaction open, for a run to commit once
// its other outputs are staged (warehouse.Staged). The database runs in
// WAL mode with synchronous=NORMAL; a new file gets 64 KiB pages (an
// existing file keeps its page size).
//
// The settlement ledger (table settlements, warehouse.LedgerDriver) lives in
// the same file: created by Open, appended to in transactions by
// AppendSettlements, and never touched by WriteSnapshot.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"cloud.google.com/go/civil"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/refrecon/refrecon/sinks/internal/jsonstr"
	"github.com/refrecon/refrecon/sinks/warehouse"
)

// Warehouse is a warehouse in one SQLite file.
type Warehouse struct {
	db     *sql.DB
	path   string
	tables []table // the tables of a snapshot (warehouse.Tables)
	ledger table   // settlements (warehouse.LedgerTable): never part of a snapshot
}

type kind int

const (
	kString kind = iota
	kInt
	kBool
	kFloat
	kDate
	kTime
	kJSON
)

type column struct {
	name  string
	field int
	kind  kind
	// shared > 0: one value for every row of an INSERT, bound once as
	// ?shared (sharedColumns: the same over long runs of rows; a row with
	// another value starts a new INSERT).
	shared int
}

type table struct {
	warehouse.Table
	cols    []column
	nShared int // columns with shared > 0
}

var (
	dateType = reflect.TypeOf(civil.Date{})
	timeType = reflect.TypeOf(time.Time{})
)

// sharedColumns are bound once per INSERT: snapshot_id and snapshot_date
// are the same in nearly every row, cycle_id and currency over a cycle's
// rows (tables list them cycle by cycle).
var sharedColumns = map[string]bool{"snapshot_id": true, "snapshot_date": true, "cycle_id": true, "currency": true}

// maxVars bounds the bound parameters of one INSERT (SQLite's default limit
// is 32766).
const maxVars = 30000

// batchRows is how many rows one INSERT carries at most.
const batchRows = 500

func tablesFromRows(wts []warehouse.Table) ([]table, error) {
	var out []table
	for _, wt := range wts {
		rt := wt.RowType()
		t := table{Table: wt}
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("bigquery"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			k, err := kindOf(f.Type)
			if err != nil {
				return nil, fmt.Errorf("table %s column %s: %w", wt.Name, name, err)
			}
			c := column{name: name, field: i, kind: k}
			if sharedColumns[name] {
				if k != kString && k != kDate {
					return nil, fmt.Errorf("table %s column %s: want a string or a date", wt.Name, name)
				}
				t.nShared++
				c.shared = t.nShared
			}
			t.cols = append(t.cols, c)
		}
		out = append(out, t)
	}
	return out, nil
}

func kindOf(t reflect.Type) (kind, error) {
	switch {
	case t == dateType:
		return kDate, nil
	case t == timeType:
		return kTime, nil
	}
	switch t.Kind() {
	case reflect.String:
		return kString, nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		return kInt, nil
	case reflect.Bool:
		return kBool, nil
	case reflect.Float64:
		return kFloat, nil
	case reflect.Slice:
		return kJSON, nil
	}
	return 0, fmt.Errorf("unsupported type %s", t)
}

func (k kind) sqlType() string {
	switch k {
	case kInt, kBool:
		return "INTEGER"
	case kFloat:
		return "REAL"
	}
	return "TEXT"
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Open opens the warehouse at path, creating the file, its directory and the
// tables when missing. Columns missing from an existing table (a file
// written by an older version) are added.
func Open(path string) (*Warehouse, error) {
	if path == "" {
		return nil, errors.New("open sqlite warehouse: empty path")
	}
	tables, err := tablesFromRows(warehouse.AllTables())
	if err != nil {
		return nil, fmt.Errorf("open sqlite warehouse: %w", err)
	}
	ledger := tables[len(tables)-1]
	tables = tables[:len(tables)-1]
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite warehouse %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("open sqlite warehouse %s: %w", path, err)
	}
	// The warehouse holds emails: create a new file readable by its owner
	// only (SQLite gives its -wal and -shm files the database file's mode).
	// An existing file keeps the mode its operator gave it.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite warehouse %s: %w", path, err)
	}
	st, err := f.Stat()
	if err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("open sqlite warehouse %s: %w", path, err)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	if st.Size() == 0 {
		if err := initFile(u.String()); err != nil {
			return nil, fmt.Errorf("open sqlite warehouse %s: %w", path, err)
		}
	}
	db, err := sql.Open("sqlite", u.String()+"?"+pragmas)
	if err != nil {
		return nil, fmt.Errorf("open sqlite warehouse %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and it keeps the
	// per-connection pragmas in force for every statement.
	db.SetMaxOpenConns(1)
	w := &Warehouse{db: db, path: path, tables: tables, ledger: ledger}
	if err := w.createTables(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite warehouse %s: %w", path, err)
	}
	return w, nil
}

// pageSize is the page size of a new warehouse file. SQLite's default is
// 4 KiB; every page a write adds costs two write(2) calls in the WAL
// (frame header and page), so larger pages mean fewer calls for the same
// bytes (docs/performance.md, change 22).
const pageSize = 65536

// initFile gives a new, empty database file its page size and WAL mode:
// the page size must be set before anything is written, and the
// connection's own pragmas (the DSN's, applied in name order) would set
// WAL mode first. An existing file keeps the page size it has.
func initFile(dsn string) error {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{fmt.Sprintf("PRAGMA page_size = %d", pageSize), "PRAGMA journal_mode = WAL"} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("initialize: %w", err)
		}
	}
	return db.Close()
}

func (w *Warehouse) createTables(ctx context.Context) error {
	for _, t := range append(w.tables[:len(w.tables):len(w.tables)], w.ledger) {
		defs := make([]string, len(t.cols))
		hasCycle := false
		for i, c := range t.cols {
			defs[i] = quoteIdent(c.name) + " " + c.kind.sqlType()
			hasCycle = hasCycle || c.name == "cycle_id"
		}
		stmt := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", quoteIdent(t.Name), strings.Join(defs, ", "))
		if _, err := w.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create table %s: %w", t.Name, err)
		}
		existing, err := w.columns(ctx, t.Name)
		if err != nil {
			return err
		}
		for _, c := range t.cols {
			if existing[c.name] {
				continue
			}
			stmt := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", quoteIdent(t.Name), quoteIdent(c.name), c.kind.sqlType())
			if _, err := w.db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("add column %s.%s: %w", t.Name, c.name, err)
			}
		}
		idxCols := `"snapshot_date"`
		if hasCycle {
			idxCols += `, "cycle_id"`
		}
		stmt = fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", quoteIdent(t.Name+"_snapshot"), quoteIdent(t.Name), idxCols)
		if _, err := w.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create index on %s: %w", t.Name, err)
		}
	}
	return nil
}

func (w *Warehouse) columns(ctx context.Context, tableName string) (map[string]bool, error) {
	rows, err := w.db.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", tableName)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", tableName, err)
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("read columns of %s: %w", tableName, err)
		}
		cols[name] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", tableName, err)
	}
	return cols, nil
}

// pragmas are the DSN parameters every connection opens with.
const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"

// Close closes the database.
func (w *Warehouse) Close() error {
	if err := w.db.Close(); err != nil {
		return fmt.Errorf("close sqlite warehouse %s: %w", w.path, err)
	}
	return nil
}

// WriteSnapshot replaces the rows of s.Date in every table with s's rows, in
// one transaction: Stage, then Commit.
func (w *Warehouse) WriteSnapshot(ctx context.Context, s warehouse.Snapshot) error {
	st, err := w.Stage(ctx, s)
	if err != nil {
		return err
	}
	return st.Commit(ctx)
}

// Stage writes s into an open transaction and returns it uncommitted: in
// it, the rows of s.Date are deleted from every table and s's rows
// inserted. The rows are read one at a time (warehouse.Snapshot.Rows) and
// inserted in batches, so a streamed snapshot is never held whole; a row
// of another date, an error or a cancelled ctx rolls the transaction back
// and leaves the previous rows. Nothing is visible to other connections
// until Commit; Abort (or ctx cancelled before Commit) rolls it back.
// While a snapshot is staged the warehouse's one connection is the
// transaction's: commit or abort it before anything else uses w.
func (w *Warehouse) Stage(ctx context.Context, s warehouse.Snapshot) (warehouse.Staged, error) {
	tx, err := w.stage(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("write snapshot %v to sqlite warehouse %s: %w", s.Date, w.path, err)
	}
	return &staged{w: w, tx: tx, date: s.Date}, nil
}

// txConn is a transaction on the warehouse's one connection, held as a
// sql.Conn too, so the inserts can use the driver's statements directly
// (raw): database/sql's conversion and checks of every argument, a tenth
// of the writing goroutine at 1M (docs/performance.md, change 32), are
// skipped; the values are the driver's types already. Commit and rollback
// end the transaction and give the connection back.
type txConn struct {
	conn *sql.Conn
	tx   *sql.Tx
}

func (w *Warehouse) begin(ctx context.Context) (*txConn, error) {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &txConn{conn: conn, tx: tx}, nil
}

func (t *txConn) commit() error {
	err := t.tx.Commit()
	return errors.Join(err, t.conn.Close())
}

// rollback rolls back (a transaction rolled back already, by its
// context, is no error).
func (t *txConn) rollback() error {
	err := t.tx.Rollback()
	if errors.Is(err, sql.ErrTxDone) {
		err = nil
	}
	return errors.Join(err, t.conn.Close())
}

// raw runs f with the connection's driver connection, inside the open
// transaction (statements run on the same SQLite connection). f must
// close the statements it prepares; nothing else uses the connection
// meanwhile (a cancelled context's rollback waits until f returns).
func (t *txConn) raw(f func(dc driver.Conn) error) error {
	return t.conn.Raw(func(c any) error {
		dc, ok := c.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection %T", c)
		}
		return f(dc)
	})
}

// execRaw executes q with args on dc.
func execRaw(ctx context.Context, dc driver.Conn, q string, args ...driver.NamedValue) error {
	ec, ok := dc.(driver.ExecerContext)
	if !ok {
		return fmt.Errorf("driver connection %T cannot execute", dc)
	}
	_, err := ec.ExecContext(ctx, q, args)
	return err
}

// staged is a snapshot written into a transaction not yet committed.
type staged struct {
	w    *Warehouse
	tx   *txConn
	date civil.Date
	done bool
}

// Commit commits the transaction: the staged rows replace the day's.
func (s *staged) Commit(ctx context.Context) error {
	if s.done {
		return fmt.Errorf("commit snapshot %v to sqlite warehouse %s: already committed or aborted", s.date, s.w.path)
	}
	s.done = true
	if err := ctx.Err(); err != nil {
		_ = s.tx.rollback() // the cancellation is the error to report
		return fmt.Errorf("commit snapshot %v to sqlite warehouse %s: %w", s.date, s.w.path, err)
	}
	if err := s.tx.commit(); err != nil {
		return fmt.Errorf("commit snapshot %v to sqlite warehouse %s: %w", s.date, s.w.path, err)
	}
	return nil
}

// Abort rolls the transaction back; the warehouse keeps the rows it had.
func (s *staged) Abort() error {
	if s.done {
		return nil
	}
	s.done = true
	if err := s.tx.rollback(); err != nil {
		return fmt.Errorf("abort snapshot %v in sqlite warehouse %s: %w", s.date, s.w.path, err)
	}
	return nil
}

func (w *Warehouse) stage(ctx context.Context, s warehouse.Snapshot) (_ *txConn, err error) {
	if err := s.ValidateDate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tx, err := w.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = tx.rollback() // the write's error is the one to report
		}
	}()
	// Every table's rows are encoded by a goroutine of its own, started
	// now, a few batches ahead of the inserts (encode), so this goroutine
	// only binds and steps; a table that is slow to start (the sorted
	// subscriptions) is ready when its turn comes.
	encs := make([]*encoding, len(w.tables))
	for i, t := range w.tables {
		encs[i] = startEncoding(newLayout(t), s.Rows(t.Name))
	}
	defer func() {
		for _, e := range encs {
			e.stop()
		}
	}()
	date := driver.NamedValue{Ordinal: 1, Value: s.Date.String()}
	err = tx.raw(func(dc driver.Conn) error {
		for i, t := range w.tables {
			if err := execRaw(ctx, dc, fmt.Sprintf("DELETE FROM %s WHERE snapshot_date = ?", quoteIdent(t.Name)), date); err != nil {
				return fmt.Errorf("delete %s rows: %w", t.Name, err)
			}
			if err := insert(ctx, dc, encs[i]); err != nil {
				return fmt.Errorf("insert %s rows: %w", t.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return tx, nil
}

// layout is how a table's rows are inserted: multi-row INSERTs of up to
// per rows, the shared columns first in the column list as
// ?1..?nShared, then each row's columns (rowCols).
type layout struct {
	t            table
	per          int      // rows per full INSERT
	names        []string // the column list, quoted
	sharedParams []string // ?1..?nShared
	rowCols      []column // the columns each row binds, in the list's order
}

func newLayout(t table) *layout {
	perRow := len(t.cols) - t.nShared
	l := &layout{t: t, per: min(batchRows, (maxVars-t.nShared)/max(perRow, 1))}
	// Each "?" after the shared columns is numbered one above the largest
	// so far, so the rows' values follow in order.
	for _, c := range t.cols {
		if c.shared > 0 {
			l.names = append(l.names, quoteIdent(c.name))
			l.sharedParams = append(l.sharedParams, fmt.Sprintf("?%d", c.shared))
		}
	}
	for _, c := range t.cols {
		if c.shared == 0 {
			l.names = append(l.names, quoteIdent(c.name))
			l.rowCols = append(l.rowCols, c)
		}
	}
	return l
}

// query is the INSERT of k rows in which the columns of zero (bit j:
// rowCols[j]) hold their zero value in every row, written as a literal
// instead of bound (zeroColumns).
func (l *layout) query(k int, zero uint64) string {
	params := slices.Clone(l.sharedParams)
	for j, c := range l.rowCols {
		if zero&(1<<j) != 0 {
			params = append(params, c.kind.zeroLiteral())
		} else {
			params = append(params, "?")
		}
	}
	tuple := "(" + strings.Join(params, ",") + ")"
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", quoteIdent(l.t.Name), strings.Join(l.names, ","),
		strings.TrimSuffix(strings.Repeat(tuple+",", k), ","))
}

// batch is one INSERT's rows, encoded: the shared values, then each row's
// values without the zero columns.
type batch struct {
	args []driver.NamedValue // ordinals 1..len(args)
	rows int
	zero uint64 // the columns written as literals (zeroColumns)
	err  error  // set on the last batch when the rows failed
}

// encoding is a table's rows being encoded into batches by a goroutine
// of its own (encode), at most readyBatches ahead of insert.
type encoding struct {
	l     *layout
	ready chan *batch   // the batches in order; closed after the last
	free  chan *batch   // batches insert is done with, for reuse
	quit  chan struct{} // closed by stop
	done  chan struct{} // closed when the goroutine has returned
	once  sync.Once
}

// readyBatches is how many encoded batches may wait for insert.
const readyBatches = 2

func startEncoding(l *layout, rows iter.Seq2[any, error]) *encoding {
	e := &encoding{
		l: l, ready: make(chan *batch, readyBatches), free: make(chan *batch, readyBatches+1),
		quit: make(chan struct{}), done: make(chan struct{}),
	}
	go e.encode(rows)
	return e
}

// stop ends the encoding (when insert returns early) and waits for its
// goroutine: no row is read after stop returns.
func (e *encoding) stop() {
	e.once.Do(func() { close(e.quit) })
	<-e.done
}

// send hands b to insert; false when the encoding was stopped.
func (e *encoding) send(b *batch) bool {
	select {
	case e.ready <- b:
		return true
	case <-e.quit:
		return false
	}
}

// encode reads the rows and sends them in batches of up to l.per rows; a
// row whose shared columns differ from the batch's starts a new batch. A
// failure (or a panic) is sent as a last batch with err set.
func (e *encoding) encode(rows iter.Seq2[any, error]) {
	defer close(e.done)
	defer close(e.ready)
	defer func() {
		if r := recover(); r != nil {
			e.send(&batch{err: fmt.Errorf("encode rows: panic: %v\n%s", r, debug.Stack())})
		}
	}()
	l, t := e.l, e.l.t
	shared := make([]any, t.nShared) // the batch's shared values, as in the row
	var enc encoder
	var b *batch
	n := 0
	fail := func(err error) {
		if b == nil {
			b = &batch{}
		}
		b.args, b.rows, b.err = nil, 0, err
		e.send(b)
	}
	flush := func() bool {
		if b == nil || b.rows == 0 {
			return true
		}
		b.zero = zeroColumns(l.rowCols, b.args[t.nShared:], b.rows)
		if b.zero != 0 {
			b.args = dropColumns(b.args, t.nShared, len(l.rowCols), b.zero)
		}
		ok := e.send(b)
		b = nil
		return ok
	}
	if len(l.rowCols) > 64 {
		fail(fmt.Errorf("table %s has %d columns, at most 64 are supported", t.Name, len(l.rowCols)))
		return
	}
	for row, err := range rows {
		if err != nil {
			flush()
			fail(err)
			return
		}
		rv := reflect.ValueOf(row).Elem()
		if b != nil && !sameShared(t.cols, shared, rv) && !flush() {
			return
		}
		if b == nil {
			select {
			case b = <-e.free:
			default:
				b = &batch{args: make([]driver.NamedValue, 0, t.nShared+l.per*len(l.rowCols))}
			}
			for _, c := range t.cols {
				if c.shared > 0 {
					f := rv.Field(c.field)
					shared[c.shared-1] = f.Interface()
					if b.args, err = enc.appendValue(b.args, c, f); err != nil {
						fail(fmt.Errorf("row %d: %w", n, err))
						return
					}
				}
			}
		}
		for _, c := range t.cols {
			if c.shared == 0 {
				if b.args, err = enc.appendValue(b.args, c, rv.Field(c.field)); err != nil {
					fail(fmt.Errorf("row %d: %w", n, err))
					return
				}
			}
		}
		n++
		if b.rows++; b.rows == l.per && !flush() {
			return
		}
	}
	flush()
}

// insertRows inserts t's rows (encoded as insert reads them).
func insertRows(ctx context.Context, tx *txConn, t table, rows iter.Seq2[any, error]) error {
	e := startEncoding(newLayout(t), rows)
	defer e.stop()
	return tx.raw(func(dc driver.Conn) error { return insert(ctx, dc, e) })
}

// insert inserts the batches of e in order; full batches of a shape
// share one prepared statement.
func insert(ctx context.Context, dc driver.Conn, e *encoding) error {
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return fmt.Errorf("driver connection %T cannot prepare with a context", dc)
	}
	// The statements of full batches, by their zero columns: a few shapes
	// repeat over a table (most rows leave the same columns at zero).
	full := map[uint64]driver.Stmt{}
	defer func() {
		for _, st := range full {
			st.Close()
		}
	}()
	exec := func(b *batch) error {
		stmt := full[b.zero]
		if b.rows != e.l.per || stmt == nil {
			var err error
			if stmt, err = pc.PrepareContext(ctx, e.l.query(b.rows, b.zero)); err != nil {
				return err
			}
			if b.rows == e.l.per && len(full) < maxShapes {
				full[b.zero] = stmt
			} else {
				defer stmt.Close()
			}
		}
		sc, ok := stmt.(driver.StmtExecContext)
		if !ok {
			return fmt.Errorf("driver statement %T cannot execute with a context", stmt)
		}
		_, err := sc.ExecContext(ctx, b.args)
		return err
	}
	for b := range e.ready {
		if b.err != nil {
			return b.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := exec(b); err != nil {
			return err
		}
		clear(b.args) // drop references to the batch's strings
		b.args, b.rows = b.args[:0], 0
		select {
		case e.free <- b:
		default:
		}
	}
	return nil
}

// maxShapes bounds the prepared statements kept per table (zero-column
// shapes of full batches); a batch of another shape prepares its own.
const maxShapes = 8

// zeroColumns returns the columns (bit j: cols[j]) that hold their zero
// value (zeroLiteral) in every one of the n rows of args, len(cols) values
// a row.
func zeroColumns(cols []column, args []driver.NamedValue, n int) uint64 {
	var zero uint64
	for j, c := range cols {
		if c.kind.zeroLiteral() != "" {
			zero |= 1 << j
		}
	}
	for r := 0; r < n && zero != 0; r++ {
		row := args[r*len(cols) : (r+1)*len(cols)]
		for j, c := range cols {
			if zero&(1<<j) != 0 && !c.kind.isZero(row[j].Value) {
				zero &^= 1 << j
			}
		}
	}
	return zero
}

// dropColumns removes, in place, the values of the zero columns from each
// row of args after its first nShared values (perRow values a row), and
// returns the shortened args, renumbered.
func dropColumns(args []driver.NamedValue, nShared, perRow int, zero uint64) []driver.NamedValue {
	out := args[:nShared]
	for i, v := range args[nShared:] {
		if zero&(1<<(i%perRow)) == 0 {
			v.Ordinal = len(out) + 1
			out = append(out, v)
		}
	}
	clear(args[len(out):])
	return out
}

// zeroTime is how the zero time.Time is stored (appendTime).
const zeroTime = "0001-01-01T00:00:00Z"

// zeroLiteral is the SQL literal of the value a column of kind k stores
// for its Go zero value; "" for kinds always bound (a float's zero may be
// -0; dates are shared).
func (k kind) zeroLiteral() string {
	switch k {
	case kString:
		return "''"
	case kInt, kBool:
		return "0"
	case kTime:
		return "'" + zeroTime + "'"
	case kJSON:
		return "'[]'"
	}
	return ""
}

// isZero reports whether v, a value appendValue made for a column of kind
// k, is the one zeroLiteral writes.
func (k kind) isZero(v any) bool {
	switch k {
	case kString:
		s, ok := v.(string)
		return ok && s == ""
	case kInt, kBool:
		n, ok := v.(int64)
		return ok && n == 0
	case kTime:
		s, ok := v.(string)
		return ok && s == zeroTime
	case kJSON:
		s, ok := v.(string)
		return ok && s == "[]"
	}
	return false
}

// sameShared reports whether row's shared columns hold the batch's values.
func sameShared(cols []column, shared []any, row reflect.Value) bool {
	for _, c := range cols {
		if c.shared == 0 {
			continue
		}
		f := row.Field(c.field)
		switch c.kind {
		case kString:
			if s, _ := shared[c.shared-1].(string); f.String() != s {
				return false
			}
		case kDate:
			if d, _ := shared[c.shared-1].(civil.Date); *f.Addr().Interface().(*civil.Date) != d {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// encoder turns row fields into SQLite values. The text values are
// copied into text, one block after the other, in the order they are
// bound: the driver copies every bound string again (into SQLite's
// memory), and read from the rows' own strings, spread over the heap,
// that copy was mostly cache misses on the writing goroutine
// (docs/performance.md, change 27); read from text in order it is not,
// and the misses are taken here, on the encoder's goroutine.
type encoder struct{ text []byte }

// textBlock is the size of a new block of text.
const textBlock = 64 << 10

// room makes text hold at least n more bytes. A block's bytes are never
// written again once a string points at them: a full block is left to
// its strings and a new one started.
func (e *encoder) room(n int) {
	if cap(e.text)-len(e.text) < n {
		e.text = make([]byte, 0, max(textBlock, n))
	}
}

// since returns the bytes of text from start as a string (they are never
// written again).
func (e *encoder) since(start int) string {
	if len(e.text) == start {
		return ""
	}
	return unsafe.String(&e.text[start], len(e.text)-start)
}

// appendValue appends the SQLite value of field v of column c.
func (e *encoder) appendValue(args []driver.NamedValue, c column, v reflect.Value) ([]driver.NamedValue, error) {
	val, err := e.value(c, v)
	if err != nil {
		return nil, err
	}
	return append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: val}), nil
}

// value is the SQLite value of field v of column c: a string, int64 or
// float64.
func (e *encoder) value(c column, v reflect.Value) (driver.Value, error) {
	switch c.kind {
	case kString:
		s := v.String()
		e.room(len(s))
		start := len(e.text)
		e.text = append(e.text, s...)
		return e.since(start), nil
	case kInt:
		return v.Int(), nil
	case kBool:
		b := int64(0)
		if v.Bool() {
			b = 1
		}
		return b, nil
	case kFloat:
		return v.Float(), nil
	case kDate:
		return v.Addr().Interface().(*civil.Date).String(), nil
	case kTime:
		e.room(len(time.RFC3339Nano))
		start := len(e.text)
		e.text = appendTime(e.text, *v.Addr().Interface().(*time.Time))
		return e.since(start), nil
	case kJSON:
		e.room(2)
		start := len(e.text)
		b, err := e.appendJSON(e.text, v)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.name, err)
		}
		e.text = b // when appendJSON grew it, a new block holding this block's bytes too
		return e.since(start), nil
	}
	return nil, fmt.Errorf("column %s: unknown kind %d", c.name, c.kind)
}

// appendJSON appends a repeated field's JSON text: what encoding/json gives
// for it with times in UTC, and "[]" for an empty or nil slice. []string and
// []warehouse.Conversion are encoded directly, other types through
// encoding/json.
func (e *encoder) appendJSON(b []byte, v reflect.Value) ([]byte, error) {
	if v.Len() == 0 {
		return append(b, "[]"...), nil
	}
	switch x := v.Interface().(type) {
	case []string:
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, s)
		}
		return append(b, ']'), nil
	case []warehouse.Conversion:
		b = append(b, '[')
		for i := range x {
			c := &x[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"cycle_id":`...)
			b = jsonstr.Append(b, c.CycleID)
			b = append(b, `,"converted_at":`...)
			tb, err := c.ConvertedAt.UTC().MarshalJSON()
			if err != nil {
				return nil, err
			}
			b = append(b, tb...)
			b = append(b, `,"invoice_id":`...)
			b = jsonstr.Append(b, c.InvoiceID)
			b = append(b, `,"pending":`...)
			b = strconv.AppendBool(b, c.Pending)
			b = append(b, `,"reward_eligible":`...)
			b = strconv.AppendBool(b, c.RewardEligible)
			b = append(b, `,"reason":`...)
			b = jsonstr.Append(b, c.Reason)
			b = append(b, '}')
		}
		return append(b, ']'), nil
	}
	j, err := json.Marshal(utcCopy(v).Interface())
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

// appendTime appends a time's TEXT: RFC 3339 in UTC, fractional seconds
// only when non-zero.
func appendTime(b []byte, t time.Time) []byte { return t.UTC().AppendFormat(b, time.RFC3339Nano) }

// utcCopy returns a copy of v with every time.Time in UTC, so JSON columns
// hold UTC instants.
func utcCopy(v reflect.Value) reflect.Value {
	switch {
	case v.Type() == timeType:
		return reflect.ValueOf(v.Interface().(time.Time).UTC())
	case v.Kind() == reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if out.Field(i).CanSet() {
				out.Field(i).Set(utcCopy(v.Field(i)))
			}
		}
		return out
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(utcCopy(v.Index(i)))
		}
		return out
	}
	return v
}

// query appends to out (a slice of t's row type) the rows of t matching
// where, in insertion order.
func (w *Warehouse) query(ctx context.Context, t table, out reflect.Value, where string, args ...any) error {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = quoteIdent(c.name)
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY rowid", strings.Join(names, ","), quoteIdent(t.Name), where)
	rows, err := w.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]any, len(t.cols))
	ptrs := make([]any, len(t.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row := reflect.New(t.RowType()).Elem()
		for i, c := range t.cols {
			if err := setField(row.Field(c.field), c.kind, vals[i]); err != nil {
				return fmt.Errorf("row %d column %s: %w", out.Len()+1, c.name, err)
			}
		}
		out.Set(reflect.Append(out, row))
	}
	return rows.Err()
}

// setField stores a value scanned from SQLite; NULL (a column added to an
// older file) leaves the zero value.
func setField(f reflect.Value, k kind, v any) error {
	if v == nil {
		return nil
	}
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	switch k {
	case kString:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want TEXT, got %T", v)
		}
		f.SetString(s)
	case kInt, kBool:
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf("want INTEGER, got %T", v)
		}
		if k == kBool {
			f.SetBool(n != 0)
		} else {
			f.SetInt(n)
		}
	case kFloat:
		switch x := v.(type) {
		case float64:
			f.SetFloat(x)
		case int64:
			f.SetFloat(float64(x))
		default:
			return fmt.Errorf("want REAL, got %T", v)
		}
	case kDate:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want TEXT date, got %T", v)
		}
		d, err := civil.ParseDate(s)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(d))
	case kTime:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want TEXT time, got %T", v)
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(tm.UTC()))
	case kJSON:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want TEXT JSON, got %T", v)
		}
		p := reflect.New(f.Type())
		if err := json.Unmarshal([]byte(s), p.Interface()); err != nil {
			return err
		}
		if p.Elem().Len() > 0 {
			f.Set(utcCopy(p.Elem()))
		}
	}
	return nil
}
