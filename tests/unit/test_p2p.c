/* Tests of node/p2p: peer managers on one libuv loop in this process, on
 * 127.0.0.1 with ports the kernel picks, and raw peers (tests/integ/
 * p2p_raw.h) on blocking sockets in a thread that do the handshake by
 * hand and then misbehave. Every wait is bounded by a deadline. */
#include "testutil.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "p2p/p2p.h"
#include "p2p_raw.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define CHAIN "test-chain"
#define DEADLINE_MS 5000u
#define TICK_MS 5u
#define NODES 3
#define MAX_FRAME (64u * 1024)
#define BAN_MS 1500u

struct node {
    struct p2p *p;
    struct tdei_keypair key;
    int port;
    int stopped;
    size_t connected;
    size_t disconnected;
    uint64_t last_id;          /* of the last connected() */
    uint8_t last_key[32];
    size_t received[P2P_CHANNELS + 1];
    /* The last message of each channel (an attacker's raw peer may send
     * on another channel meanwhile). */
    uint8_t last_msg[P2P_CHANNELS + 1][64];
    size_t last_len[P2P_CHANNELS + 1];
    int refuse_all;            /* admit() says no */
    int refuse_messages;       /* message() says bad */
};

static struct {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps uv_run(ONCE) from blocking */
    struct node nodes[NODES];
} fx;

static int cb_admit(void *data, const uint8_t key[32], char *errmsg)
{
    struct node *n = data;

    (void)key;
    if (n->refuse_all) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOT_MEMBER,
                           "not a member (test)");
    }
    return 0;
}

static void cb_connected(void *data, uint64_t id, const uint8_t key[32])
{
    struct node *n = data;

    n->connected++;
    n->last_id = id;
    memcpy(n->last_key, key, 32);
}

static void cb_disconnected(void *data, uint64_t id, const uint8_t key[32])
{
    struct node *n = data;

    (void)id;
    (void)key;
    n->disconnected++;
}

static int cb_message(void *data, uint64_t id, enum p2p_channel ch,
                      const uint8_t *bytes, size_t len, char *errmsg)
{
    struct node *n = data;

    (void)id;
    n->received[ch]++;
    n->last_len[ch] = len < sizeof(n->last_msg[ch]) ? len
                                                    : sizeof(n->last_msg[ch]);
    memcpy(n->last_msg[ch], bytes, n->last_len[ch]);
    if (n->refuse_messages) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "bad message (test)");
    }
    return 0;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void setup(void)
{
    int i;

    testutil_leak_setup();
    tdei_log_threshold = TDEI_LOG_WARNING;
    memset(&fx, 0, sizeof(fx));
    ck_assert_int_eq(uv_loop_init(&fx.loop), 0);
    ck_assert_int_eq(uv_timer_init(&fx.loop, &fx.tick), 0);
    ck_assert_int_eq(uv_timer_start(&fx.tick, on_tick, TICK_MS, TICK_MS), 0);
    for (i = 0; i < NODES; i++) {
        ck_assert_int_eq(tdei_keypair_generate(&fx.nodes[i].key), 0);
    }
}

typedef int (*cond_fn)(void *arg);

/* Run the loop until @cond holds; fail after DEADLINE_MS. */
static void run_until(cond_fn cond, void *arg, const char *what)
{
    uint64_t start;

    uv_update_time(&fx.loop);
    start = uv_now(&fx.loop);
    while (!cond(arg)) {
        if (uv_now(&fx.loop) - start > DEADLINE_MS) {
            ck_abort_msg("timed out waiting for %s", what);
        }
        (void)uv_run(&fx.loop, UV_RUN_ONCE);
    }
}

/* Run the loop for about @ms. */
static void run_for(uint64_t ms)
{
    uint64_t start;

    uv_update_time(&fx.loop);
    start = uv_now(&fx.loop);
    while (uv_now(&fx.loop) - start < ms) {
        (void)uv_run(&fx.loop, UV_RUN_ONCE);
    }
}

