package review

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/refrecon/refrecon/pipeline"
)

// TestReferrerEmailsMatchesMap asks the email index for refcodes in refcode
// order (with gaps of every size), backwards, at random and for refcodes
// nobody has, of referrers in refcode order (some sharing a refcode) and
// not; every answer is the first referrer's email, as a map of the first
// ones gives.
func TestReferrerEmailsMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var users []pipeline.User
	for i := range 3000 {
		rc := fmt.Sprintf("rc%05d", r.IntN(5000))
		users = append(users, pipeline.User{Refcode: rc, Email: fmt.Sprintf("u%d@example.com", i)})
	}
	sorted := slices.Clone(users)
	slices.SortFunc(sorted, func(a, b pipeline.User) int {
		return cmp.Or(strings.Compare(a.Refcode, b.Refcode), strings.Compare(a.Email, b.Email))
	})
	var asks []string
	for i := range 6000 { // in order, every refcode (known or not)
		asks = append(asks, fmt.Sprintf("rc%05d", i))
	}
	for i := 0; i < 6000; i += 1 + r.IntN(40) { // in order with gaps
		asks = append(asks, fmt.Sprintf("rc%05d", i))
	}
	for i := 5999; i >= 0; i -= 1 + r.IntN(3) { // backwards
		asks = append(asks, fmt.Sprintf("rc%05d", i))
	}
	for range 3000 {
		asks = append(asks, fmt.Sprintf("rc%05d", r.IntN(6000)))
	}
	asks = append(asks, "", "a", "zz")
	for _, us := range [][]pipeline.User{sorted, users} {
		want := map[string]string{}
		for _, u := range us {
			if _, dup := want[u.Refcode]; !dup {
				want[u.Refcode] = u.Email
			}
		}
		x := NewReferrerEmails(us)
		c := x.Cursor()
		found := 0
		for _, rc := range asks {
			got := c.Of(rc)
			if got != want[rc] {
				t.Fatalf("email of %q = %q, want %q", rc, got, want[rc])
			}
			if got != "" {
				found++
			}
		}
		if found < 1000 {
			t.Fatalf("only %d refcodes found", found)
		}
	}
	if NewReferrerEmails(sorted).users == nil || NewReferrerEmails(users).byCode == nil {
		t.Error("the index did not take the walk for sorted referrers and the map otherwise")
	}
}

func TestByRefcode(t *testing.T) {
	sorted := []pipeline.Entry{{Refcode: "a"}, {Refcode: "b", Referrals: 1}, {Refcode: "b", Referrals: 2}}
	if got := ByRefcode(sorted); &got[0] != &sorted[0] {
		t.Error("sorted entries were copied")
	}
	mixed := []pipeline.Entry{{Refcode: "b", Referrals: 1}, {Refcode: "a"}, {Refcode: "b", Referrals: 2}}
	got := ByRefcode(mixed)
	if &got[0] == &mixed[0] || mixed[0].Refcode != "b" {
		t.Error("unsorted entries were sorted in place")
	}
	if got[0].Refcode != "a" || got[1].Referrals != 1 || got[2].Referrals != 2 {
		t.Errorf("ByRefcode = %+v, want a, then the two b in their order", got)
	}
}
