/*
 * fuzz_text.c
 *		libFuzzer harness of ticket_check_text (src/parse.c): the user id,
 *		idempotency key and client key checks of a hold.
 *
 * The input is one byte, the limit in characters (0 to 255, so that both
 * real limits, 128 and 255, and every boundary near them are reached), then
 * the text.  The harness counts characters as UTF-8 does (every byte that
 * does not continue a sequence), as the server would in a UTF-8 database.
 * Invariants:
 *	- "blank" exactly when every byte is a space (the empty text included),
 *	  whatever the count and the limit: blank is decided first;
 *	- otherwise "too long" exactly when the count is over the limit;
 *	- so the answer only improves as the limit grows;
 *	- the text is read by its length only.
 */
#include "fuzz.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			max;
	size_t		len;
	char	   *s;
	int			nchars = 0;
	int			blank = 1;
	TicketParseResult r;

	if (size == 0)
		return 0;
	max = data[0];
	len = size - 1;
	s = malloc(len);
	memcpy(s, data + 1, len);
	for (size_t i = 0; i < len; i++)
	{
		if ((data[1 + i] & 0xc0) != 0x80)
			nchars++;
		if (s[i] != ' ')
			blank = 0;
	}

	r = ticket_check_text(s, len, nchars, max);
	if (blank)
		CHECK(r == TICKET_PARSE_BLANK);
	else if (nchars > max)
		CHECK(r == TICKET_PARSE_TOO_LONG);
	else
		CHECK(r == TICKET_PARSE_OK);

	/* blank does not depend on the count or the limit */
	CHECK((ticket_check_text(s, len, 0, 0) == TICKET_PARSE_BLANK) == blank);
	CHECK((ticket_check_text(s, len, 1000, 0) == TICKET_PARSE_BLANK) == blank);
	/* a higher limit never refuses what a lower one accepted */
	if (r == TICKET_PARSE_OK)
		CHECK(ticket_check_text(s, len, nchars, max + 1) == TICKET_PARSE_OK);
	/* at the count itself, a non-blank text is accepted; one below, refused */
	if (!blank)
	{
		CHECK(ticket_check_text(s, len, nchars, nchars) == TICKET_PARSE_OK);
		CHECK(ticket_check_text(s, len, nchars, nchars - 1) == TICKET_PARSE_TOO_LONG);
	}
	free(s);
	return 0;
}
