package vault

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

// preread is a subject's row read before the access's write transaction,
// on the store's read side, with the person's limits on it and its data
// key opened there too: inside the transaction, which runs on the store's
// one writer, the access uses them when the store says the row has not
// changed since (subject.Fresh), and reads the row itself otherwise. The B-tree read of a random record and
// the key's unwrapping then run beside the writer, in parallel, instead
// of in it. Nothing is decided on the row before the transaction: the
// guard, the person's limits and the audit entry all come after, inside.
type preread struct {
	rec    *subject.Row
	limits []rights.Limit // the person's limits on the record
	stamp  uint64
	dk     *envelope.DataKey
}

// preRead reads subject id's row for an access about to run. It returns
// nil when the store cannot stamp reads or the row is not there to use
// (absent, erased, or its key does not open): the transaction then reads
// and decides, and audits, as it always has. A store that fails fails the
// access, as it would in the transaction.
func (v *Vault) preRead(ctx context.Context, id string) (*preread, error) {
	var p *preread
	err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		st, ok := tx.(subject.Stamped)
		if !ok {
			return nil
		}
		r, limited, s, err := st.GetSubjectStamped(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		case r.Gone():
			return nil
		}
		// Read after the stamp was taken, as the row: a change to them
		// since is a change to the row (subject.Fresh).
		var ls []rights.Limit
		if limited {
			if ls, err = tx.Limits(ctx, id); err != nil {
				return err
			}
		}
		p = &preread{rec: r, limits: ls, stamp: s}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read subject: %w", err)
	}
	if p == nil {
		return nil, nil
	}
	if p.dk, err = v.keys.OpenDEK(p.rec.ID, p.rec.DEKVersion, p.rec.DEK); err != nil {
		return nil, nil // the transaction opens it, and fails as it always has
	}
	return p, nil
}

// row is the read row when it is subject id's and still current in tx
// (nil otherwise: the caller reads it).
func (p *preread) row(tx store.Tx, id string) *subject.Row {
	if p == nil || p.rec.ID != id {
		return nil
	}
	if f, ok := tx.(subject.Fresh); !ok || !f.Unchanged(id, p.stamp) {
		return nil
	}
	return p.rec
}

// key is the data key opened with the read row, when row is that row
// (nil otherwise).
func (p *preread) key(row *subject.Row) *envelope.DataKey {
	if p == nil || row == nil || row != p.rec {
		return nil
	}
	return p.dk
}
