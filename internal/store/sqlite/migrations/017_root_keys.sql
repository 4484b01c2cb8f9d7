-- Root key versions (issue 13, package rotate): a rotation adds a row
-- holding the new version's seed sealed under the versions key, so that
-- every node finds it; the first rotation also records the keyring
-- file's versions (sealed NULL), so that their retirement has a row.
-- cursor, rewrapped and done are the rewrap pass's progress, committed
-- with each batch: a crash resumes from cursor. A retired version's seed
-- is set to NULL: it is gone.
CREATE TABLE root_keys (
	version   INTEGER PRIMARY KEY,
	sealed    BLOB,
	created   INTEGER NOT NULL DEFAULT 0,
	retired   INTEGER NOT NULL DEFAULT 0,
	cursor    INTEGER NOT NULL DEFAULT 0,
	rewrapped INTEGER NOT NULL DEFAULT 0,
	done      INTEGER NOT NULL DEFAULT 0
);
