/* Tests of node/api: frames, addresses, the server on a real libuv loop
 * (run by a background thread) and the blocking client, over a Unix
 * socket in a temporary directory and over TCP on 127.0.0.1. */
#include "testutil.h"

#include "api/api.h"
#include "api/client.h"
#include "api/frame.h"
#include "core/alloc.h"
#include "core/error.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define TIMEOUT_MS 5000u
#define SLOTS 8 /* async calls the test handler holds at once */

/* ------------------------------------------------------------------------
 * Frames
 * ------------------------------------------------------------------------ */

/* Three frames of 1, 300 and 5 bytes back to back. */
static size_t make_stream(uint8_t *out, size_t cap)
{
    static const size_t sizes[3] = {1, 300, 5};
    size_t pos = 0;
    size_t i;
    size_t k;

    for (i = 0; i < 3; i++) {
        ck_assert_uint_le(pos + FRAME_HEADER_SIZE + sizes[i], cap);
        frame_header_write(out + pos, sizes[i]);
        pos += FRAME_HEADER_SIZE;
        for (k = 0; k < sizes[i]; k++) {
            out[pos++] = (uint8_t)(i * 50 + k);
        }
    }
    return pos;
}

/* Feed @len bytes; append each frame's size to @sizes. */
static void feed_all(struct frame_decoder *dec, const uint8_t *data, size_t len,
                     size_t *sizes, size_t *count)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *frame;
    size_t frame_size;
    size_t used;

    while (len > 0) {
        ck_assert_int_eq(frame_decode(dec, data, len, "max", &used, &frame,
                                      &frame_size, errmsg),
                         0);
        ck_assert_uint_gt(used, 0);
        ck_assert_uint_le(frame_decoder_buffered(dec), 300 + 4);
        data += used;
        len -= used;
        if (frame != NULL) {
            ck_assert_uint_lt(*count, 3);
            ck_assert_uint_eq(frame[0], (uint8_t)(*count * 50));
            sizes[(*count)++] = frame_size;
            tdei_free(frame);
        }
    }
}

START_TEST(test_frame_decoder_every_split_point)
{
    uint8_t stream[400];
    size_t total = make_stream(stream, sizeof(stream));
    struct frame_decoder dec;
    size_t sizes[3];
    size_t count;
    size_t i;
    size_t j;

    /* Every pair of split points: three chunks, all boundaries. */
    for (i = 0; i <= total; i++) {
        for (j = i; j <= total; j++) {
            frame_decoder_init(&dec, 300);
            count = 0;
            feed_all(&dec, stream, i, sizes, &count);
            feed_all(&dec, stream + i, j - i, sizes, &count);
            feed_all(&dec, stream + j, total - j, sizes, &count);
            ck_assert_uint_eq(count, 3);
            ck_assert_uint_eq(sizes[0], 1);
            ck_assert_uint_eq(sizes[1], 300);
            ck_assert_uint_eq(sizes[2], 5);
            ck_assert_uint_eq(frame_decoder_buffered(&dec), 0);
            frame_decoder_close(&dec);
        }
    }
    /* One byte at a time. */
    frame_decoder_init(&dec, 300);
    count = 0;
    for (i = 0; i < total; i++) {
        feed_all(&dec, stream + i, 1, sizes, &count);
    }
    ck_assert_uint_eq(count, 3);
    frame_decoder_close(&dec);
}
END_TEST

START_TEST(test_frame_zero_length_refused_stream_goes_on)
{
    uint8_t bytes[4 + 4 + 2] = {0, 0, 0, 0, 0, 0, 0, 2, 7, 8};
    struct frame_decoder dec;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *frame;
    size_t size;
    size_t used;

    frame_decoder_init(&dec, 100);
    ck_assert_int_eq(frame_decode(&dec, bytes, sizeof(bytes), "api.max_frame",
                                  &used, &frame, &size, errmsg),
                     TDEI_MALFORMED);
    ck_assert_uint_eq(used, 4);
    ck_assert_ptr_null(frame);
    ck_assert_ptr_nonnull(strstr(errmsg, "frame length 0"));
    ck_assert_int_eq(frame_decode(&dec, bytes + 4, 6, "api.max_frame", &used,
                                  &frame, &size, errmsg),
                     0);
    ck_assert_uint_eq(used, 6);
    ck_assert_uint_eq(size, 2);
    ck_assert_uint_eq(frame[1], 8);
    tdei_free(frame);
    frame_decoder_close(&dec);
}
END_TEST

