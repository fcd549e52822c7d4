package public_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/internal/cpumeter"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	"github.com/refrecon/refrecon/sinks/public/publictest"
	"github.com/refrecon/refrecon/sinks/public/schema"
)

var asOf = time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)

func info(id string) pipeline.RunInfo {
	return pipeline.RunInfo{
		SnapshotID: id, AsOf: asOf, CodeVersion: "v1.0.0", CycleSetSHA256: strings.Repeat("ab", 32),
		Inputs: pipeline.InputsDigest{SHA256: strings.Repeat("cd", 32), Counts: pipeline.InputCounts{Users: 3, Referrals: 5}},
		Notes:  []string{"d1: 2 rows changed while paging", "contact ops@example.com for details"},
	}
}

func cycle(id string, model pipeline.AwardModel, by pipeline.ScoreBy, start time.Time) pipeline.Cycle {
	r := pipeline.Rules{
		AwardModel: model, StartTime: start, EndTime: start.Add(30*24*time.Hour - time.Second), Currency: "usd",
		AwardPool: pipeline.Money{Currency: "usd", Amount: 1_000_000}, EligiblePlans: []string{}, HoldDays: 30,
		MinPaymentsToConvert: 1,
		AdminActions: []pipeline.AdminAction{
			{ActionType: pipeline.Disqualification, Refcode: "r0002", Reason: "fraud reported by eve@example.com"},
		},
	}
	if model == pipeline.PieSplit {
		r.MaxQualifiedReferrers, r.ScoreBy = 10, by
	} else {
		r.MinQualifyingRevenue, r.RevenueShareBps = pipeline.Money{Currency: "usd", Amount: 1000}, 1000
	}
	return pipeline.Cycle{ID: id, DisplayName: "Cycle " + id, RulesURL: "https://example.com/rules/" + id, Rules: r}
}

