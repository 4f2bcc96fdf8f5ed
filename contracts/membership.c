/* The membership contract (DESIGN.md section 6, "membership (equal
 * standing)"): any active voting member proposes adding, removing or
 * suspending a member or changing its keys; the proposal passes when more
 * than 2/3 of the voting members approve and is applied at once by the
 * vote that passes it; it fails when at least 1/3 reject; it expires after
 * params.proposal_ttl blocks. No member has a veto or a special vote.
 * Rules and codes are listed in contract.h. Pure.
 *
 * The denominator: "voting members" are the members that are active and
 * not auditors, counted in the "voters" record, which genesis writes and
 * every applied add, remove and suspend keeps up to date. Each tally uses
 * the count at the time of that tx (propose or vote). A vote already cast
 * stays counted when its member is later suspended or removed.
 *
 * Expiry is checked lazily: a vote at a height above expires_height is
 * refused with TDEI_PROPOSAL_EXPIRED (there is no height index yet); the
 * record stays "open" on the ledger, but can never pass.
 *
 * The validator set follows membership: a passed add of a validator, a
 * remove or suspend of a validator member and a key_change of its node
 * key change the set of height + 2 ("validators_next", contract.h), and
 * Member.validator stays "its node key is in that set". */
#include "contracts/contract.h"
#include "contracts/params.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/hex.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- small state helpers ------------------------------------------------- */

/* Set *@exists to whether @key holds a value. */
static int key_exists(struct contract_ctx *ctx, const uint8_t *key, size_t klen,
                      int *exists)
{
    size_t vlen;
    int rc = contract_get(ctx, key, klen, NULL, 0, &vlen);

    *exists = rc == 0 || rc == TDEI_TOOBIG;
    return rc == TDEI_NOTFOUND || rc == TDEI_TOOBIG ? 0 : rc;
}

static size_t key_proposal(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                           const uint8_t id[CODEC_HASH_SIZE])
{
    size_t plen = sizeof(CONTRACT_KEY_PROPOSAL) - 1;

    memcpy(out, CONTRACT_KEY_PROPOSAL, plen);
    memcpy(out + plen, id, CODEC_HASH_SIZE);
    return plen + CODEC_HASH_SIZE;
}

static int voters_get(struct contract_ctx *ctx, uint64_t *count)
{
    static const uint8_t key[] = CONTRACT_KEY_VOTERS;
    uint8_t val[CODEC_VOTER_COUNT_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__VoterCount *rec;
    size_t vlen;
    int rc;

    *count = 0;
    rc = contract_get(ctx, key, sizeof(key) - 1, val, sizeof(val), &vlen);
    if (rc == TDEI_NOTFOUND || rc == TDEI_TOOBIG) {
        (void)snprintf(ctx->reason, sizeof(ctx->reason),
                       "state record voters is damaged: %s",
                       rc == TDEI_NOTFOUND ? "missing" : "too large");
        return TDEI_CORRUPT;
    }
    if (rc != 0) {
        return rc;
    }
    rc = codec_voter_count_decode(&rec, val, vlen, errmsg);
    if (rc == TDEI_NOMEM) {
        return rc;
    }
    if (rc != 0) {
        (void)snprintf(ctx->reason, sizeof(ctx->reason),
                       "state record voters is damaged: %s", errmsg);
        return TDEI_CORRUPT;
    }
    *count = rec->count;
    codec_voter_count_free(rec);
    return 0;
}

static int voters_put(struct contract_ctx *ctx, uint64_t count)
{
    static const uint8_t key[] = CONTRACT_KEY_VOTERS;
    Tdei__VoterCount rec = TDEI__VOTER_COUNT__INIT;

    rec.count = count;
    return contract_record_put(ctx, key, sizeof(key) - 1, &rec.base);
}

/* Read proposal @id. Returns 0, TDEI_NOTFOUND, TDEI_BUDGET or fatal. */
static int proposal_get(struct contract_ctx *ctx,
                        const uint8_t id[CODEC_HASH_SIZE],
                        Tdei__MemberProposal **out)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    size_t klen = key_proposal(key, id);
    uint8_t *val;
    size_t vlen;
    int rc;

    *out = NULL;
    val = tdei_malloc(CODEC_MEMBER_PROPOSAL_SIZE_MAX);
    if (val == NULL) {
        return TDEI_NOMEM;
    }
    rc = contract_get(ctx, key, klen, val, CODEC_MEMBER_PROPOSAL_SIZE_MAX,
                      &vlen);
    if (rc == 0) {
        rc = codec_member_proposal_decode(out, val, vlen, errmsg);
        if (rc != 0 && rc != TDEI_NOMEM) {
            (void)snprintf(ctx->reason, sizeof(ctx->reason),
                           "state record member proposal is damaged: %s",
                           errmsg);
            rc = TDEI_CORRUPT;
        }
    } else if (rc == TDEI_TOOBIG) {
        (void)snprintf(ctx->reason, sizeof(ctx->reason),
                       "state record member proposal is damaged: larger "
                       "than any proposal");
        rc = TDEI_CORRUPT;
    }
    tdei_free(val);
    return rc;
}

