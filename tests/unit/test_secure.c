/* Tests of node/p2p/secure: the handshake between two in-memory sides,
 * every refusal of a Hello or an Auth, and sealed frames that must not
 * open once replayed, reordered, dropped, tampered or truncated. */
#include "testutil.h"

#include "api/frame.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hash.h"
#include "p2p.pb-c.h"
#include "p2p/secure.h"

#include <sodium.h>
#include <string.h>

#define CHAIN "test-chain"
#define MAX_FRAME 4096u

struct pair {
    struct tdei_keypair ka, kb; /* node keys of A (initiator) and B */
    struct secure_session a, b;
};

static struct pair fx;

static void pair_setup(void)
{
    char errmsg[TDEI_ERRMSG_SIZE];

    testutil_leak_setup();
    ck_assert_int_eq(tdei_keypair_generate(&fx.ka), 0);
    ck_assert_int_eq(tdei_keypair_generate(&fx.kb), 0);
    ck_assert_int_eq(secure_init(&fx.a, SECURE_INITIATOR, CHAIN, &fx.ka,
                                 MAX_FRAME, errmsg),
                     0);
    ck_assert_int_eq(secure_init(&fx.b, SECURE_RESPONDER, CHAIN, &fx.kb,
                                 MAX_FRAME, errmsg),
                     0);
}

static void pair_teardown(void)
{
    secure_close(&fx.a);
    secure_close(&fx.b);
    testutil_leak_teardown();
}

/* Hand the Hello of @from to @to; returns secure_hello_read's code. */
static int pass_hello(struct secure_session *from, struct secure_session *to)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *frame;
    size_t size;
    int rc;

    ck_assert_int_eq(secure_hello_encode(from, &frame, &size, errmsg), 0);
    ck_assert_uint_eq(frame_header_read(frame), size - FRAME_HEADER_SIZE);
    rc = secure_hello_read(to, frame + FRAME_HEADER_SIZE,
                           size - FRAME_HEADER_SIZE, errmsg);
    tdei_free(frame);
    return rc;
}

/* Both sides seal their Auth, then each opens the other's. */
static void handshake(void)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *fa;
    uint8_t *fb;
    size_t sa;
    size_t sb;

    ck_assert_int_eq(pass_hello(&fx.a, &fx.b), 0);
    ck_assert_int_eq(pass_hello(&fx.b, &fx.a), 0);
    ck_assert_int_eq(secure_auth_seal(&fx.a, &fa, &sa, errmsg), 0);
    ck_assert_int_eq(secure_auth_seal(&fx.b, &fb, &sb, errmsg), 0);
    ck_assert_int_eq(secure_auth_open(&fx.b, fa + FRAME_HEADER_SIZE,
                                      sa - FRAME_HEADER_SIZE, errmsg),
                     0);
    ck_assert_int_eq(secure_auth_open(&fx.a, fb + FRAME_HEADER_SIZE,
                                      sb - FRAME_HEADER_SIZE, errmsg),
                     0);
    tdei_free(fa);
    tdei_free(fb);
}

/* A Hello body from fields the test chooses. */
static size_t hello_custom(uint8_t *out, uint32_t version, const char *chain,
                           const uint8_t *eph, size_t eph_len,
                           const uint8_t *key, size_t key_len)
{
    Tdei__P2p__Hello h = TDEI__P2P__HELLO__INIT;

    h.version = version;
    h.chain_id = (char *)chain;
    h.ephemeral_key.data = (uint8_t *)eph;
    h.ephemeral_key.len = eph_len;
    h.node_key.data = (uint8_t *)key;
    h.node_key.len = key_len;
    ck_assert_uint_le(protobuf_c_message_get_packed_size(&h.base), 512);
    return protobuf_c_message_pack(&h.base, out);
}

