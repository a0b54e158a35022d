# The real payment adapter (src/adapter/ticket-adapter) against the fake
# provider (test/fake-psp/fake-psp), with the worker on: a small sale's
# orders all end paid or compensated; the provider saw every charge with
# Idempotency-Key = provider_key, and its counts agree with ticket's; a
# declined card compensates its order; a late capture of a declined charge
# is reported and becomes a refund that the adapter sends to /v1/refunds;
# SIGTERM in the middle of slow provider calls finishes and reports them
# (exit 0, no job left leased, the summary line); verify() finds nothing.
# Only outcomes are asserted, never timings; every wait is bounded.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use HTTP::Tiny;
use JSON::PP qw(decode_json);
use Time::HiRes qw(usleep);
use File::Basename qw(dirname);
use File::Spec;

my $here = dirname(__FILE__);
my $fake = "$here/../fake-psp/fake-psp";
BAIL_OUT("$fake is missing: build it with make (the top-level Makefile)") unless -x $fake;
# The installed adapter (make install puts it in pg_config --bindir, which the
# TAP run has on PATH), else TICKET_ADAPTER, else the one built in the tree.
my ($adapter) = grep { defined && -x } $ENV{TICKET_ADAPTER},
  (map { "$_/ticket-adapter" } split /:/, $ENV{PATH}), "$here/../../src/adapter/ticket-adapter";
BAIL_OUT('ticket-adapter is missing: make && make install') unless $adapter;
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

my $node = PostgreSQL::Test::Cluster->new('adapter');
$node->init;
$node->append_conf('postgresql.conf', slurp_file("$here/../ticket.conf"));
$node->append_conf('postgresql.conf', q{
cron.database_name = 'postgres'
ticket.database = 'postgres'
ticket.worker = on
ticket.worker_interval = '200ms'
ticket.payment_retry_base = '50ms'
ticket.payment_retry_max = '200ms'
});
$node->start;

sub query { return $node->safe_psql('postgres', shift); }

# Bad options: exit code 2 and a message, before anything is touched.
for my $bad ([], [ '--provider', 'http://127.0.0.1:1', '--batch', '0' ],
	[ '--provider', 'ftp://x' ], [ '--provider', 'http://127.0.0.1:1', '--bogus' ])
{
	my ($out, $err);
	IPC::Run::run([ $adapter, @$bad ], '>', \$out, '2>', \$err);
	is($? >> 8, 2, 'ticket-adapter ' . (@$bad ? "@$bad" : '(no --provider)') . ': exit code 2');
	like($err, qr/^ticket-adapter: /, '... with a message');
}

# A concert of 300 seats, no waiting room; 60 holds checked out.  A late
# payment is never resold here (accept_late_payments off): it is refunded.
query(q{
CREATE EXTENSION ticket;
CREATE ROLE pay LOGIN IN ROLE ticket_adapter;
SELECT ticket.create_concert('Adapter', now() + interval '30 days', now() - interval '1 day',
	per_user_limit => 10, accept_late_payments => false);
SELECT ticket.add_section(1, 'Floor', 'A', 90, 15, 20);
SELECT ticket.open_sale(1);
});
sub checkout
{
	my ($from, $to) = @_;
	return query(qq{
SELECT count(*) FROM generate_series($from, $to) AS i,
	ticket.checkout((ticket.hold(1, 'buyer' || i, ARRAY[i])).hold_id, 'buyer' || i, 'key' || i) AS c
 WHERE c.status = 'pending'});
}
is(checkout(1, 60), '60', '60 orders pending');

# The provider: 40 % of charges fail, half of them declined, half 503; half
# of the declined ones are captured 3 seconds later (the event feed).
my $dir = PostgreSQL::Test::Utils::tempdir();
my $psp_log = "$dir/psp.log";
my ($psp_out, $psp_err) = ('', '');
my $psp = IPC::Run::start(
	[ $fake, '--port', '0', '--latency', '5', '--fail', '0.4', '--retryable', '0.5', '--late', '0.5',
		'--late-after', '3', '--seed', '7', '--log', $psp_log ],
	'>', \$psp_out, '2>', \$psp_err);
