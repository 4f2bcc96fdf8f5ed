/* Tests of the ledger store: round trips in every database, atomic
 * batches, reopening and format versions, the directory lock (same
 * process and another process), map growth and its limit, reads during
 * commits and growth, SIGKILL at random moments (no torn batch), and
 * iteration order against a naive reference.
 *
 * The crash test prints its seed; TDEI_TEST_SEED=N replays a run. Misuse
 * asserts are tested in their own TCase (they abort the forked test
 * process, so its directory is made and removed outside the test). */
#include "testutil.h"

#include "core/alloc.h"
#include "core/error.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024u * 1024u)
#define BATCH_MAX (64u * MIB)

static char tmpdir[4096];
static char dir[4200];
static char errmsg[TDEI_ERRMSG_SIZE];

static void setup(void)
{
    testutil_leak_setup();
    (void)snprintf(tmpdir, sizeof(tmpdir), "%s", testutil_tmpdir());
    (void)snprintf(dir, sizeof(dir), "%s/ledger", tmpdir);
    errmsg[0] = '\0';
}

static void teardown(void)
{
    testutil_rmtree(tmpdir);
    testutil_leak_teardown();
}

/* ---- helpers ------------------------------------------------------------- */

static struct store_options small_options(uint64_t initial, uint64_t growth,
                                          uint64_t max)
{
    struct store_options opts = store_options_default();

    opts.map_size_initial = initial;
    opts.map_size_growth = growth;
    opts.map_size_max = max;
    return opts;
}

static struct store *open_ok(const struct store_options *opts)
{
    struct store *s = NULL;
    int rc = store_open(&s, dir, opts, errmsg);

    ck_assert_msg(rc == 0, "store_open: %s: %s", tdei_errname(rc), errmsg);
    ck_assert_ptr_nonnull(s);
    return s;
}

static struct store_batch *batch_new(void)
{
    struct store_batch *b = NULL;

    ck_assert_int_eq(store_batch_create(&b, BATCH_MAX), 0);
    ck_assert_ptr_nonnull(b);
    return b;
}

static void commit_ok(struct store *s, const struct store_batch *b)
{
    int rc = store_commit(s, b, errmsg);

    ck_assert_msg(rc == 0, "store_commit: %s: %s", tdei_errname(rc), errmsg);
}

static struct store_read *read_ok(struct store *s)
{
    struct store_read *r = NULL;
    int rc = store_read_begin(s, &r, errmsg);

    ck_assert_msg(rc == 0, "store_read_begin: %s: %s", tdei_errname(rc),
                  errmsg);
    return r;
}

/* Put one string key and value in @db and commit. */
static void put_str(struct store *s, enum store_db db, const char *key,
                    const char *val)
{
    struct store_batch *b = batch_new();

    ck_assert_int_eq(store_batch_put(b, db, (const uint8_t *)key, strlen(key),
                                     (const uint8_t *)val, strlen(val)),
                     0);
    commit_ok(s, b);
    store_batch_destroy(b);
}

/* The value of the string @key in @db as a string in @buf, or NULL. */
static const char *get_str(struct store *s, enum store_db db, const char *key,
                           char *buf, size_t cap)
{
    struct store_read *r = read_ok(s);
    size_t len = 0;
    int rc = store_get_copy(r, db, (const uint8_t *)key, strlen(key),
                            (uint8_t *)buf, cap - 1, &len);

    store_read_end(r);
    if (rc == TDEI_NOTFOUND) {
        return NULL;
    }
    ck_assert_int_eq(rc, 0);
    buf[len] = '\0';
    return buf;
}

/* Deterministic bytes of @len for (@a, @b): splitmix64 stream. */
static void fill(uint8_t *buf, size_t len, uint64_t a, uint64_t b)
{
    uint64_t x = a * 0x9e3779b97f4a7c15u ^ b;

    for (size_t i = 0; i < len; i++) {
        uint64_t z;
        if (i % 8 == 0) {
            x += 0x9e3779b97f4a7c15u;
        }
        z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        z ^= z >> 31;
        buf[i] = (uint8_t)(z >> (8 * (i % 8)));
    }
}

static uint64_t prng_state;

static uint64_t prng_next(void)
{
    uint64_t x = prng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    prng_state = x;
    return x;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A key and value valid in @db, derived from @n. */
static size_t db_key(enum store_db db, uint64_t n, uint8_t *key)
{
    switch (db) {
    case STORE_DB_BLOCKS:
        store_u64_encode(key, n);
        return STORE_HEIGHT_SIZE;
    case STORE_DB_BLOCK_IDS:
    case STORE_DB_TXS:
        fill(key, STORE_ID_SIZE, n, db);
        return STORE_ID_SIZE;
    case STORE_DB_RESULTS:
        store_u64_encode(key, n);
        store_u32_encode(key + 8, (uint32_t)n);
        return STORE_TX_LOCATION_SIZE;
    default:
        return (size_t)snprintf((char *)key, 64, "key-%" PRIu64, n);
    }
}

static size_t db_value(enum store_db db, uint64_t n, uint8_t *val)
{
    switch (db) {
    case STORE_DB_BLOCK_IDS:
        store_u64_encode(val, n);
        return STORE_HEIGHT_SIZE;
    case STORE_DB_TXS:
        store_u64_encode(val, n);
        store_u32_encode(val + 8, 7);
        return STORE_TX_LOCATION_SIZE;
    default:
        fill(val, 100 + n % 50, n, 1000u + db);
        return 100 + n % 50;
    }
}

/* ---- round trips --------------------------------------------------------- */

START_TEST(test_put_get_delete_in_every_db)
{
    struct store *s = open_ok(NULL);
    struct store_batch *b = batch_new();
    uint8_t key[64], val[256];

    for (int db = 0; db < STORE_DB_COUNT; db++) {
        size_t klen = db_key((enum store_db)db, 5, key);
        size_t vlen = db_value((enum store_db)db, 5, val);
        ck_assert_int_eq(
            store_batch_put(b, (enum store_db)db, key, klen, val, vlen), 0);
    }
    ck_assert_uint_eq(store_batch_ops(b), STORE_DB_COUNT);
    commit_ok(s, b);

    struct store_read *r = read_ok(s);
    for (int db = 0; db < STORE_DB_COUNT; db++) {
        const uint8_t *got;
        size_t glen;
        size_t klen = db_key((enum store_db)db, 5, key);
        size_t vlen = db_value((enum store_db)db, 5, val);
        ck_assert_int_eq(
            store_get(r, (enum store_db)db, key, klen, &got, &glen), 0);
        ck_assert_uint_eq(glen, vlen);
        ck_assert_mem_eq(got, val, vlen);
        /* the same key is absent from the other databases */
        klen = db_key((enum store_db)db, 6, key);
        ck_assert_int_eq(
            store_get(r, (enum store_db)db, key, klen, &got, &glen),
            TDEI_NOTFOUND);
        ck_assert_ptr_null(got);
        ck_assert_uint_eq(glen, 0);
    }
    store_read_end(r);

    store_batch_reset(b);
    ck_assert_uint_eq(store_batch_ops(b), 0);
    for (int db = 0; db < STORE_DB_COUNT; db++) {
        size_t klen = db_key((enum store_db)db, 5, key);
        ck_assert_int_eq(store_batch_del(b, (enum store_db)db, key, klen), 0);
    }
    commit_ok(s, b);
    r = read_ok(s);
    for (int db = 0; db < STORE_DB_COUNT; db++) {
        const uint8_t *got;
        size_t glen;
        size_t klen = db_key((enum store_db)db, 5, key);
        ck_assert_int_eq(
            store_get(r, (enum store_db)db, key, klen, &got, &glen),
            TDEI_NOTFOUND);
    }
    store_read_end(r);
    store_batch_destroy(b);
    store_close(s);
}
END_TEST

START_TEST(test_later_op_in_batch_wins)
{
    struct store *s = open_ok(NULL);
    struct store_batch *b = batch_new();
    char buf[64];
    const uint8_t *k = (const uint8_t *)"k";

    ck_assert_int_eq(
        store_batch_put(b, STORE_DB_STATE, k, 1, (const uint8_t *)"one", 3), 0);
    ck_assert_int_eq(store_batch_del(b, STORE_DB_STATE, k, 1), 0);
    ck_assert_int_eq(
        store_batch_put(b, STORE_DB_STATE, k, 1, (const uint8_t *)"two", 3), 0);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE, (const uint8_t *)"gone",
                                     4, (const uint8_t *)"x", 1),
                     0);
    ck_assert_int_eq(
        store_batch_del(b, STORE_DB_STATE, (const uint8_t *)"gone", 4), 0);
    /* deleting a key that never existed is not an error */
    ck_assert_int_eq(
        store_batch_del(b, STORE_DB_STATE, (const uint8_t *)"never", 5), 0);
    ck_assert_uint_eq(store_batch_bytes(b), 1 + 3 + 1 + 1 + 3 + 4 + 1 + 4 + 5);
    commit_ok(s, b);
    ck_assert_str_eq(get_str(s, STORE_DB_STATE, "k", buf, sizeof(buf)), "two");
    ck_assert_ptr_null(get_str(s, STORE_DB_STATE, "gone", buf, sizeof(buf)));
    store_batch_destroy(b);
    store_close(s);
}
END_TEST

