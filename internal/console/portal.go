package console

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/consent"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

// The people's portal (issue 17): a person in the directory signs in with
// a one-time code sent to a contact on their record (or through the
// OpenID Connect provider, when one is configured), sees who read what of
// their record and why, checks in their browser that each access is in
// the signed audit log (static/proof.js), approves or denies the consent
// requests waiting for them, files requests (rectification, restriction,
// erasure, objection) and follows their deadlines, and blocks units or
// partner organisations from their record. It is served under
// PortalPrefix by the same package as the console (the same headers, CSRF
// tokens and cookies), over the persons' services: me.Service for the
// sign-in and the history, the vault for consent, requests and blocks.

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
	// OpenID Connect: the provider's name ("": none), a sign-in's start
	// towards a callback path, and its callback.
	OIDCProvider() string
	StartOIDCTo(ctx context.Context, path string) (authURL, cookie string, err error)
	OIDCCallback(ctx context.Context, cookie, state, code, providerError, origin, userAgent string) (*me.Issued, error)
}

// Persons is what the portal needs of the vault for a person: their
// consent requests and decisions, their art. 15 package, their requests
// and their blocks.
type Persons interface {
	PendingConsents(ctx context.Context, subject string) ([]consent.Request, error)
	DecideConsent(ctx context.Context, subject, origin, id string, approve bool) (*consent.Request, error)
	MyData(ctx context.Context, p vault.Person) (*vault.Data, error)
	FileRequest(ctx context.Context, p vault.Person, kind string, fields []string, text string) (*vault.RequestView, error)
	MyRequests(ctx context.Context, p vault.Person) ([]vault.RequestView, error)
	Block(ctx context.Context, p vault.Person, kind, target string) (*vault.BlockView, error)
	Unblock(ctx context.Context, p vault.Person, key string) error
	MyBlocks(ctx context.Context, p vault.Person) ([]vault.BlockView, error)
}

// PortalHandler returns the portal's routes, to mount at PortalPrefix.
// People and Persons must be set in the Config.
func (k *Console) PortalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PortalPrefix+"{$}", k.portalHome)
	mux.HandleFunc("POST "+PortalPrefix+"login", k.portalLogin)
	mux.HandleFunc("POST "+PortalPrefix+"code", k.portalCode)
	mux.HandleFunc("GET "+PortalPrefix+"oidc/start", k.portalOIDCStart)
	mux.HandleFunc("GET "+PortalPrefix+"oidc/callback", k.portalOIDCCallback)
	mux.HandleFunc("POST "+PortalPrefix+"consent", k.portalConsent)
	mux.HandleFunc("GET "+PortalPrefix+"data", k.portalData)
	mux.HandleFunc("GET "+PortalPrefix+"accesses.json", k.portalAccesses)
	mux.HandleFunc("GET "+PortalPrefix+"requests", k.portalRequests)
	mux.HandleFunc("POST "+PortalPrefix+"requests", k.portalFile)
	mux.HandleFunc("GET "+PortalPrefix+"blocks", k.portalBlocks)
	mux.HandleFunc("POST "+PortalPrefix+"blocks", k.portalBlock)
	mux.HandleFunc("POST "+PortalPrefix+"unblock", k.portalUnblock)
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
	keepLang(w, r, k)
	p, tok, ok := k.person(r)
	if !ok {
		k.render(w, r, http.StatusOK, "portal-signin", page{Portal: true, CSRF: k.csrf(k.pre(w, r)), My: &portalPage{Provider: k.c.People.OIDCProvider()}})
		return
	}
	h, err := k.history(r, p)
	if err != nil {
		k.portalFail(w, r, err)
		return
	}
	cs, err := k.c.Persons.PendingConsents(r.Context(), p.Subject)
	if err != nil {
		k.fail(w, r, nil, err)
		return
	}
	pg := page{Portal: true, Person: &p, CSRF: k.csrf(tok), Phrase: k.c.People.Phrase(p.Subject, lang(r)), Consents: cs}
	for _, e := range newestFirst(h) {
		if e.Summary != nil {
			pg.History = append(pg.History, portalEntry{Seq: e.Seq, Summary: *e.Summary})
		}
	}
	k.render(w, r, http.StatusOK, "portal", pg)
}

