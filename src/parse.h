/*
 * parse.h
 *		The parsers and input checks of ticket, free of the backend.
 *
 * Everything a caller types that C reads before SQL does lives in
 * src/parse.c: passes, proof-of-work challenges and solutions, the text
 * inputs of a hold (user id, idempotency key, client key), seat-id arrays,
 * and the base64url and leading-zero-bit helpers behind signatures and
 * proofs of work.  That file uses the C library only (no palloc, ereport or
 * catalog access), reads its input by explicit length and never past it,
 * and answers with a TicketParseResult: the backend (src/pass.c,
 * src/hold.c) turns each refusal into its error, and the libFuzzer
 * harnesses in test/fuzz/ build the same file without a server.
 *
 * Plain int, not bool, in the interface: the backend's bool comes from c.h
 * and this header must mean the same thing on both sides of it.
 */
#ifndef TICKET_PARSE_H
#define TICKET_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TICKET_PASS_VERSION			"t1"
#define TICKET_WORK_VERSION			"w1"
#define TICKET_SIG_BYTES			32	/* HMAC-SHA256 */
#define TICKET_SIG_CHARS			43	/* base64url of 32 bytes, no padding */
#define TICKET_NONCE_BYTES			8
#define TICKET_NONCE_CHARS			16	/* lowercase hex */
#define TICKET_MAX_WORK_BITS		256 /* a SHA-256 digest has no more */
#define TICKET_MIN_SOLUTION			1
#define TICKET_MAX_SOLUTION			64
#define TICKET_MAX_USER_ID			128 /* characters */
#define TICKET_MAX_KEY				255 /* characters */
#define TICKET_MAX_SEATS_PER_CALL	100 /* the highest per_user_limit create_concert accepts */

/*
 * The longest text ticket_format_pass and ticket_format_challenge write:
 * every number at its widest with a sign and its '.' (11 + 1 for an int32,
 * 20 + 1 for an int64).  The parsers accept no sign, so a pass signed for a
 * negative number is never accepted; what the server signs is not negative.
 */
#define TICKET_MAX_PASS_LEN			(3 + 12 + 3 * 21 + TICKET_SIG_CHARS)
#define TICKET_MAX_CHALLENGE_LEN	(3 + 12 + 21 + 12 + 21 + TICKET_NONCE_CHARS + 1 + TICKET_SIG_CHARS)

/* Why an input was refused; TICKET_PARSE_OK when it was not. */
typedef enum TicketParseResult
{
	TICKET_PARSE_OK = 0,
	TICKET_PARSE_MALFORMED,		/* a pass or challenge of the wrong shape */
	TICKET_PARSE_SOLUTION_LENGTH,	/* not 1 to 64 characters */
	TICKET_PARSE_SOLUTION_CHARS,	/* not printable ASCII without spaces */
	TICKET_PARSE_BLANK,			/* empty or only whitespace */
	TICKET_PARSE_TOO_LONG,		/* more characters than allowed */
	TICKET_PARSE_SEATS_NOT_1D,	/* more than one dimension */
	TICKET_PARSE_SEATS_EMPTY,	/* no element */
	TICKET_PARSE_SEATS_NULL,	/* a NULL element */
	TICKET_PARSE_SEAT_INVALID,	/* an id that is not positive */
	TICKET_PARSE_SEAT_TWICE,	/* an id listed twice */
	TICKET_PARSE_CONTROL		/* a control character in a text */
} TicketParseResult;

/*
 * A pass, t1.<key_id>.<concert_id>.<place>.<expires>.<signature>: numbers
 * in decimal without sign or leading zeros, the signature base64url.
 */
typedef struct TicketPass
{
	int32_t		key_id;
	int64_t		concert_id;
	int64_t		place;
	int64_t		expires;		/* Unix seconds */
	char		sig[TICKET_SIG_CHARS + 1];
} TicketPass;

/*
 * A proof-of-work challenge,
 * w1.<key_id>.<concert_id>.<bits>.<expires>.<nonce>.<signature>.
 */
typedef struct TicketChallenge
{
	int32_t		key_id;
	int64_t		concert_id;
	int32_t		bits;			/* 0 to TICKET_MAX_WORK_BITS */
	int64_t		expires;		/* Unix seconds */
	char		nonce[TICKET_NONCE_CHARS + 1];
	char		sig[TICKET_SIG_CHARS + 1];
} TicketChallenge;

extern TicketParseResult ticket_parse_pass(const char *s, size_t len, TicketPass *pass);
extern size_t ticket_format_pass(const TicketPass *pass, char *buf, size_t size);
extern TicketParseResult ticket_parse_challenge(const char *s, size_t len, TicketChallenge *ch);
extern size_t ticket_format_challenge(const TicketChallenge *ch, char *buf, size_t size);
extern TicketParseResult ticket_check_solution(const char *s, size_t len);

extern size_t ticket_base64url(const uint8_t *in, size_t len, char *out);
extern int	ticket_is_base64url_sig(const char *s, size_t len);
extern void ticket_hex(const uint8_t *in, size_t len, char *out);
extern int	ticket_leading_zero_bits(const uint8_t *d, size_t len);

/*
 * The rules of a text argument that the SQL functions share with the C ones
 * (ticket._check_text): its length limit when it has one of its own (0: the
 * caller gives it), and whether tab, newline and carriage return may appear
 * in it.  NULL for a name without shared rules.
 */
typedef struct TicketTextRule
{
	const char *name;
	int			max_chars;
	bool		layout;
} TicketTextRule;

extern const TicketTextRule *ticket_text_rule(const char *name);
extern TicketParseResult ticket_check_text(const char *s, size_t len, int nchars, int max_chars, bool utf8,
										   bool layout);
extern TicketParseResult ticket_normalise_seat_ids(int32_t *seats, int n, int ndim, int has_nulls,
												   int32_t *bad);

#endif							/* TICKET_PARSE_H */
