/* Tests of catalog search (search/search.h) over real LMDB stores: the
 * tokenizer (ASCII case, separators, UTF-8, the 2-32 byte limits, the
 * cap), the posting key layout, index maintenance through real store
 * batches (add, update writes only the difference, delete, the
 * per-entry cap, other index keys untouched, damaged records refused),
 * queries on a small catalog with hand-computed answers (AND, scores,
 * ties by id, every filter, paging, no words), every refusal of a bad
 * query, and 10,000 entries checked exactly against a naive reference
 * for word queries, each filter, ranking order and paging. */
#include "testutil.h"

#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "search/search.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX (256u * 1024u * 1024u)
#define KEYS_MAX 4096u /* index keys a small test lists */

static char tmpdir[4096];
static char errmsg[TDEI_ERRMSG_SIZE];
static struct store *st;

static void setup(void)
{
    char dir[4200];

    testutil_leak_setup();
    (void)snprintf(tmpdir, sizeof(tmpdir), "%s", testutil_tmpdir());
    (void)snprintf(dir, sizeof(dir), "%s/ledger", tmpdir);
    errmsg[0] = '\0';
    ck_assert_msg(store_open(&st, dir, NULL, errmsg) == 0, "%s", errmsg);
}

static void teardown(void)
{
    store_close(st);
    st = NULL;
    testutil_rmtree(tmpdir);
    testutil_leak_teardown();
}

/* ---- building records ---------------------------------------------------- */

/* What a test entry holds; the rest of the record is fixed. */
struct entry_spec
{
    const char *id;
    uint32_t kind; /* 1 dataset, 2 stream */
    const char *title;
    const char *desc;
    const char *tags[4]; /* strictly ascending, NULL-terminated */
    uint32_t level;
    uint32_t data_class;
    uint32_t domain;
    const char *owner;
    uint64_t price;
    uint32_t status; /* 1 active, 2 withdrawn */
};

/* Encode @e as a Dataset record (tdei_malloc'd). */
static void record_encode(const struct entry_spec *e, uint8_t **buf,
                          size_t *len)
{
    static uint8_t root[32] = {7};
    Tdei__Dataset d = TDEI__DATASET__INIT;
    Tdei__PriceTerms price = TDEI__PRICE_TERMS__INIT;
    Tdei__Dataset *back = NULL;
    size_t n_tags = 0;

    while (n_tags < 4 && e->tags[n_tags] != NULL) {
        n_tags++;
    }
    d.id = (char *)e->id;
    d.kind = e->kind;
    d.title = (char *)e->title;
    d.description = (char *)(e->desc != NULL ? e->desc : "");
    d.n_tags = n_tags;
    d.tags = (char **)e->tags;
    d.domain = e->domain;
    d.level = e->level;
    d.data_class = e->data_class;
    price.model = e->kind == CODEC_KIND_STREAM ? CODEC_PRICE_PER_RECORD
                                               : CODEC_PRICE_ONE_TIME;
    price.amount = e->price;
    d.price = &price;
    if (e->kind == CODEC_KIND_DATASET) {
        d.content_root = (ProtobufCBinaryData){32, root};
    }
    d.owner = (char *)e->owner;
    d.publisher = (char *)e->owner;
    d.version = 1;
    d.status = e->status;
    d.created_height = 1;
    d.updated_height = 1;
    ck_assert_int_eq(codec_encode(&d.base, buf, len), 0);
    /* The index refuses what the decoder refuses: the spec must be valid. */
    ck_assert_msg(codec_dataset_decode(&back, *buf, *len, errmsg) == 0,
                  "entry %s: %s", e->id, errmsg);
    codec_dataset_free(back);
}

/* Put a Member record for @id with @role into the state. */
static void member_put(struct store_batch *b, const char *id, uint32_t role)
{
    static uint8_t key32[32] = {1};
    ProtobufCBinaryData opkey = {32, key32};
    Tdei__Member m = TDEI__MEMBER__INIT;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t *buf;
    size_t len;

    m.id = (char *)id;
    m.name = (char *)id;
    m.role = role;
    m.node_key = opkey;
    m.encryption_key = opkey;
    m.n_operator_keys = 1;
    m.operator_keys = &opkey;
    m.status = CODEC_MEMBER_ACTIVE;
    ck_assert_int_eq(codec_encode(&m.base, &buf, &len), 0);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE, key,
                                     contract_key_member(key, id), buf, len),
                     0);
    tdei_free(buf);
}

/* One write of a test "block": put @spec, or delete entry @id (spec
 * NULL), or put raw bytes. */
struct test_write
{
    const struct entry_spec *spec;
    const char *id;     /* for a delete or raw bytes */
    const uint8_t *raw; /* raw value for id */
    size_t raw_len;
};

static int write_cmp(const void *pa, const void *pb)
{
    const struct state_write *a = pa;
    const struct state_write *b = pb;
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = memcmp(a->key, b->key, n);

    return c != 0 ? c : (a->klen < b->klen ? -1 : a->klen > b->klen);
}

/* Commit @n writes as one block would: the state writes, then
 * search_index_update against the parent snapshot. Returns the
 * update's code (the batch is committed only on 0); *@index_ops gets the
 * index ops it appended (may be NULL). */
