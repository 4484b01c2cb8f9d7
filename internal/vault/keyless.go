package vault

import (
	"context"
	"fmt"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
)

// KeylessReason is the reason of the audit entry of each record
// EraseKeyless erases.
const KeylessReason = "restored without its data key: shredded after the data backup"

// keylessBatch is how many keyless records one transaction erases: the
// index entries of a batch are found in one scan of the index.
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
func (v *Vault) EraseKeyless(ctx context.Context) (int, error) {
	system := identity.Actor{ID: "system"}
	total := 0
	for {
		n, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (int, error) {
			ids, err := tx.KeylessSubjects(ctx, keylessBatch)
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			now := v.now().UTC()
			for _, id := range ids {
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
			if _, err := tx.DeleteIndexesOf(ctx, ids); err != nil {
				return 0, err
			}
			return len(ids), nil
		})
		if err != nil {
			return total, fmt.Errorf("erase the records without a data key: %w", err)
		}
		if total += n; n < keylessBatch {
			return total, nil
		}
	}
}
