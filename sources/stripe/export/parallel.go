package export

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/refrecon/refrecon/pipeline"
	stripesrc "github.com/refrecon/refrecon/sources/stripe"
)

// decode reads an export straight into the pipeline's types, streamed: the
// file is read in blocks of whole lines, the blocks are decoded on every
// core (the lean decoder, falling back to the stripe-go types line by line),
// and the results are put back in file order, where repeated objects are
// found. The outcome, including which error is reported for a bad file, is
// the one the line-by-line stripe-go reader (Decode) gives.
func decode(ctx context.Context, r io.Reader) (pipeline.Stripe, []string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	workers := max(1, runtime.GOMAXPROCS(0))
	jobs := make(chan *block, workers)
	order := make(chan *block, 2*workers)
	free := make(freeBuffers, 2*workers+2)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			st := newLeanState()
			var scr scratch
			for b := range jobs {
				data := b.data
				b.decode(st, &scr)
				free.put(data)
				close(b.done)
			}
		})
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(jobs)
		readErr <- readBlocks(ctx, r, free, func(b *block) bool {
			select {
			case order <- b: // first: the collector waits for blocks in order
			case <-ctx.Done():
				return false
			}
			select {
			case jobs <- b:
				return true
			case <-ctx.Done():
				close(b.done) // never decoded; the collector stops on ctx
				return false
			}
		})
	}()

	c := newCollector()
	var err error
	for b := range order {
		<-b.done
		if err == nil {
			if err = ctx.Err(); err == nil {
				err = c.add(b)
			}
			if err != nil {
				cancel()
			}
		}
	}
	wg.Wait()
	if rerr := <-readErr; err == nil && rerr != nil {
		// A repeat in the lines read before the failure is read first.
		if err = c.repeated(); err == nil {
			err = rerr
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = c.repeated()
	}
	if err != nil {
		return pipeline.Stripe{}, nil, err
	}
	return c.result(), c.notes(), nil
}

// blockBytes is how much of the file one block holds (at least one line).
const blockBytes = 1 << 20

// freeBuffers hands decoded blocks' buffers back to the reader: once a
// block is decoded its bytes are not referenced (the decoders copy every
// string), and a 2 GB export would otherwise allocate 2 GB of buffers.
type freeBuffers chan []byte

