-- Coffre SQLite schema, version 1.
CREATE TABLE subjects (
	id          TEXT NOT NULL UNIQUE,
	unit        TEXT NOT NULL,
	dek         BLOB,
	dek_version INTEGER NOT NULL,
	fields      BLOB,
	created     INTEGER NOT NULL,
	updated     INTEGER NOT NULL,
	erased      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE blind_index (
	hash    BLOB PRIMARY KEY,
	subject TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE audit (
	seq      INTEGER PRIMARY KEY,
	ts       INTEGER NOT NULL,
	actor    TEXT NOT NULL,
	action   TEXT NOT NULL,
	subject  TEXT NOT NULL DEFAULT '',
	purpose  TEXT NOT NULL DEFAULT '',
	reason   TEXT NOT NULL DEFAULT '',
	fields   TEXT NOT NULL DEFAULT '',
	decision TEXT NOT NULL,
	origin   TEXT NOT NULL DEFAULT ''
);
-- No index on subject or actor: a random-key insert per read would write a
-- page per read at commit. Per-subject and per-actor queries are rare
-- (a person's access history, breach impact) and scan, until the audit
-- integrator maintains such indexes off the read path.

CREATE TABLE operators (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	totp_secret   BLOB,
	totp_step     INTEGER NOT NULL DEFAULT 0,
	role          TEXT NOT NULL,
	unit          TEXT NOT NULL,
	created       INTEGER NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE sessions (
	hash      BLOB PRIMARY KEY,
	kind      TEXT NOT NULL,
	operator  TEXT NOT NULL REFERENCES operators(id),
	created   INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	expires   INTEGER NOT NULL,
	attempts  INTEGER NOT NULL DEFAULT 0,
	origin    TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX sessions_operator ON sessions(operator);
