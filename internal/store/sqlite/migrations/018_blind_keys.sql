-- Blind-index generations (issue 13, package reindex). Each lookup
-- entry names the generation whose key made it; entries made before are
-- generation 1's (the key derived from the first root key version). A
-- rebuild builds generation g+1's entries beside the old ones (hashes
-- under different keys do not meet), switches lookups to it, then
-- deletes the old generation's entries. Adding a column with a constant
-- default rewrites nothing.
ALTER TABLE lookup ADD COLUMN gen INTEGER NOT NULL DEFAULT 1;
-- A rebuild's generation: its key sealed under the versions key, its
-- state (building, active, retiring, retired) and the pass's progress,
-- committed with each batch. A retired generation's key is set to NULL.
CREATE TABLE blind_keys (
	gen     INTEGER PRIMARY KEY,
	sealed  BLOB,
	state   TEXT NOT NULL,
	created INTEGER NOT NULL DEFAULT 0,
	changed INTEGER NOT NULL DEFAULT 0,
	cursor  INTEGER NOT NULL DEFAULT 0,
	added   INTEGER NOT NULL DEFAULT 0,
	done    INTEGER NOT NULL DEFAULT 0
);
