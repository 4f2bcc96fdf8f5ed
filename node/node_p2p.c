/* The node on the network (node_internal.h; DESIGN.md section 7): the
 * peer manager (p2p/p2p.h) with the ledger's answers.
 *
 *   admit        a peer's node key must be the node key of an active
 *                member in the committed state; after every block the
 *                ready peers are asked again (p2p_recheck), so a member
 *                removed by governance is disconnected and refused.
 *   tx gossip    txs a client submitted here go to every peer once
 *                admitted, batched per tick (P2P_CH_TX); a peer's txs go
 *                to the mempool (through a bounded backlog while its
 *                verification queue is full) and are not forwarded (full
 *                mesh).
 *   consensus    own proposals and votes go to every peer, and again
 *                every consensus.gossip_interval_ms and to a peer that
 *                connects, until the height is committed; a peer's go to
 *                the engine (node__cons_receive), or wait in node->future
 *                when they are for the next height.
 *   status       every peer hears this node's height after the
 *                handshake and after each block (P2P_CH_STATUS).
 *   block sync   a node behind a peer asks it for up to NODE_SYNC_BATCH
 *                blocks from its next height; each answer's Commit is
 *                verified against the validator set of its height
 *                (exec_query_validators_at) before the block is kept, or,
 *                for a block beyond tip + 2 whose set is not decided yet,
 *                before it is committed (node__synced_verify); kept
 *                blocks are committed in order (node__jobs_next), then
 *                consensus goes on from the new tip. A request unanswered
 *                for NODE_SYNC_TIMEOUT_MS goes to another peer.
 * A peer whose message does not decode, or whose signature or commit does
 * not verify, is disconnected and banned (the message callback's code). */
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/log.h"
#include "node_internal.h"
#include "node_plane.h"
#include "api.pb-c.h"
#include "p2p.pb-c.h"
#include "p2p/p2p.h"

#include <string.h>

/* TxGossip bytes gathered before they are sent (or at the next tick). */
#define NODE_TX_BATCH_BYTES (256u * TDEI_KIB)

/* ---- peers ------------------------------------------------------------------ */

static struct node_peer *node_peer_find(struct node *node, uint64_t id)
{
    for (size_t i = 0; i < node->peer_slots; i++) {
        if (node->peers[i].id == id) {
            return &node->peers[i];
        }
    }
    return NULL;
}

size_t node__p2p_peer_count(const struct node *node)
{
    struct p2p_stats stats;

    if (node->p2p == NULL) {
        return 0;
    }
    p2p_stats_get(node->p2p, &stats);
    return stats.ready;
}

/* One row of Status.peer_info with the bytes it points to. */
struct node_peer_row {
    Tdei__Api__PeerInfo pi;       /* first: a row pointer is a pi pointer */
    char addr[P2P_ADDR_MAX];
    uint8_t key[TDEI_PUBKEY_SIZE];
};

void node__p2p_status_free(Tdei__Api__Status *st)
{
    if (st->peer_info != NULL) {
        tdei_free(st->n_peer_info > 0 ? st->peer_info[0] : NULL);
        tdei_free(st->peer_info);
    }
    st->peer_info = NULL;
    st->n_peer_info = 0;
}

int node__p2p_status_fill(struct node *node, Tdei__Api__Status *st,
                          Tdei__Api__PeerCounters *c)
{
    struct p2p_peer_info *info = NULL;
    struct node_peer_row *rows = NULL;
    struct p2p_stats stats;
    uint64_t now = uv_now(&node->loop);
    size_t n;

    if (node->p2p == NULL) {
        return 0;
    }
    p2p_stats_get(node->p2p, &stats);
    c->accepted = stats.accepted;
    c->dialled = stats.dialled;
    c->handshakes_ok = stats.handshakes_ok;
    c->handshakes_failed = stats.handshakes_failed;
    c->frames_bad = stats.frames_bad;
    c->messages_refused = stats.messages_refused;
    c->dropped = stats.dropped;
    c->banned_now = stats.banned;
    c->connecting_now = stats.connecting;
    st->peer_counters = c;
    n = p2p_peers(node->p2p, NULL, 0);
    if (n == 0) {
        return 0;
    }
    info = tdei_calloc(n, sizeof(*info));
    rows = tdei_calloc(n, sizeof(*rows));
    st->peer_info = tdei_calloc(n, sizeof(*st->peer_info));
    if (info == NULL || rows == NULL || st->peer_info == NULL) {
        tdei_free(info);
        tdei_free(rows);
        tdei_free(st->peer_info);
        st->peer_info = NULL;
        return TDEI_NOMEM;
    }
    n = p2p_peers(node->p2p, info, n);
    for (size_t i = 0; i < n; i++) {
        struct node_peer_row *row = &rows[i];
        struct node_peer *peer = node_peer_find(node, info[i].id);
        tdei__api__peer_info__init(&row->pi);
        memcpy(row->addr, info[i].addr, sizeof(row->addr));
        row->addr[sizeof(row->addr) - 1] = '\0';
        memcpy(row->key, info[i].node_key, TDEI_PUBKEY_SIZE);
        row->pi.address = row->addr;
        row->pi.node_key.data = row->key;
        row->pi.node_key.len = TDEI_PUBKEY_SIZE;
        row->pi.outbound = info[i].outbound != 0;
        row->pi.connected_for_ms = now - info[i].connected_ms;
        row->pi.height = peer != NULL ? peer->height : 0;
        row->pi.frames_in = info[i].frames_in;
        row->pi.frames_out = info[i].frames_out;
        row->pi.bytes_in = info[i].bytes_in;
        row->pi.bytes_out = info[i].bytes_out;
        row->pi.dropped = info[i].dropped;
        row->pi.queued_bytes = info[i].queued_bytes;
        st->peer_info[i] = &row->pi;
    }
    st->n_peer_info = n;
    if (n == 0) {
        tdei_free(rows); /* the peers left between the two calls */
    }
    tdei_free(info);
    return 0;
}

