package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/breach"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/impact"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

// ErrNoIncident is the error of an incident id that names none.
var ErrNoIncident = public.Errorf(store.ErrNotFound, "no such incident").WithHint("list the breach register: coffre incident list")

// IncidentView is an incident as its commands show it: the incident, its
// clocks at the time it was read, and its timeline.
type IncidentView struct {
	Incident *incident.Incident `json:"incident"`
	Clocks   []incident.Clock   `json:"clocks"`
	Events   []incident.Event   `json:"events"`
}

// Host reports whether a is the host's command line, which holds every
// permission (whoever runs coffre on the host holds the store).
func Host(a identity.Actor) bool { return a.ID == "system" && a.Origin == "cli" }

// incidentsAllowed refuses a without the incidents permission, audited
// as action (about incident id, if any).
func (v *Vault) incidentsAllowed(ctx context.Context, a identity.Actor, action, id string) error {
	if Host(a) {
		return nil
	}
	if err := v.can(a, policy.PermIncidents); err != nil {
		return v.deny(ctx, a, audit.Entry{Actor: a.ID, Action: action, Reason: id, Origin: a.Origin}, err)
	}
	return nil
}

// incidentAct runs one act on the breach register in one transaction:
// the guard decides it (administration is an access: budgets, the hard
// margin, hours), fn makes the change and returns the timeline event it
// adds (nil: none), and the act's audit entry (action, the incident's id
// as its reason, never a person's data) is appended before the event,
// which names it. A refusal by the guard or by fn (an error made by
// refuse) is audited and returned; nothing changes.
func (v *Vault) incidentAct(ctx context.Context, a identity.Actor, action, id string, fn func(ctx context.Context, tx store.Tx, e *audit.Entry) (*incident.Event, error)) error {
	if err := v.incidentsAllowed(ctx, a, action, id); err != nil {
		return err
	}
	now := v.now().UTC()
	refusal, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (error, error) {
		e := &audit.Entry{Time: now, Actor: a.ID, Action: action, Reason: id, Decision: "allow", Origin: a.Origin}
		var c *AdminCheck
		if !Host(a) {
			var err error
			if c, err = v.CheckAdmin(ctx, tx, a, guard.ActOther); err != nil {
				return nil, err
			}
			e.Decision = c.AuditDecision()
		}
		var refusal error
		var ev *incident.Event
		if c != nil && c.Refusal() != nil {
			refusal = c.Refusal()
		} else {
			var err error
			ev, err = fn(ctx, tx, e)
			var r *refused
			switch {
			case errors.As(err, &r):
				refusal, e.Decision, ev = r.err, r.decision, nil
			case err != nil:
				return nil, err
			}
		}
		if err := tx.AppendAudit(ctx, e); err != nil {
			return nil, err
		}
		if ev != nil {
			ev.Incident, ev.At, ev.Actor, ev.Audit = e.Reason, now, a.ID, e.Seq
			if err := tx.AppendEvent(ctx, ev); err != nil {
				return nil, err
			}
		}
		if c != nil {
			if err := c.Finish(ctx, tx, e.Seq); err != nil {
				return nil, err
			}
		}
		return refusal, nil
	})
	if err != nil {
		return unavailable(fmt.Errorf("%s: %w", action, err))
	}
	return refusal
}

