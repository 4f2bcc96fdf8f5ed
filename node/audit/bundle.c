/* Audit bundles: canonical text, decoding and offline verification
 * (bundle.h, doc/bundle.md). */
#include "audit/bundle.h"

#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/ids.h"
#include "core/keys.h"
#include "votes.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRSZ TDEI_ERRMSG_SIZE

/* The limits the codec decoders get: the ceilings of the params, since a
 * bundle does not say which params its chain had. */
static const struct codec_limits bundle_limits = {
    .tx_size_max = BUNDLE_TX_SIZE_MAX,
    .block_size_max = 64u * TDEI_MIB,
    .block_txs_max = BUNDLE_TREE_SIZE_MAX,
    .validators_max = BUNDLE_VALIDATORS_MAX,
};

_Static_assert(BUNDLE_VALIDATORS_MAX == CONS_VALIDATORS_MAX,
               "a bundle's sets fit the engine's");

static const char *const kind_names[] = {NULL, "dataset", "stream", "exchange",
                                         "member"};

const char *bundle_kind_name(enum bundle_kind kind)
{
    if (kind < BUNDLE_KIND_DATASET || kind > BUNDLE_KIND_MEMBER) {
        return "?";
    }
    return kind_names[kind];
}

int bundle_kind_parse(const char *name, enum bundle_kind *out)
{
    for (int k = BUNDLE_KIND_DATASET; k <= BUNDLE_KIND_MEMBER; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            *out = (enum bundle_kind)k;
            return 0;
        }
    }
    return TDEI_INVAL;
}

/* 1 when @s is exactly @n lower-case hex digits. */
static int hex_lower(const char *s, size_t n)
{
    size_t i = 0;

    for (; s[i] != '\0'; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return i == n;
}

int bundle_object_key(enum bundle_kind kind, const char *id,
                      uint8_t out[CODEC_OBJECT_KEY_MAX], size_t *len,
                      char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t xid[CODEC_HASH_SIZE];
    size_t n = 0;

    *len = 0;
    switch (kind) {
    case BUNDLE_KIND_DATASET:
    case BUNDLE_KIND_STREAM:
        if (!codec_dataset_id_valid(id)) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                               "entry id '%.80s' is not 3-64 bytes of "
                               "[a-z0-9-]",
                               id);
        }
        n = contract_key_dataset(key, id);
        break;
    case BUNDLE_KIND_MEMBER:
        if (tdei_member_id_check(id) != 0) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                               "member id '%.80s' is not 3-32 bytes of "
                               "[a-z0-9-]",
                               id);
        }
        n = contract_key_member(key, id);
        break;
    case BUNDLE_KIND_EXCHANGE:
        if (!hex_lower(id, 2 * CODEC_HASH_SIZE) ||
            tdei_hex_decode(xid, sizeof(xid), id) != 0) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                               "exchange id '%.80s' is not 64 lower-case "
                               "hex digits (the tx id of its request)",
                               id);
        }
        n = contract_key_exchange(key, xid);
        break;
    default:
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "object kind %d is not dataset, stream, "
                           "exchange or member",
                           (int)kind);
    }
    TDEI_ASSERT(n <= CODEC_OBJECT_KEY_MAX);
    memcpy(out, key, n);
    *len = n;
    return 0;
}

static void proof_free(struct bundle_proof *p)
{
    tdei_free(p->path);
    p->path = NULL;
    p->count = 0;
}

void bundle_free(struct bundle *b)
{
    for (size_t i = 0; b->events != NULL && i < b->event_count; i++) {
        tdei_free(b->events[i].tx);
        tdei_free(b->events[i].result);
        proof_free(&b->events[i].tx_proof);
        proof_free(&b->events[i].result_proof);
    }
    for (size_t i = 0; b->headers != NULL && i < b->header_count; i++) {
        tdei_free(b->headers[i].header);
        tdei_free(b->headers[i].commit);
    }
    for (size_t i = 0; b->changes != NULL && i < b->change_count; i++) {
        tdei_free(b->changes[i].keys);
    }
    tdei_free(b->events);
    tdei_free(b->headers);
    tdei_free(b->changes);
    memset(b, 0, sizeof(*b));
}

/* ---- canonical text ---------------------------------------------------- */

/* The top-level sections, in the order they are written. */
enum section {
    SEC_VERSION = 0,
    SEC_CHAIN,
    SEC_OBJECT,
    SEC_AS_OF,
    SEC_CHANGES,
    SEC_HEADERS,
    SEC_EVENTS,
    SEC_COUNT
};

static const char *const section_names[SEC_COUNT] = {
    "tdei_bundle",       "chain_id", "object", "as_of",
    "validator_changes", "headers",  "events"};

/* A growing text buffer. */
struct out
{
    char *data;
    size_t len;
    size_t cap;
    int failed;                 /* out of memory: everything after is lost */
    size_t sections[SEC_COUNT]; /* offset where each section's line starts */
};

