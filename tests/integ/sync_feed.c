/* sync_feed: a peer that serves a node's block sync from another node's
 * chain, with the commit of one height signed again by keys of the test's
 * choosing, to show which validator set the node checks that commit
 * against (tests/integ/test_valset.sh).
 *
 *   sync_feed --addr 127.0.0.1:PORT --chain ID --key FILE --source SOCK
 *             --forge H --sign FILE[,FILE...]
 *
 * It connects to the node at --addr as the node key in --key (a member's),
 * says it is at the source's height (a Status on channel 4), and answers
 * every SyncRequest with the blocks of the node at --source (its API) and
 * their commits, as they are, but for height H: that commit gets
 * precommits signed with the node keys in --sign (in key order), for the
 * same block id and round. It ends when the node closes the connection
 * (exit 0: the node refused the forged commit, at once or before
 * committing the block), or when the node asks for a height past H
 * (exit 4: it took it), or after 30 s without either (exit 4). Exit 1 on
 * a local error (the source, a key, the socket), 2 on bad usage. One line
 * on stdout says what happened. */
#include "p2p_raw.h"

#include "api/client.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/keyfile.h"
#include "core/keys.h"
#include "core/limits.h"
#include "api.pb-c.h"
#include "p2p.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_REFUSED 0
#define EXIT_LOCAL 1
#define EXIT_USAGE 2
#define EXIT_TAKEN 4
#define READ_MS 3000u
#define RUN_MS 30000u
#define SIGNERS_MAX 16
#define CH_SYNC 3
#define CH_STATUS 4

struct feed {
    char ip[64];
    int port;
    const char *chain;
    const char *source;
    uint64_t forge;
    struct tdei_keypair key;
    struct tdei_keypair signers[SIGNERS_MAX];
    size_t signer_count;
    struct raw_peer raw;
    struct api_client api;
    uint64_t served_lo, served_hi; /* heights sent so far */
};

static int usage(void)
{
    fprintf(stderr, "usage: sync_feed --addr IP:PORT --chain ID --key FILE "
                    "--source SOCK --forge H --sign FILE[,FILE...]\n");
    return EXIT_USAGE;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int load_key(const char *path, struct tdei_keypair *out)
{
    struct tdei_keyfile_key kf;
    char errmsg[TDEI_ERRMSG_SIZE] = "not a secp256k1 node key";

    memset(&kf, 0, sizeof(kf));
    if (tdei_keyfile_load(path, &kf, NULL, errmsg) != 0 ||
        kf.kind != TDEI_KEY_SECP256K1 ||
        tdei_keypair_from_secret(out, kf.secret) != 0) {
        fprintf(stderr, "sync_feed: %s: %s\n", path, errmsg);
        tdei_keyfile_key_wipe(&kf);
        return -1;
    }
    tdei_keyfile_key_wipe(&kf);
    return 0;
}

/* Block @height of the source: its bytes and its commit's (tdei_malloc). */
static int source_block(struct feed *fd, uint64_t height, ProtobufCBinaryData *block,
                        ProtobufCBinaryData *commit)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetBlock get = TDEI__API__GET_BLOCK__INIT;
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];
    int rc;

    get.height = height;
    req.req_case = TDEI__API__REQUEST__REQ_GET_BLOCK;
    req.get_block = &get;
    rc = api_client_call(&fd->api, &req, &resp, errmsg);
    if (rc != 0 || resp->code != 0 || resp->block == NULL ||
        resp->block->commit.len == 0) {
        fprintf(stderr, "sync_feed: block %llu of the source: %s\n",
                (unsigned long long)height,
                rc != 0 ? errmsg : "not there, or without its commit");
        api_client_response_free(resp);
        return -1;
    }
    block->len = resp->block->block.len;
    commit->len = resp->block->commit.len;
    block->data = tdei_malloc(block->len);
    commit->data = tdei_malloc(commit->len);
    if (block->data == NULL || commit->data == NULL) {
        api_client_response_free(resp);
        return -1;
    }
    memcpy(block->data, resp->block->block.data, block->len);
    memcpy(commit->data, resp->block->commit.data, commit->len);
    api_client_response_free(resp);
    return 0;
}

