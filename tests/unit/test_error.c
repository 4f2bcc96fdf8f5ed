/* Tests of the error list: stable numbers, names, messages. */
#include "testutil.h"

#include "core/error.h"

#include <string.h>

START_TEST(test_error_ok_is_zero_and_named)
{
    ck_assert_int_eq(TDEI_OK, 0);
    ck_assert_str_eq(tdei_errname(0), "TDEI_OK");
    ck_assert_str_eq(tdei_strerror(0), "success");
}
END_TEST

START_TEST(test_error_codes_have_stable_numbers)
{
    /* These numbers are stored on the ledger; they must never change. */
    ck_assert_int_eq(TDEI_NOMEM, 1001);
    ck_assert_int_eq(TDEI_BADSIG, 1011);
    ck_assert_int_eq(TDEI_BADPROOF, 1012);
    ck_assert_int_eq(TDEI_CHAIN_ID, 1019);
}
END_TEST

START_TEST(test_error_every_code_named_and_unique)
{
#define CHECK_CODE(name, number, message)                                     \
    ck_assert_str_eq(tdei_errname(number), #name);                            \
    ck_assert_str_eq(tdei_strerror(number), message);                         \
    ck_assert_int_gt(number, 1000);                                           \
    ck_assert_msg(strchr(message, ';') != NULL,                               \
                  #name " must say what was wrong; what to do");
    TDEI_ERRORS(CHECK_CODE)
#undef CHECK_CODE
}
END_TEST

START_TEST(test_error_unknown_code)
{
    ck_assert_str_eq(tdei_errname(999999), "TDEI_UNKNOWN");
    ck_assert_str_eq(tdei_strerror(-5), "unknown error code");
}
END_TEST

START_TEST(test_error_errorf_truncates_and_wraps)
{
    char buf[16];
    char big[TDEI_ERRMSG_SIZE] = "";

    ck_assert_int_eq(tdei_errorf(buf, sizeof(buf), TDEI_IOERR, "%s",
                                 "a very long message indeed"),
                     TDEI_IOERR);
    ck_assert_uint_eq(strlen(buf), sizeof(buf) - 1);
    (void)tdei_errorf(big, sizeof(big), TDEI_IOERR, "read segment");
    ck_assert_int_eq(tdei_errwrap(big, sizeof(big), TDEI_IOERR,
                                  "load block %d", 812),
                     TDEI_IOERR);
    ck_assert_str_eq(big, "load block 812: read segment");
}
END_TEST

static Suite *error_suite(void)
{
    Suite *suite = suite_create("error");
    TCase *tc = tcase_create("codes");

    tcase_add_test(tc, test_error_ok_is_zero_and_named);
    tcase_add_test(tc, test_error_codes_have_stable_numbers);
    tcase_add_test(tc, test_error_every_code_named_and_unique);
    tcase_add_test(tc, test_error_unknown_code);
    tcase_add_test(tc, test_error_errorf_truncates_and_wraps);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return testutil_run(error_suite());
}