START_TEST(test_empty_value_and_empty_batch)
{
    struct store *s = open_ok(NULL);
    struct store_batch *b = batch_new();
    struct store_read *r;
    struct store_stats st;
    const uint8_t *got;
    size_t glen;

    commit_ok(s, b); /* nothing to do */
    ck_assert_int_eq(
        store_batch_put(b, STORE_DB_INDEX, (const uint8_t *)"t", 1, NULL, 0),
        0);
    commit_ok(s, b);
    r = read_ok(s);
    ck_assert_int_eq(
        store_get(r, STORE_DB_INDEX, (const uint8_t *)"t", 1, &got, &glen), 0);
    ck_assert_uint_eq(glen, 0);
    ck_assert_int_eq(store_stats(r, &st), 0);
    ck_assert_uint_eq(st.commits, 1);
    ck_assert_uint_eq(st.entries[STORE_DB_INDEX], 1);
    ck_assert_uint_eq(st.entries[STORE_DB_META], 1); /* store.version */
    ck_assert_uint_eq(st.readers_open, 1);
    ck_assert_uint_gt(st.page_size, 0);
    ck_assert_uint_gt(st.pages_used, 0);
    ck_assert_uint_eq(st.map_size, STORE_MAP_SIZE_INITIAL_DEFAULT);
    ck_assert_uint_eq(st.map_size_max, STORE_MAP_SIZE_MAX_DEFAULT);
    store_read_end(r);
    store_batch_destroy(b);
    store_close(s);
}
END_TEST

START_TEST(test_get_copy_and_meta_u64)
{
    struct store *s = open_ok(NULL);
    struct store_batch *b = batch_new();
    struct store_read *r;
    uint8_t buf[8];
    size_t len;
    uint64_t v;

    ck_assert_int_eq(store_meta_put_u64(b, "height", 0x0102030405060708u), 0);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_META, (const uint8_t *)"short",
                                     5, (const uint8_t *)"abc", 3),
                     0);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE, (const uint8_t *)"nine",
                                     4, (const uint8_t *)"123456789", 9),
                     0);
    commit_ok(s, b);
    r = read_ok(s);
    ck_assert_int_eq(store_meta_get_u64(r, "height", &v), 0);
    ck_assert_uint_eq(v, 0x0102030405060708u);
    ck_assert_int_eq(store_get_copy(r, STORE_DB_META, (const uint8_t *)"height",
                                    6, buf, sizeof(buf), &len),
                     0);
    ck_assert_uint_eq(len, 8);
    ck_assert_uint_eq(buf[0], 1);
    ck_assert_uint_eq(buf[7], 8);
    ck_assert_int_eq(store_meta_get_u64(r, "short", &v), TDEI_CORRUPT);
    ck_assert_uint_eq(v, 0);
    ck_assert_ptr_nonnull(strstr(store_read_errmsg(r), "short"));
    ck_assert_int_eq(store_meta_get_u64(r, "absent", &v), TDEI_NOTFOUND);
    ck_assert_int_eq(store_get_copy(r, STORE_DB_STATE, (const uint8_t *)"nine",
                                    4, buf, sizeof(buf), &len),
                     TDEI_TOOBIG);
    ck_assert_uint_eq(len, 9);
    store_read_end(r);
    store_batch_destroy(b);
    store_close(s);
}
END_TEST

START_TEST(test_byte_order_helpers)
{
    uint8_t b8[8], b4[4];

    store_u64_encode(b8, 0x1122334455667788u);
    ck_assert_uint_eq(b8[0], 0x11);
    ck_assert_uint_eq(b8[7], 0x88);
    ck_assert_uint_eq(store_u64_decode(b8), 0x1122334455667788u);
    store_u32_encode(b4, 0xa1b2c3d4u);
    ck_assert_uint_eq(b4[0], 0xa1);
    ck_assert_uint_eq(store_u32_decode(b4), 0xa1b2c3d4u);
    ck_assert_str_eq(store_db_name(STORE_DB_BLOCK_IDS), "block_ids");
    ck_assert_str_eq(store_db_name(STORE_DB_SIGNER), "signer");
}
END_TEST

/* ---- atomic batches ------------------------------------------------------ */

START_TEST(test_key_one_past_limit_refused_and_nothing_written)
{
    struct store *s = open_ok(NULL);
    struct store_batch *b = batch_new();
    uint8_t key[STORE_KEY_SIZE_MAX + 1];
    char buf[64];
    int rc;

    memset(key, 'k', sizeof(key));
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE,
                                     (const uint8_t *)"before", 6,
                                     (const uint8_t *)"1", 1),
                     0);
    /* the limit itself is fine */
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE, key, STORE_KEY_SIZE_MAX,
                                     (const uint8_t *)"2", 1),
                     0);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE, key,
                                     STORE_KEY_SIZE_MAX + 1,
                                     (const uint8_t *)"3", 1),
                     TDEI_TOOBIG);
    ck_assert_ptr_nonnull(strstr(store_batch_errmsg(b), "512"));
    ck_assert_ptr_nonnull(strstr(store_batch_errmsg(b), "state"));
    /* the batch stays refused, keeping its first error */
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE,
                                     (const uint8_t *)"after", 5,
                                     (const uint8_t *)"4", 1),
                     TDEI_TOOBIG);
    ck_assert_ptr_nonnull(strstr(store_batch_errmsg(b), "512"));
    rc = store_commit(s, b, errmsg);
    ck_assert_int_eq(rc, TDEI_TOOBIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "nothing written"));
    ck_assert_ptr_null(get_str(s, STORE_DB_STATE, "before", buf, sizeof(buf)));
    ck_assert_ptr_null(get_str(s, STORE_DB_STATE, "after", buf, sizeof(buf)));

    /* reset clears the poison; the 511-byte key round-trips */
    store_batch_reset(b);
    ck_assert_str_eq(store_batch_errmsg(b), "");
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE, key, STORE_KEY_SIZE_MAX,
                                     (const uint8_t *)"2", 1),
                     0);
    commit_ok(s, b);
    {
        struct store_read *r = read_ok(s);
        const uint8_t *got;
        size_t glen;
        ck_assert_int_eq(
            store_get(r, STORE_DB_STATE, key, STORE_KEY_SIZE_MAX, &got, &glen),
            0);
        /* a key that can never be stored is simply not found */
        ck_assert_int_eq(store_get(r, STORE_DB_STATE, key,
                                   STORE_KEY_SIZE_MAX + 1, &got, &glen),
                         TDEI_NOTFOUND);
        ck_assert_int_eq(store_get(r, STORE_DB_STATE, key, 0, &got, &glen),
                         TDEI_NOTFOUND);
        store_read_end(r);
    }
    store_batch_destroy(b);
    store_close(s);
}
END_TEST

START_TEST(test_bad_ops_refused)
{
    struct store_batch *b;
    uint8_t key[40] = {0};
    uint8_t val[16] = {0};

    b = batch_new();
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE, key, 0, val, 1),
                     TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(store_batch_errmsg(b), "empty key"));
    store_batch_reset(b);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_BLOCKS, key, 7, val, 1),
                     TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(store_batch_errmsg(b), "8-byte keys"));
    store_batch_reset(b);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_BLOCK_IDS, key, 32, val, 9),
                     TDEI_INVAL);
    store_batch_reset(b);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_TXS, key, 32, val, 11),
                     TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(store_batch_errmsg(b), "12-byte values"));
    store_batch_reset(b);
    ck_assert_int_eq(store_batch_del(b, STORE_DB_RESULTS, key, 13), TDEI_INVAL);
    store_batch_reset(b);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_TXS, key, 32, val, 12), 0);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_RESULTS, key, 12, val, 0), 0);
    ck_assert_int_eq(store_meta_put_u64(b, "store.version", 1), TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(store_batch_errmsg(b), "reserved"));
    store_batch_destroy(b);
}
END_TEST

