/* Peers on libuv (see p2p.h): connections, their handshake, bounded
 * send queues, dialling with backoff, and bans. */
#include "p2p/p2p.h"

#include "api/frame.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/log.h"
#include "p2p/secure.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define ERRSZ TDEI_ERRMSG_SIZE
#define LOG_MODULE "p2p"

#define P2P_BACKLOG 128            /* listen(2) backlog */
#define P2P_READ_SIZE (16u * 1024) /* bytes per read from a peer */
#define P2P_FRAME_MIN 1024u        /* bottom of p2p.max_frame */
#define P2P_LIMIT_MAX 1024u        /* top of p2p.max_peers */
#define P2P_BANS_MAX 1024u         /* node keys banned at once at most */
#define P2P_RESET_MS 10000u        /* ready this long: backoff resets */
#define P2P_BATCH_FRAMES 64u       /* frames of one uv_write at most */
#define P2P_BATCH_BYTES (1u * TDEI_MIB) /* and bytes (or one frame) */
#define P2P_KEY_LOG_SIZE 8u        /* hex digits of a node key in logs */
#define P2P_PORT_MAX 65535ul

/* Handshake frames (a Hello, a sealed Auth) are small: until a peer is
 * ready, a frame over this is refused before it is buffered. */
#define P2P_HANDSHAKE_FRAME_MAX SECURE_HANDSHAKE_FRAME_MAX

/* Queues are written round-robin in this order: consensus first. */
static const enum p2p_channel channel_order[P2P_CHANNELS] = {
    P2P_CH_CONSENSUS, P2P_CH_TX, P2P_CH_SYNC, P2P_CH_STATUS, P2P_CH_CHUNK};

/* One message waiting in a send queue: the plaintext after the channel
 * byte; it is sealed when taken for writing, so that counters follow the
 * order on the wire. */
struct p2p_msg
{
    struct p2p_msg *next;
    size_t len;
    uint8_t bytes[];
};

struct p2p_queue
{
    struct p2p_msg *head;
    struct p2p_msg *tail;
    size_t bytes; /* sealed size of what waits, <= queue_bytes */
};

/* One uv_write: a handshake frame or a batch of channel frames. */
struct p2p_write
{
    uv_write_t req;
    struct p2p_conn *conn;
    int batch; /* 1: frames taken from the queues */
    unsigned count;
    uv_buf_t bufs[P2P_BATCH_FRAMES];
};

enum conn_state {
    CONN_CONNECTING = 0, /* outbound TCP connect under way */
    CONN_HELLO = 1,      /* our Hello sent, the peer's awaited */
    CONN_AUTH = 2,       /* our Auth sent, the peer's awaited */
    CONN_READY = 3       /* channel frames both ways */
};

struct p2p_conn
{
    uv_tcp_t tcp;        /* first: handle.data points to the conn */
    uv_timer_t timer;    /* the handshake timeout */
    uv_connect_t connect;
    struct p2p *p;
    struct p2p_conn *prev; /* every connection of p, until freed */
    struct p2p_conn *next;
    struct p2p_dial *dial; /* the address dialled, NULL when inbound */
    enum conn_state state;
    int closing;           /* 1: uv_close called */
    int handles_open;      /* of tcp and timer */
    int writing;           /* 1: a queue batch is in flight */
    unsigned writes_pending;
    struct secure_session sec;
    struct frame_decoder decoder;
    struct p2p_queue queues[P2P_CHANNELS];
    struct p2p_peer_info info; /* id, key (once read), addr, counters */
    int key_known;             /* 1: info.node_key is the peer's */
    uint8_t read_buffer[P2P_READ_SIZE];
};

/* A configured address and its redial loop. */
struct p2p_dial
{
    struct p2p *p;
    uv_timer_t timer;
    struct sockaddr_in addr;
    char text[P2P_ADDR_MAX];
    uint64_t backoff_ms;     /* the next delay before jitter */
    struct p2p_conn *conn;   /* the connection made from here, or NULL */
    int key_known;           /* 1: node_key answered here once */
    uint8_t node_key[TDEI_PUBKEY_SIZE];
};

struct p2p_ban
{
    uint8_t node_key[TDEI_PUBKEY_SIZE];
    uint64_t until_ms; /* uv_now when it ends; 0: free slot */
};

struct p2p
{
    uv_loop_t *loop;
    struct p2p_options opts; /* copied; strings not kept */
    char chain_id[TDEI_CHAIN_ID_MAX + 1];
    struct p2p_callbacks cb;
    int has_listen;
    struct sockaddr_in listen_addr;
    char listen_text[P2P_ADDR_MAX];
    uv_tcp_t listener;
    int listening;             /* 1: listener initialised */
    struct p2p_dial *dials;
    size_t dial_count;
    int dials_started;         /* 1: dial timers initialised */
    struct p2p_conn *conns;
    uint64_t next_id;
    size_t handles_open;       /* handles and conns not yet closed */
    int started;
    int stopping;
    int quiet;                 /* 1: no more host callbacks */
    uv_timer_t stop_timer;     /* closed last so done runs from the loop */
    void (*done)(void *data);
    void *done_data;
    struct p2p_stats stats;
    struct p2p_ban bans[P2P_BANS_MAX];
};

static void conn_close(struct p2p_conn *c, int ban, const char *why);
static void conn_pump(struct p2p_conn *c);
static void dial_retry(struct p2p_dial *d);
static void dial_schedule(struct p2p_dial *d, uint64_t delay_ms);

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------ */

void p2p_options_default(struct p2p_options *opts)
{
    *opts = (struct p2p_options){
        .max_frame = TDEI_P2P_FRAME_MAX,
        .max_peers = TDEI_PEERS_MAX,
        .queue_bytes = 16u * TDEI_MIB,
        .handshake_timeout_ms = 5000,
        .backoff_min_ms = 200,
        .backoff_max_ms = 10000,
        .ban_ms = 60000,
    };
}

