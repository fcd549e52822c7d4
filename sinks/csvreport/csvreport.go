// Package csvreport writes finance's private per-cycle reports (SPEC 3.3):
// PRIVATE_DIR/<cycle-id>.csv, RFC 4180 (encoding/csv: comma-separated,
// CRLF-free "\n" line ends, fields quoted when needed), one header row, then
// three kinds of lines told apart by the record_type column:
//
//   - "referrer": one per users refcode, ranked referrers in rank order, then
//     unranked ones (rank empty) in refcode order, with the referrer's email;
//   - "event": one per revenue event, in accounting order (seq 1-based): the
//     accounting trail, with the referee's email;
//   - "total": one line of control totals: referrals, conversions, pending
//     conversions, revenue, pending revenue, ranked and qualified referrers,
//     pool, awarded (in the award columns) and pool remaining.
//
// Every line carries snapshot_id, cycle_id and currency. Every money value is
// in two columns: <name>_minor (integer minor units) and <name> (the decimal
// amount in the currency's major unit, computed with integer arithmetic by
// pipeline.FormatDecimal: 2 decimals by default, 0 for zero-decimal
// currencies such as jpy, 3 for bhd, jod, kwd, omr, tnd). score is the
// pipeline's integer score (conversions, or revenue in minor units);
// score_decimal is its decimal amount when the score is revenue. Booleans
// are "true"/"false"; times are RFC 3339 in UTC.
//
// Spreadsheet formula injection: a value of a text column that comes from
// the inputs (refcode, referrer_email, referee_email, admin_action_reason,
// invoice_id, customer_id) and starts with '=', '+', '-', '@', a tab or a
// carriage return gets a leading apostrophe ('), so a spreadsheet shows it
// as text instead of evaluating it. Programs reading the CSV should strip one
// leading apostrophe from those columns when the next character is one of
// those.
//
// Each file is written to a temporary file in the same directory, flushed,
// and renamed over the previous report, so a reader never sees half a file.
package csvreport

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refrecon/refrecon/pipeline"
)

// Header is the header row of every report.
var Header = []string{
	"record_type", "snapshot_id", "cycle_id", "currency",
	// referrer
	"rank", "refcode", "referrer_email", "qualified", "award_minor", "award", "score", "score_decimal",
	"referrals", "conversions", "pending_conversions", "revenue_minor", "revenue",
	"pending_revenue_minor", "pending_revenue", "admin_action", "admin_action_reason",
	// event
	"seq", "paid_at", "invoice_id", "customer_id", "referee_email", "net_minor", "net", "pending",
	"accumulated_revenue_minor", "accumulated_revenue", "pool_before_minor", "pool_before", "claim_minor", "claim",
	// total
	"ranked_referrers", "qualified_referrers", "pool_minor", "pool", "remaining_minor", "remaining",
}

var col = func() map[string]int {
	m := make(map[string]int, len(Header))
	for i, h := range Header {
		m[h] = i
	}
	return m
}()

// Writer writes reports into one directory.
type Writer struct {
	dir string
}

// New returns a Writer for dir (created when missing).
func New(dir string) *Writer { return &Writer{dir: dir} }

var safeCycleID = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Write writes one report per cycle of res.
func (w *Writer) Write(ctx context.Context, info pipeline.RunInfo, res *pipeline.Result) error {
	if err := w.write(ctx, info, res); err != nil {
		return fmt.Errorf("write finance reports to %s: %w", w.dir, err)
	}
	return nil
}

func (w *Writer) write(ctx context.Context, info pipeline.RunInfo, res *pipeline.Result) error {
	if res == nil {
		return errors.New("no result")
	}
	for _, cr := range res.Cycles {
		if !safeCycleID.MatchString(cr.Cycle.ID) || len(cr.Cycle.ID) > 64 {
			return fmt.Errorf("cycle id %q: not a valid cycle id", cr.Cycle.ID)
		}
	}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return err
	}
	if err := removeStale(w.dir); err != nil {
		return err
	}
	emails := make(map[string]string, len(res.Referrers))
	for _, u := range res.Referrers {
		if _, dup := emails[u.Refcode]; !dup {
			emails[u.Refcode] = u.Email
		}
	}
	for _, cr := range res.Cycles {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.writeCycle(ctx, info, cr, emails); err != nil {
			return fmt.Errorf("cycle %s: %w", cr.Cycle.ID, err)
		}
	}
	return syncDir(w.dir)
}

const tmpMarker = ".csv.tmp-"

