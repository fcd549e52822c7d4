package public

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refrecon/refrecon/pipeline"
)

// Settled is a settled cycle as its settled snapshot published it (SPEC
// 2.8): every later run publishes these documents for the cycle instead of
// what it computed, with status Closed and settledFrom naming the snapshot.
// Read it with Reader.Settled and hand it to Publisher.WithSettled.
type Settled struct {
	CycleID    string
	SnapshotID string
	// AsOf is the settled snapshot's asOf: the leaderboard pages of the
	// cycle carry it, since their numbers are as of then.
	AsOf string
	// Awards is the settled award per refcode as published (a redacted
	// refcode as its public form), for a run without a ledger to compare.
	Awards map[string]int64

	start   time.Time
	cycle   pipeline.Cycle // id, currency, award model, score: enough for an unranked entry
	summary settledSummary
	entries []json.RawMessage          // the leaderboard's entries in rank order
	refs    map[string]json.RawMessage // referrer file name -> the cycle's entry in it
}

// settledSummary is a settled cycle's cycles.json summary as published,
// field by field in the published order, with its status replaced by Closed
// and settledFrom added.
type settledSummary struct {
	ID                 json.RawMessage `json:"id"`
	DisplayName        json.RawMessage `json:"displayName"`
	RulesURL           json.RawMessage `json:"rulesUrl"`
	Rules              json.RawMessage `json:"rules"`
	Status             pipeline.Status `json:"status"`
	IsFinal            json.RawMessage `json:"isFinal"`
	SettlesAt          json.RawMessage `json:"settlesAt"`
	AwardPoolRemaining json.RawMessage `json:"awardPoolRemaining"`
	Totals             json.RawMessage `json:"totals"`
	SettledFrom        string          `json:"settledFrom"`
}

// settledPage is a leaderboard page of a settled cycle: the settled entries
// verbatim.
type settledPage struct {
	CycleID     string            `json:"cycleId"`
	Status      pipeline.Status   `json:"status"`
	SettledFrom string            `json:"settledFrom"`
	AsOf        string            `json:"asOf"`
	Entries     []json.RawMessage `json:"entries"`
	PageContext pageContext       `json:"pageContext"`
}

// Settled reads the documents of cycle cycleID from snapshot snapshotID:
// its summary in cycles.json, every leaderboard page and its entry in every
// referrer file. Each document's bytes are checked against the sha256 the
// manifest lists. A snapshot that is gone, or that does not have the cycle,
// is an error: a settled cycle cannot be published without it.
func (r *Reader) Settled(ctx context.Context, cycleID, snapshotID string) (*Settled, error) {
	s, err := r.settled(ctx, cycleID, snapshotID)
	if err != nil {
		return nil, fmt.Errorf("settled cycle %s from snapshot %s: %w", cycleID, snapshotID, err)
	}
	return s, nil
}

