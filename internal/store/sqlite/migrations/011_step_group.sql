-- A step-up names the purpose it is for (issue 11): the session keeps the
-- step-up group of that purpose. Sessions opened before hold none, so
-- their next read under a step-up purpose asks for a step-up.
ALTER TABLE sessions ADD COLUMN step_group TEXT NOT NULL DEFAULT '';
