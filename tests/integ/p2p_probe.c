/* p2p_probe: connect to a running node's p2p port and either do the
 * handshake or misbehave, for the integration tests.
 *
 *   p2p_probe --addr 127.0.0.1:PORT --chain ID --key FILE MODE
 *
 *   p2p_probe --addr 127.0.0.1:PORT --chain ID --key FILE send CH HEX
 *
 *   p2p_probe --addr 127.0.0.1:PORT --chain ID --key FILE chunk XID I...
 *
 * MODE: handshake, garbage, oversize, truncated, replay, tamper, send,
 * chunk.
 * handshake: exit 0 when the node completed the handshake (and stayed
 * connected or sent a sealed frame within 3 s), 3 when it closed during
 * it. Attacks: exit 0 when the node closed the connection within 3 s, 4
 * when it stayed open. send: after the handshake, one sealed message on
 * channel CH (1-255) whose bytes are HEX (may be empty); exit as for an
 * attack, so 0 says the node refused the message. chunk: after the
 * handshake, a ChunkRequest (channel 5) for exchange XID (64 hex digits)
 * and the chunk indexes I... (1-16 of them; more are sent as given, to
 * test the node's limit), then the node's answers on channel 5 are read
 * (other channels are skipped) until every index is answered: exit 0
 * when every chunk came (ChunkData), 5 on a ChunkRefused, 6 when the node
 * closed the connection, 4 when it did not answer within 3 s; one line
 * per answer on stdout. Exit 1 on a local error, 2 on bad usage. One line
 * on stdout says what happened. */
#include "p2p_raw.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/keyfile.h"
#include "core/limits.h"
#include "p2p.pb-c.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define WAIT_MS 3000u
#define GARBAGE_SIZE (4u * 1024)
#define EXIT_DONE 0
#define EXIT_LOCAL 1
#define EXIT_USAGE 2
#define EXIT_REFUSED 3
#define EXIT_OPEN 4
#define EXIT_CHUNK_REFUSED 5
#define EXIT_CLOSED 6
#define CHUNK_INDEXES_MAX 32 /* indexes a chunk probe sends at most */

struct probe {
    char ip[64];
    int port;
    const char *chain;
    struct tdei_keypair key;
    struct raw_peer raw;
};

static int usage(void)
{
    fprintf(stderr, "usage: p2p_probe --addr IP:PORT --chain ID --key FILE "
                    "handshake|garbage|oversize|truncated|replay|tamper|"
                    "send CH HEX|chunk XID INDEX...\n");
    return EXIT_USAGE;
}

/* The attack's verdict: did the node close the connection? */
static int expect_closed(struct probe *pr, const char *what)
{
    if (raw_wait_closed(&pr->raw, WAIT_MS) == RAW_CLOSED) {
        printf("closed: the node closed the connection after %s\n", what);
        return EXIT_DONE;
    }
    printf("open: the node kept the connection open %u ms after %s\n",
           WAIT_MS, what);
    return EXIT_OPEN;
}

static int mode_handshake(struct probe *pr)
{
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = raw_handshake(&pr->raw, pr->chain, &pr->key);

    if (rc == RAW_CLOSED) {
        printf("refused: the node closed the connection during the "
               "handshake\n");
        return EXIT_REFUSED;
    }
    if (rc != RAW_OK) {
        printf("error: the handshake failed here (%s)\n",
               rc == RAW_TIMEOUT ? "timeout" : "bad reply");
        return EXIT_LOCAL;
    }
    /* The node sent its Auth; it may still refuse our key after it. */
    rc = raw_read_frame(&pr->raw, &body, &len);
    tdei_free(body);
    if (rc == RAW_CLOSED) {
        printf("refused: the node closed the connection after the "
               "Auths\n");
        return EXIT_REFUSED;
    }
    printf("handshake: done%s\n",
           rc == RAW_OK ? "; the node sent a sealed frame" : "");
    return EXIT_DONE;
}

static int mode_oversize(struct probe *pr)
{
    uint8_t header[FRAME_HEADER_SIZE];

    frame_header_write(header, TDEI_P2P_FRAME_MAX + 1u);
    if (raw_send(&pr->raw, header, sizeof(header)) == RAW_ERROR) {
        return EXIT_LOCAL;
    }
    return expect_closed(pr, "a length header of 16 MiB + 1");
}

