/* The peer handshake and the sealed frames (see secure.h). */
#include "p2p/secure.h"

#include "api/frame.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hash.h"
#include "p2p.pb-c.h"

#include <sodium.h>
#include <string.h>

#define ERRSZ TDEI_ERRMSG_SIZE

#define HELLO_FIELDS_MAX 8u /* wire fields of a Hello or an Auth */
#define COUNTER_OFFSET 16u  /* nonce = 16 zero bytes || u64 BE counter */
#define ROLE_SIZE 1u

/* chain id length, chain id, two ephemeral keys, two node keys, role */
#define TRANSCRIPT_MAX                                                        \
    (1u + TDEI_CHAIN_ID_MAX + 2u * TDEI_X25519_SIZE + 2u * TDEI_PUBKEY_SIZE + \
     ROLE_SIZE)

_Static_assert(SECURE_KEY_SIZE == crypto_kx_SESSIONKEYBYTES,
               "session keys are crypto_kx keys");
_Static_assert(SECURE_KEY_SIZE == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "session keys are AEAD keys");
_Static_assert(SECURE_TAG_SIZE == crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "one tag per frame");
_Static_assert(SECURE_NONCE_SIZE ==
                   crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "XChaCha20 nonces");
_Static_assert(TDEI_X25519_SIZE == crypto_kx_PUBLICKEYBYTES,
               "ephemeral keys are crypto_kx keys");

/* The X25519 points of small order (libsodium's blacklist): 0, 1, the two
 * points of order 8, p-1, p and p+1. */
static const uint8_t low_order_points[][TDEI_X25519_SIZE] = {
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
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};
#define LOW_ORDER_COUNT (sizeof(low_order_points) / sizeof(low_order_points[0]))

int secure_low_order_var(const uint8_t point[TDEI_X25519_SIZE])
{
    size_t i;

    for (i = 0; i < LOW_ORDER_COUNT; i++) {
        if (memcmp(point, low_order_points[i], TDEI_X25519_SIZE - 1) == 0 &&
            (point[TDEI_X25519_SIZE - 1] & 0x7f) ==
                low_order_points[i][TDEI_X25519_SIZE - 1]) {
            return 1;
        }
    }
    return 0;
}

static int session_fail(struct secure_session *s, int code)
{
    s->state = SECURE_STATE_DEAD;
    sodium_memzero(s->rx_key, sizeof(s->rx_key));
    sodium_memzero(s->tx_key, sizeof(s->tx_key));
    sodium_memzero(s->eph_secret, sizeof(s->eph_secret));
    return code;
}

int secure_init(struct secure_session *s, enum secure_role role,
                const char *chain_id, const struct tdei_keypair *key,
                size_t max_frame, char *errmsg)
{
    size_t len = strlen(chain_id);

    TDEI_ASSERT(role == SECURE_INITIATOR || role == SECURE_RESPONDER);
    TDEI_ASSERT(max_frame >= SECURE_HANDSHAKE_FRAME_MAX &&
                max_frame <= FRAME_SIZE_LIMIT);
    memset(s, 0, sizeof(*s));
    s->state = SECURE_STATE_DEAD;
    if (len < 1 || len > TDEI_CHAIN_ID_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CHAIN_ID,
                           "chain id of %zu bytes is outside 1-%u", len,
                           TDEI_CHAIN_ID_MAX);
    }
    if (crypto_kx_keypair(s->eph_public, s->eph_secret) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CRYPTO,
                           "handshake: ephemeral key generation failed");
    }
    memcpy(s->chain_id, chain_id, len + 1);
    s->chain_id_size = len;
    s->role = role;
    s->key = key;
    s->max_frame = max_frame;
    s->state = SECURE_STATE_NEW;
    return 0;
}

void secure_close(struct secure_session *s)
{
    sodium_memzero(s, sizeof(*s));
    s->state = SECURE_STATE_DEAD;
}

int secure_hello_encode(const struct secure_session *s, uint8_t **frame,
                        size_t *size, char *errmsg)
{
    Tdei__P2p__Hello hello = TDEI__P2P__HELLO__INIT;

    hello.version = SECURE_VERSION;
    hello.chain_id = (char *)s->chain_id;
    hello.ephemeral_key.data = (uint8_t *)s->eph_public;
    hello.ephemeral_key.len = TDEI_X25519_SIZE;
    hello.node_key.data = (uint8_t *)s->key->pubkey;
    hello.node_key.len = TDEI_PUBKEY_SIZE;
    return frame_encode_message(&hello.base, SECURE_HANDSHAKE_FRAME_MAX,
                                "p2p hello", frame, size, errmsg);
}

