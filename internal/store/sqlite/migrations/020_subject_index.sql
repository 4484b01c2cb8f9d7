-- The subject index log (issue 14, package audit "Subject index"): the
-- integrator appends a leaf for each entry naming a subject to a second
-- Merkle log whose head each checkpoint signs. subject_index lists each
-- subject's entries (seq in the log, pos in the index log, prev: the
-- subject's previous seq, 0 for none); its newest row per subject is the
-- subject's head, so no heads table is kept apart.
CREATE TABLE subject_index (
	subject TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	pos     INTEGER NOT NULL,
	prev    INTEGER NOT NULL,
	PRIMARY KEY (subject, seq)
) WITHOUT ROWID;
-- The index log's tiles, as tiles holds the log's.
CREATE TABLE index_tiles (
	level  INTEGER NOT NULL,
	idx    INTEGER NOT NULL,
	hashes BLOB NOT NULL,
	PRIMARY KEY (level, idx)
) WITHOUT ROWID;
-- The index head each checkpoint signs, and its compact range (NULL in
-- checkpoints made before the index).
ALTER TABLE checkpoints ADD COLUMN index_from INTEGER;
ALTER TABLE checkpoints ADD COLUMN index_size INTEGER;
ALTER TABLE checkpoints ADD COLUMN index_root BLOB;
ALTER TABLE checkpoints ADD COLUMN index_range BLOB;
