# Overload: the payment provider slows to a tenth of the checkout rate for
# 60 seconds in the middle of a waiting-room sale.  The real adapter
# (ticket-adapter) charges the fake provider (test/fake-psp); simulated fans
# (pgbench) hold and check out as soon as they are admitted; the worker
# steps admission (the concert is scheduled; no pg_cron job is needed for
# that), expires, times out and compensates.
#
# What a user cares about, asserted as outcomes (never timings; every wait
# is bounded by the slowdown itself or by the default timeout):
# - admission follows the payments: the effective rate is cut below
#   admit_rate with reason "payments behind" while the provider is slow, and
#   far fewer fans are admitted then;
# - fewer than 2 % of the orders time out waiting for a payment, and no
#   capture is wasted on an order that was given up (no refund for a late
#   payment);
# - the rate recovers to admit_rate once the provider is fast again;
# - ticket.verify() is empty.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use HTTP::Tiny;
use JSON::PP qw(decode_json);
use Time::HiRes qw(usleep time);
use File::Basename qw(dirname);

my $here = dirname(__FILE__);
my $fake = "$here/../fake-psp/fake-psp";
BAIL_OUT("$fake is missing: build it with make (the top-level Makefile)") unless -x $fake;
my ($adapter) = grep { defined && -x } $ENV{TICKET_ADAPTER},
  (map { "$_/ticket-adapter" } split /:/, $ENV{PATH}), "$here/../../src/adapter/ticket-adapter";
BAIL_OUT('ticket-adapter is missing: make && make install') unless $adapter;
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

# Sizes.  Fans buy one standing place each, as soon as admitted: checkouts
# come at about admit_rate.  The provider answers in 30 ms and the adapter
# keeps 2 calls in flight (about 60 a second, twice the checkouts); slowed
# 20 times it takes about 3 a second, a tenth of them.
my $admit_rate = 30;
my $slow_factor = 20;
my $slow_seconds = 60;

my $node = PostgreSQL::Test::Cluster->new('overload');
$node->init;
$node->append_conf('postgresql.conf', slurp_file("$here/../ticket.conf"));
$node->append_conf('postgresql.conf', q{
cron.database_name = 'postgres'
ticket.database = 'postgres'
ticket.worker = on
ticket.worker_interval = '200ms'
ticket.payment_retry_base = '200ms'
ticket.payment_retry_max = '1s'
max_connections = 40
});
$node->start;

sub query { return $node->safe_psql('postgres', shift); }

# A waiting room admitting 30 a second, at most 40 at once (a fan's slot
# ends when their order is paid); payments must come within 30 s.
query(qq{
CREATE EXTENSION ticket;
CREATE ROLE pay LOGIN IN ROLE ticket_adapter;
SELECT ticket.create_concert('Overload', now() + interval '30 days', now() - interval '1 day',
	queue => true, admit_rate => $admit_rate, max_active => 40, admission_ttl => '30 seconds',
	per_user_limit => 2, hold_ttl => '1 minute', payment_timeout => '30 seconds');
SELECT ticket.add_standing(1, 'Field', 'GA', 50, 100000);
SELECT ticket.open_sale(1);
-- The worker's admit task steps a scheduled concert (pg_cron would too).
UPDATE ticket.queue SET scheduled = true WHERE concert_id = 1;
});
# 20,000 fans join, 500 a transaction (each join takes a transaction-scoped lock).
query(join '', map { sprintf(q{SELECT count(*) FROM generate_series(%d, %d) AS i, ticket.join_queue(1, 'fan' || i);}, $_ * 500 + 1, $_ * 500 + 500) . "\n" } 0 .. 39);
query(qq{

-- The fans: each pgbench step serves the first admitted fan nobody serves yet.
CREATE SCHEMA sim;
CREATE TABLE sim.taken (user_id text PRIMARY KEY);
CREATE FUNCTION sim.step() RETURNS integer LANGUAGE plpgsql AS \$\$
DECLARE
	u text;
	q ticket.queue_status;
	r ticket.hold_result;
BEGIN
	SELECT e.user_id INTO u FROM ticket.queue_entry AS e
	 WHERE e.concert_id = 1 AND e.state = 'admitted' AND e.expires_at > now()
	   AND NOT EXISTS (SELECT FROM sim.taken AS t WHERE t.user_id = e.user_id)
	 ORDER BY e.seq LIMIT 1;
	IF u IS NULL THEN
		RETURN 50;
	END IF;
	INSERT INTO sim.taken VALUES (u) ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	q := ticket.queue_status(1, u);
	IF q.pass_token IS NULL THEN
		RETURN 0;
	END IF;
	r := ticket.hold_best(1, u, 1, 1, pass => q.pass_token);
	IF r.status = 'held' THEN
		PERFORM ticket.checkout(r.hold_id, u, 'k-' || u);
	ELSE
		PERFORM ticket.leave_queue(1, u);
	END IF;
	RETURN 0;
END
\$\$;
});
is(query(q{SELECT entries FROM ticket.queues WHERE concert_id = 1}), '20000', '20,000 fans are in line');

