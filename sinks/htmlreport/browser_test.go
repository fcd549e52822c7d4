package htmlreport_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/refrecon/refrecon/sinks/htmlreport/chromiumtest"
)

// TestReportInChromium opens the report from a file:// URL in headless
// Chromium and checks that the tables and charts render and that the page
// makes no request besides loading itself. HTMLREPORT_SCREENSHOT=path.png
// saves a full-page screenshot.
func TestReportInChromium(t *testing.T) {
	path, _ := writeReport(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, acancel := chromiumtest.Allocator(t, ctx, chromedp.WindowSize(1200, 900))
	defer acancel()
	var mu sync.Mutex
	var requests []string
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}))
	defer bcancel()

	url := "file://" + path
	run := func(a chromedp.Action[int]) int {
		t.Helper()
		n, err := chromedp.Run(bctx, a)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	count := func(sel string) int {
		t.Helper()
		return run(chromedp.Evaluate[int](`document.querySelectorAll(` + "`" + sel + "`" + `).length`))
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("#cycles"))); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	heading, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#cycle-march-pie h2")))
	if err != nil {
		t.Fatal(err)
	}
	svgs, cycleSections := count("svg"), count("section.cycle")
	summaryRows, leaderRows := count("table.summary tbody tr"), count("#cycle-march-pie table.leaderboard tbody tr")
	awardBars := count("#cycle-march-pie .award-distribution svg rect")
	revenueBars := count("#cycle-march-pie .revenue-per-day svg rect")
	poolDots := count("#cycle-march-share .pool svg circle")
	boundaries := count("#cycle-march-pie .revenue-per-day line.boundary")
	changeRows := count("#changes table.changes tbody tr")
	svgWidth, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`document.querySelector('#cycle-march-pie .revenue-per-day svg').getBoundingClientRect().width`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("HTMLREPORT_SCREENSHOT"); p != "" {
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasPrefix(title, "refrecon report ") || !strings.Contains(heading, "March <b>pie</b>") {
		t.Errorf("title %q, heading %q", title, heading)
	}
	// Per cycle: award distribution and revenue per day; the rev-share-cap
	// cycle also the pool chart (the pie-split cycle has none).
	if cycleSections != 2 || svgs != 5 {
		t.Errorf("%d cycle sections, %d svg elements; want 2 and 5", cycleSections, svgs)
	}
	if summaryRows != 2 || leaderRows != 25 {
		t.Errorf("summary rows %d (want 2), leaderboard rows %d (want the top 25)", summaryRows, leaderRows)
	}
	if awardBars != 11 { // the top 10 and the rest
		t.Errorf("award bars %d, want 11", awardBars)
	}
	if revenueBars != 30 || boundaries != 1 {
		t.Errorf("revenue bars %d (want 30 days with revenue), hold boundaries %d (want 1)", revenueBars, boundaries)
	}
	if poolDots != 3 { // three events claimed, one found the pool empty
		t.Errorf("pool claims %d, want 3", poolDots)
	}
	if changeRows == 0 {
		t.Error("no change rows")
	}
	if svgWidth < 300 {
		t.Errorf("chart rendered %v px wide", svgWidth)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, r := range requests {
		if r != url {
			t.Errorf("the page made a request: %s", r)
		}
	}
	if len(requests) == 0 {
		t.Error("no request seen at all: the network listener is not working")
	}
}
