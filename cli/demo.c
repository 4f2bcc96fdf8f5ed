/* tdei localnet demo: the data plane end to end on a localnet (demo.h).
 *
 * The steps are the commands an operator would type, run as this very
 * binary (selfrun.h) with each member's home and --json; what they did
 * is then checked against the ledger through the API (nodecall.h). A
 * step that does not do what it should stops the demo with what failed,
 * and the exit code is 1. */
#include "demo.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/ids.h"
#include "core/limits.h"
#include "localnet.h"
#include "selfrun.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DEMO_DIR_DEFAULT ".tdei/localnet"
#define DEMO_NODES_MIN 3u /* a regulator, a manufacturer, a platform */
#define DEMO_SIZE_MIB_DEFAULT 4u
#define DEMO_RECORDS_DEFAULT 100u
#define DEMO_RECORDS_MAX 10000u /* one ReadStream page holds them */
#define DEMO_TIMEOUT_S_DEFAULT 60u
#define DEMO_PRICE_FILE 250u /* credits, one_time */
#define DEMO_PRICE_RECORD 2u /* credits per record */
#define DEMO_WAIT_MS 30000u  /* a started localnet must commit by then */
#define DEMO_STOP_MS 10000u  /* SIGTERM, then SIGKILL */
#define DEMO_POLL_MS 100u    /* how often a wait looks again */
#define DEMO_CALL_MS 10000u  /* bound of one API call */
#define DEMO_OUTPUT_MAX (64u * TDEI_MIB) /* a command's output read back */
#define DEMO_ERR_LINES 15u /* stderr lines shown of a failed command */

static volatile sig_atomic_t demo_interrupted;

static void demo_on_signal(int sig)
{
    (void)sig;
    demo_interrupted = 1;
}

struct demo
{
    struct localnet ln;
    int started; /* the demo started the nodes: it stops them */
    const struct localnet_node *owner;      /* a manufacturer */
    const struct localnet_node *consumer;   /* a platform */
    const struct localnet_node *regulator;  /* a public_service member */
    struct nodecall owner_nc;               /* the owner's node */
    struct nodecall consumer_nc;            /* the consumer's node */
    char work[LOCALNET_DIR_MAX + 96];       /* DIR/demo/ID: files */
    char dataset[CODEC_DATASET_ID_MAX + 1]; /* the file dataset's id */
    char stream[CODEC_DATASET_ID_MAX + 1];  /* the stream's id */
    uint64_t size_mib;                      /* --size-mib */
    uint64_t records;                       /* --records */
    uint64_t timeout_ms;                    /* --step-timeout */
    uint64_t start_height;                  /* before the first tx */
    uint64_t file_size;                     /* bytes generated */
    uint8_t file_hash[32];                  /* their SHA-256 */
    uint8_t file_xid[32];                   /* the dataset exchange */
    uint8_t feed_xid[32];                   /* the stream subscription */
    uint64_t owner_before;                  /* balances at the start */
    uint64_t consumer_before;
    unsigned step;        /* the step running, from 1 */
    char step_title[160]; /* its title */
    unsigned cmd_count;   /* commands run (file names) */
    struct selfrun tail;  /* the consumer's tail */
};

/* ---- output -------------------------------------------------------------- */