static int is_stopped(void *arg)
{
    return ((struct node *)arg)->stopped;
}

static void on_stopped(void *data)
{
    ((struct node *)data)->stopped = 1;
}

static void node_stop(struct node *n)
{
    if (n->p == NULL) {
        return;
    }
    n->stopped = 0;
    p2p_stop(n->p, on_stopped, n);
    run_until(is_stopped, n, "p2p_stop");
    p2p_destroy(n->p);
    n->p = NULL;
}

static void on_tick_close(uv_handle_t *h)
{
    (void)h;
}

static void teardown(void)
{
    int i;

    for (i = 0; i < NODES; i++) {
        node_stop(&fx.nodes[i]);
    }
    uv_close((uv_handle_t *)&fx.tick, on_tick_close);
    (void)uv_run(&fx.loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
    testutil_leak_teardown();
}

static void test_options(struct p2p_options *o, struct node *n)
{
    p2p_options_default(o);
    o->chain_id = CHAIN;
    o->key = &n->key;
    o->max_frame = MAX_FRAME;
    o->queue_bytes = 256u * 1024;
    o->handshake_timeout_ms = 2000;
    o->backoff_min_ms = 20;
    o->backoff_max_ms = 200;
    o->ban_ms = BAN_MS;
}

/* Start node @n listening on @port (0: any) and dialling @peer (NULL:
 * none); @chain NULL means CHAIN. */
static void node_start_with(struct node *n, int port, const char *peer,
                            const char *chain)
{
    struct p2p_callbacks cb = {.data = n,
                               .admit = cb_admit,
                               .connected = cb_connected,
                               .disconnected = cb_disconnected,
                               .message = cb_message};
    struct p2p_options o;
    char errmsg[TDEI_ERRMSG_SIZE];
    char listen[P2P_ADDR_MAX];
    const char *peers[1] = {peer};

    test_options(&o, n);
    if (chain != NULL) {
        o.chain_id = chain;
    }
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    o.listen = listen;
    o.peers = peers;
    o.peer_count = peer != NULL ? 1 : 0;
    ck_assert_int_eq(p2p_create(&n->p, &fx.loop, &o, &cb, errmsg), 0);
    ck_assert_int_eq(p2p_start(n->p, errmsg), 0);
    n->port = p2p_listen_port(n->p);
    ck_assert_int_gt(n->port, 0);
}

static void node_start(struct node *n, const struct node *dial_to)
{
    char peer[P2P_ADDR_MAX];

    if (dial_to == NULL) {
        node_start_with(n, 0, NULL, NULL);
        return;
    }
    (void)snprintf(peer, sizeof(peer), "127.0.0.1:%d", dial_to->port);
    node_start_with(n, 0, peer, NULL);
}

static size_t ready_count(const struct node *n)
{
    struct p2p_stats st;

    if (n->p == NULL) {
        return 0;
    }
    p2p_stats_get(n->p, &st);
    return st.ready;
}

static int both_ready(void *arg)
{
    struct node *n = arg;

    return ready_count(&n[0]) == 1 && ready_count(&n[1]) == 1;
}

static int stats_failed_ge1(void *arg)
{
    struct p2p_stats st;

    p2p_stats_get(((struct node *)arg)->p, &st);
    return st.handshakes_failed >= 1;
}

/* A and B connected: A listens, B dials A. */
static void pair_up(void)
{
    node_start(&fx.nodes[0], NULL);
    node_start(&fx.nodes[1], &fx.nodes[0]);
    run_until(both_ready, fx.nodes, "A and B ready");
}

struct want {
    struct node *n;
    enum p2p_channel ch;
    size_t count;
};

static int received(void *arg)
{
    struct want *w = arg;

    return w->n->received[w->ch] >= w->count;
}

/* The id at @from of the ready peer @to. */
static uint64_t peer_id(const struct node *from, const struct node *to)
{
    struct p2p_peer_info info[NODES + 1];
    size_t count = p2p_peers(from->p, info, NODES + 1);
    size_t i;

    for (i = 0; i < count && i < NODES + 1; i++) {
        if (memcmp(info[i].node_key, to->key.pubkey, 32) == 0) {
            return info[i].id;
        }
    }
    ck_abort_msg("no ready peer with that key");
    return 0;
}

/* Send "ping" from @from to @to on @ch and wait for it. */
static void exchange(struct node *from, struct node *to, enum p2p_channel ch)
{
    struct want w = {to, ch, to->received[ch] + 1};
    uint8_t msg[5] = {'p', 'i', 'n', 'g', (uint8_t)ch};

    ck_assert_int_eq(
        p2p_send(from->p, peer_id(from, to), ch, msg, sizeof(msg)), 0);
    run_until(received, &w, "a message");
    ck_assert_uint_eq(to->last_len[ch], sizeof(msg));
    ck_assert_mem_eq(to->last_msg[ch], msg, sizeof(msg));
}

/* ------------------------------------------------------------------------
 * Connecting
 * ------------------------------------------------------------------------ */

START_TEST(test_two_peers_exchange_on_every_channel)
{
    struct p2p_peer_info info[2];
    int ch;

    pair_up();
    ck_assert_mem_eq(fx.nodes[0].last_key, fx.nodes[1].key.pubkey, 32);
    ck_assert_mem_eq(fx.nodes[1].last_key, fx.nodes[0].key.pubkey, 32);
    for (ch = P2P_CH_TX; ch <= P2P_CH_CHUNK; ch++) {
        exchange(&fx.nodes[0], &fx.nodes[1], (enum p2p_channel)ch);
        exchange(&fx.nodes[1], &fx.nodes[0], (enum p2p_channel)ch);
    }
    ck_assert_uint_eq(p2p_peers(fx.nodes[1].p, info, 2), 1);
    ck_assert_int_eq(info[0].outbound, 1);
    ck_assert_uint_eq(info[0].frames_out, 2 + P2P_CHANNELS);
    ck_assert_uint_eq(info[0].frames_in, 2 + P2P_CHANNELS);
    ck_assert_uint_eq(p2p_broadcast(fx.nodes[0].p, P2P_CH_STATUS, NULL, 0),
                      1);
    ck_assert_int_eq(p2p_send(fx.nodes[0].p, 999, P2P_CH_TX, NULL, 0),
                     TDEI_NOTFOUND);
}
END_TEST

START_TEST(test_send_over_max_frame_is_too_big)
{
    uint8_t *big = tdei_calloc(1, MAX_FRAME);

    pair_up();
    ck_assert_int_eq(p2p_send(fx.nodes[0].p, fx.nodes[0].last_id, P2P_CH_TX,
                              big, MAX_FRAME - 16),
                     TDEI_TOOBIG);
    tdei_free(big);
}
END_TEST

START_TEST(test_admit_refusal_closes)
{
    fx.nodes[0].refuse_all = 1;
    node_start(&fx.nodes[0], NULL);
    node_start(&fx.nodes[1], &fx.nodes[0]);
    run_until(stats_failed_ge1, &fx.nodes[0], "a refused handshake");
    ck_assert_uint_eq(fx.nodes[0].connected, 0);
    ck_assert_uint_eq(ready_count(&fx.nodes[0]), 0);
}
END_TEST

START_TEST(test_recheck_closes_refused_peers)
{
    pair_up();
    ck_assert_uint_eq(p2p_recheck(fx.nodes[0].p), 0);
    fx.nodes[0].refuse_all = 1;
    ck_assert_uint_eq(p2p_recheck(fx.nodes[0].p), 1);
    ck_assert_uint_eq(fx.nodes[0].disconnected, 1);
    ck_assert_uint_eq(ready_count(&fx.nodes[0]), 0);
}
END_TEST

START_TEST(test_other_chain_refused)
{
    char peer[P2P_ADDR_MAX];

    node_start(&fx.nodes[0], NULL);
    (void)snprintf(peer, sizeof(peer), "127.0.0.1:%d", fx.nodes[0].port);
    node_start_with(&fx.nodes[1], 0, peer, "other-chain");
    run_until(stats_failed_ge1, &fx.nodes[0], "a refused handshake");
    ck_assert_uint_eq(fx.nodes[0].connected + fx.nodes[1].connected, 0);
}
END_TEST

/* Start @n on port 0, then again on the same port with @peer_port as
 * its peer (0: its own port). */
static void node_restart_dialling(struct node *n, int peer_port)
{
    char peer[P2P_ADDR_MAX];
    int port;

    node_start(n, NULL);
    port = n->port;
    node_stop(n);
    (void)snprintf(peer, sizeof(peer), "127.0.0.1:%d",
                   peer_port != 0 ? peer_port : port);
    node_start_with(n, port, peer, NULL);
    ck_assert_int_eq(n->port, port);
}

START_TEST(test_self_dial_refused)
{
    node_restart_dialling(&fx.nodes[0], 0);
    run_until(stats_failed_ge1, &fx.nodes[0], "a refused self-dial");
    ck_assert_uint_eq(fx.nodes[0].connected, 0);
    ck_assert_uint_eq(ready_count(&fx.nodes[0]), 0);
}
END_TEST

static int one_each_settled(void *arg)
{
    struct node *n = arg;
    struct p2p_stats a;
    struct p2p_stats b;

    p2p_stats_get(n[0].p, &a);
    p2p_stats_get(n[1].p, &b);
    return a.ready == 1 && b.ready == 1 && a.connecting == 0 &&
           b.connecting == 0;
}

START_TEST(test_duplicate_connections_end_with_one)
{
    struct p2p_peer_info ia;
    struct p2p_peer_info ib;

    /* B dials A; A, restarted on its port, dials B: both dial. */
    node_start(&fx.nodes[0], NULL);
    node_start(&fx.nodes[1], &fx.nodes[0]);
    node_stop(&fx.nodes[0]);
    {
        char peer[P2P_ADDR_MAX];
        int port = fx.nodes[0].port;

        (void)snprintf(peer, sizeof(peer), "127.0.0.1:%d", fx.nodes[1].port);
        node_start_with(&fx.nodes[0], port, peer, NULL);
    }
    run_until(one_each_settled, fx.nodes, "one connection each side");
    run_for(500); /* both dial loops ran again meanwhile */
    ck_assert_uint_eq(p2p_peers(fx.nodes[0].p, &ia, 1), 1);
    ck_assert_uint_eq(p2p_peers(fx.nodes[1].p, &ib, 1), 1);
    ck_assert_int_ne(ia.outbound, ib.outbound);
    exchange(&fx.nodes[0], &fx.nodes[1], P2P_CH_CONSENSUS);
    exchange(&fx.nodes[1], &fx.nodes[0], P2P_CH_CONSENSUS);
}
END_TEST

static int reconnected(void *arg)
{
    struct node *n = arg;

    return n[1].connected >= 2 && ready_count(&n[1]) == 1 &&
           n[0].p != NULL && ready_count(&n[0]) == 1;
}

static int b_lost(void *arg)
{
    return ((struct node *)arg)[1].disconnected >= 1;
}

START_TEST(test_reconnects_after_restart)
{
    struct p2p_stats st;
    int port;

    pair_up();
    port = fx.nodes[0].port;
    node_stop(&fx.nodes[0]);
    run_until(b_lost, fx.nodes, "B sees A gone");
    run_for(150); /* B's redials fail meanwhile */
    node_start_with(&fx.nodes[0], port, NULL, NULL);
    run_until(reconnected, fx.nodes, "B reconnects");
    p2p_stats_get(fx.nodes[1].p, &st);
    ck_assert_uint_ge(st.dialled, 2);
    exchange(&fx.nodes[1], &fx.nodes[0], P2P_CH_SYNC);
}
END_TEST

static int a_banned(void *arg)
{
    struct p2p_stats st;

    p2p_stats_get(((struct node *)arg)->p, &st);
    return st.banned == 1 && st.ready == 0;
}

START_TEST(test_refused_message_bans_the_peer)
{
    struct p2p_stats st;
    uint64_t failed;

    pair_up();
    fx.nodes[0].refuse_messages = 1;
    ck_assert_int_eq(p2p_send(fx.nodes[1].p, fx.nodes[1].last_id, P2P_CH_TX,
                              (const uint8_t *)"x", 1),
                     0);
    run_until(a_banned, &fx.nodes[0], "A bans B");
    p2p_stats_get(fx.nodes[0].p, &st);
    ck_assert_uint_eq(st.messages_refused, 1);
    ck_assert_uint_eq(fx.nodes[0].disconnected, 1);
    failed = st.handshakes_failed;
    /* B redials during the ban: refused every time. */
    run_for(BAN_MS / 2);
    p2p_stats_get(fx.nodes[0].p, &st);
    ck_assert_uint_eq(st.ready, 0);
    ck_assert_uint_eq(fx.nodes[0].connected, 1);
    ck_assert_uint_gt(st.handshakes_failed, failed);
}
END_TEST

/* ------------------------------------------------------------------------
 * Raw peers in a thread
 * ------------------------------------------------------------------------ */

enum attack {
    ATTACK_GARBAGE,
    ATTACK_OVERSIZE,
    ATTACK_TRUNCATED,
    ATTACK_REPLAY,
    ATTACK_TAMPER,
    ATTACK_SLOW_READER
};

struct raw_job {
    enum attack attack;
    int port;
    struct tdei_keypair key;
    atomic_int handshaken; /* slow reader: ready to be flooded */
    atomic_int release;    /* slow reader: may close now */
    atomic_int done;
    int result; /* RAW_CLOSED when the node closed us */
};

static void attack_send(struct raw_job *j, struct raw_peer *r)
{
    uint8_t buf[4096];
    uint8_t *frame;
    size_t size;

    switch (j->attack) {
    case ATTACK_GARBAGE:
        memset(buf, 0x5a, sizeof(buf));
        (void)raw_send(r, buf, sizeof(buf));
        break;
    case ATTACK_OVERSIZE:
        frame_header_write(buf, MAX_FRAME + 1);
        (void)raw_send(r, buf, FRAME_HEADER_SIZE);
        break;
    case ATTACK_TRUNCATED:
        frame_header_write(buf, 100);
        memset(buf + 4, 1, 50);
        (void)raw_send(r, buf, 54);
        (void)shutdown(r->fd, SHUT_WR);
        break;
    case ATTACK_REPLAY:
    case ATTACK_TAMPER:
        if (raw_handshake(r, CHAIN, &j->key) != RAW_OK ||
            raw_seal(r, P2P_CH_STATUS, NULL, 0, &frame, &size) != RAW_OK) {
            return;
        }
        if (j->attack == ATTACK_TAMPER) {
            frame[size - 1] ^= 0x80;
        } else {
            (void)raw_send(r, frame, size);
        }
        (void)raw_send(r, frame, size);
        tdei_free(frame);
        break;
    case ATTACK_SLOW_READER:
    default:
        break;
    }
}

static void *raw_thread(void *arg)
{
    struct raw_job *j = arg;
    struct raw_peer r;

    j->result = RAW_ERROR;
    if (raw_connect(&r, "127.0.0.1", j->port, 2000, MAX_FRAME) == RAW_OK) {
        if (j->attack == ATTACK_SLOW_READER) {
            if (raw_handshake(&r, CHAIN, &j->key) == RAW_OK) {
                atomic_store(&j->handshaken, 1);
                while (!atomic_load(&j->release)) {
                    usleep(1000);
                }
                j->result = RAW_OK;
            }
        } else {
            attack_send(j, &r);
            j->result = raw_wait_closed(&r, 3000);
        }
    }
    raw_close(&r);
    atomic_store(&j->done, 1);
    return NULL;
}

START_TEST(test_raw_attack_closes_only_that_connection)
{
    struct raw_job job;
    pthread_t thread;
    uint64_t id_before;
    struct p2p_peer_info info;
    struct p2p_stats st;

    pair_up();
    ck_assert_uint_eq(p2p_peers(fx.nodes[0].p, &info, 1), 1);
    id_before = info.id;
    memset(&job, 0, sizeof(job));
    job.attack = (enum attack)_i;
    job.port = fx.nodes[0].port;
    ck_assert_int_eq(tdei_keypair_generate(&job.key), 0);
    ck_assert_int_eq(pthread_create(&thread, NULL, raw_thread, &job), 0);
    /* The honest pair keeps talking while the attack runs. */
    while (!atomic_load(&job.done)) {
        exchange(&fx.nodes[0], &fx.nodes[1], P2P_CH_CONSENSUS);
        exchange(&fx.nodes[1], &fx.nodes[0], P2P_CH_TX);
    }
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert_int_eq(job.result, RAW_CLOSED);
    ck_assert_uint_eq(p2p_peers(fx.nodes[0].p, &info, 1), 1);
    ck_assert_uint_eq(info.id, id_before);
    /* Before authentication nothing is banned; after it, the key is. */
    p2p_stats_get(fx.nodes[0].p, &st);
    ck_assert_uint_eq(st.banned, job.attack >= ATTACK_REPLAY ? 1 : 0);
    ck_assert_uint_eq(st.ready, 2 - 1);
    exchange(&fx.nodes[0], &fx.nodes[1], P2P_CH_STATUS);
}
END_TEST

struct flood {
    struct node *n;
    uint64_t id;
    int full;
    size_t sent;
};

static void on_flood(uv_timer_t *t)
{
    struct flood *f = t->data;
    static uint8_t chunk[16u * 1024];
    int i;
    int rc;

    for (i = 0; i < 16 && !f->full; i++) {
        rc = p2p_send(f->n->p, f->id, P2P_CH_CHUNK, chunk, sizeof(chunk));
        if (rc == TDEI_FULL) {
            f->full = 1;
        } else {
            ck_assert_int_eq(rc, 0);
            f->sent++;
        }
    }
}

static int flood_full(void *arg)
{
    return ((struct flood *)arg)->full;
}

static int raw_ready(void *arg)
{
    return atomic_load(&((struct raw_job *)arg)->handshaken) &&
           ready_count(&fx.nodes[0]) == 2;
}

START_TEST(test_slow_reader_fills_its_queue_only)
{
    struct raw_job job;
    pthread_t thread;
    struct flood fl = {0};
    uv_timer_t timer;
    struct p2p_peer_info info[2];
    struct p2p_stats st;
    size_t i;

    pair_up();
    memset(&job, 0, sizeof(job));
    job.attack = ATTACK_SLOW_READER;
    job.port = fx.nodes[0].port;
    ck_assert_int_eq(tdei_keypair_generate(&job.key), 0);
    ck_assert_int_eq(pthread_create(&thread, NULL, raw_thread, &job), 0);
    run_until(raw_ready, &job, "the raw peer ready");
    ck_assert_mem_eq(fx.nodes[0].last_key, job.key.pubkey, 32);
    fl.n = &fx.nodes[0];
    fl.id = fx.nodes[0].last_id;
    ck_assert_int_eq(uv_timer_init(&fx.loop, &timer), 0);
    timer.data = &fl;
    ck_assert_int_eq(uv_timer_start(&timer, on_flood, 1, 1), 0);
    run_until(flood_full, &fl, "a full send queue");
    uv_close((uv_handle_t *)&timer, NULL);
    ck_assert_uint_eq(p2p_peers(fx.nodes[0].p, info, 2), 2);
    for (i = 0; i < 2; i++) {
        if (info[i].id == fl.id) {
            ck_assert_uint_ge(info[i].dropped, 1);
            ck_assert_uint_le(info[i].queued_bytes, 256u * 1024);
        }
    }
    p2p_stats_get(fx.nodes[0].p, &st);
    ck_assert_uint_ge(st.dropped, 1);
    /* The honest peer is not held up by the slow one. */
    exchange(&fx.nodes[0], &fx.nodes[1], P2P_CH_CONSENSUS);
    atomic_store(&job.release, 1);
    while (!atomic_load(&job.done)) {
        (void)uv_run(&fx.loop, UV_RUN_ONCE);
    }
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
}
END_TEST

START_TEST(test_create_refuses_bad_options)
{
    struct p2p_callbacks cb = {0};
    struct p2p_options o;
    struct p2p *p;
    char errmsg[TDEI_ERRMSG_SIZE];
    const char *bad_peer[1] = {"localhost:1"};

    test_options(&o, &fx.nodes[0]);
    o.listen = "127.0.0.1:99999";
    ck_assert_int_eq(p2p_create(&p, &fx.loop, &o, &cb, errmsg), TDEI_CONFIG);
    o.listen = NULL;
    o.peers = bad_peer;
    o.peer_count = 1;
    ck_assert_int_eq(p2p_create(&p, &fx.loop, &o, &cb, errmsg), TDEI_CONFIG);
    o.peer_count = 0;
    o.max_frame = 100;
    ck_assert_int_eq(p2p_create(&p, &fx.loop, &o, &cb, errmsg), TDEI_CONFIG);
    o.max_frame = MAX_FRAME;
    o.max_peers = 0;
    ck_assert_int_eq(p2p_create(&p, &fx.loop, &o, &cb, errmsg), TDEI_CONFIG);
    o.max_peers = 4;
    o.chain_id = NULL;
    ck_assert_int_eq(p2p_create(&p, &fx.loop, &o, &cb, errmsg), TDEI_CONFIG);
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(test_listen_in_use_reported)
{
    struct p2p_callbacks cb = {0};
    struct p2p_options o;
    char errmsg[TDEI_ERRMSG_SIZE];
    char listen[P2P_ADDR_MAX];

    node_start(&fx.nodes[0], NULL);
    test_options(&o, &fx.nodes[1]);
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%d", fx.nodes[0].port);
    o.listen = listen;
    ck_assert_int_eq(p2p_create(&fx.nodes[1].p, &fx.loop, &o, &cb, errmsg), 0);
    ck_assert_int_eq(p2p_start(fx.nodes[1].p, errmsg), TDEI_ADDR_IN_USE);
}
END_TEST

static Suite *p2p_suite(void)
{
    Suite *s = suite_create("p2p");
    TCase *tc;

    tc = tcase_create("connect");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_two_peers_exchange_on_every_channel);
    tcase_add_test(tc, test_send_over_max_frame_is_too_big);
    tcase_add_test(tc, test_admit_refusal_closes);
    tcase_add_test(tc, test_recheck_closes_refused_peers);
    tcase_add_test(tc, test_other_chain_refused);
    tcase_add_test(tc, test_self_dial_refused);
    tcase_add_test(tc, test_duplicate_connections_end_with_one);
    tcase_add_test(tc, test_reconnects_after_restart);
    tcase_add_test(tc, test_refused_message_bans_the_peer);
    tcase_add_test(tc, test_create_refuses_bad_options);
    tcase_add_test(tc, test_listen_in_use_reported);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_raw_attack_closes_only_that_connection,
                        ATTACK_GARBAGE, ATTACK_TAMPER + 1);
    tcase_add_test(tc, test_slow_reader_fills_its_queue_only);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* As tdei-node does: a write to a closed peer is EPIPE, not death. */
    (void)signal(SIGPIPE, SIG_IGN);
    return testutil_run(p2p_suite());
}
