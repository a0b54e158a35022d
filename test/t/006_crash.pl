# Crashes: a backend killed with SIGKILL in the middle of a checkout, and an
# immediate shutdown under a pgbench spike of holds and checkouts with the
# payment simulator running.  After each restart: every order a client saw
# committed is there (and every payment it saw succeed is still paid),
# nothing in flight is half-written, ticket.verify() finds nothing, and the
# worker finishes what was in flight by itself.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
ticket.database = 'postgres'
ticket.worker_interval = '200ms'
ticket.payment_retry_base = '50ms'
ticket.payment_retry_max = '200ms'
ticket.user_rate = 0
ticket.client_rate = 0
max_connections = 60
restart_after_crash = on
});
$node->start;

sub query { return $node->safe_psql('postgres', shift); }
sub wait_until
{
	my ($sql, $what) = @_;
	ok($node->poll_query_until('postgres', $sql), $what);
}
my $worker_up = q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'ticket worker'};

# 2,000 seats; holds and payments live 3 seconds, so the worker has work.
query(q{
CREATE EXTENSION ticket;
SELECT ticket.create_concert('Crash', now() + interval '30 days', now() - interval '1 day',
	hold_ttl => '3 seconds', payment_timeout => '3 seconds', per_user_limit => 4);
SELECT ticket.add_section(1, 'Floor', 'A', 30, 20, 100);
SELECT ticket.open_sale(1);
});

# What is not half-written: every order has its charge, every hold in
# checkout its order, no key is left in progress, and the invariants hold.
sub consistent
{
	my ($when) = @_;
	is(query(q{SELECT count(*) FROM ticket.orders o
		WHERE NOT EXISTS (SELECT FROM ticket.payment p WHERE p.order_id = o.order_id AND p.kind = 'charge')}),
		'0', "$when: every order has its payment");
	is(query(q{SELECT count(*) FROM ticket.hold h WHERE h.state IN ('checking_out', 'confirmed')
		AND NOT EXISTS (SELECT FROM ticket.orders o WHERE o.hold_id = h.hold_id)}),
		'0', "$when: every hold in checkout has its order");
	is(query(q{SELECT count(*) FROM ticket.idempotency WHERE status = 'in_progress'}),
		'0', "$when: no idempotency key is left in progress");
	is(query('SELECT count(*) FROM ticket.verify()'), '0', "$when: ticket.verify() finds nothing");
}

# 1. SIGKILL in the middle of a checkout.
my $done = query(q{SELECT (ticket.checkout((ticket.hold(1, 'alice', ARRAY[1])).hold_id, 'alice', 'ka')).order_id});
my $bob_hold = query(q{SELECT hold_id FROM ticket.hold(1, 'bob', ARRAY[2])});
my $s = $node->background_psql('postgres', on_error_stop => 0);
$s->query_safe('BEGIN');
$s->query_safe("SELECT ticket.checkout($bob_hold, 'bob', 'kb')");
my $pid = $s->query_safe('SELECT pg_backend_pid()');
kill 'KILL', $pid;
eval { $s->quit };
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server is back after the crash restart');
is(query("SELECT state FROM ticket.orders WHERE order_id = $done"), 'pending', 'the committed order survives');
is(query(q{SELECT count(*) FROM ticket.orders WHERE user_id = 'bob'}) . ' '
	. query(q{SELECT count(*) FROM ticket.idempotency WHERE user_id = 'bob'}) . ' '
	. query("SELECT state FROM ticket.hold WHERE hold_id = $bob_hold"),
	'0 0 active', 'the killed checkout left no order, no key, and its hold as it was');
consistent('after SIGKILL');
wait_until($worker_up, 'the worker is back');
wait_until(q{SELECT count(*) = 2 FROM ticket.hold WHERE state IN ('expired', 'released')},
	'the worker expires the hold the killed checkout left');
wait_until(q{SELECT state = 'cancelled' FROM ticket.orders WHERE user_id = 'alice'},
	'and times out the payment nobody reported');

