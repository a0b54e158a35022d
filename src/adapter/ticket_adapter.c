/*
 * ticket_adapter.c
 *		ticket-adapter: the payment adapter of ticket.  A process outside the
 *		database that claims payment jobs, calls the payment provider over
 *		HTTP and reports every result, as the adapter contract of docs/reference.md
 *		(and docs/adapter.md) describes.
 *
 * One thread, one event loop:
 *
 *		claim	ticket.claim_payments(name, n, lease) when HTTP slots are free
 *				(n = up to --batch, never more than the free slots of
 *				--concurrency), one transaction;
 *		call	POST /v1/charges or /v1/refunds for each job, concurrently
 *				(libcurl multi, HTTP/1.1 keep-alive), Idempotency-Key =
 *				provider_key, each bounded by --http-timeout and by the lease;
 *		report	the answers in batches, ticket.report_payments(jsonb): one
 *				call and one transaction per batch; again on 40001/40P01;
 *				one by one (payment_succeeded / payment_failed) on any other
 *				error, so one bad job cannot block the others;
 *		events	GET /v1/events?after=N every --events-interval: late
 *				captures, reported as successes;
 *		wait	when a claim came back short: LISTEN ticket_payment, with a
 *				poll every --poll as the fallback.
 *
 * SIGTERM or SIGINT: no more claims; the requests in flight finish (bounded
 * by the HTTP timeout) and are reported; exit 0.  A second signal calls off
 * the requests in flight and reports them as retryable failures (the retry
 * uses the same idempotency key, so it cannot charge twice).
 *
 * Statements are unnamed (PQexecParams with text parameters, no SQL built
 * from strings), so the adapter works through pgbouncer in transaction
 * pooling; LISTEN does not (use --no-listen there, or --listen-dsn for a
 * direct connection that only listens).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#define ADAPTER_VERSION "0.3"
#define REPORT_DELAY	0.010	/* s: answers wait this long to share a report */
#define REPORT_TRIES	5		/* a batch sent again on 40001/40P01 */
#define METRICS_EVERY	1.0		/* s */
#define RECONNECT_EVERY 1.0		/* s */
#define STOP_DB_GRACE	30.0	/* s: after a stop, how long to wait for the database */
#define HIST_BUCKETS	1000	/* latency histogram: 2 % wide buckets from 1 us */
#define HIST_RATIO		1.02
#define MAX_REF			255		/* provider_ref, as ticket checks it */
#define MAX_REASON		500		/* reason (ticket allows 1000) */

/* ---------------------------------------------------------------- buffers */

typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

static void
die_oom(void)
{
	fputs("ticket-adapter: out of memory\n", stderr);
	exit(1);
}

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		die_oom();
	return p;
}

static char *
xstrdup(const char *s)
{
	char	   *p = strdup(s);

	if (p == NULL)
		die_oom();
	return p;
}

static void
buf_reserve(Buf *b, size_t extra)
{
	size_t		need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 256;
	while (b->cap < need)
		b->cap *= 2;
	b->data = realloc(b->data, b->cap);
	if (b->data == NULL)
		die_oom();
}

