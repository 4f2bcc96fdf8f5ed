/* Tests of config.ini loading: defaults, strictness, round trip. */
#include "testutil.h"

#include "config.h"
#include "core/error.h"

#include <stdio.h>
#include <string.h>

static char dir[4096];
static char path[4200];

static void config_setup(void)
{
    testutil_leak_setup();
    (void)snprintf(dir, sizeof(dir), "%s", testutil_tmpdir());
    (void)snprintf(path, sizeof(path), "%s/config.ini", dir);
}

static void config_teardown(void)
{
    testutil_rmtree(dir);
    testutil_leak_teardown();
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Load @text and expect @code, with @needle in the message. */
static void expect_load(const char *text, int code, const char *needle)
{
    struct tdei_config cfg;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    write_file(text);
    ck_assert_int_eq(config_load(&cfg, path, errmsg), code);
    if (needle != NULL) {
        ck_assert_msg(strstr(errmsg, needle) != NULL,
                      "message '%s' lacks '%s'", errmsg, needle);
    }
}

START_TEST(test_config_minimal_file_gets_defaults)
{
    struct tdei_config cfg;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    write_file("[node]\nmember = acme-steel\nrole = manufacturer\n");
    ck_assert_int_eq(config_load(&cfg, path, errmsg), 0);
    ck_assert_str_eq(cfg.member, "acme-steel");
    ck_assert_int_eq(cfg.role, TDEI_ROLE_MANUFACTURER);
    ck_assert_int_eq(cfg.log_level, TDEI_LOG_NOTICE);
}
END_TEST

START_TEST(test_config_write_then_load_round_trip)
{
    struct tdei_config cfg;
    struct tdei_config back;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    FILE *f;

    config_defaults(&cfg);
    memcpy(cfg.member, "public-svc", 11);
    cfg.role = TDEI_ROLE_PUBLIC_SERVICE;
    cfg.log_level = TDEI_LOG_DEBUG;
    cfg.observer = 1;
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(config_write(&cfg, f), 0);
    fclose(f);
    ck_assert_int_eq(config_load(&back, path, errmsg), 0);
    ck_assert_mem_eq(&cfg, &back, sizeof(cfg));
}
END_TEST

START_TEST(test_config_refuses_bad_values)
{
    expect_load("[node]\nmember = Acme\nrole = platform\n", TDEI_CONFIG,
                "node.member=Acme");
    expect_load("[node]\nmember = acme\nrole = king\n", TDEI_CONFIG,
                "node.role=king is not one of");
    expect_load("[node]\nmember = acme\nrole = platform\nlog_level = loud\n",
                TDEI_CONFIG, "node.log_level=loud");
}
END_TEST

START_TEST(test_config_observer_is_true_or_false)
{
    struct tdei_config cfg;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    config_defaults(&cfg);
    ck_assert_int_eq(cfg.observer, 0);
    write_file("[node]\nmember = acme\nrole = auditor\nobserver = true\n");
    ck_assert_int_eq(config_load(&cfg, path, errmsg), 0);
    ck_assert_int_eq(cfg.observer, 1);
    write_file("[node]\nmember = acme\nrole = auditor\nobserver = false\n");
    ck_assert_int_eq(config_load(&cfg, path, errmsg), 0);
    ck_assert_int_eq(cfg.observer, 0);
    expect_load("[node]\nmember = acme\nrole = auditor\nobserver = yes\n",
                TDEI_CONFIG, "node.observer=yes is not one of true, false");
    expect_load("[node]\nmember = acme\nrole = auditor\nobserver = 1\n",
                TDEI_CONFIG, "node.observer=1 is not one of true, false");
    expect_load("[node]\nmember = acme\nrole = auditor\nobserver = TRUE\n",
                TDEI_CONFIG, "node.observer=TRUE");
    expect_load("[node]\nmember = acme\nrole = auditor\nobserver =\n",
                TDEI_CONFIG, "node.observer= is not one of true, false");
}
END_TEST

START_TEST(test_config_refuses_unknown_and_duplicate_keys)
{
    expect_load("[node]\nmember = acme\nrole = platform\ncolour = red\n",
                TDEI_CONFIG, "unknown key [node] colour");
    expect_load("[nope]\nmember = acme\n", TDEI_CONFIG, "unknown key");
    expect_load("[node]\nmember = acme\nmember = acme\nrole = platform\n",
                TDEI_CONFIG, "set twice");
}
END_TEST

START_TEST(test_config_numbers_checked_one_past_each_end)
{
    struct tdei_config cfg;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    expect_load("[node]\nmember = acme\nrole = platform\n[chain]\n"
                "block_interval_ms = 9\n",
                TDEI_CONFIG, "chain.block_interval_ms=9 is outside 10-60000");
    expect_load("[node]\nmember = acme\nrole = platform\n[chain]\n"
                "block_interval_ms = 60001\n",
                TDEI_CONFIG, "is outside 10-60000");
    expect_load("[node]\nmember = acme\nrole = platform\n[chain]\n"
                "block_interval_ms = -1\n",
                TDEI_CONFIG, "is outside");
    expect_load("[node]\nmember = acme\nrole = platform\n[chain]\n"
                "block_interval_ms = 12ms\n",
                TDEI_CONFIG, "is outside");
    write_file("[node]\nmember = acme\nrole = platform\n[chain]\n"
               "block_interval_ms = 10\n[mempool]\nmax_txs = 7\n");
    ck_assert_int_eq(config_load(&cfg, path, errmsg), 0);
    ck_assert_uint_eq(cfg.block_interval_ms, 10);
    ck_assert_uint_eq(cfg.mempool_max_txs, 7);
    ck_assert_uint_eq(cfg.mempool_nonce_window, 1000);
    ck_assert_str_eq(cfg.api_socket, "api.sock");
}
END_TEST

/* The consensus timeouts: defaults, and each key refused one past each
 * end of its range with a message naming it and the range. */
START_TEST(test_config_consensus_timeouts_checked_one_past_each_end)
{
    static const struct
    {
        const char *key;
        unsigned long long min, max;
    } keys[] = {
        {"timeout_propose_ms", 10, 600000},
        {"timeout_propose_delta_ms", 0, 60000},
        {"timeout_prevote_ms", 10, 600000},
        {"timeout_prevote_delta_ms", 0, 60000},
        {"timeout_precommit_ms", 10, 600000},
        {"timeout_precommit_delta_ms", 0, 60000},
    };
    struct tdei_config cfg;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char text[256];
    char want[128];

    config_defaults(&cfg);
    ck_assert_uint_eq(cfg.timeout_propose_ms, 3000);
    ck_assert_uint_eq(cfg.timeout_propose_delta_ms, 500);
    ck_assert_uint_eq(cfg.timeout_prevote_ms, 1000);
    ck_assert_uint_eq(cfg.timeout_prevote_delta_ms, 500);
    ck_assert_uint_eq(cfg.timeout_precommit_ms, 1000);
    ck_assert_uint_eq(cfg.timeout_precommit_delta_ms, 500);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        (void)snprintf(want, sizeof(want),
                       "consensus.%s=%llu is outside "
                       "%llu-%llu",
                       keys[i].key, keys[i].max + 1, keys[i].min, keys[i].max);
        (void)snprintf(text, sizeof(text),
                       "[node]\nmember = acme\n"
                       "role = platform\n[consensus]\n%s = %llu\n",
                       keys[i].key, keys[i].max + 1);
        expect_load(text, TDEI_CONFIG, want);
        if (keys[i].min > 0) {
            (void)snprintf(want, sizeof(want),
                           "consensus.%s=%llu is "
                           "outside",
                           keys[i].key, keys[i].min - 1);
            (void)snprintf(text, sizeof(text),
                           "[node]\nmember = acme\n"
                           "role = platform\n[consensus]\n%s = %llu\n",
                           keys[i].key, keys[i].min - 1);
            expect_load(text, TDEI_CONFIG, want);
        }
    }
    write_file("[node]\nmember = acme\nrole = platform\n[consensus]\n"
               "timeout_propose_ms = 10\ntimeout_propose_delta_ms = 0\n"
               "timeout_prevote_ms = 600000\n"
               "timeout_prevote_delta_ms = 60000\n"
               "timeout_precommit_ms = 10\n"
               "timeout_precommit_delta_ms = 0\n");
    ck_assert_msg(config_load(&cfg, path, errmsg) == 0, "%s", errmsg);
    ck_assert_uint_eq(cfg.timeout_propose_ms, 10);
    ck_assert_uint_eq(cfg.timeout_propose_delta_ms, 0);
    ck_assert_uint_eq(cfg.timeout_prevote_ms, 600000);
    ck_assert_uint_eq(cfg.timeout_prevote_delta_ms, 60000);
    ck_assert_uint_eq(cfg.timeout_precommit_ms, 10);
    ck_assert_uint_eq(cfg.timeout_precommit_delta_ms, 0);
}
END_TEST

