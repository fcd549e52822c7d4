package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/fixtures"
	"github.com/refrecon/refrecon/fixtures/synth"
	"github.com/refrecon/refrecon/pipeline"
)

// reference decodes with the stripe-go types only (Decode), the behaviour
// the lean reader must reproduce.
func reference(data []byte) (got any, notes []string, err error) {
	objs, err := Decode(context.Background(), bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	return objs.Stripe(), objs.Notes(), nil
}

func checkSame(t testing.TB, name string, data []byte) {
	t.Helper()
	checkSameAs(t, name, data, decode)
}

// checkSameAs compares lean, a decoder meant to behave as the stripe-go
// path does, with it.
func checkSameAs(t testing.TB, name string, data []byte, lean func(context.Context, io.Reader) (pipeline.Stripe, []string, error)) {
	t.Helper()
	want, wantNotes, wantErr := reference(data)
	got, gotNotes, gotErr := lean(context.Background(), bytes.NewReader(data))
	// The one deliberate difference: a field refrecon does not read is
	// checked for JSON syntax only, not for its stripe-go type. Only such a
	// field's type error is excused; one in a field the lean decoder reads
	// must be an error on both paths.
	if gotErr == nil && excusedTypeError(wantErr) {
		return
	}
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("%s: err = %v, stripe-go path: %v", name, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: lean reader got\n%+v\nstripe-go path got\n%+v", name, got, want)
	}
	if !reflect.DeepEqual(gotNotes, wantNotes) {
		t.Fatalf("%s: notes %q, stripe-go path %q", name, gotNotes, wantNotes)
	}
}

// leanReads lists, per object type, the fields the lean decoder reads, as
// encoding/json names them in an UnmarshalTypeError (dotted, no indexes).
// Expandable fields are read for their id. TestLeanReadsListsLeanFields
// keeps it in step with lean.go.
var leanReads = map[string][]string{
	ObjectCustomer:     {"id", "object", "email"},
	ObjectSubscription: {"id", "object", "status", "created", "customer.id", "items.data.price.id", "items.data.price.lookup_key"},
	ObjectInvoice: {"id", "object", "status", "currency", "amount_paid", "tax", "customer.id", "subscription.id", "charge.id",
		"status_transitions.paid_at", "lines.data.price.id", "lines.data.price.lookup_key"},
	ObjectRefund:     {"id", "object", "amount", "status", "created", "charge.id"},
	ObjectDispute:    {"id", "object", "amount", "currency", "status", "created", "charge.id"},
	ObjectCreditNote: {"id", "object", "type", "status", "amount", "created", "invoice.id", "refund.id"},
}

var decodingKind = regexp.MustCompile(`decoding (\w+): `)

// excusedTypeError reports whether err, from the stripe-go path, is a type
// error in a field the lean decoder does not read: neither a field it
// reads nor one on the way to such a field.
func excusedTypeError(err error) bool {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return false
	}
	m := decodingKind.FindStringSubmatch(err.Error())
	if m == nil {
		return false
	}
	reads, ok := leanReads[m[1]]
	if !ok {
		return false // a type leanReads does not list yet: excuse nothing
	}
	for _, p := range reads {
		if te.Field == p || strings.HasPrefix(p, te.Field+".") {
			return false
		}
	}
	return true
}

// Every field the lean decoder reads, given a value of the wrong type, fails
// the read as the stripe-go path fails it: never a number read from a
// string, or a string from a number.
func TestLeanRefusesWrongTypesInFieldsItReads(t *testing.T) {
	for kind, paths := range leanReads {
		for _, p := range paths {
			if p == "object" {
				continue // a non-string "object" is a malformed line, tested elsewhere
			}
			tested := 0
			for _, bad := range []any{"1200", 12, 1.5, true, []any{}} {
				obj := map[string]any{"id": "x_1", "object": kind}
				setPath(obj, p, bad)
				line, err := json.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				_, _, refErr := reference(line)
				var te *json.UnmarshalTypeError
				if !errors.As(refErr, &te) {
					continue // the value is of a type stripe-go accepts there
				}
				tested++
				if _, _, err := decode(context.Background(), bytes.NewReader(line)); err == nil {
					t.Errorf("%s: the lean reader accepted a field it reads with the wrong type", line)
				}
				checkSame(t, string(line), line)
			}
			if tested == 0 {
				t.Errorf("%s %s: no value of a wrong type found", kind, p)
			}
		}
	}
}