static void
buf_append(Buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
buf_puts(Buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

static void
buf_printf(Buf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

static void
buf_reset(Buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static void
buf_free(Buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* A JSON string literal (quotes included). */
static void
buf_json_string(Buf *b, const char *s)
{
	buf_puts(b, "\"");
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
		{
			char		e[2] = {'\\', (char) c};

			buf_append(b, e, 2);
		}
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_append(b, s, 1);
	}
	buf_puts(b, "\"");
}

/*
 * A copy of text from the provider that ticket accepts as a reason or a
 * reference: printable ASCII only (anything else becomes '?', which keeps it
 * valid UTF-8 and free of control characters), at most max characters,
 * trimmed; NULL when nothing is left.
 */
static char *
clean_text(const char *s, size_t max)
{
	char	   *out;
	size_t		n = 0;

	if (s == NULL)
		return NULL;
	out = xmalloc(max + 1);
	while (*s == ' ')
		s++;
	for (; *s && n < max; s++)
	{
		unsigned char c = (unsigned char) *s;

		out[n++] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	if (n == 0)
	{
		free(out);
		return NULL;
	}
	return out;
}

/* ------------------------------------------------------------------- JSON */

/*
 * A small JSON reader: the document becomes a flat array of tokens in
 * document order; each knows where its subtree ends (next), so an object's
 * members are walked by skipping values.  Strings are unescaped on demand.
 */
typedef enum JType
{
	J_NULL, J_TRUE, J_FALSE, J_NUM, J_STR, J_ARR, J_OBJ
} JType;

typedef struct JTok
{
	JType		type;
	int			start;			/* J_STR: after the opening quote */
	int			end;			/* J_STR: at the closing quote */
	int			next;			/* index of the token after this subtree */
} JTok;

typedef struct JDoc
{
	const char *s;
	int			len;
	int			pos;
	JTok	   *tok;
	int			ntok;
	int			cap;
	int			depth;
} JDoc;

static void
j_skip_ws(JDoc *d)
{
	while (d->pos < d->len && (d->s[d->pos] == ' ' || d->s[d->pos] == '\t' ||
							   d->s[d->pos] == '\n' || d->s[d->pos] == '\r'))
		d->pos++;
}

static int
j_new(JDoc *d, JType type)
{
	if (d->ntok == d->cap)
	{
		d->cap = d->cap ? d->cap * 2 : 64;
		d->tok = realloc(d->tok, sizeof(JTok) * d->cap);
		if (d->tok == NULL)
			die_oom();
	}
	d->tok[d->ntok].type = type;
	d->tok[d->ntok].start = d->pos;
	d->tok[d->ntok].end = d->pos;
	d->tok[d->ntok].next = d->ntok + 1;
	return d->ntok++;
}

static bool j_value(JDoc *d);

static bool
j_string(JDoc *d)
{
	int			t = j_new(d, J_STR);

	d->pos++;					/* the opening quote */
	d->tok[t].start = d->pos;
	while (d->pos < d->len && d->s[d->pos] != '"')
	{
		if ((unsigned char) d->s[d->pos] < 0x20)
			return false;
		if (d->s[d->pos] == '\\')
			d->pos++;
		d->pos++;
	}
	if (d->pos >= d->len)
		return false;
	d->tok[t].end = d->pos++;
	d->tok[t].next = d->ntok;
	return true;
}

static bool
j_value(JDoc *d)
{
	int			t;
	char		c;

	j_skip_ws(d);
	if (d->pos >= d->len || ++d->depth > 64)
		return false;
	c = d->s[d->pos];
	if (c == '"')
	{
		if (!j_string(d))
			return false;
	}
	else if (c == '{' || c == '[')
	{
		t = j_new(d, c == '{' ? J_OBJ : J_ARR);
		d->pos++;
		j_skip_ws(d);
		if (d->pos < d->len && d->s[d->pos] == (c == '{' ? '}' : ']'))
			d->pos++;
		else
		{
			for (;;)
			{
				if (c == '{')
				{
					j_skip_ws(d);
					if (d->pos >= d->len || d->s[d->pos] != '"' || !j_string(d))
						return false;
					j_skip_ws(d);
					if (d->pos >= d->len || d->s[d->pos] != ':')
						return false;
					d->pos++;
				}
				if (!j_value(d))
					return false;
				j_skip_ws(d);
				if (d->pos >= d->len)
					return false;
				if (d->s[d->pos] == ',')
				{
					d->pos++;
					continue;
				}
				if (d->s[d->pos] != (c == '{' ? '}' : ']'))
					return false;
				d->pos++;
				break;
			}
		}
		d->tok[t].end = d->pos;
		d->tok[t].next = d->ntok;
	}
	else
	{
		int			start = d->pos;

		while (d->pos < d->len && (isalnum((unsigned char) d->s[d->pos]) ||
								   d->s[d->pos] == '-' || d->s[d->pos] == '+' || d->s[d->pos] == '.'))
			d->pos++;
		if (d->pos == start)
			return false;
		if (d->pos - start == 4 && strncmp(d->s + start, "null", 4) == 0)
			t = j_new(d, J_NULL);
		else if (d->pos - start == 4 && strncmp(d->s + start, "true", 4) == 0)
			t = j_new(d, J_TRUE);
		else if (d->pos - start == 5 && strncmp(d->s + start, "false", 5) == 0)
			t = j_new(d, J_FALSE);
		else if (c == '-' || isdigit((unsigned char) c))
			t = j_new(d, J_NUM);
		else
			return false;
		d->tok[t].start = start;
		d->tok[t].end = d->pos;
	}
	d->depth--;
	return true;
}

/* Parses s (len bytes); false when it is not one JSON value. */
static bool
j_parse(JDoc *d, const char *s, size_t len)
{
	memset(d, 0, sizeof(*d));
	if (len > 64 * 1024 * 1024)
		return false;
	d->s = s;
	d->len = (int) len;
	if (!j_value(d))
		return false;
	j_skip_ws(d);
	return d->pos == d->len;
}

static void
j_free(JDoc *d)
{
	free(d->tok);
	d->tok = NULL;
}

/* The value of member key of the object at token obj, or -1. */
static int
j_get(JDoc *d, int obj, const char *key)
{
	int			i;
	size_t		klen = strlen(key);

	if (obj < 0 || d->tok[obj].type != J_OBJ)
		return -1;
	for (i = obj + 1; i < d->tok[obj].next; i = d->tok[i + 1].next)
	{
		JTok	   *k = &d->tok[i];

		if ((size_t) (k->end - k->start) == klen && memcmp(d->s + k->start, key, klen) == 0)
			return i + 1;
	}
	return -1;
}

static void
utf8_put(Buf *b, unsigned cp)
{
	char		o[4];

	if (cp < 0x80)
		o[0] = (char) cp, buf_append(b, o, 1);
	else if (cp < 0x800)
		o[0] = (char) (0xc0 | cp >> 6), o[1] = (char) (0x80 | (cp & 0x3f)), buf_append(b, o, 2);
	else if (cp < 0x10000)
		o[0] = (char) (0xe0 | cp >> 12), o[1] = (char) (0x80 | ((cp >> 6) & 0x3f)),
			o[2] = (char) (0x80 | (cp & 0x3f)), buf_append(b, o, 3);
	else
		o[0] = (char) (0xf0 | cp >> 18), o[1] = (char) (0x80 | ((cp >> 12) & 0x3f)),
			o[2] = (char) (0x80 | ((cp >> 6) & 0x3f)), o[3] = (char) (0x80 | (cp & 0x3f)), buf_append(b, o, 4);
}

/* A string member, unescaped (malloc'd), or NULL when absent or not a string. */
static char *
j_str(JDoc *d, int obj, const char *key)
{
	int			t = j_get(d, obj, key);
	Buf			b = {0};
	int			i;

	if (t < 0 || d->tok[t].type != J_STR)
		return NULL;
	buf_reserve(&b, 0);
	buf_reset(&b);
	for (i = d->tok[t].start; i < d->tok[t].end; i++)
	{
		char		c = d->s[i];

		if (c != '\\')
		{
			buf_append(&b, &c, 1);
			continue;
		}
		c = d->s[++i];
		switch (c)
		{
			case 'b':
				buf_append(&b, "\b", 1);
				break;
			case 'f':
				buf_append(&b, "\f", 1);
				break;
			case 'n':
				buf_append(&b, "\n", 1);
				break;
			case 'r':
				buf_append(&b, "\r", 1);
				break;
			case 't':
				buf_append(&b, "\t", 1);
				break;
			case 'u':
				{
					unsigned	cp = 0;
					int			k;

					for (k = 0; k < 4 && i + 1 < d->tok[t].end && isxdigit((unsigned char) d->s[i + 1]); k++)
					{
						char		h = d->s[++i];

						cp = cp * 16 + (unsigned) (isdigit((unsigned char) h) ? h - '0' : (tolower((unsigned char) h) - 'a' + 10));
					}
					/* Lone surrogates and NUL are not text: '?'. */
					if (k < 4 || cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
						cp = '?';
					utf8_put(&b, cp);
					break;
				}
			default:
				buf_append(&b, &c, 1);
				break;
		}
	}
	return b.data;
}

/* An integer member (a number, or a string of digits), or -1. */
static long long
j_int(JDoc *d, int obj, const char *key)
{
	int			t = j_get(d, obj, key);
	char		num[32];
	int			n;
	char	   *end;
	long long	v;

	if (t < 0 || (d->tok[t].type != J_NUM && d->tok[t].type != J_STR))
		return -1;
	n = d->tok[t].end - d->tok[t].start;
	if (n <= 0 || n >= (int) sizeof(num))
		return -1;
	memcpy(num, d->s + d->tok[t].start, n);
	num[n] = '\0';
	errno = 0;
	v = strtoll(num, &end, 10);
	if (errno || *end || v < 0)
		return -1;
	return v;
}

/* ---------------------------------------------------------------- options */

typedef struct Options
{
	const char *name;
	const char *dsn;
	const char *listen_dsn;
	const char *provider;
	int			batch;
	int			concurrency;
	int			lease;			/* s */
	double		poll;			/* s */
	bool		listen;
	double		http_timeout;	/* s */
	double		events_interval;	/* s; 0: no event feed */
	double		log_interval;	/* s; 0: only at exit */
	const char *metrics_file;
	double		duration;		/* s; 0: never */
	double		idle_exit;		/* s; 0: never */
} Options;

static Options opt = {
	.name = "adapter-1",
	.dsn = "",
	.batch = 50,
	.concurrency = 16,
	.lease = 10,
	.poll = 1.0,
	.listen = true,
	.http_timeout = 10.0,
	.events_interval = 1.0,
	.log_interval = 10.0,
};

static const char usage_text[] =
"ticket-adapter: the payment adapter of ticket.  Claims payment jobs\n"
"(ticket.claim_payments), calls the payment provider over HTTP and reports\n"
"every result (ticket.report_payments).\n"
"\n"
"Usage: ticket-adapter --provider URL [OPTION]...\n"
"\n"
"  --provider URL         the provider's base URL, e.g. http://127.0.0.1:8080 (required)\n"
"  --name NAME            adapter name, the lease owner (default adapter-1)\n"
"  --dsn CONNINFO         libpq connection string or URI (default: the PG* environment);\n"
"                         the role needs ticket_adapter\n"
"  --listen-dsn CONNINFO  a direct connection used only for LISTEN, when --dsn goes\n"
"                         through pgbouncer (default: LISTEN on the --dsn connection)\n"
"  --batch N              max jobs per claim, 1-1000 (default 50)\n"
"  --concurrency N        HTTP requests in flight, 1-1000 (default 16)\n"
"  --lease S              lease in whole seconds, 1-3600 (default 10): every job is\n"
"                         reported within it\n"
"  --poll S               poll for due jobs every S seconds when idle (default 1)\n"
"  --no-listen            no LISTEN ticket_payment (through pgbouncer in transaction\n"
"                         pooling): poll only\n"
"  --http-timeout S       per request (default 10); never past 80 % of the lease\n"
"  --events-interval S    poll the provider's event feed (late captures) every S\n"
"                         seconds (default 1; 0: not at all)\n"
"  --log-interval S       summary line on stderr every S seconds (default 10; 0: only at exit)\n"
"  --metrics-file PATH    counters in Prometheus text format, rewritten every second\n"
"  --duration S           stop after S seconds (default 0: never)\n"
"  --idle-exit S          stop after S seconds with nothing claimed or in flight\n"
"                         (default 0: never)\n"
"  --help                 this text\n"
"\n"
"SIGTERM or SIGINT: stop claiming, finish and report the requests in flight, exit 0;\n"
"a second one calls them off and reports them as retryable failures.\n";

static void
usage_error(const char *fmt,...)
{
	va_list		ap;

	fputs("ticket-adapter: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry \"ticket-adapter --help\".\n", stderr);
	exit(2);
}

static double
parse_seconds(const char *optname, const char *s, double min, double max)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
		usage_error("--%s must be a number of seconds from %g to %g, not \"%s\"", optname, min, max, s);
	return v;
}

static int
parse_int(const char *optname, const char *s, int min, int max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		usage_error("--%s must be a whole number from %d to %d, not \"%s\"", optname, min, max, s);
	return (int) v;
}

static void
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"name", required_argument, NULL, 'n'},
		{"dsn", required_argument, NULL, 'd'},
		{"listen-dsn", required_argument, NULL, 'D'},
		{"provider", required_argument, NULL, 'p'},
		{"batch", required_argument, NULL, 'b'},
		{"concurrency", required_argument, NULL, 'c'},
		{"lease", required_argument, NULL, 'l'},
		{"poll", required_argument, NULL, 'P'},
		{"no-listen", no_argument, NULL, 'N'},
		{"http-timeout", required_argument, NULL, 't'},
		{"events-interval", required_argument, NULL, 'e'},
		{"log-interval", required_argument, NULL, 'L'},
		{"metrics-file", required_argument, NULL, 'm'},
		{"duration", required_argument, NULL, 'T'},
		{"idle-exit", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	const char *s;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'n':
				opt.name = optarg;
				break;
			case 'd':
				opt.dsn = optarg;
				break;
			case 'D':
				opt.listen_dsn = optarg;
				break;
			case 'p':
				opt.provider = optarg;
				break;
			case 'b':
				opt.batch = parse_int("batch", optarg, 1, 1000);
				break;
			case 'c':
				opt.concurrency = parse_int("concurrency", optarg, 1, 1000);
				break;
			case 'l':
				opt.lease = parse_int("lease", optarg, 1, 3600);
				break;
			case 'P':
				opt.poll = parse_seconds("poll", optarg, 0.01, 3600);
				break;
			case 'N':
				opt.listen = false;
				break;
			case 't':
				opt.http_timeout = parse_seconds("http-timeout", optarg, 0.1, 3600);
				break;
			case 'e':
				opt.events_interval = parse_seconds("events-interval", optarg, 0, 3600);
				break;
			case 'L':
				opt.log_interval = parse_seconds("log-interval", optarg, 0, 86400);
				break;
			case 'm':
				opt.metrics_file = optarg;
				break;
			case 'T':
				opt.duration = parse_seconds("duration", optarg, 0, 1e9);
				break;
			case 'i':
				opt.idle_exit = parse_seconds("idle-exit", optarg, 0, 1e9);
				break;
			case 'h':
				fputs(usage_text, stdout);
				exit(0);
			case ':':
				usage_error("option %s needs a value", argv[optind - 1]);
				break;
			default:
				usage_error("unknown option %s", argv[optind - 1]);
				break;
		}
	}
	if (optind < argc)
		usage_error("unexpected argument \"%s\"", argv[optind]);
	if (opt.provider == NULL)
		usage_error("--provider URL is required");
	if (strncmp(opt.provider, "http://", 7) != 0 && strncmp(opt.provider, "https://", 8) != 0)
		usage_error("--provider must be an http:// or https:// URL, not \"%s\"", opt.provider);
	if (opt.name[0] == '\0' || strlen(opt.name) > 100)
		usage_error("--name must have 1 to 100 characters");
	for (s = opt.name; *s; s++)
		if ((unsigned char) *s < 0x20 || *s == 0x7f)
			usage_error("--name must not contain control characters");
	if (opt.metrics_file && opt.metrics_file[0] == '\0')
		usage_error("--metrics-file must not be empty");
	if (opt.listen_dsn && !opt.listen)
		usage_error("--listen-dsn and --no-listen contradict each other");
}

/* ---------------------------------------------------------------- counters */

typedef struct Histogram
{
	uint64_t	count;
	double		sum;			/* s */
	uint32_t	bucket[HIST_BUCKETS];
} Histogram;

typedef struct Counters
{
	uint64_t	claimed;
	uint64_t	claims;
	uint64_t	charges_ok;
	uint64_t	declined;
	uint64_t	retryable;
	uint64_t	refunds_ok;
	uint64_t	refunds_failed;
	uint64_t	late;
	uint64_t	report_batches;
	uint64_t	report_retries;
	uint64_t	report_errors;
	uint64_t	reported;
	uint64_t	http_errors;
	uint64_t	notifications;
	uint64_t	db_errors;
	uint64_t	status[7];		/* by what ticket answered, see status_names */
} Counters;

static const char *const status_names[] = {
	"paid", "refunding", "refunded", "retrying", "failed", "succeeded", "other"
};

static Counters cnt;
static Histogram lat_total, lat_interval;

static void
hist_add(Histogram *h, double seconds)
{
	double		us = seconds * 1e6;
	int			i = us <= 1 ? 0 : (int) (log(us) / log(HIST_RATIO));

	if (i >= HIST_BUCKETS)
		i = HIST_BUCKETS - 1;
	h->bucket[i]++;
	h->count++;
	h->sum += seconds;
}

/* The q quantile in seconds (the upper bound of its bucket), 0 when empty. */
static double
hist_quantile(const Histogram *h, double q)
{
	uint64_t	rank,
				seen = 0;
	int			i;

	if (h->count == 0)
		return 0;
	rank = (uint64_t) ceil(q * (double) h->count);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++)
	{
		seen += h->bucket[i];
		if (seen >= rank)
			break;
	}
	return pow(HIST_RATIO, i + 1) / 1e6;
}

/* ------------------------------------------------------------------ state */

typedef enum Kind
{
	KIND_CHARGE, KIND_REFUND, KIND_EVENTS
} Kind;

/* A provider request in flight: a claimed job, or the event feed's poll. */
typedef struct Job
{
	Kind		kind;
	long long	payment_id;
	long long	order_id;
	int			attempt;
	char		amount[32];
	char	   *provider_key;
	char	   *refund_ref;
	double		deadline;		/* monotonic s: the request must end by then */
	double		started;		/* monotonic s */
	CURL	   *easy;
	struct curl_slist *headers;
	Buf			req;
	Buf			resp;
	char		errbuf[CURL_ERROR_SIZE];
	struct Job *next;			/* in the free list, or in flight */
	struct Job *prev;			/* in flight */
} Job;

/* A result waiting to be reported. */
typedef struct Report
{
	long long	payment_id;
	bool		ok;
	bool		retryable;
	int			attempt;		/* the job's attempt as claimed; 0: not known (a late capture) */
	char	   *text;			/* provider_ref when ok, else the reason */
} Report;

static CURLM *multi;
static char *url_charges, *url_refunds, *url_events;
static Job *free_jobs;
static int	inflight;			/* jobs (not the event poll) in flight */
static Job *inflight_list;		/* those jobs */
static Job *queue_head, *queue_tail;	/* claimed jobs waiting for an HTTP slot */
static int	nqueued;
static double latency_avg;		/* s, moving average of the provider's answers */
static Job *events_job;			/* the event poll in flight, or NULL */
static bool events_more;		/* the last poll brought events: poll again at once */
static long long events_after;

static Report *reports;
static int	nreports, reports_cap;
static double oldest_report;

static volatile sig_atomic_t signals_seen;
static int	signal_pipe[2] = {-1, -1};
static int	stopping;			/* 0, 1: finishing, 2: calling off */
static const char *stop_reason;
static double stop_at;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
logmsg(const char *fmt,...)
{
	va_list		ap;
	Buf			b = {0};

	buf_printf(&b, "ticket-adapter %s: ", opt.name);
	va_start(ap, fmt);
	{
		char		line[2048];

		vsnprintf(line, sizeof(line), fmt, ap);
		buf_puts(&b, line);
	}
	va_end(ap);
	buf_puts(&b, "\n");
	fputs(b.data, stderr);
	buf_free(&b);
}

/* A libpq error message on one line. */
static const char *
one_line(const char *msg)
{
	static char line[1024];
	size_t		n = 0;

	for (; msg && *msg && n < sizeof(line) - 1; msg++)
		line[n++] = (*msg == '\n' || *msg == '\r' || *msg == '\t') ? ' ' : *msg;
	while (n > 0 && line[n - 1] == ' ')
		n--;
	line[n] = '\0';
	return line;
}

/* --------------------------------------------------------------- database */

/*
 * Two connections, each with at most one query in flight, sent with
 * PQsendQueryParams and read without blocking from the event loop: claims
 * (which also LISTENs, unless --listen-dsn) and reports.  So a claim, a
 * report and the HTTP requests all progress at once, and the database
 * work of claims and reports runs on two backends.
 */
typedef enum Query
{
	Q_NONE, Q_CLAIM, Q_BATCH, Q_ONE
} Query;

typedef struct Db
{
	const char *role;			/* in application_name and messages */
	PGconn	   *conn;
	Query		q;				/* the query in flight */
	PGresult   *res;			/* its first result */
	double		next_connect_at;
} Db;

static Db	claim_db = {.role = "claims"};
static Db	report_db = {.role = "reports"};
static PGconn *listen_db;		/* a separate connection for LISTEN (--listen-dsn) */
static double listen_next_connect_at;
static bool notified;

static int	claim_want;			/* the claim in flight asks for this many */
static double last_busy;		/* when a claim last brought jobs or any were in flight */
static double claim_sent_at;
static double next_claim_at;

static int	report_n;			/* the first report_n reports are being reported */
static bool report_one_by_one;	/* ... one by one, the next being report_i */
static int	report_i;
static int	report_tries;
static double report_retry_at;	/* 0, or when to send again (40001/40P01) */
static bool report_batch_missing;	/* ticket.report_payments does not exist */
static double report_batch_recheck_at;

static PGconn *
connect_db(const char *dsn, const char *role)
{
	char		appname[160];
	const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *vals[] = {"5", appname, dsn, NULL};
	PGconn	   *conn;

	snprintf(appname, sizeof(appname), "ticket-adapter %s %s", opt.name, role);
	if (dsn == NULL || dsn[0] == '\0')
		keys[2] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL)
		die_oom();
	if (PQstatus(conn) != CONNECTION_OK)
	{
		logmsg("cannot connect (%s): %s", role, one_line(PQerrorMessage(conn)));
		cnt.db_errors++;
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* LISTEN ticket_payment on conn; false (logged) when it fails. */
static bool
do_listen(PGconn *conn)
{
	PGresult   *res = PQexec(conn, "LISTEN ticket_payment");
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
	{
		logmsg("LISTEN ticket_payment failed (through pgbouncer? use --no-listen or --listen-dsn): %s",
			   one_line(PQerrorMessage(conn)));
		cnt.db_errors++;
	}
	PQclear(res);
	return ok;
}

static void report_lost(void);

/* The connection broke: what was in flight is dealt with, connect again later. */
static void
db_lost(Db *d)
{
	logmsg("lost the database connection (%s): %s", d->role, one_line(PQerrorMessage(d->conn)));
	cnt.db_errors++;
	if (d->q == Q_CLAIM)
	{
		/* Jobs it may have claimed are claimed again when their lease ends. */
		next_claim_at = now_s() + RECONNECT_EVERY;
	}
	else if (d->q == Q_BATCH || d->q == Q_ONE)
		report_lost();
	PQclear(d->res);
	d->res = NULL;
	d->q = Q_NONE;
	PQfinish(d->conn);
	d->conn = NULL;
}

/* Connected (or connects now, at most once per RECONNECT_EVERY)? */
static bool
db_ready(Db *d, double now)
{
	if (d->conn && PQstatus(d->conn) == CONNECTION_OK)
		return true;
	if (d->conn)
		db_lost(d);
	if (now < d->next_connect_at)
		return false;
	d->next_connect_at = now + RECONNECT_EVERY;
	d->conn = connect_db(opt.dsn, d->role);
	if (d->conn && d == &claim_db && opt.listen && opt.listen_dsn == NULL && !do_listen(d->conn))
	{
		PQfinish(d->conn);
		d->conn = NULL;
	}
	if (d->conn == NULL)
		return false;
	if (d == &claim_db)
		next_claim_at = now;	/* whatever became due meanwhile */
	return true;
}

static void
listen_ready(double now)
{
	if (opt.listen_dsn == NULL)
		return;
	if (listen_db && PQstatus(listen_db) == CONNECTION_OK)
		return;
	if (listen_db)
	{
		logmsg("lost the listening connection: %s", one_line(PQerrorMessage(listen_db)));
		cnt.db_errors++;
		PQfinish(listen_db);
		listen_db = NULL;
	}
	if (now < listen_next_connect_at)
		return;
	listen_next_connect_at = now + RECONNECT_EVERY;
	listen_db = connect_db(opt.listen_dsn, "listen");
	if (listen_db && !do_listen(listen_db))
	{
		PQfinish(listen_db);
		listen_db = NULL;
	}
	if (listen_db)
		next_claim_at = now;
}

static void
drain_notifications(PGconn *conn)
{
	PGnotify   *n;

	while ((n = PQnotifies(conn)) != NULL)
	{
		cnt.notifications++;
		notified = true;
		PQfreemem(n);
	}
}

static bool
is_retry_state(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
}

static bool
is_state(const PGresult *res, const char *code)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state && strcmp(state, code) == 0;
}

/* Sends a query (text parameters, unnamed statement); false if the connection broke. */
static bool
db_send(Db *d, Query q, const char *sql, int n, const char *const *values)
{
	if (!PQsendQueryParams(d->conn, sql, n, NULL, values, NULL, NULL, 0))
	{
		db_lost(d);
		return false;
	}
	d->q = q;
	return true;
}

/* Delay before sending again after 40001/40P01: 20, 40, 80 ... ms, half of it random. */
static double
retry_backoff(int tries)
{
	double		d = 0.01 * (1 << (tries < 8 ? tries : 8));

	return d / 2 + d / 2 * ((double) rand() / RAND_MAX);
}

/* -------------------------------------------------------------- reporting */

static void
add_report(long long payment_id, bool ok, const char *text, bool retryable, int attempt)
{
	Report	   *r;

	if (nreports == reports_cap)
	{
		reports_cap = reports_cap ? reports_cap * 2 : 64;
		reports = realloc(reports, sizeof(Report) * reports_cap);
		if (reports == NULL)
			die_oom();
	}
	if (nreports == 0)
		oldest_report = now_s();
	r = &reports[nreports++];
	r->payment_id = payment_id;
	r->ok = ok;
	r->retryable = retryable;
	r->attempt = attempt;
	r->text = clean_text(text, ok ? MAX_REF : MAX_REASON);
	if (r->text == NULL)
		r->text = xstrdup(ok ? "unknown" : "provider gave no reason");
}

static void
count_status(const char *status)
{
	int			i;

	for (i = 0; i < 6; i++)
		if (strcmp(status, status_names[i]) == 0)
			break;
	cnt.status[i]++;
}

/* Forgets the first n reports (reported, or given up). */
static void
drop_reports(int n)
{
	int			i;

	for (i = 0; i < n; i++)
		free(reports[i].text);
	memmove(reports, reports + n, sizeof(Report) * (nreports - n));
	nreports -= n;
	if (nreports > 0)
		oldest_report = now_s();
}

/*
 * Puts the next call's reports first and returns how many: at most 1000,
 * and one per payment (report_payments refuses a payment twice in one call;
 * a late capture can meet its own decline); the others wait for the next.
 */
static int
pick_batch(void)
{
	Report	   *picked = xmalloc(sizeof(Report) * nreports);
	Report	   *rest = xmalloc(sizeof(Report) * nreports);
	int			n = 0, m = 0, i, j;

	for (i = 0; i < nreports; i++)
	{
		bool		dup = n >= 1000;

		for (j = 0; j < n && !dup; j++)
			dup = picked[j].payment_id == reports[i].payment_id;
		if (dup)
			rest[m++] = reports[i];
		else
			picked[n++] = reports[i];
	}
	memcpy(reports, picked, sizeof(Report) * n);
	memcpy(reports + n, rest, sizeof(Report) * m);
	free(picked);
	free(rest);
	return n;
}

/* The batch: one call of ticket.report_payments, one transaction. */
static void
send_batch(void)
{
	Buf			json = {0};
	const char *values[1];
	int			i;

	buf_puts(&json, "[");
	for (i = 0; i < report_n; i++)
	{
		Report	   *r = &reports[i];

		buf_printf(&json, "%s{\"payment_id\":%lld,\"outcome\":\"%s\",\"%s\":", i ? "," : "",
				   r->payment_id, r->ok ? "succeeded" : "failed", r->ok ? "provider_ref" : "reason");
		buf_json_string(&json, r->text);
		if (!r->ok)
			buf_printf(&json, ",\"retryable\":%s", r->retryable ? "true" : "false");
		/* a retryable failure of an attempt since superseded is then ignored */
		if (r->attempt > 0)
			buf_printf(&json, ",\"attempt\":%d", r->attempt);
		buf_puts(&json, "}");
	}
	buf_puts(&json, "]");
	values[0] = json.data;
	db_send(&report_db, Q_BATCH, "SELECT payment_id, status FROM ticket.report_payments($1::jsonb)", 1, values);
	buf_free(&json);
}

/* One report by itself: payment_succeeded or payment_failed, its own transaction. */
static void
send_one(void)
{
	Report	   *r = &reports[report_i];
	char		id[32];
	const char *values[3] = {id, r->text, r->retryable ? "true" : "false"};

	snprintf(id, sizeof(id), "%lld", r->payment_id);
	db_send(&report_db, Q_ONE, r->ok ? "SELECT ticket.payment_succeeded($1::bigint, $2::text)"
			: "SELECT ticket.payment_failed($1::bigint, $2::text, $3::boolean)", r->ok ? 2 : 3, values);
}

/* Sends the next batch of waiting reports (the report connection is idle). */
static void
start_reports(double now)
{
	report_n = pick_batch();
	report_tries = 1;
	report_retry_at = 0;
	if (report_batch_missing && now >= report_batch_recheck_at)
		report_batch_missing = false;
	report_one_by_one = report_batch_missing;
	report_i = 0;
	if (report_one_by_one)
		send_one();
	else
		send_batch();
}

/* The connection broke while reporting: what is done is done, the rest waits. */
static void
report_lost(void)
{
	if (report_one_by_one)
		drop_reports(report_i);
	report_n = 0;
	report_retry_at = 0;
}

/* The report connection answered. */
static void
report_result(Query q, PGresult *res, double now)
{
	bool		ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	int			i;

	if (!ok && PQstatus(report_db.conn) != CONNECTION_OK)
	{
		report_lost();			/* kept; db_ready() connects again */
		return;
	}
	if (!ok && is_retry_state(res) && report_tries < REPORT_TRIES)
	{
		/* It did not happen: the same again, shortly. */
		cnt.report_retries++;
		report_retry_at = now + retry_backoff(report_tries++);
		return;
	}
	if (q == Q_BATCH)
	{
		if (ok)
		{
			cnt.report_batches++;
			cnt.reported += report_n;
			for (i = 0; i < PQntuples(res); i++)
				count_status(PQgetvalue(res, i, 1));
			drop_reports(report_n);
			report_n = 0;
			return;
		}
		if (is_state(res, "42883"))
		{
			/* An extension older than 0.3: one by one, and look again later. */
			logmsg("ticket.report_payments(jsonb) does not exist (ticket older than 0.3?): reporting one by one");
			report_batch_missing = true;
			report_batch_recheck_at = now + 60;
		}
		else
		{
			logmsg("report of %d results failed, reporting them one by one: %s", report_n,
				   one_line(PQresultErrorMessage(res)));
			cnt.report_errors++;
		}
		report_one_by_one = true;
		report_i = 0;
	}
	else
	{
		Report	   *r = &reports[report_i];

		if (ok)
		{
			if (PQntuples(res) == 1)
				count_status(PQgetvalue(res, 0, 0));
			cnt.reported++;
		}
		else
		{
			/* Beyond help: its lease runs out and the job is claimed again. */
			logmsg("report of payment %lld (%s) failed: %s", r->payment_id, r->ok ? "succeeded" : "failed",
				   one_line(PQresultErrorMessage(res)));
			cnt.report_errors++;
		}
		report_i++;
	}
	report_tries = 1;
	if (report_i < report_n)
		send_one();
	else
	{
		drop_reports(report_n);
		report_n = 0;
	}
}

/* ------------------------------------------------------------------- HTTP */

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	Job		   *job = userdata;
	size_t		n = size * nmemb;

	if (job->resp.len + n > 16 * 1024 * 1024)
		return 0;				/* an answer this big is not one */
	buf_append(&job->resp, ptr, n);
	return n;
}

