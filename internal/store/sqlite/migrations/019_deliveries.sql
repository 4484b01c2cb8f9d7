-- Delivery (issue 14, package outbox): an outbox row is an event; the
-- delivery worker expands it into one message per channel and recipient
-- and sets the row's sent flag, which from here on means "expanded".
-- Each message has an idempotency key (unique), a status (pending, sent,
-- dead), its tries, when it is due, a lease (owner, until) while a
-- worker sends it, the class of its last error, and when it was sent.
CREATE INDEX outbox_unexpanded ON outbox (kind, id) WHERE sent = 0;
CREATE TABLE deliveries (
	id          INTEGER PRIMARY KEY,
	source      INTEGER NOT NULL,
	kind        TEXT NOT NULL,
	channel     TEXT NOT NULL,
	recipient   TEXT NOT NULL,
	idem        TEXT NOT NULL UNIQUE,
	payload     BLOB NOT NULL,
	status      TEXT NOT NULL DEFAULT 'pending',
	tries       INTEGER NOT NULL DEFAULT 0,
	failures    INTEGER NOT NULL DEFAULT 0,
	next_at     INTEGER NOT NULL,
	lease_owner TEXT NOT NULL DEFAULT '',
	lease_until INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	created     INTEGER NOT NULL,
	sent_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_due ON deliveries (next_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_status ON deliveries (channel, status);