static int out_reserve(struct out *o, size_t more)
{
    size_t cap;
    char *grown;

    if (o->failed) {
        return -1;
    }
    if (o->len + more + 1 <= o->cap) {
        return 0;
    }
    cap = o->cap == 0 ? 4096 : o->cap;
    while (cap < o->len + more + 1) {
        if (cap > SIZE_MAX / 2) {
            o->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    grown = tdei_realloc(o->data, cap);
    if (grown == NULL) {
        o->failed = 1;
        return -1;
    }
    o->data = grown;
    o->cap = cap;
    return 0;
}

static void out_raw(struct out *o, const char *s, size_t n)
{
    if (out_reserve(o, n) == 0) {
        memcpy(o->data + o->len, s, n);
        o->len += n;
        o->data[o->len] = '\0';
    }
}

static void out_str(struct out *o, const char *s) { out_raw(o, s, strlen(s)); }

static void out_u64(struct out *o, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRIu64, v);

    out_raw(o, num, (size_t)n);
}

/* "key": */
static void out_key(struct out *o, const char *key)
{
    out_raw(o, "\"", 1);
    out_str(o, key);
    out_raw(o, "\": ", 3);
}

/* A JSON string holding the hex of @n bytes. */
static void out_hex(struct out *o, const uint8_t *data, size_t n)
{
    static const char digits[] = "0123456789abcdef";

    if (out_reserve(o, 2 * n + 2) != 0) {
        return;
    }
    o->data[o->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        o->data[o->len++] = digits[data[i] >> 4];
        o->data[o->len++] = digits[data[i] & 15];
    }
    o->data[o->len++] = '"';
    o->data[o->len] = '\0';
}

/* A JSON string of @s, which holds only characters that need no escape
 * (ids, names: checked when decoded). */
static void out_plain(struct out *o, const char *s)
{
    out_raw(o, "\"", 1);
    out_str(o, s);
    out_raw(o, "\"", 1);
}

static void out_proof(struct out *o, const struct bundle_proof *p)
{
    out_str(o, "{\"type\": \"inclusion\", ");
    out_key(o, "leaf_hash");
    out_hex(o, p->leaf_hash, MERKLE_HASH_SIZE);
    out_str(o, ", ");
    out_key(o, "leaf_index");
    out_u64(o, p->leaf_index);
    out_str(o, ", ");
    out_key(o, "tree_size");
    out_u64(o, p->tree_size);
    out_str(o, ", ");
    out_key(o, "root");
    out_hex(o, p->root, MERKLE_HASH_SIZE);
    out_str(o, ", ");
    out_key(o, "path");
    out_raw(o, "[", 1);
    for (size_t i = 0; i < p->count; i++) {
        if (i > 0) {
            out_str(o, ", ");
        }
        out_hex(o, p->path[i], MERKLE_HASH_SIZE);
    }
    out_str(o, "]}");
}

static void out_event(struct out *o, const struct bundle_event *e)
{
    out_str(o, "{");
    out_key(o, "height");
    out_u64(o, e->height);
    out_str(o, ", ");
    out_key(o, "index");
    out_u64(o, e->index);
    out_str(o, ", ");
    out_key(o, "tx");
    out_hex(o, e->tx, e->tx_len);
    out_str(o, ", ");
    out_key(o, "result");
    out_hex(o, e->result, e->result_len);
    out_str(o, ", ");
    out_key(o, "tx_proof");
    out_proof(o, &e->tx_proof);
    out_str(o, ", ");
    out_key(o, "result_proof");
    out_proof(o, &e->result_proof);
    out_str(o, "}");
}

/* Open array section @sec: an empty one is "[]" on the key's line. */
static void out_array_open(struct out *o, enum section sec, size_t count)
{
    o->sections[sec] = o->len;
    out_str(o, " ");
    out_key(o, section_names[sec]);
    out_str(o, count == 0 ? "[]" : "[\n");
}

static void out_element_end(struct out *o, size_t i, size_t count)
{
    out_str(o, i + 1 < count ? ",\n" : "\n ]");
}

static void out_bundle(struct out *o, const struct bundle *b)
{
    out_str(o, "{\n");
    o->sections[SEC_VERSION] = o->len;
    out_str(o, " ");
    out_key(o, section_names[SEC_VERSION]);
    out_u64(o, BUNDLE_VERSION);
    out_str(o, ",\n");
    o->sections[SEC_CHAIN] = o->len;
    out_str(o, " ");
    out_key(o, section_names[SEC_CHAIN]);
    out_plain(o, b->chain_id);
    out_str(o, ",\n");
    o->sections[SEC_OBJECT] = o->len;
    out_str(o, " ");
    out_key(o, section_names[SEC_OBJECT]);
    out_str(o, "{");
    out_key(o, "kind");
    out_plain(o, bundle_kind_name(b->kind));
    out_str(o, ", ");
    out_key(o, "id");
    out_plain(o, b->id);
    out_str(o, ", ");
    out_key(o, "key");
    out_hex(o, b->key, b->key_len);
    out_str(o, "},\n");
    o->sections[SEC_AS_OF] = o->len;
    out_str(o, " ");
    out_key(o, section_names[SEC_AS_OF]);
    out_str(o, "{");
    out_key(o, "height");
    out_u64(o, b->as_of);
    out_str(o, ", ");
    out_key(o, "head");
    out_hex(o, b->head, CODEC_HASH_SIZE);
    out_str(o, "},\n");

    out_array_open(o, SEC_CHANGES, b->change_count);
    for (size_t i = 0; i < b->change_count; i++) {
        const struct bundle_change *c = &b->changes[i];
        out_str(o, "  {");
        out_key(o, "from_height");
        out_u64(o, c->from_height);
        out_str(o, ", ");
        out_key(o, "keys");
        out_str(o, "[");
        for (size_t k = 0; k < c->count; k++) {
            if (k > 0) {
                out_str(o, ", ");
            }
            out_hex(o, c->keys[k], TDEI_PUBKEY_SIZE);
        }
        out_str(o, "]}");
        out_element_end(o, i, b->change_count);
    }
    out_str(o, ",\n");

    out_array_open(o, SEC_HEADERS, b->header_count);
    for (size_t i = 0; i < b->header_count; i++) {
        const struct bundle_header *h = &b->headers[i];
        out_str(o, "  {");
        out_key(o, "height");
        out_u64(o, h->height);
        out_str(o, ", ");
        out_key(o, "header");
        out_hex(o, h->header, h->header_len);
        out_str(o, ", ");
        out_key(o, "commit");
        out_hex(o, h->commit, h->commit_len);
        out_str(o, "}");
        out_element_end(o, i, b->header_count);
    }
    out_str(o, ",\n");

    out_array_open(o, SEC_EVENTS, b->event_count);
    for (size_t i = 0; i < b->event_count; i++) {
        out_str(o, "  ");
        out_event(o, &b->events[i]);
        out_element_end(o, i, b->event_count);
    }
    out_str(o, "\n}\n");
}

int bundle_encode(const struct bundle *b, char **out, size_t *len)
{
    struct out o = {0};

    *out = NULL;
    *len = 0;
    out_bundle(&o, b);
    if (o.failed) {
        tdei_free(o.data);
        return TDEI_NOMEM;
    }
    *out = o.data;
    *len = o.len;
    return 0;
}

/* ---- decoding ----------------------------------------------------------- */

/* Where a decode is, for messages: "events[3].tx_proof". */
struct path
{
    char text[96];
};

static int bad(char *errmsg, int code, const struct path *at, const char *fmt,
               ...) __attribute__((format(printf, 4, 5)));

static int bad(char *errmsg, int code, const struct path *at, const char *fmt,
               ...)
{
    char what[ERRSZ];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return tdei_errorf(errmsg, ERRSZ, code, "bundle %s: %s", at->text, what);
}

static void path_set(struct path *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void path_set(struct path *p, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(p->text, sizeof(p->text), fmt, ap);
    va_end(ap);
}

/* Check that @obj is an object with exactly the @n keys @keys. */
static int obj_keys(const json_t *obj, const char *const *keys, size_t n,
                    const struct path *at, char *errmsg)
{
    const char *key;
    json_t *value;

    if (!json_is_object(obj)) {
        return bad(errmsg, TDEI_MALFORMED, at, "is not an object");
    }
    for (size_t i = 0; i < n; i++) {
        if (json_object_get(obj, keys[i]) == NULL) {
            return bad(errmsg, TDEI_MALFORMED, at, "has no \"%s\"", keys[i]);
        }
    }
    json_object_foreach((json_t *)(uintptr_t)obj, key, value)
    {
        size_t i = 0;
        (void)value;
        while (i < n && strcmp(keys[i], key) != 0) {
            i++;
        }
        if (i == n) {
            return bad(errmsg, TDEI_MALFORMED, at,
                       "has the unknown field \"%.40s\"", key);
        }
    }
    return 0;
}

/* Read the non-negative integer @key of @obj into @out (at most @max). */
static int get_u64(const json_t *obj, const char *key, uint64_t max,
                   uint64_t *out, const struct path *at, char *errmsg)
{
    const json_t *v = json_object_get(obj, key);
    json_int_t n;

    if (!json_is_integer(v)) {
        return bad(errmsg, TDEI_MALFORMED, at, "\"%s\" is not an integer", key);
    }
    n = json_integer_value(v);
    if (n < 0 || (uint64_t)n > max) {
        return bad(errmsg, TDEI_MALFORMED, at,
                   "\"%s\" is %lld, outside 0-%" PRIu64, key, (long long)n,
                   max);
    }
    *out = (uint64_t)n;
    return 0;
}

/* The string value of @v, or NULL when it is not a string. */
static const char *str_of(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Decode the hex string @v into exactly @n bytes at @out. */
static int get_hash(const json_t *v, uint8_t *out, size_t n, const char *what,
                    const struct path *at, char *errmsg)
{
    const char *s = str_of(v);

    if (s == NULL || !hex_lower(s, 2 * n) || tdei_hex_decode(out, n, s) != 0) {
        return bad(errmsg, TDEI_MALFORMED, at,
                   "%s is not %zu lower-case hex digits", what, 2 * n);
    }
    return 0;
}

/* Decode the hex string @key of @obj into new memory (1..@max bytes). */
static int get_bytes(const json_t *obj, const char *key, size_t max,
                     uint8_t **out, size_t *len, const struct path *at,
                     char *errmsg)
{
    const char *s = str_of(json_object_get(obj, key));
    size_t digits;
    size_t got;

    *out = NULL;
    *len = 0;
    if (s == NULL) {
        return bad(errmsg, TDEI_MALFORMED, at, "\"%s\" is not a string", key);
    }
    digits = json_string_length(json_object_get(obj, key));
    if (digits == 0 || digits % 2 != 0 || !hex_lower(s, digits)) {
        return bad(errmsg, TDEI_MALFORMED, at,
                   "\"%s\" is not a non-empty even run of lower-case hex "
                   "digits",
                   key);
    }
    if (digits / 2 > max) {
        return bad(errmsg, TDEI_TOOBIG, at,
                   "\"%s\" holds %zu bytes; at most %zu are taken", key,
                   digits / 2, max);
    }
    *out = tdei_malloc(digits / 2);
    if (*out == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                           "no memory for %zu bytes of %s", digits / 2, key);
    }
    if (tdei_hex_decode_var(*out, digits / 2, &got, s) != 0) {
        tdei_free(*out);
        *out = NULL;
        return bad(errmsg, TDEI_MALFORMED, at, "\"%s\" is not hex", key);
    }
    *len = got;
    return 0;
}

/* The array @key of @obj, with at most @max elements. */
static int get_array(const json_t *obj, const char *key, size_t max,
                     const json_t **out, const struct path *at, char *errmsg)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_array(v)) {
        return bad(errmsg, TDEI_MALFORMED, at, "\"%s\" is not an array", key);
    }
    if (json_array_size(v) > max) {
        return bad(errmsg, TDEI_TOOBIG, at,
                   "\"%s\" has %zu elements; at most %zu are taken", key,
                   json_array_size(v), max);
    }
    *out = v;
    return 0;
}