static void demo_step(struct demo *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int demo_fail(struct demo *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void demo_step(struct demo *d, const char *fmt, ...)
{
    va_list ap;

    d->step++;
    va_start(ap, fmt);
    (void)vsnprintf(d->step_title, sizeof(d->step_title), fmt, ap);
    va_end(ap);
    printf("\n[%u] %s\n", d->step, d->step_title);
    (void)fflush(stdout);
}

/* Report that the running step failed. Returns -1. */
static int demo_fail(struct demo *d, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    printf("    FAILED: %s\n", what);
    (void)fflush(stdout);
    (void)cli_error("the demo failed at step %u (%s): %s", d->step,
                    d->step_title, what);
    return -1;
}

static void demo_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void demo_ok(const char *fmt, ...)
{
    va_list ap;

    fputs("    ok: ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    (void)fflush(stdout);
}

static const char *hex32(char *out, const uint8_t *bytes)
{
    return tdei_hex_encode(out, TDEI_HEX_SIZE(32), bytes, 32);
}

/* Print the first DEMO_ERR_LINES lines of @path, indented. */
static void demo_show_file(const char *path)
{
    char line[512];
    FILE *f = fopen(path, "r");
    unsigned n = 0;

    while (f != NULL && n < DEMO_ERR_LINES &&
           fgets(line, sizeof(line), f) != NULL) {
        printf("      | %s%s", line, strchr(line, '\n') ? "" : "\n");
        n++;
    }
    if (f != NULL) {
        (void)fclose(f);
    }
}

/* ---- commands ------------------------------------------------------------ */

/* Run `tdei --home HOME --json WORDS...` (NULL-terminated) as the member
 * of @node (@node NULL: without --home, for a command that needs no
 * node): print it, wait for it (the step timeout), and with @out
 * parse its stdout as one JSON value into *@out. @bg: start it in the
 * background as d->tail instead (stdout kept in a file, not parsed).
 * Returns 0, or -1 after demo_fail. */
static int demo_cmd(struct demo *d, const struct localnet_node *node, int bg,
                    json_t **out, ...)
{
    const char *args[SELFRUN_ARGS_MAX];
    char out_path[HOME_PATH_MAX], err_path[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char name[48] = "";
    size_t argc = 0;
    size_t first;
    const char *w;
    va_list ap;
    int code = 0;
    int rc;

    if (node != NULL) {
        args[argc++] = "--home";
        args[argc++] = node->home;
    }
    args[argc++] = "--json";
    first = argc;
    va_start(ap, out);
    while ((w = va_arg(ap, const char *)) != NULL) {
        TDEI_ASSERT(argc < SELFRUN_ARGS_MAX); /* the commands here are fixed */
        args[argc++] = w;
        /* The first two words name the output files (a path does not). */
        if (argc <= first + 2 && strchr(w, '/') == NULL) {
            (void)snprintf(name + strlen(name), sizeof(name) - strlen(name),
                           "%s%s", argc == first + 1 ? "" : "-", w);
        }
    }
    va_end(ap);
    printf("    $ tdei");
    for (size_t i = 0; i < argc; i++) {
        printf(strchr(args[i], ' ') != NULL ? " '%s'" : " %s", args[i]);
    }
    printf("%s\n", bg ? " &" : "");
    (void)fflush(stdout);
    d->cmd_count++;
    (void)snprintf(out_path, sizeof(out_path), "%s/%02u-%s.out", d->work,
                   d->cmd_count, name);
    (void)snprintf(err_path, sizeof(err_path), "%s/%02u-%s.err", d->work,
                   d->cmd_count, name);
    if (bg) {
        rc = selfrun_start(&d->tail, args, argc, out_path, err_path,
                           d->timeout_ms, errmsg);
        return rc != 0 ? demo_fail(d, "%s", errmsg) : 0;
    }
    rc = selfrun_run(args, argc, out_path, err_path, d->timeout_ms, &code,
                     errmsg);
    if (rc == TDEI_IOERR) {
        return demo_fail(d, "%s", errmsg);
    }
    if (rc != 0 || code != 0) {
        if (rc == 0) {
            (void)snprintf(errmsg, sizeof(errmsg), "the command exited %d",
                           code);
        }
        printf("    its stderr (%s):\n", err_path);
        demo_show_file(err_path);
        return demo_fail(d, "%s", errmsg);
    }
    if (out != NULL && selfrun_json(out_path, out, errmsg) != 0) {
        return demo_fail(d, "the command printed no JSON: %s", errmsg);
    }
    return 0;
}

/* ---- checks against the ledger ------------------------------------------- */

/* Read exchange @xid through @nc into *@x. Returns 0 or -1 (failed). */
static int demo_exchange(struct demo *d, struct nodecall *nc,
                         const uint8_t *xid, Tdei__Exchange **x)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc = nodecall_exchange(nc, xid, x, errmsg);

    if (rc != 0) {
        return demo_fail(d,
                         "cannot read the exchange from the ledger: %s "
                         "(%s)",
                         errmsg, tdei_errname(rc));
    }
    return 0;
}

/* Wait until exchange @xid, read through @nc, has a status of @want
 * (a bit mask of 1 << status), for the step timeout. *@x gets it. */
static int demo_exchange_wait(struct demo *d, struct nodecall *nc,
                              const uint8_t *xid, unsigned want,
                              Tdei__Exchange **x)
{
    struct timespec pause = {.tv_nsec = (long)DEMO_POLL_MS * 1000000L};
    uint64_t waited = 0;

    for (;;) {
        if (demo_exchange(d, nc, xid, x) != 0) {
            return -1;
        }
        if ((want >> (*x)->status) & 1u) {
            return 0;
        }
        if (waited >= d->timeout_ms || demo_interrupted) {
            int rc = demo_fail(d, "the exchange is still %s after %llu s",
                               cli_name(cli_exchange_statuses, (*x)->status),
                               (unsigned long long)(waited / 1000u));
            codec_message_free((ProtobufCMessage *)*x);
            *x = NULL;
            return rc;
        }
        codec_message_free((ProtobufCMessage *)*x);
        *x = NULL;
        (void)nanosleep(&pause, NULL);
        waited += DEMO_POLL_MS;
    }
}

static int demo_balances(struct demo *d, uint64_t *owner, uint64_t *consumer)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc = nodecall_balance(&d->consumer_nc, d->owner->member, owner, errmsg);

    if (rc == 0) {
        rc = nodecall_balance(&d->consumer_nc, d->consumer->member, consumer,
                              errmsg);
    }
    if (rc != 0) {
        return demo_fail(d, "cannot read the balances: %s (%s)", errmsg,
                         tdei_errname(rc));
    }
    return 0;
}

/* ---- the steps ----------------------------------------------------------- */

static int step_balances_before(struct demo *d)
{
    demo_step(d, "balances before");
    if (demo_balances(d, &d->owner_before, &d->consumer_before) != 0) {
        return -1;
    }
    printf("    %-10s %llu credits\n    %-10s %llu credits\n", d->owner->member,
           (unsigned long long)d->owner_before, d->consumer->member,
           (unsigned long long)d->consumer_before);
    return 0;
}

/* Write the dataset file: @d->size_mib MiB of bytes drawn from a seed
 * (the dataset id), and keep its SHA-256. */
static int demo_file_write(struct demo *d, const char *path)
{
    uint8_t seed[randombytes_SEEDBYTES];
    struct tdei_sha256 sha;
    uint8_t *buf = tdei_malloc(TDEI_MIB);
    FILE *f = buf != NULL ? fopen(path, "wb") : NULL;
    int ok = f != NULL;

    tdei_sha256(seed, (const uint8_t *)d->dataset, strlen(d->dataset));
    tdei_sha256_init(&sha);
    for (uint64_t i = 0; ok && i < d->size_mib; i++) {
        seed[0] ^= (uint8_t)i; /* each MiB from its own seed */
        randombytes_buf_deterministic(buf, TDEI_MIB, seed);
        tdei_sha256_update(&sha, buf, TDEI_MIB);
        ok = fwrite(buf, 1, TDEI_MIB, f) == TDEI_MIB;
    }
    if (f != NULL && fclose(f) != 0) {
        ok = 0;
    }
    tdei_free(buf);
    tdei_sha256_final(&sha, d->file_hash);
    d->file_size = d->size_mib * TDEI_MIB;
    return ok ? 0 : demo_fail(d, "cannot write %s: %s", path, strerror(errno));
}

static int step_publish_file(struct demo *d)
{
    char path[HOME_PATH_MAX], price[24], hex[TDEI_HEX_SIZE(32)];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    Tdei__Dataset *ds = NULL;
    int rc;

    demo_step(d,
              "%s publishes a %llu MiB file as dataset %s (level 2: the "
              "owner approves; one_time, %u credits)",
              d->owner->member, (unsigned long long)d->size_mib, d->dataset,
              DEMO_PRICE_FILE);
    (void)snprintf(path, sizeof(path), "%s/dataset.bin", d->work);
    (void)snprintf(price, sizeof(price), "%u", DEMO_PRICE_FILE);
    if (demo_file_write(d, path) != 0 ||
        demo_cmd(d, d->owner, 0, NULL, "catalog", "publish", "--id", d->dataset,
                 "--kind", "dataset", "--title", "Press line 4 sensor log",
                 "--tag", "press", "--domain", "production", "--level", "2",
                 "--class", "important", "--price-model", "one_time", "--price",
                 price, "--file", path, NULL) != 0) {
        return -1;
    }
    rc = nodecall_dataset(&d->owner_nc, d->dataset, &ds, errmsg);
    if (rc != 0) {
        return demo_fail(d, "the dataset is not on the ledger: %s", errmsg);
    }
    rc = 0;
    if (ds->content_root.len != 32 || ds->size != d->file_size ||
        strcmp(ds->owner, d->owner->member) != 0) {
        rc = demo_fail(d,
                       "the ledger has size %llu (the file is %llu "
                       "bytes), owner %s and a root of %zu bytes",
                       (unsigned long long)ds->size,
                       (unsigned long long)d->file_size, ds->owner,
                       ds->content_root.len);
    } else {
        demo_ok("on the ledger: %llu bytes, %llu sealed chunks of 64 KiB, "
                "content root %s",
                (unsigned long long)ds->size,
                (unsigned long long)((ds->size + 65535u) / 65536u),
                hex32(hex, ds->content_root.data));
    }
    codec_message_free((ProtobufCMessage *)ds);
    return rc;
}

static int step_publish_stream(struct demo *d)
{
    char price[24];

    demo_step(d,
              "%s publishes stream %s (level 1: approved automatically; "
              "per_record, %u credits) and opens it",
              d->owner->member, d->stream, DEMO_PRICE_RECORD);
    (void)snprintf(price, sizeof(price), "%u", DEMO_PRICE_RECORD);
    if (demo_cmd(d, d->owner, 0, NULL, "catalog", "publish", "--id", d->stream,
                 "--kind", "stream", "--title", "Press line 4 force feed",
                 "--tag", "press", "--domain", "operation", "--level", "1",
                 "--class", "general", "--price-model", "per_record", "--price",
                 price, NULL) != 0 ||
        demo_cmd(d, d->owner, 0, NULL, "stream", "open", d->stream, NULL) !=
            0) {
        return -1;
    }
    demo_ok("the stream is open");
    return 0;
}

static int step_request(struct demo *d)
{
    char price[24];
    json_t *out = NULL;
    const char *id;
    int rc = 0;

    demo_step(d, "%s requests dataset %s at %u credits (escrowed)",
              d->consumer->member, d->dataset, DEMO_PRICE_FILE);
    (void)snprintf(price, sizeof(price), "%u", DEMO_PRICE_FILE);
    if (demo_cmd(d, d->consumer, 0, &out, "exchange", "request", d->dataset,
                 "--price", price, "--purpose", "tuning press line 4",
                 NULL) != 0) {
        return -1;
    }
    id = json_string_value(json_object_get(out, "exchange_id"));
    if (id == NULL || tdei_hex_decode(d->file_xid, 32, id) != 0) {
        rc = demo_fail(d, "the request printed no exchange id");
    } else {
        demo_ok("exchange %s", id);
    }
    json_decref(out);
    return rc;
}

static int step_approve(struct demo *d)
{
    Tdei__Exchange *x = NULL;
    char id[TDEI_HEX_SIZE(32)];
    int rc = 0;

    demo_step(d, "the approvals that level 2 needs");
    if (demo_exchange(d, &d->consumer_nc, d->file_xid, &x) != 0) {
        return -1;
    }
    (void)hex32(id, d->file_xid);
    if (x->status == CODEC_EXCHANGE_REQUESTED && x->need_owner &&
        x->owner_approval[0] == '\0') {
        rc = demo_cmd(d, d->owner, 0, NULL, "exchange", "approve", id, NULL);
    }
    if (rc == 0 && x->status == CODEC_EXCHANGE_REQUESTED && x->need_regulator &&
        x->regulator_approval[0] == '\0') {
        rc =
            demo_cmd(d, d->regulator, 0, NULL, "exchange", "approve", id, NULL);
    }
    codec_message_free((ProtobufCMessage *)x);
    x = NULL;
    if (rc != 0) {
        return -1;
    }
    /* The owner's node may have delivered it already. */
    if (demo_exchange_wait(d, &d->consumer_nc, d->file_xid,
                           (1u << CODEC_EXCHANGE_APPROVED) |
                               (1u << CODEC_EXCHANGE_DELIVERED),
                           &x) != 0) {
        return -1;
    }
    demo_ok("approved (owner: %s, regulator: %s)",
            x->need_owner ? x->owner_approval : "not needed",
            x->need_regulator ? x->regulator_approval : "not needed");
    codec_message_free((ProtobufCMessage *)x);
    return 0;
}

static int step_delivery(struct demo *d)
{
    Tdei__Exchange *x = NULL;
    int rc = 0;

    demo_step(d,
              "%s's node delivers on its own: the content key sealed to "
              "%s, and the content root",
              d->owner->member, d->consumer->member);
    printf("    waiting for the deliver tx on the ledger\n");
    if (demo_exchange_wait(d, &d->consumer_nc, d->file_xid,
                           1u << CODEC_EXCHANGE_DELIVERED, &x) != 0) {
        return -1;
    }
    if (x->sealed_key.len != CODEC_SEALED_KEY_SIZE ||
        x->delivered_root.len != 32 || x->content_root.len != 32 ||
        memcmp(x->delivered_root.data, x->content_root.data, 32) != 0) {
        rc = demo_fail(d,
                       "the delivery has a sealed key of %zu bytes and a "
                       "root that is not the one requested",
                       x->sealed_key.len);
    } else {
        demo_ok("delivered at height %llu: a sealed key of %zu bytes, the "
                "requested root",
                (unsigned long long)x->delivered_height, x->sealed_key.len);
    }
    codec_message_free((ProtobufCMessage *)x);
    return rc;
}

/* SHA-256 of the file @path into @out. Returns 0 or -1 (failed). */
static int demo_file_hash(struct demo *d, const char *path, uint8_t out[32],
                          uint64_t *size)
{
    struct tdei_sha256 sha;
    uint8_t buf[65536];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        return demo_fail(d, "cannot read %s: %s", path, strerror(errno));
    }
    *size = 0;
    tdei_sha256_init(&sha);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        tdei_sha256_update(&sha, buf, n);
        *size += n;
    }
    (void)fclose(f);
    tdei_sha256_final(&sha, out);
    return 0;
}

