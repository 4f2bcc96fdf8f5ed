/* Tests of the codec rules of the exchange-rule ops (catalog, classify,
 * ownership, exchange, stream) and of their state records: each field rule
 * accepts its good values, refuses one past each limit with a message that
 * names the field, and every accepted message is canonical. */
#include "testutil.h"

#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"

#include <stdio.h>
#include <string.h>

static char errmsg[TDEI_ERRMSG_SIZE];
static const uint8_t root[32] = {7, 7, 7};
static const uint8_t xid[32] = {9, 9};
static uint8_t long_id[33] = {9, 9};
static uint8_t sealed[CODEC_SEALED_KEY_SIZE] = {1};
static uint8_t signer[32];

/* Encode @body and decode it again; return the decoder's code (the message
 * is in errmsg). */
static int roundtrip(Tdei__TxBody *body)
{
    Tdei__TxBody *out = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc;

    body->version = CODEC_VERSION;
    body->chain_id = (char *)(uintptr_t) "tdei-test";
    body->signer.data = signer;
    body->signer.len = sizeof(signer);
    body->nonce = 1;
    ck_assert_int_eq(codec_txbody_encode(body, &bytes, &len), 0);
    errmsg[0] = '\0';
    rc = codec_txbody_decode(&out, bytes, len, errmsg);
    ck_assert(rc == 0 ? out != NULL : out == NULL);
    codec_txbody_free(out);
    tdei_free(bytes);
    return rc;
}

#define EXPECT_OK(body)                                                        \
    do {                                                                       \
        int rc_ = roundtrip(body);                                             \
        ck_assert_msg(rc_ == 0, "refused: %s", errmsg);                        \
    } while (0)

#define EXPECT_REFUSED(body, code, text)                                       \
    do {                                                                       \
        ck_assert_int_eq(roundtrip(body), code);                               \
        ck_assert_msg(strstr(errmsg, text) != NULL,                            \
                      "message \"%s\" lacks \"%s\"", errmsg, text);            \
    } while (0)

/* ---- catalog_publish ----------------------------------------------------- */

struct publish_fx
{
    Tdei__TxBody body;
    Tdei__CatalogPublish pub;
    Tdei__PriceTerms price;
    Tdei__License license;
    char *tags[CODEC_TAGS_MAX + 2];
    char *parents[CODEC_PARENTS_MAX + 2];
    char id[80];
    char title[CODEC_TITLE_MAX + 2];
    char text[CODEC_DESCRIPTION_MAX + 2];
    char tag_store[CODEC_TAGS_MAX + 2][40];
    char parent_store[CODEC_PARENTS_MAX + 2][16];
};

static void publish_init(struct publish_fx *fx)
{
    memset(fx, 0, sizeof(*fx));
    tdei__tx_body__init(&fx->body);
    tdei__catalog_publish__init(&fx->pub);
    tdei__price_terms__init(&fx->price);
    tdei__license__init(&fx->license);
    strcpy(fx->id, "press-line-4");
    strcpy(fx->title, "Press line 4 vibration");
    fx->price.model = CODEC_PRICE_ONE_TIME;
    fx->price.amount = 120;
    fx->pub.id = fx->id;
    fx->pub.kind = CODEC_KIND_DATASET;
    fx->pub.title = fx->title;
    fx->pub.description = (char *)(uintptr_t) "";
    fx->pub.domain = CODEC_DOMAIN_PRODUCTION;
    fx->pub.level = 2;
    fx->pub.data_class = CODEC_CLASS_IMPORTANT;
    fx->pub.schema = (char *)(uintptr_t) "";
    fx->pub.price = &fx->price;
    fx->pub.license = &fx->license;
    fx->pub.content_root.data = (uint8_t *)(uintptr_t)root;
    fx->pub.content_root.len = 32;
    fx->pub.size = 4096;
    fx->pub.tags = fx->tags;
    fx->pub.parents = fx->parents;
    for (size_t i = 0; i < CODEC_TAGS_MAX + 2; i++) {
        (void)snprintf(fx->tag_store[i], sizeof(fx->tag_store[i]), "tag%02zu",
                       i);
        fx->tags[i] = fx->tag_store[i];
    }
    for (size_t i = 0; i < CODEC_PARENTS_MAX + 2; i++) {
        (void)snprintf(fx->parent_store[i], sizeof(fx->parent_store[i]),
                       "parent-%02zu", i);
        fx->parents[i] = fx->parent_store[i];
    }
    fx->body.op_case = TDEI__TX_BODY__OP_CATALOG_PUBLISH;
    fx->body.catalog_publish = &fx->pub;
}

