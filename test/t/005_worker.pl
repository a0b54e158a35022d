# The background worker: it waits for the extension, then by itself expires
# holds and admissions, times out payments, runs compensations and publishes
# events; a payment adapter (test/adapter-sim) settles every order; an error
# in a batch is logged and the worker carries on; killed, it comes back alone
# while every other session stays up.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname);
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('worker');
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
});
$node->start;

sub query { return $node->safe_psql('postgres', shift); }
sub wait_until
{
	my ($sql, $what) = @_;
	ok($node->poll_query_until('postgres', $sql), $what);
}
my $worker_pid = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'ticket worker'};

# It is there before the extension exists, and waits.
wait_until(qq{SELECT count(*) = 1 FROM ($worker_pid) w}, 'the worker shows in pg_stat_activity');
is(query(q{SELECT datname || ' ' || application_name FROM pg_stat_activity WHERE backend_type = 'ticket worker'}),
	'postgres ticket worker', 'connected to ticket.database, named in application_name');
ok($node->wait_for_log(qr/LOG:  ticket worker: extension "ticket" is not installed in database "postgres" \(ticket\.database\); nothing to do until it is/),
	'the worker says in the log that ticket.database has no extension ticket');
usleep(1_000_000);    # five rounds at 200 ms, each of which could say it again
my $log_offset = -s $node->logfile;
query('CREATE EXTENSION ticket');
ok($node->wait_for_log(qr/ticket worker: extension "ticket" found in database "postgres"/, $log_offset),
	'and says so once it has');
ok($node->wait_for_log(qr/ticket worker: in flight at start: 0 holds past expiry/, $log_offset),
	'once the extension exists, the worker reconciles what was in flight');
is(() = slurp_file($node->logfile) =~ /is not installed in database/g, 1, 'it says it once, not every round');

# 1. Holds expire by themselves: 40 holds of 1 second.
query(q{
SELECT ticket.create_concert('Worker', now() + interval '30 days', now() - interval '1 day',
	hold_ttl => '1 second', payment_timeout => '2 seconds', per_user_limit => 10);
SELECT ticket.add_section(1, 'Floor', 'A', 25, 10, 10);
SELECT ticket.open_sale(1);
SELECT count(*) FROM generate_series(1, 40) AS i, ticket.hold(1, 'u' || i, ARRAY[i]);
});
wait_until(q{SELECT count(*) = 40 FROM ticket.hold WHERE state = 'expired'}, 'the worker expires 40 holds by itself');
is(query(q{SELECT count(*) FROM ticket.seat WHERE concert_id = 1 AND state <> 'available'}), '0',
	'their seats are available again');
wait_until(q{SELECT count(*) = 40 FROM ticket.events_since(0) WHERE kind = 'hold_expired'},
	'and the worker publishes a hold_expired event for each');
is(query(q{SELECT count(*) FROM ticket.event WHERE event_id IS NULL AND created_at < now() - interval '5 seconds'}),
	'0', 'no event stays unpublished');

# 2. A payment nobody reports times out: order cancelled, seats back.
query(q{SELECT ticket.checkout((ticket.hold(1, 'slow', ARRAY[50])).hold_id, 'slow', 'k')});
wait_until(q{SELECT state = 'cancelled' FROM ticket.orders WHERE user_id = 'slow'},
	'an unreported payment times out and its order is compensated');
is(query(q{SELECT s.state || ' ' || p.state || ' ' || p.last_error
	FROM ticket.seat s, ticket.payment p WHERE s.concert_id = 1 AND s.seat_id = 50}),
	'available failed timed out', 'its seat is released and its payment failed as timed out');

# 3. The adapter simulator against 60 checkouts, a third failing: every order settles.
query(q{
UPDATE ticket.concert SET hold_ttl = '10 minutes', payment_timeout = '10 minutes' WHERE concert_id = 1;
SELECT count(*) FROM generate_series(1, 60) AS i,
	ticket.checkout((ticket.hold(1, 'buyer' || i, ARRAY[i])).hold_id, 'buyer' || i, 'key' || i) AS c
 WHERE c.status = 'pending';
});
my ($stdout, $stderr);
IPC::Run::run([ dirname(__FILE__) . '/../adapter-sim', '--fail', '0.33', '--retryable', '0.5',
	'--latency', '5', '--idle-exit', '3' ],
	'>', \$stdout, '2>', \$stderr, init => sub {
		$ENV{PGHOST} = $node->host; $ENV{PGPORT} = $node->port; $ENV{PGDATABASE} = 'postgres';
	});
like($stdout, qr/adapter-sim sim: claimed \d+, succeeded \d+/, 'the simulator ran');
is($stderr, '', 'the simulator reported no errors');
wait_until(q{SELECT count(*) = 0 FROM ticket.saga WHERE state = 'running'}, 'the worker runs every compensation');
is(query(q{SELECT count(*) FROM ticket.orders WHERE user_id LIKE 'buyer%' AND state NOT IN ('paid', 'cancelled')}),
	'0', 'every order is paid or cancelled');
my ($paid, $cancelled) = split /\|/, query(q{SELECT count(*) FILTER (WHERE state = 'paid'),
	count(*) FILTER (WHERE state = 'cancelled') FROM ticket.orders WHERE user_id LIKE 'buyer%'});
