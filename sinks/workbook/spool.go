package workbook

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"runtime/debug"
	"sync"
	"time"

	"github.com/klauspost/compress/flate"
)

// spool deflates worksheets on a goroutine of its own, into memory, while
// the workbook waits for the comparison with the previous snapshot; the
// archive's writer copies each one in when it reaches it (archive.write).
// It exists for a measured reason (docs/performance.md, change 24): a run
// makes the comparison beside the workbook (3.5 s at 1M referrals, the
// next night), and the changes sheet needs it, and so do the parts excelize
// writes around the sheets (their names and count), but no other worksheet
// does. The spool deflates those from the start; the writer starts once the
// comparison is there, and the spool then finishes the sheet it is at and
// takes no more (stopTaking), so that the workbook's CPU stays what it was.
//
// It takes the worksheets in the order the writer reaches them, holds at
// most SpoolBytes of deflated sheets, and leaves to the writer any sheet
// the writer reaches first. The bytes are those the writer would have
// written: the same deflater, fed the same writes, and the same zip header
// (TestSpoolCopiesTheBytesTheWriterWrites, TestWorkbookSpoolSameBytes).
type spool struct {
	ctx    context.Context
	styles *styles
	carry  *carrying // read only: its previous workbook and key
	mu     sync.Mutex
	more   *sync.Cond // held bytes went down, or stopped
	jobs   []*deflated
	byPart map[int]*deflated
	next   int // the next job to take
	held   int // bytes of the chunks in use
	free   [][]byte
	halt   bool
	done   chan struct{}
	copied int // worksheets the writer took from the spool
}

// SpoolBytes is how many bytes of deflated worksheets the spool holds at
// most. Tests lower it.
var SpoolBytes = 128 << 20

// spoolChunk is the size of the spool's buffers, reused from sheet to
// sheet.
const spoolChunk = 256 << 10

// spoolStarted, when set (tests), is called with every spool started.
var spoolStarted func(*spool)

// deflated is one worksheet, deflated by the spool.
type deflated struct {
	xml   []byte // excelize's worksheet, with its placeholder row
	part  *part
	taken bool          // by the spool or the writer
	ready chan struct{} // closed once the spool has deflated it
	data  [][]byte      // spool chunks
	size  int64         // deflated
	raw   int64         // uncompressed
	crc   uint32
	err   error
	from  *zip.File   // the previous workbook's entry of the same XML, copied instead of data
	rec   sheetRecord // with a key (carrying)
}

// startSpool starts deflating the worksheets of a (excelize's save of the
// sheets known so far, the placeholder rows naming parts), in entry-name
// order. parts is every part a names, by index.
func startSpool(ctx context.Context, a *archive, parts map[int]*part, st *styles, cr *carrying) (*spool, error) {
	s := &spool{ctx: ctx, styles: st, carry: cr, byPart: map[int]*deflated{}, done: make(chan struct{})}
	s.more = sync.NewCond(&s.mu)
	a.sortEntries()
	for _, e := range a.entries {
		n, _, _, err := findPlaceholder(e.data.Bytes())
		if err != nil {
			return nil, err
		}
		p, ok := parts[n]
		if n < 0 || !ok {
			continue
		}
		d := &deflated{xml: e.data.Bytes(), part: p, ready: make(chan struct{})}
		s.jobs = append(s.jobs, d)
		s.byPart[n] = d
	}
	go s.run()
	if spoolStarted != nil {
		spoolStarted(s)
	}
	return s, nil
}

func (s *spool) run() {
	defer close(s.done)
	var (
		fw  = newDeflater(io.Discard)
		buf []byte
	)
	for {
		s.mu.Lock()
		for !s.halt && s.held >= SpoolBytes {
			s.more.Wait()
		}
		for s.next < len(s.jobs) && s.jobs[s.next].taken {
			s.next++
		}
		if s.halt || s.next == len(s.jobs) {
			s.mu.Unlock()
			return
		}
		d := s.jobs[s.next]
		d.taken = true
		s.next++
		s.mu.Unlock()

		buf = s.deflate(d, fw, buf)
		close(d.ready)
	}
}

