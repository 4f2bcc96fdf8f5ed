/* Ledger codec: the one gate between bytes and tdei.proto messages
 * (DESIGN.md sections 3-5, STYLE.md section 1).
 *
 * Every decoder here wraps protobuf-c and then enforces what protobuf
 * cannot: sizes and counts before anything is allocated, the exact length
 * of keys (32 bytes), hashes (32) and signatures (64), identifier
 * alphabets, versions, and one canonical encoding. A decoder accepts bytes
 * only when they are exactly what protobuf-c writes for the message it
 * decoded (fields in ascending number order, each once, no default scalar
 * written out, shortest varints, no NUL inside a string) and no field of
 * the message is unknown to this schema. So one meaning has one encoding,
 * and a message that decodes re-encodes to the very bytes that came in.
 *
 * Decoders check the structure of one message (and the agreement of its
 * parts, e.g. a proposal's block id with its block's header), never
 * signatures, quorums, nonces, balances or the node's own chain id: those
 * belong to the caller (mempool, consensus, contracts), which compares
 * body->chain_id with its own and returns TDEI_CHAIN_ID.
 *
 * Memory: decoded messages are allocated through tdei_malloc (leak tests
 * count them) and never alias the input; free each with its codec_*_free.
 * Encoders return a buffer from tdei_malloc; free it with tdei_free.
 *
 * Every function is reentrant and keeps no state: any thread may call any
 * of them at any time. Pointers are non-NULL unless stated. Each errmsg is
 * a buffer of TDEI_ERRMSG_SIZE bytes; on error it says what was wrong,
 * echoes the bad value and gives the accepted range ("tx is 70000 bytes;
 * the limit is 65536 (params.tx_size_max)"); on success it is untouched.
 */
#ifndef TDEI_CORE_CODEC_H
#define TDEI_CORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "tdei.pb-c.h"

/* The schema version of TxBody and Header (their `version` field), and of
 * the vote and proposal sign-bytes layouts (their first byte). */
#define CODEC_VERSION 1u

/* Fixed sizes on the wire. */
#define CODEC_HASH_SIZE 32u /* block ids, roots, app hash, history heads */
#define CODEC_KEY_SIZE 32u  /* x-only node and operator keys */
#define CODEC_SIG_SIZE 64u  /* BIP-340 signatures */

/* Wire limits that no param changes: each bounds a field that is not
 * otherwise bounded, or the size of a message whose largest valid encoding
 * is known (so that hostile bytes are refused before protobuf-c allocates).
 * Execution must never produce a TxResult beyond these. */
#define CODEC_MEMO_MAX 256u          /* Transfer.memo, bytes of UTF-8 */
#define CODEC_HEADER_SIZE_MAX 512u   /* a valid Header is <= 332 bytes */
#define CODEC_VOTE_SIZE_MAX 256u     /* a valid Vote is <= 157 bytes */
#define CODEC_EVIDENCE_SIZE_MAX 512u /* two votes: <= 320 bytes */
#define CODEC_RESULT_SIZE_MAX (64u * TDEI_KIB) /* serialized TxResult */
#define CODEC_LOG_MAX 1024u        /* TxResult.log, bytes of UTF-8 */
#define CODEC_EVENTS_MAX 64u       /* events per TxResult */
#define CODEC_ATTRS_MAX 32u        /* attributes per Event */
#define CODEC_EVENT_TYPE_MAX 64u   /* Event.type, [a-z0-9._-] */
#define CODEC_ATTR_KEY_MAX 64u     /* Attr.key, [a-z0-9._-] */
#define CODEC_ATTR_VALUE_MAX 1024u /* Attr.value, bytes of UTF-8 */
#define CODEC_HEADS_MAX 32u        /* history heads per TxResult */
#define CODEC_OBJECT_KEY_MAX 128u  /* HeadUpdate.object, bytes */

/* The largest valid encodings of a Commit and a ValidatorSet with @n
 * entries: 51 bytes of height, round and block id plus 102 per signature;
 * 70 bytes per validator. Rounded up. */
#define CODEC_COMMIT_SIZE_MAX(n) (64u + 104u * (n))
#define CODEC_VALIDATOR_SET_SIZE_MAX(n) (72u * (n))

/* A proposal is its block plus at most this many bytes of its own. */
#define CODEC_PROPOSAL_OVERHEAD_MAX 256u

/* Vote types (Vote.type and the type byte of the vote sign bytes). */
enum codec_vote_type {
    CODEC_VOTE_PREVOTE = 1,  /* PREVOTE(h, r, id | nil) */
    CODEC_VOTE_PRECOMMIT = 2 /* PRECOMMIT(h, r, id | nil) */
};

/* The on-ledger params that bound blocks, commits and validator sets.
 * Callers fill one from the current params (or CODEC_LIMITS_DEFAULT).
 * Decoders assert validators_max in 1..2^20 and block_size_max at most
 * SIZE_MAX / 2: params outside those are a bug of the caller. */
