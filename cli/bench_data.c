/* tdei bench --data: payload transfer and stream latency of a fresh
 * localnet (bench_data.h). */
#include "bench_data.h"

#include "cli.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/limits.h"
#include "localnet.h"
#include "nodecall.h"
#include "selfrun.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BD_WAIT_MS 30000u     /* the localnet must commit by then */
#define BD_STOP_MS 10000u     /* SIGTERM, then SIGKILL */
#define BD_CALL_MS 10000u     /* bound of one API call */
#define BD_STEP_MS 120000u    /* bound of one command or wait */
#define BD_POLL_US 5000u      /* how often a wait looks again */
#define BD_BUSY_US 5000u      /* a full ingest queue is tried again after */
#define BD_DRAIN_MS 60000u    /* records must arrive by then after the last */
#define BD_READ_WAIT_MS 1000u /* one follow-mode read waits this long */
#define BD_PAGE 10000u        /* records per read */
#define BD_PUSH_MAX 1000u     /* records per IngestRecords at most */
#define BD_RECORD_MAX 128u    /* bytes of one record */
#define BD_PRICE 1u           /* credits: the file, and per record */

/* Set by SIGINT or SIGTERM: every wait ends, the nodes are stopped. */
static volatile sig_atomic_t bd_interrupted;

static void bd_on_signal(int sig)
{
    (void)sig;
    bd_interrupted = 1;
}

struct bd
{
    const struct bench_data_args *a;
    struct localnet ln;
    const struct localnet_node *owner;    /* node1: mfg-1 */
    const struct localnet_node *consumer; /* node2 (plat-2), or node0 */
    struct nodecall owner_nc;
    struct nodecall consumer_nc;
    unsigned cmd_count; /* commands run (their output files) */
    /* (a) payload */
    uint64_t payload_size;     /* bytes */
    uint64_t chunks;           /* of the payload */
    uint64_t chunks_fetched;   /* received by the consumer's node */
    uint64_t chunks_refetched; /* failed their proof and were asked again */
    double transfer_s;         /* delivery seen -> every chunk stored */
    double fetch_s;            /* delivery seen -> the fetch answered */
    /* (b) stream */
    uint64_t records;  /* pushed */
    uint64_t received; /* read back from the subscriber's node */
    uint64_t busy;     /* ingest requests the node pushed back */
    double push_s;     /* time the pushing took */
    uint64_t *sent_us; /* per record: Unix us it was sent */
    uint64_t *lat_us;  /* per record received: latency */
};

static void sleep_us(uint64_t us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000u),
                          .tv_nsec = (long)(us % 1000000u) * 1000L};

    (void)nanosleep(&ts, NULL);
}

/* Say which step of the bench failed. Returns CLI_EXIT_FAIL. */
static int bd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bd_fail(const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return cli_error("bench --data: %s", what);
}

/* Run `tdei --home HOME --json WORDS...` (NULL-terminated) as the member
 * of @node, its output in DIR/bench-NN.out/.err; with @out parse its
 * stdout as JSON. Returns an exit code. */