/* Touch the signer's member: every membership op is in its history. */
static int touch_member(struct contract_ctx *ctx, const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    return contract_touch(ctx, key, contract_key_member(key, id));
}

static int touch_proposal(struct contract_ctx *ctx,
                          const uint8_t id[CODEC_HASH_SIZE])
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    return contract_touch(ctx, key, key_proposal(key, id));
}

static const char *status_name(uint32_t status)
{
    switch (status) {
    case CODEC_MEMBER_ACTIVE:
        return "active";
    case CODEC_MEMBER_SUSPENDED:
        return "suspended";
    default:
        return "removed";
    }
}

static const char *kind_name(uint32_t kind)
{
    static const char *const names[] = {"?",       "add",        "remove",
                                        "suspend", "key_change", "params"};

    return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

/* Only an active voting member (not an auditor, not suspended) proposes
 * and votes. @op names the op in the reason. */
static int voter_check(struct contract_ctx *ctx, const char *op)
{
    Tdei__Member *member;
    uint32_t status;
    int rc = touch_member(ctx, ctx->member);

    if (rc != 0) {
        return rc;
    }
    if (ctx->role == TDEI_ROLE_AUDITOR) {
        return contract_refuse(ctx, TDEI_NOT_VOTER,
                               "%s needs an active voting member; %s is an "
                               "auditor, and auditors never vote",
                               op, ctx->member);
    }
    rc = contract_member_get(ctx, ctx->member, &member);
    if (rc == TDEI_NOTFOUND) {
        return contract_refuse(ctx, TDEI_NOT_VOTER,
                               "%s needs an active voting member; %s is "
                               "not a member",
                               op, ctx->member);
    }
    if (rc != 0) {
        return rc;
    }
    status = member->status;
    codec_member_free(member);
    if (status != CODEC_MEMBER_ACTIVE) {
        return contract_refuse(ctx, TDEI_NOT_VOTER,
                               "%s needs an active voting member; %s is %s", op,
                               ctx->member, status_name(status));
    }
    return 0;
}

/* ---- rules on the target ------------------------------------------------- */

/* The new member's id, node key and operator key are all unregistered. */
static int add_check(struct contract_ctx *ctx, const Tdei__MemberPropose *op)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    int exists;
    int rc =
        key_exists(ctx, key, contract_key_member(key, op->member), &exists);

    if (rc != 0) {
        return rc;
    }
    if (exists) {
        return contract_refuse(ctx, TDEI_MEMBER_EXISTS,
                               "add %s: the member id is taken; choose "
                               "another id",
                               op->member);
    }
    rc = key_exists(ctx, key, contract_key_nodekey(key, op->node_key.data),
                    &exists);
    if (rc != 0) {
        return rc;
    }
    if (exists) {
        return contract_refuse(ctx, TDEI_MEMBER_EXISTS,
                               "add %s: the node key is already registered "
                               "to another member; generate a new one",
                               op->member);
    }
    rc = key_exists(ctx, key, contract_key_opkey(key, op->operator_key.data),
                    &exists);
    if (rc != 0) {
        return rc;
    }
    if (exists) {
        return contract_refuse(ctx, TDEI_MEMBER_EXISTS,
                               "add %s: the operator key is already "
                               "registered to another member; generate a "
                               "new one",
                               op->member);
    }
    return 0;
}

/* The target of remove / suspend / key_change exists and may change.
 * On 0 with @out non-NULL, *out is the member (caller frees). */
static int target_check(struct contract_ctx *ctx, const Tdei__MemberPropose *op,
                        Tdei__Member **out)
{
    Tdei__Member *member;
    uint32_t status;
    int rc = contract_member_get(ctx, op->member, &member);

    if (rc == TDEI_NOTFOUND) {
        return contract_refuse(ctx, TDEI_UNKNOWN_MEMBER,
                               "%s %s: no such member; check the member id",
                               kind_name(op->kind), op->member);
    }
    if (rc != 0) {
        return rc;
    }
    rc = touch_member(ctx, op->member);
    status = member->status;
    if (rc == 0 && status == CODEC_MEMBER_REMOVED) {
        rc = contract_refuse(ctx, TDEI_MEMBER_STATE,
                             "%s %s: the member is already removed",
                             kind_name(op->kind), op->member);
    }
    if (rc == 0 && op->kind == CODEC_PROPOSE_SUSPEND &&
        status != CODEC_MEMBER_ACTIVE) {
        rc = contract_refuse(ctx, TDEI_MEMBER_STATE,
                             "suspend %s: the member is %s; only an active "
                             "member is suspended",
                             op->member, status_name(status));
    }
    if (rc != 0 || out == NULL) {
        codec_member_free(member);
        return rc;
    }
    *out = member;
    return 0;
}