// portalEntry is one row of the person's history: the entry's number
// (what the proof check in the browser asks for) and its summary.
type portalEntry struct {
	Seq int64
	auditlog.Summary
}

// history is the person's history; one with nothing signed yet is empty.
func (k *Console) history(r *http.Request, p me.Person) (*auditlog.History, error) {
	h, err := k.c.People.History(r.Context(), p)
	if errors.Is(err, me.ErrNoHistoryYet) {
		return &auditlog.History{Format: auditlog.HistoryFormat, Subject: p.Subject, Entries: []auditlog.HistoryEntry{}}, nil
	}
	return h, err
}

// newestFirst returns h's entries, newest first.
func newestFirst(h *auditlog.History) []auditlog.HistoryEntry {
	return slices.SortedFunc(slices.Values(h.Entries), func(a, b auditlog.HistoryEntry) int { return cmp.Compare(b.Seq, a.Seq) })
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
	"p.title":               {"Vos données — qui les a consultées", "Your data — who read it"},
	"p.signin.help":         {"Indiquez une adresse électronique ou un numéro de téléphone de votre fiche : un code à usage unique y est envoyé. Aucun lien ne vous sera jamais envoyé.", "Give an email address or a phone number on your record: a one-time code is sent there. No link will ever be sent to you."},
	"p.contact":             {"Adresse électronique ou téléphone (+33…)", "Email address or phone (+33…)"},
	"p.send":                {"Recevoir un code", "Send me a code"},
	"p.code":                {"Code reçu", "The code you received"},
	"p.code.help":           {"Si cette adresse figure sur une fiche, un code vient d'y être envoyé.", "If this contact is on a record, a code has just been sent to it."},
	"p.phrase":              {"Votre phrase de vérification (nos messages la citent : un message qui ne la cite pas ne vient pas de nous) :", "Your verification phrase (our messages quote it: a message that does not is not ours):"},
	"p.download":            {"Télécharger toutes mes données et l'historique de leurs consultations (RGPD, art. 15)", "Download all my data and the history of its accesses (GDPR art. 15)"},
	"p.consents":            {"Demandes d'accord en attente", "Consent requests waiting for you"},
	"p.consent.ask":         {"L'unité %s (rôle %s) demande à consulter, pour la finalité « %s », les champs : %s. Motif : %s. Sans réponse, la demande expire le %s.", "Unit %s (role %s) asks to read, for the purpose “%s”, the fields: %s. Reason: %s. Without an answer it lapses on %s."},
	"p.approve":             {"J'accepte", "I agree"},
	"p.deny":                {"Je refuse", "I refuse"},
	"p.history":             {"Qui a consulté votre fiche", "Who read your record"},
	"p.history.none":        {"Aucun accès pour l'instant.", "No access so far."},
	"p.by":                  {"Par", "By"},
	"p.fields":              {"Champs", "Fields"},
	"p.decision":            {"Décision", "Decision"},
	"p.nav":                 {"Vos démarches", "What you can do"},
	"p.home":                {"Retour à vos données", "Back to your data"},
	"p.proof":               {"Preuve", "Proof"},
	"p.proof.help":          {"Chaque accès est une entrée du journal d'audit signé. « Vérifier » refait le calcul dans votre navigateur : l'entrée, sa preuve d'inclusion et la signature du journal, avec la clé publique publiée. Les preuves figurent aussi dans le téléchargement de vos données.", "Each access is an entry of the signed audit log. “Verify” does the computation again in your browser: the entry, its inclusion proof and the log's signature, with the published public key. The proofs are also in the download of your data."},
	"p.proof.entry":         {"Entrée n°%d (preuve dans le téléchargement)", "Entry %d (proof in the download)"},
	"p.oidc.or":             {"Ou bien", "Or"},
	"p.oidc":                {"Se connecter avec %s", "Sign in with %s"},
	"p.signedin":            {"Vous êtes connecté.", "You are signed in."},
	"p.continue":            {"Voir vos données", "See your data"},
	"p.requests":            {"Vos demandes", "Your requests"},
	"p.requests.yours":      {"Demandes déposées", "Requests filed"},
	"p.requests.none":       {"Aucune demande pour l'instant.", "No request so far."},
	"p.request.new":         {"Déposer une demande", "File a request"},
	"p.request.help":        {"La réponse est due dans un mois (trois si le délai est prolongé, ce qui vous est dit). Un accusé de réception vous est envoyé.", "An answer is due within a month (three if the deadline is extended, which you are told). You are sent an acknowledgement."},
	"p.request.kind":        {"Type de demande", "Kind of request"},
	"p.request.fields":      {"Champs concernés (rectification seulement)", "Fields concerned (rectification only)"},
	"p.request.fields.help": {"Pour une rectification, cochez les champs à corriger ; les autres demandes portent sur toute la fiche.", "For a rectification, tick the fields to correct; the other requests are about the whole record."},
	"p.request.text.label":  {"Votre demande, en quelques mots (facultatif)", "Your request, in a few words (optional)"},
	"p.request.file":        {"Déposer la demande", "File the request"},
	"p.request.text":        {"Votre texte :", "Your text:"},
	"p.request.answer":      {"Réponse :", "Answer:"},
	"p.request.id":          {"Référence :", "Reference:"},
	"p.blocks":              {"Bloquer un organisme", "Block an organisation"},
	"p.blocks.help":         {"Une unité ou une organisation partenaire que vous bloquez ne peut plus consulter ni modifier votre fiche, quelle que soit la finalité invoquée ; chaque tentative est journalisée. L'unité qui tient votre fiche ne peut pas être bloquée (demandez plutôt une limitation).", "A unit or partner organisation you block can no longer read or change your record, whatever purpose it declares; each attempt is audited. The unit that holds your record cannot be blocked (file a restriction instead)."},
	"p.blocks.yours":        {"Vos blocages", "Your blocks"},
	"p.blocks.none":         {"Aucun blocage.", "No block."},
	"p.unblock":             {"Retirer", "Remove"},
	"p.unblock.label":       {"Retirer le blocage : %s", "Remove the block: %s"},
	"p.block.new":           {"Bloquer", "Block"},
	"p.block.target":        {"Unité ou organisation (celles qui ont eu accès à votre fiche)", "Unit or organisation (those that had access to your record)"},
	"p.block":               {"Bloquer", "Block"},
	"p.block.nothing":       {"Aucune autre unité ni organisation n'a eu accès à votre fiche : rien à bloquer.", "No other unit or organisation had access to your record: nothing to block."},
}

