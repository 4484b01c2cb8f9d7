package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/contact"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
	"github.com/coffre/coffre/internal/subjectid"
	"github.com/coffre/coffre/internal/value"
)

// DefaultContactCoolingOff is how long a change of a contact field waits
// when Config.ContactCoolingOff is zero.
const DefaultContactCoolingOff = 72 * time.Hour

// OldContactKept is how long the values a contact change replaced are
// kept (sealed) once it left pending: time for a message about it, still
// retried, to reach the old address. Then ApplyContactChanges drops them.
const OldContactKept = 7 * 24 * time.Hour

// Updated is what an update did: the fields changed at once, and the
// contact fields that wait out the cooling-off.
type Updated struct {
	// Applied lists the fields changed at once, sorted.
	Applied []string
	// Pending holds, for each contact field of the person's pending
	// change, when it takes effect; Change is that change's id. Both
	// empty when no contact change is pending.
	Pending map[string]time.Time
	Change  string
}

// updateResult is what an update's transaction yields.
type updateResult struct {
	row     *subject.Row
	applied []string
	pending *contact.Change
}

// pendingChange is the contact part of an update, prepared before
// anything is written: the person's pending change it folds in
// (existing), and the change that replaces it (change; nil when every
// value is back to the record's, which cancels existing). same is the
// pending change when the update asks for exactly what it holds: it is
// left as it is (no new message, the clock not restarted).
type pendingChange struct {
	existing, change, same *contact.Change
}

// splitContact parts changes into the fields changed at once and the
// contact fields, which wait.
func (v *Vault) splitContact(changes map[string]*string) (now, later map[string]*string) {
	now, later = map[string]*string{}, map[string]*string{}
	for name, val := range changes {
		if v.pol.ContactField(name) {
			later[name] = val
		} else {
			now[name] = val
		}
	}
	return now, later
}

// contactLabel is the label a contact change's values are sealed under
// (the field of the associated data): never a schema field's name, so
// that a pending value cannot pass for the record's.
func contactLabel(id, which string) string { return "coffre/contact-change/" + id + "/" + which }

// sealValues seals v (JSON) under the subject's data key.
func sealValues(dk *envelope.DataKey, id, which string, v any) ([]byte, error) {
	pt, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return dk.Seal(contactLabel(id, which), pt), nil
}

// openValues opens what sealValues sealed into v.
func openValues(dk *envelope.DataKey, id, which string, ct []byte, v any) error {
	pt, err := dk.Open(contactLabel(id, which), ct)
	if err != nil {
		return fmt.Errorf("open %s values of contact change %s: %w", which, id, err)
	}
	defer clear(pt)
	return json.Unmarshal(pt, v)
}

// prepareContact prepares the contact part of an update of row: later,
// folded into the person's pending change if there is one (later wins),
// less what sets a field back to the record's value. A new lookup value
// another subject holds refuses the update now, before anything is
// written (ErrConflict), as a change at once would; the index itself
// changes only when the change takes effect. Nothing is written here.
func (v *Vault) prepareContact(ctx context.Context, tx store.Tx, row *subject.Row, later map[string]*string, now time.Time) (*pendingChange, error) {
	dk, err := v.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK)
	if err != nil {
		return nil, err
	}
	cts, err := sealedFields(row.Fields)
	if err != nil {
		return nil, err
	}
	p := &pendingChange{}
	next, held := map[string]*string{}, map[string]*string{}
	switch c, err := tx.PendingContactChange(ctx, row.ID); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		p.existing = c
		vals := map[string]*string{}
		if err := openValues(dk, c.ID, "new", c.New, &vals); err != nil {
			return nil, err
		}
		for _, f := range c.Fields {
			next[f], held[f] = vals[f], vals[f]
		}
	}
	maps.Copy(next, later)
	old := map[string]string{}
	b := v.keys.Blind()
	for _, name := range slices.Sorted(maps.Keys(next)) {
		f, _ := v.pol.Field(name)
		val := next[name]
		cur, has := "", false
		if ct, ok := cts[name]; ok {
			pt, err := dk.Open(name, ct)
			if err != nil {
				return nil, fmt.Errorf("open field %s of %s: %w", name, row.ID, err)
			}
			cur, has = string(pt), true
		}
		if val != nil {
			c := value.Canonical(f.Type, *val)
			val = &c
			next[name] = val
		}
		if val == nil && !has || val != nil && has && *val == cur {
			delete(next, name) // back to the record's value: nothing to wait for
			continue
		}
		if has {
			old[name] = cur
		}
		if val != nil && f.Lookup {
			switch owner, err := tx.LookupIndex(ctx, b.Index(name, value.Normalize(f.Type, *val))); {
			case err == nil && owner != row.ID:
				return nil, conflict("a changed lookup value already belongs to another subject")
			case err != nil && !errors.Is(err, store.ErrNotFound):
				return nil, err
			}
		}
	}
	if len(next) == 0 {
		if p.existing == nil {
			return nil, nil
		}
		return p, nil
	}
	same := func(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
	if p.existing != nil && maps.EqualFunc(next, held, same) {
		return &pendingChange{same: p.existing}, nil
	}
	c := &contact.Change{ID: newID("chg_"), Subject: row.ID, Fields: slices.Sorted(maps.Keys(next)), Status: contact.StatusPending,
		Created: now, Effective: now.Add(v.coolingOff)}
	if c.New, err = sealValues(dk, c.ID, "new", next); err != nil {
		return nil, err
	}
	if c.Old, err = sealValues(dk, c.ID, "old", old); err != nil {
		return nil, err
	}
	p.change = c
	return p, nil
}