/* A peer's node key must be an active member's, in the committed state. */
static int node_admit(void *data, const uint8_t key[TDEI_PUBKEY_SIZE],
                      char *errmsg)
{
    struct node *node = data;
    uint8_t skey[CONTRACT_KEY_SIZE_MAX];
    char hex[TDEI_HEX_SIZE(TDEI_PUBKEY_SIZE)];
    Tdei__NodeKey *record = NULL;
    Tdei__Member *member = NULL;
    struct store_read *r;
    const uint8_t *val;
    size_t vlen;
    size_t klen = contract_key_nodekey(skey, key);
    int rc;

    rc = store_read_begin(node->store, &r, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = store_get(r, STORE_DB_STATE, skey, klen, &val, &vlen);
    if (rc == 0) {
        rc = codec_node_key_decode(&record, val, vlen, errmsg);
    }
    if (rc == 0) {
        rc = exec_query_member(r, record->member, &member, errmsg);
    }
    store_read_end(r);
    if (rc == 0 && member->status != CODEC_MEMBER_ACTIVE) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOT_MEMBER,
                         "node key %s belongs to member %s, which is not "
                         "active",
                         tdei_hex_encode(hex, sizeof(hex), key, 8),
                         member->id);
    } else if (rc == TDEI_NOTFOUND) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOT_MEMBER,
                         "node key %s is not a member's node key",
                         tdei_hex_encode(hex, sizeof(hex), key, 8));
    }
    codec_member_free(member);
    codec_node_key_free(record);
    return rc;
}

/* ---- sending ---------------------------------------------------------------- */

/* Serialize @msg and send it on @channel to peer @id, or to every peer
 * when @id is 0. */
static void node_p2p_send(struct node *node, uint64_t id,
                          enum p2p_channel channel,
                          const ProtobufCMessage *msg)
{
    uint8_t *bytes = NULL;
    size_t len = 0;

    if (node->p2p == NULL || codec_encode(msg, &bytes, &len) != 0) {
        return;
    }
    if (id == 0) {
        (void)p2p_broadcast(node->p2p, channel, bytes, len);
    } else {
        (void)p2p_send(node->p2p, id, channel, bytes, len);
    }
    tdei_free(bytes);
}

static void node_p2p_status(struct node *node, uint64_t id)
{
    Tdei__P2p__Status status = TDEI__P2P__STATUS__INIT;

    status.height = node->height;
    node_p2p_send(node, id, P2P_CH_STATUS, &status.base);
}

/* Send this node's proposal and votes of the height to peer @id (0:
 * every peer). */
static void node_p2p_own_msgs(struct node *node, uint64_t id)
{
    for (size_t i = 0; i < 3; i++) {
        if (node->own_msgs[i] == NULL) {
            continue;
        }
        if (id == 0) {
            (void)p2p_broadcast(node->p2p, P2P_CH_CONSENSUS, node->own_msgs[i],
                                node->own_lens[i]);
        } else {
            (void)p2p_send(node->p2p, id, P2P_CH_CONSENSUS, node->own_msgs[i],
                           node->own_lens[i]);
        }
    }
}

void node__p2p_consensus_out(struct node *node, int slot, const uint8_t *bytes,
                             size_t len)
{
    uint8_t *copy;

    TDEI_ASSERT(slot >= 0 && slot < 3);
    if (node->p2p == NULL) {
        return;
    }
    (void)p2p_broadcast(node->p2p, P2P_CH_CONSENSUS, bytes, len);
    copy = tdei_malloc(len);
    if (copy == NULL) {
        return; /* sent once; not sent again */
    }
    memcpy(copy, bytes, len);
    tdei_free(node->own_msgs[slot]);
    node->own_msgs[slot] = copy;
    node->own_lens[slot] = len;
}

