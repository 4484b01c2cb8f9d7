package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/contain"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/impact"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/health"
	"github.com/coffre/coffre/internal/vault"
)

// Officer is what the security officer's and the incident pages need
// beside the vault and auth; cmd/coffre wires the API's own.
type Officer struct {
	// Log is the store the audit log's state is read from: its latest
	// signed checkpoint, how far the integrator is behind (the public
	// data of GET /v1/audit/checkpoint and /readyz). Nil: the audit page
	// says this server does not serve it.
	Log store.Store
	// AuditKey verifies the signed checkpoints when an incident's impact
	// is computed (GET /v1/incidents/{id}/impact); "": the impact is
	// computed on the host only.
	AuditKey string
	// Contain runs one act of containment for an incident, as POST
	// /v1/incidents/{id}/contain does (contain.Containment.Do); nil: the
	// console offers none.
	Contain func(ctx context.Context, a identity.Actor, id, act string, everyone bool) (*contain.Result, error)
}

// officerVault is what the supervisor's, the security officer's and the
// incident pages need of the vault: the methods the API's handlers call
// (each checks its permission and audits), embedded in Vault.
type officerVault interface {
	Authorize(ctx context.Context, a identity.Actor, p policy.Permission, action string) error
	RequestExtension(ctx context.Context, a identity.Actor, subjects, hours int, reason string) (*guard.Extension, error)
	PendingExtensions(ctx context.Context, a identity.Actor) ([]guard.Extension, error)
	ApproveExtension(ctx context.Context, a identity.Actor, id string) (*guard.Extension, error)
	OpenIncident(ctx context.Context, a identity.Actor, inc *incident.Incident) (*incident.Incident, error)
	Incidents(ctx context.Context, a identity.Actor) ([]incident.Incident, error)
	Incident(ctx context.Context, a identity.Actor, id string) (*vault.IncidentView, error)
	Impact(ctx context.Context, a identity.Actor, id, verifierKey string) (*impact.Result, error)
}

// officerAuth is what those pages need of auth (embedded in Auth).
type officerAuth interface {
	StepUp(ctx context.Context, operator, code, origin string) error
	Lifecycle(ctx context.Context, a identity.Actor, pol *policy.Policy, act auth.Act, ref, reason string) (string, error)
	RevokeOperator(ctx context.Context, a identity.Actor, operator, reason string) (int, error)
	RevokeEveryone(ctx context.Context, a identity.Actor, reason string) (int, error)
}

// officerPage is what the officers' templates get beside page's fields.
type officerPage struct {
	Nav []navLink
	// Notice says what a form just did: ids and counts, no one's data.
	Notice string
	// Alerts page: the operators locked now, as the alerts tell.
	Locked []lockRow
	// Canaries page: the alerts of canaries read.
	Canaries []guard.Alert
	// Audit page.
	Audit *auditState
	// Supervisor's page: the requests of the unit waiting.
	Extensions []guard.Extension
	// Incident pages.
	Incidents []incident.Incident
	Incident  *incident.Incident
	Scope     string
	Clocks    []clockRow
	Impact    *incident.Impact
	Fields    []fieldRow
	Events    []incident.Event
	Acts      []string
	Natures   []string
	Now       string // a datetime-local value (UTC): the open form's default
	// Confirm: the revoke-all step that says what will happen, the form
	// it confirms (Action), and its reason if it has one.
	Action, Back string
	Reason       string
	Act          string // for an incident's containment: the act confirmed
}

type navLink struct {
	Key, Href string
	Current   bool
}

// lockRow is an operator locked now: the alert that locked them.
type lockRow struct {
	Operator, Code string
	Time           time.Time
}

// auditState is the audit log's state as the audit page shows it.
type auditState struct {
	Served        bool
	HasCheckpoint bool
	Size          uint64
	Signed        time.Time
	Age, Lag      string // in words
	Sequenced     int64
	Behind        int64 // entries sequenced, not yet in a signed checkpoint
	Note          string
	// Store is the store's health as /readyz tells it, in words ("" when
	// the store does not record it).
	Store string
}

// healthHold is how long a store failure counts (as /readyz's).
const healthHold = 10 * time.Second

// clockRow is a legal deadline of an incident, in words.
type clockRow struct {
	Key, Law string
	Due      time.Time
	State    string
	Overdue  bool
}

type fieldRow struct {
	Name            string
	Subjects, Clear int64
}