START_TEST(test_batch_size_limit_one_past)
{
    struct store_batch *b = NULL;
    uint8_t val[100] = {0};

    /* 8 bytes of header + 1 key byte + 91 value bytes = 100 */
    ck_assert_int_eq(store_batch_create(&b, 200), 0);
    ck_assert_int_eq(
        store_batch_put(b, STORE_DB_STATE, (const uint8_t *)"a", 1, val, 91),
        0);
    ck_assert_int_eq(
        store_batch_put(b, STORE_DB_STATE, (const uint8_t *)"b", 1, val, 91),
        0);
    ck_assert_int_eq(
        store_batch_put(b, STORE_DB_STATE, (const uint8_t *)"c", 1, NULL, 0),
        TDEI_TOOBIG);
    ck_assert_ptr_nonnull(strstr(store_batch_errmsg(b), "200"));
    store_batch_destroy(b);
}
END_TEST

START_TEST(test_out_of_memory_in_batch_refuses_commit)
{
    struct store *s = open_ok(NULL);
    struct store_batch *b = batch_new();
    char buf[16];

    tdei_alloc_fail_inject(0, 1);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE, (const uint8_t *)"k", 1,
                                     (const uint8_t *)"v", 1),
                     TDEI_NOMEM);
    tdei_alloc_fail_inject(-1, 0);
    ck_assert_int_eq(store_commit(s, b, errmsg), TDEI_NOMEM);
    ck_assert_ptr_null(get_str(s, STORE_DB_STATE, "k", buf, sizeof(buf)));
    store_batch_destroy(b);
    store_close(s);
}
END_TEST

START_TEST(test_failure_mid_commit_leaves_store_unchanged)
{
    /* The first ops of the batch go into the transaction; a later one
     * fills the map at its maximum: the whole batch must vanish. */
    struct store_options opts = small_options(MIB, MIB, 2 * MIB);
    struct store *s = open_ok(&opts);
    struct store_batch *b = batch_new();
    uint8_t *val = tdei_malloc(64 * 1024);
    char buf[64];
    struct store_read *r;
    uint64_t v;

    put_str(s, STORE_DB_STATE, "kept", "yes");
    ck_assert_int_eq(store_meta_put_u64(b, "height", 9), 0);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE, (const uint8_t *)"kept",
                                     4, (const uint8_t *)"no", 2),
                     0);
    for (uint64_t i = 0; i < 64; i++) { /* 4 MiB */
        uint8_t key[8];
        store_u64_encode(key, i);
        fill(val, 64 * 1024, i, 3);
        ck_assert_int_eq(
            store_batch_put(b, STORE_DB_BLOCKS, key, 8, val, 64 * 1024), 0);
    }
    ck_assert_int_eq(store_commit(s, b, errmsg), TDEI_NOSPACE);
    ck_assert_str_eq(get_str(s, STORE_DB_STATE, "kept", buf, sizeof(buf)),
                     "yes");
    r = read_ok(s);
    ck_assert_int_eq(store_meta_get_u64(r, "height", &v), TDEI_NOTFOUND);
    {
        struct store_stats st;
        ck_assert_int_eq(store_stats(r, &st), 0);
        ck_assert_uint_eq(st.entries[STORE_DB_BLOCKS], 0);
    }
    store_read_end(r);
    tdei_free(val);
    store_batch_destroy(b);
    store_close(s);
}
END_TEST

/* ---- checked commits ----------------------------------------------------- */

/* What the check of test_commit_checked_* saw, and what it wants. */
struct check_probe
{
    const char *want; /* accept only this value; NULL: only absence */
    unsigned calls;   /* times called */
    int found;        /* its last @found */
    char seen[64];    /* its last value, as a string */
};

static int check_equals(void *arg, int found, const uint8_t *val, size_t vlen,
                        char *msg)
{
    struct check_probe *p = arg;

    p->calls++;
    p->found = found;
    ck_assert_uint_lt(vlen, sizeof(p->seen));
    ck_assert(found || (val == NULL && vlen == 0));
    if (vlen > 0) {
        memcpy(p->seen, val, vlen);
    }
    p->seen[vlen] = '\0';
    if (p->want == NULL ? found : !found || strcmp(p->seen, p->want) != 0) {
        return tdei_errorf(msg, TDEI_ERRMSG_SIZE, TDEI_EXISTS,
                           "value is \"%s\"", p->seen);
    }
    return 0;
}

/* Commit "@key = @val" in signer if the check of @p accepts. */
static int put_checked(struct store *s, const char *key, const char *val,
                       struct check_probe *p)
{
    struct store_batch *b = batch_new();
    int rc;

    ck_assert_int_eq(store_batch_put(b, STORE_DB_SIGNER, (const uint8_t *)key,
                                     strlen(key), (const uint8_t *)val,
                                     strlen(val)),
                     0);
    rc = store_commit_checked(s, b, STORE_DB_SIGNER, (const uint8_t *)key,
                              strlen(key), errmsg, p, check_equals);
    store_batch_destroy(b);
    return rc;
}

START_TEST(test_commit_checked_compares_and_swaps)
{
    struct store *s = open_ok(NULL);
    struct check_probe p = {0};
    struct store_batch *empty = batch_new();
    char buf[64];

    /* Absent: the check sees nothing and the batch is written. */
    ck_assert_int_eq(put_checked(s, "last", "one", &p), 0);
    ck_assert_uint_eq(p.calls, 1);
    ck_assert_int_eq(p.found, 0);
    ck_assert_str_eq(get_str(s, STORE_DB_SIGNER, "last", buf, sizeof(buf)),
                     "one");
    /* A refusal writes nothing and returns the check's code and text. */
    ck_assert_int_eq(put_checked(s, "last", "two", &p), TDEI_EXISTS);
    ck_assert_str_eq(errmsg, "value is \"one\"");
    ck_assert_str_eq(get_str(s, STORE_DB_SIGNER, "last", buf, sizeof(buf)),
                     "one");
    /* The expected value: swapped. */
    p.want = "one";
    ck_assert_int_eq(put_checked(s, "last", "two", &p), 0);
    ck_assert_int_eq(p.found, 1);
    ck_assert_str_eq(get_str(s, STORE_DB_SIGNER, "last", buf, sizeof(buf)),
                     "two");
    /* An empty batch still runs the check. */
    p.calls = 0;
    ck_assert_int_eq(store_commit_checked(s, empty, STORE_DB_SIGNER,
                                          (const uint8_t *)"last", 4, errmsg,
                                          &p, check_equals),
                     TDEI_EXISTS);
    ck_assert_uint_eq(p.calls, 1);
    ck_assert_str_eq(p.seen, "two");
    store_batch_destroy(empty);
    store_close(s);
}
END_TEST

START_TEST(test_commit_checked_runs_again_after_growth)
{
    struct store_options opts = small_options(MIB, MIB, 16 * MIB);
    struct store *s = open_ok(&opts);
    struct store_batch *b = batch_new();
    struct check_probe p = {0};
    static uint8_t big[64 * 1024];
    uint8_t key[64];
    char buf[64];

    /* About 3 MiB in one batch: the 1 MiB map grows twice or more. */
    for (uint64_t n = 0; n < 48; n++) {
        size_t klen = db_key(STORE_DB_STATE, n, key);
        fill(big, sizeof(big), n, 7);
        ck_assert_int_eq(
            store_batch_put(b, STORE_DB_STATE, key, klen, big, sizeof(big)), 0);
    }
    ck_assert_int_eq(store_batch_put(b, STORE_DB_SIGNER,
                                     (const uint8_t *)"last", 4,
                                     (const uint8_t *)"grown", 5),
                     0);
    ck_assert_int_eq(store_commit_checked(s, b, STORE_DB_SIGNER,
                                          (const uint8_t *)"last", 4, errmsg,
                                          &p, check_equals),
                     0);
    ck_assert_uint_ge(p.calls, 2);
    ck_assert_str_eq(get_str(s, STORE_DB_SIGNER, "last", buf, sizeof(buf)),
                     "grown");
    store_batch_destroy(b);
    store_close(s);
}
END_TEST

/* ---- reopen, version, options, directory --------------------------------- */

