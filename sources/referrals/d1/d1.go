// Package d1 reads the referrals service's database (SPEC 1.1) through the
// Cloudflare D1 HTTP API: POST {base}/accounts/{account}/d1/database/{db}/query
// with a Bearer token and a JSON body {"sql": ..., "params": [...]}. Every
// statement is parameterised; only identifiers this package controls (table
// and column names discovered from the schema) are written into SQL text.
//
// For each table (users, then referrals) a read is:
//
//  1. PRAGMA table_info: the columns, by name. D1 returns results as JSON
//     objects keyed by column name, and an empty result set carries no
//     names, so `SELECT * ... LIMIT 0` cannot say which columns exist. A
//     missing required column is a *referrals.SchemaError naming it; absent
//     optional columns read as NULL; other columns are not read.
//  2. SELECT COUNT(*).
//  3. Keyset pages ordered by the table's primary key (the rowid when it has
//     none or a composite one): `WHERE key IS NOT NULL ORDER BY key LIMIT n`,
//     then `WHERE key > ?1 ORDER BY key LIMIT n` from the last key read,
//     until a page comes back short. Keys must strictly increase across the
//     whole read, in the order of the key's collation (the database pages
//     in it: BINARY, NOCASE or RTRIM, looked up with PRAGMA index_list and
//     index_xinfo the first time two keys are not in bytewise order); a
//     page that repeats or goes back is an error (the read cannot be
//     trusted), never silently de-duplicated.
//  4. `WHERE key IS NULL`, unpaged, when the key column admits NULL: SQLite
//     allows any number of NULLs in a non-INTEGER PRIMARY KEY column, and
//     keyset pages never see them.
//  5. SELECT COUNT(*) again. When the counts before and after, and the rows
//     read, do not all agree, the database changed during the read: the run
//     goes on with the rows as read and Notes says what happened.
//
// Values arrive as D1 renders them (text as strings, integers and reals as
// numbers, BOOLEAN as 0/1, DATETIME as 'YYYY-MM-DD HH:MM:SS' text, BLOBs as
// arrays of bytes) and are converted by the same rules as sources/referrals, so
// that the same database read through either source gives the same rows.
//
// Rate limits (HTTP 429, honouring Retry-After), server errors (5xx) and
// transport errors are retried by sources/retry's Transport under the one
// retry policy, bounded in count and in total waiting time. An error answer (success: false, 4xx)
// stops the read at once with the API's own code and message; 401/403 say
// the token was refused. The token is sent only in the Authorization header
// and never appears in an error.
package d1

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sources/redact"
	"github.com/refrecon/refrecon/sources/referrals"
	"github.com/refrecon/refrecon/sources/retry"
)

// DefaultBaseURL is the Cloudflare API's base URL.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4"

// Config configures a Source. AccountID, DatabaseID and Token are required;
// the rest have defaults.
type Config struct {
	AccountID  string
	DatabaseID string
	Token      string       // API token with D1 read permission
	BaseURL    string       // default DefaultBaseURL
	HTTPClient *http.Client // sends one attempt (its Timeout bounds it); default: a client with a 60 s timeout

	// PageSize is the rows per page; 0 means 1000.
	PageSize int
	// Retry is the retry policy of each request (sources/retry); the zero
	// Policy is the production one.
	Retry retry.Policy
}

// Source reads referrals through the D1 HTTP API.
type Source struct {
	cfg      Config
	endpoint string
	client   *http.Client
}