static int step_fetch(struct demo *d)
{
    char path[HOME_PATH_MAX], id[TDEI_HEX_SIZE(32)], timeout[24];
    char a[TDEI_HEX_SIZE(32)], b[TDEI_HEX_SIZE(32)];
    uint8_t hash[32];
    uint64_t size = 0;

    demo_step(d,
              "%s's node pulls the chunks, each checked against the root; "
              "%s fetches and decrypts the file",
              d->consumer->member, d->consumer->member);
    (void)snprintf(path, sizeof(path), "%s/fetched.bin", d->work);
    (void)snprintf(timeout, sizeof(timeout), "%llu",
                   (unsigned long long)(d->timeout_ms / 1000u));
    if (demo_cmd(d, d->consumer, 0, NULL, "exchange", "fetch",
                 hex32(id, d->file_xid), "-o", path, "--timeout", timeout,
                 NULL) != 0 ||
        demo_file_hash(d, path, hash, &size) != 0) {
        return -1;
    }
    printf("    published  sha256 %s  %llu bytes\n    fetched    sha256 %s  "
           "%llu bytes\n",
           hex32(a, d->file_hash), (unsigned long long)d->file_size,
           hex32(b, hash), (unsigned long long)size);
    if (size != d->file_size || memcmp(hash, d->file_hash, 32) != 0) {
        return demo_fail(d,
                         "the fetched file differs from the published one "
                         "(both are in %s)",
                         d->work);
    }
    demo_ok("byte-identical");
    return 0;
}

