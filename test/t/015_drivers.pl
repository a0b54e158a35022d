# A buyer's whole journey from a real driver through pgbouncer in
# transaction pooling (issue 17): psycopg 3 with prepare_threshold=None, two
# clients sharing one server connection and running every statement more
# often than psycopg's default threshold (5) before it prepares by name.
# Only ticket_customer: browse, pick seats by label, hold, check out, read
# the orders (seats as JSON that arrives as Python lists and dicts), cancel,
# read the feed; queue_status as a registered composite (its pass is
# pass_token: "pass" is a Python keyword); a float price needs the cast the
# docs show.  Then verify() is empty.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $pgbouncer = '/usr/sbin/pgbouncer';
# Never skipped: test/run installs pgbouncer and python3-psycopg.
BAIL_OUT("pgbouncer is not installed ($pgbouncer; test/run installs it)") unless -x $pgbouncer;
system('python3', '-c', 'import psycopg') == 0
  or BAIL_OUT('python3-psycopg is not installed (test/run installs it)');

my $node = PostgreSQL::Test::Cluster->new('drivers');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
ticket.worker = off
ticket.user_rate = 0
ticket.catalogue_refresh = 0
});
$node->start;
sub query { return $node->safe_psql('postgres', shift); }

query(q{
CREATE EXTENSION ticket;
CREATE ROLE web_app LOGIN IN ROLE ticket_customer;
CREATE ROLE web_adapter LOGIN IN ROLE ticket_adapter;
CREATE ROLE box_office LOGIN IN ROLE ticket_admin;
SELECT ticket.create_concert('Drivers', now() + interval '30 days', now() - interval '1 day',
	venue => 'Pool Hall', per_user_limit => 4, cancellable => true, cancel_fee_percent => 10);
SELECT ticket.add_section(1, 'Floor A', 'A', 80.00, 4, 10);
SELECT ticket.add_standing(1, 'Pit', 'GA', 45.50, 40);
SELECT ticket.open_sale(1);
SELECT ticket.create_concert('Queue', now() + interval '30 days', now() - interval '1 day', queue => true);
SELECT ticket.add_standing(2, 'Pit', 'GA', 10, 10);
SELECT ticket.join_queue(2, 'fan');
SELECT ticket.open_sale(2);
UPDATE ticket.queue SET last_tick = now() - interval '1 second' WHERE concert_id = 2;
SELECT ticket.admit(2);
});

# pgbouncer: transaction pooling, one server connection for both buyers.
my $dir = PostgreSQL::Test::Utils::tempdir_short();
my $bport = 6433;
PostgreSQL::Test::Utils::append_to_file("$dir/users.txt",
	qq{"web_app" ""\n"web_adapter" ""\n"box_office" ""\n});
PostgreSQL::Test::Utils::append_to_file("$dir/pgbouncer.ini", qq{
[databases]
postgres = host=@{[ $node->host ]} port=@{[ $node->port ]} dbname=postgres
[pgbouncer]
listen_addr =
listen_port = $bport
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
});
system($pgbouncer, '-d', "$dir/pgbouncer.ini") == 0 or BAIL_OUT('pgbouncer did not start');
END { kill 'TERM', slurp_file("$dir/pgbouncer.pid") if $dir && -f "$dir/pgbouncer.pid"; }
for (1 .. 50) { last if -S "$dir/.s.PGSQL.$bport"; select(undef, undef, undef, 0.1); }

PostgreSQL::Test::Utils::append_to_file("$dir/journey.py", <<'PY');
import json, sys, time
from decimal import Decimal
import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.composite import CompositeInfo, register_composite

host, port = sys.argv[1], sys.argv[2]
def connect(user):
    # transaction pooling: no statement prepared by name
    return psycopg.connect(host=host, port=port, dbname="postgres", user=user,
                           prepare_threshold=None, autocommit=True, row_factory=namedtuple_row)

