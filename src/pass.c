/*
 * pass.c
 *		Signed passes: what the waiting room hands an admitted user, and what
 *		a hold will check.
 *
 * A pass is text:
 *
 *		t1.<key_id>.<concert_id>.<place>.<expires, Unix seconds>.<signature>
 *
 * where the signature is HMAC-SHA256, base64url without padding, over
 *
 *		t1|<key_id>|<concert_id>|<user_id>|<place>|<expires>
 *
 * with the secret of key <key_id> in ticket.pass_key.  The user id is signed
 * but not carried, so a pass is bound to its user without showing who that
 * is.  Checking compares signatures in constant time and raises 28000 for
 * a malformed, forged, expired, retired-key, other-concert or other-user
 * pass.  The text is parsed by src/parse.c (which test/fuzz/ fuzzes), with
 * one spelling per pass: numbers have no sign and no leading zero.
 *
 * Keys live in ticket.pass_key, which nobody but its owner (the superuser
 * who installed the extension) can read; they survive restarts and dumps.
 * ticket.rotate_pass_key() adds a key that signs from then on; older keys
 * keep checking the passes they signed until their retired_at.  Each backend
 * caches the keys and forgets them when ticket.pass_key changes (a relcache
 * invalidation from the statement trigger ticket._relation_changed).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "common/cryptohash.h"
#include "common/hmac.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "input.h"
#include "parse.h"
#include "ticket.h"

#define PASS_VERSION		TICKET_PASS_VERSION
#define PASS_SECRET_LEN		32
#define PASS_SIG_LEN		TICKET_SIG_BYTES
#define PASS_SIG_CHARS		TICKET_SIG_CHARS

typedef struct PassKey
{
	int32		key_id;
	uint8		secret[PASS_SECRET_LEN];
	TimestampTz retired_at;		/* DT_NOEND while the key is in use */
} PassKey;

/*
 * The keys, newest first; valid until ticket.pass_key changes.  As many as
 * the table holds (rotate_pass_key deletes keys a day after they retire).
 */
static PassKey *keys = NULL;
static int	nkeys = 0;
static int	keys_size = 0;
static bool keys_valid = false;
static uint64 keys_epoch = 0;	/* ticket_pass_key_epoch() when they were loaded */

/*
 * Load every key from ticket.pass_key, newest first.
 */
static void
load_keys(void)
{
	Catalog    *cat = ticket_catalog();
	Relation	rel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snap;

	/*
	 * Locking first takes in any invalidation waiting; then read fresh.  The
	 * cache is marked valid only once it is loaded: a load that fails leaves
	 * it to be loaded again, never half full.
	 */
	rel = table_open(cat->pass_key, AccessShareLock);
	keys_valid = false;
	keys_epoch = ticket_pass_key_epoch();
	nkeys = 0;
	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(rel, snap, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		bytea	   *secret;
		PassKey		k;
		int			i;

		if (nkeys == keys_size)
		{
			int			size = Max(16, keys_size * 2);

			keys = keys ? repalloc(keys, sizeof(PassKey) * size) :
				MemoryContextAlloc(TopMemoryContext, sizeof(PassKey) * size);
			keys_size = size;
		}
		k.key_id = DatumGetInt32(slot_getattr(slot, cat->k_key_id, &isnull));
		secret = DatumGetByteaPP(slot_getattr(slot, cat->k_secret, &isnull));
		if (VARSIZE_ANY_EXHDR(secret) != PASS_SECRET_LEN)
			elog(ERROR, "pass key %d is not %d bytes", k.key_id, PASS_SECRET_LEN);
		memcpy(k.secret, VARDATA_ANY(secret), PASS_SECRET_LEN);
		k.retired_at = DatumGetTimestampTz(slot_getattr(slot, cat->k_retired_at, &isnull));
		if (isnull)
			k.retired_at = DT_NOEND;
		/* insertion sort, newest (highest id) first */
		for (i = nkeys; i > 0 && keys[i - 1].key_id < k.key_id; i--)
			keys[i] = keys[i - 1];
		keys[i] = k;
		nkeys++;
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(rel, NoLock);
	keys_valid = true;
}

static PassKey *
find_key(int32 key_id)
{
	if (!keys_valid || keys_epoch != ticket_pass_key_epoch())
		load_keys();
	for (int i = 0; i < nkeys; i++)
		if (keys[i].key_id == key_id)
			return &keys[i];
	return NULL;
}

/* The key that signs: the newest. */
static PassKey *
newest_key(void)
{
	if (!keys_valid || keys_epoch != ticket_pass_key_epoch())
		load_keys();
	if (nkeys == 0)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("there is no pass key"),
				errhint("Create one with SELECT ticket.rotate_pass_key();"));
	return &keys[0];
}

