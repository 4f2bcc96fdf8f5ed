/* Tests of keys and signatures: the BIP-340 vectors, tagged signatures,
 * tampering, invalid secrets and X25519. */
#include "testutil.h"

#include "core/error.h"
#include "core/hash.h"
#include "core/keys.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* The official BIP-340 vectors (bitcoin/bips bip-0340/test-vectors.csv),
 * including the four variable-length messages added in 2022-12. */
#define BIP340_VECTOR_FILE "bip340-test-vectors.csv"
#define BIP340_VECTOR_ROWS 19
#define BIP340_MSG_MAX 256

/* The secp256k1 group order n. */
static const char order_hex[] =
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141";

struct bip340_row
{
    int index;
    int has_secret;
    uint8_t secret[32];
    uint8_t pubkey[32];
    int has_aux;
    uint8_t aux[32];
    uint8_t msg[BIP340_MSG_MAX];
    size_t msg_len;
    uint8_t sig[64];
    int valid;
};

/* Split @line at commas into at most @max fields (the last one keeps any
 * further commas). Returns the number of fields. */
static size_t split_csv(char *line, char **fields, size_t max)
{
    size_t count = 0;
    char *p = line;

    fields[count++] = p;
    while (count < max && (p = strchr(p, ',')) != NULL) {
        *p++ = '\0';
        fields[count++] = p;
    }
    return count;
}

static void parse_row(char *line, struct bip340_row *row)
{
    char *f[8];
    size_t len;

    line[strcspn(line, "\r\n")] = '\0';
    ck_assert_uint_eq(split_csv(line, f, 8), 8);
    memset(row, 0, sizeof(*row));
    ck_assert_int_eq(sscanf(f[0], "%d", &row->index), 1);
    row->has_secret = f[1][0] != '\0';
    if (row->has_secret) {
        ck_assert_uint_eq(testutil_unhex(row->secret, 32, f[1]), 32);
    }
    ck_assert_uint_eq(testutil_unhex(row->pubkey, 32, f[2]), 32);
    row->has_aux = f[3][0] != '\0';
    if (row->has_aux) {
        ck_assert_uint_eq(testutil_unhex(row->aux, 32, f[3]), 32);
    }
    row->msg_len = testutil_unhex(row->msg, sizeof(row->msg), f[4]);
    len = testutil_unhex(row->sig, 64, f[5]);
    ck_assert_uint_eq(len, 64);
    ck_assert_msg(strcmp(f[6], "TRUE") == 0 || strcmp(f[6], "FALSE") == 0,
                  "row %d: bad verification result '%s'", row->index, f[6]);
    row->valid = strcmp(f[6], "TRUE") == 0;
}

static void check_row(const struct bip340_row *row)
{
    struct tdei_keypair kp;
    uint8_t sig[64];
    int rc;

    if (row->has_secret) {
        ck_assert_int_eq(tdei_keypair_from_secret(&kp, row->secret), 0);
        ck_assert_msg(memcmp(kp.pubkey, row->pubkey, 32) == 0,
                      "row %d: derived public key differs", row->index);
        ck_assert_int_eq(
            tdei_sign_raw(sig, &kp, row->msg, row->msg_len, row->aux), 0);
        ck_assert_msg(memcmp(sig, row->sig, 64) == 0,
                      "row %d: signature differs from the vector", row->index);
        tdei_keypair_wipe(&kp);
    }
    rc = tdei_verify_raw(row->sig, row->msg, row->msg_len, row->pubkey);
    if (row->valid) {
        ck_assert_msg(rc == 0, "row %d: valid signature refused (%s)",
                      row->index, tdei_errname(rc));
    } else {
        ck_assert_msg(rc == TDEI_BADSIG || rc == TDEI_BADKEY,
                      "row %d: invalid signature gave %s", row->index,
                      tdei_errname(rc));
        if (tdei_pubkey_check(row->pubkey) != 0) {
            ck_assert_int_eq(rc, TDEI_BADKEY);
        }
    }
}

