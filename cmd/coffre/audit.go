package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/seal"
	"github.com/coffre/coffre/internal/store"
	"golang.org/x/mod/sumdb/note"
)

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stderr, "Usage: coffre audit verify|checkpoint|key [--dev | --config FILE] [--data DIR] [--verifier-key KEY]\n"+
			"       coffre audit history SUBJECT [--dev | --config FILE] [--data DIR] [--size N]\n"+
			"       coffre audit verify-subject FILE --key KEY [--newest SEQ:LEAFHASH]\n"+
			"       coffre audit verify-evidence DIR [--key KEY]\n"+
			"       coffre audit epochs|prune [--dev | --config FILE] [--data DIR] [--json]\n\n"+
			"  verify          recompute the Merkle tree and the subject index from every entry and check\n"+
			"                  every signed checkpoint against the verifier key (--verifier-key, else the published one)\n"+
			"  checkpoint      print the latest signed checkpoint\n"+
			"  key             print the checkpoint verifier key (for outside auditors)\n"+
			"  history         print a subject's history: every entry about it with its proofs (JSON)\n"+
			"  verify-subject  check a saved history offline: complete, each entry in the signed log\n"+
			"  verify-evidence check an incident's evidence bundle offline (coffre incident evidence):\n"+
			"                  the checkpoint's signature, each entry and its proof to the signed root\n"+
			"  epochs          list the log's epochs: number, first and last entry, when closed, when deleted\n"+
			"  prune           delete the closed epochs older than audit.retention (every checkpoint is kept,\n"+
			"                  the log still verifies); audited, with the counts\n\n"+
			"A data directory with a sealed keyring needs no unsealing: its keyring file\n"+
			"publishes the verifier key.\n\n"+
			"Example:\n  coffre audit verify --dev\n")
		return flag.ErrHelp
	}
	if len(args) > 0 && args[0] == "verify-subject" {
		return runVerifySubject(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "verify-evidence" {
		return runVerifyEvidence(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "history" {
		return runHistory(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && (args[0] == "epochs" || args[0] == "prune") {
		return runEpochs(ctx, args[0], args[1:], stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "verify" && args[0] != "checkpoint" && args[0] != "key") {
		return &usageError{msg: "want a subcommand: verify, checkpoint, key, history, verify-subject, verify-evidence, epochs or prune", hint: "coffre audit verify --dev"}
	}
	sub := args[0]
	fs := newFlags("audit "+sub, "[--dev | --config FILE] [--data DIR] [--verifier-key KEY] [--share-file FILE…] [--json] | --remote URL --key KEY [--state FILE]", "coffre audit "+sub+" --dev", stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	o.shareFlag(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	remote := fs.String("remote", "", "verify a running server at this `URL` with only its public key (verify only)")
	key := fs.String("key", "", "the log's verifier `key` for --remote (from 'coffre audit key'); the same as --verifier-key")
	fs.StringVar(key, "verifier-key", "", "verify against this verifier `key`, as published (from 'coffre audit key' or keys init), rather than the one the data directory gives (verify only)")
	state := fs.String("state", "coffre-audit-state", "`file` keeping the last checkpoint seen, for --remote")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{msg: "unexpected argument " + strconv.Quote(fs.Arg(0)), hint: "coffre audit " + sub + " --dev"}
	}
	if *remote != "" {
		if sub != "verify" || *key == "" {
			return &usageError{msg: "--remote goes with verify and needs --key", hint: "coffre audit verify --remote https://vault.example --key \"$(coffre audit key --dev)\""}
		}
		u, err := url.Parse(*remote)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &usageError{msg: "--remote must be an http(s) URL", hint: "--remote https://vault.example"}
		}
		client := &http.Client{Timeout: 30 * time.Second}
		rep, err := auditlog.RemoteVerify(ctx, client, strings.TrimRight(*remote, "/"), *key, *state)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, map[string]any{"ok": true, "previous_size": rep.Previous, "size": rep.Size, "first_look": rep.Previous == 0, "state": *state})
		}
		if rep.Previous == 0 {
			fmt.Fprintf(stdout, "first look at this log: checkpoint of size %d kept in %s; the next run proves the log only grew\n", rep.Size, *state)
		} else {
			fmt.Fprintf(stdout, "audit log only grew: size %d → %d (consistency proof verified)\n", rep.Previous, rep.Size)
		}
		return nil
	}
	if *key != "" && sub != "verify" {
		return &usageError{msg: "--verifier-key goes with verify", hint: "coffre audit verify --config coffre.yaml --verifier-key KEY"}
	}
	if _, err := note.NewVerifier(*key); *key != "" && err != nil {
		return &usageError{msg: "--verifier-key is not a checkpoint verifier key", hint: "the key as 'coffre audit key' or keys init printed it: coffre/audit+…+…"}
	}
	src, err := openAuditLog(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer src.close()
	vkey := src.vkey
	if *key != "" {
		vkey = *key
	}
	if vkey == "" && sub != "checkpoint" {
		return &usageError{
			msg:  "this sealed keyring (format 1 or 2, made before the verifier key was published) does not publish its verifier key",
			hint: "pass --verifier-key KEY (as 'coffre audit key' printed it), or --share-file once per holder present (M of them)",
		}
	}
	switch sub {
	case "key":
		if *asJSON {
			return writeJSON(stdout, map[string]string{"verifier_key": vkey})
		}
		fmt.Fprintln(stdout, vkey)
		return nil
	case "checkpoint":
		var c *audit.StoredCheckpoint
		err := src.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			c, err = tx.LatestCheckpoint(ctx)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no checkpoint yet: the server's integrator signs one every second while entries arrive")
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, map[string]any{"size": c.Size, "root_hash": base64.StdEncoding.EncodeToString(c.Root),
				"created": c.Created.UTC().Format(time.RFC3339), "note": string(c.Note)})
		}
		stdout.Write(c.Note)
		return nil
	}
	rep, err := auditlog.Verify(ctx, src.store, vkey)
	var te *auditlog.TamperError
	if errors.As(err, &te) {
		if *asJSON {
			writeJSON(stdout, map[string]any{"ok": false, "first_bad_index": te.Index, "reason": te.Reason})
		}
		return err
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"ok": true, "entries": rep.Entries, "checkpoints": rep.Checkpoints,
			"checkpoint_size": rep.Size, "unintegrated": rep.Unintegrated, "verifier_key": vkey,
			"from": rep.From, "epochs": rep.Epochs, "deleted_epochs": rep.Deleted})
	}
	fmt.Fprintf(stdout, "audit log verified: %d entries, %d checkpoints (latest of size %d), %d entries not yet in a checkpoint\n",
		rep.Entries, rep.Checkpoints, rep.Size, rep.Unintegrated)
	if rep.Deleted > 0 {
		fmt.Fprintf(stdout, "kept from entry %d: %d of %d closed epochs deleted after their retention; their checkpoints verified\n", rep.From, rep.Deleted, rep.Epochs)
	}
	return nil
}

// runEpochs lists the audit log's epochs (epochs), or deletes those past
// audit.retention (prune).
func runEpochs(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	example := "coffre audit " + sub + " --config coffre.yaml"
	fs := newFlags("audit "+sub, "[--dev | --config FILE] [--data DIR] [--share-file FILE…] [--json]", example, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	o.shareFlag(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{msg: "unexpected argument " + strconv.Quote(fs.Arg(0)), hint: example}
	}
	cfg, err := loadConfig(o)
	if err != nil {
		return err
	}
	if sub == "prune" && cfg.AuditRetention.IsZero() {
		return &usageError{msg: "audit.retention is not set: the audit log is kept forever, and nothing is pruned",
			hint: "set audit.retention (at least audit.epoch, " + cfg.AuditEpoch.String() + "), such as retention: 10y, under audit: in the configuration"}
	}
	src, err := openAuditLog(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer src.close()
	if sub == "prune" {
		rep, err := auditlog.Prune(ctx, src.store, time.Now(), cfg.AuditRetention, "system")
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, map[string]any{"epochs": append([]int64{}, rep.Epochs...), "entries": rep.Entries, "index_rows": rep.IndexRows,
				"tiles": rep.Tiles, "checkpoints_trimmed": rep.Checkpoints, "retention": cfg.AuditRetention.String()})
		}
		if len(rep.Epochs) == 0 {
			fmt.Fprintf(stdout, "nothing to prune: no closed epoch is older than audit.retention (%s)\n", cfg.AuditRetention)
			return nil
		}
		fmt.Fprintf(stdout, "pruned epochs %v: %d entries, %d subject index rows, %d tiles deleted; every checkpoint kept\n",
			rep.Epochs, rep.Entries, rep.IndexRows, rep.Tiles)
		return nil
	}
	var eps []audit.Epoch
	var last int64
	if err := src.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		if eps, err = tx.ListEpochs(ctx); err != nil {
			return err
		}
		last, err = tx.LastAuditSeq(ctx)
		return err
	}); err != nil {
		return err
	}
	type row struct {
		Number  int64  `json:"number"`
		First   int64  `json:"first"`
		Last    int64  `json:"last,omitempty"`
		Opened  string `json:"opened,omitempty"`
		Closed  string `json:"closed,omitempty"`
		Deleted string `json:"deleted,omitempty"`
	}
	day := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	var rows []row
	for _, ep := range eps {
		rows = append(rows, row{ep.Number, ep.First, ep.Last, day(ep.Opened), day(ep.Closed), day(ep.Deleted)})
	}
	open := row{Number: 1, First: 1}
	if n := len(eps); n > 0 {
		open = row{Number: eps[n-1].Number + 1, First: eps[n-1].Last + 1, Opened: day(eps[n-1].Closed)}
	}
	if last >= open.First {
		rows = append(rows, open) // the open epoch, if it holds entries
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"epochs": append([]row{}, rows...), "epoch": cfg.AuditEpoch.String(), "retention": cfg.AuditRetention.String()})
	}
	fmt.Fprintf(stdout, "epoch\tfirst\tlast\tclosed\tdeleted\n")
	for _, r := range rows {
		lastS, closed, deleted := strconv.FormatInt(r.Last, 10), r.Closed, r.Deleted
		if r.Closed == "" {
			lastS, closed = "-", "open"
		}
		if deleted == "" {
			deleted = "-"
		}
		fmt.Fprintf(stdout, "%d\t%d\t%s\t%s\t%s\n", r.Number, r.First, lastS, closed, deleted)
	}
	return nil
}

