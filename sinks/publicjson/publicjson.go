// Package publicjson publishes a run's public snapshot (SPEC 3.1): static
// JSON files for the frontend, with no email address anywhere.
//
// Layout, under the public directory:
//
//	latest.json                                       {"snapshotId", "path": "snapshots/<id>/"}
//	snapshots/<id>/manifest.json                      run identity, inputs, every other file with sha256 and size
//	snapshots/<id>/cycles.json                        {"snapshotId", "asOf", "cycles": [summaries, startTime desc]}
//	snapshots/<id>/cycles/<cycle>/leaderboard/<n>.json  page n (1-based) of a cycle's ranked referrers
//	snapshots/<id>/referrers/<name>.json              one per users refcode, name = RefcodeFileName(refcode)
//
// Every file is compact JSON (no insignificant whitespace) followed by one
// newline; keys come in a fixed order, so the same run gives the same bytes.
// Money is {"currency": "usd", "amount": "<minor units>"}; times are RFC 3339
// in UTC. A leaderboard entry's "score" is a JSON integer when a pie-split
// cycle scores by conversions, and Money when the score is revenue (pie-split
// by revenue, rev-share-cap). "finalScoreBoost" is a JSON number on
// pie-split cycles (the shortest decimal of the float64 quotient) and is
// absent on rev-share-cap cycles.
//
// No email address is published: the fields of a result that hold emails
// are never read, a refcode that contains '@' is published as "redacted-"
// and 12 hex digits of its SHA-256, a word containing '@' in free text
// (admin action reasons, cycle display names, notes) becomes "[redacted]",
// and as a last guard every file is checked for '@' before it is written.
//
// Publishing is atomic, in two phases. Prepare writes every file under
// snapshots/.tmp-<id>-<random>/, flushes them (sync(2) on Linux, fsync per
// file elsewhere) and writes the manifest last; nothing reads that
// directory (the frontend and sinks/snapshots.Prune follow latest.json and
// snapshot-id names only). Commit renames it to snapshots/<id>/ and only then
// replaces latest.json by rename; Abort removes it. Publish is Prepare and
// Commit. A failed or cancelled publish removes its temporary directory and
// leaves latest.json and the previous snapshots untouched. Prepare removes
// .tmp-* directories left by crashed runs, so the caller must make sure that
// only one publish runs at a time on a directory (sinks/snapshots.Lock).
//
// Incremental: a file whose bytes are those of the same path in the
// snapshot latest.json names (the sha256 and size its manifest lists, and
// the size of the file on disk) is created as a hard link to that file
// instead of being written again, which on a nightly run is most referrer
// files; where a link fails, the file is written. The bytes and the
// manifest are the same either way. Because files are shared between
// snapshots, a published file must never be changed in place: snapshots
// are immutable once published (removing a snapshot, as Prune does, is
// fine: the other names of a file keep it).
package publicjson

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/refrecon/refrecon/pipeline"
)

// DefaultRecordsPerPage is the leaderboard page size when none is given.
const DefaultRecordsPerPage = 25

// Publisher publishes snapshots into one public directory.
type Publisher struct {
	dir            string
	recordsPerPage int
	// beforeFile, when set (tests), runs before each snapshot file is
	// queued; an error aborts the publish.
	beforeFile func(rel string) error
	// link, when set (tests), replaces os.Link.
	link func(oldname, newname string) error
}

// New returns a Publisher for dir with recordsPerPage entries per
// leaderboard page: 0 means DefaultRecordsPerPage; outside 1..100 Publish
// fails.
func New(dir string, recordsPerPage int) *Publisher {
	if recordsPerPage == 0 {
		recordsPerPage = DefaultRecordsPerPage
	}
	return &Publisher{dir: dir, recordsPerPage: recordsPerPage}
}

