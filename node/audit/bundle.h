/* Audit bundles (DESIGN.md section 10; the format is doc/bundle.md):
 * everything needed to check the history of one ledger object offline,
 * from the genesis file alone.
 *
 * A bundle holds, for one object (a dataset or stream entry, an exchange
 * or a member), every tx that extended its history head, each with its
 * TxResult and the RFC 6962 inclusion proofs of both (the tx under its
 * header's txs_root, the result under the next header's
 * last_results_root); the headers of those heights with a commit each;
 * and the validator-set changes from genesis up to them, each announced
 * by a header (next_validators_hash) whose commit the bundle carries.
 * Ledger objects are carried as the exact bytes that are hashed and
 * signed, in hex.
 *
 * The text is canonical JSON: bundle_encode writes one byte sequence for
 * a bundle, and bundle_decode accepts only that sequence (it encodes what
 * it decoded again and compares), so that any change to any byte of a
 * bundle is refused, by the decoder or by a check of bundle_verify.
 *
 * bundle_verify checks, with no node and no network: each header's commit
 * (more than 2/3 of the validator set of its height, every signature),
 * following every set change from genesis; header links and validator
 * hashes; every tx signature; both inclusion proofs of every tx; and the
 * history chain of the object without a gap from its creation (prev head
 * 32 zero bytes) to the last event. It also builds the timeline.
 *
 * Nothing here does I/O: text and bundles are buffers. Pointers are
 * non-NULL unless stated; errmsg is TDEI_ERRMSG_SIZE bytes. Functions
 * share no state and may run on any thread (tdei_crypto_init first);
 * bundle_verify may start threads of its own and joins them before it
 * returns. */
#ifndef TDEI_AUDIT_BUNDLE_H
#define TDEI_AUDIT_BUNDLE_H

#include "core/codec.h"
#include "core/limits.h"
#include "core/merkle.h"
#include "genesis.h"

#include <stddef.h>
#include <stdint.h>

/* The format version ("tdei_bundle"). */
#define BUNDLE_VERSION 1u

/* Bounds of what bundle_decode takes. A bundle over them is refused
 * (TDEI_TOOBIG), so memory stays bounded by the file size. */
#define BUNDLE_TEXT_MAX (1024u * TDEI_MIB) /* bytes of bundle text */
#define BUNDLE_EVENTS_MAX 1000000u         /* events */
/* Headers: two per event, and one per change. */
#define BUNDLE_HEADERS_MAX 2100000u
#define BUNDLE_CHANGES_MAX 100000u /* validator-set changes */
/* A tx: the ceiling of params.tx_size_max. */
#define BUNDLE_TX_SIZE_MAX (64u * TDEI_MIB)
/* Txs of a block: the ceiling of params.block_txs_max. */
#define BUNDLE_TREE_SIZE_MAX 100000u
/* Keys of a set: the engine's CONS_VALIDATORS_MAX. */
#define BUNDLE_VALIDATORS_MAX 128u
#define BUNDLE_ID_MAX 64u        /* an entry id, or 64 hex digits */
#define BUNDLE_VERIFY_THREADS 8u /* threads bundle_verify uses at most */

/* The kind of object a bundle is about, and its state key:
 *   dataset, stream  "dataset/" id (an entry and its stream share it)
 *   exchange         "exchange/" and the 32-byte exchange id (the id is
 *                    given as 64 hex digits)
 *   member           "member/" id */
enum bundle_kind {
    BUNDLE_KIND_DATASET = 1,
    BUNDLE_KIND_STREAM = 2,
    BUNDLE_KIND_EXCHANGE = 3,
    BUNDLE_KIND_MEMBER = 4
};

/* An RFC 6962 inclusion proof as carried (the "inclusion" documents of
 * `tdei proof`). */
struct bundle_proof
{
    uint8_t leaf_hash[MERKLE_HASH_SIZE]; /* SHA256(0x00 || leaf bytes) */
    uint64_t leaf_index;                 /* from 0 */
    uint64_t tree_size;                  /* leaves in the tree */
    uint8_t root[MERKLE_HASH_SIZE];      /* the root it leads to */
    size_t count;                        /* entries of @path */
    uint8_t (*path)[MERKLE_HASH_SIZE];   /* leaf to root; owned (tdei_malloc),
                                            NULL when @count is 0 */
};

