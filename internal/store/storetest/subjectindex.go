package storetest

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
)

// subjectIndex: the per-subject list gives each subject's head and its
// entries newest first, bounded by an index size; a (subject, seq) stored
// below the signed size is a conflict and the batch leaves nothing, one
// written ahead of it (a step that did not reach its checkpoint) is
// replaced; index tiles are apart from the log's; a checkpoint keeps its
// index head and range, and one without an index reads back without.
func subjectIndex(t *testing.T, s store.Store) {
	h := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	entries := []audit.IndexEntry{
		{Subject: "sub_a", Seq: 2, Pos: 0, Prev: 0},
		{Subject: "sub_b", Seq: 3, Pos: 1, Prev: 0},
		{Subject: "sub_a", Seq: 5, Pos: 2, Prev: 2},
		{Subject: "sub_a", Seq: 9, Pos: 3, Prev: 5},
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSubjectIndex(ctx, 0, entries) })
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutSubjectIndex(ctx, 4, []audit.IndexEntry{{Subject: "sub_c", Seq: 10, Pos: 4}, {Subject: "sub_a", Seq: 5, Pos: 5, Prev: 9}})
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("PutSubjectIndex of a (subject, seq) stored below the signed size: %v, want ErrConflict", err)
	}
	// Rows written ahead of a checkpoint that did not commit (one of them
	// wrong), then written again by the next step.
	ahead := []audit.IndexEntry{{Subject: "sub_a", Seq: 11, Pos: 4, Prev: 2}, {Subject: "sub_d", Seq: 12, Pos: 5, Prev: 0}}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSubjectIndex(ctx, 4, ahead) })
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		heads, err := tx.SubjectHeads(ctx, 4, []string{"sub_a", "sub_b", "sub_c", "sub_d", "sub_none"})
		if want := map[string]int64{"sub_a": 9, "sub_b": 3}; err != nil || !reflect.DeepEqual(heads, want) {
			t.Fatalf("SubjectHeads(size 4) got %v, %v; want %v (the rows beyond the size ignored)", heads, err, want)
		}
		got, err := tx.SubjectIndex(ctx, "sub_a", 4, 10)
		if want := []audit.IndexEntry{entries[3], entries[2], entries[0]}; err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("SubjectIndex(sub_a, size 4) got %+v, %v; want %+v", got, err, want)
		}
		got, err = tx.SubjectIndex(ctx, "sub_a", 3, 1) // an index of 3 leaves holds Pos 0…2
		if want := []audit.IndexEntry{entries[2]}; err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("SubjectIndex(sub_a, size 3, limit 1) got %+v, %v; want %+v", got, err, want)
		}
		if got, err := tx.SubjectIndex(ctx, "sub_none", 100, 10); err != nil || len(got) != 0 {
			t.Fatalf("SubjectIndex(sub_none) = %v, %v", got, err)
		}
		return nil
	})
	ahead[0].Prev = 9
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSubjectIndex(ctx, 4, ahead) })
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		heads, err := tx.SubjectHeads(ctx, 6, []string{"sub_a", "sub_d"})
		if want := map[string]int64{"sub_a": 11, "sub_d": 12}; err != nil || !reflect.DeepEqual(heads, want) {
			t.Fatalf("SubjectHeads(size 6) got %v, %v; want %v", heads, err, want)
		}
		got, err := tx.SubjectIndex(ctx, "sub_a", 6, 2)
		if want := []audit.IndexEntry{ahead[0], entries[3]}; err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("SubjectIndex(sub_a, size 6) got %+v, %v; want %+v (the row written ahead replaced)", got, err, want)
		}
		return nil
	})
	id := audit.TileID{Level: 0, Index: 0}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutTiles(ctx, []audit.Tile{{ID: id, Hashes: h(1)}}); err != nil {
			return err
		}
		if err := tx.PutIndexTiles(ctx, []audit.Tile{{ID: id, Hashes: h(2)}}); err != nil {
			return err
		}
		return tx.PutIndexTiles(ctx, []audit.Tile{{ID: id, Hashes: append(h(2), h(3)...)}}) // a partial tile grows
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		log, err1 := tx.GetTiles(ctx, []audit.TileID{id})
		index, err2 := tx.GetIndexTiles(ctx, []audit.TileID{id, {Level: 1, Index: 0}})
		if err1 != nil || err2 != nil || !bytes.Equal(log[id].Hashes, h(1)) || len(index) != 1 || !bytes.Equal(index[id].Hashes, append(h(2), h(3)...)) {
			t.Fatalf("tiles: log %v, %v; index %v, %v", log, err1, index, err2)
		}
		return nil
	})
	old := &audit.StoredCheckpoint{Size: 1, Root: h(1), Note: []byte("n1"), Range: [][]byte{h(1)}, Created: t0}
	cp := &audit.StoredCheckpoint{Size: 4, Root: h(4), Note: []byte("n4"), Range: [][]byte{h(4)}, Created: t0,
		Index: &audit.IndexHead{From: 2, Size: 3, Root: h(5)}, IndexRange: [][]byte{h(6), h(7)}}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutCheckpoint(ctx, old); err != nil {
			return err
		}
		return tx.PutCheckpoint(ctx, cp)
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.LatestCheckpoint(ctx)
		if err != nil || c.Index == nil || c.Index.From != 2 || c.Index.Size != 3 || !bytes.Equal(c.Index.Root, h(5)) ||
			len(c.IndexRange) != 2 || !bytes.Equal(c.IndexRange[1], h(7)) {
			t.Fatalf("LatestCheckpoint = %+v, %v; want its index head and range", c, err)
		}
		cs, err := tx.CheckpointsAfter(ctx, 0, 10)
		if err != nil || len(cs) != 2 || cs[0].Index != nil || cs[0].IndexRange != nil || cs[1].Index == nil {
			t.Fatalf("CheckpointsAfter(0) = %+v, %v; want the first without an index", cs, err)
		}
		return nil
	})
}
