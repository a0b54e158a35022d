# The router (issue 19): a router database with extension ticket_router in
# front of two shards, each its own server, through PL/Proxy.  Proves:
#   - the router's API is ticket's: every public function, procedure and
#     view with the same name, arguments, defaults, result and grants, and
#     src/router/api.sql is what src/router/generate writes today (no drift);
#   - concerts go to the shard with the fewest, the directory knows them,
#     and every id a shard hands out names its shard (set_shard);
#   - a sale runs through the router on both shards at once: passes,
#     idempotency keys, payments in one batch across shards, buyers' pages
#     merged, events per shard, verify() empty; every function and view of
#     the router is called (track_functions);
#   - bad input gives the same SQLSTATE through the router as on the shard,
#     and the shard's message comes through.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = dirname(__FILE__) . '/../..';

my @shards;
foreach my $k (0, 1)
{
	my $n = PostgreSQL::Test::Cluster->new("shard$k");
	$n->init;
	$n->append_conf('postgresql.conf', q{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
ticket.worker = off
ticket.user_rate = 0
});
	$n->start;
	$n->safe_psql('postgres', 'CREATE EXTENSION ticket');
	push @shards, $n;
}
my $router = PostgreSQL::Test::Cluster->new('router');
$router->init;
$router->append_conf('postgresql.conf', "track_functions = 'all'\n");
$router->start;

# Shard 1 hands out ids from 10^12 + 1; shard 0 is what one server always was.
is($shards[1]->safe_psql('postgres', q{SELECT string_agg(id || '=' || next_value, ' ' ORDER BY id) FROM ticket.set_shard(1)}),
	'cancellation_id=1000000000001 concert_id=1000000000001 event_id=1000000000001 hold_id=1000000000001 '
	  . 'order_id=1000000000001 payment_id=1000000000001 saga_id=1000000000001',
	'set_shard(1): every id of shard 1 starts at 10^12 + 1');
is($shards[0]->safe_psql('postgres', q{SELECT string_agg(DISTINCT next_value::text, ' ') FROM ticket.set_shard(0)}),
	'1', 'set_shard(0) changes nothing on a fresh database');

my $connstr = sub { my $n = shift; return sprintf('host=%s port=%d dbname=postgres', $n->host, $n->port); };
$router->safe_psql('postgres', q{CREATE EXTENSION ticket_router CASCADE});
my ($ret, $out, $err) = $router->psql('postgres', q{SELECT ticket.browse_concerts()});
like($err, qr/ERROR:  the router has no shards.*HINT:  CREATE SERVER ticket_shards/s, 'a router without shards says so (55000) and how to add them');
$router->safe_psql('postgres', sprintf(q{
CREATE SERVER ticket_shards FOREIGN DATA WRAPPER plproxy OPTIONS (modular_mapping '1', p0 '%s', p1 '%s');
CREATE USER MAPPING FOR PUBLIC SERVER ticket_shards;
GRANT USAGE ON FOREIGN SERVER ticket_shards TO ticket_admin, ticket_customer, ticket_adapter, ticket_monitor;
}, $connstr->($shards[0]), $connstr->($shards[1])));

# The same login roles everywhere: PL/Proxy connects to a shard as the caller.
foreach my $n ($router, @shards)
{
	$n->safe_psql('postgres', q{
CREATE ROLE boss LOGIN IN ROLE ticket_admin;
CREATE ROLE shop LOGIN IN ROLE ticket_customer;
CREATE ROLE psp LOGIN IN ROLE ticket_adapter;
CREATE ROLE watch LOGIN IN ROLE ticket_monitor;
});
}

sub on { my ($n, $sql, $user) = @_; return $n->safe_psql('postgres', $sql, $user ? (extra_params => [ '-U', $user ]) : ()); }
sub r { return on($router, @_); }

# ------------------------------------------------------------- the same API

