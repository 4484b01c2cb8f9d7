-- The audit log's closed epochs (issue 16, audit.Epochs), as SQLite's
-- migration 029: entries first_seq…last_seq, closed at the checkpoint of
-- size last_seq (root), and when their deletion began (0: kept). Times are
-- Unix microseconds.
CREATE TABLE audit_epochs (
	number     BIGINT PRIMARY KEY,
	first_seq  BIGINT NOT NULL,
	last_seq   BIGINT NOT NULL,
	opened_at  BIGINT NOT NULL,
	closed_at  BIGINT NOT NULL,
	root       BYTEA NOT NULL,
	deleted_at BIGINT NOT NULL DEFAULT 0
);
