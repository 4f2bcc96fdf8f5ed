/* Tests of SHA-256 and tagged hashes. Expected values come from FIPS
 * 180-2 (the SHA-256 examples) and, for tagged hashes, from an
 * independent implementation (Python hashlib) of
 * SHA256(SHA256(tag) || SHA256(tag) || data). */
#include "testutil.h"

#include "core/alloc.h"
#include "core/hash.h"
#include "core/hex.h"

#include <string.h>

static void check_hash(const uint8_t got[TDEI_HASH_SIZE], const char *hex)
{
    char text[TDEI_HEX_SIZE(TDEI_HASH_SIZE)];

    ck_assert_str_eq(tdei_hex_encode(text, sizeof(text), got, TDEI_HASH_SIZE),
                     hex);
}

START_TEST(test_hash_sha256_fips_examples)
{
    uint8_t out[TDEI_HASH_SIZE];

    tdei_sha256(out, NULL, 0);
    check_hash(out, "e3b0c44298fc1c149afbf4c8996fb924"
                    "27ae41e4649b934ca495991b7852b855");
    tdei_sha256(out, (const uint8_t *)"abc", 3);
    check_hash(out, "ba7816bf8f01cfea414140de5dae2223"
                    "b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(test_hash_sha256_incremental_million_a)
{
    struct tdei_sha256 ctx;
    uint8_t block[1000];
    uint8_t out[TDEI_HASH_SIZE];

    memset(block, 'a', sizeof(block));
    tdei_sha256_init(&ctx);
    for (int i = 0; i < 1000; i++) {
        tdei_sha256_update(&ctx, block, sizeof(block));
    }
    tdei_sha256_final(&ctx, out);
    check_hash(out, "cdc76e5c9914fb9281a1c7e284d73e67"
                    "f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(test_hash_tagged_vectors)
{
    uint8_t data[100];
    uint8_t out[TDEI_HASH_SIZE];

    for (int i = 0; i < 100; i++) {
        data[i] = (uint8_t)i;
    }
    tdei_tagged_hash(out, TDEI_TAG_TX, NULL, 0);
    check_hash(out, "d8310641cd9d70e0d3ccc70e64f1682d"
                    "122c78472f8005e00116c6190d36f0f8");
    tdei_tagged_hash(out, TDEI_TAG_TX, (const uint8_t *)"abc", 3);
    check_hash(out, "5cc475f52f4cf1f7f3df5e03a847508a"
                    "7025f6afdb4b406e707a5031e309a171");
    tdei_tagged_hash(out, TDEI_TAG_VOTE, data, sizeof(data));
    check_hash(out, "c6e7d8cccc0775e844a0e8a243e34000"
                    "5ee56454c970115066bc4d93fd98ec67");
}
END_TEST

START_TEST(test_hash_tags_separate_domains)
{
    uint8_t a[TDEI_HASH_SIZE];
    uint8_t b[TDEI_HASH_SIZE];

    tdei_tagged_hash(a, TDEI_TAG_TX, (const uint8_t *)"x", 1);
    tdei_tagged_hash(b, TDEI_TAG_VOTE, (const uint8_t *)"x", 1);
    ck_assert_int_eq(tdei_hash_equal(a, b), 0);
    tdei_tagged_hash(b, TDEI_TAG_TX, (const uint8_t *)"x", 1);
    ck_assert_int_eq(tdei_hash_equal(a, b), 1);
}
END_TEST

static Suite *hash_suite(void)
{
    Suite *suite = suite_create("hash");
    TCase *tc = tcase_create("sha256");

    tcase_add_checked_fixture(tc, testutil_leak_setup, testutil_leak_teardown);
    tcase_add_test(tc, test_hash_sha256_fips_examples);
    tcase_add_test(tc, test_hash_sha256_incremental_million_a);
    tcase_add_test(tc, test_hash_tagged_vectors);
    tcase_add_test(tc, test_hash_tags_separate_domains);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return testutil_run(hash_suite());
}
