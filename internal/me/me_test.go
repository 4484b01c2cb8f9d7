package me_test

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/subjectauth"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// clock is a test clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a sign-in service over a SQLite store holding a few people of
// the demo schema.
type env struct {
	svc    *me.Service
	store  store.Store
	keys   *envelope.Keyring
	vault  *vault.Vault
	clock  *clock
	people []synth.Person
	ids    []string
}

var ctx = context.Background()

func newEnv(t testing.TB, set me.Settings) *env {
	t.Helper()
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "coffre.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	v := vault.New(vault.Config{Store: st, Keys: keys, Policy: cfg.Policy, Now: clk.Now})
	e := &env{store: st, keys: keys, vault: v, clock: clk}
	var rows []vault.ImportRow
	for i := range 3 {
		p := synth.Make(4, i)
		e.people = append(e.people, p)
		rows = append(rows, vault.ImportRow{Num: i + 1, Unit: p.Unit, Fields: p.Fields})
	}
	if e.ids, _, err = v.Import(ctx, identity.Actor{ID: "op_hr", Role: "hr-officer"}, rows); err != nil {
		t.Fatal(err)
	}
	e.svc = &me.Service{Store: st, Keys: keys, Policy: cfg.Policy, Settings: set, Now: clk.Now}
	return e
}

// messages returns the code messages queued, oldest first.
func (e *env) messages(t testing.TB) []outbox.Message {
	t.Helper()
	var out []outbox.Message
	err := e.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		ms, err := tx.Messages(ctx, 0, 1000)
		for _, m := range ms {
			if m.Kind == me.CodeKind {
				out = append(out, m)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lastCode opens the newest code message, as the person reads it.
func (e *env) lastCode(t testing.TB) (string, *me.CodeMessage) {
	t.Helper()
	ms := e.messages(t)
	if len(ms) == 0 {
		t.Fatal("no code message queued")
	}
	code, p, err := me.OpenCode(e.keys, ms[len(ms)-1])
	if err != nil {
		t.Fatal(err)
	}
	return code, p
}

// entries returns the audit entries from seq on.
func (e *env) entries(t *testing.T, from int64) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	err := e.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = tx.AuditEntries(ctx, from, 1<<40, 1000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) lastSeq(t *testing.T) int64 {
	t.Helper()
	var n int64
	e.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.LastAuditSeq(ctx)
		return err
	})
	return n
}

func TestParseContact(t *testing.T) {
	for _, tc := range []struct {
		in, via, norm string
	}{
		{"Emilie.Muller90@Hotmail.fr", me.ViaEmail, "emilie.muller90@hotmail.fr"},
		{"  a@example.org ", me.ViaEmail, "a@example.org"},
		{"07 86 51 60 30", me.ViaSMS, "0786516030"},
		{"+33 7 86 51 60 30", me.ViaSMS, "0786516030"},
		{"0033786516030", me.ViaSMS, "0786516030"},
		{"", "", ""},
		{"not an address", "", ""},
		{"a@b", "", ""},
		{"@example.org", "", ""},
		{"12", "", ""},
		{strings.Repeat("a", 250) + "@example.org", "", ""},
		{"a@example.org\x00", "", ""},
	} {
		via, norm, err := me.ParseContact(tc.in)
		if tc.via == "" {
			if !errors.Is(err, me.ErrBadContact) {
				t.Errorf("ParseContact(%q) = %q, %q, %v; want ErrBadContact", tc.in, via, norm, err)
			}
			continue
		}
		if err != nil || via != tc.via || norm != tc.norm {
			t.Errorf("ParseContact(%q) = %q, %q, %v; want %q, %q", tc.in, via, norm, err, tc.via, tc.norm)
		}
	}
}

func FuzzParseContact(f *testing.F) {
	for _, s := range []string{"a@example.org", "+33612345678", "07 86 51 60 30", "", "@", "a@b@c", "\xff@example.org"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		via, norm, err := me.ParseContact(s)
		if err != nil {
			// The one fixed error: it never quotes what was typed.
			if err != me.ErrBadContact || via != "" || norm != "" {
				t.Fatalf("ParseContact(%q) = %q, %q, %v", s, via, norm, err)
			}
			return
		}
		if via != me.ViaEmail && via != me.ViaSMS || norm == "" {
			t.Fatalf("ParseContact(%q) = %q, %q", s, via, norm)
		}
		// Normalising is idempotent: the normalised form finds the same
		// blind index entry.
		if v2, n2, err := me.ParseContact(norm); err == nil && (v2 != via || n2 != norm) {
			t.Fatalf("ParseContact(%q) = %q, %q; of its normal form %q: %q, %q", s, via, norm, norm, v2, n2)
		}
	})
}

