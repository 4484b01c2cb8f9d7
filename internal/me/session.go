package me

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subjectauth"
)

// Person is who a person's session authenticates: a subject, and how and
// from where it asks.
type Person struct {
	Subject string
	// Method is how the session was opened: subjectauth.MethodCode or
	// subjectauth.MethodOIDC.
	Method string
	Origin string
}

// touchEvery bounds how often a session's last-seen time is written.
const touchEvery = time.Minute

// Authenticate returns the person of a session token. The session must be
// a person's (an operator's token is no person's), within its idle and
// absolute expiry, used by the user agent it was opened with, and its
// subject must still have a record (an erased person's sessions end).
// It binds no address: persons move between networks.
func (s *Service) Authenticate(ctx context.Context, token, origin, userAgent string) (Person, error) {
	if !validToken(token, SessionPrefix) {
		return Person{}, ErrUnauthenticated
	}
	h := hashToken(token)
	var ses *subjectauth.Session
	err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if ses, err = tx.GetSubjectSession(ctx, h); err != nil {
			return err
		}
		row, err := tx.GetSubject(ctx, ses.Subject)
		if err == nil && row.Gone() {
			err = fmt.Errorf("subject gone: %w", store.ErrNotFound)
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Person{}, ErrUnauthenticated
	}
	if err != nil {
		return Person{}, unavailable(err)
	}
	now := s.now()
	if !now.Before(ses.Expires) || now.Sub(ses.LastSeen) > s.idle() || ses.UserAgent != userAgent {
		return Person{}, ErrUnauthenticated
	}
	if now.Sub(ses.LastSeen) > touchEvery {
		if err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.TouchSubjectSession(ctx, h, now) }); err != nil && !errors.Is(err, store.ErrNotFound) {
			return Person{}, unavailable(err)
		}
	}
	return Person{Subject: ses.Subject, Method: ses.Method, Origin: origin}, nil
}

// Logout ends the session of token, audited as the person's.
func (s *Service) Logout(ctx context.Context, p Person, token string) error {
	return s.Audit(ctx, p, ActionLogout, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteSubjectSession(ctx, hashToken(token))
	})
}

// Audit appends the entry of an act of p on their own record (action,
// allowed), after also, when set, in the same transaction: for what a
// session serves, audited before anything is answered.
func (s *Service) Audit(ctx context.Context, p Person, action string, also func(context.Context, store.Tx) error) error {
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if also != nil {
			if err := also(ctx, tx); err != nil {
				return err
			}
		}
		return tx.AppendAudit(ctx, &audit.Entry{Time: s.now(), Actor: Actor(p.Subject), Action: action, Subject: p.Subject, Decision: "allow", Origin: p.Origin})
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// openSession stores a new session of subject, by method, and returns its
// token.
func (s *Service) openSession(ctx context.Context, tx store.Tx, hash []byte, subject, method, origin, userAgent string, now time.Time) error {
	return tx.PutSubjectSession(ctx, &subjectauth.Session{Hash: hash, Subject: subject, Method: method, Created: now, LastSeen: now,
		Expires: now.Add(s.max()), Origin: origin, UserAgent: userAgent})
}
