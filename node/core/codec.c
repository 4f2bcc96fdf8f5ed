/* Ledger codec (see codec.h). */
#include "core/codec.h"
#include "core/codec_internal.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/ids.h"
#include "core/keys.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERRSZ TDEI_ERRMSG_SIZE

#define ECHO_MAX CODEC_ECHO_MAX
#define ECHO_SIZE CODEC_ECHO_SIZE

/* The first field number of TxBody's op oneof; unknown fields from here on
 * are ops of a newer schema (tdei.proto, TxBody). */
#define TXBODY_OP_FIELD_MIN 16u

/* The largest field number protobuf allows. */
#define WIRE_FIELD_MAX 536870911u

_Static_assert(CODEC_HASH_SIZE == TDEI_HASH_SIZE, "hash sizes agree");
_Static_assert(CODEC_KEY_SIZE == TDEI_PUBKEY_SIZE, "key sizes agree");
_Static_assert(CODEC_SIG_SIZE == TDEI_SIG_SIZE, "sig sizes agree");
_Static_assert(TDEI_CHAIN_ID_MAX <= 255, "chain id length fits one byte");

/* ------------------------------------------------------------------------
 * protobuf-c glue: allocation through tdei_malloc
 * ------------------------------------------------------------------------ */

/* Per-call allocator state: whether an allocation failed, so that a NULL
 * from protobuf_c_message_unpack becomes TDEI_NOMEM, not TDEI_MALFORMED. */
struct codec_alloc_state {
    int failed; /* 1 once tdei_malloc returned NULL */
};

static void *codec_alloc(void *data, size_t size)
{
    void *ptr = tdei_malloc(size);

    if (ptr == NULL && data != NULL) {
        ((struct codec_alloc_state *)data)->failed = 1;
    }
    return ptr;
}

static void codec_alloc_free(void *data, void *ptr)
{
    (void)data;
    tdei_free(ptr);
}

/* For freeing only; never written, so shared by every thread. */
static ProtobufCAllocator codec_allocator = {
    .alloc = codec_alloc,
    .free = codec_alloc_free,
    .allocator_data = NULL,
};

void codec_message_free(ProtobufCMessage *msg)
{
    if (msg != NULL) {
        protobuf_c_message_free_unpacked(msg, &codec_allocator);
    }
}

int codec_message_unpack(ProtobufCMessage **out,
                         const ProtobufCMessageDescriptor *desc,
                         const uint8_t *buf, size_t len, const char *what,
                         char *errmsg)
{
    static const uint8_t empty[1] = {0};
    struct codec_alloc_state state = {0};
    ProtobufCAllocator allocator = {
        .alloc = codec_alloc,
        .free = codec_alloc_free,
        .allocator_data = &state,
    };

    *out = protobuf_c_message_unpack(desc, &allocator, len,
                                     len == 0 ? empty : buf);
    if (*out != NULL) {
        return 0;
    }
    if (state.failed) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                           "%s: out of memory decoding %zu bytes", what, len);
    }
    return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                       "%s (%zu bytes) does not decode as a %s message", what,
                       len, desc->name);
}

/* A ProtobufCBuffer that compares what is packed into it with the bytes
 * that came in, so the canonical check allocates nothing. */
struct compare_buffer {
    ProtobufCBuffer base;  /* first: the buffer protobuf-c appends to */
    const uint8_t *expect; /* the bytes as received */
    size_t len;            /* their number */
    size_t pos;            /* bytes matched so far */
    int differs;           /* 1 once a byte differed or overran */
};

static void compare_append(ProtobufCBuffer *buffer, size_t len,
                           const uint8_t *data)
{
    struct compare_buffer *cmp = (struct compare_buffer *)buffer;

    if (cmp->differs) {
        return;
    }
    if (len > cmp->len - cmp->pos ||
        (len > 0 && memcmp(cmp->expect + cmp->pos, data, len) != 0)) {
        cmp->differs = 1;
        return;
    }
    cmp->pos += len;
}

/* Accept @buf only if it is exactly what protobuf-c writes for @msg. */
int codec_canonical_check(const ProtobufCMessage *msg, const uint8_t *buf,
                           size_t len, const char *what, char *errmsg)
{
    if (protobuf_c_message_get_packed_size(msg) == len) {
        struct compare_buffer cmp = {
            .base = {.append = compare_append},
            .expect = buf,
            .len = len,
        };
        (void)protobuf_c_message_pack_to_buffer(msg, &cmp.base);
        if (!cmp.differs && cmp.pos == len) {
            return 0;
        }
    }
    return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                       "%s is not in canonical encoding (a field repeated, "
                       "out of order or holding its default, a long varint, "
                       "or a NUL in a string)",
                       what);
}

/* Refuse fields this schema does not know (a newer sender, or junk). */
int codec_no_unknown(const ProtobufCMessage *msg, const char *what,
                      char *errmsg)
{
    if (msg->n_unknown_fields == 0) {
        return 0;
    }
    return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                       "%s has field %" PRIu32 ", which this schema does not "
                       "know; upgrade tdei or fix the sender",
                       what, msg->unknown_fields[0].tag);
}

/* ------------------------------------------------------------------------
 * Wire pre-scan: counts before protobuf-c allocates
 *
 * protobuf-c allocates per occurrence of a repeated field, so a block of
 * 8 MiB of empty entries would cost tens of times its size. These read
 * only tags and lengths, allocate nothing, and run in time linear in the
 * input (one pass per nesting level, at most three levels).
 * ------------------------------------------------------------------------ */

struct wire_cursor {
    const uint8_t *buf; /* the bytes */
    size_t len;         /* their number */
    size_t pos;         /* next byte to read */
};

struct wire_field {
    uint32_t number;        /* field number */
    uint32_t wire_type;     /* 0 varint, 1 64-bit, 2 bytes, 5 32-bit */
    const uint8_t *payload; /* wire type 2: the bytes; else NULL */
    size_t payload_len;     /* wire type 2: their number; else 0 */
};

static int wire_varint(struct wire_cursor *cur, uint64_t *value)
{
    uint64_t result = 0;

    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t byte;
        if (cur->pos >= cur->len) {
            return -1;
        }
        byte = cur->buf[cur->pos++];
        result |= (uint64_t)(byte & 0x7fu) << shift;
        if ((byte & 0x80u) == 0) {
            *value = result;
            return 0;
        }
    }
    return -1;
}

/* Read the next field. Returns 1 with @field filled, 0 at the end, -1 on
 * bytes that are not protobuf wire format. */
static int wire_next(struct wire_cursor *cur, struct wire_field *field)
{
    uint64_t key;
    uint64_t size;

    if (cur->pos == cur->len) {
        return 0;
    }
    if (wire_varint(cur, &key) != 0) {
        return -1;
    }
    if ((key >> 3) == 0 || (key >> 3) > WIRE_FIELD_MAX) {
        return -1;
    }
    field->number = (uint32_t)(key >> 3);
    field->wire_type = (uint32_t)(key & 7u);
    field->payload = NULL;
    field->payload_len = 0;
    switch (field->wire_type) {
    case 0:
        return wire_varint(cur, &size) == 0 ? 1 : -1;
    case 1:
        size = 8;
        break;
    case 5:
        size = 4;
        break;
    case 2:
        if (wire_varint(cur, &size) != 0) {
            return -1;
        }
        field->payload = cur->buf + cur->pos;
        field->payload_len = (size_t)size;
        break;
    default:
        return -1;
    }
    if (size > cur->len - cur->pos) {
        return -1;
    }
    cur->pos += (size_t)size;
    return 1;
}

/* Totals of a block's repeated parts, summed over every occurrence (as
 * protobuf-c merges repeated occurrences of one embedded message). */
struct block_scan {
    size_t block_bytes;  /* total payload of Proposal.block */
    size_t txs;          /* Block.txs entries */
    size_t commit_bytes; /* total payload of Block.last_commit */
    size_t commit_sigs;  /* Commit.signatures entries */
};

/* Count the entries of field @number of the message in @buf; others are
 * skipped. Returns 0 or -1 (not wire format, or @number not as bytes). */
static int wire_count(const uint8_t *buf, size_t len, uint32_t number,
                      size_t *count)
{
    struct wire_cursor cur = {.buf = buf, .len = len};
    struct wire_field field;
    int rc;

    while ((rc = wire_next(&cur, &field)) == 1) {
        if (field.number == number) {
            if (field.wire_type != 2) {
                return -1;
            }
            (*count)++;
        }
    }
    return rc;
}

static int block_scan_add(struct block_scan *scan, const uint8_t *buf,
                          size_t len)
{
    struct wire_cursor cur = {.buf = buf, .len = len};
    struct wire_field field;
    int rc;

    while ((rc = wire_next(&cur, &field)) == 1) {
        if (field.number != 2 && field.number != 3) {
            continue;
        }
        if (field.wire_type != 2) {
            return -1;
        }
        if (field.number == 2) {
            scan->txs++;
            continue;
        }
        scan->commit_bytes += field.payload_len;
        if (wire_count(field.payload, field.payload_len, 4,
                       &scan->commit_sigs) != 0) {
            return -1;
        }
    }
    return rc;
}