// get returns an empty buffer with room for n bytes.
func (f freeBuffers) get(n int) []byte {
	select {
	case b := <-f:
		if cap(b) >= n {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, max(n, blockBytes))
}

// put keeps b for a later get, unless enough are kept already.
func (f freeBuffers) put(b []byte) {
	if cap(b) != blockBytes {
		return // a long line's buffer: let it go
	}
	select {
	case f <- b[:0]:
	default:
	}
}

// scratch is a decoding worker's growing slices, reused from block to
// block; each block keeps an exact-size copy. Growing every block's own
// slices from nothing allocated twice what they held.
type scratch struct {
	customers     []pipeline.Customer
	subscriptions []pipeline.Subscription
	invoices      []pipeline.Invoice
	refunds       []pipeline.Refund
	disputes      []pipeline.Dispute
	creditNotes   []pipeline.CreditNote
	lines         [len(kinds)][]int
}

// block is a run of whole lines and, once decoded, their objects.
type block struct {
	data      []byte
	firstLine int // 1-based number of the block's first line
	last      bool
	done      chan struct{}

	customers     []pipeline.Customer
	subscriptions []pipeline.Subscription
	invoices      []pipeline.Invoice
	refunds       []pipeline.Refund
	disputes      []pipeline.Dispute
	creditNotes   []pipeline.CreditNote
	lines         [len(kinds)][]int // per kind (its index in kinds), the line of each object
	skipped       map[string]int
	err           error // the first line that failed; decoding stops there
	errLine       int
}

// kinds are the object types kept; a kind's index here is the one
// block.decode, block.id and collector.seen use.
var kinds = [...]string{ObjectCustomer, ObjectSubscription, ObjectInvoice, ObjectRefund, ObjectDispute, ObjectCreditNote}

// invoiceKind is the invoices' index in kinds: the most ids of any kind.
var invoiceKind = slices.Index(kinds[:], ObjectInvoice)

// id is the id of the i-th object of kind k.
func (b *block) id(k, i int) string {
	switch k {
	case 0:
		return b.customers[i].ID
	case 1:
		return b.subscriptions[i].ID
	case 2:
		return b.invoices[i].ID
	case 3:
		return b.refunds[i].ID
	case 4:
		return b.disputes[i].ID
	}
	return b.creditNotes[i].ID
}

// readBlocks reads r into blocks of whole lines and hands each to emit
// (false stops). A line longer than MaxLineBytes is an error naming it.
func readBlocks(ctx context.Context, r io.Reader, free freeBuffers, emit func(*block) bool) error {
	var carry []byte
	line := 1
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf := append(free.get(2*len(carry)), carry...)
		var rerr error
		for len(buf) < cap(buf) && rerr == nil {
			var n int
			n, rerr = r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
		}
		eof := errors.Is(rerr, io.EOF)
		end := len(buf)
		if !eof {
			end = bytes.LastIndexByte(buf, '\n') + 1
		}
		if end == 0 && rerr == nil { // no line ends in the buffer: the line goes on
			if len(buf) > MaxLineBytes+1 {
				return fmt.Errorf("line %d: line longer than %d bytes", line, MaxLineBytes)
			}
			carry = buf
			continue
		}
		// The rest is copied: buf goes with the block, and its buffer may be
		// recycled as soon as the block is decoded.
		carry = append([]byte(nil), buf[end:]...)
		if end > 0 {
			b := &block{data: buf[:end], firstLine: line, last: eof, done: make(chan struct{})}
			line += bytes.Count(b.data, []byte{'\n'})
			if !emit(b) {
				return nil
			}
		}
		switch {
		case eof:
			return nil
		case rerr != nil:
			// The whole lines before the failure are decoded first, as a
			// line-by-line reader would.
			return fmt.Errorf("line %d: reading: %w", line, rerr)
		}
	}
}

// decode decodes the block's lines until the first error.
func (b *block) decode(st *leanState, scr *scratch) {
	scr.customers, scr.subscriptions, scr.invoices, scr.refunds = scr.customers[:0], scr.subscriptions[:0], scr.invoices[:0], scr.refunds[:0]
	scr.disputes, scr.creditNotes = scr.disputes[:0], scr.creditNotes[:0]
	for k := range scr.lines {
		scr.lines[k] = scr.lines[k][:0]
	}
	data := b.data
	for lineNo := b.firstLine; len(data) > 0; lineNo++ {
		line, limit := data, MaxLineBytes+1 // the last line of the input may have no newline
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data, limit = data[:i], data[i+1:], MaxLineBytes
		} else {
			data = nil
		}
		if len(line) > limit {
			b.err, b.errLine = fmt.Errorf("line longer than %d bytes", MaxLineBytes), lineNo
			break
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] != '{' {
			b.err, b.errLine = errors.New("not a JSON object"), lineNo
			break
		}
		o := &st.obj
		if !st.decodeLean(line, o) {
			var err error
			if *o, err = decodeObject(line); err != nil {
				b.err, b.errLine = err, lineNo
				break
			}
		}
		k := -1
		switch o.kind {
		case ObjectCustomer:
			k = 0
			scr.customers = append(scr.customers, o.cus)
		case ObjectSubscription:
			k = 1
			scr.subscriptions = append(scr.subscriptions, o.sub)
		case ObjectInvoice:
			k = 2
			scr.invoices = append(scr.invoices, o.inv)
		case ObjectRefund:
			k = 3
			scr.refunds = append(scr.refunds, o.ref)
		case ObjectDispute:
			k = 4
			scr.disputes = append(scr.disputes, o.dis)
		case ObjectCreditNote:
			k = 5
			scr.creditNotes = append(scr.creditNotes, o.cn)
		default:
			if b.skipped == nil {
				b.skipped = map[string]int{}
			}
			b.skipped[o.kind]++
		}
		if k >= 0 {
			scr.lines[k] = append(scr.lines[k], lineNo)
		}
	}
	b.customers = slices.Clone(scr.customers)
	b.subscriptions = slices.Clone(scr.subscriptions)
	b.invoices = slices.Clone(scr.invoices)
	b.refunds = slices.Clone(scr.refunds)
	b.disputes = slices.Clone(scr.disputes)
	b.creditNotes = slices.Clone(scr.creditNotes)
	for k := range scr.lines {
		b.lines[k] = slices.Clone(scr.lines[k])
	}
	b.data = nil // the file's bytes are not needed any more
}

