-- Operator identity (issue 5): WebAuthn credentials, recovery codes, the
-- state of a WebAuthn ceremony and the step-up time on a session row, the
-- session's user agent (bound with its origin), login failure counting.
CREATE TABLE webauthn_credentials (
	id         BLOB PRIMARY KEY,
	operator   TEXT NOT NULL REFERENCES operators(id),
	name       TEXT NOT NULL,
	credential BLOB NOT NULL,   -- the library's credential record, JSON
	sign_count INTEGER NOT NULL DEFAULT 0,
	created    INTEGER NOT NULL,
	last_used  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX webauthn_operator ON webauthn_credentials(operator);

CREATE TABLE recovery_codes (
	operator TEXT NOT NULL REFERENCES operators(id),
	hash     BLOB NOT NULL,
	used     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (operator, hash)
) WITHOUT ROWID;

ALTER TABLE sessions ADD COLUMN challenge BLOB;
ALTER TABLE sessions ADD COLUMN stepped_up INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN step_factor TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';

ALTER TABLE operators ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE operators ADD COLUMN failures_since INTEGER NOT NULL DEFAULT 0;