// portalPage is what the portal's pages show beyond the page's common
// fields.
type portalPage struct {
	// Provider is the OpenID Connect provider the sign-in page offers
	// ("": none).
	Provider string
	// Requests: the person's requests in words, newest first; Kinds the
	// kinds they may file; Fields the schema's fields a rectification
	// names.
	Requests []portalRequest
	Kinds    []portalChoice
	Fields   []string
	// Blocks: the person's blocks; Targets the units and partner
	// organisations they may block (those their history names).
	Blocks  []portalChoice
	Targets []portalChoice
}

// portalChoice is one option of a form: its value and its words.
type portalChoice struct{ Value, Label string }

// portalRequest is a request as its person reads it.
type portalRequest struct {
	ID, Kind, Fields, Filed, Status, Due, Text, Answer string
	Open, Overdue                                      bool
}

// portalAccesses answers the person's own history (the JSON of GET
// /v1/me/accesses: every entry with its proofs and in words) for the
// proof check in the page; never cached (secure sets no-store).
func (k *Console) portalAccesses(w http.ResponseWriter, r *http.Request) {
	p, _, ok := k.person(r)
	if !ok {
		k.fail(w, r, nil, errPersonSignIn)
		return
	}
	h, err := k.history(r, p)
	if err != nil {
		k.portalFail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(h); err != nil {
		k.c.Logger.WarnContext(r.Context(), "portal accesses", "error", err)
	}
}

// portalRequests shows the person's requests, their status and due date
// in words, and the form to file one.
func (k *Console) portalRequests(w http.ResponseWriter, r *http.Request) {
	keepLang(w, r, k)
	p, tok, ok := k.person(r)
	if !ok {
		k.fail(w, r, nil, errPersonSignIn)
		return
	}
	rs, err := k.c.Persons.MyRequests(r.Context(), vault.Person{Subject: p.Subject, Origin: p.Origin})
	if err != nil {
		k.portalFail(w, r, err)
		return
	}
	l := lang(r)
	my := &portalPage{}
	for _, kind := range rights.Kinds {
		my.Kinds = append(my.Kinds, portalChoice{kind, kindWords[kind].In(l)})
	}
	for _, f := range k.c.Policy.Fields {
		my.Fields = append(my.Fields, f.Name)
	}
	for _, rv := range rs {
		my.Requests = append(my.Requests, requestWords(rv, l))
	}
	k.render(w, r, http.StatusOK, "portal-requests", page{Portal: true, Person: &p, CSRF: k.csrf(tok), My: my})
}

// keepLang keeps the language a page was asked in (?lang=) for the next
// ones.
func keepLang(w http.ResponseWriter, r *http.Request, k *Console) {
	if l := r.URL.Query().Get("lang"); l == "fr" || l == "en" {
		k.setCookie(w, langCookie, l)
	}
}

// requestWords is rv in words of lang.
func requestWords(rv vault.RequestView, l string) portalRequest {
	day := func(t time.Time) string { return dateWords(t, l) }
	out := portalRequest{ID: rv.ID, Kind: kindWords[rv.Kind].In(l), Fields: strings.Join(rv.Fields, ", "), Filed: fmt.Sprintf(msgFiled.In(l), day(rv.Filed)), Text: rv.Text, Answer: rv.Answer,
		Open: rv.Status == rights.Pending, Overdue: rv.Overdue}
	switch rv.Status {
	case rights.Pending:
		out.Status = msgPending.In(l)
		if rv.Extended != nil {
			out.Status = fmt.Sprintf(msgExtended.In(l), day(*rv.Extended))
		}
		out.Due = fmt.Sprintf(msgDue.In(l), day(rv.Due))
		if rv.Overdue {
			out.Due = fmt.Sprintf(msgOverdue.In(l), day(rv.Due))
		}
	case rights.Accepted, rights.Refused:
		m := msgAccepted
		if rv.Status == rights.Refused {
			m = msgRefused
		}
		out.Status = m.In(l)
		if rv.Decided != nil {
			out.Status = fmt.Sprintf(m.In(l)+" "+msgOn.In(l), day(*rv.Decided))
		}
		if rv.Lifted != nil {
			out.Status += " — " + fmt.Sprintf(msgLifted.In(l), day(*rv.Lifted))
		}
	default:
		out.Status = msgClosed.In(l)
	}
	if rv.Erased {
		out.Text, out.Answer = "", ""
	}
	return out
}

// dateWords is t's day in words: "2 avril 2026", "2 April 2026".
func dateWords(t time.Time, l string) string {
	if l == "en" {
		return t.Format("2 January 2006")
	}
	return fmt.Sprintf("%d %s %d", t.Day(), frMonths[t.Month()-1], t.Year())
}

var frMonths = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}

