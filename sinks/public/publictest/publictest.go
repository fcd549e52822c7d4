// Package publictest is the conformance suite every sinks/public storage
// driver passes (go-cloud's blob/drivertest, for public.Storage): reads of
// missing objects, latest.json replaced whole (and conditionally where the
// store has versions), a snapshot written, listed, committed, aborted,
// reused from a previous one and deleted, keys that are not clean refused,
// the lock, and a whole Publish read back through public.Reader.
package publictest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/schema"
)

// Options says what a driver offers beyond the minimum.
type Options struct {
	// ConditionalLatest: WriteLatest with a version that is not the
	// current one fails with public.ErrConflict.
	ConditionalLatest bool
}

// RunStorageTests runs the suite. open returns a new, empty store each
// time it is called.
func RunStorageTests(t *testing.T, open func(t *testing.T) public.Storage, opts Options) {
	t.Run("Missing", func(t *testing.T) { testMissing(t, open(t)) })
	t.Run("Latest", func(t *testing.T) { testLatest(t, open(t), opts) })
	t.Run("Snapshot", func(t *testing.T) { testSnapshot(t, open(t)) })
	t.Run("Abort", func(t *testing.T) { testAbort(t, open(t)) })
	t.Run("Reuse", func(t *testing.T) { testReuse(t, open(t)) })
	t.Run("BadKeys", func(t *testing.T) { testBadKeys(t, open(t)) })
	t.Run("Lock", func(t *testing.T) { testLock(t, open(t)) })
	t.Run("Publish", func(t *testing.T) { testPublish(t, open(t)) })
}

var ctx = context.Background()

const (
	idA = "20260415T000000Z-aaaaaaaaaaaa"
	idB = "20260416T000000Z-bbbbbbbbbbbb"
)

func testMissing(t *testing.T, s public.Storage) {
	if _, err := s.ReadObject(ctx, "snapshots/"+idA+"/manifest.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadObject of a missing key: %v, want fs.ErrNotExist", err)
	}
	if _, _, err := s.ReadLatest(ctx); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadLatest on an empty store: %v, want fs.ErrNotExist", err)
	}
	if names, err := s.ListSnapshots(ctx); err != nil || len(names) != 0 {
		t.Errorf("ListSnapshots on an empty store: %v, %v", names, err)
	}
	if err := s.DeleteSnapshot(ctx, idA); err != nil {
		t.Errorf("DeleteSnapshot of a missing snapshot: %v", err)
	}
	if _, err := public.NewReader(s).Latest(ctx); !errors.Is(err, public.ErrNoSnapshot) {
		t.Errorf("Reader.Latest on an empty store: %v, want ErrNoSnapshot", err)
	}
	if s.String() == "" {
		t.Error("String() is empty")
	}
}

func testLatest(t *testing.T, s public.Storage, opts Options) {
	one := []byte(`{"snapshotId":"` + idA + `","path":"snapshots/` + idA + `/"}` + "\n")
	two := []byte(`{"snapshotId":"` + idB + `","path":"snapshots/` + idB + `/"}` + "\n")
	if err := s.WriteLatest(ctx, one, ""); err != nil {
		t.Fatalf("first WriteLatest: %v", err)
	}
	got, v1, err := s.ReadLatest(ctx)
	if err != nil || !bytes.Equal(got, one) {
		t.Fatalf("ReadLatest = %q, %v; want %q", got, err, one)
	}
	if opts.ConditionalLatest {
		if err := s.WriteLatest(ctx, two, ""); !errors.Is(err, public.ErrConflict) {
			t.Errorf("WriteLatest if-absent over an existing latest.json: %v, want ErrConflict", err)
		}
		if err := s.WriteLatest(ctx, two, v1+"x"); !errors.Is(err, public.ErrConflict) {
			t.Errorf("WriteLatest with a stale version: %v, want ErrConflict", err)
		}
		if got, _, _ := s.ReadLatest(ctx); !bytes.Equal(got, one) {
			t.Errorf("a refused WriteLatest changed latest.json to %q", got)
		}
	}
	if err := s.WriteLatest(ctx, two, v1); err != nil {
		t.Fatalf("WriteLatest at the version read: %v", err)
	}
	if got, _, err := s.ReadLatest(ctx); err != nil || !bytes.Equal(got, two) {
		t.Errorf("ReadLatest after replace = %q, %v; want %q", got, err, two)
	}
	if got, err := s.ReadObject(ctx, public.LatestName); err != nil || !bytes.Equal(got, two) {
		t.Errorf("ReadObject(latest.json) = %q, %v", got, err)
	}
}

