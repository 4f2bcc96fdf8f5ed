/* Tests of the node's consensus crypto and Commit bridge (votes.h): sign
 * bytes are the codec's and signatures BIP-340 under the right tag; a
 * verify-only crypto refuses to sign; the engine, run with this crypto as
 * the single validator, decides a block whose Commit verifies, and the
 * verification refuses a flipped signature, another chain, a missing
 * quorum; validator sets convert only when sorted and sized. */
#include "testutil.h"

#include "consensus/engine.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/keys.h"
#include "votes.h"

#include <stdlib.h>
#include <string.h>

#define CHAIN "tdei-test"

static struct tdei_keypair keys[3];
static char errmsg[TDEI_ERRMSG_SIZE];

static void setup(void)
{
    testutil_leak_setup();
    for (size_t i = 0; i < 3; i++) {
        uint8_t secret[TDEI_SECKEY_SIZE] = {0};
        secret[0] = 0x42;
        secret[31] = (uint8_t)(i + 1);
        ck_assert_int_eq(tdei_keypair_from_secret(&keys[i], secret), 0);
    }
    errmsg[0] = '\0';
}

static void teardown(void)
{
    for (size_t i = 0; i < 3; i++) {
        tdei_keypair_wipe(&keys[i]);
    }
    testutil_leak_teardown();
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, CONS_KEY_SIZE);
}

/* The validator set of keys[0..n-1], sorted. */
static void vset_make(struct cons_vset *vset, size_t n)
{
    memset(vset, 0, sizeof(*vset));
    for (size_t i = 0; i < n; i++) {
        memcpy(vset->keys[i], keys[i].pubkey, CONS_KEY_SIZE);
    }
    qsort(vset->keys, n, CONS_KEY_SIZE, key_cmp);
    vset->n = n;
}

START_TEST(test_votes_sign_codec_bytes_under_their_tags)
{
    struct votes_crypto vc;
    struct cons_crypto c;
    struct cons_vote v = {.type = CONS_PRECOMMIT, .height = 812, .round = 3};
    struct cons_proposal p = {.height = 812, .round = 3, .pol_round = 1};
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    uint8_t want[CONS_SIGN_BYTES_MAX];
    uint8_t sig[CONS_SIG_SIZE];
    size_t len;

    for (size_t i = 0; i < CONS_ID_SIZE; i++) {
        v.id.bytes[i] = (uint8_t)i;
        p.id[i] = (uint8_t)(0xa0 + i);
    }
    votes_crypto_init(&vc, &c, CHAIN, &keys[0]);
    /* Vote: the codec's layout (the documented 57-byte example). */
    len = c.vote_bytes(c.impl, &v, bytes);
    ck_assert_uint_eq(len, 57);
    ck_assert_uint_eq(len,
                      codec_vote_sign_bytes(want, CHAIN, CODEC_VOTE_PRECOMMIT,
                                            812, 3, v.id.bytes));
    ck_assert_mem_eq(bytes, want, len);
    ck_assert_int_eq(c.sign(c.impl, bytes, len, sig), 0);
    ck_assert_int_eq(
        tdei_verify_tagged(sig, keys[0].pubkey, TDEI_TAG_VOTE, bytes, len), 0);
    ck_assert_int_eq(c.verify(c.impl, keys[0].pubkey, bytes, len, sig), 1);
    ck_assert_int_eq(c.verify(c.impl, keys[1].pubkey, bytes, len, sig), 0);
    /* A nil vote: no block id in the bytes. */
    v.id.nil = 1;
    len = c.vote_bytes(c.impl, &v, bytes);
    ck_assert_uint_eq(
        len,
        codec_vote_sign_bytes(want, CHAIN, CODEC_VOTE_PRECOMMIT, 812, 3, NULL));
    ck_assert_mem_eq(bytes, want, len);
    /* Proposal: its layout and the proposal tag, never the vote tag. */
    len = c.proposal_bytes(c.impl, &p, bytes);
    ck_assert_uint_eq(len,
                      codec_proposal_sign_bytes(want, CHAIN, 812, 3, 1, p.id));
    ck_assert_mem_eq(bytes, want, len);
    ck_assert_int_eq(c.sign(c.impl, bytes, len, sig), 0);
    ck_assert_int_eq(
        tdei_verify_tagged(sig, keys[0].pubkey, TDEI_TAG_PROPOSAL, bytes, len),
        0);
    ck_assert_int_ne(
        tdei_verify_tagged(sig, keys[0].pubkey, TDEI_TAG_VOTE, bytes, len), 0);
    ck_assert_int_eq(c.verify(c.impl, keys[0].pubkey, bytes, len, sig), 1);
    sig[5] ^= 1;
    ck_assert_int_eq(c.verify(c.impl, keys[0].pubkey, bytes, len, sig), 0);
    /* Verify only: no key, no signature. */
    votes_crypto_init(&vc, &c, CHAIN, NULL);
    ck_assert_int_eq(c.sign(c.impl, bytes, len, sig), TDEI_BADKEY);
}
END_TEST

/* Run the engine as the only validator with this crypto until it
 * decides; returns the Commit of its precommits, serialized. */
