# Failover with pg_auto_failover (issue 19): a monitor, a primary and a
# secondary in synchronous replication, each kept by its own pg_autoctl
# keeper.  The primary is killed (its keeper and its postmaster, SIGKILL) in
# the middle of a sale: pgbench holding and checking out, a witness checking
# out and paying.  The monitor promotes the secondary; then no acknowledged
# checkout, payment report or sold seat is lost, verify() is empty, the
# ticket worker starts on the new primary, and the sale goes on there.
use strict;
use warnings;
use File::Path qw(make_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SaleWitness;
use Time::HiRes qw(usleep);

my $pg_config = $ENV{PG_CONFIG} || 'pg_config';
my $bindir = `$pg_config --bindir`;
chomp $bindir;
my $base = PostgreSQL::Test::Utils::tempdir('autofailover');
# pg_autoctl keeps its configuration and state under the XDG directories.
$ENV{XDG_CONFIG_HOME} = "$base/config";
$ENV{XDG_DATA_HOME} = "$base/data";
$ENV{XDG_RUNTIME_DIR} = "$base/run";
make_path("$base/config", "$base/data", "$base/run");
$ENV{PATH} = "$bindir:$ENV{PATH}";
delete @ENV{qw(PGHOST PGPORT PGDATABASE PGUSER)};

my %port = map { $_ => PostgreSQL::Test::Cluster::get_free_port() } qw(monitor node1 node2);
my $monitor_uri = "postgres://autoctl_node\@localhost:$port{monitor}/pg_auto_failover?sslmode=disable";
my %keeper;

sub run_ok
{
	my ($what, @cmd) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(\@cmd, '>', \$out, '2>', \$err);
	die "$what failed: $err$out" unless $ok;
	return $out;
}

# A keeper in a process group of its own (setsid), so that killing the
# group kills it with its services and the Postgres it started.
sub keeper
{
	my ($name) = @_;
	my $h = IPC::Run::start([ 'setsid', 'pg_autoctl', 'run', '--pgdata', "$base/$name" ], '>', "$base/$name.log", '2>&1');
	$keeper{$name} = $h->{KIDS}[0]{PID};
}

sub kill_keeper
{
	my ($name) = @_;
	kill 'KILL', -$keeper{$name} if $keeper{$name};
	delete $keeper{$name};
}

# psql over TCP to a node; dies on error.
sub sql
{
	my ($name, $q) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-h', 'localhost', '-p', $port{$name},
		'-U', 'postgres', '-d', $name eq 'monitor' ? 'pg_auto_failover' : 'postgres', '-c', $q ], '>', \$out, '2>', \$err)
	  or die "psql on $name: $err";
	chomp $out;
	return $out;
}

sub wait_for
{
	my ($name, $q, $want, $seconds) = @_;
	for (my $i = 0; $i < $seconds * 10; $i++)
	{
		my $got = eval { sql($name, $q) };
		return 1 if defined $got && $got eq $want;
		usleep(100_000);
	}
	return 0;
}

my @common = ('--auth', 'trust', '--no-ssl', '--hostname', 'localhost', '--listen', 'localhost',
	'--pgctl', "$bindir/pg_ctl");
run_ok('monitor', 'pg_autoctl', 'create', 'monitor', '--pgdata', "$base/monitor", '--pgport', $port{monitor}, @common);
keeper('monitor');
ok(wait_for('monitor', 'SELECT 1', '1', 60), 'the monitor is up');

# The primary's data directory is made first, with ticket preloaded; the
# secondary is a base backup of it (pg_autoctl), so it has the same.
run_ok('initdb', 'initdb', '-D', "$base/node1", '-U', 'postgres', '-A', 'trust', '--locale=C.UTF-8');
append_to_file("$base/node1/postgresql.conf", qq{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
ticket.user_rate = 0
ticket.worker_interval = 200
});
foreach my $n (qw(node1 node2))
{
	run_ok($n, 'pg_autoctl', 'create', 'postgres', '--pgdata', "$base/$n", '--pgport', $port{$n}, '--name', $n,
		'--monitor', $monitor_uri, @common);
	keeper($n);
	ok(wait_for('monitor', "SELECT reportedstate FROM pgautofailover.node WHERE nodename = '$n'",
		$n eq 'node1' ? 'single' : 'secondary', 120), "$n is " . ($n eq 'node1' ? 'up, alone' : 'the secondary'));
}
ok(wait_for('monitor', q{SELECT reportedstate FROM pgautofailover.node WHERE nodename = 'node1'}, 'primary', 60),
	'node1 is the primary');
is(sql('node1', q{SELECT sync_state FROM pg_stat_replication}), 'quorum', 'replication is synchronous (quorum of one)');
like(sql('node1', q{SHOW synchronous_standby_names}), qr/^ANY 1 /, 'synchronous_standby_names set by pg_auto_failover');
is(sql('node1', q{SHOW shared_preload_libraries}), 'ticket, pg_cron', 'ticket is preloaded on the primary');
is(sql('node2', q{SHOW shared_preload_libraries}), 'ticket, pg_cron', 'and on the secondary');

sql('node1', q{
CREATE EXTENSION ticket;
SELECT ticket.create_concert('Tour', now() + interval '30 days', now() - interval '1 day',
	per_user_limit => 1, payment_timeout => '10 minutes');
SELECT ticket.add_section(1, 'Floor', 'A', 40, 100, 200);
SELECT ticket.open_sale(1);
});
is(sql('node2', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'ticket worker'}), '0',
	'the ticket worker does not run on the secondary');

# The sale: pgbench on the primary, and a witness of what it acknowledged.
my $bench = SaleWitness::start_spike("$base/sale.sql", 1, '-h', 'localhost', '-p', $port{node1}, '-U', 'postgres', 'postgres');
my ($orders, $paid) = SaleWitness::witness(sub { sql('node1', $_[0]) }, 1);

# The primary dies: its keeper first (else it would restart Postgres), then
# the postmaster.
my ($pid) = split /\n/, slurp_file("$base/node1/postmaster.pid");
kill_keeper('node1');
kill 'KILL', $pid;
$bench->finish;
ok(wait_for('node2', 'SELECT pg_is_in_recovery()', 'f', 120), 'the monitor promotes the secondary');
ok(wait_for('monitor', q{SELECT reportedstate IN ('wait_primary', 'primary') FROM pgautofailover.node WHERE nodename = 'node2'}, 't', 60),
	'the monitor reports node2 as the primary (waiting for a new secondary)');

SaleWitness::survived(sub { sql('node2', $_[0]) }, sub { wait_for('node2', $_[0], $_[1], 60) }, 1, $orders, $paid);

# Whatever happened, nothing of this test keeps running (a keeper would
# restart its Postgres).
END
{
	local $?;
	kill_keeper($_) foreach keys %keeper;
	foreach my $n (qw(node2 node1 monitor))
	{
		next unless -f "$base/$n/postmaster.pid";
		my ($pid) = split /\n/, slurp_file("$base/$n/postmaster.pid");
		kill 'KILL', $pid if $pid && kill(0, $pid);
	}
}

done_testing();