static int block_apply(const struct test_write *tw, size_t n, size_t *index_ops)
{
    struct state_write *w = tdei_calloc(n, sizeof(*w));
    uint8_t(*keys)[CONTRACT_KEY_SIZE_MAX] = tdei_calloc(n, sizeof(*keys));
    uint8_t **vals = tdei_calloc(n, sizeof(*vals));
    struct store_batch *b;
    struct store_read *r;
    size_t before;
    int rc;

    ck_assert(w != NULL && keys != NULL && vals != NULL);
    for (size_t i = 0; i < n; i++) {
        const char *id = tw[i].spec != NULL ? tw[i].spec->id : tw[i].id;
        w[i].key = keys[i];
        w[i].klen = contract_key_dataset(keys[i], id);
        if (tw[i].spec != NULL) {
            record_encode(tw[i].spec, &vals[i], &w[i].vlen);
            w[i].val = vals[i];
            w[i].kind = STATE_PUT;
        } else if (tw[i].raw != NULL) {
            w[i].val = tw[i].raw;
            w[i].vlen = tw[i].raw_len;
            w[i].kind = STATE_PUT;
        } else {
            w[i].kind = STATE_DEL;
        }
    }
    qsort(w, n, sizeof(*w), write_cmp);
    ck_assert_int_eq(store_batch_create(&b, BATCH_MAX), 0);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(
            w[i].kind == STATE_PUT
                ? store_batch_put(b, STORE_DB_STATE, w[i].key, w[i].klen,
                                  w[i].val, w[i].vlen)
                : store_batch_del(b, STORE_DB_STATE, w[i].key, w[i].klen),
            0);
    }
    before = store_batch_ops(b);
    ck_assert_int_eq(store_read_begin(st, &r, errmsg), 0);
    rc = search_index_update(b, r, w, n, errmsg);
    store_read_end(r);
    if (index_ops != NULL) {
        *index_ops = store_batch_ops(b) - before;
    }
    if (rc == 0) {
        ck_assert_msg(store_commit(st, b, errmsg) == 0, "%s", errmsg);
    }
    store_batch_destroy(b);
    for (size_t i = 0; i < n; i++) {
        tdei_free(vals[i]);
    }
    tdei_free(vals);
    tdei_free(keys);
    tdei_free(w);
    return rc;
}

static void put_entry(const struct entry_spec *e)
{
    struct test_write tw = {.spec = e};

    ck_assert_msg(block_apply(&tw, 1, NULL) == 0, "%s", errmsg);
}

/* The index keys under "tok/" as "f token id" strings, in key order, into
 * @out (KEYS_MAX entries of 128 bytes); returns the count. Other index
 * keys are counted in *@other. */
static size_t index_list(char (*out)[128], size_t *other)
{
    struct store_read *r;
    struct store_iter it;
    const uint8_t *key;
    size_t klen;
    size_t n = 0;

    *other = 0;
    ck_assert_int_eq(store_read_begin(st, &r, errmsg), 0);
    ck_assert_int_eq(
        store_iter_init(&it, r, STORE_DB_INDEX, NULL, 0, NULL, 0, 0), 0);
    while (store_iter_next(&it, &key, &klen, NULL, NULL) == 0) {
        const uint8_t *zero;
        size_t tlen;
        if (klen < 5 || memcmp(key, "tok/", 4) != 0) {
            (*other)++;
            continue;
        }
        zero = memchr(key + 5, 0, klen - 5);
        ck_assert_ptr_nonnull(zero);
        tlen = (size_t)(zero - (key + 5));
        ck_assert_uint_lt(n, KEYS_MAX);
        (void)snprintf(out[n], 128, "%c %.*s %.*s", key[4], (int)tlen,
                       (const char *)key + 5, (int)(klen - 6 - tlen),
                       (const char *)zero + 1);
        n++;
    }
    store_iter_close(&it);
    store_read_end(r);
    return n;
}

/* Assert that the "tok/" keys are exactly @want (NULL-terminated). */
static void expect_index(const char *const *want)
{
    static char got[KEYS_MAX][128];
    size_t other;
    size_t n = index_list(got, &other);
    size_t w = 0;

    while (want[w] != NULL) {
        ck_assert_msg(w < n, "index has %zu keys; missing \"%s\"", n, want[w]);
        ck_assert_str_eq(got[w], want[w]);
        w++;
    }
    ck_assert_msg(n == w, "index has %zu keys, expected %zu; extra \"%s\"", n,
                  w, n > w ? got[w] : "");
}

/* ---- tokens -------------------------------------------------------------- */

/* Tokenize @text and assert the tokens are @want (NULL-terminated). */
static void expect_tokens(const char *text, const char *const *want)
{
    struct search_token toks[64];
    size_t n =
        search_tokenize((const uint8_t *)text, strlen(text), toks, 64, NULL);
    size_t w = 0;

    for (; want[w] != NULL; w++) {
        ck_assert_msg(w < n, "\"%s\": %zu tokens, missing \"%s\"", text, n,
                      want[w]);
        ck_assert_uint_eq(toks[w].len, strlen(want[w]));
        ck_assert_msg(memcmp(toks[w].bytes, want[w], toks[w].len) == 0,
                      "\"%s\" token %zu is \"%.*s\", expected \"%s\"", text, w,
                      (int)toks[w].len, (const char *)toks[w].bytes, want[w]);
    }
    ck_assert_uint_eq(n, w);
}

START_TEST(test_search_tokenize_ascii_lowercases_and_splits)
{
    expect_tokens("Hello, World! CNC-Spindle v2_ok.3d",
                  (const char *[]){"hello", "world", "cnc", "spindle", "v2",
                                   "ok", "3d", NULL});
    expect_tokens("a b cd e\tFG\nh ij",
                  (const char *[]){"cd", "fg", "ij", NULL});
    expect_tokens("", (const char *[]){NULL});
    expect_tokens("-- ! ?", (const char *[]){NULL});
    expect_tokens("2024 07", (const char *[]){"2024", "07", NULL});
}
END_TEST

START_TEST(test_search_tokenize_keeps_utf8_words)
{
    /* CJK without spaces is one token; é is kept as its bytes and not
     * case-folded (only ASCII is). */
    expect_tokens("数控机床 主轴,温度",
                  (const char *[]){"数控机床", "主轴", "温度", NULL});
    expect_tokens("Café NAÏVE", (const char *[]){"café", "naÏve", NULL});
    /* A lone multi-byte character is 2-3 bytes: a token. */
    expect_tokens("é x", (const char *[]){"é", NULL});
}
END_TEST

START_TEST(test_search_tokenize_limits)
{
    char text[128];
    struct search_token toks[2];
    size_t too_long = 99;
    size_t n;

    /* 32 bytes is a token; 33 is not, and is counted as too long. */
    memset(text, 'a', 32);
    (void)snprintf(text + 32, sizeof(text) - 32, " %s", "");
    n = search_tokenize((const uint8_t *)text, 33, toks, 2, &too_long);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(toks[0].len, 32);
    ck_assert_uint_eq(too_long, 0);
    memset(text, 'B', 33);
    memcpy(text + 33, " ok", 4);
    n = search_tokenize((const uint8_t *)text, 36, toks, 2, &too_long);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(too_long, 1);
    ck_assert_int_eq(memcmp(toks[0].bytes, "ok", 2), 0);
    /* 40 bytes of UTF-8 in one run: too long too. */
    n = search_tokenize((const uint8_t *)"数控机床数控机床数控机床数控", 42,
                        NULL, 0, &too_long);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(too_long, 1);
    /* The count goes past the cap; only @cap are stored. */
    n = search_tokenize((const uint8_t *)"aa bb cc dd", 11, toks, 2, NULL);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(memcmp(toks[1].bytes, "bb", 2), 0);
}
END_TEST

