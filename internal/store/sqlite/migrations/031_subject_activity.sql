-- The last activity of a record (issue 16, retention "after
-- last_activity"): the day, as Unix microseconds at midnight UTC, of the
-- last read under a purpose the retention policy names; 0 for none since
-- the record was made. Its last update is the column updated. A read
-- writes the column at most once a day per record.
ALTER TABLE subjects ADD COLUMN active INTEGER NOT NULL DEFAULT 0;

