package workbook

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/xuri/excelize/v2"
)

// archive is the excelize.ZipWriter the workbook is saved with. excelize
// hands it every part of the package; with the rows left out of the
// worksheets (they are placeholders, see rowSource) every part is small, so
// archive keeps them in memory, and write then writes the .xlsx straight
// to the output file, the rows encoded into each worksheet's entry as it is
// deflated. It exists for measured reasons:
//
//   - excelize's File.WriteTo builds the whole .xlsx in a bytes.Buffer before
//     writing it out (282 MB at 1M referrals); archive writes to the file.
//   - excelize adds parts in map order, so two saves of the same workbook
//     differ in their entry order; write orders the entries by name
//     ([Content_Types].xml first), each stamped with asOf, so the same inputs
//     give the same bytes.
//   - Each entry is deflated once, at BestSpeed, straight into the output:
//     no scratch file to deflate into and copy out of (docs/performance.md,
//     changes 13 and 16).
type archive struct {
	entries []archiveEntry
}

type archiveEntry struct {
	name string
	data *bytes.Buffer
}

var _ excelize.ZipWriter = (*archive)(nil)

// Create starts the next entry.
func (a *archive) Create(name string) (io.Writer, error) {
	e := archiveEntry{name: name, data: new(bytes.Buffer)}
	a.entries = append(a.entries, e)
	return e.data, nil
}

// AddFS is not used by excelize when saving a workbook.
func (a *archive) AddFS(fs.FS) error { return errors.New("workbook: AddFS not supported") }

// Close does nothing: write writes the archive.
func (a *archive) Close() error { return nil }

// sortEntries orders the entries by name, [Content_Types].xml first, as
// Office writes it.
func (a *archive) sortEntries() {
	slices.SortFunc(a.entries, func(x, y archiveEntry) int {
		switch {
		case x.name == y.name:
			return 0
		case x.name == "[Content_Types].xml":
			return -1
		case y.name == "[Content_Types].xml":
			return 1
		}
		return strings.Compare(x.name, y.name)
	})
}

// newDeflater is the compressor of every entry. BestSpeed: deflate was half
// of the workbook's CPU at level 6; level 1 writes a 100k-referral workbook
// in 40% less CPU for a 35% larger file (docs/performance.md, change 13).
// klauspost/compress's deflate, not compress/flate's: at level 1 it takes
// 40% less CPU for a 2% smaller file (change 16).
func newDeflater(w io.Writer) *flate.Writer {
	fw, _ := flate.NewWriter(w, flate.BestSpeed) // level is valid
	return fw
}

