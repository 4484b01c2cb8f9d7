-- The last subject seq handed out, shared by every process that opens the
-- file: a process reserves blocks of numbers from it (a write transaction
-- per block), so that two processes (a server and an import) never hand
-- out the same one.
CREATE TABLE subject_counter (
	last INTEGER NOT NULL
);
INSERT INTO subject_counter SELECT coalesce(max(seq), 0) FROM subjects;
