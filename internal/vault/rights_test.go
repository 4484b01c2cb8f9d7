package vault_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/subject"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// rightsEnv is a vault with the demo's policy, guard and rights, a
// settable clock (a Monday morning in Paris), and the operators of the
// tests: a dpo (the handler), a caseworker and an HR officer of the
// people's unit, a caseworker of another unit, and a partner.
type rightsEnv struct {
	t      *testing.T
	path   string
	fs     *failingStore
	store  *sqlite.Store
	keys   *envelope.Keyring
	v      *vault.Vault
	clock  *clock
	unit   string
	dpo    identity.Actor
	cw     identity.Actor // the people's unit
	other  identity.Actor // another unit
	hr     identity.Actor
	pt     identity.Actor // a partner's client
	n      int
	people map[string]synth.Person
}

const otherUnit = "ac-other"

func newRightsEnv(t *testing.T) *rightsEnv {
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
	path := filepath.Join(t.TempDir(), "r.db")
	st, err := sqlitetemplate.Open(ctx, path, sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &rightsEnv{t: t, path: path, store: st, keys: keys, fs: &failingStore{Store: st}, clock: &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}, people: map[string]synth.Person{}}
	e.unit = synth.Make(21, 1).Unit
	e.dpo = identity.Actor{ID: "op_dpo", Role: "dpo", Unit: "dpo-office", Origin: "10.0.0.9"}
	e.cw = identity.Actor{ID: "op_cw1", Role: "caseworker", Unit: e.unit, Origin: "10.0.0.5"}
	e.other = identity.Actor{ID: "op_cw2", Role: "caseworker", Unit: otherUnit, Origin: "10.0.0.6"}
	e.hr = identity.Actor{ID: "op_hr1", Role: "hr-officer", Unit: e.unit, Origin: "10.0.0.7"}
	e.pt = identity.Actor{ID: "op_partner", Role: "partner", Unit: e.unit, Origin: "10.0.0.8", Sector: "employment"}
	r := cfg.Rights
	e.v = vault.New(vault.Config{Store: e.fs, Keys: keys, Policy: cfg.Policy, Now: e.clock.Now,
		Guard:     &vault.Guard{Limits: cfg.Guard.Roles, Location: cfg.Guard.Location, Trusted: func(o string) bool { return strings.HasPrefix(o, "10.") }},
		Notices:   &vault.Notices{Contacts: cfg.Notices.Contacts, Language: "fr"},
		Rights:    &vault.Rights{HandlerRole: r.HandlerRole, RestrictedReaders: r.RestrictedReaders, Contacts: rights.Contacts{Controller: r.Controller, DPO: r.DPO, Authority: r.Authority}},
		Retention: &vault.Retention{Record: cfg.Retention.Record, Activity: cfg.Retention.Activity},
		Stats:     &cfg.Statistics})
	err = st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, a := range []identity.Actor{e.dpo, e.cw, e.other, e.hr, e.pt} {
			if err := tx.PutOperator(ctx, &identity.Operator{ID: a.ID, Username: a.ID, PasswordHash: "x", Role: a.Role, Unit: a.Unit, Created: e.clock.Now()}); err != nil {
				return err
			}
		}
		return tx.PutPartner(ctx, &identity.Partner{ID: e.pt.ID, Name: "Cap Emploi 45", Sector: "employment", KeyHash: []byte("k"), CertSerial: "1", Created: e.clock.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// person creates a person of the people's unit and returns them.
func (e *rightsEnv) person() vault.Person {
	e.t.Helper()
	e.n++
	p := synth.Make(21, e.n)
	p.Unit = e.unit
	e.tick()
	id, err := e.v.Create(ctx, e.hr, p.Unit, p.Fields)
	if err != nil {
		e.t.Fatalf("Create: %v", err)
	}
	e.people[id] = p
	return vault.Person{Subject: id, Origin: "192.0.2.1"}
}

// tick moves the clock past the rate limits.
func (e *rightsEnv) tick() { e.clock.Add(5 * time.Second) }

func (e *rightsEnv) file(p vault.Person, kind string, fields []string, text string) *vault.RequestView {
	e.t.Helper()
	e.tick()
	r, err := e.v.FileRequest(ctx, p, kind, fields, text)
	if err != nil {
		e.t.Fatalf("FileRequest(%s): %v", kind, err)
	}
	return r
}

func (e *rightsEnv) decide(a identity.Actor, id, decision, reason string) (*vault.RequestView, error) {
	e.tick()
	return e.v.DecideRequest(ctx, a, id, decision, reason)
}

func (e *rightsEnv) read(a identity.Actor, id, purpose, reason string) error {
	e.tick()
	_, err := e.v.Read(ctx, a, id, purpose, reason)
	return err
}

func (e *rightsEnv) messages() []outbox.Message {
	e.t.Helper()
	var ms []outbox.Message
	if err := e.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		ms, err = tx.Messages(ctx, 0, 1000)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return slices.DeleteFunc(ms, func(m outbox.Message) bool { return m.Kind != rights.MessageKind })
}

// events are the request messages' events, in order, as "REQ-EVENT"
// keys; and whether each is the person's.
func (e *rightsEnv) events(subject string) []string {
	e.t.Helper()
	var out []string
	for _, m := range e.messages() {
		msg, err := rights.Decode(m.Payload)
		if err != nil {
			e.t.Fatal(err)
		}
		if m.Recipient != msg.Subject || m.Channel != outbox.ChannelPerson || m.Key != rights.Key(msg.Request, msg.Event) {
			e.t.Errorf("message %+v: recipient, channel or key not the request's", m)
		}
		if msg.Subject == subject {
			out = append(out, msg.Event)
		}
	}
	return out
}

func (e *rightsEnv) lastEntry() audit.Entry {
	e.t.Helper()
	es := auditEntries(e.t, e.store)
	return es[len(es)-1]
}

// rawContains reports whether the database files hold b anywhere (the
// latest pages are in the write-ahead log).
func (e *rightsEnv) rawContains(b []byte) bool {
	e.t.Helper()
	if len(b) == 0 {
		e.t.Fatal("rawContains: nothing to look for")
	}
	for _, suffix := range []string{"", "-wal"} {
		data, _ := os.ReadFile(e.path + suffix)
		if bytes.Contains(data, b) {
			return true
		}
	}
	return false
}

// row reads a subject's stored row.
func (e *rightsEnv) row(id string) *subject.Row {
	e.t.Helper()
	var r *subject.Row
	if err := e.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		r, err = tx.GetSubject(ctx, id)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// unknownSubject is a well-formed subject id no store holds.
func unknownSubject() string { return "sub_" + strings.Repeat("0", 26) }

func publicMessage(err error) string { return public.Message(err, "") }
func publicHint(err error) string    { return public.Hint(err, "") }

func envelopeKeys(t *testing.T) *envelope.Keyring {
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestFileRequest(t *testing.T) {
	e := newRightsEnv(t)
	p := e.person()
	long := strings.Repeat("é", rights.MaxText/2+1)
	tests := []struct {
		name         string
		p            vault.Person
		kind, text   string
		fields       []string
		want         error
		wantInPublic string
	}{
		{"unknown kind", p, "deletion", "", nil, access.ErrInvalid, "kind must be one of rectification, restriction, erasure, objection"},
		{"rectification without fields", p, rights.Rectification, "wrong", nil, access.ErrInvalid, "names the fields"},
		{"erasure of fields", p, rights.Erasure, "", []string{"phone"}, access.ErrInvalid, "whole record"},
		{"unknown field", p, rights.Rectification, "", []string{"shoe_size"}, access.ErrInvalid, `field "shoe_size": no such field`},
		{"field twice", p, rights.Rectification, "", []string{"phone", "phone"}, access.ErrInvalid, "listed twice"},
		{"text too long", p, rights.Objection, long, nil, access.ErrInvalid, "longer than 2000 bytes"},
		{"control characters", p, rights.Objection, "a\x00b", nil, access.ErrInvalid, "control characters"},
		{"malformed subject", vault.Person{Subject: "sub_x"}, rights.Objection, "", nil, access.ErrInvalid, "malformed subject id"},
		{"unknown subject", vault.Person{Subject: unknownSubject()}, rights.Objection, "", nil, store.ErrNotFound, "not here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.tick()
			_, err := e.v.FileRequest(ctx, tt.p, tt.kind, tt.fields, tt.text)
			// A field error's text is public (vault.FieldError); others' public message.
			msg := publicMessage(err)
			var fe *vault.FieldError
			if errors.As(err, &fe) {
				msg = fe.Error()
			}
			if !errors.Is(err, tt.want) || !strings.Contains(msg, tt.wantInPublic) {
				t.Errorf("FileRequest = %v (public %q), want %v with %q", err, msg, tt.want, tt.wantInPublic)
			}
		})
	}
	if n := len(e.messages()); n != 0 {
		t.Fatalf("refused requests queued %d messages", n)
	}

	const words = "Mon adresse est 12 rue des Lilas, pas 21."
	r := e.file(p, rights.Rectification, []string{"address", "phone"}, words)
	if !rights.ValidID(r.ID) || r.Status != rights.Pending || r.Text != words || r.Subject != "" || r.Kind != rights.Rectification || r.Article != "16" {
		t.Errorf("filed = %+v", r)
	}
	if want := r.Filed.AddDate(0, 1, 0); r.Filed.Day() != 23 || !r.Due.Equal(want) || r.ExtendBy == nil || !r.ExtendBy.Equal(want) {
		t.Errorf("due %v, extend by %v; want both %v (a month)", r.Due, r.ExtendBy, want)
	}
	le := e.lastEntry()
	if le.Actor != p.Subject || le.Action != "me.request" || le.Subject != p.Subject || le.Reason != r.ID+" rectification" ||
		!slices.Equal(le.Fields, []string{"address", "phone"}) || le.Decision != "allow" || le.Origin != p.Origin {
		t.Errorf("audit entry = %+v", le)
	}
	if e.rawContains([]byte("rue des Lilas")) {
		t.Error("the person's words are in the database in clear")
	}
	if got := e.events(p.Subject); !slices.Equal(got, []string{rights.EventFiled}) {
		t.Errorf("events = %v, want the acknowledgement", got)
	}
	_, err := e.v.FileRequest(ctx, p, rights.Rectification, []string{"phone"}, "")
	if !errors.Is(err, vault.ErrTooMany) {
		t.Errorf("a second open rectification: %v, want ErrTooMany", err)
	}
	// Another kind goes; the person sees both, newest first.
	e.file(p, rights.Objection, nil, "")
	mine, err := e.v.MyRequests(ctx, p)
	if err != nil || len(mine) != 2 || mine[0].Kind != rights.Objection || mine[1].Text != words {
		t.Errorf("MyRequests = %+v, %v", mine, err)
	}

	// Without a handler, nobody would answer: refused.
	cfg, _ := config.Demo(nil)
	none := vault.New(vault.Config{Store: e.store, Keys: envelopeKeys(t), Policy: cfg.Policy, Rights: &vault.Rights{Contacts: rights.Contacts{Controller: "Rectorat, 1 rue X"}}})
	if _, err := none.FileRequest(ctx, p, rights.Erasure, nil, ""); !errors.Is(err, vault.ErrNoHandler) || !strings.Contains(publicHint(err), "Rectorat, 1 rue X") {
		t.Errorf("with no handler: %v (hint %q), want ErrNoHandler naming the controller", err, publicHint(err))
	}
}

func TestDecideRequest(t *testing.T) {
	e := newRightsEnv(t)
	p := e.person()
	obj := e.file(p, rights.Objection, nil, "Je m'oppose à l'annuaire.")
	rect := e.file(p, rights.Rectification, []string{"job_title"}, "")

	// The queue: ids, kinds, fields and dates; nobody's id nor words.
	e.tick()
	q, err := e.v.RequestQueue(ctx, e.dpo, "", 0)
	if err != nil || len(q) != 2 || q[0].ID != obj.ID || q[1].ID != rect.ID {
		t.Fatalf("RequestQueue = %+v, %v", q, err)
	}
	for _, r := range q {
		if r.Subject != "" || r.Text != "" {
			t.Errorf("the queue shows %+v: a person's id or words", r)
		}
	}
	if le := e.lastEntry(); le.Action != "request.list" || le.Subject != "" || le.Decision != "allow" {
		t.Errorf("list audited as %+v", le)
	}
	e.tick()
	if q, err := e.v.RequestQueue(ctx, e.dpo, obj.ID, 0); err != nil || len(q) != 1 || q[0].ID != rect.ID {
		t.Errorf("RequestQueue after %s = %+v, %v", obj.ID, q, err)
	}

	// Opening one is an access to its person.
	e.tick()
	o, err := e.v.OpenRequest(ctx, e.dpo, obj.ID)
	if err != nil || o.Subject != p.Subject || o.Text != "Je m'oppose à l'annuaire." {
		t.Fatalf("OpenRequest = %+v, %v", o, err)
	}
	if le := e.lastEntry(); le.Action != "request.open" || le.Subject != p.Subject || le.Reason != obj.ID || le.Actor != e.dpo.ID {
		t.Errorf("open audited as %+v", le)
	}

	tests := []struct {
		name              string
		a                 identity.Actor
		id, dec, reason   string
		advance           time.Duration
		want              error
		wantStatus, event string
	}{
		{"not the handler", e.cw, obj.ID, rights.Accept, "", 0, access.ErrForbidden, "", ""},
		{"malformed id", e.dpo, "req_x", rights.Accept, "", 0, access.ErrInvalid, "", ""},
		{"unknown request", e.dpo, "req_0000000000000000", rights.Accept, "", 0, store.ErrNotFound, "", ""},
		{"unknown decision", e.dpo, obj.ID, "postpone", "", 0, access.ErrInvalid, "", ""},
		{"refusal without a reason", e.dpo, obj.ID, rights.Refuse, " ", 0, access.ErrReasonRequired, "", ""},
		{"extension without a reason", e.dpo, obj.ID, rights.Extend, "", 0, access.ErrReasonRequired, "", ""},
		{"lift of no restriction", e.dpo, obj.ID, rights.Lift, "", 0, vault.ErrDecided, "", ""},
		{"extension", e.dpo, obj.ID, rights.Extend, "Nous consultons le service RH.", 0, nil, rights.Pending, rights.EventExtended},
		{"extension twice", e.dpo, obj.ID, rights.Extend, "encore", 0, vault.ErrExtended, "", ""},
		{"refusal", e.dpo, obj.ID, rights.Refuse, "L'annuaire est une obligation légale.", 0, nil, rights.Refused, rights.EventRefused},
		{"deciding twice", e.dpo, obj.ID, rights.Accept, "", 0, vault.ErrDecided, "", ""},
		{"extension after the first month", e.dpo, rect.ID, rights.Extend, "trop tard", 31 * 24 * time.Hour, vault.ErrTooLate, "", ""},
		{"late acceptance", e.dpo, rect.ID, rights.Accept, "", 0, nil, rights.Accepted, rights.EventAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Add(tt.advance)
			r, err := e.decide(tt.a, tt.id, tt.dec, tt.reason)
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecideRequest = %+v, %v; want %v", r, err, tt.want)
			}
			le := e.lastEntry()
			if le.Action != "request.decide" || le.Actor != tt.a.ID || strings.Contains(le.Reason, tt.reason) && tt.reason != "" && tt.reason != " " {
				t.Errorf("audited as %+v (the reason's text must stay out)", le)
			}
			if err != nil {
				if !strings.HasPrefix(le.Decision, "deny:") {
					t.Errorf("refusal audited %q", le.Decision)
				}
				return
			}
			if r.Status != tt.wantStatus || le.Decision != "allow" || le.Subject != p.Subject {
				t.Errorf("decided %+v, audited %+v", r, le)
			}
			if ev := e.events(p.Subject); ev[len(ev)-1] != tt.event {
				t.Errorf("events %v, want %s last", ev, tt.event)
			}
		})
	}
	mine, err := e.v.MyRequests(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	got := mine[1] // the objection
	if want := got.Filed.AddDate(0, 3, 0); got.ID != obj.ID || !got.Due.Equal(want) || got.Extended == nil || got.ExtendBy != nil ||
		got.ExtendReason != "Nous consultons le service RH." || got.Answer != "L'annuaire est une obligation légale." || got.DecidedBy != "" {
		t.Errorf("the person sees %+v; want due %v, both reasons, no handler's id", got, want)
	}
	if mine[0].Overdue || mine[0].Status != rights.Accepted {
		t.Errorf("the late rectification: %+v", mine[0])
	}
	if e.rawContains([]byte("obligation légale")) {
		t.Error("the handler's reason is in the database in clear")
	}
}

func TestRestriction(t *testing.T) {
	e := newRightsEnv(t)
	p, q := e.person(), e.person()
	r := e.file(p, rights.Restriction, nil, "Je conteste l'exactitude de mon adresse.")
	if err := e.read(e.cw, p.Subject, "case-handling", ""); err != nil {
		t.Fatalf("read before the decision: %v", err)
	}
	if _, err := e.decide(e.dpo, r.ID, rights.Accept, ""); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		do   func() error
		want error
	}{
		{"caseworker read", func() error { return e.read(e.cw, p.Subject, "case-handling", "") }, access.ErrRestricted},
		{"caseworker update", func() error {
			e.tick()
			v := "Adjoint"
			_, err := e.v.Update(ctx, e.cw, p.Subject, "case-update", "", map[string]*string{"job_title": &v})
			return err
		}, access.ErrRestricted},
		{"hr lookup", func() error {
			e.tick()
			_, err := e.v.Lookup(ctx, e.hr, "directory", "", "email_pro", e.people[p.Subject].Fields["email_pro"])
			return err
		}, access.ErrRestricted},
		{"dpo read", func() error { return e.read(e.dpo, p.Subject, "rights-review", r.ID) }, nil},
		{"another person", func() error { return e.read(e.cw, q.Subject, "case-handling", "") }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if le := e.lastEntry(); tt.want != nil && (le.Decision != "deny:restricted" || le.Fields != nil) {
				t.Errorf("audited %+v, want deny:restricted and no fields", le)
			}
		})
	}
	d, err := e.v.MyData(ctx, p)
	if err != nil || !d.Restricted {
		t.Errorf("MyData restricted = %v, %v", d != nil && d.Restricted, err)
	}
	// The refusals count: a caseworker who insists is locked at the hard
	// margin (5), as for any refused request.
	var last error
	for range 5 {
		last = e.read(e.cw, p.Subject, "case-handling", "")
	}
	if !errors.Is(last, access.ErrLocked) {
		t.Errorf("insisting on a restricted record: %v, want the account locked", last)
	}
	if _, err := e.decide(e.dpo, r.ID, rights.Lift, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.v.Lookup(ctx, e.hr, "directory", "", "email_pro", e.people[p.Subject].Fields["email_pro"]); err != nil {
		t.Errorf("lookup after the lift: %v", err)
	}
	if _, err := e.decide(e.dpo, r.ID, rights.Lift, ""); !errors.Is(err, vault.ErrDecided) {
		t.Errorf("lifting twice: %v, want ErrDecided", err)
	}
	if got := e.events(p.Subject); !slices.Equal(got, []string{rights.EventFiled, rights.EventAccepted, rights.EventLifted}) {
		t.Errorf("events = %v", got)
	}
}

func TestErasureRequest(t *testing.T) {
	e := newRightsEnv(t)
	p := e.person()
	person := e.people[p.Subject]
	if err := e.read(e.cw, p.Subject, "case-handling", ""); err != nil {
		t.Fatal(err)
	}
	obj := e.file(p, rights.Objection, nil, "")
	er := e.file(p, rights.Erasure, nil, "Je quitte l'organisation.")
	if _, err := e.decide(e.dpo, er.ID, rights.Accept, "Aucune obligation de conservation."); err != nil {
		t.Fatal(err)
	}
	if err := e.read(e.dpo, p.Subject, "rights-review", er.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("reading the erased record: %v, want not found", err)
	}
	row := e.row(p.Subject)
	if !row.Erased || row.DEK != nil || row.Fields != nil {
		t.Errorf("erased row = %+v, want no key and no fields", row)
	}
	// The audit trail stays: the reads, the request, the decision.
	var about []string
	for _, en := range auditEntries(t, e.store) {
		if en.Subject == p.Subject {
			about = append(about, en.Action)
		}
	}
	if !slices.Equal(about, []string{"create", "read", "me.request", "me.request", "request.decide", "read"}) {
		t.Errorf("entries about the person = %v", about)
	}
	// The other open request is closed with the record; the handler sees
	// both without the words, which went with the key.
	e.tick()
	o, err := e.v.OpenRequest(ctx, e.dpo, obj.ID)
	if err != nil || o.Status != rights.Closed || !o.Erased || o.Text != "" {
		t.Errorf("the objection after the erasure: %+v, %v", o, err)
	}
	e.tick()
	o, err = e.v.OpenRequest(ctx, e.dpo, er.ID)
	if err != nil || o.Status != rights.Accepted || !o.Erased || o.Text != "" || o.Answer != "" {
		t.Errorf("the erasure request after it: %+v, %v", o, err)
	}
	if _, err := e.v.MyRequests(ctx, p); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the erased person's session: %v, want not found", err)
	}
	// The confirmation carries the address, sealed apart from the data
	// key, until it is sent.
	var conf *rights.Message
	for _, m := range e.messages() {
		msg, _ := rights.Decode(m.Payload)
		if msg.Request == er.ID && msg.Event == rights.EventAccepted {
			conf = &msg
			if bytes.Contains(m.Payload, []byte(person.Fields["email_personal"])) || bytes.Contains(m.Payload, []byte(person.Fields["email_pro"])) {
				t.Error("the message's payload holds the address")
			}
		}
	}
	if conf == nil || !conf.Courier {
		t.Fatalf("no confirmation carrying the address: %+v", conf)
	}
	c, err := e.v.RequestCourier(ctx, er.ID)
	if err != nil || (c.Email != person.Fields["email_pro"] && c.Email != person.Fields["email_personal"]) {
		t.Errorf("RequestCourier = %+v, %v; want the person's email", c, err)
	}
	if e.rawContains([]byte(c.Email)) {
		t.Error("the address is in the database in clear")
	}
	if err := e.v.ForgetCourier(ctx, er.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.v.RequestCourier(ctx, er.ID); !errors.Is(err, vault.ErrNoContact) {
		t.Errorf("after ForgetCourier: %v, want ErrNoContact", err)
	}
	if _, err := e.decide(e.dpo, er.ID, rights.Accept, ""); !errors.Is(err, vault.ErrDecided) {
		t.Errorf("deciding on an erased person's request: %v, want ErrDecided", err)
	}

	// A courier older than a week is gone even when nothing sent it.
	p2 := e.person()
	er2 := e.file(p2, rights.Erasure, nil, "")
	if _, err := e.decide(e.dpo, er2.ID, rights.Accept, ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(8 * 24 * time.Hour)
	if _, err := e.v.RequestCourier(ctx, er2.ID); !errors.Is(err, vault.ErrNoContact) {
		t.Errorf("a week later: %v, want ErrNoContact", err)
	}
	p3 := e.person()
	e.file(p3, rights.Objection, nil, "")
	obj3 := e.file(p3, rights.Restriction, nil, "")
	if _, err := e.decide(e.dpo, obj3.ID, rights.Refuse, "non"); err != nil {
		t.Fatal(err)
	}
	var r *rights.Request
	e.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		r, err = tx.GetRequest(ctx, er2.ID)
		return err
	})
	if r.Courier != nil {
		t.Error("a later decision did not drop the week-old courier")
	}
}

func TestErasureBudget(t *testing.T) {
	e := newRightsEnv(t)
	p := e.person()
	er := e.file(p, rights.Erasure, nil, "")
	for range 5 { // the demo dpo erases 5 people a day
		q := e.person()
		qr := e.file(q, rights.Erasure, nil, "")
		if _, err := e.decide(e.dpo, qr.ID, rights.Accept, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.decide(e.dpo, er.ID, rights.Accept, "")
	var le *access.LimitError
	if !errors.As(err, &le) || le.Code != "erasures_per_day" {
		t.Fatalf("the sixth erasure of the day: %v, want 429 erasures_per_day", err)
	}
	if r, err := e.decide(e.dpo, er.ID, rights.Refuse, "plus tard"); err != nil || r.Status != rights.Refused {
		t.Errorf("a refusal is no erasure: %+v, %v", r, err)
	}
}

func TestBlocks(t *testing.T) {
	e := newRightsEnv(t)
	p := e.person()
	email := e.people[p.Subject].Fields["email_pro"]
	e.tick()
	psn, err := e.v.Lookup(ctx, e.pt, "referral", "", "email_pro", email)
	if err != nil {
		t.Fatalf("partner lookup: %v", err)
	}
	tests := []struct {
		name, kind, target string
		want               error
	}{
		{"unknown partner", rights.LimitPartner, "op_nobody", vault.ErrUnknownTarget},
		{"malformed partner", rights.LimitPartner, "op nobody", access.ErrInvalid},
		{"unknown unit", rights.LimitUnit, "ac-nowhere", vault.ErrUnknownTarget},
		{"own unit", rights.LimitUnit, e.unit, vault.ErrOwnUnit},
		{"other kind", rights.LimitRestricted, "req_0000000000000000", access.ErrInvalid},
		{"the partner", rights.LimitPartner, e.pt.ID, nil},
		{"the partner twice", rights.LimitPartner, e.pt.ID, store.ErrConflict},
		{"another unit", rights.LimitUnit, otherUnit, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := e.v.Block(ctx, p, tt.kind, tt.target)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Block = %+v, %v; want %v", b, err, tt.want)
			}
			if err == nil && (b.ID != tt.kind+":"+tt.target || e.lastEntry().Action != "me.block" || e.lastEntry().Reason != b.ID) {
				t.Errorf("block %+v audited %+v", b, e.lastEntry())
			}
		})
	}
	bs, err := e.v.MyBlocks(ctx, p)
	if err != nil || len(bs) != 2 {
		t.Fatalf("MyBlocks = %+v, %v", bs, err)
	}
	for _, tt := range []struct {
		name string
		do   func() error
		want error
	}{
		{"partner read", func() error { return e.read(e.pt, psn, "referral", "") }, access.ErrBlockedByPerson},
		{"partner lookup", func() error {
			e.tick()
			_, err := e.v.Lookup(ctx, e.pt, "referral", "", "email_pro", email)
			return err
		}, access.ErrBlockedByPerson},
		{"other unit's read", func() error { return e.read(e.other, p.Subject, "case-handling", "ticket 7") }, access.ErrBlockedByPerson},
		{"own unit's read", func() error { return e.read(e.cw, p.Subject, "case-handling", "") }, nil},
		{"the handler", func() error { return e.read(e.dpo, p.Subject, "rights-review", "req") }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if le := e.lastEntry(); tt.want != nil && (le.Decision != "deny:blocked_by_person" || le.Subject != p.Subject) {
				t.Errorf("audited %+v", le)
			}
		})
	}
	if err := e.v.Unblock(ctx, p, "partner:"+e.pt.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.v.Unblock(ctx, p, "partner:"+e.pt.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unblocking twice: %v, want not found", err)
	}
	if err := e.v.Unblock(ctx, p, "restricted:req_0000000000000000"); !errors.Is(err, access.ErrInvalid) {
		t.Errorf("removing a restriction as a block: %v, want invalid", err)
	}
	if err := e.read(e.pt, psn, "referral", ""); err != nil {
		t.Errorf("partner read after the unblock: %v", err)
	}
}

func TestMyData(t *testing.T) {
	e := newRightsEnv(t)
	p := e.person()
	want := e.people[p.Subject]
	e.file(p, rights.Objection, nil, "non")
	if _, err := e.v.Block(ctx, p, rights.LimitUnit, otherUnit); err != nil {
		t.Fatal(err)
	}
	d, err := e.v.MyData(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	for name, val := range want.Fields {
		if d.Fields[name] != val {
			t.Errorf("field %s = %q, want %q (every field, in clear)", name, d.Fields[name], val)
		}
	}
	if d.Subject != p.Subject || d.Unit != e.unit || len(d.Requests) != 1 || d.Requests[0].Text != "non" || len(d.Blocks) != 1 || d.Restricted {
		t.Errorf("package = %+v", d)
	}
	if pr := d.Processing; pr == nil || pr.Handler != "dpo" || !strings.Contains(pr.Authority, "CNIL") || len(pr.Purposes) != 11 || pr.Retention["address"] == "" {
		t.Errorf("processing = %+v", pr)
	}
	le := e.lastEntry()
	if le.Action != "me.data" || le.Actor != p.Subject || le.Subject != p.Subject || le.Seq != d.AuditSeq || len(le.Fields) != len(want.Fields) {
		t.Errorf("audited %+v", le)
	}
	// Fail closed: no entry, no data.
	e.fs.fail = true
	if _, err := e.v.MyData(ctx, p); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("MyData without its entry: %v, want ErrUnavailable", err)
	}
	e.fs.fail = false
}

// TestStolenHandler: a stolen dpo login reaches the people who filed a
// request, one at a time, within the role's budgets.
func TestStolenHandler(t *testing.T) {
	e := newRightsEnv(t)
	var ids []string
	for range 20 {
		p := e.person()
		ids = append(ids, e.file(p, rights.Objection, nil, "").ID)
	}
	e.tick()
	q, err := e.v.RequestQueue(ctx, e.dpo, "", 0)
	if err != nil || len(q) != 20 {
		t.Fatalf("queue: %d, %v", len(q), err)
	}
	opened, refused := 0, error(nil)
	for _, id := range ids {
		e.clock.Add(time.Second)
		if _, err := e.v.OpenRequest(ctx, e.dpo, id); err != nil {
			refused = err
			break
		}
		opened++
	}
	if opened > 15 || refused == nil {
		t.Errorf("opened %d requests in a burst (refusal %v); want the guard to stop it within the hour's 15", opened, refused)
	}
	t.Logf("a stolen dpo session opened %d requests before: %v", opened, refused)
}

// TestRightsRerun: the handler's accesses give the same result when the
// store runs their transaction twice (group commit).
func TestRightsRerun(t *testing.T) {
	e := newRightsEnv(t)
	p := e.person()
	r := e.file(p, rights.Restriction, nil, "")
	e.fs.rerun = true
	e.tick()
	if o, err := e.v.OpenRequest(ctx, e.dpo, r.ID); err != nil || o.Subject != p.Subject {
		t.Fatalf("OpenRequest rerun = %+v, %v", o, err)
	}
	if d, err := e.decide(e.dpo, r.ID, rights.Accept, "ok"); err != nil || d.Status != rights.Accepted {
		t.Fatalf("DecideRequest rerun = %+v, %v", d, err)
	}
	e.fs.rerun = false
	if err := e.read(e.cw, p.Subject, "case-handling", ""); !errors.Is(err, access.ErrRestricted) {
		t.Errorf("after a rerun decision: %v, want restricted", err)
	}
}