// result builds a result with n ranked referrers in cycle-1 (pie-split by
// conversions) and the first min(n,3) ranked in cycle-2 (rev-share-cap),
// plus unranked users, and emails wherever the result carries them.
func result(n int) *pipeline.Result {
	c1 := cycle("cycle-1", pipeline.PieSplit, pipeline.ScoreByConversions, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	c2 := cycle("cycle-2", pipeline.RevShareCap, "", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	res := &pipeline.Result{AsOf: asOf}
	cr1 := pipeline.CycleResult{Cycle: c1, Status: pipeline.AwardsReview, SettlesAt: c1.Rules.EndTime.Add(30 * 24 * time.Hour), AwardPoolRemaining: 0,
		Totals: pipeline.Totals{Referrals: int64(n), Conversions: int64(n), Revenue: int64(n) * 1000, RankedReferrers: int64(n), Awarded: 1_000_000}}
	cr2 := pipeline.CycleResult{Cycle: c2, Status: pipeline.Active, SettlesAt: c2.Rules.EndTime.Add(30 * 24 * time.Hour), AwardPoolRemaining: 999_000}
	for i := range n + 2 {
		ref := fmt.Sprintf("r%04d", i)
		res.Referrers = append(res.Referrers, pipeline.User{Email: ref + "@example.com", Refcode: ref})
		e := pipeline.Entry{Rank: i + 1, Refcode: ref, Score: int64(n - i), Referrals: 2, Conversions: int64(n - i), PendingConversions: 1,
			Revenue: int64(n-i) * 1000, PendingRevenue: 500, ScoreReachedAt: 1772755200, Qualified: i < 10, BoostNum: int64(max(0, 9-i)), BoostDen: 9, Award: int64(1000 * (n - i))}
		if i == 2 {
			e.AdminAction = &pipeline.AdminAction{ActionType: pipeline.Warning, Refcode: ref, Reason: "spam, see mail from x@y.z"}
		}
		if i < n {
			cr1.Leaderboard = append(cr1.Leaderboard, e)
		} else {
			cr1.Unranked = append(cr1.Unranked, pipeline.Entry{Refcode: ref, BoostDen: 1})
		}
		if i < min(n, 3) {
			cr2.Leaderboard = append(cr2.Leaderboard, pipeline.Entry{Rank: i + 1, Refcode: ref, Score: 5000, Revenue: 5000, Qualified: true, Award: 500})
			cr2.Events = append(cr2.Events, pipeline.AccountingLine{InvoiceID: "in_" + ref, Refcode: ref, RefereeEmail: "referee" + ref + "@example.com", Net: 5000})
		} else {
			cr2.Unranked = append(cr2.Unranked, pipeline.Entry{Refcode: ref})
		}
	}
	res.Cycles = []pipeline.CycleResult{cr1, cr2}
	res.Decisions = []pipeline.ReferralDecision{{Row: pipeline.ReferralRow{Email: "referee@example.com", Refcode: "r0000"}, CanonicalEmail: "referee@example.com", Outcome: pipeline.Valid}}
	return res
}

func publish(t *testing.T, dir string, perPage int, id string, res *pipeline.Result) {
	t.Helper()
	if err := public.New(localdir.Open(dir), perPage).Publish(context.Background(), info(id), res); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	validate(t, dir)
}

// validate checks every file a publish left in dir against the public
// contract's schemas (sinks/public/schema).
func validate(t *testing.T, dir string) {
	t.Helper()
	if err := schema.ValidateSnapshot(os.DirFS(dir)); err != nil {
		t.Error(err)
	}
}

func readTree(t *testing.T, dir string) map[string][]byte { return publictest.DirTree(t, dir) }

func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

const id1 = "20260415T000000Z-0123456789ab"

type page struct {
	CycleID     string            `json:"cycleId"`
	Status      string            `json:"status"`
	AsOf        string            `json:"asOf"`
	Entries     []json.RawMessage `json:"entries"`
	PageContext struct {
		Page, RecordsPerPage, TotalRecords, TotalPages int
		HasNext, HasPrev                               bool
	} `json:"pageContext"`
}

func TestPagination(t *testing.T) {
	for _, n := range []int{0, 1, 25, 26, 100} {
		for _, per := range []int{1, 25, 100} {
			t.Run(fmt.Sprintf("n=%d/per=%d", n, per), func(t *testing.T) {
				dir := t.TempDir()
				publish(t, dir, per, id1, result(n))
				files := readTree(t, filepath.Join(dir, "snapshots", id1))
				wantPages := max(1, (n+per-1)/per)
				var ranks []int
				for p := 1; p <= wantPages; p++ {
					b, ok := files[fmt.Sprintf("cycles/cycle-1/leaderboard/%d.json", p)]
					if !ok {
						t.Fatalf("page %d missing", p)
					}
					var pg page
					decode(t, b, &pg)
					pc := pg.PageContext
					if pc.Page != p || pc.RecordsPerPage != per || pc.TotalRecords != n || pc.TotalPages != wantPages ||
						pc.HasNext != (p < wantPages) || pc.HasPrev != (p > 1) {
						t.Errorf("page %d context = %+v", p, pc)
					}
					if pg.CycleID != "cycle-1" || pg.Status != "AwardsReview" || pg.AsOf != "2026-04-15T00:00:00Z" || pg.Entries == nil {
						t.Errorf("page %d header = %+v", p, pg)
					}
					if len(pg.Entries) > per || (p < wantPages && len(pg.Entries) != per) {
						t.Errorf("page %d has %d entries", p, len(pg.Entries))
					}
					for _, e := range pg.Entries {
						var x struct{ Rank int }
						decode(t, e, &x)
						ranks = append(ranks, x.Rank)
					}
				}
				if _, extra := files[fmt.Sprintf("cycles/cycle-1/leaderboard/%d.json", wantPages+1)]; extra {
					t.Errorf("page %d exists", wantPages+1)
				}
				for i, r := range ranks {
					if r != i+1 {
						t.Fatalf("ranks across pages = %v", ranks)
					}
				}
				if len(ranks) != n {
					t.Errorf("%d entries across pages, want %d", len(ranks), n)
				}
			})
		}
	}
}

func TestRecordsPerPageValidated(t *testing.T) {
	for _, per := range []int{-1, 101, 1000} {
		err := public.New(localdir.Open(t.TempDir()), per).Publish(context.Background(), info(id1), result(1))
		if err == nil {
			t.Errorf("recordsPerPage %d: Publish succeeded", per)
		}
	}
	dir := t.TempDir()
	publish(t, dir, 0, id1, result(30)) // 0: the default, 25
	var pg page
	decode(t, readTree(t, dir)["snapshots/"+id1+"/cycles/cycle-1/leaderboard/1.json"], &pg)
	if pg.PageContext.RecordsPerPage != 25 || len(pg.Entries) != 25 || pg.PageContext.TotalPages != 2 {
		t.Errorf("default page = %+v with %d entries", pg.PageContext, len(pg.Entries))
	}
}

func TestManifestAndLatest(t *testing.T) {
	dir := t.TempDir()
	publish(t, dir, 2, id1, result(5))
	all := readTree(t, dir)

	var latest map[string]string
	decode(t, all["latest.json"], &latest)
	if !reflect.DeepEqual(latest, map[string]string{"snapshotId": id1, "path": "snapshots/" + id1 + "/"}) {
		t.Errorf("latest.json = %s", all["latest.json"])
	}

	snap := readTree(t, filepath.Join(dir, "snapshots", id1))
	var m struct {
		SnapshotID, AsOf, CodeVersion, CycleSetSha256 string
		Inputs                                        struct {
			Counts pipeline.InputCounts
			SHA256 string
		}
		Notes []string
		Files []public.FileEntry
	}
	decode(t, snap["manifest.json"], &m)
	if m.SnapshotID != id1 || m.AsOf != "2026-04-15T00:00:00Z" || m.CodeVersion != "v1.0.0" || m.CycleSetSha256 != strings.Repeat("ab", 32) ||
		m.Inputs.SHA256 != strings.Repeat("cd", 32) || m.Inputs.Counts.Referrals != 5 || len(m.Notes) != 2 {
		t.Errorf("manifest header = %+v", m)
	}
	var listed []string
	for _, f := range m.Files {
		listed = append(listed, f.Path)
		b, ok := snap[f.Path]
		if !ok {
			t.Errorf("manifest lists missing file %s", f.Path)
			continue
		}
		sum := sha256.Sum256(b)
		if f.SHA256 != hex.EncodeToString(sum[:]) || f.Bytes != int64(len(b)) {
			t.Errorf("%s: manifest says %s/%d, file is %x/%d", f.Path, f.SHA256, f.Bytes, sum, len(b))
		}
	}
	if !slices.IsSorted(listed) {
		t.Errorf("manifest files not sorted: %v", listed)
	}
	var onDisk []string
	for p := range snap {
		if p != "manifest.json" {
			onDisk = append(onDisk, p)
		}
	}
	slices.Sort(onDisk)
	if !slices.Equal(listed, onDisk) {
		t.Errorf("manifest lists %v, directory holds %v", listed, onDisk)
	}
	// 3 pages (cycle-1) + 2 pages (cycle-2) + cycles.json + 7 referrers
	if len(listed) != 3+2+1+7 {
		t.Errorf("%d files: %v", len(listed), listed)
	}
	for _, b := range all {
		if len(b) == 0 || b[len(b)-1] != '\n' || bytes.Count(b, []byte("\n")) != 1 {
			t.Errorf("file is not one line of compact JSON: %q", b)
		}
	}
}

func TestDeterministicBytes(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	publish(t, a, 3, id1, result(12))
	publish(t, b, 3, id1, result(12))
	ta, tb := readTree(t, a), readTree(t, b)
	if len(ta) != len(tb) {
		t.Fatalf("%d files vs %d", len(ta), len(tb))
	}
	for p, x := range ta {
		if !bytes.Equal(x, tb[p]) {
			t.Errorf("%s differs between two publishes", p)
		}
	}
	// Publishing the same run again into the same directory keeps it.
	publish(t, a, 3, id1, result(12))
	if again := readTree(t, a); !reflect.DeepEqual(again, ta) {
		t.Errorf("re-publishing the same run changed the files")
	}
}

func TestNoEmailPublished(t *testing.T) {
	res := result(4)
	res.Referrers = append(res.Referrers, pipeline.User{Email: "mallory@example.com", Refcode: "mallory@example.com"})
	res.Cycles[0].Leaderboard = append(res.Cycles[0].Leaderboard, pipeline.Entry{Rank: 5, Refcode: "mallory@example.com", Score: 1, Revenue: 1, BoostDen: 1})
	res.Cycles[0].Cycle.DisplayName = "Ask bob@example.com"
	dir := t.TempDir()
	publish(t, dir, 25, id1, res)
	all := readTree(t, dir)
	for p, b := range all {
		if bytes.Contains(b, []byte("@")) || strings.Contains(p, "@") || bytes.Contains(b, []byte(`\u0040`)) {
			t.Errorf("%s contains '@': %s", p, b)
		}
		if bytes.Contains(b, []byte("example.com")) && !strings.HasSuffix(p, "cycles.json") {
			t.Errorf("%s contains an email domain: %s", p, b)
		}
	}
	// The referrer with an email as refcode is still published, redacted.
	var found bool
	for p, b := range all {
		if strings.Contains(p, "/referrers/redacted-") {
			found = true
			var rf struct{ Refcode string }
			decode(t, b, &rf)
			if !strings.HasPrefix(rf.Refcode, "redacted-") {
				t.Errorf("%s refcode = %q", p, rf.Refcode)
			}
		}
	}
	if !found {
		t.Errorf("no redacted referrer file")
	}
}

// latestState is what readers see: latest.json and the snapshot it names.
func latestState(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	all := readTree(t, dir)
	for p := range all {
		if strings.Contains(p, ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
	}
	return all
}

func TestFailedPublishLeavesPrevious(t *testing.T) {
	dir := t.TempDir()
	publish(t, dir, 25, id1, result(30))
	before := latestState(t, dir)
	const id2 = "20260416T000000Z-ba9876543210"

	t.Run("CancelledAfterFiles", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		p := public.New(localdir.Open(dir), 25)
		n := 0
		p.SetBeforeFile(func(string) error {
			if n++; n == 4 {
				cancel()
			}
			return nil
		})
		err := p.Publish(ctx, info(id2), result(40))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Publish = %v, want context.Canceled", err)
		}
		if after := latestState(t, dir); !reflect.DeepEqual(after, before) {
			t.Errorf("a cancelled publish changed the public directory")
		}
	})
	t.Run("WriteError", func(t *testing.T) {
		p := public.New(localdir.Open(dir), 25)
		boom := errors.New("disk full")
		p.SetBeforeFile(func(rel string) error {
			if strings.HasPrefix(rel, "referrers/") {
				return boom
			}
			return nil
		})
		if err := p.Publish(context.Background(), info(id2), result(40)); !errors.Is(err, boom) {
			t.Fatalf("Publish = %v, want the injected error", err)
		}
		if after := latestState(t, dir); !reflect.DeepEqual(after, before) {
			t.Errorf("a failed publish changed the public directory")
		}
	})
	t.Run("BadIDs", func(t *testing.T) {
		for _, id := range []string{"", "../evil", ".tmp-x", "a/b", "latest"} {
			inf := info(id)
			if id == "latest" {
				continue
			}
			if err := public.New(localdir.Open(dir), 25).Publish(context.Background(), inf, result(1)); err == nil {
				t.Errorf("snapshot id %q accepted", id)
			}
		}
		res := result(1)
		res.Cycles[0].Cycle.ID = "../../x"
		if err := public.New(localdir.Open(dir), 25).Publish(context.Background(), info(id2), res); err == nil {
			t.Errorf("cycle id ../../x accepted")
		}
		if after := latestState(t, dir); !reflect.DeepEqual(after, before) {
			t.Errorf("a rejected publish changed the public directory")
		}
	})

	// A later good publish moves latest.json and keeps the old snapshot.
	publish(t, dir, 25, id2, result(40))
	all := latestState(t, dir)
	if !bytes.Contains(all["latest.json"], []byte(id2)) {
		t.Errorf("latest.json = %s", all["latest.json"])
	}
	for p, b := range before {
		if p != "latest.json" && !bytes.Equal(all[p], b) {
			t.Errorf("previous snapshot file %s changed", p)
		}
	}
}

// When latest.json cannot be replaced (here it is a directory), Publish
// fails, leaves latest.json as it was and no temporary file behind.
func TestLatestNotReplaceable(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "latest.json", "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := public.New(localdir.Open(dir), 25).Publish(context.Background(), info(id1), result(3)); err == nil {
		t.Fatalf("Publish succeeded with latest.json a directory")
	}
	if _, err := os.Stat(filepath.Join(dir, "latest.json", "keep")); err != nil {
		t.Errorf("latest.json changed: %v", err)
	}
	latestState(t, dir)
}