static int decode_proof(const json_t *obj, struct bundle_proof *p,
                        const struct path *at, char *errmsg)
{
    static const char *const keys[] = {"type",      "leaf_hash", "leaf_index",
                                       "tree_size", "root",      "path"};
    const char *type;
    const json_t *path;
    int rc = obj_keys(obj, keys, 6, at, errmsg);

    if (rc != 0) {
        return rc;
    }
    type = str_of(json_object_get(obj, "type"));
    if (type == NULL || strcmp(type, "inclusion") != 0) {
        return bad(errmsg, TDEI_MALFORMED, at, "\"type\" is not \"inclusion\"");
    }
    rc = get_hash(json_object_get(obj, "leaf_hash"), p->leaf_hash,
                  MERKLE_HASH_SIZE, "\"leaf_hash\"", at, errmsg);
    if (rc == 0) {
        rc = get_u64(obj, "tree_size", BUNDLE_TREE_SIZE_MAX, &p->tree_size, at,
                     errmsg);
    }
    if (rc == 0) {
        rc = get_u64(obj, "leaf_index", BUNDLE_TREE_SIZE_MAX, &p->leaf_index,
                     at, errmsg);
    }
    if (rc == 0) {
        rc = get_hash(json_object_get(obj, "root"), p->root, MERKLE_HASH_SIZE,
                      "\"root\"", at, errmsg);
    }
    if (rc == 0) {
        rc = get_array(obj, "path", MERKLE_INCLUSION_MAX, &path, at, errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    p->count = json_array_size(path);
    if (p->count > 0) {
        p->path = tdei_calloc(p->count, MERKLE_HASH_SIZE);
        if (p->path == NULL) {
            p->count = 0;
            return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                               "no memory for a proof path");
        }
    }
    for (size_t i = 0; i < p->count; i++) {
        char what[32];
        (void)snprintf(what, sizeof(what), "\"path\"[%zu]", i);
        rc = get_hash(json_array_get(path, i), p->path[i], MERKLE_HASH_SIZE,
                      what, at, errmsg);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int decode_event(const json_t *obj, size_t i, struct bundle_event *e,
                        char *errmsg)
{
    static const char *const keys[] = {"height", "index",    "tx",
                                       "result", "tx_proof", "result_proof"};
    struct path at;
    uint64_t index;
    int rc;

    path_set(&at, "events[%zu]", i);
    rc = obj_keys(obj, keys, 6, &at, errmsg);
    if (rc == 0) {
        rc = get_u64(obj, "height", INT64_MAX, &e->height, &at, errmsg);
    }
    if (rc == 0) {
        rc = get_u64(obj, "index", BUNDLE_TREE_SIZE_MAX, &index, &at, errmsg);
        e->index = (uint32_t)index;
    }
    if (rc == 0) {
        rc = get_bytes(obj, "tx", BUNDLE_TX_SIZE_MAX, &e->tx, &e->tx_len, &at,
                       errmsg);
    }
    if (rc == 0) {
        rc = get_bytes(obj, "result", CODEC_RESULT_SIZE_MAX, &e->result,
                       &e->result_len, &at, errmsg);
    }
    if (rc == 0) {
        path_set(&at, "events[%zu].tx_proof", i);
        rc = decode_proof(json_object_get(obj, "tx_proof"), &e->tx_proof, &at,
                          errmsg);
    }
    if (rc == 0) {
        path_set(&at, "events[%zu].result_proof", i);
        rc = decode_proof(json_object_get(obj, "result_proof"),
                          &e->result_proof, &at, errmsg);
    }
    return rc;
}

static int decode_header(const json_t *obj, size_t i, struct bundle_header *h,
                         char *errmsg)
{
    static const char *const keys[] = {"height", "header", "commit"};
    struct path at;
    int rc;

    path_set(&at, "headers[%zu]", i);
    rc = obj_keys(obj, keys, 3, &at, errmsg);
    if (rc == 0) {
        rc = get_u64(obj, "height", INT64_MAX, &h->height, &at, errmsg);
    }
    if (rc == 0) {
        rc = get_bytes(obj, "header", CODEC_HEADER_SIZE_MAX, &h->header,
                       &h->header_len, &at, errmsg);
    }
    if (rc == 0) {
        rc = get_bytes(obj, "commit",
                       CODEC_COMMIT_SIZE_MAX(BUNDLE_VALIDATORS_MAX), &h->commit,
                       &h->commit_len, &at, errmsg);
    }
    return rc;
}

static int decode_change(const json_t *obj, size_t i, struct bundle_change *c,
                         char *errmsg)
{
    static const char *const keys[] = {"from_height", "keys"};
    const json_t *arr;
    struct path at;
    int rc;

    path_set(&at, "validator_changes[%zu]", i);
    rc = obj_keys(obj, keys, 2, &at, errmsg);
    if (rc == 0) {
        rc = get_u64(obj, "from_height", INT64_MAX, &c->from_height, &at,
                     errmsg);
    }
    if (rc == 0) {
        rc = get_array(obj, "keys", BUNDLE_VALIDATORS_MAX, &arr, &at, errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    if (json_array_size(arr) == 0) {
        return bad(errmsg, TDEI_MALFORMED, &at,
                   "\"keys\" is empty; a set has 1 validator or more");
    }
    c->keys = tdei_calloc(json_array_size(arr), TDEI_PUBKEY_SIZE);
    if (c->keys == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                           "no memory for a validator set");
    }
    c->count = json_array_size(arr);
    for (size_t k = 0; k < c->count; k++) {
        char what[32];
        (void)snprintf(what, sizeof(what), "\"keys\"[%zu]", k);
        rc = get_hash(json_array_get(arr, k), c->keys[k], TDEI_PUBKEY_SIZE,
                      what, &at, errmsg);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int decode_object(const json_t *root, struct bundle *b, char *errmsg)
{
    static const char *const keys[] = {"kind", "id", "key"};
    const json_t *obj = json_object_get(root, "object");
    struct path at;
    const char *kind;
    const char *id;
    const char *key_text;
    uint8_t key[CODEC_OBJECT_KEY_MAX];
    char why[ERRSZ];
    size_t len;
    int rc;

    path_set(&at, "object");
    rc = obj_keys(obj, keys, 3, &at, errmsg);
    if (rc != 0) {
        return rc;
    }
    kind = str_of(json_object_get(obj, "kind"));
    id = str_of(json_object_get(obj, "id"));
    if (kind == NULL || bundle_kind_parse(kind, &b->kind) != 0) {
        return bad(errmsg, TDEI_MALFORMED, &at,
                   "\"kind\" is not dataset, stream, exchange or member");
    }
    if (id == NULL || strlen(id) > BUNDLE_ID_MAX ||
        bundle_object_key(b->kind, id, key, &len, why) != 0) {
        return bad(errmsg, TDEI_MALFORMED, &at, "\"id\" is not a %s id", kind);
    }
    (void)snprintf(b->id, sizeof(b->id), "%s", id);
    /* Read as given; bundle_verify checks it against kind and id. */
    key_text = str_of(json_object_get(obj, "key"));
    len = key_text != NULL ? strlen(key_text) : 0;
    if (len == 0 || len % 2 != 0 || len > 2 * CODEC_OBJECT_KEY_MAX ||
        !hex_lower(key_text, len) ||
        tdei_hex_decode_var(b->key, sizeof(b->key), &b->key_len, key_text)) {
        return bad(errmsg, TDEI_MALFORMED, &at,
                   "\"key\" is not 1-%u bytes in lower-case hex",
                   CODEC_OBJECT_KEY_MAX);
    }
    return rc;
}

/* Decode the top level of @root into @b. */
static int decode_root(const json_t *root, struct bundle *b, char *errmsg)
{
    static const char *const keys[] = {
        "tdei_bundle",       "chain_id", "object", "as_of",
        "validator_changes", "headers",  "events"};
    static const char *const as_of_keys[] = {"height", "head"};
    const json_t *arr;
    const char *chain;
    struct path at;
    uint64_t version;
    int rc;

    path_set(&at, "top level");
    rc = obj_keys(root, keys, 7, &at, errmsg);
    if (rc == 0) {
        rc = get_u64(root, "tdei_bundle", UINT32_MAX, &version, &at, errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    if (version != BUNDLE_VERSION) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_VERSION,
                           "bundle format version %" PRIu64
                           " is not %u, the one this tdei reads; use the "
                           "tdei that wrote it",
                           version, BUNDLE_VERSION);
    }
    chain = str_of(json_object_get(root, "chain_id"));
    if (chain == NULL || tdei_chain_id_check(chain) != 0) {
        return bad(errmsg, TDEI_MALFORMED, &at,
                   "\"chain_id\" is not 1-64 bytes of [a-z0-9-]");
    }
    (void)snprintf(b->chain_id, sizeof(b->chain_id), "%s", chain);
    rc = decode_object(root, b, errmsg);
    if (rc != 0) {
        return rc;
    }
    path_set(&at, "as_of");
    rc = obj_keys(json_object_get(root, "as_of"), as_of_keys, 2, &at, errmsg);
    if (rc == 0) {
        rc = get_u64(json_object_get(root, "as_of"), "height", INT64_MAX,
                     &b->as_of, &at, errmsg);
    }
    if (rc == 0) {
        rc = get_hash(json_object_get(json_object_get(root, "as_of"), "head"),
                      b->head, CODEC_HASH_SIZE, "\"head\"", &at, errmsg);
    }
    path_set(&at, "top level");
    if (rc == 0) {
        rc = get_array(root, "validator_changes", BUNDLE_CHANGES_MAX, &arr, &at,
                       errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    b->change_count = json_array_size(arr);
    b->changes = tdei_calloc(b->change_count + 1, sizeof(*b->changes));
    if (b->changes == NULL) {
        b->change_count = 0;
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM, "no memory for changes");
    }
    for (size_t i = 0; rc == 0 && i < b->change_count; i++) {
        rc = decode_change(json_array_get(arr, i), i, &b->changes[i], errmsg);
    }
    if (rc == 0) {
        rc = get_array(root, "headers", BUNDLE_HEADERS_MAX, &arr, &at, errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    b->header_count = json_array_size(arr);
    b->headers = tdei_calloc(b->header_count + 1, sizeof(*b->headers));
    if (b->headers == NULL) {
        b->header_count = 0;
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM, "no memory for headers");
    }
    for (size_t i = 0; rc == 0 && i < b->header_count; i++) {
        rc = decode_header(json_array_get(arr, i), i, &b->headers[i], errmsg);
    }
    if (rc == 0) {
        rc = get_array(root, "events", BUNDLE_EVENTS_MAX, &arr, &at, errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    b->event_count = json_array_size(arr);
    b->events = tdei_calloc(b->event_count + 1, sizeof(*b->events));
    if (b->events == NULL) {
        b->event_count = 0;
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM, "no memory for events");
    }
    for (size_t i = 0; rc == 0 && i < b->event_count; i++) {
        rc = decode_event(json_array_get(arr, i), i, &b->events[i], errmsg);
    }
    return rc;
}

/* Name the first byte where @text and the canonical text @canon differ. */
static int not_canonical(const char *text, size_t len, const struct out *canon,
                         char *errmsg)
{
    size_t at = 0;
    size_t line = 1;
    size_t line_start = 0;
    int sec = 0;

    while (at < len && at < canon->len && text[at] == canon->data[at]) {
        if (text[at] == '\n') {
            line++;
            line_start = at + 1;
        }
        at++;
    }
    for (int s = 0; s < SEC_COUNT; s++) {
        if (canon->sections[s] <= at) {
            sec = s;
        }
    }
    return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                       "bundle byte %zu (line %zu, column %zu, in \"%s\") is "
                       "not where tdei audit writes it: the text is not the "
                       "canonical form of what it holds, so it was changed "
                       "after it was written",
                       at, line, at - line_start + 1, section_names[sec]);
}

/* ---- the canonical reader -------------------------------------------------
 *
 * A bundle that tdei audit wrote is read in one pass over its bytes, each
 * token where the canonical form puts it, with the same value checks as
 * the JSON path below. Anything else (other text, or a value a check
 * refuses) makes it give up; bundle_decode then reads the text as JSON
 * to say what is wrong. Both accept exactly the canonical text of a
 * valid bundle. */

struct scan
{
    const char *p;   /* next byte */
    const char *end; /* one past the last */
};

static int lit(struct scan *s, const char *text)
{
    size_t n = strlen(text);

    if ((size_t)(s->end - s->p) < n || memcmp(s->p, text, n) != 0) {
        return -1;
    }
    s->p += n;
    return 0;
}

/* Peek whether @text comes next (without taking it). */
static int next_is(const struct scan *s, const char *text)
{
    size_t n = strlen(text);

    return (size_t)(s->end - s->p) >= n && memcmp(s->p, text, n) == 0;
}

/* A decimal without a leading zero (but "0"), at most @max. */
static int num(struct scan *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    const char *start = s->p;

    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        unsigned d = (unsigned)(*s->p - '0');
        if (v > (UINT64_MAX - d) / 10u) {
            return -1;
        }
        v = v * 10u + d;
        s->p++;
    }
    if (s->p == start || (*start == '0' && s->p - start > 1) || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* The run of lower-case hex digits up to the next '"', its length in
 * *digits (the quote not taken). */
static int hex_run(const struct scan *s, size_t *digits)
{
    const char *q = s->p;

    while (q < s->end && hex_val(*q) >= 0) {
        q++;
    }
    if (q == s->end || *q != '"') {
        return -1;
    }
    *digits = (size_t)(q - s->p);
    return 0;
}

static void hex_take(struct scan *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] =
            (uint8_t)(hex_val(s->p[2 * i]) << 4 | hex_val(s->p[2 * i + 1]));
    }
    s->p += 2 * n;
}

/* "<exactly 2n hex digits>" */
static int hex_fixed(struct scan *s, uint8_t *out, size_t n)
{
    size_t digits;

    if (lit(s, "\"") != 0 || hex_run(s, &digits) != 0 || digits != 2 * n) {
        return -1;
    }
    hex_take(s, out, n);
    return lit(s, "\"");
}

/* "<1..max bytes in hex>" into new memory. */
static int hex_alloc(struct scan *s, size_t max, uint8_t **out, size_t *len)
{
    size_t digits;

    if (lit(s, "\"") != 0 || hex_run(s, &digits) != 0 || digits == 0 ||
        digits % 2 != 0 || digits / 2 > max) {
        return -1;
    }
    *out = tdei_malloc(digits / 2);
    if (*out == NULL) {
        return -1;
    }
    *len = digits / 2;
    hex_take(s, *out, digits / 2);
    return lit(s, "\"");
}

/* "<[a-z0-9-], 1..cap-1 of them>" */
static int plain(struct scan *s, char *out, size_t cap)
{
    size_t n = 0;

    if (lit(s, "\"") != 0) {
        return -1;
    }
    while (s->p < s->end && *s->p != '"') {
        char c = *s->p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') ||
            n + 1 >= cap) {
            return -1;
        }
        out[n++] = c;
        s->p++;
    }
    out[n] = '\0';
    return n == 0 ? -1 : lit(s, "\"");
}

/* Make room for element @count of an array of @size-byte elements. */
static int grow(void **arr, size_t *cap, size_t count, size_t size, size_t max)
{
    void *p;
    size_t want;

    if (count < *cap) {
        return 0;
    }
    if (count >= max) {
        return -1;
    }
    want = *cap == 0 ? 16 : *cap * 2;
    if (want > max) {
        want = max;
    }
    p = tdei_realloc(*arr, want * size);
    if (p == NULL) {
        return -1;
    }
    memset((char *)p + *cap * size, 0, (want - *cap) * size);
    *arr = p;
    *cap = want;
    return 0;
}

static int scan_proof(struct scan *s, struct bundle_proof *p)
{
    size_t cap = 0;
    void *path = NULL;

    if (lit(s, "{\"type\": \"inclusion\", \"leaf_hash\": ") != 0 ||
        hex_fixed(s, p->leaf_hash, MERKLE_HASH_SIZE) != 0 ||
        lit(s, ", \"leaf_index\": ") != 0 ||
        num(s, BUNDLE_TREE_SIZE_MAX, &p->leaf_index) != 0 ||
        lit(s, ", \"tree_size\": ") != 0 ||
        num(s, BUNDLE_TREE_SIZE_MAX, &p->tree_size) != 0 ||
        lit(s, ", \"root\": ") != 0 ||
        hex_fixed(s, p->root, MERKLE_HASH_SIZE) != 0 ||
        lit(s, ", \"path\": [") != 0) {
        return -1;
    }
    while (!next_is(s, "]")) {
        if ((p->count > 0 && lit(s, ", ") != 0) ||
            grow(&path, &cap, p->count, MERKLE_HASH_SIZE,
                 MERKLE_INCLUSION_MAX) != 0) {
            p->path = path;
            return -1;
        }
        p->path = path;
        if (hex_fixed(s, p->path[p->count], MERKLE_HASH_SIZE) != 0) {
            return -1;
        }
        p->count++;
    }
    p->path = path;
    return lit(s, "]}");
}

static int scan_event(struct scan *s, struct bundle_event *e)
{
    uint64_t index;

    if (lit(s, "  {\"height\": ") != 0 || num(s, INT64_MAX, &e->height) != 0 ||
        lit(s, ", \"index\": ") != 0 ||
        num(s, BUNDLE_TREE_SIZE_MAX, &index) != 0 ||
        lit(s, ", \"tx\": ") != 0 ||
        hex_alloc(s, BUNDLE_TX_SIZE_MAX, &e->tx, &e->tx_len) != 0 ||
        lit(s, ", \"result\": ") != 0 ||
        hex_alloc(s, CODEC_RESULT_SIZE_MAX, &e->result, &e->result_len) != 0 ||
        lit(s, ", \"tx_proof\": ") != 0 || scan_proof(s, &e->tx_proof) != 0 ||
        lit(s, ", \"result_proof\": ") != 0 ||
        scan_proof(s, &e->result_proof) != 0) {
        return -1;
    }
    e->index = (uint32_t)index;
    return lit(s, "}");
}

static int scan_header(struct scan *s, struct bundle_header *h)
{
    if (lit(s, "  {\"height\": ") != 0 || num(s, INT64_MAX, &h->height) != 0 ||
        lit(s, ", \"header\": ") != 0 ||
        hex_alloc(s, CODEC_HEADER_SIZE_MAX, &h->header, &h->header_len) != 0 ||
        lit(s, ", \"commit\": ") != 0 ||
        hex_alloc(s, CODEC_COMMIT_SIZE_MAX(BUNDLE_VALIDATORS_MAX), &h->commit,
                  &h->commit_len) != 0) {
        return -1;
    }
    return lit(s, "}");
}

static int scan_change(struct scan *s, struct bundle_change *c)
{
    size_t cap = 0;
    void *keys = NULL;

    if (lit(s, "  {\"from_height\": ") != 0 ||
        num(s, INT64_MAX, &c->from_height) != 0 ||
        lit(s, ", \"keys\": [") != 0) {
        return -1;
    }
    while (!next_is(s, "]")) {
        if ((c->count > 0 && lit(s, ", ") != 0) ||
            grow(&keys, &cap, c->count, TDEI_PUBKEY_SIZE,
                 BUNDLE_VALIDATORS_MAX) != 0) {
            c->keys = keys;
            return -1;
        }
        c->keys = keys;
        if (hex_fixed(s, c->keys[c->count], TDEI_PUBKEY_SIZE) != 0) {
            return -1;
        }
        c->count++;
    }
    c->keys = keys;
    return c->count == 0 ? -1 : lit(s, "]}");
}

/* " "name": [" then elements (each by @one) separated by ",\n", then
 * "\n ]", or "[]". */
static int scan_array(struct scan *s, const char *name, void **arr,
                      size_t *count, size_t size, size_t max,
                      int (*one)(struct scan *s, void *elem))
{
    size_t cap = 0;
    char head[48];

    (void)snprintf(head, sizeof(head), " \"%s\": ", name);
    if (lit(s, head) != 0) {
        return -1;
    }
    if (lit(s, "[]") == 0) {
        return 0;
    }
    if (lit(s, "[\n") != 0) {
        return -1;
    }
    for (;;) {
        if (grow(arr, &cap, *count, size, max) != 0) {
            return -1;
        }
        /* Counted before it is read: bundle_free frees what it holds. */
        (*count)++;
        if (one(s, (char *)*arr + (*count - 1) * size) != 0) {
            return -1;
        }
        if (lit(s, "\n ]") == 0) {
            return 0;
        }
        if (lit(s, ",\n") != 0) {
            return -1;
        }
    }
}

static int scan_event_cb(struct scan *s, void *e) { return scan_event(s, e); }

static int scan_header_cb(struct scan *s, void *h) { return scan_header(s, h); }

static int scan_change_cb(struct scan *s, void *c) { return scan_change(s, c); }

/* Read @text in its canonical form into @b. Returns 0, or -1 when it is
 * not exactly the canonical text of a valid bundle (then @b holds what
 * was read: free it). */
static int scan_bundle(struct bundle *b, const char *text, size_t len)
{
    struct scan s = {.p = text, .end = text + len};
    char kind[16];
    char why[ERRSZ];
    uint64_t version;
    size_t digits;
    uint8_t key[CODEC_OBJECT_KEY_MAX];
    size_t key_len;

    if (lit(&s, "{\n \"tdei_bundle\": ") != 0 ||
        num(&s, UINT32_MAX, &version) != 0 || version != BUNDLE_VERSION ||
        lit(&s, ",\n \"chain_id\": ") != 0 ||
        plain(&s, b->chain_id, sizeof(b->chain_id)) != 0 ||
        tdei_chain_id_check(b->chain_id) != 0 ||
        lit(&s, ",\n \"object\": {\"kind\": ") != 0 ||
        plain(&s, kind, sizeof(kind)) != 0 ||
        bundle_kind_parse(kind, &b->kind) != 0 || lit(&s, ", \"id\": ") != 0 ||
        plain(&s, b->id, sizeof(b->id)) != 0 ||
        bundle_object_key(b->kind, b->id, key, &key_len, why) != 0 ||
        lit(&s, ", \"key\": \"") != 0 || hex_run(&s, &digits) != 0 ||
        digits == 0 || digits % 2 != 0 || digits > 2 * CODEC_OBJECT_KEY_MAX) {
        return -1;
    }
    b->key_len = digits / 2;
    hex_take(&s, b->key, b->key_len);
    if (lit(&s, "\"},\n \"as_of\": {\"height\": ") != 0 ||
        num(&s, INT64_MAX, &b->as_of) != 0 || lit(&s, ", \"head\": ") != 0 ||
        hex_fixed(&s, b->head, CODEC_HASH_SIZE) != 0 || lit(&s, "},\n") != 0 ||
        scan_array(&s, "validator_changes", (void **)&b->changes,
                   &b->change_count, sizeof(*b->changes), BUNDLE_CHANGES_MAX,
                   scan_change_cb) != 0 ||
        lit(&s, ",\n") != 0 ||
        scan_array(&s, "headers", (void **)&b->headers, &b->header_count,
                   sizeof(*b->headers), BUNDLE_HEADERS_MAX,
                   scan_header_cb) != 0 ||
        lit(&s, ",\n") != 0 ||
        scan_array(&s, "events", (void **)&b->events, &b->event_count,
                   sizeof(*b->events), BUNDLE_EVENTS_MAX, scan_event_cb) != 0 ||
        lit(&s, "\n}\n") != 0 || s.p != s.end) {
        return -1;
    }
    return 0;
}

int bundle_decode(struct bundle *b, const char *text, size_t len, char *errmsg)
{
    json_error_t jerr;
    json_t *root;
    struct out canon = {0};
    int rc;

    memset(b, 0, sizeof(*b));
    if (len > BUNDLE_TEXT_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "bundle is %zu bytes; at most %u are taken", len,
                           BUNDLE_TEXT_MAX);
    }
    if (scan_bundle(b, text, len) == 0) {
        return 0;
    }
    /* Not canonical, or a value refused: read it as JSON to say what. */
    bundle_free(b);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "bundle is not JSON: %s at line %d, column %d",
                           jerr.text, jerr.line, jerr.column);
    }
    rc = decode_root(root, b, errmsg);
    json_decref(root);
    if (rc == 0) {
        out_bundle(&canon, b);
        if (canon.failed) {
            rc = tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                             "no memory to check the bundle's form");
        } else if (canon.len != len || memcmp(canon.data, text, len) != 0) {
            rc = not_canonical(text, len, &canon, errmsg);
        }
        tdei_free(canon.data);
    }
    if (rc != 0) {
        bundle_free(b);
    }
    return rc;
}

/* ---- verification ------------------------------------------------------- */

/* A validator set with its root. */
struct vset
{
    struct cons_vset set;
    uint8_t root[MERKLE_HASH_SIZE];
};

/* The RFC 6962 root over @n keys (leaf = the key). */
static void keys_root(uint8_t root[MERKLE_HASH_SIZE],
                      const uint8_t (*keys)[TDEI_PUBKEY_SIZE], size_t n)
{
    uint8_t leaves[BUNDLE_VALIDATORS_MAX][MERKLE_HASH_SIZE];

    TDEI_ASSERT(n <= BUNDLE_VALIDATORS_MAX);
    for (size_t i = 0; i < n; i++) {
        merkle_leaf_hash(leaves[i], keys[i], TDEI_PUBKEY_SIZE);
    }
    merkle_root(root, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves, n);
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, TDEI_PUBKEY_SIZE);
}

/* The set of height 1: genesis's validators by node key. */
static int genesis_vset(struct vset *out, const struct genesis *g, char *errmsg)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < g->member_count; i++) {
        if (!g->members[i].validator) {
            continue;
        }
        if (out->set.n == BUNDLE_VALIDATORS_MAX) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                               "genesis names more than %u validators",
                               BUNDLE_VALIDATORS_MAX);
        }
        memcpy(out->set.keys[out->set.n++], g->members[i].node_key,
               TDEI_PUBKEY_SIZE);
    }
    if (out->set.n == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "genesis names no validator");
    }
    qsort(out->set.keys, out->set.n, TDEI_PUBKEY_SIZE, key_cmp);
    keys_root(out->root, (const uint8_t(*)[TDEI_PUBKEY_SIZE])out->set.keys,
              out->set.n);
    return 0;
}

