/* Peers (DESIGN.md section 7; proto/p2p.proto): libuv TCP connections
 * between nodes, each authenticated and encrypted by the handshake of
 * secure.h, carrying channel messages in bounded per-peer, per-channel
 * send queues, and a peer manager that dials the configured addresses,
 * accepts inbound connections, reconnects with exponential backoff and
 * jitter, and bans misbehaving peers for a while.
 *
 * The module knows nothing of the ledger: the host (the node) says which
 * node keys may connect (admit), and gets whole decrypted channel
 * messages (message). What a message means is the host's business; when
 * the host says a message was bad, the peer is disconnected and banned.
 *
 * Connection life:
 *   TCP connected -> both send Hello -> keys derived -> admit() said yes
 *   to the Hello's key -> both send Auth -> Auth verified and admit()
 *   said yes again -> ready (connected() called) ->
 *   channel frames both ways -> closed (disconnected() called if ready).
 * A connection that is not ready within handshake_timeout_ms is closed.
 * Anything wrong before ready (not a frame, a frame over max_frame, a bad
 * Hello, another chain or version, a low-order ephemeral key, an Auth
 * that does not verify, a key admit() refuses, the node's own key) closes
 * that connection only, logged with the reason. After ready, a frame that
 * does not open, an unknown channel or a message the host refuses closes
 * the connection and bans the peer's node key for ban_ms: it is neither
 * dialled nor accepted meanwhile.
 * One connection per node key: when a second one becomes ready, the one
 * dialled by the lower node key is kept and the other closed (both sides
 * make the same choice).
 * Dialled addresses are redialled after a failure or a close with delays
 * backoff_min_ms, doubling up to backoff_max_ms, each +-25% jitter; a
 * connection that stays ready for 10 s resets the delay.
 *
 * Send queues: each ready peer has one queue per channel, bounded by
 * queue_bytes (the bytes of the sealed frames waiting to be written).
 * A message that does not fit is dropped for that peer and counted
 * (TDEI_FULL from p2p_send): a slow peer costs at most
 * P2P_CHANNELS x queue_bytes of memory. Queues are written round-robin,
 * consensus first.
 *
 * Threads: everything on the loop thread of p2p_create. Pointers are
 * non-NULL unless stated; errmsg is TDEI_ERRMSG_SIZE bytes. */
#ifndef TDEI_NODE_P2P_P2P_H
#define TDEI_NODE_P2P_P2P_H

#include "core/keys.h"
#include "core/limits.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Channels: the first plaintext byte of a sealed frame. */
enum p2p_channel {
    P2P_CH_TX = 1,        /* TxGossip */
    P2P_CH_CONSENSUS = 2, /* ConsensusMessage */
    P2P_CH_SYNC = 3,      /* SyncMessage */
    P2P_CH_STATUS = 4,    /* Status */
    P2P_CH_CHUNK = 5      /* data plane (later) */
};
#define P2P_CHANNELS 5

#define P2P_ADDR_MAX 64   /* "a.b.c.d:port" and room */
#define P2P_PEERS_MAX 256 /* configured addresses at most */

struct p2p_options {
    const char *chain_id;              /* borrowed */
    const struct tdei_keypair *key;    /* the node key; borrowed */
    const char *listen;                /* "HOST:PORT" (IPv4; port 0: any),
                                          NULL or "": no listener */
    const char *const *peers;          /* "HOST:PORT" to dial; borrowed */
    size_t peer_count;                 /* 0..P2P_PEERS_MAX */
    size_t max_frame;                  /* bytes of one frame at most */
    size_t max_peers;                  /* ready + connecting at most */
    size_t queue_bytes;                /* per peer and channel */
    uint64_t handshake_timeout_ms;
    uint64_t backoff_min_ms;
    uint64_t backoff_max_ms;
    uint64_t ban_ms;
};

/* Defaults (those of config.ini): max_frame 16 MiB, max_peers 128,
 * queue_bytes 16 MiB, handshake 5000 ms, backoff 200..10000 ms, ban
 * 60000 ms; no listener, no peers; chain_id and key NULL (required). */
void p2p_options_default(struct p2p_options *opts);

