package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"filippo.io/age"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/backup"
	"github.com/coffre/coffre/internal/config"
)

// stringsFlag is a flag that may be given several times.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// sqlitePath is the SQLite file of the configured store, or a clear
// error for a PostgreSQL store (backed up with pg_dump).
func sqlitePath(o appOptions, cmd string) (string, error) {
	cfg, err := loadConfig(o)
	if err != nil {
		return "", err
	}
	path, ok := strings.CutPrefix(cfg.Store, "sqlite:")
	if !ok {
		return "", &usageError{msg: cmd + " works on a SQLite store; this store is PostgreSQL",
			hint: "back up PostgreSQL with pg_dump, its data keys apart (README, \"PostgreSQL\")"}
	}
	return path, nil
}

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const example = "coffre backup --dev --to backup.age --recipient age1… --keys-recipient age1…"
	fs := newFlags("backup", "--to FILE --recipient AGE_PUBKEY… [--keys-recipient AGE_PUBKEY…] [--keys-only] [--dev | --config FILE]", example, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	to := fs.String("to", "", "write the data backup to this `file`; the key backup goes to FILE.keys.age")
	var recips, keyRecips stringsFlag
	fs.Var(&recips, "recipient", "age public `key` the backup is encrypted to (repeat for several)")
	fs.Var(&keyRecips, "keys-recipient", "age public `key` the key backup is encrypted to (repeat; default: the --recipient keys)")
	keysOnly := fs.Bool("keys-only", false, "write only the key backup FILE.keys.age (run more often, kept less long)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{msg: "unexpected argument " + strconv.Quote(fs.Arg(0)), hint: example}
	}
	if *to == "" || len(recips) == 0 && (!*keysOnly || len(keyRecips) == 0) {
		return &usageError{msg: "want --to FILE and at least one --recipient", hint: example}
	}
	if len(keyRecips) == 0 {
		keyRecips = recips
	}
	var dataTo []age.Recipient
	var err error
	if !*keysOnly {
		if dataTo, err = backup.ParseRecipients(recips); err != nil {
			return &usageError{msg: "--recipient: " + err.Error(), hint: "an age public key, as age-keygen prints: age1…"}
		}
	}
	keysTo, err := backup.ParseRecipients(keyRecips)
	if err != nil {
		return &usageError{msg: "--keys-recipient: " + err.Error(), hint: "an age public key, as age-keygen prints: age1…"}
	}
	path, err := sqlitePath(o, "backup")
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no store to back up: %w", err)
	}
	keysFile := *to + ".keys.age"
	var sum backup.Summary
	// The data backup is written inside the key backup's write, so that
	// both come from one snapshot and neither is renamed into place
	// unless both were written.
	var dataErr error
	var dataTmp string
	err = backup.WriteFileAtomic(keysFile, func(kw io.Writer) error {
		if *keysOnly {
			sum, err = backup.Write(ctx, path, nil, nil, kw, keysTo)
			return err
		}
		dataErr = backup.WriteFileAtomic(*to, func(dw io.Writer) error {
			sum, err = backup.Write(ctx, path, dw, dataTo, kw, keysTo)
			return err
		})
		dataTmp = *to
		return dataErr
	})
	if err != nil {
		if dataErr == nil && dataTmp != "" {
			// The data backup went into place but the key backup did not.
			os.Remove(dataTmp)
		}
		return err
	}
	files := []string{keysFile}
	if !*keysOnly {
		files = []string{*to, keysFile}
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"files": files, "subjects": sum.Subjects, "keys": sum.Keys})
	}
	if *keysOnly {
		fmt.Fprintf(stdout, "key backup written: %s (%d data keys)\n", keysFile, sum.Keys)
		return nil
	}
	fmt.Fprintf(stdout, "backup written: %s (%d subjects, no data keys), %s (%d data keys)\n", *to, sum.Subjects, keysFile, sum.Keys)
	return nil
}

