package export

import (
	"bytes"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/refrecon/refrecon/pipeline"
)

// The lean decoder reads a line straight into the pipeline's types, reading
// only the fields the converters use and checking the syntax of the rest.
// It gives up (ok = false) on anything it does not handle exactly like the
// stripe-go types: escapes or non-ASCII bytes in a field it reads, a field
// it reads with an unexpected JSON type or spelled in another case (Go's
// encoding/json matches keys case-insensitively), any key given twice in
// one object (in any case: stripe.CheckKeys then reports it), an expanded customer, subscription or charge object, and every
// syntax error. The caller then decodes the line with the stripe-go types,
// which give the same result or the error to report. One difference is by
// design: a field refrecon does not read is checked for JSON syntax but not
// for its stripe-go type (a string "created" on an invoice is accepted).

// leanState is one decoder goroutine's reusable storage: strings are copied
// into large shared blocks (one allocation per block, not per string), the
// few distinct statuses, currencies and prices are interned, and invoice
// prices are carved out of shared slabs.
type leanState struct {
	arena  []byte
	intern map[string]string
	prices []pipeline.Price
	obj    leanObject // the line being decoded
	keys   [][]byte   // the scanners' key stack, reused line after line
}

const (
	arenaBlock  = 256 << 10
	priceSlab   = 4096
	maxInterned = 4096
	maxDepth    = 1000 // deeper nesting is left to encoding/json (and its limit)
)

func newLeanState() *leanState { return &leanState{intern: make(map[string]string, 64)} }

// str returns b as a string stored in the arena.
func (st *leanState) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > arenaBlock/8 {
		return string(b)
	}
	if cap(st.arena)-len(st.arena) < len(b) {
		st.arena = make([]byte, 0, arenaBlock)
	}
	start := len(st.arena)
	st.arena = append(st.arena, b...)
	// The arena's bytes are never written again once handed out.
	return unsafe.String(&st.arena[start], len(b))
}

// internStr returns b as a string shared with every equal interned value.
func (st *leanState) internStr(b []byte) string {
	if s, ok := st.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(st.intern) < maxInterned {
		st.intern[s] = s
	}
	return s
}

// addPrices copies ps into the slab and returns the copy.
func (st *leanState) addPrices(ps []pipeline.Price) []pipeline.Price {
	if len(ps) == 0 {
		return nil
	}
	if cap(st.prices)-len(st.prices) < len(ps) {
		st.prices = make([]pipeline.Price, 0, max(priceSlab, len(ps)))
	}
	start := len(st.prices)
	st.prices = append(st.prices, ps...)
	return st.prices[start:len(st.prices):len(st.prices)]
}

// leanObject is one decoded line.
type leanObject struct {
	kind string // one of the Object* constants, or another type (skipped)
	id   string
	cus  pipeline.Customer
	sub  pipeline.Subscription
	inv  pipeline.Invoice
	ref  pipeline.Refund
	dis  pipeline.Dispute
	cn   pipeline.CreditNote
}

// scanner walks one line.
type scanner struct {
	b     []byte
	i     int
	depth int
	// keys holds the keys of the objects being walked, outermost first: a
	// key that repeats in its object (in any case) gives up, so that the
	// stripe-go path reports it (stripesrc.CheckKeys).
	keys [][]byte
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte (0 at the end).
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) consume(c byte) bool {
	if s.peek() != c {
		return false
	}
	s.i++
	return true
}

// simpleString reads a string with no escapes whose bytes are printable
// ASCII and returns its contents; ok is false for any other value.
func (s *scanner) simpleString() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		if c == '"' {
			s.i = j + 1
			return s.b[start:j], true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return nil, false
		}
	}
	return nil, false
}

