/* Helpers for the catalog, classify and ownership tests (see
 * entry_fixture.h). */
#include "entry_fixture.h"
#include "testutil.h"

#include "core/alloc.h"
#include "core/error.h"
#include "exec/state.h"

#include <string.h>

struct contract_ctx fx_ctx;
uint8_t fx_root1[32];
uint8_t fx_root2[32];
uint8_t fx_root3[32];

const char *const fx_members[FX_MEMBERS] = {
    "pub-svc",  "acme-steel", "beta-works", "gamma-co",
    "audit-co", "sleepy-co",  "gone-co"};

static const struct
{
    enum tdei_role role;
    uint32_t status;
} member_kinds[FX_MEMBERS] = {
    {TDEI_ROLE_PUBLIC_SERVICE, CODEC_MEMBER_ACTIVE},
    {TDEI_ROLE_MANUFACTURER, CODEC_MEMBER_ACTIVE},
    {TDEI_ROLE_PLATFORM, CODEC_MEMBER_ACTIVE},
    {TDEI_ROLE_MANUFACTURER, CODEC_MEMBER_ACTIVE},
    {TDEI_ROLE_AUDITOR, CODEC_MEMBER_ACTIVE},
    {TDEI_ROLE_MANUFACTURER, CODEC_MEMBER_SUSPENDED},
    {TDEI_ROLE_MANUFACTURER, CODEC_MEMBER_REMOVED},
};

static size_t member_index(const char *id)
{
    for (size_t i = 0; i < FX_MEMBERS; i++) {
        if (strcmp(fx_members[i], id) == 0) {
            return i;
        }
    }
    ck_abort_msg("no fixture member %s", id);
    return 0;
}

struct state *fx_seed_begin(void)
{
    struct state *s = fixture_seed_begin();
    struct params_storage p;

    memset(fx_root1, 0xA1, sizeof(fx_root1));
    memset(fx_root2, 0xB2, sizeof(fx_root2));
    memset(fx_root3, 0xC3, sizeof(fx_root3));
    for (size_t i = 0; i < FX_MEMBERS; i++) {
        fixture_member(s, fx_members[i], member_kinds[i].role,
                       member_kinds[i].status, (uint8_t)(i + 1), 1000);
    }
    fixture_params_default(&p);
    fixture_params_put(s, &p.params);
    return s;
}

void fx_seed(void) { fixture_seed_end(fx_seed_begin()); }

int fx_run(const char *member, uint64_t height, Tdei__TxBody *body)
{
    static uint8_t key32[32] = {0x01};
    static uint8_t tx_id[32];
    static uint8_t tx_count;
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__TxBody *decoded;
    uint8_t *buf;
    size_t len;
    int rc;
    struct contract_env env = {
        .ops = &state_contract_ops,
        .state = fixture_st,
        .signer = key32,
        .member = member,
        .role = member_kinds[member_index(member)].role,
        .height = height,
        .time_ms = 1764000000000ull,
        .tx_id = tx_id,
        .chain_id = "test-chain",
    };

    body->version = 1;
    body->chain_id = (char *)"test-chain";
    body->signer = (ProtobufCBinaryData){32, key32};
    body->nonce = 1;
    ck_assert_int_eq(codec_encode(&body->base, &buf, &len), 0);
    rc = codec_txbody_decode(&decoded, buf, len, errmsg);
    tdei_free(buf);
    ck_assert_msg(rc == 0, "the codec refuses the test body: %s", errmsg);
    memset(tx_id, 0, sizeof(tx_id));
    tx_id[0] = ++tx_count;
    contract_ctx_begin(&fx_ctx, &env);
    state_tx_begin(fixture_st);
    rc = contract_dispatch(&fx_ctx, decoded);
    if (rc == 0) {
        state_tx_commit(fixture_st);
    } else {
        state_tx_rollback(fixture_st);
        /* A refusal always says why, and emits nothing. */
        ck_assert_str_ne(fx_ctx.reason, "");
        ck_assert_uint_eq(fx_ctx.event_count, 0);
    }
    ck_assert(!contract_code_is_fatal(rc));
    codec_message_free(&decoded->base);
    return rc;
}

