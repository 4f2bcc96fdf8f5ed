/* stream_probe: ask a running node for stream batches, or push one to
 * it, as another node would (proto/p2p.proto BatchRequest, StreamBatch),
 * for the stream integration test.
 *
 *   stream_probe --addr 127.0.0.1:PORT --chain ID --key FILE \
 *       request XID FROM_SEQ [XID_BYTES]
 *   stream_probe --addr 127.0.0.1:PORT --chain ID --key FILE \
 *       push XID STREAM SEQ_FIRST HEIGHT COUNT [KEY_BYTES]
 *
 * After the handshake with the node key in FILE, one BatchRequest on
 * channel 5 for exchange XID (64 hex digits; with XID_BYTES only its
 * first XID_BYTES bytes are sent, to break the length rule) from
 * FROM_SEQ; then the node's channel-5 answers are read: one line per
 * StreamBatch ("batch SEQ_FIRST RECORDS HEIGHT"), or the refusal
 * ("refused CODE_NAME: reason"). Exit 0 when batches came (read until
 * 16 came or none for 3 s), 5 on a BatchRefused, 6 when the node closed
 * the connection, 4 when it did not answer within 3 s; 3 when the
 * handshake was refused, 1 on a local error, 2 on bad usage.
 *
 * push: one StreamBatch for exchange XID of stream STREAM at SEQ_FIRST,
 * committed at HEIGHT, of COUNT records of 40 random bytes and a wrapped
 * key of KEY_BYTES (default 48) random bytes: a batch that no check
 * passes. Then it waits: exit 7 when the node asks for batches of XID
 * (a BatchRequest, "request FROM_SEQ"), 4 when it says nothing for 3 s,
 * 6 when it closes the connection. */
#include "p2p_raw.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/keyfile.h"
#include "p2p.pb-c.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_MS 3000u
#define ANSWER_BATCHES 16 /* the node's answer holds this many at most */
#define EXIT_DONE 0
#define EXIT_LOCAL 1
#define EXIT_USAGE 2
#define EXIT_REFUSED 3
#define EXIT_QUIET 4
#define EXIT_BATCH_REFUSED 5
#define EXIT_CLOSED 6
#define EXIT_ASKED 7

static int usage(void)
{
    fprintf(stderr, "usage: stream_probe --addr IP:PORT --chain ID --key "
                    "FILE request XID FROM_SEQ [XID_BYTES] | push XID STREAM "
                    "SEQ_FIRST HEIGHT COUNT [KEY_BYTES]\n");
    return EXIT_USAGE;
}

