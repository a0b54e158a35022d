/*
 * fake_psp.c
 *		fake-psp: a fake payment provider for ticket-adapter's tests and the
 *		demo.  One thread, epoll, HTTP/1.1 with keep-alive; a delayed answer
 *		is a timer in a heap, so thousands of requests waiting cost nothing.
 *
 *	POST /v1/charges	{"amount":"180.00","payment_key":"ticket-1",...}
 *						200 {"id":"ch_<instance>_<n>"}; 402 declined; 503 unavailable
 *	POST /v1/refunds	{"charge":"ch_...","amount":"..","payment_key":".."}
 *						200 {"id":"re_..."}; 404 unknown charge; 402 refunded already
 *	GET /v1/events?after=N	{"events":[{"seq":..,"type":"charge.succeeded",
 *						"payment_key":..,"payment_id":..,"id":"ch_late_<instance>_<n>"}]}
 *						(<instance>: six letters or digits drawn at start, so that
 *						ids stay unique when fake-psp restarts against the same database)
 *	GET /stats			counters, JSON
 *	POST /admin/latency?ms=N, POST /admin/factor?x=F	change behaviour now
 *
 * Idempotency-Key: a key that got a final answer (200, 402, 404) gets the
 * same answer, with the same id, every time; a key whose earlier request is
 * still being answered gets 409; a 503 is not remembered, so a retry with
 * the key is decided again (as real providers do with server errors).
 * Outcomes are drawn from a hash of (--seed, key, how often the key came),
 * so they do not depend on the order requests arrive in.
 *
 * Every request is recorded (--log FILE: one tab-separated line each).
 * SIGTERM or SIGINT: prints the stats line and exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADER		(16 * 1024)
#define MAX_BODY		(1024 * 1024)
#define MAX_SLOWDOWNS	16
#define EVENTS_PAGE		1000

static void
die(const char *fmt,...)
{
	va_list		ap;

	fputs("fake-psp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	exit(1);
}

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		die("out of memory");
	return p;
}

static char *
xstrdup(const char *s)
{
	char	   *p = strdup(s);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* ---------------------------------------------------------------- buffers */

typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