/* Parse "a.b.c.d:port" into @sin; port 0 only when @any_port. */
static int addr_parse(const char *text, int any_port, struct sockaddr_in *sin,
                      char *errmsg)
{
    char host[P2P_ADDR_MAX];
    const char *colon = strrchr(text, ':');
    unsigned long port;
    char *end;

    if (strlen(text) >= P2P_ADDR_MAX || colon == NULL ||
        colon == text || (size_t)(colon - text) >= sizeof(host)) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "\"%.64s\" is not an IPv4 HOST:PORT", text);
    }
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = 0;
    port = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != 0 ||
        port > P2P_PORT_MAX || (port == 0 && !any_port)) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "\"%.64s\": the port is not in %d-%lu", text,
                           any_port ? 0 : 1, P2P_PORT_MAX);
    }
    if (uv_ip4_addr(host, (int)port, sin) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "\"%.64s\": \"%s\" is not an IPv4 address", text,
                           host);
    }
    return 0;
}

static int limits_check(const struct p2p_options *o, char *errmsg)
{
    if (o->max_frame < P2P_FRAME_MIN || o->max_frame > FRAME_SIZE_LIMIT) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "p2p.max_frame=%zu is outside %u-%u", o->max_frame,
                           P2P_FRAME_MIN, FRAME_SIZE_LIMIT);
    }
    if (o->max_peers < 1 || o->max_peers > P2P_LIMIT_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "p2p.max_peers=%zu is outside 1-%u", o->max_peers,
                           P2P_LIMIT_MAX);
    }
    if (o->queue_bytes < 1 || o->handshake_timeout_ms < 1 ||
        o->backoff_min_ms < 1 || o->ban_ms < 1) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "p2p queue_bytes, handshake_timeout_ms, "
                           "backoff_min_ms and ban_ms must be at least 1");
    }
    if (o->backoff_max_ms < o->backoff_min_ms ||
        o->backoff_max_ms > UINT32_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "p2p.backoff_max_ms=%llu is outside %llu-%u",
                           (unsigned long long)o->backoff_max_ms,
                           (unsigned long long)o->backoff_min_ms, UINT32_MAX);
    }
    if (o->peer_count > P2P_PEERS_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "p2p.peers lists %zu addresses; the limit is %u",
                           o->peer_count, P2P_PEERS_MAX);
    }
    return 0;
}

static int options_check(struct p2p *p, const struct p2p_options *o,
                         char *errmsg)
{
    size_t i;
    int rc;

    if (o->chain_id == NULL || strlen(o->chain_id) < 1 ||
        strlen(o->chain_id) > TDEI_CHAIN_ID_MAX || o->key == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "p2p needs a chain id of 1-%u bytes and a node key",
                           TDEI_CHAIN_ID_MAX);
    }
    rc = limits_check(o, errmsg);
    if (rc != 0) {
        return rc;
    }
    p->has_listen = o->listen != NULL && o->listen[0] != 0;
    if (p->has_listen) {
        rc = addr_parse(o->listen, 1, &p->listen_addr, errmsg);
        if (rc != 0) {
            return tdei_errwrap(errmsg, ERRSZ, rc, "p2p.listen");
        }
        (void)snprintf(p->listen_text, sizeof(p->listen_text), "%s",
                       o->listen);
    }
    for (i = 0; i < o->peer_count; i++) {
        rc = addr_parse(o->peers[i], 0, &p->dials[i].addr, errmsg);
        if (rc != 0) {
            return tdei_errwrap(errmsg, ERRSZ, rc, "p2p.peers");
        }
        (void)snprintf(p->dials[i].text, sizeof(p->dials[i].text), "%s",
                       o->peers[i]);
        p->dials[i].p = p;
        p->dials[i].backoff_ms = o->backoff_min_ms;
    }
    return 0;
}

int p2p_create(struct p2p **out, uv_loop_t *loop,
               const struct p2p_options *opts,
               const struct p2p_callbacks *cb, char *errmsg)
{
    struct p2p *p;
    int rc;

    *out = NULL;
    p = tdei_calloc(1, sizeof(*p));
    if (p == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM, "p2p: out of memory");
    }
    if (opts->peer_count > 0 && opts->peer_count <= P2P_PEERS_MAX) {
        p->dials = tdei_calloc(opts->peer_count, sizeof(*p->dials));
        if (p->dials == NULL) {
            tdei_free(p);
            return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                               "p2p: out of memory");
        }
    }
    rc = options_check(p, opts, errmsg);
    if (rc != 0) {
        tdei_free(p->dials);
        tdei_free(p);
        return rc;
    }
    p->loop = loop;
    p->opts = *opts;
    memcpy(p->chain_id, opts->chain_id, strlen(opts->chain_id) + 1);
    p->opts.chain_id = p->chain_id;
    p->opts.listen = NULL;
    p->opts.peers = NULL;
    p->dial_count = opts->peer_count;
    p->cb = *cb;
    p->next_id = 1;
    *out = p;
    return 0;
}

/* ------------------------------------------------------------------------
 * Bans
 * ------------------------------------------------------------------------ */

/* When the ban of @key ends (uv_now), or 0 when it is not banned. */
static uint64_t ban_until(const struct p2p *p, const uint8_t *key)
{
    uint64_t now = uv_now(p->loop);
    size_t i;

    for (i = 0; i < P2P_BANS_MAX; i++) {
        if (p->bans[i].until_ms > now &&
            memcmp(p->bans[i].node_key, key, TDEI_PUBKEY_SIZE) == 0) {
            return p->bans[i].until_ms;
        }
    }
    return 0;
}

/* Ban @key for ban_ms: its own slot, a free or ended one, or else the
 * one that ends soonest. */