static int read_custom(uint32_t version, const char *chain, const uint8_t *eph,
                       size_t eph_len, const uint8_t *key, size_t key_len)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t body[512];
    size_t len = hello_custom(body, version, chain, eph, eph_len, key, key_len);
    int rc = secure_hello_read(&fx.b, body, len, errmsg);

    if (rc != 0) {
        ck_assert_uint_gt(strlen(errmsg), 0);
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Handshake
 * ------------------------------------------------------------------------ */

START_TEST(test_handshake_completes_with_matching_keys)
{
    handshake();
    ck_assert_int_eq(fx.a.state, SECURE_STATE_OPEN);
    ck_assert_int_eq(fx.b.state, SECURE_STATE_OPEN);
    ck_assert_mem_eq(secure_peer_key(&fx.a), fx.kb.pubkey, 32);
    ck_assert_mem_eq(secure_peer_key(&fx.b), fx.ka.pubkey, 32);
    ck_assert_mem_eq(fx.a.tx_key, fx.b.rx_key, SECURE_KEY_SIZE);
    ck_assert_mem_eq(fx.a.rx_key, fx.b.tx_key, SECURE_KEY_SIZE);
    ck_assert_int_ne(memcmp(fx.a.tx_key, fx.a.rx_key, SECURE_KEY_SIZE), 0);
}
END_TEST

START_TEST(test_hello_refused_on_other_chain)
{
    ck_assert_int_eq(read_custom(1, "other-chain", fx.a.eph_public, 32,
                                 fx.ka.pubkey, 32),
                     TDEI_CHAIN_ID);
    ck_assert_int_eq(fx.b.state, SECURE_STATE_DEAD);
}
END_TEST

START_TEST(test_hello_refused_on_other_version)
{
    ck_assert_int_eq(
        read_custom(2, CHAIN, fx.a.eph_public, 32, fx.ka.pubkey, 32),
        TDEI_VERSION);
}
END_TEST

START_TEST(test_hello_refused_on_key_lengths)
{
    ck_assert_int_eq(
        read_custom(1, CHAIN, fx.a.eph_public, 31, fx.ka.pubkey, 32),
        TDEI_HANDSHAKE);
}
END_TEST

START_TEST(test_hello_refused_on_node_key_length)
{
    ck_assert_int_eq(
        read_custom(1, CHAIN, fx.a.eph_public, 32, fx.ka.pubkey, 31),
        TDEI_HANDSHAKE);
}
END_TEST

START_TEST(test_hello_refused_on_non_x_only_key)
{
    uint8_t bad[32];

    /* x = 5 is not on secp256k1 (5^3 + 7 = 132 is not a square mod p). */
    memset(bad, 0, sizeof(bad));
    bad[31] = 5;
    ck_assert_int_ne(tdei_pubkey_check(bad), 0);
    ck_assert_int_eq(read_custom(1, CHAIN, fx.a.eph_public, 32, bad, 32),
                     TDEI_HANDSHAKE);
}
END_TEST

START_TEST(test_hello_refused_on_own_node_key)
{
    ck_assert_int_eq(
        read_custom(1, CHAIN, fx.a.eph_public, 32, fx.kb.pubkey, 32),
        TDEI_HANDSHAKE);
}
END_TEST

START_TEST(test_hello_refused_on_reflected_ephemeral)
{
    ck_assert_int_eq(
        read_custom(1, CHAIN, fx.b.eph_public, 32, fx.ka.pubkey, 32),
        TDEI_HANDSHAKE);
}
END_TEST

START_TEST(test_hello_refused_when_not_protobuf)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t junk[16];

    memset(junk, 0xff, sizeof(junk));
    ck_assert_int_eq(secure_hello_read(&fx.b, junk, sizeof(junk), errmsg),
                     TDEI_MALFORMED);
}
END_TEST

/* The low-order points of libsodium's blacklist, each also with the top
 * bit set (X25519 ignores it). */