# 2. An immediate shutdown under load.
my $script = $node->basedir . '/spike.sql';
append_to_file($script, q{
\set seat random(1, 1800)
\set u random(1, 100000000)
SELECT c.status FROM ticket.hold(1, 'p' || :u, ARRAY[:seat]) AS h,
	LATERAL ticket.checkout(h.hold_id, 'p' || :u, 'k' || h.hold_id) AS c
 WHERE h.status = 'held';
});
my %env = (PGHOST => $node->host, PGPORT => $node->port, PGDATABASE => 'postgres');
local @ENV{ keys %env } = values %env;
my ($bench_out, $bench_err, $sim_out, $sim_err) = ('', '', '', '');
my $bench = IPC::Run::start([ 'pgbench', '-n', '-c', '16', '-j', '2', '-T', '60', '-f', $script ],
	'>', \$bench_out, '2>', \$bench_err);
my $sim = IPC::Run::start([ dirname(__FILE__) . '/../adapter-sim', '--fail', '0.3', '--latency', '5',
	'--idle-exit', '0', '--duration', '60' ], '>', \$sim_out, '2>', \$sim_err);

# The witness: orders this client saw committed, and payments it saw succeed
# (on seats 1801-2000, which the spike leaves alone).
my (@orders, @paid);
my $deadline = time + 4;
for (my $i = 0; time < $deadline; $i++)
{
	my $seat = 1801 + $i % 200;
	my $o = $node->safe_psql('postgres', qq{SELECT c.order_id FROM ticket.hold(1, 'w$i', ARRAY[$seat]) AS h,
		LATERAL ticket.checkout(h.hold_id, 'w$i', 'w$i') AS c WHERE h.status = 'held' AND c.status = 'pending'});
	next if $o eq '';
	push @orders, $o;
	my $r = $node->safe_psql('postgres', qq{SELECT ticket.payment_succeeded(
		(SELECT payment_id FROM ticket.payment WHERE order_id = $o AND kind = 'charge'), 'witness-$o')});
	push @paid, $o if $r eq 'paid';
}
ok(@orders >= 3, 'the witness saw ' . scalar(@orders) . ' orders committed under load, ' . scalar(@paid) . ' paid');
my $before = query(q{SELECT count(*) FROM ticket.orders});
$node->stop('immediate');
$bench->finish;
$sim->finish;
ok($before > @orders, "the spike made $before orders before the shutdown");

my $log_offset = -s $node->logfile;
$node->start;
ok($node->wait_for_log(qr/ticket worker: in flight at start: \d+ holds past expiry, \d+ orders past pay_by, \d+ compensations running/,
	$log_offset), 'the restarted worker reports what was in flight');
my $list = join(',', @orders);
is(query("SELECT count(*) FROM ticket.orders WHERE order_id IN ($list)"), scalar(@orders),
	'every order the witness saw committed survives');
$list = join(',', @paid);
is(query("SELECT count(*) FROM ticket.orders WHERE order_id IN ($list) AND state = 'paid'"), scalar(@paid),
	'every payment it saw succeed is still paid');
consistent('after the immediate shutdown');

# The adapter settles what is left; the worker times out, compensates and expires the rest.
IPC::Run::run([ dirname(__FILE__) . '/../adapter-sim', '--fail', '0', '--latency', '0', '--idle-exit', '2' ],
	'>', \$sim_out, '2>', \$sim_err);
wait_until(q{SELECT count(*) = 0 FROM ticket.orders WHERE state = 'pending'}, 'no order is left pending');
wait_until(q{SELECT count(*) = 0 FROM ticket.saga WHERE state = 'running'}, 'no compensation is left running');
wait_until(q{SELECT count(*) = 0 FROM ticket.hold WHERE state IN ('active', 'checking_out')},
	'no hold is left active');
wait_until(q{SELECT count(*) = 0 FROM ticket.event WHERE event_id IS NULL}, 'every event is published');
is(query(q{SELECT count(*) FROM ticket.seat WHERE state = 'held'}), '0', 'no seat is left held');
is(query(q{SELECT count(*) FROM ticket.seat WHERE state = 'sold'}),
	query(q{SELECT coalesce(sum(cardinality(seat_ids)), 0) FROM ticket.orders WHERE state = 'paid'}),
	'the sold seats are exactly those of the paid orders');
consistent('once the worker is done');

$node->stop;
done_testing();
