package d1_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/refrecon/refrecon/sources/referrals/d1"
	"github.com/refrecon/refrecon/sources/retry"
)

// answers is an http.RoundTripper that answers the n-th request with the
// n-th body (the last one again when they run out), HTTP 200.
type answers [][]byte

func (a answers) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	r.Body.Close()
	i, _ := r.Context().Value(counterKey{}).(*int)
	b := a[min(*i, len(a)-1)]
	*i++
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: r}, nil
}

type counterKey struct{}

// FuzzD1Responses feeds the D1 source arbitrary API answers: the input is
// the bodies of successive answers separated by 0xFF (a byte UTF-8 JSON
// never holds). Whatever they are, a read returns rows or an error, never
// panics, never hangs (a page that does not advance is an error), and the
// same answers give the same result.
func FuzzD1Responses(f *testing.F) {
	// The seeds in testdata/fuzz/FuzzD1Responses are a whole read (users
	// and referrals, two pages each) and variations: NULL keys, BLOBs,
	// repeated pages, huge numbers, error envelopes.
	f.Add([]byte(`{"success":true,"result":[{"results":[],"success":true}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		bodies := answers(bytes.Split(data, []byte{0xFF}))
		if len(bodies) > 64 {
			return
		}
		read := func() (any, error) {
			src, err := d1.New(d1.Config{AccountID: "a", DatabaseID: "d", Token: "fuzz-token", BaseURL: "http://d1.invalid/client/v4",
				HTTPClient: &http.Client{Transport: bodies}, PageSize: 2,
				Retry: retry.Policy{MaxAttempts: 2, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			ctx := context.WithValue(context.Background(), counterKey{}, &n)
			refs, err := src.ReadReferrals(ctx)
			if n > 10000 {
				t.Fatalf("%d requests: the read does not terminate on repeated answers", n)
			}
			return refs, err
		}
		r1, err1 := read()
		r2, err2 := read()
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) || !reflect.DeepEqual(r1, r2) {
			t.Fatalf("two reads of the same answers differ: %v / %v", err1, err2)
		}
	})
}
