-- Between the one-by-one and the batch report runs of `bench/run payment`:
-- check out more of the holds the checkout run did not reach (hold n is
-- user n's, key 'k' || n as there) until :jobs charge jobs are due, in
-- chunks of 2,000 with a commit after each.  Not timed.
SELECT set_config('bench.more', greatest(:jobs - count(*), 0)::text, false)
  FROM ticket.payment WHERE state = 'processing';
DO $$
DECLARE
	more integer := current_setting('bench.more')::integer;
	n integer;
BEGIN
	WHILE more > 0 LOOP
		SELECT count(*) INTO n
		  FROM (SELECT hold_id, user_id FROM ticket.hold
				 WHERE concert_id = 1 AND state = 'active' ORDER BY hold_id LIMIT least(more, 2000)) AS h,
			   ticket.checkout(h.hold_id, h.user_id, 'k' || h.hold_id);
		EXIT WHEN n = 0;
		more := more - n;
		COMMIT;
	END LOOP;
END
$$;
