-- An adapter's round with batches, as ticket-adapter does it: claim up to 50
-- due jobs (that commits), then report them all paid with one
-- ticket.report_payments call (one more commit), the JSON built in SQL from
-- the claimed ids.
SELECT coalesce(string_agg(payment_id::text, ','), '') AS ids
  FROM ticket.claim_payments('batch' || :client_id, 50, '30 seconds') \gset
SELECT count(*) FROM ticket.report_payments((
	SELECT coalesce(jsonb_agg(jsonb_build_object('payment_id', i, 'outcome', 'succeeded', 'provider_ref', 'ref-' || i)), '[]')
	  FROM unnest('{:ids}'::bigint[]) AS i));
