package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/coffre/coffre/internal/unseal"
)

// A share file is a share's text on one line (keys init --out), or that
// line encrypted with age to its holder's public key, ASCII-armored (keys
// init --recipient). readShare reads both; an encrypted one opens with
// the holder's age identity file (--identity).

// shareFileMax bounds what a share file may hold: an armored age file of
// the longest share is under 1 KiB.
const shareFileMax = 64 << 10

// shareTextMax bounds a decrypted share: the longest share is under 256
// bytes.
const shareTextMax = 4 << 10

// ageBinaryPrefix opens a binary age file: its version line.
const ageBinaryPrefix = "age-encryption.org/"

const recipientHint = "an age public key, as age-keygen prints it: age1… (one per holder, in the order of the shares)"

const keysInitRecipientExample = "coffre keys init --config coffre.yaml --shares 3 --threshold 2 --out shares --recipient age1… --recipient age1… --recipient age1…"

// shareRecipients returns the holders' age recipients for keys init: the
// --recipient values, or the lines of the --recipient-file file (blank
// lines and # comments skipped), exactly n, pairwise distinct, in the
// order of the shares. Errors are usage errors naming which one was
// wrong; they never repeat a value, which might be a secret key pasted by
// mistake.
func shareRecipients(values []string, file string, n int) ([]age.Recipient, error) {
	type entry struct{ where, text string }
	var entries []entry
	var source string
	switch {
	case len(values) > 0 && file != "":
		return nil, &usageError{msg: "give --recipient (once per holder) or --recipient-file, not both", hint: keysInitRecipientExample}
	case file != "":
		raw, err := readLimited(file, shareFileMax)
		if err != nil {
			return nil, &usageError{msg: "--recipient-file: " + err.Error(), hint: "a file with one age public key (age1…) per line, in the order of the shares"}
		}
		for i, text := range strings.Split(string(raw), "\n") {
			text = strings.TrimSpace(text)
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			entries = append(entries, entry{fmt.Sprintf("--recipient-file %s: recipient %d (line %d)", file, len(entries)+1, i+1), text})
		}
		source = fmt.Sprintf("--recipient-file %s lists %d recipients", file, len(entries))
	default:
		for i, v := range values {
			entries = append(entries, entry{fmt.Sprintf("--recipient %d", i+1), strings.TrimSpace(v)})
		}
		source = fmt.Sprintf("--recipient is given %d times", len(values))
	}
	if len(entries) != n {
		return nil, &usageError{
			msg:  fmt.Sprintf("%s for %d shares: want exactly %d, one per holder (share i is encrypted to the i-th)", source, n, n),
			hint: keysInitRecipientExample,
		}
	}
	rs := make([]age.Recipient, n)
	seen := make(map[string]int, n)
	for i, e := range entries {
		if strings.HasPrefix(strings.ToUpper(e.text), "AGE-SECRET-KEY-") {
			return nil, &usageError{
				msg:  e.where + " is an age secret key, not a public key: consider that key exposed",
				hint: "give each holder's public key (age-keygen -y KEYFILE prints it): age1…",
			}
		}
		parsed, err := age.ParseRecipients(strings.NewReader(e.text))
		if err != nil || len(parsed) != 1 || strings.ContainsAny(e.text, "\r\n") {
			return nil, &usageError{msg: e.where + " is not an age public key", hint: recipientHint}
		}
		key := e.text
		if s, ok := parsed[0].(fmt.Stringer); ok {
			key = s.String()
		}
		if j, dup := seen[key]; dup {
			return nil, &usageError{
				msg:  fmt.Sprintf("%s is the same key as recipient %d: two shares to one holder defeat the quorum", e.where, j+1),
				hint: "give each holder's own public key, one per share",
			}
		}
		seen[key] = i
		rs[i] = parsed[0]
	}
	return rs, nil
}

