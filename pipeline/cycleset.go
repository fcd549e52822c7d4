package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxSettlesAt is the latest settlesAt (endTime + holdDays) a cycle may
// have: the last second RFC 3339 can write (SPEC 1.3).
var maxSettlesAt = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// Limits of a cycle set document. The SPEC gives only lower bounds; the upper
// bounds keep day counts convertible to time.Duration and pie-split weights
// (score × (2N − 1 − q)) far from overflow.
const (
	// MaxCycleSetSize is the largest cycle set document DecodeCycleSet
	// accepts (32 MiB). A real set is a few kilobytes.
	MaxCycleSetSize = 32 << 20
	// MaxCycleDays bounds holdDays and attributionDays (100 years).
	MaxCycleDays = 36500
	// MaxQualifiedReferrersLimit bounds a pie-split's maxQualifiedReferrers.
	MaxQualifiedReferrersLimit = 1_000_000
	// MaxCycleIDLen is the longest cycle id (SPEC 1.3).
	MaxCycleIDLen = 64

	csMaxDepth    = 64   // JSON nesting; the format itself needs 5
	csMaxProblems = 1000 // problems listed before the rest are only counted
)

// Problem is one thing wrong with a cycle set document.
type Problem struct {
	Path    string // JSON path: "$" for the whole document, "[1].rules.awardPool.amount"
	Message string
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// CycleSetError is DecodeCycleSet's error: every problem found in the
// document, in document order.
type CycleSetError struct {
	Problems []Problem
}

// Error lists the problems, one "path: message" per line.
func (e *CycleSetError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// DecodeCycleSet parses and validates a cycle set document (SPEC 1.3).
//
// Decoding is strict: unknown keys, duplicate keys, keys of the other award
// model, unknown award models, wrong JSON types and out-of-range values are
// all errors. A document that is not valid UTF-8 JSON, or is larger than
// MaxCycleSetSize, is rejected whole. The error is a *CycleSetError that
// lists every problem found with its JSON path (at most 1000, then a count
// of the rest).
//
// Times are returned in UTC. Empty eligiblePlans and adminActions are nil.
func DecodeCycleSet(data []byte) (CycleSet, error) {
	if len(data) > MaxCycleSetSize {
		return CycleSet{}, csDocumentError("document is %d bytes; the limit is %d (32 MiB)", len(data), MaxCycleSetSize)
	}
	if !utf8.Valid(data) {
		return CycleSet{}, csDocumentError("invalid JSON: not valid UTF-8 at byte offset %d", csInvalidUTF8Offset(data))
	}
	root, err := csParse(data)
	if err != nil {
		return CycleSet{}, csDocumentError("invalid JSON: %v", err)
	}
	v := &csValidator{}
	set := v.cycleSet(root)
	if err := v.err(); err != nil {
		return CycleSet{}, err
	}
	return set, nil
}

func csDocumentError(format string, args ...any) error {
	return &CycleSetError{Problems: []Problem{{Path: "$", Message: fmt.Sprintf(format, args...)}}}
}

func csInvalidUTF8Offset(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// --- JSON tree -------------------------------------------------------------
//
// The document is first read into a small tree that keeps every object
// member in document order (duplicates included) and the byte offset of every
// value, so that validation can name duplicate and unknown keys and report
// problems in document order.

type csKind uint8

const (
	csNull csKind = iota
	csBool
	csNumber
	csString
	csArray
	csObject
)

type csNode struct {
	kind    csKind
	off     int64  // offset just after the value's first token
	end     int64  // offset just after the value
	text    string // a string's value, a number's literal
	boolean bool
	elems   []*csNode
	members []csMember
}

type csMember struct {
	key string
	val *csNode
}

// describe says what a value is, for "got ..." in messages.
func (n *csNode) describe() string {
	switch n.kind {
	case csNull:
		return "null"
	case csBool:
		return strconv.FormatBool(n.boolean)
	case csNumber:
		return "number " + csTruncate(n.text)
	case csString:
		return "string " + csQuote(n.text)
	case csArray:
		return "an array"
	default:
		return "an object"
	}
}

// csParse reads a document into a tree. The document is checked by
// encoding/json first, so the reader below only ever sees valid JSON.
func csParse(data []byte) (*csNode, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty document")
	}
	if !json.Valid(data) {
		// Unmarshal reports the same syntax error with its byte offset.
		var syn *json.SyntaxError
		if err := json.Unmarshal(data, new(json.RawMessage)); errors.As(err, &syn) {
			if syn.Error() == "unexpected end of JSON input" {
				return nil, fmt.Errorf("unexpected end of document (byte offset %d)", len(data))
			}
			// Offset counts the bytes read, the offending one included.
			return nil, fmt.Errorf("%v (byte offset %d)", syn, syn.Offset-1)
		}
		return nil, errors.New("not valid JSON")
	}
	r := &csReader{data: data}
	return r.value(0)
}

var errCSTooDeep = fmt.Errorf("nested deeper than %d levels", csMaxDepth)

// csReader reads one valid JSON value into a csNode tree.
type csReader struct {
	data []byte
	pos  int
}

func (r *csReader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

func (r *csReader) value(depth int) (*csNode, error) {
	r.skipSpace()
	n := &csNode{off: int64(r.pos)}
	switch c := r.data[r.pos]; c {
	case '{', '[':
		if depth >= csMaxDepth {
			return nil, fmt.Errorf("%w (byte offset %d)", errCSTooDeep, r.pos)
		}
		closing := byte(']')
		n.kind = csArray
		if c == '{' {
			closing, n.kind = '}', csObject
		}
		r.pos++
		for r.skipSpace(); r.data[r.pos] != closing; r.skipSpace() {
			if r.data[r.pos] == ',' {
				r.pos++
				r.skipSpace()
			}
			var key string
			if n.kind == csObject {
				key = r.str()
				r.skipSpace()
				r.pos++ // ':'
			}
			child, err := r.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if n.kind == csObject {
				n.members = append(n.members, csMember{key: key, val: child})
			} else {
				n.elems = append(n.elems, child)
			}
		}
		r.pos++
	case '"':
		n.kind, n.text = csString, r.str()
	case 't':
		n.kind, n.boolean = csBool, true
		r.pos += len("true")
	case 'f':
		n.kind = csBool
		r.pos += len("false")
	case 'n':
		n.kind = csNull
		r.pos += len("null")
	default:
		start := r.pos
		for r.pos < len(r.data) && strings.IndexByte("+-0123456789.eE", r.data[r.pos]) >= 0 {
			r.pos++
		}
		n.kind, n.text = csNumber, string(r.data[start:r.pos])
	}
	n.end = int64(r.pos)
	return n, nil
}

// str reads a string literal at r.pos.
func (r *csReader) str() string {
	start := r.pos
	escaped := false
	for r.pos++; r.data[r.pos] != '"'; r.pos++ {
		if r.data[r.pos] == '\\' {
			escaped = true
			r.pos++ // the escaped byte is never the closing quote
		}
	}
	r.pos++
	lit := r.data[start:r.pos]
	if !escaped {
		return string(lit[1 : len(lit)-1])
	}
	var s string
	_ = json.Unmarshal(lit, &s) // a valid literal always decodes
	return s
}

// --- validation ------------------------------------------------------------

// The keys of each object in the format.
var (
	csCycleKeys       = []string{"id", "displayName", "rulesUrl", "rules"}
	csCommonRulesKeys = []string{"awardModel", "startTime", "endTime", "currency", "eligiblePlans", "holdDays",
		"attributionDays", "minPaymentsToConvert", "areAwardsDistributed", "adminActions"}
	csPieSplitKeys    = []string{"awardPool", "maxQualifiedReferrers", "scoreBy"}
	csRevShareCapKeys = []string{"awardPool", "minQualifyingRevenue", "revenueShareBps"}
	csRulesKeys       = slices.Concat(csCommonRulesKeys, csPieSplitKeys, []string{"minQualifyingRevenue", "revenueShareBps"})
	csMoneyKeys       = []string{"currency", "amount"}
	csAdminActionKeys = []string{"actionType", "refcode", "reason"}
)

// ValidCycleID reports whether id is a valid cycle id (SPEC 1.3): at most
// MaxCycleIDLen characters matching ^[a-z0-9]+(-[a-z0-9]+)*$, so it is safe
// in a file name. The one definition; sinks check names with it.
func ValidCycleID(id string) bool {
	return len(id) <= MaxCycleIDLen && csIDPattern.MatchString(id)
}

var (
	csIDPattern       = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	csCurrencyPattern = regexp.MustCompile(`^[a-z]{3}$`)
)

type csProblem struct {
	off int64 // orders problems in the document
	Problem
}

// csValidator walks the tree, builds the CycleSet and collects problems.
type csValidator struct {
	problems []csProblem
	dropped  int
}

func (v *csValidator) addf(off int64, path, format string, args ...any) {
	if len(v.problems) >= csMaxProblems {
		v.dropped++
		return
	}
	v.problems = append(v.problems, csProblem{off: off, Problem: Problem{Path: path, Message: fmt.Sprintf(format, args...)}})
}

func (v *csValidator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].off < v.problems[j].off })
	e := &CycleSetError{Problems: make([]Problem, 0, len(v.problems)+1)}
	for _, p := range v.problems {
		e.Problems = append(e.Problems, p.Problem)
	}
	if v.dropped > 0 {
		e.Problems = append(e.Problems, Problem{Path: "$", Message: fmt.Sprintf("%d more problems not listed", v.dropped)})
	}
	return e
}

