package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/coffre/coffre/internal/auditlog"
)

// Files of an evidence bundle's directory.
const (
	evidenceCheckpoint = "checkpoint"
	evidenceEntries    = "entries.jsonl"
	evidenceKey        = "key"
	evidenceReadme     = "README.md"
)

// emptyDir refuses a directory that exists and holds anything: a bundle
// is written whole into a directory of its own, never over another.
func emptyDir(dir string) error {
	names, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case len(names) > 0:
		return &usageError{msg: fmt.Sprintf("--out %s exists and is not empty: the bundle goes into a new directory", dir), hint: "coffre incident evidence inc_… --out ./evidence-" + time.Now().UTC().Format("20060102")}
	}
	return nil
}

// writeEvidence writes the bundle into dir (made mode 0700, or an empty
// one set to it): the signed checkpoint, the entries, the verifier key
// and the README, each mode 0600 and created anew.
func writeEvidence(dir string, ev *auditlog.Evidence, key string) error {
	if err := emptyDir(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	var entries, readme bytes.Buffer
	if err := ev.WriteEntries(&entries); err != nil {
		return err
	}
	if err := evidenceREADME(&readme, ev, key); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{evidenceCheckpoint, ev.Checkpoint},
		{evidenceEntries, entries.Bytes()},
		{evidenceKey, []byte(key + "\n")},
		{evidenceReadme, readme.Bytes()},
	} {
		if err := writeNew(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// writeNew writes a file that must not exist yet, mode 0600.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readEvidence reads a bundle's checkpoint and entries from dir.
func readEvidence(dir string) (*auditlog.Evidence, error) {
	cp, err := os.Open(filepath.Join(dir, evidenceCheckpoint))
	if err != nil {
		return nil, err
	}
	defer cp.Close()
	entries, err := os.Open(filepath.Join(dir, evidenceEntries))
	if err != nil {
		return nil, err
	}
	defer entries.Close()
	return auditlog.ParseEvidence(cp, entries)
}

func evidenceREADME(w io.Writer, ev *auditlog.Evidence, key string) error {
	h := ev.Header
	to := "— (sans fin / no end)"
	if !h.To.IsZero() {
		to = h.To.Format(time.RFC3339)
	}
	return readmeTemplate.Execute(w, map[string]any{
		"Incident": h.Incident, "Scope": h.Scope, "From": h.From.Format(time.RFC3339), "To": to,
		"Entries": h.Entries, "Scanned": h.Scanned, "Size": h.Size, "First": h.First, "Last": h.Last,
		"Key": key, "Origin": strings.SplitN(string(ev.Checkpoint), "\n", 2)[0],
	})
}

var readmeTemplate = template.Must(template.New("README").Parse(`# Preuve — journal d'audit Coffre / Evidence — Coffre audit log

Incident {{.Incident}} · {{.Scope}}
Fenêtre / window: {{.From}} → {{.To}} · {{.Entries}} entrées / entries ·
point de contrôle / checkpoint: {{.Size}} entrées / entries

## Français

Ce dossier contient les entrées du journal d'audit de Coffre qui
concernent le périmètre de l'incident (les comptes, partenaires ou
adresses compromis) pendant la fenêtre ci-dessus, chacune avec la preuve
qu'elle figure, inchangée, dans le journal signé.

- ` + "`checkpoint`" + ` : le point de contrôle signé (une « note » signée Ed25519) : le
  nom du journal, son nombre d'entrées et la racine de son arbre de Merkle.
- ` + "`entries.jsonl`" + ` : une ligne d'en-tête (incident, périmètre, fenêtre,
  décomptes), puis une ligne JSON par entrée : son numéro (` + "`seq`" + `), l'entrée
  lisible (` + "`entry`" + ` : heure, acteur, action, personne concernée par son
  identifiant, finalité, champs, décision, adresse), la feuille telle que
  le journal la stocke (` + "`leaf`" + `, base64) et sa preuve d'inclusion (` + "`proof`" + `).
  Aucune valeur personnelle : des identifiants et des noms de champs.
- ` + "`key`" + ` : la clé de vérification publique du journal. Comparez-la à la clé
  publiée par l'organisation (` + "`coffre audit key`" + `) par un autre canal : une
  clé prise dans ce dossier ne prouve que sa cohérence interne.

**Ce que cela prouve.** Chaque entrée listée figure, à son numéro et
octet pour octet, dans le journal dont le détenteur de la clé privée a
signé le point de contrôle ; elle est datée dans la fenêtre. Toute
modification d'une entrée, d'une preuve ou de la signature fait échouer
la vérification, en nommant l'entrée.

**Ce que cela ne prouve pas.** Rien sur les entrées hors de ce dossier :
ni sur celles hors de la fenêtre ou du périmètre, ni, à partir de ce seul
dossier, qu'aucune entrée du périmètre n'a été omise. Coffre a vérifié,
en le constituant, toute la fenêtre (entrées {{.First}} à {{.Last}}, dont
{{.Scanned}} datées dans la fenêtre) contre le point de contrôle et y a
retenu exactement les accès du périmètre ; qui détient le journal peut le
refaire (` + "`coffre audit verify`" + `). L'en-tête n'est pas signé. Les heures
sont celles du serveur.

**Vérifier.** ` + "`coffre audit verify-evidence DOSSIER --key CLÉ`" + ` (hors
ligne, sans la base). À la main : voir « By hand » ci-dessous.

## English

This directory holds the Coffre audit log's entries that are the
incident's scope's accesses (the compromised accounts, partners or
addresses) in the window above, each with the proof that it is, unaltered,
in the signed log.

- ` + "`checkpoint`" + `: the signed checkpoint (an Ed25519-signed note): the log's
  name, its number of entries and its Merkle tree's root.
- ` + "`entries.jsonl`" + `: a header line (incident, scope, window, counts), then one
  JSON line per entry: its number (` + "`seq`" + `), the entry to read (` + "`entry`" + `: time,
  actor, action, the person concerned by id, purpose, fields, decision,
  address), the leaf as the log stores it (` + "`leaf`" + `, base64) and its
  inclusion proof (` + "`proof`" + `). No personal value: ids and field names.
- ` + "`key`" + `: the log's public verifier key. Compare it with the key the
  organisation publishes (` + "`coffre audit key`" + `) through another channel: a key
  taken from this directory proves only that the bundle is consistent.

**What it proves.** Each entry listed is, at its number and byte for
byte, in the log whose checkpoint the holder of the private key signed,
and is timed within the window. Changing an entry, a proof or the
signature makes verification fail, naming the entry.

**What it does not prove.** Nothing about entries outside this directory:
neither those outside the window or the scope, nor, from this directory
alone, that no entry of the scope was left out. When building it, Coffre
verified the whole window (entries {{.First}} to {{.Last}}, {{.Scanned}} of
them timed in the window) against the checkpoint and kept exactly the
scope's accesses; whoever holds the log can do it again (` + "`coffre audit\nverify`" + `). The header is not signed. Times are the server's.

**Verify.** ` + "`coffre audit verify-evidence DIR --key KEY`" + ` (offline, no
database needed).

### By hand

1. The checkpoint is a signed note (golang.org/x/mod/sumdb/note, C2SP
   signed-note): a body, a blank line, then signature lines
   ` + "`— <name> <base64(4-byte key hash ‖ 64-byte Ed25519 signature)>`" + `. The
   body's lines are the log's name (` + "`{{.Origin}}`" + `), the log size and
   the base64 root hash (then an optional ` + "`subject-index …`" + ` line). The key is
   ` + "`<name>+<key hash, 8 hex>+<base64(0x01 ‖ 32-byte Ed25519 public key)>`" + `:
   {{.Key}}
   The signature is over the body's bytes, newline included.
2. Each leaf is ` + "`coffre-audit/v1`" + ` followed by ten fields, each an unsigned
   varint length then its bytes: seq (decimal), time (Unix microseconds,
   decimal), actor, action, subject, purpose, reason, fields
   (comma-separated), decision, origin. ` + "`entry`" + ` must say the same.
3. Hashing is RFC 6962 (SHA-256): leaf hash = SHA-256(0x00 ‖ leaf), node
   = SHA-256(0x01 ‖ left ‖ right). Entry ` + "`seq`" + ` is leaf index seq−1; its
   ` + "`proof`" + ` is the RFC 6962 audit path (RFC 9162 §2.1.3.2 gives the
   check) from that leaf hash to the root, in a tree of the checkpoint's
   size.
`))
