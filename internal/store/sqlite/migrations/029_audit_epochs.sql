-- The audit log's closed epochs (issue 16, audit.Epochs): entries
-- first_seq…last_seq, closed at the checkpoint of size last_seq (root), and
-- when their deletion began (0: kept). Times are Unix microseconds.
CREATE TABLE audit_epochs (
	number     INTEGER PRIMARY KEY,
	first_seq  INTEGER NOT NULL,
	last_seq   INTEGER NOT NULL,
	opened_at  INTEGER NOT NULL,
	closed_at  INTEGER NOT NULL,
	root       BLOB NOT NULL,
	deleted_at INTEGER NOT NULL DEFAULT 0
);
