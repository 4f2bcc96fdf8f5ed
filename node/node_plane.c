/* The data plane's shared part (node_plane.h): the operator and
 * encryption keys, own txs, channel 5, committed blocks, counters. The
 * payload side (node_payload.c) and the stream side (node_stream.c) build
 * on it. Loop thread only. */
#include "api/api.h"
#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/keyfile.h"
#include "core/log.h"
#include "node_plane.h"
#include "p2p/p2p.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define SUBKEY_TAG "tdei/subkey"
#define SEALED_KEY_SIZE (32u + crypto_box_SEALBYTES)
#define OWN_RETRY_MS 100u     /* a pushed-back own tx is tried again after */
#define OWN_TRIES_MAX 256u    /* submits of one own tx at most */

_Static_assert(crypto_box_SEALBYTES == 48, "a sealed 32-byte key is 80 bytes");
_Static_assert(crypto_box_PUBLICKEYBYTES == 32 &&
                   crypto_box_SECRETKEYBYTES == 32,
               "X25519 keys are 32 bytes");

/* ---- own txs ---------------------------------------------------------------- */

enum own_state {
    OWN_QUEUED = 0, /* waits for its turn or a retry */
    OWN_VERIFYING,  /* in mempool_submit */
    OWN_PENDING     /* in the mempool; waits for a block */
};

struct own_tx {
    struct own_tx *next;     /* FIFO */
    uint8_t *body;           /* TxBody with placeholders, encoded */
    size_t body_len;
    node_own_cb cb;
    void *arg;
    enum own_state state;
    uint64_t nonce;          /* the nonce of the current try; 0 none */
    uint8_t tx_id[CODEC_HASH_SIZE]; /* of the current try */
    uint64_t first_ms;       /* uv_now when first submitted */
    uint64_t retry_ms;       /* uv_now before which it is not tried */
    unsigned tries;          /* submits so far */
};

/* What a mempool_submit callback needs; survives the node's stop. */
struct own_submit {
    struct node *node;
    struct own_tx *tx;       /* NULL when the tx was failed meanwhile */
};

struct node_own {
    struct own_tx *head;     /* the one in flight, or next */
    struct own_tx **tail;
    size_t count;
    struct own_submit *inflight; /* the mempool_submit outstanding */
};


static void own_free(struct own_tx *tx)
{
    tdei_free(tx->body);
    tdei_free(tx);
}

/* Remove the head and tell its owner. */
static void own_finish(struct node *node, int code, uint64_t height,
                       const Tdei__TxResult *result, const char *errmsg)
{
    struct node_own *own = node->own;
    struct own_tx *tx = own->head;

    TDEI_ASSERT(tx != NULL);
    own->head = tx->next;
    if (own->head == NULL) {
        own->tail = &own->head;
    }
    own->count--;
    tx->cb(node, tx->arg, code, code == 0 ? tx->tx_id : NULL, height, result,
           errmsg);
    own_free(tx);
}

int node__own_submit(struct node *node, const Tdei__TxBody *body,
                     node_own_cb cb, void *arg)
{
    struct node_own *own = node->own;
    Tdei__TxBody copy = *body;
    struct own_tx *tx;
    int rc;

    if (own == NULL || node->stopping) {
        return TDEI_CANCELED;
    }
    if (own->count >= NODE_OWN_QUEUE_MAX) {
        return TDEI_BUSY;
    }
    tx = tdei_calloc(1, sizeof(*tx));
    if (tx == NULL) {
        return TDEI_NOMEM;
    }
    copy.version = CODEC_VERSION;
    copy.chain_id = node->genesis.chain_id;
    copy.signer.data = node->op_key.pubkey;
    copy.signer.len = TDEI_PUBKEY_SIZE;
    copy.nonce = 1; /* set for real when it is submitted */
    rc = codec_txbody_encode(&copy, &tx->body, &tx->body_len);
    if (rc != 0) {
        tdei_free(tx);
        return rc;
    }
    tx->cb = cb;
    tx->arg = arg;
    *own->tail = tx;
    own->tail = &tx->next;
    own->count++;
    return 0;
}

