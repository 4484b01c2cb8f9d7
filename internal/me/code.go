package me

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subjectauth"
	"github.com/coffre/coffre/internal/value"
)

// Contact kinds: how the person is reached, and the channel their code
// goes by (the "via" of its message).
const (
	ViaEmail = "email"
	ViaSMS   = "sms"
)

// maxContact bounds a contact as typed, in bytes.
const maxContact = 254

// ParseContact reads a contact as a person types it: an email address
// (it holds an @) or a phone number, checked as the schema's email and
// phone fields are, and normalised as their blind index is. It returns
// the channel a code goes by (ViaEmail or ViaSMS) and the normalised
// value, or ErrBadContact.
func ParseContact(c string) (via, norm string, err error) {
	c = strings.TrimSpace(c)
	if c == "" || len(c) > maxContact {
		return "", "", ErrBadContact
	}
	t, via := policy.TypePhone, ViaSMS
	if strings.Contains(c, "@") {
		t, via = policy.TypeEmail, ViaEmail
	}
	norm = value.Normalize(t, c)
	if value.Validate(policy.Field{Name: "contact", Type: t}, c) != nil || norm == "" {
		return "", "", ErrBadContact // "00000000" is a valid phone that normalises to nothing
	}
	return via, norm, nil
}

// ContactKey is the key of a normalised contact in the store's limits and
// in its codes: "c:" and 32 hex digits of its keyed hash. The contact
// itself is never stored.
func (s *Service) ContactKey(via, norm string) string {
	return "c:" + hex.EncodeToString(s.Keys.StableHash("signin.contact", via+":"+norm)[:16])
}

// pseudonym is how the audit names a contact that matched nobody:
// "unknown:" and 16 hex digits of the same keyed hash.
func pseudonym(key string) string { return "unknown:" + key[2:18] }

// codeHash is the keyed hash a code is kept as, bound to its login token:
// HMAC-SHA256 under a key that lives with the root key, never beside the
// data (see docs/design.md, "Subject sign-in").
func (s *Service) codeHash(token []byte, code string) []byte {
	return s.Keys.StableHash("signin.code", hex.EncodeToString(token)+":"+code)
}

// newCode returns n random decimal digits.
func newCode(n int) string {
	max := big.NewInt(1)
	for range n {
		max.Mul(max, big.NewInt(10))
	}
	v, err := rand.Int(rand.Reader, max)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return fmt.Sprintf("%0*d", n, v)
}

// CodeKind is the outbox kind of a message that carries a one-time code.
const CodeKind = "code"

// CodeMessage is the payload of a code message. It holds the code sealed
// under the root key and bound to the message (its key and recipient), so
// that the queue holds no usable code; the renderer opens it when the
// message is sent ([OpenCode]).
type CodeMessage struct {
	Subject string `json:"subject"`
	// Via is the channel the person named: ViaEmail or ViaSMS. Field is
	// the record's field the contact matched: the address to send to.
	Via   string `json:"via"`
	Field string `json:"field"`
	// Code is the sealed code.
	Code []byte `json:"code"`
	// Minutes is how long the code works from Created; Expires when it
	// stops.
	Minutes int       `json:"valid_minutes"`
	Expires time.Time `json:"expires"`
}

// codeLabel binds a sealed code to its message.
func codeLabel(key, recipient string) string {
	return "coffre/signin-code\x00" + key + "\x00" + recipient
}

// OpenCode reads a code message and opens its code: what the renderer
// does, and what a test that plays the person does.
func OpenCode(keys Keys, m outbox.Message) (string, *CodeMessage, error) {
	if m.Kind != CodeKind {
		return "", nil, fmt.Errorf("open code: a message of kind %q", m.Kind)
	}
	var p CodeMessage
	d := json.NewDecoder(strings.NewReader(string(m.Payload)))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil {
		return "", nil, fmt.Errorf("open code: payload: %w", err)
	}
	if p.Subject == "" || p.Subject != m.Recipient || (p.Via != ViaEmail && p.Via != ViaSMS) {
		return "", nil, errors.New("open code: payload not for its recipient, or no channel")
	}
	code, err := keys.OpenSecret(codeLabel(m.Key, m.Recipient), p.Code)
	if err != nil {
		return "", nil, fmt.Errorf("open code: %w", err)
	}
	return string(code), &p, nil
}

// purgeEvery: one code request in purgeEvery also deletes what has run
// out (purgeRows of each kind, older than purgeAfter).
const (
	purgeEvery = 64
	purgeRows  = 100
	purgeAfter = 24 * time.Hour
)