my $deadline = time + $timeout;
$psp->pump_nb, usleep(50_000) until $psp_out =~ /^listening on 127\.0\.0\.1:(\d+)$/m || time > $deadline;
my ($port) = $psp_out =~ /^listening on 127\.0\.0\.1:(\d+)$/m;
ok($port, 'fake-psp listens on a port of its choosing') or BAIL_OUT("fake-psp: $psp_out $psp_err");
my $provider = "http://127.0.0.1:$port";
my $http = HTTP::Tiny->new(timeout => 10);

sub psp
{
	my ($method, $path) = @_;
	my $r = $http->request($method, "$provider$path");
	die "fake-psp $method $path: $r->{status} $r->{content}" unless $r->{success};
	return decode_json($r->{content});
}

sub start_adapter
{
	my ($name) = @_;
	my %a = (out => '', err => '');
	$a{h} = IPC::Run::start(
		[ $adapter, '--provider', $provider, '--name', $name, '--dsn', $node->connstr('postgres') . ' user=pay',
			'--poll', '0.2', '--events-interval', '0.2', '--log-interval', '1', '--metrics-file', "$dir/$name.prom" ],
		'>', \$a{out}, '2>', \$a{err});
	return \%a;
}

# SIGTERM, then wait (bounded) for the exit; its exit code.
sub stop_adapter
{
	my ($a) = @_;
	$a->{h}->signal('TERM');
	my $end = time + $timeout;
	while ($a->{h}->pumpable && time < $end)
	{
		$a->{h}->pump_nb;
		usleep(50_000);
	}
	if ($a->{h}->pumpable)
	{
		$a->{h}->kill_kill;
		return -1;
	}
	$a->{h}->finish;
	return $a->{h}->result(0);
}

# Settled: no order pending, no job left, no compensation running, and every
# late capture the provider made is published and reported.
sub wait_settled
{
	my ($what) = @_;
	my $end = time + $timeout;
	while (time < $end)
	{
		my $s = psp('GET', '/stats');
		my ($open, $late) = split /\|/, query(q{
SELECT (SELECT count(*) FROM ticket.orders WHERE state = 'pending')
	 + (SELECT count(*) FROM ticket.payment WHERE state = 'processing')
	 + (SELECT count(*) FROM ticket.saga WHERE state = 'running'),
	   (SELECT count(*) FROM ticket.payment WHERE kind = 'charge' AND provider_ref LIKE 'ch\_late\_%')});
		return ok(1, $what) if $open == 0 && $s->{late_pending} == 0 && $late == $s->{late};
		usleep(200_000);
	}
	return ok(0, $what);
}

# 1. The adapter settles the sale.
my $a1 = start_adapter('tap');
wait_settled('every order settles, every late capture is reported');

