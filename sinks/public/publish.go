package public

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/public/schema"
)

// DefaultRecordsPerPage is the leaderboard page size when none is given.
const DefaultRecordsPerPage = 25

// Publisher publishes snapshots into one Storage.
type Publisher struct {
	store          Storage
	recordsPerPage int
	// settled are the settled cycles, published as their settled snapshot
	// did (WithSettled).
	settled map[string]*Settled
	// beforeFile, when set (tests), runs before each snapshot file is
	// queued; an error aborts the publish.
	beforeFile func(rel string) error
}

// New returns a Publisher for store with recordsPerPage entries per
// leaderboard page: 0 means DefaultRecordsPerPage; outside 1..100 Publish
// fails.
func New(store Storage, recordsPerPage int) *Publisher {
	if recordsPerPage == 0 {
		recordsPerPage = DefaultRecordsPerPage
	}
	return &Publisher{store: store, recordsPerPage: recordsPerPage}
}

// Publish writes the snapshot of one run and then points latest.json at it:
// Prepare and Commit.
func (p *Publisher) Publish(ctx context.Context, info pipeline.RunInfo, res *pipeline.Result) error {
	s, err := p.Prepare(ctx, info, res)
	if err != nil {
		return err
	}
	return s.Commit(ctx)
}

// Staged is a snapshot whose every object (the manifest last) is stored and
// flushed, but that latest.json does not name yet: not published until
// Commit.
type Staged struct {
	p        *Publisher
	id       string
	w        SnapshotWriter // nil once committed or aborted
	files    []FileEntry    // the manifest's entries
	manifest []byte
	version  string // of latest.json as read before staging
	stats    Stats
}

// Stats says how a staged snapshot was written.
type Stats struct {
	Files   int           // objects of the snapshot, the manifest included
	Linked  int           // of those, reused from the previous snapshot (Storage's Reuse: hard links, server-side copies)
	Flush   time.Duration // flushing the written objects
	Prepare time.Duration // all of Prepare
}

// Stats says how the snapshot was written.
func (s *Staged) Stats() Stats { return s.stats }

// Prepare stores every object of the snapshot of one run and flushes
// them, without publishing anything: latest.json stays as it is until
// Commit. An object whose bytes are those of the same path in the snapshot
// latest.json names (the sha256 and size its manifest lists) is reused
// from it (Storage's Reuse) instead of being sent again. On error, or when
// ctx is cancelled, Prepare removes what it stored.
func (p *Publisher) Prepare(ctx context.Context, info pipeline.RunInfo, res *pipeline.Result) (*Staged, error) {
	s, err := p.prepare(ctx, info, res)
	if err != nil {
		return nil, fmt.Errorf("publish snapshot %s to %s: %w", info.SnapshotID, p.store, err)
	}
	return s, nil
}

// Commit publishes a staged snapshot: checks that the store holds every
// object the manifest lists, with its size (and the manifest), makes the
// snapshot final and replaces latest.json last. On error the staged
// snapshot is removed and latest.json is the previous one. Commit after
// Commit or Abort fails.
func (s *Staged) Commit(ctx context.Context) error {
	if err := s.commit(ctx); err != nil {
		_ = s.Abort()
		return fmt.Errorf("publish snapshot %s to %s: %w", s.id, s.p.store, err)
	}
	return nil
}

// abortTimeout bounds how long Abort may take to remove a staged snapshot.
const abortTimeout = 5 * time.Minute

// Abort removes a staged snapshot that is not to be published. After
// Commit, or a second time, it does nothing.
func (s *Staged) Abort() error {
	if s.w == nil {
		return nil
	}
	w := s.w
	s.w = nil
	ctx, cancel := context.WithTimeout(context.Background(), abortTimeout)
	defer cancel()
	if err := w.Abort(ctx); err != nil {
		return fmt.Errorf("abort snapshot %s: %w", s.id, err)
	}
	return nil
}

