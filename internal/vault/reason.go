package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

// checkReason is the one check of a reason an operator typed, on every
// path that takes one (read, lookup, update, erase, legal holds, guard
// extensions and unlocks): at most the vault's limit (Config.ReasonMaxLen),
// valid UTF-8, one line without control characters, and, when the
// configuration sets limits.reason_pattern and the reason is not empty,
// beginning with a match of it (a ticket or case id). Whether a reason is
// required is the caller's rule (the purpose's, the act's). The error
// wraps access.ErrInvalid, with a hint; the caller audits the refusal
// (v.deny). Its text never quotes the reason.
func (v *Vault) checkReason(reason string) error {
	switch {
	case len(reason) > v.reasonMax:
		return invalid("reason longer than %d bytes", v.reasonMax).
			WithHint("a reason is short: a ticket or case number and a few words")
	case !utf8.ValidString(reason):
		return invalid("reason is not valid UTF-8")
	case strings.ContainsFunc(reason, unicode.IsControl):
		return invalid("reason holds control characters").
			WithHint("a reason is one line of printable text, without tabs or line breaks")
	case v.reasonPattern != nil && reason != "" && !v.reasonPattern.MatchString(reason):
		return invalid("reason does not begin with a reference of the form the configuration asks for").
			WithHint("begin the reason with the ticket or case id (limits.reason_pattern: " + v.reasonPatternText + ")")
	}
	return nil
}

// checkEmergency checks the text of a break-glass read's emergency as a
// reason, but for the reference pattern: an emergency has no ticket yet.
func (v *Vault) checkEmergency(why string) error {
	switch {
	case len(why) > v.reasonMax:
		return invalid("the emergency is longer than %d bytes", v.reasonMax)
	case !utf8.ValidString(why) || strings.ContainsFunc(why, unicode.IsControl):
		return invalid("the emergency holds control characters or invalid UTF-8").
			WithHint("say what the emergency is in one line of printable text")
	}
	return nil
}

// typedReason reports whether an entry of action carries the reason an
// operator typed (Coffre-Reason), rather than ids Coffre writes there
// (a hold's, a request's): those are the reasons sealed.
func typedReason(action string) bool {
	switch action {
	case "read", "lookup", "update", "erase":
		return true
	}
	return false
}

// sealReason seals the typed reason of e, an entry naming a subject,
// under that subject's data key, in the access's own transaction, so
// that the leaf holds only its ciphertext (leaf v2, package audit): an
// erasure of the person makes it unreadable without changing a hash.
// row is the subject's row when the caller read it already (nil: read
// here), and known its data key when the caller opened it already (nil:
// opened here). A subject that has no data key (unknown, or erased), and
// an erasure that destroys it, keep no reason (audit.DropReason). It
// returns the data key it used (nil if none), which the read path reuses
// to open the fields once the entry is durable. An entry with no subject, or no typed reason, is left as it is.
func (v *Vault) sealReason(ctx context.Context, tx subject.Rows, e *audit.Entry, row *subject.Row, known *envelope.DataKey) (*envelope.DataKey, error) {
	if e.Reason == "" || e.Subject == "" || !typedReason(e.Action) {
		return nil, nil
	}
	if row == nil || row.ID != e.Subject {
		r, err := tx.GetSubject(ctx, e.Subject)
		switch {
		case errors.Is(err, store.ErrNotFound):
			row = nil
		case err != nil:
			return nil, fmt.Errorf("seal reason: %w", err)
		default:
			row = r
		}
	}
	// An erasure that went through destroys the key in this very
	// transaction: its reason is not kept either.
	erased := e.Action == "erase" && strings.HasPrefix(e.Decision, "allow")
	if row == nil || row.Gone() || erased {
		audit.DropReason(e)
		return nil, nil
	}
	dk := known
	if dk == nil {
		var err error
		if dk, err = v.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK); err != nil {
			return nil, fmt.Errorf("seal reason: open data key of %s: %w", row.ID, err)
		}
	}
	audit.SealReason(dk, e)
	return dk, nil
}

// rowOf is the subject row an access's value holds, if any.
func rowOf(val any) *subject.Row {
	switch x := val.(type) {
	case *subject.Row:
		return x
	case *readResult:
		if x != nil {
			return x.row
		}
	}
	return nil
}

// openReasons opens, in tx, the sealed reasons of es with their subjects'
// data keys; the reason of an erased subject stays unreadable
// (audit.Entry.ReasonErased). The views of the log (GET
// /v1/audit/entries, evidence) call it; nothing is written.
func (v *Vault) openReasons(ctx context.Context, tx subject.Rows, es []audit.Entry) error {
	return audit.OpenReasons(es, func(id string) (*envelope.DataKey, error) {
		row, err := tx.GetSubject(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, nil
		case err != nil:
			return nil, err
		case row.Gone():
			return nil, nil
		}
		return v.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK)
	})
}
