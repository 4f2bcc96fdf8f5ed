/* Block execution (DESIGN.md sections 4, 6 and 8): genesis, blocks, the
 * app hash, the next header's execution fields, and queries.
 *
 * Execution follows commit: block H is executed after consensus decided
 * it; its results root and app hash appear in header H+1. Everything a
 * block changes goes into ONE store batch, which the node commits with
 * store_commit (execution never commits), so a block is applied whole or
 * not at all.
 *
 * Definitions (every node computes the same bytes):
 *   write set encoding  for each state write in sorted key order (memcmp,
 *                       a prefix first): u32 BE key length || key || u8
 *                       kind (1 put, 0 delete) || u32 BE value length ||
 *                       value (length 0 and no bytes for a delete).
 *   app_hash(0)         SHA256(write set encoding of the genesis state).
 *   app_hash(H)         SHA256(app_hash(H-1) || SHA256(write set
 *                       encoding of block H)); an empty block hashes the
 *                       empty encoding.
 *   results root        RFC 6962 root over the serialized TxResults of a
 *                       block in tx order (leaf = the whole TxResult);
 *                       SHA256("") for a block without txs.
 *   validators_hash     of header H: RFC 6962 root over the 32-byte node
 *                       keys, ascending (leaf = the key), of the set that
 *                       votes at H: the state record "validators" after
 *                       block H-1 (at H = 1: after genesis).
 *   next_validators_hash  of header H: the same root over the set of H+1:
 *                       "validators_next" after block H-1, or
 *                       "validators" when no change is pending. Changes
 *                       decided by block H take effect at H+2
 *                       (contract.h, "Validator-set changes").
 *   history head        new = SHA256(prev || tx id || code as u32 BE),
 *                       prev = 32 zero bytes for an object's first tx.
 *
 * Store layout written here (STORE_DB_*; state keys in
 * contracts/contract.h):
 *   blocks     height -> the block bytes as received
 *   block_ids  block id -> height
 *   txs        tx id -> height || index
 *   results    height || index -> serialized TxResult
 *   state      the write set of the block (or of genesis)
 *   index      "hist/" || u8 object key length || object key || height
 *              u64 BE || index u32 BE -> prev head || new head (64 bytes):
 *              an object's history, in order, for audits
 *              "tok/" || field byte || token || 0x00 || entry id -> empty:
 *              the catalog search postings of the "dataset/" records,
 *              updated from the block's write set (search/search.h)
 *   meta       EXEC_META_* below
 *
 * Per tx, in block order: the Tx and its TxBody decode (codec); the chain
 * id is the chain's; the signer is an operator key of an active member;
 * the nonce is the key's stored nonce + 1; the signature verifies. A tx
 * failing any of these makes the BLOCK invalid (an honest proposer never
 * includes one): exec_block returns the code and errmsg names the tx
 * index. Then the nonce is stored, and the op is dispatched to its
 * contract inside a tx checkpoint. A refusal keeps its code, reason and
 * history-head updates and consumes the nonce, but its state writes and
 * events are discarded.
 *
 * Validator sets: before anything else, block B moves a pending
 * "validators_next" into "validators" and into the history record "vset/"
 * B+1 (the set that votes from B+1 on), and deletes it; these writes are
 * part of the block's write set and app hash. The history is read by
 * height with exec_query_validators_at; a block's last_commit is checked
 * against the set of its height - 1, its proposer against the set of its
 * own height.
 *
 * Deadlines: before its first tx, every block (empty or not) runs
 * contract_block_begin once, on a ctx from contract_ctx_begin_block,
 * inside the block's overlay: the exchanges whose deadline fell due
 * expire (escrow back to the consumer) or settle (escrow to the owner),
 * and the block's due list is deleted. These writes are part of the
 * block's write set and app hash, but they extend no history head and
 * produce no TxResult: the exchange record itself shows the outcome
 * (status expired or settled, closed_height or settled_height = this
 * height), which follows deterministically from the rules and the
 * state. Block-begin work cannot be refused by construction; any
 * non-zero code from it fails the block (exec_block returns it, errmsg
 * "deadlines due at height H: ...").
 *
 * Pointers are non-NULL unless stated; errmsg is TDEI_ERRMSG_SIZE bytes.
 * A struct exec belongs to one thread at a time. Functions taking a store
 * read follow store.h's thread rules for it. */