struct codec_limits {
    size_t tx_size_max;    /* params.tx_size_max: bytes per serialized Tx */
    size_t block_size_max; /* params.block_size_max: bytes per Block */
    size_t block_txs_max;  /* params.block_txs_max: txs per Block */
    size_t validators_max; /* params.validators_max: sigs per Commit,
                              validators per ValidatorSet */
};

/* The defaults of DESIGN.md section 4 (core/limits.h). */
#define CODEC_LIMITS_DEFAULT                                                  \
    {                                                                         \
        .tx_size_max = TDEI_TX_SIZE_MAX,                                      \
        .block_size_max = TDEI_BLOCK_SIZE_MAX,                                \
        .block_txs_max = TDEI_BLOCK_TXS_MAX,                                  \
        .validators_max = TDEI_VALIDATORS_MAX,                                \
    }

/* ------------------------------------------------------------------------
 * Identities
 * ------------------------------------------------------------------------ */

/* Compute the id of a tx: SHA-256 of its body bytes exactly as carried in
 * Tx.body (not a re-encoding), so a second signature over one body never
 * makes a second id. @body may be NULL when @len is 0.
 * Out: out, the 32-byte id. */
void codec_tx_id(uint8_t out[CODEC_HASH_SIZE], const uint8_t *body,
                 size_t len);

/* Compute the id of a block: SHA-256 of its serialized header exactly as
 * carried in Block.header. @header may be NULL when @len is 0.
 * Out: out, the 32-byte id. */
void codec_block_id(uint8_t out[CODEC_HASH_SIZE], const uint8_t *header,
                    size_t len);

/* Compute the id of an equivocation: SHA-256 of the serialized @evidence
 * with both votes' sig emptied, so that it names (validator, height,
 * round, type, the two block ids) and not the signatures: a validator may
 * sign one vote twice (BIP-340 signatures take fresh randomness), and
 * either copy must give the same id. The state key of its record is
 * "evidence/" id (contracts/contract.h).
 * In:  evidence: one that codec_evidence_decode accepted, or the evidence
 *      op of a TxBody that codec_txbody_decode accepted (asserted).
 * Out: out, the 32-byte id. */
void codec_evidence_id(uint8_t out[CODEC_HASH_SIZE],
                       const Tdei__Evidence *evidence);

/* ------------------------------------------------------------------------
 * Sign bytes: fixed binary layouts, not protobuf
 *
 * Votes and proposals are signed over these layouts (BIP-340 over
 * tagged_hash(tag, sign bytes)), so a signature can be re-checked from the
 * fields alone: a commit from (chain id, height, round, block id) and each
 * validator's key. Integers are big-endian; n is the chain id's length
 * (1-64); the chain id is its ASCII bytes with no terminator.
 *
 * Vote, tag "tdei/vote" (TDEI_TAG_VOTE), 48 + n bytes, at most 112:
 *   offset  size  field
 *   0       1     layout version, 0x01
 *   1       1     n
 *   2       n     chain id
 *   2+n     1     type: 0x01 prevote, 0x02 precommit
 *   3+n     8     height, u64
 *   11+n    4     round, u32
 *   15+n    1     0x00 nil, 0x01 a block
 *   16+n    32    block id; 32 zero bytes for nil
 *
 * Proposal, tag "tdei/proposal" (TDEI_TAG_PROPOSAL), 50 + n bytes, at most
 * 114:
 *   offset  size  field
 *   0       1     layout version, 0x01
 *   1       1     n
 *   2       n     chain id
 *   2+n     8     height, u64
 *   10+n    4     round, u32
 *   14+n    4     pol_round, i32 two's complement (-1 = ff ff ff ff)
 *   18+n    32    block id (a proposal is never nil)
 *
 * Example: chain "tdei-test", precommit, height 812, round 3, block id
 * 00 01 .. 1f gives 01 09 74646569 2d74657374 02 000000000000032c 00000003
 * 01 000102..1f (57 bytes).
 * ------------------------------------------------------------------------ */

#define CODEC_VOTE_SIGN_BYTES_MAX (48u + TDEI_CHAIN_ID_MAX)
#define CODEC_PROPOSAL_SIGN_BYTES_MAX (50u + TDEI_CHAIN_ID_MAX)

/* Build the vote sign bytes of (@chain_id, @type, @height, @round,
 * @block_id) into @out.
 * Returns: the number of bytes written, 48 + strlen(@chain_id).
 * In:  chain_id: the node's chain id, 1-64 bytes of [a-z0-9-] (asserted);
 *      type: CODEC_VOTE_PREVOTE or CODEC_VOTE_PRECOMMIT (asserted);
 *      block_id: 32 bytes, or NULL for a nil vote.
 * Out: out, CODEC_VOTE_SIGN_BYTES_MAX bytes of room. */
size_t codec_vote_sign_bytes(uint8_t out[CODEC_VOTE_SIGN_BYTES_MAX],
                             const char *chain_id, enum codec_vote_type type,
                             uint64_t height, uint32_t round,
                             const uint8_t *block_id);