static const uint8_t low_order[][32] = {
    {0},
    {1},
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
     0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
     0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
    {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
     0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
     0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};
#define LOW_ORDER_N (sizeof(low_order) / sizeof(low_order[0]))

START_TEST(test_low_order_points_give_zero_secret)
{
    /* The list itself: each point multiplies to all zeros. */
    uint8_t secret[32];
    uint8_t shared[32];

    randombytes_buf(secret, sizeof(secret));
    ck_assert_int_eq(crypto_scalarmult(shared, secret, low_order[_i]), -1);
    ck_assert(secure_low_order_var(low_order[_i]));
}
END_TEST

START_TEST(test_hello_refused_on_low_order_ephemeral)
{
    uint8_t point[32];

    memcpy(point, low_order[_i / 2], sizeof(point));
    if (_i % 2 == 1) {
        point[31] |= 0x80;
    }
    ck_assert_int_eq(read_custom(1, CHAIN, point, 32, fx.ka.pubkey, 32),
                     TDEI_HANDSHAKE);
    ck_assert_int_eq(fx.b.state, SECURE_STATE_DEAD);
}
END_TEST

START_TEST(test_random_point_is_not_low_order)
{
    ck_assert(!secure_low_order_var(fx.a.eph_public));
}
END_TEST

/* B's Auth body with @sig instead of its own, sealed under B's keys. */
static void auth_with_sig(const uint8_t sig[64], uint8_t **frame,
                          size_t *size)
{
    Tdei__P2p__Auth auth = TDEI__P2P__AUTH__INIT;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t body[128];
    size_t len;

    auth.sig.data = (uint8_t *)sig;
    auth.sig.len = 64;
    len = protobuf_c_message_pack(&auth.base, body);
    fx.b.state = SECURE_STATE_OPEN; /* to reach the sealer */
    ck_assert_int_eq(secure_seal(&fx.b, NULL, body, len, frame, size, errmsg),
                     0);
    fx.b.state = SECURE_STATE_KEYED;
}

static int open_at_a(uint8_t *frame, size_t size)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    int rc;

    rc = secure_auth_open(&fx.a, frame + FRAME_HEADER_SIZE,
                          size - FRAME_HEADER_SIZE, errmsg);
    tdei_free(frame);
    return rc;
}

static void hellos_and_a_auth(void)
{
    uint8_t *frame;
    size_t size;
    char errmsg[TDEI_ERRMSG_SIZE];

    ck_assert_int_eq(pass_hello(&fx.a, &fx.b), 0);
    ck_assert_int_eq(pass_hello(&fx.b, &fx.a), 0);
    ck_assert_int_eq(secure_auth_seal(&fx.a, &frame, &size, errmsg), 0);
    tdei_free(frame);
}

START_TEST(test_auth_refused_on_bad_signature)
{
    uint8_t sig[64];
    uint8_t *frame;
    size_t size;

    hellos_and_a_auth();
    randombytes_buf(sig, sizeof(sig));
    auth_with_sig(sig, &frame, &size);
    ck_assert_int_eq(open_at_a(frame, size), TDEI_HANDSHAKE);
    ck_assert_int_eq(fx.a.state, SECURE_STATE_DEAD);
}
END_TEST

START_TEST(test_auth_refused_when_signed_by_another_key)
{
    struct tdei_keypair other;
    uint8_t *frame;
    size_t size;
    char errmsg[TDEI_ERRMSG_SIZE];

    hellos_and_a_auth();
    ck_assert_int_eq(tdei_keypair_generate(&other), 0);
    fx.b.key = &other; /* B's Hello said kb; its Auth is by other */
    ck_assert_int_eq(secure_auth_seal(&fx.b, &frame, &size, errmsg), 0);
    ck_assert_int_eq(open_at_a(frame, size), TDEI_HANDSHAKE);
}
END_TEST

START_TEST(test_auth_refused_when_signed_for_the_other_role)
{
    uint8_t transcript[256];
    uint8_t sig[64];
    uint8_t *frame;
    size_t pos = 0;
    size_t size;

    hellos_and_a_auth();
    /* B signs the transcript with the initiator's role byte. */
    transcript[pos++] = (uint8_t)strlen(CHAIN);
    memcpy(transcript + pos, CHAIN, strlen(CHAIN));
    pos += strlen(CHAIN);
    memcpy(transcript + pos, fx.a.eph_public, 32);
    memcpy(transcript + pos + 32, fx.b.eph_public, 32);
    memcpy(transcript + pos + 64, fx.ka.pubkey, 32);
    memcpy(transcript + pos + 96, fx.kb.pubkey, 32);
    pos += 128;
    transcript[pos] = SECURE_INITIATOR;
    ck_assert_int_eq(tdei_sign_tagged(sig, &fx.kb, TDEI_TAG_HANDSHAKE,
                                      transcript, pos + 1),
                     0);
    auth_with_sig(sig, &frame, &size);
    ck_assert_int_eq(open_at_a(frame, size), TDEI_HANDSHAKE);
    /* It does not pass for the responder's transcript either. */
    transcript[pos] = SECURE_RESPONDER;
    ck_assert_int_eq(tdei_verify_tagged(sig, fx.kb.pubkey, TDEI_TAG_HANDSHAKE,
                                        transcript, pos + 1),
                     TDEI_BADSIG);
}
END_TEST

