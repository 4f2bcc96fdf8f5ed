/* libFuzzer target: the client API's input path, as the node reads it.
 *
 * The first input byte picks a chunk size (1-256); the rest is fed to a
 * frame decoder in chunks of that size, as libuv would deliver it. Every
 * whole frame is decoded as a Request (the server's path) and as a
 * Response (the client's path). Checks beyond "no crash, no sanitizer
 * report": the decoder never buffers more than max + 4 bytes, a refused
 * length stops the stream, and no tdei_malloc block outlives the input.
 *
 * Build with libFuzzer: `make fuzz` (clang), then
 *   ./tests/fuzz/fuzz_api -max_len=70000 CORPUS_DIR
 * `make check` runs it as tests/fuzz/smoke_api (tests/fuzz/smoke.c):
 * seeded random and mutated inputs, no libFuzzer needed. */
#include "api.pb-c.h"
#include "api/frame.h"
#include "core/alloc.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>

/* Small limits, so the fuzzer reaches them without megabyte inputs. */
#define FUZZ_FRAME_MAX 4096u
#define FUZZ_FIELDS_MAX 64u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EXPECT(cond)                                                          \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_api: %s:%d: %s\n", __FILE__, __LINE__,      \
                    #cond);                                                   \
            abort();                                                          \
        }                                                                     \
    } while (0)

static void decode_both(const uint8_t *frame, size_t len)
{
    ProtobufCMessage *msg = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];
    int rc;

    rc = frame_message_decode(&tdei__api__request__descriptor, frame, len,
                              FUZZ_FIELDS_MAX, "request", &msg, errmsg);
    EXPECT((rc == 0) == (msg != NULL));
    frame_message_free(msg);
    msg = NULL;
    rc = frame_message_decode(&tdei__api__response__descriptor, frame, len,
                              FUZZ_FIELDS_MAX, "response", &msg, errmsg);
    EXPECT((rc == 0) == (msg != NULL));
    frame_message_free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct frame_decoder dec;
    char errmsg[TDEI_ERRMSG_SIZE];
    long live = tdei_alloc_live();
    size_t chunk;

    if (size == 0) {
        return 0;
    }
    chunk = (size_t)data[0] + 1;
    data++;
    size--;
    frame_decoder_init(&dec, FUZZ_FRAME_MAX);
    while (size > 0) {
        size_t part = size < chunk ? size : chunk;
        const uint8_t *p = data;
        size_t left = part;
        while (left > 0) {
            uint8_t *frame = NULL;
            size_t frame_size = 0;
            size_t used = 0;
            int rc = frame_decode(&dec, p, left, "fuzz.max_frame", &used,
                                  &frame, &frame_size, errmsg);
            EXPECT(used <= left);
            EXPECT(frame_decoder_buffered(&dec) <= FUZZ_FRAME_MAX + 4);
            if (rc == TDEI_TOOBIG) {
                EXPECT(frame == NULL);
                goto out; /* the stream cannot be resynced */
            }
            if (frame != NULL) {
                EXPECT(rc == 0 && frame_size > 0 &&
                       frame_size <= FUZZ_FRAME_MAX);
                decode_both(frame, frame_size);
                tdei_free(frame);
            }
            if (used == 0 && frame == NULL && rc == 0) {
                break; /* needs more bytes */
            }
            p += used;
            left -= used;
        }
        data += part;
        size -= part;
    }
out:
    frame_decoder_close(&dec);
    EXPECT(tdei_alloc_live() == live);
    return 0;
}
