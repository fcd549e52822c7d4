package pipeline

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// digestKind is one kind of input record for DigestInputs: its name, its
// count and the encoder of its i-th record.
type digestKind struct {
	name string
	n    int
	enc  func(i int, b []byte) []byte
}

// DigestInputs counts the inputs and hashes them independently of their
// order: every record is encoded canonically (each field length-prefixed,
// integers fixed-width, an invoice's prices and a subscription's price ids
// sorted) and hashed; each kind's record hashes are sorted;
// and the digest is the SHA-256 of a version tag followed by, per kind, its
// name, count and sorted record hashes. Two inputs that hold the same
// records (as multisets) get the same digest. Disputes and credit notes are
// hashed only when there are any, so data without them keeps the digest it
// had before refrecon read them.
func DigestInputs(in Inputs) InputsDigest {
	r, s := &in.Referrals, &in.Stripe
	kinds := []digestKind{
		{"users", len(r.Users), func(i int, b []byte) []byte {
			u := &r.Users[i]
			return appendStr(appendStr(b, u.Email), u.Refcode)
		}},
		{"referrals", len(r.Rows), func(i int, b []byte) []byte {
			x := &r.Rows[i]
			b = appendStr(appendStr(appendStr(appendStr(b, x.Email), x.Refcode), x.ReferredAt), x.SelectedPlan)
			return appendBool(b, x.Rewarded)
		}},
		{"customers", len(s.Customers), func(i int, b []byte) []byte {
			c := &s.Customers[i]
			return appendStr(appendStr(b, c.ID), c.Email)
		}},
		{"subscriptions", len(s.Subscriptions), func(i int, b []byte) []byte {
			x := &s.Subscriptions[i]
			b = appendStr(appendStr(appendStr(b, x.ID), x.Customer), x.Status)
			b = binary.BigEndian.AppendUint64(b, uint64(x.Created))
			b = binary.AppendUvarint(b, uint64(len(x.PriceIDs)))
			ids := x.PriceIDs
			if !slices.IsSorted(ids) {
				ids = slices.Sorted(slices.Values(ids))
			}
			for _, p := range ids {
				b = appendStr(b, p)
			}
			return b
		}},
		{"invoices", len(s.Invoices), func(i int, b []byte) []byte {
			x := &s.Invoices[i]
			b = appendStr(appendStr(appendStr(appendStr(appendStr(appendStr(b,
				x.ID), x.Customer), x.Subscription), x.Charge), x.Status), x.Currency)
			b = binary.BigEndian.AppendUint64(b, uint64(x.AmountPaid))
			b = binary.BigEndian.AppendUint64(b, uint64(x.Tax))
			b = binary.BigEndian.AppendUint64(b, uint64(x.PaidAt))
			b = binary.AppendUvarint(b, uint64(len(x.Prices)))
			prices := x.Prices
			if !slices.IsSortedFunc(prices, comparePrices) {
				prices = slices.SortedFunc(slices.Values(prices), comparePrices)
			}
			for _, p := range prices {
				b = appendStr(appendStr(b, p.ID), p.LookupKey)
			}
			return b
		}},
		{"refunds", len(s.Refunds), func(i int, b []byte) []byte {
			x := &s.Refunds[i]
			b = appendStr(b, x.ID)
			b = binary.BigEndian.AppendUint64(b, uint64(x.Amount))
			b = appendStr(b, x.Status)
			b = binary.BigEndian.AppendUint64(b, uint64(x.Created))
			return appendStr(b, x.Charge)
		}},
	}
	// Disputes and credit notes joined the inputs later: data without any
	// keeps the digest (and so the snapshot id) it had before they were
	// read. With either present both kinds are hashed, after the others.
	if len(s.Disputes)+len(s.CreditNotes) > 0 {
		kinds = append(kinds, []digestKind{
			{"disputes", len(s.Disputes), func(i int, b []byte) []byte {
				x := &s.Disputes[i]
				b = appendStr(appendStr(b, x.ID), x.Charge)
				b = binary.BigEndian.AppendUint64(b, uint64(x.Amount))
				b = appendStr(appendStr(b, x.Currency), x.Status)
				return binary.BigEndian.AppendUint64(b, uint64(x.Created))
			}},
			{"credit_notes", len(s.CreditNotes), func(i int, b []byte) []byte {
				x := &s.CreditNotes[i]
				b = appendStr(appendStr(appendStr(appendStr(b, x.ID), x.Invoice), x.Type), x.Status)
				b = binary.BigEndian.AppendUint64(b, uint64(x.Amount))
				b = appendStr(b, x.Refund)
				return binary.BigEndian.AppendUint64(b, uint64(x.Created))
			}},
		}...)
	}

	// Hash every kind's records on every core, then sort the hashes.
	sums := make([][][sha256.Size]byte, len(kinds))
	for k := range kinds {
		kind := &kinds[k]
		hs := make([][sha256.Size]byte, kind.n)
		parallelRanges(kind.n, func(lo, hi int) {
			var buf []byte
			for i := lo; i < hi; i++ {
				buf = kind.enc(i, buf[:0])
				hs[i] = sha256.Sum256(buf)
			}
		})
		sums[k] = sortHashes(hs)
	}

	h := sha256.New()
	h.Write([]byte("refrecon-inputs-v1\n"))
	var hdr []byte
	for k := range kinds {
		hdr = appendStr(hdr[:0], kinds[k].name)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(kinds[k].n))
		h.Write(hdr)
		for i := range sums[k] {
			h.Write(sums[k][i][:])
		}
	}
	return InputsDigest{
		SHA256: hex.EncodeToString(h.Sum(nil)),
		Counts: InputCounts{
			Users:         int64(len(r.Users)),
			Referrals:     int64(len(r.Rows)),
			Customers:     int64(len(s.Customers)),
			Subscriptions: int64(len(s.Subscriptions)),
			Invoices:      int64(len(s.Invoices)),
			Refunds:       int64(len(s.Refunds)),
			Disputes:      int64(len(s.Disputes)),
			CreditNotes:   int64(len(s.CreditNotes)),
		},
	}
}