// Bounds of the request form.
const (
	maxKind  = 16
	maxField = 64
)

// portalFile files a request of the person's: a kind, the fields a
// rectification names, their words.
func (k *Console) portalFile(w http.ResponseWriter, r *http.Request) {
	p, ok := k.personForm(w, r)
	if !ok {
		return
	}
	kind, text, fields := r.PostFormValue("kind"), strings.TrimSpace(r.PostFormValue("text")), r.PostForm["field"]
	switch {
	case len(kind) > maxKind || len(text) > rights.MaxText || len(fields) > len(k.c.Policy.Fields):
		k.fail(w, r, nil, errTooLong)
		return
	case !slices.Contains(rights.Kinds, kind):
		k.portalRefuse(w, r, http.StatusBadRequest, msgBadKind, msgBadKindH)
		return
	case !utf8.ValidString(text):
		k.portalRefuse(w, r, http.StatusBadRequest, msgBadText, msgBadTextH)
		return
	}
	for _, f := range fields {
		if _, ok := k.c.Policy.Field(f); !ok || len(f) > maxField {
			k.portalRefuse(w, r, http.StatusBadRequest, msgBadFields, msgBadFieldsH)
			return
		}
	}
	switch {
	case kind == rights.Rectification && len(fields) == 0:
		k.portalRefuse(w, r, http.StatusBadRequest, msgRectFields, msgRectFieldsH)
		return
	case kind != rights.Rectification && len(fields) > 0:
		k.portalRefuse(w, r, http.StatusBadRequest, msgNoFields, msgNoFieldsH)
		return
	}
	if _, err := k.c.Persons.FileRequest(r.Context(), vault.Person{Subject: p.Subject, Origin: p.Origin}, kind, fields, text); err != nil {
		k.portalFail(w, r, err)
		return
	}
	http.Redirect(w, r, PortalPrefix+"requests", http.StatusSeeOther)
}

