-- The persons' rights (issue 14, package rights). rights_requests holds
-- the requests a person files (rectification, restriction, erasure,
-- objection) and their handling: ids, names and dates in clear, so that
-- the handlers keep the queue and its deadlines without reading anyone's
-- record; the free texts (text, extend_reason, answer) sealed under the
-- person's data key, so that an erasure shreds them; courier, the address
-- of an accepted erasure's confirmation sealed under the root key, until
-- the confirmation is sent. version counts the writes (a decision writes
-- over the version it read). Times are Unix microseconds, 0 for none.
-- (Migrations 021 and 022 are other branches' of issue 14.)
CREATE TABLE rights_requests (
	id            TEXT PRIMARY KEY,
	subject       TEXT NOT NULL,
	kind          TEXT NOT NULL,
	fields        TEXT NOT NULL,
	text          BLOB,
	status        TEXT NOT NULL,
	filed         INTEGER NOT NULL,
	due           INTEGER NOT NULL,
	extended      INTEGER NOT NULL DEFAULT 0,
	extend_reason BLOB,
	decided       INTEGER NOT NULL DEFAULT 0,
	decided_by    TEXT NOT NULL DEFAULT '',
	answer        BLOB,
	lifted        INTEGER NOT NULL DEFAULT 0,
	courier       BLOB,
	version       INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
CREATE INDEX rights_requests_subject ON rights_requests (subject);
CREATE INDEX rights_requests_open ON rights_requests (due, id) WHERE status = 'pending';
-- The limits on a person's record: an accepted restriction (kind
-- restricted, target the request), the partners and units the person
-- blocked. Read on every access to a record: one range of the primary
-- key, empty for most people.
CREATE TABLE person_limits (
	subject TEXT NOT NULL,
	kind    TEXT NOT NULL,
	target  TEXT NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (subject, kind, target)
) WITHOUT ROWID;