static void ban_add(struct p2p *p, const uint8_t *key)
{
    uint64_t now = uv_now(p->loop);
    struct p2p_ban *slot = &p->bans[0];
    size_t i;

    for (i = 0; i < P2P_BANS_MAX; i++) {
        struct p2p_ban *b = &p->bans[i];

        if (b->until_ms > now &&
            memcmp(b->node_key, key, TDEI_PUBKEY_SIZE) == 0) {
            slot = b;
            break;
        }
        if (b->until_ms < slot->until_ms) {
            slot = b;
        }
    }
    memcpy(slot->node_key, key, TDEI_PUBKEY_SIZE);
    slot->until_ms = now + p->opts.ban_ms;
}

static size_t bans_count(const struct p2p *p)
{
    uint64_t now = uv_now(p->loop);
    size_t count = 0;
    size_t i;

    for (i = 0; i < P2P_BANS_MAX; i++) {
        count += p->bans[i].until_ms > now;
    }
    return count;
}

/* ------------------------------------------------------------------------
 * Bookkeeping
 * ------------------------------------------------------------------------ */

static void p2p_handle_closed(struct p2p *p)
{
    TDEI_ASSERT(p->handles_open > 0);
    p->handles_open--;
    if (p->stopping && p->handles_open == 0 && p->done != NULL) {
        p->done(p->done_data);
    }
}

static void on_handle_close(uv_handle_t *handle)
{
    p2p_handle_closed(handle->data);
}

static const char *key_short(const uint8_t *key, int known, char *out,
                             size_t size)
{
    char hex[TDEI_HEX_SIZE(TDEI_PUBKEY_SIZE)];

    if (!known) {
        (void)snprintf(out, size, "-");
        return out;
    }
    (void)tdei_hex_encode(hex, sizeof(hex), key, TDEI_PUBKEY_SIZE);
    (void)snprintf(out, size, "%.*s", (int)P2P_KEY_LOG_SIZE, hex);
    return out;
}

/* Connections in the handshake or ready (not closing). */
static size_t conns_active(const struct p2p *p, size_t *ready)
{
    const struct p2p_conn *c;
    size_t count = 0;

    *ready = 0;
    for (c = p->conns; c != NULL; c = c->next) {
        if (!c->closing) {
            count++;
            *ready += c->state == CONN_READY;
        }
    }
    return count;
}

static struct p2p_conn *conn_find(const struct p2p *p, uint64_t id)
{
    struct p2p_conn *c;

    for (c = p->conns; c != NULL; c = c->next) {
        if (c->info.id == id && !c->closing) {
            return c;
        }
    }
    return NULL;
}

