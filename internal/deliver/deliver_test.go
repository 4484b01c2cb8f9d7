package deliver_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/deliver/delivertest"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/subjectid"
)

var ctx = context.Background()

var secret = []byte("a webhook secret of thirty-two b")

func openStore(t *testing.T) store.Store {
	t.Helper()
	ids, err := subjectid.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.Options{IDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// clock is a test clock the worker reads.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newWorker(t *testing.T, s store.Store, c *clock, to deliver.Recipients, senders map[string]deliver.Sender) *deliver.Worker {
	return &deliver.Worker{
		Update: func(ctx context.Context, fn func(context.Context, outbox.Delivery) error) error {
			return s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
		},
		Senders: senders, Alerts: to, Owner: "node-1", MaxTries: 3, Backoff: time.Second,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), Now: c.now,
	}
}

var testAlert = guard.Alert{Operator: "op_7q2x", Code: "lookup-misses", Severity: "high", Action: "lock", Evidence: []int64{41, 42, 43}}

func raise(t *testing.T, s store.Store, at time.Time) {
	t.Helper()
	al := testAlert
	al.Time = at
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return guard.RaiseAlert(ctx, tx, &al) }); err != nil {
		t.Fatal(err)
	}
}

func messages(t *testing.T, s store.Store) []outbox.Message {
	t.Helper()
	var ms []outbox.Message
	if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		ms, err = tx.Messages(ctx, 0, 100)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ms
}

