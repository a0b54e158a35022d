# durable_holds = false (issue 18): a hold's transaction commits without
# waiting for its WAL, and an immediate shutdown may lose it.  What it may
# never lose or leave behind: an order, a payment, a sold seat; a seat held
# by a hold that is gone; an oversold seat.  A buyer whose hold was lost is
# told so at checkout (P0002).  The durable concert beside it loses nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('durable');
$node->init;
# The WAL writer sleeps 10 s, so that asynchronous commits made just before
# the shutdown are still only in memory (what a busy server looks like for
# a moment); the worker stays out of the way.
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
ticket.worker = off
ticket.user_rate = 0
wal_writer_delay = '10s'
synchronous_commit = on
});
$node->start;
sub query { return $node->safe_psql('postgres', shift); }

query(q{
CREATE EXTENSION ticket;
SELECT ticket.create_concert('Fast holds', now() + interval '30 days', now() - interval '1 day',
	per_user_limit => 4, durable_holds => false);
SELECT ticket.add_section(1, 'Floor', 'A', 50, 1, 100);
SELECT ticket.open_sale(1);
SELECT ticket.create_concert('Durable holds', now() + interval '30 days', now() - interval '1 day');
SELECT ticket.add_section(2, 'Floor', 'A', 50, 1, 100);
SELECT ticket.open_sale(2);
});

# The mechanism: the hold's transaction commits asynchronously, a checkout
# in the same transaction puts the commit back to durable; a durable
# concert's hold changes nothing.
is(query(q{
BEGIN;
SELECT status FROM ticket.hold(1, 'probe', ARRAY[100]);
SHOW synchronous_commit;
SELECT status FROM ticket.checkout((SELECT hold_id FROM ticket.hold WHERE user_id = 'probe'), 'probe', 'probe-pay');
SHOW synchronous_commit;
SELECT status FROM ticket.hold(1, 'probe2', ARRAY[99]);
SHOW synchronous_commit;
COMMIT;
SELECT status FROM ticket.hold(2, 'probe', ARRAY[100]);
SHOW synchronous_commit;
}), "held\noff\npending\non\nheld\non\nheld\non", 'a hold of the fast concert commits asynchronously; its checkout, a hold after it in the same transaction, and other holds, durably');

# Orders bought from fast holds: each statement its own transaction.
my $bought = query(join "\n", map { qq{
SELECT (ticket.checkout((ticket.hold(1, 'buyer$_', ARRAY[$_])).hold_id, 'buyer$_', 'k$_')).order_id;} } 1 .. 10);
my @orders = split /\n/, $bought;
is(scalar(@orders), 10, 'ten orders from non-durable holds');
query(q{SELECT ticket.payment_succeeded(payment_id, 'ch-' || payment_id) FROM ticket.claim_payments('psp', 100)});
my $before = query(q{SELECT (SELECT count(*) FROM ticket.orders WHERE state = 'paid') || ' '
	|| (SELECT count(*) FROM ticket.payment WHERE state = 'succeeded') || ' '
	|| (SELECT count(*) FROM ticket.seat WHERE state = 'sold')});
is($before, '11 11 11', 'eleven orders paid, eleven charges, eleven seats sold');

# Then holds only: 30 durable ones, and last 30 fast ones, each
# acknowledged to the client; then the server stops without a checkpoint.
my @durable = split /\n/, query(join "\n", map { qq{SELECT hold_id FROM ticket.hold(2, 'd$_', ARRAY[$_]);} } 1 .. 30);
my @fast = split /\n/, query(join "\n", map { qq{SELECT hold_id FROM ticket.hold(1, 'f$_', ARRAY[@{[ 40 + $_ ]}]);} } 1 .. 30);
is(scalar(@durable) + scalar(@fast), 60, 'sixty holds acknowledged');
$node->stop('immediate');
$node->start;

is(query(q{SELECT (SELECT count(*) FROM ticket.orders WHERE state = 'paid') || ' '
	|| (SELECT count(*) FROM ticket.payment WHERE state = 'succeeded') || ' '
	|| (SELECT count(*) FROM ticket.seat WHERE state = 'sold')}), $before,
	'after the crash: every paid order, charge and sold seat is there');
is(query(q{SELECT count(*) FROM ticket.hold WHERE concert_id = 2 AND user_id LIKE 'd%'}), '30',
	'every hold of the durable concert is there');
my %kept = map { $_ => 1 } split /\n/, query(q{SELECT hold_id FROM ticket.hold WHERE concert_id = 1 AND user_id LIKE 'f%'});
my @lost = grep { !$kept{$_} } @fast;
note(scalar(@lost) . ' of 30 acknowledged fast holds were lost by the immediate shutdown');
is(query(q{SELECT count(*) FROM ticket.seat AS s WHERE s.hold_id IS NOT NULL
	AND NOT EXISTS (SELECT FROM ticket.hold AS h WHERE h.hold_id = s.hold_id)}), '0',
	'no seat names a hold that is gone');
is(query(q{SELECT count(*) FROM ticket.event WHERE kind = 'hold' AND subject_id NOT IN (SELECT hold_id FROM ticket.hold)}), '0',
	'no outbox row for a hold that is gone');
my $answers = '';
for my $i (0 .. $#fast)
{
	next if $kept{ $fast[$i] };
	my ($rc, $out, $err) = $node->psql('postgres',
		"SELECT ticket.checkout($fast[$i], 'f@{[ $i + 1 ]}', 'lost-$i')", on_error_stop => 1);
	$answers .= "$fast[$i]: " . ($err =~ /hold \d+ does not exist/ ? 'P0002' : "unexpected: $err") . "\n";
}
unlike($answers, qr/unexpected/, 'a buyer whose hold was lost hears at checkout that it does not exist')
  or diag($answers);
# The lost holds' seats can be held again, and nothing is oversold.
my $again = query(join "\n", map { qq{SELECT status FROM ticket.hold(1, 'again$_', ARRAY[@{[ 40 + $_ ]}]);} } 1 .. 30);
is(scalar(grep { $_ eq 'held' } split /\n/, $again), scalar(@lost), 'exactly the lost holds\' seats are free again');
is(query('SELECT count(*) FROM ticket.verify()'), '0', 'verify() is empty');

done_testing();