/* Build the sign bytes of @vote, a vote that codec_vote_decode accepted
 * (or one built with the same field rules: asserted). Returns and Out as
 * codec_vote_sign_bytes. */
size_t codec_vote_msg_sign_bytes(uint8_t out[CODEC_VOTE_SIGN_BYTES_MAX],
                                 const char *chain_id,
                                 const Tdei__Vote *vote);

/* Build the sign bytes that every signature of @commit (a commit that a
 * codec decoder accepted) must verify against: a precommit for
 * (@commit->height, round, block_id). Returns and Out as
 * codec_vote_sign_bytes. */
size_t codec_commit_sign_bytes(uint8_t out[CODEC_VOTE_SIGN_BYTES_MAX],
                               const char *chain_id,
                               const Tdei__Commit *commit);

/* Build the proposal sign bytes of (@chain_id, @height, @round,
 * @pol_round, @block_id) into @out.
 * Returns: the number of bytes written, 50 + strlen(@chain_id).
 * In:  chain_id as codec_vote_sign_bytes; pol_round: -1 or a round below
 *      @round (asserted); block_id: 32 bytes.
 * Out: out, CODEC_PROPOSAL_SIGN_BYTES_MAX bytes of room. */
size_t codec_proposal_sign_bytes(uint8_t out[CODEC_PROPOSAL_SIGN_BYTES_MAX],
                                 const char *chain_id, uint64_t height,
                                 uint32_t round, int32_t pol_round,
                                 const uint8_t block_id[CODEC_HASH_SIZE]);

/* Build the sign bytes of @proposal, one that codec_proposal_decode
 * accepted (field rules asserted). Returns and Out as
 * codec_proposal_sign_bytes. */
size_t
codec_proposal_msg_sign_bytes(uint8_t out[CODEC_PROPOSAL_SIGN_BYTES_MAX],
                              const char *chain_id,
                              const Tdei__Proposal *proposal);

/* ------------------------------------------------------------------------
 * Decoders
 *
 * Common to all: on 0, *out holds the decoded message, owned by the caller
 * (free it with the matching codec_*_free); on any error *out is NULL and
 * nothing stays allocated. The input is borrowed for the call only.
 * Every decoder may return:
 *   TDEI_MALFORMED  not protobuf, not the canonical encoding, a field this
 *                   schema does not know, or a field outside its rule (the
 *                   message names the field, its value and the rule);
 *   TDEI_TOOBIG     a size or a count over its limit (the message names
 *                   the limit and the param that sets it), checked before
 *                   anything is unpacked where the bytes allow it;
 *   TDEI_NOMEM      out of memory (retry later or lower the limits).
 * Fixed lengths and identifier formats are TDEI_MALFORMED; sizes and
 * counts with a limit are TDEI_TOOBIG.
 * ------------------------------------------------------------------------ */

/* Decode a Tx: the signed envelope. Its body is not decoded (call
 * codec_txbody_decode on tx->body) and its signature not verified.
 * Checks: @len <= @max_size before anything is unpacked; body 1 byte or
 * more; sig exactly 64 bytes.
 * Returns: 0, TDEI_TOOBIG (@len over @max_size: "tx is 70000 bytes; the
 * limit is 65536 (params.tx_size_max)"), TDEI_MALFORMED or TDEI_NOMEM.
 * In:  buf, len: the serialized Tx; max_size: params.tx_size_max.
 * Out: out, errmsg. */
int codec_tx_decode(Tdei__Tx **out, const uint8_t *buf, size_t len,
                    size_t max_size, char *errmsg);

/* Decode a TxBody, normally the bytes of a Tx.body that codec_tx_decode
 * accepted (which bounds their size).
 * Checks, in this order: version is 1; every unknown field is refused, one
 * numbered 16 or above as an unknown op; an op is set; chain_id is 1-64
 * bytes of [a-z0-9-]; signer is 32 bytes; nonce >= 1; the op's member ids
 * are 3-32 bytes of [a-z0-9-], amounts >= 1, a memo valid UTF-8 of at most
 * CODEC_MEMO_MAX bytes; the evidence op passes the very check of
 * codec_evidence_decode (size, both votes, same validator, height, round
 * and type, different block ids in canonical order); the encoding is
 * canonical.
 * Returns: 0; TDEI_VERSION (a body of another schema version: upgrade
 * tdei); TDEI_UNKNOWN_OP (an op this node does not know: upgrade tdei, or
 * the sender uses a newer schema); TDEI_TOOBIG (a memo over
 * CODEC_MEMO_MAX); TDEI_MALFORMED ("tx has no op", or a field outside its
 * rule); TDEI_NOMEM.
 * In:  buf, len: the serialized TxBody.
 * Out: out, errmsg. */
int codec_txbody_decode(Tdei__TxBody **out, const uint8_t *buf, size_t len,
                        char *errmsg);

