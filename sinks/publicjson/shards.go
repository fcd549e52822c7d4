package publicjson

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// shardCount is how many staging directories new files are created in.
const shardCount = 64

// sharder creates a snapshot's new files in small staging directories and
// then moves them to their place. On ext4 creating a file costs far more in
// a directory that already holds many (measured here, 100,000 files: 23-28 s
// created in one directory, 8-10 s created across 64 and then renamed into
// one), and referrers/ holds one file per referrer. The staging directories
// live inside the snapshot's private temporary directory and are gone
// before it is flushed.
type sharder struct {
	dir   string // under the snapshot's temporary directory
	made  [shardCount]bool
	n     int
	moves []move
}

type move struct{ from, to string }

// newSharder stages files under dir, which it creates and removes.
func newSharder(dir string) *sharder {
	return &sharder{dir: dir}
}

// write creates a new file with data for dst in a staging directory.
func (s *sharder) write(dst string, data []byte, sync bool) error {
	k := s.n % shardCount
	shard := filepath.Join(s.dir, strconv.Itoa(k))
	if !s.made[k] {
		if err := os.MkdirAll(shard, 0o755); err != nil {
			return err
		}
		s.made[k] = true
	}
	tmp := filepath.Join(shard, strconv.Itoa(s.n))
	s.n++
	if err := writeFile(tmp, data, sync); err != nil {
		return err
	}
	s.moves = append(s.moves, move{from: tmp, to: dst})
	return nil
}

// place moves every staged file to its destination and removes the
// staging directories. A destination that exists already (two names that
// are one on a case-insensitive filesystem) is an error, as O_EXCL would be.
func (s *sharder) place() error {
	for _, m := range s.moves {
		if err := renameNoReplace(m.from, m.to); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s exists already (two refcodes that differ only in case, on a case-insensitive filesystem?)", m.to)
			}
			return err
		}
	}
	s.moves = nil
	return os.RemoveAll(s.dir)
}

// checkedRename is renameNoReplace where the kernel cannot refuse to
// replace: the temporary directory is this run's alone, so checking first
// is safe.
func checkedRename(from, to string) error {
	if _, err := os.Lstat(to); err == nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
	}
	return os.Rename(from, to)
}
