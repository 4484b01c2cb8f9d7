-- Coffre PostgreSQL schema (SQLite's migration 021): subject sign-in
-- (package subjectauth). One-time codes by the SHA-256 hash of their
-- login token (the code only as a keyed hash, the contact only as a keyed
-- hash, its key), the state of each contact key (code requests and wrong
-- codes in their windows, a lock), and persons' sessions by the SHA-256
-- hash of their token.
CREATE TABLE signin_codes (
	token    BYTEA PRIMARY KEY,
	contact  TEXT NOT NULL,
	subject  TEXT NOT NULL DEFAULT '',
	hash     BYTEA NOT NULL,
	created  BIGINT NOT NULL,
	expires  BIGINT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	used     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX signin_codes_expires ON signin_codes (expires);
CREATE TABLE signin_limits (
	key          TEXT PRIMARY KEY,
	requests     INTEGER NOT NULL DEFAULT 0,
	since        BIGINT NOT NULL DEFAULT 0,
	failures     INTEGER NOT NULL DEFAULT 0,
	failed_at    BIGINT NOT NULL DEFAULT 0,
	locked_until BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE subject_sessions (
	hash       BYTEA PRIMARY KEY,
	subject    TEXT NOT NULL,
	method     TEXT NOT NULL,
	created    BIGINT NOT NULL,
	last_seen  BIGINT NOT NULL,
	expires    BIGINT NOT NULL,
	origin     TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX subject_sessions_subject ON subject_sessions (subject);
CREATE INDEX subject_sessions_expires ON subject_sessions (expires);
