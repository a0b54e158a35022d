# Preload: without shared_preload_libraries the catalogue still works and the
# functions that need shared memory refuse with 55000 and a hint naming the
# setting; with it, they work, and data and the library survive clean restarts.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('preload');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION ticket');
is($node->safe_psql('postgres', 'SELECT ticket.preloaded()'), 'f', 'not preloaded: preloaded() is false');

# Building the catalogue needs no shared memory.
my $cid = $node->safe_psql('postgres',
	"SELECT ticket.create_concert('Unpreloaded', now() + interval '30 days', now() + interval '1 day')");
is($node->safe_psql('postgres', "SELECT ticket.add_section($cid, 'Floor', 'A', 25, 10, 10)"),
	'1', 'not preloaded: add_section works');
my $qid = $node->safe_psql('postgres',
	"SELECT ticket.create_concert('Unpreloaded queue', now() + interval '30 days', now() + interval '1 day', queue => true)");

# Functions that need it say so, with the SQLSTATE and the setting to change.
foreach my $call ("SELECT ticket.open_sale($cid)", 'SELECT * FROM ticket.counters()',
	"SELECT * FROM ticket.hold($cid, 'u1', ARRAY[1])",
	"SELECT * FROM ticket.hold_best($cid, 'u1', 1, 1)",
	"SELECT * FROM ticket.join_queue($qid, 'u1')")
{
	my ($ret, $stdout, $stderr) = $node->psql('postgres', "\\set VERBOSITY verbose\n$call");
	isnt($ret, 0, "not preloaded: $call fails");
	like($stderr, qr/ERROR:  55000: .*requires the ticket library to be preloaded/,
		"not preloaded: $call raises 55000");
	like($stderr, qr/HINT:  Add ticket to shared_preload_libraries in postgresql\.conf/,
		"not preloaded: $call hints at postgresql.conf");
}
is($node->safe_psql('postgres', "SELECT state FROM ticket.concert WHERE concert_id = $cid"),
	'draft', 'not preloaded: the refused open_sale wrote nothing');

# Preload it (with pg_cron, as in production) and restart.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
});
$node->restart;
is($node->safe_psql('postgres', 'SELECT ticket.preloaded()'), 't', 'preloaded: preloaded() is true');
$node->safe_psql('postgres', "SELECT ticket.open_sale($cid)");
is($node->safe_psql('postgres', "SELECT state FROM ticket.concert WHERE concert_id = $cid"),
	'on_sale', 'preloaded: open_sale works');
is($node->safe_psql('postgres', "SELECT status FROM ticket.hold($cid, 'u1', ARRAY[1])"),
	'held', 'preloaded: hold works');
is($node->safe_psql('postgres', "SELECT value FROM ticket.counters() WHERE counter = 'sales_opened'"),
	'1', 'preloaded: the counter saw the opening');
is($node->safe_psql('postgres',
	"SELECT string_agg(setting, ',') FROM pg_settings WHERE name = 'shared_preload_libraries'"),
	'ticket, pg_cron', 'both libraries are preloaded');

# An unknown ticket.* setting is refused once the prefix is reserved.
my ($ret, $stdout, $stderr) = $node->psql('postgres', "SET ticket.no_such_setting = 1");
like($stderr, qr/invalid configuration parameter name "ticket\.no_such_setting"/,
	'the ticket.* prefix is reserved');

# A clean restart keeps the data and the pass keys, starts the counters
# again, and logs no error.
my $pass = $node->safe_psql('postgres',
	"SELECT ticket._sign_pass($cid, 'u1', 1, now() + interval '1 hour')");
my $log_offset = -s $node->logfile;
$node->restart;
is($node->safe_psql('postgres', "SELECT ticket.check_pass('$pass', $cid, 'u1')"),
	'1', 'a pass signed before the restart is accepted after it');
is($node->safe_psql('postgres',
	"SELECT state || ' ' || capacity || ' ' || held FROM ticket.concerts WHERE concert_id = $cid"),
	'on_sale 100 1', 'the concert and its hold survive a clean restart');
is($node->safe_psql('postgres', "SELECT count(*) FROM ticket.verify()"), '0',
	'no violations after the restart');
is($node->safe_psql('postgres', "SELECT value FROM ticket.counters() WHERE counter = 'sales_opened'"),
	'0', 'counters start from zero after a restart');
my $log = slurp_file($node->logfile, $log_offset);
# A shutdown stops the worker with SIGTERM (die), which PostgreSQL logs as
# FATAL for every background worker: that line is not an error of ours.
$log =~ s/^.*FATAL:  terminating background worker "ticket worker" due to administrator command\n//mg;
unlike($log, qr/(ERROR|FATAL|PANIC):.*ticket/, 'no ticket errors in the log across the restart');

$node->stop;
done_testing();
