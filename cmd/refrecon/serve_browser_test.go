package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/refrecon/refrecon/sinks/htmlreport/chromiumtest"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/sethvargo/go-envconfig"
)

// startServe runs "refrecon serve --addr 127.0.0.1:0" under env in the
// background and returns the URL it prints. The server stops, and must
// exit 0, when the test ends.
func startServe(t *testing.T, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := serveCommand(ctx, []string{"--addr", "127.0.0.1:0"}, pw, io.Discard, envconfig.MapLookuper(env))
		pw.CloseWithError(fmt.Errorf("serve returned: %v", err))
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed no address: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("serve printed %q, want its URL", line)
	}
	url := strings.Fields(line[i:])[0]
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve after its context ended (SIGTERM): %v, want a clean stop", err)
		}
	})
	return url
}

// leaderboardRefcodes reads the refcodes of one published leaderboard page.
func leaderboardRefcodes(t *testing.T, public, cycle string, page int) []string {
	t.Helper()
	var latest struct{ Path string }
	b, err := os.ReadFile(filepath.Join(public, "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	must(t, json.Unmarshal(b, &latest))
	b, err = os.ReadFile(filepath.Join(public, filepath.FromSlash(latest.Path), "cycles", cycle, "leaderboard", fmt.Sprint(page)+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Entries []struct{ Refcode string } }
	must(t, json.Unmarshal(b, &doc))
	var out []string
	for _, e := range doc.Entries {
		out = append(out, e.Refcode)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestViewerInChromium opens the viewer in a real headless Chromium on the
// fixture snapshot (published at 5 records per page, so that leaderboards
// have several pages) and on the hostile dataset's snapshot (refcodes with
// '/', '..', '@', device names, emoji, 400 bytes), and checks what a person
// sees: the cycles with status and pool, the first leaderboard page, the
// next page, a refcode lookup; that the JavaScript file-name rule agrees
// with the Go one on tricky refcodes; and that no request goes anywhere
// but the server.
func TestViewerInChromium(t *testing.T) {
	chromiumtest.Path(t) // skip (or fail in CI) before the runs

	fixture := newDirs(t)
	fixtureEnv := fixture.env(fixtureAsOf, "RECORDS_PER_PAGE", "5", "WAREHOUSE", "none")
	mustRun(t, fixtureEnv)
	hostile := newDirs(t)
	hostileEnv := hostile.env(fixtureAsOf, "WAREHOUSE", "none",
		"REFERRALS_SOURCE", "d1dump:"+filepath.Join("testdata", "hostile", "referrals.sql"),
		"STRIPE_SOURCE", "file:"+filepath.Join("testdata", "hostile", "stripe.ndjson"))
	mustRun(t, hostileEnv)
	base := startServe(t, fixtureEnv)
	hostileBase := startServe(t, hostileEnv)

	ctx, cancelTimeout := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancelTimeout()
	alloc, cancelAlloc := chromiumtest.Allocator(t, ctx)
	defer cancelAlloc()
	var mu sync.Mutex
	var requests, problems []string
	ctx, cancelCtx := chromedp.NewContext(alloc, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, e.Request.URL)
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if x := e.ExceptionDetails.Exception; x != nil {
				msg += " " + x.Description
			}
			problems = append(problems, "exception: "+msg)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range e.Args {
					args = append(args, a.Value.String())
				}
				problems = append(problems, "console.error: "+strings.Join(args, " "))
			}
		}
	}))
	defer cancelCtx()

	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		must(t, chromedp.Do(ctx, steps...))
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		must(t, err)
		return s
	}
	strs := func(expr string, opts ...chromedp.EvaluateOption) []string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](expr, opts...))
		must(t, err)
		return v
	}
	const shownRefcodes = `Array.from(document.querySelectorAll("#leaderboard tbody tr")).map(r => r.dataset.refcode)`

	// The first page: cycles, then the newest cycle's leaderboard page 1.
	do(chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS(`body[data-state="ready"]`)))
	cycleRows := strings.Join(strs(`Array.from(document.querySelectorAll("#cycles tbody tr")).map(r => r.dataset.cycle)`), ",")
	firstCycle := text(`#cycles tbody tr:first-child td:nth-child(1)`)
	status := text(`#cycles tbody tr:first-child td:nth-child(2)`)
	pool := text(`#cycles tbody tr:first-child td:nth-child(5)`)
	if cycleRows != "cycle-2,cycle-1" || firstCycle != "March 2026" || status != "AwardsReview" || pool != "USD 10,000.00" {
		t.Errorf("cycles table: rows %q, first %q, status %q, pool %q", cycleRows, firstCycle, status, pool)
	}
	do(chromedp.WaitVisible(chromedp.CSS(`#leaderboard[data-cycle="cycle-2"][data-page="1"]`)))
	if rows, want := strs(shownRefcodes), leaderboardRefcodes(t, fixture.Public, "cycle-2", 1); !slices.Equal(rows, want) {
		t.Errorf("leaderboard page 1 shows %q, published %q", rows, want)
	}
	if pageInfo := text(`#page-info`); !strings.HasPrefix(pageInfo, "Page 1 of 3") {
		t.Errorf("page info %q", pageInfo)
	}

	// Page forward, then pick the other cycle.
	do(chromedp.Click(chromedp.CSS(`#next`)), chromedp.WaitVisible(chromedp.CSS(`#leaderboard[data-page="2"]`)))
	if rows, want := strs(shownRefcodes), leaderboardRefcodes(t, fixture.Public, "cycle-2", 2); !slices.Equal(rows, want) {
		t.Errorf("leaderboard page 2 shows %q, published %q", rows, want)
	}
	if pageInfo := text(`#page-info`); !strings.HasPrefix(pageInfo, "Page 2 of 3") {
		t.Errorf("page info after Next: %q", pageInfo)
	}
	do(chromedp.Click(chromedp.CSS(`#cycles tbody tr[data-cycle="cycle-1"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#leaderboard[data-cycle="cycle-1"][data-page="1"]`)))
	if rows, want := strs(shownRefcodes), leaderboardRefcodes(t, fixture.Public, "cycle-1", 1); !slices.Equal(rows, want) {
		t.Errorf("cycle-1 page 1 shows %q, published %q", rows, want)
	}

	// A link names a cycle and page (the page keeps it in the URL).
	if u, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(u, "#cycle=cycle-1&page=1") {
		t.Errorf("location after choosing cycle-1: %q, %v", u, err)
	}
	do(chromedp.Navigate(base+"#cycle=cycle-2&page=3"), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="ready"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#leaderboard[data-cycle="cycle-2"][data-page="3"]`)))
	if rows, want := strs(shownRefcodes), leaderboardRefcodes(t, fixture.Public, "cycle-2", 3); !slices.Equal(rows, want) {
		t.Errorf("linked page 3 shows %q, published %q", rows, want)
	}

	// Look up a referrer, and one that does not exist.
	do(chromedp.SetValue(chromedp.CSS(`#refcode`), "ALICE2025"), chromedp.Click(chromedp.CSS(`#lookup button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#referrer[data-found="yes"][data-refcode="ALICE2025"]`)))
	if rank, found := text(`#referrer tbody tr[data-cycle="cycle-1"] td:nth-child(3)`), text(`#referrer-file`); rank != "1" || !strings.Contains(found, "ALICE2025") {
		t.Errorf("lookup ALICE2025: rank %q, %q", rank, found)
	}
	do(chromedp.SetValue(chromedp.CSS(`#refcode`), "NOBODY"), chromedp.Click(chromedp.CSS(`#lookup button[type=submit]`)),
		chromedp.WaitReady(chromedp.CSS(`#referrer[data-found="no"][data-refcode="NOBODY"]`)))
	if notFound := text(`#referrer-file`); !strings.Contains(notFound, "No referrer") {
		t.Errorf("lookup NOBODY: %q", notFound)
	}

	// Money is exact beyond float precision.
	money := strings.Join(strs(`[refrecon.formatMoney({currency: "usd", amount: "123456789012345678901"}), refrecon.formatMoney({currency: "jpy", amount: "1000"}),
		  refrecon.formatMoney({currency: "kwd", amount: "5"}), refrecon.formatMoney({currency: "eur", amount: "0"})]`), " | ")
	if want := "USD 1,234,567,890,123,456,789.01 | JPY 1,000 | KWD 0.005 | EUR 0.00"; money != want {
		t.Errorf("formatMoney: %q, want %q", money, want)
	}

	// The file-name rule in JavaScript agrees with the Go one.
	tricky := []string{"", "ALICE2025", "bob-refers", "under_score", "../../etc/passwd", "/etc/shadow", "..", ".",
		`..\..\windows`, "NUL\x00CODE", "con", "CON", "Com1", "lpt9", "nul.txt", "~41", "~", "%2e%2e%2f", "line\nbreak",
		"🎉PARTY", "АLICE", "é", "a b", "tab\there", strings.Repeat("Xy", 200), strings.Repeat("é", 120),
		strings.Repeat("a", 166) + "é" + strings.Repeat("b", 40), strings.Repeat("a", 200), strings.Repeat("a", 201),
		strings.Repeat("~", 70), strings.Repeat("a", 167) + "/" + strings.Repeat("z", 40)}
	arg, _ := json.Marshal(tricky)
	jsNames := strs(`Promise.all(`+string(arg)+`.map(r => refrecon.refcodeFileName(r)))`, chromedp.EvalAwaitPromise)
	for i, r := range tricky {
		if i >= len(jsNames) || jsNames[i] != public.RefcodeFileName(r) {
			got := "<missing>"
			if i < len(jsNames) {
				got = jsNames[i]
			}
			t.Errorf("refcodeFileName(%q): JavaScript %q, Go %q", r, got, public.RefcodeFileName(r))
		}
	}

	// On the hostile snapshot, tricky refcodes are found by lookup: the
	// page computes each file name (with the email redaction) itself.
	do(chromedp.Navigate(hostileBase), chromedp.WaitVisible(chromedp.CSS(`body[data-state="ready"]`)))
	for _, refcode := range []string{"../../etc/passwd", "..", "con", "me@example.com", "~41", "%2e%2e%2f", "🎉PARTY", "АLICE", strings.Repeat("Xy", 200)} {
		arg, _ := json.Marshal(refcode)
		do(chromedp.SetValue(chromedp.CSS(`#refcode`), refcode), chromedp.Click(chromedp.CSS(`#lookup button[type=submit]`)))
		shown, err := chromedp.Run(ctx, chromedp.Poll[string](`document.querySelector("#referrer").dataset.refcode === `+string(arg)+
			` && document.querySelector("#referrer").dataset.found + " " + document.querySelector("#referrer-file").textContent`))
		must(t, err)
		if !strings.HasPrefix(shown, "yes ") {
			t.Errorf("lookup %q on the hostile snapshot: %q", refcode, shown)
		}
		if strings.Contains(refcode, "@") && strings.Contains(shown, refcode) {
			t.Errorf("lookup %q shows the address: %q", refcode, shown)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	for _, u := range requests {
		if !strings.HasPrefix(u, base) && !strings.HasPrefix(u, hostileBase) {
			t.Errorf("request left the server: %s", u)
		}
	}
	if len(requests) < 8 {
		t.Errorf("saw only %d requests; the network listener is not working", len(requests))
	}
	for _, p := range problems {
		t.Errorf("page reported %s", p)
	}
}