var (
	safeSnapshotID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
	safeCycleID    = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// Publish writes the snapshot of one run and then points latest.json at it:
// Prepare and Commit.
func (p *Publisher) Publish(ctx context.Context, info pipeline.RunInfo, res *pipeline.Result) error {
	s, err := p.Prepare(ctx, info, res)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		_ = s.Abort()
		return fmt.Errorf("publish snapshot %s to %s: %w", info.SnapshotID, p.dir, err)
	}
	return s.Commit()
}

// Staged is a snapshot written in full (every file, the manifest, flushed)
// under a temporary directory snapshots/.tmp-<id>-<random>/ that nothing
// reads: not published until Commit. A crash leaves only that temporary
// directory, which the next Prepare removes; Prune and the frontend never
// look at it.
type Staged struct {
	p        *Publisher
	id       string
	tmp      string // "" once committed or aborted
	manifest []byte
	stats    Stats
}

// Stats says how a staged snapshot was written.
type Stats struct {
	Files   int           // files of the snapshot, the manifest included
	Linked  int           // of those, hard links to the previous snapshot's identical files
	Flush   time.Duration // flushing the written files to disk
	Prepare time.Duration // all of Prepare
}

// Stats says how the snapshot was written.
func (s *Staged) Stats() Stats { return s.stats }

// Prepare writes every file of the snapshot of one run under a temporary
// directory and flushes them, without publishing anything: latest.json and
// the snapshots stay as they are until Commit. A file whose bytes are those
// of the same file in the snapshot latest.json names (its manifest's sha256
// and size, and the size on disk) is a hard link to that file instead of a
// new one (see the package documentation). On error, or when ctx is
// cancelled, Prepare removes what it wrote.
func (p *Publisher) Prepare(ctx context.Context, info pipeline.RunInfo, res *pipeline.Result) (*Staged, error) {
	s, err := p.prepare(ctx, info, res)
	if err != nil {
		return nil, fmt.Errorf("publish snapshot %s to %s: %w", info.SnapshotID, p.dir, err)
	}
	return s, nil
}

// Commit publishes a staged snapshot: renames it to snapshots/<id>/ and
// replaces latest.json last (rename, then the directory is fsynced). On
// error the staged directory is removed and latest.json is the previous
// one. Commit after Commit or Abort fails.
func (s *Staged) Commit() error {
	if err := s.commit(); err != nil {
		_ = s.Abort()
		return fmt.Errorf("publish snapshot %s to %s: %w", s.id, s.p.dir, err)
	}
	return nil
}

// Abort removes a staged snapshot that is not to be published. After
// Commit, or a second time, it does nothing.
func (s *Staged) Abort() error {
	if s.tmp == "" {
		return nil
	}
	tmp := s.tmp
	s.tmp = ""
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("abort snapshot %s: %w", s.id, err)
	}
	return nil
}

func (s *Staged) commit() error {
	if s.tmp == "" {
		return errors.New("already committed or aborted")
	}
	snaps := filepath.Join(s.p.dir, "snapshots")
	if err := install(s.tmp, filepath.Join(snaps, s.id), s.manifest); err != nil {
		return err
	}
	s.tmp = "" // installed (or an identical one kept and tmp removed)
	if err := syncDir(snaps); err != nil {
		return err
	}
	return s.p.writeLatest(s.id)
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
		if !safeCycleID.MatchString(c.Cycle.ID) || len(c.Cycle.ID) > 64 {
			return nil, fmt.Errorf("cycle id %q: not a valid cycle id", c.Cycle.ID)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	snaps := filepath.Join(p.dir, "snapshots")
	if err := os.MkdirAll(snaps, 0o755); err != nil {
		return nil, err
	}
	if err := removeStale(snaps, ".tmp-"); err != nil {
		return nil, err
	}
	if err := removeStale(p.dir, ".latest.json.tmp-"); err != nil {
		return nil, err
	}
	prev := p.previous()
	tmp, err := os.MkdirTemp(snaps, ".tmp-"+info.SnapshotID+"-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp) // best effort; the next Prepare removes leftovers
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}

	s := &Staged{p: p, id: info.SnapshotID}
	files, err := p.writeFiles(ctx, tmp, info, res, prev, &s.stats)
	if err != nil {
		return nil, err
	}
	manifest, err := manifestBytes(info, files)
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(tmp, "manifest.json"), manifest, true); err != nil {
		return nil, err
	}
	if err := syncDir(tmp); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.tmp, s.manifest = tmp, manifest
	s.stats.Files = len(files) + 1
	s.stats.Prepare = time.Since(began)
	return s, nil
}

