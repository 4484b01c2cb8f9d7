package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/deliver/delivertest"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestErasureConfirmed: the demo served over HTTP with an in-process SMTP
// server. A person asks for the erasure of their record (at the vault:
// their session is subject sign-in's); the acknowledgement reaches their
// mailbox; the dpo accepts over HTTP; the record is erased (no data key)
// and the confirmation still reaches the address that was on it, in the
// person's language with their verification phrase; then nothing holds
// the address any more, and no message's payload ever did.
func TestErasureConfirmed(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) { erasureConfirmed(t, "") })
	t.Run("postgres", func(t *testing.T) {
		pg := pgtest.Migrated(t, postgres.Digest(), postgres.Migrate)
		erasureConfirmed(t, pg)
	})
}

func erasureConfirmed(t *testing.T, pg string) {
	mx := delivertest.StartSMTP(t)
	a, err := openApp(t.Context(), appOptions{dev: true, dataDir: t.TempDir(), anyHours: true, store: pg,
		env: []string{"COFFRE_NOTICES_ORGANISATION=Académie de Test", "COFFRE_NOTICES_LANGUAGE=en"}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	a.cfg.Partners.Listen = ""
	a.cfg.Delivery.SMTP = config.SMTP{Host: mx.Host, Port: mx.Port, StartTLS: "none", From: "coffre@example.org"}

	p := synth.Make(7, 3)
	ids, _, err := a.vault.Import(t.Context(), identity.Actor{ID: "op_hr", Role: "hr-officer"}, []vault.ImportRow{{Num: 1, Unit: p.Unit, Fields: p.Fields}})
	if err != nil || len(ids) != 1 {
		t.Fatalf("import: %v %v", ids, err)
	}
	var to string
	for _, f := range a.cfg.Notices.Contacts {
		if to = p.Fields[f]; to != "" {
			break
		}
	}
	dpo, err := a.auth.AddReadyOperator(t.Context(), "dominique", "", "dpo", "dpo-office")
	if err != nil {
		t.Fatal(err)
	}
	base := serveApp(t, a)
	token := loginOperator(t, base, "dominique", dpo)

	r, err := a.vault.FileRequest(t.Context(), vault.Person{Subject: ids[0], Origin: "192.0.2.7"}, rights.Erasure, nil, "I am leaving.")
	if err != nil {
		t.Fatal(err)
	}
	if mails := mx.Wait(1, 10*time.Second); len(mails) != 1 || mails[0].To[0] != to || !strings.Contains(mails[0].Body(t), "received your request for erasure") {
		t.Fatalf("acknowledgement: %+v", mails)
	}

	b, _ := json.Marshal(map[string]string{"decision": "accept", "reason": "No legal hold."})
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/requests/"+r.ID, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"accepted"`) || !strings.Contains(string(body), `"erased":true`) {
		t.Fatalf("accept = %d %s", res.StatusCode, body)
	}
	var row *struct{ erased, key bool }
	a.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		s, err := tx.GetSubject(ctx, ids[0])
		if err == nil {
			row = &struct{ erased, key bool }{s.Erased, s.DEK != nil}
		}
		return err
	})
	if row == nil || !row.erased || row.key {
		t.Fatalf("the record after the acceptance: %+v, want erased, no data key", row)
	}

	mails := mx.Wait(2, 10*time.Second)
	if len(mails) != 2 {
		t.Fatalf("%d mails, want the confirmation too", len(mails))
	}
	m := mails[1]
	text := m.Body(t)
	if m.To[0] != to || m.Header(t).Get(deliver.HeaderEvent) != rights.MessageKind || m.Header(t).Get(deliver.HeaderKey) != rights.Key(r.ID, rights.EventAccepted) ||
		!strings.Contains(text, "your record is erased") || !strings.Contains(text, notice.Phrase(a.keys.Ring, ids[0], "en")) ||
		strings.Contains(text, "No legal hold") {
		t.Errorf("confirmation to %v:\n%s", m.To, text)
	}

	// Once sent, the address is forgotten; no payload ever held it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got *rights.Request
		var ms []outbox.Message
		a.store.View(t.Context(), func(ctx context.Context, tx store.Tx) (err error) {
			if got, err = tx.GetRequest(ctx, r.ID); err != nil {
				return err
			}
			ms, err = tx.Messages(ctx, 0, 100)
			return err
		})
		for _, msg := range ms {
			if bytes.Contains(msg.Payload, []byte(to)) {
				t.Fatalf("message %s holds the address in its payload", msg.Key)
			}
		}
		if got != nil && got.Courier == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sealed address outlived the confirmation's delivery")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