void fx_publish_init(Tdei__CatalogPublish *p, Tdei__PriceTerms *price,
                     const char *id, uint32_t kind)
{
    static char *tags[] = {(char *)"steel"};
    Tdei__CatalogPublish init = TDEI__CATALOG_PUBLISH__INIT;
    Tdei__PriceTerms price_init = TDEI__PRICE_TERMS__INIT;

    *p = init;
    *price = price_init;
    p->id = (char *)id;
    p->kind = kind;
    p->title = (char *)"Furnace temperatures";
    p->description = (char *)"Per-minute readings of furnace 3";
    p->n_tags = 1;
    p->tags = tags;
    p->domain = CODEC_DOMAIN_PRODUCTION;
    p->level = 1;
    p->data_class = CODEC_CLASS_GENERAL;
    p->schema = (char *)"csv:v1";
    price->model = kind == CODEC_KIND_DATASET ? CODEC_PRICE_ONE_TIME
                                              : CODEC_PRICE_PER_RECORD;
    price->amount = kind == CODEC_KIND_DATASET ? 100 : 2;
    p->price = price;
    if (kind == CODEC_KIND_DATASET) {
        p->content_root = (ProtobufCBinaryData){32, fx_root1};
        p->size = 4096;
    }
}

int fx_publish_op(const char *member, uint64_t height, Tdei__CatalogPublish *p)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;

    body.op_case = TDEI__TX_BODY__OP_CATALOG_PUBLISH;
    body.catalog_publish = p;
    return fx_run(member, height, &body);
}

void fx_publish(const char *member, uint64_t height, const char *id,
                uint32_t kind, uint32_t level, uint32_t data_class,
                int may_derive)
{
    Tdei__CatalogPublish p;
    Tdei__PriceTerms price;
    Tdei__License license = TDEI__LICENSE__INIT;

    fx_publish_init(&p, &price, id, kind);
    p.level = level;
    p.data_class = data_class;
    license.may_derive = may_derive;
    p.license = &license;
    ck_assert_int_eq(fx_publish_op(member, height, &p), 0);
}

/* Read @key into a buffer from tdei_malloc (NULL when absent). */
static uint8_t *read_value(const uint8_t *key, size_t klen, size_t *vlen)
{
    uint8_t *val;
    int rc = state_get_copy(fixture_st, key, klen, NULL, 0, vlen);

    if (rc == TDEI_NOTFOUND) {
        return NULL;
    }
    ck_assert_int_eq(rc, *vlen == 0 ? 0 : TDEI_TOOBIG);
    val = tdei_malloc(*vlen + 1);
    ck_assert_ptr_nonnull(val);
    ck_assert_int_eq(state_get_copy(fixture_st, key, klen, val, *vlen, vlen),
                     0);
    return val;
}

Tdei__Dataset *fx_dataset(const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Dataset *d;
    size_t vlen;
    uint8_t *val = read_value(key, contract_key_dataset(key, id), &vlen);

    if (val == NULL) {
        return NULL;
    }
    ck_assert_int_eq(codec_dataset_decode(&d, val, vlen, errmsg), 0);
    tdei_free(val);
    return d;
}

Tdei__DatasetVersion *fx_version(const char *id, uint64_t version)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__DatasetVersion *v;
    size_t vlen;
    uint8_t *val = read_value(key, contract_key_dsver(key, id, version), &vlen);

    if (val == NULL) {
        return NULL;
    }
    ck_assert_int_eq(codec_dataset_version_decode(&v, val, vlen, errmsg), 0);
    tdei_free(val);
    return v;
}

void fx_dataset_write(const Tdei__Dataset *d)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    fixture_put(fixture_st, key, contract_key_dataset(key, d->id), &d->base);
}

