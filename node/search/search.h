/* Catalog search (DESIGN.md sections 8 and 11): a token index of the
 * catalog entries kept in the store's `index` database, and the query that
 * reads it.
 *
 * Tokens. A text is cut into tokens: ASCII letters and digits are token
 * bytes (letters lowercased), every byte >= 0x80 is a token byte as it is
 * (so UTF-8 words survive whole, without case folding), and every other
 * byte separates. A run of 2-SEARCH_TOKEN_MAX bytes is a token; shorter
 * runs are dropped, and so are longer ones (nobody searches for them, and
 * a query word that long is refused). Matching is on whole tokens:
 * "pump" finds "Pump" and "PUMP" but not "pumps", and a CJK phrase
 * without spaces is one token.
 *
 * Index layout (STORE_DB_INDEX; exec.h lists every prefix of that
 * database, and "tok/" does not clash with exec's "hist/"):
 *   "tok/" || field || token || 0x00 || entry id  ->  empty value
 * field is one byte: 't' title, 'g' a tag, 'd' the description. The 0x00
 * cannot occur in a token, so "tok/" field token 0x00 is the exact prefix
 * of one token's posting list, in entry id order. An entry has at most
 * SEARCH_ENTRY_TOKENS_MAX postings: the distinct (field, token) pairs in
 * the order title, tags, description, first occurrence first; the title
 * and the tags always fit (asserted below), only a long description can
 * be cut. The index covers every entry in the "dataset/" state records,
 * withdrawn ones included (the status filter decides).
 *
 * Maintenance. search_index_update runs in the block's batch (exec.c,
 * block_batch): for every write of the block's write set under
 * "dataset/", it removes the postings of the record as it was in the
 * parent state and adds those of the new record, so the index commits
 * atomically with the block and a node that replays the blocks builds the
 * same index. Only the difference is written.
 *
 * Query (search_query_run). Words: AND, each word must occur in at least
 * one field of an entry; the query words are tokenized as above, repeated
 * tokens counted once. Filters: level, domain, owner, the owner's role
 * (its Member record), kind, a price.amount range, and the status (active
 * by default, withdrawn, or any). Ranking: score = 3 per word found in the
 * title + 2 per word found in a tag + 1 per word found in the
 * description; higher scores first, ties by entry id ascending (bytewise).
 * Without words every entry matches (score 0) in id order. Paging: offset
 * and limit (1-SEARCH_LIMIT_MAX) over the ordered matches, plus the total
 * number of matches.
 *
 * Work. With words, the rarest word (the fewest postings, found by
 * stepping every word's list in turn until the first ends, so this costs
 * words x the rarest list) gives the candidates; each other word is
 * checked per candidate by three key lookups; the filters read the
 * candidate's record (and its owner's Member record for the role filter,
 * cached). So a query costs O(words x rarest list) lookups plus one record
 * read per candidate that has every word; memory is one match (about 100
 * bytes) per candidate. A query without words scans every entry in id
 * order and keeps only its page. A word query whose rarest word is in
 * more than SEARCH_CANDIDATES_MAX entries (10 MB of candidates), or a
 * scan of more than SEARCH_SCAN_MAX entries, is refused (TDEI_TOOBIG):
 * narrow the query.
 *
 * Pointers are non-NULL unless stated; errmsg is TDEI_ERRMSG_SIZE bytes.
 * Nothing here keeps global state. The functions taking a store read
 * follow store.h's thread rules for it. */
#ifndef TDEI_NODE_SEARCH_SEARCH_H
#define TDEI_NODE_SEARCH_SEARCH_H

#include "core/codec.h"
#include "exec/state.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* The "index" key prefix of the postings. */
#define SEARCH_INDEX_PREFIX "tok/"

/* Field bytes of a posting key. */
#define SEARCH_FIELD_TITLE 't'
#define SEARCH_FIELD_TAG 'g'
#define SEARCH_FIELD_DESCRIPTION 'd'

/* Token sizes, in bytes. */
#define SEARCH_TOKEN_MIN 2u
#define SEARCH_TOKEN_MAX 32u

