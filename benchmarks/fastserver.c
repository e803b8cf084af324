/* fastserver: a fast OpenAI-compatible loopback server for issue #5 benchmarks.
 *
 *   fastserver [--port N]
 *       Serve on 127.0.0.1:N (default 0 = an ephemeral port). Prints exactly one line,
 *       "fastserver serving http://127.0.0.1:PORT/v1", then serves until SIGTERM/SIGINT.
 *
 *   fastserver --bench URL [--connections 64] [--seconds 2]
 *       Load generator: keep-alive connections to URL's host:port (http, loopback only),
 *       one minimal chat completion in flight on each, a 0.3 s warm-up that is not
 *       counted, then prints "capacity N requests/s".
 *
 * Single-threaded, epoll, non-blocking sockets, HTTP/1.1 keep-alive with pipelining.
 * Routes:
 *   POST /v1/chat/completions  a deterministic answer per request body. Header
 *                              "x-sim-latency-ms: N" delays the response by N ms from
 *                              when the whole request was read (a timerfd armed at the
 *                              earliest due time, CLOCK_MONOTONIC, ns precision).
 *   GET  /_stats               {"requests":N,"distinct":D}: chat completions served since
 *                              start or the last reset, and distinct bodies among them
 *                              (by FNV-1a 64 of the body).
 *   POST /_reset               zeroes both; {}.
 *   anything else              404 with a small JSON error.
 * Responses on one connection always go out in request order. Headers over 64 KB or a
 * body over 8 MB get 413, a malformed request 400, a chunked body 501; all three close
 * the connection.
 *
 * Build: gcc -O2 -Wall -Wextra -std=gnu11 -o fastserver fastserver.c (no other library).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define HEADER_CAP (64u * 1024u)
#define BODY_CAP (8u * 1024u * 1024u)
#define IN_INITIAL (16u * 1024u)
#define IN_MAX (HEADER_CAP + BODY_CAP + 64u * 1024u)
#define READ_MIN 4096u
#define MAX_PENDING 4096u           /* queued responses before a connection's input pauses */
#define MAX_OUT (1u << 20)          /* unsent bytes before a connection's input pauses */
#define LINGER_NS 2000000000ull     /* how long a closing connection drains its input */
#define MAX_LATENCY_MS 3600000ll    /* x-sim-latency-ms above this is a 400 */
#define MODEL_MAX 64

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (q == NULL && n != 0) {
        fputs("fastserver: out of memory\n", stderr);
        exit(1);
    }
    return q;
}

static uint64_t fnv1a64(const char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- distinct bodies: an open-addressing set of 64-bit hashes -------------------------- */

static uint64_t *g_set;      /* 0 marks an empty slot; a hash of 0 is stored as 1 */
static size_t g_set_cap;     /* a power of two */
static uint64_t g_set_count; /* distinct */
static uint64_t g_requests;  /* chat completions since start or reset */
static uint64_t g_next_id;

static void set_init(size_t cap) {
    free(g_set);
    g_set = calloc(cap, sizeof *g_set);
    if (g_set == NULL) die("calloc");
    g_set_cap = cap;
    g_set_count = 0;
}

static void set_insert_raw(uint64_t h) {
    size_t mask = g_set_cap - 1;
    size_t i = (size_t)(h ^ (h >> 29)) & mask;
    while (g_set[i] != 0) {
        if (g_set[i] == h) return;
        i = (i + 1) & mask;
    }
    g_set[i] = h;
    g_set_count++;
}

static void set_add(uint64_t h) {
    if (h == 0) h = 1;
    if ((g_set_count + 1) * 2 > g_set_cap) { /* keep the load factor at most 1/2 */
        uint64_t *old = g_set;
        size_t old_cap = g_set_cap;
        g_set = calloc(old_cap * 2, sizeof *g_set);
        if (g_set == NULL) die("calloc");
        g_set_cap = old_cap * 2;
        g_set_count = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i] != 0) set_insert_raw(old[i]);
        free(old);
    }
    set_insert_raw(h);
}

/* ---- responses ---------------------------------------------------------------------------- */

enum kind { K_CHAT, K_STATS, K_RESET, K_404, K_400, K_413, K_501 };

struct pending {
    uint64_t due;  /* CLOCK_MONOTONIC ns */
    uint64_t a, b; /* K_CHAT: id, body hash; K_STATS: requests, distinct */
    uint64_t ptok;
    uint8_t kind;
    uint8_t close; /* "connection: close", then close the connection */
    char model[MODEL_MAX + 1];
};