// consoleActs are the acts of containment the incident page offers: those
// that leave the server serving (sealing and a root key rotation are the
// host's, coffre incident contain).
var consoleActs = []string{contain.Revoke, contain.Lock, contain.Disable, contain.Reenrol, contain.RevokePartners}

func (k *Console) officerRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+Prefix+"lock", k.lock)
	mux.HandleFunc("GET "+Prefix+"sessions", k.sessions)
	mux.HandleFunc("POST "+Prefix+"sessions/revoke", k.revokeSessions)
	mux.HandleFunc("POST "+Prefix+"sessions/revoke-all", k.revokeAll)
	mux.HandleFunc("GET "+Prefix+"canaries", k.canaries)
	mux.HandleFunc("GET "+Prefix+"audit", k.auditPage)
	mux.HandleFunc("POST "+Prefix+"extension", k.requestExtension)
	mux.HandleFunc("GET "+Prefix+"extensions", k.extensions)
	mux.HandleFunc("POST "+Prefix+"extensions/approve", k.approveExtension)
	mux.HandleFunc("GET "+Prefix+"incidents", k.incidents)
	mux.HandleFunc("POST "+Prefix+"incidents", k.openIncident)
	mux.HandleFunc("GET "+Prefix+"incidents/{id}", k.showIncident)
	mux.HandleFunc("POST "+Prefix+"incidents/{id}/impact", k.computeImpact)
	mux.HandleFunc("POST "+Prefix+"incidents/{id}/contain", k.containIncident)
}

// nav is the small navigation of an operator's pages, by what their role
// holds; nil when there is one page only.
func (k *Console) nav(r *http.Request, a identity.Actor) []navLink {
	ro, err := k.c.Policy.Role(a.Role)
	if err != nil {
		return nil
	}
	var l []navLink
	add := func(key, href string) {
		l = append(l, navLink{Key: key, Href: href, Current: r.URL.Path == href})
	}
	switch {
	case ro.Has(policy.PermSecurity):
		add("nav.alerts", Prefix)
	case len(ro.Purposes) > 0:
		add("nav.find", Prefix)
	}
	if ro.Has(policy.PermSupervise) {
		add("nav.extensions", Prefix+"extensions")
	}
	if ro.Has(policy.PermSecurity) {
		add("nav.sessions", Prefix+"sessions")
		add("nav.canaries", Prefix+"canaries")
	}
	if ro.Has(policy.PermSecurity) || ro.Has(policy.PermAudit) {
		add("nav.audit", Prefix+"audit")
	}
	if ro.Has(policy.PermIncidents) {
		add("nav.incidents", Prefix+"incidents")
	}
	if len(l) < 2 {
		return nil
	}
	return l
}

// officerGet checks a page's GET: a signed-in operator (else the sign-in
// refusal), holding p (else a plain 403 page, the refusal audited as
// action, as the API's route rule does).
func (k *Console) officerGet(w http.ResponseWriter, r *http.Request, p policy.Permission, action string) (identity.Actor, string, bool) {
	a, tok, ok := k.operator(r)
	if !ok {
		k.fail(w, r, nil, auth.ErrUnauthenticated)
		return a, "", false
	}
	if err := k.c.Vault.Authorize(r.Context(), a, p, action); err != nil {
		k.failOff(w, r, &a, err)
		return a, "", false
	}
	return a, tok, true
}

// officerPost checks a form: the session, its CSRF token, then p.
func (k *Console) officerPost(w http.ResponseWriter, r *http.Request, p policy.Permission, action string) (identity.Actor, string, bool) {
	a, tok, ok := k.signedForm(w, r)
	if !ok {
		return a, "", false
	}
	if err := k.c.Vault.Authorize(r.Context(), a, p, action); err != nil {
		k.failOff(w, r, &a, err)
		return a, "", false
	}
	return a, tok, true
}

// offPage is the page of an officer's template.
func (k *Console) offPage(r *http.Request, a identity.Actor, tok string) (page, *officerPage) {
	o := &officerPage{Nav: k.nav(r, a)}
	return page{Operator: &a, CSRF: k.csrf(tok), Off: o}, o
}

