/* bench_search: catalog search query latency (DESIGN.md sections 11-12).
 *
 * Builds --entries catalog entries (default 10,000) in a fresh store the
 * way blocks do: Dataset records in the state and their postings through
 * search_index_update, 1,000 entries per batch. Texts are drawn with a
 * fixed seed from 400 made-up words: a 4-word title, 2 tags, a 20-word
 * description that always holds "data", and "zanzibar" in every 1,000th
 * entry. Then it times --queries queries (default 200) of each shape, one
 * read transaction per query as the API does:
 *   one_word     one vocabulary word (in about 6% of the entries)
 *   two_words    two vocabulary words (AND)
 *   rare_word    "zanzibar" (10 entries in 10,000)
 *   common_word  "data" (every entry)
 *   filters_only no words; level 2, domain 3, active (scans every entry)
 *   word_filters one vocabulary word with level 1 and the owner's role
 * and prints one JSON object: the entry count, the build time, and per
 * shape the latency p50/p95/max in microseconds and the mean number of
 * matches (mean_matches).
 *
 *   bench_search [--entries N] [--queries N] [--dir DIR]
 *
 * Without --dir it uses a fresh directory under $TMPDIR (or /tmp) and
 * removes it afterwards. Not run by `make check`. Exit status: 0, 1 on a
 * store or search error, 2 on bad arguments. */
#define _XOPEN_SOURCE 700
#include "bench_util.h"
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
#include <time.h>

#define BENCH_ENTRIES_MAX 1000000u
#define BENCH_QUERIES_MAX 100000u
#define BENCH_PER_BATCH 1000u
#define BENCH_VOCAB 400u
#define BENCH_DESC_WORDS 20u
#define BENCH_SHAPES 6u

struct bench_args
{
    const char *dir;  /* NULL: a temporary directory */
    unsigned entries; /* catalog entries to build */
    unsigned queries; /* queries per shape */
};

/* One entry's texts. */
struct bench_entry
{
    char id[16];
    char title[128];
    char desc[512];
    char tags[2][16];
    const char *tag_ptrs[2];
};

static const char *const owners[4] = {"m-public", "m-platform", "m-maker",
                                      "m-maker-two"};
static const uint32_t owner_roles[4] = {1, 2, 3, 3};
static char vocab[BENCH_VOCAB][16];

/* A fixed-seed xorshift: the same catalog and queries on every run. */
static uint64_t bench_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static int bench_args_parse(struct bench_args *args, int argc, char **argv)
{
    args->dir = NULL;
    args->entries = 10000;
    args->queries = 200;
    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            return -1;
        }
        if (val == NULL) {
            fprintf(stderr, "bench_search: %s needs a value\n", opt);
            return -1;
        }
        if (strcmp(opt, "--dir") == 0) {
            args->dir = val;
        } else if (strcmp(opt, "--entries") == 0) {
            rc = bench_parse_uint(val, 1, BENCH_ENTRIES_MAX, &args->entries);
        } else if (strcmp(opt, "--queries") == 0) {
            rc = bench_parse_uint(val, 1, BENCH_QUERIES_MAX, &args->queries);
        } else {
            fprintf(stderr, "bench_search: unknown option %s\n", opt);
            return -1;
        }
        if (rc != 0) {
            fprintf(stderr, "bench_search: %s=%s is out of range\n", opt, val);
            return -1;
        }
    }
    return 0;
}

/* 400 pronounceable made-up words of 2-3 syllables, none of them "data"
 * or "zanzibar". */
static void vocab_make(void)
{
    static const char *const syl[20] = {
        "ka", "to", "ri",  "men", "sun", "lo", "ve", "pa",  "dor", "il",
        "mu", "te", "gra", "no",  "bi",  "xe", "fa", "qui", "ro",  "us"};

    for (unsigned i = 0; i < BENCH_VOCAB; i++) {
        (void)snprintf(vocab[i], sizeof(vocab[i]), "%s%s%s", syl[i % 20],
                       syl[(i / 20) % 20], i < 200 ? "" : syl[(i * 7) % 20]);
    }
}