static int step_confirm(struct demo *d)
{
    Tdei__Exchange *x = NULL;
    char id[TDEI_HEX_SIZE(32)];

    demo_step(d, "%s confirms: the escrow goes to %s", d->consumer->member,
              d->owner->member);
    if (demo_cmd(d, d->consumer, 0, NULL, "exchange", "confirm",
                 hex32(id, d->file_xid), NULL) != 0 ||
        demo_exchange_wait(d, &d->consumer_nc, d->file_xid,
                           1u << CODEC_EXCHANGE_SETTLED, &x) != 0) {
        return -1;
    }
    demo_ok("settled at height %llu; the grant is live through height %llu",
            (unsigned long long)x->settled_height,
            (unsigned long long)x->grant_expires);
    codec_message_free((ProtobufCMessage *)x);
    return 0;
}

static int step_subscribe(struct demo *d)
{
    char n[24], timeout[24], id[TDEI_HEX_SIZE(32)];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    Tdei__Exchange *x = NULL;
    uint64_t budget = d->records * DEMO_PRICE_RECORD;
    int rc;

    demo_step(d, "%s subscribes to %s for %llu records (prepays %llu credits)",
              d->consumer->member, d->stream, (unsigned long long)d->records,
              (unsigned long long)budget);
    (void)snprintf(n, sizeof(n), "%llu", (unsigned long long)d->records);
    (void)snprintf(timeout, sizeof(timeout), "%llu",
                   (unsigned long long)(d->timeout_ms / 1000u));
    if (demo_cmd(d, d->consumer, 0, NULL, "stream", "subscribe", d->stream,
                 "--records", n, "--timeout", timeout, NULL) != 0) {
        return -1;
    }
    rc = nodecall_grant(&d->consumer_nc, d->stream, d->consumer->member,
                        d->feed_xid, errmsg);
    if (rc != 0) {
        return demo_fail(d, "%s holds no grant on %s: %s", d->consumer->member,
                         d->stream, errmsg);
    }
    if (demo_exchange(d, &d->consumer_nc, d->feed_xid, &x) != 0) {
        return -1;
    }
    rc = 0;
    if (x->status != CODEC_EXCHANGE_SETTLED || x->escrow != budget) {
        rc = demo_fail(d,
                       "the subscription is %s with %llu credits in escrow "
                       "(%llu wanted)",
                       cli_name(cli_exchange_statuses, x->status),
                       (unsigned long long)x->escrow,
                       (unsigned long long)budget);
    } else {
        demo_ok("subscription %s is live, %llu credits in escrow",
                hex32(id, d->feed_xid), (unsigned long long)x->escrow);
    }
    codec_message_free((ProtobufCMessage *)x);
    return rc;
}

/* The record @i of the stream as pushed (one JSON line, no newline). */
static void demo_record(char *out, size_t size, uint64_t i, uint64_t ts)
{
    (void)snprintf(out, size,
                   "{\"ts\":%llu,\"line\":\"press-4\",\"n\":%llu,"
                   "\"force_dn\":%llu}",
                   (unsigned long long)ts, (unsigned long long)i,
                   (unsigned long long)(8000u + (i * 7919u) % 997u));
}

