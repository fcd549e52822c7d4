// Package localdir is the sinks/public storage driver for a local
// directory (PUBLIC_DIR as a path): the tuned writer of the 1M-referral
// publish (docs/performance.md).
//
//   - A snapshot is staged under snapshots/.tmp-<id>-<random>/, which
//     nothing reads (the frontend and retention follow latest.json and
//     snapshot-id names only); Commit renames it to snapshots/<id>/.
//     NewSnapshot removes .tmp-* entries left by crashed runs, so only one
//     publish may run at a time on a directory (Lock).
//   - Files are created in place with O_EXCL (an existing name is an
//     error, never an overwrite: two refcodes that differ only in case on a
//     case-insensitive filesystem), by one goroutine: file creation is
//     kernel CPU, and two writers were no faster.
//   - Reuse is a hard link to the previous snapshot's file, kept when the
//     file it names has the manifest's size and sha256; after 16 failed
//     links (a filesystem without them) a snapshot stops trying and writes
//     every file.
//   - On Linux, files are created, linked and read with raw system calls
//     relative to open directories (dirfd_linux.go), elsewhere by path
//     (dirfd_portable.go).
//   - Flush is one sync(2) on Linux (instead of an fsync per file), then an
//     fsync of every directory written; elsewhere every file is fsynced.
//   - List reads the staged tree's directories (getdents, no stat per
//     file) and takes each file's size from the write that stored it all.
//   - latest.json is replaced by rename of a fsynced temporary file, then
//     the directory is fsynced.
//   - Lock is flock(2) on PUBLIC_DIR/.refrecon.lock (lock.go).
package localdir

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/refrecon/refrecon/sinks/public"
)

// Dir is a public.Storage in a local directory.
type Dir struct {
	root string
	// link, when set (tests), replaces the hard link Reuse makes.
	link func(oldname, newname string) error
}

var _ public.Storage = (*Dir)(nil)

// Open returns the store in directory root. It does no I/O: the
// directory is created when something is written or locked.
func Open(root string) *Dir { return &Dir{root: root} }

// String is the directory's path.
func (d *Dir) String() string { return d.root }

