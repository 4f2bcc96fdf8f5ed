/* Tests of stream record sealing, batch roots and key wrapping
 * (node/stream/records.h): nonces recomputed here from the definition,
 * round trips, every refusal (a record moved to another seq or stream, a
 * flipped bit, a wrong key, a short record), the incremental root against
 * merkle_root for every size up to 70, and the subscriber's batch check
 * with each way a batch can be wrong. */
#include "testutil.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/merkle.h"
#include "stream/records.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define STREAM "press-feed"
#define BATCH_MAX 16u

static char errmsg[TDEI_ERRMSG_SIZE];
static uint8_t key[STREAM_KEY_SIZE];
static uint8_t sub_key[STREAM_KEY_SIZE];
static uint8_t xid[32];

/* A batch of BATCH_MAX records sealed from seq SEQ0. */
#define SEQ0 1000u
static uint8_t sealed[BATCH_MAX][64 + STREAM_RECORD_OVERHEAD];
static ProtobufCBinaryData recs[BATCH_MAX];
static uint64_t ts[BATCH_MAX];
static char data[BATCH_MAX][64];

static void setup(void)
{
    testutil_leak_setup();
    errmsg[0] = '\0';
    memset(key, 0x42, sizeof(key));
    memset(sub_key, 0x17, sizeof(sub_key));
    for (size_t i = 0; i < sizeof(xid); i++) {
        xid[i] = (uint8_t)i;
    }
    for (size_t i = 0; i < BATCH_MAX; i++) {
        size_t len = (size_t)snprintf(data[i], sizeof(data[i]),
                                      "{\"t\":%zu,\"v\":%zu}", i, i * 7);
        ts[i] = 1700000000000ull + i * 3;
        ck_assert_int_eq(stream_record_seal(sealed[i], STREAM, SEQ0 + i, ts[i],
                                            (const uint8_t *)data[i], len, key,
                                            errmsg),
                         0);
        recs[i].data = sealed[i];
        recs[i].len = len + STREAM_RECORD_OVERHEAD;
    }
}

static void teardown(void) { testutil_leak_teardown(); }

static void u64_be(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* ---- nonces -------------------------------------------------------------- */

START_TEST(test_record_nonce_is_the_tagged_hash_of_stream_and_seq)
{
    uint8_t tag[32];
    uint8_t want[32];
    uint8_t nonce[STREAM_NONCE_SIZE];
    uint8_t seq_be[8];
    uint8_t len8 = (uint8_t)strlen(STREAM);
    crypto_hash_sha256_state st;

    /* SHA256(SHA256(tag) || SHA256(tag) || u8 len || id || u64 BE seq),
     * written out with libsodium alone. */
    crypto_hash_sha256(tag, (const uint8_t *)"tdei/record", 11);
    u64_be(seq_be, 0x0102030405060708ull);
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, tag, 32);
    crypto_hash_sha256_update(&st, tag, 32);
    crypto_hash_sha256_update(&st, &len8, 1);
    crypto_hash_sha256_update(&st, (const uint8_t *)STREAM, len8);
    crypto_hash_sha256_update(&st, seq_be, 8);
    crypto_hash_sha256_final(&st, want);
    stream_record_nonce(nonce, STREAM, 0x0102030405060708ull);
    ck_assert_mem_eq(nonce, want, STREAM_NONCE_SIZE);
}
END_TEST

START_TEST(test_key_nonce_is_the_tagged_hash_of_exchange_and_seq)
{
    uint8_t tag[32];
    uint8_t want[32];
    uint8_t nonce[STREAM_NONCE_SIZE];
    uint8_t seq_be[8];
    crypto_hash_sha256_state st;

    crypto_hash_sha256(tag, (const uint8_t *)"tdei/batch-key", 14);
    u64_be(seq_be, 77);
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, tag, 32);
    crypto_hash_sha256_update(&st, tag, 32);
    crypto_hash_sha256_update(&st, xid, 32);
    crypto_hash_sha256_update(&st, seq_be, 8);
    crypto_hash_sha256_final(&st, want);
    stream_key_nonce(nonce, xid, 77);
    ck_assert_mem_eq(nonce, want, STREAM_NONCE_SIZE);
}
END_TEST

/* ---- records ------------------------------------------------------------- */