#ifndef TDEI_NODE_EXEC_EXEC_H
#define TDEI_NODE_EXEC_EXEC_H

#include "contracts/contract.h"
#include "core/codec.h"
#include "exec/state.h"
#include "genesis.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* Meta keys (STORE_DB_META). */
#define EXEC_META_GENESIS_HASH "genesis_hash" /* 32 bytes: genesis hash */
#define EXEC_META_CHAIN_ID "chain_id"         /* the chain id's bytes */
#define EXEC_META_HEIGHT "height"             /* u64 BE; 0 after genesis */
#define EXEC_META_TIME "last_time_ms"         /* u64 BE; genesis time at 0 */
#define EXEC_META_APP_HASH "app_hash"         /* 32 bytes */
#define EXEC_META_RESULTS_ROOT "last_results_root" /* 32 bytes */
#define EXEC_META_BLOCK_ID "last_block_id"         /* 32 bytes; absent at 0 */

/* The byte budget of one block's state overlay (state.h). A protocol
 * constant, not a setting: every node must refuse the same writes. */
#define EXEC_STATE_BYTES_MAX (256u * TDEI_MIB)

/* A batch size that holds any block within the default limits: the block
 * (8 MiB), its state writes (EXEC_STATE_BYTES_MAX) and its results and
 * indexes. The batch grows on demand, so this is a cap, not a cost. */
#define EXEC_BATCH_SIZE_MAX (1024u * TDEI_MIB)

/* The "index" key prefix of object histories. */
#define EXEC_INDEX_HIST "hist/"

/* Tells execution which txs the mempool already verified.
 * verified: return 1 only when the exact pair (@tx_id, @sig) passed
 *   signature verification (a tx id covers the body, not the signature:
 *   matching on the id alone would let a forged signature through on the
 *   nodes that saw the genuine one, and split the network); 0 otherwise.
 *   Called from the executing thread. */
struct exec_verifier
{
    void *impl; /* the mempool's cache */
    int (*verified)(void *impl, const uint8_t tx_id[CODEC_HASH_SIZE],
                    const uint8_t sig[CODEC_SIG_SIZE]);
};

/* The last committed block (from meta). */
struct exec_tip
{
    char chain_id[TDEI_CHAIN_ID_MAX + 1];       /* the chain */
    uint8_t genesis_hash[CODEC_HASH_SIZE];      /* SHA-256 of genesis.json */
    uint64_t height;                            /* 0 after genesis */
    uint64_t time_ms;                           /* its time (genesis time) */
    uint8_t app_hash[CODEC_HASH_SIZE];          /* app_hash(height) */
    uint8_t last_results_root[CODEC_HASH_SIZE]; /* results of height */
    uint8_t last_block_id[CODEC_HASH_SIZE];     /* id of height; zeros at 0 */
};

/* What executing one block produced. */
struct exec_block_info
{
    uint64_t height;                       /* the block's height */
    uint8_t block_id[CODEC_HASH_SIZE];     /* SHA-256 of its header */
    uint8_t app_hash[CODEC_HASH_SIZE];     /* app_hash(height) */
    uint8_t results_root[CODEC_HASH_SIZE]; /* root of its TxResults */
    size_t tx_count;                       /* txs executed */
    size_t refused_count;                  /* of them refused (code != 0) */
    size_t write_count;                    /* state writes */
};

/* The header fields of the next block that depend on the chain and its
 * execution; the node adds time_ms (at least time_ms_min) and proposer,
 * then signs. */