/* Decode a Header, normally the bytes of a Block.header.
 * Checks: @len <= CODEC_HEADER_SIZE_MAX; version is 1; chain_id as for a
 * tx; height >= 1; time_ms >= 1; last_block_id empty at height 1 and 32
 * bytes at every other height; txs_root, last_results_root, app_hash,
 * validators_hash, next_validators_hash and proposer 32 bytes each.
 * Returns: 0, TDEI_TOOBIG, TDEI_VERSION, TDEI_MALFORMED or TDEI_NOMEM.
 * In:  buf, len: the serialized Header.
 * Out: out, errmsg. */
int codec_header_decode(Tdei__Header **out, const uint8_t *buf, size_t len,
                        char *errmsg);

/* Decode a Block and its header.
 * Checks, before unpacking (by a bounded scan of the wire format, so that
 * a hostile block cannot make protobuf-c allocate per empty entry): @len
 * <= block_size_max, at most block_txs_max txs, a last_commit of at most
 * CODEC_COMMIT_SIZE_MAX(validators_max) bytes and validators_max
 * signatures. After: the header decodes
 * (codec_header_decode); each tx is 1..tx_size_max bytes (the txs
 * themselves are not decoded: mempool or execution does that, caching by
 * tx id); last_commit is absent at height 1 and present at every other
 * height, passes the rules of codec_commit_decode, and is for height - 1
 * and for header.last_block_id.
 * Returns: 0, TDEI_TOOBIG (the block, its tx count, a tx or its commit is
 * over its limit; the message names the param), TDEI_VERSION (header
 * version), TDEI_MALFORMED or TDEI_NOMEM.
 * In:  buf, len: the serialized Block; limits: the current params.
 * Out: out; header: the decoded header, owned by the caller (free with
 *      codec_header_free), or pass NULL when not wanted (it is still
 *      checked); on error *header is NULL. errmsg. */
int codec_block_decode(Tdei__Block **out, Tdei__Header **header,
                       const uint8_t *buf, size_t len,
                       const struct codec_limits *limits, char *errmsg);

/* Decode a Vote.
 * Checks: @len <= CODEC_VOTE_SIZE_MAX; type 1 (prevote) or 2 (precommit);
 * height >= 1; block_id empty (nil) or 32 bytes; validator 32 bytes; sig
 * 64 bytes.
 * Returns: 0, TDEI_TOOBIG, TDEI_MALFORMED or TDEI_NOMEM.
 * In:  buf, len: the serialized Vote.
 * Out: out, errmsg. */
int codec_vote_decode(Tdei__Vote **out, const uint8_t *buf, size_t len,
                      char *errmsg);

/* Decode a Commit.
 * Checks: @len <= CODEC_COMMIT_SIZE_MAX(validators_max) and at most
 * validators_max signatures, both before unpacking; height >= 1; block_id
 * 32 bytes; 1 signature or more, each with a 32-byte validator key and a
 * 64-byte sig, in strictly ascending order of validator key (no validator
 * twice). Quorum and signatures are the verifier's.
 * Returns: 0, TDEI_TOOBIG (over params.validators_max), TDEI_MALFORMED or
 * TDEI_NOMEM.
 * In:  buf, len: the serialized Commit; limits: validators_max is used.
 * Out: out, errmsg. */
int codec_commit_decode(Tdei__Commit **out, const uint8_t *buf, size_t len,
                        const struct codec_limits *limits, char *errmsg);

/* Decode a Proposal and the header of its block.
 * Checks: @len <= block_size_max + CODEC_PROPOSAL_OVERHEAD_MAX and the
 * block's counts before unpacking; height >= 1; pol_round -1 or in
 * [0, round); block_id 32 bytes and equal to SHA-256 of block.header;
 * the block passes codec_block_decode's rules; its header's height equals
 * the proposal's and its proposer the proposal's; proposer 32 bytes; sig
 * 64 bytes.
 * Returns: 0, TDEI_TOOBIG, TDEI_VERSION, TDEI_MALFORMED or TDEI_NOMEM.
 * In:  buf, len: the serialized Proposal; limits: the current params.
 * Out: out; header: as for codec_block_decode (NULL allowed); errmsg. */
int codec_proposal_decode(Tdei__Proposal **out, Tdei__Header **header,
                          const uint8_t *buf, size_t len,
                          const struct codec_limits *limits, char *errmsg);

/* Decode Evidence of double signing.
 * Checks: @len <= CODEC_EVIDENCE_SIZE_MAX; both votes present and valid as
 * for codec_vote_decode; same validator, height, round and type; block
 * ids differ, with a.block_id < b.block_id bytewise (nil, the empty id,
 * first). Signatures are the verifier's (the evidence contract checks
 * them). The evidence op of a TxBody gets the same check.
 * Returns: 0, TDEI_TOOBIG, TDEI_MALFORMED or TDEI_NOMEM.
 * In:  buf, len: the serialized Evidence.
 * Out: out, errmsg. */
