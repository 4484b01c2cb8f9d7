-- Partner organisations (issue 5). Each partner is also an operator row
-- (username "partner:NAME", no password that can match, no TOTP), so that
-- the guard's budgets, locks and alerts apply to it unchanged.
CREATE TABLE partners (
	id          TEXT PRIMARY KEY REFERENCES operators(id),
	name        TEXT NOT NULL UNIQUE,
	sector      TEXT NOT NULL,
	key_hash    BLOB NOT NULL UNIQUE,
	cert_serial TEXT NOT NULL,
	created     INTEGER NOT NULL
) WITHOUT ROWID;

-- The sector pseudonyms handed out: a pseudonym is a one-way keyed hash of
-- the subject id, so the way back is this table, filled when a partner of
-- the sector learns one (a lookup).
CREATE TABLE pseudonyms (
	sector    TEXT NOT NULL,
	pseudonym TEXT NOT NULL,
	subject   TEXT NOT NULL,
	PRIMARY KEY (sector, pseudonym)
) WITHOUT ROWID;