static int proposal_scan(struct block_scan *scan, const uint8_t *buf,
                         size_t len)
{
    struct wire_cursor cur = {.buf = buf, .len = len};
    struct wire_field field;
    int rc;

    while ((rc = wire_next(&cur, &field)) == 1) {
        if (field.number != 5) {
            continue;
        }
        if (field.wire_type != 2) {
            return -1;
        }
        scan->block_bytes += field.payload_len;
        if (block_scan_add(scan, field.payload, field.payload_len) != 0) {
            return -1;
        }
    }
    return rc;
}

/* Refuse scanned counts over the limits. @what names the message. */
static int block_scan_check(const struct block_scan *scan,
                            const struct codec_limits *limits,
                            const char *what, char *errmsg)
{
    size_t commit_max = CODEC_COMMIT_SIZE_MAX(limits->validators_max);

    if (scan->txs > limits->block_txs_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "%s has %zu txs; the limit is %zu "
                           "(params.block_txs_max)",
                           what, scan->txs, limits->block_txs_max);
    }
    if (scan->commit_sigs > limits->validators_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "%s last_commit has %zu signatures; the limit is "
                           "%zu (params.validators_max)",
                           what, scan->commit_sigs, limits->validators_max);
    }
    if (scan->commit_bytes > commit_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "%s last_commit is %zu bytes; the limit for %zu "
                           "validators is %zu (params.validators_max)",
                           what, scan->commit_bytes, limits->validators_max,
                           commit_max);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Field rules
 * ------------------------------------------------------------------------ */

/* Copy up to ECHO_MAX bytes of @s into @out for a message, replacing
 * anything but printable ASCII (and quotes and backslashes) with '?'. */
const char *codec_echo(char out[ECHO_SIZE], const char *s)
{
    size_t i;

    for (i = 0; i < ECHO_MAX && s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
                     ? '?'
                     : (char)c;
    }
    if (s[i] != '\0') {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF. Returns 1 when valid. */
static int utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t lead = s[i];
        size_t more;
        uint32_t cp;
        uint32_t min;

        if (lead < 0x80u) {
            i++;
            continue;
        }
        if ((lead & 0xe0u) == 0xc0u) {
            more = 1;
            cp = lead & 0x1fu;
            min = 0x80u;
        } else if ((lead & 0xf0u) == 0xe0u) {
            more = 2;
            cp = lead & 0x0fu;
            min = 0x800u;
        } else if ((lead & 0xf8u) == 0xf0u) {
            more = 3;
            cp = lead & 0x07u;
            min = 0x10000u;
        } else {
            return 0;
        }
        if (more > len - i - 1) {
            return 0;
        }
        for (size_t k = 1; k <= more; k++) {
            uint8_t next = s[i + k];
            if ((next & 0xc0u) != 0x80u) {
                return 0;
            }
            cp = (cp << 6) | (next & 0x3fu);
        }
        if (cp < min || cp > 0x10ffffu || (cp >= 0xd800u && cp <= 0xdfffu)) {
            return 0;
        }
        i += more + 1;
    }
    return 1;
}

/* Event types and attribute keys: 1-@max bytes of [a-z0-9._-]. */
static int token_valid(const char *s, size_t max)
{
    size_t len = strlen(s);

    if (len == 0 || len > max) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

int codec_len_check(size_t got, size_t want, char *errmsg, const char *fmt,
                     ...)
{
    char name[96];
    va_list ap;

    if (got == want) {
        return 0;
    }
    va_start(ap, fmt);
    (void)vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                       "%s is %zu bytes; it must be %zu", name, got, want);
}

static int chain_id_check(const char *chain_id, const char *what,
                          char *errmsg)
{
    char shown[ECHO_SIZE];

    if (tdei_chain_id_check(chain_id) == 0) {
        return 0;
    }
    return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                       "%s chain_id \"%s\" (%zu bytes) is not 1-%u bytes of "
                       "[a-z0-9-]",
                       what, codec_echo(shown, chain_id), strlen(chain_id),
                       TDEI_CHAIN_ID_MAX);
}

int codec_member_id_check(const char *id, const char *what, char *errmsg)
{
    char shown[ECHO_SIZE];

    if (tdei_member_id_check_n(id, strlen(id)) == 0) {
        return 0;
    }
    return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                       "%s \"%s\" (%zu bytes) is not a member id: 3-32 bytes "
                       "of [a-z0-9-]",
                       what, codec_echo(shown, id), strlen(id));
}

/* Free text: valid UTF-8 of at most @max bytes. */
int codec_text_check(const char *text, size_t max, const char *what,
                      char *errmsg)
{
    size_t len = strlen(text);

    if (len > max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "%s is %zu bytes; the limit is %zu", what, len,
                           max);
    }
    if (!utf8_valid((const uint8_t *)text, len)) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s is not valid UTF-8", what);
    }
    return 0;
}

static void limits_assert(const struct codec_limits *limits)
{
    TDEI_ASSERT(limits->validators_max >= 1 &&
                limits->validators_max <= (1u << 20));
    TDEI_ASSERT(limits->block_size_max <= SIZE_MAX / 2);
}

/* ------------------------------------------------------------------------
 * Identities and sign bytes
 * ------------------------------------------------------------------------ */

void codec_tx_id(uint8_t out[CODEC_HASH_SIZE], const uint8_t *body,
                 size_t len)
{
    tdei_sha256(out, body, len);
}

void codec_block_id(uint8_t out[CODEC_HASH_SIZE], const uint8_t *header,
                    size_t len)
{
    tdei_sha256(out, header, len);
}

static size_t put_u32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (24 - 8 * i));
    }
    return 4;
}

static size_t put_u64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    return 8;
}

/* Version byte, length byte and chain id: the common prefix. */
static size_t put_chain_id(uint8_t *p, const char *chain_id)
{
    size_t len = strlen(chain_id);

    TDEI_ASSERT(tdei_chain_id_check(chain_id) == 0);
    p[0] = (uint8_t)CODEC_VERSION;
    p[1] = (uint8_t)len;
    memcpy(p + 2, chain_id, len);
    return 2 + len;
}

size_t codec_vote_sign_bytes(uint8_t out[CODEC_VOTE_SIGN_BYTES_MAX],
                             const char *chain_id, enum codec_vote_type type,
                             uint64_t height, uint32_t round,
                             const uint8_t *block_id)
{
    size_t pos;

    TDEI_ASSERT(type == CODEC_VOTE_PREVOTE || type == CODEC_VOTE_PRECOMMIT);
    pos = put_chain_id(out, chain_id);
    out[pos++] = (uint8_t)type;
    pos += put_u64(out + pos, height);
    pos += put_u32(out + pos, round);
    if (block_id != NULL) {
        out[pos++] = 1;
        memcpy(out + pos, block_id, CODEC_HASH_SIZE);
    } else {
        out[pos++] = 0;
        memset(out + pos, 0, CODEC_HASH_SIZE);
    }
    pos += CODEC_HASH_SIZE;
    TDEI_ASSERT(pos == 48 + strlen(chain_id));
    return pos;
}

size_t codec_vote_msg_sign_bytes(uint8_t out[CODEC_VOTE_SIGN_BYTES_MAX],
                                 const char *chain_id, const Tdei__Vote *vote)
{
    TDEI_ASSERT(vote->type == CODEC_VOTE_PREVOTE ||
                vote->type == CODEC_VOTE_PRECOMMIT);
    TDEI_ASSERT(vote->block_id.len == 0 ||
                vote->block_id.len == CODEC_HASH_SIZE);
    return codec_vote_sign_bytes(
        out, chain_id, (enum codec_vote_type)vote->type, vote->height,
        vote->round, vote->block_id.len == 0 ? NULL : vote->block_id.data);
}

size_t codec_commit_sign_bytes(uint8_t out[CODEC_VOTE_SIGN_BYTES_MAX],
                               const char *chain_id,
                               const Tdei__Commit *commit)
{
    TDEI_ASSERT(commit->block_id.len == CODEC_HASH_SIZE);
    return codec_vote_sign_bytes(out, chain_id, CODEC_VOTE_PRECOMMIT,
                                 commit->height, commit->round,
                                 commit->block_id.data);
}

size_t codec_proposal_sign_bytes(uint8_t out[CODEC_PROPOSAL_SIGN_BYTES_MAX],
                                 const char *chain_id, uint64_t height,
                                 uint32_t round, int32_t pol_round,
                                 const uint8_t block_id[CODEC_HASH_SIZE])
{
    size_t pos;

    TDEI_ASSERT(pol_round >= -1);
    TDEI_ASSERT(pol_round < 0 || (uint32_t)pol_round < round);
    pos = put_chain_id(out, chain_id);
    pos += put_u64(out + pos, height);
    pos += put_u32(out + pos, round);
    pos += put_u32(out + pos, (uint32_t)pol_round);
    memcpy(out + pos, block_id, CODEC_HASH_SIZE);
    pos += CODEC_HASH_SIZE;
    TDEI_ASSERT(pos == 50 + strlen(chain_id));
    return pos;
}

size_t
codec_proposal_msg_sign_bytes(uint8_t out[CODEC_PROPOSAL_SIGN_BYTES_MAX],
                              const char *chain_id,
                              const Tdei__Proposal *proposal)
{
    TDEI_ASSERT(proposal->block_id.len == CODEC_HASH_SIZE);
    return codec_proposal_sign_bytes(out, chain_id, proposal->height,
                                     proposal->round, proposal->pol_round,
                                     proposal->block_id.data);
}