// OpenIncident records a new incident opened by a (security officer, DPO
// or the host): it checks the incident (incident.Incident.Validate) and
// that the accounts its scope names exist, sets its id, status and
// opening, and stores it with the first event of its timeline. The
// clocks start at inc.Aware.
func (v *Vault) OpenIncident(ctx context.Context, a identity.Actor, inc *incident.Incident) (*incident.Incident, error) {
	now := v.now().UTC()
	inc.ID, inc.Status, inc.Opened, inc.OpenedBy, inc.Version = incident.NewID(), incident.Open, now, a.ID, 0
	inc.Impact, inc.Reports, inc.Letters = nil, nil, nil
	if err := inc.Validate(now); err != nil {
		return nil, public.Errorf(access.ErrInvalid, "%v", err)
	}
	err := v.incidentAct(ctx, a, "incident.open", inc.ID, func(ctx context.Context, tx store.Tx, e *audit.Entry) (*incident.Event, error) {
		if err := knownAccounts(ctx, tx, inc.Scope); err != nil {
			return nil, refuse("deny:invalid", err)
		}
		stored := *inc
		if err := tx.PutIncident(ctx, &stored); err != nil {
			return nil, err
		}
		return &incident.Event{Kind: "opened", Detail: ScopeDetail(inc.Scope)}, nil
	})
	if err != nil {
		return nil, err
	}
	inc.Version = 1
	return inc, nil
}

// knownAccounts refuses a scope that names an operator or a partner the
// store does not hold.
func knownAccounts(ctx context.Context, tx store.Tx, s incident.Scope) error {
	for _, id := range s.Operators {
		if _, err := tx.GetOperator(ctx, id); errors.Is(err, store.ErrNotFound) {
			return public.Errorf(access.ErrInvalid, "invalid input: the scope names operator %s, which does not exist", id).WithHint("name operators by id (coffre operator review lists them)")
		} else if err != nil {
			return err
		}
	}
	for _, id := range s.Partners {
		if _, err := tx.GetPartner(ctx, id); errors.Is(err, store.ErrNotFound) {
			return public.Errorf(access.ErrInvalid, "invalid input: the scope names partner %s, which does not exist", id).WithHint("name partners by id")
		} else if err != nil {
			return err
		}
	}
	return nil
}

// ScopeDetail is a scope as a timeline shows it: ids and dates only.
func ScopeDetail(s incident.Scope) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from %s", s.From.UTC().Format("2006-01-02T15:04:05Z"))
	if !s.To.IsZero() {
		fmt.Fprintf(&b, " to %s", s.To.UTC().Format("2006-01-02T15:04:05Z"))
	}
	for _, l := range []struct {
		name string
		ids  []string
	}{{"operators", s.Operators}, {"partners", s.Partners}, {"origins", s.Origins}} {
		if len(l.ids) > 0 {
			fmt.Fprintf(&b, "; %s %s", l.name, strings.Join(l.ids, ","))
		}
	}
	if s.Everything {
		b.WriteString("; every access")
	}
	if s.StoreStolen {
		b.WriteString("; store stolen")
		if s.KeysSafe {
			b.WriteString(", keys safe")
		}
	}
	return b.String()
}

