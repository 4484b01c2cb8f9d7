-- Subject ids become the encryption of a sequence number (package
-- subjectid): a subject made from now on is found by its seq, the table's
-- key, and keeps no id, so no random-key id index is written per subject.
-- Subjects made before keep their random ids, found through a partial
-- index. The blind index points at seq, half the size of the id it held.
-- seq is declared, not the implicit rowid, so that VACUUM never renumbers
-- what ids are made of.
CREATE TABLE subjects_seq (
	seq         INTEGER PRIMARY KEY,
	id          TEXT,
	unit        TEXT NOT NULL,
	dek         BLOB,
	dek_version INTEGER NOT NULL,
	fields      BLOB,
	created     INTEGER NOT NULL,
	updated     INTEGER NOT NULL,
	erased      INTEGER NOT NULL DEFAULT 0,
	canary      INTEGER NOT NULL DEFAULT 0
);
INSERT INTO subjects_seq (seq, id, unit, dek, dek_version, fields, created, updated, erased, canary)
	SELECT rowid, id, unit, dek, dek_version, fields, created, updated, erased, canary FROM subjects ORDER BY rowid;
CREATE TABLE lookup (
	hash    BLOB PRIMARY KEY,
	subject INTEGER NOT NULL -- subjects.seq
) WITHOUT ROWID;
INSERT INTO lookup (hash, subject)
	SELECT b.hash, s.seq FROM blind_index b JOIN subjects_seq s ON s.id = b.subject;
DROP TABLE blind_index;
DROP TABLE subjects;
ALTER TABLE subjects_seq RENAME TO subjects;
CREATE UNIQUE INDEX subjects_legacy_id ON subjects (id) WHERE id IS NOT NULL;
