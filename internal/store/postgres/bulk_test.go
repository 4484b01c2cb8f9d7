package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/storetest"
	"github.com/coffre/coffre/internal/subject"
)

// tableRows returns the rows of a table as text, in key order, for
// comparing two schemas' tables.
func tableRows(t *testing.T, s *Store, sql string) []string {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		v, err := r.Values()
		return fmt.Sprint(v), err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// bulkRows makes n subject rows with sequence ids, and one with an id
// given from elsewhere, with values that a wrong byte order, length or
// NULL would change: empty and large fields, a nil DEK, a multi-byte unit.
func bulkRows(t *testing.T, s *Store, n int) []*subject.Row {
	t.Helper()
	ids, err := s.NewSubjectIDs(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 30, 16, 0, 0, 123456000, time.UTC)
	var rows []*subject.Row
	for i, id := range append(ids, "sub_given_elsewhere") {
		rows = append(rows, &subject.Row{ID: id, Unit: fmt.Sprintf("unité-%d", i%3), DEK: bytes.Repeat([]byte{byte(i)}, 40),
			DEKVersion: uint32(1<<31 + i), Fields: bytes.Repeat([]byte{0xff, byte(i)}, i*97%5000),
			Created: t0.Add(time.Duration(i) * time.Second), Updated: t0.Add(-time.Duration(i) * time.Hour)})
	}
	rows[1].DEK, rows[2].Fields = nil, []byte{}
	return rows
}

// TestBulkSameRowsAsOneByOne: the COPY of PutSubjects and PutIndexes
// writes the same rows, column for column, as the one-row methods do.
func TestBulkSameRowsAsOneByOne(t *testing.T) {
	ctx := context.Background()
	one, bulk := openTest(t), openTest(t)
	// The same ids in both schemas: the codec is the tests' one, and
	// both counters start at 0.
	rows, same := bulkRows(t, one, 300), bulkRows(t, bulk, 300)
	for i := range rows {
		if rows[i].ID != same[i].ID {
			t.Fatalf("row %d: ids %s and %s differ", i, rows[i].ID, same[i].ID)
		}
	}
	var hashes [][]byte
	var owners []string
	for i, r := range rows[:len(rows)-1] { // PutIndexes takes sequence ids, the other goes one by one
		hashes, owners = append(hashes, storetest.Hash(fmt.Sprintf("hash-%05d", i)), storetest.Hash(strings.Repeat("h", i%40)+fmt.Sprint(i))), append(owners, r.ID, r.ID)
	}
	err := one.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, r := range rows {
			if err := tx.PutSubject(ctx, r); err != nil {
				return err
			}
		}
		for i := range hashes {
			if err := tx.PutIndex(ctx, 7, hashes[i], owners[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = bulk.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		b := tx.(subject.Bulk)
		if err := b.PutSubjects(ctx, rows); err != nil {
			return err
		}
		return b.PutIndexes(ctx, 7, hashes, owners)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`SELECT seq, id, unit, dek, dek_version, fields, created, updated, erased, canary, dek IS NULL, fields IS NULL FROM subjects ORDER BY seq`,
		`SELECT hash, subject, gen FROM lookup ORDER BY hash`,
		`SELECT last FROM subject_counter`,
	} {
		want, got := tableRows(t, one, sql), tableRows(t, bulk, sql)
		if len(want) == 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n bulk %.300q\n one  %.300q", sql, got, want)
		}
	}
}

// TestBulkFailureWritesNothing: a batch whose transaction fails after its
// COPYs, or in the middle of them (a taken id), leaves no row of it; a
// PutIndexes that meets a taken hash leaves the transaction usable and
// writes none of its entries.
func TestBulkFailureWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	rows := bulkRows(t, s, 50)
	var hashes [][]byte
	var owners []string
	for i, r := range rows[:len(rows)-1] {
		hashes, owners = append(hashes, storetest.Hash(fmt.Sprintf("h%03d", i))), append(owners, r.ID)
	}
	count := func() string {
		return strings.Join(tableRows(t, s, `SELECT (SELECT count(*) FROM subjects), (SELECT count(*) FROM lookup)`), "")
	}
	boom := errors.New("boom")
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		b := tx.(subject.Bulk)
		if err := b.PutIndexes(ctx, 1, hashes, owners); err != nil {
			return err
		}
		if err := b.PutSubjects(ctx, rows); err != nil {
			return err
		}
		return boom // e.g. the audit entry could not be appended
	})
	if !errors.Is(err, boom) || count() != "[0 0]" {
		t.Fatalf("failed after the COPYs: %v, (subjects lookup) = %s; want boom, [0 0]", err, count())
	}
	// A taken id in the middle of the COPY fails it, and the batch.
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, rows[25]) }); err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		b := tx.(subject.Bulk)
		if err := b.PutIndexes(ctx, 1, hashes, owners); err != nil {
			return err
		}
		return b.PutSubjects(ctx, rows)
	})
	if !errors.Is(err, store.ErrConflict) || count() != "[1 0]" {
		t.Fatalf("a taken id: %v, (subjects lookup) = %s; want ErrConflict, [1 0]", err, count())
	}
	// A taken hash at the end: none of the entries, and the transaction
	// goes on.
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutIndex(ctx, 1, hashes[40], rows[25].ID); err != nil {
			return err
		}
		b := tx.(subject.Bulk)
		if err := b.PutIndexes(ctx, 1, hashes[:41], owners[:41]); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("PutIndexes over a taken hash: %v, want ErrConflict", err)
		}
		return tx.PutIndex(ctx, 1, hashes[0], rows[25].ID)
	})
	if err != nil || count() != "[1 2]" {
		t.Fatalf("a taken hash: %v, (subjects lookup) = %s; want nil, [1 2]", err, count())
	}
}
