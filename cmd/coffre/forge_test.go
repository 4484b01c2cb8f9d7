package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/rootkey"
	"github.com/coffre/coffre/internal/seal"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	_ "github.com/coffre/coffre/internal/store/sqlite/sqlitetest" // audit_set
	"github.com/coffre/coffre/internal/unseal"
)

// TestForgedCheckpoint: whoever holds only the data keyring (the root
// seeds) can derive the signer that keyrings made before the hierarchies
// were separated derived from it, and sign checkpoints over a log it
// extended or rewrote. audit verify refuses them, for a sealed keyring
// (without unsealing, and with M shares) and for a new development key
// file. The forged log is otherwise whole: the refusal is the key's.
func TestForgedCheckpoint(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sealed", "dev"} {
		for _, rewrite := range []bool{false, true} {
			name := kind + "/extended"
			if rewrite {
				name = kind + "/rewritten"
			}
			t.Run(name, func(t *testing.T) {
				var l *honestLog
				if kind == "sealed" {
					l = newSealedLog(t)
				} else {
					l = newDevLog(t)
				}
				code, stdout, stderr := runCLI(t, append([]string{"audit", "verify"}, l.args...)...)
				if code != 0 || !strings.Contains(stdout, "1 checkpoints") {
					t.Fatalf("audit verify of the honest log = %d, %q %q", code, stdout, stderr)
				}
				size := l.size(t)

				forged := forge(t, l.db, l.seeds, rewrite)
				if forged == l.vkey {
					t.Fatal("the signer derived from the root seeds is the log's own")
				}
				bad := size // the first entry the forged checkpoint vouches for
				if rewrite {
					bad = 0
				}
				ways := [][]string{nil} // a sealed keyring without unsealing
				if l.shareArgs != nil {
					ways = append(ways, l.shareArgs) // and unsealed with M shares
				}
				for _, extra := range ways {
					args := append(append([]string{"audit", "verify"}, l.args...), extra...)
					code, stdout, stderr = runCLI(t, args...)
					if code != 1 || !strings.Contains(stderr, "bad signature") || stdout != "" {
						t.Errorf("%v = %d, %q %q; want a refusal for a bad signature", args, code, stdout, stderr)
					}
					code, stdout, _ = runCLI(t, append(args, "--json")...)
					var res struct {
						OK    bool   `json:"ok"`
						Index uint64 `json:"first_bad_index"`
					}
					if code != 1 || json.Unmarshal([]byte(stdout), &res) != nil || res.OK || res.Index != bad {
						t.Errorf("%v --json = %d, %q; want not ok at index %d", args, code, stdout, bad)
					}
				}
				// Against the forger's own key, the rewritten log verifies
				// (the forger signed all of it); the extended one does not
				// (its first checkpoint is the log's own).
				args := append(append([]string{"audit", "verify"}, l.args...), "--verifier-key", forged)
				if code, stdout, stderr := runCLI(t, args...); (code == 0) != rewrite {
					t.Errorf("verify against the forger's key = %d, %q %q; want ok=%v", code, stdout, stderr, rewrite)
				}
			})
		}
	}
}

// honestLog is a data directory whose audit log holds entries made
// through the normal path and one checkpoint signed by its integrator.
type honestLog struct {
	args      []string // the data directory's flags for coffre
	shareArgs []string // --share-file twice, for a sealed keyring
	db        string   // the SQLite store
	vkey      string   // the log's verifier key
	// seeds are the root seeds by version: the data keyring, and nothing
	// else, as whoever holds its plaintext has it.
	seeds map[uint32][]byte
}

// size returns the size of the latest checkpoint.
func (l *honestLog) size(t *testing.T) uint64 {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"audit", "checkpoint", "--json"}, l.args...)...)
	var c struct{ Size uint64 }
	if code != 0 || json.Unmarshal([]byte(stdout), &c) != nil || c.Size == 0 {
		t.Fatalf("audit checkpoint = %d, %q %q", code, stdout, stderr)
	}
	return c.Size
}

