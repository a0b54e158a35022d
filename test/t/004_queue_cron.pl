# The waiting room driven by pg_cron for real: schedule_admission makes the
# job, pg_cron 1.4's per-minute run steps admission each second, and the
# users admitted per second match the concert's admit_rate within a loose
# bound.  Then passes survive a restart, and admission carries on after it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname);

my $rate = 4;
my $node = PostgreSQL::Test::Cluster->new('queue');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
ticket.user_rate = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron; CREATE EXTENSION ticket;');

my $cid = $node->safe_psql('postgres', qq{
	SELECT ticket.create_concert('Cron Night', now() + interval '30 days', now() - interval '1 minute',
		queue => true, admit_rate => $rate)});
$node->safe_psql('postgres', qq{
	SELECT ticket.add_section($cid, 'Floor', 'A', 40, 20, 50);
	SELECT count(*) FROM (SELECT ticket.join_queue($cid, 'u' || g) FROM generate_series(1, 1000) AS g) AS j;
	SELECT ticket.open_sale($cid);});
my $job = $node->safe_psql('postgres', "SELECT ticket.schedule_admission($cid)");
ok($job > 0, 'schedule_admission made a pg_cron job');
is($node->safe_psql('postgres', 'SELECT schedule || \' \' || command FROM cron.job'),
	'* * * * * CALL ticket.run_admission(60)', 'pg_cron 1.4: a per-minute job of 60 steps');

# Wait for the job's first minute to start and run a while.
sub admitted
{
	return $node->safe_psql('postgres', "SELECT admitted FROM ticket.queues WHERE concert_id = $cid");
}
my $deadline = time + 150;
sleep 1 while admitted() < 20 * $rate && time < $deadline;
cmp_ok(admitted(), '>=', 20 * $rate, 'pg_cron admitted users') or diag(
	$node->safe_psql('postgres', 'SELECT status, return_message FROM cron.job_run_details'));

# The rate: users per second between the first step and the last, leaving
# out the first step (it may catch up on up to 10 seconds since the draw).
my ($n, $span) = split /\|/, $node->safe_psql('postgres', qq{
	WITH a AS (SELECT admitted_at FROM ticket.queue_entry WHERE concert_id = $cid AND state = 'admitted'),
	     s AS (SELECT admitted_at FROM a WHERE admitted_at > (SELECT min(admitted_at) FROM a))
	SELECT count(*), extract(epoch FROM max(admitted_at) - (SELECT min(admitted_at) FROM a)) FROM s});
my $measured = $n / $span;
note(sprintf('admitted %d in %.2f s after the first step: %.2f per second for admit_rate %d', $n, $span, $measured, $rate));
cmp_ok($measured, '>=', $rate * 0.5, 'admission rate is at least half of admit_rate');
cmp_ok($measured, '<=', $rate * 1.5, 'admission rate is at most 1.5 times admit_rate');
# No step admitted more than a step's worth (plus the fraction carried).
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM (SELECT admitted_at, count(*) FROM ticket.queue_entry
		WHERE concert_id = $cid AND state = 'admitted'
		  AND admitted_at > (SELECT min(admitted_at) FROM ticket.queue_entry WHERE concert_id = $cid)
		GROUP BY admitted_at HAVING count(*) > $rate * 2) AS big}), '0', 'no step admitted a burst');
is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job_run_details WHERE status = 'failed'"),
	'0', 'no pg_cron run failed');
is($node->safe_psql('postgres', "SELECT count(*) FROM ticket.verify($cid)"), '0', 'verify finds nothing');

# An admitted user's pass, and a hold with it, before and after a restart.
my ($user, $pass) = split /\|/, $node->safe_psql('postgres', qq{
	SELECT s.user_id, s.pass_token FROM ticket.queue_entry AS e, ticket.queue_status($cid, e.user_id) AS s
	 WHERE e.concert_id = $cid AND s.state = 'admitted' ORDER BY e.seq DESC LIMIT 1});
like($pass, qr/^t1\.1\.$cid\.\d+\.\d+\.[\w-]{43}$/, 'an admitted user has a pass');
$node->restart;
my $place = $node->safe_psql('postgres', "SELECT ticket.check_pass('$pass', $cid, '$user')");
ok($place > 0, 'the pass checks after a restart');
is($node->safe_psql('postgres', "SELECT pass_token FROM ticket.queue_status($cid, '$user')"), $pass,
	'the same pass is issued after a restart');
is($node->safe_psql('postgres', "SELECT status FROM ticket.hold($cid, '$user', ARRAY[1], pass => '$pass')"),
	'held', 'a hold with the pass works after a restart');
my ($ret, $out, $err) = $node->psql('postgres',
	"SELECT ticket.hold($cid, 'someone else', ARRAY[2], pass => '$pass')");
like($err, qr/pass refused/, "another user's hold with that pass is refused");

# pg_cron picks the job up again after the restart.
my $before = admitted();
$deadline = time + 130;
sleep 1 while admitted() <= $before && time < $deadline;
cmp_ok(admitted(), '>', $before, 'admission carries on after the restart');

# The reference solver (test/pow-solve) solves a real challenge: 16 bits.
my $pw = $node->safe_psql('postgres', qq{
	SELECT ticket.create_concert('Bot Night', now() + interval '30 days', now() + interval '1 day',
		queue => true, pow_bits => 16)});
my $challenge = $node->safe_psql('postgres', "SELECT ticket.challenge($pw, 'human')");
my $solver = dirname(__FILE__) . '/../pow-solve';
chomp(my $solution = `perl $solver '$challenge'`);
like($solution, qr/^\d+$/, 'pow-solve prints a solution');
is($node->safe_psql('postgres', qq{
	SELECT state FROM ticket.join_queue($pw, 'human', challenge => '$challenge', solution => '$solution')}),
	'prequeue', 'the solution lets the user join');
($ret, $out, $err) = $node->psql('postgres', qq{
	SELECT state FROM ticket.join_queue($pw, 'human2', challenge => '$challenge', solution => '$solution')});
like($err, qr/proof of work refused/, "another user cannot use that solution");

ok($node->safe_psql('postgres', "SELECT ticket.unschedule_admission($cid)") eq 't', 'unscheduled');
is($node->safe_psql('postgres', 'SELECT count(*) FROM cron.job'), '0', 'the job is gone');
$node->stop;
done_testing();