START_TEST(test_record_round_trip)
{
    uint8_t out[64 + STREAM_TAG_SIZE];
    size_t len;
    uint64_t t;

    for (size_t i = 0; i < BATCH_MAX; i++) {
        ck_assert_int_eq(stream_record_open(out, &len, &t, recs[i].data,
                                            recs[i].len, STREAM, SEQ0 + i, key,
                                            errmsg),
                         0);
        ck_assert_uint_eq(len, strlen(data[i]));
        ck_assert_mem_eq(out, data[i], len);
        ck_assert_uint_eq(t, ts[i]);
    }
}
END_TEST

START_TEST(test_record_sealed_differs_from_plaintext_and_is_exact_size)
{
    uint8_t out[1 + STREAM_RECORD_OVERHEAD];
    uint8_t one = 'x';

    ck_assert_int_eq(
        stream_record_seal(out, STREAM, 0, 5, &one, 1, key, errmsg), 0);
    /* No 8 plaintext bytes show through, and the size is data + 24. */
    for (size_t at = 0; at + 8 <= recs[3].len; at++) {
        ck_assert_int_ne(memcmp(sealed[3] + at, data[3], 8), 0);
    }
    ck_assert_uint_eq(recs[3].len, strlen(data[3]) + 24u);
}
END_TEST

START_TEST(test_record_moved_to_another_seq_is_refused)
{
    uint8_t out[64 + STREAM_TAG_SIZE];
    size_t len = 99;
    uint64_t t = 99;

    ck_assert_int_eq(stream_record_open(out, &len, &t, recs[2].data,
                                        recs[2].len, STREAM, SEQ0 + 3, key,
                                        errmsg),
                     TDEI_BADSIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "record 1003 of press-feed"));
    ck_assert_uint_eq(len, 0);
    ck_assert_uint_eq(t, 0);
}
END_TEST

START_TEST(test_record_of_another_stream_is_refused)
{
    uint8_t out[64 + STREAM_TAG_SIZE];
    size_t len;
    uint64_t t;

    ck_assert_int_eq(stream_record_open(out, &len, &t, recs[2].data,
                                        recs[2].len, "press-feee", SEQ0 + 2,
                                        key, errmsg),
                     TDEI_BADSIG);
}
END_TEST

START_TEST(test_record_with_a_flipped_bit_is_refused)
{
    uint8_t out[64 + STREAM_TAG_SIZE];
    size_t len;
    uint64_t t;

    /* Every byte position: ts, data and tag. */
    for (size_t at = 0; at < recs[5].len; at++) {
        sealed[5][at] ^= 0x01;
        ck_assert_int_eq(stream_record_open(out, &len, &t, recs[5].data,
                                            recs[5].len, STREAM, SEQ0 + 5, key,
                                            errmsg),
                         TDEI_BADSIG);
        sealed[5][at] ^= 0x01;
    }
    ck_assert_int_eq(stream_record_open(out, &len, &t, recs[5].data,
                                        recs[5].len, STREAM, SEQ0 + 5, key,
                                        errmsg),
                     0);
}
END_TEST

START_TEST(test_record_under_a_wrong_key_is_refused)
{
    uint8_t out[64 + STREAM_TAG_SIZE];
    uint8_t other[STREAM_KEY_SIZE];
    size_t len;
    uint64_t t;

    memcpy(other, key, sizeof(other));
    other[31] ^= 0x80;
    ck_assert_int_eq(stream_record_open(out, &len, &t, recs[0].data,
                                        recs[0].len, STREAM, SEQ0, other,
                                        errmsg),
                     TDEI_BADSIG);
}
END_TEST

START_TEST(test_record_too_short_or_too_long_is_malformed)
{
    uint8_t out[64];
    size_t len;
    uint64_t t;

    ck_assert_int_eq(stream_record_open(out, &len, &t, recs[0].data,
                                        STREAM_RECORD_OVERHEAD - 1, STREAM,
                                        SEQ0, key, errmsg),
                     TDEI_MALFORMED);
    ck_assert_ptr_nonnull(strstr(errmsg, "has 23 bytes"));
    ck_assert_int_eq(stream_record_open(out, &len, &t, recs[0].data,
                                        STREAM_SEALED_MAX + 1, STREAM, SEQ0,
                                        key, errmsg),
                     TDEI_MALFORMED);
}
END_TEST