int codec_evidence_decode(Tdei__Evidence **out, const uint8_t *buf,
                          size_t len, char *errmsg);

/* Decode a TxResult (from the store or an audit bundle).
 * Checks: @len <= CODEC_RESULT_SIZE_MAX and at most CODEC_EVENTS_MAX
 * events and CODEC_HEADS_MAX heads before unpacking; log valid UTF-8 of at
 * most CODEC_LOG_MAX bytes and not empty when code is not 0; each event
 * type and attribute key 1-64 bytes of [a-z0-9._-], at most
 * CODEC_ATTRS_MAX attributes, values valid UTF-8 of at most
 * CODEC_ATTR_VALUE_MAX bytes; each head update with an object key of
 * 1-CODEC_OBJECT_KEY_MAX bytes and 32-byte heads.
 * Returns: 0, TDEI_TOOBIG, TDEI_MALFORMED or TDEI_NOMEM.
 * In:  buf, len: the serialized TxResult.
 * Out: out, errmsg. */
int codec_txresult_decode(Tdei__TxResult **out, const uint8_t *buf,
                          size_t len, char *errmsg);

/* Decode a ValidatorSet.
 * Checks: @len <= CODEC_VALIDATOR_SET_SIZE_MAX(validators_max) before
 * unpacking; 1..validators_max validators; node keys 32 bytes in strictly
 * ascending order; member ids 3-32 bytes of [a-z0-9-].
 * Returns: 0, TDEI_TOOBIG, TDEI_MALFORMED or TDEI_NOMEM.
 * In:  buf, len: the serialized ValidatorSet; limits: validators_max.
 * Out: out, errmsg. */
int codec_validator_set_decode(Tdei__ValidatorSet **out, const uint8_t *buf,
                               size_t len, const struct codec_limits *limits,
                               char *errmsg);

/* Free a message returned by the decoder of its type. NULL is allowed and
 * does nothing. Only for decoded messages: one built by the caller on the
 * stack or by hand is the caller's to release. */
/* Unpack @len bytes as a @desc message into *@out, allocating through
 * tdei_malloc, with no rule beyond protobuf's own (the typed decoders add
 * theirs; the client API uses it for its own messages).
 * Returns: 0, TDEI_NOMEM or TDEI_MALFORMED ("@what (N bytes) does not
 * decode as a X message"). Out: out (free with codec_message_free), NULL
 * on error; errmsg. */
int codec_message_unpack(ProtobufCMessage **out,
                         const ProtobufCMessageDescriptor *desc,
                         const uint8_t *buf, size_t len, const char *what,
                         char *errmsg);

/* Free a message from codec_message_unpack or any decoder here (NULL
 * allowed). */
void codec_message_free(ProtobufCMessage *msg);

void codec_tx_free(Tdei__Tx *tx);
void codec_txbody_free(Tdei__TxBody *body);
void codec_header_free(Tdei__Header *header);
void codec_block_free(Tdei__Block *block);
void codec_vote_free(Tdei__Vote *vote);
void codec_commit_free(Tdei__Commit *commit);
void codec_proposal_free(Tdei__Proposal *proposal);
void codec_evidence_free(Tdei__Evidence *evidence);
void codec_txresult_free(Tdei__TxResult *result);
void codec_validator_set_free(Tdei__ValidatorSet *set);

/* ------------------------------------------------------------------------
 * Encoders
 * ------------------------------------------------------------------------ */

/* Serialize @msg (any tdei.proto message, built by the caller) into a new
 * buffer. The fields are not checked: what the caller built is what is
 * written, and the decoders refuse it if it breaks their rules. The result
 * is the canonical encoding of @msg, so hashes over it are stable.
 * Returns: 0 or TDEI_NOMEM (then *out is NULL and *len 0).
 * In:  msg: borrowed for the call.
 * Out: out: the bytes, from tdei_malloc, the caller's to tdei_free (at
 *      least one byte is allocated even for an empty message); len: their
 *      number. */
int codec_encode(const ProtobufCMessage *msg, uint8_t **out, size_t *len);

/* Typed forms of codec_encode: same Returns, In and Out. */
int codec_tx_encode(const Tdei__Tx *tx, uint8_t **out, size_t *len);
int codec_txbody_encode(const Tdei__TxBody *body, uint8_t **out,
                        size_t *len);
int codec_header_encode(const Tdei__Header *header, uint8_t **out,
                        size_t *len);
int codec_block_encode(const Tdei__Block *block, uint8_t **out, size_t *len);
int codec_vote_encode(const Tdei__Vote *vote, uint8_t **out, size_t *len);
int codec_commit_encode(const Tdei__Commit *commit, uint8_t **out,
                        size_t *len);
int codec_proposal_encode(const Tdei__Proposal *proposal, uint8_t **out,
                          size_t *len);
int codec_evidence_encode(const Tdei__Evidence *evidence, uint8_t **out,
                          size_t *len);
int codec_txresult_encode(const Tdei__TxResult *result, uint8_t **out,
                          size_t *len);
