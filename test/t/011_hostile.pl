# Hostile objects planted before CREATE EXTENSION.  A role that may create in
# public plants look-alikes of built-ins with closer argument types (each
# records that it ran) and makes them first in the database's search_path;
# the installing session has temporary tables named like the extension's;
# and a schema "ticket" made by that role must stop the install.  Then:
# nothing planted ran (during the install, in the worker, in the procedures
# that cannot pin search_path), nothing of the extension depends on a
# planted object, and the decoys are untouched.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hostile');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
ticket.database = 'postgres'
ticket.worker_interval = '100ms'
ticket.user_rate = 0
ticket.client_rate = 0
});
$node->start;

# The test's own statements run with a safe search_path; the database's
# default (set to mallory's public first, below) is what the worker, pg_cron
# and hostile_query() get.
sub query { return $node->safe_psql('postgres', 'SET search_path = pg_catalog; ' . shift); }
sub hostile_query { return $node->safe_psql('postgres', shift); }
sub as_mallory { return $node->safe_psql('postgres', shift, extra_params => [ '-U', 'mallory' ]); }
sub wait_until
{
	my ($sql, $what) = @_;
	ok($node->poll_query_until('postgres', $sql), $what);
}

# mallory: may create in public and in the database (as on a cluster where
# public was never locked down).
query(q{
CREATE ROLE mallory LOGIN;
GRANT CREATE ON SCHEMA public TO mallory;
GRANT CREATE ON DATABASE postgres TO mallory;
CREATE TABLE public.trap (what text, who text DEFAULT current_user);
GRANT INSERT, SELECT ON public.trap TO PUBLIC;
});

# 1. A schema "ticket" of mallory's, with a function in it waiting for calls.
as_mallory(q{
CREATE SCHEMA ticket;
CREATE FUNCTION ticket.hold(bigint, text, integer[]) RETURNS text LANGUAGE sql
	AS $$ INSERT INTO public.trap (what) VALUES ('ticket.hold') RETURNING 'held' $$;
});
my ($ret, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION ticket', extra_params => [ '-v', 'VERBOSITY=verbose' ]);
isnt($ret, 0, "CREATE EXTENSION refuses a schema \"ticket\" someone else made");
like($err, qr/ERROR:  42P06: schema "ticket" already exists and was not made for this extension/, 'with 42P06');
like($err, qr/It is owned by mallory/, 'naming its owner');
is(query(q{SELECT count(*) FROM pg_extension WHERE extname = 'ticket'}), '0', 'nothing is installed');
is(query(q{SELECT count(*) FROM pg_class WHERE relnamespace = 'ticket'::regnamespace}), '0',
	'and nothing was created in the schema');
as_mallory('DROP SCHEMA ticket CASCADE');

# 2. Look-alikes of built-ins in public, with argument types closer than
# pg_catalog's, first in the database's search_path: the worker's deadline
# arithmetic (numeric * integer), concatenation, count, format, now.
as_mallory(q{
CREATE FUNCTION public.trapped(what text) RETURNS boolean LANGUAGE sql
	AS $$ INSERT INTO public.trap (what) VALUES (what) RETURNING true $$;
CREATE FUNCTION public.mul(numeric, integer) RETURNS numeric LANGUAGE sql
	AS $$ SELECT CASE WHEN public.trapped('numeric * integer') THEN $1 OPERATOR(pg_catalog.*) $2::numeric END $$;
CREATE OPERATOR public.* (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = public.mul);
CREATE FUNCTION public.cat(text, integer) RETURNS text LANGUAGE sql
	AS $$ SELECT CASE WHEN public.trapped('text || integer') THEN $1 OPERATOR(pg_catalog.||) $2::text END $$;
CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = integer, FUNCTION = public.cat);
CREATE FUNCTION public.ceil(numeric) RETURNS numeric LANGUAGE sql
	AS $$ SELECT CASE WHEN public.trapped('ceil') THEN pg_catalog.ceil($1) END $$;
CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE sql
	AS $$ SELECT CASE WHEN public.trapped('clock_timestamp') THEN pg_catalog.clock_timestamp() END $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql
	AS $$ SELECT CASE WHEN public.trapped('now') THEN pg_catalog.now() END $$;
CREATE FUNCTION public.count(bigint) RETURNS bigint LANGUAGE sql
	AS $$ SELECT CASE WHEN public.trapped('count') THEN 1::bigint END $$;
CREATE FUNCTION public.format(text, bigint) RETURNS text LANGUAGE sql
	AS $$ SELECT CASE WHEN public.trapped('format') THEN $1 END $$;
});
query(q{ALTER DATABASE postgres SET search_path = public, pg_catalog});
is(hostile_query(q{SELECT now() IS NOT NULL; SELECT count(*) FROM public.trap WHERE what = 'now'}), "t\n1",
	'the look-alikes do capture an unqualified call in this database');
query('TRUNCATE public.trap');

