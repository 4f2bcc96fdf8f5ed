/* bench_ledger: committed tx/s of one real tdei-node against the
 * signature-verification bound measured in the same run (DESIGN.md
 * section 12).
 *
 * Creates a one-validator network through the integration harness
 * (tests/integ/harness.h) whose first --signers members sign, pre-signs
 * --txs transfers (signer i % S, nonce i / S + 1, 1 credit to the next
 * member), then:
 *   1. verifies the pre-signed signatures with tdei_verify_tagged on one
 *      thread for about a second: verifications per second per core;
 *   2. starts tdei-node, submits every tx with wait=true, pipelined over
 *      --connections connections with --window requests in flight on each
 *      (below the API's per-connection pending limit), each signer on one
 *      connection so its nonces arrive in order; measures the wall time
 *      from the first send to the last commit answer, the latency of each
 *      tx (send to committed answer) and the node's peak RSS (VmHWM);
 *   3. prints one JSON object on stdout:
 *      {"txs", "signers", "block_interval_ms", "committed_tps",
 *       "latency_ms": {"p50", "p95", "p99"}, "node_peak_rss_mib",
 *       "verify_per_sec_per_core", "cores", "verify_bound_tps", "ratio",
 *       ...}
 *      where verify_bound_tps = verify_per_sec_per_core x cores / nodes
 *      (one node here) and ratio = committed_tps / verify_bound_tps.
 *
 *   bench_ledger [--txs N] [--signers S] [--block-interval-ms B]
 *                [--connections C] [--window W] [--timeout-s T]
 *                [--node PATH]
 *
 * Defaults: 20,000 txs, 16 signers (members 0-15; member 0 also runs the
 * validator), block interval 20 ms, 8 connections x 48 in flight (384
 * txs, below mempool.verify_inflight_max), timeout 120 s. The run is
 * closed-loop: throughput is at most in-flight / latency, so raise
 * --connections to find the node's limit.
 *
 * The node binary is --node, else $TDEI_NODE_BIN, else ./tdei-node. The
 * node is stopped by pid and the temporary directory removed on every
 * exit path (TDEI_KEEP=1 keeps the directory and the node's log); the
 * whole run gives up after --timeout-s seconds (default 120).
 * Exit status: 0; 1 on a failure (message on stderr); 2 on bad arguments.
 */
#include "bench_util.h"
#include "harness.h"

#include "api/api.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/keys.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_TXS_MAX 1000000u
#define BENCH_CONNECTIONS_MAX 16u
#define BENCH_INTERVAL_MAX 10000u
#define BENCH_TIMEOUT_MAX 3600u
#define BENCH_VERIFY_NS 1000000000u /* length of the verification run */
#define BENCH_BALANCE 1000000000000ull
#define BENCH_WAIT_MS 60000u /* SubmitTx.timeout_ms */

struct bench_args {
    unsigned txs;               /* transfers to commit */
    unsigned signers;           /* members that sign, 1-INTEG_MEMBERS_MAX */
    unsigned block_interval_ms; /* chain.block_interval_ms */
    unsigned connections;       /* API connections used for submits */
    unsigned window;            /* requests in flight per connection */
    unsigned timeout_s;         /* bound of the whole run */
};

/* One API connection and its share of the txs. */
struct bench_conn {
    struct api_client client;
    size_t index;    /* which connection: takes signers s % C == index */
    size_t next;     /* the next tx index to consider sending */
    size_t inflight; /* requests sent, not answered */
    int open;        /* 1 while client is connected */
};

/* Everything the run holds, so that one cleanup releases it. */
struct bench {
    struct bench_args args;
    struct integ_net net;
    struct bench_conn conns[BENCH_CONNECTIONS_MAX];
    uint8_t **tx;            /* serialized Txs */
    size_t *tx_len;          /* their lengths */
    Tdei__Tx **decoded;      /* the same, decoded (body and sig) */
    uint64_t *sent_ns;       /* send time of each tx */
    uint64_t *latency_us;    /* send-to-commit time of each tx */
    uint64_t deadline_ns;    /* give up after this */
};

