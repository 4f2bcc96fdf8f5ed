/* tdei bench: drive a fresh localnet with pre-signed transfers and
 * report tx/s, commit latency, RSS and the verification bound as JSON
 * (DESIGN.md section 12); with --data, measure its data plane instead
 * (bench_data.h). */
#include "cli.h"

#include "bench_data.h"
#include "bench_load.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "localnet.h"
#include "verify_rate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BENCH_TXS_MAX 200000u   /* pre-signed txs at most */
#define BENCH_RATE_DEFAULT 100u /* tx/s without --rate or --max */
#define BENCH_VERIFY_MS 1000u   /* how long the bound is measured */
#define BENCH_VERIFY_TXS 1024u  /* distinct txs it verifies */
#define BENCH_WAIT_MS 30000u    /* nodes must answer within this */
#define BENCH_STOP_MS 10000u    /* SIGTERM, then SIGKILL */

struct bench_args
{
    uint64_t nodes;      /* --nodes */
    uint64_t duration_s; /* --duration */
    uint64_t rate;       /* --rate; 0 with --max */
    int max;             /* --max */
    int keep;            /* --keep */
    int json;            /* --json (the default output anyway) */
    const char *dir;     /* --dir, or NULL: a new .tdei/bench-XXXXXX */
};

/* Pre-sign @count transfers of 1 credit to LOCALNET_SINK_ID: tx k by
 * the operator key of node k % N with nonce k / N + 1. */
static int bench_presign(const struct localnet *ln, struct bench_tx *txs,
                         size_t count)
{
    struct tdei_keypair keys[LOCALNET_NODES_MAX];
    int rc = CLI_EXIT_OK;
    size_t loaded = 0;

    for (; rc == CLI_EXIT_OK && loaded < ln->count; loaded++) {
        struct cli_ctx ctx = {.home = ln->nodes[loaded].home};
        rc = cli_operator_key(&ctx, NULL, &keys[loaded]);
    }
    for (size_t k = 0; rc == CLI_EXIT_OK && k < count; k++) {
        const struct tdei_keypair *kp = &keys[k % ln->count];
        Tdei__TxBody body = TDEI__TX_BODY__INIT;
        Tdei__Transfer transfer = TDEI__TRANSFER__INIT;

        transfer.to = (char *)(uintptr_t)LOCALNET_SINK_ID;
        transfer.amount = 1;
        transfer.memo = (char *)(uintptr_t) "";
        body.version = CODEC_VERSION;
        body.chain_id = (char *)(uintptr_t)LOCALNET_CHAIN_ID;
        body.signer.data = (uint8_t *)(uintptr_t)kp->pubkey;
        body.signer.len = TDEI_PUBKEY_SIZE;
        body.nonce = k / ln->count + 1u;
        body.op_case = TDEI__TX_BODY__OP_TRANSFER;
        body.transfer = &transfer;
        rc = cli_tx_sign(kp, &body, &txs[k].bytes, &txs[k].len);
    }
    for (size_t i = 0; i < loaded; i++) {
        tdei_keypair_wipe(&keys[i]);
    }
    return rc;
}

/* VmHWM of @pid in MiB (fraction kept), or -1 when unreadable. */
static double bench_rss_mib(pid_t pid)
{
    char path[64];
    char line[256];
    double mib = -1.0;
    FILE *f;

    (void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        unsigned long kib;
        if (sscanf(line, "VmHWM: %lu kB", &kib) == 1) {
            mib = (double)kib / 1024.0;
        }
    }
    if (f != NULL) {
        (void)fclose(f);
    }
    return mib;
}

/* The latency at percentile @pct of the sorted @lat (@n values), ms. */
static double bench_pct_ms(const uint64_t *lat, size_t n, unsigned pct)
{
    if (n == 0) {
        return 0.0;
    }
    return (double)lat[(n - 1) * pct / 100u] / 1000.0;
}

/* The refusals by code name, e.g. {"TDEI_TIMEOUT": 3}. */
static json_t *bench_codes_json(const struct bench_result *r)
{
    json_t *codes = json_object();

    for (size_t k = 0; codes != NULL && k < BENCH_LOAD_CODES; k++) {
        if (r->refused_codes[k] > 0) {
            (void)json_object_set_new(
                codes, k == 0 ? "other" : tdei_errname((int)(1000 + k)),
                json_integer((json_int_t)r->refused_codes[k]));
        }
    }
    return codes;
}

