/* libFuzzer target: what a peer sends, as the node reads it
 * (node/p2p/secure.h, node/p2p/p2p.c, node/node_p2p.c, node/node_cons.c).
 *
 * The first input byte picks what the rest goes to (byte % 6):
 *   0  the handshake of a stranger: the rest is a 2-byte big-endian
 *      length n, a Hello of n bytes and then an Auth frame body. The
 *      Hello goes to secure_hello_read on a fresh responder session; when
 *      it is accepted, the responder seals its own Auth and the rest goes
 *      to secure_auth_open.
 *   1  sealed frames of an established session (a real handshake run in
 *      memory once, its two sessions copied for each input): the rest as a
 *      frame body to secure_open; what opens is a channel byte and a
 *      message, decoded as in 2-5. Then the rest as plaintext (its first
 *      byte as the channel prefix) sealed by the sender, which must open
 *      at the receiver to exactly those bytes. (byte / 6) & 1 picks the
 *      direction; (byte / 6) & 2 starts the round trip at the last frame
 *      counter, after which both sides must refuse.
 *   2-5 the message of channel 1-4 (TxGossip, ConsensusMessage,
 *      SyncMessage, Status) as codec_message_unpack reads it, then its
 *      contents: each gossiped tx, a ConsensusMessage's proposal or vote,
 *      a SyncMessage's block and commit, under the default limits and
 *      under tiny ones.
 * Checks beyond "no crash, no sanitizer report": a refused decode leaves
 * its out-pointer NULL; what a decoder accepts has the field sizes the
 * node copies without looking (proposal, vote and commit ids, keys and
 * signatures); a failed session is dead; the round trip; no tdei_malloc
 * block outlives the input.
 *
 * Both sessions use fixed node keys and fixed ephemeral keys, so the
 * session keys, and with them the sealed seeds, are the same in every
 * run: a corpus stays valid across runs.
 *
 * Build with libFuzzer: `make fuzz` (clang), then
 *   ./tests/fuzz/fuzz_p2p -max_len=8192 CORPUS_DIR
 * `make check` runs it as tests/fuzz/smoke_p2p (tests/fuzz/smoke.c), from
 * the valid seeds of smoke_target_seed below. */
#include "api/frame.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/keys.h"
#include "p2p.pb-c.h"
#include "p2p/secure.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHAIN_ID "tdei-fuzz"
#define FUZZ_MAX_FRAME 4096u /* small, so that inputs reach the limit */
#define FUZZ_MODES 6u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int smoke_target_seed(size_t i, uint8_t **data, size_t *len);

#define EXPECT(cond)                                                          \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_p2p: %s:%d: %s\n", __FILE__, __LINE__,      \
                    #cond);                                                   \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* The two sides of one connection, built once by fuzz_setup. */
static struct {
    int ready;
    struct tdei_keypair init_key;
    struct tdei_keypair resp_key;
    struct secure_session fresh_resp; /* NEW: no Hello read yet */
    struct secure_session open_init;  /* OPEN: both Auths done */
    struct secure_session open_resp;
    uint8_t *hello;                   /* the initiator's Hello body */
    size_t hello_len;
    uint8_t *auth;                    /* the initiator's Auth body */
    size_t auth_len;
} fz;

/* secure_init with a fixed ephemeral key (seed @eph_seed). */
static void session_make(struct secure_session *s, enum secure_role role,
                         const struct tdei_keypair *key, uint8_t eph_seed)
{
    uint8_t seed[crypto_kx_SEEDBYTES];
    char errmsg[TDEI_ERRMSG_SIZE];

    memset(seed, eph_seed, sizeof(seed));
    EXPECT(secure_init(s, role, FUZZ_CHAIN_ID, key, FUZZ_MAX_FRAME,
                       errmsg) == 0);
    EXPECT(crypto_kx_seed_keypair(s->eph_public, s->eph_secret, seed) == 0);
}

/* A frame's body, in a buffer of its own. */
static uint8_t *frame_body(uint8_t *frame, size_t size, size_t *len)
{
    uint8_t *body;

    EXPECT(size >= FRAME_HEADER_SIZE &&
           frame_header_read(frame) == size - FRAME_HEADER_SIZE);
    *len = size - FRAME_HEADER_SIZE;
    body = tdei_malloc(*len);
    EXPECT(body != NULL);
    memcpy(body, frame + FRAME_HEADER_SIZE, *len);
    tdei_free(frame);
    return body;
}

