/*
 * fuzz_text.c
 *		libFuzzer harness of ticket_check_text (src/parse.c): the user id,
 *		idempotency key and client key checks of a hold.
 *
 * The input is one byte, the limit in characters (0 to 255, so that both
 * real limits, 128 and 255, and every boundary near them are reached), then
 * the text.  The harness counts characters as UTF-8 does (every byte that
 * does not continue a sequence), as the server would in a UTF-8 database.
 * Invariants (the model below matches byte patterns, not code points, so
 * that it is not parse.c's decoder again):
 *	- "blank" exactly when every character is whitespace (ASCII space, tab,
 *	  newline, vertical tab, form feed, carriage return, or a Unicode space),
 *	  the empty text included, whatever the count and the limit: blank is
 *	  decided first;
 *	- otherwise "too long" exactly when the count is over the limit;
 *	- otherwise "control" exactly when a character is C0, DEL or C1;
 *	- so the answer only improves as the limit grows;
 *	- the text is read by its length only.
 */
#include "fuzz.h"

/*
 * The whitespace and control characters of a UTF-8 text at s (n bytes
 * left), by their encodings: returns the bytes the character takes (1 for a
 * byte that does not start a well-formed sequence, which is visible) and
 * sets *space and *control.
 */
static size_t
classify(const uint8_t *s, size_t n, int *space, int *control)
{
	static const char *const spaces[] = {
		"\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaf",
		"\xe2\x81\x9f", "\xe3\x80\x80", "\xef\xbb\xbf"};
	size_t		want;

	*space = 0;
	*control = 0;
	if (s[0] < 0x80)
	{
		*space = s[0] == ' ' || (s[0] >= 0x09 && s[0] <= 0x0d);
		*control = s[0] < 0x20 || s[0] == 0x7f;
		return 1;
	}
	want = s[0] >= 0xf0 && s[0] < 0xf8 ? 4 : s[0] >= 0xe0 && s[0] < 0xf0 ? 3 : s[0] >= 0xc0 && s[0] < 0xe0 ? 2 : 0;
	if (want == 0 || want > n)
		return 1;
	for (size_t i = 1; i < want; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 1;
	if (want == 2 && s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f)
		*control = 1;
	if (want == 3 && s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0x80 && s[2] <= 0x8b)
		*space = 1;
	for (size_t k = 0; k < sizeof(spaces) / sizeof(spaces[0]); k++)
		if (strlen(spaces[k]) == want && memcmp(s, spaces[k], want) == 0)
			*space = 1;
	return want;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			max;
	size_t		len;
	char	   *s;
	int			nchars = 0;
	int			blank = 1;
	int			control = 0;
	TicketParseResult r;

	if (size == 0)
		return 0;
	max = data[0];
	len = size - 1;
	s = malloc(len);
	memcpy(s, data + 1, len);
	for (size_t i = 0; i < len; i++)
		if ((data[1 + i] & 0xc0) != 0x80)
			nchars++;
	for (size_t i = 0; i < len;)
	{
		int			sp,
					ct;

		i += classify(data + 1 + i, len - i, &sp, &ct);
		if (!sp)
			blank = 0;
		if (ct)
			control = 1;
	}

	r = ticket_check_text(s, len, nchars, max, true, false);
	if (blank)
		CHECK(r == TICKET_PARSE_BLANK);
	else if (nchars > max)
		CHECK(r == TICKET_PARSE_TOO_LONG);
	else if (control)
		CHECK(r == TICKET_PARSE_CONTROL);
	else
		CHECK(r == TICKET_PARSE_OK);

	/* blank does not depend on the count or the limit */
	CHECK((ticket_check_text(s, len, 0, 0, true, false) == TICKET_PARSE_BLANK) == blank);
	CHECK((ticket_check_text(s, len, 1000, 0, true, false) == TICKET_PARSE_BLANK) == blank);
	/* a higher limit never refuses what a lower one accepted */
	if (r == TICKET_PARSE_OK)
		CHECK(ticket_check_text(s, len, nchars, max + 1, true, false) == TICKET_PARSE_OK);
	/* at the count itself, a non-blank text is accepted; one below, refused */
	if (!blank)
	{
		CHECK(ticket_check_text(s, len, nchars, nchars, true, false) == (control ? TICKET_PARSE_CONTROL : TICKET_PARSE_OK));
		CHECK(ticket_check_text(s, len, nchars, nchars - 1, true, false) == TICKET_PARSE_TOO_LONG);
	}
	/* layout (a reason) only lets tab, newline and carriage return through */
	if (r == TICKET_PARSE_OK)
		CHECK(ticket_check_text(s, len, nchars, max, true, true) == TICKET_PARSE_OK);
	if (ticket_check_text(s, len, nchars, max, true, true) == TICKET_PARSE_CONTROL)
		CHECK(r == TICKET_PARSE_CONTROL);
	free(s);
	return 0;
}
