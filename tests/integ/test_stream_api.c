/* The stream requests of the client API (api.proto 64-66: IngestRecords,
 * ReadStream, GetStreamState) against a real tdei-node: every refusal
 * has its code and a message that names what was wrong (the record's
 * index for a bad record), and changes nothing: no record is queued or
 * counted, and a valid ingest afterwards is appended from seq 0. Also:
 * a read that waits is answered when records come, answered empty when
 * its wait ends, and dropped without harm when its client leaves.
 *
 * One node per TCase. Members: 0 runs the node and owns the streams;
 * 1 owns a stream of its own (so 0's node is not its owner). Entries:
 *   feed-a  stream of 0, open       data-a  dataset of 0
 *   feed-b  stream of 1, open       feed-c  stream of 0, never opened
 *   feed-d  stream of 0, closed */
#include "harness.h"
#include "testutil.h"

#include "config.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "home.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MEMBERS 3
#define BALANCE 1000000ull
#define BLOCK_INTERVAL_MS 10
#define RECORD_MAX 16384u /* the default stream.record_max */

struct stream_fx
{
    struct integ_net net;
    struct api_client client;
    uint64_t nonce[MEMBERS]; /* last nonce used by each member's key */
};

static struct stream_fx fx;

/* ---- txs ----------------------------------------------------------------- */

/* Sign @body (op set) as member @m with its next nonce and submit it:
 * with @wait, assert that it is applied; else that it is admitted. */
static void tx_send(size_t m, Tdei__TxBody *body, int wait)
{
    Tdei__Tx msg = TDEI__TX__INIT;
    uint8_t sig[TDEI_SIG_SIZE];
    uint8_t *body_bytes = NULL;
    uint8_t *tx = NULL;
    size_t body_len = 0;
    size_t len = 0;
    uint32_t code = 0;
    uint32_t result = 0;

    body->version = CODEC_VERSION;
    body->chain_id = fx.net.chain_id;
    body->signer.data = fx.net.ops[m].pubkey;
    body->signer.len = TDEI_PUBKEY_SIZE;
    body->nonce = ++fx.nonce[m];
    ck_assert_int_eq(codec_txbody_encode(body, &body_bytes, &body_len), 0);
    ck_assert_int_eq(tdei_sign_tagged(sig, &fx.net.ops[m], TDEI_TAG_TX,
                                      body_bytes, body_len),
                     0);
    msg.body.data = body_bytes;
    msg.body.len = body_len;
    msg.sig.data = sig;
    msg.sig.len = TDEI_SIG_SIZE;
    ck_assert_int_eq(codec_tx_encode(&msg, &tx, &len), 0);
    ck_assert_int_eq(integ_submit(&fx.client, tx, len, wait, &code, &result),
                     0);
    ck_assert_msg(code == 0 && (!wait || result == 0),
                  "tx of member %zu: %s / %s", m, tdei_errname((int)code),
                  tdei_errname((int)result));
    tdei_free(tx);
    tdei_free(body_bytes);
}

static void publish_wait(size_t m, const char *id, int stream, int wait)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogPublish op = TDEI__CATALOG_PUBLISH__INIT;
    Tdei__PriceTerms price = TDEI__PRICE_TERMS__INIT;
    Tdei__License lic = TDEI__LICENSE__INIT;
    uint8_t root[32];

    memset(root, 0x5c, sizeof(root));
    op.id = (char *)(uintptr_t)id;
    op.kind = stream ? CODEC_KIND_STREAM : CODEC_KIND_DATASET;
    op.title = (char *)(uintptr_t) "A test entry";
    op.domain = 3;
    op.level = 1;
    op.data_class = 1;
    price.model = stream ? CODEC_PRICE_PER_RECORD : CODEC_PRICE_ONE_TIME;
    price.amount = 1;
    op.price = &price;
    op.license = &lic;
    if (!stream) {
        op.content_root.data = root;
        op.content_root.len = sizeof(root);
        op.size = 100;
    }
    body.op_case = TDEI__TX_BODY__OP_CATALOG_PUBLISH;
    body.catalog_publish = &op;
    tx_send(m, &body, wait);
}

