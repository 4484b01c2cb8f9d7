// Package backup writes and restores backups of the SQLite store that
// whoever runs and keeps them cannot read, and that forget erased people.
//
// A backup is two files, each encrypted with age (filippo.io/age) to its
// own recipients:
//
//   - the data backup: a consistent snapshot of the database (VACUUM INTO,
//     taken while a server may be serving), with every subject's wrapped
//     data key (the dek column) removed and the freed pages rebuilt away;
//   - the key backup: one line per live subject, its seq, key version and
//     wrapped data key. It is small and is kept on a shorter retention.
//
// Field ciphertexts are useless without their data key, and a data key is
// useless without the root key, which is in neither file. A subject erased
// today has no line in any key backup taken from today on; once the key
// backups older than the erasure have expired, no data backup can give the
// subject back, however old.
//
// Restore decrypts both into a private temporary directory beside the
// destination, re-attaches the data keys, checks the database and lets
// the caller finish the copy (erase the records left without a key) and
// verify its audit log; only then is the file renamed into
// place, so a wrong identity or a corrupted or cut file leaves nothing
// half-restored.
//
// PostgreSQL stores are backed up with pg_dump instead (docs/design.md,
// "Backups").
package backup

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"filippo.io/age"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotEmpty is returned by Restore when the destination store holds
// data: a restore never merges into or overwrites a store in use.
var ErrNotEmpty = errors.New("the destination store is not empty")

// ErrCorrupt is returned by Restore when a file decrypts but is not a
// whole backup (a cut file, or a damaged database or key list).
var ErrCorrupt = errors.New("the backup is corrupted or cut")

// keysHeader opens the plaintext of a key backup; "end N" closes it.
const keysHeader = "coffre key backup v1"

// Summary says what a backup or a restore held.
type Summary struct {
	Subjects int // subject rows in the data backup (erased included)
	Keys     int // wrapped data keys in the key backup (restore: re-attached)
}

// Key is one line of a key backup: a subject's wrapped data key.
type Key struct {
	Seq     int64 // subjects.seq: the subject's row, which ids are made of
	Version int64 // dek_version: the root key version that wrapped it
	DEK     []byte
}

// ParseRecipients parses age recipients (age1… public keys).
func ParseRecipients(keys []string) ([]age.Recipient, error) {
	var rs []age.Recipient
	for _, k := range keys {
		r, err := age.ParseRecipients(strings.NewReader(k))
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %w", k, err)
		}
		rs = append(rs, r...)
	}
	if len(rs) == 0 {
		return nil, errors.New("no recipient")
	}
	return rs, nil
}

func openDB(path string, pragmas ...string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// privateDir makes a directory only this process's user can read, in dir
// ("" for the system's temporary directory).
func privateDir(dir, pattern string) (string, error) {
	d, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(d, 0o700); err != nil {
		os.RemoveAll(d)
		return "", err
	}
	return d, nil
}

// Snapshot writes a consistent copy of the database at src to dst (which
// must not exist) with VACUUM INTO: a read transaction, so a server may
// keep serving and committing meanwhile.
func Snapshot(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	// Not query_only: SQLite counts VACUUM INTO as a write, though it
	// writes only dst.
	db, err := openDB(src)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("snapshot %s: %w", src, err)
	}
	return os.Chmod(dst, 0o600)
}