static void entry_make(struct bench_entry *e, unsigned i, uint64_t *seed)
{
    size_t pos;
    unsigned t0 = (unsigned)(bench_rand(seed) % BENCH_VOCAB);
    unsigned t1 = (unsigned)(bench_rand(seed) % BENCH_VOCAB);

    (void)snprintf(e->id, sizeof(e->id), "e-%07u", i);
    (void)snprintf(e->title, sizeof(e->title), "%s %s %s %s",
                   vocab[bench_rand(seed) % BENCH_VOCAB],
                   vocab[bench_rand(seed) % BENCH_VOCAB],
                   vocab[bench_rand(seed) % BENCH_VOCAB],
                   vocab[bench_rand(seed) % BENCH_VOCAB]);
    pos = (size_t)snprintf(e->desc, sizeof(e->desc), "data");
    for (unsigned w = 0; w < BENCH_DESC_WORDS; w++) {
        pos += (size_t)snprintf(e->desc + pos, sizeof(e->desc) - pos, " %s",
                                vocab[bench_rand(seed) % BENCH_VOCAB]);
    }
    if (i % 1000 == 0) {
        (void)snprintf(e->desc + pos, sizeof(e->desc) - pos, " zanzibar");
    }
    /* Tags strictly ascending: two different words, sorted. */
    if (t0 == t1) {
        t1 = (t0 + 1) % BENCH_VOCAB;
    }
    if (strcmp(vocab[t0], vocab[t1]) > 0) {
        unsigned t = t0;
        t0 = t1;
        t1 = t;
    }
    if (strcmp(vocab[t0], vocab[t1]) == 0) {
        t1 = (t1 + 1) % BENCH_VOCAB; /* made-up words may repeat */
    }
    (void)snprintf(e->tags[0], sizeof(e->tags[0]), "%s", vocab[t0]);
    (void)snprintf(e->tags[1], sizeof(e->tags[1]), "%s", vocab[t1]);
    e->tag_ptrs[0] = e->tags[0];
    e->tag_ptrs[1] = e->tags[1];
}

/* Encode entry @i (texts in @e) as a Dataset record. */
static int record_encode(const struct bench_entry *e, unsigned i, uint8_t **buf,
                         size_t *len)
{
    static uint8_t root[32] = {7};
    Tdei__Dataset d = TDEI__DATASET__INIT;
    Tdei__PriceTerms price = TDEI__PRICE_TERMS__INIT;
    int stream = i % 7 == 0;
    size_t n_tags = strcmp(e->tags[0], e->tags[1]) < 0 ? 2 : 1;

    d.id = (char *)e->id;
    d.kind = stream ? CODEC_KIND_STREAM : CODEC_KIND_DATASET;
    d.title = (char *)e->title;
    d.description = (char *)e->desc;
    d.n_tags = n_tags;
    d.tags = (char **)e->tag_ptrs;
    d.domain = i % 5 + 1;
    d.level = i % 3 + 1;
    d.data_class = d.level == 1 ? 1 : d.level - i % 2;
    price.model = stream ? CODEC_PRICE_PER_RECORD : CODEC_PRICE_ONE_TIME;
    price.amount = (uint64_t)(i % 20) * 50u;
    d.price = &price;
    if (!stream) {
        d.content_root = (ProtobufCBinaryData){32, root};
    }
    d.owner = (char *)owners[i % 4];
    d.publisher = d.owner;
    d.version = 1;
    d.status = i % 10 == 9 ? CODEC_DATASET_WITHDRAWN : CODEC_DATASET_ACTIVE;
    d.created_height = 1 + i / BENCH_PER_BATCH;
    d.updated_height = d.created_height;
    return codec_encode(&d.base, buf, len);
}

