package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sources/internal/inputfile/inputfiletest"
	"github.com/refrecon/refrecon/sources/stripe/export"
	"github.com/refrecon/refrecon/sources/stripe/stripetest"
)

func TestConformanceFile(t *testing.T) {
	stripetest.Run(t, func(t *testing.T, ndjson []byte) stripetest.Source {
		path := filepath.Join(t.TempDir(), "stripe.ndjson")
		if err := os.WriteFile(path, ndjson, 0o600); err != nil {
			t.Fatal(err)
		}
		return export.NewFile(path)
	})
}

type readerSource []byte

func (r readerSource) ReadStripe(ctx context.Context) (pipeline.Stripe, error) {
	return export.Read(ctx, bytes.NewReader(r))
}

func TestConformanceRead(t *testing.T) {
	stripetest.Run(t, func(t *testing.T, ndjson []byte) stripetest.Source { return readerSource(ndjson) })
}

// Writing the decoded stripe-go objects back out (json.Marshal of the
// stripe-go types) and reading that gives the same data.
func TestWriterRoundTripsStripeGoObjects(t *testing.T) {
	for _, c := range stripetest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			objs, err := export.Decode(t.Context(), bytes.NewReader(c.NDJSON))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			w := export.NewWriter(&buf)
			writeEach(t, w, objs.Customers)
			writeEach(t, w, objs.Subscriptions)
			writeEach(t, w, objs.Invoices)
			writeEach(t, w, objs.Refunds)
			writeEach(t, w, objs.Disputes)
			writeEach(t, w, objs.CreditNotes)
			must(t, w.Flush())
			if n := bytes.Count(buf.Bytes(), []byte("\n")); n != w.Count() {
				t.Fatalf("%d lines for %d objects", n, w.Count())
			}
			got, err := export.Read(t.Context(), &buf)
			if err != nil {
				t.Fatal(err)
			}
			if d := stripetest.Diff(c.Want, got); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestWriterRawJSONIsCompacted(t *testing.T) {
	var buf bytes.Buffer
	w := export.NewWriter(&buf)
	must(t, w.Write(json.RawMessage("{\n \"id\": \"cus_1\",\n \"object\": \"customer\", \"email\": \"a\\nb\"\n}")))
	if err := w.Write(json.RawMessage(`["not an object"]`)); err == nil {
		t.Error("writing a JSON array: no error")
	}
	must(t, w.Flush())
	if want := `{"id":"cus_1","object":"customer","email":"a\nb"}` + "\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestNotesCountSkippedTypes(t *testing.T) {
	data := "\n" + `{"id":"ch_1","object":"charge"}` + "\n\n" + `{"id":"ch_2","object":"charge"}` + "\r\n" +
		`{"id":"cus_1","object":"customer","email":"x@y"}` + "\n" + `{"id":"price_1","object":"price"}`
	path := filepath.Join(t.TempDir(), "s.ndjson")
	must(t, os.WriteFile(path, []byte(data), 0o600))
	src := export.NewFile(path)
	got, err := src.ReadStripe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []pipeline.Customer{{ID: "cus_1", Email: "x@y"}}; !reflect.DeepEqual(got.Customers, want) {
		t.Errorf("customers = %+v", got.Customers)
	}
	want := []string{`skipped 2 objects of unknown type "charge"`, `skipped 1 object of unknown type "price"`}
	if !reflect.DeepEqual(got.Notes, want) {
		t.Errorf("Notes = %q, want %q", got.Notes, want)
	}
}

func TestBadInput(t *testing.T) {
	cus := `{"id":"cus_1","object":"customer"}`
	for _, tc := range []struct{ name, data, want string }{
		{"malformed", cus + "\n\n" + `{"id":"cus_2","object":"customer"` + "\n", "line 3: malformed JSON"},
		{"not an object", cus + "\n[1,2]\n", "line 2: not a JSON object"},
		{"no object field", `{"id":"cus_1"}`, `line 1: missing "object" field`},
		{"no id", `{"object":"refund","amount":1}`, `line 1: refund without an "id"`},
		{"wrong type", `{"id":"in_1","object":"invoice","amount_paid":"12"}`, "line 1: decoding invoice"},
		{"bad expandable", `{"id":"re_1","object":"refund","charge":12}`, "line 1: decoding refund"},
		{"duplicate", cus + "\n" + `{"id":"in_1","object":"invoice"}` + "\n" + cus, "line 3: customer cus_1 appears twice (first on line 1)"},
		{"a key twice", cus + "\n" + `{"id":"in_1","object":"invoice","amount_paid":1500,"amount_paid":150000000}`, `line 2: invoice: key "amount_paid" appears twice`},
		{"a key twice in another case", `{"id":"in_1","object":"invoice","tax":0,"TAX":-5}`, `line 1: invoice: key "TAX" appears twice`},
		{"object twice", `{"id":"in_1","object":"invoice","amount_paid":1500,"object":"charge"}`, `line 1: charge: key "object" appears twice`},
		{"too long", `{"id":"cus_1","object":"customer","email":"` + strings.Repeat("x", export.MaxLineBytes) + `"}`, "line 1: line longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := export.Read(t.Context(), strings.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// The same id under two object types is two objects.
func TestSameIDDifferentTypes(t *testing.T) {
	data := `{"id":"x_1","object":"customer"}` + "\n" + `{"id":"x_1","object":"refund"}`
	got, err := export.Read(t.Context(), strings.NewReader(data))
	if err != nil || len(got.Customers) != 1 || len(got.Refunds) != 1 {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestLongLineWithinLimit(t *testing.T) {
	long := strings.Repeat("y", 200<<10) // several reader buffers
	data := `{"id":"cus_1","object":"customer","email":"` + long + `"}` + "\n" + `{"id":"cus_2","object":"customer"}`
	got, err := export.Read(t.Context(), strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Customers) != 2 || got.Customers[0].Email != long {
		t.Fatalf("got %d customers", len(got.Customers))
	}
}

func TestMissingFile(t *testing.T) {
	_, err := export.NewFile(filepath.Join(t.TempDir(), "nope.ndjson")).ReadStripe(t.Context())
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := export.Read(ctx, strings.NewReader(`{"id":"cus_1","object":"customer"}`))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeEach writes every object of vs with w.
func writeEach[T any](t *testing.T, w *export.Writer, vs []T) {
	t.Helper()
	for _, v := range vs {
		must(t, w.Write(v))
	}
}

func TestRefusesWhatIsNotARegularFile(t *testing.T) {
	inputfiletest.Run(t, func(ctx context.Context, path string) error {
		_, err := export.NewFile(path).ReadStripe(ctx)
		return err
	})
}

func TestFileReadHonoursContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.ndjson")
	must(t, os.WriteFile(path, []byte(`{"id":"cus_1","object":"customer"}`+"\n"), 0o600))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := export.NewFile(path).ReadStripe(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
