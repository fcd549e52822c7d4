package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// idsOn is an idSet of ids[i] on line i+1, each a block of its own; an id
// of "=x" stands where x's hash is, as an id whose hash collides with x's.
func idsOn(ids ...string) *idSet {
	s := &idSet{seed: maphash.MakeSeed()}
	for i, id := range ids {
		h := maphash.String(s.seed, id)
		if x, ok := strings.CutPrefix(id, "="); ok {
			h, id = maphash.String(s.seed, x), "other"+strconv.Itoa(i)
		}
		s.ids.add([]idLine{{h, i + 1, id}})
	}
	return s
}

func TestIDSetFindsRepeats(t *testing.T) {
	if _, _, id, ok := idsOn("in_1", "in_2", "in_3", "in_4").repeat(); ok {
		t.Fatalf("%s reported as a repeat", id)
	}
	// The earliest repeat is the one reported, with the first line of its id.
	if at, first, id, ok := idsOn("in_1", "in_2", "in_3", "in_4", "in_3", "in_2", "in_2").repeat(); !ok || at != 5 || first != 3 || id != "in_3" {
		t.Errorf("repeat() = line %d, first %d, %q, %v; want line 5, first 3, in_3, true", at, first, id, ok)
	}
}

// Different ids with one hash are told apart, and a repeat among them is
// still found.
func TestIDSetKeepsIDsWhoseHashCollides(t *testing.T) {
	if _, _, id, ok := idsOn("=in_b", "in_b", "=in_b").repeat(); ok {
		t.Fatalf("%s reported as a repeat of an id whose hash it shares", id)
	}
	if at, first, id, ok := idsOn("=in_b", "in_b", "=in_b", "in_b").repeat(); !ok || at != 4 || first != 2 || id != "in_b" {
		t.Errorf("repeat() = line %d, first %d, %q, %v; want line 4, first 2, in_b, true", at, first, id, ok)
	}
}

// prefixKind reads Stripe's own order and leaves every other line to the
// whole-line scan (objectKind); what it reads is what objectKind reads.
func TestPrefixKind(t *testing.T) {
	for _, tc := range []struct {
		line     string
		kind, id string
		ok       bool
	}{
		{`{"id":"in_1","object":"invoice","status":"paid"}`, "invoice", "in_1", true},
		{`{"id":"cus_1","object":"customer"}`, "customer", "cus_1", true},
		{`{"object":"invoice","id":"in_1"}`, "", "", false},
		{`{ "id":"in_1","object":"invoice"}`, "", "", false},
		{`{"id":"in_1","object":"balance_transaction"}`, "", "", false},
		{`{"id":"in_\u0031","object":"invoice"}`, "", "", false},
		{`{"id":null,"object":"invoice"}`, "", "", false},
		{`{"id":"in_1","object":"invoice"x`, "", "", false},
	} {
		kind, id, ok := prefixKind([]byte(tc.line))
		if string(kind) != tc.kind || string(id) != tc.id || ok != tc.ok {
			t.Errorf("prefixKind(%s) = %q, %q, %v; want %q, %q, %v", tc.line, kind, id, ok, tc.kind, tc.id, tc.ok)
		}
		if !ok {
			continue
		}
		var keys [][]byte
		if k, i, ok := objectKind([]byte(tc.line), &keys); !ok || string(k) != tc.kind || string(i) != tc.id {
			t.Errorf("objectKind(%s) = %q, %q, %v; prefixKind read %q, %q", tc.line, k, i, ok, kind, id)
		}
	}
}

// A repeat in the lines read before the file fails to read is the error, as
// the line-by-line reader would find it first; without one, the read's
// failure is.
func TestRepeatBeforeAReadError(t *testing.T) {
	var b bytes.Buffer
	for i := 0; b.Len() < 2*blockBytes; i++ {
		fmt.Fprintf(&b, `{"id":"cus_%d","object":"customer"}`+"\n", i)
	}
	clean := b.Len()
	b.WriteString(`{"id":"cus_3","object":"customer"}` + "\n")
	errDisk := errors.New("disk gone")
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"a repeat", b.Bytes(), "customer cus_3 appears twice (first on line 4)"},
		{"no repeat", b.Bytes()[:clean], "disk gone"},
	} {
		_, _, err := decode(context.Background(), io.MultiReader(bytes.NewReader(c.data), iotest.ErrReader(errDisk)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s, then a failed read: err = %v, want one saying %q", c.name, err, c.want)
		}
	}
}