// TestCodeSignIn: a code asked with a contact on a record is queued to
// that person, sealed, with the channel named; the code opens a session
// once; every step is in the person's audit history, under ids only.
func TestCodeSignIn(t *testing.T) {
	for _, tc := range []struct {
		name, field, via string
	}{
		{"personal email", "email_personal", me.ViaEmail},
		{"professional email", "email_pro", me.ViaEmail},
		{"phone", "phone", me.ViaSMS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, me.Settings{})
			from := e.lastSeq(t) + 1
			contact := e.people[1].Fields[tc.field]
			tok, err := e.svc.RequestCode(ctx, contact, "192.0.2.7")
			if err != nil || !strings.HasPrefix(tok, me.LoginPrefix) {
				t.Fatalf("RequestCode = %q, %v", tok, err)
			}
			ms := e.messages(t)
			if len(ms) != 1 {
				t.Fatalf("%d code messages queued, want 1", len(ms))
			}
			m := ms[0]
			if m.Channel != outbox.ChannelPerson || m.Recipient != e.ids[1] || m.Status != outbox.StatusPending {
				t.Errorf("message = %+v, want pending on the person channel to %s", m, e.ids[1])
			}
			code, p, err := me.OpenCode(e.keys, m)
			if err != nil || len(code) != 6 || p.Via != tc.via || p.Field != tc.field || p.Minutes != 10 {
				t.Fatalf("OpenCode = %q, %+v, %v; want 6 digits by %s from %s, 10 minutes", code, p, err, tc.via, tc.field)
			}
			if strings.Contains(string(m.Payload), code) || strings.Contains(string(m.Payload), contact) {
				t.Errorf("the payload holds the code or the contact in clear: %s", m.Payload)
			}
			tampered := m
			tampered.Recipient = e.ids[0]
			if _, _, err := me.OpenCode(e.keys, tampered); err == nil {
				t.Error("OpenCode opened a code moved to another recipient")
			}
			ses, err := e.svc.VerifyCode(ctx, tok, code, "192.0.2.7", "ua")
			if err != nil || ses.Subject != e.ids[1] || !strings.HasPrefix(ses.Token, me.SessionPrefix) {
				t.Fatalf("VerifyCode = %+v, %v", ses, err)
			}
			if _, err := e.svc.VerifyCode(ctx, tok, code, "192.0.2.7", "ua"); !errors.Is(err, me.ErrUnknownLogin) {
				t.Errorf("a code used twice: %v, want ErrUnknownLogin", err)
			}
			p2, err := e.svc.Authenticate(ctx, ses.Token, "198.51.100.1", "ua")
			if err != nil || p2.Subject != e.ids[1] || p2.Method != subjectauth.MethodCode {
				t.Errorf("Authenticate = %+v, %v", p2, err)
			}
			got := e.entries(t, from)
			want := []struct{ actor, action, decision string }{
				{me.ActorSignin, me.ActionCode, "allow"},
				{me.Actor(e.ids[1]), me.ActionSignin, "allow"},
				{me.ActorSignin, me.ActionSignin, "deny:used"},
			}
			if len(got) != len(want) {
				t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
			}
			for i, w := range want {
				g := got[i]
				if g.Actor != w.actor || g.Action != w.action || g.Decision != w.decision || g.Subject != e.ids[1] || g.Origin != "192.0.2.7" {
					t.Errorf("entry %d = %+v, want %s %s %s about %s", i, g, w.actor, w.action, w.decision, e.ids[1])
				}
				if leaf := string(audit.LeafData(&g)); strings.Contains(leaf, code) || strings.Contains(leaf, contact) {
					t.Errorf("entry %d holds the code or the contact", i)
				}
			}
			if f := got[0].Fields; len(f) != 1 || f[0] != tc.field {
				t.Errorf("the request's entry names fields %v, want [%s]", f, tc.field)
			}
		})
	}
}

