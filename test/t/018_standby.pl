# Polls on a hot standby, and failover by promotion (issue 19).
#
# A primary with a synchronous streaming standby (PostgreSQL's own
# replication; pg_auto_failover drives the same promotion, see
# docs/scaling.md).  Proves:
#   - the waiting room's polls and the buyer's reads run on the standby
#     without writing: queue_status (position, ETA, the pass once admitted),
#     browse_*, my_*, order_status, check_pass, and the admin's verify(),
#     seat_map, sales_by_section and views; a write there is refused with
#     25006, not an internal error;
#   - a pass handed out by the standby is accepted by the primary's hold;
#   - the ticket worker does not run on the standby, and starts on it once
#     promoted;
#   - the primary killed in the middle of a sale (pgbench holding and
#     checking out, the adapter paying): after promotion no acknowledged
#     checkout, payment report or sold seat is lost, verify() is empty, and
#     the sale goes on on the new primary.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SaleWitness;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', q{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
ticket.user_rate = 0
ticket.worker_interval = 200
synchronous_commit = on
});
$primary->start;
sub q_primary { return $primary->safe_psql('postgres', shift); }

q_primary(q{
CREATE EXTENSION ticket;
SELECT ticket.create_concert('Line', now() + interval '30 days', now() - interval '1 day', queue => true, admit_rate => 2);
SELECT ticket.add_section(1, 'Floor', 'A', 50, 1, 20);
SELECT ticket.create_concert('Open', now() + interval '30 days', now() - interval '1 day',
	per_user_limit => 1, payment_timeout => '10 minutes');
SELECT ticket.add_section(2, 'Floor', 'A', 40, 100, 200);
SELECT ticket.join_queue(1, 'fan' || g) FROM generate_series(1, 5) AS g;
SELECT ticket.open_sale(1);
SELECT ticket.open_sale(2);
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 second' WHERE concert_id = 1;
SELECT ticket.admit(1);
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
# Synchronous: a commit is acknowledged once the standby has it.
$primary->append_conf('postgresql.conf', "synchronous_standby_names = 'standby'\n");
$primary->reload;
$primary->wait_for_catchup($standby);
sub q_standby { return $standby->safe_psql('postgres', shift); }

is(q_standby(q{SELECT pg_is_in_recovery()}), 't', 'the standby is in recovery');
is($primary->safe_psql('postgres', q{SELECT sync_state FROM pg_stat_replication}), 'sync', 'and synchronous');
is(q_standby(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'ticket worker'}), '0',
	'the ticket worker does not run on the standby');
is(q_primary(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'ticket worker'}), '1', 'it runs on the primary');

# ---------------------------------------------------------------- polls

is(q_standby(q{SELECT string_agg(user_id || ':' || state || ':' || COALESCE(position::text, '-'), ' ' ORDER BY user_id)
	FROM generate_series(1, 5) AS g, ticket.queue_status(1, 'fan' || g)}),
	q_primary(q{SELECT string_agg(user_id || ':' || state || ':' || COALESCE(position::text, '-'), ' ' ORDER BY user_id)
	FROM generate_series(1, 5) AS g, ticket._queue_state(1, 'fan' || g)}),
	'queue_status on the standby: the same states and positions as the primary');
is(q_standby(q{SELECT count(*) FROM generate_series(1, 5) AS g, ticket.queue_status(1, 'fan' || g) AS s
	WHERE s.state = 'waiting' AND s.eta IS NOT NULL}), '3', 'three still waiting, each with an ETA');

# A pass from the standby, a hold on the primary.
my ($admitted, $pass) = split /\|/, q_standby(q{SELECT s.user_id, s.pass_token FROM generate_series(1, 5) AS g,
	ticket.queue_status(1, 'fan' || g) AS s WHERE s.state = 'admitted' ORDER BY s.user_id LIMIT 1});
ok(length($pass) > 20, "the standby hands $admitted a pass");
like(q_standby(qq{SELECT ticket.check_pass('$pass', 1, '$admitted')}), qr/^\d+$/, 'check_pass on the standby');
is(q_primary(qq{SELECT status FROM ticket.hold(1, '$admitted', ARRAY[1, 2], pass => '$pass')}), 'held',
	'the primary\'s hold accepts the pass the standby signed');