START_TEST(test_record_data_over_the_limit_is_refused)
{
    uint8_t *big = tdei_malloc(STREAM_SEALED_MAX + 1);
    uint8_t *out = tdei_malloc(STREAM_SEALED_MAX + 1);

    ck_assert_ptr_nonnull(big);
    ck_assert_ptr_nonnull(out);
    memset(big, 'a', STREAM_RECORD_DATA_MAX + 1);
    ck_assert_int_eq(stream_record_seal(out, STREAM, 1, 1, big,
                                        STREAM_RECORD_DATA_MAX + 1, key,
                                        errmsg),
                     TDEI_TOOBIG);
    /* The largest record seals. */
    ck_assert_int_eq(stream_record_seal(out, STREAM, 1, 1, big,
                                        STREAM_RECORD_DATA_MAX, key, errmsg),
                     0);
    tdei_free(big);
    tdei_free(out);
}
END_TEST

/* ---- roots --------------------------------------------------------------- */

START_TEST(test_incremental_root_equals_merkle_root)
{
    uint8_t leaves[70][MERKLE_HASH_SIZE];
    uint8_t bytes[70][3];
    uint8_t want[32];
    uint8_t got[32];

    for (size_t n = 0; n <= 70; n++) {
        struct stream_root r;

        stream_root_init(&r);
        for (size_t i = 0; i < n; i++) {
            bytes[i][0] = (uint8_t)i;
            bytes[i][1] = (uint8_t)(i * 3);
            bytes[i][2] = 0xaa;
            merkle_leaf_hash(leaves[i], bytes[i], sizeof(bytes[i]));
            stream_root_add(&r, bytes[i], sizeof(bytes[i]));
        }
        merkle_root(want, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves, n);
        stream_root_final(&r, got);
        ck_assert_msg(memcmp(want, got, 32) == 0, "root of %zu leaves", n);
    }
}
END_TEST

START_TEST(test_batch_root_changes_with_any_record)
{
    uint8_t a[32];
    uint8_t b[32];
    ProtobufCBinaryData swap;

    stream_batch_root(a, recs, BATCH_MAX);
    sealed[9][4] ^= 0x10;
    stream_batch_root(b, recs, BATCH_MAX);
    ck_assert_mem_ne(a, b, 32);
    sealed[9][4] ^= 0x10;
    swap = recs[0];
    recs[0] = recs[1];
    recs[1] = swap;
    stream_batch_root(b, recs, BATCH_MAX);
    ck_assert_mem_ne(a, b, 32);
    stream_batch_root(b, recs, BATCH_MAX - 1);
    ck_assert_mem_ne(a, b, 32);
}
END_TEST

/* ---- keys ---------------------------------------------------------------- */

START_TEST(test_key_wrap_round_trip)
{
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];
    uint8_t out[STREAM_KEY_SIZE];

    stream_key_wrap(wrapped, key, sub_key, xid, SEQ0);
    ck_assert_mem_ne(wrapped, key, STREAM_KEY_SIZE);
    ck_assert_int_eq(stream_key_unwrap(out, wrapped, sizeof(wrapped), sub_key,
                                       xid, SEQ0, errmsg),
                     0);
    ck_assert_mem_eq(out, key, STREAM_KEY_SIZE);
}
END_TEST

START_TEST(test_key_unwrap_refuses_other_key_seq_exchange_and_length)
{
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];
    uint8_t out[STREAM_KEY_SIZE];
    uint8_t other[STREAM_KEY_SIZE];
    uint8_t zero[STREAM_KEY_SIZE] = {0};

    stream_key_wrap(wrapped, key, sub_key, xid, SEQ0);
    memcpy(other, sub_key, sizeof(other));
    other[0] ^= 1;
    ck_assert_int_eq(stream_key_unwrap(out, wrapped, sizeof(wrapped), other,
                                       xid, SEQ0, errmsg),
                     TDEI_BADKEY);
    ck_assert_mem_eq(out, zero, sizeof(zero));
    ck_assert_int_eq(stream_key_unwrap(out, wrapped, sizeof(wrapped), sub_key,
                                       xid, SEQ0 + 1, errmsg),
                     TDEI_BADKEY);
    xid[31] ^= 1;
    ck_assert_int_eq(stream_key_unwrap(out, wrapped, sizeof(wrapped), sub_key,
                                       xid, SEQ0, errmsg),
                     TDEI_BADKEY);
    xid[31] ^= 1;
    ck_assert_int_eq(stream_key_unwrap(out, wrapped, sizeof(wrapped) - 1,
                                       sub_key, xid, SEQ0, errmsg),
                     TDEI_MALFORMED);
    wrapped[40] ^= 4;
    ck_assert_int_eq(stream_key_unwrap(out, wrapped, sizeof(wrapped), sub_key,
                                       xid, SEQ0, errmsg),
                     TDEI_BADKEY);
}
END_TEST

