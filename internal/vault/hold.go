package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/hold"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
	"github.com/coffre/coffre/internal/subjectid"
)

// Errors of the legal holds (issue 16). Each wraps the store's outcome it
// is a case of, so that a caller that knows only those still answers
// right.
var (
	// ErrHeld: the subject is under a legal hold, so it is neither erased
	// nor purged; lift the hold first. The API answers 409 legal_hold.
	ErrHeld = fmt.Errorf("subject under a legal hold: %w", store.ErrConflict)
	// ErrLifted: the hold is lifted already.
	ErrLifted = fmt.Errorf("hold lifted already: %w", store.ErrConflict)
)

// HoldView is a legal hold as the holder of the hold permission sees it:
// its reasons opened (only the routes that need the hold permission
// return one).
type HoldView struct {
	ID         string     `json:"id"`
	Subject    string     `json:"subject"`
	Reason     string     `json:"reason,omitempty"`
	PlacedBy   string     `json:"placed_by"`
	Placed     time.Time  `json:"placed_at"`
	InForce    bool       `json:"in_force"`
	LiftedBy   string     `json:"lifted_by,omitempty"`
	Lifted     *time.Time `json:"lifted_at,omitempty"`
	LiftReason string     `json:"lift_reason,omitempty"`
	// AuditSeq is the audit entry of the access that returned it.
	AuditSeq int64 `json:"audit_seq,omitempty"`
}

// holdLabel binds a sealed hold reason to its hold and part, as textLabel
// does a request's texts.
func holdLabel(id, part string) string { return "hold/" + id + "/" + part }

// holdView makes h's view, its reasons opened with dk (nil: an erased
// record, whose reasons are shredded).
func holdView(h *hold.Hold, dk dataKey, seq int64) HoldView {
	out := HoldView{ID: h.ID, Subject: h.Subject, PlacedBy: h.PlacedBy, Placed: h.Placed, InForce: h.InForce(), LiftedBy: h.LiftedBy, Lifted: timePtr(h.Lifted), AuditSeq: seq}
	if dk != nil {
		out.Reason, out.LiftReason = dk.holdText(h.ID, "reason", h.Reason), dk.holdText(h.ID, "lift_reason", h.LiftReason)
	}
	return out
}

// holdText opens a hold's sealed reason ("" when none, or it does not
// open).
func (dk dataKey) holdText(id, part string, ct []byte) string {
	if ct == nil {
		return ""
	}
	pt, err := dk(holdLabel(id, part), ct)
	if err != nil {
		return ""
	}
	return string(pt)
}

// checkHoldReason validates a hold's reason: required, and a reason
// (checkReason).
func (v *Vault) checkHoldReason(what, s string) error {
	if strings.TrimSpace(s) == "" {
		return public.Errorf(access.ErrReasonRequired, "a legal hold's %s needs a reason (the case, the claim)", what)
	}
	return v.checkReason(s)
}

// heldError is what refuses an erasure of subject id under a hold.
func heldError(id string) error {
	return public.Errorf(ErrHeld, "subject %s is under a legal hold: lift it first", id).
		WithHint("GET /v1/subjects/" + id + "/holds lists its holds; POST /v1/holds/{id}/lift lifts one (the hold permission)")
}

// Held is the check that anything about to destroy a subject's record
// runs in the transaction that would destroy it: the erasure of
// [Vault.Erase], a person's erasure request accepted, and the retention
// engine's purge to come, which calls it for each subject before it
// shreds anything and skips a held one. It returns nil when no hold on
// subject is in force, a public error wrapping [ErrHeld] when one is, or
// the store's error.
func Held(ctx context.Context, tx hold.Store, subject string) error {
	held, err := tx.Held(ctx, subject)
	switch {
	case err != nil:
		return err
	case held:
		return heldError(subject)
	}
	return nil
}

