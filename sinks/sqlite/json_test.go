package sqlite

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/refrecon/refrecon/sinks/warehouse"
)

// The hand-written JSON of repeated fields is byte for byte what
// encoding/json gives (with times in UTC), as the file held before.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `quote " backslash \ tab 	`, "<b>&amp;</b>", "Ünïcødé-引荐-🎉", "\u2028\u2029", "bad \xff utf8", "del \x7f", "nl \n cr \r"}
	ist := time.FixedZone("IST", 5*3600+1800)
	convs := []warehouse.Conversion{
		{CycleID: "cycle-1", ConvertedAt: time.Unix(1772755200, 0).In(ist), InvoiceID: "in_<1>", Pending: true, Reason: "pending_hold"},
		{CycleID: "é", ConvertedAt: time.Unix(1772755200, 123456789), RewardEligible: true},
		{},
	}
	for _, s := range strs {
		convs = append(convs, warehouse.Conversion{CycleID: s, InvoiceID: s, Reason: s})
	}
	var e encoder
	for _, v := range []any{strs, convs, []string{}, []warehouse.Conversion(nil), []int{1, 2}} {
		rv := reflect.ValueOf(v)
		got, err := e.appendJSON(nil, rv)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(utcCopy(rv).Interface())
		if err != nil {
			t.Fatal(err)
		}
		if rv.Len() == 0 {
			want = []byte("[]")
		}
		if string(got) != string(want) {
			t.Errorf("appendJSON(%T)\n got %s\nwant %s", v, got, want)
		}
	}
}