/*
 * HMAC-SHA256 of msg under key, as base64url text without padding (43
 * characters and a NUL) in out.
 */
static void
mac_b64(PassKey *key, const char *msg, int len, char *out)
{
	uint8		mac[PASS_SIG_LEN];
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);

	if (ctx == NULL ||
		pg_hmac_init(ctx, key->secret, PASS_SECRET_LEN) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) msg, len) < 0 ||
		pg_hmac_final(ctx, mac, sizeof(mac)) < 0)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("could not compute a signature: %s", pg_hmac_error(ctx)));
	pg_hmac_free(ctx);
	(void) ticket_base64url(mac, PASS_SIG_LEN, out);
}

/* Compare two signatures in constant time. */
static bool
same_signature(const char *expected, const char *given)
{
	uint8		diff = 0;

	for (int i = 0; i < PASS_SIG_CHARS; i++)
		diff |= (uint8) (expected[i] ^ given[i]);
	return diff == 0;
}

/*
 * Compute the signature of a pass into sig, as base64url text.
 */
static void
sign(PassKey *key, int64 concert_id, const char *user_id, int user_len, int64 place,
	 int64 expires, char *sig)
{
	StringInfoData msg;

	initStringInfo(&msg);
	appendStringInfo(&msg, PASS_VERSION "|%d|" INT64_FORMAT "|", key->key_id, concert_id);
	appendBinaryStringInfo(&msg, user_id, user_len);
	appendStringInfo(&msg, "|" INT64_FORMAT "|" INT64_FORMAT, place, expires);
	mac_b64(key, msg.data, msg.len, sig);
	pfree(msg.data);
}

