package console

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/contain"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/vault"
)

// The incident pages: operational data only. An incident's scope names
// accounts (operators, partners) and addresses, never a person; its
// impact is counts; its timeline, ids and counts.

// incidents is the breach register (GET /v1/incidents's code) and the
// form to open an incident.
func (k *Console) incidents(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.operator(r)
	if !ok {
		k.fail(w, r, nil, auth.ErrUnauthenticated)
		return
	}
	list, err := k.c.Vault.Incidents(r.Context(), a)
	if err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	slices.Reverse(list) // newest first
	p, o := k.offPage(r, a, tok)
	o.Incidents, o.Natures = list, incident.Natures
	o.Now = time.Now().UTC().Format(dateTimeLocal)
	k.render(w, r, http.StatusOK, "incidents", p)
}

// dateTimeLocal is the value of an <input type="datetime-local">.
const dateTimeLocal = "2006-01-02T15:04"

// parseLocal reads a datetime-local value, as UTC.
func parseLocal(name, s string) (time.Time, error) {
	for _, layout := range []string{dateTimeLocal, "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badInput("%s: want a date and time such as 2026-03-02T09:30", name)
}

// openIncident opens an incident (POST /v1/incidents's code) and shows
// it.
func (k *Console) openIncident(w http.ResponseWriter, r *http.Request) {
	a, _, ok := k.officerPost(w, r, policy.PermIncidents, "incident.open")
	if !ok {
		return
	}
	f, err := form(r, map[string]int{"title": incident.MaxText, "aware": 32, "from": 32})
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	inc, err := incidentOfForm(r, f)
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	inc, err = k.c.Vault.OpenIncident(r.Context(), a, inc)
	if err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	http.Redirect(w, r, Prefix+"incidents/"+inc.ID, http.StatusSeeOther)
}

// incidentOfForm reads the open form: the required values in f, the
// optional ones bounded here; the vault checks the rest
// (incident.Incident.Validate).
func incidentOfForm(r *http.Request, f map[string]string) (*incident.Incident, error) {
	opt := map[string]string{}
	for name, bound := range map[string]int{"detection": incident.MaxText, "to": 32, "operators": 4096, "partners": 4096, "origins": 4096} {
		v := strings.TrimSpace(r.PostFormValue(name))
		if len(v) > bound || !printable(v) {
			return nil, errTooLong
		}
		opt[name] = v
	}
	if !printable(f["title"]) {
		return nil, badInput("the title holds control characters")
	}
	aware, err := parseLocal("aware", f["aware"])
	if err != nil {
		return nil, err
	}
	from, err := parseLocal("from", f["from"])
	if err != nil {
		return nil, err
	}
	var to time.Time
	if opt["to"] != "" {
		if to, err = parseLocal("to", opt["to"]); err != nil {
			return nil, err
		}
	}
	list := func(s string) []string {
		return strings.FieldsFunc(s, func(c rune) bool { return c == ',' || c == ' ' || c == ';' })
	}
	nature := r.PostForm["nature"]
	if len(nature) > len(incident.Natures) {
		return nil, errTooLong
	}
	return &incident.Incident{Title: f["title"], Nature: nature, Aware: aware, Detection: opt["detection"], Scope: incident.Scope{
		Operators: list(opt["operators"]), Partners: list(opt["partners"]), Origins: list(opt["origins"]), From: from, To: to,
		Everything: r.PostFormValue("everything") == "on", StoreStolen: r.PostFormValue("store_stolen") == "on", KeysSafe: r.PostFormValue("keys_safe") == "on",
	}}, nil
}

// showIncident is one incident (GET /v1/incidents/{id}'s code): its
// scope, its clocks in words, its impact counts, its timeline, and the
// forms to compute the impact and to contain.
func (k *Console) showIncident(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.operator(r)
	if !ok {
		k.fail(w, r, nil, auth.ErrUnauthenticated)
		return
	}
	notice := ""
	switch done := r.URL.Query().Get("done"); {
	case done == "impact":
		notice = words["n.impact"].In(lang(r))
	case slices.Contains(consoleActs, done):
		notice = fmt.Sprintf(words["n.contained"].In(lang(r)), done)
	}
	k.renderIncident(w, r, a, tok, r.PathValue("id"), notice)
}

func (k *Console) renderIncident(w http.ResponseWriter, r *http.Request, a identity.Actor, tok, id, notice string) {
	v, err := k.c.Vault.Incident(r.Context(), a, id)
	if err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	l := lang(r)
	p, o := k.offPage(r, a, tok)
	o.Notice, o.Incident, o.Events, o.Acts = notice, v.Incident, v.Events, consoleActs
	o.Scope = vault.ScopeDetail(v.Incident.Scope)
	for _, c := range v.Clocks {
		row := clockRow{Key: "clock." + c.Name, Law: c.Law, Due: c.Due.UTC(), Overdue: c.Overdue}
		switch {
		case !c.Done.IsZero() && c.Overdue:
			row.State = fmt.Sprintf(words["clock.done.late"].In(l), c.Done.UTC().Format("2006-01-02 15:04"))
		case !c.Done.IsZero():
			row.State = fmt.Sprintf(words["clock.done"].In(l), c.Done.UTC().Format("2006-01-02 15:04"))
		case c.Overdue:
			row.State = fmt.Sprintf(words["clock.late"].In(l), inWords(c.Left, l))
		default:
			row.State = fmt.Sprintf(words["clock.left"].In(l), inWords(c.Left, l))
		}
		o.Clocks = append(o.Clocks, row)
	}
	if im := v.Incident.Impact; im != nil {
		o.Impact = im
		for name, fc := range im.Fields {
			o.Fields = append(o.Fields, fieldRow{Name: name, Subjects: fc.Subjects, Clear: fc.Clear})
		}
		slices.SortFunc(o.Fields, func(x, y fieldRow) int { return strings.Compare(x.Name, y.Name) })
	}
	k.render(w, r, http.StatusOK, "incident", p)
}

// computeImpact computes the incident's impact from the verified audit
// log (GET /v1/incidents/{id}/impact's code): the counts go on the
// incident; the people's list is thrown away here (the host writes it).
func (k *Console) computeImpact(w http.ResponseWriter, r *http.Request) {
	a, _, ok := k.officerPost(w, r, policy.PermIncidents, "incident.impact")
	if !ok {
		return
	}
	id := r.PathValue("id")
	if k.c.Officer.AuditKey == "" {
		k.failOff(w, r, &a, errNotHere)
		return
	}
	if _, err := k.c.Vault.Impact(r.Context(), a, id, k.c.Officer.AuditKey); err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	http.Redirect(w, r, Prefix+"incidents/"+id+"?done=impact", http.StatusSeeOther)
}

// containIncident runs one act of containment and records it on the
// incident's timeline (POST /v1/incidents/{id}/contain's code: each act
// under its own permission).
func (k *Console) containIncident(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.officerPost(w, r, policy.PermIncidents, "incident.contain")
	if !ok {
		return
	}
	f, err := form(r, map[string]int{"act": 32})
	if err == nil && !slices.Contains(consoleActs, f["act"]) {
		err = badInput("unknown act: one of %s", strings.Join(consoleActs, ", "))
	}
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	everyone := r.PostFormValue("everyone") == "on"
	if everyone && f["act"] != contain.Revoke {
		k.fail(w, r, &a, badInput("everyone goes with revoke only"))
		return
	}
	if k.c.Officer.Contain == nil {
		k.failOff(w, r, &a, errNotHere)
		return
	}
	id := r.PathValue("id")
	if everyone && r.PostFormValue("confirmed") != "yes" {
		// Everyone's sessions: the same confirmation step as the
		// sessions page's.
		p, o := k.offPage(r, a, tok)
		o.Action, o.Back, o.Act = Prefix+"incidents/"+id+"/contain", Prefix+"incidents/"+id, f["act"]
		o.Reason = "incident " + id // what the act is audited with
		k.render(w, r, http.StatusOK, "officer-confirm", p)
		return
	}
	if _, err := k.c.Officer.Contain(r.Context(), a, id, f["act"], everyone); err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	http.Redirect(w, r, Prefix+"incidents/"+id+"?done="+f["act"], http.StatusSeeOther)
}