START_TEST(test_data_persists_after_reopen)
{
    struct store *s = open_ok(NULL);
    char buf[64];

    put_str(s, STORE_DB_STATE, "member/acme", "record-1");
    put_str(s, STORE_DB_SIGNER, "last", "h=7 r=0 step=prevote");
    store_close(s);
    s = open_ok(NULL);
    ck_assert_str_eq(
        get_str(s, STORE_DB_STATE, "member/acme", buf, sizeof(buf)),
        "record-1");
    ck_assert_str_eq(get_str(s, STORE_DB_SIGNER, "last", buf, sizeof(buf)),
                     "h=7 r=0 step=prevote");
    store_close(s);
    store_close(NULL);
}
END_TEST

START_TEST(test_unsynced_store_commits_and_reads_back)
{
    struct store_options opts = store_options_default();
    struct store *s;
    char buf[64];

    ck_assert_int_eq(opts.no_sync, 0); /* the ledger's default: synced */
    opts.no_sync = 1;
    s = open_ok(&opts);
    put_str(s, STORE_DB_STATE, "member/acme", "record-1");
    put_str(s, STORE_DB_META, "height", "12");
    ck_assert_str_eq(
        get_str(s, STORE_DB_STATE, "member/acme", buf, sizeof(buf)),
        "record-1");
    store_close(s);
    s = open_ok(NULL);
    ck_assert_str_eq(get_str(s, STORE_DB_META, "height", buf, sizeof(buf)),
                     "12");
    store_close(s);
}
END_TEST

/* Rewrite store.version in @dir with raw LMDB: @len bytes of @version
 * (big-endian), or delete it when @len is 0. */
static void raw_set_version(uint64_t version, size_t len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t buf[8];
    MDB_val key = {.mv_size = 13, .mv_data = "store.version"};
    MDB_val val = {.mv_size = len, .mv_data = buf};

    store_u64_encode(buf, version);
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 8), 0);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    if (len == 0) {
        ck_assert_int_eq(mdb_del(txn, dbi, &key, NULL), 0);
    } else {
        ck_assert_int_eq(mdb_put(txn, dbi, &key, &val, 0), 0);
    }
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

START_TEST(test_version_mismatch_refused)
{
    struct store *s = open_ok(NULL);
    int rc;

    put_str(s, STORE_DB_STATE, "a", "b");
    store_close(s);

    raw_set_version(STORE_FORMAT_VERSION + 1, 8);
    s = (struct store *)1;
    rc = store_open(&s, dir, NULL, errmsg);
    ck_assert_int_eq(rc, TDEI_VERSION);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(errmsg, "version 3"));
    ck_assert_ptr_nonnull(strstr(errmsg, dir));

    raw_set_version(1, 3);
    ck_assert_int_eq(store_open(&s, dir, NULL, errmsg), TDEI_CORRUPT);

    /* records but no version: not a store of ours */
    raw_set_version(0, 0);
    ck_assert_int_eq(store_open(&s, dir, NULL, errmsg), TDEI_CORRUPT);
    ck_assert_ptr_nonnull(strstr(errmsg, "no store.version"));

    /* the refusals left the lock free and the version right once fixed */
    raw_set_version(STORE_FORMAT_VERSION, 8);
    s = open_ok(NULL);
    store_close(s);
}
END_TEST

START_TEST(test_options_out_of_range_refused)
{
    struct store *s = NULL;
    struct store_options opts;

    opts = small_options(MIB / 2, MIB, 8 * MIB);
    ck_assert_int_eq(store_open(&s, dir, &opts, errmsg), TDEI_CONFIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "store.map_size_initial=524288"));
    opts = small_options(16 * MIB, MIB, 8 * MIB);
    ck_assert_int_eq(store_open(&s, dir, &opts, errmsg), TDEI_CONFIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "store.map_size_initial"));
    opts = small_options(MIB, MIB - 1, 8 * MIB);
    ck_assert_int_eq(store_open(&s, dir, &opts, errmsg), TDEI_CONFIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "store.map_size_growth"));
    opts = small_options(MIB, MIB, STORE_MAP_SIZE_LIMIT + 1);
    ck_assert_int_eq(store_open(&s, dir, &opts, errmsg), TDEI_CONFIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "store.map_size_max"));
    opts = small_options(MIB, MIB, 8 * MIB);
    opts.max_readers = 0;
    ck_assert_int_eq(store_open(&s, dir, &opts, errmsg), TDEI_CONFIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "store.max_readers=0"));
    opts.max_readers = STORE_READERS_LIMIT + 1;
    ck_assert_int_eq(store_open(&s, dir, &opts, errmsg), TDEI_CONFIG);
    ck_assert_ptr_null(s);
    /* the limits themselves are fine */
    opts = small_options(MIB, MIB, MIB);
    opts.max_readers = 1;
    s = open_ok(&opts);
    store_close(s);
}
END_TEST

START_TEST(test_directory_created_private)
{
    struct store *s = open_ok(NULL);
    struct stat st;
    char path[4300];
    char text[32] = {0};
    FILE *f;

    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_uint_eq(st.st_mode & 0777, 0700);
    (void)snprintf(path, sizeof(path), "%s/LOCK", dir);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(text, sizeof(text), f));
    fclose(f);
    ck_assert_int_eq(atol(text), (long)getpid());
    store_close(s);
}
END_TEST