// csCycleSpan is what the cross-cycle checks need to know about one cycle.
type csCycleSpan struct {
	index      int
	id         string
	start, end time.Time
	off        int64 // where to report an overlap: the end of the cycle
}

func (v *csValidator) cycleSet(root *csNode) CycleSet {
	if root.kind != csArray {
		v.addf(root.off, "$", "must be a JSON array of cycles, got %s", root.describe())
		return CycleSet{}
	}
	// An empty set is valid (SPEC 1.3: between programs); the run then
	// publishes referrer files with no cycles.
	set := CycleSet{Cycles: make([]Cycle, 0, len(root.elems))}
	firstID := map[string]int{}
	var spans []csCycleSpan
	for i, n := range root.elems {
		path := "[" + strconv.Itoa(i) + "]"
		c, timesOK := v.cycle(n, path)
		set.Cycles = append(set.Cycles, c)
		if c.ID != "" {
			if first, dup := firstID[c.ID]; dup {
				v.addf(n.off, path+".id", "duplicate id %s (also [%d].id)", csQuote(c.ID), first)
			} else {
				firstID[c.ID] = i
			}
		}
		if timesOK {
			spans = append(spans, csCycleSpan{index: i, id: c.ID, start: c.Rules.StartTime, end: c.Rules.EndTime, off: n.end})
		}
	}
	v.overlaps(spans)
	return set
}