static Job *
job_get(void)
{
	Job		   *job = free_jobs;

	if (job)
	{
		free_jobs = job->next;
		curl_easy_reset(job->easy);
	}
	else
	{
		job = xmalloc(sizeof(Job));
		memset(job, 0, sizeof(Job));
		job->easy = curl_easy_init();
		if (job->easy == NULL)
			die_oom();
	}
	job->next = NULL;
	buf_reset(&job->req);
	buf_reset(&job->resp);
	job->errbuf[0] = '\0';
	return job;
}

static void
job_put(Job *job)
{
	free(job->provider_key);
	free(job->refund_ref);
	job->provider_key = job->refund_ref = NULL;
	curl_slist_free_all(job->headers);
	job->headers = NULL;
	job->next = free_jobs;
	free_jobs = job;
}

static void
job_free_all(void)
{
	while (free_jobs)
	{
		Job		   *job = free_jobs;

		free_jobs = job->next;
		curl_easy_cleanup(job->easy);
		buf_free(&job->req);
		buf_free(&job->resp);
		free(job);
	}
}

/* Sets up and adds a request; false when curl would not take it. */
static bool
job_start(Job *job, const char *url, double timeout)
{
	CURL	   *e = job->easy;
	long		ms = (long) (timeout * 1000);

	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, job);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, job);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, job->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms < 100 ? 100L : ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms < 100 ? 100L : ms);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "ticket-adapter/" ADAPTER_VERSION);
	job->headers = curl_slist_append(job->headers, "Expect:");
	job->headers = curl_slist_append(job->headers, "Accept: application/json");
	if (job->kind != KIND_EVENTS)
	{
		char		key[300];

		snprintf(key, sizeof(key), "Idempotency-Key: %s", job->provider_key);
		job->headers = curl_slist_append(job->headers, key);
		job->headers = curl_slist_append(job->headers, "Content-Type: application/json");
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, job->req.data);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) job->req.len);
	}
	if (job->headers == NULL)
		die_oom();
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, job->headers);
	job->started = now_s();
	return curl_multi_add_handle(multi, e) == CURLM_OK;
}

