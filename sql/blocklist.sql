-- Blocklist: a blocked user's holds are released in the same transaction and
-- every later hold answers "blocked"; unblocking lets them buy again.
\i test/regress_setup.sql

SELECT ticket.create_concert('Bots', '2100-06-01 20:00+00', '2000-01-01 00:00+00') AS cid \gset
SELECT ticket.add_section(:cid, 'Floor', 'A', 100, 2, 5);
SELECT ticket.add_standing(:cid, 'Pit', 'GA', 10, 20);
SELECT ticket.open_sale(:cid);
SELECT ticket.create_concert('Other', '2100-06-01 20:00+00', '2000-01-01 00:00+00') AS oid \gset
SELECT ticket.add_standing(:oid, 'Pit', 'GA', 10, 5);
SELECT ticket.open_sale(:oid);

-- The bot holds seats in two concerts, one hold already expired.
SELECT status FROM ticket.hold(:cid, 'bot', ARRAY[1, 2]);
SELECT status FROM ticket.hold(:cid, 'bot', ARRAY[3]);
SELECT status FROM ticket.hold(:oid, 'bot', ARRAY[1]);
UPDATE ticket.hold SET expires_at = now() - interval '1 second' WHERE user_id = 'bot' AND seat_ids = ARRAY[3];
UPDATE ticket.seat SET held_until = now() - interval '1 second' WHERE concert_id = :cid AND seat_id = 3;
SELECT status FROM ticket.hold(:cid, 'human', ARRAY[4]);

SELECT ticket.block_user('bot', 'scripted checkout') AS released;
SELECT concert_id, seat_ids, state FROM ticket.hold WHERE user_id = 'bot' ORDER BY hold_id;
SELECT concert_id, count(*) AS still_held FROM ticket.seat WHERE state <> 'available' GROUP BY concert_id ORDER BY 1;
SELECT user_id, reason, blocked_by = current_user AS by_me FROM ticket.blocked_user;

-- Every way of holding now answers blocked, and writes nothing.
SELECT status FROM ticket.hold(:cid, 'bot', ARRAY[5]);
SELECT status FROM ticket.hold_best(:cid, 'bot', 1, 1);
SELECT status FROM ticket.hold_best(:cid, 'bot', 2, 2);
SELECT status FROM ticket.hold(:oid, 'bot', ARRAY[2], 'retry-1');
SELECT count(*) AS bot_holds FROM ticket.hold WHERE user_id = 'bot' AND state = 'active';
-- Others are not affected.
SELECT status FROM ticket.hold(:cid, 'human', ARRAY[5]);

-- Blocking twice changes nothing; unblocking lets the user buy again.
SELECT ticket.block_user('bot') AS released_again;
SELECT reason FROM ticket.blocked_user WHERE user_id = 'bot';
SELECT ticket.unblock_user('bot') AS was_blocked;
SELECT ticket.unblock_user('bot') AS was_blocked;
SELECT status, seat_ids FROM ticket.hold(:cid, 'bot', ARRAY[1]);

-- A pending order of a user who is then blocked is left to be paid (its
-- charge may be at the provider already); the operator can compensate it.
SELECT hold_id AS ph FROM ticket.hold(:cid, 'payer', ARRAY[9]) \gset
SELECT status FROM ticket.checkout(:ph, 'payer', 'kp');
SELECT ticket.block_user('payer', 'blocked after checkout') AS released_holds;
SELECT ticket.payment_succeeded(j.payment_id, 'ch_payer') AS outcome
  FROM ticket.claim_payments('a', 10, '1 minute') AS j JOIN ticket.orders AS o USING (order_id)
 WHERE o.user_id = 'payer';
SELECT o.state, s.state AS seat FROM ticket.orders AS o JOIN ticket.seat AS s
    ON s.concert_id = o.concert_id AND s.seat_id = 9 WHERE o.user_id = 'payer';
SELECT ticket.unblock_user('payer') AS was_blocked;

SELECT * FROM ticket.verify();
SELECT counter, value > 0 AS seen FROM ticket.counters() WHERE counter = 'holds_blocked';

-- Bad input and privileges.
SELECT pg_temp.err($$SELECT ticket.block_user(NULL)$$);
SELECT pg_temp.err($$SELECT ticket.block_user('')$$);
SELECT pg_temp.err($$SELECT ticket.block_user(repeat('u', 129))$$);
SELECT pg_temp.err($$SELECT ticket.block_user('u', repeat('r', 201))$$);
SELECT pg_temp.err($$SELECT ticket.unblock_user(NULL)$$);
SET ROLE ticket_customer;
SELECT pg_temp.err($$SELECT ticket.block_user('rival')$$);
SELECT pg_temp.err($$SELECT * FROM ticket.blocked_user$$);
RESET ROLE;
SET ROLE ticket_admin;
SELECT ticket.block_user('rival') AS admin_blocks;
SELECT user_id FROM ticket.blocked_user ORDER BY 1;
RESET ROLE;
