# Upgrades: the released 0.1 is installed, a sale is run in it (concerts,
# a waiting room with passes, holds, orders paid, declined and pending,
# compensations, events, a blocked user), and ALTER EXTENSION ticket UPDATE
# takes it to the current version with hostile objects planted around it.
# Afterwards: every row is still there, unchanged; nothing planted ran; the
# objects are those of a fresh install; and the sale carries on (a pending
# payment is reported, new holds, the worker expires, verify() is empty).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
ticket.database = 'postgres'
ticket.worker_interval = '200ms'
ticket.user_rate = 0
ticket.client_rate = 0
});
# The worker waits until the data has been compared: it would expire and
# publish while the test looks.
$node->append_conf('postgresql.conf', "ticket.worker = off\n");
$node->start;

sub query { return $node->safe_psql('postgres', shift); }
sub wait_until
{
	my ($sql, $what) = @_;
	ok($node->poll_query_until('postgres', $sql), $what);
}

my $current = query(q{SELECT default_version FROM pg_available_extensions WHERE name = 'ticket'});
my @versions = split /\n/, query(q{SELECT version FROM pg_available_extension_versions WHERE name = 'ticket' ORDER BY version});
ok((grep { $_ eq '0.1' } @versions), "the released 0.1 is available (versions: @versions; default $current)");
isnt($current, '0.1', 'the default version is newer than 0.1');
is(query(q{SELECT count(*) FROM pg_extension_update_paths('ticket') WHERE source = '0.1' AND target = }
		. $node->safe_psql('postgres', "SELECT quote_literal('$current')") . q{ AND path IS NOT NULL}),
	'1', "there is an update path from 0.1 to $current");

query(q{CREATE EXTENSION ticket VERSION '0.1'});
is(query(q{SELECT extversion FROM pg_extension WHERE extname = 'ticket'}), '0.1', 'installed as 0.1');

# A sale in 0.1.  Concert 1: plain, 200 seats; concert 2: a waiting room.
query(q{
SELECT ticket.create_concert('Old Tour', now() + interval '30 days', now() - interval '1 day',
	hold_ttl => '10 minutes', payment_timeout => '10 minutes', per_user_limit => 4);
SELECT ticket.add_section(1, 'Floor', 'A', 40, 10, 20);
SELECT ticket.open_sale(1);
SELECT ticket.create_concert('Old Queue', now() + interval '30 days', now() - interval '1 day',
	queue => true, admit_rate => 5);
SELECT ticket.add_standing(2, 'Pit', 'GA', 25, 100);
SELECT count(*) FROM generate_series(1, 30) AS i, ticket.join_queue(2, 'fan' || i);
SELECT ticket.open_sale(2);
SELECT count(*) FROM generate_series(1, 40) AS i,
	ticket.checkout((ticket.hold(1, 'buyer' || i, ARRAY[2 * i - 1, 2 * i])).hold_id, 'buyer' || i, 'key' || i);
SELECT count(*) FROM generate_series(41, 50) AS i, ticket.hold(1, 'holder' || i, ARRAY[i + 50]);
SELECT ticket.block_user('scalper', 'bots');
});
# Admission goes by the clock (admit_rate a second since the last step).
wait_until(q{SELECT ticket.admit(2) > 0}, 'fans are admitted in 0.1');
my ($fan, $pass) = split /\|/, query(q{SELECT s.user_id, s.pass FROM generate_series(1, 30) AS i,
	ticket.queue_status(2, 'fan' || i) AS s WHERE s.pass IS NOT NULL ORDER BY i LIMIT 1});
ok($pass, "an admitted fan ($fan) got a pass in 0.1");
is(query(qq{SELECT status FROM ticket.hold_best(2, '$fan', 1, 2, false, NULL, NULL, '$pass')}), 'held',
	'and held with it');
# Payments: 20 paid, 10 declined (compensated), 10 left pending.
query(q{
SELECT count(*) FROM ticket.claim_payments('old-adapter', 40, lease => '1 second') AS j,
	LATERAL (SELECT CASE WHEN j.order_id % 4 IN (1, 2) THEN ticket.payment_succeeded(j.payment_id, 'ref' || j.payment_id)
	                     WHEN j.order_id % 4 = 3 THEN ticket.payment_failed(j.payment_id, 'declined', false) END) AS r;
SELECT count(*) FROM ticket.saga AS s, ticket.compensation_step(s.saga_id) WHERE s.state = 'running';
SELECT ticket.publish_events(1000);
});
my $orders = query(q{SELECT string_agg(state::text || '=' || n, ' ' ORDER BY state) FROM
	(SELECT state, count(*) AS n FROM ticket.orders GROUP BY state) s});
note("orders in 0.1: $orders");
like($orders, qr/paid=20/, '20 orders paid in 0.1');
like($orders, qr/pending/, 'some left pending across the upgrade');
is(query('SELECT count(*) FROM ticket.verify()'), '0', 'verify() is empty before the upgrade');