// integrate signs a checkpoint with the integrator of the app o opens,
// as a server does every second.
func integrate(t *testing.T, o appOptions) {
	t.Helper()
	a, err := openApp(context.Background(), o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if _, err := (&auditlog.Integrator{Store: a.health, Signer: a.signer}).Step(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// newSealedLog: keys init, two operators added on the host with M shares,
// a checkpoint.
func newSealedLog(t *testing.T) *honestLog {
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "shares")
	code, stdout, stderr := runCLI(t, "keys", "init", "--config", demoYAML, "--data", dir, "--shares", "3", "--threshold", "2", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("keys init = %d, %q", code, stderr)
	}
	var res keysInitJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	l := &honestLog{args: []string{"--config", demoYAML, "--data", dir}, db: filepath.Join(dir, "coffre.db"), vkey: res.AuditVerifier,
		shareArgs: []string{"--share-file", res.Items[0].File, "--share-file", res.Items[2].File}}
	for _, name := range []string{"marie", "paul"} {
		args := append(append([]string{"operator", "add", name, "--role", "admin", "--unit", "ac-lyon"}, l.args...), l.shareArgs...)
		if code, _, stderr := runCLI(t, args...); code != 0 {
			t.Fatalf("operator add = %d, %q", code, stderr)
		}
	}
	integrate(t, appOptions{configPath: demoYAML, dataDir: dir, shareFiles: []string{res.Items[0].File, res.Items[2].File}})

	// The data keyring's plaintext: the root seeds, from the keyring
	// section alone.
	f, err := seal.Read(res.Keyring)
	if err != nil {
		t.Fatal(err)
	}
	acc := unseal.NewAccumulator(unseal.Options{Set: f.Set})
	var key []byte
	for _, it := range res.Items[:2] {
		b, err := os.ReadFile(it.File)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := unseal.Parse(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		if key, _, err = acc.Add(sh); err != nil {
			t.Fatal(err)
		}
	}
	body, err := f.Open(key)
	if err != nil {
		t.Fatal(err)
	}
	if l.seeds, _, err = rootkey.Decode(body); err != nil {
		t.Fatal(err)
	}
	return l
}

// newDevLog: a new development key file, two operators, a checkpoint.
func newDevLog(t *testing.T) *honestLog {
	dir := t.TempDir()
	l := &honestLog{args: []string{"--dev", "--data", dir}, db: filepath.Join(dir, "coffre.db")}
	for _, name := range []string{"marie", "paul"} {
		args := append([]string{"operator", "add", name, "--role", "admin", "--unit", "ac-lyon"}, l.args...)
		if code, _, stderr := runCLI(t, args...); code != 0 {
			t.Fatalf("operator add = %d, %q", code, stderr)
		}
	}
	integrate(t, appOptions{dev: true, dataDir: dir})
	code, stdout, stderr := runCLI(t, append([]string{"audit", "key"}, l.args...)...)
	if code != 0 {
		t.Fatalf("audit key = %d, %q", code, stderr)
	}
	l.vkey = strings.TrimSpace(stdout)

	// The data keyring: the key file's root seeds, nothing else of it.
	b, err := os.ReadFile(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	var kf struct{ Versions map[uint32]string }
	if err := json.Unmarshal(b, &kf); err != nil {
		t.Fatal(err)
	}
	l.seeds = map[uint32][]byte{}
	for v, s := range kf.Versions {
		if l.seeds[v], err = base64.StdEncoding.DecodeString(s); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// forge does what a holder of the data keyring can: derive the legacy
// signer from the oldest root seed (HKDF-SHA-256, label "coffre audit
// signing"), then extend the log with entries of its choosing, or first
// rewrite its first entry and drop every checkpoint, and sign checkpoints
// over the result with the integrator. It returns the forger's verifier
// key.
func forge(t *testing.T, db string, seeds map[uint32][]byte, rewrite bool) string {
	t.Helper()
	ctx := context.Background()
	versions := slices.Sorted(maps.Keys(seeds))
	signSeed, err := hkdf.Key(sha256.New, seeds[versions[0]], nil, "coffre audit signing", 32)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := audit.NewSigner(auditlog.Origin, signSeed)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := envelope.NewKeyring(seeds, versions[len(versions)-1])
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, db, sqlite.Options{IDs: ring.SubjectIDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if rewrite {
		for _, q := range []string{`UPDATE audit SET leaf = audit_set(leaf, 'reason', 'rewritten') WHERE seq = 1`, `DELETE FROM checkpoints`} {
			if err := st.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	for range 3 {
		e := &audit.Entry{Actor: "op_forger", Action: "read", Subject: "sub_x", Purpose: "directory", Decision: "allow"}
		if err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := (&auditlog.Integrator{Store: st, Signer: signer}).Step(ctx); err != nil {
		t.Fatal(err)
	}
	return signer.VerifierKey()
}
