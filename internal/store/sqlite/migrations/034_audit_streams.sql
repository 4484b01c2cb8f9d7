-- The audit stream's cursors (issue 19, package auditstream): per sink,
-- the index of the next entry to send, and the server streaming to it
-- under a lease (owner, until: microseconds since the epoch).
CREATE TABLE audit_streams (
	sink  TEXT PRIMARY KEY,
	next  INTEGER NOT NULL,
	owner TEXT NOT NULL DEFAULT '',
	until INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