static const char ANSWER_TAIL[] =
    "Here is a short answer of about forty words from the fast loopback simulator. It is "
    "deterministic for each request body, so a repeated prompt gets the same reply and "
    "distinct prompts get distinct replies, which keeps caches honest.";
static unsigned g_answer_words;

static unsigned count_words(const char *s) {
    unsigned n = 0;
    bool in_word = false;
    for (; *s; s++) {
        bool sp = *s == ' ';
        if (!sp && !in_word) n++;
        in_word = !sp;
    }
    return n;
}

/* ---- connections ------------------------------------------------------------------------- */

enum route { R_CHAT, R_STATS, R_RESET, R_404 };

struct reqinfo {
    enum route route;
    bool close;     /* the client wants the connection closed after this response */
    bool expect100; /* "expect: 100-continue" */
    size_t body_len;
    uint64_t latency_ns;
};

struct conn {
    int fd;
    uint32_t serial;
    uint32_t events; /* as registered with epoll */
    char *in;
    size_t in_start, in_len, in_cap;
    size_t scan; /* bytes after in_start already searched for the header terminator */
    bool have_hdr;
    size_t hdr_len;
    struct reqinfo ri;
    char *out;
    size_t out_off, out_len, out_cap;
    struct pending *q; /* a ring of responses not yet due, in request order */
    size_t q_head, q_count, q_cap;
    bool stop_parse; /* a closing response is queued: read no more requests */
    bool eof;        /* the peer shut its side down */
    bool lingering;  /* our side is shut down; draining input until EOF or the deadline */
    uint64_t linger_deadline;
};

static int g_epfd, g_tfd, g_lfd;
static struct conn **g_conns; /* by fd */
static size_t g_conns_cap;
static uint32_t g_serial;

#define TAG(serial, fd) (((uint64_t)(serial) << 32) | (uint32_t)(fd))

/* ---- timers: a min-heap of due times, one timerfd armed at the earliest ----------------- */

struct timer {
    uint64_t due;
    uint32_t serial;
    int fd;
};

static struct timer *g_heap;
static size_t g_heap_len, g_heap_cap;
static uint64_t g_armed; /* due time the timerfd is armed for, 0 = none */

static void heap_push(uint64_t due, int fd, uint32_t serial) {
    if (g_heap_len == g_heap_cap) {
        g_heap_cap = g_heap_cap ? g_heap_cap * 2 : 256;
        g_heap = xrealloc(g_heap, g_heap_cap * sizeof *g_heap);
    }
    size_t i = g_heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (g_heap[parent].due <= due) break;
        g_heap[i] = g_heap[parent];
        i = parent;
    }
    g_heap[i] = (struct timer){due, serial, fd};
}

static struct timer heap_pop(void) {
    struct timer top = g_heap[0];
    struct timer last = g_heap[--g_heap_len];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= g_heap_len) break;
        if (child + 1 < g_heap_len && g_heap[child + 1].due < g_heap[child].due) child++;
        if (last.due <= g_heap[child].due) break;
        g_heap[i] = g_heap[child];
        i = child;
    }
    if (g_heap_len > 0) g_heap[i] = last;
    return top;
}

static void arm_timer(void) {
    if (g_heap_len == 0 || g_heap[0].due == g_armed) return; /* a stale arming fires harmlessly */
    struct itimerspec its = {0};
    uint64_t due = g_heap[0].due;
    its.it_value.tv_sec = (time_t)(due / 1000000000ull);
    its.it_value.tv_nsec = (long)(due % 1000000000ull);
    if (timerfd_settime(g_tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) die("timerfd_settime");
    g_armed = due;
}

/* ---- connection i/o --------------------------------------------------------------------- */

static void close_conn(struct conn *c) {
    epoll_ctl(g_epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    g_conns[c->fd] = NULL;
    free(c->in);
    free(c->out);
    free(c->q);
    free(c);
}

static void out_reserve(struct conn *c, size_t extra) {
    if (c->out_len + extra <= c->out_cap) return;
    if (c->out_off > 0) { /* drop what was already sent before growing */
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_len + extra <= c->out_cap) return;
    }
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + extra) cap *= 2;
    c->out = xrealloc(c->out, cap);
    c->out_cap = cap;
}

static void out_append(struct conn *c, const char *s, size_t n) {
    out_reserve(c, n);
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
}

