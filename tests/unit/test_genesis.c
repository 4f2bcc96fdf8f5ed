/* Tests of genesis.json parsing: a good file, and each refusal. */
#include "testutil.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/keys.h"
#include "genesis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char keys[6][TDEI_HEX_SIZE(32)]; /* fresh x-only keys */
static char enc[TDEI_HEX_SIZE(32)];

static void genesis_setup(void)
{
    struct tdei_keypair kp;
    struct tdei_enc_keypair ekp;

    testutil_leak_setup();
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(tdei_keypair_generate(&kp), 0);
        (void)tdei_hex_encode(keys[i], sizeof(keys[i]), kp.pubkey, 32);
    }
    ck_assert_int_eq(tdei_enc_keypair_generate(&ekp), 0);
    (void)tdei_hex_encode(enc, sizeof(enc), ekp.pubkey, 32);
    tdei_keypair_wipe(&kp);
    tdei_enc_keypair_wipe(&ekp);
}

/* A member object; @extra is spliced in before the closing brace. */
static void member(char *out, size_t size, const char *id, const char *role,
                   int key, int validator, const char *extra)
{
    (void)snprintf(out, size,
                   "{\"id\":\"%s\",\"role\":\"%s\",\"node_key\":\"%s\","
                   "\"operator_keys\":[\"%s\"],\"encryption_key\":\"%s\","
                   "\"validator\":%s,\"balance\":1000%s}",
                   id, role, keys[key], keys[key + 1], enc,
                   validator ? "true" : "false", extra);
}

static int parse(const char *members, const char *top_extra, char *errmsg,
                 struct genesis *g)
{
    char doc[8192];

    (void)snprintf(doc, sizeof(doc),
                   "{\"tdei_genesis\":1,\"chain_id\":\"tdei-test\","
                   "\"genesis_time_ms\":1764000000000%s,\"members\":[%s]}",
                   top_extra, members);
    return genesis_parse(g, (const uint8_t *)doc, strlen(doc), 0, errmsg);
}

static void expect_refused(const char *members, const char *top_extra,
                           int code, const char *needle)
{
    struct genesis g;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    ck_assert_int_eq(parse(members, top_extra, errmsg, &g), code);
    ck_assert_msg(strstr(errmsg, needle) != NULL, "message '%s' lacks '%s'",
                  errmsg, needle);
    ck_assert_ptr_null(g.members);
    genesis_free(&g);
}

START_TEST(test_genesis_good_file_sorted_with_defaults)
{
    struct genesis g;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char m1[1024];
    char m2[1024];
    char both[2100];

    member(m1, sizeof(m1), "zeta-works", "manufacturer", 0, 1, "");
    member(m2, sizeof(m2), "alpha-svc", "public_service", 2, 1,
           ",\"name\":\"Alpha\"");
    (void)snprintf(both, sizeof(both), "%s,%s", m1, m2);
    ck_assert_int_eq(parse(both, "", errmsg, &g), 0);
    ck_assert_str_eq(g.chain_id, "tdei-test");
    ck_assert_uint_eq(g.member_count, 2);
    ck_assert_str_eq(g.members[0].id, "alpha-svc");
    ck_assert_str_eq(g.members[0].name, "Alpha");
    ck_assert_uint_eq(g.members[1].balance, 1000);
    ck_assert_uint_eq(g.params.tx_size_max, 65536);
    ck_assert_uint_eq(genesis_validator_count(&g), 2);
    ck_assert_ptr_nonnull(genesis_member_find(&g, "zeta-works"));
    ck_assert_ptr_null(genesis_member_find(&g, "nobody"));
    genesis_free(&g);
}
END_TEST

START_TEST(test_genesis_json_round_trip)
{
    struct genesis g;
    struct genesis back;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char m1[1024];
    json_t *doc;
    char *text;

    member(m1, sizeof(m1), "acme", "platform", 0, 1, "");
    ck_assert_int_eq(parse(m1, ",\"params\":{\"block_txs_max\":77}", errmsg,
                           &g),
                     0);
    ck_assert_uint_eq(g.params.block_txs_max, 77);
    doc = genesis_to_json(&g);
    ck_assert_ptr_nonnull(doc);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(
        genesis_parse(&back, (const uint8_t *)text, strlen(text), 0, errmsg),
        0);
    ck_assert_uint_eq(back.params.block_txs_max, 77);
    ck_assert_mem_eq(back.members[0].node_key, g.members[0].node_key, 32);
    free(text);
    genesis_free(&g);
    genesis_free(&back);
}
END_TEST

START_TEST(test_genesis_refusals)
{
    char m[1024];
    char two[2100];
    char other[1024];

    member(m, sizeof(m), "acme", "platform", 0, 1, ",\"colour\":1");
    expect_refused(m, "", TDEI_INVAL, "unknown field \"colour\"");
    member(m, sizeof(m), "acme", "auditor", 0, 1, "");
    expect_refused(m, "", TDEI_INVAL, "auditor observes");
    member(m, sizeof(m), "acme", "platform", 0, 0, "");
    expect_refused(m, "", TDEI_INVAL, "0 validators");
    member(m, sizeof(m), "Acme", "platform", 0, 1, "");
    expect_refused(m, "", TDEI_INVAL, "id must be");
    member(m, sizeof(m), "acme", "king", 0, 1, "");
    expect_refused(m, "", TDEI_INVAL, "role must be one of");
    member(m, sizeof(m), "acme", "platform", 0, 1, "");
    member(other, sizeof(other), "acme", "platform", 2, 1, "");
    (void)snprintf(two, sizeof(two), "%s,%s", m, other);
    expect_refused(two, "", TDEI_INVAL, "appears twice");
    member(other, sizeof(other), "beta", "platform", 0, 1, "");
    (void)snprintf(two, sizeof(two), "%s,%s", m, other);
    expect_refused(two, "", TDEI_INVAL, "share a node key");
    expect_refused(m, ",\"params\":{\"nope\":1}", TDEI_INVAL,
                   "unknown param");
    expect_refused(m, ",\"params\":{\"block_txs_max\":0}", TDEI_INVAL,
                   "params.block_txs_max");
}
END_TEST

