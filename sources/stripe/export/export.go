// Package export is the Stripe driver for the export format (SPEC 1.2),
// which it reads and writes: NDJSON, one Stripe API object per line exactly
// as API version 2023-10-16 renders it, the "object" field saying which (customer, subscription,
// invoice, refund, dispute, credit_note). It is the embedded default Stripe source and the format
// `refrecon stripe export` writes, so a run can be replayed offline.
//
// Lines are decoded with the stripe-go v76 types and reduced to the pipeline
// types by the converters of package sources/stripe, which the live API
// driver (sources/stripe/api) uses too, so both drivers agree.
// ReadStripe and Read take a faster road to the same result: the file is
// read in blocks of whole lines decoded on every core, each line straight
// into the pipeline's types with a small decoder that reads only those
// fields and checks the syntax of the rest; a line it does not handle
// exactly as the stripe-go types would (escapes or non-ASCII text in a field
// it reads, an unexpected type, an expanded object, a syntax error) is
// decoded with the stripe-go types instead. The one difference is that a
// field refrecon does not read is not checked against its stripe-go type.
// Decode keeps the stripe-go objects.
//
// Reading rules: blank lines are skipped; a line that is not a JSON object,
// lacks "object" or "id", has a key twice in one object (stripesrc.CheckKeys),
// or does not decode as its type fails the read with an error naming the
// line; objects of other types (charge, price, ...) are
// skipped and counted in Notes; a second object with the same type and id is
// an error naming both lines (an export never repeats an object, so a
// repeat means a damaged or concatenated file, and picking one copy could
// count money twice).
package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sources/internal/inputfile"
	stripesrc "github.com/refrecon/refrecon/sources/stripe"
	"github.com/stripe/stripe-go/v76"
)

// MaxLineBytes is the longest line (one object) the reader accepts.
const MaxLineBytes = 16 << 20

// Object types the export carries (the "object" field).
const (
	ObjectCustomer     = "customer"
	ObjectSubscription = "subscription"
	ObjectInvoice      = "invoice"
	ObjectRefund       = "refund"
	ObjectDispute      = "dispute"
	ObjectCreditNote   = "credit_note"
)

// Source reads an export file. It satisfies the Stripe source contract
// (ReadStripe).
type Source struct {
	path string
}

// NewFile returns a source reading the export file at path.
func NewFile(path string) *Source { return &Source{path: path} }

// ReadStripe reads the whole file.
func (s *Source) ReadStripe(ctx context.Context) (pipeline.Stripe, error) {
	// Checked before it is opened: a named pipe or a device is refused,
	// and every read honours ctx (package inputfile).
	f, err := inputfile.Open(ctx, s.path, 0)
	if err != nil {
		return pipeline.Stripe{}, fmt.Errorf("stripe export: %w", err)
	}
	defer f.Close()
	out, notes, err := decode(ctx, f)
	if err != nil {
		return pipeline.Stripe{}, fmt.Errorf("stripe export %s: %w", s.path, err)
	}
	out.Notes = notes
	return out, nil
}

// Read decodes an export from r. The result's Notes describe what was
// skipped (objects of types the export does not use), one sentence each;
// nil when nothing was skipped.
func Read(ctx context.Context, r io.Reader) (pipeline.Stripe, error) {
	out, notes, err := decode(ctx, r)
	if err != nil {
		return pipeline.Stripe{}, fmt.Errorf("stripe export: %w", err)
	}
	out.Notes = notes
	return out, nil
}

// Objects is an export decoded into stripe-go objects, in file order.
type Objects struct {
	Customers     []*stripe.Customer
	Subscriptions []*stripe.Subscription
	Invoices      []*stripe.Invoice
	Refunds       []*stripe.Refund
	Disputes      []*stripe.Dispute
	CreditNotes   []*stripe.CreditNote
	// Skipped counts the objects of other types, by type.
	Skipped map[string]int
}

