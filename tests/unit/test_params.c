/* Tests of the governable params table (contracts/params.h): defaults,
 * ranges, the roles mask rule, round trips through the Params record and
 * the genesis.json "params" object. */
#include "testutil.h"

#include "contracts/params.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "genesis.h"

#include <stdio.h>
#include <string.h>

START_TEST(test_params_defaults_of_design)
{
    struct params_storage ps;
    const Tdei__LevelPolicy *l1;
    const Tdei__LevelPolicy *l2;
    const Tdei__LevelPolicy *l3;

    params_storage_init(&ps);
    l1 = params_level(&ps.params, 1);
    l2 = params_level(&ps.params, 2);
    l3 = params_level(&ps.params, 3);
    /* DESIGN.md section 6: L1 auto, any member; L2 owner, only members
     * that state a purpose; L3 owner and regulator, never to auditors. */
    ck_assert_uint_eq(l1->approval, PARAMS_APPROVAL_AUTO);
    ck_assert_uint_eq(l1->roles, PARAMS_ROLES_MEMBERS);
    ck_assert(!l1->purpose);
    ck_assert_uint_eq(l2->approval, PARAMS_APPROVAL_OWNER);
    ck_assert(l2->purpose);
    ck_assert_uint_eq(l3->approval, PARAMS_APPROVAL_OWNER_REGULATOR);
    ck_assert_uint_eq(l3->roles & (1u << 4), 0); /* no auditor */
    ck_assert_uint_ge(l1->grant_ttl, l2->grant_ttl);
    ck_assert_uint_ge(l2->grant_ttl, l3->grant_ttl);
    ck_assert_uint_eq(ps.params.proposal_ttl, 1000);
    ck_assert(!ps.params.mint_enabled);
    ck_assert_uint_eq(ps.params.stream_batch_max, 10000);
    ck_assert_uint_gt(ps.params.core_grant_ttl, 0);
    ck_assert_uint_gt(ps.params.approve_ttl, 0);
    for (size_t i = 0; i < params_count(); i++) {
        const struct params_def *def = params_at(i);
        ck_assert_uint_eq(params_get(&ps.params, def), def->def);
        ck_assert_ptr_eq(params_find(def->name), def);
        ck_assert_uint_eq(params_index(def), i);
        ck_assert_int_eq(params_check_value(def, def->def), 0);
        ck_assert(def->help[0] != '\0');
    }
    ck_assert_ptr_null(params_find("tx_size_max")); /* not governable */
    ck_assert_ptr_null(params_find("level4.approval"));
}
END_TEST

START_TEST(test_params_ranges)
{
    struct params_storage ps;

    params_storage_init(&ps);
    for (size_t i = 0; i < params_count(); i++) {
        const struct params_def *def = params_at(i);
        uint64_t before = params_get(&ps.params, def);
        if (def->min > 0) {
            ck_assert_int_eq(params_set(&ps.params, def, def->min - 1),
                             TDEI_PARAM_RANGE);
        }
        ck_assert_int_eq(params_set(&ps.params, def, def->max + 1),
                         TDEI_PARAM_RANGE);
        ck_assert_uint_eq(params_get(&ps.params, def), before);
        ck_assert_int_eq(params_set(&ps.params, def, def->max), 0);
        ck_assert_uint_eq(params_get(&ps.params, def), def->max);
    }
    /* a roles mask with bit 0 names no role */
    ck_assert_int_eq(params_check_value(params_find("level2.roles"), 3),
                     TDEI_PARAM_RANGE);
    ck_assert_int_eq(params_check_value(params_find("level2.roles"), 0), 0);
    ck_assert_int_eq(params_set(&ps.params, params_find("level3.approval"), 1),
                     0);
    ck_assert_uint_eq(params_level(&ps.params, 3)->approval, 1);
    ck_assert_uint_eq(params_level(&ps.params, 2)->approval, 3);
}
END_TEST

