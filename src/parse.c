/*
 * parse.c
 *		The parsers and input checks of ticket, free of the backend.
 *
 * This file includes no PostgreSQL header on purpose: it is built into
 * ticket.so like the others and, unchanged, into the libFuzzer harnesses of
 * test/fuzz/, which run without a server.  So it allocates nothing, raises
 * nothing and reads every input by its explicit length (a text datum is not
 * NUL-terminated, and a fuzzer's buffer ends where its length says).  Each
 * check answers a TicketParseResult; src/pass.c and src/hold.c raise the
 * error that goes with it.
 *
 * The grammars are canonical: a value has exactly one accepted spelling.
 * A signature covers the numbers, not their spelling, so a parser that took
 * "01" for 1 would let anyone respell a signed pass or challenge (a second
 * text for one pass, which defeats any check that compares texts).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * Read a decimal number no greater than max from s[*pos] to the next '.',
 * and step past that '.'.  No sign, no leading zero (except "0" itself);
 * return 0 for anything else, including a value over max.
 */
static int
read_number(const char *s, size_t len, size_t *pos, int64_t max, int64_t *out)
{
	size_t		start = *pos;
	size_t		i = start;
	int64_t		v = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9')
	{
		int			d = s[i] - '0';

		/* exact: max itself is accepted, max + 1 is not, nothing wraps */
		if (v > (max - d) / 10)
			return 0;
		v = v * 10 + d;
		i++;
	}
	if (i == start || i >= len || s[i] != '.')
		return 0;
	if (s[start] == '0' && i - start > 1)
		return 0;
	*out = v;
	*pos = i + 1;
	return 1;
}

/* Is c one of the 64 characters of base64url? */
static int
is_b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * Does s look like a signature: 43 base64url characters?  Whether the last
 * one carries the two zero bits of a 32-byte value is left to the signature
 * comparison, which accepts only the one spelling it computes.
 */
int
ticket_is_base64url_sig(const char *s, size_t len)
{
	if (len != TICKET_SIG_CHARS)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_b64url_char(s[i]))
			return 0;
	return 1;
}

/*
 * Parse a pass of len bytes into *pass.  Only its shape is checked here:
 * the key, signature, concert and expiry are the caller's (src/pass.c).
 */
TicketParseResult
ticket_parse_pass(const char *s, size_t len, TicketPass *pass)
{
	size_t		pos = 3;
	int64_t		key_id;

	if (len < 3 || memcmp(s, TICKET_PASS_VERSION ".", 3) != 0)
		return TICKET_PARSE_MALFORMED;
	if (!read_number(s, len, &pos, INT32_MAX, &key_id) ||
		!read_number(s, len, &pos, INT64_MAX, &pass->concert_id) ||
		!read_number(s, len, &pos, INT64_MAX, &pass->place) ||
		!read_number(s, len, &pos, INT64_MAX, &pass->expires) ||
		!ticket_is_base64url_sig(s + pos, len - pos))
		return TICKET_PARSE_MALFORMED;
	pass->key_id = (int32_t) key_id;
	memcpy(pass->sig, s + pos, TICKET_SIG_CHARS);
	pass->sig[TICKET_SIG_CHARS] = '\0';
	return TICKET_PARSE_OK;
}

/*
 * Write a pass as text into buf (size bytes, TICKET_MAX_PASS_LEN + 1 is
 * enough) and return its length, or size or more if it did not fit (as
 * snprintf); ticket_parse_pass reads back what it writes.
 */
size_t
ticket_format_pass(const TicketPass *pass, char *buf, size_t size)
{
	int			n = snprintf(buf, size, TICKET_PASS_VERSION ".%" PRId32 ".%" PRId64 ".%" PRId64
							 ".%" PRId64 ".%s", pass->key_id, pass->concert_id, pass->place,
							 pass->expires, pass->sig);

	return n < 0 ? 0 : (size_t) n;
}

/*
 * Parse a proof-of-work challenge of len bytes into *ch; like a pass, only
 * its shape.  The nonce is lowercase hex, as ticket_hex writes it.
 */