/* key_change: the target may change, and a new node key is unregistered.
 * On 0 with @out non-NULL, *out is the member (caller frees). */
static int key_change_check(struct contract_ctx *ctx,
                            const Tdei__MemberPropose *op, Tdei__Member **out)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Member *member;
    int exists = 0;
    int rc = target_check(ctx, op, &member);

    if (rc != 0) {
        return rc;
    }
    if (op->node_key.len != 0) {
        rc = key_exists(ctx, key, contract_key_nodekey(key, op->node_key.data),
                        &exists);
    }
    if (rc == 0 && exists) {
        rc = contract_refuse(ctx, TDEI_MEMBER_EXISTS,
                             "key_change %s: the new node key is already "
                             "registered; generate a new one",
                             op->member);
    }
    if (rc != 0 || out == NULL) {
        codec_member_free(member);
        return rc;
    }
    *out = member;
    return 0;
}

/* ---- the validator set --------------------------------------------------- */

/* One change of the validator set of height + 2: @drop leaves (NULL:
 * none), @add_key joins for member @add_member (NULL: none). */
struct vset_change
{
    const char *change;     /* "add", "remove" or "key_change" */
    const char *member;     /* the member concerned */
    const uint8_t *drop;    /* 32-byte node key leaving, or NULL */
    const uint8_t *add_key; /* 32-byte node key joining, or NULL */
};

/* The most validators a change may make: params.validators_max, and never
 * more than the consensus engine can hold. */
static int validators_cap(struct contract_ctx *ctx, uint64_t *cap)
{
    Tdei__Params *params;
    int rc = contract_params_get(ctx, &params);

    *cap = 0;
    if (rc != 0) {
        return rc;
    }
    *cap = params->validators_max < CONTRACT_VALIDATORS_CONSENSUS_MAX
               ? params->validators_max
               : CONTRACT_VALIDATORS_CONSENSUS_MAX;
    codec_params_free(params);
    return 0;
}

/* Emit "validators.changed" for @ch, which leaves @count validators. */
static int vset_event(struct contract_ctx *ctx, const struct vset_change *ch,
                      size_t count)
{
    uint64_t from = ctx->height > UINT64_MAX - 2u ? UINT64_MAX : ctx->height + 2u;
    int rc = contract_event(ctx, "validators.changed");

    if (rc == 0) {
        rc = contract_event_attr(ctx, "member", ch->member);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "change", ch->change);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "validators", count);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "from_height", from);
    }
    return rc;
}

/* Build into @list (room for the set plus one) the validators of @set
 * after @ch, in ascending node key order; *n is their count. */
static int vset_build(struct contract_ctx *ctx, const Tdei__ValidatorSet *set,
                      const struct vset_change *ch, Tdei__Validator *joining,
                      Tdei__Validator **list, size_t *n)
{
    int dropped = 0;
    size_t at;

    *n = 0;
    for (size_t i = 0; i < set->n_validators; i++) {
        const uint8_t *key = set->validators[i]->node_key.data;
        if (ch->drop != NULL && memcmp(key, ch->drop, CODEC_KEY_SIZE) == 0) {
            dropped = 1;
            continue;
        }
        if (ch->add_key != NULL &&
            memcmp(key, ch->add_key, CODEC_KEY_SIZE) == 0) {
            (void)snprintf(ctx->reason, sizeof(ctx->reason),
                           "state record validators is damaged: the new "
                           "node key of %s is in it already",
                           ch->member);
            return TDEI_CORRUPT;
        }
        list[(*n)++] = set->validators[i];
    }
    if (ch->drop != NULL && !dropped) {
        (void)snprintf(ctx->reason, sizeof(ctx->reason),
                       "state record validators is damaged: validator "
                       "member %s's node key is not in it",
                       ch->member);
        return TDEI_CORRUPT;
    }
    if (ch->add_key == NULL) {
        return 0;
    }
    /* Insertion by node key: at most CONTRACT_VALIDATORS_LIMIT moves. */
    at = *n;
    while (at > 0 &&
           memcmp(list[at - 1]->node_key.data, ch->add_key, CODEC_KEY_SIZE) >
               0) {
        list[at] = list[at - 1];
        at--;
    }
    joining->node_key =
        (ProtobufCBinaryData){CODEC_KEY_SIZE, (uint8_t *)ch->add_key};
    joining->member = (char *)ch->member;
    list[at] = joining;
    (*n)++;
    return 0;
}

