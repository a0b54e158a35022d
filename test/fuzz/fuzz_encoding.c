/*
 * fuzz_encoding.c
 *		libFuzzer harness of the encoding helpers of src/parse.c:
 *		ticket_base64url (signatures), ticket_is_base64url_sig, ticket_hex
 *		(challenge nonces) and ticket_leading_zero_bits (proofs of work).
 *
 * The input is the bytes to encode (at most 1024 are used).  Invariants:
 *	- base64url writes (4n + 2) / 3 characters of the alphabet and a NUL
 *	  into a buffer of exactly that size, and a decoder written here bit by
 *	  bit gets the input back, with zero bits left over;
 *	- 32 bytes (an HMAC-SHA256) become 43 characters that
 *	  ticket_is_base64url_sig accepts; it accepts the input as text exactly
 *	  when that is 43 characters of the alphabet;
 *	- hex is 2n lowercase hex digits that decode to the input;
 *	- the leading zero bits agree with a loop over single bits, from 0 to
 *	  8n, and for a 32-byte digest "count >= b" (how ticket_check_work
 *	  asks) holds exactly when the first b bits are zero.
 */
#include "fuzz.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_base64url(const uint8_t *in, size_t n)
{
	size_t		want = (4 * n + 2) / 3;
	char	   *out = malloc(want + 1);
	uint8_t    *back = malloc(n);
	size_t		got = ticket_base64url(in, n, out);
	uint32_t	acc = 0;
	int			nbits = 0;
	size_t		o = 0;

	CHECK(got == want);
	CHECK(out[want] == '\0');
	for (size_t i = 0; i < want; i++)
	{
		int			v = fuzz_b64_value((unsigned char) out[i]);

		CHECK(v >= 0);
		acc = (acc << 6) | (uint32_t) v;
		nbits += 6;
		if (nbits >= 8)
		{
			nbits -= 8;
			CHECK(o < n);
			back[o++] = (uint8_t) (acc >> nbits);
			acc &= (1u << nbits) - 1;
		}
	}
	CHECK(o == n);
	CHECK(acc == 0);			/* the padding bits of the last character */
	CHECK(n == 0 || memcmp(back, in, n) == 0);
	if (n == TICKET_SIG_BYTES)
	{
		CHECK(want == TICKET_SIG_CHARS);
		CHECK(ticket_is_base64url_sig(out, want));
	}
	free(out);
	free(back);
}

static void
check_hex(const uint8_t *in, size_t n)
{
	char	   *out = malloc(2 * n + 1);

	ticket_hex(in, n, out);
	CHECK(out[2 * n] == '\0');
	for (size_t i = 0; i < n; i++)
	{
		const char *hi = memchr("0123456789abcdef", out[2 * i], 16);
		const char *lo = memchr("0123456789abcdef", out[2 * i + 1], 16);

		CHECK(hi != NULL && lo != NULL);
		CHECK(((hi - "0123456789abcdef") << 4 | (lo - "0123456789abcdef")) == in[i]);
	}
	free(out);
}

static void
check_leading_zero_bits(const uint8_t *in, size_t n)
{
	int			want = 0;
	int			got = ticket_leading_zero_bits(in, n);

	while ((size_t) want < 8 * n && !(in[want / 8] & (0x80 >> (want % 8))))
		want++;
	CHECK(got == want);
	CHECK(got >= 0 && (size_t) got <= 8 * n);
	/*
	 * As ticket_check_work asks it: b bits solve when all of the first b are
	 * zero.  The threshold is where it moves, so test b = got and got + 1.
	 */
	if (n == 32)
		for (int b = got; b <= got + 1 && b <= TICKET_MAX_WORK_BITS; b++)
		{
			int			solved = 1;

			for (int i = 0; i < b && solved; i++)
				solved = !(in[i / 8] & (0x80 >> (i % 8)));
			CHECK((got >= b) == solved);
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		n = size > 1024 ? 1024 : size;
	uint8_t    *in = malloc(n);
	int			sig = size == TICKET_SIG_CHARS;

	memcpy(in, data, n);
	for (size_t i = 0; i < size && sig; i++)
		sig = fuzz_b64_value(data[i]) >= 0;
	CHECK(ticket_is_base64url_sig((const char *) in, n) == sig);

	check_base64url(in, n);
	check_hex(in, n);
	check_leading_zero_bits(in, n);
	/* the first 32 bytes as an HMAC would be: 43 characters */
	if (n >= TICKET_SIG_BYTES)
	{
		check_base64url(in, TICKET_SIG_BYTES);
		check_leading_zero_bits(in, TICKET_SIG_BYTES);
	}
	free(in);
	return 0;
}