// portalBlocks shows the person's blocks and the form to block a unit or
// a partner organisation: those their history names (the organisations
// that dealt with their record), never a person.
func (k *Console) portalBlocks(w http.ResponseWriter, r *http.Request) {
	keepLang(w, r, k)
	p, tok, ok := k.person(r)
	if !ok {
		k.fail(w, r, nil, errPersonSignIn)
		return
	}
	bs, err := k.c.Persons.MyBlocks(r.Context(), vault.Person{Subject: p.Subject, Origin: p.Origin})
	if err != nil {
		k.portalFail(w, r, err)
		return
	}
	h, err := k.history(r, p)
	if err != nil {
		k.portalFail(w, r, err)
		return
	}
	l := lang(r)
	my := &portalPage{}
	blocked := map[string]bool{}
	for _, b := range bs {
		blocked[b.ID] = true
		my.Blocks = append(my.Blocks, portalChoice{b.ID, targetWords(b.Kind, b.Target, l)})
	}
	seen := map[string]bool{}
	for _, e := range newestFirst(h) {
		s := e.Summary
		if s == nil {
			continue
		}
		kind, target := "", ""
		switch s.By {
		case auditlog.ByStaff:
			kind, target = rights.LimitUnit, s.Unit
		case auditlog.ByPartner: // a partner organisation's account: its id is the actor
			if x, err := audit.ParseLeaf(e.Leaf); err == nil {
				kind, target = rights.LimitPartner, x.Actor
			}
		}
		key := rights.Limit{Kind: kind, Target: target}.Key()
		if target == "" || seen[key] || blocked[key] {
			continue
		}
		seen[key] = true
		my.Targets = append(my.Targets, portalChoice{key, targetWords(kind, target, l)})
	}
	slices.SortFunc(my.Targets, func(a, b portalChoice) int { return strings.Compare(a.Label, b.Label) })
	k.render(w, r, http.StatusOK, "portal-blocks", page{Portal: true, Person: &p, CSRF: k.csrf(tok), My: my})
}

// targetWords names a block's target: "l'unité X", "l'organisation
// partenaire Y".
func targetWords(kind, target, l string) string {
	if kind == rights.LimitPartner {
		return fmt.Sprintf(msgPartner.In(l), target)
	}
	return fmt.Sprintf(msgUnit.In(l), target)
}

// portalBlock blocks a unit or a partner organisation ("unit:NAME",
// "partner:ID") from the person's record.
func (k *Console) portalBlock(w http.ResponseWriter, r *http.Request) {
	p, ok := k.personForm(w, r)
	if !ok {
		return
	}
	key := r.PostFormValue("target")
	kind, target, valid := rights.ParseKey(key)
	if len(key) > 100 || !valid {
		k.portalRefuse(w, r, http.StatusBadRequest, msgBadTarget, msgBadTargetH)
		return
	}
	if _, err := k.c.Persons.Block(r.Context(), vault.Person{Subject: p.Subject, Origin: p.Origin}, kind, target); err != nil {
		k.portalFail(w, r, err)
		return
	}
	http.Redirect(w, r, PortalPrefix+"blocks", http.StatusSeeOther)
}

