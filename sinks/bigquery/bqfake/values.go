package bqfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	bqv2 "google.golang.org/api/bigquery/v2"
)

// parseRows decodes newline-delimited JSON against a schema. On the first
// bad row it returns BigQuery's reason and a message in BigQuery's words.
func parseRows(fields []*bqv2.TableFieldSchema, media []byte, ignoreUnknown bool) ([]map[string]any, string, string) {
	var rows []map[string]any
	pos := 0
	for len(media) > 0 {
		line := media
		next := len(media)
		if i := bytes.IndexByte(media, '\n'); i >= 0 {
			line, next = media[:i], i+1
		}
		if len(bytes.TrimSpace(line)) > 0 {
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil || dec.More() || obj == nil {
				return nil, "invalid", fmt.Sprintf("Error while reading data, error message: JSON table encountered too many errors, giving up. Rows: %d; errors: 1. Please look into the errors[] collection for more details. JSON parsing error in row starting at position %d: Parser terminated before end of string", len(rows)+1, pos)
			}
			row, msg := convertRecord(fields, obj, ignoreUnknown)
			if msg != "" {
				return nil, "invalid", fmt.Sprintf("Error while reading data, error message: JSON table encountered too many errors, giving up. Rows: %d; errors: 1. Please look into the errors[] collection for more details. JSON parsing error in row starting at position %d: %s", len(rows)+1, pos, msg)
			}
			rows = append(rows, row)
		}
		pos += next
		media = media[next:]
	}
	return rows, "", ""
}

func convertRecord(fields []*bqv2.TableFieldSchema, obj map[string]any, ignoreUnknown bool) (map[string]any, string) {
	known := map[string]bool{}
	for _, f := range fields {
		known[f.Name] = true
	}
	for k := range obj {
		if !known[k] && !ignoreUnknown {
			return nil, fmt.Sprintf("No such field: %s.", k)
		}
	}
	row := make(map[string]any, len(fields))
	for _, f := range fields {
		v, present := obj[f.Name]
		switch {
		case f.Mode == "REPEATED":
			if v == nil {
				row[f.Name] = []any{}
				continue
			}
			arr, ok := v.([]any)
			if !ok {
				return nil, fmt.Sprintf("Repeated field must be imported as a JSON array. Field: %s.", f.Name)
			}
			out := make([]any, 0, len(arr))
			for _, e := range arr {
				if e == nil {
					return nil, fmt.Sprintf("Array specified for non-repeated field: %s.", f.Name)
				}
				x, msg := convertValue(f, e, ignoreUnknown)
				if msg != "" {
					return nil, msg
				}
				out = append(out, x)
			}
			row[f.Name] = out
		case !present || v == nil:
			if f.Mode == "REQUIRED" {
				if !present {
					return nil, fmt.Sprintf("Missing required field: %s.", f.Name)
				}
				return nil, fmt.Sprintf("Only optional fields can be set to NULL. Field: %s; Value: NULL", f.Name)
			}
			row[f.Name] = nil
		default:
			x, msg := convertValue(f, v, ignoreUnknown)
			if msg != "" {
				return nil, msg
			}
			row[f.Name] = x
		}
	}
	return row, ""
}

// timestampRE is the TIMESTAMP text BigQuery's loader accepts: date and
// time separated by a space or T, at most six fractional digits, an
// optional zone (Z, UTC or an offset).
var timestampRE = regexp.MustCompile(`^(\d{4})[-/](\d{1,2})[-/](\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*(Z|UTC|[+-]\d{1,2}(?::?\d{2})?)?$`)