// Incident returns incident id with its clocks and timeline, audited as
// incident.show.
func (v *Vault) Incident(ctx context.Context, a identity.Actor, id string) (*IncidentView, error) {
	if !incident.ValidID(id) {
		return nil, invalid("malformed incident id %q", id)
	}
	var view *IncidentView
	err := v.incidentAct(ctx, a, "incident.show", id, func(ctx context.Context, tx store.Tx, e *audit.Entry) (*incident.Event, error) {
		inc, err := tx.GetIncident(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, refuse("deny:not_found", ErrNoIncident)
		} else if err != nil {
			return nil, err
		}
		evs, err := tx.Events(ctx, id)
		if err != nil {
			return nil, err
		}
		view = &IncidentView{Incident: inc, Clocks: inc.Clocks(e.Time), Events: evs}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return view, nil
}

// Incidents returns the breach register, every incident oldest first
// (GDPR art. 33(5)), audited as incident.list.
func (v *Vault) Incidents(ctx context.Context, a identity.Actor) ([]incident.Incident, error) {
	var list []incident.Incident
	err := v.incidentAct(ctx, a, "incident.list", "", func(ctx context.Context, tx store.Tx, _ *audit.Entry) (*incident.Event, error) {
		var err error
		list, err = tx.Incidents(ctx)
		return nil, err
	})
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []incident.Incident{}
	}
	return list, nil
}

// ChangeIncident changes incident id as change says, audited as action
// with the event change returns on its timeline. change gets the stored
// incident and changes it in place; an error it returns that is a public
// error refuses the act (audited, nothing changed).
func (v *Vault) ChangeIncident(ctx context.Context, a identity.Actor, id, action string, change func(inc *incident.Incident) (*incident.Event, error)) (*incident.Incident, error) {
	if !incident.ValidID(id) {
		return nil, invalid("malformed incident id %q", id)
	}
	var out *incident.Incident
	err := v.incidentAct(ctx, a, action, id, func(ctx context.Context, tx store.Tx, e *audit.Entry) (*incident.Event, error) {
		inc, err := tx.GetIncident(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, refuse("deny:not_found", ErrNoIncident)
		} else if err != nil {
			return nil, err
		}
		ev, err := change(inc)
		var pe *public.Error
		if errors.As(err, &pe) {
			return nil, refuse("deny:"+errorCode(err), err)
		} else if err != nil {
			return nil, err
		}
		if err := tx.UpdateIncident(ctx, inc); err != nil {
			return nil, err
		}
		out = inc
		return ev, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ChangeScope replaces incident id's scope (checked as at its opening),
// on its timeline as "scope".
func (v *Vault) ChangeScope(ctx context.Context, a identity.Actor, id string, s incident.Scope) (*incident.Incident, error) {
	now := v.now().UTC()
	if err := s.Validate(now); err != nil {
		return nil, public.Errorf(access.ErrInvalid, "%v", err)
	}
	var known error
	if err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		known = knownAccounts(ctx, tx, s)
		return nil
	}); err != nil {
		return nil, unavailable(err)
	}
	if known != nil {
		var pe *public.Error
		if !errors.As(known, &pe) {
			return nil, unavailable(known)
		}
		return nil, known
	}
	return v.ChangeIncident(ctx, a, id, "incident.scope", func(inc *incident.Incident) (*incident.Event, error) {
		if inc.Status == incident.Closed {
			return nil, conflict("the incident is closed")
		}
		if s.From.After(inc.Aware) {
			return nil, invalid("the window starts after the organisation became aware of the breach")
		}
		inc.Scope = s
		inc.Impact = nil // computed for the scope before: compute it again
		return &incident.Event{Kind: "scope", Detail: ScopeDetail(s)}, nil
	})
}

// RecordContainment puts a containment act (kind: seal, revoke, lock…,
// detail: the ids and counts it touched) on incident id's timeline,
// audited as incident.contain; an open incident becomes contained. The
// act itself was audited by its own service before.
func (v *Vault) RecordContainment(ctx context.Context, a identity.Actor, id, kind, detail string) (*incident.Incident, error) {
	return v.ChangeIncident(ctx, a, id, "incident.contain", func(inc *incident.Incident) (*incident.Event, error) {
		if inc.Status == incident.Open {
			inc.Status = incident.Contained
		}
		return &incident.Event{Kind: kind, Detail: detail}, nil
	})
}

// readIncident reads incident id for an act (action) of a outside a
// transaction of its own (a computation over the log): its id checked,
// the permission checked (a refusal audited), ErrNoIncident if none.
func (v *Vault) readIncident(ctx context.Context, a identity.Actor, action, id string) (*incident.Incident, error) {
	if !incident.ValidID(id) {
		return nil, invalid("malformed incident id %q", id)
	}
	if err := v.incidentsAllowed(ctx, a, action, id); err != nil {
		return nil, err
	}
	var inc *incident.Incident
	if err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		inc, err = tx.GetIncident(ctx, id)
		return err
	}); errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoIncident
	} else if err != nil {
		return nil, unavailable(err)
	}
	return inc, nil
}

