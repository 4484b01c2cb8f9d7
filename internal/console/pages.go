package console

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/consent"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

// page is what a template is given.
type page struct {
	Lang     string
	CSRF     string
	Operator *identity.Actor
	// Portal: a page of the people's portal; Person the signed-in person,
	// Phrase their verification phrase (their notices show it too),
	// Consents the requests waiting for their decision, History the
	// accesses to their record, newest first; My what the portal's other
	// pages show (portal.go).
	Portal   bool
	Person   *me.Person
	Phrase   string
	Consents []consent.Request
	History  []portalEntry
	My       *portalPage
	// Sign-in; KeyOffered: the operator may use a security key.
	LoginToken string
	KeyOffered bool
	// Keys: the operator's security keys (webauthn.go).
	Keys []keyRow
	// Find: the operator's purposes, the fields a lookup may use, and
	// the operator's budgets as they stand.
	Purposes []string
	Fields   []string
	Budgets  []guard.Budget
	// Security: the latest alerts, newest first.
	Alerts []guard.Alert
	// Record: one person in one purpose's view.
	Record *vault.View
	Rows   []row
	// Reveal: the form that reveals a masked field; Revealed its answer.
	Reveal   *revealForm
	Revealed *revealed
	// Off: the supervisor's, the security officer's and the incident
	// pages (officer.go), and their navigation.
	Off *officerPage
	// Error page.
	Message msg
	Text    string // a message not in the console's words (the vault's public text)
	Hint    string
}

// row is one field of a record as shown; Ticket, for a masked field some
// purpose of the operator's role shows in clear, is its reveal form's.
type row struct {
	Name, Value string
	Masked      bool
	Ticket      string
}

// Bounds of what a form may carry (the API's, or tighter).
const (
	maxUsername = 128
	maxPassword = 1024
	maxValue    = 256
	maxReason   = 4096 // the vault checks its own bound
)

// render writes a page.
func (k *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t := k.pages[name]
	p.Lang = lang(r)
	t = template.Must(t.Clone()).Funcs(template.FuncMap{"t": func(key string) string { return words[key].In(p.Lang) }})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.Execute(w, p); err != nil {
		k.c.Logger.ErrorContext(r.Context(), "console page", "page", name, "error", err)
	}
}

// fail writes the error page for err, in plain words and what to do.
func (k *Console) fail(w http.ResponseWriter, r *http.Request, a *identity.Actor, err error) {
	p := page{Operator: a, Portal: strings.HasPrefix(r.URL.Path, PortalPrefix)}
	status := http.StatusBadRequest
	var le *access.LimitError
	var cp *vault.ConsentPending
	switch {
	case errors.As(err, &cp):
		status, p.Message, p.Hint = http.StatusAccepted, msgConsent, fmt.Sprintf(msgConsentH.In(lang(r)), cp.Request.ID, cp.Request.Expires.UTC().Format("2006-01-02 15:04 UTC"))
	case errors.Is(err, auth.ErrUnauthenticated), errors.Is(err, errPersonSignIn), errors.Is(err, me.ErrUnauthenticated):
		status, p.Message, p.Hint = http.StatusUnauthorized, msgSignIn, msgSignInHint.In(lang(r))
	case errors.Is(err, me.ErrUnknownLogin), errors.Is(err, me.ErrCodeExpired), errors.Is(err, me.ErrAttemptsUsed), errors.Is(err, me.ErrBadContact):
		status, p.Text = http.StatusBadRequest, public.Message(err, err.Error())
	case errors.Is(err, auth.ErrBadCredentials):
		status, p.Message, p.Hint = http.StatusUnauthorized, msgBadLogin, msgBadLoginH.In(lang(r))
	case errors.Is(err, access.ErrLocked):
		status, p.Message, p.Hint = http.StatusLocked, msgLocked, msgLockedH.In(lang(r))
	case errors.As(err, &le):
		status, p.Message, p.Hint = http.StatusTooManyRequests, msgLimited, msgLimitedH.In(lang(r))
	case errors.Is(err, store.ErrNotFound):
		status, p.Message, p.Hint = http.StatusNotFound, msgNotFound, msgNotFoundH.In(lang(r))
	case errors.Is(err, access.ErrForbidden):
		status, p.Message, p.Hint = http.StatusForbidden, msgForbidden, msgForbiddenH.In(lang(r))
	case errors.Is(err, access.ErrInvalid), errors.Is(err, access.ErrReasonRequired), errors.Is(err, access.ErrStepUpRequired):
		p.Text, p.Hint = public.Message(err, msgBadForm.en), public.Hint(err, "")
	case errors.Is(err, consent.ErrDecided), errors.Is(err, consent.ErrExpired):
		status, p.Text, p.Hint = http.StatusConflict, public.Message(err, "the consent request was decided already"), public.Hint(err, "a decision is final")
	case errors.Is(err, store.ErrConflict):
		status, p.Text, p.Hint = http.StatusConflict, public.Message(err, "it conflicts with the current state"), public.Hint(err, "")
	case errors.Is(err, errTooLong):
		p.Message, p.Hint = msgBadForm, msgBadFormH.In(lang(r))
	case errors.Is(err, errTicket):
		status, p.Message, p.Hint = http.StatusForbidden, msgTicket, msgTicketH.In(lang(r))
	case errors.Is(err, errTicketUsed):
		status, p.Message, p.Hint = http.StatusConflict, msgTicketUsed, msgTicketUsedH.In(lang(r))
	case errors.Is(err, errNoRevealer):
		status, p.Message, p.Hint = http.StatusForbidden, msgNoRevealer, msgNoRevealerH.In(lang(r))
	default:
		status, p.Message, p.Hint = http.StatusServiceUnavailable, msgFailed, msgFailedH.In(lang(r))
		k.c.Logger.ErrorContext(r.Context(), "console", "error", err)
	}
	k.render(w, r, status, "error", p)
}