static void change_vset(struct vset *out, const struct bundle_change *c)
{
    memset(out, 0, sizeof(*out));
    out->set.n = c->count;
    memcpy(out->set.keys, c->keys, c->count * TDEI_PUBKEY_SIZE);
    keys_root(out->root, (const uint8_t(*)[TDEI_PUBKEY_SIZE])c->keys, c->count);
}

const struct bundle_header *bundle_header_find(const struct bundle *b,
                                               uint64_t height)
{
    size_t lo = 0;
    size_t hi = b->header_count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->headers[mid].height < height) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < b->header_count && b->headers[lo].height == height
               ? &b->headers[lo]
               : NULL;
}

/* The index of the header of @height in @b, or -1. */
static long header_find(const struct bundle *b, uint64_t height)
{
    const struct bundle_header *h = bundle_header_find(b, height);

    return h != NULL ? (long)(h - b->headers) : -1;
}

static int hash_eq(const ProtobufCBinaryData *field,
                   const uint8_t want[CODEC_HASH_SIZE])
{
    return field->len == CODEC_HASH_SIZE &&
           memcmp(field->data, want, CODEC_HASH_SIZE) == 0;
}

static const char *hex8(char out[17], const uint8_t *data)
{
    return tdei_hex_encode(out, 17, data, 8);
}

