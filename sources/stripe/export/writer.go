package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// Writer writes an export: one JSON object per line.
type Writer struct {
	bw *bufio.Writer
	n  int
}

// NewWriter returns a Writer on w. Call Flush when done.
func NewWriter(w io.Writer) *Writer { return &Writer{bw: bufio.NewWriterSize(w, 64<<10)} }

// Write appends one object: a stripe-go object (*stripe.Customer, ...) or
// the raw JSON an API call returned (json.RawMessage), written compact on
// one line. It must encode as a JSON object.
func (w *Writer) Write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding object %d: %w", w.n+1, err)
	}
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("object %d is not a JSON object", w.n+1)
	}
	if len(b) > MaxLineBytes {
		return fmt.Errorf("object %d is longer than %d bytes", w.n+1, MaxLineBytes)
	}
	b = append(b, '\n')
	if _, err := w.bw.Write(b); err != nil {
		return fmt.Errorf("writing object %d: %w", w.n+1, err)
	}
	w.n++
	return nil
}

// Count is the number of objects written.
func (w *Writer) Count() int { return w.n }

// Flush writes any buffered data to the underlying writer.
func (w *Writer) Flush() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("flushing: %w", err)
	}
	return nil
}
