-- Coffre PostgreSQL schema (SQLite's migration 019): delivery (package
-- outbox). The worker expands an outbox row (an event) into one message
-- per channel and recipient and sets the row's sent flag, which from
-- here on means "expanded". Workers on several nodes claim due messages
-- with FOR UPDATE SKIP LOCKED under a lease (owner, until).
CREATE INDEX outbox_unexpanded ON outbox (kind, id) WHERE NOT sent;
CREATE TABLE deliveries (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	source      BIGINT NOT NULL,
	kind        TEXT NOT NULL,
	channel     TEXT NOT NULL,
	recipient   TEXT NOT NULL,
	idem        TEXT NOT NULL UNIQUE,
	payload     BYTEA NOT NULL,
	status      TEXT NOT NULL DEFAULT 'pending',
	tries       INTEGER NOT NULL DEFAULT 0,
	failures    INTEGER NOT NULL DEFAULT 0,
	next_at     BIGINT NOT NULL,
	lease_owner TEXT NOT NULL DEFAULT '',
	lease_until BIGINT NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	created     BIGINT NOT NULL,
	sent_at     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_due ON deliveries (next_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_status ON deliveries (channel, status);