// New checks cfg and returns a Source. Nothing is requested until
// ReadReferrals. The errors are configuration errors and never hold the token.
func New(cfg Config) (*Source, error) {
	var problems []string
	if strings.TrimSpace(cfg.AccountID) == "" {
		problems = append(problems, "no account ID")
	}
	if strings.TrimSpace(cfg.DatabaseID) == "" {
		problems = append(problems, "no database ID")
	}
	if cfg.Token == "" {
		problems = append(problems, "no API token")
	} else if strings.ContainsAny(cfg.Token, "\r\n") {
		problems = append(problems, "the API token contains a line break")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if _, err := redact.Base(cfg.BaseURL); err != nil {
		problems = append(problems, "the "+err.Error())
	}
	if cfg.PageSize < 0 {
		problems = append(problems, "a negative page size")
	}
	if err := cfg.Retry.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("D1 referrals source: %s", strings.Join(problems, "; "))
	}

	if cfg.PageSize == 0 {
		cfg.PageSize = 1000
	}
	client := &http.Client{Transport: &retry.Transport{
		Attempt: cfg.HTTPClient,
		Policy:  cfg.Retry,
		// Every request is a read query (or an idempotent UPDATE): safe to send again.
		Repeatable: func(*http.Request) bool { return true },
		MaxBody:    maxResponseBytes,
	}}
	return &Source{
		cfg:    cfg,
		client: client,
		endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/accounts/" + url.PathEscape(cfg.AccountID) +
			"/d1/database/" + url.PathEscape(cfg.DatabaseID) + "/query",
	}, nil
}

// ReadReferrals reads the users and referrals tables. The result's Notes
// say what the read noticed without failing: row counts that changed while
// it paged (for the run log and the manifest).
func (s *Source) ReadReferrals(ctx context.Context) (pipeline.Referrals, error) {
	refs, err := s.read(ctx)
	if err != nil {
		return pipeline.Referrals{}, fmt.Errorf("referrals source d1 (database %s): %w", s.cfg.DatabaseID, err)
	}
	return refs, nil
}

func (s *Source) read(ctx context.Context) (pipeline.Referrals, error) {
	var notes []string
	refs, err := referrals.ReadTables(func(t referrals.Table, size func(int64), row func([]any) error) error {
		return s.readTable(ctx, t, &notes, size, row)
	})
	if err != nil {
		return pipeline.Referrals{}, err
	}
	refs.Notes = notes
	return refs, nil
}

// keyAlias names the paging key in result rows. Column aliases are the
// schema's names (email, refcode, ...) whatever their case in the database.
const keyAlias = "_refrecon_key"