// auditLog is what the audit subcommands read: the store, and the
// checkpoint verifier key that the data directory gives.
type auditLog struct {
	store store.Store
	// vkey is the signer's verifier key, or the one a sealed keyring
	// publishes; "" for a sealed keyring of format 1 or 2 opened without
	// shares, which publishes none.
	vkey  string
	close func() error
}

// openAuditLog opens the audit log of the data directory o names. With a
// sealed keyring and no --share-file it opens the store alone, unsealing
// nothing (openStoreOnly), and takes the verifier key the keyring
// publishes; otherwise it opens the app (the development key file, or
// the sealed keyring with M shares).
func openAuditLog(ctx context.Context, o appOptions, stderr io.Writer) (*auditLog, error) {
	if len(o.shareFiles) == 0 {
		cfg, err := loadConfig(o)
		if err != nil {
			return nil, err
		}
		f, err := seal.Read(seal.Path(cfg.DataDir))
		if err == nil {
			log, burst := newLogger(stderr, cfg.LogFormat)
			st, err := openStoreOnly(ctx, cfg, o, log)
			if err != nil {
				return nil, err
			}
			return &auditLog{store: st, vkey: f.AuditVerifier, close: func() error {
				defer burst.Flush()
				return st.Close()
			}}, nil
		} else if !errors.Is(err, iofs.ErrNotExist) {
			return nil, err
		}
	}
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return nil, err
	}
	return &auditLog{store: a.store, vkey: a.signer.VerifierKey(), close: a.close}, nil
}

