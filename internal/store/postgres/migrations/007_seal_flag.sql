-- Coffre PostgreSQL schema (SQLite's migration 016): the seal flag. One
-- row that every node of a deployment reads at least once a second. A
-- seal bumps generation and sets sealed_at (in the seal's audit
-- transaction); an unseal clears sealed_at and adopts generation. An
-- unsealed node seals itself when generation moves past the one it
-- adopted.
CREATE TABLE seal_flag (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	generation BIGINT NOT NULL,
	sealed_at  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO seal_flag (id, generation, sealed_at) VALUES (1, 0, 0);
