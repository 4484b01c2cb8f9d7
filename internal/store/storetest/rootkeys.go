package storetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/rotate"
	"github.com/coffre/coffre/internal/store"
)

// wrappedUnder is a stand-in wrapped key: the KEK version, then bytes.
func wrappedUnder(v uint32, tail string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, v), tail...)
}

// rootKeys: versions round-trip and are replaced in place; wrapped keys
// page by seq, skip erased subjects and name each subject by its id; a
// rewrap changes a key only if it is still the one read; counts go by
// the version prefix of keys and operator secrets.
func rootKeys(t *testing.T, s store.Store) {
	view := func(fn func(context.Context, store.Tx) error) {
		t.Helper()
		if err := s.View(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	v1 := rotate.Version{Version: 1, Done: t0}
	v2 := rotate.Version{Version: 2, Sealed: []byte("sealed seed"), Created: t0.Add(time.Minute)}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutRootKey(ctx, v2); err != nil {
			return err
		}
		return tx.PutRootKey(ctx, v1)
	})
	v2.Cursor, v2.Rewrapped, v2.Done = 7, 3, t0.Add(time.Hour)
	v1.Retired = t0.Add(2 * time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutRootKey(ctx, v2); err != nil {
			return err
		}
		return tx.PutRootKey(ctx, v1)
	})
	view(func(ctx context.Context, tx store.Tx) error {
		rows, err := tx.RootKeys(ctx)
		if err != nil {
			return err
		}
		if len(rows) != 2 || rows[0].Version != 1 || rows[0].Sealed != nil || !rows[0].Retired.Equal(v1.Retired) ||
			rows[1].Version != 2 || !bytes.Equal(rows[1].Sealed, v2.Sealed) || !rows[1].Created.Equal(v2.Created) ||
			rows[1].Cursor != 7 || rows[1].Rewrapped != 3 || !rows[1].Done.Equal(v2.Done) || !rows[1].Retired.IsZero() {
			t.Fatalf("RootKeys = %+v", rows)
		}
		return nil
	})

	var ids []string
	if err := func() (err error) { ids, err = s.NewSubjectIDs(ctx, 3); return err }(); err != nil {
		t.Fatal(err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for i, id := range ids {
			r := newRow(id)
			r.DEK = wrappedUnder(uint32(1+i%2), id)
			if err := tx.PutSubject(ctx, r); err != nil {
				return err
			}
		}
		if err := tx.EraseSubject(ctx, ids[1], t0); err != nil {
			return err
		}
		for _, o := range []*identity.Operator{
			{ID: "op_1", Username: "alice", PasswordHash: "$argon2id$x", TOTPSecret: wrappedUnder(1, "a"), Role: "caseworker", Unit: "u1", Created: t0},
			{ID: "op_2", Username: "bob", PasswordHash: "$argon2id$x", Role: "caseworker", Unit: "u1", Created: t0},
		} {
			if err := tx.PutOperator(ctx, o); err != nil {
				return err
			}
		}
		return nil
	})
	var all []rotate.Wrapped
	view(func(ctx context.Context, tx store.Tx) error {
		for after := int64(0); ; {
			page, err := tx.WrappedKeys(ctx, after, 1)
			if err != nil || len(page) == 0 {
				return err
			}
			all = append(all, page...)
			after = page[len(page)-1].Seq
		}
	})
	if len(all) != 2 || all[0].Subject != ids[0] || all[1].Subject != ids[2] || all[0].Seq >= all[1].Seq ||
		!bytes.Equal(all[0].Key, wrappedUnder(1, ids[0])) {
		t.Fatalf("WrappedKeys pages = %+v, want %s and %s (the erased %s skipped)", all, ids[0], ids[2], ids[1])
	}
	counts := func() map[uint32]int64 {
		t.Helper()
		var c map[uint32]int64
		view(func(ctx context.Context, tx store.Tx) (err error) { c, err = tx.KeyVersions(ctx); return err })
		return c
	}
	if c := counts(); c[1] != 3 || len(c) != 1 {
		t.Fatalf("KeyVersions = %v, want 3 under version 1 (two keys, one secret)", c)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if ok, err := tx.RewrapKey(ctx, all[0].Seq, all[0].Key, wrappedUnder(2, "new")); !ok || err != nil {
			t.Fatalf("RewrapKey of the key read = %v, %v", ok, err)
		}
		if ok, err := tx.RewrapKey(ctx, all[0].Seq, all[0].Key, wrappedUnder(2, "again")); ok || err != nil {
			t.Fatalf("RewrapKey of a key changed since = %v, %v; want false", ok, err)
		}
		secrets, err := tx.WrappedSecrets(ctx)
		if err != nil || len(secrets) != 1 || secrets[0].Operator != "op_1" {
			t.Fatalf("WrappedSecrets = %+v, %v; want op_1's alone", secrets, err)
		}
		if ok, err := tx.RewrapSecret(ctx, "op_1", secrets[0].Sealed, wrappedUnder(2, "s")); !ok || err != nil {
			t.Fatalf("RewrapSecret = %v, %v", ok, err)
		}
		if ok, err := tx.RewrapSecret(ctx, "op_1", secrets[0].Sealed, wrappedUnder(2, "t")); ok || err != nil {
			t.Fatalf("RewrapSecret of a secret changed since = %v, %v; want false", ok, err)
		}
		return nil
	})
	if c := counts(); c[1] != 1 || c[2] != 2 || len(c) != 2 {
		t.Fatalf("KeyVersions after rewraps = %v, want 1 under version 1, 2 under version 2", c)
	}
	got, err := getSubject(t, s, ids[0])
	if err != nil || !bytes.Equal(got.DEK, wrappedUnder(2, "new")) || !bytes.Equal(got.Fields, []byte("sealed-"+ids[0])) {
		t.Fatalf("subject after rewrap = %+v, %v; want the new key and the same fields", got, err)
	}
}
