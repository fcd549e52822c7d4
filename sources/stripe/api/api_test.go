package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sources/internal/sourcetest"
	"github.com/refrecon/refrecon/sources/retry"
	"github.com/refrecon/refrecon/sources/retry/retrytest"
	"github.com/refrecon/refrecon/sources/stripe/api"
	stripeexport "github.com/refrecon/refrecon/sources/stripe/export"
	"github.com/refrecon/refrecon/sources/stripe/stripefake"
	"github.com/refrecon/refrecon/sources/stripe/stripetest"
)

const key = "sk_test_51FakeKeyForTests0123456789"

func newSource(t *testing.T, baseURL string, mod func(*api.Config)) (*api.Source, *retrytest.Waits) {
	t.Helper()
	sl := &retrytest.Waits{}
	cfg := api.Config{SecretKey: key, BaseURL: baseURL, RateLimit: 10000, Retry: retry.Policy{Sleep: sl.Sleep}}
	if mod != nil {
		mod(&cfg)
	}
	src, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src, sl
}

// mustRead reads src and fails t unless it returns c's data.
func mustRead(t *testing.T, src *api.Source, c stripetest.Case) {
	t.Helper()
	got, err := src.ReadStripe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d := stripetest.Diff(c.Want, got); d != "" {
		t.Fatal(d)
	}
}

func caseNamed(t *testing.T, name string) stripetest.Case {
	for _, c := range stripetest.Cases() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no case %q", name)
	return stripetest.Case{}
}

func TestConformance(t *testing.T) {
	stripetest.Run(t, func(t *testing.T, ndjson []byte) stripetest.Source {
		fake := stripefake.New(t, key, ndjson)
		src, _ := newSource(t, fake.URL, nil)
		return src
	})
}

func TestPagination(t *testing.T) {
	c := caseNamed(t, "pages")
	fake := stripefake.New(t, key, c.NDJSON)
	src, sl := newSource(t, fake.URL, nil)
	mustRead(t, src, c)
	for _, path := range []string{"/v1/customers", "/v1/subscriptions", "/v1/invoices", "/v1/refunds", "/v1/disputes", "/v1/credit_notes"} {
		qs := fake.Queries(path)
		if len(qs) != 3 {
			t.Errorf("%s: %d requests, want 3 pages of 100", path, len(qs))
			continue
		}
		for i, q := range qs {
			if q.Get("limit") != "100" {
				t.Errorf("%s request %d: limit=%q", path, i+1, q.Get("limit"))
			}
			if (i == 0) != (q.Get("starting_after") == "") {
				t.Errorf("%s request %d: starting_after=%q", path, i+1, q.Get("starting_after"))
			}
		}
	}
	if st := fake.Queries("/v1/subscriptions")[0].Get("status"); st != "all" {
		t.Errorf("subscriptions listed with status=%q, want all", st)
	}
	if st := fake.Queries("/v1/invoices")[0].Get("status"); st != "" {
		t.Errorf("invoices listed with status=%q, want every status", st)
	}
	if n := fake.Requests("/v1/invoices/in_P00007/lines"); n != 2 {
		t.Errorf("lines of the 130-line invoice: %d requests, want 2 pages", n)
	}
	if n := fake.TotalRequests(); n != 20 {
		t.Errorf("%d requests in all, want 20", n)
	}
	if len(sl.All()) != 0 {
		t.Errorf("slept %v without any failure", sl.All())
	}
}

func TestSubscriptionItemsBeyondEmbedded(t *testing.T) {
	var prices []map[string]any
	var want []string
	for i := range 14 {
		id := fmt.Sprintf("price_%02d", i)
		prices = append(prices, stripetest.PriceObject(id, nil, 100))
		want = append(want, id)
	}
	b, _ := json.Marshal(stripetest.Subscription("sub_big", "cus_1", "active", 1700000000, prices...))
	fake := stripefake.New(t, key, append(b, '\n'))
	src, _ := newSource(t, fake.URL, nil)
	got, err := src.ReadStripe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Subscriptions) != 1 || strings.Join(got.Subscriptions[0].PriceIDs, ",") != strings.Join(want, ",") {
		t.Fatalf("got %+v", got.Subscriptions)
	}
	if n := fake.Requests("/v1/subscription_items"); n != 1 {
		t.Errorf("%d subscription item list requests, want 1", n)
	}
}