my $api_query = q{
SELECT p.proname || '(' || pg_get_function_arguments(p.oid) || ') ' || p.prokind::text || ' '
	|| COALESCE(pg_get_function_result(p.oid), '') || ' ['
	|| COALESCE((SELECT string_agg(DISTINCT r.rolname, ',' ORDER BY r.rolname) FROM aclexplode(p.proacl) AS x
	   JOIN pg_roles AS r ON r.oid = x.grantee WHERE r.rolname LIKE 'ticket\_%'), '') || ']'
  FROM pg_proc AS p WHERE p.pronamespace = 'ticket'::regnamespace AND p.proname !~ '^_' AND p.proname NOT IN ('set_shard', 'shard')
UNION ALL
SELECT c.relname || ' view (' || (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
	  FROM pg_attribute AS a WHERE a.attrelid = c.oid AND a.attnum > 0) || ') ['
	|| COALESCE((SELECT string_agg(DISTINCT r.rolname, ',' ORDER BY r.rolname) FROM aclexplode(c.relacl) AS x
	   JOIN pg_roles AS r ON r.oid = x.grantee WHERE r.rolname LIKE 'ticket\_%'), '') || ']'
  FROM pg_class AS c WHERE c.relnamespace = 'ticket'::regnamespace AND c.relkind = 'v' AND c.relname !~ '^_'
ORDER BY 1};
my $shard_api = on($shards[0], $api_query);
my $router_api = r($api_query);
is($router_api, $shard_api, 'the router has every public function, procedure and view of ticket, with the same arguments, defaults, results and grants');
ok(scalar(split /\n/, $shard_api) > 60, 'of ' . scalar(split /\n/, $shard_api) . ' objects');
is(r(q{SELECT count(*) FROM pg_proc AS p WHERE p.pronamespace IN ('ticket'::regnamespace, 'ticket_router'::regnamespace)
	AND (obj_description(p.oid, 'pg_proc') IS NULL OR p.proconfig IS NULL AND p.prokind = 'f')}),
	'0', 'every router function has a comment, and every one (not the procedures, which commit) pins search_path');
is(r(q{SELECT count(*) FROM pg_proc AS p, aclexplode(p.proacl) AS x
	WHERE p.pronamespace IN ('ticket'::regnamespace, 'ticket_router'::regnamespace) AND x.grantee = 0}), '0',
	'nothing of the router is granted to PUBLIC');

# No drift: the generator, run on a shard today, writes src/router/api.sql.
{
	local $ENV{PGHOST} = $shards[0]->host;
	local $ENV{PGPORT} = $shards[0]->port;
	local $ENV{PGDATABASE} = 'postgres';
	my $generated = `python3 $root/src/router/generate`;
	is($?, 0, 'src/router/generate runs');
	is($generated, slurp_file("$root/src/router/api.sql"), 'src/router/api.sql is what src/router/generate writes from ticket\'s catalog today');
}

# ------------------------------------------------------------- a sale

# Two concerts: the first goes to shard 0, the second to shard 1 (fewest).
my ($a, $b) = split /\n/, r(q{
SELECT ticket.create_concert('Shard zero', now() + interval '30 days', now() - interval '1 day',
	cancellable => true, payment_timeout => '5 minutes');
SELECT ticket.create_concert('Shard one', now() + interval '30 days', now() - interval '1 day', queue => true, admit_rate => 5);
}, 'boss');
is("$a $b", '1 1000000000001', 'create_concert: shard 0 then shard 1, each id in its shard\'s range');
is(r(q{SELECT string_agg(concert_id || ':' || shard, ' ' ORDER BY shard) FROM ticket_router.concert_shard}),
	"1:0 1000000000001:1", 'the directory knows both');
is(on($shards[1], q{SELECT title FROM ticket.concert}), 'Shard one', 'the second concert lives on shard 1 only');

r(qq{
SELECT ticket.add_section($a, 'Stalls', 'A', 40, 2, 10);
SELECT ticket.add_section($b, 'Stalls', 'A', 60, 2, 10);
SELECT ticket.add_standing($b, 'Pit', 'GA', 30, 50);
SELECT ticket.add_section($b, 'Gone', 'C', 10, 1, 1);
SELECT ticket.remove_section($b, 3);
SELECT ticket.update_section($a, 1, price => 45);
SELECT ticket.update_concert($a, venue => 'Hall');
SELECT ticket.create_concert('Draft', now() + interval '60 days', now() + interval '30 days');
SELECT ticket.delete_concert(2);
}, 'boss');
is(r(q{SELECT count(*) FROM ticket_router.concert_shard}), '2', 'delete_concert: the directory forgets the draft');
like(r(qq{SELECT string_agg(seats, '/') FROM ticket.seat_map($a, 1)}, 'boss'), qr/^\.+\/\.+$/, 'seat_map through the router');
r(qq{SELECT ticket.join_queue($b, 'fan'); SELECT ticket.join_queue($b, 'gus');}, 'shop');
r(qq{SELECT ticket.open_sale($a); SELECT ticket.open_sale($b);}, 'boss');

