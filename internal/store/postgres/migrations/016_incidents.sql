-- Breach response (issue 15, package incident): the breach register and
-- each incident's timeline, as SQLite's migration 026 (which see).
CREATE TABLE incidents (
	id      TEXT PRIMARY KEY,
	opened  BIGINT NOT NULL,
	doc     BYTEA NOT NULL,
	version INTEGER NOT NULL
);
CREATE TABLE incident_events (
	incident TEXT NOT NULL,
	seq      INTEGER NOT NULL,
	at       BIGINT NOT NULL,
	actor    TEXT NOT NULL,
	kind     TEXT NOT NULL,
	detail   TEXT NOT NULL,
	audit    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (incident, seq)
);
