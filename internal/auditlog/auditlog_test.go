package auditlog_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest" // audit_set, audit_leaf

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/httpapi"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
	"github.com/transparency-dev/merkle/proof"
)

var ctx = context.Background()

// newLog makes a store holding 50 audit entries (an import, then reads
// and lookups) integrated by three checkpoints (sizes 20, 40 and 50), and
// returns the database path and the verifier key.
func newLog(t *testing.T) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "coffre.db")
	st, err := sqlitetemplate.Open(ctx, path, sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg, _ := config.Demo(nil)
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	keys, _ := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	signSeed := make([]byte, 32)
	rand.Read(signSeed)
	signer, err := audit.NewSigner(auditlog.Origin, signSeed)
	if err != nil {
		t.Fatal(err)
	}
	v := vault.New(vault.Config{Store: st, Keys: keys, Policy: cfg.Policy})
	var rows []vault.ImportRow
	for i := range 10 {
		p := synth.Make(2, i)
		rows = append(rows, vault.ImportRow{Num: i + 1, Unit: p.Unit, Fields: p.Fields})
	}
	ids, _, err := v.Import(ctx, identity.Actor{ID: "op_hr", Role: "hr-officer"}, rows)
	if err != nil {
		t.Fatal(err)
	}
	in := &auditlog.Integrator{Store: st, Signer: signer}
	worker := identity.Actor{ID: "op_cw", Role: "caseworker", Origin: "127.0.0.1"}
	for n := 1; n < 50; n++ {
		if n%3 == 0 {
			v.Lookup(ctx, worker, "directory", "", "email_pro", rows[n%10].Fields["email_pro"])
		} else if _, err := v.Read(ctx, worker, ids[n%10], "case-handling", "ticket"); err != nil {
			t.Fatal(err)
		}
		if n+1 == 20 || n+1 == 40 || n+1 == 50 {
			if size, err := in.Step(ctx); err != nil || size != uint64(n+1) {
				t.Fatalf("Step = %d, %v; want %d", size, err, n+1)
			}
		}
	}
	signers.Store(path, signer)
	return path, signer.VerifierKey()
}

// signers remembers each test log's signer, by database path.
var signers sync.Map

func signerFor(t *testing.T, path string) *audit.Signer {
	t.Helper()
	s, ok := signers.Load(path)
	if !ok {
		t.Fatalf("no signer for %s", path)
	}
	return s.(*audit.Signer)
}

// openStore opens the log at path until the test ends.
func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlitetemplate.Open(ctx, path, sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func verify(t *testing.T, path, vkey string) (*auditlog.Report, error) {
	t.Helper()
	st, err := sqlitetemplate.Open(ctx, path, sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close() // closed at once: some tests edit the file next
	return auditlog.Verify(ctx, st, vkey)
}

func TestUntouchedLogVerifies(t *testing.T) {
	path, vkey := newLog(t)
	rep, err := verify(t, path, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 50 || rep.Checkpoints != 3 || rep.Size != 50 || rep.Unintegrated != 0 {
		t.Fatalf("report %+v", rep)
	}
	other, _ := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{1}, 32))
	var te *auditlog.TamperError
	if _, err := verify(t, path, other.VerifierKey()); !errors.As(err, &te) || te.Index != 0 {
		t.Fatalf("verify with another key = %v; want a bad signature at index 0", err)
	}
}

// TestTampering edits the SQLite file directly, as an insider with
// database access would, and expects Verify to name the first bad index.
func TestTampering(t *testing.T) {
	const forged = `INSERT INTO audit (seq, leaf)
		VALUES (%[1]d, audit_leaf(%[1]d, 0, 'op_cw', 'read', 'sub_x', 'directory', '', 'given_name', 'allow', '127.0.0.1'))`
	tests := []struct {
		name  string
		sql   []string
		index uint64
	}{
		{"delete", []string{`DELETE FROM audit WHERE seq = 12`}, 11},
		{"modify", []string{`UPDATE audit SET leaf = audit_set(leaf, 'subject', 'sub_someoneelse') WHERE seq = 25`}, 24},
		{"modify reason", []string{`UPDATE audit SET leaf = audit_set(leaf, 'reason', 'ticket 2') WHERE seq = 7`}, 6},
		{"reorder", []string{
			`UPDATE audit SET seq = -1 WHERE seq = 30`,
			`UPDATE audit SET seq = 30 WHERE seq = 31`,
			`UPDATE audit SET seq = 31 WHERE seq = -1`,
		}, 29},
		{"insert", []string{
			`UPDATE audit SET seq = seq + 1000 WHERE seq >= 15`,
			`UPDATE audit SET seq = seq - 999 WHERE seq >= 1000`,
			fmt.Sprintf(forged, 15),
		}, 14},
		{"truncate", []string{`DELETE FROM audit WHERE seq > 44`}, 44},
		{"truncate then append", []string{
			`DELETE FROM audit WHERE seq > 35`,
			fmt.Sprintf(forged, 36), fmt.Sprintf(forged, 37), fmt.Sprintf(forged, 38),
		}, 35},
		{"tail cut to one forged entry", []string{
			`DELETE FROM audit WHERE seq > 45`,
			fmt.Sprintf(forged, 46),
		}, 45},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, vkey := newLog(t)
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range tt.sql {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db.Close()
			_, err = verify(t, path, vkey)
			var te *auditlog.TamperError
			if !errors.As(err, &te) || te.Index != tt.index {
				t.Fatalf("Verify = %v; want a TamperError at index %d", err, tt.index)
			}
		})
	}
}

