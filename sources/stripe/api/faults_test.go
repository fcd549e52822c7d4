package api_test

import (
	"strings"
	"testing"

	"github.com/refrecon/refrecon/sources/internal/sourcetest"
	"github.com/refrecon/refrecon/sources/stripe/api"
	"github.com/refrecon/refrecon/sources/stripe/stripefake"
)

// A connection reset or a body cut short by a dropped connection, on any
// page, is a transport error: retried, and the read comes out whole.
func TestNetworkFaultsRecover(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault stripefake.Fault
	}{
		{"reset first page", stripefake.Fault{Path: "/v1/customers", Count: 1, Reset: true}},
		{"reset mid pagination", stripefake.Fault{Path: "/v1/invoices", After: 1, Count: 2, Reset: true}},
		{"truncated first page", stripefake.Fault{Path: "/v1/refunds", Count: 1, Truncate: true}},
		{"truncated mid pagination", stripefake.Fault{Path: "/v1/invoices", After: 2, Count: 2, Truncate: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := caseNamed(t, "pages")
			fake := stripefake.New(t, key, c.NDJSON)
			fake.Inject(tc.fault)
			src, sl := newSource(t, fake.URL, nil)
			mustRead(t, src, c)
			// net/http itself retries a request whose reused connection
			// was reset before any answer, so some faults need no retry
			// of ours.
			if n := len(sl.All()); n > tc.fault.Count {
				t.Errorf("%d retries, want at most %d", n, tc.fault.Count)
			}
			if n := fake.Requests(tc.fault.Path); n <= tc.fault.After+tc.fault.Count {
				t.Errorf("%d requests to %s: the fault was not hit", n, tc.fault.Path)
			}
		})
	}
}

// Persistent network faults exhaust the retries: the error names the
// resource and the page and says how many attempts were made.
func TestPersistentNetworkFaultFails(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault stripefake.Fault
	}{
		{"reset", stripefake.Fault{Path: "/v1/invoices", After: 1, Count: -1, Reset: true}},
		{"truncated", stripefake.Fault{Path: "/v1/invoices", After: 1, Count: -1, Truncate: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := stripefake.New(t, key, caseNamed(t, "pages").NDJSON)
			fake.Inject(tc.fault)
			src, _ := newSource(t, fake.URL, func(c *api.Config) { c.Retry.MaxAttempts = 3 })
			_, err := src.ReadStripe(t.Context())
			sourcetest.CheckError(t, err, []string{"stripe api", "listing invoices", "page 2", "giving up after 3 attempts"})
			if strings.Contains(err.Error(), key) {
				t.Error("the error holds the key")
			}
		})
	}
}
