/* Catalog search: the token index and its queries (see search.h). */
#include "search/search.h"

#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/ids.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRSZ TDEI_ERRMSG_SIZE
#define PREFIX_LEN (sizeof(SEARCH_INDEX_PREFIX) - 1u)
#define DATASET_PREFIX_LEN (sizeof(CONTRACT_KEY_DATASET) - 1u)
#define FIELD_COUNT 3u
#define ROLE_CACHE_SIZE 16u /* owners whose role a query remembers */
#define MATCHES_INITIAL 256u
/* Tokens one query word can hold (runs of 2 bytes and a separator). */
#define WORD_TOKENS_MAX SEARCH_TEXT_TOKENS(SEARCH_WORD_SIZE_MAX)
/* Bytes of a word echoed in a message. */
#define ECHO_MAX 40u

/* Field bytes in posting order, and what a word found there scores. */
static const uint8_t field_bytes[FIELD_COUNT] = {
    SEARCH_FIELD_TITLE, SEARCH_FIELD_TAG, SEARCH_FIELD_DESCRIPTION};
static const uint32_t field_weights[FIELD_COUNT] = {3, 2, 1};

_Static_assert(SEARCH_RAW_TOKENS_MAX <= UINT16_MAX, "seq fits 16 bits");
_Static_assert(SEARCH_TOKEN_MAX <= UINT8_MAX, "token length fits a byte");
_Static_assert(SEARCH_WORDS_MAX < UINT32_MAX / (3u + 2u + 1u),
               "scores fit 32 bits");

/* ---- tokens -------------------------------------------------------------- */

/* The token byte of @c (lowercased), or 0 when @c separates. */
static uint8_t token_byte(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') {
        return (uint8_t)(c - 'A' + 'a');
    }
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80u) {
        return c;
    }
    return 0;
}

size_t search_tokenize(const uint8_t *text, size_t len,
                       struct search_token *out, size_t cap, size_t *too_long)
{
    struct search_token cur;
    size_t run = 0; /* bytes of the run being read */
    size_t found = 0;
    size_t longs = 0;

    TDEI_ASSERT(text != NULL || len == 0);
    TDEI_ASSERT(out != NULL || cap == 0);
    memset(&cur, 0, sizeof(cur));
    /* One pass; position len acts as a final separator. */
    for (size_t i = 0; i <= len; i++) {
        uint8_t b = i < len ? token_byte(text[i]) : 0;
        if (b != 0) {
            if (run < SEARCH_TOKEN_MAX) {
                cur.bytes[run] = b;
            }
            run++;
            continue;
        }
        if (run > SEARCH_TOKEN_MAX) {
            longs++;
        } else if (run >= SEARCH_TOKEN_MIN) {
            if (found < cap) {
                cur.len = (uint8_t)run;
                out[found] = cur;
            }
            found++;
        }
        run = 0;
    }
    if (too_long != NULL) {
        *too_long = longs;
    }
    return found;
}

size_t search_posting_key(uint8_t out[SEARCH_KEY_SIZE_MAX], uint8_t field,
                          const struct search_token *token, const char *id,
                          size_t id_len)
{
    size_t pos = PREFIX_LEN;

    TDEI_ASSERT(token->len >= SEARCH_TOKEN_MIN &&
                token->len <= SEARCH_TOKEN_MAX);
    TDEI_ASSERT(id_len >= 1 && id_len <= CODEC_DATASET_ID_MAX);
    memcpy(out, SEARCH_INDEX_PREFIX, PREFIX_LEN);
    out[pos++] = field;
    memcpy(out + pos, token->bytes, token->len);
    pos += token->len;
    out[pos++] = 0x00;
    memcpy(out + pos, id, id_len);
    return pos + id_len;
}

/* The prefix of one token's posting list in one field. */
static size_t posting_prefix(uint8_t out[SEARCH_KEY_SIZE_MAX], uint8_t field,
                             const struct search_token *token)
{
    size_t pos = PREFIX_LEN;

    memcpy(out, SEARCH_INDEX_PREFIX, PREFIX_LEN);
    out[pos++] = field;
    memcpy(out + pos, token->bytes, token->len);
    pos += token->len;
    out[pos++] = 0x00;
    return pos;
}

/* Copy up to ECHO_MAX bytes of @word into @out for a message: cut at a
 * UTF-8 boundary, with '?' for anything that is not printable ASCII or
 * valid UTF-8, so the message stays valid text. */
