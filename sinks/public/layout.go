package public

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
)

// The names of the layout (SPEC 3.1).
const (
	LatestName    = "latest.json"   // the pointer to the published snapshot, at the root
	SnapshotsDir  = "snapshots"     // one directory (key prefix) per snapshot under it
	ManifestName  = "manifest.json" // in each snapshot, written last
	CyclesName    = "cycles.json"   // in each snapshot
	ReferrersDir  = "referrers"     // in each snapshot: referrers/<RefcodeFileName>.json
	CyclesDirName = "cycles"        // in each snapshot: cycles/<cycle>/leaderboard/<page>.json
)

var (
	// safeSnapshotID is what Prepare accepts as a snapshot id: a single
	// path element that cannot be hidden or a temporary name.
	safeSnapshotID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
	// idPattern is a snapshot id as a run makes it (SPEC 3.1): asOf as
	// YYYYMMDDTHHMMSSZ, "-", 12 hex digits. Retention touches nothing else
	// under snapshots/.
	idPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}$`)
)

// IsSnapshotID reports whether name is a snapshot id as a run makes it.
func IsSnapshotID(name string) bool { return idPattern.MatchString(name) }

// SnapshotKey is the key of rel inside snapshot id.
func SnapshotKey(id, rel string) string { return SnapshotsDir + "/" + id + "/" + rel }

// LeaderboardPageName is the name of page n (from 1) of cycle cycleID's
// leaderboard inside a snapshot: cycles/<cycle>/leaderboard/<n>.json.
func LeaderboardPageName(cycleID string, n int) string {
	return CyclesDirName + "/" + cycleID + "/leaderboard/" + strconv.Itoa(n) + ".json"
}

// latestDoc is latest.json.
type latestDoc struct {
	SnapshotID string `json:"snapshotId"`
	Path       string `json:"path"`
}

func latestBytes(id string) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeJSON(&buf, latestDoc{SnapshotID: id, Path: SnapshotsDir + "/" + id + "/"}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// parseLatest returns the snapshot id latest.json names. It accepts a
// pointer with only a path, and checks that id and path agree.
func parseLatest(b []byte) (string, error) {
	var l latestDoc
	if err := json.Unmarshal(b, &l); err != nil {
		return "", fmt.Errorf("parsing %s: %w", LatestName, err)
	}
	id := l.SnapshotID
	const pre = SnapshotsDir + "/"
	if rest, ok := strings.CutPrefix(l.Path, pre); id == "" && ok {
		id = strings.TrimSuffix(rest, "/")
	}
	if !safeSnapshotID.MatchString(id) {
		return "", fmt.Errorf("%s: snapshot id %q is not a snapshot id", LatestName, id)
	}
	if l.Path != "" && l.Path != pre+id+"/" && l.Path != pre+id {
		return "", fmt.Errorf("%s: path %q does not match snapshotId %q", LatestName, l.Path, id)
	}
	return id, nil
}

// previous is the snapshot latest.json names, as its manifest lists it: a
// new snapshot reuses its objects that have the same bytes.
type previous struct {
	id    string
	files map[string]prevFile
}

type prevFile struct {
	sum  [32]byte
	size int64
}

// readPrevious reads latest.json (its version, for the conditional write
// at the end) and the manifest of the snapshot it names. A store that
// cannot be read fails; a latest.json or manifest that is absent, cannot
// be parsed or does not agree gives no previous snapshot (every object is
// then written, as on a first publish).
func readPrevious(ctx context.Context, s Storage) (*previous, string, error) {
	b, version, err := s.ReadLatest(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", LatestName, err)
	}
	id, err := parseLatest(b)
	if err != nil {
		return nil, version, nil
	}
	m, err := readManifest(ctx, s, id)
	if err != nil {
		return nil, version, nil
	}
	pv := &previous{id: id, files: make(map[string]prevFile, len(m.Files))}
	for _, f := range m.Files {
		var e prevFile
		if n, err := hex.Decode(e.sum[:], []byte(f.SHA256)); err != nil || n != len(e.sum) || f.Bytes < 0 {
			continue
		}
		e.size = f.Bytes
		pv.files[f.Path] = e
	}
	return pv, version, nil
}

// has reports whether the previous snapshot's manifest lists rel with the
// bytes of sum and size.
func (pv *previous) has(rel string, sum [32]byte, size int64) bool {
	if pv == nil {
		return false
	}
	f, ok := pv.files[rel]
	return ok && f.sum == sum && f.size == size
}