// writeContact writes the prepared contact part of a's update under pu:
// the person's former pending change superseded (or cancelled, when the
// update set every value back), the new change stored, and the message to
// the address it replaces queued. It sets the entry's decision.
func writeContact(ctx context.Context, tx store.Tx, a identity.Actor, pu *policy.Purpose, p *pendingChange, now time.Time, e *audit.Entry) error {
	if p.same != nil {
		e.Decision = "allow:pending:" + p.same.ID
		return nil
	}
	if x := p.existing; x != nil {
		to := contact.StatusSuperseded
		if p.change == nil {
			to, e.Decision = contact.StatusCancelled, "allow:cancelled:"+x.ID
		}
		if err := tx.CloseContactChange(ctx, x.ID, contact.StatusPending, to, now); err != nil {
			return fmt.Errorf("close contact change %s: %v", x.ID, err) // a race: fail, never refuse
		}
	}
	c := p.change
	if c == nil {
		return nil
	}
	c.Operator, c.Role, c.Unit = a.ID, a.Role, a.Unit
	if err := tx.PutContactChange(ctx, c); err != nil {
		return fmt.Errorf("put contact change: %v", err)
	}
	e.Decision = "allow:pending:" + c.ID
	return queuePerson(ctx, tx, contact.Kind, c.Subject, contact.Key(c.ID), contact.MessageOf(c, pu.NoticeNamesOperator), now, now)
}

// updated is the caller's view of an update's result.
func updated(r *updateResult) Updated {
	out := Updated{Applied: r.applied}
	if c := r.pending; c != nil {
		out.Change, out.Pending = c.ID, map[string]time.Time{}
		for _, f := range c.Fields {
			out.Pending[f] = c.Effective
		}
	}
	return out
}

// ApplyContactChanges applies up to limit pending contact changes whose
// time has come, each in its own transaction: the record's fields and
// their blind index entries change now, audited "contact.apply" (by
// "system"). A change whose new lookup value another subject took in the
// meantime, or whose person was erased, fails, audited with a "deny:"
// decision. Then it drops the old values of changes closed more than
// OldContactKept ago. It returns how many changes it applied.
func (v *Vault) ApplyContactChanges(ctx context.Context, limit int) (int, error) {
	now := v.now().UTC()
	var due []contact.Change
	err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		due, err = tx.DueContactChanges(ctx, now, limit)
		return err
	})
	if err != nil {
		return 0, unavailable(err)
	}
	n := 0
	for _, c := range due {
		ok, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (bool, error) { return v.applyContact(ctx, tx, c.ID, now) })
		if err != nil {
			return n, unavailable(err)
		}
		if ok {
			n++
		}
	}
	if _, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (int, error) {
		return tx.ForgetContactValues(ctx, now.Add(-OldContactKept), max(limit, 1))
	}); err != nil {
		return n, unavailable(err)
	}
	return n, nil
}

// applyContact applies pending change id if it is due at now, and
// reports whether it did.
func (v *Vault) applyContact(ctx context.Context, tx store.Tx, id string, now time.Time) (bool, error) {
	c, err := tx.GetContactChange(ctx, id)
	if err != nil {
		return false, err
	}
	if c.Status != contact.StatusPending || now.Before(c.Effective) {
		return false, nil // applied or stopped meanwhile (another node)
	}
	// The change is closed first: of two nodes applying it at once, the
	// second waits here for the first's COMMIT (the row's lock) and then
	// finds it no longer pending, rather than writing the record's new
	// lookup values a second time (which failed its transaction).
	switch err := tx.CloseContactChange(ctx, c.ID, contact.StatusPending, contact.StatusApplied, now); {
	case errors.Is(err, store.ErrConflict):
		return false, nil
	case err != nil:
		return false, err
	}
	e := audit.Entry{Time: now, Actor: "system", Action: "contact.apply", Subject: c.Subject, Fields: c.Fields, Reason: c.ID, Decision: "allow"}
	fail := func(code string) (bool, error) {
		if err := tx.CloseContactChange(ctx, c.ID, contact.StatusApplied, contact.StatusFailed, now); err != nil {
			return false, err
		}
		e.Decision = "deny:" + code
		return false, tx.AppendAudit(ctx, &e)
	}
	row, err := tx.GetSubject(ctx, c.Subject)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && row.Gone():
		return fail("not_found")
	case err != nil:
		return false, err
	}
	dk, err := v.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK)
	if err != nil {
		return false, err
	}
	vals := map[string]*string{}
	if err := openValues(dk, c.ID, "new", c.New, &vals); err != nil {
		return false, err
	}
	switch err := v.change(ctx, tx, row, vals, now); {
	case errors.Is(err, store.ErrConflict):
		return fail("conflict")
	case err != nil:
		return false, err
	}
	return true, tx.AppendAudit(ctx, &e)
}