START_TEST(test_search_posting_key_layout)
{
    static const uint8_t want[] = {'t', 'o', 'k', '/', 'g', 'p', 'u',
                                   'm', 'p', 0,   'e', '-', '0', '1'};
    struct search_token tok = {.len = 4, .bytes = "pump"};
    uint8_t key[SEARCH_KEY_SIZE_MAX];
    size_t klen = search_posting_key(key, SEARCH_FIELD_TAG, &tok, "e-01", 4);

    ck_assert_uint_eq(klen, sizeof(want));
    ck_assert_int_eq(memcmp(key, want, sizeof(want)), 0);
    ck_assert_uint_eq(SEARCH_KEY_SIZE_MAX, 4 + 1 + 32 + 1 + 64);
}
END_TEST

/* ---- index maintenance --------------------------------------------------- */

static const struct entry_spec pump_v1 = {
    .id = "pump-01",
    .kind = CODEC_KIND_DATASET,
    .title = "Pump pump PUMP Flow",
    .desc = "flow a x pump",
    .tags = {"pump", NULL},
    .level = 1,
    .data_class = 1,
    .domain = 2,
    .owner = "acme-steel",
    .price = 100,
    .status = CODEC_DATASET_ACTIVE,
};

START_TEST(test_search_index_add_update_delete)
{
    struct entry_spec v2 = pump_v1;
    struct entry_spec other = pump_v1;
    struct test_write del = {.id = "pump-01"};
    size_t ops = 0;

    put_entry(&pump_v1);
    /* Repeats collapse per field; the same word in two fields is two
     * postings; 1-byte runs are not indexed. */
    expect_index((const char *[]){"d flow pump-01", "d pump pump-01",
                                  "g pump pump-01", "t flow pump-01",
                                  "t pump pump-01", NULL});
    v2.title = "Pump valve";
    v2.tags[0] = NULL;
    {
        struct test_write tw = {.spec = &v2};
        ck_assert_int_eq(block_apply(&tw, 1, &ops), 0);
    }
    /* Only the difference is written: -g pump, -t flow, +t valve. */
    ck_assert_uint_eq(ops, 3);
    expect_index((const char *[]){"d flow pump-01", "d pump pump-01",
                                  "t pump pump-01", "t valve pump-01", NULL});
    /* Writing the same record again changes nothing. */
    {
        struct test_write tw = {.spec = &v2};
        ck_assert_int_eq(block_apply(&tw, 1, &ops), 0);
    }
    ck_assert_uint_eq(ops, 0);
    other.id = "pump-02";
    other.title = "Valve";
    other.desc = "";
    other.tags[0] = NULL;
    put_entry(&other);
    ck_assert_int_eq(block_apply(&del, 1, &ops), 0);
    ck_assert_uint_eq(ops, 4);
    expect_index((const char *[]){"t valve pump-02", NULL});
}
END_TEST

START_TEST(test_search_index_several_entries_in_one_block)
{
    struct entry_spec a = pump_v1;
    struct entry_spec b = pump_v1;
    struct test_write tw[2] = {{.spec = &b}, {.spec = &a}};

    a.id = "aa-01";
    a.title = "Gearbox";
    a.desc = "";
    a.tags[0] = NULL;
    b.id = "bb-01";
    b.title = "Gearbox oil";
    b.desc = "";
    b.tags[0] = NULL;
    ck_assert_int_eq(block_apply(tw, 2, NULL), 0);
    expect_index((const char *[]){"t gearbox aa-01", "t gearbox bb-01",
                                  "t oil bb-01", NULL});
}
END_TEST

START_TEST(test_search_index_leaves_other_keys)
{
    static const uint8_t hist[] = "hist/\x09x";
    struct store_batch *b;
    size_t other = 0;
    static char got[KEYS_MAX][128];

    ck_assert_int_eq(store_batch_create(&b, BATCH_MAX), 0);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_INDEX, hist, sizeof(hist) - 1,
                                     (const uint8_t *)"v", 1),
                     0);
    ck_assert_int_eq(store_commit(st, b, errmsg), 0);
    store_batch_destroy(b);
    put_entry(&pump_v1);
    {
        struct test_write del = {.id = "pump-01"};
        ck_assert_int_eq(block_apply(&del, 1, NULL), 0);
    }
    ck_assert_uint_eq(index_list(got, &other), 0);
    ck_assert_uint_eq(other, 1);
}
END_TEST

START_TEST(test_search_index_caps_postings_per_entry)
{
    struct entry_spec big = pump_v1;
    static char desc[CODEC_DESCRIPTION_MAX + 1];
    static char got[KEYS_MAX][128];
    size_t pos = 0;
    size_t other;
    size_t n;
    int seen_last_kept = 0;

    /* 600 distinct description words after one title word: the title and
     * the first 511 description words make the 512 postings. */
    for (unsigned i = 0; i < 600; i++) {
        pos += (size_t)snprintf(desc + pos, sizeof(desc) - pos, "w%03u ", i);
    }
    ck_assert_uint_le(pos, CODEC_DESCRIPTION_MAX);
    big.title = "Big";
    big.desc = desc;
    big.tags[0] = NULL;
    put_entry(&big);
    n = index_list(got, &other);
    ck_assert_uint_eq(n, SEARCH_ENTRY_TOKENS_MAX);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(strcmp(got[i], "d w511 pump-01") != 0,
                      "w511 is past the cap");
        seen_last_kept |= strcmp(got[i], "d w510 pump-01") == 0;
    }
    ck_assert(seen_last_kept);
    ck_assert_str_eq(got[n - 1], "t big pump-01");
}
END_TEST