static void render(struct conn *c, const struct pending *pd) {
    char body[1024];
    int blen;
    const char *status;
    switch (pd->kind) {
    case K_CHAT:
        status = "200 OK";
        blen = snprintf(body, sizeof body,
                        "{\"id\":\"fs-%llu\",\"object\":\"chat.completion\",\"created\":0,"
                        "\"model\":\"%s\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                        "\"assistant\",\"content\":\"Answer %016llx: %s\"},\"finish_reason\":"
                        "\"stop\"}],\"usage\":{\"prompt_tokens\":%llu,\"completion_tokens\":%u,"
                        "\"total_tokens\":%llu}}",
                        (unsigned long long)pd->a, pd->model, (unsigned long long)pd->b,
                        ANSWER_TAIL, (unsigned long long)pd->ptok, g_answer_words,
                        (unsigned long long)(pd->ptok + g_answer_words));
        break;
    case K_STATS:
        status = "200 OK";
        blen = snprintf(body, sizeof body, "{\"requests\":%llu,\"distinct\":%llu}",
                        (unsigned long long)pd->a, (unsigned long long)pd->b);
        break;
    case K_RESET:
        status = "200 OK";
        blen = snprintf(body, sizeof body, "{}");
        break;
    case K_404:
        status = "404 Not Found";
        blen = snprintf(body, sizeof body,
                        "{\"error\":{\"message\":\"not found\",\"type\":\"invalid_request_error\"}}");
        break;
    case K_413:
        status = "413 Content Too Large";
        blen = snprintf(body, sizeof body,
                        "{\"error\":{\"message\":\"headers over 64 KB or body over 8 MB\","
                        "\"type\":\"invalid_request_error\"}}");
        break;
    case K_501:
        status = "501 Not Implemented";
        blen = snprintf(body, sizeof body,
                        "{\"error\":{\"message\":\"transfer-encoding is not supported\","
                        "\"type\":\"invalid_request_error\"}}");
        break;
    default:
        status = "400 Bad Request";
        blen = snprintf(body, sizeof body,
                        "{\"error\":{\"message\":\"bad request\",\"type\":\"invalid_request_error\"}}");
        break;
    }
    if (blen < 0 || (size_t)blen >= sizeof body) blen = 0; /* cannot happen: bounded fields */
    out_reserve(c, 256 + (size_t)blen);
    int hlen = snprintf(c->out + c->out_len, 256,
                        "HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                        "connection: %s\r\n\r\n",
                        status, blen, pd->close ? "close" : "keep-alive");
    c->out_len += (size_t)hlen;
    memcpy(c->out + c->out_len, body, (size_t)blen);
    c->out_len += (size_t)blen;
}

static void q_push(struct conn *c, const struct pending *pd) {
    if (c->q_count == c->q_cap) {
        size_t cap = c->q_cap ? c->q_cap * 2 : 16;
        struct pending *q = xrealloc(NULL, cap * sizeof *q);
        for (size_t i = 0; i < c->q_count; i++) q[i] = c->q[(c->q_head + i) % c->q_cap];
        free(c->q);
        c->q = q;
        c->q_cap = cap;
        c->q_head = 0;
    }
    c->q[(c->q_head + c->q_count) % c->q_cap] = *pd;
    c->q_count++;
}

/* Render the responses at the head of the queue that are due. */
static void advance(struct conn *c, uint64_t now) {
    while (c->q_count > 0 && c->q[c->q_head].due <= now) {
        render(c, &c->q[c->q_head]);
        c->q_head = (c->q_head + 1) % c->q_cap;
        c->q_count--;
    }
}

static void respond(struct conn *c, struct pending *pd, uint64_t now) {
    if (pd->close) c->stop_parse = true;
    if (c->q_count == 0 && pd->due <= now) {
        render(c, pd);
        return;
    }
    q_push(c, pd);
    if (pd->due > now) heap_push(pd->due, c->fd, c->serial);
}

static void respond_error(struct conn *c, enum kind kind, uint64_t now) {
    struct pending pd = {.due = now, .kind = (uint8_t)kind, .close = 1};
    respond(c, &pd, now);
}

static bool is_tchar(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool name_is(const char *name, size_t n, const char *want) {
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* Whether a comma-separated header value holds `token` (case-insensitive). */
static bool has_token(const char *v, size_t n, const char *token) {
    size_t tl = strlen(token);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t s = i;
        while (i < n && v[i] != ',') i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        if (e - s == tl && strncasecmp(v + s, token, tl) == 0) return true;
    }
    return false;
}

/* Parse a run of decimal digits; false if empty, not all digits, or over `max`. */
static bool parse_uint(const char *v, size_t n, uint64_t max, uint64_t *out) {
    if (n == 0) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
        if (x > max) return false;
    }
    *out = x;
    return true;
}

/* Parse the request line and headers in p[0..len), which ends with "\r\n\r\n".
 * Returns 0 or the error kind to answer with. */