// RequestCode sends a one-time code to the person whose record holds
// contact, and returns the login token to type it under. The answer is the
// same whether or not a record holds it: a contact that matches nobody
// gets a login token no code opens, after the same work (one write
// transaction, which counts and audits the request either way).
//
// Errors: ErrBadContact for a malformed contact (nothing counted);
// *LimitError over a rate; *LockedError while the contact is locked;
// ErrOff when codes are turned off.
func (s *Service) RequestCode(ctx context.Context, contact, origin string) (string, error) {
	if s.NoCode {
		return "", ErrOff
	}
	via, norm, err := ParseContact(contact)
	if err != nil {
		return "", err
	}
	now := s.now()
	counter := s.originCounter(origin)
	var n int
	var until time.Time
	err = s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		n, until, err = tx.OriginCount(ctx, counter, now)
		return err
	})
	if err != nil {
		return "", unavailable(err)
	}
	if n >= s.perOrigin() {
		// One entry per address and window, whichever node refuses
		// first: a flood must not grow the log at its own rate.
		e := &audit.Entry{Time: now, Actor: ActorSignin, Action: ActionCode, Decision: "deny:throttled", Origin: origin}
		if err := s.refusals.Refuse(ctx, s.Store, counter, until, now, e); err != nil {
			return "", unavailable(err)
		}
		return "", &LimitError{RetryAfter: until.Sub(now), Origin: true}
	}
	key := s.ContactKey(via, norm)
	type hashed struct {
		field string
		hash  []byte
	}
	var fields []hashed
	want := policy.TypeEmail
	if via == ViaSMS {
		want = policy.TypePhone
	}
	for _, f := range s.Policy.Fields {
		if f.Lookup && f.Type == want {
			fields = append(fields, hashed{f.Name, s.Keys.BlindIndex(f.Name, norm)})
		}
	}
	tok, th := newToken(LoginPrefix)
	code := newCode(s.digits())
	ch := s.codeHash(th, code)
	msgKey := "code-" + hex.EncodeToString(th[:12])
	purge := s.ticks.Add(1)%purgeEvery == 0
	refusal, err := update(ctx, s.Store, func(ctx context.Context, tx store.Tx) (error, error) {
		if _, _, err := tx.CountOrigin(ctx, counter, now, time.Hour); err != nil {
			return nil, err
		}
		lim, err := tx.SigninRequest(ctx, key, now, time.Hour)
		if err != nil {
			return nil, err
		}
		sub, field := "", ""
		for _, f := range fields {
			id, err := tx.LookupIndex(ctx, f.hash)
			if err == nil {
				sub, field = id, f.field
				break
			}
			if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		e := &audit.Entry{Time: now, Actor: ActorSignin, Action: ActionCode, Subject: sub, Decision: "allow", Origin: origin}
		if sub == "" {
			e.Actor, e.Decision = pseudonym(key), "deny:not_found"
		} else {
			e.Fields = []string{field}
		}
		var refusal error
		switch {
		case lim.LockedUntil.After(now):
			refusal, e.Decision = &LockedError{RetryAfter: lim.LockedUntil.Sub(now)}, "deny:locked"
		case lim.Requests > s.perContact():
			refusal, e.Decision = &LimitError{RetryAfter: lim.Since.Add(time.Hour).Sub(now)}, "deny:rate_limited"
		}
		if refusal != nil {
			// Audited once a window, as above.
			if lim.Requests <= s.perContact()+1 {
				if err := tx.AppendAudit(ctx, e); err != nil {
					return nil, err
				}
			}
			return refusal, nil
		}
		if purge {
			if _, err := tx.PurgeSignin(ctx, now.Add(-purgeAfter), purgeRows); err != nil {
				return nil, err
			}
		}
		if err := tx.PutSigninCode(ctx, &subjectauth.Code{Token: th, Contact: key, Subject: sub, Hash: ch, Created: now, Expires: now.Add(s.codeFor())}); err != nil {
			return nil, err
		}
		// The message is made either way (the same work), and queued only
		// to a person.
		p, _ := json.Marshal(CodeMessage{Subject: sub, Via: via, Field: field, Code: s.Keys.SealSecret(codeLabel(msgKey, sub), []byte(code)),
			Minutes: int(s.codeFor() / time.Minute), Expires: now.Add(s.codeFor())})
		if sub != "" {
			m := &outbox.Message{Kind: CodeKind, Channel: outbox.ChannelPerson, Recipient: sub, Key: msgKey, Payload: p, Next: now, Created: now}
			if err := tx.PutMessage(ctx, m); err != nil {
				return nil, err
			}
		}
		return nil, tx.AppendAudit(ctx, e)
	})
	switch {
	case err != nil:
		return "", unavailable(err)
	case refusal != nil:
		return "", refusal
	}
	return tok, nil
}