START_TEST(test_search_index_refuses_damaged_records)
{
    static const uint8_t junk[] = {0xff, 0xff, 0x01};
    struct test_write raw = {
        .id = "pump-01", .raw = junk, .raw_len = sizeof(junk)};
    struct entry_spec wrong = pump_v1;

    /* A new record that does not decode. */
    ck_assert_int_eq(block_apply(&raw, 1, NULL), TDEI_CORRUPT);
    ck_assert_msg(strstr(errmsg, "pump-01") != NULL, "%s", errmsg);
    /* A record stored under another entry's key. */
    wrong.id = "pump-02";
    {
        uint8_t *buf;
        size_t len;
        struct test_write tw = {.id = "pump-01"};
        record_encode(&wrong, &buf, &len);
        tw.raw = buf;
        tw.raw_len = len;
        ck_assert_int_eq(block_apply(&tw, 1, NULL), TDEI_CORRUPT);
        tdei_free(buf);
    }
    /* A stored record that does not decode (the state was damaged). */
    {
        struct store_batch *b;
        uint8_t key[CONTRACT_KEY_SIZE_MAX];
        ck_assert_int_eq(store_batch_create(&b, BATCH_MAX), 0);
        ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE, key,
                                         contract_key_dataset(key, "pump-01"),
                                         junk, sizeof(junk)),
                         0);
        ck_assert_int_eq(store_commit(st, b, errmsg), 0);
        store_batch_destroy(b);
    }
    {
        struct test_write tw = {.spec = &pump_v1};
        ck_assert_int_eq(block_apply(&tw, 1, NULL), TDEI_CORRUPT);
        ck_assert_msg(strstr(errmsg, "stored") != NULL, "%s", errmsg);
    }
}
END_TEST

/* ---- queries on a small catalog ------------------------------------------ */

static const struct entry_spec small[] = {
    {"pump-01",
     1,
     "Pump vibration data",
     "Hourly vibration of centrifugal "
     "pumps",
     {"pump", "vibration", NULL},
     1,
     1,
     2,
     "acme-steel",
     100,
     1},
    {"pump-02",
     2,
     "Spindle temperature",
     "temperature of the pump motor",
     {"cnc", NULL},
     2,
     2,
     3,
     "beta-works",
     500,
     1},
    {"pump-03", 1, "Pump pressure", "", {NULL}, 3, 3, 2, "acme-steel", 0, 2},
    {"motor-01",
     1,
     "Motor current",
     "vibration",
     {"pump", NULL},
     1,
     1,
     1,
     "pub-svc",
     50,
     1},
    {"cn-01",
     1,
     "数控机床 主轴 温度",
     "Café naïve",
     {NULL},
     2,
     1,
     4,
     "beta-works",
     1000,
     1},
    {"zeta-01", 1, "Gearbox oil", "", {NULL}, 1, 1, 5, "pub-svc", 20, 1},
    {"alpha-01", 1, "Gearbox oil", "", {NULL}, 1, 1, 5, "pub-svc", 20, 1},
};
#define SMALL_COUNT (sizeof(small) / sizeof(small[0]))

static void small_catalog(void)
{
    struct test_write tw[SMALL_COUNT];
    struct store_batch *b;

    ck_assert_int_eq(store_batch_create(&b, BATCH_MAX), 0);
    member_put(b, "acme-steel", TDEI_ROLE_MANUFACTURER);
    member_put(b, "beta-works", TDEI_ROLE_PLATFORM);
    member_put(b, "pub-svc", TDEI_ROLE_PUBLIC_SERVICE);
    ck_assert_int_eq(store_commit(st, b, errmsg), 0);
    store_batch_destroy(b);
    for (size_t i = 0; i < SMALL_COUNT; i++) {
        tw[i] = (struct test_write){.spec = &small[i]};
    }
    ck_assert_msg(block_apply(tw, SMALL_COUNT, NULL) == 0, "%s", errmsg);
}

static struct search_query query_default(void)
{
    struct search_query q = {0};

    q.price_max = UINT64_MAX;
    q.limit = SEARCH_LIMIT_DEFAULT;
    return q;
}

/* Run @q and assert the page is "id:score" pairs @want (NULL-terminated)
 * and the total @total. */
static void expect_query(const struct search_query *q, uint64_t total,
                         const char *const *want)
{
    struct search_result *res = tdei_malloc(sizeof(*res));
    struct store_read *r;
    size_t w = 0;
    int rc;

    ck_assert_ptr_nonnull(res);
    ck_assert_int_eq(store_read_begin(st, &r, errmsg), 0);
    rc = search_query_run(r, q, res, errmsg);
    ck_assert_msg(rc == 0, "query: %s", errmsg);
    for (; want[w] != NULL; w++) {
        char got[96];
        Tdei__Dataset *d = NULL;
        ck_assert_msg(w < res->count, "%zu hits; missing %s", res->count,
                      want[w]);
        (void)snprintf(got, sizeof(got), "%s:%" PRIu32, res->hits[w].id,
                       res->hits[w].score);
        ck_assert_str_eq(got, want[w]);
        /* The hit carries its own record. */
        ck_assert_int_eq(codec_dataset_decode(&d, res->hits[w].record,
                                              res->hits[w].record_len, errmsg),
                         0);
        ck_assert_str_eq(d->id, res->hits[w].id);
        codec_dataset_free(d);
    }
    ck_assert_msg(res->count == w, "%zu hits, expected %zu", res->count, w);
    ck_assert_uint_eq(res->total, total);
    store_read_end(r);
    tdei_free(res);
}

