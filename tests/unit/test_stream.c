/* Tests of the stream contract, run over the in-memory state: open,
 * append and close with each refusal code and its reason; per-record
 * charging of live subscriptions (exact balances of owner, consumers and
 * escrows), partial payment and the end of a spent, expired or unsettled
 * subscription, free subscriptions, ascending order, revenue to the
 * current owner, close with refunds, conservation of credits, and a full
 * stream of CODEC_STREAM_SUBS_MAX subscriptions inside the per-tx budget.
 * Catalog entries and subscriptions (settled per_record exchanges with
 * their escrow accounts) are seeded directly: the catalog and exchange
 * contracts are tested on their own. */
#include "contract_fixture.h"
#include "testutil.h"

#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hex.h"
#include "exec/state.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static struct contract_ctx ctx;
static const uint8_t tx_id[32] = {0x42};
static const uint8_t signer[32] = {0x01};

#define st fixture_st

#define T0 1764000000000ull /* block time of every tx, Unix ms */
#define HEIGHT 100u         /* block height of every tx */
#define LIVE_UNTIL 1000u    /* grant_expires of a live subscription */
#define PRICE 5u            /* credits per record of "line-1" */
#define STREAM "line-1"
#define OWNER "owner-co"

/* Every member of the ledger, for the conservation sum. */
static const char *const members[] = {"owner-co", "cons-a",  "cons-b",
                                      "cons-c",   "new-own", "pub-svc"};

/* Exchange ids seeded in this test (first byte), for the conservation
 * sum. */
static uint8_t seeded[CODEC_STREAM_SUBS_MAX + 4];
static size_t seeded_count;

/* ---- seeding ------------------------------------------------------------- */

static void xid_make(uint8_t xid[32], uint8_t b)
{
    memset(xid, 0, 32);
    xid[0] = b;
    xid[31] = 0x5a;
}

static void put_dataset(struct state *s, const char *id, uint32_t kind,
                        uint32_t status, const char *owner)
{
    static uint8_t root[32] = {0x11};
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Dataset d = TDEI__DATASET__INIT;
    Tdei__PriceTerms price = TDEI__PRICE_TERMS__INIT;

    d.id = (char *)(uintptr_t)id;
    d.kind = kind;
    d.title = (char *)"Line sensors";
    d.domain = CODEC_DOMAIN_PRODUCTION;
    d.level = 1;
    d.data_class = CODEC_CLASS_GENERAL;
    price.model = kind == CODEC_KIND_STREAM ? CODEC_PRICE_PER_RECORD
                                            : CODEC_PRICE_ONE_TIME;
    price.amount = PRICE;
    d.price = &price;
    if (kind == CODEC_KIND_DATASET) {
        d.content_root = (ProtobufCBinaryData){32, root};
        d.size = 1000;
    }
    d.owner = (char *)(uintptr_t)owner;
    d.publisher = (char *)OWNER;
    d.version = 1;
    d.status = status;
    d.created_height = 1;
    d.updated_height = 1;
    fixture_put(s, key, contract_key_dataset(key, id), &d.base);
}

/* A subscription to STREAM: a settled per_record exchange @b of
 * @consumer at @price with @escrow credits in "escrow/<id>", live until
 * @expires. When @largest, its text fields have their largest sizes
 * (purpose and note, member ids, entry id), as the budget test needs. */
static void put_sub_full(struct state *s, uint8_t b, const char *consumer,
                         uint64_t price, uint64_t escrow, uint32_t status,
                         uint64_t expires, int largest)
{
    static char text[CODEC_NOTE_MAX + 1];
    static char member_id[TDEI_MEMBER_ID_MAX + 1];
    static char entry_id[CODEC_DATASET_ID_MAX + 1];
    static uint8_t sealed[CODEC_SEALED_KEY_SIZE] = {0x33};
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t xid[32];
    Tdei__Exchange x = TDEI__EXCHANGE__INIT;
    Tdei__Account a = TDEI__ACCOUNT__INIT;

    memset(text, 'p', CODEC_NOTE_MAX);
    memset(member_id, 'm', TDEI_MEMBER_ID_MAX);
    memset(entry_id, 'e', CODEC_DATASET_ID_MAX);
    xid_make(xid, b);
    x.id = (ProtobufCBinaryData){32, xid};
    x.dataset = (char *)STREAM;
    x.kind = CODEC_KIND_STREAM;
    x.consumer = (char *)(uintptr_t)consumer;
    x.owner = (char *)OWNER;
    x.model = CODEC_PRICE_PER_RECORD;
    x.price = price;
    x.escrow = escrow;
    if (largest) {
        x.purpose = text;
        x.note = text;
        x.dataset = entry_id;
        x.owner = member_id;
        x.owner_approval = member_id;
        x.regulator_approval = member_id;
        x.need_owner = 1;
        x.need_regulator = 1;
    }
    x.level = 1;
    x.data_class = CODEC_CLASS_GENERAL;
    x.status = status;
    x.requested_height = 10;
    x.grant_ttl = 990;
    x.grant_expires = expires;
    x.sealed_key = (ProtobufCBinaryData){sizeof(sealed), sealed};
    x.delivered_height = 10;
    x.settled_height = 10;
    fixture_put(s, key, contract_key_exchange(key, xid), &x.base);
    a.balance = escrow;
    fixture_put(s, key, contract_key_escrow(key, xid), &a.base);
    seeded[seeded_count++] = b;
}

static void put_sub(struct state *s, uint8_t b, const char *consumer,
                    uint64_t price, uint64_t escrow)
{
    put_sub_full(s, b, consumer, price, escrow, CODEC_EXCHANGE_SETTLED,
                 LIVE_UNTIL, 0);
}

/* The Stream record of STREAM listing exchanges @subs (first bytes,
 * ascending). */
static void put_stream(struct state *s, uint32_t status, uint64_t next_seq,
                       uint64_t last_ts, const uint8_t *subs, size_t n)
{
    static uint8_t ids[CODEC_STREAM_SUBS_MAX][32];
    ProtobufCBinaryData list[CODEC_STREAM_SUBS_MAX];
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Stream r = TDEI__STREAM__INIT;

    for (size_t i = 0; i < n; i++) {
        xid_make(ids[i], subs[i]);
        list[i] = (ProtobufCBinaryData){32, ids[i]};
    }
    r.id = (char *)STREAM;
    r.status = status;
    r.next_seq = next_seq;
    r.last_ts = last_ts;
    r.n_subscriptions = n;
    r.subscriptions = list;
    fixture_put(s, key, contract_key_stream(key, STREAM), &r.base);
}