static int parse_head(const char *p, size_t len, struct reqinfo *ri) {
    const char *end = p + len;
    const char *eol = memmem(p, len, "\r\n", 2);
    /* request line: METHOD SP target SP HTTP/1.x */
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (sp1 == NULL || sp1 == p) return K_400;
    for (const char *s = p; s < sp1; s++)
        if (!is_tchar(*s)) return K_400;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(eol - target));
    if (sp2 == NULL || sp2 == target) return K_400;
    for (const char *s = target; s < sp2; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f) return K_400;
    const char *ver = sp2 + 1;
    bool http10;
    if (eol - ver == 8 && memcmp(ver, "HTTP/1.1", 8) == 0)
        http10 = false;
    else if (eol - ver == 8 && memcmp(ver, "HTTP/1.0", 8) == 0)
        http10 = true;
    else
        return K_400;
    size_t mlen = (size_t)(sp1 - p);
    const char *qm = memchr(target, '?', (size_t)(sp2 - target));
    size_t plen = (size_t)((qm ? qm : sp2) - target);
    bool post = mlen == 4 && memcmp(p, "POST", 4) == 0;
    bool get = mlen == 3 && memcmp(p, "GET", 3) == 0;
    if (post && plen == 20 && memcmp(target, "/v1/chat/completions", 20) == 0)
        ri->route = R_CHAT;
    else if (get && plen == 7 && memcmp(target, "/_stats", 7) == 0)
        ri->route = R_STATS;
    else if (post && plen == 7 && memcmp(target, "/_reset", 7) == 0)
        ri->route = R_RESET;
    else
        ri->route = R_404;

    bool keep_alive = false, close = false, chunked = false, have_len = false;
    uint64_t clen = 0, latency = 0;
    ri->expect100 = false;
    const char *line = eol + 2;
    while (line < end - 2) { /* the final "\r\n" is the blank line */
        const char *le = memmem(line, (size_t)(end - line), "\r\n", 2);
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (colon == NULL || colon == line) return K_400;
        for (const char *s = line; s < colon; s++)
            if (!is_tchar(*s)) return K_400;
        size_t nlen = (size_t)(colon - line);
        const char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        size_t vlen = (size_t)(ve - v);
        if (name_is(line, nlen, "content-length")) {
            uint64_t x;
            /* anything over the cap only needs to be recognised as too large */
            if (!parse_uint(v, vlen, UINT64_MAX / 20, &x)) {
                bool digits = vlen > 0;
                for (size_t i = 0; i < vlen; i++)
                    if (v[i] < '0' || v[i] > '9') digits = false;
                if (!digits) return K_400;
                x = (uint64_t)BODY_CAP + 1;
            }
            if (have_len && x != clen) return K_400;
            have_len = true;
            clen = x;
        } else if (name_is(line, nlen, "x-sim-latency-ms")) {
            if (!parse_uint(v, vlen, (uint64_t)MAX_LATENCY_MS, &latency)) return K_400;
        } else if (name_is(line, nlen, "connection")) {
            if (has_token(v, vlen, "close")) close = true;
            if (has_token(v, vlen, "keep-alive")) keep_alive = true;
        } else if (name_is(line, nlen, "expect")) {
            if (has_token(v, vlen, "100-continue")) ri->expect100 = true;
        } else if (name_is(line, nlen, "transfer-encoding")) {
            chunked = true;
        }
        line = le + 2;
    }
    if (chunked) return K_501;
    if (clen > BODY_CAP) return K_413;
    ri->body_len = (size_t)clen;
    ri->latency_ns = latency * 1000000ull;
    ri->close = close || (http10 && !keep_alive);
    return 0;
}

static bool model_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == ':' || ch == '-';
}

/* The value of the first "model": "..." in the body, keeping only [A-Za-z0-9._:-]. */
static void extract_model(const char *body, size_t n, char *out) {
    const char *p = body, *end = body + n;
    out[0] = 0;
    while (p < end) {
        const char *k = memmem(p, (size_t)(end - p), "\"model\"", 7);
        if (k == NULL) break;
        const char *s = k + 7;
        while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) s++;
        if (s < end && *s == ':') {
            s++;
            while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) s++;
            if (s < end && *s == '"') {
                size_t m = 0;
                for (s++; s < end && *s != '"' && m < MODEL_MAX; s++)
                    if (model_char(*s)) out[m++] = *s;
                out[m] = 0;
                break;
            }
        }
        p = k + 7;
    }
    if (out[0] == 0) strcpy(out, "sim-stable");
}

