// Package public owns the public snapshot layout (SPEC 3.1): the names,
// the documents, the manifest, the latest.json pointer, retention, the
// publication lock, and reading a published snapshot back. It stores
// nothing itself: a Storage driver does (sinks/public/localdir for a local
// directory; a bucket driver beside it), and every driver passes the
// conformance suite in sinks/public/publictest. The shape is go-cloud's
// blob: one portable layer over a small driver interface.
//
// Layout, under the store's root:
//
//	latest.json                                       {"snapshotId", "path": "snapshots/<id>/"}
//	snapshots/<id>/manifest.json                      run identity, inputs, every other file with sha256 and size
//	snapshots/<id>/cycles.json                        {"snapshotId", "asOf", "cycles": [summaries, startTime desc]}
//	snapshots/<id>/cycles/<cycle>/leaderboard/<n>.json  page n (1-based) of a cycle's ranked referrers
//	snapshots/<id>/referrers/<name>.json              one per users refcode, name = RefcodeFileName(refcode)
//
// Every document is compact JSON (no insignificant whitespace) followed by
// one newline; keys come in a fixed order, so the same run gives the same
// bytes. Money is {"currency": "usd", "amount": "<minor units>"}; times are
// RFC 3339 in UTC. A leaderboard entry's "score" is a JSON integer when a
// pie-split cycle scores by conversions, and Money when the score is
// revenue (pie-split by revenue, rev-share-cap). "finalScoreBoost" is a
// JSON number on pie-split cycles (the shortest decimal of the float64
// quotient) and is absent on rev-share-cap cycles. The documents are
// rendered (render.go, json.go, append.go) apart from the transaction
// that stores them (publish.go).
//
// No email address is published: the fields of a result that hold emails
// are never read, a refcode that contains '@' is published as "redacted-"
// and 12 hex digits of its SHA-256, a word containing '@' in free text
// (admin action reasons, cycle display names, notes) becomes "[redacted]",
// and as a last guard every document is checked for '@' before it is
// stored.
//
// Publishing is atomic, in two phases. Prepare stores every object of the
// snapshot through a SnapshotWriter (where the driver puts them until
// Commit is its business: a local directory stages them in a temporary
// directory nobody reads, a bucket writes them in place under the new
// snapshot's prefix, which nothing names yet), the manifest last, and
// flushes them. Commit lists what the store holds of the snapshot, checks
// every manifest entry (key and size) against it, makes the snapshot final
// and only then replaces latest.json, in one write (conditional on the
// version read at the start where the store has versions). Abort, or any
// failure before latest.json is written, removes the staged objects and
// leaves latest.json and the previous snapshots untouched. Publish is
// Prepare and Commit. Only one publish may run at a time on a store
// (Storage.Lock).
//
// Incremental: an object whose bytes are those of the same path in the
// snapshot latest.json names (the sha256 and size its manifest lists) is
// reused from it (Storage's Reuse: a hard link, a server-side copy)
// instead of being sent again, which on a nightly run is most referrer
// files; where reuse fails, the bytes are written. The bytes and the
// manifest are the same either way. Because objects are shared between
// snapshots, a published object must never be changed in place:
// snapshots are immutable once published (removing a snapshot, as Prune
// does, is fine).
package public