// failOff is fail with the officers' refusals said plainly: a refusal of
// the role, an unknown operator or incident, a conflict, an act this
// server cannot do.
func (k *Console) failOff(w http.ResponseWriter, r *http.Request, a *identity.Actor, err error) {
	l := lang(r)
	switch {
	case errors.Is(err, errNotHere), errors.Is(err, contain.ErrNotHere):
		k.render(w, r, http.StatusConflict, "error", page{Operator: a, Text: public.Message(err, msgNotHere.In(l)), Hint: public.Hint(err, msgNotHereH.In(l))})
	case errors.Is(err, access.ErrForbidden):
		p := page{Operator: a, Message: msgRole, Hint: msgRoleH.In(l)}
		if pe, ok := public.As(err); ok && !strings.HasPrefix(pe.Msg, "forbidden: role") {
			p.Text = pe.Msg // the vault's reason: not one's own request, another unit…
		}
		k.render(w, r, http.StatusForbidden, "error", p)
	case errors.Is(err, store.ErrNotFound):
		k.render(w, r, http.StatusNotFound, "error", page{Operator: a, Text: public.Message(err, msgNoSuch.In(l)), Hint: public.Hint(err, msgNoSuchH.In(l))})
	default:
		k.fail(w, r, a, err)
	}
}

// Refusals of the officers' forms.
var (
	errNotHere  = errors.New("not served here")
	msgRole     = msg{"Votre rôle ne donne pas accès à cette page.", "Your role does not give access to this page."}
	msgRoleH    = msg{"Revenez à votre page d'accueil ; le refus est journalisé.", "Go back to your home page; the refusal is audited."}
	msgNoSuch   = msg{"Cet identifiant ne correspond à rien.", "Nothing has this id."}
	msgNoSuchH  = msg{"Vérifiez l'identifiant (op_…, ext_…, inc_…).", "Check the id (op_…, ext_…, inc_…)."}
	msgNotHere  = msg{"Ce serveur ne le permet pas depuis la console.", "This server does not allow it from the console."}
	msgNotHereH = msg{"Faites-le sur l'hôte (coffre incident …).", "Do it on the host (coffre incident …)."}
)

// badInput is a refusal of a form's value, said in the vault's words.
func badInput(format string, args ...any) error {
	return public.Errorf(access.ErrInvalid, format, args...)
}

// printable reports whether s is valid UTF-8 with no control characters
// (the API's rule for reasons and ids).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return false
		}
	}
	return true
}

// validOperatorID is the API's shape of an operator id: op_ and lower-case
// letters and digits.
func validOperatorID(id string) bool {
	rest, ok := strings.CutPrefix(id, "op_")
	if !ok || rest == "" || len(rest) > 60 {
		return false
	}
	return strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
}

// operatorAndReason reads a form's operator id and reason, checked as the
// API checks them.
func operatorAndReason(r *http.Request, idField, reasonField string) (string, string, error) {
	f, err := form(r, map[string]int{idField: 64, reasonField: maxReason})
	if err != nil {
		return "", "", err
	}
	if !validOperatorID(f[idField]) {
		return "", "", badInput("malformed operator id: want op_ and lower-case letters and digits")
	}
	if !printable(f[reasonField]) {
		return "", "", badInput("the reason holds control characters")
	}
	return f[idField], f[reasonField], nil
}

// allAlerts reads every alert, oldest first (each page audited as
// alerts.list, as GET /v1/alerts).
func (k *Console) allAlerts(ctx context.Context, a identity.Actor) ([]guard.Alert, error) {
	var all []guard.Alert
	for after := int64(0); ; {
		page, err := k.c.Vault.Alerts(ctx, a, after, 1000)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < 1000 {
			return all, nil
		}
		after = page[len(page)-1].ID
	}
}

// shownAlerts is how many of the latest alerts the alerts page shows.
const shownAlerts = 50

// security is the security officer's first page: the latest alerts with
// their evidence (audit entries), the operators locked now as the alerts
// tell (the last lock or unlock of each), and the unlock and lock forms.
func (k *Console) security(w http.ResponseWriter, r *http.Request, a identity.Actor, tok string) {
	k.renderAlerts(w, r, a, tok, "")
}

func (k *Console) renderAlerts(w http.ResponseWriter, r *http.Request, a identity.Actor, tok, notice string) {
	all, err := k.allAlerts(r.Context(), a)
	if err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	p, o := k.offPage(r, a, tok)
	o.Notice = notice
	last := map[string]guard.Alert{}
	for _, al := range all {
		if al.Action == "lock" || al.Action == "unlock" {
			last[al.Operator] = al
		}
	}
	for _, al := range last {
		if al.Action == "lock" {
			o.Locked = append(o.Locked, lockRow{Operator: al.Operator, Code: al.Code, Time: al.Time})
		}
	}
	slices.SortFunc(o.Locked, func(x, y lockRow) int { return y.Time.Compare(x.Time) })
	all = all[max(0, len(all)-shownAlerts):]
	slices.Reverse(all)
	p.Alerts = all
	k.render(w, r, http.StatusOK, "security", p)
}