static json_t *bench_json(const struct bench_args *a, size_t presigned,
                          const struct bench_result *r,
                          const struct verify_rate *vr, unsigned cores,
                          json_t *rss)
{
    size_t n = (size_t)r->committed;
    double elapsed_s = (double)r->elapsed_us / 1e6;
    double duration_s = (double)a->duration_s;
    double window_s = elapsed_s > duration_s ? elapsed_s : duration_s;
    double committed_tps = (double)r->committed / window_s;
    double bound = (double)vr->per_sec_core * (double)cores / (double)a->nodes;

    return json_pack(
        "{s:I, s:I, s:s, s:o, s:f, s:f, s:{s:f, s:f, s:f}, s:o, s:I, s:I, "
        "s:f, s:f, s:I, s:I, s:I, s:o, s:I, s:I, s:f}",
        "nodes", (json_int_t)a->nodes, "duration_s", (json_int_t)a->duration_s,
        "mode", a->max ? "max" : "rate", "rate_tps",
        a->max ? json_null() : json_integer((json_int_t)a->rate), "offered_tps",
        (double)r->submitted / duration_s, "committed_tps", committed_tps,
        "latency_ms", "p50", bench_pct_ms(r->latencies_us, n, 50), "p95",
        bench_pct_ms(r->latencies_us, n, 95), "p99",
        bench_pct_ms(r->latencies_us, n, 99), "rss_mib", rss,
        "verify_per_sec_per_core", (json_int_t)vr->per_sec_core, "cores",
        (json_int_t)cores, "bound_tps", bound, "ratio",
        bound > 0 ? committed_tps / bound : 0.0, "presigned",
        (json_int_t)presigned, "submitted", (json_int_t)r->submitted, "refused",
        (json_int_t)r->refused, "refused_codes", bench_codes_json(r),
        "retried", (json_int_t)r->retried, "failed",
        (json_int_t)r->failed, "elapsed_s",
        elapsed_s);
}

int cli_bench_dir(const char *dir, char *out, int *made)
{
    *made = 0;
    if (dir != NULL) {
        (void)snprintf(out, HOME_PATH_MAX, "%s", dir);
        return CLI_EXIT_OK;
    }
    if (mkdir(".tdei", 0700) != 0 && errno != EEXIST) {
        return cli_error("cannot create .tdei: %s; give --dir DIR",
                         strerror(errno));
    }
    (void)snprintf(out, HOME_PATH_MAX, ".tdei/bench-XXXXXX");
    if (mkdtemp(out) == NULL) {
        return cli_error("cannot create %s: %s; give --dir DIR", out,
                         strerror(errno));
    }
    *made = 1;
    return CLI_EXIT_OK;
}

/* How many txs to pre-sign: rate x duration, or with --max what the
 * verification bound allows in the duration (commits cannot outrun it
 * for long: every node verifies every tx), plus a margin. */
static size_t bench_tx_count(const struct bench_args *a,
                             const struct verify_rate *vr, unsigned cores)
{
    uint64_t count;

    if (!a->max) {
        return (size_t)(a->rate * a->duration_s);
    }
    count = vr->per_sec_core * cores / a->nodes * a->duration_s + 1000u;
    return (size_t)(count > BENCH_TXS_MAX ? BENCH_TXS_MAX : count);
}

/* Start @ln, run the load of @txs, read the nodes' RSS. */
static int bench_measure(struct localnet *ln, const struct bench_args *a,
                         const struct bench_tx *txs, size_t count,
                         struct bench_result *r, json_t *rss)
{
    const char *apis[LOCALNET_NODES_MAX];
    struct bench_load load = {
        .txs = txs,
        .tx_count = count,
        .apis = apis,
        .node_count = ln->count,
        .rate_tps = a->max ? 0 : a->rate,
        .duration_ms = a->duration_s * 1000u,
    };
    int rc;

    for (size_t i = 0; i < ln->count; i++) {
        apis[i] = ln->nodes[i].api;
    }
    /* Height 1: the nodes are connected and commit before the clock
     * starts. */
    rc = cli_localnet_start(ln, 1, BENCH_WAIT_MS);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    rc = bench_load_run(&load, r);
    for (size_t i = 0; i < ln->count; i++) {
        (void)json_array_append_new(rss,
                                    json_real(bench_rss_mib(ln->nodes[i].pid)));
    }
    return rc != 0 ? cli_fail(rc, "the load could not run") : CLI_EXIT_OK;
}