// sortHashes sorts uniformly distributed hashes: a counting sort on their
// first 16 bits into buckets, then each (small) bucket by comparison.
func sortHashes(hs [][sha256.Size]byte) [][sha256.Size]byte {
	if len(hs) < 1<<12 {
		slices.SortFunc(hs, compareHashes)
		return hs
	}
	var start [1<<16 + 1]int
	for i := range hs {
		start[int(hs[i][0])<<8|int(hs[i][1])+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	out := make([][sha256.Size]byte, len(hs))
	next := start
	for i := range hs {
		b := int(hs[i][0])<<8 | int(hs[i][1])
		out[next[b]] = hs[i]
		next[b]++
	}
	parallelRanges(1<<16, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			if bucket := out[start[b]:start[b+1]]; len(bucket) > 1 {
				slices.SortFunc(bucket, compareHashes)
			}
		}
	})
	return out
}

func compareHashes(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) }

// comparePrices orders prices by id, then lookup key.
func comparePrices(a, b Price) int {
	if c := strings.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	return strings.Compare(a.LookupKey, b.LookupKey)
}

// appendStr appends s with its length as a uvarint prefix.
func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendBool appends one byte, 0 or 1.
func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// snapshotTimeLayout is how asOf starts a snapshot id (SPEC 3.1).
const snapshotTimeLayout = "20060102T150405Z"

// NewRunInfo identifies a run (SPEC 3.1): the snapshot id is asOf in UTC as
// YYYYMMDDTHHMMSSZ, "-", and the first 12 hex digits of a SHA-256 over the
// inputs' digest, the cycle set's SHA-256 and the code version (each
// length-prefixed), followed, when any cycle is settled, by the settled
// cycles (cycle id and settled snapshot id, cycle id order): a settlement
// changes what is published, so it changes the id.
func NewRunInfo(d InputsDigest, set CycleSet, asOf time.Time, codeVersion string, settled ...SettledCycle) RunInfo {
	setSHA := set.SHA256()
	var b []byte
	b = appendStr(b, "refrecon-snapshot-v1")
	b = appendStr(b, d.SHA256)
	b = appendStr(b, setSHA)
	b = appendStr(b, codeVersion)
	if len(settled) > 0 {
		refs := make([][2]string, 0, len(settled))
		for _, s := range settled {
			refs = append(refs, [2]string{s.CycleID, s.SnapshotID})
		}
		slices.SortFunc(refs, func(a, b [2]string) int {
			return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
		})
		b = appendStr(b, "settled")
		b = binary.AppendUvarint(b, uint64(len(refs)))
		for _, r := range refs {
			b = appendStr(appendStr(b, r[0]), r[1])
		}
	}
	sum := sha256.Sum256(b)
	asOf = asOf.UTC()
	return RunInfo{
		SnapshotID:     asOf.Format(snapshotTimeLayout) + "-" + hex.EncodeToString(sum[:])[:12],
		AsOf:           asOf,
		CodeVersion:    codeVersion,
		CycleSetSHA256: setSHA,
		Inputs:         d,
	}
}