/* Check @ch against the set of height + 2 as decided so far, and with
 * @write apply it: write "validators_next" and emit the event. @op names
 * the proposal's kind in reasons. */
static int vset_apply(struct contract_ctx *ctx, const struct vset_change *ch,
                      const char *op, int write)
{
    Tdei__ValidatorSet *set;
    Tdei__ValidatorSet next = TDEI__VALIDATOR_SET__INIT;
    Tdei__Validator joining = TDEI__VALIDATOR__INIT;
    Tdei__Validator **list;
    uint64_t cap;
    size_t n = 0;
    int rc = validators_cap(ctx, &cap);

    if (rc != 0) {
        return rc;
    }
    rc = contract_validators_next_get(ctx, &set);
    if (rc != 0) {
        return rc;
    }
    list = tdei_calloc(set->n_validators + 1, sizeof(*list));
    if (list == NULL) {
        codec_validator_set_free(set);
        return TDEI_NOMEM;
    }
    rc = vset_build(ctx, set, ch, &joining, list, &n);
    if (rc == 0 && n == 0) {
        rc = contract_refuse(ctx, TDEI_NO_VALIDATORS,
                             "%s %s: %s is the only validator, and the "
                             "chain needs at least one; add another "
                             "validator first",
                             op, ch->member, ch->member);
    }
    if (rc == 0 && n > cap) {
        rc = contract_refuse(ctx, TDEI_VALIDATORS_FULL,
                             "%s %s: the validator set would hold %zu "
                             "validators; at most %" PRIu64
                             " (params.validators_max, at most %u); remove a "
                             "validator first or add %s as a non-validator",
                             op, ch->member, n, cap,
                             CONTRACT_VALIDATORS_CONSENSUS_MAX, ch->member);
    }
    if (rc == 0 && write) {
        next.n_validators = n;
        next.validators = list;
        rc = contract_validators_next_put(ctx, &next);
        if (rc == 0) {
            rc = vset_event(ctx, ch, n);
        }
    }
    tdei_free(list);
    codec_validator_set_free(set);
    return rc;
}

/* The change @op makes to the validator set, given the target @member
 * (NULL for an add). Returns 0 when it makes none. */
static int vset_change_of(const Tdei__MemberPropose *op,
                          const Tdei__Member *member, struct vset_change *ch)
{
    memset(ch, 0, sizeof(*ch));
    ch->member = op->member;
    switch (op->kind) {
    case CODEC_PROPOSE_ADD:
        ch->change = "add";
        ch->add_key = op->node_key.data;
        return op->validator;
    case CODEC_PROPOSE_REMOVE:
    case CODEC_PROPOSE_SUSPEND:
        ch->change = "remove";
        ch->drop = member->node_key.data;
        return member->validator;
    case CODEC_PROPOSE_KEY_CHANGE:
        ch->change = "key_change";
        ch->drop = member->node_key.data;
        ch->add_key = op->node_key.data;
        return member->validator && op->node_key.len != 0;
    default:
        return 0;
    }
}

/* Check (@write 0) or apply (@write 1) what @op does to the validator
 * set; @member is the target's record (NULL for an add). */
static int vset_rules(struct contract_ctx *ctx, const Tdei__MemberPropose *op,
                      const Tdei__Member *member, int write)
{
    struct vset_change ch;

    if (!vset_change_of(op, member, &ch)) {
        return 0;
    }
    return vset_apply(ctx, &ch, kind_name(op->kind), write);
}

/* The params governance may change, with their ranges. */
static int params_check(struct contract_ctx *ctx, const Tdei__MemberPropose *op)
{
    uint8_t key[] = CONTRACT_KEY_PARAMS;
    const struct params_def *def;
    int rc = contract_touch(ctx, key, sizeof(key) - 1);

    if (rc != 0) {
        return rc;
    }
    def = params_find(op->param);
    if (def == NULL) {
        return contract_refuse(ctx, TDEI_UNKNOWN_PARAM,
                               "params %s is not governable; tdei member "
                               "params lists the governable params",
                               op->param);
    }
    if (params_check_value(def, op->value) != 0) {
        return contract_refuse(
            ctx, TDEI_PARAM_RANGE,
            "params %s=%" PRIu64 " is outside %" PRIu64 "-%" PRIu64 "%s",
            op->param, op->value, def->min, def->max,
            strstr(op->param, ".roles") != NULL ? " with bit 0 clear" : "");
    }
    return 0;
}

