package console

import (
	"net/http"
	"strings"
)

// msg is a message in each language.
type msg struct{ fr, en string }

func (m msg) In(lang string) string {
	if lang == "en" {
		return m.en
	}
	return m.fr
}

// lang is the request's language: ?lang=, then the cookie, then
// Accept-Language, then French.
func lang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "fr" || l == "en" {
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == "fr" || c.Value == "en") {
		return c.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if base == "fr" || base == "en" {
			return base
		}
	}
	return "fr"
}

// words are the pages' words, by key (the templates' {{t "key"}}): each
// part of the console keeps its own, beside its handlers.
var words = merged(consoleWords, portalWords, revealWords, keyWords, stepUpWords, officerWords)

// merged returns the union of maps, which must not share a key.
func merged(maps ...map[string]msg) map[string]msg {
	out := map[string]msg{}
	for _, m := range maps {
		for k, v := range m {
			if _, dup := out[k]; dup {
				panic("console: the word " + k + " is defined twice")
			}
			out[k] = v
		}
	}
	return out
}

// consoleWords are the operators' pages' words, and the layout's.
var consoleWords = map[string]msg{
	"title":             {"Coffre — console", "Coffre — console"},
	"skip":              {"Aller au contenu", "Skip to content"},
	"signin":            {"Connexion", "Sign in"},
	"username":          {"Identifiant", "Username"},
	"password":          {"Mot de passe", "Password"},
	"continue":          {"Continuer", "Continue"},
	"totp":              {"Code de votre application d'authentification", "Code from your authenticator app"},
	"totp.help":         {"Six chiffres ; chaque code ne sert qu'une fois.", "Six digits; each code works once."},
	"find":              {"Trouver une personne", "Find one person"},
	"find.help":         {"Une personne à la fois, par un identifiant exact. Chaque consultation est journalisée et la personne en est informée.", "One person at a time, by an exact identifier. Every access is audited and the person is told."},
	"purpose":           {"Finalité", "Purpose"},
	"field":             {"Identifiant de la personne", "The person's identifier"},
	"value":             {"Valeur exacte", "Exact value"},
	"reason":            {"Motif (par exemple le numéro du dossier)", "Reason (for example the case number)"},
	"open":              {"Ouvrir la fiche", "Open the record"},
	"signout":           {"Se déconnecter", "Sign out"},
	"signedout":         {"Vous êtes déconnecté.", "You are signed out."},
	"record":            {"Fiche", "Record"},
	"record.help":       {"Vue de la finalité choisie ; les champs masqués le restent. Cette consultation est journalisée (entrée n°%d) et la personne en est informée.", "The chosen purpose's view; masked fields stay masked. This access is audited (entry %d) and the person is told."},
	"masked":            {"masqué", "masked"},
	"unit":              {"Unité", "Unit"},
	"another":           {"Trouver une autre personne", "Find another person"},
	"error":             {"Refusé", "Refused"},
	"what":              {"Que faire :", "What to do:"},
	"back":              {"Retour", "Back"},
	"signed.in.as":      {"Connecté :", "Signed in:"},
	"alerts":            {"Alertes de la protection", "The guard's alerts"},
	"alerts.help":       {"Les dernières alertes, la plus récente d'abord ; les preuves sont les entrées du journal d'audit.", "The latest alerts, newest first; the evidence is the audit log's entries."},
	"alerts.none":       {"Aucune alerte.", "No alert."},
	"when":              {"Quand", "When"},
	"operator":          {"Opérateur", "Operator"},
	"code":              {"Motif", "Code"},
	"severity":          {"Gravité", "Severity"},
	"action":            {"Action", "Action"},
	"evidence":          {"Preuves (entrées d'audit)", "Evidence (audit entries)"},
	"unlock":            {"Déverrouiller un compte", "Unlock an account"},
	"unlock.reason":     {"Motif du déverrouillage (ce que l'examen a établi)", "Why it is unlocked (what the review found)"},
	"unlock.do":         {"Déverrouiller", "Unlock"},
	"budgets":           {"Vos budgets de consultation", "Your reading budgets"},
	"budgets.help":      {"Au-delà, la protection ralentit puis verrouille le compte ; une extension se demande à votre responsable.", "Past them the guard slows, then locks the account; ask your supervisor for an extension."},
	"b.subjects":        {"personnes consultées", "people read"},
	"b.lookups":         {"recherches", "lookups"},
	"b.misses":          {"recherches infructueuses", "lookups that found nobody"},
	"b.out_of_caseload": {"personnes hors de vos dossiers", "people outside your caseload"},
	"b.out_of_unit":     {"personnes d'une autre unité", "people of another unit"},
	"w.hour":            {"cette heure", "this hour"},
	"w.day":             {"aujourd'hui", "today"},
	"lang.other":        {"English", "Français"},
	"lang.other.id":     {"en", "fr"},
}

