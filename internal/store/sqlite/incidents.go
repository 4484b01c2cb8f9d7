package sqlite

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
	res, err := t.exec(ctx, "putIncident", i.ID, micros(i.Opened), doc)
	if err != nil {
		return fmt.Errorf("put incident: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("put incident: %w", store.ErrConflict)
	}
	return nil
}

func (t *tx) GetIncident(ctx context.Context, id string) (*incident.Incident, error) {
	i, err := incident.Scan(t.row(ctx, "getIncident", id))
	if err != nil {
		return nil, notFound(err, "get incident")
	}
	return i, nil
}

func (t *tx) Incidents(ctx context.Context) ([]incident.Incident, error) {
	rows, err := t.rows(ctx, "incidents")
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
	res, err := t.exec(ctx, "updateIncident", doc, i.ID, i.Version)
	if err != nil {
		return fmt.Errorf("update incident: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		if err := t.row(ctx, "incidentExists", i.ID).Scan(&one); err != nil {
			return notFound(err, "update incident")
		}
		return fmt.Errorf("update incident: %w", store.ErrConflict)
	}
	i.Version = next.Version
	return nil
}

func (t *tx) AppendEvent(ctx context.Context, e *incident.Event) error {
	var one int
	if err := t.row(ctx, "incidentExists", e.Incident).Scan(&one); err != nil {
		return notFound(err, "append incident event")
	}
	if err := t.row(ctx, "appendEvent", e.Incident, micros(e.At), e.Actor, e.Kind, e.Detail, e.Audit).Scan(&e.Seq); err != nil {
		return fmt.Errorf("append incident event: %w", err)
	}
	return nil
}

func (t *tx) Events(ctx context.Context, id string) ([]incident.Event, error) {
	rows, err := t.rows(ctx, "events", id)
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
