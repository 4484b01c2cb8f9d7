package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/subjectid"
)

// Revealing a masked field (issue 17) is deliberate: from the record, the
// operator asks to reveal one field; the console then asks which purpose
// of their role shows it in clear, why, and — when that purpose needs it
// — a fresh second factor, and says how the person will be told. The
// answer is a read narrowed to that one field (vault.ReadFields: only it
// is opened, audited, and named in the person's notice).
//
// A reveal form carries a ticket: a nonce and an expiry, with an HMAC
// binding them to the session, the subject and the field. A ticket serves
// one reveal: a second submission of the same form (a double click, the
// back button, a replay) is refused with a clear page rather than read
// the record and tell the person twice. Used tickets are remembered in
// memory until they expire (a node's own: a load balancer keeps an
// operator's session on one node, or a replay to another node is one
// more audited read, never an unaudited one).

// ticketLife is how long a reveal form stays valid.
const ticketLife = 10 * time.Minute

// errTicket: a reveal form that is not this session's, or expired.
var errTicket = errors.New("reveal form not valid")

// errTicketUsed: the reveal form was submitted already.
var errTicketUsed = errors.New("reveal form used")

// tickets remembers the reveal tickets used, until they expire.
type tickets struct {
	mu   sync.Mutex
	used map[string]time.Time // nonce → expiry
}

// take marks nonce used and reports whether it was not already.
func (ts *tickets) take(nonce string, exp, now time.Time) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.used == nil {
		ts.used = map[string]time.Time{}
	}
	if _, ok := ts.used[nonce]; ok {
		return false
	}
	if len(ts.used) >= 1024 {
		for n, e := range ts.used {
			if now.After(e) {
				delete(ts.used, n)
			}
		}
	}
	ts.used[nonce] = exp
	return true
}

// ticket returns a reveal ticket for field of subject in the session of
// tok.
func (k *Console) ticket(tok, subject, field string, now time.Time) string {
	b := make([]byte, 16)
	rand.Read(b)
	head := base64.RawURLEncoding.EncodeToString(b) + "." + strconv.FormatInt(now.Add(ticketLife).Unix(), 10)
	return head + "." + k.ticketMAC(tok, subject, field, head)
}

func (k *Console) ticketMAC(tok, subject, field, head string) string {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte("reveal\x00" + tok + "\x00" + subject + "\x00" + field + "\x00" + head))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkTicket returns the nonce and expiry of a ticket that is this
// session's for field of subject, and not expired.
func (k *Console) checkTicket(tok, subject, field, t string, now time.Time) (string, time.Time, error) {
	nonce, rest, _ := strings.Cut(t, ".")
	exp, mac, _ := strings.Cut(rest, ".")
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !hmac.Equal([]byte(mac), []byte(k.ticketMAC(tok, subject, field, nonce+"."+exp))) {
		return "", time.Time{}, errTicket
	}
	e := time.Unix(sec, 0)
	if now.After(e) {
		return "", time.Time{}, errTicket
	}
	return nonce, e, nil
}

// revealer is a purpose of the operator's role that shows a field in
// clear, as the reveal form offers it.
type revealer struct {
	Name, Description string
	Notice            string // the purpose's notice mode
	StepUp            bool   // a fresh TOTP code is asked
}

// revealers returns the purposes of role that show field in clear and
// that the console can serve (a step-up by TOTP, or none).
func (k *Console) revealers(role, field string) []revealer {
	ro, err := k.c.Policy.Role(role)
	if err != nil {
		return nil
	}
	var out []revealer
	for _, name := range ro.Purposes {
		pu, ok := k.c.Policy.Purposes[name]
		if !ok || pu.Fields[field].Action != policy.Clear || pu.StepUp == "webauthn" {
			continue
		}
		out = append(out, revealer{Name: name, Description: pu.Description, Notice: pu.NoticeMode(), StepUp: pu.StepUp != ""})
	}
	return out
}

// revealForm is what the reveal page shows.
type revealForm struct {
	Subject, Field, Ticket string
	Purposes               []revealer
	NeedsCode              bool   // some purpose asks for a fresh code
	Problem                string // why the last attempt did not reveal, in words
}

