-- 100,000 abandoned holds on concert 2, all past their expiry (the worker is off meanwhile).
DO $$
BEGIN
	FOR i IN 0..19 LOOP
		PERFORM ticket.hold(2, 'gone' || g, ARRAY[g]) FROM generate_series(i * 5000 + 1, (i + 1) * 5000) AS g;
		COMMIT;
	END LOOP;
END
$$;
UPDATE ticket.hold SET expires_at = now() - interval '1 second' WHERE concert_id = 2 AND state = 'active';
UPDATE ticket.seat SET held_until = now() - interval '1 second' WHERE concert_id = 2 AND state = 'held';
SELECT ticket.publish_events(1000000);
VACUUM ANALYZE ticket.hold, ticket.seat, ticket.event;
CHECKPOINT;