/* Send the gathered txs. */
static void node_p2p_tx_flush(struct node *node)
{
    if (node->tx_batch_count == 0) {
        return;
    }
    /* tx_batch holds the encoded repeated field 1: it is the TxGossip. */
    (void)p2p_broadcast(node->p2p, P2P_CH_TX, node->tx_batch,
                        node->tx_batch_len);
    node->tx_batch_len = 0;
    node->tx_batch_count = 0;
}

void node__p2p_tx(struct node *node, const uint8_t *tx, size_t len)
{
    uint8_t head[1 + 10];
    size_t hlen;

    if (node->p2p == NULL || node__p2p_peer_count(node) == 0) {
        return;
    }
    head[0] = (1u << 3) | 2u; /* field 1, length-delimited */
    hlen = 1;
    for (size_t v = len; ; v >>= 7) { /* the length as a varint */
        head[hlen++] = (uint8_t)((v & 0x7fu) | (v >= 0x80u ? 0x80u : 0u));
        if (v < 0x80u) {
            break;
        }
    }
    if (node->tx_batch_len + hlen + len > NODE_TX_BATCH_BYTES) {
        node_p2p_tx_flush(node);
    }
    if (hlen + len > NODE_TX_BATCH_BYTES) {
        return; /* larger than any tx the mempool admits */
    }
    memcpy(node->tx_batch + node->tx_batch_len, head, hlen);
    memcpy(node->tx_batch + node->tx_batch_len + hlen, tx, len);
    node->tx_batch_len += hlen + len;
    node->tx_batch_count++;
}

/* ---- the next height's messages ------------------------------------------ */

void node__p2p_future_keep(struct node *node, const uint8_t *bytes, size_t len,
                           uint64_t height, int is_proposal)
{
    size_t proposals = 0;
    struct node_future *f;

    if (node->future == NULL || node->future_count >= NODE_FUTURE_MAX) {
        return;
    }
    if (is_proposal) {
        for (size_t i = 0; i < node->future_count; i++) {
            proposals += node->future[i].is_proposal != 0;
        }
        if (proposals >= NODE_FUTURE_PROPOSALS_MAX) {
            return;
        }
    }
    f = &node->future[node->future_count];
    f->bytes = tdei_malloc(len);
    if (f->bytes == NULL) {
        return;
    }
    memcpy(f->bytes, bytes, len);
    f->len = len;
    f->height = height;
    f->is_proposal = is_proposal;
    node->future_count++;
}

void node__p2p_height_ended(struct node *node)
{
    for (size_t i = 0; i < 3; i++) {
        tdei_free(node->own_msgs[i]);
        node->own_msgs[i] = NULL;
        node->own_lens[i] = 0;
    }
}

void node__p2p_height_started(struct node *node)
{
    struct node_future *kept = node->future;
    size_t count = node->future_count;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint64_t height;

    if (kept == NULL || count == 0 || node->engine == NULL) {
        return;
    }
    /* Take the list: node__cons_receive may keep messages of the height
     * after this one into a fresh one. */
    node->future = tdei_calloc(NODE_FUTURE_MAX, sizeof(*node->future));
    node->future_count = 0;
    height = cons_height(node->engine);
    for (size_t i = 0; i < count; i++) {
        if (kept[i].height >= height && !node->halted) {
            (void)node__cons_receive(node, kept[i].bytes, kept[i].len, errmsg);
        }
        tdei_free(kept[i].bytes);
    }
    tdei_free(kept);
    if (node->future == NULL) {
        TDEI_LOG(TDEI_LOG_WARNING, "p2p", "no memory to keep messages", "%s",
                 "");
    }
}

/* ---- block sync ------------------------------------------------------------- */

static void node_synced_drop(struct node_synced *sb)
{
    tdei_free(sb->block);
    tdei_free(sb->commit);
    memset(sb, 0, sizeof(*sb));
}

/* The highest height a peer reported, and a peer at it. */
static uint64_t node_best_peer(struct node *node, uint64_t *id)
{
    uint64_t best = 0;

    *id = 0;
    for (size_t i = 0; i < node->peer_slots; i++) {
        struct node_peer *p = &node->peers[i];
        if (p->id != 0 && p->height > best) {
            best = p->height;
            *id = p->id;
        }
    }
    return best;
}

/* 1 when a fetched block of height @h is kept. */
static int node_synced_has(const struct node *node, uint64_t h)
{
    for (size_t i = 0; i < NODE_SYNC_BATCH; i++) {
        if (node->synced[i].block != NULL && node->synced[i].height == h) {
            return 1;
        }
    }
    return 0;
}

/* Ask a peer ahead of this node for the next blocks, unless a request
 * is open or every block the peers have is kept already. */