static void
buf_reserve(Buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 512;
	while (b->cap < b->len + extra + 1)
		b->cap *= 2;
	b->data = xrealloc(b->data, b->cap);
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
buf_printf(Buf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_reserve(b, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

/* Removes the first n bytes. */
static void
buf_consume(Buf *b, size_t n)
{
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	if (b->data)
		b->data[b->len] = '\0';
}

/* A string for JSON: printable ASCII only, quotes and backslashes dropped. */
static void
buf_json_safe(Buf *b, const char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s >= 0x20 && (unsigned char) *s < 0x7f && *s != '"' && *s != '\\')
			buf_append(b, s, 1);
}

/* --------------------------------------------------------------- hash map */

typedef struct Entry
{
	struct Entry *next;
	char	   *key;
	uint64_t	hash;
	int			seen;			/* requests with this key */
	int			pending;		/* of them not answered yet */
	int			status;			/* the final answer, 0 while none */
	char	   *body;
	int			refunds;		/* for a charge id: refunds made */
} Entry;

typedef struct Map
{
	Entry	  **slot;
	size_t		nslots;
	size_t		n;
} Map;

static uint64_t
hash_str(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	return h;
}

static Entry *
map_get(Map *m, const char *key, bool create)
{
	uint64_t	h = hash_str(key);
	Entry	   *e;

	if (m->nslots)
		for (e = m->slot[h & (m->nslots - 1)]; e; e = e->next)
			if (e->hash == h && strcmp(e->key, key) == 0)
				return e;
	if (!create)
		return NULL;
	if (m->n >= m->nslots)
	{
		size_t		n = m->nslots ? m->nslots * 2 : 1024;
		Entry	  **slot = xrealloc(NULL, n * sizeof(Entry *));
		size_t		i;

		memset(slot, 0, n * sizeof(Entry *));
		for (i = 0; i < m->nslots; i++)
			while ((e = m->slot[i]) != NULL)
			{
				m->slot[i] = e->next;
				e->next = slot[e->hash & (n - 1)];
				slot[e->hash & (n - 1)] = e;
			}
		free(m->slot);
		m->slot = slot;
		m->nslots = n;
	}
	e = xrealloc(NULL, sizeof(Entry));
	memset(e, 0, sizeof(Entry));
	e->key = xstrdup(key);
	e->hash = h;
	e->next = m->slot[h & (m->nslots - 1)];
	m->slot[h & (m->nslots - 1)] = e;
	m->n++;
	return e;
}

static void
map_free(Map *m)
{
	size_t		i;

	for (i = 0; i < m->nslots; i++)
		while (m->slot[i])
		{
			Entry	   *e = m->slot[i];

			m->slot[i] = e->next;
			free(e->key);
			free(e->body);
			free(e);
		}
	free(m->slot);
}

/* ------------------------------------------------------------------ state */

typedef struct Slowdown
{
	double		at, len, factor;
} Slowdown;

static struct
{
	int			port;
	double		latency_ms;
	double		fail;
	double		retryable;
	double		late;
	double		late_after;
	uint64_t	seed;
	const char *log;
	Slowdown	slow[MAX_SLOWDOWNS];
	int			nslow;
}			opt = {
	.port = 8080, .latency_ms = 20, .fail = 0, .retryable = 0.5, .late = 0, .late_after = 3, .seed = 1,
};

static struct
{
	uint64_t	requests, charges, charges_ok, declined, retryable, conflicts, refunds, refunds_failed;
	uint64_t	late, duplicate_keys, replays, bad_requests, connections;
	int			in_flight, max_concurrent, open_conns, max_conns;
}			st;

typedef struct Conn
{
	bool		open;
	unsigned	gen;
	bool		waiting;		/* a delayed answer is due */
	bool		close_after;
	bool		want_out;		/* EPOLLOUT registered */
	Buf			in;
	Buf			out;
	Buf			pending;		/* the delayed answer */
} Conn;

typedef struct Timer
{
	double		due;
	int			fd;
	unsigned	gen;
	Entry	   *entry;			/* its key's entry: one answer less pending */
} Timer;

typedef struct Late
{
	double		due;
	long long	payment_id;
	char	   *payment_key;
} Late;

static Conn *conns;
static int	nconns;
static Timer *heap;
static int	nheap, heap_cap;
static Late *lates;
static int	nlates, lates_head, lates_cap;
static Buf	events;				/* the published events, JSON objects */
static size_t *event_off;		/* event i (seq i + 1) starts at event_off[i] */
static long long nevents;
static Map	keys, charges;
static uint64_t next_charge = 1, next_refund = 1, next_late = 1;
static double admin_factor = 1.0;
static char instance[8];		/* in every id: ids stay unique across restarts */
static double started;
static int	epfd;
static FILE *reqlog;
static uint64_t rng_state = 88172645463325252ULL;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t
splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static double
unit(uint64_t x)
{
	return (double) (x >> 11) / 9007199254740992.0;
}

static double
jitter_rand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return unit(rng_state);
}

static double
current_factor(double now)
{
	double		f = admin_factor;
	int			i;

	for (i = 0; i < opt.nslow; i++)
		if (now - started >= opt.slow[i].at && now - started < opt.slow[i].at + opt.slow[i].len)
			f *= opt.slow[i].factor;
	return f;
}

/* ----------------------------------------------------------------- timers */

static void
heap_push(Timer t)
{
	int			i;

	if (nheap == heap_cap)
	{
		heap_cap = heap_cap ? heap_cap * 2 : 256;
		heap = xrealloc(heap, heap_cap * sizeof(Timer));
	}
	i = nheap++;
	while (i > 0 && heap[(i - 1) / 2].due > t.due)
	{
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = t;
}

static Timer
heap_pop(void)
{
	Timer		top = heap[0],
				last = heap[--nheap];
	int			i = 0;

	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= nheap)
			break;
		if (c + 1 < nheap && heap[c + 1].due < heap[c].due)
			c++;
		if (heap[c].due >= last.due)
			break;
		heap[i] = heap[c];
		i = c;
	}
	if (nheap > 0)
		heap[i] = last;
	return top;
}

/* ------------------------------------------------------------ connections */

static void
conn_close(int fd)
{
	Conn	   *c = &conns[fd];

	if (!c->open)
		return;
	if (c->waiting)
		st.in_flight--;
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	c->open = false;
	c->waiting = false;
	c->gen++;
	c->in.len = c->out.len = c->pending.len = 0;
	st.open_conns--;
}