# 3. CREATE EXTENSION from a session holding decoy temporary tables named
# like the extension's relations.
($ret, $out, $err) = $node->psql('postgres', q{
SET search_path = pg_catalog;
CREATE EXTENSION pg_cron;
CREATE TEMP TABLE concert (concert_id bigint, title text);
CREATE TEMP TABLE section (concert_id bigint, section_id integer);
CREATE TEMP TABLE seat (concert_id bigint, seat_id integer);
CREATE TEMP TABLE pass_key (key_id integer, secret bytea);
CREATE TEMP TABLE queue (concert_id bigint);
INSERT INTO concert VALUES (7, 'decoy');
CREATE EXTENSION ticket;
SELECT count(*) || ' ' || min(title) FROM pg_temp.concert;
SELECT count(*) FROM pg_temp.pass_key;
});
is($err, '', 'CREATE EXTENSION ran without an error');
is($out, "1 decoy\n0", 'the decoy tables were not touched');
is(query('SELECT count(*) FROM public.trap'), '0', 'no look-alike ran during CREATE EXTENSION');
is(query('SELECT count(*) FROM ticket.pass_key'), '1', 'the pass key went into ticket.pass_key');

# Nothing of the extension depends on anything mallory owns.
is(query(q{
SELECT count(*) FROM pg_depend d
 WHERE (d.refclassid = 'pg_proc'::regclass AND d.refobjid IN (SELECT oid FROM pg_proc WHERE proowner = 'mallory'::regrole))
    OR (d.refclassid = 'pg_operator'::regclass AND d.refobjid IN (SELECT oid FROM pg_operator WHERE oprowner = 'mallory'::regrole))
}), '2', "the only dependencies on mallory's objects are her own operators' on her functions");
# Everything that lives in schema ticket (functions, types, relations, and
# their defaults, constraints, view rules and triggers) depends only on
# pg_catalog and ticket: nothing was bound to a planted object.
my ($deps, $foreign, $what) = split /\|/, query(q{
WITH ours AS (
	SELECT d.*, (pg_identify_object(d.refclassid, d.refobjid, 0)).schema AS ref_schema
	  FROM pg_depend d
	 WHERE d.deptype = 'n' AND CASE d.classid
		WHEN 'pg_attrdef'::regclass THEN (SELECT c.relnamespace FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid WHERE a.oid = d.objid)
		WHEN 'pg_constraint'::regclass THEN (SELECT connamespace FROM pg_constraint WHERE oid = d.objid)
		WHEN 'pg_rewrite'::regclass THEN (SELECT c.relnamespace FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE r.oid = d.objid)
		WHEN 'pg_trigger'::regclass THEN (SELECT c.relnamespace FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.oid = d.objid)
		WHEN 'pg_class'::regclass THEN (SELECT relnamespace FROM pg_class WHERE oid = d.objid)
		WHEN 'pg_proc'::regclass THEN (SELECT pronamespace FROM pg_proc WHERE oid = d.objid)
		WHEN 'pg_type'::regclass THEN (SELECT typnamespace FROM pg_type WHERE oid = d.objid)
		END = 'ticket'::regnamespace)
SELECT count(*) AS deps, count(*) FILTER (WHERE ref_schema NOT IN ('pg_catalog', 'ticket')) AS foreign_deps,
       string_agg(DISTINCT pg_describe_object(refclassid, refobjid, 0), ', ') FILTER (WHERE ref_schema NOT IN ('pg_catalog', 'ticket')) AS what
  FROM ours
});
ok($deps > 200, "$deps dependencies of the extension's objects recorded");
is($foreign, '0', 'none of them is outside pg_catalog and ticket' . ($what ? " ($what)" : ''));

# 4. The worker runs as superuser with unqualified built-ins in its SQL: it
# must not pick mallory's operator from the database's search_path.
query(q{
SELECT ticket.create_concert('Hostile', now() + interval '30 days', now() - interval '1 day',
	hold_ttl => '1 second', payment_timeout => '2 seconds');
SELECT ticket.add_section(1, 'Floor', 'A', 10, 2, 10);
SELECT ticket.open_sale(1);
SELECT ticket.hold(1, 'victim', ARRAY[1, 2]);
SELECT ticket.checkout((ticket.hold(1, 'payer', ARRAY[3])).hold_id, 'payer', 'k');
});
wait_until(q{SELECT state = 'expired' FROM ticket.hold WHERE user_id = 'victim'},
	'the worker expires a hold under the hostile search_path');
wait_until(q{SELECT state = 'cancelled' FROM ticket.orders WHERE user_id = 'payer'},
	'and times out an unpaid order');
is(query(q{SELECT coalesce(string_agg(DISTINCT what, ', '), 'none') FROM public.trap}), 'none',
	'no look-alike ran in the worker');

# 5. The procedures that COMMIT cannot pin search_path: they name every
# function and operator with its schema.
query(q{
SELECT ticket.create_concert('Queue', now() + interval '30 days', now() - interval '1 day', queue => true);
SELECT ticket.add_standing(2, 'Pit', 'GA', 10, 50);
SELECT ticket.open_sale(2);
SELECT ticket.join_queue(2, 'fan' || i) FROM generate_series(1, 5) AS i;
SELECT ticket.schedule_admission(2);
});
hostile_query(q{CALL ticket.run_admission(1)});
my $order = query(q{SELECT (ticket.checkout((ticket.hold(1, 'later', ARRAY[5])).hold_id, 'later', 'k2')).order_id});
hostile_query(qq{CALL ticket.compensate($order, 'test')});
is(query(qq{SELECT state FROM ticket.orders WHERE order_id = $order}), 'cancelled', 'compensate ran');
is(query(q{SELECT coalesce(string_agg(DISTINCT what, ', '), 'none') FROM public.trap}), 'none',
	'no look-alike ran in ticket.run_admission or ticket.compensate');
is(query('SELECT count(*) FROM ticket.verify()'), '0', 'verify() is empty');

$node->stop;
done_testing();
