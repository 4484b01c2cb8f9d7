package me

import (
	"context"
	"errors"
	"strings"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

// ActionHistory: a person read their history.
const ActionHistory = "me.history"

// ErrNoHistoryYet: no checkpoint signs a subject index yet (a new log, or
// one upgraded before its first checkpoint with the index): retry in a
// second or two.
var ErrNoHistoryYet = errors.New("no signed checkpoint covers the history yet")

// History returns the person's history up to the latest checkpoint, as
// auditlog.SubjectHistory proves it, presented for them: each entry with
// its summary, and the entries of a purpose whose notice is deferred
// withheld (leaf hash only) until their date. The read is audited first,
// as the person's: no entry, no history.
func (s *Service) History(ctx context.Context, p Person) (*auditlog.History, error) {
	if err := s.Audit(ctx, p, ActionHistory, nil); err != nil {
		return nil, err
	}
	h, err := auditlog.SubjectHistory(ctx, s.Store, p.Subject, 0)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, auditlog.ErrNoIndex):
		return nil, ErrNoHistoryYet
	case err != nil:
		return nil, unavailable(err)
	}
	ops, err := s.operators(ctx, h)
	if err != nil {
		return nil, unavailable(err)
	}
	dk, err := s.dataKey(ctx, p.Subject)
	if err != nil {
		return nil, unavailable(err)
	}
	now := s.now()
	self := Actor(p.Subject)
	err = h.Present(func(e *audit.Entry) (*auditlog.Summary, bool) {
		pu := s.Policy.Purposes[e.Purpose]
		if pu != nil && pu.NoticeMode() == policy.NoticeDeferred && now.Before(e.Time.Add(pu.DeferredFor)) {
			return nil, true
		}
		sum := &auditlog.Summary{Time: e.Time, Action: e.Action, Purpose: e.Purpose, Fields: e.Fields, Decision: e.Decision, By: auditlog.ByCoffre}
		if len(e.SealedReason) > 0 && dk != nil {
			_ = audit.OpenReason(dk, e) // one that does not open reads as erased
		}
		sum.Reason, sum.ReasonErased = e.Reason, e.ReasonErased()
		if len(e.SealedReason) == 0 {
			sum.Reason = "" // only sealed reasons (those typed about the person) are shown
		}
		switch op := ops[e.Actor]; {
		case e.Actor == self:
			sum.By, sum.Origin = auditlog.ByYou, e.Origin
		case e.Actor == ActorSignin:
			sum.Origin = e.Origin // who asked a code for their contact, from where
		case op != nil:
			sum.By, sum.Role, sum.Unit = auditlog.ByStaff, op.Role, op.Unit
			if r := s.Policy.Roles[op.Role]; r != nil && r.Partner {
				sum.By = auditlog.ByPartner
			}
			if pu != nil && pu.NoticeNamesOperator {
				sum.Operator = e.Actor
			}
		}
		return sum, false
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return h, nil
}

// dataKeys is what Keys offers when it can open a person's data key
// (the keyring does): then the reasons sealed in their entries are opened
// for them.
type dataKeys interface {
	OpenDEK(subject string, version uint32, wrapped []byte) (*envelope.DataKey, error)
}

// dataKey returns the person's data key (nil when Keys cannot open one,
// or the record is gone).
func (s *Service) dataKey(ctx context.Context, subj string) (*envelope.DataKey, error) {
	keys, ok := s.Keys.(dataKeys)
	if !ok {
		return nil, nil
	}
	var row *subject.Row
	err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		row, err = tx.GetSubject(ctx, subj)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case row.Gone():
		return nil, nil
	}
	return keys.OpenDEK(row.ID, row.DEKVersion, row.DEK)
}

// operators reads the accounts that acted in h's entries (their role and
// unit as they are now: an entry names its account by id only).
func (s *Service) operators(ctx context.Context, h *auditlog.History) (map[string]*identity.Operator, error) {
	ids := map[string]bool{}
	for _, x := range h.Entries {
		if e, err := audit.ParseLeaf(x.Leaf); err == nil && account(e.Actor) {
			ids[e.Actor] = true
		}
	}
	ops := map[string]*identity.Operator{}
	if len(ids) == 0 {
		return ops, nil
	}
	err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for id := range ids {
			op, err := tx.GetOperator(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			ops[id] = op
		}
		return nil
	})
	return ops, err
}

// account reports whether an actor names an account (not Coffre itself,
// a pseudonym or a person).
func account(actor string) bool {
	switch actor {
	case "", "system", "auth", ActorSignin:
		return false
	}
	return !strings.Contains(actor, ":")
}