/* The decoded headers of a bundle, with their ids, commits and the set
 * that must sign each. */
struct hdr
{
    Tdei__Header *h;
    uint8_t id[CODEC_HASH_SIZE];
    Tdei__Commit *commit;
    size_t changes; /* changes in force at its height: the set is
                       genesis's when 0, else changes[changes - 1] */
    int commit_rc;  /* votes_commit_verify's answer (signature phase) */
};

/* Check the validator changes alone: ascending, at least height 2, keys
 * strictly ascending, each announced by a header in the bundle. */
static int changes_check(const struct bundle *b, char *errmsg)
{
    for (size_t i = 0; i < b->change_count; i++) {
        const struct bundle_change *c = &b->changes[i];
        if (c->from_height < 2 ||
            (i > 0 && c->from_height <= b->changes[i - 1].from_height)) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "bundle validator_changes[%zu]: from height "
                               "%" PRIu64 " is not above 1 and above the "
                               "previous change's",
                               i, c->from_height);
        }
        for (size_t k = 1; k < c->count; k++) {
            if (memcmp(c->keys[k - 1], c->keys[k], TDEI_PUBKEY_SIZE) >= 0) {
                return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                                   "bundle validator_changes[%zu]: keys are "
                                   "not strictly ascending at key %zu",
                                   i, k);
            }
        }
        if (header_find(b, c->from_height - 1) < 0) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_BADPROOF,
                               "bundle validator_changes[%zu] (from height "
                               "%" PRIu64 "): header %" PRIu64
                               ", which announces it, is not in the bundle",
                               i, c->from_height, c->from_height - 1);
        }
    }
    return 0;
}

/* Check header @j of @b (decoded into hdrs[j], with its commit) under the
 * sets that the changes up to it give, all but the commit's signatures
 * and quorum (commit_verify). @ci: changes in force at the previous
 * header, @cur: the set in force there (genesis's before any change);
 * both are moved on to this header's height. */
static int header_check(const struct bundle *b, size_t j, struct hdr *hdrs,
                        size_t *ci, struct vset *cur, struct bundle_report *rep,
                        char *errmsg)
{
    const struct bundle_header *bh = &b->headers[j];
    Tdei__Commit *commit = NULL;
    struct vset next;
    char why[ERRSZ] = "";
    char a[17];
    char c[17];
    uint64_t h = bh->height;
    int rc;

    if (j > 0 && h <= b->headers[j - 1].height) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "bundle headers[%zu]: height %" PRIu64
                           " is not above the previous header's %" PRIu64,
                           j, h, b->headers[j - 1].height);
    }
    rc = codec_header_decode(&hdrs[j].h, bh->header, bh->header_len, why);
    if (rc == 0) {
        rc = codec_commit_decode(&commit, bh->commit, bh->commit_len,
                                 &bundle_limits, why);
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc,
                           "bundle headers[%zu] (height %" PRIu64 "): %s", j, h,
                           why);
    }
    codec_block_id(hdrs[j].id, bh->header, bh->header_len);
    if (hdrs[j].h->height != h || strcmp(hdrs[j].h->chain_id, b->chain_id)) {
        rc = tdei_errorf(
            errmsg, ERRSZ, TDEI_MALFORMED,
            "bundle headers[%zu]: the header is of height "
            "%" PRIu64 " on chain %s, not height %" PRIu64 " on chain %s",
            j, hdrs[j].h->height, hdrs[j].h->chain_id, h, b->chain_id);
    } else if (commit->height != h || !hash_eq(&commit->block_id, hdrs[j].id)) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_BADPROOF,
                         "bundle headers[%zu] (height %" PRIu64
                         "): the commit is for block %s.. at height %" PRIu64
                         ", but the header hashes to block %s..",
                         j, h,
                         commit->block_id.len == CODEC_HASH_SIZE
                             ? hex8(a, commit->block_id.data)
                             : "?",
                         commit->height, hex8(c, hdrs[j].id));
    } else if (j > 0 && b->headers[j - 1].height == h - 1 &&
               !hash_eq(&hdrs[j].h->last_block_id, hdrs[j - 1].id)) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_BADPROOF,
                         "bundle headers[%zu] (height %" PRIu64
                         "): last_block_id is not the id of header %" PRIu64
                         " (%s..): the headers do not chain",
                         j, h, h - 1, hex8(a, hdrs[j - 1].id));
    } else if (j > 0 && hdrs[j].h->time_ms <= hdrs[j - 1].h->time_ms) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_BADPROOF,
                         "bundle headers[%zu] (height %" PRIu64
                         "): time %" PRIu64 " is not after the time of "
                         "height %" PRIu64,
                         j, h, hdrs[j].h->time_ms, b->headers[j - 1].height);
    }
    if (rc != 0) {
        codec_commit_free(commit);
        return rc;
    }
    /* The set of height h: the last change in force by h. Each change was
     * announced by header from - 1, verified before this one. */
    while (*ci < b->change_count && b->changes[*ci].from_height <= h) {
        change_vset(cur, &b->changes[*ci]);
        (*ci)++;
        rep->changes++;
    }
    if (*ci < b->change_count && b->changes[*ci].from_height == h + 1) {
        change_vset(&next, &b->changes[*ci]);
    } else {
        next = *cur;
    }
    if (!hash_eq(&hdrs[j].h->validators_hash, cur->root)) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_BADPROOF,
                         "bundle headers[%zu] (height %" PRIu64
                         "): validators_hash is %s.., but the set the bundle "
                         "gives for this height (genesis and %zu changes) "
                         "hashes to %s..: a validator-set change is missing "
                         "or forged",
                         j, h, hex8(a, hdrs[j].h->validators_hash.data), *ci,
                         hex8(c, cur->root));
    } else if (!hash_eq(&hdrs[j].h->next_validators_hash, next.root)) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_BADPROOF,
                         "bundle headers[%zu] (height %" PRIu64
                         "): next_validators_hash is %s.., but the set the "
                         "bundle gives for height %" PRIu64
                         " hashes to %s..: the change it announces is "
                         "missing or forged",
                         j, h, hex8(a, hdrs[j].h->next_validators_hash.data),
                         h + 1, hex8(c, next.root));
    }
    hdrs[j].changes = *ci;
    hdrs[j].commit = commit; /* freed with hdrs */
    return rc;
}

