/* Tests of the exchange contract, run over the in-memory state: request
 * with the approvals of each level and class, reject, deliver, confirm,
 * dispute and resolve, grant revocation, per_record stream subscriptions
 * and the deadlines processed at block begin. Each rule's success and each
 * refusal code with its reason; exact balances and escrows after every
 * step, and the conservation of credits (balances plus escrows). Catalog
 * entries are seeded as records (the catalog contract is not used). */
#include "contract_fixture.h"
#include "testutil.h"

#include "contracts/contract.h"
#include "contracts/params.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "exec/state.h"

#include <string.h>

static struct contract_ctx ctx;
static const uint8_t signer[32] = {0x01};

#define st fixture_st

/* Every member starts with this much; nothing is minted in these tests. */
#define START 1000u
#define MEMBERS 5u
#define TOTAL (MEMBERS * START)

static const char *const members[MEMBERS] = {
    "pub-svc", "acme-steel", "beta-works", "gamma-co", "audit-co"};

/* Content roots: the dataset's, and another. */
static uint8_t root_ok[32];
static uint8_t root_bad[32];

/* ---- fixture ------------------------------------------------------------- */

struct ds_def
{
    const char *id;
    uint32_t kind;
    uint32_t level;
    uint32_t data_class;
    uint32_t model;
    uint64_t amount;
    uint64_t period;
    uint32_t status;
};

/* Every entry is owned (and published) by acme-steel. */
static const struct ds_def datasets[] = {
    {"ds-l1", CODEC_KIND_DATASET, 1, CODEC_CLASS_GENERAL, CODEC_PRICE_ONE_TIME,
     100, 0, CODEC_DATASET_ACTIVE},
    {"ds-l2", CODEC_KIND_DATASET, 2, CODEC_CLASS_IMPORTANT,
     CODEC_PRICE_ONE_TIME, 200, 0, CODEC_DATASET_ACTIVE},
    {"ds-l3", CODEC_KIND_DATASET, 3, CODEC_CLASS_IMPORTANT,
     CODEC_PRICE_ONE_TIME, 300, 0, CODEC_DATASET_ACTIVE},
    {"ds-core", CODEC_KIND_DATASET, 3, CODEC_CLASS_CORE, CODEC_PRICE_ONE_TIME,
     400, 0, CODEC_DATASET_ACTIVE},
    {"ds-sub", CODEC_KIND_DATASET, 1, CODEC_CLASS_GENERAL,
     CODEC_PRICE_SUBSCRIPTION, 50, 1000, CODEC_DATASET_ACTIVE},
    {"ds-sub-long", CODEC_KIND_DATASET, 3, CODEC_CLASS_IMPORTANT,
     CODEC_PRICE_SUBSCRIPTION, 60, 8u * 86400u, CODEC_DATASET_ACTIVE},
    {"ds-dear", CODEC_KIND_DATASET, 1, CODEC_CLASS_GENERAL,
     CODEC_PRICE_ONE_TIME, 2000, 0, CODEC_DATASET_ACTIVE},
    {"ds-gone", CODEC_KIND_DATASET, 1, CODEC_CLASS_GENERAL,
     CODEC_PRICE_ONE_TIME, 100, 0, CODEC_DATASET_WITHDRAWN},
    {"ds-free", CODEC_KIND_DATASET, 1, CODEC_CLASS_GENERAL,
     CODEC_PRICE_ONE_TIME, 0, 0, CODEC_DATASET_ACTIVE},
    {"st-rec", CODEC_KIND_STREAM, 1, CODEC_CLASS_GENERAL,
     CODEC_PRICE_PER_RECORD, 2, 0, CODEC_DATASET_ACTIVE},
    {"st-sub", CODEC_KIND_STREAM, 1, CODEC_CLASS_GENERAL,
     CODEC_PRICE_SUBSCRIPTION, 30, 500, CODEC_DATASET_ACTIVE},
    {"st-shut", CODEC_KIND_STREAM, 1, CODEC_CLASS_GENERAL,
     CODEC_PRICE_PER_RECORD, 2, 0, CODEC_DATASET_ACTIVE},
    {"st-full", CODEC_KIND_STREAM, 1, CODEC_CLASS_GENERAL,
     CODEC_PRICE_PER_RECORD, 2, 0, CODEC_DATASET_ACTIVE},
    {"st-none", CODEC_KIND_STREAM, 1, CODEC_CLASS_GENERAL,
     CODEC_PRICE_PER_RECORD, 2, 0, CODEC_DATASET_ACTIVE},
};

#define DATASETS (sizeof(datasets) / sizeof(datasets[0]))

static const struct ds_def *ds_find(const char *id)
{
    for (size_t i = 0; i < DATASETS; i++) {
        if (strcmp(datasets[i].id, id) == 0) {
            return &datasets[i];
        }
    }
    ck_abort_msg("no dataset %s", id);
    return NULL;
}

/* Put entry @def into @s, owned by @owner. */
static void dataset_put(struct state *s, const struct ds_def *def,
                        const char *owner)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Dataset d = TDEI__DATASET__INIT;
    Tdei__PriceTerms price = TDEI__PRICE_TERMS__INIT;

    price.model = def->model;
    price.amount = def->amount;
    price.period = def->period;
    d.id = (char *)(uintptr_t)def->id;
    d.kind = def->kind;
    d.title = (char *)"An entry";
    d.domain = CODEC_DOMAIN_PRODUCTION;
    d.level = def->level;
    d.data_class = def->data_class;
    d.price = &price;
    if (def->kind == CODEC_KIND_DATASET) {
        d.content_root = (ProtobufCBinaryData){32, root_ok};
        d.size = 4096;
    }
    d.owner = (char *)(uintptr_t)owner;
    d.publisher = (char *)"acme-steel";
    d.version = 1;
    d.status = def->status;
    d.created_height = 1;
    d.updated_height = 1;
    fixture_put(s, key, contract_key_dataset(key, def->id), &d.base);
}

static void stream_put(struct state *s, const char *id, uint32_t status,
                       size_t subs)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t ids[CODEC_STREAM_SUBS_MAX][32];
    ProtobufCBinaryData list[CODEC_STREAM_SUBS_MAX];
    Tdei__Stream rec = TDEI__STREAM__INIT;

    ck_assert_uint_le(subs, CODEC_STREAM_SUBS_MAX);
    for (size_t i = 0; i < subs; i++) {
        memset(ids[i], 0, 32);
        ids[i][0] = 0xee; /* above every exchange id of these tests */
        ids[i][1] = (uint8_t)i;
        list[i] = (ProtobufCBinaryData){32, ids[i]};
    }
    rec.id = (char *)(uintptr_t)id;
    rec.status = status;
    rec.n_subscriptions = subs;
    rec.subscriptions = subs > 0 ? list : NULL;
    fixture_put(s, key, contract_key_stream(key, id), &rec.base);
}

/* Seed the ledger with params @p. */
static void seed_with(const Tdei__Params *p)
{
    struct state *s = fixture_seed_begin();

    memset(root_ok, 0xa1, sizeof(root_ok));
    memset(root_bad, 0xb2, sizeof(root_bad));
    fixture_member(s, "pub-svc", TDEI_ROLE_PUBLIC_SERVICE, CODEC_MEMBER_ACTIVE,
                   1, START);
    fixture_member(s, "acme-steel", TDEI_ROLE_MANUFACTURER, CODEC_MEMBER_ACTIVE,
                   2, START);
    fixture_member(s, "beta-works", TDEI_ROLE_PLATFORM, CODEC_MEMBER_ACTIVE, 3,
                   START);
    fixture_member(s, "gamma-co", TDEI_ROLE_MANUFACTURER, CODEC_MEMBER_ACTIVE,
                   4, START);
    fixture_member(s, "audit-co", TDEI_ROLE_AUDITOR, CODEC_MEMBER_ACTIVE, 5,
                   START);
    for (size_t i = 0; i < DATASETS; i++) {
        dataset_put(s, &datasets[i], "acme-steel");
    }
    stream_put(s, "st-rec", CODEC_STREAM_OPEN, 0);
    stream_put(s, "st-sub", CODEC_STREAM_OPEN, 0);
    stream_put(s, "st-shut", CODEC_STREAM_CLOSED, 0);
    stream_put(s, "st-full", CODEC_STREAM_OPEN, CODEC_STREAM_SUBS_MAX);
    fixture_params_put(s, p);
    fixture_seed_end(s);
}

static void seed(void)
{
    struct params_storage p;

    fixture_params_default(&p);
    seed_with(&p.params);
}

/* Seed with default params but param @name = @value. */
static void seed_param(const char *name, uint64_t value)
{
    struct params_storage p;

    fixture_params_default(&p);
    ck_assert_int_eq(params_set(&p.params, params_find(name), value), 0);
    seed_with(&p.params);
}

/* ---- helpers ------------------------------------------------------------- */

static uint8_t tx_id[32];