static void node_sync_maybe(struct node *node)
{
    Tdei__P2p__SyncMessage msg = TDEI__P2P__SYNC_MESSAGE__INIT;
    Tdei__P2p__SyncRequest req = TDEI__P2P__SYNC_REQUEST__INIT;
    uint64_t id;
    uint64_t best = node_best_peer(node, &id);
    uint64_t from = node->height + 1;

    if (node->p2p == NULL || node->sync_peer != 0 || best <= node->height ||
        node->halted || node->stopping) {
        return;
    }
    while (from <= best && node_synced_has(node, from)) {
        from++;
    }
    if (from > best || from > node->height + NODE_SYNC_BATCH) {
        return;
    }
    req.from_height = from;
    req.count = (uint32_t)(node->height + NODE_SYNC_BATCH + 1 - from);
    msg.msg_case = TDEI__P2P__SYNC_MESSAGE__MSG_REQUEST;
    msg.request = &req;
    node->sync_peer = id;
    node->sync_from = from;
    node->sync_to = from + req.count - 1;
    node->sync_asked_ms = uv_now(&node->loop);
    TDEI_LOG(TDEI_LOG_VERBOSE, "sync", "asking for blocks",
             "peer=%llu from=%llu count=%u peer_height=%llu",
             (unsigned long long)id, (unsigned long long)from, req.count,
             (unsigned long long)best);
    node_p2p_send(node, id, P2P_CH_SYNC, &msg.base);
}

/* Answer a peer's request with the blocks this node has, as long as its
 * sync queue takes them. */
static int node_sync_serve(struct node *node, uint64_t id,
                           const Tdei__P2p__SyncRequest *req, char *errmsg)
{
    Tdei__P2p__SyncMessage msg = TDEI__P2P__SYNC_MESSAGE__INIT;
    Tdei__P2p__SyncBlock blk = TDEI__P2P__SYNC_BLOCK__INIT;
    Tdei__P2p__SyncNone none = TDEI__P2P__SYNC_NONE__INIT;
    struct store_read *r;
    uint32_t count = req->count;
    int rc;

    if (req->from_height == 0 || count == 0 || count > NODE_SYNC_BATCH) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "sync request from height %llu for %u blocks "
                           "(1-%u from height 1)",
                           (unsigned long long)req->from_height, count,
                           NODE_SYNC_BATCH);
    }
    if (store_read_begin(node->store, &r, errmsg) != 0) {
        return 0; /* this node's trouble, not the peer's */
    }
    for (uint64_t h = req->from_height; h < req->from_height + count; h++) {
        const uint8_t *block;
        size_t block_len;
        uint8_t *commit = NULL;
        size_t commit_len = 0;
        rc = h <= node->height
                 ? node__block_read(node, r, h, &block, &block_len, &commit,
                                    &commit_len, errmsg)
                 : TDEI_NOTFOUND;
        if (rc != 0 || commit == NULL) {
            none.height = h;
            msg.msg_case = TDEI__P2P__SYNC_MESSAGE__MSG_NONE;
            msg.none = &none;
            node_p2p_send(node, id, P2P_CH_SYNC, &msg.base);
            tdei_free(commit);
            break;
        }
        blk.block.data = (uint8_t *)(uintptr_t)block;
        blk.block.len = block_len;
        blk.commit.data = commit;
        blk.commit.len = commit_len;
        msg.msg_case = TDEI__P2P__SYNC_MESSAGE__MSG_BLOCK;
        msg.block = &blk;
        {
            uint8_t *bytes = NULL;
            size_t len = 0;
            rc = codec_encode(&msg.base, &bytes, &len);
            if (rc == 0) {
                rc = p2p_send(node->p2p, id, P2P_CH_SYNC, bytes, len);
            }
            tdei_free(bytes);
        }
        tdei_free(commit);
        if (rc != 0) {
            break; /* the queue is full: the peer asks again */
        }
    }
    store_read_end(r);
    return 0;
}

/* Verify @commit against the validator set of its height as this node's
 * store knows it. Returns 0, TDEI_NOTFOUND (the set is not decided yet:
 * the height is beyond tip + 2), a refusal of votes_commit_verify
 * (TDEI_NO_QUORUM, TDEI_NOT_VOTER, TDEI_BADSIG, TDEI_MALFORMED), or this
 * node's trouble reading the set (TDEI_IOERR, TDEI_CORRUPT, TDEI_NOMEM),
 * with errmsg. */
static int node_commit_check(struct node *node, const Tdei__Commit *commit,
                             char *errmsg)
{
    Tdei__ValidatorSet *set = NULL;
    struct store_read *r;
    struct cons_vset vset;
    int rc = store_read_begin(node->store, &r, errmsg);

    if (rc != 0) {
        return rc;
    }
    rc = exec_query_validators_at(r, commit->height, &set, errmsg);
    store_read_end(r);
    if (rc == 0) {
        rc = votes_vset_from_proto(&vset, set, errmsg);
    }
    codec_validator_set_free(set);
    if (rc == 0) {
        rc = votes_commit_verify(commit, node->genesis.chain_id, &vset,
                                 errmsg);
    }
    return rc;
}