// decodeObject decodes one line with the stripe-go types and converts it,
// as Decode does; the error is the one Decode reports for the line.
func decodeObject(line []byte) (leanObject, error) {
	var objs Objects
	if err := decodeLine(&objs, nil, line, 0); err != nil {
		return leanObject{}, err
	}
	switch {
	case len(objs.Customers) == 1:
		c := stripesrc.Customer(objs.Customers[0])
		return leanObject{kind: ObjectCustomer, id: c.ID, cus: c}, nil
	case len(objs.Subscriptions) == 1:
		s := stripesrc.Subscription(objs.Subscriptions[0])
		return leanObject{kind: ObjectSubscription, id: s.ID, sub: s}, nil
	case len(objs.Invoices) == 1:
		in := stripesrc.Invoice(objs.Invoices[0])
		return leanObject{kind: ObjectInvoice, id: in.ID, inv: in}, nil
	case len(objs.Refunds) == 1:
		r := stripesrc.Refund(objs.Refunds[0])
		return leanObject{kind: ObjectRefund, id: r.ID, ref: r}, nil
	case len(objs.Disputes) == 1:
		d := stripesrc.Dispute(objs.Disputes[0])
		return leanObject{kind: ObjectDispute, id: d.ID, dis: d}, nil
	case len(objs.CreditNotes) == 1:
		c := stripesrc.CreditNote(objs.CreditNotes[0])
		return leanObject{kind: ObjectCreditNote, id: c.ID, cn: c}, nil
	}
	for kind := range objs.Skipped {
		return leanObject{kind: kind}, nil
	}
	return leanObject{}, errors.New("no object") // unreachable: decodeLine fills one
}

// collector puts decoded blocks together in file order.
type collector struct {
	seen          [len(kinds)]idSet
	customers     parts[pipeline.Customer]
	subscriptions parts[pipeline.Subscription]
	invoices      parts[pipeline.Invoice]
	refunds       parts[pipeline.Refund]
	disputes      parts[pipeline.Dispute]
	creditNotes   parts[pipeline.CreditNote]
	skipped       map[string]int
}

// parts keeps one kind's objects block by block and joins them once, into a
// slice of the exact size, at the end. Appending each block to one growing
// slice copied the 2.3 million invoices of a 1M-referral export several
// times over (Go grows a large slice by a quarter), about 5 s of CPU with
// the GC's write barriers (docs/performance.md).
type parts[T any] struct {
	n      int
	blocks [][]T
}

func (p *parts[T]) add(s []T) {
	if len(s) > 0 {
		p.blocks = append(p.blocks, s)
		p.n += len(s)
	}
}

// join returns every object in order (nil when there is none) and lets go
// of the blocks as it copies them.
func (p *parts[T]) join() []T {
	if p.n == 0 {
		return nil
	}
	out := make([]T, 0, p.n)
	for i, b := range p.blocks {
		out = append(out, b...)
		p.blocks[i] = nil
	}
	*p = parts[T]{}
	return out
}

func newCollector() *collector {
	c := &collector{}
	seed := maphash.MakeSeed()
	for k := range c.seen {
		c.seen[k] = idSet{seed: seed}
	}
	return c
}

// idSet is the ids of one kind read so far, each with its line and a
// 64-bit hash of it. Repeats are found once, by sorting (repeat), not by a
// map lookup per id: the 3.8 million ids of a 1M-referral export, looked up
// in a map of ~140 MB (by its entries' size), were 2.9 s of a night's CPU in
// a profile, mostly cache misses, where keeping them in blocks and sorting
// them once is faster and allocates less (docs/performance.md, change 42). A map keyed by the
// id itself was slower still (change 15).
type idSet struct {
	seed maphash.Seed
	ids  parts[idLine] // block by block: one slice growing by a quarter allocated five times its size
}

