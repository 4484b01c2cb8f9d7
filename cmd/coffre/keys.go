package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"filippo.io/age"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/keyset"
	"github.com/coffre/coffre/internal/rootkey"
	"github.com/coffre/coffre/internal/seal"
	"github.com/coffre/coffre/internal/unseal"
)

// unsealKeySize is the unseal key's size, which the shares split.
const unsealKeySize = 32

const keysInitExample = "coffre keys init --config coffre.yaml --shares 5 --threshold 3"

const keysInitHSMExample = "coffre keys init --config coffre.yaml --shares 5 --threshold 3 --hsm --generate-key"

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stderr, "Usage: coffre keys init (--config FILE | --data DIR) --shares N --threshold M [--hsm [--generate-key]] [--out DIR [--recipient AGE_PUBKEY… | --recipient-file FILE]] [--json]\n"+
			"       coffre keys rotate --reason TEXT [--url URL | --config FILE] [--json]\n"+
			"       coffre keys reindex --reason TEXT [--url URL | --config FILE] [--json]\n"+
			"       coffre keys status [--url URL | --config FILE] [--json]\n\n"+
			"  init  create a root key, an audit checkpoint signing key and a partner CA key,\n        seal each in the data directory under its own key derived from an unseal\n        key, and split the unseal key into N shares, any M of which unseal the vault;\n        with --hsm, the key of the configuration's seal.pkcs11 wraps the unseal key\n        too, and serve unseals at start through the token without shares;\n        with --recipient (once per holder), share i is written to --out\n        encrypted with age to the i-th holder's public key, and never printed;\n        prints the checkpoint verifier key, to publish\n"+
			"  rotate  add a root key version on the running server (COFFRE_TOKEN: an operator\n          with the seal permission); it rewraps every data key in the background\n"+
			"  reindex  rebuild the blind index under a new key on the running server, beside\n           the old one; lookups switch to it once it is built\n"+
			"  status  the root key versions, the keys under each, the rewrap progress;\n          the blind index generations and the rebuild's progress\n\n"+
			"Example:\n  "+keysInitExample+"\n")
		return flag.ErrHelp
	}
	switch {
	case len(args) == 0:
	case args[0] == "init":
		return runKeysInit(ctx, args[1:], stdout, stderr)
	case args[0] == "rotate":
		return runKeysRotate(ctx, args[1:], stdout, stderr)
	case args[0] == "reindex":
		return runKeysReindex(ctx, args[1:], stdout, stderr)
	case args[0] == "status":
		return runKeysStatus(ctx, args[1:], stdout, stderr)
	}
	return &usageError{msg: "want a subcommand: init, rotate, reindex or status", hint: keysInitExample}
}

// keysInitJSON is the --json output of keys init.
type keysInitJSON struct {
	Keyring string `json:"keyring"`
	Set     string `json:"set"`
	// AuditVerifier is the checkpoint verifier key, published.
	AuditVerifier string          `json:"audit_verifier"`
	Shares        int             `json:"shares"`
	Threshold     int             `json:"threshold"`
	HSM           string          `json:"hsm,omitempty"`
	Items         []keysShareJSON `json:"items"`
}

type keysShareJSON struct {
	Index int    `json:"index"`
	Share string `json:"share,omitempty"`
	File  string `json:"file,omitempty"`
}

func runKeysInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys init", "(--config FILE | --data DIR) --shares N --threshold M [--hsm [--generate-key]] [--out DIR [--recipient AGE_PUBKEY… | --recipient-file FILE]] [--json]", keysInitExample, stderr)
	configPath := fs.String("config", os.Getenv("COFFRE_CONFIG"), "configuration `file` whose data_dir receives the sealed keyring; default $COFFRE_CONFIG")
	dataDir := fs.String("data", "", "data `directory` that receives the sealed keyring (overrides the configuration's)")
	n := fs.Int("shares", 0, "split the root key into `N` shares, one per holder (2 to 16)")
	m := fs.Int("threshold", 0, "any `M` shares unseal the vault (2 to N)")
	out := fs.String("out", "", "write each share to its own file in `DIR` (mode 0600) instead of printing it")
	var recips stringsFlag
	fs.Var(&recips, "recipient", "with --out: encrypt share i with age to the i-th `AGE_PUBKEY` (age1…); give it once per share, one per holder")
	recipFile := fs.String("recipient-file", "", "with --out: the holders' age public keys from `FILE`, one per line in the order of the shares (# comments)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	hsm := fs.Bool("hsm", false, "wrap the unseal key with the key of the configuration's seal.pkcs11 too, so that serve unseals at start without shares")
	generate := fs.Bool("generate-key", false, "with --hsm: generate the AES key in the token first (else it must exist)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{msg: "unexpected argument " + strconv.Quote(fs.Arg(0)), hint: keysInitExample}
	}
	if *generate && !*hsm {
		return &usageError{msg: "--generate-key goes with --hsm", hint: keysInitHSMExample}
	}
	switch {
	case *n == 0 || *m == 0:
		return &usageError{msg: "--shares and --threshold are required", hint: keysInitExample}
	case *m < unseal.MinThreshold:
		return &usageError{
			msg:  fmt.Sprintf("--threshold must be at least %d: one share alone would be the root key itself, with none of the protection of a quorum", unseal.MinThreshold),
			hint: "for one person on one machine, 'coffre serve --dev' keeps a development key file",
		}
	case *n > unseal.MaxShares:
		return &usageError{msg: fmt.Sprintf("--shares must be at most %d", unseal.MaxShares), hint: keysInitExample}
	case *m > *n:
		return &usageError{msg: fmt.Sprintf("--threshold %d is more than the %d shares: the key could never be rebuilt", *m, *n), hint: keysInitExample}
	}
	var holders []age.Recipient
	if len(recips) > 0 || *recipFile != "" {
		if *out == "" {
			return &usageError{msg: "--recipient and --recipient-file want --out DIR: the encrypted shares are written there, one file per holder", hint: keysInitRecipientExample}
		}
		var err error
		if holders, err = shareRecipients(recips, *recipFile, *n); err != nil {
			return err
		}
	}
	dir := *dataDir
	var hsmConf config.PKCS11
	if *configPath != "" && (dir == "" || *hsm) {
		cfg, err := loadConfig(appOptions{configPath: *configPath})
		if err != nil {
			return err
		}
		if dir == "" {
			dir = cfg.DataDir
		}
		hsmConf = cfg.Seal.PKCS11
	}
	if *hsm && hsmConf.Module == "" {
		return &usageError{msg: "--hsm wants --config with a seal.pkcs11 section (module, token, key, pin_file or pin_env)", hint: keysInitHSMExample}
	}
	if dir == "" {
		return &usageError{msg: "want --config or --data: the sealed keyring goes into the data directory", hint: keysInitExample}
	}
	sealedPath := seal.Path(dir)
	if _, err := os.Stat(sealedPath); err == nil {
		return &usageError{msg: "the data directory has a sealed keyring already: " + sealedPath, hint: "its shares unseal it; a new one would leave the data unreadable"}
	}

	// The shares protect an unseal key, which encrypts the keyring (the
	// root seeds by version): a rotation rewrites the sealed keyring and
	// calls no share holder back. The checkpoint signer and the partner
	// CA are keys of their own, each sealed under its own key derived
	// from the unseal key: whoever holds the root seeds can forge
	// neither checkpoints nor partners.
	unsealKey := make([]byte, unsealKeySize)
	rand.Read(unsealKey)
	defer clear(unsealKey)
	shares, err := unseal.Split(unsealKey, *n, *m)
	if err != nil {
		return err
	}
	set := shares[0].Set()
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	c := seal.Contents{Keyring: rootkey.Marshal(map[uint32][]byte{1: seed}, 1), AuditSeed: make([]byte, keyset.SeedSize), CASeed: make([]byte, keyset.SeedSize)}
	clear(seed)
	rand.Read(c.AuditSeed)
	rand.Read(c.CASeed)
	defer func() {
		clear(c.Keyring)
		clear(c.AuditSeed)
		clear(c.CASeed)
	}()
	signer, err := audit.NewSigner(auditlog.Origin, c.AuditSeed)
	if err != nil {
		return err
	}
	c.AuditVerifier = signer.VerifierKey()
	var wrapped []byte
	if *hsm {
		if wrapped, err = wrapUnsealKey(ctx, hsmConf, *generate, unsealKey); err != nil {
			return err
		}
	}
	f, err := seal.Seal(unsealKey, set, *m, *n, c, wrapped)
	if err != nil {
		return err
	}
	res := keysInitJSON{Keyring: sealedPath, Set: set, AuditVerifier: f.AuditVerifier, Shares: *n, Threshold: *m}
	if *hsm {
		res.HSM = describeHSM(hsmConf)
	}
	// Everything is encrypted in memory first; the share files are written
	// before the keyring and removed if it cannot be written, so a failed
	// init leaves neither.
	if *out == "" {
		if err := seal.Write(sealedPath, f); err != nil {
			return err
		}
		for _, s := range shares {
			res.Items = append(res.Items, keysShareJSON{Index: s.Index(), Share: s.Text()})
		}
	} else {
		files, err := shareFiles(shares, holders)
		if err != nil {
			return err
		}
		paths, undo, err := writeShares(*out, files)
		for _, sf := range files {
			clear(sf.body)
		}
		if err != nil {
			return err
		}
		if err := seal.Write(sealedPath, f); err != nil {
			undo()
			return err
		}
		for i, p := range paths {
			res.Items = append(res.Items, keysShareJSON{Index: i + 1, File: p})
		}
	}

	fmt.Fprintf(stderr, "WARNING: these %d shares are the only way to the new root key: Coffre keeps it sealed under them.\n"+
		"Give each to a different person, who keeps it offline. Any %d of them unseal the vault;\n"+
		"with fewer than %d left, everything encrypted under this key is lost for good.\n", *n, *m, *m)
	switch {
	case holders != nil:
		fmt.Fprintln(stderr, "Each file is encrypted to its holder's age key: send it to them, then delete it from this machine.")
	case *out != "":
		fmt.Fprintln(stderr, "Hand each file to its holder, then delete it from this machine.")
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "root key created and sealed in %s; its unseal key is split into %d shares, any %d of which unseal it (share set %s)\n", sealedPath, *n, *m, set)
	fmt.Fprintf(stdout, "checkpoint verifier key (publish it; auditors verify the audit log against it): %s\n", res.AuditVerifier)
	if res.HSM != "" {
		fmt.Fprintf(stdout, "the unseal key is also wrapped by %s: serve unseals at start through it; the shares are the recovery when the token is lost\n", res.HSM)
	}
	for _, it := range res.Items {
		if it.File != "" {
			fmt.Fprintf(stdout, "share %d of %d: written to %s\n", it.Index, *n, it.File)
		} else {
			fmt.Fprintf(stdout, "share %d of %d: %s\n", it.Index, *n, it.Share)
		}
	}
	return nil
}