/* ------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------ */

static int tx_check(const Tdei__Tx *tx, char *errmsg)
{
    int rc = codec_no_unknown(&tx->base, "tx", errmsg);

    if (rc != 0) {
        return rc;
    }
    if (tx->body.len == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "tx has an empty body");
    }
    return codec_len_check(tx->sig.len, CODEC_SIG_SIZE, errmsg, "tx sig");
}

int codec_tx_decode(Tdei__Tx **out, const uint8_t *buf, size_t len,
                    size_t max_size, char *errmsg)
{
    ProtobufCMessage *msg;
    int rc;

    *out = NULL;
    if (len > max_size) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "tx is %zu bytes; the limit is %zu "
                           "(params.tx_size_max)",
                           len, max_size);
    }
    rc = codec_message_unpack(&msg, &tdei__tx__descriptor, buf, len, "tx", errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = tx_check((const Tdei__Tx *)msg, errmsg);
    if (rc == 0) {
        rc = codec_canonical_check(msg, buf, len, "tx", errmsg);
    }
    if (rc != 0) {
        codec_message_free(msg);
        return rc;
    }
    *out = (Tdei__Tx *)msg;
    return 0;
}

static int transfer_check(const Tdei__Transfer *transfer, char *errmsg)
{
    int rc = codec_no_unknown(&transfer->base, "tx transfer", errmsg);

    if (rc == 0) {
        rc = codec_member_id_check(transfer->to, "tx transfer to", errmsg);
    }
    if (rc == 0 && transfer->amount == 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx transfer amount is 0; it must be at least 1");
    }
    if (rc == 0) {
        rc = codec_text_check(transfer->memo, CODEC_MEMO_MAX, "tx transfer memo",
                        errmsg);
    }
    return rc;
}

static int mint_check(const Tdei__Mint *mint, char *errmsg)
{
    int rc = codec_no_unknown(&mint->base, "tx mint", errmsg);

    if (rc == 0) {
        rc = codec_member_id_check(mint->to, "tx mint to", errmsg);
    }
    if (rc == 0 && mint->amount == 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx mint amount is 0; it must be at least 1");
    }
    return rc;
}

/* A bytes field that is either empty or exactly 32 bytes. */
int codec_key_or_empty(size_t len, const char *what, char *errmsg)
{
    return len == 0 ? 0 : codec_len_check(len, CODEC_KEY_SIZE, errmsg, "%s", what);
}

/* A field that must be unset for this proposal kind. */
static int unset_check(int set, const char *field, char *errmsg)
{
    if (!set) {
        return 0;
    }
    return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                       "tx member_propose %s is set but its kind does not "
                       "use it; leave it empty",
                       field);
}

static int member_propose_add_check(const Tdei__MemberPropose *p,
                                    char *errmsg)
{
    int rc = codec_text_check(p->name, CODEC_MEMBER_NAME_MAX,
                        "tx member_propose name", errmsg);

    if (rc == 0 && p->name[0] == '\0') {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx member_propose name is empty; give the "
                         "member's display name");
    }
    if (rc == 0 && (p->role < 1 || p->role > TDEI_ROLE_AUDITOR)) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx member_propose role %" PRIu32 " is not 1-4 "
                         "(%s)",
                         p->role, TDEI_ROLE_NAMES);
    }
    if (rc == 0) {
        rc = codec_len_check(p->node_key.len, CODEC_KEY_SIZE, errmsg,
                       "tx member_propose node_key");
    }
    if (rc == 0) {
        rc = codec_len_check(p->operator_key.len, CODEC_KEY_SIZE, errmsg,
                       "tx member_propose operator_key");
    }
    if (rc == 0) {
        rc = codec_len_check(p->encryption_key.len, CODEC_KEY_SIZE, errmsg,
                       "tx member_propose encryption_key");
    }
    if (rc == 0 && p->validator && p->role == TDEI_ROLE_AUDITOR) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx member_propose adds an auditor as a "
                         "validator; auditors never vote in consensus");
    }
    if (rc == 0) {
        rc = unset_check(p->param[0] != '\0' || p->value != 0,
                         "param/value", errmsg);
    }
    return rc;
}

static int member_propose_check(const Tdei__MemberPropose *p, char *errmsg)
{
    int rc = codec_no_unknown(&p->base, "tx member_propose", errmsg);

    if (rc != 0) {
        return rc;
    }
    if (p->kind < CODEC_PROPOSE_ADD || p->kind > CODEC_PROPOSE_PARAMS) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "tx member_propose kind %" PRIu32 " is not 1-5 "
                           "(add, remove, suspend, key_change, params)",
                           p->kind);
    }
    if (p->kind == CODEC_PROPOSE_PARAMS) {
        if (!token_valid(p->param, CODEC_EVENT_TYPE_MAX)) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "tx member_propose param is not 1-%u bytes "
                               "of [a-z0-9._-]",
                               CODEC_EVENT_TYPE_MAX);
        }
        return unset_check(p->member[0] != '\0' || p->name[0] != '\0' ||
                               p->role != 0 || p->node_key.len != 0 ||
                               p->operator_key.len != 0 ||
                               p->encryption_key.len != 0 || p->validator,
                           "member fields", errmsg);
    }
    rc = codec_member_id_check(p->member, "tx member_propose member", errmsg);
    if (rc != 0 || p->kind == CODEC_PROPOSE_ADD) {
        return rc != 0 ? rc : member_propose_add_check(p, errmsg);
    }
    rc = unset_check(p->name[0] != '\0' || p->role != 0 ||
                         p->operator_key.len != 0 || p->validator ||
                         p->param[0] != '\0' || p->value != 0,
                     "name/role/operator_key/validator/param/value", errmsg);
    if (rc != 0 || p->kind != CODEC_PROPOSE_KEY_CHANGE) {
        if (rc == 0) {
            rc = unset_check(p->node_key.len != 0 ||
                                 p->encryption_key.len != 0,
                             "node_key/encryption_key", errmsg);
        }
        return rc;
    }
    rc = codec_key_or_empty(p->node_key.len, "tx member_propose node_key", errmsg);
    if (rc == 0) {
        rc = codec_key_or_empty(p->encryption_key.len,
                          "tx member_propose encryption_key", errmsg);
    }
    if (rc == 0 && p->node_key.len == 0 && p->encryption_key.len == 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx member_propose key_change sets no key; give a "
                         "new node_key, encryption_key or both");
    }
    return rc;
}

static int member_vote_check(const Tdei__MemberVote *v, char *errmsg)
{
    int rc = codec_no_unknown(&v->base, "tx member_vote", errmsg);

    if (rc == 0) {
        rc = codec_len_check(v->proposal.len, CODEC_HASH_SIZE, errmsg,
                       "tx member_vote proposal");
    }
    return rc;
}

static int operator_key_rotate_check(const Tdei__OperatorKeyRotate *r,
                                     char *errmsg)
{
    int rc = codec_no_unknown(&r->base, "tx operator_key_rotate", errmsg);

    if (rc == 0) {
        rc = codec_key_or_empty(r->add_key.len, "tx operator_key_rotate add_key",
                          errmsg);
    }
    if (rc == 0) {
        rc = codec_key_or_empty(r->remove_key.len,
                          "tx operator_key_rotate remove_key", errmsg);
    }
    if (rc == 0 && r->add_key.len == 0 && r->remove_key.len == 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx operator_key_rotate sets no key; give add_key, "
                         "remove_key or both");
    }
    if (rc == 0 && r->add_key.len != 0 && r->remove_key.len != 0 &&
        memcmp(r->add_key.data, r->remove_key.data, CODEC_KEY_SIZE) == 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx operator_key_rotate adds and removes the same "
                         "key; name two different keys");
    }
    return rc;
}

static int evidence_check(const Tdei__Evidence *evidence, const char *what,
                          char *errmsg);

/* consensus: the evidence op carries an Evidence under the very rules of
 * codec_evidence_decode. */
static int evidence_op_check(const Tdei__Evidence *evidence, char *errmsg)
{
    if (evidence == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "tx evidence is empty; it carries two votes");
    }
    return evidence_check(evidence, "tx evidence", errmsg);
}

/* Unknown fields of a body: an op number is TDEI_UNKNOWN_OP. */
static int txbody_unknown_check(const Tdei__TxBody *body, char *errmsg)
{
    for (unsigned i = 0; i < body->base.n_unknown_fields; i++) {
        uint32_t tag = body->base.unknown_fields[i].tag;
        if (tag >= TXBODY_OP_FIELD_MIN) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_UNKNOWN_OP,
                               "tx op %" PRIu32 " is not known to this "
                               "node; upgrade tdei, or the sender uses a "
                               "newer schema",
                               tag);
        }
    }
    return codec_no_unknown(&body->base, "tx body", errmsg);
}