// refuseHeld refuses, from find, an access that would erase a held row,
// audited "deny:legal_hold" and not counted by the guard (the guard's
// budgets are not drawn on: nothing is erased).
func refuseHeld(ctx context.Context, tx store.Tx, row *subject.Row, e *audit.Entry) error {
	if row == nil {
		return nil
	}
	err := Held(ctx, tx, row.ID)
	if errors.Is(err, ErrHeld) {
		e.Decision = "deny:legal_hold"
		return &refused{err: err}
	}
	return err
}

// holder checks what every hold access checks before its transaction:
// the hold permission, and the reason when one is given (place, lift). A
// refusal is audited as entry's action.
func (v *Vault) holder(ctx context.Context, a identity.Actor, entry audit.Entry, what, reason string) error {
	if err := v.can(a, policy.PermHold); err != nil {
		return v.deny(ctx, a, entry, err)
	}
	if what == "" {
		return nil
	}
	if err := v.checkHoldReason(what, reason); err != nil {
		return v.deny(ctx, a, entry, err)
	}
	return nil
}

// PlaceHold places a legal hold on subject subj, with a reason (sealed
// under the person's data key; the audit entry names the hold's id, never
// the reason). It is an access to the person, guarded and counted as a
// read of them and audited "hold.place"; an unknown or erased subject is
// not found (audited). A person's restriction of their record does not
// stop it: a restricted record is still kept for legal claims (GDPR art.
// 18(2)), which is what a hold is for.
func (v *Vault) PlaceHold(ctx context.Context, a identity.Actor, subj, reason string) (*HoldView, error) {
	id := newID(hold.Prefix)
	entry := audit.Entry{Actor: a.ID, Action: "hold.place", Subject: subj, Reason: id, Origin: a.Origin}
	if !subjectid.Valid(subj) {
		entry.Subject = ""
		return nil, v.deny(ctx, a, entry, invalid("malformed subject id"))
	}
	if err := v.holder(ctx, a, entry, "placing", reason); err != nil {
		return nil, err
	}
	now := v.now()
	type found struct {
		h   *hold.Hold
		row *subject.Row
	}
	x := attempt[found]{actor: a, entry: entry, now: now, guard: guard.Access{Kind: guard.Read}}
	x.find = func(ctx context.Context, tx store.Tx, lim *guard.Limits, e *audit.Entry, acc *guard.Access) (found, error) {
		r, err := reachRow(ctx, tx, lim, a, e, acc)
		if r == nil || err != nil {
			return found{}, err
		}
		return found{&hold.Hold{ID: id, Subject: r.ID, PlacedBy: a.ID, Placed: now.UTC()}, r}, nil
	}
	x.write = func(ctx context.Context, tx store.Tx, f found, _ *audit.Entry) (found, error) {
		if f.h == nil {
			return f, nil
		}
		_, seal, err := v.openKey(f.row)
		if err != nil {
			return f, err
		}
		f.h.Reason = seal(holdLabel(id, "reason"), []byte(reason))
		return f, tx.PutHold(ctx, f.h)
	}
	res, err := run(ctx, v, x)
	switch {
	case err != nil:
		return nil, unavailable(err)
	case res.refusal != nil:
		return nil, res.refusal
	case res.val.h == nil:
		return nil, public.Errorf(store.ErrNotFound, "no such subject, or it was erased")
	}
	out := HoldView{ID: id, Subject: res.val.h.Subject, Reason: reason, PlacedBy: a.ID, Placed: res.val.h.Placed, InForce: true, AuditSeq: res.seq}
	return &out, nil
}