START_TEST(test_frame_oversized_refused_and_sticky)
{
    uint8_t bytes[8] = {0, 0, 0, 101, 1, 2, 3, 4};
    struct frame_decoder dec;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *frame;
    size_t size;
    size_t used;

    frame_decoder_init(&dec, 100);
    ck_assert_int_eq(frame_decode(&dec, bytes, sizeof(bytes), "api.max_frame",
                                  &used, &frame, &size, errmsg),
                     TDEI_TOOBIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "101"));
    ck_assert_ptr_nonnull(strstr(errmsg, "api.max_frame"));
    ck_assert_uint_le(frame_decoder_buffered(&dec), 104);
    ck_assert_int_eq(frame_decode(&dec, bytes + used, sizeof(bytes) - used,
                                  "api.max_frame", &used, &frame, &size,
                                  errmsg),
                     TDEI_TOOBIG);
    ck_assert_uint_eq(used, 0);
    frame_decoder_close(&dec);
}
END_TEST

START_TEST(test_frame_buffering_bounded_by_max_plus_header)
{
    uint8_t bytes[4 + 100] = {0, 0, 0, 100};
    struct frame_decoder dec;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *frame;
    size_t size;
    size_t used;

    frame_decoder_init(&dec, 100);
    ck_assert_int_eq(
        frame_decode(&dec, bytes, 103, "m", &used, &frame, &size, errmsg), 0);
    ck_assert_ptr_null(frame);
    ck_assert_uint_eq(frame_decoder_buffered(&dec), 103);
    ck_assert_int_eq(
        frame_decode(&dec, bytes + 103, 1, "m", &used, &frame, &size, errmsg),
        0);
    ck_assert_uint_eq(size, 100);
    tdei_free(frame);
    frame_decoder_close(&dec);
}
END_TEST

START_TEST(test_frame_encode_limits)
{
    uint8_t body[10] = {1, 2, 3};
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *out;
    size_t size;
    Tdei__Api__Request empty = TDEI__API__REQUEST__INIT;

    ck_assert_int_eq(frame_encode(body, 0, 10, "m", &out, &size, errmsg),
                     TDEI_MALFORMED);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(frame_encode(body, 10, 9, "m", &out, &size, errmsg),
                     TDEI_TOOBIG);
    ck_assert_int_eq(frame_encode(body, 3, 10, "m", &out, &size, errmsg), 0);
    ck_assert_uint_eq(size, 7);
    ck_assert_uint_eq(frame_header_read(out), 3);
    ck_assert_uint_eq(out[6], 3);
    tdei_free(out);
    ck_assert_int_eq(
        frame_encode_message(&empty.base, 10, "m", &out, &size, errmsg),
        TDEI_MALFORMED);
}
END_TEST

START_TEST(test_frame_message_decode_bounds_fields)
{
    uint8_t many[2 * 65];
    uint8_t bad[3] = {0x08, 0x80, 0x80}; /* varint runs off the end */
    char errmsg[TDEI_ERRMSG_SIZE];
    ProtobufCMessage *msg;
    size_t i;

    for (i = 0; i < 65; i++) {
        many[2 * i] = 0x08; /* id, varint */
        many[2 * i + 1] = 0x01;
    }
    ck_assert_int_eq(frame_message_decode(&tdei__api__request__descriptor, many,
                                          sizeof(many), 64, "req", &msg,
                                          errmsg),
                     TDEI_MALFORMED);
    ck_assert_ptr_null(msg);
    ck_assert_int_eq(frame_message_decode(&tdei__api__request__descriptor, many,
                                          2 * 64, 64, "req", &msg, errmsg),
                     0);
    ck_assert_uint_eq(((Tdei__Api__Request *)msg)->id, 1);
    frame_message_free(msg);
    ck_assert_int_eq(frame_message_decode(&tdei__api__request__descriptor, bad,
                                          sizeof(bad), 64, "req", &msg, errmsg),
                     TDEI_MALFORMED);
}
END_TEST

/* ------------------------------------------------------------------------
 * Addresses
 * ------------------------------------------------------------------------ */