/* Postings of one entry (distinct field and token pairs). */
#define SEARCH_ENTRY_TOKENS_MAX 512u

/* Tokens one entry's texts can hold at most: title, tags, description,
 * each token at least SEARCH_TOKEN_MIN bytes plus a separator. */
#define SEARCH_TEXT_TOKENS(bytes) (((bytes) + 1u) / (SEARCH_TOKEN_MIN + 1u))
#define SEARCH_RAW_TOKENS_MAX 2048u
_Static_assert(SEARCH_TEXT_TOKENS(CODEC_TITLE_MAX) +
                       CODEC_TAGS_MAX * SEARCH_TEXT_TOKENS(CODEC_TAG_MAX) +
                       SEARCH_TEXT_TOKENS(CODEC_DESCRIPTION_MAX) <=
                   SEARCH_RAW_TOKENS_MAX,
               "every token of a valid entry is seen");
_Static_assert(SEARCH_TEXT_TOKENS(CODEC_TITLE_MAX) +
                       CODEC_TAGS_MAX * SEARCH_TEXT_TOKENS(CODEC_TAG_MAX) <=
                   SEARCH_ENTRY_TOKENS_MAX,
               "the title and the tags are always indexed whole");

/* The longest posting key: prefix, field, token, 0x00, entry id. */
#define SEARCH_KEY_SIZE_MAX                                                    \
    (sizeof(SEARCH_INDEX_PREFIX) - 1u + 1u + SEARCH_TOKEN_MAX + 1u +           \
     CODEC_DATASET_ID_MAX)
_Static_assert(SEARCH_KEY_SIZE_MAX <= STORE_KEY_SIZE_MAX, "keys fit LMDB");

/* Query limits. */
#define SEARCH_WORDS_MAX 8u           /* words given, and distinct tokens */
#define SEARCH_WORD_SIZE_MAX 256u     /* bytes of one word as given */
#define SEARCH_LIMIT_MAX 100u         /* hits per page */
#define SEARCH_LIMIT_DEFAULT 20u      /* what clients use when not told */
#define SEARCH_CANDIDATES_MAX 100000u /* entries a word query examines */
#define SEARCH_SCAN_MAX 1000000u      /* entries a query without words */

/* The status filter (values 1 and 2 are Dataset.status). */
enum search_status {
    SEARCH_STATUS_DEFAULT = 0,   /* = active */
    SEARCH_STATUS_ACTIVE = 1,    /* active entries only */
    SEARCH_STATUS_WITHDRAWN = 2, /* withdrawn entries only */
    SEARCH_STATUS_ANY = 3        /* both */
};

/* One token: lowercased bytes, not NUL-terminated. */
struct search_token
{
    uint8_t len;                     /* SEARCH_TOKEN_MIN..SEARCH_TOKEN_MAX */
    uint8_t bytes[SEARCH_TOKEN_MAX]; /* the token */
};

/* A query. Zero means "no filter" for every filter field. */
struct search_query
{
    const char *const *words; /* as typed; NULL when word_count is 0 */
    size_t word_count;        /* 0..SEARCH_WORDS_MAX */
    uint32_t level;           /* 0 any, else 1-3 */
    uint32_t domain;          /* 0 any, else 1-CODEC_DOMAIN_MAX */
    const char *owner;        /* NULL or "" any, else a member id */
    uint32_t owner_role;      /* 0 any, else enum tdei_role (1-4) */
    uint32_t kind;            /* 0 any, else enum codec_kind (1-2) */
    uint64_t price_min;       /* price.amount >= this, credits */
    uint64_t price_max;       /* price.amount <= this; UINT64_MAX: none */
    uint32_t status;          /* enum search_status */
    uint64_t offset;          /* ordered matches skipped */
    uint32_t limit;           /* hits wanted, 1..SEARCH_LIMIT_MAX */
};

/* The distinct tokens of a query's words, in the order first given. */
struct search_words
{
    size_t count;                                 /* 0..SEARCH_WORDS_MAX */
    struct search_token tokens[SEARCH_WORDS_MAX]; /* the tokens */
};