/* Begin seeding: members, default params, and the entries: STREAM (a
 * stream of OWNER), "line-2" (another stream of OWNER), "bulk-file" (a
 * dataset) and "old-line" (a withdrawn stream). */
static struct state *seed_begin(void)
{
    struct state *s = fixture_seed_begin();
    struct params_storage p;

    seeded_count = 0;
    fixture_member(s, "pub-svc", TDEI_ROLE_PUBLIC_SERVICE, CODEC_MEMBER_ACTIVE,
                   1, 0);
    fixture_member(s, OWNER, TDEI_ROLE_MANUFACTURER, CODEC_MEMBER_ACTIVE, 2,
                   1000);
    fixture_member(s, "cons-a", TDEI_ROLE_PLATFORM, CODEC_MEMBER_ACTIVE, 3,
                   500);
    fixture_member(s, "cons-b", TDEI_ROLE_PLATFORM, CODEC_MEMBER_ACTIVE, 4,
                   300);
    fixture_member(s, "cons-c", TDEI_ROLE_MANUFACTURER, CODEC_MEMBER_ACTIVE, 5,
                   0);
    fixture_member(s, "new-own", TDEI_ROLE_MANUFACTURER, CODEC_MEMBER_ACTIVE, 6,
                   10);
    fixture_params_default(&p);
    fixture_params_put(s, &p.params);
    put_dataset(s, STREAM, CODEC_KIND_STREAM, CODEC_DATASET_ACTIVE, OWNER);
    put_dataset(s, "line-2", CODEC_KIND_STREAM, CODEC_DATASET_ACTIVE, OWNER);
    put_dataset(s, "bulk-file", CODEC_KIND_DATASET, CODEC_DATASET_ACTIVE,
                OWNER);
    put_dataset(s, "old-line", CODEC_KIND_STREAM, CODEC_DATASET_WITHDRAWN,
                OWNER);
    return s;
}

/* The plain ledger, STREAM not opened. */
static void seed_plain(void) { fixture_seed_end(seed_begin()); }

/* ---- running ops --------------------------------------------------------- */

static void begin_at(const char *member, uint64_t height)
{
    struct contract_env env = {
        .ops = &state_contract_ops,
        .state = st,
        .signer = signer,
        .member = member,
        .role = TDEI_ROLE_MANUFACTURER,
        .height = height,
        .time_ms = T0,
        .tx_id = tx_id,
        .chain_id = "test-chain",
    };

    contract_ctx_begin(&ctx, &env);
}

/* Run one op as a tx: a checkpoint rolled back on refusal, as exec does. */
static int run(const Tdei__TxBody *body)
{
    int rc;

    state_tx_begin(st);
    rc = contract_dispatch(&ctx, body);
    if (rc == 0) {
        state_tx_commit(st);
    } else {
        state_tx_rollback(st);
    }
    return rc;
}

static int open_as(const char *member, const char *id)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__StreamOpen op = TDEI__STREAM_OPEN__INIT;

    begin_at(member, HEIGHT);
    op.id = (char *)(uintptr_t)id;
    body.op_case = TDEI__TX_BODY__OP_STREAM_OPEN;
    body.stream_open = &op;
    return run(&body);
}

static int close_as(const char *member, const char *id)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__StreamClose op = TDEI__STREAM_CLOSE__INIT;

    begin_at(member, HEIGHT);
    op.id = (char *)(uintptr_t)id;
    body.op_case = TDEI__TX_BODY__OP_STREAM_CLOSE;
    body.stream_close = &op;
    return run(&body);
}

static uint8_t batch_root[32] = {0xab, 0xcd};

/* Append @count records from @seq with timestamps @first_ts..@last_ts,
 * signed by @member at @height. */
static int append_full(const char *member, uint64_t height, uint64_t seq,
                       uint64_t count, uint64_t first_ts, uint64_t last_ts)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__StreamAppend op = TDEI__STREAM_APPEND__INIT;

    begin_at(member, height);
    op.id = (char *)STREAM;
    op.seq_first = seq;
    op.count = count;
    op.first_ts = first_ts;
    op.last_ts = last_ts;
    op.batch_root = (ProtobufCBinaryData){32, batch_root};
    body.op_case = TDEI__TX_BODY__OP_STREAM_APPEND;
    body.stream_append = &op;
    return run(&body);
}

/* Append @count records from @seq by OWNER, one second before block
 * time. */
static int append(uint64_t seq, uint64_t count)
{
    return append_full(OWNER, HEIGHT, seq, count, T0 - 1000, T0 - 1000);
}

/* ---- reading state ------------------------------------------------------- */

static uint64_t balance(const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[64];
    Tdei__Account *a;
    size_t vlen;
    uint64_t b;

    ck_assert_int_eq(state_get_copy(st, key, contract_key_account(key, id), val,
                                    sizeof(val), &vlen),
                     0);
    a = tdei__account__unpack(NULL, vlen, val);
    ck_assert_ptr_nonnull(a);
    b = a->balance;
    tdei__account__free_unpacked(a, NULL);
    return b;
}

static uint64_t escrow(uint8_t b)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[64];
    uint8_t xid[32];
    Tdei__Account *a;
    size_t vlen;
    uint64_t e;

    xid_make(xid, b);
    ck_assert_int_eq(state_get_copy(st, key, contract_key_escrow(key, xid), val,
                                    sizeof(val), &vlen),
                     0);
    a = tdei__account__unpack(NULL, vlen, val);
    ck_assert_ptr_nonnull(a);
    e = a->balance;
    tdei__account__free_unpacked(a, NULL);
    return e;
}

/* Every credit on the ledger: balances plus escrows. */
static uint64_t total(void)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        sum += balance(members[i]);
    }
    for (size_t i = 0; i < seeded_count; i++) {
        sum += escrow(seeded[i]);
    }
    return sum;
}

