package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
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
		fmt.Fprint(stderr, "Usage: coffre keys init (--config FILE | --data DIR) --shares N --threshold M [--hsm [--generate-key]] [--out DIR] [--json]\n"+
			"       coffre keys rotate --reason TEXT [--url URL | --config FILE] [--json]\n"+
			"       coffre keys reindex --reason TEXT [--url URL | --config FILE] [--json]\n"+
			"       coffre keys status [--url URL | --config FILE] [--json]\n\n"+
			"  init  create a root key, seal it in the data directory under an unseal key,\n        and split the unseal key into N shares, any M of which unseal the vault;\n        with --hsm, the key of the configuration's seal.pkcs11 wraps the unseal key\n        too, and serve unseals at start through the token without shares\n"+
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
	Keyring   string          `json:"keyring"`
	Set       string          `json:"set"`
	Shares    int             `json:"shares"`
	Threshold int             `json:"threshold"`
	HSM       string          `json:"hsm,omitempty"`
	Items     []keysShareJSON `json:"items"`
}

type keysShareJSON struct {
	Index int    `json:"index"`
	Share string `json:"share,omitempty"`
	File  string `json:"file,omitempty"`
}

func runKeysInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys init", "(--config FILE | --data DIR) --shares N --threshold M [--hsm [--generate-key]] [--out DIR] [--json]", keysInitExample, stderr)
	configPath := fs.String("config", os.Getenv("COFFRE_CONFIG"), "configuration `file` whose data_dir receives the sealed keyring; default $COFFRE_CONFIG")
	dataDir := fs.String("data", "", "data `directory` that receives the sealed keyring (overrides the configuration's)")
	n := fs.Int("shares", 0, "split the root key into `N` shares, one per holder (2 to 16)")
	m := fs.Int("threshold", 0, "any `M` shares unseal the vault (2 to N)")
	out := fs.String("out", "", "write each share to its own file in `DIR` (mode 0600) instead of printing it")
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
	if *out != "" {
		if err := os.MkdirAll(*out, 0o700); err != nil {
			return fmt.Errorf("create --out: %w", err)
		}
	}

	// The shares protect an unseal key, which encrypts the keyring (the
	// root seeds by version): a rotation rewrites the sealed keyring and
	// calls no share holder back.
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
	body := rootkey.Marshal(map[uint32][]byte{1: seed}, 1)
	clear(seed)
	var wrapped []byte
	if *hsm {
		if wrapped, err = wrapUnsealKey(ctx, hsmConf, *generate, unsealKey); err != nil {
			clear(body)
			return err
		}
	}
	f, err := seal.SealWrapped(unsealKey, set, *m, *n, body, wrapped)
	clear(body)
	if err != nil {
		return err
	}
	if err := seal.Write(sealedPath, f); err != nil {
		return err
	}
	res := keysInitJSON{Keyring: sealedPath, Set: set, Shares: *n, Threshold: *m}
	if *hsm {
		res.HSM = describeHSM(hsmConf)
	}
	if *out != "" {
		files, err := writeShares(*out, shares)
		if err != nil {
			return err
		}
		for i, f := range files {
			res.Items = append(res.Items, keysShareJSON{Index: i + 1, File: f})
		}
	} else {
		for _, s := range shares {
			res.Items = append(res.Items, keysShareJSON{Index: s.Index(), Share: s.Text()})
		}
	}

	fmt.Fprintf(stderr, "WARNING: these %d shares are the only way to the new root key: Coffre keeps it sealed under them.\n"+
		"Give each to a different person, who keeps it offline. Any %d of them unseal the vault;\n"+
		"with fewer than %d left, everything encrypted under this key is lost for good.\n", *n, *m, *m)
	if *out != "" {
		fmt.Fprintln(stderr, "Hand each file to its holder, then delete it from this machine.")
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "root key created and sealed in %s; its unseal key is split into %d shares, any %d of which unseal it (share set %s)\n", sealedPath, *n, *m, set)
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

// writeShares writes each share to its own new file in dir, readable by
// its owner only. It refuses to overwrite a file; on an error it removes
// the files it wrote, so no partial set is left behind.
func writeShares(dir string, shares []unseal.Share) (files []string, err error) {
	defer func() {
		if err != nil {
			for _, f := range files {
				os.Remove(f)
			}
			files = nil
		}
	}()
	for _, s := range shares {
		name := filepath.Join(dir, fmt.Sprintf("coffre-share-%s-%d-of-%d.txt", s.Set(), s.Index(), s.Total()))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return files, fmt.Errorf("write share: %w", err)
		}
		files = append(files, name)
		_, werr := io.WriteString(f, s.Text()+"\n")
		serr := f.Sync()
		if cerr := f.Close(); werr == nil && serr == nil {
			werr = cerr
		}
		if err := errors.Join(werr, serr); err != nil {
			return files, fmt.Errorf("write share: %w", err)
		}
	}
	return files, nil
}