// stripKeys reads every wrapped data key out of the snapshot at path,
// then removes them from it and rebuilds the file so that no freed page
// still holds one.
func stripKeys(ctx context.Context, path string) ([]Key, int, error) {
	db, err := openDB(path, "journal_mode(DELETE)", "secure_delete(ON)")
	if err != nil {
		return nil, 0, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM subjects`).Scan(&n); err != nil {
		return nil, 0, err
	}
	rows, err := db.QueryContext(ctx, `SELECT seq, dek_version, dek FROM subjects WHERE dek IS NOT NULL ORDER BY seq`)
	if err != nil {
		return nil, 0, err
	}
	var keys []Key
	for rows.Next() {
		var k Key
		if err := rows.Scan(&k.Seq, &k.Version, &k.DEK); err != nil {
			rows.Close()
			return nil, 0, err
		}
		keys = append(keys, k)
	}
	if err := rows.Close(); err != nil {
		return nil, 0, err
	}
	if _, err := db.ExecContext(ctx, `UPDATE subjects SET dek = NULL WHERE dek IS NOT NULL`); err != nil {
		return nil, 0, err
	}
	if _, err := db.ExecContext(ctx, `VACUUM`); err != nil {
		return nil, 0, err
	}
	return keys, n, db.Close()
}

// Write takes a snapshot of the database at dbPath and writes the data
// backup to data (encrypted to dataTo) and the key backup to keys
// (encrypted to keysTo). data may be nil: only the key backup is written
// (the key backups run more often than the data backups). The plaintext
// snapshot lives in a private temporary directory, removed in every case.
func Write(ctx context.Context, dbPath string, data io.Writer, dataTo []age.Recipient, keys io.Writer, keysTo []age.Recipient) (Summary, error) {
	dir, err := privateDir("", "coffre-backup-")
	if err != nil {
		return Summary{}, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(dir)
	snap := filepath.Join(dir, "snapshot.db")
	if err := Snapshot(ctx, dbPath, snap); err != nil {
		return Summary{}, fmt.Errorf("backup: %w", err)
	}
	ks, n, err := stripKeys(ctx, snap)
	if err != nil {
		return Summary{}, fmt.Errorf("backup: remove the data keys from the snapshot: %w", err)
	}
	sum := Summary{Subjects: n, Keys: len(ks)}
	if err := writeKeys(keys, keysTo, ks); err != nil {
		return Summary{}, fmt.Errorf("backup: key backup: %w", err)
	}
	if data == nil {
		return sum, nil
	}
	f, err := os.Open(snap)
	if err != nil {
		return Summary{}, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	w, err := age.Encrypt(data, dataTo...)
	if err != nil {
		return Summary{}, fmt.Errorf("backup: %w", err)
	}
	if _, err := io.Copy(w, f); err != nil {
		return Summary{}, fmt.Errorf("backup: %w", err)
	}
	if err := w.Close(); err != nil {
		return Summary{}, fmt.Errorf("backup: %w", err)
	}
	return sum, nil
}

func writeKeys(dst io.Writer, to []age.Recipient, keys []Key) error {
	w, err := age.Encrypt(dst, to...)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, keysHeader)
	for _, k := range keys {
		fmt.Fprintf(bw, "%d %d %s\n", k.Seq, k.Version, base64.StdEncoding.EncodeToString(k.DEK))
	}
	fmt.Fprintf(bw, "end %d\n", len(keys))
	if err := bw.Flush(); err != nil {
		return err
	}
	return w.Close()
}

// decrypt opens an age file with ids, telling a wrong identity apart.
func decrypt(src io.Reader, what string, ids []age.Identity) (io.Reader, error) {
	r, err := age.Decrypt(src, ids...)
	var nm *age.NoIdentityMatchError
	switch {
	case errors.As(err, &nm):
		return nil, fmt.Errorf("%s: the identity does not open it (encrypted to other recipients): %w", what, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w: %w", what, ErrCorrupt, err)
	}
	return r, nil
}

// ReadKeys decrypts and parses a key backup.
func ReadKeys(src io.Reader, ids []age.Identity) ([]Key, error) {
	r, err := decrypt(src, "key backup", ids)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<16)
	if !sc.Scan() || sc.Text() != keysHeader {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("key backup: %w: %w", ErrCorrupt, err)
		}
		return nil, fmt.Errorf("key backup: %w: not a Coffre key backup", ErrCorrupt)
	}
	var keys []Key
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "end "); ok {
			if n != strconv.Itoa(len(keys)) || sc.Scan() {
				return nil, fmt.Errorf("key backup: %w: bad end line", ErrCorrupt)
			}
			if err := sc.Err(); err != nil {
				return nil, fmt.Errorf("key backup: %w: %w", ErrCorrupt, err)
			}
			return keys, nil
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("key backup: %w: line %d", ErrCorrupt, len(keys)+2)
		}
		var k Key
		var e1, e2, e3 error
		k.Seq, e1 = strconv.ParseInt(f[0], 10, 64)
		k.Version, e2 = strconv.ParseInt(f[1], 10, 64)
		k.DEK, e3 = base64.StdEncoding.DecodeString(f[2])
		if err := errors.Join(e1, e2, e3); err != nil {
			return nil, fmt.Errorf("key backup: %w: line %d", ErrCorrupt, len(keys)+2)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("key backup: %w: %w", ErrCorrupt, err)
	}
	return nil, fmt.Errorf("key backup: %w: no end line", ErrCorrupt)
}

// Empty reports whether the database at path is absent or holds no
// subject, audit entry, operator or partner.
func Empty(ctx context.Context, path string) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	db, err := openDB(path, "query_only(1)")
	if err != nil {
		return false, err
	}
	defer db.Close()
	for _, t := range []string{"subjects", "audit", "operators", "partners"} {
		var exists int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, t).Scan(&exists); err != nil {
			return false, fmt.Errorf("%s: %w", path, err)
		}
		if exists == 0 {
			continue
		}
		var any int
		if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+t+`)`).Scan(&any); err != nil {
			return false, fmt.Errorf("%s: %w", path, err)
		}
		if any != 0 {
			return false, nil
		}
	}
	return true, nil
}

// Restore restores the data backup data with the key backup keys, both
// opened with ids, into the SQLite database dst, which must be absent or
// empty (else ErrNotEmpty, and nothing changes). The data keys of the
// key backup are re-attached to their subjects; a subject without one
// (erased since) stays unreadable. finish, if not nil, is called with the
// path of the restored copy before it is renamed into place (the caller
// erases the subjects left without a key, vault.EraseKeyless, and
// verifies the audit log there); its error aborts the restore.
func Restore(ctx context.Context, data, keys io.Reader, ids []age.Identity, dst string, finish func(ctx context.Context, path string) error) (Summary, error) {
	empty, err := Empty(ctx, dst)
	if err != nil {
		return Summary{}, fmt.Errorf("restore: %w", err)
	}
	if !empty {
		return Summary{}, fmt.Errorf("restore into %s: %w", dst, ErrNotEmpty)
	}
	ks, err := ReadKeys(keys, ids)
	if err != nil {
		return Summary{}, fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return Summary{}, fmt.Errorf("restore: %w", err)
	}
	dir, err := privateDir(filepath.Dir(dst), ".coffre-restore-")
	if err != nil {
		return Summary{}, fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "restore.db")
	r, err := decrypt(data, "data backup", ids)
	if err != nil {
		return Summary{}, fmt.Errorf("restore: %w", err)
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Summary{}, fmt.Errorf("restore: %w", err)
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Summary{}, fmt.Errorf("restore: data backup: %w: %w", ErrCorrupt, err)
	}
	sum, err := attachKeys(ctx, tmp, ks)
	if err != nil {
		return Summary{}, fmt.Errorf("restore: %w", err)
	}
	if finish != nil {
		if err := finish(ctx, tmp); err != nil {
			return Summary{}, fmt.Errorf("restore: the restored copy does not verify, nothing restored: %w", err)
		}
	}
	// The destination was empty: its own journal files go with it, or
	// SQLite would replay them into the restored file.
	for _, s := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(dst + s); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Summary{}, fmt.Errorf("restore: %w", err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return Summary{}, fmt.Errorf("restore: %w", err)
	}
	return sum, nil
}

// attachKeys checks the restored database and writes the key backup's
// data keys back into it.
func attachKeys(ctx context.Context, path string, keys []Key) (Summary, error) {
	db, err := openDB(path, "journal_mode(DELETE)")
	if err != nil {
		return Summary{}, err
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil {
		return Summary{}, fmt.Errorf("data backup: %w: %w", ErrCorrupt, err)
	}
	if check != "ok" {
		return Summary{}, fmt.Errorf("data backup: %w: %s", ErrCorrupt, check)
	}
	var sum Summary
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM subjects`).Scan(&sum.Subjects); err != nil {
		return Summary{}, fmt.Errorf("data backup: %w: %w", ErrCorrupt, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return Summary{}, err
	}
	defer tx.Rollback()
	for _, k := range keys {
		res, err := tx.ExecContext(ctx, `UPDATE subjects SET dek = ?, dek_version = ? WHERE seq = ? AND erased = 0 AND dek IS NULL`, k.DEK, k.Version, k.Seq)
		if err != nil {
			return Summary{}, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return Summary{}, err
		}
		sum.Keys += int(n)
	}
	if err := tx.Commit(); err != nil {
		return Summary{}, err
	}
	return sum, db.Close()
}

// WriteFileAtomic writes a file through write: into a temporary file
// (mode 0600) beside path, synced, then renamed onto path. On error
// nothing is left behind.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
