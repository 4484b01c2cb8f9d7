-- The per-address login throttle and its regulars, shared by every server
-- of the store (issue 18): until now each process counted for itself, so
-- N nodes gave an attacker N times the attempts. An origin is a keyed hash
-- of the client address, a regular a keyed hash of a username and an
-- address: neither is stored as typed or seen. minute is Unix minutes,
-- at Unix microseconds.
CREATE TABLE login_origins (
	origin TEXT PRIMARY KEY,
	minute BIGINT NOT NULL,
	fails  BIGINT NOT NULL,
	held   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX login_origins_minute ON login_origins (minute);

CREATE TABLE login_regulars (
	key TEXT PRIMARY KEY,
	at  BIGINT NOT NULL
);
CREATE INDEX login_regulars_at ON login_regulars (at);