// TestNoOracle: a contact on no record gets a login token like one on a
// record, nothing is sent, no code opens it, and its entries name a
// pseudonym, never the contact.
func TestNoOracle(t *testing.T) {
	e := newEnv(t, me.Settings{})
	from := e.lastSeq(t) + 1
	tok, err := e.svc.RequestCode(ctx, "nobody@example.org", "192.0.2.7")
	if err != nil || !strings.HasPrefix(tok, me.LoginPrefix) || len(tok) != len(me.LoginPrefix)+43 {
		t.Fatalf("RequestCode of an unknown contact = %q, %v; want a login token", tok, err)
	}
	if ms := e.messages(t); len(ms) != 0 {
		t.Fatalf("%d messages queued for nobody", len(ms))
	}
	var cerr *me.CodeError
	if _, err := e.svc.VerifyCode(ctx, tok, "123456", "192.0.2.7", "ua"); !errors.As(err, &cerr) || cerr.Left != 4 {
		t.Fatalf("a code against an unknown contact's token: %v, want a wrong code, 4 left", err)
	}
	got := e.entries(t, from)
	if len(got) != 2 || got[0].Subject != "" || !strings.HasPrefix(got[0].Actor, "unknown:") || got[0].Decision != "deny:not_found" ||
		got[1].Actor != got[0].Actor || got[1].Decision != "deny:bad_code" {
		t.Fatalf("entries = %+v; want a request and a wrong code under one pseudonym, no subject", got)
	}
	if strings.Contains(got[0].Actor, "nobody") {
		t.Errorf("the pseudonym %q shows the contact", got[0].Actor)
	}
	// The same contact, however typed, is the same pseudonym.
	if _, err := e.svc.RequestCode(ctx, " NOBODY@example.org", "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	if g := e.entries(t, from+2); len(g) != 1 || g[0].Actor != got[0].Actor {
		t.Errorf("the same contact typed otherwise: %+v, want actor %s", g, got[0].Actor)
	}
}

