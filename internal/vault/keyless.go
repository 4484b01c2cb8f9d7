package vault

import (
	"context"
	"fmt"
	"slices"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
)

// KeylessReason is the reason of the audit entry of each record
// EraseKeyless erases.
const KeylessReason = "restored without its data key: shredded after the data backup"

// keylessBatch is how many keyless records one transaction erases, and
// how many ids one page of the search for them returns.
const keylessBatch = 500

// EraseKeyless erases the records a restore left without their data key
// (subject.Keyless): their key was destroyed after the data backup was
// made (an erasure, a retention purge), so the key backup lacks it and
// what the data backup holds of them can never be opened again. Each is
// left as an erasure leaves a record: a tombstone without ciphertext,
// no blind index entry (found by subject, since its values cannot be
// hashed again), no limits, no pending contact change, its open
// requests closed; and each is audited "erase" by system with
// KeylessReason. A legal hold does not keep one: what it would keep is
// gone already. The statistics cannot tell which cell such a record
// counted in (its fields do not open), so their counts keep it. Until
// this runs, the vault treats such a record as gone (subject.Row.Gone)
// but a lookup by its values still finds its id. It returns how many it
// erased.
//
// The records are found in pages (one scan of the records in all), their
// index entries deleted in one scan of the index, then the records erased
// in transactions of keylessBatch: a national directory's restore may
// leave many, and a scan of each table per batch made the work grow with
// the square of their number. Stopped at any point, it leaves no index
// entry of an erased record (the entries go first), and a new run picks
// up the records still keyless.
func (v *Vault) EraseKeyless(ctx context.Context) (int, error) {
	var ids []string
	for after := ""; ; {
		var page []string
		err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			page, err = tx.KeylessSubjects(ctx, after, keylessBatch)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("find the records without a data key: %w", err)
		}
		if ids = append(ids, page...); len(page) < keylessBatch {
			break
		}
		after = page[len(page)-1]
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if _, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (int64, error) {
		return tx.DeleteIndexesOf(ctx, ids)
	}); err != nil {
		return 0, fmt.Errorf("delete the index entries of the records without a data key: %w", err)
	}
	system := identity.Actor{ID: "system"}
	total := 0
	for batch := range slices.Chunk(ids, keylessBatch) {
		n, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (int, error) {
			now := v.now().UTC()
			for _, id := range batch {
				if err := tx.EraseSubject(ctx, id, now); err != nil {
					return 0, fmt.Errorf("erase %s: %w", id, err)
				}
				if err := forget(ctx, tx, system, id, now); err != nil {
					return 0, err
				}
				e := audit.Entry{Time: now, Actor: system.ID, Action: "erase", Subject: id, Reason: KeylessReason, Decision: "allow"}
				if err := tx.AppendAudit(ctx, &e); err != nil {
					return 0, err
				}
			}
			return len(batch), nil
		})
		if err != nil {
			return total, fmt.Errorf("erase the records without a data key: %w", err)
		}
		total += n
	}
	return total, nil
}