ok($paid > 0 && $cancelled > 0, "some paid ($paid), some compensated ($cancelled)");
is(query(q{SELECT count(*) FROM ticket.seat WHERE concert_id = 1 AND state = 'sold'}), $paid * 1,
	'a sold seat for each paid order, none for the others');
is(query('SELECT count(*) FROM ticket.verify()'), '0', 'no violations');

# 4. An error in a batch is logged and the worker carries on.
query(q{
CREATE FUNCTION public.poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.user_id = 'poison' AND NEW.state = 'expired' THEN
		RAISE EXCEPTION 'poisoned hold %', NEW.hold_id;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER poison BEFORE UPDATE ON ticket.hold FOR EACH ROW EXECUTE FUNCTION public.poison();
});
my $pid = query($worker_pid);
$log_offset = -s $node->logfile;
query(q{SELECT ticket.hold(1, 'poison', ARRAY[99], NULL, NULL, NULL)});
query(q{UPDATE ticket.hold SET expires_at = now() - interval '1 second' WHERE user_id = 'poison'});
ok($node->wait_for_log(qr/ERROR:  poisoned hold/, $log_offset), 'the failing batch is logged');
query(q{SELECT ticket.checkout((ticket.hold(1, 'late', ARRAY[98])).hold_id, 'late', 'k')});
query(q{UPDATE ticket.orders SET pay_by = now() WHERE user_id = 'late'});
wait_until(q{SELECT state = 'cancelled' FROM ticket.orders WHERE user_id = 'late'},
	'the other tasks still run');
is(query($worker_pid), $pid, 'the worker did not exit');
ok(query(q{SELECT value FROM ticket.counters() WHERE counter = 'worker_errors'}) > 0, 'worker_errors counts it');
query('DROP TRIGGER poison ON ticket.hold');
wait_until(q{SELECT state = 'expired' FROM ticket.hold WHERE user_id = 'poison'},
	'once the cause is gone the hold expires');

# 4b. pg_cancel_backend cancels the task that runs, never the worker; and
# rounds leak no memory (issue 15: the worker restarted on a cancel between
# two tasks, and what a round allocated after its first commit went into
# TopMemoryContext, 103 kB to 464 kB in 20 s at 10 ms).
$pid = query($worker_pid);
for my $i (1 .. 20)
{
	query(qq{SELECT pg_cancel_backend($pid)});
	usleep(50_000);
}
query(q{SELECT ticket.hold(1, 'cancelled', ARRAY[96], NULL, NULL, NULL)});
query(q{UPDATE ticket.hold SET expires_at = now() WHERE user_id = 'cancelled'});
wait_until(q{SELECT state = 'expired' FROM ticket.hold WHERE user_id = 'cancelled'},
	'after 20 cancels the worker still works');
is(query($worker_pid), $pid, 'and it is the same process (a cancel did not end it)');

query(q{ALTER SYSTEM SET ticket.worker_interval = '10ms'});
query(q{SELECT pg_reload_conf()});
# TopMemoryContext of the worker, as pg_log_backend_memory_contexts logs it.
my $top_memory = sub {
	my $offset = -s $node->logfile;
	query(qq{SELECT pg_log_backend_memory_contexts($pid)});
	$node->wait_for_log(qr/level: 0; TopMemoryContext: \d+ total/, $offset);
	my ($total) = substr(slurp_file($node->logfile), $offset) =~ /level: 0; TopMemoryContext: (\d+) total/;
	return $total;
};
sleep 2;
my $before = $top_memory->();
sleep 10;
my $after = $top_memory->();
cmp_ok($after - $before, '<', 65536,
	"rounds every 10 ms for 10 s: the worker's TopMemoryContext grew by less than 64 kB ($before -> $after bytes)");
query(q{ALTER SYSTEM RESET ticket.worker_interval});
query(q{SELECT pg_reload_conf()});

# 5. The worker killed: it comes back by itself; other sessions stay up.
my $session = $node->background_psql('postgres');
$session->query_safe('SELECT 1');
my $postmaster = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
query(qq{SELECT pg_terminate_backend(pid) FROM ($worker_pid) w});
wait_until(qq{SELECT count(*) = 1 FROM ($worker_pid) w WHERE pid <> $pid}, 'a new worker starts alone');
is($session->query_safe('SELECT 42'), '42', 'a session opened before is still connected');
is(query('SELECT pg_postmaster_start_time()'), $postmaster, 'the server did not restart');
query(q{SELECT ticket.hold(1, 'again', ARRAY[97], NULL, NULL, NULL)});
query(q{UPDATE ticket.hold SET expires_at = now() WHERE user_id = 'again'});
wait_until(q{SELECT state = 'expired' FROM ticket.hold WHERE user_id = 'again'}, 'and the new worker does the work');
$session->quit;

# 6. Dropping the extension under the worker: it idles, and resumes when it is back.
query('DROP EXTENSION ticket CASCADE');
$log_offset = -s $node->logfile;
query('CREATE EXTENSION ticket');
ok($node->wait_for_log(qr/ticket worker: in flight at start/, $log_offset),
	'after DROP and CREATE EXTENSION the worker starts over');
my $log = slurp_file($node->logfile);
unlike($log, qr/(PANIC|server process .* was terminated by signal)/, 'nothing crashed');

$node->stop;
done_testing();