// TestCodeRefusals: malformed input, unknown and expired tokens, wrong
// codes up to the lock, the lock itself and its end.
func TestCodeRefusals(t *testing.T) {
	e := newEnv(t, me.Settings{MaxAttempts: 3, LockFor: 15 * time.Minute})
	contact := e.people[0].Fields["email_pro"]
	if _, err := e.svc.RequestCode(ctx, "not a contact", "192.0.2.7"); !errors.Is(err, me.ErrBadContact) {
		t.Errorf("malformed contact: %v, want ErrBadContact", err)
	}
	tok, err := e.svc.RequestCode(ctx, contact, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := e.lastCode(t)
	wrong := "000000"
	if wrong == code {
		wrong = "000001"
	}
	for _, tc := range []struct {
		name, token, code string
		want              error
	}{
		{"unknown token", me.LoginPrefix + strings.Repeat("A", 43), code, me.ErrUnknownLogin},
		{"malformed token", "cfs_abc", code, me.ErrUnknownLogin},
		{"short code", tok, "12345", access.ErrInvalid},
		{"letters", tok, "12345a", access.ErrInvalid},
	} {
		if _, err := e.svc.VerifyCode(ctx, tc.token, tc.code, "192.0.2.7", "ua"); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	var cerr *me.CodeError
	for left := 2; left >= 1; left-- {
		if _, err := e.svc.VerifyCode(ctx, tok, wrong, "192.0.2.7", "ua"); !errors.As(err, &cerr) || cerr.Left != left {
			t.Fatalf("wrong code: %v, want %d left", err, left)
		}
	}
	var lerr *me.LockedError
	if _, err := e.svc.VerifyCode(ctx, tok, wrong, "192.0.2.7", "ua"); !errors.As(err, &lerr) || lerr.RetryAfter != 15*time.Minute {
		t.Fatalf("third wrong code: %v, want the contact locked for 15m", err)
	}
	// Locked: the right code no longer works, nor does a new request.
	if _, err := e.svc.VerifyCode(ctx, tok, code, "192.0.2.7", "ua"); !errors.As(err, &lerr) {
		t.Errorf("the right code on a locked contact: %v, want locked", err)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.svc.RequestCode(ctx, contact, "192.0.2.8"); !errors.As(err, &lerr) || lerr.RetryAfter != 14*time.Minute {
		t.Errorf("a request for a locked contact: %v, want locked for 14m more", err)
	}
	// A locked contact on no record is refused alike.
	tok2, _ := e.svc.RequestCode(ctx, "nobody@example.org", "192.0.2.7")
	for range 3 {
		e.svc.VerifyCode(ctx, tok2, "111111", "192.0.2.7", "ua")
	}
	if _, err := e.svc.RequestCode(ctx, "nobody@example.org", "192.0.2.7"); !errors.As(err, &lerr) {
		t.Errorf("a request for a locked unknown contact: %v, want locked", err)
	}
	// After the lock, a new code works; the old token's attempts are
	// spent.
	e.clock.Advance(15 * time.Minute)
	if _, err := e.svc.VerifyCode(ctx, tok, code, "192.0.2.7", "ua"); !errors.Is(err, me.ErrCodeExpired) {
		t.Errorf("the old code after the lock: %v, want expired", err)
	}
	tok3, err := e.svc.RequestCode(ctx, contact, "192.0.2.7")
	if err != nil {
		t.Fatalf("a request after the lock: %v", err)
	}
	code3, _ := e.lastCode(t)
	e.clock.Advance(9 * time.Minute)
	if _, err := e.svc.VerifyCode(ctx, tok3, code3, "192.0.2.7", "ua"); err != nil {
		t.Errorf("a fresh code within its 10 minutes: %v", err)
	}
	tok4, _ := e.svc.RequestCode(ctx, contact, "192.0.2.7")
	code4, _ := e.lastCode(t)
	e.clock.Advance(10 * time.Minute)
	if _, err := e.svc.VerifyCode(ctx, tok4, code4, "192.0.2.7", "ua"); !errors.Is(err, me.ErrCodeExpired) {
		t.Errorf("a code after its 10 minutes: %v, want ErrCodeExpired", err)
	}
}

// TestCodeRates: per contact and per address, both counted in the store
// (shared by every node), each refusal audited once a window.
func TestCodeRates(t *testing.T) {
	e := newEnv(t, me.Settings{PerContact: 3, PerOrigin: 5})
	contact := e.people[2].Fields["phone"]
	from := e.lastSeq(t) + 1
	var lerr *me.LimitError
	for i := range 5 {
		_, err := e.svc.RequestCode(ctx, contact, "192.0.2.9")
		if i < 3 && err != nil || i >= 3 && (!errors.As(err, &lerr) || lerr.Origin) {
			t.Fatalf("request %d for one contact: %v", i+1, err)
		}
	}
	if n := len(e.messages(t)); n != 3 {
		t.Errorf("%d codes sent to one contact, want 3", n)
	}
	denied := 0
	for _, en := range e.entries(t, from) {
		if en.Decision == "deny:rate_limited" {
			denied++
		}
	}
	if denied != 1 {
		t.Errorf("%d refusals audited for one contact, want 1 (the first of the window)", denied)
	}
	// Another address for the same contact: still limited (the store
	// counts for every node and address).
	if _, err := e.svc.RequestCode(ctx, contact, "203.0.113.1"); !errors.As(err, &lerr) || lerr.Origin {
		t.Errorf("the contact from another address: %v, want the contact's limit", err)
	}
	// The address has made 5 requests: the next one, for any contact, is
	// refused before any store work.
	before := e.lastSeq(t)
	for i := range 3 {
		if _, err := e.svc.RequestCode(ctx, "x"+string(rune('a'+i))+"@example.org", "192.0.2.9"); !errors.As(err, &lerr) || !lerr.Origin {
			t.Fatalf("request %d from a busy address: %v, want the address's limit", i, err)
		}
	}
	if n := e.lastSeq(t) - before; n != 1 {
		t.Errorf("%d entries for 3 refusals of an address, want 1", n)
	}
	// Another node, or this one restarted: the same count, and the
	// window's refusal audited already.
	node := &me.Service{Store: e.store, Keys: e.keys, Policy: e.svc.Policy, Settings: e.svc.Settings, Now: e.clock.Now}
	before = e.lastSeq(t)
	if _, err := node.RequestCode(ctx, "xz@example.org", "192.0.2.9"); !errors.As(err, &lerr) || !lerr.Origin || lerr.RetryAfter <= 0 || lerr.RetryAfter > time.Hour {
		t.Errorf("the busy address on another node: %v, want the address's limit", err)
	}
	if n := e.lastSeq(t) - before; n != 0 {
		t.Errorf("%d entries for another node's refusal in the same window, want 0", n)
	}
	// IPv6: one /64 is one address.
	for i := range 6 {
		_, err := e.svc.RequestCode(ctx, "y"+string(rune('a'+i))+"@example.org", "2001:db8:1:2::"+string(rune('a'+i)))
		if i == 5 && (!errors.As(err, &lerr) || !lerr.Origin) {
			t.Errorf("the 6th request from one /64: %v, want the address's limit", err)
		}
	}
	e.clock.Advance(time.Hour)
	if _, err := e.svc.RequestCode(ctx, contact, "192.0.2.9"); err != nil {
		t.Errorf("an hour later: %v", err)
	}
}

// TestSessions: expiry, the user agent, logout, and a person erased.
func TestSessions(t *testing.T) {
	e := newEnv(t, me.Settings{Idle: 10 * time.Minute, Max: 30 * time.Minute})
	open := func(i int) string {
		tok, err := e.svc.RequestCode(ctx, e.people[i].Fields["email_pro"], "192.0.2.7")
		if err != nil {
			t.Fatal(err)
		}
		code, _ := e.lastCode(t)
		ses, err := e.svc.VerifyCode(ctx, tok, code, "192.0.2.7", "ua")
		if err != nil {
			t.Fatal(err)
		}
		return ses.Token
	}
	tok := open(0)
	for _, tc := range []struct {
		name, token, ua string
		ok              bool
	}{
		{"own", tok, "ua", true},
		{"another user agent", tok, "other", false},
		{"an operator's token", "cfs_" + tok[4:], "ua", false},
		{"garbage", "cfm_x", "ua", false},
		{"a partner's API key", "cfp_" + tok[4:], "ua", false},
	} {
		_, err := e.svc.Authenticate(ctx, tc.token, "192.0.2.7", tc.ua)
		if tc.ok != (err == nil) || err != nil && !errors.Is(err, me.ErrUnauthenticated) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	for range 3 { // 27 minutes, a request every 9
		e.clock.Advance(9 * time.Minute)
		if _, err := e.svc.Authenticate(ctx, tok, "192.0.2.7", "ua"); err != nil {
			t.Fatalf("within the idle time: %v", err)
		}
	}
	e.clock.Advance(4 * time.Minute)
	if _, err := e.svc.Authenticate(ctx, tok, "192.0.2.7", "ua"); !errors.Is(err, me.ErrUnauthenticated) {
		t.Errorf("after the absolute expiry: %v", err)
	}
	tok = open(0)
	e.clock.Advance(11 * time.Minute)
	if _, err := e.svc.Authenticate(ctx, tok, "192.0.2.7", "ua"); !errors.Is(err, me.ErrUnauthenticated) {
		t.Errorf("after the idle time: %v", err)
	}
	tok = open(0)
	p, _ := e.svc.Authenticate(ctx, tok, "192.0.2.7", "ua")
	if err := e.svc.Logout(ctx, p, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, tok, "192.0.2.7", "ua"); !errors.Is(err, me.ErrUnauthenticated) {
		t.Errorf("after logout: %v", err)
	}
	tok = open(1)
	if err := e.vault.Erase(ctx, identity.Actor{ID: "op_hr", Role: "hr-officer", Origin: "127.0.0.1"}, e.ids[1], "left"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, tok, "192.0.2.7", "ua"); !errors.Is(err, me.ErrUnauthenticated) {
		t.Errorf("the session of an erased person: %v", err)
	}
}

// TestCodeOff: with codes turned off, both steps answer ErrOff.
func TestCodeOff(t *testing.T) {
	e := newEnv(t, me.Settings{NoCode: true})
	if _, err := e.svc.RequestCode(ctx, "a@example.org", "192.0.2.7"); !errors.Is(err, me.ErrOff) {
		t.Errorf("RequestCode: %v, want ErrOff", err)
	}
	if _, err := e.svc.VerifyCode(ctx, me.LoginPrefix+strings.Repeat("A", 43), "123456", "192.0.2.7", "ua"); !errors.Is(err, me.ErrOff) {
		t.Errorf("VerifyCode: %v, want ErrOff", err)
	}
}

// TestAttemptsUsed: once a login token's attempts are spent and the lock
// they caused is over, its code is refused for good: a new code is
// needed.
func TestAttemptsUsed(t *testing.T) {
	e := newEnv(t, me.Settings{MaxAttempts: 2, LockFor: time.Minute})
	tok, err := e.svc.RequestCode(ctx, e.people[0].Fields["email_pro"], "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := e.lastCode(t)
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	var lerr *me.LockedError
	e.svc.VerifyCode(ctx, tok, wrong, "192.0.2.7", "ua")
	if _, err := e.svc.VerifyCode(ctx, tok, wrong, "192.0.2.7", "ua"); !errors.As(err, &lerr) {
		t.Fatalf("the second wrong code: %v, want locked", err)
	}
	e.clock.Advance(2 * time.Minute)
	if _, err := e.svc.VerifyCode(ctx, tok, code, "192.0.2.7", "ua"); !errors.Is(err, me.ErrAttemptsUsed) {
		t.Errorf("the right code after the lock, on a spent token: %v, want ErrAttemptsUsed", err)
	}
	tok, _ = e.svc.RequestCode(ctx, e.people[0].Fields["email_pro"], "192.0.2.7")
	code, _ = e.lastCode(t)
	if _, err := e.svc.VerifyCode(ctx, tok, code, "192.0.2.7", "ua"); err != nil {
		t.Errorf("a new code after the lock: %v", err)
	}
}