/* Sign @tx's body with @nonce: the serialized Tx into @out (tdei_free). */
static int own_sign(struct node *node, struct own_tx *tx, uint64_t nonce,
                    uint8_t **out, size_t *out_len, char *errmsg)
{
    Tdei__TxBody *body = NULL;
    Tdei__Tx msg = TDEI__TX__INIT;
    uint8_t sig[TDEI_SIG_SIZE];
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc;

    rc = codec_txbody_decode(&body, tx->body, tx->body_len, errmsg);
    if (rc != 0) {
        return rc;
    }
    body->nonce = nonce;
    rc = codec_txbody_encode(body, &bytes, &len);
    codec_txbody_free(body);
    if (rc == 0) {
        rc = tdei_sign_tagged(sig, &node->op_key, TDEI_TAG_TX, bytes, len);
    }
    if (rc == 0) {
        tdei_sha256(tx->tx_id, bytes, len);
        msg.body.data = bytes;
        msg.body.len = len;
        msg.sig.data = sig;
        msg.sig.len = TDEI_SIG_SIZE;
        rc = codec_tx_encode(&msg, out, out_len);
    }
    tdei_free(bytes);
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                           "cannot sign an own tx: %s", tdei_strerror(rc));
    }
    return 0;
}

/* The operator key's committed nonce. */
static int own_committed_nonce(struct node *node, uint64_t *nonce,
                               char *errmsg)
{
    struct store_read *r;
    int rc = store_read_begin(node->store, &r, errmsg);

    if (rc != 0) {
        return rc;
    }
    rc = exec_query_nonce(r, node->op_key.pubkey, nonce, errmsg);
    store_read_end(r);
    return rc;
}

/* The mempool's answer about @tx (the head): admitted, pushed back (try
 * again), or refused. */
static void own_outcome(struct node *node, struct own_tx *tx, int status,
                        const char *errmsg)
{
    struct mempool_entry entry;

    switch (status) {
    case 0:
        tx->state = OWN_PENDING;
        if (mempool_lookup(node->mempool, &entry, tx->tx_id) == 0) {
            node__p2p_tx(node, entry.tx, entry.tx_size);
        }
        node__maybe_block(node);
        return;
    case TDEI_NONCE_TAKEN:
        /* Another client of this operator key holds that nonce in the
         * mempool: take the next one. */
        tx->state = OWN_QUEUED;
        tx->nonce++;
        return;
    case TDEI_NONCE_USED:
    case TDEI_NONCE_GAP:
    case TDEI_BUSY:
    case TDEI_MEMPOOL_FULL:
    case TDEI_SIGNER_FULL:
        tx->state = OWN_QUEUED;
        tx->nonce = 0; /* read the committed nonce again */
        tx->retry_ms = uv_now(&node->loop) + OWN_RETRY_MS;
        return;
    default:
        TDEI_LOG(TDEI_LOG_WARNING, "plane", "own tx refused",
                 "code=%s error=\"%s\"", tdei_errname(status),
                 errmsg != NULL ? errmsg : "");
        own_finish(node, status, 0, NULL,
                   errmsg != NULL && errmsg[0] != '\0'
                       ? errmsg
                       : tdei_strerror(status));
        return;
    }
}

static void own_submitted(void *data, int status, const uint8_t *txid,
                          const char *errmsg)
{
    struct own_submit *sub = data;
    struct node *node = sub->node;
    struct own_tx *tx = sub->tx;

    (void)txid;
    tdei_free(sub);
    if (node->own == NULL) {
        return;
    }
    node->own->inflight = NULL;
    if (tx == NULL) {
        return; /* failed by a stop meanwhile */
    }
    TDEI_ASSERT(node->own->head == tx);
    own_outcome(node, tx, status, errmsg);
}

