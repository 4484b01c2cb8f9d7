package deliver_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/deliver/delivertest"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
	"github.com/coffre/coffre/internal/subjectid"
)

// TestNodesShareTheQueue: two nodes (two stores on one PostgreSQL
// database) run their workers at once over 40 alerts to 5 webhook
// contacts: every message is delivered, and none twice (the normal
// case: no node dies).
func TestNodesShareTheQueue(t *testing.T) {
	url := pgtest.Migrated(t, postgres.Digest(), postgres.Migrate)
	ids, err := subjectid.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	hook := delivertest.StartHook(t, secret)
	var to deliver.Recipients
	for i := range 5 {
		to.Webhook = append(to.Webhook, fmt.Sprintf("%s/contact-%d", hook.URL, i))
	}
	c := &clock{t: time.Now()}
	var workers []*deliver.Worker
	var sent [2]atomic.Int64
	for node := range 2 {
		s, err := postgres.Open(ctx, url, postgres.Options{IDs: ids})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		w := newWorker(t, s, c, to, map[string]deliver.Sender{outbox.ChannelWebhook: &counting{Sender: &deliver.Webhook{Secret: secret}, n: &sent[node]}})
		w.Owner, w.Batch, w.Rates = fmt.Sprint("node-", node), 4, map[string]rate.Limit{outbox.ChannelWebhook: 1e6}
		workers = append(workers, w)
		if node == 0 {
			for range 40 {
				raise(t, s, c.now())
			}
		}
	}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for range 3 {
				if err := w.Step(ctx); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for _, r := range hook.Requests() {
		if r.Verified != nil {
			t.Errorf("request not verified: %v", r.Verified)
		}
		seen[r.Header.Get(deliver.HeaderKey)]++
	}
	twice := 0
	for _, n := range seen {
		if n > 1 {
			twice++
		}
	}
	t.Logf("%d requests, %d distinct keys, %d sent twice; node 0 sent %d, node 1 %d", len(hook.Requests()), len(seen), twice, sent[0].Load(), sent[1].Load())
	if sent[0].Load() == 0 || sent[1].Load() == 0 {
		t.Log("one node sent everything: the race was not exercised this time")
	}
	if len(seen) != 200 || twice != 0 {
		t.Errorf("delivered %d distinct messages (%d twice), want 200, none twice", len(seen), twice)
	}
}

// counting counts the sends of a sender.
type counting struct {
	deliver.Sender
	n *atomic.Int64
}

func (c *counting) Send(ctx context.Context, m outbox.Message) error {
	c.n.Add(1)
	return c.Sender.Send(ctx, m)
}
