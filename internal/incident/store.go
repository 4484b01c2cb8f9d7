package incident

import "context"

// Store keeps incidents and their timelines. The stores implement it
// (store.Tx embeds it).
type Store interface {
	// PutIncident stores a new incident (Version 1); ErrConflict if its
	// id exists.
	PutIncident(ctx context.Context, i *Incident) error
	// GetIncident returns incident id; ErrNotFound if there is none.
	GetIncident(ctx context.Context, id string) (*Incident, error)
	// Incidents returns every incident, the breach register, oldest
	// first.
	Incidents(ctx context.Context) ([]Incident, error)
	// UpdateIncident writes i if the stored incident is still at
	// i.Version, and sets i.Version to the next; ErrConflict if it moved
	// on, ErrNotFound if there is none.
	UpdateIncident(ctx context.Context, i *Incident) error
	// AppendEvent adds e to its incident's timeline, setting e.Seq.
	AppendEvent(ctx context.Context, e *Event) error
	// Events returns an incident's timeline, in order.
	Events(ctx context.Context, incident string) ([]Event, error)
}
