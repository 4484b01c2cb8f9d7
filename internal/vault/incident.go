package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
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

// host reports whether a is the host's command line, which holds every
// permission (whoever runs coffre on the host holds the store).
func host(a identity.Actor) bool { return a.ID == "system" && a.Origin == "cli" }

// incidentsAllowed refuses a without the incidents permission, audited
// as action (about incident id, if any).
func (v *Vault) incidentsAllowed(ctx context.Context, a identity.Actor, action, id string) error {
	if host(a) {
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
		if !host(a) {
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
