package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/auditstream/syslogtest"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestAuditStreamToSyslog (issue 19, done-when 3): a server streams its
// audit log to a syslog receiver while 16 clients make 10,000 reads over
// HTTP (2,000 unless COFFRE_SOAK=1); the receiver is stopped a third of the way through and started
// again on the same address 2 s later. Meanwhile /readyz stays ready and
// warns that the stream fails. The receiver ends with every entry of the
// log, each exactly as stored (the record made from the stored leaf),
// whether it came before the stop, in a resend or after; no read failed.
// Then a second reader opens a canary: the guard locks it, and the
// receiver gets the lock's alert after the read that raised it.
func TestAuditStreamToSyslog(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("10,000 reads: not with -short")
	}
	reads, clients := sized(10_000, 2000, 0), 16
	rcv := syslogtest.Start(t)
	a, err := openApp(t.Context(), appOptions{dev: true, dataDir: t.TempDir(), guard: "bench", anyHours: true}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	a.cfg.Partners.Listen = ""
	a.cfg.AuditStream = config.AuditStream{Syslog: config.SyslogSink{Address: rcv.Addr}}
	var ids []string
	for i := range 200 {
		id, err := a.vault.Create(t.Context(), backupHR, "ac-nice", synth.Make(19, i).Fields)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	canary, err := a.vault.PlantCanaries(t.Context(), identity.Actor{ID: "system", Role: "admin", Origin: "cli"}, "", []vault.ImportRow{{Num: 1, Unit: "ac-nice", Fields: synth.Make(19, 900).Fields}})
	if err != nil {
		t.Fatal(err)
	}
	op, err := a.auth.AddReadyOperator(t.Context(), "reader", "", "hr-officer", "ac-nice")
	if err != nil {
		t.Fatal(err)
	}
	prober, err := a.auth.AddReadyOperator(t.Context(), "prober", "", "hr-officer", "ac-nice")
	if err != nil {
		t.Fatal(err)
	}
	base := serveApp(t, a)
	token := loginOperator(t, base, "reader", op)

	var warned bool
	var wg sync.WaitGroup
	var failed sync.Map
	for c := range clients {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for i := range reads / clients {
				req, _ := http.NewRequest(http.MethodGet, base+"/v1/subjects/"+ids[(c*7+i)%len(ids)], nil)
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Coffre-Purpose", "hr-records")
				req.Header.Set("Coffre-Reason", "HR-1")
				res, err := client.Do(req)
				if err != nil {
					failed.Store(fmt.Sprint(c, i), err.Error())
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					failed.Store(fmt.Sprint(c, i), res.Status)
					return
				}
				if c == 0 && i == reads/clients/3 {
					rcv.Stop()
					go func() {
						time.Sleep(2 * time.Second)
						rcv.Restart()
					}()
					for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline) && !warned; time.Sleep(50 * time.Millisecond) {
						warned = readyWarns(t, base, "audit stream to syslog:"+rcv.Addr+" failing")
					}
				}
			}
		})
	}
	wg.Wait()
	failed.Range(func(k, v any) bool {
		t.Errorf("read %v: %v", k, v)
		return false
	})
	if !warned {
		t.Error("/readyz did not warn of the failing stream while the receiver was down")
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/subjects/"+canary[0], nil)
	req.Header.Set("Authorization", "Bearer "+loginOperator(t, base, "prober", prober))
	req.Header.Set("Coffre-Purpose", "hr-records")
	req.Header.Set("Coffre-Reason", "HR-2")
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if res.Body.Close(); res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusLocked {
		t.Errorf("a canary's read: %s, want the reader locked", res.Status)
	}
	var last int64
	if err := a.store.View(t.Context(), func(ctx context.Context, tx store.Tx) (err error) {
		last, err = tx.LastAuditSeq(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if last < int64(reads) {
		t.Fatalf("the log holds %d entries after %d reads", last, reads)
	}
	for deadline := time.Now().Add(30 * time.Second); rcv.Count() < int(last) || rcv.Alerts() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s the receiver holds %d of the log's %d entries and %d alerts", rcv.Count(), last, rcv.Alerts())
		}
	}
	rcv.HoldsLog(t, a.store, last)
	if rcv.Alerts() != 1 {
		t.Errorf("%d alerts received, want the canary's lock", rcv.Alerts())
	}
	t.Logf("%d reads, %d entries in the log and %d alert, %d messages received (%d sent again)", reads, last, rcv.Alerts(), rcv.Copies(), rcv.Copies()-int(last)-rcv.Alerts())
}

// readyWarns reports whether GET /readyz answers 200 ready with a warning
// that holds want.
func readyWarns(t *testing.T, base, want string) bool {
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Error(err)
		return false
	}
	defer res.Body.Close()
	var ready struct {
		Status   string   `json:"status"`
		Warnings []string `json:"warnings"`
	}
	if err := json.NewDecoder(res.Body).Decode(&ready); err != nil || res.StatusCode != http.StatusOK || ready.Status != "ready" {
		return false
	}
	for _, w := range ready.Warnings {
		if strings.Contains(w, want) {
			return true
		}
	}
	return false
}