/* Run the handshake between two sessions in memory, keep its messages. */
static void fuzz_setup(void)
{
    uint8_t secret[TDEI_SECKEY_SIZE];
    char errmsg[TDEI_ERRMSG_SIZE];
    struct secure_session init;
    struct secure_session resp;
    uint8_t *frame;
    uint8_t *resp_hello;
    uint8_t *resp_auth;
    uint8_t *auth_copy;
    size_t size;
    size_t resp_hello_len;
    size_t resp_auth_len;

    if (fz.ready) {
        return;
    }
    EXPECT(tdei_crypto_init() == 0);
    memset(secret, 0x11, sizeof(secret));
    EXPECT(tdei_keypair_from_secret(&fz.init_key, secret) == 0);
    memset(secret, 0x22, sizeof(secret));
    EXPECT(tdei_keypair_from_secret(&fz.resp_key, secret) == 0);
    session_make(&init, SECURE_INITIATOR, &fz.init_key, 0x33);
    session_make(&resp, SECURE_RESPONDER, &fz.resp_key, 0x44);
    fz.fresh_resp = resp;

    EXPECT(secure_hello_encode(&init, &frame, &size, errmsg) == 0);
    fz.hello = frame_body(frame, size, &fz.hello_len);
    EXPECT(secure_hello_encode(&resp, &frame, &size, errmsg) == 0);
    resp_hello = frame_body(frame, size, &resp_hello_len);
    EXPECT(secure_hello_read(&resp, fz.hello, fz.hello_len, errmsg) == 0);
    EXPECT(secure_hello_read(&init, resp_hello, resp_hello_len, errmsg) == 0);
    EXPECT(secure_auth_seal(&init, &frame, &size, errmsg) == 0);
    fz.auth = frame_body(frame, size, &fz.auth_len);
    EXPECT(secure_auth_seal(&resp, &frame, &size, errmsg) == 0);
    resp_auth = frame_body(frame, size, &resp_auth_len);
    auth_copy = tdei_malloc(fz.auth_len);
    EXPECT(auth_copy != NULL);
    memcpy(auth_copy, fz.auth, fz.auth_len);
    EXPECT(secure_auth_open(&resp, auth_copy, fz.auth_len, errmsg) == 0);
    EXPECT(secure_auth_open(&init, resp_auth, resp_auth_len, errmsg) == 0);
    fz.open_init = init;
    fz.open_resp = resp;
    tdei_free(auth_copy);
    tdei_free(resp_hello);
    tdei_free(resp_auth);
    fz.ready = 1;
}

/* ---- channel messages, as node_on_message reads them ------------------- */

/* Each decoder below returns 0 when it and everything inside accepted. */

static int tx_gossip(const uint8_t *bytes, size_t len,
                     const struct codec_limits *limits)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__P2p__TxGossip *msg = NULL;
    int bad = 0;

    if (codec_message_unpack((ProtobufCMessage **)&msg,
                             &tdei__p2p__tx_gossip__descriptor, bytes, len,
                             "tx gossip", errmsg) != 0) {
        EXPECT(msg == NULL);
        return 1;
    }
    /* The mempool's decode of each (mempool_submit). */
    for (size_t i = 0; i < msg->n_txs; i++) {
        Tdei__Tx *tx = NULL;
        if (codec_tx_decode(&tx, msg->txs[i].data, msg->txs[i].len,
                            limits->tx_size_max, errmsg) != 0) {
            EXPECT(tx == NULL);
            bad = 1;
        }
        codec_tx_free(tx);
    }
    codec_message_free(&msg->base);
    return bad;
}