// portalUnblock removes one of the person's blocks.
func (k *Console) portalUnblock(w http.ResponseWriter, r *http.Request) {
	p, ok := k.personForm(w, r)
	if !ok {
		return
	}
	key := r.PostFormValue("id")
	if _, _, valid := rights.ParseKey(key); len(key) > 100 || !valid {
		k.portalRefuse(w, r, http.StatusBadRequest, msgBadTarget, msgBadTargetH)
		return
	}
	if err := k.c.Persons.Unblock(r.Context(), vault.Person{Subject: p.Subject, Origin: p.Origin}, key); err != nil {
		k.portalFail(w, r, err)
		return
	}
	http.Redirect(w, r, PortalPrefix+"blocks", http.StatusSeeOther)
}

// personForm checks a form posted by a signed-in person: their session,
// the form's CSRF token, and its size (the form is parsed). It answers
// the refusal itself and reports false when one fails.
func (k *Console) personForm(w http.ResponseWriter, r *http.Request) (me.Person, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		k.fail(w, r, nil, errTooLong)
		return me.Person{}, false
	}
	p, tok, ok := k.person(r)
	switch {
	case !ok:
		k.fail(w, r, nil, errPersonSignIn)
		return p, false
	case !k.checkCSRF(r, tok):
		k.refuseCSRF(w, r, nil)
		return p, false
	}
	return p, true
}

// oidcCookie holds a portal sign-in's sealed state, from its start to
// its callback (SameSite=Lax: the provider's redirect back is a
// top-level navigation from its site).
const oidcCookie = "coffre_portal_oidc"

// portalOIDCStart sends the browser to the OpenID Connect provider, to
// come back to the portal's callback.
func (k *Console) portalOIDCStart(w http.ResponseWriter, r *http.Request) {
	if noHead(w, r) {
		return
	}
	u, cookie, err := k.c.People.StartOIDCTo(r.Context(), PortalPrefix+"oidc/callback")
	if err != nil {
		k.portalFail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: cookie, Path: PortalPrefix + "oidc", MaxAge: 600, HttpOnly: true, Secure: !k.c.Insecure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, u, http.StatusFound)
}

// portalOIDCCallback completes the sign-in through the provider: the
// person's session cookie, then their page.
func (k *Console) portalOIDCCallback(w http.ResponseWriter, r *http.Request) {
	if noHead(w, r) {
		return
	}
	q := r.URL.Query()
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Path: PortalPrefix + "oidc", MaxAge: -1, HttpOnly: true, Secure: !k.c.Insecure, SameSite: http.SameSiteLaxMode}) // a state serves once
	ses, err := k.c.People.OIDCCallback(r.Context(), cookieValue(r, oidcCookie), q.Get("state"), q.Get("code"), q.Get("error"), k.c.Origin(r), r.UserAgent())
	if err != nil {
		k.portalFail(w, r, err)
		return
	}
	k.setCookie(w, preCookie, "")
	k.setCookie(w, portalCookie, ses.Token)
	// A page, not a redirect: the session cookie is SameSite=Strict, and
	// this answer ends a navigation that came from the provider's site,
	// whose redirect would not carry it; the link below, followed from
	// this page, does.
	k.render(w, r, http.StatusOK, "portal-signedin", page{Portal: true})
}

// noHead refuses HEAD on a GET route that acts (a state sealed, a code
// exchanged): ServeMux lets HEAD run a GET pattern.
func noHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodHead {
		return false
	}
	w.Header().Set("Allow", "GET")
	w.WriteHeader(http.StatusMethodNotAllowed)
	return true
}