static int txbody_check(const Tdei__TxBody *body, char *errmsg)
{
    int rc;

    if (body->version != CODEC_VERSION) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_VERSION,
                           "tx body version %" PRIu32 " is not supported; "
                           "this node reads version %u",
                           body->version, CODEC_VERSION);
    }
    rc = txbody_unknown_check(body, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (body->op_case == TDEI__TX_BODY__OP__NOT_SET) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED, "tx has no op");
    }
    rc = chain_id_check(body->chain_id, "tx", errmsg);
    if (rc == 0) {
        rc = codec_len_check(body->signer.len, CODEC_KEY_SIZE, errmsg,
                       "tx signer");
    }
    if (rc == 0 && body->nonce == 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx nonce is 0; nonces start at 1");
    }
    if (rc != 0) {
        return rc;
    }
    switch (body->op_case) {
    case TDEI__TX_BODY__OP_TRANSFER:
        return transfer_check(body->transfer, errmsg);
    case TDEI__TX_BODY__OP_MINT:
        return mint_check(body->mint, errmsg);
    case TDEI__TX_BODY__OP_MEMBER_PROPOSE:
        return member_propose_check(body->member_propose, errmsg);
    case TDEI__TX_BODY__OP_MEMBER_VOTE:
        return member_vote_check(body->member_vote, errmsg);
    case TDEI__TX_BODY__OP_OPERATOR_KEY_ROTATE:
        return operator_key_rotate_check(body->operator_key_rotate, errmsg);
    case TDEI__TX_BODY__OP_CATALOG_PUBLISH:
    case TDEI__TX_BODY__OP_CATALOG_VERSION:
    case TDEI__TX_BODY__OP_CATALOG_WITHDRAW:
    case TDEI__TX_BODY__OP_CATALOG_REPRICE:
    case TDEI__TX_BODY__OP_CLASSIFY_SET:
    case TDEI__TX_BODY__OP_CLASSIFY_APPROVE:
    case TDEI__TX_BODY__OP_OWNERSHIP_OFFER:
    case TDEI__TX_BODY__OP_OWNERSHIP_ACCEPT:
    case TDEI__TX_BODY__OP_OWNERSHIP_CANCEL:
        return codec_catalog_op_check(body, errmsg);
    case TDEI__TX_BODY__OP_EXCHANGE_REQUEST:
    case TDEI__TX_BODY__OP_EXCHANGE_APPROVE:
    case TDEI__TX_BODY__OP_EXCHANGE_REJECT:
    case TDEI__TX_BODY__OP_EXCHANGE_DELIVER:
    case TDEI__TX_BODY__OP_EXCHANGE_CONFIRM:
    case TDEI__TX_BODY__OP_EXCHANGE_DISPUTE:
    case TDEI__TX_BODY__OP_EXCHANGE_RESOLVE:
    case TDEI__TX_BODY__OP_GRANT_REVOKE:
        return codec_exchange_op_check(body, errmsg);
    case TDEI__TX_BODY__OP_STREAM_OPEN:
    case TDEI__TX_BODY__OP_STREAM_APPEND:
    case TDEI__TX_BODY__OP_STREAM_CLOSE:
        return codec_stream_op_check(body, errmsg);
    case TDEI__TX_BODY__OP_EVIDENCE:
        return evidence_op_check(body->evidence, errmsg);
    default:
        return tdei_errorf(errmsg, ERRSZ, TDEI_UNKNOWN_OP,
                           "tx op %d is not known to this node",
                           (int)body->op_case);
    }
}

int codec_txbody_decode(Tdei__TxBody **out, const uint8_t *buf, size_t len,
                        char *errmsg)
{
    ProtobufCMessage *msg;
    int rc;

    *out = NULL;
    rc = codec_message_unpack(&msg, &tdei__tx_body__descriptor, buf, len, "tx body",
                      errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = txbody_check((const Tdei__TxBody *)msg, errmsg);
    if (rc == 0) {
        rc = codec_canonical_check(msg, buf, len, "tx body", errmsg);
    }
    if (rc != 0) {
        codec_message_free(msg);
        return rc;
    }
    *out = (Tdei__TxBody *)msg;
    return 0;
}

/* ------------------------------------------------------------------------
 * Headers, commits, blocks
 * ------------------------------------------------------------------------ */

static int header_check(const Tdei__Header *header, char *errmsg)
{
    const struct {
        const ProtobufCBinaryData *field;
        const char *name;
    } fixed[] = {
        {&header->txs_root, "txs_root"},
        {&header->last_results_root, "last_results_root"},
        {&header->app_hash, "app_hash"},
        {&header->validators_hash, "validators_hash"},
        {&header->next_validators_hash, "next_validators_hash"},
        {&header->proposer, "proposer"},
    };
    int rc;

    if (header->version != CODEC_VERSION) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_VERSION,
                           "header version %" PRIu32 " is not supported; "
                           "this node reads version %u",
                           header->version, CODEC_VERSION);
    }
    rc = codec_no_unknown(&header->base, "header", errmsg);
    if (rc == 0) {
        rc = chain_id_check(header->chain_id, "header", errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    if (header->height == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "header height is 0; heights start at 1");
    }
    if (header->time_ms == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "header time_ms is 0; it must be Unix time in ms");
    }
    if (header->height == 1 && header->last_block_id.len != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "header last_block_id is %zu bytes at height 1; "
                           "the first block has none",
                           header->last_block_id.len);
    }
    if (header->height > 1) {
        rc = codec_len_check(header->last_block_id.len, CODEC_HASH_SIZE, errmsg,
                       "header last_block_id at height %" PRIu64,
                       header->height);
    }
    for (size_t i = 0; rc == 0 && i < sizeof(fixed) / sizeof(fixed[0]);
         i++) {
        rc = codec_len_check(fixed[i].field->len, CODEC_HASH_SIZE, errmsg,
                       "header %s", fixed[i].name);
    }
    return rc;
}

int codec_header_decode(Tdei__Header **out, const uint8_t *buf, size_t len,
                        char *errmsg)
{
    ProtobufCMessage *msg;
    int rc;

    *out = NULL;
    if (len > CODEC_HEADER_SIZE_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "header is %zu bytes; the limit is %u", len,
                           CODEC_HEADER_SIZE_MAX);
    }
    rc = codec_message_unpack(&msg, &tdei__header__descriptor, buf, len, "header",
                      errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = header_check((const Tdei__Header *)msg, errmsg);
    if (rc == 0) {
        rc = codec_canonical_check(msg, buf, len, "header", errmsg);
    }
    if (rc != 0) {
        codec_message_free(msg);
        return rc;
    }
    *out = (Tdei__Header *)msg;
    return 0;
}

static int commit_check(const Tdei__Commit *commit,
                        const struct codec_limits *limits, const char *what,
                        char *errmsg)
{
    int rc = codec_no_unknown(&commit->base, what, errmsg);

    if (rc != 0) {
        return rc;
    }
    if (commit->height == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s height is 0; heights start at 1", what);
    }
    rc = codec_len_check(commit->block_id.len, CODEC_HASH_SIZE, errmsg,
                   "%s block_id", what);
    if (rc != 0) {
        return rc;
    }
    if (commit->n_signatures == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s has no signatures", what);
    }
    if (commit->n_signatures > limits->validators_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "%s has %zu signatures; the limit is %zu "
                           "(params.validators_max)",
                           what, commit->n_signatures,
                           limits->validators_max);
    }
    for (size_t i = 0; i < commit->n_signatures; i++) {
        const Tdei__CommitSig *sig = commit->signatures[i];
        if (sig->base.n_unknown_fields != 0) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "%s signature %zu has field %" PRIu32 ", "
                               "which this schema does not know",
                               what, i, sig->base.unknown_fields[0].tag);
        }
        rc = codec_len_check(sig->validator.len, CODEC_KEY_SIZE, errmsg,
                       "%s signature %zu validator", what, i);
        if (rc == 0) {
            rc = codec_len_check(sig->sig.len, CODEC_SIG_SIZE, errmsg,
                           "%s signature %zu sig", what, i);
        }
        if (rc != 0) {
            return rc;
        }
        if (i > 0 && memcmp(commit->signatures[i - 1]->validator.data,
                            sig->validator.data, CODEC_KEY_SIZE) >= 0) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "%s signature %zu is not in strictly "
                               "ascending order of validator key (a "
                               "validator twice, or unsorted)",
                               what, i);
        }
    }
    return 0;
}

int codec_commit_decode(Tdei__Commit **out, const uint8_t *buf, size_t len,
                        const struct codec_limits *limits, char *errmsg)
{
    size_t size_max;
    size_t sigs = 0;
    ProtobufCMessage *msg;
    int rc;

    *out = NULL;
    limits_assert(limits);
    size_max = CODEC_COMMIT_SIZE_MAX(limits->validators_max);
    if (len > size_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "commit is %zu bytes; the limit for %zu "
                           "validators is %zu (params.validators_max)",
                           len, limits->validators_max, size_max);
    }
    if (wire_count(buf, len, 4, &sigs) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "commit (%zu bytes) is not protobuf wire format",
                           len);
    }
    if (sigs > limits->validators_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "commit has %zu signatures; the limit is %zu "
                           "(params.validators_max)",
                           sigs, limits->validators_max);
    }
    rc = codec_message_unpack(&msg, &tdei__commit__descriptor, buf, len, "commit",
                      errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = commit_check((const Tdei__Commit *)msg, limits, "commit", errmsg);
    if (rc == 0) {
        rc = codec_canonical_check(msg, buf, len, "commit", errmsg);
    }
    if (rc != 0) {
        codec_message_free(msg);
        return rc;
    }
    *out = (Tdei__Commit *)msg;
    return 0;
}