// objects is a small snapshot: nested keys, an empty object, odd bytes.
var objects = map[string][]byte{
	"cycles.json":                      []byte(`{"cycles":[]}` + "\n"),
	"cycles/c-1/leaderboard/1.json":    []byte(`{"page":1}` + "\n"),
	"cycles/c-1/leaderboard/2.json":    []byte(`{"page":2}` + "\n"),
	"referrers/a.json":                 []byte(`{"refcode":"a"}` + "\n"),
	"referrers/~2E~2E~2Fx.json":        []byte(`{"refcode":"../x"}` + "\n"),
	"referrers/B.json":                 []byte("\x00\xff binary is fine\n"),
	"referrers/empty.json":             {},
	"referrers/name.with.dots-_~.json": []byte("{}\n"),
}

// put stores objects in w, from Parallelism() goroutines when it asks.
func put(t *testing.T, w public.SnapshotWriter, objs map[string][]byte) {
	t.Helper()
	n := 1
	if p, ok := w.(public.Parallel); ok {
		n = max(1, p.Parallelism())
	}
	keys := slices.Sorted(maps.Keys(objs))
	errs := make(chan error, len(keys))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, k := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := w.Put(ctx, k, objs[k]); err != nil {
				errs <- fmt.Errorf("put %s: %w", k, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func checkList(t *testing.T, w public.SnapshotWriter, want map[string][]byte) {
	t.Helper()
	got, err := w.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	have := map[string]int64{}
	for _, o := range got {
		if _, dup := have[o.Key]; dup {
			t.Errorf("List: %s twice", o.Key)
		}
		have[o.Key] = o.Size
	}
	for k, b := range want {
		if size, ok := have[k]; !ok || size != int64(len(b)) {
			t.Errorf("List: %s: size %d (listed %v), want %d", k, size, ok, len(b))
		}
	}
	if len(have) != len(want) {
		t.Errorf("List: %d objects, want %d", len(have), len(want))
	}
}

func checkObjects(t *testing.T, s public.Storage, id string, want map[string][]byte) {
	t.Helper()
	for k, b := range want {
		got, err := s.ReadObject(ctx, public.SnapshotKey(id, k))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("ReadObject %s/%s = %q, %v; want %q", id, k, got, err, b)
		}
	}
}

func writeSnapshot(t *testing.T, s public.Storage, id string, objs map[string][]byte) {
	t.Helper()
	w, err := s.NewSnapshot(ctx, id)
	if err != nil {
		t.Fatalf("NewSnapshot: %v", err)
	}
	put(t, w, objs)
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	checkList(t, w, objs)
	if err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func testSnapshot(t *testing.T, s public.Storage) {
	w, err := s.NewSnapshot(ctx, idA)
	if err != nil {
		t.Fatal(err)
	}
	put(t, w, objects)
	if err := w.Put(ctx, "referrers/a.json", []byte("other bytes")); err == nil {
		t.Error("Put over an object of this snapshot succeeded; want an error")
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkList(t, w, objects)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(ctx); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	checkObjects(t, s, idA, objects)
	if names, err := s.ListSnapshots(ctx); err != nil || !slices.Contains(names, idA) {
		t.Errorf("ListSnapshots = %v, %v; want %s among them", names, err, idA)
	}
	writeSnapshot(t, s, idB, map[string][]byte{"cycles.json": []byte("b\n")})
	names, err := s.ListSnapshots(ctx)
	if err != nil || !slices.IsSorted(names) || !slices.Contains(names, idB) {
		t.Errorf("ListSnapshots = %v, %v; want sorted, with %s", names, err, idB)
	}
	if err := s.DeleteSnapshot(ctx, idA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadObject(ctx, public.SnapshotKey(idA, "referrers/a.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after DeleteSnapshot, ReadObject: %v, want fs.ErrNotExist", err)
	}
	if names, _ := s.ListSnapshots(ctx); slices.Contains(names, idA) {
		t.Errorf("after DeleteSnapshot, ListSnapshots = %v", names)
	}
	checkObjects(t, s, idB, map[string][]byte{"cycles.json": []byte("b\n")})
}

func testAbort(t *testing.T, s public.Storage) {
	w, err := s.NewSnapshot(ctx, idA)
	if err != nil {
		t.Fatal(err)
	}
	put(t, w, objects)
	if err := w.Abort(ctx); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := w.Abort(ctx); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	for k := range objects {
		if _, err := s.ReadObject(ctx, public.SnapshotKey(idA, k)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after Abort, %s: %v, want fs.ErrNotExist", k, err)
		}
	}
	if names, _ := s.ListSnapshots(ctx); slices.Contains(names, idA) {
		t.Errorf("after Abort, ListSnapshots = %v", names)
	}
	if err := w.Commit(ctx); err == nil {
		t.Error("Commit after Abort succeeded")
	}
}

func testReuse(t *testing.T, s public.Storage) {
	writeSnapshot(t, s, idA, objects)
	w, err := s.NewSnapshot(ctx, idB)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, k := range []string{"referrers/a.json", "cycles/c-1/leaderboard/2.json", "referrers/empty.json"} {
		if !w.Reuse(ctx, k, idA, int64(len(objects[k])), sha256.Sum256(objects[k])) {
			t.Logf("Reuse %s: not reused (the driver may decline)", k)
			if err := w.Put(ctx, k, objects[k]); err != nil {
				t.Fatal(err)
			}
		}
		want[k] = objects[k]
	}
	b := objects["referrers/B.json"]
	if w.Reuse(ctx, "referrers/B.json", idA, int64(len(b))+1, sha256.Sum256(b)) {
		t.Error("Reuse with a size the previous object does not have succeeded")
	}
	// The same size but other bytes: the previous object was damaged (or
	// replaced) since its manifest was written. Reuse must check the
	// content, not only the size.
	other := bytes.Repeat([]byte("x"), len(b))
	if w.Reuse(ctx, "referrers/B.json", idA, int64(len(b)), sha256.Sum256(other)) {
		t.Error("Reuse of an object whose bytes do not have the given sha256 succeeded")
	}
	if w.Reuse(ctx, "referrers/missing.json", idA, 3, sha256.Sum256([]byte("abc"))) {
		t.Error("Reuse of an object the previous snapshot does not have succeeded")
	}
	if cr, ok := w.(public.ContentReuser); ok {
		// The same checks against the bytes themselves.
		k := "cycles/c-1/leaderboard/1.json"
		if !cr.ReuseContent(ctx, k, idA, objects[k]) {
			t.Logf("ReuseContent %s: not reused (the driver may decline)", k)
			if err := w.Put(ctx, k, objects[k]); err != nil {
				t.Fatal(err)
			}
		}
		want[k] = objects[k]
		if cr.ReuseContent(ctx, "referrers/B.json", idA, append(slices.Clone(b), 'x')) {
			t.Error("ReuseContent with bytes longer than the previous object succeeded")
		}
		if cr.ReuseContent(ctx, "referrers/B.json", idA, other) {
			t.Error("ReuseContent of an object that has other bytes of the same size succeeded")
		}
		if cr.ReuseContent(ctx, "referrers/missing.json", idA, []byte("abc")) {
			t.Error("ReuseContent of an object the previous snapshot does not have succeeded")
		}
	}
	want["referrers/B.json"] = []byte("new bytes\n")
	put(t, w, map[string][]byte{"referrers/B.json": want["referrers/B.json"]})
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkList(t, w, want)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, s, idB, want)
	// The previous snapshot is untouched, and deleting it leaves the new one whole.
	checkObjects(t, s, idA, objects)
	if err := s.DeleteSnapshot(ctx, idA); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, s, idB, want)
}

func testBadKeys(t *testing.T, s public.Storage) {
	for _, k := range []string{"", "/abs", "../escape", "a/../../b", "a//b", "./a", "a/.", "a\\b"} {
		if _, err := s.ReadObject(ctx, k); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadObject(%q): %v, want a refusal", k, err)
		}
	}
	w, err := s.NewSnapshot(ctx, idA)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort(ctx)
	for _, k := range []string{"", "/abs", "../escape", "a/../../b", "a//b"} {
		if err := w.Put(ctx, k, []byte("x")); err == nil {
			t.Errorf("Put(%q) succeeded, want a refusal", k)
		}
	}
	for _, id := range []string{"", "../x", "a/b", ".tmp-x"} {
		if w, err := s.NewSnapshot(ctx, id); err == nil {
			w.Abort(ctx)
			t.Errorf("NewSnapshot(%q) succeeded, want a refusal", id)
		}
	}
}

func testLock(t *testing.T, s public.Storage) {
	unlock, err := s.Lock(ctx, public.LockRequest{RunID: "run-1", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Lock(ctx, public.LockRequest{RunID: "run-2", TTL: time.Hour})
	var le *public.LockedError
	if !errors.Is(err, public.ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("second Lock: %v, want a LockedError", err)
	}
	if le.Holder.RunID != "run-1" {
		t.Errorf("holder = %+v, want run-1", le.Holder)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if u, err := s.Lock(cctx, public.LockRequest{RunID: "run-3", TTL: time.Hour, Wait: true}); err == nil {
		u()
		t.Error("a waiting Lock with a cancelled context got the lock")
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Errorf("second unlock: %v", err)
	}
	unlock, err = s.Lock(ctx, public.LockRequest{RunID: "run-4", TTL: time.Hour})
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

// Result is a run result for suites that publish a whole snapshot: one
// pie-split cycle with n referrers, all but the last two ranked, as
// snapshot id at 2026-04-15T00:00:00Z.
func Result(id string, n int) (pipeline.RunInfo, *pipeline.Result) {
	asOf := time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := pipeline.Cycle{ID: "cycle-1", DisplayName: "March", RulesURL: "https://example.com/rules", Rules: pipeline.Rules{
		AwardModel: pipeline.PieSplit, StartTime: start, EndTime: start.Add(30*24*time.Hour - time.Second), Currency: "usd",
		AwardPool: pipeline.Money{Currency: "usd", Amount: 10_000}, EligiblePlans: []string{}, HoldDays: 30,
		MinPaymentsToConvert: 1, MaxQualifiedReferrers: 3, ScoreBy: pipeline.ScoreByConversions,
	}}
	cr := pipeline.CycleResult{Cycle: c, Status: pipeline.AwardsReview, SettlesAt: c.Rules.EndTime.Add(30 * 24 * time.Hour)}
	res := &pipeline.Result{AsOf: asOf}
	for i := range n {
		ref := fmt.Sprintf("ref%04d", i)
		res.Referrers = append(res.Referrers, pipeline.User{Email: ref + "@example.com", Refcode: ref})
		if i < n-2 {
			cr.Leaderboard = append(cr.Leaderboard, pipeline.Entry{Rank: i + 1, Refcode: ref, Score: int64(n - i), Conversions: int64(n - i),
				Qualified: i < 3, BoostNum: int64(max(0, 2-i)), BoostDen: 2, Award: int64(max(0, 3-i) * 1000)})
		} else {
			cr.Unranked = append(cr.Unranked, pipeline.Entry{Refcode: ref})
		}
	}
	res.Cycles = []pipeline.CycleResult{cr}
	info := pipeline.RunInfo{SnapshotID: id, AsOf: asOf, CodeVersion: "test", CycleSetSHA256: strings.Repeat("ab", 32),
		Inputs: pipeline.InputsDigest{SHA256: strings.Repeat("cd", 32)}}
	return info, res
}

// DirTree returns every regular file under dir by '/'-separated relative
// path: what a publish left in a local directory, to compare with a store.
func DirTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testPublish(t *testing.T, s public.Storage) {
	info, res := Result(idA, 5)
	if err := public.New(s, 2).Publish(ctx, info, res); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	r := public.NewReader(s)
	id, err := r.Latest(ctx)
	if err != nil || id != idA {
		t.Fatalf("Reader.Latest = %q, %v; want %s", id, err, idA)
	}
	Validate(t, s)
	m, err := r.Manifest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// cycles.json, 2 leaderboard pages, 5 referrer files.
	if len(m.Files) != 8 {
		t.Errorf("manifest lists %d files, want 8: %+v", len(m.Files), m.Files)
	}
	for _, f := range m.Files {
		b, err := r.Document(ctx, id, f.Path)
		if err != nil || int64(len(b)) != f.Bytes {
			t.Errorf("Document %s: %d bytes, %v; manifest says %d", f.Path, len(b), err, f.Bytes)
		}
	}
	if _, err := r.Document(ctx, id, "../latest.json"); err == nil {
		t.Error("Document outside the snapshot was read")
	}
	// The next night reuses what did not change and is published over it.
	next := info
	next.SnapshotID, next.AsOf = idB, info.AsOf.Add(24*time.Hour)
	res.Cycles[0].Leaderboard[0].Referrals++
	p := public.New(s, 2)
	st, err := p.Prepare(ctx, next, res)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := r.Latest(ctx); id != idA {
		t.Errorf("Prepare moved latest.json to %s", id)
	}
	if err := st.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if id, _ := r.Latest(ctx); id != idB {
		t.Errorf("after Commit latest.json names %s, want %s", id, idB)
	}
	Validate(t, s)
	ids, err := r.Snapshots(ctx)
	if err != nil || !slices.Equal(ids, []string{idA, idB}) {
		t.Errorf("Snapshots = %v, %v", ids, err)
	}
	// A settled cycle reads back from its snapshot, and a snapshot a
	// settlement names outlives the retention (SPEC 2.8).
	if _, err := r.Settled(ctx, res.Cycles[0].Cycle.ID, idA); err != nil {
		t.Errorf("Settled: %v", err)
	}
	protect := func(context.Context) ([]string, error) { return []string{idA}, nil }
	if removed, err := public.Prune(ctx, s, public.Retention{Keep: 1, Protected: protect}); err != nil || len(removed) != 0 {
		t.Errorf("Prune with %s protected = %v, %v; want nothing removed", idA, removed, err)
	}
	if _, err := r.Manifest(ctx, idA); err != nil {
		t.Errorf("the protected snapshot: %v", err)
	}
	removed, err := public.Prune(ctx, s, public.Retention{Keep: 1})
	if err != nil || !slices.Equal(removed, []string{idA}) {
		t.Errorf("Prune = %v, %v; want [%s]", removed, err, idA)
	}
	m, err = r.Manifest(ctx, idB)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if b, err := r.Document(ctx, idB, f.Path); err != nil || int64(len(b)) != f.Bytes {
			t.Errorf("after Prune, %s: %d bytes, %v", f.Path, len(b), err)
		}
	}
}

// Validate checks what s holds against the public contract
// (sinks/public/schema): latest.json, and every document of the snapshot it
// names (manifest.json and each file the manifest lists), each against the
// schema of its path. Every test that publishes calls it (or
// schema.ValidateSnapshot on a directory).
func Validate(t testing.TB, s public.Storage) {
	t.Helper()
	latest, _, err := s.ReadLatest(ctx)
	if err != nil {
		t.Fatalf("validate %s: %v", s, err)
	}
	if err := schema.Validate(schema.Latest, latest); err != nil {
		t.Errorf("%s: latest.json: %v", s, err)
		return
	}
	r := public.NewReader(s)
	id, err := r.Latest(ctx)
	if err != nil {
		t.Fatalf("validate %s: %v", s, err)
	}
	m, err := r.Document(ctx, id, public.ManifestName)
	if err != nil {
		t.Fatalf("validate %s: %v", s, err)
	}
	if err := schema.Validate(schema.Manifest, m); err != nil {
		t.Errorf("%s: snapshot %s: manifest.json: %v", s, id, err)
	}
	man, err := r.Manifest(ctx, id)
	if err != nil {
		t.Fatalf("validate %s: %v", s, err)
	}
	for _, f := range man.Files {
		kind, err := schema.KindOf(f.Path)
		if err != nil {
			t.Errorf("%s: snapshot %s: %v", s, id, err)
			continue
		}
		b, err := r.Document(ctx, id, f.Path)
		if err != nil {
			t.Errorf("%s: snapshot %s: %v", s, id, err)
			continue
		}
		if err := schema.Validate(kind, b); err != nil {
			t.Errorf("%s: snapshot %s: %s: %v", s, id, f.Path, err)
		}
	}
}