/* Replace @commit (serialized) by the same height, round and block id
 * with precommits of fd->signers, in ascending key order. */
static int forge_commit(struct feed *fd, ProtobufCBinaryData *commit)
{
    const struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    Tdei__Commit *c = NULL;
    Tdei__Commit out = TDEI__COMMIT__INIT;
    Tdei__CommitSig sigs[SIGNERS_MAX];
    Tdei__CommitSig *ptrs[SIGNERS_MAX];
    uint8_t sig[SIGNERS_MAX][TDEI_SIG_SIZE];
    size_t order[SIGNERS_MAX];
    uint8_t bytes[CODEC_VOTE_SIGN_BYTES_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    size_t len;
    uint8_t *enc;
    size_t enc_len;

    if (codec_commit_decode(&c, commit->data, commit->len, &limits, errmsg) !=
        0) {
        fprintf(stderr, "sync_feed: the source's commit: %s\n", errmsg);
        return -1;
    }
    out.height = c->height;
    out.round = c->round;
    out.block_id = c->block_id;
    len = codec_commit_sign_bytes(bytes, fd->chain, &out);
    for (size_t i = 0; i < fd->signer_count; i++) {
        size_t at = i;
        while (at > 0 && memcmp(fd->signers[order[at - 1]].pubkey,
                                fd->signers[i].pubkey, 32) > 0) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = i;
    }
    for (size_t i = 0; i < fd->signer_count; i++) {
        const struct tdei_keypair *k = &fd->signers[order[i]];
        if (tdei_sign_tagged(sig[i], k, TDEI_TAG_VOTE, bytes, len) != 0) {
            codec_commit_free(c);
            return -1;
        }
        tdei__commit_sig__init(&sigs[i]);
        sigs[i].validator = (ProtobufCBinaryData){32, (uint8_t *)k->pubkey};
        sigs[i].sig = (ProtobufCBinaryData){TDEI_SIG_SIZE, sig[i]};
        ptrs[i] = &sigs[i];
    }
    out.n_signatures = fd->signer_count;
    out.signatures = ptrs;
    if (codec_commit_encode(&out, &enc, &enc_len) != 0) {
        codec_commit_free(c);
        return -1;
    }
    codec_commit_free(c);
    tdei_free(commit->data);
    commit->data = enc;
    commit->len = enc_len;
    return 0;
}

/* Seal and send @msg on @channel. */
static int send_msg(struct feed *fd, uint8_t channel,
                    const ProtobufCMessage *msg)
{
    uint8_t *bytes = NULL;
    uint8_t *frame = NULL;
    size_t len = 0;
    size_t size = 0;
    int rc = codec_encode(msg, &bytes, &len);

    if (rc != 0) {
        return RAW_ERROR;
    }
    rc = raw_seal(&fd->raw, channel, bytes, len, &frame, &size);
    tdei_free(bytes);
    if (rc == RAW_OK) {
        rc = raw_send(&fd->raw, frame, size);
    }
    tdei_free(frame);
    return rc;
}

/* Answer one request: the blocks the source has in it. */
static int serve(struct feed *fd, const Tdei__P2p__SyncRequest *req,
                 uint64_t tip)
{
    for (uint64_t h = req->from_height;
         h < req->from_height + req->count && h <= tip; h++) {
        Tdei__P2p__SyncMessage msg = TDEI__P2P__SYNC_MESSAGE__INIT;
        Tdei__P2p__SyncBlock sb = TDEI__P2P__SYNC_BLOCK__INIT;
        int rc;
        if (source_block(fd, h, &sb.block, &sb.commit) != 0) {
            return RAW_ERROR;
        }
        rc = h == fd->forge ? forge_commit(fd, &sb.commit) : 0;
        msg.msg_case = TDEI__P2P__SYNC_MESSAGE__MSG_BLOCK;
        msg.block = &sb;
        if (rc == 0) {
            rc = send_msg(fd, CH_SYNC, &msg.base);
        } else {
            rc = RAW_ERROR;
        }
        tdei_free(sb.block.data);
        tdei_free(sb.commit.data);
        if (rc != RAW_OK) {
            return rc;
        }
        fd->served_lo = fd->served_lo == 0 ? h : fd->served_lo;
        fd->served_hi = h;
    }
    return RAW_OK;
}

static int source_tip(struct feed *fd, uint64_t *tip)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];
    int rc;

    req.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    req.get_status = &get;
    rc = api_client_call(&fd->api, &req, &resp, errmsg);
    if (rc != 0 || resp->code != 0 || resp->status == NULL) {
        fprintf(stderr, "sync_feed: the source's status: %s\n",
                rc != 0 ? errmsg : "refused");
        api_client_response_free(resp);
        return -1;
    }
    *tip = resp->status->height;
    api_client_response_free(resp);
    return 0;
}

