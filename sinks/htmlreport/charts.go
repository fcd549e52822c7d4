package htmlreport

import (
	"strconv"
	"time"

	"github.com/refrecon/refrecon/pipeline"
)

// Chart geometry, in SVG user units (the SVG scales to the page width).
const (
	chartW   = 760
	chartH   = 240
	padLeft  = 100
	padRight = 20
	padTop   = 16
	padBot   = 40
	plotW    = chartW - padLeft - padRight
	plotH    = chartH - padTop - padBot
)

// bar is one bar of a chart, in SVG coordinates.
type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string // tooltip and accessible text
	Label      string
	LabelX     float64
	LabelY     float64
	Value      string
}

// tick is an axis label.
type tick struct {
	X, Y  float64
	Label string
}

// marker is a vertical line across the plot with a caption.
type marker struct {
	X     float64
	Label string
}

// awardChart is the award distribution: the top referrers' awards as
// horizontal bars, then one bar for all the others.
type awardChart struct {
	Height float64
	Bars   []bar
	Empty  bool
}

const awardBars = 10

func newAwardChart(cr *pipeline.CycleResult) awardChart {
	cur := cr.Cycle.Rules.Currency
	var withAward []pipeline.Entry
	for _, e := range cr.Leaderboard {
		if e.Award > 0 {
			withAward = append(withAward, e)
		}
	}
	if len(withAward) == 0 {
		return awardChart{Empty: true, Height: 40}
	}
	type item struct {
		label string
		award int64
		rest  bool
	}
	var items []item
	for i, e := range withAward {
		if i == awardBars && len(withAward) > awardBars+1 {
			var rest int64
			for _, r := range withAward[i:] {
				rest += r.Award
			}
			items = append(items, item{label: "the other " + strconv.Itoa(len(withAward)-i), award: rest, rest: true})
			break
		}
		items = append(items, item{label: "#" + strconv.Itoa(e.Rank) + " " + e.Refcode, award: e.Award})
	}
	var top int64
	for _, it := range items {
		top = max(top, it.award)
	}
	const rowH, labelW = 22.0, 180.0
	c := awardChart{Height: float64(len(items))*rowH + 10}
	for i, it := range items {
		w := float64(it.award) / float64(top) * (chartW - labelW - 120) // display geometry, not money
		y := float64(i)*rowH + 4
		class := "bar"
		if it.rest {
			class = "bar rest"
		}
		amount := money(cur, it.award)
		c.Bars = append(c.Bars, bar{X: labelW, Y: y, W: max(w, 1), H: rowH - 6, Class: class, Title: it.label + ": " + amount,
			Label: truncate(it.label, 26), LabelX: labelW - 6, LabelY: y + rowH/2 + 1, Value: amount})
	}
	return c
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// dayChart is revenue per day across the cycle's window: one bar per day
// (or per group of days for a long window), the pending part on top, and
// the hold boundary (payments after it are still pending at asOf).
type dayChart struct {
	Bars    []bar
	XTicks  []tick
	YTicks  []tick
	Markers []marker
	Note    string
	Empty   bool
}

const maxDayBars = 120

func newDayChart(cr *pipeline.CycleResult, asOf time.Time) dayChart {
	r := cr.Cycle.Rules
	cur := r.Currency
	start := r.StartTime.UTC().Truncate(24 * time.Hour)
	end := r.EndTime.UTC()
	days := int(end.Sub(start)/(24*time.Hour)) + 1
	per := max(1, (days+maxDayBars-1)/maxDayBars) // days per bar
	n := (days + per - 1) / per
	settled := make([]int64, n)
	pending := make([]int64, n)
	for _, ev := range cr.Events {
		i := int(time.Unix(ev.PaidAt, 0).UTC().Sub(start)/(24*time.Hour)) / per
		if i < 0 || i >= n {
			continue
		}
		if ev.Pending {
			pending[i] += ev.Net
		} else {
			settled[i] += ev.Net
		}
	}
	var top int64
	for i := range n {
		top = max(top, settled[i]+pending[i])
	}
	c := dayChart{}
	if per > 1 {
		c.Note = "each bar is " + strconv.Itoa(per) + " days"
	}
	if top == 0 {
		c.Empty = true
		top = 1
	}
	bw := float64(plotW) / float64(n)
	for i := range n {
		x := padLeft + float64(i)*bw
		day := start.AddDate(0, 0, i*per)
		label := day.Format("2006-01-02")
		hs := float64(settled[i]) / float64(top) * plotH
		hp := float64(pending[i]) / float64(top) * plotH
		if settled[i] > 0 {
			c.Bars = append(c.Bars, bar{X: x + 0.5, Y: padTop + plotH - hs, W: max(bw-1, 0.5), H: hs, Class: "bar",
				Title: label + ": " + money(cur, settled[i]) + " out of hold"})
		}
		if pending[i] > 0 {
			c.Bars = append(c.Bars, bar{X: x + 0.5, Y: padTop + plotH - hs - hp, W: max(bw-1, 0.5), H: hp, Class: "bar pending",
				Title: label + ": " + money(cur, pending[i]) + " pending (in hold)"})
		}
	}
	// x ticks: about 6 dates.
	step := max(1, n/6)
	for i := 0; i < n; i += step {
		c.XTicks = append(c.XTicks, tick{X: padLeft + float64(i)*bw, Y: padTop + plotH + 16,
			Label: start.AddDate(0, 0, i*per).Format("Jan 2")})
	}
	if !c.Empty {
		for _, f := range []int64{0, 1, 2, 3, 4} {
			v := top * f / 4
			c.YTicks = append(c.YTicks, tick{X: padLeft - 6, Y: padTop + plotH - float64(v)/float64(top)*plotH + 4,
				Label: money(cur, v)})
		}
	}
	xOf := func(t time.Time) (float64, bool) {
		if t.Before(start) || t.After(end) {
			return 0, false
		}
		return padLeft + float64(t.Sub(start))/float64(time.Duration(n*per)*24*time.Hour)*plotW, true
	}
	boundary := asOf.Add(-time.Duration(r.HoldDays) * 24 * time.Hour)
	if x, ok := xOf(boundary); ok {
		c.Markers = append(c.Markers, marker{X: x, Label: "hold boundary " + boundary.Format("2006-01-02")})
	} else if boundary.Before(start) {
		c.Note = join(c.Note, "hold boundary "+boundary.Format("2006-01-02")+" is before the window: every payment is in hold")
	} else {
		c.Note = join(c.Note, "hold boundary "+boundary.Format("2006-01-02")+" is after the window: no payment is in hold")
	}
	return c
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// poolChart is a rev-share-cap pool remaining over the window: a step line
// down at every claim.
type poolChart struct {
	Path   string // SVG path data
	XTicks []tick
	YTicks []tick
	Dots   []bar // one per claim (X, Y and Title used)
}

func newPoolChart(cr *pipeline.CycleResult) *poolChart {
	r := cr.Cycle.Rules
	if r.AwardModel != pipeline.RevShareCap {
		return nil
	}
	cur := r.Currency
	pool := r.AwardPool.Amount
	start, end := r.StartTime.UTC(), r.EndTime.UTC()
	span := float64(end.Sub(start))
	if span <= 0 {
		span = 1
	}
	top := max(pool, 1)
	xOf := func(unix int64) float64 {
		return padLeft + float64(time.Unix(unix, 0).UTC().Sub(start))/span*plotW
	}
	yOf := func(v int64) float64 { return padTop + plotH - float64(v)/float64(top)*plotH }
	c := &poolChart{}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	path := "M" + f(padLeft) + " " + f(yOf(pool))
	remaining := pool
	for _, ev := range cr.Events {
		if ev.Claim == 0 {
			continue
		}
		x := xOf(ev.PaidAt)
		remaining = ev.PoolBefore - ev.Claim
		path += " H" + f(x) + " V" + f(yOf(remaining))
		c.Dots = append(c.Dots, bar{X: x, Y: yOf(remaining), Title: time.Unix(ev.PaidAt, 0).UTC().Format("2006-01-02 15:04") +
			" " + ev.Refcode + " claimed " + money(cur, ev.Claim) + " of " + money(cur, ev.PoolBefore)})
	}
	path += " H" + f(padLeft+plotW)
	c.Path = path
	for i := range 5 {
		t := start.Add(time.Duration(float64(end.Sub(start)) * float64(i) / 4))
		c.XTicks = append(c.XTicks, tick{X: padLeft + float64(i)/4*plotW, Y: padTop + plotH + 16, Label: t.Format("Jan 2")})
	}
	for _, q := range []int64{0, 1, 2, 3, 4} {
		v := pool * q / 4
		c.YTicks = append(c.YTicks, tick{X: padLeft - 6, Y: yOf(v) + 4, Label: money(cur, v)})
	}
	return c
}