START_TEST(test_publish_accepts_a_full_entry)
{
    struct publish_fx fx;

    publish_init(&fx);
    fx.pub.n_tags = CODEC_TAGS_MAX;
    fx.pub.n_parents = CODEC_PARENTS_MAX;
    memset(fx.text, 'd', CODEC_DESCRIPTION_MAX);
    fx.pub.description = fx.text;
    memset(fx.title, 't', CODEC_TITLE_MAX);
    EXPECT_OK(&fx.body);
    /* a stream: no root, no size, priced per record */
    publish_init(&fx);
    fx.pub.kind = CODEC_KIND_STREAM;
    fx.pub.content_root.len = 0;
    fx.pub.size = 0;
    fx.price.model = CODEC_PRICE_PER_RECORD;
    fx.price.amount = 2;
    EXPECT_OK(&fx.body);
    /* a subscription with its period; no license at all */
    publish_init(&fx);
    fx.price.model = CODEC_PRICE_SUBSCRIPTION;
    fx.price.period = 100;
    fx.pub.license = NULL;
    EXPECT_OK(&fx.body);
}
END_TEST

START_TEST(test_publish_refusals)
{
    struct publish_fx fx;

    publish_init(&fx);
    strcpy(fx.id, "ab");
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "is not an entry id");
    publish_init(&fx);
    memset(fx.id, 'a', CODEC_DATASET_ID_MAX + 1);
    fx.id[CODEC_DATASET_ID_MAX + 1] = '\0';
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "is not an entry id");
    publish_init(&fx);
    strcpy(fx.id, "Press");
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "is not an entry id");
    publish_init(&fx);
    fx.pub.kind = 3;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "kind");
    publish_init(&fx);
    fx.title[0] = '\0';
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "empty title");
    publish_init(&fx);
    memset(fx.title, 't', CODEC_TITLE_MAX + 1);
    EXPECT_REFUSED(&fx.body, TDEI_TOOBIG, "title");
    publish_init(&fx);
    memset(fx.text, 'd', CODEC_DESCRIPTION_MAX + 1);
    fx.pub.description = fx.text;
    EXPECT_REFUSED(&fx.body, TDEI_TOOBIG, "description");
    publish_init(&fx);
    strcpy(fx.text, "bad \xc0\xaf utf-8");
    fx.pub.description = fx.text;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "UTF-8");
    publish_init(&fx);
    fx.pub.n_tags = CODEC_TAGS_MAX + 1;
    EXPECT_REFUSED(&fx.body, TDEI_TOOBIG, "tags");
    publish_init(&fx);
    fx.pub.n_tags = 2;
    fx.tags[0] = fx.tag_store[1];
    fx.tags[1] = fx.tag_store[0];
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "strictly ascending");
    publish_init(&fx);
    fx.pub.n_tags = 1;
    strcpy(fx.tag_store[0], "Upper");
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "tags");
    publish_init(&fx);
    fx.pub.n_tags = 1;
    memset(fx.tag_store[0], 'x', CODEC_TAG_MAX + 1);
    fx.tag_store[0][CODEC_TAG_MAX + 1] = '\0';
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "tags");
    publish_init(&fx);
    fx.pub.domain = 0;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "domain");
    publish_init(&fx);
    fx.pub.domain = CODEC_DOMAIN_MAX + 1;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "domain");
    publish_init(&fx);
    fx.pub.level = 4;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "level");
    publish_init(&fx);
    fx.pub.level = 1;
    fx.pub.data_class = CODEC_CLASS_IMPORTANT;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "not an allowed pair");
    publish_init(&fx);
    fx.pub.level = 3;
    fx.pub.data_class = CODEC_CLASS_GENERAL;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "not an allowed pair");
    publish_init(&fx);
    fx.pub.level = 2;
    fx.pub.data_class = CODEC_CLASS_CORE;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "not an allowed pair");
    publish_init(&fx);
    fx.pub.price = NULL;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "no price terms");
    publish_init(&fx);
    fx.price.model = 4;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "price model");
    publish_init(&fx);
    fx.price.model = CODEC_PRICE_PER_RECORD;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED,
                   "per_record pricing is for "
                   "streams");
    publish_init(&fx);
    fx.price.model = CODEC_PRICE_SUBSCRIPTION;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "period");
    publish_init(&fx);
    fx.price.period = 5;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "period");
    publish_init(&fx);
    fx.pub.n_parents = CODEC_PARENTS_MAX + 1;
    EXPECT_REFUSED(&fx.body, TDEI_TOOBIG, "parents");
    publish_init(&fx);
    fx.pub.n_parents = 1;
    fx.parents[0] = fx.id;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "names itself as a parent");
    publish_init(&fx);
    fx.pub.content_root.len = 31;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "content_root");
    publish_init(&fx);
    fx.pub.kind = CODEC_KIND_STREAM;
    fx.price.model = CODEC_PRICE_PER_RECORD;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "a stream has no content_root");
    publish_init(&fx);
    fx.pub.kind = CODEC_KIND_STREAM;
    fx.pub.content_root.len = 0;
    fx.pub.size = 0;
    EXPECT_REFUSED(&fx.body, TDEI_MALFORMED, "not one_time");
}
END_TEST