// overlaps reports cycles whose windows share an instant (both ends are
// inclusive). Windows are swept in start order against the latest end seen
// so far, so a large set is checked in O(n log n); each overlapping pair
// found is reported on the cycle that comes later in the document, at most
// once per cycle.
func (v *csValidator) overlaps(spans []csCycleSpan) {
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].start.Before(spans[j].start) })
	reported := map[int]bool{}
	latest := -1 // index into spans of the window with the latest end so far
	for k, s := range spans {
		if latest >= 0 && !s.start.After(spans[latest].end) {
			a, b := spans[latest], s
			if a.index > b.index {
				a, b = b, a
			}
			if !reported[b.index] {
				reported[b.index] = true
				v.addf(b.off, "["+strconv.Itoa(b.index)+"]",
					"window %s to %s overlaps cycle [%d] %s (%s to %s); both ends are inclusive",
					csFormatTime(b.start), csFormatTime(b.end), a.index, csQuote(a.id), csFormatTime(a.start), csFormatTime(a.end))
			}
		}
		if latest < 0 || s.end.After(spans[latest].end) {
			latest = k
		}
	}
}

// cycle validates one cycle; timesOK says its window can be compared with
// others.
func (v *csValidator) cycle(n *csNode, path string) (c Cycle, timesOK bool) {
	f, ok := v.object(n, path, csCycleKeys)
	if !ok {
		return Cycle{}, false
	}
	v.required(n, path, f, csCycleKeys...)
	if x := f["id"]; x != nil {
		c.ID = v.id(x, path+".id")
	}
	if x := f["displayName"]; x != nil {
		c.DisplayName = v.nonEmpty(x, path+".displayName")
	}
	if x := f["rulesUrl"]; x != nil {
		c.RulesURL = v.httpURL(x, path+".rulesUrl")
	}
	if x := f["rules"]; x != nil {
		c.Rules, timesOK = v.rules(x, path+".rules")
	}
	return c, timesOK
}