func step(t *testing.T, w *deliver.Worker) {
	t.Helper()
	if err := w.Step(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestAlertReachesEveryChannel: one alert becomes an email, a webhook and
// an SMS, each received once with its idempotency key and a valid
// signature, naming ids only; a second step sends nothing more.
func TestAlertReachesEveryChannel(t *testing.T) {
	s, c := openStore(t), &clock{t: time.Now()}
	mx := delivertest.StartSMTP(t)
	hook, gw := delivertest.StartHook(t, secret), delivertest.StartHook(t, secret)
	w := newWorker(t, s, c, deliver.Recipients{Email: []string{"officer@example.org"}, Webhook: []string{hook.URL}, SMS: []string{"+33600000000"}},
		map[string]deliver.Sender{
			outbox.ChannelEmail:   &deliver.SMTP{Host: mx.Host, Port: mx.Port, StartTLS: deliver.TLSNone, From: "coffre@example.org", ReplyTo: "soc@example.org", Timeout: 5 * time.Second},
			outbox.ChannelWebhook: &deliver.Webhook{Secret: secret},
			outbox.ChannelSMS:     &deliver.SMS{Gateway: gw.URL, Webhook: deliver.Webhook{Secret: secret}},
		})
	raise(t, s, c.now())
	step(t, w)
	step(t, w)

	mails := mx.Mails()
	if len(mails) != 1 || len(mails[0].To) != 1 || mails[0].To[0] != "officer@example.org" || mails[0].From != "coffre@example.org" {
		t.Fatalf("mails = %+v, want one to the officer", mails)
	}
	h, body := mails[0].Header(t), mails[0].Body(t)
	key := h.Get(deliver.HeaderKey)
	if !strings.HasPrefix(key, "alert-1-email-") || h.Get("Message-Id") != "<"+key+"@coffre>" || h.Get("Reply-To") != "<soc@example.org>" ||
		!strings.Contains(h.Get("Subject"), "lock of operator op_7q2x (lookup-misses)") {
		t.Errorf("headers = %v", h)
	}
	for _, want := range []string{"Operator:  op_7q2x (id)", "Code:      lookup-misses", "Severity:  high", "Action:    lock", "audit entries 41, 42, 43"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	reqs := hook.Requests()
	if len(reqs) != 1 || reqs[0].Verified != nil || reqs[0].Header.Get(deliver.HeaderEvent) != "alert" ||
		!strings.HasPrefix(reqs[0].Header.Get(deliver.HeaderKey), "alert-1-webhook-") {
		t.Fatalf("webhook requests = %+v", reqs)
	}
	var got struct {
		Event string      `json:"event"`
		Key   string      `json:"idempotency_key"`
		Alert guard.Alert `json:"alert"`
	}
	if err := json.Unmarshal(reqs[0].Body, &got); err != nil || got.Event != "alert" || got.Key != reqs[0].Header.Get(deliver.HeaderKey) ||
		got.Alert.Operator != "op_7q2x" || len(got.Alert.Evidence) != 3 {
		t.Errorf("webhook body = %s (%v)", reqs[0].Body, err)
	}
	sms := gw.Requests()
	var text struct{ To, Text string }
	if len(sms) != 1 || sms[0].Verified != nil || json.Unmarshal(sms[0].Body, &text) != nil || text.To != "+33600000000" ||
		!strings.Contains(text.Text, "lock of operator op_7q2x (lookup-misses), audit entries 41, 42, 43") {
		t.Fatalf("sms requests = %+v", sms)
	}
	for _, m := range messages(t, s) {
		if m.Status != outbox.StatusSent || m.Tries != 1 {
			t.Errorf("message %+v, want sent at the first try", m)
		}
	}
}

// TestRetryThenSent: a receiver answering 500 then 200 gets the message
// twice under one key, and it is sent.
func TestRetryThenSent(t *testing.T) {
	s, c := openStore(t), &clock{t: time.Now()}
	hook := delivertest.StartHook(t, secret)
	hook.Answer = func(n int, _ http.ResponseWriter, _ *http.Request) int {
		return map[bool]int{true: 500, false: 200}[n == 0]
	}
	w := newWorker(t, s, c, deliver.Recipients{Webhook: []string{hook.URL}}, map[string]deliver.Sender{outbox.ChannelWebhook: &deliver.Webhook{Secret: secret}})
	raise(t, s, c.now())
	step(t, w)
	if ms := messages(t, s); len(ms) != 1 || ms[0].Status != outbox.StatusPending || ms[0].LastError != "http 500" || ms[0].Failures != 1 {
		t.Fatalf("after a 500: %+v", ms)
	}
	step(t, w) // not due yet
	if n := len(hook.Requests()); n != 1 {
		t.Fatalf("retried before the backoff: %d requests", n)
	}
	c.add(2 * time.Second)
	step(t, w)
	reqs := hook.Requests()
	if len(reqs) != 2 || reqs[0].Header.Get(deliver.HeaderKey) != reqs[1].Header.Get(deliver.HeaderKey) {
		t.Fatalf("requests = %d, want 2 under one key", len(reqs))
	}
	if ms := messages(t, s); ms[0].Status != outbox.StatusSent || ms[0].Tries != 2 {
		t.Fatalf("after a 200: %+v", ms)
	}
}

// TestAlways500IsDead: after MaxTries the message is dead and never sent
// again.
func TestAlways500IsDead(t *testing.T) {
	s, c := openStore(t), &clock{t: time.Now()}
	hook := delivertest.StartHook(t, secret)
	hook.Answer = func(int, http.ResponseWriter, *http.Request) int { return 500 }
	w := newWorker(t, s, c, deliver.Recipients{Webhook: []string{hook.URL}}, map[string]deliver.Sender{outbox.ChannelWebhook: &deliver.Webhook{Secret: secret}})
	raise(t, s, c.now())
	for range 10 {
		step(t, w)
		c.add(time.Hour)
	}
	if n := len(hook.Requests()); n != 3 {
		t.Errorf("requests = %d, want 3 (MaxTries)", n)
	}
	if ms := messages(t, s); ms[0].Status != outbox.StatusDead || ms[0].LastError != "http 500" || ms[0].Failures != 3 {
		t.Fatalf("message = %+v, want dead", ms[0])
	}
}

// TestHangingReceiver: a receiver that never answers costs a timeout,
// and the message is retried.
func TestHangingReceiver(t *testing.T) {
	s, c := openStore(t), &clock{t: time.Now()}
	hook := delivertest.StartHook(t, secret)
	hook.Answer = func(_ int, _ http.ResponseWriter, r *http.Request) int { <-r.Context().Done(); return 200 }
	w := newWorker(t, s, c, deliver.Recipients{Webhook: []string{hook.URL}}, map[string]deliver.Sender{outbox.ChannelWebhook: &deliver.Webhook{Secret: secret, Timeout: 200 * time.Millisecond}})
	raise(t, s, c.now())
	start := time.Now()
	step(t, w)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("step took %v with a 200ms timeout", d)
	}
	if ms := messages(t, s); ms[0].Status != outbox.StatusPending || ms[0].LastError != "timeout" {
		t.Fatalf("message = %+v, want pending after a timeout", ms[0])
	}
}

// TestPermanentAnswers: a 4xx other than 408 and 429 is dead at once.
func TestPermanentAnswers(t *testing.T) {
	for code, wantDead := range map[int]bool{400: true, 404: true, 410: true, 408: false, 429: false, 503: false, 302: true} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s, c := openStore(t), &clock{t: time.Now()}
			hook := delivertest.StartHook(t, secret)
			hook.Answer = func(_ int, w http.ResponseWriter, _ *http.Request) int {
				w.Header().Set("Location", "/elsewhere")
				return code
			}
			w := newWorker(t, s, c, deliver.Recipients{Webhook: []string{hook.URL}}, map[string]deliver.Sender{outbox.ChannelWebhook: &deliver.Webhook{Secret: secret}})
			raise(t, s, c.now())
			step(t, w)
			m := messages(t, s)[0]
			if dead := m.Status == outbox.StatusDead; dead != wantDead || m.LastError != fmt.Sprint("http ", code) {
				t.Errorf("after %d: status %s, class %q; want dead=%v", code, m.Status, m.LastError, wantDead)
			}
		})
	}
}