static enum tdei_role role_of(const char *member)
{
    if (strcmp(member, "pub-svc") == 0) {
        return TDEI_ROLE_PUBLIC_SERVICE;
    }
    if (strcmp(member, "audit-co") == 0) {
        return TDEI_ROLE_AUDITOR;
    }
    if (strcmp(member, "beta-works") == 0) {
        return TDEI_ROLE_PLATFORM;
    }
    return TDEI_ROLE_MANUFACTURER;
}

/* The exchange id of tag @xb: the request tx id (xb, 0, 0, ...). */
static void xid_of(uint8_t out[32], uint8_t xb)
{
    memset(out, 0, 32);
    out[0] = xb;
}

/* Start a tx of @member at @height; the tx id is (@id_byte, 1, 0, ...),
 * or with @id_byte's id exactly when @request (the exchange id). */
static void begin(const char *member, uint8_t id_byte, int request,
                  uint64_t height)
{
    struct contract_env env = {
        .ops = &state_contract_ops,
        .state = st,
        .signer = signer,
        .member = member,
        .role = role_of(member),
        .height = height,
        .time_ms = 1764000000000ull,
        .tx_id = tx_id,
        .chain_id = "test-chain",
    };

    xid_of(tx_id, id_byte);
    tx_id[1] = request ? 0 : 1;
    contract_ctx_begin(&ctx, &env);
}

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

static int request_full(const char *by, uint8_t xb, uint64_t height,
                        const char *id, uint64_t price, const char *purpose,
                        uint64_t grant_ttl, uint64_t budget)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeRequest op = TDEI__EXCHANGE_REQUEST__INIT;

    begin(by, xb, 1, height);
    op.id = (char *)(uintptr_t)id;
    op.price = price;
    op.purpose = (char *)(uintptr_t)purpose;
    op.grant_ttl = grant_ttl;
    op.budget = budget;
    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_REQUEST;
    body.exchange_request = &op;
    return run(&body);
}

/* A request at the catalog price, with a purpose, the longest grant. */
static int request(const char *by, uint8_t xb, uint64_t height, const char *id)
{
    return request_full(by, xb, height, id, ds_find(id)->amount,
                        "quality study", 0, 0);
}

/* One of the ops that name an exchange. */
enum xop {
    APPROVE,
    REJECT,
    CONFIRM,
    DISPUTE,
    RESOLVE_REFUND,
    RESOLVE_PAY,
    REVOKE
};

static int xop(enum xop kind, const char *by, uint8_t xb, uint64_t height,
               const char *note)
{
    uint8_t id[32];
    ProtobufCBinaryData xid = {32, id};
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeApprove a = TDEI__EXCHANGE_APPROVE__INIT;
    Tdei__ExchangeReject r = TDEI__EXCHANGE_REJECT__INIT;
    Tdei__ExchangeConfirm c = TDEI__EXCHANGE_CONFIRM__INIT;
    Tdei__ExchangeDispute d = TDEI__EXCHANGE_DISPUTE__INIT;
    Tdei__ExchangeResolve v = TDEI__EXCHANGE_RESOLVE__INIT;
    Tdei__GrantRevoke g = TDEI__GRANT_REVOKE__INIT;
    char *text = (char *)(uintptr_t)(note != NULL ? note : "");

    xid_of(id, xb);
    begin(by, xb, 0, height);
    switch (kind) {
    case APPROVE:
        a.exchange = xid;
        body.op_case = TDEI__TX_BODY__OP_EXCHANGE_APPROVE;
        body.exchange_approve = &a;
        break;
    case REJECT:
        r.exchange = xid;
        r.reason = text;
        body.op_case = TDEI__TX_BODY__OP_EXCHANGE_REJECT;
        body.exchange_reject = &r;
        break;
    case CONFIRM:
        c.exchange = xid;
        body.op_case = TDEI__TX_BODY__OP_EXCHANGE_CONFIRM;
        body.exchange_confirm = &c;
        break;
    case DISPUTE:
        d.exchange = xid;
        d.reason = text;
        body.op_case = TDEI__TX_BODY__OP_EXCHANGE_DISPUTE;
        body.exchange_dispute = &d;
        break;
    case RESOLVE_REFUND:
    case RESOLVE_PAY:
        v.exchange = xid;
        v.refund = kind == RESOLVE_REFUND;
        v.reason = text;
        body.op_case = TDEI__TX_BODY__OP_EXCHANGE_RESOLVE;
        body.exchange_resolve = &v;
        break;
    case REVOKE:
        g.exchange = xid;
        g.reason = text;
        body.op_case = TDEI__TX_BODY__OP_GRANT_REVOKE;
        body.grant_revoke = &g;
        break;
    }
    return run(&body);
}

static int approve(const char *by, uint8_t xb, uint64_t height)
{
    return xop(APPROVE, by, xb, height, NULL);
}

static int confirm(const char *by, uint8_t xb, uint64_t height)
{
    return xop(CONFIRM, by, xb, height, NULL);
}

static int revoke(const char *by, uint8_t xb, uint64_t height)
{
    return xop(REVOKE, by, xb, height, NULL);
}

/* Deliver @xb by @by with content root @root (NULL: empty). */
static int deliver(const char *by, uint8_t xb, uint64_t height,
                   const uint8_t *root)
{
    uint8_t id[32];
    uint8_t sealed[CODEC_SEALED_KEY_SIZE];
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeDeliver op = TDEI__EXCHANGE_DELIVER__INIT;

    xid_of(id, xb);
    memset(sealed, 0x5e, sizeof(sealed));
    begin(by, xb, 0, height);
    op.exchange = (ProtobufCBinaryData){32, id};
    op.sealed_key = (ProtobufCBinaryData){sizeof(sealed), sealed};
    if (root != NULL) {
        op.content_root = (ProtobufCBinaryData){32, (uint8_t *)root};
    }
    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_DELIVER;
    body.exchange_deliver = &op;
    return run(&body);
}

/* Run the deadlines of block @height as execution does. */
static int block_begin(uint64_t height)
{
    int rc;

    contract_ctx_begin_block(&ctx, &state_contract_ops, st, height,
                             1764000000000ull);
    state_tx_begin(st);
    rc = contract_block_begin(&ctx);
    if (rc == 0) {
        state_tx_commit(st);
    } else {
        state_tx_rollback(st);
    }
    ck_assert_uint_eq(ctx.touched_count, 0);
    ck_assert_uint_eq(ctx.event_count, 0);
    return rc;
}

/* The exchange of @xb (the caller frees), or NULL. */
static Tdei__Exchange *xget(uint8_t xb)
{
    uint8_t id[32];
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[CODEC_EXCHANGE_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Exchange *x;
    size_t vlen;

    xid_of(id, xb);
    if (state_get_copy(st, key, contract_key_exchange(key, id), val,
                       sizeof(val), &vlen) != 0) {
        return NULL;
    }
    ck_assert_msg(codec_exchange_decode(&x, val, vlen, errmsg) == 0, "%s",
                  errmsg);
    return x;
}

static uint32_t xstatus(uint8_t xb)
{
    Tdei__Exchange *x = xget(xb);
    uint32_t status;

    ck_assert_ptr_nonnull(x);
    status = x->status;
    codec_exchange_free(x);
    return status;
}

static uint64_t account_at(const uint8_t *key, size_t klen)
{
    uint8_t val[CODEC_ACCOUNT_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Account *a;
    size_t vlen;
    uint64_t balance;

    if (state_get_copy(st, key, klen, val, sizeof(val), &vlen) != 0) {
        return 0;
    }
    ck_assert_int_eq(codec_account_decode(&a, val, vlen, errmsg), 0);
    balance = a->balance;
    codec_account_free(a);
    return balance;
}

static uint64_t bal(const char *member)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    return account_at(key, contract_key_account(key, member));
}

/* The escrow account of @xb, checked against the exchange's figure. */
static uint64_t escrow(uint8_t xb)
{
    uint8_t id[32];
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Exchange *x = xget(xb);
    uint64_t held;

    xid_of(id, xb);
    held = account_at(key, contract_key_escrow(key, id));
    if (x != NULL) {
        ck_assert_uint_eq(x->escrow, held);
        codec_exchange_free(x);
    }
    return held;
}

/* Balances plus escrows (every exchange tag of these tests) never
 * change. */
static void conserved(void)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < MEMBERS; i++) {
        sum += bal(members[i]);
    }
    for (unsigned xb = 0; xb < 0x100; xb++) {
        sum += escrow((uint8_t)xb);
    }
    ck_assert_uint_eq(sum, TOTAL);
}

/* The ids of page @page of the due list of @height: their tags in @tags,
 * the count returned (and the page count in *pages when not NULL); -1
 * when there is no such page. */
static int due_page_tags(uint64_t height, uint32_t page, uint8_t *tags,
                         size_t cap, uint32_t *pages)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    const uint8_t *val;
    Tdei__DueList *list;
    size_t vlen;
    int n;

    if (state_get(st, key, contract_key_due(key, height, page), &val, &vlen) !=
        0) {
        return -1;
    }
    ck_assert_int_eq(codec_due_list_decode(&list, val, vlen, errmsg), 0);
    n = (int)list->n_exchanges;
    for (size_t i = 0; i < list->n_exchanges && i < cap; i++) {
        tags[i] = list->exchanges[i].data[0];
    }
    if (pages != NULL) {
        *pages = list->pages;
    }
    codec_due_list_free(list);
    return n;
}

