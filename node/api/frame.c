/* Length-prefixed frames (see frame.h). */
#include "api/frame.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"

#include <string.h>

#define ERRSZ TDEI_ERRMSG_SIZE

/* Nested messages the wire scan follows; deeper input is refused. */
#define SCAN_DEPTH_MAX 8u

/* Longest varint protobuf allows. */
#define VARINT_SIZE_MAX 10u

_Static_assert(FRAME_SIZE_LIMIT <= UINT32_MAX, "lengths fit 32 bits");
_Static_assert(FRAME_SIZE_LIMIT <= SIZE_MAX - FRAME_HEADER_SIZE,
               "max_size + header never overflows");

/* ------------------------------------------------------------------------
 * Decoder
 * ------------------------------------------------------------------------ */

void frame_decoder_init(struct frame_decoder *dec, size_t max_size)
{
    TDEI_ASSERT(max_size >= 1);
    TDEI_ASSERT(max_size <= FRAME_SIZE_LIMIT);
    memset(dec, 0, sizeof(*dec));
    dec->max_size = max_size;
}

void frame_decoder_close(struct frame_decoder *dec)
{
    tdei_free(dec->body);
    dec->body = NULL;
    dec->body_size = 0;
    dec->body_count = 0;
    dec->header_count = 0;
}

size_t frame_decoder_buffered(const struct frame_decoder *dec)
{
    return dec->header_count + dec->body_count;
}

uint32_t frame_header_read(const uint8_t in[FRAME_HEADER_SIZE])
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
           (uint32_t)in[2] << 8 | (uint32_t)in[3];
}

void frame_header_write(uint8_t out[FRAME_HEADER_SIZE], size_t size)
{
    TDEI_ASSERT(size >= 1);
    TDEI_ASSERT(size <= FRAME_SIZE_LIMIT);
    out[0] = (uint8_t)(size >> 24);
    out[1] = (uint8_t)(size >> 16);
    out[2] = (uint8_t)(size >> 8);
    out[3] = (uint8_t)size;
}

/* The header is complete: check its length and allocate the body. */
static int decode_header_done(struct frame_decoder *dec, const char *limit_name,
                              char *errmsg)
{
    uint32_t size = frame_header_read(dec->header);

    if (size == 0) {
        dec->header_count = 0;
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "frame length 0; a frame carries 1 to %zu bytes",
                           dec->max_size);
    }
    if (size > dec->max_size) {
        dec->failed = TDEI_TOOBIG;
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "frame length %u is over the limit of %zu bytes "
                           "(%s)",
                           size, dec->max_size, limit_name);
    }
    dec->body = tdei_malloc(size);
    if (dec->body == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                           "frame of %u bytes: out of memory", size);
    }
    dec->body_size = size;
    dec->body_count = 0;
    return 0;
}

int frame_decode(struct frame_decoder *dec, const uint8_t *data, size_t len,
                 const char *limit_name, size_t *used, uint8_t **frame,
                 size_t *frame_size, char *errmsg)
{
    size_t take;
    int rc;

    *used = 0;
    *frame = NULL;
    *frame_size = 0;
    TDEI_ASSERT(data != NULL || len == 0);
    if (dec->failed != 0) {
        return tdei_errorf(errmsg, ERRSZ, dec->failed,
                           "frame stream already failed; close the "
                           "connection");
    }
    if (dec->body == NULL) {
        take = FRAME_HEADER_SIZE - dec->header_count;
        take = take < len ? take : len;
        if (take > 0) {
            memcpy(dec->header + dec->header_count, data, take);
        }
        dec->header_count += take;
        *used = take;
        if (dec->header_count < FRAME_HEADER_SIZE) {
            return 0;
        }
        rc = decode_header_done(dec, limit_name, errmsg);
        if (rc != 0) {
            return rc;
        }
    }
    take = dec->body_size - dec->body_count;
    take = take < len - *used ? take : len - *used;
    if (take > 0) {
        memcpy(dec->body + dec->body_count, data + *used, take);
    }
    dec->body_count += take;
    *used += take;
    if (dec->body_count < dec->body_size) {
        return 0;
    }
    *frame = dec->body;
    *frame_size = dec->body_size;
    dec->body = NULL;
    dec->body_size = 0;
    dec->body_count = 0;
    dec->header_count = 0;
    TDEI_DEBUG_ASSERT(frame_decoder_buffered(dec) == 0);
    return 0;
}

/* ------------------------------------------------------------------------
 * Encoder
 * ------------------------------------------------------------------------ */

static int encode_check(size_t size, size_t max_size, const char *limit_name,
                        char *errmsg)
{
    TDEI_ASSERT(max_size >= 1);
    TDEI_ASSERT(max_size <= FRAME_SIZE_LIMIT);
    if (size == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "message is empty; a frame carries 1 to %zu bytes",
                           max_size);
    }
    if (size > max_size) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "message is %zu bytes; the limit is %zu (%s)", size,
                           max_size, limit_name);
    }
    return 0;
}

int frame_encode(const uint8_t *body, size_t size, size_t max_size,
                 const char *limit_name, uint8_t **out, size_t *out_size,
                 char *errmsg)
{
    int rc;

    *out = NULL;
    *out_size = 0;
    rc = encode_check(size, max_size, limit_name, errmsg);
    if (rc != 0) {
        return rc;
    }
    *out = tdei_malloc(FRAME_HEADER_SIZE + size);
    if (*out == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                           "frame of %zu bytes: out of memory", size);
    }
    frame_header_write(*out, size);
    memcpy(*out + FRAME_HEADER_SIZE, body, size);
    *out_size = FRAME_HEADER_SIZE + size;
    return 0;
}

