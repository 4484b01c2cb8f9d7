-- The activity mark (issue 18): the audit entry up to which the records'
-- last activity (subjects.active) is recorded. The audit integrator
-- records it in batches, every so many entries or so often, rather than a
-- record at a time as it integrates; the log past the mark is the
-- activity still to record, which a retention sweep reads. Until now the
-- integrator recorded it up to each checkpoint: the mark starts there.
CREATE TABLE activity_mark (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	seq BIGINT NOT NULL
);
INSERT INTO activity_mark (id, seq) SELECT 1, coalesce(max(size), 0) FROM checkpoints;