static const char *word_echo(char out[ECHO_MAX + 4], const char *word)
{
    size_t len = strlen(word);
    size_t n = len < ECHO_MAX ? len : ECHO_MAX;

    /* Do not end inside a multi-byte character. */
    while (n > 0 && n < len && ((uint8_t)word[n] & 0xc0u) == 0x80u) {
        n--;
    }
    memcpy(out, word, n);
    out[n] = '\0';
    if (!codec_utf8_valid((const uint8_t *)out, n)) {
        for (size_t i = 0; i < n; i++) {
            if ((uint8_t)out[i] < 0x20u || (uint8_t)out[i] >= 0x7fu) {
                out[i] = '?';
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if ((uint8_t)out[i] < 0x20u) {
            out[i] = '?';
        }
    }
    if (n < len) {
        memcpy(out + n, "...", 4);
    }
    return out;
}

/* ---- an entry's postings ------------------------------------------------- */

/* A (field, token) pair of an entry, with the order it was first seen. */
struct posting
{
    uint8_t field;                   /* SEARCH_FIELD_* */
    uint8_t len;                     /* token bytes */
    uint16_t seq;                    /* position in title, tags, desc */
    uint8_t bytes[SEARCH_TOKEN_MAX]; /* the token */
};

/* Working memory of one index update. */
struct scratch
{
    struct search_token tokens[SEARCH_RAW_TOKENS_MAX]; /* one text's */
    struct posting old[SEARCH_RAW_TOKENS_MAX];         /* stored record's */
    struct posting new[SEARCH_RAW_TOKENS_MAX];         /* written record's */
};

/* Key order of postings: field, then token bytewise (a prefix first, as
 * the 0x00 after the token sorts first in the key). */
static int posting_cmp_key(const struct posting *a, const struct posting *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c;

    if (a->field != b->field) {
        return a->field < b->field ? -1 : 1;
    }
    c = memcmp(a->bytes, b->bytes, n);
    if (c != 0) {
        return c;
    }
    return a->len == b->len ? 0 : (a->len < b->len ? -1 : 1);
}

static int posting_sort_key(const void *pa, const void *pb)
{
    const struct posting *a = pa;
    const struct posting *b = pb;
    int c = posting_cmp_key(a, b);

    if (c != 0) {
        return c;
    }
    return a->seq == b->seq ? 0 : (a->seq < b->seq ? -1 : 1);
}

static int posting_sort_seq(const void *pa, const void *pb)
{
    const struct posting *a = pa;
    const struct posting *b = pb;

    return a->seq == b->seq ? 0 : (a->seq < b->seq ? -1 : 1);
}

/* Append the tokens of @text as postings of @field. */
static void postings_add_text(struct scratch *s, struct posting *out, size_t *n,
                              uint8_t field, const char *text)
{
    size_t room = SEARCH_RAW_TOKENS_MAX - *n;
    size_t found = search_tokenize((const uint8_t *)text, strlen(text),
                                   s->tokens, room, NULL);

    if (found > room) {
        found = room; /* the rest is past the entry's cap anyway */
    }
    for (size_t i = 0; i < found; i++) {
        struct posting *p = &out[*n];
        p->field = field;
        p->len = s->tokens[i].len;
        p->seq = (uint16_t)*n;
        memcpy(p->bytes, s->tokens[i].bytes, p->len);
        (*n)++;
    }
}

/* The distinct postings of @d, at most SEARCH_ENTRY_TOKENS_MAX (the first
 * seen), into @out in key order; returns how many. */
static size_t entry_postings(struct scratch *s, const Tdei__Dataset *d,
                             struct posting *out)
{
    size_t n = 0;
    size_t kept = 0;

    postings_add_text(s, out, &n, SEARCH_FIELD_TITLE, d->title);
    for (size_t i = 0; i < d->n_tags; i++) {
        postings_add_text(s, out, &n, SEARCH_FIELD_TAG, d->tags[i]);
    }
    postings_add_text(s, out, &n, SEARCH_FIELD_DESCRIPTION, d->description);
    if (n == 0) {
        return 0;
    }
    /* Distinct pairs, each keeping its first position. */
    qsort(out, n, sizeof(*out), posting_sort_key);
    for (size_t i = 0; i < n; i++) {
        if (kept == 0 || posting_cmp_key(&out[kept - 1], &out[i]) != 0) {
            out[kept++] = out[i];
        }
    }
    if (kept > SEARCH_ENTRY_TOKENS_MAX) {
        qsort(out, kept, sizeof(*out), posting_sort_seq);
        kept = SEARCH_ENTRY_TOKENS_MAX;
        qsort(out, kept, sizeof(*out), posting_sort_key);
    }
    return kept;
}

/* ---- index maintenance --------------------------------------------------- */

/* Decode the Dataset record @val of the entry @id and list its postings
 * into @out. */
static int record_postings(struct scratch *s, const uint8_t *val, size_t vlen,
                           const char *id, const char *which,
                           struct posting *out, size_t *n, char *errmsg)
{
    Tdei__Dataset *d = NULL;
    int rc = codec_dataset_decode(&d, val, vlen, errmsg);

    *n = 0;
    if (rc == TDEI_NOMEM) {
        return tdei_errorf(errmsg, ERRSZ, rc, "index %s: out of memory", id);
    }
    if (rc != 0) {
        return tdei_errwrap(errmsg, ERRSZ, TDEI_CORRUPT,
                            "index: %s record of dataset/%s", which, id);
    }
    if (strcmp(d->id, id) != 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                         "index: the %s record at dataset/%s holds entry %s",
                         which, id, d->id);
    } else {
        *n = entry_postings(s, d, out);
    }
    codec_dataset_free(d);
    return rc;
}

static int posting_write(struct store_batch *batch, const struct posting *p,
                         const char *id, size_t id_len, int put, char *errmsg)
{
    uint8_t key[SEARCH_KEY_SIZE_MAX];
    struct search_token tok;
    size_t klen;
    int rc;

    tok.len = p->len;
    memcpy(tok.bytes, p->bytes, p->len);
    klen = search_posting_key(key, p->field, &tok, id, id_len);
    rc = put ? store_batch_put(batch, STORE_DB_INDEX, key, klen, NULL, 0)
             : store_batch_del(batch, STORE_DB_INDEX, key, klen);
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc, "batch: %s",
                           store_batch_errmsg(batch));
    }
    return 0;
}