static int members_put(struct store_batch *b)
{
    static uint8_t k[32] = {1};
    ProtobufCBinaryData key32 = {32, k};
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < 4; i++) {
        Tdei__Member m = TDEI__MEMBER__INIT;
        uint8_t *buf;
        size_t len;
        m.id = (char *)owners[i];
        m.name = (char *)owners[i];
        m.role = owner_roles[i];
        m.node_key = key32;
        m.encryption_key = key32;
        m.n_operator_keys = 1;
        m.operator_keys = &key32;
        m.status = CODEC_MEMBER_ACTIVE;
        rc = codec_encode(&m.base, &buf, &len);
        if (rc == 0) {
            rc = store_batch_put(b, STORE_DB_STATE, key,
                                 contract_key_member(key, owners[i]), buf, len);
            tdei_free(buf);
        }
    }
    return rc;
}

/* Build the catalog: one batch per BENCH_PER_BATCH entries, as a block
 * would write it. */
static int catalog_build(struct store *s, const struct bench_args *args,
                         char *errmsg)
{
    struct bench_entry *e = tdei_calloc(BENCH_PER_BATCH, sizeof(*e));
    struct state_write *w = tdei_calloc(BENCH_PER_BATCH, sizeof(*w));
    uint8_t(*keys)[CONTRACT_KEY_SIZE_MAX] =
        tdei_calloc(BENCH_PER_BATCH, sizeof(*keys));
    uint8_t **vals = tdei_calloc(BENCH_PER_BATCH, sizeof(*vals));
    struct store_batch *b = NULL;
    uint64_t seed = 0x7464656973656172u;
    int rc = e == NULL || w == NULL || keys == NULL || vals == NULL
                 ? TDEI_NOMEM
                 : store_batch_create(&b, 1024u * 1024u * 1024u);

    if (rc == 0) {
        rc = members_put(b);
    }
    if (rc == 0) {
        rc = store_commit(s, b, errmsg);
    }
    for (unsigned base = 0; rc == 0 && base < args->entries;
         base += BENCH_PER_BATCH) {
        unsigned n = args->entries - base < BENCH_PER_BATCH
                         ? args->entries - base
                         : BENCH_PER_BATCH;
        struct store_read *r = NULL;
        store_batch_reset(b);
        for (unsigned k = 0; rc == 0 && k < n; k++) {
            entry_make(&e[k], base + k, &seed);
            rc = record_encode(&e[k], base + k, &vals[k], &w[k].vlen);
            w[k].key = keys[k];
            w[k].klen = contract_key_dataset(keys[k], e[k].id);
            w[k].kind = STATE_PUT;
            w[k].val = vals[k];
            if (rc == 0) {
                rc = store_batch_put(b, STORE_DB_STATE, w[k].key, w[k].klen,
                                     w[k].val, w[k].vlen);
            }
        }
        /* Ids ascend with k: the writes are in key order already. */
        if (rc == 0) {
            rc = store_read_begin(s, &r, errmsg);
        }
        if (rc == 0) {
            rc = search_index_update(b, r, w, n, errmsg);
            store_read_end(r);
        }
        if (rc == 0) {
            rc = store_commit(s, b, errmsg);
        }
        for (unsigned k = 0; k < n; k++) {
            tdei_free(vals[k]);
            vals[k] = NULL;
        }
    }
    store_batch_destroy(b);
    tdei_free(vals);
    tdei_free(keys);
    tdei_free(w);
    tdei_free(e);
    return rc;
}

/* The query of shape @shape, iteration @i. */
static void query_make(struct search_query *q, const char **words,
                       unsigned shape, uint64_t *seed)
{
    memset(q, 0, sizeof(*q));
    q->words = words;
    q->price_max = UINT64_MAX;
    q->limit = SEARCH_LIMIT_DEFAULT;
    switch (shape) {
    case 0:
        words[0] = vocab[bench_rand(seed) % BENCH_VOCAB];
        q->word_count = 1;
        break;
    case 1:
        words[0] = vocab[bench_rand(seed) % BENCH_VOCAB];
        words[1] = vocab[bench_rand(seed) % BENCH_VOCAB];
        q->word_count = 2;
        break;
    case 2:
        words[0] = "zanzibar";
        q->word_count = 1;
        break;
    case 3:
        words[0] = "data";
        q->word_count = 1;
        break;
    case 4:
        q->level = 2;
        q->domain = 3;
        break;
    default:
        words[0] = vocab[bench_rand(seed) % BENCH_VOCAB];
        q->word_count = 1;
        q->level = 1;
        q->owner_role = TDEI_ROLE_MANUFACTURER;
        break;
    }
}