START_TEST(test_auth_refused_when_reflected)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *frame;
    size_t size;

    ck_assert_int_eq(pass_hello(&fx.a, &fx.b), 0);
    ck_assert_int_eq(pass_hello(&fx.b, &fx.a), 0);
    ck_assert_int_eq(secure_auth_seal(&fx.a, &frame, &size, errmsg), 0);
    /* A's own Auth handed back to A. */
    ck_assert_int_eq(secure_auth_open(&fx.a, frame + FRAME_HEADER_SIZE,
                                      size - FRAME_HEADER_SIZE, errmsg),
                     TDEI_FRAME);
    tdei_free(frame);
}
END_TEST

/* ------------------------------------------------------------------------
 * Frames
 * ------------------------------------------------------------------------ */

static void seal_ab(const char *text, uint8_t **frame, size_t *size)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t ch = 2;

    ck_assert_int_eq(secure_seal(&fx.a, &ch, (const uint8_t *)text,
                                 strlen(text), frame, size, errmsg),
                     0);
}

/* Open @frame at B; on success check it carries channel 2 and @text. */
static int open_b(uint8_t *frame, size_t size, const char *text)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    size_t plain_len;
    int rc;

    ck_assert_uint_eq(frame_header_read(frame), size - FRAME_HEADER_SIZE);
    rc = secure_open(&fx.b, frame + FRAME_HEADER_SIZE,
                     size - FRAME_HEADER_SIZE, &plain_len, errmsg);
    if (rc == 0) {
        ck_assert_uint_eq(plain_len, 1 + strlen(text));
        ck_assert_uint_eq(frame[FRAME_HEADER_SIZE], 2);
        ck_assert_mem_eq(frame + FRAME_HEADER_SIZE + 1, text, strlen(text));
    } else {
        ck_assert_int_eq(rc, TDEI_FRAME);
        ck_assert_uint_gt(strlen(errmsg), 0);
    }
    return rc;
}

START_TEST(test_frames_round_trip_both_ways)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *frame;
    size_t size;
    size_t plain_len;
    int i;

    handshake();
    for (i = 0; i < 3; i++) {
        seal_ab("hello b", &frame, &size);
        ck_assert_uint_eq(size, FRAME_HEADER_SIZE + 1 + 7 + SECURE_TAG_SIZE);
        ck_assert_int_eq(open_b(frame, size, "hello b"), 0);
        tdei_free(frame);
    }
    ck_assert_int_eq(secure_seal(&fx.b, NULL, NULL, 0, &frame, &size, errmsg),
                     0);
    ck_assert_int_eq(secure_open(&fx.a, frame + FRAME_HEADER_SIZE,
                                 size - FRAME_HEADER_SIZE, &plain_len, errmsg),
                     0);
    ck_assert_uint_eq(plain_len, 0);
    tdei_free(frame);
    ck_assert_uint_eq(fx.a.tx_counter, 4); /* Auth + 3 */
    ck_assert_uint_eq(fx.b.rx_counter, 4);
}
END_TEST

/* Flip one bit at @offset of a sealed frame: it must not open, and the
 * session is dead afterwards. Offsets cover the header, the ciphertext
 * and the tag. */
START_TEST(test_frame_tampered_anywhere_fails)
{
    uint8_t *frame;
    uint8_t *good;
    size_t size;

    handshake();
    seal_ab("some bytes of a message", &frame, &size);
    ck_assert_uint_lt((size_t)_i, size);
    good = tdei_malloc(size);
    memcpy(good, frame, size);
    frame[_i] ^= 0x01;
    if (_i < (int)FRAME_HEADER_SIZE) {
        /* A changed length: over max_frame, the frame decoder refuses it
         * before anything opens; otherwise the receiver reads that many
         * bytes (the frame, then what follows it: zeros here) and
         * rebuilds the header from the length. */
        size_t body_len = frame_header_read(frame);
        size_t plain_len;
        uint8_t *body;
        char errmsg[TDEI_ERRMSG_SIZE];

        if (body_len > MAX_FRAME) {
            ck_assert_uint_gt(body_len, MAX_FRAME);
        } else {
            body = tdei_calloc(1, body_len);
            memcpy(body, frame + FRAME_HEADER_SIZE,
                   body_len < size - FRAME_HEADER_SIZE
                       ? body_len
                       : size - FRAME_HEADER_SIZE);
            ck_assert_int_eq(secure_open(&fx.b, body, body_len, &plain_len,
                                         errmsg),
                             TDEI_FRAME);
            tdei_free(body);
        }
    } else {
        ck_assert_int_eq(open_b(frame, size, "x"), TDEI_FRAME);
    }
    /* Dead after a failure: even the untouched frame does not open. */
    if (fx.b.state == SECURE_STATE_DEAD) {
        ck_assert_int_eq(open_b(good, size, "x"), TDEI_FRAME);
    }
    tdei_free(good);
    tdei_free(frame);
}
END_TEST

