package public

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/refrecon/refrecon/pipeline"
)

var appendStrings = []string{"", "usd", "REF-1", "a\"b", `back\slash`, "<b>&amp;</b>", "tab\there", "new\nline",
	"caf\u00e9", "\u2028\u2029", "bad\xffutf8", "\x7f", "emoji 🎉", "ok_plain-text 123"}

func randomEntry(r *rand.Rand) entry {
	pick := func() string { return appendStrings[r.IntN(len(appendStrings))] }
	m := func() pipeline.Money { return pipeline.Money{Currency: pick(), Amount: r.Int64N(1e12) - 1e6} }
	e := entry{Rank: r.IntN(1000), Refcode: pick(), metrics: metrics{
		Score:     score{money: r.IntN(2) == 0, m: m()},
		Referrals: r.Int64N(100), Conversions: r.Int64N(100), PendingConversions: r.Int64N(10),
		Revenue: m(), PendingRevenue: m(), Qualified: r.IntN(2) == 0, Award: m(),
	}}
	if r.IntN(2) == 0 {
		e.FinalScoreBoost = &boost{num: r.Int64N(10), den: r.Int64N(10)}
	}
	if r.IntN(3) == 0 {
		e.AdminAction = &adminAction{ActionType: pipeline.AdminActionType(pick()), Reason: pick()}
	}
	return e
}

// TestAppendMatches checks the hand-written documents byte for byte against
// encoding/json's rendering of the same structs.
func TestAppendMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		e := randomEntry(r)
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("entry:\n got %s\nwant %s", got, want)
		}

		rc := referrerCycle{Type: "unranked", metrics: e.metrics}
		if r.IntN(2) == 0 {
			rank := e.Rank
			rc.Type, rc.Rank = "ranked", &rank
		}
		want, err = json.Marshal(rc)
		if err != nil {
			t.Fatal(err)
		}
		if got := rc.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("referrer cycle:\n got %s\nwant %s", got, want)
		}

		rf := referrerFile{refcode: e.Refcode, cycles: []namedCycle{{id: "c-1", v: rc}, {id: "c<2>", v: rc}}}
		wantRF := `{"refcode":` + mustJSON(t, rf.refcode) + `,"cycles":{"c-1":` + string(want) + `,` + mustJSON(t, "c<2>") + `:` + string(want) + `}}`
		if got := rf.appendJSON(nil); string(got) != wantRF {
			t.Fatalf("referrer file:\n got %s\nwant %s", got, wantRF)
		}
	}
	for n := 0; n < 4; n++ {
		p := leaderboardPage{CycleID: "cycle-1", Status: pipeline.Status(appendStrings[n]), AsOf: "2026-01-01T00:00:00Z",
			PageContext: pageContext{Page: n, RecordsPerPage: 25, TotalRecords: 3 * n, TotalPages: n + 1, HasNext: n%2 == 0, HasPrev: n > 1}}
		if n > 0 {
			p.Entries = []entry{}
		}
		for k := 1; k < n; k++ {
			p.Entries = append(p.Entries, randomEntry(r))
		}
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("page:\n got %s\nwant %s", got, want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
