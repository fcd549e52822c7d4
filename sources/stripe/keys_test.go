package stripe_test

import (
	"strings"
	"testing"

	stripesrc "github.com/refrecon/refrecon/sources/stripe"
)

func TestCheckKeys(t *testing.T) {
	for _, tc := range []struct{ obj, wantErr string }{
		{`{"id":"in_1","amount_paid":1500}`, ""},
		{`{"id":"in_1","amount_paid":1500,"amount_paid":150000000}`, `key "amount_paid" appears twice`},
		{`{"id":"in_1","amount_paid":1500,"AMOUNT_PAID":150000000}`, `key "AMOUNT_PAID" appears twice`},
		{`{"id":"in_1","amount_paid":1500,"amount\u005fpaid":150000000}`, `key "amount_paid" appears twice`},
		{`{"status_transitions":{"paid_at":1,"paid_at":2}}`, `key "paid_at" appears twice in status_transitions`},
		{`{"lines":{"data":[{"price":{"id":"a"}},{"price":{"id":"a","id":"b"}}]}}`, `key "id" appears twice in lines.data[1].price`},
		{`{"object":"invoice","object":"charge"}`, `key "object" appears twice`},
		// The same key in different objects is no repeat.
		{`{"id":"in_1","customer":{"id":"cus_1"},"lines":[{"id":"il_1"},{"id":"il_2"}]}`, ""},
		// Metadata decodes into a map: keys differing in case are different keys...
		{`{"metadata":{"Plan":"a","plan":"b"}}`, ""},
		// ... but the same key twice is still ambiguous.
		{`{"metadata":{"plan":"a","plan":"b"}}`, `key "plan" appears twice in metadata`},
		// Syntax errors are the decoder's to report.
		{`{"id":`, ""},
	} {
		err := stripesrc.CheckKeys([]byte(tc.obj))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("CheckKeys(%s) = %v, want nil", tc.obj, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("CheckKeys(%s) = %v, want %q", tc.obj, err, tc.wantErr)
		}
	}
}