START_TEST(test_frame_replayed_fails)
{
    uint8_t *frame;
    uint8_t *copy;
    size_t size;

    handshake();
    seal_ab("once", &frame, &size);
    copy = tdei_malloc(size);
    memcpy(copy, frame, size);
    ck_assert_int_eq(open_b(frame, size, "once"), 0);
    ck_assert_int_eq(open_b(copy, size, "once"), TDEI_FRAME);
    tdei_free(copy);
    tdei_free(frame);
}
END_TEST

START_TEST(test_frames_reordered_fail)
{
    uint8_t *f1;
    uint8_t *f2;
    size_t s1;
    size_t s2;

    handshake();
    seal_ab("first", &f1, &s1);
    seal_ab("second", &f2, &s2);
    ck_assert_int_eq(open_b(f2, s2, "second"), TDEI_FRAME);
    tdei_free(f1);
    tdei_free(f2);
}
END_TEST

START_TEST(test_frame_after_a_dropped_one_fails)
{
    uint8_t *f1;
    uint8_t *f2;
    uint8_t *f3;
    size_t s1;
    size_t s2;
    size_t s3;

    handshake();
    seal_ab("first", &f1, &s1);
    seal_ab("second", &f2, &s2);
    seal_ab("third", &f3, &s3);
    ck_assert_int_eq(open_b(f1, s1, "first"), 0);
    ck_assert_int_eq(open_b(f3, s3, "third"), TDEI_FRAME);
    tdei_free(f1);
    tdei_free(f2);
    tdei_free(f3);
}
END_TEST

START_TEST(test_frame_truncated_fails)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    size_t plain_len;
    uint8_t *frame;
    size_t size;

    handshake();
    seal_ab("truncated", &frame, &size);
    ck_assert_int_eq(secure_open(&fx.b, frame + FRAME_HEADER_SIZE,
                                 size - FRAME_HEADER_SIZE - 1, &plain_len,
                                 errmsg),
                     TDEI_FRAME);
    tdei_free(frame);
}
END_TEST

START_TEST(test_frame_shorter_than_tag_fails)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t body[SECURE_TAG_SIZE - 1] = {0};
    size_t plain_len;

    handshake();
    ck_assert_int_eq(
        secure_open(&fx.b, body, sizeof(body), &plain_len, errmsg),
        TDEI_FRAME);
}
END_TEST

START_TEST(test_oversize_refused_at_seal_and_open)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    size_t max = secure_plaintext_max(&fx.a);
    uint8_t *data = tdei_calloc(1, MAX_FRAME + 1);
    uint8_t *frame;
    size_t size;
    size_t plain_len;
    uint8_t ch = 1;

    handshake();
    ck_assert_uint_eq(max, MAX_FRAME - SECURE_TAG_SIZE);
    ck_assert_int_eq(secure_seal(&fx.a, &ch, data, max, &frame, &size, errmsg),
                     TDEI_TOOBIG);
    ck_assert_int_eq(
        secure_seal(&fx.a, &ch, data, max - 1, &frame, &size, errmsg), 0);
    ck_assert_uint_eq(size, FRAME_HEADER_SIZE + MAX_FRAME);
    ck_assert_int_eq(secure_open(&fx.b, frame + FRAME_HEADER_SIZE,
                                 size - FRAME_HEADER_SIZE, &plain_len, errmsg),
                     0);
    tdei_free(frame);
    ck_assert_int_eq(
        secure_open(&fx.b, data, MAX_FRAME + 1, &plain_len, errmsg),
        TDEI_FRAME);
    tdei_free(data);
}
END_TEST