// readTable reads one table as the package comment describes, calling size
// with its row count and row with each row's values in t.Columns order. A
// change of the table during the read is appended to notes.
func (s *Source) readTable(ctx context.Context, t referrals.Table, notes *[]string, size func(n int64), row func(vals []any) error) error {
	tbl := referrals.QuoteIdent(t.Name)
	info, err := s.query(ctx, "PRAGMA table_info("+tbl+")")
	if err != nil {
		return fmt.Errorf("list columns of table %s: %w", t.Name, err)
	}
	if len(info) == 0 {
		return &referrals.SchemaError{Table: t.Name}
	}
	names, key, keyNullable, err := columnsAndKey(info)
	if err != nil {
		return fmt.Errorf("list columns of table %s: %w", t.Name, err)
	}
	actual, err := t.Resolve(names)
	if err != nil {
		return err
	}

	before, err := s.count(ctx, tbl)
	if err != nil {
		return fmt.Errorf("count rows of table %s: %w", t.Name, err)
	}
	size(min(before, 1<<24))

	sel := []string{key + " AS " + referrals.QuoteIdent(keyAlias)}
	for i, c := range t.Columns {
		if actual[i] != "" {
			sel = append(sel, referrals.QuoteIdent(actual[i])+" AS "+referrals.QuoteIdent(c.Name))
		}
	}
	selectFrom := "SELECT " + strings.Join(sel, ", ") + " FROM " + tbl
	vals := make([]any, len(t.Columns))
	emit := func(r map[string]any) error {
		for i, c := range t.Columns {
			vals[i] = nil
			if actual[i] == "" {
				continue
			}
			v, ok := r[c.Name]
			if !ok {
				return fmt.Errorf("malformed D1 API response: result row without column %q", c.Name)
			}
			vals[i] = v
		}
		return row(vals)
	}

	var read int64
	var last any
	// The keys come in the order of the key's collation. They are checked
	// bytewise (BINARY) until two are not in that order; then the key's
	// collation is looked up once and used from there on.
	coll, collKnown := "BINARY", key == "rowid"
	for page := 1; ; page++ {
		var rows []map[string]any
		if last == nil {
			rows, err = s.query(ctx, fmt.Sprintf("%s WHERE %s IS NOT NULL ORDER BY %s LIMIT %d", selectFrom, key, key, s.cfg.PageSize))
		} else {
			rows, err = s.query(ctx, fmt.Sprintf("%s WHERE %s > ?1 ORDER BY %s LIMIT %d", selectFrom, key, key, s.cfg.PageSize), last)
		}
		if err != nil {
			return fmt.Errorf("read table %s, page %d: %w", t.Name, page, err)
		}
		for _, r := range rows {
			k, ok := r[keyAlias]
			if !ok || k == nil {
				return fmt.Errorf("read table %s, page %d: malformed D1 API response: a row without its key", t.Name, page)
			}
			if last != nil {
				c, err := compareKeys(last, k, coll)
				if err == nil && c >= 0 && !collKnown {
					collKnown = true
					if coll, err = s.keyCollation(ctx, tbl); err == nil {
						c, err = compareKeys(last, k, coll)
					}
				}
				if err != nil {
					return fmt.Errorf("read table %s, page %d: %w", t.Name, page, err)
				}
				if c >= 0 {
					return fmt.Errorf("read table %s, page %d: key %q after %q: the API returned rows repeated or out of order",
						t.Name, page, referrals.TextValue(k), referrals.TextValue(last))
				}
			}
			last = k
			if err := emit(r); err != nil {
				return fmt.Errorf("read table %s: %w", t.Name, err)
			}
			read++
		}
		if len(rows) < s.cfg.PageSize {
			break
		}
		if _, isBlob := last.([]byte); isBlob {
			return fmt.Errorf("read table %s, page %d: cannot page past a BLOB key", t.Name, page)
		}
	}

	if keyNullable {
		rows, err := s.query(ctx, fmt.Sprintf("%s WHERE %s IS NULL", selectFrom, key))
		if err != nil {
			return fmt.Errorf("read table %s, rows with a NULL key: %w", t.Name, err)
		}
		for _, r := range rows {
			if k, ok := r[keyAlias]; !ok || k != nil {
				return fmt.Errorf("read table %s, rows with a NULL key: malformed D1 API response: a row with a key (%q): the API returned rows repeated",
					t.Name, referrals.TextValue(k))
			}
			if err := emit(r); err != nil {
				return fmt.Errorf("read table %s: %w", t.Name, err)
			}
			read++
		}
	}

	after, err := s.count(ctx, tbl)
	if err != nil {
		return fmt.Errorf("count rows of table %s: %w", t.Name, err)
	}
	if before != after || read != after {
		*notes = append(*notes, fmt.Sprintf("d1: table %s changed while it was read: %d rows counted before paging, %d read, %d counted after; the run uses the rows as read",
			t.Name, before, read, after))
	}
	return nil
}

func (s *Source) count(ctx context.Context, tbl string) (int64, error) {
	rows, err := s.query(ctx, "SELECT COUNT(*) AS n FROM "+tbl)
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 {
		return 0, fmt.Errorf("malformed D1 API response: %d rows for a count", len(rows))
	}
	n, ok := rows[0]["n"].(int64)
	if !ok || n < 0 {
		return 0, fmt.Errorf("malformed D1 API response: count %v", rows[0]["n"])
	}
	return n, nil
}

