package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
)

// Security keys (WebAuthn) in the console: the second step of a sign-in
// with a key instead of a TOTP code, and the page where an operator
// registers and removes their keys. The ceremonies are auth's (the same
// as the JSON API's /v1/auth/webauthn and /v1/account/webauthn); the
// browser's part is static/webauthn.js, which asks the server for the
// options (…/begin), runs navigator.credentials.get or create, and posts
// the key's answer (…/finish), all as same-origin form posts carrying the
// page's CSRF token, answered in JSON. Removing a key is a plain form.
//
// The sign-in's steps are bound to the pre-session cookie (its CSRF
// token) and to the login token of the password step, as the TOTP form
// is; the keys page's to the session. Registering or removing a key needs
// a second factor proved in the last minutes (auth's rule): right after a
// sign-in it is.

// Keys is what the console needs of auth for security keys
// (auth.Service). The console's Auth may implement it; without it the
// key routes answer that keys are not available.
type Keys interface {
	BeginWebAuthnLogin(ctx context.Context, loginToken string) (*protocol.CredentialAssertion, error)
	FinishWebAuthnLogin(ctx context.Context, loginToken string, assertion []byte, origin, userAgent string) (*auth.Session, error)
	BeginWebAuthnRegistration(ctx context.Context, token string) (*protocol.CredentialCreation, error)
	FinishWebAuthnRegistration(ctx context.Context, token, name string, attestation []byte, origin string) ([]byte, error)
	WebAuthnKeys(ctx context.Context, a identity.Actor) ([]auth.WebAuthnKey, error)
	RemoveWebAuthn(ctx context.Context, token string, id []byte, origin string) error
}

// Bounds of the key forms.
const (
	maxKeyForm    = 64 << 10 // a whole key form: the answer and the rest
	maxCredential = 16 << 10 // a key's answer as JSON (as the API's)
	maxKeyName    = 64
	maxKeyID      = 1400 // base64url of a credential id (at most 1023 bytes)
	maxLoginToken = 100
)

// keyRoutes adds the security keys' routes to mux.
func (k *Console) keyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+Prefix+"webauthn/begin", k.keySignInBegin)
	mux.HandleFunc("POST "+Prefix+"webauthn/finish", k.keySignInFinish)
	mux.HandleFunc("GET "+Prefix+"keys", k.keysPage)
	mux.HandleFunc("POST "+Prefix+"keys/begin", k.keyAddBegin)
	mux.HandleFunc("POST "+Prefix+"keys/finish", k.keyAddFinish)
	mux.HandleFunc("POST "+Prefix+"keys/remove", k.keyRemove)
}

// keys returns the Auth's security keys, or ok false.
func (k *Console) keys() (Keys, bool) {
	ks, ok := k.c.Auth.(Keys)
	return ks, ok
}

// Refusals of the key routes that are not auth's errors.
var (
	errCSRF     = errors.New("csrf token missing or foreign")
	errNoScript = errors.New("security key answer missing")
	errNoKeys   = errors.New("security keys not available")
)