// revealed is what the reveal's answer shows.
type revealed struct {
	Field, Value, Purpose, Notice string
	Masked                        bool // the purpose masks it after all (a policy changed meanwhile)
	Seq                           int64
}

// revealAsk answers the reveal button of a masked field: the form that
// asks for the purpose, the reason and, when needed, a fresh code.
func (k *Console) revealAsk(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.signedForm(w, r)
	if !ok {
		return
	}
	f, err := form(r, map[string]int{"subject": 64, "field": 64, "ticket": 200})
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	if _, _, err := k.checkTicket(tok, f["subject"], f["field"], f["ticket"], time.Now()); err != nil {
		k.fail(w, r, &a, err)
		return
	}
	k.revealPage(w, r, a, tok, f["subject"], f["field"], f["ticket"], "")
}

// revealPage renders the reveal form for field of subject.
func (k *Console) revealPage(w http.ResponseWriter, r *http.Request, a identity.Actor, tok, subject, field, ticket, problem string) {
	rf := &revealForm{Subject: subject, Field: field, Ticket: ticket, Purposes: k.revealers(a.Role, field), Problem: problem}
	if len(rf.Purposes) == 0 {
		k.fail(w, r, &a, errNoRevealer)
		return
	}
	rf.NeedsCode = slices.ContainsFunc(rf.Purposes, func(p revealer) bool { return p.StepUp })
	status := http.StatusOK
	if problem != "" {
		status = http.StatusBadRequest
	}
	p := page{Operator: &a, CSRF: k.csrf(tok), Reveal: rf}
	if ks, ok := k.keys(); ok && rf.NeedsCode { // a step-up with a key, when they have one
		keys, err := ks.WebAuthnKeys(r.Context(), a)
		p.KeyOffered = err == nil && len(keys) > 0
	}
	k.render(w, r, status, "reveal", p)
}

// errNoRevealer: no purpose of the operator's role shows the field in
// clear.
var errNoRevealer = errors.New("no purpose reveals the field")

// reveal reads the one field under the purpose chosen, after the step-up
// when a code is given, and shows it.
func (k *Console) reveal(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.signedForm(w, r)
	if !ok {
		return
	}
	f, err := form(r, map[string]int{"subject": 64, "field": 64, "ticket": 200, "purpose": 64, "reason": maxReason})
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	now := time.Now()
	nonce, exp, err := k.checkTicket(tok, f["subject"], f["field"], f["ticket"], now)
	if err == nil && !subjectid.Valid(f["subject"]) {
		err = errTicket
	}
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	rs := k.revealers(a.Role, f["field"])
	i := slices.IndexFunc(rs, func(p revealer) bool { return p.Name == f["purpose"] })
	if i < 0 {
		k.revealPage(w, r, a, tok, f["subject"], f["field"], f["ticket"], msgRevealPurpose.In(lang(r)))
		return
	}
	if code := strings.TrimSpace(r.PostFormValue("code")); rs[i].StepUp && code != "" {
		if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
			k.revealPage(w, r, a, tok, f["subject"], f["field"], f["ticket"], msgRevealCode.In(lang(r)))
			return
		}
		if err := k.c.Auth.StepUpTOTP(r.Context(), tok, code, f["purpose"], k.c.Origin(r), r.UserAgent()); err != nil {
			if errors.Is(err, auth.ErrBadCredentials) {
				k.revealPage(w, r, a, tok, f["subject"], f["field"], f["ticket"], msgRevealCode.In(lang(r)))
				return
			}
			k.fail(w, r, &a, err)
			return
		}
		if a, _, ok = k.operator(r); !ok { // the session as the step-up left it
			k.fail(w, r, nil, auth.ErrUnauthenticated)
			return
		}
	}
	if !k.used.take(nonce, exp, now) {
		k.fail(w, r, &a, errTicketUsed)
		return
	}
	v, err := k.c.Vault.ReadFields(r.Context(), a, f["subject"], f["purpose"], f["reason"], []string{f["field"]})
	switch {
	case errors.Is(err, access.ErrStepUpRequired):
		// A new form: this one's ticket is spent.
		k.revealPage(w, r, a, tok, f["subject"], f["field"], k.ticket(tok, f["subject"], f["field"], now), msgRevealStepUp.In(lang(r)))
		return
	case err != nil:
		k.fail(w, r, &a, err)
		return
	}
	val, shown := v.Fields[f["field"]]
	if !shown {
		k.fail(w, r, &a, errNoRevealer) // the record lacks the field
		return
	}
	k.render(w, r, http.StatusOK, "revealed", page{Operator: &a, CSRF: k.csrf(tok), Revealed: &revealed{
		Field: f["field"], Value: val, Purpose: v.Purpose, Notice: rs[i].Notice, Seq: v.AuditSeq, Masked: slices.Contains(v.Masked, f["field"]),
	}})
}

