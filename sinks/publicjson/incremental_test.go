package publicjson_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/publicjson"
	"github.com/refrecon/refrecon/sinks/snapshots"
)

const id2 = "20260416T000000Z-ba9876543210"

// nextNight is result(30) with one referrer's figures changed (r0005, in
// cycle-1's leaderboard, on its second page at 25 per page).
func nextNight() *pipeline.Result {
	res := result(30)
	res.Cycles[0].Leaderboard[5].Referrals++
	return res
}

func snapDir(dir, id string) string { return filepath.Join(dir, "snapshots", id) }

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(fa, fb)
}

// coldTree is what publishing res as id into an empty directory gives.
func coldTree(t *testing.T, id string, res *pipeline.Result) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	publish(t, dir, 25, id, res)
	return readTree(t, dir)
}

// checkManifest checks every file the manifest of snapshot id lists
// against its bytes on disk.
func checkManifest(t *testing.T, dir, id string) {
	t.Helper()
	var m struct {
		Files []publicjson.FileEntry `json:"files"`
	}
	b, err := os.ReadFile(filepath.Join(snapDir(dir, id), "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	decode(t, b, &m)
	if len(m.Files) == 0 {
		t.Fatal("manifest lists no file")
	}
	for _, f := range m.Files {
		data, err := os.ReadFile(filepath.Join(snapDir(dir, id), filepath.FromSlash(f.Path)))
		if err != nil {
			t.Errorf("%s: %v", f.Path, err)
			continue
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(data)) != f.Bytes {
			t.Errorf("%s does not match the manifest", f.Path)
		}
	}
}

// A second publish links the files whose bytes did not change to the
// previous snapshot's and writes the others; the result is byte for byte
// (manifest included) a publish into an empty directory.
func TestIncrementalPublishLinksUnchanged(t *testing.T) {
	dir := t.TempDir()
	publish(t, dir, 25, id1, result(30))
	p := publicjson.New(dir, 25)
	s, err := p.Prepare(context.Background(), info(id2), nextNight())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()

	want := coldTree(t, id2, nextNight())
	got := readTree(t, dir)
	for p, b := range want {
		if !bytes.Equal(got[p], b) {
			t.Errorf("%s differs from a publish into an empty directory", p)
		}
	}
	checkManifest(t, dir, id2)

	linked := 0
	for p := range readTree(t, snapDir(dir, id2)) {
		same := false
		if _, err := os.Stat(filepath.Join(snapDir(dir, id1), p)); err == nil {
			same = sameFile(t, filepath.Join(snapDir(dir, id1), p), filepath.Join(snapDir(dir, id2), p))
		}
		switch {
		case p == "manifest.json", p == "cycles.json", p == "referrers/r0005.json", p == "cycles/cycle-1/leaderboard/1.json":
			if same {
				t.Errorf("%s changed but is a link to the previous snapshot's", p)
			}
		case strings.HasPrefix(p, "referrers/"), strings.HasPrefix(p, "cycles/"):
			if !same {
				t.Errorf("%s did not change but was written again", p)
			}
		}
		if same {
			linked++
		}
	}
	// 32 referrer files, 2 + 1 leaderboard pages: all but r0005 and page 1
	// of cycle-1 are linked.
	if linked != 32-1+3-1 || st.Linked != linked {
		t.Errorf("%d files linked, Stats says %d, want %d", linked, st.Linked, 32-1+3-1)
	}
	if st.Files != len(want)-1 { // the tree is latest.json and the snapshot's files
		t.Errorf("Stats.Files = %d, want %d", st.Files, len(want)-1)
	}

	// Retention removing the old snapshot leaves the new one whole.
	removed, err := snapshots.Prune(dir, 1)
	if err != nil || !reflect.DeepEqual(removed, []string{id1}) {
		t.Fatalf("Prune = %v, %v", removed, err)
	}
	if got := readTree(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("after pruning the previous snapshot the public directory is not the cold publish's")
	}
	checkManifest(t, dir, id2)
}

// When hard links fail (a filesystem without them), every file is written
// and the bytes are the same.
func TestIncrementalLinkFailureWrites(t *testing.T) {
	dir := t.TempDir()
	publish(t, dir, 25, id1, result(30))
	calls := 0
	p := publicjson.New(dir, 25)
	p.SetLink(func(string, string) error {
		calls++
		return &os.LinkError{Op: "link", Err: errors.New("operation not permitted")}
	})
	if err := p.Publish(context.Background(), info(id2), nextNight()); err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Fatal("no link was tried")
	}
	if calls > 16 {
		t.Errorf("%d links tried after they kept failing, want at most 16", calls)
	}
	for p := range readTree(t, snapDir(dir, id2)) {
		if _, err := os.Stat(filepath.Join(snapDir(dir, id1), p)); err == nil &&
			sameFile(t, filepath.Join(snapDir(dir, id1), p), filepath.Join(snapDir(dir, id2), p)) {
			t.Errorf("%s is a link although linking failed", p)
		}
	}
	if got, want := readTree(t, dir), coldTree(t, id2, nextNight()); !reflect.DeepEqual(withoutSnapshot(got, id1), want) {
		t.Errorf("bytes differ from a publish into an empty directory")
	}
}

func withoutSnapshot(tree map[string][]byte, id string) map[string][]byte {
	out := map[string][]byte{}
	for p, b := range tree {
		if !strings.HasPrefix(p, "snapshots/"+id+"/") {
			out[p] = b
		}
	}
	return out
}

// A previous file whose size on disk is not the manifest's (someone edited
// a published file, which must never happen) is not linked.
func TestIncrementalChecksPreviousSize(t *testing.T) {
	dir := t.TempDir()
	publish(t, dir, 25, id1, result(30))
	edited := filepath.Join(snapDir(dir, id1), "referrers", "r0007.json")
	if err := os.WriteFile(edited, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	publish(t, dir, 25, id2, nextNight())
	if sameFile(t, edited, filepath.Join(snapDir(dir, id2), "referrers", "r0007.json")) {
		t.Error("a previous file of another size was linked")
	}
	if !sameFile(t, filepath.Join(snapDir(dir, id1), "referrers", "r0008.json"), filepath.Join(snapDir(dir, id2), "referrers", "r0008.json")) {
		t.Error("an unchanged file was not linked")
	}
	checkManifest(t, dir, id2)
}

// Prepare publishes nothing; Abort removes what it staged; Commit publishes.
func TestPrepareCommitAbort(t *testing.T) {
	dir := t.TempDir()
	publish(t, dir, 25, id1, result(30))
	before := latestState(t, dir)

	p := publicjson.New(dir, 25)
	s, err := p.Prepare(context.Background(), info(id2), nextNight())
	if err != nil {
		t.Fatal(err)
	}
	staged := readTree(t, dir)
	if !bytes.Equal(staged["latest.json"], before["latest.json"]) {
		t.Error("Prepare changed latest.json")
	}
	if _, err := os.Stat(snapDir(dir, id2)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Prepare made snapshots/%s (err %v); it must stay a temporary directory until Commit", id2, err)
	}
	if err := s.Abort(); err != nil {
		t.Fatal(err)
	}
	if after := latestState(t, dir); !reflect.DeepEqual(after, before) {
		t.Error("Prepare and Abort changed the public directory")
	}
	if err := s.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if err := s.Abort(); err != nil {
		t.Errorf("a second Abort: %v", err)
	}

	s, err = p.Prepare(context.Background(), info(id2), nextNight())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	all := latestState(t, dir)
	if !bytes.Contains(all["latest.json"], []byte(id2)) {
		t.Errorf("latest.json = %s", all["latest.json"])
	}
	checkManifest(t, dir, id2)
}