static int load_key(struct tdei_keypair *kp, const char *path)
{
    struct tdei_keyfile_key kf;
    char errmsg[TDEI_ERRMSG_SIZE] = "not a secp256k1 node key";

    memset(&kf, 0, sizeof(kf));
    if (tdei_keyfile_load(path, &kf, NULL, errmsg) != 0 ||
        kf.kind != TDEI_KEY_SECP256K1 ||
        tdei_keypair_from_secret(kp, kf.secret) != 0) {
        fprintf(stderr, "stream_probe: %s: %s\n", path, errmsg);
        tdei_keyfile_key_wipe(&kf);
        return -1;
    }
    tdei_keyfile_key_wipe(&kf);
    return 0;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The next channel-5 message (tdei_malloc'd, after the channel byte)
 * within WAIT_MS; the node's other frames (status, consensus) are
 * skipped. */
static int read_data(struct raw_peer *raw, uint8_t **msg, size_t *len)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    uint64_t end = mono_ms() + WAIT_MS;

    for (int frames = 0; frames < 100000 && mono_ms() < end; frames++) {
        uint8_t *body = NULL;
        size_t size = 0;
        size_t plain = 0;
        int rc = raw_read_frame(raw, &body, &size);

        if (rc != RAW_OK) {
            return rc;
        }
        if (secure_open(&raw->sec, body, size, &plain, errmsg) != 0) {
            tdei_free(body);
            return RAW_ERROR;
        }
        if (plain >= 1 && body[0] == 5) {
            *len = plain - 1;
            *msg = tdei_malloc(*len + 1);
            if (*msg != NULL) {
                memcpy(*msg, body + 1, *len);
            }
            tdei_free(body);
            return *msg != NULL ? RAW_OK : RAW_ERROR;
        }
        tdei_free(body);
    }
    return RAW_TIMEOUT;
}

static int request(struct raw_peer *raw, const uint8_t *xid, size_t xid_len,
                   uint64_t from_seq)
{
    Tdei__P2p__DataMessage msg = TDEI__P2P__DATA_MESSAGE__INIT;
    Tdei__P2p__BatchRequest req = TDEI__P2P__BATCH_REQUEST__INIT;
    uint8_t *bytes;
    uint8_t *frame = NULL;
    size_t len;
    size_t size = 0;
    int batches = 0;
    int rc;

    req.exchange.data = (uint8_t *)(uintptr_t)xid;
    req.exchange.len = xid_len;
    req.from_seq = from_seq;
    msg.msg_case = TDEI__P2P__DATA_MESSAGE__MSG_BATCH_REQUEST;
    msg.batch_request = &req;
    len = tdei__p2p__data_message__get_packed_size(&msg);
    bytes = tdei_malloc(len + 1);
    if (bytes == NULL) {
        return EXIT_LOCAL;
    }
    (void)tdei__p2p__data_message__pack(&msg, bytes);
    rc = raw_seal(raw, 5, bytes, len, &frame, &size);
    tdei_free(bytes);
    if (rc == RAW_OK) {
        rc = raw_send(raw, frame, size);
    }
    tdei_free(frame);
    if (rc != RAW_OK) {
        return EXIT_LOCAL;
    }
    while (batches < ANSWER_BATCHES) {
        Tdei__P2p__DataMessage *m;
        uint8_t *answer = NULL;

        rc = read_data(raw, &answer, &len);
        if (rc == RAW_CLOSED) {
            printf("closed: the node closed the connection\n");
            return EXIT_CLOSED;
        }
        if (rc == RAW_TIMEOUT) {
            if (batches > 0) {
                return EXIT_DONE;
            }
            printf("quiet: no answer within %u ms\n", WAIT_MS);
            return EXIT_QUIET;
        }
        if (rc != RAW_OK) {
            printf("error: a frame from the node does not open\n");
            return EXIT_LOCAL;
        }
        m = tdei__p2p__data_message__unpack(NULL, len, answer);
        tdei_free(answer);
        if (m == NULL) {
            printf("error: a data message that does not decode\n");
            return EXIT_LOCAL;
        }
        if (m->msg_case == TDEI__P2P__DATA_MESSAGE__MSG_BATCH) {
            printf("batch %llu %zu %llu\n",
                   (unsigned long long)m->batch->seq_first, m->batch->n_records,
                   (unsigned long long)m->batch->height);
            batches++;
            rc = -1;
        } else if (m->msg_case == TDEI__P2P__DATA_MESSAGE__MSG_BATCH_REFUSED) {
            printf("refused %s: %s\n",
                   tdei_errname((int)m->batch_refused->code),
                   m->batch_refused->reason);
            rc = EXIT_BATCH_REFUSED;
        } else {
            printf("error: the node answered with data message %d\n",
                   (int)m->msg_case);
            rc = EXIT_LOCAL;
        }
        tdei__p2p__data_message__free_unpacked(m, NULL);
        if (rc >= 0) {
            return rc;
        }
    }
    return EXIT_DONE;
}

/* Seal and send @msg on channel 5. */
static int send_data(struct raw_peer *raw, const Tdei__P2p__DataMessage *msg)
{
    size_t len = tdei__p2p__data_message__get_packed_size(msg);
    uint8_t *bytes = tdei_malloc(len + 1);
    uint8_t *frame = NULL;
    size_t size = 0;
    int rc;

    if (bytes == NULL) {
        return RAW_ERROR;
    }
    (void)tdei__p2p__data_message__pack(msg, bytes);
    rc = raw_seal(raw, 5, bytes, len, &frame, &size);
    tdei_free(bytes);
    if (rc == RAW_OK) {
        rc = raw_send(raw, frame, size);
    }
    tdei_free(frame);
    return rc;
}

static int push(struct raw_peer *raw, const uint8_t *xid, const char *stream,
                uint64_t seq_first, uint64_t height, size_t count,
                size_t key_len)
{
    Tdei__P2p__DataMessage msg = TDEI__P2P__DATA_MESSAGE__INIT;
    Tdei__P2p__StreamBatch sb = TDEI__P2P__STREAM_BATCH__INIT;
    ProtobufCBinaryData recs[64];
    uint8_t data[64][40];
    uint8_t wrapped[64];
    uint8_t *answer = NULL;
    size_t len = 0;
    int rc;

    randombytes_buf(data, sizeof(data));
    randombytes_buf(wrapped, sizeof(wrapped));
    for (size_t i = 0; i < count; i++) {
        recs[i].data = data[i];
        recs[i].len = sizeof(data[i]);
    }
    sb.exchange.data = (uint8_t *)(uintptr_t)xid;
    sb.exchange.len = 32;
    sb.stream = (char *)(uintptr_t)stream;
    sb.seq_first = seq_first;
    sb.height = height;
    sb.records = recs;
    sb.n_records = count;
    sb.wrapped_key.data = wrapped;
    sb.wrapped_key.len = key_len;
    msg.msg_case = TDEI__P2P__DATA_MESSAGE__MSG_BATCH;
    msg.batch = &sb;
    if (send_data(raw, &msg) != RAW_OK) {
        return EXIT_LOCAL;
    }
    rc = read_data(raw, &answer, &len);
    if (rc == RAW_CLOSED) {
        printf("closed: the node closed the connection\n");
        return EXIT_CLOSED;
    }
    if (rc == RAW_TIMEOUT) {
        printf("quiet: nothing within %u ms\n", WAIT_MS);
        return EXIT_QUIET;
    }
    if (rc == RAW_OK) {
        Tdei__P2p__DataMessage *m =
            tdei__p2p__data_message__unpack(NULL, len, answer);
        rc = EXIT_LOCAL;
        if (m != NULL &&
            m->msg_case == TDEI__P2P__DATA_MESSAGE__MSG_BATCH_REQUEST &&
            m->batch_request->exchange.len == 32 &&
            memcmp(m->batch_request->exchange.data, xid, 32) == 0) {
            printf("request %llu\n",
                   (unsigned long long)m->batch_request->from_seq);
            rc = EXIT_ASKED;
        } else {
            printf("error: an unexpected data message\n");
        }
        if (m != NULL) {
            tdei__p2p__data_message__free_unpacked(m, NULL);
        }
        tdei_free(answer);
        return rc;
    }
    printf("error: a frame from the node does not open\n");
    return EXIT_LOCAL;
}

/* Parse decimal @text into @out; -1 when it is not a number. */
static int parse_u64(const char *text, uint64_t *out)
{
    char *end;

    if (text[0] < '0' || text[0] > '9') {
        return -1;
    }
    *out = strtoull(text, &end, 10);
    return *end == '\0' ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct raw_peer raw = {.fd = -1};
    struct tdei_keypair key;
    const char *addr = NULL;
    const char *chain = NULL;
    const char *keyfile = NULL;
    const char *args[8];
    int nargs = 0;
    uint8_t xid[32];
    size_t xid_len = sizeof(xid);
    size_t got = 0;
    uint64_t from_seq = 0;
    uint64_t height = 0;
    uint64_t n = 0;
    uint64_t key_len = 48;
    size_t count = 0;
    char ip[64];
    const char *colon;
    int port;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc) {
            addr = argv[++i];
        } else if (strcmp(argv[i], "--chain") == 0 && i + 1 < argc) {
            chain = argv[++i];
        } else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            keyfile = argv[++i];
        } else if (nargs < 8) {
            args[nargs++] = argv[i];
        } else {
            return usage();
        }
    }
    if (addr == NULL || chain == NULL || keyfile == NULL || nargs < 3 ||
        sodium_hex2bin(xid, sizeof(xid), args[1], strlen(args[1]), NULL, &got,
                       NULL) != 0 ||
        got != sizeof(xid)) {
        return usage();
    }
    if (strcmp(args[0], "request") == 0) {
        if (nargs > 4 || parse_u64(args[2], &from_seq) != 0 ||
            (nargs == 4 && (parse_u64(args[3], &n) != 0 || n > 32))) {
            return usage();
        }
        xid_len = nargs == 4 ? (size_t)n : sizeof(xid);
    } else if (strcmp(args[0], "push") == 0) {
        if (nargs < 6 || nargs > 7 || parse_u64(args[3], &from_seq) != 0 ||
            parse_u64(args[4], &height) != 0 || parse_u64(args[5], &n) != 0 ||
            n < 1 || n > 64 ||
            (nargs == 7 &&
             (parse_u64(args[6], &key_len) != 0 || key_len > 64))) {
            return usage();
        }
        count = (size_t)n;
    } else {
        return usage();
    }
    colon = strrchr(addr, ':');
    if (colon == NULL || (size_t)(colon - addr) >= sizeof(ip)) {
        return usage();
    }
    memcpy(ip, addr, (size_t)(colon - addr));
    ip[colon - addr] = '\0';
    port = atoi(colon + 1);
    if (port <= 0 || port > 65535) {
        return usage();
    }
    if (tdei_crypto_init() != 0 || load_key(&key, keyfile) != 0) {
        return EXIT_LOCAL;
    }
    if (raw_connect(&raw, ip, port, WAIT_MS, 16u * 1024u * 1024u) != RAW_OK) {
        printf("error: cannot connect to %s\n", addr);
        rc = EXIT_LOCAL;
    } else {
        rc = raw_handshake(&raw, chain, &key);
        if (rc == RAW_OK && strcmp(args[0], "push") == 0) {
            rc = push(&raw, xid, args[2], from_seq, height, count,
                      (size_t)key_len);
        } else if (rc == RAW_OK) {
            rc = request(&raw, xid, xid_len, from_seq);
        } else {
            printf("error: the handshake failed (%d)\n", rc);
            rc = rc == RAW_CLOSED ? EXIT_REFUSED : EXIT_LOCAL;
        }
    }
    raw_close(&raw);
    tdei_keypair_wipe(&key);
    return rc;
}
