-- Bad input to the public functions of src/payment.sql, one part per function:
-- claim_payments, payment_succeeded, payment_failed, report_payments.  The
-- fixture (test/bad_setup.sql) is loaded once for all of them: each part
-- checks that it wrote nothing, so the next finds the fixture as it was.
\i test/bad_setup.sql

-- Bad input to ticket.claim_payments(adapter, max_jobs, lease): bad texts,
-- sizes and leases, and roles without the grant; nothing is claimed.
SELECT * FROM pg_temp.each('adapter', 'text', $$SELECT count(*) FROM ticket.claim_payments(%s)$$);
SELECT * FROM pg_temp.each('max_jobs', 'int4', $$SELECT count(*) FROM ticket.claim_payments('a1', %s)$$);
SELECT * FROM pg_temp.each('lease', 'interval', $$SELECT count(*) FROM ticket.claim_payments('a1', 10, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('adapter 101 characters',   $$SELECT count(*) FROM ticket.claim_payments(repeat('a', 101))$$),
	('max_jobs 1,001',           $$SELECT count(*) FROM ticket.claim_payments('a1', 1001)$$),
	('lease 1 hour 1 second',    $$SELECT count(*) FROM ticket.claim_payments('a1', 10, '1 hour 1 second')$$),
	('lease 1 month',            $$SELECT count(*) FROM ticket.claim_payments('a1', 10, '1 month')$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.claim_payments(text, int, interval)', $$SELECT count(*) FROM ticket.claim_payments('a1')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.payment_succeeded(payment_id, provider_ref): bad ids
-- and texts, and roles without the grant; no payment changes.
SELECT * FROM pg_temp.each('payment_id', 'int8', $$SELECT ticket.payment_succeeded(%s, 'ref-1')$$);
SELECT * FROM pg_temp.each('provider_ref', 'text', $$SELECT ticket.payment_succeeded(1, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown payment',           $$SELECT ticket.payment_succeeded(999, 'ref-1')$$),
	('provider_ref 256 characters', $$SELECT ticket.payment_succeeded(1, repeat('r', 256))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.payment_succeeded(bigint, text)', $$SELECT ticket.payment_succeeded(1, 'ref-1')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.payment_failed(payment_id, reason, retryable): bad
-- ids, texts and flags, and roles without the grant; no payment changes.
-- (A reason may hold a newline or a tab: a provider's message.)
SELECT * FROM pg_temp.each('payment_id', 'int8', $$SELECT ticket.payment_failed(%s, 'declined')$$);
SELECT * FROM pg_temp.each('reason', 'text', $$SELECT ticket.payment_failed(1, %s)$$, '{"newline inside","tab inside"}');
SELECT * FROM pg_temp.each('retryable', 'bool', $$SELECT ticket.payment_failed(1, 'declined', %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown payment',           $$SELECT ticket.payment_failed(999, 'declined')$$),
	('reason 1,001 characters',   $$SELECT ticket.payment_failed(1, repeat('r', 1001))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.payment_failed(bigint, text, boolean)', $$SELECT ticket.payment_failed(1, 'declined')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.report_payments(reports): not an array, bad elements,
-- duplicates, too many, an unknown payment, and roles without the grant.
-- Every bad batch after a good first report (payment 1 succeeded): all is
-- checked before anything is written, so nothing is, not even the good one.
-- reports = [the good report, bad]: the statement for one bad element.
CREATE FUNCTION pg_temp.rp(bad text) RETURNS text LANGUAGE sql AS $$
	SELECT format($f$SELECT count(*) FROM ticket.report_payments(%L::jsonb)$f$,
		'[{"payment_id": 1, "outcome": "succeeded", "provider_ref": "ch_1"}, ' || bad || ']')
$$;
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('NULL',                   $$SELECT count(*) FROM ticket.report_payments(NULL)$$),
	('JSON null',              $$SELECT count(*) FROM ticket.report_payments('null')$$),
	('a string',               $$SELECT count(*) FROM ticket.report_payments('"succeeded"')$$),
	('a number',               $$SELECT count(*) FROM ticket.report_payments('1')$$),
	('true',                   $$SELECT count(*) FROM ticket.report_payments('true')$$),
	('an object, not an array', $$SELECT count(*) FROM ticket.report_payments('{"payment_id": 1, "outcome": "succeeded", "provider_ref": "ch_1"}')$$)
) AS t(c, s);
SELECT c AS bad_element, pg_temp.bad(pg_temp.rp(e)) AS result FROM (VALUES
	('a number',                      $$1$$),
	('a string',                      $$"payment 2"$$),
	('JSON null',                     $$null$$),
	('an array',                      $$[2, "failed"]$$),
	('payment_id missing',            $$ {"outcome": "failed", "reason": "x"}$$),
	('payment_id null',               $$ {"payment_id": null, "outcome": "failed", "reason": "x"}$$),
	('payment_id 0',                  $$ {"payment_id": 0, "outcome": "failed", "reason": "x"}$$),
	('payment_id -2',                 $$ {"payment_id": -2, "outcome": "failed", "reason": "x"}$$),
	('payment_id 2.5',                $$ {"payment_id": 2.5, "outcome": "failed", "reason": "x"}$$),
	('payment_id 2.0',                $$ {"payment_id": 2.0, "outcome": "failed", "reason": "x"}$$),
	('payment_id "2" (a string)',     $$ {"payment_id": "2", "outcome": "failed", "reason": "x"}$$),
	('payment_id true',               $$ {"payment_id": true, "outcome": "failed", "reason": "x"}$$),
	('payment_id 1e19 (over int8)',   $$ {"payment_id": 10000000000000000000, "outcome": "failed", "reason": "x"}$$),
	('outcome missing',               $$ {"payment_id": 2, "reason": "x"}$$),
	('outcome unknown',               $$ {"payment_id": 2, "outcome": "refunded", "provider_ref": "x"}$$),
	('outcome in capitals',           $$ {"payment_id": 2, "outcome": "SUCCEEDED", "provider_ref": "x"}$$),
	('outcome a number',              $$ {"payment_id": 2, "outcome": 1, "provider_ref": "x"}$$),
	('success without provider_ref',  $$ {"payment_id": 2, "outcome": "succeeded"}$$),
	('success, provider_ref null',    $$ {"payment_id": 2, "outcome": "succeeded", "provider_ref": null}$$),
	('success, provider_ref a number', $$ {"payment_id": 2, "outcome": "succeeded", "provider_ref": 42}$$),
	('provider_ref empty',            $$ {"payment_id": 2, "outcome": "succeeded", "provider_ref": ""}$$),
	('provider_ref blank',            $$ {"payment_id": 2, "outcome": "succeeded", "provider_ref": "   "}$$),
	('provider_ref control \x01',     $$ {"payment_id": 2, "outcome": "succeeded", "provider_ref": "a\u0001b"}$$),
	('provider_ref newline inside',   $$ {"payment_id": 2, "outcome": "succeeded", "provider_ref": "a\nb"}$$),
	('provider_ref 256 characters',   format($$ {"payment_id": 2, "outcome": "succeeded", "provider_ref": "%s"}$$, repeat('r', 256))),
	('failure without reason',        $$ {"payment_id": 2, "outcome": "failed", "retryable": false}$$),
	('failure, reason a number',      $$ {"payment_id": 2, "outcome": "failed", "reason": 503}$$),
	('reason empty',                  $$ {"payment_id": 2, "outcome": "failed", "reason": ""}$$),
	('reason blank',                  $$ {"payment_id": 2, "outcome": "failed", "reason": " \t\n"}$$),
	('reason control \x01',           $$ {"payment_id": 2, "outcome": "failed", "reason": "a\u0001b"}$$),
	('reason 1,001 characters',       format($$ {"payment_id": 2, "outcome": "failed", "reason": "%s"}$$, repeat('e', 1001))),
	('retryable a string',            $$ {"payment_id": 2, "outcome": "failed", "reason": "x", "retryable": "yes"}$$),
	('retryable a number',            $$ {"payment_id": 2, "outcome": "failed", "reason": "x", "retryable": 1}$$),
	('retryable null',                $$ {"payment_id": 2, "outcome": "failed", "reason": "x", "retryable": null}$$),
	('retryable misspelt (retryabel)', $$ {"payment_id": 2, "outcome": "failed", "reason": "x", "retryabel": false}$$),
	('an unknown key',                $$ {"payment_id": 2, "outcome": "succeeded", "provider_ref": "x", "amount": 10}$$),
	('attempt 0',                     $$ {"payment_id": 2, "outcome": "failed", "reason": "x", "attempt": 0}$$),
	('attempt a string',              $$ {"payment_id": 2, "outcome": "failed", "reason": "x", "attempt": "1"}$$),
	('a failure with a blank provider_ref', $$ {"payment_id": 2, "outcome": "failed", "reason": "x", "provider_ref": " "}$$),
	('payment 1 twice',               $$ {"payment_id": 1, "outcome": "succeeded", "provider_ref": "ch_1"}$$),
	('payment 1 twice, other outcome', $$ {"payment_id": 1, "outcome": "failed", "reason": "x"}$$),
	('unknown payment 999',           $$ {"payment_id": 999, "outcome": "succeeded", "provider_ref": "x"}$$)
) AS t(c, e);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('1,001 reports',    format($$SELECT count(*) FROM ticket.report_payments(%L::jsonb)$$,
							(SELECT jsonb_agg(jsonb_build_object('payment_id', g, 'outcome', 'failed', 'reason', 'x'))
							   FROM generate_series(1, 1001) AS g))),
	('1,001 reports of one payment', format($$SELECT count(*) FROM ticket.report_payments(%L::jsonb)$$,
							(SELECT jsonb_agg(jsonb_build_object('payment_id', 1, 'outcome', 'succeeded', 'provider_ref', 'x'))
							   FROM generate_series(1, 1001) AS g))),
	('only an unknown payment', $$SELECT count(*) FROM ticket.report_payments('[{"payment_id": 999, "outcome": "failed", "reason": "x"}]')$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.report_payments(jsonb)', pg_temp.rp('{"payment_id": 2, "outcome": "failed", "reason": "x"}'));
SELECT p.payment_id, p.state, p.provider_ref, p.attempts FROM ticket.payment AS p ORDER BY p.payment_id;
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
