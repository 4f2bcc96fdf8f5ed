/* Shared helpers for the Check unit tests (see testutil.h). */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include "core/alloc.h"
#include "core/hex.h"
#include "core/keys.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long live_at_setup;

void testutil_leak_setup(void)
{
    tdei_alloc_fail_inject(-1, 0);
    live_at_setup = tdei_alloc_live();
}

void testutil_leak_teardown(void)
{
    tdei_alloc_fail_inject(-1, 0);
    ck_assert_msg(tdei_alloc_live() == live_at_setup,
                  "leak: %ld blocks allocated by the test are still live",
                  tdei_alloc_live() - live_at_setup);
}

const char *testutil_vector_path(const char *name)
{
    static char path[4096];
    const char *src = getenv("TDEI_SRCDIR");

    (void)snprintf(path, sizeof(path), "%s/tests/vectors/%s",
                   src != NULL ? src : ".", name);
    return path;
}

const char *testutil_tmpdir(void)
{
    static char path[4096];
    const char *base = getenv("TMPDIR");

    (void)snprintf(path, sizeof(path), "%s/tdei-test-XXXXXX",
                   base != NULL ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(path));
    return path;
}

static int rmtree_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void testutil_rmtree(const char *path)
{
    (void)nftw(path, rmtree_one, 16, FTW_DEPTH | FTW_PHYS);
}

size_t testutil_unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t len = 0;

    ck_assert_int_eq(tdei_hex_decode_var(out, cap, &len, hex), 0);
    return len;
}

int testutil_run(Suite *suite)
{
    SRunner *runner;
    int failed;

    if (tdei_crypto_init() != 0) {
        fprintf(stderr, "crypto init failed\n");
        return 1;
    }
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
