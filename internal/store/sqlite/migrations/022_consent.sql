-- Consent and the cooling-off of a contact change (issue 14, packages
-- consent and contact).
--
-- A consent request: who asked (operator, role, unit), whom (subject),
-- for what (purpose, reason, fields: names, comma-separated), its status
-- and times. deadline is when it lapses in its stored status (expires
-- while pending, valid_until once approved; 0 when closed), which the
-- sweep that marks requests expired reads in order.
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
	created     INTEGER NOT NULL,
	expires     INTEGER NOT NULL,
	decided     INTEGER NOT NULL DEFAULT 0,
	valid_until INTEGER NOT NULL DEFAULT 0,
	closed      INTEGER NOT NULL DEFAULT 0,
	deadline    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX consents_asked ON consents (operator, subject, purpose, created);
CREATE INDEX consents_subject ON consents (subject, created) WHERE status = 'pending';
CREATE INDEX consents_due ON consents (deadline) WHERE status IN ('pending', 'approved');

-- A change of a person's contact fields waiting out its cooling-off: the
-- new values and those they replace, sealed under the person's data key
-- (never an address in clear). One pending change per person.
CREATE TABLE contact_changes (
	id         TEXT PRIMARY KEY,
	subject    TEXT NOT NULL,
	operator   TEXT NOT NULL,
	role       TEXT NOT NULL,
	unit       TEXT NOT NULL,
	fields     TEXT NOT NULL,
	new_values BLOB,
	old_values BLOB,
	status     TEXT NOT NULL,
	created    INTEGER NOT NULL,
	effective  INTEGER NOT NULL,
	closed     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE UNIQUE INDEX contact_changes_pending ON contact_changes (subject) WHERE status = 'pending';
CREATE INDEX contact_changes_due ON contact_changes (effective) WHERE status = 'pending';
CREATE INDEX contact_changes_kept ON contact_changes (closed) WHERE old_values IS NOT NULL AND status != 'pending';