static volatile sig_atomic_t bench_interrupted;

static void bench_on_signal(int sig)
{
    (void)sig;
    bench_interrupted = 1;
}

static uint64_t bench_now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bench_arg(const char *name, const char *value, unsigned min,
                     unsigned max, unsigned *out)
{
    char *end = NULL;
    unsigned long v;

    if (value == NULL) {
        fprintf(stderr, "bench_ledger: %s needs a value\n", name);
        return 2;
    }
    v = strtoul(value, &end, 10);
    if (*value == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "bench_ledger: %s=%s is outside %u-%u\n", name,
                value, min, max);
        return 2;
    }
    *out = (unsigned)v;
    return 0;
}

static int bench_parse(struct bench_args *args, int argc, char **argv)
{
    static const char usage[] =
        "usage: bench_ledger [--txs N] [--signers S] "
        "[--block-interval-ms B] [--connections C] [--window W] "
        "[--timeout-s T] [--node PATH]\n";

    for (int i = 1; i < argc; i += 2) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int rc;

        if (strcmp(argv[i], "--txs") == 0) {
            rc = bench_arg(argv[i], value, 1, BENCH_TXS_MAX, &args->txs);
        } else if (strcmp(argv[i], "--signers") == 0) {
            rc = bench_arg(argv[i], value, 1, INTEG_MEMBERS_MAX,
                           &args->signers);
        } else if (strcmp(argv[i], "--block-interval-ms") == 0) {
            rc = bench_arg(argv[i], value, 1, BENCH_INTERVAL_MAX,
                           &args->block_interval_ms);
        } else if (strcmp(argv[i], "--connections") == 0) {
            rc = bench_arg(argv[i], value, 1, BENCH_CONNECTIONS_MAX,
                           &args->connections);
        } else if (strcmp(argv[i], "--window") == 0) {
            /* The node answers TDEI_BUSY past API_MAX_PENDING_DEFAULT. */
            rc = bench_arg(argv[i], value, 1, API_MAX_PENDING_DEFAULT,
                           &args->window);
        } else if (strcmp(argv[i], "--timeout-s") == 0) {
            rc = bench_arg(argv[i], value, 1, BENCH_TIMEOUT_MAX,
                           &args->timeout_s);
        } else if (strcmp(argv[i], "--node") == 0 && value != NULL) {
            rc = setenv("TDEI_NODE_BIN", value, 1) == 0 ? 0 : 2;
        } else {
            fputs(usage, stderr);
            return 2;
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (getenv("TDEI_NODE_BIN") == NULL &&
        setenv("TDEI_NODE_BIN", "./tdei-node", 1) != 0) {
        return 2;
    }
    if (args->connections > args->signers) {
        args->connections = args->signers; /* a signer uses one */
    }
    return 0;
}

/* Pre-sign every transfer; keep its bytes and its decoded form. */
static int bench_sign(struct bench *b)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    size_t n = b->args.txs;
    size_t members = b->net.members;

    b->tx = tdei_calloc(n, sizeof(*b->tx));
    b->tx_len = tdei_calloc(n, sizeof(*b->tx_len));
    b->decoded = tdei_calloc(n, sizeof(*b->decoded));
    b->sent_ns = tdei_calloc(n, sizeof(*b->sent_ns));
    b->latency_us = tdei_calloc(n, sizeof(*b->latency_us));
    if (b->tx == NULL || b->tx_len == NULL || b->decoded == NULL ||
        b->sent_ns == NULL || b->latency_us == NULL) {
        fprintf(stderr, "bench_ledger: out of memory for %zu txs\n", n);
        return TDEI_NOMEM;
    }
    for (size_t i = 0; i < n && !bench_interrupted; i++) {
        size_t s = i % b->args.signers;
        uint64_t nonce = 1 + i / b->args.signers;
        int rc = integ_transfer_tx(&b->net, s, (s + 1) % members, 1, nonce,
                                   &b->tx[i], &b->tx_len[i]);
        if (rc == 0) {
            rc = codec_tx_decode(&b->decoded[i], b->tx[i], b->tx_len[i],
                                 b->tx_len[i], errmsg);
        }
        if (rc != 0) {
            fprintf(stderr, "bench_ledger: signing tx %zu: %s %s\n", i,
                    tdei_errname(rc), errmsg);
            return rc;
        }
    }
    return 0;
}