START_TEST(test_params_record_round_trip)
{
    struct params_storage ps;
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Params *back = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;

    params_storage_init(&ps);
    ps.params.tx_size_max = 65536;
    ps.params.block_txs_max = 10000;
    ps.params.block_size_max = 8u << 20;
    ps.params.validators_max = 100;
    ck_assert_int_eq(
        params_set(&ps.params, params_find("level1.grant_ttl"), 31536000u), 0);
    ck_assert_int_eq(codec_params_encode(&ps.params, &bytes, &len), 0);
    ck_assert_uint_le(len, CODEC_PARAMS_SIZE_MAX);
    ck_assert_int_eq(codec_params_decode(&back, bytes, len, errmsg), 0);
    for (size_t i = 0; i < params_count(); i++) {
        ck_assert_uint_eq(params_get(back, params_at(i)),
                          params_get(&ps.params, params_at(i)));
    }
    codec_params_free(back);
    tdei_free(bytes);

    /* a record without its three levels is refused */
    ps.params.n_levels = 2;
    ck_assert_int_eq(codec_params_encode(&ps.params, &bytes, &len), 0);
    ck_assert_int_eq(codec_params_decode(&back, bytes, len, errmsg),
                     TDEI_MALFORMED);
    ck_assert_ptr_nonnull(strstr(errmsg, "level policies"));
    tdei_free(bytes);
    ps.params.n_levels = 3;
    ps.levels[1].roles = 3;
    ck_assert_int_eq(codec_params_encode(&ps.params, &bytes, &len), 0);
    ck_assert_int_eq(codec_params_decode(&back, bytes, len, errmsg),
                     TDEI_MALFORMED);
    ck_assert_ptr_nonnull(strstr(errmsg, "level 2 policy"));
    tdei_free(bytes);
}
END_TEST

/* genesis.json with @params_json as its "params" object. */
static int genesis_with(const char *params_json, struct genesis *g,
                        char *errmsg)
{
    char doc[2048];
    int n = snprintf(doc, sizeof(doc),
                     "{\"tdei_genesis\": 1, \"chain_id\": \"tdei-test\", "
                     "\"genesis_time_ms\": 1764000000000, \"params\": %s, "
                     "\"members\": []}",
                     params_json);

    ck_assert(n > 0 && (size_t)n < sizeof(doc));
    return genesis_parse(g, (const uint8_t *)doc, (size_t)n, GENESIS_DRAFT,
                         errmsg);
}

START_TEST(test_params_in_genesis)
{
    struct genesis g;
    char errmsg[TDEI_ERRMSG_SIZE];
    const struct params_def *ttl = params_find("approve_ttl");
    const struct params_def *roles = params_find("level3.roles");

    ck_assert_int_eq(genesis_with("{\"approve_ttl\": 5, "
                                  "\"level3.roles\": 4}",
                                  &g, errmsg),
                     0);
    ck_assert_uint_eq(g.params.contract[params_index(ttl)], 5);
    ck_assert_uint_eq(g.params.contract[params_index(roles)], 4);
    ck_assert_uint_eq(
        g.params.contract[params_index(params_find("deliver_ttl"))],
        params_find("deliver_ttl")->def);
    genesis_free(&g);

    ck_assert_int_eq(genesis_with("{\"approve_ttl\": 0}", &g, errmsg),
                     TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(errmsg, "params.approve_ttl must be"));
    genesis_free(&g);
    ck_assert_int_eq(genesis_with("{\"level3.roles\": 5}", &g, errmsg),
                     TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(errmsg, "even"));
    genesis_free(&g);
    ck_assert_int_eq(genesis_with("{\"level9.roles\": 4}", &g, errmsg),
                     TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(errmsg, "unknown param"));
    genesis_free(&g);
    ck_assert_int_eq(genesis_with("{\"mint_enabled\": \"yes\"}", &g, errmsg),
                     TDEI_INVAL);
    genesis_free(&g);
}
END_TEST

static Suite *params_suite(void)
{
    Suite *suite = suite_create("params");
    TCase *tc = tcase_create("table");

    tcase_add_checked_fixture(tc, testutil_leak_setup, testutil_leak_teardown);
    tcase_add_test(tc, test_params_defaults_of_design);
    tcase_add_test(tc, test_params_ranges);
    tcase_add_test(tc, test_params_record_round_trip);
    tcase_add_test(tc, test_params_in_genesis);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) { return testutil_run(params_suite()); }