/* The source timestamp of record @i: the last one is "now". */
static uint64_t demo_record_ts(uint64_t base_ms, uint64_t i)
{
    return base_ms + i;
}

static int step_push(struct demo *d, uint64_t *base_ms)
{
    char path[HOME_PATH_MAX], n[24], line[160];
    FILE *f;
    int ok;

    demo_step(d,
              "%s follows the stream; %s's data collector pushes %llu "
              "records",
              d->consumer->member, d->owner->member,
              (unsigned long long)d->records);
    (void)snprintf(n, sizeof(n), "%llu", (unsigned long long)d->records);
    if (demo_cmd(d, d->consumer, 1, NULL, "stream", "tail", d->stream, "--from",
                 "0", "--count", n, NULL) != 0) {
        return -1;
    }
    (void)snprintf(path, sizeof(path), "%s/records.jsonl", d->work);
    *base_ms = cli_wall_ms() - d->records;
    f = fopen(path, "w");
    ok = f != NULL;
    for (uint64_t i = 0; ok && i < d->records; i++) {
        demo_record(line, sizeof(line), i, demo_record_ts(*base_ms, i));
        ok = fprintf(f, "%s\n", line) > 0;
    }
    if (f != NULL && fclose(f) != 0) {
        ok = 0;
    }
    if (!ok) {
        return demo_fail(d, "cannot write %s: %s", path, strerror(errno));
    }
    if (demo_cmd(d, d->owner, 0, NULL, "stream", "push", d->stream, path,
                 NULL) != 0) {
        return -1;
    }
    demo_ok("%llu records taken by %s's node, batched onto the ledger",
            (unsigned long long)d->records, d->owner->member);
    return 0;
}

/* Check one line of the tail's output: record @i as pushed. */
static int demo_tail_line(const char *text, uint64_t i, uint64_t base_ms)
{
    char want[160];
    json_error_t jerr;
    json_t *rec = json_loads(text, 0, &jerr);
    const char *data = json_string_value(json_object_get(rec, "data"));
    json_int_t seq = json_integer_value(json_object_get(rec, "seq"));
    json_int_t ts = json_integer_value(json_object_get(rec, "ts"));
    int ok;

    demo_record(want, sizeof(want), i, demo_record_ts(base_ms, i));
    ok = data != NULL && strcmp(data, want) == 0 && seq == (json_int_t)i &&
         ts == (json_int_t)demo_record_ts(base_ms, i);
    json_decref(rec);
    return ok;
}

static int step_tail_check(struct demo *d, uint64_t base_ms)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char *text = NULL, *line, *next;
    uint64_t got = 0;
    size_t len = 0;
    int code = 0;
    int rc;

    demo_step(d, "%s's tail receives every record, in order, identical",
              d->consumer->member);
    rc = selfrun_wait(&d->tail, &code, errmsg);
    if (rc != 0 || code != 0) {
        if (rc == 0) {
            (void)snprintf(errmsg, sizeof(errmsg), "the tail exited %d", code);
        }
        printf("    its stderr (%s):\n", d->tail.err_path);
        demo_show_file(d->tail.err_path);
        return demo_fail(d, "%s", errmsg);
    }
    rc = selfrun_read(d->tail.out_path, DEMO_OUTPUT_MAX, &text, &len, errmsg);
    if (rc != 0) {
        return demo_fail(d, "%s", errmsg);
    }
    for (line = text; line != NULL && *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        if (got >= d->records || !demo_tail_line(line, got, base_ms)) {
            tdei_free(text);
            return demo_fail(d,
                             "record %llu of the tail (%s) is not the one "
                             "pushed",
                             (unsigned long long)got, d->tail.out_path);
        }
        got++;
    }
    tdei_free(text);
    if (got != d->records) {
        return demo_fail(d, "the tail printed %llu of %llu records",
                         (unsigned long long)got,
                         (unsigned long long)d->records);
    }
    demo_ok("%llu of %llu records, seq 0-%llu, data and timestamps as pushed",
            (unsigned long long)got, (unsigned long long)d->records,
            (unsigned long long)(got - 1));
    return 0;
}

static int step_balances_after(struct demo *d)
{
    uint64_t owner, consumer;
    uint64_t moved = DEMO_PRICE_FILE + d->records * DEMO_PRICE_RECORD;
    Tdei__Exchange *x = NULL;
    int rc = 0;

    demo_step(d,
              "balances after: each moved by exactly %u + %llu x %u = "
              "%llu credits",
              DEMO_PRICE_FILE, (unsigned long long)d->records,
              DEMO_PRICE_RECORD, (unsigned long long)moved);
    if (demo_balances(d, &owner, &consumer) != 0 ||
        demo_exchange(d, &d->consumer_nc, d->feed_xid, &x) != 0) {
        return -1;
    }
    printf("    %-10s %llu -> %llu credits (%+lld)\n"
           "    %-10s %llu -> %llu credits (%+lld)\n",
           d->owner->member, (unsigned long long)d->owner_before,
           (unsigned long long)owner, (long long)(owner - d->owner_before),
           d->consumer->member, (unsigned long long)d->consumer_before,
           (unsigned long long)consumer,
           (long long)(consumer - d->consumer_before));
    if (owner - d->owner_before != moved ||
        d->consumer_before - consumer != moved) {
        rc = demo_fail(d, "the balances moved by other amounts");
    } else if (x->records != d->records || x->escrow != 0) {
        rc = demo_fail(d,
                       "the subscription paid for %llu records and keeps "
                       "%llu credits in escrow",
                       (unsigned long long)x->records,
                       (unsigned long long)x->escrow);
    } else {
        demo_ok("%llu credits from %s to %s; the subscription paid for %llu "
                "records and is %s",
                (unsigned long long)moved, d->consumer->member,
                d->owner->member, (unsigned long long)x->records,
                cli_name(cli_exchange_statuses, x->status));
    }
    codec_message_free((ProtobufCMessage *)x);
    return rc;
}