int frame_encode_message(const ProtobufCMessage *msg, size_t max_size,
                         const char *limit_name, uint8_t **out,
                         size_t *out_size, char *errmsg)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    size_t packed;
    int rc;

    *out = NULL;
    *out_size = 0;
    rc = encode_check(size, max_size, limit_name, errmsg);
    if (rc != 0) {
        return tdei_errwrap(errmsg, ERRSZ, rc, "%s", msg->descriptor->name);
    }
    *out = tdei_malloc(FRAME_HEADER_SIZE + size);
    if (*out == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                           "%s of %zu bytes: out of memory",
                           msg->descriptor->name, size);
    }
    frame_header_write(*out, size);
    packed = protobuf_c_message_pack(msg, *out + FRAME_HEADER_SIZE);
    TDEI_ASSERT(packed == size);
    *out_size = FRAME_HEADER_SIZE + size;
    return 0;
}

/* ------------------------------------------------------------------------
 * Message decoding through tdei_malloc
 * ------------------------------------------------------------------------ */

void frame_message_free(ProtobufCMessage *msg)
{
    codec_message_free(msg);
}

/* Read a varint at *@pos (< @end). Returns 0, or -1 when it runs past
 * @end or over 10 bytes. */
static int scan_varint(const uint8_t *buf, size_t *pos, size_t end,
                       uint64_t *value)
{
    uint64_t v = 0;
    unsigned shift = 0;
    size_t i;

    for (i = 0; i < VARINT_SIZE_MAX && *pos + i < end; i++) {
        v |= (uint64_t)(buf[*pos + i] & 0x7fu) << shift;
        shift += 7;
        if ((buf[*pos + i] & 0x80u) == 0) {
            *pos += i + 1;
            *value = v;
            return 0;
        }
    }
    return -1;
}

/* One message being scanned. */
struct scan_level
{
    const ProtobufCMessageDescriptor *desc; /* its type */
    size_t end;                             /* offset just past it */
    size_t fields;                          /* fields seen so far */
};

/* Walk the wire format of @buf without allocating: every field well
 * formed, at most @fields_max per message, at most SCAN_DEPTH_MAX levels
 * of known message fields. Each step consumes at least one byte, so the
 * loop runs at most @len times. */
static int scan_message(const ProtobufCMessageDescriptor *desc,
                        const uint8_t *buf, size_t len, size_t fields_max,
                        const char *what, char *errmsg)
{
    struct scan_level stack[SCAN_DEPTH_MAX];
    size_t depth = 1;
    size_t pos = 0;
    uint64_t tag;
    uint64_t value;
    const ProtobufCFieldDescriptor *field;

    stack[0] = (struct scan_level){.desc = desc, .end = len, .fields = 0};
    while (depth > 0) {
        struct scan_level *top = &stack[depth - 1];

        if (pos == top->end) {
            depth--;
            continue;
        }
        if (scan_varint(buf, &pos, top->end, &tag) != 0 || tag >> 3 == 0 ||
            tag >> 3 > 536870911u) {
            goto err_malformed;
        }
        if (++top->fields > fields_max) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "%s: %s has more than %zu fields", what,
                               top->desc->name, fields_max);
        }
        switch (tag & 7u) {
        case 0:
            if (scan_varint(buf, &pos, top->end, &value) != 0) {
                goto err_malformed;
            }
            break;
        case 1:
        case 5:
            value = (tag & 7u) == 1 ? 8u : 4u;
            if (value > top->end - pos) {
                goto err_malformed;
            }
            pos += value;
            break;
        case 2:
            if (scan_varint(buf, &pos, top->end, &value) != 0 ||
                value > top->end - pos) {
                goto err_malformed;
            }
            field = protobuf_c_message_descriptor_get_field(
                top->desc, (unsigned)(tag >> 3));
            if (field == NULL || field->type != PROTOBUF_C_TYPE_MESSAGE) {
                pos += value;
                break;
            }
            if (depth == SCAN_DEPTH_MAX) {
                return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                                   "%s: messages nested deeper than %u", what,
                                   SCAN_DEPTH_MAX);
            }
            stack[depth++] = (struct scan_level){
                .desc = field->descriptor,
                .end = pos + value,
                .fields = 0,
            };
            break;
        default:
            goto err_malformed;
        }
    }
    return 0;

err_malformed:
    return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                       "%s (%zu bytes) does not decode as a %s message: bad "
                       "wire format at byte %zu",
                       what, len, desc->name, pos);
}

int frame_message_decode(const ProtobufCMessageDescriptor *desc,
                         const uint8_t *buf, size_t len, size_t fields_max,
                         const char *what, ProtobufCMessage **out, char *errmsg)
{
    static const uint8_t empty[1] = {0};
    int rc;

    *out = NULL;
    TDEI_ASSERT(fields_max >= 1);
    TDEI_ASSERT(buf != NULL || len == 0);
    rc = scan_message(desc, len == 0 ? empty : buf, len, fields_max, what,
                      errmsg);
    if (rc != 0) {
        return rc;
    }
    return codec_message_unpack(out, desc, buf, len, what, errmsg);
}