/* The ids of the first page of the due list of @height. */
static int due_tags(uint64_t height, uint8_t *tags, size_t cap)
{
    return due_page_tags(height, 0, tags, cap, NULL);
}

/* The grant of @member on @id: its exchange tag, or -1 when none. */
static int grant_tag(const char *id, const char *member)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[CODEC_GRANT_REF_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__GrantRef *g;
    size_t vlen;
    int tag;

    if (state_get_copy(st, key, contract_key_grant(key, id, member), val,
                       sizeof(val), &vlen) != 0) {
        return -1;
    }
    ck_assert_int_eq(codec_grant_ref_decode(&g, val, vlen, errmsg), 0);
    tag = g->exchange.data[0];
    codec_grant_ref_free(g);
    return tag;
}

/* The subscriptions of stream @id, as tags. */
static size_t stream_subs(const char *id, uint8_t *tags, size_t cap)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    const uint8_t *val;
    Tdei__Stream *s;
    size_t vlen;
    size_t n;

    ck_assert_int_eq(
        state_get(st, key, contract_key_stream(key, id), &val, &vlen), 0);
    ck_assert_int_eq(codec_stream_decode(&s, val, vlen, errmsg), 0);
    n = s->n_subscriptions;
    for (size_t i = 0; i < n && i < cap; i++) {
        tags[i] = s->subscriptions[i].data[0];
    }
    codec_stream_free(s);
    return n;
}

/* Make @owner the owner of entry @id (as an ownership transfer would). */
static void owner_set(const char *id, const char *owner)
{
    dataset_put(st, ds_find(id), owner);
}

/* The value of attribute @key of event @e of the last tx, or NULL. */
static const char *attr(size_t e, const char *key)
{
    const struct contract_event *ev;

    ck_assert_uint_lt(e, ctx.event_count);
    ev = &ctx.events[e];
    for (size_t i = 0; i < ev->attr_count; i++) {
        const struct contract_attr *a = &ctx.attrs[ev->attr_first + i];
        if (strcmp(ctx.arena + a->key, key) == 0) {
            return ctx.arena + a->value;
        }
    }
    return NULL;
}

static const char *event_type(size_t e)
{
    ck_assert_uint_lt(e, ctx.event_count);
    return ctx.arena + ctx.events[e].type;
}

/* ---- request and approvals ----------------------------------------------- */

/* Level 1: approved at request; deliver; confirm pays the owner and makes
 * the grant live. */
START_TEST(test_exchange_level1_auto_approved_delivered_confirmed)
{
    uint8_t tags[4];
    Tdei__Exchange *x;

    seed();
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l1"), 0);
    ck_assert_str_eq(event_type(0), "exchange.requested");
    ck_assert_str_eq(attr(0, "dataset"), "ds-l1");
    ck_assert_str_eq(attr(0, "by"), "beta-works");
    ck_assert_str_eq(attr(0, "status"), "approved");
    ck_assert_str_eq(attr(0, "escrow"), "100");
    ck_assert_str_eq(attr(0, "id"), "1000000000000000000000000000000000000000"
                                    "000000000000000000000000");
    /* Touched: the signer, the entry, the new exchange. */
    ck_assert_uint_eq(ctx.touched_count, 3);
    ck_assert(memcmp(ctx.touched[0].key, "member/beta-works", 17) == 0);
    ck_assert(memcmp(ctx.touched[1].key, "dataset/ds-l1", 13) == 0);
    ck_assert(memcmp(ctx.touched[2].key, "exchange/\x10", 10) == 0);
    ck_assert_uint_eq(bal("beta-works"), 900);
    ck_assert_uint_eq(escrow(0x10), 100);
    ck_assert_uint_eq(bal("acme-steel"), 1000);
    conserved();
    x = xget(0x10);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_APPROVED);
    ck_assert_uint_eq(x->deadline, 10 + 7200);
    ck_assert_uint_eq(x->grant_ttl, 31536000);
    ck_assert_uint_eq(x->version, 1);
    ck_assert(memcmp(x->content_root.data, root_ok, 32) == 0);
    ck_assert_str_eq(x->consumer, "beta-works");
    ck_assert_str_eq(x->owner, "acme-steel");
    ck_assert_int_eq(x->need_owner, 0);
    ck_assert_int_eq(x->need_regulator, 0);
    codec_exchange_free(x);
    ck_assert_int_eq(due_tags(10 + 7200 + 1, tags, 4), 1);
    ck_assert_uint_eq(tags[0], 0x10);

    ck_assert_int_eq(deliver("acme-steel", 0x10, 11, root_ok), 0);
    ck_assert_str_eq(event_type(0), "exchange.delivered");
    x = xget(0x10);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_DELIVERED);
    ck_assert_uint_eq(x->deadline, 11 + 7200);
    ck_assert_uint_eq(x->delivered_height, 11);
    ck_assert_uint_eq(x->sealed_key.len, CODEC_SEALED_KEY_SIZE);
    ck_assert(memcmp(x->delivered_root.data, root_ok, 32) == 0);
    codec_exchange_free(x);
    ck_assert_int_eq(due_tags(11 + 7200 + 1, tags, 4), 1);
    ck_assert_uint_eq(escrow(0x10), 100);
    conserved();

    ck_assert_int_eq(confirm("beta-works", 0x10, 12), 0);
    ck_assert_str_eq(event_type(0), "exchange.settled");
    ck_assert_str_eq(attr(0, "owner"), "acme-steel");
    ck_assert_str_eq(attr(0, "amount"), "100");
    ck_assert_uint_eq(bal("acme-steel"), 1100);
    ck_assert_uint_eq(bal("beta-works"), 900);
    ck_assert_uint_eq(escrow(0x10), 0);
    conserved();
    x = xget(0x10);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_SETTLED);
    ck_assert_uint_eq(x->settled_height, 12);
    ck_assert_uint_eq(x->grant_expires, 12 + 31536000);
    ck_assert_uint_eq(x->deadline, 0);
    codec_exchange_free(x);
    ck_assert_int_eq(grant_tag("ds-l1", "beta-works"), 0x10);

    /* Confirming twice: no longer delivered. */
    ck_assert_int_eq(confirm("beta-works", 0x10, 13), TDEI_EXCHANGE_STATE);
    ck_assert_str_eq(ctx.reason, "exchange_confirm: exchange 1000000000000000"
                                 "... is settled; this step needs it "
                                 "delivered");
}
END_TEST

/* Level 2: the owner's approval; nobody else can give it. */
START_TEST(test_exchange_level2_needs_the_owner)
{
    seed();
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l2"), 0);
    ck_assert_str_eq(attr(0, "status"), "requested");
    ck_assert_uint_eq(xstatus(0x10), CODEC_EXCHANGE_REQUESTED);
    ck_assert_uint_eq(bal("beta-works"), 800);
    ck_assert_uint_eq(escrow(0x10), 200);
    conserved();
    {
        Tdei__Exchange *x = xget(0x10);
        ck_assert_uint_eq(x->deadline, 10 + 7200);
        ck_assert_int_eq(x->need_owner, 1);
        ck_assert_int_eq(x->need_regulator, 0);
        codec_exchange_free(x);
    }
    ck_assert_int_eq(approve("gamma-co", 0x10, 11), TDEI_NOT_PARTY);
    ck_assert_str_eq(ctx.reason,
                     "level 2 needs the owner's approval (acme-steel); 0 of "
                     "1 approvals present; gamma-co cannot give it");
    ck_assert_int_eq(approve("pub-svc", 0x10, 11), TDEI_NOT_PARTY);
    ck_assert_int_eq(approve("beta-works", 0x10, 11), TDEI_NOT_PARTY);
    ck_assert_uint_eq(xstatus(0x10), CODEC_EXCHANGE_REQUESTED);

    ck_assert_int_eq(approve("acme-steel", 0x10, 12), 0);
    ck_assert_str_eq(event_type(0), "exchange.approved");
    ck_assert_str_eq(attr(0, "approvals"), "1 of 1");
    ck_assert_str_eq(attr(0, "status"), "approved");
    {
        Tdei__Exchange *x = xget(0x10);
        ck_assert_uint_eq(x->status, CODEC_EXCHANGE_APPROVED);
        ck_assert_str_eq(x->owner_approval, "acme-steel");
        ck_assert_str_eq(x->regulator_approval, "");
        ck_assert_uint_eq(x->deadline, 12 + 7200);
        codec_exchange_free(x);
    }
    ck_assert_int_eq(approve("acme-steel", 0x10, 13), TDEI_EXCHANGE_STATE);
    ck_assert_uint_eq(escrow(0x10), 200);
    conserved();
}
END_TEST