/* Reindex the entry of one "dataset/" write. */
static int entry_reindex(struct store_batch *batch, struct store_read *r,
                         struct scratch *s, const struct state_write *w,
                         char *errmsg)
{
    char id[CODEC_DATASET_ID_MAX + 1];
    size_t id_len = w->klen - DATASET_PREFIX_LEN;
    const uint8_t *val;
    size_t vlen;
    size_t old_n = 0;
    size_t new_n = 0;
    size_t i = 0;
    size_t j = 0;
    int rc;

    if (id_len > CODEC_DATASET_ID_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                           "index: state key dataset/... of %zu bytes is "
                           "not an entry key",
                           w->klen);
    }
    memcpy(id, w->key + DATASET_PREFIX_LEN, id_len);
    id[id_len] = '\0';
    if (strlen(id) != id_len || !codec_dataset_id_valid(id)) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                           "index: state key dataset/%.64s does not name an "
                           "entry id",
                           id);
    }
    rc = store_get(r, STORE_DB_STATE, w->key, w->klen, &val, &vlen);
    if (rc == 0) {
        rc =
            record_postings(s, val, vlen, id, "stored", s->old, &old_n, errmsg);
    } else if (rc == TDEI_NOTFOUND) {
        rc = 0;
    } else {
        rc = tdei_errorf(errmsg, ERRSZ, rc, "index: read dataset/%s: %s", id,
                         store_read_errmsg(r));
    }
    if (rc == 0 && w->kind == STATE_PUT) {
        rc = record_postings(s, w->val, w->vlen, id, "new", s->new, &new_n,
                             errmsg);
    }
    /* Both lists are in key order: one merge gives the difference. */
    while (rc == 0 && (i < old_n || j < new_n)) {
        int c = i == old_n   ? 1
                : j == new_n ? -1
                             : posting_cmp_key(&s->old[i], &s->new[j]);
        if (c < 0) {
            rc = posting_write(batch, &s->old[i++], id, id_len, 0, errmsg);
        } else if (c > 0) {
            rc = posting_write(batch, &s->new[j++], id, id_len, 1, errmsg);
        } else {
            i++;
            j++;
        }
    }
    return rc;
}

int search_index_update(struct store_batch *batch, struct store_read *r,
                        const struct state_write *writes, size_t count,
                        char *errmsg)
{
    struct scratch *s = NULL;
    int rc = 0;

    TDEI_ASSERT(writes != NULL || count == 0);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const struct state_write *w = &writes[i];
        if (w->klen <= DATASET_PREFIX_LEN ||
            memcmp(w->key, CONTRACT_KEY_DATASET, DATASET_PREFIX_LEN) != 0) {
            continue;
        }
        if (s == NULL) {
            s = tdei_malloc(sizeof(*s));
            if (s == NULL) {
                return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                                   "index: out of memory");
            }
        }
        rc = entry_reindex(batch, r, s, w, errmsg);
    }
    tdei_free(s);
    return rc;
}

/* ---- query checks -------------------------------------------------------- */

/* Add the tokens of word @index to @words. */
static int word_add(struct search_words *words, const char *word, size_t index,
                    char *errmsg)
{
    struct search_token toks[WORD_TOKENS_MAX];
    char echo[ECHO_MAX + 4];
    size_t len = strlen(word);
    size_t too_long = 0;
    size_t found;

    if (len > SEARCH_WORD_SIZE_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "search word %zu is %zu bytes; a word is at most "
                           "%u bytes",
                           index + 1, len, SEARCH_WORD_SIZE_MAX);
    }
    found = search_tokenize((const uint8_t *)word, len, toks, WORD_TOKENS_MAX,
                            &too_long);
    if (too_long > 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "search word \"%s\" is too long: the index holds "
                           "words of %u-%u letters or digits",
                           word_echo(echo, word), SEARCH_TOKEN_MIN,
                           SEARCH_TOKEN_MAX);
    }
    if (found == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "search word \"%s\" has nothing to search for: "
                           "words are %u-%u letters or digits",
                           word_echo(echo, word), SEARCH_TOKEN_MIN,
                           SEARCH_TOKEN_MAX);
    }
    TDEI_ASSERT(found <= WORD_TOKENS_MAX);
    for (size_t t = 0; t < found; t++) {
        size_t k = 0;
        while (k < words->count && (words->tokens[k].len != toks[t].len ||
                                    memcmp(words->tokens[k].bytes,
                                           toks[t].bytes, toks[t].len) != 0)) {
            k++;
        }
        if (k < words->count) {
            continue; /* a repeated word counts once */
        }
        if (words->count == SEARCH_WORDS_MAX) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                               "the search words hold more than %u distinct "
                               "words; search with at most %u",
                               SEARCH_WORDS_MAX, SEARCH_WORDS_MAX);
        }
        words->tokens[words->count++] = toks[t];
    }
    return 0;
}

