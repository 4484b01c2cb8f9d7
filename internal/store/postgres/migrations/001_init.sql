-- Coffre PostgreSQL schema, version 1: the SQLite schema after its
-- migration 009, in PostgreSQL's types. Times are Unix microseconds (UTC),
-- as in SQLite, so both stores read and write the same values.

CREATE TABLE subject_counter (
	last BIGINT NOT NULL -- the last subject seq handed out
);
INSERT INTO subject_counter VALUES (0);

-- A subject made by this store keeps no id: its id is the encryption of
-- seq (package subjectid). id holds an id given from elsewhere.
CREATE TABLE subjects (
	seq         BIGINT PRIMARY KEY,
	id          TEXT,
	unit        TEXT NOT NULL,
	dek         BYTEA,
	dek_version BIGINT NOT NULL,
	fields      BYTEA,
	created     BIGINT NOT NULL,
	updated     BIGINT NOT NULL,
	erased      BOOLEAN NOT NULL DEFAULT FALSE,
	canary      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX subjects_given_id ON subjects (id) WHERE id IS NOT NULL;

CREATE TABLE lookup (
	hash    BYTEA PRIMARY KEY,
	subject BIGINT NOT NULL -- subjects.seq
);

-- One row: the last audit seq. Appending locks it until the transaction
-- ends, which keeps the numbering free of gaps across servers.
CREATE TABLE audit_head (
	seq BIGINT NOT NULL
);
INSERT INTO audit_head VALUES (0);

CREATE TABLE audit (
	seq  BIGINT PRIMARY KEY,
	leaf BYTEA NOT NULL
);

CREATE TABLE checkpoints (
	size          BIGINT PRIMARY KEY,
	root          BYTEA NOT NULL,
	note          BYTEA NOT NULL,
	compact_range BYTEA NOT NULL,
	leaves        BYTEA NOT NULL,
	created       BIGINT NOT NULL
);

CREATE TABLE tiles (
	level  BIGINT NOT NULL,
	idx    BIGINT NOT NULL,
	hashes BYTEA NOT NULL,
	PRIMARY KEY (level, idx)
);

CREATE TABLE operators (
	id             TEXT PRIMARY KEY,
	username       TEXT NOT NULL UNIQUE,
	password_hash  TEXT NOT NULL,
	totp_secret    BYTEA,
	totp_step      BIGINT NOT NULL DEFAULT 0,
	role           TEXT NOT NULL,
	unit           TEXT NOT NULL,
	created        BIGINT NOT NULL,
	disabled       BOOLEAN NOT NULL DEFAULT FALSE,
	locked         TEXT NOT NULL DEFAULT '',
	locked_at      BIGINT NOT NULL DEFAULT 0,
	failures       BIGINT NOT NULL DEFAULT 0,
	failures_since BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
	hash        BYTEA PRIMARY KEY,
	kind        TEXT NOT NULL,
	operator    TEXT NOT NULL REFERENCES operators(id),
	created     BIGINT NOT NULL,
	last_seen   BIGINT NOT NULL,
	expires     BIGINT NOT NULL,
	attempts    BIGINT NOT NULL DEFAULT 0,
	origin      TEXT NOT NULL DEFAULT '',
	user_agent  TEXT NOT NULL DEFAULT '',
	challenge   BYTEA,
	stepped_up  BIGINT NOT NULL DEFAULT 0,
	step_factor TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_operator ON sessions (operator);

CREATE TABLE guard_state (
	operator TEXT PRIMARY KEY,
	state    BYTEA NOT NULL
);

CREATE TABLE caseload (
	operator TEXT NOT NULL,
	subject  TEXT NOT NULL,
	PRIMARY KEY (operator, subject)
);

CREATE TABLE canaries (
	subject TEXT PRIMARY KEY,
	partner TEXT NOT NULL DEFAULT '',
	created BIGINT NOT NULL
);

CREATE TABLE alerts (
	id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	ts       BIGINT NOT NULL,
	operator TEXT NOT NULL,
	code     TEXT NOT NULL,
	severity TEXT NOT NULL,
	action   TEXT NOT NULL,
	evidence BIGINT[] NOT NULL DEFAULT '{}' -- audit seqs
);

CREATE TABLE outbox (
	id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	ts      BIGINT NOT NULL,
	kind    TEXT NOT NULL,
	payload BYTEA NOT NULL,
	sent    BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE extensions (
	id          TEXT PRIMARY KEY,
	operator    TEXT NOT NULL,
	unit        TEXT NOT NULL,
	subjects    BIGINT NOT NULL,
	hours       BIGINT NOT NULL,
	reason      TEXT NOT NULL,
	created     BIGINT NOT NULL,
	approved_by TEXT NOT NULL DEFAULT '',
	approved_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE webauthn_credentials (
	id         BYTEA PRIMARY KEY,
	operator   TEXT NOT NULL REFERENCES operators(id),
	name       TEXT NOT NULL,
	credential BYTEA NOT NULL,
	sign_count BIGINT NOT NULL DEFAULT 0,
	created    BIGINT NOT NULL,
	last_used  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webauthn_operator ON webauthn_credentials (operator);

CREATE TABLE recovery_codes (
	operator TEXT NOT NULL REFERENCES operators(id),
	hash     BYTEA NOT NULL,
	used     BOOLEAN NOT NULL DEFAULT FALSE,
	PRIMARY KEY (operator, hash)
);

CREATE TABLE partners (
	id          TEXT PRIMARY KEY REFERENCES operators(id),
	name        TEXT NOT NULL UNIQUE,
	sector      TEXT NOT NULL,
	key_hash    BYTEA NOT NULL UNIQUE,
	cert_serial TEXT NOT NULL,
	created     BIGINT NOT NULL
);

CREATE TABLE pseudonyms (
	sector    TEXT NOT NULL,
	pseudonym TEXT NOT NULL,
	subject   TEXT NOT NULL,
	PRIMARY KEY (sector, pseudonym)
);