static int mode_truncated(struct probe *pr)
{
    uint8_t buf[FRAME_HEADER_SIZE + 64];

    frame_header_write(buf, 128);
    randombytes_buf(buf + FRAME_HEADER_SIZE, 64);
    if (raw_send(&pr->raw, buf, sizeof(buf)) == RAW_ERROR) {
        return EXIT_LOCAL;
    }
    /* Half a frame, then our side closes: the node must drop it. */
    if (shutdown(pr->raw.fd, SHUT_WR) != 0) {
        return EXIT_LOCAL;
    }
    return expect_closed(pr, "half a frame and end of stream");
}

/* Handshake, then a valid Status frame and either its replay or a copy
 * with one ciphertext bit flipped. */
static int mode_bad_frame(struct probe *pr, int tamper)
{
    uint8_t *frame;
    size_t size;
    int rc = raw_handshake(&pr->raw, pr->chain, &pr->key);

    if (rc != RAW_OK) {
        printf("error: the handshake failed (%d)\n", rc);
        return rc == RAW_CLOSED ? EXIT_REFUSED : EXIT_LOCAL;
    }
    /* Status{height 0} serializes to nothing: the frame is the channel
     * byte alone. */
    if (raw_seal(&pr->raw, 4, NULL, 0, &frame, &size) != RAW_OK) {
        return EXIT_LOCAL;
    }
    if (tamper) {
        frame[FRAME_HEADER_SIZE] ^= 0x01;
        rc = raw_send(&pr->raw, frame, size);
    } else {
        rc = raw_send(&pr->raw, frame, size);
        if (rc == RAW_OK) {
            rc = raw_send(&pr->raw, frame, size);
        }
    }
    tdei_free(frame);
    if (rc == RAW_ERROR) {
        return EXIT_LOCAL;
    }
    return expect_closed(pr, tamper ? "a tampered frame"
                                    : "a replayed Status frame");
}

/* Handshake, then the message @hex on @channel. */
static int mode_send(struct probe *pr, const char *channel, const char *hex)
{
    size_t max = strlen(hex) / 2 + 1;
    uint8_t *bytes = tdei_malloc(max);
    uint8_t *frame = NULL;
    size_t len = 0;
    size_t size;
    char *end;
    unsigned long ch = strtoul(channel, &end, 10);
    int rc;

    if (bytes == NULL || *end != '\0' || ch < 1 || ch > 255 ||
        sodium_hex2bin(bytes, max, hex, strlen(hex), NULL, &len, NULL) != 0) {
        tdei_free(bytes);
        return usage();
    }
    rc = raw_handshake(&pr->raw, pr->chain, &pr->key);
    if (rc != RAW_OK) {
        tdei_free(bytes);
        printf("error: the handshake failed (%d)\n", rc);
        return rc == RAW_CLOSED ? EXIT_REFUSED : EXIT_LOCAL;
    }
    rc = raw_seal(&pr->raw, (uint8_t)ch, bytes, len, &frame, &size);
    tdei_free(bytes);
    if (rc == RAW_OK) {
        rc = raw_send(&pr->raw, frame, size);
    }
    tdei_free(frame);
    if (rc == RAW_ERROR) {
        return EXIT_LOCAL;
    }
    return expect_closed(pr, "the message");
}

/* Read the next channel-5 message: its bytes (tdei_malloc) after the
 * channel byte. Returns RAW_OK, RAW_CLOSED, RAW_TIMEOUT or RAW_ERROR. */
static int read_data_message(struct probe *pr, uint8_t **msg, size_t *len)
{
    char errmsg[TDEI_ERRMSG_SIZE];

    /* Bounded: each frame is read within the socket's timeout, and the
     * node sends a Status and gossip now and then at most. */
    for (int frames = 0; frames < 1000; frames++) {
        uint8_t *body = NULL;
        size_t size = 0;
        size_t plain = 0;
        int rc = raw_read_frame(&pr->raw, &body, &size);
        if (rc != RAW_OK) {
            return rc;
        }
        if (secure_open(&pr->raw.sec, body, size, &plain, errmsg) != 0) {
            tdei_free(body);
            return RAW_ERROR;
        }
        if (plain >= 1 && body[0] == 5) {
            *len = plain - 1;
            *msg = tdei_malloc(*len + 1);
            if (*msg == NULL) {
                tdei_free(body);
                return RAW_ERROR;
            }
            memcpy(*msg, body + 1, *len);
            tdei_free(body);
            return RAW_OK;
        }
        tdei_free(body);
    }
    return RAW_TIMEOUT;
}