int codec_validator_set_encode(const Tdei__ValidatorSet *set, uint8_t **out,
                               size_t *len);


/* ------------------------------------------------------------------------
 * State records (tdei.proto, "State records")
 *
 * Values of the state database. Their decoders follow the rules of the
 * decoders above (canonical encoding, no unknown field, sizes checked
 * before unpacking) and return TDEI_TOOBIG, TDEI_MALFORMED or TDEI_NOMEM
 * in the same way; a caller that reads a record from its own store turns
 * TDEI_MALFORMED into TDEI_CORRUPT. Encoders are codec_encode's typed
 * forms; frees accept NULL.
 * ------------------------------------------------------------------------ */

#define CODEC_MEMBER_NAME_MAX 128u   /* Member.name, bytes of UTF-8 */
#define CODEC_OPERATOR_KEYS_MAX 8u   /* Member.operator_keys */
#define CODEC_MEMBER_SIZE_MAX 1024u  /* a valid Member is <= 521 bytes */
#define CODEC_ACCOUNT_SIZE_MAX 16u   /* <= 11 bytes */
#define CODEC_OPKEY_SIZE_MAX 64u     /* OperatorKey: <= 45 bytes */
#define CODEC_NODEKEY_SIZE_MAX 64u   /* NodeKey: <= 34 bytes */
#define CODEC_PARAMS_SIZE_MAX 512u   /* Params: <= 200 bytes */
#define CODEC_LEVELS 3u              /* Params.levels: levels 1, 2, 3 */

/* Member statuses (Member.status). */
enum codec_member_status {
    CODEC_MEMBER_ACTIVE = 1,    /* signs txs, receives credits */
    CODEC_MEMBER_SUSPENDED = 2, /* kept, but may do nothing */
    CODEC_MEMBER_REMOVED = 3    /* left the network; history stays */
};

/* Decode a Member record.
 * Checks: @len <= CODEC_MEMBER_SIZE_MAX; id a member id; name valid UTF-8
 * of at most CODEC_MEMBER_NAME_MAX bytes; role 1-4; node_key and
 * encryption_key 32 bytes; 1..CODEC_OPERATOR_KEYS_MAX operator keys of 32
 * bytes in strictly ascending order; status 1-3; no auditor validator.
 * Returns, In, Out: as the decoders above. */
int codec_member_decode(Tdei__Member **out, const uint8_t *buf, size_t len,
                        char *errmsg);

/* Decode an Account record. Checks: @len <= CODEC_ACCOUNT_SIZE_MAX.
 * An empty buffer is a balance of 0. Returns, In, Out: as above. */
int codec_account_decode(Tdei__Account **out, const uint8_t *buf, size_t len,
                         char *errmsg);

/* Decode an OperatorKey record. Checks: @len <= CODEC_OPKEY_SIZE_MAX;
 * member a member id. Returns, In, Out: as above. */
int codec_operator_key_decode(Tdei__OperatorKey **out, const uint8_t *buf,
                              size_t len, char *errmsg);

/* Decode a NodeKey record. Checks: @len <= CODEC_NODEKEY_SIZE_MAX; member
 * a member id. Returns, In, Out: as above. */
int codec_node_key_decode(Tdei__NodeKey **out, const uint8_t *buf,
                          size_t len, char *errmsg);

/* Decode a Params record. Checks: @len <= CODEC_PARAMS_SIZE_MAX; every
 * limit at least 1; tx_size_max <= block_size_max; exactly CODEC_LEVELS
 * level policies, each with approval 1-3, roles an even mask <= 30 and
 * grant_ttl >= 1. Returns, In, Out: as
 * above. */
int codec_params_decode(Tdei__Params **out, const uint8_t *buf, size_t len,
                        char *errmsg);

void codec_member_free(Tdei__Member *member);
void codec_account_free(Tdei__Account *account);
void codec_operator_key_free(Tdei__OperatorKey *opkey);
void codec_node_key_free(Tdei__NodeKey *nodekey);
void codec_params_free(Tdei__Params *params);

int codec_member_encode(const Tdei__Member *member, uint8_t **out,
                        size_t *len);
int codec_account_encode(const Tdei__Account *account, uint8_t **out,
                         size_t *len);
int codec_operator_key_encode(const Tdei__OperatorKey *opkey, uint8_t **out,
                              size_t *len);
int codec_node_key_encode(const Tdei__NodeKey *nodekey, uint8_t **out,
                          size_t *len);
int codec_params_encode(const Tdei__Params *params, uint8_t **out,
                        size_t *len);

/* membership: MemberPropose.kind. */
enum codec_propose_kind {
    CODEC_PROPOSE_ADD = 1,
    CODEC_PROPOSE_REMOVE = 2,
    CODEC_PROPOSE_SUSPEND = 3,
    CODEC_PROPOSE_KEY_CHANGE = 4,
    CODEC_PROPOSE_PARAMS = 5
};