/* The reason a provider gives in an error body, or NULL. */
static char *
body_reason(const Buf *body)
{
	JDoc		d;
	char	   *s = NULL;
	int			err;

	if (body->len == 0 || !j_parse(&d, body->data, body->len))
		return NULL;
	s = j_str(&d, 0, "reason");
	if (s == NULL)
		s = j_str(&d, 0, "message");
	if (s == NULL && (err = j_get(&d, 0, "error")) >= 0)
	{
		if (d.tok[err].type == J_OBJ)
		{
			s = j_str(&d, err, "message");
			if (s == NULL)
				s = j_str(&d, err, "code");
		}
		else
			s = j_str(&d, 0, "error");
	}
	j_free(&d);
	return s;
}

/* A job's answer came (or did not): a report. */
static void
job_done(Job *job, CURLcode code)
{
	long		status = 0;
	double		elapsed = now_s() - job->started;
	const char *what = job->kind == KIND_CHARGE ? "charge" : "refund";
	char		reason[400];

	curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &status);
	latency_avg = latency_avg > 0 ? 0.9 * latency_avg + 0.1 * elapsed : elapsed;
	if (code != CURLE_OK)
	{
		snprintf(reason, sizeof(reason), "provider unreachable: %s",
				 job->errbuf[0] ? job->errbuf : curl_easy_strerror(code));
		cnt.http_errors++;
		cnt.retryable++;
		add_report(job->payment_id, false, reason, true, job->attempt);
		return;
	}
	hist_add(&lat_total, elapsed);
	hist_add(&lat_interval, elapsed);
	if (status == 200 || status == 201)
	{
		JDoc		d;
		char	   *id = NULL;
		char	   *ref;

		if (j_parse(&d, job->resp.data ? job->resp.data : "", job->resp.len))
			id = j_str(&d, 0, "id");
		j_free(&d);
		ref = clean_text(id, MAX_REF);
		free(id);
		if (ref)
		{
			if (job->kind == KIND_CHARGE)
				cnt.charges_ok++;
			else
				cnt.refunds_ok++;
			add_report(job->payment_id, true, ref, false, job->attempt);
			free(ref);
			return;
		}
		snprintf(reason, sizeof(reason), "provider answered %s %ld without an id", what, status);
		cnt.http_errors++;
		cnt.retryable++;
		add_report(job->payment_id, false, reason, true, job->attempt);
		return;
	}
	if (status == 402)
	{
		char	   *r = body_reason(&job->resp);

		snprintf(reason, sizeof(reason), "%s", r ? r : "declined");
		free(r);
		if (job->kind == KIND_CHARGE)
			cnt.declined++;
		else
			cnt.refunds_failed++;
		add_report(job->payment_id, false, reason, false, job->attempt);
		return;
	}

	/*
	 * 409 (the same key in flight), 429, 5xx: again later.  Anything else
	 * (400, 404: a misconfiguration, most likely) is retried too: a final
	 * failure would compensate every order.
	 */
	{
		char	   *r = body_reason(&job->resp);

		snprintf(reason, sizeof(reason), "provider answered %ld%s%s", status, r ? ": " : "", r ? r : "");
		free(r);
	}
	if (status != 409 && status != 429 && status < 500)
		logmsg("payment %lld: unexpected answer to the %s: %s", job->payment_id, what, reason);
	cnt.http_errors++;
	cnt.retryable++;
	add_report(job->payment_id, false, reason, true, job->attempt);
}