// Issued is a session opened for a person.
type Issued struct {
	Token   string
	Expires time.Time
	Subject string
}

// VerifyCode exchanges a login token and its code for a session. Every
// attempt is counted on the login token, and a wrong one on the contact
// too; when either reaches MaxAttempts the contact is locked for LockFor.
//
// Errors: ErrUnknownLogin (no such token, or its code was used);
// ErrCodeExpired; *CodeError (a wrong code, and the attempts left);
// *LockedError (the contact is locked); ErrAttemptsUsed (the token's
// attempts are spent, the lock over: a new code is needed); an
// access.ErrInvalid for a malformed code.
func (s *Service) VerifyCode(ctx context.Context, loginToken, code, origin, userAgent string) (*Issued, error) {
	if s.NoCode {
		return nil, ErrOff
	}
	if !validToken(loginToken, LoginPrefix) {
		return nil, ErrUnknownLogin
	}
	if len(code) != s.digits() || strings.Trim(code, "0123456789") != "" {
		return nil, public.Errorf(access.ErrInvalid, "code: want the %d digits of the message", s.digits())
	}
	th := hashToken(loginToken)
	now := s.now()
	stok, sh := newToken(SessionPrefix)
	max := s.maxAttempts()
	type result struct {
		subject string
		refusal error
	}
	res, err := update(ctx, s.Store, func(ctx context.Context, tx store.Tx) (result, error) {
		c, err := tx.GetSigninCode(ctx, th)
		if errors.Is(err, store.ErrNotFound) {
			return result{refusal: ErrUnknownLogin}, nil
		}
		if err != nil {
			return result{}, err
		}
		n, err := tx.SigninCodeAttempt(ctx, th)
		if err != nil {
			return result{}, err
		}
		e := &audit.Entry{Time: now, Actor: ActorSignin, Action: ActionSignin, Subject: c.Subject, Origin: origin}
		if c.Subject == "" {
			e.Actor = pseudonym(c.Contact)
		}
		// refuse audits a refusal while the token's attempts last (a
		// replayed token must not grow the log without end).
		refuse := func(decision string, why error) (result, error) {
			if n <= max+1 {
				e.Decision = decision
				if err := tx.AppendAudit(ctx, e); err != nil {
					return result{}, err
				}
			}
			return result{refusal: why}, nil
		}
		lim, err := tx.SigninLimit(ctx, c.Contact)
		if err != nil {
			return result{}, err
		}
		switch {
		case !c.Used.IsZero():
			return refuse("deny:used", ErrUnknownLogin)
		case !now.Before(c.Expires):
			return refuse("deny:expired", ErrCodeExpired)
		case lim.LockedUntil.After(now):
			return refuse("deny:locked", &LockedError{RetryAfter: lim.LockedUntil.Sub(now)})
		case n > max:
			return refuse("deny:too_many_attempts", ErrAttemptsUsed)
		}
		if c.Subject == "" || subtle.ConstantTimeCompare(s.codeHash(th, code), c.Hash) != 1 {
			f, err := tx.SigninFailure(ctx, c.Contact, now, s.lockFor())
			if err != nil {
				return result{}, err
			}
			if n < max && f.Failures < max {
				return refuse("deny:bad_code", &CodeError{Left: max - maxInt(n, f.Failures)})
			}
			until := now.Add(s.lockFor())
			if err := tx.LockSignin(ctx, c.Contact, until); err != nil {
				return result{}, err
			}
			r, err := refuse("deny:bad_code", &LockedError{RetryAfter: s.lockFor()})
			if err != nil {
				return r, err
			}
			lock := &audit.Entry{Time: now, Actor: ActorSignin, Action: ActionLock, Subject: c.Subject, Decision: "lock", Origin: origin}
			if c.Subject == "" {
				lock.Actor = pseudonym(c.Contact)
			}
			return r, tx.AppendAudit(ctx, lock)
		}
		if ok, err := tx.SpendSigninCode(ctx, th, now); err != nil || !ok {
			return result{refusal: ErrUnknownLogin}, err
		}
		if err := tx.LockSignin(ctx, c.Contact, time.Time{}); err != nil { // a success clears the failures
			return result{}, err
		}
		if err := s.openSession(ctx, tx, sh, c.Subject, subjectauth.MethodCode, origin, userAgent, now); err != nil {
			return result{}, err
		}
		e.Actor, e.Decision = Actor(c.Subject), "allow"
		return result{subject: c.Subject}, tx.AppendAudit(ctx, e)
	})
	switch {
	case err != nil:
		return nil, unavailable(err)
	case res.refusal != nil:
		return nil, res.refusal
	}
	return &Issued{Token: stok, Expires: now.Add(s.max()), Subject: res.subject}, nil
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
