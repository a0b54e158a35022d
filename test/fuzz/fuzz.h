/*
 * fuzz.h
 *		What the libFuzzer harnesses of test/fuzz/ share.
 *
 * Each harness feeds one parser of src/parse.c and checks what it answers
 * against an independent, deliberately naive statement of the same rule
 * (split on '.', compare digit strings, loop over bits), so that a
 * disagreement is a finding even when nothing crashes.  CHECK aborts: the
 * fuzzer then keeps the input as a crash artifact, and test/fuzz/run fails.
 */
#ifndef TICKET_FUZZ_H
#define TICKET_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
			abort(); \
		} \
	} while (0)

/* The base64url alphabet, written out again rather than taken from parse.c. */
static const char fuzz_b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Position of c in the base64url alphabet, or -1. */
static inline int
fuzz_b64_value(unsigned char c)
{
	const char *p = c == '\0' ? NULL : memchr(fuzz_b64url, c, 64);

	return p == NULL ? -1 : (int) (p - fuzz_b64url);
}

/*
 * Is s[0..len) a canonical decimal no greater than the decimal string max:
 * digits only, no leading zero but "0", at most as long as max and, when as
 * long, not after it in byte order?  Sets *value when it is.
 */
static inline int
fuzz_ref_number(const char *s, size_t len, const char *max, int64_t *value)
{
	size_t		maxlen = strlen(max);
	uint64_t	v = 0;

	if (len == 0 || len > maxlen)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	if (s[0] == '0' && len > 1)
		return 0;
	if (len == maxlen && memcmp(s, max, len) > 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (uint64_t) (s[i] - '0');
	*value = (int64_t) v;
	return 1;
}

/* Is s[0..len) 43 characters of the base64url alphabet? */
static inline int
fuzz_ref_sig(const char *s, size_t len)
{
	if (len != TICKET_SIG_CHARS)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (fuzz_b64_value((unsigned char) s[i]) < 0)
			return 0;
	return 1;
}

/*
 * Split s[0..len) on '.' into at most max fields (start and length each);
 * return how many there are, or max + 1 when there are more.
 */
static inline int
fuzz_split(const char *s, size_t len, const char **field, size_t *flen, int max)
{
	int			n = 0;
	size_t		start = 0;

	for (size_t i = 0; i <= len; i++)
	{
		if (i == len || s[i] == '.')
		{
			if (n == max)
				return max + 1;
			field[n] = s + start;
			flen[n] = i - start;
			n++;
			start = i + 1;
		}
	}
	return n;
}

#endif							/* TICKET_FUZZ_H */