# Every row of every table of the extension, as text: what must survive.
my @tables = split /\n/, query(q{SELECT c.oid::regclass FROM pg_class c
	JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
	JOIN pg_extension x ON x.oid = d.refobjid AND x.extname = 'ticket'
	WHERE c.relkind = 'r' ORDER BY 1::text});
# The columns each table has now: a later version may add columns (0.3 adds
# flow-control columns to ticket.queue), and the rows are compared on these.
my %columns = map {
	my $t = $_;
	($t => query(qq{SELECT string_agg('x.' || quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
		WHERE attrelid = '$t'::regclass AND attnum > 0 AND NOT attisdropped}))
} @tables;
sub contents
{
	my %c;
	for my $t (@tables)
	{
		$c{$t} = query(qq{SELECT count(*) || ' ' || md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), ''))
			FROM $t AS x, LATERAL (SELECT ROW($columns{$t})) AS y (r)});
	}
	return \%c;
}
my $before = contents();
my $rows = 0;
$rows += (split / /, $before->{$_})[0] for @tables;
note("rows before the upgrade: $rows in " . scalar(@tables) . " tables");

# Hostile objects, planted by a role that may create in public and in the
# installing session's pg_temp: look-alikes of built-ins with closer
# argument types, and temporary tables named like the extension's.  Each
# look-alike records that it ran.
query(q{
CREATE ROLE mallory LOGIN;
GRANT CREATE ON SCHEMA public TO mallory;
CREATE TABLE public.trap (what text, who text DEFAULT current_user);
GRANT INSERT, SELECT ON public.trap TO PUBLIC;
});
$node->safe_psql('postgres', q{
CREATE FUNCTION public.trapped(what text) RETURNS boolean LANGUAGE sql
	AS $$ INSERT INTO public.trap (what) VALUES (what) RETURNING true $$;
CREATE FUNCTION public.mul(numeric, integer) RETURNS numeric LANGUAGE sql
	AS $$ SELECT CASE WHEN public.trapped('*') THEN $1 * $2::numeric END $$;
CREATE OPERATOR public.* (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = public.mul);
CREATE FUNCTION public.cat(text, integer) RETURNS text LANGUAGE sql
	AS $$ SELECT CASE WHEN public.trapped('||') THEN $1 || $2::text END $$;
CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = integer, FUNCTION = public.cat);
CREATE FUNCTION public.count(bigint) RETURNS bigint LANGUAGE sql
	AS $$ SELECT CASE WHEN public.trapped('count') THEN 1::bigint END $$;
CREATE FUNCTION public.format(text, bigint) RETURNS text LANGUAGE sql
	AS $$ SELECT CASE WHEN public.trapped('format') THEN $1 END $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql
	AS $$ SELECT CASE WHEN public.trapped('now') THEN pg_catalog.now() END $$;
}, extra_params => [ '-U', 'mallory' ]);
query(q{ALTER DATABASE postgres SET search_path = public, pg_catalog});

my ($out, $err) = ('', '');
$node->psql('postgres', qq{
CREATE TEMP TABLE concert (concert_id bigint, title text);
CREATE TEMP TABLE seat (concert_id bigint, seat_id integer, state text);
CREATE TEMP TABLE hold (hold_id bigint);
CREATE TEMP TABLE orders (order_id bigint);
CREATE TEMP TABLE payment (payment_id bigint);
INSERT INTO concert VALUES (1, 'decoy');
ALTER EXTENSION ticket UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'ticket';
SELECT count(*) || ' ' || min(title) FROM pg_temp.concert;
}, stdout => \$out, stderr => \$err, on_error_stop => 1);
is($err, '', 'ALTER EXTENSION ticket UPDATE ran without an error');
is($out, "$current\n1 decoy", "updated to $current; the session's decoy tables were not touched");
is(query('SELECT count(*) FROM public.trap'), '0', 'no planted look-alike ran during the update');

my $after = contents();
is_deeply($after, $before, 'every row of every table is there, unchanged');
is(query('SELECT count(*) FROM ticket.verify()'), '0', 'verify() is empty after the update');

