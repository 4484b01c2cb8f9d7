-- The guard (issue 4): per-operator budget state, caseloads, canaries,
-- locks, alerts, an outbox for alert delivery, and budget extensions.
ALTER TABLE operators ADD COLUMN locked TEXT NOT NULL DEFAULT '';
ALTER TABLE operators ADD COLUMN locked_at INTEGER NOT NULL DEFAULT 0;

-- One small row per operator, rewritten in every access transaction.
CREATE TABLE guard_state (
	operator TEXT PRIMARY KEY,
	state    BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE caseload (
	operator TEXT NOT NULL,
	subject  TEXT NOT NULL,
	PRIMARY KEY (operator, subject)
) WITHOUT ROWID;

-- Canary subjects. No API reads this table; only the guard and the
-- `coffre canary` command do.
CREATE TABLE canaries (
	subject TEXT PRIMARY KEY,
	partner TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE alerts (
	id       INTEGER PRIMARY KEY,
	ts       INTEGER NOT NULL,
	operator TEXT NOT NULL,
	code     TEXT NOT NULL,
	severity TEXT NOT NULL,
	action   TEXT NOT NULL,
	evidence TEXT NOT NULL DEFAULT ''
);

-- Messages waiting for delivery (email, webhook) by a sender.
CREATE TABLE outbox (
	id      INTEGER PRIMARY KEY,
	ts      INTEGER NOT NULL,
	kind    TEXT NOT NULL,
	payload BLOB NOT NULL,
	sent    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE extensions (
	id          TEXT PRIMARY KEY,
	operator    TEXT NOT NULL,
	unit        TEXT NOT NULL,
	subjects    INTEGER NOT NULL,
	hours       INTEGER NOT NULL,
	reason      TEXT NOT NULL,
	created     INTEGER NOT NULL,
	approved_by TEXT NOT NULL DEFAULT '',
	approved_at INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