/* 1 when @rc from node_commit_check says the commit itself is wrong (not
 * this node's trouble, not an unknown set). */
static int node_commit_refused(int rc)
{
    return rc == TDEI_NO_QUORUM || rc == TDEI_NOT_VOTER ||
           rc == TDEI_BADSIG || rc == TDEI_MALFORMED;
}

int node__synced_verify(struct node *node, struct node_synced *sb)
{
    Tdei__Commit *commit = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    if (sb->verified) {
        return 1;
    }
    TDEI_ASSERT(sb->height == node->height + 1);
    rc = codec_commit_decode(&commit, sb->commit, sb->commit_len,
                             &node->limits, errmsg);
    if (rc == 0) {
        rc = node_commit_check(node, commit, errmsg);
    }
    codec_commit_free(commit);
    if (rc == 0) {
        sb->verified = 1;
        return 1;
    }
    TDEI_LOG(TDEI_LOG_WARNING, "sync", "fetched block dropped",
             "height=%llu peer=%llu code=%s error=\"%s\"",
             (unsigned long long)sb->height, (unsigned long long)sb->peer,
             tdei_errname(rc), errmsg);
    if (node_commit_refused(rc) && node->p2p != NULL && sb->peer != 0) {
        p2p_disconnect(node->p2p, sb->peer, 1,
                       "sent a block whose commit does not verify");
    }
    if (sb->peer == node->sync_peer) {
        node->sync_peer = 0; /* ask again, of another peer */
    }
    node_synced_drop(sb);
    return 0;
}

/* Check a fetched block and its commit, and keep it. Returns 0, or a code
 * with errmsg when the peer sent something that cannot be right. */
static int node_sync_take(struct node *node, uint64_t peer,
                          const Tdei__P2p__SyncBlock *sb, char *errmsg)
{
    Tdei__Block *block = NULL;
    Tdei__Header *header = NULL;
    Tdei__Commit *commit = NULL;
    struct node_synced *slot = NULL;
    int verified = 1;
    uint8_t id[CODEC_HASH_SIZE];
    int rc;

    rc = codec_block_decode(&block, &header, sb->block.data, sb->block.len,
                            &node->limits, errmsg);
    if (rc == 0) {
        rc = codec_commit_decode(&commit, sb->commit.data, sb->commit.len,
                                 &node->limits, errmsg);
    }
    if (rc != 0) {
        goto out;
    }
    codec_block_id(id, block->header.data, block->header.len);
    if (commit->height != header->height ||
        memcmp(commit->block_id.data, id, CODEC_HASH_SIZE) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                         "fetched block %llu comes with the commit of "
                         "another block",
                         (unsigned long long)header->height);
        goto out;
    }
    if (header->height <= node->height || node_synced_has(node, header->height) ||
        header->height > node->height + NODE_SYNC_BATCH) {
        goto out; /* committed meanwhile, kept already, or not asked */
    }
    for (size_t i = 0; i < NODE_SYNC_BATCH && slot == NULL; i++) {
        if (node->synced[i].block == NULL) {
            slot = &node->synced[i];
        }
    }
    if (slot == NULL) {
        goto out;
    }
    /* The set of a height up to tip + 2 is known; a block further ahead
     * is verified once the blocks before it are committed. */
    rc = node_commit_check(node, commit, errmsg);
    if (rc == TDEI_NOTFOUND) {
        verified = 0;
        rc = 0;
    } else if (rc != 0 && !node_commit_refused(rc)) {
        rc = 0; /* this node's trouble; asked again later */
        goto out;
    }
    if (rc != 0) {
        goto out;
    }
    slot->block = tdei_malloc(sb->block.len);
    slot->commit = tdei_malloc(sb->commit.len);
    if (slot->block == NULL || slot->commit == NULL) {
        node_synced_drop(slot);
        rc = 0; /* this node's trouble; asked again later */
        goto out;
    }
    memcpy(slot->block, sb->block.data, sb->block.len);
    slot->block_len = sb->block.len;
    memcpy(slot->commit, sb->commit.data, sb->commit.len);
    slot->commit_len = sb->commit.len;
    slot->height = header->height;
    slot->verified = verified;
    slot->peer = peer;
    memcpy(slot->id, id, CODEC_HASH_SIZE);
out:
    codec_block_free(block);
    codec_header_free(header);
    codec_commit_free(commit);
    return rc;
}

