-- Coffre PostgreSQL schema (SQLite's migration 013): the life of an
-- account. The last successful login, the start of the inactivity clock
-- when an account is enabled again, and when its identity was erased (0:
-- never). Accounts that exist now start their inactivity clock at the
-- migration: no login was recorded before it.
ALTER TABLE operators
	ADD COLUMN last_login BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN active_since BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN deleted BIGINT NOT NULL DEFAULT 0;
UPDATE operators SET active_since = (extract(epoch FROM now()) * 1000000)::bigint;