func (s *Staged) commit(ctx context.Context) error {
	if s.w == nil {
		return errors.New("already committed or aborted")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	stored, err := s.w.List(ctx)
	if err != nil {
		return fmt.Errorf("list the staged snapshot: %w", err)
	}
	if err := verify(stored, s.files, int64(len(s.manifest))); err != nil {
		return err
	}
	if err := s.w.Commit(ctx); err != nil {
		return err
	}
	s.w = nil // final: nothing to abort
	latest, err := latestBytes(s.id)
	if err != nil {
		return err
	}
	return s.p.store.WriteLatest(ctx, latest, s.version)
}

// verify checks that stored holds every manifest entry with its size, and
// the manifest.
func verify(stored []Object, files []FileEntry, manifestSize int64) error {
	have := make(map[string]int64, len(stored))
	for _, o := range stored {
		have[o.Key] = o.Size
	}
	check := func(key string, size int64) error {
		got, ok := have[key]
		if !ok {
			return fmt.Errorf("verify: %s is not in the store", key)
		}
		if got != size {
			return fmt.Errorf("verify: %s is %d bytes in the store, the manifest says %d", key, got, size)
		}
		return nil
	}
	for _, f := range files {
		if err := check(f.Path, f.Bytes); err != nil {
			return err
		}
	}
	return check(ManifestName, manifestSize)
}

func (p *Publisher) prepare(ctx context.Context, info pipeline.RunInfo, res *pipeline.Result) (_ *Staged, err error) {
	began := time.Now()
	if p.recordsPerPage < 1 || p.recordsPerPage > 100 {
		return nil, fmt.Errorf("records per page %d: must be 1..100", p.recordsPerPage)
	}
	if !safeSnapshotID.MatchString(info.SnapshotID) {
		return nil, fmt.Errorf("snapshot id %q: not a safe directory name", info.SnapshotID)
	}
	if res == nil {
		return nil, errors.New("no result")
	}
	for _, c := range res.Cycles {
		if !pipeline.ValidCycleID(c.Cycle.ID) {
			return nil, fmt.Errorf("cycle id %q: not a valid cycle id", c.Cycle.ID)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prev, version, err := readPrevious(ctx, p.store)
	if err != nil {
		return nil, err
	}
	w, err := p.store.NewSnapshot(ctx, info.SnapshotID)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			_ = w.Abort(actx) // best effort; a local directory's next NewSnapshot removes leftovers
			cancel()
		}
	}()

	s := &Staged{p: p, id: info.SnapshotID, version: version}
	files, err := p.writeObjects(ctx, w, info, res, prev, &s.stats)
	if err != nil {
		return nil, err
	}
	manifest, err := manifestBytes(info, files)
	if err != nil {
		return nil, err
	}
	if err := w.Put(ctx, ManifestName, manifest); err != nil {
		return nil, err
	}
	flush := time.Now()
	if err := w.Flush(ctx); err != nil {
		return nil, err
	}
	s.stats.Flush = time.Since(flush)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.w, s.files, s.manifest = w, files, manifest
	s.stats.Files = len(files) + 1
	s.stats.Prepare = time.Since(began)
	return s, nil
}

// job is one object to store, relative to the snapshot.
type job struct {
	rel string
	buf *bytes.Buffer
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeObjects stores every snapshot object but the manifest (reusing the
// ones prev has the same bytes of), and returns their manifest entries.
// Documents are encoded on the calling goroutine and stored by the
// writer's Parallelism() goroutines beside it (one for a local directory:
// docs/performance.md says why).
func (p *Publisher) writeObjects(ctx context.Context, w SnapshotWriter, info pipeline.RunInfo, res *pipeline.Result, prev *previous, st *Stats) ([]FileEntry, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	workers := 1
	if pw, ok := w.(Parallel); ok {
		workers = max(1, pw.Parallelism())
	}
	reuse := func(rel string, data []byte, size int64, sum [sha256.Size]byte) bool {
		return w.Reuse(ctx, rel, prev.id, size, sum)
	}
	if cr, ok := w.(ContentReuser); ok {
		reuse = func(rel string, data []byte, _ int64, _ [sha256.Size]byte) bool {
			return cr.ReuseContent(ctx, rel, prev.id, data)
		}
	}
	jobs := make(chan job, 4*workers)
	perWorker := make([][]FileEntry, workers)
	linked := make([]int, workers)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() {
			for j := range jobs {
				if ctx.Err() == nil {
					data := j.buf.Bytes()
					sum := sha256.Sum256(data)
					size := int64(len(data))
					if prev.has(j.rel, sum, size) && reuse(j.rel, data, size, sum) {
						linked[k]++
					} else if err := w.Put(ctx, j.rel, data); err != nil {
						cancel(fmt.Errorf("%s: %w", j.rel, err))
					}
					if ctx.Err() == nil {
						perWorker[k] = append(perWorker[k], FileEntry{Path: j.rel, SHA256: hex.EncodeToString(sum[:]), Bytes: size})
					}
				}
				j.buf.Reset()
				bufPool.Put(j.buf)
			}
		})
	}

	genErr := render(info, res, p.recordsPerPage, p.settled, func(rel string, v any) error {
		if p.beforeFile != nil {
			if err := p.beforeFile(rel); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		buf := bufPool.Get().(*bytes.Buffer)
		if err := encodeJSON(buf, v); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if bytes.IndexByte(buf.Bytes(), '@') >= 0 {
			return fmt.Errorf("%s would contain '@' (an email address must never be published)", rel)
		}
		select {
		case jobs <- job{rel: rel, buf: buf}:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(jobs)
	wg.Wait()
	if genErr != nil {
		return nil, genErr
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	files := slices.Concat(perWorker...)
	for _, n := range linked {
		st.Linked += n
	}
	return files, nil
}

func manifestBytes(info pipeline.RunInfo, files []FileEntry) ([]byte, error) {
	slices.SortFunc(files, func(a, b FileEntry) int { return strings.Compare(a.Path, b.Path) })
	notes := make([]string, len(info.Notes))
	for i, n := range info.Notes {
		notes[i] = publicText(n)
	}
	doc := Manifest{
		SchemaVersion: schema.Version,
		SnapshotID:    info.SnapshotID, AsOf: formatTime(info.AsOf), CodeVersion: publicText(info.CodeVersion),
		CycleSetSHA256: info.CycleSetSHA256,
		Inputs:         ManifestInputs{Counts: info.Inputs.Counts, SHA256: info.Inputs.SHA256},
		Notes:          notes, Files: files,
	}
	if info.Sources != (pipeline.InputSources{}) {
		src := info.Sources
		doc.Inputs.Sources = &src
	}
	var buf bytes.Buffer
	if err := encodeJSON(&buf, doc); err != nil {
		return nil, err
	}
	if i := bytes.IndexByte(buf.Bytes(), '@'); i >= 0 {
		return nil, errors.New("manifest.json would contain '@'")
	}
	return buf.Bytes(), nil
}
