package config

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/google/uuid"
	"gopkg.in/yaml.v3"

	"github.com/coffre/coffre/internal/policy"
)

// exampleAAGUID is an AAGUID the messages show (a YubiKey 5 series model).
const exampleAAGUID = "cb69481e-8ff7-4039-93ec-0a2729a154a8"

// attestation checks webauthn.attestation: the AAGUIDs and the root
// certificates that roles with attested_keys accept.
func (p *parser) attestation(aaguids, roots leaf) Attestation {
	var a Attestation
	a.AAGUIDs, _ = each(p, aaguids, true, checkAAGUID)
	each(p, roots, true, func(s string) (string, string) {
		certs, msg := readRoots(s)
		a.Roots = append(a.Roots, certs...)
		return s, msg
	})
	return a
}

// checkAAGUID reads an AAGUID in its canonical form.
func checkAAGUID(s string) (uuid.UUID, string) {
	id, err := uuid.Parse(s)
	switch {
	case err != nil || len(s) != 36:
		return id, fmt.Sprintf("invalid AAGUID %s: want a UUID such as %s (the authenticator model's AAGUID, from its vendor or the FIDO metadata service)", short(s), exampleAAGUID)
	case id == uuid.Nil:
		return id, "the zero AAGUID names no authenticator model (U2F keys and anonymised passkeys report it): leave aaguids out to accept every key whose attestation chains to roots"
	}
	return id, ""
}

// readRoots reads the certificates of one item of webauthn.attestation.roots:
// PEM text, or the path of a PEM file.
func readRoots(s string) ([]*x509.Certificate, string) {
	what, data := "inline PEM", []byte(s)
	if !strings.Contains(s, "-----BEGIN") {
		what = "file " + short(s)
		f, err := os.Open(s)
		if err != nil {
			var pe *fs.PathError
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Sprintf("no such file %s: want the path of a PEM file of root certificates (relative to the working directory), or the PEM text itself", short(s))
			} else if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Sprintf("cannot read %s: %v", what, err)
		}
		defer f.Close()
		if data, err = io.ReadAll(io.LimitReader(f, maxRootsFile+1)); err != nil {
			return nil, fmt.Sprintf("cannot read %s: %v", what, err)
		} else if len(data) > maxRootsFile {
			return nil, fmt.Sprintf("%s is over %d bytes: want a PEM file of root certificates", what, maxRootsFile)
		}
	}
	var certs []*x509.Certificate
	for i := 1; ; i++ {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Sprintf("%s holds a PEM %s block: want CERTIFICATE blocks only", what, short(b.Type))
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Sprintf("certificate %d of %s does not parse: %v", i, what, err)
		}
		if c.BasicConstraintsValid && !c.IsCA {
			return nil, fmt.Sprintf("certificate %d of %s (%s) is not a CA: give the root that issues the attestation certificates, not an attestation certificate", i, what, short(c.Subject.CommonName))
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Sprintf("no PEM certificate in %s: want -----BEGIN CERTIFICATE----- blocks", what)
	}
	return certs, ""
}

// attestedKeys reads a role's attested_keys into r. mfaOK says the role's
// mfa is valid, roots is webauthn.attestation.roots: a role that demands
// attested keys logs in with a security key only, and needs roots to check
// them against.
func (p *parser) attestedKeys(v roleFile, r *policy.Role, mfaOK bool, roots leaf) {
	if b, ok := read[bool](p, v.AttestedKeys); !ok || !b {
		return
	}
	r.AttestedKeys = true
	if mfaOK && (len(r.MFA) != 1 || r.MFA[0] != "webauthn") {
		also := "TOTP too, since mfa is left out"
		if v.MFA.set() {
			also = "TOTP too"
		}
		p.bad(v.AttestedKeys, "demands attested security keys, but the role logs in with %s: set mfa: [webauthn]", also)
	}
	if rn := deref(roots.n); !roots.set() || (rn.Kind == yaml.SequenceNode && len(rn.Content) == 0) {
		p.bad(v.AttestedKeys, "demands attested security keys, but webauthn.attestation.roots is empty: list the attestation root certificates of the key models you accept")
	}
}