/* ---- the small ops ------------------------------------------------------- */

START_TEST(test_catalog_small_ops)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogVersion v = TDEI__CATALOG_VERSION__INIT;
    Tdei__CatalogWithdraw w = TDEI__CATALOG_WITHDRAW__INIT;
    Tdei__CatalogReprice r = TDEI__CATALOG_REPRICE__INIT;
    Tdei__PriceTerms price = TDEI__PRICE_TERMS__INIT;
    Tdei__ClassifySet c = TDEI__CLASSIFY_SET__INIT;
    Tdei__ClassifyApprove a = TDEI__CLASSIFY_APPROVE__INIT;
    Tdei__OwnershipOffer o = TDEI__OWNERSHIP_OFFER__INIT;
    Tdei__OwnershipAccept acc = TDEI__OWNERSHIP_ACCEPT__INIT;
    Tdei__OwnershipCancel can = TDEI__OWNERSHIP_CANCEL__INIT;
    char *id = (char *)(uintptr_t) "press-line-4";

    body.op_case = TDEI__TX_BODY__OP_CATALOG_VERSION;
    body.catalog_version = &v;
    v.id = id;
    v.content_root.data = (uint8_t *)(uintptr_t)root;
    v.content_root.len = 32;
    EXPECT_OK(&body);
    v.content_root.len = 0;
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "content_root");

    body.op_case = TDEI__TX_BODY__OP_CATALOG_WITHDRAW;
    body.catalog_withdraw = &w;
    w.id = id;
    EXPECT_OK(&body);
    w.id = (char *)(uintptr_t) "x";
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "not an entry id");

    body.op_case = TDEI__TX_BODY__OP_CATALOG_REPRICE;
    body.catalog_reprice = &r;
    r.id = id;
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "no price terms");
    r.price = &price;
    price.model = CODEC_PRICE_SUBSCRIPTION;
    price.period = 10;
    EXPECT_OK(&body);
    price.period = 0;
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "period");

    body.op_case = TDEI__TX_BODY__OP_CLASSIFY_SET;
    body.classify_set = &c;
    c.id = id;
    c.level = 3;
    c.data_class = CODEC_CLASS_CORE;
    EXPECT_OK(&body);
    c.domain = CODEC_DOMAIN_EXTERNAL;
    EXPECT_OK(&body);
    c.domain = CODEC_DOMAIN_MAX + 1;
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "domain");
    c.domain = 0;
    c.data_class = CODEC_CLASS_GENERAL;
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "not an allowed pair");

    body.op_case = TDEI__TX_BODY__OP_CLASSIFY_APPROVE;
    body.classify_approve = &a;
    a.id = id;
    EXPECT_OK(&body);

    body.op_case = TDEI__TX_BODY__OP_OWNERSHIP_OFFER;
    body.ownership_offer = &o;
    o.id = id;
    o.to = (char *)(uintptr_t) "beta-works";
    EXPECT_OK(&body);
    o.to = (char *)(uintptr_t) "B";
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "not a member id");

    body.op_case = TDEI__TX_BODY__OP_OWNERSHIP_ACCEPT;
    body.ownership_accept = &acc;
    acc.id = id;
    EXPECT_OK(&body);
    body.op_case = TDEI__TX_BODY__OP_OWNERSHIP_CANCEL;
    body.ownership_cancel = &can;
    can.id = id;
    EXPECT_OK(&body);
}
END_TEST