static void
conn_events(int fd, bool out)
{
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.fd = fd};

	if (conns[fd].want_out == out)
		return;
	conns[fd].want_out = out;
	epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

static void process_input(int fd);

/* Writes what it can; once all is out, goes on with the next request. */
static void
conn_flush(int fd)
{
	Conn	   *c = &conns[fd];

	while (c->out.len > 0)
	{
		ssize_t		n = send(fd, c->out.data, c->out.len, MSG_NOSIGNAL);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
			{
				conn_events(fd, true);
				return;
			}
			conn_close(fd);
			return;
		}
		buf_consume(&c->out, (size_t) n);
	}
	conn_events(fd, false);
	if (c->close_after)
	{
		conn_close(fd);
		return;
	}
	if (c->in.len > 0)
		process_input(fd);
}

static const char *
reason_phrase(int status)
{
	switch (status)
	{
		case 200:
			return "OK";
		case 400:
			return "Bad Request";
		case 402:
			return "Payment Required";
		case 404:
			return "Not Found";
		case 405:
			return "Method Not Allowed";
		case 409:
			return "Conflict";
		case 413:
			return "Payload Too Large";
		case 503:
			return "Service Unavailable";
		default:
			return "Status";
	}
}

static void
format_response(Buf *b, int status, const char *body, bool close_after)
{
	buf_printf(b, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n%s",
			   status, reason_phrase(status), strlen(body), close_after ? "Connection: close\r\n" : "", body);
}

/* Answers now, or after delay seconds (a timer). */
static void
respond(int fd, int status, const char *body, double delay, Entry *entry)
{
	Conn	   *c = &conns[fd];

	if (delay <= 0)
	{
		if (entry)
			entry->pending--;
		format_response(&c->out, status, body, c->close_after);
		conn_flush(fd);
		return;
	}
	format_response(&c->pending, status, body, c->close_after);
	c->waiting = true;
	if (++st.in_flight > st.max_concurrent)
		st.max_concurrent = st.in_flight;
	heap_push((Timer) {.due = now_s() + delay, .fd = fd, .gen = c->gen, .entry = entry});
}

static void
fire_timers(double now)
{
	while (nheap > 0 && heap[0].due <= now)
	{
		Timer		t = heap_pop();
		Conn	   *c = &conns[t.fd];

		if (t.entry)
			t.entry->pending--;
		if (!c->open || c->gen != t.gen || !c->waiting)
			continue;
		c->waiting = false;
		st.in_flight--;
		buf_append(&c->out, c->pending.data, c->pending.len);
		c->pending.len = 0;
		conn_flush(t.fd);
	}
}

/* ------------------------------------------------------------ the provider */

/*
 * The string value of "field" in a flat JSON object, copied into out
 * (quotes and escapes dropped), or the raw text of a number; false when absent.
 */
static bool
json_field(const char *body, const char *field, char *out, size_t outlen)
{
	char		pat[64];
	const char *p;
	size_t		n = 0;

	snprintf(pat, sizeof(pat), "\"%s\"", field);
	p = strstr(body, pat);
	if (p == NULL)
		return false;
	p += strlen(pat);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != ':')
		return false;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '"')
	{
		for (p++; *p && *p != '"' && n < outlen - 1; p++)
		{
			if (*p == '\\' && p[1])
				p++;
			out[n++] = *p;
		}
	}
	else
		for (; *p && (*p == '-' || *p == '.' || (*p >= '0' && *p <= '9')) && n < outlen - 1; p++)
			out[n++] = *p;
	out[n] = '\0';
	return n > 0;
}