static struct p2p_conn *conn_find_ready(const struct p2p *p,
                                        const uint8_t *key,
                                        const struct p2p_conn *except)
{
    struct p2p_conn *c;

    for (c = p->conns; c != NULL; c = c->next) {
        if (c != except && !c->closing && c->state == CONN_READY &&
            memcmp(c->info.node_key, key, TDEI_PUBKEY_SIZE) == 0) {
            return c;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Closing
 * ------------------------------------------------------------------------ */

static void queues_free(struct p2p_conn *c)
{
    struct p2p_msg *m;
    size_t i;

    for (i = 0; i < P2P_CHANNELS; i++) {
        while (c->queues[i].head != NULL) {
            m = c->queues[i].head;
            c->queues[i].head = m->next;
            tdei_free(m);
        }
        c->queues[i] = (struct p2p_queue){0};
    }
}

static void on_conn_handle_close(uv_handle_t *handle)
{
    struct p2p_conn *c = handle->data;
    struct p2p *p = c->p;

    TDEI_ASSERT(c->handles_open > 0);
    if (--c->handles_open > 0) {
        return;
    }
    TDEI_ASSERT(c->writes_pending == 0);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        p->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    frame_decoder_close(&c->decoder);
    secure_close(&c->sec);
    tdei_free(c);
    p2p_handle_closed(p);
}

static void conn_log_close(const struct p2p_conn *c, int ban,
                           const char *text)
{
    char key[P2P_KEY_LOG_SIZE + 1];
    char why[ERRSZ + 64];
    enum tdei_log_level level = TDEI_LOG_WARNING;
    const char *msg = "connection refused";
    size_t i;

    /* The reason goes inside a quoted logfmt value. */
    (void)snprintf(why, sizeof(why), "%s", text);
    for (i = 0; why[i] != 0; i++) {
        why[i] = why[i] == '"' ? '\'' : why[i];
    }
    (void)key_short(c->info.node_key, c->key_known, key, sizeof(key));
    if (c->state == CONN_READY) {
        level = TDEI_LOG_NOTICE;
        msg = "peer closed";
    } else if (c->state == CONN_CONNECTING || c->p->stopping) {
        level = TDEI_LOG_VERBOSE;
        msg = "connection closed";
    }
    TDEI_LOG(level, LOG_MODULE, msg, "id=%llu addr=%s key=%s reason=\"%s\"",
             (unsigned long long)c->info.id, c->info.addr, key, why);
    if (ban && c->key_known) {
        TDEI_LOG(TDEI_LOG_WARNING, LOG_MODULE, "peer banned",
                 "id=%llu addr=%s key=%s ban_ms=%llu",
                 (unsigned long long)c->info.id, c->info.addr, key,
                 (unsigned long long)c->p->opts.ban_ms);
    }
}

/* Wake the idle dial loops of @key: its connection is gone. */
static void dials_wake(struct p2p *p, const uint8_t *key)
{
    size_t i;

    for (i = 0; i < p->dial_count; i++) {
        struct p2p_dial *d = &p->dials[i];

        if (d->conn == NULL && d->key_known &&
            memcmp(d->node_key, key, TDEI_PUBKEY_SIZE) == 0) {
            dial_schedule(d, p->opts.backoff_min_ms);
        }
    }
}

/* The dial loop of @c after @c closed: back off and redial. */
static void dial_after_close(struct p2p_conn *c, int was_ready)
{
    struct p2p_dial *d = c->dial;
    struct p2p *p = c->p;

    c->dial = NULL;
    d->conn = NULL;
    if (p->stopping) {
        return;
    }
    if (was_ready &&
        uv_now(p->loop) - c->info.connected_ms >= P2P_RESET_MS) {
        d->backoff_ms = p->opts.backoff_min_ms;
    }
    dial_retry(d);
}

/* Close @c (any state) for @why, banning its node key when @ban (and
 * known). The memory goes once both handles are closed. Idempotent. */
static void conn_close(struct p2p_conn *c, int ban, const char *why)
{
    struct p2p *p = c->p;
    int was_ready = c->state == CONN_READY;

    if (c->closing) {
        return;
    }
    conn_log_close(c, ban, why);
    c->closing = 1;
    if (ban && c->key_known) {
        ban_add(p, c->info.node_key);
    }
    if (!was_ready && c->state != CONN_CONNECTING && !p->stopping) {
        p->stats.handshakes_failed++;
    }
    queues_free(c);
    (void)uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_close);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_close);
    if (c->dial != NULL) {
        dial_after_close(c, was_ready);
    }
    if (was_ready && !p->stopping) {
        dials_wake(p, c->info.node_key);
    }
    if (was_ready && !p->quiet && p->cb.disconnected != NULL) {
        p->cb.disconnected(p->cb.data, c->info.id, c->info.node_key);
    }
}

/* conn_close with a formatted reason. */
static void conn_closef(struct p2p_conn *c, int ban, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conn_closef(struct p2p_conn *c, int ban, const char *fmt, ...)
{
    char why[ERRSZ + 64];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    conn_close(c, ban, why);
}

/* ------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------ */

static void write_free(struct p2p_write *w)
{
    unsigned i;

    for (i = 0; i < w->count; i++) {
        tdei_free(w->bufs[i].base);
    }
    tdei_free(w);
}

static void on_write(uv_write_t *req, int status)
{
    struct p2p_write *w = (struct p2p_write *)req;
    struct p2p_conn *c = w->conn;

    TDEI_ASSERT(c->writes_pending > 0);
    c->writes_pending--;
    if (w->batch) {
        c->writing = 0;
    }
    write_free(w);
    if (c->closing) {
        return;
    }
    if (status < 0) {
        conn_closef(c, 0, "write: %s", uv_strerror(status));
        return;
    }
    conn_pump(c);
}

/* Hand @w (its bufs filled) to libuv; closes @c on failure. */
static void conn_write(struct p2p_conn *c, struct p2p_write *w)
{
    int rc;

    w->conn = c;
    rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, w->bufs, w->count,
                  on_write);
    if (rc != 0) {
        write_free(w);
        conn_closef(c, 0, "write: %s", uv_strerror(rc));
        return;
    }
    c->writes_pending++;
    c->writing |= w->batch;
}

/* Write one handshake frame (taken over). */
static void conn_write_frame(struct p2p_conn *c, uint8_t *frame, size_t size)
{
    struct p2p_write *w = tdei_calloc(1, sizeof(*w));

    if (w == NULL) {
        tdei_free(frame);
        conn_close(c, 0, "out of memory");
        return;
    }
    w->bufs[0] = uv_buf_init((char *)frame, (unsigned)size);
    w->count = 1;
    c->info.frames_out++;
    c->info.bytes_out += size;
    c->p->stats.frames_out++;
    c->p->stats.bytes_out += size;
    conn_write(c, w);
}

static size_t sealed_size(size_t len)
{
    return FRAME_HEADER_SIZE + 1u + len + SECURE_TAG_SIZE;
}

/* Seal the head of queue @ch into the next buf of @w. */
static int batch_take(struct p2p_conn *c, struct p2p_write *w,
                      enum p2p_channel ch, size_t *bytes)
{
    struct p2p_queue *q = &c->queues[ch - 1];
    struct p2p_msg *m = q->head;
    uint8_t prefix = (uint8_t)ch;
    char errmsg[ERRSZ];
    uint8_t *frame;
    size_t size;
    int rc;

    q->head = m->next;
    if (q->head == NULL) {
        q->tail = NULL;
    }
    TDEI_ASSERT(q->bytes >= sealed_size(m->len));
    q->bytes -= sealed_size(m->len);
    rc = secure_seal(&c->sec, &prefix, m->bytes, m->len, &frame, &size,
                     errmsg);
    tdei_free(m);
    if (rc != 0) {
        conn_close(c, 0, errmsg);
        return rc;
    }
    w->bufs[w->count++] = uv_buf_init((char *)frame, (unsigned)size);
    *bytes += size;
    c->info.frames_out++;
    c->info.bytes_out += size;
    c->p->stats.frames_out++;
    c->p->stats.bytes_out += size;
    return 0;
}

/* Start the next batch when none is in flight: round-robin over the
 * queues, consensus first, up to P2P_BATCH_FRAMES frames and about
 * P2P_BATCH_BYTES bytes. */
static void conn_pump(struct p2p_conn *c)
{
    struct p2p_write *w;
    size_t bytes = 0;
    int took = 1;
    size_t i;

    if (c->closing || c->state != CONN_READY || c->writing) {
        return;
    }
    w = tdei_calloc(1, sizeof(*w));
    if (w == NULL) {
        return; /* retried at the next send or write */
    }
    w->batch = 1;
    /* Each pass takes a frame or ends: at most P2P_BATCH_FRAMES passes. */
    while (took && w->count < P2P_BATCH_FRAMES && bytes < P2P_BATCH_BYTES) {
        took = 0;
        for (i = 0; i < P2P_CHANNELS && w->count < P2P_BATCH_FRAMES; i++) {
            if (c->queues[channel_order[i] - 1].head == NULL) {
                continue;
            }
            if (batch_take(c, w, channel_order[i], &bytes) != 0) {
                write_free(w);
                return;
            }
            took = 1;
        }
    }
    if (w->count == 0) {
        tdei_free(w);
        return;
    }
    conn_write(c, w);
}

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

static void conn_on_hello(struct p2p_conn *c, const uint8_t *body, size_t len)
{
    char errmsg[ERRSZ];
    uint8_t *frame;
    size_t size;
    int rc;

    rc = secure_hello_read(&c->sec, body, len, errmsg);
    if (rc != 0) {
        conn_closef(c, 0, "%s: %s", tdei_errname(rc), errmsg);
        return;
    }
    memcpy(c->info.node_key, secure_peer_key(&c->sec), TDEI_PUBKEY_SIZE);
    c->key_known = 1;
    if (ban_until(c->p, c->info.node_key) != 0) {
        conn_close(c, 0, "TDEI_BANNED: the node key is banned");
        return;
    }
    /* A key the host refuses gets no Auth from this node (it is asked
     * again once the peer's Auth proves the key is the peer's). */
    if (c->p->cb.admit != NULL && !c->p->quiet) {
        rc = c->p->cb.admit(c->p->cb.data, c->info.node_key, errmsg);
        if (rc != 0) {
            conn_closef(c, 0, "%s: not admitted: %s", tdei_errname(rc),
                        errmsg);
            return;
        }
    }
    rc = secure_auth_seal(&c->sec, &frame, &size, errmsg);
    if (rc != 0) {
        conn_closef(c, 0, "%s: %s", tdei_errname(rc), errmsg);
        return;
    }
    c->state = CONN_AUTH;
    conn_write_frame(c, frame, size);
}

/* 1 when @a is to be kept over @b, two connections to one peer: the one
 * dialled by the lower node key, then the one with the lower initiator
 * ephemeral key; both sides see the same keys, so they agree. */
static int conn_preferred(const struct p2p *p, const struct p2p_conn *a,
                          const struct p2p_conn *b)
{
    const uint8_t *dialler_a =
        a->info.outbound ? p->opts.key->pubkey : a->info.node_key;
    const uint8_t *dialler_b =
        b->info.outbound ? p->opts.key->pubkey : b->info.node_key;
    const uint8_t *eph_a = a->info.outbound ? a->sec.eph_public
                                            : a->sec.peer_eph;
    const uint8_t *eph_b = b->info.outbound ? b->sec.eph_public
                                            : b->sec.peer_eph;
    int cmp = memcmp(dialler_a, dialler_b, TDEI_PUBKEY_SIZE);

    if (cmp != 0) {
        return cmp < 0;
    }
    return memcmp(eph_a, eph_b, TDEI_X25519_SIZE) < 0;
}

static void conn_make_ready(struct p2p_conn *c)
{
    struct p2p *p = c->p;
    char key[P2P_KEY_LOG_SIZE + 1];

    c->state = CONN_READY;
    (void)uv_timer_stop(&c->timer);
    c->info.connected_ms = uv_now(p->loop);
    frame_decoder_close(&c->decoder);
    frame_decoder_init(&c->decoder, p->opts.max_frame);
    p->stats.handshakes_ok++;
    if (c->dial != NULL) {
        c->dial->key_known = 1;
        memcpy(c->dial->node_key, c->info.node_key, TDEI_PUBKEY_SIZE);
    }
    TDEI_LOG(TDEI_LOG_NOTICE, LOG_MODULE, "peer ready",
             "id=%llu addr=%s key=%s outbound=%d",
             (unsigned long long)c->info.id, c->info.addr,
             key_short(c->info.node_key, 1, key, sizeof(key)),
             c->info.outbound);
    if (!p->quiet && p->cb.connected != NULL) {
        p->cb.connected(p->cb.data, c->info.id, c->info.node_key);
    }
}

static void conn_on_auth(struct p2p_conn *c, uint8_t *body, size_t len)
{
    struct p2p *p = c->p;
    struct p2p_conn *other;
    char errmsg[ERRSZ];
    int rc;

    rc = secure_auth_open(&c->sec, body, len, errmsg);
    if (rc != 0) {
        conn_closef(c, 0, "%s: %s", tdei_errname(rc), errmsg);
        return;
    }
    if (p->cb.admit != NULL && !p->quiet) {
        rc = p->cb.admit(p->cb.data, c->info.node_key, errmsg);
        if (rc != 0) {
            conn_closef(c, 0, "%s: not admitted: %s", tdei_errname(rc),
                        errmsg);
            return;
        }
    }
    if (c->closing) {
        return;
    }
    if (c->dial != NULL) {
        /* The address's key is known once its Auth verified: while a
         * connection with that key is ready (even the one the peer
         * dialled, which the duplicate rule may keep instead of this
         * one), the dial loop waits instead of redialling. */
        c->dial->key_known = 1;
        memcpy(c->dial->node_key, c->info.node_key, TDEI_PUBKEY_SIZE);
    }
    other = conn_find_ready(p, c->info.node_key, c);
    if (other != NULL && !conn_preferred(p, c, other)) {
        conn_closef(c, 0, "duplicate: connection %llu to this peer is kept",
                    (unsigned long long)other->info.id);
        return;
    }
    if (other != NULL) {
        conn_closef(other, 0,
                    "duplicate: connection %llu to this peer is kept",
                    (unsigned long long)c->info.id);
    }
    conn_make_ready(c);
}

static void conn_on_message(struct p2p_conn *c, uint8_t *body, size_t len)
{
    struct p2p *p = c->p;
    char errmsg[ERRSZ];
    size_t plain_len;
    uint8_t ch;
    int rc;

    rc = secure_open(&c->sec, body, len, &plain_len, errmsg);
    if (rc != 0 || plain_len < 1) {
        p->stats.frames_bad++;
        conn_closef(c, 1, "TDEI_FRAME: %s",
                    rc != 0 ? errmsg : "a frame without a channel byte");
        return;
    }
    ch = body[0];
    if (ch < P2P_CH_TX || ch > P2P_CH_CHUNK) {
        p->stats.frames_bad++;
        conn_closef(c, 1, "unknown channel %u", ch);
        return;
    }
    if (p->cb.message == NULL || p->quiet) {
        return;
    }
    rc = p->cb.message(p->cb.data, c->info.id, (enum p2p_channel)ch,
                       body + 1, plain_len - 1, errmsg);
    if (rc != 0 && !c->closing) {
        p->stats.messages_refused++;
        conn_closef(c, 1, "%s: message on channel %u refused: %s",
                    tdei_errname(rc), ch, errmsg);
    }
}

static void conn_on_frame(struct p2p_conn *c, uint8_t *body, size_t len)
{
    c->info.frames_in++;
    c->p->stats.frames_in++;
    switch (c->state) {
    case CONN_HELLO:
        conn_on_hello(c, body, len);
        break;
    case CONN_AUTH:
        conn_on_auth(c, body, len);
        break;
    case CONN_READY:
        conn_on_message(c, body, len);
        break;
    case CONN_CONNECTING:
    default:
        TDEI_ASSERT(0);
    }
}

static void conn_feed(struct p2p_conn *c, const uint8_t *data, size_t len)
{
    char errmsg[ERRSZ];
    uint8_t *frame;
    size_t frame_size;
    size_t used;
    int rc;

    /* Each pass consumes a byte or ends the loop: at most @len passes. */
    while (len > 0 && !c->closing) {
        rc = frame_decode(&c->decoder, data, len,
                          c->state == CONN_READY ? "p2p.max_frame"
                                                 : "the handshake limit",
                          &used, &frame, &frame_size, errmsg);
        data += used;
        len -= used;
        if (rc != 0) {
            /* An empty frame after ready is one that does not open. */
            conn_closef(c, c->state == CONN_READY && rc == TDEI_MALFORMED,
                        "%s: %s", tdei_errname(rc), errmsg);
            return;
        }
        if (frame != NULL) {
            conn_on_frame(c, frame, frame_size);
            tdei_free(frame);
        }
    }
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct p2p_conn *c = handle->data;

    (void)suggested;
    *buf = uv_buf_init((char *)c->read_buffer, P2P_READ_SIZE);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct p2p_conn *c = stream->data;

    if (c->closing) {
        return;
    }
    if (nread > 0) {
        c->info.bytes_in += (uint64_t)nread;
        c->p->stats.bytes_in += (uint64_t)nread;
        conn_feed(c, (const uint8_t *)buf->base, (size_t)nread);
        return;
    }
    if (nread < 0) {
        conn_closef(c, 0, "%s",
                    nread == UV_EOF ? "closed by the peer"
                                    : uv_strerror((int)nread));
    }
}

/* ------------------------------------------------------------------------
 * Connections
 * ------------------------------------------------------------------------ */

static void on_handshake_timeout(uv_timer_t *timer)
{
    struct p2p_conn *c = timer->data;

    conn_closef(c, 0, "handshake not done within %llu ms "
                      "(p2p handshake_timeout_ms)",
                (unsigned long long)c->p->opts.handshake_timeout_ms);
}

/* A new connection with its two handles, linked and counted; NULL when
 * out of memory. */
static struct p2p_conn *conn_new(struct p2p *p, enum secure_role role)
{
    char errmsg[ERRSZ];
    struct p2p_conn *c = tdei_calloc(1, sizeof(*c));

    if (c == NULL) {
        TDEI_LOG(TDEI_LOG_WARNING, LOG_MODULE, "no memory for a connection",
                 "%s", "");
        return NULL;
    }
    c->p = p;
    c->info.id = p->next_id++;
    (void)uv_tcp_init(p->loop, &c->tcp);
    (void)uv_timer_init(p->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->connect.data = c;
    c->handles_open = 2;
    p->handles_open++;
    c->next = p->conns;
    if (p->conns != NULL) {
        p->conns->prev = c;
    }
    p->conns = c;
    frame_decoder_init(&c->decoder, P2P_HANDSHAKE_FRAME_MAX);
    (void)snprintf(c->info.addr, sizeof(c->info.addr), "-");
    (void)uv_timer_start(&c->timer, on_handshake_timeout,
                         p->opts.handshake_timeout_ms, 0);
    if (secure_init(&c->sec, role, p->chain_id, p->opts.key,
                    p->opts.max_frame, errmsg) != 0) {
        conn_close(c, 0, errmsg);
        return NULL;
    }
    return c;
}

/* TCP is up: read, and send our Hello. */
static void conn_begin(struct p2p_conn *c)
{
    char errmsg[ERRSZ];
    uint8_t *frame;
    size_t size;
    int rc;

    rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc != 0) {
        conn_closef(c, 0, "read: %s", uv_strerror(rc));
        return;
    }
    rc = secure_hello_encode(&c->sec, &frame, &size, errmsg);
    if (rc != 0) {
        conn_close(c, 0, errmsg);
        return;
    }
    c->state = CONN_HELLO;
    conn_write_frame(c, frame, size);
}

static void addr_text(const uv_tcp_t *tcp, char *out, size_t size)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[INET_ADDRSTRLEN] = "?";
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0 ||
        ss.ss_family != AF_INET) {
        (void)snprintf(out, size, "?");
        return;
    }
    (void)uv_ip4_name(sin, ip, sizeof(ip));
    (void)snprintf(out, size, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
}