/* Submit the head when it waits. */
static void own_kick(struct node *node)
{
    struct node_own *own = node->own;
    struct own_tx *tx = own != NULL ? own->head : NULL;
    struct own_submit *sub;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint64_t now = uv_now(&node->loop);
    uint64_t committed = 0;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc;

    if (tx == NULL || tx->state != OWN_QUEUED || own->inflight != NULL ||
        node->stopping || now < tx->retry_ms) {
        return;
    }
    if (tx->first_ms == 0) {
        tx->first_ms = now;
    }
    if (tx->tries >= OWN_TRIES_MAX ||
        now - tx->first_ms > NODE_OWN_TIMEOUT_MS) {
        own_finish(node, TDEI_TIMEOUT, 0, NULL,
                   "the tx was not admitted and committed in time");
        return;
    }
    rc = own_committed_nonce(node, &committed, errmsg);
    if (rc != 0) {
        own_finish(node, rc, 0, NULL, errmsg);
        return;
    }
    if (tx->nonce <= committed) {
        tx->nonce = committed + 1;
    }
    rc = own_sign(node, tx, tx->nonce, &bytes, &len, errmsg);
    sub = rc == 0 ? tdei_calloc(1, sizeof(*sub)) : NULL;
    if (rc == 0 && sub == NULL) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                         "no memory for an own tx");
    }
    if (rc != 0) {
        tdei_free(bytes);
        own_finish(node, rc, 0, NULL, errmsg);
        return;
    }
    sub->node = node;
    sub->tx = tx;
    tx->tries++;
    tx->state = OWN_VERIFYING;
    own->inflight = sub;
    rc = mempool_submit(node->mempool, errmsg, bytes, len, sub,
                        own_submitted);
    tdei_free(bytes);
    if (rc != 0) {
        /* Refused at once: the callback never runs. */
        own->inflight = NULL;
        tdei_free(sub);
        own_outcome(node, tx, rc, errmsg);
    }
}

/* A block committed: the pending head learns its fate. */
static void own_committed(struct node *node,
                          const uint8_t (*tx_ids)[CODEC_HASH_SIZE],
                          size_t count)
{
    struct own_tx *tx = node->own != NULL ? node->own->head : NULL;
    Tdei__TxResult *result = NULL;
    struct store_read *r;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint64_t height = 0;
    uint64_t committed = 0;
    uint32_t index = 0;
    int rc;

    if (tx == NULL || tx->state != OWN_PENDING) {
        return;
    }
    for (size_t i = 0; i < count; i++) {
        if (memcmp(tx_ids[i], tx->tx_id, CODEC_HASH_SIZE) != 0) {
            continue;
        }
        rc = store_read_begin(node->store, &r, errmsg);
        if (rc == 0) {
            rc = exec_query_tx(r, tx->tx_id, &height, &index, &result,
                               errmsg);
            store_read_end(r);
        }
        own_finish(node, rc, height, result, errmsg);
        codec_txresult_free(result);
        return;
    }
    /* Not in this block. If its nonce is committed anyway, another tx of
     * the operator key took it (through another node): try again. */
    if (own_committed_nonce(node, &committed, errmsg) == 0 &&
        committed >= tx->nonce) {
        tx->state = OWN_QUEUED;
        tx->nonce = committed + 1;
    }
}

/* A pending head the mempool dropped (it no longer holds it) and no block
 * brought is submitted again. */
static void own_check_pending(struct node *node)
{
    struct own_tx *tx = node->own != NULL ? node->own->head : NULL;
    struct mempool_entry entry;

    if (tx == NULL || tx->state != OWN_PENDING) {
        return;
    }
    if (mempool_lookup(node->mempool, &entry, tx->tx_id) != 0) {
        tx->state = OWN_QUEUED;
        tx->nonce = 0;
    } else if (uv_now(&node->loop) - tx->first_ms > NODE_OWN_TIMEOUT_MS) {
        own_finish(node, TDEI_TIMEOUT, 0, NULL,
                   "the tx was admitted but not committed in time");
    }
}

static void own_cancel_all(struct node *node)
{
    if (node->own != NULL && node->own->inflight != NULL) {
        node->own->inflight->tx = NULL; /* its callback finds nothing */
    }
    while (node->own != NULL && node->own->head != NULL) {
        own_finish(node, TDEI_CANCELED, 0, NULL, "the node is stopping");
    }
}

/* ---- keys ------------------------------------------------------------------- */

