// Package csvreport writes finance's private per-cycle reports (SPEC 3.3):
// PRIVATE_DIR/<cycle-id>.csv, RFC 4180 (as encoding/csv writes it: comma-separated,
// CRLF-free "\n" line ends, fields quoted when needed; record.go), one header row, then
// three kinds of lines told apart by the record_type column:
//
//   - "referrer": one per users refcode, ranked referrers in rank order, then
//     unranked ones (rank empty) in refcode order, with the referrer's email;
//   - "event": one per revenue event, in accounting order (seq 1-based): the
//     accounting trail, with the referee's email and how the net came about
//     (SPEC 2.2): net = max(0, gross - refunds - credit_notes - disputes);
//   - "total": one line of control totals: referrals, conversions, pending
//     conversions, revenue, pending revenue, ranked and qualified referrers,
//     pool, awarded (in the award columns) and pool remaining.
//
// In a settled cycle (SPEC 2.8) the referrer lines also carry settled_from
// (the snapshot the cycle was settled from), the settled award and the award
// drift (settled award minus the award the current data gives; positive: a
// clawback candidate, SPEC 2.7), and the total line their sums; the other
// columns are the current data's numbers, while the public snapshot keeps
// the settled ones.
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
// Beside the cycle reports, PRIVATE_DIR/clawback_candidates.csv lists the run's
// clawback candidates (SPEC 2.7: referral rows already rewarded that convert
// in no cycle any more), one line each with ClawbackHeader's columns, in the
// pipeline's decision order; it is rewritten by every run, with only its
// header when there is none. A candidate belongs to no cycle, so it is not a
// line of a cycle report.
//
// Each file is written to a temporary file in the same directory, flushed,
// and renamed over the previous report, so a reader never sees half a file.
package csvreport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/internal/privatefile"
	"github.com/refrecon/refrecon/sinks/internal/review"
)

// Columns of the reports, in Header order.
const (
	colRecordType = iota
	colSnapshotID
	colCycleID
	colCurrency
	// referrer
	colRank
	colRefcode
	colReferrerEmail
	colQualified
	colAwardMinor
	colAward
	colScore
	colScoreDecimal
	colReferrals
	colConversions
	colPendingConversions
	colRevenueMinor
	colRevenue
	colPendingRevenueMinor
	colPendingRevenue
	colAdminAction
	colAdminActionReason
	// event
	colSeq
	colPaidAt
	colInvoiceID
	colCustomerID
	colRefereeEmail
	colGrossMinor
	colGross
	colRefundsMinor
	colRefunds
	colCreditNotesMinor
	colCreditNotes
	colDisputesMinor
	colDisputes
	colNetMinor
	colNet
	colPending
	colAccumulatedRevenueMinor
	colAccumulatedRevenue
	colPoolBeforeMinor
	colPoolBefore
	colClaimMinor
	colClaim
	// total
	colRankedReferrers
	colQualifiedReferrers
	colPoolMinor
	colPool
	colRemainingMinor
	colRemaining
	// settled cycle (referrer and total lines)
	colSettledFrom
	colSettledAwardMinor
	colSettledAward
	colAwardDriftMinor
	colAwardDrift
	numCols
)