// ErrTampered is the public error of an impact refused because the audit
// log fails verification.
var ErrTampered = errors.New("audit log fails verification")

// Impact computes incident id's impact from the audit log (package
// impact: the scope's window verified against the latest signed
// checkpoint first) and records its counts on the incident and its
// timeline ("impact"), audited as incident.impact. A log that fails
// verification yields no impact: the refusal, naming the first bad
// entry, is audited and on the timeline ("impact-refused"), and the
// error wraps ErrTampered and the *auditlog.TamperError. The result
// holds each person's exposure: the caller writes it to a file, never
// to a log.
func (v *Vault) Impact(ctx context.Context, a identity.Actor, id, verifierKey string) (*impact.Result, error) {
	inc, err := v.readIncident(ctx, a, "incident.impact", id)
	if err != nil {
		return nil, err
	}
	now := v.now().UTC()
	canaries := map[string]bool{}
	if err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		ids, err := tx.CanarySubjects(ctx)
		for _, id := range ids {
			canaries[id] = true
		}
		return err
	}); err != nil {
		return nil, unavailable(err)
	}
	info := impact.Info{Account: impact.StoreAccounts(v.store), Treatment: impact.Treatments(v.pol), Sensitivity: impact.Sensitivities(v.pol), Canaries: canaries}
	res, err := impact.Compute(ctx, impact.Source{Store: v.store, Key: verifierKey}, inc.Scope, info, now)
	var te *auditlog.TamperError
	if errors.As(err, &te) {
		detail := fmt.Sprintf("refused: the audit log fails verification at index %d (entry %d)", te.Index, te.Index+1)
		if _, rerr := v.ChangeIncident(ctx, a, id, "incident.impact", func(inc *incident.Incident) (*incident.Event, error) {
			inc.Impact = nil
			return &incident.Event{Kind: "impact-refused", Detail: detail}, nil
		}); rerr != nil {
			return nil, rerr
		}
		return nil, public.Errorf(ErrTampered, "no impact: the %v", te).
			WithHint("keep the store as it is for the investigation; coffre audit verify checks the whole log")
	} else if errors.Is(err, auditlog.ErrNoCheckpoint) {
		return nil, public.Errorf(store.ErrConflict, "no impact: the audit log has no signed checkpoint yet").
			WithHint("start the server: its integrator signs the log within seconds; then compute the impact again")
	} else if err != nil {
		return nil, unavailable(fmt.Errorf("impact: %w", err))
	}
	if inc.Scope.StoreStolen {
		if err := v.stolenStore(ctx, res, inc.Scope.KeysSafe, canaries); err != nil {
			return nil, unavailable(fmt.Errorf("impact: the stolen store's records: %w", err))
		}
	}
	for name, fc := range res.Impact.Fields {
		if f, ok := v.pol.Field(name); ok {
			fc.Category = string(f.Type)
			res.Impact.Fields[name] = fc
		}
	}
	im := res.Impact
	_, err = v.ChangeIncident(ctx, a, id, "incident.impact", func(inc *incident.Incident) (*incident.Event, error) {
		inc.Impact = &im
		return &incident.Event{Kind: "impact", Detail: fmt.Sprintf("log of %d entries verified; %d people exposed (%d field values), %d confirmed, %d attempted; %d entries in scope",
			im.LogSize, im.Subjects, im.Records, im.Confirmed, im.Attempted, im.Matched)}, nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Report writes incident id's report to the authorities for phase
// (package breach: GDPR art. 33(3), the CNIL's form, NIS2 art. 23),
// audited as incident.report. filed records that it was sent (the clocks
// it answers stop, and it is on the timeline); otherwise it is a draft.
// Without an impact it is refused (breach.ErrNoImpact), as is a late one
// without the reasons for the delay (breach.ErrDelayReason).
func (v *Vault) Report(ctx context.Context, a identity.Actor, id, phase string, s breach.Settings, filed bool) (*breach.Report, error) {
	if !incident.ValidID(id) {
		return nil, invalid("malformed incident id %q", id)
	}
	if s.Reporter == "" {
		s.Reporter = a.ID
	}
	var rep *breach.Report
	err := v.incidentAct(ctx, a, "incident.report", id, func(ctx context.Context, tx store.Tx, e *audit.Entry) (*incident.Event, error) {
		inc, err := tx.GetIncident(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, refuse("deny:not_found", ErrNoIncident)
		} else if err != nil {
			return nil, err
		}
		evs, err := tx.Events(ctx, id)
		if err != nil {
			return nil, err
		}
		if filed {
			inc.Reports = append(inc.Reports, incident.Report{Phase: phase, At: e.Time, By: a.ID})
		}
		r, err := breach.Build(inc, evs, s, phase, e.Time)
		if err != nil {
			return nil, refuse("deny:invalid", public.Errorf(err, "%v", err))
		}
		rep = r
		if !filed {
			return nil, nil
		}
		if err := tx.UpdateIncident(ctx, inc); err != nil {
			return nil, err
		}
		return &incident.Event{Kind: "report", Detail: fmt.Sprintf("%s report filed with the authorities", phase)}, nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// letterBatch bounds the letters queued in one transaction.
const letterBatch = 1000

// NotifyBreach queues a letter to each person whose fields the
// incident's impact exposed (people, from the impact just computed: those
// with fields; a person only confirmed or attempted gets none), through
// the delivery worker, each keyed by the incident and the person so that
// a second run queues none (idempotent, also after a crash half way:
// batches of letterBatch, each its own transaction). The incident records
// the letters and they go on its timeline, audited as incident.notify.
// Refused without an impact (compute it first), or when people is not
// the impact's (computed on another log size).
func (v *Vault) NotifyBreach(ctx context.Context, a identity.Actor, id string, res *impact.Result) (*incident.Letters, error) {
	inc, err := v.readIncident(ctx, a, "incident.notify", id)
	if err != nil {
		return nil, err
	}
	switch {
	case inc.Impact == nil:
		return nil, public.Errorf(breach.ErrNoImpact, "the incident has no impact yet").WithHint("compute it first: coffre incident impact " + id)
	case inc.Letters != nil:
		return inc.Letters, nil // queued once already: nothing again
	case res == nil || res.Impact.LogSize != inc.Impact.LogSize || res.Impact.Subjects != inc.Impact.Subjects:
		return nil, conflict("the impact changed since it was computed: compute it again, then notify")
	}
	now := v.now().UTC()
	var letters []outbox.Message
	var noContact int64
	for _, p := range res.People {
		if len(p.Fields) == 0 {
			continue
		}
		// A record with neither email nor phone (or erased since): no
		// message would reach anyone; the officer writes by post.
		if _, err := v.Contact(ctx, p.Subject); errors.Is(err, ErrNoContact) || errors.Is(err, store.ErrNotFound) {
			noContact++
			continue
		} else if err != nil {
			return nil, unavailable(err)
		}
		msg := breach.LetterMessage{Incident: id}
		for _, f := range p.Fields {
			msg.Fields = append(msg.Fields, breach.Exposure{Field: f.Name, Clear: f.Clear, Mask: f.Mask})
		}
		payload, err := json.Marshal(msg)
		if err != nil {
			return nil, err
		}
		letters = append(letters, outbox.Message{Kind: breach.LetterKind, Channel: outbox.ChannelPerson, Recipient: p.Subject,
			Key: breach.LetterKey(id, p.Subject), Payload: payload, Next: now, Created: now})
	}
	for from := 0; from < len(letters); from += letterBatch {
		batch := letters[from:min(from+letterBatch, len(letters))]
		if err := v.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			for k := range batch {
				m := batch[k] // PutMessage sets fields: a rerun starts afresh
				if err := tx.PutMessage(ctx, &m); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return nil, unavailable(fmt.Errorf("queue letters: %w", err))
		}
	}
	out := &incident.Letters{Queued: now, By: a.ID, People: int64(len(letters)), LogSize: inc.Impact.LogSize, NoContact: noContact}
	_, err = v.ChangeIncident(ctx, a, id, "incident.notify", func(inc *incident.Incident) (*incident.Event, error) {
		if inc.Letters != nil {
			out = inc.Letters // another run finished first: its record stands
			return nil, nil
		}
		inc.Letters = out
		return &incident.Event{Kind: "notify", Detail: fmt.Sprintf("letters queued to %d people (art. 34); %d with neither email nor phone on file, to write to by post", out.People, out.NoContact)}, nil
	})
	if err != nil {
		return nil, err
	}
	v.wake()
	return out, nil
}

// Evidence returns incident id's evidence bundle: the audit entries of
// its scope's window that are the scope's accesses (the entries its
// impact counts: impact.Matcher), each with its inclusion proof against
// the latest signed checkpoint, which the bundle carries
// (auditlog.BuildEvidence; verifiable offline with the verifier key
// alone). It is audited as incident.evidence and on the timeline
// ("evidence", with the counts). A log that fails verification yields no
// bundle, as for Impact: the refusal is on the timeline
// ("evidence-refused") and the error wraps ErrTampered. A scope that
// names no accesses (a stolen store only) has no evidence in the log.
func (v *Vault) Evidence(ctx context.Context, a identity.Actor, id, verifierKey string) (*auditlog.Evidence, error) {
	inc, err := v.readIncident(ctx, a, "incident.evidence", id)
	if err != nil {
		return nil, err
	}
	m, err := impact.NewMatcher(inc.Scope, impact.StoreAccounts(v.store))
	if err != nil {
		return nil, unavailable(err)
	}
	if !m.Any() {
		return nil, invalid("the incident's scope names no accesses (only a stolen store): the audit log holds no evidence of it")
	}
	ev, _, err := auditlog.BuildEvidence(ctx, v.store, verifierKey, inc.Scope.From, inc.Scope.To, func(e *audit.Entry) (bool, error) {
		_, ok, err := m.Match(ctx, e)
		return ok, err
	})
	var te *auditlog.TamperError
	if errors.As(err, &te) || errors.Is(err, auditlog.ErrBadTiles) {
		detail := "refused: the audit log fails verification"
		if te != nil {
			detail = fmt.Sprintf("refused: the audit log fails verification at index %d (entry %d)", te.Index, te.Index+1)
		}
		if _, rerr := v.ChangeIncident(ctx, a, id, "incident.evidence", func(inc *incident.Incident) (*incident.Event, error) {
			return &incident.Event{Kind: "evidence-refused", Detail: detail}, nil
		}); rerr != nil {
			return nil, rerr
		}
		return nil, public.Errorf(ErrTampered, "no evidence: %v", err).
			WithHint("keep the store as it is for the investigation; coffre audit verify checks the whole log")
	} else if errors.Is(err, auditlog.ErrNoCheckpoint) {
		return nil, public.Errorf(store.ErrConflict, "no evidence: the audit log has no signed checkpoint yet").
			WithHint("start the server: its integrator signs the log within seconds; then ask again")
	} else if err != nil {
		return nil, unavailable(fmt.Errorf("evidence: %w", err))
	}
	if err := v.openEvidenceReasons(ctx, ev); err != nil {
		return nil, unavailable(fmt.Errorf("evidence: %w", err))
	}
	ev.Header.Incident, ev.Header.Scope = id, ScopeDetail(inc.Scope)
	h := ev.Header
	_, err = v.ChangeIncident(ctx, a, id, "incident.evidence", func(inc *incident.Incident) (*incident.Event, error) {
		return &incident.Event{Kind: "evidence", Detail: fmt.Sprintf("evidence bundle: %d entries in scope of %d in the window, with proofs against the checkpoint of size %d",
			h.Entries, h.Scanned, h.Size)}, nil
	})
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// stolenStore adds to res, for a stolen store, everyone whose record was
// in it, with the fields the record holds (their names are stored in
// clear beside the ciphertexts: nothing is decrypted), in clear when the
// keys may have left with it, else as ciphertext; and counts them as
// exposed. A person the log shows exposed keeps what it shows. Canaries
// are left out: no one's data.
func (v *Vault) stolenStore(ctx context.Context, res *impact.Result, keysSafe bool, canaries map[string]bool) error {
	byID := map[string]int{}
	for i, p := range res.People {
		byID[p.Subject] = i
	}
	for after := int64(0); ; {
		var rows []*subject.Row
		if err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			rows, err = tx.LiveSubjects(ctx, after, 1000)
			return err
		}); err != nil {
			return err
		}
		for _, row := range rows {
			after = row.Seq
			if canaries[row.ID] {
				continue
			}
			i, ok := byID[row.ID]
			if !ok {
				res.People = append(res.People, impact.Person{Subject: row.ID})
				i = len(res.People) - 1
				byID[row.ID] = i
			}
			p := &res.People[i]
			err := eachField(row.Fields, func(name string, _ []byte) error {
				k := slices.IndexFunc(p.Fields, func(f impact.Field) bool { return f.Name == name })
				switch {
				case k < 0 && keysSafe:
					p.Fields = append(p.Fields, impact.Field{Name: name, Mask: "ciphertext"})
				case k < 0:
					p.Fields = append(p.Fields, impact.Field{Name: name, Clear: true})
				case !keysSafe:
					p.Fields[k].Clear, p.Fields[k].Mask = true, ""
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("fields of %s: %w", row.ID, err)
			}
			slices.SortFunc(p.Fields, func(a, b impact.Field) int { return strings.Compare(a.Name, b.Name) })
		}
		if len(rows) < 1000 {
			break
		}
	}
	slices.SortFunc(res.People, func(a, b impact.Person) int { return strings.Compare(a.Subject, b.Subject) })
	im, sensitivity := &res.Impact, impact.Sensitivities(v.pol)
	im.Subjects, im.Records = 0, 0
	old := im.Fields
	im.Fields = map[string]incident.FieldCount{}
	for _, p := range res.People {
		if len(p.Fields) > 0 {
			im.Subjects++
			im.Records += int64(len(p.Fields))
		}
		for _, f := range p.Fields {
			fc := im.Fields[f.Name]
			fc.Subjects++
			if f.Clear {
				fc.Clear++
			} else if fc.Mask == "" {
				fc.Mask = old[f.Name].Mask
				if fc.Mask == "" {
					fc.Mask = f.Mask
				}
			}
			fc.Sensitivity = sensitivity(f.Name)
			im.Fields[f.Name] = fc
		}
	}
	return nil
}

// openEvidenceReasons opens the sealed reasons of ev's entries for the
// investigator, with their persons' data keys; an erased person's stay
// unreadable (reason_erased). The leaves, and so the proofs, are as
// they are.
func (v *Vault) openEvidenceReasons(ctx context.Context, ev *auditlog.Evidence) error {
	var es []audit.Entry
	var at []int
	for i, x := range ev.Entries {
		e, err := audit.ParseLeaf(x.Leaf)
		if err != nil || len(e.SealedReason) == 0 {
			continue
		}
		es, at = append(es, e), append(at, i)
	}
	if len(es) == 0 {
		return nil
	}
	err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) error { return v.openReasons(ctx, tx, es) })
	if err != nil {
		return err
	}
	for j, i := range at {
		ev.Entries[i].Entry.Reason, ev.Entries[i].Entry.ReasonErased = es[j].Reason, es[j].ReasonErased()
	}
	return nil
}