/* Check the fields of a decoded Hello; copy the keys into @s. */
static int hello_check(struct secure_session *s, const Tdei__P2p__Hello *h,
                       char *errmsg)
{
    if (h->base.n_unknown_fields > 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "hello has unknown field %u",
                           h->base.unknown_fields[0].tag);
    }
    if (h->version != SECURE_VERSION) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_VERSION,
                           "hello of protocol version %u; this node speaks "
                           "version %u",
                           h->version, SECURE_VERSION);
    }
    if (strcmp(h->chain_id, s->chain_id) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CHAIN_ID,
                           "hello for chain \"%.64s\"; this node is on "
                           "\"%s\"",
                           h->chain_id, s->chain_id);
    }
    if (h->ephemeral_key.len != TDEI_X25519_SIZE ||
        h->node_key.len != TDEI_PUBKEY_SIZE) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_HANDSHAKE,
                           "hello keys of %zu and %zu bytes; both must be %u",
                           h->ephemeral_key.len, h->node_key.len,
                           TDEI_PUBKEY_SIZE);
    }
    if (secure_low_order_var(h->ephemeral_key.data)) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_HANDSHAKE,
                           "hello ephemeral key is a low-order point");
    }
    if (memcmp(h->ephemeral_key.data, s->eph_public, TDEI_X25519_SIZE) == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_HANDSHAKE,
                           "hello ephemeral key is our own (a reflected "
                           "hello)");
    }
    if (tdei_pubkey_check(h->node_key.data) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_HANDSHAKE,
                           "hello node key is not an x-only secp256k1 key");
    }
    if (memcmp(h->node_key.data, s->key->pubkey, TDEI_PUBKEY_SIZE) == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_HANDSHAKE,
                           "hello node key is this node's own key (a "
                           "self-dial: p2p.peers lists this node?)");
    }
    memcpy(s->peer_eph, h->ephemeral_key.data, TDEI_X25519_SIZE);
    memcpy(s->peer_key, h->node_key.data, TDEI_PUBKEY_SIZE);
    return 0;
}

/* Derive rx_key and tx_key; refuse an all-zero shared secret. */
static int keys_derive(struct secure_session *s, char *errmsg)
{
    uint8_t shared[crypto_scalarmult_BYTES];
    int rc;

    /* crypto_kx refuses an all-zero secret too; checking it here keeps
     * the rule in our code whatever the library version does. */
    rc = crypto_scalarmult(shared, s->eph_secret, s->peer_eph);
    if (rc == 0 && sodium_is_zero(shared, sizeof(shared))) {
        rc = -1;
    }
    sodium_memzero(shared, sizeof(shared));
    if (rc == 0 && s->role == SECURE_INITIATOR) {
        rc = crypto_kx_client_session_keys(s->rx_key, s->tx_key, s->eph_public,
                                           s->eph_secret, s->peer_eph);
    } else if (rc == 0) {
        rc = crypto_kx_server_session_keys(s->rx_key, s->tx_key, s->eph_public,
                                           s->eph_secret, s->peer_eph);
    }
    sodium_memzero(s->eph_secret, sizeof(s->eph_secret));
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_HANDSHAKE,
                           "hello ephemeral key gives an all-zero shared "
                           "secret");
    }
    return 0;
}

int secure_hello_read(struct secure_session *s, const uint8_t *body,
                      size_t len, char *errmsg)
{
    ProtobufCMessage *msg = NULL;
    int rc;

    TDEI_ASSERT(s->state == SECURE_STATE_NEW);
    rc = frame_message_decode(&tdei__p2p__hello__descriptor, body, len,
                              HELLO_FIELDS_MAX, "p2p hello", &msg, errmsg);
    if (rc != 0) {
        return session_fail(s, rc);
    }
    rc = hello_check(s, (const Tdei__P2p__Hello *)msg, errmsg);
    frame_message_free(msg);
    if (rc == 0) {
        rc = keys_derive(s, errmsg);
    }
    if (rc != 0) {
        return session_fail(s, rc);
    }
    s->state = SECURE_STATE_KEYED;
    return 0;
}

const uint8_t *secure_peer_key(const struct secure_session *s)
{
    TDEI_ASSERT(s->state == SECURE_STATE_KEYED ||
                s->state == SECURE_STATE_OPEN);
    return s->peer_key;
}

/* The transcript of proto/p2p.proto signed by @signer; returns its
 * length. */