static int bench_run(const struct cli_ctx *ctx, const struct bench_args *a)
{
    unsigned cores = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    struct verify_rate vr;
    struct bench_result r = {0};
    struct localnet ln;
    struct bench_tx *txs = NULL;
    json_t *rss = json_array();
    char dir[HOME_PATH_MAX];
    size_t count = 0;
    int made;
    int rc;

    (void)ctx;
    cores = cores < 1                         ? 1
            : cores > VERIFY_RATE_THREADS_MAX ? VERIFY_RATE_THREADS_MAX
                                              : cores;
    rc = verify_rate_measure(cores, BENCH_VERIFY_TXS, BENCH_VERIFY_MS, &vr);
    if (rc != 0) {
        json_decref(rss);
        return cli_fail(rc, "cannot measure the verification rate");
    }
    rc = cli_bench_dir(a->dir, dir, &made);
    if (rc == CLI_EXIT_OK) {
        rc = cli_localnet_create("bench", dir, a->nodes, 0, 1, &ln);
    }
    if (rc == CLI_EXIT_OK) {
        count = bench_tx_count(a, &vr, cores);
        txs = tdei_calloc(count + 1, sizeof(*txs));
        rc = txs == NULL ? cli_fail(TDEI_NOMEM, NULL)
                         : bench_presign(&ln, txs, count);
    }
    if (rc == CLI_EXIT_OK) {
        rc = bench_measure(&ln, a, txs, count, &r, rss);
        if (!a->keep) {
            localnet_stop(&ln, BENCH_STOP_MS, NULL);
        }
    }
    if (rc == CLI_EXIT_OK) {
        rc = cli_print_json(bench_json(a, count, &r, &vr, cores, rss));
        rss = NULL;
        if (a->keep) {
            fprintf(stderr,
                    "tdei bench: the localnet runs on in %s; stop "
                    "it with `tdei localnet down --dir %s`\n",
                    ln.dir, ln.dir);
        }
    }
    for (size_t i = 0; txs != NULL && i < count; i++) {
        tdei_free(txs[i].bytes);
    }
    tdei_free(txs);
    tdei_free(r.latencies_us);
    json_decref(rss);
    if (made && !a->keep) {
        localnet_remove_dir(dir);
    }
    return rc;
}

/* Check the options of `bench --data` against the others and fill its
 * defaults into @d. Returns an exit code (usage errors printed). */
static int bench_data_check(const struct bench_args *a,
                            struct bench_data_args *d)
{
    if (a->duration_s != 0 || a->rate != 0 || a->max) {
        return cli_usage_error("bench",
                               "--duration, --rate and --max measure the "
                               "ledger's txs; --data measures the data plane "
                               "(--payload-mib, --stream-rate, "
                               "--stream-seconds): give one kind");
    }
    d->nodes = a->nodes != 0 ? a->nodes : BENCH_DATA_NODES_DEFAULT;
    if (d->nodes < 2) {
        return cli_usage_error("bench",
                               "--data needs 2 nodes or more (one member "
                               "publishes, another fetches); --nodes is %llu",
                               (unsigned long long)d->nodes);
    }
    d->payload_mib =
        d->payload_mib != 0 ? d->payload_mib : BENCH_DATA_MIB_DEFAULT;
    d->stream_rate =
        d->stream_rate != 0 ? d->stream_rate : BENCH_DATA_RATE_DEFAULT;
    d->stream_seconds =
        d->stream_seconds != 0 ? d->stream_seconds : BENCH_DATA_SECONDS_DEFAULT;
    if (d->stream_rate * d->stream_seconds > BENCH_DATA_RECORDS_MAX) {
        return cli_usage_error("bench",
                               "--stream-rate %llu x --stream-seconds %llu is "
                               "over %u records; lower one of them",
                               (unsigned long long)d->stream_rate,
                               (unsigned long long)d->stream_seconds,
                               BENCH_DATA_RECORDS_MAX);
    }
    d->keep = a->keep;
    d->dir = a->dir;
    return CLI_EXIT_OK;
}