func TestRateLimitStormSlowsButSucceeds(t *testing.T) {
	c := caseNamed(t, "pages")
	fake := stripefake.New(t, key, c.NDJSON)
	fake.Inject(stripefake.Fault{Path: "/v1/customers", After: 1, Count: 4, Status: 429, RetryAfter: "3"})
	src, sl := newSource(t, fake.URL, nil)
	mustRead(t, src, c)
	waits := sl.All()
	if len(waits) != 4 {
		t.Fatalf("slept %v, want 4 waits", waits)
	}
	for _, d := range waits {
		if d < 3*time.Second {
			t.Errorf("waited %v, less than Retry-After 3s", d)
		}
	}
	if n := fake.Requests("/v1/customers"); n != 7 {
		t.Errorf("%d customer requests, want 3 pages + 4 rejected", n)
	}
}

func TestBackoffGrowsWithoutRetryAfter(t *testing.T) {
	fake := stripefake.New(t, key, caseNamed(t, "shapes").NDJSON)
	fake.Inject(stripefake.Fault{Path: "/v1/refunds", Count: 5, Status: 429})
	src, sl := newSource(t, fake.URL, func(c *api.Config) { c.Retry.Initial = 100 * time.Millisecond; c.Retry.MaxInterval = time.Second })
	if _, err := src.ReadStripe(t.Context()); err != nil {
		t.Fatal(err)
	}
	waits := sl.All()
	// The one policy (sources/retry): the interval doubles from 100 ms up
	// to the 1 s cap, each wait drawn from [0.5, 1.5] times it.
	intervals := []time.Duration{100, 200, 400, 800, 1000}
	if len(waits) != len(intervals) {
		t.Fatalf("slept %v", waits)
	}
	for i, d := range waits {
		iv := intervals[i] * time.Millisecond
		if d < iv/2 || d > iv*3/2 {
			t.Errorf("wait %d = %v, want within [%v, %v]", i+1, d, iv/2, iv*3/2)
		}
	}
}

func TestServerErrorMidPaginationRecovers(t *testing.T) {
	c := caseNamed(t, "pages")
	fake := stripefake.New(t, key, c.NDJSON)
	fake.Inject(stripefake.Fault{Path: "/v1/invoices", After: 1, Count: 2, Status: 503})
	src, sl := newSource(t, fake.URL, nil)
	mustRead(t, src, c)
	if n := len(sl.All()); n != 2 {
		t.Errorf("%d retries, want 2", n)
	}
}

func TestPersistentServerErrorFails(t *testing.T) {
	fake := stripefake.New(t, key, caseNamed(t, "pages").NDJSON)
	fake.Inject(stripefake.Fault{Path: "/v1/refunds", After: 1, Count: -1, Status: 500})
	src, _ := newSource(t, fake.URL, func(c *api.Config) { c.Retry.MaxAttempts = 4 })
	_, err := src.ReadStripe(t.Context())
	sourcetest.CheckError(t, err, []string{"stripe", "refunds", "page 2", "HTTP 500", "after 4 attempts", "unknown error"})
	var se *api.Error
	if !errors.As(err, &se) || se.Status != 500 || !errors.Is(err, retry.ErrTransient) {
		t.Errorf("error is not a *api.Error with status 500, of class retry.ErrTransient: %#v", err)
	}
	if n := fake.Requests("/v1/refunds"); n != 5 {
		t.Errorf("%d refund requests, want 1 + 4 attempts", n)
	}
}

func TestShouldRetryFalseIsFinal(t *testing.T) {
	fake := stripefake.New(t, key, nil)
	fake.Inject(stripefake.Fault{Path: "/v1/customers", Count: -1, Status: 500, ShouldRetry: "false"})
	src, sl := newSource(t, fake.URL, nil)
	if _, err := src.ReadStripe(t.Context()); err == nil {
		t.Fatal("no error")
	}
	if n := fake.Requests("/v1/customers"); n != 1 || len(sl.All()) != 0 {
		t.Errorf("%d requests, %d sleeps; want 1 and none", n, len(sl.All()))
	}
}

func TestRetryBudgetBoundsWaiting(t *testing.T) {
	fake := stripefake.New(t, key, nil)
	fake.Inject(stripefake.Fault{Path: "/v1/customers", Count: -1, Status: 429, RetryAfter: "3600"})
	src, sl := newSource(t, fake.URL, nil)
	_, err := src.ReadStripe(t.Context())
	if err == nil || !strings.Contains(err.Error(), "HTTP 429") {
		t.Fatalf("err = %v", err)
	}
	if len(sl.All()) != 0 {
		t.Errorf("slept %v past the retry budget", sl.All())
	}
}