/* ---- the subscriber's batch check ---------------------------------------- */

static struct stream_batch_expect expect_of_batch(uint64_t paid)
{
    struct stream_batch_expect e = {.stream = STREAM,
                                    .seq_first = SEQ0,
                                    .count = BATCH_MAX,
                                    .paid = paid,
                                    .first_ts = ts[0],
                                    .last_ts = ts[BATCH_MAX - 1]};

    stream_batch_root(e.root, recs, BATCH_MAX);
    return e;
}

static uint8_t buf[BATCH_MAX * (64 + STREAM_RECORD_OVERHEAD)];
static struct stream_plain plain[BATCH_MAX];

static int batch_open(const struct stream_batch_expect *e,
                      const uint8_t *wrapped)
{
    return stream_batch_open(e, xid, recs, BATCH_MAX, NULL, 0, wrapped,
                             STREAM_WRAPPED_KEY_SIZE, sub_key, plain, buf,
                             sizeof(buf), errmsg);
}

/* Open the first @n records only, with @proof. */
static int prefix_open(const struct stream_batch_expect *e,
                       const uint8_t *wrapped, size_t n,
                       const struct merkle_consistency *proof)
{
    return stream_batch_open(
        e, xid, recs, n, (const uint8_t(*)[MERKLE_HASH_SIZE])proof->path,
        proof->count, wrapped, STREAM_WRAPPED_KEY_SIZE, sub_key, plain, buf,
        sizeof(buf), errmsg);
}

START_TEST(test_batch_open_gives_every_paid_record)
{
    struct stream_batch_expect e = expect_of_batch(BATCH_MAX);
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];

    stream_key_wrap(wrapped, key, sub_key, xid, SEQ0);
    ck_assert_int_eq(batch_open(&e, wrapped), 0);
    for (size_t i = 0; i < BATCH_MAX; i++) {
        ck_assert_uint_eq(plain[i].ts_ms, ts[i]);
        ck_assert_uint_eq(plain[i].len, strlen(data[i]));
        ck_assert_mem_eq(plain[i].data, data[i], plain[i].len);
    }
}
END_TEST

START_TEST(test_batch_open_opens_only_what_was_paid)
{
    struct stream_batch_expect e = expect_of_batch(5);
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];

    memset(plain, 0, sizeof(plain));
    stream_key_wrap(wrapped, key, sub_key, xid, SEQ0);
    ck_assert_int_eq(batch_open(&e, wrapped), 0);
    ck_assert_uint_eq(plain[4].ts_ms, ts[4]);
    ck_assert_ptr_null(plain[5].data);
    ck_assert_uint_eq(plain[5].ts_ms, 0);
}
END_TEST

/* A subscription that paid for 5 of the 16 records gets those 5 and the
 * consistency proof from their tree to the batch root: they open, and
 * nothing else of the batch is needed. */
