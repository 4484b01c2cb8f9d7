package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/vault"
)

// requestExtension asks for a budget extension from the find page (POST
// /v1/extensions's code): how many more people, for how many hours, why.
// The find page answers, with the request's id.
func (k *Console) requestExtension(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.signedForm(w, r)
	if !ok {
		return
	}
	f, err := form(r, map[string]int{"subjects": 5, "hours": 3, "reason": maxReason})
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	subjects, err1 := strconv.Atoi(f["subjects"])
	hours, err2 := strconv.Atoi(f["hours"])
	switch {
	case err1 != nil || err2 != nil:
		err = badInput("want numbers: between 1 and %d people, between 1 and %d hours", vault.MaxExtensionSubjects, vault.MaxExtensionHours)
	case !printable(f["reason"]):
		err = badInput("the reason holds control characters")
	}
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	e, err := k.c.Vault.RequestExtension(r.Context(), a, subjects, hours, f["reason"])
	if err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	k.renderFind(w, r, a, tok, fmt.Sprintf(words["n.asked"].In(lang(r)), e.ID, e.Subjects, e.Hours))
}

// extensions is the supervisor's page: the requests of their unit
// waiting for approval (GET /v1/extensions's code), each with its
// approval form.
func (k *Console) extensions(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.operator(r)
	if !ok {
		k.fail(w, r, nil, auth.ErrUnauthenticated)
		return
	}
	k.renderExtensions(w, r, a, tok, "")
}

func (k *Console) renderExtensions(w http.ResponseWriter, r *http.Request, a identity.Actor, tok, notice string) {
	l, err := k.c.Vault.PendingExtensions(r.Context(), a)
	if err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	p, o := k.offPage(r, a, tok)
	o.Extensions, o.Notice = l, notice
	k.render(w, r, http.StatusOK, "supervisor", p)
}

// approveExtension approves a request with a fresh TOTP code (POST
// /v1/extensions/{id}/approve's code): the permission first, then the
// code, then the vault's rules (same unit, not one's own, two approvers
// over the size).
func (k *Console) approveExtension(w http.ResponseWriter, r *http.Request) {
	a, tok, ok := k.officerPost(w, r, policy.PermSupervise, "extension.approve")
	if !ok {
		return
	}
	f, err := form(r, map[string]int{"id": 64, "code": 6})
	if err == nil && (!strings.HasPrefix(f["id"], "ext_") || !printable(f["id"]) || len(f["code"]) != 6 || strings.Trim(f["code"], "0123456789") != "") {
		err = badInput("want an extension id (ext_…) and a 6-digit code")
	}
	if err != nil {
		k.fail(w, r, &a, err)
		return
	}
	if err := k.c.Auth.StepUp(r.Context(), a.ID, f["code"], k.c.Origin(r)); err != nil {
		k.fail(w, r, &a, err)
		return
	}
	e, err := k.c.Vault.ApproveExtension(r.Context(), a, f["id"])
	if err != nil {
		k.failOff(w, r, &a, err)
		return
	}
	notice := fmt.Sprintf(words["n.approved"].In(lang(r)), e.ID, e.Subjects, e.Hours)
	if e.ApprovedBy == "" {
		notice = fmt.Sprintf(words["n.first"].In(lang(r)), e.ID)
	}
	k.renderExtensions(w, r, a, tok, notice)
}