/* membership: MemberProposal.status. */
enum codec_proposal_status {
    CODEC_PROPOSAL_OPEN = 1,
    CODEC_PROPOSAL_PASSED = 2, /* approved and applied */
    CODEC_PROPOSAL_FAILED = 3  /* at least 1/3 rejected */
};

/* A MemberProposal holds at most one vote per member (GENESIS_MEMBERS_MAX
 * members of <= 34 bytes each, plus the op). */
#define CODEC_MEMBER_PROPOSAL_SIZE_MAX (48u * 1024u)
#define CODEC_VOTER_COUNT_SIZE_MAX 16u /* VoterCount: <= 11 bytes */

/* Decode a MemberProposal record. Checks: size; the op as
 * codec_txbody_decode checks a member_propose; proposer a member id;
 * approvals and rejections strictly ascending member ids; status 1-3.
 * Returns, In, Out: as the decoders above. */
int codec_member_proposal_decode(Tdei__MemberProposal **out,
                                 const uint8_t *buf, size_t len,
                                 char *errmsg);

/* Decode a VoterCount record. Checks: size. Returns, In, Out: as above. */
int codec_voter_count_decode(Tdei__VoterCount **out, const uint8_t *buf,
                             size_t len, char *errmsg);

void codec_member_proposal_free(Tdei__MemberProposal *proposal);
void codec_voter_count_free(Tdei__VoterCount *count);

/* consensus: an EvidenceRecord is <= 113 bytes. */
#define CODEC_EVIDENCE_RECORD_SIZE_MAX 128u

/* Decode an EvidenceRecord. Checks: size; height >= 1; tx and validator
 * 32 bytes; member a member id. Returns, In, Out: as the decoders above. */
int codec_evidence_record_decode(Tdei__EvidenceRecord **out, const uint8_t *buf,
                                 size_t len, char *errmsg);

void codec_evidence_record_free(Tdei__EvidenceRecord *record);

/* ------------------------------------------------------------------------
 * The exchange rules: catalog, classify, ownership, exchange, stream
 * (tdei.proto ops 48-127 and their state records; DESIGN.md section 6)
 *
 * codec_txbody_decode checks the fields of these ops (codec_catalog.c,
 * codec_exchange.c, codec_stream.c): ids, lengths, enums and the label
 * pairs; the contracts check everything that depends on state.
 * ------------------------------------------------------------------------ */

#define CODEC_DATASET_ID_MIN 3u    /* entry ids: 3-64 bytes of [a-z0-9-] */
#define CODEC_DATASET_ID_MAX 64u
#define CODEC_TITLE_MAX 200u       /* bytes of UTF-8, at least 1 */
#define CODEC_DESCRIPTION_MAX 4096u
#define CODEC_TAG_MAX 32u          /* a tag: 1-32 bytes of [a-z0-9._-] */
#define CODEC_TAGS_MAX 16u
#define CODEC_SCHEMA_MAX 1024u
#define CODEC_PARENTS_MAX 16u
#define CODEC_NOTE_MAX 256u        /* purpose, reasons, notes */
#define CODEC_SEALED_KEY_SIZE 80u  /* crypto_box_seal of a 32-byte key */
#define CODEC_STREAM_SUBS_MAX 64u  /* live subscriptions of one stream */
#define CODEC_DOMAIN_MAX 5u        /* data domains 1-5 */

/* Record sizes: each bounds the largest valid encoding, rounded up. */
#define CODEC_DATASET_SIZE_MAX (8u * TDEI_KIB)
#define CODEC_DATASET_VERSION_SIZE_MAX 1280u
#define CODEC_EXCHANGE_SIZE_MAX 2048u
#define CODEC_GRANT_REF_SIZE_MAX 64u
#define CODEC_STREAM_SIZE_MAX (3u * TDEI_KIB)
/* Deadlines of one height: at most CODEC_DUE_MAX ids, in DueList pages
 * of at most CODEC_DUE_PAGE ids (34 encoded bytes each). */
#define CODEC_DUE_PAGE 128u
#define CODEC_DUE_PAGES_MAX 800u
#define CODEC_DUE_MAX (CODEC_DUE_PAGE * CODEC_DUE_PAGES_MAX) /* 102400 */
#define CODEC_DUE_LIST_SIZE_MAX (34u * CODEC_DUE_PAGE + 16u)

/* CatalogPublish.kind, Dataset.kind, Exchange.kind. */
enum codec_kind { CODEC_KIND_DATASET = 1, CODEC_KIND_STREAM = 2 };

/* Data domains of the industrial data classification guide. */
enum codec_domain {
    CODEC_DOMAIN_RD = 1,
    CODEC_DOMAIN_PRODUCTION = 2,
    CODEC_DOMAIN_OPERATION = 3, /* operation & maintenance */
    CODEC_DOMAIN_MANAGEMENT = 4,
    CODEC_DOMAIN_EXTERNAL = 5
};

/* Data Security Law classes (data_class). */
enum codec_class {
    CODEC_CLASS_GENERAL = 1,
    CODEC_CLASS_IMPORTANT = 2,
    CODEC_CLASS_CORE = 3
};

