-- The canary records, found without reading the table (issue 15), as
-- SQLite's migration 027.
CREATE INDEX subjects_canary ON subjects (seq) WHERE canary;
