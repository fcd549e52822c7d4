// Package referrals is the referrals schema (SPEC 1.1) and the rules by
// which every referrals driver turns stored values into pipeline.Referrals.
// The drivers live under it: sqlite (a SQLite file), d1dump (a `wrangler d1
// export` dump) and d1 (the Cloudflare D1 HTTP API); referralstest is the
// conformance suite every driver passes, and d1/d1fake a local fake of the
// D1 API.
//
// Columns are read by name: users.email, users.refcode, referrals.email,
// referrals.refcode and referrals.referred_at are required, and a missing
// table or column is a *SchemaError naming it; referrals.selected_plan and
// referrals.rewarded are optional (absent reads as "" and false). Other
// columns and tables are ignored.
//
// Values are passed through untouched, so that the pipeline can quarantine a
// bad row instead of a source dropping it: NULL reads as "" (or false), and
// text is returned byte for byte. Values stored with another storage class
// are converted by TextValue, TimestampValue and BoolValue, so the same
// database read through any driver gives the same rows.
package referrals

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/refrecon/refrecon/pipeline"
)

// Table is a table of the referrals schema (SPEC 1.1) and the columns a
// source reads from it, by name.
type Table struct {
	Name    string
	Columns []Column
}

// Column is a column a source reads. An optional column may be absent, and
// then reads as NULL.
type Column struct {
	Name     string
	Required bool
}

// UsersTable returns the users table: the referrers. Values for
// UserFromValues come in this column order.
func UsersTable() Table {
	return Table{Name: "users", Columns: []Column{
		{Name: "email", Required: true},
		{Name: "refcode", Required: true},
	}}
}

// ReferralsTable returns the referrals table: one row per referee. Values for
// ReferralFromValues come in this column order.
func ReferralsTable() Table {
	return Table{Name: "referrals", Columns: []Column{
		{Name: "email", Required: true},
		{Name: "refcode", Required: true},
		{Name: "referred_at", Required: true},
		{Name: "selected_plan"},
		{Name: "rewarded"},
	}}
}

// Resolve matches the table's columns against the column names a database
// has (SQLite compares identifiers case-insensitively). It returns the
// database's name for each of t.Columns, "" for an absent optional column,
// or a *SchemaError naming the first missing required column.
func (t Table) Resolve(have []string) ([]string, error) {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		for _, h := range have {
			if strings.EqualFold(h, c.Name) {
				out[i] = h
				break
			}
		}
		if out[i] == "" && c.Required {
			return nil, &SchemaError{Table: t.Name, Column: c.Name}
		}
	}
	return out, nil
}

// SchemaError reports a table, or a required column, that the referrals
// schema needs and the source lacks.
type SchemaError struct {
	Table  string
	Column string // "" when the whole table is missing
}

func (e *SchemaError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("no table %q", e.Table)
	}
	return fmt.Sprintf("table %s has no column %q", e.Table, e.Column)
}

// ReadTables reads the users table, then the referrals table, through a
// driver's readTable (which calls size with the table's row count, a
// capacity hint, then row with each row's values in t.Columns order, the
// slice reused) and converts the rows by the rules of this package.
func ReadTables(readTable func(t Table, size func(n int64), row func(vals []any) error) error) (pipeline.Referrals, error) {
	var refs pipeline.Referrals
	var err error
	if refs.Users, err = readRows(readTable, UsersTable(), UserFromValues); err != nil {
		return pipeline.Referrals{}, err
	}
	if refs.Rows, err = readRows(readTable, ReferralsTable(), ReferralFromValues); err != nil {
		return pipeline.Referrals{}, err
	}
	return refs, nil
}

func readRows[T any](readTable func(Table, func(int64), func([]any) error) error, t Table, conv func(vals []any) (T, error)) ([]T, error) {
	var out []T
	err := readTable(t, func(n int64) { out = make([]T, 0, n) }, func(vals []any) error {
		v, err := conv(vals)
		out = append(out, v)
		return err
	})
	return out, err
}

// UserFromValues builds a users row from its values in UsersTable column
// order, as SQLite storage classes (nil, int64, float64, string, []byte).
func UserFromValues(vals []any) (pipeline.User, error) {
	return pipeline.User{Email: TextValue(vals[0]), Refcode: TextValue(vals[1])}, nil
}

// ReferralFromValues builds a referrals row from its values in
// ReferralsTable column order, as SQLite storage classes. It fails only
// when rewarded holds a value that is not a boolean (see BoolValue).
func ReferralFromValues(vals []any) (pipeline.ReferralRow, error) {
	r := pipeline.ReferralRow{
		Email:        TextValue(vals[0]),
		Refcode:      TextValue(vals[1]),
		ReferredAt:   TimestampValue(vals[2]),
		SelectedPlan: TextValue(vals[3]),
	}
	rewarded, err := BoolValue(vals[4])
	if err != nil {
		return r, fmt.Errorf("referee %q: column rewarded: %w", r.Email, err)
	}
	r.Rewarded = rewarded
	return r, nil
}

// TextValue renders a stored value as text: NULL is "", text and blobs are
// returned byte for byte, integers in decimal and reals in the shortest
// form that reads back as the same number.
func TextValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool: // not a SQLite storage class, but harmless
		return strconv.FormatBool(v)
	default:
		return fmt.Sprint(v)
	}
}

// TimestampValue renders a stored referred_at. Text (the schema's
// 'YYYY-MM-DD HH:MM:SS', RFC 3339, or anything else) is returned untouched,
// for the pipeline to parse or quarantine. A number is read as Unix seconds
// (fractional for a real) and rendered as RFC 3339 in UTC; a number whose
// year would fall outside 0000-9999, such as Unix milliseconds, is returned
// as its decimal text so the pipeline quarantines it as an invalid
// timestamp rather than it being read as a wrong date.
func TimestampValue(v any) string {
	switch v := v.(type) {
	case int64:
		if v >= minUnix && v <= maxUnix {
			return time.Unix(v, 0).UTC().Format(time.RFC3339)
		}
	case float64:
		if v >= minUnix && v < maxUnix+1 { // false for NaN
			sec, frac := math.Modf(v)
			t := time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()
			return t.Format(time.RFC3339Nano)
		}
	}
	return TextValue(v)
}

// The Unix seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the
// range RFC 3339 can write.
const (
	minUnix = -62167219200
	maxUnix = 253402300799
)

// BoolValue reads a stored boolean (the schema's BOOLEAN is 0/1/NULL): NULL
// is false; 0 and 1 as integer, real or text; and the text true/false in any
// case. Anything else is an error: a reward flag is not guessed.
func BoolValue(v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case int64:
		switch v {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
	case float64:
		switch v {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
	case string, []byte:
		switch strings.ToLower(strings.TrimSpace(TextValue(v))) {
		case "0", "false":
			return false, nil
		case "1", "true":
			return true, nil
		}
	}
	return false, fmt.Errorf("value %q is not a boolean (0, 1, true, false or NULL)", TextValue(v))
}

// QuoteIdent quotes an SQL identifier for SQLite.
func QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// FileURI returns path as an SQLite URI filename ("file:PATH", with the
// characters that end or escape a URI path escaped), for a data source
// name that adds "?mode=ro" and the like.
func FileURI(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}