static void handle_request(struct conn *c, const char *body, uint64_t now) {
    struct reqinfo *ri = &c->ri;
    struct pending pd = {.due = now + ri->latency_ns, .close = ri->close};
    switch (ri->route) {
    case R_CHAT: {
        uint64_t h = fnv1a64(body, ri->body_len);
        g_requests++;
        set_add(h);
        pd.kind = K_CHAT;
        pd.a = ++g_next_id;
        pd.b = h;
        pd.ptok = ri->body_len / 4;
        extract_model(body, ri->body_len, pd.model);
        break;
    }
    case R_STATS:
        pd.kind = K_STATS;
        pd.a = g_requests;
        pd.b = g_set_count;
        break;
    case R_RESET:
        pd.kind = K_RESET;
        g_requests = 0;
        set_init(1024);
        break;
    default:
        pd.kind = K_404;
        break;
    }
    respond(c, &pd, now);
}

static bool paused(const struct conn *c) {
    return c->q_count >= MAX_PENDING || c->out_len - c->out_off >= MAX_OUT;
}

/* Consume one request from the input buffer. Returns true if one was consumed. */
static bool parse_one(struct conn *c, uint64_t now) {
    if (!c->have_hdr) {
        /* tolerate empty lines before a request line */
        while (c->in_len - c->in_start >= 2 && c->in[c->in_start] == '\r' &&
               c->in[c->in_start + 1] == '\n' && c->scan == 0)
            c->in_start += 2;
        const char *p = c->in + c->in_start;
        size_t avail = c->in_len - c->in_start;
        size_t from = c->scan > 3 ? c->scan - 3 : 0;
        if (avail < 4) return false;
        const char *t = memmem(p + from, avail - from, "\r\n\r\n", 4);
        if (t == NULL) {
            if (avail > HEADER_CAP) respond_error(c, K_413, now);
            c->scan = avail;
            return false;
        }
        c->hdr_len = (size_t)(t - p) + 4;
        if (c->hdr_len > HEADER_CAP) {
            respond_error(c, K_413, now);
            return false;
        }
        int err = parse_head(p, c->hdr_len, &c->ri);
        if (err) {
            respond_error(c, (enum kind)err, now);
            return false;
        }
        c->have_hdr = true;
        if (c->ri.expect100 && c->ri.body_len > 0 && avail < c->hdr_len + c->ri.body_len &&
            c->q_count == 0 && c->out_len == c->out_off)
            out_append(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
    if (c->in_len - c->in_start < c->hdr_len + c->ri.body_len) return false;
    handle_request(c, c->in + c->in_start + c->hdr_len, now);
    c->in_start += c->hdr_len + c->ri.body_len;
    c->have_hdr = false;
    c->scan = 0;
    if (c->in_start == c->in_len) c->in_start = c->in_len = 0;
    return true;
}

/* Write what can be written; false if the connection was closed. */
static bool try_write(struct conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return true;
        } else {
            close_conn(c);
            return false;
        }
    }
    c->out_off = c->out_len = 0;
    if (c->out_cap > (256u << 10)) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    return true;
}