START_TEST(test_bip340_vectors)
{
    const char *path = testutil_vector_path(BIP340_VECTOR_FILE);
    FILE *f = fopen(path, "r");
    char line[2048];
    int rows = 0;
    int invalid_keys = 0;

    ck_assert_msg(f != NULL, "cannot open %s (set TDEI_SRCDIR)", path);
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_msg(strncmp(line, "index,secret key,public key", 27) == 0,
                  "unexpected header in %s", path);
    while (fgets(line, sizeof(line), f) != NULL) {
        struct bip340_row row;
        if (line[0] == '\n' || line[0] == '\r' || line[0] == '\0') {
            continue;
        }
        parse_row(line, &row);
        ck_assert_int_eq(row.index, rows);
        check_row(&row);
        if (tdei_pubkey_check(row.pubkey) != 0) {
            invalid_keys++;
        }
        rows++;
    }
    fclose(f);
    ck_assert_int_eq(rows, BIP340_VECTOR_ROWS);
    /* Rows 5 and 14 carry public keys that are not on the curve. */
    ck_assert_int_eq(invalid_keys, 2);
}
END_TEST

/* ---- tagged signatures and tampering ---------------------------------- */

static const uint8_t test_data[] = "a transaction body, exact bytes";

START_TEST(test_tagged_sign_verify_round_trip)
{
    struct tdei_keypair kp;
    uint8_t sig[64];

    ck_assert_int_eq(tdei_keypair_generate(&kp), 0);
    ck_assert_int_eq(tdei_pubkey_check(kp.pubkey), 0);
    ck_assert_int_eq(
        tdei_sign_tagged(sig, &kp, TDEI_TAG_TX, test_data, sizeof(test_data)),
        0);
    ck_assert_int_eq(tdei_verify_tagged(sig, kp.pubkey, TDEI_TAG_TX, test_data,
                                        sizeof(test_data)),
                     0);
    /* Empty data is a valid message too. */
    ck_assert_int_eq(tdei_sign_tagged(sig, &kp, TDEI_TAG_MESSAGE, NULL, 0), 0);
    ck_assert_int_eq(
        tdei_verify_tagged(sig, kp.pubkey, TDEI_TAG_MESSAGE, NULL, 0), 0);
    tdei_keypair_wipe(&kp);
}
END_TEST

/* A parsed key verifies exactly what the key bytes verify. */
START_TEST(test_parsed_key_verifies_as_the_key)
{
    struct tdei_keypair kp, other;
    struct tdei_pubkey_parsed parsed, parsed_other;
    uint8_t bad[TDEI_PUBKEY_SIZE];
    uint8_t sig[64];

    ck_assert_int_eq(tdei_keypair_generate(&kp), 0);
    ck_assert_int_eq(tdei_keypair_generate(&other), 0);
    ck_assert_int_eq(tdei_pubkey_parse(&parsed, kp.pubkey), 0);
    ck_assert_int_eq(tdei_pubkey_parse(&parsed_other, other.pubkey), 0);
    ck_assert_int_eq(
        tdei_sign_tagged(sig, &kp, TDEI_TAG_TX, test_data, sizeof(test_data)),
        0);
    ck_assert_int_eq(tdei_verify_tagged_parsed(sig, &parsed, TDEI_TAG_TX,
                                               test_data, sizeof(test_data)),
                     0);
    ck_assert_int_eq(tdei_verify_tagged_parsed(sig, &parsed_other,
                                               TDEI_TAG_TX, test_data,
                                               sizeof(test_data)),
                     TDEI_BADSIG);
    ck_assert_int_eq(tdei_verify_tagged_parsed(sig, &parsed,
                                               TDEI_TAG_MESSAGE, test_data,
                                               sizeof(test_data)),
                     TDEI_BADSIG);
    sig[10] ^= 0x01;
    ck_assert_int_eq(tdei_verify_tagged_parsed(sig, &parsed, TDEI_TAG_TX,
                                               test_data, sizeof(test_data)),
                     TDEI_BADSIG);
    /* x = 0 is not on the curve: refused, and the output zeroed. */
    memset(bad, 0, sizeof(bad));
    ck_assert_int_eq(tdei_pubkey_parse(&parsed, bad), TDEI_BADKEY);
    for (size_t i = 0; i < sizeof(parsed.data); i++) {
        ck_assert_uint_eq(parsed.data[i], 0);
    }
    tdei_keypair_wipe(&kp);
    tdei_keypair_wipe(&other);
}
END_TEST

