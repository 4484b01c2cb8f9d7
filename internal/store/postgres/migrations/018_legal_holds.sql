-- Legal holds (issue 16, package hold), as SQLite's migration 028: a hold
-- on a subject blocks its erasure and purge until lifted; the reasons
-- sealed under the person's data key. Times are Unix microseconds,
-- lifted_at 0 for a hold in force.
CREATE TABLE legal_holds (
	id          TEXT PRIMARY KEY,
	subject     TEXT NOT NULL,
	reason      BYTEA,
	placed_by   TEXT NOT NULL,
	placed_at   BIGINT NOT NULL,
	lifted_by   TEXT NOT NULL DEFAULT '',
	lifted_at   BIGINT NOT NULL DEFAULT 0,
	lift_reason BYTEA
);
CREATE INDEX legal_holds_subject ON legal_holds (subject, placed_at, id);