START_TEST(test_exchange_ops)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeRequest req = TDEI__EXCHANGE_REQUEST__INIT;
    Tdei__ExchangeApprove ap = TDEI__EXCHANGE_APPROVE__INIT;
    Tdei__ExchangeReject rj = TDEI__EXCHANGE_REJECT__INIT;
    Tdei__ExchangeDeliver dl = TDEI__EXCHANGE_DELIVER__INIT;
    Tdei__ExchangeDispute ds = TDEI__EXCHANGE_DISPUTE__INIT;
    Tdei__ExchangeResolve rs = TDEI__EXCHANGE_RESOLVE__INIT;
    Tdei__GrantRevoke rv = TDEI__GRANT_REVOKE__INIT;
    char note[CODEC_NOTE_MAX + 2];

    memset(note, 'n', CODEC_NOTE_MAX + 1);
    note[CODEC_NOTE_MAX + 1] = '\0';
    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_REQUEST;
    body.exchange_request = &req;
    req.id = (char *)(uintptr_t) "press-line-4";
    req.price = 120;
    req.purpose = (char *)(uintptr_t) "predictive maintenance";
    EXPECT_OK(&body);
    req.purpose = note;
    EXPECT_REFUSED(&body, TDEI_TOOBIG, "purpose");
    req.purpose = (char *)(uintptr_t) "";
    req.id = (char *)(uintptr_t) "no";
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "not an entry id");

    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_APPROVE;
    body.exchange_approve = &ap;
    ap.exchange.data = (uint8_t *)(uintptr_t)xid;
    ap.exchange.len = 32;
    EXPECT_OK(&body);
    ap.exchange.data = long_id;
    ap.exchange.len = sizeof(long_id);
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "exchange id");

    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_REJECT;
    body.exchange_reject = &rj;
    rj.exchange.data = (uint8_t *)(uintptr_t)xid;
    rj.exchange.len = 32;
    rj.reason = (char *)(uintptr_t) "";
    EXPECT_OK(&body);
    rj.reason = note;
    EXPECT_REFUSED(&body, TDEI_TOOBIG, "exchange_reject");

    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_DELIVER;
    body.exchange_deliver = &dl;
    dl.exchange.data = (uint8_t *)(uintptr_t)xid;
    dl.exchange.len = 32;
    dl.sealed_key.data = sealed;
    dl.sealed_key.len = sizeof(sealed);
    EXPECT_OK(&body); /* a stream delivery: no root */
    dl.content_root.data = (uint8_t *)(uintptr_t)root;
    dl.content_root.len = 32;
    EXPECT_OK(&body);
    dl.sealed_key.len = 32;
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "sealed_key");
    dl.sealed_key.len = sizeof(sealed);
    dl.content_root.len = 16;
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "content_root");

    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_DISPUTE;
    body.exchange_dispute = &ds;
    ds.exchange.data = (uint8_t *)(uintptr_t)xid;
    ds.exchange.len = 32;
    ds.reason = (char *)(uintptr_t) "";
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "has no reason");
    ds.reason = (char *)(uintptr_t) "the root does not open the payload";
    EXPECT_OK(&body);

    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_RESOLVE;
    body.exchange_resolve = &rs;
    rs.exchange.data = (uint8_t *)(uintptr_t)xid;
    rs.exchange.len = 32;
    rs.refund = 1;
    rs.reason = (char *)(uintptr_t) "";
    EXPECT_OK(&body);

    body.op_case = TDEI__TX_BODY__OP_GRANT_REVOKE;
    body.grant_revoke = &rv;
    rv.exchange.data = (uint8_t *)(uintptr_t)xid;
    rv.exchange.len = 0;
    rv.reason = (char *)(uintptr_t) "incident 12";
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "exchange id");
    rv.exchange.len = 32;
    EXPECT_OK(&body);
}
END_TEST

