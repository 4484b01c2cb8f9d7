package auditlog_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// windowT0 is the time of the first entry of a windowLog.
var windowT0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// windowTime is entry seq's time in a windowLog: one entry a second, and
// every 50th entry timed 90 s early (sequenced after entries timed later,
// as a transaction that waited would be).
func windowTime(seq int64) time.Time {
	t := windowT0.Add(time.Duration(seq) * time.Second)
	if seq%50 == 0 {
		t = t.Add(-90 * time.Second)
	}
	return t
}

// windowLog makes a store of n entries timed by windowTime, of which the
// first signed ones are integrated by checkpoints of at most 700 entries,
// and returns it with the verifier key.
func windowLog(t *testing.T, n, signed int) (*sqlite.Store, string) {
	t.Helper()
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "coffre.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	seed := make([]byte, 32)
	rand.Read(seed)
	signer, err := audit.NewSigner(auditlog.Origin, seed)
	if err != nil {
		t.Fatal(err)
	}
	appendEntries := func(from, to int) {
		err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			for i := from; i <= to; i++ {
				e := &audit.Entry{Time: windowTime(int64(i)), Actor: fmt.Sprintf("op_%d", i%7), Action: "read",
					Subject: fmt.Sprintf("sub_%d", i%13), Purpose: "case-handling", Fields: []string{"given_name"}, Decision: "allow", Origin: "10.0.0.1"}
				if err := tx.AppendAudit(ctx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	appendEntries(1, signed)
	in := &auditlog.Integrator{Store: st, Signer: signer, MaxBatch: 700}
	for size := uint64(0); size < uint64(signed); {
		if size, err = in.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n > signed {
		appendEntries(signed+1, n)
	}
	return st, signer.VerifierKey()
}

func scanSeqs(t *testing.T, st store.Store, vkey string, from, to time.Time) ([]int64, *auditlog.WindowReport, error) {
	t.Helper()
	var got []int64
	rep, err := auditlog.ScanWindow(ctx, st, vkey, from, to, func(e *audit.Entry) error {
		got = append(got, e.Seq)
		return nil
	})
	return got, rep, err
}

func TestScanWindow(t *testing.T) {
	const n, signed = 3000, 2800
	st, vkey := windowLog(t, n, signed)
	at := func(s int64) time.Time { return windowT0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name     string
		from, to time.Time
	}{
		{"middle", at(1000), at(1200)},
		{"edges on entries", windowTime(1001), windowTime(1100)}, // from includes 1001, to excludes 1100
		{"edges on early entries", windowTime(1050), windowTime(1150)},
		{"one entry", at(1500), at(1501)},
		{"an early entry just inside", at(1960), at(2000)},  // 2000 is timed at 1910: in
		{"an early entry just outside", at(1911), at(1951)}, // 1950 is timed at 1860: out; 2000 at 1910: out
		{"from the start", at(-100), at(50)},
		{"up to now", at(2500), time.Time{}},
		{"beyond the checkpoint", at(2700), at(2900)},
		{"before every entry", at(-1000), at(-500)},
		{"after every entry", at(5000), at(6000)},
		{"whole log", at(-10), at(10_000)},
		{"between two entries", at(1200).Add(time.Millisecond), at(1200).Add(500 * time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rep, err := scanSeqs(t, st, vkey, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			var want []int64 // an independent count: every signed entry's time
			for s := int64(1); s <= signed; s++ {
				if tm := windowTime(s); !tm.Before(tt.from) && (tt.to.IsZero() || tm.Before(tt.to)) {
					want = append(want, s)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("ScanWindow(%s, %s) gave %d entries %v…; want %d %v…", tt.from, tt.to, len(got), head(got), len(want), head(want))
			}
			if rep.Size != signed || rep.Unintegrated != n-signed || rep.InWindow != int64(len(want)) || rep.Scanned != rep.Last-rep.First+1 {
				t.Fatalf("report %+v; want size %d, %d unintegrated, %d in the window", rep, signed, n-signed, len(want))
			}
			// A few minutes' entries each side, not the log.
			if span := tt.to.Sub(tt.from); !tt.to.IsZero() && span < time.Hour && rep.Scanned > int64(span/time.Second)+2*int64(auditlog.WindowMargin/time.Second)+4 {
				t.Fatalf("scanned %d entries (%d…%d) for a window of %s", rep.Scanned, rep.First, rep.Last, span)
			}
			if rep.Probes > 2*12 {
				t.Fatalf("%d probes to find the range in %d entries", rep.Probes, signed)
			}
		})
	}
}

func head(s []int64) []int64 { return s[:min(len(s), 5)] }

func TestScanWindowNoCheckpoint(t *testing.T) {
	st, vkey := windowLog(t, 10, 0)
	if _, _, err := scanSeqs(t, st, vkey, windowT0, windowT0.Add(time.Hour)); !errors.Is(err, auditlog.ErrNoCheckpoint) {
		t.Fatalf("ScanWindow of a log with no checkpoint = %v; want ErrNoCheckpoint", err)
	}
}

func TestScanWindowWrongKey(t *testing.T) {
	st, _ := windowLog(t, 100, 100)
	other, _ := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{1}, 32))
	if _, _, err := scanSeqs(t, st, other.VerifierKey(), windowT0, windowT0.Add(time.Hour)); !errors.Is(err, audit.ErrBadCheckpoint) {
		t.Fatalf("ScanWindow under another key = %v; want ErrBadCheckpoint", err)
	}
}

// TestScanWindowTampered edits the log as an insider would and expects
// the window's scan to name the first bad entry, or to pass when the edit
// is outside the window (which it does not read).
func TestScanWindowTampered(t *testing.T) {
	at := func(s int64) time.Time { return windowT0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name  string
		edit  func(t *testing.T, st *sqlite.Store)
		index uint64 // 0: the scan passes
	}{
		{"leaf in the window", sqlEdit(`UPDATE audit SET leaf = audit_set(leaf, 'subject', 'sub_other') WHERE seq = 1100`), 1099},
		{"first entry of the window", sqlEdit(`UPDATE audit SET leaf = audit_set(leaf, 'reason', 'x') WHERE seq = 1000`), 999},
		{"boundary entry before the window", sqlEdit(`UPDATE audit SET leaf = audit_set(leaf, 'reason', 'x') WHERE seq = 700`), 699}, // timed 610 s: the last before from − 5 min
		{"deleted in the window", sqlEdit(`DELETE FROM audit WHERE seq = 1234`), 1233},
		{"time moved out of the window", sqlEdit(`UPDATE audit SET leaf = audit_leaf(1111, 0, 'op_1', 'read', 'sub_1', 'case-handling', '', 'given_name', 'allow', '10.0.0.1') WHERE seq = 1111`), 1110},
		{"outside the window", sqlEdit(`UPDATE audit SET leaf = audit_set(leaf, 'reason', 'x') WHERE seq = 2500`), 0},
		{"leaf and its tile hash", func(t *testing.T, st *sqlite.Store) {
			sqlEdit(`UPDATE audit SET leaf = audit_set(leaf, 'reason', 'x') WHERE seq = 1050`)(t, st)
			// The tree's stored leaf hash rewritten to match: the tiles
			// no longer say which, the checkpoint's leaves do.
			err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				var leaf []byte
				if err := tx.AuditLeaves(ctx, 1050, 1051, func(_ int64, l []byte) error { leaf = bytes.Clone(l); return nil }); err != nil {
					return err
				}
				id := audit.TileID{Level: 0, Index: 1049 / audit.TileWidth}
				tiles, err := tx.GetTiles(ctx, []audit.TileID{id})
				if err != nil {
					return err
				}
				tile := tiles[id]
				copy(tile.Hashes[(1049%audit.TileWidth)*32:], audit.Hasher.HashLeaf(leaf))
				return tx.PutTiles(ctx, []audit.Tile{tile})
			})
			if err != nil {
				t.Fatal(err)
			}
		}, 1049},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, vkey := windowLog(t, 2000, 2000)
			tt.edit(t, st)
			_, rep, err := scanSeqs(t, st, vkey, at(1000), at(1600))
			var te *auditlog.TamperError
			switch {
			case tt.index == 0 && err != nil:
				t.Fatalf("ScanWindow = %v; want no error (the edit is outside the window)", err)
			case tt.index == 0:
				if rep.Last >= 2500 {
					t.Fatalf("the scan read up to entry %d", rep.Last)
				}
			case !errors.As(err, &te) || te.Index != tt.index:
				t.Fatalf("ScanWindow = %v; want a TamperError at index %d", err, tt.index)
			}
		})
	}
}

// TestScanWindowBadTiles alters a stored tree node beside the window: the
// entries are intact (a full verification passes), the tiles are not.
func TestScanWindowBadTiles(t *testing.T) {
	st, vkey := windowLog(t, 2000, 2000)
	sqlEdit(`UPDATE tiles SET hashes = zeroblob(length(hashes)) WHERE level = 1`)(t, st)
	at := func(s int64) time.Time { return windowT0.Add(time.Duration(s) * time.Second) }
	if _, _, err := scanSeqs(t, st, vkey, at(1000), at(1100)); !errors.Is(err, auditlog.ErrBadTiles) {
		t.Fatalf("ScanWindow with a damaged tile = %v; want ErrBadTiles", err)
	}
}

func sqlEdit(q string) func(t *testing.T, st *sqlite.Store) {
	return func(t *testing.T, st *sqlite.Store) {
		t.Helper()
		if err := st.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