int cli_cmd_bench(struct cli_ctx *ctx, int argc, char **argv)
{
    struct bench_args a = {0};
    struct bench_data_args d = {0};
    int data = 0;
    const struct cli_opt opts[] = {
        {.name = "nodes",
         .type = CLI_OPT_U64,
         .dest = &a.nodes,
         .meta = "N",
         .help = "validator nodes of the localnet, default 4 (2 with --data)",
         .min = 1,
         .max = LOCALNET_NODES_MAX},
        {.name = "duration",
         .type = CLI_OPT_U64,
         .dest = &a.duration_s,
         .meta = "SECONDS",
         .help = "how long txs are submitted, default 10",
         .min = 1,
         .max = 3600},
        {.name = "rate",
         .type = CLI_OPT_U64,
         .dest = &a.rate,
         .meta = "TX_PER_S",
         .help = "offered tx/s, default 100",
         .min = 1,
         .max = BENCH_TXS_MAX},
        {.name = "max",
         .type = CLI_OPT_FLAG,
         .dest = &a.max,
         .help = "submit as fast as the nodes take txs (not with --rate)"},
        {.name = "data",
         .type = CLI_OPT_FLAG,
         .dest = &data,
         .help = "measure the data plane instead: payload MiB/s and stream "
                 "latency"},
        {.name = "payload-mib",
         .type = CLI_OPT_U64,
         .dest = &d.payload_mib,
         .meta = "N",
         .help = "--data: MiB of the payload fetched, default 64",
         .min = 1,
         .max = 4096},
        {.name = "stream-rate",
         .type = CLI_OPT_U64,
         .dest = &d.stream_rate,
         .meta = "PER_S",
         .help = "--data: stream records pushed per second, default 500",
         .min = 1,
         .max = 100000},
        {.name = "stream-seconds",
         .type = CLI_OPT_U64,
         .dest = &d.stream_seconds,
         .meta = "SECONDS",
         .help = "--data: how long records are pushed, default 10",
         .min = 1,
         .max = 3600},
        {.name = "dir",
         .type = CLI_OPT_TEXT,
         .dest = &a.dir,
         .meta = "DIR",
         .help = "a new or empty directory for the localnet (default: a new "
                 ".tdei/bench-XXXXXX, removed afterwards)"},
        {.name = "keep",
         .type = CLI_OPT_FLAG,
         .dest = &a.keep,
         .help = "leave the localnet running and its directory in place"},
        {.name = "json",
         .type = CLI_OPT_FLAG,
         .dest = &a.json,
         .help = "print JSON (the default; accepted for symmetry)"},
    };
    const struct cli_spec spec = {
        .what = "bench",
        .about =
            "Measure a fresh localnet: sign transfers first, then submit "
            "them with\nwait-for-commit over the API of every node at "
            "--rate tx/s (or --max)\nfor --duration seconds, and print one "
            "JSON object: offered and\ncommitted tx/s, commit latency "
            "p50/p95/p99 in ms, peak RSS per node\nin MiB, the "
            "signature-verification bound measured in the same run\n"
            "(verifications/s per core x cores / nodes) and ratio = "
            "committed tx/s\n/ bound.\n\n"
            "With --data, measure the data plane of a fresh localnet "
            "(default 2\nnodes): a --payload-mib file published by one "
            "member and fetched by\nanother (MiB/s from its delivery on "
            "the ledger to the fetch's answer),\nand stream records pushed "
            "at --stream-rate for --stream-seconds\n(latency p50/p99 from "
            "sent to the owner's node to stored at the\nsubscriber's). "
            "Exit 1 when the localnet or the load fails, 2 on\nbad usage.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    if (a.dir != NULL) {
        char dir[HOME_PATH_MAX];
        char errmsg[TDEI_ERRMSG_SIZE] = "";
        if (localnet_dir_resolve(dir, a.dir, errmsg) != 0) {
            return cli_usage_error("bench", "%s", errmsg);
        }
    }
    if (data) {
        rc = bench_data_check(&a, &d);
        return rc != CLI_EXIT_OK ? rc : bench_data_run(&d);
    }
    if (d.payload_mib != 0 || d.stream_rate != 0 || d.stream_seconds != 0) {
        return cli_usage_error("bench", "--payload-mib, --stream-rate and "
                                        "--stream-seconds need --data");
    }
    a.nodes = a.nodes != 0 ? a.nodes : LOCALNET_NODES_DEFAULT;
    a.duration_s = a.duration_s != 0 ? a.duration_s : 10u;
    if (a.max && a.rate != 0) {
        return cli_usage_error("bench", "give --rate TX_PER_S or --max, "
                                        "not both");
    }
    if (!a.max && a.rate == 0) {
        a.rate = BENCH_RATE_DEFAULT;
    }
    if (!a.max && a.rate * a.duration_s > BENCH_TXS_MAX) {
        return cli_usage_error("bench",
                               "--rate %llu x --duration %llu is over %u "
                               "pre-signed txs; lower one of them",
                               (unsigned long long)a.rate,
                               (unsigned long long)a.duration_s, BENCH_TXS_MAX);
    }
    return bench_run(ctx, &a);
}