static void update_events(struct conn *c) {
    uint32_t want = 0;
    if (c->lingering || (!c->stop_parse && !c->eof && !paused(c))) want |= EPOLLIN;
    if (c->out_off < c->out_len) want |= EPOLLOUT;
    if (want == c->events) return;
    struct epoll_event ev = {.events = want, .data.u64 = TAG(c->serial, c->fd)};
    if (epoll_ctl(g_epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
    c->events = want;
}

/* Everything a connection does after input, a timer, or writability. Returns false if
 * the connection was closed (and freed). */
static bool process(struct conn *c, uint64_t now) {
    if (c->lingering) {
        if (now < c->linger_deadline) return true;
        close_conn(c);
        return false;
    }
    advance(c, now);
    for (;;) {
        while (!c->stop_parse && !paused(c) && parse_one(c, now)) {
        }
        bool was_paused = paused(c);
        if (!try_write(c)) return false;
        /* requests already buffered get no new EPOLLIN: parse them once unpaused */
        if (!was_paused || paused(c) || c->stop_parse) break;
    }
    if (c->out_off == c->out_len && c->q_count == 0) {
        if (c->eof) {
            close_conn(c);
            return false;
        }
        if (c->stop_parse) { /* close gracefully: FIN, then drain what the peer still sends */
            shutdown(c->fd, SHUT_WR);
            c->lingering = true;
            c->linger_deadline = now + LINGER_NS;
            heap_push(c->linger_deadline, c->fd, c->serial);
        }
    }
    update_events(c);
    return true;
}

/* Returns false if the connection was closed (and freed). */
static bool on_readable(struct conn *c) {
    if (c->lingering) {
        char sink[16384];
        for (;;) {
            ssize_t n = recv(c->fd, sink, sizeof sink, 0);
            if (n > 0) continue;
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
            close_conn(c);
            return false;
        }
    }
    if (c->stop_parse || c->eof || paused(c)) return true;
    if (c->in_cap - c->in_len < READ_MIN) {
        if (c->in_start > 0) {
            memmove(c->in, c->in + c->in_start, c->in_len - c->in_start);
            c->in_len -= c->in_start;
            c->in_start = 0;
        }
        if (c->in_cap - c->in_len < READ_MIN) {
            if (c->in_cap >= IN_MAX) { /* cannot happen: the caps reject such requests first */
                respond_error(c, K_413, now_ns());
                return process(c, now_ns());
            }
            size_t cap = c->in_cap ? c->in_cap * 2 : IN_INITIAL;
            if (cap > IN_MAX) cap = IN_MAX;
            c->in = xrealloc(c->in, cap);
            c->in_cap = cap;
        }
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n > 0) {
        c->in_len += (size_t)n;
    } else if (n == 0) {
        c->eof = true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return true;
    } else {
        close_conn(c);
        return false;
    }
    if (!process(c, now_ns())) return false;
    /* give back a large input buffer once it is empty */
    if (c->in_len == 0 && c->in_cap > 4 * IN_INITIAL) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
    return true;
}

static void accept_all(void) {
    for (;;) {
        int fd = accept4(g_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) perror("fastserver: accept");
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((size_t)fd >= g_conns_cap) {
            size_t cap = g_conns_cap ? g_conns_cap : 1024;
            while (cap <= (size_t)fd) cap *= 2;
            g_conns = xrealloc(g_conns, cap * sizeof *g_conns);
            memset(g_conns + g_conns_cap, 0, (cap - g_conns_cap) * sizeof *g_conns);
            g_conns_cap = cap;
        }
        struct conn *c = calloc(1, sizeof *c);
        if (c == NULL) die("calloc");
        c->fd = fd;
        if (++g_serial == 0) g_serial = 1;
        c->serial = g_serial;
        c->events = EPOLLIN;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(c->serial, fd)};
        if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
        g_conns[fd] = c;
    }
}

static void run_timers(void) {
    uint64_t expirations;
    while (read(g_tfd, &expirations, sizeof expirations) < 0 && errno == EINTR) {
    }
    g_armed = 0;
    uint64_t now = now_ns();
    while (g_heap_len > 0 && g_heap[0].due <= now) {
        struct timer t = heap_pop();
        struct conn *c = (size_t)t.fd < g_conns_cap ? g_conns[t.fd] : NULL;
        if (c != NULL && c->serial == t.serial) process(c, now);
    }
}

static int serve(int port) {
    g_lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (g_lfd < 0) die("socket");
    int one = 1;
    setsockopt(g_lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(g_lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(g_lfd, SOMAXCONN) < 0) die("listen");
    socklen_t alen = sizeof addr;
    if (getsockname(g_lfd, (struct sockaddr *)&addr, &alen) < 0) die("getsockname");

    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g_epfd < 0) die("epoll_create1");
    g_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (g_tfd < 0) die("timerfd_create");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(0, g_lfd)};
    if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, g_lfd, &ev) < 0) die("epoll_ctl");
    ev.data.u64 = TAG(0, g_tfd);
    if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, g_tfd, &ev) < 0) die("epoll_ctl");

    set_init(1024);
    g_answer_words = count_words(ANSWER_TAIL) + 2; /* + "Answer <hash>:" */

    /* SIGTERM/SIGINT are blocked except inside epoll_pwait, so none is lost between checks */
    struct sigaction sa = {0};
    sa.sa_handler = on_signal; /* no SA_RESTART: epoll_pwait returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigset_t block, during;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &during);
    sigdelset(&during, SIGTERM);
    sigdelset(&during, SIGINT);

    printf("fastserver serving http://127.0.0.1:%d/v1\n", ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event evs[256];
    while (!g_stop) {
        arm_timer();
        int n = epoll_pwait(g_epfd, evs, 256, -1, &during);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_pwait");
        }
        for (int i = 0; i < n; i++) {
            uint32_t serial = (uint32_t)(evs[i].data.u64 >> 32);
            int fd = (int)(uint32_t)evs[i].data.u64;
            uint32_t e = evs[i].events;
            if (serial == 0) {
                if (fd == g_lfd)
                    accept_all();
                else
                    run_timers();
                continue;
            }
            struct conn *c = (size_t)fd < g_conns_cap ? g_conns[fd] : NULL;
            if (c == NULL || c->serial != serial) continue; /* closed earlier in this batch */
            if ((e & EPOLLERR) || ((e & EPOLLHUP) && !(e & EPOLLIN))) {
                close_conn(c);
                continue;
            }
            if ((e & EPOLLIN) && !on_readable(c)) continue;
            if (e & EPOLLOUT) process(c, now_ns());
        }
    }
    return 0;
}