START_TEST(test_bad_directories_refused)
{
    struct store *s = NULL;
    char path[4300];
    FILE *f;

    (void)snprintf(dir, sizeof(dir), "%s/missing/ledger", tmpdir);
    ck_assert_int_eq(store_open(&s, dir, NULL, errmsg), TDEI_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(errmsg, dir));

    (void)snprintf(path, sizeof(path), "%s/file", tmpdir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(store_open(&s, path, NULL, errmsg), TDEI_IOERR);
    ck_assert_ptr_nonnull(strstr(errmsg, "not a directory"));
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_open_out_of_memory_leaves_nothing)
{
    struct store *s = NULL;
    int failures = 0;

    /* store_open allocates the store, the path copy and the read pool */
    for (long n = 0; n < 3; n++) {
        tdei_alloc_fail_inject(n, 1);
        ck_assert_int_eq(store_open(&s, dir, NULL, errmsg), TDEI_NOMEM);
        tdei_alloc_fail_inject(-1, 0);
        ck_assert_ptr_null(s);
        failures++;
    }
    ck_assert_int_eq(failures, 3);
    /* nothing stayed locked or open */
    s = open_ok(NULL);
    store_close(s);
}
END_TEST

/* ---- the directory lock -------------------------------------------------- */

START_TEST(test_second_open_in_process_locked)
{
    struct store *s = open_ok(NULL);
    struct store *t = (struct store *)1;
    char want[64];
    char buf[16];

    ck_assert_int_eq(store_open(&t, dir, NULL, errmsg), TDEI_LOCKED);
    ck_assert_ptr_null(t);
    (void)snprintf(want, sizeof(want), "(pid %ld)", (long)getpid());
    ck_assert_msg(strstr(errmsg, want) != NULL, "message: %s", errmsg);
    ck_assert_ptr_nonnull(strstr(errmsg, "is in use by another process"));
    ck_assert_ptr_nonnull(strstr(errmsg, "stop it first"));
    ck_assert_ptr_nonnull(strstr(errmsg, dir));
    /* the refused open did not disturb the open store */
    put_str(s, STORE_DB_STATE, "k", "v");
    ck_assert_str_eq(get_str(s, STORE_DB_STATE, "k", buf, sizeof(buf)), "v");
    store_close(s);
    /* closing released the lock */
    s = open_ok(NULL);
    store_close(s);
}
END_TEST

START_TEST(test_second_open_from_child_locked)
{
    struct store *s = open_ok(NULL);
    int status = 0;
    pid_t pid;

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Child: never touch the parent's store; report via exit code. */
        struct store *t = NULL;
        char msg[TDEI_ERRMSG_SIZE];
        char want[64];
        int rc = store_open(&t, dir, NULL, msg);
        (void)snprintf(want, sizeof(want), "(pid %ld)", (long)getppid());
        if (rc != TDEI_LOCKED) {
            _exit(1);
        }
        if (strstr(msg, want) == NULL || t != NULL) {
            _exit(2);
        }
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    put_str(s, STORE_DB_STATE, "still", "works");
    store_close(s);
}
END_TEST

/* ---- map growth ---------------------------------------------------------- */

#define GROW_VALUE_SIZE (16u * 1024u)
#define GROW_VALUES_PER_BATCH 64u /* 1 MiB per batch */

/* Commit @batches batches of 1 MiB each, values (i, 7). Returns the number
 * committed; stops at the first failure, whose code goes to @rc_out. */
static unsigned commit_mib_batches(struct store *s, unsigned first,
                                   unsigned batches, int *rc_out)
{
    struct store_batch *b = batch_new();
    uint8_t *val = tdei_malloc(GROW_VALUE_SIZE);
    unsigned done = 0;

    *rc_out = 0;
    for (unsigned n = first; n < first + batches; n++) {
        store_batch_reset(b);
        for (unsigned j = 0; j < GROW_VALUES_PER_BATCH; j++) {
            uint64_t i = (uint64_t)n * GROW_VALUES_PER_BATCH + j;
            uint8_t key[8];
            store_u64_encode(key, i);
            fill(val, GROW_VALUE_SIZE, i, 7);
            ck_assert_int_eq(store_batch_put(b, STORE_DB_BLOCKS, key, 8, val,
                                             GROW_VALUE_SIZE),
                             0);
        }
        ck_assert_int_eq(store_meta_put_u64(b, "height", n + 1), 0);
        *rc_out = store_commit(s, b, errmsg);
        if (*rc_out != 0) {
            break;
        }
        done++;
    }
    tdei_free(val);
    store_batch_destroy(b);
    return done;
}

/* Check that blocks 0 .. @count values are all there and right. */
static void check_mib_values(struct store *s, uint64_t count)
{
    struct store_read *r = read_ok(s);
    uint8_t *want = tdei_malloc(GROW_VALUE_SIZE);
    struct store_stats st;

    for (uint64_t i = 0; i < count; i++) {
        uint8_t key[8];
        const uint8_t *got;
        size_t glen;
        store_u64_encode(key, i);
        fill(want, GROW_VALUE_SIZE, i, 7);
        ck_assert_int_eq(store_get(r, STORE_DB_BLOCKS, key, 8, &got, &glen), 0);
        ck_assert_uint_eq(glen, GROW_VALUE_SIZE);
        ck_assert(memcmp(got, want, GROW_VALUE_SIZE) == 0);
    }
    ck_assert_int_eq(store_stats(r, &st), 0);
    ck_assert_uint_eq(st.entries[STORE_DB_BLOCKS], count);
    store_read_end(r);
    tdei_free(want);
}

START_TEST(test_map_grows_to_fit_20_mib)
{
    struct store_options opts = small_options(MIB, MIB, 256 * MIB);
    struct store *s = open_ok(&opts);
    struct store_read *r;
    struct store_stats st;
    int rc;

    ck_assert_uint_eq(commit_mib_batches(s, 0, 20, &rc), 20);
    ck_assert_msg(rc == 0, "%s", errmsg);
    check_mib_values(s, 20 * GROW_VALUES_PER_BATCH);
    r = read_ok(s);
    ck_assert_int_eq(store_stats(r, &st), 0);
    store_read_end(r);
    ck_assert_uint_ge(st.growths, 19);
    ck_assert_uint_ge(st.map_size, 20 * MIB);
    ck_assert_uint_le(st.map_size, 64 * MIB);
    ck_assert_uint_ge(st.pages_used * st.page_size, 20 * MIB);
    store_close(s);

    /* Reopening keeps the grown map (LMDB stored it) above the initial
     * size, and the data. */
    s = open_ok(&opts);
    r = read_ok(s);
    ck_assert_int_eq(store_stats(r, &st), 0);
    store_read_end(r);
    ck_assert_uint_ge(st.map_size, 20 * MIB);
    ck_assert_uint_eq(st.growths, 0);
    check_mib_values(s, 20 * GROW_VALUES_PER_BATCH);
    store_close(s);
}
END_TEST

START_TEST(test_map_full_at_max_gives_nospace)
{
    struct store_options opts = small_options(MIB, MIB, 6 * MIB);
    struct store *s = open_ok(&opts);
    struct store_read *r;
    struct store_stats st;
    uint64_t height;
    unsigned done;
    int rc;

    done = commit_mib_batches(s, 0, 12, &rc);
    ck_assert_int_eq(rc, TDEI_NOSPACE);
    ck_assert_uint_ge(done, 2);
    ck_assert_uint_lt(done, 6);
    ck_assert_msg(strstr(errmsg, "ledger map is full at 6291456 bytes; "
                                 "raise store.map_size_max") != NULL,
                  "message: %s", errmsg);
    /* the store still reads, with exactly the committed batches */
    check_mib_values(s, done * GROW_VALUES_PER_BATCH);
    r = read_ok(s);
    ck_assert_int_eq(store_meta_get_u64(r, "height", &height), 0);
    ck_assert_uint_eq(height, done);
    ck_assert_int_eq(store_stats(r, &st), 0);
    ck_assert_uint_eq(st.map_size, 6 * MIB);
    store_read_end(r);
    /* and a small write still fits */
    put_str(s, STORE_DB_STATE, "small", "fits");
    store_close(s);
}
END_TEST

struct slow_reader
{
    struct store *s;
    atomic_int ready; /* the read is open */
    atomic_int ended; /* about to end the read */
    int snapshot_ok;  /* the snapshot did not change */
};

static void *slow_reader_main(void *arg)
{
    struct slow_reader *sr = arg;
    struct store_read *r = NULL;
    char msg[TDEI_ERRMSG_SIZE];
    uint64_t before = 0;
    uint64_t after = 0;

    if (store_read_begin(sr->s, &r, msg) != 0) {
        atomic_store(&sr->ready, -1);
        return NULL;
    }
    (void)store_meta_get_u64(r, "height", &before);
    atomic_store(&sr->ready, 1);
    sleep_ms(300);
    (void)store_meta_get_u64(r, "height", &after);
    sr->snapshot_ok = before == after;
    atomic_store(&sr->ended, 1);
    store_read_end(r);
    return NULL;
}

START_TEST(test_growth_waits_for_open_reads)
{
    struct store_options opts = small_options(MIB, MIB, 64 * MIB);
    struct store *s = open_ok(&opts);
    struct slow_reader sr = {.s = s};
    struct store_read *r;
    struct store_stats st;
    pthread_t thread;
    int rc;

    ck_assert_uint_eq(commit_mib_batches(s, 0, 1, &rc), 1);
    ck_assert_int_eq(pthread_create(&thread, NULL, slow_reader_main, &sr), 0);
    while (atomic_load(&sr.ready) == 0) {
        sleep_ms(1);
    }
    ck_assert_int_eq(atomic_load(&sr.ready), 1);
    /* 2 MiB more than a 1 MiB map: must grow, so must wait for the read */
    ck_assert_uint_eq(commit_mib_batches(s, 1, 2, &rc), 2);
    ck_assert_msg(rc == 0, "%s", errmsg);
    ck_assert_int_eq(atomic_load(&sr.ended), 1);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert(sr.snapshot_ok);
    r = read_ok(s);
    ck_assert_int_eq(store_stats(r, &st), 0);
    store_read_end(r);
    ck_assert_uint_ge(st.growths, 1);
    store_close(s);
}
END_TEST

/* ---- reads during commits ------------------------------------------------ */

struct committer
{
    struct store *s;
    int rc;
};

static void *committer_main(void *arg)
{
    struct committer *c = arg;
    struct store_batch *b = NULL;
    char msg[TDEI_ERRMSG_SIZE];

    c->rc = store_batch_create(&b, 1024);
    if (c->rc == 0) {
        c->rc = store_batch_put(b, STORE_DB_STATE, (const uint8_t *)"k", 1,
                                (const uint8_t *)"new", 3);
    }
    if (c->rc == 0) {
        c->rc = store_commit(c->s, b, msg);
    }
    store_batch_destroy(b);
    return NULL;
}

START_TEST(test_read_snapshot_unchanged_by_commit)
{
    struct store *s = open_ok(NULL);
    struct committer c = {.s = s, .rc = -1};
    struct store_read *r;
    const uint8_t *got;
    size_t glen;
    pthread_t thread;
    char buf[16];

    put_str(s, STORE_DB_STATE, "k", "old");
    r = read_ok(s);
    ck_assert_int_eq(
        store_get(r, STORE_DB_STATE, (const uint8_t *)"k", 1, &got, &glen), 0);
    ck_assert_mem_eq(got, "old", 3);
    /* the commit completes while our read is open: readers never block
     * the writer (a blocked commit would hang here until the timeout) */
    ck_assert_int_eq(pthread_create(&thread, NULL, committer_main, &c), 0);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert_int_eq(c.rc, 0);
    ck_assert_mem_eq(got, "old", 3); /* borrowed bytes still valid */
    ck_assert_int_eq(
        store_get(r, STORE_DB_STATE, (const uint8_t *)"k", 1, &got, &glen), 0);
    ck_assert_uint_eq(glen, 3);
    ck_assert_mem_eq(got, "old", 3);
    store_read_end(r);
    ck_assert_str_eq(get_str(s, STORE_DB_STATE, "k", buf, sizeof(buf)), "new");
    store_close(s);
}
END_TEST

#define READER_THREADS 4

struct pair_reader
{
    struct store *s;
    atomic_int *stop;
    long reads; /* snapshots checked */
    long torn;  /* snapshots where a != b */
    int rc;     /* first unexpected error */
};

static void *pair_reader_main(void *arg)
{
    struct pair_reader *pr = arg;
    char msg[TDEI_ERRMSG_SIZE];

    while (!atomic_load(pr->stop)) {
        struct store_read *r = NULL;
        uint64_t a = 0;
        uint64_t b = 0;
        int rc = store_read_begin(pr->s, &r, msg);
        if (rc != 0) {
            pr->rc = rc;
            return NULL;
        }
        rc = store_meta_get_u64(r, "pair.a", &a);
        if (rc == 0) {
            sleep_ms(1); /* let commits land inside the snapshot */
            rc = store_meta_get_u64(r, "pair.b", &b);
        }
        store_read_end(r);
        if (rc != 0 && rc != TDEI_NOTFOUND) {
            pr->rc = rc;
            return NULL;
        }
        if (rc == 0) {
            pr->reads++;
            pr->torn += a != b;
        }
    }
    return NULL;
}

START_TEST(test_concurrent_readers_see_whole_commits)
{
    /* A tiny map makes the commits grow it while readers come and go. */
    struct store_options opts = small_options(MIB, MIB, 256 * MIB);
    struct store *s = open_ok(&opts);
    struct pair_reader pr[READER_THREADS];
    pthread_t threads[READER_THREADS];
    struct store_batch *b = batch_new();
    uint8_t *val = tdei_malloc(64 * 1024);
    atomic_int stop;
    struct store_read *r;
    struct store_stats st;

    atomic_init(&stop, 0);
    for (int i = 0; i < READER_THREADS; i++) {
        pr[i] = (struct pair_reader){.s = s, .stop = &stop};
        ck_assert_int_eq(
            pthread_create(&threads[i], NULL, pair_reader_main, &pr[i]), 0);
    }
    for (uint64_t n = 1; n <= 60; n++) {
        uint8_t key[8];
        store_batch_reset(b);
        ck_assert_int_eq(store_meta_put_u64(b, "pair.a", n), 0);
        for (uint64_t j = 0; j < 4; j++) { /* 256 KiB in between */
            store_u64_encode(key, n * 4 + j);
            fill(val, 64 * 1024, n, j);
            ck_assert_int_eq(
                store_batch_put(b, STORE_DB_BLOCKS, key, 8, val, 64 * 1024), 0);
        }
        ck_assert_int_eq(store_meta_put_u64(b, "pair.b", n), 0);
        commit_ok(s, b);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < READER_THREADS; i++) {
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        ck_assert_int_eq(pr[i].rc, 0);
        ck_assert_int_eq(pr[i].torn, 0);
        ck_assert_int_gt(pr[i].reads, 0);
    }
    r = read_ok(s);
    ck_assert_int_eq(store_stats(r, &st), 0);
    store_read_end(r);
    ck_assert_uint_ge(st.growths, 1);
    ck_assert_uint_eq(st.readers_open, 1);
    tdei_free(val);
    store_batch_destroy(b);
    store_close(s);
}
END_TEST

struct handoff
{
    struct store *s;
    struct store_read *r;
};

static void *begin_and_hand_over(void *arg)
{
    struct handoff *h = arg;
    char msg[TDEI_ERRMSG_SIZE];

    if (store_read_begin(h->s, &h->r, msg) != 0) {
        h->r = NULL;
    }
    return NULL;
}

START_TEST(test_reads_pass_between_threads_and_pool_is_bounded)
{
    struct store_options opts = store_options_default();
    struct store *s;
    struct handoff h[2];
    struct store_read *r;
    const uint8_t *got;
    size_t glen;

    opts.max_readers = 2;
    s = open_ok(&opts);
    put_str(s, STORE_DB_STATE, "k", "v");
    for (int i = 0; i < 2; i++) {
        pthread_t thread;
        h[i] = (struct handoff){.s = s};
        ck_assert_int_eq(
            pthread_create(&thread, NULL, begin_and_hand_over, &h[i]), 0);
        ck_assert_int_eq(pthread_join(thread, NULL), 0);
        ck_assert_ptr_nonnull(h[i].r);
    }
    /* reads begun by exited threads are used and ended here */
    ck_assert_int_eq(
        store_get(h[0].r, STORE_DB_STATE, (const uint8_t *)"k", 1, &got, &glen),
        0);
    ck_assert_int_eq(store_read_begin(s, &r, errmsg), TDEI_BUSY);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(errmsg, "store.max_readers"));
    store_read_end(h[0].r);
    store_read_end(h[1].r);
    /* the pool entries are reused */
    for (int i = 0; i < 5; i++) {
        r = read_ok(s);
        ck_assert_int_eq(
            store_get(r, STORE_DB_STATE, (const uint8_t *)"k", 1, &got, &glen),
            0);
        store_read_end(r);
    }
    store_read_end(NULL);
    store_close(s);
}
END_TEST