// Header is the header row of every report.
var Header = []string{
	colRecordType:              "record_type",
	colSnapshotID:              "snapshot_id",
	colCycleID:                 "cycle_id",
	colCurrency:                "currency",
	colRank:                    "rank",
	colRefcode:                 "refcode",
	colReferrerEmail:           "referrer_email",
	colQualified:               "qualified",
	colAwardMinor:              "award_minor",
	colAward:                   "award",
	colScore:                   "score",
	colScoreDecimal:            "score_decimal",
	colReferrals:               "referrals",
	colConversions:             "conversions",
	colPendingConversions:      "pending_conversions",
	colRevenueMinor:            "revenue_minor",
	colRevenue:                 "revenue",
	colPendingRevenueMinor:     "pending_revenue_minor",
	colPendingRevenue:          "pending_revenue",
	colAdminAction:             "admin_action",
	colAdminActionReason:       "admin_action_reason",
	colSeq:                     "seq",
	colPaidAt:                  "paid_at",
	colInvoiceID:               "invoice_id",
	colCustomerID:              "customer_id",
	colRefereeEmail:            "referee_email",
	colGrossMinor:              "gross_minor",
	colGross:                   "gross",
	colRefundsMinor:            "refunds_minor",
	colRefunds:                 "refunds",
	colCreditNotesMinor:        "credit_notes_minor",
	colCreditNotes:             "credit_notes",
	colDisputesMinor:           "disputes_minor",
	colDisputes:                "disputes",
	colNetMinor:                "net_minor",
	colNet:                     "net",
	colPending:                 "pending",
	colAccumulatedRevenueMinor: "accumulated_revenue_minor",
	colAccumulatedRevenue:      "accumulated_revenue",
	colPoolBeforeMinor:         "pool_before_minor",
	colPoolBefore:              "pool_before",
	colClaimMinor:              "claim_minor",
	colClaim:                   "claim",
	colRankedReferrers:         "ranked_referrers",
	colQualifiedReferrers:      "qualified_referrers",
	colPoolMinor:               "pool_minor",
	colPool:                    "pool",
	colRemainingMinor:          "remaining_minor",
	colRemaining:               "remaining",
	colSettledFrom:             "settled_from",
	colSettledAwardMinor:       "settled_award_minor",
	colSettledAward:            "settled_award",
	colAwardDriftMinor:         "award_drift_minor",
	colAwardDrift:              "award_drift",
}

// Writer writes reports into one directory.
type Writer struct {
	dir string
}

// New returns a Writer for dir (created when missing).
func New(dir string) *Writer { return &Writer{dir: dir} }

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
		if !pipeline.ValidCycleID(cr.Cycle.ID) {
			return fmt.Errorf("cycle id %q: not a valid cycle id", cr.Cycle.ID)
		}
	}
	emails := review.NewReferrerEmails(res.Referrers)
	for _, cr := range res.Cycles {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.writeCycle(ctx, info, cr, res.SettledCycle(cr.Cycle.ID), emails); err != nil {
			return fmt.Errorf("cycle %s: %w", cr.Cycle.ID, err)
		}
	}
	if err := w.writeClawbacks(ctx, info, res); err != nil {
		return fmt.Errorf("%s: %w", ClawbackFile, err)
	}
	return nil
}

func (w *Writer) writeCycle(ctx context.Context, info pipeline.RunInfo, cr pipeline.CycleResult, st *pipeline.SettledResult, emails *review.ReferrerEmails) error {
	return w.writeFile(cr.Cycle.ID, func(bw *bufio.Writer) error { return writeRows(ctx, bw, info, cr, st, emails) })
}

// ClawbackFile is the name of the clawback candidates report in PRIVATE_DIR.
// The "_" keeps it apart from every cycle report: cycle ids never have one.
const ClawbackFile = "clawback_candidates.csv"

// ClawbackHeader is the header row of ClawbackFile.
var ClawbackHeader = []string{"snapshot_id", "referee_email", "canonical_email", "refcode", "referred_at", "selected_plan", "reason"}