static void on_connection(uv_stream_t *server, int status)
{
    struct p2p *p = server->data;
    struct p2p_conn *c;
    size_t ready;
    int rc;

    if (status < 0 || p->stopping) {
        return;
    }
    c = conn_new(p, SECURE_RESPONDER);
    if (c == NULL) {
        return; /* libuv retries the accept on the next readiness */
    }
    p->stats.accepted++;
    rc = uv_accept(server, (uv_stream_t *)&c->tcp);
    if (rc != 0) {
        conn_closef(c, 0, "accept: %s", uv_strerror(rc));
        return;
    }
    addr_text(&c->tcp, c->info.addr, sizeof(c->info.addr));
    if (conns_active(p, &ready) > p->opts.max_peers) {
        conn_closef(c, 0, "%zu connections already (p2p.max_peers)",
                    p->opts.max_peers);
        return;
    }
    conn_begin(c);
}

/* ------------------------------------------------------------------------
 * Dialling
 * ------------------------------------------------------------------------ */

/* @base_ms +-25%. */
static uint64_t jitter(uint64_t base_ms)
{
    uint64_t span = base_ms / 2;

    if (span > UINT32_MAX - 1u) {
        span = UINT32_MAX - 1u;
    }
    return base_ms - base_ms / 4 + randombytes_uniform((uint32_t)span + 1u);
}

