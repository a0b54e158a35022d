# Chaos under load: ten rounds of a pgbench spike of holds and checkouts,
# with the payment simulator reporting results and a witness client that
# writes down what it saw committed, and in each round one fault at a random
# moment: a client backend killed (SIGKILL: the postmaster restarts every
# process) or terminated, the ticket worker killed (SIGKILL: crash restart)
# or terminated (it comes back alone), or the whole server stopped
# immediately and started again.  After every round:
#
#  1. every hold, order, release and payment the witness saw committed is
#     there, in its own state or a later one;
#  2. nothing is half-written: ticket.verify() is empty, and the direct
#     checks below (orders and their charges, holds and their orders, seats
#     and their holds, sold seats and paid orders, the outbox) agree;
#  3. the worker is running again and expires a hold that runs out after the
#     restart; the waiting room joins, admits and issues a pass that holds
#     accept, and pg_cron still has its admission job;
#  4. new holds succeed (a short pgbench run, every transaction a hold).
#
# The faults come from a seeded random generator: the seed is printed, and
# CHAOS_SEED=<seed> replays the same kinds at the same moments (the timing of
# the load itself cannot be replayed).  CHAOS_ROUNDS changes the count.
# Only outcomes are asserted; waits are bounded polls, never fixed sleeps.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $seed = $ENV{CHAOS_SEED} // (time() * 1000 ^ $$) % 2**31;
my $rounds = $ENV{CHAOS_ROUNDS} // 10;
srand($seed);
diag("chaos seed $seed (replay with CHAOS_SEED=$seed)");
my $started = time;

my $node = PostgreSQL::Test::Cluster->new('chaos');
$node->init;
# %b in the prefix names the process that logged a line, so the worker's
# errors can be told from a client's.
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
ticket.database = 'postgres'
ticket.worker_interval = '200ms'
ticket.payment_retry_base = '50ms'
ticket.payment_retry_max = '200ms'
ticket.user_rate = 0
ticket.client_rate = 0
max_connections = 60
restart_after_crash = on
log_line_prefix = '%m [%p] %b '
log_statement = 'none'
});
$node->start;

sub query { return $node->safe_psql('postgres', shift); }
sub wait_until
{
	my ($sql, $what) = @_;
	ok($node->poll_query_until('postgres', $sql), $what);
}

# Concert 1 is the spike's: 30,000 named seats (section 1), a standing
# section for the witness (2) and one for the probes and the resumed load
# (3).  Holds live 2 seconds and payments 4, so every round leaves the worker
# expiries, timeouts and compensations to finish after the fault.  Concert 2
# sells through a waiting room admitted by pg_cron.
query(q{
CREATE EXTENSION pg_cron;
CREATE EXTENSION ticket;
SELECT ticket.create_concert('Chaos', now() + interval '30 days', now() - interval '1 day',
	hold_ttl => '2 seconds', payment_timeout => '4 seconds', per_user_limit => 4);
SELECT ticket.add_section(1, 'Floor', 'A', 50, 150, 200);
SELECT ticket.add_standing(1, 'Witness', 'W', 20, 5000);
SELECT ticket.add_standing(1, 'Probe', 'P', 10, 5000);
SELECT ticket.open_sale(1);
SELECT ticket.create_concert('Queue', now() + interval '30 days', now() - interval '1 day',
	queue => true, admit_rate => 100, hold_ttl => '2 seconds');
SELECT ticket.add_standing(2, 'Pit', 'GA', 30, 2000);
SELECT ticket.open_sale(2);
SELECT ticket.schedule_admission(2);
});

my %env = (PGHOST => $node->host, PGPORT => $node->port, PGDATABASE => 'postgres');
local @ENV{ keys %env } = values %env;
my $dir = $node->basedir;
my $simulator = dirname(__FILE__) . '/../adapter-sim';