START_TEST(test_genesis_refuses_bad_documents)
{
    struct genesis g;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    static const char *const docs[] = {
        "", "{", "[]", "{\"tdei_genesis\":2}",
        "{\"tdei_genesis\":1,\"tdei_genesis\":1}",
        "{\"tdei_genesis\":1,\"chain_id\":\"UPPER\"}"};
    const int codes[] = {TDEI_MALFORMED, TDEI_MALFORMED, TDEI_MALFORMED,
                         TDEI_VERSION,   TDEI_MALFORMED, TDEI_INVAL};

    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        ck_assert_int_eq(genesis_parse(&g, (const uint8_t *)docs[i],
                                       strlen(docs[i]), 0, errmsg),
                         codes[i]);
        genesis_free(&g);
    }
}
END_TEST

START_TEST(test_genesis_bad_key_refused)
{
    char m[1024];

    member(m, sizeof(m), "acme", "platform", 0, 1, "");
    /* Not on the curve: the public key of BIP-340 test vector 5. */
    memcpy(strstr(m, keys[0]), "eefdea4cdb677750a420fee807eacf21"
                               "eb9898ae79b9768766e4faa04a2d4a34",
           64);
    expect_refused(m, "", TDEI_BADKEY, "node_key is not a valid");
}
END_TEST

/* A genesis of @n validators (fresh keys), params.validators_max 1000,
 * parsed into @g. */
static int parse_validators(size_t n, struct genesis *g, char *errmsg)
{
    size_t cap = n * 400 + 256;
    char *doc = tdei_malloc(cap);
    size_t len;
    int rc;

    ck_assert_ptr_nonnull(doc);
    len = (size_t)snprintf(doc, cap,
                           "{\"tdei_genesis\":1,\"chain_id\":\"tdei-test\","
                           "\"genesis_time_ms\":1764000000000,\"params\":"
                           "{\"validators_max\":1000},\"members\":[");
    for (size_t i = 0; i < n; i++) {
        struct tdei_keypair node;
        struct tdei_keypair op;
        char nk[TDEI_HEX_SIZE(32)];
        char ok[TDEI_HEX_SIZE(32)];

        ck_assert_int_eq(tdei_keypair_generate(&node), 0);
        ck_assert_int_eq(tdei_keypair_generate(&op), 0);
        (void)tdei_hex_encode(nk, sizeof(nk), node.pubkey, 32);
        (void)tdei_hex_encode(ok, sizeof(ok), op.pubkey, 32);
        tdei_keypair_wipe(&node);
        tdei_keypair_wipe(&op);
        len += (size_t)snprintf(
            doc + len, cap - len,
            "%s{\"id\":\"val-%04zu\",\"role\":\"platform\","
            "\"node_key\":\"%s\",\"operator_keys\":[\"%s\"],"
            "\"encryption_key\":\"%s\",\"validator\":true,\"balance\":1}",
            i > 0 ? "," : "", i, nk, ok, enc);
        ck_assert_uint_lt(len, cap);
    }
    len += (size_t)snprintf(doc + len, cap - len, "]}");
    rc = genesis_parse(g, (const uint8_t *)doc, len, 0, errmsg);
    tdei_free(doc);
    return rc;
}

/* Consensus takes at most 128 validators: a genesis naming more is
 * refused even when params.validators_max allows it, and so is an added
 * 129th. */
START_TEST(test_genesis_refuses_more_validators_than_consensus_takes)
{
    struct genesis g;
    struct genesis_member extra;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    ck_assert_int_eq(parse_validators(129, &g, errmsg), TDEI_INVAL);
    ck_assert_msg(strstr(errmsg, "129 validators; consensus takes at most "
                                 "128") != NULL,
                  "%s", errmsg);
    ck_assert_ptr_null(g.members);
    genesis_free(&g);
    ck_assert_int_eq(parse_validators(128, &g, errmsg), 0);
    extra = g.members[0];
    (void)snprintf(extra.id, sizeof(extra.id), "%s", "val-extra");
    extra.node_key[0] ^= 1;
    ck_assert_int_eq(genesis_member_add(&g, &extra, errmsg), TDEI_TOOBIG);
    ck_assert_msg(strstr(errmsg, "consensus takes at most 128") != NULL, "%s",
                  errmsg);
    ck_assert_uint_eq(g.member_count, 128);
    genesis_free(&g);
}
END_TEST

static Suite *genesis_suite(void)
{
    Suite *suite = suite_create("genesis");
    TCase *tc = tcase_create("parse");

    tcase_add_checked_fixture(tc, genesis_setup, testutil_leak_teardown);
    tcase_add_test(tc, test_genesis_good_file_sorted_with_defaults);
    tcase_add_test(tc, test_genesis_json_round_trip);
    tcase_add_test(tc, test_genesis_refusals);
    tcase_add_test(tc, test_genesis_refuses_bad_documents);
    tcase_add_test(tc, test_genesis_bad_key_refused);
    tcase_add_test(tc,
                   test_genesis_refuses_more_validators_than_consensus_takes);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return testutil_run(genesis_suite());
}