START_TEST(test_tagged_signature_is_raw_signature_of_tagged_hash)
{
    struct tdei_keypair kp;
    uint8_t sig[64];
    uint8_t digest[TDEI_HASH_SIZE];

    ck_assert_int_eq(tdei_keypair_generate(&kp), 0);
    ck_assert_int_eq(
        tdei_sign_tagged(sig, &kp, TDEI_TAG_VOTE, test_data, sizeof(test_data)),
        0);
    tdei_tagged_hash(digest, TDEI_TAG_VOTE, test_data, sizeof(test_data));
    ck_assert_int_eq(tdei_verify_raw(sig, digest, sizeof(digest), kp.pubkey),
                     0);
    /* And not a signature of the bytes themselves. */
    ck_assert_int_eq(
        tdei_verify_raw(sig, test_data, sizeof(test_data), kp.pubkey),
        TDEI_BADSIG);
    tdei_keypair_wipe(&kp);
}
END_TEST

START_TEST(test_tag_mismatch_fails)
{
    static const char *const others[] = {TDEI_TAG_VOTE, TDEI_TAG_PROPOSAL,
                                         TDEI_TAG_HANDSHAKE, TDEI_TAG_MESSAGE,
                                         "tdei/tx "};
    struct tdei_keypair kp;
    uint8_t sig[64];

    ck_assert_int_eq(tdei_keypair_generate(&kp), 0);
    ck_assert_int_eq(
        tdei_sign_tagged(sig, &kp, TDEI_TAG_TX, test_data, sizeof(test_data)),
        0);
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        ck_assert_int_eq(tdei_verify_tagged(sig, kp.pubkey, others[i],
                                            test_data, sizeof(test_data)),
                         TDEI_BADSIG);
    }
    tdei_keypair_wipe(&kp);
}
END_TEST

