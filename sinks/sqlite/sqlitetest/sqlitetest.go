// Package sqlitetest reads a SQLite warehouse (sinks/sqlite) back for
// tests: the driver itself only writes, and what it wrote is checked
// through ReadDay (warehousetest.Driver, and the end-to-end tests of cmd).
package sqlitetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
)

// ReadDay reads the rows of date from every table of the warehouse file at
// path, in insertion order. A date never written gives a Day without rows;
// a column missing from the file (written by an older version) reads as
// the zero value.
func ReadDay(ctx context.Context, path string, date civil.Date) (warehousetest.Day, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return warehousetest.Day{}, err
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: "mode=ro&_pragma=busy_timeout(10000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return warehousetest.Day{}, err
	}
	defer db.Close()
	day := warehousetest.Day{Date: date}
	for _, t := range warehouse.Tables() {
		if err := readTable(ctx, db, t, date, &day); err != nil {
			return warehousetest.Day{}, fmt.Errorf("read %v from sqlite warehouse %s: %s: %w", date, path, t.Name, err)
		}
	}
	return day, nil
}

func readTable(ctx context.Context, db *sql.DB, t warehouse.Table, date civil.Date, day *warehousetest.Day) error {
	have := map[string]bool{}
	cols, err := db.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", t.Name)
	if err != nil {
		return err
	}
	for cols.Next() {
		var n string
		if err := cols.Scan(&n); err != nil {
			cols.Close()
			return err
		}
		have[n] = true
	}
	cols.Close()
	if len(have) == 0 {
		return nil // no such table yet
	}
	rt := t.RowType()
	var names []string
	var fields []int
	for i := 0; i < rt.NumField(); i++ {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("bigquery"), ",")
		if have[name] {
			names = append(names, `"`+name+`"`)
			fields = append(fields, i)
		}
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM "%s" WHERE snapshot_date = ? ORDER BY rowid`,
		strings.Join(names, ","), t.Name), date.String())
	if err != nil {
		return err
	}
	defer rows.Close()
	out := reflect.ValueOf(day.Table(t.Name)).Elem()
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row := reflect.New(rt).Elem()
		for i, f := range fields {
			if err := set(row.Field(f), vals[i]); err != nil {
				return fmt.Errorf("row %d column %s: %w", out.Len()+1, names[i], err)
			}
		}
		out.Set(reflect.Append(out, row))
	}
	return rows.Err()
}

var (
	dateType = reflect.TypeFor[civil.Date]()
	timeType = reflect.TypeFor[time.Time]()
)

// set stores a scanned value by the field's Go type; NULL leaves the zero
// value.
func set(f reflect.Value, v any) error {
	if v == nil {
		return nil
	}
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	s, isText := v.(string)
	n, isInt := v.(int64)
	switch {
	case f.Type() == dateType && isText:
		d, err := civil.ParseDate(s)
		f.Set(reflect.ValueOf(d))
		return err
	case f.Type() == timeType && isText:
		tm, err := time.Parse(time.RFC3339Nano, s)
		f.Set(reflect.ValueOf(tm.UTC()))
		return err
	case f.Kind() == reflect.String && isText:
		f.SetString(s)
	case f.Kind() == reflect.Int64 && isInt:
		f.SetInt(n)
	case f.Kind() == reflect.Bool && isInt:
		f.SetBool(n != 0)
	case f.Kind() == reflect.Float64 && isInt:
		f.SetFloat(float64(n))
	case f.Kind() == reflect.Float64:
		x, ok := v.(float64)
		if !ok {
			return fmt.Errorf("want REAL, got %T", v)
		}
		f.SetFloat(x)
	case f.Kind() == reflect.Slice && isText:
		p := reflect.New(f.Type())
		if err := json.Unmarshal([]byte(s), p.Interface()); err != nil {
			return err
		}
		if p.Elem().Len() > 0 {
			f.Set(p.Elem())
		}
	default:
		return fmt.Errorf("cannot store %T in a %s field", v, f.Type())
	}
	return nil
}