static int64
to_unix_seconds(TimestampTz t)
{
	return (t / USECS_PER_SEC) + ((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
}

/*
 * Make a pass for a user's place in a concert's line, signed with the
 * newest key.
 */
char *
ticket_sign_pass(int64 concert_id, const char *user_id, int user_len, int64 place,
				 TimestampTz expires_at)
{
	TicketPass	pass;
	char		buf[TICKET_MAX_PASS_LEN + 1];
	PassKey    *key = newest_key();

	pass.key_id = key->key_id;
	pass.concert_id = concert_id;
	pass.place = place;
	pass.expires = to_unix_seconds(expires_at);
	sign(key, concert_id, user_id, user_len, place, pass.expires, pass.sig);
	/* written by the formatter whose output the parser is fuzzed to read back */
	if (ticket_format_pass(&pass, buf, sizeof(buf)) >= sizeof(buf))
		elog(ERROR, "pass does not fit in %zu bytes", sizeof(buf));
	return pstrdup(buf);
}

static void
refuse_as(const char *what, const char *why)
{
	ereport(ERROR,
			errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			errmsg("%s refused: %s", what, why));
}

static void
refuse(const char *why)
{
	refuse_as("pass", why);
}

/*
 * Check a pass for this concert and user; return the place it was issued
 * for, or raise 28000.
 */
int64
ticket_check_pass(text *pass, int64 concert_id, const char *user_id, int user_len)
{
	TicketPass	p;
	char		expected[PASS_SIG_CHARS + 1];
	PassKey    *key;

	if (ticket_parse_pass(VARDATA_ANY(pass), VARSIZE_ANY_EXHDR(pass), &p) != TICKET_PARSE_OK)
		refuse("it is malformed");

	key = find_key(p.key_id);
	if (key == NULL)
		refuse("its key is unknown");
	sign(key, p.concert_id, user_id, user_len, p.place, p.expires, expected);
	/* Constant time: look at every character whatever the first mismatch. */
	if (!same_signature(expected, p.sig))
		refuse("its signature does not match (forged, or issued to another user)");
	if (p.concert_id != concert_id)
		refuse("it was issued for another concert");
	if (p.expires <= to_unix_seconds(GetCurrentTimestamp()))
		refuse("it has expired");
	if (key->retired_at <= GetCurrentTimestamp())
		refuse("its key has been retired");
	return p.place;
}

PG_FUNCTION_INFO_V1(ticket_sign_pass_sql);

/*
 * SQL: make a pass (internal, for the waiting room and tests).
 */
Datum
ticket_sign_pass_sql(PG_FUNCTION_ARGS)
{
	text	   *user_id;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("concert_id, user_id, place and expires_at must not be NULL"));
	user_id = PG_GETARG_TEXT_PP(1);
	PG_RETURN_TEXT_P(cstring_to_text(ticket_sign_pass(PG_GETARG_INT64(0), VARDATA_ANY(user_id),
													  VARSIZE_ANY_EXHDR(user_id), PG_GETARG_INT64(2),
													  PG_GETARG_TIMESTAMPTZ(3))));
}

PG_FUNCTION_INFO_V1(ticket_check_pass_sql);

/*
 * SQL: check a pass for a concert and user; returns its place or raises 28000.
 */
Datum
ticket_check_pass_sql(PG_FUNCTION_ARGS)
{
	text	   *user_id;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("pass, concert_id and user_id must not be NULL"));
	user_id = PG_GETARG_TEXT_PP(2);
	/* a blank, over-long or control-character user id is bad input, not a refused pass */
	ticket_check_user_id(user_id);
	PG_RETURN_INT64(ticket_check_pass(PG_GETARG_TEXT_PP(0), PG_GETARG_INT64(1),
									  VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id)));
}

PG_FUNCTION_INFO_V1(ticket_random_secret);

/*
 * SQL: 32 bytes from the operating system's strong random source.
 */
Datum
ticket_random_secret(PG_FUNCTION_ARGS)
{
	bytea	   *b = palloc(VARHDRSZ + PASS_SECRET_LEN);

	SET_VARSIZE(b, VARHDRSZ + PASS_SECRET_LEN);
	if (!pg_strong_random(VARDATA(b), PASS_SECRET_LEN))
		ereport(ERROR,
				errcode(ERRCODE_SYSTEM_ERROR),
				errmsg("could not generate a random pass key"),
				errdetail("The operating system's random source failed."));
	PG_RETURN_BYTEA_P(b);
}

/* ------------------------------------------------------ proof of work */

/*
 * A proof-of-work challenge is text:
 *
 *		w1.<key_id>.<concert_id>.<bits>.<expires>.<nonce>.<signature>
 *
 * signed like a pass over w1|<key_id>|<concert_id>|<user_id>|<bits>|
 * <expires>|<nonce>, so that it is bound to one user and concert and needs
 * no table.  A solution is any text of 1 to 64 printable ASCII characters
 * such that SHA-256(challenge || ':' || solution) starts with <bits> zero
 * bits: about 2^bits hashes to find, one to check.  The nonce is 16
 * lowercase hex digits, <bits> at most 256; src/parse.c reads the text with
 * the same one-spelling rules as a pass.
 */
#define WORK_VERSION	TICKET_WORK_VERSION
#define WORK_NONCE_LEN	TICKET_NONCE_BYTES
#define WORK_TTL_SECS	600