static int step_timelines(struct demo *d)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char id[TDEI_HEX_SIZE(32)];
    uint64_t height = 0, charged = 0;
    int rc;

    demo_step(d, "timelines, read back from the ledger");
    rc = nodecall_height(&d->consumer_nc, &height, errmsg);
    if (rc == 0) {
        printf("    dataset exchange %s\n", hex32(id, d->file_xid));
        rc = demo_timeline_print(&d->consumer_nc, d->file_xid, NULL,
                                 d->start_height + 1, height, NULL, errmsg);
    }
    if (rc == 0) {
        printf("    stream subscription %s\n", hex32(id, d->feed_xid));
        rc = demo_timeline_print(&d->consumer_nc, d->feed_xid, d->stream,
                                 d->start_height + 1, height, &charged, errmsg);
    }
    if (rc != 0) {
        return demo_fail(d, "%s (%s)", errmsg, tdei_errname(rc));
    }
    if (charged != d->records * DEMO_PRICE_RECORD) {
        return demo_fail(d, "the appends charged %llu credits, not %llu",
                         (unsigned long long)charged,
                         (unsigned long long)(d->records * DEMO_PRICE_RECORD));
    }
    demo_ok("heights %llu-%llu", (unsigned long long)(d->start_height + 1),
            (unsigned long long)height);
    return 0;
}

/* The index of the first row of @timeline from @from on whose action is
 * @action and whose result is "applied", or -1. */