START_TEST(test_stream_ops)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__StreamOpen op = TDEI__STREAM_OPEN__INIT;
    Tdei__StreamAppend ap = TDEI__STREAM_APPEND__INIT;
    Tdei__StreamClose cl = TDEI__STREAM_CLOSE__INIT;

    body.op_case = TDEI__TX_BODY__OP_STREAM_OPEN;
    body.stream_open = &op;
    op.id = (char *)(uintptr_t) "press-live";
    EXPECT_OK(&body);
    op.id = (char *)(uintptr_t) "p";
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "not an entry id");

    body.op_case = TDEI__TX_BODY__OP_STREAM_APPEND;
    body.stream_append = &ap;
    ap.id = (char *)(uintptr_t) "press-live";
    ap.seq_first = 0;
    ap.count = 10;
    ap.first_ts = 1000;
    ap.last_ts = 1900;
    ap.batch_root.data = (uint8_t *)(uintptr_t)root;
    ap.batch_root.len = 32;
    EXPECT_OK(&body);
    ap.count = 0;
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "count is 0");
    ap.count = 2;
    ap.seq_first = UINT64_MAX;
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "overflows");
    ap.seq_first = UINT64_MAX - 1; /* the last two numbers: fine */
    EXPECT_OK(&body);
    ap.seq_first = 5;
    ap.first_ts = 2000;
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "monotonic");
    ap.count = 1;
    ap.first_ts = 1000;
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "one record but two");
    ap.last_ts = 1000;
    EXPECT_OK(&body);
    ap.batch_root.len = 0;
    EXPECT_REFUSED(&body, TDEI_MALFORMED, "batch_root");

    body.op_case = TDEI__TX_BODY__OP_STREAM_CLOSE;
    body.stream_close = &cl;
    cl.id = (char *)(uintptr_t) "press-live";
    EXPECT_OK(&body);
}
END_TEST

/* ---- records ------------------------------------------------------------- */

/* Encode @msg, run @decode on it and expect the code @want. */
#define EXPECT_RECORD(msg, type, decode, freer, want)                          \
    do {                                                                       \
        uint8_t *b_ = NULL;                                                    \
        size_t l_ = 0;                                                         \
        type *o_ = NULL;                                                       \
        int r_;                                                                \
        ck_assert_int_eq(codec_encode(&(msg)->base, &b_, &l_), 0);             \
        r_ = decode(&o_, b_, l_, errmsg);                                      \
        ck_assert(r_ == 0 ? o_ != NULL : o_ == NULL);                          \
        freer(o_);                                                             \
        tdei_free(b_);                                                         \
        ck_assert_msg(r_ == (want), "%s: code %d, wanted %d (%s)", #msg, r_,   \
                      (int)(want), errmsg);                                    \
    } while (0)

