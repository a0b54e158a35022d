# prometheus-postgres-exporter with monitoring/postgres_exporter.yml serves
# every row of ticket.metrics() as a Prometheus metric, with the values of
# the sale, connecting as a role that has only ticket_monitor.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use IPC::Run;
use Time::HiRes qw(sleep);
use FindBin;

my $exporter = '/usr/bin/prometheus-postgres-exporter';
my $queries = "$FindBin::RealBin/../../monitoring/postgres_exporter.yml";
ok(-x $exporter, 'the exporter is installed (make test installs it)') or BAIL_OUT("no $exporter");
ok(-r $queries, 'the query file is in the repository') or BAIL_OUT("no $queries");

my $node = PostgreSQL::Test::Cluster->new('exporter');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
ticket.database = 'postgres'
});
$node->start;
sub query { return $node->safe_psql('postgres', shift); }

# A sale: 20 seats, 6 sold, 2 held, a waiting room with 3 still waiting.
query(q{
CREATE EXTENSION ticket;
CREATE ROLE exporter LOGIN IN ROLE ticket_monitor;
SELECT ticket.create_concert('Exported Night', now() + interval '30 days', now() - interval '1 day',
	per_user_limit => 4, queue => true, admit_rate => 4);
SELECT ticket.add_section(1, 'Floor', 'A', 25, 2, 10);
SELECT ticket.join_queue(1, 'fan' || g) FROM generate_series(1, 7) AS g;
SELECT ticket.open_sale(1);
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 second';
SELECT ticket.admit(1);
SELECT ticket.hold(1, e.user_id, ARRAY[2 * e.seq::int - 1, 2 * e.seq::int],
				   pass => (ticket.queue_status(1, e.user_id)).pass_token)
  FROM ticket.queue_entry AS e WHERE e.state = 'admitted';
SELECT ticket.checkout(h.hold_id, h.user_id, 'k' || h.hold_id) FROM ticket.hold AS h WHERE h.hold_id <= 3;
SELECT ticket.claim_payments('sim', 10, '1 minute');
SELECT ticket.payment_succeeded(p.payment_id, 'ch' || p.payment_id) FROM ticket.payment AS p;
});
is(query('SELECT sold, held, waiting FROM ticket.dashboard'), '6|2|3', 'the sale: 6 sold, 2 held, 3 waiting');

my $port = PostgreSQL::Test::Cluster::get_free_port();
my ($out, $err) = ('', '');
my $dsn = sprintf('host=%s port=%d dbname=postgres user=exporter sslmode=disable', $node->host, $node->port);
my $h = IPC::Run::start(
	[ $exporter, "--extend.query-path=$queries", "--web.listen-address=127.0.0.1:$port",
	  '--disable-default-metrics', '--disable-settings-metrics' ],
	'>', \$out, '2>', \$err, init => sub { $ENV{DATA_SOURCE_NAME} = $dsn; });

# Scrape until the exporter answers with our metrics (it starts in well under a second).
my $http = HTTP::Tiny->new(timeout => 10);
my $body = '';
for (1 .. 300)
{
	my $r = $http->get("http://127.0.0.1:$port/metrics");
	if ($r->{success} && $r->{content} =~ /^ticket_/m) { $body = $r->{content}; last; }
	sleep 0.1;
}
$h->kill_kill;
isnt($body, '', 'the exporter serves ticket metrics') or diag("exporter stderr:\n$err");

# Every row of ticket.metrics() is there, with its value and labels.
my @rows = split /\n/, query(q{
SELECT name, coalesce(labels ->> 'concert_id', ''), CASE WHEN value = 'NaN' THEN 'NaN' ELSE value::text END
  FROM ticket.metrics() ORDER BY 1, 2});
cmp_ok(scalar(@rows), '>=', 45, 'ticket.metrics() has counters and gauges');
my @missing;
for my $row (@rows)
{
	my ($name, $concert, $value) = split /\|/, $row;
	# Counters move while we look (this test's own queries do not bump any).
	my $labels = $concert eq '' ? '\{server="[^"]*"\}' : "\\{concert_id=\"$concert\",server=\"[^\"]*\"\\}";
	push @missing, "$name\{$concert\} = $value" unless $body =~ /^\Q$name\E$labels (\S+)$/m && $1 == $value;
}
is(join(', ', @missing), '', 'each with the value ticket.metrics() gives');
like($body, qr/^ticket_concert_sold_seats\{concert_id="1",server="[^"]*"\} 6$/m, 'sold seats of concert 1');
like($body, qr/^ticket_concert_revenue\{concert_id="1",server="[^"]*"\} 150$/m, 'its revenue');
like($body, qr/^ticket_holds_held_total\{server="[^"]*"\} 4$/m, 'the holds counter');
like($body, qr/^# TYPE ticket_holds_held_total counter$/m, 'counters are typed counter');
like($body, qr/^# TYPE ticket_concert_waiting gauge$/m, 'gauges are typed gauge');
unlike($err, qr/level=error/, 'the exporter logged no error') or diag($err);

# The exporter's role reads the metrics and nothing else.
my ($rc, $stdout, $stderr) = $node->psql('postgres', 'SELECT count(*) FROM ticket.orders', extra_params => [ '-U', 'exporter' ]);
like($stderr, qr/permission denied/, 'the exporter role cannot read the orders');

$node->stop;
done_testing();
