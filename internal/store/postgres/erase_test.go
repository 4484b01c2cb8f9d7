package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestErasedOnceAcrossNodes: two nodes erase the same record at once; the
// second waits on the first's row lock and then finds it erased
// (ErrNotFound), so that what an erasure counts (the statistics' live and
// retained cells) is counted once.
func TestErasedOnceAcrossNodes(t *testing.T) {
	ctx := context.Background()
	nodes := sharedStores(t, 2, testIDs(t))
	a := bulkRows(t, nodes[0], 3)[0]
	if err := nodes[0].Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, a) }); err != nil {
		t.Fatal(err)
	}
	erasing, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- nodes[0].Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.EraseSubject(ctx, a.ID, time.Now()); err != nil {
				return err
			}
			close(erasing)
			<-release // holds the row's lock
			return nil
		})
	}()
	<-erasing
	second := make(chan error, 1)
	go func() {
		second <- nodes[1].Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.EraseSubject(ctx, a.ID, time.Now()) })
	}()
	time.Sleep(200 * time.Millisecond) // the second is waiting on the row
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first erasure: %v", err)
	}
	if err := <-second; !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second erasure at once, on another node: %v, want ErrNotFound", err)
	}
}

// TestVaultErasesOnceAcrossNodes: two nodes' vaults erase the same record
// at once. One erases it; the other is told it is not there (a refusal,
// deny:not_found, not a store failure), and the log holds one allowed
// erasure.
func TestVaultErasesOnceAcrossNodes(t *testing.T) {
	ctx := context.Background()
	nodes, stores := vaultNodes(t, 2, nil)
	st := stores[0]
	hr := identity.Actor{ID: "op_hr", Role: "hr-officer", Unit: "ac-versailles", Origin: "10.0.0.2"}
	for round := range 5 {
		id, err := nodes[0].Create(ctx, hr, "ac-versailles", synth.Make(41, round).Fields)
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, len(nodes))
		for _, v := range nodes {
			go func() { errs <- v.Erase(ctx, hr, id, "art. 17") }()
		}
		var ok, gone int
		for range nodes {
			switch err := <-errs; {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrNotFound):
				gone++
			default:
				t.Fatalf("round %d: an erasure failed: %v", round, err)
			}
		}
		if ok != 1 || gone != 1 {
			t.Fatalf("round %d: %d erasures, %d told not found; want 1 and 1", round, ok, gone)
		}
		// Every entry written, past the log's gap-free prefix too (each
		// node numbers from blocks of its own), straight from the table.
		rows, err := st.pool.Query(ctx, `SELECT leaf FROM audit ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		es, err := leaves(rows, nil, 0)
		allowed := 0
		for _, e := range es {
			if e.Action == "erase" && e.Subject == id && e.Decision == "allow" {
				allowed++
			}
		}
		if err != nil || allowed != 1 {
			t.Fatalf("round %d: %d allowed erasures in the log, %v; want 1", round, allowed, err)
		}
	}
}

// TestPurgedOnceAcrossNodes: two nodes' retention passes sweep the same
// due records at once; each record is purged by one of them, so the
// purges add up to the records, not to more.
func TestPurgedOnceAcrossNodes(t *testing.T) {
	ctx := context.Background()
	nodes, _ := vaultNodes(t, 2, func(cfg *config.Config, c *vault.Config) {
		if cfg.Retention.Record == nil {
			t.Fatal("the demo configuration has no retention rule of the record")
		}
		c.Stats, c.Retention = &cfg.Statistics, &vault.Retention{Record: cfg.Retention.Record}
	})
	hr := identity.Actor{ID: "op_hr", Role: "hr-officer", Unit: "ac-versailles", Origin: "10.0.0.2"}
	var rows []vault.ImportRow
	for i := range 300 {
		p := synth.Make(43, i)
		rows = append(rows, vault.ImportRow{Num: i + 2, Unit: p.Unit, Fields: p.Fields})
	}
	if ids, failed, err := nodes[0].Import(ctx, hr, rows); err != nil || len(ids) != len(rows) || len(failed) != 0 {
		t.Fatalf("import: %d, %v, %v", len(ids), failed, err)
	}
	later := time.Now().AddDate(30, 0, 0)
	type result struct {
		p   vault.Purged
		err error
	}
	res := make(chan result, len(nodes))
	for _, v := range nodes {
		go func() {
			_, p, err := v.PurgeBatch(ctx, 0, len(rows), later)
			res <- result{p, err}
		}()
	}
	purged := 0
	for range nodes {
		r := <-res
		if r.err != nil {
			t.Fatalf("a node's purge: %v", r.err)
		}
		purged += r.p.Records
	}
	if purged != len(rows) {
		t.Fatalf("the two passes purged %d records in all, want %d (each once)", purged, len(rows))
	}
}

// TestRequestedErasureRacesAcrossNodes: a handler accepts a person's
// erasure request on one node while an HR officer erases the same record
// on another, at once. The record is erased once; the loser is told, in
// words chosen for it, that the record is gone or the request decided
// (never that the store is unavailable, never an internal error), and the
// request ends accepted or closed with the record.
func TestRequestedErasureRacesAcrossNodes(t *testing.T) {
	ctx := context.Background()
	nodes, stores := vaultNodes(t, 2, func(cfg *config.Config, c *vault.Config) {
		r := cfg.Rights
		c.Rights = &vault.Rights{HandlerRole: r.HandlerRole, RestrictedReaders: r.RestrictedReaders,
			Contacts: rights.Contacts{Controller: r.Controller, DPO: r.DPO, Authority: r.Authority}}
		c.Notices = &vault.Notices{Contacts: cfg.Notices.Contacts, Language: "fr"}
	})
	hr := identity.Actor{ID: "op_hr", Role: "hr-officer", Unit: "ac-versailles", Origin: "10.0.0.2"}
	dpo := identity.Actor{ID: "op_dpo", Role: "dpo", Unit: "dpo-office", Origin: "10.0.0.9"}
	if err := stores[0].Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, a := range []identity.Actor{hr, dpo} {
			if err := tx.PutOperator(ctx, &identity.Operator{ID: a.ID, Username: a.ID, PasswordHash: "x", Role: a.Role, Unit: a.Unit, Created: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		p := synth.Make(47, round)
		id, err := nodes[0].Create(ctx, hr, "ac-versailles", p.Fields)
		if err != nil {
			t.Fatal(err)
		}
		req, err := nodes[1].FileRequest(ctx, vault.Person{Subject: id, Origin: "192.0.2.1"}, rights.Erasure, nil, "")
		if err != nil {
			t.Fatalf("round %d: FileRequest: %v", round, err)
		}
		var accepted, erased error
		var wg sync.WaitGroup
		wg.Go(func() { _, accepted = nodes[0].DecideRequest(ctx, dpo, req.ID, rights.Accept, "") })
		wg.Go(func() {
			if round%2 == 1 {
				time.Sleep(10 * time.Millisecond) // the acceptance's turn to start first
			}
			erased = nodes[1].Erase(ctx, hr, id, "art. 17, by letter")
		})
		wg.Wait()
		// Not found is 404 and decided 409 over HTTP, each with its own
		// words; anything else would be 503 or 500.
		for what, err := range map[string]error{"the acceptance": accepted, "the erasure": erased} {
			if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, vault.ErrDecided) {
				t.Errorf("round %d: %s: %v, want success, not found or decided", round, what, err)
			}
		}
		switch {
		case accepted == nil && erased == nil:
			t.Fatalf("round %d: both erased the record", round)
		case accepted == nil && !errors.Is(erased, store.ErrNotFound):
			t.Errorf("round %d: erasure after the acceptance: %v, want not found", round, erased)
		case erased == nil && !errors.Is(accepted, vault.ErrDecided) && !errors.Is(accepted, store.ErrNotFound):
			t.Errorf("round %d: acceptance after the erasure: %v, want decided (closed) or not found", round, accepted)
		case accepted != nil && erased != nil:
			t.Fatalf("round %d: neither erased the record: %v; %v", round, accepted, erased)
		}
		v, err := nodes[0].OpenRequest(ctx, dpo, req.ID)
		if err != nil || !v.Erased || (v.Status != rights.Accepted && v.Status != rights.Closed) {
			t.Errorf("round %d: the request afterwards: %+v, %v; want accepted or closed, the record erased", round, v, err)
		}
		t.Logf("round %d: acceptance %v; erasure %v; request %s", round, accepted, erased, v.Status)
	}
}
