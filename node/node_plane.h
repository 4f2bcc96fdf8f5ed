/* The node's data plane (DESIGN.md section 9): what node_plane.c shares
 * with node_payload.c (payload import, delivery, chunk transfer, fetch)
 * and node_stream.c (stream ingest, batches, push, subscribers).
 *
 * node_plane.c holds the parts both use:
 *   - the secret keys the data plane needs besides the node key: the
 *     operator key of the home (keys/operator.key), which signs the txs
 *     the node submits on its member's behalf (deliveries, stream
 *     appends), and the encryption key (keys/encryption.key), which opens
 *     content keys sealed to this member;
 *   - own txs: a FIFO of txs to sign with the operator key, submit and
 *     follow until they commit, one in flight at a time;
 *   - channel 5 of the peer protocol (DataMessage): decoding and
 *     dispatch, and sending to a peer;
 *   - reading the txs and results of a committed block;
 *   - the counters of the Status answer.
 *
 * Everything here runs on the loop thread. */
#ifndef TDEI_NODE_NODE_PLANE_H
#define TDEI_NODE_NODE_PLANE_H

#include "node_internal.h"
#include "p2p.pb-c.h"

struct api_call;

/* ---- life cycle (node.c calls these) ------------------------------------- */

/* Load the operator and encryption keys (with @passphrase, as the node
 * key), then start the payload side and the stream side.
 * Returns: 0, or a code with errmsg (the node does not start). */
int node__plane_start(struct node *node, const char *passphrase,
                      char *errmsg);

/* The node is stopping: answer every held API call (TDEI_CANCELED), fail
 * every queued own tx (TDEI_CANCELED), close timers. Work queued on
 * worker threads still completes (its callbacks see node->stopping).
 * node__plane_free runs after the loop has stopped, once every handle
 * closed and every worker callback ran. */
void node__plane_stop(struct node *node);
void node__plane_free(struct node *node);

/* Block node->height was committed, holding the txs @tx_ids (@count):
 * own txs learn their results, then the payload and stream sides look at
 * the block. */
void node__plane_committed(struct node *node,
                           const uint8_t (*tx_ids)[CODEC_HASH_SIZE],
                           size_t count);

/* node.c's tick (every 10 ms): own txs that wait are submitted. */
void node__plane_tick(struct node *node);

/* Ready peer @peer with node key @key came or went (node_p2p.c). */
void node__plane_peer_up(struct node *node, uint64_t peer,
                         const uint8_t key[TDEI_PUBKEY_SIZE]);
void node__plane_peer_down(struct node *node, uint64_t peer,
                           const uint8_t key[TDEI_PUBKEY_SIZE]);

/* A channel-5 message from ready peer @peer (node_p2p.c).
 * Returns: 0, or a code with errmsg when the peer broke the protocol (it
 * is disconnected and banned). */
int node__plane_receive(struct node *node, uint64_t peer,
                        const uint8_t *bytes, size_t len, char *errmsg);

/* The data-plane requests of the client API (node_api.c): answers @call
 * now or later. */
void node__plane_request(struct node *node, struct api_call *call,
                         const Tdei__Api__Request *req);

/* @call's connection went away: returns 1 when the data plane held it
 * (and answered it), 0 otherwise. */
int node__plane_cancel(struct node *node, struct api_call *call);

/* Fill @c from the counters. */
void node__plane_counters_fill(const struct node *node,
                               Tdei__Api__DataPlaneCounters *c);

/* ---- shared by the two sides --------------------------------------------- */

/* The node key of ready peer @peer; 0 when it is not ready (copied to
 * @key on 1). */
int node__plane_peer_key(const struct node *node, uint64_t peer,
                         uint8_t key[TDEI_PUBKEY_SIZE]);

/* The ready peer whose node key is @key; 0 when none. */
uint64_t node__plane_peer_of(const struct node *node,
                             const uint8_t key[TDEI_PUBKEY_SIZE]);

/* The member whose node key is @key, from the committed state read by @r:
 * @member gets its id (TDEI_MEMBER_ID_MAX + 1 bytes).
 * Returns: 0, TDEI_NOT_MEMBER (no member has that node key), or a read
 * failure. */
int node__plane_member_of(struct store_read *r,
                          const uint8_t key[TDEI_PUBKEY_SIZE], char *member,
                          char *errmsg);

/* The ready peer run by member @member (by its node key in the state read
 * by @r); 0 when it is not connected or unknown. */
uint64_t node__plane_member_peer(const struct node *node, struct store_read *r,
                                 const char *member);

/* Encode @msg and queue it for peer @peer on channel 5.
 * Returns: 0, TDEI_NOTFOUND (no peer manager or no such peer), TDEI_FULL
 * (its queue is full: the message is dropped), TDEI_NOMEM. */
int node__plane_send(struct node *node, uint64_t peer,
                     const Tdei__P2p__DataMessage *msg);

/* Read committed exchange @xid (32 bytes) from @r.
 * Returns: 0 (*out the caller's, codec_exchange_free), TDEI_NOTFOUND, or a
 * read or decode failure with errmsg. */
int node__plane_exchange(struct store_read *r, const uint8_t *xid,
                         Tdei__Exchange **out, char *errmsg);

/* Whether @ex grants its consumer the data now, at committed height
 * @height: delivered, or settled and @height <= grant_expires; never
 * revoked or closed. Returns 0 when live, else TDEI_NO_GRANT (or
 * TDEI_NOT_DELIVERED before delivery) with a reason in errmsg. */