static long demo_row_find(const json_t *timeline, size_t from,
                          const char *action)
{
    for (size_t i = from; i < json_array_size(timeline); i++) {
        const json_t *row = json_array_get(timeline, i);
        const char *a = json_string_value(json_object_get(row, "action"));
        const char *r = json_string_value(json_object_get(row, "result"));
        if (a != NULL && r != NULL && strcmp(a, action) == 0 &&
            strcmp(r, "applied") == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Print the rows of a `tdei verify --json` timeline, indented. */
static void demo_rows_print(const json_t *timeline)
{
    printf("      %8s  %-24s  %-12s  %-18s  %6s  %s\n", "HEIGHT", "TIME (UTC)",
           "MEMBER", "ACTION", "PRICE", "RESULT");
    for (size_t i = 0; i < json_array_size(timeline); i++) {
        const json_t *row = json_array_get(timeline, i);
        const json_t *price = json_object_get(row, "price");
        const char *member = json_string_value(json_object_get(row, "member"));
        char amount[24] = "-";

        if (json_is_integer(price)) {
            (void)snprintf(amount, sizeof(amount), "%" JSON_INTEGER_FORMAT,
                           json_integer_value(price));
        }
        printf("      %8" JSON_INTEGER_FORMAT
               "  %-24s  %-12s  %-18s  %6s  %s\n",
               json_integer_value(json_object_get(row, "height")),
               json_string_value(json_object_get(row, "time")),
               member != NULL ? member : "?",
               json_string_value(json_object_get(row, "action")), amount,
               json_string_value(json_object_get(row, "result")));
    }
}

/* The auditor's view: the regulator's node writes the dataset's proof
 * bundle; `tdei verify` checks it with genesis.json alone and its
 * timeline must hold the exchange from publication to settlement. */
static int step_bundle(struct demo *d)
{
    static const char *const actions[] = {
        "catalog_publish", "exchange_request", "exchange_approve",
        "exchange_deliver", "exchange_confirm"};
    char bundle[HOME_PATH_MAX], genesis[HOME_PATH_MAX];
    json_t *out = NULL;
    const json_t *timeline;
    const char *verdict;
    long at = 0;
    int rc = 0;

    demo_step(d,
              "%s (the auditor) writes the proof bundle of dataset %s and "
              "verifies it offline, from genesis.json alone",
              d->regulator->member, d->dataset);
    (void)snprintf(bundle, sizeof(bundle), "%s/bundle.json", d->work);
    if (home_path(genesis, d->regulator->home, "genesis.json") != 0) {
        return demo_fail(d, "the path of %s/genesis.json is too long",
                         d->regulator->home);
    }
    if (demo_cmd(d, d->regulator, 0, NULL, "audit", "dataset", d->dataset, "-o",
                 bundle, NULL) != 0 ||
        demo_cmd(d, NULL, 0, &out, "verify", bundle, "--genesis", genesis,
                 NULL) != 0) {
        return -1;
    }
    verdict = json_string_value(json_object_get(out, "verdict"));
    timeline = json_object_get(out, "timeline");
    if (verdict == NULL || strcmp(verdict, "verified") != 0 ||
        !json_is_array(timeline)) {
        json_decref(out);
        return demo_fail(d, "tdei verify did not say verified");
    }
    demo_rows_print(timeline);
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        at = demo_row_find(timeline, at < 0 ? 0 : (size_t)at, actions[i]);
        if (at < 0) {
            rc = demo_fail(d,
                           "the timeline has no applied %s after the "
                           "steps before it",
                           actions[i]);
            break;
        }
        at++;
    }
    if (rc == 0) {
        const json_t *checked = json_object_get(out, "checked");
        demo_ok(
            "VERIFIED without a node: %" JSON_INTEGER_FORMAT
            " events, %" JSON_INTEGER_FORMAT
            " inclusion proofs, %" JSON_INTEGER_FORMAT
            " headers with %" JSON_INTEGER_FORMAT " commit signatures (%s)",
            json_integer_value(json_object_get(checked, "events")),
            json_integer_value(json_object_get(checked, "inclusion_proofs")),
            json_integer_value(json_object_get(checked, "headers")),
            json_integer_value(json_object_get(checked, "commit_signatures")),
            bundle);
    }
    json_decref(out);
    return rc;
}

/* The steps in order. Each prints its title, runs its commands, checks
 * what they did and returns 0, or -1 after saying what failed. */
static int demo_steps(struct demo *d)
{
    uint64_t base_ms = 0;
    int (*const plain[])(struct demo *) = {
        step_balances_before, step_publish_file, step_publish_stream,
        step_request,         step_approve,      step_delivery,
        step_fetch,           step_confirm,      step_subscribe,
    };

    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        if (demo_interrupted || plain[i](d) != 0) {
            return -1;
        }
    }
    if (step_push(d, &base_ms) != 0 || step_tail_check(d, base_ms) != 0 ||
        step_balances_after(d) != 0 || step_timelines(d) != 0 ||
        demo_interrupted || step_bundle(d) != 0) {
        return -1;
    }
    return demo_interrupted ? -1 : 0;
}

/* ---- the localnet -------------------------------------------------------- */

/* Find the localnet in @dir_text, or create one of @nodes nodes; start it
 * when none of its nodes runs. Returns an exit code. */
static int demo_localnet(struct demo *d, const char *dir_text, uint64_t nodes)
{
    char dir[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    size_t alive = 0, first_dead;
    int rc = localnet_dir_resolve(dir, dir_text, errmsg);

    if (rc != 0) {
        return cli_usage_error("localnet demo", "%s", errmsg);
    }
    rc = localnet_open(&d->ln, dir, errmsg);
    if (rc == TDEI_NOTFOUND) {
        printf(
            "no localnet in %s: creating one of %llu nodes\n", dir,
            (unsigned long long)(nodes != 0 ? nodes : LOCALNET_NODES_DEFAULT));
        rc = cli_localnet_create("localnet demo", dir,
                                 nodes != 0 ? nodes : LOCALNET_NODES_DEFAULT, 0,
                                 0, &d->ln);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
    } else if (rc != 0) {
        return rc == TDEI_INVAL ? cli_usage_error("localnet demo", "%s", errmsg)
                                : cli_fail(rc, errmsg);
    } else if (nodes != 0 && nodes != d->ln.count) {
        return cli_usage_error("localnet demo",
                               "%s holds a %zu-node localnet; give --nodes "
                               "%zu or another --dir",
                               dir, d->ln.count, d->ln.count);
    }
    first_dead = d->ln.count;
    if (d->ln.count < DEMO_NODES_MIN) {
        return cli_usage_error("localnet demo",
                               "the demo needs %u nodes or more (a "
                               "public_service member, a manufacturer and a "
                               "platform); %s holds a %zu-node localnet",
                               DEMO_NODES_MIN, dir, d->ln.count);
    }
    for (size_t i = 0; i < d->ln.count; i++) {
        if (localnet_pid_alive(d->ln.nodes[i].pid)) {
            alive++;
        } else if (first_dead == d->ln.count) {
            first_dead = i;
        }
    }
    if (alive > 0 && alive < d->ln.count) {
        return cli_error("node%zu of the localnet in %s is stopped while "
                         "others run; restart them: `tdei localnet down "
                         "--dir %s`, then `tdei localnet up --dir %s` (%s)",
                         first_dead, dir, dir, dir, tdei_errname(TDEI_NOCONN));
    }
    if (alive == 0) {
        printf("starting the %zu-node localnet in %s (the demo stops it "
               "at the end)\n",
               d->ln.count, dir);
        (void)fflush(stdout);
        rc = cli_localnet_start(&d->ln, 1, DEMO_WAIT_MS);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
        d->started = 1;
    }
    return CLI_EXIT_OK;
}

/* The first node whose member has @role (by the ledger), or NULL. */
static const struct localnet_node *demo_member(struct demo *d, uint32_t role)
{
    for (size_t i = 0; i < d->ln.count; i++) {
        Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
        Tdei__Api__GetAccount get = TDEI__API__GET_ACCOUNT__INIT;
        Tdei__Api__Response *resp = NULL;
        char errmsg[TDEI_ERRMSG_SIZE];
        int match;

        get.member = d->ln.nodes[i].member;
        req.req_case = TDEI__API__REQUEST__REQ_GET_ACCOUNT;
        req.get_account = &get;
        if (nodecall_call(&d->consumer_nc, &req, 0, &resp, errmsg) != 0) {
            continue;
        }
        match = resp->account != NULL && resp->account->role == role;
        api_client_response_free(resp);
        if (match) {
            return &d->ln.nodes[i];
        }
    }
    return NULL;
}

/* Mkdir -p of @path (under an existing DIR). */
static int demo_mkdirs(const char *path)
{
    char buf[HOME_PATH_MAX];

    (void)snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* Members, the start height, the entry ids and the work directory. */
static int demo_prepare(struct demo *d)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    Tdei__Dataset *ds = NULL;
    int rc;

    /* Any node answers the role questions; node0's is asked. */
    nodecall_init(&d->consumer_nc, d->ln.nodes[0].api, DEMO_CALL_MS);
    d->owner = demo_member(d, TDEI_ROLE_MANUFACTURER);
    d->consumer = demo_member(d, TDEI_ROLE_PLATFORM);
    d->regulator = demo_member(d, TDEI_ROLE_PUBLIC_SERVICE);
    nodecall_close(&d->consumer_nc);
    if (d->owner == NULL || d->consumer == NULL || d->regulator == NULL) {
        return cli_error("the localnet in %s lacks a manufacturer, a "
                         "platform or a public_service member; create one "
                         "with `tdei localnet up`",
                         d->ln.dir);
    }
    nodecall_init(&d->owner_nc, d->owner->api, DEMO_CALL_MS);
    nodecall_init(&d->consumer_nc, d->consumer->api, DEMO_CALL_MS);
    rc = nodecall_height(&d->consumer_nc, &d->start_height, errmsg);
    if (rc != 0) {
        return cli_fail(rc, errmsg);
    }
    /* Entry ids are never reused: this run's carry the height it began
     * at, and a number when that is taken. */
    for (unsigned n = 1; n < 100; n++) {
        char suffix[8] = "";

        if (n > 1) {
            (void)snprintf(suffix, sizeof(suffix), "-%u", n);
        }
        (void)snprintf(d->dataset, sizeof(d->dataset), "press-log-h%llu%s",
                       (unsigned long long)d->start_height, suffix);
        (void)snprintf(d->stream, sizeof(d->stream), "press-feed-h%llu%s",
                       (unsigned long long)d->start_height, suffix);
        rc = nodecall_dataset(&d->consumer_nc, d->dataset, &ds, errmsg);
        codec_message_free((ProtobufCMessage *)ds);
        ds = NULL;
        if (rc != 0) {
            break; /* free (TDEI_NOTFOUND), or the node did not answer */
        }
    }
    if (rc != TDEI_NOTFOUND) {
        return cli_fail(rc != 0 ? rc : TDEI_EXISTS,
                        rc != 0 ? errmsg : "no free entry id for the demo");
    }
    (void)snprintf(d->work, sizeof(d->work), "%.88s/demo/%.64s", d->ln.dir,
                   d->dataset);
    if (demo_mkdirs(d->work) != 0) {
        return cli_error("cannot create %s: %s", d->work, strerror(errno));
    }
    return CLI_EXIT_OK;
}

/* Stop what the demo started. After a success the payload files go (they
 * are big); the commands' outputs stay, and after a failure everything
 * stays for a look. */
static void demo_finish(struct demo *d, int ok)
{
    char path[HOME_PATH_MAX];

    selfrun_kill(&d->tail);
    nodecall_close(&d->owner_nc);
    nodecall_close(&d->consumer_nc);
    if (ok && d->work[0] != '\0') {
        (void)snprintf(path, sizeof(path), "%s/dataset.bin", d->work);
        (void)remove(path);
        (void)snprintf(path, sizeof(path), "%s/fetched.bin", d->work);
        (void)remove(path);
    }
    if (d->started) {
        printf("stopping the localnet the demo started\n");
        localnet_stop(&d->ln, DEMO_STOP_MS, NULL);
    }
}

int cli_localnet_demo(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *dir_text = DEMO_DIR_DEFAULT;
    uint64_t nodes = 0;
    uint64_t timeout_s = DEMO_TIMEOUT_S_DEFAULT;
    uint64_t size_mib = DEMO_SIZE_MIB_DEFAULT;
    uint64_t records = DEMO_RECORDS_DEFAULT;
    struct demo *d;
    const struct cli_opt opts[] = {
        {.name = "dir",
         .type = CLI_OPT_TEXT,
         .dest = &dir_text,
         .meta = "DIR",
         .help = "the localnet, default " DEMO_DIR_DEFAULT},
        {.name = "nodes",
         .type = CLI_OPT_U64,
         .dest = &nodes,
         .meta = "N",
         .help = "nodes of the localnet created when DIR holds none, "
                 "default 4",
         .min = DEMO_NODES_MIN,
         .max = LOCALNET_NODES_MAX},
        {.name = "size-mib",
         .type = CLI_OPT_U64,
         .dest = &size_mib,
         .meta = "N",
         .help = "MiB of the published file, default 4",
         .min = 1,
         .max = 1024},
        {.name = "records",
         .type = CLI_OPT_U64,
         .dest = &records,
         .meta = "N",
         .help = "stream records subscribed to and pushed, default 100",
         .min = 1,
         .max = DEMO_RECORDS_MAX},
        {.name = "step-timeout",
         .type = CLI_OPT_U64,
         .dest = &timeout_s,
         .meta = "SECONDS",
         .help = "how long one step may take, default 60",
         .min = 5,
         .max = 3600},
    };
    const struct cli_spec spec = {
        .what = "localnet demo",
        .about =
            "Run the data plane end to end on the localnet in DIR (started "
            "for the\ndemo, and stopped after, when none of its nodes runs; "
            "created when\nDIR holds none), as the commands an operator "
            "types: a manufacturer\npublishes a file dataset and a stream; a "
            "platform requests the file,\nthe owner approves, the owner's "
            "node delivers on its own, the platform\nfetches it (checked "
            "byte for byte) and confirms; the platform\nsubscribes to the "
            "stream, the owner pushes records, the platform's\ntail receives "
            "them all; then the balances and a timeline of each\nexchange "
            "from the ledger. Exit 0 only when every step did what it\n"
            "should; 1 names the step that failed; 2 on bad usage.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    struct sigaction sa;
    int first;
    int rc;

    (void)ctx;
    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    d = tdei_calloc(1, sizeof(*d));
    if (d == NULL) {
        return cli_fail(TDEI_NOMEM, NULL);
    }
    d->size_mib = size_mib;
    d->records = records;
    d->timeout_ms = timeout_s * 1000u;
    rc = demo_localnet(d, dir_text, nodes);
    if (rc != CLI_EXIT_OK) {
        tdei_free(d);
        return rc;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = demo_on_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    selfrun_cancel_on(&demo_interrupted);
    rc = demo_prepare(d);
    if (rc == CLI_EXIT_OK) {
        printf("tdei localnet demo: %zu nodes in %s\n"
               "  manufacturer %s, platform %s, regulator %s; files of this "
               "run in %s\n",
               d->ln.count, d->ln.dir, d->owner->member, d->consumer->member,
               d->regulator->member, d->work);
        rc = demo_steps(d) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
        if (rc == CLI_EXIT_OK) {
            printf("\ndemo: every step did what it should\n");
        } else {
            printf("\nthe output of each command is in %s\n", d->work);
            if (demo_interrupted) {
                (void)cli_error("the demo was interrupted");
            }
        }
    }
    demo_finish(d, rc == CLI_EXIT_OK);
    tdei_free(d);
    return rc;
}