func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const example = "coffre restore --dev --from backup.age --keys backup.age.keys.age --identity backup-key.txt"
	fs := newFlags("restore", "--from FILE --keys FILE.keys.age --identity AGE_IDENTITY_FILE [--dev | --config FILE]\n       coffre restore --finish [--store URL] [--dev | --config FILE]", example, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	from := fs.String("from", "", "the data backup `file`")
	keysFile := fs.String("keys", "", "the key backup `file` (the newest: subjects erased since the data backup are erased in the restored store)")
	var idFiles stringsFlag
	fs.Var(&idFiles, "identity", "age identity `file` that opens the backups (repeat for several)")
	finishOnly := fs.Bool("finish", false, "finish a restore made with the database's own tools (PostgreSQL: README, \"Backups\"): erase the records left without a data key, then verify the audit log")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{msg: "unexpected argument " + strconv.Quote(fs.Arg(0)), hint: example}
	}
	// finish erases the records of the store o names that are left
	// without a data key, then verifies its audit log.
	var erased int
	var rep *auditlog.Report
	finish := func(ctx context.Context, o appOptions) error {
		a, err := openApp(ctx, o, io.Discard)
		if err != nil {
			return err
		}
		defer a.close()
		if erased, err = a.vault.EraseKeyless(ctx); err != nil {
			return err
		}
		rep, err = auditlog.Verify(ctx, a.store, a.signer.VerifierKey())
		return err
	}
	if *finishOnly {
		if *from != "" || *keysFile != "" || len(idFiles) != 0 {
			return &usageError{msg: "--finish takes no backup files: it finishes a store restored already", hint: "coffre restore --finish --config coffre.yaml"}
		}
		cfg, err := loadConfig(o)
		if err != nil {
			return err
		}
		if err := finish(ctx, o); err != nil {
			return fmt.Errorf("finish the restore: %w", err)
		}
		store := config.RedactURL(cfg.Store)
		if *asJSON {
			return writeJSON(stdout, map[string]any{"ok": true, "store": store, "erased_keyless": erased,
				"audit_entries": rep.Entries, "audit_checkpoints": rep.Checkpoints})
		}
		fmt.Fprintf(stdout, "finished the restore of %s: %d records without a data key erased; audit log verified: %d entries, %d checkpoints\n",
			store, erased, rep.Entries, rep.Checkpoints)
		return nil
	}
	if *from == "" || *keysFile == "" || len(idFiles) == 0 {
		return &usageError{msg: "want --from FILE, --keys FILE and --identity FILE", hint: example}
	}
	var ids []age.Identity
	for _, p := range idFiles {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		got, err := age.ParseIdentities(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("identity %s: %w", p, err)
		}
		ids = append(ids, got...)
	}
	path, err := sqlitePath(o, "restore")
	if err != nil {
		return err
	}
	cfg, err := loadConfig(o)
	if err != nil {
		return err
	}
	// The backups hold no root key: the restored store is read with the
	// root key it was written under, which must already be in place.
	if _, err := os.Stat(cfg.RootKeyFile); err != nil {
		return fmt.Errorf("no root key at %s: put the root key the backup was made under in place first (%w)", cfg.RootKeyFile, err)
	}
	data, err := os.Open(*from)
	if err != nil {
		return err
	}
	defer data.Close()
	keys, err := os.Open(*keysFile)
	if err != nil {
		return err
	}
	defer keys.Close()
	sum, err := backup.Restore(ctx, data, keys, ids, path, func(ctx context.Context, tmp string) error {
		to := o
		to.store = "sqlite:" + tmp
		return finish(ctx, to)
	})
	if errors.Is(err, backup.ErrNotEmpty) {
		return &usageError{msg: err.Error() + "; nothing was changed", hint: "restore into a new data directory or store, never over one in use"}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"ok": true, "store": path, "subjects": sum.Subjects, "keys": sum.Keys, "erased_keyless": erased,
			"audit_entries": rep.Entries, "audit_checkpoints": rep.Checkpoints})
	}
	fmt.Fprintf(stdout, "restored %s: %d subjects, %d data keys re-attached (%d without one erased: their key was destroyed after the data backup); audit log verified: %d entries, %d checkpoints\n",
		path, sum.Subjects, sum.Keys, erased, rep.Entries, rep.Checkpoints)
	return nil
}
