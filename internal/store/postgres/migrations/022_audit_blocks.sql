-- Audit numbering without a lock held across a transaction (issue 18).
-- Each server reserves blocks of audit numbers (audit_reserve.last is the
-- highest handed out; audit_blocks says which server holds which block)
-- and numbers its groups' entries from them, so that no row is locked
-- from a group's first append until its COMMIT. audit_head.seq becomes
-- the sequencer's mark: every number up to it is in the audit table
-- (committed, or voided: a number whose server died before writing it).
-- A server renews its lease in audit_nodes; the numbers of a server whose
-- lease ran out are voided by the sequencer. Times are Unix microseconds.
-- Every server of a database must run a binary with this migration: an
-- older one numbers from audit_head under its lock and would collide (its
-- writes fail on the primary key; nothing is written twice).
CREATE TABLE audit_reserve (
	last BIGINT NOT NULL
);
INSERT INTO audit_reserve SELECT seq FROM audit_head;

CREATE TABLE audit_blocks (
	lo   BIGINT PRIMARY KEY,
	hi   BIGINT NOT NULL,
	node TEXT NOT NULL
);

CREATE TABLE audit_nodes (
	node  TEXT PRIMARY KEY,
	until BIGINT NOT NULL
);