static int consensus(const uint8_t *bytes, size_t len,
                     const struct codec_limits *limits)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__P2p__ConsensusMessage *msg = NULL;
    Tdei__Proposal *p = NULL;
    Tdei__Header *header = NULL;
    Tdei__Vote *v = NULL;
    int rc = 1;

    if (codec_message_unpack((ProtobufCMessage **)&msg,
                             &tdei__p2p__consensus_message__descriptor, bytes,
                             len, "consensus message", errmsg) != 0) {
        EXPECT(msg == NULL);
        return 1;
    }
    if ((msg->proposal.len > 0) == (msg->vote.len > 0)) {
        rc = 1; /* the node refuses: exactly one of the two */
    } else if (msg->proposal.len > 0) {
        rc = codec_proposal_decode(&p, &header, msg->proposal.data,
                                   msg->proposal.len, limits, errmsg);
        if (rc == 0) {
            /* node_cons_on_proposal copies these without looking. */
            EXPECT(p != NULL && header != NULL);
            EXPECT(p->block_id.len == CODEC_HASH_SIZE);
            EXPECT(p->proposer.len == CODEC_KEY_SIZE);
            EXPECT(p->sig.len == CODEC_SIG_SIZE);
            EXPECT(header->height == p->height);
        } else {
            EXPECT(p == NULL && header == NULL);
        }
    } else {
        rc = codec_vote_decode(&v, msg->vote.data, msg->vote.len, errmsg);
        if (rc == 0) {
            /* node_cons_on_vote copies these without looking. */
            EXPECT(v != NULL);
            EXPECT(v->block_id.len == 0 ||
                   v->block_id.len == CODEC_HASH_SIZE);
            EXPECT(v->validator.len == CODEC_KEY_SIZE);
            EXPECT(v->sig.len == CODEC_SIG_SIZE);
        } else {
            EXPECT(v == NULL);
        }
    }
    codec_proposal_free(p);
    codec_header_free(header);
    codec_vote_free(v);
    codec_message_free(&msg->base);
    return rc != 0;
}

static int sync_message(const uint8_t *bytes, size_t len,
                        const struct codec_limits *limits)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__P2p__SyncMessage *msg = NULL;
    Tdei__Block *block = NULL;
    Tdei__Header *header = NULL;
    Tdei__Commit *commit = NULL;
    int rc = 0;

    if (codec_message_unpack((ProtobufCMessage **)&msg,
                             &tdei__p2p__sync_message__descriptor, bytes, len,
                             "sync message", errmsg) != 0) {
        EXPECT(msg == NULL);
        return 1;
    }
    switch (msg->msg_case) {
    case TDEI__P2P__SYNC_MESSAGE__MSG_REQUEST:
        EXPECT(msg->request != NULL);
        break;
    case TDEI__P2P__SYNC_MESSAGE__MSG_NONE:
        EXPECT(msg->none != NULL);
        break;
    case TDEI__P2P__SYNC_MESSAGE__MSG_BLOCK:
        EXPECT(msg->block != NULL);
        /* As node_sync_take. */
        rc = codec_block_decode(&block, &header, msg->block->block.data,
                                msg->block->block.len, limits, errmsg);
        if (rc == 0) {
            EXPECT(block != NULL && header != NULL);
            rc = codec_commit_decode(&commit, msg->block->commit.data,
                                     msg->block->commit.len, limits, errmsg);
        } else {
            EXPECT(block == NULL && header == NULL);
        }
        if (rc == 0) {
            EXPECT(commit != NULL);
            EXPECT(commit->block_id.len == CODEC_HASH_SIZE);
        } else {
            EXPECT(commit == NULL);
        }
        break;
    default:
        rc = 1; /* the node refuses a sync message without a case */
        break;
    }
    codec_block_free(block);
    codec_header_free(header);
    codec_commit_free(commit);
    codec_message_free(&msg->base);
    return rc != 0;
}

static int status(const uint8_t *bytes, size_t len)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__P2p__Status *msg = NULL;

    if (codec_message_unpack((ProtobufCMessage **)&msg,
                             &tdei__p2p__status__descriptor, bytes, len,
                             "status", errmsg) != 0) {
        EXPECT(msg == NULL);
        return 1;
    }
    codec_message_free(&msg->base);
    return 0;
}

/* The message of channel @ch; 0 when it is valid throughout. */
static int channel_decode(unsigned ch, const uint8_t *bytes, size_t len,
                          const struct codec_limits *limits)
{
    switch (ch) {
    case 1:
        return tx_gossip(bytes, len, limits);
    case 2:
        return consensus(bytes, len, limits);
    case 3:
        return sync_message(bytes, len, limits);
    case 4:
        return status(bytes, len);
    default:
        return 1; /* the chunk channel and unknown ones: not served */
    }
}

/* ---- the sessions -------------------------------------------------------- */

