-- Coffre PostgreSQL schema, version 2 (SQLite's migration 011): a step-up
-- names the purpose it is for, and the session keeps the step-up group of
-- that purpose. Sessions opened before hold none, so their next read under
-- a step-up purpose asks for a step-up.
ALTER TABLE sessions ADD COLUMN step_group TEXT NOT NULL DEFAULT '';