/* One entry of a result page. */
struct search_hit
{
    char id[CODEC_DATASET_ID_MAX + 1]; /* the entry id */
    uint32_t score;                    /* 3 x title + 2 x tag + 1 x desc */
    const uint8_t *record;             /* its Dataset record as stored */
    size_t record_len;                 /* bytes of record */
};

/* One page of a query's answer. */
struct search_result
{
    uint64_t total;                           /* every match */
    size_t count;                             /* hits on this page */
    struct search_hit hits[SEARCH_LIMIT_MAX]; /* ordered (header comment) */
    struct search_words words;                /* the tokens searched */
};

/* ---- tokens -------------------------------------------------------------- */

/* Cut the @len bytes at @text into tokens (header comment).
 * Returns: the number of tokens found, including those past @cap.
 * In:    text: may be NULL when @len is 0.
 * Out:   out: the first @cap tokens in text order (may be NULL when @cap
 *        is 0); too_long: when not NULL, the number of runs longer than
 *        SEARCH_TOKEN_MAX, which are not tokens. */
size_t search_tokenize(const uint8_t *text, size_t len,
                       struct search_token *out, size_t cap, size_t *too_long);

/* Write the posting key of (@field, @token, entry @id of @id_len bytes)
 * into @out and return its length. @token must hold a token and @id_len
 * be 1..CODEC_DATASET_ID_MAX (asserted). */
size_t search_posting_key(uint8_t out[SEARCH_KEY_SIZE_MAX], uint8_t field,
                          const struct search_token *token, const char *id,
                          size_t id_len);

/* ---- the index ----------------------------------------------------------- */

/* Append to @batch the index changes of a block whose state writes are
 * @writes (@count of them, sorted as state_write_set lists them): for
 * every write under "dataset/", delete the postings of the record @r
 * holds under that key (none when it has none) that the new record lacks,
 * and put the new record's postings the old one lacks (a delete write
 * has none).
 * Returns: 0; TDEI_CORRUPT (a stored or written Dataset record does not
 * decode, or its key is not "dataset/" and an entry id: a bug or a
 * damaged store; errmsg names the key); TDEI_IOERR (reading @r);
 * TDEI_NOMEM; a batch error (store_batch_errmsg). On error @batch holds
 * part of the changes: reset it, never commit it.
 * In:    r: a read of the parent state (the block's base), borrowed.
 *        writes: borrowed for the call; may be NULL when @count is 0. */
int search_index_update(struct store_batch *batch, struct store_read *r,
                        const struct state_write *writes, size_t count,
                        char *errmsg);

/* ---- queries ------------------------------------------------------------- */

/* Check @q and tokenize its words into @words, refusing with the field,
 * the bad value and the accepted range: more than SEARCH_WORDS_MAX words
 * or distinct tokens, a word over SEARCH_WORD_SIZE_MAX bytes, a word with
 * a run over SEARCH_TOKEN_MAX bytes ("too long") or with no token at all,
 * level not 0-3, domain not 0-5, owner not a member id, owner_role not
 * 0-4, kind not 0-2, price_min > price_max, status not 0-3, limit not
 * 1-SEARCH_LIMIT_MAX.
 * Returns: 0 or TDEI_INVAL (errmsg says which field and why); on
 * TDEI_INVAL @words is zeroed. */
int search_query_check(const struct search_query *q, struct search_words *words,
                       char *errmsg);

/* Run @q over the snapshot @r: check it (search_query_check), find the
 * matches and fill @out with the page at q->offset.
 * Returns: 0; TDEI_INVAL (as search_query_check); TDEI_TOOBIG (more than
 * SEARCH_CANDIDATES_MAX candidates or SEARCH_SCAN_MAX entries scanned);
 * TDEI_CORRUPT (a record or a posting
 * key does not decode); TDEI_IOERR; TDEI_NOMEM. On error @out is zeroed.
 * Out:   out: hit records are borrowed from @r until store_read_end. */
int search_query_run(struct store_read *r, const struct search_query *q,
                     struct search_result *out, char *errmsg);

#endif