/* Verify the pre-signed txs round-robin on this thread for about
 * BENCH_VERIFY_NS; *@per_sec gets verifications per second. */
static int bench_verify(const struct bench *b, uint64_t *per_sec)
{
    uint64_t start = bench_now_ns();
    uint64_t elapsed = 0;
    uint64_t count = 0;
    size_t i = 0;

    while (elapsed < BENCH_VERIFY_NS) {
        for (unsigned k = 0; k < 64; k++) {
            const Tdei__Tx *tx = b->decoded[i];
            const uint8_t *signer = b->net.ops[i % b->args.signers].pubkey;
            if (tdei_verify_tagged(tx->sig.data, signer, TDEI_TAG_TX,
                                   tx->body.data, tx->body.len) != 0) {
                fprintf(stderr, "bench_ledger: tx %zu did not verify\n", i);
                return TDEI_BADSIG;
            }
            count++;
            i = (i + 1) % b->args.txs;
        }
        elapsed = bench_now_ns() - start;
    }
    *per_sec = count * 1000000000u / elapsed;
    return 0;
}

/* Send as many of @c's txs as its window allows. */
static int bench_fill(struct bench *b, struct bench_conn *c)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    size_t signers = b->args.signers;
    size_t conns = b->args.connections;

    while (c->inflight < b->args.window) {
        Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
        Tdei__Api__SubmitTx sub = TDEI__API__SUBMIT_TX__INIT;
        size_t i = c->next;
        int rc;

        while (i < b->args.txs && (i % signers) % conns != c->index) {
            i++;
        }
        if (i >= b->args.txs) {
            c->next = i;
            return 0;
        }
        sub.tx.data = b->tx[i];
        sub.tx.len = b->tx_len[i];
        sub.wait = 1;
        sub.timeout_ms = BENCH_WAIT_MS;
        req.id = i + 1;
        req.req_case = TDEI__API__REQUEST__REQ_SUBMIT;
        req.submit = &sub;
        b->sent_ns[i] = bench_now_ns();
        rc = api_client_send(&c->client, &req, errmsg);
        if (rc != 0) {
            fprintf(stderr, "bench_ledger: send tx %zu: %s\n", i, errmsg);
            return rc;
        }
        c->inflight++;
        c->next = i + 1;
    }
    return 0;
}

/* Read one answer on @c; it must be a commit with a successful result. */
static int bench_answer(struct bench *b, struct bench_conn *c)
{
    Tdei__Api__Response *resp = NULL;
    Tdei__TxResult *result = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint64_t now;
    size_t i;
    int rc;

    rc = api_client_recv(&c->client, &resp, errmsg);
    now = bench_now_ns();
    if (rc != 0) {
        fprintf(stderr, "bench_ledger: receive: %s\n", errmsg);
        return rc;
    }
    if (resp->id == 0 || resp->id > b->args.txs || c->inflight == 0) {
        fprintf(stderr, "bench_ledger: answer with unexpected id %" PRIu64
                        " (code %s: %s)\n",
                resp->id, tdei_errname((int)resp->code), resp->error);
        api_client_response_free(resp);
        return TDEI_BADREQUEST;
    }
    i = (size_t)(resp->id - 1);
    if (resp->code != 0) {
        fprintf(stderr, "bench_ledger: tx %zu refused: %s: %s\n", i,
                tdei_errname((int)resp->code), resp->error);
        rc = (int)resp->code;
    } else if (resp->submit->height == 0 ||
               codec_txresult_decode(&result, resp->submit->result.data,
                                     resp->submit->result.len,
                                     errmsg) != 0 ||
               result->code != 0) {
        fprintf(stderr, "bench_ledger: tx %zu committed without success "
                        "(height %" PRIu64 ", result %s)\n",
                i, resp->submit->height,
                result != NULL ? tdei_errname((int)result->code) : errmsg);
        rc = TDEI_BADREQUEST;
    }
    codec_txresult_free(result);
    api_client_response_free(resp);
    b->latency_us[i] = (now - b->sent_ns[i]) / 1000u;
    c->inflight--;
    return rc;
}

