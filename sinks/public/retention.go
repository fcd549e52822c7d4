package public

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// Retention says which snapshots Prune keeps.
type Retention struct {
	// Keep is how many of the newest snapshots stay (0: all of them).
	Keep int
	// Protected, when set, names snapshots that stay whatever their age:
	// the ones a settlement names (SPEC 2.8). It is called once per Prune;
	// an error stops Prune before it removes anything.
	Protected func(ctx context.Context) ([]string, error)
}

// Prune removes all but the newest r.Keep snapshots from store and returns
// the removed ids oldest first. Newest means the greatest id in byte
// order: ids begin with asOf, so that is by asOf, and snapshots with the
// same asOf (re-runs over changed inputs or code) are ordered by their
// hash, arbitrary but the same on every machine. The snapshot latest.json
// names, and every snapshot r.Protected names, is never removed, even when
// it is not among the newest (it is then kept in addition). Names under
// snapshots/ that are not snapshot ids (a publisher's temporary directory,
// anything a person put there) are never touched. Call Prune while holding
// the store's lock.
//
// A latest.json that cannot be read or parsed stops Prune before it
// removes anything: without it, the served snapshot is not known.
func Prune(ctx context.Context, store Storage, r Retention) (removed []string, err error) {
	if r.Keep < 0 {
		return nil, fmt.Errorf("prune %s: keep %d: want 0 (keep all) or more", store, r.Keep)
	}
	served := ""
	b, _, err := store.ReadLatest(ctx)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("prune %s: reading %s: %w", store, LatestName, err)
	default:
		if served, err = parseLatest(b); err != nil {
			return nil, fmt.Errorf("prune %s: %w", store, err)
		}
	}
	if r.Keep == 0 {
		return nil, nil
	}
	keep := map[string]bool{served: true}
	if r.Protected != nil {
		ids, err := r.Protected(ctx)
		if err != nil {
			return nil, fmt.Errorf("prune %s: protected snapshots: %w", store, err)
		}
		for _, id := range ids {
			keep[id] = true
		}
	}
	ids, err := NewReader(store).Snapshots(ctx)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	if len(ids) <= r.Keep {
		return nil, nil
	}
	for _, id := range ids[:len(ids)-r.Keep] {
		if keep[id] {
			continue
		}
		if err := store.DeleteSnapshot(ctx, id); err != nil {
			return removed, fmt.Errorf("prune %s: removing snapshot %s: %w", store, id, err)
		}
		removed = append(removed, id)
	}
	return removed, nil
}