START_TEST(test_every_signature_bit_flip_fails)
{
    struct tdei_keypair kp;
    uint8_t sig[64];

    ck_assert_int_eq(tdei_keypair_generate(&kp), 0);
    ck_assert_int_eq(
        tdei_sign_tagged(sig, &kp, TDEI_TAG_TX, test_data, sizeof(test_data)),
        0);
    for (unsigned int bit = 0; bit < 64 * 8; bit++) {
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_msg(tdei_verify_tagged(sig, kp.pubkey, TDEI_TAG_TX, test_data,
                                         sizeof(test_data)) == TDEI_BADSIG,
                      "flipping signature bit %u still verifies", bit);
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    ck_assert_int_eq(tdei_verify_tagged(sig, kp.pubkey, TDEI_TAG_TX, test_data,
                                        sizeof(test_data)),
                     0);
    tdei_keypair_wipe(&kp);
}
END_TEST

START_TEST(test_every_message_bit_flip_fails)
{
    struct tdei_keypair kp;
    uint8_t msg[sizeof(test_data)];
    uint8_t sig[64];

    memcpy(msg, test_data, sizeof(msg));
    ck_assert_int_eq(tdei_keypair_generate(&kp), 0);
    ck_assert_int_eq(tdei_sign_tagged(sig, &kp, TDEI_TAG_TX, msg, sizeof(msg)),
                     0);
    for (unsigned int bit = 0; bit < sizeof(msg) * 8; bit++) {
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_msg(tdei_verify_tagged(sig, kp.pubkey, TDEI_TAG_TX, msg,
                                         sizeof(msg)) == TDEI_BADSIG,
                      "flipping message bit %u still verifies", bit);
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* A shorter or longer message fails too. */
    ck_assert_int_eq(
        tdei_verify_tagged(sig, kp.pubkey, TDEI_TAG_TX, msg, sizeof(msg) - 1),
        TDEI_BADSIG);
    tdei_keypair_wipe(&kp);
}
END_TEST

START_TEST(test_every_public_key_bit_flip_fails)
{
    struct tdei_keypair kp;
    uint8_t pubkey[32];
    uint8_t sig[64];
    int not_on_curve = 0;

    ck_assert_int_eq(tdei_keypair_generate(&kp), 0);
    ck_assert_int_eq(
        tdei_sign_tagged(sig, &kp, TDEI_TAG_TX, test_data, sizeof(test_data)),
        0);
    memcpy(pubkey, kp.pubkey, sizeof(pubkey));
    for (unsigned int bit = 0; bit < 32 * 8; bit++) {
        int rc;
        pubkey[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        rc = tdei_verify_tagged(sig, pubkey, TDEI_TAG_TX, test_data,
                                sizeof(test_data));
        ck_assert_msg(rc == TDEI_BADSIG || rc == TDEI_BADKEY,
                      "flipping public key bit %u gives %s", bit,
                      tdei_errname(rc));
        if (rc == TDEI_BADKEY) {
            ck_assert_int_ne(tdei_pubkey_check(pubkey), 0);
            not_on_curve++;
        }
        pubkey[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* About half of all x coordinates are not on the curve. */
    ck_assert_int_gt(not_on_curve, 0);
    tdei_keypair_wipe(&kp);
}
END_TEST

START_TEST(test_signature_under_other_key_fails)
{
    struct tdei_keypair a;
    struct tdei_keypair b;
    uint8_t sig[64];

    ck_assert_int_eq(tdei_keypair_generate(&a), 0);
    ck_assert_int_eq(tdei_keypair_generate(&b), 0);
    ck_assert_mem_ne(a.pubkey, b.pubkey, 32);
    ck_assert_int_eq(
        tdei_sign_tagged(sig, &a, TDEI_TAG_TX, test_data, sizeof(test_data)),
        0);
    ck_assert_int_eq(tdei_verify_tagged(sig, b.pubkey, TDEI_TAG_TX, test_data,
                                        sizeof(test_data)),
                     TDEI_BADSIG);
    tdei_keypair_wipe(&a);
    tdei_keypair_wipe(&b);
}
END_TEST

START_TEST(test_fresh_aux_gives_fresh_signatures)
{
    struct tdei_keypair kp;
    uint8_t sig1[64];
    uint8_t sig2[64];

    ck_assert_int_eq(tdei_keypair_generate(&kp), 0);
    ck_assert_int_eq(
        tdei_sign_raw(sig1, &kp, test_data, sizeof(test_data), NULL), 0);
    ck_assert_int_eq(
        tdei_sign_raw(sig2, &kp, test_data, sizeof(test_data), NULL), 0);
    ck_assert_mem_ne(sig1, sig2, 64);
    ck_assert_int_eq(
        tdei_verify_raw(sig1, test_data, sizeof(test_data), kp.pubkey), 0);
    ck_assert_int_eq(
        tdei_verify_raw(sig2, test_data, sizeof(test_data), kp.pubkey), 0);
    tdei_keypair_wipe(&kp);
}
END_TEST

/* ---- invalid secrets -------------------------------------------------- */

static int all_bytes(const uint8_t *p, size_t len, uint8_t value)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != value) {
            return 0;
        }
    }
    return 1;
}

static void check_secret_rejected(const uint8_t secret[32])
{
    struct tdei_keypair kp;

    memset(&kp, 0xa5, sizeof(kp));
    ck_assert_int_eq(tdei_keypair_from_secret(&kp, secret), TDEI_BADKEY);
    ck_assert(all_bytes((const uint8_t *)&kp, sizeof(kp), 0));
}

START_TEST(test_secret_zero_rejected)
{
    uint8_t secret[32] = {0};

    check_secret_rejected(secret);
}
END_TEST

START_TEST(test_secret_order_and_above_rejected)
{
    uint8_t secret[32];

    testutil_unhex(secret, sizeof(secret), order_hex);
    check_secret_rejected(secret);
    secret[31]++; /* n + 1 */
    check_secret_rejected(secret);
    memset(secret, 0xff, sizeof(secret));
    check_secret_rejected(secret);
}
END_TEST

START_TEST(test_secret_order_minus_one_accepted)
{
    struct tdei_keypair kp;
    uint8_t secret[32];
    uint8_t one[32] = {0};
    struct tdei_keypair kp_one;

    /* n - 1 = -1 mod n: the public key is -G, whose x is G's x. */
    testutil_unhex(secret, sizeof(secret), order_hex);
    secret[31]--;
    one[31] = 1;
    ck_assert_int_eq(tdei_keypair_from_secret(&kp, secret), 0);
    ck_assert_int_eq(tdei_keypair_from_secret(&kp_one, one), 0);
    ck_assert_mem_eq(kp.pubkey, kp_one.pubkey, 32);
    tdei_keypair_wipe(&kp);
    tdei_keypair_wipe(&kp_one);
}
END_TEST

START_TEST(test_keypair_from_own_secret_aliases)
{
    struct tdei_keypair kp;
    uint8_t pubkey[32];

    ck_assert_int_eq(tdei_keypair_generate(&kp), 0);
    memcpy(pubkey, kp.pubkey, sizeof(pubkey));
    memset(kp.pubkey, 0, sizeof(kp.pubkey));
    ck_assert_int_eq(tdei_keypair_from_secret(&kp, kp.secret), 0);
    ck_assert_mem_eq(kp.pubkey, pubkey, 32);
    tdei_keypair_wipe(&kp);
    ck_assert(all_bytes((const uint8_t *)&kp, sizeof(kp), 0));
}
END_TEST

START_TEST(test_sign_with_invalid_keypair_refused)
{
    struct tdei_keypair kp;
    struct tdei_keypair other;
    uint8_t sig[64];

    /* A zero secret. */
    memset(&kp, 0, sizeof(kp));
    memset(sig, 0xa5, sizeof(sig));
    ck_assert_int_eq(
        tdei_sign_raw(sig, &kp, test_data, sizeof(test_data), NULL),
        TDEI_BADKEY);
    ck_assert(all_bytes(sig, sizeof(sig), 0));
    /* Halves of two different pairs. */
    ck_assert_int_eq(tdei_keypair_generate(&kp), 0);
    ck_assert_int_eq(tdei_keypair_generate(&other), 0);
    memcpy(kp.pubkey, other.pubkey, sizeof(kp.pubkey));
    memset(sig, 0xa5, sizeof(sig));
    ck_assert_int_eq(
        tdei_sign_tagged(sig, &kp, TDEI_TAG_TX, test_data, sizeof(test_data)),
        TDEI_BADKEY);
    ck_assert(all_bytes(sig, sizeof(sig), 0));
    tdei_keypair_wipe(&kp);
    tdei_keypair_wipe(&other);
}
END_TEST

START_TEST(test_crypto_init_is_idempotent)
{
    ck_assert_int_eq(tdei_crypto_init(), 0);
    ck_assert_int_eq(tdei_crypto_init(), 0);
}
END_TEST

/* ---- X25519 ----------------------------------------------------------- */

START_TEST(test_x25519_generate_and_derive_agree)
{
    struct tdei_enc_keypair a;
    struct tdei_enc_keypair b;
    struct tdei_enc_keypair again;
    uint8_t ab[32];
    uint8_t ba[32];

    ck_assert_int_eq(tdei_enc_keypair_generate(&a), 0);
    ck_assert_int_eq(tdei_enc_keypair_generate(&b), 0);
    ck_assert_mem_ne(a.pubkey, b.pubkey, 32);
    ck_assert_int_eq(tdei_enc_keypair_from_secret(&again, a.secret), 0);
    ck_assert_mem_eq(again.pubkey, a.pubkey, 32);
    ck_assert_mem_eq(again.secret, a.secret, 32);
    /* Diffie-Hellman agrees both ways. */
    ck_assert_int_eq(crypto_scalarmult(ab, a.secret, b.pubkey), 0);
    ck_assert_int_eq(crypto_scalarmult(ba, b.secret, a.pubkey), 0);
    ck_assert_mem_eq(ab, ba, 32);
    /* Derivation in place. */
    memset(again.pubkey, 0, sizeof(again.pubkey));
    ck_assert_int_eq(tdei_enc_keypair_from_secret(&again, again.secret), 0);
    ck_assert_mem_eq(again.pubkey, a.pubkey, 32);
    tdei_enc_keypair_wipe(&a);
    tdei_enc_keypair_wipe(&b);
    tdei_enc_keypair_wipe(&again);
    ck_assert(all_bytes((const uint8_t *)&a, sizeof(a), 0));
}
END_TEST

START_TEST(test_x25519_rfc7748_vector)
{
    /* RFC 7748 section 6.1: Alice's key pair. */
    struct tdei_enc_keypair kp;
    uint8_t secret[32];
    uint8_t expected[32];

    testutil_unhex(secret, sizeof(secret),
                   "77076d0a7318a57d3c16c17251b26645"
                   "df4c2f87ebc0992ab177fba51db92c2a");
    testutil_unhex(expected, sizeof(expected),
                   "8520f0098930a754748b7ddcb43ef75a"
                   "0dbf3a0d26381af4eba4a98eaa9b4e6a");
    ck_assert_int_eq(tdei_enc_keypair_from_secret(&kp, secret), 0);
    ck_assert_mem_eq(kp.pubkey, expected, 32);
    tdei_enc_keypair_wipe(&kp);
}
END_TEST

static Suite *keys_suite(void)
{
    Suite *suite = suite_create("keys");
    TCase *tc;

    tc = tcase_create("bip340_vectors");
    tcase_add_checked_fixture(tc, testutil_leak_setup, testutil_leak_teardown);
    tcase_add_test(tc, test_bip340_vectors);
    suite_add_tcase(suite, tc);

    tc = tcase_create("tagged_signatures");
    tcase_add_checked_fixture(tc, testutil_leak_setup, testutil_leak_teardown);
    tcase_add_test(tc, test_tagged_sign_verify_round_trip);
    tcase_add_test(tc, test_parsed_key_verifies_as_the_key);
    tcase_add_test(tc, test_tagged_signature_is_raw_signature_of_tagged_hash);
    tcase_add_test(tc, test_tag_mismatch_fails);
    tcase_add_test(tc, test_fresh_aux_gives_fresh_signatures);
    suite_add_tcase(suite, tc);

    tc = tcase_create("tampering");
    tcase_add_checked_fixture(tc, testutil_leak_setup, testutil_leak_teardown);
    tcase_add_test(tc, test_every_signature_bit_flip_fails);
    tcase_add_test(tc, test_every_message_bit_flip_fails);
    tcase_add_test(tc, test_every_public_key_bit_flip_fails);
    tcase_add_test(tc, test_signature_under_other_key_fails);
    suite_add_tcase(suite, tc);

    tc = tcase_create("secrets");
    tcase_add_checked_fixture(tc, testutil_leak_setup, testutil_leak_teardown);
    tcase_add_test(tc, test_secret_zero_rejected);
    tcase_add_test(tc, test_secret_order_and_above_rejected);
    tcase_add_test(tc, test_secret_order_minus_one_accepted);
    tcase_add_test(tc, test_keypair_from_own_secret_aliases);
    tcase_add_test(tc, test_sign_with_invalid_keypair_refused);
    tcase_add_test(tc, test_crypto_init_is_idempotent);
    suite_add_tcase(suite, tc);

    tc = tcase_create("x25519");
    tcase_add_checked_fixture(tc, testutil_leak_setup, testutil_leak_teardown);
    tcase_add_test(tc, test_x25519_generate_and_derive_agree);
    tcase_add_test(tc, test_x25519_rfc7748_vector);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) { return testutil_run(keys_suite()); }