/* Check an unpacked block's parts; on 0, *@header_out holds its decoded
 * header (the caller's to free). @what names the block in messages. */
static int block_check(const Tdei__Block *block,
                       const struct codec_limits *limits,
                       Tdei__Header **header_out, const char *what,
                       char *errmsg)
{
    Tdei__Header *header = NULL;
    const Tdei__Commit *commit = block->last_commit;
    int rc;

    *header_out = NULL;
    rc = codec_no_unknown(&block->base, what, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (block->header.len == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED, "%s has no header",
                           what);
    }
    rc = codec_header_decode(&header, block->header.data, block->header.len,
                             errmsg);
    if (rc != 0) {
        return tdei_errwrap(errmsg, ERRSZ, rc, "%s", what);
    }
    if (block->n_txs > limits->block_txs_max) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                         "%s has %zu txs; the limit is %zu "
                         "(params.block_txs_max)",
                         what, block->n_txs, limits->block_txs_max);
    }
    for (size_t i = 0; rc == 0 && i < block->n_txs; i++) {
        if (block->txs[i].len == 0) {
            rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                             "%s tx %zu is empty", what, i);
        } else if (block->txs[i].len > limits->tx_size_max) {
            rc = tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                             "%s tx %zu is %zu bytes; the limit is %zu "
                             "(params.tx_size_max)",
                             what, i, block->txs[i].len, limits->tx_size_max);
        }
    }
    if (rc == 0 && header->height == 1 && commit != NULL) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "%s at height 1 has a last_commit; the first block "
                         "has none",
                         what);
    }
    if (rc == 0 && header->height > 1) {
        if (commit == NULL) {
            rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                             "%s at height %" PRIu64 " has no last_commit",
                             what, header->height);
        } else {
            char commit_what[96];
            (void)snprintf(commit_what, sizeof(commit_what),
                           "%s last_commit", what);
            rc = commit_check(commit, limits, commit_what, errmsg);
        }
    }
    if (rc == 0 && header->height > 1 &&
        commit->height != header->height - 1) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "%s at height %" PRIu64 " has a last_commit for "
                         "height %" PRIu64 "; it must be for %" PRIu64,
                         what, header->height, commit->height,
                         header->height - 1);
    }
    if (rc == 0 && header->height > 1 &&
        memcmp(commit->block_id.data, header->last_block_id.data,
               CODEC_HASH_SIZE) != 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "%s last_commit is for another block than its "
                         "header's last_block_id",
                         what);
    }
    if (rc != 0) {
        codec_header_free(header);
        return rc;
    }
    *header_out = header;
    return 0;
}

/* Hand the decoded header to the caller, or free it. */
static void header_give(Tdei__Header **dest, Tdei__Header *header)
{
    if (dest != NULL) {
        *dest = header;
    } else {
        codec_header_free(header);
    }
}

int codec_block_decode(Tdei__Block **out, Tdei__Header **header,
                       const uint8_t *buf, size_t len,
                       const struct codec_limits *limits, char *errmsg)
{
    struct block_scan scan = {0};
    Tdei__Header *decoded_header = NULL;
    ProtobufCMessage *msg;
    int rc;

    *out = NULL;
    if (header != NULL) {
        *header = NULL;
    }
    limits_assert(limits);
    if (len > limits->block_size_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "block is %zu bytes; the limit is %zu "
                           "(params.block_size_max)",
                           len, limits->block_size_max);
    }
    if (block_scan_add(&scan, buf, len) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "block (%zu bytes) is not protobuf wire format",
                           len);
    }
    rc = block_scan_check(&scan, limits, "block", errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = codec_message_unpack(&msg, &tdei__block__descriptor, buf, len, "block",
                      errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = block_check((const Tdei__Block *)msg, limits, &decoded_header,
                     "block", errmsg);
    if (rc == 0) {
        rc = codec_canonical_check(msg, buf, len, "block", errmsg);
    }
    if (rc != 0) {
        codec_header_free(decoded_header);
        codec_message_free(msg);
        return rc;
    }
    header_give(header, decoded_header);
    *out = (Tdei__Block *)msg;
    return 0;
}

/* ------------------------------------------------------------------------
 * Votes, proposals, evidence
 * ------------------------------------------------------------------------ */

static int vote_check(const Tdei__Vote *vote, const char *what, char *errmsg)
{
    int rc = codec_no_unknown(&vote->base, what, errmsg);

    if (rc != 0) {
        return rc;
    }
    if (vote->type != CODEC_VOTE_PREVOTE &&
        vote->type != CODEC_VOTE_PRECOMMIT) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s type %" PRIu32 " is not 1 (prevote) or 2 "
                           "(precommit)",
                           what, vote->type);
    }
    if (vote->height == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s height is 0; heights start at 1", what);
    }
    if (vote->block_id.len != 0 && vote->block_id.len != CODEC_HASH_SIZE) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s block_id is %zu bytes; it must be 32, or "
                           "empty for nil",
                           what, vote->block_id.len);
    }
    rc = codec_len_check(vote->validator.len, CODEC_KEY_SIZE, errmsg,
                   "%s validator", what);
    if (rc == 0) {
        rc = codec_len_check(vote->sig.len, CODEC_SIG_SIZE, errmsg, "%s sig",
                       what);
    }
    return rc;
}

int codec_vote_decode(Tdei__Vote **out, const uint8_t *buf, size_t len,
                      char *errmsg)
{
    ProtobufCMessage *msg;
    int rc;

    *out = NULL;
    if (len > CODEC_VOTE_SIZE_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "vote is %zu bytes; the limit is %u", len,
                           CODEC_VOTE_SIZE_MAX);
    }
    rc = codec_message_unpack(&msg, &tdei__vote__descriptor, buf, len, "vote",
                      errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = vote_check((const Tdei__Vote *)msg, "vote", errmsg);
    if (rc == 0) {
        rc = codec_canonical_check(msg, buf, len, "vote", errmsg);
    }
    if (rc != 0) {
        codec_message_free(msg);
        return rc;
    }
    *out = (Tdei__Vote *)msg;
    return 0;
}

static int proposal_check(const Tdei__Proposal *proposal,
                          const struct codec_limits *limits,
                          Tdei__Header **header_out, char *errmsg)
{
    uint8_t block_id[CODEC_HASH_SIZE];
    Tdei__Header *header = NULL;
    int rc;

    *header_out = NULL;
    rc = codec_no_unknown(&proposal->base, "proposal", errmsg);
    if (rc != 0) {
        return rc;
    }
    if (proposal->height == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "proposal height is 0; heights start at 1");
    }
    if (proposal->pol_round < -1 ||
        (proposal->pol_round >= 0 &&
         (uint32_t)proposal->pol_round >= proposal->round)) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "proposal pol_round %" PRId32 " must be -1 or a "
                           "round below its round %" PRIu32,
                           proposal->pol_round, proposal->round);
    }
    rc = codec_len_check(proposal->block_id.len, CODEC_HASH_SIZE, errmsg,
                   "proposal block_id");
    if (rc == 0) {
        rc = codec_len_check(proposal->proposer.len, CODEC_KEY_SIZE, errmsg,
                       "proposal proposer");
    }
    if (rc == 0) {
        rc = codec_len_check(proposal->sig.len, CODEC_SIG_SIZE, errmsg,
                       "proposal sig");
    }
    if (rc != 0) {
        return rc;
    }
    if (proposal->block == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "proposal has no block");
    }
    rc = block_check(proposal->block, limits, &header, "proposal block",
                     errmsg);
    if (rc != 0) {
        return rc;
    }
    codec_block_id(block_id, proposal->block->header.data,
                   proposal->block->header.len);
    if (memcmp(block_id, proposal->block_id.data, CODEC_HASH_SIZE) != 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "proposal block_id is not SHA-256 of its block's "
                         "header");
    } else if (header->height != proposal->height) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "proposal is for height %" PRIu64 " but its block "
                         "is for height %" PRIu64,
                         proposal->height, header->height);
    } else if (memcmp(header->proposer.data, proposal->proposer.data,
                      CODEC_KEY_SIZE) != 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "proposal proposer is not its block header's "
                         "proposer");
    }
    if (rc != 0) {
        codec_header_free(header);
        return rc;
    }
    *header_out = header;
    return 0;
}