/* Submit every tx and wait for every commit. *@elapsed_ns: first send to
 * last answer. */
static int bench_submit_all(struct bench *b, uint64_t *elapsed_ns)
{
    struct pollfd pfds[BENCH_CONNECTIONS_MAX];
    size_t answered = 0;
    uint64_t start = bench_now_ns();
    int rc = 0;

    for (size_t k = 0; k < b->args.connections && rc == 0; k++) {
        rc = bench_fill(b, &b->conns[k]);
    }
    while (rc == 0 && answered < b->args.txs) {
        uint64_t now = bench_now_ns();
        int ready;
        if (bench_interrupted) {
            fprintf(stderr, "bench_ledger: interrupted\n");
            return TDEI_CANCELED;
        }
        if (now >= b->deadline_ns) {
            fprintf(stderr, "bench_ledger: gave up after %u s with %zu of "
                            "%u txs committed\n",
                    b->args.timeout_s, answered, b->args.txs);
            return TDEI_TIMEOUT;
        }
        for (size_t k = 0; k < b->args.connections; k++) {
            pfds[k].fd = b->conns[k].client.fd;
            pfds[k].events = POLLIN;
            pfds[k].revents = 0;
        }
        ready = poll(pfds, (nfds_t)b->args.connections, 1000);
        if (ready < 0 && errno != EINTR) {
            fprintf(stderr, "bench_ledger: poll: %s\n", strerror(errno));
            return TDEI_IOERR;
        }
        for (size_t k = 0; k < b->args.connections && ready > 0 && rc == 0;
             k++) {
            if (pfds[k].revents == 0) {
                continue;
            }
            rc = bench_answer(b, &b->conns[k]);
            if (rc == 0) {
                answered++;
                rc = bench_fill(b, &b->conns[k]);
            }
        }
    }
    *elapsed_ns = bench_now_ns() - start;
    return rc;
}

