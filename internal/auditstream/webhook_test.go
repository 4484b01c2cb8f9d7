package auditstream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditstream"
	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/store"
)

// TestWebhookEveryEntry: 2,000 entries to a webhook receiver that answers
// 503 to every third request; every request is signed (checked with
// deliver.VerifyWebhook) and names its batch; the receiver ends with every
// entry exactly as stored, and the cursor at the end of the log.
func TestWebhookEveryEntry(t *testing.T) {
	const n = 2_000
	secret := []byte("0123456789abcdef0123456789abcdef")
	ctx := context.Background()
	s := openStore(t)
	var mu sync.Mutex
	got := map[int64][]byte{}
	var calls int
	var problems []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if err := deliver.VerifyWebhook(secret, r.Header.Get(deliver.HeaderSignature), body, time.Now(), time.Minute); err != nil || r.Header.Get(deliver.HeaderEvent) != "audit" {
			problems = append(problems, fmt.Sprintf("request %d: signature %v, event %q", calls, err, r.Header.Get(deliver.HeaderEvent)))
		}
		if calls%3 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var batch struct {
			Records []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(body, &batch); err != nil || len(batch.Records) == 0 {
			problems = append(problems, fmt.Sprintf("request %d: %v", calls, err))
		}
		for _, raw := range batch.Records {
			var rec struct{ Index int64 }
			json.Unmarshal(raw, &rec)
			got[rec.Index] = raw
		}
		if want := fmt.Sprintf("audit-%d-", indexOf(batch.Records, 0)); len(batch.Records) > 0 && r.Header.Get(deliver.HeaderKey)[:len(want)] != want {
			problems = append(problems, fmt.Sprintf("request %d: key %q", calls, r.Header.Get(deliver.HeaderKey)))
		}
	}))
	defer srv.Close()
	for i := range n {
		e := &audit.Entry{Time: time.Now(), Actor: "op_1", Action: "read", Subject: fmt.Sprint("sub_", i), Decision: "allow"}
		if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
			t.Fatal(err)
		}
	}
	sink := &auditstream.Webhook{URL: srv.URL + "/soc?token=x", Secret: secret}
	if sink.Name() != "webhook:"+srv.URL+"/soc" {
		t.Errorf("Name = %q: want the URL without its query", sink.Name())
	}
	st := &auditstream.Streamer{Store: s, Sinks: []auditstream.Sink{sink}, Owner: "node-1", Batch: 100, Every: 10 * time.Millisecond}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { st.Run(sctx); close(done) }()
	for deadline := time.Now().Add(30 * time.Second); st.Status()[0].Held != n+1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not all held after 30 s: %+v", st.Status()[0])
		}
	}
	stop()
	<-done
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	if err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AuditLeaves(ctx, 1, n+1, func(seq int64, leaf []byte) error {
			want, err := auditstream.NewRecord(seq, leaf)
			if err != nil {
				return err
			}
			if string(got[seq]) != string(want.JSON()) {
				t.Errorf("entry %d: received %s, want %s", seq, got[seq], want.JSON())
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
}

func indexOf(recs []json.RawMessage, i int) int64 {
	var rec struct{ Index int64 }
	json.Unmarshal(recs[i], &rec)
	return rec.Index
}

// TestWebhookHangs: a receiver that takes the requests and never answers.
// Entries go on being appended (the accesses are not held back), the
// sink shows as failing with nothing held past its timeout, and once the
// receiver answers again every entry is held.
func TestWebhookHangs(t *testing.T) {
	const n = 500
	ctx := context.Background()
	s := openStore(t)
	var mu sync.Mutex
	hang := true
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		h := hang
		mu.Unlock()
		if h {
			select { // hangs until the client gives up or the test ends
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
	}))
	defer srv.Close()
	defer close(release)
	sink := &auditstream.Webhook{URL: srv.URL, Secret: []byte("0123456789abcdef0123456789abcdef"), Client: &http.Client{Timeout: 200 * time.Millisecond}}
	st := &auditstream.Streamer{Store: s, Sinks: []auditstream.Sink{sink}, Owner: "node-1", Batch: 100, Every: 10 * time.Millisecond}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { st.Run(sctx); close(done) }()
	defer func() { stop(); <-done }()
	for i := range n {
		e := &audit.Entry{Time: time.Now(), Actor: "op_1", Action: "read", Subject: fmt.Sprint("sub_", i), Decision: "allow"}
		if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { got := st.Status()[0]; return got.Failing != "" && got.Sequenced == n }, "the hanging sink shown failing, the whole log sequenced")
	if got := st.Status()[0]; got.Held > 1 || got.Lag() != n || !strings.HasSuffix(got.Failing, ": post: context deadline exceeded (Client.Timeout exceeded while awaiting headers)") {
		t.Errorf("while the receiver hangs: %+v (lag %d), want nothing held, a lag of %d and the client's timeout", got, got.Lag(), n)
	}
	mu.Lock()
	hang = false
	mu.Unlock()
	waitFor(t, func() bool { return st.Status()[0].Held == n+1 }, "every entry held once the receiver answers")
	if got := st.Status()[0]; got.Failing != "" {
		t.Errorf("after the receiver recovered: %+v", got)
	}
}