type idLine struct {
	h    uint64
	line int
	id   string
}

// addBlock records the ids of one block's objects of a kind, on their lines.
func (s *idSet) addBlock(b *block, k int, lines []int) {
	if len(lines) == 0 {
		return
	}
	ids := make([]idLine, len(lines))
	for i, line := range lines {
		id := b.id(k, i)
		ids[i] = idLine{maphash.String(s.seed, id), line, id}
	}
	s.ids.add(ids)
}

// repeat returns the earliest line on which an id repeats an earlier
// line's, and that earlier line; ok is false when no id repeats. It takes
// the ids: a read asks once, at its end or at its first bad line.
func (s *idSet) repeat() (at, first int, id string, ok bool) {
	all := s.ids.join()
	slices.SortFunc(all, func(a, b idLine) int {
		return cmp.Or(cmp.Compare(a.h, b.h), cmp.Compare(a.line, b.line))
	})
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].h == all[i].h {
			j++
		}
		// A run of one hash, by line: usually one id, else a repeat or
		// ids whose hashes collide.
		for b := i + 1; b < j; b++ {
			for a := i; a < b; a++ {
				if all[a].id == all[b].id {
					if !ok || all[b].line < at {
						at, first, id, ok = all[b].line, all[a].line, all[b].id, true
					}
					break
				}
			}
		}
		i = j
	}
	return at, first, id, ok
}

// repeated returns the error of the earliest repeated id of any kind (nil
// when none repeats), found on both cores: the invoices' ids on one, the
// other kinds' on the other.
func (c *collector) repeated() error {
	type found struct {
		at, first int
		id        string
		ok        bool
	}
	var got [len(kinds)]found
	var wg sync.WaitGroup
	big := invoiceKind
	wg.Go(func() {
		f := &got[big]
		f.at, f.first, f.id, f.ok = c.seen[big].repeat()
	})
	for k := range c.seen {
		if k != big {
			f := &got[k]
			f.at, f.first, f.id, f.ok = c.seen[k].repeat()
		}
	}
	wg.Wait()
	best := -1
	for k, f := range got {
		if f.ok && (best < 0 || f.at < got[best].at) {
			best = k
		}
	}
	if best < 0 {
		return nil
	}
	f := got[best]
	return fmt.Errorf("line %d: %s %s appears twice (first on line %d)", f.at, kinds[best], f.id, f.first)
}

// add takes the next block: its objects join the result, and its ids are
// kept for repeated. A block's error (a bad line) is returned naming the
// line, unless an id repeats on an earlier line: that repeat is the error
// then, as it would be read first.
func (c *collector) add(b *block) error {
	for k := range c.seen {
		lines := b.lines[k]
		if b.err != nil { // the lines up to the bad one (in order)
			n, _ := slices.BinarySearch(lines, b.errLine+1)
			lines = lines[:n]
		}
		c.seen[k].addBlock(b, k, lines)
	}
	if b.err != nil {
		if err := c.repeated(); err != nil {
			return err
		}
		return fmt.Errorf("line %d: %w", b.errLine, b.err)
	}
	for k, n := range b.skipped {
		if c.skipped == nil {
			c.skipped = map[string]int{}
		}
		c.skipped[k] += n
	}
	c.customers.add(b.customers)
	c.subscriptions.add(b.subscriptions)
	c.invoices.add(b.invoices)
	c.refunds.add(b.refunds)
	c.disputes.add(b.disputes)
	c.creditNotes.add(b.creditNotes)
	return nil
}

// result is the objects of every block, in file order.
func (c *collector) result() pipeline.Stripe {
	c.seen = [len(kinds)]idSet{}
	return pipeline.Stripe{
		Customers:     c.customers.join(),
		Subscriptions: c.subscriptions.join(),
		Invoices:      c.invoices.join(),
		Refunds:       c.refunds.join(),
		Disputes:      c.disputes.join(),
		CreditNotes:   c.creditNotes.join(),
	}
}

// notes describes the skipped objects, as Objects.Notes does.
func (c *collector) notes() []string {
	o := Objects{Skipped: c.skipped}
	return o.Notes()
}