/* Level 3: owner and regulator, in either order. */
START_TEST(test_exchange_level3_owner_then_regulator)
{
    seed();
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l3"), 0);
    ck_assert_int_eq(approve("acme-steel", 0x10, 11), 0);
    ck_assert_str_eq(attr(0, "approvals"), "1 of 2");
    ck_assert_str_eq(attr(0, "status"), "requested");
    ck_assert_uint_eq(xstatus(0x10), CODEC_EXCHANGE_REQUESTED);
    /* The owner cannot give the regulator's approval too. */
    ck_assert_int_eq(approve("acme-steel", 0x10, 11), TDEI_NOT_PARTY);
    ck_assert_int_eq(approve("beta-works", 0x10, 11), TDEI_NOT_PARTY);
    ck_assert_str_eq(ctx.reason,
                     "level 3 needs the regulator's approval (a "
                     "public_service member); 1 of 2 approvals present; "
                     "beta-works cannot give it");
    ck_assert_int_eq(approve("pub-svc", 0x10, 12), 0);
    ck_assert_str_eq(attr(0, "approvals"), "2 of 2");
    {
        Tdei__Exchange *x = xget(0x10);
        ck_assert_uint_eq(x->status, CODEC_EXCHANGE_APPROVED);
        ck_assert_str_eq(x->owner_approval, "acme-steel");
        ck_assert_str_eq(x->regulator_approval, "pub-svc");
        ck_assert_uint_eq(x->deadline, 12 + 7200);
        codec_exchange_free(x);
    }
    ck_assert_uint_eq(bal("beta-works"), 700);
    ck_assert_uint_eq(escrow(0x10), 300);
    conserved();
}
END_TEST

START_TEST(test_exchange_level3_regulator_then_owner)
{
    seed();
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l3"), 0);
    ck_assert_int_eq(approve("gamma-co", 0x10, 11), TDEI_NOT_PARTY);
    ck_assert_str_eq(ctx.reason,
                     "level 3 needs the owner's approval (acme-steel) and "
                     "the regulator's approval (a public_service member); 0 "
                     "of 2 approvals present; gamma-co cannot give it");
    ck_assert_int_eq(approve("pub-svc", 0x10, 11), 0);
    ck_assert_str_eq(attr(0, "approvals"), "1 of 2");
    ck_assert_int_eq(approve("pub-svc", 0x10, 11), TDEI_NOT_PARTY);
    ck_assert_str_eq(ctx.reason,
                     "level 3 needs the owner's approval (acme-steel); 1 of "
                     "2 approvals present; pub-svc cannot give it");
    ck_assert_uint_eq(xstatus(0x10), CODEC_EXCHANGE_REQUESTED);
    ck_assert_int_eq(approve("acme-steel", 0x10, 12), 0);
    ck_assert_str_eq(attr(0, "approvals"), "2 of 2");
    ck_assert_uint_eq(xstatus(0x10), CODEC_EXCHANGE_APPROVED);
    conserved();
}
END_TEST

/* A public_service member that requested the data cannot be the
 * regulator of its own request. */
START_TEST(test_exchange_regulator_not_its_own_consumer)
{
    seed();
    ck_assert_int_eq(request("pub-svc", 0x10, 10, "ds-l3"), 0);
    ck_assert_int_eq(approve("acme-steel", 0x10, 11), 0);
    ck_assert_int_eq(approve("pub-svc", 0x10, 12), TDEI_NOT_PARTY);
    ck_assert_str_eq(ctx.reason,
                     "exchange_approve: pub-svc requested this exchange; the "
                     "regulator's approval must come from another "
                     "public_service member");
    ck_assert_uint_eq(xstatus(0x10), CODEC_EXCHANGE_REQUESTED);
    conserved();
}
END_TEST

/* Class core needs the regulator whatever the level's policy says; with
 * level 3 set to auto, an important entry needs nobody. */
START_TEST(test_exchange_core_always_needs_the_regulator)
{
    seed_param("level3.approval", PARAMS_APPROVAL_AUTO);
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l3"), 0);
    ck_assert_uint_eq(xstatus(0x10), CODEC_EXCHANGE_APPROVED);
    ck_assert_int_eq(request("beta-works", 0x11, 10, "ds-core"), 0);
    ck_assert_uint_eq(xstatus(0x11), CODEC_EXCHANGE_REQUESTED);
    {
        Tdei__Exchange *x = xget(0x11);
        ck_assert_int_eq(x->need_owner, 0);
        ck_assert_int_eq(x->need_regulator, 1);
        codec_exchange_free(x);
    }
    ck_assert_int_eq(approve("acme-steel", 0x11, 11), TDEI_NOT_PARTY);
    ck_assert_str_eq(ctx.reason,
                     "level 3 class core needs the regulator's approval (a "
                     "public_service member); 0 of 1 approvals present; "
                     "acme-steel cannot give it");
    ck_assert_int_eq(approve("pub-svc", 0x11, 11), 0);
    ck_assert_str_eq(attr(0, "approvals"), "1 of 1");
    ck_assert_uint_eq(xstatus(0x11), CODEC_EXCHANGE_APPROVED);
    ck_assert_uint_eq(bal("beta-works"), 300);
    ck_assert_uint_eq(escrow(0x10), 300);
    ck_assert_uint_eq(escrow(0x11), 400);
    conserved();
}
END_TEST

/* At the default policy a core entry needs both, like level 3. */
START_TEST(test_exchange_core_with_owner_policy_needs_both)
{
    seed_param("level3.approval", PARAMS_APPROVAL_OWNER);
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l3"), 0);
    ck_assert_int_eq(approve("acme-steel", 0x10, 11), 0);
    ck_assert_uint_eq(xstatus(0x10), CODEC_EXCHANGE_APPROVED);
    ck_assert_int_eq(request("beta-works", 0x11, 10, "ds-core"), 0);
    ck_assert_int_eq(approve("acme-steel", 0x11, 11), 0);
    ck_assert_str_eq(attr(0, "approvals"), "1 of 2");
    ck_assert_uint_eq(xstatus(0x11), CODEC_EXCHANGE_REQUESTED);
    ck_assert_int_eq(approve("pub-svc", 0x11, 12), 0);
    ck_assert_uint_eq(xstatus(0x11), CODEC_EXCHANGE_APPROVED);
    conserved();
}
END_TEST

/* Each refusal of a request, and that a refusal changes nothing. */
START_TEST(test_exchange_request_refusals)
{
    seed();
    ck_assert_int_eq(
        request_full("beta-works", 0x10, 10, "ds-none", 1, "", 0, 0),
        TDEI_UNKNOWN_DATASET);
    ck_assert_str_eq(ctx.reason, "exchange_request: no catalog entry "
                                 "ds-none; check the id");
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-gone"),
                     TDEI_DATASET_STATE);
    ck_assert_int_eq(request("acme-steel", 0x10, 10, "ds-l1"),
                     TDEI_OWN_DATASET);
    ck_assert_str_eq(ctx.reason,
                     "exchange_request: acme-steel owns ds-l1 already");
    ck_assert_int_eq(request("audit-co", 0x10, 10, "ds-l1"), TDEI_POLICY);
    ck_assert_str_eq(ctx.reason, "exchange_request: audit-co is an auditor, "
                                 "and auditors never receive payloads");
    ck_assert_int_eq(
        request_full("beta-works", 0x10, 10, "ds-l2", 200, "", 0, 0),
        TDEI_POLICY);
    ck_assert_str_eq(ctx.reason,
                     "exchange_request: level 2 requests must state a "
                     "purpose (params level2.purpose); say why the data is "
                     "needed");
    /* Level 1 does not ask for a purpose. */
    ck_assert_int_eq(request_full("gamma-co", 0x11, 10, "ds-l1", 100, "", 0, 0),
                     0);
    ck_assert_int_eq(
        request_full("beta-works", 0x10, 10, "ds-l1", 99, "", 0, 0),
        TDEI_PRICE_MISMATCH);
    ck_assert_str_eq(ctx.reason, "exchange_request expects 99 credits; the "
                                 "catalog price of ds-l1 is 100 (one_time)");
    ck_assert_int_eq(
        request_full("beta-works", 0x10, 10, "ds-l1", 100, "", 0, 5),
        TDEI_BAD_AMOUNT);
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-dear"),
                     TDEI_INSUFFICIENT_FUNDS);
    ck_assert_str_eq(ctx.reason, "request needs 2000 credits in escrow; "
                                 "beta-works holds 1000");
    ck_assert_ptr_null(xget(0x10));
    ck_assert_uint_eq(bal("beta-works"), 1000);
    ck_assert_uint_eq(bal("gamma-co"), 900);
    ck_assert_uint_eq(escrow(0x11), 100);
    conserved();
}
END_TEST