START_TEST(test_addr_parse_forms)
{
    struct api_addr a;
    char errmsg[TDEI_ERRMSG_SIZE];

    ck_assert_int_eq(api_addr_parse(&a, "/x/api.sock", errmsg), 0);
    ck_assert_int_eq(a.kind, API_ADDR_UNIX);
    ck_assert_str_eq(a.path, "/x/api.sock");
    ck_assert_int_eq(api_addr_parse(&a, "unix:api.sock", errmsg), 0);
    ck_assert_str_eq(a.path, "api.sock");
    ck_assert_int_eq(api_addr_parse(&a, "127.0.0.1:7000", errmsg), 0);
    ck_assert_int_eq(a.kind, API_ADDR_TCP);
    ck_assert_uint_eq(a.port, 7000);
    ck_assert_int_eq(api_addr_parse(&a, "tcp://127.0.0.2:0", errmsg), 0);
    ck_assert_uint_eq(a.ip[3], 2);
    ck_assert_int_eq(api_addr_parse(&a, "localhost:1", errmsg), 0);
    ck_assert_uint_eq(a.ip[0], 127);
    ck_assert_int_eq(api_addr_parse(&a, "10.0.0.1:7000", errmsg), TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(errmsg, "not a loopback address"));
    ck_assert_int_eq(api_addr_parse(&a, "tcp://0.0.0.0:7000", errmsg),
                     TDEI_INVAL);
    ck_assert_int_eq(api_addr_parse(&a, "tcp://127.0.0.1:70000", errmsg),
                     TDEI_INVAL);
    ck_assert_int_eq(api_addr_parse(&a, "tcp://example.org:70", errmsg),
                     TDEI_INVAL);
    ck_assert_int_eq(api_addr_parse(&a, "", errmsg), TDEI_INVAL);
}
END_TEST

/* ------------------------------------------------------------------------
 * A server on a loop thread, with a test handler
 * ------------------------------------------------------------------------ */

struct slot
{
    uv_timer_t timer;
    struct api_call *call; /* NULL when free */
    uint64_t height;
    struct server *srv;
};

struct server
{
    uv_loop_t loop;
    uv_async_t stop_async;
    pthread_t thread;
    struct api *api;
    struct slot slots[SLOTS];
    int cancel_responds;       /* cancel hook answers at once */
    atomic_int responded_gone; /* answers to calls whose client left */
    atomic_int canceled;       /* cancel hook runs */
    struct api_stats stats;    /* taken at stop */
    char dir[200];
    char path[300];
};

static struct server srv;

static void respond_block(struct api_call *call, uint64_t height)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__BlockInfo info = TDEI__API__BLOCK_INFO__INIT;

    info.height = height;
    resp.resp_case = TDEI__API__RESPONSE__RESP_BLOCK;
    resp.block = &info;
    api_call_respond(call, &resp);
}

static void on_slot_timer(uv_timer_t *timer)
{
    struct slot *slot = timer->data;
    struct api_call *call = slot->call;

    slot->call = NULL;
    if (!api_call_active(call)) {
        atomic_fetch_add(&slot->srv->responded_gone, 1);
    }
    respond_block(call, slot->height);
}

/* get_status: at once; get_block: after `height` ms; get_object: echo the
 * key as the value; anything else: TDEI_NOTFOUND. */
static void handler_request(void *impl, struct api_call *call,
                            const Tdei__Api__Request *req)
{
    struct server *s = impl;
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__Status status = TDEI__API__STATUS__INIT;
    Tdei__Api__ObjectInfo object = TDEI__API__OBJECT_INFO__INIT;
    int i;

    ck_assert_ptr_eq(api_call_request(call), req);
    switch (req->req_case) {
    case TDEI__API__REQUEST__REQ_GET_STATUS:
        status.chain_id = "tdei-test";
        status.height = 7;
        resp.resp_case = TDEI__API__RESPONSE__RESP_STATUS;
        resp.status = &status;
        resp.id = 999; /* ignored: the server sets the request's id */
        api_call_respond(call, &resp);
        return;
    case TDEI__API__REQUEST__REQ_GET_OBJECT:
        object.value = req->get_object->key;
        resp.resp_case = TDEI__API__RESPONSE__RESP_OBJECT;
        resp.object = &object;
        api_call_respond(call, &resp);
        return;
    case TDEI__API__REQUEST__REQ_GET_BLOCK:
        for (i = 0; i < SLOTS; i++) {
            if (s->slots[i].call == NULL) {
                s->slots[i].call = call;
                s->slots[i].height = req->get_block->height;
                ck_assert_int_eq(uv_timer_start(&s->slots[i].timer,
                                                on_slot_timer,
                                                req->get_block->height, 0),
                                 0);
                return;
            }
        }
        api_call_respond_error(call, TDEI_BUSY, "test handler full");
        return;
    default:
        api_call_respond_error(call, TDEI_NOTFOUND, "nothing here; %s",
                               "ask for something else");
        return;
    }
}

