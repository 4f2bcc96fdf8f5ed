/* The contract interface (DESIGN.md section 6): pure functions
 * (ctx, op) -> result code.
 *
 * A contract sees only what struct contract_ctx gives it: the signer's key,
 * member id and role (looked up by execution before dispatch), the block
 * height and time (from the header: the only clock), the tx id, the chain
 * id (for signatures carried inside an op, such as the votes of evidence:
 * sign bytes hold the chain id, codec.h), get, put
 * and delete on the state key-value store through a table of function
 * pointers (the node's LMDB-backed overlay, or an in-memory state in tests
 * and the simulator), bounded event emission, history-head updates and a
 * refusal reason. It never sees the network, the disk, a clock or
 * randomness, and every loop and buffer in it is bounded: each tx gets a
 * budget of CONTRACT_STEPS_MAX state operations and
 * CONTRACT_WRITE_BYTES_MAX bytes written, and hitting one refuses the tx
 * with TDEI_BUDGET.
 *
 * Result codes. A handler returns 0 (applied) or a code. Codes fall in two
 * kinds:
 *   - refusals (any code but the fatal ones): the rule said no. Execution
 *     records the code and ctx->reason in the TxResult, discards the tx's
 *     state writes and events, keeps its nonce and history-head updates.
 *   - fatal (contract_code_is_fatal: TDEI_NOMEM, TDEI_IOERR,
 *     TDEI_CORRUPT): this node could not run the contract (out of memory,
 *     a failed read, a state record that does not decode). Nothing about
 *     the tx is recorded; execution of the whole block stops with the
 *     code, because another node would not have failed the same way.
 * Every refusal names its rule: contract_refuse writes a reason a person
 * can act on ("transfer needs 500 credits; acme-steel holds 120").
 * Reasons are ASCII; bytes outside printable ASCII are replaced by '?'.
 *
 * History heads (DESIGN.md section 6): contract_touch records that the tx
 * touched an object (by its state key, e.g. "member/acme-steel"). After
 * the handler returns, execution extends, for each touched object in the
 * order touched, head = SHA256(prev_head || tx_id || code as u32
 * big-endian) and records (object, prev_head, new_head) in the TxResult.
 * A refused tx extends the heads of the objects it touched before it was
 * refused, with its non-zero code: refusals are part of the audit trail.
 *
 * State key layout (the state database of DESIGN.md section 8; values are
 * the records of tdei.proto "State records"):
 *   "member/" id            Member
 *   "account/" id           Account
 *   "opkey/" 32-byte key    OperatorKey (operator key -> member, nonce)
 *   "nodekey/" 32-byte key  NodeKey (node key -> member)
 *   "params"                Params
 *   "validators"            ValidatorSet: the validators of the next
 *                           height (tip + 1: those that vote on the next
 *                           block); genesis writes the genesis set
 *   "validators_next"       ValidatorSet: the set of tip + 2 as decided
 *                           by the blocks up to the tip, present only
 *                           while it differs from "validators" (absent:
 *                           the same set). The membership contract writes
 *                           it; execution moves it (see below).
 *   "vset/" u64 BE height   ValidatorSet: the set that votes from
 *                           `height` on, until the next "vset/" record;
 *                           genesis writes "vset/" 1. The history of the
 *                           validator set, for block sync, audits and the
 *                           last_commit check (node/exec/exec.h).
 *   "head/" object key      32 raw bytes: the object's history head
 *   "mproposal/" 32-byte id MemberProposal (id = the proposing tx id)
 *   "voters"                VoterCount (active non-auditor members)
 *   "dataset/" id           Dataset (a catalog entry)
 *   "dsver/" id "/" u64 BE  DatasetVersion
 *   "exchange/" 32-byte id  Exchange (id = the request tx id)
 *   "escrow/" 32-byte id    Account (the exchange's escrow)
 *   "grant/" id "/" member  GrantRef (latest grant of member on entry id)
 *   "stream/" id            Stream
 *   "due/" u64 BE height [u32 BE page]  DueList page (deadlines
 *                           processed at the start of block `height`;
 *                           page 0 has no page suffix)
 *   "evidence/" 32-byte id  EvidenceRecord (id = codec_evidence_id: one
 *                           per equivocation)
 * Validator-set changes (DESIGN.md section 5: decided by block H, they
 * take effect at H + 2). A passed membership proposal that changes the
 * set (contract_member_vote) writes the new set of H + 2 to
 * "validators_next". Execution, at the start of block B (before its
 * deadlines and txs), moves a present "validators_next" into
 * "validators" and into "vset/" B+1, and deletes it; the txs of B then
 * decide the set of B + 2. So after block H, "validators" is the set of
 * H + 1 and "validators_next" (or "validators") the set of H + 2: the
 * validators_hash and next_validators_hash of header H + 1. All of it is
 * state, so the app hash covers the history.
 * The object key of a member is its state key "member/" id; likewise
 * "dataset/" id for an entry (dataset or stream: the stream record shares
 * its entry's history) and "exchange/" id for an exchange.
 *
 * Pointers are non-NULL unless stated. Nothing here keeps global state;
 * a ctx belongs to one thread at a time. */
#ifndef TDEI_CONTRACTS_CONTRACT_H
#define TDEI_CONTRACTS_CONTRACT_H

#include "core/codec.h"
#include "core/error.h"
#include "core/ids.h"
#include "core/limits.h"

#include <stddef.h>
#include <stdint.h>

/* Key prefixes of the state layout above. */
#define CONTRACT_KEY_MEMBER "member/"
#define CONTRACT_KEY_ACCOUNT "account/"
#define CONTRACT_KEY_OPKEY "opkey/"
#define CONTRACT_KEY_NODEKEY "nodekey/"
#define CONTRACT_KEY_PARAMS "params"
#define CONTRACT_KEY_VALIDATORS "validators"
#define CONTRACT_KEY_VALIDATORS_NEXT "validators_next"
#define CONTRACT_KEY_VSET "vset/"
#define CONTRACT_KEY_HEAD "head/"
#define CONTRACT_KEY_PROPOSAL "mproposal/"
#define CONTRACT_KEY_VOTERS "voters"
#define CONTRACT_KEY_DATASET "dataset/"
#define CONTRACT_KEY_DSVER "dsver/"
#define CONTRACT_KEY_EXCHANGE "exchange/"
#define CONTRACT_KEY_ESCROW "escrow/"
#define CONTRACT_KEY_GRANT "grant/"
#define CONTRACT_KEY_STREAM "stream/"
#define CONTRACT_KEY_DUE "due/"
#define CONTRACT_KEY_EVIDENCE "evidence/"

/* The largest validator set a contract reads from "validators": the top of
 * params.validators_max's range (node/genesis.c), as execution reads it. */
