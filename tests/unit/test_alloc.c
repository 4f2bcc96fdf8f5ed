/* Tests of the counting allocator and its failure injection. */
#include "testutil.h"

#include "core/alloc.h"

#include <stdint.h>
#include <string.h>

START_TEST(test_alloc_counts_live_blocks)
{
    long before = tdei_alloc_live();
    void *a = tdei_malloc(10);
    char *b = tdei_strdup("hello");

    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(b, "hello");
    ck_assert_int_eq(tdei_alloc_live(), before + 2);
    a = tdei_realloc(a, 1000);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(tdei_alloc_live(), before + 2);
    tdei_free(a);
    tdei_free(b);
    tdei_free(NULL);
    ck_assert_int_eq(tdei_alloc_live(), before);
}
END_TEST

START_TEST(test_alloc_calloc_zeroes_and_checks_overflow)
{
    uint8_t *p = tdei_calloc(16, 4);

    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 64; i++) {
        ck_assert_uint_eq(p[i], 0);
    }
    tdei_free(p);
    ck_assert_ptr_null(tdei_calloc(SIZE_MAX / 2, 3));
}
END_TEST

START_TEST(test_alloc_injected_failure_fires_once)
{
    void *a;
    void *b;
    void *c;

    tdei_alloc_fail_inject(1, 1);
    a = tdei_malloc(8);
    b = tdei_malloc(8);
    c = tdei_malloc(8);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(c);
    tdei_free(a);
    tdei_free(c);
}
END_TEST

START_TEST(test_alloc_failed_realloc_keeps_old_block)
{
    char *p = tdei_strdup("keep");
    char *q;

    tdei_alloc_fail_inject(0, 1);
    q = tdei_realloc(p, 4096);
    ck_assert_ptr_null(q);
    ck_assert_str_eq(p, "keep");
    tdei_free(p);
}
END_TEST

static Suite *alloc_suite(void)
{
    Suite *suite = suite_create("alloc");
    TCase *tc = tcase_create("alloc");

    tcase_add_checked_fixture(tc, testutil_leak_setup, testutil_leak_teardown);
    tcase_add_test(tc, test_alloc_counts_live_blocks);
    tcase_add_test(tc, test_alloc_calloc_zeroes_and_checks_overflow);
    tcase_add_test(tc, test_alloc_injected_failure_fires_once);
    tcase_add_test(tc, test_alloc_failed_realloc_keeps_old_block);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return testutil_run(alloc_suite());
}