int node__plane_grant_live(const Tdei__Exchange *ex, uint64_t height,
                           char *errmsg);

/* The subscription key of stream exchange @xid as its owner's node sees
 * it: derived from this node's encryption secret key, so it needs no
 * storage and survives restarts:
 *   key = BLAKE2b-256(key = encryption secret, "tdei/subkey" || xid). */
void node__plane_subkey(const struct node *node,
                        const uint8_t xid[CODEC_HASH_SIZE],
                        uint8_t key[32]);

/* Open @sealed (crypto_box_seal of a 32-byte key, 80 bytes) with this
 * node's encryption key pair.
 * Returns: 0, or TDEI_BADKEY (not sealed to this member's key, or not 80
 * bytes) with errmsg. */
int node__plane_unseal(const struct node *node, const uint8_t *sealed,
                       size_t len, uint8_t key[32], char *errmsg);

/* Seal the 32-byte @key to member @member's encryption key read from @r
 * (crypto_box_seal): @sealed gets 80 bytes.
 * Returns: 0, TDEI_UNKNOWN_MEMBER, or a read failure with errmsg. */
int node__plane_seal_to(struct store_read *r, const char *member,
                        const uint8_t key[32], uint8_t sealed[80],
                        char *errmsg);

/* One tx of a committed block, for node__plane_block_txs. The pointers
 * live during the callback only. */
struct node_block_tx {
    uint64_t height;                 /* the block */
    uint32_t index;                  /* the tx's position, from 0 */
    uint64_t time_ms;                /* the block's header time */
    const uint8_t *tx_id;            /* 32 bytes */
    const Tdei__TxBody *body;        /* decoded */
    const Tdei__TxResult *result;    /* its result (result->code 0:
                                        applied) */
};

/* Call @cb for every tx of committed block @height, in order, reading
 * from @r. A non-zero return from @cb stops the walk and is returned.
 * Returns: 0, the callback's code, or a read/decode failure with errmsg. */
int node__plane_block_txs(struct node *node, struct store_read *r,
                          uint64_t height,
                          int (*cb)(void *arg, const struct node_block_tx *tx),
                          void *arg, char *errmsg);

/* The value of attribute @key in @ev; NULL when absent. */
const char *node__plane_attr(const Tdei__Event *ev, const char *key);

/* ---- own txs --------------------------------------------------------------- */

/* What became of an own tx: @code 0: committed at @height with @result
 * (result->code says whether the contract applied it); else the tx was
 * not committed: TDEI_CANCELED (the node is stopping), TDEI_TIMEOUT (not
 * committed within NODE_OWN_TIMEOUT_MS), or the mempool's refusal. The
 * pointers live during the call only. */
typedef void (*node_own_cb)(struct node *node, void *arg, int code,
                            const uint8_t *tx_id, uint64_t height,
                            const Tdei__TxResult *result,
                            const char *errmsg);

#define NODE_OWN_QUEUE_MAX 1024     /* own txs queued at most */
#define NODE_OWN_TIMEOUT_MS 60000u  /* one not committed by then fails */

/* Queue a tx with the op of @body (op_case and the op set; every other
 * field is filled here: version, chain id, signer = the operator key,
 * nonce). @body is encoded now and not kept. The txs are submitted in
 * order, one at a time, each once the one before committed; nonce = the
 * committed nonce + 1, moving past any nonce another client holds in
 * the mempool (TDEI_NONCE_TAKEN).
 * Returns: 0 (@cb runs exactly once, later), TDEI_BUSY (the queue is
 * full), TDEI_CANCELED (stopping), TDEI_NOMEM, or the encoder's code. */
int node__own_submit(struct node *node, const Tdei__TxBody *body,
                     node_own_cb cb, void *arg);

/* ---- the payload side (node_payload.c) ---------------------------------- */

int node__payload_start(struct node *node, char *errmsg);
void node__payload_stop(struct node *node);
void node__payload_free(struct node *node);
void node__payload_committed(struct node *node, struct store_read *r);
void node__payload_peer_up(struct node *node, uint64_t peer,
                           const uint8_t key[TDEI_PUBKEY_SIZE]);
void node__payload_peer_down(struct node *node, uint64_t peer);
int node__payload_receive(struct node *node, uint64_t peer,
                          const Tdei__P2p__DataMessage *msg, char *errmsg);
void node__payload_request(struct node *node, struct api_call *call,
                           const Tdei__Api__Request *req);
int node__payload_cancel(struct node *node, struct api_call *call);

/* ---- the stream side (node_stream.c) ------------------------------------ */

int node__stream_start(struct node *node, char *errmsg);
void node__stream_stop(struct node *node);
void node__stream_free(struct node *node);
void node__stream_committed(struct node *node, struct store_read *r);
void node__stream_tick(struct node *node);
void node__stream_peer_up(struct node *node, uint64_t peer,
                          const uint8_t key[TDEI_PUBKEY_SIZE]);
void node__stream_peer_down(struct node *node, uint64_t peer);
int node__stream_receive(struct node *node, uint64_t peer,
                         const Tdei__P2p__DataMessage *msg, char *errmsg);
void node__stream_request(struct node *node, struct api_call *call,
                          const Tdei__Api__Request *req);
int node__stream_cancel(struct node *node, struct api_call *call);

#endif