static void handler_cancel(void *impl, struct api_call *call)
{
    struct server *s = impl;
    int i;

    atomic_fetch_add(&s->canceled, 1);
    if (!s->cancel_responds) {
        return; /* keep it: the timer answers later */
    }
    for (i = 0; i < SLOTS; i++) {
        if (s->slots[i].call == call) {
            (void)uv_timer_stop(&s->slots[i].timer);
            s->slots[i].call = NULL;
            api_call_respond_error(call, TDEI_CANCELED, "stopping");
        }
    }
}

static void on_stop_async(uv_async_t *async)
{
    struct server *s = async->data;
    int i;

    api_stats_get(s->api, &s->stats);
    api_stop(s->api, NULL, NULL);
    s->api = NULL;
    for (i = 0; i < SLOTS; i++) {
        if (s->slots[i].call != NULL) {
            api_call_respond_error(s->slots[i].call, TDEI_CANCELED, "stop");
            s->slots[i].call = NULL;
        }
        uv_close((uv_handle_t *)&s->slots[i].timer, NULL);
    }
    uv_close((uv_handle_t *)async, NULL);
}

static void *loop_thread(void *arg)
{
    struct server *s = arg;

    (void)uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

static struct api_config config_unix(void)
{
    struct api_config config = API_CONFIG_DEFAULT;

    config.socket_path = srv.path;
    return config;
}

/* Start a server with @config (socket_path may point at srv.path). */
static void server_start(const struct api_config *config)
{
    struct api_handler handler = {
        .impl = &srv, .request = handler_request, .cancel = handler_cancel};
    char errmsg[TDEI_ERRMSG_SIZE];
    int i;

    ck_assert_int_eq(uv_loop_init(&srv.loop), 0);
    ck_assert_int_eq(uv_async_init(&srv.loop, &srv.stop_async, on_stop_async),
                     0);
    srv.stop_async.data = &srv;
    for (i = 0; i < SLOTS; i++) {
        ck_assert_int_eq(uv_timer_init(&srv.loop, &srv.slots[i].timer), 0);
        srv.slots[i].timer.data = &srv.slots[i];
        srv.slots[i].srv = &srv;
        srv.slots[i].call = NULL;
    }
    ck_assert_msg(api_start(&srv.api, &srv.loop, config, &handler, errmsg) == 0,
                  "api_start: %s", errmsg);
    ck_assert_int_eq(pthread_create(&srv.thread, NULL, loop_thread, &srv), 0);
}

static void server_stop(void)
{
    ck_assert_int_eq(uv_async_send(&srv.stop_async), 0);
    ck_assert_int_eq(pthread_join(srv.thread, NULL), 0);
    ck_assert_int_eq(uv_loop_close(&srv.loop), 0);
}

static void setup(void)
{
    memset(&srv, 0, sizeof(srv));
    (void)snprintf(srv.dir, sizeof(srv.dir), "%s", testutil_tmpdir());
    (void)snprintf(srv.path, sizeof(srv.path), "%s/api.sock", srv.dir);
    testutil_leak_setup();
}

static void teardown(void)
{
    testutil_leak_teardown();
    testutil_rmtree(srv.dir);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (ms % 1000) * 1000000L};

    (void)nanosleep(&ts, NULL);
}

/* Wait up to 5 s for @value to reach @want. */
static void wait_for(atomic_int *value, int want)
{
    int i;

    for (i = 0; i < 500 && atomic_load(value) < want; i++) {
        sleep_ms(10);
    }
    ck_assert_int_ge(atomic_load(value), want);
}

static void client_open(struct api_client *c, const char *addr)
{
    char errmsg[TDEI_ERRMSG_SIZE];

    ck_assert_msg(api_client_connect(c, addr, TIMEOUT_MS, TDEI_API_FRAME_MAX,
                                     errmsg) == 0,
                  "connect %s: %s", addr, errmsg);
}

