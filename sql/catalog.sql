-- What the C paths cache per backend (where the tables, indexes and columns
-- are; each concert's sale settings; the pass keys), how every change
-- reaches them, and which triggers a DBA adds they keep (issue 15).
\i test/regress_setup.sql

SELECT ticket.create_concert('Cache Night', '2100-06-01 20:00+00', '2000-01-01 00:00+00') AS cid \gset
SELECT ticket.add_section(:cid, 'Floor', 'A', 50, 2, 10);
SELECT ticket.open_sale(:cid);
SELECT ticket.create_concert('Cache Queue', '2100-06-01 20:00+00', '2000-01-01 00:00+00',
	queue => true, admit_rate => 100) AS qid \gset
SELECT ticket.add_section(:qid, 'Floor', 'A', 50, 2, 10);
SELECT ticket.open_sale(:qid);
SELECT state FROM ticket.join_queue(:qid, 'q1');

-- Fill every cache: hold, hold_best, checkout, the waiting room's.
SELECT status FROM ticket.hold(:cid, 'u1', ARRAY[1]);
SELECT status FROM ticket.hold_best(:cid, 'u1', 1, 1);
SELECT hold_id AS h1 FROM ticket.hold WHERE user_id = 'u1' ORDER BY hold_id LIMIT 1 \gset
SELECT status FROM ticket.checkout(:h1, 'u1', 'k1');
SELECT state, position FROM ticket.queue_status(:qid, 'q1');

-- REINDEX CONCURRENTLY gives every index of a table a new OID: the caches
-- must notice for each table they read (blocked_user's was missed: every
-- hold then raised XX000 "could not open relation").
REINDEX TABLE CONCURRENTLY ticket.blocked_user;
REINDEX TABLE CONCURRENTLY ticket.concert;
REINDEX TABLE CONCURRENTLY ticket.section;
REINDEX TABLE CONCURRENTLY ticket.seat;
REINDEX TABLE CONCURRENTLY ticket.hold;
REINDEX TABLE CONCURRENTLY ticket.event;
REINDEX TABLE CONCURRENTLY ticket.orders;
REINDEX TABLE CONCURRENTLY ticket.payment;
REINDEX TABLE CONCURRENTLY ticket.idempotency;
REINDEX TABLE CONCURRENTLY ticket.queue_entry;
REINDEX TABLE CONCURRENTLY ticket.queue;
REINDEX TABLE CONCURRENTLY ticket.queue_departure;
REINDEX TABLE CONCURRENTLY ticket.pass_key;
SELECT status FROM ticket.hold(:cid, 'u2', ARRAY[5]);
SELECT status FROM ticket.hold_best(:cid, 'u2', 1, 1);
SELECT hold_id AS h2 FROM ticket.hold WHERE user_id = 'u2' ORDER BY hold_id LIMIT 1 \gset
SELECT status FROM ticket.checkout(:h2, 'u2', 'k2');
SELECT ticket.payment_succeeded(payment_id, 'ch_u2') AS sold
  FROM ticket.claim_payments('a', 10, '1 minute') JOIN ticket.orders AS o USING (order_id) WHERE o.user_id = 'u2';
SELECT state, position FROM ticket.queue_status(:qid, 'q1');
SELECT ticket.block_user('u9', 'cache test');
SELECT status FROM ticket.hold(:cid, 'u9', ARRAY[9]);

-- A write made with session_replication_role = replica (pg_restore
-- --disable-triggers, logical replication's apply) fires no ordinary
-- trigger; the cache triggers are ENABLE ALWAYS, so it reaches the caches:
-- the concert is closed for this backend's next hold.
SET session_replication_role = replica;
UPDATE ticket.concert SET state = 'closed' WHERE concert_id = :cid;
RESET session_replication_role;
SELECT status FROM ticket.hold(:cid, 'u3', ARRAY[7]);
SELECT tgrelid::regclass AS cache_trigger_on, tgenabled FROM pg_trigger
 WHERE tgfoid = 'ticket._relation_changed'::regproc ORDER BY tgrelid::regclass::text;
UPDATE ticket.concert SET state = 'on_sale' WHERE concert_id = :cid;

-- Triggers a DBA adds: row triggers on the tables the C paths write fire
-- as for an INSERT or UPDATE, BEFORE and AFTER, without a warning;
-- statement triggers do not fire for the C paths (hold, hold_best,
-- checkout, _sell), which run no INSERT or UPDATE statement.
CREATE TABLE public.audit (what text);
CREATE FUNCTION public.audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.audit VALUES (TG_TABLE_NAME || ' ' || TG_WHEN || ' ' || TG_OP || ' ' || TG_LEVEL);
	RETURN CASE WHEN TG_LEVEL = 'ROW' THEN NEW END;
END $$;
CREATE TRIGGER audit_before BEFORE INSERT OR UPDATE ON ticket.hold FOR EACH ROW EXECUTE FUNCTION public.audit_row();
CREATE TRIGGER audit_after AFTER INSERT OR UPDATE ON ticket.hold FOR EACH ROW EXECUTE FUNCTION public.audit_row();
CREATE TRIGGER audit_seat AFTER UPDATE ON ticket.seat FOR EACH ROW EXECUTE FUNCTION public.audit_row();
CREATE TRIGGER audit_orders AFTER INSERT OR UPDATE ON ticket.orders FOR EACH ROW EXECUTE FUNCTION public.audit_row();
CREATE TRIGGER audit_statement AFTER INSERT OR UPDATE ON ticket.hold FOR EACH STATEMENT EXECUTE FUNCTION public.audit_row();
SELECT status FROM ticket.hold(:cid, 'u4', ARRAY[8]);
SELECT hold_id AS h4 FROM ticket.hold WHERE user_id = 'u4' \gset
SELECT status FROM ticket.checkout(:h4, 'u4', 'k4');
SELECT ticket.payment_succeeded(payment_id, 'ch_u4') AS sold
  FROM ticket.claim_payments('a', 10, '1 minute') JOIN ticket.orders AS o USING (order_id) WHERE o.user_id = 'u4';
SELECT what, count(*) FROM public.audit GROUP BY what ORDER BY what;
DROP TABLE public.audit;
DROP FUNCTION public.audit_row() CASCADE;
SELECT count(*) AS violations FROM ticket.verify();