// setPath sets the dotted path p in o to v; "data" segments are lists of
// one object.
func setPath(o map[string]any, p string, v any) {
	head, rest, nested := strings.Cut(p, ".")
	if !nested {
		o[head] = v
		return
	}
	child := map[string]any{}
	if head == "data" {
		o[head] = []any{child}
	} else {
		o[head] = child
	}
	setPath(child, rest, v)
}

// The oracle itself catches a lean decoder that reads money from a string.
func TestOracleCatchesALaxDecoder(t *testing.T) {
	lax := func(ctx context.Context, r io.Reader) (pipeline.Stripe, []string, error) {
		b, err := io.ReadAll(r)
		if err != nil {
			return pipeline.Stripe{}, nil, err
		}
		return decode(ctx, bytes.NewReader(bytes.ReplaceAll(b, []byte(`"amount_paid":"1200"`), []byte(`"amount_paid":1200`))))
	}
	line := []byte(`{"id":"in_1","object":"invoice","status":"paid","currency":"usd","amount_paid":"1200"}` + "\n")
	if !fails(t, func(tb testing.TB) { checkSameAs(tb, "lax", line, lax) }) {
		t.Error("checkSame passes a lean decoder that reads amount_paid from a string")
	}
	if fails(t, func(tb testing.TB) { checkSameAs(tb, "real", line, decode) }) {
		t.Error("checkSame fails the real decoder")
	}
	// A type error in a field nobody reads stays excused.
	unread := []byte(`{"id":"in_1","object":"invoice","amount_due":"1200"}` + "\n")
	if fails(t, func(tb testing.TB) { checkSameAs(tb, "unread", unread, decode) }) {
		t.Error("checkSame fails a type error in a field the lean decoder does not read")
	}
}

// fails reports whether f failed the testing.TB it was given.
func fails(t *testing.T, f func(tb testing.TB)) (failed bool) {
	r := &recorder{TB: t}
	defer func() {
		if p := recover(); p != nil && p != errFatal {
			panic(p)
		}
		failed = r.failed
	}()
	f(r)
	return r.failed
}

var errFatal = errors.New("fatal")

// recorder is a testing.TB whose failures are recorded, not reported.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(string, ...any) {
	r.failed = true
	panic(errFatal)
}

// leanReads names, at the top of each object, exactly the fields lean.go
// reads there.
func TestLeanReadsListsLeanFields(t *testing.T) {
	for kind, fields := range map[string][]string{ObjectCustomer: customerFields, ObjectSubscription: subscriptionFields,
		ObjectInvoice: invoiceFields, ObjectRefund: refundFields, ObjectDispute: disputeFields, ObjectCreditNote: creditNoteFields} {
		var top []string
		for _, p := range leanReads[kind] {
			head, _, _ := strings.Cut(p, ".")
			if !slices.Contains(top, head) {
				top = append(top, head)
			}
		}
		if !slices.Equal(slices.Sorted(slices.Values(top)), slices.Sorted(slices.Values(fields))) {
			t.Errorf("%s: leanReads has %v, lean.go reads %v", kind, top, fields)
		}
	}
}

func TestLeanMatchesStripeGoOnFixtures(t *testing.T) {
	checkSame(t, "fixtures", fixtures.StripeNDJSON)
	for _, full := range []bool{false, true} {
		dir := t.TempDir()
		if _, err := synth.Generate(t.Context(), synth.Config{Dir: dir, Referrals: 3000, Seed: 7, FullObjects: full}); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, synth.FileStripe))
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, fmt.Sprintf("synth full=%v", full), data)
		// Many small blocks: the same lines cut at other places.
		if len(data) < 3*blockBytes {
			checkSame(t, "synth doubled", append(bytes.Clone(data), data...))
		}
	}
}