/* The set that signs header @j's commit. */
static void header_set(const struct bundle *b, const struct hdr *hd,
                       const struct vset *genesis_set, struct vset *out)
{
    if (hd->changes == 0) {
        *out = *genesis_set;
    } else {
        change_vset(out, &b->changes[hd->changes - 1]);
    }
}

/* Verify the commit of header @j (quorum and every signature) and say
 * what failed. */
static int commit_verify(const struct bundle *b, size_t j,
                         const struct hdr *hdrs, const struct vset *genesis_set,
                         struct vset *scratch, char *errmsg)
{
    char why[ERRSZ] = "";
    int rc;

    header_set(b, &hdrs[j], genesis_set, scratch);
    rc = votes_commit_verify(hdrs[j].commit, b->chain_id, &scratch->set, why);
    if (rc != 0) {
        rc = tdei_errorf(errmsg, ERRSZ, rc,
                         "bundle headers[%zu] (height %" PRIu64
                         "): the commit does not hold: %s",
                         j, b->headers[j].height, why);
    }
    return rc;
}

/* Verify @p, a proof of the leaf @leaf (@len bytes) at @index under the
 * header field @root. */
static int proof_verify(const struct bundle_proof *p, const uint8_t *leaf,
                        size_t len, uint32_t index,
                        const ProtobufCBinaryData *root, const char *what,
                        size_t i, const struct bundle_event *e, char *errmsg)
{
    uint8_t leaf_hash[MERKLE_HASH_SIZE];
    const char *why = NULL;

    merkle_leaf_hash(leaf_hash, leaf, len);
    if (memcmp(leaf_hash, p->leaf_hash, MERKLE_HASH_SIZE) != 0) {
        why = "leaf_hash is not SHA256(0x00 || the leaf bytes)";
    } else if (p->leaf_index != index) {
        why = "leaf_index is not the event's index";
    } else if (!hash_eq(root, p->root)) {
        why = "root is not the header's root";
    } else if (merkle_inclusion_verify(
                   p->leaf_hash, p->leaf_index, p->tree_size,
                   (const uint8_t(*)[MERKLE_HASH_SIZE])p->path, p->count,
                   p->root) != 0) {
        why = "the audit path does not lead from the leaf to the root";
    }
    if (why != NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_BADPROOF,
                           "bundle events[%zu] (height %" PRIu64
                           ", index %u): %s: %s",
                           i, e->height, e->index, what, why);
    }
    return 0;
}

/* A few parsed signer keys, so that a key seen again is not lifted onto
 * the curve again. */
#define KEY_CACHE 32
struct key_cache
{
    uint8_t keys[KEY_CACHE][TDEI_PUBKEY_SIZE];
    struct tdei_pubkey_parsed parsed[KEY_CACHE];
    size_t count;
    size_t next; /* replaced next when full */
};

static int tx_sig_verify(struct key_cache *kc, const uint8_t sig[64],
                         const uint8_t signer[TDEI_PUBKEY_SIZE],
                         const uint8_t *body, size_t len)
{
    size_t i = 0;

    while (i < kc->count && memcmp(kc->keys[i], signer, TDEI_PUBKEY_SIZE)) {
        i++;
    }
    if (i == kc->count) {
        struct tdei_pubkey_parsed parsed;
        if (tdei_pubkey_parse(&parsed, signer) != 0) {
            return TDEI_BADKEY;
        }
        if (kc->count < KEY_CACHE) {
            kc->count++;
        } else {
            i = kc->next;
            kc->next = (kc->next + 1) % KEY_CACHE;
        }
        kc->parsed[i] = parsed;
        memcpy(kc->keys[i], signer, TDEI_PUBKEY_SIZE);
    }
    return tdei_verify_tagged_parsed(sig, &kc->parsed[i], TDEI_TAG_TX, body,
                                     len);
}

/* The value of attribute @key in the events of @res, or NULL. */
static const char *result_attr(const Tdei__TxResult *res, const char *key)
{
    for (size_t i = 0; i < res->n_events; i++) {
        const Tdei__Event *ev = res->events[i];
        for (size_t k = 0; k < ev->n_attrs; k++) {
            if (strcmp(ev->attrs[k]->key, key) == 0) {
                return ev->attrs[k]->value;
            }
        }
    }
    return NULL;
}

/* The member an applied tx's events name as its signer's. */
static const char *result_member(const Tdei__TxResult *res)
{
    const char *m = result_attr(res, "by");

    if (m == NULL && res->n_events > 0 &&
        strcmp(res->events[0]->type, "transfer") == 0) {
        m = result_attr(res, "from");
    }
    if (m == NULL && res->n_events > 0 &&
        strcmp(res->events[0]->type, "member.key_rotate") == 0) {
        m = result_attr(res, "member");
    }
    return m != NULL && tdei_member_id_check(m) == 0 ? m : NULL;
}

static int parse_dec(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return -1;
    }
    v = strtoull(s, &end, 10);
    if (*end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

/* Keep the deadline an applied exchange event leaves open (its "id",
 * "status" and "deadline" attributes), or drop the exchange's entry when
 * its event leaves none. Returns 0 or TDEI_NOMEM. */
static int deadline_note(struct bundle_report *rep, const Tdei__TxResult *res,
                         uint64_t height)
{
    const char *id = result_attr(res, "id");
    const char *status = result_attr(res, "status");
    struct bundle_deadline *d = NULL;
    uint64_t deadline = 0;
    int open;

    if (id == NULL || status == NULL || strlen(id) != 2 * CODEC_HASH_SIZE) {
        return 0; /* not an exchange's event */
    }
    open =
        parse_dec(result_attr(res, "deadline"), &deadline) == 0 && deadline > 0;
    for (size_t i = 0; i < rep->deadline_count; i++) {
        if (strcmp(rep->deadlines[i].exchange, id) == 0) {
            /* Move it to the end: the order of last events. */
            struct bundle_deadline keep = rep->deadlines[i];
            memmove(&rep->deadlines[i], &rep->deadlines[i + 1],
                    (rep->deadline_count - i - 1) * sizeof(keep));
            rep->deadlines[rep->deadline_count - 1] = keep;
            d = &rep->deadlines[rep->deadline_count - 1];
            break;
        }
    }
    if (!open) {
        if (d != NULL) {
            rep->deadline_count--;
        }
        return 0;
    }
    if (d == NULL) {
        void *grown = tdei_realloc(rep->deadlines, (rep->deadline_count + 1) *
                                                       sizeof(*rep->deadlines));
        if (grown == NULL) {
            return TDEI_NOMEM;
        }
        rep->deadlines = grown;
        d = &rep->deadlines[rep->deadline_count++];
        (void)snprintf(d->exchange, sizeof(d->exchange), "%s", id);
    }
    (void)snprintf(d->status, sizeof(d->status), "%s", status);
    d->height = height;
    d->deadline = deadline;
    return 0;
}

/* Fill the action, price and detail of @row from the op and the result. */
static void row_describe(struct bundle_row *row, const Tdei__TxBody *body,
                         const Tdei__TxResult *res)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
        &tdei__tx_body__descriptor, (unsigned)body->op_case);
    const ProtobufCBinaryData *xid = NULL;
    const char *entry = NULL;
    const char *status = res->code == 0 ? result_attr(res, "status") : NULL;
    char hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    uint64_t v;
    size_t n;

    (void)snprintf(row->action, sizeof(row->action), "%s",
                   f != NULL ? f->name : "?");
    switch (body->op_case) {
    case TDEI__TX_BODY__OP_TRANSFER:
        row->price = body->transfer->amount;
        row->has_price = 1;
        (void)snprintf(row->detail, sizeof(row->detail), "to %s",
                       body->transfer->to);
        return;
    case TDEI__TX_BODY__OP_CATALOG_PUBLISH:
        entry = body->catalog_publish->id;
        if (body->catalog_publish->price != NULL) {
            row->price = body->catalog_publish->price->amount;
            row->has_price = 1;
        }
        break;
    case TDEI__TX_BODY__OP_CATALOG_REPRICE:
        entry = body->catalog_reprice->id;
        if (body->catalog_reprice->price != NULL) {
            row->price = body->catalog_reprice->price->amount;
            row->has_price = 1;
        }
        break;
    case TDEI__TX_BODY__OP_CATALOG_VERSION:
        entry = body->catalog_version->id;
        break;
    case TDEI__TX_BODY__OP_CATALOG_WITHDRAW:
        entry = body->catalog_withdraw->id;
        break;
    case TDEI__TX_BODY__OP_EXCHANGE_REQUEST:
        entry = body->exchange_request->id;
        row->price = body->exchange_request->price;
        row->has_price = 1;
        break;
    case TDEI__TX_BODY__OP_EXCHANGE_APPROVE:
        xid = &body->exchange_approve->exchange;
        break;
    case TDEI__TX_BODY__OP_EXCHANGE_REJECT:
        xid = &body->exchange_reject->exchange;
        break;
    case TDEI__TX_BODY__OP_EXCHANGE_DELIVER:
        xid = &body->exchange_deliver->exchange;
        break;
    case TDEI__TX_BODY__OP_EXCHANGE_CONFIRM:
        xid = &body->exchange_confirm->exchange;
        break;
    case TDEI__TX_BODY__OP_EXCHANGE_DISPUTE:
        xid = &body->exchange_dispute->exchange;
        break;
    case TDEI__TX_BODY__OP_EXCHANGE_RESOLVE:
        xid = &body->exchange_resolve->exchange;
        break;
    case TDEI__TX_BODY__OP_GRANT_REVOKE:
        xid = &body->grant_revoke->exchange;
        break;
    default:
        break;
    }
    if (res->code == 0 && !row->has_price &&
        parse_dec(result_attr(res, "amount"), &v) == 0) {
        row->price = v;
        row->has_price = 1;
    }
    n = 0;
    if (entry != NULL) {
        n = (size_t)snprintf(row->detail, sizeof(row->detail), "entry %s",
                             entry);
    }
    if (body->op_case == TDEI__TX_BODY__OP_EXCHANGE_REQUEST && res->code == 0) {
        tdei_hex_encode(hex, sizeof(hex), row->tx_id, CODEC_HASH_SIZE);
        n += (size_t)snprintf(row->detail + n, sizeof(row->detail) - n,
                              ", exchange %.16s..", hex);
    } else if (xid != NULL && xid->len == CODEC_HASH_SIZE) {
        tdei_hex_encode(hex, sizeof(hex), xid->data, CODEC_HASH_SIZE);
        n = (size_t)snprintf(row->detail, sizeof(row->detail),
                             "exchange %.16s..", hex);
    }
    if (status != NULL && n < sizeof(row->detail)) {
        (void)snprintf(row->detail + n, sizeof(row->detail) - n, "%sstatus %s",
                       n > 0 ? ", " : "", status);
    }
}

