/*
 * lock.c
 *		The extension's own transaction-scoped locks on seats and buyers.
 *
 * They are advisory locks with lock classes of their own (locktag_field4),
 * so they can never collide with an application's pg_advisory_* locks
 * (classes 1 and 2) yet still show in pg_locks:
 *
 *		locktype = 'advisory', objsubid = 11: a seat; classid = concert_id
 *		(folded to 32 bits: the concert_id itself below 2^32), objid = seat_id
 *		locktype = 'advisory', objsubid = 12: a buyer; classid = concert_id
 *		(folded the same way), objid = hash of user_id
 *		locktype = 'advisory', objsubid = 13: a checkout's idempotency key;
 *		classid = hash of user_id, objid = hash of the key
 *
 * Every lock is transaction-scoped (never session-level, which breaks behind
 * pgbouncer in transaction pooling) and released at commit or abort; a failed
 * hold gives its seat locks back at once so that others are not told "taken"
 * for seats nobody holds.
 *
 * The rule that makes them sufficient: every writer of a ticket.seat row
 * holds that seat's lock.  Buyers only try them (fast-fail); release,
 * checkout and the cleaner wait for them, briefly, since a buyer who fails
 * gives them back at once.  Seats are always locked in ascending seat_id
 * order, so two waiters cannot deadlock.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "input.h"
#include "ticket.h"

#define TICKET_LOCKCLASS_SEAT	11
#define TICKET_LOCKCLASS_USER	12
#define TICKET_LOCKCLASS_KEY	13

/*
 * A concert id in the 32 bits of a lock tag: the id itself below 2^32, the
 * high half folded in above (concerts 2^32 apart shared seat locks when the
 * high half was dropped).  Two concerts that still fold alike only wait for
 * each other's seat locks now and then; no lock is ever weaker.
 */
static inline uint32
concert_key(int64 concert_id)
{
	return (uint32) concert_id ^ (uint32) ((uint64) concert_id >> 32);
}

/*
 * Fill in the lock tag of one seat.
 */
static void
seat_locktag(LOCKTAG *tag, int64 concert_id, int32 seat_id)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, concert_key(concert_id), (uint32) seat_id,
						 TICKET_LOCKCLASS_SEAT);
}

/*
 * Try to lock a seat without waiting; true when this transaction holds it.
 */
bool
ticket_try_lock_seat(int64 concert_id, int32 seat_id)
{
	LOCKTAG		tag;

	seat_locktag(&tag, concert_id, seat_id);
	return LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL;
}

/*
 * Lock a seat, waiting for a buyer who is trying it to give it back.
 */
void
ticket_lock_seat(int64 concert_id, int32 seat_id)
{
	LOCKTAG		tag;

	seat_locktag(&tag, concert_id, seat_id);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * Give back a seat lock before the transaction ends.
 */
void
ticket_unlock_seat(int64 concert_id, int32 seat_id)
{
	LOCKTAG		tag;

	seat_locktag(&tag, concert_id, seat_id);
	LockRelease(&tag, ExclusiveLock, false);
}

/*
 * Lock a buyer of a concert for the rest of the transaction, so that one
 * user's concurrent calls check the per-user limit one after another.  Two
 * users whose ids hash alike merely wait for each other briefly.
 */
void
ticket_lock_user(int64 concert_id, const char *user_id, int len)
{
	LOCKTAG		tag;
	uint32		h = hash_bytes((const unsigned char *) user_id, len);

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, concert_key(concert_id), h, TICKET_LOCKCLASS_USER);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * Lock a user's idempotency key of a checkout for the rest of the
 * transaction: a second call with the same key waits here until the first
 * commits, then finds what it stored.  Keys that hash alike merely wait for
 * each other briefly.
 */
void
ticket_lock_key(const char *user_id, int user_len, const char *key, int key_len)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, hash_bytes((const unsigned char *) user_id, user_len),
						 hash_bytes((const unsigned char *) key, key_len), TICKET_LOCKCLASS_KEY);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

PG_FUNCTION_INFO_V1(ticket_lock_seats);

/*
 * Lock the given seats of a concert in ascending order, waiting as needed
 * (for release, checkout and the cleaner; buyers use the try-lock).
 */
Datum
ticket_lock_seats(PG_FUNCTION_ARGS)
{
	int64		concert_id = PG_GETARG_INT64(0);
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	int			n;
	int32	   *seats;

	seats = ticket_sorted_seat_ids(arr, &n);
	for (int i = 0; i < n; i++)
		ticket_lock_seat(concert_id, seats[i]);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ticket_try_lock_seats);

/*
 * Try the given seats of a concert in ascending order without waiting (for
 * the worker); on the first one a buyer holds, give back those taken and
 * return false.
 */
Datum
ticket_try_lock_seats(PG_FUNCTION_ARGS)
{
	int64		concert_id = PG_GETARG_INT64(0);
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	int			n;
	int32	   *seats;

	seats = ticket_sorted_seat_ids(arr, &n);
	for (int i = 0; i < n; i++)
	{
		if (!ticket_try_lock_seat(concert_id, seats[i]))
		{
			while (--i >= 0)
				ticket_unlock_seat(concert_id, seats[i]);
			PG_RETURN_BOOL(false);
		}
	}
	PG_RETURN_BOOL(true);
}

PG_FUNCTION_INFO_V1(ticket_lock_buyer);

/*
 * Take the buyer lock of a user for a concert, waiting for their calls in
 * flight (for ticket.block_user).
 */
Datum
ticket_lock_buyer(PG_FUNCTION_ARGS)
{
	text	   *user_id = PG_GETARG_TEXT_PP(1);

	ticket_lock_user(PG_GETARG_INT64(0), VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id));
	PG_RETURN_VOID();
}
