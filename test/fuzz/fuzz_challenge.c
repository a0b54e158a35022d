/*
 * fuzz_challenge.c
 *		libFuzzer harness of ticket_parse_challenge and ticket_check_solution
 *		(src/parse.c).
 *
 * The input is one byte k, the challenge, then the solution: its last
 * k % 80 bytes (fewer if the input is shorter), so solutions run from empty
 * to longer than the 64 allowed.  Invariants:
 *	- the challenge parser accepts exactly the grammar, written here as a
 *	  split on '.': w1.<int32>.<int64>.<bits 0..256>.<int64>.<16 lowercase
 *	  hex>.<43 base64url>, numbers without sign or leading zero;
 *	- an accepted challenge has the fields the grammar reads, and
 *	  formatting them gives back exactly its bytes;
 *	- the solution check answers "length" for other than 1 to 64 bytes,
 *	  else "characters" exactly when a byte is not isgraph() in the C
 *	  locale (so bytes over 0x7f, negative in a signed char, are refused);
 *	- both read their input by its length only.
 */
#include <ctype.h>

#include "fuzz.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Is s[0..len) 16 lowercase hex digits? */
static int
ref_nonce(const char *s, size_t len)
{
	if (len != TICKET_NONCE_CHARS)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (strchr("0123456789abcdef", s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

static void
check_challenge(const char *s, size_t size)
{
	const char *field[7];
	size_t		flen[7];
	int64_t		want[4] = {0, 0, 0, 0};
	int			valid;
	TicketChallenge ch;
	TicketParseResult r;
	char		buf[TICKET_MAX_CHALLENGE_LEN + 1];
	size_t		n;

	valid = fuzz_split(s, size, field, flen, 7) == 7 &&
		flen[0] == 2 && memcmp(field[0], "w1", 2) == 0 &&
		fuzz_ref_number(field[1], flen[1], "2147483647", &want[0]) &&
		fuzz_ref_number(field[2], flen[2], "9223372036854775807", &want[1]) &&
		fuzz_ref_number(field[3], flen[3], "999", &want[2]) && want[2] <= 256 &&
		fuzz_ref_number(field[4], flen[4], "9223372036854775807", &want[3]) &&
		ref_nonce(field[5], flen[5]) &&
		fuzz_ref_sig(field[6], flen[6]);

	memset(&ch, 0x5a, sizeof(ch));
	r = ticket_parse_challenge(s, size, &ch);
	CHECK(r == TICKET_PARSE_OK || r == TICKET_PARSE_MALFORMED);
	CHECK((r == TICKET_PARSE_OK) == valid);
	if (r != TICKET_PARSE_OK)
		return;

	CHECK(ch.key_id == want[0]);
	CHECK(ch.concert_id == want[1]);
	CHECK(ch.bits == want[2] && ch.bits >= 0 && ch.bits <= TICKET_MAX_WORK_BITS);
	CHECK(ch.expires == want[3]);
	CHECK(ch.nonce[TICKET_NONCE_CHARS] == '\0' && memcmp(ch.nonce, field[5], TICKET_NONCE_CHARS) == 0);
	CHECK(ch.sig[TICKET_SIG_CHARS] == '\0' && memcmp(ch.sig, field[6], TICKET_SIG_CHARS) == 0);
	CHECK(size <= TICKET_MAX_CHALLENGE_LEN);

	n = ticket_format_challenge(&ch, buf, sizeof(buf));
	CHECK(n == size && memcmp(buf, s, size) == 0);
}

static void
check_solution(const char *s, size_t len)
{
	TicketParseResult r = ticket_check_solution(s, len);
	TicketParseResult want = TICKET_PARSE_OK;

	if (len < 1 || len > 64)
		want = TICKET_PARSE_SOLUTION_LENGTH;
	else
		for (size_t i = 0; i < len; i++)
			if (!isgraph((unsigned char) s[i]))
				want = TICKET_PARSE_SOLUTION_CHARS;
	CHECK(r == want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		sol_len;
	char	   *challenge;
	char	   *solution;

	if (size == 0)
		return 0;
	sol_len = data[0] % 80;
	if (sol_len > size - 1)
		sol_len = size - 1;

	/*
	 * Each part in a buffer of exactly its length (malloc(0) included), so
	 * that ASan reports a read one byte past either.
	 */
	challenge = malloc(size - 1 - sol_len);
	solution = malloc(sol_len);
	memcpy(challenge, data + 1, size - 1 - sol_len);
	memcpy(solution, data + size - sol_len, sol_len);
	check_challenge(challenge, size - 1 - sol_len);
	check_solution(solution, sol_len);
	free(challenge);
	free(solution);
	return 0;
}