struct exec_next_header
{
    char chain_id[TDEI_CHAIN_ID_MAX + 1];          /* the chain id */
    uint64_t height;                               /* tip + 1 */
    uint64_t time_ms_min;                          /* tip time + 1 */
    uint8_t last_block_id[CODEC_HASH_SIZE];        /* the tip's id */
    size_t last_block_id_len;                      /* 0 at height 1, else 32 */
    uint8_t txs_root[CODEC_HASH_SIZE];             /* root over the txs */
    uint8_t last_results_root[CODEC_HASH_SIZE];    /* the tip's results */
    uint8_t app_hash[CODEC_HASH_SIZE];             /* app_hash(tip) */
    uint8_t validators_hash[CODEC_HASH_SIZE];      /* this height's set */
    uint8_t next_validators_hash[CODEC_HASH_SIZE]; /* height + 1's set */
};

/* A signer key as the mempool and the API see it. */
struct exec_signer
{
    char member[TDEI_MEMBER_ID_MAX + 1]; /* the member it signs for */
    enum tdei_role role;                 /* that member's role */
    uint32_t status;                     /* enum codec_member_status */
    uint64_t nonce;                      /* last used nonce; next is +1 */
};

struct exec; /* buffers reused from block to block */

/* ---- life cycle ---------------------------------------------------------- */

/* Create an executor: its state overlay (EXEC_STATE_BYTES_MAX), contract
 * context and result buffers, allocated once and reused per block.
 * Returns: 0 or TDEI_NOMEM. Out: out, NULL on failure. */
int exec_create(struct exec **out);

/* Free @ex (may be NULL). */
void exec_destroy(struct exec *ex);

/* ---- genesis ------------------------------------------------------------- */

/* Append the genesis of @g to @batch: the state (per member: Member,
 * Account, OperatorKey per operator key, NodeKey; Params with
 * mint_enabled false, as genesis.json has no such param; ValidatorSet of
 * the validators by node key, as "validators" and as the first history
 * record "vset/" 1) and the meta of height 0 (genesis hash,
 * chain id, height 0, genesis time, app_hash(0), last_results_root
 * SHA256("")). The node calls it once, on an empty store
 * (exec_genesis_check said TDEI_NOTFOUND), and commits the batch.
 * Returns: 0, TDEI_INVAL (@g has no member or no validator), TDEI_NOMEM
 * or a batch error (TDEI_TOOBIG: batch too small). On error the batch
 * holds part of the genesis: reset it, never commit it.
 * In:  g: a parsed genesis (not a draft), borrowed.
 * Out: app_hash: app_hash(0); may be NULL. */
int exec_genesis(struct store_batch *batch, const struct genesis *g,
                 uint8_t app_hash[CODEC_HASH_SIZE], char *errmsg);

/* Compare the genesis recorded in the store with @g.
 * Returns: 0 (the store was made from @g, same hash and chain id);
 * TDEI_NOTFOUND (an empty store: call exec_genesis); TDEI_GENESIS_MISMATCH
 * (errmsg gives both hashes' prefixes and both chain ids); TDEI_CORRUPT
 * or TDEI_IOERR. */
int exec_genesis_check(struct store_read *r, const struct genesis *g,
                       char *errmsg);

/* ---- blocks -------------------------------------------------------------- */

