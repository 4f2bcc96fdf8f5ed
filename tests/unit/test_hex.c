/* Tests of hex encoding and strict decoding. */
#include "testutil.h"

#include "core/error.h"
#include "core/hex.h"

#include <string.h>

START_TEST(test_hex_encode_lower_case)
{
    const uint8_t in[] = {0x00, 0x1f, 0xa0, 0xff};
    char out[TDEI_HEX_SIZE(4)];

    ck_assert_str_eq(tdei_hex_encode(out, sizeof(out), in, 4), "001fa0ff");
    ck_assert_str_eq(tdei_hex_encode(out, sizeof(out), in, 0), "");
}
END_TEST

START_TEST(test_hex_decode_round_trip_every_byte)
{
    uint8_t in[256];
    uint8_t back[256];
    char text[TDEI_HEX_SIZE(256)];

    for (int i = 0; i < 256; i++) {
        in[i] = (uint8_t)i;
    }
    (void)tdei_hex_encode(text, sizeof(text), in, sizeof(in));
    ck_assert_int_eq(tdei_hex_decode(back, sizeof(back), text), 0);
    ck_assert_mem_eq(in, back, sizeof(in));
}
END_TEST

START_TEST(test_hex_decode_accepts_upper_case)
{
    uint8_t out[2];

    ck_assert_int_eq(tdei_hex_decode(out, 2, "ABcd"), 0);
    ck_assert_uint_eq(out[0], 0xab);
    ck_assert_uint_eq(out[1], 0xcd);
}
END_TEST

START_TEST(test_hex_decode_rejects_bad_input_untouched)
{
    static const char *const bad[] = {"0", "000", "0g", "0x00", " 00", "00 ",
                                      "00\n", "-1", "zz", ""};
    uint8_t out[1] = {0x5a};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(tdei_hex_decode(out, 1, bad[i]), TDEI_BADHEX);
        ck_assert_uint_eq(out[0], 0x5a);
    }
    /* Right characters, wrong length for a fixed-size field. */
    ck_assert_int_eq(tdei_hex_decode(out, 1, "0000"), TDEI_BADHEX);
}
END_TEST

START_TEST(test_hex_decode_var_lengths)
{
    uint8_t out[4];
    size_t len = 99;

    ck_assert_int_eq(tdei_hex_decode_var(out, 4, &len, ""), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(tdei_hex_decode_var(out, 4, &len, "01020304"), 0);
    ck_assert_uint_eq(len, 4);
    len = 99;
    ck_assert_int_eq(tdei_hex_decode_var(out, 4, &len, "0102030405"),
                     TDEI_TOOBIG);
    ck_assert_int_eq(tdei_hex_decode_var(out, 4, &len, "010"), TDEI_BADHEX);
    ck_assert_int_eq(tdei_hex_decode_var(out, 4, &len, "0q"), TDEI_BADHEX);
    ck_assert_uint_eq(len, 99);
}
END_TEST

static Suite *hex_suite(void)
{
    Suite *suite = suite_create("hex");
    TCase *tc = tcase_create("hex");

    tcase_add_checked_fixture(tc, testutil_leak_setup, testutil_leak_teardown);
    tcase_add_test(tc, test_hex_encode_lower_case);
    tcase_add_test(tc, test_hex_decode_round_trip_every_byte);
    tcase_add_test(tc, test_hex_decode_accepts_upper_case);
    tcase_add_test(tc, test_hex_decode_rejects_bad_input_untouched);
    tcase_add_test(tc, test_hex_decode_var_lengths);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return testutil_run(hex_suite());
}