/* Compute the signature of a challenge into sig, as base64url text. */
static void
sign_challenge(PassKey *key, const TicketChallenge *ch, const char *user_id, int user_len,
			   char *sig)
{
	StringInfoData msg;

	initStringInfo(&msg);
	appendStringInfo(&msg, WORK_VERSION "|%d|" INT64_FORMAT "|", key->key_id,
					 (int64) ch->concert_id);
	appendBinaryStringInfo(&msg, user_id, user_len);
	appendStringInfo(&msg, "|%d|" INT64_FORMAT "|%s", (int) ch->bits, (int64) ch->expires,
					 ch->nonce);
	mac_b64(key, msg.data, msg.len, sig);
	pfree(msg.data);
}

char *
ticket_sign_challenge(int64 concert_id, const char *user_id, int user_len, int bits)
{
	uint8		raw[WORK_NONCE_LEN];
	TicketChallenge ch;
	char		buf[TICKET_MAX_CHALLENGE_LEN + 1];
	PassKey    *key = newest_key();

	if (!pg_strong_random(raw, sizeof(raw)))
		ereport(ERROR,
				errcode(ERRCODE_SYSTEM_ERROR),
				errmsg("could not generate a challenge"),
				errdetail("The operating system's random source failed."));
	ch.key_id = key->key_id;
	ch.concert_id = concert_id;
	ch.bits = bits;
	ch.expires = to_unix_seconds(GetCurrentTimestamp()) + WORK_TTL_SECS;
	ticket_hex(raw, sizeof(raw), ch.nonce);
	sign_challenge(key, &ch, user_id, user_len, ch.sig);
	if (ticket_format_challenge(&ch, buf, sizeof(buf)) >= sizeof(buf))
		elog(ERROR, "challenge does not fit in %zu bytes", sizeof(buf));
	return pstrdup(buf);
}

/*
 * Check a solved challenge for this concert and user, needing at least
 * min_bits of work; raise 28000 if it is malformed, forged, for someone
 * else, expired, too easy or not solved.
 */
void
ticket_check_work(text *challenge, text *solution, int64 concert_id, const char *user_id,
				  int user_len, int min_bits)
{
	const char *what = "proof of work";
	const char *s = VARDATA_ANY(challenge);
	int			len = VARSIZE_ANY_EXHDR(challenge);
	const char *sol = VARDATA_ANY(solution);
	int			sol_len = VARSIZE_ANY_EXHDR(solution);
	TicketChallenge ch;
	char		expected[PASS_SIG_CHARS + 1];
	PassKey    *key;
	uint8		digest[32];
	pg_cryptohash_ctx *ctx;

	if (ticket_parse_challenge(s, len, &ch) != TICKET_PARSE_OK)
		refuse_as(what, "the challenge is malformed");
	switch (ticket_check_solution(sol, sol_len))
	{
		case TICKET_PARSE_OK:
			break;
		case TICKET_PARSE_SOLUTION_LENGTH:
			refuse_as(what, "the solution must have 1 to 64 characters");
			break;
		default:
			refuse_as(what, "the solution must be printable ASCII without spaces");
			break;
	}

	key = find_key(ch.key_id);
	if (key == NULL)
		refuse_as(what, "its key is unknown");
	sign_challenge(key, &ch, user_id, user_len, expected);
	if (!same_signature(expected, ch.sig))
		refuse_as(what, "the challenge's signature does not match (forged, or issued to another user)");
	if (ch.concert_id != concert_id)
		refuse_as(what, "the challenge was issued for another concert");
	if (ch.expires <= to_unix_seconds(GetCurrentTimestamp()))
		refuse_as(what, "the challenge has expired");
	if (ch.bits < min_bits)
		refuse_as(what, "the challenge is easier than the concert asks");

	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL ||
		pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) s, len) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) ":", 1) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) sol, sol_len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("could not compute a digest: %s", pg_cryptohash_error(ctx)));
	pg_cryptohash_free(ctx);
	if (ticket_leading_zero_bits(digest, sizeof(digest)) < ch.bits)
		refuse_as(what, "the solution does not solve the challenge");
}
