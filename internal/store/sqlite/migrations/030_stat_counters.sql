-- Aggregate statistics (issue 16, package stats): anonymous cell
-- counters, by set (live, retained) and cell (the tuple of the declared
-- dimensions' values; no subject id), the declaration version they were
-- kept for, and each analyst's privacy budget spent per period, in
-- micro-epsilon. Periods are Unix seconds.
CREATE TABLE stat_cells (
	cellset TEXT NOT NULL,
	cell    TEXT NOT NULL,
	count   INTEGER NOT NULL,
	PRIMARY KEY (cellset, cell)
) WITHOUT ROWID;
CREATE TABLE stat_version (
	one     INTEGER PRIMARY KEY CHECK (one = 1),
	version TEXT NOT NULL
);
CREATE TABLE stat_budgets (
	analyst TEXT NOT NULL,
	period  INTEGER NOT NULL,
	spent   INTEGER NOT NULL,
	PRIMARY KEY (analyst, period)
) WITHOUT ROWID;