/* PriceTerms.model. */
enum codec_price_model {
    CODEC_PRICE_ONE_TIME = 1,
    CODEC_PRICE_PER_RECORD = 2,
    CODEC_PRICE_SUBSCRIPTION = 3
};

/* Dataset.status. */
enum codec_dataset_status {
    CODEC_DATASET_ACTIVE = 1,
    CODEC_DATASET_WITHDRAWN = 2
};

/* Exchange.status. */
enum codec_exchange_status {
    CODEC_EXCHANGE_REQUESTED = 1,
    CODEC_EXCHANGE_APPROVED = 2,
    CODEC_EXCHANGE_DELIVERED = 3,
    CODEC_EXCHANGE_SETTLED = 4,
    CODEC_EXCHANGE_REJECTED = 5,
    CODEC_EXCHANGE_EXPIRED = 6,
    CODEC_EXCHANGE_DISPUTED = 7,
    CODEC_EXCHANGE_REFUNDED = 8,
    CODEC_EXCHANGE_REVOKED = 9,
    CODEC_EXCHANGE_ENDED = 10
};

/* Stream.status. */
enum codec_stream_status { CODEC_STREAM_OPEN = 1, CODEC_STREAM_CLOSED = 2 };

/* Return 1 when @id is an entry id (3-64 bytes of [a-z0-9-]). */
int codec_dataset_id_valid(const char *id);

/* Return 1 when (@level, @data_class) is an allowed pair: L1 general; L2
 * general or important; L3 important or core. */
int codec_labels_allowed(uint32_t level, uint32_t data_class);

/* Names for messages and the CLI; "?" for a number out of range. */
const char *codec_domain_name(uint32_t domain);        /* "rd" .. */
const char *codec_class_name(uint32_t data_class);     /* "general" .. */
const char *codec_price_model_name(uint32_t model);    /* "one_time" .. */
const char *codec_exchange_status_name(uint32_t status); /* "requested" */

/* Record decoders, with the rules of the decoders above. Checks:
 * Dataset: size; the fields of a CatalogPublish (as codec_txbody_decode
 *   checks them), owner and publisher member ids, version >= 1, status
 *   1-2, offer_to empty or a member id, pending labels all 0 or an
 *   allowed pair with a domain 0-5.
 * DatasetVersion: size; version >= 1; content_root 32 bytes; prev_root
 *   empty (version 1 only) or 32 bytes; schema text.
 * Exchange: size; id 32 bytes; dataset an entry id; kind, model, level,
 *   class, status in range; consumer and owner member ids; approvals empty
 *   or member ids; content_root and delivered_root empty or 32 bytes;
 *   sealed_key empty or CODEC_SEALED_KEY_SIZE; purpose and note text.
 * GrantRef: size; exchange 32 bytes.
 * Stream: size; id an entry id; status 1-2; last_batch_root empty or 32
 *   bytes; at most CODEC_STREAM_SUBS_MAX subscriptions of 32 bytes,
 *   strictly ascending.
 * DueList: size; at most CODEC_DUE_PAGE entries of 32 bytes; pages at
 *   most CODEC_DUE_PAGES_MAX.
 * Returns, In, Out: as the decoders above. */
int codec_dataset_decode(Tdei__Dataset **out, const uint8_t *buf, size_t len,
                         char *errmsg);
int codec_dataset_version_decode(Tdei__DatasetVersion **out,
                                 const uint8_t *buf, size_t len,
                                 char *errmsg);
int codec_exchange_decode(Tdei__Exchange **out, const uint8_t *buf,
                          size_t len, char *errmsg);
int codec_grant_ref_decode(Tdei__GrantRef **out, const uint8_t *buf,
                           size_t len, char *errmsg);
int codec_stream_decode(Tdei__Stream **out, const uint8_t *buf, size_t len,
                        char *errmsg);
int codec_due_list_decode(Tdei__DueList **out, const uint8_t *buf, size_t len,
                          char *errmsg);

void codec_dataset_free(Tdei__Dataset *dataset);
void codec_dataset_version_free(Tdei__DatasetVersion *version);
void codec_exchange_free(Tdei__Exchange *exchange);
void codec_grant_ref_free(Tdei__GrantRef *ref);
void codec_stream_free(Tdei__Stream *stream);
void codec_due_list_free(Tdei__DueList *list);

/* Text rules shared with execution (the ones the decoders apply), so that
 * execution never produces a TxResult its decoder would refuse. */

/* Return 1 when the @len bytes at @s are strict UTF-8 (RFC 3629: no
 * overlong form, no surrogate, nothing past U+10FFFF); @s may be NULL
 * when @len is 0. */
int codec_utf8_valid(const uint8_t *s, size_t len);

/* Return 1 when @s is 1-@max bytes of [a-z0-9._-] (event types and
 * attribute keys). */
int codec_token_valid(const char *s, size_t max);

#endif