# The objects are those of a fresh install of the current version, whose
# script is built from src/*.sql (Makefile): every rule written once there
# must come out as the released chain of update scripts made it.
sub objects
{
	my ($db) = @_;
	# Functions (definition with its settings, grants), relations (kind, grants,
	# options, columns with types, defaults and comments, constraints,
	# indexes, triggers and whether they fire in replica mode, view queries,
	# sequence parameters), types (enum labels, composite attributes), and
	# every object's comment.
	return $node->safe_psql($db, q{
SET search_path = pg_catalog;
SELECT pg_describe_object(d.classid, d.objid, 0) || ' ' || md5(concat_ws('|',
	CASE WHEN d.classid = 'pg_proc'::regclass THEN pg_get_functiondef(d.objid) END,
	CASE WHEN d.classid = 'pg_proc'::regclass THEN (SELECT proacl::text FROM pg_proc WHERE oid = d.objid) END,
	CASE WHEN d.classid = 'pg_class'::regclass THEN (SELECT relkind::text || coalesce(relacl::text, '') || coalesce(reloptions::text, '') FROM pg_class WHERE oid = d.objid) END,
	CASE WHEN d.classid = 'pg_class'::regclass THEN (
		SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull
			|| coalesce(' ' || pg_get_expr(ad.adbin, ad.adrelid), '') || coalesce(' ' || col_description(a.attrelid, a.attnum), ''), ', ' ORDER BY a.attnum)
		  FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
		 WHERE a.attrelid = d.objid AND a.attnum > 0 AND NOT a.attisdropped) END,
	CASE WHEN d.classid = 'pg_class'::regclass THEN (
		SELECT string_agg(pg_get_constraintdef(co.oid), ', ' ORDER BY co.conname)
		  FROM pg_constraint co WHERE co.conrelid = d.objid) END,
	CASE WHEN d.classid = 'pg_class'::regclass THEN (
		SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY pg_get_indexdef(i.indexrelid))
		  FROM pg_index i WHERE i.indrelid = d.objid) END,
	CASE WHEN d.classid = 'pg_class'::regclass THEN (
		SELECT string_agg(pg_get_triggerdef(tg.oid) || ' ' || tg.tgenabled::text, ', ' ORDER BY tg.tgname)
		  FROM pg_trigger tg WHERE tg.tgrelid = d.objid AND NOT tg.tgisinternal) END,
	CASE WHEN d.classid = 'pg_class'::regclass AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'v'
	     THEN pg_get_viewdef(d.objid) END,
	CASE WHEN d.classid = 'pg_class'::regclass AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S'
	     THEN (SELECT concat_ws(' ', seqtypid::regtype, seqstart, seqincrement, seqmax, seqmin, seqcache, seqcycle) FROM pg_sequence WHERE seqrelid = d.objid) END,
	CASE WHEN d.classid = 'pg_type'::regclass THEN (
		SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = d.objid) END,
	CASE WHEN d.classid = 'pg_type'::regclass THEN (
		SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
		  FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
		 WHERE t.oid = d.objid) END,
	obj_description(d.objid, d.classid::regclass::text)))
  FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid AND x.extname = 'ticket'
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
 ORDER BY 1;
});
}
query('CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION ticket');
my ($upgraded, $fresh) = (objects('postgres'), objects('fresh'));
my @members = split /\n/, $fresh;
ok(@members > 100, scalar(@members) . ' objects in a fresh install');
is($upgraded, $fresh, 'the updated install has the same objects, definitions, grants and comments as a fresh one');

# The sale carries on after the update.
query(q{ALTER DATABASE postgres RESET search_path});
# The adapter of 0.1 claimed the pending ones and went away: once its
# lease is over, a new adapter takes them and reports them paid.
wait_until(q{SELECT (SELECT count(*) FROM ticket.claim_payments('new-adapter', 100) AS j,
		LATERAL ticket.payment_succeeded(j.payment_id, 'late' || j.payment_id)) >= 0
	AND NOT EXISTS (SELECT FROM ticket.orders WHERE state = 'pending')},
	'the payments left pending in 0.1 are reported after the update');
is(query(q{SELECT count(*) FROM ticket.orders WHERE state = 'pending'}), '0', 'no order is left pending');
is(query(q{SELECT status FROM ticket.hold(1, 'newcomer', ARRAY[190, 191])}), 'held', 'a new hold is taken');
is(query(q{SELECT status FROM ticket.hold(1, 'newcomer2', ARRAY[2])}), 'taken', 'a seat sold in 0.1 stays sold');
is(query(qq{SELECT ticket.check_pass('$pass', 2, '$fan') > 0}), 't', 'a pass signed by 0.1 is still valid');
query(q{UPDATE ticket.hold SET expires_at = now() - interval '1 second' WHERE user_id = 'newcomer'});
query(q{ALTER SYSTEM SET ticket.worker = on; SELECT pg_reload_conf()});
wait_until(q{SELECT state = 'expired' FROM ticket.hold WHERE user_id = 'newcomer'},
	'the worker expires a hold made after the update');
wait_until(q{SELECT count(*) = 0 FROM ticket.event WHERE event_id IS NULL}, 'and publishes every event');
is(query('SELECT count(*) FROM ticket.verify()'), '0', 'verify() is empty at the end');
is(query('SELECT count(*) FROM public.trap'), '0', 'no planted look-alike ran at any point');

$node->stop;
done_testing();
