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

// write writes the archive to out in entry-name order, every entry dated
// modified, each worksheet with its rows from rows.
func (a *archive) write(out io.Writer, modified time.Time, rows *rowSource) error {
	slices.SortFunc(a.entries, func(x, y archiveEntry) int {
		// [Content_Types].xml first, as Office writes it; then by name.
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
	bw := bufio.NewWriterSize(out, 1<<20)
	zw := zip.NewWriter(bw)
	var fw *flate.Writer
	// BestSpeed: deflate was half of the workbook's CPU at level 6; level 1
	// writes a 100k-referral workbook in 40% less CPU for a 35% larger file
	// (docs/performance.md, change 13). klauspost/compress's deflate, not
	// compress/flate's: at level 1 it takes 40% less CPU for a 2% smaller
	// file (change 16). One compressor, reset per entry.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		if fw == nil {
			fw, _ = flate.NewWriter(w, flate.BestSpeed) // level is valid
		} else {
			fw.Reset(w)
		}
		return fw, nil
	})
	for _, e := range a.entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: modified})
		if err != nil {
			return err
		}
		if strings.HasPrefix(e.name, "xl/worksheets/") {
			err = rows.splice(w, e.data.Bytes())
		} else {
			_, err = w.Write(e.data.Bytes())
		}
		if err != nil {
			return err
		}
	}
	if err := rows.allWritten(); err != nil {
		return err
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
