/* Shared field rules of the codec, for its own source files only
 * (codec.c and the per-contract codec_<area>.c files): the checks behind
 * every decoder, so that each area applies the very same rules and
 * messages. Not part of the codec's interface: other modules use codec.h.
 *
 * Each check returns 0 or a TDEI_* code (TDEI_MALFORMED, TDEI_TOOBIG)
 * with @errmsg (TDEI_ERRMSG_SIZE bytes) saying what was wrong. */
#ifndef TDEI_CORE_CODEC_INTERNAL_H
#define TDEI_CORE_CODEC_INTERNAL_H

#include "core/codec.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a bad string echoed back in a message (then "..."). */
#define CODEC_ECHO_MAX 40u
#define CODEC_ECHO_SIZE (CODEC_ECHO_MAX + 4u)

/* Copy up to CODEC_ECHO_MAX bytes of @s into @out, replacing anything but
 * printable ASCII (and quotes and backslashes) with '?'. Returns @out. */
const char *codec_echo(char out[CODEC_ECHO_SIZE], const char *s);

/* Refuse fields this schema does not know. */
int codec_no_unknown(const ProtobufCMessage *msg, const char *what,
                     char *errmsg);

/* Accept @buf only if it is exactly what protobuf-c writes for @msg. */
int codec_canonical_check(const ProtobufCMessage *msg, const uint8_t *buf,
                          size_t len, const char *what, char *errmsg);

/* Refuse @got != @want bytes; the field's name is formatted from @fmt. */
int codec_len_check(size_t got, size_t want, char *errmsg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A bytes field that is either empty or exactly 32 bytes. */
int codec_key_or_empty(size_t len, const char *what, char *errmsg);

/* A member id (3-32 bytes of [a-z0-9-]); @what names the field. */
int codec_member_id_check(const char *id, const char *what, char *errmsg);

/* Free text: valid UTF-8 of at most @max bytes. */
int codec_text_check(const char *text, size_t max, const char *what,
                     char *errmsg);

/* The field rules of one record type. */
typedef int (*record_check_fn)(const ProtobufCMessage *msg, char *errmsg);

/* The common shape of a record decoder: @len <= @size_max (TDEI_TOOBIG),
 * unpack, no unknown field, @check, canonical encoding. */
int codec_record_decode(ProtobufCMessage **out,
                        const ProtobufCMessageDescriptor *desc,
                        const uint8_t *buf, size_t len, size_t size_max,
                        const char *what, record_check_fn check, char *errmsg);

/* The op checks of each contract area, called by codec_txbody_decode for
 * an op of that area (the op case is one of the area's). */
int codec_catalog_op_check(const Tdei__TxBody *body, char *errmsg);
int codec_exchange_op_check(const Tdei__TxBody *body, char *errmsg);
int codec_stream_op_check(const Tdei__TxBody *body, char *errmsg);

#endif
