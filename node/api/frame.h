/* Length-prefixed frames (DESIGN.md sections 7 and 11): a 4-byte
 * big-endian length, then that many bytes of one message. The client API
 * uses them over Unix sockets and TCP; p2p uses the same framing inside
 * its secure channel.
 *
 * A frame carries 1 byte or more: a zero length is refused (TDEI_MALFORMED)
 * because no message of ours serializes to nothing, and an empty frame
 * would only be a cheap way to make the receiver work. A length over the
 * receiver's limit is refused (TDEI_TOOBIG) before anything is buffered.
 *
 * Pure: no libuv, no sockets, no clock. The decoder is incremental: feed
 * it bytes in whatever chunks the transport delivers and it returns whole
 * frames; it never holds more than max_size + 4 bytes, and the body of a
 * frame is allocated only once its length header is complete and
 * accepted, at exactly that length.
 *
 * Memory goes through tdei_malloc. Pointers are non-NULL unless stated.
 * Each errmsg is a buffer of TDEI_ERRMSG_SIZE bytes; on error it says
 * what was wrong, the bad value and the limit; on success it is untouched.
 * A decoder belongs to one thread at a time; the functions keep no global
 * state. */
#ifndef TDEI_NODE_API_FRAME_H
#define TDEI_NODE_API_FRAME_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_SIZE 4u /* bytes of the big-endian length prefix */

/* The largest limit a decoder accepts: lengths travel in 32 bits, and
 * keeping one bit free means max_size + 4 never overflows. */
#define FRAME_SIZE_LIMIT 0x7fffffffu

/* An incremental frame decoder. Fields are private; read them only
 * through the functions below. */
struct frame_decoder
{
    size_t max_size;                   /* largest body accepted */
    uint8_t header[FRAME_HEADER_SIZE]; /* length prefix so far */
    size_t header_count;               /* bytes of header[] filled */
    uint8_t *body;                     /* the body, NULL until the
                                          header is complete */
    size_t body_size;                  /* length of the current body */
    size_t body_count;                 /* bytes of body[] filled */
    int failed;                        /* sticky TDEI_TOOBIG, or 0 */
};

/* Initialise @dec for frames of 1..@max_size bytes.
 * In:    max_size: 1..FRAME_SIZE_LIMIT (asserted), e.g. api.max_frame.
 * State: @dec is the caller's memory; release with frame_decoder_close. */
void frame_decoder_init(struct frame_decoder *dec, size_t max_size);

/* Release what @dec buffers (a partial frame). @dec may be initialised
 * again afterwards. */
void frame_decoder_close(struct frame_decoder *dec);

/* Take bytes from @data until one frame is complete or @len is used up.
 * Call it in a loop: `while (len > 0) { rc = frame_decode(...); data +=
 * used; len -= used; ... }`.
 * Behaviour: header bytes are collected; a complete header with length 0
 * is consumed and returns TDEI_MALFORMED, and the decoder goes on with
 * the next frame (the stream is still in step). A length over max_size
 * returns TDEI_TOOBIG and the decoder stays failed: the stream cannot be
 * resynchronised, so every later call returns TDEI_TOOBIG and consumes
 * nothing; the caller closes the connection.
 * Returns: 0 (then *frame is a whole frame body, or NULL when more bytes
 * are needed); TDEI_MALFORMED (zero length); TDEI_TOOBIG ("frame length
 * 20000000 is over the limit of 16777216 bytes (api.max_frame)", where
 * @limit_name is the setting named); TDEI_NOMEM (the body could not be
 * allocated; the header is kept, so a later call may retry).
 * In:    data, len: borrowed for the call; @data may be NULL when @len is
 *        0. limit_name: the setting that sets max_size, for messages.
 * Out:   used: bytes taken from @data (also on error). frame: a new
 *        tdei_malloc buffer that the caller owns and frees with
 *        tdei_free, or NULL; frame_size: its length (0 when NULL).
 *        errmsg. */
int frame_decode(struct frame_decoder *dec, const uint8_t *data, size_t len,
                 const char *limit_name, size_t *used, uint8_t **frame,
                 size_t *frame_size, char *errmsg);

/* The number of bytes @dec holds now (header and body of the frame in
 * progress); never more than max_size + FRAME_HEADER_SIZE. */
size_t frame_decoder_buffered(const struct frame_decoder *dec);

/* Write the 4-byte big-endian length @size into @out.
 * In: size: 1..FRAME_SIZE_LIMIT (asserted). */
void frame_header_write(uint8_t out[FRAME_HEADER_SIZE], size_t size);

/* Read the 4-byte big-endian length at @in. */
uint32_t frame_header_read(const uint8_t in[FRAME_HEADER_SIZE]);

/* Frame @size bytes at @body: a new buffer of FRAME_HEADER_SIZE + @size
 * bytes, the header then a copy of the body.
 * Returns: 0; TDEI_MALFORMED (@size is 0); TDEI_TOOBIG (@size over
 * @max_size); TDEI_NOMEM. On error *out is NULL and *out_size 0.
 * In:  body: borrowed for the call. max_size: the receiver's limit,
 *      1..FRAME_SIZE_LIMIT (asserted); limit_name: its setting.
 * Out: out: from tdei_malloc, the caller's to tdei_free; out_size;
 *      errmsg. */
int frame_encode(const uint8_t *body, size_t size, size_t max_size,
                 const char *limit_name, uint8_t **out, size_t *out_size,
                 char *errmsg);

/* Serialize @msg straight into a new frame (no intermediate copy).
 * Returns, Out: as frame_encode (TDEI_MALFORMED when @msg serializes to
 * nothing: every message sent must carry at least one field).
 * In:  msg: borrowed for the call; max_size, limit_name as frame_encode. */
int frame_encode_message(const ProtobufCMessage *msg, size_t max_size,
                         const char *limit_name, uint8_t **out,
                         size_t *out_size, char *errmsg);

/* Decode the frame body @buf as a message of type @desc through
 * tdei_malloc. Before protobuf-c allocates anything, a bounded scan of
 * the wire format checks that the bytes are well-formed protobuf and that
 * no message (the top one or one nested in a known message field) has
 * more than @fields_max fields on the wire, so that a small frame cannot
 * make protobuf-c allocate per field without bound. Unknown fields are
 * kept (the caller decides; see n_unknown_fields). The encoding need not
 * be canonical.
 * Returns: 0; TDEI_MALFORMED ("api request (12 bytes) does not decode as
 * a tdei.api.Request message", or too many fields, or nested deeper than
 * 8 messages); TDEI_NOMEM. On error *out is NULL.
 * In:  desc: the expected type. buf, len: borrowed for the call (@buf may
 *      be NULL when @len is 0). fields_max: at least 1. what: the thing,
 *      for messages ("api request").
 * Out: out: the message, owned by the caller, freed with
 *      frame_message_free; errmsg. */
int frame_message_decode(const ProtobufCMessageDescriptor *desc,
                         const uint8_t *buf, size_t len, size_t fields_max,
                         const char *what, ProtobufCMessage **out,
                         char *errmsg);

/* Free a message returned by frame_message_decode; NULL is allowed. */
void frame_message_free(ProtobufCMessage *msg);

#endif