START_TEST(test_search_query_words_and_scores)
{
    struct search_query q = query_default();
    const char *words[3];

    small_catalog();
    q.words = words;
    q.word_count = 1;
    /* pump-01: title 3 + tag 2 ("pumps" in its description is another
     * word); motor-01: tag 2; pump-02: description 1; pump-03 is
     * withdrawn. */
    words[0] = "pump";
    expect_query(
        &q, 3, (const char *[]){"pump-01:5", "motor-01:2", "pump-02:1", NULL});
    words[0] = "PUMP";
    expect_query(
        &q, 3, (const char *[]){"pump-01:5", "motor-01:2", "pump-02:1", NULL});
    /* AND over two words, in either order. */
    q.word_count = 2;
    words[0] = "pump";
    words[1] = "Vibration";
    expect_query(&q, 2, (const char *[]){"pump-01:11", "motor-01:3", NULL});
    words[0] = "vibration";
    words[1] = "pump";
    expect_query(&q, 2, (const char *[]){"pump-01:11", "motor-01:3", NULL});
    /* One word made of two tokens is two words. */
    q.word_count = 1;
    words[0] = "pump-vibration";
    expect_query(&q, 2, (const char *[]){"pump-01:11", "motor-01:3", NULL});
    /* A repeated word counts once. */
    q.word_count = 3;
    words[0] = "pump";
    words[1] = "pump";
    words[2] = "Pump";
    expect_query(
        &q, 3, (const char *[]){"pump-01:5", "motor-01:2", "pump-02:1", NULL});
    /* A word nobody has; and one that only a withdrawn entry has. */
    q.word_count = 2;
    words[0] = "pump";
    words[1] = "nowhere";
    expect_query(&q, 0, (const char *[]){NULL});
    q.word_count = 1;
    words[0] = "pressure";
    expect_query(&q, 0, (const char *[]){NULL});
    q.status = SEARCH_STATUS_ANY;
    expect_query(&q, 1, (const char *[]){"pump-03:3", NULL});
    words[0] = "pump";
    expect_query(&q, 4,
                 (const char *[]){"pump-01:5", "pump-03:3", "motor-01:2",
                                  "pump-02:1", NULL});
}
END_TEST

START_TEST(test_search_query_utf8_and_ties)
{
    struct search_query q = query_default();
    const char *words[1];

    small_catalog();
    q.words = words;
    q.word_count = 1;
    words[0] = "主轴";
    expect_query(&q, 1, (const char *[]){"cn-01:3", NULL});
    words[0] = "café";
    expect_query(&q, 1, (const char *[]){"cn-01:1", NULL});
    /* Only ASCII is case-folded. */
    words[0] = "CAFÉ";
    expect_query(&q, 0, (const char *[]){NULL});
    /* A part of a CJK phrase is not a word of it. */
    words[0] = "机床";
    expect_query(&q, 0, (const char *[]){NULL});
    /* Equal scores: by id ascending. */
    words[0] = "gearbox";
    expect_query(&q, 2, (const char *[]){"alpha-01:3", "zeta-01:3", NULL});
}
END_TEST

START_TEST(test_search_query_filters)
{
    struct search_query q = query_default();
    const char *words[1] = {"pump"};

    small_catalog();
    /* No words: every active entry in id order, score 0. */
    expect_query(&q, 6,
                 (const char *[]){"alpha-01:0", "cn-01:0", "motor-01:0",
                                  "pump-01:0", "pump-02:0", "zeta-01:0", NULL});
    q.level = 1;
    expect_query(&q, 4,
                 (const char *[]){"alpha-01:0", "motor-01:0", "pump-01:0",
                                  "zeta-01:0", NULL});
    q = query_default();
    q.domain = 2;
    expect_query(&q, 1, (const char *[]){"pump-01:0", NULL});
    q.status = SEARCH_STATUS_ANY;
    expect_query(&q, 2, (const char *[]){"pump-01:0", "pump-03:0", NULL});
    q = query_default();
    q.owner = "acme-steel";
    expect_query(&q, 1, (const char *[]){"pump-01:0", NULL});
    q.owner = "nobody-here";
    expect_query(&q, 0, (const char *[]){NULL});
    q = query_default();
    q.owner_role = TDEI_ROLE_PLATFORM;
    expect_query(&q, 2, (const char *[]){"cn-01:0", "pump-02:0", NULL});
    q.owner_role = TDEI_ROLE_AUDITOR;
    expect_query(&q, 0, (const char *[]){NULL});
    q = query_default();
    q.kind = CODEC_KIND_STREAM;
    expect_query(&q, 1, (const char *[]){"pump-02:0", NULL});
    q.kind = CODEC_KIND_DATASET;
    expect_query(&q, 5,
                 (const char *[]){"alpha-01:0", "cn-01:0", "motor-01:0",
                                  "pump-01:0", "zeta-01:0", NULL});
    /* Price bounds are inclusive. */
    q = query_default();
    q.price_min = 100;
    q.price_max = 500;
    expect_query(&q, 2, (const char *[]){"pump-01:0", "pump-02:0", NULL});
    q.price_min = 101;
    q.price_max = 499;
    expect_query(&q, 0, (const char *[]){NULL});
    q = query_default();
    q.price_max = 0;
    q.status = SEARCH_STATUS_ANY;
    expect_query(&q, 1, (const char *[]){"pump-03:0", NULL});
    q = query_default();
    q.status = SEARCH_STATUS_WITHDRAWN;
    expect_query(&q, 1, (const char *[]){"pump-03:0", NULL});
    q.status = SEARCH_STATUS_ACTIVE;
    expect_query(&q, 6,
                 (const char *[]){"alpha-01:0", "cn-01:0", "motor-01:0",
                                  "pump-01:0", "pump-02:0", "zeta-01:0", NULL});
    /* Words and filters together. */
    q = query_default();
    q.words = words;
    q.word_count = 1;
    q.owner_role = TDEI_ROLE_PUBLIC_SERVICE;
    expect_query(&q, 1, (const char *[]){"motor-01:2", NULL});
    q.owner_role = 0;
    q.price_min = 60;
    expect_query(&q, 2, (const char *[]){"pump-01:5", "pump-02:1", NULL});
}
END_TEST

START_TEST(test_search_query_paging)
{
    struct search_query q = query_default();
    const char *words[1] = {"pump"};

    small_catalog();
    q.status = SEARCH_STATUS_ANY;
    q.limit = 2;
    expect_query(&q, 7, (const char *[]){"alpha-01:0", "cn-01:0", NULL});
    q.offset = 2;
    expect_query(&q, 7, (const char *[]){"motor-01:0", "pump-01:0", NULL});
    q.offset = 6;
    expect_query(&q, 7, (const char *[]){"zeta-01:0", NULL});
    q.offset = 7;
    expect_query(&q, 7, (const char *[]){NULL});
    q.offset = UINT64_MAX;
    expect_query(&q, 7, (const char *[]){NULL});
    q.words = words;
    q.word_count = 1;
    q.offset = 1;
    expect_query(&q, 4, (const char *[]){"pump-03:3", "motor-01:2", NULL});
    q.offset = 3;
    expect_query(&q, 4, (const char *[]){"pump-02:1", NULL});
    q.limit = 1;
    q.offset = 0;
    expect_query(&q, 4, (const char *[]){"pump-01:5", NULL});
}
END_TEST

