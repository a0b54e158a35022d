/*
 * fuzz_pass.c
 *		libFuzzer harness of ticket_parse_pass (src/parse.c).
 *
 * The input is the pass text.  Invariants:
 *	- the parser accepts exactly what the grammar says, written here as a
 *	  split on '.' with string comparisons instead of arithmetic:
 *	  t1.<int32>.<int64>.<int64>.<int64>.<43 base64url>, numbers without
 *	  sign or leading zero, none over its type's maximum;
 *	- an accepted pass has the fields the grammar reads, and formatting
 *	  them gives back exactly the input bytes (one spelling per pass: what
 *	  makes a respelled pass impossible);
 *	- a refused pass says why (malformed, the one reason a shape has);
 *	- the input is read by its length only (ASan: libFuzzer's buffer ends
 *	  there, with no NUL after it).
 */
#include "fuzz.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	const char *field[6];
	size_t		flen[6];
	int64_t		want[4] = {0, 0, 0, 0};
	int			valid;
	TicketPass	pass;
	TicketParseResult r;
	char		buf[TICKET_MAX_PASS_LEN + 1];
	size_t		n;

	valid = fuzz_split(s, size, field, flen, 6) == 6 &&
		flen[0] == 2 && memcmp(field[0], "t1", 2) == 0 &&
		fuzz_ref_number(field[1], flen[1], "2147483647", &want[0]) &&
		fuzz_ref_number(field[2], flen[2], "9223372036854775807", &want[1]) &&
		fuzz_ref_number(field[3], flen[3], "9223372036854775807", &want[2]) &&
		fuzz_ref_number(field[4], flen[4], "9223372036854775807", &want[3]) &&
		fuzz_ref_sig(field[5], flen[5]);

	memset(&pass, 0xa5, sizeof(pass));
	r = ticket_parse_pass(s, size, &pass);
	CHECK(r == TICKET_PARSE_OK || r == TICKET_PARSE_MALFORMED);
	CHECK((r == TICKET_PARSE_OK) == valid);
	if (r != TICKET_PARSE_OK)
		return 0;

	CHECK(pass.key_id == want[0]);
	CHECK(pass.concert_id == want[1]);
	CHECK(pass.place == want[2]);
	CHECK(pass.expires == want[3]);
	CHECK(pass.sig[TICKET_SIG_CHARS] == '\0' && memcmp(pass.sig, field[5], TICKET_SIG_CHARS) == 0);
	CHECK(size <= TICKET_MAX_PASS_LEN);

	n = ticket_format_pass(&pass, buf, sizeof(buf));
	CHECK(n == size && memcmp(buf, s, size) == 0);
	return 0;
}