/* Verify event @i, which follows the head @head (updated on success);
 * tx_ok[i] says whether its signature verified (signature phase). */
static int event_verify(const struct bundle *b, size_t i,
                        const struct hdr *hdrs, const int8_t *tx_ok,
                        uint8_t head[CODEC_HASH_SIZE],
                        struct bundle_report *rep, char *errmsg)
{
    const struct bundle_event *e = &b->events[i];
    struct bundle_row *row = &rep->rows[rep->row_count];
    Tdei__Tx *tx = NULL;
    Tdei__TxBody *body = NULL;
    Tdei__TxResult *res = NULL;
    const Tdei__HeadUpdate *hu = NULL;
    struct tdei_sha256 sha;
    uint8_t code_be[4];
    uint8_t want[CODEC_HASH_SIZE];
    char why[ERRSZ] = "";
    long at;
    long next;
    int rc;

#define EVENT_FAIL(code, ...)                                                  \
    do {                                                                       \
        char what_[ERRSZ];                                                     \
        (void)snprintf(what_, sizeof(what_), __VA_ARGS__);                     \
        rc = tdei_errorf(errmsg, ERRSZ, (code),                                \
                         "bundle events[%zu] (height %" PRIu64                 \
                         ", index %u): %s",                                    \
                         i, e->height, e->index, what_);                       \
        goto done;                                                             \
    } while (0)

    memset(row, 0, sizeof(*row));
    if (i > 0 && (e->height < b->events[i - 1].height ||
                  (e->height == b->events[i - 1].height &&
                   e->index <= b->events[i - 1].index))) {
        EVENT_FAIL(TDEI_BADPROOF,
                   "not after the previous event (height %" PRIu64
                   ", index %u): events must be in block order",
                   b->events[i - 1].height, b->events[i - 1].index);
    }
    at = header_find(b, e->height);
    next = e->height < UINT64_MAX ? header_find(b, e->height + 1) : -1;
    if (at < 0 || next < 0) {
        EVENT_FAIL(TDEI_BADPROOF,
                   "header %" PRIu64 " (txs_root) and header %" PRIu64
                   " (last_results_root) must both be in the bundle",
                   e->height, e->height + 1);
    }
    rc = codec_tx_decode(&tx, e->tx, e->tx_len, BUNDLE_TX_SIZE_MAX, why);
    if (rc == 0) {
        rc = codec_txbody_decode(&body, tx->body.data, tx->body.len, why);
    }
    if (rc != 0) {
        EVENT_FAIL(rc, "tx: %s", why);
    }
    if (strcmp(body->chain_id, b->chain_id) != 0) {
        EVENT_FAIL(TDEI_CHAIN_ID, "the tx is for chain %s, not %s",
                   body->chain_id, b->chain_id);
    }
    codec_tx_id(row->tx_id, tx->body.data, tx->body.len);
    memcpy(row->signer, body->signer.data, TDEI_PUBKEY_SIZE);
    rc = proof_verify(&e->tx_proof, e->tx, e->tx_len, e->index,
                      &hdrs[at].h->txs_root, "tx_proof", i, e, errmsg);
    if (rc == 0) {
        rc = proof_verify(&e->result_proof, e->result, e->result_len, e->index,
                          &hdrs[next].h->last_results_root, "result_proof", i,
                          e, errmsg);
    }
    if (rc != 0) {
        goto done;
    }
    rep->proofs += 2;
    if (e->tx_proof.tree_size != e->result_proof.tree_size) {
        EVENT_FAIL(TDEI_BADPROOF,
                   "the tx tree has %" PRIu64 " leaves and the result tree "
                   "%" PRIu64 "; a block has one result per tx",
                   e->tx_proof.tree_size, e->result_proof.tree_size);
    }
    if (tx_ok[i] != 1) {
        EVENT_FAIL(TDEI_BADSIG, "the tx signature does not verify under its "
                                "signer key");
    }
    rep->tx_signatures++;
    rc = codec_txresult_decode(&res, e->result, e->result_len, why);
    if (rc != 0) {
        EVENT_FAIL(rc, "result: %s", why);
    }
    for (size_t k = 0; k < res->n_heads; k++) {
        const ProtobufCBinaryData *obj = &res->heads[k]->object;
        if (obj->len == b->key_len &&
            memcmp(obj->data, b->key, b->key_len) == 0) {
            if (hu != NULL) {
                EVENT_FAIL(TDEI_MALFORMED,
                           "the result extends the object's head twice");
            }
            hu = res->heads[k];
        }
    }
    if (hu == NULL) {
        EVENT_FAIL(TDEI_BADPROOF, "the result does not touch the object; it "
                                  "is not part of its history");
    }
    if (memcmp(hu->prev_head.data, head, CODEC_HASH_SIZE) != 0) {
        EVENT_FAIL(TDEI_BADPROOF,
                   "its prev_head is not the head after the previous event%s: "
                   "the history has a gap or is out of order",
                   i == 0 ? " (32 zero bytes: the object's creation)" : "");
    }
    code_be[0] = (uint8_t)(res->code >> 24);
    code_be[1] = (uint8_t)(res->code >> 16);
    code_be[2] = (uint8_t)(res->code >> 8);
    code_be[3] = (uint8_t)res->code;
    tdei_sha256_init(&sha);
    tdei_sha256_update(&sha, head, CODEC_HASH_SIZE);
    tdei_sha256_update(&sha, row->tx_id, CODEC_HASH_SIZE);
    tdei_sha256_update(&sha, code_be, sizeof(code_be));
    tdei_sha256_final(&sha, want);
    if (memcmp(hu->new_head.data, want, CODEC_HASH_SIZE) != 0) {
        EVENT_FAIL(TDEI_BADPROOF, "its new_head is not SHA256(prev_head || tx "
                                  "id || code)");
    }
    memcpy(head, want, CODEC_HASH_SIZE);
    row->height = e->height;
    row->index = e->index;
    row->time_ms = hdrs[at].h->time_ms;
    row->code = res->code;
    if (res->log[0] != '\0') {
        row->log = tdei_strdup(res->log);
        if (row->log == NULL) {
            EVENT_FAIL(TDEI_NOMEM, "no memory for the timeline");
        }
    }
    if (res->code == 0) {
        const char *m = result_member(res);
        if (m != NULL) {
            (void)snprintf(row->member, sizeof(row->member), "%s", m);
            row->member_source = BUNDLE_MEMBER_EVENT;
        }
        if (deadline_note(rep, res, e->height) != 0) {
            EVENT_FAIL(TDEI_NOMEM, "no memory for the timeline");
        }
    }
    row_describe(row, body, res);
    rep->row_count++;
    rc = 0;
done:
#undef EVENT_FAIL
    codec_tx_free(tx);
    codec_txbody_free(body);
    codec_txresult_free(res);
    return rc;
}

/* Name the members of the rows no event of their own names: by genesis's
 * operator keys, else by another row of the same signer key. */
