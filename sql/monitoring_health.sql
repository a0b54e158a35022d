-- ticket.health(): what an operator needs to know is running, answered as
-- the owner for this database (issue 15).  In the regression cluster the
-- library is preloaded and the worker is off (test/ticket.conf).
\i test/regress_setup.sql

SELECT check_name, ok, detail FROM ticket.health() ORDER BY check_name;

-- A scheduled admission that has not stepped, and one that stepped just now.
SELECT ticket.create_concert('Health Night', '2100-06-01 20:00+00', '2000-01-01 00:00+00', queue => true) AS hc \gset
SELECT ticket.add_section(:hc, 'Floor', 'A', 10, 1, 4);
SELECT ticket.open_sale(:hc);
UPDATE ticket.queue SET scheduled = true, last_tick = now() - interval '1 minute' WHERE concert_id = :hc;
SELECT check_name, ok, detail FROM ticket.health() WHERE check_name LIKE 'admission%' OR check_name LIKE 'pg_cron%';
UPDATE ticket.queue SET last_tick = now() WHERE concert_id = :hc;
SELECT check_name, ok, detail FROM ticket.health() WHERE check_name LIKE 'admission%';
SELECT ticket.pause_admission(:hc) AS paused;
UPDATE ticket.queue SET last_tick = now() - interval '1 minute' WHERE concert_id = :hc;
SELECT check_name, ok, left(detail, 12) AS detail FROM ticket.health() WHERE check_name LIKE 'admission%';

-- A payment nobody claims for over a minute, and an event left unnumbered.
SELECT ticket.create_concert('Health Plain', '2100-06-01 20:00+00', '2000-01-01 00:00+00') AS hp \gset
SELECT ticket.add_section(:hp, 'Floor', 'A', 10, 1, 4);
SELECT ticket.open_sale(:hp);
SELECT status FROM ticket.checkout((ticket.hold(:hp, 'h1', ARRAY[1])).hold_id, 'h1', 'k1');
UPDATE ticket.payment SET next_attempt_at = now() - interval '2 minutes';
UPDATE ticket.event SET created_at = now() - interval '1 minute' WHERE event_id IS NULL;
SELECT check_name, ok, detail FROM ticket.health() WHERE check_name IN ('payments', 'events published');

-- Who may ask.
SET ROLE ticket_monitor;
SELECT count(*) > 0 AS monitor_reads FROM ticket.health();
RESET ROLE;
SET ROLE ticket_admin;
SELECT count(*) > 0 AS admin_reads FROM ticket.health();
RESET ROLE;
SET ROLE ticket_customer;
SELECT pg_temp.err($$SELECT * FROM ticket.health()$$);
RESET ROLE;
SET ROLE ticket_adapter;
SELECT pg_temp.err($$SELECT * FROM ticket.health()$$);
RESET ROLE;

-- ticket_worker_running counts the workers of this database only.
SELECT m.value = (SELECT count(*) FROM pg_stat_activity AS a
				   WHERE a.backend_type = 'ticket worker' AND a.datname = current_database()) AS this_database_only
  FROM ticket.metrics() AS m WHERE m.name = 'ticket_worker_running';