// leanCases are lines each path must read alike: the lean decoder's
// happy path, and everything it hands to the stripe-go types.
var leanCases = []string{
	// The "id"-then-"object" prefix read without the whole-line scan
	// (prefixKind): the kind's own pass must still refuse what the scan did.
	`{"id":"in_1","object":"invoice","object":"customer"}`,
	`{"id":"in_1","object":"invoice","Object":"customer"}`,
	`{"id":"in_1","object":"invoice","id":"in_2","status":"paid"}`,
	`{"id":"in_1","object":"invoice","ID":"in_2"}`,
	`{"id":"in_1","object":"invoice"}x`,
	`{"id":"in_1","object":"invoice"} `,
	`{"id":"in_1","object":"invoice"`,
	`{"id":"in_1","object":"invoice",}`,
	`{"id":"in_1","object":"invoice"}`,
	`{"id":"in_\u0031","object":"invoice"}`,
	`{"id":"in_1","object":"invoic\u0065"}`,
	`{"id":"in_1","object":"invoice"   ,"status":"paid"}`,
	`{"id":"","object":"invoice","status":"paid"}`,
	`{"id":null,"object":"refund"}`,
	`{"id":"re_1","object":"refund","amount":"12"}`,
	`{"id":"cus_1","object":"customers"}`,
	`{"id":"cus_1","object":"customer","email":"a@b"}`,
	`{"id":"cus_1","object":"customer","email":null}`,
	`{"id":"cus_1","object":"customer"}`,
	`{"id":"cus_1","object":"customer","Email":"X@y"}`,
	`{"id":"cus_1","object":"customer","email":"a@b","email":"c@d"}`,
	`{"id":"cus_1","object":"customer","email":"caf\u00e9@b"}`,
	`{"id":"cus_1","object":"customer","email":"café@b"}`,
	"{\"id\":\"cus_1\",\"object\":\"customer\",\"email\":\"a\xffb\"}",
	`{"id":"cus_1","object":"customer","email":5}`,
	`{"ID":"cus_1","object":"customer"}`,
	`{"id":"cus_1","Object":"customer"}`,
	`{"i\u0064":"cus_1","object":"customer"}`,
	`{"id":"cus_1","object":"customer","meta":{"a":[1,2.5e-3,true,false,null,"x\"y\\z\u00e9"]}}`,
	`{"id":"cus_1","object":"customer","x":01}`,
	`{"id":"cus_1","object":"customer","x":1.}`,
	`{"id":"cus_1","object":"customer","x":"\x"}`,
	`{"id":"cus_1","object":"customer"} x`,
	`{"id":"cus_1","object":"customer",}`,
	`{"id":"","object":"customer"}`,
	`{"id":null,"object":"customer"}`,
	`{"object":"customer"}`,
	`{"id":5,"object":"customer"}`,
	`{"id":"x","object":5}`,
	`{"id":"x","object":null}`,
	`{"id":"x","object":""}`,
	`{"id":"ch_1","object":"charge","amount":5}`,
	`{"object":"price"}`,
	`{"id":7,"object":"price"}`,
	`{"id":"in_1","object":"invoice","status":"paid","currency":"USD","amount_paid":1200,"tax":null,"customer":"cus_1","subscription":null,"charge":"ch_1","status_transitions":{"paid_at":1700000000,"finalized_at":1},"lines":{"object":"list","data":[{"price":{"id":"price_a","lookup_key":"team"}},{"price":"price_b"},{"price":null},{"amount":5},null,{"price":{"id":null,"lookup_key":null}},{"price":""}],"has_more":false}}`,
	`{"id":"in_1","object":"invoice","amount_paid":1.5}`,
	`{"id":"in_1","object":"invoice","amount_paid":1e3}`,
	`{"id":"in_1","object":"invoice","amount_paid":99999999999999999999}`,
	`{"id":"in_1","object":"invoice","amount_paid":-0,"tax":-5}`,
	`{"id":"in_1","object":"invoice","customer":{"id":"cus_1","object":"customer","email":"a@b"}}`,
	`{"id":"in_1","object":"invoice","charge":12}`,
	`{"id":"in_1","object":"invoice","lines":"x"}`,
	`{"id":"in_1","object":"invoice","lines":null,"status_transitions":null}`,
	`{"id":"in_1","object":"invoice","lines":{"data":null}}`,
	`{"id":"in_1","object":"invoice","lines":{"data":["il_1"]}}`,
	`{"id":"in_1","object":"invoice","lines":{"data":[{"price":5}]}}`,
	`{"id":"in_1","object":"invoice","lines":{"Data":[{"price":"p"}]}}`,
	`{"id":"in_1","object":"invoice","status_transitions":{"paid_at":"x"}}`,
	`{"id":"in_1","object":"invoice","status_transitions":{"Paid_At":5}}`,
	`{"id":"in_1","object":"invoice","currency":"usd","currency":"eur"}`,
	`{"id":"sub_1","object":"subscription","status":"active","created":5,"customer":"cus_1","items":{"data":[{"id":"si_1","price":{"id":"price_a"}},{"price":{"lookup_key":"k"}},{"price":"price_c"},null,{"price":null}]}}`,
	`{"id":"sub_1","object":"subscription","items":{"data":["si_1"]}}`,
	`{"id":"sub_1","object":"subscription","items":null,"customer":null}`,
	`{"id":"sub_1","object":"subscription","created":null}`,
	`{"id":"re_1","object":"refund","amount":500,"status":"succeeded","created":1700000000,"charge":"ch_1"}`,
	`{"id":"re_1","object":"refund","charge":{"id":"ch_1","object":"charge"}}`,
	`{"id":"re_1","object":"refund","charge":12}`,
	`{"id":"re_1","object":"refund","amount":"5"}`,
	`  {"id":"re_1","object":"refund"}  ` + "\r",
	`{"id":"dp_1","object":"dispute","amount":1000,"balance_transactions":[],"charge":"ch_1","created":1700000000,"currency":"usd","evidence":{"receipt":null},"is_charge_refundable":false,"livemode":false,"metadata":{},"payment_intent":null,"reason":"fraudulent","status":"lost"}`,
	`{"id":"dp_1","object":"dispute","amount":5,"charge":null,"currency":"EUR","status":"warning_needs_response"}`,
	`{"id":"dp_1","object":"dispute","charge":{"id":"ch_1","object":"charge","amount":5}}`,
	`{"id":"dp_1","object":"dispute","amount":-5,"status":"needs_response","Status":"won"}`,
	`{"id":"dp_1","object":"dispute","amount":"5"}`,
	`{"id":"dp_1","object":"dispute","created":1.5}`,
	`{"id":"cn_1","object":"credit_note","amount":1500,"created":1700000000,"currency":"usd","customer":"cus_1","invoice":"in_1","lines":{"object":"list","data":[],"has_more":false},"memo":null,"refund":"re_1","status":"issued","total":1500,"type":"post_payment","voided_at":null}`,
	`{"id":"cn_1","object":"credit_note","invoice":"in_1","refund":null,"status":"void","type":"pre_payment","amount":0}`,
	`{"id":"cn_1","object":"credit_note","invoice":{"id":"in_1","object":"invoice"},"refund":"re_1"}`,
	`{"id":"cn_1","object":"credit_note","refund":{"id":"re_1","object":"refund","amount":5}}`,
	`{"id":"cn_1","object":"credit_note","type":5}`,
	`{"id":"cn_1","object":"credit_note","amount":1,"amount":2}`,
	`{"id":"cn_1","object":"credit_note","invoice":"in_\u0031"}`,
	`[1]`,
	`{`,
	`{"id":"cus_1","object":"customer","x":[[[[[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]]]]]}`,
	strings.Repeat(`{"a":`, 1200) + `1` + strings.Repeat(`}`, 1200),
	// Keys that repeat (ambiguous money), in any case, at any depth, in any
	// object type; metadata keys differing in case are distinct.
	`{"id":"in_1","object":"invoice","amount_paid":1500,"amount_paid":150000000}`,
	`{"id":"in_1","object":"invoice","amount_paid":1500,"Amount_Paid":150000000}`,
	`{"id":"in_1","object":"invoice","status_transitions":{"paid_at":1,"paid_at":2}}`,
	`{"id":"re_1","object":"refund","amount":1,"metadata":{"k":"a","k":"b"}}`,
	`{"id":"re_1","object":"refund","amount":1,"metadata":{"K":"a","k":"b"}}`,
	`{"id":"ch_1","object":"charge","amount":1,"amount":2}`,
}

