package export

import (
	"hash/maphash"
	"testing"
)

func TestIDSetFindsRepeats(t *testing.T) {
	s := idSet{seed: maphash.MakeSeed(), first: map[uint64]idLine{}}
	for line, id := range []string{"in_1", "in_2", "in_3"} {
		if _, dup := s.add(id, line+1); dup {
			t.Fatalf("%s reported as a repeat", id)
		}
	}
	if first, dup := s.add("in_2", 9); !dup || first != 2 {
		t.Errorf("in_2 again: first %d, repeat %v; want line 2, true", first, dup)
	}
}

// Two different ids with one hash are both kept, and a repeat of the
// second is still found.
func TestIDSetKeepsIDsWhoseHashCollides(t *testing.T) {
	s := idSet{seed: maphash.MakeSeed(), first: map[uint64]idLine{}}
	// in_other stands where in_b's hash is, as a colliding id would.
	s.first[maphash.String(s.seed, "in_b")] = idLine{"in_other", 1}
	if _, dup := s.add("in_b", 2); dup {
		t.Fatal("in_b reported as a repeat of the id whose hash it shares")
	}
	if first, dup := s.add("in_b", 3); !dup || first != 2 {
		t.Errorf("in_b again: first %d, repeat %v; want line 2, true", first, dup)
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