static void
log_request(const char *method, const char *path, const char *key, const char *payment_key, int status,
			const char *id, const char *charge)
{
	struct timespec ts;

	if (reqlog == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(reqlog, "%ld.%03ld\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", (long) ts.tv_sec, ts.tv_nsec / 1000000, method, path,
			key[0] ? key : "-", payment_key[0] ? payment_key : "-", status, id[0] ? id : "-",
			charge[0] ? charge : "-");
}

static double
delay_now(double now)
{
	double		ms = opt.latency_ms * current_factor(now);

	return ms <= 0 ? 0 : ms * (0.75 + 0.5 * jitter_rand()) / 1000.0;
}

static void
publish_lates(double now)
{
	while (lates_head < nlates && lates[lates_head].due <= now)
	{
		Late	   *l = &lates[lates_head++];

		event_off = xrealloc(event_off, (nevents + 1) * sizeof(size_t));
		event_off[nevents] = events.len;
		nevents++;
		buf_printf(&events, "{\"seq\":%lld,\"type\":\"charge.succeeded\",\"payment_key\":\"", nevents);
		buf_json_safe(&events, l->payment_key);
		{
			char		id[64];

			snprintf(id, sizeof(id), "ch_late_%s_%llu", instance, (unsigned long long) next_late++);
			buf_printf(&events, "\",\"payment_id\":%lld,\"id\":\"%s\"}", l->payment_id, id);
			map_get(&charges, id, true);
		}
		free(l->payment_key);
		st.late++;
	}
	if (lates_head == nlates)
		lates_head = nlates = 0;
}

static void
stats_json(Buf *b, double now)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	buf_printf(b, "{\"requests\":%llu,\"charges\":%llu,\"charges_ok\":%llu,\"declined\":%llu,\"retryable\":%llu,"
			   "\"conflicts\":%llu,\"refunds\":%llu,\"refunds_failed\":%llu,\"late\":%llu,\"late_pending\":%d,"
			   "\"duplicate_keys\":%llu,\"replays\":%llu,\"bad_requests\":%llu,\"factor\":%g,\"latency_ms\":%g,"
			   "\"in_flight\":%d,\"max_concurrent\":%d,\"connections\":%llu,\"open_connections\":%d,"
			   "\"max_connections\":%d,\"events\":%lld,\"cpu_seconds\":%.3f,\"uptime_seconds\":%.3f}",
			   (unsigned long long) st.requests, (unsigned long long) st.charges,
			   (unsigned long long) st.charges_ok, (unsigned long long) st.declined,
			   (unsigned long long) st.retryable, (unsigned long long) st.conflicts,
			   (unsigned long long) st.refunds, (unsigned long long) st.refunds_failed,
			   (unsigned long long) st.late, nlates - lates_head, (unsigned long long) st.duplicate_keys,
			   (unsigned long long) st.replays, (unsigned long long) st.bad_requests,
			   current_factor(now), opt.latency_ms, st.in_flight, st.max_concurrent,
			   (unsigned long long) st.connections, st.open_conns, st.max_conns, nevents,
			   ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
			   now - started);
}