#define CONTRACT_VALIDATORS_LIMIT 1000u

/* The most validators a change may make (with params.validators_max):
 * the consensus engine's ceiling, CONS_VALIDATORS_MAX (node/exec ties
 * them with a static assertion). A larger set could never vote. */
#define CONTRACT_VALIDATORS_CONSENSUS_MAX 128u

/* Room for any key the builders below produce: "head/" plus the longest
 * object key. */
#define CONTRACT_KEY_SIZE_MAX (8u + CODEC_OBJECT_KEY_MAX)

/* Bytes of a history head (SHA-256). */
#define CONTRACT_HEAD_SIZE 32u

/* Per-tx budget: state operations (get, put, delete) and bytes written
 * (key plus value of each put, key of each delete). Protocol constants:
 * every node must use the same, or they would refuse different txs. */
#define CONTRACT_STEPS_MAX 1024u
#define CONTRACT_WRITE_BYTES_MAX (64u * TDEI_KIB)

/* Budget of the deadline processing at the start of a block
 * (contract_ctx_begin_block): room for a full DueList of CODEC_DUE_MAX
 * exchanges, each charged at most CONTRACT_DUE_STEPS_EACH state operations
 * (read the exchange, its escrow, the entry and a balance; write the
 * balance, the escrow, the grant and the exchange) and
 * CONTRACT_DUE_BYTES_EACH bytes written, plus a read and a delete of each
 * of the list's pages. Large enough that the block-begin work never runs
 * out: it cannot be refused (see contract_block_begin). */
#define CONTRACT_DUE_STEPS_EACH 16u
#define CONTRACT_DUE_BYTES_EACH                                                \
    (CODEC_EXCHANGE_SIZE_MAX + CODEC_GRANT_REF_SIZE_MAX +                      \
     2u * CODEC_ACCOUNT_SIZE_MAX + 4u * CONTRACT_KEY_SIZE_MAX)
#define CONTRACT_BLOCK_STEPS_MAX                                               \
    (CODEC_DUE_MAX * CONTRACT_DUE_STEPS_EACH + 2u * CODEC_DUE_PAGES_MAX + 16u)
#define CONTRACT_BLOCK_WRITE_BYTES_MAX                                         \
    ((size_t)CODEC_DUE_MAX * CONTRACT_DUE_BYTES_EACH +                         \
     (CODEC_DUE_PAGES_MAX + 1u) * CONTRACT_KEY_SIZE_MAX)

/* Event storage per tx: total attributes over all events, and bytes of
 * their strings (types, keys, values, each with a NUL). With
 * CODEC_LOG_MAX and CODEC_HEADS_MAX heads this keeps any TxResult well
 * under CODEC_RESULT_SIZE_MAX (asserted in contract.c). */
#define CONTRACT_ATTRS_TOTAL_MAX 256u
#define CONTRACT_EVENT_BYTES_MAX (16u * TDEI_KIB)

/* The largest state value the record helpers read (a Member). */
#define CONTRACT_RECORD_SIZE_MAX CODEC_MEMBER_SIZE_MAX

/* Access to the state key-value store. Keys are 1..CONTRACT_KEY_SIZE_MAX
 * bytes here (the store allows up to 511); values any size the
 * implementation's budget allows.
 *
 * get: copy the value of @key into @val (@cap bytes of room; @val may be
 *      NULL when @cap is 0). Returns 0 (*vlen = its length), TDEI_NOTFOUND
 *      (*vlen = 0), TDEI_TOOBIG (the value is longer than @cap; *vlen =
 *      the size needed; nothing copied), or a fatal code (TDEI_IOERR,
 *      TDEI_CORRUPT: the base failed).
 * put: set @key to the @vlen bytes at @val (copied; @val may be NULL when
 *      @vlen is 0). Returns 0, TDEI_NOSPACE (the implementation's byte
 *      budget is spent: deterministic, a refusal), TDEI_NOMEM.
 * del: delete @key (not an error when absent). Returns as put.
 * @impl is the implementation's state (struct state in node/exec). */
struct contract_state_ops
{
    int (*get)(void *impl, const uint8_t *key, size_t klen, uint8_t *val,
               size_t cap, size_t *vlen);
    int (*put)(void *impl, const uint8_t *key, size_t klen, const uint8_t *val,
               size_t vlen);
    int (*del)(void *impl, const uint8_t *key, size_t klen);
};

/* What the caller (execution) supplies for one tx. */
struct contract_env
{
    const struct contract_state_ops *ops; /* the state store */
    void *state;                          /* its impl */
    const uint8_t *signer;                /* 32-byte operator key */
    const char *member;                   /* the signer's member id */
    enum tdei_role role;                  /* that member's role */
    uint64_t height;                      /* block height */
    uint64_t time_ms;                     /* block time, Unix ms */
    const uint8_t *tx_id;                 /* 32-byte tx id */
    const char *chain_id;                 /* the chain's id (ids.h) */
};

/* One emitted event; its strings live in contract_ctx.arena. */
struct contract_event
{
    uint32_t type;       /* arena offset of the type */
    uint32_t attr_first; /* index of its first attribute in attrs[] */
    uint32_t attr_count; /* number of attributes, <= CODEC_ATTRS_MAX */
};

/* One event attribute: arena offsets of NUL-terminated strings. */
struct contract_attr
{
    uint32_t key;   /* arena offset of the key */
    uint32_t value; /* arena offset of the value */
};

/* One touched object (its state key). */
struct contract_touch
{
    uint8_t key[CODEC_OBJECT_KEY_MAX]; /* object key */
    size_t klen;                       /* 1..CODEC_OBJECT_KEY_MAX */
};

/* The context of one tx. About 25 KiB: execution allocates one per block
 * and reuses it (contract_ctx_begin resets it). Fields are read by
 * execution after the handler; contracts use the functions below. */
struct contract_ctx
{
    /* In (copied by contract_ctx_begin). */
    const struct contract_state_ops *ops; /* state access */
    void *state;                          /* its impl */
    uint8_t signer[CODEC_KEY_SIZE];       /* signing operator key */
    char member[TDEI_MEMBER_ID_MAX + 1];  /* signer's member id */
    enum tdei_role role;                  /* signer's member role */
    uint64_t height;                      /* block height */
    uint64_t time_ms;                     /* block time, Unix ms */
    uint8_t tx_id[CODEC_HASH_SIZE];       /* tx id */
    char chain_id[TDEI_CHAIN_ID_MAX + 1]; /* the chain's id */
    /* Budget left for this tx. */
    uint32_t steps_left;     /* state operations */
    size_t write_bytes_left; /* bytes written */
    /* Out. */
    char reason[CODEC_LOG_MAX + 1]; /* refusal reason, "" when none */
    struct contract_event events[CODEC_EVENTS_MAX];       /* emitted events */
    size_t event_count;                                   /* entries used */
    struct contract_attr attrs[CONTRACT_ATTRS_TOTAL_MAX]; /* all attrs */
    size_t attr_count;                                    /* used */
    char arena[CONTRACT_EVENT_BYTES_MAX];                 /* event strings */
    size_t arena_used;                                    /* bytes used */
    struct contract_touch touched[CODEC_HEADS_MAX];       /* in touch order */
    size_t touched_count;                                 /* entries used */
};

