package bigquery

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"

	"github.com/refrecon/refrecon/sinks/warehouse"
)

// PartitionField is the DATE column every table is day-partitioned on.
const PartitionField = "snapshot_date"

// clusterCandidates are the columns tables are clustered on, in order,
// when they have them.
var clusterCandidates = []string{"cycle_id", "refcode"}

// Schemas returns every warehouse table's schema (the settlements ledger
// included), inferred from the row types in sinks/warehouse
// (bigquery.InferSchema on the struct tags).
func Schemas() (map[string]bq.Schema, error) {
	out := map[string]bq.Schema{}
	for _, t := range warehouse.AllTables() {
		s, err := bq.InferSchema(t.Row)
		if err != nil {
			return nil, fmt.Errorf("infer schema of %s: %w", t.Name, err)
		}
		out[t.Name] = s
	}
	return out, nil
}

// schemaOf is one table's schema, inferred as Schemas does.
func schemaOf(table string) (bq.Schema, error) {
	schemas, err := Schemas()
	if err != nil {
		return nil, err
	}
	s, ok := schemas[table]
	if !ok {
		return nil, fmt.Errorf("unknown warehouse table %q", table)
	}
	return s, nil
}

// TableMetadata is what a missing table is created with: its schema,
// day partitioning on snapshot_date, and clustering on cycle_id and refcode
// where the table has them.
func TableMetadata(table string) (*bq.TableMetadata, error) {
	s, err := schemaOf(table)
	if err != nil {
		return nil, err
	}
	desc := fmt.Sprintf("refrecon warehouse table %s (SPEC 3.2): one partition per snapshot_date, replaced by each run of that day", table)
	if table == warehouse.TableSettlements {
		desc = "refrecon settlement ledger (SPEC 2.8, 3.2): append-only, written only by refrecon settle apply; an entry's state is its row with the greatest seq"
	}
	md := &bq.TableMetadata{
		Description:      desc,
		Schema:           s,
		TimePartitioning: &bq.TimePartitioning{Field: PartitionField, Type: bq.DayPartitioningType},
		Labels:           map[string]string{"app": "refrecon"},
	}
	var cluster []string
	for _, c := range clusterCandidates {
		if slices.ContainsFunc(s, func(f *bq.FieldSchema) bool { return f.Name == c && !f.Repeated }) {
			cluster = append(cluster, c)
		}
	}
	if len(cluster) > 0 {
		md.Clustering = &bq.Clustering{Fields: cluster}
	}
	return md, nil
}

// SchemaJSON is a table's schema in the JSON form `bq mk --schema` and
// `bq load --schema` accept (deploy/bigquery/<table>.json).
func SchemaJSON(table string) ([]byte, error) {
	s, err := schemaOf(table)
	if err != nil {
		return nil, err
	}
	b, err := s.ToJSONFields()
	if err != nil {
		return nil, fmt.Errorf("encode schema of %s: %w", table, err)
	}
	return append(b, '\n'), nil
}

// WriteSchemaFiles writes <table>.json for every table (the ledger
// included) into dir.
func WriteSchemaFiles(dir string) error {
	for _, t := range warehouse.AllTables() {
		b, err := SchemaJSON(t.Name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, t.Name+".json"), b, 0o644); err != nil {
			return fmt.Errorf("write schema file: %w", err)
		}
	}
	return nil
}

// encodeRows encodes rows (pointers to row structs) as newline-delimited
// JSON into w, in the form BigQuery's loader reads without loss: INT64 as
// decimal strings (JSON numbers above 2^53 would be rounded), TIMESTAMP as
// UTC RFC 3339 with at most six fractional digits, DATE as YYYY-MM-DD,
// repeated fields as arrays (never null). A row of another date (an error
// of rows) ends the encoding with that error.
func encodeRows(ctx context.Context, w io.Writer, rows iter.Seq2[any, error]) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	i := 0
	for row, err := range rows {
		if err != nil {
			return err
		}
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		v, err := encodeValue(reflect.ValueOf(row).Elem())
		if err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
		bw.Write(b)
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
		i++
	}
	return bw.Flush()
}

var (
	timeType = reflect.TypeOf(time.Time{})
	dateType = reflect.TypeOf(civil.Date{})
)

func encodeValue(v reflect.Value) (any, error) {
	switch v.Type() {
	case timeType:
		t := v.Interface().(time.Time).UTC().Truncate(time.Microsecond)
		if t.Year() < 1 || t.Year() > 9999 {
			return nil, fmt.Errorf("timestamp %v outside BigQuery's range (years 1-9999)", t)
		}
		return t.Format("2006-01-02T15:04:05.999999Z07:00"), nil
	case dateType:
		d := v.Interface().(civil.Date)
		if !d.IsValid() || d.Year < 1 || d.Year > 9999 {
			return nil, fmt.Errorf("invalid date %v", d)
		}
		return d.String(), nil
	}
	switch v.Kind() {
	case reflect.String:
		return v.String(), nil
	case reflect.Bool:
		return v.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("float %v cannot be loaded from JSON", f)
		}
		return f, nil
	case reflect.Slice:
		out := make([]any, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			x, err := encodeValue(v.Index(i))
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	case reflect.Struct:
		out := map[string]any{}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("bigquery"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			x, err := encodeValue(v.Field(i))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out[name] = x
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported type %s", v.Type())
}