/* ---- misuse (asserts) ---------------------------------------------------- */

static char misuse_tmpdir[4096];

static void misuse_setup_once(void)
{
    (void)snprintf(misuse_tmpdir, sizeof(misuse_tmpdir), "%s",
                   testutil_tmpdir());
}

static void misuse_teardown_once(void) { testutil_rmtree(misuse_tmpdir); }

static void misuse_setup(void)
{
    static int n;

    testutil_leak_setup();
    (void)snprintf(dir, sizeof(dir), "%s/ledger-%d-%ld", misuse_tmpdir, n++,
                   (long)getpid());
}

START_TEST(test_nested_read_in_one_thread_asserts)
{
    struct store *s = open_ok(NULL);
    struct store_read *r = read_ok(s);
    struct store_read *r2 = NULL;

    (void)r;
    (void)store_read_begin(s, &r2, errmsg); /* aborts */
}
END_TEST

START_TEST(test_commit_while_holding_read_asserts)
{
    struct store *s = open_ok(NULL);
    struct store_read *r = read_ok(s);
    struct store_batch *b = batch_new();

    (void)r;
    (void)store_commit(s, b, errmsg); /* aborts */
}
END_TEST

START_TEST(test_read_end_with_open_iterator_asserts)
{
    struct store *s = open_ok(NULL);
    struct store_read *r = read_ok(s);
    struct store_iter it;

    ck_assert_int_eq(
        store_iter_init(&it, r, STORE_DB_STATE, NULL, 0, NULL, 0, 0), 0);
    store_read_end(r); /* aborts */
}
END_TEST

/* ---- crash safety -------------------------------------------------------- */

#define CRASH_ROUNDS 10
#define CRASH_KEYS 16   /* per height, "h/<height>/<i>" */
#define CRASH_CUR 8     /* overwritten each height, "cur/<i>" = height */
#define CRASH_VALUE 200 /* bytes per "h/" value */

static size_t crash_key(char *out, size_t cap, uint64_t h, unsigned i)
{
    return (size_t)snprintf(out, cap, "h/%010" PRIu64 "/%03u", h, i);
}