START_TEST(test_search_query_refuses_damaged_records)
{
    static const uint8_t junk[] = {0xff, 0xff, 0x01};
    const char *words[1] = {"pump"};
    struct search_query q = query_default();
    struct search_result *res = tdei_malloc(sizeof(*res));
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    struct store_batch *b;
    struct store_read *r;

    ck_assert_ptr_nonnull(res);
    small_catalog();
    /* pump-01's record is damaged after it was indexed. */
    ck_assert_int_eq(store_batch_create(&b, BATCH_MAX), 0);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE, key,
                                     contract_key_dataset(key, "pump-01"), junk,
                                     sizeof(junk)),
                     0);
    ck_assert_int_eq(store_commit(st, b, errmsg), 0);
    store_batch_destroy(b);
    ck_assert_int_eq(store_read_begin(st, &r, errmsg), 0);
    ck_assert_int_eq(search_query_run(r, &q, res, errmsg), TDEI_CORRUPT);
    ck_assert_msg(strstr(errmsg, "dataset/pump-01") != NULL, "%s", errmsg);
    ck_assert_uint_eq(res->count, 0);
    ck_assert_uint_eq(res->total, 0);
    q.words = words;
    q.word_count = 1;
    ck_assert_int_eq(search_query_run(r, &q, res, errmsg), TDEI_CORRUPT);
    /* A word whose candidates avoid it still answers. */
    words[0] = "gearbox";
    ck_assert_int_eq(search_query_run(r, &q, res, errmsg), 0);
    ck_assert_uint_eq(res->total, 2);
    store_read_end(r);
    tdei_free(res);
}
END_TEST

/* ---- refusals ------------------------------------------------------------ */

/* Assert @q is refused with TDEI_INVAL and a message containing @text,
 * by the check and by a run. */
static void expect_refused(const struct search_query *q, const char *text)
{
    struct search_words words;
    struct search_result *res = tdei_malloc(sizeof(*res));
    struct store_read *r;

    ck_assert_ptr_nonnull(res);
    errmsg[0] = '\0';
    ck_assert_int_eq(search_query_check(q, &words, errmsg), TDEI_INVAL);
    ck_assert_msg(strstr(errmsg, text) != NULL, "\"%s\" lacks \"%s\"", errmsg,
                  text);
    ck_assert_uint_eq(words.count, 0);
    ck_assert_int_eq(store_read_begin(st, &r, errmsg), 0);
    ck_assert_int_eq(search_query_run(r, q, res, errmsg), TDEI_INVAL);
    ck_assert_uint_eq(res->count, 0);
    store_read_end(r);
    tdei_free(res);
}

START_TEST(test_search_query_refusals)
{
    struct search_query q = query_default();
    struct search_words words;
    const char *many[9] = {"aa", "bb", "cc", "dd", "ee",
                           "ff", "gg", "hh", "ii"};
    const char *one[1];
    char long_word[SEARCH_WORD_SIZE_MAX + 2];

    q.words = many;
    q.word_count = 9;
    expect_refused(&q, "9 search words");
    q.word_count = 8;
    ck_assert_int_eq(search_query_check(&q, &words, errmsg), 0);
    ck_assert_uint_eq(words.count, 8);
    q.words = one;
    q.word_count = 1;
    one[0] = "aa bb cc dd ee ff gg hh ii";
    expect_refused(&q, "more than 8 distinct");
    memset(long_word, 'a', sizeof(long_word) - 1);
    long_word[sizeof(long_word) - 1] = '\0';
    one[0] = long_word; /* 257 bytes */
    expect_refused(&q, "257 bytes");
    one[0] = "abcdefghijabcdefghijabcdefghijabc"; /* 33 letters */
    expect_refused(&q, "too long");
    one[0] = "abcdefghijabcdefghijabcdefghijab"; /* 32: fine */
    ck_assert_int_eq(search_query_check(&q, &words, errmsg), 0);
    one[0] = "a";
    expect_refused(&q, "nothing to search for");
    one[0] = "";
    expect_refused(&q, "nothing to search for");
    q = query_default();
    q.level = 4;
    expect_refused(&q, "level 4");
    q = query_default();
    q.domain = 6;
    expect_refused(&q, "domain 6");
    q = query_default();
    q.owner = "Not-An-Id";
    expect_refused(&q, "owner \"Not-An-Id\"");
    q = query_default();
    q.owner_role = 5;
    expect_refused(&q, "owner role 5");
    q = query_default();
    q.kind = 3;
    expect_refused(&q, "kind 3");
    q = query_default();
    q.price_min = 10;
    q.price_max = 9;
    expect_refused(&q, "min price 10 is above max price 9");
    q = query_default();
    q.status = 4;
    expect_refused(&q, "status 4");
    q = query_default();
    q.limit = 0;
    expect_refused(&q, "limit 0");
    q.limit = SEARCH_LIMIT_MAX + 1;
    expect_refused(&q, "limit 101");
    q.limit = SEARCH_LIMIT_MAX;
    ck_assert_int_eq(search_query_check(&q, &words, errmsg), 0);
}
END_TEST

/* ---- 10,000 entries against a naive reference ---------------------------- */

#define BIG_COUNT 10000u
#define BIG_PER_BLOCK 1000u

static const char *const nouns[10] = {
    "pump",    "valve",  "motor",   "spindle",  "sensor",
    "gearbox", "boiler", "turbine", "conveyor", "press"};
static const char *const adjs[10] = {
    "hourly",   "daily",       "raw",     "cleaned", "vibration",
    "pressure", "temperature", "current", "flow",    "noise"};
static const char *const owners[4] = {"m-public", "m-platform", "m-maker",
                                      "m-maker-two"};
static const uint32_t owner_roles[4] = {1, 2, 3, 3};

/* A generated entry: its spec and the texts the spec points into. */
struct big_entry
{
    struct entry_spec spec;
    char id[16];
    char title[96];
    char desc[160];
    char tags[2][24];
};