static int node_on_sync(struct node *node, uint64_t id, const uint8_t *bytes,
                        size_t len, char *errmsg)
{
    Tdei__P2p__SyncMessage *msg = NULL;
    int rc;

    rc = codec_message_unpack((ProtobufCMessage **)&msg,
                              &tdei__p2p__sync_message__descriptor, bytes, len,
                              "sync message", errmsg);
    if (rc != 0) {
        return rc;
    }
    switch (msg->msg_case) {
    case TDEI__P2P__SYNC_MESSAGE__MSG_REQUEST:
        rc = node_sync_serve(node, id, msg->request, errmsg);
        break;
    case TDEI__P2P__SYNC_MESSAGE__MSG_BLOCK:
        rc = node_sync_take(node, id, msg->block, errmsg);
        if (rc == 0 && id == node->sync_peer) {
            node->sync_asked_ms = uv_now(&node->loop); /* it answers */
        }
        node__jobs_next(node);
        break;
    case TDEI__P2P__SYNC_MESSAGE__MSG_NONE:
        if (id == node->sync_peer) {
            node->sync_peer = 0; /* it has no more: ask again later */
        }
        break;
    default:
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                         "a sync message carries a request, a block or "
                         "none");
        break;
    }
    codec_message_free(&msg->base);
    return rc;
}

/* ---- receiving -------------------------------------------------------------- */

/* A peer's txs go to the mempool; what it refuses is dropped quietly
 * (another node's view of nonces may differ for a moment). */
static void node_peer_tx_done(void *data, int status, const uint8_t *txid,
                              const char *errmsg)
{
    (void)data;
    (void)status;
    (void)txid;
    (void)errmsg;
}

/* Submit the backlog's txs in order until the mempool is busy again. */
static void node_backlog_drain(struct node *node)
{
    char why[TDEI_ERRMSG_SIZE];

    while (node->backlog_count > 0 && !node->stopping) {
        struct node_backlog_tx *t = &node->backlog[node->backlog_head];
        if (mempool_submit(node->mempool, why, t->bytes, t->len, node,
                           node_peer_tx_done) == TDEI_BUSY) {
            return;
        }
        node->backlog_bytes -= t->len;
        tdei_free(t->bytes);
        t->bytes = NULL;
        node->backlog_head = (node->backlog_head + 1) % NODE_BACKLOG_MAX;
        node->backlog_count--;
    }
}

/* Keep a copy of @bytes at the end of the backlog; 0 when it is full. */
static int node_backlog_push(struct node *node, const uint8_t *bytes,
                             size_t len)
{
    struct node_backlog_tx *t;

    if (node->backlog == NULL || node->backlog_count == NODE_BACKLOG_MAX ||
        node->backlog_bytes + len > NODE_BACKLOG_BYTES) {
        return 0;
    }
    t = &node->backlog[(node->backlog_head + node->backlog_count) %
                       NODE_BACKLOG_MAX];
    t->bytes = tdei_malloc(len);
    if (t->bytes == NULL) {
        return 0;
    }
    memcpy(t->bytes, bytes, len);
    t->len = len;
    node->backlog_bytes += len;
    node->backlog_count++;
    return 1;
}

/* A peer's tx for the mempool: at once, or after those waiting before
 * it when the mempool is busy. */
static void node_gossip_submit(struct node *node, const uint8_t *bytes,
                               size_t len)
{
    char why[TDEI_ERRMSG_SIZE];

    if (node->backlog_count == 0 &&
        mempool_submit(node->mempool, why, bytes, len, node,
                       node_peer_tx_done) != TDEI_BUSY) {
        return; /* verifying, or refused (dropped quietly) */
    }
    if (!node_backlog_push(node, bytes, len) &&
        node->backlog_dropped++ % 1000u == 0) {
        TDEI_LOG(TDEI_LOG_NOTICE, "p2p", "peers' txs dropped: backlog full",
                 "dropped=%llu backlog=%zu",
                 (unsigned long long)node->backlog_dropped,
                 node->backlog_count);
    }
}

static int node_on_txs(struct node *node, const uint8_t *bytes, size_t len,
                       char *errmsg)
{
    Tdei__P2p__TxGossip *msg = NULL;
    int rc;

    rc = codec_message_unpack((ProtobufCMessage **)&msg,
                              &tdei__p2p__tx_gossip__descriptor, bytes, len,
                              "tx gossip", errmsg);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < msg->n_txs && !node->stopping; i++) {
        node_gossip_submit(node, msg->txs[i].data, msg->txs[i].len);
    }
    codec_message_free(&msg->base);
    return 0;
}

static int node_on_status(struct node *node, uint64_t id, const uint8_t *bytes,
                          size_t len, char *errmsg)
{
    Tdei__P2p__Status *msg = NULL;
    struct node_peer *peer = node_peer_find(node, id);
    int rc;

    rc = codec_message_unpack((ProtobufCMessage **)&msg,
                              &tdei__p2p__status__descriptor, bytes, len,
                              "status", errmsg);
    if (rc != 0) {
        return rc;
    }
    if (peer != NULL) {
        peer->height = msg->height;
    }
    codec_message_free(&msg->base);
    node_sync_maybe(node);
    return 0;
}