// A public directory that cannot be created fails before anything is written.
func TestUnwritableDir(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(parent, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := public.New(localdir.Open(filepath.Join(parent, "public")), 25).Publish(context.Background(), info(id1), result(3)); err == nil {
		t.Fatalf("Publish under a regular file succeeded")
	}
}

func TestStaleTempRemovedAndSnapshotReplaced(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "snapshots", ".tmp-"+id1+"-123", "referrers")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".latest.json.tmp-1"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	publish(t, dir, 25, id1, result(3))
	latestState(t, dir) // no .tmp- left

	// The same id with different content (a dev build re-run) replaces it.
	res := result(5)
	publish(t, dir, 25, id1, res)
	snap := readTree(t, filepath.Join(dir, "snapshots", id1))
	if _, ok := snap["referrers/r0006.json"]; !ok {
		t.Errorf("snapshot not replaced: %v", slices.Sorted(maps.Keys(snap)))
	}
}

func TestDocumentShapes(t *testing.T) {
	dir := t.TempDir()
	publish(t, dir, 25, id1, result(3))
	snap := readTree(t, filepath.Join(dir, "snapshots", id1))

	var cycles struct {
		SnapshotID string
		AsOf       string
		Cycles     []map[string]json.RawMessage
	}
	decode(t, snap["cycles.json"], &cycles)
	if len(cycles.Cycles) != 2 || string(cycles.Cycles[0]["id"]) != `"cycle-2"` {
		t.Fatalf("cycles.json not startTime desc: %s", snap["cycles.json"])
	}
	c2 := cycles.Cycles[0]
	for k, want := range map[string]string{
		"status":             `"Active"`,
		"isFinal":            `false`,
		"settlesAt":          `"2026-05-30T23:59:59Z"`,
		"awardPoolRemaining": `{"currency":"usd","amount":"999000"}`,
		"rulesUrl":           `"https://example.com/rules/cycle-2"`,
	} {
		if string(c2[k]) != want {
			t.Errorf("cycles.json cycle-2 %s = %s, want %s", k, c2[k], want)
		}
	}
	var rules map[string]any
	decode(t, c2["rules"], &rules)
	if rules["awardModel"] != "rev-share-cap" || rules["revenueShareBps"] != 1000.0 || rules["startTime"] != "2026-04-01T00:00:00Z" {
		t.Errorf("rules = %s", c2["rules"])
	}
	if !bytes.Contains(c2["rules"], []byte(`"reason":"fraud reported by [redacted]"`)) {
		t.Errorf("admin action reason not redacted in rules: %s", c2["rules"])
	}
	var tot map[string]json.RawMessage
	decode(t, cycles.Cycles[1]["totals"], &tot)
	if string(tot["revenue"]) != `{"currency":"usd","amount":"3000"}` || string(tot["rankedReferrers"]) != "3" || string(tot["awarded"]) != `{"currency":"usd","amount":"1000000"}` {
		t.Errorf("cycle-1 totals = %s", cycles.Cycles[1]["totals"])
	}

	// pie-split by conversions: score is a number, finalScoreBoost present.
	var p1 page
	decode(t, snap["cycles/cycle-1/leaderboard/1.json"], &p1)
	wantE := `{"rank":3,"refcode":"r0002","score":1,"referrals":2,"conversions":1,"pendingConversions":1,` +
		`"revenue":{"currency":"usd","amount":"1000"},"pendingRevenue":{"currency":"usd","amount":"500"},"qualified":true,` +
		`"finalScoreBoost":0.7777777777777778,"award":{"currency":"usd","amount":"1000"},` +
		`"adminAction":{"actionType":"Warning","reason":"spam, see mail from [redacted]"}}`
	if got := string(p1.Entries[2]); got != wantE {
		t.Errorf("entry:\n got %s\nwant %s", got, wantE)
	}
	if !bytes.Contains(p1.Entries[0], []byte(`"finalScoreBoost":1,`)) || !bytes.Contains(p1.Entries[0], []byte(`"adminAction":null`)) {
		t.Errorf("entry 1 = %s", p1.Entries[0])
	}
	// rev-share-cap: score is Money, no finalScoreBoost.
	var p2 page
	decode(t, snap["cycles/cycle-2/leaderboard/1.json"], &p2)
	if !bytes.Contains(p2.Entries[0], []byte(`"score":{"currency":"usd","amount":"5000"}`)) || bytes.Contains(p2.Entries[0], []byte("finalScoreBoost")) {
		t.Errorf("rev-share-cap entry = %s", p2.Entries[0])
	}

	// Referrer files: every users refcode, every cycle; unranked has rank null.
	wantR := `{"refcode":"r0004","cycles":{"cycle-1":{"type":"unranked","rank":null,"score":0,"referrals":0,"conversions":0,` +
		`"pendingConversions":0,"revenue":{"currency":"usd","amount":"0"},"pendingRevenue":{"currency":"usd","amount":"0"},` +
		`"qualified":false,"finalScoreBoost":0,"award":{"currency":"usd","amount":"0"},"adminAction":null},` +
		`"cycle-2":{"type":"unranked","rank":null,"score":{"currency":"usd","amount":"0"},"referrals":0,"conversions":0,` +
		`"pendingConversions":0,"revenue":{"currency":"usd","amount":"0"},"pendingRevenue":{"currency":"usd","amount":"0"},` +
		`"qualified":false,"award":{"currency":"usd","amount":"0"},"adminAction":null}}}` + "\n"
	if got := string(snap["referrers/r0004.json"]); got != wantR {
		t.Errorf("unranked referrer:\n got %s\nwant %s", got, wantR)
	}
	var r0 struct {
		Refcode string
		Cycles  map[string]struct {
			Type string
			Rank *int
		}
	}
	decode(t, snap["referrers/r0000.json"], &r0)
	if r0.Refcode != "r0000" || r0.Cycles["cycle-1"].Type != "ranked" || *r0.Cycles["cycle-1"].Rank != 1 || *r0.Cycles["cycle-2"].Rank != 1 {
		t.Errorf("ranked referrer = %+v", r0)
	}
	n := 0
	for p := range snap {
		if strings.HasPrefix(p, "referrers/") {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d referrer files, want 5", n)
	}
}

// BenchmarkPublish publishes 20k referrers (20k ranked in one cycle).
// cpu-ns/op is the process's user+system CPU per publish (the kernel's file
// creation included; other processes on the machine do not count in it).
func BenchmarkPublish(b *testing.B) {
	res := result(20_000)
	var cpu cpumeter.Meter
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		cpu.Start()
		if err := public.New(localdir.Open(dir), 100).Publish(context.Background(), info(id1), res); err != nil {
			b.Fatal(err)
		}
		cpu.Stop()
	}
	cpu.Report(b)
}