/* The event feed answered: late captures become successes. */
static void
events_done(Job *job, CURLcode code)
{
	long		status = 0;
	JDoc		d;
	int			arr, i, n = 0;

	curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &status);
	if (code != CURLE_OK || status != 200)
	{
		cnt.http_errors++;
		if (code != CURLE_OK)
			logmsg("event feed: %s", job->errbuf[0] ? job->errbuf : curl_easy_strerror(code));
		else
			logmsg("event feed: HTTP %ld", status);
		return;
	}
	if (!j_parse(&d, job->resp.data ? job->resp.data : "", job->resp.len) ||
		(arr = j_get(&d, 0, "events")) < 0 || d.tok[arr].type != J_ARR)
	{
		logmsg("event feed: not a JSON object with an events array");
		cnt.http_errors++;
		j_free(&d);
		return;
	}
	for (i = arr + 1; i < d.tok[arr].next; i = d.tok[i].next)
	{
		long long	seq = j_int(&d, i, "seq");
		long long	payment_id = j_int(&d, i, "payment_id");
		char	   *type = j_str(&d, i, "type");
		char	   *id = j_str(&d, i, "id");

		n++;
		if (payment_id < 0)
		{
			char	   *key = j_str(&d, i, "payment_key");

			if (key && strncmp(key, "ticket-", 7) == 0)
				payment_id = strtoll(key + 7, NULL, 10);
			free(key);
		}
		if (seq > events_after)
			events_after = seq;
		if (type && strcmp(type, "charge.succeeded") == 0 && payment_id > 0 && id && id[0])
		{
			cnt.late++;
			add_report(payment_id, true, id, false, 0);
		}
		free(type);
		free(id);
	}
	j_free(&d);
	events_more = n > 0;
}