func (d *Dir) path(key string) (string, error) {
	if !public.CleanKey(key) {
		return "", fmt.Errorf("key %q: not a clean relative path", key)
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// ReadObject reads the file at key.
func (d *Dir) ReadObject(_ context.Context, key string) ([]byte, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// ReadLatest reads latest.json; a directory has no versions.
func (d *Dir) ReadLatest(ctx context.Context) ([]byte, string, error) {
	b, err := d.ReadObject(ctx, public.LatestName)
	return b, "", err
}

// WriteLatest replaces latest.json by rename. The version is not checked:
// the lock keeps other publishers out.
func (d *Dir) WriteLatest(_ context.Context, data []byte, _ string) error {
	tmp := filepath.Join(d.root, ".latest.json.tmp-"+randomHex())
	if err := writeFile(tmp, data, true); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(d.root, public.LatestName)); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return SyncDir(d.root)
}

// ListSnapshots lists the directories under snapshots/.
func (d *Dir) ListSnapshots(context.Context) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(d.root, public.SnapshotsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil // os.ReadDir sorts by name
}

// DeleteSnapshot removes snapshots/<id>/.
func (d *Dir) DeleteSnapshot(_ context.Context, id string) error {
	if !public.CleanName(id) {
		return fmt.Errorf("snapshot %q: not a snapshot name", id)
	}
	return os.RemoveAll(filepath.Join(d.root, public.SnapshotsDir, id))
}

// NewSnapshot removes what crashed publishes left behind and starts
// staging snapshot id in a temporary directory.
func (d *Dir) NewSnapshot(_ context.Context, id string) (public.SnapshotWriter, error) {
	if !public.CleanName(id) || strings.HasPrefix(id, ".") {
		return nil, fmt.Errorf("snapshot %q: not a snapshot name", id)
	}
	snaps := filepath.Join(d.root, public.SnapshotsDir)
	if err := os.MkdirAll(snaps, 0o755); err != nil {
		return nil, err
	}
	if err := removeStale(snaps, ".tmp-"); err != nil {
		return nil, err
	}
	if err := removeStale(d.root, ".latest.json.tmp-"); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(snaps, ".tmp-"+id+"-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	root, err := openDir(tmp)
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	return &snapshot{
		d: d, tmp: tmp, final: filepath.Join(snaps, id),
		dirs: map[string]*dir{".": root}, prev: map[string]*dir{}, written: map[string]int64{}, link: d.link,
	}, nil
}

// maxLinkFailures is how many failed hard links make a snapshot stop
// trying (a filesystem without hard links, a previous snapshot on another
// device): every file is then written.
const maxLinkFailures = 16

// snapshot stages one snapshot; its methods run on one goroutine at a time
// (it does not implement public.Parallel).
type snapshot struct {
	d     *Dir
	tmp   string // "" once committed or aborted
	final string
	// dirs are the directories made, relative to tmp: open (a file's
	// directory) or nil (only a parent of one).
	dirs map[string]*dir
	// prev are the previous snapshots' directories Reuse links from, by
	// "<snapshot>/<dir>": nil when it could not be opened.
	prev     map[string]*dir
	written  map[string]int64                    // files stored, with their sizes
	link     func(oldname, newname string) error // Dir.link
	failures int
}

// split is rel's directory and base name.
func split(rel string) (dir, name string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return ".", rel
	}
	return rel[:i], rel[i+1:]
}

// mkdirs makes the directory dir (relative to tmp) and its parents once per
// snapshot and returns it open.
func (s *snapshot) mkdirs(dir string) (*dir, error) {
	if d := s.dirs[dir]; d != nil {
		return d, nil
	}
	p := filepath.Join(s.tmp, filepath.FromSlash(dir))
	if err := os.MkdirAll(p, 0o755); err != nil {
		return nil, err
	}
	d, err := openDir(p)
	if err != nil {
		return nil, err
	}
	s.dirs[dir] = d
	for dir = path.Dir(dir); ; dir = path.Dir(dir) {
		if _, ok := s.dirs[dir]; ok {
			break
		}
		s.dirs[dir] = nil
	}
	return d, nil
}

// prevDir is directory dir of snapshot from, open, or nil.
func (s *snapshot) prevDir(from, dir string) *dir {
	key := from + "/" + dir
	d, ok := s.prev[key]
	if !ok {
		d, _ = openDir(filepath.Join(s.d.root, public.SnapshotsDir, from, filepath.FromSlash(dir)))
		s.prev[key] = d
	}
	return d
}

// closeDirs closes the open directories.
func (s *snapshot) closeDirs() {
	for _, m := range []map[string]*dir{s.dirs, s.prev} {
		for k, d := range m {
			if d != nil {
				_ = d.close()
			}
			delete(m, k)
		}
	}
}

func (s *snapshot) Put(_ context.Context, rel string, data []byte) error {
	if s.tmp == "" {
		return errors.New("snapshot already committed or aborted")
	}
	if !public.CleanKey(rel) {
		return fmt.Errorf("key %q: not a clean relative path", rel)
	}
	dirRel, name := split(rel)
	d, err := s.mkdirs(dirRel)
	if err != nil {
		return err
	}
	if err := writeNew(d, name, data, !haveSyncFS); err != nil {
		return err
	}
	s.written[rel] = int64(len(data))
	return nil
}

// Reuse hard-links the previous snapshot's file and keeps the link when it
// has the manifest's bytes: checked through the new link (the same inode,
// so what is checked is what the snapshot holds), a regular file of the
// manifest's size, then its sha256. A file truncated, edited or replaced
// by hand since it was published is not kept: the caller writes it anew.
// The size is not looked up before the link (an lstat per file, which only
// saved a link and an unlink for a damaged file, docs/performance.md); a
// file the previous snapshot lacks is not a failure to link.
func (s *snapshot) Reuse(_ context.Context, rel, from string, size int64, sum [sha256.Size]byte) bool {
	return s.reuse(rel, from, size, nil, sum)
}

// ReuseContent is Reuse checking the linked file against data itself
// (public.ContentReuser): a comparison instead of a sha256 of every
// linked file.
func (s *snapshot) ReuseContent(_ context.Context, rel, from string, data []byte) bool {
	if data == nil {
		data = []byte{} // compared, not hashed
	}
	return s.reuse(rel, from, int64(len(data)), data, [sha256.Size]byte{})
}

// reuse links rel from snapshot from and keeps the link when the file has
// size bytes that are want (when want is not nil) or have the sha256 sum.
func (s *snapshot) reuse(rel, from string, size int64, want []byte, sum [sha256.Size]byte) bool {
	if s.tmp == "" || s.failures >= maxLinkFailures || !public.CleanKey(rel) || !public.CleanName(from) {
		return false
	}
	dirRel, name := split(rel)
	src := s.prevDir(from, dirRel)
	if src == nil {
		return false
	}
	dst, err := s.mkdirs(dirRel)
	if err != nil {
		return false
	}
	if s.link != nil {
		err = s.link(filepath.Join(src.path, name), filepath.Join(dst.path, name))
	} else {
		err = dst.link(src, name)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false // not in the previous snapshot: not a failure to link
	}
	if err != nil {
		s.failures++
		return false
	}
	if !dst.hasContent(name, size, want, sum) {
		_ = dst.remove(name)
		return false
	}
	s.written[rel] = size
	return true
}

// checkContent reports whether read, of a regular file whose size the
// caller found to be size, gives size bytes: want, when it is not nil, or
// else bytes with the given sha256. The file
// is read whole into a pooled buffer (public files are a few KiB): io.Copy
// into the hash allocated a 32 KiB buffer per file, 5 GB for the 162,000
// files a 1M next night links (docs/performance.md). It asks for size+1
// bytes, so a file that grew since its size was taken is refused, and
// stops once it has size bytes: a read of a regular file returns fewer
// bytes than asked only at its end, so no second read(2) is needed to see
// the end of the file (docs/performance.md, session 5).
func checkContent(read func([]byte) (int, error), size int64, want []byte, sum [sha256.Size]byte) bool {
	bp := contentBufs.Get().(*[]byte)
	defer contentBufs.Put(bp)
	if int64(cap(*bp)) < size+1 {
		*bp = make([]byte, size+1)
	}
	buf := (*bp)[:size+1]
	var n int64
	for n < size {
		m, err := read(buf[n:])
		n += int64(m)
		if m == 0 || err != nil {
			break
		}
	}
	if n != size {
		return false // shorter, longer, or unreadable
	}
	if want != nil {
		return bytes.Equal(buf[:n], want)
	}
	return sha256.Sum256(buf[:n]) == sum
}

// contentBufs holds checkContent's read buffers.
var contentBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func (s *snapshot) Flush(context.Context) error {
	if s.tmp == "" {
		return errors.New("snapshot already committed or aborted")
	}
	if haveSyncFS {
		if err := syncFS(s.tmp); err != nil {
			return err
		}
	}
	for _, rel := range slices.Sorted(maps.Keys(s.dirs)) {
		var err error
		if d := s.dirs[rel]; d != nil {
			err = d.sync()
		} else {
			err = SyncDir(filepath.Join(s.tmp, filepath.FromSlash(rel)))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// List walks the staged tree. A file this writer stored has the size its
// write stored in full; any other file (none, unless someone wrote into
// the temporary directory) is stat'ed.
func (s *snapshot) List(context.Context) ([]public.Object, error) {
	if s.tmp == "" {
		return nil, errors.New("snapshot already committed or aborted")
	}
	var out []public.Object
	var walk func(rel string) error
	walk = func(rel string) error {
		f, err := os.Open(filepath.Join(s.tmp, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		ents, err := f.ReadDir(-1) // unsorted: List's order is any
		f.Close()
		if err != nil {
			return err
		}
		for _, e := range ents {
			key := e.Name()
			if rel != "." {
				key = rel + "/" + key
			}
			switch {
			case e.IsDir():
				if err := walk(key); err != nil {
					return err
				}
			case e.Type().IsRegular():
				size, ok := s.written[key]
				if !ok {
					fi, err := e.Info()
					if err != nil {
						return err
					}
					size = fi.Size()
				}
				out = append(out, public.Object{Key: key, Size: size})
			}
		}
		return nil
	}
	if err := walk("."); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *snapshot) Commit(context.Context) error {
	if s.tmp == "" {
		return errors.New("snapshot already committed or aborted")
	}
	s.closeDirs()
	if err := install(s.tmp, s.final); err != nil {
		return err
	}
	s.tmp = "" // installed (or an identical one kept and tmp removed)
	return SyncDir(filepath.Dir(s.final))
}

func (s *snapshot) Abort(context.Context) error {
	if s.tmp == "" {
		return nil
	}
	s.closeDirs()
	tmp := s.tmp
	s.tmp = ""
	return os.RemoveAll(tmp)
}

// install moves the finished tmp directory to final. When final exists (the
// same run published again) with the same manifest and every file of tmp
// is in final with the same bytes, final is kept as it is, so readers
// following latest.json never miss it. Otherwise (another manifest, or a
// published file truncated, edited or deleted by hand) the old directory is
// moved aside and replaced: a re-run repairs a damaged snapshot.
func install(tmp, final string) error {
	if _, err := os.Lstat(final); errors.Is(err, os.ErrNotExist) {
		return os.Rename(tmp, final)
	}
	manifest, err := os.ReadFile(filepath.Join(tmp, public.ManifestName))
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(filepath.Join(final, public.ManifestName)); err == nil && bytes.Equal(old, manifest) && sameTree(tmp, final) {
		return os.RemoveAll(tmp)
	}
	aside := tmp + "-replaced" // a .tmp- name: removed by the next NewSnapshot if we crash
	if err := os.Rename(final, aside); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Rename(aside, final) // put the old one back; the rename error is the one to report
		return err
	}
	return os.RemoveAll(aside)
}

// sameTree reports whether every regular file under tmp is in final with
// the same bytes. A file tmp hard-linked from final (Reuse verified its
// sha256) is the same inode and costs a stat; any other is compared byte
// for byte.
func sameTree(tmp, final string) bool {
	err := filepath.WalkDir(tmp, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(tmp, p)
		if err != nil {
			return err
		}
		q := filepath.Join(final, rel)
		a, err := os.Lstat(p)
		if err != nil {
			return err
		}
		b, err := os.Lstat(q)
		if err != nil {
			return err
		}
		if !b.Mode().IsRegular() || a.Size() != b.Size() {
			return errDiffers
		}
		if os.SameFile(a, b) {
			return nil
		}
		x, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		y, err := os.ReadFile(q)
		if err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			return errDiffers
		}
		return nil
	})
	return err == nil
}

var errDiffers = errors.New("differs")

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

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics on failure instead)
	return hex.EncodeToString(b[:])
}

// writeNew writes the snapshot file name in d, which must not exist yet.
// One that exists already is two names that are one on this filesystem
// (refcodes that differ only in case, on a case-insensitive one): an error,
// never an overwrite.
func writeNew(d *dir, name string, data []byte, sync bool) error {
	err := d.create(name, data, sync)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists already (two refcodes that differ only in case, on a case-insensitive filesystem?)", filepath.Join(d.path, name))
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

// SyncDir fsyncs a directory so that the entries in it (created, renamed
// or removed) are durable. A filesystem that cannot sync a directory
// (EINVAL) is not an error.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return syncErr(dir, f.Sync())
}

// syncErr is the error of fsyncing directory dir: none when the filesystem
// cannot sync a directory (EINVAL).
func syncErr(dir string, err error) error {
	if err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
