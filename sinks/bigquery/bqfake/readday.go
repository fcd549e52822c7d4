package bqfake

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/refrecon/refrecon/sinks/warehouse"
	"github.com/refrecon/refrecon/sinks/warehouse/warehousetest"
)

// ReadDay reads the rows of one day of project.dataset back with the real
// BigQuery client (tabledata.list on each table's partition), for
// warehousetest.Driver and end-to-end tests: the warehouse driver itself
// never reads a day back. A day never written, or a missing table, reads as empty.
func (s *Server) ReadDay(ctx context.Context, project, dataset string, date civil.Date) (warehousetest.Day, error) {
	day := warehousetest.Day{Date: date}
	if !date.IsValid() {
		return day, fmt.Errorf("read bigquery day: invalid date %v", date)
	}
	c, err := bq.NewClient(ctx, project, option.WithEndpoint(s.URL()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		return day, err
	}
	defer c.Close()
	ds := c.Dataset(dataset)
	for _, t := range warehouse.Tables() {
		it := ds.Table(fmt.Sprintf("%s$%04d%02d%02d", t.Name, date.Year, int(date.Month), date.Day)).Read(ctx)
		dst := reflect.ValueOf(day.Table(t.Name)).Elem()
		for {
			p := reflect.New(t.RowType())
			err := it.Next(p.Interface())
			var ge *googleapi.Error
			if errors.Is(err, iterator.Done) || errors.As(err, &ge) && ge.Code == 404 {
				break
			}
			if err != nil {
				return warehousetest.Day{Date: date}, fmt.Errorf("read bigquery day %s: %s: %w", date, t.Name, err)
			}
			dst.Set(reflect.Append(dst, p.Elem()))
		}
	}
	return day, nil
}