static void
start_events(void)
{
	Job		   *job = job_get();
	char		url[2100];

	job->kind = KIND_EVENTS;
	snprintf(url, sizeof(url), "%s?after=%lld", url_events, events_after);
	if (!job_start(job, url, opt.http_timeout))
	{
		job_put(job);
		return;
	}
	events_job = job;
}

/* Claimed jobs take the free HTTP slots, oldest first. */
static void
start_queued(double now)
{
	while (queue_head && inflight < opt.concurrency)
	{
		Job		   *job = queue_head;
		double		timeout = job->deadline - now;
		bool		ok;

		queue_head = job->next;
		if (queue_head == NULL)
			queue_tail = NULL;
		nqueued--;
		if (timeout > opt.http_timeout)
			timeout = opt.http_timeout;
		if (job->kind == KIND_REFUND && job->refund_ref == NULL)
			ok = false;
		else
			ok = job_start(job, job->kind == KIND_CHARGE ? url_charges : url_refunds, timeout);
		if (ok)
		{
			inflight++;
			job->prev = NULL;
			job->next = inflight_list;
			if (inflight_list)
				inflight_list->prev = job;
			inflight_list = job;
		}
		else
		{
			logmsg("payment %lld: could not start its request", job->payment_id);
			cnt.retryable++;
			add_report(job->payment_id, false, "adapter could not start the request", true, job->attempt);
			job_put(job);
		}
	}
}

/* Asks for up to want jobs (the claim connection is idle). */
static void
claim_send(int want, double now)
{
	char		n[16], lease[32];
	const char *values[3] = {opt.name, n, lease};

	snprintf(n, sizeof(n), "%d", want);
	snprintf(lease, sizeof(lease), "%d seconds", opt.lease);
	claim_want = want;
	claim_sent_at = now;
	cnt.claims++;
	db_send(&claim_db, Q_CLAIM,
			"SELECT payment_id, kind, order_id, concert_id, user_id, amount, attempt, provider_key,"
			" refund_ref, lease_until FROM ticket.claim_payments($1::text, $2::integer, $3::interval)",
			3, values);
}

/* The claimed jobs: their requests start now. */
static void
claim_result(PGresult *res, double now)
{
	int			i, rows;
	double		deadline;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		if (PQstatus(claim_db.conn) == CONNECTION_OK && !is_retry_state(res))
		{
			logmsg("claim failed: %s", one_line(PQresultErrorMessage(res)));
			cnt.db_errors++;
		}
		next_claim_at = now + (opt.poll < 1 ? opt.poll : 1);
		return;
	}

	/*
	 * Each job is reported before its lease ends: its request gets at most
	 * 80 % of the lease (counted from when the claim was sent), the rest is
	 * for the report.
	 */
	deadline = claim_sent_at + opt.lease * 0.8;
	rows = PQntuples(res);
	for (i = 0; i < rows; i++)
	{
		Job		   *job = job_get();

		job->payment_id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		job->kind = strcmp(PQgetvalue(res, i, 1), "refund") == 0 ? KIND_REFUND : KIND_CHARGE;
		job->order_id = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		snprintf(job->amount, sizeof(job->amount), "%s", PQgetvalue(res, i, 5));
		job->attempt = atoi(PQgetvalue(res, i, 6));
		job->provider_key = xstrdup(PQgetvalue(res, i, 7));
		job->refund_ref = PQgetisnull(res, i, 8) ? NULL : xstrdup(PQgetvalue(res, i, 8));
		job->deadline = deadline;
		cnt.claimed++;
		if (job->kind == KIND_CHARGE)
		{
			buf_printf(&job->req, "{\"amount\":");
			buf_json_string(&job->req, job->amount);
			buf_printf(&job->req, ",\"payment_key\":");
			buf_json_string(&job->req, job->provider_key);
			buf_printf(&job->req, ",\"order_id\":%lld,\"attempt\":%d}", job->order_id, job->attempt);
		}
		else
		{
			buf_printf(&job->req, "{\"charge\":");
			buf_json_string(&job->req, job->refund_ref ? job->refund_ref : "");
			buf_printf(&job->req, ",\"amount\":");
			buf_json_string(&job->req, job->amount);
			buf_printf(&job->req, ",\"payment_key\":");
			buf_json_string(&job->req, job->provider_key);
			buf_puts(&job->req, "}");
		}
		job->next = NULL;
		if (queue_tail)
			queue_tail->next = job;
		else
			queue_head = job;
		queue_tail = job;
		nqueued++;
	}
	start_queued(now);
	if (rows > 0)
		last_busy = now;
	/* A full claim: more may be due.  A short one: wait for a notification or the poll. */
	next_claim_at = rows >= claim_want ? now : now + opt.poll;
}

/*
 * How many jobs to claim now.  The adapter holds at most twice
 * --concurrency jobs: those in flight and as many waiting for a slot, so
 * that the next claim's round trip is hidden behind the requests in flight
 * (only --concurrency while the provider is so slow that a job waiting for
 * a slot could run short of lease: average answer over a tenth of it).
 * Up to --batch per claim, and none while less than a quarter of
 * min(--batch, --concurrency) would come (unless nothing is in hand), so
 * that claims come in useful sizes.
 */
static int
claim_size(void)
{
	int			in_hand = inflight + nqueued;
	int			room = (latency_avg < opt.lease * 0.1 ? 2 : 1) * opt.concurrency - in_hand;
	int			want = room < opt.batch ? room : opt.batch;
	int			least = (opt.concurrency < opt.batch ? opt.concurrency : opt.batch) / 4;

	if (want <= 0 || (in_hand > 0 && want < (least > 0 ? least : 1)))
		return 0;
	return want;
}

/* Reads what a connection has; a finished query's result goes to its handler. */
static void
db_poll(Db *d, double now)
{
	if (d->conn == NULL)
		return;
	if (!PQconsumeInput(d->conn))
	{
		db_lost(d);
		return;
	}
	if (d == &claim_db)
		drain_notifications(d->conn);
	while (d->conn && d->q != Q_NONE && !PQisBusy(d->conn))
	{
		PGresult   *res = PQgetResult(d->conn);
		Query		q = d->q;

		if (res)
		{
			if (d->res == NULL)
				d->res = res;
			else
				PQclear(res);
			continue;
		}
		res = d->res;
		d->res = NULL;
		d->q = Q_NONE;
		if (res == NULL)
			continue;
		if (q == Q_CLAIM)
			claim_result(res, now);
		else
			report_result(q, res, now);
		PQclear(res);
	}
}

static void
unlink_inflight(Job *job)
{
	if (job->prev)
		job->prev->next = job->next;
	else
		inflight_list = job->next;
	if (job->next)
		job->next->prev = job->prev;
	job->prev = job->next = NULL;
	inflight--;
}

/* Every finished request: jobs become reports. */
static void
collect_done(void)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
	{
		Job		   *job;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &job);
		curl_multi_remove_handle(multi, msg->easy_handle);
		if (job->kind == KIND_EVENTS)
		{
			events_done(job, msg->data.result);
			events_job = NULL;
		}
		else
		{
			job_done(job, msg->data.result);
			unlink_inflight(job);
		}
		job_put(job);
	}
	start_queued(now_s());
}