/* POST /v1/charges and /v1/refunds. */
static void
handle_payment(int fd, bool refund, const char *key, const char *body, double now)
{
	Entry	   *e;
	char		payment_key[256] = "", charge[256] = "", id[64] = "";
	const char *path = refund ? "/v1/refunds" : "/v1/charges";
	Buf			out = {0};
	int			status;
	uint64_t	h;

	json_field(body, "payment_key", payment_key, sizeof(payment_key));
	if (refund)
		json_field(body, "charge", charge, sizeof(charge));
	if (!refund)
		st.charges++;
	if (key[0] == '\0')
	{
		st.bad_requests++;
		log_request("POST", path, key, payment_key, 400, "", charge);
		respond(fd, 400, "{\"error\":{\"message\":\"an Idempotency-Key header is required\"}}", 0, NULL);
		return;
	}
	e = map_get(&keys, key, true);
	if (e->seen++ > 0)
		st.duplicate_keys++;
	if (e->pending > 0)
	{
		/* Its first request is still being answered. */
		st.conflicts++;
		log_request("POST", path, key, payment_key, 409, "", charge);
		respond(fd, 409, "{\"error\":{\"message\":\"a request with this key is in progress\"}}", 0, NULL);
		return;
	}
	e->pending++;
	if (e->status)
	{
		st.replays++;
		json_field(e->body, "id", id, sizeof(id));
		log_request("POST", path, key, payment_key, e->status, id, charge);
		respond(fd, e->status, e->body, delay_now(now), e);
		return;
	}

	/* Decided by (seed, key, occurrence): the same whatever the arrival order. */
	h = splitmix(opt.seed ^ splitmix(e->hash ^ (uint64_t) e->seen));
	if (refund)
	{
		Entry	   *ch = charge[0] ? map_get(&charges, charge, false) : NULL;

		if (ch == NULL)
		{
			status = 404;
			buf_printf(&out, "{\"error\":{\"message\":\"no such charge\"}}");
			st.refunds_failed++;
		}
		else if (ch->refunds > 0)
		{
			status = 402;
			buf_printf(&out, "{\"error\":{\"message\":\"charge already refunded\"}}");
			st.refunds_failed++;
		}
		else
		{
			ch->refunds++;
			status = 200;
			snprintf(id, sizeof(id), "re_%s_%llu", instance, (unsigned long long) next_refund++);
			buf_printf(&out, "{\"id\":\"%s\",\"charge\":\"", id);
			buf_json_safe(&out, charge);
			buf_printf(&out, "\",\"status\":\"succeeded\"}");
			st.refunds++;
		}
	}
	else if (unit(h) < opt.fail)
	{
		uint64_t	h2 = splitmix(h);

		if (unit(h2) < opt.retryable)
		{
			status = 503;
			buf_printf(&out, "{\"error\":{\"message\":\"provider unavailable, try again\"}}");
			st.retryable++;
		}
		else
		{
			status = 402;
			buf_printf(&out, "{\"error\":{\"code\":\"card_declined\",\"message\":\"card declined\"}}");
			st.declined++;
			if (unit(splitmix(h2)) < opt.late)
			{
				const char *digits = strncmp(payment_key, "ticket-", 7) == 0 ? payment_key + 7 : "";

				if (nlates == lates_cap)
				{
					lates_cap = lates_cap ? lates_cap * 2 : 64;
					lates = xrealloc(lates, lates_cap * sizeof(Late));
				}
				lates[nlates].due = now + opt.late_after;
				lates[nlates].payment_id = atoll(digits);
				lates[nlates].payment_key = xstrdup(payment_key);
				nlates++;
			}
		}
	}
	else
	{
		status = 200;
		snprintf(id, sizeof(id), "ch_%s_%llu", instance, (unsigned long long) next_charge++);
		buf_printf(&out, "{\"id\":\"%s\",\"status\":\"succeeded\",\"payment_key\":\"", id);
		buf_json_safe(&out, payment_key);
		buf_printf(&out, "\"}");
		map_get(&charges, id, true);
		st.charges_ok++;
	}
	if (status != 503)
	{
		e->status = status;
		e->body = xstrdup(out.data);
	}
	log_request("POST", path, key, payment_key, status, id, charge);
	respond(fd, status, out.data, delay_now(now), e);
	free(out.data);
}

static double
query_number(const char *query, const char *name, bool *ok)
{
	char		pat[32];
	const char *p;
	char	   *end;
	double		v;

	*ok = false;
	if (query == NULL)
		return 0;
	snprintf(pat, sizeof(pat), "%s=", name);
	for (p = query; p; p = strchr(p, '&'))
	{
		if (*p == '&')
			p++;
		if (strncmp(p, pat, strlen(pat)) == 0)
		{
			v = strtod(p + strlen(pat), &end);
			if (end != p + strlen(pat) && (*end == '\0' || *end == '&') && isfinite(v) && v >= 0)
			{
				*ok = true;
				return v;
			}
			return 0;
		}
	}
	return 0;
}

