package workbook

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/refrecon/refrecon/sinks/internal/review"
)

// A worksheet the previous snapshot's workbook holds with the same XML is
// copied in from that file, deflated as it is there, instead of being
// deflated again: the next night most sheets are the same (at 1M
// referrals, 16 of 23 entries and 1.46 of 1.85 GB of XML), and deflate is
// most of the workbook's CPU (docs/performance.md, change 34).
//
// To know a sheet is the same, every workbook records in its zip comment,
// for each worksheet with rows, the sha256 of the worksheet's key
// (writeKey: what its XML is made of, the rows' values as they are held),
// the key's length, the sha256 of its first prefixLen bytes and the XML's
// length (sheetRecord), under a key naming the code that deflated it (carryKey).
// The next workbook made by the same code writes each worksheet's key into
// a digest only (carry.find), stopping as soon as its first prefixLen bytes
// match no recorded sheet, and copies the recorded entry's deflated bytes
// when the whole digest matches; otherwise it deflates the sheet as before.
// The same code makes the same XML from the same key, and deflate is
// deterministic: the same code fed the same writes gives the same bytes, so
// a copied sheet is the bytes the writer would have written, and the
// workbook is byte-identical to one made without a previous workbook
// (TestWorkbookCarrySameBytes). The key, not the XML, is digested because
// it is less than half as long and costs no number formatting or escaping
// (docs/performance.md, change 40).
//
// The copied bytes are not inflated again to check them: the previous
// workbook was written atomically (privatefile) into PRIVATE_DIR, which a
// run holds locked, and its entry must have the recorded size and CRC-32.

// carryMagic starts the zip comment of a workbook that records its sheets.
const carryMagic = "refrecon workbook sheets 2"

// prefixLen is how much of a worksheet's key is written before a sheet
// that matches no recorded prefix is given up (and deflated).
const prefixLen = 1 << 20

// sheetDigest identifies a worksheet's key, and so its XML.
type sheetDigest struct {
	size int64
	sum  [sha256.Size]byte
}

// sheetRecord is what a workbook records of one worksheet.
type sheetRecord struct {
	name   string
	dg     sheetDigest
	prefix [16]byte
	xml    int64 // the length of its XML: the entry's uncompressed size
}

// carryKey names the code that deflates a workbook: the run's code
// version, with klauspost/compress's. It is empty, and nothing is recorded
// or copied, when the version does not name one build ("dev", a dirty
// tree): a sheet deflated by other code could have other bytes.
func carryKey(codeVersion string) string {
	if codeVersion == "" || codeVersion == "dev" || strings.HasSuffix(codeVersion, "-dirty") || strings.ContainsAny(codeVersion, "\n\t") {
		return ""
	}
	return codeVersion + " compress " + compressVersion
}

// Carries reports whether a build of codeVersion carries unchanged sheets
// from the previous workbook (carryKey): a `make build` of a clean commit
// does, a "dev" or "-dirty" build does not.
func Carries(codeVersion string) bool { return carryKey(codeVersion) != "" }

// compressVersion is the version of github.com/klauspost/compress built in.
var compressVersion = func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/klauspost/compress" {
				if m.Replace != nil {
					return m.Replace.Path + "@" + m.Replace.Version
				}
				return m.Version
			}
		}
	}
	return "unknown"
}()

// complete says r is a whole sheet's record (a worksheet's key is never
// empty): carry.find went to the end of the key, and its deflate need not
// digest it again.
func (r sheetRecord) complete() bool { return r.dg.size > 0 }

// digester is the sheetRecord of the key written to it.
type digester struct {
	h      hash.Hash
	n      int64
	prefix [16]byte
	hasPre bool
}

func newDigester() *digester { return &digester{h: sha256.New()} }

func (d *digester) Write(p []byte) (int, error) {
	n := len(p)
	if !d.hasPre && d.n+int64(n) >= prefixLen {
		k := prefixLen - d.n
		d.h.Write(p[:k])
		d.n += k
		p = p[k:]
		d.setPrefix()
	}
	d.h.Write(p)
	d.n += int64(len(p))
	return n, nil
}

func (d *digester) setPrefix() {
	var s [sha256.Size]byte
	d.h.Sum(s[:0])
	copy(d.prefix[:], s[:])
	d.hasPre = true
}

// record is the digest of everything written, for the entry name.
func (d *digester) record(name string) sheetRecord {
	if !d.hasPre {
		d.setPrefix()
	}
	r := sheetRecord{name: name, prefix: d.prefix, dg: sheetDigest{size: d.n}}
	d.h.Sum(r.dg.sum[:0])
	return r
}

