-- Caseloads as data (issue 12): an assignment has an end, in Unix
-- microseconds; 0 is none, which the assignments made before (by the demo
-- and the drill) keep. An expired assignment no longer counts: the read
-- that reaches its subject draws on the out-of-caseload budget again.
ALTER TABLE caseload ADD COLUMN until INTEGER NOT NULL DEFAULT 0;