// Messages of the console's own refusals.
var (
	msgNoPage     = msg{"Cette page n'existe pas.", "There is no such page."}
	msgSignIn     = msg{"Votre session a expiré ou vous n'êtes pas connecté.", "Your session has ended, or you are not signed in."}
	msgSignInHint = msg{"Connectez-vous à nouveau.", "Sign in again."}
	msgCSRF       = msg{"Ce formulaire n'est plus valable (il vient d'une autre session ou d'une page trop ancienne).", "This form is no longer valid (it comes from another session or an old page)."}
	msgCSRFHint   = msg{"Rechargez la page et recommencez.", "Reload the page and try again."}
	msgBadForm    = msg{"Le formulaire est incomplet ou trop long.", "The form is incomplete or too long."}
	msgBadFormH   = msg{"Remplissez chaque champ ; un motif est demandé pour chaque consultation.", "Fill in every field; every access needs a reason."}
	msgBadLogin   = msg{"Identifiant, mot de passe ou code incorrect.", "Wrong username, password or code."}
	msgBadLoginH  = msg{"Vérifiez-les et recommencez ; après plusieurs échecs le compte est verrouillé.", "Check them and try again; after several failures the account is locked."}
	msgNotFound   = msg{"Personne ne correspond à cet identifiant exact.", "Nobody has this exact identifier."}
	msgNotFoundH  = msg{"Vérifiez la valeur. Les recherches infructueuses sont comptées : trop nombreuses, elles verrouillent le compte.", "Check the value. Misses are counted: too many lock the account."}
	msgLimited    = msg{"Vous consultez plus vite ou plus que ce que la mission demande : attendez avant la prochaine consultation.", "You are reading faster or more than the job needs: wait before the next access."}
	msgLimitedH   = msg{"Si c'est justifié, demandez une extension à votre responsable.", "If it is justified, ask your supervisor for an extension."}
	msgLocked     = msg{"Votre compte est verrouillé par la protection contre les consultations massives.", "Your account is locked by the protection against bulk reading."}
	msgLockedH    = msg{"Contactez l'officier de sécurité : il examinera l'alerte et pourra le déverrouiller.", "Contact the security officer: they will review the alert and may unlock it."}
	msgForbidden  = msg{"Votre rôle ne permet pas cet accès.", "Your role does not allow this access."}
	msgForbiddenH = msg{"Choisissez une finalité de votre rôle, ou demandez-la à votre responsable.", "Choose a purpose of your role, or ask your supervisor for it."}
	msgConsent    = msg{"Cette finalité demande l'accord de la personne : elle vient de recevoir votre demande. Rien n'est montré avant son accord.", "This purpose needs the person's consent: they have just been sent your request. Nothing is shown before they agree."}
	msgConsentH   = msg{"Demande %s, valable jusqu'au %s : refaites la même recherche une fois la demande acceptée.", "Request %s, open until %s: make the same search again once it is approved."}
	msgFailed     = msg{"Le service n'a pas pu répondre ; rien n'a été montré.", "The service could not answer; nothing was shown."}
	msgFailedH    = msg{"Réessayez dans un instant.", "Try again in a moment."}
)