func (v *csValidator) id(n *csNode, path string) string {
	s, ok := v.str(n, path)
	if !ok {
		return ""
	}
	good := true
	if len(s) > MaxCycleIDLen {
		v.addf(n.off, path, "must be at most %d characters, got %d", MaxCycleIDLen, len(s))
		good = false
	}
	if !csIDPattern.MatchString(s) {
		v.addf(n.off, path, "must match %s (lowercase letters and digits in dash-separated words), got %s", csIDPattern, csQuote(s))
		good = false
	}
	if !good {
		return ""
	}
	return s
}

func (v *csValidator) httpURL(n *csNode, path string) string {
	s, ok := v.str(n, path)
	if !ok {
		return ""
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		v.addf(n.off, path, "must be an absolute http or https URL, got %s", csQuote(s))
	case u.User != nil:
		v.addf(n.off, path, "must not contain credentials (it is published)")
	default:
		return s
	}
	return ""
}

// rules validates a cycle's rules; timesOK says both times are valid and in
// order.
func (v *csValidator) rules(n *csNode, path string) (r Rules, timesOK bool) {
	f, ok := v.object(n, path, csRulesKeys)
	if !ok {
		return Rules{}, false
	}
	p := func(key string) string { return path + "." + key }

	v.required(n, path, f, csCommonRulesKeys...)
	if x := f["awardModel"]; x != nil {
		if s, ok := v.str(x, p("awardModel")); ok {
			switch m := AwardModel(s); m {
			case PieSplit:
				r.AwardModel = m
				v.required(n, path, f, csPieSplitKeys...)
				v.forbidden(f, path, m, csRevShareCapKeys)
			case RevShareCap:
				r.AwardModel = m
				v.required(n, path, f, csRevShareCapKeys...)
				v.forbidden(f, path, m, csPieSplitKeys)
			default:
				v.addf(x.off, p("awardModel"), "unknown award model %s; want %q or %q", csQuote(s), PieSplit, RevShareCap)
			}
		}
	}

	var startOK, endOK bool
	if x := f["startTime"]; x != nil {
		r.StartTime, startOK = v.instant(x, p("startTime"))
	}
	if x := f["endTime"]; x != nil {
		r.EndTime, endOK = v.instant(x, p("endTime"))
		if startOK && endOK && r.EndTime.Before(r.StartTime) {
			v.addf(x.off, p("endTime"), "must not be before startTime (%s), got %s", csFormatTime(r.StartTime), csFormatTime(r.EndTime))
			endOK = false
		}
	}
	if x := f["currency"]; x != nil {
		r.Currency = v.currency(x, p("currency"))
	}
	if x := f["awardPool"]; x != nil {
		r.AwardPool = v.money(x, p("awardPool"), r.Currency)
	}
	if x := f["minQualifyingRevenue"]; x != nil {
		r.MinQualifyingRevenue = v.money(x, p("minQualifyingRevenue"), r.Currency)
	}
	if x := f["maxQualifiedReferrers"]; x != nil {
		r.MaxQualifiedReferrers = v.integer(x, p("maxQualifiedReferrers"), 0, MaxQualifiedReferrersLimit)
	}
	if x := f["scoreBy"]; x != nil {
		if s, ok := v.str(x, p("scoreBy")); ok {
			if s == string(ScoreByConversions) || s == string(ScoreByRevenue) {
				r.ScoreBy = ScoreBy(s)
			} else {
				v.addf(x.off, p("scoreBy"), "must be %q or %q, got %s", ScoreByConversions, ScoreByRevenue, csQuote(s))
			}
		}
	}
	if x := f["revenueShareBps"]; x != nil {
		r.RevenueShareBps = v.integer(x, p("revenueShareBps"), 0, 10000)
	}
	if x := f["eligiblePlans"]; x != nil {
		r.EligiblePlans = v.eligiblePlans(x, p("eligiblePlans"))
	}
	if x := f["holdDays"]; x != nil {
		r.HoldDays = v.integer(x, p("holdDays"), 0, MaxCycleDays)
		// settlesAt = endTime + holdDays is published as RFC 3339, which has
		// no year after 9999 (SPEC 1.3).
		if endOK && r.HoldDays > 0 && r.EndTime.Add(time.Duration(r.HoldDays)*24*time.Hour).After(maxSettlesAt) {
			v.addf(x.off, p("holdDays"), "endTime %s + %d days passes %s: settlesAt would not be an RFC 3339 time",
				csFormatTime(r.EndTime), r.HoldDays, csFormatTime(maxSettlesAt))
		}
	}
	if x := f["attributionDays"]; x != nil && x.kind != csNull {
		days := v.integer(x, p("attributionDays"), 1, MaxCycleDays)
		r.AttributionDays = &days
	}
	if x := f["minPaymentsToConvert"]; x != nil {
		r.MinPaymentsToConvert = v.integer(x, p("minPaymentsToConvert"), 1, math.MaxInt64)
	}
	if x := f["areAwardsDistributed"]; x != nil {
		if x.kind == csBool {
			r.AreAwardsDistributed = x.boolean
		} else {
			v.addf(x.off, p("areAwardsDistributed"), "must be a boolean, got %s", x.describe())
		}
	}
	if x := f["adminActions"]; x != nil {
		r.AdminActions = v.adminActions(x, p("adminActions"))
	}
	return r, startOK && endOK
}

