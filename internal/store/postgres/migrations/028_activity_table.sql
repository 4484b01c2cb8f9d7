-- The records' last activity in a narrow table of its own (issue 18,
-- session 21), keyed by the record's seq: the day, as Unix microseconds
-- at midnight UTC, of its last read under a purpose the retention policy
-- names; no row for none. The integrator's batches wrote it into
-- subjects.active: on PostgreSQL an UPDATE writes a new version of the
-- whole row (its sealed fields, about 1 KB) and, when the page has no
-- room, a new entry in each of its indexes; here it is a row of two
-- numbers. It also no longer moves the record's xmin, which a read's
-- pre-read is stamped with. Records are never deleted (erasure empties
-- them), so no foreign key, whose check would lock the record's row.
CREATE TABLE subject_activity (
	seq BIGINT PRIMARY KEY,
	day BIGINT NOT NULL
) WITH (fillfactor = 80);
INSERT INTO subject_activity (seq, day) SELECT seq, active FROM subjects WHERE active > 0;
ALTER TABLE subjects DROP COLUMN active;