static int plane_load_keys(struct node *node, const char *passphrase,
                           char *errmsg)
{
    char path[HOME_PATH_MAX];
    struct tdei_keyfile_key key;
    int rc;

    (void)home_key_path(path, node->home, HOME_KEY_OPERATOR);
    rc = tdei_keyfile_load(path, &key, passphrase, errmsg);
    if (rc == 0 && key.kind != TDEI_KEY_SECP256K1) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADKEY,
                         "%s is not a secp256k1 key", path);
    }
    if (rc == 0) {
        rc = tdei_keypair_from_secret(&node->op_key, key.secret);
    }
    tdei_keyfile_key_wipe(&key);
    if (rc != 0) {
        return rc;
    }
    (void)home_key_path(path, node->home, HOME_KEY_ENCRYPTION);
    rc = tdei_keyfile_load(path, &key, passphrase, errmsg);
    if (rc == 0 && key.kind != TDEI_KEY_X25519) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADKEY,
                         "%s is not an X25519 key", path);
    }
    if (rc == 0 && memcmp(key.pubkey, node->identity.encryption_key,
                          TDEI_X25519_SIZE) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADKEY,
                         "%s does not match the home's encryption key",
                         path);
    }
    if (rc == 0) {
        memcpy(node->enc_secret, key.secret, sizeof(node->enc_secret));
        node->plane_keys = 1;
    }
    tdei_keyfile_key_wipe(&key);
    return rc;
}

void node__plane_subkey(const struct node *node,
                        const uint8_t xid[CODEC_HASH_SIZE], uint8_t key[32])
{
    crypto_generichash_state st;

    TDEI_ASSERT(node->plane_keys);
    (void)crypto_generichash_init(&st, node->enc_secret,
                                  sizeof(node->enc_secret), 32);
    (void)crypto_generichash_update(&st, (const uint8_t *)SUBKEY_TAG,
                                    strlen(SUBKEY_TAG));
    (void)crypto_generichash_update(&st, xid, CODEC_HASH_SIZE);
    (void)crypto_generichash_final(&st, key, 32);
    sodium_memzero(&st, sizeof(st));
}

int node__plane_unseal(const struct node *node, const uint8_t *sealed,
                       size_t len, uint8_t key[32], char *errmsg)
{
    TDEI_ASSERT(node->plane_keys);
    if (len != SEALED_KEY_SIZE) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADKEY,
                           "the sealed key is %zu bytes; a sealed 32-byte "
                           "key is %u",
                           len, SEALED_KEY_SIZE);
    }
    if (crypto_box_seal_open(key, sealed, len, node->identity.encryption_key,
                             node->enc_secret) != 0) {
        sodium_memzero(key, 32);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADKEY,
                           "the sealed key does not open with this member's "
                           "encryption key (sealed to another key, or "
                           "altered); dispute the exchange");
    }
    return 0;
}

int node__plane_seal_to(struct store_read *r, const char *member,
                        const uint8_t key[32], uint8_t sealed[80],
                        char *errmsg)
{
    Tdei__Member *m = NULL;
    int rc = exec_query_member(r, member, &m, errmsg);

    if (rc != 0) {
        return rc;
    }
    if (m->encryption_key.len != crypto_box_PUBLICKEYBYTES) {
        codec_member_free(m);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                           "member %s has no 32-byte encryption key", member);
    }
    rc = crypto_box_seal(sealed, key, 32, m->encryption_key.data);
    codec_member_free(m);
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CRYPTO,
                           "cannot seal a key to member %s", member);
    }
    return 0;
}

/* ---- peers ------------------------------------------------------------------ */

int node__plane_peer_key(const struct node *node, uint64_t peer,
                         uint8_t key[TDEI_PUBKEY_SIZE])
{
    for (size_t i = 0; peer != 0 && i < node->peer_slots; i++) {
        if (node->peers[i].id == peer) {
            memcpy(key, node->peers[i].key, TDEI_PUBKEY_SIZE);
            return 1;
        }
    }
    return 0;
}

uint64_t node__plane_peer_of(const struct node *node,
                             const uint8_t key[TDEI_PUBKEY_SIZE])
{
    for (size_t i = 0; i < node->peer_slots; i++) {
        if (node->peers[i].id != 0 &&
            memcmp(node->peers[i].key, key, TDEI_PUBKEY_SIZE) == 0) {
            return node->peers[i].id;
        }
    }
    return 0;
}