static void fuzz_handshake(const uint8_t *data, size_t size)
{
    struct secure_session s = fz.fresh_resp;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *frame = NULL;
    uint8_t *body;
    size_t frame_size;
    size_t hello_len;
    int rc;

    if (size < 2) {
        return;
    }
    hello_len = (size_t)data[0] << 8 | data[1];
    data += 2;
    size -= 2;
    if (hello_len > size) {
        hello_len = size;
    }
    rc = secure_hello_read(&s, data, hello_len, errmsg);
    if (rc != 0) {
        EXPECT(s.state == SECURE_STATE_DEAD);
        return;
    }
    EXPECT(s.state == SECURE_STATE_KEYED);
    EXPECT(secure_auth_seal(&s, &frame, &frame_size, errmsg) == 0);
    tdei_free(frame);
    data += hello_len;
    size -= hello_len;
    body = tdei_malloc(size > 0 ? size : 1);
    EXPECT(body != NULL);
    if (size > 0) {
        memcpy(body, data, size);
    }
    rc = secure_auth_open(&s, body, size, errmsg);
    EXPECT(s.state == (rc == 0 ? SECURE_STATE_OPEN : SECURE_STATE_DEAD));
    tdei_free(body);
    secure_close(&s);
}

/* @data as a sealed frame body from the peer. */
static void fuzz_open(struct secure_session *recv, const uint8_t *data,
                      size_t size)
{
    static const struct codec_limits defaults = CODEC_LIMITS_DEFAULT;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *body = tdei_malloc(size > 0 ? size : 1);
    size_t plain_len = 0;
    int rc;

    EXPECT(body != NULL);
    if (size > 0) {
        memcpy(body, data, size);
    }
    rc = secure_open(recv, body, size, &plain_len, errmsg);
    if (rc == 0) {
        EXPECT(size >= SECURE_TAG_SIZE &&
               plain_len == size - SECURE_TAG_SIZE);
        if (plain_len > 0) {
            (void)channel_decode(body[0], body + 1, plain_len - 1, &defaults);
        }
    } else {
        EXPECT(rc == TDEI_FRAME && plain_len == 0);
        EXPECT(recv->state == SECURE_STATE_DEAD);
        EXPECT(secure_open(recv, body, size, &plain_len, errmsg) ==
               TDEI_FRAME);
    }
    tdei_free(body);
}

/* @data sealed by @send must open at @recv to the same bytes. */
static void fuzz_round_trip(struct secure_session *send,
                            struct secure_session *recv, const uint8_t *data,
                            size_t size, int at_end)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    const uint8_t *prefix = size > 0 ? data : NULL;
    const uint8_t *rest = size > 0 ? data + 1 : NULL;
    size_t rest_len = size > 0 ? size - 1 : 0;
    uint8_t *frame = NULL;
    size_t frame_size = 0;
    size_t plain_len = 0;
    int rc;

    if (at_end) {
        send->tx_counter = SECURE_COUNTER_LAST;
        recv->rx_counter = SECURE_COUNTER_LAST;
    }
    rc = secure_seal(send, prefix, rest, rest_len, &frame, &frame_size,
                     errmsg);
    if (size > secure_plaintext_max(send)) {
        EXPECT(rc == TDEI_TOOBIG && frame == NULL);
        return;
    }
    EXPECT(rc == 0);
    EXPECT(frame_size == FRAME_HEADER_SIZE + size + SECURE_TAG_SIZE);
    EXPECT(frame_header_read(frame) == size + SECURE_TAG_SIZE);
    rc = secure_open(recv, frame + FRAME_HEADER_SIZE,
                     frame_size - FRAME_HEADER_SIZE, &plain_len, errmsg);
    EXPECT(rc == 0 && plain_len == size);
    EXPECT(size == 0 || memcmp(frame + FRAME_HEADER_SIZE, data, size) == 0);
    tdei_free(frame);
    if (at_end) {
        uint8_t body[SECURE_TAG_SIZE] = {0};
        /* The counters are used up: neither side goes on. */
        EXPECT(secure_seal(send, NULL, NULL, 0, &frame, &frame_size,
                           errmsg) == TDEI_FRAME &&
               frame == NULL);
        EXPECT(secure_open(recv, body, sizeof(body), &plain_len, errmsg) ==
               TDEI_FRAME);
    }
}

