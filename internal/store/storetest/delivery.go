package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
)

// delivery: outbox rows expand once into messages (a key queued already
// is left out); a claim leases due messages to one owner, a second
// claimer gets none while the lease holds and reclaims them once it has
// expired; a failure is recorded only by the lease's owner; sent and
// dead messages are never claimed again; the stats count them.
func delivery(t *testing.T, s store.Store) {
	claim := func(owner string, now time.Time, limit int) []outbox.Message {
		t.Helper()
		var got []outbox.Message
		update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
			got, err = tx.Claim(ctx, owner, now, time.Minute, limit)
			return err
		})
		return got
	}
	try := func(fn func(context.Context, store.Tx) error) error { return s.Update(ctx, fn) }

	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for i, kind := range []string{"alert", "notice", "alert"} {
			if err := tx.PutOutbox(ctx, kind, fmt.Appendf(nil, `{"n":%d}`, i), t0.Add(time.Duration(i)*time.Second)); err != nil {
				return err
			}
		}
		return nil
	})
	var rows []outbox.Row
	update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		rows, err = tx.Unexpanded(ctx, "alert", 10)
		return err
	})
	if len(rows) != 2 || rows[0].ID >= rows[1].ID || rows[0].Kind != "alert" || string(rows[1].Payload) != `{"n":2}` || !rows[0].Time.Equal(t0) {
		t.Fatalf("Unexpanded = %+v, want the two alert rows, oldest first", rows)
	}
	msg := func(channel, recipient, key string) outbox.Message {
		return outbox.Message{Kind: "alert", Channel: channel, Recipient: recipient, Key: key, Payload: []byte(`{"n":0}`)}
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.Expand(ctx, rows[0].ID, []outbox.Message{msg("email", "so@example.org", "k1"), msg("webhook", "https://hook.example/x", "k2")}, t0)
	})
	if err := try(func(ctx context.Context, tx store.Tx) error { return tx.Expand(ctx, rows[0].ID, nil, t0) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second Expand: %v, want ErrConflict", err)
	}
	if err := try(func(ctx context.Context, tx store.Tx) error { return tx.Expand(ctx, 999, nil, t0) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Expand of no row: %v, want ErrNotFound", err)
	}
	// A retried expansion that meets a key queued already leaves it out.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.Expand(ctx, rows[1].ID, []outbox.Message{msg("email", "so@example.org", "k1")}, t0)
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if left, err := tx.Unexpanded(ctx, "alert", 10); err != nil || len(left) != 0 {
			t.Errorf("Unexpanded after Expand = %+v, %v; want none", left, err)
		}
		if left, err := tx.Unexpanded(ctx, "notice", 10); err != nil || len(left) != 1 {
			t.Errorf("Unexpanded notices = %+v, %v; want the one, untouched", left, err)
		}
		return nil
	})

	// The queue's depth and oldest, by channel.
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		st, err := tx.DeliveryStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]outbox.ChannelStats{"email": {Pending: 1, Oldest: t0}, "webhook": {Pending: 1, Oldest: t0}}
		if len(st.Channels) != 2 || !equalStats(st.Channels["email"], want["email"]) || !equalStats(st.Channels["webhook"], want["webhook"]) {
			t.Errorf("DeliveryStats before any send = %+v, want %+v", st.Channels, want)
		}
		return nil
	})

	// Owner a claims both; b gets nothing while a's lease holds.
	got := claim("a", t0, 10)
	if len(got) != 2 || got[0].Key != "k1" || got[1].Key != "k2" || got[0].Tries != 1 || got[0].LeaseOwner != "a" ||
		!got[0].LeaseUntil.Equal(t0.Add(time.Minute)) || got[0].Channel != "email" || got[0].Recipient != "so@example.org" ||
		got[1].Status != outbox.StatusPending || string(got[0].Payload) != `{"n":0}` || got[0].Source != rows[0].ID {
		t.Fatalf("Claim = %+v, want k1 and k2 leased to a", got)
	}
	email, hook := got[0].ID, got[1].ID
	if again := claim("b", t0.Add(30*time.Second), 10); len(again) != 0 {
		t.Fatalf("second claimer got %+v while the lease holds", again)
	}
	if err := try(func(ctx context.Context, tx store.Tx) error {
		return tx.MarkFailed(ctx, email, "b", "timeout", t0, false)
	}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("MarkFailed by another owner: %v, want ErrConflict", err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.MarkFailed(ctx, email, "a", "http 500", t0.Add(2*time.Minute), false); err != nil {
			return err
		}
		return tx.MarkSent(ctx, hook, t0.Add(time.Second))
	})
	if err := try(func(ctx context.Context, tx store.Tx) error { return tx.MarkSent(ctx, hook, t0) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second MarkSent: %v, want ErrNotFound", err)
	}
	if got := claim("b", t0.Add(90*time.Second), 10); len(got) != 0 {
		t.Fatalf("Claim before the retry is due = %+v, want none", got)
	}
	// b claims the retry, then dies; a reclaims it once b's lease expires.
	got = claim("b", t0.Add(2*time.Minute), 10)
	if len(got) != 1 || got[0].ID != email || got[0].Tries != 2 || got[0].LastError != "http 500" || got[0].Failures != 1 {
		t.Fatalf("retry claim = %+v", got)
	}
	if got := claim("a", t0.Add(2*time.Minute+30*time.Second), 10); len(got) != 0 {
		t.Fatalf("claim under b's lease = %+v, want none", got)
	}
	got = claim("a", t0.Add(3*time.Minute), 10)
	if len(got) != 1 || got[0].ID != email || got[0].Tries != 3 || got[0].LeaseOwner != "a" {
		t.Fatalf("claim after b's lease expired = %+v, want the message", got)
	}
	if err := try(func(ctx context.Context, tx store.Tx) error {
		return tx.MarkFailed(ctx, email, "b", "timeout", t0, false)
	}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("MarkFailed by the expired owner: %v, want ErrConflict", err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.MarkFailed(ctx, email, "a", "smtp 550", t0.Add(3*time.Minute), true)
	})
	if got := claim("a", t0.Add(time.Hour), 10); len(got) != 0 {
		t.Fatalf("claim of sent and dead messages = %+v, want none", got)
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		ms, err := tx.Messages(ctx, 0, 10)
		if err != nil || len(ms) != 2 {
			t.Fatalf("Messages = %+v, %v", ms, err)
		}
		if m := ms[0]; m.Status != outbox.StatusDead || m.LastError != "smtp 550" || m.Failures != 2 || m.LeaseOwner != "" || !m.LeaseUntil.IsZero() || !m.Sent.IsZero() {
			t.Errorf("dead message = %+v", m)
		}
		if m := ms[1]; m.Status != outbox.StatusSent || !m.Sent.Equal(t0.Add(time.Second)) || m.Failures != 0 || !m.Created.Equal(t0) {
			t.Errorf("sent message = %+v", m)
		}
		st, err := tx.DeliveryStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]outbox.ChannelStats{"email": {Dead: 1, Failures: 2}, "webhook": {Sent: 1}}
		if st.Unexpanded != 1 || !st.OldestUnexpanded.Equal(t0.Add(time.Second)) || len(st.Channels) != 2 ||
			st.Channels["email"] != want["email"] || st.Channels["webhook"] != want["webhook"] {
			t.Errorf("DeliveryStats = %+v, want 1 unexpanded and %+v", st, want)
		}
		return nil
	})
}