// skipString checks and skips any JSON string.
func (s *scanner) skipString() bool {
	if s.peek() != '"' {
		return false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			j++
			if j >= len(s.b) {
				return false
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.b) {
					return false
				}
				for _, h := range s.b[j+1 : j+5] {
					if !isHex(h) {
						return false
					}
				}
				j += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// number checks and skips a JSON number and returns its text.
func (s *scanner) number() ([]byte, bool) {
	s.ws()
	b, j := s.b, s.i
	start := j
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && '1' <= b[j] && b[j] <= '9':
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
	default:
		return nil, false
	}
	if j < len(b) && b[j] == '.' {
		j++
		d := j
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		if j == d {
			return nil, false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		d := j
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		if j == d {
			return nil, false
		}
	}
	s.i = j
	return b[start:j], true
}

func (s *scanner) literal(lit string) bool {
	s.ws()
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return false
	}
	s.i += len(lit)
	return true
}

// null consumes a null literal if one comes next.
func (s *scanner) null() bool {
	if s.peek() != 'n' {
		return false
	}
	return s.literal("null")
}

// skipValue checks and skips any JSON value.
func (s *scanner) skipValue() bool {
	switch s.peek() {
	case '"':
		return s.skipString()
	case '{':
		return s.object(func([]byte) (bool, bool) { return false, true })
	case '[':
		return s.array(func() bool { return s.skipValue() })
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		_, ok := s.number()
		return ok
	}
}

// object walks an object. field is called with each key, the scanner at its
// value: handled reports that field read the value (else it is skipped), ok
// false gives up.
func (s *scanner) object(field func(key []byte) (handled, ok bool)) bool {
	if !s.consume('{') {
		return false
	}
	if s.depth++; s.depth > maxDepth {
		return false
	}
	defer func() { s.depth-- }()
	if s.consume('}') {
		return true
	}
	base := len(s.keys)
	defer func() { s.keys = s.keys[:base] }()
	// seen has bit keyBit(k) set for every key k so far: a key whose bit
	// is clear repeats none, and only one whose bit is set is compared
	// with the keys before it (which at ~40 keys an object took ~1% of a
	// run's CPU when every key was).
	var seen [2]uint64
	for {
		key, simple := s.simpleString()
		if !simple {
			// An escaped or non-ASCII key could still name a field the
			// stripe-go types read; only the fields' owner can tell.
			return false
		}
		bit := keyBit(key)
		if seen[bit>>6]&(1<<(bit&63)) != 0 {
			for _, k := range s.keys[base:] {
				if len(k) == len(key) && bytes.EqualFold(k, key) {
					return false
				}
			}
		}
		seen[bit>>6] |= 1 << (bit & 63)
		s.keys = append(s.keys, key)
		if !s.consume(':') {
			return false
		}
		handled, ok := field(key)
		if !ok {
			return false
		}
		if !handled && !s.skipValue() {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// keyBit is a key's bit in object's filter of the keys seen, in [0, 128):
// the same for two keys equal under bytes.EqualFold, which a key from
// simpleString (printable ASCII) is only when equal but for the case of its
// letters.
func keyBit(key []byte) uint {
	if len(key) == 0 {
		return 0
	}
	return (uint(len(key))*31 + uint(key[0]|0x20)*7 + uint(key[len(key)-1]|0x20)) & 127
}

// array walks an array, calling elem at each element.
func (s *scanner) array(elem func() bool) bool {
	if !s.consume('[') {
		return false
	}
	if s.depth++; s.depth > maxDepth {
		return false
	}
	defer func() { s.depth-- }()
	if s.consume(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// int64Value reads an integer (or null, leaving *dst alone) the way
// encoding/json fills an int64.
func (s *scanner) int64Value(dst *int64) bool {
	if s.null() {
		return true
	}
	num, ok := s.number()
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return false
	}
	*dst = n
	return true
}

// stringValue reads a simple string, or null (nil, true).
func (s *scanner) stringValue() ([]byte, bool) {
	if s.null() {
		return nil, true
	}
	return s.simpleString()
}

// expandableID reads an expandable reference given as an id string (taken
// raw, as stripe.ParseID does) or null; an expanded object gives up.
func (s *scanner) expandableID() (id []byte, present, ok bool) {
	if s.null() {
		return nil, false, true
	}
	b, ok := s.simpleString()
	return b, true, ok
}

// fieldSet tracks the fields read in one object, so that a repeated field
// or one spelled in another case hands the line to encoding/json.
type fieldSet struct {
	names []string
	seen  uint32
}

// match returns the index of the field key names, -1 for another field,
// and ok false when the line must go to encoding/json.
func (f *fieldSet) match(key []byte) (idx int, ok bool) {
	for i, n := range f.names {
		if len(n) != len(key) {
			continue
		}
		if string(key) == n {
			if f.seen&(1<<i) != 0 {
				return -1, false
			}
			f.seen |= 1 << i
			return i, true
		}
		if bytes.EqualFold(key, []byte(n)) {
			return -1, false
		}
	}
	return -1, true
}

var (
	topFields          = []string{"object", "id"}
	customerFields     = []string{"object", "id", "email"}
	subscriptionFields = []string{"object", "id", "status", "created", "customer", "items"}
	invoiceFields      = []string{"object", "id", "status", "currency", "amount_paid", "tax", "customer", "subscription", "charge", "status_transitions", "lines"}
	refundFields       = []string{"object", "id", "amount", "status", "created", "charge"}
	disputeFields      = []string{"object", "id", "amount", "currency", "status", "created", "charge"}
	creditNoteFields   = []string{"object", "id", "type", "status", "amount", "created", "invoice", "refund"}
	listFields         = []string{"data"}
	itemFields         = []string{"price"}
	priceFields        = []string{"id", "lookup_key"}
	transitionFields   = []string{"paid_at"}
)

// objectKind finds the "object" and "id" of a line; ok is false when the
// line must go to encoding/json.
func objectKind(line []byte, keys *[][]byte) (kind, id []byte, ok bool) {
	s := scanner{b: line, keys: (*keys)[:0]}
	defer func() { *keys = s.keys }()
	f := fieldSet{names: topFields}
	var gotKind, gotID bool
	done := s.object(func(key []byte) (bool, bool) {
		i, ok := f.match(key)
		switch {
		case !ok:
			return false, false
		case i == 0:
			kind, gotKind = s.simpleString()
			return true, gotKind
		case i == 1:
			if s.null() {
				return true, true
			}
			id, gotID = s.simpleString()
			return true, gotID
		}
		return false, true
	})
	if !done || s.peek() != 0 || len(kind) == 0 {
		return nil, nil, false
	}
	return kind, id, true
}

// prefixKind reads the "id" and "object" of a line that starts with them,
// in that order and without white space, as Stripe writes an object
// (`{"id":"in_1","object":"invoice",...`), for the kinds the lean decoder
// reads. It is objectKind without its scan of the whole line: the kind's
// own pass reads every field of the line anyway, with "object" and "id" in
// its fieldSet, so a repeated "object" or "id" (or one in another case)
// still hands the line to the stripe-go types. Every other line (another
// order, white space, escapes, other kinds) is left to objectKind. A 1M
// export's lines were scanned twice: skipping the first scan took about 30%
// off the reader's time and CPU (docs/performance.md, change 23).
func prefixKind(line []byte) (kind, id []byte, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"id":`))
	if !ok {
		return nil, nil, false
	}
	s := scanner{b: rest}
	if id, ok = s.simpleString(); !ok {
		return nil, nil, false
	}
	rest, ok = bytes.CutPrefix(rest[s.i:], []byte(`,"object":`))
	if !ok {
		return nil, nil, false
	}
	s = scanner{b: rest}
	if kind, ok = s.simpleString(); !ok {
		return nil, nil, false
	}
	if c := s.peek(); c != ',' && c != '}' {
		return nil, nil, false
	}
	switch string(kind) {
	case ObjectCustomer, ObjectSubscription, ObjectInvoice, ObjectRefund, ObjectDispute, ObjectCreditNote:
		return kind, id, true
	}
	return nil, nil, false
}

// decodeLean decodes one non-blank line; ok false means the line must be
// decoded with the stripe-go types instead.
func (st *leanState) decodeLean(line []byte, out *leanObject) bool {
	kind, id, ok := prefixKind(line)
	if !ok {
		kind, id, ok = objectKind(line, &st.keys)
	}
	if !ok {
		return false
	}
	*out = leanObject{}
	switch string(kind) {
	case ObjectCustomer:
		out.kind = ObjectCustomer
	case ObjectSubscription:
		out.kind = ObjectSubscription
	case ObjectInvoice:
		out.kind = ObjectInvoice
	case ObjectRefund:
		out.kind = ObjectRefund
	case ObjectDispute:
		out.kind = ObjectDispute
	case ObjectCreditNote:
		out.kind = ObjectCreditNote
	default:
		out.kind = st.internStr(kind)
		return true // skipped: the header is all the stripe-go path reads
	}
	if len(id) == 0 {
		return false // "without an id": reported by the stripe-go path
	}
	out.id = st.str(id)
	s := scanner{b: line, keys: st.keys[:0]}
	defer func() { st.keys = s.keys }()
	var done bool
	switch out.kind {
	case ObjectCustomer:
		done = st.customer(&s, &out.cus)
		out.cus.ID = out.id
	case ObjectSubscription:
		done = st.subscription(&s, &out.sub)
		out.sub.ID = out.id
	case ObjectInvoice:
		done = st.invoice(&s, &out.inv)
		out.inv.ID = out.id
	case ObjectRefund:
		done = st.refund(&s, &out.ref)
		out.ref.ID = out.id
	case ObjectDispute:
		done = st.dispute(&s, &out.dis)
		out.dis.ID = out.id
	case ObjectCreditNote:
		done = st.creditNote(&s, &out.cn)
		out.cn.ID = out.id
	}
	return done && s.peek() == 0
}

func (st *leanState) customer(s *scanner, c *pipeline.Customer) bool {
	f := fieldSet{names: customerFields}
	return s.object(func(key []byte) (bool, bool) {
		i, ok := f.match(key)
		if !ok {
			return false, false
		}
		if i == 2 {
			b, ok := s.stringValue()
			if b != nil {
				c.Email = st.str(b)
			}
			return true, ok
		}
		return false, true // object and id: read by objectKind
	})
}

func (st *leanState) subscription(s *scanner, sub *pipeline.Subscription) bool {
	f := fieldSet{names: subscriptionFields}
	return s.object(func(key []byte) (bool, bool) {
		i, ok := f.match(key)
		if !ok {
			return false, false
		}
		switch i {
		case 2:
			b, ok := s.stringValue()
			if b != nil {
				sub.Status = st.internStr(b)
			}
			return true, ok
		case 3:
			return true, s.int64Value(&sub.Created)
		case 4:
			b, _, ok := s.expandableID()
			sub.Customer = st.str(b)
			return true, ok
		case 5:
			return true, st.subscriptionItems(s, sub)
		}
		return false, true
	})
}

func (st *leanState) subscriptionItems(s *scanner, sub *pipeline.Subscription) bool {
	return st.listPrices(s, func(p pipeline.Price) {
		if p.ID != "" {
			sub.PriceIDs = append(sub.PriceIDs, p.ID)
		}
	})
}

// listPrices reads a list object ({"data": [item, ...], ...}, or null) of
// subscription items or invoice lines and calls each with every item's
// price that is present.
func (st *leanState) listPrices(s *scanner, each func(pipeline.Price)) bool {
	if s.null() {
		return true
	}
	f := fieldSet{names: listFields}
	return s.object(func(key []byte) (bool, bool) {
		i, ok := f.match(key)
		if !ok || i != 0 {
			return false, ok
		}
		if s.null() {
			return true, true
		}
		return true, s.array(func() bool {
			if s.null() {
				return true
			}
			if s.peek() != '{' {
				return false
			}
			p, present, ok := st.itemPrice(s)
			if ok && present {
				each(p)
			}
			return ok
		})
	})
}

// itemPrice reads a subscription item or invoice line object and returns
// its price; present is false when the price is null or absent.
func (st *leanState) itemPrice(s *scanner) (p pipeline.Price, present, ok bool) {
	f := fieldSet{names: itemFields}
	ok = s.object(func(key []byte) (bool, bool) {
		i, ok := f.match(key)
		if !ok || i != 0 {
			return false, ok
		}
		if s.null() {
			present = false
			return true, true
		}
		present = true
		if s.peek() == '"' {
			b, ok := s.simpleString()
			p = pipeline.Price{ID: st.internStr(b)}
			return true, ok
		}
		p = pipeline.Price{}
		pf := fieldSet{names: priceFields}
		return true, s.object(func(key []byte) (bool, bool) {
			i, ok := pf.match(key)
			if !ok || i < 0 {
				return false, ok
			}
			b, ok := s.stringValue()
			if b != nil {
				if i == 0 {
					p.ID = st.internStr(b)
				} else {
					p.LookupKey = st.internStr(b)
				}
			}
			return true, ok
		})
	})
	return p, present, ok
}

func (st *leanState) invoice(s *scanner, in *pipeline.Invoice) bool {
	f := fieldSet{names: invoiceFields}
	var prices []pipeline.Price
	ok := s.object(func(key []byte) (bool, bool) {
		i, ok := f.match(key)
		if !ok {
			return false, false
		}
		switch i {
		case 2:
			b, ok := s.stringValue()
			if b != nil {
				in.Status = st.internStr(b)
			}
			return true, ok
		case 3:
			b, ok := s.stringValue()
			if b != nil {
				if hasUpper(b) {
					b = bytes.ToLower(b) // as the converter does
				}
				in.Currency = st.internStr(b)
			}
			return true, ok
		case 4:
			return true, s.int64Value(&in.AmountPaid)
		case 5:
			return true, s.int64Value(&in.Tax)
		case 6, 7, 8:
			b, _, ok := s.expandableID()
			v := st.str(b)
			switch i {
			case 6:
				in.Customer = v
			case 7:
				in.Subscription = v
			default:
				in.Charge = v
			}
			return true, ok
		case 9:
			if s.null() {
				return true, true
			}
			tf := fieldSet{names: transitionFields}
			return true, s.object(func(key []byte) (bool, bool) {
				i, ok := tf.match(key)
				if !ok || i != 0 {
					return false, ok
				}
				return true, s.int64Value(&in.PaidAt)
			})
		case 10:
			return true, st.listPrices(s, func(p pipeline.Price) { prices = append(prices, p) })
		}
		return false, true
	})
	in.Prices = st.addPrices(prices)
	return ok
}

// flatDest is where one field of a flat object goes: an integer, an
// interned token (lower-cased when lower, as the converters do for
// currencies), or an id or expandable reference.
type flatDest struct {
	kind  byte // 'i' integer, 't' token, 'r' reference
	lower bool
	i64   *int64
	str   *string
}

// flat reads an object whose fields after "object" and "id" (read by
// objectKind) are names[2:], each into dests[i-2].
func (st *leanState) flat(s *scanner, names []string, dests []flatDest) bool {
	f := fieldSet{names: names}
	return s.object(func(key []byte) (bool, bool) {
		i, ok := f.match(key)
		if !ok {
			return false, false
		}
		if i < 2 {
			return false, true // another field, or object and id
		}
		d := &dests[i-2]
		switch d.kind {
		case 'i':
			return true, s.int64Value(d.i64)
		case 'r':
			b, _, ok := s.expandableID()
			*d.str = st.str(b)
			return true, ok
		}
		b, ok := s.stringValue()
		if b != nil {
			if d.lower && hasUpper(b) {
				b = bytes.ToLower(b)
			}
			*d.str = st.internStr(b)
		}
		return true, ok
	})
}

func (st *leanState) refund(s *scanner, r *pipeline.Refund) bool {
	return st.flat(s, refundFields, []flatDest{
		{kind: 'i', i64: &r.Amount}, {kind: 't', str: &r.Status}, {kind: 'i', i64: &r.Created}, {kind: 'r', str: &r.Charge}})
}

func (st *leanState) dispute(s *scanner, d *pipeline.Dispute) bool {
	return st.flat(s, disputeFields, []flatDest{
		{kind: 'i', i64: &d.Amount}, {kind: 't', lower: true, str: &d.Currency}, {kind: 't', str: &d.Status},
		{kind: 'i', i64: &d.Created}, {kind: 'r', str: &d.Charge}})
}

func (st *leanState) creditNote(s *scanner, c *pipeline.CreditNote) bool {
	return st.flat(s, creditNoteFields, []flatDest{
		{kind: 't', str: &c.Type}, {kind: 't', str: &c.Status}, {kind: 'i', i64: &c.Amount}, {kind: 'i', i64: &c.Created},
		{kind: 'r', str: &c.Invoice}, {kind: 'r', str: &c.Refund}})
}

func hasUpper(b []byte) bool {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}