/*
 * The second signal: every request in flight is called off and reported as
 * a retryable failure.  The provider may have taken the money all the same:
 * the retry gives it the same idempotency key and gets the same answer.
 */
static void
call_off_all(void)
{
	while (inflight_list)
	{
		Job		   *job = inflight_list;

		curl_multi_remove_handle(multi, job->easy);
		cnt.retryable++;
		add_report(job->payment_id, false, "adapter stopped before the provider answered", true, job->attempt);
		unlink_inflight(job);
		job_put(job);
	}
	while (queue_head)
	{
		Job		   *job = queue_head;

		queue_head = job->next;
		cnt.retryable++;
		add_report(job->payment_id, false, "adapter stopped before calling the provider", true, job->attempt);
		job_put(job);
	}
	queue_tail = NULL;
	nqueued = 0;
}

/* ------------------------------------------------------------- reporting */

static void
summary_line(const char *prefix, const Histogram *h, double rate)
{
	char		rate_s[64] = "";

	if (rate >= 0)
		snprintf(rate_s, sizeof(rate_s), ", %.0f jobs/s", rate);
	logmsg("%sclaimed %llu, charges succeeded %llu, declined %llu, retryable failures %llu, refunds %llu"
		   " (failed %llu), late captures %llu, report batches %llu, report retries %llu, report errors %llu,"
		   " HTTP errors %llu, latency p50 %.1f ms p99 %.1f ms%s",
		   prefix, (unsigned long long) cnt.claimed, (unsigned long long) cnt.charges_ok,
		   (unsigned long long) cnt.declined, (unsigned long long) cnt.retryable,
		   (unsigned long long) cnt.refunds_ok, (unsigned long long) cnt.refunds_failed,
		   (unsigned long long) cnt.late, (unsigned long long) cnt.report_batches,
		   (unsigned long long) cnt.report_retries, (unsigned long long) cnt.report_errors,
		   (unsigned long long) cnt.http_errors, hist_quantile(h, 0.5) * 1000, hist_quantile(h, 0.99) * 1000,
		   rate_s);
}

static void
write_metrics(void)
{
	Buf			b = {0};
	char		tmp[4200], label[300];
	FILE	   *f;
	int			i;
	struct
	{
		const char *name;
		const char *help;
		uint64_t	value;
	}			counters[] = {
		{"claimed_total", "Payment jobs claimed.", cnt.claimed},
		{"claims_total", "Calls of ticket.claim_payments.", cnt.claims},
		{"charges_succeeded_total", "Charges the provider took.", cnt.charges_ok},
		{"charges_declined_total", "Charges the provider declined (final failures).", cnt.declined},
		{"retryable_failures_total", "Jobs reported as retryable failures (409, 429, 5xx, transport errors).", cnt.retryable},
		{"refunds_succeeded_total", "Refunds the provider made.", cnt.refunds_ok},
		{"refunds_failed_total", "Refunds the provider refused (final failures).", cnt.refunds_failed},
		{"late_captures_total", "Late captures read from the provider's event feed.", cnt.late},
		{"report_batches_total", "Batches reported with ticket.report_payments.", cnt.report_batches},
		{"report_retries_total", "Reports sent again after 40001 or 40P01.", cnt.report_retries},
		{"report_errors_total", "Reports that failed with another error.", cnt.report_errors},
		{"reported_total", "Results reported.", cnt.reported},
		{"http_errors_total", "Provider requests that failed (transport error, timeout, unexpected status).", cnt.http_errors},
		{"notifications_total", "Notifications received on ticket_payment.", cnt.notifications},
		{"db_errors_total", "Failed connections and statements.", cnt.db_errors},
	};

	if (opt.metrics_file == NULL)
		return;
	/* The adapter label: the name, escaped as the exposition format wants. */
	{
		size_t		n = 0;
		const char *s;

		for (s = opt.name; *s && n < sizeof(label) - 3; s++)
		{
			if (*s == '"' || *s == '\\')
				label[n++] = '\\';
			label[n++] = *s;
		}
		label[n] = '\0';
	}
	for (i = 0; i < (int) (sizeof(counters) / sizeof(counters[0])); i++)
		buf_printf(&b, "# HELP ticket_adapter_%s %s\n# TYPE ticket_adapter_%s counter\n"
				   "ticket_adapter_%s{adapter=\"%s\"} %llu\n",
				   counters[i].name, counters[i].help, counters[i].name, counters[i].name, label,
				   (unsigned long long) counters[i].value);
	buf_printf(&b, "# HELP ticket_adapter_reported_status_total What ticket answered to each report.\n"
			   "# TYPE ticket_adapter_reported_status_total counter\n");
	for (i = 0; i < 7; i++)
		buf_printf(&b, "ticket_adapter_reported_status_total{adapter=\"%s\",status=\"%s\"} %llu\n",
				   label, status_names[i], (unsigned long long) cnt.status[i]);
	buf_printf(&b, "# HELP ticket_adapter_inflight Provider requests in flight.\n"
			   "# TYPE ticket_adapter_inflight gauge\nticket_adapter_inflight{adapter=\"%s\"} %d\n"
			   "# HELP ticket_adapter_pending_reports Results waiting to be reported.\n"
			   "# TYPE ticket_adapter_pending_reports gauge\nticket_adapter_pending_reports{adapter=\"%s\"} %d\n"
			   "# HELP ticket_adapter_up 1 while connected to the database.\n"
			   "# TYPE ticket_adapter_up gauge\nticket_adapter_up{adapter=\"%s\"} %d\n",
			   label, inflight, label, nreports, label,
			   claim_db.conn && report_db.conn && (!opt.listen_dsn || listen_db) ? 1 : 0);
	buf_printf(&b, "# HELP ticket_adapter_provider_latency_seconds Provider response time.\n"
			   "# TYPE ticket_adapter_provider_latency_seconds summary\n"
			   "ticket_adapter_provider_latency_seconds{adapter=\"%s\",quantile=\"0.5\"} %.6f\n"
			   "ticket_adapter_provider_latency_seconds{adapter=\"%s\",quantile=\"0.99\"} %.6f\n"
			   "ticket_adapter_provider_latency_seconds_sum{adapter=\"%s\"} %.6f\n"
			   "ticket_adapter_provider_latency_seconds_count{adapter=\"%s\"} %llu\n",
			   label, hist_quantile(&lat_total, 0.5), label, hist_quantile(&lat_total, 0.99),
			   label, lat_total.sum, label, (unsigned long long) lat_total.count);

	/* Atomically: a temporary file beside it, then rename. */
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", opt.metrics_file, (int) getpid());
	f = fopen(tmp, "w");
	if (f == NULL || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0 || rename(tmp, opt.metrics_file) != 0)
	{
		static bool warned = false;

		if (!warned)
			logmsg("cannot write %s: %s", opt.metrics_file, strerror(errno));
		warned = true;
		unlink(tmp);
	}
	buf_free(&b);
}

/* ------------------------------------------------------------------- main */

static void
on_signal(int sig)
{
	int			save = errno;
	ssize_t		r;

	signals_seen++;
	r = write(signal_pipe[1], "x", 1);
	(void) r;
	(void) sig;
	errno = save;
}

