-- An adapter's round: claim one due job (committed), then report it paid.
SELECT payment_id AS p FROM ticket.claim_payments('bench' || :client_id, 1, '10 minutes') \gset
SELECT ticket.payment_succeeded(:p, 'ref-' || :p);
