// Package htmlreport writes finance's review report (SPEC 3.3):
// PRIVATE_DIR/report-<snapshot>.html, one self-contained HTML file that
// opens offline in any browser. It has no script, no external stylesheet,
// font or image: the CSS is inline and the charts are inline SVG, so opening
// it makes no network request (the browser test checks this in Chromium).
//
// Contents: the cycles with their status and control totals; the changes
// since the previous snapshot (package snapdiff); the clawback candidates;
// then per cycle the headline numbers, the award distribution (the top
// referrers and the rest), revenue per day across the window with the hold
// boundary (payments after it are still pending), for rev-share-cap cycles
// the pool remaining over time, the top of the leaderboard and the cycle's
// changes.
//
// The charts are SVG written by html/template from geometry computed here
// (charts.go, about 250 lines). gonum.org/v1/plot was considered and not
// used: it is not among the modules this build pins, it pulls a font and
// image stack in, and its SVG output embeds glyph paths for its text, which
// makes a report of a few charts per cycle several times larger than this
// one, while the three charts needed are bars and a step line. Chart
// geometry uses floats; money is never computed in floats (amounts are
// formatted from minor units by pipeline.FormatDecimal).
//
// Text from the inputs (refcodes, emails, reasons) is escaped by
// html/template. The same inputs give the same bytes. The file is written
// atomically (package privatefile); the run removes the reports of older
// snapshots once it has published (review.RemoveOlder).
package htmlreport

import (
	"bufio"
	"context"
	_ "embed" // the template
	"errors"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/internal/privatefile"
	"github.com/refrecon/refrecon/sinks/internal/review"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
)

// Input is what the report shows.
type Input = review.Input

// FileName is the report's name for a snapshot.
func FileName(snapshotID string) string { return review.FileName(snapshotID, review.HTML) }

// TopRows is how many leaderboard rows each cycle shows.
const TopRows = 25

//go:embed report.html.tmpl
var reportTemplate string

var tmpl = template.Must(template.New("report").Parse(reportTemplate))

// RemoveOlder removes the HTML reports of every snapshot but snapshotID from
// dir. A run calls it once it has published snapshotID, so that a failed
// run leaves the previous report in place.
func RemoveOlder(dir, snapshotID string) error {
	return review.RemoveOlder(dir, snapshotID, review.HTML)
}

