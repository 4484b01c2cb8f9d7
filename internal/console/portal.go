package console

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/consent"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/vault"
)

// The people's portal (issue 17): a person in the directory signs in with
// a one-time code sent to a contact on their record, sees who read what of
// their record and why, and approves or denies the consent requests
// waiting for them. It is served under PortalPrefix by the same package
// as the console (the same headers, CSRF tokens and cookies), over the
// persons' services: me.Service for the sign-in and the history, the
// vault for consent.

// PortalPrefix is where the portal is served.
const PortalPrefix = "/portal/"

// portalCookie holds a person's session.
const portalCookie = "coffre_portal"

// People is what the portal needs of the persons' services (me.Service).
type People interface {
	RequestCode(ctx context.Context, contact, origin string) (string, error)
	VerifyCode(ctx context.Context, loginToken, code, origin, userAgent string) (*me.Issued, error)
	Authenticate(ctx context.Context, token, origin, userAgent string) (me.Person, error)
	Logout(ctx context.Context, p me.Person, token string) error
	History(ctx context.Context, p me.Person) (*auditlog.History, error)
	Phrase(subject, lang string) string
}

// Persons is what the portal needs of the vault for a person: their
// consent requests and decisions, and their art. 15 package.
type Persons interface {
	PendingConsents(ctx context.Context, subject string) ([]consent.Request, error)
	DecideConsent(ctx context.Context, subject, origin, id string, approve bool) (*consent.Request, error)
	MyData(ctx context.Context, p vault.Person) (*vault.Data, error)
}

// PortalHandler returns the portal's routes, to mount at PortalPrefix.
// People and Persons must be set in the Config.
func (k *Console) PortalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PortalPrefix+"{$}", k.portalHome)
	mux.HandleFunc("POST "+PortalPrefix+"login", k.portalLogin)
	mux.HandleFunc("POST "+PortalPrefix+"code", k.portalCode)
	mux.HandleFunc("POST "+PortalPrefix+"consent", k.portalConsent)
	mux.HandleFunc("GET "+PortalPrefix+"data", k.portalData)
	mux.HandleFunc("POST "+PortalPrefix+"signout", k.portalSignout)
	mux.HandleFunc(PortalPrefix, func(w http.ResponseWriter, r *http.Request) {
		k.render(w, r, http.StatusNotFound, "error", page{Portal: true, Message: msgNoPage})
	})
	return secure(mux)
}

// person returns the signed-in person and their session token.
func (k *Console) person(r *http.Request) (me.Person, string, bool) {
	tok := cookieValue(r, portalCookie)
	if tok == "" || len(tok) > 200 {
		return me.Person{}, "", false
	}
	p, err := k.c.People.Authenticate(r.Context(), tok, k.c.Origin(r), r.UserAgent())
	return p, tok, err == nil
}

// portalHome is the sign-in form, or the person's page: consent requests
// waiting, then every access to their record in words.
func (k *Console) portalHome(w http.ResponseWriter, r *http.Request) {
	if l := r.URL.Query().Get("lang"); l == "fr" || l == "en" {
		k.setCookie(w, langCookie, l)
	}
	p, tok, ok := k.person(r)
	if !ok {
		k.render(w, r, http.StatusOK, "portal-signin", page{Portal: true, CSRF: k.csrf(k.pre(w, r))})
		return
	}
	h, err := k.c.People.History(r.Context(), p)
	switch {
	case errors.Is(err, me.ErrNoHistoryYet):
		h = &auditlog.History{} // nothing signed yet: nothing to show
	case err != nil:
		k.fail(w, r, nil, err)
		return
	}
	cs, err := k.c.Persons.PendingConsents(r.Context(), p.Subject)
	if err != nil {
		k.fail(w, r, nil, err)
		return
	}
	pg := page{Portal: true, Person: &p, CSRF: k.csrf(tok), Phrase: k.c.People.Phrase(p.Subject, lang(r)), Consents: cs}
	es := slices.SortedFunc(slices.Values(h.Entries), func(a, b auditlog.HistoryEntry) int { return cmp.Compare(b.Seq, a.Seq) }) // newest first
	for _, e := range es {
		if e.Summary != nil {
			pg.History = append(pg.History, *e.Summary)
		}
	}
	k.render(w, r, http.StatusOK, "portal", pg)
}

// portalLogin asks a one-time code for a contact on a record: the answer
// is the same whether the contact is anyone's (the code goes only to a
// record's own contact).
func (k *Console) portalLogin(w http.ResponseWriter, r *http.Request) {
	pre := cookieValue(r, preCookie)
	if !k.checkCSRF(r, pre) {
		k.refuseCSRF(w, r, nil)
		return
	}
	f, err := form(r, map[string]int{"contact": maxValue})
	if err != nil {
		k.fail(w, r, nil, err)
		return
	}
	tok, err := k.c.People.RequestCode(r.Context(), f["contact"], k.c.Origin(r))
	if err != nil {
		k.fail(w, r, nil, err)
		return
	}
	k.render(w, r, http.StatusOK, "portal-code", page{Portal: true, CSRF: k.csrf(pre), LoginToken: tok})
}