// portalFail writes the refusal of a person's act in the portal's words,
// or the console's for what it shares with the operators' pages.
func (k *Console) portalFail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *vault.FieldError
	switch {
	case errors.Is(err, vault.ErrTooMany):
		k.portalRefuse(w, r, http.StatusConflict, msgTooMany, msgTooManyH)
	case errors.Is(err, vault.ErrOwnUnit):
		k.portalRefuse(w, r, http.StatusConflict, msgOwnUnit, msgOwnUnitH)
	case errors.Is(err, vault.ErrUnknownTarget):
		k.portalRefuse(w, r, http.StatusNotFound, msgBadTarget, msgBadTargetH)
	case errors.Is(err, vault.ErrNoHandler):
		k.portalRefuse(w, r, http.StatusConflict, msgNoHandler, msgNoHandlerH)
	case errors.As(err, &fe):
		k.portalRefuse(w, r, http.StatusBadRequest, msgBadFields, msgBadFieldsH)
	case errors.Is(err, store.ErrConflict) && strings.HasPrefix(r.URL.Path, PortalPrefix+"blocks"):
		k.portalRefuse(w, r, http.StatusConflict, msgBlocked, msgBlockedH)
	case errors.Is(err, store.ErrNotFound) && strings.HasPrefix(r.URL.Path, PortalPrefix+"unblock"):
		k.portalRefuse(w, r, http.StatusNotFound, msgNoBlock, msgNoBlockH)
	case errors.Is(err, access.ErrInvalid) && (strings.HasPrefix(r.URL.Path, PortalPrefix+"blocks") || strings.HasPrefix(r.URL.Path, PortalPrefix+"unblock")):
		k.portalRefuse(w, r, http.StatusBadRequest, msgBadTarget, msgBadTargetH)
	case errors.Is(err, access.ErrInvalid):
		k.portalRefuse(w, r, http.StatusBadRequest, msgBadForm, msgBadFormH)
	case errors.Is(err, me.ErrOff):
		k.portalRefuse(w, r, http.StatusNotFound, msgOIDCOff, msgOIDCAgain)
	case errors.Is(err, me.ErrOIDCState), errors.Is(err, me.ErrOIDCDenied):
		k.portalRefuse(w, r, http.StatusBadRequest, msgOIDCState, msgOIDCAgain)
	case errors.Is(err, me.ErrNoRecord):
		k.portalRefuse(w, r, http.StatusForbidden, msgOIDCNoRecord, msgOIDCNoRecordH)
	case errors.Is(err, me.ErrProvider):
		k.c.Logger.WarnContext(r.Context(), "portal oidc", "error", err)
		k.portalRefuse(w, r, http.StatusBadGateway, msgOIDCProvider, msgFailedH)
	default:
		k.fail(w, r, nil, err)
	}
}

// portalRefuse writes a refusal page: m, and what to do.
func (k *Console) portalRefuse(w http.ResponseWriter, r *http.Request, status int, m, hint msg) {
	pg := page{Portal: true, Message: m, Hint: hint.In(lang(r))}
	if p, tok, ok := k.person(r); ok {
		pg.Person, pg.CSRF = &p, k.csrf(tok) // the header's sign-out form
	}
	k.render(w, r, status, "error", pg)
}

// kindWords are the kinds of request in words.
var kindWords = map[string]msg{
	rights.Rectification: {"Rectification (art. 16) : corriger des données inexactes", "Rectification (art. 16): correct inaccurate data"},
	rights.Restriction:   {"Limitation (art. 18) : geler l'usage de la fiche", "Restriction (art. 18): freeze the use of the record"},
	rights.Erasure:       {"Effacement (art. 17) : effacer la fiche", "Erasure (art. 17): erase the record"},
	rights.Objection:     {"Opposition (art. 21) : s'opposer au traitement", "Objection (art. 21): object to the processing"},
}