is(r(q{SELECT string_agg(title || ' ' || available, ', ') FROM ticket.browse_concerts()}, 'shop'),
	'Shard zero 20, Shard one 70', 'browse_concerts: both shards\' concerts, in order');
is(r(qq{SELECT string_agg(name || ' ' || price, ', ' ORDER BY section_id) FROM ticket.browse_sections($a)}, 'shop'),
	'Stalls 45.00', 'browse_sections, after update_section');
is(r(qq{SELECT count(*) FROM ticket.browse_seats($b, 1, only_free => true)}, 'shop'), '20', 'browse_seats');

# The waiting room on shard 1: admitted, the pass from the router works at its hold.
on($shards[1], qq{UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 second' WHERE concert_id = $b});
is(r(qq{SELECT ticket.admit($b)}, 'boss'), '2', 'admit through the router');
my $pass = r(qq{SELECT pass_token FROM ticket.queue_status($b, 'fan')}, 'shop');
ok(length($pass) > 20, 'queue_status gives the pass');
like(r(qq{SELECT ticket.check_pass('$pass', $b, 'fan')}, 'boss'), qr/^\d+$/, 'check_pass accepts it');
my $hb = r(qq{SELECT hold_id FROM ticket.hold($b, 'fan', ARRAY[1, 2], pass => '$pass')}, 'shop');
is($hb, '1000000000001', 'a hold on shard 1 with the pass; its id names shard 1');
my $ha = r(qq{SELECT hold_id FROM ticket.hold_best($a, 'fan', 1, 2)}, 'shop');
is($ha, '1', 'hold_best on shard 0');
my $hx = r(qq{SELECT hold_id FROM ticket.hold($a, 'fan', ARRAY[20])}, 'shop');
is(r(qq{SELECT ticket.release($hx, 'fan')}, 'shop'), 'released', 'release by hold id, on its shard');

# Checkout on both shards; the same key again is the same order.
my $oa = r(qq{SELECT order_id FROM ticket.checkout($ha, 'fan', 'fan-a')}, 'shop');
my $ob = r(qq{SELECT order_id FROM ticket.checkout($hb, 'fan', 'fan-b')}, 'shop');
is(r(qq{SELECT order_id || ' ' || status FROM ticket.checkout($hb, 'fan', 'fan-b')}, 'shop'), "$ob pending",
	'checkout replayed with its key: the same order');
is("$oa $ob", '1 1000000000001', 'orders get their shard\'s ids');

# The adapter: claims from both shards, one batch of results across them.
my @jobs = split /\n/, r(q{SELECT payment_id || ' ' || concert_id FROM ticket.claim_payments('psp', 10) ORDER BY payment_id}, 'psp');
is(scalar(@jobs), 2, 'claim_payments: a job from each shard');
my @pids = map { (split / /)[0] } @jobs;
is(r(qq{SELECT string_agg(payment_id || ' ' || status, ', ' ORDER BY payment_id) FROM ticket.report_payments(
	'[{"payment_id": $pids[0], "outcome": "succeeded", "provider_ref": "ch-a"},
	  {"payment_id": $pids[1], "outcome": "succeeded", "provider_ref": "ch-b"}]')}, 'psp'),
	"$pids[0] paid, $pids[1] paid", 'report_payments: one batch, each result on its shard');
is(r(qq{SELECT order_id || ' ' || status FROM ticket.order_status($ob, 'fan')}, 'shop'), "$ob paid", 'order_status on shard 1');

# A third order, unpaid, compensated through the router (CALL and the steps).
my $h3 = r(qq{SELECT hold_id FROM ticket.hold($a, 'kim', ARRAY[10])}, 'shop');
my $o3 = r(qq{SELECT order_id FROM ticket.checkout($h3, 'kim', 'kim-a')}, 'shop');
r(qq{CALL ticket.compensate($o3, 'box office')}, 'boss');
is(r(qq{SELECT status FROM ticket.order_status($o3, 'kim')}, 'shop'), 'cancelled', 'CALL ticket.compensate through the router');
my $gpass = r(qq{SELECT pass_token FROM ticket.queue_status($b, 'gus')}, 'shop');
my $h4 = r(qq{SELECT hold_id FROM ticket.hold($b, 'gus', ARRAY[5], pass => '$gpass')}, 'shop');
my $o4 = r(qq{SELECT order_id FROM ticket.checkout($h4, 'gus', 'gus-b')}, 'shop');
my $saga = r(qq{SELECT ticket.start_compensation($o4, 'box office')}, 'boss');
like($saga, qr/^1000000000\d{3}$/, 'start_compensation on shard 1: a saga of shard 1');
r(qq{SELECT ticket.compensation_step($saga); SELECT ticket.compensation_step($saga); SELECT ticket.compensation_step($saga);}, 'boss');
is(r(qq{SELECT status FROM ticket.order_status($o4, 'gus')}, 'shop'), 'cancelled', 'compensation_step by saga id');
my $pf = on($shards[1], qq{SELECT payment_id FROM ticket.payment WHERE order_id = $o4});
is(r(qq{SELECT ticket.payment_failed($pf, 'late')}, 'psp') =~ /\w/ ? 1 : 0, 1, 'payment_failed by payment id');
is(r(qq{SELECT ticket.payment_succeeded($pf, 'x')}, 'psp') =~ /\w/ ? 1 : 0, 1, 'payment_succeeded by payment id');

# The buyer's pages: merged over shards without a concert, one shard with one.
is(r(q{SELECT string_agg(hold_id::text, ' ') FROM ticket.my_holds('fan')}, 'shop'),
	"$hb $hx $ha", 'my_holds across shards, by id (a shard after another)');
is(r(q{SELECT string_agg(hold_id::text, ' ') FROM ticket.my_holds('fan', max_rows => 2)}, 'shop'), "$hb $hx", 'my_holds: max_rows over all shards');
is(r(qq{SELECT string_agg(hold_id::text, ' ') FROM ticket.my_holds('fan', before_hold_id => $hb)}, 'shop'), "$hx $ha", 'my_holds: the next page');
is(r(qq{SELECT string_agg(hold_id::text, ' ') FROM ticket.my_holds('fan', $a)}, 'shop'), "$hx $ha", 'my_holds of one concert');
is(r(q{SELECT string_agg(order_id || ' ' || state, ', ') FROM ticket.my_orders('fan')}, 'shop'),
	"$ob paid, $oa paid", 'my_orders across shards');
is(r(qq{SELECT string_agg(order_id::text, ' ') FROM ticket.my_orders('fan', $b)}, 'shop'), "$ob", 'my_orders of one concert');

# A buyer's cancellation on shard 0 refunds through the adapter.
like(r(qq{SELECT status || ' ' || refund FROM ticket.cancel_order($oa, 'fan', 'fan-c', ARRAY[1])}, 'shop'), qr/^\w+ 45\.00$/,
	'cancel_order: one seat given back, refunded');

# Events: one cursor per shard.
is(r(q{SELECT ticket.publish_events()}, 'boss') > 0 ? 1 : 0, 1, 'publish_events on every shard');
my $ev0 = r(q{SELECT count(*) FROM ticket.events_since(0)}, 'boss');
my $ev1 = r(q{SELECT count(*) FROM ticket.events_since(1000000000000)}, 'boss');
is($ev0, on($shards[0], q{SELECT count(*) FROM ticket.event WHERE event_id IS NOT NULL}), 'events_since(0): shard 0\'s events');
is($ev1, on($shards[1], q{SELECT count(*) FROM ticket.event WHERE event_id IS NOT NULL}), 'events_since(10^12): shard 1\'s events');
is(r(qq{SELECT count(*) FROM ticket.events_since(0, of_concert => $b)}, 'psp'), $ev1, 'events_since of a concert: its shard');
is(r(q{SELECT bool_and(event_id > 1000000000000) FROM ticket.my_events('fan', 1000000000000)}, 'shop'), 't', 'my_events from shard 1\'s cursor');
is(r(q{SELECT bool_and(event_id < 1000000000000) FROM ticket.my_events('fan')}, 'shop'), 't', 'my_events from 0: shard 0');

# The box office and the operators.
is(r(q{SELECT count(*) FROM ticket.verify()}, 'boss'), '0', 'verify() on every shard: empty');
is(r(qq{SELECT sum(sold) FROM ticket.sales_by_section($b)}, 'boss'), '2', 'sales_by_section');
is(r(qq{SELECT sum(orders) FROM ticket.sales_by_hour($b)}, 'boss'), '1', 'sales_by_hour');
ok(r(q{SELECT count(DISTINCT concert_id) FROM ticket.user_history('fan')}, 'boss') == 2, 'user_history across shards');
is(r(q{SELECT ticket.block_user('troll', 'spam'), ticket.unblock_user('troll')}, 'boss'), '0|t', 'block_user and unblock_user on every shard');
like(r(q{SELECT ticket.rotate_pass_key()}, 'boss'), qr/^\d+$/, 'rotate_pass_key on every shard');
like(r(q{SELECT ticket.maintenance('expire_holds')}, 'boss'), qr/^\d+$/, 'maintenance on every shard');
like(r(q{SELECT ticket.admit_scheduled()}, 'boss'), qr/^\d+$/, 'admit_scheduled on every shard');
r(q{CALL ticket.run_admission(1)}, 'boss');
is(r(qq{SELECT ticket.pause_admission($b), ticket.resume_admission($b)}, 'boss'), 't|t', 'pause and resume admission');
like(r(qq{SELECT count(*) FROM ticket.draw_order($b, '\\x00')}, 'boss'), qr/^\d+$/, 'draw_order');
r(qq{SELECT ticket.challenge($b, 'someone'); SELECT ticket.leave_queue($b, 'fan')}, 'shop');
r(qq{SELECT ticket.retry_dead_refunds($a)}, 'boss');
on($shards[1], q{CREATE EXTENSION pg_cron; GRANT USAGE ON SCHEMA cron TO ticket_admin;});
like(r(qq{SELECT ticket.schedule_admission($b)}, 'boss'), qr/^\d+$/, 'schedule_admission: a pg_cron job on the concert\'s shard');
is(on($shards[1], q{SELECT count(*) FROM cron.job}), '1', 'the job is on shard 1');
is(r(qq{SELECT ticket.unschedule_admission($b)}, 'boss'), 't', 'unschedule_admission');
my $refund = on($shards[0], q{SELECT payment_id FROM ticket.payment WHERE kind = 'refund'});
like(r(qq{SELECT ticket.retry_dead($refund)}, 'boss'), qr/^\w+$/, 'retry_dead of a refund that is not dead: its state');
is(r(q{SELECT count(*) FROM ticket.concerts}, 'boss'), '2', 'view concerts: both shards');
is(r(q{SELECT count(*) FROM ticket.sections}, 'boss'), '3', 'view sections');
is(r(q{SELECT count(*) FROM ticket.queues}, 'boss'), '1', 'view queues');
is(r(q{SELECT count(*) FROM ticket.dashboard}, 'watch'), '2', 'view dashboard, for the monitor');
is(r(q{SELECT count(DISTINCT labels->>'shard') FROM ticket.metrics()}, 'watch'), '2', 'metrics: each shard\'s, labelled');
is(r(q{SELECT count(*) > 0 FROM ticket.health() WHERE detail LIKE 'shard 1: %'}, 'watch'), 't', 'health: each shard\'s checks, named');
is(r(q{SELECT string_agg(ok || ' ' || detail, '; ' ORDER BY detail) FROM ticket.health() WHERE check_name = 'partition is its shard'}, 'watch'),
	'true shard 0: partition p0 is the database of set_shard(0); true shard 1: partition p1 is the database of set_shard(1)',
	'health: each partition pk is the database of set_shard(k)');

# A partition list out of shard order: create_concert refuses before it
# writes anything (a concert made there would be routed elsewhere), and
# health says which partition is wrong.
{
	my $concerts = sub { join ' ', r(q{SELECT count(*) FROM ticket_router.concert_shard}), map { on($_, q{SELECT count(*) FROM ticket.concert}) } @shards };
	my $before = $concerts->();
	r(sprintf(q{ALTER SERVER ticket_shards OPTIONS (SET p0 '%s', SET p1 '%s')}, $connstr->($shards[1]), $connstr->($shards[0])));
	($ret, $out, $err) = $router->psql('postgres', q{\set VERBOSITY verbose
SELECT ticket.create_concert('Swapped', now() + interval '30 days', now())}, extra_params => [ '-U', 'boss' ]);
	like($err, qr/ERROR:  55000: partition p0 of server ticket_shards is shard 1, not shard 0.*HINT:  List the partitions in shard order/s,
		'partitions out of order: create_concert refuses (55000) and says how to list them');
	is($concerts->(), $before, 'and nothing was created, neither in the directory nor on a shard');
	is(r(q{SELECT string_agg(ok::text, ' ') FROM ticket.health() WHERE check_name = 'partition is its shard'}, 'watch'), 'false false',
		'health shows both partitions wrong');
	r(sprintf(q{ALTER SERVER ticket_shards OPTIONS (SET p0 '%s', SET p1 '%s')}, $connstr->($shards[0]), $connstr->($shards[1])));
}
{
	my %sum;
	foreach my $n (@shards)
	{
		foreach (split /\n/, on($n, q{SELECT counter || ' ' || value FROM ticket.counters()})) { my ($c, $v) = split / /; $sum{$c} += $v; }
	}
	is(r(q{SELECT string_agg(counter || ' ' || value, ', ' ORDER BY counter) FROM ticket.counters()}, 'watch'),
		join(', ', map { "$_ $sum{$_}" } sort keys %sum), 'counters: each summed over the shards');
}
is(r(q{SELECT ticket.preloaded()}, 'watch'), 't', 'preloaded on every shard');
r(qq{SELECT ticket.close_sale($b); SELECT ticket.cancel_concert($b);}, 'boss');
is(r(q{SELECT count(*) FROM ticket.verify()}, 'boss'), '0', 'verify() after a concert cancelled');

# Every function of the router was called in this test.
is(r(q{SELECT string_agg(p.proname, ', ' ORDER BY p.proname) FROM pg_proc AS p
	LEFT JOIN pg_stat_user_functions AS s ON s.funcid = p.oid
	WHERE p.pronamespace = 'ticket'::regnamespace AND COALESCE(s.calls, 0) = 0 AND p.proname NOT IN ('compensate', 'run_admission')}),
	'', 'every function of the router was called through it');

# ------------------------------------------------------------- bad input

# The SQLSTATE of a statement run on its own (ok when it succeeds).
sub sqlstate
{
	my ($n, $q) = @_;
	my ($rc, $o, $e) = $n->psql('postgres', "\\set VERBOSITY verbose\n$q");
	return 'ok' if $rc == 0;
	return $e =~ /ERROR:  ([0-9A-Z]{5}):/ ? $1 : "?? $e";
}

# Every function with all its arguments NULL, then bad values by hand.
my @bad = split /\n/, on($shards[0], q{
SELECT format('SELECT * FROM ticket.%I(%s)', p.proname,
	(SELECT string_agg('NULL::' || format_type(t, NULL), ', ') FROM unnest(p.proargtypes) AS t))
  FROM pg_proc AS p WHERE p.pronamespace = 'ticket'::regnamespace AND p.proname !~ '^_' AND p.prokind = 'f'
   AND p.proname <> 'set_shard' AND p.pronargs > 0 ORDER BY 1});
push @bad, (
	qq{SELECT ticket.create_concert('', now() + interval '1 day', now())},
	qq{SELECT ticket.add_section($a, 'X', 'A', -1, 1, 1)},
	qq{SELECT ticket.hold($a, 'u', ARRAY[99999])},
	qq{SELECT ticket.hold(999, 'u', ARRAY[1])},
	qq{SELECT ticket.hold(1000000000999, 'u', ARRAY[1])},
	qq{SELECT ticket.hold($b, 'u', ARRAY[3])},
	qq{SELECT ticket.hold_best($a, 'u', 1, 0)},
	qq{SELECT ticket.checkout(999999, 'u', 'k')},
	qq{SELECT ticket.checkout(1000000999999, 'u', 'k')},
	qq{SELECT ticket.checkout($hb, 'someone else', 'k')},
	qq{SELECT ticket.release(5000000000005, 'u')},
	qq{SELECT ticket.cancel_order(424242, 'u', 'k')},
	qq{SELECT ticket.payment_succeeded(1000000424242, 'x')},
	qq{SELECT ticket.report_payments('{}')},
	qq{SELECT ticket.report_payments('[]')},
	qq{SELECT ticket.report_payments('[{"payment_id": "x", "outcome": "succeeded"}]')},
	qq{SELECT ticket.report_payments('[{"payment_id": 1000000424242, "outcome": "succeeded", "provider_ref": "r"}]')},
	qq{SELECT ticket.report_payments('[{"payment_id": $pids[1], "outcome": "maybe"}]')},
	qq{SELECT ticket.report_payments((SELECT jsonb_agg(jsonb_build_object('payment_id', g, 'outcome', 'succeeded', 'provider_ref', 'r')) FROM generate_series(1, 1001) AS g))},
	qq{SELECT ticket.events_since(-1)},
	qq{SELECT ticket.check_pass('garbage', $b, 'u')},
	qq{SELECT ticket.my_holds('u', max_rows => 0)},
	qq{SELECT ticket.my_orders('u', max_rows => 100000)},
	qq{SELECT ticket.user_history('u', 0)},
	qq{SELECT ticket.maintenance('nope')},
	qq{SELECT ticket.rotate_pass_key('-1 hour')},
	qq{SELECT ticket.claim_payments('psp', 0)},
	qq{SELECT ticket.join_queue($a, 'u')},
	qq{CALL ticket.run_admission(0)},
	qq{CALL ticket.run_admission(NULL)},
	qq{CALL ticket.compensate(NULL, 'x')});

my ($same, @differ) = (0);
foreach my $q (@bad)
{
	my $id = $q =~ /\((\d{13})/ ? $1 : 0;
	my $shard = $shards[ $id >= 1000000000000 && $id < 2000000000000 ? 1 : 0 ];
	my $via = sqlstate($router, $q);
	my $direct = sqlstate($shard, $q);
	if ($via eq $direct) { $same++; } else { push @differ, "$q: router $via, shard $direct"; }
}
is(join("\n", @differ), '', "bad input: the same SQLSTATE through the router as on the shard ($same statements)");

# The message comes through, named by function and shard.
($ret, $out, $err) = $router->psql('postgres', qq{SELECT ticket.hold($a, 'u', ARRAY[99999])});
like($err, qr/ERROR:  ticket\.hold\(\d+\): \[.*\] REMOTE ERROR: seat 99999 does not belong to concert 1/,
	'the shard\'s message, after the function and the shard it ran on');

# ------------------------------------------------------------- upgrade

# ticket_router 0.8, updated, has the same objects as a fresh install.
my $objects = q{
SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') '
	|| md5(pg_get_functiondef(p.oid)) || ' ' || COALESCE(obj_description(p.oid, 'pg_proc'), '-') || ' '
	|| COALESCE((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(p.proacl) AS x), '-')
  FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
 WHERE n.nspname IN ('ticket', 'ticket_router', 'plproxy')
UNION ALL
SELECT c.oid::regclass::text || ' ' || c.relkind::text || ' ' || COALESCE(pg_get_viewdef(c.oid), '') || ' '
	|| COALESCE((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(c.relacl) AS x), '-')
  FROM pg_class AS c WHERE c.relnamespace IN ('ticket'::regnamespace, 'ticket_router'::regnamespace)
ORDER BY 1};
$router->safe_psql('postgres', 'CREATE DATABASE updated');
$router->safe_psql('updated', q{CREATE EXTENSION ticket_router VERSION '0.8' CASCADE; ALTER EXTENSION ticket_router UPDATE});
my $current = $router->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'ticket_router'});
is($router->safe_psql('updated', q{SELECT extversion FROM pg_extension WHERE extname = 'ticket_router'}), $current,
	"ticket_router 0.8 updates to $current");
my $fresh = $router->safe_psql('postgres', $objects);
is($router->safe_psql('updated', $objects), $fresh, 'updated from 0.8, it has the same functions, views, comments and grants as a fresh install');

done_testing();