// portalCode completes the sign-in with the code and sets the session
// cookie.
func (k *Console) portalCode(w http.ResponseWriter, r *http.Request) {
	if !k.checkCSRF(r, cookieValue(r, preCookie)) {
		k.refuseCSRF(w, r, nil)
		return
	}
	f, err := form(r, map[string]int{"login_token": 100, "code": 12})
	if err != nil {
		k.fail(w, r, nil, err)
		return
	}
	ses, err := k.c.People.VerifyCode(r.Context(), f["login_token"], f["code"], k.c.Origin(r), r.UserAgent())
	if err != nil {
		k.fail(w, r, nil, err)
		return
	}
	k.setCookie(w, preCookie, "")
	k.setCookie(w, portalCookie, ses.Token)
	http.Redirect(w, r, PortalPrefix, http.StatusSeeOther)
}

// portalConsent approves or denies one consent request of the person's.
func (k *Console) portalConsent(w http.ResponseWriter, r *http.Request) {
	p, tok, ok := k.person(r)
	switch {
	case !ok:
		k.fail(w, r, nil, errPersonSignIn)
		return
	case !k.checkCSRF(r, tok):
		k.refuseCSRF(w, r, nil)
		return
	}
	f, err := form(r, map[string]int{"id": 64, "decision": 8})
	if err != nil || (f["decision"] != "approve" && f["decision"] != "deny") {
		k.fail(w, r, nil, cmpErr(err, errTooLong))
		return
	}
	if _, err := k.c.Persons.DecideConsent(r.Context(), p.Subject, p.Origin, f["id"], f["decision"] == "approve"); err != nil {
		k.fail(w, r, nil, err)
		return
	}
	http.Redirect(w, r, PortalPrefix, http.StatusSeeOther)
}

// portalData downloads the person's art. 15 package: every field of their
// record in clear, their requests, blocks and holds, the processing, and
// their history with its proofs (a file to keep; audited me.data). A GET:
// the session cookie is SameSite=Strict, so no other site's page makes
// the browser fetch it.
func (k *Console) portalData(w http.ResponseWriter, r *http.Request) {
	p, _, ok := k.person(r)
	if !ok {
		k.fail(w, r, nil, errPersonSignIn)
		return
	}
	d, err := k.c.Persons.MyData(r.Context(), vault.Person{Subject: p.Subject, Origin: p.Origin})
	if err != nil {
		k.fail(w, r, nil, err)
		return
	}
	h, err := k.c.People.History(r.Context(), p)
	if err != nil && !errors.Is(err, me.ErrNoHistoryYet) {
		k.fail(w, r, nil, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="coffre-my-data.json"`)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		*vault.Data
		History *auditlog.History `json:"history"`
	}{d, h}); err != nil {
		k.c.Logger.WarnContext(r.Context(), "portal data", "error", err)
	}
}

// portalSignout ends the person's session.
func (k *Console) portalSignout(w http.ResponseWriter, r *http.Request) {
	if p, tok, ok := k.person(r); ok {
		if !k.checkCSRF(r, tok) {
			k.refuseCSRF(w, r, nil)
			return
		}
		if err := k.c.People.Logout(r.Context(), p, tok); err != nil {
			k.fail(w, r, nil, err)
			return
		}
	}
	k.setCookie(w, portalCookie, "")
	k.render(w, r, http.StatusOK, "signedout", page{Portal: true})
}

// errPersonSignIn: no person's session.
var errPersonSignIn = errors.New("no person's session")

// portalWords are the portal's words.
var portalWords = map[string]msg{
	"p.title":        {"Vos données — qui les a consultées", "Your data — who read it"},
	"p.signin.help":  {"Indiquez une adresse électronique ou un numéro de téléphone de votre fiche : un code à usage unique y est envoyé. Aucun lien ne vous sera jamais envoyé.", "Give an email address or a phone number on your record: a one-time code is sent there. No link will ever be sent to you."},
	"p.contact":      {"Adresse électronique ou téléphone (+33…)", "Email address or phone (+33…)"},
	"p.send":         {"Recevoir un code", "Send me a code"},
	"p.code":         {"Code reçu", "The code you received"},
	"p.code.help":    {"Si cette adresse figure sur une fiche, un code vient d'y être envoyé.", "If this contact is on a record, a code has just been sent to it."},
	"p.phrase":       {"Votre phrase de vérification (nos messages la citent : un message qui ne la cite pas ne vient pas de nous) :", "Your verification phrase (our messages quote it: a message that does not is not ours):"},
	"p.download":     {"Télécharger toutes mes données et l'historique de leurs consultations (RGPD, art. 15)", "Download all my data and the history of its accesses (GDPR art. 15)"},
	"p.consents":     {"Demandes d'accord en attente", "Consent requests waiting for you"},
	"p.consent.ask":  {"L'unité %s (rôle %s) demande à consulter, pour la finalité « %s », les champs : %s. Motif : %s. Sans réponse, la demande expire le %s.", "Unit %s (role %s) asks to read, for the purpose “%s”, the fields: %s. Reason: %s. Without an answer it lapses on %s."},
	"p.approve":      {"J'accepte", "I agree"},
	"p.deny":         {"Je refuse", "I refuse"},
	"p.history":      {"Qui a consulté votre fiche", "Who read your record"},
	"p.history.none": {"Aucun accès pour l'instant.", "No access so far."},
	"p.by":           {"Par", "By"},
	"p.fields":       {"Champs", "Fields"},
	"p.decision":     {"Décision", "Decision"},
}