// TestSMTPRefusesRecipient: a 550 to RCPT TO is a dead letter at once;
// the other recipient gets the mail.
func TestSMTPRefusesRecipient(t *testing.T) {
	s, c := openStore(t), &clock{t: time.Now()}
	mx := delivertest.StartSMTP(t)
	mx.Refuse = func(rcpt string) bool { return rcpt == "gone@example.org" }
	w := newWorker(t, s, c, deliver.Recipients{Email: []string{"gone@example.org", "officer@example.org"}},
		map[string]deliver.Sender{outbox.ChannelEmail: &deliver.SMTP{Host: mx.Host, Port: mx.Port, StartTLS: deliver.TLSNone, From: "coffre@example.org"}})
	raise(t, s, c.now())
	for range 3 {
		step(t, w)
		c.add(time.Hour)
	}
	ms := messages(t, s)
	if len(ms) != 2 || ms[0].Status != outbox.StatusDead || ms[0].LastError != "smtp 550 rejected" || ms[0].Tries != 1 ||
		ms[1].Status != outbox.StatusSent {
		t.Fatalf("messages = %+v, want the refused one dead after one try, the other sent", ms)
	}
	if mails := mx.Mails(); len(mails) != 1 || mails[0].To[0] != "officer@example.org" {
		t.Fatalf("mails = %+v", mails)
	}
}

// TestSMTPMandatoryTLS: a server without STARTTLS gets nothing under the
// mandatory policy; the failure is retried, with a class that names no
// address.
func TestSMTPMandatoryTLS(t *testing.T) {
	s, c := openStore(t), &clock{t: time.Now()}
	mx := delivertest.StartSMTP(t)
	w := newWorker(t, s, c, deliver.Recipients{Email: []string{"officer@example.org"}},
		map[string]deliver.Sender{outbox.ChannelEmail: &deliver.SMTP{Host: mx.Host, Port: mx.Port, From: "coffre@example.org"}})
	raise(t, s, c.now())
	step(t, w)
	m := messages(t, s)[0]
	if m.Status != outbox.StatusPending || m.LastError != "smtp session" || len(mx.Mails()) != 0 {
		t.Fatalf("message = %+v, mails %d; want a retry, nothing sent in clear", m, len(mx.Mails()))
	}
}

// TestLeaseReclaimed: messages claimed by a node that died are sent by
// another once the lease has expired, not before.
func TestLeaseReclaimed(t *testing.T) {
	s, c := openStore(t), &clock{t: time.Now()}
	hook := delivertest.StartHook(t, secret)
	w := newWorker(t, s, c, deliver.Recipients{Webhook: []string{hook.URL}}, map[string]deliver.Sender{outbox.ChannelWebhook: &deliver.Webhook{Secret: secret}})
	w.Lease = time.Minute
	raise(t, s, c.now())
	// The dead node expands and claims, then is killed before sending.
	dead := newWorker(t, s, c, w.Alerts, map[string]deliver.Sender{outbox.ChannelWebhook: &deliver.Webhook{Secret: secret}})
	dead.Owner = "node-killed"
	dead.Senders = nil
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		rows, err := tx.Unexpanded(ctx, "alert", 10)
		if err != nil {
			return err
		}
		if err := tx.Expand(ctx, rows[0].ID, []outbox.Message{{Kind: "alert", Channel: "webhook", Recipient: hook.URL, Key: "k", Payload: rows[0].Payload}}, c.now()); err != nil {
			return err
		}
		_, err = tx.Claim(ctx, "node-killed", c.now(), time.Minute, 10)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c.add(30 * time.Second)
	step(t, w)
	if n := len(hook.Requests()); n != 0 {
		t.Fatalf("sent %d under another node's lease", n)
	}
	c.add(31 * time.Second)
	step(t, w)
	if reqs := hook.Requests(); len(reqs) != 1 || reqs[0].Header.Get(deliver.HeaderKey) != "k" {
		t.Fatalf("after the lease expired: %d requests", len(reqs))
	}
	if m := messages(t, s)[0]; m.Status != outbox.StatusSent || m.Tries != 2 {
		t.Fatalf("message = %+v", m)
	}
}