func TestStepIsIncremental(t *testing.T) {
	path, vkey := newLog(t)
	st := openStore(t, path)
	var cps []audit.StoredCheckpoint
	st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		cps, err = tx.CheckpointsAfter(ctx, 0, 10)
		return err
	})
	if len(cps) != 3 || len(cps[1].Leaves) != 20*32 || len(cps[2].Leaves) != 10*32 {
		t.Fatalf("checkpoints %d, leaves per checkpoint %d/%d; want each to record only its new leaves", len(cps), len(cps[1].Leaves), len(cps[2].Leaves))
	}
	for _, c := range cps {
		if _, err := audit.Open(c.Note, vkey); err != nil {
			t.Fatalf("checkpoint %d: %v", c.Size, err)
		}
	}
}

func TestProofs(t *testing.T) {
	path, vkey := newLog(t)
	st := openStore(t, path)
	var cps []audit.StoredCheckpoint
	var entries []audit.Entry
	st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		cps, _ = tx.CheckpointsAfter(ctx, 0, 10)
		var err error
		entries, err = tx.AuditEntries(ctx, 1, 100, 100)
		return err
	})
	for _, c := range cps {
		cp, err := audit.Open(c.Note, vkey)
		if err != nil {
			t.Fatal(err)
		}
		for i := uint64(0); i < cp.Size; i++ {
			p, err := auditlog.InclusionProof(ctx, st, i, cp.Size)
			if err != nil {
				t.Fatalf("inclusion %d/%d: %v", i, cp.Size, err)
			}
			if err := proof.VerifyInclusion(audit.Hasher, i, cp.Size, audit.LeafHash(&entries[i]), p, cp.Root); err != nil {
				t.Fatalf("inclusion %d/%d does not verify: %v", i, cp.Size, err)
			}
		}
	}
	p, err := auditlog.ConsistencyProof(ctx, st, 20, 50)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(audit.Hasher, 20, 50, p, cps[0].Root, cps[2].Root); err != nil {
		t.Fatalf("consistency 20→50: %v", err)
	}
	if _, err := auditlog.InclusionProof(ctx, st, 3, 51); !errors.Is(err, auditlog.ErrBeyondCheckpoint) {
		t.Fatalf("proof beyond the checkpoint: %v", err)
	}
}

// serve opens the log at path and serves its checkpoint and proofs.
func serve(t *testing.T, path string) (*sqlite.Store, *httptest.Server) {
	t.Helper()
	st := openStore(t, path)
	srv := httptest.NewServer((&httpapi.Server{Checkpoints: st}).Handler())
	t.Cleanup(srv.Close)
	return st, srv
}