func (v *csValidator) eligiblePlans(n *csNode, path string) []string {
	if n.kind != csArray {
		v.addf(n.off, path, "must be an array of strings, got %s", n.describe())
		return nil
	}
	var plans []string
	for i, e := range n.elems {
		plans = append(plans, v.nonEmpty(e, path+"["+strconv.Itoa(i)+"]"))
	}
	return plans
}

func (v *csValidator) adminActions(n *csNode, path string) []AdminAction {
	if n.kind != csArray {
		v.addf(n.off, path, "must be an array of admin actions, got %s", n.describe())
		return nil
	}
	var actions []AdminAction
	first := map[string]int{} // refcode -> index of its first action
	for i, e := range n.elems {
		ep := path + "[" + strconv.Itoa(i) + "]"
		f, ok := v.object(e, ep, csAdminActionKeys)
		if !ok {
			continue
		}
		v.required(e, ep, f, csAdminActionKeys...)
		var a AdminAction
		if x := f["actionType"]; x != nil {
			if s, ok := v.str(x, ep+".actionType"); ok {
				if s == string(Disqualification) || s == string(Warning) {
					a.ActionType = AdminActionType(s)
				} else {
					v.addf(x.off, ep+".actionType", "must be %q or %q, got %s", Disqualification, Warning, csQuote(s))
				}
			}
		}
		if x := f["refcode"]; x != nil {
			a.Refcode = v.nonEmpty(x, ep+".refcode")
			if a.Refcode != "" {
				if j, dup := first[a.Refcode]; dup {
					v.addf(x.off, ep+".refcode", "duplicate admin action for refcode %s (first at %s[%d]); at most one per refcode",
						csQuote(a.Refcode), path, j)
				} else {
					first[a.Refcode] = i
				}
			}
		}
		if x := f["reason"]; x != nil {
			a.Reason = v.nonEmpty(x, ep+".reason")
			if a.Reason != "" && strings.TrimSpace(a.Reason) != a.Reason {
				v.addf(x.off, ep+".reason", "must not have leading or trailing whitespace, got %s", csQuote(a.Reason))
			}
		}
		actions = append(actions, a)
	}
	return actions
}

// money validates a money object; its currency must equal the cycle's
// (cycleCurrency, "" when that one is missing or invalid).
func (v *csValidator) money(n *csNode, path, cycleCurrency string) Money {
	f, ok := v.object(n, path, csMoneyKeys)
	if !ok {
		return Money{}
	}
	v.required(n, path, f, csMoneyKeys...)
	var m Money
	if x := f["currency"]; x != nil {
		m.Currency = v.currency(x, path+".currency")
		if m.Currency != "" && cycleCurrency != "" && m.Currency != cycleCurrency {
			v.addf(x.off, path+".currency", "must equal the cycle's currency %q, got %q", cycleCurrency, m.Currency)
		}
	}
	if x := f["amount"]; x != nil {
		m.Amount = v.amount(x, path+".amount")
	}
	return m
}

// amount parses minor units written as a decimal digit string.
func (v *csValidator) amount(n *csNode, path string) int64 {
	const want = "must be a non-negative integer string"
	if n.kind != csString {
		v.addf(n.off, path, "%s, got %s", want, n.describe())
		return 0
	}
	s := n.text
	if s == "" || strings.Trim(s, "0123456789") != "" {
		v.addf(n.off, path, "%s, got %s", want, csQuote(s))
		return 0
	}
	if len(s) > 1 && s[0] == '0' {
		v.addf(n.off, path, "%s without leading zeros, got %s", want, csQuote(s))
		return 0
	}
	a, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		v.addf(n.off, path, "%s of at most %d, got %s", want, int64(math.MaxInt64), csQuote(s))
		return 0
	}
	return a
}

