-- Signed tree heads of the audit log (issue 3).
CREATE TABLE checkpoints (
	size    INTEGER PRIMARY KEY,
	root    BLOB NOT NULL,
	note    BLOB NOT NULL,
	range   BLOB NOT NULL,
	leaves  BLOB NOT NULL,
	created INTEGER NOT NULL
);