// wrapUnsealKey wraps key with the token key of c (generated first when
// generate is set) and checks that it unwraps to key again.
func wrapUnsealKey(ctx context.Context, c config.PKCS11, generate bool, key []byte) ([]byte, error) {
	w, closeHSM, err := openHSM(c, generate)
	if err != nil {
		return nil, fmt.Errorf("--hsm: %w", err)
	}
	defer closeHSM()
	wrapped, err := w.Wrap(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("--hsm: wrap the unseal key: %w", err)
	}
	back, err := w.Unwrap(ctx, wrapped)
	if err != nil {
		return nil, fmt.Errorf("--hsm: unwrap the unseal key again: %w", err)
	}
	ok := subtle.ConstantTimeCompare(back, key) == 1
	clear(back)
	if !ok {
		return nil, errors.New("--hsm: the token gave back another unseal key than it wrapped")
	}
	return wrapped, nil
}

// shareFile is a share file's name in the --out directory and its
// content.
type shareFile struct {
	name string
	body []byte
}

// shareFiles makes the share files: each share's line in a .txt file, or,
// with holders, the line encrypted to holders[i] in a .age file.
func shareFiles(shares []unseal.Share, holders []age.Recipient) ([]shareFile, error) {
	files := make([]shareFile, len(shares))
	for i, s := range shares {
		name := fmt.Sprintf("coffre-share-%s-%d-of-%d", s.Set(), s.Index(), s.Total())
		if holders == nil {
			files[i] = shareFile{name + ".txt", []byte(s.Text() + "\n")}
			continue
		}
		body, err := encryptShare(s, holders[i])
		if err != nil {
			return nil, err
		}
		files[i] = shareFile{name + ".age", body}
	}
	return files, nil
}

// writeShares writes each share file to its own new file in dir (created,
// mode 0700, when missing), readable by its owner only. It refuses to
// overwrite a file. On an error it removes what it wrote, dir too when it
// made it, so no partial set is left behind; undo does the same after a
// success.
func writeShares(dir string, files []shareFile) (paths []string, undo func(), err error) {
	_, serr := os.Stat(dir)
	made := errors.Is(serr, fs.ErrNotExist)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create --out: %w", err)
	}
	undo = func() {
		for _, p := range paths {
			os.Remove(p)
		}
		if made {
			os.Remove(dir) // only when empty: MkdirAll may have made its parents too, which stay
		}
	}
	for _, sf := range files {
		name := filepath.Join(dir, sf.name)
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			undo()
			return nil, nil, fmt.Errorf("write share: %w", err)
		}
		paths = append(paths, name)
		_, werr := f.Write(sf.body)
		serr := f.Sync()
		if cerr := f.Close(); werr == nil && serr == nil {
			werr = cerr
		}
		if err := errors.Join(werr, serr); err != nil {
			undo()
			return nil, nil, fmt.Errorf("write share: %w", err)
		}
	}
	return paths, undo, nil
}