// writeClawbacks writes ClawbackFile.
func (w *Writer) writeClawbacks(ctx context.Context, info pipeline.RunInfo, res *pipeline.Result) error {
	return w.writeFile(strings.TrimSuffix(ClawbackFile, ".csv"), func(bw *bufio.Writer) error {
		rec := newRecord(len(ClawbackHeader))
		if err := rec.writeStrings(bw, ClawbackHeader); err != nil {
			return err
		}
		for i := range res.Decisions {
			d := &res.Decisions[i]
			if !d.Clawback {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			rec.text(0, info.SnapshotID)
			rec.safe(1, d.Row.Email)
			rec.safe(2, d.CanonicalEmail)
			rec.safe(3, d.Row.Refcode)
			if d.ReferredAt != 0 {
				rec.time(4, d.ReferredAt)
			}
			rec.safe(5, d.Row.SelectedPlan)
			rec.text(6, d.Reason)
			if err := rec.write(bw); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeFile writes PRIVATE_DIR/<name>.csv with fill, atomically
// (privatefile: a temporary file renamed over the previous report).
func (w *Writer) writeFile(name string, fill func(*bufio.Writer) error) error {
	f, err := privatefile.Create(w.dir, name+".csv")
	if err != nil {
		return err
	}
	defer f.Abort()
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Commit()
}

func writeRows(ctx context.Context, w *bufio.Writer, info pipeline.RunInfo, cr pipeline.CycleResult, st *pipeline.SettledResult, emails *review.ReferrerEmails) error {
	rec := newRecord(numCols)
	if err := rec.writeStrings(w, Header); err != nil {
		return err
	}
	cur := cr.Cycle.Rules.Currency
	start := func(kind string) {
		rec.text(colRecordType, kind)
		rec.text(colSnapshotID, info.SnapshotID)
		rec.text(colCycleID, cr.Cycle.ID)
		rec.text(colCurrency, cur)
	}
	scoreIsMoney := !(cr.Cycle.Rules.AwardModel == pipeline.PieSplit && cr.Cycle.Rules.ScoreBy == pipeline.ScoreByConversions)

	unranked := review.ByRefcode(cr.Unranked)
	n := 0
	for _, list := range [][]pipeline.Entry{cr.Leaderboard, unranked} {
		email := emails.Cursor() // one pass: the ranked, then the unranked (refcode order)
		for _, e := range list {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			start("referrer")
			if e.Rank > 0 {
				rec.int(colRank, int64(e.Rank))
			}
			rec.safe(colRefcode, e.Refcode)
			rec.safe(colReferrerEmail, email.Of(e.Refcode))
			rec.bool(colQualified, e.Qualified)
			rec.money(colAwardMinor, cur, e.Award)
			rec.int(colScore, e.Score)
			if scoreIsMoney {
				rec.decimal(colScoreDecimal, cur, e.Score)
			}
			rec.int(colReferrals, e.Referrals)
			rec.int(colConversions, e.Conversions)
			rec.int(colPendingConversions, e.PendingConversions)
			rec.money(colRevenueMinor, cur, e.Revenue)
			rec.money(colPendingRevenueMinor, cur, e.PendingRevenue)
			if a := e.AdminAction; a != nil {
				rec.text(colAdminAction, string(a.ActionType))
				rec.safe(colAdminActionReason, a.Reason)
			}
			if st != nil {
				d, _ := st.DriftOf(e.Refcode)
				rec.text(colSettledFrom, st.SnapshotID)
				rec.money(colSettledAwardMinor, cur, d.Settled)
				rec.money(colAwardDriftMinor, cur, d.Settled-e.Award)
			}
			if err := rec.write(w); err != nil {
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
		rec.int(colSeq, int64(i+1))
		rec.time(colPaidAt, ev.PaidAt)
		rec.safe(colInvoiceID, ev.InvoiceID)
		rec.safe(colCustomerID, ev.CustomerID)
		rec.safe(colRefcode, ev.Refcode)
		rec.safe(colRefereeEmail, ev.RefereeEmail)
		rec.money(colGrossMinor, cur, ev.Gross)
		rec.money(colRefundsMinor, cur, ev.Refunded)
		rec.money(colCreditNotesMinor, cur, ev.Credited)
		rec.money(colDisputesMinor, cur, ev.Disputed)
		rec.money(colNetMinor, cur, ev.Net)
		rec.bool(colPending, ev.Pending)
		rec.money(colAccumulatedRevenueMinor, cur, ev.AccumulatedRevenue)
		rec.money(colPoolBeforeMinor, cur, ev.PoolBefore)
		rec.money(colClaimMinor, cur, ev.Claim)
		if err := rec.write(w); err != nil {
			return err
		}
	}
	t := cr.Totals
	start("total")
	rec.int(colReferrals, t.Referrals)
	rec.int(colConversions, t.Conversions)
	rec.int(colPendingConversions, t.PendingConversions)
	rec.money(colRevenueMinor, cur, t.Revenue)
	rec.money(colPendingRevenueMinor, cur, t.PendingRevenue)
	rec.int(colRankedReferrers, t.RankedReferrers)
	rec.int(colQualifiedReferrers, t.QualifiedReferrers)
	rec.money(colPoolMinor, cur, cr.Cycle.Rules.AwardPool.Amount)
	rec.money(colAwardMinor, cur, t.Awarded)
	rec.money(colRemainingMinor, cur, cr.AwardPoolRemaining)
	if st != nil {
		rec.text(colSettledFrom, st.SnapshotID)
		rec.money(colSettledAwardMinor, cur, st.SettledTotal)
		rec.money(colAwardDriftMinor, cur, st.SettledTotal-t.Awarded)
	}
	return rec.write(w)
}

// needsApostrophe says whether text from the inputs is defused against
// spreadsheet formulas with a leading apostrophe (see the package doc).
func needsApostrophe(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}