# The provider and the adapter.
my $dir = PostgreSQL::Test::Utils::tempdir();
my ($psp_out, $psp_err) = ('', '');
my $psp = IPC::Run::start([ $fake, '--port', '0', '--latency', '30', '--seed', '3' ],
	'>', \$psp_out, '2>', \$psp_err);
my $deadline = time + $timeout;
$psp->pump_nb, usleep(50_000) until $psp_out =~ /^listening on 127\.0\.0\.1:(\d+)$/m || time > $deadline;
my ($port) = $psp_out =~ /^listening on 127\.0\.0\.1:(\d+)$/m;
ok($port, 'fake-psp listens') or BAIL_OUT("fake-psp: $psp_out $psp_err");
my $provider = "http://127.0.0.1:$port";
my $http = HTTP::Tiny->new(timeout => 10);
sub psp
{
	my ($method, $path) = @_;
	my $r = $http->request($method, "$provider$path");
	die "fake-psp $method $path: $r->{status} $r->{content}" unless $r->{success};
	return decode_json($r->{content});
}
my ($ad_out, $ad_err) = ('', '');
my $ad = IPC::Run::start(
	[ $adapter, '--provider', $provider, '--name', 'overload', '--dsn', $node->connstr('postgres') . ' user=pay',
		'--concurrency', '2', '--lease', '10', '--http-timeout', '8', '--poll', '0.2', '--log-interval', '10' ],
	'>', \$ad_out, '2>', \$ad_err);

# The fans: 4 pgbench clients.
my $script = "$dir/fan.sql";
open my $fh, '>', $script or die;
print $fh "SELECT sim.step() AS nap \\gset\n\\sleep :nap ms\n";
close $fh;
my ($pb_out, $pb_err) = ('', '');
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '1000', '-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$pb_out, '2>', \$pb_err);

# Samples of the sale, one a second: [time, effective rate, reason, admitted, paid orders].
my @samples;
sub sample
{
	my ($rate, $reason, $admitted, $paid) = split /\|/, query(q{
SELECT d.effective_rate, coalesce(d.rate_reason, '-'), d.admitted, d.orders_paid
  FROM ticket.dashboard AS d WHERE d.concert_id = 1});
	push @samples, [ time, $rate, $reason, $admitted, $paid ];
	return $samples[-1];
}
sub run_for
{
	my ($seconds, $until) = @_;
	my $end = time + $seconds;
	while (time < $end)
	{
		my $s = sample();
		return $s if $until && $until->($s);
		$pgbench->pump_nb;
		$ad->pump_nb;
		usleep(1_000_000);
	}
	return undef;
}

# 1. Normal: the provider keeps up and admission runs at admit_rate.
run_for(20);
my $before = $samples[-1];
ok($before->[4] > 0, "the sale is under way: $before->[4] orders paid, $before->[3] admitted");
is(query(q{SELECT count(*) FROM ticket.queues WHERE concert_id = 1 AND rate_reason = 'payments behind'}), '0',
	'with a provider that keeps up, admission is not cut');

