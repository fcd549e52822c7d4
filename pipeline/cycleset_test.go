package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/cycleset")

// csBase is a valid two-cycle set; the table tests below break it with one
// textual replacement each.
const csBase = `[
 {"id": "cycle-a", "displayName": "Cycle A", "rulesUrl": "https://example.com/a/rules",
  "rules": {"awardModel": "pie-split",
   "startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-31T23:59:59Z",
   "currency": "usd", "awardPool": {"currency": "usd", "amount": "1000000"},
   "maxQualifiedReferrers": 10, "scoreBy": "conversions",
   "eligiblePlans": ["price_1"], "holdDays": 30, "attributionDays": 365, "minPaymentsToConvert": 1,
   "areAwardsDistributed": false,
   "adminActions": [{"actionType": "Warning", "refcode": "REF1", "reason": "spam"}]}},
 {"id": "cycle-b", "displayName": "Cycle B", "rulesUrl": "https://example.com/b/rules",
  "rules": {"awardModel": "rev-share-cap",
   "startTime": "2026-02-01T00:00:00Z", "endTime": "2026-02-28T23:59:59Z",
   "currency": "usd", "awardPool": {"currency": "usd", "amount": "500000"},
   "minQualifyingRevenue": {"currency": "usd", "amount": "10000"}, "revenueShareBps": 1000,
   "eligiblePlans": [], "holdDays": 0, "attributionDays": null, "minPaymentsToConvert": 2,
   "areAwardsDistributed": true, "adminActions": []}}
]`

// csMutate applies replacements to csBase in order; each old string must
// occur in the document.
func csMutate(t *testing.T, pairs ...string) []byte {
	t.Helper()
	doc := csBase
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(doc, pairs[i]) {
			t.Fatalf("test bug: %q is not in the base document", pairs[i])
		}
		doc = strings.Replace(doc, pairs[i], pairs[i+1], 1)
	}
	return []byte(doc)
}

func TestDecodeCycleSetBaseIsValid(t *testing.T) {
	set, err := DecodeCycleSet([]byte(csBase))
	if err != nil {
		t.Fatalf("base document: %v", err)
	}
	if len(set.Cycles) != 2 {
		t.Fatalf("got %d cycles, want 2", len(set.Cycles))
	}
}