/* The rules a proposal must meet when made and again when applied. */
static int op_check(struct contract_ctx *ctx, const Tdei__MemberPropose *op)
{
    Tdei__Member *member = NULL;
    int rc;

    switch (op->kind) {
    case CODEC_PROPOSE_ADD:
        rc = add_check(ctx, op);
        break;
    case CODEC_PROPOSE_REMOVE:
    case CODEC_PROPOSE_SUSPEND:
        rc = target_check(ctx, op, &member);
        break;
    case CODEC_PROPOSE_KEY_CHANGE:
        rc = key_change_check(ctx, op, &member);
        break;
    default:
        return params_check(ctx, op);
    }
    if (rc == 0) {
        rc = vset_rules(ctx, op, member, 0);
    }
    codec_member_free(member);
    return rc;
}

/* ---- applying a passed proposal ------------------------------------------ */

static int apply_add(struct contract_ctx *ctx, const Tdei__MemberPropose *op,
                     uint64_t voters)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    ProtobufCBinaryData opkey_bin = op->operator_key;
    Tdei__Member m = TDEI__MEMBER__INIT;
    Tdei__OperatorKey opkey = TDEI__OPERATOR_KEY__INIT;
    Tdei__NodeKey nodekey = TDEI__NODE_KEY__INIT;
    int rc = touch_member(ctx, op->member);

    m.id = op->member;
    m.name = op->name;
    m.role = op->role;
    m.node_key = op->node_key;
    m.encryption_key = op->encryption_key;
    m.n_operator_keys = 1;
    m.operator_keys = &opkey_bin;
    m.validator = op->validator;
    m.status = CODEC_MEMBER_ACTIVE;
    opkey.member = op->member;
    nodekey.member = op->member;
    if (rc == 0) {
        rc = contract_record_put(ctx, key, contract_key_member(key, op->member),
                                 &m.base);
    }
    if (rc == 0) {
        rc = contract_record_put(ctx, key,
                                 contract_key_opkey(key, op->operator_key.data),
                                 &opkey.base);
    }
    if (rc == 0) {
        rc = contract_record_put(ctx, key,
                                 contract_key_nodekey(key, op->node_key.data),
                                 &nodekey.base);
    }
    if (rc == 0 && op->role != TDEI_ROLE_AUDITOR) {
        rc = voters_put(ctx, voters + 1);
    }
    if (rc == 0) {
        rc = vset_rules(ctx, op, NULL, 1);
    }
    return rc;
}

/* remove / suspend: set the status; a voting member leaves the count. */
static int apply_status(struct contract_ctx *ctx, const Tdei__MemberPropose *op,
                        uint64_t voters)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Member *member;
    int was_voter;
    int rc = target_check(ctx, op, &member);

    if (rc != 0) {
        return rc;
    }
    was_voter = member->status == CODEC_MEMBER_ACTIVE &&
                member->role != TDEI_ROLE_AUDITOR;
    /* A validator leaves the set of height + 2 with its status. */
    rc = vset_rules(ctx, op, member, 1);
    member->status = op->kind == CODEC_PROPOSE_REMOVE ? CODEC_MEMBER_REMOVED
                                                      : CODEC_MEMBER_SUSPENDED;
    member->validator = 0;
    if (rc == 0) {
        rc = contract_record_put(
            ctx, key, contract_key_member(key, op->member), &member->base);
    }
    codec_member_free(member);
    if (rc == 0 && was_voter && voters == 0) {
        (void)snprintf(ctx->reason, sizeof(ctx->reason),
                       "state record voters is damaged: 0 while %s votes",
                       op->member);
        rc = TDEI_CORRUPT;
    }
    if (rc == 0 && was_voter) {
        rc = voters_put(ctx, voters - 1);
    }
    return rc;
}

/* key_change: replace the node key (and its registration) and/or the
 * encryption key. */