func TestTimeout(t *testing.T) {
	fake := stripefake.New(t, key, caseNamed(t, "shapes").NDJSON)
	fake.Inject(stripefake.Fault{Path: "/v1/customers", Count: -1, Delay: time.Hour})
	src, _ := newSource(t, fake.URL, func(c *api.Config) {
		// Long enough for the other lists' answers on a loaded machine
		// (under -race), so that only the customers time out.
		c.HTTPClient = &http.Client{Timeout: time.Second}
		c.Retry.MaxAttempts = 3
	})
	_, err := src.ReadStripe(t.Context())
	if err == nil || !strings.Contains(err.Error(), "customers") || !strings.Contains(err.Error(), "giving up after 3 attempts") ||
		!strings.Contains(err.Error(), "Timeout") {
		t.Fatalf("err = %v", err)
	}
}

func TestOneSlowAttemptRecovers(t *testing.T) {
	c := caseNamed(t, "shapes")
	fake := stripefake.New(t, key, c.NDJSON)
	fake.Inject(stripefake.Fault{Path: "/v1/invoices", Count: 1, Delay: time.Hour})
	src, sl := newSource(t, fake.URL, func(c *api.Config) { c.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond} })
	mustRead(t, src, c)
	if len(sl.All()) == 0 { // more when a loaded machine makes another attempt time out too
		t.Errorf("recovered without retrying")
	}
}

func TestMalformedPageFails(t *testing.T) {
	fake := stripefake.New(t, key, caseNamed(t, "pages").NDJSON)
	fake.Inject(stripefake.Fault{Path: "/v1/invoices", After: 1, Count: 1, Malformed: true})
	src, _ := newSource(t, fake.URL, nil)
	_, err := src.ReadStripe(t.Context())
	if err == nil || !strings.Contains(err.Error(), "listing invoices, page 2") || !strings.Contains(err.Error(), "deserialize") {
		t.Fatalf("err = %v", err)
	}
}

func TestRefusedKey(t *testing.T) {
	const wrong = "sk_live_51WrongKeyDoNotPrint0000"
	for _, status := range []int{401, 403} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			fake := stripefake.New(t, key, caseNamed(t, "shapes").NDJSON)
			if status == 403 {
				fake.Inject(stripefake.Fault{Path: "/v1/invoices", Count: -1, Status: 403})
			}
			k := key
			if status == 401 {
				k = wrong
			}
			src, sl := newSource(t, fake.URL, func(c *api.Config) { c.SecretKey = k })
			_, err := src.ReadStripe(t.Context())
			if !errors.Is(err, api.ErrKeyRefused) || !errors.Is(err, retry.ErrRefused) {
				t.Fatalf("err = %v, want ErrKeyRefused, of class retry.ErrRefused", err)
			}
			if strings.Contains(err.Error(), k) || strings.Contains(err.Error(), "51WrongKey") {
				t.Errorf("the key leaked into the error: %v", err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", status)) {
				t.Errorf("err = %v", err)
			}
			if len(sl.All()) != 0 {
				t.Errorf("retried a refused key: %v", sl.All())
			}
		})
	}
}