START_TEST(test_record_rules)
{
    Tdei__Dataset d = TDEI__DATASET__INIT;
    Tdei__PriceTerms price = TDEI__PRICE_TERMS__INIT;
    Tdei__DatasetVersion v = TDEI__DATASET_VERSION__INIT;
    Tdei__Exchange x = TDEI__EXCHANGE__INIT;
    Tdei__GrantRef g = TDEI__GRANT_REF__INIT;
    Tdei__Stream s = TDEI__STREAM__INIT;
    Tdei__DueList due = TDEI__DUE_LIST__INIT;
    uint8_t ids[2][32] = {{1}, {2}};
    ProtobufCBinaryData subs[2] = {{32, ids[0]}, {32, ids[1]}};

    price.model = CODEC_PRICE_ONE_TIME;
    d.id = (char *)(uintptr_t) "press-line-4";
    d.kind = CODEC_KIND_DATASET;
    d.title = (char *)(uintptr_t) "Press line 4";
    d.domain = CODEC_DOMAIN_PRODUCTION;
    d.level = 1;
    d.data_class = CODEC_CLASS_GENERAL;
    d.price = &price;
    d.content_root.data = (uint8_t *)(uintptr_t)root;
    d.content_root.len = 32;
    d.owner = (char *)(uintptr_t) "acme-steel";
    d.publisher = d.owner;
    d.version = 1;
    d.status = CODEC_DATASET_ACTIVE;
    EXPECT_RECORD(&d, Tdei__Dataset, codec_dataset_decode, codec_dataset_free,
                  0);
    d.offer_to = (char *)(uintptr_t) "Beta";
    EXPECT_RECORD(&d, Tdei__Dataset, codec_dataset_decode, codec_dataset_free,
                  TDEI_MALFORMED);
    d.offer_to = (char *)(uintptr_t) "beta-works";
    d.pending_level = 1;
    d.pending_class = CODEC_CLASS_CORE;
    EXPECT_RECORD(&d, Tdei__Dataset, codec_dataset_decode, codec_dataset_free,
                  TDEI_MALFORMED);
    d.pending_class = CODEC_CLASS_GENERAL;
    EXPECT_RECORD(&d, Tdei__Dataset, codec_dataset_decode, codec_dataset_free,
                  0);
    d.version = 0;
    EXPECT_RECORD(&d, Tdei__Dataset, codec_dataset_decode, codec_dataset_free,
                  TDEI_MALFORMED);
    d.version = 1;
    d.status = 3;
    EXPECT_RECORD(&d, Tdei__Dataset, codec_dataset_decode, codec_dataset_free,
                  TDEI_MALFORMED);

    v.version = 1;
    v.content_root.data = (uint8_t *)(uintptr_t)root;
    v.content_root.len = 32;
    EXPECT_RECORD(&v, Tdei__DatasetVersion, codec_dataset_version_decode,
                  codec_dataset_version_free, 0);
    v.version = 2; /* a later version links to the one before */
    EXPECT_RECORD(&v, Tdei__DatasetVersion, codec_dataset_version_decode,
                  codec_dataset_version_free, TDEI_MALFORMED);
    v.prev_root = v.content_root;
    EXPECT_RECORD(&v, Tdei__DatasetVersion, codec_dataset_version_decode,
                  codec_dataset_version_free, 0);

    x.id.data = (uint8_t *)(uintptr_t)xid;
    x.id.len = 32;
    x.dataset = d.id;
    x.kind = CODEC_KIND_DATASET;
    x.model = CODEC_PRICE_ONE_TIME;
    x.level = 3;
    x.data_class = CODEC_CLASS_CORE;
    x.consumer = (char *)(uintptr_t) "beta-works";
    x.owner = d.owner;
    x.status = CODEC_EXCHANGE_REQUESTED;
    x.purpose = (char *)(uintptr_t) "";
    x.note = (char *)(uintptr_t) "";
    x.owner_approval = (char *)(uintptr_t) "";
    x.regulator_approval = (char *)(uintptr_t) "";
    EXPECT_RECORD(&x, Tdei__Exchange, codec_exchange_decode,
                  codec_exchange_free, 0);
    x.status = CODEC_EXCHANGE_ENDED + 1;
    EXPECT_RECORD(&x, Tdei__Exchange, codec_exchange_decode,
                  codec_exchange_free, TDEI_MALFORMED);
    x.status = CODEC_EXCHANGE_DELIVERED;
    x.sealed_key.data = sealed;
    x.sealed_key.len = 79;
    EXPECT_RECORD(&x, Tdei__Exchange, codec_exchange_decode,
                  codec_exchange_free, TDEI_MALFORMED);

    g.exchange.data = (uint8_t *)(uintptr_t)xid;
    g.exchange.len = 31;
    EXPECT_RECORD(&g, Tdei__GrantRef, codec_grant_ref_decode,
                  codec_grant_ref_free, TDEI_MALFORMED);

    s.id = (char *)(uintptr_t) "press-live";
    s.status = CODEC_STREAM_OPEN;
    s.n_subscriptions = 2;
    s.subscriptions = subs;
    EXPECT_RECORD(&s, Tdei__Stream, codec_stream_decode, codec_stream_free, 0);
    subs[0].data = ids[1];
    subs[1].data = ids[0];
    EXPECT_RECORD(&s, Tdei__Stream, codec_stream_decode, codec_stream_free,
                  TDEI_MALFORMED);
    ck_assert_ptr_nonnull(strstr(errmsg, "strictly ascending"));

    due.n_exchanges = 2;
    due.exchanges = subs;
    EXPECT_RECORD(&due, Tdei__DueList, codec_due_list_decode,
                  codec_due_list_free, 0);
    due.pages = CODEC_DUE_PAGES_MAX;
    EXPECT_RECORD(&due, Tdei__DueList, codec_due_list_decode,
                  codec_due_list_free, 0);
    due.pages = CODEC_DUE_PAGES_MAX + 1;
    EXPECT_RECORD(&due, Tdei__DueList, codec_due_list_decode,
                  codec_due_list_free, TDEI_MALFORMED);
    due.pages = 0;
    subs[1].len = 3;
    EXPECT_RECORD(&due, Tdei__DueList, codec_due_list_decode,
                  codec_due_list_free, TDEI_MALFORMED);
}
END_TEST