int codec_proposal_decode(Tdei__Proposal **out, Tdei__Header **header,
                          const uint8_t *buf, size_t len,
                          const struct codec_limits *limits, char *errmsg)
{
    struct block_scan scan = {0};
    Tdei__Header *decoded_header = NULL;
    ProtobufCMessage *msg;
    size_t size_max;
    int rc;

    *out = NULL;
    if (header != NULL) {
        *header = NULL;
    }
    limits_assert(limits);
    size_max = limits->block_size_max + CODEC_PROPOSAL_OVERHEAD_MAX;
    if (len > size_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "proposal is %zu bytes; the limit is %zu "
                           "(params.block_size_max + %u)",
                           len, size_max, CODEC_PROPOSAL_OVERHEAD_MAX);
    }
    if (proposal_scan(&scan, buf, len) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "proposal (%zu bytes) is not protobuf wire format",
                           len);
    }
    if (scan.block_bytes > limits->block_size_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "proposal block is %zu bytes; the limit is %zu "
                           "(params.block_size_max)",
                           scan.block_bytes, limits->block_size_max);
    }
    rc = block_scan_check(&scan, limits, "proposal block", errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = codec_message_unpack(&msg, &tdei__proposal__descriptor, buf, len,
                      "proposal", errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = proposal_check((const Tdei__Proposal *)msg, limits, &decoded_header,
                        errmsg);
    if (rc == 0) {
        rc = codec_canonical_check(msg, buf, len, "proposal", errmsg);
    }
    if (rc != 0) {
        codec_header_free(decoded_header);
        codec_message_free(msg);
        return rc;
    }
    header_give(header, decoded_header);
    *out = (Tdei__Proposal *)msg;
    return 0;
}

/* Order block ids for evidence: nil (empty) first, then bytewise. */
static int block_id_compare(const ProtobufCBinaryData *a,
                            const ProtobufCBinaryData *b)
{
    if (a->len == 0 || b->len == 0) {
        return (a->len != 0) - (b->len != 0);
    }
    return memcmp(a->data, b->data, CODEC_HASH_SIZE);
}

/* The rules of an Evidence: the same check for codec_evidence_decode and
 * for the evidence op of a tx (@what names it in messages). */
static int evidence_check(const Tdei__Evidence *evidence, const char *what,
                          char *errmsg)
{
    const Tdei__Vote *a = evidence->a;
    const Tdei__Vote *b = evidence->b;
    char vote_what[64];
    size_t size;
    int rc = codec_no_unknown(&evidence->base, what, errmsg);

    if (rc != 0) {
        return rc;
    }
    size = tdei__evidence__get_packed_size(evidence);
    if (size > CODEC_EVIDENCE_SIZE_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "%s is %zu bytes; the limit is %u", what, size,
                           CODEC_EVIDENCE_SIZE_MAX);
    }
    if (a == NULL || b == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED, "%s lacks vote %s",
                           what, a == NULL ? "a" : "b");
    }
    (void)snprintf(vote_what, sizeof(vote_what), "%s vote a", what);
    rc = vote_check(a, vote_what, errmsg);
    if (rc == 0) {
        (void)snprintf(vote_what, sizeof(vote_what), "%s vote b", what);
        rc = vote_check(b, vote_what, errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    if (memcmp(a->validator.data, b->validator.data, CODEC_KEY_SIZE) != 0 ||
        a->height != b->height || a->round != b->round ||
        a->type != b->type) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s votes differ in validator, height, "
                           "round or type; they do not conflict",
                           what);
    }
    rc = block_id_compare(&a->block_id, &b->block_id);
    if (rc == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s votes are for the same block; they do "
                           "not conflict",
                           what);
    }
    if (rc > 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s votes are out of order; vote a must "
                           "have the lower block_id (nil first)",
                           what);
    }
    return 0;
}

int codec_evidence_decode(Tdei__Evidence **out, const uint8_t *buf,
                          size_t len, char *errmsg)
{
    ProtobufCMessage *msg;
    int rc;

    *out = NULL;
    if (len > CODEC_EVIDENCE_SIZE_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "evidence is %zu bytes; the limit is %u", len,
                           CODEC_EVIDENCE_SIZE_MAX);
    }
    rc = codec_message_unpack(&msg, &tdei__evidence__descriptor, buf, len,
                      "evidence", errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = evidence_check((const Tdei__Evidence *)msg, "evidence", errmsg);
    if (rc == 0) {
        rc = codec_canonical_check(msg, buf, len, "evidence", errmsg);
    }
    if (rc != 0) {
        codec_message_free(msg);
        return rc;
    }
    *out = (Tdei__Evidence *)msg;
    return 0;
}

void codec_evidence_id(uint8_t out[CODEC_HASH_SIZE],
                       const Tdei__Evidence *evidence)
{
    uint8_t buf[CODEC_EVIDENCE_SIZE_MAX];
    char errmsg[ERRSZ];
    Tdei__Evidence e = *evidence;
    Tdei__Vote a;
    Tdei__Vote b;
    size_t packed;
    size_t len;

    TDEI_ASSERT(evidence_check(evidence, "evidence", errmsg) == 0);
    a = *evidence->a;
    b = *evidence->b;
    a.sig = (ProtobufCBinaryData){0, NULL};
    b.sig = (ProtobufCBinaryData){0, NULL};
    e.a = &a;
    e.b = &b;
    len = tdei__evidence__get_packed_size(&e);
    TDEI_ASSERT(len <= sizeof(buf));
    packed = tdei__evidence__pack(&e, buf);
    TDEI_ASSERT(packed == len);
    tdei_sha256(out, buf, len);
}

/* ------------------------------------------------------------------------
 * Results and validator sets
 * ------------------------------------------------------------------------ */

static int event_check(const Tdei__Event *event, size_t index, char *errmsg)
{
    char shown[ECHO_SIZE];
    char what[96];
    int rc;

    if (event->base.n_unknown_fields != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "result event %zu has an unknown field", index);
    }
    if (!token_valid(event->type, CODEC_EVENT_TYPE_MAX)) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "result event %zu type \"%s\" is not 1-%u bytes "
                           "of [a-z0-9._-]",
                           index, codec_echo(shown, event->type),
                           CODEC_EVENT_TYPE_MAX);
    }
    if (event->n_attrs > CODEC_ATTRS_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "result event %zu has %zu attributes; the limit "
                           "is %u",
                           index, event->n_attrs, CODEC_ATTRS_MAX);
    }
    for (size_t i = 0; i < event->n_attrs; i++) {
        const Tdei__Attr *attr = event->attrs[i];
        if (attr->base.n_unknown_fields != 0) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "result event %zu attribute %zu has an "
                               "unknown field",
                               index, i);
        }
        if (!token_valid(attr->key, CODEC_ATTR_KEY_MAX)) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "result event %zu attribute key \"%s\" is not "
                               "1-%u bytes of [a-z0-9._-]",
                               index, codec_echo(shown, attr->key),
                               CODEC_ATTR_KEY_MAX);
        }
        (void)snprintf(what, sizeof(what), "result event %zu attribute %zu",
                       index, i);
        rc = codec_text_check(attr->value, CODEC_ATTR_VALUE_MAX, what, errmsg);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int head_check(const Tdei__HeadUpdate *head, size_t index,
                      char *errmsg)
{
    int rc;

    if (head->base.n_unknown_fields != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "result head %zu has an unknown field", index);
    }
    if (head->object.len == 0 || head->object.len > CODEC_OBJECT_KEY_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "result head %zu object key is %zu bytes; it must "
                           "be 1-%u",
                           index, head->object.len, CODEC_OBJECT_KEY_MAX);
    }
    rc = codec_len_check(head->prev_head.len, CODEC_HASH_SIZE, errmsg,
                   "result head %zu prev_head", index);
    if (rc == 0) {
        rc = codec_len_check(head->new_head.len, CODEC_HASH_SIZE, errmsg,
                       "result head %zu new_head", index);
    }
    return rc;
}

static int txresult_check(const Tdei__TxResult *result, char *errmsg)
{
    int rc = codec_no_unknown(&result->base, "result", errmsg);

    if (rc == 0) {
        rc = codec_text_check(result->log, CODEC_LOG_MAX, "result log", errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    if (result->code != 0 && result->log[0] == '\0') {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "result code %" PRIu32 " has an empty log; every "
                           "refusal names its rule",
                           result->code);
    }
    if (result->n_events > CODEC_EVENTS_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "result has %zu events; the limit is %u",
                           result->n_events, CODEC_EVENTS_MAX);
    }
    if (result->n_heads > CODEC_HEADS_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "result has %zu heads; the limit is %u",
                           result->n_heads, CODEC_HEADS_MAX);
    }
    for (size_t i = 0; rc == 0 && i < result->n_events; i++) {
        rc = event_check(result->events[i], i, errmsg);
    }
    for (size_t i = 0; rc == 0 && i < result->n_heads; i++) {
        rc = head_check(result->heads[i], i, errmsg);
    }
    return rc;
}

int codec_txresult_decode(Tdei__TxResult **out, const uint8_t *buf,
                          size_t len, char *errmsg)
{
    size_t events = 0;
    size_t heads = 0;
    ProtobufCMessage *msg;
    int rc;

    *out = NULL;
    if (len > CODEC_RESULT_SIZE_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "result is %zu bytes; the limit is %u", len,
                           CODEC_RESULT_SIZE_MAX);
    }
    if (wire_count(buf, len, 3, &events) != 0 ||
        wire_count(buf, len, 4, &heads) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "result (%zu bytes) is not protobuf wire format",
                           len);
    }
    if (events > CODEC_EVENTS_MAX || heads > CODEC_HEADS_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "result has %zu events and %zu heads; the limits "
                           "are %u and %u",
                           events, heads, CODEC_EVENTS_MAX, CODEC_HEADS_MAX);
    }
    rc = codec_message_unpack(&msg, &tdei__tx_result__descriptor, buf, len, "result",
                      errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = txresult_check((const Tdei__TxResult *)msg, errmsg);
    if (rc == 0) {
        rc = codec_canonical_check(msg, buf, len, "result", errmsg);
    }
    if (rc != 0) {
        codec_message_free(msg);
        return rc;
    }
    *out = (Tdei__TxResult *)msg;
    return 0;
}

