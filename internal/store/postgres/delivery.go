package postgres

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
)

// deliveryColumns are a message's columns, in scanDeliveries' order.
const deliveryColumns = `id, source, kind, channel, recipient, idem, payload, status, tries, failures, next_at, lease_owner, lease_until, last_error, created, sent_at`

func scanDeliveries(rows pgx.Rows, err error, what string) ([]outbox.Message, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []outbox.Message
	for rows.Next() {
		var m outbox.Message
		var tries, failures int32
		var next, until, created, sent int64
		if err := rows.Scan(&m.ID, &m.Source, &m.Kind, &m.Channel, &m.Recipient, &m.Key, &m.Payload, &m.Status, &tries, &failures,
			&next, &m.LeaseOwner, &until, &m.LastError, &created, &sent); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		m.Tries, m.Failures = int(tries), int(failures)
		m.Next, m.LeaseUntil, m.Created, m.Sent = fromMicros(next), zeroOrMicros(until), fromMicros(created), zeroOrMicros(sent)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

func (t *tx) Unexpanded(ctx context.Context, kind string, limit int) ([]outbox.Row, error) {
	if err := t.flushMessages(ctx); err != nil {
		return nil, err
	}
	rows, err := t.q.Query(ctx, `SELECT id, ts, kind, payload FROM outbox WHERE kind = $1 AND NOT sent ORDER BY id LIMIT $2`, kind, limit)
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

// Expand's UPDATE locks the row: a second worker expanding it at the same
// time waits, then finds it expanded.
func (t *tx) Expand(ctx context.Context, row int64, msgs []outbox.Message, at time.Time) error {
	if err := t.flushMessages(ctx); err != nil {
		return err
	}
	n, err := t.exec(ctx, "expand outbox row", `UPDATE outbox SET sent = TRUE WHERE id = $1 AND NOT sent`, row)
	if err != nil {
		return err
	}
	if n == 0 {
		var one int
		if err := t.q.QueryRow(ctx, `SELECT 1 FROM outbox WHERE id = $1`, row).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("expand outbox row: %w", store.ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("expand outbox row: %w", err)
		}
		return fmt.Errorf("expand outbox row: expanded already: %w", store.ErrConflict)
	}
	for _, m := range msgs {
		if _, err := t.exec(ctx, "expand outbox row", `INSERT INTO deliveries (source, kind, channel, recipient, idem, payload, next_at, created)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (idem) DO NOTHING`,
			row, m.Kind, m.Channel, m.Recipient, m.Key, m.Payload, micros(at)); err != nil {
			return err
		}
	}
	return nil
}

// PutMessage queues m. In a group commit the row is written with the
// group's others just before COMMIT (see flushMessages): the messages of a
// group's reads, one a read, cost one statement.
func (t *tx) PutMessage(ctx context.Context, m *outbox.Message) error {
	if t.g != nil {
		c := *m
		c.Payload = bytes.Clone(m.Payload)
		t.g.msgs = append(t.g.msgs, &c)
		return nil
	}
	_, err := t.exec(ctx, "put message", `INSERT INTO deliveries (source, kind, channel, recipient, idem, payload, next_at, created)
		VALUES (0, $1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idem) DO NOTHING`,
		m.Kind, m.Channel, m.Recipient, m.Key, m.Payload, micros(m.Next), micros(m.Created))
	return err
}

// flushMessages writes the group's pending messages in one statement, in
// the order they were queued. Every other method on deliveries calls it
// first, so that the transaction sees its own messages.
func (t *tx) flushMessages(ctx context.Context) error {
	var p pipeline
	t.queueMessages(&p)
	return p.send(ctx, t.q)
}

// queueMessages queues the pending messages' statement, if any.
func (t *tx) queueMessages(p *pipeline) {
	if t.g == nil || len(t.g.msgs) == 0 {
		return
	}
	n := len(t.g.msgs)
	kinds, channels, recipients, keys := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	payloads, next, created := make([][]byte, n), make([]int64, n), make([]int64, n)
	for i, m := range t.g.msgs {
		kinds[i], channels[i], recipients[i], keys[i] = m.Kind, m.Channel, m.Recipient, m.Key
		payloads[i], next[i], created[i] = m.Payload, micros(m.Next), micros(m.Created)
	}
	p.exec("put messages", `INSERT INTO deliveries (source, kind, channel, recipient, idem, payload, next_at, created)
		SELECT 0, kind, channel, recipient, idem, payload, next_at, created
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bigint[], $7::bigint[]) WITH ORDINALITY
			AS u(kind, channel, recipient, idem, payload, next_at, created, n)
		ORDER BY n ON CONFLICT (idem) DO NOTHING`,
		kinds, channels, recipients, keys, payloads, next, created)
	t.g.msgs = nil
}

// Claim locks the due messages it takes with FOR UPDATE SKIP LOCKED: a
// message another node's transaction is claiming is skipped, not waited
// for, and once that transaction commits its lease keeps the message
// from being claimed again until it expires.
func (t *tx) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]outbox.Message, error) {
	if err := t.flushMessages(ctx); err != nil {
		return nil, err
	}
	rows, err := t.q.Query(ctx, `UPDATE deliveries d SET lease_owner = $1, lease_until = $3, tries = d.tries + 1
		FROM (SELECT id FROM deliveries WHERE status = 'pending' AND next_at <= $2 AND lease_until <= $2
			ORDER BY next_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) c
		WHERE d.id = c.id RETURNING `+prefixed("d.", deliveryColumns),
		owner, micros(now), micros(now.Add(lease)), limit)
	out, err := scanDeliveries(rows, err, "claim deliveries")
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b outbox.Message) int {
		return cmp.Or(a.Next.Compare(b.Next), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// prefixed qualifies each of a comma-separated list of columns.
func prefixed(p, cols string) string {
	var out []byte
	for i, c := range []byte(cols) {
		if i == 0 || cols[i-1] == ' ' {
			out = append(out, p...)
		}
		out = append(out, c)
	}
	return string(out)
}

func (t *tx) MarkSent(ctx context.Context, id int64, at time.Time) error {
	if err := t.flushMessages(ctx); err != nil {
		return err
	}
	n, err := t.exec(ctx, "mark sent", `UPDATE deliveries SET status = 'sent', sent_at = $1, lease_owner = '', lease_until = 0 WHERE id = $2 AND status = 'pending'`, micros(at), id)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("mark sent: no pending message %d: %w", id, store.ErrNotFound)
	}
	return nil
}

func (t *tx) MarkFailed(ctx context.Context, id int64, owner, class string, next time.Time, dead bool) error {
	if err := t.flushMessages(ctx); err != nil {
		return err
	}
	n, err := t.exec(ctx, "mark failed", `UPDATE deliveries SET status = CASE WHEN $5 THEN 'dead' ELSE 'pending' END, next_at = $4, last_error = $3,
		failures = failures + 1, lease_owner = '', lease_until = 0 WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`,
		id, owner, class, micros(next), dead)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("mark failed: message %d is not leased to this worker: %w", id, store.ErrConflict)
	}
	return nil
}

func (t *tx) Messages(ctx context.Context, after int64, limit int) ([]outbox.Message, error) {
	if err := t.flushMessages(ctx); err != nil {
		return nil, err
	}
	rows, err := t.q.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	return scanDeliveries(rows, err, "messages")
}

func (t *tx) DeliveryStats(ctx context.Context) (outbox.Stats, error) {
	if err := t.flushMessages(ctx); err != nil {
		return outbox.Stats{}, err
	}
	st := outbox.Stats{Channels: map[string]outbox.ChannelStats{}}
	var oldest int64
	if err := t.q.QueryRow(ctx, `SELECT count(*), coalesce(min(ts), 0) FROM outbox WHERE NOT sent`).Scan(&st.Unexpanded, &oldest); err != nil {
		return st, fmt.Errorf("delivery stats: %w", err)
	}
	st.OldestUnexpanded = zeroOrMicros(oldest)
	// The totals, kept by a trigger (migration 012), then the queue from
	// its partial index: neither reads the messages sent long ago.
	rows, err := t.q.Query(ctx, `SELECT channel, sent, dead, failures FROM delivery_counts`)
	if err != nil {
		return st, fmt.Errorf("delivery stats: %w", err)
	}
	for rows.Next() {
		var channel string
		var cs outbox.ChannelStats
		if err := rows.Scan(&channel, &cs.Sent, &cs.Dead, &cs.Failures); err != nil {
			rows.Close()
			return st, fmt.Errorf("delivery stats: %w", err)
		}
		st.Channels[channel] = cs
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("delivery stats: %w", err)
	}
	rows, err = t.q.Query(ctx, `SELECT channel, count(*), min(created) FROM deliveries WHERE status = 'pending' GROUP BY channel`)
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
	if err := t.flushMessages(ctx); err != nil {
		return 0, err
	}
	n, err := t.exec(ctx, "prune sent", `DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE status = 'sent' AND sent_at < $1 LIMIT $2)`,
		micros(before), limit)
	return int(n), err
}

func (t *tx) SentKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	if err := t.flushMessages(ctx); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := t.q.Query(ctx, `SELECT idem FROM deliveries WHERE status = 'sent' AND idem = ANY($1)`, keys)
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
