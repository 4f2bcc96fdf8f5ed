/* The peer handshake and the sealed frames (DESIGN.md section 7;
 * proto/p2p.proto): pure of I/O, so that both sides of a connection can
 * be run in memory by the tests and by probes.
 *
 * One session per connection and side:
 *   secure_init -> secure_hello_encode (send it) -> secure_hello_read
 *   (the peer's Hello: checks it, derives the session keys) ->
 *   secure_auth_seal (send it) -> secure_auth_open (the peer's Auth) ->
 *   secure_seal / secure_open for every later frame.
 *
 * Sealed frame = 4-byte big-endian length || XChaCha20-Poly1305-IETF
 * ciphertext and tag, nonce = 16 zero bytes || u64 BE counter, additional
 * data = the length header. Each direction counts its frames from 0 (the
 * Auth) and the receiver accepts only the next counter, so a replayed,
 * reordered, dropped, tampered or truncated frame does not open. After
 * any failure the session is dead: every later call fails.
 *
 * The functions keep no global state; a session belongs to one thread.
 * Pointers are non-NULL unless stated; errmsg is TDEI_ERRMSG_SIZE bytes,
 * untouched on success. Memory goes through tdei_malloc. */
#ifndef TDEI_NODE_P2P_SECURE_H
#define TDEI_NODE_P2P_SECURE_H

#include "core/keys.h"
#include "core/limits.h"

#include <stddef.h>
#include <stdint.h>

#define SECURE_VERSION 1u      /* Hello.version of proto/p2p.proto */
#define SECURE_KEY_SIZE 32u    /* a session key */
#define SECURE_TAG_SIZE 16u    /* Poly1305 tag: ciphertext - plaintext */
#define SECURE_NONCE_SIZE 24u  /* XChaCha20 nonce */
#define SECURE_HANDSHAKE_FRAME_MAX 512u /* a Hello or sealed Auth body */
#define SECURE_COUNTER_LAST (UINT64_MAX - 1u) /* the last usable counter */

enum secure_role {
    SECURE_INITIATOR = 0, /* dialled: crypto_kx client */
    SECURE_RESPONDER = 1  /* accepted: crypto_kx server */
};

enum secure_state {
    SECURE_STATE_NEW = 0,   /* Hello not read yet */
    SECURE_STATE_KEYED = 1, /* keys derived, peer's Auth not read yet */
    SECURE_STATE_OPEN = 2,  /* both Auths done: frames flow */
    SECURE_STATE_DEAD = 3   /* a check failed; nothing more */
};

/* One side of one connection. Fields are private (tests may set the
 * counters to reach their end). */
struct secure_session {
    enum secure_role role;
    enum secure_state state;
    int auth_sent;                         /* 1 once secure_auth_seal ran */
    const struct tdei_keypair *key;        /* our node key; borrowed */
    size_t max_frame;                      /* largest frame body */
    char chain_id[TDEI_CHAIN_ID_MAX + 1];  /* ours, NUL-terminated */
    size_t chain_id_size;                  /* its length */
    uint8_t eph_public[TDEI_X25519_SIZE];  /* our ephemeral key */
    uint8_t eph_secret[TDEI_X25519_SIZE];  /* wiped */
    uint8_t peer_eph[TDEI_X25519_SIZE];    /* the peer's, from its Hello */
    uint8_t peer_key[TDEI_PUBKEY_SIZE];    /* the peer's node key */
    uint8_t rx_key[SECURE_KEY_SIZE];       /* wiped */
    uint8_t tx_key[SECURE_KEY_SIZE];       /* wiped */
    uint64_t rx_counter;                   /* next frame we accept */
    uint64_t tx_counter;                   /* next frame we send */
};

/* Start a session: draw the ephemeral X25519 key pair.
 * Returns: 0; TDEI_CHAIN_ID (@chain_id is not 1-64 bytes); TDEI_CRYPTO.
 * In:  role: SECURE_INITIATOR for the side that dialled. chain_id:
 *      copied. key: borrowed until secure_close. max_frame: the largest
 *      frame body either side sends, SECURE_HANDSHAKE_FRAME_MAX or more
 *      (asserted).
 * Out: s, the caller's memory; release with secure_close. */
