package bigquery

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// spoolMemory is how many bytes of a table's encoded rows a spool keeps in
// memory before it moves them to a temporary file.
var spoolMemory = 8 << 20

// spool holds one table's encoded rows for its load job, which may be
// retried and so must be able to read them again: in memory while small,
// then in a temporary file (mode 0600) in dir.
type spool struct {
	dir  string
	buf  []byte
	f    *os.File
	size int64
}

func (s *spool) Write(p []byte) (int, error) {
	if s.f == nil && len(s.buf)+len(p) <= spoolMemory {
		s.buf = append(s.buf, p...)
		s.size += int64(len(p))
		return len(p), nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "refrecon-bigquery-*.ndjson") // mode 0600
		if err != nil {
			return 0, fmt.Errorf("spool rows: %w", err)
		}
		s.f = f
		if _, err := f.Write(s.buf); err != nil {
			return 0, fmt.Errorf("spool rows: %w", err)
		}
		s.buf = nil
	}
	n, err := s.f.Write(p)
	s.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("spool rows: %w", err)
	}
	return n, nil
}

// reader reads the spooled rows from the start; every call gives a new,
// independent reader.
func (s *spool) reader() io.Reader {
	if s.f == nil {
		return bytes.NewReader(s.buf)
	}
	return io.NewSectionReader(s.f, 0, s.size)
}

// remove drops the rows and deletes the temporary file.
func (s *spool) remove() {
	s.buf = nil
	if s.f != nil {
		_ = s.f.Close()
		_ = os.Remove(s.f.Name())
		s.f = nil
	}
}