out = {"held": 0, "labels_match": 0, "orders": 0, "backends": set()}
a, b = connect("web_app"), connect("web_app")
listed = a.execute("SELECT * FROM ticket.browse_concerts()").fetchall()
out["listed"] = [c.title for c in listed]
cid = [c.concert_id for c in listed if c.title == "Drivers"][0]
sections = a.execute("SELECT * FROM ticket.browse_sections(%s)", (cid,)).fetchall()
out["sections"] = [[s.name, str(s.price), s.available] for s in sections]
floor = [s.section_id for s in sections if s.name == "Floor A"][0]

# Eight rounds, each buyer picks the first free seat by its label, holds,
# checks out: every statement runs 16 times on the one server connection.
for i in range(8):
    for conn, user in ((a, f"a{i}"), (b, f"b{i}")):
        free = conn.execute("SELECT seat_id, label, price FROM ticket.browse_seats(%s, %s, only_free => true) LIMIT 1",
                            (cid, floor)).fetchone()
        h = conn.execute("SELECT * FROM ticket.hold(%s, %s, %s, idempotency_key => %s)",
                         (cid, user, [free.seat_id], "h-" + user)).fetchone()
        if h.status != "held":
            continue
        out["held"] += 1
        if isinstance(h.seats, list) and h.seats[0]["label"] == free.label and h.total == free.price:
            out["labels_match"] += 1
        o = conn.execute("SELECT *, pg_backend_pid() AS pid FROM ticket.checkout(%s, %s, %s)",
                         (h.hold_id, user, "k-" + user)).fetchone()
        out["backends"].add(o.pid)
        if o.status == "pending" and o.seats[0]["seat_id"] == free.seat_id:
            out["orders"] += 1

# The adapter pays them all.
with connect("web_adapter") as pay:
    jobs = pay.execute("SELECT * FROM ticket.claim_payments('driver-test', 100)").fetchall()
    out["paid"] = sum(1 for j in jobs
                      if pay.execute("SELECT ticket.payment_succeeded(%s, %s) AS r",
                                     (j.payment_id, "ch-%d" % j.payment_id)).fetchone().r == "paid")

mine = a.execute("SELECT * FROM ticket.my_orders(%s)", ("a3",)).fetchall()
out["a3_orders"] = [[m.state, str(m.amount), m.seats[0]["label"].split(",")[0]] for m in mine]
c = a.execute("SELECT * FROM ticket.cancel_order(%s, %s, %s)", (mine[0].order_id, "a3", "c-a3")).fetchone()
out["cancel"] = [c.status, c.order_state, str(c.fee), str(c.refund)]
again = b.execute("SELECT * FROM ticket.cancel_order(%s, %s, %s)", (mine[0].order_id, "a3", "c-a3")).fetchone()
out["cancel_replayed"] = [again.status, again.refund_payment_id == c.refund_payment_id]
with connect("box_office") as admin:
    admin.execute("SELECT ticket.publish_events()")
    # A float is double precision: no function takes it without the cast the docs show.
    try:
        admin.execute("SELECT ticket.add_section(%s, 'Float', 'B', %s, 1, 2)", (cid, 12.5))
        out["float"] = "accepted"
    except psycopg.errors.UndefinedFunction as e:
        out["float"] = e.sqlstate
    out["float_cast"] = admin.execute("SELECT ticket.add_section(%s, 'Cast', 'B', %s::numeric, 1, 2) AS s",
                                      (cid, 12.5)).fetchone().s
    out["decimal"] = admin.execute("SELECT ticket.add_section(%s, 'Decimal', 'B', %s, 1, 2) AS s",
                                   (cid, Decimal("12.50"))).fetchone().s
feed = b.execute("SELECT kind FROM ticket.my_events(%s)", ("a3",)).fetchall()
out["a3_feed"] = sorted(set(e.kind for e in feed) & {"order_created", "order_paid", "order_cancelled"})