TicketParseResult
ticket_parse_challenge(const char *s, size_t len, TicketChallenge *ch)
{
	size_t		pos = 3;
	int64_t		key_id, bits;

	if (len < 3 || memcmp(s, TICKET_WORK_VERSION ".", 3) != 0)
		return TICKET_PARSE_MALFORMED;
	if (!read_number(s, len, &pos, INT32_MAX, &key_id) ||
		!read_number(s, len, &pos, INT64_MAX, &ch->concert_id) ||
		!read_number(s, len, &pos, TICKET_MAX_WORK_BITS, &bits) ||
		!read_number(s, len, &pos, INT64_MAX, &ch->expires))
		return TICKET_PARSE_MALFORMED;
	if (len - pos < TICKET_NONCE_CHARS + 1)
		return TICKET_PARSE_MALFORMED;
	for (int i = 0; i < TICKET_NONCE_CHARS; i++)
	{
		char		c = s[pos + i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return TICKET_PARSE_MALFORMED;
	}
	if (s[pos + TICKET_NONCE_CHARS] != '.')
		return TICKET_PARSE_MALFORMED;
	if (!ticket_is_base64url_sig(s + pos + TICKET_NONCE_CHARS + 1, len - pos - TICKET_NONCE_CHARS - 1))
		return TICKET_PARSE_MALFORMED;
	ch->key_id = (int32_t) key_id;
	ch->bits = (int32_t) bits;
	memcpy(ch->nonce, s + pos, TICKET_NONCE_CHARS);
	ch->nonce[TICKET_NONCE_CHARS] = '\0';
	memcpy(ch->sig, s + pos + TICKET_NONCE_CHARS + 1, TICKET_SIG_CHARS);
	ch->sig[TICKET_SIG_CHARS] = '\0';
	return TICKET_PARSE_OK;
}

/*
 * Write a challenge as text into buf (TICKET_MAX_CHALLENGE_LEN + 1 bytes is
 * enough) and return its length, as ticket_format_pass does.
 */
size_t
ticket_format_challenge(const TicketChallenge *ch, char *buf, size_t size)
{
	int			n = snprintf(buf, size, TICKET_WORK_VERSION ".%" PRId32 ".%" PRId64 ".%" PRId32
							 ".%" PRId64 ".%s.%s", ch->key_id, ch->concert_id, ch->bits,
							 ch->expires, ch->nonce, ch->sig);

	return n < 0 ? 0 : (size_t) n;
}

/*
 * Check a proof-of-work solution: 1 to 64 bytes, each printable ASCII other
 * than space (so a byte over 0x7e, negative as a signed char, is refused
 * too).
 */
TicketParseResult
ticket_check_solution(const char *s, size_t len)
{
	if (len < TICKET_MIN_SOLUTION || len > TICKET_MAX_SOLUTION)
		return TICKET_PARSE_SOLUTION_LENGTH;
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x21 || c > 0x7e)
			return TICKET_PARSE_SOLUTION_CHARS;
	}
	return TICKET_PARSE_OK;
}

/*
 * Encode len bytes as base64url without padding into out, NUL-terminated;
 * out needs (4 * len + 2) / 3 + 1 bytes.  Return the characters written.
 */
size_t
ticket_base64url(const uint8_t *in, size_t len, char *out)
{
	size_t		o = 0;

	for (size_t i = 0; i < len; i += 3)
	{
		size_t		left = len - i;
		uint32_t	v = (uint32_t) in[i] << 16;

		if (left > 1)
			v |= (uint32_t) in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		if (left > 1)
			out[o++] = b64url[(v >> 6) & 63];
		if (left > 2)
			out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
	return o;
}

/* Write len bytes as lowercase hex into out (2 * len + 1 bytes). */
void
ticket_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++)
	{
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* How many leading zero bits len bytes have (8 * len when all are zero). */
int
ticket_leading_zero_bits(const uint8_t *d, size_t len)
{
	int			n = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (d[i] == 0)
		{
			n += 8;
			continue;
		}
		for (int b = 7; b >= 0 && !(d[i] & (1 << b)); b--)
			n++;
		break;
	}
	return n;
}

/*
 * Whitespace, as ticket._check_text counts it: ASCII space, tab, newline,
 * vertical tab, form feed, carriage return, and the Unicode spaces.
 */
static bool
is_space_char(uint32_t c)
{
	return c == ' ' || (c >= 0x09 && c <= 0x0d) || c == 0xa0 || c == 0x1680 ||
		(c >= 0x2000 && c <= 0x200b) || c == 0x2028 || c == 0x2029 ||
		c == 0x202f || c == 0x205f || c == 0x3000 || c == 0xfeff;
}