// deflate deflates d's worksheet into spool chunks with fw, through buf
// (returned, to be reused).
func (s *spool) deflate(d *deflated, fw *flate.Writer, buf []byte) []byte {
	out := &chunkWriter{s: s}
	defer func() {
		if r := recover(); r != nil {
			d.err = fmt.Errorf("workbook: sheet %q: panic: %v\n%s", d.part.name, r, debug.Stack())
		}
		if d.err != nil {
			s.release(out.bufs)
			out.bufs = nil
		}
		if d.from == nil {
			d.data, d.size = out.bufs, out.n
		}
	}()
	_, before, after, err := findPlaceholder(d.xml)
	if err != nil {
		d.err = err
		return buf
	}
	var zf *zip.File
	if zf, d.rec, buf, err = s.carry.c.find(s.ctx, before, d.part, after, buf, s.styles); err != nil || zf != nil {
		d.err = err
		if zf != nil {
			d.from, d.crc, d.size, d.raw = zf, zf.CRC32, int64(zf.CompressedSize64), int64(zf.UncompressedSize64)
		}
		return buf
	}
	if s.carry.key != "" && !d.rec.complete() { // find gave up before the end of the key
		if d.rec, buf, err = keyRecord(s.ctx, before, d.part, after, buf, s.styles); err != nil {
			d.err = err
			return buf
		}
	}
	fw.Reset(out)
	cw := &crcWriter{w: fw, crc: crc32.NewIEEE()}
	if buf, err = writeSheet(s.ctx, cw, before, d.part, after, buf, s.styles); err == nil {
		err = fw.Close()
	}
	d.crc, d.raw, d.err = cw.crc.Sum32(), cw.n, err
	return buf
}

// chunkWriter appends to spool chunks.
type chunkWriter struct {
	s    *spool
	bufs [][]byte
	n    int64
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(c.bufs) == 0 || len(c.bufs[len(c.bufs)-1]) == spoolChunk {
			c.bufs = append(c.bufs, c.s.chunk())
		}
		last := &c.bufs[len(c.bufs)-1]
		k := copy((*last)[len(*last):spoolChunk], p)
		*last, p = (*last)[:len(*last)+k], p[k:]
	}
	c.n += int64(n)
	return n, nil
}

// chunk is an empty chunk, a freed one when there is one.
func (s *spool) chunk() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held += spoolChunk
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, spoolChunk)
}

// release gives chunks back once the writer has them (or will write their
// sheet itself), so that the spool can take more.
func (s *spool) release(bufs [][]byte) {
	if len(bufs) == 0 {
		return
	}
	s.mu.Lock()
	s.held -= len(bufs) * spoolChunk
	s.free = append(s.free, bufs...)
	s.more.Signal()
	s.mu.Unlock()
}

// crcWriter is what archive/zip's file writer does with an entry's bytes:
// their CRC-32 and count, on the way to the deflater.
type crcWriter struct {
	w   io.Writer
	crc interface {
		io.Writer
		Sum32() uint32
	}
	n int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	c.crc.Write(p)
	c.n += int64(len(p))
	return c.w.Write(p)
}

// take returns part n's worksheet deflated, waiting for the spool if it is
// deflating it, when the spool has it from the same XML; nil when the
// writer is to write it (the spool will then not). The caller copies it in
// (copyTo).
func (s *spool) take(n int, xml []byte) *deflated {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	d := s.byPart[n]
	if d == nil || !d.taken {
		if d != nil {
			d.taken = true
		}
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	<-d.ready
	if d.err != nil || !bytes.Equal(d.xml, xml) || d.raw >= math.MaxUint32 || d.size >= math.MaxUint32 {
		// The writer writes it: an error there is its own, and an entry
		// of 4 GiB or more is a zip64 entry, whose local header archive/zip
		// writes differently for raw data.
		s.release(d.data)
		d.data = nil
		return nil
	}
	s.mu.Lock()
	s.copied++
	s.mu.Unlock()
	return d
}

// stopTaking makes the spool take no more sheets: the one it is at, it
// finishes.
func (s *spool) stopTaking() {
	s.mu.Lock()
	s.halt = true
	s.more.Broadcast()
	s.mu.Unlock()
}

// stop stops the spool and waits for it.
func (s *spool) stop() {
	s.stopTaking()
	<-s.done
}

// copyTo writes d into zw as the entry name, dated modified (copyEntry),
// and gives d's chunks back to s.
func (s *spool) copyTo(zw *zip.Writer, d *deflated, name string, modified time.Time) error {
	defer func() {
		s.release(d.data)
		d.data = nil
	}()
	data := func(w io.Writer) error {
		for _, b := range d.data {
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	}
	if d.from != nil {
		data = copyFrom(d.from)
	}
	return copyEntry(zw, name, modified, d.crc, d.size, d.raw, data)
}
