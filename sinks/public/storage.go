package public

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Storage is where a public layout lives: a local directory
// (sinks/public/localdir) or a bucket. It knows nothing of the layout's
// documents; Publisher, Prune and Reader do. Keys are '/'-separated and
// relative to the store's root ("latest.json",
// "snapshots/<id>/referrers/x.json"); the layout only ever passes keys it
// made from checked names, and a driver still refuses a key that is not
// clean (empty, absolute, "." or ".." elements).
//
// Every method takes the context first; errors for a key that does not
// exist match fs.ErrNotExist (errors.Is). A driver is checked by
// publictest.RunStorageTests.
type Storage interface {
	// ReadObject returns the bytes of the object at key.
	ReadObject(ctx context.Context, key string) ([]byte, error)

	// ReadLatest returns latest.json and a version of it that WriteLatest
	// can be made conditional on ("" when the store has no versions).
	// No latest.json: an error matching fs.ErrNotExist.
	ReadLatest(ctx context.Context) (data []byte, version string, err error)

	// WriteLatest replaces latest.json with data at once: a reader sees
	// the old bytes or the new ones, never a mix or none. A store that can
	// writes only if latest.json is still at version (version "": only if
	// there is none) and otherwise returns an error matching ErrConflict.
	WriteLatest(ctx context.Context, data []byte, version string) error

	// ListSnapshots returns the name of every entry directly under
	// snapshots/ (a directory or a key prefix), in byte order. The caller
	// picks the snapshot ids among them.
	ListSnapshots(ctx context.Context) ([]string, error)

	// DeleteSnapshot removes snapshots/<id>/ and everything under it. An
	// absent snapshot is not an error.
	DeleteSnapshot(ctx context.Context, id string) error

	// NewSnapshot starts writing snapshots/<id>/. Nothing of it is
	// visible through latest.json until the caller writes latest.json.
	NewSnapshot(ctx context.Context, id string) (SnapshotWriter, error)

	// Lock takes the store's publication lock for one run. A lock held by
	// someone else is an error matching ErrLocked (a *LockedError naming
	// the holder when known) unless req.Wait, which waits until ctx ends.
	// unlock releases it; calling it twice is harmless.
	Lock(ctx context.Context, req LockRequest) (unlock func() error, err error)

	// String names the store in messages: a path, or a URL without
	// credentials or query string.
	String() string
}

// SnapshotWriter writes the objects of one snapshot, snapshots/<id>/.
// Publisher calls Put and Reuse from at most Parallelism() goroutines at
// once (1 unless the writer implements Parallel), then Flush, List, Commit;
// Abort instead of Commit throws the snapshot away.
type SnapshotWriter interface {
	// Put stores data at rel, relative to the snapshot ('/'-separated). An
	// object that exists already at rel in this snapshot is an error, never
	// an overwrite (two names that are one on the store).
	Put(ctx context.Context, rel string, data []byte) error

	// Reuse stores at rel the object at the same rel of snapshot from,
	// whose manifest says it has the bytes this snapshot needs (size bytes
	// long, sha256 sum), without sending them again: a hard link, a
	// server-side copy. It must verify that the object it reuses has those
	// bytes (their sha256, not only their size): a published file may have
	// been truncated, replaced or deleted by hand since its manifest was
	// written, and a damaged file must never be carried into a new
	// snapshot. It reports false when it did not reuse (unsupported, an
	// object that does not match, a failure): the caller then Puts the
	// bytes. Reuse never leaves a partial object behind when it reports
	// false.
	Reuse(ctx context.Context, rel, from string, size int64, sum [sha256.Size]byte) bool

	// Flush makes every object stored so far durable.
	Flush(ctx context.Context) error

	// List returns every object under the snapshot with its size, as the
	// store holds it, in any order.
	List(ctx context.Context) ([]Object, error)

	// Commit makes the snapshot's objects final under snapshots/<id>/
	// (after it the writer is done). A store that writes in place has
	// nothing to do.
	Commit(ctx context.Context) error

	// Abort removes what the writer stored. After Commit, or a second
	// time, it does nothing.
	Abort(ctx context.Context) error
}

// ContentReuser is implemented by a SnapshotWriter whose Reuse reads the
// previous object back (a local file) and can compare it with the bytes
// themselves, which is cheaper than hashing it and checks no less: the
// Publisher then calls ReuseContent instead of Reuse. ReuseContent is Reuse
// with the object's bytes (the manifest's size and sha256 are theirs); it
// must not keep data after it returns.
type ContentReuser interface {
	ReuseContent(ctx context.Context, rel, from string, data []byte) bool
}

// Parallel is implemented by a SnapshotWriter that wants several Put and
// Reuse calls at once (a bucket: one request each).
type Parallel interface {
	Parallelism() int
}

// Object is one stored object as List reports it.
type Object struct {
	Key  string // relative to the snapshot, '/'-separated
	Size int64
}

// LockRequest is what a run asks of Storage.Lock.
type LockRequest struct {
	RunID string        // recorded in the lock, shown to a refused run
	TTL   time.Duration // how long the lock stands if its holder dies without releasing it (stores without a kernel lock)
	Wait  bool          // wait for a held lock instead of failing
}

// ErrLocked is matched (errors.Is) by the error Lock returns when another
// run holds the lock and the caller chose not to wait.
var ErrLocked = errors.New("public store is locked")

// ErrConflict is matched by WriteLatest's error when latest.json changed
// since it was read.
var ErrConflict = errors.New("latest.json changed since it was read")

// Holder describes the run holding a lock, as it recorded itself.
type Holder struct {
	RunID   string    `json:"runId,omitempty"`
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
	Expires time.Time `json:"expires,omitzero"`
	Unknown bool      `json:"-"` // the lock did not say (holder still writing, or not refrecon)
}

// ParseHolder reads a lock's holder record as a driver stored it (the JSON
// of a NewHolder): a record that does not parse or names no pid (its
// holder still writing it, or not refrecon) is Unknown.
func ParseHolder(record []byte) Holder {
	var h Holder
	if json.Unmarshal(record, &h) != nil || h.PID == 0 {
		return Holder{Unknown: true}
	}
	return h
}

// LockedError is the error for a lock held by someone else. It matches
// ErrLocked.
type LockedError struct {
	Store  string // Storage.String()
	Holder Holder
}

func (e *LockedError) Error() string {
	if e.Holder.Unknown {
		return fmt.Sprintf("PUBLIC_DIR %s is locked by another process (holder unknown)", e.Store)
	}
	return fmt.Sprintf("PUBLIC_DIR %s is locked by pid %d on host %s (%s, since %s)",
		e.Store, e.Holder.PID, e.Holder.Host, e.Holder.Command, e.Holder.Since.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

// NewHolder describes this process as a lock holder for run runID: pid,
// host, command (never its flag values), now, and an expiry ttl from now
// (none when ttl is 0).
func NewHolder(runID string, ttl time.Duration) Holder {
	host, _ := os.Hostname()
	now := time.Now().UTC().Truncate(time.Second)
	h := Holder{RunID: runID, PID: os.Getpid(), Host: host, Command: commandName(os.Args), Since: now}
	if ttl > 0 {
		h.Expires = now.Add(ttl)
	}
	return h
}

// commandName is the program's base name and its sub-command words, up to
// the first flag ("refrecon run"): never flag values, which could be
// anything.
func commandName(args []string) string {
	if len(args) == 0 {
		return "unknown"
	}
	words := []string{filepath.Base(args[0])}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") || len(words) == 3 {
			break
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}
