-- Coffre PostgreSQL schema (SQLite's migration 020): the subject index
-- log (issue 14). subject_index lists each subject's entries (seq in the
-- log, pos in the index log, prev: the subject's previous seq, 0 for
-- none); its newest row per subject is the subject's head.
CREATE TABLE subject_index (
	subject TEXT NOT NULL,
	seq     BIGINT NOT NULL,
	pos     BIGINT NOT NULL,
	prev    BIGINT NOT NULL,
	PRIMARY KEY (subject, seq)
);
CREATE TABLE index_tiles (
	level  BIGINT NOT NULL,
	idx    BIGINT NOT NULL,
	hashes BYTEA NOT NULL,
	PRIMARY KEY (level, idx)
);
ALTER TABLE checkpoints ADD COLUMN index_from BIGINT;
ALTER TABLE checkpoints ADD COLUMN index_size BIGINT;
ALTER TABLE checkpoints ADD COLUMN index_root BYTEA;
ALTER TABLE checkpoints ADD COLUMN index_range BYTEA;