/* Execute @block, the successor of the store's tip, and append all it
 * changes to @batch (see the header comment for the layout and meta).
 *
 * Header checks against the tip, in order: chain id (TDEI_CHAIN_ID);
 * height = tip + 1, time_ms > tip time, last_block_id = tip id, txs_root
 * over block->txs, last_results_root, app_hash, validators_hash and
 * next_validators_hash as exec_next_header gives them, proposer one of the
 * validators of this height, at most params.block_txs_max txs
 * (TDEI_BAD_BLOCK). Then block->last_commit, the commit of height - 1
 * (absent at height 1; the codec checked its height and block id):
 * cons_commit_verify with the chain's BIP-340 vote signatures (votes.h)
 * against the validator set of height - 1 (exec_query_validators_at):
 * precommits of more than 2/3 of it, each signature valid
 * (TDEI_NO_QUORUM, TDEI_NOT_VOTER, TDEI_BADSIG, TDEI_MALFORMED; errmsg
 * starts "block H last_commit"). Then every tx as in the header comment.
 * Returns: 0 (@out filled); TDEI_CHAIN_ID, TDEI_BAD_BLOCK, TDEI_MALFORMED,
 * TDEI_TOOBIG, TDEI_VERSION, TDEI_UNKNOWN_OP, TDEI_UNKNOWN_SIGNER,
 * TDEI_NONCE, TDEI_BADSIG, TDEI_NO_QUORUM, TDEI_NOT_VOTER (the block is
 * invalid; errmsg names the tx index or the commit and the rule); TDEI_NOSPACE (the block passes the state budget:
 * invalid); TDEI_NOMEM, TDEI_IOERR, TDEI_CORRUPT (this node failed:
 * retry, or restore the store); TDEI_NOTFOUND (no genesis committed);
 * a batch error (the batch is too small). On any error the batch holds
 * part of the block: reset it, never commit it; @out is zeroed.
 * In:  r: a read of the store whose tip the block follows; borrowed.
 *      block, header: the decoded block (codec_block_decode) and its
 *      decoded header; block_bytes, block_len: the block as received,
 *      stored as is. verifier: may be NULL (verify every signature).
 * Out: batch: the block's ops appended; may be NULL to only check the
 *      block (block_bytes may then be NULL). out, errmsg.
 * State: @ex's buffers are reused; the result is independent of what @ex
 *      executed before. */
int exec_block(struct exec *ex, struct store_batch *batch,
               struct exec_block_info *out, struct store_read *r,
               const Tdei__Block *block, const Tdei__Header *header,
               const uint8_t *block_bytes, size_t block_len,
               const struct exec_verifier *verifier, char *errmsg);

/* Compute the execution fields of the header that follows the tip of
 * @r's store, for the @n txs @txs (serialized Tx, as in Block.txs).
 * Returns: 0, TDEI_NOTFOUND (no genesis), TDEI_CORRUPT, TDEI_IOERR or
 * TDEI_NOMEM.
 * In:  txs: may be NULL when @n is 0; borrowed. Out: out, errmsg. */
int exec_next_header(struct store_read *r, const ProtobufCBinaryData *txs,
                     size_t n, struct exec_next_header *out, char *errmsg);

/* Set in @header (initialised with TDEI__HEADER__INIT) version, chain id,
 * height, last_block_id, txs_root, last_results_root, app_hash and both
 * validator hashes from @next. The caller sets time_ms and proposer.
 * Ownership: @header points into @next; keep @next alive while @header is
 * used. */
void exec_header_fill(Tdei__Header *header, struct exec_next_header *next);

/* ---- queries (API, mempool) over a store read ---------------------------- */

/* Read the tip. Returns: 0, TDEI_NOTFOUND (no genesis), TDEI_CORRUPT or
 * TDEI_IOERR. */
int exec_query_tip(struct store_read *r, struct exec_tip *out, char *errmsg);

/* Read member @id's balance. Returns: 0, TDEI_UNKNOWN_MEMBER,
 * TDEI_CORRUPT or TDEI_IOERR; *balance is 0 on error. */
int exec_query_balance(struct store_read *r, const char *id, uint64_t *balance,
                       char *errmsg);

/* Look up operator key @signer: its member, role, status and last nonce.
 * Returns: 0, TDEI_UNKNOWN_SIGNER (not a registered operator key),
 * TDEI_CORRUPT or TDEI_IOERR. */
int exec_query_signer(struct store_read *r,
                      const uint8_t signer[CODEC_KEY_SIZE],
                      struct exec_signer *out, char *errmsg);