// PendingContactChanges returns the person subject's pending contact
// change (none or one), without its values: which fields, asked by which
// unit and role, taking effect when.
func (v *Vault) PendingContactChanges(ctx context.Context, subjectID string) ([]contact.Change, error) {
	if !subjectid.Valid(subjectID) {
		return nil, invalid("malformed subject id")
	}
	out := []contact.Change{}
	err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.PendingContactChange(ctx, subjectID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		}
		c.New, c.Old = nil, nil
		out = append(out, *c)
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// CancelContactChange cancels, for the person subject (signed in, from
// origin), their pending contact change id, audited "contact.cancel" with
// the person as the actor. Someone else's change, or none, is not found;
// one no longer pending is a conflict.
func (v *Vault) CancelContactChange(ctx context.Context, subjectID, origin, id string) error {
	entry := audit.Entry{Actor: subjectID, Action: "contact.cancel", Subject: subjectID, Reason: id, Origin: origin}
	if !subjectid.Valid(subjectID) {
		return invalid("malformed subject id")
	}
	if !ValidChangeID(id) {
		entry.Reason = ""
		return v.deny(ctx, identity.Actor{ID: subjectID, Origin: origin}, entry, invalid("malformed contact change id: want chg_ and 16 base32 characters"))
	}
	now := v.now().UTC()
	refused, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (error, error) {
		e := entry
		e.Time = now
		c, err := tx.GetContactChange(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound), err == nil && c.Subject != subjectID:
			e.Decision = "deny:not_found"
			return public.Errorf(store.ErrNotFound, "no contact change %s of yours", id).
				WithHint("GET /v1/me/contact-changes lists your pending change"), tx.AppendAudit(ctx, &e)
		case err != nil:
			return nil, err
		}
		e.Fields = c.Fields
		if c.Status != contact.StatusPending {
			e.Decision = "deny:conflict"
			return public.Errorf(store.ErrConflict, "contact change %s is %s, no longer pending", id, c.Status).
				WithHint("nothing to cancel; if your details are wrong now, ask the organisation to correct them"), tx.AppendAudit(ctx, &e)
		}
		if err := tx.CloseContactChange(ctx, id, contact.StatusPending, contact.StatusCancelled, now); err != nil {
			return nil, err
		}
		e.Decision = "allow"
		return nil, tx.AppendAudit(ctx, &e)
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return public.Errorf(store.ErrConflict, "contact change %s is no longer pending", id)
	case err != nil:
		return unavailable(err)
	}
	return refused
}

// ValidChangeID reports whether id has the form of a contact change id.
func ValidChangeID(id string) bool { return validID("chg_", id) }

// ContactForChange is where the message about contact change id of the
// person subject goes: the contact as it was before the change (its old
// values for the fields it changes, the record's for the others), chosen
// as Contact chooses. The person channel's sender must resolve a message of kind
// contact.Kind with it, never with the record's current contact, which
// may be the new address already. It fails once the old values are
// forgotten (OldContactKept after the change closed) or the person is
// erased (ErrNoContact, or the store's ErrNotFound): the message must then
// go nowhere.
func (v *Vault) ContactForChange(ctx context.Context, subjectID, id string) (notice.Contact, error) {
	var out notice.Contact
	err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.GetContactChange(ctx, id)
		if err != nil {
			return err
		}
		if c.Subject != subjectID {
			return fmt.Errorf("contact change %s: %w", id, store.ErrNotFound)
		}
		if c.Old == nil {
			return fmt.Errorf("contact change %s: old values forgotten: %w", id, store.ErrNotFound)
		}
		row, err := tx.GetSubject(ctx, subjectID)
		if err != nil {
			return err
		}
		if row.Gone() {
			return fmt.Errorf("subject: %w", store.ErrNotFound)
		}
		dk, err := v.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK)
		if err != nil {
			return err
		}
		old := map[string]string{}
		if err := openValues(dk, c.ID, "old", c.Old, &old); err != nil {
			return err
		}
		cts, err := sealedFields(row.Fields)
		if err != nil {
			return err
		}
		// The record's values, the changed ones as they were.
		vals := map[string]string{}
		for name, ct := range cts {
			if !slices.Contains(v.notices.Contacts, name) && name != v.notices.LanguageField {
				continue
			}
			pt, err := dk.Open(name, ct)
			if err != nil {
				return err
			}
			vals[name] = string(pt)
		}
		for _, name := range c.Fields {
			if val, ok := old[name]; ok {
				vals[name] = val
			} else {
				delete(vals, name)
			}
		}
		out, err = v.contactFrom(vals, v.notices.Contacts)
		return err
	})
	return out, err
}