# The buyer's reads, on the standby.
$primary->wait_for_catchup($standby);
is(q_standby(q{SELECT string_agg(title || ' ' || available, ', ') FROM ticket.browse_concerts()}),
	q_primary(q{SELECT string_agg(title || ' ' || available, ', ') FROM ticket.browse_concerts()}),
	'browse_concerts on the standby');
is(q_standby(q{SELECT count(*) FROM ticket.browse_seats(1, 1, only_free => true)}), '18', 'browse_seats: the held seats are not free');
is(q_standby(q{SELECT sum(available) FROM ticket.browse_sections(2)}), '20000', 'browse_sections');
is(q_standby(qq{SELECT state FROM ticket.my_holds('$admitted')}), 'active', 'my_holds on the standby');
is(q_standby(qq{SELECT count(*) FROM ticket.my_orders('$admitted')}), '0', 'my_orders on the standby');
{
	my ($ho) = q_primary(qq{SELECT order_id FROM ticket.checkout((SELECT hold_id FROM ticket.hold WHERE user_id = '$admitted'), '$admitted', 'k-$admitted')});
	$primary->wait_for_catchup($standby);
	is(q_standby(qq{SELECT status FROM ticket.order_status($ho, '$admitted')}), 'pending', 'order_status on the standby');
}
is(q_standby(qq{SELECT count(*) >= 0 FROM ticket.my_events('$admitted')}), 't', 'my_events on the standby');

is(q_standby(q{SELECT count(*) FROM ticket.verify()}), '0', 'verify() on the standby');
is(q_standby(q{SELECT count(*) FROM ticket.seat_map(1, 1)}), '1', 'seat_map on the standby');
is(q_standby(q{SELECT count(*) FROM ticket.sales_by_section(2)}), '1', 'sales_by_section on the standby');
is(q_standby(q{SELECT count(*) FROM ticket.dashboard}), '2', 'the dashboard on the standby');
is(q_standby(q{SELECT count(*) FROM ticket.concerts}), '2', 'the concerts view on the standby');
is(q_standby(q{SELECT ok || ': ' || detail FROM ticket.health() WHERE check_name = 'worker serves this database'}),
	'true: a standby: the worker runs on the primary, and here once this server is promoted',
	'health() on the standby: no worker there is no fault, and ticket.database names this database');
# A standby whose worker would idle once promoted is a fault there too.
$standby->append_conf('postgresql.conf', "ticket.worker = off\n");
$standby->reload;
ok($standby->poll_query_until('postgres', q{SELECT ok || ': ' || detail FROM ticket.health() WHERE check_name = 'worker serves this database'},
	'false: a standby, and ticket.worker is off: once promoted, the worker would idle'),
	'health() on a standby with ticket.worker off: false, and why');
$standby->adjust_conf('postgresql.conf', 'ticket.worker', 'on');
$standby->reload;
ok($standby->poll_query_until('postgres', q{SELECT ok FROM ticket.health() WHERE check_name = 'worker serves this database'}),
	'and true again once it is on');

# A write on the standby is refused as such.
my ($rc, $out, $err) = $standby->psql('postgres', q{SELECT ticket.hold(2, 'x', ARRAY[1])});
like($err, qr/read-only|recovery/, 'a hold on the standby is refused: read-only');
($rc, $out, $err) = $standby->psql('postgres', q{\set VERBOSITY verbose
SELECT ticket.join_queue(1, 'late')});
like($err, qr/ERROR:  25006/, 'join_queue on the standby: 25006');

# ---------------------------------------------------------------- failover

# The sale under way: pgbench holds and checks out on concert 2; a witness
# records what the primary acknowledged (orders, and payments reported).
my $bench = SaleWitness::start_spike($primary->basedir . '/sale.sql', 2,
	'-h', $primary->host, '-p', $primary->port, 'postgres');
my ($orders, $paid) = SaleWitness::witness(\&q_primary, 2);

# The primary dies in the middle of it; the standby takes over.
$primary->stop('immediate');
$bench->finish;
$standby->promote;
is(q_standby(q{SELECT pg_is_in_recovery()}), 'f', 'the standby is promoted');
ok($standby->poll_query_until('postgres', q{SELECT detail FROM ticket.health() WHERE check_name = 'worker serves this database' AND ok},
	'1 worker(s) connected to postgres'), 'promoted, health() sees the worker serving this database');
SaleWitness::survived(\&q_standby, sub { $standby->poll_query_until('postgres', $_[0], $_[1]) }, 2, $orders, $paid);

done_testing();