int node__plane_member_of(struct store_read *r,
                          const uint8_t key[TDEI_PUBKEY_SIZE], char *member,
                          char *errmsg)
{
    uint8_t skey[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_nodekey(skey, key);
    const uint8_t *val;
    size_t vlen;
    Tdei__NodeKey *nk = NULL;
    int rc = store_get(r, STORE_DB_STATE, skey, klen, &val, &vlen);

    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOT_MEMBER,
                           "no member has this node key");
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                           "read a node key: %s", store_read_errmsg(r));
    }
    rc = codec_node_key_decode(&nk, val, vlen, errmsg);
    if (rc != 0) {
        return rc;
    }
    (void)snprintf(member, TDEI_MEMBER_ID_MAX + 1, "%s", nk->member);
    codec_node_key_free(nk);
    return 0;
}

uint64_t node__plane_member_peer(const struct node *node, struct store_read *r,
                                 const char *member)
{
    Tdei__Member *m = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint64_t peer = 0;

    if (exec_query_member(r, member, &m, errmsg) != 0) {
        return 0;
    }
    if (m->node_key.len == TDEI_PUBKEY_SIZE) {
        peer = node__plane_peer_of(node, m->node_key.data);
    }
    codec_member_free(m);
    return peer;
}

int node__plane_send(struct node *node, uint64_t peer,
                     const Tdei__P2p__DataMessage *msg)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc;

    if (node->p2p == NULL || peer == 0) {
        return TDEI_NOTFOUND;
    }
    rc = codec_encode(&msg->base, &bytes, &len);
    if (rc != 0) {
        return rc;
    }
    rc = p2p_send(node->p2p, peer, P2P_CH_CHUNK, bytes, len);
    tdei_free(bytes);
    return rc;
}

void node__plane_peer_up(struct node *node, uint64_t peer,
                         const uint8_t key[TDEI_PUBKEY_SIZE])
{
    if (node->stopping || node->own == NULL) {
        return;
    }
    node__payload_peer_up(node, peer, key);
    node__stream_peer_up(node, peer, key);
}

void node__plane_peer_down(struct node *node, uint64_t peer,
                           const uint8_t key[TDEI_PUBKEY_SIZE])
{
    (void)key;
    if (node->own == NULL) {
        return;
    }
    node__payload_peer_down(node, peer);
    node__stream_peer_down(node, peer);
}

int node__plane_receive(struct node *node, uint64_t peer,
                        const uint8_t *bytes, size_t len, char *errmsg)
{
    Tdei__P2p__DataMessage *msg = NULL;
    int rc;

    if (node->own == NULL) {
        return 0; /* not started, or stopping */
    }
    rc = codec_message_unpack((ProtobufCMessage **)&msg,
                              &tdei__p2p__data_message__descriptor, bytes,
                              len, "data message", errmsg);
    if (rc != 0) {
        return rc;
    }
    switch (msg->msg_case) {
    case TDEI__P2P__DATA_MESSAGE__MSG_CHUNK_REQUEST:
    case TDEI__P2P__DATA_MESSAGE__MSG_CHUNK:
    case TDEI__P2P__DATA_MESSAGE__MSG_CHUNK_REFUSED:
        rc = node__payload_receive(node, peer, msg, errmsg);
        break;
    case TDEI__P2P__DATA_MESSAGE__MSG_BATCH:
    case TDEI__P2P__DATA_MESSAGE__MSG_BATCH_REQUEST:
    case TDEI__P2P__DATA_MESSAGE__MSG_BATCH_REFUSED:
        rc = node__stream_receive(node, peer, msg, errmsg);
        break;
    default:
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                         "data message with no known content (%d)",
                         (int)msg->msg_case);
        break;
    }
    codec_message_free(&msg->base);
    return rc;
}

/* ---- ledger reads ------------------------------------------------------------ */

int node__plane_exchange(struct store_read *r, const uint8_t *xid,
                         Tdei__Exchange **out, char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_exchange(key, xid);
    const uint8_t *val;
    size_t vlen;
    int rc = store_get(r, STORE_DB_STATE, key, klen, &val, &vlen);

    *out = NULL;
    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                           "no such exchange");
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                           "read an exchange: %s", store_read_errmsg(r));
    }
    return codec_exchange_decode(out, val, vlen, errmsg);
}

