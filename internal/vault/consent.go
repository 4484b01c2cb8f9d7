package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/consent"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
	"github.com/coffre/coffre/internal/subjectid"
)

// ConsentPending is what [Vault.Read] returns instead of a view under a
// purpose that asks for the person's consent, when no approval of theirs
// is there to use: the request, opened by this read (New, the person is
// told) or still waiting for their decision. It is no failure (the API
// answers 202), but a caller that does not know it gets no data: it fails
// closed.
type ConsentPending struct {
	Request consent.Request
	New     bool
}

func (e *ConsentPending) Error() string { return "consent pending: request " + e.Request.ID }

// readResult is what a read's transaction yields: the row, and under a
// consent purpose the approval it uses or the request it answers with.
type readResult struct {
	row *subject.Row
	// approval is the person's approval this read uses (found by find).
	approval *consent.Request
	// latest is the operator's latest request for the person and purpose
	// (find), fields what the read would return: for a new request.
	latest *consent.Request
	fields []string
	// request is the request the read answers with instead of the view,
	// opened now when opened.
	request *consent.Request
	opened  bool
}

// ValidConsentID reports whether id has the form of a consent request id.
func ValidConsentID(id string) bool { return validID("cns_", id) }

// validID reports whether id is prefix and 16 characters of newID's
// alphabet.
func validID(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || len(rest) != 16 {
		return false
	}
	for _, c := range rest {
		if !strings.ContainsRune("0123456789abcdefghjkmnpqrstvwxyz", c) {
			return false
		}
	}
	return true
}

// findConsent is the find step of a read under a consent purpose: the
// approval this read would use, or else the request it becomes (the
// entry's action is then consent.request, and it returns no field).
func (v *Vault) findConsent(ctx context.Context, tx store.Tx, a identity.Actor, pu *policy.Purpose, now time.Time, e *audit.Entry, res *readResult) error {
	latest, err := tx.LatestConsent(ctx, a.ID, res.row.ID, pu.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	case latest.StatusAt(now) == consent.StatusApproved:
		res.approval = latest
		return nil
	default:
		res.latest = latest
	}
	res.fields, e.Action, e.Fields = e.Fields, "consent.request", nil
	return nil
}

// writeConsent is the write step of a read under a consent purpose, once
// the guard allowed it: it uses the approval (the read goes on), or
// answers with the operator's pending request, or refuses while the
// person's denial stands, or opens a new request and queues the message
// that tells the person, all in the access's transaction.
func (v *Vault) writeConsent(ctx context.Context, tx store.Tx, a identity.Actor, pu *policy.Purpose, now time.Time, e *audit.Entry, res *readResult) error {
	now = now.UTC()
	if res.approval != nil {
		used := *res.approval
		used.Status, used.Closed = consent.StatusUsed, now
		if err := tx.UpdateConsent(ctx, &used, consent.StatusApproved); err != nil {
			// Another read used it first (another node): the transaction
			// fails and the retry asks again. Never a conflict refusal.
			return fmt.Errorf("use consent %s: %v", used.ID, err)
		}
		e.Decision = "allow:consent:" + used.ID
		return nil
	}
	if l := res.latest; l != nil {
		switch l.StatusAt(now) {
		case consent.StatusPending:
			res.request, e.Decision = l, "allow:"+l.ID
			return nil
		case consent.StatusDenied:
			if now.Before(l.Expires) {
				return refuse("deny:consent_denied", public.Errorf(consent.ErrDenied,
					"the person denied your request %s to read their record for purpose %q", l.ID, pu.Name).
					WithHint(fmt.Sprintf("you may ask again from %s, when that request would have lapsed", l.Expires.Format(time.RFC3339))))
			}
		}
	}
	r := &consent.Request{ID: newID(consentPrefix), Subject: res.row.ID, Operator: a.ID, Role: a.Role, Unit: a.Unit, Purpose: pu.Name,
		Reason: cutUTF8(e.Reason, v.reasonMax), Fields: res.fields, Status: consent.StatusPending, Created: now, Expires: now.Add(pu.ConsentValidity())}
	if err := tx.PutConsent(ctx, r); err != nil {
		return fmt.Errorf("put consent: %v", err) // an id taken: fail, never refuse
	}
	if err := queuePerson(ctx, tx, consent.Kind, r.Subject, consent.Key(r.ID), consent.MessageOf(r, pu.NoticeNamesOperator), now, now); err != nil {
		return err
	}
	res.request, res.opened, e.Decision = r, true, "allow:"+r.ID
	return nil
}

// Consent returns consent request id to the operator who asked, with its
// status at the time of asking (pending, approved, denied, expired or
// used). Anyone else's request, or an unknown id, is not found (and
// counted as a refusal). The look is audited ("consent.status").
func (v *Vault) Consent(ctx context.Context, a identity.Actor, id string) (*consent.Request, error) {
	entry := audit.Entry{Actor: a.ID, Action: "consent.status", Reason: id, Origin: a.Origin}
	if !ValidConsentID(id) {
		entry.Reason = ""
		return nil, v.deny(ctx, a, entry, invalid("malformed consent request id: want cns_ and 16 base32 characters"))
	}
	now := v.now()
	r, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (*consent.Request, error) {
		r, err := tx.GetConsent(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound), err == nil && r.Operator != a.ID:
			return nil, nil
		case err != nil:
			return nil, err
		}
		e := entry
		e.Time, e.Decision = now.UTC(), "allow"
		return r, tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return nil, unavailable(err)
	}
	if r == nil {
		return nil, v.deny(ctx, a, entry, public.Errorf(store.ErrNotFound, "no consent request %s of yours", id).
			WithHint("a consent request is seen by the operator who asked for it only"))
	}
	r.Status = r.StatusAt(now)
	return r, nil
}