static void
handle_request(int fd, const char *method, char *target, const char *key, const char *body)
{
	double		now = now_s();
	char	   *query = strchr(target, '?');
	Buf			out = {0};
	bool		ok;
	double		v;

	if (query)
		*query++ = '\0';
	st.requests++;
	if (strcmp(target, "/v1/charges") == 0 || strcmp(target, "/v1/refunds") == 0)
	{
		if (strcmp(method, "POST") != 0)
			respond(fd, 405, "{\"error\":{\"message\":\"POST only\"}}", 0, NULL);
		else
			handle_payment(fd, target[4] == 'r', key, body, now);
		return;
	}
	if (strcmp(target, "/v1/events") == 0 && strcmp(method, "GET") == 0)
	{
		long long	after = (long long) query_number(query, "after", &ok);
		long long	i, last;

		publish_lates(now);
		if (after < 0 || after > nevents)
			after = after < 0 ? 0 : nevents;
		last = after + EVENTS_PAGE < nevents ? after + EVENTS_PAGE : nevents;
		buf_printf(&out, "{\"events\":[");
		for (i = after; i < last; i++)
		{
			size_t		end = i + 1 < nevents ? event_off[i + 1] : events.len;

			if (i > after)
				buf_append(&out, ",", 1);
			buf_append(&out, events.data + event_off[i], end - event_off[i]);
		}
		buf_printf(&out, "],\"last\":%lld}", last);
		log_request("GET", "/v1/events", "", "", 200, "", "");
		respond(fd, 200, out.data, 0, NULL);
	}
	else if (strcmp(target, "/stats") == 0 && strcmp(method, "GET") == 0)
	{
		stats_json(&out, now);
		respond(fd, 200, out.data, 0, NULL);
	}
	else if (strcmp(target, "/admin/latency") == 0 && strcmp(method, "POST") == 0 &&
			 (v = query_number(query, "ms", &ok), ok))
	{
		opt.latency_ms = v;
		stats_json(&out, now);
		respond(fd, 200, out.data, 0, NULL);
	}
	else if (strcmp(target, "/admin/factor") == 0 && strcmp(method, "POST") == 0 &&
			 (v = query_number(query, "x", &ok), ok))
	{
		admin_factor = v;
		stats_json(&out, now);
		respond(fd, 200, out.data, 0, NULL);
	}
	else
	{
		st.bad_requests++;
		respond(fd, 404, "{\"error\":{\"message\":\"no such endpoint\"}}", 0, NULL);
	}
	free(out.data);
}

/* ------------------------------------------------------------------- HTTP */

/* Parses and answers requests in the input while no answer is pending. */
static void
process_input(int fd)
{
	Conn	   *c = &conns[fd];

	while (c->open && !c->waiting && c->out.len == 0 && c->in.len > 0)
	{
		char	   *end = strstr(c->in.data, "\r\n\r\n");
		char	   *copy, *line, *next, *method, *target, *version, *body;
		char		key[256] = "";
		long		clen = 0;
		size_t		head;
		bool		keepalive;

		if (end == NULL)
		{
			if (c->in.len > MAX_HEADER)
				conn_close(fd);
			return;
		}
		/* The head is parsed in a copy: the body may not be all here yet. */
		head = (size_t) (end - c->in.data) + 4;
		copy = xrealloc(NULL, head + 1);
		memcpy(copy, c->in.data, head - 4);
		copy[head - 4] = '\0';
		line = copy;
		next = strstr(line, "\r\n");
		if (next)
			*next = '\0';
		method = strtok(line, " ");
		target = method ? strtok(NULL, " ") : NULL;
		version = target ? strtok(NULL, " ") : NULL;
		if (version == NULL || strncmp(version, "HTTP/1.", 7) != 0)
		{
			free(copy);
			st.bad_requests++;
			c->close_after = true;
			c->in.len = 0;
			respond(fd, 400, "{\"error\":{\"message\":\"bad request line\"}}", 0, NULL);
			return;
		}
		keepalive = strcmp(version, "HTTP/1.1") == 0;
		while (next)
		{
			char	   *h = next + 2,
					   *colon,
					   *v;

			next = strstr(h, "\r\n");
			if (next)
				*next = '\0';
			colon = strchr(h, ':');
			if (colon == NULL)
				continue;
			*colon = '\0';
			for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
				;
			if (strcasecmp(h, "Content-Length") == 0)
				clen = strtol(v, NULL, 10);
			else if (strcasecmp(h, "Idempotency-Key") == 0)
				snprintf(key, sizeof(key), "%s", v);
			else if (strcasecmp(h, "Connection") == 0)
				keepalive = strcasecmp(v, "close") != 0 && (keepalive || strcasecmp(v, "keep-alive") == 0);
			else if (strcasecmp(h, "Transfer-Encoding") == 0)
				clen = -1;
		}
		if (clen < 0 || clen > MAX_BODY)
		{
			free(copy);
			st.bad_requests++;
			c->close_after = true;
			c->in.len = 0;
			respond(fd, 413, "{\"error\":{\"message\":\"body too large, or chunked\"}}", 0, NULL);
			return;
		}
		if (c->in.len < head + (size_t) clen)
		{
			free(copy);			/* the rest of the body later */
			return;
		}
		c->close_after = !keepalive;
		body = xrealloc(NULL, (size_t) clen + 1);
		memcpy(body, c->in.data + head, (size_t) clen);
		body[clen] = '\0';
		buf_consume(&c->in, head + (size_t) clen);
		handle_request(fd, method, target, key, body);
		free(body);
		free(copy);
	}
}

