package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
	"github.com/coffre/coffre/internal/subjectid"
)

// Rights configures the persons' rights (config.Rights).
type Rights struct {
	// HandlerRole decides the persons' requests ("": nobody does, and
	// requests are refused).
	HandlerRole string
	// RestrictedReaders are the roles that still reach a restricted
	// record.
	RestrictedReaders []string
	// Contacts are whom the person may turn to.
	rights.Contacts
}

// Person is a person acting on their own record: the subject of their
// session, and where they ask from. Their accesses are audited with the
// subject as the actor.
type Person struct {
	Subject, Origin string
}

// courierTTL bounds how long an accepted erasure's confirmation keeps the
// person's address: the delivery worker gives up well before (8 tries,
// backoff at most an hour each, by default).
const courierTTL = 7 * 24 * time.Hour

// Errors of the persons' requests, beyond the access outcomes. Each
// wraps the store's outcome it is a case of (ErrConflict, ErrNotFound),
// so that a caller that knows only those still answers right.
var (
	// ErrNoHandler: the configuration names no role to decide requests.
	ErrNoHandler = fmt.Errorf("no handler for the persons' requests: %w", store.ErrConflict)
	// ErrDecided: the request is no longer open (or, for a lift, no
	// restriction in force), or another decision came first.
	ErrDecided = fmt.Errorf("request decided already: %w", store.ErrConflict)
	// ErrExtended: the request was extended already (once only).
	ErrExtended = fmt.Errorf("request extended already: %w", store.ErrConflict)
	// ErrTooLate: the first month, within which an extension is given, is
	// over.
	ErrTooLate = fmt.Errorf("too late to extend: %w", store.ErrConflict)
	// ErrOwnUnit: a person may not block the unit that holds their
	// record.
	ErrOwnUnit = fmt.Errorf("the record's own unit: %w", store.ErrConflict)
	// ErrTooMany: the person has too many open requests, or blocks, or
	// one of the kind open already.
	ErrTooMany = fmt.Errorf("too many: %w", store.ErrConflict)
	// ErrUnknownTarget: no such partner or unit to block.
	ErrUnknownTarget = fmt.Errorf("no such partner or unit: %w", store.ErrNotFound)
)

// limited refuses a's access to subject (whose unit, when needed, unit
// reads) when the person set a limit on their record that applies to a:
// an accepted restriction (art. 18) that a's role does not read through,
// or a block of a's partner organisation or unit. It sets e's decision
// and returns a *refused, nil when the access may go on. The restricted
// readers read through a restriction, and the handler role through the
// person's blocks (their requests must be answered); a block of a unit
// never applies to the unit that holds the record (the person cannot
// block the service itself: see docs/design.md).
func (v *Vault) limited(ctx context.Context, tx store.Tx, a identity.Actor, subj string, unit func() (string, error), e *audit.Entry) error {
	ls, err := tx.Limits(ctx, subj)
	if err != nil {
		return err
	}
	return v.limitedBy(ls, a, unit, e)
}

// limitedBy is limited's decision on the record's limits ls.
func (v *Vault) limitedBy(ls []rights.Limit, a identity.Actor, unit func() (string, error), e *audit.Entry) error {
	for _, l := range ls {
		switch l.Kind {
		case rights.LimitRestricted:
			if slices.Contains(v.rights.RestrictedReaders, a.Role) {
				continue
			}
			e.Decision = "deny:restricted"
			who := "nobody"
			if len(v.rights.RestrictedReaders) > 0 {
				who = "only the roles " + strings.Join(v.rights.RestrictedReaders, ", ")
			}
			return &refused{err: public.Errorf(access.ErrRestricted, "this person's record is restricted (GDPR art. 18): %s reach it until the restriction is lifted", who).
				WithHint("the person asked for it and the data protection officer accepted; ask them if the law requires this access"), counts: true}
		case rights.LimitPartner:
			if a.Sector == "" || a.ID != l.Target {
				continue
			}
		case rights.LimitUnit:
			if a.Sector != "" || a.Unit != l.Target || a.Role == v.rights.HandlerRole {
				continue
			}
			u, err := unit()
			if err != nil {
				return err
			}
			if u == l.Target {
				continue
			}
		default:
			continue
		}
		e.Decision = "deny:blocked_by_person"
		what := "unit " + a.Unit
		if a.Sector != "" {
			what = "organisation"
		}
		return &refused{err: public.Errorf(access.ErrBlockedByPerson, "this person has blocked your %s from their record", what).
			WithHint("the person decides this; if the law requires the access, ask the data protection officer"), counts: true}
	}
	return nil
}

