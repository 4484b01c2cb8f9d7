-- Enrolment codes (issue 12): an account created or reset waits here for
-- its holder, who sets their own password and second factor with a
-- one-time code. The code is issued when a second administrator (or the
-- host) approves; only its SHA-256 hash is kept. One per operator; spent
-- codes are deleted.
CREATE TABLE enrolments (
	operator     TEXT PRIMARY KEY REFERENCES operators(id),
	requested_by TEXT NOT NULL,
	created      INTEGER NOT NULL,
	approved_by  TEXT NOT NULL DEFAULT '',
	code_hash    BLOB,
	expires      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