func (r *Reader) settled(ctx context.Context, cycleID, snapshotID string) (*Settled, error) {
	if !pipeline.ValidCycleID(cycleID) {
		return nil, fmt.Errorf("not a valid cycle id")
	}
	m, err := r.Manifest(ctx, snapshotID)
	if err != nil {
		return nil, err
	}
	sums := make(map[string]string, len(m.Files))
	for _, f := range m.Files {
		sums[f.Path] = f.SHA256
	}
	read := func(rel string) ([]byte, error) {
		want, ok := sums[rel]
		if !ok {
			return nil, fmt.Errorf("%s is not in the manifest", rel)
		}
		b, err := r.Document(ctx, snapshotID, rel)
		if err != nil {
			return nil, err
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != want {
			return nil, fmt.Errorf("%s: sha256 differs from the manifest's", rel)
		}
		return b, nil
	}
	s := &Settled{CycleID: cycleID, SnapshotID: snapshotID, AsOf: m.AsOf, Awards: map[string]int64{}, refs: map[string]json.RawMessage{}}

	b, err := read(CyclesName)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Cycles []json.RawMessage `json:"cycles"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", CyclesName, err)
	}
	found := false
	for _, raw := range doc.Cycles {
		var sum settledSummary
		if err := json.Unmarshal(raw, &sum); err != nil {
			return nil, fmt.Errorf("%s: %w", CyclesName, err)
		}
		var id string
		if err := json.Unmarshal(sum.ID, &id); err != nil || id != cycleID {
			continue
		}
		var rules struct {
			AwardModel pipeline.AwardModel `json:"awardModel"`
			ScoreBy    pipeline.ScoreBy    `json:"scoreBy"`
			Currency   string              `json:"currency"`
			StartTime  string              `json:"startTime"`
		}
		if err := json.Unmarshal(sum.Rules, &rules); err != nil {
			return nil, fmt.Errorf("%s: cycle %s rules: %w", CyclesName, cycleID, err)
		}
		if s.start, err = pipeline.ParseRFC3339(rules.StartTime); err != nil {
			return nil, fmt.Errorf("%s: cycle %s startTime: %w", CyclesName, cycleID, err)
		}
		s.cycle = pipeline.Cycle{ID: cycleID, Rules: pipeline.Rules{AwardModel: rules.AwardModel, ScoreBy: rules.ScoreBy, Currency: rules.Currency, StartTime: s.start}}
		sum.Status, sum.SettledFrom = pipeline.Closed, snapshotID
		s.summary, found = sum, true
		break
	}
	if !found {
		return nil, fmt.Errorf("%s has no cycle %s", CyclesName, cycleID)
	}

	// Leaderboard pages in page order, then the referrer files.
	prefix := CyclesDirName + "/" + cycleID + "/leaderboard/"
	type page struct {
		n   int
		rel string
	}
	var pages []page
	var referrers []string
	for _, f := range m.Files {
		if rest, ok := strings.CutPrefix(f.Path, prefix); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(rest, ".json"))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%s: not a leaderboard page", f.Path)
			}
			pages = append(pages, page{n, f.Path})
		} else if strings.HasPrefix(f.Path, ReferrersDir+"/") {
			referrers = append(referrers, f.Path)
		}
	}
	slices.SortFunc(pages, func(a, b page) int { return cmp.Compare(a.n, b.n) })
	for _, p := range pages {
		b, err := read(p.rel)
		if err != nil {
			return nil, err
		}
		var lp struct {
			Entries []json.RawMessage `json:"entries"`
		}
		if err := json.Unmarshal(b, &lp); err != nil {
			return nil, fmt.Errorf("%s: %w", p.rel, err)
		}
		for _, e := range lp.Entries {
			var x struct {
				Refcode string `json:"refcode"`
				Award   struct {
					Amount string `json:"amount"`
				} `json:"award"`
			}
			if err := json.Unmarshal(e, &x); err != nil {
				return nil, fmt.Errorf("%s: %w", p.rel, err)
			}
			a, err := strconv.ParseInt(x.Award.Amount, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: entry %s: award %q: %w", p.rel, x.Refcode, x.Award.Amount, err)
			}
			if a != 0 {
				s.Awards[x.Refcode] = a
			}
		}
		s.entries = append(s.entries, lp.Entries...)
	}
	for _, rel := range referrers {
		b, err := read(rel)
		if err != nil {
			return nil, err
		}
		var rf struct {
			Cycles map[string]json.RawMessage `json:"cycles"`
		}
		if err := json.Unmarshal(b, &rf); err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		if e, ok := rf.Cycles[cycleID]; ok {
			s.refs[strings.TrimSuffix(path.Base(rel), ".json")] = e
		}
	}
	return s, nil
}

// WithSettled returns a Publisher like p that publishes each of settled as
// its settled snapshot did (whether or not the run's result has the cycle).
func (p *Publisher) WithSettled(settled ...*Settled) *Publisher {
	q := *p
	q.settled = make(map[string]*Settled, len(settled))
	for _, s := range settled {
		q.settled[s.CycleID] = s
	}
	return &q
}

// Currency is the settled cycle's currency.
func (s *Settled) Currency() string { return s.cycle.Rules.Currency }