START_TEST(test_batch_prefix_with_its_proof_opens)
{
    struct stream_batch_expect e = expect_of_batch(5);
    struct merkle_consistency proof;
    struct merkle_consistency none;
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];

    memset(&none, 0, sizeof(none));
    stream_key_wrap(wrapped, key, sub_key, xid, SEQ0);
    ck_assert_int_eq(stream_prefix_prove(&proof, recs, BATCH_MAX, 5), 0);
    ck_assert_uint_gt(proof.count, 0);
    ck_assert_int_eq(prefix_open(&e, wrapped, 5, &proof), 0);
    ck_assert_uint_eq(plain[4].ts_ms, ts[4]);
    ck_assert_mem_eq(plain[4].data, data[4], plain[4].len);
    /* Without the proof, or with a hash of it changed: refused. */
    ck_assert_int_eq(prefix_open(&e, wrapped, 5, &none), TDEI_BADPROOF);
    proof.path[0][3] ^= 0x20;
    ck_assert_int_eq(prefix_open(&e, wrapped, 5, &proof), TDEI_BADPROOF);
    ck_assert_ptr_nonnull(strstr(errmsg, "first 5 records"));
    proof.path[0][3] ^= 0x20;
    /* A record of the prefix changed: refused. */
    sealed[2][10] ^= 0x01;
    ck_assert_int_eq(prefix_open(&e, wrapped, 5, &proof), TDEI_BADPROOF);
    sealed[2][10] ^= 0x01;
    /* Not the paid count: refused. */
    ck_assert_int_eq(prefix_open(&e, wrapped, 4, &proof), TDEI_MALFORMED);
    ck_assert_ptr_nonnull(strstr(errmsg, "paid for 5"));
    /* A whole batch comes without a proof. */
    e.paid = BATCH_MAX;
    ck_assert_int_eq(
        stream_batch_open(&e, xid, recs, BATCH_MAX,
                          (const uint8_t(*)[MERKLE_HASH_SIZE])proof.path, 1,
                          wrapped, STREAM_WRAPPED_KEY_SIZE, sub_key, plain,
                          buf, sizeof(buf), errmsg),
        TDEI_MALFORMED);
    /* The proof needs a real prefix. */
    ck_assert_int_eq(stream_prefix_prove(&proof, recs, BATCH_MAX, BATCH_MAX),
                     TDEI_INVAL);
    ck_assert_int_eq(stream_prefix_prove(&proof, recs, BATCH_MAX, 0),
                     TDEI_INVAL);
}
END_TEST

START_TEST(test_batch_with_a_flipped_bit_fails_its_root)
{
    struct stream_batch_expect e = expect_of_batch(BATCH_MAX);
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];

    stream_key_wrap(wrapped, key, sub_key, xid, SEQ0);
    sealed[7][10] ^= 0x01;
    ck_assert_int_eq(batch_open(&e, wrapped), TDEI_BADPROOF);
    ck_assert_ptr_nonnull(strstr(errmsg, "batch root on the ledger"));
    ck_assert_ptr_null(plain[0].data);
}
END_TEST

START_TEST(test_batch_with_a_record_moved_and_root_remade_is_refused)
{
    /* An owner that swaps two records and publishes the root of the
     * swapped batch: the root matches, but the records do not open at
     * their new seqs. */
    struct stream_batch_expect e;
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];
    ProtobufCBinaryData swap = recs[2];

    recs[2] = recs[3];
    recs[3] = swap;
    e = expect_of_batch(BATCH_MAX);
    stream_key_wrap(wrapped, key, sub_key, xid, SEQ0);
    ck_assert_int_eq(batch_open(&e, wrapped), TDEI_BADSIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "record 1002 of press-feed"));
}
END_TEST

START_TEST(test_batch_with_a_wrong_count_is_malformed)
{
    struct stream_batch_expect e = expect_of_batch(BATCH_MAX);
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];

    stream_key_wrap(wrapped, key, sub_key, xid, SEQ0);
    e.count = BATCH_MAX + 1;
    e.paid = BATCH_MAX - 1;
    ck_assert_int_eq(batch_open(&e, wrapped), TDEI_MALFORMED);
    ck_assert_ptr_nonnull(strstr(errmsg, "has 16 records"));
}
END_TEST

START_TEST(test_batch_with_a_wrong_subscription_key_is_refused)
{
    struct stream_batch_expect e = expect_of_batch(BATCH_MAX);
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];
    uint8_t other[STREAM_KEY_SIZE];

    memset(other, 0x99, sizeof(other));
    stream_key_wrap(wrapped, key, other, xid, SEQ0);
    ck_assert_int_eq(batch_open(&e, wrapped), TDEI_BADKEY);
}
END_TEST

START_TEST(test_batch_with_a_wrong_batch_key_is_refused)
{
    struct stream_batch_expect e = expect_of_batch(BATCH_MAX);
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];
    uint8_t other[STREAM_KEY_SIZE];

    memset(other, 0x43, sizeof(other));
    stream_key_wrap(wrapped, other, sub_key, xid, SEQ0);
    ck_assert_int_eq(batch_open(&e, wrapped), TDEI_BADSIG);
}
END_TEST

