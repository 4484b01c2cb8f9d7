package vault_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestEraseKeylessPages: a restore that leaves more keyless records than
// a page of the search (500) has them all erased, across pages, each
// audited once, their index entries gone and the keyed records' kept; a
// second run finds nothing.
func TestEraseKeylessPages(t *testing.T) {
	v, fs := newVault(t)
	const people, keyed = 1100, 50
	ids := importPeople(t, v, people)
	// What a restore leaves when the key backup lacks a record's key: the
	// first keyed records keep theirs.
	if err := fs.Store.(*sqlite.Store).Exec(ctx, fmt.Sprintf(`UPDATE subjects SET dek = NULL WHERE seq NOT IN (SELECT seq FROM subjects ORDER BY seq LIMIT %d)`, keyed)); err != nil {
		t.Fatal(err)
	}
	before := len(auditEntries(t, fs))
	n, err := v.EraseKeyless(ctx)
	if err != nil || n != people-keyed {
		t.Fatalf("EraseKeyless = %d, %v; want %d", n, err, people-keyed)
	}
	erasures := 0
	for _, e := range auditEntries(t, fs)[before:] {
		if e.Action == "erase" && e.Actor == "system" && e.Reason == vault.KeylessReason {
			erasures++
		}
	}
	if erasures != people-keyed {
		t.Errorf("%d erasures audited; want %d", erasures, people-keyed)
	}
	for _, i := range []int{0, keyed - 1, keyed, 600, people - 1} {
		got, err := v.Lookup(ctx, hr, "directory", "", "email_pro", synth.Make(9, i).Fields["email_pro"])
		switch {
		case i < keyed && (err != nil || got != ids[i]):
			t.Errorf("lookup of keyed record %d = %q, %v; want %s", i, got, err, ids[i])
		case i >= keyed && !errors.Is(err, store.ErrNotFound):
			t.Errorf("lookup of erased record %d = %q, %v; want not found", i, got, err)
		}
	}
	if n, err := v.EraseKeyless(ctx); err != nil || n != 0 {
		t.Errorf("a second EraseKeyless = %d, %v; want 0", n, err)
	}
}

// importPeople imports n synthetic people into unit u1 and returns their
// ids.
func importPeople(t testing.TB, v *vault.Vault, n int) []string {
	t.Helper()
	var ids []string
	for from := 0; from < n; from += 20000 {
		rows := make([]vault.ImportRow, min(20000, n-from))
		for i := range rows {
			p := synth.Make(9, from+i)
			rows[i] = vault.ImportRow{Num: from + i + 1, Unit: "u1", Fields: p.Fields}
		}
		got, failed, err := v.Import(ctx, identity.Actor{ID: "op_host", Role: "admin"}, rows)
		if err != nil || len(failed) > 0 {
			t.Fatalf("import: %v, %v", failed, err)
		}
		ids = append(ids, got...)
	}
	return ids
}

// BenchmarkEraseKeyless times EraseKeyless on a restore of 100,000 people
// of whom one in ten lost their key (10,000 keyless records, 20 pages):
// go test ./internal/vault -run '^$' -bench EraseKeyless -benchtime 1x.
func BenchmarkEraseKeyless(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		v, fs := newVault(b)
		importPeople(b, v, 100000)
		if err := fs.Store.(*sqlite.Store).Exec(ctx, `UPDATE subjects SET dek = NULL WHERE seq % 10 = 0`); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if n, err := v.EraseKeyless(ctx); err != nil || n != 10000 {
			b.Fatalf("EraseKeyless = %d, %v", n, err)
		}
	}
}