// encryptShare encrypts a share's line to its holder's recipient, as an
// ASCII-armored age file.
func encryptShare(s unseal.Share, to age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, to)
	if err != nil {
		return nil, fmt.Errorf("encrypt share %d: %w", s.Index(), err)
	}
	_, werr := io.WriteString(w, s.Text()+"\n")
	cerr := w.Close()
	aerr := aw.Close()
	if err := errors.Join(werr, cerr, aerr); err != nil {
		return nil, fmt.Errorf("encrypt share %d: %w", s.Index(), err)
	}
	return buf.Bytes(), nil
}

// readShare reads the share in the file at path: a share's line, or that
// line age-encrypted (armored or binary) to its holder, which the age
// identity files identityPaths open. A plain share needs no identity
// and ignores any given.
func readShare(path string, identityPaths []string) (string, error) {
	raw, err := readLimited(path, shareFileMax)
	if err != nil {
		return "", fmt.Errorf("read share: %w", err)
	}
	return openShare(raw, "the share file "+path, identityPaths)
}

// openShare is readShare on raw, which it clears; what names the source
// in errors.
func openShare(raw []byte, what string, identityPaths []string) (string, error) {
	defer clear(raw)
	var src io.Reader
	switch {
	case bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte(armor.Header)):
		src = armor.NewReader(bytes.NewReader(raw))
	case bytes.HasPrefix(raw, []byte(ageBinaryPrefix)):
		src = bytes.NewReader(raw)
	default:
		return checkShare(strings.TrimSpace(string(raw)), what)
	}
	if len(identityPaths) == 0 {
		return "", &usageError{
			msg:  what + " is encrypted with age: add --identity FILE, the age identity (secret key) file of its holder",
			hint: "--identity ~/coffre-holder.key, or decrypt it yourself: age -d -i KEYFILE SHAREFILE | coffre unseal --share -",
		}
	}
	ids, err := readIdentities(identityPaths)
	if err != nil {
		return "", err
	}
	r, err := age.Decrypt(src, ids...)
	var nm *age.NoIdentityMatchError
	switch {
	case errors.As(err, &nm):
		msg := "this identity does not open " + what
		if len(identityPaths) > 1 {
			msg = "none of the --identity files opens " + what
		}
		return "", &usageError{
			msg:  msg + ": it is encrypted to another holder's key",
			hint: "pass --identity with the age identity file of the holder this share was written to",
		}
	case err != nil:
		return "", fmt.Errorf("%s is damaged or cut: not a whole age file", what)
	}
	text, err := io.ReadAll(io.LimitReader(r, shareTextMax))
	defer clear(text)
	if err != nil {
		return "", fmt.Errorf("%s is damaged or cut: not a whole age file", what)
	}
	return checkShare(strings.TrimSpace(string(text)), what)
}

// checkShare returns text if it is a share, and otherwise an error that
// does not quote it: a file given by mistake (an identity file, say) is
// never sent to a server.
func checkShare(text, what string) (string, error) {
	if _, err := unseal.Parse(text); err != nil {
		return "", &usageError{
			msg:  what + " holds no Coffre share (one line coffre-share-1:…), or it is mistyped or cut short",
			hint: "pass the file keys init wrote for this holder",
		}
	}
	return text, nil
}

// readLimited reads the file at path, refusing one of more than max bytes.
func readLimited(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > max {
		clear(raw)
		return nil, fmt.Errorf("%s is larger than %d KiB: not the file wanted", path, max>>10)
	}
	return raw, nil
}

// readIdentities reads age identity files (AGE-SECRET-KEY-1… lines, as
// age-keygen writes them). Its errors never quote the file's content.
func readIdentities(paths []string) ([]age.Identity, error) {
	var ids []age.Identity
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("--identity: %w", err)
		}
		got, err := age.ParseIdentities(f)
		f.Close()
		if err != nil {
			// age's own errors may quote a character of a secret key.
			return nil, &usageError{
				msg:  "--identity " + p + " is not an age identity file",
				hint: "the holder's secret key file, as age-keygen writes it: lines AGE-SECRET-KEY-1…",
			}
		}
		ids = append(ids, got...)
	}
	return ids, nil
}