// write writes the archive to out in entry-name order, every entry dated
// modified, each worksheet with its rows from rows; a worksheet the spool
// has deflated already (from the same XML), or that the previous workbook
// holds with the same XML (cr, carry.go), is copied in as it is. With a
// key, the zip comment records every worksheet with rows (carryComment).
func (a *archive) write(out io.Writer, modified time.Time, rows *rowSource, sp *spool, cr *carrying) error {
	a.sortEntries()
	bw := bufio.NewWriterSize(out, 1<<20)
	zw := zip.NewWriter(bw)
	var fw *flate.Writer // one compressor, reset per entry
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		if fw == nil {
			fw = newDeflater(w)
		} else {
			fw.Reset(w)
		}
		return fw, nil
	})
	for _, e := range a.entries {
		xml := e.data.Bytes()
		var (
			p            *placeholder
			before, rest []byte
		)
		if strings.HasPrefix(e.name, "xl/worksheets/") {
			var err error
			if p, before, rest, err = rows.find(xml); err != nil {
				return err
			}
		}
		var rec sheetRecord // the sheet's, once known
		if p != nil {
			if d := sp.take(p.index, xml); d != nil {
				if err := sp.copyTo(zw, d, e.name, modified); err != nil {
					return err
				}
				cr.add(e.name, d.rec, d.raw)
				if d.from != nil {
					cr.copied++
				}
				continue
			}
			var zf *zip.File
			var err error
			if zf, rec, rows.buf, err = cr.c.find(rows.ctx, before, p.part, rest, rows.buf, rows.styles); err != nil {
				return err
			}
			if zf != nil {
				if err := copyEntry(zw, e.name, modified, zf.CRC32, int64(zf.CompressedSize64), int64(zf.UncompressedSize64), copyFrom(zf)); err != nil {
					return err
				}
				cr.add(e.name, rec, int64(zf.UncompressedSize64))
				cr.copied++
				continue
			}
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: modified})
		if err != nil {
			return err
		}
		if p != nil {
			if cr.key != "" && !rec.complete() { // find gave up before the end of the key
				if rec, rows.buf, err = keyRecord(rows.ctx, before, p.part, rest, rows.buf, rows.styles); err != nil {
					return err
				}
			}
			cw := &countWriter{w: w}
			rows.buf, err = writeSheet(rows.ctx, cw, before, p.part, rest, rows.buf, rows.styles)
			cr.add(e.name, rec, cw.n)
		} else {
			_, err = w.Write(xml)
		}
		if err != nil {
			return err
		}
	}
	if err := rows.allWritten(); err != nil {
		return err
	}
	if cr.key != "" {
		if err := zw.SetComment(carryComment(cr.key, cr.recs)); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

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
	parts   []*part // by index
	written []bool
	styles  *styles
	buf     []byte
}

// placeholder is the part a worksheet's placeholder row names.
type placeholder struct {
	index int
	part  *part
}

// find finds the placeholder row of a worksheet that excelize wrote and
// returns the part it names (nil when the worksheet has none), marked
// written, and the worksheet's XML before and after the row.
func (rs *rowSource) find(xml []byte) (*placeholder, []byte, []byte, error) {
	n, before, after, err := findPlaceholder(xml)
	if err != nil || n < 0 {
		return nil, nil, nil, err
	}
	if n >= len(rs.parts) || rs.written[n] {
		return nil, nil, nil, fmt.Errorf("workbook: bad placeholder %d", n)
	}
	rs.written[n] = true
	return &placeholder{index: n, part: rs.parts[n]}, before, after, nil
}

// findPlaceholder returns the part index a worksheet's placeholder row
// names (-1 for none) and the XML before and after that row.
func findPlaceholder(xml []byte) (n int, before, after []byte, err error) {
	i := bytes.Index(xml, placeholderStart)
	if i < 0 {
		return -1, nil, nil, nil
	}
	rest := xml[i+len(placeholderStart):]
	j := bytes.Index(rest, placeholderEnd)
	if j < 0 {
		return -1, nil, nil, errors.New("workbook: placeholder row not closed")
	}
	n, err = strconv.Atoi(string(rest[:j]))
	if err != nil || n < 0 {
		return -1, nil, nil, fmt.Errorf("workbook: bad placeholder %q", rest[:j])
	}
	return n, xml[:i], rest[j+len(placeholderEnd):], nil
}

// writeSheet writes a worksheet that excelize wrote with a placeholder
// row, the placeholder replaced by p's rows: excelize writes everything
// else (sheet views, frozen panes, column widths, the filter). buf is
// returned, to be reused.
func writeSheet(ctx context.Context, w io.Writer, before []byte, p *part, after []byte, buf []byte, st *styles) ([]byte, error) {
	buf = append(append(buf[:0], before...), "<sheetData>"...)
	if _, err := w.Write(buf); err != nil {
		return buf[:0], err
	}
	buf, err := p.encode(ctx, w, buf[:0], st, appendRow)
	if err != nil {
		return buf, err
	}
	_, err = w.Write(append(append(buf[:0], "</sheetData>"...), after...))
	return buf[:0], err
}

func (rs *rowSource) allWritten() error {
	for i, ok := range rs.written {
		if !ok {
			return fmt.Errorf("workbook: sheet %q not written", rs.parts[i].name)
		}
	}
	return nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
