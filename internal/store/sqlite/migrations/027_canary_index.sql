-- The canary records, found without reading the table (issue 15): a
-- breach's impact leaves them out of its counts and letters.
CREATE INDEX subjects_canary ON subjects (seq) WHERE canary = 1;
