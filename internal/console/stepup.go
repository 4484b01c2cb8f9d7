package console

import (
	"context"
	"net/http"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/coffre/coffre/internal/auth"
)

// Step-up in the console: a fresh second factor proved in the session,
// as the API's /v1/auth/stepup/…. Changing one's security keys needs one
// of the last minutes (auth's rule), and so does a read under a purpose
// with step_up (for that purpose's step-up group). A TOTP code is a plain
// form (the keys page's; the reveal form carries its own code field); a
// security key is proved by webauthn.js through …/stepup/webauthn/begin
// and …/finish, for the purpose the page names, if any.

// StepUpKeys is what the console needs of auth for a step-up with a
// security key (auth.Service).
type StepUpKeys interface {
	BeginWebAuthnStepUp(ctx context.Context, token, origin, userAgent string) (*protocol.CredentialAssertion, error)
	FinishWebAuthnStepUp(ctx context.Context, token string, assertion []byte, purpose, origin, userAgent string) error
}

// stepUpRoutes adds the step-up's routes to mux.
func (k *Console) stepUpRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+Prefix+"stepup/totp", k.stepUpTOTP)
	mux.HandleFunc("POST "+Prefix+"stepup/webauthn/begin", k.stepUpKeyBegin)
	mux.HandleFunc("POST "+Prefix+"stepup/webauthn/finish", k.stepUpKeyFinish)
}

// stepUpTOTP proves a fresh TOTP code in the session (no purpose) and
// goes back to the keys page, the one page that asks for it this way.
func (k *Console) stepUpTOTP(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.signedForm(w, r)
	if !ok {
		return
	}
	f, err := form(r, map[string]int{"code": 6})
	if err != nil || strings.Trim(f["code"], "0123456789") != "" {
		k.fail(w, r, &a, cmpErr(err, auth.ErrBadCredentials))
		return
	}
	if err := k.c.Auth.StepUpTOTP(r.Context(), tok, f["code"], "", k.c.Origin(r), r.UserAgent()); err != nil {
		k.fail(w, r, &a, err)
		return
	}
	http.Redirect(w, r, Prefix+"keys", http.StatusSeeOther)
}

// stepUpKeys returns the Auth's key step-up, or ok false.
func (k *Console) stepUpKeys() (StepUpKeys, bool) {
	s, ok := k.c.Auth.(StepUpKeys)
	return s, ok
}

// stepUpKeyBegin starts a step-up with a security key: the options for
// navigator.credentials.get.
func (k *Console) stepUpKeyBegin(w http.ResponseWriter, r *http.Request) {
	a, tok, _, _, ok := k.signedKeyForm(w, r, map[string]int{}, true)
	if !ok {
		return
	}
	su, ok := k.stepUpKeys()
	if !ok {
		k.refuseKey(w, r, &a, errNoKeys, true)
		return
	}
	opts, err := su.BeginWebAuthnStepUp(r.Context(), tok, k.c.Origin(r), r.UserAgent())
	if err != nil {
		k.refuseKey(w, r, &a, err, true)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

// stepUpKeyFinish checks the key's answer and records the step-up in the
// session, for the purpose named (or none).
func (k *Console) stepUpKeyFinish(w http.ResponseWriter, r *http.Request) {
	a, tok, _, f, ok := k.signedKeyForm(w, r, map[string]int{"credential": maxCredential}, true)
	if !ok {
		return
	}
	su, ok := k.stepUpKeys()
	if !ok {
		k.refuseKey(w, r, &a, errNoKeys, true)
		return
	}
	purpose := strings.TrimSpace(r.PostFormValue("purpose"))
	if len(purpose) > 64 {
		k.refuseKey(w, r, &a, errTooLong, true)
		return
	}
	if err := su.FinishWebAuthnStepUp(r.Context(), tok, []byte(f["credential"]), purpose, k.c.Origin(r), r.UserAgent()); err != nil {
		k.refuseKey(w, r, &a, err, true)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"proved": true})
}

// stepUpBox is what the "keystepup" template (a step-up with a security
// key, run by webauthn.js) is given: the CSRF token, the id of the form
// whose checked "purpose" the step-up names (none: no purpose), and the
// page to go to once proved (none: stay, and say so).
func stepUpBox(csrf, form, after string) map[string]string {
	return map[string]string{"CSRF": csrf, "Form": form, "After": after}
}

// stepUpWords are the step-up's words.
var stepUpWords = map[string]msg{
	"stepup":          {"Confirmer que c'est vous", "Confirm it is you"},
	"stepup.keys":     {"Ajouter ou retirer une clé demande un second facteur prouvé il y a quelques minutes au plus : saisissez un nouveau code de votre application, ou touchez une de vos clés.", "Adding or removing a key needs a second factor proved in the last few minutes: enter a fresh code from your app, or touch one of your keys."},
	"stepup.code":     {"Nouveau code de votre application", "A fresh code from your app"},
	"stepup.do":       {"Confirmer", "Confirm"},
	"stepup.key":      {"Confirmer avec ma clé de sécurité", "Confirm with my security key"},
	"stepup.done":     {"C'est confirmé.", "Confirmed."},
	"stepup.reveal":   {"Ou prouvez-le avec votre clé de sécurité (pour la finalité cochée), puis affichez le champ :", "Or prove it with your security key (for the purpose chosen), then reveal the field:"},
	"stepup.revealed": {"C'est confirmé pour cette finalité : affichez maintenant le champ.", "Confirmed for this purpose: now reveal the field."},
}