/* ---- load generator ------------------------------------------------------------------------ */

struct bconn {
    int fd;
    bool connected, alive;
    char *buf;
    size_t len, cap;
    char req[768];
    size_t req_len, req_off;
    uint32_t events;
};

static uint64_t b_sent;

static void b_make_request(struct bconn *b, const char *host, const char *path) {
    char body[256];
    int blen = snprintf(body, sizeof body,
                        "{\"model\":\"bench\",\"messages\":[{\"role\":\"user\",\"content\":"
                        "\"capacity probe %llu\"}]}",
                        (unsigned long long)++b_sent);
    b->req_len = (size_t)snprintf(b->req, sizeof b->req,
                                  "POST %s HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\n"
                                  "x-sim-latency-ms: 0\r\ncontent-length: %d\r\n\r\n%s",
                                  path, host, blen, body);
    b->req_off = 0;
}

static void b_set_events(int epfd, struct bconn *b, uint32_t want, int idx) {
    if (b->events == want) return;
    struct epoll_event ev = {.events = want, .data.u64 = (uint64_t)idx};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, b->fd, &ev) < 0) die("epoll_ctl");
    b->events = want;
}

/* false: the connection failed */
static bool b_write(struct bconn *b) {
    while (b->req_off < b->req_len) {
        ssize_t n = send(b->fd, b->req + b->req_off, b->req_len - b->req_off, MSG_NOSIGNAL);
        if (n > 0)
            b->req_off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        else
            return false;
    }
    return true;
}

/* Parse a complete response at the start of b->buf: its total length (0 = incomplete,
 * -1 = malformed) and status. */
static long b_response(const struct bconn *b, int *status) {
    const char *t = memmem(b->buf, b->len, "\r\n\r\n", 4);
    if (t == NULL) return 0;
    size_t hlen = (size_t)(t - b->buf) + 4;
    if (hlen < 12 || memcmp(b->buf, "HTTP/1.", 7) != 0) return -1;
    *status = atoi(b->buf + 9);
    size_t clen = 0;
    bool have = false;
    const char *line = (const char *)memmem(b->buf, hlen, "\r\n", 2) + 2;
    while (line < t) {
        const char *le = memmem(line, (size_t)(t + 2 - line), "\r\n", 2);
        if (le - line > 15 && strncasecmp(line, "content-length:", 15) == 0) {
            clen = strtoul(line + 15, NULL, 10);
            have = true;
        }
        line = le + 2;
    }
    if (!have) return -1;
    if (b->len < hlen + clen) return 0;
    return (long)(hlen + clen);
}