// lock locks an operator by hand, with a reason (POST
// /v1/operators/{id}/lock's code: auth's Lifecycle, audited, alerted,
// their sessions ended).
func (k *Console) lock(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.officerPost(w, r, policy.PermSecurity, "operator.lock")
	if !ok {
		return
	}
	id, reason, err := operatorAndReason(r, "operator", "reason")
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	if _, err := k.c.Auth.Lifecycle(r.Context(), a, k.c.Policy, auth.Lock, id, reason); err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	k.renderAlerts(w, r, a, tok, fmt.Sprintf(words["n.locked"].In(lang(r)), id))
}

// sessions is the page of the session forms: one operator's, everyone's.
func (k *Console) sessions(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.officerGet(w, r, policy.PermSecurity, "session.revoke_operator")
	if !ok {
		return
	}
	p, _ := k.offPage(r, a, tok)
	k.render(w, r, http.StatusOK, "officer-sessions", p)
}

// revokeSessions ends an operator's sessions, with a reason (POST
// /v1/operators/{id}/sessions/revoke's code).
func (k *Console) revokeSessions(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.officerPost(w, r, policy.PermSecurity, "session.revoke_operator")
	if !ok {
		return
	}
	id, reason, err := operatorAndReason(r, "operator", "reason")
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	n, err := k.c.Auth.RevokeOperator(r.Context(), a, id, reason)
	if err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	p, o := k.offPage(r, a, tok)
	o.Notice = fmt.Sprintf(words["n.revoked"].In(lang(r)), n, id)
	k.render(w, r, http.StatusOK, "officer-sessions", p)
}

// revokeAll ends everyone's sessions but the officer's (POST
// /v1/sessions/revoke-all's code), in two steps: the first answer says
// what will happen and asks to confirm; only the confirmed form acts.
func (k *Console) revokeAll(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.officerPost(w, r, policy.PermSecurity, "session.revoke_all")
	if !ok {
		return
	}
	f, err := form(r, map[string]int{"reason": maxReason})
	if err == nil && !printable(f["reason"]) {
		err = badInput("the reason holds control characters")
	}
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	p, o := k.offPage(r, a, tok)
	if r.PostFormValue("confirmed") != "yes" {
		o.Action, o.Back, o.Reason = Prefix+"sessions/revoke-all", Prefix+"sessions", f["reason"]
		k.render(w, r, http.StatusOK, "officer-confirm", p)
		return
	}
	n, err := k.c.Auth.RevokeEveryone(r.Context(), a, f["reason"])
	if err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	o.Notice = fmt.Sprintf(words["n.revoked.all"].In(lang(r)), n)
	k.render(w, r, http.StatusOK, "officer-sessions", p)
}

// canaries shows what the API tells of canaries: the alerts of those
// read (who, when, the evidence). Which people are canaries, and their
// values, are on no screen: the canary table is readable by no role, and
// canaries are planted and traced on the host (coffre canary).
func (k *Console) canaries(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.officerGet(w, r, policy.PermSecurity, "alerts.list")
	if !ok {
		return
	}
	all, err := k.allAlerts(r.Context(), a)
	if err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	p, o := k.offPage(r, a, tok)
	for _, al := range slices.Backward(all) {
		if al.Code == guard.CodeCanary {
			o.Canaries = append(o.Canaries, al)
		}
	}
	k.render(w, r, http.StatusOK, "officer-canaries", p)
}

