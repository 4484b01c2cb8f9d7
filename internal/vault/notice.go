package vault

import (
	"context"
	"encoding/json"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/policy"
)

// noticeOf is the notice of the access a made, audited as e, under purpose
// pu, told in mode: ids and field names only. The operator is named only
// when the purpose's policy says so.
func noticeOf(a identity.Actor, e *audit.Entry, pu *policy.Purpose, mode string) notice.Notice {
	n := notice.Notice{Subject: e.Subject, Seq: e.Seq, Time: e.Time, Action: e.Action, Purpose: e.Purpose, Fields: e.Fields,
		Role: a.Role, Unit: a.Unit, Mode: mode}
	if pu.NoticeNamesOperator {
		n.Operator = a.ID
	}
	return n
}

// queueNotice queues notice n to its person in the access's transaction,
// due at now, keyed by its audit entry (notice.Key): a second queueing of
// the same entry's notice is left out, whichever path queues it first.
// Every notice of an access goes through here (today the break-glass
// read's, sent at once whatever the purpose's notice mode).
func queueNotice(ctx context.Context, q outbox.Queue, n notice.Notice, now time.Time) error {
	payload, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return q.PutMessage(ctx, &outbox.Message{Kind: notice.Kind, Channel: outbox.ChannelPerson, Recipient: n.Subject,
		Key: notice.Key(n.Seq), Payload: payload, Next: now, Created: now})
}

// queuePerson queues a message of kind to a person (their id), keyed by
// key, with payload v (ids only), due at now.
func queuePerson(ctx context.Context, q outbox.Queue, kind, subject, key string, v any, now time.Time) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return q.PutMessage(ctx, &outbox.Message{Kind: kind, Channel: outbox.ChannelPerson, Recipient: subject, Key: key, Payload: payload, Next: now, Created: now})
}