static size_t transcript_build(const struct secure_session *s,
                               enum secure_role signer,
                               uint8_t out[TRANSCRIPT_MAX])
{
    const uint8_t *init_eph = s->eph_public;
    const uint8_t *resp_eph = s->peer_eph;
    const uint8_t *init_key = s->key->pubkey;
    const uint8_t *resp_key = s->peer_key;
    size_t pos = 0;

    if (s->role == SECURE_RESPONDER) {
        init_eph = s->peer_eph;
        resp_eph = s->eph_public;
        init_key = s->peer_key;
        resp_key = s->key->pubkey;
    }
    out[pos++] = (uint8_t)s->chain_id_size;
    memcpy(out + pos, s->chain_id, s->chain_id_size);
    pos += s->chain_id_size;
    memcpy(out + pos, init_eph, TDEI_X25519_SIZE);
    pos += TDEI_X25519_SIZE;
    memcpy(out + pos, resp_eph, TDEI_X25519_SIZE);
    pos += TDEI_X25519_SIZE;
    memcpy(out + pos, init_key, TDEI_PUBKEY_SIZE);
    pos += TDEI_PUBKEY_SIZE;
    memcpy(out + pos, resp_key, TDEI_PUBKEY_SIZE);
    pos += TDEI_PUBKEY_SIZE;
    out[pos++] = (uint8_t)signer;
    TDEI_ASSERT(pos <= TRANSCRIPT_MAX);
    return pos;
}

static void nonce_build(uint8_t nonce[SECURE_NONCE_SIZE], uint64_t counter)
{
    size_t i;

    memset(nonce, 0, SECURE_NONCE_SIZE);
    for (i = 0; i < sizeof(counter); i++) {
        nonce[COUNTER_OFFSET + i] = (uint8_t)(counter >> (56u - 8u * i));
    }
}

/* Seal without a state check: the Auth and the channel frames. */
static int seal_frame(struct secure_session *s, const uint8_t *prefix,
                      const uint8_t *data, size_t len, uint8_t **frame,
                      size_t *size, char *errmsg)
{
    size_t prefix_len = prefix != NULL ? 1u : 0u;
    size_t plain_len = prefix_len + len;
    uint8_t nonce[SECURE_NONCE_SIZE];
    uint8_t *out;

    *frame = NULL;
    *size = 0;
    if (len > secure_plaintext_max(s) ||
        plain_len > secure_plaintext_max(s)) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "message of %zu bytes is over the %zu bytes a "
                           "frame carries (p2p.max_frame)",
                           plain_len, secure_plaintext_max(s));
    }
    if (s->tx_counter > SECURE_COUNTER_LAST) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_FRAME,
                           "the transmit frame counter is used up; "
                           "reconnect");
    }
    out = tdei_malloc(FRAME_HEADER_SIZE + plain_len + SECURE_TAG_SIZE);
    if (out == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                           "out of memory sealing a frame");
    }
    frame_header_write(out, plain_len + SECURE_TAG_SIZE);
    if (prefix_len > 0) {
        out[FRAME_HEADER_SIZE] = *prefix;
    }
    if (len > 0) {
        memcpy(out + FRAME_HEADER_SIZE + prefix_len, data, len);
    }
    nonce_build(nonce, s->tx_counter);
    /* In place: libsodium encrypts a buffer onto itself. */
    (void)crypto_aead_xchacha20poly1305_ietf_encrypt(
        out + FRAME_HEADER_SIZE, NULL, out + FRAME_HEADER_SIZE, plain_len,
        out, FRAME_HEADER_SIZE, NULL, nonce, s->tx_key);
    s->tx_counter++;
    *frame = out;
    *size = FRAME_HEADER_SIZE + plain_len + SECURE_TAG_SIZE;
    return 0;
}

/* Open without a state check: the Auth and the channel frames. */
static int open_frame(struct secure_session *s, uint8_t *body, size_t len,
                      size_t *plain_len, char *errmsg)
{
    uint8_t header[FRAME_HEADER_SIZE];
    uint8_t nonce[SECURE_NONCE_SIZE];
    unsigned long long out_len = 0;

    *plain_len = 0;
    if (len < SECURE_TAG_SIZE || len > s->max_frame) {
        (void)tdei_errorf(errmsg, ERRSZ, TDEI_FRAME,
                          "sealed frame of %zu bytes is outside %u-%zu", len,
                          SECURE_TAG_SIZE, s->max_frame);
        return session_fail(s, TDEI_FRAME);
    }
    if (s->rx_counter > SECURE_COUNTER_LAST) {
        (void)tdei_errorf(errmsg, ERRSZ, TDEI_FRAME,
                          "the receive frame counter is used up");
        return session_fail(s, TDEI_FRAME);
    }
    frame_header_write(header, len);
    nonce_build(nonce, s->rx_counter);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            body, &out_len, NULL, body, len, header, FRAME_HEADER_SIZE, nonce,
            s->rx_key) != 0) {
        (void)tdei_errorf(errmsg, ERRSZ, TDEI_FRAME,
                          "sealed frame %llu of %zu bytes does not open "
                          "(tampered, replayed, reordered or truncated)",
                          (unsigned long long)s->rx_counter, len);
        return session_fail(s, TDEI_FRAME);
    }
    s->rx_counter++;
    *plain_len = (size_t)out_len;
    return 0;
}