/* A handler: one op of one contract. @body is a TxBody that
 * codec_txbody_decode accepted, whose op is the handler's. */
typedef int (*contract_handler_fn)(struct contract_ctx *ctx,
                                   const Tdei__TxBody *body);

/* ---- entry points -------------------------------------------------------- */

/* Reset @ctx for a new tx: copy the inputs of @env, fill the budget, empty
 * the outputs. @env->member must be a member id and @env->chain_id a chain
 * id, the chain's own (asserted). */
void contract_ctx_begin(struct contract_ctx *ctx,
                        const struct contract_env *env);

/* Reset @ctx for the work execution does at the start of block @height
 * (time @time_ms) before its txs: contract_block_begin. There is no
 * signer: member is "" (which no member id is, so the exchange contract
 * knows it runs for the block), role 0, signer key and tx id all zero,
 * chain id "" (the block-begin work checks no signature).
 * The budget is CONTRACT_BLOCK_STEPS_MAX state operations and
 * CONTRACT_BLOCK_WRITE_BYTES_MAX bytes, enough for a full DueList.
 * Never pass this ctx to contract_dispatch: it is for
 * contract_block_begin only.
 * In:  ops, state: the state store and its impl, borrowed while @ctx is
 *      used. */
void contract_ctx_begin_block(struct contract_ctx *ctx,
                              const struct contract_state_ops *ops, void *state,
                              uint64_t height, uint64_t time_ms);

/* Run the handler of @body's op.
 * Behaviour: looks the op up in the dispatch table (op case -> handler);
 * an op without a handler is refused with TDEI_UNKNOWN_OP. After the
 * handler: on a refusal without a reason, the reason becomes the code's
 * message; on any non-zero code the events are dropped (a refused tx
 * emits nothing), while ctx->touched stays for the history heads.
 * Returns: 0 (applied), a refusal code with ctx->reason set, or a fatal
 * code (contract_code_is_fatal) with ctx->reason describing the failure.
 * In:  body: borrowed for the call.
 * State: @ctx after contract_ctx_begin; state writes go through ctx->ops,
 *      and the caller rolls them back on a non-zero code. */
int contract_dispatch(struct contract_ctx *ctx, const Tdei__TxBody *body);

/* Return 1 when @code means "this node failed", not "the rule said no":
 * TDEI_NOMEM, TDEI_IOERR or TDEI_CORRUPT. 0 for 0 and for refusals. */
int contract_code_is_fatal(int code);

/* Return the name of @body's op ("transfer", "mint"), or "unknown". */
const char *contract_op_name(const Tdei__TxBody *body);

/* ---- what a handler may do ----------------------------------------------- */

/* Refuse the tx: write the reason "fmt..." into ctx->reason (truncated
 * at CODEC_LOG_MAX bytes, non-ASCII bytes replaced) and return @code,
 * which must be a refusal (not 0, not fatal; asserted). Usage:
 * `return contract_refuse(ctx, TDEI_SELF_TRANSFER, "...", ...);` */
