/*
 * input.h
 *		The argument rules of the C functions (src/input.c): what a caller
 *		may pass as a text, a user id, an idempotency or client key, a list of
 *		seats.  The rules themselves are src/parse.c's, free of backend code
 *		and fuzzed; this is where they become errors with their SQLSTATEs.
 */
#ifndef TICKET_INPUT_H
#define TICKET_INPUT_H

#include "utils/array.h"

/* 22023 blank or control characters, 22001 more than max characters. */
extern void ticket_check_arg(text *t, const char *name, int max, const char *blank_hint);
extern void ticket_check_user_id(text *user_id);
extern void ticket_check_user_and_key(text *user_id, text *key);
extern void ticket_check_client_key(text *client_key);

/* The seat ids of an int[], sorted ascending (22004 or 22023 when bad). */
extern int32 *ticket_sorted_seat_ids(ArrayType *arr, int *n);
extern void ticket_check_seat_count(int items, const char *verb);

#endif							/* TICKET_INPUT_H */
