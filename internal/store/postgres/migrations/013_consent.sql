-- Coffre PostgreSQL schema (SQLite's migration 022): consent requests and
-- the cooling-off of a contact change (issue 14, packages consent and
-- contact). deadline is when a request lapses in its stored status
-- (expires while pending, valid_until once approved; 0 when closed).
CREATE TABLE consents (
	id          TEXT PRIMARY KEY,
	subject     TEXT NOT NULL,
	operator    TEXT NOT NULL,
	role        TEXT NOT NULL,
	unit        TEXT NOT NULL,
	purpose     TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	fields      TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL,
	created     BIGINT NOT NULL,
	expires     BIGINT NOT NULL,
	decided     BIGINT NOT NULL DEFAULT 0,
	valid_until BIGINT NOT NULL DEFAULT 0,
	closed      BIGINT NOT NULL DEFAULT 0,
	deadline    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX consents_asked ON consents (operator, subject, purpose, created);
CREATE INDEX consents_subject ON consents (subject, created) WHERE status = 'pending';
CREATE INDEX consents_due ON consents (deadline) WHERE status IN ('pending', 'approved');

-- A change of a person's contact fields waiting out its cooling-off; the
-- values sealed under the person's data key. One pending change per
-- person.
CREATE TABLE contact_changes (
	id         TEXT PRIMARY KEY,
	subject    TEXT NOT NULL,
	operator   TEXT NOT NULL,
	role       TEXT NOT NULL,
	unit       TEXT NOT NULL,
	fields     TEXT NOT NULL,
	new_values BYTEA,
	old_values BYTEA,
	status     TEXT NOT NULL,
	created    BIGINT NOT NULL,
	effective  BIGINT NOT NULL,
	closed     BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX contact_changes_pending ON contact_changes (subject) WHERE status = 'pending';
CREATE INDEX contact_changes_due ON contact_changes (effective) WHERE status = 'pending';
CREATE INDEX contact_changes_kept ON contact_changes (closed) WHERE old_values IS NOT NULL AND status <> 'pending';
