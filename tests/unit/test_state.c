/* Tests of the block state overlay and the in-memory state: reads through
 * to the base, writes and deletes, tx checkpoints, the sorted write set
 * and its hash, the in-memory merge against a naive reference, budgets one
 * past their limit, and out-of-memory paths that change nothing. */
#include "testutil.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/hash.h"
#include "exec/state.h"

#include <stdio.h>
#include <string.h>

#define BIG (64u * 1024u * 1024u)

static struct state_mem *mem;
static struct state *st;

static void setup(void)
{
    testutil_leak_setup();
    ck_assert_int_eq(state_mem_create(&mem, BIG), 0);
}

static void teardown(void)
{
    state_destroy(st);
    st = NULL;
    state_mem_destroy(mem);
    mem = NULL;
    testutil_leak_teardown();
}

/* ---- helpers ------------------------------------------------------------- */

static void put_s(struct state *s, const char *key, const char *val)
{
    ck_assert_int_eq(state_put(s, (const uint8_t *)key, strlen(key),
                               (const uint8_t *)val, strlen(val)),
                     0);
}

static void del_s(struct state *s, const char *key)
{
    ck_assert_int_eq(state_del(s, (const uint8_t *)key, strlen(key)), 0);
}

/* Assert that @key reads as @want (NULL: not found). */
static void expect(struct state *s, const char *key, const char *want)
{
    const uint8_t *val;
    size_t vlen;
    int rc = state_get(s, (const uint8_t *)key, strlen(key), &val, &vlen);

    if (want == NULL) {
        ck_assert_int_eq(rc, TDEI_NOTFOUND);
        ck_assert_ptr_null(val);
        return;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(vlen, strlen(want));
    ck_assert(memcmp(val, want, vlen) == 0);
}

/* Put @n string pairs into the in-memory state through an overlay. */
static void mem_seed(const char *const *pairs, size_t n)
{
    struct state *seed;
    struct state_base base = state_mem_base(mem);
    const struct state_write *w;
    size_t count;

    ck_assert_int_eq(state_create(&seed, &base, BIG), 0);
    for (size_t i = 0; i < n; i++) {
        put_s(seed, pairs[2 * i], pairs[2 * i + 1]);
    }
    ck_assert_int_eq(state_write_set(seed, &w, &count), 0);
    ck_assert_int_eq(state_mem_apply(mem, w, count), 0);
    state_destroy(seed);
}

static void overlay(size_t bytes_max)
{
    struct state_base base = state_mem_base(mem);

    ck_assert_int_eq(state_create(&st, &base, bytes_max), 0);
}

/* ---- reads, writes, deletes ---------------------------------------------- */

START_TEST(test_state_reads_fall_through_to_base)
{
    static const char *const pairs[] = {"a", "1", "b", "2"};

    mem_seed(pairs, 2);
    overlay(BIG);
    expect(st, "a", "1");
    expect(st, "b", "2");
    expect(st, "c", NULL);
}
END_TEST

START_TEST(test_state_writes_shadow_base_and_deletes_hide_it)
{
    static const char *const pairs[] = {"a", "1", "b", "2"};
    const uint8_t *val;
    size_t vlen;

    mem_seed(pairs, 2);
    overlay(BIG);
    put_s(st, "a", "one");
    del_s(st, "b");
    put_s(st, "c", "");
    expect(st, "a", "one");
    expect(st, "b", NULL);
    ck_assert_int_eq(state_get(st, (const uint8_t *)"c", 1, &val, &vlen), 0);
    ck_assert_ptr_nonnull(val);
    ck_assert_uint_eq(vlen, 0);
    /* The base itself is untouched. */
    ck_assert_int_eq(state_mem_get(mem, (const uint8_t *)"b", 1, &val, &vlen),
                     0);
    put_s(st, "b", "back");
    expect(st, "b", "back");
}
END_TEST

START_TEST(test_state_get_copy_refuses_small_buffer)
{
    uint8_t buf[4];
    size_t vlen;

    overlay(BIG);
    put_s(st, "k", "12345");
    ck_assert_int_eq(
        state_get_copy(st, (const uint8_t *)"k", 1, buf, sizeof(buf), &vlen),
        TDEI_TOOBIG);
    ck_assert_uint_eq(vlen, 5);
    put_s(st, "k", "1234");
    ck_assert_int_eq(
        state_get_copy(st, (const uint8_t *)"k", 1, buf, sizeof(buf), &vlen),
        0);
    ck_assert(memcmp(buf, "1234", 4) == 0);
}
END_TEST

START_TEST(test_state_many_keys_grow_the_table)
{
    char key[32];
    char val[32];

    overlay(BIG);
    for (unsigned i = 0; i < 20000; i++) {
        (void)snprintf(key, sizeof(key), "key-%u", i);
        (void)snprintf(val, sizeof(val), "val-%u", i * 7);
        put_s(st, key, val);
    }
    for (unsigned i = 0; i < 20000; i += 97) {
        (void)snprintf(key, sizeof(key), "key-%u", i);
        (void)snprintf(val, sizeof(val), "val-%u", i * 7);
        expect(st, key, val);
    }
    expect(st, "key-20000", NULL);
}
END_TEST

/* ---- tx checkpoints ------------------------------------------------------ */

START_TEST(test_state_tx_rollback_restores_everything)
{
    static const char *const pairs[] = {"a", "1", "b", "2"};
    const struct state_write *w;
    size_t count;
    size_t used;

    mem_seed(pairs, 2);
    overlay(BIG);
    put_s(st, "nonce", "1"); /* before the checkpoint: kept */
    put_s(st, "a", "block");
    used = state_bytes_used(st);
    state_tx_begin(st);
    put_s(st, "a", "tx1");
    put_s(st, "a", "tx2"); /* second write to the same key in one tx */
    del_s(st, "b");
    put_s(st, "new", "x");
    put_s(st, "nonce", "2");
    state_tx_rollback(st);
    expect(st, "a", "block");
    expect(st, "b", "2");
    expect(st, "new", NULL);
    expect(st, "nonce", "1");
    /* Entries made in the tx ("new", and "b", which was only in the base)
     * stay charged; values are refunded. */
    ck_assert_uint_eq(state_bytes_used(st),
                      used + 3 + STATE_ENTRY_COST + 1 + STATE_ENTRY_COST);
    ck_assert_int_eq(state_write_set(st, &w, &count), 0);
    ck_assert_uint_eq(count, 2); /* "a" and "nonce"; "new" is no write */
}
END_TEST

START_TEST(test_state_tx_commit_keeps_writes)
{
    overlay(BIG);
    state_tx_begin(st);
    put_s(st, "a", "1");
    del_s(st, "b");
    state_tx_commit(st);
    state_tx_begin(st);
    put_s(st, "a", "2");
    state_tx_rollback(st);
    expect(st, "a", "1");
    expect(st, "b", NULL);
}
END_TEST

/* ---- the write set ------------------------------------------------------- */

START_TEST(test_state_write_set_is_sorted_bytewise)
{
    static const char *order[] = {"a", "ab", "b", "ba", "member/x"};
    const struct state_write *w;
    size_t count;

    overlay(BIG);
    put_s(st, "member/x", "5");
    put_s(st, "ba", "4");
    del_s(st, "ab");
    put_s(st, "b", "3");
    put_s(st, "a", "1");
    ck_assert_int_eq(state_write_set(st, &w, &count), 0);
    ck_assert_uint_eq(count, 5);
    for (size_t i = 0; i < count; i++) {
        ck_assert_uint_eq(w[i].klen, strlen(order[i]));
        ck_assert(memcmp(w[i].key, order[i], w[i].klen) == 0);
    }
    ck_assert_int_eq(w[1].kind, STATE_DEL);
    ck_assert_ptr_null(w[1].val);
    ck_assert_int_eq(w[0].kind, STATE_PUT);
}
END_TEST

START_TEST(test_state_write_set_hash_matches_encoding)
{
    /* put "a"="xy", delete "b": 00000001 61 01 00000002 7879
     *                           00000001 62 00 00000000 */
    static const uint8_t enc[] = {0,   0, 0, 1, 'a', 1,   0, 0, 0, 2, 'x',
                                  'y', 0, 0, 0, 1,   'b', 0, 0, 0, 0, 0};
    uint8_t want[32];
    uint8_t got[32];
    const struct state_write *w;
    size_t count;

    overlay(BIG);
    del_s(st, "b");
    put_s(st, "a", "xy");
    ck_assert_int_eq(state_write_set(st, &w, &count), 0);
    state_write_set_hash(got, w, count);
    tdei_sha256(want, enc, sizeof(enc));
    ck_assert(memcmp(got, want, 32) == 0);
    state_write_set_hash(got, NULL, 0);
    tdei_sha256(want, NULL, 0);
    ck_assert(memcmp(got, want, 32) == 0);
}
END_TEST

START_TEST(test_state_write_set_independent_of_write_order)
{
    struct state *other;
    struct state_base base = state_mem_base(mem);
    const struct state_write *w;
    size_t count;
    uint8_t h1[32];
    uint8_t h2[32];

    overlay(BIG);
    ck_assert_int_eq(state_create(&other, &base, BIG), 0);
    put_s(st, "x", "1");
    put_s(st, "y", "2");
    del_s(st, "z");
    del_s(other, "z");
    put_s(other, "y", "2");
    put_s(other, "x", "0");
    put_s(other, "x", "1");
    ck_assert_int_eq(state_write_set(st, &w, &count), 0);
    state_write_set_hash(h1, w, count);
    ck_assert_int_eq(state_write_set(other, &w, &count), 0);
    state_write_set_hash(h2, w, count);
    ck_assert(memcmp(h1, h2, 32) == 0);
    state_destroy(other);
}
END_TEST

/* ---- the in-memory state ------------------------------------------------- */

/* A naive reference: 16 keys "k0".."k15", value or absent. */
struct naive
{
    int present[16];
    char val[16][16];
};

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

START_TEST(test_state_mem_apply_matches_naive_reference)
{
    struct naive ref = {0};
    uint64_t seed = 0x7d3e1u;

    for (unsigned round = 0; round < 200; round++) {
        struct state_base base = state_mem_base(mem);
        const struct state_write *w;
        size_t count;
        unsigned ops = (unsigned)(rng_next(&seed) % 8);

        ck_assert_int_eq(state_create(&st, &base, BIG), 0);
        for (unsigned i = 0; i < ops; i++) {
            unsigned k = (unsigned)(rng_next(&seed) % 16);
            char key[8];
            (void)snprintf(key, sizeof(key), "k%u", k);
            if (rng_next(&seed) % 3 == 0) {
                del_s(st, key);
                ref.present[k] = 0;
            } else {
                (void)snprintf(ref.val[k], sizeof(ref.val[k]), "v%u.%u", round,
                               i);
                put_s(st, key, ref.val[k]);
                ref.present[k] = 1;
            }
        }
        ck_assert_int_eq(state_write_set(st, &w, &count), 0);
        ck_assert_int_eq(state_mem_apply(mem, w, count), 0);
        state_destroy(st);
        st = NULL;
        {
            size_t n = 0;
            for (unsigned k = 0; k < 16; k++) {
                const uint8_t *val;
                size_t vlen;
                char key[8];
                int rc;
                (void)snprintf(key, sizeof(key), "k%u", k);
                rc = state_mem_get(mem, (const uint8_t *)key, strlen(key), &val,
                                   &vlen);
                ck_assert_int_eq(rc, ref.present[k] ? 0 : TDEI_NOTFOUND);
                if (ref.present[k]) {
                    n++;
                    ck_assert_uint_eq(vlen, strlen(ref.val[k]));
                    ck_assert(memcmp(val, ref.val[k], vlen) == 0);
                }
            }
            ck_assert_uint_eq(state_mem_count(mem), n);
        }
    }
    /* Entries come out in key order. */
    for (size_t i = 1; i < state_mem_count(mem); i++) {
        struct state_write a;
        struct state_write b;
        int c;
        state_mem_entry(mem, i - 1, &a);
        state_mem_entry(mem, i, &b);
        c = memcmp(a.key, b.key, a.klen < b.klen ? a.klen : b.klen);
        ck_assert(c < 0 || (c == 0 && a.klen < b.klen));
    }
}
END_TEST

/* ---- budgets and memory -------------------------------------------------- */

START_TEST(test_state_budget_one_past_is_refused)
{
    /* One entry "k" = 10 bytes costs 1 + STATE_ENTRY_COST + 10. */
    size_t exact = 1 + STATE_ENTRY_COST + 10;

    overlay(exact);
    ck_assert_int_eq(state_put(st, (const uint8_t *)"k", 1,
                               (const uint8_t *)"0123456789", 10),
                     0);
    ck_assert_uint_eq(state_bytes_used(st), exact);
    /* Replacing with one byte more is one past. */
    ck_assert_int_eq(state_put(st, (const uint8_t *)"k", 1,
                               (const uint8_t *)"0123456789a", 11),
                     TDEI_NOSPACE);
    ck_assert_ptr_nonnull(strstr(state_errmsg(st), "more than"));
    expect(st, "k", "0123456789");
    /* Inside a tx the old value is kept for rollback, so the same
     * replacement costs both values. */
    state_tx_begin(st);
    ck_assert_int_eq(
        state_put(st, (const uint8_t *)"k", 1, (const uint8_t *)"x", 1),
        TDEI_NOSPACE);
    state_tx_rollback(st);
    ck_assert_uint_eq(state_bytes_used(st), exact);
    ck_assert_int_eq(state_del(st, (const uint8_t *)"k", 1), 0);
    ck_assert_uint_eq(state_bytes_used(st), exact - 10);
}
END_TEST

START_TEST(test_state_mem_budget_one_past_is_refused)
{
    struct state_mem *small;
    struct state_base base;
    const struct state_write *w;
    size_t count;

    ck_assert_int_eq(state_mem_create(&small, 5), 0);
    base = state_mem_base(small);
    ck_assert_int_eq(state_create(&st, &base, BIG), 0);
    put_s(st, "ab", "cde"); /* 5 bytes: fits exactly */
    ck_assert_int_eq(state_write_set(st, &w, &count), 0);
    ck_assert_int_eq(state_mem_apply(small, w, count), 0);
    state_reset(st, &base);
    put_s(st, "ab", "cdef"); /* 6 bytes: one past */
    ck_assert_int_eq(state_write_set(st, &w, &count), 0);
    ck_assert_int_eq(state_mem_apply(small, w, count), TDEI_NOSPACE);
    ck_assert_uint_eq(state_mem_count(small), 1);
    state_destroy(st);
    st = NULL;
    state_mem_destroy(small);
}
END_TEST

START_TEST(test_state_out_of_memory_changes_nothing)
{
    static const char *const pairs[] = {"a", "1"};
    const struct state_write *w;
    size_t count;

    mem_seed(pairs, 1);
    overlay(BIG);
    put_s(st, "a", "kept");
    for (long fail = 0; fail < 4; fail++) {
        tdei_alloc_fail_inject(fail, 1);
        (void)state_put(st, (const uint8_t *)"b", 1, (const uint8_t *)"new", 3);
        tdei_alloc_fail_inject(-1, 0);
    }
    expect(st, "a", "kept");
    /* Whatever succeeded wrote "b" = "new" and nothing else. */
    ck_assert_int_eq(state_write_set(st, &w, &count), 0);
    ck_assert_uint_le(count, 2);
    tdei_alloc_fail_inject(0, 1);
    ck_assert_int_eq(state_mem_apply(mem, w, count), TDEI_NOMEM);
    tdei_alloc_fail_inject(-1, 0);
    ck_assert_uint_eq(state_mem_count(mem), 1);
    expect(st, "a", "kept");
}
END_TEST

static Suite *state_suite(void)
{
    Suite *s = suite_create("state");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"reads", test_state_reads_fall_through_to_base},
        {"shadow", test_state_writes_shadow_base_and_deletes_hide_it},
        {"get_copy", test_state_get_copy_refuses_small_buffer},
        {"table", test_state_many_keys_grow_the_table},
        {"rollback", test_state_tx_rollback_restores_everything},
        {"commit", test_state_tx_commit_keeps_writes},
        {"sorted", test_state_write_set_is_sorted_bytewise},
        {"hash", test_state_write_set_hash_matches_encoding},
        {"order", test_state_write_set_independent_of_write_order},
        {"mem", test_state_mem_apply_matches_naive_reference},
        {"budget", test_state_budget_one_past_is_refused},
        {"mem_budget", test_state_mem_budget_one_past_is_refused},
        {"nomem", test_state_out_of_memory_changes_nothing},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(state_suite()); }