int secure_auth_seal(struct secure_session *s, uint8_t **frame,
                     size_t *size, char *errmsg)
{
    Tdei__P2p__Auth auth = TDEI__P2P__AUTH__INIT;
    uint8_t transcript[TRANSCRIPT_MAX];
    uint8_t sig[TDEI_SIG_SIZE];
    uint8_t body[SECURE_HANDSHAKE_FRAME_MAX];
    size_t len;
    int rc;

    TDEI_ASSERT(s->state == SECURE_STATE_KEYED);
    TDEI_ASSERT(!s->auth_sent && s->tx_counter == 0);
    *frame = NULL;
    *size = 0;
    len = transcript_build(s, s->role, transcript);
    rc = tdei_sign_tagged(sig, s->key, TDEI_TAG_HANDSHAKE, transcript, len);
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc,
                           "handshake: signing with the node key failed");
    }
    auth.sig.data = sig;
    auth.sig.len = sizeof(sig);
    len = protobuf_c_message_pack(&auth.base, body);
    TDEI_ASSERT(len <= sizeof(body));
    rc = seal_frame(s, NULL, body, len, frame, size, errmsg);
    if (rc == 0) {
        s->auth_sent = 1;
    }
    return rc;
}

/* Verify the Auth in @body (the opened plaintext) of @len bytes. */
static int auth_verify(struct secure_session *s, const uint8_t *body,
                       size_t len, char *errmsg)
{
    enum secure_role peer_role = s->role == SECURE_INITIATOR
                                     ? SECURE_RESPONDER
                                     : SECURE_INITIATOR;
    uint8_t transcript[TRANSCRIPT_MAX];
    ProtobufCMessage *msg = NULL;
    const Tdei__P2p__Auth *auth;
    size_t tlen;
    int rc;

    rc = frame_message_decode(&tdei__p2p__auth__descriptor, body, len,
                              HELLO_FIELDS_MAX, "p2p auth", &msg, errmsg);
    if (rc != 0) {
        return rc;
    }
    auth = (const Tdei__P2p__Auth *)msg;
    if (auth->sig.len != TDEI_SIG_SIZE) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_HANDSHAKE,
                         "auth signature of %zu bytes; it must be %u",
                         auth->sig.len, TDEI_SIG_SIZE);
    } else {
        tlen = transcript_build(s, peer_role, transcript);
        if (tdei_verify_tagged(auth->sig.data, s->peer_key,
                               TDEI_TAG_HANDSHAKE, transcript, tlen) != 0) {
            rc = tdei_errorf(errmsg, ERRSZ, TDEI_HANDSHAKE,
                             "auth signature does not verify under the "
                             "hello's node key");
        }
    }
    frame_message_free(msg);
    return rc;
}

int secure_auth_open(struct secure_session *s, uint8_t *body, size_t len,
                     char *errmsg)
{
    size_t plain_len;
    int rc;

    TDEI_ASSERT(s->state == SECURE_STATE_KEYED);
    TDEI_ASSERT(s->auth_sent);
    rc = open_frame(s, body, len, &plain_len, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = auth_verify(s, body, plain_len, errmsg);
    if (rc != 0) {
        return session_fail(s, rc);
    }
    s->state = SECURE_STATE_OPEN;
    return 0;
}

size_t secure_plaintext_max(const struct secure_session *s)
{
    return s->max_frame - SECURE_TAG_SIZE;
}

int secure_seal(struct secure_session *s, const uint8_t *prefix,
                const uint8_t *data, size_t len, uint8_t **frame,
                size_t *size, char *errmsg)
{
    TDEI_ASSERT(data != NULL || len == 0);
    if (s->state == SECURE_STATE_DEAD) {
        *frame = NULL;
        *size = 0;
        return tdei_errorf(errmsg, ERRSZ, TDEI_FRAME,
                           "the session failed before; reconnect");
    }
    TDEI_ASSERT(s->state == SECURE_STATE_OPEN);
    return seal_frame(s, prefix, data, len, frame, size, errmsg);
}

int secure_open(struct secure_session *s, uint8_t *body, size_t len,
                size_t *plain_len, char *errmsg)
{
    if (s->state == SECURE_STATE_DEAD) {
        *plain_len = 0;
        return tdei_errorf(errmsg, ERRSZ, TDEI_FRAME,
                           "the session failed before; reconnect");
    }
    TDEI_ASSERT(s->state == SECURE_STATE_OPEN);
    return open_frame(s, body, len, plain_len, errmsg);
}
