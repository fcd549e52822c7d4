package localdir_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	"github.com/refrecon/refrecon/sinks/public/publictest"
)

const (
	id1 = "20260415T000000Z-0123456789ab"
	id2 = "20260416T000000Z-ba9876543210"
)

var ctx = context.Background()

// night is the snapshot of 32 referrers (30 ranked: two leaderboard pages
// at 25 per page) as id; the second night has one referrer's figures
// changed (ref0005, on page 1).
func night(id string, second bool) (pipeline.RunInfo, *pipeline.Result) {
	info, res := publictest.Result(id, 32)
	if second {
		res.Cycles[0].Leaderboard[5].Referrals++
	}
	return info, res
}

func publish(t *testing.T, d *localdir.Dir, id string, second bool) {
	t.Helper()
	info, res := night(id, second)
	if err := public.New(d, 25).Publish(ctx, info, res); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	publictest.Validate(t, d)
}

// firstNight is a public directory holding the first night's snapshot (id1).
func firstNight(t *testing.T) (string, *localdir.Dir) {
	t.Helper()
	dir := t.TempDir()
	d := localdir.Open(dir)
	publish(t, d, id1, false)
	return dir, d
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

// linkedToFirst says whether the file p of snapshot id2 in dir is the same
// file as p of snapshot id1 (a link to the first night's).
func linkedToFirst(t *testing.T, dir, p string) bool {
	t.Helper()
	return sameFile(t, filepath.Join(snapDir(dir, id1), p), filepath.Join(snapDir(dir, id2), p))
}

// coldTree is what publishing the second night as id into an empty
// directory gives.
func coldTree(t *testing.T, id string) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	publish(t, localdir.Open(dir), id, true)
	return publictest.DirTree(t, dir)
}

// checkManifest checks every file the manifest of snapshot id lists
// against its bytes on disk.
func checkManifest(t *testing.T, dir, id string) {
	t.Helper()
	var m public.Manifest
	b, err := os.ReadFile(filepath.Join(snapDir(dir, id), "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
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
	dir, d := firstNight(t)
	info, res := night(id2, true)
	s, err := public.New(d, 25).Prepare(ctx, info, res)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()

	want := coldTree(t, id2)
	got := publictest.DirTree(t, dir)
	for p, b := range want {
		if !bytes.Equal(got[p], b) {
			t.Errorf("%s differs from a publish into an empty directory", p)
		}
	}
	checkManifest(t, dir, id2)

	linked := 0
	for p := range publictest.DirTree(t, snapDir(dir, id2)) {
		same := false
		if _, err := os.Stat(filepath.Join(snapDir(dir, id1), p)); err == nil {
			same = linkedToFirst(t, dir, p)
		}
		switch {
		case p == "manifest.json", p == "cycles.json", p == "referrers/ref0005.json", p == "cycles/cycle-1/leaderboard/1.json":
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
	// 32 referrer files, 2 leaderboard pages: all but ref0005 and page 1
	// are linked.
	if linked != 32-1+2-1 || st.Linked != linked {
		t.Errorf("%d files linked, Stats says %d, want %d", linked, st.Linked, 32-1+2-1)
	}
	if st.Files != len(want)-1 { // the tree is latest.json and the snapshot's files
		t.Errorf("Stats.Files = %d, want %d", st.Files, len(want)-1)
	}

	// Retention removing the old snapshot leaves the new one whole.
	removed, err := public.Prune(ctx, d, public.Retention{Keep: 1})
	if err != nil || !reflect.DeepEqual(removed, []string{id1}) {
		t.Fatalf("Prune = %v, %v", removed, err)
	}
	if got := publictest.DirTree(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("after pruning the previous snapshot the public directory is not the cold publish's")
	}
	checkManifest(t, dir, id2)
}

// When hard links fail (a filesystem without them), every file is written
// and the bytes are the same.
func TestIncrementalLinkFailureWrites(t *testing.T) {
	dir, d := firstNight(t)
	calls := 0
	d.SetLink(func(string, string) error {
		calls++
		return &os.LinkError{Op: "link", Err: errors.New("operation not permitted")}
	})
	publish(t, d, id2, true)
	if calls == 0 {
		t.Fatal("no link was tried")
	}
	if calls > 16 {
		t.Errorf("%d links tried after they kept failing, want at most 16", calls)
	}
	for p := range publictest.DirTree(t, snapDir(dir, id2)) {
		if _, err := os.Stat(filepath.Join(snapDir(dir, id1), p)); err == nil &&
			linkedToFirst(t, dir, p) {
			t.Errorf("%s is a link although linking failed", p)
		}
	}
	if got, want := publictest.DirTree(t, dir), coldTree(t, id2); !reflect.DeepEqual(withoutSnapshot(got, id1), want) {
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
	dir, d := firstNight(t)
	edited := filepath.Join(snapDir(dir, id1), "referrers", "ref0007.json")
	if err := os.WriteFile(edited, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The same size, other bytes: found by the check of the link.
	sameSize := filepath.Join(snapDir(dir, id1), "referrers", "ref0009.json")
	b, err := os.ReadFile(sameSize)
	if err != nil || len(b) < 2 {
		t.Fatal(err)
	}
	b[1] ^= 1
	if err := os.WriteFile(sameSize, b, 0o644); err != nil {
		t.Fatal(err)
	}
	publish(t, d, id2, true)
	if sameFile(t, edited, filepath.Join(snapDir(dir, id2), "referrers", "ref0007.json")) {
		t.Error("a previous file of another size was linked")
	}
	if sameFile(t, sameSize, filepath.Join(snapDir(dir, id2), "referrers", "ref0009.json")) {
		t.Error("a previous file of the same size and other bytes was linked")
	}
	if !linkedToFirst(t, dir, filepath.Join("referrers", "ref0008.json")) {
		t.Error("an unchanged file was not linked")
	}
	checkManifest(t, dir, id2)
}

// Prepare publishes nothing and keeps the snapshot in a temporary
// directory; Abort removes what it staged; Commit publishes.
func TestPrepareCommitAbort(t *testing.T) {
	dir, d := firstNight(t)
	before := publictest.DirTree(t, dir)

	info, res := night(id2, true)
	p := public.New(d, 25)
	s, err := p.Prepare(ctx, info, res)
	if err != nil {
		t.Fatal(err)
	}
	staged := publictest.DirTree(t, dir)
	if !bytes.Equal(staged["latest.json"], before["latest.json"]) {
		t.Error("Prepare changed latest.json")
	}
	if _, err := os.Stat(snapDir(dir, id2)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Prepare made snapshots/%s (err %v); it must stay a temporary directory until Commit", id2, err)
	}
	if err := s.Abort(); err != nil {
		t.Fatal(err)
	}
	if after := publictest.DirTree(t, dir); !reflect.DeepEqual(after, before) {
		t.Error("Prepare and Abort changed the public directory")
	}
	if err := s.Commit(ctx); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if err := s.Abort(); err != nil {
		t.Errorf("a second Abort: %v", err)
	}

	s, err = p.Prepare(ctx, info, res)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	all := publictest.DirTree(t, dir)
	if !bytes.Contains(all["latest.json"], []byte(id2)) {
		t.Errorf("latest.json = %s", all["latest.json"])
	}
	for p := range all {
		if strings.Contains(p, ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
	}
	checkManifest(t, dir, id2)
}
