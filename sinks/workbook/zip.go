package workbook

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// sortedZip is the excelize.ZipWriter the workbook is saved with. It exists
// for two measured reasons:
//
//   - excelize's File.WriteTo builds the whole .xlsx in a bytes.Buffer before
//     writing it out (a 100k-row workbook is several MB, a 1M-row one tens of
//     MB); sortedZip ignores that buffer and writes to the output file.
//   - excelize adds the streamed worksheets in map order, so two saves of the
//     same workbook differ in their entry order; sortedZip deflates each entry
//     into a scratch file as excelize produces it and writes the archive at
//     Close in name order, each entry stamped with asOf, so the same inputs
//     give the same bytes.
//
// It also puts the rows into the worksheets (see splice).
type sortedZip struct {
	out      io.Writer
	scratch  *os.File
	modified time.Time
	entries  []zipEntry
	cur      *entryWriter
	err      error
	rows     *rowSource
}

type zipEntry struct {
	name       string
	off, csize int64
	usize      int64
	crc        uint32
}

func newSortedZip(out io.Writer, scratchDir string, modified time.Time, rows *rowSource) (*sortedZip, error) {
	f, err := os.CreateTemp(scratchDir, ".report-xlsx-scratch-")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(f.Name()) // unlinked: gone however the process ends
	return &sortedZip{out: out, scratch: f, modified: modified, rows: rows}, nil
}

var _ excelize.ZipWriter = (*sortedZip)(nil)

type entryWriter struct {
	z    *sortedZip
	e    zipEntry
	fw   *flate.Writer
	cw   countWriter
	crc  uint32
	held *bytes.Buffer // a worksheet, spliced when complete
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (w *entryWriter) Write(p []byte) (int, error) {
	if w.held != nil {
		return w.held.Write(p)
	}
	return w.write(p)
}

func (w *entryWriter) write(p []byte) (int, error) {
	w.crc = crc32.Update(w.crc, crc32.IEEETable, p)
	w.e.usize += int64(len(p))
	return w.fw.Write(p)
}

func (z *sortedZip) finishEntry() error {
	if z.cur == nil {
		return nil
	}
	w := z.cur
	z.cur = nil
	if w.held != nil {
		held := w.held.Bytes()
		w.held = nil
		if err := z.rows.splice(writerFunc(w.write), held); err != nil {
			return err
		}
	}
	if err := w.fw.Close(); err != nil {
		return err
	}
	w.e.csize, w.e.crc = w.cw.n, w.crc
	z.entries = append(z.entries, w.e)
	return nil
}

// Create starts the next entry (the previous one is complete).
func (z *sortedZip) Create(name string) (io.Writer, error) {
	if z.err != nil {
		return nil, z.err
	}
	if z.err = z.finishEntry(); z.err != nil {
		return nil, z.err
	}
	off, err := z.scratch.Seek(0, io.SeekEnd)
	if err != nil {
		z.err = err
		return nil, err
	}
	w := &entryWriter{z: z, e: zipEntry{name: name, off: off}, cw: countWriter{w: z.scratch}}
	// BestSpeed: deflate was half of the workbook's CPU at level 6; level 1
	// writes a 100k-referral workbook in 40% less CPU for a 35% larger file
	// (docs/performance.md, change 13). The entries' bytes are the same.
	w.fw, _ = flate.NewWriter(&w.cw, flate.BestSpeed) // level is valid
	if strings.HasPrefix(name, "xl/worksheets/") {
		w.held = new(bytes.Buffer)
	}
	z.cur = w
	return w, nil
}

// AddFS is not used by excelize when saving a workbook.
func (z *sortedZip) AddFS(fs.FS) error { return errors.New("workbook: AddFS not supported") }

// Close writes the archive in entry-name order.
func (z *sortedZip) Close() error {
	defer z.scratch.Close()
	if z.err != nil {
		return z.err
	}
	if err := z.finishEntry(); err != nil {
		return err
	}
	if err := z.rows.allWritten(); err != nil {
		return err
	}
	slices.SortFunc(z.entries, func(a, b zipEntry) int {
		// [Content_Types].xml first, as Office writes it; then by name.
		switch {
		case a.name == b.name:
			return 0
		case a.name == "[Content_Types].xml":
			return -1
		case b.name == "[Content_Types].xml":
			return 1
		case a.name < b.name:
			return -1
		}
		return 1
	})
	zw := zip.NewWriter(z.out)
	for _, e := range z.entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: z.modified,
			CRC32: e.crc, CompressedSize64: uint64(e.csize), UncompressedSize64: uint64(e.usize)}
		w, err := zw.CreateRaw(h)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, io.NewSectionReader(z.scratch, e.off, e.csize)); err != nil {
			return err
		}
	}
	return zw.Close()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// placeholderPrefix starts the text of the one row excelize writes in each
// worksheet: the part's index in rowSource.parts.
const placeholderPrefix = "refrecon-workbook-part-"

var (
	placeholderStart = []byte(`<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>` + placeholderPrefix)
	placeholderEnd   = []byte(`</t></is></c></row></sheetData>`)
)

// rowSource makes the rows of the workbook's parts as the archive writes
// their worksheets.
type rowSource struct {
	ctx     context.Context
	parts   []*part
	written []bool
	styles  *styles
	buf     []byte
}

// splice writes a worksheet that excelize wrote with a placeholder row,
// the placeholder replaced by the part's rows: excelize writes everything
// else (sheet views, frozen panes, column widths, the filter).
func (rs *rowSource) splice(w io.Writer, xml []byte) error {
	i := bytes.Index(xml, placeholderStart)
	if i < 0 {
		_, err := w.Write(xml)
		return err
	}
	rest := xml[i+len(placeholderStart):]
	j := bytes.Index(rest, placeholderEnd)
	if j < 0 {
		return errors.New("workbook: placeholder row not closed")
	}
	n, err := strconv.Atoi(string(rest[:j]))
	if err != nil || n < 0 || n >= len(rs.parts) || rs.written[n] {
		return fmt.Errorf("workbook: bad placeholder %q", rest[:j])
	}
	rs.written[n] = true
	if _, err := w.Write(append(xml[:i:i], "<sheetData>"...)); err != nil {
		return err
	}
	if rs.buf, err = rs.parts[n].encode(rs.ctx, w, rs.buf, rs.styles); err != nil {
		return err
	}
	_, err = w.Write(append([]byte("</sheetData>"), rest[j+len(placeholderEnd):]...))
	return err
}

func (rs *rowSource) allWritten() error {
	for i, ok := range rs.written {
		if !ok {
			return fmt.Errorf("workbook: sheet %q not written", rs.parts[i].name)
		}
	}
	return nil
}