static int validator_set_check(const Tdei__ValidatorSet *set,
                               const struct codec_limits *limits,
                               char *errmsg)
{
    char what[48];
    int rc = codec_no_unknown(&set->base, "validator set", errmsg);

    if (rc != 0) {
        return rc;
    }
    if (set->n_validators == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "validator set is empty");
    }
    if (set->n_validators > limits->validators_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "validator set has %zu validators; the limit is "
                           "%zu (params.validators_max)",
                           set->n_validators, limits->validators_max);
    }
    for (size_t i = 0; i < set->n_validators; i++) {
        const Tdei__Validator *validator = set->validators[i];
        if (validator->base.n_unknown_fields != 0) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "validator %zu has an unknown field", i);
        }
        rc = codec_len_check(validator->node_key.len, CODEC_KEY_SIZE, errmsg,
                       "validator %zu node_key", i);
        if (rc != 0) {
            return rc;
        }
        (void)snprintf(what, sizeof(what), "validator %zu member", i);
        rc = codec_member_id_check(validator->member, what, errmsg);
        if (rc != 0) {
            return rc;
        }
        if (i > 0 && memcmp(set->validators[i - 1]->node_key.data,
                            validator->node_key.data, CODEC_KEY_SIZE) >= 0) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "validator %zu is not in strictly ascending "
                               "order of node key (a key twice, or "
                               "unsorted)",
                               i);
        }
    }
    return 0;
}

int codec_validator_set_decode(Tdei__ValidatorSet **out, const uint8_t *buf,
                               size_t len, const struct codec_limits *limits,
                               char *errmsg)
{
    size_t size_max;
    ProtobufCMessage *msg;
    int rc;

    *out = NULL;
    limits_assert(limits);
    size_max = CODEC_VALIDATOR_SET_SIZE_MAX(limits->validators_max);
    if (len > size_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "validator set is %zu bytes; the limit for %zu "
                           "validators is %zu (params.validators_max)",
                           len, limits->validators_max, size_max);
    }
    rc = codec_message_unpack(&msg, &tdei__validator_set__descriptor, buf, len,
                      "validator set", errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = validator_set_check((const Tdei__ValidatorSet *)msg, limits,
                             errmsg);
    if (rc == 0) {
        rc = codec_canonical_check(msg, buf, len, "validator set", errmsg);
    }
    if (rc != 0) {
        codec_message_free(msg);
        return rc;
    }
    *out = (Tdei__ValidatorSet *)msg;
    return 0;
}

/* ------------------------------------------------------------------------
 * Frees
 * ------------------------------------------------------------------------ */

void codec_tx_free(Tdei__Tx *tx)
{
    codec_message_free(tx == NULL ? NULL : &tx->base);
}

void codec_txbody_free(Tdei__TxBody *body)
{
    codec_message_free(body == NULL ? NULL : &body->base);
}

void codec_header_free(Tdei__Header *header)
{
    codec_message_free(header == NULL ? NULL : &header->base);
}

void codec_block_free(Tdei__Block *block)
{
    codec_message_free(block == NULL ? NULL : &block->base);
}

void codec_vote_free(Tdei__Vote *vote)
{
    codec_message_free(vote == NULL ? NULL : &vote->base);
}

void codec_commit_free(Tdei__Commit *commit)
{
    codec_message_free(commit == NULL ? NULL : &commit->base);
}

void codec_proposal_free(Tdei__Proposal *proposal)
{
    codec_message_free(proposal == NULL ? NULL : &proposal->base);
}

void codec_evidence_free(Tdei__Evidence *evidence)
{
    codec_message_free(evidence == NULL ? NULL : &evidence->base);
}

void codec_txresult_free(Tdei__TxResult *result)
{
    codec_message_free(result == NULL ? NULL : &result->base);
}

void codec_validator_set_free(Tdei__ValidatorSet *set)
{
    codec_message_free(set == NULL ? NULL : &set->base);
}

/* ------------------------------------------------------------------------
 * Encoders
 * ------------------------------------------------------------------------ */

int codec_encode(const ProtobufCMessage *msg, uint8_t **out, size_t *len)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = tdei_malloc(size);
    size_t written;

    if (buf == NULL) {
        *out = NULL;
        *len = 0;
        return TDEI_NOMEM;
    }
    written = protobuf_c_message_pack(msg, buf);
    TDEI_ASSERT(written == size);
    *out = buf;
    *len = size;
    return 0;
}

int codec_tx_encode(const Tdei__Tx *tx, uint8_t **out, size_t *len)
{
    return codec_encode(&tx->base, out, len);
}

int codec_txbody_encode(const Tdei__TxBody *body, uint8_t **out,
                        size_t *len)
{
    return codec_encode(&body->base, out, len);
}

int codec_header_encode(const Tdei__Header *header, uint8_t **out,
                        size_t *len)
{
    return codec_encode(&header->base, out, len);
}

int codec_block_encode(const Tdei__Block *block, uint8_t **out, size_t *len)
{
    return codec_encode(&block->base, out, len);
}

int codec_vote_encode(const Tdei__Vote *vote, uint8_t **out, size_t *len)
{
    return codec_encode(&vote->base, out, len);
}

int codec_commit_encode(const Tdei__Commit *commit, uint8_t **out,
                        size_t *len)
{
    return codec_encode(&commit->base, out, len);
}

int codec_proposal_encode(const Tdei__Proposal *proposal, uint8_t **out,
                          size_t *len)
{
    return codec_encode(&proposal->base, out, len);
}

int codec_evidence_encode(const Tdei__Evidence *evidence, uint8_t **out,
                          size_t *len)
{
    return codec_encode(&evidence->base, out, len);
}

int codec_txresult_encode(const Tdei__TxResult *result, uint8_t **out,
                          size_t *len)
{
    return codec_encode(&result->base, out, len);
}

int codec_validator_set_encode(const Tdei__ValidatorSet *set, uint8_t **out,
                               size_t *len)
{
    return codec_encode(&set->base, out, len);
}

/* ------------------------------------------------------------------------
 * State records (added with execution; see codec.h "State records")
 * ------------------------------------------------------------------------ */

/* The common shape of a record decoder: size, unpack, field rules,
 * canonical encoding. */
int codec_record_decode(ProtobufCMessage **out,
                         const ProtobufCMessageDescriptor *desc,
                         const uint8_t *buf, size_t len, size_t size_max,
                         const char *what, record_check_fn check,
                         char *errmsg)
{
    ProtobufCMessage *msg;
    int rc;

    *out = NULL;
    if (len > size_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "%s record is %zu bytes; the limit is %zu", what,
                           len, size_max);
    }
    rc = codec_message_unpack(&msg, desc, buf, len, what, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = codec_no_unknown(msg, what, errmsg);
    if (rc == 0) {
        rc = check(msg, errmsg);
    }
    if (rc == 0) {
        rc = codec_canonical_check(msg, buf, len, what, errmsg);
    }
    if (rc != 0) {
        codec_message_free(msg);
        return rc;
    }
    *out = msg;
    return 0;
}

static int member_record_check(const ProtobufCMessage *msg, char *errmsg)
{
    const Tdei__Member *m = (const Tdei__Member *)msg;
    int rc = codec_member_id_check(m->id, "member id", errmsg);

    if (rc == 0) {
        rc = codec_text_check(m->name, CODEC_MEMBER_NAME_MAX, "member name",
                        errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    if (m->role < TDEI_ROLE_PUBLIC_SERVICE || m->role > TDEI_ROLE_AUDITOR) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "member %s role %" PRIu32 " is not 1-4", m->id,
                           m->role);
    }
    rc = codec_len_check(m->node_key.len, CODEC_KEY_SIZE, errmsg,
                   "member %s node_key", m->id);
    if (rc == 0) {
        rc = codec_len_check(m->encryption_key.len, TDEI_X25519_SIZE, errmsg,
                       "member %s encryption_key", m->id);
    }
    if (rc != 0) {
        return rc;
    }
    if (m->n_operator_keys == 0 ||
        m->n_operator_keys > CODEC_OPERATOR_KEYS_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "member %s has %zu operator keys; it must have "
                           "1-%u",
                           m->id, m->n_operator_keys,
                           CODEC_OPERATOR_KEYS_MAX);
    }
    for (size_t i = 0; i < m->n_operator_keys; i++) {
        rc = codec_len_check(m->operator_keys[i].len, CODEC_KEY_SIZE, errmsg,
                       "member %s operator key %zu", m->id, i);
        if (rc != 0) {
            return rc;
        }
        if (i > 0 && memcmp(m->operator_keys[i - 1].data,
                            m->operator_keys[i].data, CODEC_KEY_SIZE) >= 0) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "member %s operator key %zu is not in "
                               "strictly ascending order",
                               m->id, i);
        }
    }
    if (m->status < CODEC_MEMBER_ACTIVE || m->status > CODEC_MEMBER_REMOVED) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "member %s status %" PRIu32 " is not 1-3", m->id,
                           m->status);
    }
    if (m->validator && m->role == TDEI_ROLE_AUDITOR) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "member %s is an auditor and a validator; "
                           "auditors never vote",
                           m->id);
    }
    return 0;
}