static int filters_check(const struct search_query *q, char *errmsg)
{
    char echo[ECHO_MAX + 4];

    if (q->level > 3) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "level %" PRIu32 " is outside 1-3 (0: any level)",
                           q->level);
    }
    if (q->domain > CODEC_DOMAIN_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "domain %" PRIu32 " is outside 1-%u (1 rd, 2 "
                           "production, 3 operation, 4 management, 5 "
                           "external; 0: any)",
                           q->domain, CODEC_DOMAIN_MAX);
    }
    if (q->owner != NULL && q->owner[0] != '\0' &&
        tdei_member_id_check(q->owner) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "owner \"%s\" is not a member id (3-32 bytes of "
                           "[a-z0-9-])",
                           word_echo(echo, q->owner));
    }
    if (q->owner_role > TDEI_ROLE_AUDITOR) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "owner role %" PRIu32 " is outside 1-4 (1 "
                           "public_service, 2 platform, 3 manufacturer, 4 "
                           "auditor; 0: any)",
                           q->owner_role);
    }
    if (q->kind > CODEC_KIND_STREAM) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "kind %" PRIu32 " is outside 1-2 (1 dataset, 2 "
                           "stream; 0: any)",
                           q->kind);
    }
    if (q->price_min > q->price_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "min price %" PRIu64 " is above max price "
                           "%" PRIu64 "; give min <= max",
                           q->price_min, q->price_max);
    }
    if (q->status > SEARCH_STATUS_ANY) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "status %" PRIu32 " is outside 1-3 (1 active, 2 "
                           "withdrawn, 3 any; 0: active)",
                           q->status);
    }
    if (q->limit == 0 || q->limit > SEARCH_LIMIT_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "limit %" PRIu32 " is outside 1-%u (hits per "
                           "page)",
                           q->limit, SEARCH_LIMIT_MAX);
    }
    return 0;
}

int search_query_check(const struct search_query *q, struct search_words *words,
                       char *errmsg)
{
    int rc = 0;

    TDEI_ASSERT(q->words != NULL || q->word_count == 0);
    memset(words, 0, sizeof(*words));
    if (q->word_count > SEARCH_WORDS_MAX) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                         "%zu search words given; search with at most %u",
                         q->word_count, SEARCH_WORDS_MAX);
    }
    for (size_t i = 0; rc == 0 && i < q->word_count; i++) {
        rc = word_add(words, q->words[i], i, errmsg);
    }
    if (rc == 0) {
        rc = filters_check(q, errmsg);
    }
    if (rc != 0) {
        memset(words, 0, sizeof(*words));
    }
    return rc;
}

/* ---- running a query ----------------------------------------------------- */

/* A candidate, then a match. */
struct match
{
    char id[CODEC_DATASET_ID_MAX + 1]; /* entry id */
    uint8_t fields;                    /* rarest word's fields (bits) */
    uint32_t score;                    /* see search.h */
    const uint8_t *record;             /* Dataset record, from the read */
    size_t record_len;                 /* bytes of record */
};

/* An owner whose role was read. */
struct role_entry
{
    char member[TDEI_MEMBER_ID_MAX + 1]; /* member id */
    uint32_t role;                       /* its role; 0 when no record */
};

/* One query's state. */
struct run
{
    struct store_read *r;
    const struct search_query *q;
    const struct search_words *words;
    struct match *matches;                    /* tdei_malloc'd */
    size_t count;                             /* used */
    size_t cap;                               /* allocated */
    struct role_entry roles[ROLE_CACHE_SIZE]; /* owners seen */
    size_t roles_count;                       /* used */
    size_t roles_next;                        /* next to replace */
    char *errmsg;
};

/* One word's posting lists, walked field by field. */
struct cursor
{
    struct store_iter it;             /* open while open is 1 */
    int open;                         /* it needs closing */
    unsigned field;                   /* index into field_bytes */
    const struct search_token *token; /* the word */
};

static int read_failed(struct run *run, int rc, const char *what)
{
    return tdei_errorf(run->errmsg, ERRSZ, rc, "search: %s: %s", what,
                       store_read_errmsg(run->r));
}

static void cursor_init(struct cursor *c, const struct search_token *token)
{
    memset(c, 0, sizeof(*c));
    c->token = token;
}

static void cursor_close(struct cursor *c)
{
    if (c->open) {
        store_iter_close(&c->it);
        c->open = 0;
    }
}