/* The child: commit heights after the stored one until killed. */
static void crash_child(void)
{
    struct store_options opts = small_options(MIB, 2 * MIB, 1024u * MIB);
    char msg[TDEI_ERRMSG_SIZE];
    struct store *s = NULL;
    struct store_batch *b = NULL;
    struct store_read *r = NULL;
    uint8_t val[CRASH_VALUE];
    uint64_t h = 0;

    if (store_open(&s, dir, &opts, msg) != 0) {
        fprintf(stderr, "crash child: %s\n", msg);
        _exit(2);
    }
    if (store_read_begin(s, &r, msg) != 0) {
        _exit(3);
    }
    if (store_meta_get_u64(r, "height", &h) == TDEI_NOTFOUND) {
        h = 0;
    }
    store_read_end(r);
    if (store_batch_create(&b, BATCH_MAX) != 0) {
        _exit(4);
    }
    for (;;) {
        h++;
        store_batch_reset(b);
        for (unsigned i = 0; i < CRASH_KEYS; i++) {
            char key[64];
            size_t klen = crash_key(key, sizeof(key), h, i);
            fill(val, sizeof(val), h, i);
            (void)store_batch_put(b, STORE_DB_STATE, (const uint8_t *)key, klen,
                                  val, sizeof(val));
        }
        for (unsigned i = 0; i < CRASH_CUR; i++) {
            char key[16];
            uint8_t hv[8];
            int klen = snprintf(key, sizeof(key), "cur/%u", i);
            store_u64_encode(hv, h);
            (void)store_batch_put(b, STORE_DB_STATE, (const uint8_t *)key,
                                  (size_t)klen, hv, sizeof(hv));
        }
        (void)store_meta_put_u64(b, "height", h);
        if (store_commit(s, b, msg) != 0) {
            fprintf(stderr, "crash child: %s\n", msg);
            _exit(5);
        }
    }
}

/* Check the store after a kill; returns the stored height. */
static uint64_t crash_check(void)
{
    struct store *s = open_ok(NULL);
    struct store_read *r = read_ok(s);
    struct store_iter it;
    const uint8_t *key, *val;
    size_t klen, vlen;
    uint8_t want[CRASH_VALUE];
    uint64_t height = 0;
    uint64_t count = 0;
    int rc;

    rc = store_meta_get_u64(r, "height", &height);
    ck_assert(rc == 0 || rc == TDEI_NOTFOUND);
    ck_assert_int_eq(store_iter_init(&it, r, STORE_DB_STATE,
                                     (const uint8_t *)"h/", 2, NULL, 0, 0),
                     0);
    while ((rc = store_iter_next(&it, &key, &klen, &val, &vlen)) == 0) {
        char name[64];
        uint64_t h = count / CRASH_KEYS + 1;
        unsigned i = (unsigned)(count % CRASH_KEYS);
        size_t nlen = crash_key(name, sizeof(name), h, i);
        ck_assert_msg(h <= height,
                      "key of height %" PRIu64
                      " above the stored height %" PRIu64,
                      h, height);
        ck_assert_uint_eq(klen, nlen);
        ck_assert_mem_eq(key, name, nlen);
        fill(want, sizeof(want), h, i);
        ck_assert_uint_eq(vlen, sizeof(want));
        ck_assert(memcmp(val, want, sizeof(want)) == 0);
        count++;
    }
    ck_assert_int_eq(rc, TDEI_NOTFOUND);
    store_iter_close(&it);
    ck_assert_uint_eq(count, height * CRASH_KEYS);
    for (unsigned i = 0; i < CRASH_CUR; i++) {
        char name[16];
        const uint8_t *got;
        size_t glen;
        int nlen = snprintf(name, sizeof(name), "cur/%u", i);
        rc = store_get(r, STORE_DB_STATE, (const uint8_t *)name, (size_t)nlen,
                       &got, &glen);
        if (height == 0) {
            ck_assert_int_eq(rc, TDEI_NOTFOUND);
        } else {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(glen, 8);
            ck_assert_uint_eq(store_u64_decode(got), height);
        }
    }
    store_read_end(r);
    store_close(s);
    return height;
}

START_TEST(test_sigkill_never_leaves_a_torn_batch)
{
    const char *env = getenv("TDEI_TEST_SEED");
    uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
    uint64_t last = 0;

    if (env != NULL) {
        seed = (uint64_t)strtoull(env, NULL, 10);
    }

    if (seed == 0) {
        seed = 1;
    }
    fprintf(stderr,
            "test_store crash: seed %" PRIu64
            " (replay with TDEI_TEST_SEED=%" PRIu64 ")\n",
            seed, seed);
    prng_state = seed;
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        unsigned delay = 30 + (unsigned)(prng_next() % 200);
        int status = 0;
        uint64_t height;
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            crash_child();
        }
        sleep_ms(delay);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "seed %" PRIu64 " round %d: child exited by itself "
                      "(status %d)",
                      seed, round, status);
        height = crash_check();
        ck_assert_msg(height >= last,
                      "seed %" PRIu64 ": height went back "
                      "from %" PRIu64 " to %" PRIu64,
                      seed, last, height);
        last = height;
    }
    ck_assert_msg(last > 0, "seed %" PRIu64 ": no commit in %d rounds", seed,
                  CRASH_ROUNDS);
    fprintf(stderr, "test_store crash: %d kills, height %" PRIu64 "\n",
            CRASH_ROUNDS, last);
}
END_TEST

/* ---- iteration ----------------------------------------------------------- */

/* Keys for the order tests, including 0x00/0xff edges. */
static const struct
{
    const char *bytes;
    size_t len;
} iter_keys[] = {
    {"a", 1},
    {"a\x00", 2},
    {"a\x01", 2},
    {"ab", 2},
    {"abc", 3},
    {"a\xff", 2},
    {"a\xff\xff", 3},
    {"a\xff"
     "b",
     3},
    {"b", 1},
    {"ba", 2},
    {"c\x00\x00", 3},
    {"\xff", 1},
    {"\xff\xff", 2},
    {"\x00", 1},
    {"\x00\x01", 2},
    {"zz", 2},
};
#define ITER_KEYS (sizeof(iter_keys) / sizeof(iter_keys[0]))

/* Bytewise order, a prefix first: LMDB's default. */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n != 0 ? memcmp(a, b, n) : 0;

    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : alen > blen;
}

/* The keys the naive reference expects, in order, into @idx. */
static size_t iter_expected(const uint8_t *prefix, size_t plen,
                            const uint8_t *start, size_t slen, int reverse,
                            size_t idx[ITER_KEYS])
{
    size_t n = 0;

    for (size_t i = 0; i < ITER_KEYS; i++) {
        const uint8_t *k = (const uint8_t *)iter_keys[i].bytes;
        size_t klen = iter_keys[i].len;
        if (klen < plen || memcmp(k, prefix, plen) != 0) {
            continue;
        }
        if (start != NULL && !reverse && key_cmp(k, klen, start, slen) < 0) {
            continue;
        }
        if (start != NULL && reverse && key_cmp(k, klen, start, slen) > 0) {
            continue;
        }
        idx[n++] = i;
    }
    /* insertion sort by key order, reversed when asked */
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0; j--) {
            size_t a = idx[j - 1], b = idx[j];
            int c =
                key_cmp((const uint8_t *)iter_keys[a].bytes, iter_keys[a].len,
                        (const uint8_t *)iter_keys[b].bytes, iter_keys[b].len);
            if (reverse ? c >= 0 : c <= 0) {
                break;
            }
            idx[j - 1] = b;
            idx[j] = a;
        }
    }
    return n;
}