/* levelN.roles: only the roles whose bit is set receive. */
START_TEST(test_exchange_request_refused_by_role_mask)
{
    /* Level 2 to public_service (bit 1) and manufacturers (bit 3) only. */
    seed_param("level2.roles", (1u << TDEI_ROLE_PUBLIC_SERVICE) |
                                   (1u << TDEI_ROLE_MANUFACTURER));
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l2"), TDEI_POLICY);
    ck_assert_str_eq(ctx.reason, "exchange_request: level 2 entries go to "
                                 "the roles of params level2.roles=10; "
                                 "beta-works is platform, not among them");
    ck_assert_int_eq(request("gamma-co", 0x11, 10, "ds-l2"), 0);
    ck_assert_int_eq(request("pub-svc", 0x12, 10, "ds-l2"), 0);
    ck_assert_uint_eq(bal("beta-works"), 1000);
    ck_assert_uint_eq(bal("gamma-co"), 800);
    ck_assert_uint_eq(bal("pub-svc"), 800);
    conserved();
}
END_TEST

/* The grant's length: the level's longest, core_grant_ttl for class core,
 * a subscription's period. */
START_TEST(test_exchange_grant_ttl_limits)
{
    Tdei__Exchange *x;

    seed();
    /* Level 3: at most 7 days of one-second blocks. */
    ck_assert_int_eq(
        request_full("beta-works", 0x10, 10, "ds-l3", 300, "why", 604801, 0),
        TDEI_GRANT_TTL);
    ck_assert_str_eq(ctx.reason, "exchange_request: a grant of 604801 "
                                 "blocks; the level allows at most 604800; "
                                 "ask for fewer, or 0 for the longest");
    ck_assert_int_eq(
        request_full("beta-works", 0x10, 10, "ds-l3", 300, "why", 604800, 0),
        0);
    /* Class core: core_grant_ttl (a day) is shorter. */
    ck_assert_int_eq(
        request_full("gamma-co", 0x11, 10, "ds-core", 400, "why", 86401, 0),
        TDEI_GRANT_TTL);
    ck_assert_str_eq(ctx.reason,
                     "exchange_request: a grant of 86401 blocks; class core "
                     "(params core_grant_ttl) allows at most 86400; ask for "
                     "fewer, or 0 for the longest");
    ck_assert_int_eq(
        request_full("gamma-co", 0x11, 10, "ds-core", 400, "why", 0, 0), 0);
    x = xget(0x11);
    ck_assert_uint_eq(x->grant_ttl, 86400);
    codec_exchange_free(x);
    ck_assert_int_eq(request_full("gamma-co", 0x12, 10, "ds-l1", 100, "", 5, 0),
                     0);
    x = xget(0x12);
    ck_assert_uint_eq(x->grant_ttl, 5);
    codec_exchange_free(x);
    /* A subscription's grant is its period. */
    ck_assert_int_eq(
        request_full("pub-svc", 0x13, 10, "ds-sub", 50, "", 999, 0),
        TDEI_GRANT_TTL);
    ck_assert_str_eq(ctx.reason, "exchange_request: a subscription grant is "
                                 "its period of 1000 blocks; ask for 0 or "
                                 "1000, not 999");
    ck_assert_int_eq(
        request_full("pub-svc", 0x13, 10, "ds-sub", 50, "", 1000, 0), 0);
    ck_assert_int_eq(request_full("pub-svc", 0x14, 10, "ds-sub", 50, "", 0, 0),
                     0);
    x = xget(0x14);
    ck_assert_uint_eq(x->grant_ttl, 1000);
    ck_assert_uint_eq(x->model, CODEC_PRICE_SUBSCRIPTION);
    codec_exchange_free(x);
    /* A period longer than the level allows cannot be sold. */
    ck_assert_int_eq(
        request_full("pub-svc", 0x15, 10, "ds-sub-long", 60, "why", 0, 0),
        TDEI_GRANT_TTL);
    ck_assert_str_eq(ctx.reason, "exchange_request: ds-sub-long is a "
                                 "subscription of 691200 blocks; the level "
                                 "allows at most 604800; the owner must "
                                 "reprice it");
    ck_assert_uint_eq(bal("beta-works"), 700);
    ck_assert_uint_eq(bal("gamma-co"), 500);
    ck_assert_uint_eq(bal("pub-svc"), 900);
    conserved();
}
END_TEST

/* ---- reject, deliver, confirm -------------------------------------------- */

START_TEST(test_exchange_reject_refunds)
{
    Tdei__Exchange *x;

    seed();
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l2"), 0);
    ck_assert_int_eq(xop(REJECT, "gamma-co", 0x10, 11, "no"), TDEI_NOT_PARTY);
    ck_assert_str_eq(ctx.reason, "exchange_reject: only the owner "
                                 "(acme-steel) may reject; gamma-co is "
                                 "neither");
    /* The regulator has no part at level 2. */
    ck_assert_int_eq(xop(REJECT, "pub-svc", 0x10, 11, "no"), TDEI_NOT_PARTY);
    ck_assert_uint_eq(bal("beta-works"), 800);
    ck_assert_int_eq(xop(REJECT, "acme-steel", 0x10, 11, "not for sale"), 0);
    ck_assert_str_eq(event_type(0), "exchange.rejected");
    ck_assert_str_eq(attr(0, "note"), "not for sale");
    ck_assert_uint_eq(bal("beta-works"), 1000);
    ck_assert_uint_eq(escrow(0x10), 0);
    x = xget(0x10);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_REJECTED);
    ck_assert_uint_eq(x->closed_height, 11);
    ck_assert_uint_eq(x->deadline, 0);
    ck_assert_str_eq(x->note, "not for sale");
    codec_exchange_free(x);
    ck_assert_int_eq(xop(REJECT, "acme-steel", 0x10, 12, ""),
                     TDEI_EXCHANGE_STATE);
    conserved();

    /* Level 3: the regulator may reject; an approved exchange too. */
    ck_assert_int_eq(request("beta-works", 0x11, 12, "ds-l3"), 0);
    ck_assert_int_eq(xop(REJECT, "pub-svc", 0x11, 13, "incident"), 0);
    ck_assert_uint_eq(xstatus(0x11), CODEC_EXCHANGE_REJECTED);
    ck_assert_int_eq(request("beta-works", 0x12, 13, "ds-l1"), 0);
    ck_assert_uint_eq(bal("beta-works"), 900);
    ck_assert_int_eq(xop(REJECT, "acme-steel", 0x12, 14, ""), 0);
    ck_assert_uint_eq(bal("beta-works"), 1000);
    ck_assert_uint_eq(xstatus(0x12), CODEC_EXCHANGE_REJECTED);
    ck_assert_int_eq(xop(REJECT, "acme-steel", 0x33, 14, ""),
                     TDEI_UNKNOWN_EXCHANGE);
    conserved();
}
END_TEST

START_TEST(test_exchange_deliver_refusals)
{
    seed();
    ck_assert_int_eq(deliver("acme-steel", 0x10, 10, root_ok),
                     TDEI_UNKNOWN_EXCHANGE);
    ck_assert_str_eq(ctx.reason, "exchange_deliver: no exchange "
                                 "1000000000000000...; give the id of the "
                                 "exchange_request tx");
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l2"), 0);
    ck_assert_int_eq(deliver("acme-steel", 0x10, 11, root_ok),
                     TDEI_EXCHANGE_STATE);
    ck_assert_int_eq(request("beta-works", 0x11, 10, "ds-l1"), 0);
    ck_assert_int_eq(deliver("beta-works", 0x11, 11, root_ok), TDEI_NOT_PARTY);
    ck_assert_str_eq(ctx.reason, "exchange_deliver: only the owner of ds-l1 "
                                 "(acme-steel) delivers; beta-works is not");
    ck_assert_int_eq(deliver("acme-steel", 0x11, 11, root_bad),
                     TDEI_CONTENT_MISMATCH);
    ck_assert_str_eq(ctx.reason, "exchange_deliver: the content root differs "
                                 "from version 1 of ds-l1, the version "
                                 "requested; deliver that version");
    ck_assert_int_eq(deliver("acme-steel", 0x11, 11, NULL),
                     TDEI_CONTENT_MISMATCH);
    ck_assert_uint_eq(xstatus(0x11), CODEC_EXCHANGE_APPROVED);
    ck_assert_int_eq(deliver("acme-steel", 0x11, 11, root_ok), 0);
    ck_assert_int_eq(deliver("acme-steel", 0x11, 12, root_ok),
                     TDEI_EXCHANGE_STATE);
    ck_assert_uint_eq(bal("beta-works"), 700);
    ck_assert_uint_eq(escrow(0x11), 100);
    conserved();
}
END_TEST

/* Revenue follows the owner: after a transfer the new owner delivers and
 * is paid. */