# queue_status as a registered composite: its fields are Python names.
info = CompositeInfo.fetch(a, "ticket.queue_status")
register_composite(info, a)
qs = a.execute("SELECT ticket.queue_status(2, 'fan') AS q").fetchone().q
out["queue"] = [qs.state, qs.pass_token is not None and qs.pass_token.startswith("t1.")]

# Through the waiting room as a buyer: join, wait for a step (pg_cron's
# job; the box office stands in for it here), hold with the pass, check out.
joined = b.execute("SELECT * FROM ticket.join_queue(2, 'walk-in')").fetchone()
with connect("box_office") as admin:
    for _ in range(100):
        admin.execute("SELECT ticket.admit(2)")
        if b.execute("SELECT state FROM ticket.queue_status(2, 'walk-in')").fetchone().state == "admitted":
            break
        time.sleep(0.1)
mine = b.execute("SELECT * FROM ticket.queue_status(2, 'walk-in')").fetchone()
h = b.execute("SELECT * FROM ticket.hold_best(2, 'walk-in', 1, 2, pass => %s)", (mine.pass_token,)).fetchone()
o = b.execute("SELECT * FROM ticket.checkout(%s, 'walk-in', 'walk-in-pay')", (h.hold_id,)).fetchone()
out["walk_in"] = [joined.state, mine.state, h.status, [s["label"].split(",")[0] for s in h.seats], str(h.total), o.status]
out["backends"] = len(out["backends"])
a.close(); b.close()
print(json.dumps(out, sort_keys=True))
PY

my ($stdout, $stderr);
my $ran = IPC::Run::run([ 'python3', "$dir/journey.py", $dir, $bport ], '>', \$stdout, '2>', \$stderr);
ok($ran, 'the psycopg journey ran through pgbouncer') or diag($stderr);
note($stdout);
require JSON::PP;    # core Perl
my %r = %{ JSON::PP::decode_json($stdout || '{}') };

is_deeply($r{listed}, [ 'Drivers', 'Queue' ], 'browse_concerts lists both concerts on sale');
is_deeply($r{sections}, [ [ 'Floor A', '80.00', 40 ], [ 'Pit', '45.50', 40 ] ],
	'browse_sections: names, prices and free seats, numerics as Decimals');
is($r{held}, 16, 'sixteen holds by seat id picked from browse_seats, two clients on one server connection');
is($r{labels_match}, 16, 'each hold returns its seat as a dict with the label and price browse_seats showed');
is($r{orders}, 16, 'each checkout is pending with its seat');
is($r{backends}, 1, 'all on one server connection (the statements ran 16 times: prepare_threshold=None)');
is($r{paid}, 16, 'the adapter, through the pool too, was paid for every order');
is_deeply($r{a3_orders}, [ [ 'paid', '80.00', 'Floor A' ] ], 'my_orders: the buyer\'s order, seats labelled');
is_deeply($r{cancel}, [ 'cancelled', 'cancelled', '8.00', '72.00' ], 'cancel_order: the seat back, 10 % kept');
is_deeply($r{cancel_replayed}, [ 'cancelled', JSON::PP::true() ], 'the same key on the other client: the same refund');
is($r{float}, '42883', 'a Python float as a price is double precision: 42883, as the docs say');
ok($r{float_cast} && $r{decimal}, 'with ::numeric, or a Decimal, it is taken');
is_deeply($r{a3_feed}, [ 'order_cancelled', 'order_created', 'order_paid' ], 'my_events: the buyer\'s own feed');
is_deeply($r{queue}, [ 'admitted', JSON::PP::true() ], 'queue_status registers as a composite; pass_token holds the pass');
is_deeply($r{walk_in}, [ 'waiting', 'admitted', 'held', [ 'Pit', 'Pit' ], '20.00', 'pending' ],
	'a buyer joins the waiting room, is admitted, holds two places with the pass and checks out');
is(query('SELECT count(*) FROM ticket.verify()'), '0', 'verify() is empty');

done_testing();