my %orders = map { split /\|/ } split /\n/, query(q{SELECT state, count(*) FROM ticket.orders GROUP BY 1});
is(join(',', sort grep { !/^(paid|cancelled|refunded)$/ } keys %orders), '', 'every order ends paid or compensated');
ok(($orders{paid} // 0) > 0, "some are paid ($orders{paid})");
ok(($orders{cancelled} // 0) + ($orders{refunded} // 0) > 0, 'some are compensated');
is(query(q{SELECT count(*) FROM ticket.seat WHERE concert_id = 1 AND state = 'sold'}), $orders{paid},
	'a sold seat for each paid order, none for the others');

# What the provider saw (--log: time, method, path, key, payment_key, status, id, charge).
sub psp_requests
{
	my @r;
	for (split /\n/, slurp_file($psp_log))
	{
		my %l;
		@l{qw(time method path key payment_key status id charge)} = split /\t/;
		push @r, \%l;
	}
	return @r;
}
my @req = psp_requests();
my @charges = grep { $_->{path} eq '/v1/charges' } @req;
my @refunds = grep { $_->{path} eq '/v1/refunds' } @req;
is(scalar(grep { $_->{key} ne $_->{payment_key} || $_->{key} !~ /^ticket-\d+$/ } @charges, @refunds), 0,
	'every payment request has Idempotency-Key = its payment_key = ticket-<payment_id>');
my %charge_keys = map { $_->{key} => 1 } @charges;
is(join(',', sort keys %charge_keys),
	query(q{SELECT string_agg('ticket-' || payment_id, ',' ORDER BY 'ticket-' || payment_id)
	  FROM ticket.payment WHERE kind = 'charge'}),
	'the provider got a charge for every charge job, with its provider_key');
my %id_of = map { $_->{key} => $_->{id} } grep { $_->{status} == 200 } @charges;
my @bad = grep {
	my ($key, $ref) = split /\|/;
	!($ref =~ /^ch_late_/ || ($id_of{$key} // '') eq $ref)
} split /\n/, query(q{SELECT 'ticket-' || payment_id, provider_ref FROM ticket.payment
	WHERE kind = 'charge' AND provider_ref IS NOT NULL});
is("@bad", '', "every captured charge's provider_ref is the id the provider answered");

my $s = psp('GET', '/stats');
my ($ok, $declined, $late, $refunded) = split /\|/, query(q{
SELECT count(*) FILTER (WHERE kind = 'charge' AND provider_ref LIKE 'ch\_%' AND provider_ref NOT LIKE 'ch\_late\_%'),
	   count(*) FILTER (WHERE kind = 'charge' AND last_error = 'card declined'),
	   count(*) FILTER (WHERE kind = 'charge' AND provider_ref LIKE 'ch\_late\_%'),
	   count(*) FILTER (WHERE kind = 'refund' AND state = 'succeeded')
  FROM ticket.payment});
is($s->{charges_ok}, $ok, "charges the provider took = charges ticket recorded ($ok)");
is($s->{declined}, $declined, "charges the provider declined = charges ticket failed as declined ($declined)");
is($s->{late}, $late, "late captures = charges ticket recorded as captured late ($late)");
is($s->{refunds}, $refunded, "refunds the provider made = refunds ticket recorded ($refunded)");
ok($declined > 0 && $late > 0, 'the seed gave declines and late captures');
ok($s->{retryable} > 0, "and retryable failures ($s->{retryable}), retried with the same key");

# A declined card: the order is compensated (cancelled; refunded when captured late).
is(query(q{SELECT count(*) FROM ticket.payment p JOIN ticket.orders o USING (order_id)
	WHERE p.kind = 'charge' AND p.last_error = 'card declined'
	  AND NOT (o.state = 'cancelled' AND p.state = 'failed' OR o.state = 'refunded' AND p.state = 'refunded')}),
	'0', 'every declined order is compensated');
is(query(q{SELECT count(*) FROM ticket.payment p JOIN ticket.orders o USING (order_id) JOIN ticket.seat s
	ON s.concert_id = o.concert_id AND s.seat_id = ANY (o.seat_ids)
	WHERE p.kind = 'charge' AND p.last_error = 'card declined' AND s.state <> 'available'}),
	'0', 'and its seats are for sale again');

# A late capture of a declined charge: reported, refunded, sent to /v1/refunds.
my @late = split /\n/, query(q{SELECT c.provider_ref || '|' || r.payment_id || '|' || r.state || '|' || o.state
  FROM ticket.payment c JOIN ticket.orders o USING (order_id)
  LEFT JOIN ticket.payment r ON r.kind = 'refund' AND r.refund_ref = c.provider_ref
 WHERE c.kind = 'charge' AND c.provider_ref LIKE 'ch\_late\_%' ORDER BY 1});
my %refund_sent = map { $_->{charge} => $_ } grep { $_->{status} == 200 } @refunds;
my @wrong = grep {
	my ($ref, $refund_id, $refund_state, $order_state) = split /\|/;
	!($refund_state eq 'succeeded' && $order_state eq 'refunded' && $refund_sent{$ref}
		&& $refund_sent{$ref}{key} eq "ticket-$refund_id")
} @late;
ok(@late > 0, scalar(@late) . ' late captures were reported');
is("@wrong", '', 'each became a refund job that the adapter sent to /v1/refunds (with its own key) and the order is refunded');

# 2. SIGTERM while slow provider calls are in flight.
psp('POST', '/admin/latency?ms=1500');
is(checkout(61, 100), '40', '40 more orders pending');
$deadline = time + $timeout;
usleep(50_000) until psp('GET', '/stats')->{in_flight} > 0 || time > $deadline;
ok(psp('GET', '/stats')->{in_flight} > 0, 'provider calls are in flight');
ok(query(q{SELECT count(*) FROM ticket.payment WHERE state = 'processing' AND lease_owner = 'tap'}) > 0,
	'the adapter holds leases');
is(stop_adapter($a1), 0, 'SIGTERM: the adapter exits 0');
is(query(q{SELECT count(*) FROM ticket.payment
	WHERE state = 'processing' AND lease_owner IS NOT NULL AND lease_until > now()}), '0',
	'no job is left leased');
like($a1->{err}, qr/^ticket-adapter tap: stopping: finishing \d+ requests in flight$/m, 'it says it is finishing');
like($a1->{err},
	qr/^ticket-adapter tap: stopped on a signal: claimed \d+, charges succeeded \d+, declined \d+, retryable failures \d+, refunds \d+ \(failed \d+\), late captures \d+, report batches [1-9]\d*, .*latency p50 [\d.]+ ms p99 [\d.]+ ms$/m,
	'the summary line is printed');
unlike($a1->{err}, qr/failed[:,]|cannot|unexpected|lost/, 'no errors were logged');
like(slurp_file("$dir/tap.prom"), qr/^ticket_adapter_claimed_total\{adapter="tap"\} [1-9]\d*$/m,
	'the metrics file has the counters');

# 3. Another adapter finishes the rest.
psp('POST', '/admin/latency?ms=5');
my $a2 = start_adapter('tap2');
wait_settled('a second adapter settles the rest');
is(stop_adapter($a2), 0, 'it exits 0 too');
is(query(q{SELECT count(*) FROM ticket.orders WHERE state NOT IN ('paid', 'cancelled', 'refunded')}), '0',
	'all 100 orders end paid or compensated');
# Requests the first adapter finished after SIGTERM were reported: had they
# not been, their jobs would have been claimed again once the lease ran out.
my %claims = map { split /\|/ } split /\n/, query(q{SELECT payment_id, attempts FROM ticket.payment
	WHERE kind = 'charge' AND order_id > 60});
my %sent;
$sent{ $_->{key} }++ for grep { $_->{path} eq '/v1/charges' } psp_requests();
is(scalar(grep { ($sent{"ticket-$_"} // 0) != $claims{$_} } keys %claims), 0,
	'each attempt of each charge reached the provider exactly once');

$s = psp('GET', '/stats');
is(query(q{SELECT count(*) FROM ticket.payment
	WHERE kind = 'charge' AND provider_ref LIKE 'ch\_%' AND provider_ref NOT LIKE 'ch\_late\_%'}),
	$s->{charges_ok}, 'the counts still agree');
is(query('SELECT count(*) FROM ticket.verify()'), '0', 'verify() finds nothing');

$psp->signal('TERM');
$psp->finish;
is($psp->result(0), 0, 'fake-psp exits 0 on SIGTERM');
like($psp_out, qr/^fake-psp: \{"requests":\d+/m, 'with its stats line');

$node->stop;
done_testing();