/* What the host provides; called on the loop thread. */
struct p2p_callbacks {
    void *data;
    /* May @node_key connect? 0: yes; a TDEI_* code with errmsg: no (the
     * connection is closed and errmsg logged). Asked when the peer's Hello
     * names its key, before this node sends its Auth (a refused key never
     * sees it), and again once the peer's Auth verified. */
    int (*admit)(void *data, const uint8_t node_key[TDEI_PUBKEY_SIZE],
                 char *errmsg);
    /* Peer @id (never 0, never reused) is ready. */
    void (*connected)(void *data, uint64_t id,
                      const uint8_t node_key[TDEI_PUBKEY_SIZE]);
    /* Ready peer @id is gone (after connected only). */
    void (*disconnected)(void *data, uint64_t id,
                         const uint8_t node_key[TDEI_PUBKEY_SIZE]);
    /* A message of @channel (P2P_CH_TX..P2P_CH_CHUNK) from ready peer @id;
     * @bytes are valid during the call only. Returns 0, or a TDEI_* code
     * with errmsg: the peer sent something invalid; it is disconnected
     * and banned (p2p_disconnect with ban). The callback may call
     * p2p_send / p2p_broadcast / p2p_disconnect. */
    int (*message)(void *data, uint64_t id, enum p2p_channel channel,
                   const uint8_t *bytes, size_t len, char *errmsg);
};

/* A ready peer. */
struct p2p_peer_info {
    uint64_t id;
    uint8_t node_key[TDEI_PUBKEY_SIZE];
    char addr[P2P_ADDR_MAX];     /* remote address "a.b.c.d:port" */
    int outbound;                /* 1: this node dialled */
    uint64_t connected_ms;       /* uv_now when it became ready */
    uint64_t frames_in, frames_out;
    uint64_t bytes_in, bytes_out;
    uint64_t dropped;            /* messages dropped on full queues */
    size_t queued_bytes;         /* in its send queues now */
};

/* Counters since p2p_create, for /metrics and `tdei status`. */
struct p2p_stats {
    size_t ready;                /* ready peers now */
    size_t connecting;           /* connections in the handshake now */
    size_t banned;               /* node keys banned now */
    uint64_t accepted;           /* inbound TCP connections */
    uint64_t dialled;            /* outbound TCP connection attempts */
    uint64_t handshakes_ok;
    uint64_t handshakes_failed;  /* closed before ready */
    uint64_t frames_bad;         /* frames that did not open */
    uint64_t messages_refused;   /* the host said bad */
    uint64_t dropped;            /* messages dropped on full queues */
    uint64_t frames_in, frames_out;
    uint64_t bytes_in, bytes_out;
};

struct p2p;

/* Create the peer manager on @loop (not started). Options are checked:
 * TDEI_CONFIG with errmsg naming the bad one (an address that does not
 * parse as IPv4 HOST:PORT, max_frame under 1 KiB, a zero limit).
 * Returns: 0, TDEI_CONFIG, TDEI_NOMEM. */
int p2p_create(struct p2p **out, uv_loop_t *loop,
               const struct p2p_options *opts,
               const struct p2p_callbacks *cb, char *errmsg);

/* Listen (if configured) and start dialling. Once only.
 * Returns: 0; TDEI_ADDR_IN_USE or TDEI_IOERR (errmsg names the address).
 * On error, p2p_stop and p2p_destroy as after a success. */
int p2p_start(struct p2p *p, char *errmsg);

/* The port listened on (useful with port 0); 0 when not listening. */
int p2p_listen_port(const struct p2p *p);

/* Queue @bytes (copied) on @channel for ready peer @id.
 * Returns: 0; TDEI_NOTFOUND (no such ready peer); TDEI_FULL (the queue of
 * that channel is full: dropped and counted); TDEI_TOOBIG (does not fit
 * max_frame); TDEI_NOMEM. */
int p2p_send(struct p2p *p, uint64_t id, enum p2p_channel channel,
             const uint8_t *bytes, size_t len);

/* p2p_send to every ready peer. Returns how many queued it. */
size_t p2p_broadcast(struct p2p *p, enum p2p_channel channel,
                     const uint8_t *bytes, size_t len);

/* Close peer @id (any state); with @ban its node key is banned for
 * ban_ms. @why is logged. No-op for an unknown id. */
void p2p_disconnect(struct p2p *p, uint64_t id, int ban, const char *why);

/* Close every ready peer whose node key admit() now refuses (after a
 * membership change). Returns how many it closed. */
size_t p2p_recheck(struct p2p *p);

/* The ready peers: at most @cap into @out. Returns the number of ready
 * peers (may exceed @cap). */
size_t p2p_peers(const struct p2p *p, struct p2p_peer_info *out, size_t cap);

void p2p_stats_get(const struct p2p *p, struct p2p_stats *out);

/* Close every connection, timer and the listener; @done(@data) (@done
 * may be NULL) runs from the loop once all handles are closed, never
 * inside p2p_stop, after which p2p_destroy frees. disconnected() runs
 * for the ready peers within p2p_stop; no callback of @cb runs after
 * p2p_stop returns. Once only (asserted); valid before p2p_start. */
void p2p_stop(struct p2p *p, void (*done)(void *data), void *data);

/* Free @p (NULL is allowed): after @done of p2p_stop ran, or when
 * p2p_start was never called. */
void p2p_destroy(struct p2p *p);

#endif
