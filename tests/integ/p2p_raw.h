/* A raw peer over a blocking POSIX socket, for the p2p tests and the
 * p2p_probe tool: it speaks the handshake of node/p2p/secure.h by hand,
 * so that it can then misbehave (replay, tamper, stop reading).
 * Pointers are non-NULL unless stated. */
#ifndef TDEI_TESTS_P2P_RAW_H
#define TDEI_TESTS_P2P_RAW_H

#include "api/frame.h"
#include "core/keys.h"
#include "p2p/secure.h"

#include <stddef.h>
#include <stdint.h>

#define RAW_OK 0
#define RAW_ERROR (-1)  /* a local error (socket, memory, a bad Hello) */
#define RAW_CLOSED (-2) /* the other side closed or reset */
#define RAW_TIMEOUT (-3)

struct raw_peer {
    int fd;                       /* -1 when not connected */
    struct secure_session sec;    /* valid after raw_handshake */
    struct frame_decoder decoder; /* bounded by max_frame */
};

/* Connect to @ip:@port; every receive waits at most @timeout_ms.
 * Returns RAW_OK or RAW_ERROR; call raw_close afterwards either way. */
int raw_connect(struct raw_peer *r, const char *ip, int port,
                unsigned timeout_ms, size_t max_frame);

/* Send all @len bytes. Returns RAW_OK, RAW_CLOSED or RAW_ERROR. */
int raw_send(struct raw_peer *r, const void *data, size_t len);

/* Read one frame body (tdei_malloc, the caller's). Returns RAW_OK,
 * RAW_CLOSED, RAW_TIMEOUT or RAW_ERROR (a bad frame). */
int raw_read_frame(struct raw_peer *r, uint8_t **body, size_t *len);

/* Run the handshake as the initiator with @key on @chain_id: Hello both
 * ways, then Auth both ways; the other side's Auth verified.
 * Returns RAW_OK, RAW_CLOSED, RAW_TIMEOUT or RAW_ERROR. */
int raw_handshake(struct raw_peer *r, const char *chain_id,
                  const struct tdei_keypair *key);

/* Seal @len bytes on @channel into a whole frame (tdei_malloc).
 * Returns RAW_OK or RAW_ERROR. */
int raw_seal(struct raw_peer *r, uint8_t channel, const uint8_t *data,
             size_t len, uint8_t **frame, size_t *size);

/* Read and discard until the other side closes or @timeout_ms pass.
 * Returns RAW_CLOSED or RAW_TIMEOUT. */
int raw_wait_closed(struct raw_peer *r, unsigned timeout_ms);

/* Close the socket and wipe the session. Idempotent. */
void raw_close(struct raw_peer *r);

#endif
