package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
)

// deliveryColumns are a message's columns, in scanDelivery's order.
const deliveryColumns = `id, source, kind, channel, recipient, idem, payload, status, tries, failures, next_at, lease_owner, lease_until, last_error, created, sent_at`

func scanDelivery(rows *sql.Rows) (outbox.Message, error) {
	var m outbox.Message
	var next, until, created, sent int64
	err := rows.Scan(&m.ID, &m.Source, &m.Kind, &m.Channel, &m.Recipient, &m.Key, &m.Payload, &m.Status, &m.Tries, &m.Failures,
		&next, &m.LeaseOwner, &until, &m.LastError, &created, &sent)
	m.Next, m.LeaseUntil, m.Created, m.Sent = fromMicros(next), zeroOrMicros(until), fromMicros(created), zeroOrMicros(sent)
	return m, err
}

func (t *tx) scanDeliveries(rows *sql.Rows, err error, what string) ([]outbox.Message, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []outbox.Message
	for rows.Next() {
		m, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

func (t *tx) Unexpanded(ctx context.Context, kind string, limit int) ([]outbox.Row, error) {
	rows, err := t.rows(ctx, "unexpanded", kind, limit)
	if err != nil {
		return nil, fmt.Errorf("unexpanded outbox: %w", err)
	}
	defer rows.Close()
	var out []outbox.Row
	for rows.Next() {
		var r outbox.Row
		var ts int64
		if err := rows.Scan(&r.ID, &ts, &r.Kind, &r.Payload); err != nil {
			return nil, fmt.Errorf("unexpanded outbox: %w", err)
		}
		r.Time = fromMicros(ts)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("unexpanded outbox: %w", err)
	}
	return out, nil
}

func (t *tx) Expand(ctx context.Context, row int64, msgs []outbox.Message, at time.Time) error {
	res, err := t.exec(ctx, "markExpanded", row)
	if err != nil {
		return fmt.Errorf("expand outbox row: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		if err := t.row(ctx, "outboxExists", row).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("expand outbox row: %w", store.ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("expand outbox row: %w", err)
		}
		return fmt.Errorf("expand outbox row: expanded already: %w", store.ErrConflict)
	}
	for _, m := range msgs {
		if _, err := t.exec(ctx, "putDelivery", row, m.Kind, m.Channel, m.Recipient, m.Key, m.Payload, micros(at)); err != nil {
			return fmt.Errorf("expand outbox row: %w", err)
		}
	}
	return nil
}

func (t *tx) PutMessage(ctx context.Context, m *outbox.Message) error {
	if _, err := t.exec(ctx, "putMessage", m.Kind, m.Channel, m.Recipient, m.Key, m.Payload, micros(m.Next), micros(m.Created)); err != nil {
		return fmt.Errorf("put message: %w", err)
	}
	return nil
}

func (t *tx) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]outbox.Message, error) {
	rows, err := t.rows(ctx, "claimDeliveries", owner, micros(now), micros(now.Add(lease)), limit)
	out, err := t.scanDeliveries(rows, err, "claim deliveries")
	if err != nil {
		return nil, err
	}
	// RETURNING gives no order.
	sortDue(out)
	return out, nil
}

// sortDue orders messages earliest due first, then by id.
func sortDue(ms []outbox.Message) {
	slices.SortFunc(ms, func(a, b outbox.Message) int {
		return cmp.Or(a.Next.Compare(b.Next), cmp.Compare(a.ID, b.ID))
	})
}

func (t *tx) MarkSent(ctx context.Context, id int64, at time.Time) error {
	res, err := t.exec(ctx, "markSent", micros(at), id)
	if err != nil {
		return fmt.Errorf("mark sent: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("mark sent: no pending message %d: %w", id, store.ErrNotFound)
	}
	return nil
}

func (t *tx) MarkFailed(ctx context.Context, id int64, owner, class string, next time.Time, dead bool) error {
	res, err := t.exec(ctx, "markFailed", id, owner, class, micros(next), dead)
	if err != nil {
		return fmt.Errorf("mark failed: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("mark failed: message %d is not leased to this worker: %w", id, store.ErrConflict)
	}
	return nil
}

func (t *tx) Messages(ctx context.Context, after int64, limit int) ([]outbox.Message, error) {
	rows, err := t.rows(ctx, "deliveries", after, limit)
	return t.scanDeliveries(rows, err, "messages")
}

func (t *tx) DeliveryStats(ctx context.Context) (outbox.Stats, error) {
	st := outbox.Stats{Channels: map[string]outbox.ChannelStats{}}
	var oldest int64
	if err := t.row(ctx, "unexpandedStat").Scan(&st.Unexpanded, &oldest); err != nil {
		return st, fmt.Errorf("delivery stats: %w", err)
	}
	st.OldestUnexpanded = zeroOrMicros(oldest)
	// The totals, kept by a trigger (migration 025), then the queue from
	// its partial index: neither reads the messages sent long ago.
	rows, err := t.rows(ctx, "deliveryCounts")
	if err != nil {
		return st, fmt.Errorf("delivery stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var channel string
		var cs outbox.ChannelStats
		if err := rows.Scan(&channel, &cs.Sent, &cs.Dead, &cs.Failures); err != nil {
			return st, fmt.Errorf("delivery stats: %w", err)
		}
		st.Channels[channel] = cs
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("delivery stats: %w", err)
	}
	rows.Close()
	rows, err = t.rows(ctx, "deliveryQueue")
	if err != nil {
		return st, fmt.Errorf("delivery stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var channel string
		var n, oldest int64
		if err := rows.Scan(&channel, &n, &oldest); err != nil {
			return st, fmt.Errorf("delivery stats: %w", err)
		}
		cs := st.Channels[channel]
		cs.Pending, cs.Oldest = n, fromMicros(oldest)
		st.Channels[channel] = cs
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("delivery stats: %w", err)
	}
	return st, nil
}

func (t *tx) PruneSent(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := t.exec(ctx, "pruneSent", micros(before), limit)
	if err != nil {
		return 0, fmt.Errorf("prune sent: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

func (t *tx) SentKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(keys) == 0 {
		return out, nil
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	rows, err := t.rows(ctx, "sentKeys", string(list))
	if err != nil {
		return nil, fmt.Errorf("sent keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("sent keys: %w", err)
		}
		out[k] = true
	}
	return out, rows.Err()
}
