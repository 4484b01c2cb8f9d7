-- Coffre PostgreSQL schema (SQLite's migration 017): root key versions
-- added by rotation (package rotate), with the rewrap pass's progress.
-- A retired version's seed is set to NULL: it is gone.
CREATE TABLE root_keys (
	version   BIGINT PRIMARY KEY,
	sealed    BYTEA,
	created   BIGINT NOT NULL DEFAULT 0,
	retired   BIGINT NOT NULL DEFAULT 0,
	cursor    BIGINT NOT NULL DEFAULT 0,
	rewrapped BIGINT NOT NULL DEFAULT 0,
	done      BIGINT NOT NULL DEFAULT 0
);