int secure_init(struct secure_session *s, enum secure_role role,
                const char *chain_id, const struct tdei_keypair *key,
                size_t max_frame, char *errmsg);

/* Wipe every key and counter of @s. Idempotent. */
void secure_close(struct secure_session *s);

/* Our Hello as a whole frame (length header included), in the clear.
 * Returns: 0; TDEI_NOMEM.
 * Out: frame: tdei_malloc, the caller's to tdei_free; size. */
int secure_hello_encode(const struct secure_session *s, uint8_t **frame,
                        size_t *size, char *errmsg);

/* Read the peer's Hello (a frame body) and derive the session keys.
 * Refused: not a Hello or unknown fields (TDEI_MALFORMED); another
 * version (TDEI_VERSION); another chain (TDEI_CHAIN_ID); an ephemeral
 * key that is not 32 bytes, is a low-order point, is our own or gives an
 * all-zero shared secret, a node key that is not 32 bytes or not an
 * x-only key, or our own node key (TDEI_HANDSHAKE).
 * Returns: 0 or one of the codes above; the session is dead after one.
 * State: SECURE_STATE_NEW (asserted); KEYED on 0. */
int secure_hello_read(struct secure_session *s, const uint8_t *body,
                      size_t len, char *errmsg);

/* The peer's node key, as its Hello claims it (proved once
 * secure_auth_open returned 0). State: after secure_hello_read. */
const uint8_t *secure_peer_key(const struct secure_session *s);

/* Our Auth as a whole sealed frame (counter 0 of our direction).
 * Returns: 0; TDEI_NOMEM; TDEI_BADKEY or TDEI_CRYPTO (our node key).
 * State: KEYED (asserted), once. */
int secure_auth_seal(struct secure_session *s, uint8_t **frame,
                     size_t *size, char *errmsg);

/* Open the peer's Auth (a frame body) and verify its signature against
 * the peer's Hello node key and the peer's role.
 * Returns: 0; TDEI_FRAME (does not open); TDEI_MALFORMED (not an Auth);
 * TDEI_HANDSHAKE (the signature is not 64 bytes or does not verify).
 * In:  body: decrypted in place (its bytes are garbage afterwards).
 * State: KEYED with our Auth sealed (asserted); OPEN on 0. */
int secure_auth_open(struct secure_session *s, uint8_t *body, size_t len,
                     char *errmsg);

/* The largest plaintext a frame carries: max_frame - SECURE_TAG_SIZE. */
size_t secure_plaintext_max(const struct secure_session *s);

/* Seal @prefix (0 or 1 byte: the channel) followed by @len bytes at @data
 * into a whole frame under the next transmit counter.
 * Returns: 0; TDEI_TOOBIG (over secure_plaintext_max); TDEI_FRAME (the
 * counter is used up, or the session is dead: close the connection);
 * TDEI_NOMEM.
 * In:  prefix: NULL or 1 byte; data: may be NULL when @len is 0.
 * Out: frame: tdei_malloc, the caller's; size.
 * State: OPEN or DEAD (asserted). */
int secure_seal(struct secure_session *s, const uint8_t *prefix,
                const uint8_t *data, size_t len, uint8_t **frame,
                size_t *size, char *errmsg);

/* Open the frame body @body (@len bytes, as frame_decode returned it)
 * under the next receive counter, in place: the plaintext is the first
 * *plain_len bytes of @body.
 * Returns: 0; TDEI_FRAME (too short, over max_frame, does not open,
 * counter used up); the session is dead after an error.
 * State: OPEN or DEAD (asserted). */
int secure_open(struct secure_session *s, uint8_t *body, size_t len,
                size_t *plain_len, char *errmsg);

/* Whether @point is one of the X25519 points of small order (the top bit
 * ignored, as X25519 does). Not constant time: for public keys only. */
int secure_low_order_var(const uint8_t point[TDEI_X25519_SIZE]);

#endif