/* Step @c to its next posting: 0 with @key (and *@field the field
 * index), TDEI_NOTFOUND when every field is done, or an error. */
static int cursor_next(struct run *run, struct cursor *c, const uint8_t **key,
                       size_t *klen, unsigned *field)
{
    uint8_t prefix[SEARCH_KEY_SIZE_MAX];
    int rc;

    while (c->field < FIELD_COUNT) {
        if (!c->open) {
            size_t plen =
                posting_prefix(prefix, field_bytes[c->field], c->token);
            rc = store_iter_init(&c->it, run->r, STORE_DB_INDEX, prefix, plen,
                                 NULL, 0, 0);
            if (rc != 0) {
                return read_failed(run, rc, "open a posting list");
            }
            c->open = 1;
        }
        rc = store_iter_next(&c->it, key, klen, NULL, NULL);
        if (rc == 0) {
            *field = c->field;
            return 0;
        }
        cursor_close(c);
        if (rc != TDEI_NOTFOUND) {
            return read_failed(run, rc, "read a posting list");
        }
        c->field++;
    }
    return TDEI_NOTFOUND;
}

/* The index of the word with the fewest postings: step every list in turn
 * until the first ends (ties: the first word). Costs words x the rarest
 * list, not the sum of the lists. */
static int rarest_word(struct run *run, size_t *out)
{
    struct cursor cursors[SEARCH_WORDS_MAX];
    size_t n = run->words->count;
    const uint8_t *key;
    size_t klen;
    unsigned field;
    int rc = 0;
    int found = 0;

    *out = 0;
    if (n == 1) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        cursor_init(&cursors[i], &run->words->tokens[i]);
    }
    /* Each round steps every list once; a list holds at most
     * FIELD_COUNT postings per entry. */
    for (uint64_t round = 0; rc == 0 && !found; round++) {
        if (round > (uint64_t)FIELD_COUNT * SEARCH_CANDIDATES_MAX) {
            rc = tdei_errorf(run->errmsg, ERRSZ, TDEI_TOOBIG,
                             "every search word is in more than %u "
                             "entries; add a rarer word or a filter",
                             SEARCH_CANDIDATES_MAX);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            rc = cursor_next(run, &cursors[i], &key, &klen, &field);
            if (rc == TDEI_NOTFOUND) {
                *out = i;
                found = 1;
                rc = 0;
                break;
            }
            if (rc != 0) {
                break;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        cursor_close(&cursors[i]);
    }
    return rc;
}

static int match_grow(struct run *run)
{
    struct match *grown;
    size_t cap = run->cap == 0 ? MATCHES_INITIAL : run->cap * 2;

    grown = tdei_realloc(run->matches, cap * sizeof(*grown));
    if (grown == NULL) {
        return tdei_errorf(run->errmsg, ERRSZ, TDEI_NOMEM,
                           "search: out of memory for %zu candidates", cap);
    }
    run->matches = grown;
    run->cap = cap;
    return 0;
}

/* Higher score first, then id ascending (ids are ASCII: strcmp is
 * bytewise). */
static int match_cmp_rank(const void *pa, const void *pb)
{
    const struct match *a = pa;
    const struct match *b = pb;

    if (a->score != b->score) {
        return a->score > b->score ? -1 : 1;
    }
    return strcmp(a->id, b->id);
}

/* Copy the entry id that ends a key after @skip bytes into @out. */
static int key_id(struct run *run, const uint8_t *key, size_t klen, size_t skip,
                  char out[CODEC_DATASET_ID_MAX + 1])
{
    size_t len = klen - skip;

    TDEI_ASSERT(klen >= skip);
    if (len < 1 || len > CODEC_DATASET_ID_MAX) {
        return tdei_errorf(run->errmsg, ERRSZ, TDEI_CORRUPT,
                           "search: a key ends in an entry id of %zu bytes",
                           len);
    }
    memcpy(out, key + skip, len);
    out[len] = '\0';
    if (strlen(out) != len || !codec_dataset_id_valid(out)) {
        return tdei_errorf(run->errmsg, ERRSZ, TDEI_CORRUPT,
                           "search: a key ends in \"%.64s\", not an entry id",
                           out);
    }
    return 0;
}

/* One field's posting list of the rarest word, in the candidate merge. */
struct field_list
{
    struct store_iter it;              /* open while open is 1 */
    int open;                          /* it needs closing */
    int has;                           /* id holds the current posting */
    size_t prefix_len;                 /* bytes before the entry id */
    char id[CODEC_DATASET_ID_MAX + 1]; /* the current posting's entry */
};

static int list_step(struct run *run, struct field_list *l)
{
    const uint8_t *key;
    size_t klen;
    int rc = store_iter_next(&l->it, &key, &klen, NULL, NULL);

    l->has = 0;
    if (rc == TDEI_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return read_failed(run, rc, "read a posting list");
    }
    rc = key_id(run, key, klen, l->prefix_len, l->id);
    l->has = rc == 0;
    return rc;
}

/* The candidates: every entry in the rarest word's three lists (each in
 * id order), merged so that each entry comes once, in id order, with the
 * fields it is found in. Memory is one match per candidate. */
static int candidates_collect(struct run *run, size_t rarest)
{
    struct field_list lists[FIELD_COUNT];
    uint8_t prefix[SEARCH_KEY_SIZE_MAX];
    int rc = 0;

    memset(lists, 0, sizeof(lists));
    for (unsigned f = 0; rc == 0 && f < FIELD_COUNT; f++) {
        lists[f].prefix_len =
            posting_prefix(prefix, field_bytes[f], &run->words->tokens[rarest]);
        rc = store_iter_init(&lists[f].it, run->r, STORE_DB_INDEX, prefix,
                             lists[f].prefix_len, NULL, 0, 0);
        if (rc != 0) {
            rc = read_failed(run, rc, "open a posting list");
            break;
        }
        lists[f].open = 1;
        rc = list_step(run, &lists[f]);
    }
    /* Each round takes the least id of the lists and steps every list
     * that holds it: at most SEARCH_CANDIDATES_MAX rounds. */
    while (rc == 0) {
        const char *least = NULL;
        struct match *m;
        unsigned fields = 0;
        for (unsigned f = 0; f < FIELD_COUNT; f++) {
            if (lists[f].has &&
                (least == NULL || strcmp(lists[f].id, least) < 0)) {
                least = lists[f].id;
            }
        }
        if (least == NULL) {
            break;
        }
        if (run->count == SEARCH_CANDIDATES_MAX) {
            rc = tdei_errorf(run->errmsg, ERRSZ, TDEI_TOOBIG,
                             "the search words are in more than %u "
                             "entries; add a rarer word or a filter",
                             SEARCH_CANDIDATES_MAX);
            break;
        }
        if (run->count == run->cap && (rc = match_grow(run)) != 0) {
            break;
        }
        m = &run->matches[run->count];
        memcpy(m->id, least, strlen(least) + 1);
        for (unsigned f = 0; rc == 0 && f < FIELD_COUNT; f++) {
            if (lists[f].has && strcmp(lists[f].id, m->id) == 0) {
                fields |= 1u << f;
                rc = list_step(run, &lists[f]);
            }
        }
        m->fields = (uint8_t)fields;
        run->count++;
    }
    for (unsigned f = 0; f < FIELD_COUNT; f++) {
        if (lists[f].open) {
            store_iter_close(&lists[f].it);
        }
    }
    return rc;
}

static uint32_t fields_score(unsigned fields)
{
    uint32_t score = 0;

    for (unsigned f = 0; f < FIELD_COUNT; f++) {
        if (fields & (1u << f)) {
            score += field_weights[f];
        }
    }
    return score;
}

/* Which fields of entry @id hold @token (bits), by key lookups. */
static int word_fields(struct run *run, const struct search_token *token,
                       const char *id, unsigned *fields)
{
    uint8_t key[SEARCH_KEY_SIZE_MAX];
    size_t id_len = strlen(id);

    *fields = 0;
    for (unsigned f = 0; f < FIELD_COUNT; f++) {
        const uint8_t *val;
        size_t vlen;
        size_t klen =
            search_posting_key(key, field_bytes[f], token, id, id_len);
        int rc = store_get(run->r, STORE_DB_INDEX, key, klen, &val, &vlen);
        if (rc == 0) {
            *fields |= 1u << f;
        } else if (rc != TDEI_NOTFOUND) {
            return read_failed(run, rc, "look up a posting");
        }
    }
    return 0;
}

/* The role of member @id (0 when it has no record), through the cache. */
static int owner_role(struct run *run, const char *id, uint32_t *role)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Member *member = NULL;
    struct role_entry *e;
    const uint8_t *val;
    size_t vlen;
    int rc;

    for (size_t i = 0; i < run->roles_count; i++) {
        if (strcmp(run->roles[i].member, id) == 0) {
            *role = run->roles[i].role;
            return 0;
        }
    }
    *role = 0;
    rc = store_get(run->r, STORE_DB_STATE, key, contract_key_member(key, id),
                   &val, &vlen);
    if (rc == 0) {
        rc = codec_member_decode(&member, val, vlen, run->errmsg);
        if (rc == TDEI_NOMEM) {
            return rc;
        }
        if (rc != 0) {
            return tdei_errwrap(run->errmsg, ERRSZ, TDEI_CORRUPT,
                                "search: member/%s", id);
        }
        *role = member->role;
        codec_member_free(member);
    } else if (rc != TDEI_NOTFOUND) {
        return read_failed(run, rc, "read an owner");
    }
    if (run->roles_count < ROLE_CACHE_SIZE) {
        e = &run->roles[run->roles_count++];
    } else {
        e = &run->roles[run->roles_next];
        run->roles_next = (run->roles_next + 1) % ROLE_CACHE_SIZE;
    }
    (void)snprintf(e->member, sizeof(e->member), "%s", id);
    e->role = *role;
    return 0;
}