static int apply_key_change(struct contract_ctx *ctx,
                            const Tdei__MemberPropose *op)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t old_key[CODEC_KEY_SIZE];
    Tdei__NodeKey nodekey = TDEI__NODE_KEY__INIT;
    Tdei__Member *member;
    ProtobufCBinaryData keep_node;
    ProtobufCBinaryData keep_enc;
    int rc = key_change_check(ctx, op, &member);

    if (rc == 0) {
        /* A validator's new node key replaces its old one in the set of
         * height + 2. */
        rc = vset_rules(ctx, op, member, 1);
    }
    if (rc != 0) {
        codec_member_free(member);
        return rc;
    }
    keep_node = member->node_key;
    keep_enc = member->encryption_key;
    memcpy(old_key, keep_node.data, sizeof(old_key));
    if (op->node_key.len != 0) {
        member->node_key = op->node_key;
    }
    if (op->encryption_key.len != 0) {
        member->encryption_key = op->encryption_key;
    }
    rc = contract_record_put(ctx, key, contract_key_member(key, op->member),
                             &member->base);
    /* Give the decoded message back its own buffers before freeing. */
    member->node_key = keep_node;
    member->encryption_key = keep_enc;
    codec_member_free(member);
    if (rc == 0 && op->node_key.len != 0) {
        rc = contract_del(ctx, key, contract_key_nodekey(key, old_key));
    }
    if (rc == 0 && op->node_key.len != 0) {
        nodekey.member = op->member;
        rc = contract_record_put(ctx, key,
                                 contract_key_nodekey(key, op->node_key.data),
                                 &nodekey.base);
    }
    return rc;
}

static int apply_params(struct contract_ctx *ctx, const Tdei__MemberPropose *op)
{
    static const uint8_t key[] = CONTRACT_KEY_PARAMS;
    Tdei__Params *params;
    int rc = contract_params_get(ctx, &params);

    if (rc != 0) {
        return rc;
    }
    /* params_check ran in this tx: the name and value are good. */
    rc = params_set(params, params_find(op->param), op->value);
    TDEI_ASSERT(rc == 0);
    rc = contract_record_put(ctx, key, sizeof(key) - 1, &params->base);
    codec_params_free(params);
    return rc;
}

static int apply(struct contract_ctx *ctx, const Tdei__MemberPropose *op,
                 uint64_t voters)
{
    int rc = op_check(ctx, op);

    if (rc != 0) {
        return rc;
    }
    switch (op->kind) {
    case CODEC_PROPOSE_ADD:
        return apply_add(ctx, op, voters);
    case CODEC_PROPOSE_REMOVE:
    case CODEC_PROPOSE_SUSPEND:
        return apply_status(ctx, op, voters);
    case CODEC_PROPOSE_KEY_CHANGE:
        return apply_key_change(ctx, op);
    default:
        return apply_params(ctx, op);
    }
}

/* ---- tally --------------------------------------------------------------- */

/* More than 2/3 of @voters approve: approvals * 3 > voters * 2 (integer
 * arithmetic; counts are bounded by the member count). */
static int passes(size_t approvals, uint64_t voters)
{
    return (uint64_t)approvals * 3u > voters * 2u;
}

/* At least 1/3 of @voters reject. */
static int fails(size_t rejections, uint64_t voters)
{
    return (uint64_t)rejections * 3u >= voters;
}

/* Decide @p after its votes changed and write it at @id; apply it when it
 * passes. Emits "member.proposal" with the outcome and the counts. */
static int tally(struct contract_ctx *ctx, const uint8_t id[CODEC_HASH_SIZE],
                 Tdei__MemberProposal *p)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char idhex[2 * CODEC_HASH_SIZE + 1];
    char text[160];
    uint64_t voters;
    int rc = voters_get(ctx, &voters);

    if (rc != 0) {
        return rc;
    }
    if (passes(p->n_approvals, voters)) {
        rc = apply(ctx, p->op, voters);
        p->status = CODEC_PROPOSAL_PASSED;
        (void)snprintf(text, sizeof(text),
                       "passed: %zu of %" PRIu64 " voting members approved "
                       "(more than 2/3 needed)",
                       p->n_approvals, voters);
    } else if (fails(p->n_rejections, voters)) {
        p->status = CODEC_PROPOSAL_FAILED;
        (void)snprintf(text, sizeof(text),
                       "failed: %zu of %" PRIu64 " voting members rejected "
                       "(at least 1/3 fails it)",
                       p->n_rejections, voters);
    } else {
        (void)snprintf(text, sizeof(text),
                       "open: needs more than 2/3 of %" PRIu64 " voting "
                       "members; %zu approvals, %zu rejections present",
                       voters, p->n_approvals, p->n_rejections);
    }
    if (rc == 0) {
        rc = contract_record_put(ctx, key, key_proposal(key, id), &p->base);
    }
    (void)tdei_hex_encode(idhex, sizeof(idhex), id, CODEC_HASH_SIZE);
    if (rc == 0) {
        rc = contract_event(ctx, "member.proposal");
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "id", idhex);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "kind", kind_name(p->op->kind));
    }
    if (rc == 0) {
        rc = contract_event_attr(
            ctx, "member",
            p->op->kind == CODEC_PROPOSE_PARAMS ? p->op->param : p->op->member);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "by", ctx->member);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "outcome", text);
    }
    return rc;
}

