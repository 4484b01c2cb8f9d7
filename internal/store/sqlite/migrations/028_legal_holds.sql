-- Legal holds (issue 16, package hold): a hold on a subject blocks its
-- erasure and purge until lifted. Ids, operators' ids and dates in clear;
-- the reasons sealed under the person's data key, so that an erasure once
-- the hold is lifted shreds them. Times are Unix microseconds, lifted_at 0
-- for a hold in force. A lifted hold stays, as the record of the hold.
CREATE TABLE legal_holds (
	id          TEXT PRIMARY KEY,
	subject     TEXT NOT NULL,
	reason      BLOB,
	placed_by   TEXT NOT NULL,
	placed_at   INTEGER NOT NULL,
	lifted_by   TEXT NOT NULL DEFAULT '',
	lifted_at   INTEGER NOT NULL DEFAULT 0,
	lift_reason BLOB
) WITHOUT ROWID;
CREATE INDEX legal_holds_subject ON legal_holds (subject, placed_at, id);
