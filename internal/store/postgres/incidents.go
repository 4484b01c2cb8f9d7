package postgres

import (
	"context"
	"fmt"

	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/store"
)

func (t *tx) PutIncident(ctx context.Context, i *incident.Incident) error {
	i.Version = 1
	doc, err := incident.Encode(i)
	if err != nil {
		return fmt.Errorf("put incident: %w", err)
	}
	return t.insertOne(ctx, "put incident", `INSERT INTO incidents (id, opened, doc, version) VALUES ($1, $2, $3, 1)`, i.ID, micros(i.Opened), doc)
}

func (t *tx) GetIncident(ctx context.Context, id string) (*incident.Incident, error) {
	i, err := incident.Scan(t.q.QueryRow(ctx, `SELECT doc, version FROM incidents WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "get incident")
	}
	return i, nil
}

func (t *tx) Incidents(ctx context.Context) ([]incident.Incident, error) {
	rows, err := t.q.Query(ctx, `SELECT doc, version FROM incidents ORDER BY opened, id`)
	if err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	defer rows.Close()
	var out []incident.Incident
	for rows.Next() {
		i, err := incident.Scan(rows)
		if err != nil {
			return nil, fmt.Errorf("incidents: %w", err)
		}
		out = append(out, *i)
	}
	return out, rows.Err()
}

func (t *tx) UpdateIncident(ctx context.Context, i *incident.Incident) error {
	next := *i
	next.Version++
	doc, err := incident.Encode(&next)
	if err != nil {
		return fmt.Errorf("update incident: %w", err)
	}
	n, err := t.exec(ctx, "update incident", `UPDATE incidents SET doc = $1, version = version + 1 WHERE id = $2 AND version = $3`, doc, i.ID, i.Version)
	if err != nil {
		return err
	}
	if n == 0 {
		var one int
		if err := t.q.QueryRow(ctx, `SELECT 1 FROM incidents WHERE id = $1`, i.ID).Scan(&one); err != nil {
			return notFound(err, "update incident")
		}
		return fmt.Errorf("update incident: %w", store.ErrConflict)
	}
	i.Version = next.Version
	return nil
}

func (t *tx) AppendEvent(ctx context.Context, e *incident.Event) error {
	// The incident's row, locked, orders the appends of concurrent
	// transactions.
	var one int
	if err := t.q.QueryRow(ctx, `SELECT 1 FROM incidents WHERE id = $1 FOR UPDATE`, e.Incident).Scan(&one); err != nil {
		return notFound(err, "append incident event")
	}
	err := t.q.QueryRow(ctx, `INSERT INTO incident_events (incident, seq, at, actor, kind, detail, audit)
		SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5, $6 FROM incident_events WHERE incident = $1 RETURNING seq`,
		e.Incident, micros(e.At), e.Actor, e.Kind, e.Detail, e.Audit).Scan(&e.Seq)
	if err != nil {
		return fmt.Errorf("append incident event: %w", err)
	}
	return nil
}

func (t *tx) Events(ctx context.Context, id string) ([]incident.Event, error) {
	rows, err := t.q.Query(ctx, `SELECT incident, seq, at, actor, kind, detail, audit FROM incident_events WHERE incident = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("incident events: %w", err)
	}
	defer rows.Close()
	var out []incident.Event
	for rows.Next() {
		var e incident.Event
		var at int64
		if err := rows.Scan(&e.Incident, &e.Seq, &at, &e.Actor, &e.Kind, &e.Detail, &e.Audit); err != nil {
			return nil, fmt.Errorf("incident events: %w", err)
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