func equalStats(a, b outbox.ChannelStats) bool {
	return a.Pending == b.Pending && a.Sent == b.Sent && a.Dead == b.Dead && a.Failures == b.Failures && a.Oldest.Equal(b.Oldest)
}

// deliveryClaimOnce: claimers racing on the same due messages never get
// the same one.
func deliveryClaimOnce(t *testing.T, s store.Store) {
	const n = 40
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutOutbox(ctx, "alert", []byte(`{}`), t0); err != nil {
			return err
		}
		rows, err := tx.Unexpanded(ctx, "alert", 1)
		if err != nil {
			return err
		}
		var msgs []outbox.Message
		for i := range n {
			msgs = append(msgs, outbox.Message{Kind: "alert", Channel: "webhook", Recipient: "https://hook.example", Key: fmt.Sprint("k", i), Payload: []byte(`{}`)})
		}
		return tx.Expand(ctx, rows[0].ID, msgs, t0)
	})
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for w := range 8 {
		owner := fmt.Sprint("node-", w)
		wg.Go(func() {
			for {
				var got []outbox.Message
				if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) (err error) {
					got, err = tx.Claim(ctx, owner, t0, time.Hour, 3)
					return err
				}); err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					if other, ok := seen[m.ID]; ok {
						t.Errorf("message %d claimed by %s and %s", m.ID, other, owner)
					}
					seen[m.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("claimed %d messages, want %d", len(seen), n)
	}
}

// deliveryPutMessage: a message queued directly (a notice) is due at its
// Next, not before, keeps its creation time, and a second one with the
// same key is left out.
func deliveryPutMessage(t *testing.T, s store.Store) {
	m := &outbox.Message{Kind: "notice", Channel: outbox.ChannelPerson, Recipient: "sub_x", Key: "notice-7",
		Payload: []byte(`{"seq":7}`), Next: t0.Add(time.Hour), Created: t0}
	for range 2 {
		update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutMessage(ctx, m) })
	}
	claim := func(now time.Time) []outbox.Message {
		var got []outbox.Message
		update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
			got, err = tx.Claim(ctx, "a", now, time.Minute, 10)
			return err
		})
		return got
	}
	if got := claim(t0.Add(59 * time.Minute)); len(got) != 0 {
		t.Fatalf("claim before Next = %+v, want none", got)
	}
	got := claim(t0.Add(time.Hour))
	if len(got) != 1 || got[0].Key != "notice-7" || got[0].Source != 0 || got[0].Channel != outbox.ChannelPerson ||
		got[0].Recipient != "sub_x" || !got[0].Created.Equal(t0) || !got[0].Next.Equal(t0.Add(time.Hour)) || string(got[0].Payload) != `{"seq":7}` {
		t.Fatalf("claim at Next = %+v, want the one notice", got)
	}
	// SentKeys: a pending message is not sent; once sent, its key is.
	sent := func() map[string]bool {
		var out map[string]bool
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			out, err = tx.SentKeys(ctx, []string{"notice-7", "notice-8", "x'); --"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := sent(); len(got) != 0 {
		t.Errorf("SentKeys of a pending message = %v, want none", got)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.MarkSent(ctx, got[0].ID, t0.Add(time.Hour)) })
	if got := sent(); len(got) != 1 || !got["notice-7"] {
		t.Errorf("SentKeys once sent = %v, want notice-7 only", got)
	}
}

// deliveryPrune: sent messages older than the cut go, at most limit at a
// time; pending and dead ones stay.
func deliveryPrune(t *testing.T, s store.Store) {
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for i := range 5 {
			m := &outbox.Message{Kind: "notice", Channel: outbox.ChannelPerson, Recipient: "sub_x", Key: fmt.Sprint("p", i), Payload: []byte(`{}`), Next: t0, Created: t0}
			if err := tx.PutMessage(ctx, m); err != nil {
				return err
			}
		}
		got, err := tx.Claim(ctx, "a", t0, time.Minute, 10)
		if err != nil || len(got) != 5 {
			return fmt.Errorf("claim: %d, %v", len(got), err)
		}
		for i, m := range got[:4] {
			if err := tx.MarkSent(ctx, m.ID, t0.Add(time.Duration(i)*time.Hour)); err != nil {
				return err
			}
		}
		return tx.MarkFailed(ctx, got[4].ID, "a", "smtp 550", t0, true)
	})
	prune := func(before time.Time, limit int) int {
		var n int
		update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
			n, err = tx.PruneSent(ctx, before, limit)
			return err
		})
		return n
	}
	if n := prune(t0.Add(150*time.Minute), 2); n != 2 {
		t.Errorf("first prune: %d, want 2 (the limit)", n)
	}
	if n := prune(t0.Add(150*time.Minute), 10); n != 1 {
		t.Errorf("second prune: %d, want the third sent before the cut", n)
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		ms, err := tx.Messages(ctx, 0, 10)
		if err != nil || len(ms) != 2 || ms[0].Status != outbox.StatusSent || ms[1].Status != outbox.StatusDead {
			t.Errorf("left after pruning: %+v, %v; want the last sent and the dead", ms, err)
		}
		return nil
	})
}
