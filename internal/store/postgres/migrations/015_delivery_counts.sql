-- Coffre PostgreSQL schema (SQLite's migration 025): the delivery
-- metrics without a scan of every message ever queued. The totals by
-- channel (sent, dead, failed attempts) are kept in delivery_counts by a
-- trigger as messages change state; the pending messages have a partial
-- index of their own that gives their count and oldest by channel.
-- deliveries_status, which only the old full count used, goes.
CREATE TABLE delivery_counts (
	channel  TEXT PRIMARY KEY,
	sent     BIGINT NOT NULL DEFAULT 0,
	dead     BIGINT NOT NULL DEFAULT 0,
	failures BIGINT NOT NULL DEFAULT 0
);
INSERT INTO delivery_counts (channel, sent, dead, failures)
	SELECT channel, count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'dead'), coalesce(sum(failures), 0)
	FROM deliveries GROUP BY channel;
-- The function names the table as the schema it was created in (the
-- tests put each store in a schema of its own).
CREATE FUNCTION deliveries_count() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	INSERT INTO delivery_counts AS c (channel, sent, dead, failures)
		VALUES (NEW.channel, (NEW.status = 'sent' AND OLD.status <> 'sent')::int, (NEW.status = 'dead' AND OLD.status <> 'dead')::int, NEW.failures - OLD.failures)
		ON CONFLICT (channel) DO UPDATE SET sent = c.sent + EXCLUDED.sent, dead = c.dead + EXCLUDED.dead, failures = c.failures + EXCLUDED.failures;
	RETURN NULL;
END
$$;
CREATE TRIGGER deliveries_count AFTER UPDATE OF status, failures ON deliveries FOR EACH ROW
	WHEN (NEW.status IS DISTINCT FROM OLD.status OR NEW.failures IS DISTINCT FROM OLD.failures)
	EXECUTE FUNCTION deliveries_count();
DROP INDEX deliveries_status;
CREATE INDEX deliveries_pending ON deliveries (channel, created) WHERE status = 'pending';