int node__plane_grant_live(const Tdei__Exchange *ex, uint64_t height,
                           char *errmsg)
{
    switch (ex->status) {
    case CODEC_EXCHANGE_DELIVERED:
        return 0;
    case CODEC_EXCHANGE_SETTLED:
        if (height > ex->grant_expires) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NO_GRANT,
                               "the grant expired at height %llu (now "
                               "%llu); request the data again",
                               (unsigned long long)ex->grant_expires,
                               (unsigned long long)height);
        }
        return 0;
    case CODEC_EXCHANGE_REQUESTED:
    case CODEC_EXCHANGE_APPROVED:
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOT_DELIVERED,
                           "the exchange is %s, not delivered yet; wait for "
                           "the owner's node to deliver it",
                           ex->status == CODEC_EXCHANGE_REQUESTED
                               ? "awaiting approval"
                               : "approved");
    case CODEC_EXCHANGE_REVOKED:
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NO_GRANT,
                           "the grant was revoked at height %llu",
                           (unsigned long long)ex->closed_height);
    default:
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NO_GRANT,
                           "the exchange is closed (status %u) and grants "
                           "nothing",
                           ex->status);
    }
}

int node__plane_block_txs(struct node *node, struct store_read *r,
                          uint64_t height,
                          int (*cb)(void *arg, const struct node_block_tx *tx),
                          void *arg, char *errmsg)
{
    Tdei__Block *block = NULL;
    Tdei__Header *header = NULL;
    const uint8_t *bytes;
    size_t len;
    uint8_t *commit = NULL;
    size_t commit_len = 0;
    int rc;

    rc = node__block_read(node, r, height, &bytes, &len, &commit, &commit_len,
                          errmsg);
    tdei_free(commit);
    if (rc == 0) {
        rc = codec_block_decode(&block, &header, bytes, len, &node->limits,
                                errmsg);
    }
    for (size_t i = 0; rc == 0 && i < block->n_txs; i++) {
        Tdei__Tx *tx = NULL;
        Tdei__TxBody *body = NULL;
        Tdei__TxResult *result = NULL;
        uint8_t id[CODEC_HASH_SIZE];
        uint8_t key[12];
        const uint8_t *val;
        size_t vlen;

        store_u64_encode(key, height);
        key[8] = (uint8_t)(i >> 24);
        key[9] = (uint8_t)(i >> 16);
        key[10] = (uint8_t)(i >> 8);
        key[11] = (uint8_t)i;
        rc = codec_tx_decode(&tx, block->txs[i].data, block->txs[i].len,
                             block->txs[i].len, errmsg);
        if (rc == 0) {
            tdei_sha256(id, tx->body.data, tx->body.len);
            rc = codec_txbody_decode(&body, tx->body.data, tx->body.len,
                                     errmsg);
        }
        if (rc == 0) {
            rc = store_get(r, STORE_DB_RESULTS, key, sizeof(key), &val,
                           &vlen);
            if (rc != 0) {
                rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE,
                                 rc == TDEI_NOTFOUND ? TDEI_CORRUPT : rc,
                                 "no result for tx %zu of block %llu", i,
                                 (unsigned long long)height);
            }
        }
        if (rc == 0) {
            rc = codec_txresult_decode(&result, val, vlen, errmsg);
        }
        if (rc == 0) {
            struct node_block_tx t = {.height = height,
                                      .index = (uint32_t)i,
                                      .time_ms = header->time_ms,
                                      .tx_id = id,
                                      .body = body,
                                      .result = result};
            rc = cb(arg, &t);
        }
        codec_txresult_free(result);
        codec_txbody_free(body);
        codec_tx_free(tx);
    }
    codec_block_free(block);
    codec_header_free(header);
    return rc;
}

const char *node__plane_attr(const Tdei__Event *ev, const char *key)
{
    for (size_t i = 0; i < ev->n_attrs; i++) {
        if (strcmp(ev->attrs[i]->key, key) == 0) {
            return ev->attrs[i]->value;
        }
    }
    return NULL;
}

/* ---- life cycle ---------------------------------------------------------------- */