START_TEST(test_exchange_confirm_pays_the_current_owner)
{
    seed();
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l1"), 0);
    owner_set("ds-l1", "gamma-co");
    ck_assert_int_eq(deliver("acme-steel", 0x10, 11, root_ok), TDEI_NOT_PARTY);
    ck_assert_int_eq(deliver("gamma-co", 0x10, 11, root_ok), 0);
    ck_assert_int_eq(confirm("gamma-co", 0x10, 12), TDEI_NOT_PARTY);
    ck_assert_str_eq(ctx.reason, "exchange_confirm: only the consumer "
                                 "(beta-works) may; gamma-co is not");
    ck_assert_int_eq(confirm("beta-works", 0x10, 12), 0);
    ck_assert_str_eq(attr(0, "owner"), "gamma-co");
    ck_assert_uint_eq(bal("gamma-co"), 1100);
    ck_assert_uint_eq(bal("acme-steel"), 1000);
    ck_assert_uint_eq(bal("beta-works"), 900);
    ck_assert_uint_eq(escrow(0x10), 0);
    {
        /* The record keeps the owner at request time. */
        Tdei__Exchange *x = xget(0x10);
        ck_assert_str_eq(x->owner, "acme-steel");
        codec_exchange_free(x);
    }
    conserved();
}
END_TEST

/* A payment that would overflow the owner's balance is refused. */
START_TEST(test_exchange_confirm_refused_on_overflow)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Account a = TDEI__ACCOUNT__INIT;

    seed();
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l1"), 0);
    ck_assert_int_eq(deliver("acme-steel", 0x10, 11, root_ok), 0);
    a.balance = UINT64_MAX - 50;
    fixture_put(st, key, contract_key_account(key, "acme-steel"), &a.base);
    ck_assert_int_eq(confirm("beta-works", 0x10, 12), TDEI_OVERFLOW);
    ck_assert_uint_eq(xstatus(0x10), CODEC_EXCHANGE_DELIVERED);
    ck_assert_uint_eq(escrow(0x10), 100);
    /* Silence at the deadline cannot refuse: what fits moves. */
    ck_assert_int_eq(block_begin(11 + 7200 + 1), 0);
    ck_assert_uint_eq(xstatus(0x10), CODEC_EXCHANGE_SETTLED);
    ck_assert_uint_eq(bal("acme-steel"), UINT64_MAX);
    ck_assert_uint_eq(escrow(0x10), 50);
}
END_TEST

/* ---- dispute and resolve ------------------------------------------------- */

START_TEST(test_exchange_dispute_resolved_by_refund)
{
    Tdei__Exchange *x;

    seed();
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l1"), 0);
    ck_assert_int_eq(xop(DISPUTE, "beta-works", 0x10, 11, "nothing came"),
                     TDEI_EXCHANGE_STATE);
    ck_assert_int_eq(deliver("acme-steel", 0x10, 11, root_ok), 0);
    ck_assert_int_eq(xop(DISPUTE, "acme-steel", 0x10, 12, "no"),
                     TDEI_NOT_PARTY);
    ck_assert_int_eq(xop(DISPUTE, "beta-works", 0x10, 12, "key does not open"),
                     0);
    ck_assert_str_eq(event_type(0), "exchange.disputed");
    x = xget(0x10);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_DISPUTED);
    ck_assert_uint_eq(x->deadline, 0);
    ck_assert_str_eq(x->note, "key does not open");
    codec_exchange_free(x);
    ck_assert_int_eq(confirm("beta-works", 0x10, 13), TDEI_EXCHANGE_STATE);
    ck_assert_int_eq(xop(RESOLVE_REFUND, "acme-steel", 0x10, 13, ""),
                     TDEI_ROLE);
    ck_assert_str_eq(ctx.reason, "exchange_resolve needs role "
                                 "public_service; acme-steel is "
                                 "manufacturer");
    ck_assert_uint_eq(bal("beta-works"), 900);
    ck_assert_int_eq(xop(RESOLVE_REFUND, "pub-svc", 0x10, 14, "refund"), 0);
    ck_assert_str_eq(event_type(0), "exchange.resolved");
    ck_assert_str_eq(attr(0, "refund"), "100");
    ck_assert_str_eq(attr(0, "status"), "refunded");
    ck_assert_uint_eq(bal("beta-works"), 1000);
    ck_assert_uint_eq(bal("acme-steel"), 1000);
    ck_assert_uint_eq(escrow(0x10), 0);
    x = xget(0x10);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_REFUNDED);
    ck_assert_uint_eq(x->closed_height, 14);
    ck_assert_str_eq(x->note, "refund");
    codec_exchange_free(x);
    ck_assert_int_eq(grant_tag("ds-l1", "beta-works"), -1);
    ck_assert_int_eq(xop(RESOLVE_PAY, "pub-svc", 0x10, 15, ""),
                     TDEI_EXCHANGE_STATE);
    conserved();
}
END_TEST

START_TEST(test_exchange_dispute_resolved_for_the_owner)
{
    Tdei__Exchange *x;

    seed();
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l1"), 0);
    ck_assert_int_eq(deliver("acme-steel", 0x10, 11, root_ok), 0);
    ck_assert_int_eq(xop(DISPUTE, "beta-works", 0x10, 12, "late"), 0);
    /* Resolved without a reason of its own: the dispute's reason stays. */
    ck_assert_int_eq(xop(RESOLVE_PAY, "pub-svc", 0x10, 20, ""), 0);
    ck_assert_str_eq(event_type(0), "exchange.resolved");
    ck_assert_str_eq(attr(0, "owner"), "acme-steel");
    ck_assert_str_eq(attr(0, "amount"), "100");
    ck_assert_uint_eq(bal("acme-steel"), 1100);
    ck_assert_uint_eq(bal("beta-works"), 900);
    ck_assert_uint_eq(escrow(0x10), 0);
    x = xget(0x10);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_SETTLED);
    ck_assert_uint_eq(x->settled_height, 20);
    ck_assert_uint_eq(x->closed_height, 0); /* a live grant is not closed */
    ck_assert_str_eq(x->note, "late");
    ck_assert_uint_eq(x->grant_expires, 20 + 31536000);
    codec_exchange_free(x);
    ck_assert_int_eq(grant_tag("ds-l1", "beta-works"), 0x10);
    conserved();
}
END_TEST

/* ---- revocation ---------------------------------------------------------- */

/* Settle @xb on ds-l1 for beta-works at heights 10-12. */
static void settled_l1(uint8_t xb)
{
    ck_assert_int_eq(request("beta-works", xb, 10, "ds-l1"), 0);
    ck_assert_int_eq(deliver("acme-steel", xb, 11, root_ok), 0);
    ck_assert_int_eq(confirm("beta-works", xb, 12), 0);
}

START_TEST(test_exchange_revoked_by_the_regulator)
{
    Tdei__Exchange *x;

    seed();
    ck_assert_int_eq(request("beta-works", 0x11, 10, "ds-l1"), 0);
    ck_assert_int_eq(revoke("pub-svc", 0x11, 11), TDEI_EXCHANGE_STATE);
    settled_l1(0x10);
    ck_assert_int_eq(revoke("gamma-co", 0x10, 13), TDEI_NOT_PARTY);
    ck_assert_str_eq(ctx.reason, "grant_revoke: the regulator, or the owner "
                                 "(acme-steel) and the consumer "
                                 "(beta-works) together, revoke; gamma-co "
                                 "is none of them");
    ck_assert_int_eq(xop(REVOKE, "pub-svc", 0x10, 13, "incident 7"), 0);
    ck_assert_str_eq(event_type(0), "grant.revoked");
    ck_assert_str_eq(attr(0, "refund"), "0");
    x = xget(0x10);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_REVOKED);
    ck_assert_uint_eq(x->closed_height, 13);
    ck_assert_str_eq(x->note, "incident 7");
    codec_exchange_free(x);
    ck_assert_int_eq(revoke("pub-svc", 0x10, 14), TDEI_EXCHANGE_STATE);
    ck_assert_uint_eq(bal("acme-steel"), 1100);
    ck_assert_uint_eq(bal("beta-works"), 800);
    conserved();
}
END_TEST

START_TEST(test_exchange_revoked_by_owner_and_consumer)
{
    Tdei__Exchange *x;

    seed();
    settled_l1(0x10);
    ck_assert_int_eq(revoke("acme-steel", 0x10, 13), 0);
    ck_assert_str_eq(event_type(0), "grant.revoke_consent");
    x = xget(0x10);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_SETTLED);
    ck_assert_int_eq(x->owner_revoke, 1);
    ck_assert_int_eq(x->consumer_revoke, 0);
    codec_exchange_free(x);
    ck_assert_int_eq(revoke("acme-steel", 0x10, 14), 0);
    ck_assert_uint_eq(xstatus(0x10), CODEC_EXCHANGE_SETTLED);
    ck_assert_int_eq(revoke("beta-works", 0x10, 15), 0);
    ck_assert_str_eq(event_type(0), "grant.revoked");
    x = xget(0x10);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_REVOKED);
    ck_assert_uint_eq(x->closed_height, 15);
    ck_assert_int_eq(x->consumer_revoke, 1);
    codec_exchange_free(x);

    /* The consumer first, then the owner. */
    ck_assert_int_eq(request("beta-works", 0x11, 20, "ds-l1"), 0);
    ck_assert_int_eq(deliver("acme-steel", 0x11, 21, root_ok), 0);
    ck_assert_int_eq(confirm("beta-works", 0x11, 22), 0);
    ck_assert_int_eq(revoke("beta-works", 0x11, 23), 0);
    ck_assert_uint_eq(xstatus(0x11), CODEC_EXCHANGE_SETTLED);
    ck_assert_int_eq(revoke("acme-steel", 0x11, 24), 0);
    ck_assert_uint_eq(xstatus(0x11), CODEC_EXCHANGE_REVOKED);
    ck_assert_uint_eq(bal("acme-steel"), 1200);
    ck_assert_uint_eq(bal("beta-works"), 800);
    conserved();
}
END_TEST