/* One tx of the object's history. */
struct bundle_event
{
    uint64_t height; /* its block */
    uint32_t index;  /* its position in the block */
    uint8_t *tx;     /* the serialized Tx; owned */
    size_t tx_len;
    uint8_t *result; /* its serialized TxResult; owned */
    size_t result_len;
    struct bundle_proof tx_proof;     /* under header height's txs_root */
    struct bundle_proof result_proof; /* under header height + 1's
                                         last_results_root */
};

/* A header and a commit of its block. */
struct bundle_header
{
    uint64_t height;
    uint8_t *header; /* the serialized Header (block id = its SHA-256) */
    size_t header_len;
    uint8_t *commit; /* a serialized Commit of the block */
    size_t commit_len;
};

/* A validator-set change: the set that votes from @from_height on. */
struct bundle_change
{
    uint64_t from_height;              /* header from_height - 1 announces it */
    size_t count;                      /* keys, 1..BUNDLE_VALIDATORS_MAX */
    uint8_t (*keys)[TDEI_PUBKEY_SIZE]; /* node keys, strictly ascending;
                                          owned */
};

/* A bundle. Arrays and buffers are owned (bundle_free releases them). */
struct bundle
{
    char chain_id[TDEI_CHAIN_ID_MAX + 1]; /* the chain */
    enum bundle_kind kind;                /* the object's kind */
    char id[BUNDLE_ID_MAX + 1];           /* its id (exchange: 64 hex) */
    uint8_t key[CODEC_OBJECT_KEY_MAX];    /* its state key */
    size_t key_len;
    uint64_t as_of;                /* the highest header: the
                                      bundle holds the object's
                                      events below it */
    uint8_t head[CODEC_HASH_SIZE]; /* the object's head after
                                      them */
    struct bundle_change *changes; /* ascending from_height */
    size_t change_count;
    struct bundle_header *headers; /* ascending height */
    size_t header_count;
    struct bundle_event *events; /* ascending (height, index) */
    size_t event_count;
};

/* The name of @kind ("dataset", "stream", "exchange", "member"), or "?". */
const char *bundle_kind_name(enum bundle_kind kind);

/* Parse a kind name. Returns: 0 (*out set) or TDEI_INVAL. */
int bundle_kind_parse(const char *name, enum bundle_kind *out);

/* Build the state key of object @id of @kind into @out (*len bytes).
 * Returns: 0; TDEI_INVAL when @id is not an entry id (3-64 bytes of
 * [a-z0-9-]: dataset, stream), a member id (3-32 bytes of [a-z0-9-]) or
 * 64 lower-case hex digits (exchange); errmsg says which. */
int bundle_object_key(enum bundle_kind kind, const char *id,
                      uint8_t out[CODEC_OBJECT_KEY_MAX], size_t *len,
                      char *errmsg);

/* The header of @height in @b, whose headers ascend by height, or NULL.
 * A binary search. */
const struct bundle_header *bundle_header_find(const struct bundle *b,
                                               uint64_t height);

/* Release what @b owns and zero it (a zeroed bundle is empty). */
void bundle_free(struct bundle *b);

/* Write @b as canonical bundle text (doc/bundle.md) into a new buffer.
 * Returns: 0 or TDEI_NOMEM. Out: *out (tdei_free it; NUL-terminated,
 * not counted in *len) and *len. */
int bundle_encode(const struct bundle *b, char **out, size_t *len);

/* Parse bundle text. Every field is checked for its type, form and
 * bounds, every key must be known and present, and the text must be
 * exactly what bundle_encode writes for what was read.
 * Returns: 0 (@b filled; free with bundle_free); TDEI_TOOBIG (over a
 * BUNDLE_* bound); TDEI_MALFORMED (not JSON, a missing, unknown or
 * malformed field, or not canonical: errmsg names the field or the
 * byte); TDEI_VERSION (another tdei_bundle version); TDEI_NOMEM. On error
 * @b is empty.
 * In: text, len: borrowed for the call. */
int bundle_decode(struct bundle *b, const char *text, size_t len, char *errmsg);

