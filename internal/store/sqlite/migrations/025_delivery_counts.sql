-- The delivery metrics without a scan of every message ever queued
-- (issue 14): the totals by channel (sent, dead, failed attempts) are
-- kept in delivery_counts by a trigger as messages change state, and the
-- pending messages, the queue, have a partial index of their own that
-- gives their count and oldest by channel. deliveries_status, which only
-- the old full count used, goes.
CREATE TABLE delivery_counts (
	channel  TEXT PRIMARY KEY,
	sent     INTEGER NOT NULL DEFAULT 0,
	dead     INTEGER NOT NULL DEFAULT 0,
	failures INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO delivery_counts (channel, sent, dead, failures)
	SELECT channel, sum(status = 'sent'), sum(status = 'dead'), sum(failures) FROM deliveries GROUP BY channel;
CREATE TRIGGER deliveries_count AFTER UPDATE OF status, failures ON deliveries
	WHEN new.status != old.status OR new.failures != old.failures
BEGIN
	INSERT INTO delivery_counts (channel, sent, dead, failures)
		VALUES (new.channel, new.status = 'sent' AND old.status != 'sent', new.status = 'dead' AND old.status != 'dead', new.failures - old.failures)
		ON CONFLICT (channel) DO UPDATE SET sent = sent + excluded.sent, dead = dead + excluded.dead, failures = failures + excluded.failures;
END;
DROP INDEX deliveries_status;
CREATE INDEX deliveries_pending ON deliveries (channel, created) WHERE status = 'pending';