/* The node's peak resident set (VmHWM) in KiB, or 0 when unknown. */
static uint64_t bench_node_peak_kib(pid_t pid)
{
    char path[64];
    char line[256];
    uint64_t kib = 0;
    FILE *f;

    (void)snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kib = strtoull(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

/* Nearest-rank percentile @p (1-100) of the sorted @v (@n >= 1), in ms. */
static double bench_percentile_ms(const uint64_t *v, size_t n, unsigned p)
{
    size_t rank = (n * p + 99u) / 100u;

    return (double)v[rank > 0 ? rank - 1 : 0] / 1000.0;
}

static void bench_free(struct bench *b)
{
    for (size_t k = 0; k < BENCH_CONNECTIONS_MAX; k++) {
        if (b->conns[k].open) {
            api_client_close(&b->conns[k].client);
            b->conns[k].open = 0;
        }
    }
    integ_net_destroy(&b->net); /* kills the node by pid, removes the dir */
    for (size_t i = 0; i < b->args.txs; i++) {
        if (b->tx != NULL) {
            tdei_free(b->tx[i]);
        }
        if (b->decoded != NULL) {
            codec_tx_free(b->decoded[i]);
        }
    }
    tdei_free(b->tx);
    tdei_free(b->tx_len);
    tdei_free(b->decoded);
    tdei_free(b->sent_ns);
    tdei_free(b->latency_us);
}

/* Run the benchmark; the caller frees @b whatever happens. */
static int bench_run(struct bench *b)
{
    struct bench_args *a = &b->args;
    uint64_t verify_per_sec = 0;
    uint64_t elapsed_ns = 0;
    uint64_t peak_kib;
    uint64_t height = 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t members = a->signers < 2 ? 2 : a->signers;
    double tps, bound;
    int status;
    int rc;

    if (cores < 1) {
        cores = 1;
    }
    rc = integ_net_create(&b->net, members, BENCH_BALANCE,
                          a->block_interval_ms);
    if (rc == 0) {
        rc = bench_sign(b);
    }
    if (rc == 0) {
        rc = bench_verify(b, &verify_per_sec);
    }
    if (rc == 0 && bench_interrupted) {
        fprintf(stderr, "bench_ledger: interrupted\n");
        rc = TDEI_CANCELED;
    }
    if (rc == 0 && bench_now_ns() >= b->deadline_ns) {
        fprintf(stderr, "bench_ledger: gave up while signing\n");
        rc = TDEI_TIMEOUT;
    }
    if (rc == 0) {
        rc = integ_node_start(&b->net, 20000);
    }
    for (size_t k = 0; k < a->connections && rc == 0; k++) {
        b->conns[k].index = k;
        rc = integ_connect(&b->net, &b->conns[k].client);
        b->conns[k].open = rc == 0;
    }
    if (rc == 0) {
        rc = bench_submit_all(b, &elapsed_ns);
    }
    if (rc == 0) {
        rc = integ_status(&b->conns[0].client, &height, NULL);
    }
    if (rc != 0) {
        return rc;
    }
    peak_kib = bench_node_peak_kib(b->net.pid);
    for (size_t k = 0; k < a->connections; k++) {
        api_client_close(&b->conns[k].client);
        b->conns[k].open = 0;
    }
    status = integ_node_stop(&b->net, SIGTERM, 20000);
    if (status != 0) {
        fprintf(stderr, "bench_ledger: tdei-node exited with %d; see %s\n",
                status, b->net.log);
        return TDEI_IOERR;
    }
    qsort(b->latency_us, a->txs, sizeof(*b->latency_us), bench_cmp_u64);
    tps = (double)a->txs * 1e9 / (double)elapsed_ns;
    bound = (double)verify_per_sec * (double)cores; /* one node */
    printf("{\"txs\":%u,\"signers\":%u,\"block_interval_ms\":%u,"
           "\"committed_tps\":%.1f,"
           "\"latency_ms\":{\"p50\":%.1f,\"p95\":%.1f,\"p99\":%.1f},"
           "\"node_peak_rss_mib\":%.1f,\"verify_per_sec_per_core\":%" PRIu64
           ",\"cores\":%ld,\"verify_bound_tps\":%.0f,\"ratio\":%.4f,"
           "\"nodes\":1,\"connections\":%u,\"window\":%u,"
           "\"elapsed_ms\":%" PRIu64 ",\"blocks\":%" PRIu64 "}\n",
           a->txs, a->signers, a->block_interval_ms, tps,
           bench_percentile_ms(b->latency_us, a->txs, 50),
           bench_percentile_ms(b->latency_us, a->txs, 95),
           bench_percentile_ms(b->latency_us, a->txs, 99),
           (double)peak_kib / 1024.0, verify_per_sec, cores, bound,
           tps / bound, a->connections, a->window, elapsed_ns / 1000000u,
           height);
    return 0;
}

int main(int argc, char **argv)
{
    static struct bench b;
    struct sigaction sa;
    int rc;

    b.args = (struct bench_args){.txs = 20000,
                                 .signers = 16,
                                 .block_interval_ms = 20,
                                 .connections = 8,
                                 .window = 48,
                                 .timeout_s = 120};
    rc = bench_parse(&b.args, argc, argv);
    if (rc != 0) {
        return rc;
    }
    if (tdei_crypto_init() != 0) {
        fprintf(stderr, "bench_ledger: crypto init failed\n");
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bench_on_signal;
    (void)sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGHUP, &sa, NULL);
    b.deadline_ns = bench_now_ns() + (uint64_t)b.args.timeout_s * 1000000000u;
    rc = bench_run(&b);
    bench_free(&b);
    return rc == 0 ? 0 : 1;
}
