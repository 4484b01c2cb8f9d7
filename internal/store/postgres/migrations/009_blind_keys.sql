-- Coffre PostgreSQL schema (SQLite's migration 018): blind-index
-- generations (package reindex). Each lookup entry names the generation
-- whose key made it; a rebuild builds the next generation's entries
-- beside the old ones, switches, then deletes the old ones. A column
-- with a constant default rewrites nothing.
ALTER TABLE lookup ADD COLUMN gen BIGINT NOT NULL DEFAULT 1;
CREATE TABLE blind_keys (
	gen     BIGINT PRIMARY KEY,
	sealed  BYTEA,
	state   TEXT NOT NULL,
	created BIGINT NOT NULL DEFAULT 0,
	changed BIGINT NOT NULL DEFAULT 0,
	cursor  BIGINT NOT NULL DEFAULT 0,
	added   BIGINT NOT NULL DEFAULT 0,
	done    BIGINT NOT NULL DEFAULT 0
);