static void fuzz_sealed(unsigned flags, const uint8_t *data, size_t size)
{
    struct secure_session init = fz.open_init;
    struct secure_session resp = fz.open_resp;
    struct secure_session *send = (flags & 1) ? &resp : &init;
    struct secure_session *recv = (flags & 1) ? &init : &resp;

    fuzz_open(recv, data, size);
    init = fz.open_init;
    resp = fz.open_resp;
    fuzz_round_trip(send, recv, data, size, (flags & 2) != 0);
    secure_close(&init);
    secure_close(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct codec_limits defaults = CODEC_LIMITS_DEFAULT;
    static const struct codec_limits tiny = {
        .tx_size_max = 64,
        .block_size_max = 4096,
        .block_txs_max = 4,
        .validators_max = 4,
    };
    unsigned mode;
    unsigned flags;
    long live;

    fuzz_setup();
    live = tdei_alloc_live();
    if (size == 0) {
        return 0;
    }
    mode = data[0] % FUZZ_MODES;
    flags = data[0] / FUZZ_MODES;
    data++;
    size--;
    switch (mode) {
    case 0:
        fuzz_handshake(data, size);
        break;
    case 1:
        fuzz_sealed(flags, data, size);
        break;
    default:
        (void)channel_decode(mode - 1, data, size, &defaults);
        (void)channel_decode(mode - 1, data, size, &tiny);
        break;
    }
    EXPECT(tdei_alloc_live() == live);
    return 0;
}

/* ---- seeds for tests/fuzz/smoke.c ----------------------------------------- */

/* A mode byte and @len bytes at @bytes in a new buffer. */
static void seed_put(uint8_t mode, const uint8_t *bytes, size_t len,
                     uint8_t **data, size_t *size)
{
    *size = 1 + len;
    *data = tdei_malloc(*size);
    EXPECT(*data != NULL);
    (*data)[0] = mode;
    memcpy(*data + 1, bytes, len);
}

/* The valid messages of every channel, tdei_malloc'd into @msg[i] with
 * channel @ch[i]; returns their number. */
#define SEED_MESSAGES 7u
static size_t seed_messages(uint8_t *msg[SEED_MESSAGES],
                            size_t len[SEED_MESSAGES],
                            unsigned ch[SEED_MESSAGES])
{
    static uint8_t hash[CODEC_HASH_SIZE] = {1};
    static uint8_t sig[CODEC_SIG_SIZE] = {2};
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__Transfer transfer = TDEI__TRANSFER__INIT;
    Tdei__Tx tx = TDEI__TX__INIT;
    Tdei__Vote vote = TDEI__VOTE__INIT;
    Tdei__Commit commit = TDEI__COMMIT__INIT;
    Tdei__CommitSig csig = TDEI__COMMIT_SIG__INIT;
    Tdei__CommitSig *csigs[1] = {&csig};
    Tdei__Header header = TDEI__HEADER__INIT;
    Tdei__Block block = TDEI__BLOCK__INIT;
    Tdei__Proposal proposal = TDEI__PROPOSAL__INIT;
    Tdei__P2p__TxGossip gossip = TDEI__P2P__TX_GOSSIP__INIT;
    Tdei__P2p__ConsensusMessage cm = TDEI__P2P__CONSENSUS_MESSAGE__INIT;
    Tdei__P2p__SyncMessage sm = TDEI__P2P__SYNC_MESSAGE__INIT;
    Tdei__P2p__SyncRequest req = TDEI__P2P__SYNC_REQUEST__INIT;
    Tdei__P2p__SyncBlock sb = TDEI__P2P__SYNC_BLOCK__INIT;
    Tdei__P2p__SyncNone none = TDEI__P2P__SYNC_NONE__INIT;
    Tdei__P2p__Status st = TDEI__P2P__STATUS__INIT;
    uint8_t block_id[CODEC_HASH_SIZE];
    uint8_t *body_bytes = NULL;
    uint8_t *header_bytes = NULL;
    uint8_t *tx_bytes = NULL;
    uint8_t *block_bytes = NULL;
    uint8_t *commit_bytes = NULL;
    uint8_t *vote_bytes = NULL;
    uint8_t *proposal_bytes = NULL;
    size_t body_len = 0;
    size_t header_len = 0;
    size_t tx_len = 0;
    size_t block_len = 0;
    size_t commit_len = 0;
    size_t vote_len = 0;
    size_t proposal_len = 0;
    ProtobufCBinaryData txs[1];
    size_t n = 0;

    transfer.to = (char *)(uintptr_t) "beta-mfg";
    transfer.amount = 250;
    body.version = CODEC_VERSION;
    body.chain_id = (char *)(uintptr_t)FUZZ_CHAIN_ID;
    body.signer.data = fz.init_key.pubkey;
    body.signer.len = TDEI_PUBKEY_SIZE;
    body.nonce = 1;
    body.op_case = TDEI__TX_BODY__OP_TRANSFER;
    body.transfer = &transfer;
    EXPECT(codec_txbody_encode(&body, &body_bytes, &body_len) == 0);
    tx.body.data = body_bytes;
    tx.body.len = body_len;
    tx.sig.data = sig;
    tx.sig.len = sizeof(sig);
    EXPECT(codec_tx_encode(&tx, &tx_bytes, &tx_len) == 0);

    csig.validator.data = fz.resp_key.pubkey;
    csig.validator.len = TDEI_PUBKEY_SIZE;
    csig.sig.data = sig;
    csig.sig.len = sizeof(sig);
    commit.height = 1;
    commit.block_id.data = hash;
    commit.block_id.len = sizeof(hash);
    commit.n_signatures = 1;
    commit.signatures = csigs;
    header.version = 1;
    header.chain_id = (char *)(uintptr_t)FUZZ_CHAIN_ID;
    header.height = 2;
    header.time_ms = 1764000000000ull;
    header.last_block_id = commit.block_id;
    header.txs_root = commit.block_id;
    header.last_results_root = commit.block_id;
    header.app_hash = commit.block_id;
    header.validators_hash = commit.block_id;
    header.next_validators_hash = commit.block_id;
    header.proposer = csig.validator;
    EXPECT(codec_header_encode(&header, &header_bytes, &header_len) == 0);
    txs[0].data = tx_bytes;
    txs[0].len = tx_len;
    block.header.data = header_bytes;
    block.header.len = header_len;
    block.n_txs = 1;
    block.txs = txs;
    block.last_commit = &commit;
    EXPECT(codec_block_encode(&block, &block_bytes, &block_len) == 0);
    codec_block_id(block_id, header_bytes, header_len);

    proposal.height = 2;
    proposal.round = 1;
    proposal.pol_round = 0;
    proposal.block_id.data = block_id;
    proposal.block_id.len = sizeof(block_id);
    proposal.proposer = header.proposer;
    proposal.sig.data = sig;
    proposal.sig.len = sizeof(sig);
    proposal.block = &block;
    EXPECT(codec_encode(&proposal.base, &proposal_bytes, &proposal_len) == 0);
    vote.type = CODEC_VOTE_PRECOMMIT;
    vote.height = 2;
    vote.round = 1;
    vote.block_id = proposal.block_id;
    vote.validator = header.proposer;
    vote.sig = proposal.sig;
    EXPECT(codec_vote_encode(&vote, &vote_bytes, &vote_len) == 0);
    /* The commit of the block of height 2, for a SyncBlock. */
    commit.height = 2;
    commit.block_id = proposal.block_id;
    EXPECT(codec_commit_encode(&commit, &commit_bytes, &commit_len) == 0);

    gossip.n_txs = 1;
    gossip.txs = txs;
    EXPECT(codec_encode(&gossip.base, &msg[n], &len[n]) == 0);
    ch[n++] = 1;
    cm.proposal.data = proposal_bytes;
    cm.proposal.len = proposal_len;
    EXPECT(codec_encode(&cm.base, &msg[n], &len[n]) == 0);
    ch[n++] = 2;
    cm.proposal.data = NULL;
    cm.proposal.len = 0;
    cm.vote.data = vote_bytes;
    cm.vote.len = vote_len;
    EXPECT(codec_encode(&cm.base, &msg[n], &len[n]) == 0);
    ch[n++] = 2;
    sb.block.data = block_bytes;
    sb.block.len = block_len;
    sb.commit.data = commit_bytes;
    sb.commit.len = commit_len;
    sm.msg_case = TDEI__P2P__SYNC_MESSAGE__MSG_BLOCK;
    sm.block = &sb;
    EXPECT(codec_encode(&sm.base, &msg[n], &len[n]) == 0);
    ch[n++] = 3;
    req.from_height = 3;
    req.count = 16;
    sm.msg_case = TDEI__P2P__SYNC_MESSAGE__MSG_REQUEST;
    sm.request = &req;
    EXPECT(codec_encode(&sm.base, &msg[n], &len[n]) == 0);
    ch[n++] = 3;
    none.height = 9;
    sm.msg_case = TDEI__P2P__SYNC_MESSAGE__MSG_NONE;
    sm.none = &none;
    EXPECT(codec_encode(&sm.base, &msg[n], &len[n]) == 0);
    ch[n++] = 3;
    st.height = 2;
    st.block_id = proposal.block_id;
    EXPECT(codec_encode(&st.base, &msg[n], &len[n]) == 0);
    ch[n++] = 4;
    EXPECT(n == SEED_MESSAGES);

    tdei_free(body_bytes);
    tdei_free(header_bytes);
    tdei_free(tx_bytes);
    tdei_free(block_bytes);
    tdei_free(commit_bytes);
    tdei_free(vote_bytes);
    tdei_free(proposal_bytes);
    return n;
}

/* Seed @i for tests/fuzz/smoke.c, checked to be accepted throughout:
 *   0       a Hello and an Auth of the initiator (mode 0);
 *   1-7     each channel message sealed by the initiator (mode 1);
 *   8-14    each channel message in the clear (modes 2-5).
 * Returns 0, or 1 when there is no seed @i. */
int smoke_target_seed(size_t i, uint8_t **data, size_t *size)
{
    static const struct codec_limits defaults = CODEC_LIMITS_DEFAULT;
    uint8_t *msg[SEED_MESSAGES];
    size_t len[SEED_MESSAGES];
    unsigned ch[SEED_MESSAGES];
    char errmsg[TDEI_ERRMSG_SIZE];
    size_t k;

    fuzz_setup();
    *data = NULL;
    *size = 0;
    if (i == 0) {
        struct secure_session s = fz.fresh_resp;
        uint8_t copy[SECURE_HANDSHAKE_FRAME_MAX];
        uint8_t *frame = NULL;
        size_t frame_size;

        *size = 3 + fz.hello_len + fz.auth_len;
        *data = tdei_malloc(*size);
        EXPECT(*data != NULL);
        (*data)[0] = 0;
        (*data)[1] = (uint8_t)(fz.hello_len >> 8);
        (*data)[2] = (uint8_t)fz.hello_len;
        memcpy(*data + 3, fz.hello, fz.hello_len);
        memcpy(*data + 3 + fz.hello_len, fz.auth, fz.auth_len);
        /* Check that it opens a session. */
        EXPECT(secure_hello_read(&s, fz.hello, fz.hello_len, errmsg) == 0);
        EXPECT(secure_auth_seal(&s, &frame, &frame_size, errmsg) == 0);
        tdei_free(frame);
        EXPECT(fz.auth_len <= sizeof(copy));
        memcpy(copy, fz.auth, fz.auth_len);
        EXPECT(secure_auth_open(&s, copy, fz.auth_len, errmsg) == 0);
        secure_close(&s);
        return 0;
    }
    if (i > 2 * SEED_MESSAGES) {
        return 1;
    }
    (void)seed_messages(msg, len, ch);
    k = (i - 1) % SEED_MESSAGES;
    EXPECT(channel_decode(ch[k], msg[k], len[k], &defaults) == 0);
    if (i <= SEED_MESSAGES) {
        struct secure_session send = fz.open_init;
        struct secure_session recv = fz.open_resp;
        uint8_t prefix = (uint8_t)ch[k];
        uint8_t *frame = NULL;
        size_t frame_size = 0;
        size_t plain_len = 0;

        EXPECT(secure_seal(&send, &prefix, msg[k], len[k], &frame,
                           &frame_size, errmsg) == 0);
        seed_put(1, frame + FRAME_HEADER_SIZE,
                 frame_size - FRAME_HEADER_SIZE, data, size);
        EXPECT(secure_open(&recv, frame + FRAME_HEADER_SIZE,
                           frame_size - FRAME_HEADER_SIZE, &plain_len,
                           errmsg) == 0);
        tdei_free(frame);
    } else {
        seed_put((uint8_t)(1 + ch[k]), msg[k], len[k], data, size);
    }
    for (k = 0; k < SEED_MESSAGES; k++) {
        tdei_free(msg[k]);
    }
    return 0;
}
