// Package privatefile writes one finance report file into PRIVATE_DIR the
// way every private output is written: into a temporary file in the same
// directory, synced, then renamed over the final name and the directory
// synced, so a reader (or a failed run) never leaves half a file, and the
// previous report stays until the new one is complete. The workbook and the
// HTML report are one file per snapshot (report-<snapshot>.xlsx/.html);
// the run removes the older ones (RemoveOthers) only after it published,
// so a failed run leaves the previous reports in place.
package privatefile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// File is a report being written. Write to it, then Commit or Abort.
type File struct {
	*os.File
	final string
	done  bool
}

const tmpMarker = ".tmp-"

// Create starts writing dir/name (dir is created when missing). Temporary
// files of an earlier, crashed write of a report with the same extension
// are removed first.
func Create(dir, name string) (*File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ext := filepath.Ext(name)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, ".") && strings.Contains(n, ext+tmpMarker) {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("remove stale %s: %w", n, err)
			}
		}
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:]) // never fails (crypto/rand panics instead)
	tmp := filepath.Join(dir, "."+name+tmpMarker+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	return &File{File: f, final: filepath.Join(dir, name)}, nil
}

// Path is the final path of the file.
func (f *File) Path() string { return f.final }

// Abort removes the temporary file; the previous report is untouched. It
// is a no-op after Commit, so it can be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	_ = os.Remove(f.File.Name())
}

// Commit syncs the file, renames it to its final name and syncs the
// directory.
func (f *File) Commit() error {
	if f.done {
		return errors.New("privatefile: commit after abort or commit")
	}
	if err := f.File.Sync(); err != nil {
		f.Abort()
		return err
	}
	if err := f.File.Close(); err != nil {
		f.Abort()
		return err
	}
	f.done = true
	if err := os.Rename(f.File.Name(), f.final); err != nil {
		_ = os.Remove(f.File.Name())
		return err
	}
	return syncDir(filepath.Dir(f.final))
}

// RemoveOthers removes every regular file of dir whose name starts with
// prefix and ends with suffix, except keep: the reports of older snapshots,
// once the run that wrote the new one has published.
func RemoveOthers(dir, prefix, suffix, keep string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, prefix) && strings.HasSuffix(n, suffix) && n != keep {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove older report %s: %w", n, err)
			}
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Write creates dir/name, lets write fill it, and commits it; when write
// fails the temporary file is removed and the previous file stays. It
// returns the file's path.
func Write(dir, name string, write func(f *File) error) (string, error) {
	f, err := Create(dir, name)
	if err != nil {
		return "", err
	}
	defer f.Abort()
	if err := write(f); err != nil {
		return "", fmt.Errorf("%s: %w", f.Path(), err)
	}
	if err := f.Commit(); err != nil {
		return "", fmt.Errorf("%s: %w", f.Path(), err)
	}
	return f.Path(), nil
}