// columnsAndKey reads PRAGMA table_info rows: the column names, the paging
// key as SQL (the quoted single primary key column, or rowid), and whether
// the key can be NULL.
func columnsAndKey(info []map[string]any) (names []string, key string, nullable bool, err error) {
	var pks []string
	var pkType string
	var pkNotNull bool
	for _, r := range info {
		name, ok := r["name"].(string)
		if !ok {
			return nil, "", false, errors.New("malformed D1 API response: table_info row without a name")
		}
		names = append(names, name)
		pk, _ := r["pk"].(int64)
		if pk > 0 {
			pks = append(pks, name)
			pkType, _ = r["type"].(string)
			nn, _ := r["notnull"].(int64)
			pkNotNull = nn != 0
		}
	}
	if len(pks) != 1 {
		return names, "rowid", false, nil
	}
	// An INTEGER PRIMARY KEY is the rowid, never NULL.
	intPK := strings.EqualFold(strings.TrimSpace(pkType), "INTEGER")
	return names, referrals.QuoteIdent(pks[0]), !pkNotNull && !intPK, nil
}

// keyCollation returns the collation of the table's primary key (BINARY,
// NOCASE, RTRIM or a custom one), from its index: PRAGMA index_list names
// the primary key's index, PRAGMA index_xinfo its collation.
func (s *Source) keyCollation(ctx context.Context, tbl string) (string, error) {
	indexes, err := s.query(ctx, "PRAGMA index_list("+tbl+")")
	if err != nil {
		return "", fmt.Errorf("look up the key's collation: %w", err)
	}
	for _, ix := range indexes {
		if ix["origin"] != "pk" {
			continue
		}
		name, ok := ix["name"].(string)
		if !ok {
			return "", errors.New("malformed D1 API response: index_list row without a name")
		}
		cols, err := s.query(ctx, "PRAGMA index_xinfo("+referrals.QuoteIdent(name)+")")
		if err != nil {
			return "", fmt.Errorf("look up the key's collation: %w", err)
		}
		for _, c := range cols {
			if k, _ := c["key"].(int64); k == 1 {
				if coll, ok := c["coll"].(string); ok {
					return coll, nil
				}
			}
		}
		return "", errors.New("malformed D1 API response: index_xinfo without the key column's collation")
	}
	return "BINARY", nil // no index: an INTEGER PRIMARY KEY, numbers only
}

// compareKeys orders two keys as SQLite does under the collation coll:
// numbers before text before blobs; text bytewise (BINARY), ignoring the
// case of ASCII letters (NOCASE) or trailing spaces (RTRIM).
func compareKeys(a, b any, coll string) (int, error) {
	rank := func(v any) (int, error) {
		switch v.(type) {
		case int64, float64:
			return 0, nil
		case string:
			return 1, nil
		case []byte:
			return 2, nil
		}
		return 0, fmt.Errorf("malformed D1 API response: key of type %T", v)
	}
	ra, err := rank(a)
	if err != nil {
		return 0, err
	}
	rb, err := rank(b)
	if err != nil {
		return 0, err
	}
	if ra != rb {
		return ra - rb, nil
	}
	switch a := a.(type) {
	case string:
		b := b.(string)
		switch strings.ToUpper(coll) {
		case "BINARY":
			return strings.Compare(a, b), nil
		case "NOCASE":
			return strings.Compare(asciiLower(a), asciiLower(b)), nil
		case "RTRIM":
			return strings.Compare(strings.TrimRight(a, " "), strings.TrimRight(b, " ")), nil
		}
		return 0, fmt.Errorf("the key has collation %s, which refrecon cannot check the paging order in", coll)
	case []byte:
		return bytes.Compare(a, b.([]byte)), nil
	}
	if c := cmp.Compare(toFloat(a), toFloat(b)); c != 0 {
		return c, nil
	}
	// Equal as floats; integers beyond 2^53 may still differ.
	ia, aInt := a.(int64)
	ib, bInt := b.(int64)
	if aInt && bInt {
		return cmp.Compare(ia, ib), nil
	}
	return 0, nil
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	}
	return 0
}

// asciiLower maps A-Z to a-z and nothing else, as SQLite's NOCASE does.
// Bytes, not runes: text need not be valid UTF-8.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
