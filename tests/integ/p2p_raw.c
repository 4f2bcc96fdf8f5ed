/* A raw peer over a blocking socket (see p2p_raw.h). */
#include "p2p_raw.h"

#include "core/alloc.h"
#include "core/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define RAW_READ_SIZE 4096u
#define MS_PER_S 1000u
#define NS_PER_MS 1000000u
#define US_PER_MS 1000u

static uint64_t now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * MS_PER_S + (uint64_t)ts.tv_nsec / NS_PER_MS;
}

int raw_connect(struct raw_peer *r, const char *ip, int port,
                unsigned timeout_ms, size_t max_frame)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct timeval tv;

    memset(r, 0, sizeof(*r));
    r->fd = -1;
    frame_decoder_init(&r->decoder, max_frame);
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1) {
        return RAW_ERROR;
    }
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->fd < 0) {
        return RAW_ERROR;
    }
    tv.tv_sec = (time_t)(timeout_ms / MS_PER_S);
    tv.tv_usec = (suseconds_t)((timeout_ms % MS_PER_S) * US_PER_MS);
    (void)setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(r->fd, (const struct sockaddr *)&sin, sizeof(sin)) != 0) {
        return RAW_ERROR;
    }
    return RAW_OK;
}

int raw_send(struct raw_peer *r, const void *data, size_t len)
{
    const uint8_t *p = data;
    ssize_t n;

    while (len > 0) {
        n = send(r->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno == EPIPE || errno == ECONNRESET ? RAW_CLOSED
                                                         : RAW_ERROR;
        }
        p += n;
        len -= (size_t)n;
    }
    return RAW_OK;
}

/* One recv: RAW_OK with *got > 0, RAW_CLOSED or RAW_TIMEOUT. */
static int raw_recv(struct raw_peer *r, uint8_t *buf, size_t cap, size_t *got)
{
    ssize_t n;

    do {
        n = recv(r->fd, buf, cap, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        *got = (size_t)n;
        return RAW_OK;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return RAW_TIMEOUT;
    }
    return RAW_CLOSED;
}

int raw_read_frame(struct raw_peer *r, uint8_t **body, size_t *len)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t byte;
    size_t got;
    size_t used;
    int rc;

    /* One byte at a time: nothing of the next frame is read ahead, and
     * the decoder bounds the frame. */
    for (;;) {
        rc = raw_recv(r, &byte, 1, &got);
        if (rc != RAW_OK) {
            return rc;
        }
        rc = frame_decode(&r->decoder, &byte, 1, "max_frame", &used, body,
                          len, errmsg);
        if (rc != 0) {
            return RAW_ERROR;
        }
        if (*body != NULL) {
            return RAW_OK;
        }
    }
}

int raw_handshake(struct raw_peer *r, const char *chain_id,
                  const struct tdei_keypair *key)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *frame;
    size_t size;
    int rc;

    if (secure_init(&r->sec, SECURE_INITIATOR, chain_id, key,
                    r->decoder.max_size, errmsg) != 0 ||
        secure_hello_encode(&r->sec, &frame, &size, errmsg) != 0) {
        return RAW_ERROR;
    }
    rc = raw_send(r, frame, size);
    tdei_free(frame);
    if (rc == RAW_OK) {
        rc = raw_read_frame(r, &frame, &size);
    }
    if (rc != RAW_OK) {
        return rc;
    }
    rc = secure_hello_read(&r->sec, frame, size, errmsg);
    tdei_free(frame);
    if (rc != 0 || secure_auth_seal(&r->sec, &frame, &size, errmsg) != 0) {
        return RAW_ERROR;
    }
    rc = raw_send(r, frame, size);
    tdei_free(frame);
    if (rc == RAW_OK) {
        rc = raw_read_frame(r, &frame, &size);
    }
    if (rc != RAW_OK) {
        return rc;
    }
    rc = secure_auth_open(&r->sec, frame, size, errmsg);
    tdei_free(frame);
    return rc == 0 ? RAW_OK : RAW_ERROR;
}

int raw_seal(struct raw_peer *r, uint8_t channel, const uint8_t *data,
             size_t len, uint8_t **frame, size_t *size)
{
    char errmsg[TDEI_ERRMSG_SIZE];

    return secure_seal(&r->sec, &channel, data, len, frame, size, errmsg) == 0
               ? RAW_OK
               : RAW_ERROR;
}

int raw_wait_closed(struct raw_peer *r, unsigned timeout_ms)
{
    uint64_t deadline = now_ms() + timeout_ms;
    uint8_t buf[RAW_READ_SIZE];
    size_t got;
    int rc;

    /* Each pass waits at most SO_RCVTIMEO: bounded by the deadline. */
    while (now_ms() < deadline) {
        rc = raw_recv(r, buf, sizeof(buf), &got);
        if (rc == RAW_CLOSED) {
            return RAW_CLOSED;
        }
    }
    return RAW_TIMEOUT;
}

void raw_close(struct raw_peer *r)
{
    if (r->fd >= 0) {
        (void)close(r->fd);
        r->fd = -1;
    }
    frame_decoder_close(&r->decoder);
    secure_close(&r->sec);
}