// result12 is result(n) with its first cycle 12 times (the 1M run's shape:
// a referrer file holds an entry per cycle, ~4 KB).
func result12(n int) *pipeline.Result {
	res := result(n)
	one := res.Cycles[0]
	res.Cycles = nil
	for i := range 12 {
		c := one
		c.Cycle.ID = fmt.Sprintf("cycle-%02d", i+1)
		res.Cycles = append(res.Cycles, c)
	}
	return res
}

// BenchmarkRender renders and encodes the documents of 20k referrers in 12
// cycles without storing them: the publish's CPU beside its writer.
func BenchmarkRender(b *testing.B) {
	res := result12(20_000)
	var buf bytes.Buffer
	var cpu cpumeter.Meter
	files := 0
	for b.Loop() {
		files = 0
		cpu.Start()
		if err := public.RenderEncoded(info(id1), res, 25, &buf, func(string) { files++ }); err != nil {
			b.Fatal(err)
		}
		cpu.Stop()
	}
	cpu.Report(b)
	b.ReportMetric(float64(files), "files/op")
}

// BenchmarkPublishNextNight publishes the 20k referrers of BenchmarkPublish
// again under a new snapshot id, as the next night does: every file is
// linked from the previous snapshot after its content is checked.
func BenchmarkPublishNextNight(b *testing.B) {
	benchNextNight(b, result(20_000))
}

// BenchmarkPublishNextNight12 is BenchmarkPublishNextNight with 12 cycles:
// referrer files of ~4 KB, as at 1M, whose content check reads 4 KB each.
func BenchmarkPublishNextNight12(b *testing.B) {
	benchNextNight(b, result12(20_000))
}

func benchNextNight(b *testing.B, res *pipeline.Result) {
	dir := b.TempDir()
	if err := public.New(localdir.Open(dir), 100).Publish(context.Background(), info(id1), res); err != nil {
		b.Fatal(err)
	}
	var cpu cpumeter.Meter
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("20260416T000000Z-%012x", i)
		cpu.Start()
		if err := public.New(localdir.Open(dir), 100).Publish(context.Background(), info(id), res); err != nil {
			b.Fatal(err)
		}
		cpu.Stop()
	}
	cpu.Report(b)
}
