-- The life of an account (issue 12): the last successful login, the start
-- of the inactivity clock when an account is enabled again, and when its
-- identity was erased (0: never). Accounts that exist now start their
-- inactivity clock at the migration: no login was recorded before it.
ALTER TABLE operators ADD COLUMN last_login INTEGER NOT NULL DEFAULT 0;
ALTER TABLE operators ADD COLUMN active_since INTEGER NOT NULL DEFAULT 0;
ALTER TABLE operators ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
UPDATE operators SET active_since = CAST(strftime('%s', 'now') AS INTEGER) * 1000000;