// carryComment is the zip comment recording a workbook's sheets under key:
// as many records as a zip comment holds (65,535 bytes), in entry order.
func carryComment(key string, recs []sheetRecord) string {
	var b strings.Builder
	b.WriteString(carryMagic + "\nkey " + key + "\n")
	for _, r := range recs {
		line := r.name + "\t" + strconv.FormatInt(r.dg.size, 10) + "\t" + hex.EncodeToString(r.dg.sum[:]) + "\t" + hex.EncodeToString(r.prefix[:]) +
			"\t" + strconv.FormatInt(r.xml, 10) + "\n"
		if b.Len()+len(line) > math.MaxUint16 {
			break
		}
		b.WriteString(line)
	}
	return b.String()
}

// carry is the previous snapshot's workbook, read for its recorded sheets.
type carry struct {
	f        *os.File
	sheets   map[sheetDigest]*zip.File
	prefixes map[[16]byte]bool
}

// openCarry opens the workbook in dir that the one of snapshotID is most
// likely to share sheets with, when it records its sheets under key:
// snapshotID's own (a re-run; the new file replaces it only once written),
// else the newest. Nil when there is none, or it cannot be read (a cache:
// the workbook is then deflated in full).
func openCarry(dir, snapshotID, key string) *carry {
	if dir == "" || key == "" {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	newest, self := "", review.FileName(snapshotID, review.Workbook)
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(n, review.Prefix) || !strings.HasSuffix(n, review.Workbook) {
			continue
		}
		if n == self {
			newest = n
			break
		}
		newest = max(newest, n)
	}
	if newest == "" {
		return nil
	}
	f, err := os.Open(filepath.Join(dir, newest))
	if err != nil {
		return nil
	}
	c, err := readCarry(f, key)
	if err != nil {
		f.Close()
		return nil
	}
	return c
}

// readCarry reads the records of the workbook f.
func readCarry(f *os.File, key string) (*carry, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		return nil, err
	}
	lines := strings.Split(zr.Comment, "\n")
	if len(lines) < 2 || lines[0] != carryMagic || lines[1] != "key "+key {
		return nil, errors.New("no sheets recorded under this key")
	}
	byName := make(map[string]*zip.File, len(zr.File))
	for _, zf := range zr.File {
		byName[zf.Name] = zf
	}
	c := &carry{f: f, sheets: map[sheetDigest]*zip.File{}, prefixes: map[[16]byte]bool{}}
	for _, line := range lines[2:] {
		if line == "" {
			continue
		}
		r, err := parseRecord(line)
		if err != nil {
			return nil, err
		}
		zf := byName[r.name]
		if zf == nil || zf.Method != zip.Deflate || zf.UncompressedSize64 != uint64(r.xml) ||
			zf.UncompressedSize64 >= math.MaxUint32 || zf.CompressedSize64 >= math.MaxUint32 {
			continue
		}
		c.sheets[r.dg] = zf
		c.prefixes[r.prefix] = true
	}
	return c, nil
}

func parseRecord(line string) (sheetRecord, error) {
	var r sheetRecord
	fields := strings.Split(line, "\t")
	if len(fields) != 5 {
		return r, fmt.Errorf("record %q", line)
	}
	size, err := strconv.ParseInt(fields[1], 10, 64)
	sum, err1 := hex.DecodeString(fields[2])
	pre, err2 := hex.DecodeString(fields[3])
	xml, err3 := strconv.ParseInt(fields[4], 10, 64)
	if err != nil || err1 != nil || err2 != nil || err3 != nil || size < 0 || xml < 0 || len(sum) != sha256.Size || len(pre) != len(r.prefix) {
		return r, fmt.Errorf("record %q", line)
	}
	r.name, r.dg.size, r.xml = fields[0], size, xml
	copy(r.dg.sum[:], sum)
	copy(r.prefix[:], pre)
	return r, nil
}

func (c *carry) close() {
	if c != nil {
		c.f.Close()
	}
}

// errNoCarry stops the key of a worksheet whose key starts unlike every
// recorded sheet's.
var errNoCarry = errors.New("workbook: no recorded sheet starts so")

// probe is the digester carry.find writes a key into.
type probe struct {
	*digester
	c *carry
}

func (p probe) Write(b []byte) (int, error) {
	n, _ := p.digester.Write(b)
	if p.hasPre && !p.c.prefixes[p.prefix] {
		return n, errNoCarry
	}
	return n, nil
}

// find writes the key of the worksheet that writeSheet would write into a
// digest only, and returns the previous workbook's entry with the same key
// (nil for none) and the sheet's record when it wrote the whole key (else
// the zero record: it gave up at the first MiB). buf is returned, to be
// reused.
func (c *carry) find(ctx context.Context, before []byte, p *part, after []byte, buf []byte, st *styles) (*zip.File, sheetRecord, []byte, error) {
	if c == nil {
		return nil, sheetRecord{}, buf, nil
	}
	pr := probe{digester: newDigester(), c: c}
	buf, err := writeKey(ctx, pr, before, p, after, buf, st)
	switch {
	case errors.Is(err, errNoCarry):
		return nil, sheetRecord{}, buf, nil
	case err != nil:
		return nil, sheetRecord{}, buf, err
	}
	r := pr.record("")
	return c.sheets[r.dg], r, buf, nil
}