static void big_make(struct big_entry *e, unsigned i)
{
    const char *t0 = nouns[(i / 7) % 10];
    char line[24];

    (void)snprintf(e->id, sizeof(e->id), "e-%05u", i);
    (void)snprintf(e->title, sizeof(e->title), "%s %s series %u", nouns[i % 10],
                   adjs[(i / 10) % 10], i / 100);
    (void)snprintf(e->desc, sizeof(e->desc), "%s readings from plant %u%s%s",
                   adjs[(i / 3) % 10], i % 50, i % 1000 == 0 ? " zanzibar" : "",
                   i % 100 == 0 ? " 数控机床" : "");
    (void)snprintf(line, sizeof(line), "line-%u", i % 3);
    /* Two tags, strictly ascending. */
    if (strcmp(t0, line) < 0) {
        (void)snprintf(e->tags[0], sizeof(e->tags[0]), "%s", t0);
        (void)snprintf(e->tags[1], sizeof(e->tags[1]), "%s", line);
    } else {
        (void)snprintf(e->tags[0], sizeof(e->tags[0]), "%s", line);
        (void)snprintf(e->tags[1], sizeof(e->tags[1]), "%s", t0);
    }
    memset(&e->spec, 0, sizeof(e->spec));
    e->spec.id = e->id;
    e->spec.kind = i % 7 == 0 ? CODEC_KIND_STREAM : CODEC_KIND_DATASET;
    e->spec.title = e->title;
    e->spec.desc = e->desc;
    e->spec.tags[0] = e->tags[0];
    e->spec.tags[1] = e->tags[1];
    e->spec.level = i % 3 + 1;
    /* Allowed pairs: L1 general; L2 general or important; L3 important
     * or core. */
    e->spec.data_class = e->spec.level == 1 ? 1 : e->spec.level - i % 2;
    e->spec.domain = i % 5 + 1;
    e->spec.owner = owners[i % 4];
    e->spec.price = (uint64_t)(i % 20) * 50u;
    e->spec.status =
        i % 10 == 9 ? CODEC_DATASET_WITHDRAWN : CODEC_DATASET_ACTIVE;
}