/* ---- handlers ------------------------------------------------------------ */

int contract_member_propose(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    Tdei__MemberPropose *op = body->member_propose;
    Tdei__MemberProposal p = TDEI__MEMBER_PROPOSAL__INIT;
    Tdei__Params *params;
    char *approvals[1];
    uint64_t ttl;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_MEMBER_PROPOSE);
    TDEI_ASSERT(op != NULL);
    rc = voter_check(ctx, "member_propose");
    if (rc == 0) {
        rc = touch_proposal(ctx, ctx->tx_id);
    }
    if (rc == 0) {
        rc = op_check(ctx, op);
    }
    if (rc != 0) {
        return rc;
    }
    rc = contract_params_get(ctx, &params);
    if (rc != 0) {
        return rc;
    }
    ttl = params->proposal_ttl;
    codec_params_free(params);
    approvals[0] = ctx->member;
    p.op = op;
    p.proposer = ctx->member;
    p.height = ctx->height;
    p.expires_height =
        ctx->height > UINT64_MAX - ttl ? UINT64_MAX : ctx->height + ttl;
    p.n_approvals = 1;
    p.approvals = approvals;
    p.status = CODEC_PROPOSAL_OPEN;
    return tally(ctx, ctx->tx_id, &p);
}

/* Return 1 when @id is in the ascending list @ids of @n; *@at is where it
 * is or would go. */
static int id_find(char *const *ids, size_t n, const char *id, size_t *at)
{
    size_t i = 0;

    while (i < n && strcmp(ids[i], id) < 0) {
        i++;
    }
    *at = i;
    return i < n && strcmp(ids[i], id) == 0;
}

int contract_member_vote(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__MemberVote *op = body->member_vote;
    Tdei__MemberProposal *p;
    char **list;
    char ***field;
    size_t *count;
    size_t at_a;
    size_t at_r;
    char **grown;
    char **old;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_MEMBER_VOTE);
    TDEI_ASSERT(op->proposal.len == CODEC_HASH_SIZE);
    rc = voter_check(ctx, "member_vote");
    if (rc != 0) {
        return rc;
    }
    rc = proposal_get(ctx, op->proposal.data, &p);
    if (rc == TDEI_NOTFOUND) {
        return contract_refuse(ctx, TDEI_UNKNOWN_PROPOSAL,
                               "member_vote: no member proposal with this "
                               "id; give the id of the proposing tx");
    }
    if (rc != 0) {
        return rc;
    }
    rc = touch_proposal(ctx, op->proposal.data);
    if (rc == 0 && p->status != CODEC_PROPOSAL_OPEN) {
        rc = contract_refuse(
            ctx, TDEI_PROPOSAL_CLOSED,
            "member_vote: the proposal to %s %s already "
            "%s; make a new proposal",
            kind_name(p->op->kind),
            p->op->kind == CODEC_PROPOSE_PARAMS ? p->op->param : p->op->member,
            p->status == CODEC_PROPOSAL_PASSED ? "passed" : "failed");
    }
    if (rc == 0 && ctx->height > p->expires_height) {
        rc = contract_refuse(ctx, TDEI_PROPOSAL_EXPIRED,
                             "member_vote: the proposal expired after "
                             "height %" PRIu64 " (params.proposal_ttl); "
                             "this is height %" PRIu64 "; make a new "
                             "proposal",
                             p->expires_height, ctx->height);
    }
    if (rc == 0 &&
        (id_find(p->approvals, p->n_approvals, ctx->member, &at_a) ||
         id_find(p->rejections, p->n_rejections, ctx->member, &at_r))) {
        rc = contract_refuse(ctx, TDEI_ALREADY_VOTED,
                             "member_vote: %s already voted on this "
                             "proposal; one vote per member",
                             ctx->member);
    }
    if (rc != 0) {
        codec_member_proposal_free(p);
        return rc;
    }
    field = op->approve ? &p->approvals : &p->rejections;
    count = op->approve ? &p->n_approvals : &p->n_rejections;
    list = *field;
    (void)id_find(list, *count, ctx->member, &at_a);
    grown = tdei_calloc(*count + 1, sizeof(*grown));
    if (grown == NULL) {
        codec_member_proposal_free(p);
        return TDEI_NOMEM;
    }
    for (size_t i = 0; i < *count; i++) {
        grown[i < at_a ? i : i + 1] = list[i];
    }
    grown[at_a] = ctx->member;
    old = *field;
    *field = grown;
    (*count)++;
    rc = tally(ctx, op->proposal.data, p);
    /* Give the decoded message back its own array before freeing it. */
    *field = old;
    (*count)--;
    tdei_free(grown);
    codec_member_proposal_free(p);
    return rc;
}