// Write writes dir/report-<snapshot>.html and returns its path.
func Write(ctx context.Context, dir string, in Input) (string, error) {
	if in.Result == nil {
		return "", errors.New("write HTML report: no result")
	}
	path, err := privatefile.Write(dir, FileName(in.Info.SnapshotID), func(f *privatefile.File) error {
		bw := bufio.NewWriterSize(f, 64<<10)
		if err := tmpl.Execute(bw, build(ctx, in)); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return "", fmt.Errorf("write HTML report: %w", err)
	}
	return path, nil
}

// The template's view of the report.
type page struct {
	SnapshotID, AsOf, CodeVersion string
	Summary                       []summaryRow
	Headline                      string
	HasPrevious                   bool
	Changes                       []changeRow
	RowsCompared                  bool
	RowChanges                    []rowChange
	Clawbacks                     []clawback
	Cycles                        []cycleView
}

type summaryRow struct {
	ID, Anchor, Name, Model, Status, Final, SettlesAt string
	Pool, Awarded, Remaining, Revenue                 string
	Referrals, Conversions                            int64
}

type kv struct{ Key, Value string }

type cycleView struct {
	ID, Anchor, Name, Model, Window string
	Headline                        []kv
	Awards                          awardChart
	Revenue                         dayChart
	Pool                            *poolChart
	Top                             []leaderRow
	More, Ranked                    int
	Changes                         []changeRow
}

type leaderRow struct {
	Rank                                  string
	Refcode, Score, Award, Revenue, Boost string
	Referrals, Conversions, PendingConv   int64
	Qualified                             bool
	AdminAction                           string
}

type changeRow struct{ Cycle, Change, Who, Field, Old, New, Diff string }

type rowChange struct{ Email, Refcode, Old, New, Cycles string }

type clawback struct{ Email, Refcode, ReferredAt, Reason string }

func build(ctx context.Context, in Input) page {
	res := in.Result
	p := page{SnapshotID: in.Info.SnapshotID, AsOf: res.AsOf.UTC().Format(time.RFC3339), CodeVersion: in.Info.CodeVersion}
	for i := range res.Cycles {
		cr := &res.Cycles[i]
		cur := cr.Cycle.Rules.Currency
		p.Summary = append(p.Summary, summaryRow{ID: cr.Cycle.ID, Anchor: anchor(cr.Cycle.ID), Name: cr.Cycle.DisplayName,
			Model: string(cr.Cycle.Rules.AwardModel), Status: string(cr.Status), Final: yesNo(cr.IsFinal),
			SettlesAt: cr.SettlesAt.UTC().Format("2006-01-02 15:04"), Pool: money(cur, cr.Cycle.Rules.AwardPool.Amount),
			Awarded: money(cur, cr.Totals.Awarded), Remaining: money(cur, cr.AwardPoolRemaining), Revenue: money(cur, cr.Totals.Revenue),
			Referrals: cr.Totals.Referrals, Conversions: cr.Totals.Conversions})
	}
	for i := range res.Decisions {
		if ctx.Err() != nil {
			break // Write reports the cancellation
		}
		d := &res.Decisions[i]
		if d.Clawback {
			at := ""
			if d.ReferredAt != 0 {
				at = time.Unix(d.ReferredAt, 0).UTC().Format("2006-01-02 15:04")
			}
			p.Clawbacks = append(p.Clawbacks, clawback{Email: d.Row.Email, Refcode: d.Row.Refcode, ReferredAt: at, Reason: d.Reason})
		}
	}
	for i := range res.Cycles {
		p.Cycles = append(p.Cycles, cycle(&res.Cycles[i], res.AsOf))
	}
	// What needs the comparison with the previous snapshot comes last, so
	// that the rest is made while it is made (Input.LaterChanges).
	d := in.Diff()
	if d != nil {
		for i := range p.Cycles {
			p.Cycles[i].Changes = cycleChangesOf(d, p.Cycles[i].ID)
		}
		p.HasPrevious, p.Headline, p.RowsCompared = true, d.Headline(), d.RowsCompared
		for _, c := range d.Cycles {
			p.Changes = append(p.Changes, cycleChanges(c)...)
		}
		for _, r := range d.Rows {
			rc := rowChange{Email: r.Email, Refcode: r.Refcode, Old: r.Outcome.Old, New: r.Outcome.New}
			var parts []string
			for _, c := range r.Cycles {
				parts = append(parts, c.CycleID+": "+dash(c.Old)+" → "+dash(c.New))
			}
			rc.Cycles = strings.Join(parts, "; ")
			p.RowChanges = append(p.RowChanges, rc)
		}
	}
	return p
}

// cycleChangesOf is the changes of cycle id in d (the last when d has
// several for it), nil for none.
func cycleChangesOf(d *snapdiff.Diff, id string) []changeRow {
	var rows []changeRow
	for _, c := range d.Cycles {
		if c.CycleID == id {
			rows = cycleChanges(c)
		}
	}
	return rows
}

func cycle(cr *pipeline.CycleResult, asOf time.Time) cycleView {
	r := cr.Cycle.Rules
	cur := r.Currency
	t := cr.Totals
	v := cycleView{ID: cr.Cycle.ID, Anchor: anchor(cr.Cycle.ID), Name: cr.Cycle.DisplayName, Model: string(r.AwardModel),
		Window: r.StartTime.UTC().Format("2006-01-02 15:04") + " – " + r.EndTime.UTC().Format("2006-01-02 15:04") + " UTC"}
	v.Headline = []kv{
		{"status", string(cr.Status)}, {"final", yesNo(cr.IsFinal)}, {"settles at", cr.SettlesAt.UTC().Format("2006-01-02 15:04")},
		{"pool", money(cur, r.AwardPool.Amount)}, {"awarded", money(cur, t.Awarded)}, {"remaining", money(cur, cr.AwardPoolRemaining)},
		{"referrals", strconv.FormatInt(t.Referrals, 10)},
		{"conversions", strconv.FormatInt(t.Conversions, 10) + " (" + strconv.FormatInt(t.PendingConversions, 10) + " pending)"},
		{"revenue", money(cur, t.Revenue) + " (" + money(cur, t.PendingRevenue) + " pending)"},
		{"ranked / qualified", strconv.FormatInt(t.RankedReferrers, 10) + " / " + strconv.FormatInt(t.QualifiedReferrers, 10)},
	}
	v.Awards = newAwardChart(cr)
	v.Revenue = newDayChart(cr, asOf)
	v.Pool = newPoolChart(cr)
	v.Ranked = len(cr.Leaderboard)
	scoreIsMoney := !(r.AwardModel == pipeline.PieSplit && r.ScoreBy == pipeline.ScoreByConversions)
	for i, e := range cr.Leaderboard {
		if i == TopRows {
			v.More = len(cr.Leaderboard) - TopRows
			break
		}
		row := leaderRow{Rank: strconv.Itoa(e.Rank), Refcode: e.Refcode, Award: money(cur, e.Award), Revenue: money(cur, e.Revenue),
			Referrals: e.Referrals, Conversions: e.Conversions, PendingConv: e.PendingConversions, Qualified: e.Qualified}
		if scoreIsMoney {
			row.Score = money(cur, e.Score)
		} else {
			row.Score = strconv.FormatInt(e.Score, 10)
		}
		if r.AwardModel == pipeline.PieSplit && e.BoostDen != 0 {
			row.Boost = strconv.FormatFloat(float64(e.BoostNum)/float64(e.BoostDen), 'f', 3, 64)
		}
		if a := e.AdminAction; a != nil {
			row.AdminAction = string(a.ActionType) + ": " + a.Reason
		}
		v.Top = append(v.Top, row)
	}
	return v
}

// cycleChanges are one cycle's changes as table rows.
func cycleChanges(c snapdiff.CycleDiff) []changeRow {
	cur := c.Currency
	var rows []changeRow
	add := func(change, who, field, old, new, diff string) {
		rows = append(rows, changeRow{Cycle: c.CycleID, Change: change, Who: who, Field: field, Old: old, New: new, Diff: diff})
	}
	switch {
	case c.Added:
		add("cycle added", "", "", "", "", "")
	case c.Removed:
		add("cycle removed", "", "", "", "", "")
	}
	if c.Status != nil {
		add("status", "", "status", c.Status.Old, c.Status.New, "")
	}
	if c.IsFinal != nil {
		add("status", "", "final", yesNo(c.IsFinal.Old), yesNo(c.IsFinal.New), "")
	}
	for _, t := range c.Totals {
		if t.Money {
			add("total", "", t.Field, money(cur, t.Old), money(cur, t.New), snapdiff.Signed(cur, t.Delta()))
		} else {
			add("total", "", t.Field, strconv.FormatInt(t.Old, 10), strconv.FormatInt(t.New, 10), fmt.Sprintf("%+d", t.Delta()))
		}
	}
	for _, m := range c.Moves {
		kind := "leaderboard"
		switch {
		case !m.OldQualified && m.NewQualified:
			kind = "entered qualified set"
		case m.OldQualified && !m.NewQualified:
			kind = "left qualified set"
		}
		add(kind, m.Refcode, "rank · award", rank(m.OldRank)+" · "+money(cur, m.OldAward), rank(m.NewRank)+" · "+money(cur, m.NewAward),
			snapdiff.Signed(cur, m.AwardDelta()))
	}
	return rows
}

func rank(r int) string {
	if r == 0 {
		return "unranked"
	}
	return "#" + strconv.Itoa(r)
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// anchor is a cycle's element id (cycle ids are [a-z0-9-]).
func anchor(id string) string { return "cycle-" + id }

// money renders minor units as "1,234.56 USD".
func money(currency string, minor int64) string {
	s := pipeline.FormatDecimal(currency, minor)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	b.WriteByte(' ')
	b.WriteString(strings.ToUpper(currency))
	return b.String()
}
