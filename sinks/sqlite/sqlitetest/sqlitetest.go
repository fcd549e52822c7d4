// Package sqlitetest reads a SQLite warehouse (sinks/sqlite) back for
// tests (warehousetest.Driver, and the end-to-end tests of cmd): a Day of
// every snapshot table's rows, through the driver's own reader
// (Warehouse.ReadRows).
package sqlitetest

import (
	"context"
	"errors"

	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/sinks/sqlite"
	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
)

// ReadDay reads the rows of date from every table of the warehouse file at
// path, in insertion order. A date never written gives a Day without rows;
// a column missing from the file (written by an older version) reads as
// the zero value (Open adds the column).
func ReadDay(ctx context.Context, path string, date civil.Date) (_ warehousetest.Day, err error) {
	w, err := sqlite.Open(path)
	if err != nil {
		return warehousetest.Day{}, err
	}
	defer func() { err = errors.Join(err, w.Close()) }()
	day := warehousetest.Day{Date: date}
	for _, t := range warehouse.Tables() {
		if err := w.ReadRows(ctx, t.Name, date, day.Table(t.Name)); err != nil {
			return warehousetest.Day{}, err
		}
	}
	return day, nil
}
