-- Subject sign-in (issue 14, package subjectauth): one-time codes by the
-- SHA-256 hash of their login token (the code itself only as a keyed
-- hash; the contact only as a keyed hash, its key), the state of each
-- contact key (code requests and wrong codes in their windows, a lock),
-- and persons' sessions by the SHA-256 hash of their token.
CREATE TABLE signin_codes (
	token    BLOB PRIMARY KEY,
	contact  TEXT NOT NULL,
	subject  TEXT NOT NULL DEFAULT '',
	hash     BLOB NOT NULL,
	created  INTEGER NOT NULL,
	expires  INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	used     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX signin_codes_expires ON signin_codes (expires);
CREATE TABLE signin_limits (
	key          TEXT PRIMARY KEY,
	requests     INTEGER NOT NULL DEFAULT 0,
	since        INTEGER NOT NULL DEFAULT 0,
	failures     INTEGER NOT NULL DEFAULT 0,
	failed_at    INTEGER NOT NULL DEFAULT 0,
	locked_until INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE subject_sessions (
	hash       BLOB PRIMARY KEY,
	subject    TEXT NOT NULL,
	method     TEXT NOT NULL,
	created    INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	origin     TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX subject_sessions_subject ON subject_sessions (subject);
CREATE INDEX subject_sessions_expires ON subject_sessions (expires);