START_TEST(test_batch_with_times_outside_the_append_is_refused)
{
    struct stream_batch_expect e = expect_of_batch(BATCH_MAX);
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];

    stream_key_wrap(wrapped, key, sub_key, xid, SEQ0);
    e.last_ts = ts[BATCH_MAX - 2];
    ck_assert_int_eq(batch_open(&e, wrapped), TDEI_STREAM_TIME);
    ck_assert_ptr_nonnull(strstr(errmsg, "record 1015 of press-feed"));
    e = expect_of_batch(BATCH_MAX);
    e.first_ts = ts[1];
    ck_assert_int_eq(batch_open(&e, wrapped), TDEI_STREAM_TIME);
    ck_assert_ptr_nonnull(strstr(errmsg, "record 1000 of press-feed"));
}
END_TEST

START_TEST(test_batch_with_times_going_backwards_is_refused)
{
    struct stream_batch_expect e;
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];
    size_t len = strlen(data[6]);

    /* Record 6 sealed again with a time before record 5's. */
    ck_assert_int_eq(stream_record_seal(sealed[6], STREAM, SEQ0 + 6, ts[5] - 1,
                                        (const uint8_t *)data[6], len, key,
                                        errmsg),
                     0);
    e = expect_of_batch(BATCH_MAX);
    stream_key_wrap(wrapped, key, sub_key, xid, SEQ0);
    ck_assert_int_eq(batch_open(&e, wrapped), TDEI_STREAM_TIME);
    ck_assert_ptr_nonnull(strstr(errmsg, "record 1006"));
    ck_assert_ptr_nonnull(strstr(errmsg, "do not go backwards"));
}
END_TEST

static Suite *records_suite(void)
{
    Suite *s = suite_create("records");
    TCase *tc;

#define ADD(name, fn)                                                          \
    tc = tcase_create(name);                                                   \
    tcase_add_checked_fixture(tc, setup, teardown);                            \
    tcase_add_test(tc, fn);                                                    \
    suite_add_tcase(s, tc)

    ADD("record_nonce", test_record_nonce_is_the_tagged_hash_of_stream_and_seq);
    ADD("key_nonce", test_key_nonce_is_the_tagged_hash_of_exchange_and_seq);
    ADD("round_trip", test_record_round_trip);
    ADD("sealed_shape",
        test_record_sealed_differs_from_plaintext_and_is_exact_size);
    ADD("moved", test_record_moved_to_another_seq_is_refused);
    ADD("other_stream", test_record_of_another_stream_is_refused);
    ADD("flipped_bit", test_record_with_a_flipped_bit_is_refused);
    ADD("wrong_key", test_record_under_a_wrong_key_is_refused);
    ADD("lengths", test_record_too_short_or_too_long_is_malformed);
    ADD("data_limit", test_record_data_over_the_limit_is_refused);
    ADD("incremental_root", test_incremental_root_equals_merkle_root);
    ADD("root_changes", test_batch_root_changes_with_any_record);
    ADD("key_wrap", test_key_wrap_round_trip);
    ADD("key_unwrap_refusals",
        test_key_unwrap_refuses_other_key_seq_exchange_and_length);
    ADD("batch_open", test_batch_open_gives_every_paid_record);
    ADD("batch_paid", test_batch_open_opens_only_what_was_paid);
    ADD("batch_prefix", test_batch_prefix_with_its_proof_opens);
    ADD("batch_flipped_bit", test_batch_with_a_flipped_bit_fails_its_root);
    ADD("batch_moved",
        test_batch_with_a_record_moved_and_root_remade_is_refused);
    ADD("batch_count", test_batch_with_a_wrong_count_is_malformed);
    ADD("batch_sub_key", test_batch_with_a_wrong_subscription_key_is_refused);
    ADD("batch_key", test_batch_with_a_wrong_batch_key_is_refused);
    ADD("batch_times", test_batch_with_times_outside_the_append_is_refused);
    ADD("batch_backwards", test_batch_with_times_going_backwards_is_refused);
#undef ADD
    return s;
}

int main(void) { return testutil_run(records_suite()); }