// revealWords are the reveal's words.
var revealWords = map[string]msg{
	"reveal":              {"Afficher", "Reveal"},
	"reveal.title":        {"Afficher un champ masqué", "Reveal a masked field"},
	"reveal.help":         {"Le champ « %s » est masqué dans la finalité de votre consultation. Pour l'afficher, choisissez une finalité de votre rôle qui le montre en clair et dites pourquoi : seul ce champ est lu, la lecture est journalisée, et la personne en est informée.", "The field “%s” is masked under the purpose you read the record for. To reveal it, choose a purpose of your role that shows it in clear and say why: only this field is read, the read is audited, and the person is told."},
	"reveal.purpose":      {"Finalité qui justifie l'affichage", "The purpose that justifies it"},
	"reveal.stepup":       {"demande un nouveau code", "asks for a fresh code"},
	"reveal.code":         {"Nouveau code de votre application d'authentification (pour les finalités qui le demandent)", "A fresh code from your authenticator app (for the purposes that ask for one)"},
	"reveal.code.help":    {"Un code que vous n'avez pas encore utilisé : attendez le suivant si besoin.", "A code you have not used yet: wait for the next one if need be."},
	"reveal.do":           {"Afficher ce champ", "Reveal this field"},
	"revealed.title":      {"Champ affiché", "Field revealed"},
	"revealed.help":       {"Lecture journalisée (entrée n°%d), finalité « %s ».", "Read audited (entry %d), purpose “%s”."},
	"notice.immediate":    {"la personne en est informée immédiatement", "the person is told at once"},
	"notice.digest":       {"la personne en est informée dans son récapitulatif du jour", "the person is told in their daily summary"},
	"notice.history":      {"la consultation figure dans l'historique de la personne", "the access shows in the person's history"},
	"notice.deferred":     {"la personne en sera informée à l'issue du délai légal", "the person will be told once the legal delay is over"},
	"revealed.still.mask": {"(toujours masqué dans cette finalité)", "(still masked under this purpose)"},
}

// Messages of the reveal.
var (
	msgRevealPurpose = msg{"Choisissez une des finalités proposées.", "Choose one of the purposes offered."}
	msgRevealCode    = msg{"Ce code est incorrect ou a déjà servi : saisissez le code suivant de votre application.", "This code is wrong or was used already: enter your app's next code."}
	msgRevealStepUp  = msg{"Cette finalité demande un nouveau code de votre application d'authentification : saisissez-le.", "This purpose asks for a fresh code from your authenticator app: enter it."}
	msgTicket        = msg{"Ce formulaire d'affichage n'est plus valable (il vient d'une autre session, ou il a expiré).", "This reveal form is no longer valid (it comes from another session, or it expired)."}
	msgTicketH       = msg{"Retrouvez la personne et redemandez l'affichage.", "Find the person again and ask to reveal the field again."}
	msgTicketUsed    = msg{"Cet affichage a déjà été fait : sa réponse était la page qui a suivi. Rien n'a été lu une seconde fois.", "This reveal was made already: its answer was the page that followed. Nothing was read a second time."}
	msgTicketUsedH   = msg{"Pour revoir le champ, retrouvez la personne et redemandez l'affichage : c'est une nouvelle consultation, journalisée, dont la personne est informée.", "To see the field again, find the person and reveal it again: a new access, audited, of which the person is told."}
	msgNoRevealer    = msg{"Aucune finalité de votre rôle ne montre ce champ en clair.", "No purpose of your role shows this field in clear."}
	msgNoRevealerH   = msg{"Si votre mission l'exige, demandez à votre responsable.", "If your job needs it, ask your supervisor."}
)