func TestVerifyWebhook(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"event":"alert"}`)
	good := deliver.Sign(secret, body, now)
	if !strings.HasPrefix(good, "t=1800000000,v1=") || len(good) != len("t=1800000000,v1=")+64 {
		t.Fatalf("Sign = %q", good)
	}
	tests := []struct {
		name, header string
		body         []byte
		secret       []byte
		now          time.Time
		want         error
	}{
		{"good", good, body, secret, now, nil},
		{"good, 4m late", good, body, secret, now.Add(4 * time.Minute), nil},
		{"rotation: a second v1", good + ",v1=" + strings.Repeat("0", 64), body, secret, now, nil},
		{"replayed 6m later", good, body, secret, now.Add(6 * time.Minute), deliver.ErrStale},
		{"from the future", good, body, secret, now.Add(-6 * time.Minute), deliver.ErrStale},
		{"body changed", good, []byte(`{"event":"alerT"}`), secret, now, deliver.ErrSignature},
		{"other secret", good, body, []byte("another secret"), now, deliver.ErrSignature},
		{"timestamp changed", strings.Replace(good, "t=1800000000", "t=1800000001", 1), body, secret, now, deliver.ErrSignature},
		{"no v1", "t=1800000000", body, secret, now, deliver.ErrSignature},
		{"no t", good[len("t=1800000000,"):], body, secret, now, deliver.ErrSignature},
		{"garbage", "garbage", body, secret, now, deliver.ErrSignature},
		{"empty", "", body, secret, now, deliver.ErrSignature},
	}
	for _, tt := range tests {
		if err := deliver.VerifyWebhook(tt.secret, tt.header, tt.body, tt.now, 5*time.Minute); err != tt.want {
			t.Errorf("%s: VerifyWebhook = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestSMTPStartTLSAndAuth: under the mandatory policy the mail goes over
// STARTTLS, authenticated with PLAIN; a wrong password is a failure with
// a class naming neither user nor password, retried (the configuration
// is ours to fix), and nothing is delivered.
func TestSMTPStartTLSAndAuth(t *testing.T) {
	for _, tt := range []struct {
		name, password string
		wantSent       bool
	}{{"good password", "s3cret", true}, {"bad password", "wrong", false}} {
		t.Run(tt.name, func(t *testing.T) {
			s, c := openStore(t), &clock{t: time.Now()}
			mx := delivertest.StartSMTPWith(t, delivertest.SMTPOptions{TLS: true, Username: "coffre", Password: "s3cret"})
			w := newWorker(t, s, c, deliver.Recipients{Email: []string{"officer@example.org"}},
				map[string]deliver.Sender{outbox.ChannelEmail: &deliver.SMTP{Host: mx.Host, Port: mx.Port, StartTLS: deliver.TLSMandatory,
					Username: "coffre", Password: tt.password, From: "coffre@example.org", TLSConfig: &tls.Config{RootCAs: mx.RootCAs, ServerName: mx.Host}}})
			raise(t, s, c.now())
			step(t, w)
			m := messages(t, s)[0]
			if sent := m.Status == outbox.StatusSent; sent != tt.wantSent || len(mx.Mails()) != map[bool]int{true: 1, false: 0}[tt.wantSent] {
				t.Fatalf("message = %+v, mails %d; want sent=%v", m, len(mx.Mails()), tt.wantSent)
			}
			if !tt.wantSent && (m.LastError != "smtp 535 auth refused" || m.Status != outbox.StatusPending) {
				t.Errorf("class %q", m.LastError)
			}
			t.Logf("outcome: %s %q", m.Status, m.LastError)
		})
	}
}

// TestSMTPKeepsConnections: messages go over kept connections (a new one
// after MaxPerConn); once the server has dropped them, the next message
// is sent once over a new connection, not lost; after Close, nothing is
// kept.
func TestSMTPKeepsConnections(t *testing.T) {
	mx := delivertest.StartSMTP(t)
	s := &deliver.SMTP{Host: mx.Host, Port: mx.Port, StartTLS: deliver.TLSNone, From: "coffre@example.org", MaxPerConn: 4}
	defer s.Close()
	send := func(i int) {
		t.Helper()
		m := outbox.Message{Kind: "notice", Key: fmt.Sprint("k", i)}
		if err := s.SendText(ctx, "p@example.org", m, notice.Text{Subject: "s", Body: "b"}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	for i := range 10 {
		send(i)
	}
	if n := mx.Sessions(); n != 3 {
		t.Errorf("10 messages, at most 4 a connection, one at a time: %d connections, want 3", n)
	}
	mx.Drop()
	time.Sleep(50 * time.Millisecond) // for the client side to see it closed
	send(10)
	if n, mails := mx.Sessions(), mx.Mails(); n != 4 || len(mails) != 11 {
		t.Errorf("after the server dropped the connection: %d connections, %d mails; want 4 and 11", n, len(mails))
	}
	s.Close()
	send(11)
	send(12)
	if n := mx.Sessions(); n != 6 {
		t.Errorf("after Close: %d connections, want one a message (6)", n)
	}
	if mails := mx.Wait(13, time.Second); len(mails) != 13 {
		t.Errorf("%d mails, want 13", len(mails))
	}
}

// putMessages queues n webhook messages to url, due at at.
func putMessages(t *testing.T, s store.Store, url string, n int, at time.Time) {
	t.Helper()
	body, _ := json.Marshal(testAlert)
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for i := range n {
			m := &outbox.Message{Kind: "alert", Channel: outbox.ChannelWebhook, Recipient: url, Key: fmt.Sprint("m", i), Payload: body, Next: at, Created: at}
			if err := tx.PutMessage(ctx, m); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestBatchesOverlap: with batches claimed ahead and recorded behind,
// a queue of several batches is sent once each and recorded sent.
func TestBatchesOverlap(t *testing.T) {
	s, c := openStore(t), &clock{t: time.Now()}
	hook := delivertest.StartHook(t, secret)
	w := newWorker(t, s, c, deliver.Recipients{}, map[string]deliver.Sender{outbox.ChannelWebhook: &deliver.Webhook{Secret: secret}})
	w.Batch, w.Concurrency, w.Rates = 4, 3, map[string]rate.Limit{outbox.ChannelWebhook: 1000}
	putMessages(t, s, hook.URL, 18, c.now())
	step(t, w)
	seen := map[string]int{}
	for _, r := range hook.Requests() {
		seen[r.Header.Get(deliver.HeaderKey)]++
	}
	if len(seen) != 18 || len(hook.Requests()) != 18 {
		t.Errorf("%d requests for %d keys, want 18 once each", len(hook.Requests()), len(seen))
	}
	for _, m := range messages(t, s) {
		if m.Status != outbox.StatusSent || m.Tries != 1 {
			t.Errorf("message %s: %s after %d tries, want sent after 1", m.Key, m.Status, m.Tries)
		}
	}
}

// TestStopReleasesClaimedAhead: a worker stopped while it sends gives
// back the batch it had claimed ahead, and the interrupted one, due at
// once and leased to nobody, so that a restart sends them without
// waiting for the lease.
func TestStopReleasesClaimedAhead(t *testing.T) {
	s, c := openStore(t), &clock{t: time.Now()}
	hook := delivertest.StartHook(t, secret)
	inFlight := make(chan struct{}, 8)
	hook.Answer = func(n int, w http.ResponseWriter, r *http.Request) int {
		inFlight <- struct{}{}
		<-r.Context().Done() // hangs until the worker gives up
		return http.StatusServiceUnavailable
	}
	w := newWorker(t, s, c, deliver.Recipients{}, map[string]deliver.Sender{outbox.ChannelWebhook: &deliver.Webhook{Secret: secret}})
	w.Batch, w.Concurrency, w.Rates = 4, 4, map[string]rate.Limit{outbox.ChannelWebhook: 1000}
	putMessages(t, s, hook.URL, 8, c.now())
	stepCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Step(stepCtx) }()
	for range 4 {
		<-inFlight
	}
	// The second batch is claimed ahead while the first hangs.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		leased := 0
		for _, m := range messages(t, s) {
			if m.LeaseOwner != "" {
				leased++
			}
		}
		if leased == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 8 messages leased, want both batches", leased)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, m := range messages(t, s) {
		if m.Status != outbox.StatusPending || m.LeaseOwner != "" || m.LastError != "interrupted" || m.Next.After(c.now()) {
			t.Errorf("message %s after the stop: %+v; want pending, leased to nobody, due now", m.Key, m)
		}
	}
	if n := len(hook.Requests()); n != 4 {
		t.Errorf("%d requests, want the first batch's 4 only", n)
	}
}