/* A control character: C0, DEL and C1, as ticket._check_text says. */
static bool
is_control_char(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/*
 * The character at s (n > 0 bytes left) in UTF-8: its code point in *c and
 * its length.  A byte that does not start a whole, well-formed, shortest sequence is
 * one character of its own that is neither space nor control (the server
 * hands over valid UTF-8 only; this keeps any input within its bytes).
 */
static size_t
utf8_char(const unsigned char *s, size_t n, uint32_t *c)
{
	size_t		l;
	uint32_t	v;

	if (s[0] < 0x80)
	{
		*c = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
	{
		l = 2;
		v = s[0] & 0x1f;
	}
	else if ((s[0] & 0xf0) == 0xe0)
	{
		l = 3;
		v = s[0] & 0x0f;
	}
	else if ((s[0] & 0xf8) == 0xf0)
	{
		l = 4;
		v = s[0] & 0x07;
	}
	else
	{
		*c = 0xfffd;
		return 1;
	}
	if (l > n)
	{
		*c = 0xfffd;
		return 1;
	}
	for (size_t i = 1; i < l; i++)
	{
		if ((s[i] & 0xc0) != 0x80)
		{
			*c = 0xfffd;
			return 1;
		}
		v = (v << 6) | (s[i] & 0x3f);
	}
	/* an overlong form (C0 80 for NUL) is not well-formed either */
	if ((l == 2 && v < 0x80) || (l == 3 && v < 0x800) || (l == 4 && v < 0x10000))
	{
		*c = 0xfffd;
		return 1;
	}
	*c = v;
	return l;
}

/* The text arguments with rules of their own, for the C and the SQL functions alike. */
static const TicketTextRule text_rules[] = {
	{"user_id", TICKET_MAX_USER_ID, false},
	{"idempotency_key", TICKET_MAX_KEY, false},
	{"client_key", TICKET_MAX_KEY, false},
	{"provider_ref", TICKET_MAX_KEY, false},
	{"solution", TICKET_MAX_SOLUTION, false},
	/* free text for people (block_user keeps a block's reason to 200) */
	{"reason", 1000, true},
};

const TicketTextRule *
ticket_text_rule(const char *name)
{
	for (size_t i = 0; i < sizeof(text_rules) / sizeof(text_rules[0]); i++)
		if (strcmp(text_rules[i].name, name) == 0)
			return &text_rules[i];
	return NULL;
}

/*
 * Check a text input of len bytes and nchars characters (the caller counts
 * them in its encoding), for the C functions and for ticket._check_text in
 * the SQL ones: blank (nothing but whitespace) first, then longer than
 * max_chars, then a control character (with layout, tab, newline and
 * carriage return are not).  With utf8 false (another database encoding)
 * only ASCII bytes are classified; any other byte counts as visible.
 */
TicketParseResult
ticket_check_text(const char *s, size_t len, int nchars, int max_chars, bool utf8, bool layout)
{
	const unsigned char *p = (const unsigned char *) s;
	bool		blank = true;
	bool		control = false;
	size_t		i = 0;

	while (i < len)
	{
		uint32_t	c;

		if (utf8)
			i += utf8_char(p + i, len - i, &c);
		else
		{
			c = p[i] < 0x80 ? p[i] : 0x100;
			i++;
		}
		if (!is_space_char(c))
			blank = false;
		if (is_control_char(c) && !(layout && (c == '\t' || c == '\n' || c == '\r')))
			control = true;
	}
	if (blank)
		return TICKET_PARSE_BLANK;
	if (nchars > max_chars)
		return TICKET_PARSE_TOO_LONG;
	if (control)
		return TICKET_PARSE_CONTROL;
	return TICKET_PARSE_OK;
}

static int
cmp_int32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a;
	int32_t		y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

/*
 * Sort the n seat ids of an int[] with ndim dimensions in place, ascending,
 * and check them: one dimension, not empty, no NULL (has_nulls; the seats
 * are then not read), every id positive and listed once.  For a bad id, set
 * *bad to it: the smallest id if that is not positive, else the smallest
 * duplicate, so that the answer does not depend on the order of the array.
 */
TicketParseResult
ticket_normalise_seat_ids(int32_t *seats, int n, int ndim, int has_nulls, int32_t *bad)
{
	if (ndim > 1)
		return TICKET_PARSE_SEATS_NOT_1D;
	if (n <= 0)
		return TICKET_PARSE_SEATS_EMPTY;
	if (has_nulls)
		return TICKET_PARSE_SEATS_NULL;
	qsort(seats, (size_t) n, sizeof(int32_t), cmp_int32);
	for (int i = 0; i < n; i++)
	{
		if (seats[i] <= 0)
		{
			*bad = seats[i];
			return TICKET_PARSE_SEAT_INVALID;
		}
		if (i > 0 && seats[i] == seats[i - 1])
		{
			*bad = seats[i];
			return TICKET_PARSE_SEAT_TWICE;
		}
	}
	return TICKET_PARSE_OK;
}