START_TEST(test_counter_end_closes)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *frame;
    size_t size;
    size_t plain_len;

    handshake();
    fx.a.tx_counter = SECURE_COUNTER_LAST;
    fx.b.rx_counter = SECURE_COUNTER_LAST;
    seal_ab("last", &frame, &size);
    ck_assert_int_eq(open_b(frame, size, "last"), 0);
    tdei_free(frame);
    ck_assert_uint_eq(fx.a.tx_counter, UINT64_MAX);
    ck_assert_int_eq(secure_seal(&fx.a, NULL, NULL, 0, &frame, &size, errmsg),
                     TDEI_FRAME);
    ck_assert_ptr_null(frame);
    uint8_t body[SECURE_TAG_SIZE] = {0};
    ck_assert_int_eq(
        secure_open(&fx.b, body, sizeof(body), &plain_len, errmsg),
        TDEI_FRAME);
}
END_TEST

START_TEST(test_close_wipes_keys)
{
    static const uint8_t zero[SECURE_KEY_SIZE];

    handshake();
    secure_close(&fx.a);
    ck_assert_mem_eq(fx.a.tx_key, zero, SECURE_KEY_SIZE);
    ck_assert_mem_eq(fx.a.rx_key, zero, SECURE_KEY_SIZE);
    ck_assert_mem_eq(fx.a.eph_secret, zero, SECURE_KEY_SIZE);
}
END_TEST

START_TEST(test_init_refuses_bad_chain_id)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct secure_session s;
    char longid[80];

    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = 0;
    ck_assert_int_eq(
        secure_init(&s, SECURE_INITIATOR, "", &fx.ka, MAX_FRAME, errmsg),
        TDEI_CHAIN_ID);
    ck_assert_int_eq(
        secure_init(&s, SECURE_INITIATOR, longid, &fx.ka, MAX_FRAME, errmsg),
        TDEI_CHAIN_ID);
}
END_TEST

static Suite *secure_suite(void)
{
    Suite *s = suite_create("secure");
    TCase *tc;

    tc = tcase_create("handshake");
    tcase_add_checked_fixture(tc, pair_setup, pair_teardown);
    tcase_add_test(tc, test_handshake_completes_with_matching_keys);
    tcase_add_test(tc, test_hello_refused_on_other_chain);
    tcase_add_test(tc, test_hello_refused_on_other_version);
    tcase_add_test(tc, test_hello_refused_on_key_lengths);
    tcase_add_test(tc, test_hello_refused_on_node_key_length);
    tcase_add_test(tc, test_hello_refused_on_non_x_only_key);
    tcase_add_test(tc, test_hello_refused_on_own_node_key);
    tcase_add_test(tc, test_hello_refused_on_reflected_ephemeral);
    tcase_add_test(tc, test_hello_refused_when_not_protobuf);
    tcase_add_loop_test(tc, test_low_order_points_give_zero_secret, 0,
                        (int)LOW_ORDER_N);
    tcase_add_loop_test(tc, test_hello_refused_on_low_order_ephemeral, 0,
                        2 * (int)LOW_ORDER_N);
    tcase_add_test(tc, test_random_point_is_not_low_order);
    tcase_add_test(tc, test_init_refuses_bad_chain_id);
    suite_add_tcase(s, tc);

    tc = tcase_create("auth");
    tcase_add_checked_fixture(tc, pair_setup, pair_teardown);
    tcase_add_test(tc, test_auth_refused_on_bad_signature);
    tcase_add_test(tc, test_auth_refused_when_signed_by_another_key);
    tcase_add_test(tc, test_auth_refused_when_signed_for_the_other_role);
    tcase_add_test(tc, test_auth_refused_when_reflected);
    suite_add_tcase(s, tc);

    tc = tcase_create("frames");
    tcase_add_checked_fixture(tc, pair_setup, pair_teardown);
    tcase_add_test(tc, test_frames_round_trip_both_ways);
    /* header bytes 0-3, ciphertext 4-27, tag 28-43 */
    tcase_add_loop_test(tc, test_frame_tampered_anywhere_fails, 0,
                        (int)(FRAME_HEADER_SIZE + 1 + 23 + SECURE_TAG_SIZE));
    tcase_add_test(tc, test_frame_replayed_fails);
    tcase_add_test(tc, test_frames_reordered_fail);
    tcase_add_test(tc, test_frame_after_a_dropped_one_fails);
    tcase_add_test(tc, test_frame_truncated_fails);
    tcase_add_test(tc, test_frame_shorter_than_tag_fails);
    tcase_add_test(tc, test_oversize_refused_at_seal_and_open);
    tcase_add_test(tc, test_counter_end_closes);
    tcase_add_test(tc, test_close_wipes_keys);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testutil_run(secure_suite());
}