static int node_on_message(void *data, uint64_t id, enum p2p_channel channel,
                           const uint8_t *bytes, size_t len, char *errmsg)
{
    struct node *node = data;

    if (node->stopping || node->halted) {
        return 0;
    }
    switch (channel) {
    case P2P_CH_TX:
        return node_on_txs(node, bytes, len, errmsg);
    case P2P_CH_CONSENSUS:
        return node__cons_receive(node, bytes, len, errmsg);
    case P2P_CH_SYNC:
        return node_on_sync(node, id, bytes, len, errmsg);
    case P2P_CH_STATUS:
        return node_on_status(node, id, bytes, len, errmsg);
    case P2P_CH_CHUNK:
        return node__plane_receive(node, id, bytes, len, errmsg);
    }
    return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                       "channel %d is not served by this node", (int)channel);
}

static void node_on_connected(void *data, uint64_t id,
                              const uint8_t key[TDEI_PUBKEY_SIZE])
{
    struct node *node = data;
    struct node_peer *slot = node_peer_find(node, 0);

    if (slot == NULL) {
        return; /* p2p keeps max_peers, the size of the table */
    }
    slot->id = id;
    memcpy(slot->key, key, TDEI_PUBKEY_SIZE);
    slot->height = 0;
    node_p2p_status(node, id);
    node_p2p_own_msgs(node, id);
    node__plane_peer_up(node, id, key);
}

static void node_on_disconnected(void *data, uint64_t id,
                                 const uint8_t key[TDEI_PUBKEY_SIZE])
{
    struct node *node = data;
    struct node_peer *peer = node_peer_find(node, id);

    if (peer != NULL) {
        memset(peer, 0, sizeof(*peer));
    }
    node__plane_peer_down(node, id, key);
    if (node->sync_peer == id) {
        node->sync_peer = 0;
        node_sync_maybe(node);
    }
}

/* ---- the gossip timer ------------------------------------------------------- */

static void node_gossip_tick(uv_timer_t *timer)
{
    struct node *node = timer->data;

    if (node->stopping || node->halted || node->p2p == NULL) {
        return;
    }
    node_p2p_own_msgs(node, 0);
    node_p2p_status(node, 0);
    if (node->sync_peer != 0 &&
        uv_now(&node->loop) - node->sync_asked_ms > NODE_SYNC_TIMEOUT_MS) {
        TDEI_LOG(TDEI_LOG_NOTICE, "sync", "no answer; asking another peer",
                 "peer=%llu from=%llu", (unsigned long long)node->sync_peer,
                 (unsigned long long)node->sync_from);
        node->sync_peer = 0;
    }
    node_sync_maybe(node);
}

/* The tick of node.c sends the gathered txs and feeds the backlog to
 * the mempool. */
void node__p2p_tick(struct node *node)
{
    if (node->p2p != NULL) {
        node_p2p_tx_flush(node);
        node_backlog_drain(node);
    }
}

/* ---- life cycle ------------------------------------------------------------- */

void node__p2p_committed(struct node *node)
{
    for (size_t i = 0; i < NODE_SYNC_BATCH; i++) {
        if (node->synced[i].block != NULL &&
            node->synced[i].height <= node->height) {
            node_synced_drop(&node->synced[i]);
        }
    }
    if (node->p2p == NULL) {
        return;
    }
    if (node->sync_peer != 0 && node->height >= node->sync_to) {
        node->sync_peer = 0; /* all asked for is committed: ask for more */
    } else if (node->sync_peer != 0 && node->sync_from <= node->height) {
        node->sync_asked_ms = uv_now(&node->loop); /* progress */
    }
    node_p2p_status(node, 0);
    (void)p2p_recheck(node->p2p);
    node_sync_maybe(node);
}

/* Split p2p.peers at commas into node->peer_addrs. */
static int node_p2p_peer_list(struct node *node, const char **list,
                              size_t *count, char *errmsg)
{
    char *s = node->peer_text;

    *count = 0;
    memcpy(s, node->cfg.p2p_peers, sizeof(node->cfg.p2p_peers));
    while (*s != '\0') {
        char *end = strchr(s, ',');
        char *item = s;
        if (end != NULL) {
            *end = '\0';
            s = end + 1;
        } else {
            s += strlen(s);
        }
        while (*item == ' ' || *item == '\t') {
            item++;
        }
        for (size_t n = strlen(item); n > 0 && (item[n - 1] == ' ' ||
                                                item[n - 1] == '\t');
             n--) {
            item[n - 1] = '\0';
        }
        if (*item == '\0') {
            continue;
        }
        if (*count == P2P_PEERS_MAX) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                               "p2p.peers lists more than %d addresses",
                               P2P_PEERS_MAX);
        }
        list[(*count)++] = item;
    }
    return 0;
}