static void members_resolve(struct bundle_report *rep, const struct genesis *g)
{
    for (size_t i = 0; i < rep->row_count; i++) {
        struct bundle_row *row = &rep->rows[i];
        if (row->member_source != BUNDLE_MEMBER_UNKNOWN) {
            continue;
        }
        for (size_t m = 0; m < g->member_count && !row->member[0]; m++) {
            const struct genesis_member *gm = &g->members[m];
            for (size_t k = 0; k < gm->operator_key_count; k++) {
                if (memcmp(gm->operator_keys[k], row->signer,
                           TDEI_PUBKEY_SIZE) == 0) {
                    (void)snprintf(row->member, sizeof(row->member), "%s",
                                   gm->id);
                    row->member_source = BUNDLE_MEMBER_GENESIS;
                    break;
                }
            }
        }
        for (size_t j = 0; j < rep->row_count && !row->member[0]; j++) {
            const struct bundle_row *other = &rep->rows[j];
            if (other->member_source == BUNDLE_MEMBER_EVENT &&
                memcmp(other->signer, row->signer, TDEI_PUBKEY_SIZE) == 0) {
                (void)snprintf(row->member, sizeof(row->member), "%s",
                               other->member);
                row->member_source = BUNDLE_MEMBER_SAME_KEY;
            }
        }
    }
}

void bundle_report_free(struct bundle_report *rep)
{
    for (size_t i = 0; rep->rows != NULL && i < rep->row_count; i++) {
        tdei_free(rep->rows[i].log);
    }
    tdei_free(rep->rows);
    tdei_free(rep->deadlines);
    memset(rep, 0, sizeof(*rep));
}

/* The signature phase: the commits of headers [0, headers) and the tx
 * signatures of events [0, events), spread over threads by index. Each
 * answer goes to its own slot; the order of failures is decided after. */
struct sig_job
{
    const struct bundle *b;
    struct hdr *hdrs;
    size_t headers;
    int8_t *tx_ok; /* 1 verifies, 0 does not, -1 no tx */
    size_t events;
    const struct vset *genesis_set;
    size_t first;  /* this thread's first item */
    size_t stride; /* threads */
};

static void *sig_work(void *arg)
{
    struct sig_job *job = arg;
    struct vset *scratch = tdei_malloc(sizeof(*scratch));
    struct key_cache *kc = tdei_calloc(1, sizeof(*kc));
    char why[ERRSZ];

    for (size_t i = job->first; i < job->headers + job->events;
         i += job->stride) {
        if (i < job->headers) {
            struct hdr *hd = &job->hdrs[i];
            if (scratch == NULL) {
                hd->commit_rc = TDEI_NOMEM;
                continue;
            }
            header_set(job->b, hd, job->genesis_set, scratch);
            hd->commit_rc = votes_commit_verify(hd->commit, job->b->chain_id,
                                                &scratch->set, why);
        } else {
            const struct bundle_event *e = &job->b->events[i - job->headers];
            Tdei__Tx *tx = NULL;
            Tdei__TxBody *body = NULL;
            int8_t ok = -1;
            if (kc != NULL &&
                codec_tx_decode(&tx, e->tx, e->tx_len, BUNDLE_TX_SIZE_MAX,
                                why) == 0 &&
                codec_txbody_decode(&body, tx->body.data, tx->body.len, why) ==
                    0) {
                ok = tx_sig_verify(kc, tx->sig.data, body->signer.data,
                                   tx->body.data, tx->body.len) == 0;
            }
            codec_tx_free(tx);
            codec_txbody_free(body);
            job->tx_ok[i - job->headers] = ok;
        }
    }
    tdei_free(kc);
    tdei_free(scratch);
    return NULL;
}

/* Run the signature phase on up to BUNDLE_VERIFY_THREADS threads (one
 * when there is little to do or a thread cannot start). */
static void sig_phase(struct sig_job *base, unsigned threads)
{
    pthread_t tids[BUNDLE_VERIFY_THREADS];
    struct sig_job jobs[BUNDLE_VERIFY_THREADS];
    unsigned started = 0;
    size_t items = base->headers + base->events;

    if (threads > BUNDLE_VERIFY_THREADS) {
        threads = BUNDLE_VERIFY_THREADS;
    }
    if (threads < 2 || items < 64) {
        threads = 1;
    }
    for (unsigned t = 0; t < threads; t++) {
        jobs[t] = *base;
        jobs[t].first = t;
        jobs[t].stride = threads;
    }
    for (unsigned t = 1; t < threads; t++) {
        if (pthread_create(&tids[t], NULL, sig_work, &jobs[t]) != 0) {
            break;
        }
        started++;
    }
    if (started + 1 < threads) {
        /* Not every thread started: this one takes the items of those
         * that did not, one by one. */
        for (unsigned t = started + 1; t < threads; t++) {
            for (size_t i = t; i < items; i += threads) {
                struct sig_job one = *base;
                one.first = i;
                one.stride = items; /* exactly item i */
                (void)sig_work(&one);
            }
        }
    }
    (void)sig_work(&jobs[0]);
    for (unsigned t = 1; t <= started; t++) {
        (void)pthread_join(tids[t], NULL);
    }
}

int bundle_verify(const struct bundle *b, const struct genesis *g,
                  unsigned threads, struct bundle_report *rep, char *errmsg)
{
    struct vset *genesis_set = NULL;
    struct vset *cur = NULL;
    struct hdr *hdrs = NULL;
    int8_t *tx_ok = NULL;
    uint8_t key[CODEC_OBJECT_KEY_MAX];
    uint8_t head[CODEC_HASH_SIZE] = {0};
    char why[ERRSZ];
    char header_err[ERRSZ] = "";
    size_t key_len;
    size_t ci = 0;
    size_t checked = 0; /* headers that passed header_check */
    int header_rc = 0;
    int rc = 0;

    memset(rep, 0, sizeof(*rep));
    if (strcmp(b->chain_id, g->chain_id) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CHAIN_ID,
                           "the bundle is for chain %s, but genesis.json is "
                           "for chain %s: use that chain's genesis file",
                           b->chain_id, g->chain_id);
    }
    if (bundle_object_key(b->kind, b->id, key, &key_len, why) != 0 ||
        key_len != b->key_len || memcmp(key, b->key, key_len) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "bundle object: key is not the state key of %s %s",
                           bundle_kind_name(b->kind), b->id);
    }
    if (b->event_count == 0 || b->header_count == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "bundle has no event: it proves nothing");
    }
    genesis_set = tdei_malloc(sizeof(*genesis_set));
    cur = tdei_malloc(sizeof(*cur));
    hdrs = tdei_calloc(b->header_count, sizeof(*hdrs));
    tx_ok = tdei_calloc(b->event_count, sizeof(*tx_ok));
    rep->rows = tdei_calloc(b->event_count, sizeof(*rep->rows));
    if (genesis_set == NULL || cur == NULL || hdrs == NULL || tx_ok == NULL ||
        rep->rows == NULL) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                         "no memory to verify %zu headers and %zu events",
                         b->header_count, b->event_count);
        goto done;
    }
    rc = genesis_vset(genesis_set, g, errmsg);
    if (rc == 0) {
        *cur = *genesis_set;
        rc = changes_check(b, errmsg);
    }
    if (rc != 0) {
        goto done;
    }
    /* Headers in order, all but their signatures; stop at the first that
     * fails, whose error counts only if no commit before it fails. */
    for (; checked < b->header_count; checked++) {
        header_rc = header_check(b, checked, hdrs, &ci, cur, rep, header_err);
        if (header_rc != 0) {
            break;
        }
    }
    {
        struct sig_job job = {
            .b = b,
            .hdrs = hdrs,
            .headers = checked,
            .tx_ok = tx_ok,
            .events = header_rc == 0 ? b->event_count : 0,
            .genesis_set = genesis_set,
        };
        sig_phase(&job, threads);
    }
    for (size_t j = 0; j < checked; j++) {
        if (hdrs[j].commit_rc != 0) {
            /* Again, alone, for its message. */
            rc = commit_verify(b, j, hdrs, genesis_set, cur, errmsg);
            if (rc == 0) {
                rc = tdei_errorf(errmsg, ERRSZ, hdrs[j].commit_rc,
                                 "bundle headers[%zu] (height %" PRIu64
                                 "): the commit does not hold",
                                 j, b->headers[j].height);
            }
            goto done;
        }
        rep->headers_verified++;
        rep->commit_signatures += hdrs[j].commit->n_signatures;
    }
    if (header_rc != 0) {
        rc = tdei_errorf(errmsg, ERRSZ, header_rc, "%s", header_err);
        goto done;
    }
    for (size_t i = 0; rc == 0 && i < b->event_count; i++) {
        rc = event_verify(b, i, hdrs, tx_ok, head, rep, errmsg);
    }
    if (rc != 0) {
        goto done;
    }
    if (b->as_of != b->headers[b->header_count - 1].height ||
        b->as_of <= b->events[b->event_count - 1].height) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_BADPROOF,
                         "bundle as_of: height %" PRIu64
                         " is not the highest header of the bundle (%" PRIu64
                         "), above the last event's height %" PRIu64,
                         b->as_of, b->headers[b->header_count - 1].height,
                         b->events[b->event_count - 1].height);
    } else if (memcmp(head, b->head, CODEC_HASH_SIZE) != 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_BADPROOF,
                         "bundle as_of: head is not the head after the last "
                         "event: events are missing at the end, or the head "
                         "was changed");
    }
    members_resolve(rep, g);
done:
    for (size_t j = 0; hdrs != NULL && j < b->header_count; j++) {
        codec_header_free(hdrs[j].h);
        codec_commit_free(hdrs[j].commit);
    }
    tdei_free(hdrs);
    tdei_free(tx_ok);
    tdei_free(cur);
    tdei_free(genesis_set);
    return rc;
}