// removeStale removes the temporary files and directories in dir that
// crashed publishes left behind.
func removeStale(dir, prefix string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("remove stale %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}

// install moves the finished tmp directory to final. When final exists (the
// same run published again) with the same manifest, the files are the same:
// it is kept as it is, so readers following latest.json never miss it.
// Otherwise the old directory is moved aside and replaced.
func install(tmp, final string, manifest []byte) error {
	if _, err := os.Lstat(final); errors.Is(err, os.ErrNotExist) {
		return os.Rename(tmp, final)
	}
	if old, err := os.ReadFile(filepath.Join(final, "manifest.json")); err == nil && bytes.Equal(old, manifest) {
		return os.RemoveAll(tmp)
	}
	aside := tmp + "-replaced" // a .tmp- name: removed by the next Publish if we crash
	if err := os.Rename(final, aside); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Rename(aside, final) // put the old one back; the rename error is the one to report
		return err
	}
	return os.RemoveAll(aside)
}

func (p *Publisher) writeLatest(id string) error {
	var buf bytes.Buffer
	if err := encodeJSON(&buf, latestDoc{SnapshotID: id, Path: "snapshots/" + id + "/"}); err != nil {
		return err
	}
	tmp := filepath.Join(p.dir, ".latest.json.tmp-"+randomHex())
	if err := writeFile(tmp, buf.Bytes(), true); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(p.dir, "latest.json")); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(p.dir)
}

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics on failure instead)
	return hex.EncodeToString(b[:])
}