/* ---- streams ------------------------------------------------------------- */

START_TEST(test_exchange_per_record_subscription)
{
    uint8_t tags[4];
    Tdei__Exchange *x;

    seed();
    ck_assert_int_eq(
        request_full("beta-works", 0x20, 10, "st-rec", 2, "", 0, 1),
        TDEI_BAD_AMOUNT);
    ck_assert_str_eq(ctx.reason, "exchange_request: a per_record budget pays "
                                 "at least one record (2 credits); the "
                                 "budget is 1");
    ck_assert_int_eq(
        request_full("beta-works", 0x20, 10, "st-rec", 2, "", 0, 50), 0);
    ck_assert_uint_eq(bal("beta-works"), 950);
    ck_assert_uint_eq(escrow(0x20), 50);
    x = xget(0x20);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_APPROVED);
    ck_assert_uint_eq(x->kind, CODEC_KIND_STREAM);
    ck_assert_uint_eq(x->content_root.len, 0);
    ck_assert_uint_eq(x->version, 0);
    codec_exchange_free(x);
    ck_assert_int_eq(deliver("acme-steel", 0x20, 11, root_ok),
                     TDEI_CONTENT_MISMATCH);
    ck_assert_int_eq(deliver("acme-steel", 0x20, 11, NULL), 0);
    x = xget(0x20);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_SETTLED);
    ck_assert_uint_eq(x->settled_height, 11);
    ck_assert_uint_eq(x->grant_expires, 11 + 31536000);
    ck_assert_uint_eq(x->deadline, 0);
    ck_assert_uint_eq(x->escrow, 50);
    codec_exchange_free(x);
    ck_assert_int_eq(grant_tag("st-rec", "beta-works"), 0x20);
    /* The prepaid budget stays in escrow, for stream_append to charge. */
    ck_assert_uint_eq(escrow(0x20), 50);
    ck_assert_uint_eq(bal("acme-steel"), 1000);
    /* A second subscriber with a lower id goes first (ascending). */
    ck_assert_int_eq(request_full("gamma-co", 0x18, 12, "st-rec", 2, "", 0, 10),
                     0);
    ck_assert_int_eq(deliver("acme-steel", 0x18, 12, NULL), 0);
    ck_assert_uint_eq(stream_subs("st-rec", tags, 4), 2);
    ck_assert_uint_eq(tags[0], 0x18);
    ck_assert_uint_eq(tags[1], 0x20);
    conserved();

    /* Revocation by both parties refunds what is left and unsubscribes. */
    ck_assert_int_eq(revoke("beta-works", 0x20, 13), 0);
    ck_assert_uint_eq(escrow(0x20), 50);
    ck_assert_int_eq(revoke("acme-steel", 0x20, 14), 0);
    ck_assert_str_eq(attr(0, "refund"), "50");
    ck_assert_uint_eq(bal("beta-works"), 1000);
    ck_assert_uint_eq(escrow(0x20), 0);
    ck_assert_uint_eq(xstatus(0x20), CODEC_EXCHANGE_REVOKED);
    ck_assert_uint_eq(stream_subs("st-rec", tags, 4), 1);
    ck_assert_uint_eq(tags[0], 0x18);
    /* The regulator alone, for the other one. */
    ck_assert_int_eq(revoke("pub-svc", 0x18, 15), 0);
    ck_assert_uint_eq(bal("gamma-co"), 1000);
    ck_assert_uint_eq(stream_subs("st-rec", tags, 4), 0);
    conserved();
}
END_TEST

START_TEST(test_exchange_per_record_stream_refusals)
{
    seed();
    ck_assert_int_eq(
        request_full("beta-works", 0x20, 10, "st-shut", 2, "", 0, 10), 0);
    ck_assert_int_eq(deliver("acme-steel", 0x20, 11, NULL), TDEI_STREAM_STATE);
    ck_assert_str_eq(ctx.reason, "exchange_deliver: stream st-shut is "
                                 "closed; a closed stream takes no "
                                 "subscriber");
    ck_assert_int_eq(
        request_full("beta-works", 0x21, 10, "st-none", 2, "", 0, 10), 0);
    ck_assert_int_eq(deliver("acme-steel", 0x21, 11, NULL), TDEI_STREAM_STATE);
    ck_assert_str_eq(ctx.reason, "exchange_deliver: stream st-none was never "
                                 "opened; the owner opens it first");
    ck_assert_int_eq(
        request_full("beta-works", 0x22, 10, "st-full", 2, "", 0, 10), 0);
    ck_assert_int_eq(deliver("acme-steel", 0x22, 11, NULL), TDEI_SUBS_LIMIT);
    ck_assert_uint_eq(xstatus(0x20), CODEC_EXCHANGE_APPROVED);
    ck_assert_uint_eq(xstatus(0x22), CODEC_EXCHANGE_APPROVED);
    ck_assert_uint_eq(bal("beta-works"), 970);
    conserved();
}
END_TEST

/* A stream sold by subscription is delivered and confirmed like a
 * dataset, with an empty root; it is no per_record subscriber. */
START_TEST(test_exchange_stream_subscription_model)
{
    uint8_t tags[4];
    Tdei__Exchange *x;

    seed();
    ck_assert_int_eq(request("beta-works", 0x20, 10, "st-sub"), 0);
    ck_assert_int_eq(deliver("acme-steel", 0x20, 11, NULL), 0);
    ck_assert_uint_eq(xstatus(0x20), CODEC_EXCHANGE_DELIVERED);
    ck_assert_int_eq(confirm("beta-works", 0x20, 12), 0);
    x = xget(0x20);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_SETTLED);
    ck_assert_uint_eq(x->grant_expires, 12 + 500);
    codec_exchange_free(x);
    ck_assert_uint_eq(stream_subs("st-sub", tags, 4), 0);
    ck_assert_uint_eq(bal("acme-steel"), 1030);
    conserved();
}
END_TEST

/* ---- deadlines ----------------------------------------------------------- */

/* Short deadlines: every ttl 5 blocks. */
static void seed_short(void)
{
    struct params_storage p;

    fixture_params_default(&p);
    p.params.approve_ttl = 5;
    p.params.deliver_ttl = 5;
    p.params.confirm_ttl = 5;
    seed_with(&p.params);
}

START_TEST(test_exchange_block_begin_expires_and_settles)
{
    uint8_t tags[8];
    Tdei__Exchange *x;

    seed_short();
    ck_assert_int_eq(block_begin(16), 0); /* no list: nothing */
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l2"), 0); /* req */
    ck_assert_int_eq(request("beta-works", 0x11, 10, "ds-l1"), 0); /* appr */
    ck_assert_int_eq(request("gamma-co", 0x12, 10, "ds-l1"), 0);
    ck_assert_int_eq(deliver("acme-steel", 0x12, 11, root_ok), 0); /* 17 */
    ck_assert_int_eq(request("gamma-co", 0x13, 10, "ds-l2"), 0);
    ck_assert_int_eq(approve("acme-steel", 0x13, 12), 0); /* due 18 */
    ck_assert_int_eq(request("pub-svc", 0x14, 10, "ds-l1"), 0);
    ck_assert_int_eq(deliver("acme-steel", 0x14, 11, root_ok), 0);
    ck_assert_int_eq(xop(DISPUTE, "pub-svc", 0x14, 12, "bad"), 0);
    ck_assert_int_eq(due_tags(16, tags, 8), 5);
    ck_assert_uint_eq(tags[0], 0x10);
    ck_assert_uint_eq(tags[1], 0x11);
    ck_assert_uint_eq(tags[2], 0x12); /* stale after delivery */
    ck_assert_uint_eq(tags[3], 0x13); /* stale after approval */
    ck_assert_uint_eq(tags[4], 0x14);
    ck_assert_uint_eq(bal("beta-works"), 700);
    ck_assert_uint_eq(bal("gamma-co"), 700);
    ck_assert_uint_eq(bal("pub-svc"), 900);
    conserved();

    /* 15 is the last height for the approval and the delivery. */
    ck_assert_int_eq(block_begin(15), 0);
    ck_assert_uint_eq(xstatus(0x10), CODEC_EXCHANGE_REQUESTED);
    ck_assert_int_eq(block_begin(16), 0);
    ck_assert_int_eq(due_tags(16, tags, 8), -1);
    x = xget(0x10);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_EXPIRED);
    ck_assert_uint_eq(x->closed_height, 16);
    ck_assert_uint_eq(x->deadline, 0);
    codec_exchange_free(x);
    ck_assert_uint_eq(xstatus(0x11), CODEC_EXCHANGE_EXPIRED);
    ck_assert_uint_eq(xstatus(0x12), CODEC_EXCHANGE_DELIVERED);
    ck_assert_uint_eq(xstatus(0x13), CODEC_EXCHANGE_APPROVED);
    ck_assert_uint_eq(xstatus(0x14), CODEC_EXCHANGE_DISPUTED);
    ck_assert_uint_eq(bal("beta-works"), 1000);
    ck_assert_uint_eq(escrow(0x10), 0);
    ck_assert_uint_eq(escrow(0x11), 0);
    conserved();

    /* Silence after delivery is acceptance; the dispute waits. */
    ck_assert_int_eq(due_tags(17, tags, 8), 2);
    ck_assert_int_eq(block_begin(17), 0);
    ck_assert_int_eq(due_tags(17, tags, 8), -1);
    x = xget(0x12);
    ck_assert_uint_eq(x->status, CODEC_EXCHANGE_SETTLED);
    ck_assert_uint_eq(x->settled_height, 17);
    ck_assert_uint_eq(x->grant_expires, 17 + 31536000);
    codec_exchange_free(x);
    ck_assert_int_eq(grant_tag("ds-l1", "gamma-co"), 0x12);
    ck_assert_uint_eq(xstatus(0x14), CODEC_EXCHANGE_DISPUTED);
    ck_assert_uint_eq(escrow(0x14), 100);
    ck_assert_uint_eq(bal("acme-steel"), 1100);
    ck_assert_uint_eq(escrow(0x12), 0);
    conserved();

    /* The approval's delivery deadline. */
    ck_assert_int_eq(block_begin(18), 0);
    ck_assert_uint_eq(xstatus(0x13), CODEC_EXCHANGE_EXPIRED);
    ck_assert_uint_eq(bal("gamma-co"), 900);
    ck_assert_uint_eq(escrow(0x13), 0);
    ck_assert_int_eq(due_tags(18, tags, 8), -1);
    conserved();
    /* An expired exchange takes no more steps. */
    ck_assert_int_eq(deliver("acme-steel", 0x13, 18, root_ok),
                     TDEI_EXCHANGE_STATE);
}
END_TEST