int contract_refuse(struct contract_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Read state key @key into @val (@cap bytes), charging one step.
 * Returns: as contract_state_ops.get, plus TDEI_BUDGET (steps spent;
 * reason set). */
int contract_get(struct contract_ctx *ctx, const uint8_t *key, size_t klen,
                 uint8_t *val, size_t cap, size_t *vlen);

/* Write @key = @val, charging one step and @klen + @vlen bytes.
 * Returns: 0, TDEI_BUDGET (reason set), TDEI_NOSPACE (the block's state
 * budget is spent; reason set) or TDEI_NOMEM. */
int contract_put(struct contract_ctx *ctx, const uint8_t *key, size_t klen,
                 const uint8_t *val, size_t vlen);

/* Delete @key, charging one step and @klen bytes. Returns as
 * contract_put. */
int contract_del(struct contract_ctx *ctx, const uint8_t *key, size_t klen);

/* Record that the tx touches the object with state key @key (@klen bytes,
 * 1..CODEC_OBJECT_KEY_MAX, asserted). Touching one object twice records
 * it once, at its first place.
 * Returns: 0 or TDEI_BUDGET (more than CODEC_HEADS_MAX objects; reason
 * set). */
int contract_touch(struct contract_ctx *ctx, const uint8_t *key, size_t klen);

/* Start an event of type @type (1-CODEC_EVENT_TYPE_MAX bytes of
 * [a-z0-9._-]; asserted, types are the contract's constants).
 * Returns: 0 or TDEI_BUDGET (CODEC_EVENTS_MAX events or the arena is
 * full; reason set). */
int contract_event(struct contract_ctx *ctx, const char *type);

/* Add the attribute @key = @value to the last event (one must exist;
 * @key as an event type, asserted).
 * Returns: 0, TDEI_BUDGET (CODEC_ATTRS_MAX attributes on the event,
 * CONTRACT_ATTRS_TOTAL_MAX in all, or the arena is full), TDEI_TOOBIG
 * (@value over CODEC_ATTR_VALUE_MAX bytes) or TDEI_MALFORMED (@value is
 * not UTF-8); reason set. */
int contract_event_attr(struct contract_ctx *ctx, const char *key,
                        const char *value);

/* As contract_event_attr with the decimal form of @value. */
int contract_event_attr_u64(struct contract_ctx *ctx, const char *key,
                            uint64_t value);

/* ---- keys and records ---------------------------------------------------- */

/* Build the state key of member @id (a member id, asserted) into @out.
 * Returns its length. */
size_t contract_key_member(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *id);

/* Build the key of @id's account. Returns its length. */
size_t contract_key_account(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *id);

/* Build the key of operator key @key (32 bytes). Returns its length. */
size_t contract_key_opkey(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                          const uint8_t key[CODEC_KEY_SIZE]);

/* Build the key of node key @key (32 bytes). Returns its length. */
size_t contract_key_nodekey(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                            const uint8_t key[CODEC_KEY_SIZE]);

/* Build the key of the history head of object @object (@olen bytes,
 * 1..CODEC_OBJECT_KEY_MAX, asserted). Returns its length. */
size_t contract_key_head(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                         const uint8_t *object, size_t olen);

/* Read member @id's record.
 * Returns: 0 (*out is the caller's; free with codec_member_free),
 * TDEI_NOTFOUND, TDEI_BUDGET, or a fatal code (TDEI_CORRUPT when the
 * record does not decode; reason set). On failure *out is NULL. */
int contract_member_get(struct contract_ctx *ctx, const char *id,
                        Tdei__Member **out);

/* Read member @id's balance; a missing account is a balance of 0.
 * Returns: 0, TDEI_BUDGET or a fatal code (reason set). */
int contract_balance_get(struct contract_ctx *ctx, const char *id,
                         uint64_t *balance);

/* Write member @id's balance. Returns as contract_put. */
int contract_balance_put(struct contract_ctx *ctx, const char *id,
                         uint64_t balance);

/* Read the ledger params. Returns: 0 (*out the caller's; free with
 * codec_params_free), TDEI_BUDGET or a fatal code (TDEI_CORRUPT also when
 * the params record is missing). On failure *out is NULL. */
int contract_params_get(struct contract_ctx *ctx, Tdei__Params **out);

/* Keys of the exchange-rule records above. @id is an entry id
 * (codec_dataset_id_valid, asserted), @member a member id, @xid a
 * 32-byte exchange id. Each returns the key's length. */
size_t contract_key_dataset(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *id);
size_t contract_key_dsver(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *id,
                          uint64_t version);
size_t contract_key_exchange(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                             const uint8_t xid[CODEC_HASH_SIZE]);
size_t contract_key_escrow(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                           const uint8_t xid[CODEC_HASH_SIZE]);
size_t contract_key_grant(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *id,
                          const char *member);
size_t contract_key_stream(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *id);
size_t contract_key_due(uint8_t out[CONTRACT_KEY_SIZE_MAX], uint64_t height,
                        uint32_t page);

/* Keys of the consensus records: the evidence of equivocation @id (a
 * codec_evidence_id). Returns the key's length. */
size_t contract_key_evidence(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                             const uint8_t id[CODEC_HASH_SIZE]);

/* Write the record @msg at @key, canonically encoded (codec_encode).
 * Returns as contract_put. */
int contract_record_put(struct contract_ctx *ctx, const uint8_t *key,
                        size_t klen, const ProtobufCMessage *msg);

/* Read and decode a record. Each returns 0 (*out is the caller's, to free
 * with its codec_*_free), TDEI_NOTFOUND, TDEI_BUDGET, or a fatal code
 * (TDEI_CORRUPT when the record does not decode; reason set). On failure
 * *out is NULL. */
int contract_dataset_get(struct contract_ctx *ctx, const char *id,
                         Tdei__Dataset **out);
int contract_dataset_version_get(struct contract_ctx *ctx, const char *id,
                                 uint64_t version, Tdei__DatasetVersion **out);
int contract_exchange_get(struct contract_ctx *ctx,
                          const uint8_t xid[CODEC_HASH_SIZE],
                          Tdei__Exchange **out);
int contract_grant_get(struct contract_ctx *ctx, const char *id,
                       const char *member, Tdei__GrantRef **out);
int contract_stream_get(struct contract_ctx *ctx, const char *id,
                        Tdei__Stream **out);
int contract_due_get(struct contract_ctx *ctx, uint64_t height, uint32_t page,
                     Tdei__DueList **out);

/* Read the current validator set ("validators", at most
 * CONTRACT_VALIDATORS_LIMIT validators). Returns 0 (*out the caller's;
 * free with codec_validator_set_free), TDEI_BUDGET or a fatal code
 * (TDEI_CORRUPT also when the record is missing: genesis writes it). On
 * failure *out is NULL. */
int contract_validators_get(struct contract_ctx *ctx, Tdei__ValidatorSet **out);

/* Read the validator set of height + 2 as decided so far: the
 * "validators_next" record, or "validators" when it is absent (no change
 * pending). Returns as contract_validators_get. */
int contract_validators_next_get(struct contract_ctx *ctx,
                                 Tdei__ValidatorSet **out);

/* Write @set (1..CONTRACT_VALIDATORS_LIMIT validators in strictly
 * ascending node key order; the count is asserted) as "validators_next".
 * Returns as contract_put. */
int contract_validators_next_put(struct contract_ctx *ctx,
                                 const Tdei__ValidatorSet *set);

/* Build the key of the validator-set history record of @height (>= 1,
 * asserted). Returns its length. */
size_t contract_key_vset(uint8_t out[CONTRACT_KEY_SIZE_MAX], uint64_t height);

/* Read the NodeKey record of node key @node_key (32 bytes), and the
 * EvidenceRecord of equivocation @id. Each returns as the getters above
 * (TDEI_NOTFOUND when absent). */
int contract_node_key_get(struct contract_ctx *ctx,
                          const uint8_t node_key[CODEC_KEY_SIZE],
                          Tdei__NodeKey **out);
int contract_evidence_record_get(struct contract_ctx *ctx,
                                 const uint8_t id[CODEC_HASH_SIZE],
                                 Tdei__EvidenceRecord **out);

/* The escrow balance of exchange @xid (a missing account is 0), and its
 * update. Return as contract_balance_get and contract_balance_put. */
int contract_escrow_get(struct contract_ctx *ctx,
                        const uint8_t xid[CODEC_HASH_SIZE], uint64_t *balance);
int contract_escrow_put(struct contract_ctx *ctx,
                        const uint8_t xid[CODEC_HASH_SIZE], uint64_t balance);

/* ---- catalog entries (shared by catalog, classify, ownership) ----------- */

/* Read catalog entry @id for op @op (named in reasons) and touch it (its
 * object key "dataset/" id) once it is known to exist, so that its
 * history records the tx, applied or refused.
 * Returns: 0 (*out is the caller's; free with codec_dataset_free),
 * TDEI_UNKNOWN_DATASET (a refusal: no entry with this id; the reason names
 * @op and @id), TDEI_BUDGET or a fatal code (reason set). On failure *out
 * is NULL. */
int contract_entry_get(struct contract_ctx *ctx, const char *op, const char *id,
                       Tdei__Dataset **out);

/* As contract_entry_get, then the signer's member must be the entry's
 * current owner.
 * Returns: as contract_entry_get, plus TDEI_NOT_OWNER (the reason names
 * the owner, who must sign). On failure *out is NULL. */
int contract_entry_owned_get(struct contract_ctx *ctx, const char *op,
                             const char *id, Tdei__Dataset **out);

/* Check that entry @d is active (not withdrawn) for op @op.
 * Returns: 0 or TDEI_DATASET_STATE (reason set). */
int contract_entry_active_check(struct contract_ctx *ctx, const char *op,
                                const Tdei__Dataset *d);

/* Write entry @d at "dataset/" d->id, setting d->updated_height to the
 * block height first. Returns as contract_record_put. */
int contract_entry_put(struct contract_ctx *ctx, Tdei__Dataset *d);

/* Start event @type (as contract_event) about entry @id with its first
 * attributes: id = @id, by = the signer's member.
 * Returns: as contract_event and contract_event_attr. */
int contract_entry_event(struct contract_ctx *ctx, const char *type,
                         const char *id);

/* ---- settle (contracts/settle.c) ----------------------------------------- */

/* transfer: move amount credits from the signer's member to `to`.
 * Rules, in order: amount >= 1 (TDEI_BAD_AMOUNT); `to` is not the signer's
 * member (TDEI_SELF_TRANSFER); `to` exists (TDEI_UNKNOWN_MEMBER) and is
 * active (TDEI_MEMBER_INACTIVE); the sender holds amount
 * (TDEI_INSUFFICIENT_FUNDS, the reason gives both figures); the receiver's
 * balance does not overflow (TDEI_OVERFLOW). Touches the sender and (once
 * it is known to exist) the receiver. Emits "transfer" with from, to,
 * amount. */
int contract_settle_transfer(struct contract_ctx *ctx,
                             const Tdei__TxBody *body);

/* mint: create amount credits for `to`. Rules, in order: the signer's
 * role is public_service (TDEI_ROLE); params.mint_enabled (TDEI_DISABLED);
 * amount >= 1 (TDEI_BAD_AMOUNT); `to` exists and is active
 * (TDEI_UNKNOWN_MEMBER, TDEI_MEMBER_INACTIVE); no overflow
 * (TDEI_OVERFLOW). Touches the minter and the receiver. Emits "mint" with
 * by, to, amount. */
int contract_settle_mint(struct contract_ctx *ctx, const Tdei__TxBody *body);

/* ---- membership (contracts/membership.c) --------------------------------- */

/* member_propose: propose an add, remove, suspend, key_change or params
 * change. The
 * proposal id is the tx id; the proposal is stored at "mproposal/" id and
 * the proposer's proposal counts as its approval, so with few voting
 * members it may pass at once. Rules, in order: the signer's member is an
 * active voting member, not an auditor (TDEI_NOT_VOTER); add: the id,
 * node key and operator key are unregistered (TDEI_MEMBER_EXISTS);
 * remove/suspend: the target exists (TDEI_UNKNOWN_MEMBER), is not removed,
 * and for suspend is active (TDEI_MEMBER_STATE); key_change: as remove,
 * and a new node key is unregistered (TDEI_MEMBER_EXISTS); params: the
 * name is in the params table, contracts/params.h (TDEI_UNKNOWN_PARAM) and
 * the value in its range (TDEI_PARAM_RANGE); a
 * params proposal touches the object "params". Then the validator set
 * (contract_validators_next_get: the set of height + 2 as decided so far):
 * an add with validator set adds the node key, a remove or suspend of a
 * member whose Member.validator is set removes its node key, a key_change
 * of such a member's node key replaces it; the set that results must hold
 * at least one validator (TDEI_NO_VALIDATORS) and at most
 * params.validators_max and CONTRACT_VALIDATORS_CONSENSUS_MAX
 * (TDEI_VALIDATORS_FULL); a validator member whose key is missing from
 * the set is a damaged state (TDEI_CORRUPT). The proposal expires
 * after params.proposal_ttl blocks. Touches the
 * signer, the proposal and the target. Emits "member.proposal" with id,
 * kind, member, by, outcome (the counts). */
int contract_member_propose(struct contract_ctx *ctx, const Tdei__TxBody *body);

/* member_vote: approve or reject an open proposal. Rules, in order: the
 * signer is an active voting member (TDEI_NOT_VOTER); the proposal exists
 * (TDEI_UNKNOWN_PROPOSAL), is open (TDEI_PROPOSAL_CLOSED) and the height
 * is at most its expires_height (TDEI_PROPOSAL_EXPIRED: checked lazily
 * here, no height index); the signer's member has not voted, with any of
 * its operator keys (TDEI_ALREADY_VOTED). Then, with N the voting members
 * (active, not auditor: the "voters" record) at this tx: approvals * 3 >
 * 2N passes the proposal and applies it in this tx (the target rules of
 * member_propose are checked again and refuse the vote when they no
 * longer hold, the validator-set rules among them); else rejections * 3
 * >= N fails it. Applying a change of the validator set writes the new
 * set to "validators_next" (it votes from height + 2; the layout above)
 * and keeps Member.validator equal to "is in that set": a removed or
 * suspended validator's record gets validator false. Touches the signer,
 * the proposal and (on apply) the target. Emits "member.proposal", and on
 * a set change "validators.changed" with member, change (add, remove or
 * key_change), validators (the new count) and from_height (height + 2).
 */
int contract_member_vote(struct contract_ctx *ctx, const Tdei__TxBody *body);

/* operator_key_rotate: add and/or remove an operator key of the signer's
 * own member, without a vote. Rules, in order: remove_key is not the
 * signing key (TDEI_SIGNING_KEY: the node stores the signer's nonce after
 * the tx); add_key is not registered to anyone (TDEI_MEMBER_EXISTS);
 * remove_key is a key of the member (TDEI_UNKNOWN_KEY); at least one key
 * remains (TDEI_LAST_KEY); at most CODEC_OPERATOR_KEYS_MAX keys
 * (TDEI_KEY_LIMIT). Touches the signer's member. Emits
 * "member.key_rotate" with member, keys (the new count). */
int contract_operator_key_rotate(struct contract_ctx *ctx,
                                 const Tdei__TxBody *body);

/* ---- catalog (contracts/catalog.c) --------------------------------------- */

/* catalog_publish: publish a new entry (a dataset or a stream) at version
 * 1; the signer's member becomes its owner and publisher. Rules, in
 * order: the signer's role is not auditor (TDEI_ROLE: auditors never
 * publish or own); no entry has the id, not even a withdrawn one
 * (TDEI_DATASET_EXISTS: ids are never reused); each parent, in the
 * listed order, exists (TDEI_LINEAGE naming it) and the signer's member
 * owns it, or holds a grant on it ("grant/" parent "/" member naming an
 * exchange whose status is settled) while the parent's current
 * license.may_derive is true (TDEI_LINEAGE, the reason says which is
 * missing: the grant, the license or both). Writes the Dataset (fields
 * 1-14 as published, owner = publisher = the signer's member, version
 * 1, status active, created and updated height = the block height) and,
 * for a dataset, DatasetVersion 1 (the content root, size and schema,
 * prev_root empty). Touches the signer's member and, once every rule
 * holds, the entry. Emits "catalog.published" with id, by, kind,
 * parents (the count). */
int contract_catalog_publish(struct contract_ctx *ctx,
                             const Tdei__TxBody *body);
/* catalog_version: a new version of a dataset's content, linked to the
 * previous one. Rules, in order: the entry exists (TDEI_UNKNOWN_DATASET);
 * the signer's member owns it (TDEI_NOT_OWNER); it is a dataset, not a
 * stream, and active (TDEI_DATASET_STATE); the content root differs from
 * the current one (TDEI_DATASET_STATE); the version number does not
 * overflow (TDEI_OVERFLOW). Writes DatasetVersion n+1 (prev_root = the
 * current root, the effective schema, the block height) and updates the
 * entry's version, content root, size and schema (an empty schema keeps
 * the current one). Touches the signer's member and the entry. Emits
 * "catalog.versioned" with id, by, version, root (hex). */
int contract_catalog_version(struct contract_ctx *ctx,
                             const Tdei__TxBody *body);
/* catalog_withdraw: withdraw an entry. It stays in the catalog and in
 * history with status withdrawn; exchanges already open on it run to
 * their end. Rules, in order: the entry exists (TDEI_UNKNOWN_DATASET);
 * the signer's member owns it (TDEI_NOT_OWNER); it is active
 * (TDEI_DATASET_STATE: already withdrawn). Touches the signer's member
 * and the entry. Emits "catalog.withdrawn" with id, by. */
int contract_catalog_withdraw(struct contract_ctx *ctx,
                              const Tdei__TxBody *body);
/* catalog_reprice: new price terms and license. Requests already made
 * keep the price they escrowed (the Exchange holds its own copy). Rules,
 * in order: the entry exists (TDEI_UNKNOWN_DATASET); the signer's member
 * owns it (TDEI_NOT_OWNER); it is active (TDEI_DATASET_STATE); the model
 * fits the kind: per_record only for a stream, one_time only for a
 * dataset, subscription for both (TDEI_DATASET_STATE). Replaces price
 * and license (no license: all false). Touches the signer's member and
 * the entry. Emits "catalog.repriced" with id, by, model, amount. */
int contract_catalog_reprice(struct contract_ctx *ctx,
                             const Tdei__TxBody *body);

/* ---- classify (contracts/classify.c) ------------------------------------- */

/* classify_set: set an entry's labels (level, class) and domain. Rules,
 * in order: the entry exists (TDEI_UNKNOWN_DATASET); the signer's member
 * owns it (TDEI_NOT_OWNER: a public_service member that is not the owner
 * approves lowerings, never sets); it is active (TDEI_DATASET_STATE).
 * The codec has checked that level and class are an allowed pair. If
 * neither the level nor the class goes down, the labels apply at once
 * (domain 0 keeps the domain; a domain change alone applies at once) and
 * any pending lowering is cleared: emits "classify.set". If either goes
 * down, the labels stay and the request is stored as pending_level,
 * pending_class, pending_domain (replacing an older one), still result
 * 0: emits "classify.lowering_requested". Both events carry id, by,
 * level, class, domain ("unchanged" for 0). Touches the signer's member
 * and the entry. */
int contract_classify_set(struct contract_ctx *ctx, const Tdei__TxBody *body);
/* classify_approve: apply the pending lowering of an entry. Rules, in
 * order: the signer's role is public_service (TDEI_ROLE: "lowering needs
 * a public_service approval"); the entry exists (TDEI_UNKNOWN_DATASET);
 * a lowering is pending (TDEI_NOTHING_PENDING). Sets level, class and
 * (when the pending domain is not 0) domain to the pending ones and
 * clears them. Touches the signer's member and the entry. Emits
 * "classify.approved" with id, by, level, class, domain. */
int contract_classify_approve(struct contract_ctx *ctx,
                              const Tdei__TxBody *body);

/* ---- ownership (contracts/ownership.c) ----------------------------------- */

/* ownership_offer: offer an entry to member `to`. Rules, in order: the
 * entry exists (TDEI_UNKNOWN_DATASET); the signer's member owns it
 * (TDEI_NOT_OWNER); it is active (TDEI_DATASET_STATE); `to` exists
 * (TDEI_UNKNOWN_MEMBER), is active (TDEI_MEMBER_INACTIVE), is not the
 * owner (TDEI_SELF_TRANSFER) and is not an auditor (TDEI_ROLE: auditors
 * never own). Sets offer_to, replacing an older offer. Touches the
 * signer's member, the entry and `to`. Emits "ownership.offered" with
 * id, by, to. */
int contract_ownership_offer(struct contract_ctx *ctx,
                             const Tdei__TxBody *body);
/* ownership_accept: take ownership of an entry offered to the signer's
 * member. Rules, in order: the entry exists (TDEI_UNKNOWN_DATASET); an
 * offer is open (TDEI_NOTHING_PENDING); the signer's member is the one
 * it names (TDEI_NOT_PARTY); that member is still active
 * (TDEI_MEMBER_INACTIVE). In one write the owner becomes the signer's
 * member and the offer is cleared, so the entry has exactly one owner at
 * every height. Touches the signer's member, the entry and the previous
 * owner. Emits "ownership.accepted" with id, by, from, to. */
int contract_ownership_accept(struct contract_ctx *ctx,
                              const Tdei__TxBody *body);
/* ownership_cancel: withdraw the open offer of an entry. Rules, in
 * order: the entry exists (TDEI_UNKNOWN_DATASET); the signer's member
 * owns it (TDEI_NOT_OWNER); an offer is open (TDEI_NOTHING_PENDING).
 * Clears offer_to. Touches the signer's member and the entry. Emits
 * "ownership.canceled" with id, by, to (the member the offer named). */
int contract_ownership_cancel(struct contract_ctx *ctx,
                              const Tdei__TxBody *body);

/* ---- exchange (contracts/exchange.c) ------------------------------------- */

/* The exchange of an entry between its owner and a consumer (DESIGN.md
 * section 6, "exchange"). The exchange id is the request tx id; its
 * escrow account "escrow/<id>" always holds Exchange.escrow, and every
 * credit moves between one member's balance and one escrow, so balances
 * plus escrows stay constant. A grant is live while the exchange's status
 * is settled and the height is at most grant_expires. Payments go to the
 * entry's CURRENT owner (revenue follows ownership), and the owner's
 * steps (approve, reject, deliver, revoke) are by the current owner.
 * Deadlines: a step that waits sets Exchange.deadline (the last height at
 * which it is accepted) and appends the id to the last page of the DueList
 * of height deadline + 1 (pages of CODEC_DUE_PAGE ids, so an append
 * rewrites one page); that append refuses the tx with TDEI_BUDGET ("too
 * many deadlines at height H; retry in a later block") when the list
 * already holds CODEC_DUE_MAX ids. Every op touches the
 * signer's member, then (once known) the exchange and its entry, then each
 * member whose balance it changes. Events carry id (hex), dataset, by and
 * status, plus what the op adds. */

/* exchange_request: ask for entry `id` at `price`. Rules, in order: the
 * entry exists (TDEI_UNKNOWN_DATASET); it is active (TDEI_DATASET_STATE);
 * the signer's member is not its owner (TDEI_OWN_DATASET); the policy of
 * its level (params levelN): an auditor never receives, the signer's role
 * bit is set in roles, and a purpose is given when purpose is 1 (each
 * TDEI_POLICY); price equals the catalog price.amount
 * (TDEI_PRICE_MISMATCH, both figures given); the grant length: the longest
 * is the level's grant_ttl, for class core at most params.core_grant_ttl;
 * a subscription's grant is price.period (TDEI_GRANT_TTL when the period
 * is longer than the longest, or when grant_ttl is neither 0 nor the
 * period); otherwise grant_ttl 0 asks for the longest and more than the
 * longest is TDEI_GRANT_TTL; a per_record stream prepays budget >= price
 * and escrows the budget, the other models give budget 0 and escrow the
 * price (TDEI_BAD_AMOUNT); the signer's member holds the escrow
 * (TDEI_INSUFFICIENT_FUNDS, both figures given). Then the escrow leaves
 * the balance, and the approvals needed are recorded: level approval auto
 * none, owner the owner, owner+regulator both; class core always the
 * regulator too. With none needed the exchange is approved and waits
 * params.deliver_ttl blocks for delivery, else it is requested and waits
 * params.approve_ttl blocks for its approvals. A dataset's version and
 * content root at request time are recorded: the delivery must match
 * them. Emits "exchange.requested" (escrow, grant_ttl, deadline). */
int contract_exchange_request(struct contract_ctx *ctx,
                              const Tdei__TxBody *body);

/* exchange_approve: give an approval the exchange still needs. Rules, in
 * order: the exchange exists (TDEI_UNKNOWN_EXCHANGE) and is requested
 * (TDEI_EXCHANGE_STATE); the owner's approval is needed and missing and
 * the signer's member is the entry's current owner: it is the owner's
 * approval; else the regulator's is needed and missing and the signer's
 * role is public_service: it is the regulator's, unless the signer's member
 * is the consumer (TDEI_NOT_PARTY: nobody regulates its own request); else
 * TDEI_NOT_PARTY,
 * the reason naming who is still needed ("level 3 needs the regulator's
 * approval (a public_service member); 1 of 2 approvals present"). With
 * all present the exchange is approved and waits params.deliver_ttl
 * blocks for delivery. Emits "exchange.approved" (approvals "k of n"). */
int contract_exchange_approve(struct contract_ctx *ctx,
                              const Tdei__TxBody *body);

/* exchange_reject: turn down a request before delivery. Rules, in order:
 * the exchange exists (TDEI_UNKNOWN_EXCHANGE), is requested or approved
 * (TDEI_EXCHANGE_STATE); the signer's member is the entry's current owner,
 * or, when the regulator's approval is needed, a public_service member
 * (TDEI_NOT_PARTY). The escrow returns to the consumer (TDEI_OVERFLOW if
 * its balance would pass the largest); status rejected, closed_height,
 * note = the reason. Emits "exchange.rejected". */
int contract_exchange_reject(struct contract_ctx *ctx,
                             const Tdei__TxBody *body);

/* exchange_deliver: the owner hands over the sealed content key. Rules, in
 * order: the exchange exists (TDEI_UNKNOWN_EXCHANGE), is approved
 * (TDEI_EXCHANGE_STATE); the signer's member is the entry's current owner
 * (TDEI_NOT_PARTY); a dataset's content_root is the one requested, a
 * stream's is empty (TDEI_CONTENT_MISMATCH). Stores sealed_key,
 * delivered_root and delivered_height. A dataset, or a stream sold by
 * subscription, is delivered and waits params.confirm_ttl blocks for the
 * consumer. A per_record stream is settled at once (grant_expires = now
 * + grant_ttl; "grant/<entry>/<consumer>" = the id) and joins
 * Stream.subscriptions, which needs an open Stream record
 * (TDEI_STREAM_STATE) with fewer than CODEC_STREAM_SUBS_MAX
 * subscriptions (TDEI_SUBS_LIMIT); its escrow stays as the prepaid
 * budget, charged by stream_append. Emits "exchange.delivered". */
int contract_exchange_deliver(struct contract_ctx *ctx,
                              const Tdei__TxBody *body);

/* exchange_confirm: the consumer accepts a delivery. Rules, in order: the
 * exchange exists (TDEI_UNKNOWN_EXCHANGE); the signer's member is its
 * consumer (TDEI_NOT_PARTY); it is delivered (TDEI_EXCHANGE_STATE). The
 * escrow goes to the entry's current owner (TDEI_OVERFLOW if its balance
 * would pass the largest); status settled, settled_height, grant_expires
 * = now + grant_ttl, "grant/<entry>/<consumer>" = the id. Emits
 * "exchange.settled" (owner, amount, grant_expires). */
int contract_exchange_confirm(struct contract_ctx *ctx,
                              const Tdei__TxBody *body);

/* exchange_dispute: the consumer contests a delivery. Rules, in order: the
 * exchange exists (TDEI_UNKNOWN_EXCHANGE); the signer's member is its
 * consumer (TDEI_NOT_PARTY); it is delivered (TDEI_EXCHANGE_STATE).
 * Status disputed, no deadline (it waits for public_service), note = the
 * reason. Emits "exchange.disputed". */
int contract_exchange_dispute(struct contract_ctx *ctx,
                              const Tdei__TxBody *body);

/* exchange_resolve: public_service decides a dispute. Rules, in order: the
 * signer's role is public_service (TDEI_ROLE); the exchange exists
 * (TDEI_UNKNOWN_EXCHANGE) and is disputed (TDEI_EXCHANGE_STATE). refund:
 * the escrow returns to the consumer, status refunded, closed_height set.
 * Otherwise as exchange_confirm: the current owner is paid, status
 * settled, the grant goes live. Both: a non-empty reason replaces the
 * note (else the dispute's reason stays); TDEI_OVERFLOW as confirm. Emits
 * "exchange.resolved" (refund, or owner and amount). */
int contract_exchange_resolve(struct contract_ctx *ctx,
                              const Tdei__TxBody *body);

/* grant_revoke: end a live grant. Rules, in order: the exchange exists
 * (TDEI_UNKNOWN_EXCHANGE) and is settled (TDEI_EXCHANGE_STATE); a
 * public_service signer revokes at once (an incident); the entry's current
 * owner sets owner_revoke and the consumer sets consumer_revoke, anyone
 * else is refused (TDEI_NOT_PARTY); when both are set it is revoked. On
 * revocation: status revoked, closed_height; a per_record subscription
 * leaves Stream.subscriptions and its remaining escrow returns to the
 * consumer. A non-empty reason becomes the note. Emits "grant.revoked"
 * (refund), or "grant.revoke_consent" for the first of two. */
int contract_grant_revoke(struct contract_ctx *ctx, const Tdei__TxBody *body);

/* Process the deadlines due at the start of block ctx->height, on a ctx
 * from contract_ctx_begin_block. Reads "due/<height>" (missing: nothing
 * to do) and, for each id in list order, when the exchange's deadline + 1
 * is this height (else the entry is stale: the exchange moved on, and it
 * is skipped): requested or approved -> expired, the escrow back to the
 * consumer, closed_height; delivered -> settled as by exchange_confirm
 * (silence is acceptance). Then deletes the list. Touches no history head
 * and emits no event: nothing of it appears in a TxResult; the exchange
 * record's status and closed_height or settled_height show it, and it
 * follows deterministically from the rules. It never refuses: the block
 * budget holds a full DueList, and where a payment would overflow a
 * balance, only what fits moves and the rest stays in escrow.
 * Returns: 0, or a fatal code (TDEI_NOMEM, TDEI_IOERR, TDEI_CORRUPT: a
 * record does not decode, the list names a missing exchange, an escrow
 * differs from its exchange) with ctx->reason set; execution fails the
 * block on any non-zero code. */
int contract_block_begin(struct contract_ctx *ctx);

/* ---- stream (contracts/stream.c) ----------------------------------------- */

/* stream_open: open stream entry `id` for appends. Rules, in order: the
 * entry exists (TDEI_UNKNOWN_DATASET); its kind is stream and it is
 * active (TDEI_DATASET_STATE); the signer's member owns it
 * (TDEI_NOT_OWNER); it has no Stream record yet (TDEI_STREAM_STATE: a
 * stream opens once, and a closed stream never reopens). Writes
 * "stream/<id>" = Stream{status open, next_seq 0}. Touches the entry
 * ("dataset/<id>"). Emits "stream.opened" with id, by. */
int contract_stream_open(struct contract_ctx *ctx, const Tdei__TxBody *body);

/* stream_append: append one batch to stream `id` and charge its
 * subscribers. Rules, in order: the Stream record exists and is open
 * (TDEI_STREAM_STATE); the signer's member is the entry's current owner
 * (TDEI_UNKNOWN_DATASET when the entry is missing, else TDEI_NOT_OWNER;
 * a withdrawn entry's open stream still appends: open exchanges run to
 * their end); count <= params.stream_batch_max (TDEI_TOOBIG);
 * seq_first == the stream's next_seq (TDEI_STREAM_SEQ, the reason gives
 * the expected number); first_ts >= the stream's last_ts
 * (TDEI_STREAM_TIME); last_ts at most params.max_lag_ms behind block time
 * (TDEI_STREAM_STALE, the reason says how far behind) and at most
 * params.max_clock_skew_ms ahead of it (TDEI_STREAM_AHEAD).
 * Then: next_seq = seq_first + count, last_ts, batches + 1 and
 * last_batch_root = batch_root; and each subscription of
 * Stream.subscriptions (at most CODEC_STREAM_SUBS_MAX), in ascending id
 * order: an exchange not settled, or past grant_expires (height >
 * grant_expires), ends: status ended, closed_height, its escrow
 * remainder back to the consumer, removed from the list. Otherwise it
 * pays paid = min(count, escrow / price) records (all of them when the
 * price is 0), paid * price credits from its escrow ("escrow/<xid>" and
 * Exchange.escrow) to the entry's CURRENT owner (TDEI_OVERFLOW when a
 * balance would overflow), Exchange.records += paid; when the escrow
 * left is below the price (price > 0) it ends as above. A listed
 * exchange that does not exist is a damaged state (TDEI_CORRUPT).
 * Touches the entry only (CODEC_HEADS_MAX could not hold every
 * exchange). Emits "stream.appended" with id, by, seq_first, count,
 * first_ts, last_ts, batch_root (hex), charged (subscriptions charged),
 * amount (credits charged in all), ended (subscriptions ended); then
 * "stream.charged" events with id, by and, per charged subscription in
 * list order, "charge" = "<exchange hex> <records> <amount>"; then
 * "stream.ended" events with id, by and, per ended subscription, "end" =
 * "<exchange hex> <refund> <why>", why one of spent, expired,
 * not_settled, closed. Each grouped event holds at most CODEC_ATTRS_MAX -
 * 2 outcomes: one event per subscription would pass CODEC_EVENTS_MAX
 * and CONTRACT_ATTRS_TOTAL_MAX for a full stream. */
int contract_stream_append(struct contract_ctx *ctx, const Tdei__TxBody *body);

/* stream_close: close stream `id` for good. Rules, in order: the entry
 * exists (TDEI_UNKNOWN_DATASET); the signer's member owns it
 * (TDEI_NOT_OWNER); the Stream record exists and is open
 * (TDEI_STREAM_STATE). Sets status closed; every subscription ends as in
 * stream_append (why "closed"), its escrow remainder back to the
 * consumer, and the list empties. Touches the entry. Emits
 * "stream.closed" with id, by, ended (count), refund (credits returned
 * in all), then "stream.ended" events as stream_append does. */
int contract_stream_close(struct contract_ctx *ctx, const Tdei__TxBody *body);

/* ---- consensus (contracts/evidence.c) ------------------------------------ */

/* evidence: commit two conflicting signed votes of one validator to the
 * ledger (DESIGN.md section 5), where auditors see them. Any active member
 * may submit it (execution has checked that the signer is an operator key
 * of an active member); the codec has checked the votes' fields and
 * canonical order (codec_evidence_decode's rules). No stake moves: the
 * design has no slashing; the record and the validator's history are the
 * consequence. Rules, in order: each vote's validator is a validator of
 * the current set, the "validators" record (TDEI_NOT_VALIDATOR: evidence
 * about older sets is not taken yet); each vote's signature verifies:
 * BIP-340 by its validator over the tagged hash "tdei/vote" of
 * codec_vote_msg_sign_bytes with the chain id (TDEI_BADSIG, naming the
 * vote); the votes conflict: same validator, height, round and type,
 * different block ids, nil counting as an id (TDEI_MALFORMED); the
 * equivocation is not recorded yet, "evidence/" codec_evidence_id
 * (TDEI_EVIDENCE_EXISTS, naming the height it was recorded at). Writes
 * EvidenceRecord{height, tx, validator, member} where member is the
 * validator's NodeKey record (missing: TDEI_CORRUPT, a damaged state).
 * Touches the signer's member, then, once the votes are shown to be a
 * genuine equivocation (rules 1-3), the validator's member, so that its
 * history shows the evidence. Emits "evidence.committed" with id (hex),
 * validator (hex), member, height, round, type (prevote or precommit),
 * by. */
int contract_evidence(struct contract_ctx *ctx, const Tdei__TxBody *body);

#endif
