package public

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// ErrNoSnapshot is matched by Reader.Latest's error when nothing has been
// published yet.
var ErrNoSnapshot = errors.New("no snapshot published yet")

// Reader reads published snapshots back from a Storage: for the commands
// that look at what was published (serve, diff, settle) and for tests.
// It only reads.
type Reader struct{ store Storage }

// NewReader returns a Reader of store.
func NewReader(store Storage) *Reader { return &Reader{store: store} }

// Latest returns the id of the snapshot latest.json names; an error
// matching ErrNoSnapshot when there is no latest.json.
func (r *Reader) Latest(ctx context.Context) (string, error) {
	b, _, err := r.store.ReadLatest(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", r.store, ErrNoSnapshot)
	}
	if err != nil {
		return "", fmt.Errorf("%s: read %s: %w", r.store, LatestName, err)
	}
	id, err := parseLatest(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", r.store, err)
	}
	return id, nil
}

// Snapshots returns the ids of the snapshots in the store, oldest first
// (byte order of the ids, which begin with asOf). A snapshot whose
// manifest is missing (a crashed publish to a bucket) is listed too: see
// Manifest.
func (r *Reader) Snapshots(ctx context.Context) ([]string, error) {
	names, err := r.store.ListSnapshots(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: list snapshots: %w", r.store, err)
	}
	var ids []string
	for _, n := range names {
		if IsSnapshotID(n) {
			ids = append(ids, n)
		}
	}
	return ids, nil
}

// Manifest returns the manifest of snapshot id.
func (r *Reader) Manifest(ctx context.Context, id string) (*Manifest, error) {
	m, err := readManifest(ctx, r.store, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.store, err)
	}
	return m, nil
}

// Document returns the bytes of the document at rel (as the manifest names
// it: "cycles.json", "referrers/x.json") in snapshot id. rel must be a
// clean relative path.
func (r *Reader) Document(ctx context.Context, id, rel string) ([]byte, error) {
	if !safeSnapshotID.MatchString(id) {
		return nil, fmt.Errorf("snapshot id %q: not a snapshot id", id)
	}
	if !cleanRel(rel) {
		return nil, fmt.Errorf("document %q: not a clean relative path", rel)
	}
	b, err := r.store.ReadObject(ctx, SnapshotKey(id, rel))
	if err != nil {
		return nil, fmt.Errorf("%s: snapshot %s: %w", r.store, id, err)
	}
	return b, nil
}

// LeaderboardPages reads cycle cycleID's leaderboard in snapshot id page by
// page, from page 1, and calls page with each page's name and bytes; page
// says whether another page follows (the page's pageContext.hasNext). A
// page's read error is returned as Document returns it.
func (r *Reader) LeaderboardPages(ctx context.Context, id, cycleID string, page func(rel string, b []byte) (more bool, err error)) error {
	for n := 1; ; n++ {
		rel := LeaderboardPageName(cycleID, n)
		b, err := r.Document(ctx, id, rel)
		if err != nil {
			return err
		}
		if more, err := page(rel, b); err != nil || !more {
			return err
		}
	}
}

// cleanRel reports whether rel is a '/'-separated relative path with no
// empty, "." or ".." element.
func cleanRel(rel string) bool {
	return rel != "" && !strings.HasPrefix(rel, "/") && path.Clean(rel) == rel && rel != "." &&
		rel != ".." && !strings.HasPrefix(rel, "../") && !strings.Contains(rel, "\\")
}

// CleanKey reports whether key is a key a driver accepts: a clean,
// '/'-separated relative path. Drivers call it on every key.
func CleanKey(key string) bool { return cleanRel(key) }

// CleanName reports whether name is one clean path element (not empty,
// "." or "..", no separator): a snapshot name a driver accepts. Drivers
// call it on every snapshot id they are given.
func CleanName(name string) bool { return cleanRel(name) && !strings.Contains(name, "/") }

func readManifest(ctx context.Context, s Storage, id string) (*Manifest, error) {
	if !safeSnapshotID.MatchString(id) {
		return nil, fmt.Errorf("snapshot id %q: not a snapshot id", id)
	}
	b, err := s.ReadObject(ctx, SnapshotKey(id, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("snapshot %s: parsing %s: %w", id, ManifestName, err)
	}
	if m.SnapshotID != id {
		return nil, fmt.Errorf("snapshot %s: %s names snapshot %q", id, ManifestName, m.SnapshotID)
	}
	return &m, nil
}