static void
conn_read(int fd)
{
	Conn	   *c = &conns[fd];

	for (;;)
	{
		ssize_t		n;

		buf_reserve(&c->in, 16384);
		n = recv(fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
		if (n > 0)
		{
			c->in.len += (size_t) n;
			c->in.data[c->in.len] = '\0';
			if (c->in.len > MAX_HEADER + MAX_BODY + 65536)
			{
				conn_close(fd);
				return;
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		conn_close(fd);			/* closed by the client, or an error */
		return;
	}
	process_input(fd);
}

static void
accept_all(int lfd)
{
	for (;;)
	{
		int			fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int			one = 1;
		struct epoll_event ev = {.events = EPOLLIN};

		if (fd < 0)
			return;
		if (fd >= nconns)
		{
			int			n = nconns ? nconns : 256;

			while (n <= fd)
				n *= 2;
			conns = xrealloc(conns, n * sizeof(Conn));
			memset(conns + nconns, 0, (n - nconns) * sizeof(Conn));
			nconns = n;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		conns[fd].open = true;
		conns[fd].waiting = conns[fd].close_after = conns[fd].want_out = false;
		conns[fd].in.len = conns[fd].out.len = conns[fd].pending.len = 0;
		ev.data.fd = fd;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		{
			close(fd);
			conns[fd].open = false;
			continue;
		}
		st.connections++;
		if (++st.open_conns > st.max_conns)
			st.max_conns = st.open_conns;
	}
}

/* ------------------------------------------------------------------- main */

static const char usage_text[] =
"fake-psp: a fake payment provider for ticket-adapter (tests, demo).\n"
"\n"
"Usage: fake-psp [OPTION]...\n"
"  --port N               listen on 127.0.0.1:N (default 8080; 0: a free port, printed\n"
"                         as the first line: listening on 127.0.0.1:PORT)\n"
"  --latency MS           mean answer delay, +-25 % jitter (default 20)\n"
"  --fail P               share of charges failing (default 0)\n"
"  --retryable Q          share of those failing with a retryable 503 (default 0.5);\n"
"                         the others are declined (402)\n"
"  --late P               share of declined charges captured after all, published\n"
"                         in /v1/events --late-after seconds later (default 0)\n"
"  --late-after S         (default 3)\n"
"  --slowdown AT:FOR:X    from AT seconds after start, for FOR seconds, latency times X\n"
"                         (may be given up to 16 times)\n"
"  --seed N               outcomes are a hash of (seed, idempotency key, occurrence)\n"
"  --log FILE             one tab-separated line per payment request: time, method,\n"
"                         path, Idempotency-Key, payment_key, status, id, charge\n"
"  --help\n"
"\n"
"Endpoints: POST /v1/charges, POST /v1/refunds, GET /v1/events?after=N, GET /stats,\n"
"POST /admin/latency?ms=N, POST /admin/factor?x=F.  SIGTERM: stats line, exit 0.\n";

static void
usage_error(const char *fmt,...)
{
	va_list		ap;

	fputs("fake-psp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry \"fake-psp --help\".\n", stderr);
	exit(2);
}

static double
num_arg(const char *name, const char *s, double min, double max)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
		usage_error("--%s must be a number from %g to %g, not \"%s\"", name, min, max, s);
	return v;
}

static void
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},
		{"latency", required_argument, NULL, 'l'},
		{"fail", required_argument, NULL, 'f'},
		{"retryable", required_argument, NULL, 'r'},
		{"late", required_argument, NULL, 'L'},
		{"late-after", required_argument, NULL, 'A'},
		{"slowdown", required_argument, NULL, 's'},
		{"seed", required_argument, NULL, 'S'},
		{"log", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'p':
				opt.port = (int) num_arg("port", optarg, 0, 65535);
				if (opt.port != atof(optarg))
					usage_error("--port must be a whole number");
				break;
			case 'l':
				opt.latency_ms = num_arg("latency", optarg, 0, 3600000);
				break;
			case 'f':
				opt.fail = num_arg("fail", optarg, 0, 1);
				break;
			case 'r':
				opt.retryable = num_arg("retryable", optarg, 0, 1);
				break;
			case 'L':
				opt.late = num_arg("late", optarg, 0, 1);
				break;
			case 'A':
				opt.late_after = num_arg("late-after", optarg, 0, 86400);
				break;
			case 's':
				{
					Slowdown   *s = &opt.slow[opt.nslow];
					char		rest;

					if (opt.nslow == MAX_SLOWDOWNS)
						usage_error("at most %d --slowdown", MAX_SLOWDOWNS);
					if (sscanf(optarg, "%lf:%lf:%lf%c", &s->at, &s->len, &s->factor, &rest) != 3 ||
						!(s->at >= 0) || !(s->len > 0) || !(s->factor >= 0) || !isfinite(s->at + s->len + s->factor))
						usage_error("--slowdown must be AT:FOR:FACTOR (seconds, seconds, factor), not \"%s\"", optarg);
					opt.nslow++;
					break;
				}
			case 'S':
				opt.seed = strtoull(optarg, NULL, 10);
				break;
			case 'o':
				opt.log = optarg;
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
}

int
main(int argc, char **argv)
{
	int			lfd, sfd, one = 1, i;
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t	alen = sizeof(addr);
	sigset_t	mask;
	struct epoll_event ev, evs[256];
	bool		running = true;
	Buf			line = {0};

	parse_options(argc, argv);
	started = now_s();
	{
		struct timespec ts;
		uint64_t	x;

		clock_gettime(CLOCK_REALTIME, &ts);
		x = splitmix((uint64_t) ts.tv_sec * 1000000000ULL + ts.tv_nsec) ^ (uint64_t) getpid();
		for (i = 0; i < 6; i++, x /= 36)
			instance[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[x % 36];
	}
	rng_state ^= splitmix(opt.seed);
	if (opt.log && (reqlog = fopen(opt.log, "a")) == NULL)
		die("cannot open %s: %s", opt.log, strerror(errno));

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons((uint16_t) opt.port);
	if (bind(lfd, (struct sockaddr *) &addr, sizeof(addr)) != 0)
		die("cannot listen on 127.0.0.1:%d: %s", opt.port, strerror(errno));
	if (listen(lfd, 1024) != 0)
		die("listen: %s", strerror(errno));
	getsockname(lfd, (struct sockaddr *) &addr, &alen);
	printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
	fflush(stdout);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || epfd < 0)
		die("signalfd/epoll: %s", strerror(errno));
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);

	while (running)
	{
		int			timeout = -1,
					n;
		double		now = now_s();

		if (nheap > 0)
			timeout = heap[0].due <= now ? 0 : (int) ceil((heap[0].due - now) * 1000);
		n = epoll_wait(epfd, evs, 256, timeout);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++)
		{
			int			fd = evs[i].data.fd;

			if (fd == lfd)
				accept_all(lfd);
			else if (fd == sfd)
				running = false;
			else if (fd < nconns && conns[fd].open)
			{
				if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN))
					conn_close(fd);
				else
				{
					if (evs[i].events & EPOLLOUT)
						conn_flush(fd);
					if (conns[fd].open && evs[i].events & EPOLLIN)
						conn_read(fd);
				}
			}
		}
		fire_timers(now_s());
		if (reqlog)
			fflush(reqlog);
	}

	publish_lates(now_s());
	stats_json(&line, now_s());
	printf("fake-psp: %s\n", line.data);
	fflush(stdout);
	free(line.data);
	if (reqlog)
		fclose(reqlog);
	for (i = 0; i < nconns; i++)
	{
		if (conns[i].open)
			close(i);
		free(conns[i].in.data);
		free(conns[i].out.data);
		free(conns[i].pending.data);
	}
	free(conns);
	free(heap);
	for (i = lates_head; i < nlates; i++)
		free(lates[i].payment_key);
	free(lates);
	free(events.data);
	free(event_off);
	map_free(&keys);
	map_free(&charges);
	close(lfd);
	close(sfd);
	close(epfd);
	return 0;
}
