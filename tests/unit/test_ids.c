/* Tests of member ids, chain ids and roles. */
#include "testutil.h"

#include "core/error.h"
#include "core/ids.h"

#include <string.h>

START_TEST(test_ids_member_id_bounds)
{
    ck_assert_int_eq(tdei_member_id_check("abc"), 0);
    ck_assert_int_eq(tdei_member_id_check("acme-steel-01"), 0);
    ck_assert_int_eq(tdei_member_id_check("0123456789abcdef0123456789abcdef"),
                     0);
    /* One past each end. */
    ck_assert_int_eq(tdei_member_id_check("ab"), TDEI_INVAL);
    ck_assert_int_eq(
        tdei_member_id_check("0123456789abcdef0123456789abcdef0"),
        TDEI_INVAL);
}
END_TEST

START_TEST(test_ids_member_id_alphabet)
{
    static const char *const bad[] = {"Acme", "acme steel", "acme_steel",
                                      "acme.steel", "acme/x", "acmé"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(tdei_member_id_check(bad[i]), TDEI_INVAL);
    }
    ck_assert_int_eq(tdei_member_id_check_n("abc\0def", 7), TDEI_INVAL);
    ck_assert_int_eq(tdei_member_id_check_n("abcdef", 3), 0);
}
END_TEST

START_TEST(test_ids_chain_id)
{
    char long_id[66];

    ck_assert_int_eq(tdei_chain_id_check("t"), 0);
    ck_assert_int_eq(tdei_chain_id_check(""), TDEI_INVAL);
    memset(long_id, 'a', 64);
    long_id[64] = '\0';
    ck_assert_int_eq(tdei_chain_id_check(long_id), 0);
    long_id[64] = 'a';
    long_id[65] = '\0';
    ck_assert_int_eq(tdei_chain_id_check(long_id), TDEI_INVAL);
}
END_TEST

START_TEST(test_ids_roles_round_trip)
{
    enum tdei_role role = TDEI_ROLE_PLATFORM;

    for (int r = TDEI_ROLE_PUBLIC_SERVICE; r <= TDEI_ROLE_AUDITOR; r++) {
        const char *name = tdei_role_name((enum tdei_role)r);
        ck_assert_ptr_nonnull(name);
        ck_assert_int_eq(tdei_role_parse(name, &role), 0);
        ck_assert_int_eq(role, r);
    }
    ck_assert_int_eq(tdei_role_parse("regulator", &role), TDEI_INVAL);
    ck_assert_int_eq(role, TDEI_ROLE_AUDITOR);
    ck_assert_ptr_null(tdei_role_name((enum tdei_role)0));
    ck_assert_ptr_null(tdei_role_name((enum tdei_role)5));
    /* Numbers are stored on the ledger. */
    ck_assert_int_eq(TDEI_ROLE_PUBLIC_SERVICE, 1);
    ck_assert_int_eq(TDEI_ROLE_AUDITOR, 4);
}
END_TEST

static Suite *ids_suite(void)
{
    Suite *suite = suite_create("ids");
    TCase *tc = tcase_create("ids");

    tcase_add_test(tc, test_ids_member_id_bounds);
    tcase_add_test(tc, test_ids_member_id_alphabet);
    tcase_add_test(tc, test_ids_chain_id);
    tcase_add_test(tc, test_ids_roles_round_trip);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return testutil_run(ids_suite());
}
