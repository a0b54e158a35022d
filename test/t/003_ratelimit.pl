# Rate limits when the table of buckets is full, and after a restart.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('ratelimit');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
ticket.rate_buckets = 1000
ticket.user_burst = 1
ticket.user_rate = 0.0001
});
$node->start;

sub query { return $node->safe_psql('postgres', shift); }

query(q{
CREATE EXTENSION ticket;
SELECT ticket.create_concert('Full table', now() + interval '30 days', now() - interval '1 day');
SELECT ticket.add_standing(1, 'Pit', 'GA', 10, 10);
SELECT ticket.open_sale(1);
});

# 1,500 users, one request each: every bucket is new and full, so none is
# limited; past 1,000 buckets none can be swept (they refill in hours), so
# the other 500 requests are let through and counted.
is(query(q{
SELECT count(*) FILTER (WHERE (ticket.hold(1, 'user' || g, ARRAY[1])).status = 'rate_limited')
  FROM generate_series(1, 1500) AS g}), '0', 'a full table lets requests through');
is(query("SELECT value FROM ticket.counters() WHERE counter = 'rate_limit_table_full'"),
	'500', 'and counts each one it let through');

# A user who has a bucket is still limited.
is(query("SELECT status FROM ticket.hold(1, 'user1', ARRAY[1])"), 'rate_limited',
	'a user with an empty bucket is limited');

# Buckets that have refilled are swept to make room: with a high rate every
# bucket is full again, so new users get buckets of their own.
$node->append_conf('postgresql.conf', 'ticket.user_rate = 1000000');
$node->reload;
is(query(q{
SELECT count(*) FILTER (WHERE (ticket.hold(1, 'later' || g, ARRAY[1])).status = 'rate_limited')
  FROM generate_series(1, 200) AS g}), '0', 'after a sweep new users are served');
is(query("SELECT value FROM ticket.counters() WHERE counter = 'rate_limit_table_full'"),
	'500', 'without letting anything through unlimited');

# After a restart every bucket starts full.
$node->append_conf('postgresql.conf', 'ticket.user_rate = 0.0001');
$node->restart;
is(query("SELECT status FROM ticket.hold(1, 'user1', ARRAY[1])"), 'taken',
	'after a restart the limited user is served again (the seat is taken)');
is(query("SELECT status FROM ticket.hold(1, 'user1', ARRAY[1])"), 'rate_limited',
	'and limited again once the new bucket is empty');
is(query("SELECT count(*) FROM ticket.verify()"), '0', 'no violations');

$node->stop;
done_testing();