// keyRecord is the record of the worksheet that writeSheet writes from
// before, p and after: the digest of its key (writeKey). buf is returned,
// to be reused.
func keyRecord(ctx context.Context, before []byte, p *part, after []byte, buf []byte, st *styles) (sheetRecord, []byte, error) {
	d := newDigester()
	buf, err := writeKey(ctx, d, before, p, after, buf, st)
	return d.record(""), buf, err
}

// writeKey writes the key of the worksheet that writeSheet writes from
// before, p and after: everything its XML is made of, each value as it is
// held rather than as XML text. writeSheet's XML is a function of before,
// after and each row's number, style and cells (appendRow), so two sheets
// with the same key have the same XML, written by the same code; the key is
// less than half the XML's length (43% at 1M referrals) and needs no number
// formatting or escaping (docs/performance.md, change 40). buf is returned, to be reused.
func writeKey(ctx context.Context, w io.Writer, before []byte, p *part, after []byte, buf []byte, st *styles) ([]byte, error) {
	buf = append(buf[:0], keyMagic...)
	buf = binary.AppendUvarint(buf, uint64(len(before)))
	buf = append(buf, before...)
	buf = binary.AppendUvarint(buf, uint64(len(after)))
	buf = append(buf, after...)
	if _, err := w.Write(buf); err != nil {
		return buf[:0], err
	}
	return p.encode(ctx, w, buf[:0], st, appendRowKey)
}

// keyMagic starts a worksheet's key.
const keyMagic = "refrecon worksheet key 1\x00"

// appendRowKey appends row r's part of a worksheet key: its number, style
// and cell count, then each cell's kind and, for a cell that is not empty,
// every field of it (appendCell reads some of them, by kind), strings
// length-prefixed.
func appendRowKey(b []byte, r int, cells []cell, rowStyle int) []byte {
	b = binary.AppendUvarint(b, uint64(r))
	b = binary.AppendVarint(b, int64(rowStyle))
	b = binary.AppendUvarint(b, uint64(len(cells)))
	for i := range cells {
		c := &cells[i]
		b = append(b, byte(c.kind))
		if c.kind == cEmpty {
			continue
		}
		b = binary.AppendVarint(b, int64(c.style))
		b = binary.AppendVarint(b, c.n)
		b = binary.AppendVarint(b, c.m)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.f))
		b = binary.AppendUvarint(b, uint64(len(c.s)))
		b = append(b, c.s...)
	}
	return b
}

// copyEntry writes into zw the entry name, dated modified, with the
// deflated bytes of data (size of them, raw uncompressed, their CRC-32):
// the header archive/zip's CreateHeader writes for a deflated entry of that
// name (ASCII) and date (data descriptor, version 2.0, MS-DOS date and
// time, the extended timestamp).
func copyEntry(zw *zip.Writer, name string, modified time.Time, crc uint32, size, raw int64, data func(io.Writer) error) error {
	fh := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified, Flags: 0x8,
		CreatorVersion: 20, ReaderVersion: 20, CRC32: crc,
		CompressedSize64: uint64(size), UncompressedSize64: uint64(raw)}
	// CreateRaw writes these as they are given (CreateHeader makes them
	// from Modified, as here).
	//lint:ignore SA1019 the MS-DOS date and time that CreateHeader writes
	fh.ModifiedDate = uint16(modified.Day() + int(modified.Month())<<5 + (modified.Year()-1980)<<9)
	//lint:ignore SA1019 as above
	fh.ModifiedTime = uint16(modified.Second()/2 + modified.Minute()<<5 + modified.Hour()<<11)
	mt := uint32(modified.Unix())
	fh.Extra = []byte{0x55, 0x54, 5, 0, 1, byte(mt), byte(mt >> 8), byte(mt >> 16), byte(mt >> 24)} // extended timestamp (0x5455), mtime
	w, err := zw.CreateRaw(fh)
	if err != nil {
		return err
	}
	return data(w)
}

// copyFrom copies the deflated bytes of zf, the previous workbook's entry.
func copyFrom(zf *zip.File) func(io.Writer) error {
	return func(w io.Writer) error {
		r, err := zf.OpenRaw()
		if err != nil {
			return err
		}
		n, err := io.Copy(w, r)
		if err == nil && n != int64(zf.CompressedSize64) {
			err = fmt.Errorf("workbook: previous sheet %s: %d of %d bytes", zf.Name, n, zf.CompressedSize64)
		}
		return err
	}
}

// carrying is one workbook's write: the previous workbook to copy sheets
// from (nil for none) and the records of the sheets written, under key
// (empty: nothing is recorded).
type carrying struct {
	key    string
	c      *carry
	recs   []sheetRecord
	copied int // sheets copied from c
}

// add records the sheet written as the entry name, xml bytes long.
func (cr *carrying) add(name string, r sheetRecord, xml int64) {
	if cr.key != "" {
		r.name, r.xml = name, xml
		cr.recs = append(cr.recs, r)
	}
}