// DecideConsent records the decision of the person subject (signed in,
// from origin) on their consent request id: approve, or deny. A request
// of someone else, or none, is not found; one that expired answers
// consent.ErrExpired, one already decided (or used) consent.ErrDecided.
// An approval lets one read of the operator who asked, under the purpose,
// through within the purpose's ApprovalLasts. Every decision and refusal
// is audited, with the person as the actor.
func (v *Vault) DecideConsent(ctx context.Context, subjectID, origin, id string, approve bool) (*consent.Request, error) {
	action := map[bool]string{true: "consent.approve", false: "consent.deny"}[approve]
	entry := audit.Entry{Actor: subjectID, Action: action, Subject: subjectID, Reason: id, Origin: origin}
	if !subjectid.Valid(subjectID) {
		return nil, invalid("malformed subject id")
	}
	if !ValidConsentID(id) {
		entry.Reason = ""
		return nil, v.deny(ctx, identity.Actor{ID: subjectID, Origin: origin}, entry, invalid("malformed consent request id: want cns_ and 16 base32 characters"))
	}
	now := v.now()
	type decision struct {
		r       *consent.Request
		refused error
	}
	res, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (decision, error) {
		e := entry
		e.Time = now.UTC()
		r, err := tx.GetConsent(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound), err == nil && r.Subject != subjectID:
			e.Decision = "deny:not_found"
			return decision{refused: public.Errorf(store.ErrNotFound, "no consent request %s of yours", id).
				WithHint("GET /v1/me/consents lists the requests waiting for your decision")}, tx.AppendAudit(ctx, &e)
		case err != nil:
			return decision{}, err
		}
		e.Purpose = r.Purpose
		var refused error
		switch st := r.StatusAt(now); st {
		case consent.StatusPending:
		case consent.StatusExpired:
			e.Decision = "deny:expired"
			refused = public.Errorf(consent.ErrExpired, "consent request %s lapsed on %s: nothing will be read under it", id, r.Deadline().Format(time.RFC3339)).
				WithHint("nothing to do: the operator must ask again, and you will be told")
		default:
			e.Decision = "deny:decided"
			refused = public.Errorf(consent.ErrDecided, "consent request %s was %s already", id, st).
				WithHint("a decision is final; GET /v1/me/consents lists the requests still waiting")
		}
		if refused != nil {
			return decision{refused: refused}, tx.AppendAudit(ctx, &e)
		}
		next := *r
		next.Decided = now.UTC()
		next.Status = consent.StatusDenied
		if approve {
			lasts := policy.DefaultConsentLasts
			if pu, ok := v.pol.Purposes[r.Purpose]; ok {
				lasts = pu.ApprovalLasts()
			}
			next.Status, next.ValidUntil = consent.StatusApproved, next.Decided.Add(lasts)
		}
		if err := tx.UpdateConsent(ctx, &next, consent.StatusPending); err != nil {
			return decision{}, err
		}
		e.Decision = "allow"
		return decision{r: &next}, tx.AppendAudit(ctx, &e)
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		// Another decision of the same request committed first (another
		// node): this one is refused as the second would be.
		return nil, public.Errorf(consent.ErrDecided, "consent request %s was decided already", id)
	case err != nil:
		return nil, unavailable(err)
	case res.refused != nil:
		return nil, res.refused
	}
	return res.r, nil
}

// MaxPendingConsents bounds the requests PendingConsents returns.
const MaxPendingConsents = 100

// PendingConsents returns the consent requests waiting for the person
// subject's decision, newest first (at most MaxPendingConsents).
func (v *Vault) PendingConsents(ctx context.Context, subjectID string) ([]consent.Request, error) {
	if !subjectid.Valid(subjectID) {
		return nil, invalid("malformed subject id")
	}
	var out []consent.Request
	err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		out, err = tx.PendingConsents(ctx, subjectID, v.now(), MaxPendingConsents)
		return err
	})
	if err != nil {
		return nil, unavailable(err)
	}
	if out == nil {
		out = []consent.Request{}
	}
	return out, nil
}

// ExpireConsents marks expired up to limit requests whose time ran out
// (pending ones past their Expires, approvals past their ValidUntil), each
// with an audit entry ("consent.expire", by "system"; decision
// allow:unanswered or allow:unused), and returns how many it marked. A
// request's status is computed at read time (consent.Request.StatusAt),
// so nothing waits for this sweep: it puts each expiry in the log, and in
// the person's history, close to when it happened.
func (v *Vault) ExpireConsents(ctx context.Context, limit int) (int, error) {
	now := v.now()
	n, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (int, error) {
		due, err := tx.DueConsents(ctx, now, limit)
		if err != nil {
			return 0, err
		}
		n := 0
		for _, r := range due {
			next := r
			next.Status, next.Closed = consent.StatusExpired, now.UTC()
			switch err := tx.UpdateConsent(ctx, &next, r.Status); {
			case errors.Is(err, store.ErrConflict):
				continue // decided, used or marked meanwhile
			case err != nil:
				return 0, err
			}
			what := map[string]string{consent.StatusPending: "unanswered", consent.StatusApproved: "unused"}[r.Status]
			e := audit.Entry{Time: now.UTC(), Actor: "system", Action: "consent.expire", Subject: r.Subject, Purpose: r.Purpose, Reason: r.ID, Decision: "allow:" + what}
			if err := tx.AppendAudit(ctx, &e); err != nil {
				return 0, err
			}
			n++
		}
		return n, nil
	})
	if err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}