static void on_dial_timer(uv_timer_t *timer);

static void dial_schedule(struct p2p_dial *d, uint64_t delay_ms)
{
    if (d->p->stopping || !d->p->dials_started) {
        return;
    }
    (void)uv_timer_start(&d->timer, on_dial_timer, delay_ms, 0);
}

/* Redial after a jittered delay; the next delay doubles up to the max. */
static void dial_retry(struct p2p_dial *d)
{
    const struct p2p_options *o = &d->p->opts;

    dial_schedule(d, jitter(d->backoff_ms));
    d->backoff_ms = d->backoff_ms > o->backoff_max_ms / 2
                        ? o->backoff_max_ms
                        : d->backoff_ms * 2;
}

static void on_connect(uv_connect_t *req, int status)
{
    struct p2p_conn *c = req->data;

    if (c->closing) {
        return; /* UV_ECANCELED: closed meanwhile */
    }
    if (status < 0) {
        conn_closef(c, 0, "connect: %s", uv_strerror(status));
        return;
    }
    conn_begin(c);
}

/* Whether @d must wait rather than dial now: its peer is banned (until
 * the ban ends) or already connected (until that connection closes). */
static int dial_wait(struct p2p_dial *d)
{
    struct p2p *p = d->p;
    uint64_t until;

    if (!d->key_known) {
        return 0;
    }
    until = ban_until(p, d->node_key);
    if (until != 0) {
        TDEI_LOG(TDEI_LOG_VERBOSE, LOG_MODULE, "dial waits for a ban",
                 "addr=%s wait_ms=%llu", d->text,
                 (unsigned long long)(until - uv_now(p->loop)));
        dial_schedule(d, until - uv_now(p->loop) +
                             jitter(p->opts.backoff_min_ms));
        return 1;
    }
    if (conn_find_ready(p, d->node_key, NULL) != NULL) {
        dial_schedule(d, p->opts.backoff_max_ms);
        return 1;
    }
    return 0;
}