static void publish(size_t m, const char *id, int stream)
{
    publish_wait(m, id, stream, 1);
}

static void stream_op_wait(size_t m, const char *id, int op_case, int wait)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__StreamOpen open_op = TDEI__STREAM_OPEN__INIT;
    Tdei__StreamClose close_op = TDEI__STREAM_CLOSE__INIT;

    body.op_case = (Tdei__TxBody__OpCase)op_case;
    if (op_case == TDEI__TX_BODY__OP_STREAM_OPEN) {
        open_op.id = (char *)(uintptr_t)id;
        body.stream_open = &open_op;
    } else {
        close_op.id = (char *)(uintptr_t)id;
        body.stream_close = &close_op;
    }
    tx_send(m, &body, wait);
}

static void stream_op(size_t m, const char *id, int op_case)
{
    stream_op_wait(m, id, op_case, 1);
}

/* ---- fixture ------------------------------------------------------------- */

/* Set home 0's stream keys before the node starts (0: keep). */
static void config_stream(uint64_t queue_records, uint64_t batch_ms,
                          uint64_t batch_records)
{
    char path[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct tdei_config cfg;
    FILE *f;

    (void)home_path(path, fx.net.homes[0], "config.ini");
    ck_assert_msg(config_load(&cfg, path, errmsg) == 0, "%s", errmsg);
    if (queue_records != 0) {
        cfg.stream_queue_records = queue_records;
    }
    if (batch_ms != 0) {
        cfg.stream_batch_ms = batch_ms;
    }
    if (batch_records != 0) {
        cfg.stream_batch_records = batch_records;
    }
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(config_write(&cfg, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}

static void fx_start(uint64_t queue_records, uint64_t batch_ms,
                     uint64_t batch_records)
{
    testutil_leak_setup();
    memset(&fx, 0, sizeof(fx));
    fx.client.fd = -1;
    ck_assert_int_eq(
        integ_net_create(&fx.net, MEMBERS, BALANCE, BLOCK_INTERVAL_MS), 0);
    config_stream(queue_records, batch_ms, batch_records);
    ck_assert_int_eq(integ_node_start(&fx.net, 20000), 0);
    ck_assert_int_eq(integ_connect(&fx.net, &fx.client), 0);
    publish(0, "feed-a", 1);
    stream_op(0, "feed-a", TDEI__TX_BODY__OP_STREAM_OPEN);
    publish(0, "data-a", 0);
    publish(1, "feed-b", 1);
    stream_op(1, "feed-b", TDEI__TX_BODY__OP_STREAM_OPEN);
    publish(0, "feed-c", 1);
    publish(0, "feed-d", 1);
    stream_op(0, "feed-d", TDEI__TX_BODY__OP_STREAM_OPEN);
    stream_op(0, "feed-d", TDEI__TX_BODY__OP_STREAM_CLOSE);
}

static void setup(void) { fx_start(0, 0, 0); }

/* A queue of 10 records whose batches are cut only after a minute. */
static void setup_small_queue(void) { fx_start(10, 60000, 0); }

/* Batches of 10,000 records cut only after a minute: records stay
 * queued. */
static void setup_slow_batches(void) { fx_start(0, 60000, 10000); }

static void teardown(void)
{
    api_client_close(&fx.client);
    integ_net_destroy(&fx.net);
    testutil_leak_teardown();
}

/* ---- requests ------------------------------------------------------------ */

static Tdei__Api__Response *call_on(struct api_client *client,
                                    Tdei__Api__Request *req)
{
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    ck_assert_msg(api_client_call(client, req, &resp, errmsg) == 0, "call: %s",
                  errmsg);
    return resp;
}

/* Assert @resp refuses with @code and a message containing @text; free
 * it. */
static void expect_refusal(Tdei__Api__Response *resp, uint32_t code,
                           const char *text)
{
    ck_assert_msg(resp->code == code, "expected %s, got %s: \"%s\"",
                  tdei_errname((int)code), tdei_errname((int)resp->code),
                  resp->error);
    ck_assert_msg(strstr(resp->error, text) != NULL,
                  "the message \"%s\" does not say \"%s\"", resp->error, text);
    ck_assert_int_eq(resp->resp_case, TDEI__API__RESPONSE__RESP__NOT_SET);
    api_client_response_free(resp);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* An IngestRecords of @n records of @size bytes each, timed from @ts. */
struct ingest
{
    Tdei__Api__Request req;
    Tdei__Api__IngestRecords in;
    Tdei__Api__IngestRecord *recs;
    Tdei__Api__IngestRecord **ptrs;
    uint8_t *data;
};

static void ingest_make(struct ingest *g, const char *stream, size_t n,
                        size_t size, uint64_t ts)
{
    memset(g, 0, sizeof(*g));
    tdei__api__request__init(&g->req);
    tdei__api__ingest_records__init(&g->in);
    g->recs = tdei_calloc(n == 0 ? 1 : n, sizeof(*g->recs));
    g->ptrs = tdei_calloc(n == 0 ? 1 : n, sizeof(*g->ptrs));
    g->data = tdei_malloc(size == 0 ? 1 : size);
    ck_assert_ptr_nonnull(g->recs);
    ck_assert_ptr_nonnull(g->ptrs);
    ck_assert_ptr_nonnull(g->data);
    memset(g->data, 'r', size);
    for (size_t i = 0; i < n; i++) {
        tdei__api__ingest_record__init(&g->recs[i]);
        g->recs[i].ts_ms = ts + i;
        g->recs[i].data.data = g->data;
        g->recs[i].data.len = size;
        g->ptrs[i] = &g->recs[i];
    }
    g->in.stream = (char *)(uintptr_t)stream;
    g->in.records = g->ptrs;
    g->in.n_records = n;
    g->req.req_case = TDEI__API__REQUEST__REQ_INGEST;
    g->req.ingest = &g->in;
}

static void ingest_free(struct ingest *g)
{
    tdei_free(g->recs);
    tdei_free(g->ptrs);
    tdei_free(g->data);
}

/* Ingest @n records of 8 bytes into feed-a and expect them taken. */
static void ingest_ok(size_t n, uint64_t ts)
{
    struct ingest g;
    Tdei__Api__Response *resp;

    ingest_make(&g, "feed-a", n, 8, ts);
    resp = call_on(&fx.client, &g.req);
    ck_assert_msg(resp->code == 0, "ingest: %s", resp->error);
    ck_assert_uint_eq(resp->ingest->accepted, n);
    api_client_response_free(resp);
    ingest_free(&g);
}

/* Send @g and expect refusal @code naming @text. */
static void ingest_refused(struct ingest *g, uint32_t code, const char *text)
{
    expect_refusal(call_on(&fx.client, &g->req), code, text);
    ingest_free(g);
}

static Tdei__Api__StreamState *state_get(const char *stream,
                                         Tdei__Api__Response **resp)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStreamState get = TDEI__API__GET_STREAM_STATE__INIT;

    get.stream = (char *)(uintptr_t)stream;
    req.req_case = TDEI__API__REQUEST__REQ_GET_STREAM_STATE;
    req.get_stream_state = &get;
    *resp = call_on(&fx.client, &req);
    ck_assert_msg((*resp)->code == 0, "stream state: %s", (*resp)->error);
    return (*resp)->stream_state;
}

static uint64_t records_ingested(void)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp;
    uint64_t n;

    req.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    req.get_status = &get;
    resp = call_on(&fx.client, &req);
    ck_assert_int_eq(resp->code, 0);
    ck_assert_ptr_nonnull(resp->status->data_plane);
    n = resp->status->data_plane->records_ingested;
    api_client_response_free(resp);
    return n;
}

/* Nothing was taken: no record queued or counted; then one valid record
 * is taken and appended at seq 0 (the stream's sequence did not move). */
static void expect_nothing_taken(void)
{
    Tdei__Api__Response *resp;
    Tdei__Api__StreamState *st = state_get("feed-a", &resp);
    uint64_t end;

    ck_assert_uint_eq(st->queued, 0);
    ck_assert_uint_eq(st->in_flight, 0);
    ck_assert_uint_eq(st->appended_records, 0);
    api_client_response_free(resp);
    ck_assert_uint_eq(records_ingested(), 0);
    ingest_ok(1, now_ms());
    end = integ_now_ms() + 20000;
    for (;;) {
        st = state_get("feed-a", &resp);
        if (st->appended_records == 1) {
            ck_assert_uint_eq(st->held_from, 0);
            ck_assert_uint_eq(st->next_seq, 1);
            api_client_response_free(resp);
            break;
        }
        api_client_response_free(resp);
        ck_assert_msg(integ_now_ms() < end, "the valid record was not "
                                            "appended within 20 s");
        (void)nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
    }
    ck_assert_uint_eq(records_ingested(), 1);
}

/* ---- IngestRecords refusals ---------------------------------------------- */

START_TEST(test_ingest_refuses_a_bad_stream_id)
{
    struct ingest g;

    ingest_make(&g, "Feed_A", 1, 8, now_ms());
    ingest_refused(&g, TDEI_INVAL, "'Feed_A' is not an entry id");
    expect_nothing_taken();
}
END_TEST

START_TEST(test_ingest_refuses_an_entry_not_in_the_catalog)
{
    struct ingest g;

    ingest_make(&g, "feed-z", 1, 8, now_ms());
    ingest_refused(&g, TDEI_NOTFOUND, "stream feed-z is not in the catalog");
    expect_nothing_taken();
}
END_TEST

START_TEST(test_ingest_refuses_a_dataset)
{
    struct ingest g;

    ingest_make(&g, "data-a", 1, 8, now_ms());
    ingest_refused(&g, TDEI_DATASET_STATE, "data-a is a dataset");
    expect_nothing_taken();
}
END_TEST

START_TEST(test_ingest_refuses_another_members_stream)
{
    struct ingest g;

    ingest_make(&g, "feed-b", 1, 8, now_ms());
    ingest_refused(&g, TDEI_NOT_OWNER, "stream feed-b is owned by member-01");
    expect_nothing_taken();
}
END_TEST

START_TEST(test_ingest_refuses_a_stream_never_opened)
{
    struct ingest g;

    ingest_make(&g, "feed-c", 1, 8, now_ms());
    ingest_refused(&g, TDEI_STREAM_STATE, "stream feed-c was never opened");
    expect_nothing_taken();
}
END_TEST

START_TEST(test_ingest_refuses_a_closed_stream)
{
    struct ingest g;

    ingest_make(&g, "feed-d", 1, 8, now_ms());
    ingest_refused(&g, TDEI_STREAM_STATE, "stream feed-d is closed");
    expect_nothing_taken();
}
END_TEST

START_TEST(test_ingest_refuses_no_records)
{
    struct ingest g;

    ingest_make(&g, "feed-a", 0, 8, now_ms());
    ingest_refused(&g, TDEI_INVAL, "no records; send 1-10000 records");
    expect_nothing_taken();
}
END_TEST

START_TEST(test_ingest_refuses_10001_records)
{
    struct ingest g;

    ingest_make(&g, "feed-a", 10001, 1, now_ms());
    ingest_refused(&g, TDEI_TOOBIG, "10001 records in one request");
    expect_nothing_taken();
}
END_TEST

START_TEST(test_ingest_refuses_an_empty_record)
{
    struct ingest g;

    ingest_make(&g, "feed-a", 5, 8, now_ms());
    g.recs[3].data.len = 0;
    ingest_refused(&g, TDEI_INVAL, "record 3 has 0 bytes of data");
    expect_nothing_taken();
}
END_TEST

START_TEST(test_ingest_refuses_a_record_over_record_max)
{
    struct ingest g;

    ingest_make(&g, "feed-a", 3, RECORD_MAX + 1, now_ms());
    g.recs[0].data.len = RECORD_MAX; /* the largest is taken */
    ingest_refused(&g, TDEI_INVAL,
                   "record 1 has 16385 bytes of data; a record has 1-16384 "
                   "bytes (stream.record_max)");
    expect_nothing_taken();
}
END_TEST

START_TEST(test_ingest_refuses_ts_zero)
{
    struct ingest g;

    ingest_make(&g, "feed-a", 3, 8, now_ms());
    g.recs[2].ts_ms = 0;
    ingest_refused(&g, TDEI_INVAL, "record 2 has ts_ms 0");
    expect_nothing_taken();
}
END_TEST

START_TEST(test_ingest_refuses_times_going_backwards_in_a_request)
{
    struct ingest g;

    ingest_make(&g, "feed-a", 4, 8, now_ms());
    g.recs[2].ts_ms = g.recs[1].ts_ms - 1;
    ingest_refused(&g, TDEI_INVAL, "record 2 has ts_ms");
    expect_nothing_taken();
}
END_TEST

START_TEST(test_ingest_refuses_a_time_before_the_last_taken)
{
    struct ingest g;
    uint64_t ts = now_ms();

    ingest_ok(2, ts); /* ts and ts + 1 */
    ingest_make(&g, "feed-a", 1, 8, ts);
    ingest_refused(&g, TDEI_INVAL,
                   "the last record this node took for the stream");
    ck_assert_uint_eq(records_ingested(), 2);
    /* The same time as the last is taken. */
    ingest_ok(1, ts + 1);
    ck_assert_uint_eq(records_ingested(), 3);
}
END_TEST

START_TEST(test_ingest_refuses_what_would_pass_the_queue)
{
    struct ingest g;
    Tdei__Api__Response *resp;
    Tdei__Api__StreamState *st;

    ingest_ok(8, now_ms());
    ingest_make(&g, "feed-a", 3, 8, now_ms() + 100);
    ingest_refused(&g, TDEI_BUSY, "(stream.queue_records)");
    st = state_get("feed-a", &resp);
    ck_assert_uint_eq(st->queued, 8);
    api_client_response_free(resp);
    ck_assert_uint_eq(records_ingested(), 8);
    ingest_ok(2, now_ms() + 200); /* up to the limit is taken */
    st = state_get("feed-a", &resp);
    ck_assert_uint_eq(st->queued, 10);
    api_client_response_free(resp);
}
END_TEST

START_TEST(test_ingest_refuses_what_would_pass_the_queue_bytes)
{
    struct ingest g;
    Tdei__Api__Response *resp;
    Tdei__Api__StreamState *st;
    uint64_t ts = now_ms();

    /* 4 x 1000 records of 16 KB: 62.5 MiB of the 64 MiB the node queues
     * at most, then 1000 more. */
    for (int i = 0; i < 4; i++) {
        ingest_make(&g, "feed-a", 1000, RECORD_MAX, ts + (uint64_t)i * 1000);
        resp = call_on(&fx.client, &g.req);
        ck_assert_msg(resp->code == 0, "ingest %d: %s", i, resp->error);
        api_client_response_free(resp);
        ingest_free(&g);
    }
    ingest_make(&g, "feed-a", 1000, RECORD_MAX, ts + 4000);
    ingest_refused(&g, TDEI_BUSY,
                   "records (65536000 bytes) wait to be "
                   "batched; 1000 more would pass");
    st = state_get("feed-a", &resp);
    ck_assert_uint_eq(st->queued, 4000);
    api_client_response_free(resp);
    ck_assert_uint_eq(records_ingested(), 4000);
}
END_TEST

START_TEST(test_ingest_refuses_a_257th_stream)
{
    char id[32];
    struct ingest g;

    /* 257 open streams of member 0: publish and open them all, waiting
     * for the last only. */
    for (int i = 0; i < 257; i++) {
        (void)snprintf(id, sizeof(id), "many-%03d", i);
        publish_wait(0, id, 1, 0);
        stream_op_wait(0, id, TDEI__TX_BODY__OP_STREAM_OPEN, i == 256);
    }
    for (int i = 0; i < 257; i++) {
        (void)snprintf(id, sizeof(id), "many-%03d", i);
        ingest_make(&g, id, 1, 8, now_ms());
        if (i < 256) {
            Tdei__Api__Response *resp = call_on(&fx.client, &g.req);
            ck_assert_msg(resp->code == 0, "stream %d: %s", i, resp->error);
            api_client_response_free(resp);
            ingest_free(&g);
        } else {
            ingest_refused(&g, TDEI_BUSY,
                           "this node feeds 256 streams, the most");
        }
    }
    ck_assert_uint_eq(records_ingested(), 256);
}
END_TEST

/* ---- ReadStream ---------------------------------------------------------- */

static void read_make(Tdei__Api__Request *req, Tdei__Api__ReadStream *rd,
                      const char *stream, uint64_t from, uint32_t limit,
                      uint32_t wait_ms)
{
    tdei__api__request__init(req);
    tdei__api__read_stream__init(rd);
    rd->stream = (char *)(uintptr_t)stream;
    rd->from_seq = from;
    rd->limit = limit;
    rd->wait_ms = wait_ms;
    req->req_case = TDEI__API__REQUEST__REQ_READ_STREAM;
    req->read_stream = rd;
}

START_TEST(test_read_refuses_bad_arguments)
{
    Tdei__Api__Request req;
    Tdei__Api__ReadStream rd;

    read_make(&req, &rd, "feed-a", 0, 0, 0);
    expect_refusal(call_on(&fx.client, &req), TDEI_INVAL,
                   "limit 0 is outside 1-10000 records");
    read_make(&req, &rd, "feed-a", 0, 10001, 0);
    expect_refusal(call_on(&fx.client, &req), TDEI_INVAL,
                   "limit 10001 is outside 1-10000 records");
    read_make(&req, &rd, "feed-a", 0, 10, 60001);
    expect_refusal(call_on(&fx.client, &req), TDEI_INVAL,
                   "wait_ms 60001 is outside 0-60000 ms");
    read_make(&req, &rd, "x", 0, 10, 0);
    expect_refusal(call_on(&fx.client, &req), TDEI_INVAL,
                   "'x' is not an entry id");
    expect_nothing_taken();
}
END_TEST

START_TEST(test_read_refuses_unknown_entries_and_datasets)
{
    Tdei__Api__Request req;
    Tdei__Api__ReadStream rd;

    read_make(&req, &rd, "feed-z", 0, 10, 1000);
    expect_refusal(call_on(&fx.client, &req), TDEI_NOTFOUND,
                   "feed-z is not in the catalog");
    read_make(&req, &rd, "data-a", 0, 10, 0);
    expect_refusal(call_on(&fx.client, &req), TDEI_DATASET_STATE,
                   "data-a is a dataset, not a stream");
    read_make(&req, &rd, "feed-a", 0, 10, 0);
    expect_refusal(call_on(&fx.client, &req), TDEI_NOTFOUND,
                   "this node holds no record of stream feed-a");
}
END_TEST

START_TEST(test_read_waits_and_answers_empty_when_nothing_comes)
{
    Tdei__Api__Request req;
    Tdei__Api__ReadStream rd;
    Tdei__Api__Response *resp;
    uint64_t t0 = integ_now_ms();

    read_make(&req, &rd, "feed-b", 7, 10, 400);
    resp = call_on(&fx.client, &req);
    ck_assert_int_eq(resp->code, 0);
    ck_assert_uint_eq(resp->stream_records->n_records, 0);
    ck_assert_uint_eq(resp->stream_records->next_seq, 7);
    ck_assert_uint_ge(integ_now_ms() - t0, 400);
    api_client_response_free(resp);
}
END_TEST

START_TEST(test_read_held_is_answered_when_records_come)
{
    struct api_client waiter = {.fd = -1};
    Tdei__Api__Request req;
    Tdei__Api__ReadStream rd;
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint64_t t0;

    ck_assert_int_eq(integ_connect(&fx.net, &waiter), 0);
    read_make(&req, &rd, "feed-a", 0, 100, 30000);
    ck_assert_int_eq(api_client_send(&waiter, &req, errmsg), 0);
    t0 = integ_now_ms();
    ingest_ok(3, now_ms());
    ck_assert_int_eq(api_client_recv(&waiter, &resp, errmsg), 0);
    ck_assert_msg(resp->code == 0, "%s", resp->error);
    ck_assert_uint_eq(resp->stream_records->n_records, 3);
    ck_assert_uint_eq(resp->stream_records->records[2]->seq, 2);
    ck_assert_uint_eq(resp->stream_records->next_seq, 3);
    ck_assert_mem_eq(resp->stream_records->records[0]->data.data, "rrrrrrrr",
                     8);
    ck_assert_uint_lt(integ_now_ms() - t0, 25000);
    api_client_response_free(resp);
    /* Read again from the middle, now at once. */
    read_make(&req, &rd, "feed-a", 1, 100, 0);
    resp = call_on(&fx.client, &req);
    ck_assert_uint_eq(resp->stream_records->n_records, 2);
    ck_assert_uint_eq(resp->stream_records->records[0]->seq, 1);
    api_client_response_free(resp);
    api_client_close(&waiter);
}
END_TEST

START_TEST(test_read_held_whose_client_left_is_dropped)
{
    struct api_client waiter = {.fd = -1};
    Tdei__Api__Request req;
    Tdei__Api__ReadStream rd;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    ck_assert_int_eq(integ_connect(&fx.net, &waiter), 0);
    read_make(&req, &rd, "feed-a", 0, 100, 30000);
    ck_assert_int_eq(api_client_send(&waiter, &req, errmsg), 0);
    (void)nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
    api_client_close(&waiter);
    (void)nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
    /* The node goes on, and records still flow. */
    expect_nothing_taken();
}
END_TEST

START_TEST(test_read_refuses_a_1025th_waiting_read)
{
    struct api_client waiters[16];
    struct api_client last = {.fd = -1};
    Tdei__Api__Request req;
    Tdei__Api__ReadStream rd;
    Tdei__Api__Request sreq = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    sreq.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    sreq.get_status = &get;
    /* 16 connections of 64 reads each (api max_pending), then a status
     * that the API answers TDEI_BUSY at once (too many calls pending):
     * a connection is read in order, so its 64 reads were taken. */
    for (int c = 0; c < 16; c++) {
        waiters[c].fd = -1;
        ck_assert_int_eq(integ_connect(&fx.net, &waiters[c]), 0);
        for (int i = 0; i < 64; i++) {
            read_make(&req, &rd, "feed-a", 0, 10, 30000);
            ck_assert_int_eq(api_client_send(&waiters[c], &req, errmsg), 0);
        }
        sreq.id = 0;
        resp = call_on(&waiters[c], &sreq);
        ck_assert_int_eq(resp->code, TDEI_BUSY);
        api_client_response_free(resp);
    }
    ck_assert_int_eq(integ_connect(&fx.net, &last), 0);
    read_make(&req, &rd, "feed-a", 0, 10, 30000);
    expect_refusal(call_on(&last, &req), TDEI_BUSY,
                   "1024 reads wait for records already, the most");
    api_client_close(&last);
    for (int c = 0; c < 16; c++) {
        api_client_close(&waiters[c]);
    }
    (void)nanosleep(&(struct timespec){.tv_nsec = 300000000}, NULL);
    /* The held reads left with their clients; a new one is held again. */
    ck_assert_int_eq(integ_connect(&fx.net, &last), 0);
    read_make(&req, &rd, "feed-b", 0, 10, 200);
    resp = call_on(&last, &req);
    ck_assert_msg(resp->code == 0, "%s", resp->error);
    ck_assert_uint_eq(resp->stream_records->n_records, 0);
    api_client_response_free(resp);
    api_client_close(&last);
    expect_nothing_taken();
}
END_TEST

/* ---- GetStreamState ------------------------------------------------------ */

START_TEST(test_state_refuses_bad_and_unknown_ids)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStreamState get = TDEI__API__GET_STREAM_STATE__INIT;
    Tdei__Api__Response *resp;
    Tdei__Api__StreamState *st;

    req.req_case = TDEI__API__REQUEST__REQ_GET_STREAM_STATE;
    req.get_stream_state = &get;
    get.stream = (char *)(uintptr_t) "FEED";
    expect_refusal(call_on(&fx.client, &req), TDEI_INVAL,
                   "'FEED' is not an entry id");
    get.stream = (char *)(uintptr_t) "feed-z";
    expect_refusal(call_on(&fx.client, &req), TDEI_NOTFOUND,
                   "feed-z is not in the catalog");
    st = state_get("feed-b", &resp);
    ck_assert(!st->owner);
    api_client_response_free(resp);
    st = state_get("feed-a", &resp);
    ck_assert(st->owner);
    api_client_response_free(resp);
}
END_TEST

static Suite *stream_api_suite(void)
{
    Suite *s = suite_create("stream_api");
    TCase *tc;

#define ADD(name, fn, setup_fn)                                                \
    tc = tcase_create(name);                                                   \
    tcase_add_checked_fixture(tc, setup_fn, teardown);                         \
    tcase_set_timeout(tc, 120);                                                \
    tcase_add_test(tc, fn);                                                    \
    suite_add_tcase(s, tc)

    ADD("ingest_bad_id", test_ingest_refuses_a_bad_stream_id, setup);
    ADD("ingest_unknown", test_ingest_refuses_an_entry_not_in_the_catalog,
        setup);
    ADD("ingest_dataset", test_ingest_refuses_a_dataset, setup);
    ADD("ingest_not_owner", test_ingest_refuses_another_members_stream, setup);
    ADD("ingest_never_opened", test_ingest_refuses_a_stream_never_opened,
        setup);
    ADD("ingest_closed", test_ingest_refuses_a_closed_stream, setup);
    ADD("ingest_none", test_ingest_refuses_no_records, setup);
    ADD("ingest_too_many", test_ingest_refuses_10001_records, setup);
    ADD("ingest_empty_record", test_ingest_refuses_an_empty_record, setup);
    ADD("ingest_record_max", test_ingest_refuses_a_record_over_record_max,
        setup);
    ADD("ingest_ts_zero", test_ingest_refuses_ts_zero, setup);
    ADD("ingest_backwards",
        test_ingest_refuses_times_going_backwards_in_a_request, setup);
    ADD("ingest_before_last", test_ingest_refuses_a_time_before_the_last_taken,
        setup);
    ADD("ingest_busy", test_ingest_refuses_what_would_pass_the_queue,
        setup_small_queue);
    ADD("ingest_busy_bytes",
        test_ingest_refuses_what_would_pass_the_queue_bytes,
        setup_slow_batches);
    ADD("ingest_streams_max", test_ingest_refuses_a_257th_stream,
        setup_slow_batches);
    ADD("read_bad_arguments", test_read_refuses_bad_arguments, setup);
    ADD("read_unknown", test_read_refuses_unknown_entries_and_datasets, setup);
    ADD("read_wait_empty", test_read_waits_and_answers_empty_when_nothing_comes,
        setup);
    ADD("read_wait_records", test_read_held_is_answered_when_records_come,
        setup);
    ADD("read_client_left", test_read_held_whose_client_left_is_dropped, setup);
    ADD("read_waiters_max", test_read_refuses_a_1025th_waiting_read, setup);
    ADD("state_ids", test_state_refuses_bad_and_unknown_ids, setup);
#undef ADD
    return s;
}

int main(void) { return testutil_run(stream_api_suite()); }
