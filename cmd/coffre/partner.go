package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

const partnerExample = "coffre partner add mission-locale --sector employment --unit ac-versailles --dev"

func runPartner(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintf(stderr, "Usage: coffre partner add NAME --sector SECTOR --unit UNIT [--role ROLE] [--out DIR] [--dev | --config FILE] [--json]\n"+
			"       coffre partner rotate NAME [--out DIR] [--dev | --config FILE] [--json]\n\n"+
			"Registers a partner organisation and issues its credentials: a client certificate\n"+
			"from Coffre's CA and an API key, both needed on the partner listener (partners.listen).\n"+
			"rotate issues new ones; the old stop working at once.\n\nExample:\n  %s\n", partnerExample)
		return flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "add" && args[0] != "rotate" {
		return &usageError{msg: "want a subcommand: add or rotate", hint: partnerExample}
	}
	sub := args[0]
	fs := newFlags("partner "+sub, "NAME [flags]", partnerExample, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	sector := fs.String("sector", "", "the partner's `sector` (its pseudonyms are the sector's)")
	unit := fs.String("unit", "", "the partner's organisational `unit`")
	role := fs.String("role", "partner", "the `role` its clients act under")
	out := fs.String("out", "", "`directory` for the certificate, key and CA files (default DATA/partners)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	args = args[1:]
	if err := parse(fs, argFirst(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 || !vault.ValidUnit(fs.Arg(0)) {
		return &usageError{msg: "want one partner name: 1 to 64 characters a-z, 0-9, '-', '_', '.'", hint: partnerExample}
	}
	name := fs.Arg(0)
	if sub == "add" && (!vault.ValidUnit(*sector) || !vault.ValidUnit(*unit)) {
		return &usageError{msg: "--sector and --unit are required: 1 to 64 characters a-z, 0-9, '-', '_', '.'", hint: partnerExample}
	}
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	var np *auth.NewPartner
	if sub == "add" {
		r, rerr := a.cfg.Policy.Role(*role)
		if rerr != nil || !r.Partner {
			return &usageError{msg: fmt.Sprintf("--role %q: want a partner role of the configuration (partner: true)", *role), hint: "the demo has a partner role"}
		}
		np, err = a.auth.AddPartner(ctx, a.ca, name, *sector, *role, *unit)
	} else {
		np, err = a.auth.RotatePartner(ctx, a.ca, name)
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		return &usageError{msg: fmt.Sprintf("partner %q exists", name), hint: "coffre partner rotate " + name}
	case errors.Is(err, store.ErrNotFound):
		return &usageError{msg: fmt.Sprintf("no partner %q", name), hint: partnerExample}
	case err != nil:
		return err
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(a.cfg.DataDir, "partners")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	files := map[string][]byte{name + ".crt": np.Cert.CertPEM, name + ".key": np.Cert.KeyPEM, "coffre-ca.crt": a.ca.CertPEM()}
	for f, b := range files {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			return err
		}
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"name": name, "id": np.Partner.ID, "sector": np.Partner.Sector,
			"credentials": map[string]string{"add": "issued", "rotate": "rotated"}[sub],
			"certificate": filepath.Join(dir, name+".crt"), "key": filepath.Join(dir, name+".key"), "ca": filepath.Join(dir, "coffre-ca.crt"),
			"api_key": np.APIKey})
	}
	fmt.Fprintf(stdout, "partner %s (%s), sector %s: credentials %s\n  certificate %s\n  key         %s\n  CA          %s\nAPI key (shown once; send it as Coffre-Api-Key): %s\n",
		name, np.Partner.ID, np.Partner.Sector, map[string]string{"add": "issued", "rotate": "rotated; the old ones no longer work"}[sub],
		filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), filepath.Join(dir, "coffre-ca.crt"), np.APIKey)
	return nil
}