START_TEST(test_config_text_length_limit)
{
    char text[CONFIG_TEXT_MAX + 64];
    int n = snprintf(text, sizeof(text),
                     "[node]\nmember = acme\nrole = platform\n[api]\n"
                     "listen = ");
    struct tdei_config cfg;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    memset(text + n, 'a', CONFIG_TEXT_MAX - 1);
    text[n + CONFIG_TEXT_MAX - 1] = '\0';
    write_file(text);
    /* inih cuts lines at its own limit; the value that reaches us must
     * still fit or be refused, never overflow. */
    (void)config_load(&cfg, path, errmsg);
    ck_assert_uint_lt(strlen(cfg.api_listen), CONFIG_TEXT_MAX);
}
END_TEST

START_TEST(test_config_names_the_line)
{
    expect_load("[node]\nmember = acme\n\nrole = king\n", TDEI_CONFIG,
                "config.ini:4:");
    expect_load("[node]\nthis is not a key value line\n", TDEI_CONFIG,
                "config.ini:2:");
}
END_TEST

START_TEST(test_config_requires_member_and_role)
{
    expect_load("[node]\nrole = platform\n", TDEI_CONFIG,
                "[node] member is required");
    expect_load("[node]\nmember = acme\n", TDEI_CONFIG,
                "[node] role is required");
}
END_TEST

START_TEST(test_config_missing_file)
{
    struct tdei_config cfg;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    ck_assert_int_eq(config_load(&cfg, "/nonexistent/config.ini", errmsg),
                     TDEI_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(errmsg, "tdei init"));
}
END_TEST

static Suite *config_suite(void)
{
    Suite *suite = suite_create("config");
    TCase *tc = tcase_create("load");

    tcase_add_checked_fixture(tc, config_setup, config_teardown);
    tcase_add_test(tc, test_config_minimal_file_gets_defaults);
    tcase_add_test(tc, test_config_write_then_load_round_trip);
    tcase_add_test(tc, test_config_refuses_bad_values);
    tcase_add_test(tc, test_config_observer_is_true_or_false);
    tcase_add_test(tc, test_config_refuses_unknown_and_duplicate_keys);
    tcase_add_test(tc, test_config_numbers_checked_one_past_each_end);
    tcase_add_test(tc,
                   test_config_consensus_timeouts_checked_one_past_each_end);
    tcase_add_test(tc, test_config_text_length_limit);
    tcase_add_test(tc, test_config_names_the_line);
    tcase_add_test(tc, test_config_requires_member_and_role);
    tcase_add_test(tc, test_config_missing_file);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return testutil_run(config_suite());
}
