-- Coffre PostgreSQL schema, version 3 (SQLite's migration 012): an
-- assignment to a caseload has an end, in Unix microseconds; 0 is none,
-- which the assignments made before keep. An expired assignment no longer
-- counts.
ALTER TABLE caseload ADD COLUMN until BIGINT NOT NULL DEFAULT 0;