// form reads a POSTed form, bounded.
func form(r *http.Request, bounds map[string]int) (map[string]string, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return nil, errTooLong
	}
	out := map[string]string{}
	for name, max := range bounds {
		v := strings.TrimSpace(r.PostFormValue(name))
		if v == "" || len(v) > max {
			return nil, errTooLong
		}
		out[name] = v
	}
	return out, nil
}

// home is the sign-in page, or the find form once signed in.
func (k *Console) home(w http.ResponseWriter, r *http.Request) {
	if l := r.URL.Query().Get("lang"); l == "fr" || l == "en" {
		k.setCookie(w, langCookie, l)
	}
	a, tok, ok := k.operator(r)
	if !ok {
		k.render(w, r, http.StatusOK, "signin", page{CSRF: k.csrf(k.pre(w, r))})
		return
	}
	if ro, err := k.c.Policy.Role(a.Role); err == nil && ro.Has(policy.PermSecurity) {
		k.security(w, r, a, tok)
		return
	}
	k.renderFind(w, r, a, tok, "")
}

// renderFind writes the find page with the operator's budgets, and a
// notice (the answer to an extension request) when there is one.
func (k *Console) renderFind(w http.ResponseWriter, r *http.Request, a identity.Actor, tok, notice string) {
	p := k.findPage(a, tok)
	b, err := k.c.Vault.Budgets(r.Context(), a)
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	p.Budgets = b
	p.Off = &officerPage{Nav: k.nav(r, a), Notice: notice}
	k.render(w, r, http.StatusOK, "find", p)
}