/* A get_status round trip on @c. */
static void check_status(struct api_client *c)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp;
    char errmsg[TDEI_ERRMSG_SIZE];

    req.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    req.get_status = &get;
    ck_assert_msg(api_client_call(c, &req, &resp, errmsg) == 0, "call: %s",
                  errmsg);
    ck_assert_uint_ne(req.id, 0);
    ck_assert_uint_eq(resp->id, req.id);
    ck_assert_uint_eq(resp->code, 0);
    ck_assert_int_eq(resp->resp_case, TDEI__API__RESPONSE__RESP_STATUS);
    ck_assert_str_eq(resp->status->chain_id, "tdei-test");
    ck_assert_uint_eq(resp->status->height, 7);
    api_client_response_free(resp);
}

static void send_get_block(struct api_client *c, uint64_t id, uint64_t ms)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetBlock get = TDEI__API__GET_BLOCK__INIT;
    char errmsg[TDEI_ERRMSG_SIZE];

    req.id = id;
    req.req_case = TDEI__API__REQUEST__REQ_GET_BLOCK;
    req.get_block = &get;
    get.height = ms;
    ck_assert_msg(api_client_send(c, &req, errmsg) == 0, "send: %s", errmsg);
}

/* Read one response and check its id and code; returns it. */
static Tdei__Api__Response *expect(struct api_client *c, uint64_t id,
                                   uint32_t code)
{
    Tdei__Api__Response *resp;
    char errmsg[TDEI_ERRMSG_SIZE];

    ck_assert_msg(api_client_recv(c, &resp, errmsg) == 0, "recv: %s", errmsg);
    ck_assert_uint_eq(resp->id, id);
    ck_assert_msg(resp->code == code, "code %u (%s), want %u", resp->code,
                  resp->error, code);
    if (code != 0) {
        ck_assert_uint_gt(strlen(resp->error), 0);
    }
    return resp;
}

static void expect_free(struct api_client *c, uint64_t id, uint32_t code)
{
    api_client_response_free(expect(c, id, code));
}

static void send_raw(struct api_client *c, const void *buf, size_t len)
{
    char errmsg[TDEI_ERRMSG_SIZE];

    ck_assert_msg(api_client_send_raw(c, buf, len, errmsg) == 0, "send: %s",
                  errmsg);
}

/* ------------------------------------------------------------------------
 * Server tests
 * ------------------------------------------------------------------------ */

