//go:build linux && !localdir_portable

package localdir

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dir is an open directory of a snapshot: its files are created, linked
// and read with raw system calls relative to its descriptor. Measured at 1M
// referrers (docs/performance.md, session 5): os.OpenFile on an absolute
// path walks every path component on each open and adds an fcntl, an
// epoll registration attempt and a finalizer per file; here a file is
// openat + write + close.
type dir struct {
	f    *os.File // the open directory (its finalizer closes a forgotten one)
	fd   int
	path string
}

func openDir(path string) (*dir, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &dir{f: f, fd: int(f.Fd()), path: path}, nil
}

func (d *dir) close() error { return d.f.Close() }

// sync fsyncs the directory, so the entries created in it are durable.
func (d *dir) sync() error { return syncErr(d.path, d.f.Sync()) }

func (d *dir) err(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: d.path + "/" + name, Err: err}
}

// link makes name in d a hard link to name in from, with a raw system
// call (see create: a link is an entry added to a directory in the page
// cache, like a creation).
func (d *dir) link(from *dir, name string) error {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return &os.LinkError{Op: "link", Old: from.path + "/" + name, New: d.path + "/" + name, Err: err}
	}
	for {
		_, _, errno := unix.RawSyscall6(unix.SYS_LINKAT, uintptr(from.fd), uintptr(unsafe.Pointer(p)), uintptr(d.fd), uintptr(unsafe.Pointer(p)), 0, 0)
		runtime.KeepAlive(p)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return &os.LinkError{Op: "link", Old: from.path + "/" + name, New: d.path + "/" + name, Err: errno}
		}
		return nil
	}
}

func (d *dir) remove(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return d.err("remove", name, err)
	}
	return nil
}

// hasContent reports whether the regular file name (not followed if a
// symlink) is size bytes long and holds want (not nil) or has the sha256
// sum.
//
// Its openat, fstat, reads and close are raw system calls too (see
// create): the next night, the content check and the link of 162,444
// files at 1M referrers made the writer give up its P five times per file;
// with the raw calls that night's prepare took 19.2 and 18.2 s instead of
// 30.0 and 27.2 s, and the run 9-10 s less system CPU (docs/performance.md,
// session 6, change 35). The file was linked a moment ago from the previous
// snapshot; a read of one out of the page cache waits for the disk holding
// its P, which the other P's goroutines then run without.
func (d *dir) hasContent(name string, size int64, want []byte, sum [sha256.Size]byte) bool {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return false
	}
	fd, errno := rawOpenat(d.fd, p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errno != 0 {
		return false
	}
	defer unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	var st unix.Stat_t
	if _, _, errno := unix.RawSyscall(unix.SYS_FSTAT, fd, uintptr(unsafe.Pointer(&st)), 0); errno != 0 || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != size {
		return false
	}
	return checkContent(func(b []byte) (int, error) {
		if len(b) == 0 {
			return 0, nil
		}
		for {
			n, _, errno := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			if errno == unix.EINTR {
				continue
			}
			if errno != 0 {
				return 0, errno
			}
			return int(n), nil
		}
	}, size, want, sum)
}

// create makes the file name with data; it must not exist (O_EXCL, which
// also never follows a symlink). sync fsyncs it before it is closed.
//
// Its openat, write and close are made with unix.RawSyscall, without
// telling the Go scheduler: a file's creation is ~20 µs of kernel CPU that
// seldom waits for the disk (a new entry of a directory in the page cache),
// and a goroutine that enters the scheduler's syscall state while the
// other outputs keep both Ps busy has its P taken by sysmon and waits in
// the global run queue for another after every call (docs/performance.md,
// session 5). The fsync, which waits for the disk, is an ordinary call.
func (d *dir) create(name string, data []byte, sync bool) error {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return d.err("open", name, err)
	}
	fd, errno := rawOpenat(d.fd, p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if errno != 0 {
		return d.err("open", name, errno)
	}
	closeFD := func() unix.Errno {
		_, _, errno := unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
		return errno
	}
	for len(data) > 0 {
		n, _, errno := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)))
		if errno == unix.EINTR {
			continue
		}
		if errno == 0 && n == 0 {
			errno = unix.EIO
		}
		if errno != 0 {
			closeFD()
			return d.err("write", name, errno)
		}
		data = data[n:]
	}
	if sync {
		if err := unix.Fsync(int(fd)); err != nil {
			closeFD()
			return d.err("sync", name, err)
		}
	}
	if errno := closeFD(); errno != 0 {
		return d.err("close", name, errno)
	}
	return nil
}

// rawOpenat opens name (a NUL-terminated path) relative to dirfd with a
// raw system call (see create).
func rawOpenat(dirfd int, name *byte, flags int, mode uint32) (uintptr, unix.Errno) {
	for {
		fd, _, errno := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(name)), uintptr(flags), uintptr(mode), 0, 0)
		runtime.KeepAlive(name)
		if errno != unix.EINTR {
			return fd, errno
		}
	}
}