static void decide_alone(struct cons_crypto *c, const struct cons_vset *vset,
                         const uint8_t id[CONS_ID_SIZE], uint8_t **commit,
                         size_t *len)
{
    struct cons_timeouts t = {1000, 0, 1000, 0, 1000, 0};
    struct cons_engine *e;
    struct cons_action a;
    struct cons_vote votes[CONS_VALIDATORS_MAX];
    int persisted = 0;
    int decided = 0;
    size_t n;

    ck_assert_int_eq(cons_engine_create(&e, keys[0].pubkey, c, &t), 0);
    cons_start_height(e, 7, vset);
    ck_assert_int_eq(cons_next_action(e, &a), 1);
    ck_assert_int_eq(a.kind, CONS_ACT_GET_VALUE);
    cons_on_value(e, 7, 0, id);
    while (cons_next_action(e, &a)) {
        if (a.kind == CONS_ACT_PERSIST) {
            persisted++;
        }
        if (a.kind == CONS_ACT_DECIDE) {
            decided = 1;
            ck_assert_mem_eq(a.id, id, CONS_ID_SIZE);
            ck_assert_uint_eq(a.commit_n, 1);
        }
    }
    ck_assert_int_eq(decided, 1);
    ck_assert_int_eq(persisted, 3); /* proposal, prevote, precommit */
    n = cons_commit_votes(e, 7, 0, id, votes, CONS_VALIDATORS_MAX);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(votes_commit_encode(commit, len, 7, 0, id, votes, n), 0);
    cons_engine_destroy(e);
}

START_TEST(test_votes_engine_alone_decides_a_verifiable_commit)
{
    struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    struct votes_crypto vc;
    struct cons_crypto c;
    struct cons_vset one;
    struct cons_vset two;
    uint8_t id[CONS_ID_SIZE];
    uint8_t *bytes = NULL;
    size_t len = 0;
    Tdei__Commit *commit = NULL;

    memset(id, 0x3c, sizeof(id));
    vset_make(&one, 1);
    vset_make(&two, 2);
    votes_crypto_init(&vc, &c, CHAIN, &keys[0]);
    decide_alone(&c, &one, id, &bytes, &len);
    ck_assert_int_eq(codec_commit_decode(&commit, bytes, len, &limits, errmsg),
                     0);
    ck_assert_uint_eq(commit->height, 7);
    ck_assert_uint_eq(commit->round, 0);
    ck_assert_mem_eq(commit->block_id.data, id, 32);
    ck_assert_uint_eq(commit->n_signatures, 1);
    ck_assert_mem_eq(commit->signatures[0]->validator.data, keys[0].pubkey, 32);
    ck_assert_msg(votes_commit_verify(commit, CHAIN, &one, errmsg) == 0, "%s",
                  errmsg);
    /* One of two validators is no quorum. */
    ck_assert_int_eq(votes_commit_verify(commit, CHAIN, &two, errmsg),
                     TDEI_NO_QUORUM);
    /* Signed for another chain. */
    ck_assert_int_eq(votes_commit_verify(commit, "other-chain", &one, errmsg),
                     TDEI_BADSIG);
    /* A flipped bit. */
    commit->signatures[0]->sig.data[9] ^= 1;
    ck_assert_int_eq(votes_commit_verify(commit, CHAIN, &one, errmsg),
                     TDEI_BADSIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "bad signature"));
    codec_commit_free(commit);
    tdei_free(bytes);
}
END_TEST

START_TEST(test_votes_vset_from_state_sorted_and_sized)
{
    Tdei__ValidatorSet set = TDEI__VALIDATOR_SET__INIT;
    Tdei__Validator v[2] = {TDEI__VALIDATOR__INIT, TDEI__VALIDATOR__INIT};
    Tdei__Validator *ptrs[2] = {&v[0], &v[1]};
    struct cons_vset want;
    struct cons_vset got;

    vset_make(&want, 2);
    v[0].node_key = (ProtobufCBinaryData){32, want.keys[0]};
    v[1].node_key = (ProtobufCBinaryData){32, want.keys[1]};
    set.validators = ptrs;
    set.n_validators = 2;
    ck_assert_int_eq(votes_vset_from_proto(&got, &set, errmsg), 0);
    ck_assert_uint_eq(got.n, 2);
    ck_assert_mem_eq(got.keys, want.keys, 2 * CONS_KEY_SIZE);
    /* Out of order, or the same key twice. */
    v[0].node_key.data = want.keys[1];
    v[1].node_key.data = want.keys[0];
    ck_assert_int_eq(votes_vset_from_proto(&got, &set, errmsg), TDEI_CORRUPT);
    ck_assert_uint_eq(got.n, 0);
    v[1].node_key.data = want.keys[1];
    ck_assert_int_eq(votes_vset_from_proto(&got, &set, errmsg), TDEI_CORRUPT);
    /* A short key; no validator at all. */
    v[0].node_key = (ProtobufCBinaryData){31, want.keys[0]};
    ck_assert_int_eq(votes_vset_from_proto(&got, &set, errmsg), TDEI_CORRUPT);
    set.n_validators = 0;
    ck_assert_int_eq(votes_vset_from_proto(&got, &set, errmsg), TDEI_CORRUPT);
    ck_assert_ptr_nonnull(strstr(errmsg, "0 validators"));
}
END_TEST

static Suite *votes_suite(void)
{
    Suite *s = suite_create("votes");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"sign", test_votes_sign_codec_bytes_under_their_tags},
        {"commit", test_votes_engine_alone_decides_a_verifiable_commit},
        {"vset", test_votes_vset_from_state_sorted_and_sized},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(votes_suite()); }