START_TEST(test_api_unix_round_trip_and_mode_0600)
{
    struct api_config config = config_unix();
    struct api_client c;
    struct stat st;
    char addr[320];

    server_start(&config);
    ck_assert_int_eq(lstat(srv.path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    client_open(&c, srv.path);
    check_status(&c);
    check_status(&c);
    api_client_close(&c);
    (void)snprintf(addr, sizeof(addr), "unix:%s", srv.path);
    client_open(&c, addr);
    check_status(&c);
    api_client_close(&c);
    server_stop();
    ck_assert_uint_eq(srv.stats.calls, 3);
    ck_assert_uint_eq(srv.stats.responses, 3);
    ck_assert_uint_eq(srv.stats.connections_accepted, 2);
    ck_assert_int_ne(access(srv.path, F_OK), 0); /* removed on stop */
}
END_TEST

START_TEST(test_api_tcp_round_trip_on_free_port)
{
    struct api_config config = API_CONFIG_DEFAULT;
    struct api_client c;
    char addr[64];
    uint16_t port;

    config.listen = "127.0.0.1:0";
    server_start(&config);
    port = api_tcp_port(srv.api);
    ck_assert_uint_ne(port, 0);
    (void)snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%u", port);
    client_open(&c, addr);
    check_status(&c);
    api_client_close(&c);
    (void)snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
    client_open(&c, addr);
    check_status(&c);
    api_client_close(&c);
    server_stop();
}
END_TEST

START_TEST(test_api_async_answers_out_of_order)
{
    struct api_config config = config_unix();
    struct api_client c;
    Tdei__Api__Response *resp;

    server_start(&config);
    client_open(&c, srv.path);
    send_get_block(&c, 1, 150);
    send_get_block(&c, 2, 10);
    resp = expect(&c, 2, 0);
    ck_assert_int_eq(resp->resp_case, TDEI__API__RESPONSE__RESP_BLOCK);
    ck_assert_uint_eq(resp->block->height, 10);
    api_client_response_free(resp);
    resp = expect(&c, 1, 0);
    ck_assert_uint_eq(resp->block->height, 150);
    api_client_response_free(resp);
    api_client_close(&c);
    server_stop();
}
END_TEST

START_TEST(test_api_respond_after_client_left)
{
    struct api_config config = config_unix();
    struct api_client c;

    server_start(&config);
    client_open(&c, srv.path);
    send_get_block(&c, 1, 100);
    api_client_close(&c);
    wait_for(&srv.responded_gone, 1);
    ck_assert_int_eq(atomic_load(&srv.canceled), 1);
    client_open(&c, srv.path);
    check_status(&c);
    api_client_close(&c);
    server_stop();
    ck_assert_uint_eq(srv.stats.calls_canceled, 1);
}
END_TEST

START_TEST(test_api_stop_cancels_pending_calls)
{
    struct api_config config = config_unix();
    struct api_client c;
    Tdei__Api__Response *resp;
    char errmsg[TDEI_ERRMSG_SIZE];

    srv.cancel_responds = 1;
    server_start(&config);
    client_open(&c, srv.path);
    send_get_block(&c, 1, 60000);
    check_status(&c); /* the server has the call by now */
    server_stop();
    ck_assert_int_eq(atomic_load(&srv.canceled), 1);
    ck_assert_int_eq(api_client_recv(&c, &resp, errmsg), TDEI_NOCONN);
    api_client_close(&c);
}
END_TEST

START_TEST(test_api_malformed_frames_answered_server_survives)
{
    static const uint8_t garbage[] = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
    static const uint8_t zero[] = {0, 0, 0, 0};
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff};
    static const uint8_t truncated[] = {0, 0, 1, 0, 1, 2, 3, 4, 5};
    /* id 5, no type */
    static const uint8_t untyped[] = {0, 0, 0, 2, 0x08, 0x05};
    /* id 6 and field 40 (a request of a newer client) */
    static const uint8_t newer[] = {0, 0, 0, 5, 0x08, 0x06, 0xc0, 0x02, 1};
    struct api_config config = config_unix();
    struct api_client c;
    Tdei__Api__Response *resp;
    char errmsg[TDEI_ERRMSG_SIZE];

    server_start(&config);
    client_open(&c, srv.path);
    send_raw(&c, garbage, sizeof(garbage));
    expect_free(&c, 0, TDEI_MALFORMED);
    send_raw(&c, zero, sizeof(zero));
    expect_free(&c, 0, TDEI_MALFORMED);
    send_raw(&c, untyped, sizeof(untyped));
    expect_free(&c, 5, TDEI_BADREQUEST);
    send_raw(&c, newer, sizeof(newer));
    resp = expect(&c, 6, TDEI_BADREQUEST);
    ck_assert_ptr_nonnull(strstr(resp->error, "field 40"));
    api_client_response_free(resp);
    check_status(&c); /* the same connection still works */
    send_raw(&c, huge, sizeof(huge));
    resp = expect(&c, 0, TDEI_TOOBIG);
    ck_assert_ptr_nonnull(strstr(resp->error, "api.max_frame"));
    api_client_response_free(resp);
    ck_assert_int_eq(api_client_recv(&c, &resp, errmsg), TDEI_NOCONN);
    api_client_close(&c);

    client_open(&c, srv.path);
    send_raw(&c, truncated, sizeof(truncated));
    api_client_close(&c);

    client_open(&c, srv.path);
    check_status(&c);
    api_client_close(&c);
    server_stop();
    ck_assert_uint_eq(srv.stats.errors[TDEI_MALFORMED - API_STATS_CODE_BASE],
                      2);
    ck_assert_uint_eq(srv.stats.errors[TDEI_BADREQUEST - API_STATS_CODE_BASE],
                      2);
    ck_assert_uint_eq(srv.stats.errors[TDEI_TOOBIG - API_STATS_CODE_BASE], 1);
    ck_assert_uint_eq(srv.stats.errors_total, 5);
}
END_TEST

START_TEST(test_api_unknown_request_gets_badrequest)
{
    struct api_config config = config_unix();
    struct api_client c;
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__Response *resp;
    char errmsg[TDEI_ERRMSG_SIZE];

    server_start(&config);
    client_open(&c, srv.path);
    req.id = 42;
    ck_assert_int_eq(api_client_call(&c, &req, &resp, errmsg), 0);
    ck_assert_uint_eq(resp->id, 42);
    ck_assert_uint_eq(resp->code, TDEI_BADREQUEST);
    ck_assert_ptr_nonnull(strstr(resp->error, "no type"));
    api_client_response_free(resp);
    api_client_close(&c);
    server_stop();
}
END_TEST

START_TEST(test_api_max_connections_plus_one_refused)
{
    struct api_config config = config_unix();
    struct api_client c1;
    struct api_client c2;
    struct api_client c3;
    Tdei__Api__Response *resp;
    char errmsg[TDEI_ERRMSG_SIZE];
    int rc = -1;
    int i;

    config.max_connections = 2;
    server_start(&config);
    client_open(&c1, srv.path);
    check_status(&c1);
    client_open(&c2, srv.path);
    check_status(&c2);
    client_open(&c3, srv.path);
    resp = expect(&c3, 0, TDEI_BUSY);
    ck_assert_ptr_nonnull(strstr(resp->error, "api.max_connections"));
    api_client_response_free(resp);
    api_client_close(&c3);
    api_client_close(&c1);
    /* The server frees the slot once it sees c1's end of stream: until
     * then a new connection is refused at once; after, it gets no answer
     * until it asks. */
    for (i = 0; i < 100 && rc != TDEI_TIMEOUT; i++) {
        client_open(&c3, srv.path);
        c3.timeout_ms = 200;
        rc = api_client_recv(&c3, &resp, errmsg);
        if (rc != TDEI_TIMEOUT) {
            api_client_response_free(resp);
            api_client_close(&c3);
            sleep_ms(10);
        }
    }
    c3.timeout_ms = TIMEOUT_MS;
    ck_assert_int_eq(rc, TDEI_TIMEOUT);
    check_status(&c3);
    api_client_close(&c3);
    api_client_close(&c2);
    server_stop();
    ck_assert_uint_ge(srv.stats.connections_refused, 1);
}
END_TEST

START_TEST(test_api_max_pending_answers_busy)
{
    struct api_config config = config_unix();
    struct api_client c;

    config.max_pending = 1;
    server_start(&config);
    client_open(&c, srv.path);
    send_get_block(&c, 1, 200);
    send_get_block(&c, 2, 1);
    expect_free(&c, 2, TDEI_BUSY);
    expect_free(&c, 1, 0);
    api_client_close(&c);
    server_stop();
}
END_TEST

START_TEST(test_api_client_that_never_reads_is_dropped)
{
    struct api_config config = config_unix();
    struct api_client c;
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetObject get = TDEI__API__GET_OBJECT__INIT;
    uint8_t key[900];
    char errmsg[TDEI_ERRMSG_SIZE];
    int rc = 0;
    int i;

    config.max_frame = 1024;
    config.write_queue_max = 4096;
    memset(key, 'k', sizeof(key));
    get.key.data = key;
    get.key.len = sizeof(key);
    req.req_case = TDEI__API__REQUEST__REQ_GET_OBJECT;
    req.get_object = &get;
    server_start(&config);
    ck_assert_int_eq(api_client_connect(&c, srv.path, 1000, 1024, errmsg), 0);
    /* About 20 MB of answers that are never read: far over the kernel's
     * socket buffers and the 4096 bytes of write queue. */
    for (i = 0; i < 20000 && rc == 0; i++) {
        req.id = 0;
        rc = api_client_send(&c, &req, errmsg);
    }
    ck_assert_int_ne(rc, 0);
    api_client_close(&c);
    client_open(&c, srv.path);
    check_status(&c);
    api_client_close(&c);
    server_stop();
    ck_assert_uint_eq(srv.stats.slow_disconnects, 1);
}
END_TEST

START_TEST(test_api_refuses_non_loopback_and_bad_config)
{
    struct api_config config = API_CONFIG_DEFAULT;
    struct api_handler handler = {.impl = &srv, .request = handler_request};
    uv_loop_t loop;
    struct api *api;
    char errmsg[TDEI_ERRMSG_SIZE];

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    config.listen = "10.1.2.3:7000";
    ck_assert_int_eq(api_start(&api, &loop, &config, &handler, errmsg),
                     TDEI_CONFIG);
    ck_assert_ptr_null(api);
    ck_assert_ptr_nonnull(strstr(errmsg, "api.listen"));
    ck_assert_ptr_nonnull(strstr(errmsg, "loopback"));
    config.listen = "0.0.0.0:7000";
    ck_assert_int_eq(api_start(&api, &loop, &config, &handler, errmsg),
                     TDEI_CONFIG);
    config.listen = NULL;
    ck_assert_int_eq(api_start(&api, &loop, &config, &handler, errmsg),
                     TDEI_CONFIG);
    config.listen = "127.0.0.1:0";
    config.max_connections = 0;
    ck_assert_int_eq(api_start(&api, &loop, &config, &handler, errmsg),
                     TDEI_CONFIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "api.max_connections=0"));
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(test_api_stale_socket_replaced_live_one_refused)
{
    struct api_config config = config_unix();
    struct api_handler handler = {.impl = &srv, .request = handler_request};
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct api_client c;
    uv_loop_t loop;
    struct api *api;
    char errmsg[TDEI_ERRMSG_SIZE];
    char other[320];
    FILE *f;
    int fd;

    /* A socket file nobody listens on: what a killed node leaves. */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    memcpy(sun.sun_path, srv.path, strlen(srv.path) + 1);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    (void)close(fd);
    server_start(&config);
    client_open(&c, srv.path);
    check_status(&c);
    api_client_close(&c);

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(api_start(&api, &loop, &config, &handler, errmsg),
                     TDEI_ADDR_IN_USE);
    ck_assert_ptr_nonnull(strstr(errmsg, "another process listens"));
    (void)snprintf(other, sizeof(other), "%s/not-a-socket", srv.dir);
    f = fopen(other, "w");
    ck_assert_ptr_nonnull(f);
    (void)fclose(f);
    config.socket_path = other;
    ck_assert_int_eq(api_start(&api, &loop, &config, &handler, errmsg),
                     TDEI_EXISTS);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    server_stop();
}
END_TEST

START_TEST(test_client_connect_error_says_what_to_do)
{
    struct api_client c;
    char errmsg[TDEI_ERRMSG_SIZE];
    char addr[320];

    (void)snprintf(addr, sizeof(addr), "%s/api.sock", srv.dir);
    ck_assert_int_eq(api_client_connect(&c, addr, 1000, 1024, errmsg),
                     TDEI_NOCONN);
    ck_assert_ptr_nonnull(strstr(errmsg, "cannot connect to"));
    ck_assert_ptr_nonnull(strstr(errmsg, "No such file or directory"));
    ck_assert_ptr_nonnull(strstr(errmsg, "--home"));
    ck_assert_ptr_nonnull(strstr(errmsg, srv.dir));
    ck_assert_int_eq(c.fd, -1);
    ck_assert_int_eq(api_client_connect(&c, "10.0.0.1:1", 1000, 1024, errmsg),
                     TDEI_INVAL);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc;

    tc = tcase_create("frame");
    tcase_add_checked_fixture(tc, testutil_leak_setup, testutil_leak_teardown);
    tcase_add_test(tc, test_frame_decoder_every_split_point);
    tcase_add_test(tc, test_frame_zero_length_refused_stream_goes_on);
    tcase_add_test(tc, test_frame_oversized_refused_and_sticky);
    tcase_add_test(tc, test_frame_buffering_bounded_by_max_plus_header);
    tcase_add_test(tc, test_frame_encode_limits);
    tcase_add_test(tc, test_frame_message_decode_bounds_fields);
    tcase_add_test(tc, test_addr_parse_forms);
    suite_add_tcase(s, tc);

    tc = tcase_create("server");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_api_unix_round_trip_and_mode_0600);
    tcase_add_test(tc, test_api_tcp_round_trip_on_free_port);
    tcase_add_test(tc, test_api_async_answers_out_of_order);
    tcase_add_test(tc, test_api_respond_after_client_left);
    tcase_add_test(tc, test_api_stop_cancels_pending_calls);
    tcase_add_test(tc, test_api_malformed_frames_answered_server_survives);
    tcase_add_test(tc, test_api_unknown_request_gets_badrequest);
    tcase_add_test(tc, test_api_max_connections_plus_one_refused);
    tcase_add_test(tc, test_api_max_pending_answers_busy);
    tcase_add_test(tc, test_api_client_that_never_reads_is_dropped);
    tcase_add_test(tc, test_api_refuses_non_loopback_and_bad_config);
    tcase_add_test(tc, test_api_stale_socket_replaced_live_one_refused);
    tcase_add_test(tc, test_client_connect_error_says_what_to_do);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return testutil_run(api_suite()); }