func TestLeanMatchesStripeGoLineByLine(t *testing.T) {
	for i, line := range leanCases {
		checkSame(t, fmt.Sprintf("case %d %.60s", i, line), []byte(line+"\n"))
	}
	// All together, with repeats and blank lines, and without a final newline.
	all := strings.Join(leanCases[:27], "\n\n") + "\n" + leanCases[0]
	checkSame(t, "all", []byte(all))
	ok := `{"id":"cus_1","object":"customer"}` + "\n" + `{"id":"in_1","object":"invoice"}` + "\n" +
		`{"id":"in_1","object":"invoice"}` + "\n" + `{"id":"cus_1","object":"customer"}` + "\n{bad\n"
	checkSame(t, "repeat before a bad line", []byte(ok))
	two := `{"id":"dp_1","object":"dispute"}` + "\n" + `{"id":"cn_1","object":"credit_note"}` + "\n" + `{"id":"dp_1","object":"credit_note"}` + "\n"
	checkSame(t, "a dispute and a credit note may share an id", []byte(two))
	checkSame(t, "repeated credit note", []byte(two+`{"id":"cn_1","object":"credit_note","amount":5}`+"\n"))
	checkSame(t, "bad line before a repeat", []byte(`{"id":"cus_1","object":"customer"}`+"\n{bad\n"+`{"id":"cus_1","object":"customer"}`+"\n"))
}

