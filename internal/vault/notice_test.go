package vault_test

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/vault"
)

// TestNotices: an allowed read or update queues, in its transaction, one
// notice to the person after its purpose's mode: due now (immediate), at
// the next digest time (digest), after the deferral with its legal basis
// (deferred), or none (history). A refused access queues none. The
// notice holds ids and field names; the operator's id only when the
// purpose names operators. The person's contact is read from the record
// when asked, and an erased record has none.
func TestNotices(t *testing.T) {
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	pol := cfg.Policy
	pol.Purposes["support-call"].Notice = policy.NoticeDeferred
	pol.Purposes["support-call"].DeferredFor = 30 * 24 * time.Hour
	pol.Purposes["support-call"].DeferredBasis = "a law"
	pol.Purposes["case-update"].NoticeNamesOperator = true
	pol.Roles["caseworker"].Purposes = append(pol.Roles["caseworker"].Purposes, "support-call")
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	woken := 0
	v := vault.New(vault.Config{Store: st, Keys: keys, Policy: pol, Now: func() time.Time { return now },
		Notices: &vault.Notices{DigestAt: 18 * 60, Location: time.UTC, Contacts: []string{"email_personal", "email_pro", "phone"}, Language: "fr"},
		Queued:  func() { woken++ }})

	id, p := create(t, v, 1)
	queued := func() []outbox.Message {
		t.Helper()
		var ms []outbox.Message
		if err := st.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			ms, err = tx.Messages(ctx, 0, 100)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ms
	}
	if ms := queued(); len(ms) != 0 {
		t.Fatalf("a create queued %d notices, want none", len(ms))
	}
	worker := worker
	worker.Unit = p.Unit
	for _, r := range []struct{ purpose, reason string }{{"case-handling", ""}, {"directory", ""}, {"support-call", ""}} {
		if _, err := v.Read(ctx, worker, id, r.purpose, r.reason); err != nil {
			t.Fatalf("read under %s: %v", r.purpose, err)
		}
	}
	if _, err := v.Read(ctx, worker, id, "workplace-adjustment", ""); err == nil {
		t.Fatal("a read the policy refuses succeeded")
	}
	title := "Proviseur adjoint"
	if _, err := v.Update(ctx, worker, id, "case-update", "ticket 7", map[string]*string{"job_title": &title}); err != nil {
		t.Fatalf("update: %v", err)
	}

	var ms []outbox.Message
	for _, m := range queued() {
		if m.Kind == notice.Kind {
			ms = append(ms, m)
		}
	}
	if len(ms) != 4 {
		t.Fatalf("%d notices queued, want 4 (3 reads, 1 update): %+v", len(ms), ms)
	}
	type want struct {
		purpose, mode, operator, basis string
		due                            time.Time
	}
	wants := []want{
		{"case-handling", policy.NoticeImmediate, "", "", now},
		{"directory", policy.NoticeDigest, "", "", time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC)},
		{"support-call", policy.NoticeDeferred, "", "a law", now.Add(30 * 24 * time.Hour)},
		{"case-update", policy.NoticeImmediate, worker.ID, "", now},
	}
	for i, m := range ms {
		n, err := notice.Decode(m.Payload)
		w := wants[i]
		if err != nil || m.Channel != outbox.ChannelPerson || m.Recipient != id || m.Kind != notice.Kind || m.Key != notice.Key(n.Seq) ||
			n.Subject != id || n.Purpose != w.purpose || n.Mode != w.mode || n.Operator != w.operator || n.Basis != w.basis ||
			n.Role != "caseworker" || n.Unit != p.Unit || len(n.Fields) == 0 || !m.Next.Equal(w.due) {
			t.Errorf("notice %d = %+v %+v (%v), want %+v", i, m, n, err, w)
		}
		for _, val := range p.Fields {
			if len(val) > 3 && strings.Contains(string(m.Payload), val) {
				t.Errorf("notice %d holds a field value", i)
			}
		}
	}
	if woken != 2 {
		t.Errorf("the worker was woken %d times, want 2 (the immediate notices)", woken)
	}

	c, err := v.Contact(ctx, id)
	if err != nil || c.Email != p.Fields["email_personal"] || c.Lang != "fr" {
		t.Errorf("Contact = %+v, %v", c, err)
	}
	if err := v.Erase(ctx, hr, id, "left"); err != nil {
		t.Fatalf("erase: %v", err)
	}
	if _, err := v.Contact(ctx, id); !errors.Is(err, vault.ErrNoContact) {
		t.Errorf("Contact of an erased record: %v, want ErrNoContact", err)
	}
}