// keyForm reads a key form, bounded as a whole and by field: every name
// of bounds must be there, not longer than its bound. It checks the CSRF
// token against binding first.
func (k *Console) keyForm(w http.ResponseWriter, r *http.Request, binding string, bounds map[string]int) (map[string]string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxKeyForm)
	if err := r.ParseForm(); err != nil {
		return nil, errTooLong
	}
	if !k.checkCSRF(r, binding) {
		return nil, errCSRF
	}
	if _, ok := bounds["credential"]; ok && r.PostFormValue("credential") == "" {
		return nil, errNoScript
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

// keySignInBegin starts a sign-in's key check: the options for
// navigator.credentials.get, for the login of the password step.
func (k *Console) keySignInBegin(w http.ResponseWriter, r *http.Request) {
	ks, ok := k.keys()
	if !ok {
		k.refuseKey(w, r, nil, errNoKeys, true)
		return
	}
	f, err := k.keyForm(w, r, cookieValue(r, preCookie), map[string]int{"login_token": maxLoginToken})
	if err != nil {
		k.refuseKey(w, r, nil, err, true)
		return
	}
	opts, err := ks.BeginWebAuthnLogin(r.Context(), f["login_token"])
	if err != nil {
		k.refuseKey(w, r, nil, err, true)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

// keySignInFinish checks the key's answer and opens the session: the
// session cookie is set and the answer says where to go.
func (k *Console) keySignInFinish(w http.ResponseWriter, r *http.Request) {
	ks, ok := k.keys()
	if !ok {
		k.refuseKey(w, r, nil, errNoKeys, true)
		return
	}
	f, err := k.keyForm(w, r, cookieValue(r, preCookie), map[string]int{"login_token": maxLoginToken, "credential": maxCredential})
	if err != nil {
		k.refuseKey(w, r, nil, err, true)
		return
	}
	ses, err := ks.FinishWebAuthnLogin(r.Context(), f["login_token"], []byte(f["credential"]), k.c.Origin(r), r.UserAgent())
	if err != nil {
		k.refuseKey(w, r, nil, err, true)
		return
	}
	k.setCookie(w, preCookie, "")
	k.setCookie(w, sessionCookie, ses.Token)
	writeJSON(w, http.StatusOK, map[string]string{"go": Prefix})
}

// keyRow is one of the operator's keys as the keys page shows it.
type keyRow struct {
	ID, Name, Created, LastUsed string
}

// keysPage lists the operator's security keys, each with a remove
// button, and the form that registers another.
func (k *Console) keysPage(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.operator(r)
	if !ok {
		k.fail(w, r, nil, auth.ErrUnauthenticated)
		return
	}
	ks, ok := k.keys()
	if !ok {
		k.refuseKey(w, r, &a, errNoKeys, false)
		return
	}
	list, err := ks.WebAuthnKeys(r.Context(), a)
	if err != nil {
		k.refuseKey(w, r, &a, err, false)
		return
	}
	p := page{Operator: &a, CSRF: k.csrf(tok)}
	for _, key := range list {
		row := keyRow{ID: base64.RawURLEncoding.EncodeToString(key.ID), Name: key.Name, Created: key.Created.UTC().Format("2006-01-02 15:04 UTC")}
		if !key.LastUsed.IsZero() {
			row.LastUsed = key.LastUsed.UTC().Format("2006-01-02 15:04 UTC")
		}
		p.Keys = append(p.Keys, row)
	}
	k.render(w, r, http.StatusOK, "keys", p)
}

// signedKeyForm is signedForm for the key forms: the session, the CSRF
// token, then the fields of bounds. It answers the refusal itself.
func (k *Console) signedKeyForm(w http.ResponseWriter, r *http.Request, bounds map[string]int, asJSON bool) (identity.Actor, string, Keys, map[string]string, bool) {
	a, tok, ok := k.operator(r)
	if !ok {
		k.refuseKey(w, r, nil, auth.ErrUnauthenticated, asJSON)
		return a, "", nil, nil, false
	}
	ks, ok := k.keys()
	if !ok {
		k.refuseKey(w, r, &a, errNoKeys, asJSON)
		return a, "", nil, nil, false
	}
	f, err := k.keyForm(w, r, tok, bounds)
	if err != nil {
		k.refuseKey(w, r, &a, err, asJSON)
		return a, "", nil, nil, false
	}
	return a, tok, ks, f, true
}

// keyAddBegin starts registering a key: the options for
// navigator.credentials.create. The name is checked now, so that the
// operator does not touch their key for a name refused after.
func (k *Console) keyAddBegin(w http.ResponseWriter, r *http.Request) {
	a, tok, ks, _, ok := k.signedKeyForm(w, r, map[string]int{"name": maxKeyName}, true)
	if !ok {
		return
	}
	opts, err := ks.BeginWebAuthnRegistration(r.Context(), tok)
	if err != nil {
		k.refuseKey(w, r, &a, err, true)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

// keyAddFinish stores the new key from the key's answer. Posted without
// one (the form sent without JavaScript), it says that registering needs
// JavaScript.
func (k *Console) keyAddFinish(w http.ResponseWriter, r *http.Request) {
	asJSON := wantsJSON(r)
	a, tok, ks, f, ok := k.signedKeyForm(w, r, map[string]int{"name": maxKeyName, "credential": maxCredential}, asJSON)
	if !ok {
		return
	}
	if _, err := ks.FinishWebAuthnRegistration(r.Context(), tok, f["name"], []byte(f["credential"]), k.c.Origin(r)); err != nil {
		k.refuseKey(w, r, &a, err, asJSON)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"go": Prefix + "keys"})
}

// keyRemove removes one of the operator's keys (a plain form).
func (k *Console) keyRemove(w http.ResponseWriter, r *http.Request) {
	a, tok, ks, f, ok := k.signedKeyForm(w, r, map[string]int{"id": maxKeyID}, false)
	if !ok {
		return
	}
	id, err := base64.RawURLEncoding.DecodeString(f["id"])
	if err != nil || len(id) == 0 {
		k.refuseKey(w, r, &a, errTooLong, false)
		return
	}
	if err := ks.RemoveWebAuthn(r.Context(), tok, id, k.c.Origin(r)); err != nil {
		k.refuseKey(w, r, &a, err, false)
		return
	}
	http.Redirect(w, r, Prefix+"keys", http.StatusSeeOther)
}

// wantsJSON reports whether the request is webauthn.js's (which asks for
// JSON), not a form sent without JavaScript.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// refusal is a refusal of a key step in words: a code for the script,
// what happened and what to do.
type refusal struct {
	status     int
	code       string
	what, hint msg
	text, tip  string // a public message of auth's, in English
}

// keyRefusal words err, as a key step met it.
func keyRefusal(r *http.Request, err error) refusal {
	signIn := strings.HasPrefix(r.URL.Path, Prefix+"webauthn/")
	stepUp := strings.HasPrefix(r.URL.Path, Prefix+"stepup/")
	begin := strings.HasSuffix(r.URL.Path, "/begin")
	switch {
	case stepUp && errors.Is(err, auth.ErrBadCredentials):
		return refusal{status: http.StatusUnauthorized, code: "refused", what: msgKeyStepRefused, hint: msgKeyAgain}
	case errors.Is(err, access.ErrInvalid), errors.Is(err, access.ErrForbidden):
		return refusal{status: http.StatusBadRequest, code: "invalid", text: public.Message(err, msgBadForm.en), tip: public.Hint(err, "")}
	case errors.Is(err, errCSRF):
		return refusal{status: http.StatusForbidden, code: "csrf", what: msgCSRF, hint: msgCSRFHint}
	case errors.Is(err, auth.ErrUnauthenticated), errors.Is(err, auth.ErrSessionMoved):
		return refusal{status: http.StatusUnauthorized, code: "sign_in", what: msgSignIn, hint: msgSignInHint}
	case errors.Is(err, errNoScript):
		return refusal{status: http.StatusBadRequest, code: "no_script", what: msgKeyNoScript, hint: msgKeyNoScriptH}
	case errors.Is(err, errTooLong):
		if signIn {
			return refusal{status: http.StatusBadRequest, code: "bad_form", what: msgBadForm, hint: msgKeyExpiredH}
		}
		return refusal{status: http.StatusBadRequest, code: "bad_form", what: msgBadForm, hint: msgKeyNameH}
	case errors.Is(err, errNoKeys):
		return refusal{status: http.StatusNotFound, code: "no_keys", what: msgKeysOff, hint: msgKeyUseCode}
	case errors.Is(err, auth.ErrAuthenticatorNotAllowed):
		return refusal{status: http.StatusForbidden, code: "authenticator_not_allowed", text: public.Message(err, "this security key is not accepted for your role"), tip: public.Hint(err, "")}
	case errors.Is(err, auth.ErrFactorNotAllowed):
		if signIn {
			return refusal{status: http.StatusForbidden, code: "no_key", what: msgKeyNone, hint: msgKeyUseCode}
		}
		return refusal{status: http.StatusForbidden, code: "factor_not_allowed", what: msgKeyRole, hint: msgKeyRoleH}
	case errors.Is(err, auth.ErrTooManyAttempts):
		return refusal{status: http.StatusTooManyRequests, code: "too_many_attempts", what: msgKeyAttempts, hint: msgKeyExpiredH}
	case errors.Is(err, auth.ErrNoCeremony):
		return refusal{status: http.StatusBadRequest, code: "no_ceremony", what: msgKeyNoCeremony, hint: msgKeyAgain}
	case errors.Is(err, auth.ErrStepUpRequired):
		return refusal{status: http.StatusForbidden, code: "step_up_required", what: msgKeyStepUp, hint: msgKeyStepUpH}
	case errors.Is(err, auth.ErrBadCredentials) && signIn && begin:
		return refusal{status: http.StatusUnauthorized, code: "expired", what: msgKeyExpired, hint: msgKeyExpiredH}
	case errors.Is(err, auth.ErrBadCredentials) && signIn:
		return refusal{status: http.StatusUnauthorized, code: "refused", what: msgKeyRefused, hint: msgKeyRefusedH}
	case errors.Is(err, auth.ErrBadCredentials):
		return refusal{status: http.StatusBadRequest, code: "refused", what: msgKeyBadAdd, hint: msgKeyAgain}
	case errors.Is(err, store.ErrNotFound):
		return refusal{status: http.StatusNotFound, code: "not_found", what: msgKeyNotFound, hint: msgKeyNotFoundH}
	default:
		return refusal{status: http.StatusServiceUnavailable, code: "failed", what: msgFailed, hint: msgFailedH}
	}
}

// refuseKey answers a refused key step: in JSON for webauthn.js, else as
// the error page.
func (k *Console) refuseKey(w http.ResponseWriter, r *http.Request, a *identity.Actor, err error, asJSON bool) {
	f := keyRefusal(r, err)
	if f.code == "failed" {
		k.c.Logger.ErrorContext(r.Context(), "console security key", "path", r.URL.Path, "error", err)
	}
	l := lang(r)
	text, hint := f.text, f.tip
	if text == "" {
		text, hint = f.what.In(l), f.hint.In(l)
	}
	if asJSON {
		writeJSON(w, f.status, map[string]any{"error": map[string]string{"code": f.code, "message": text, "hint": hint}})
		return
	}
	p := page{Operator: a, Text: text, Hint: hint}
	if a != nil {
		p.CSRF = k.csrf(cookieValue(r, sessionCookie)) // the header's sign-out
	}
	k.render(w, r, f.status, "error", p)
}

// writeJSON writes v as a JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// keyWords are the security keys' words (the sign-in's key button, the
// keys page, the script's messages).
var keyWords = map[string]msg{
	"keys":              {"Clés de sécurité", "Security keys"},
	"keys.link":         {"Mes clés de sécurité", "My security keys"},
	"keys.help":         {"Une clé de sécurité (FIDO2, WebAuthn) remplace le code de l'application à la connexion. Ajouter ou retirer une clé demande une connexion de moins de quelques minutes.", "A security key (FIDO2, WebAuthn) replaces the app's code at sign-in. Adding or removing a key needs a sign-in of the last few minutes."},
	"keys.none":         {"Aucune clé enregistrée.", "No key registered."},
	"keys.name":         {"Nom", "Name"},
	"keys.created":      {"Enregistrée le", "Registered"},
	"keys.used":         {"Dernière utilisation", "Last used"},
	"keys.never":        {"jamais", "never"},
	"keys.remove":       {"Retirer", "Remove"},
	"keys.remove.label": {"Retirer la clé %s", "Remove the key %s"},
	"keys.add":          {"Ajouter une clé", "Add a key"},
	"keys.add.name":     {"Nom de la clé (pour la reconnaître)", "The key's name (to tell it apart)"},
	"keys.add.do":       {"Enregistrer ma clé", "Register my key"},
	"keys.add.help":     {"Votre navigateur vous demandera de toucher la clé.", "Your browser will ask you to touch the key."},
	"keys.retry":        {"Recommencez, et touchez la clé quand le navigateur le demande.", "Try again, and touch the key when the browser asks."},
	"keys.noscript":     {"L'enregistrement d'une clé demande JavaScript.", "Registering a key needs JavaScript."},
	"key.or":            {"Ou avec votre clé de sécurité", "Or with your security key"},
	"key.use":           {"Utiliser ma clé de sécurité", "Use my security key"},
	"key.noscript":      {"La connexion par clé demande JavaScript ; le code de l'application fonctionne sans.", "Signing in with a key needs JavaScript; the app's code works without it."},
	"key.busy":          {"Touchez votre clé de sécurité…", "Touch your security key…"},
	// What webauthn.js says when the browser, not the server, refuses.
	"key.cancelled":   {"La clé n'a pas répondu : l'opération a été annulée, a expiré, ou cette clé n'est pas enregistrée pour ce compte.", "The key did not answer: it was cancelled, it timed out, or this key is not registered for this account."},
	"key.registered":  {"Cette clé est déjà enregistrée pour votre compte.", "This key is already registered for your account."},
	"key.unsupported": {"Ce navigateur ne peut pas utiliser de clé de sécurité ici (il faut une page sécurisée, en HTTPS).", "This browser cannot use a security key here (it needs a secure page, over HTTPS)."},
	"key.failed":      {"La clé ou le réseau n'a pas répondu.", "The key or the network did not answer."},
	"key.retry":       {"Réessayez, ou utilisez le code de votre application.", "Try again, or use your app's code."},
}

// Refusals of the key steps.
var (
	msgKeyNoScript    = msg{"Aucune réponse de clé n'a été reçue : l'enregistrement d'une clé demande JavaScript.", "No answer from a key was received: registering a key needs JavaScript."}
	msgKeyNoScriptH   = msg{"Activez JavaScript pour cette page, puis recommencez.", "Turn JavaScript on for this page, then try again."}
	msgKeyNameH       = msg{"Donnez un nom à la clé (64 caractères au plus).", "Name the key (64 characters at most)."}
	msgKeysOff        = msg{"Les clés de sécurité ne sont pas disponibles sur ce serveur.", "Security keys are not available on this server."}
	msgKeyUseCode     = msg{"Utilisez le code de votre application d'authentification.", "Use the code from your authenticator app."}
	msgKeyNone        = msg{"Aucune clé de sécurité n'est enregistrée pour ce compte, ou votre rôle n'en accepte pas.", "No security key is registered for this account, or your role accepts none."}
	msgKeyRole        = msg{"Votre rôle n'accepte pas les clés de sécurité.", "Your role does not accept security keys."}
	msgKeyRoleH       = msg{"Demandez à l'administrateur quels facteurs votre rôle accepte.", "Ask the administrator which factors your role accepts."}
	msgKeyAttempts    = msg{"Trop d'essais pour cette connexion.", "Too many attempts for this sign-in."}
	msgKeyNoCeremony  = msg{"Aucune vérification de clé n'était en cours (ou elle a expiré).", "No key check was under way (or it expired)."}
	msgKeyAgain       = msg{"Recommencez depuis le bouton de la page.", "Start again from the page's button."}
	msgKeyStepUp      = msg{"Changer vos clés demande un second facteur prouvé il y a quelques minutes au plus.", "Changing your keys needs a second factor proved in the last few minutes."}
	msgKeyStepUpH     = msg{"Confirmez que c'est vous en haut de la page des clés (un nouveau code, ou une de vos clés), puis recommencez.", "Confirm it is you at the top of the keys page (a fresh code, or one of your keys), then try again."}
	msgKeyExpired     = msg{"Cette connexion a expiré ou n'existe pas.", "This sign-in has expired or does not exist."}
	msgKeyExpiredH    = msg{"Reprenez la connexion depuis le début (identifiant et mot de passe).", "Sign in again from the start (username and password)."}
	msgKeyRefused     = msg{"La réponse de la clé a été refusée (une autre clé, une réponse illisible), ou cette connexion a expiré.", "The key's answer was refused (another key, an unreadable answer), or this sign-in has expired."}
	msgKeyRefusedH    = msg{"Réessayez avec la clé enregistrée pour ce compte, ou utilisez le code de votre application ; après plusieurs échecs le compte est verrouillé.", "Try again with the key registered for this account, or use your app's code; after several failures the account is locked."}
	msgKeyBadAdd      = msg{"La réponse de la clé n'a pas pu être vérifiée ; aucune clé n'a été ajoutée.", "The key's answer could not be checked; no key was added."}
	msgKeyStepRefused = msg{"La réponse de la clé a été refusée (une autre clé, une réponse illisible) : rien n'a été confirmé.", "The key's answer was refused (another key, an unreadable answer): nothing was confirmed."}
	msgKeyNotFound    = msg{"Vous n'avez pas de clé de ce numéro (déjà retirée ?).", "You have no key of this id (removed already?)."}
	msgKeyNotFoundH   = msg{"Rechargez la page des clés.", "Reload the keys page."}
)