func TestLeanRepeatAcrossBlocks(t *testing.T) {
	var b bytes.Buffer
	for i := 0; b.Len() < 3*blockBytes; i++ {
		fmt.Fprintf(&b, `{"id":"cus_%d","object":"customer","email":"u%d@example.com"}`+"\n", i, i)
	}
	b.WriteString(`{"id":"cus_7","object":"customer"}` + "\n")
	checkSame(t, "repeat in a later block", b.Bytes())
}

func FuzzLeanMatchesStripeGo(f *testing.F) {
	for _, c := range leanCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, line string) {
		checkSame(t, "fuzz", []byte(line))
	})
}

// Blocks' buffers are recycled once decoded: lines cut at block ends, and
// lines longer than a block (which take a buffer of their own) in between,
// read as the stripe-go path reads them.
func TestRecycledBlocksAndLongLines(t *testing.T) {
	var b bytes.Buffer
	for i := 0; b.Len() < 12*blockBytes; i++ {
		switch {
		case i%5000 == 2500: // a customer line longer than a block
			fmt.Fprintf(&b, `{"id":"cus_long%d","object":"customer","email":"%s"}`+"\n", i, strings.Repeat("z", blockBytes+i%977))
		case i%3 == 0:
			fmt.Fprintf(&b, `{"id":"cus_%d","object":"customer","email":"u%d@example.com","pad":"%s"}`+"\n", i, i, strings.Repeat("p", i%301))
		case i%3 == 1:
			fmt.Fprintf(&b, `{"id":"in_%d","object":"invoice","status":"paid","currency":"usd","amount_paid":%d,"customer":"cus_%d","status_transitions":{"paid_at":%d},"lines":{"data":[{"price":{"id":"price_%d"}}]}}`+"\n", i, 100+i, i-1, 1700000000+i, i%7)
		default:
			fmt.Fprintf(&b, `{"id":"re_%d","object":"refund","amount":%d,"status":"succeeded","created":%d,"charge":"ch_%d"}`+"\n", i, i%500, 1700000000+i, i)
		}
	}
	checkSame(t, "recycled blocks", b.Bytes())
}

// TestKeyBitFoldsCase checks the property object's key filter relies on:
// keys equal under bytes.EqualFold have the same bit, for every printable
// ASCII byte at either end.
func TestKeyBitFoldsCase(t *testing.T) {
	swap := func(c byte) byte {
		switch {
		case 'a' <= c && c <= 'z':
			return c - 0x20
		case 'A' <= c && c <= 'Z':
			return c + 0x20
		}
		return c
	}
	for first := byte(0x20); first < 0x7f; first++ {
		for _, last := range []byte("aZ_0\"x.") {
			for _, mid := range []string{"", "m", "Mid_Key"} {
				k := []byte(string(first) + mid + string(last))
				folded := []byte(string(swap(first)) + mid + string(swap(last)))
				if !bytes.EqualFold(k, folded) {
					t.Fatalf("%q and %q: not equal under EqualFold", k, folded)
				}
				if keyBit(k) != keyBit(folded) || keyBit(k) >= 128 {
					t.Errorf("keyBit(%q) = %d, keyBit(%q) = %d", k, keyBit(k), folded, keyBit(folded))
				}
			}
		}
	}
	if keyBit(nil) != 0 {
		t.Errorf("keyBit of the empty key = %d", keyBit(nil))
	}
}
