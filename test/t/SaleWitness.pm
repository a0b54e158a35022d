# test/t/SaleWitness.pm: a sale under way, and what must survive the loss of
# its primary; shared by 018_standby.pl (pg_ctl promote) and
# 019_auto_failover.pl (pg_auto_failover).  Each takes $sql, a sub that runs
# one statement on a node and returns its output, and $wait, a sub that
# polls a query until it returns the wanted text.
package SaleWitness;

use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

# start_spike(SCRIPT_PATH, CONCERT, PGBENCH_CONNECTION_ARGS...): pgbench, 8
# clients at 200 transactions/s for up to 60 s, each buying one place of
# CONCERT (hold_best, then checkout, keyed by the hold).  Returns the harness.
sub start_spike
{
	my ($script, $concert, @conn) = @_;
	append_to_file($script, qq{
\\set u random(1, 100000000)
SELECT c.status FROM ticket.hold_best($concert, 'p' || :u, 1, 1) AS h,
	LATERAL ticket.checkout(h.hold_id, 'p' || :u, 'k' || h.hold_id) AS c
 WHERE h.status = 'held';
});
	my ($out, $err) = ('', '');
	return IPC::Run::start([ 'pgbench', '-n', '-c', '8', '-j', '2', '-R', '200', '-T', '60', '-f', $script, @conn ],
		'>', \$out, '2>', \$err);
}

# witness(SQL, CONCERT): 20 checkouts of CONCERT, and every other one an
# adapter's round (claim what is due, report each paid).  Returns the orders
# and the paid orders the primary acknowledged.
sub witness
{
	my ($sql, $concert) = @_;
	my (@orders, @paid);
	my $deadline = time + 60;
	for (my $i = 0; @orders < 20 && time < $deadline; $i++)
	{
		my $o = $sql->(qq{SELECT c.order_id FROM ticket.hold_best($concert, 'w$i', 1, 1) AS h,
			LATERAL ticket.checkout(h.hold_id, 'w$i', 'w$i') AS c WHERE h.status = 'held'});
		next unless $o;
		push @orders, $o;
		push @paid, split /\n/, $sql->(q{SELECT j.order_id FROM ticket.claim_payments('witness', 1000) AS j,
			LATERAL ticket.payment_succeeded(j.payment_id, 'ch-' || j.payment_id) AS r WHERE r = 'paid'})
		  if $i % 2 == 0;
	}
	ok(@orders == 20 && @paid >= 10, scalar(@orders) . ' checkouts and ' . scalar(@paid) . ' payments acknowledged before the primary dies');
	my $made = $sql->(q{SELECT count(*) FROM ticket.orders});
	ok($made > @orders, "pgbench made orders too ($made in all)");
	return (\@orders, \@paid);
}

# survived(SQL, WAIT, CONCERT, ORDERS, PAID), on the new primary: every
# acknowledged checkout, payment report and sold seat is there, verify() is
# empty, the ticket worker starts and publishes what was left, and the sale
# goes on.
sub survived
{
	my ($sql, $wait, $concert, $orders, $paid) = @_;
	my $list = join(',', @$orders);
	is($sql->(qq{SELECT count(*) FROM ticket.orders WHERE order_id IN ($list)}), scalar(@$orders),
		'every acknowledged checkout is on the new primary');
	$list = join(',', @$paid);
	is($sql->(qq{SELECT count(*) FROM ticket.orders WHERE order_id IN ($list) AND state = 'paid'}), scalar(@$paid),
		'every acknowledged payment report');
	is($sql->(qq{SELECT count(*) FROM ticket.orders AS o JOIN ticket.seat AS s
		ON s.concert_id = o.concert_id AND s.hold_id = o.hold_id WHERE o.order_id IN ($list) AND s.state = 'sold'}),
		$sql->(qq{SELECT count(*) FROM ticket.orders AS o, LATERAL unnest(o.seat_ids) WHERE o.order_id IN ($list)}),
		'every seat they bought is sold');
	is($sql->(q{SELECT count(*) FROM ticket.verify()}), '0', 'verify() is empty');
	ok($wait->(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'ticket worker'}, '1'),
		'the ticket worker starts on the new primary');
	ok($wait->(q{SELECT events FROM ticket._unpublished()}, '0'), 'and publishes the events left behind');
	my $o = $sql->(qq{SELECT c.order_id FROM ticket.hold_best($concert, 'after', 1, 1) AS h,
		LATERAL ticket.checkout(h.hold_id, 'after', 'after') AS c});
	ok($o > 0, 'the sale goes on: a checkout on the new primary');
	ok($wait->(qq{SELECT count(*) FROM ticket.claim_payments('witness', 1000) AS j,
		LATERAL ticket.payment_succeeded(j.payment_id, 'ch-' || j.payment_id) AS r WHERE j.order_id = $o AND r = 'paid'}, '1'),
		'and its payment');
	is($sql->(q{SELECT count(*) FROM ticket.verify()}), '0', 'verify() is still empty');
}

1;
