/* The load of `tdei bench` (bench_load.h). */
#include "bench_load.h"

#include "api/client.h"
#include "cli.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/limits.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define LOAD_THREADS_MAX (16u * BENCH_LOAD_CONNS_PER_NODE)

/* One connection: its share of the txs and what it saw. */
struct load_conn
{
    uv_thread_t thread;
    const struct bench_load *load;
    const char *api;   /* its node's address */
    size_t first;      /* its first tx index */
    size_t step;       /* distance between its txs */
    uint64_t start_us; /* the shared clock start */
    uint64_t *sent_us; /* send time per tx index (shared array) */
    uint64_t *lat_us;  /* its committed latencies */
    size_t lat_count;
    size_t inflight;
    /* Txs the node pushed back (load_retryable: a full queue, or a nonce
     * that came before its predecessor): sent again after
     * LOAD_RETRY_US, since a signer's later nonces wait for them. */
    size_t retry[BENCH_LOAD_INFLIGHT_MAX];
    uint64_t retry_at_us[BENCH_LOAD_INFLIGHT_MAX];
    size_t retry_count;
    uint64_t refused_codes[BENCH_LOAD_CODES]; /* refusals by code - 1000 */
    uint64_t last_us; /* last answer */
    uint64_t submitted, committed, refused, failed, retried;
};

/* How long a pushed-back tx waits before it is sent again. */
#define LOAD_RETRY_US 5000u

static size_t load_code_slot(int code)
{
    return code > 1000 && code < 1000 + (int)BENCH_LOAD_CODES ? (size_t)(code - 1000)
                                                         : 0;
}

/* Answers that mean "not now": the node's verification queue, its pool
 * or the signer's share of it is full, or the nonce came before its
 * predecessor (submits of one signer race over several connections). */
static int load_retryable(int code)
{
    return code == TDEI_BUSY || code == TDEI_MEMPOOL_FULL ||
           code == TDEI_SIGNER_FULL || code == TDEI_NONCE_GAP;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* When tx @index is due, in µs from the start (0 without a rate). */
static uint64_t load_due_us(const struct bench_load *load, size_t index)
{
    return load->rate_tps == 0 ? 0
                               : (uint64_t)index * 1000000u / load->rate_tps;
}

static int load_send(struct load_conn *c, struct api_client *client,
                     size_t index, int again)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__SubmitTx submit = TDEI__API__SUBMIT_TX__INIT;
    char errmsg[TDEI_ERRMSG_SIZE];

    submit.tx.data = c->load->txs[index].bytes;
    submit.tx.len = c->load->txs[index].len;
    submit.wait = 1;
    submit.timeout_ms = BENCH_LOAD_WAIT_MS;
    req.req_case = TDEI__API__REQUEST__REQ_SUBMIT;
    req.submit = &submit;
    req.id = (uint64_t)index + 1u; /* unique per connection */
    if (!again) {
        c->sent_us[index] = cli_mono_us(); /* latency counts from here */
    }
    if (api_client_send(client, &req, errmsg) != 0) {
        return -1;
    }
    c->submitted += !again;
    c->retried += again != 0;
    c->inflight++;
    return 0;
}

/* Read one answer and account for it. Returns 0 or -1 (connection lost). */
static int load_recv(struct load_conn *c, struct api_client *client)
{
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint64_t now;

    if (api_client_recv(client, &resp, errmsg) != 0) {
        return -1;
    }
    now = cli_mono_us();
    if (resp->id >= 1 && resp->id <= c->load->tx_count && c->inflight > 0) {
        c->inflight--;
        c->last_us = now;
        if (resp->code == 0) {
            c->lat_us[c->lat_count++] = now - c->sent_us[resp->id - 1];
            c->committed++;
        } else if (load_retryable((int)resp->code) &&
                   c->retry_count < BENCH_LOAD_INFLIGHT_MAX) {
            c->retry_at_us[c->retry_count] = now + LOAD_RETRY_US;
            c->retry[c->retry_count++] = (size_t)(resp->id - 1);
        } else {
            c->refused++;
            c->refused_codes[load_code_slot((int)resp->code)]++;
        }
    }
    api_client_response_free(resp);
    return 0;
}

/* Wait up to @timeout_ms for an answer; read it if one came.
 * Returns 0 or -1 (connection lost). */
static int load_poll(struct load_conn *c, struct api_client *client,
                     uint64_t timeout_ms)
{
    struct pollfd pfd = {.fd = client->fd, .events = POLLIN};
    int n = poll(&pfd, 1, (int)timeout_ms);

    if (n > 0) {
        return load_recv(c, client);
    }
    return 0;
}

/* Send again one tx the node was too busy to take. Returns 1 when one
 * was sent, 0 when none waits, -1 on a lost connection. */
static int load_resend(struct load_conn *c, struct api_client *client)
{
    size_t pick = 0;
    size_t index;

    if (c->retry_count == 0 || c->inflight >= BENCH_LOAD_INFLIGHT_MAX) {
        return 0;
    }
    /* The lowest tx index first: it has the lowest nonce of its signer,
     * which every later nonce waits for (a stack would starve it). */
    for (size_t i = 1; i < c->retry_count; i++) {
        if (c->retry[i] < c->retry[pick]) {
            pick = i;
        }
    }
    if (cli_mono_us() < c->retry_at_us[pick]) {
        return 0;
    }
    index = c->retry[pick];
    c->retry_count--;
    c->retry[pick] = c->retry[c->retry_count];
    c->retry_at_us[pick] = c->retry_at_us[c->retry_count];
    return load_send(c, client, index, 1) == 0 ? 1 : -1;
}

