-- The audit stream's cursors (issue 19, package auditstream): per sink,
-- the index of the next entry to send, and the server streaming to it
-- under a lease (owner, until: microseconds since the epoch).
CREATE TABLE audit_streams (
	sink  text PRIMARY KEY,
	next  bigint NOT NULL,
	owner text NOT NULL DEFAULT '',
	until bigint NOT NULL DEFAULT 0
);
