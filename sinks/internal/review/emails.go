package review

import (
	"slices"
	"strings"

	"github.com/refrecon/refrecon/pipeline"
)

// ByRefcode is entries in refcode order: entries itself when they are, as
// the pipeline gives a cycle's Unranked, else a sorted copy (stable). At 1M
// referrals the clone and sort of an already sorted list was ~90 ms a cycle
// per report.
func ByRefcode(entries []pipeline.Entry) []pipeline.Entry {
	byRefcode := func(a, b pipeline.Entry) int { return strings.Compare(a.Refcode, b.Refcode) }
	if slices.IsSortedFunc(entries, byRefcode) {
		return entries
	}
	entries = slices.Clone(entries)
	slices.SortStableFunc(entries, byRefcode)
	return entries
}

// ReferrerEmails finds a refcode's email for the private reports (the CSV
// reports and the workbook): the first referrer's with that refcode in
// Result.Referrers. The pipeline gives the referrers in refcode
// order, and the cycle sheets list most referrers (the unranked) in refcode
// order too, so a cursor walks the two lists side by side; a row out of
// that order is found by binary search. At 1M referrals that is about 2.2M
// look-ups per report, which in a map of 200k refcodes cost five times
// the walk (each a cache miss). Referrers not in refcode order get the
// map.
type ReferrerEmails struct {
	users  []pipeline.User // in refcode order; nil when byCode is used
	byCode map[string]string
}

func byUserRefcode(u pipeline.User, refcode string) int { return strings.Compare(u.Refcode, refcode) }

func NewReferrerEmails(users []pipeline.User) *ReferrerEmails {
	if slices.IsSortedFunc(users, func(a, b pipeline.User) int { return strings.Compare(a.Refcode, b.Refcode) }) {
		return &ReferrerEmails{users: users}
	}
	m := make(map[string]string, len(users))
	for _, u := range users {
		if _, dup := m[u.Refcode]; !dup {
			m[u.Refcode] = u.Email
		}
	}
	return &ReferrerEmails{byCode: m}
}

// EmailCursor is one pass's position in an ReferrerEmails.
type EmailCursor struct {
	x *ReferrerEmails
	j int // the first user whose refcode is not below the last one asked
}

// Cursor starts a pass (one table's rows) over the index.
func (x *ReferrerEmails) Cursor() *EmailCursor { return &EmailCursor{x: x} }

// cursorSteps is how far ahead of the last refcode the cursor walks before
// it searches instead.
const cursorSteps = 8

// Of is the email of refcode ("" for none).
func (c *EmailCursor) Of(refcode string) string {
	if c.x.byCode != nil {
		return c.x.byCode[refcode]
	}
	us, j := c.x.users, c.j
	if (j > 0 && us[j-1].Refcode >= refcode) || (j+cursorSteps < len(us) && us[j+cursorSteps].Refcode < refcode) {
		j, _ = slices.BinarySearchFunc(us, refcode, byUserRefcode)
	}
	for j < len(us) && us[j].Refcode < refcode {
		j++
	}
	c.j = j
	if j < len(us) && us[j].Refcode == refcode {
		return us[j].Email
	}
	return ""
}