/* Send this connection's txs on time, reading answers in between. */
static int load_send_all(struct load_conn *c, struct api_client *client)
{
    const struct bench_load *load = c->load;
    uint64_t end_us = c->start_us + load->duration_ms * 1000u;
    size_t next = c->first;

    while (next < load->tx_count) {
        uint64_t now = cli_mono_us();
        uint64_t due = c->start_us + load_due_us(load, next);

        int resent;

        if (now >= end_us) {
            break;
        }
        resent = load_resend(c, client);
        if (resent != 0) {
            if (resent < 0) {
                return -1;
            }
            continue;
        }
        /* A pushed-back tx keeps its slot: the ring never overflows. */
        if (c->inflight + c->retry_count < BENCH_LOAD_INFLIGHT_MAX &&
            now >= due) {
            if (load_send(c, client, next, 0) != 0) {
                return -1;
            }
            next += c->step;
            continue;
        }
        {
            uint64_t until =
                c->retry_count > 0 ? 1u
                : c->inflight < BENCH_LOAD_INFLIGHT_MAX
                    ? (due - now) / 1000u
                    : (end_us - now) / 1000u + 1u;
            if (load_poll(c, client, until < 1 ? 1 : until) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

static void load_conn_main(void *arg)
{
    struct load_conn *c = arg;
    struct api_client client;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint64_t drain_end;

    if (api_client_connect(&client, c->api, BENCH_LOAD_WAIT_MS + 5000u,
                           TDEI_API_FRAME_MAX, errmsg) != 0) {
        return;
    }
    if (load_send_all(c, &client) == 0) {
        drain_end = cli_mono_us() + (BENCH_LOAD_WAIT_MS + 2000u) * 1000u;
        while ((c->inflight > 0 || c->retry_count > 0) &&
               cli_mono_us() < drain_end) {
            if (load_resend(c, &client) < 0 ||
                load_poll(c, &client, 100) != 0) {
                break;
            }
        }
    }
    c->failed += c->inflight + c->retry_count;
    c->inflight = 0;
    c->retry_count = 0;
    api_client_close(&client);
}

/* Sum the connections into @result, latencies sorted. */
static int load_collect(struct load_conn *conns, size_t count,
                        uint64_t start_us, struct bench_result *result)
{
    size_t total = 0;
    uint64_t last = start_us;

    for (size_t i = 0; i < count; i++) {
        total += conns[i].lat_count;
    }
    result->latencies_us = tdei_malloc((total + 1) * sizeof(uint64_t));
    if (result->latencies_us == NULL) {
        return TDEI_NOMEM;
    }
    total = 0;
    for (size_t i = 0; i < count; i++) {
        struct load_conn *c = &conns[i];
        memcpy(result->latencies_us + total, c->lat_us,
               c->lat_count * sizeof(uint64_t));
        total += c->lat_count;
        result->submitted += c->submitted;
        result->committed += c->committed;
        result->refused += c->refused;
        result->failed += c->failed;
        result->retried += c->retried;
        for (size_t k = 0; k < BENCH_LOAD_CODES; k++) {
            result->refused_codes[k] += c->refused_codes[k];
        }
        last = c->last_us > last ? c->last_us : last;
    }
    qsort(result->latencies_us, total, sizeof(uint64_t), cmp_u64);
    result->elapsed_us = last - start_us;
    return 0;
}

/* Start one thread per connection and join them. */
static int load_threads(struct load_conn *conns, size_t count)
{
    size_t started = 0;

    for (; started < count; started++) {
        if (uv_thread_create(&conns[started].thread, load_conn_main,
                             &conns[started]) != 0) {
            break;
        }
    }
    for (size_t i = 0; i < started; i++) {
        (void)uv_thread_join(&conns[i].thread);
    }
    return started == count ? 0 : TDEI_CRYPTO;
}

int bench_load_run(const struct bench_load *load, struct bench_result *result)
{
    struct load_conn conns[LOAD_THREADS_MAX];
    size_t count = load->node_count * BENCH_LOAD_CONNS_PER_NODE;
    uint64_t *sent_us = tdei_calloc(load->tx_count + 1, sizeof(uint64_t));
    uint64_t start_us;
    int rc = sent_us == NULL ? TDEI_NOMEM : 0;

    TDEI_ASSERT(load->node_count >= 1 && count <= LOAD_THREADS_MAX);
    memset(result, 0, sizeof(*result));
    memset(conns, 0, sizeof(conns));
    start_us = cli_mono_us();
    for (size_t i = 0; rc == 0 && i < count; i++) {
        /* Connection i: node i % N, every count-th tx from i. */
        conns[i].load = load;
        conns[i].api = load->apis[i % load->node_count];
        conns[i].first = i;
        conns[i].step = count;
        conns[i].start_us = start_us;
        conns[i].sent_us = sent_us;
        conns[i].lat_us =
            tdei_calloc(load->tx_count / count + 1, sizeof(uint64_t));
        rc = conns[i].lat_us == NULL ? TDEI_NOMEM : 0;
    }
    if (rc == 0) {
        rc = load_threads(conns, count);
    }
    if (rc == 0) {
        rc = load_collect(conns, count, start_us, result);
    }
    for (size_t i = 0; i < count; i++) {
        tdei_free(conns[i].lat_us);
    }
    tdei_free(sent_us);
    return rc;
}
