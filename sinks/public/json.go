package public

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/refrecon/refrecon/pipeline"
)

// The published documents. Structs, not maps, so that keys come out in a
// fixed order; the referrer file's "cycles" object is written by hand in
// cycle id order.

// Manifest is a snapshot's manifest.json: the run's identity, its inputs,
// and every other object of the snapshot with its sha256 and size.
type Manifest struct {
	// SchemaVersion is the version of the public contract the snapshot
	// follows (schema.Version), bumped by a breaking change
	// (docs/decisions.md).
	SchemaVersion  int            `json:"schemaVersion"`
	SnapshotID     string         `json:"snapshotId"`
	AsOf           string         `json:"asOf"`
	CodeVersion    string         `json:"codeVersion"`
	CycleSetSHA256 string         `json:"cycleSetSha256"`
	Inputs         ManifestInputs `json:"inputs"`
	Notes          []string       `json:"notes"`
	Files          []FileEntry    `json:"files"`
}

// ManifestInputs is the manifest's "inputs": counts and their digest.
type ManifestInputs struct {
	Counts pipeline.InputCounts `json:"counts"`
	SHA256 string               `json:"sha256"`
	// Sources is the kind of source of each input; absent in manifests of
	// runs that did not say (and of refrecon before it recorded them).
	Sources *pipeline.InputSources `json:"sources,omitempty"`
}