static int account_record_check(const ProtobufCMessage *msg, char *errmsg)
{
    (void)msg;
    (void)errmsg;
    return 0;
}

static int opkey_record_check(const ProtobufCMessage *msg, char *errmsg)
{
    const Tdei__OperatorKey *k = (const Tdei__OperatorKey *)msg;

    return codec_member_id_check(k->member, "operator key member", errmsg);
}

static int nodekey_record_check(const ProtobufCMessage *msg, char *errmsg)
{
    const Tdei__NodeKey *k = (const Tdei__NodeKey *)msg;

    return codec_member_id_check(k->member, "node key member", errmsg);
}

static int params_record_check(const ProtobufCMessage *msg, char *errmsg)
{
    const Tdei__Params *p = (const Tdei__Params *)msg;

    if (p->tx_size_max == 0 || p->block_txs_max == 0 ||
        p->block_size_max == 0 || p->validators_max == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "params record has a limit of 0; every limit "
                           "is at least 1");
    }
    if (p->tx_size_max > p->block_size_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "params tx_size_max %" PRIu64 " exceeds "
                           "block_size_max %" PRIu64,
                           p->tx_size_max, p->block_size_max);
    }
    if (p->n_levels != CODEC_LEVELS) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "params record has %zu level policies; it must "
                           "have %u",
                           p->n_levels, CODEC_LEVELS);
    }
    for (size_t i = 0; i < p->n_levels; i++) {
        const Tdei__LevelPolicy *lp = p->levels[i];
        int rc = codec_no_unknown(&lp->base, "params level policy", errmsg);
        if (rc != 0) {
            return rc;
        }
        if (lp->approval < 1 || lp->approval > 3 || lp->roles > 30u ||
            (lp->roles & 1u) != 0 || lp->grant_ttl == 0) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "params level %zu policy is out of range "
                               "(approval 1-3, roles an even mask <= 30, "
                               "grant_ttl >= 1)",
                               i + 1);
        }
    }
    return 0;
}

int codec_member_decode(Tdei__Member **out, const uint8_t *buf, size_t len,
                        char *errmsg)
{
    return codec_record_decode((ProtobufCMessage **)out, &tdei__member__descriptor,
                         buf, len, CODEC_MEMBER_SIZE_MAX, "member",
                         member_record_check, errmsg);
}

int codec_account_decode(Tdei__Account **out, const uint8_t *buf, size_t len,
                         char *errmsg)
{
    return codec_record_decode((ProtobufCMessage **)out,
                         &tdei__account__descriptor, buf, len,
                         CODEC_ACCOUNT_SIZE_MAX, "account",
                         account_record_check, errmsg);
}

int codec_operator_key_decode(Tdei__OperatorKey **out, const uint8_t *buf,
                              size_t len, char *errmsg)
{
    return codec_record_decode((ProtobufCMessage **)out,
                         &tdei__operator_key__descriptor, buf, len,
                         CODEC_OPKEY_SIZE_MAX, "operator key",
                         opkey_record_check, errmsg);
}

int codec_node_key_decode(Tdei__NodeKey **out, const uint8_t *buf,
                          size_t len, char *errmsg)
{
    return codec_record_decode((ProtobufCMessage **)out,
                         &tdei__node_key__descriptor, buf, len,
                         CODEC_NODEKEY_SIZE_MAX, "node key",
                         nodekey_record_check, errmsg);
}

int codec_params_decode(Tdei__Params **out, const uint8_t *buf, size_t len,
                        char *errmsg)
{
    return codec_record_decode((ProtobufCMessage **)out, &tdei__params__descriptor,
                         buf, len, CODEC_PARAMS_SIZE_MAX, "params",
                         params_record_check, errmsg);
}

void codec_member_free(Tdei__Member *member)
{
    codec_message_free((ProtobufCMessage *)member);
}

void codec_account_free(Tdei__Account *account)
{
    codec_message_free((ProtobufCMessage *)account);
}

void codec_operator_key_free(Tdei__OperatorKey *opkey)
{
    codec_message_free((ProtobufCMessage *)opkey);
}

void codec_node_key_free(Tdei__NodeKey *nodekey)
{
    codec_message_free((ProtobufCMessage *)nodekey);
}

void codec_params_free(Tdei__Params *params)
{
    codec_message_free((ProtobufCMessage *)params);
}

int codec_member_encode(const Tdei__Member *member, uint8_t **out,
                        size_t *len)
{
    return codec_encode(&member->base, out, len);
}

int codec_account_encode(const Tdei__Account *account, uint8_t **out,
                         size_t *len)
{
    return codec_encode(&account->base, out, len);
}

int codec_operator_key_encode(const Tdei__OperatorKey *opkey, uint8_t **out,
                              size_t *len)
{
    return codec_encode(&opkey->base, out, len);
}

int codec_node_key_encode(const Tdei__NodeKey *nodekey, uint8_t **out,
                          size_t *len)
{
    return codec_encode(&nodekey->base, out, len);
}

int codec_params_encode(const Tdei__Params *params, uint8_t **out,
                        size_t *len)
{
    return codec_encode(&params->base, out, len);
}

/* Strictly ascending member ids. */
static int id_list_check(char *const *ids, size_t n, const char *what,
                         char *errmsg)
{
    for (size_t i = 0; i < n; i++) {
        int rc = codec_member_id_check(ids[i], what, errmsg);
        if (rc != 0) {
            return rc;
        }
        if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "%s are not strictly ascending", what);
        }
    }
    return 0;
}

static int proposal_record_check(const ProtobufCMessage *msg, char *errmsg)
{
    const Tdei__MemberProposal *p = (const Tdei__MemberProposal *)msg;
    int rc;

    if (p->op == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "member proposal record has no op");
    }
    rc = member_propose_check(p->op, errmsg);
    if (rc == 0) {
        rc = codec_member_id_check(p->proposer, "member proposal proposer", errmsg);
    }
    if (rc == 0) {
        rc = id_list_check(p->approvals, p->n_approvals,
                           "member proposal approvals", errmsg);
    }
    if (rc == 0) {
        rc = id_list_check(p->rejections, p->n_rejections,
                           "member proposal rejections", errmsg);
    }
    if (rc == 0 && (p->status < CODEC_PROPOSAL_OPEN ||
                    p->status > CODEC_PROPOSAL_FAILED)) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "member proposal status %" PRIu32 " is not 1-3",
                         p->status);
    }
    return rc;
}

static int voter_count_record_check(const ProtobufCMessage *msg,
                                    char *errmsg)
{
    (void)msg;
    (void)errmsg;
    return 0;
}

int codec_member_proposal_decode(Tdei__MemberProposal **out,
                                 const uint8_t *buf, size_t len,
                                 char *errmsg)
{
    return codec_record_decode((ProtobufCMessage **)out,
                         &tdei__member_proposal__descriptor, buf, len,
                         CODEC_MEMBER_PROPOSAL_SIZE_MAX, "member proposal",
                         proposal_record_check, errmsg);
}

int codec_voter_count_decode(Tdei__VoterCount **out, const uint8_t *buf,
                             size_t len, char *errmsg)
{
    return codec_record_decode((ProtobufCMessage **)out,
                         &tdei__voter_count__descriptor, buf, len,
                         CODEC_VOTER_COUNT_SIZE_MAX, "voter count",
                         voter_count_record_check, errmsg);
}

void codec_member_proposal_free(Tdei__MemberProposal *proposal)
{
    codec_message_free((ProtobufCMessage *)proposal);
}

void codec_voter_count_free(Tdei__VoterCount *count)
{
    codec_message_free((ProtobufCMessage *)count);
}

static int evidence_record_check(const ProtobufCMessage *msg, char *errmsg)
{
    const Tdei__EvidenceRecord *r = (const Tdei__EvidenceRecord *)msg;
    int rc = 0;

    if (r->height == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "evidence record height is 0; heights start "
                           "at 1");
    }
    rc = codec_len_check(r->tx.len, CODEC_HASH_SIZE, errmsg,
                         "evidence record tx");
    if (rc == 0) {
        rc = codec_len_check(r->validator.len, CODEC_KEY_SIZE, errmsg,
                             "evidence record validator");
    }
    if (rc == 0) {
        rc = codec_member_id_check(r->member, "evidence record member", errmsg);
    }
    return rc;
}

int codec_evidence_record_decode(Tdei__EvidenceRecord **out, const uint8_t *buf,
                                 size_t len, char *errmsg)
{
    return codec_record_decode(
        (ProtobufCMessage **)out, &tdei__evidence_record__descriptor, buf, len,
        CODEC_EVIDENCE_RECORD_SIZE_MAX, "evidence record",
        evidence_record_check, errmsg);
}

void codec_evidence_record_free(Tdei__EvidenceRecord *record)
{
    codec_message_free((ProtobufCMessage *)record);
}

int codec_utf8_valid(const uint8_t *s, size_t len)
{
    return len == 0 ? 1 : utf8_valid(s, len);
}

int codec_token_valid(const char *s, size_t max)
{
    return token_valid(s, max);
}