/* Read the last nonce of @signer (0 before its first tx).
 * Returns: as exec_query_signer. */
int exec_query_nonce(struct store_read *r, const uint8_t signer[CODEC_KEY_SIZE],
                     uint64_t *nonce, char *errmsg);

/* Read member @id's record. Returns: 0 (*out the caller's; free with
 * codec_member_free), TDEI_UNKNOWN_MEMBER, TDEI_CORRUPT, TDEI_IOERR or
 * TDEI_NOMEM; *out NULL on error. */
int exec_query_member(struct store_read *r, const char *id, Tdei__Member **out,
                      char *errmsg);

/* Find tx @tx_id: its height and index, and (@result not NULL) its
 * TxResult (the caller's; free with codec_txresult_free).
 * Returns: 0, TDEI_NOTFOUND (not in a committed block), TDEI_CORRUPT,
 * TDEI_IOERR or TDEI_NOMEM. */
int exec_query_tx(struct store_read *r, const uint8_t tx_id[CODEC_HASH_SIZE],
                  uint64_t *height, uint32_t *index, Tdei__TxResult **result,
                  char *errmsg);

/* Read the history head of the object with state key @object (@olen
 * bytes, 1..CODEC_OBJECT_KEY_MAX); 32 zero bytes when never touched.
 * Returns: 0, TDEI_INVAL (bad length), TDEI_CORRUPT or TDEI_IOERR. */
int exec_query_head(struct store_read *r, const uint8_t *object, size_t olen,
                    uint8_t head[CONTRACT_HEAD_SIZE], char *errmsg);

/* Read the ledger params. Returns: 0 (*out the caller's; free with
 * codec_params_free), TDEI_NOTFOUND (no genesis), TDEI_CORRUPT,
 * TDEI_IOERR or TDEI_NOMEM. */
int exec_query_params(struct store_read *r, Tdei__Params **out, char *errmsg);

/* Read the limits the ledger params set on txs, blocks and commits (the
 * decoders' codec_limits) into @out, and params.max_clock_skew_ms into
 * *@skew_ms unless it is NULL. Returns as exec_query_params. */
int exec_query_limits(struct store_read *r, struct codec_limits *out,
                      uint64_t *skew_ms, char *errmsg);

/* Read the validator set of the next height (tip + 1: the set that votes
 * on the next block; "validators"). Returns as exec_query_params; free
 * with codec_validator_set_free. */
int exec_query_validators(struct store_read *r, Tdei__ValidatorSet **out,
                          char *errmsg);

/* Read the validator set that votes at @height: from the history for
 * heights up to tip + 1, the pending set (or the current one) for tip + 2.
 * Returns: 0 (*out the caller's; free with codec_validator_set_free);
 * TDEI_INVAL (@height 0); TDEI_NOTFOUND (@height above tip + 2: block
 * @height - 2, which decides it, is not committed; or no genesis);
 * TDEI_CORRUPT (no history record at or below @height, or one that does
 * not decode), TDEI_IOERR or TDEI_NOMEM. *out NULL on error. */
int exec_query_validators_at(struct store_read *r, uint64_t height,
                             Tdei__ValidatorSet **out, char *errmsg);

/* Walk the validator-set history: the first change after height @after,
 * that is the history record with the lowest height above @after (@after
 * 0 gives the genesis set, from height 1).
 * Returns: 0 (*from the height it votes from, *out the set, the caller's;
 * free with codec_validator_set_free); TDEI_NOTFOUND (no change after
 * @after; *from 0); TDEI_CORRUPT, TDEI_IOERR or TDEI_NOMEM. Only changes
 * in force by tip + 1 are listed: a pending one is read with
 * exec_query_validators_at(tip + 2). */
int exec_query_validators_change(struct store_read *r, uint64_t after,
                                 uint64_t *from, Tdei__ValidatorSet **out,
                                 char *errmsg);

#endif