func TestDecodeCycleSetProblems(t *testing.T) {
	long := strings.Repeat("a", 65)
	tests := []struct {
		name    string
		replace []string // old, new, old, new...
		want    []string // "path: message substring", in document order
	}{
		// ids
		{"id uppercase", []string{`"cycle-a"`, `"Cycle-A"`}, []string{`[0].id: must match ^[a-z0-9]+(-[a-z0-9]+)*$`}},
		{"id underscore", []string{`"cycle-a"`, `"cycle_a"`}, []string{`[0].id: must match`}},
		{"id trailing dash", []string{`"cycle-a"`, `"cycle-"`}, []string{`[0].id: must match`}},
		{"id double dash", []string{`"cycle-a"`, `"cycle--a"`}, []string{`[0].id: must match`}},
		{"id empty", []string{`"cycle-a"`, `""`}, []string{`[0].id: must match`}},
		{"id not a string", []string{`"cycle-a"`, `7`}, []string{`[0].id: must be a string, got number 7`}},
		{"id too long", []string{`"cycle-a"`, `"` + long + `"`}, []string{`[0].id: must be at most 64 characters, got 65`}},
		{"id duplicate", []string{`"cycle-b"`, `"cycle-a"`}, []string{`[1].id: duplicate id "cycle-a" (also [0].id)`}},

		// names and URLs
		{"displayName empty", []string{`"Cycle A"`, `""`}, []string{`[0].displayName: must not be empty`}},
		{"displayName blank", []string{`"Cycle A"`, `"  "`}, []string{`[0].displayName: must not be empty`}},
		{"displayName null", []string{`"Cycle A"`, `null`}, []string{`[0].displayName: must be a string, got null`}},
		{"rulesUrl relative", []string{`"https://example.com/a/rules"`, `"/a/rules"`}, []string{`[0].rulesUrl: must be an absolute http or https URL`}},
		{"rulesUrl no scheme", []string{`"https://example.com/a/rules"`, `"example.com/a/rules"`}, []string{`[0].rulesUrl: must be an absolute http or https URL`}},
		{"rulesUrl ftp", []string{`"https://example.com/a/rules"`, `"ftp://example.com/a"`}, []string{`[0].rulesUrl: must be an absolute http or https URL`}},
		{"rulesUrl no host", []string{`"https://example.com/a/rules"`, `"https:///a"`}, []string{`[0].rulesUrl: must be an absolute http or https URL`}},
		{"rulesUrl opaque", []string{`"https://example.com/a/rules"`, `"https:example.com"`}, []string{`[0].rulesUrl: must be an absolute http or https URL`}},
		{"rulesUrl unparsable", []string{`"https://example.com/a/rules"`, `"https://exa mple.com/"`}, []string{`[0].rulesUrl: must be an absolute http or https URL`}},
		{"rulesUrl credentials", []string{`"https://example.com/a/rules"`, `"https://u:p@example.com/"`}, []string{`[0].rulesUrl: must not contain credentials`}},

		// times and windows
		{"startTime date only", []string{`"2026-01-01T00:00:00Z"`, `"2026-01-01"`}, []string{`[0].rules.startTime: must be an RFC 3339 time`}},
		{"startTime no zone", []string{`"2026-01-01T00:00:00Z"`, `"2026-01-01T00:00:00"`}, []string{`[0].rules.startTime: must be an RFC 3339 time`}},
		{"endTime number", []string{`"2026-01-31T23:59:59Z"`, `1767225599`}, []string{`[0].rules.endTime: must be a string, got number 1767225599`}},
		{"time out of range in UTC", []string{`"2026-01-01T00:00:00Z"`, `"0001-01-01T00:00:00+01:00"`}, []string{`[0].rules.startTime: must be between years 0001 and 9999`}},
		{"startTime offset +24:00", []string{`"2026-01-01T00:00:00Z"`, `"2026-01-01T00:00:00+24:00"`}, []string{`[0].rules.startTime: must be an RFC 3339 time`}},
		{"endTime offset minute 60", []string{`"2026-01-31T23:59:59Z"`, `"2026-01-31T23:59:59-00:60"`}, []string{`[0].rules.endTime: must be an RFC 3339 time`}},
		{"settlesAt past year 9999", []string{`"2026-02-28T23:59:59Z"`, `"9999-12-31T00:00:00Z"`, `"holdDays": 0`, `"holdDays": 1`},
			[]string{`[1].rules.holdDays: endTime 9999-12-31T00:00:00Z + 1 days passes 9999-12-31T23:59:59Z`}},
		{"end before start", []string{`"2026-01-31T23:59:59Z"`, `"2025-12-31T23:59:59Z"`}, []string{`[0].rules.endTime: must not be before startTime (2026-01-01T00:00:00Z)`}},
		{"overlap touching instant", []string{`"2026-02-01T00:00:00Z"`, `"2026-01-31T23:59:59Z"`},
			[]string{`[1]: window 2026-01-31T23:59:59Z to 2026-02-28T23:59:59Z overlaps cycle [0] "cycle-a"`}},
		{"overlap touching instant across zones", []string{`"2026-02-01T00:00:00Z"`, `"2026-02-01T00:59:59+01:00"`},
			[]string{`[1]: window 2026-01-31T23:59:59Z to`}},
		{"overlap contained", []string{`"2026-02-01T00:00:00Z"`, `"2026-01-10T00:00:00Z"`, `"2026-02-28T23:59:59Z"`, `"2026-01-11T00:00:00Z"`},
			[]string{`[1]: window 2026-01-10T00:00:00Z to 2026-01-11T00:00:00Z overlaps cycle [0] "cycle-a"`}},
		{"overlap reported on the later cycle in the document", []string{`"2026-01-01T00:00:00Z"`, `"2026-02-15T00:00:00Z"`, `"2026-01-31T23:59:59Z"`, `"2026-03-15T00:00:00Z"`},
			[]string{`[1]: window 2026-02-01T00:00:00Z to 2026-02-28T23:59:59Z overlaps cycle [0] "cycle-a" (2026-02-15T00:00:00Z to 2026-03-15T00:00:00Z)`}},

		// unknown and duplicate keys at every level
		{"unknown key in cycle", []string{`"id": "cycle-a",`, `"id": "cycle-a", "owner": "x",`}, []string{`[0].owner: unknown key`}},
		{"unknown key in rules", []string{`"holdDays": 30,`, `"holdDays": 30, "holdHours": 1,`}, []string{`[0].rules.holdHours: unknown key`}},
		{"unknown key with odd name", []string{`"holdDays": 30,`, `"holdDays": 30, "hold days": 1,`}, []string{`[0].rules["hold days"]: unknown key`}},
		{"unknown key in awardPool", []string{`"amount": "1000000"`, `"amount": "1000000", "decimals": 2`}, []string{`[0].rules.awardPool.decimals: unknown key`}},
		{"unknown key in minQualifyingRevenue", []string{`"amount": "10000"`, `"amount": "10000", "x": null`}, []string{`[1].rules.minQualifyingRevenue.x: unknown key`}},
		{"unknown key in admin action", []string{`"reason": "spam"`, `"reason": "spam", "by": "ops"`}, []string{`[0].rules.adminActions[0].by: unknown key`}},
		{"unknown key case differs", []string{`"holdDays": 30,`, `"HoldDays": 30,`}, []string{`[0].rules.HoldDays: unknown key`, `[0].rules.holdDays: required key is missing`}},
		{"duplicate key in cycle", []string{`"displayName": "Cycle A",`, `"displayName": "Cycle A", "displayName": "Other",`}, []string{`[0].displayName: duplicate key`}},
		{"duplicate key in rules", []string{`"holdDays": 30,`, `"holdDays": 30, "holdDays": 31,`}, []string{`[0].rules.holdDays: duplicate key`}},
		{"duplicate key in money", []string{`"amount": "1000000"`, `"amount": "1000000", "amount": "1"`}, []string{`[0].rules.awardPool.amount: duplicate key`}},

		// award models and their keys
		{"unknown award model", []string{`"pie-split"`, `"winner-takes-all"`}, []string{`[0].rules.awardModel: unknown award model "winner-takes-all"; want "pie-split" or "rev-share-cap"`}},
		{"award model wrong case", []string{`"rev-share-cap"`, `"Rev-Share-Cap"`}, []string{`[1].rules.awardModel: unknown award model`}},
		{"award model missing", []string{`"awardModel": "pie-split",`, ``}, []string{`[0].rules.awardModel: required key is missing`}},
		{"pie-split with revenueShareBps", []string{`"scoreBy": "conversions",`, `"scoreBy": "conversions", "revenueShareBps": 100,`},
			[]string{`[0].rules.revenueShareBps: not allowed for award model "pie-split"`}},
		{"pie-split with minQualifyingRevenue", []string{`"scoreBy": "conversions",`, `"scoreBy": "conversions", "minQualifyingRevenue": {"currency": "usd", "amount": "1"},`},
			[]string{`[0].rules.minQualifyingRevenue: not allowed for award model "pie-split"`}},
		{"rev-share-cap with scoreBy and maxQualifiedReferrers", []string{`"revenueShareBps": 1000,`, `"revenueShareBps": 1000, "scoreBy": "revenue", "maxQualifiedReferrers": 3,`},
			[]string{`[1].rules.scoreBy: not allowed for award model "rev-share-cap"`, `[1].rules.maxQualifiedReferrers: not allowed for award model "rev-share-cap"`}},
		{"pie-split missing its keys", []string{`"awardPool": {"currency": "usd", "amount": "1000000"},
   "maxQualifiedReferrers": 10, "scoreBy": "conversions",`, ``},
			[]string{`[0].rules.awardPool: required key is missing`, `[0].rules.maxQualifiedReferrers: required key is missing`, `[0].rules.scoreBy: required key is missing`}},
		{"rev-share-cap missing its keys", []string{`"minQualifyingRevenue": {"currency": "usd", "amount": "10000"}, "revenueShareBps": 1000,`, ``},
			[]string{`[1].rules.minQualifyingRevenue: required key is missing`, `[1].rules.revenueShareBps: required key is missing`}},
		{"scoreBy unknown", []string{`"conversions"`, `"referrals"`}, []string{`[0].rules.scoreBy: must be "conversions" or "revenue", got "referrals"`}},

		// money
		{"amount negative", []string{`"1000000"`, `"-1"`}, []string{`[0].rules.awardPool.amount: must be a non-negative integer string, got "-1"`}},
		{"amount plus sign", []string{`"1000000"`, `"+1"`}, []string{`[0].rules.awardPool.amount: must be a non-negative integer string`}},
		{"amount decimal", []string{`"1000000"`, `"10000.00"`}, []string{`[0].rules.awardPool.amount: must be a non-negative integer string, got "10000.00"`}},
		{"amount exponent", []string{`"1000000"`, `"1e6"`}, []string{`[0].rules.awardPool.amount: must be a non-negative integer string`}},
		{"amount spaces", []string{`"1000000"`, `" 1000000"`}, []string{`[0].rules.awardPool.amount: must be a non-negative integer string`}},
		{"amount empty", []string{`"1000000"`, `""`}, []string{`[0].rules.awardPool.amount: must be a non-negative integer string`}},
		{"amount leading zero", []string{`"1000000"`, `"01000000"`}, []string{`[0].rules.awardPool.amount: must be a non-negative integer string without leading zeros`}},
		{"amount not a string", []string{`"1000000"`, `1000000`}, []string{`[0].rules.awardPool.amount: must be a non-negative integer string, got number 1000000`}},
		{"amount overflow", []string{`"1000000"`, `"9223372036854775808"`}, []string{`[0].rules.awardPool.amount: must be a non-negative integer string of at most 9223372036854775807`}},
		{"amount missing", []string{`"currency": "usd", "amount": "1000000"`, `"currency": "usd"`}, []string{`[0].rules.awardPool.amount: required key is missing`}},
		{"money not an object", []string{`{"currency": "usd", "amount": "1000000"}`, `"1000000"`}, []string{`[0].rules.awardPool: must be an object, got string "1000000"`}},
		{"money currency differs from cycle", []string{`"awardPool": {"currency": "usd"`, `"awardPool": {"currency": "eur"`},
			[]string{`[0].rules.awardPool.currency: must equal the cycle's currency "usd", got "eur"`}},
		{"minQualifyingRevenue currency differs", []string{`"minQualifyingRevenue": {"currency": "usd"`, `"minQualifyingRevenue": {"currency": "gbp"`},
			[]string{`[1].rules.minQualifyingRevenue.currency: must equal the cycle's currency "usd", got "gbp"`}},
		{"cycle currency differs from its money", []string{`"currency": "usd", "awardPool"`, `"currency": "eur", "awardPool"`},
			[]string{`[0].rules.awardPool.currency: must equal the cycle's currency "eur", got "usd"`}},
		{"currency uppercase", []string{`"currency": "usd", "awardPool"`, `"currency": "USD", "awardPool"`}, []string{`[0].rules.currency: must be a lowercase three-letter ISO 4217 code`}},
		{"currency too long", []string{`"currency": "usd", "awardPool"`, `"currency": "usdc", "awardPool"`}, []string{`[0].rules.currency: must be a lowercase three-letter`}},
		{"money currency invalid", []string{`"awardPool": {"currency": "usd"`, `"awardPool": {"currency": "$"`}, []string{`[0].rules.awardPool.currency: must be a lowercase three-letter`}},

		// common rules
		{"holdDays negative", []string{`"holdDays": 30`, `"holdDays": -1`}, []string{`[0].rules.holdDays: must be an integer between 0 and 36500, got -1`}},
		{"holdDays fraction", []string{`"holdDays": 30`, `"holdDays": 30.5`}, []string{`[0].rules.holdDays: must be an integer between 0 and 36500, got number 30.5`}},
		{"holdDays exponent", []string{`"holdDays": 30`, `"holdDays": 3e1`}, []string{`[0].rules.holdDays: must be an integer`}},
		{"holdDays string", []string{`"holdDays": 30`, `"holdDays": "30"`}, []string{`[0].rules.holdDays: must be an integer between 0 and 36500, got string "30"`}},
		{"holdDays huge", []string{`"holdDays": 30`, `"holdDays": 99999999999999999999`}, []string{`[0].rules.holdDays: must be an integer between 0 and 36500, got 99999999999999999999`}},
		{"attributionDays zero", []string{`"attributionDays": 365`, `"attributionDays": 0`}, []string{`[0].rules.attributionDays: must be an integer between 1 and 36500, got 0`}},
		{"attributionDays missing", []string{`"attributionDays": null, `, ``}, []string{`[1].rules.attributionDays: required key is missing`}},
		{"minPaymentsToConvert zero", []string{`"minPaymentsToConvert": 1`, `"minPaymentsToConvert": 0`}, []string{`[0].rules.minPaymentsToConvert: must be an integer of at least 1, got 0`}},
		{"maxQualifiedReferrers negative", []string{`"maxQualifiedReferrers": 10`, `"maxQualifiedReferrers": -1`}, []string{`[0].rules.maxQualifiedReferrers: must be an integer between 0 and 1000000, got -1`}},
		{"revenueShareBps negative", []string{`"revenueShareBps": 1000`, `"revenueShareBps": -1`}, []string{`[1].rules.revenueShareBps: must be an integer between 0 and 10000, got -1`}},
		{"revenueShareBps above 10000", []string{`"revenueShareBps": 1000`, `"revenueShareBps": 10001`}, []string{`[1].rules.revenueShareBps: must be an integer between 0 and 10000, got 10001`}},
		{"revenueShareBps fraction", []string{`"revenueShareBps": 1000`, `"revenueShareBps": 12.5`}, []string{`[1].rules.revenueShareBps: must be an integer between 0 and 10000, got number 12.5`}},
		{"eligiblePlans empty string", []string{`["price_1"]`, `["price_1", ""]`}, []string{`[0].rules.eligiblePlans[1]: must not be empty`}},
		{"eligiblePlans not strings", []string{`["price_1"]`, `[1]`}, []string{`[0].rules.eligiblePlans[0]: must be a string, got number 1`}},
		{"eligiblePlans not an array", []string{`["price_1"]`, `"price_1"`}, []string{`[0].rules.eligiblePlans: must be an array of strings`}},
		{"areAwardsDistributed string", []string{`"areAwardsDistributed": false`, `"areAwardsDistributed": "false"`}, []string{`[0].rules.areAwardsDistributed: must be a boolean, got string "false"`}},
		{"rules not an object", []string{`"rules": {"awardModel": "pie-split",`, `"rules": [], "x": {"awardModel": "pie-split",`},
			[]string{`[0].rules: must be an object, got an array`, `[0].x: unknown key`}},

		// admin actions
		{"admin action duplicate refcode", []string{`"reason": "spam"}]`, `"reason": "spam"}, {"actionType": "Disqualification", "refcode": "REF1", "reason": "fraud"}]`},
			[]string{`[0].rules.adminActions[1].refcode: duplicate admin action for refcode "REF1" (first at [0].rules.adminActions[0])`}},
		{"admin action reason untrimmed", []string{`"reason": "spam"`, `"reason": "spam "`}, []string{`[0].rules.adminActions[0].reason: must not have leading or trailing whitespace, got "spam "`}},
		{"admin action reason newline", []string{`"reason": "spam"`, `"reason": "\nspam"`}, []string{`[0].rules.adminActions[0].reason: must not have leading or trailing whitespace`}},
		{"admin action reason empty", []string{`"reason": "spam"`, `"reason": ""`}, []string{`[0].rules.adminActions[0].reason: must not be empty`}},
		{"admin action refcode empty", []string{`"refcode": "REF1"`, `"refcode": ""`}, []string{`[0].rules.adminActions[0].refcode: must not be empty`}},
		{"admin action type unknown", []string{`"Warning"`, `"warning"`}, []string{`[0].rules.adminActions[0].actionType: must be "Disqualification" or "Warning", got "warning"`}},
		{"admin action missing reason", []string{`, "reason": "spam"`, ``}, []string{`[0].rules.adminActions[0].reason: required key is missing`}},
		{"admin action not an object", []string{`[{"actionType": "Warning", "refcode": "REF1", "reason": "spam"}]`, `["REF1"]`},
			[]string{`[0].rules.adminActions[0]: must be an object, got string "REF1"`}},

		// missing keys
		{"cycle missing id", []string{`"id": "cycle-a", `, ``}, []string{`[0].id: required key is missing`}},
		{"cycle missing rules", []string{`, "rulesUrl": "https://example.com/b/rules",
  "rules": {"awardModel": "rev-share-cap",
   "startTime": "2026-02-01T00:00:00Z", "endTime": "2026-02-28T23:59:59Z",
   "currency": "usd", "awardPool": {"currency": "usd", "amount": "500000"},
   "minQualifyingRevenue": {"currency": "usd", "amount": "10000"}, "revenueShareBps": 1000,
   "eligiblePlans": [], "holdDays": 0, "attributionDays": null, "minPaymentsToConvert": 2,
   "areAwardsDistributed": true, "adminActions": []}`, ``},
			[]string{`[1].rulesUrl: required key is missing`, `[1].rules: required key is missing`}},
		{"rules missing currency", []string{`"currency": "usd", "awardPool": {"currency": "usd", "amount": "500000"}`, `"awardPool": {"currency": "usd", "amount": "500000"}`},
			[]string{`[1].rules.currency: required key is missing`}},
		{"rules missing adminActions", []string{`, "adminActions": []`, ``}, []string{`[1].rules.adminActions: required key is missing`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := DecodeCycleSet(csMutate(t, tt.replace...))
			csCheckProblems(t, set, err, tt.want)
		})
	}
}

