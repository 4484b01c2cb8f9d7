package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/reindex"
	"github.com/coffre/coffre/internal/store"
)

// blindKeys: generations round-trip and are replaced in place; live
// subjects page by seq and skip erased ones; entries of two generations
// live side by side, each found by its hash; AddIndexes adds only to a
// subject whose fields are still the ones read, skipping entries there
// already; DropIndexes deletes one generation's entries, in batches;
// IndexGens counts by generation.
func blindKeys(t *testing.T, s store.Store) {
	view := func(fn func(context.Context, store.Tx) error) {
		t.Helper()
		if err := s.View(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	g1 := reindex.Gen{Gen: 1, State: reindex.StateActive}
	g2 := reindex.Gen{Gen: 2, Sealed: []byte("sealed key"), State: reindex.StateBuilding, Created: t0, Changed: t0}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutBlindKey(ctx, g2); err != nil {
			return err
		}
		return tx.PutBlindKey(ctx, g1)
	})
	g2.State, g2.Changed, g2.Cursor, g2.Added, g2.Done = reindex.StateActive, t0.Add(time.Hour), 9, 4, t0.Add(time.Hour)
	g1.State, g1.Changed = reindex.StateRetiring, t0.Add(time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutBlindKey(ctx, g2); err != nil {
			return err
		}
		return tx.PutBlindKey(ctx, g1)
	})
	view(func(ctx context.Context, tx store.Tx) error {
		rows, err := tx.BlindKeys(ctx)
		if err != nil {
			return err
		}
		if len(rows) != 2 || rows[0].Gen != 1 || rows[0].Sealed != nil || rows[0].State != reindex.StateRetiring || !rows[0].Changed.Equal(g1.Changed) ||
			rows[1].Gen != 2 || !bytes.Equal(rows[1].Sealed, g2.Sealed) || rows[1].State != reindex.StateActive || !rows[1].Created.Equal(t0) ||
			rows[1].Cursor != 9 || rows[1].Added != 4 || !rows[1].Done.Equal(g2.Done) {
			t.Fatalf("BlindKeys = %+v", rows)
		}
		return nil
	})

	ids, err := s.NewSubjectIDs(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range ids {
			if err := tx.PutSubject(ctx, newRow(id)); err != nil {
				return err
			}
			if err := tx.PutIndex(ctx, 1, Hash("gen1:"+id), id); err != nil {
				return err
			}
		}
		return tx.EraseSubject(ctx, ids[1], t0)
	})
	var live []int64
	view(func(ctx context.Context, tx store.Tx) error {
		for after := int64(0); ; {
			rows, err := tx.LiveSubjects(ctx, after, 1)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				return nil
			}
			r := rows[0]
			if r.ID != ids[0] && r.ID != ids[2] || len(r.DEK) == 0 || len(r.Fields) == 0 {
				t.Fatalf("LiveSubjects: %s, dek %d bytes, fields %d bytes", r.ID, len(r.DEK), len(r.Fields))
			}
			live, after = append(live, r.Seq), r.Seq
		}
	})
	if len(live) != 2 {
		t.Fatalf("LiveSubjects: %d live subjects, want 2", len(live))
	}
	fields := newRow(ids[0]).Fields
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		n, ok, err := tx.AddIndexes(ctx, 2, live[0], fields, [][]byte{Hash("gen2:a"), Hash("gen2:b")})
		if err != nil || !ok || n != 2 {
			t.Fatalf("AddIndexes = %d, %v, %v; want 2, true", n, ok, err)
		}
		if n, ok, err = tx.AddIndexes(ctx, 2, live[0], fields, [][]byte{Hash("gen2:a"), Hash("gen2:c")}); err != nil || !ok || n != 1 {
			t.Fatalf("AddIndexes again = %d, %v, %v; want 1 (one there already), true", n, ok, err)
		}
		if n, ok, err = tx.AddIndexes(ctx, 2, live[0], []byte("other fields"), [][]byte{Hash("gen2:x")}); err != nil || ok || n != 0 {
			t.Fatalf("AddIndexes on changed fields = %d, %v, %v; want 0, false", n, ok, err)
		}
		erased, err := tx.GetSubject(ctx, ids[1])
		if err != nil {
			return err
		}
		if n, ok, err = tx.AddIndexes(ctx, 2, erased.Seq, newRow(ids[1]).Fields, [][]byte{Hash("gen2:x")}); err != nil || ok || n != 0 {
			t.Fatalf("AddIndexes on an erased subject = %d, %v, %v; want 0, false", n, ok, err)
		}
		return nil
	})
	view(func(ctx context.Context, tx store.Tx) error {
		for h, want := range map[string]string{"gen1:" + ids[0]: ids[0], "gen2:a": ids[0], "gen2:c": ids[0]} {
			if got, err := tx.LookupIndex(ctx, Hash(h)); err != nil || got != want {
				t.Fatalf("LookupIndex(%s) = %s, %v; want %s", h, got, err, want)
			}
		}
		if _, err := tx.LookupIndex(ctx, Hash("gen2:x")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an entry of changed fields was added: %v", err)
		}
		counts, err := tx.IndexGens(ctx)
		if err != nil {
			return err
		}
		if len(counts) != 2 || counts[1] != 3 || counts[2] != 3 {
			t.Fatalf("IndexGens = %v, want 1: 3, 2: 3", counts)
		}
		return nil
	})
	var dropped []int64
	for {
		var n int64
		update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
			n, err = tx.DropIndexes(ctx, 1, 2)
			return err
		})
		if n == 0 {
			break
		}
		dropped = append(dropped, n)
	}
	if len(dropped) != 2 || dropped[0] != 2 || dropped[1] != 1 {
		t.Fatalf("DropIndexes by 2: %v, want [2 1]", dropped)
	}
	view(func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.LookupIndex(ctx, Hash("gen1:"+ids[0])); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a dropped generation's entry is found: %v", err)
		}
		if got, err := tx.LookupIndex(ctx, Hash("gen2:a")); err != nil || got != ids[0] {
			t.Fatalf("the other generation lost an entry: %s, %v", got, err)
		}
		counts, err := tx.IndexGens(ctx)
		if err != nil {
			return err
		}
		if len(counts) != 1 || counts[2] != 3 {
			t.Fatalf("IndexGens after the drop = %v, want 2: 3", counts)
		}
		return nil
	})
}