static int bench(const char *url, int connections, double seconds) {
    /* http://127.0.0.1:PORT[/prefix] */
    if (strncmp(url, "http://", 7) != 0) {
        fprintf(stderr, "fastserver: --bench needs an http:// URL, got %s\n", url);
        return 2;
    }
    const char *h = url + 7;
    const char *hend = h + strcspn(h, ":/");
    char host[64];
    if ((size_t)(hend - h) >= sizeof host) return 2;
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = 0;
    if (strcmp(host, "127.0.0.1") != 0 && strcmp(host, "localhost") != 0) {
        fprintf(stderr, "fastserver: --bench is for 127.0.0.1 only, got %s\n", host);
        return 2;
    }
    int port = 80;
    const char *rest = hend;
    if (*rest == ':') {
        char *e;
        port = (int)strtol(rest + 1, &e, 10);
        rest = e;
    }
    if (port <= 0 || port > 65535 || (*rest != 0 && *rest != '/')) {
        fprintf(stderr, "fastserver: bad URL %s\n", url);
        return 2;
    }
    char path[512];
    size_t plen = strlen(rest);
    while (plen > 0 && rest[plen - 1] == '/') plen--;
    if (plen > 300) return 2;
    memcpy(path, rest, plen);
    path[plen] = 0;
    if (!(plen >= 17 && strcmp(path + plen - 17, "/chat/completions") == 0))
        strcat(path, "/chat/completions");
    char hostport[96];
    snprintf(hostport, sizeof hostport, "127.0.0.1:%d", port);

    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1");
    struct bconn *bs = calloc((size_t)connections, sizeof *bs);
    if (bs == NULL) die("calloc");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < connections; i++) {
        struct bconn *b = &bs[i];
        b->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (b->fd < 0) die("socket");
        int one = 1;
        setsockopt(b->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(b->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
            perror("fastserver: connect");
            return 1;
        }
        b->cap = 4096;
        b->buf = malloc(b->cap);
        if (b->buf == NULL) die("malloc");
        b->alive = true;
        b->events = EPOLLOUT;
        b_make_request(b, hostport, path);
        struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)i};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, b->fd, &ev) < 0) die("epoll_ctl");
    }

    uint64_t start = now_ns();
    uint64_t warm_end = start + 300000000ull;
    uint64_t end = warm_end + (uint64_t)(seconds * 1e9);
    uint64_t counted = 0, total = 0, errors = 0;
    int alive = connections;
    struct epoll_event evs[256];
    uint64_t now = start;
    while (now < end && alive > 0) {
        int timeout = (int)((end - now) / 1000000ull) + 1;
        int n = epoll_wait(epfd, evs, 256, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int idx = (int)evs[i].data.u64;
            struct bconn *b = &bs[idx];
            if (!b->alive) continue;
            bool ok = true;
            if (evs[i].events & EPOLLERR) ok = false;
            if (ok && (evs[i].events & EPOLLOUT)) {
                b->connected = true;
                ok = b_write(b);
            }
            if (ok && (evs[i].events & (EPOLLIN | EPOLLHUP))) {
                for (;;) {
                    if (b->cap - b->len < 2048) {
                        b->cap *= 2;
                        b->buf = xrealloc(b->buf, b->cap);
                    }
                    ssize_t r = recv(b->fd, b->buf + b->len, b->cap - b->len, 0);
                    if (r > 0) {
                        b->len += (size_t)r;
                        break;
                    }
                    if (r < 0 && errno == EINTR) continue;
                    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                    ok = false; /* EOF or error */
                    break;
                }
                int status = 0;
                long rl;
                while (ok && (rl = b_response(b, &status)) != 0) {
                    if (rl < 0) {
                        ok = false;
                        break;
                    }
                    now = now_ns();
                    total++;
                    if (now >= warm_end && now < end) counted++;
                    if (status != 200) errors++;
                    memmove(b->buf, b->buf + rl, b->len - (size_t)rl);
                    b->len -= (size_t)rl;
                    b_make_request(b, hostport, path);
                    ok = b_write(b);
                }
            }
            if (!ok) {
                fprintf(stderr, "fastserver: bench connection %d failed\n", idx);
                close(b->fd);
                b->alive = false;
                alive--;
                continue;
            }
            b_set_events(epfd, b, b->req_off < b->req_len ? EPOLLOUT : EPOLLIN, idx);
        }
        now = now_ns();
    }
    double window = (double)((now < end ? now : end) - warm_end) / 1e9;
    double rate = window > 0 ? (double)counted / window : 0.0;
    fprintf(stderr, "fastserver: %d connections, %llu responses (%llu in %.2f s), %llu errors\n",
            connections, (unsigned long long)total, (unsigned long long)counted, window,
            (unsigned long long)errors);
    printf("capacity %.0f requests/s\n", rate);
    fflush(stdout);
    for (int i = 0; i < connections; i++) {
        if (bs[i].alive) close(bs[i].fd);
        free(bs[i].buf);
    }
    free(bs);
    close(epfd);
    return (errors > 0 || alive < connections || counted == 0) ? 1 : 0;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void usage(void) {
    fputs("usage: fastserver [--port N]\n"
          "       fastserver --bench URL [--connections N] [--seconds S]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv) {
    int port = 0, connections = 64;
    double seconds = 2.0;
    const char *bench_url = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        char *e;
        if (strcmp(a, "--port") == 0) {
            long x = strtol(v, &e, 10);
            if (*e || x < 0 || x > 65535) usage();
            port = (int)x;
        } else if (strcmp(a, "--bench") == 0) {
            bench_url = v;
        } else if (strcmp(a, "--connections") == 0) {
            long x = strtol(v, &e, 10);
            if (*e || x < 1 || x > 100000) usage();
            connections = (int)x;
        } else if (strcmp(a, "--seconds") == 0) {
            seconds = strtod(v, &e);
            if (*e || !(seconds > 0) || seconds > 3600) usage();
        } else {
            usage();
        }
    }

    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    if (bench_url != NULL) return bench(bench_url, connections, seconds);
    return serve(port);
}