// auditPage shows the audit log's state: the latest signed checkpoint
// (its size, when it was signed, the note as GET /v1/audit/checkpoint
// serves it) and how far the integrator is behind the log's head.
// Public data, for a security officer or an auditor.
func (k *Console) auditPage(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.operator(r)
	if !ok {
		k.fail(w, r, nil, auth.ErrUnauthenticated)
		return
	}
	if ro, err := k.c.Policy.Role(a.Role); err != nil || !ro.Has(policy.PermAudit) {
		if err := k.c.Vault.Authorize(r.Context(), a, policy.PermSecurity, "audit.status"); err != nil {
			k.failOff(w, r, &a, err)
			return
		}
	}
	p, o := k.offPage(r, a, tok)
	o.Audit = &auditState{}
	if log := k.c.Officer.Log; log != nil {
		l := lang(r)
		now := time.Now()
		st, err := auditlog.ReadStatus(r.Context(), log, now)
		var cp *audit.StoredCheckpoint
		if err == nil {
			err = log.View(r.Context(), func(ctx context.Context, tx store.Tx) error {
				var err error
				cp, err = tx.LatestCheckpoint(ctx)
				if errors.Is(err, store.ErrNotFound) {
					cp, err = nil, nil
				}
				return err
			})
		}
		if err != nil {
			k.fail(w, r, &a, err)
			return
		}
		s := o.Audit
		s.Served, s.HasCheckpoint, s.Sequenced = true, cp != nil, st.Sequenced
		s.Lag = inWords(st.Lag, l)
		s.Behind = max(0, st.Sequenced-int64(st.Integrated))
		if h, ok := log.(interface {
			Failure(time.Duration) *health.Failure
		}); ok {
			switch f := h.Failure(healthHold); {
			case f == nil:
				s.Store = words["audit.store.ok"].In(l)
			case f.Write:
				s.Store = words["audit.store.write"].In(l)
			default:
				s.Store = words["audit.store.down"].In(l)
			}
		}
		if cp != nil {
			s.Size, s.Signed, s.Note = cp.Size, cp.Created.UTC(), string(cp.Note)
			s.Age = inWords(now.Sub(cp.Created), l)
		}
	}
	k.render(w, r, http.StatusOK, "officer-audit", p)
}

// inWords says a duration in words: days and hours, hours and minutes,
// or minutes.
func inWords(d time.Duration, l string) string {
	if d < 0 {
		d = -d
	}
	unit := func(n int64, fr, en string) string {
		w := en
		if l != "en" {
			w = fr
		}
		if n != 1 {
			w += "s"
		}
		return fmt.Sprintf("%d %s", n, w)
	}
	days, hours, mins := int64(d/(24*time.Hour)), int64(d/time.Hour)%24, int64(d/time.Minute)%60
	switch {
	case days > 0 && hours > 0:
		return unit(days, "jour", "day") + " " + unit(hours, "heure", "hour")
	case days > 0:
		return unit(days, "jour", "day")
	case hours > 0 && mins > 0:
		return unit(hours, "heure", "hour") + " " + unit(mins, "minute", "minute")
	case hours > 0:
		return unit(hours, "heure", "hour")
	case mins > 0:
		return unit(mins, "minute", "minute")
	}
	return msg{"moins d'une minute", "less than a minute"}.In(l)
}

