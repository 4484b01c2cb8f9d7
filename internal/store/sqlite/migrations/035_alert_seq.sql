-- The audit entry each guard alert was raised with (issue 19: guard
-- alerts streamed with the audit log, package auditstream): the last of
-- its evidence, the access that raised it, and an index to find the
-- alerts of a range of entries.
ALTER TABLE alerts ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE alerts SET seq = coalesce((SELECT max(CAST(value AS INTEGER)) FROM json_each('[' || evidence || ']')), 0);
CREATE INDEX alerts_seq ON alerts (seq);