# 2. The provider slows to a tenth of the checkout rate.
psp('POST', "/admin/factor?x=$slow_factor");
my $slow_start = time;
my $cut = run_for($slow_seconds, sub { $_[0][1] < $admit_rate && $_[0][2] eq 'payments behind' });
ok($cut, 'while the provider is slow, admission is cut below admit_rate ("payments behind")');
note(sprintf('admission was cut %.1f s after the slowdown began, to %s/s', $cut->[0] - $slow_start, $cut->[1]))
  if $cut;
run_for($slow_start + $slow_seconds - time);
my ($slow_first) = grep { $_->[0] >= $slow_start + $slow_seconds / 2 } @samples;
my $slow_last = $samples[-1];
my $admitted_late_slow = $slow_last->[3] - $slow_first->[3];
my $span = $slow_last->[0] - $slow_first->[0];
note(sprintf('second half of the slowdown: %d admitted in %.0f s (%.1f/s; admit_rate %d/s)',
	$admitted_late_slow, $span, $admitted_late_slow / $span, $admit_rate));
cmp_ok($admitted_late_slow, '<', 0.25 * $admit_rate * $span,
	'in the second half of the slowdown, fewer than a quarter of admit_rate fans are admitted');

# 3. The provider recovers; so does admission, gradually, back to admit_rate.
psp('POST', '/admin/factor?x=1');
my $fast_again = time;
my $back = run_for($timeout, sub { $_[0][1] == $admit_rate });
ok($back, 'once the provider is fast again, admission recovers to admit_rate');
note(sprintf('back at %d/s %.1f s after the provider recovered', $admit_rate, $back->[0] - $fast_again)) if $back;
my $recovering = grep { $_->[0] > $fast_again && $_->[2] eq 'recovering' } @samples;
ok($recovering > 0, "it grows back gradually (\"recovering\" in $recovering samples)");

# 4. Stop the fans; let the adapter finish, then the worker compensate.
$pgbench->kill_kill;
$deadline = time + $timeout;
usleep(200_000)
  until query(q{SELECT count(*) FROM ticket.orders WHERE state = 'pending'}) eq '0' || time > $deadline;
is(query(q{SELECT count(*) FROM ticket.orders WHERE state = 'pending'}), '0', 'every order is settled');
$ad->signal('TERM');
$deadline = time + $timeout;
$ad->pump_nb, usleep(50_000) while $ad->pumpable && time < $deadline;
$ad->finish;
is($ad->result(0), 0, 'the adapter stops cleanly');
note($_) for grep { /stopped/ } split /\n/, $ad_err;
$deadline = time + $timeout;
usleep(200_000)
  until query(q{SELECT count(*) FROM ticket.saga WHERE state = 'running'}) eq '0' || time > $deadline;

my ($orders, $paid, $timed_out, $wasted) = split /\|/, query(q{
SELECT count(*),
	   count(*) FILTER (WHERE o.state = 'paid'),
	   count(*) FILTER (WHERE EXISTS (SELECT FROM ticket.saga AS g
									   WHERE g.order_id = o.order_id AND g.reason = 'payment timed out')),
	   count(*) FILTER (WHERE EXISTS (SELECT FROM ticket.payment AS p
									   WHERE p.order_id = o.order_id AND p.kind = 'refund'))
  FROM ticket.orders AS o});
note("orders $orders, paid $paid, timed out $timed_out, refunded after a wasted capture $wasted");
ok($orders > 0 && $paid > 0, 'orders were made and paid');
cmp_ok($timed_out, '<', 0.02 * $orders, 'fewer than 2 % of the orders timed out waiting for a payment');
is($wasted, '0', 'no capture was wasted on an order already given up (nothing to refund)');
is(query(q{SELECT count(*) FROM ticket.verify()}), '0', 'ticket.verify() finds nothing');

$psp->signal('TERM');
$psp->finish;
done_testing();