/* Print one channel-5 answer; returns the exit code it stands for, or -1
 * for a chunk (more may follow). */
static int chunk_answer(const uint8_t *bytes, size_t len)
{
    Tdei__P2p__DataMessage *m =
        tdei__p2p__data_message__unpack(NULL, len, bytes);
    int rc = EXIT_LOCAL;

    if (m == NULL) {
        printf("error: the node sent a data message that does not "
               "decode\n");
        return EXIT_LOCAL;
    }
    if (m->msg_case == TDEI__P2P__DATA_MESSAGE__MSG_CHUNK) {
        printf("chunk: index %llu, %zu sealed bytes, %zu proof hashes\n",
               (unsigned long long)m->chunk->index, m->chunk->sealed.len,
               m->chunk->n_path);
        rc = -1;
    } else if (m->msg_case == TDEI__P2P__DATA_MESSAGE__MSG_CHUNK_REFUSED) {
        printf("refused: index %llu, %s: %s\n",
               (unsigned long long)m->chunk_refused->index,
               tdei_errname((int)m->chunk_refused->code),
               m->chunk_refused->reason);
        rc = EXIT_CHUNK_REFUSED;
    } else {
        printf("error: the node answered with data message %d\n",
               (int)m->msg_case);
    }
    tdei__p2p__data_message__free_unpacked(m, NULL);
    return rc;
}

/* Handshake, then a ChunkRequest for exchange @xid_hex and @indexes. */
static int mode_chunk(struct probe *pr, const char *xid_hex,
                      const char *const *indexes, int n)
{
    Tdei__P2p__DataMessage msg = TDEI__P2P__DATA_MESSAGE__INIT;
    Tdei__P2p__ChunkRequest req = TDEI__P2P__CHUNK_REQUEST__INIT;
    uint64_t idx[CHUNK_INDEXES_MAX];
    uint8_t xid[32];
    uint8_t *bytes = NULL;
    uint8_t *frame = NULL;
    size_t len = 0;
    size_t size = 0;
    int answered = 0;
    int rc;

    if (n < 1 || n > CHUNK_INDEXES_MAX ||
        sodium_hex2bin(xid, sizeof(xid), xid_hex, strlen(xid_hex), NULL, &len,
                       NULL) != 0 ||
        len != sizeof(xid)) {
        return usage();
    }
    for (int i = 0; i < n; i++) {
        char *end;
        idx[i] = strtoull(indexes[i], &end, 10);
        if (*end != '\0' || indexes[i][0] < '0' || indexes[i][0] > '9') {
            return usage();
        }
    }
    rc = raw_handshake(&pr->raw, pr->chain, &pr->key);
    if (rc != RAW_OK) {
        printf("error: the handshake failed (%d)\n", rc);
        return rc == RAW_CLOSED ? EXIT_REFUSED : EXIT_LOCAL;
    }
    req.exchange.data = xid;
    req.exchange.len = sizeof(xid);
    req.indexes = idx;
    req.n_indexes = (size_t)n;
    msg.msg_case = TDEI__P2P__DATA_MESSAGE__MSG_CHUNK_REQUEST;
    msg.chunk_request = &req;
    len = tdei__p2p__data_message__get_packed_size(&msg);
    bytes = tdei_malloc(len + 1);
    if (bytes == NULL) {
        return EXIT_LOCAL;
    }
    (void)tdei__p2p__data_message__pack(&msg, bytes);
    rc = raw_seal(&pr->raw, 5, bytes, len, &frame, &size);
    tdei_free(bytes);
    if (rc == RAW_OK) {
        rc = raw_send(&pr->raw, frame, size);
    }
    tdei_free(frame);
    if (rc != RAW_OK) {
        return EXIT_LOCAL;
    }
    while (answered < n) {
        uint8_t *answer = NULL;
        rc = read_data_message(pr, &answer, &len);
        if (rc == RAW_CLOSED) {
            printf("closed: the node closed the connection after the "
                   "chunk request\n");
            return EXIT_CLOSED;
        }
        if (rc == RAW_TIMEOUT) {
            printf("open: no answer within %u ms\n", WAIT_MS);
            return EXIT_OPEN;
        }
        if (rc != RAW_OK) {
            printf("error: a frame from the node does not open\n");
            return EXIT_LOCAL;
        }
        rc = chunk_answer(answer, len);
        tdei_free(answer);
        if (rc >= 0) {
            return rc;
        }
        answered++;
    }
    return EXIT_DONE;
}