static int bd_cmd(struct bd *b, const struct localnet_node *node, json_t **out,
                  ...)
{
    const char *args[SELFRUN_ARGS_MAX];
    char out_path[HOME_PATH_MAX], err_path[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    size_t argc = 0;
    const char *w;
    va_list ap;
    int code = 0;
    int rc;

    args[argc++] = "--home";
    args[argc++] = node->home;
    args[argc++] = "--json";
    va_start(ap, out);
    while ((w = va_arg(ap, const char *)) != NULL) {
        TDEI_ASSERT(argc < SELFRUN_ARGS_MAX); /* the commands here are fixed */
        args[argc++] = w;
    }
    va_end(ap);
    b->cmd_count++;
    (void)snprintf(out_path, sizeof(out_path), "%.200s/bench-%02u.out",
                   b->ln.dir, b->cmd_count);
    (void)snprintf(err_path, sizeof(err_path), "%.200s/bench-%02u.err",
                   b->ln.dir, b->cmd_count);
    rc = selfrun_run(args, argc, out_path, err_path, BD_STEP_MS, &code, errmsg);
    if (rc == 0 && code != 0) {
        (void)snprintf(errmsg, sizeof(errmsg), "exited %d (see %.200s)", code,
                       err_path);
        rc = TDEI_IOERR;
    }
    if (rc == 0 && out != NULL) {
        rc = selfrun_json(out_path, out, errmsg);
    }
    if (rc != 0) {
        return bd_fail("`tdei %s %s` as %s: %s", args[3],
                       argc > 4 ? args[4] : "", node->member, errmsg);
    }
    return CLI_EXIT_OK;
}

/* Write @size random bytes to @path; their SHA-256 into @hash. */
static int bd_file_write(const char *path, uint64_t size, uint8_t hash[32])
{
    struct tdei_sha256 sha;
    uint8_t *buf = tdei_malloc(TDEI_MIB);
    FILE *f = buf != NULL ? fopen(path, "wb") : NULL;
    int ok = f != NULL;

    tdei_sha256_init(&sha);
    for (uint64_t done = 0; ok && done < size; done += TDEI_MIB) {
        randombytes_buf(buf, TDEI_MIB);
        tdei_sha256_update(&sha, buf, TDEI_MIB);
        ok = fwrite(buf, 1, TDEI_MIB, f) == TDEI_MIB;
    }
    if (f != NULL && fclose(f) != 0) {
        ok = 0;
    }
    tdei_free(buf);
    tdei_sha256_final(&sha, hash);
    return ok ? CLI_EXIT_OK
              : bd_fail("cannot write %s: %s", path, strerror(errno));
}

/* SHA-256 of the file @path. Returns an exit code. */
static int bd_file_hash(const char *path, uint8_t hash[32])
{
    struct tdei_sha256 sha;
    uint8_t buf[65536];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        return bd_fail("cannot read %s: %s", path, strerror(errno));
    }
    tdei_sha256_init(&sha);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        tdei_sha256_update(&sha, buf, n);
    }
    (void)fclose(f);
    tdei_sha256_final(&sha, hash);
    return CLI_EXIT_OK;
}

/* Wait until exchange @xid is delivered on the consumer's node. */
static int bd_wait_delivered(struct bd *b, const uint8_t *xid)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint64_t deadline = cli_mono_us() + (uint64_t)BD_STEP_MS * 1000u;

    for (;;) {
        Tdei__Exchange *x = NULL;
        int rc = nodecall_exchange(&b->consumer_nc, xid, &x, errmsg);
        uint32_t status = rc == 0 ? x->status : 0;

        codec_message_free((ProtobufCMessage *)x);
        if (rc != 0) {
            return bd_fail("cannot read the exchange: %s", errmsg);
        }
        if (status == CODEC_EXCHANGE_DELIVERED) {
            return CLI_EXIT_OK;
        }
        if (bd_interrupted) {
            return bd_fail("interrupted");
        }
        if (cli_mono_us() >= deadline) {
            return bd_fail("the owner's node did not deliver the payload "
                           "within %u s (the exchange is %s)",
                           BD_STEP_MS / 1000u,
                           cli_name(cli_exchange_statuses, status));
        }
        sleep_us(BD_POLL_US);
    }
}

/* Wait until every chunk of @xid's payload is on the consumer's node. */
static int bd_wait_complete(struct bd *b, const uint8_t *xid)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint64_t deadline = cli_mono_us() + (uint64_t)BD_STEP_MS * 1000u;
    struct nodecall_payload st;

    for (;;) {
        int rc = nodecall_payload_state(&b->consumer_nc, xid, &st, errmsg);
        if (rc != 0) {
            return bd_fail("cannot read the transfer state: %s", errmsg);
        }
        if (st.state == 2) {
            return CLI_EXIT_OK;
        }
        if (bd_interrupted) {
            return bd_fail("interrupted");
        }
        if (cli_mono_us() >= deadline) {
            return bd_fail("the transfer has %llu of %llu chunks after %u s",
                           (unsigned long long)st.chunks_present,
                           (unsigned long long)st.chunk_count,
                           BD_STEP_MS / 1000u);
        }
        sleep_us(BD_POLL_US);
    }
}