/* Where a member name in the timeline comes from. */
enum bundle_member_source {
    BUNDLE_MEMBER_UNKNOWN = 0, /* the bundle cannot tell (a refused tx
                                  of a key the genesis does not name) */
    BUNDLE_MEMBER_EVENT,       /* an event of this tx's result names it */
    BUNDLE_MEMBER_GENESIS,     /* genesis gives the signer key to it */
    BUNDLE_MEMBER_SAME_KEY     /* an event of another tx of the same
                                  signer key in the bundle names it */
};

/* One line of the timeline: one verified event. */
struct bundle_row
{
    uint64_t height;                     /* block */
    uint32_t index;                      /* position in the block */
    uint64_t time_ms;                    /* the block's header time */
    uint8_t tx_id[CODEC_HASH_SIZE];      /* SHA-256 of the tx body */
    uint8_t signer[TDEI_PUBKEY_SIZE];    /* the operator key that signed */
    char member[TDEI_MEMBER_ID_MAX + 1]; /* its member, "" when unknown */
    enum bundle_member_source member_source;
    char action[48]; /* the op, e.g. "exchange_request" */
    uint64_t price;  /* credits, when has_price */
    int has_price;
    uint32_t code;    /* TxResult.code: 0 applied */
    char *log;        /* TxResult.log (tdei_malloc'd),
                         NULL when empty */
    char detail[160]; /* what else the op says: an
                         entry, an exchange, a status */
};

/* An exchange whose last event in the bundle left a deadline open
 * (approval, delivery or confirmation). Deadlines are processed at the
 * start of a block and make no TxResult, so a bundle cannot show whether
 * the exchange then expired or settled. */
struct bundle_deadline
{
    char exchange[2 * CODEC_HASH_SIZE + 1]; /* its id, hex */
    char status[24];                        /* the status it was left in */
    uint64_t height;                        /* the height of that event */
    uint64_t deadline;                      /* the deadline's height */
};

/* What bundle_verify found. */
struct bundle_report
{
    struct bundle_row *rows; /* one per verified event, in order; owned */
    size_t row_count;
    size_t headers_verified;           /* headers whose commit verified */
    size_t tx_signatures;              /* tx signatures checked */
    size_t commit_signatures;          /* commit signatures checked */
    size_t proofs;                     /* inclusion proofs checked */
    size_t changes;                    /* validator-set changes followed */
    struct bundle_deadline *deadlines; /* open deadlines, by exchange in
                                          order of their last event; owned */
    size_t deadline_count;
};

/* Release what @rep owns and zero it. */
void bundle_report_free(struct bundle_report *rep);

/* Verify @b against genesis @g (its chain id, its validator set for
 * height 1 and its members' operator keys) and fill @rep.
 * Checks, in order (doc/bundle.md "What tdei verify checks"):
 *   1. the chain id and the object key;
 *   2. every validator-set change is announced by a header in the
 *      bundle; headers: their own height and chain, the commit for their
 *      block id, linked to the previous header when it is there, time
 *      increasing, validators_hash the set of their height and
 *      next_validators_hash that of the next height (the sets from
 *      genesis through every change), and the commit: more than 2/3 of
 *      the set of its height, every signature valid;
 *   3. each event: ordered by (height, index); its tx decodes, is for
 *      the chain and its signature verifies; both inclusion proofs hold
 *      and lead to the header fields; its result extends the object's
 *      history chain from the previous event's head (the first from 32
 *      zero bytes): new = SHA256(prev || tx id || code as u32 BE);
 *   4. as_of is the height of the highest header of the bundle, above
 *      the last event's, and head is the last event's new head.
 * The signatures (commits and txs, the bulk of the work) are checked on
 * up to @threads threads (at most BUNDLE_VERIFY_THREADS; 0 or 1: this
 * one only); the outcome and the failure named do not depend on it.
 * Returns: 0 (every check passed; @rep holds the timeline); else the code
 * of the first failure, errmsg naming it ("events[3] (height 12, index
 * 0): tx signature does not verify"): TDEI_CHAIN_ID, TDEI_MALFORMED,
 * TDEI_BADSIG, TDEI_BADPROOF (a proof, a link, a hash or the history
 * chain), TDEI_NO_QUORUM, TDEI_NOT_VOTER, TDEI_NOMEM. On failure @rep
 * holds the rows verified before it.
 * In: b, g: borrowed. Out: rep (free with bundle_report_free), errmsg. */
int bundle_verify(const struct bundle *b, const struct genesis *g,
                  unsigned threads, struct bundle_report *rep, char *errmsg);

#endif