static void dial_now(struct p2p_dial *d)
{
    struct p2p *p = d->p;
    struct p2p_conn *c;
    size_t ready;
    int rc;

    if (p->stopping || d->conn != NULL || dial_wait(d)) {
        return;
    }
    if (conns_active(p, &ready) >= p->opts.max_peers) {
        TDEI_LOG(TDEI_LOG_VERBOSE, LOG_MODULE, "dial deferred",
                 "addr=%s reason=\"p2p.max_peers=%zu reached\"", d->text,
                 p->opts.max_peers);
        dial_retry(d);
        return;
    }
    c = conn_new(p, SECURE_INITIATOR);
    if (c == NULL) {
        dial_retry(d);
        return;
    }
    c->dial = d;
    c->info.outbound = 1;
    (void)snprintf(c->info.addr, sizeof(c->info.addr), "%s", d->text);
    d->conn = c;
    p->stats.dialled++;
    rc = uv_tcp_connect(&c->connect, &c->tcp,
                        (const struct sockaddr *)&d->addr, on_connect);
    if (rc != 0) {
        conn_closef(c, 0, "connect: %s", uv_strerror(rc));
    }
}

static void on_dial_timer(uv_timer_t *timer)
{
    dial_now(timer->data);
}

/* ------------------------------------------------------------------------
 * The manager
 * ------------------------------------------------------------------------ */

static int uv_code(int rc)
{
    return rc == UV_EADDRINUSE ? TDEI_ADDR_IN_USE : TDEI_IOERR;
}

int p2p_start(struct p2p *p, char *errmsg)
{
    size_t i;
    int rc;

    TDEI_ASSERT(!p->started && !p->stopping);
    p->started = 1;
    if (p->has_listen) {
        (void)uv_tcp_init(p->loop, &p->listener);
        p->listener.data = p;
        p->listening = 1;
        p->handles_open++;
        rc = uv_tcp_bind(&p->listener,
                         (const struct sockaddr *)&p->listen_addr, 0);
        if (rc == 0) {
            rc = uv_listen((uv_stream_t *)&p->listener, P2P_BACKLOG,
                           on_connection);
        }
        if (rc != 0) {
            return tdei_errorf(errmsg, ERRSZ, uv_code(rc),
                               "p2p.listen=%s: %s%s", p->listen_text,
                               uv_strerror(rc),
                               rc == UV_EADDRINUSE
                                   ? "; stop the other process or change "
                                     "p2p.listen"
                                   : "");
        }
        TDEI_LOG(TDEI_LOG_NOTICE, LOG_MODULE, "listening", "addr=%s port=%d",
                 p->listen_text, p2p_listen_port(p));
    }
    for (i = 0; i < p->dial_count; i++) {
        (void)uv_timer_init(p->loop, &p->dials[i].timer);
        p->dials[i].timer.data = &p->dials[i];
        p->handles_open++;
    }
    p->dials_started = 1;
    for (i = 0; i < p->dial_count; i++) {
        dial_schedule(&p->dials[i], 0);
    }
    return 0;
}