static int run(struct probe *pr, const char *mode, const char *const *args,
               int nargs)
{
    uint8_t garbage[GARBAGE_SIZE];

    if (raw_connect(&pr->raw, pr->ip, pr->port, WAIT_MS,
                    TDEI_P2P_FRAME_MAX) != RAW_OK) {
        printf("error: cannot connect to %s:%d\n", pr->ip, pr->port);
        return EXIT_LOCAL;
    }
    if (strcmp(mode, "handshake") == 0) {
        return mode_handshake(pr);
    }
    if (strcmp(mode, "garbage") == 0) {
        randombytes_buf(garbage, sizeof(garbage));
        if (raw_send(&pr->raw, garbage, sizeof(garbage)) == RAW_ERROR) {
            return EXIT_LOCAL;
        }
        return expect_closed(pr, "4 KiB of random bytes");
    }
    if (strcmp(mode, "oversize") == 0) {
        return mode_oversize(pr);
    }
    if (strcmp(mode, "truncated") == 0) {
        return mode_truncated(pr);
    }
    if (strcmp(mode, "replay") == 0 || strcmp(mode, "tamper") == 0) {
        return mode_bad_frame(pr, strcmp(mode, "tamper") == 0);
    }
    if (strcmp(mode, "send") == 0 && nargs == 2) {
        return mode_send(pr, args[0], args[1]);
    }
    if (strcmp(mode, "chunk") == 0 && nargs >= 2) {
        return mode_chunk(pr, args[0], args + 1, nargs - 1);
    }
    return usage();
}

static int parse_addr(struct probe *pr, const char *text)
{
    const char *colon = strrchr(text, ':');

    if (colon == NULL || (size_t)(colon - text) >= sizeof(pr->ip)) {
        return -1;
    }
    memcpy(pr->ip, text, (size_t)(colon - text));
    pr->ip[colon - text] = 0;
    pr->port = atoi(colon + 1);
    return pr->port > 0 && pr->port <= 65535 ? 0 : -1;
}

static int load_key(struct probe *pr, const char *path)
{
    struct tdei_keyfile_key kf;
    char errmsg[TDEI_ERRMSG_SIZE] = "not a secp256k1 node key";

    memset(&kf, 0, sizeof(kf));
    if (tdei_keyfile_load(path, &kf, NULL, errmsg) != 0 ||
        kf.kind != TDEI_KEY_SECP256K1 ||
        tdei_keypair_from_secret(&pr->key, kf.secret) != 0) {
        fprintf(stderr, "p2p_probe: %s: %s\n", path, errmsg);
        tdei_keyfile_key_wipe(&kf);
        return -1;
    }
    tdei_keyfile_key_wipe(&kf);
    return 0;
}

int main(int argc, char **argv)
{
    struct probe pr;
    const char *addr = NULL;
    const char *keyfile = NULL;
    const char *mode = NULL;
    const char *args[CHUNK_INDEXES_MAX + 1];
    int nargs = 0;
    int i;
    int rc;

    memset(&pr, 0, sizeof(pr));
    pr.raw.fd = -1;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc) {
            addr = argv[++i];
        } else if (strcmp(argv[i], "--chain") == 0 && i + 1 < argc) {
            pr.chain = argv[++i];
        } else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            keyfile = argv[++i];
        } else if (mode == NULL && argv[i][0] != '-') {
            mode = argv[i];
        } else if (mode != NULL && nargs < CHUNK_INDEXES_MAX + 1) {
            args[nargs++] = argv[i];
        } else {
            return usage();
        }
    }
    if (addr == NULL || pr.chain == NULL || keyfile == NULL || mode == NULL ||
        parse_addr(&pr, addr) != 0) {
        return usage();
    }
    if (tdei_crypto_init() != 0 || load_key(&pr, keyfile) != 0) {
        return EXIT_LOCAL;
    }
    rc = run(&pr, mode, args, nargs);
    raw_close(&pr.raw);
    tdei_keypair_wipe(&pr.key);
    return rc;
}