int node__plane_start(struct node *node, const char *passphrase,
                      char *errmsg)
{
    int rc = plane_load_keys(node, passphrase, errmsg);

    if (rc != 0) {
        return rc;
    }
    node->own = tdei_calloc(1, sizeof(*node->own));
    if (node->own == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "no memory for the data plane");
    }
    node->own->tail = &node->own->head;
    rc = node__payload_start(node, errmsg);
    if (rc == 0) {
        rc = node__stream_start(node, errmsg);
    }
    return rc;
}

void node__plane_stop(struct node *node)
{
    if (node->own == NULL) {
        return;
    }
    node__payload_stop(node);
    node__stream_stop(node);
    own_cancel_all(node);
}

void node__plane_free(struct node *node)
{
    if (node->own != NULL) {
        own_cancel_all(node);
        node__payload_free(node);
        node__stream_free(node);
        tdei_free(node->own);
        node->own = NULL;
    }
    tdei_keypair_wipe(&node->op_key);
    sodium_memzero(node->enc_secret, sizeof(node->enc_secret));
    node->plane_keys = 0;
}

void node__plane_committed(struct node *node,
                           const uint8_t (*tx_ids)[CODEC_HASH_SIZE],
                           size_t count)
{
    struct store_read *r;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    if (node->own == NULL || node->stopping) {
        return;
    }
    own_committed(node, tx_ids, count);
    if (store_read_begin(node->store, &r, errmsg) != 0) {
        TDEI_LOG(TDEI_LOG_WARNING, "plane", "cannot read the ledger",
                 "error=\"%s\"", errmsg);
        return;
    }
    node__payload_committed(node, r);
    node__stream_committed(node, r);
    store_read_end(r);
    own_kick(node);
}

void node__plane_tick(struct node *node)
{
    if (node->own == NULL || node->stopping) {
        return;
    }
    own_check_pending(node);
    own_kick(node);
    node__stream_tick(node);
}

/* ---- the client API ------------------------------------------------------------ */

void node__plane_request(struct node *node, struct api_call *call,
                         const Tdei__Api__Request *req)
{
    if (node->own == NULL) {
        api_call_respond_error(call, TDEI_CANCELED,
                               "the data plane is not running");
        return;
    }
    switch (req->req_case) {
    case TDEI__API__REQUEST__REQ_INGEST:
    case TDEI__API__REQUEST__REQ_READ_STREAM:
    case TDEI__API__REQUEST__REQ_GET_STREAM_STATE:
        node__stream_request(node, call, req);
        return;
    case TDEI__API__REQUEST__REQ_IMPORT_PAYLOAD:
    case TDEI__API__REQUEST__REQ_FETCH_PAYLOAD:
    case TDEI__API__REQUEST__REQ_GET_PAYLOAD_STATE:
    case TDEI__API__REQUEST__REQ_SET_DELIVERY:
    case TDEI__API__REQUEST__REQ_DELIVER_NOW:
        node__payload_request(node, call, req);
        return;
    default:
        api_call_respond_error(call, TDEI_BADREQUEST,
                               "request type %d is not known to this node",
                               (int)req->req_case);
        return;
    }
}

int node__plane_cancel(struct node *node, struct api_call *call)
{
    if (node->own == NULL) {
        return 0;
    }
    return node__payload_cancel(node, call) ||
           node__stream_cancel(node, call);
}

void node__plane_counters_fill(const struct node *node,
                               Tdei__Api__DataPlaneCounters *c)
{
    const struct node_plane_counters *d = &node->dp;

    c->chunks_served = d->chunks_served;
    c->chunks_refused = d->chunks_refused;
    c->chunks_fetched = d->chunks_fetched;
    c->chunks_bad = d->chunks_bad;
    c->bytes_served = d->bytes_served;
    c->bytes_fetched = d->bytes_fetched;
    c->deliveries = d->deliveries;
    c->records_ingested = d->records_ingested;
    c->records_appended = d->records_appended;
    c->records_refused = d->records_refused;
    c->batches_appended = d->batches_appended;
    c->batches_refused = d->batches_refused;
    c->batches_pushed = d->batches_pushed;
    c->records_received = d->records_received;
    c->batches_bad = d->batches_bad;
}
