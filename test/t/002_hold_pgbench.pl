# A thousand buyers at once, with pgbench: every seat is sold exactly once,
# nobody waits on a lock long enough to error, and ticket.verify() finds
# nothing wrong afterwards.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $clients = 1000;

my $node = PostgreSQL::Test::Cluster->new('spike');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
max_connections = @{[ $clients + 50 ]}
shared_buffers = '256MB'
# each client is one user retrying fast: this test is about seats, not limits
ticket.user_rate = 0
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION ticket;
-- 1: 500 seats in 10 rows of 50; 2: one seat; 3: 500 standing places
SELECT ticket.create_concert('Five hundred', now() + interval '30 days', now() - interval '1 day');
SELECT ticket.add_section(1, 'Floor', 'A', 100, 10, 50);
SELECT ticket.create_concert('One seat', now() + interval '30 days', now() - interval '1 day');
SELECT ticket.add_section(2, 'Throne', 'A', 1000, 1, 1);
SELECT ticket.create_concert('Standing', now() + interval '30 days', now() - interval '1 day');
SELECT ticket.add_standing(3, 'Pit', 'GA', 50, 500);
SELECT ticket.open_sale(1), ticket.open_sale(2), ticket.open_sale(3);
});

# Run one pgbench spike: $clients clients, $txns transactions each, no errors.
sub spike
{
	my ($name, $txns, $script) = @_;
	$node->pgbench("-n -c $clients -j 2 -t $txns", 0,
		[qr{number of transactions actually processed: @{[ $clients * $txns ]}/}],
		[qr{^$}], $name, { "$name.sql" => $script });
}

sub query { return $node->safe_psql('postgres', shift); }

# 1. Each client retries random seats of a 500-seat concert: 20,000 attempts
# leave the chance of a seat nobody tried below 1 in 10^8.
spike('random_seats', 20, q{
\set seat random(1, 500)
SELECT status FROM ticket.hold(1, 'u' || :client_id, ARRAY[:seat]);
});
is(query("SELECT count(*) FROM ticket.seat WHERE concert_id = 1 AND state = 'held'"),
	'500', 'random seats: all 500 seats held');
is(query("SELECT count(*), count(DISTINCT seat_ids[1]) FROM ticket.hold WHERE concert_id = 1"),
	'500|500', 'random seats: exactly 500 holds, one per seat');
is(query("SELECT count(*) FROM ticket.verify(1)"), '0', 'random seats: no violations');

# 2. Everyone wants the same seat.
spike('one_seat', 3, q{
SELECT status FROM ticket.hold(2, 'u' || :client_id, ARRAY[1]);
});
is(query("SELECT count(*) FROM ticket.hold WHERE concert_id = 2"), '1', 'one seat: exactly one hold');
is(query("SELECT state FROM ticket.seat WHERE concert_id = 2"), 'held', 'one seat: the seat is held');
is(query("SELECT count(*) FROM ticket.verify(2)"), '0', 'one seat: no violations');

# 3. A standing section of 500 places: no hot counter row, each place once.
spike('standing', 3, q{
SELECT status FROM ticket.hold_best(3, 'u' || :client_id, 1, 1);
});
is(query("SELECT count(*) FROM ticket.seat WHERE concert_id = 3 AND state = 'held'"),
	'500', 'standing: all 500 places held');
is(query("SELECT count(*), sum(cardinality(seat_ids)) FROM ticket.hold WHERE concert_id = 3"),
	'500|500', 'standing: exactly 500 holds of one place');
is(query("SELECT count(*) FROM ticket.verify(3)"), '0', 'standing: no violations');

# Every "held" answer is a hold in the table: 500 + 1 + 500.
is(query("SELECT value FROM ticket.counters() WHERE counter = 'holds_held'"),
	'1001', 'as many "held" answers as holds');
is(query("SELECT count(*) FROM ticket.verify()"), '0', 'no violations anywhere');

my $log = slurp_file($node->logfile);
unlike($log, qr/(PANIC|FATAL|ERROR|deadlock)/, 'no errors in the server log');

$node->stop;
done_testing();