static int run(struct feed *fd)
{
    Tdei__P2p__Status status = TDEI__P2P__STATUS__INIT;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint64_t deadline = now_ms() + RUN_MS;
    uint64_t tip;
    int rc;

    if (api_client_connect(&fd->api, fd->source, API_CLIENT_TIMEOUT_MS,
                           TDEI_API_FRAME_MAX, errmsg) != 0) {
        fprintf(stderr, "sync_feed: %s\n", errmsg);
        return EXIT_LOCAL;
    }
    if (source_tip(fd, &tip) != 0 || tip < fd->forge) {
        fprintf(stderr, "sync_feed: the source has not reached height %llu\n",
                (unsigned long long)fd->forge);
        return EXIT_LOCAL;
    }
    if (raw_connect(&fd->raw, fd->ip, fd->port, READ_MS, TDEI_P2P_FRAME_MAX) !=
            RAW_OK ||
        raw_handshake(&fd->raw, fd->chain, &fd->key) != RAW_OK) {
        printf("error: cannot connect and do the handshake with %s:%d\n",
               fd->ip, fd->port);
        return EXIT_LOCAL;
    }
    status.height = tip;
    if (send_msg(fd, CH_STATUS, &status.base) != RAW_OK) {
        return EXIT_LOCAL;
    }
    while (now_ms() < deadline) {
        Tdei__P2p__SyncMessage *msg = NULL;
        uint8_t *body = NULL;
        size_t size = 0;
        size_t plain = 0;
        rc = raw_read_frame(&fd->raw, &body, &size);
        if (rc == RAW_CLOSED) {
            printf("closed: the node closed the connection; heights "
                   "%llu-%llu were served, %llu with the forged commit\n",
                   (unsigned long long)fd->served_lo,
                   (unsigned long long)fd->served_hi,
                   (unsigned long long)fd->forge);
            return EXIT_REFUSED;
        }
        if (rc == RAW_TIMEOUT) {
            continue;
        }
        if (rc != RAW_OK ||
            secure_open(&fd->raw.sec, body, size, &plain, errmsg) != 0) {
            tdei_free(body);
            printf("error: a frame from the node does not open\n");
            return EXIT_LOCAL;
        }
        if (plain < 1 || body[0] != CH_SYNC) {
            tdei_free(body);
            continue; /* its Status, consensus gossip, its txs */
        }
        msg = tdei__p2p__sync_message__unpack(NULL, plain - 1, body + 1);
        tdei_free(body);
        if (msg == NULL) {
            printf("error: a sync message from the node does not decode\n");
            return EXIT_LOCAL;
        }
        if (msg->msg_case == TDEI__P2P__SYNC_MESSAGE__MSG_REQUEST) {
            uint64_t from = msg->request->from_height;
            if (from > fd->forge) {
                printf("taken: the node asks for height %llu, past the "
                       "forged commit of %llu\n",
                       (unsigned long long)from,
                       (unsigned long long)fd->forge);
                tdei__p2p__sync_message__free_unpacked(msg, NULL);
                return EXIT_TAKEN;
            }
            rc = serve(fd, msg->request, tip);
            if (rc == RAW_ERROR) {
                tdei__p2p__sync_message__free_unpacked(msg, NULL);
                return EXIT_LOCAL;
            }
        }
        tdei__p2p__sync_message__free_unpacked(msg, NULL);
    }
    printf("open: neither refused nor taken within %u ms (heights "
           "%llu-%llu served)\n",
           RUN_MS, (unsigned long long)fd->served_lo,
           (unsigned long long)fd->served_hi);
    return EXIT_TAKEN;
}