START_TEST(test_labels_and_names)
{
    ck_assert(codec_labels_allowed(1, CODEC_CLASS_GENERAL));
    ck_assert(!codec_labels_allowed(1, CODEC_CLASS_IMPORTANT));
    ck_assert(!codec_labels_allowed(1, CODEC_CLASS_CORE));
    ck_assert(codec_labels_allowed(2, CODEC_CLASS_GENERAL));
    ck_assert(codec_labels_allowed(2, CODEC_CLASS_IMPORTANT));
    ck_assert(!codec_labels_allowed(2, CODEC_CLASS_CORE));
    ck_assert(!codec_labels_allowed(3, CODEC_CLASS_GENERAL));
    ck_assert(codec_labels_allowed(3, CODEC_CLASS_IMPORTANT));
    ck_assert(codec_labels_allowed(3, CODEC_CLASS_CORE));
    ck_assert(!codec_labels_allowed(0, CODEC_CLASS_GENERAL));
    ck_assert(!codec_labels_allowed(4, CODEC_CLASS_CORE));
    ck_assert(!codec_labels_allowed(2, 0));
    ck_assert_str_eq(codec_domain_name(CODEC_DOMAIN_RD), "rd");
    ck_assert_str_eq(codec_domain_name(CODEC_DOMAIN_EXTERNAL), "external");
    ck_assert_str_eq(codec_domain_name(6), "?");
    ck_assert_str_eq(codec_class_name(CODEC_CLASS_CORE), "core");
    ck_assert_str_eq(codec_price_model_name(CODEC_PRICE_PER_RECORD),
                     "per_record");
    ck_assert_str_eq(codec_exchange_status_name(CODEC_EXCHANGE_ENDED), "ended");
    ck_assert_str_eq(codec_exchange_status_name(0), "?");
    ck_assert(codec_dataset_id_valid("abc"));
    ck_assert(!codec_dataset_id_valid("ab"));
    ck_assert(!codec_dataset_id_valid("a_c"));
}
END_TEST

static Suite *rules_suite(void)
{
    Suite *suite = suite_create("codec_rules");
    TCase *tc = tcase_create("ops");

    tcase_add_checked_fixture(tc, testutil_leak_setup, testutil_leak_teardown);
    tcase_add_test(tc, test_publish_accepts_a_full_entry);
    tcase_add_test(tc, test_publish_refusals);
    tcase_add_test(tc, test_catalog_small_ops);
    tcase_add_test(tc, test_exchange_ops);
    tcase_add_test(tc, test_stream_ops);
    tcase_add_test(tc, test_record_rules);
    tcase_add_test(tc, test_labels_and_names);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    memset(signer, 0x11, sizeof(signer));
    return testutil_run(rules_suite());
}