/* Writes a due list of @n fake ids at @height, in pages. */
static void due_fill(uint64_t height, size_t n)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    ProtobufCBinaryData *ids = tdei_calloc(n, sizeof(*ids));
    uint8_t *bytes = tdei_calloc(n, 32);
    uint32_t pages = (uint32_t)((n + CODEC_DUE_PAGE - 1) / CODEC_DUE_PAGE);

    ck_assert_ptr_nonnull(ids);
    ck_assert_ptr_nonnull(bytes);
    for (size_t i = 0; i < n; i++) {
        bytes[32 * i] = 0xdd;
        bytes[32 * i + 1] = (uint8_t)(i >> 16);
        bytes[32 * i + 2] = (uint8_t)(i >> 8);
        bytes[32 * i + 3] = (uint8_t)i;
        ids[i] = (ProtobufCBinaryData){32, bytes + 32 * i};
    }
    for (uint32_t p = 0; p < pages; p++) {
        Tdei__DueList list = TDEI__DUE_LIST__INIT;
        size_t first = (size_t)p * CODEC_DUE_PAGE;
        list.n_exchanges =
            n - first < CODEC_DUE_PAGE ? n - first : CODEC_DUE_PAGE;
        list.exchanges = ids + first;
        list.pages = p == 0 && pages > 1 ? pages : 0;
        fixture_put(st, key, contract_key_due(key, height, p), &list.base);
    }
    tdei_free(bytes);
    tdei_free(ids);
}

/* A full due list refuses the next deadline; a later block has room, and
 * a list grows a page at a time. */
START_TEST(test_exchange_due_list_full_refuses)
{
    uint8_t tags[CODEC_DUE_PAGE];
    uint32_t pages = 0;

    seed();
    due_fill(10 + 7200 + 1, CODEC_DUE_MAX);
    ck_assert_int_eq(request("beta-works", 0x10, 10, "ds-l1"), TDEI_BUDGET);
    ck_assert_str_eq(ctx.reason, "too many deadlines at height 7211 (102400 "
                                 "exchanges due); retry in a later block");
    ck_assert_uint_eq(bal("beta-works"), 1000);
    ck_assert_ptr_null(xget(0x10));
    /* 2000 due: the request joins the last page (15, 80 ids). */
    due_fill(11 + 7200 + 1, 2000);
    ck_assert_int_eq(request("beta-works", 0x10, 11, "ds-l1"), 0);
    ck_assert_int_eq(due_page_tags(7212, 15, tags, CODEC_DUE_PAGE, NULL), 81);
    ck_assert_uint_eq(tags[80], 0x10);
    ck_assert_int_eq(due_page_tags(7212, 0, tags, 1, &pages), 128);
    ck_assert_uint_eq(pages, 16);
    /* 2048 due: full pages, so the request opens page 16. */
    due_fill(12 + 7200 + 1, 2048);
    ck_assert_int_eq(request("beta-works", 0x11, 12, "ds-l1"), 0);
    ck_assert_int_eq(due_page_tags(7213, 16, tags, 1, NULL), 1);
    ck_assert_uint_eq(tags[0], 0x11);
    ck_assert_int_eq(due_page_tags(7213, 0, tags, 1, &pages), 128);
    ck_assert_uint_eq(pages, 17);
    conserved();
}
END_TEST

/* Deadlines over several pages all fall due, in order, and every page is
 * deleted. */
START_TEST(test_exchange_due_pages_processed)
{
    const size_t n = CODEC_DUE_PAGE + 2;
    Tdei__Exchange *x;
    uint32_t pages = 0;

    seed();
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(
            request("beta-works", (uint8_t)(0x20 + i), 10, "ds-free"), 0);
    }
    ck_assert_int_eq(due_page_tags(7211, 0, NULL, 0, &pages),
                     (int)CODEC_DUE_PAGE);
    ck_assert_uint_eq(pages, 2);
    ck_assert_int_eq(due_page_tags(7211, 1, NULL, 0, NULL), 2);
    ck_assert_int_eq(block_begin(7211), 0);
    for (size_t i = 0; i < n; i++) {
        x = xget((uint8_t)(0x20 + i));
        ck_assert_uint_eq(x->status, CODEC_EXCHANGE_EXPIRED);
        ck_assert_uint_eq(x->closed_height, 7211);
        codec_exchange_free(x);
    }
    ck_assert_int_eq(due_page_tags(7211, 0, NULL, 0, NULL), -1);
    ck_assert_int_eq(due_page_tags(7211, 1, NULL, 0, NULL), -1);
    conserved();
}
END_TEST

/* A due list naming an exchange that does not exist is damage: fatal. */
START_TEST(test_exchange_block_begin_missing_exchange_is_fatal)
{
    seed();
    due_fill(30, 1);
    ck_assert_int_eq(block_begin(30), TDEI_CORRUPT);
    ck_assert_str_eq(ctx.reason, "state record due list: it names an "
                                 "exchange that does not exist");
    ck_assert_int_eq(due_tags(30, NULL, 0), 1);
}
END_TEST

static Suite *exchange_suite(void)
{
    Suite *s = suite_create("exchange");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"level1", test_exchange_level1_auto_approved_delivered_confirmed},
        {"level2", test_exchange_level2_needs_the_owner},
        {"level3_owner_first", test_exchange_level3_owner_then_regulator},
        {"level3_regulator_first", test_exchange_level3_regulator_then_owner},
        {"core_auto", test_exchange_core_always_needs_the_regulator},
        {"core_owner", test_exchange_core_with_owner_policy_needs_both},
        {"request_refusals", test_exchange_request_refusals},
        {"role_mask", test_exchange_request_refused_by_role_mask},
        {"grant_ttl", test_exchange_grant_ttl_limits},
        {"reject", test_exchange_reject_refunds},
        {"deliver_refusals", test_exchange_deliver_refusals},
        {"current_owner", test_exchange_confirm_pays_the_current_owner},
        {"overflow", test_exchange_confirm_refused_on_overflow},
        {"resolve_refund", test_exchange_dispute_resolved_by_refund},
        {"resolve_pay", test_exchange_dispute_resolved_for_the_owner},
        {"revoke_regulator", test_exchange_revoked_by_the_regulator},
        {"revoke_both", test_exchange_revoked_by_owner_and_consumer},
        {"per_record", test_exchange_per_record_subscription},
        {"stream_refusals", test_exchange_per_record_stream_refusals},
        {"stream_subscription", test_exchange_stream_subscription_model},
        {"deadlines", test_exchange_block_begin_expires_and_settles},
        {"regulator_not_consumer",
         test_exchange_regulator_not_its_own_consumer},
        {"due_full", test_exchange_due_list_full_refuses},
        {"due_pages", test_exchange_due_pages_processed},
        {"due_corrupt", test_exchange_block_begin_missing_exchange_is_fatal},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(exchange_suite()); }
