-- Breach response (issue 15, package incident). incidents is the breach
-- register (GDPR art. 33(5)): one row an incident, its document (JSON:
-- scope, dates, impact counts, reports; ids and counts only, never a
-- person's data) and version, which a change writes over the version it
-- read. incident_events is each incident's timeline, append-only. Times
-- are Unix microseconds.
CREATE TABLE incidents (
	id      TEXT PRIMARY KEY,
	opened  INTEGER NOT NULL,
	doc     BLOB NOT NULL,
	version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE incident_events (
	incident TEXT NOT NULL,
	seq      INTEGER NOT NULL,
	at       INTEGER NOT NULL,
	actor    TEXT NOT NULL,
	kind     TEXT NOT NULL,
	detail   TEXT NOT NULL,
	audit    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (incident, seq)
) WITHOUT ROWID;