func (v *csValidator) currency(n *csNode, path string) string {
	s, ok := v.str(n, path)
	if !ok {
		return ""
	}
	if !csCurrencyPattern.MatchString(s) {
		v.addf(n.off, path, "must be a lowercase three-letter ISO 4217 code such as \"usd\", got %s", csQuote(s))
		return ""
	}
	return s
}

// instant parses an RFC 3339 time and returns it in UTC.
func (v *csValidator) instant(n *csNode, path string) (time.Time, bool) {
	s, ok := v.str(n, path)
	if !ok {
		return time.Time{}, false
	}
	t, err := ParseRFC3339(s)
	if err != nil {
		v.addf(n.off, path, "must be an RFC 3339 time such as \"2025-12-01T00:00:00Z\", got %s", csQuote(s))
		return time.Time{}, false
	}
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		v.addf(n.off, path, "must be between years 0001 and 9999 in UTC, got %s", csQuote(s))
		return time.Time{}, false
	}
	return t, true
}

// integer parses a JSON integer (no fraction, no exponent) in [lo, hi].
func (v *csValidator) integer(n *csNode, path string, lo, hi int64) int64 {
	if n.kind == csNumber && !strings.ContainsAny(n.text, ".eE") {
		if i, err := strconv.ParseInt(n.text, 10, 64); err == nil && lo <= i && i <= hi {
			return i
		}
	}
	want := fmt.Sprintf("an integer between %d and %d", lo, hi)
	if hi == math.MaxInt64 {
		want = fmt.Sprintf("an integer of at least %d", lo)
	}
	got := n.describe()
	if n.kind == csNumber && !strings.ContainsAny(n.text, ".eE") {
		got = csTruncate(n.text)
	}
	v.addf(n.off, path, "must be %s, got %s", want, got)
	return 0
}

func (v *csValidator) str(n *csNode, path string) (string, bool) {
	if n.kind != csString {
		v.addf(n.off, path, "must be a string, got %s", n.describe())
		return "", false
	}
	return n.text, true
}

func (v *csValidator) nonEmpty(n *csNode, path string) string {
	s, ok := v.str(n, path)
	if ok && strings.TrimSpace(s) == "" {
		v.addf(n.off, path, "must not be empty")
		return ""
	}
	return s
}

// object checks that n is an object whose keys are all known and distinct,
// and returns its members by key. Unknown and repeated keys are problems.
func (v *csValidator) object(n *csNode, path string, known []string) (map[string]*csNode, bool) {
	if n.kind != csObject {
		v.addf(n.off, path, "must be an object, got %s", n.describe())
		return nil, false
	}
	f := make(map[string]*csNode, len(n.members))
	for _, m := range n.members {
		switch _, dup := f[m.key]; {
		case !slices.Contains(known, m.key):
			v.addf(m.val.off, csKeyPath(path, m.key), "unknown key")
		case dup:
			v.addf(m.val.off, csKeyPath(path, m.key), "duplicate key")
		default:
			f[m.key] = m.val
		}
	}
	return f, true
}

// required reports the keys missing from an object, at its end.
func (v *csValidator) required(obj *csNode, path string, f map[string]*csNode, keys ...string) {
	for _, k := range keys {
		if f[k] == nil {
			v.addf(obj.end, csKeyPath(path, k), "required key is missing")
		}
	}
}

// forbidden reports keys that belong only to the other award model.
func (v *csValidator) forbidden(f map[string]*csNode, path string, model AwardModel, otherKeys []string) {
	own := csPieSplitKeys
	if model == RevShareCap {
		own = csRevShareCapKeys
	}
	for _, k := range otherKeys {
		if x := f[k]; x != nil && !slices.Contains(own, k) {
			v.addf(x.off, csKeyPath(path, k), "not allowed for award model %q", model)
		}
	}
}

// csKeyPath is the path of an object member: path.key, or path["key"] when
// the key is not an identifier.
func csKeyPath(path, key string) string {
	ident := key != ""
	for i, c := range key {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			ident = false
			break
		}
	}
	if ident {
		return path + "." + key
	}
	return path + "[" + csQuote(key) + "]"
}