void fx_grant_seed(struct state *s, const char *entry, const char *owner,
                   const char *consumer, uint32_t status, uint8_t xid_byte)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t xid[32] = {0};
    Tdei__Exchange x = TDEI__EXCHANGE__INIT;
    Tdei__GrantRef g = TDEI__GRANT_REF__INIT;

    if (s == NULL) {
        s = fixture_st;
    }
    xid[0] = xid_byte;
    x.id = (ProtobufCBinaryData){32, xid};
    x.dataset = (char *)entry;
    x.kind = CODEC_KIND_DATASET;
    x.version = 1;
    x.content_root = (ProtobufCBinaryData){32, fx_root1};
    x.consumer = (char *)consumer;
    x.owner = (char *)owner;
    x.model = CODEC_PRICE_ONE_TIME;
    x.price = 100;
    x.level = 1;
    x.data_class = CODEC_CLASS_GENERAL;
    x.status = status;
    x.requested_height = 2;
    x.grant_ttl = 100;
    if (status == CODEC_EXCHANGE_SETTLED) {
        x.settled_height = 3;
        x.grant_expires = 103;
    }
    fixture_put(s, key, contract_key_exchange(key, xid), &x.base);
    g.exchange = (ProtobufCBinaryData){32, xid};
    fixture_put(s, key, contract_key_grant(key, entry, consumer), &g.base);
}

Tdei__Exchange *fx_exchange(uint8_t xid_byte)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t xid[32] = {0};
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Exchange *x;
    size_t vlen;
    uint8_t *val;

    xid[0] = xid_byte;
    val = read_value(key, contract_key_exchange(key, xid), &vlen);
    if (val == NULL) {
        return NULL;
    }
    ck_assert_int_eq(codec_exchange_decode(&x, val, vlen, errmsg), 0);
    tdei_free(val);
    return x;
}

void fx_member_status_set(const char *id, uint32_t status)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[CODEC_MEMBER_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    size_t klen = contract_key_member(key, id);
    Tdei__Member *m;
    size_t vlen;

    ck_assert_int_eq(
        state_get_copy(fixture_st, key, klen, val, sizeof(val), &vlen), 0);
    ck_assert_int_eq(codec_member_decode(&m, val, vlen, errmsg), 0);
    m->status = status;
    fixture_put(fixture_st, key, klen, &m->base);
    codec_member_free(m);
}

/* An Account record's balance (0 when absent). */
static uint64_t account_at(const uint8_t *key, size_t klen)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Account *a;
    uint64_t balance;
    size_t vlen;
    uint8_t *val = read_value(key, klen, &vlen);

    if (val == NULL) {
        return 0;
    }
    ck_assert_int_eq(codec_account_decode(&a, val, vlen, errmsg), 0);
    tdei_free(val);
    balance = a->balance;
    codec_account_free(a);
    return balance;
}

uint64_t fx_total_credits(void)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t xid[32] = {0};
    uint64_t total = 0;

    for (size_t i = 0; i < FX_MEMBERS; i++) {
        total += account_at(key, contract_key_account(key, fx_members[i]));
    }
    for (uint8_t x = 1; x <= 16; x++) {
        xid[0] = x;
        total += account_at(key, contract_key_escrow(key, xid));
    }
    return total;
}

const char *fx_event_type(size_t index)
{
    ck_assert_uint_lt(index, fx_ctx.event_count);
    return fx_ctx.arena + fx_ctx.events[index].type;
}

const char *fx_event_attr(size_t index, const char *key)
{
    const struct contract_event *ev;

    ck_assert_uint_lt(index, fx_ctx.event_count);
    ev = &fx_ctx.events[index];
    for (uint32_t i = 0; i < ev->attr_count; i++) {
        const struct contract_attr *a = &fx_ctx.attrs[ev->attr_first + i];
        if (strcmp(fx_ctx.arena + a->key, key) == 0) {
            return fx_ctx.arena + a->value;
        }
    }
    return NULL;
}

static int touched(const uint8_t *key, size_t klen)
{
    for (size_t i = 0; i < fx_ctx.touched_count; i++) {
        if (fx_ctx.touched[i].klen == klen &&
            memcmp(fx_ctx.touched[i].key, key, klen) == 0) {
            return 1;
        }
    }
    return 0;
}

int fx_touched_entry(const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    return touched(key, contract_key_dataset(key, id));
}

int fx_touched_member(const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    return touched(key, contract_key_member(key, id));
}