// officerWords are the words of the supervisor's, the security officer's
// and the incident pages.
var officerWords = map[string]msg{
	"nav":            {"Pages", "Pages"},
	"nav.find":       {"Trouver une personne", "Find one person"},
	"nav.alerts":     {"Alertes", "Alerts"},
	"nav.sessions":   {"Sessions", "Sessions"},
	"nav.canaries":   {"Canaris", "Canaries"},
	"nav.audit":      {"Journal d'audit", "Audit log"},
	"nav.incidents":  {"Incidents", "Incidents"},
	"nav.extensions": {"Demandes d'extension", "Extension requests"},
	"done":           {"Fait :", "Done:"},

	"locked.now":      {"Comptes verrouillés maintenant", "Accounts locked now"},
	"locked.now.help": {"D'après les alertes : le dernier verrouillage de chaque compte que rien n'a levé depuis.", "As the alerts tell: each account's last lock that nothing lifted since."},
	"locked.none":     {"Aucun compte verrouillé.", "No account is locked."},
	"locked.since":    {"Depuis", "Since"},
	"lock":            {"Verrouiller un compte", "Lock an account"},
	"lock.help":       {"Ses sessions prennent fin ; un autre officier de sécurité le déverrouille après examen.", "Its sessions end; a security officer unlocks it after a review."},
	"lock.reason":     {"Motif du verrouillage", "Why it is locked"},
	"lock.do":         {"Verrouiller", "Lock"},
	"n.locked":        {"le compte %s est verrouillé et ses sessions ont pris fin.", "account %s is locked and its sessions ended."},

	"sessions":                 {"Sessions des opérateurs", "Operators' sessions"},
	"sessions.help":            {"Mettre fin à des sessions oblige à se reconnecter (mot de passe et second facteur). Chaque geste est journalisé avec son motif.", "Ending sessions makes people sign in again (password and second factor). Each act is audited with its reason."},
	"revoke.one":               {"Mettre fin aux sessions d'un opérateur", "End one operator's sessions"},
	"revoke.reason":            {"Motif", "Reason"},
	"revoke.do":                {"Mettre fin à ses sessions", "End their sessions"},
	"revoke.all":               {"Mettre fin aux sessions de tous", "End everyone's sessions"},
	"revoke.all.help":          {"Pour contenir une fuite : une page de confirmation suit, rien n'est fait avant.", "To contain a breach: a confirmation page follows; nothing is done before."},
	"revoke.all.do":            {"Continuer", "Continue"},
	"n.revoked":                {"%d session(s) de %s ont pris fin.", "%d session(s) of %s ended."},
	"n.revoked.all":            {"%d session(s) ont pris fin ; la vôtre reste ouverte.", "%d session(s) ended; yours stays open."},
	"confirm":                  {"Mettre fin aux sessions de tous ?", "End everyone's sessions?"},
	"confirm.what":             {"Toutes les sessions ouvertes de tous les opérateurs prennent fin, sauf les vôtres : chacun devra se reconnecter avec son mot de passe et son second facteur. Les travaux en cours dans la console sont interrompus. Le geste est journalisé avec ce motif :", "Every open session of every operator ends, except yours: everyone must sign in again with their password and second factor. Work under way in the console is interrupted. The act is audited with this reason:"},
	"confirm.do":               {"Oui, mettre fin à toutes les sessions", "Yes, end every session"},
	"confirm.cancel":           {"Annuler", "Cancel"},
	"canaries":                 {"Canaris", "Canaries"},
	"canaries.help":            {"Les canaris sont des personnes fictives qu'aucun travail légitime n'atteint : les consulter verrouille le compte à l'instant et lève une alerte critique. Quelles fiches sont des canaris, et leurs valeurs, ne s'affichent nulle part : ils se plantent et se retrouvent sur l'hôte (coffre canary plant, coffre canary find), un canari lié à un partenaire nommant la source d'une fuite.", "Canaries are fictitious people that no legitimate work reaches: reading one locks the account at once and raises a critical alert. Which records are canaries, and their values, are on no screen: they are planted and traced on the host (coffre canary plant, coffre canary find), a canary bound to a partner naming the source of a leak."},
	"canaries.tripped":         {"Canaris consultés", "Canaries read"},
	"canaries.none":            {"Aucun canari n'a été consulté.", "No canary has been read."},
	"audit":                    {"État du journal d'audit", "The audit log's state"},
	"audit.help":               {"Chaque entrée du journal est intégrée à un arbre de Merkle dont un point de contrôle signé est publié (GET /v1/audit/checkpoint, public) ; l'intégrateur signe chaque seconde tant que des entrées arrivent.", "Every entry of the log goes into a Merkle tree whose signed checkpoint is published (GET /v1/audit/checkpoint, public); the integrator signs every second while entries arrive."},
	"audit.none":               {"Ce serveur ne sert pas le journal d'audit.", "This server does not serve the audit log."},
	"audit.nocp":               {"Aucun point de contrôle n'est encore signé.", "No checkpoint is signed yet."},
	"audit.size":               {"Entrées dans le dernier point de contrôle signé", "Entries in the latest signed checkpoint"},
	"audit.signed":             {"Signé le (UTC)", "Signed at (UTC)"},
	"audit.age":                {"Il y a", "Age"},
	"audit.sequenced":          {"Entrées au total (tête du journal)", "Entries in all (the log's head)"},
	"audit.behind":             {"Entrées pas encore dans un point de contrôle", "Entries not yet in a checkpoint"},
	"audit.lag":                {"Retard de l'intégrateur (âge de la plus ancienne entrée non intégrée)", "The integrator's lag (age of the oldest entry not integrated)"},
	"audit.store":              {"La base", "The store"},
	"audit.store.ok":           {"répond, en lecture et en écriture", "answers, reads and writes"},
	"audit.store.write":        {"refuse les écritures : les consultations (journalisées) sont refusées", "refuses writes: reads (audited) are refused"},
	"audit.store.down":         {"ne répond pas : les requêtes sont refusées", "does not answer: requests are refused"},
	"audit.note":               {"Le point de contrôle, tel que publié", "The checkpoint, as published"},
	"extensions":               {"Demandes d'extension de votre unité", "Extension requests of your unit"},
	"extensions.help":          {"Une extension laisse un opérateur consulter plus de personnes que ses budgets, pour quelques heures. Approuvez-la si la mission le justifie ; votre code d'authentification est demandé à chaque approbation, et nul n'approuve sa propre demande.", "An extension lets an operator read more people than their budgets allow, for a few hours. Approve it when the job needs it; your authenticator code is asked at each approval, and nobody approves their own request."},
	"extensions.none":          {"Aucune demande n'attend.", "No request is waiting."},
	"ext.who":                  {"Demandée par", "Asked by"},
	"ext.subjects":             {"Personnes en plus", "More people"},
	"ext.hours":                {"Pour (heures)", "For (hours)"},
	"ext.why":                  {"Motif", "Reason"},
	"ext.first":                {"Première approbation par %s ; une seconde est nécessaire.", "First approval by %s; a second is needed."},
	"ext.code":                 {"Votre code d'authentification", "Your authenticator code"},
	"ext.approve":              {"Approuver", "Approve"},
	"n.approved":               {"l'extension %s est accordée : %d personnes de plus pour %d h.", "extension %s is granted: %d more people for %d h."},
	"n.first":                  {"première approbation de %s enregistrée : un second responsable doit l'approuver.", "first approval of %s recorded: a second supervisor must approve it."},
	"ext.ask":                  {"Demander une extension", "Ask for an extension"},
	"ext.ask.help":             {"Si la mission demande de consulter plus de personnes : un responsable de votre unité l'approuve.", "When the job needs more people read: a supervisor of your unit approves it."},
	"ext.ask.subjects":         {"Combien de personnes en plus", "How many more people"},
	"ext.ask.hours":            {"Pour combien d'heures", "For how many hours"},
	"ext.ask.reason":           {"Pourquoi (le dossier, l'opération)", "Why (the case, the operation)"},
	"ext.ask.do":               {"Envoyer la demande", "Send the request"},
	"n.asked":                  {"demande %s envoyée aux responsables de votre unité : %d personnes de plus pour %d h.", "request %s sent to your unit's supervisors: %d more people for %d h."},
	"b.extension":              {"extension accordée : personnes encore permises", "extension granted: people still allowed"},
	"w.extension":              {"jusqu'à", "until"},
	"incidents":                {"Registre des violations", "The breach register"},
	"incidents.help":           {"Chaque incident, notifié ou non (RGPD art. 33(5)) : des données de fonctionnement, aucune personne.", "Every incident, notified or not (GDPR art. 33(5)): operational data, no person."},
	"incidents.none":           {"Aucun incident.", "No incident."},
	"inc.id":                   {"Incident", "Incident"},
	"inc.title":                {"Intitulé", "Title"},
	"inc.status":               {"État", "Status"},
	"inc.aware":                {"Connu le (UTC)", "Aware at (UTC)"},
	"inc.opened":               {"Ouvert le (UTC)", "Opened at (UTC)"},
	"inc.open":                 {"Ouvrir un incident", "Open an incident"},
	"inc.open.help":            {"Les horloges du RGPD et de NIS2 partent de l'heure où l'organisation a eu connaissance de la violation. Aucune donnée personnelle dans l'intitulé.", "The GDPR and NIS2 clocks start when the organisation became aware of the breach. No personal data in the title."},
	"inc.nature":               {"Nature", "Nature"},
	"inc.detection":            {"Comment elle a été détectée (facultatif)", "How it was detected (optional)"},
	"inc.from":                 {"Début de la fenêtre (UTC)", "Window start (UTC)"},
	"inc.to":                   {"Fin de la fenêtre (UTC, facultative : en cours)", "Window end (UTC, optional: ongoing)"},
	"inc.operators":            {"Comptes d'opérateurs en cause (op_…, séparés par des espaces)", "Operator accounts involved (op_…, space-separated)"},
	"inc.partners":             {"Partenaires en cause (identifiants, facultatif)", "Partners involved (ids, optional)"},
	"inc.origins":              {"Adresses en cause (adresses ou CIDR, facultatif)", "Origins involved (addresses or CIDRs, optional)"},
	"inc.everything":           {"Vecteur inconnu : compter tous les accès de la fenêtre", "Unknown vector: count every access in the window"},
	"inc.stolen":               {"La base ou une sauvegarde a été dérobée", "The store or a backup was taken"},
	"inc.keyssafe":             {"Les clés n'ont pas pu partir avec (parts scellées, HSM, KMS)", "The keys could not have left with it (sealed shares, HSM, KMS)"},
	"inc.open.do":              {"Ouvrir l'incident", "Open the incident"},
	"nature.confidentiality":   {"confidentialité", "confidentiality"},
	"nature.integrity":         {"intégrité", "integrity"},
	"nature.availability":      {"disponibilité", "availability"},
	"inc.scope":                {"Périmètre", "Scope"},
	"inc.by":                   {"Ouvert par", "Opened by"},
	"clocks":                   {"Échéances légales", "Legal deadlines"},
	"clocks.help":              {"Comptées depuis la connaissance de la violation ; un rapport déposé arrête les horloges qu'il satisfait.", "Counted from awareness of the breach; a filed report stops the clocks it answers."},
	"clock.deadline":           {"Échéance", "Deadline"},
	"clock.law":                {"Texte", "Law"},
	"clock.due":                {"Due le (UTC)", "Due at (UTC)"},
	"clock.state":              {"Temps restant", "Time left"},
	"clock.gdpr-notification":  {"RGPD : notification à l'autorité de contrôle (72 h)", "GDPR: notification to the supervisory authority (72 h)"},
	"clock.nis2-early-warning": {"NIS2 : alerte précoce (24 h)", "NIS2: early warning (24 h)"},
	"clock.nis2-notification":  {"NIS2 : notification de l'incident (72 h)", "NIS2: incident notification (72 h)"},
	"clock.nis2-final-report":  {"NIS2 : rapport final (1 mois)", "NIS2: final report (1 month)"},
	"clock.left":               {"reste %s", "%s left"},
	"clock.late":               {"en retard de %s", "%s overdue"},
	"clock.done":               {"fait le %s", "done on %s"},
	"clock.done.late":          {"fait le %s, en retard", "done on %s, late"},
	"impact":                   {"Impact (des nombres seulement)", "Impact (counts only)"},
	"impact.help":              {"Calculé depuis le journal d'audit vérifié contre le dernier point de contrôle signé. La liste des personnes ne s'écrit que sur l'hôte (coffre incident impact --out).", "Computed from the audit log, verified against the latest signed checkpoint. The list of people is written on the host only (coffre incident impact --out)."},
	"impact.none":              {"Pas encore calculé.", "Not computed yet."},
	"impact.do":                {"Calculer l'impact", "Compute the impact"},
	"impact.computed":          {"Calculé le (UTC)", "Computed at (UTC)"},
	"impact.subjects":          {"Personnes exposées", "People exposed"},
	"impact.records":           {"Valeurs de champs exposées", "Field values exposed"},
	"impact.confirmed":         {"Personnes dont l'existence est confirmée (aucun champ lu)", "People whose existence was confirmed (no field read)"},
	"impact.attempted":         {"Personnes seulement visées (accès refusé)", "People only attempted (access refused)"},
	"impact.stored":            {"Fiches dans la base dérobée", "Records in the stolen store"},
	"impact.told":              {"Personnes exposées déjà informées", "People exposed already told"},
	"impact.log":               {"Entrées du journal vérifiées / dans le périmètre", "Log entries verified / in scope"},
	"impact.field":             {"Champ", "Field"},
	"impact.clear":             {"dont en clair", "of which in clear"},
	"timeline":                 {"Chronologie et confinement", "Timeline and containment"},
	"timeline.when":            {"Quand (UTC)", "When (UTC)"},
	"timeline.who":             {"Qui", "Who"},
	"timeline.what":            {"Quoi", "What"},
	"timeline.detail":          {"Détail", "Detail"},
	"contain":                  {"Contenir", "Contain"},
	"contain.help":             {"Chaque geste passe par le service qui le porte (sa permission, son journal), puis s'inscrit dans la chronologie. Sceller le coffre et changer la clé racine se font sur l'hôte.", "Each act runs through the service that owns it (its permission, its audit entry), then goes on the timeline. Sealing the vault and rotating the root key are done on the host."},
	"contain.act":              {"Geste", "Act"},
	"contain.everyone":         {"Pour « revoke » : les sessions de tous (sauf la vôtre), pas seulement du périmètre", "For “revoke”: everyone's sessions (but yours), not only the scope's"},
	"contain.do":               {"Exécuter et consigner", "Run and record"},
	"act.revoke":               {"revoke — mettre fin aux sessions du périmètre", "revoke — end the scope's sessions"},
	"act.lock":                 {"lock — verrouiller les opérateurs du périmètre", "lock — lock the scope's operators"},
	"act.disable":              {"disable — désactiver les opérateurs du périmètre", "disable — disable the scope's operators"},
	"act.reenrol":              {"reenrol — effacer leurs seconds facteurs", "reenrol — erase their second factors"},
	"act.revoke-partners":      {"revoke-partners — révoquer les accès des partenaires du périmètre", "revoke-partners — revoke the scope's partners' credentials"},
	"n.contained":              {"geste « %s » exécuté et consigné.", "act “%s” run and recorded."},
	"n.impact":                 {"impact calculé.", "impact computed."},
}