func manifestBytes(info pipeline.RunInfo, files []FileEntry) ([]byte, error) {
	slices.SortFunc(files, func(a, b FileEntry) int { return strings.Compare(a.Path, b.Path) })
	notes := make([]string, len(info.Notes))
	for i, n := range info.Notes {
		notes[i] = publicText(n)
	}
	doc := manifestDoc{
		SnapshotID: info.SnapshotID, AsOf: formatTime(info.AsOf), CodeVersion: publicText(info.CodeVersion),
		CycleSetSHA256: info.CycleSetSHA256,
		Inputs:         manifestInputs{Counts: info.Inputs.Counts, SHA256: info.Inputs.SHA256},
		Notes:          notes, Files: files,
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

// job is one file to write, relative to the snapshot directory.
type job struct {
	rel string
	buf *bytes.Buffer
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeFiles writes every snapshot file but the manifest (linking the files
// prev has the same bytes of), flushes them, and returns their manifest
// entries. Documents are encoded on the calling goroutine and written by one
// writer goroutine beside it. One writer: file creation is kernel CPU, two
// writers were no faster and used more of it (creating 215,000 files on
// the benchmark machine: 6.4 s and 17.2 s of system time with two; 5.8 to
// 9.4 s and 9.8 to 14.4 s with one, 4 runs), and during a run the other
// core is busy with the private outputs.
func (p *Publisher) writeFiles(ctx context.Context, root string, info pipeline.RunInfo, res *pipeline.Result, prev *previous, st *Stats) ([]FileEntry, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan job, 4)
	var files []FileEntry
	written := make(chan struct{})
	go func() {
		defer close(written)
		for j := range jobs {
			if ctx.Err() == nil {
				data := j.buf.Bytes()
				sum := sha256.Sum256(data)
				dst := filepath.Join(root, filepath.FromSlash(j.rel))
				if prev.link(j.rel, sum, int64(len(data)), dst) {
					st.Linked++
				} else if err := writeNew(dst, data, !haveSyncFS); err != nil {
					cancel(err)
				}
				if ctx.Err() == nil {
					files = append(files, FileEntry{Path: j.rel, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(data))})
				}
			}
			j.buf.Reset()
			bufPool.Put(j.buf)
		}
	}()

	dirs := []string{root}
	mkdir := func(rel string) error {
		for d := rel; d != "."; d = path.Dir(d) {
			dirs = append(dirs, filepath.Join(root, filepath.FromSlash(d)))
		}
		return os.MkdirAll(filepath.Join(root, filepath.FromSlash(rel)), 0o755)
	}
	genErr := p.generate(info, res, mkdir, func(rel string, v any) error {
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
	<-written
	if genErr != nil {
		return nil, genErr
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	flush := time.Now()
	if haveSyncFS {
		if err := syncFS(root); err != nil {
			return nil, err
		}
	}
	defer func() { st.Flush = time.Since(flush) }()
	slices.Sort(dirs)
	for _, d := range slices.Compact(dirs) {
		if err := syncDir(d); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// generate produces every document of the snapshot, in a fixed order,
// creating directories before their files.
func (p *Publisher) generate(info pipeline.RunInfo, res *pipeline.Result, mkdir func(rel string) error, emit func(rel string, v any) error) error {
	asOf := formatTime(info.AsOf)

	// cycles.json: summaries, startTime descending (ties: id).
	order := make([]int, len(res.Cycles))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ca, cb := res.Cycles[a].Cycle, res.Cycles[b].Cycle
		if c := cb.Rules.StartTime.Compare(ca.Rules.StartTime); c != 0 {
			return c
		}
		return strings.Compare(ca.ID, cb.ID)
	})
	doc := cyclesDoc{SnapshotID: info.SnapshotID, AsOf: asOf, Cycles: []cycleSummary{}}
	for _, i := range order {
		cr := res.Cycles[i]
		c := cr.Cycle
		rules, err := publicRules(c)
		if err != nil {
			return err
		}
		m := func(a int64) pipeline.Money { return pipeline.Money{Currency: c.Rules.Currency, Amount: a} }
		t := cr.Totals
		doc.Cycles = append(doc.Cycles, cycleSummary{
			ID: c.ID, DisplayName: publicText(c.DisplayName), RulesURL: publicText(c.RulesURL), Rules: rules,
			Status: cr.Status, IsFinal: cr.IsFinal, SettlesAt: formatTime(cr.SettlesAt),
			AwardPoolRemaining: m(cr.AwardPoolRemaining),
			Totals: totals{
				Referrals: t.Referrals, Conversions: t.Conversions, PendingConversions: t.PendingConversions,
				Revenue: m(t.Revenue), PendingRevenue: m(t.PendingRevenue),
				RankedReferrers: t.RankedReferrers, QualifiedReferrers: t.QualifiedReferrers, Awarded: m(t.Awarded),
			},
		})
	}
	if err := emit("cycles.json", doc); err != nil {
		return err
	}

	// Leaderboard pages.
	for _, cr := range res.Cycles {
		dir := path.Join("cycles", cr.Cycle.ID, "leaderboard")
		if err := mkdir(dir); err != nil {
			return err
		}
		n := len(cr.Leaderboard)
		pages := max(1, (n+p.recordsPerPage-1)/p.recordsPerPage)
		for page := 1; page <= pages; page++ {
			lo := min(n, (page-1)*p.recordsPerPage)
			hi := min(n, page*p.recordsPerPage)
			entries := make([]entry, 0, hi-lo)
			for _, e := range cr.Leaderboard[lo:hi] {
				entries = append(entries, entryFor(cr.Cycle, e))
			}
			lp := leaderboardPage{
				CycleID: cr.Cycle.ID, Status: cr.Status, AsOf: asOf, Entries: entries,
				PageContext: pageContext{
					Page: page, RecordsPerPage: p.recordsPerPage, TotalRecords: n, TotalPages: pages,
					HasNext: page < pages, HasPrev: page > 1,
				},
			}
			if err := emit(path.Join(dir, strconv.Itoa(page)+".json"), lp); err != nil {
				return err
			}
		}
	}

	// Referrer files: one per users refcode, every cycle (cycle id order).
	if err := mkdir("referrers"); err != nil {
		return err
	}
	// Where each referrer is in each cycle: per cycle and users row, k+1
	// for Leaderboard[k], -(k+1) for Unranked[k], 0 for neither.
	pos := make(map[string]int32, len(res.Referrers))
	for i := len(res.Referrers) - 1; i >= 0; i-- {
		pos[res.Referrers[i].Refcode] = int32(i) // the first row of a refcode
	}
	where := make([][]int32, len(res.Cycles))
	for i, cr := range res.Cycles {
		w := make([]int32, len(res.Referrers))
		for k := range cr.Unranked {
			if p, ok := pos[cr.Unranked[k].Refcode]; ok {
				w[p] = -int32(k + 1)
			}
		}
		for k := range cr.Leaderboard {
			if p, ok := pos[cr.Leaderboard[k].Refcode]; ok {
				w[p] = int32(k + 1)
			}
		}
		where[i] = w
	}
	idOrder := make([]int, len(res.Cycles))
	for i := range idOrder {
		idOrder[i] = i
	}
	slices.SortFunc(idOrder, func(a, b int) int { return strings.Compare(res.Cycles[a].Cycle.ID, res.Cycles[b].Cycle.ID) })

	seen := make(map[string]string, len(res.Referrers))
	rf := referrerFile{cycles: make([]namedCycle, 0, len(res.Cycles))}
	for _, u := range res.Referrers {
		if u.Refcode == "" {
			continue // a users row without a refcode cannot be referred
		}
		pub := publicRefcode(u.Refcode)
		name := RefcodeFileName(pub)
		if prev, dup := seen[name]; dup {
			if prev == u.Refcode {
				continue // the same refcode twice in users
			}
			return fmt.Errorf("refcodes %q and %q map to the same file %s.json", prev, u.Refcode, name)
		}
		seen[name] = u.Refcode
		p := pos[u.Refcode]
		rf.refcode, rf.cycles = pub, rf.cycles[:0] // emit encodes rf before it returns
		for _, i := range idOrder {
			cr := &res.Cycles[i]
			var v referrerCycle
			switch k := where[i][p]; {
			case k > 0:
				v = referrerCycleFor(cr.Cycle, cr.Leaderboard[k-1], true)
			case k < 0:
				v = referrerCycleFor(cr.Cycle, cr.Unranked[-k-1], false)
			default:
				v = referrerCycleFor(cr.Cycle, pipeline.Entry{Refcode: u.Refcode}, false)
			}
			rf.cycles = append(rf.cycles, namedCycle{id: cr.Cycle.ID, v: v})
		}
		if err := emit("referrers/"+name+".json", rf); err != nil {
			return err
		}
	}
	return nil
}

// referrerFile is {"refcode": ..., "cycles": {"<id>": {...}, ...}} with the
// cycles in id order.
type referrerFile struct {
	refcode string
	cycles  []namedCycle
}

type namedCycle struct {
	id string
	v  referrerCycle
}

func (r referrerFile) MarshalJSON() ([]byte, error) { return r.appendJSON(nil), nil }

// writeNew writes a snapshot file that must not exist yet. One that exists
// already is two names that are one on this filesystem (refcodes that
// differ only in case, on a case-insensitive one): an error, never an
// overwrite.
func writeNew(path string, data []byte, sync bool) error {
	err := writeFile(path, data, sync)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists already (two refcodes that differ only in case, on a case-insensitive filesystem?)", path)
	}
	return err
}

// writeFile creates path with data, fsyncing it when sync is set.
func writeFile(path string, data []byte, sync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// syncDir fsyncs a directory so that the entries in it are durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