/* The fields of a Dataset record the filters look at. */
struct filter_fields
{
    uint32_t kind;                      /* Dataset.kind (2) */
    uint32_t domain;                    /* Dataset.domain (6) */
    uint32_t level;                     /* Dataset.level (7) */
    uint32_t status;                    /* Dataset.status (18) */
    uint64_t amount;                    /* Dataset.price (10).amount (2) */
    char owner[TDEI_MEMBER_ID_MAX + 1]; /* Dataset.owner (15) */
};

/* Read a varint at *@pos of @buf (@len bytes). Returns 0 or -1. */
static int wire_varint(const uint8_t *buf, size_t len, size_t *pos,
                       uint64_t *out)
{
    uint64_t v = 0;

    for (unsigned shift = 0; shift < 64 && *pos < len; shift += 7) {
        uint8_t b = buf[(*pos)++];
        v |= (uint64_t)(b & 0x7fu) << shift;
        if ((b & 0x80u) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Walk the fields of the message at @buf, calling @take for the ones of
 * wire type varint (with the value) and length-delimited (with the
 * bytes); others are skipped. Returns 0 or -1 (not protobuf). */
static int wire_walk(const uint8_t *buf, size_t len, void *arg,
                     int (*take)(void *arg, uint64_t field, uint64_t value,
                                 const uint8_t *bytes, size_t blen))
{
    size_t pos = 0;

    /* Each round consumes at least one byte. */
    while (pos < len) {
        uint64_t tag;
        uint64_t v;
        if (wire_varint(buf, len, &pos, &tag) != 0) {
            return -1;
        }
        switch (tag & 7u) {
        case 0:
            if (wire_varint(buf, len, &pos, &v) != 0 ||
                take(arg, tag >> 3, v, NULL, 0) != 0) {
                return -1;
            }
            break;
        case 1:
        case 5:
            v = (tag & 7u) == 1 ? 8u : 4u;
            if (len - pos < v) {
                return -1;
            }
            pos += (size_t)v;
            break;
        case 2:
            if (wire_varint(buf, len, &pos, &v) != 0 || len - pos < v ||
                take(arg, tag >> 3, 0, buf + pos, (size_t)v) != 0) {
                return -1;
            }
            pos += (size_t)v;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

static int price_take(void *arg, uint64_t field, uint64_t value,
                      const uint8_t *bytes, size_t blen)
{
    (void)bytes;
    (void)blen;
    if (field == 2) {
        *(uint64_t *)arg = value; /* PriceTerms.amount */
    }
    return 0;
}

static int fields_take(void *arg, uint64_t field, uint64_t value,
                       const uint8_t *bytes, size_t blen)
{
    struct filter_fields *f = arg;
    uint32_t *small = field == 2    ? &f->kind
                      : field == 6  ? &f->domain
                      : field == 7  ? &f->level
                      : field == 18 ? &f->status
                                    : NULL;

    if (small != NULL) {
        if (bytes != NULL || value > UINT32_MAX) {
            return -1;
        }
        *small = (uint32_t)value;
    } else if (field == 10) {
        return bytes == NULL ? -1
                             : wire_walk(bytes, blen, &f->amount, price_take);
    } else if (field == 15) {
        if (bytes == NULL || blen > TDEI_MEMBER_ID_MAX) {
            return -1;
        }
        memcpy(f->owner, bytes, blen);
        f->owner[blen] = '\0';
    }
    return 0;
}

/* Whether the Dataset record @val of entry @id passes the filters.
 *
 * The record is read with a small wire walker rather than
 * codec_dataset_decode: the filters need six scalar fields, and the full
 * decode (allocation, UTF-8 and canonical checks of every text) was 90%
 * of a query that examines every entry. The records were checked by the
 * decoder when the index took them (search_index_update); this still
 * refuses bytes that are not protobuf or lack an owner. */
static int filters_pass(struct run *run, const char *id, const uint8_t *val,
                        size_t vlen, int *pass)
{
    const struct search_query *q = run->q;
    uint32_t want =
        q->status == SEARCH_STATUS_DEFAULT ? SEARCH_STATUS_ACTIVE : q->status;
    struct filter_fields f;
    uint32_t role;
    int rc = 0;

    *pass = 0;
    memset(&f, 0, sizeof(f));
    if (wire_walk(val, vlen, &f, fields_take) != 0 ||
        tdei_member_id_check(f.owner) != 0) {
        return tdei_errorf(run->errmsg, ERRSZ, TDEI_CORRUPT,
                           "search: the record of dataset/%s does not "
                           "decode",
                           id);
    }
    *pass = (want == SEARCH_STATUS_ANY || f.status == want) &&
            (q->level == 0 || f.level == q->level) &&
            (q->domain == 0 || f.domain == q->domain) &&
            (q->kind == 0 || f.kind == q->kind) &&
            (q->owner == NULL || q->owner[0] == '\0' ||
             strcmp(f.owner, q->owner) == 0) &&
            f.amount >= q->price_min && f.amount <= q->price_max;
    if (*pass && q->owner_role != 0) {
        rc = owner_role(run, f.owner, &role);
        *pass = rc == 0 && role == q->owner_role;
    }
    return rc;
}

/* Read entry @id's record and apply the filters. */
static int entry_filter(struct run *run, struct match *m, int *pass)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    int rc =
        store_get(run->r, STORE_DB_STATE, key, contract_key_dataset(key, m->id),
                  &m->record, &m->record_len);

    *pass = 0;
    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(run->errmsg, ERRSZ, TDEI_CORRUPT,
                           "search: the index lists entry %s, which has no "
                           "record",
                           m->id);
    }
    if (rc != 0) {
        return read_failed(run, rc, "read an entry");
    }
    return filters_pass(run, m->id, m->record, m->record_len, pass);
}

/* Keep the candidates that hold every word and pass the filters, with
 * their scores. */
static int candidates_check(struct run *run, size_t rarest)
{
    size_t kept = 0;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < run->count; i++) {
        struct match *m = &run->matches[i];
        uint32_t score = fields_score(m->fields);
        int pass = 1;
        for (size_t w = 0; pass && w < run->words->count; w++) {
            unsigned fields;
            if (w == rarest) {
                continue;
            }
            rc = word_fields(run, &run->words->tokens[w], m->id, &fields);
            if (rc != 0) {
                break;
            }
            pass = fields != 0;
            score += fields_score(fields);
        }
        if (rc == 0 && pass) {
            rc = entry_filter(run, m, &pass);
        }
        if (rc == 0 && pass) {
            m->score = score;
            run->matches[kept++] = *m;
        }
    }
    run->count = rc == 0 ? kept : 0;
    return rc;
}

static void hit_set(struct search_hit *hit, const char *id, uint32_t score,
                    const uint8_t *record, size_t record_len)
{
    (void)snprintf(hit->id, sizeof(hit->id), "%s", id);
    hit->score = score;
    hit->record = record;
    hit->record_len = record_len;
}

/* No words: every entry, in id order, filtered. */
static int scan_all(struct run *run, struct search_result *out)
{
    struct store_iter it;
    const struct search_query *q = run->q;
    const uint8_t *key;
    const uint8_t *val;
    size_t klen;
    size_t vlen;
    char id[CODEC_DATASET_ID_MAX + 1];
    uint64_t scanned = 0;
    int rc;

    rc = store_iter_init(&it, run->r, STORE_DB_STATE,
                         (const uint8_t *)CONTRACT_KEY_DATASET,
                         DATASET_PREFIX_LEN, NULL, 0, 0);
    if (rc != 0) {
        return read_failed(run, rc, "list the entries");
    }
    for (;;) {
        int pass;
        rc = store_iter_next(&it, &key, &klen, &val, &vlen);
        if (rc == TDEI_NOTFOUND) {
            rc = 0;
            break;
        }
        if (rc != 0) {
            rc = read_failed(run, rc, "list the entries");
            break;
        }
        if (++scanned > SEARCH_SCAN_MAX) {
            rc = tdei_errorf(run->errmsg, ERRSZ, TDEI_TOOBIG,
                             "the catalog holds more than %u entries; "
                             "search with a word",
                             SEARCH_SCAN_MAX);
            break;
        }
        rc = key_id(run, key, klen, DATASET_PREFIX_LEN, id);
        if (rc == 0) {
            rc = filters_pass(run, id, val, vlen, &pass);
        }
        if (rc != 0) {
            break;
        }
        if (!pass) {
            continue;
        }
        if (out->total >= q->offset && out->count < q->limit) {
            hit_set(&out->hits[out->count++], id, 0, val, vlen);
        }
        out->total++;
    }
    store_iter_close(&it);
    return rc;
}

/* With words: candidates of the rarest word, checked, ranked, paged. */
static int search_words(struct run *run, struct search_result *out)
{
    size_t rarest = 0;
    int rc = rarest_word(run, &rarest);

    if (rc == 0) {
        rc = candidates_collect(run, rarest);
    }
    if (rc == 0) {
        rc = candidates_check(run, rarest);
    }
    if (rc != 0) {
        return rc;
    }
    if (run->count > 1) { /* qsort may not see a NULL array, even empty */
        qsort(run->matches, run->count, sizeof(*run->matches), match_cmp_rank);
    }
    out->total = run->count;
    for (uint64_t i = run->q->offset;
         i < run->count && out->count < run->q->limit; i++) {
        const struct match *m = &run->matches[i];
        hit_set(&out->hits[out->count++], m->id, m->score, m->record,
                m->record_len);
    }
    return 0;
}

int search_query_run(struct store_read *r, const struct search_query *q,
                     struct search_result *out, char *errmsg)
{
    struct run run;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = search_query_check(q, &out->words, errmsg);
    if (rc != 0) {
        return rc;
    }
    memset(&run, 0, sizeof(run));
    run.r = r;
    run.q = q;
    run.words = &out->words;
    run.errmsg = errmsg;
    rc = out->words.count == 0 ? scan_all(&run, out) : search_words(&run, out);
    tdei_free(run.matches);
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
    }
    TDEI_ASSERT(out->count <= q->limit);
    return rc;
}