func convertValue(f *bqv2.TableFieldSchema, v any, ignoreUnknown bool) (any, string) {
	text := fmt.Sprint(v)
	switch f.Type {
	case "STRING":
		if s, ok := v.(string); ok {
			return s, ""
		}
	case "INTEGER", "INT64":
		switch x := v.(type) {
		case json.Number:
			// BigQuery reads JSON numbers as doubles: integers beyond 2^53
			// are rounded (and may then not fit INT64). Strings are exact.
			if n, err := strconv.ParseInt(x.String(), 10, 64); err == nil && n <= 1<<53 && n >= -(1<<53) {
				return n, ""
			}
			if f, err := x.Float64(); err == nil && f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
				return int64(f), ""
			}
		case string:
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return n, ""
			}
		}
		return nil, fmt.Sprintf("Could not convert value '%s' to integer. Field: %s; Value: %s", text, f.Name, text)
	case "FLOAT", "FLOAT64":
		switch x := v.(type) {
		case json.Number:
			if n, err := x.Float64(); err == nil {
				return n, ""
			}
		case string:
			if n, err := strconv.ParseFloat(x, 64); err == nil {
				return n, ""
			}
		}
		return nil, fmt.Sprintf("Could not convert value '%s' to double. Field: %s; Value: %s", text, f.Name, text)
	case "BOOLEAN", "BOOL":
		switch x := v.(type) {
		case bool:
			return x, ""
		case string:
			switch strings.ToLower(x) {
			case "true", "1":
				return true, ""
			case "false", "0":
				return false, ""
			}
		}
		return nil, fmt.Sprintf("Could not convert value '%s' to boolean. Field: %s; Value: %s", text, f.Name, text)
	case "TIMESTAMP":
		switch x := v.(type) {
		case string:
			if t, ok := parseTimestamp(x); ok {
				return t, ""
			}
			return nil, fmt.Sprintf("Could not parse '%s' as a timestamp. Required format is YYYY-MM-DD HH:MM[:SS[.SSSSSS]] or YYYY/MM/DD HH:MM[:SS[.SSSSSS]]; Field: %s; Value: %s", x, f.Name, x)
		case json.Number:
			if sec, err := x.Float64(); err == nil {
				return time.UnixMicro(int64(math.Round(sec * 1e6))).UTC(), ""
			}
		}
		return nil, fmt.Sprintf("Could not parse '%s' as a timestamp. Field: %s; Value: %s", text, f.Name, text)
	case "DATE":
		if s, ok := v.(string); ok {
			if d, err := civil.ParseDate(s); err == nil {
				return d, ""
			}
		}
		return nil, fmt.Sprintf("Could not parse '%s' as date for field %s (position 0) starting at location 0 with message 'Unable to parse'", text, f.Name)
	case "RECORD", "STRUCT":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Sprintf("JSON object specified for non-record field: %s; Value: %s", f.Name, text)
		}
		return convertRecord(f.Fields, obj, ignoreUnknown)
	default:
		return nil, fmt.Sprintf("bqfake: column type %s is not supported (field %s)", f.Type, f.Name)
	}
	return nil, fmt.Sprintf("Could not convert value to %s. Field: %s; Value: %s", strings.ToLower(f.Type), f.Name, text)
}

func parseTimestamp(s string) (time.Time, bool) {
	m := timestampRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	num := func(x string) int { n, _ := strconv.Atoi(x); return n }
	micros := 0
	if m[7] != "" {
		micros = num((m[7] + "00000")[:6])
	}
	loc := time.UTC
	if z := m[8]; z != "" && z != "Z" && z != "UTC" {
		sign := 1
		if z[0] == '-' {
			sign = -1
		}
		digits := strings.ReplaceAll(z[1:], ":", "")
		h, mi := num(digits), 0
		if len(digits) > 2 {
			h, mi = num(digits[:len(digits)-2]), num(digits[len(digits)-2:])
		}
		loc = time.FixedZone("", sign*(h*3600+mi*60))
	}
	mon, day, hour, minute, sec := num(m[2]), num(m[3]), num(m[4]), num(m[5]), num(m[6])
	if mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(num(m[1]), time.Month(mon), day, hour, minute, sec, micros*1000, loc)
	if t.Day() != day { // e.g. February 30
		return time.Time{}, false
	}
	return t.UTC(), true
}

// renderRow encodes a stored row as tabledata.list does: {"f":[{"v":...}]},
// every scalar as a string, records as nested {"f":...}, repeated values as
// [{"v":...}], TIMESTAMP as integer microseconds when int64TS (the
// formatOptions.useInt64Timestamp the Go client sends) or else as float
// seconds in BigQuery's E notation.
func renderRow(fields []*bqv2.TableFieldSchema, row map[string]any, int64TS bool) *bqv2.TableRow {
	out := &bqv2.TableRow{}
	for _, f := range fields {
		out.F = append(out.F, &bqv2.TableCell{V: renderField(f, row[f.Name], int64TS)})
	}
	return out
}

func renderField(f *bqv2.TableFieldSchema, v any, int64TS bool) any {
	if f.Mode == "REPEATED" {
		arr, _ := v.([]any)
		out := make([]any, 0, len(arr))
		for _, e := range arr {
			out = append(out, map[string]any{"v": renderScalar(f, e, int64TS)})
		}
		return out
	}
	return renderScalar(f, v, int64TS)
}

func renderScalar(f *bqv2.TableFieldSchema, v any, int64TS bool) any {
	switch x := v.(type) {
	case nil:
		return nil
	case map[string]any:
		var cells []any
		for _, sub := range f.Fields {
			cells = append(cells, map[string]any{"v": renderField(sub, x[sub.Name], int64TS)})
		}
		return map[string]any{"f": cells}
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case civil.Date:
		return x.String()
	case time.Time:
		if int64TS {
			return strconv.FormatInt(x.UnixMicro(), 10)
		}
		return javaE(float64(x.UnixMicro()) / 1e6)
	default:
		return fmt.Sprint(x)
	}
}

// javaE formats like BigQuery's float seconds: 1.7050752E9.
func javaE(f float64) string {
	s := strconv.FormatFloat(f, 'E', -1, 64)
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	n, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(n)
}
