package main

import (
	"context"
	"time"

	"github.com/coffre/coffre/internal/pace"
)

// pendingEvery is how often serve marks the consent requests whose time
// ran out and applies the contact changes whose cooling-off is over. A
// request's status is computed when it is read, so nothing waits for the
// pass: it audits each expiry close to its time, and moves the record and
// its blind index within a minute of a change's date.
const pendingEvery = time.Minute

// pendingBatch bounds the requests and changes one transaction of the
// pass takes.
const pendingBatch = 100

// sweepPending runs the pass now and then every pendingEvery until ctx
// ends; the channel it returns closes when it stops. Each node runs it:
// a request or a change is marked by one transaction, and another node's
// finds it marked already.
func (a *app) sweepPending(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		pace.Every(ctx, pendingEvery, a.log, "consents and contact changes", func(ctx context.Context) error {
			for {
				n, err := a.vault.ExpireConsents(ctx, pendingBatch)
				if err != nil {
					return err
				}
				if n > 0 {
					a.log.Info("consent requests expired", "count", n)
				}
				if n < pendingBatch {
					break
				}
			}
			n, err := a.vault.ApplyContactChanges(ctx, pendingBatch)
			if n > 0 {
				a.log.Info("contact changes applied", "count", n)
			}
			return err
		})
	}()
	return done
}