// RequestView is a request as its person or its handler sees it.
type RequestView struct {
	ID string `json:"id"`
	// Subject is the person's id: in the handler's view of one request
	// only (never in the queue's list).
	Subject string   `json:"subject,omitempty"`
	Kind    string   `json:"kind"`
	Article string   `json:"article"`
	Fields  []string `json:"fields"`
	// Text, ExtendReason and Answer are the free texts, decrypted: in the
	// person's view and in the handler's view of one request, never in
	// the queue's list.
	Text    string    `json:"text,omitempty"`
	Status  string    `json:"status"`
	Filed   time.Time `json:"filed"`
	Due     time.Time `json:"due"`
	Overdue bool      `json:"overdue"`
	// ExtendBy is, for an open request not extended yet, the end of the
	// first month: the handler may extend it until then.
	ExtendBy     *time.Time `json:"extend_by,omitempty"`
	Extended     *time.Time `json:"extended,omitempty"`
	ExtendReason string     `json:"extend_reason,omitempty"`
	Decided      *time.Time `json:"decided,omitempty"`
	// DecidedBy is the handler's operator id (the handler's view only).
	DecidedBy string     `json:"decided_by,omitempty"`
	Answer    string     `json:"answer,omitempty"`
	Lifted    *time.Time `json:"lifted,omitempty"`
	// Erased: the record is erased, and the texts with it.
	Erased bool `json:"erased,omitempty"`
	// AuditSeq is the audit entry of the access that returned it.
	AuditSeq int64 `json:"audit_seq,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// loc is the organisation's calendar, which deadlines are counted in.
func (v *Vault) loc() *time.Location {
	if v.guard != nil && v.guard.Location != nil {
		return v.guard.Location
	}
	return time.UTC
}

// requestView makes r's view at now: with its texts opened with dk when
// set (nil: the queue's list, or an erased record).
func (v *Vault) requestView(r *rights.Request, dk dataKey, now time.Time) RequestView {
	out := RequestView{ID: r.ID, Kind: r.Kind, Article: rights.Article(r.Kind), Fields: r.Fields, Status: r.Status, Filed: r.Filed, Due: r.Due,
		Overdue: r.Overdue(now), Extended: timePtr(r.Extended), Decided: timePtr(r.Decided), Lifted: timePtr(r.Lifted)}
	if out.Fields == nil {
		out.Fields = []string{}
	}
	if r.Open() && r.Extended.IsZero() {
		out.ExtendBy = timePtr(rights.DueAt(r.Filed, v.loc()))
	}
	if dk != nil {
		out.Text, out.ExtendReason, out.Answer = dk.text(r.ID, "text", r.Text), dk.text(r.ID, "extend_reason", r.ExtendReason), dk.text(r.ID, "answer", r.Answer)
	}
	return out
}

// dataKey opens a person's texts; nil when the record is erased.
type dataKey func(label string, ct []byte) ([]byte, error)

// text opens the sealed text named part of request id ("" when none, or
// it does not open).
func (dk dataKey) text(id, part string, ct []byte) string {
	if ct == nil {
		return ""
	}
	pt, err := dk(textLabel(id, part), ct)
	if err != nil {
		return ""
	}
	return string(pt)
}

// textLabel is what binds a sealed text to its request and its part, as
// a field name binds a field's ciphertext (the subject is bound by the
// data key itself).
func textLabel(id, part string) string { return "rights/" + id + "/" + part }

// openKey returns the data key of a live row (nil for an erased one).
func (v *Vault) openKey(row *subject.Row) (dataKey, func(label string, pt []byte) []byte, error) {
	if row == nil || row.Gone() {
		return nil, nil, nil
	}
	dk, err := v.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK)
	if err != nil {
		return nil, nil, fmt.Errorf("open data key of %s: %w", row.ID, err)
	}
	return dk.Open, dk.Seal, nil
}

// personRow reads the person's own live record in tx: ErrNotFound when it
// is not there or erased (a session that outlived its record).
func personRow(ctx context.Context, tx store.Tx, subj string) (*subject.Row, error) {
	r, err := tx.GetSubject(ctx, subj)
	if errors.Is(err, store.ErrNotFound) || err == nil && r.Gone() {
		return nil, public.Errorf(store.ErrNotFound, "your record is not here, or was erased").WithHint("nothing more is held about you here")
	}
	return r, err
}

// checkPerson validates a person's session subject before anything.
func checkPerson(p Person) error {
	if !subjectid.Valid(p.Subject) {
		return invalid("malformed subject id")
	}
	return nil
}

// personAccess runs fn, a person's access to their own record, in one
// transaction with its audit entry (actor: the subject).
func personAccess[T any](ctx context.Context, v *Vault, p Person, action, reason string, fn func(ctx context.Context, tx store.Tx, row *subject.Row, e *audit.Entry) (T, error)) (T, int64, error) {
	type result struct {
		val T
		seq int64
	}
	now := v.now().UTC()
	res, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (result, error) {
		row, err := personRow(ctx, tx, p.Subject)
		if err != nil {
			return result{}, err
		}
		e := audit.Entry{Time: now, Actor: p.Subject, Action: action, Subject: p.Subject, Reason: reason, Decision: "allow", Origin: p.Origin}
		val, err := fn(ctx, tx, row, &e)
		if err != nil {
			return result{}, err
		}
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return result{}, err
		}
		return result{val, e.Seq}, nil
	})
	if err != nil {
		var zero T
		if _, ok := public.As(err); ok {
			return zero, 0, err
		}
		return zero, 0, unavailable(err)
	}
	return res.val, res.seq, nil
}

// Data is the art. 15 package of one person: their record in clear, the
// processing it is under (generated from the configuration), their
// requests and blocks.
type Data struct {
	Subject string            `json:"subject"`
	Unit    string            `json:"unit"`
	Created time.Time         `json:"created"`
	Updated time.Time         `json:"updated"`
	Fields  map[string]string `json:"fields"`
	// Restricted: an accepted restriction holds.
	Restricted bool          `json:"restricted"`
	Requests   []RequestView `json:"requests"`
	Blocks     []BlockView   `json:"blocks"`
	// Holds are the legal holds placed on the record, in force or
	// lifted: when (never why: the reason is the holder's). While one is
	// in force, neither erasure nor retention removes the record.
	Holds      []HoldDates         `json:"holds"`
	Processing *rights.Description `json:"processing"`
	// AuditSeq is the audit entry of this access.
	AuditSeq int64 `json:"audit_seq"`
}

// HoldDates is a legal hold as its person sees it.
type HoldDates struct {
	Placed  time.Time  `json:"placed"`
	Lifted  *time.Time `json:"lifted,omitempty"`
	InForce bool       `json:"in_force"`
}

// BlockView is a person's block of a partner or unit.
type BlockView struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Target  string    `json:"target"`
	Created time.Time `json:"created"`
}

// Description is the processing of the persons' records, generated from
// the configuration (the art. 15 part that is the same for everyone).
func (v *Vault) Description() *rights.Description {
	return rights.Describe(v.pol, v.rights.Contacts, v.rights.HandlerRole, v.rights.RestrictedReaders, func(role string) bool {
		l := v.limits(role)
		return l != nil && l.AllUnits
	})
}

// MyData returns person p's art. 15 package: every field of their record
// in clear (it is theirs), their requests and blocks, and the
// processing. Serving it is an access to the record, audited "me.data"
// (actor: the subject) in the transaction that reads it. The person's
// access history is [auditlog.SubjectHistory]'s, which the caller adds.
func (v *Vault) MyData(ctx context.Context, p Person) (*Data, error) {
	if err := checkPerson(p); err != nil {
		return nil, err
	}
	now := v.now().UTC()
	d, seq, err := personAccess(ctx, v, p, "me.data", "", func(ctx context.Context, tx store.Tx, row *subject.Row, e *audit.Entry) (*Data, error) {
		open, _, err := v.openKey(row)
		if err != nil {
			return nil, err
		}
		d := &Data{Subject: row.ID, Unit: row.Unit, Created: row.Created, Updated: row.Updated, Fields: map[string]string{}, Requests: []RequestView{}, Blocks: []BlockView{}}
		err = eachField(row.Fields, func(name string, ct []byte) error {
			pt, err := open(name, ct)
			if err != nil {
				return fmt.Errorf("open field %s of %s: %w", name, row.ID, err)
			}
			d.Fields[name] = string(pt)
			return nil
		})
		if err != nil {
			return nil, err
		}
		e.Fields = slices.Sorted(maps.Keys(d.Fields))
		rs, err := tx.SubjectRequests(ctx, row.ID)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			d.Requests = append(d.Requests, v.personView(&r, open, now))
			d.Restricted = d.Restricted || r.Restricting()
		}
		ls, err := tx.Limits(ctx, row.ID)
		if err != nil {
			return nil, err
		}
		d.Blocks = blockViews(ls)
		hs, err := tx.SubjectHolds(ctx, row.ID)
		if err != nil {
			return nil, err
		}
		d.Holds = make([]HoldDates, 0, len(hs))
		for _, h := range hs {
			hd := HoldDates{Placed: h.Placed, InForce: h.InForce()}
			if !hd.InForce {
				hd.Lifted = &h.Lifted
			}
			d.Holds = append(d.Holds, hd)
		}
		return d, nil
	})
	if err != nil {
		return nil, err
	}
	d.AuditSeq, d.Processing = seq, v.Description()
	return d, nil
}

// personView is r as its person sees it: no handler's id.
func (v *Vault) personView(r *rights.Request, open dataKey, now time.Time) RequestView {
	rv := v.requestView(r, open, now)
	rv.Erased = open == nil
	return rv
}

func blockViews(ls []rights.Limit) []BlockView {
	out := []BlockView{}
	for _, l := range ls {
		if l.Kind == rights.LimitPartner || l.Kind == rights.LimitUnit {
			out = append(out, BlockView{ID: l.Key(), Kind: l.Kind, Target: l.Target, Created: l.Created})
		}
	}
	return out
}

// checkText validates a free text: at most rights.MaxText bytes of valid
// UTF-8, no control characters but line breaks and tabs.
func checkText(what, s string) error {
	if len(s) > rights.MaxText {
		return invalid("%s longer than %d bytes", what, rights.MaxText)
	}
	if !utf8.ValidString(s) {
		return invalid("%s is not valid UTF-8", what)
	}
	for _, c := range s {
		if unicode.IsControl(c) && c != '\n' && c != '\r' && c != '\t' {
			return invalid("%s holds control characters", what)
		}
	}
	return nil
}

// checkRequest validates what a person files.
func (v *Vault) checkRequest(kind string, fields []string, text string) error {
	if !slices.Contains(rights.Kinds, kind) {
		return invalid("kind must be one of %s", strings.Join(rights.Kinds, ", "))
	}
	if len(fields) > len(v.pol.Fields) {
		return invalid("%d fields: the record has %d", len(fields), len(v.pol.Fields))
	}
	for i, f := range fields {
		if _, ok := v.pol.Field(f); !ok {
			return &FieldError{Field: f, Reason: "no such field in the schema"}
		}
		if slices.Contains(fields[:i], f) {
			return &FieldError{Field: f, Reason: "listed twice"}
		}
	}
	switch {
	case kind == rights.Rectification && len(fields) == 0:
		return invalid("a rectification names the fields to correct (fields), and says how in text")
	case kind != rights.Rectification && len(fields) > 0:
		return invalid("a request for %s is about the whole record: send no fields (say what you mean in text)", kind)
	}
	return checkText("text", text)
}

// FileRequest files person p's request: kind (rights.Rectification,
// Restriction, Erasure, Objection), the fields it is about (a
// rectification's), and the person's words (sealed under their data key).
// It goes to the queue of the handler role, due in a month; the person
// is sent an acknowledgement (so that a request filed by someone else
// with their session does not go unseen). Audited "me.request".
func (v *Vault) FileRequest(ctx context.Context, p Person, kind string, fields []string, text string) (*RequestView, error) {
	if err := checkPerson(p); err != nil {
		return nil, err
	}
	if v.rights.HandlerRole == "" {
		return nil, public.Errorf(ErrNoHandler, "this organisation handles no request through Coffre").
			WithHint("write to the controller: " + v.rights.Controller)
	}
	if err := v.checkRequest(kind, fields, text); err != nil {
		return nil, err
	}
	fields = slices.Clone(fields)
	now := v.now().UTC()
	id := newID("req_")
	rv, _, err := personAccess(ctx, v, p, "me.request", id+" "+kind, func(ctx context.Context, tx store.Tx, row *subject.Row, e *audit.Entry) (RequestView, error) {
		rs, err := tx.SubjectRequests(ctx, row.ID)
		if err != nil {
			return RequestView{}, err
		}
		open := 0
		for _, r := range rs {
			if !r.Open() {
				continue
			}
			if open++; r.Kind == kind {
				return RequestView{}, public.Errorf(ErrTooMany, "a request for %s is open already (%s)", kind, r.ID).
					WithHint("follow it with GET /v1/me/requests; add to it when the handler answers")
			}
		}
		if open >= rights.MaxOpen {
			return RequestView{}, public.Errorf(ErrTooMany, "%d requests are open already", open).WithHint("wait for the answers (GET /v1/me/requests)")
		}
		opener, seal, err := v.openKey(row)
		if err != nil {
			return RequestView{}, err
		}
		r := &rights.Request{ID: id, Subject: row.ID, Kind: kind, Fields: fields, Status: rights.Pending, Filed: now, Due: rights.DueAt(now, v.loc())}
		if text != "" {
			r.Text = seal(textLabel(id, "text"), []byte(text))
		}
		if err := tx.PutRequest(ctx, r); err != nil {
			return RequestView{}, err
		}
		e.Fields = fields
		if err := v.tell(ctx, tx, r, rights.EventFiled, now, false); err != nil {
			return RequestView{}, err
		}
		return v.personView(r, opener, now), nil
	})
	if err != nil {
		return nil, err
	}
	v.wake()
	return &rv, nil
}

// tell queues the message of event on r to its person, in tx.
func (v *Vault) tell(ctx context.Context, tx outbox.Queue, r *rights.Request, event string, now time.Time, courier bool) error {
	b, err := json.Marshal(rights.Message{Request: r.ID, Subject: r.Subject, Kind: r.Kind, Event: event, Fields: r.Fields, Time: now, Due: r.Due, Courier: courier})
	if err != nil {
		return fmt.Errorf("request message: %w", err)
	}
	return tx.PutMessage(ctx, &outbox.Message{Kind: rights.MessageKind, Channel: outbox.ChannelPerson, Recipient: r.Subject,
		Key: rights.Key(r.ID, event), Payload: b, Next: now, Created: now})
}

// wake wakes the delivery worker after a message was queued.
func (v *Vault) wake() {
	if v.queued != nil {
		v.queued()
	}
}

// MyRequests returns person p's requests, newest first, with their texts
// and the handler's reasons. Audited "me.requests".
func (v *Vault) MyRequests(ctx context.Context, p Person) ([]RequestView, error) {
	if err := checkPerson(p); err != nil {
		return nil, err
	}
	now := v.now().UTC()
	out, _, err := personAccess(ctx, v, p, "me.requests", "", func(ctx context.Context, tx store.Tx, row *subject.Row, _ *audit.Entry) ([]RequestView, error) {
		rs, err := tx.SubjectRequests(ctx, row.ID)
		if err != nil {
			return nil, err
		}
		open, _, err := v.openKey(row)
		if err != nil {
			return nil, err
		}
		out := []RequestView{}
		for _, r := range rs {
			out = append(out, v.personView(&r, open, now))
		}
		return out, nil
	})
	return out, err
}

// Block makes person p's record unreachable to a partner organisation
// (kind rights.LimitPartner, target its id) or a unit of the
// organisation (rights.LimitUnit), whatever purpose they declare: their
// reads, lookups and changes of it are refused (403 blocked_by_person)
// and audited. The unit that holds the record cannot be blocked (it is
// the service itself: a restriction or an objection, which the handler
// decides, is the way). Audited "me.block".
func (v *Vault) Block(ctx context.Context, p Person, kind, target string) (*BlockView, error) {
	if err := checkPerson(p); err != nil {
		return nil, err
	}
	switch {
	case kind != rights.LimitPartner && kind != rights.LimitUnit:
		return nil, invalid("block a partner or a unit")
	case kind == rights.LimitUnit && !ValidUnit(target):
		return nil, invalid("malformed unit")
	case kind == rights.LimitPartner && (len(target) == 0 || len(target) > 64 || !printableID(target)):
		return nil, invalid("malformed partner id")
	}
	now := v.now().UTC()
	l := rights.Limit{Subject: p.Subject, Kind: kind, Target: target, Created: now}
	_, _, err := personAccess(ctx, v, p, "me.block", l.Key(), func(ctx context.Context, tx store.Tx, row *subject.Row, _ *audit.Entry) (struct{}, error) {
		switch kind {
		case rights.LimitPartner:
			_, err := tx.GetPartner(ctx, target)
			if errors.Is(err, store.ErrNotFound) {
				return struct{}{}, public.Errorf(ErrUnknownTarget, "no partner organisation %s", target).
					WithHint("partners are named by the id your history shows (GET /v1/me/accesses)")
			}
			if err != nil {
				return struct{}{}, err
			}
		case rights.LimitUnit:
			if target == row.Unit {
				return struct{}{}, public.Errorf(ErrOwnUnit, "unit %s holds your record: blocking it would stop the service itself", target).
					WithHint(`file a restriction or an objection instead (POST /v1/me/requests {"kind":"restriction"}), which the data protection officer decides`)
			}
			ok, err := tx.UnitExists(ctx, target)
			if err != nil {
				return struct{}{}, err
			}
			if !ok {
				return struct{}{}, public.Errorf(ErrUnknownTarget, "no unit %s", target).WithHint("units are named as your history shows them")
			}
		}
		ls, err := tx.Limits(ctx, row.ID)
		if err != nil {
			return struct{}{}, err
		}
		if len(ls) >= rights.MaxLimits {
			return struct{}{}, public.Errorf(ErrTooMany, "%d blocks already", len(ls)).WithHint("remove one first (DELETE /v1/me/blocks/{id})")
		}
		if err := tx.PutLimit(ctx, l); errors.Is(err, store.ErrConflict) {
			return struct{}{}, public.Errorf(store.ErrConflict, "%s is blocked already", l.Key()).WithHint("nothing to do")
		} else if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, nil
	})
	if err != nil {
		return nil, err
	}
	return &BlockView{ID: l.Key(), Kind: kind, Target: target, Created: now}, nil
}

// printableID reports whether s holds only the characters of ids.
func printableID(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Unblock removes person p's block key ("partner:ID" or "unit:NAME").
// Audited "me.unblock".
func (v *Vault) Unblock(ctx context.Context, p Person, key string) error {
	if err := checkPerson(p); err != nil {
		return err
	}
	kind, target, ok := rights.ParseKey(key)
	if !ok {
		return invalid("malformed block id: want partner:ID or unit:NAME")
	}
	_, _, err := personAccess(ctx, v, p, "me.unblock", key, func(ctx context.Context, tx store.Tx, row *subject.Row, _ *audit.Entry) (struct{}, error) {
		err := tx.DeleteLimit(ctx, rights.Limit{Subject: row.ID, Kind: kind, Target: target})
		if errors.Is(err, store.ErrNotFound) {
			return struct{}{}, public.Errorf(store.ErrNotFound, "no block %s", key).WithHint("list your blocks: GET /v1/me/blocks")
		}
		return struct{}{}, err
	})
	return err
}

// MyBlocks returns person p's blocks. Audited "me.blocks".
func (v *Vault) MyBlocks(ctx context.Context, p Person) ([]BlockView, error) {
	if err := checkPerson(p); err != nil {
		return nil, err
	}
	out, _, err := personAccess(ctx, v, p, "me.blocks", "", func(ctx context.Context, tx store.Tx, row *subject.Row, _ *audit.Entry) ([]BlockView, error) {
		ls, err := tx.Limits(ctx, row.ID)
		return blockViews(ls), err
	})
	return out, err
}

// handler checks that a may handle the persons' requests: the rights
// permission, and the role the configuration names. A refusal is
// audited as action.
func (v *Vault) handler(ctx context.Context, a identity.Actor, action, reason string) error {
	entry := audit.Entry{Actor: a.ID, Action: action, Reason: reason, Origin: a.Origin}
	if err := v.can(a, policy.PermRights); err != nil {
		return v.deny(ctx, a, entry, err)
	}
	if a.Role != v.rights.HandlerRole || v.rights.HandlerRole == "" {
		return v.deny(ctx, a, entry, forbidden("role %q does not decide the persons' requests (rights.handler_role names %q)", a.Role, v.rights.HandlerRole))
	}
	return nil
}

// MaxQueuePage bounds the requests one RequestQueue call returns.
const MaxQueuePage = 200

// RequestQueue returns the open requests, earliest due first, after
// request after ("" from the first), at most limit (MaxQueuePage): ids,
// kinds, field names and dates, never whose request it is nor what it
// says, so that the list reaches nobody's record. Opening one is an
// access to its person ([Vault.OpenRequest]). Listing is an
// administrative act of the guard (rate, hours), audited
// "request.list".
func (v *Vault) RequestQueue(ctx context.Context, a identity.Actor, after string, limit int) ([]RequestView, error) {
	if err := v.handler(ctx, a, "request.list", ""); err != nil {
		return nil, err
	}
	if after != "" && !rights.ValidID(after) {
		return nil, invalid("after: malformed request id")
	}
	if limit <= 0 || limit > MaxQueuePage {
		limit = MaxQueuePage
	}
	now := v.now().UTC()
	type page struct {
		list    []RequestView
		refusal error
	}
	res, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (page, error) {
		c, err := v.CheckAdmin(ctx, tx, a, guard.ActOther)
		if err != nil {
			return page{}, err
		}
		e := audit.Entry{Time: now, Actor: a.ID, Action: "request.list", Reason: after, Decision: c.AuditDecision(), Origin: a.Origin}
		var out page
		if out.refusal = c.Refusal(); out.refusal == nil {
			var due time.Time
			if after != "" {
				r, err := tx.GetRequest(ctx, after)
				switch {
				case errors.Is(err, store.ErrNotFound):
					out.refusal, e.Decision = public.Errorf(store.ErrNotFound, "no request %s", after).WithHint("page with the last id of the previous page"), "deny:not_found"
				case err != nil:
					return page{}, err
				default:
					due = r.Due
				}
			}
			if out.refusal == nil {
				rs, err := tx.OpenRequests(ctx, due, after, limit)
				if err != nil {
					return page{}, err
				}
				out.list = []RequestView{}
				for _, r := range rs {
					out.list = append(out.list, v.requestView(&r, nil, now))
				}
			}
		}
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return page{}, err
		}
		return out, c.Finish(ctx, tx, e.Seq)
	})
	switch {
	case err != nil:
		return nil, unavailable(err)
	case res.refusal != nil:
		return nil, res.refusal
	}
	return res.list, nil
}

// found is what a handler's access to a request finds: the request and
// its person's row (nil when erased).
type found struct {
	r   *rights.Request
	row *subject.Row
}

// findRequest is the find step of a handler's access to request id: the
// request and its person's record, as reachRow finds a subject (a request
// unknown is a miss for the guard; the person's limits do not apply: the
// handler answers the person), and e's subject.
func (v *Vault) findRequest(ctx context.Context, tx store.Tx, lim *guard.Limits, a identity.Actor, id string, e *audit.Entry, acc *guard.Access) (found, error) {
	r, err := tx.GetRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		e.Decision, e.Fields, acc.Missing = "deny:not_found", nil, true
		return found{}, nil
	}
	if err != nil {
		return found{}, err
	}
	e.Subject, e.Fields = r.Subject, r.Fields
	row, err := reachRow(ctx, tx, lim, a, e, acc)
	if err != nil {
		return found{}, err
	}
	if row == nil {
		// The record is gone: the request was closed with it.
		e.Decision, acc.Missing = "allow", false
		acc.Subject = r.Subject
	}
	return found{r: r, row: row}, nil
}

// OpenRequest returns request id to its handler: whose it is, what the
// person wrote, the deadlines. It is an access to the person's record
// (their own words are personal data): the guard counts it as a read of
// the person (the subjects budgets, velocity, enumeration), and it is
// audited "request.open" with the person as subject. The person's limits
// on their record do not apply to the handler's requests.
func (v *Vault) OpenRequest(ctx context.Context, a identity.Actor, id string) (*RequestView, error) {
	if err := v.handler(ctx, a, "request.open", id); err != nil {
		return nil, err
	}
	if !rights.ValidID(id) {
		return nil, v.deny(ctx, a, audit.Entry{Actor: a.ID, Action: "request.open", Reason: "", Origin: a.Origin}, invalid("malformed request id"))
	}
	now := v.now()
	x := attempt[found]{actor: a, entry: audit.Entry{Actor: a.ID, Action: "request.open", Reason: id, Origin: a.Origin}, now: now, guard: guard.Access{Kind: guard.Read}}
	x.find = func(ctx context.Context, tx store.Tx, lim *guard.Limits, e *audit.Entry, acc *guard.Access) (found, error) {
		return v.findRequest(ctx, tx, lim, a, id, e, acc)
	}
	res, err := run(ctx, v, x)
	switch {
	case err != nil:
		return nil, unavailable(err)
	case res.refusal != nil:
		return nil, res.refusal
	case res.val.r == nil:
		return nil, public.Errorf(store.ErrNotFound, "no request %s", id).WithHint("list the open requests: GET /v1/requests")
	}
	return v.handlerView(res.val, res.seq)
}

// handlerView is a request as its handler sees it: whose, and its texts.
func (v *Vault) handlerView(f found, seq int64) (*RequestView, error) {
	open, _, err := v.openKey(f.row)
	if err != nil {
		return nil, err
	}
	rv := v.requestView(f.r, open, v.now().UTC())
	rv.Subject, rv.DecidedBy, rv.Erased, rv.AuditSeq = f.r.Subject, f.r.DecidedBy, open == nil, seq
	return &rv, nil
}

// DecideRequest records the handler's decision on request id: accept,
// refuse (a reason is required: the person is owed it, art. 12(4)),
// extend (once, within the first month, with a reason: the deadline
// moves to three months after filing, art. 12(3)) or lift (an accepted
// restriction). The person is told in the same transaction (a message of
// kind rights.MessageKind); reasons are sealed under the person's data
// key and read in their personal space. Accepting a restriction limits
// the record to the restricted readers; accepting an erasure erases it
// (the path of [Vault.Erase]: the erase permission, the erasures
// budget), after sealing the person's address for the confirmation
// under the root key (see docs/design.md, "The person's rights").
//
// A decision is an access to the person's record: the guard counts it
// as an update (an accepted erasure as an erasure), within the subject's
// scope, and it is audited "request.decide" with the decision (never
// the reason's text).
func (v *Vault) DecideRequest(ctx context.Context, a identity.Actor, id, decision, reason string) (*RequestView, error) {
	if err := v.handler(ctx, a, "request.decide", id+" "+decision); err != nil {
		return nil, err
	}
	entry := audit.Entry{Actor: a.ID, Action: "request.decide", Reason: id + " " + decision, Origin: a.Origin}
	switch {
	case !rights.ValidID(id):
		entry.Reason = ""
		return nil, v.deny(ctx, a, entry, invalid("malformed request id"))
	case !slices.Contains(rights.Decisions, decision):
		entry.Reason = id
		return nil, v.deny(ctx, a, entry, invalid("decision must be one of %s", strings.Join(rights.Decisions, ", ")))
	case (decision == rights.Refuse || decision == rights.Extend) && strings.TrimSpace(reason) == "":
		return nil, v.deny(ctx, a, entry, public.Errorf(access.ErrReasonRequired, "a %s needs a reason: the person is owed it (GDPR art. 12(3), 12(4))", decision))
	}
	if err := checkText("reason", reason); err != nil {
		return nil, v.deny(ctx, a, entry, err)
	}
	now := v.now()
	at := now.UTC()
	x := attempt[found]{actor: a, entry: entry, now: now, guard: guard.Access{Kind: guard.Update}}
	x.find = func(ctx context.Context, tx store.Tx, lim *guard.Limits, e *audit.Entry, acc *guard.Access) (found, error) {
		f, err := v.findRequest(ctx, tx, lim, a, id, e, acc)
		if err != nil || f.r == nil {
			return f, err
		}
		if f.row == nil {
			e.Decision = "deny:conflict"
			status := f.r.Status
			if f.r.Open() {
				status = rights.Closed // read before the erasure that closes it committed
			}
			return f, &refused{err: public.Errorf(ErrDecided, "request %s is %s: the person's record is erased", id, status).WithHint("nothing more to decide")}
		}
		if err := v.decidable(f.r, decision, at); err != nil {
			e.Decision = "deny:conflict"
			return f, &refused{err: err}
		}
		if decision == rights.Accept && f.r.Kind == rights.Erasure {
			if err := v.can(a, policy.PermErase); err != nil {
				e.Decision = "deny:forbidden"
				return f, &refused{err: err, counts: true}
			}
			// A held record is not erased: the request stays open.
			if err := refuseHeld(ctx, tx, f.row, e); err != nil {
				return f, err
			}
			acc.Kind = guard.Erase
		}
		return f, nil
	}
	x.write = func(ctx context.Context, tx store.Tx, f found, _ *audit.Entry) (found, error) {
		if f.r == nil {
			return f, nil
		}
		err := v.decide(ctx, tx, a, f, decision, reason, at)
		if !errors.Is(err, store.ErrConflict) {
			return f, err
		}
		// Changed since find read it: decided by another handler, or
		// closed by an erasure of the record (on another server).
		if r, rerr := tx.GetRequest(ctx, id); rerr == nil && r.Status == rights.Closed {
			return f, public.Errorf(ErrDecided, "request %s is closed: the person's record was erased meanwhile", id).WithHint("nothing more to decide")
		}
		return f, public.Errorf(ErrDecided, "request %s was decided by someone else meanwhile", id).WithHint("open it again: GET /v1/requests/" + id)
	}
	res, err := run(ctx, v, x)
	switch {
	case err != nil:
		return nil, unavailable(err)
	case res.refusal != nil:
		return nil, res.refusal
	case res.val.r == nil:
		return nil, public.Errorf(store.ErrNotFound, "no request %s", id).WithHint("list the open requests: GET /v1/requests")
	}
	v.wake()
	if decision == rights.Accept && res.val.r.Kind == rights.Erasure {
		res.val.row = nil // erased
	}
	return v.handlerView(res.val, res.seq)
}

// decidable says why decision does not apply to r at now (nil: it does).
func (v *Vault) decidable(r *rights.Request, decision string, now time.Time) error {
	switch {
	case decision == rights.Lift && !r.Restricting():
		return public.Errorf(ErrDecided, "request %s is no restriction in force (%s %s)", r.ID, r.Status, r.Kind).WithHint("only an accepted restriction not lifted yet is lifted")
	case decision != rights.Lift && !r.Open():
		return public.Errorf(ErrDecided, "request %s is %s already", r.ID, r.Status).WithHint("a decision is taken once; the person may file a new request")
	case decision == rights.Extend && !r.Extended.IsZero():
		return public.Errorf(ErrExtended, "request %s was extended already, until %s", r.ID, r.Due.Format(time.DateOnly)).WithHint("an extension is given once (GDPR art. 12(3)): decide by the deadline")
	case decision == rights.Extend && now.After(rights.DueAt(r.Filed, v.loc())):
		return public.Errorf(ErrTooLate, "request %s is past its first month (due %s): an extension is given within it", r.ID, rights.DueAt(r.Filed, v.loc()).Format(time.DateOnly)).
			WithHint("GDPR art. 12(3): decide now")
	}
	return nil
}

// decide writes decision on f in tx and queues the person's message.
func (v *Vault) decide(ctx context.Context, tx store.Tx, a identity.Actor, f found, decision, reason string, now time.Time) error {
	r := f.r
	_, seal, err := v.openKey(f.row)
	if err != nil {
		return err
	}
	var sealed []byte
	if reason != "" {
		sealed = seal(textLabel(r.ID, map[bool]string{true: "extend_reason", false: "answer"}[decision == rights.Extend]), []byte(reason))
	}
	var event string
	courier := false
	switch decision {
	case rights.Extend:
		r.Extended, r.ExtendReason, r.Due, event = now, sealed, rights.ExtendedDue(r.Filed, v.loc()), rights.EventExtended
	case rights.Refuse:
		r.Status, r.Decided, r.DecidedBy, r.Answer, event = rights.Refused, now, a.ID, sealed, rights.EventRefused
	case rights.Lift:
		r.Lifted, event = now, rights.EventLifted
	case rights.Accept:
		r.Status, r.Decided, r.DecidedBy, r.Answer, event = rights.Accepted, now, a.ID, sealed, rights.EventAccepted
		if r.Kind == rights.Erasure {
			// The record, and the address in it, are gone once erased:
			// the confirmation carries the address, sealed under the
			// root key for as long as it takes to send it.
			c, err := v.contactOf(f.row, v.notices.Contacts)
			switch {
			case errors.Is(err, ErrNoContact):
			case err != nil:
				return err
			default:
				b, err := json.Marshal(c)
				if err != nil {
					return err
				}
				r.Courier, courier = v.keys.SealSecret(courierLabel(r.ID), b), true
				clear(b)
			}
		}
	}
	// The request first: a decision that lost the race (ErrConflict) has
	// changed nothing.
	if err := tx.UpdateRequest(ctx, r); err != nil {
		return err
	}
	switch {
	case decision == rights.Lift:
		if err := tx.DeleteLimit(ctx, rights.Limit{Subject: r.Subject, Kind: rights.LimitRestricted, Target: r.ID}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	case decision == rights.Accept && r.Kind == rights.Restriction:
		if err := tx.PutLimit(ctx, rights.Limit{Subject: r.Subject, Kind: rights.LimitRestricted, Target: r.ID, Created: now}); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	if err := v.tell(ctx, tx, r, event, now, courier); err != nil {
		return err
	}
	if decision == rights.Accept && r.Kind == rights.Erasure {
		if err := v.eraseRow(ctx, tx, a, f.row, now); err != nil {
			return err
		}
	}
	_, err = tx.ForgetCouriers(ctx, now.Add(-courierTTL))
	return err
}

// courierLabel binds a sealed address to its request.
func courierLabel(id string) string { return "coffre/courier/" + id }

// RequestCourier returns the address an accepted erasure's confirmation
// carries (request id), for the delivery worker: ErrNoContact when it
// carries none or it was dropped (sent, or older than a week).
func (v *Vault) RequestCourier(ctx context.Context, id string) (notice.Contact, error) {
	var r *rights.Request
	err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		r, err = tx.GetRequest(ctx, id)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notice.Contact{}, ErrNoContact
	case err != nil:
		return notice.Contact{}, fmt.Errorf("courier of %s: %w", id, err)
	case r.Courier == nil || v.now().Sub(r.Decided) > courierTTL:
		return notice.Contact{}, ErrNoContact
	}
	b, err := v.keys.OpenSecret(courierLabel(id), r.Courier)
	if err != nil {
		return notice.Contact{}, fmt.Errorf("courier of %s: %w", id, err)
	}
	defer clear(b)
	var c notice.Contact
	if err := json.Unmarshal(b, &c); err != nil {
		return notice.Contact{}, fmt.Errorf("courier of %s: %w", id, err)
	}
	return c, nil
}

// ForgetCourier drops the address request id carries, once its message
// is sent or dead: after it, nothing holds the erased person's address.
func (v *Vault) ForgetCourier(ctx context.Context, id string) error {
	err := v.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := tx.GetRequest(ctx, id)
		if err != nil || r.Courier == nil {
			return err
		}
		r.Courier = nil
		return tx.UpdateRequest(ctx, r)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