// csQuote quotes a value for a message, shortened when long.
func csQuote(s string) string {
	const limit = 80
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

func csTruncate(s string) string {
	const limit = 40
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}

func csFormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// --- canonical form --------------------------------------------------------

// The canonical JSON shape: the input format, with only the keys of each
// cycle's award model, in a fixed order.
type (
	csWireCycle struct {
		ID          string      `json:"id"`
		DisplayName string      `json:"displayName"`
		RulesURL    string      `json:"rulesUrl"`
		Rules       csWireRules `json:"rules"`
	}
	csWireRules struct {
		AwardModel            AwardModel          `json:"awardModel"`
		StartTime             string              `json:"startTime"`
		EndTime               string              `json:"endTime"`
		Currency              string              `json:"currency"`
		AwardPool             *Money              `json:"awardPool,omitempty"`
		MaxQualifiedReferrers *int64              `json:"maxQualifiedReferrers,omitempty"`
		ScoreBy               *ScoreBy            `json:"scoreBy,omitempty"`
		MinQualifyingRevenue  *Money              `json:"minQualifyingRevenue,omitempty"`
		RevenueShareBps       *int64              `json:"revenueShareBps,omitempty"`
		EligiblePlans         []string            `json:"eligiblePlans"`
		HoldDays              int64               `json:"holdDays"`
		AttributionDays       *int64              `json:"attributionDays"`
		MinPaymentsToConvert  int64               `json:"minPaymentsToConvert"`
		AreAwardsDistributed  bool                `json:"areAwardsDistributed"`
		AdminActions          []csWireAdminAction `json:"adminActions"`
	}
	csWireAdminAction struct {
		ActionType AdminActionType `json:"actionType"`
		Refcode    string          `json:"refcode"`
		Reason     string          `json:"reason"`
	}
)

// MarshalJSON renders the set in its canonical form: the input format of
// SPEC 1.3 with only the keys of each cycle's award model, keys in a fixed
// order, amounts as digit strings, times in RFC 3339 UTC, attributionDays
// null when unlimited, empty lists as [], no insignificant whitespace. The
// output of a valid set decodes back to an equal set.
func (s CycleSet) MarshalJSON() ([]byte, error) {
	wire := make([]csWireCycle, len(s.Cycles))
	for i, c := range s.Cycles {
		r := c.Rules
		w := csWireRules{
			AwardModel:           r.AwardModel,
			StartTime:            csFormatTime(r.StartTime),
			EndTime:              csFormatTime(r.EndTime),
			Currency:             r.Currency,
			EligiblePlans:        append([]string{}, r.EligiblePlans...),
			HoldDays:             r.HoldDays,
			AttributionDays:      r.AttributionDays,
			MinPaymentsToConvert: r.MinPaymentsToConvert,
			AreAwardsDistributed: r.AreAwardsDistributed,
			AdminActions:         []csWireAdminAction{},
		}
		switch r.AwardModel {
		case PieSplit:
			w.AwardPool, w.MaxQualifiedReferrers, w.ScoreBy = &r.AwardPool, &r.MaxQualifiedReferrers, &r.ScoreBy
		case RevShareCap:
			w.AwardPool, w.MinQualifyingRevenue, w.RevenueShareBps = &r.AwardPool, &r.MinQualifyingRevenue, &r.RevenueShareBps
		}
		for _, a := range r.AdminActions {
			w.AdminActions = append(w.AdminActions, csWireAdminAction(a))
		}
		wire[i] = csWireCycle{ID: c.ID, DisplayName: c.DisplayName, RulesURL: c.RulesURL, Rules: w}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(wire); err != nil {
		return nil, fmt.Errorf("marshal cycle set: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// SHA256 is the hex SHA-256 of the set's canonical JSON (MarshalJSON). It
// identifies the rules a run was computed with.
func (s CycleSet) SHA256() string {
	b, err := s.MarshalJSON()
	if err != nil { // cannot happen: every field marshals
		b = []byte(err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// MarshalJSON renders m as {"currency":"usd","amount":"<digits>"}: the
// amount is a decimal string of minor units so that no JSON reader turns it
// into a float (SPEC 3.1).
func (m Money) MarshalJSON() ([]byte, error) {
	cur, err := json.Marshal(m.Currency)
	if err != nil {
		return nil, fmt.Errorf("marshal money: %w", err)
	}
	b := make([]byte, 0, 40+len(cur))
	b = append(b, `{"currency":`...)
	b = append(b, cur...)
	b = append(b, `,"amount":"`...)
	b = strconv.AppendInt(b, m.Amount, 10)
	b = append(b, `"}`...)
	return b, nil
}