// FileEntry is one file of a snapshot as the manifest lists it.
type FileEntry struct {
	Path   string `json:"path"` // relative to the snapshot directory, '/'-separated
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

type cyclesDoc struct {
	SnapshotID string `json:"snapshotId"`
	AsOf       string `json:"asOf"`
	Cycles     []any  `json:"cycles"` // cycleSummary, or settledSummary for a settled cycle
}

type cycleSummary struct {
	ID                 string          `json:"id"`
	DisplayName        string          `json:"displayName"`
	RulesURL           string          `json:"rulesUrl"`
	Rules              json.RawMessage `json:"rules"`
	Status             pipeline.Status `json:"status"`
	IsFinal            bool            `json:"isFinal"`
	SettlesAt          string          `json:"settlesAt"`
	AwardPoolRemaining pipeline.Money  `json:"awardPoolRemaining"`
	Totals             totals          `json:"totals"`
}

type totals struct {
	Referrals          int64          `json:"referrals"`
	Conversions        int64          `json:"conversions"`
	PendingConversions int64          `json:"pendingConversions"`
	Revenue            pipeline.Money `json:"revenue"`
	PendingRevenue     pipeline.Money `json:"pendingRevenue"`
	RankedReferrers    int64          `json:"rankedReferrers"`
	QualifiedReferrers int64          `json:"qualifiedReferrers"`
	Awarded            pipeline.Money `json:"awarded"`
}

type leaderboardPage struct {
	CycleID     string          `json:"cycleId"`
	Status      pipeline.Status `json:"status"`
	AsOf        string          `json:"asOf"`
	Entries     []entry         `json:"entries"`
	PageContext pageContext     `json:"pageContext"`
}

type pageContext struct {
	Page           int  `json:"page"`
	RecordsPerPage int  `json:"recordsPerPage"`
	TotalRecords   int  `json:"totalRecords"`
	TotalPages     int  `json:"totalPages"`
	HasNext        bool `json:"hasNext"`
	HasPrev        bool `json:"hasPrev"`
}

// entry is one leaderboard entry.
type entry struct {
	Rank    int    `json:"rank"`
	Refcode string `json:"refcode"`
	metrics
}

// referrerCycle is one cycle of a referrer file.
type referrerCycle struct {
	Type string `json:"type"` // ranked or unranked
	Rank *int   `json:"rank"` // null when unranked
	metrics
}

// metrics are the fields an entry and a referrer cycle share, from
// "score" to "adminAction" (embedded: encoding/json writes them inline).
type metrics struct {
	Score              score          `json:"score"`
	Referrals          int64          `json:"referrals"`
	Conversions        int64          `json:"conversions"`
	PendingConversions int64          `json:"pendingConversions"`
	Revenue            pipeline.Money `json:"revenue"`
	PendingRevenue     pipeline.Money `json:"pendingRevenue"`
	Qualified          bool           `json:"qualified"`
	FinalScoreBoost    *boost         `json:"finalScoreBoost,omitempty"`
	Award              pipeline.Money `json:"award"`
	AdminAction        *adminAction   `json:"adminAction"`
}

type adminAction struct {
	ActionType pipeline.AdminActionType `json:"actionType"`
	Reason     string                   `json:"reason"`
}

// score is a number for pie-split by conversions, and Money when the score
// is revenue (pie-split by revenue, rev-share-cap).
type score struct {
	money bool
	m     pipeline.Money
}

func (s score) MarshalJSON() ([]byte, error) {
	if s.money {
		return s.m.MarshalJSON()
	}
	return strconv.AppendInt(nil, s.m.Amount, 10), nil
}

// boost is finalScoreBoost = num/den, rendered as the shortest decimal that
// round-trips the float64 quotient (display only, never money).
type boost struct{ num, den int64 }

func (b boost) MarshalJSON() ([]byte, error) {
	if b.den == 0 {
		return []byte("0"), nil
	}
	return strconv.AppendFloat(nil, float64(b.num)/float64(b.den), 'f', -1, 64), nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// encodeJSON appends v as compact JSON and a newline to buf.
func encodeJSON(buf *bytes.Buffer, v any) error {
	if a, ok := v.(jsonAppender); ok {
		buf.Write(a.appendJSON(buf.AvailableBuffer()))
		buf.WriteByte('\n')
		return nil
	}
	enc := json.NewEncoder(buf)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	return nil
}

// entryFor converts a pipeline entry of cycle c into its published form.
// Its finalScoreBoost (pie-split) is stored in *bst and points there: the
// caller gives scratch that lives until the document is encoded, so the
// 2.4 million referrer-file cycles of a 1M run (200k referrers, 12 cycles)
// allocate none. c and e are pointers for the same reason (a Cycle is
// large to copy).
func entryFor(c *pipeline.Cycle, e *pipeline.Entry, bst *boost) entry {
	cur := c.Rules.Currency
	m := func(a int64) pipeline.Money { return pipeline.Money{Currency: cur, Amount: a} }
	out := entry{Rank: e.Rank, Refcode: publicRefcode(e.Refcode), metrics: metrics{
		Score:     score{money: scoreIsMoney(c), m: m(e.Score)},
		Referrals: e.Referrals, Conversions: e.Conversions, PendingConversions: e.PendingConversions,
		Revenue: m(e.Revenue), PendingRevenue: m(e.PendingRevenue),
		Qualified: e.Qualified, Award: m(e.Award),
	}}
	if c.Rules.AwardModel == pipeline.PieSplit {
		*bst = boost{e.BoostNum, e.BoostDen}
		out.FinalScoreBoost = bst
	}
	if a := e.AdminAction; a != nil {
		out.AdminAction = &adminAction{ActionType: a.ActionType, Reason: publicText(a.Reason)}
	}
	return out
}

func scoreIsMoney(c *pipeline.Cycle) bool {
	return !(c.Rules.AwardModel == pipeline.PieSplit && c.Rules.ScoreBy == pipeline.ScoreByConversions)
}

// referrerCycleFor is e's cycle c in a referrer file; a ranked one's rank
// points at e.Rank (e is the result's, which outlives the encoding).
func referrerCycleFor(c *pipeline.Cycle, e *pipeline.Entry, ranked bool, bst *boost) referrerCycle {
	x := entryFor(c, e, bst)
	rc := referrerCycle{Type: "unranked", metrics: x.metrics}
	if ranked {
		rc.Type, rc.Rank = "ranked", &e.Rank
	}
	return rc
}

// publicRules is the cycle's canonical rules JSON (the "rules" of the cycle
// set's canonical form), with free text redacted.
func publicRules(c pipeline.Cycle) (json.RawMessage, error) {
	c.Rules.AdminActions = append([]pipeline.AdminAction(nil), c.Rules.AdminActions...)
	for i := range c.Rules.AdminActions {
		a := &c.Rules.AdminActions[i]
		a.Refcode, a.Reason = publicRefcode(a.Refcode), publicText(a.Reason)
	}
	b, err := pipeline.CycleSet{Cycles: []pipeline.Cycle{c}}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("cycle %s rules: %w", c.ID, err)
	}
	var one []struct {
		Rules json.RawMessage `json:"rules"`
	}
	if err := json.Unmarshal(b, &one); err != nil || len(one) != 1 {
		return nil, fmt.Errorf("cycle %s rules: unexpected canonical JSON: %v", c.ID, err)
	}
	return one[0].Rules, nil
}