// runHistory prints a subject's history with its proofs, as a file
// verify-subject checks.
func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit history", "SUBJECT [--dev | --config FILE] [--data DIR] [--size N]", "coffre audit history sub_… --dev > history.json", stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	o.shareFlag(fs)
	size := fs.Uint64("size", 0, "the `size` of the checkpoint to prove against (default: the latest)")
	if err := parse(fs, argFirst(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{msg: "want one subject id", hint: "coffre audit history sub_… --dev > history.json"}
	}
	src, err := openAuditLog(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer src.close()
	h, err := auditlog.SubjectHistory(ctx, src.store, fs.Arg(0), *size)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no checkpoint yet (or none of that size): the server's integrator signs one every second while entries arrive")
	}
	if err != nil {
		return err
	}
	return writeJSON(stdout, h)
}

// runVerifySubject checks a saved history offline: it needs the file and
// the log's verifier key, nothing else.
func runVerifySubject(args []string, stdout, stderr io.Writer) error {
	const example = "coffre audit verify-subject history.json --key \"$(coffre audit key --dev)\" --newest 1234:9f86d0…"
	fs := newFlags("audit verify-subject", "FILE --key KEY [--newest SEQ:LEAFHASH] [--json]", example, stderr)
	key := fs.String("key", "", "the log's verifier `key` (from 'coffre audit key' or keys init)")
	newestFlag := fs.String("newest", "", "the newest entry a notice named, as `SEQ:LEAFHASH` (leaf hash in hex): it must be in the history")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, argFirst(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 || *key == "" {
		return &usageError{msg: "want a history file and --key", hint: example}
	}
	if _, err := note.NewVerifier(*key); err != nil {
		return &usageError{msg: "--key is not a checkpoint verifier key", hint: "the key as 'coffre audit key' or keys init printed it: coffre/audit+…+…"}
	}
	var newest *auditlog.Newest
	if *newestFlag != "" {
		var err error
		if newest, err = auditlog.ParseNewest(*newestFlag); err != nil {
			return &usageError{msg: "--newest: " + err.Error(), hint: example}
		}
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	h, err := auditlog.ParseHistory(f)
	if err == nil {
		var rep *auditlog.HistoryReport
		if rep, err = auditlog.VerifyHistory(h, *key, newest); err == nil {
			if *asJSON {
				return writeJSON(stdout, map[string]any{"ok": true, "subject": rep.Subject, "entries": rep.Entries,
					"checkpoint_size": rep.Size, "complete_from": rep.IndexFrom, "newest_seen": rep.NewestSeen, "withheld": rep.Withheld})
			}
			fmt.Fprintf(stdout, "history of %s verified: %d entries, complete from entry %d up to the checkpoint of size %d", rep.Subject, rep.Entries, rep.IndexFrom, rep.Size)
			if rep.NewestSeen {
				fmt.Fprintf(stdout, "; holds the notice's entry %d", newest.Seq)
			}
			if rep.Withheld > 0 {
				fmt.Fprintf(stdout, "; %d withheld until their date (in their place, content not shown)", rep.Withheld)
			}
			fmt.Fprintln(stdout)
			return nil
		}
	}
	if *asJSON {
		writeJSON(stdout, map[string]any{"ok": false, "reason": err.Error()})
	}
	return err
}

// runVerifyEvidence checks an evidence bundle offline: it needs the
// directory and the log's verifier key (--key, else the bundle's own, with
// a warning), no store.
func runVerifyEvidence(args []string, stdout, stderr io.Writer) error {
	const example = "coffre audit verify-evidence ./evidence --key \"$(coffre audit key --dev)\""
	fs := newFlags("audit verify-evidence", "DIR [--key KEY] [--json]", example, stderr)
	key := fs.String("key", "", "the log's verifier `key` as the organisation publishes it (default: the bundle's own key file)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, argFirst(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{msg: "want the bundle's directory", hint: example}
	}
	dir := fs.Arg(0)
	own := *key == ""
	if own {
		b, err := os.ReadFile(filepath.Join(dir, evidenceKey))
		if err != nil {
			return err
		}
		*key = strings.TrimSpace(string(b))
	}
	if _, err := note.NewVerifier(*key); err != nil {
		return &usageError{msg: "the key is not a checkpoint verifier key", hint: "the key as 'coffre audit key' or keys init printed it: coffre/audit+…+…"}
	}
	ev, err := readEvidence(dir)
	var rep *auditlog.EvidenceReport
	if err == nil {
		rep, err = auditlog.VerifyEvidence(ev, *key)
	}
	if err != nil {
		if *asJSON {
			writeJSON(stdout, map[string]any{"ok": false, "reason": err.Error()})
		}
		return err
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"ok": true, "incident": ev.Header.Incident, "entries": rep.Entries,
			"checkpoint_size": rep.Size, "from": rep.From, "to": rep.To, "key_from_bundle": own})
	}
	to := "no end"
	if !rep.To.IsZero() {
		to = rep.To.Format(time.RFC3339)
	}
	fmt.Fprintf(stdout, "evidence verified: %d entries of %s, timed from %s to %s, each in the log signed at size %d: OK\n",
		rep.Entries, ev.Header.Incident, rep.From.Format(time.RFC3339), to, rep.Size)
	if own {
		fmt.Fprintf(stdout, "note: checked with the bundle's own key (%s); compare it with the key the organisation publishes, or pass --key\n", *key)
	}
	return nil
}
