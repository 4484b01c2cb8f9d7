package me_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/store"
)

// signIn opens a session of person i with a code.
func (e *env) signIn(t testing.TB, i int) me.Person {
	t.Helper()
	tok, err := e.svc.RequestCode(ctx, e.people[i].Fields["email_pro"], "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := e.lastCode(t)
	ses, err := e.svc.VerifyCode(ctx, tok, code, "192.0.2.7", "ua")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Authenticate(ctx, ses.Token, "192.0.2.7", "ua")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHistory: the person's history holds every entry about them, in
// words, verifiable with the log's key: reads by staff (role and unit, the
// operator named only when the purpose says so), their own sign-in, the
// code asked for their contact; entries of a deferred purpose are
// withheld until their date, in their place.
func TestHistory(t *testing.T) {
	e := newEnv(t, me.Settings{})
	pol := e.svc.Policy
	pol.Purposes["directory"].NoticeNamesOperator = true
	pol.Purposes["case-handling"].Notice, pol.Purposes["case-handling"].DeferredFor = policy.NoticeDeferred, 30*24*time.Hour
	signer, err := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	in := &auditlog.Integrator{Store: e.store, Signer: signer}
	p := e.signIn(t, 0)
	if _, err := e.svc.History(ctx, p); !errors.Is(err, me.ErrNoHistoryYet) {
		t.Fatalf("History before any checkpoint: %v, want ErrNoHistoryYet", err)
	}
	err = e.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutOperator(ctx, &identity.Operator{ID: "op_cw", Username: "cw", PasswordHash: "!", Role: "caseworker", Unit: e.people[0].Unit, Created: e.clock.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	cw := identity.Actor{ID: "op_cw", Role: "caseworker", Unit: e.people[0].Unit, Origin: "10.0.0.9"}
	for _, purpose := range []string{"directory", "case-handling", "directory"} {
		if _, err := e.vault.Read(ctx, cw, e.ids[0], purpose, "ticket 12"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := in.Step(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := e.svc.History(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	// Saved and read back, as the person does.
	b, _ := json.Marshal(h)
	if h, err = auditlog.ParseHistory(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	rep, err := auditlog.VerifyHistory(h, signer.VerifierKey(), nil)
	if err != nil || rep.Withheld != 1 {
		t.Fatalf("VerifyHistory = %+v, %v; want verified, one entry withheld", rep, err)
	}
	// Newest first: 3 reads, the first history read (refused: no
	// checkpoint yet, but audited first), the sign-in, the code request.
	// (An import's entry names no subject.)
	type row struct {
		action, purpose, by, role, operator, origin string
		withheld                                    bool
	}
	var got []row
	for _, x := range h.Entries {
		if x.Withheld {
			got = append(got, row{withheld: true})
			continue
		}
		s := x.Summary
		got = append(got, row{s.Action, s.Purpose, s.By, s.Role, s.Operator, s.Origin, false})
	}
	want := []row{
		{"read", "directory", auditlog.ByStaff, "caseworker", "op_cw", "", false},
		{withheld: true},
		{"read", "directory", auditlog.ByStaff, "caseworker", "op_cw", "", false},
		{me.ActionHistory, "", auditlog.ByYou, "", "", "192.0.2.7", false},
		{me.ActionSignin, "", auditlog.ByYou, "", "", "192.0.2.7", false},
		{me.ActionCode, "", auditlog.ByCoffre, "", "", "192.0.2.7", false},
	}
	if len(got) != len(want) {
		t.Fatalf("history = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if s := h.Entries[0].Summary; s.Unit != e.people[0].Unit || len(s.Fields) == 0 || s.Decision != "allow" {
		t.Errorf("the newest read's summary = %+v, want the unit, the fields returned, allowed", s)
	}

	// 30 days on, the deferred read is shown.
	e.clock.Advance(30*24*time.Hour + time.Minute)
	p = e.signIn(t, 0)
	if _, err := in.Step(ctx); err != nil {
		t.Fatal(err)
	}
	h, err = e.svc.History(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	rep, err = auditlog.VerifyHistory(h, signer.VerifierKey(), nil)
	if err != nil || rep.Withheld != 0 {
		t.Fatalf("VerifyHistory after the date = %+v, %v; want nothing withheld", rep, err)
	}
	found := false
	for _, x := range h.Entries {
		if x.Summary != nil && x.Summary.Purpose == "case-handling" {
			found = x.Summary.Operator == "" && x.Summary.Role == "caseworker"
		}
	}
	if !found {
		t.Error("the deferred read is not shown after its date (by role, not by operator)")
	}
}