static int parse_addr(struct feed *fd, const char *text)
{
    const char *colon = strrchr(text, ':');

    if (colon == NULL || (size_t)(colon - text) >= sizeof(fd->ip)) {
        return -1;
    }
    memcpy(fd->ip, text, (size_t)(colon - text));
    fd->ip[colon - text] = 0;
    fd->port = atoi(colon + 1);
    return fd->port > 0 && fd->port <= 65535 ? 0 : -1;
}

/* Load the comma-separated key files of @list into fd->signers. */
static int parse_signers(struct feed *fd, const char *list)
{
    char path[1024];

    while (*list != '\0') {
        const char *comma = strchr(list, ',');
        size_t n = comma != NULL ? (size_t)(comma - list) : strlen(list);
        if (n == 0 || n >= sizeof(path) || fd->signer_count == SIGNERS_MAX) {
            return -1;
        }
        memcpy(path, list, n);
        path[n] = '\0';
        if (load_key(path, &fd->signers[fd->signer_count]) != 0) {
            return -1;
        }
        fd->signer_count++;
        list += n + (comma != NULL ? 1 : 0);
    }
    return fd->signer_count > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct feed fd;
    const char *key = NULL;
    const char *sign = NULL;
    char *end = NULL;
    int rc;

    memset(&fd, 0, sizeof(fd));
    fd.raw.fd = -1;
    fd.api.fd = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--addr") == 0) {
            if (parse_addr(&fd, argv[i + 1]) != 0) {
                return usage();
            }
        } else if (strcmp(argv[i], "--chain") == 0) {
            fd.chain = argv[i + 1];
        } else if (strcmp(argv[i], "--key") == 0) {
            key = argv[i + 1];
        } else if (strcmp(argv[i], "--source") == 0) {
            fd.source = argv[i + 1];
        } else if (strcmp(argv[i], "--forge") == 0) {
            fd.forge = strtoull(argv[i + 1], &end, 10);
            if (end == argv[i + 1] || *end != '\0' || fd.forge == 0) {
                return usage();
            }
        } else if (strcmp(argv[i], "--sign") == 0) {
            sign = argv[i + 1];
        } else {
            return usage();
        }
    }
    if (argc % 2 != 1 || fd.port == 0 || fd.chain == NULL || key == NULL ||
        fd.source == NULL || fd.forge == 0 || sign == NULL) {
        return usage();
    }
    if (tdei_crypto_init() != 0 || load_key(key, &fd.key) != 0 ||
        parse_signers(&fd, sign) != 0) {
        return EXIT_LOCAL;
    }
    rc = run(&fd);
    raw_close(&fd.raw);
    api_client_close(&fd.api);
    tdei_keypair_wipe(&fd.key);
    for (size_t i = 0; i < fd.signer_count; i++) {
        tdei_keypair_wipe(&fd.signers[i]);
    }
    return rc;
}