// LiftHold lifts legal hold id, with a reason (sealed as the placing
// one). It is an access to the hold's person, guarded as a read and
// audited "hold.lift"; an unknown hold is not found, a lifted one
// ErrLifted (both audited). Once no hold on the person is in force, the
// record may be erased again.
func (v *Vault) LiftHold(ctx context.Context, a identity.Actor, id, reason string) (*HoldView, error) {
	entry := audit.Entry{Actor: a.ID, Action: "hold.lift", Reason: id, Origin: a.Origin}
	if !hold.ValidID(id) {
		entry.Reason = ""
		return nil, v.deny(ctx, a, entry, invalid("malformed hold id"))
	}
	if err := v.holder(ctx, a, entry, "lifting", reason); err != nil {
		return nil, err
	}
	now := v.now()
	type found struct {
		h   *hold.Hold
		row *subject.Row
	}
	x := attempt[found]{actor: a, entry: entry, now: now, guard: guard.Access{Kind: guard.Read}}
	x.find = func(ctx context.Context, tx store.Tx, lim *guard.Limits, e *audit.Entry, acc *guard.Access) (found, error) {
		h, err := tx.GetHold(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			e.Decision, acc.Missing = "deny:not_found", true
			return found{}, nil
		}
		if err != nil {
			return found{}, err
		}
		e.Subject = h.Subject
		r, err := reachRow(ctx, tx, lim, a, e, acc)
		if r == nil || err != nil {
			return found{}, err
		}
		if !h.InForce() {
			e.Decision = "deny:conflict"
			return found{}, &refused{err: public.Errorf(ErrLifted, "hold %s was lifted already", id).WithHint("GET /v1/subjects/" + h.Subject + "/holds lists the person's holds")}
		}
		return found{h, r}, nil
	}
	x.write = func(ctx context.Context, tx store.Tx, f found, _ *audit.Entry) (found, error) {
		if f.h == nil {
			return f, nil
		}
		_, seal, err := v.openKey(f.row)
		if err != nil {
			return f, err
		}
		sealed := seal(holdLabel(id, "lift_reason"), []byte(reason))
		if err := tx.LiftHold(ctx, id, a.ID, now.UTC(), sealed); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return f, refuse("deny:conflict", public.Errorf(ErrLifted, "hold %s was lifted by someone else meanwhile", id))
			}
			return f, err
		}
		f.h.LiftedBy, f.h.Lifted, f.h.LiftReason = a.ID, now.UTC(), sealed
		return f, nil
	}
	res, err := run(ctx, v, x)
	switch {
	case err != nil:
		return nil, unavailable(err)
	case res.refusal != nil:
		return nil, res.refusal
	case res.val.h == nil:
		return nil, public.Errorf(store.ErrNotFound, "no hold %s, or its subject was erased", id)
	}
	dk, _, err := v.openKey(res.val.row)
	if err != nil {
		return nil, err
	}
	out := holdView(res.val.h, dk, res.seq)
	return &out, nil
}

// Holds returns the legal holds on subject subj, in force or lifted,
// oldest first, with their reasons. It is an access to the person,
// guarded as a read and audited "hold.list"; an unknown or erased subject
// is not found (audited).
func (v *Vault) Holds(ctx context.Context, a identity.Actor, subj string) ([]HoldView, error) {
	entry := audit.Entry{Actor: a.ID, Action: "hold.list", Subject: subj, Origin: a.Origin}
	if !subjectid.Valid(subj) {
		entry.Subject = ""
		return nil, v.deny(ctx, a, entry, invalid("malformed subject id"))
	}
	if err := v.holder(ctx, a, entry, "", ""); err != nil {
		return nil, err
	}
	type found struct {
		holds []hold.Hold
		row   *subject.Row
	}
	x := attempt[found]{actor: a, entry: entry, now: v.now(), guard: guard.Access{Kind: guard.Read}}
	x.find = func(ctx context.Context, tx store.Tx, lim *guard.Limits, e *audit.Entry, acc *guard.Access) (found, error) {
		r, err := reachRow(ctx, tx, lim, a, e, acc)
		if r == nil || err != nil {
			return found{}, err
		}
		hs, err := tx.SubjectHolds(ctx, r.ID)
		return found{hs, r}, err
	}
	res, err := run(ctx, v, x)
	switch {
	case err != nil:
		return nil, unavailable(err)
	case res.refusal != nil:
		return nil, res.refusal
	case res.val.row == nil:
		return nil, public.Errorf(store.ErrNotFound, "no such subject, or it was erased")
	}
	dk, _, err := v.openKey(res.val.row)
	if err != nil {
		return nil, err
	}
	out := make([]HoldView, 0, len(res.val.holds))
	for i := range res.val.holds {
		out = append(out, holdView(&res.val.holds[i], dk, res.seq))
	}
	return out, nil
}
