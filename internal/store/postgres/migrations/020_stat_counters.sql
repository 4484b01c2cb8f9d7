-- Aggregate statistics (issue 16, package stats), as SQLite's migration
-- 030: anonymous cell counters by set and cell (no subject id), the
-- declaration version they were kept for, and each analyst's privacy
-- budget spent per period (Unix seconds), in micro-epsilon.
CREATE TABLE stat_cells (
	cellset TEXT NOT NULL,
	cell    TEXT NOT NULL,
	count   BIGINT NOT NULL,
	PRIMARY KEY (cellset, cell)
);
CREATE TABLE stat_version (
	one     INTEGER PRIMARY KEY CHECK (one = 1),
	version TEXT NOT NULL
);
CREATE TABLE stat_budgets (
	analyst TEXT NOT NULL,
	period  BIGINT NOT NULL,
	spent   BIGINT NOT NULL,
	PRIMARY KEY (analyst, period)
);
