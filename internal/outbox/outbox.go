// Package outbox is the transactional outbox: a message (an alert today;
// notices later) is queued in the same transaction as the change that
// caused it, so that it is sent if and only if the change commits.
// Nothing delivers the queue yet.
package outbox

import (
	"context"
	"time"
)

// Queue is where a transaction queues messages.
type Queue interface {
	// PutOutbox queues a message of kind (e.g. "alert") for delivery.
	PutOutbox(ctx context.Context, kind string, payload []byte, at time.Time) error
}