/* Read exchange @b (free with codec_exchange_free). */
static Tdei__Exchange *exchange(uint8_t b)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[CODEC_EXCHANGE_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t xid[32];
    Tdei__Exchange *x;
    size_t vlen;

    xid_make(xid, b);
    ck_assert_int_eq(state_get_copy(st, key, contract_key_exchange(key, xid),
                                    val, sizeof(val), &vlen),
                     0);
    ck_assert_int_eq(codec_exchange_decode(&x, val, vlen, errmsg), 0);
    return x;
}

/* Assert exchange @b's status, escrow (record and account) and records. */
static void assert_sub(uint8_t b, uint32_t status, uint64_t esc,
                       uint64_t records)
{
    Tdei__Exchange *x = exchange(b);

    ck_assert_uint_eq(x->status, status);
    ck_assert_uint_eq(x->escrow, esc);
    ck_assert_uint_eq(x->records, records);
    ck_assert_uint_eq(x->closed_height,
                      status == CODEC_EXCHANGE_ENDED ? HEIGHT : 0);
    codec_exchange_free(x);
    ck_assert_uint_eq(escrow(b), esc);
}

/* Read the Stream record of @id, or NULL when there is none. */
static Tdei__Stream *stream_read(const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[CODEC_STREAM_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Stream *s;
    size_t vlen;
    int rc = state_get_copy(st, key, contract_key_stream(key, id), val,
                            sizeof(val), &vlen);

    if (rc == TDEI_NOTFOUND) {
        return NULL;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(codec_stream_decode(&s, val, vlen, errmsg), 0);
    return s;
}

/* Assert the stream's live subscriptions are exactly @subs (first
 * bytes). */
static void assert_subs(const uint8_t *subs, size_t n)
{
    Tdei__Stream *s = stream_read(STREAM);

    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->n_subscriptions, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(s->subscriptions[i].data[0], subs[i]);
    }
    codec_stream_free(s);
}

/* ---- reading events ------------------------------------------------------ */

static const char *arena(uint32_t offset) { return ctx.arena + offset; }

/* The @n-th event (from 0) of type @type, or -1. */
static long event_find(const char *type, size_t n)
{
    for (size_t i = 0; i < ctx.event_count; i++) {
        if (strcmp(arena(ctx.events[i].type), type) == 0 && n-- == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* The value of the @n-th attribute named @key of event @ev, or NULL. */
static const char *attr(long ev, const char *key, size_t n)
{
    const struct contract_event *e;

    ck_assert_int_ge(ev, 0);
    e = &ctx.events[ev];
    for (size_t i = 0; i < e->attr_count; i++) {
        const struct contract_attr *a = &ctx.attrs[e->attr_first + i];
        if (strcmp(arena(a->key), key) == 0 && n-- == 0) {
            return arena(a->value);
        }
    }
    return NULL;
}

/* "<hex of exchange b> <x> <y>" */
static const char *outcome(uint8_t b, const char *rest)
{
    static char text[160];
    char hex[65];
    uint8_t xid[32];

    xid_make(xid, b);
    (void)tdei_hex_encode(hex, sizeof(hex), xid, 32);
    (void)snprintf(text, sizeof(text), "%s %s", hex, rest);
    return text;
}

static int touched_entry(const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_dataset(key, id);

    for (size_t i = 0; i < ctx.touched_count; i++) {
        if (ctx.touched[i].klen == klen &&
            memcmp(ctx.touched[i].key, key, klen) == 0) {
            return 1;
        }
    }
    return 0;
}

#define assert_reason_has(text)                                                \
    ck_assert_msg(strstr(ctx.reason, (text)) != NULL,                          \
                  "reason \"%s\" lacks \"%s\"", ctx.reason, (text))

/* ---- stream_open --------------------------------------------------------- */

START_TEST(test_stream_open_writes_an_open_stream)
{
    Tdei__Stream *s;

    seed_plain();
    ck_assert_int_eq(open_as(OWNER, STREAM), 0);
    s = stream_read(STREAM);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->id, STREAM);
    ck_assert_uint_eq(s->status, CODEC_STREAM_OPEN);
    ck_assert_uint_eq(s->next_seq, 0);
    ck_assert_uint_eq(s->last_ts, 0);
    ck_assert_uint_eq(s->batches, 0);
    ck_assert_uint_eq(s->n_subscriptions, 0);
    codec_stream_free(s);
    ck_assert_uint_eq(ctx.event_count, 1);
    ck_assert_str_eq(attr(event_find("stream.opened", 0), "id", 0), STREAM);
    ck_assert_str_eq(attr(event_find("stream.opened", 0), "by", 0), OWNER);
    ck_assert(touched_entry(STREAM));
    ck_assert_uint_eq(ctx.touched_count, 1);
}
END_TEST

START_TEST(test_stream_open_refusals)
{
    seed_plain();
    ck_assert_int_eq(open_as(OWNER, "no-such"), TDEI_UNKNOWN_DATASET);
    assert_reason_has("no-such");
    ck_assert_int_eq(open_as(OWNER, "bulk-file"), TDEI_DATASET_STATE);
    assert_reason_has("not a stream");
    ck_assert_int_eq(open_as(OWNER, "old-line"), TDEI_DATASET_STATE);
    assert_reason_has("withdrawn");
    ck_assert_int_eq(open_as("cons-a", STREAM), TDEI_NOT_OWNER);
    assert_reason_has("owner owner-co");
    ck_assert(touched_entry(STREAM));
    ck_assert_ptr_null(stream_read(STREAM));
    ck_assert_ptr_null(stream_read("old-line"));
    ck_assert_uint_eq(ctx.event_count, 0);

    ck_assert_int_eq(open_as(OWNER, STREAM), 0);
    ck_assert_int_eq(open_as(OWNER, STREAM), TDEI_STREAM_STATE);
    assert_reason_has("already opened (it is open)");
}
END_TEST

START_TEST(test_stream_closed_never_reopens)
{
    Tdei__Stream *s;

    seed_plain();
    ck_assert_int_eq(open_as(OWNER, STREAM), 0);
    ck_assert_int_eq(close_as(OWNER, STREAM), 0);
    ck_assert_int_eq(open_as(OWNER, STREAM), TDEI_STREAM_STATE);
    assert_reason_has("already opened (it is closed)");
    assert_reason_has("never reopens");
    s = stream_read(STREAM);
    ck_assert_uint_eq(s->status, CODEC_STREAM_CLOSED);
    codec_stream_free(s);
}
END_TEST

/* ---- stream_append: the batch rules -------------------------------------- */

START_TEST(test_stream_append_advances_the_stream)
{
    Tdei__Stream *s;
    long ev;

    seed_plain();
    ck_assert_int_eq(open_as(OWNER, STREAM), 0);
    ck_assert_int_eq(append(0, 10), 0);
    ck_assert_int_eq(append_full(OWNER, HEIGHT, 10, 1, T0 - 1000, T0 - 1000),
                     0);
    s = stream_read(STREAM);
    ck_assert_uint_eq(s->next_seq, 11);
    ck_assert_uint_eq(s->last_ts, T0 - 1000);
    ck_assert_uint_eq(s->batches, 2);
    ck_assert_uint_eq(s->last_batch_root.len, 32);
    ck_assert_mem_eq(s->last_batch_root.data, batch_root, 32);
    ck_assert_uint_eq(s->status, CODEC_STREAM_OPEN);
    codec_stream_free(s);
    ev = event_find("stream.appended", 0);
    ck_assert_str_eq(attr(ev, "id", 0), STREAM);
    ck_assert_str_eq(attr(ev, "by", 0), OWNER);
    ck_assert_str_eq(attr(ev, "seq_first", 0), "10");
    ck_assert_str_eq(attr(ev, "count", 0), "1");
    ck_assert_str_eq(attr(ev, "charged", 0), "0");
    ck_assert_str_eq(attr(ev, "amount", 0), "0");
    ck_assert_str_eq(attr(ev, "ended", 0), "0");
    ck_assert_uint_eq(ctx.event_count, 1);
    ck_assert(touched_entry(STREAM));
}
END_TEST

START_TEST(test_stream_append_refused_not_open)
{
    seed_plain();
    ck_assert_int_eq(append(0, 1), TDEI_STREAM_STATE);
    assert_reason_has("never opened");
    ck_assert_int_eq(open_as(OWNER, STREAM), 0);
    ck_assert_int_eq(append(0, 5), 0);
    ck_assert_int_eq(close_as(OWNER, STREAM), 0);
    ck_assert_int_eq(append(5, 1), TDEI_STREAM_STATE);
    assert_reason_has("closed");
    ck_assert(touched_entry(STREAM));
}
END_TEST

START_TEST(test_stream_append_refused_not_owner)
{
    seed_plain();
    ck_assert_int_eq(open_as(OWNER, STREAM), 0);
    ck_assert_int_eq(append_full("cons-a", HEIGHT, 0, 1, T0, T0),
                     TDEI_NOT_OWNER);
    assert_reason_has("cons-a does not own it");
    ck_assert(touched_entry(STREAM));
}
END_TEST

START_TEST(test_stream_append_refused_too_big)
{
    Tdei__Stream *s;

    seed_plain();
    ck_assert_int_eq(open_as(OWNER, STREAM), 0);
    ck_assert_int_eq(append(0, 10001), TDEI_TOOBIG);
    assert_reason_has("params.stream_batch_max allows 10000");
    ck_assert_int_eq(append(0, 10000), 0);
    s = stream_read(STREAM);
    ck_assert_uint_eq(s->next_seq, 10000);
    codec_stream_free(s);
}
END_TEST

START_TEST(test_stream_append_refused_wrong_seq)
{
    seed_plain();
    ck_assert_int_eq(open_as(OWNER, STREAM), 0);
    ck_assert_int_eq(append(1, 1), TDEI_STREAM_SEQ);
    assert_reason_has("expects 0");
    ck_assert_int_eq(append(0, 10), 0);
    ck_assert_int_eq(append(9, 1), TDEI_STREAM_SEQ);
    assert_reason_has("starts at seq 9; stream line-1 expects 10");
    ck_assert_int_eq(append(11, 1), TDEI_STREAM_SEQ);
    assert_reason_has("expects 10");
    ck_assert_int_eq(append(10, 1), 0);
}
END_TEST

START_TEST(test_stream_append_refused_backwards_time)
{
    seed_plain();
    ck_assert_int_eq(open_as(OWNER, STREAM), 0);
    ck_assert_int_eq(append_full(OWNER, HEIGHT, 0, 2, T0 - 3000, T0 - 1000), 0);
    ck_assert_int_eq(append_full(OWNER, HEIGHT, 2, 2, T0 - 1001, T0 - 500),
                     TDEI_STREAM_TIME);
    assert_reason_has("first_ts 1763999998999 is before the stream's last_ts "
                      "1763999999000");
    /* Equal to the last timestamp is monotonic. */
    ck_assert_int_eq(append_full(OWNER, HEIGHT, 2, 2, T0 - 1000, T0 - 500), 0);
}
END_TEST

START_TEST(test_stream_append_refused_stale)
{
    seed_plain();
    ck_assert_int_eq(open_as(OWNER, STREAM), 0);
    /* Default max_lag_ms is 60000: exactly that far behind is accepted. */
    ck_assert_int_eq(append_full(OWNER, HEIGHT, 0, 2, T0 - 60002, T0 - 60001),
                     TDEI_STREAM_STALE);
    assert_reason_has("60001 ms behind block time");
    assert_reason_has("params.max_lag_ms allows 60000");
    ck_assert_int_eq(append_full(OWNER, HEIGHT, 0, 2, T0 - 60001, T0 - 60000),
                     0);
}
END_TEST

START_TEST(test_stream_append_refused_ahead)
{
    seed_plain();
    ck_assert_int_eq(open_as(OWNER, STREAM), 0);
    /* Default max_clock_skew_ms is 5000. */
    ck_assert_int_eq(append_full(OWNER, HEIGHT, 0, 2, T0, T0 + 5001),
                     TDEI_STREAM_AHEAD);
    assert_reason_has("5001 ms ahead of block time");
    assert_reason_has("params.max_clock_skew_ms allows 5000");
    ck_assert_int_eq(append_full(OWNER, HEIGHT, 0, 2, T0, T0 + 5000), 0);
    /* A timestamp near the top of u64 must not wrap into acceptance. */
    ck_assert_int_eq(
        append_full(OWNER, HEIGHT, 2, 1, UINT64_MAX - 10, UINT64_MAX - 10),
        TDEI_STREAM_AHEAD);
}
END_TEST

/* ---- stream_append: charging --------------------------------------------- */

/* STREAM open at seq 0 with subscriptions @subs (seeded by the caller). */
static void seed_open_with(struct state *s, const uint8_t *subs, size_t n)
{
    put_stream(s, CODEC_STREAM_OPEN, 0, 0, subs, n);
    fixture_seed_end(s);
}

START_TEST(test_stream_append_charges_per_record)
{
    static const uint8_t subs[] = {0x10};
    struct state *s = seed_begin();
    uint64_t sum;
    long ev;

    put_sub(s, 0x10, "cons-a", PRICE, 100);
    seed_open_with(s, subs, 1);
    sum = total();

    ck_assert_int_eq(append(0, 10), 0);
    ck_assert_uint_eq(balance(OWNER), 1050);
    ck_assert_uint_eq(balance("cons-a"), 500);
    assert_sub(0x10, CODEC_EXCHANGE_SETTLED, 50, 10);
    assert_subs(subs, 1);
    ck_assert_uint_eq(total(), sum);
    ev = event_find("stream.appended", 0);
    ck_assert_str_eq(attr(ev, "charged", 0), "1");
    ck_assert_str_eq(attr(ev, "amount", 0), "50");
    ck_assert_str_eq(attr(ev, "ended", 0), "0");
    ev = event_find("stream.charged", 0);
    ck_assert_str_eq(attr(ev, "id", 0), STREAM);
    ck_assert_str_eq(attr(ev, "by", 0), OWNER);
    ck_assert_str_eq(attr(ev, "charge", 0), outcome(0x10, "10 50"));
    ck_assert_int_eq(event_find("stream.ended", 0), -1);
    /* Only the entry's history is touched. */
    ck_assert_uint_eq(ctx.touched_count, 1);

    /* The second batch spends the escrow exactly: nothing is left to buy
     * a record, so the subscription ends with nothing to refund. */
    ck_assert_int_eq(append(10, 10), 0);
    ck_assert_uint_eq(balance(OWNER), 1100);
    ck_assert_uint_eq(balance("cons-a"), 500);
    assert_sub(0x10, CODEC_EXCHANGE_ENDED, 0, 20);
    assert_subs(NULL, 0);
    ck_assert_str_eq(attr(event_find("stream.ended", 0), "end", 0),
                     outcome(0x10, "0 spent"));
    ck_assert_uint_eq(total(), sum);

    /* Ended: later batches charge nothing. */
    ck_assert_int_eq(append(20, 10), 0);
    ck_assert_uint_eq(balance(OWNER), 1100);
    assert_sub(0x10, CODEC_EXCHANGE_ENDED, 0, 20);
}
END_TEST

START_TEST(test_stream_append_partial_batch_ends_with_refund)
{
    static const uint8_t subs[] = {0x10};
    struct state *s = seed_begin();
    uint64_t sum;
    long ev;

    put_sub(s, 0x10, "cons-a", PRICE, 23);
    seed_open_with(s, subs, 1);
    sum = total();

    /* 23 credits buy 4 of the 10 records; the 3 left are refunded. */
    ck_assert_int_eq(append(0, 10), 0);
    ck_assert_uint_eq(balance(OWNER), 1020);
    ck_assert_uint_eq(balance("cons-a"), 503);
    assert_sub(0x10, CODEC_EXCHANGE_ENDED, 0, 4);
    assert_subs(NULL, 0);
    ck_assert_uint_eq(total(), sum);
    ev = event_find("stream.appended", 0);
    ck_assert_str_eq(attr(ev, "charged", 0), "1");
    ck_assert_str_eq(attr(ev, "amount", 0), "20");
    ck_assert_str_eq(attr(ev, "ended", 0), "1");
    ck_assert_str_eq(attr(event_find("stream.charged", 0), "charge", 0),
                     outcome(0x10, "4 20"));
    ev = event_find("stream.ended", 0);
    ck_assert_str_eq(attr(ev, "id", 0), STREAM);
    ck_assert_str_eq(attr(ev, "end", 0), outcome(0x10, "3 spent"));
}
END_TEST

START_TEST(test_stream_append_ends_expired_subscription)
{
    static const uint8_t subs[] = {0x10, 0x20};
    struct state *s = seed_begin();
    uint64_t sum;

    /* 0x10 is live through height 100 exactly; 0x20 expired at 99. */
    put_sub_full(s, 0x10, "cons-a", PRICE, 100, CODEC_EXCHANGE_SETTLED, HEIGHT,
                 0);
    put_sub_full(s, 0x20, "cons-b", PRICE, 70, CODEC_EXCHANGE_SETTLED,
                 HEIGHT - 1, 0);
    seed_open_with(s, subs, 2);
    sum = total();

    ck_assert_int_eq(append(0, 2), 0);
    ck_assert_uint_eq(balance(OWNER), 1010);
    ck_assert_uint_eq(balance("cons-a"), 500);
    ck_assert_uint_eq(balance("cons-b"), 370);
    assert_sub(0x10, CODEC_EXCHANGE_SETTLED, 90, 2);
    assert_sub(0x20, CODEC_EXCHANGE_ENDED, 0, 0);
    assert_subs(subs, 1);
    ck_assert_uint_eq(total(), sum);
    ck_assert_str_eq(attr(event_find("stream.ended", 0), "end", 0),
                     outcome(0x20, "70 expired"));
    ck_assert_ptr_null(attr(event_find("stream.charged", 0), "charge", 1));

    /* At height 101 0x10 is past its grant too: ended, 90 refunded. */
    ck_assert_int_eq(append_full(OWNER, HEIGHT + 1, 2, 2, T0 - 1000, T0 - 1000),
                     0);
    ck_assert_uint_eq(balance(OWNER), 1010);
    ck_assert_uint_eq(balance("cons-a"), 590);
    assert_subs(NULL, 0);
    ck_assert_uint_eq(total(), sum);
}
END_TEST

START_TEST(test_stream_append_ends_unsettled_subscription)
{
    static const uint8_t subs[] = {0x10};
    struct state *s = seed_begin();
    uint64_t sum;

    put_sub_full(s, 0x10, "cons-a", PRICE, 40, CODEC_EXCHANGE_DISPUTED,
                 LIVE_UNTIL, 0);
    seed_open_with(s, subs, 1);
    sum = total();

    ck_assert_int_eq(append(0, 3), 0);
    ck_assert_uint_eq(balance(OWNER), 1000);
    ck_assert_uint_eq(balance("cons-a"), 540);
    assert_sub(0x10, CODEC_EXCHANGE_ENDED, 0, 0);
    assert_subs(NULL, 0);
    ck_assert_str_eq(attr(event_find("stream.ended", 0), "end", 0),
                     outcome(0x10, "40 not_settled"));
    ck_assert_int_eq(event_find("stream.charged", 0), -1);
    ck_assert_uint_eq(total(), sum);
}
END_TEST

START_TEST(test_stream_append_free_subscription)
{
    static const uint8_t subs[] = {0x10};
    struct state *s = seed_begin();
    uint64_t sum;

    put_sub(s, 0x10, "cons-a", 0, 0);
    seed_open_with(s, subs, 1);
    sum = total();

    ck_assert_int_eq(append(0, 10), 0);
    ck_assert_int_eq(append(10, 7), 0);
    ck_assert_uint_eq(balance(OWNER), 1000);
    ck_assert_uint_eq(balance("cons-a"), 500);
    assert_sub(0x10, CODEC_EXCHANGE_SETTLED, 0, 17);
    assert_subs(subs, 1);
    ck_assert_str_eq(attr(event_find("stream.charged", 0), "charge", 0),
                     outcome(0x10, "7 0"));
    ck_assert_int_eq(event_find("stream.ended", 0), -1);
    ck_assert_uint_eq(total(), sum);
}
END_TEST

START_TEST(test_stream_append_charges_in_ascending_order)
{
    static const uint8_t subs[] = {0x05, 0x10, 0x20, 0x30};
    struct state *s = seed_begin();
    uint64_t sum;
    long ev;

    /* Seeded out of order; the Stream record lists them ascending. */
    put_sub(s, 0x30, "cons-c", 2, 100);
    put_sub(s, 0x10, "cons-a", PRICE, 12);
    put_sub(s, 0x20, "cons-b", PRICE, 200);
    put_sub(s, 0x05, "cons-a", 1, 3);
    seed_open_with(s, subs, 4);
    sum = total();

    ck_assert_int_eq(append(0, 4), 0);
    /* 0x05: 3 of 4 records, ends with 0 left; 0x10: 2 records (10), ends
     * refunding 2; 0x20: 4 records (20); 0x30: 4 records at 2 (8). */
    ck_assert_uint_eq(balance(OWNER), 1000 + 3 + 10 + 20 + 8);
    ck_assert_uint_eq(balance("cons-a"), 502);
    ck_assert_uint_eq(balance("cons-b"), 300);
    ck_assert_uint_eq(balance("cons-c"), 0);
    assert_sub(0x05, CODEC_EXCHANGE_ENDED, 0, 3);
    assert_sub(0x10, CODEC_EXCHANGE_ENDED, 0, 2);
    assert_sub(0x20, CODEC_EXCHANGE_SETTLED, 180, 4);
    assert_sub(0x30, CODEC_EXCHANGE_SETTLED, 92, 4);
    assert_subs((const uint8_t[]){0x20, 0x30}, 2);
    ck_assert_uint_eq(total(), sum);

    ev = event_find("stream.charged", 0);
    ck_assert_str_eq(attr(ev, "charge", 0), outcome(0x05, "3 3"));
    ck_assert_str_eq(attr(ev, "charge", 1), outcome(0x10, "2 10"));
    ck_assert_str_eq(attr(ev, "charge", 2), outcome(0x20, "4 20"));
    ck_assert_str_eq(attr(ev, "charge", 3), outcome(0x30, "4 8"));
    ev = event_find("stream.ended", 0);
    ck_assert_str_eq(attr(ev, "end", 0), outcome(0x05, "0 spent"));
    ck_assert_str_eq(attr(ev, "end", 1), outcome(0x10, "2 spent"));
    ck_assert_ptr_null(attr(ev, "end", 2));
    ev = event_find("stream.appended", 0);
    ck_assert_str_eq(attr(ev, "charged", 0), "4");
    ck_assert_str_eq(attr(ev, "amount", 0), "41");
    ck_assert_str_eq(attr(ev, "ended", 0), "2");
}
END_TEST

/* Set STREAM's owner to @owner, as ownership_accept would. */
static void owner_set(const char *owner)
{
    put_dataset(st, STREAM, CODEC_KIND_STREAM, CODEC_DATASET_ACTIVE, owner);
}

START_TEST(test_stream_revenue_follows_the_current_owner)
{
    static const uint8_t subs[] = {0x10};
    struct state *s = seed_begin();
    uint64_t sum;

    put_sub(s, 0x10, "cons-a", PRICE, 100);
    seed_open_with(s, subs, 1);
    sum = total();

    ck_assert_int_eq(append(0, 2), 0);
    ck_assert_uint_eq(balance(OWNER), 1010);
    owner_set("new-own");
    /* The old owner may no longer append; the new one is paid. */
    ck_assert_int_eq(append(2, 2), TDEI_NOT_OWNER);
    assert_reason_has("needs its owner new-own");
    ck_assert_int_eq(append_full("new-own", HEIGHT, 2, 4, T0, T0), 0);
    ck_assert_uint_eq(balance(OWNER), 1010);
    ck_assert_uint_eq(balance("new-own"), 30);
    ck_assert_uint_eq(balance("cons-a"), 500);
    assert_sub(0x10, CODEC_EXCHANGE_SETTLED, 70, 6);
    ck_assert_uint_eq(total(), sum);
}
END_TEST

START_TEST(test_stream_owner_that_is_a_consumer_keeps_every_credit)
{
    static const uint8_t subs[] = {0x10, 0x20};
    struct state *s = seed_begin();
    uint64_t sum;

    put_sub(s, 0x10, "cons-a", PRICE, 12);
    put_sub(s, 0x20, "cons-b", PRICE, 50);
    seed_open_with(s, subs, 2);
    sum = total();

    /* cons-a now owns the stream it subscribed to: its charge and its
     * refund both come back to it, and nothing is lost. */
    owner_set("cons-a");
    ck_assert_int_eq(append_full("cons-a", HEIGHT, 0, 3, T0, T0), 0);
    ck_assert_uint_eq(balance("cons-a"), 500 + 10 + 2 + 15);
    ck_assert_uint_eq(balance("cons-b"), 300);
    ck_assert_uint_eq(balance(OWNER), 1000);
    assert_sub(0x10, CODEC_EXCHANGE_ENDED, 0, 2);
    assert_sub(0x20, CODEC_EXCHANGE_SETTLED, 35, 3);
    ck_assert_uint_eq(total(), sum);
}
END_TEST

START_TEST(test_stream_append_refused_owner_overflow)
{
    static const uint8_t subs[] = {0x10};
    struct state *s = seed_begin();
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Account a = TDEI__ACCOUNT__INIT;

    put_sub(s, 0x10, "cons-a", PRICE, 100);
    a.balance = UINT64_MAX - 20;
    fixture_put(s, key, contract_key_account(key, OWNER), &a.base);
    seed_open_with(s, subs, 1);

    ck_assert_int_eq(append(0, 10), TDEI_OVERFLOW);
    assert_reason_has("overflow the balance of owner-co");
    /* Refused: nothing moved. */
    ck_assert_uint_eq(balance(OWNER), UINT64_MAX - 20);
    assert_sub(0x10, CODEC_EXCHANGE_SETTLED, 100, 0);
    ck_assert_uint_eq(ctx.event_count, 0);
    ck_assert_int_eq(append(0, 4), 0);
    ck_assert_uint_eq(balance(OWNER), UINT64_MAX);
}
END_TEST

START_TEST(test_stream_append_missing_exchange_is_corrupt)
{
    static const uint8_t subs[] = {0x10, 0x77};
    struct state *s = seed_begin();

    put_sub(s, 0x10, "cons-a", PRICE, 100);
    seed_open_with(s, subs, 2);
    ck_assert_int_eq(append(0, 1), TDEI_CORRUPT);
    assert_reason_has("which does not exist");
    assert_sub(0x10, CODEC_EXCHANGE_SETTLED, 100, 0);
}
END_TEST

/* ---- stream_close -------------------------------------------------------- */

START_TEST(test_stream_close_ends_every_subscription)
{
    static const uint8_t subs[] = {0x10, 0x20, 0x30};
    struct state *s = seed_begin();
    Tdei__Stream *rec;
    uint64_t sum;
    long ev;

    put_sub(s, 0x10, "cons-a", PRICE, 100);
    put_sub(s, 0x20, "cons-b", PRICE, 12);
    put_sub(s, 0x30, "cons-a", 0, 0);
    seed_open_with(s, subs, 3);
    sum = total();

    ck_assert_int_eq(append(0, 1), 0);
    ck_assert_int_eq(close_as(OWNER, STREAM), 0);
    ck_assert_uint_eq(balance(OWNER), 1010);
    ck_assert_uint_eq(balance("cons-a"), 595);
    ck_assert_uint_eq(balance("cons-b"), 307);
    assert_sub(0x10, CODEC_EXCHANGE_ENDED, 0, 1);
    assert_sub(0x20, CODEC_EXCHANGE_ENDED, 0, 1);
    assert_sub(0x30, CODEC_EXCHANGE_ENDED, 0, 1);
    ck_assert_uint_eq(total(), sum);
    rec = stream_read(STREAM);
    ck_assert_uint_eq(rec->status, CODEC_STREAM_CLOSED);
    ck_assert_uint_eq(rec->n_subscriptions, 0);
    ck_assert_uint_eq(rec->next_seq, 1);
    codec_stream_free(rec);

    ev = event_find("stream.closed", 0);
    ck_assert_str_eq(attr(ev, "id", 0), STREAM);
    ck_assert_str_eq(attr(ev, "by", 0), OWNER);
    ck_assert_str_eq(attr(ev, "ended", 0), "3");
    ck_assert_str_eq(attr(ev, "refund", 0), "102");
    ev = event_find("stream.ended", 0);
    ck_assert_str_eq(attr(ev, "end", 0), outcome(0x10, "95 closed"));
    ck_assert_str_eq(attr(ev, "end", 1), outcome(0x20, "7 closed"));
    ck_assert_str_eq(attr(ev, "end", 2), outcome(0x30, "0 closed"));
    ck_assert(touched_entry(STREAM));
    ck_assert_uint_eq(ctx.touched_count, 1);
}
END_TEST

START_TEST(test_stream_close_refusals)
{
    seed_plain();
    ck_assert_int_eq(close_as(OWNER, "no-such"), TDEI_UNKNOWN_DATASET);
    ck_assert_int_eq(close_as(OWNER, STREAM), TDEI_STREAM_STATE);
    assert_reason_has("never opened");
    ck_assert_int_eq(open_as(OWNER, STREAM), 0);
    ck_assert_int_eq(close_as("cons-b", STREAM), TDEI_NOT_OWNER);
    assert_reason_has("cons-b does not own it");
    ck_assert_int_eq(close_as(OWNER, STREAM), 0);
    ck_assert_int_eq(close_as(OWNER, STREAM), TDEI_STREAM_STATE);
    assert_reason_has("closed");
}
END_TEST

/* ---- a full stream ------------------------------------------------------- */

/* Seed CODEC_STREAM_SUBS_MAX subscriptions 0x01..0x40 of the three
 * consumers at PRICE with @esc each, @largest as put_sub_full. */
static void seed_full(uint64_t esc, int largest)
{
    static const char *const cons[] = {"cons-a", "cons-b", "cons-c"};
    uint8_t subs[CODEC_STREAM_SUBS_MAX];
    struct state *s = seed_begin();

    for (uint8_t i = 0; i < CODEC_STREAM_SUBS_MAX; i++) {
        subs[i] = (uint8_t)(i + 1);
        put_sub_full(s, subs[i], cons[i % 3], PRICE, esc,
                     CODEC_EXCHANGE_SETTLED, LIVE_UNTIL, largest);
    }
    seed_open_with(s, subs, CODEC_STREAM_SUBS_MAX);
}

/* Assert the last tx stayed inside the budget stream.c's header works
 * out for a full stream: at most 392 state operations and 7 events. */
static void assert_budget(void)
{
    ck_assert_uint_le(CONTRACT_STEPS_MAX - ctx.steps_left, 392);
    ck_assert_uint_le(ctx.event_count, 7);
    ck_assert_uint_le(ctx.attr_count, CONTRACT_ATTRS_TOTAL_MAX);
}

START_TEST(test_stream_full_stream_charges_every_subscription)
{
    uint64_t sum;
    size_t n = 0;

    seed_full(1000, 0);
    sum = total();
    ck_assert_int_eq(append(0, 10), 0);
    assert_budget();
    ck_assert_uint_eq(balance(OWNER), 1000 + 64 * 50);
    for (uint8_t i = 1; i <= CODEC_STREAM_SUBS_MAX; i++) {
        assert_sub(i, CODEC_EXCHANGE_SETTLED, 950, 10);
    }
    for (size_t e = 0; event_find("stream.charged", e) >= 0; e++) {
        long ev = event_find("stream.charged", e);
        for (size_t k = 0; attr(ev, "charge", k) != NULL; k++) {
            ck_assert_str_eq(attr(ev, "charge", k),
                             outcome((uint8_t)(n + 1), "10 50"));
            n++;
        }
    }
    ck_assert_uint_eq(n, CODEC_STREAM_SUBS_MAX);
    ck_assert_uint_eq(total(), sum);

    ck_assert_int_eq(close_as(OWNER, STREAM), 0);
    assert_budget();
    ck_assert_uint_eq(balance(OWNER), 1000 + 64 * 50);
    ck_assert_uint_eq(total(), sum);
    for (uint8_t i = 1; i <= CODEC_STREAM_SUBS_MAX; i++) {
        assert_sub(i, CODEC_EXCHANGE_ENDED, 0, 10);
    }
}
END_TEST

START_TEST(test_stream_full_stream_at_largest_records_fits_budget)
{
    uint64_t sum;

    /* Every subscription charged and ended in one append, with the
     * longest purpose: the most events, steps and bytes an append can
     * take, with every exchange record at its largest. 53 credits buy 10
     * records, 3 are refunded. */
    seed_full(53, 1);
    sum = total();
    ck_assert_int_eq(append(0, 10), 0);
    assert_budget();
    ck_assert_uint_eq(balance(OWNER), 1000 + 64 * 50);
    ck_assert_str_eq(attr(event_find("stream.appended", 0), "ended", 0), "64");
    ck_assert_str_eq(attr(event_find("stream.ended", 2), "end", 3),
                     outcome(0x40, "3 spent"));
    assert_subs(NULL, 0);
    ck_assert_uint_eq(total(), sum);
}
END_TEST

/* ---- codec --------------------------------------------------------------- */

static int decode(Tdei__TxBody *body)
{
    static uint8_t key32[32] = {1};
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__TxBody *out;
    uint8_t *buf;
    size_t len;
    int rc;

    body->version = 1;
    body->chain_id = (char *)"test-chain";
    body->signer = (ProtobufCBinaryData){32, key32};
    body->nonce = 1;
    ck_assert_int_eq(codec_encode(&body->base, &buf, &len), 0);
    rc = codec_txbody_decode(&out, buf, len, errmsg);
    tdei_free(buf);
    if (rc == 0) {
        codec_txbody_free(out);
    }
    return rc;
}

START_TEST(test_stream_codec_checks_append)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__StreamAppend op = TDEI__STREAM_APPEND__INIT;

    seed_plain();
    body.op_case = TDEI__TX_BODY__OP_STREAM_APPEND;
    body.stream_append = &op;
    op.id = (char *)STREAM;
    op.count = 2;
    op.first_ts = 1;
    op.last_ts = 2;
    op.batch_root = (ProtobufCBinaryData){32, batch_root};
    ck_assert_int_eq(decode(&body), 0);
    op.count = 0;
    ck_assert_int_eq(decode(&body), TDEI_MALFORMED);
    op.count = 2;
    op.first_ts = 3;
    ck_assert_int_eq(decode(&body), TDEI_MALFORMED);
    op.first_ts = 1;
    op.seq_first = UINT64_MAX;
    ck_assert_int_eq(decode(&body), TDEI_MALFORMED);
    op.seq_first = 0;
    op.batch_root.len = 31;
    ck_assert_int_eq(decode(&body), TDEI_MALFORMED);
}
END_TEST

static Suite *stream_suite(void)
{
    Suite *s = suite_create("stream");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"open", test_stream_open_writes_an_open_stream},
        {"open_refusals", test_stream_open_refusals},
        {"never_reopens", test_stream_closed_never_reopens},
        {"append", test_stream_append_advances_the_stream},
        {"append_not_open", test_stream_append_refused_not_open},
        {"append_not_owner", test_stream_append_refused_not_owner},
        {"append_too_big", test_stream_append_refused_too_big},
        {"append_seq", test_stream_append_refused_wrong_seq},
        {"append_time", test_stream_append_refused_backwards_time},
        {"append_stale", test_stream_append_refused_stale},
        {"append_ahead", test_stream_append_refused_ahead},
        {"charge", test_stream_append_charges_per_record},
        {"partial", test_stream_append_partial_batch_ends_with_refund},
        {"expired", test_stream_append_ends_expired_subscription},
        {"unsettled", test_stream_append_ends_unsettled_subscription},
        {"free", test_stream_append_free_subscription},
        {"order", test_stream_append_charges_in_ascending_order},
        {"current_owner", test_stream_revenue_follows_the_current_owner},
        {"owner_consumer",
         test_stream_owner_that_is_a_consumer_keeps_every_credit},
        {"overflow", test_stream_append_refused_owner_overflow},
        {"corrupt", test_stream_append_missing_exchange_is_corrupt},
        {"close", test_stream_close_ends_every_subscription},
        {"close_refusals", test_stream_close_refusals},
        {"full", test_stream_full_stream_charges_every_subscription},
        {"full_largest",
         test_stream_full_stream_at_largest_records_fits_budget},
        {"codec", test_stream_codec_checks_append},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(stream_suite()); }