# The spike: 70 % hold a random named seat and check it out at once (the
# simulator pays, declines or fails it), 30 % hold 1-3 best seats and walk
# away (the worker expires them).  8 clients throttled to 400 transactions a
# second: enough to have every kind of transaction in flight at the fault,
# bounded so that the test behaves the same on a loaded CI machine.
append_to_file("$dir/checkout.sql", q{
\set seat random(1, 30000)
\set u random(1, 1000000000)
SELECT c.status FROM ticket.hold(1, 'p' || :u, ARRAY[:seat]) AS h,
	LATERAL ticket.checkout(h.hold_id, 'p' || :u, 'k' || h.hold_id) AS c
 WHERE h.status = 'held';
});
append_to_file("$dir/abandon.sql", q{
\set u random(1, 1000000000)
\set n random(1, 3)
SELECT status FROM ticket.hold_best(1, 'a' || :u, 1, :n);
});

# The witness: one psql per statement, so each line it writes is a
# transaction whose commit it was told about.  It writes the line only after
# psql exited 0 (an answer lost in a crash is not a commit it saw), and keeps
# trying through the fault.  Half of its checked-out orders it pays itself,
# the rest it leaves to the simulator or to the payment timeout; one hold in
# eight it releases, one in eight it leaves to expire.
my $witness_log = "$dir/witness.log";
append_to_file("$dir/witness.pl", q{
use strict;
use warnings;
use IO::Handle;
my ($log, $stop, $tag) = @ARGV;
open(my $out, '>>', $log) or die "$log: $!";
$out->autoflush(1);
sub sql
{
	my ($q) = @_;
	open(my $p, '-|', 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', $q) or return undef;
	local $/;
	my $r = <$p>;
	close($p) or return undef;
	return undef unless defined $r;
	$r =~ s/\s+\z//;
	return $r;
}
my $i = 0;
while (!-e $stop)
{
	$i++;
	my $u = "w$tag-$i";
	my $h = sql("SELECT hold_id FROM ticket.hold_best(1, '$u', 2, 1) WHERE status = 'held'");
	if (!defined $h || $h !~ /^\d+$/)
	{
		select(undef, undef, undef, 0.05);
		next;
	}
	print $out "hold $h $u\n";
	if ($i % 8 == 4)
	{
		my $r = sql("SELECT ticket.release($h, '$u')");
		print $out "released $h\n" if defined $r && $r eq 'released';
		next;
	}
	next if $i % 8 == 0;
	my $o = sql("SELECT order_id || ' ' || payment_id FROM ticket.checkout($h, '$u', 'key-$u') WHERE status = 'pending'");
	next unless defined $o && $o =~ /^(\d+) (\d+)$/;
	my ($order, $payment) = ($1, $2);
	print $out "order $order $h $payment\n";
	next if $i % 4 == 3;
	my $r = sql("SELECT ticket.payment_succeeded($payment, 'witness-$payment')");
	print $out "paid $order $payment\n" if defined $r && $r eq 'paid';
}
});

# Everything the witness wrote down, checked against the tables; returns
# (rows checked, rows lost).  A hold may have expired, been released or been
# bought since: its row must exist with its user; a checked-out hold must be
# in checkout, confirmed, or released by a compensation; an order must exist
# for its hold with its charge; a release stays released; a payment the
# witness saw make an order paid keeps it paid with its charge captured.
sub check_witness
{
	my ($when) = @_;
	my (%rows, @hold, @holduser, @ohold, @oorder, @opay, @rel, @porder, @ppay);
	open(my $fh, '<', $witness_log) or return (0, 0);
	while (<$fh>)
	{
		my @f = split;
		if ($f[0] eq 'hold') { push @hold, $f[1]; push @holduser, $f[2]; }
		elsif ($f[0] eq 'order') { push @oorder, $f[1]; push @ohold, $f[2]; push @opay, $f[3]; }
		elsif ($f[0] eq 'released') { push @rel, $f[1]; }
		elsif ($f[0] eq 'paid') { push @porder, $f[1]; push @ppay, $f[2]; }
	}
	close($fh);
	my $arr = sub { '{' . join(',', @_) . '}' };
	my $found = query(qq{
	SELECT (SELECT count(*) FROM unnest('@{[ $arr->(@hold) ]}'::bigint[], '@{[ $arr->(@holduser) ]}'::text[]) AS w(id, u)
			  JOIN ticket.hold AS h ON h.hold_id = w.id AND h.user_id = w.u AND h.concert_id = 1),
		   (SELECT count(*) FROM unnest('@{[ $arr->(@oorder) ]}'::bigint[], '@{[ $arr->(@ohold) ]}'::bigint[],
										'@{[ $arr->(@opay) ]}'::bigint[]) AS w(o, h, p)
			  JOIN ticket.orders AS o ON o.order_id = w.o AND o.hold_id = w.h
			  JOIN ticket.hold AS h ON h.hold_id = w.h AND h.state IN ('checking_out', 'confirmed', 'released')
			  JOIN ticket.payment AS p ON p.payment_id = w.p AND p.order_id = w.o AND p.kind = 'charge'),
		   (SELECT count(*) FROM unnest('@{[ $arr->(@rel) ]}'::bigint[]) AS w(id)
			  JOIN ticket.hold AS h ON h.hold_id = w.id AND h.state = 'released'),
		   (SELECT count(*) FROM unnest('@{[ $arr->(@porder) ]}'::bigint[], '@{[ $arr->(@ppay) ]}'::bigint[]) AS w(o, p)
			  JOIN ticket.orders AS o ON o.order_id = w.o AND o.state = 'paid'
			  JOIN ticket.payment AS p ON p.payment_id = w.p AND p.state = 'succeeded')});
	my @found = split /\|/, $found;
	my @seen = (scalar @hold, scalar @oorder, scalar @rel, scalar @porder);
	my $checked = 0;
	$checked += $_ for @seen;
	my $lost = 0;
	$lost += $seen[$_] - $found[$_] for 0 .. 3;
	is("@found", "@seen", "$when: every hold, order, release and payment the witness saw committed is there "
		. "(@seen)");
	return ($checked, $lost);
}

# Nothing half-written.
sub consistent
{
	my ($when) = @_;
	my $v = query('SELECT concert_id, violation, detail FROM ticket.verify() LIMIT 20');
	is($v, '', "$when: ticket.verify() finds nothing");
	is(query(q{
	SELECT (SELECT count(*) FROM ticket.orders AS o
			 WHERE NOT EXISTS (SELECT FROM ticket.payment AS p WHERE p.order_id = o.order_id AND p.kind = 'charge'))
		|| ' ' || (SELECT count(*) FROM ticket.orders AS o
			 WHERE NOT EXISTS (SELECT FROM ticket.hold AS h WHERE h.hold_id = o.hold_id
								  AND h.concert_id = o.concert_id AND h.seat_ids = o.seat_ids))
		|| ' ' || (SELECT count(*) FROM ticket.hold AS h WHERE h.state IN ('checking_out', 'confirmed')
			 AND NOT EXISTS (SELECT FROM ticket.orders AS o WHERE o.hold_id = h.hold_id))
		|| ' ' || (SELECT count(*) FROM ticket.idempotency WHERE status = 'in_progress')
		|| ' ' || (SELECT count(*) FROM ticket.idempotency AS k WHERE k.status = 'pending'
			 AND NOT EXISTS (SELECT FROM ticket.orders AS o WHERE o.order_id = k.order_id AND o.user_id = k.user_id))}),
		'0 0 0 0 0',
		"$when: every order has its charge and its hold, every hold in checkout its order, every key its outcome");
	is(query(q{
	SELECT (SELECT count(*) FROM ticket.seat AS t WHERE t.state <> 'available'
			 AND NOT EXISTS (SELECT FROM ticket.hold AS h WHERE h.hold_id = t.hold_id AND t.seat_id = ANY (h.seat_ids)))
		|| ' ' || ((SELECT count(*) FROM ticket.seat WHERE state = 'sold')
			 - (SELECT coalesce(sum(cardinality(seat_ids)), 0) FROM ticket.orders WHERE state = 'paid'))}),
		'0 0', "$when: no seat held or sold without its hold, sold seats are exactly the paid orders' seats");
	# A compensation commits step by step, in order: a crash between two
	# steps leaves a prefix of the log, never a gap, and a finished saga has
	# every step (a skipped one none).
	is(query(q{
	SELECT count(*) FROM ticket.saga AS g
	 CROSS JOIN LATERAL (SELECT coalesce(array_agg(x.step
			ORDER BY array_position('{cancel_order,release_seats,refund}'::text[], x.step)), '{}') AS steps
						   FROM ticket.saga_step AS x WHERE x.saga_id = g.saga_id) AS s
	 WHERE NOT (s.steps = '{}' AND g.state IN ('running', 'skipped')
				OR s.steps = '{cancel_order}' AND g.state = 'running'
				OR s.steps = '{cancel_order,release_seats}' AND g.state = 'running'
				OR s.steps = '{cancel_order,release_seats,refund}' AND g.state IN ('running', 'done'))}),
		'0', "$when: every compensation's log is a prefix of its steps, complete when done");
	# The outbox commits with the change it records, and publishing numbers
	# it without gaps or doubles whatever was cut short.  A hold's event is
	# read from ticket.hold (0.7): every hold up to event_head.hold_mark has
	# exactly one, after a publish that found no hold open.
	query(q{SELECT ticket.publish_events(1000000)});
	is(query(q{
	SELECT (SELECT count(*) FROM ticket.hold AS h
			 WHERE h.hold_id <= (SELECT hold_mark FROM ticket.event_head)
			   AND NOT EXISTS (SELECT FROM ticket.event AS e WHERE e.kind = 'hold' AND e.subject_id = h.hold_id))
		|| ' ' || (SELECT count(*) FROM (SELECT e.subject_id FROM ticket.event AS e WHERE e.kind = 'hold'
										  GROUP BY e.subject_id HAVING count(*) > 1) AS d)
		|| ' ' || (SELECT count(*) FROM ticket.hold AS h WHERE h.hold_id > (SELECT hold_mark FROM ticket.event_head))
		|| ' ' || (SELECT count(*) FROM ticket.orders AS o
			 WHERE NOT EXISTS (SELECT FROM ticket.event AS e WHERE e.kind = 'order_created' AND e.subject_id = o.order_id))
		|| ' ' || (SELECT (count(event_id) = coalesce(max(event_id), 0)
						  AND coalesce(max(event_id), 0) = (SELECT last_event_id FROM ticket.event_head))::text
					 FROM ticket.event)}),
		'0 0 0 0 true', "$when: every hold and order has its event once, and published events are numbered 1..head");
}

# Start a client in the background under its own application_name, so that
# the fault can tell the spike's connections from the rest (the test framework
# names every connection after the test).  Each stops by itself (pgbench and
# the simulator after their duration, the witness at its stop file); the
# timeout turns a client that hangs into a failure instead of a stuck CI job.
sub start_named
{
	my ($name, @args) = @_;
	local $ENV{PGAPPNAME} = $name;
	return IPC::Run::start(@args, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
}

my $worker_pid = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'ticket worker'};
# A spike client's backend, preferably in the middle of a ticket function
# (pgbench's connections last the whole run, while the witness's and the
# simulator's last one statement and may be gone by the time the signal is
# sent).
my $spike_backend = q{SELECT pid, state = 'active' AND query LIKE '%ticket.%' FROM pg_stat_activity
	WHERE backend_type = 'client backend' AND application_name = 'chaos spike'
	ORDER BY 2 DESC, random() LIMIT 1};

# The faults: each kind twice in ten rounds, in an order drawn from the seed.
my @kinds = qw(backend_kill backend_terminate worker_kill worker_term immediate);
my @plan = map { $kinds[ $_ % @kinds ] } 0 .. $rounds - 1;
for (my $i = $#plan; $i > 0; $i--)
{
	my $j = int(rand($i + 1));
	@plan[ $i, $j ] = @plan[ $j, $i ];
}
my %crashes = (backend_kill => 1, worker_kill => 1, immediate => 1);
my (@inflight, $busy_faults, %faults, $committed, $spike_txns, $witnessed, $checked, $lost);
$busy_faults = $committed = $spike_txns = $checked = $lost = 0;
@inflight = (0, 0, 0);
my $first_restart;

for my $round (1 .. $rounds)
{
	my $kind = $plan[ $round - 1 ];
	my $fault_at = 1 + rand(2.5);
	# pgbench runs on for 2-3 s after the fault (for the faults that leave the
	# server up: a load that goes on through them).
	my $duration = int($fault_at) + 4;
	my $bench_seed = int(rand(2**31));
	my $log_offset = -s $node->logfile;
	my $old_worker = query($worker_pid);
	note(sprintf('round %d: %s after %.2f s of load', $round, $kind, $fault_at));

	my $stop = "$dir/witness-stop-$round";
	my ($bench_out, $bench_err, $sim_out, $sim_err, $wit_out, $wit_err) = ('') x 6;
	my $witness = start_named('chaos witness', [ $^X, "$dir/witness.pl", $witness_log, $stop, $round ],
		'>', \$wit_out, '2>', \$wit_err);
	my $sim = start_named('chaos adapter', [ $simulator, '--name', "sim$round", '--fail', '0.2', '--retryable', '0.5',
		'--latency', '5', '--lease', '3', '--idle-exit', '0', '--duration', $duration + 1 ],
		'>', \$sim_out, '2>', \$sim_err);
	my $bench = start_named('chaos spike', [ 'pgbench', '-n', '-c', '8', '-j', '2', '-T', $duration, '-R', '400',
		"--random-seed=$bench_seed", '-f', "$dir/checkout.sql\@7", '-f', "$dir/abandon.sql\@3" ],
		'>', \$bench_out, '2>', \$bench_err);
	sleep($fault_at);

	# The fault.
	$faults{$kind}++;
	if ($kind eq 'backend_kill' || $kind eq 'backend_terminate')
	{
		# On a busy machine pgbench's clients may all be between statements
		# for a while: wait a little for one inside a function, then take
		# any (a killed idle backend crashes the server all the same).  If
		# it is gone by the time of the signal (its pgbench client ended),
		# take another.
		my ($pid, $busy, $done) = ('', 'f', 0);
		for (my $try = 1; !$done && $try <= 5; $try++)
		{
			($pid, $busy) = ('', 'f');
			my $until = time + 1;
			do
			{
				my ($p, $b) = split /\|/, query($spike_backend);
				($pid, $busy) = ($p, $b) if defined $p;
			} until $busy eq 't' || time > $until;
			last if $pid eq '';
			$done = $kind eq 'backend_kill'
			  ? kill('KILL', $pid) == 1
			  : query("SELECT pg_terminate_backend($pid)") eq 't';
		}
		ok($done, "round $round: a spike client's backend " . ($kind eq 'backend_kill' ? 'killed' : 'terminated'))
		  or BAIL_OUT("round $round: no spike client to fault (seed $seed)");
		note("round $round: backend $pid " . ($busy eq 't' ? 'was running a ticket function' : 'was between statements'));
		$busy_faults++ if $busy eq 't';
		if ($kind eq 'backend_terminate')
		{
			wait_until("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid",
				"round $round: the terminated backend is gone");
		}
	}
	elsif ($kind eq 'worker_kill' || $kind eq 'worker_term')
	{
		isnt($old_worker, '', "round $round: the worker is running before the fault");
		kill($kind eq 'worker_kill' ? 'KILL' : 'TERM', $old_worker);
	}
	else
	{
		$node->stop('immediate');
		$node->start;
	}
	if ($kind eq 'backend_kill' || $kind eq 'worker_kill')
	{
		# (wait_for_log returns the end of the log it read, not of the match:
		# one pattern for the whole sequence.)
		my $restart = qr/terminated by signal 9.*all server processes terminated; reinitializing/s;
		ok(eval { $node->wait_for_log(qr/$restart.*database system is ready to accept connections/s, $log_offset) },
			"round $round: the server restarts after the crash");
	}
	$first_restart //= query('SELECT now()') if $crashes{$kind};

	# A hold made now, which the worker must expire in two seconds.
	my $probe = query(qq{SELECT hold_id FROM ticket.hold_best(1, 'probe$round', 3, 1) WHERE status = 'held'});
	like($probe, qr/^\d+$/, "round $round: a hold right after the fault");

	# The load ends (at once when the server went down under it).
	my $bench_ok = $bench->finish;
	append_to_file($stop, '');
	$witness->finish;
	eval { $sim->signal('TERM') };
	$sim->finish;
	my ($n) = $bench_out =~ /number of transactions actually processed: (\d+)/;
	$n //= 0;
	$spike_txns += $n;
	my $w = () = slurp_file($witness_log) =~ /\n/g;
	my $wit_round = $w - ($witnessed // 0);
	$witnessed = $w;
	$committed += $n + $wit_round;
	note("round $round: pgbench processed $n transactions, the witness saw $wit_round commits; "
		. ($sim_out =~ s/\n//r || 'the simulator was cut off'));
	note("pgbench: $bench_err") if $bench_err =~ /error|abort/i;
	note("witness: $wit_err") if $wit_err ne '';
	note("simulator: $sim_err") if $sim_err ne '';
	if ($kind eq 'worker_term')
	{
		ok($bench_ok, "round $round: no client noticed the worker's death") or diag($bench_err);
	}

	# 1 and 2: what was committed is there, nothing is half-written.
	my ($c, $l) = check_witness("round $round ($kind)");
	$checked += $c;
	$lost += $l;
	consistent("round $round ($kind)");

	# 3. The worker runs again (after 5 seconds when it exited alone) and
	# expires the probe; after a restart it first reports what was in flight.
	wait_until(qq{SELECT count(*) = 1 FROM ($worker_pid) AS w}, "round $round: the worker is running");
	if ($kind ne 'backend_terminate')
	{
		isnt(query($worker_pid), $old_worker, "round $round: it is a new worker");
		ok(eval { $node->wait_for_log(qr/ticket worker: in flight at start: \d+ holds past expiry/, $log_offset) },
			"round $round: the new worker reports what was in flight");
		# What the fault left for it, for the figures.
		my @n = substr(slurp_file($node->logfile), $log_offset) =~ /in flight at start: (\d+) holds past expiry, (\d+) orders past pay_by, (\d+) compensations running/;
		$inflight[$_] += $n[$_] // 0 for 0 .. 2;
	}
	wait_until(qq{SELECT state = 'expired' FROM ticket.hold WHERE hold_id = $probe},
		"round $round: the worker expires a hold made after the fault");
	# And finishes what the fault left in flight: the compensations running
	# and the orders past their deadline now.
	my ($sagas, $late) = split /\|/, query(q{
		SELECT coalesce((SELECT string_agg(saga_id::text, ',') FROM ticket.saga WHERE state = 'running'), '0'),
			   coalesce((SELECT string_agg(order_id::text, ',') FROM ticket.orders
						  WHERE state = 'pending' AND pay_by < now()), '0')});
	wait_until(qq{SELECT count(*) = 0 FROM ticket.saga WHERE saga_id IN ($sagas) AND state = 'running'},
		"round $round: the worker finishes every compensation left running");
	wait_until(qq{SELECT count(*) = 0 FROM ticket.orders WHERE order_id IN ($late) AND state = 'pending'},
		"round $round: and times out every order left past its deadline");

	# The waiting room: pg_cron's launcher and job are there, a new user joins,
	# is admitted (the step pg_cron runs every second, called here so as not to
	# wait for pg_cron's next minute) and holds with the pass.
	wait_until(q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'},
		"round $round: pg_cron's launcher is running");
	is(query(q{SELECT count(*) FROM cron.job WHERE jobname = 'ticket-admission' AND active}), '1',
		"round $round: the admission job is still scheduled");
	is(query(qq{SELECT state FROM ticket.join_queue(2, 'q$round')}), 'waiting', "round $round: a user joins the line");
	wait_until(qq{SELECT ticket.admit(2) >= 0 AND (SELECT state = 'admitted' FROM ticket.queue_status(2, 'q$round'))},
		"round $round: and is admitted");
	is(query(qq{SELECT h.status FROM ticket.queue_status(2, 'q$round') AS s,
		ticket.hold_best(2, 'q$round', 1, 1, pass => s.pass_token) AS h}), 'held', "round $round: and holds with the pass");

	# 4. The load resumes: every transaction of a short run makes a hold.
	my $holds_before = query(q{SELECT count(*) FROM ticket.hold WHERE user_id LIKE 'r%'});
	$node->pgbench('-n -c 4 -j 2 -t 25', 0, [qr{processed: 100/100}], [qr{^$}],
		"round $round: pgbench runs again after the fault",
		{ "resume-$round.sql" => qq{
\\set u random(1, 1000000000)
SELECT status FROM ticket.hold_best(1, 'r$round-' || :client_id || '-' || :u, 3, 1);
} });
	$committed += 100;
	is(query(q{SELECT count(*) FROM ticket.hold WHERE user_id LIKE 'r%'}) - $holds_before, 100,
		"round $round: and each of its 100 transactions made a hold");

	# One restart for a crash, none otherwise: no crash loop.
	my $restarts = () = substr(slurp_file($node->logfile), $log_offset)
		=~ /all server processes terminated; reinitializing/g;
	is($restarts, $kind =~ /_kill$/ ? 1 : 0, "round $round: the server restarted as often as it was crashed");
}

# pg_cron itself ran the admission job after the first restart (it starts
# jobs on the minute, so this waits at most about a minute).
if (defined $first_restart)
{
	my $cron_ran = qq{SELECT count(*) > 0 FROM cron.job_run_details WHERE start_time > '$first_restart'};
	ok($node->poll_query_until('postgres', $cron_ran), 'pg_cron ran the admission job after a restart');
}

# The log: no PANIC, and no error from the worker (the faults it survives
# are exits, not errors).
my $log = slurp_file($node->logfile);
unlike($log, qr/PANIC/, 'no PANIC in the server log');
# The worker takes its locks with SKIP LOCKED and try-locks so that it never
# waits for a buyer or an adapter: a deadlock between them is a bug (see the
# DETAIL lines in the log for the two statements).
my @deadlocks = grep { /deadlock detected/ } split /\n/, $log;
is(scalar(@deadlocks), 0, 'no deadlock') or diag(join("\n", @deadlocks));
my @worker_errors = grep { / ticket worker (?:ERROR|FATAL):/
		&& !/terminating background worker "ticket worker" due to administrator command/
		&& !/terminating connection because of crash of another server process/ } split /\n/, $log;
is(scalar(@worker_errors), 0, 'the worker logged no error') or diag(join("\n", @worker_errors));

is($lost, 0, 'no committed row was lost');
my $totals = query(q{SELECT (SELECT count(*) FROM ticket.hold) || ' holds, ' || (SELECT count(*) FROM ticket.orders)
	|| ' orders (' || (SELECT count(*) FROM ticket.orders WHERE state = 'paid') || ' paid), '
	|| (SELECT count(*) FROM ticket.payment WHERE state = 'succeeded') || ' payments captured'});
diag(sprintf('chaos: %d rounds, faults: %s; %d transactions committed and acknowledged '
		. '(%d spike, %d resumed, %d witnessed); %d witnessed rows checked (%d distinct); %d lost; '
		. '%d of the backends faulted were inside a ticket function; '
		. 'restarted workers found %d holds past expiry, %d orders past pay_by, %d compensations running; '
		. 'in the tables: %s; %.0f s',
	$rounds, join(', ', map { "$_ $faults{$_}" } sort keys %faults), $committed, $spike_txns,
	100 * $rounds, $witnessed, $checked, $witnessed, $lost, $busy_faults, @inflight, $totals, time - $started));
diag("chaos seed $seed") unless Test::More->builder->is_passing;

$node->stop;
done_testing();