static int bench_run(const struct bench_args *args, const char *dir)
{
    static const char *const names[BENCH_SHAPES] = {
        "one_word",    "two_words",    "rare_word",
        "common_word", "filters_only", "word_filters"};
    struct search_result *res = tdei_malloc(sizeof(*res));
    uint64_t *lat = tdei_calloc(args->queries, sizeof(*lat));
    uint64_t totals[BENCH_SHAPES] = {0};
    uint64_t p50[BENCH_SHAPES];
    uint64_t p95[BENCH_SHAPES];
    uint64_t max[BENCH_SHAPES];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct store *s = NULL;
    uint64_t seed = 0x71756572796a6f62u;
    uint64_t build_us;
    int rc;

    if (res == NULL || lat == NULL) {
        tdei_free(res);
        tdei_free(lat);
        fprintf(stderr, "bench_search: out of memory\n");
        return 1;
    }
    vocab_make();
    rc = store_open(&s, dir, NULL, errmsg);
    build_us = bench_now_us();
    if (rc == 0) {
        rc = catalog_build(s, args, errmsg);
    }
    build_us = bench_now_us() - build_us;
    for (unsigned shape = 0; rc == 0 && shape < BENCH_SHAPES; shape++) {
        for (unsigned i = 0; rc == 0 && i < args->queries; i++) {
            struct search_query q;
            const char *words[2];
            struct store_read *r = NULL;
            uint64_t t0;
            query_make(&q, words, shape, &seed);
            t0 = bench_now_us();
            rc = store_read_begin(s, &r, errmsg);
            if (rc == 0) {
                rc = search_query_run(r, &q, res, errmsg);
                store_read_end(r);
            }
            lat[i] = bench_now_us() - t0;
            totals[shape] += res->total;
        }
        qsort(lat, args->queries, sizeof(*lat), bench_cmp_u64);
        p50[shape] = lat[args->queries / 2];
        p95[shape] = lat[(size_t)args->queries * 95 / 100];
        max[shape] = lat[args->queries - 1];
    }
    if (rc != 0) {
        fprintf(stderr, "bench_search: %s: %s\n", tdei_errname(rc), errmsg);
    } else {
        printf("{\"entries\": %u, \"queries_per_shape\": %u, "
               "\"build_ms\": %" PRIu64 ", \"latency_us\": {",
               args->entries, args->queries, build_us / 1000u);
        for (unsigned shape = 0; shape < BENCH_SHAPES; shape++) {
            printf("%s\"%s\": {\"p50\": %" PRIu64 ", \"p95\": %" PRIu64
                   ", \"max\": %" PRIu64 ", \"mean_matches\": %" PRIu64 "}",
                   shape == 0 ? "" : ", ", names[shape], p50[shape], p95[shape],
                   max[shape], totals[shape] / args->queries);
        }
        printf("}}\n");
    }
    store_close(s);
    tdei_free(lat);
    tdei_free(res);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct bench_args args;
    char tmp[4096];
    char dir[4200];
    const char *base = getenv("TMPDIR");
    int rc;

    if (bench_args_parse(&args, argc, argv) != 0) {
        fprintf(stderr, "usage: bench_search [--entries N] [--queries N] "
                        "[--dir DIR]\n");
        return 2;
    }
    if (args.dir != NULL) {
        return bench_run(&args, args.dir);
    }
    (void)snprintf(tmp, sizeof(tmp), "%s/tdei-bench-XXXXXX",
                   base != NULL ? base : "/tmp");
    if (mkdtemp(tmp) == NULL) {
        perror("bench_search: mkdtemp");
        return 1;
    }
    (void)snprintf(dir, sizeof(dir), "%s/ledger", tmp);
    rc = bench_run(&args, dir);
    bench_rmtree(tmp);
    return rc;
}