// Messages of the portal's requests and blocks.
var (
	msgFiled         = msg{"Déposée le %s", "Filed on %s"}
	msgPending       = msg{"En attente de réponse", "Waiting for an answer"}
	msgExtended      = msg{"En attente de réponse (délai prolongé le %s)", "Waiting for an answer (the deadline was extended on %s)"}
	msgDue           = msg{"Réponse due au plus tard le %s", "An answer is due by %s"}
	msgOverdue       = msg{"En retard : la réponse était due le %s", "Overdue: the answer was due on %s"}
	msgAccepted      = msg{"Acceptée", "Accepted"}
	msgRefused       = msg{"Refusée", "Refused"}
	msgOn            = msg{"le %s", "on %s"}
	msgLifted        = msg{"limitation levée le %s", "restriction lifted on %s"}
	msgClosed        = msg{"Close : la fiche a été effacée", "Closed: the record was erased"}
	msgUnit          = msg{"Unité %s", "Unit %s"}
	msgPartner       = msg{"Organisation partenaire %s", "Partner organisation %s"}
	msgBadKind       = msg{"Ce type de demande n'existe pas.", "There is no such kind of request."}
	msgBadKindH      = msg{"Choisissez rectification, limitation, effacement ou opposition.", "Choose rectification, restriction, erasure or objection."}
	msgBadText       = msg{"Le texte n'est pas lisible (caractères non valides).", "The text cannot be read (invalid characters)."}
	msgBadTextH      = msg{"Retapez-le sans caractères de contrôle.", "Type it again without control characters."}
	msgBadFields     = msg{"Un des champs choisis n'existe pas dans la fiche.", "One of the fields chosen is not on the record."}
	msgBadFieldsH    = msg{"Rechargez la page et cochez les champs de la liste.", "Reload the page and tick fields of the list."}
	msgRectFields    = msg{"Une rectification dit quels champs corriger.", "A rectification says which fields to correct."}
	msgRectFieldsH   = msg{"Cochez les champs à corriger, et dites comment dans le texte.", "Tick the fields to correct, and say how in the text."}
	msgNoFields      = msg{"Cette demande porte sur toute la fiche : ne cochez aucun champ.", "This request is about the whole record: tick no field."}
	msgNoFieldsH     = msg{"Décochez les champs ; précisez dans le texte ce que vous demandez.", "Untick the fields; say in the text what you ask."}
	msgTooMany       = msg{"Une demande de ce type est déjà ouverte, ou vous avez trop de demandes ouvertes.", "A request of this kind is open already, or too many of your requests are open."}
	msgTooManyH      = msg{"Suivez vos demandes sur la page « Vos demandes » ; vous pourrez compléter après la réponse.", "Follow your requests on the “Your requests” page; you may add to them after the answer."}
	msgNoHandler     = msg{"Cette organisation ne traite pas les demandes par ce portail.", "This organisation does not handle requests through this portal."}
	msgNoHandlerH    = msg{"Écrivez au responsable du traitement (voir le téléchargement de vos données).", "Write to the controller (see the download of your data)."}
	msgBadTarget     = msg{"Cette unité ou cette organisation n'existe pas.", "There is no such unit or organisation."}
	msgBadTargetH    = msg{"Choisissez dans la liste de la page « Bloquer ».", "Choose from the list on the “Block” page."}
	msgOwnUnit       = msg{"Cette unité est celle qui tient votre fiche : la bloquer arrêterait le service lui-même.", "This unit holds your record: blocking it would stop the service itself."}
	msgOwnUnitH      = msg{"Déposez plutôt une demande de limitation ou d'opposition, que le délégué à la protection des données tranche.", "File a restriction or an objection instead, which the data protection officer decides."}
	msgBlocked       = msg{"Elle est déjà bloquée.", "It is blocked already."}
	msgBlockedH      = msg{"Rien à faire : elle figure dans la liste de vos blocages.", "Nothing to do: it is on the list of your blocks."}
	msgNoBlock       = msg{"Ce blocage n'existe pas (ou plus).", "There is no such block (any more)."}
	msgNoBlockH      = msg{"Rechargez la page de vos blocages.", "Reload the page of your blocks."}
	msgOIDCOff       = msg{"Ce serveur ne propose pas cette façon de se connecter.", "This server does not offer this way of signing in."}
	msgOIDCState     = msg{"Cette connexion n'a pas été commencée depuis ce navigateur, a pris trop de temps, ou a été refusée.", "This sign-in was not started from this browser, took too long, or was refused."}
	msgOIDCAgain     = msg{"Recommencez depuis la page de connexion.", "Start again from the sign-in page."}
	msgOIDCNoRecord  = msg{"Aucune fiche de cet annuaire ne correspond à l'identité donnée par le fournisseur.", "No record in this directory matches the identity the provider gave."}
	msgOIDCNoRecordH = msg{"Adressez-vous à l'organisation qui tient votre fiche.", "Ask the organisation that holds your record."}
	msgOIDCProvider  = msg{"Le fournisseur d'identité n'a pas pu être joint, ou sa réponse n'a pas pu être vérifiée.", "The identity provider could not be reached, or its answer did not verify."}
)