func TestCancellationStopsPromptly(t *testing.T) {
	t.Run("in flight", func(t *testing.T) {
		fake := stripefake.New(t, key, caseNamed(t, "shapes").NDJSON)
		fake.Inject(stripefake.Fault{Path: "/v1/refunds", Count: -1, Delay: time.Hour})
		src, _ := newSource(t, fake.URL, nil)
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			for fake.Requests("/v1/refunds") == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		_, err := src.ReadStripe(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("while backing off", func(t *testing.T) {
		fake := stripefake.New(t, key, nil)
		fake.Inject(stripefake.Fault{Path: "/v1/customers", Count: -1, Status: 429, RetryAfter: "60"})
		src, err := api.New(api.Config{SecretKey: key, BaseURL: fake.URL}) // real sleeps
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			for fake.Requests("/v1/customers") == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		_, err = src.ReadStripe(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestExportRoundTrip(t *testing.T) {
	for _, c := range stripetest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			fake := stripefake.New(t, key, c.NDJSON)
			src, _ := newSource(t, fake.URL, nil)
			live, err := src.ReadStripe(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var buf, again bytes.Buffer
			if err := src.Export(t.Context(), stripeexport.NewWriter(&buf)); err != nil {
				t.Fatal(err)
			}
			if err := src.Export(t.Context(), stripeexport.NewWriter(&again)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Error("two exports of the same account differ")
			}
			replay, err := stripeexport.Read(t.Context(), bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if d := stripetest.Diff(live, replay); d != "" {
				t.Errorf("export replays differently from the live source:\n%s", d)
			}
			if d := stripetest.Diff(c.Want, replay); d != "" {
				t.Errorf("export replays the wrong data:\n%s", d)
			}
			checkExportOrder(t, buf.Bytes())
		})
	}
}

// checkExportOrder checks the export is customers, subscriptions, invoices,
// refunds, disputes, credit notes, each by id, with no truncated embedded
// list.
func checkExportOrder(t *testing.T, data []byte) {
	rank := map[string]int{"customer": 0, "subscription": 1, "invoice": 2, "refund": 3, "dispute": 4, "credit_note": 5}
	prev := [2]any{-1, ""}
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var o struct {
			ID, Object string
			Lines      *struct {
				HasMore bool `json:"has_more"`
			}
		}
		if err := json.Unmarshal(line, &o); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		r := rank[o.Object]
		if r < prev[0].(int) || (r == prev[0].(int) && o.ID <= prev[1].(string)) {
			t.Fatalf("line %d: %s %s out of order", i+1, o.Object, o.ID)
		}
		if o.Lines != nil && o.Lines.HasMore {
			t.Errorf("line %d: invoice %s exported with truncated lines", i+1, o.ID)
		}
		prev = [2]any{r, o.ID}
	}
}

func TestExportWritesNothingOnFailure(t *testing.T) {
	fake := stripefake.New(t, key, caseNamed(t, "shapes").NDJSON)
	fake.Inject(stripefake.Fault{Path: "/v1/refunds", Count: -1, Status: 500})
	src, _ := newSource(t, fake.URL, func(c *api.Config) { c.Retry.MaxAttempts = 2 })
	var buf bytes.Buffer
	w := stripeexport.NewWriter(&buf)
	if err := src.Export(t.Context(), w); err == nil {
		t.Fatal("no error")
	}
	_ = w.Flush()
	if buf.Len() != 0 {
		t.Errorf("wrote %d bytes", buf.Len())
	}
}

// listServer answers every list with page(path, starting_after).
func listServer(t *testing.T, page func(path, after string) string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, page(r.URL.Path, r.URL.Query().Get("starting_after")))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestBadPagination(t *testing.T) {
	emptyList := `{"object":"list","data":[],"has_more":false,"url":"/v1/x"}`
	for _, tc := range []struct {
		name string
		page func(path, after string) string
		want string
	}{
		{"empty first page claiming more", func(path, after string) string {
			if path == "/v1/customers" {
				return `{"object":"list","data":[],"has_more":true,"url":"/v1/customers"}`
			}
			return emptyList
		}, "listing customers: page 1 is empty but has_more is true"},
		{"empty later page claiming more", func(path, after string) string {
			if path == "/v1/refunds" && after == "" {
				return `{"object":"list","data":[{"id":"re_1","object":"refund"}],"has_more":true,"url":"/v1/refunds"}`
			}
			if path == "/v1/refunds" {
				return `{"object":"list","data":[],"has_more":true,"url":"/v1/refunds"}`
			}
			return emptyList
		}, "listing refunds: page 2 is empty but has_more is true"},
		{"the same page forever", func(path, after string) string {
			if path == "/v1/customers" {
				return `{"object":"list","data":[{"id":"cus_1","object":"customer"}],"has_more":true,"url":"/v1/customers"}`
			}
			return emptyList
		}, "cus_1 was listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := newSource(t, listServer(t, tc.page), nil)
			_, err := src.ReadStripe(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  api.Config
		want string
	}{
		{"no key", api.Config{}, "no secret key"},
		{"negative rate", api.Config{SecretKey: key, RateLimit: -1}, "rate limit"},
		{"bad URL", api.Config{SecretKey: key, BaseURL: "ftp://x"}, "base URL"},
		{"credentials in URL", api.Config{SecretKey: key, BaseURL: "https://user:hunter2@stripe.example"}, "base URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := api.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("credentials leaked: %v", err)
			}
		})
	}
}

var _ interface {
	ReadStripe(context.Context) (pipeline.Stripe, error)
} = (*api.Source)(nil)