/* The reference tokenizer: a second, naive implementation. */
static int ref_has_word(const char *text, const char *word)
{
    char tok[64];
    size_t n = 0;

    for (const char *p = text;; p++) {
        unsigned char c = (unsigned char)*p;
        int in = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c >= 0x80;
        if (in) {
            if (n < sizeof(tok) - 1) {
                tok[n] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            n++;
            continue;
        }
        if (n >= 2 && n <= 32) {
            tok[n] = '\0';
            if (strcmp(tok, word) == 0) {
                return 1;
            }
        }
        n = 0;
        if (c == '\0') {
            return 0;
        }
    }
}

struct ref_hit
{
    unsigned index;
    uint32_t score;
};

static int ref_cmp(const void *pa, const void *pb)
{
    const struct ref_hit *a = pa;
    const struct ref_hit *b = pb;

    if (a->score != b->score) {
        return a->score > b->score ? -1 : 1;
    }
    return a->index < b->index ? -1 : (a->index > b->index);
}

/* The answer of @q (words already lowercase single tokens) by brute
 * force; returns the number of matches in @hits (sorted). */
static size_t ref_query(const struct big_entry *all,
                        const struct search_query *q, struct ref_hit *hits)
{
    size_t n = 0;
    uint32_t want_status = q->status == 0 ? 1 : q->status;

    for (unsigned i = 0; i < BIG_COUNT; i++) {
        const struct entry_spec *e = &all[i].spec;
        uint32_t score = 0;
        int pass =
            (want_status == 3 || e->status == want_status) &&
            (q->level == 0 || e->level == q->level) &&
            (q->domain == 0 || e->domain == q->domain) &&
            (q->kind == 0 || e->kind == q->kind) &&
            (q->owner == NULL || strcmp(q->owner, e->owner) == 0) &&
            (q->owner_role == 0 || owner_roles[i % 4] == q->owner_role) &&
            e->price >= q->price_min && e->price <= q->price_max;
        for (size_t w = 0; pass && w < q->word_count; w++) {
            uint32_t s = 0;
            s += ref_has_word(e->title, q->words[w]) ? 3u : 0u;
            s += ref_has_word(e->tags[0], q->words[w]) ||
                         ref_has_word(e->tags[1], q->words[w])
                     ? 2u
                     : 0u;
            s += ref_has_word(e->desc, q->words[w]) ? 1u : 0u;
            pass = s > 0;
            score += s;
        }
        if (pass) {
            hits[n++] = (struct ref_hit){i, score};
        }
    }
    qsort(hits, n, sizeof(*hits), ref_cmp);
    return n;
}

/* Run @q on the store and against the reference; assert the same total
 * and the same page (ids, scores, order). Returns the total. */
static uint64_t big_check(const struct big_entry *all,
                          const struct search_query *q, struct ref_hit *ref)
{
    struct search_result *res = tdei_malloc(sizeof(*res));
    struct store_read *r;
    size_t n = ref_query(all, q, ref);
    uint64_t total;
    size_t page = 0;

    ck_assert_ptr_nonnull(res);
    ck_assert_int_eq(store_read_begin(st, &r, errmsg), 0);
    ck_assert_msg(search_query_run(r, q, res, errmsg) == 0, "%s", errmsg);
    ck_assert_uint_eq(res->total, n);
    for (uint64_t i = q->offset; i < n && page < q->limit; i++, page++) {
        ck_assert_msg(page < res->count, "page has %zu hits, expected more",
                      res->count);
        ck_assert_str_eq(res->hits[page].id, all[ref[i].index].id);
        ck_assert_uint_eq(res->hits[page].score, ref[i].score);
    }
    ck_assert_uint_eq(res->count, page);
    total = res->total;
    store_read_end(r);
    tdei_free(res);
    return total;
}

START_TEST(test_search_ten_thousand_entries_match_reference)
{
    struct big_entry *all = tdei_calloc(BIG_COUNT, sizeof(*all));
    struct ref_hit *ref = tdei_calloc(BIG_COUNT, sizeof(*ref));
    struct test_write *tw = tdei_calloc(BIG_PER_BLOCK, sizeof(*tw));
    struct search_query q;
    struct store_batch *b;
    const char *words[3];

    ck_assert(all != NULL && ref != NULL && tw != NULL);
    ck_assert_int_eq(store_batch_create(&b, BATCH_MAX), 0);
    for (size_t m = 0; m < 4; m++) {
        member_put(b, owners[m], owner_roles[m]);
    }
    ck_assert_int_eq(store_commit(st, b, errmsg), 0);
    store_batch_destroy(b);
    for (unsigned i = 0; i < BIG_COUNT; i++) {
        big_make(&all[i], i);
    }
    for (unsigned blk = 0; blk < BIG_COUNT / BIG_PER_BLOCK; blk++) {
        for (unsigned k = 0; k < BIG_PER_BLOCK; k++) {
            tw[k] =
                (struct test_write){.spec = &all[blk * BIG_PER_BLOCK + k].spec};
        }
        ck_assert_msg(block_apply(tw, BIG_PER_BLOCK, NULL) == 0, "%s", errmsg);
    }

    /* Totals a person can check: every entry, the active 90%, the ten
     * entries with the rare word, and the hundred with the CJK word. */
    q = query_default();
    q.status = SEARCH_STATUS_ANY;
    ck_assert_uint_eq(big_check(all, &q, ref), 10000);
    q.status = 0;
    ck_assert_uint_eq(big_check(all, &q, ref), 9000);
    q.words = words;
    q.word_count = 1;
    words[0] = "zanzibar";
    q.status = SEARCH_STATUS_ANY;
    ck_assert_uint_eq(big_check(all, &q, ref), 10);
    words[0] = "数控机床";
    ck_assert_uint_eq(big_check(all, &q, ref), 100);
    q.status = 0;

    /* Word queries: common, rare, two and three words, numbers, a word
     * found in titles, tags and descriptions at once, no match. */
    {
        static const char *const one_words[] = {
            "pump", "readings", "vibration", "line",   "series",
            "57",   "gearbox",  "plant",     "nothing"};
        for (size_t i = 0; i < sizeof(one_words) / sizeof(one_words[0]); i++) {
            words[0] = one_words[i];
            q.word_count = 1;
            (void)big_check(all, &q, ref);
        }
    }
    q.word_count = 2;
    words[0] = "pump";
    words[1] = "hourly";
    ck_assert_uint_gt(big_check(all, &q, ref), 0);
    words[0] = "zanzibar";
    words[1] = "readings";
    ck_assert_uint_eq(big_check(all, &q, ref), 10);
    q.word_count = 3;
    words[0] = "valve";
    words[1] = "pressure";
    words[2] = "line";
    ck_assert_uint_gt(big_check(all, &q, ref), 0);

    /* Each filter, with and without a word. */
    for (int with_word = 0; with_word < 2; with_word++) {
        struct search_query f;
        q = query_default();
        if (with_word) {
            q.words = words;
            q.word_count = 1;
            words[0] = "vibration";
        }
        for (uint32_t v = 1; v <= 3; v++) {
            f = q;
            f.level = v;
            ck_assert_uint_gt(big_check(all, &f, ref), 0);
            f = q;
            f.status = v;
            ck_assert_uint_gt(big_check(all, &f, ref), 0);
        }
        for (uint32_t v = 1; v <= 5; v++) {
            f = q;
            f.domain = v;
            ck_assert_uint_gt(big_check(all, &f, ref), 0);
        }
        for (uint32_t v = 1; v <= 4; v++) {
            f = q;
            f.owner_role = v;
            (void)big_check(all, &f, ref);
            f = q;
            f.owner = owners[v - 1];
            ck_assert_uint_gt(big_check(all, &f, ref), 0);
        }
        for (uint32_t v = 1; v <= 2; v++) {
            f = q;
            f.kind = v;
            ck_assert_uint_gt(big_check(all, &f, ref), 0);
        }
        f = q;
        f.price_min = 200;
        f.price_max = 450;
        ck_assert_uint_gt(big_check(all, &f, ref), 0);
        f.price_min = 0;
        f.price_max = 0;
        ck_assert_uint_gt(big_check(all, &f, ref), 0);
        f = q;
        f.level = 2;
        f.domain = 3;
        f.kind = CODEC_KIND_DATASET;
        f.owner_role = 3;
        f.price_min = 100;
        ck_assert_uint_gt(big_check(all, &f, ref), 0);
    }

    /* Paging through a ranked list and through the id-ordered scan. */
    q = query_default();
    q.words = words;
    q.word_count = 1;
    words[0] = "readings";
    q.limit = SEARCH_LIMIT_MAX;
    for (uint64_t off = 0; off <= 9000; off += 2250) {
        q.offset = off;
        ck_assert_uint_eq(big_check(all, &q, ref), 9000);
    }
    q.offset = 8990;
    ck_assert_uint_eq(big_check(all, &q, ref), 9000);
    words[0] = "pump";
    q.word_count = 2;
    words[1] = "vibration";
    q.limit = 7;
    for (uint64_t off = 0; off < 60; off += 7) {
        q.offset = off;
        (void)big_check(all, &q, ref);
    }
    q = query_default();
    q.limit = 50;
    q.offset = 4975;
    ck_assert_uint_eq(big_check(all, &q, ref), 9000);

    tdei_free(tw);
    tdei_free(ref);
    tdei_free(all);
}
END_TEST

static Suite *search_suite(void)
{
    Suite *s = suite_create("search");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"tokenize_ascii", test_search_tokenize_ascii_lowercases_and_splits},
        {"tokenize_utf8", test_search_tokenize_keeps_utf8_words},
        {"tokenize_limits", test_search_tokenize_limits},
        {"posting_key", test_search_posting_key_layout},
        {"index_update", test_search_index_add_update_delete},
        {"index_block", test_search_index_several_entries_in_one_block},
        {"index_other_keys", test_search_index_leaves_other_keys},
        {"index_cap", test_search_index_caps_postings_per_entry},
        {"index_damaged", test_search_index_refuses_damaged_records},
        {"query_words", test_search_query_words_and_scores},
        {"query_utf8_ties", test_search_query_utf8_and_ties},
        {"query_filters", test_search_query_filters},
        {"query_paging", test_search_query_paging},
        {"query_damaged", test_search_query_refuses_damaged_records},
        {"query_refusals", test_search_query_refusals},
        {"ten_thousand", test_search_ten_thousand_entries_match_reference},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(search_suite()); }