// grow appends n entries and integrates them with the log's own key.
func grow(t *testing.T, st *sqlite.Store, n int, signer *audit.Signer) {
	t.Helper()
	for range n {
		e := &audit.Entry{Actor: "op_x", Action: "read", Subject: "sub_y", Decision: "allow"}
		if err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := (&auditlog.Integrator{Store: st, Signer: signer}).Step(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRemoteVerifier(t *testing.T) {
	tests := []struct {
		name   string
		attack []string // SQL run after the first verification
		grow   int      // entries added (and integrated) after the attack
		want   error
	}{
		{"honest growth", nil, 5, nil},
		{"rollback", []string{`DELETE FROM audit WHERE seq > 40`, `DELETE FROM checkpoints WHERE size > 40`}, 0, auditlog.ErrNotAppendOnly},
		{"fork at the same size", []string{`UPDATE audit SET leaf = audit_set(leaf, 'reason', 'rewritten') WHERE seq = 30`, `DELETE FROM checkpoints WHERE size > 20`}, 0, auditlog.ErrNotAppendOnly},
		{"fork that grew", []string{`DELETE FROM audit WHERE seq > 44`, `DELETE FROM checkpoints WHERE size > 40`}, 12, auditlog.ErrNotAppendOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, vkey := newLog(t)
			st, srv := serve(t, path)
			state := filepath.Join(t.TempDir(), "state")
			rep, err := auditlog.RemoteVerify(ctx, srv.Client(), srv.URL, vkey, state)
			if err != nil || rep.Size != 50 || rep.Previous != 0 {
				t.Fatalf("first run: %+v, %v", rep, err)
			}
			for _, q := range tt.attack {
				if err := st.Exec(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			if len(tt.attack) > 0 {
				// The attacker re-integrates the rewritten log with the
				// log's own key (an insider holding the root key).
				grow(t, st, 0, signerFor(t, path))
			}
			if tt.grow > 0 {
				grow(t, st, tt.grow, signerFor(t, path))
			}
			rep, err = auditlog.RemoteVerify(ctx, srv.Client(), srv.URL, vkey, state)
			if !errors.Is(err, tt.want) {
				t.Fatalf("second run: %+v, %v; want %v", rep, err, tt.want)
			}
		})
	}
}

// TestWitness runs a witness in-process: it follows an honest log through
// several checkpoints, and refuses a checkpoint from a rewritten history
// even when the log's own key signed it.
func TestWitness(t *testing.T) {
	path, vkey := newLog(t)
	st, _ := serve(t, path)
	w := &auditlog.Witness{VerifierKey: vkey}
	ws := httptest.NewServer(w)
	defer ws.Close()
	signer := signerFor(t, path)
	in := &auditlog.Integrator{Store: st, Signer: signer, Witnesses: []string{ws.URL}}
	grow := func(n int) {
		for range n {
			e := &audit.Entry{Actor: "op_x", Action: "read", Subject: "sub_y", Decision: "allow"}
			if err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := in.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	grow(3) // the witness has seen nothing: accepts size 53
	if w.Size() != 53 {
		t.Fatalf("witness size %d, want 53", w.Size())
	}
	in = &auditlog.Integrator{Store: st, Signer: signer, Witnesses: []string{ws.URL}}
	grow(4) // a restarted integrator knows nothing: 409, then a proof 53 → 57
	if w.Size() != 57 {
		t.Fatalf("witness size %d, want 57", w.Size())
	}
	// Rewrite history below the witnessed size and re-sign it.
	for _, q := range []string{`UPDATE audit SET leaf = audit_set(leaf, 'reason', 'rewritten') WHERE seq = 10`, `DELETE FROM checkpoints WHERE size > 0`, `DELETE FROM tiles`} {
		if err := st.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	grow(2)
	if w.Size() != 57 {
		t.Fatalf("witness accepted a rewritten log: size %d", w.Size())
	}
}

// TestTwoIntegrators runs two integrators on one store, interleaved and
// concurrently: the log must still verify and prove.
func TestTwoIntegrators(t *testing.T) {
	path, vkey := newLog(t)
	st := openStore(t, path)
	signer := signerFor(t, path)
	// Different batch sizes make the two race to different sizes: the
	// slower one must not overwrite the newer tiles with older ones.
	a := &auditlog.Integrator{Store: st, Signer: signer, MaxBatch: 3}
	b := &auditlog.Integrator{Store: st, Signer: signer, MaxBatch: 5}
	for round := range 20 {
		for range 7 {
			e := &audit.Entry{Actor: "op_x", Action: "read", Subject: "sub_y", Decision: "allow"}
			if err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for _, in := range []*auditlog.Integrator{a, b} {
			wg.Go(func() {
				for range 4 {
					if _, err := in.Step(ctx); err != nil {
						t.Errorf("round %d: %v", round, err)
					}
				}
			})
		}
		wg.Wait()
	}
	rep, err := auditlog.Verify(ctx, st, vkey)
	if err != nil || rep.Size != 50+20*7 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	var entries []audit.Entry
	st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		entries, err = tx.AuditEntries(ctx, 1, 1000, 1000)
		return err
	})
	var root []byte
	st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.LatestCheckpoint(ctx)
		root = c.Root
		return err
	})
	for _, i := range []uint64{0, 49, 100, 189} {
		p, err := auditlog.InclusionProof(ctx, st, i, rep.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(audit.Hasher, i, rep.Size, audit.LeafHash(&entries[i]), p, root); err != nil {
			t.Fatalf("proof %d: %v", i, err)
		}
	}
}
