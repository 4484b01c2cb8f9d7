-- The per-address throttles (operators' logins, people's code requests)
-- and the logins' regulars, shared by every server of the store (issue
-- 18): until now each process counted for itself, so N nodes gave an
-- attacker N times the attempts. A key is a counter's name and a keyed
-- hash of the client address; a regular's key a keyed hash of a username
-- and an address: neither is stored as typed or seen. until is the end of
-- the key's open window, at when the regular last logged in, both Unix
-- microseconds.
CREATE TABLE origin_counts (
	key   TEXT PRIMARY KEY,
	until BIGINT NOT NULL,
	n     BIGINT NOT NULL,
	held  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX origin_counts_until ON origin_counts (until);

CREATE TABLE login_regulars (
	key TEXT PRIMARY KEY,
	at  BIGINT NOT NULL
);
CREATE INDEX login_regulars_at ON login_regulars (at);