/* (a): publish, request, then time delivery -> complete -> fetched. */
static int bd_payload(struct bd *b)
{
    char path[HOME_PATH_MAX], fetched[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint8_t hash[32], hash2[32], xid[32];
    struct nodecall_payload res;
    json_t *out = NULL;
    const char *id;
    uint64_t t0, t1, t2;
    int rc;

    b->payload_size = b->a->payload_mib * TDEI_MIB;
    (void)snprintf(path, sizeof(path), "%.200s/payload.bin", b->ln.dir);
    (void)snprintf(fetched, sizeof(fetched), "%.200s/fetched.bin", b->ln.dir);
    rc = bd_file_write(path, b->payload_size, hash);
    if (rc == CLI_EXIT_OK) {
        rc = bd_cmd(b, b->owner, NULL, "catalog", "publish", "--id",
                    "bench-file", "--kind", "dataset", "--title",
                    "bench payload", "--domain", "production", "--level", "1",
                    "--class", "general", "--price-model", "one_time",
                    "--price", "1", "--file", path, NULL);
    }
    if (rc == CLI_EXIT_OK) {
        rc = bd_cmd(b, b->consumer, &out, "exchange", "request", "bench-file",
                    "--price", "1", NULL);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    id = json_string_value(json_object_get(out, "exchange_id"));
    rc = id != NULL && tdei_hex_decode(xid, 32, id) == 0
             ? CLI_EXIT_OK
             : bd_fail("the request printed no exchange id");
    json_decref(out);
    if (rc == CLI_EXIT_OK) {
        rc = bd_wait_delivered(b, xid);
    }
    t0 = cli_mono_us();
    if (rc == CLI_EXIT_OK) {
        rc = bd_wait_complete(b, xid);
    }
    t1 = cli_mono_us();
    if (rc == CLI_EXIT_OK) {
        rc = nodecall_fetch(&b->consumer_nc, xid, fetched, BD_STEP_MS, &res,
                            errmsg);
        rc = rc == 0 ? CLI_EXIT_OK
                     : bd_fail("the fetch failed: %s (%s)", errmsg,
                               tdei_errname(rc));
    }
    t2 = cli_mono_us();
    if (rc == CLI_EXIT_OK) {
        rc = bd_file_hash(fetched, hash2);
    }
    if (rc == CLI_EXIT_OK && memcmp(hash, hash2, 32) != 0) {
        rc = bd_fail("the fetched payload differs from the published one");
    }
    (void)remove(path);
    (void)remove(fetched);
    b->chunks = res.chunk_count;
    b->chunks_fetched = res.chunks_fetched;
    b->chunks_refetched = res.chunks_refetched;
    b->transfer_s = (double)(t1 - t0) / 1e6;
    b->fetch_s = (double)(t2 - t0) / 1e6;
    return rc;
}

/* Send record @i: its data into @buf. */
static size_t bd_record(char *buf, uint64_t i)
{
    int n = snprintf(buf, BD_RECORD_MAX,
                     "{\"i\":%llu,\"press\":\"line-4\",\"force_dn\":%llu}",
                     (unsigned long long)i,
                     (unsigned long long)(8000u + (i * 7919u) % 997u));

    return n > 0 ? (size_t)n : 0;
}

/* Push records @from..@to - 1 in one IngestRecords; their sent times
 * into b->sent_us. A full queue is tried again (counted). */
static int bd_push_due(struct bd *b, uint64_t from, uint64_t to)
{
    static char data[BD_PUSH_MAX][BD_RECORD_MAX];
    const uint8_t *ptrs[BD_PUSH_MAX];
    size_t lens[BD_PUSH_MAX];
    uint64_t ts[BD_PUSH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    size_t n = (size_t)(to - from);
    uint64_t deadline = cli_mono_us() + (uint64_t)BD_STEP_MS * 1000u;
    int rc;

    for (;;) {
        uint64_t now = cli_wall_us();

        for (size_t k = 0; k < n; k++) {
            lens[k] = bd_record(data[k], from + k);
            ptrs[k] = (const uint8_t *)data[k];
            ts[k] = now / 1000u;
        }
        rc = nodecall_ingest(&b->owner_nc, "bench-feed", ts, ptrs, lens, n,
                             errmsg);
        if (rc == 0) {
            for (size_t k = 0; k < n; k++) {
                b->sent_us[from + k] = now;
            }
            return CLI_EXIT_OK;
        }
        if (rc != TDEI_BUSY || cli_mono_us() >= deadline || bd_interrupted) {
            return bd_fail("the owner's node refused records %llu-%llu: %s "
                           "(%s)",
                           (unsigned long long)from,
                           (unsigned long long)(to - 1), errmsg,
                           tdei_errname(rc));
        }
        b->busy++;
        sleep_us(BD_BUSY_US);
    }
}

/* Push b->records at the steady rate: each record is due at i / rate s;
 * what is due is sent at once. */
static int bd_push(struct bd *b)
{
    uint64_t rate = b->a->stream_rate;
    uint64_t t0 = cli_mono_us();
    uint64_t next = 0;
    int rc = CLI_EXIT_OK;

    while (rc == CLI_EXIT_OK && next < b->records) {
        uint64_t elapsed = cli_mono_us() - t0;

        if (bd_interrupted) {
            return bd_fail("interrupted");
        }
        uint64_t due = elapsed * rate / 1000000u + 1u;

        due = due > b->records ? b->records : due;
        due = due - next > BD_PUSH_MAX ? next + BD_PUSH_MAX : due;
        if (due > next) {
            rc = bd_push_due(b, next, due);
            next = due;
        } else {
            uint64_t at = next * 1000000u / rate;
            sleep_us(at > elapsed ? at - elapsed : 0);
        }
    }
    b->push_s = (double)(cli_mono_us() - t0) / 1e6;
    return rc;
}

/* Read the records back from the subscriber's node until all arrived or
 * none came for BD_DRAIN_MS; each one's latency into b->lat_us. */
static int bd_collect(struct bd *b)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint64_t from = 0;
    uint64_t quiet_since = cli_mono_us();

    while (b->received < b->records) {
        Tdei__Api__Response *resp = NULL;
        const Tdei__Api__StreamRecords *page;
        int rc = nodecall_read_stream(&b->consumer_nc, "bench-feed", from,
                                      BD_PAGE, BD_READ_WAIT_MS, &resp, errmsg);

        if (rc != 0 && rc != TDEI_NOTFOUND) {
            return bd_fail("cannot read the stream on the subscriber's node: "
                           "%s (%s)",
                           errmsg, tdei_errname(rc));
        }
        page = rc == 0 ? resp->stream_records : NULL;
        for (size_t k = 0; page != NULL && k < page->n_records; k++) {
            const Tdei__Api__StreamRecord *r = page->records[k];
            char text[BD_RECORD_MAX] = "";
            unsigned long long i;

            memcpy(text, r->data.data,
                   r->data.len < sizeof(text) ? r->data.len : sizeof(text) - 1);
            if (sscanf(text, "{\"i\":%llu,", &i) != 1 || i >= b->records ||
                b->sent_us[i] == 0) {
                api_client_response_free(resp);
                return bd_fail("record seq %llu is not one the bench pushed",
                               (unsigned long long)r->seq);
            }
            b->lat_us[b->received++] =
                r->stored_ms * 1000u > b->sent_us[i]
                    ? r->stored_ms * 1000u - b->sent_us[i]
                    : 0;
            quiet_since = cli_mono_us();
        }
        if (page != NULL) {
            from = page->next_seq;
        }
        api_client_response_free(resp);
        if (bd_interrupted) {
            return bd_fail("interrupted");
        }
        if (cli_mono_us() - quiet_since > (uint64_t)BD_DRAIN_MS * 1000u) {
            return bd_fail("%llu of %llu records reached the subscriber; none "
                           "came in the last %u s",
                           (unsigned long long)b->received,
                           (unsigned long long)b->records, BD_DRAIN_MS / 1000u);
        }
        if (rc == TDEI_NOTFOUND) {
            sleep_us(100000u);
        }
    }
    return CLI_EXIT_OK;
}

/* (b): a stream, a subscription for every record, the push, the reads. */
static int bd_stream(struct bd *b)
{
    char n[24], timeout[24];
    int rc;

    b->records = b->a->stream_rate * b->a->stream_seconds;
    b->sent_us = tdei_calloc((size_t)b->records, sizeof(*b->sent_us));
    b->lat_us = tdei_calloc((size_t)b->records, sizeof(*b->lat_us));
    if (b->sent_us == NULL || b->lat_us == NULL) {
        return cli_fail(TDEI_NOMEM, NULL);
    }
    (void)snprintf(n, sizeof(n), "%llu", (unsigned long long)b->records);
    (void)snprintf(timeout, sizeof(timeout), "%u", BD_STEP_MS / 1000u);
    rc = bd_cmd(b, b->owner, NULL, "catalog", "publish", "--id", "bench-feed",
                "--kind", "stream", "--title", "bench feed", "--domain",
                "operation", "--level", "1", "--class", "general",
                "--price-model", "per_record", "--price", "1", NULL);
    if (rc == CLI_EXIT_OK) {
        rc = bd_cmd(b, b->owner, NULL, "stream", "open", "bench-feed", NULL);
    }
    if (rc == CLI_EXIT_OK) {
        rc = bd_cmd(b, b->consumer, NULL, "stream", "subscribe", "bench-feed",
                    "--records", n, "--timeout", timeout, NULL);
    }
    if (rc == CLI_EXIT_OK) {
        rc = bd_push(b);
    }
    return rc == CLI_EXIT_OK ? bd_collect(b) : rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* The latency at percentile @pct of the sorted b->lat_us, in ms. */
static double bd_pct_ms(const struct bd *b, unsigned pct)
{
    if (b->received == 0) {
        return 0.0;
    }
    return (double)b->lat_us[(b->received - 1) * pct / 100u] / 1000.0;
}

static json_t *bd_json(struct bd *b, double elapsed_s)
{
    double mib = (double)b->payload_size / (double)TDEI_MIB;

    qsort(b->lat_us, (size_t)b->received, sizeof(*b->lat_us), cmp_u64);
    return json_pack(
        "{s:I, s:s, s:s, s:f, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:b, s:I, "
        "s:I, s:f, s:I, s:I, s:{s:f, s:f, s:f}, s:I, s:f}",
        "nodes", (json_int_t)b->ln.count, "owner", b->owner->member, "consumer",
        b->consumer->member, "payload_mb", mib, "payload_chunks",
        (json_int_t)b->chunks, "chunks_fetched", (json_int_t)b->chunks_fetched,
        "chunks_refetched", (json_int_t)b->chunks_refetched,
        "payload_transfer_s", b->transfer_s, "payload_transfer_mb_s",
        b->transfer_s > 0 ? mib / b->transfer_s : 0.0, "payload_fetch_s",
        b->fetch_s, "payload_mb_s", b->fetch_s > 0 ? mib / b->fetch_s : 0.0,
        "payload_identical", 1, "stream_rate", (json_int_t)b->a->stream_rate,
        "stream_seconds", (json_int_t)b->a->stream_seconds, "stream_push_s",
        b->push_s, "stream_records", (json_int_t)b->records, "stream_received",
        (json_int_t)b->received, "stream_latency_ms", "p50", bd_pct_ms(b, 50),
        "p99", bd_pct_ms(b, 99), "max", bd_pct_ms(b, 100), "ingest_busy",
        (json_int_t)b->busy, "elapsed_s", elapsed_s);
}

/* The measured part, on a created localnet. */
static int bd_measure(struct bd *b)
{
    int rc;

    b->owner = &b->ln.nodes[1];
    b->consumer = &b->ln.nodes[b->ln.count >= 3 ? 2 : 0];
    nodecall_init(&b->owner_nc, b->owner->api, BD_CALL_MS);
    nodecall_init(&b->consumer_nc, b->consumer->api, BD_CALL_MS);
    rc = cli_localnet_start(&b->ln, 1, BD_WAIT_MS);
    if (rc == CLI_EXIT_OK) {
        rc = bd_payload(b);
    }
    if (rc == CLI_EXIT_OK) {
        rc = bd_stream(b);
    }
    nodecall_close(&b->owner_nc);
    nodecall_close(&b->consumer_nc);
    return rc;
}

int bench_data_run(const struct bench_data_args *a)
{
    struct bd *b = tdei_calloc(1, sizeof(*b));
    struct sigaction sa;
    char dir[HOME_PATH_MAX];
    uint64_t t0 = cli_mono_us();
    int made = 0;
    int rc;

    if (b == NULL) {
        return cli_fail(TDEI_NOMEM, NULL);
    }
    b->a = a;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bd_on_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    selfrun_cancel_on(&bd_interrupted);
    rc = cli_bench_dir(a->dir, dir, &made);
    if (rc == CLI_EXIT_OK) {
        rc = cli_localnet_create("bench", dir, a->nodes, 0, 0, &b->ln);
    }
    if (rc == CLI_EXIT_OK) {
        rc = bd_measure(b);
        if (!a->keep) {
            localnet_stop(&b->ln, BD_STOP_MS, NULL);
        }
    }
    if (rc == CLI_EXIT_OK) {
        rc = cli_print_json(bd_json(b, (double)(cli_mono_us() - t0) / 1e6));
        if (a->keep) {
            fprintf(stderr,
                    "tdei bench: the localnet runs on in %s; stop it with "
                    "`tdei localnet down --dir %s`\n",
                    b->ln.dir, b->ln.dir);
        }
    } else {
        fprintf(stderr,
                "tdei bench: the localnet, its logs and the commands' "
                "output stay in %s\n",
                dir);
    }
    if (rc == CLI_EXIT_OK && made && !a->keep) {
        localnet_remove_dir(dir);
    }
    tdei_free(b->sent_us);
    tdei_free(b->lat_us);
    tdei_free(b);
    return rc;
}
