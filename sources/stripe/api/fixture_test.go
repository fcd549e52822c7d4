package api_test

import (
	"bytes"
	"testing"

	"github.com/refrecon/refrecon/fixtures"
	stripeexport "github.com/refrecon/refrecon/sources/stripe/export"
	"github.com/refrecon/refrecon/sources/stripe/stripefake"
	"github.com/refrecon/refrecon/sources/stripe/stripetest"
)

// The shipped fixture, served by the fake, reads the same through the live
// source as through the export reader, and its export replays the same.
func TestFixtureLiveEqualsFile(t *testing.T) {
	want, err := stripeexport.Read(t.Context(), bytes.NewReader(fixtures.StripeNDJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Customers) == 0 || len(want.Invoices) == 0 {
		t.Fatal("the fixture is empty")
	}
	fake := stripefake.New(t, key, fixtures.StripeNDJSON)
	src, _ := newSource(t, fake.URL, nil)
	got, err := src.ReadStripe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d := stripetest.Diff(want, got); d != "" {
		t.Fatalf("live source and export reader disagree on the fixture:\n%s", d)
	}
	var buf bytes.Buffer
	if err := src.Export(t.Context(), stripeexport.NewWriter(&buf)); err != nil {
		t.Fatal(err)
	}
	replay, err := stripeexport.Read(t.Context(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if d := stripetest.Diff(want, replay); d != "" {
		t.Fatalf("the fixture's export replays differently:\n%s", d)
	}
}