// csCheckProblems asserts that err is a *CycleSetError whose problems match
// want ("path: message substring") one for one, in order.
func csCheckProblems(t *testing.T, set CycleSet, err error, want []string) {
	t.Helper()
	var cse *CycleSetError
	if !errors.As(err, &cse) {
		t.Fatalf("got set %+v, error %v; want a *CycleSetError", set, err)
	}
	if !reflect.DeepEqual(set, CycleSet{}) {
		t.Errorf("got a non-zero set along with an error: %+v", set)
	}
	if len(cse.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(cse.Problems), len(want), err)
	}
	for i, p := range cse.Problems {
		wantPath, wantMsg, _ := strings.Cut(want[i], ": ")
		if p.Path != wantPath || !strings.Contains(p.Message, wantMsg) {
			t.Errorf("problem %d = %q, want path %q and a message containing %q", i, p, wantPath, wantMsg)
		}
	}
}

func TestDecodeCycleSetDocumentProblems(t *testing.T) {
	deep := `[{"id": "x", "extra": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}]`
	tests := []struct {
		name string
		doc  []byte
		want string // the only problem
	}{
		{"empty", []byte(""), "$: invalid JSON: empty document"},
		{"whitespace", []byte("  \n"), "$: invalid JSON: empty document"},
		{"syntax error", []byte(`[{"id": "a",}]`), "$: invalid JSON: invalid character '}' looking for beginning of object key string (byte offset 12)"},
		{"truncated", []byte(`[{"id": "a"`), "$: invalid JSON: unexpected end of document (byte offset 11)"},
		{"missing comma", []byte(`[{} {}]`), "$: invalid JSON: invalid character '{' after array element (byte offset 4)"},
		{"trailing data", []byte(`[{}] []`), "$: invalid JSON: invalid character '[' after top-level value (byte offset 5)"},
		{"trailing garbage", []byte(`[{}] x`), "$: invalid JSON: invalid character 'x' after top-level value (byte offset 5)"},
		{"yaml", []byte("- id: cycle-1\n"), "$: invalid JSON: invalid character ' ' in numeric literal (byte offset 1)"},
		{"invalid utf-8", []byte("[{\"id\": \"a\xffb\"}]"), "$: invalid JSON: not valid UTF-8 at byte offset 10"},
		{"byte order mark", []byte("\ufeff[]"), "$: invalid JSON: invalid character 'ï' looking for beginning of value (byte offset 0)"},
		{"too deep", []byte(deep), "$: invalid JSON: nested deeper than 64 levels (byte offset 84)"},
		{"null", []byte("null"), "$: must be a JSON array of cycles, got null"},
		{"object", []byte(`{"cycles": []}`), "$: must be a JSON array of cycles, got an object"},
		{"cycle not an object", []byte(`[1]`), "[0]: must be an object, got number 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeCycleSet(tt.doc)
			var cse *CycleSetError
			if !errors.As(err, &cse) || len(cse.Problems) != 1 || cse.Problems[0].String() != tt.want {
				t.Fatalf("got error %v, want exactly %q", err, tt.want)
			}
		})
	}
}

