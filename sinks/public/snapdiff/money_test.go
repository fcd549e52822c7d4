package snapdiff

import (
	"encoding/json"
	"fmt"
	"testing"
)

// compactMoney, the money objects' fast path, gives what encoding/json
// gives for the text the publisher writes, and leaves every other text to
// it (then it says false).
func TestCompactMoneyIsJSONs(t *testing.T) {
	// Each text, and whether the fast path reads it.
	texts := map[string]bool{
		`{"currency":"usd","amount":"0"}`:                   true,
		`{"currency":"jpy","amount":"123456789012345678"}`:  true,
		`{"currency":"usd","amount":"1234567890123456789"}`: false, // 19 digits: left to ParseInt
		`{"currency":"usd","amount":"-5"}`:                  false,
		`{"currency":"usd", "amount":"5"}`:                  false,
		`{"amount":"5","currency":"usd"}`:                   false,
		`{"currency":"USD","amount":"5"}`:                   false,
		`{"currency":"usd","amount":"5","x":1}`:             false,
		`{"currency":"","amount":"5"}`:                      false,
		`{"currency":"usd","amount":""}`:                    false,
		`{"currency":"usd","amount":"5"} `:                  false,
	}
	for in, fast := range texts {
		c := struct {
			in   string
			fast bool
		}{in, fast}
		n, ok := compactMoney([]byte(c.in))
		if ok != c.fast {
			t.Errorf("compactMoney(%s) ok = %v, want %v", c.in, ok, c.fast)
		}
		var want moneyValue
		werr := json.Unmarshal([]byte(c.in), &want)
		var got moneyValue
		gerr := got.UnmarshalJSON([]byte(c.in))
		if (werr == nil) != (gerr == nil) || got != want {
			t.Errorf("%s: UnmarshalJSON %d, %v; encoding/json %d, %v", c.in, got, gerr, want, werr)
		}
		if ok && int64(want) != n {
			t.Errorf("%s: compactMoney %d, encoding/json %d", c.in, n, want)
		}
	}
	for _, in := range []string{`7`, `-3`, ` 7`, `7.0`, `{"currency":"usd","amount":"42"}`, `"x"`} {
		var want int64
		werr := json.Unmarshal([]byte(in), &want)
		if werr != nil {
			var m moneyValue
			werr = json.Unmarshal([]byte(in), &m)
			want = int64(m)
		}
		got, gerr := parseScore(json.RawMessage(in))
		if (werr == nil) != (gerr == nil) || got != want {
			t.Errorf("parseScore(%s) = %d, %v; encoding/json %d, %v", in, got, gerr, want, werr)
		}
	}
}

// benchPage is a leaderboard page of 25 entries as the publisher writes it.
func benchPage() []byte {
	b := []byte(`{"cycleId":"synth-2026-01","status":"closed","asOf":"2026-07-15T00:00:00Z","entries":[`)
	for i := range 25 {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"rank":%d,"refcode":"REF-%d","score":{"currency":"usd","amount":"%d"},"referrals":12,"conversions":7,"pendingConversions":1,`+
			`"revenue":{"currency":"usd","amount":"%d"},"pendingRevenue":{"currency":"usd","amount":"1999"},"qualified":true,"finalScoreBoost":null,`+
			`"award":{"currency":"usd","amount":"%d"},"adminAction":null}`, i+1, i, 100000-i, 100000-i, 5000-i)
	}
	return append(b, `],"pageContext":{"page":1,"recordsPerPage":25,"totalRecords":25000,"totalPages":1000,"hasNext":true,"hasPrev":false}}`...)
}

// BenchmarkAppendPage decodes one leaderboard page: the comparison with the
// previous snapshot decodes about 15,000 of them at 1M referrers.
func BenchmarkAppendPage(b *testing.B) {
	page := benchPage()
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	var out []Entry
	for b.Loop() {
		var err error
		if out, _, err = appendPage(out[:0], page); err != nil || len(out) != 25 {
			b.Fatal(err, len(out))
		}
	}
}
