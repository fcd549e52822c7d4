package snapshots

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// idPattern is a snapshot id (SPEC 3.1): asOf as YYYYMMDDTHHMMSSZ, "-", 12
// hex digits. Prune touches nothing else under snapshots/: not the .tmp-*
// directories a publisher is writing (or crashed in), not anything a person
// put there.
var idPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}$`)

// Prune removes all but the newest keep snapshot directories under
// dir/snapshots, and returns the removed ids oldest first. Newest means the
// greatest id in byte order: ids begin with asOf, so that is by asOf, and
// snapshots with the same asOf (re-runs over changed inputs or code) are
// ordered by their hash, arbitrary but the same on every machine. The
// snapshot latest.json points to is never removed, even when it is not
// among the newest keep (it is then kept in addition). keep == 0 keeps
// everything; keep < 0 is an error. Call Prune while holding Lock.
//
// A latest.json that cannot be read or parsed stops Prune before it
// removes anything: without it, the served snapshot is not known.
func Prune(dir string, keep int) (removed []string, err error) {
	if keep < 0 {
		return nil, fmt.Errorf("prune %s: keep %d: want 0 (keep all) or more", dir, keep)
	}
	served, err := latestID(dir)
	if err != nil {
		return nil, fmt.Errorf("prune %s: %w", dir, err)
	}
	if keep == 0 {
		return nil, nil
	}
	root := filepath.Join(dir, "snapshots")
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("prune %s: %w", dir, err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && idPattern.MatchString(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	if len(ids) <= keep {
		return nil, nil
	}
	for _, id := range ids[:len(ids)-keep] {
		if id == served {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, id)); err != nil {
			return removed, fmt.Errorf("prune %s: removing snapshot %s: %w", dir, id, err)
		}
		removed = append(removed, id)
	}
	return removed, nil
}

// latestID returns the snapshot id latest.json points to, "" when there is
// no latest.json yet.
func latestID(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "latest.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading latest.json: %w", err)
	}
	var l struct {
		SnapshotID string `json:"snapshotId"`
		Path       string `json:"path"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return "", fmt.Errorf("parsing latest.json: %w", err)
	}
	id := l.SnapshotID
	if id == "" && l.Path != "" {
		id = path.Base(strings.TrimSuffix(l.Path, "/"))
	}
	if !idPattern.MatchString(id) {
		return "", fmt.Errorf("latest.json: snapshot id %q is not a snapshot id", id)
	}
	if l.Path != "" && strings.TrimSuffix(l.Path, "/") != "snapshots/"+id {
		return "", fmt.Errorf("latest.json: path %q does not match snapshotId %q", l.Path, id)
	}
	return id, nil
}
