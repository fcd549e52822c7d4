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
