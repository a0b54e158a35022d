/*
 * fuzz_seats.c
 *		libFuzzer harness of ticket_normalise_seat_ids (src/parse.c): the
 *		seat-id array of ticket.hold and of the seat locks.
 *
 * The input is a flags byte, then int32 seat ids (native byte order, at
 * most 512 of them).  Flags: bits 0-1 the number of dimensions (0 to 3;
 * with 0 the array is empty, as PostgreSQL makes it), bit 2 "the array has
 * a NULL", bit 3 "small ids": each id becomes id mod 16 - 2, so that
 * duplicates and non-positive ids are common.  Invariants:
 *	- the answer is the one a naive reading of the rules gives: more than
 *	  one dimension, empty, NULL, then the smallest id if it is not
 *	  positive, then the smallest id listed twice;
 *	- with a NULL or several dimensions the ids are not read at all (they
 *	  are not n int4s in a row then: the harness passes no array);
 *	- an accepted array comes back strictly ascending, all positive, and a
 *	  permutation of the input;
 *	- the answer (and the bad id named) does not depend on the order of the
 *	  ids: a reversed and rotated copy gets the same.
 */
#include "fuzz.h"

#define MAX_SEATS 512

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The answer the rules give, by brute force; *bad as the parser sets it. */
static TicketParseResult
reference(const int32_t *ids, int n, int ndim, int has_nulls, int32_t *bad)
{
	int32_t		min;
	int			dup = 0;
	int32_t		min_dup = 0;

	if (ndim > 1)
		return TICKET_PARSE_SEATS_NOT_1D;
	if (n == 0)
		return TICKET_PARSE_SEATS_EMPTY;
	if (has_nulls)
		return TICKET_PARSE_SEATS_NULL;
	min = ids[0];
	for (int i = 1; i < n; i++)
		if (ids[i] < min)
			min = ids[i];
	if (min <= 0)
	{
		*bad = min;
		return TICKET_PARSE_SEAT_INVALID;
	}
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (ids[i] == ids[j] && (!dup || ids[i] < min_dup))
			{
				dup = 1;
				min_dup = ids[i];
			}
	if (dup)
	{
		*bad = min_dup;
		return TICKET_PARSE_SEAT_TWICE;
	}
	return TICKET_PARSE_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			ndim, has_nulls, small, n;
	int32_t    *ids, *seats, *perm;
	int32_t		bad = 0, bad2 = 0, want_bad = 0;
	TicketParseResult r, r2, want;

	if (size == 0)
		return 0;
	ndim = data[0] & 3;
	has_nulls = (data[0] >> 2) & 1;
	small = (data[0] >> 3) & 1;
	n = (int) ((size - 1) / sizeof(int32_t));
	if (n > MAX_SEATS)
		n = MAX_SEATS;
	if (ndim == 0)
		n = 0;

	ids = malloc(sizeof(int32_t) * n);
	seats = malloc(sizeof(int32_t) * n);
	perm = malloc(sizeof(int32_t) * n);
	for (int i = 0; i < n; i++)
	{
		memcpy(&ids[i], data + 1 + i * sizeof(int32_t), sizeof(int32_t));
		if (small)
			ids[i] = (int32_t) (((uint32_t) ids[i]) % 16) - 2;
	}
	memcpy(seats, ids, sizeof(int32_t) * n);

	want = reference(ids, n, ndim, has_nulls, &want_bad);
	/* Where the ids must not be read, there are none to read. */
	r = ticket_normalise_seat_ids((ndim > 1 || has_nulls) ? NULL : seats, n, ndim, has_nulls, &bad);
	CHECK(r == want);
	if (r == TICKET_PARSE_SEAT_INVALID || r == TICKET_PARSE_SEAT_TWICE)
		CHECK(bad == want_bad);

	if (r == TICKET_PARSE_OK)
	{
		for (int i = 0; i < n; i++)
		{
			int			found = 0;

			CHECK(seats[i] > 0);
			CHECK(i == 0 || seats[i - 1] < seats[i]);
			for (int j = 0; j < n && !found; j++)
				found = seats[j] == ids[i];
			CHECK(found);
		}
	}

	/* The same ids reversed and rotated by a data-chosen amount. */
	if (n > 0 && ndim <= 1 && !has_nulls)
	{
		int			k = data[size - 1] % n;

		for (int i = 0; i < n; i++)
			perm[i] = ids[n - 1 - (i + k) % n];
		r2 = ticket_normalise_seat_ids(perm, n, ndim, has_nulls, &bad2);
		CHECK(r2 == r);
		if (r == TICKET_PARSE_SEAT_INVALID || r == TICKET_PARSE_SEAT_TWICE)
			CHECK(bad2 == bad);
		if (r == TICKET_PARSE_OK)
			CHECK(memcmp(perm, seats, sizeof(int32_t) * n) == 0);
	}
	free(ids);
	free(seats);
	free(perm);
	return 0;
}