// unlock lifts an operator's lock: a security officer's act, with a
// reason, through the vault (audited, alerted).
func (k *Console) unlock(w http.ResponseWriter, r *http.Request) {
	a, _, ok := k.signedForm(w, r)
	if !ok {
		return
	}
	id, reason, err := operatorAndReason(r, "operator", "reason")
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	if err := k.c.Vault.Unlock(r.Context(), a, id, reason); err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (k *Console) findPage(a identity.Actor, tok string) page {
	p := page{Operator: &a, CSRF: k.csrf(tok), Fields: k.c.Policy.LookupFields()}
	if ro, err := k.c.Policy.Role(a.Role); err == nil {
		p.Purposes = slices.Clone(ro.Purposes)
	}
	return p
}

// signin checks the password and asks for the second factor.
func (k *Console) signin(w http.ResponseWriter, r *http.Request) {
	if !k.checkCSRF(r, cookieValue(r, preCookie)) {
		k.refuseCSRF(w, r, nil)
		return
	}
	f, err := form(r, map[string]int{"username": maxUsername, "password": maxPassword})
	if err != nil {
		k.fail(w, r, nil, err)
		return
	}
	tok, factors, err := k.c.Auth.Login(r.Context(), f["username"], f["password"], k.c.Origin(r))
	if err != nil {
		k.fail(w, r, nil, err)
		return
	}
	k.render(w, r, http.StatusOK, "totp", page{CSRF: k.csrf(cookieValue(r, preCookie)), LoginToken: tok, KeyOffered: slices.Contains(factors, auth.FactorWebAuthn)})
}

// totp completes the sign-in with a TOTP code and sets the session
// cookie.
func (k *Console) totp(w http.ResponseWriter, r *http.Request) {
	pre := cookieValue(r, preCookie)
	if !k.checkCSRF(r, pre) {
		k.refuseCSRF(w, r, nil)
		return
	}
	f, err := form(r, map[string]int{"login_token": 100, "code": 6})
	if err != nil || strings.Trim(f["code"], "0123456789") != "" {
		k.fail(w, r, nil, cmpErr(err, auth.ErrBadCredentials))
		return
	}
	ses, err := k.c.Auth.VerifyTOTP(r.Context(), f["login_token"], f["code"], k.c.Origin(r), r.UserAgent())
	if err != nil {
		k.fail(w, r, nil, err)
		return
	}
	k.setCookie(w, preCookie, "")
	k.setCookie(w, sessionCookie, ses.Token)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// find looks one person up by an exact identifier and shows their record
// in the purpose's view, in this answer: the lookup and the read are the
// vault's, each guarded and audited.
func (k *Console) find(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.signedForm(w, r)
	if !ok {
		return
	}
	f, err := form(r, map[string]int{"purpose": 64, "field": 64, "value": maxValue, "reason": maxReason})
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	id, err := k.c.Vault.Lookup(r.Context(), a, f["purpose"], f["reason"], f["field"], f["value"])
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	v, err := k.c.Vault.Read(r.Context(), a, id, f["purpose"], f["reason"])
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	p := page{Operator: &a, CSRF: k.csrf(tok), Record: v}
	now := time.Now()
	for _, f := range k.c.Policy.Fields { // the schema's order
		if val, ok := v.Fields[f.Name]; ok {
			rw := row{Name: f.Name, Value: val, Masked: slices.Contains(v.Masked, f.Name)}
			if rw.Masked && len(k.revealers(a.Role, f.Name)) > 0 {
				rw.Ticket = k.ticket(tok, v.ID, f.Name, now)
			}
			p.Rows = append(p.Rows, rw)
		}
	}
	k.render(w, r, http.StatusOK, "record", p)
}

// signout ends the session and clears its cookie.
func (k *Console) signout(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.operator(r)
	if ok && !k.checkCSRF(r, tok) {
		k.refuseCSRF(w, r, &a)
		return
	}
	if ok {
		if err := k.c.Auth.Logout(r.Context(), tok); err != nil {
			k.fail(w, r, &a, err)
			return
		}
	}
	k.setCookie(w, sessionCookie, "")
	k.render(w, r, http.StatusOK, "signedout", page{})
}

// signedForm checks a form posted by a signed-in operator: their session
// and the form's CSRF token. It answers the refusal itself and reports
// false when either fails.
func (k *Console) signedForm(w http.ResponseWriter, r *http.Request) (identity.Actor, string, bool) {
	a, tok, ok := k.operator(r)
	if !ok {
		k.fail(w, r, nil, auth.ErrUnauthenticated)
		return a, "", false
	}
	if !k.checkCSRF(r, tok) {
		k.refuseCSRF(w, r, &a)
		return a, "", false
	}
	return a, tok, true
}

func (k *Console) refuseCSRF(w http.ResponseWriter, r *http.Request, a *identity.Actor) {
	k.render(w, r, http.StatusForbidden, "error", page{Operator: a, Portal: strings.HasPrefix(r.URL.Path, PortalPrefix), Message: msgCSRF, Hint: msgCSRFHint.In(lang(r))})
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// cmpErr returns err, or def when err is nil.
func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}