// Stripe converts the objects to the pipeline's types.
func (o *Objects) Stripe() pipeline.Stripe {
	return pipeline.Stripe{
		Customers:     convertAll(o.Customers, stripesrc.Customer),
		Subscriptions: convertAll(o.Subscriptions, stripesrc.Subscription),
		Invoices:      convertAll(o.Invoices, stripesrc.Invoice),
		Refunds:       convertAll(o.Refunds, stripesrc.Refund),
		Disputes:      convertAll(o.Disputes, stripesrc.Dispute),
		CreditNotes:   convertAll(o.CreditNotes, stripesrc.CreditNote),
	}
}

// convertAll converts each object with convert, in order; nil when there
// is none.
func convertAll[S, T any](objs []S, convert func(S) T) []T {
	if len(objs) == 0 {
		return nil
	}
	out := make([]T, len(objs))
	for i, o := range objs {
		out[i] = convert(o)
	}
	return out
}

// Notes describes the skipped objects, one sentence per type, sorted.
func (o *Objects) Notes() []string {
	var notes []string
	for _, t := range slices.Sorted(maps.Keys(o.Skipped)) {
		n := o.Skipped[t]
		noun := "objects"
		if n == 1 {
			noun = "object"
		}
		notes = append(notes, fmt.Sprintf("skipped %d %s of unknown type %q", n, noun, t))
	}
	return notes
}

// header is what every line must have.
type header struct {
	Object *string `json:"object"`
	ID     *string `json:"id"`
}

// Decode reads an export from r into stripe-go objects. Errors name the
// line (1-based).
func Decode(ctx context.Context, r io.Reader) (*Objects, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	objs := &Objects{}
	seen := map[[2]string]int{} // (object, id) -> line
	for lineNo := 1; ; lineNo++ {
		if lineNo%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			if derr := decodeLine(objs, seen, line, lineNo); derr != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, derr)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return objs, nil
}

// readLine returns the next line without its terminator; io.EOF with the
// last (possibly empty) line at the end of input.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxLineBytes+1 { // +1: the newline itself
			return nil, fmt.Errorf("line longer than %d bytes", MaxLineBytes)
		}
		switch {
		case err == nil:
			if buf == nil {
				return chunk[:len(chunk)-1], nil
			}
			return append(buf, chunk[:len(chunk)-1]...), nil
		case errors.Is(err, bufio.ErrBufferFull):
			buf = append(buf, chunk...)
		case errors.Is(err, io.EOF):
			return append(buf, chunk...), io.EOF
		default:
			return nil, fmt.Errorf("reading: %w", err)
		}
	}
}

// appendDecoded decodes line into a new T and appends it to list; on an
// error it appends nothing.
func appendDecoded[T any](list *[]*T, line []byte) error {
	v := new(T)
	if err := json.Unmarshal(line, v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

func decodeLine(objs *Objects, seen map[[2]string]int, line []byte, lineNo int) error {
	if line[0] != '{' {
		return errors.New("not a JSON object")
	}
	var h header
	if err := json.Unmarshal(line, &h); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if h.Object == nil || *h.Object == "" {
		return errors.New(`missing "object" field`)
	}
	kind := *h.Object
	if err := stripesrc.CheckKeys(line); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	var err error
	switch kind {
	case ObjectCustomer:
		err = appendDecoded(&objs.Customers, line)
	case ObjectSubscription:
		err = appendDecoded(&objs.Subscriptions, line)
	case ObjectInvoice:
		err = appendDecoded(&objs.Invoices, line)
	case ObjectRefund:
		err = appendDecoded(&objs.Refunds, line)
	case ObjectDispute:
		err = appendDecoded(&objs.Disputes, line)
	case ObjectCreditNote:
		err = appendDecoded(&objs.CreditNotes, line)
	default:
		if objs.Skipped == nil {
			objs.Skipped = map[string]int{}
		}
		objs.Skipped[kind]++
		return nil
	}
	if err != nil {
		return fmt.Errorf("decoding %s: %w", kind, err)
	}
	if h.ID == nil || *h.ID == "" {
		return fmt.Errorf(`%s without an "id"`, kind)
	}
	if seen == nil {
		return nil // the caller finds repeats
	}
	key := [2]string{kind, *h.ID}
	if first, dup := seen[key]; dup {
		return fmt.Errorf("%s %s appears twice (first on line %d)", kind, *h.ID, first)
	}
	seen[key] = lineNo
	return nil
}
