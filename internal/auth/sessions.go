package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
)

// RecoveryCodes is how many recovery codes an operator gets at a time.
const RecoveryCodes = 10

// recoveryHash hashes a recovery code for storage. The codes carry 80
// random bits, so a plain SHA-256 (not a password hash) is enough, as for
// session tokens.
func recoveryHash(operator, code string) []byte {
	code = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
	h := sha256.Sum256([]byte("coffre-recovery\x00" + operator + "\x00" + code))
	return h[:]
}

// NewRecoveryCodes replaces the operator's recovery codes with fresh ones,
// returned once (only their hashes are kept). The session must hold a
// fresh second factor.
func (s *Service) NewRecoveryCodes(ctx context.Context, token, origin string) ([]string, error) {
	h := HashToken(token)
	var codes []string
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		ses, err := s.freshSession(ctx, tx, h)
		if err != nil {
			return err
		}
		codes = codes[:0]
		hashes := make([][]byte, RecoveryCodes)
		enc := base32.StdEncoding.WithPadding(base32.NoPadding)
		for i := range hashes {
			var b [10]byte
			rand.Read(b[:])
			c := strings.ToLower(enc.EncodeToString(b[:]))
			c = c[:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:]
			codes = append(codes, c)
			hashes[i] = recoveryHash(ses.Operator, c)
		}
		if err := tx.PutRecoveryCodes(ctx, ses.Operator, hashes); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, &audit.Entry{Time: s.now(), Actor: ses.Operator, Action: "mfa.recovery.generate", Decision: "allow", Origin: origin}); err != nil {
			return unavailable(err)
		}
		return nil
	})
	if err != nil {
		return nil, sessionError(err)
	}
	return codes, nil
}

// VerifyRecovery completes a login with a recovery code, each used once.
func (s *Service) VerifyRecovery(ctx context.Context, loginToken, code, origin, userAgent string) (*Session, error) {
	return s.secondFactor(ctx, loginToken, FactorRecovery, "login.recovery", origin, userAgent, func(ctx context.Context, tx store.Tx, _ *identity.Session, op *identity.Operator) (string, error) {
		ok, err := tx.UseRecoveryCode(ctx, op.ID, recoveryHash(op.ID, code))
		if err != nil || !ok {
			return "bad_recovery_code", err
		}
		return "", nil
	})
}

// SessionInfo is a session as its owner sees it; ID names it for
// revocation (a prefix of the token's hash, never the token).
type SessionInfo struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"last_seen"`
	Expires   time.Time `json:"expires"`
	Origin    string    `json:"origin"`
	UserAgent string    `json:"user_agent"`
	Current   bool      `json:"current"`
}

func sessionID(hash []byte) string { return hex.EncodeToString(hash[:8]) }

// Sessions lists the sessions of the operator of token.
func (s *Service) Sessions(ctx context.Context, a identity.Actor, token string) ([]SessionInfo, error) {
	cur := sessionID(HashToken(token))
	var out []SessionInfo
	err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		ss, err := tx.OperatorSessions(ctx, a.ID)
		for _, x := range ss {
			id := sessionID(x.Hash)
			out = append(out, SessionInfo{ID: id, Created: x.Created, LastSeen: x.LastSeen, Expires: x.Expires, Origin: x.Origin, UserAgent: x.UserAgent, Current: id == cur})
		}
		return err
	})
	if out == nil {
		out = []SessionInfo{}
	}
	return out, err
}

// RevokeSession ends one of the actor's own sessions by its ID.
func (s *Service) RevokeSession(ctx context.Context, a identity.Actor, id string) error {
	return s.act(ctx, a, "session.revoke", 0, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		e.Reason = id
		ss, err := tx.OperatorSessions(ctx, a.ID)
		if err != nil {
			return err
		}
		for _, x := range ss {
			if sessionID(x.Hash) == id {
				return tx.DeleteSession(ctx, x.Hash)
			}
		}
		return refuse(fmt.Errorf("%w: no such session", store.ErrNotFound))
	}, nil)
}

// RevokeOperator ends every session of operator (a security officer's act:
// the caller checks the permission). It returns how many ended.
func (s *Service) RevokeOperator(ctx context.Context, a identity.Actor, operator, reason string) (int, error) {
	var n int
	err := s.act(ctx, a, "session.revoke_operator", 0, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		n, e.Reason = 0, fmt.Sprintf("%s: %s", operator, reason)
		if _, err := tx.GetOperator(ctx, operator); errors.Is(err, store.ErrNotFound) {
			return refuse(noOperator(err))
		} else if err != nil {
			return err
		}
		ss, err := tx.OperatorSessions(ctx, operator)
		if err != nil {
			return err
		}
		if err := tx.DeleteOperatorSessions(ctx, operator); err != nil {
			return err
		}
		n = len(ss)
		e.Decision = fmt.Sprintf("allow:%d", n)
		return nil
	}, nil)
	return n, err
}

// RevokeEveryone ends every session but the caller's own operator's (breach
// containment; the caller checks the permission).
func (s *Service) RevokeEveryone(ctx context.Context, a identity.Actor, reason string) (int, error) {
	var n int
	err := s.act(ctx, a, "session.revoke_all", 0, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		var err error
		if n, err = tx.DeleteAllSessions(ctx, a.ID); err != nil {
			return err
		}
		e.Reason, e.Decision = reason, fmt.Sprintf("allow:%d", n)
		return nil
	}, nil)
	return n, err
}