/* ---- operator key rotation ----------------------------------------------- */

int contract_operator_key_rotate(struct contract_ctx *ctx,
                                 const Tdei__TxBody *body)
{
    const Tdei__OperatorKeyRotate *op = body->operator_key_rotate;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    ProtobufCBinaryData keys[CODEC_OPERATOR_KEYS_MAX + 1];
    Tdei__OperatorKey opkey = TDEI__OPERATOR_KEY__INIT;
    ProtobufCBinaryData *old_keys;
    Tdei__Member *member;
    size_t old_count;
    size_t n = 0;
    int found = 0;
    int exists = 0;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_OPERATOR_KEY_ROTATE);
    TDEI_ASSERT(op != NULL);
    rc = touch_member(ctx, ctx->member);
    if (rc != 0) {
        return rc;
    }
    if (op->remove_key.len != 0 &&
        memcmp(op->remove_key.data, ctx->signer, CODEC_KEY_SIZE) == 0) {
        return contract_refuse(ctx, TDEI_SIGNING_KEY,
                               "operator_key_rotate: the tx removes the key "
                               "that signs it; sign with another key of %s",
                               ctx->member);
    }
    if (op->add_key.len != 0) {
        rc = key_exists(ctx, key, contract_key_opkey(key, op->add_key.data),
                        &exists);
        if (rc != 0) {
            return rc;
        }
        if (exists) {
            return contract_refuse(ctx, TDEI_MEMBER_EXISTS,
                                   "operator_key_rotate: the new key is "
                                   "already registered; generate a new one");
        }
    }
    rc = contract_member_get(ctx, ctx->member, &member);
    if (rc != 0) {
        return rc == TDEI_NOTFOUND ? TDEI_CORRUPT : rc;
    }
    /* The new list: old keys minus remove_key, plus add_key, ascending
     * (insertion: at most CODEC_OPERATOR_KEYS_MAX + 1 entries). */
    for (size_t i = 0;
         i < member->n_operator_keys && n < CODEC_OPERATOR_KEYS_MAX; i++) {
        const ProtobufCBinaryData *k = &member->operator_keys[i];
        if (op->remove_key.len != 0 &&
            memcmp(k->data, op->remove_key.data, CODEC_KEY_SIZE) == 0) {
            found = 1;
            continue;
        }
        keys[n++] = *k;
    }
    if (op->add_key.len != 0) {
        size_t at = n;
        while (at > 0 && memcmp(keys[at - 1].data, op->add_key.data,
                                CODEC_KEY_SIZE) > 0) {
            keys[at] = keys[at - 1];
            at--;
        }
        keys[at] = op->add_key;
        n++;
    }
    if (op->remove_key.len != 0 && !found) {
        rc = contract_refuse(ctx, TDEI_UNKNOWN_KEY,
                             "operator_key_rotate: the key to remove is not "
                             "one of the %zu operator keys of %s",
                             member->n_operator_keys, ctx->member);
    } else if (n == 0) {
        rc = contract_refuse(ctx, TDEI_LAST_KEY,
                             "operator_key_rotate: removing the last "
                             "operator key of %s; add a new key in the "
                             "same tx",
                             ctx->member);
    } else if (n > CODEC_OPERATOR_KEYS_MAX) {
        rc = contract_refuse(ctx, TDEI_KEY_LIMIT,
                             "operator_key_rotate: %s would hold %zu "
                             "operator keys; at most %u",
                             ctx->member, n, CODEC_OPERATOR_KEYS_MAX);
    }
    if (rc == 0) {
        old_keys = member->operator_keys;
        old_count = member->n_operator_keys;
        member->operator_keys = keys;
        member->n_operator_keys = n;
        rc = contract_record_put(
            ctx, key, contract_key_member(key, ctx->member), &member->base);
        member->operator_keys = old_keys;
        member->n_operator_keys = old_count;
    }
    codec_member_free(member);
    if (rc == 0 && op->remove_key.len != 0) {
        rc = contract_del(ctx, key,
                          contract_key_opkey(key, op->remove_key.data));
    }
    if (rc == 0 && op->add_key.len != 0) {
        opkey.member = ctx->member;
        rc = contract_record_put(
            ctx, key, contract_key_opkey(key, op->add_key.data), &opkey.base);
    }
    if (rc == 0) {
        rc = contract_event(ctx, "member.key_rotate");
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "member", ctx->member);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "keys", n);
    }
    return rc;
}