func removeStale(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), tmpMarker) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("remove stale %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}

func (w *Writer) writeCycle(ctx context.Context, info pipeline.RunInfo, cr pipeline.CycleResult, emails map[string]string) (err error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:]) // never fails (crypto/rand panics instead)
	final := filepath.Join(w.dir, cr.Cycle.ID+".csv")
	tmp := filepath.Join(w.dir, "."+cr.Cycle.ID+tmpMarker+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			_ = os.Remove(tmp) // the write's error is the one to report
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	cw := csv.NewWriter(bw)
	if err := writeRows(ctx, cw, info, cr, emails); err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, final)
}

func writeRows(ctx context.Context, cw *csv.Writer, info pipeline.RunInfo, cr pipeline.CycleResult, emails map[string]string) error {
	if err := cw.Write(Header); err != nil {
		return err
	}
	cur := cr.Cycle.Rules.Currency
	rec := make([]string, len(Header))
	start := func(kind string) {
		clear(rec)
		rec[col["record_type"]] = kind
		rec[col["snapshot_id"]] = info.SnapshotID
		rec[col["cycle_id"]] = cr.Cycle.ID
		rec[col["currency"]] = cur
	}
	money := func(name string, minor int64) {
		rec[col[name+"_minor"]] = strconv.FormatInt(minor, 10)
		rec[col[name]] = pipeline.FormatDecimal(cur, minor)
	}
	scoreIsMoney := !(cr.Cycle.Rules.AwardModel == pipeline.PieSplit && cr.Cycle.Rules.ScoreBy == pipeline.ScoreByConversions)

	unranked := slices.Clone(cr.Unranked)
	slices.SortStableFunc(unranked, func(a, b pipeline.Entry) int { return strings.Compare(a.Refcode, b.Refcode) })
	n := 0
	for _, list := range [][]pipeline.Entry{cr.Leaderboard, unranked} {
		for _, e := range list {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			start("referrer")
			if e.Rank > 0 {
				rec[col["rank"]] = strconv.Itoa(e.Rank)
			}
			rec[col["refcode"]] = safeText(e.Refcode)
			rec[col["referrer_email"]] = safeText(emails[e.Refcode])
			rec[col["qualified"]] = strconv.FormatBool(e.Qualified)
			money("award", e.Award)
			rec[col["score"]] = strconv.FormatInt(e.Score, 10)
			if scoreIsMoney {
				rec[col["score_decimal"]] = pipeline.FormatDecimal(cur, e.Score)
			}
			rec[col["referrals"]] = strconv.FormatInt(e.Referrals, 10)
			rec[col["conversions"]] = strconv.FormatInt(e.Conversions, 10)
			rec[col["pending_conversions"]] = strconv.FormatInt(e.PendingConversions, 10)
			money("revenue", e.Revenue)
			money("pending_revenue", e.PendingRevenue)
			if a := e.AdminAction; a != nil {
				rec[col["admin_action"]] = string(a.ActionType)
				rec[col["admin_action_reason"]] = safeText(a.Reason)
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	for i, ev := range cr.Events {
		if (i+1)%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		start("event")
		rec[col["seq"]] = strconv.Itoa(i + 1)
		rec[col["paid_at"]] = time.Unix(ev.PaidAt, 0).UTC().Format(time.RFC3339)
		rec[col["invoice_id"]] = safeText(ev.InvoiceID)
		rec[col["customer_id"]] = safeText(ev.CustomerID)
		rec[col["refcode"]] = safeText(ev.Refcode)
		rec[col["referee_email"]] = safeText(ev.RefereeEmail)
		money("net", ev.Net)
		rec[col["pending"]] = strconv.FormatBool(ev.Pending)
		money("accumulated_revenue", ev.AccumulatedRevenue)
		money("pool_before", ev.PoolBefore)
		money("claim", ev.Claim)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	t := cr.Totals
	start("total")
	rec[col["referrals"]] = strconv.FormatInt(t.Referrals, 10)
	rec[col["conversions"]] = strconv.FormatInt(t.Conversions, 10)
	rec[col["pending_conversions"]] = strconv.FormatInt(t.PendingConversions, 10)
	money("revenue", t.Revenue)
	money("pending_revenue", t.PendingRevenue)
	rec[col["ranked_referrers"]] = strconv.FormatInt(t.RankedReferrers, 10)
	rec[col["qualified_referrers"]] = strconv.FormatInt(t.QualifiedReferrers, 10)
	money("pool", cr.Cycle.Rules.AwardPool.Amount)
	money("award", t.Awarded)
	money("remaining", cr.AwardPoolRemaining)
	return cw.Write(rec)
}

// safeText defuses spreadsheet formulas in text from the inputs.
func safeText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