int p2p_listen_port(const struct p2p *p)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    if (!p->listening || p->stopping ||
        uv_tcp_getsockname(&p->listener, (struct sockaddr *)&ss, &len) != 0 ||
        ss.ss_family != AF_INET) {
        return 0;
    }
    return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
}

int p2p_send(struct p2p *p, uint64_t id, enum p2p_channel channel,
             const uint8_t *bytes, size_t len)
{
    struct p2p_conn *c = conn_find(p, id);
    struct p2p_queue *q;
    struct p2p_msg *m;
    size_t sealed;

    TDEI_ASSERT(channel >= P2P_CH_TX && channel <= P2P_CH_CHUNK);
    TDEI_ASSERT(bytes != NULL || len == 0);
    if (c == NULL || c->state != CONN_READY) {
        return TDEI_NOTFOUND;
    }
    if (len >= secure_plaintext_max(&c->sec)) {
        return TDEI_TOOBIG;
    }
    sealed = sealed_size(len);
    q = &c->queues[channel - 1];
    TDEI_ASSERT(q->bytes <= p->opts.queue_bytes);
    if (sealed > p->opts.queue_bytes - q->bytes) {
        c->info.dropped++;
        p->stats.dropped++;
        TDEI_LOG(TDEI_LOG_VERBOSE, LOG_MODULE, "message dropped",
                 "id=%llu addr=%s channel=%d bytes=%zu "
                 "reason=\"send queue full (p2p queue_bytes=%zu)\"",
                 (unsigned long long)id, c->info.addr, (int)channel, len,
                 p->opts.queue_bytes);
        return TDEI_FULL;
    }
    m = tdei_malloc(sizeof(*m) + len);
    if (m == NULL) {
        return TDEI_NOMEM;
    }
    m->next = NULL;
    m->len = len;
    if (len > 0) {
        memcpy(m->bytes, bytes, len);
    }
    if (q->tail != NULL) {
        q->tail->next = m;
    } else {
        q->head = m;
    }
    q->tail = m;
    q->bytes += sealed;
    conn_pump(c);
    return 0;
}

size_t p2p_broadcast(struct p2p *p, enum p2p_channel channel,
                     const uint8_t *bytes, size_t len)
{
    struct p2p_conn *c;
    size_t count = 0;

    for (c = p->conns; c != NULL; c = c->next) {
        if (!c->closing && c->state == CONN_READY &&
            p2p_send(p, c->info.id, channel, bytes, len) == 0) {
            count++;
        }
    }
    return count;
}

void p2p_disconnect(struct p2p *p, uint64_t id, int ban, const char *why)
{
    struct p2p_conn *c = conn_find(p, id);

    if (c != NULL) {
        conn_close(c, ban, why);
    }
}

size_t p2p_recheck(struct p2p *p)
{
    char errmsg[ERRSZ];
    struct p2p_conn *c;
    size_t count = 0;
    int rc;

    if (p->cb.admit == NULL || p->quiet) {
        return 0;
    }
    /* Closed connections stay in the list until their close callback,
     * so the walk is safe; at most max_peers ready ones. */
    for (c = p->conns; c != NULL; c = c->next) {
        if (c->closing || c->state != CONN_READY) {
            continue;
        }
        rc = p->cb.admit(p->cb.data, c->info.node_key, errmsg);
        if (rc != 0 && !c->closing) {
            conn_closef(c, 0, "%s: no longer admitted: %s",
                        tdei_errname(rc), errmsg);
            count++;
        }
    }
    return count;
}

static size_t queued_bytes(const struct p2p_conn *c)
{
    size_t sum = 0;
    size_t i;

    for (i = 0; i < P2P_CHANNELS; i++) {
        sum += c->queues[i].bytes;
    }
    return sum;
}

size_t p2p_peers(const struct p2p *p, struct p2p_peer_info *out, size_t cap)
{
    const struct p2p_conn *c;
    size_t count = 0;

    for (c = p->conns; c != NULL; c = c->next) {
        if (c->closing || c->state != CONN_READY) {
            continue;
        }
        if (count < cap) {
            out[count] = c->info;
            out[count].queued_bytes = queued_bytes(c);
        }
        count++;
    }
    return count;
}

void p2p_stats_get(const struct p2p *p, struct p2p_stats *out)
{
    size_t ready;

    *out = p->stats;
    out->connecting = conns_active(p, &ready);
    out->connecting -= ready;
    out->ready = ready;
    out->banned = bans_count(p);
}

void p2p_stop(struct p2p *p, void (*done)(void *data), void *data)
{
    struct p2p_conn *c;
    size_t i;

    TDEI_ASSERT(!p->stopping);
    p->stopping = 1;
    p->done = done;
    p->done_data = data;
    /* disconnected() runs here for the ready peers, before stop returns;
     * the walk is safe as conn_close unlinks nothing. */
    for (c = p->conns; c != NULL; c = c->next) {
        conn_close(c, 0, "stopping");
    }
    p->quiet = 1;
    if (p->listening) {
        uv_close((uv_handle_t *)&p->listener, on_handle_close);
    }
    if (p->dials_started) {
        for (i = 0; i < p->dial_count; i++) {
            p->dials[i].timer.data = p;
            uv_close((uv_handle_t *)&p->dials[i].timer, on_handle_close);
        }
    }
    /* One handle of our own, so that done always runs from the loop. */
    (void)uv_timer_init(p->loop, &p->stop_timer);
    p->stop_timer.data = p;
    p->handles_open++;
    uv_close((uv_handle_t *)&p->stop_timer, on_handle_close);
}

void p2p_destroy(struct p2p *p)
{
    if (p == NULL) {
        return;
    }
    TDEI_ASSERT(p->handles_open == 0);
    TDEI_ASSERT(p->conns == NULL);
    sodium_memzero(p->bans, sizeof(p->bans));
    tdei_free(p->dials);
    tdei_free(p);
}
