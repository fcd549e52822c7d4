//go:build !linux || localdir_portable

package localdir

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"syscall"
)

// dir is a directory of a snapshot, by path: the portable version of
// dirfd_linux.go (tests run it on Linux with -tags localdir_portable).
type dir struct{ path string }

func openDir(path string) (*dir, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &os.PathError{Op: "open", Path: path, Err: syscall.ENOTDIR}
	}
	return &dir{path: path}, nil
}

func (d *dir) close() error { return nil }

func (d *dir) sync() error { return SyncDir(d.path) }

func (d *dir) join(name string) string { return filepath.Join(d.path, name) }

func (d *dir) create(name string, data []byte, sync bool) error {
	return writeFile(d.join(name), data, sync)
}

func (d *dir) link(from *dir, name string) error { return os.Link(from.join(name), d.join(name)) }

func (d *dir) remove(name string) error { return os.Remove(d.join(name)) }

func (d *dir) hasContent(name string, size int64, want []byte, sum [sha256.Size]byte) bool {
	f, err := os.OpenFile(d.join(name), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return false
	}
	return checkContent(f.Read, size, want, sum)
}