static void
setup_signals(void)
{
	struct sigaction sa;
	int			i;

	if (pipe(signal_pipe) != 0)
	{
		perror("ticket-adapter: pipe");
		exit(1);
	}
	for (i = 0; i < 2; i++)
	{
		fcntl(signal_pipe[i], F_SETFL, fcntl(signal_pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(signal_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static char *
join_url(const char *base, const char *path)
{
	Buf			b = {0};
	size_t		n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	buf_append(&b, base, n);
	buf_puts(&b, path);
	return b.data;
}

/* At exit after giving up: what is left is dropped (its leases run out). */
static void
discard_all(void)
{
	while (inflight_list)
	{
		Job		   *job = inflight_list;

		curl_multi_remove_handle(multi, job->easy);
		unlink_inflight(job);
		job_put(job);
	}
	while (queue_head)
	{
		Job		   *job = queue_head;

		queue_head = job->next;
		job_put(job);
	}
	queue_tail = NULL;
	nqueued = 0;
	while (nreports > 0)
		drop_reports(nreports);
}

/* Adds fd to poll for reading. */
static void
wait_fd(struct curl_waitfd *extra, int *n, int fd)
{
	if (fd < 0)
		return;
	extra[*n].fd = fd;
	extra[*n].events = CURL_WAIT_POLLIN;
	extra[*n].revents = 0;
	(*n)++;
}

static void
close_db(void)
{
	Db		   *dbs[2] = {&claim_db, &report_db};
	int			i;

	for (i = 0; i < 2; i++)
	{
		PQclear(dbs[i]->res);
		if (dbs[i]->conn)
			PQfinish(dbs[i]->conn);
		dbs[i]->conn = NULL;
	}
	if (listen_db)
		PQfinish(listen_db);
	listen_db = NULL;
}

int
main(int argc, char **argv)
{
	double		start, now, next_events_at, next_log, next_metrics;
	uint64_t	claimed_at_log = 0;
	int			handled_signals = 0;
	int			exit_code = 0;

	parse_options(argc, argv);
	setup_signals();
	srand((unsigned) (time(NULL) ^ getpid()));
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
	{
		fputs("ticket-adapter: curl_global_init failed\n", stderr);
		return 1;
	}
	multi = curl_multi_init();
	if (multi == NULL)
		die_oom();
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) opt.concurrency + 1);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) opt.concurrency + 1);
	curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long) CURLPIPE_NOTHING);
	url_charges = join_url(opt.provider, "/v1/charges");
	url_refunds = join_url(opt.provider, "/v1/refunds");
	url_events = join_url(opt.provider, "/v1/events");

	start = now = now_s();
	if (!db_ready(&claim_db, now) || !db_ready(&report_db, now))
		logmsg("no database yet; trying again every %.0f s", RECONNECT_EVERY);
	listen_ready(now);
	logmsg("started: provider %s, batch %d, concurrency %d, lease %d s, %s", opt.provider, opt.batch,
		   opt.concurrency, opt.lease, opt.listen ? "LISTEN ticket_payment" : "polling only");
	next_claim_at = next_events_at = now;
	next_log = opt.log_interval > 0 ? now + opt.log_interval : INFINITY;
	next_metrics = now;
	last_busy = now;

	for (;;)
	{
		struct curl_waitfd extra[4];
		int			nextra = 0;
		double		wake;
		long		curl_ms;
		int			running;

		now = now_s();

		/* Signals, the duration, idleness: a stop. */
		if (signals_seen != handled_signals)
		{
			char		drain[64];

			while (read(signal_pipe[0], drain, sizeof(drain)) > 0)
				;
			handled_signals = signals_seen;
			if (!stopping)
			{
				stopping = 1;
				stop_reason = "signal";
				stop_at = now;
				logmsg("stopping: finishing %d requests in flight", inflight + nqueued);
			}
			else if (handled_signals >= 2 && stopping == 1)
			{
				stopping = 2;
				logmsg("stopping now: calling off %d requests in flight (reported as retryable)", inflight + nqueued);
				call_off_all();
			}
		}
		if (!stopping && opt.duration > 0 && now - start >= opt.duration)
			stopping = 1, stop_reason = "duration", stop_at = now;
		if (!stopping && opt.idle_exit > 0 && inflight + nqueued == 0 && nreports == 0 && claim_db.q == Q_NONE &&
			now - last_busy >= opt.idle_exit)
			stopping = 1, stop_reason = "idle", stop_at = now;
		if (stopping && events_job)
		{
			curl_multi_remove_handle(multi, events_job->easy);
			job_put(events_job);
			events_job = NULL;
		}
		/* Done: nothing in flight, nothing to report, no claim whose jobs would be ours. */
		if (stopping && inflight + nqueued == 0 && nreports == 0 && claim_db.q == Q_NONE)
			break;
		if (stopping && now - stop_at > opt.http_timeout + STOP_DB_GRACE)
		{
			logmsg("giving up: %d results could not be reported (the database is unreachable)", nreports);
			exit_code = 1;
			break;
		}

		/* The database: connections, answers, notifications. */
		db_ready(&claim_db, now);
		if (nreports > 0)
			db_ready(&report_db, now);
		db_poll(&claim_db, now);
		db_poll(&report_db, now);
		if (listen_db)
		{
			if (PQconsumeInput(listen_db))
				drain_notifications(listen_db);
		}
		if (opt.listen)
			listen_ready(now);
		if (notified)
			next_claim_at = now, notified = false;

		/* Claim while HTTP slots are free (a quarter of them at least). */
		if (!stopping && claim_db.q == Q_NONE && now >= next_claim_at && claim_size() > 0 &&
			db_ready(&claim_db, now))
			claim_send(claim_size(), now);

		/* The event feed. */
		if (events_more)
			events_more = false, next_events_at = now;
		if (!stopping && opt.events_interval > 0 && events_job == NULL && now >= next_events_at)
		{
			start_events();
			next_events_at = now + opt.events_interval;
		}

		/* HTTP. */
		curl_multi_perform(multi, &running);
		collect_done();
		if (inflight + nqueued > 0)
			last_busy = now;

		/*
		 * Reports: the next batch once the last is in, when enough are
		 * waiting, or they waited long enough, or nothing else is coming.
		 */
		now = now_s();
		if (report_db.q == Q_NONE && report_n > 0 && report_retry_at > 0 && now >= report_retry_at &&
			db_ready(&report_db, now))
		{
			report_retry_at = 0;
			if (report_one_by_one)
				send_one();
			else
				send_batch();
		}
		else if (report_db.q == Q_NONE && report_n == 0 && nreports > 0 &&
				 (nreports >= opt.batch || inflight + nqueued == 0 || stopping ||
				  now - oldest_report >= REPORT_DELAY) &&
				 db_ready(&report_db, now))
			start_reports(now);

		/* Counters. */
		if (now >= next_metrics)
		{
			write_metrics();
			next_metrics = now + METRICS_EVERY;
		}
		if (now >= next_log)
		{
			summary_line("", &lat_interval, (cnt.claimed - claimed_at_log) / opt.log_interval);
			memset(&lat_interval, 0, sizeof(lat_interval));
			claimed_at_log = cnt.claimed;
			next_log = now + opt.log_interval;
		}

		/* Wait for the next thing to do. */
		wake = next_metrics;
		if (next_log < wake)
			wake = next_log;
		if (!stopping)
		{
			if (claim_size() > 0 && claim_db.q == Q_NONE && next_claim_at < wake)
				wake = next_claim_at;
			if (opt.events_interval > 0 && events_job == NULL && next_events_at < wake)
				wake = next_events_at;
			if (opt.duration > 0 && start + opt.duration < wake)
				wake = start + opt.duration;
			if (opt.idle_exit > 0 && last_busy + opt.idle_exit < wake)
				wake = last_busy + opt.idle_exit;
		}
		if (report_db.q == Q_NONE && report_n > 0 && report_retry_at > 0 && report_retry_at < wake)
			wake = report_retry_at;
		if (report_db.q == Q_NONE && report_n == 0 && nreports > 0 && report_db.conn &&
			oldest_report + REPORT_DELAY < wake)
			wake = oldest_report + REPORT_DELAY;
		if (claim_db.conn == NULL && claim_db.next_connect_at < wake)
			wake = claim_db.next_connect_at;
		if (report_db.conn == NULL && nreports > 0 && report_db.next_connect_at < wake)
			wake = report_db.next_connect_at;
		if (opt.listen_dsn && listen_db == NULL && listen_next_connect_at < wake)
			wake = listen_next_connect_at;
		if (curl_multi_timeout(multi, &curl_ms) == CURLM_OK && curl_ms >= 0 && now + curl_ms / 1000.0 < wake)
			wake = now + curl_ms / 1000.0;
		wait_fd(extra, &nextra, signal_pipe[0]);
		if (claim_db.conn)
			wait_fd(extra, &nextra, PQsocket(claim_db.conn));
		if (report_db.conn && report_db.q != Q_NONE)
			wait_fd(extra, &nextra, PQsocket(report_db.conn));
		if (listen_db)
			wait_fd(extra, &nextra, PQsocket(listen_db));
		now = now_s();
		if (wake > now)
		{
			double		ms = ceil((wake - now) * 1000);

			curl_multi_poll(multi, extra, nextra, ms > 60000 ? 60000 : (int) ms, NULL);
		}
	}

	discard_all();
	write_metrics();
	summary_line(stop_reason ? (strcmp(stop_reason, "signal") == 0 ? "stopped on a signal: " :
								strcmp(stop_reason, "duration") == 0 ? "stopped after --duration: " :
								"stopped, idle: ") : "stopped: ",
				 &lat_total, -1);

	free(reports);
	job_free_all();
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	close_db();
	free(url_charges);
	free(url_refunds);
	free(url_events);
	close(signal_pipe[0]);
	close(signal_pipe[1]);
	return exit_code;
}