START_TEST(test_iteration_matches_reference)
{
    static const struct
    {
        const char *bytes;
        size_t len;
    } probes[] = {
        {"", 0},         {"a", 1},
        {"a\x00", 2},    {"a\xff", 2},
        {"ab", 2},       {"abz", 3},
        {"b", 1},        {"\xff", 1},
        {"\xff\xff", 2}, {"\xff\xff\xff", 3},
        {"\x00", 1},     {"aa", 2},
        {"c", 1},        {"zzz", 3},
        {"`", 1},        {"a\xff\xff\xff", 4},
    };
    size_t nprobes = sizeof(probes) / sizeof(probes[0]);
    struct store *s = open_ok(NULL);
    struct store_batch *b = batch_new();
    struct store_read *r;
    long checked = 0;

    for (size_t i = 0; i < ITER_KEYS; i++) {
        uint8_t v[8];
        store_u64_encode(v, i);
        ck_assert_int_eq(store_batch_put(b, STORE_DB_INDEX,
                                         (const uint8_t *)iter_keys[i].bytes,
                                         iter_keys[i].len, v, 8),
                         0);
    }
    /* a neighbour database must not leak into the walk */
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE, (const uint8_t *)"ab",
                                     2, (const uint8_t *)"x", 1),
                     0);
    commit_ok(s, b);
    r = read_ok(s);
    for (size_t p = 0; p < nprobes; p++) {
        for (size_t q = 0; q <= nprobes; q++) { /* q == nprobes: no start */
            for (int reverse = 0; reverse <= 1; reverse++) {
                const uint8_t *prefix = (const uint8_t *)probes[p].bytes;
                size_t plen = probes[p].len;
                const uint8_t *start =
                    q < nprobes ? (const uint8_t *)probes[q].bytes : NULL;
                size_t slen = q < nprobes ? probes[q].len : 0;
                size_t idx[ITER_KEYS];
                size_t n =
                    iter_expected(prefix, plen, start, slen, reverse, idx);
                struct store_iter it;
                const uint8_t *key, *val;
                size_t klen, vlen;
                size_t got = 0;
                int rc;

                ck_assert_int_eq(store_iter_init(&it, r, STORE_DB_INDEX, prefix,
                                                 plen, start, slen, reverse),
                                 0);
                while ((rc = store_iter_next(&it, &key, &klen, &val, &vlen)) ==
                       0) {
                    ck_assert_msg(got < n,
                                  "prefix %zu start %zu reverse %d: extra key",
                                  p, q, reverse);
                    ck_assert_uint_eq(klen, iter_keys[idx[got]].len);
                    ck_assert_mem_eq(key, iter_keys[idx[got]].bytes, klen);
                    ck_assert_uint_eq(vlen, 8);
                    ck_assert_uint_eq(store_u64_decode(val), idx[got]);
                    got++;
                }
                ck_assert_int_eq(rc, TDEI_NOTFOUND);
                ck_assert_int_eq(store_iter_next(&it, &key, &klen, NULL, NULL),
                                 TDEI_NOTFOUND);
                ck_assert_ptr_null(key);
                ck_assert_msg(got == n,
                              "prefix %zu start %zu reverse %d: %zu of %zu", p,
                              q, reverse, got, n);
                store_iter_close(&it);
                checked++;
            }
        }
    }
    ck_assert_int_eq(checked, (long)(nprobes * (nprobes + 1) * 2));
    store_read_end(r);
    store_batch_destroy(b);
    store_close(s);
}
END_TEST

START_TEST(test_latest_height_by_reverse_iteration)
{
    struct store *s = open_ok(NULL);
    struct store_batch *b = batch_new();
    struct store_read *r;
    struct store_iter it;
    const uint8_t *key;
    size_t klen;
    uint64_t heights[] = {1, 2, 255, 256, 65536, 1000000, 7};

    r = read_ok(s);
    ck_assert_int_eq(
        store_iter_init(&it, r, STORE_DB_BLOCKS, NULL, 0, NULL, 0, 1), 0);
    ck_assert_int_eq(store_iter_next(&it, &key, &klen, NULL, NULL),
                     TDEI_NOTFOUND); /* empty database */
    store_iter_close(&it);
    store_read_end(r);

    for (size_t i = 0; i < sizeof(heights) / sizeof(heights[0]); i++) {
        uint8_t k[8];
        store_u64_encode(k, heights[i]);
        ck_assert_int_eq(store_batch_put(b, STORE_DB_BLOCKS, k, 8,
                                         (const uint8_t *)"blk", 3),
                         0);
    }
    commit_ok(s, b);
    r = read_ok(s);
    ck_assert_int_eq(
        store_iter_init(&it, r, STORE_DB_BLOCKS, NULL, 0, NULL, 0, 1), 0);
    ck_assert_int_eq(store_iter_next(&it, &key, &klen, NULL, NULL), 0);
    ck_assert_uint_eq(klen, 8);
    ck_assert_uint_eq(store_u64_decode(key), 1000000);
    ck_assert_int_eq(store_iter_next(&it, &key, &klen, NULL, NULL), 0);
    ck_assert_uint_eq(store_u64_decode(key), 65536);
    store_iter_close(&it);
    {
        /* the latest height at or below 300 */
        uint8_t start[8];
        store_u64_encode(start, 300);
        ck_assert_int_eq(
            store_iter_init(&it, r, STORE_DB_BLOCKS, NULL, 0, start, 8, 1), 0);
        ck_assert_int_eq(store_iter_next(&it, &key, &klen, NULL, NULL), 0);
        ck_assert_uint_eq(store_u64_decode(key), 256);
        store_iter_close(&it);
        /* forward from 3: 7, 255, ... */
        store_u64_encode(start, 3);
        ck_assert_int_eq(
            store_iter_init(&it, r, STORE_DB_BLOCKS, NULL, 0, start, 8, 0), 0);
        ck_assert_int_eq(store_iter_next(&it, &key, &klen, NULL, NULL), 0);
        ck_assert_uint_eq(store_u64_decode(key), 7);
        ck_assert_int_eq(store_iter_next(&it, &key, &klen, NULL, NULL), 0);
        ck_assert_uint_eq(store_u64_decode(key), 255);
        store_iter_close(&it);
    }
    store_read_end(r);
    store_batch_destroy(b);
    store_close(s);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static TCase *store_tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    return tc;
}

static Suite *store_suite(void)
{
    Suite *suite = suite_create("store");
    TCase *tc;

    tc = store_tcase("round_trip");
    tcase_add_test(tc, test_put_get_delete_in_every_db);
    tcase_add_test(tc, test_later_op_in_batch_wins);
    tcase_add_test(tc, test_empty_value_and_empty_batch);
    tcase_add_test(tc, test_get_copy_and_meta_u64);
    tcase_add_test(tc, test_byte_order_helpers);
    suite_add_tcase(suite, tc);

    tc = store_tcase("atomic_batch");
    tcase_add_test(tc, test_key_one_past_limit_refused_and_nothing_written);
    tcase_add_test(tc, test_bad_ops_refused);
    tcase_add_test(tc, test_batch_size_limit_one_past);
    tcase_add_test(tc, test_out_of_memory_in_batch_refuses_commit);
    tcase_add_test(tc, test_failure_mid_commit_leaves_store_unchanged);
    suite_add_tcase(suite, tc);

    tc = store_tcase("checked_commit");
    tcase_add_test(tc, test_commit_checked_compares_and_swaps);
    tcase_add_test(tc, test_commit_checked_runs_again_after_growth);
    suite_add_tcase(suite, tc);

    tc = store_tcase("reopen");
    tcase_add_test(tc, test_data_persists_after_reopen);
    tcase_add_test(tc, test_unsynced_store_commits_and_reads_back);
    tcase_add_test(tc, test_version_mismatch_refused);
    tcase_add_test(tc, test_options_out_of_range_refused);
    tcase_add_test(tc, test_directory_created_private);
    tcase_add_test(tc, test_bad_directories_refused);
    tcase_add_test(tc, test_open_out_of_memory_leaves_nothing);
    suite_add_tcase(suite, tc);

    tc = store_tcase("lock");
    tcase_add_test(tc, test_second_open_in_process_locked);
    tcase_add_test(tc, test_second_open_from_child_locked);
    suite_add_tcase(suite, tc);

    tc = store_tcase("map_growth");
    tcase_add_test(tc, test_map_grows_to_fit_20_mib);
    tcase_add_test(tc, test_map_full_at_max_gives_nospace);
    tcase_add_test(tc, test_growth_waits_for_open_reads);
    suite_add_tcase(suite, tc);

    tc = store_tcase("concurrent_reads");
    tcase_add_test(tc, test_read_snapshot_unchanged_by_commit);
    tcase_add_test(tc, test_concurrent_readers_see_whole_commits);
    tcase_add_test(tc, test_reads_pass_between_threads_and_pool_is_bounded);
    suite_add_tcase(suite, tc);

    tc = tcase_create("misuse");
    tcase_add_unchecked_fixture(tc, misuse_setup_once, misuse_teardown_once);
    tcase_add_checked_fixture(tc, misuse_setup, testutil_leak_teardown);
    tcase_add_test_raise_signal(tc, test_nested_read_in_one_thread_asserts,
                                SIGABRT);
    tcase_add_test_raise_signal(tc, test_commit_while_holding_read_asserts,
                                SIGABRT);
    tcase_add_test_raise_signal(tc, test_read_end_with_open_iterator_asserts,
                                SIGABRT);
    suite_add_tcase(suite, tc);

    tc = store_tcase("crash");
    tcase_add_test(tc, test_sigkill_never_leaves_a_torn_batch);
    suite_add_tcase(suite, tc);

    tc = store_tcase("iterate");
    tcase_add_test(tc, test_iteration_matches_reference);
    tcase_add_test(tc, test_latest_height_by_reverse_iteration);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) { return testutil_run(store_suite()); }
