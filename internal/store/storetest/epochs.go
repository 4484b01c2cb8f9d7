package storetest

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
)

// auditEpochs checks the epochs and their bounded deletions: an epoch
// round-trips and its number is taken once; marking an unknown one is
// ErrNotFound; entries, subject index rows, tiles and checkpoints' leaf
// hashes go up to a bound, at most limit per call, the rest untouched;
// SubjectLinks names the links from the retained rows to deleted ones.
func auditEpochs(t *testing.T, s store.Store) {
	root := bytes.Repeat([]byte{7}, 32)
	ep := &audit.Epoch{Number: 1, First: 1, Last: 6, Opened: t0, Closed: t0.Add(time.Hour), Root: root}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for i := range 10 {
			e := &audit.Entry{Time: t0.Add(time.Duration(i) * time.Minute), Actor: "op_1", Action: "read", Subject: []string{"sub_a", "sub_b"}[i%2], Decision: "allow"}
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		// Rows of the subject index: sub_a 1, 3, 5, 7, 9; sub_b 2, 4, 6, 8, 10.
		var rows []audit.IndexEntry
		prev := map[string]int64{}
		for seq := int64(1); seq <= 10; seq++ {
			subj := []string{"sub_b", "sub_a"}[seq%2]
			rows = append(rows, audit.IndexEntry{Subject: subj, Seq: seq, Pos: uint64(seq - 1), Prev: prev[subj]})
			prev[subj] = seq
		}
		if err := tx.PutSubjectIndex(ctx, 0, rows); err != nil {
			return err
		}
		for size := uint64(2); size <= 10; size += 2 {
			c := &audit.StoredCheckpoint{Size: size, Root: root, Note: []byte("note"), Leaves: bytes.Repeat([]byte{1}, 64), Created: t0}
			if err := tx.PutCheckpoint(ctx, c); err != nil {
				return err
			}
		}
		var tiles []audit.Tile
		for i := range uint64(4) {
			tiles = append(tiles, audit.Tile{ID: audit.TileID{Level: 0, Index: i}, Hashes: root}, audit.Tile{ID: audit.TileID{Level: 1, Index: i}, Hashes: root})
		}
		if err := tx.PutTiles(ctx, tiles); err != nil {
			return err
		}
		if err := tx.PutIndexTiles(ctx, tiles); err != nil {
			return err
		}
		return tx.PutEpoch(ctx, ep)
	})
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutEpoch(ctx, ep) })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("an epoch number again: %v, want ErrConflict", err)
	}
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.MarkEpochDeleted(ctx, 9, t0) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("marking an unknown epoch: %v, want ErrNotFound", err)
	}
	deleted := t0.Add(48 * time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.MarkEpochDeleted(ctx, 1, deleted) })

	var got []audit.Epoch
	var links map[string]int64
	var leftAudit []int64
	var cps []audit.StoredCheckpoint
	var tiles, indexTiles map[audit.TileID]audit.Tile
	var index []audit.IndexEntry
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		if got, err = tx.ListEpochs(ctx); err != nil {
			return err
		}
		// Entries: 4 then 2 (the bound), then none.
		for _, want := range []int{4, 2, 0} {
			n, err := tx.DeleteAudit(ctx, 6, 4)
			if err != nil || n != want {
				t.Errorf("DeleteAudit = %d, %v; want %d", n, err, want)
			}
		}
		// Index rows: 3 looked at a call, in key order, those ≤ 6 deleted.
		subj, seq, total := "", int64(0), 0
		for range 10 {
			var n int
			if subj, seq, n, err = tx.DeleteSubjectIndex(ctx, 6, subj, seq, 3); err != nil {
				return err
			}
			total += n
			if subj == "" {
				break
			}
		}
		if total != 6 {
			t.Errorf("DeleteSubjectIndex deleted %d rows in all, want 6", total)
		}
		for _, index := range []bool{false, true} {
			if n, err := tx.DeleteTiles(ctx, index, 0, 3, 2); err != nil || n != 2 {
				t.Errorf("DeleteTiles(index %v) = %d, %v; want 2 (the bound)", index, n, err)
			}
			if n, err := tx.DeleteTiles(ctx, index, 0, 3, 2); err != nil || n != 1 {
				t.Errorf("DeleteTiles(index %v) again = %d, %v; want 1", index, n, err)
			}
		}
		last, n, err := tx.TrimCheckpoints(ctx, 0, 6, 2)
		if err != nil || last != 4 || n != 2 {
			t.Errorf("TrimCheckpoints(0, 6, 2) = %d, %d, %v; want 4, 2", last, n, err)
		}
		if last, n, err = tx.TrimCheckpoints(ctx, last, 6, 2); err != nil || last != 6 || n != 1 {
			t.Errorf("TrimCheckpoints(4, 6, 2) = %d, %d, %v; want 6, 1", last, n, err)
		}
		if links, err = tx.SubjectLinks(ctx, 7); err != nil {
			return err
		}
		if err := tx.AuditLeaves(ctx, 1, 100, func(seq int64, _ []byte) error { leftAudit = append(leftAudit, seq); return nil }); err != nil {
			return err
		}
		if cps, err = tx.CheckpointsAfter(ctx, 0, 10); err != nil {
			return err
		}
		ids := []audit.TileID{{Level: 0, Index: 0}, {Level: 0, Index: 1}, {Level: 0, Index: 2}, {Level: 0, Index: 3}, {Level: 1, Index: 0}}
		if tiles, err = tx.GetTiles(ctx, ids); err != nil {
			return err
		}
		if indexTiles, err = tx.GetIndexTiles(ctx, ids); err != nil {
			return err
		}
		index, err = tx.SubjectIndex(ctx, "sub_a", 100, 100)
		return err
	})
	if len(got) != 1 || got[0].Number != 1 || got[0].First != 1 || got[0].Last != 6 || !got[0].Opened.Equal(t0) || !got[0].Closed.Equal(t0.Add(time.Hour)) ||
		!bytes.Equal(got[0].Root, root) || !got[0].Deleted.Equal(deleted) {
		t.Errorf("ListEpochs = %+v", got)
	}
	if len(leftAudit) != 4 || leftAudit[0] != 7 {
		t.Errorf("entries left %v, want 7…10", leftAudit)
	}
	if want := map[string]int64{"sub_a": 5, "sub_b": 6}; !maps.Equal(links, want) {
		t.Errorf("SubjectLinks(7) = %v, want %v", links, want)
	}
	if len(index) != 2 || index[0].Seq != 9 || index[1].Seq != 7 || index[1].Prev != 5 {
		t.Errorf("sub_a's index rows left: %+v, want 9 and 7 (7 naming 5)", index)
	}
	for _, c := range cps {
		if trimmed := len(c.Leaves) == 0; trimmed != (c.Size <= 6) || !bytes.Equal(c.Note, []byte("note")) || !bytes.Equal(c.Root, root) {
			t.Errorf("checkpoint %d: %d leaf bytes, note %q; want its leaves dropped iff size ≤ 6, the rest kept", c.Size, len(c.Leaves), c.Note)
		}
	}
	for _, m := range []map[audit.TileID]audit.Tile{tiles, indexTiles} {
		if _, ok := m[audit.TileID{Level: 0, Index: 3}]; len(m) != 2 || !ok {
			t.Errorf("tiles left of those asked: %v, want level 0 index 3 and level 1 index 0 (level 0 index < 3 deleted)", slicesOf(m))
		}
	}
}

func slicesOf(m map[audit.TileID]audit.Tile) []audit.TileID {
	var out []audit.TileID
	for id := range m {
		out = append(out, id)
	}
	return out
}