int node__p2p_start(struct node *node, char *errmsg)
{
    struct p2p_options opts;
    struct p2p_callbacks cb = {.data = node,
                               .admit = node_admit,
                               .connected = node_on_connected,
                               .disconnected = node_on_disconnected,
                               .message = node_on_message};
    const char *list[P2P_PEERS_MAX];
    size_t count = 0;
    int rc;

    if (node->cfg.p2p_listen[0] == '\0' && node->cfg.p2p_peers[0] == '\0') {
        return 0; /* a chain of one validator, no peers */
    }
    node->peer_slots = node->cfg.p2p_max_peers;
    node->peers = tdei_calloc(node->peer_slots, sizeof(*node->peers));
    node->future = tdei_calloc(NODE_FUTURE_MAX, sizeof(*node->future));
    node->tx_batch = tdei_malloc(NODE_TX_BATCH_BYTES);
    node->backlog = tdei_calloc(NODE_BACKLOG_MAX, sizeof(*node->backlog));
    node->peer_text = tdei_malloc(sizeof(node->cfg.p2p_peers));
    if (node->peers == NULL || node->future == NULL ||
        node->tx_batch == NULL || node->peer_text == NULL ||
        node->backlog == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "no memory for the peer tables");
    }
    rc = node_p2p_peer_list(node, list, &count, errmsg);
    if (rc != 0) {
        return rc;
    }
    p2p_options_default(&opts);
    opts.chain_id = node->genesis.chain_id;
    opts.key = &node->node_key;
    opts.listen = node->cfg.p2p_listen;
    opts.peers = list;
    opts.peer_count = count;
    opts.max_frame = node->cfg.p2p_max_frame;
    opts.max_peers = node->cfg.p2p_max_peers;
    opts.queue_bytes = node->cfg.p2p_queue_bytes;
    opts.handshake_timeout_ms = node->cfg.p2p_handshake_timeout_ms;
    opts.backoff_min_ms = node->cfg.p2p_backoff_min_ms;
    opts.backoff_max_ms = node->cfg.p2p_backoff_max_ms;
    opts.ban_ms = node->cfg.p2p_ban_ms;
    rc = p2p_create(&node->p2p, &node->loop, &opts, &cb, errmsg);
    if (rc == 0) {
        rc = p2p_start(node->p2p, errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    if (uv_timer_init(&node->loop, &node->gossip) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot create the gossip timer");
    }
    node->gossip.data = node;
    node->gossip_ready = 1;
    (void)uv_timer_start(&node->gossip, node_gossip_tick,
                         node->cfg.gossip_interval_ms,
                         node->cfg.gossip_interval_ms);
    TDEI_LOG(TDEI_LOG_NOTICE, "p2p", "started",
             "listen=%s port=%d peers=%zu",
             node->cfg.p2p_listen[0] != '\0' ? node->cfg.p2p_listen : "none",
             p2p_listen_port(node->p2p), count);
    return 0;
}

static void node_p2p_stopped(void *data)
{
    (void)data;
}

void node__p2p_stop(struct node *node)
{
    if (node->gossip_ready) {
        node->gossip_ready = 0;
        uv_close((uv_handle_t *)&node->gossip, NULL);
    }
    if (node->p2p != NULL && !node->p2p_stopped) {
        node->p2p_stopped = 1;
        p2p_stop(node->p2p, node_p2p_stopped, node);
    }
}

void node__p2p_free(struct node *node)
{
    if (node->p2p != NULL) {
        p2p_destroy(node->p2p);
        node->p2p = NULL;
    }
    for (size_t i = 0; i < node->future_count; i++) {
        tdei_free(node->future[i].bytes);
    }
    tdei_free(node->future);
    node->future = NULL;
    node->future_count = 0;
    for (size_t i = 0; i < NODE_SYNC_BATCH; i++) {
        node_synced_drop(&node->synced[i]);
    }
    for (size_t i = 0; i < 3; i++) {
        tdei_free(node->own_msgs[i]);
        node->own_msgs[i] = NULL;
    }
    tdei_free(node->peers);
    node->peers = NULL;
    tdei_free(node->tx_batch);
    node->tx_batch = NULL;
    for (size_t i = 0; node->backlog != NULL && i < node->backlog_count; i++) {
        tdei_free(node->backlog[(node->backlog_head + i) % NODE_BACKLOG_MAX]
                      .bytes);
    }
    tdei_free(node->backlog);
    node->backlog = NULL;
    node->backlog_count = 0;
    tdei_free(node->peer_text);
    node->peer_text = NULL;
}