func TestDecodeCycleSetTooLarge(t *testing.T) {
	doc := bytes.Repeat([]byte(" "), MaxCycleSetSize+1)
	_, err := DecodeCycleSet(doc)
	want := fmt.Sprintf("$: document is %d bytes; the limit is %d (32 MiB)", MaxCycleSetSize+1, MaxCycleSetSize)
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// A 10 MB set decodes (valid) or fails with a bounded list (every cycle
// invalid), without a panic.
func TestDecodeCycleSetLarge(t *testing.T) {
	var valid, invalid bytes.Buffer
	valid.WriteString("[")
	invalid.WriteString("[")
	start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	for ; valid.Len() < 10<<20; n++ {
		if n > 0 {
			valid.WriteString(",")
			invalid.WriteString(",")
		}
		s, e := start.Add(time.Duration(n)*time.Hour), start.Add(time.Duration(n)*time.Hour+time.Hour-time.Second)
		cycle := fmt.Sprintf(`{"id":"c-%d","displayName":"Cycle %d","rulesUrl":"https://example.com/%d",
"rules":{"awardModel":"pie-split","startTime":%q,"endTime":%q,"currency":"usd",
"awardPool":{"currency":"usd","amount":"1000000"},"maxQualifiedReferrers":10,"scoreBy":"conversions",
"eligiblePlans":["price_1","price_2"],"holdDays":30,"attributionDays":365,"minPaymentsToConvert":1,
"areAwardsDistributed":false,"adminActions":[{"actionType":"Warning","refcode":"R%d","reason":"spam"}]}}`,
			n, n, n, s.Format(time.RFC3339), e.Format(time.RFC3339), n)
		valid.WriteString(cycle)
		invalid.WriteString(strings.Replace(cycle, `"holdDays":30`, `"holdDays":-30`, 1))
	}
	valid.WriteString("]")
	invalid.WriteString("]")

	set, err := DecodeCycleSet(valid.Bytes())
	if err != nil {
		t.Fatalf("valid %d-byte set: %v", valid.Len(), firstLine(err))
	}
	if len(set.Cycles) != n {
		t.Fatalf("got %d cycles, want %d", len(set.Cycles), n)
	}

	_, err = DecodeCycleSet(invalid.Bytes())
	var cse *CycleSetError
	if !errors.As(err, &cse) {
		t.Fatalf("invalid set: got %v, want a *CycleSetError", err)
	}
	if got := len(cse.Problems); got != csMaxProblems+1 {
		t.Fatalf("got %d problems, want %d listed and one count", got, csMaxProblems)
	}
	if got, want := cse.Problems[0].String(), "[0].rules.holdDays: must be an integer between 0 and 36500, got -30"; got != want {
		t.Errorf("first problem %q, want %q", got, want)
	}
	if got, want := cse.Problems[csMaxProblems].String(), fmt.Sprintf("$: %d more problems not listed", n-csMaxProblems); got != want {
		t.Errorf("last problem %q, want %q", got, want)
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func TestDecodeCycleSetAccepts(t *testing.T) {
	tests := []struct {
		name    string
		replace []string
		check   func(t *testing.T, s CycleSet)
	}{
		{"largest amount", []string{`"1000000"`, `"9223372036854775807"`}, func(t *testing.T, s CycleSet) {
			if got := s.Cycles[0].Rules.AwardPool.Amount; got != 1<<63-1 {
				t.Errorf("amount %d", got)
			}
		}},
		{"zero amount", []string{`"1000000"`, `"0"`}, func(t *testing.T, s CycleSet) {
			if got := s.Cycles[0].Rules.AwardPool.Amount; got != 0 {
				t.Errorf("amount %d", got)
			}
		}},
		{"64-character id", []string{`"cycle-a"`, `"` + strings.Repeat("a", 64) + `"`}, nil},
		{"cycles one second apart", []string{`"2026-02-01T00:00:00Z"`, `"2026-02-01T00:00:00Z"`, `"2026-01-31T23:59:59Z"`, `"2026-01-31T23:59:58Z"`}, nil},
		{"single-instant cycle", []string{`"2026-01-31T23:59:59Z"`, `"2026-01-01T00:00:00Z"`}, nil},
		{"revenueShareBps bounds", []string{`"revenueShareBps": 1000`, `"revenueShareBps": 10000`}, nil},
		{"revenueShareBps zero", []string{`"revenueShareBps": 1000`, `"revenueShareBps": 0`}, nil},
		{"maxQualifiedReferrers zero", []string{`"maxQualifiedReferrers": 10`, `"maxQualifiedReferrers": 0`}, nil},
		{"time with offset is kept in UTC", []string{`"2026-01-01T00:00:00Z"`, `"2026-01-01T05:30:00+05:30"`}, func(t *testing.T, s CycleSet) {
			if got := s.Cycles[0].Rules.StartTime; !got.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || got.Location() != time.UTC {
				t.Errorf("startTime %v", got)
			}
		}},
		{"settlesAt on the last second", []string{`"2026-02-28T23:59:59Z"`, `"9999-12-30T23:59:59Z"`, `"holdDays": 0`, `"holdDays": 1`}, func(t *testing.T, s CycleSet) {
			if got := s.Cycles[1].Rules.EndTime; got.Year() != 9999 {
				t.Errorf("endTime %v", got)
			}
		}},
		{"endTime on the last second without hold", []string{`"2026-02-28T23:59:59Z"`, `"9999-12-31T23:59:59Z"`}, nil},
		{"cycles in any order", []string{`"2026-02-01T00:00:00Z"`, `"2025-02-01T00:00:00Z"`, `"2026-02-28T23:59:59Z"`, `"2025-02-28T23:59:59Z"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := DecodeCycleSet(csMutate(t, tt.replace...))
			if err != nil {
				t.Fatalf("unexpected error:\n%v", err)
			}
			if tt.check != nil {
				tt.check(t, set)
			}
		})
	}
}

// An empty set is valid (SPEC 1.3): between programs.
func TestDecodeCycleSetEmpty(t *testing.T) {
	for _, doc := range []string{`[]`, ` [ ] `} {
		set, err := DecodeCycleSet([]byte(doc))
		if err != nil || len(set.Cycles) != 0 {
			t.Errorf("DecodeCycleSet(%q) = %d cycles, %v; want a valid empty set", doc, len(set.Cycles), err)
		}
	}
}

func TestParseRFC3339Offsets(t *testing.T) {
	for s, ok := range map[string]bool{
		"2026-03-01T10:00:00Z": true, "2026-03-01T10:00:00.25Z": true, "2026-03-01T10:00:00+23:59": true,
		"2026-03-01T10:00:00-23:59": true, "2026-03-01T10:00:00+05:30": true, "2026-03-01T10:00:00+00:00": true,
		"2026-03-01T10:00:00+24:00": false, "2026-03-01T10:00:00-24:00": false, "2026-03-01T10:00:00+00:60": false,
		"2026-03-01T10:00:00+99:00": false, "2026-03-01 10:00:00": false, "2026-03-01T10:00:00": false,
	} {
		if _, err := ParseRFC3339(s); (err == nil) != ok {
			t.Errorf("ParseRFC3339(%q): err %v, want ok=%v", s, err, ok)
		}
	}
}

func TestDecodeCycleSetValues(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "cycleset", "valid.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeCycleSet(data)
	if err != nil {
		t.Fatalf("DecodeCycleSet: %v", err)
	}
	ninety := int64(90)
	want := CycleSet{Cycles: []Cycle{
		{ID: "spring-2026", DisplayName: "Spring 2026", RulesURL: "https://example.com/referral-program/spring-2026/rules",
			Rules: Rules{
				AwardModel: PieSplit,
				StartTime:  time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), EndTime: time.Date(2026, 4, 30, 23, 59, 59, 0, time.UTC),
				Currency: "eur", AwardPool: Money{Currency: "eur", Amount: 500000},
				EligiblePlans: []string{"price_pro_monthly", "pro-yearly"}, HoldDays: 14, AttributionDays: nil, MinPaymentsToConvert: 2,
				AdminActions: []AdminAction{
					{ActionType: Disqualification, Refcode: "SPAMMER1", Reason: "self-referral ring"},
					{ActionType: Warning, Refcode: "EAGER2", Reason: "coupon sites"},
				},
				MaxQualifiedReferrers: 5, ScoreBy: ScoreByRevenue,
			}},
		{ID: "summer-2026", DisplayName: "Summer 2026 revenue share", RulesURL: "http://example.com/rules?cycle=summer&lang=en",
			Rules: Rules{
				AwardModel: RevShareCap,
				StartTime:  time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), EndTime: time.Date(2026, 8, 31, 23, 59, 59, 5e8, time.UTC),
				Currency: "eur", AwardPool: Money{Currency: "eur", Amount: 2000000},
				HoldDays: 0, AttributionDays: &ninety, MinPaymentsToConvert: 1, AreAwardsDistributed: true,
				MinQualifyingRevenue: Money{Currency: "eur", Amount: 10000}, RevenueShareBps: 1500,
			}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
}

// several_problems.json breaks many rules at once; every problem is listed,
// in document order (golden file; go test -update rewrites it).
func TestDecodeCycleSetEveryProblem(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "cycleset", "several_problems.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecodeCycleSet(data)
	if err == nil {
		t.Fatal("DecodeCycleSet accepted several_problems.json")
	}
	csGolden(t, "several_problems.golden", []byte(err.Error()+"\n"))
}

func csGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "cycleset", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestDefaultCycleSet(t *testing.T) {
	year := int64(365)
	rules := func(start, end time.Time) Rules {
		return Rules{
			AwardModel: PieSplit, StartTime: start, EndTime: end, Currency: "usd",
			AwardPool: Money{Currency: "usd", Amount: 1000000}, MaxQualifiedReferrers: 10, ScoreBy: ScoreByConversions,
			HoldDays: 30, AttributionDays: &year, MinPaymentsToConvert: 1,
		}
	}
	want := CycleSet{Cycles: []Cycle{
		{ID: "cycle-1", DisplayName: "Holiday Awards", RulesURL: "https://example.com/referral-program/cycle-1/rules",
			Rules: rules(time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC))},
		{ID: "cycle-2", DisplayName: "March 2026", RulesURL: "https://example.com/referral-program/cycle-2/rules",
			Rules: rules(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC))},
	}}
	got := DefaultCycleSet()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DefaultCycleSet() =\n%+v\nwant\n%+v", got, want)
	}
	// Each call is a fresh copy.
	*got.Cycles[0].Rules.AttributionDays = 1
	got.Cycles[1].ID = "changed"
	if again := DefaultCycleSet(); !reflect.DeepEqual(again, want) {
		t.Fatal("changing one DefaultCycleSet() result changed the next")
	}
}

func TestCycleSetCanonicalJSON(t *testing.T) {
	canonical, err := DefaultCycleSet().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	csGolden(t, "default.canonical.json", append(canonical, '\n'))

	sum := sha256.Sum256(canonical)
	if got, want := DefaultCycleSet().SHA256(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("SHA256() = %s, want %s", got, want)
	}
	if a, b := DefaultCycleSet().SHA256(), DefaultCycleSet().SHA256(); a != b {
		t.Errorf("SHA256 not stable: %s, %s", a, b)
	}
	changed := DefaultCycleSet()
	changed.Cycles[1].Rules.AdminActions = []AdminAction{{ActionType: Warning, Refcode: "R", Reason: "x"}}
	if changed.SHA256() == DefaultCycleSet().SHA256() {
		t.Error("SHA256 did not change with the rules")
	}
}

func TestCycleSetRoundTrip(t *testing.T) {
	valid, err := os.ReadFile(filepath.Join("testdata", "cycleset", "valid.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string][]byte{
		"default": []byte(defaultCycleSetJSON),
		"valid":   valid,
		"base":    []byte(csBase),
	} {
		t.Run(name, func(t *testing.T) {
			set, err := DecodeCycleSet(doc)
			if err != nil {
				t.Fatal(err)
			}
			csCheckRoundTrip(t, set)
		})
	}
}

// csCheckRoundTrip asserts that set's canonical JSON decodes to an equal set
// and is a fixed point.
func csCheckRoundTrip(t *testing.T, set CycleSet) {
	t.Helper()
	canonical, err := set.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	again, err := DecodeCycleSet(canonical)
	if err != nil {
		t.Fatalf("canonical JSON does not decode: %v\n%s", err, canonical)
	}
	if !reflect.DeepEqual(again, set) {
		t.Fatalf("round trip changed the set:\nbefore %+v\nafter  %+v", set, again)
	}
	if twice, _ := again.MarshalJSON(); !bytes.Equal(twice, canonical) {
		t.Fatalf("canonical JSON is not a fixed point:\n%s\n%s", canonical, twice)
	}
	if again.SHA256() != set.SHA256() {
		t.Fatal("SHA256 changed across a round trip")
	}
}

func TestMoneyMarshalJSON(t *testing.T) {
	for _, tt := range []struct {
		m    Money
		want string
	}{
		{Money{Currency: "usd", Amount: 123}, `{"currency":"usd","amount":"123"}`},
		{Money{Currency: "eur", Amount: 0}, `{"currency":"eur","amount":"0"}`},
		{Money{Currency: "usd", Amount: 1<<63 - 1}, `{"currency":"usd","amount":"9223372036854775807"}`},
		{Money{Currency: `"\`, Amount: 1}, `{"currency":"\"\\","amount":"1"}`},
	} {
		got, err := tt.m.MarshalJSON()
		if err != nil || string(got) != tt.want {
			t.Errorf("%+v.MarshalJSON() = %s, %v; want %s", tt.m, got, err, tt.want)
		}
	}
}

func FuzzDecodeCycleSet(f *testing.F) {
	f.Add([]byte(defaultCycleSetJSON))
	f.Add([]byte(csBase))
	for _, name := range []string{"valid.json", "several_problems.json"} {
		if data, err := os.ReadFile(filepath.Join("testdata", "cycleset", name)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := DecodeCycleSet(data)
		if err != nil {
			var cse *CycleSetError
			if !errors.As(err, &cse) || len(cse.Problems) == 0 {
				t.Fatalf("error %v is not a *CycleSetError with problems", err)
			}
			return
		}
		csCheckRoundTrip(t, set)
	})
}

func ExampleDecodeCycleSet() {
	_, err := DecodeCycleSet([]byte(`[{
	  "id": "cycle-1", "displayName": "Holiday Awards",
	  "rulesUrl": "https://example.com/referral-program/cycle-1/rules",
	  "rules": {"awardModel": "pie-split",
	    "startTime": "2025-12-01T00:00:00Z", "endTime": "2025-12-31T23:59:59Z",
	    "currency": "usd", "awardPool": {"currency": "usd", "amount": "10000.00"},
	    "maxQualifiedReferrers": 10, "scoreBy": "conversions", "bonus": true,
	    "eligiblePlans": [], "holdDays": 30, "attributionDays": 365, "minPaymentsToConvert": 1,
	    "areAwardsDistributed": false, "adminActions": []}}]`))
	fmt.Println(err)
	// Output:
	// [0].rules.awardPool.amount: must be a non-negative integer string, got "10000.00"
	// [0].rules.bonus: unknown key
}
