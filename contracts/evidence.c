/* The evidence contract (DESIGN.md section 5: "Two conflicting signed
 * votes from one validator are evidence: it is committed to the ledger
 * and shown to auditors"). Rules and codes are listed in contract.h.
 * Pure: the signature checks are BIP-340 verifications, deterministic and
 * the same on every node.
 *
 * What it proves: two votes signed by one validator key for the same
 * (height, round, type) and different block ids. What it does: record
 * the equivocation once ("evidence/" id, id = codec_evidence_id, which
 * ignores the signatures) and extend the history of the member that runs
 * the validator. The design has no stake and no slashing; members act on
 * the record through membership proposals. Only the current validator
 * set is checked: evidence about a validator that has since left is
 * refused (a later issue may keep recent sets). */
#include "contracts/contract.h"

#include "core/assert.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define EVENT_COMMITTED "evidence.committed"

static const char *vote_type_name(uint32_t type)
{
    return type == CODEC_VOTE_PREVOTE ? "prevote" : "precommit";
}

static int touch_member(struct contract_ctx *ctx, const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    return contract_touch(ctx, key, contract_key_member(key, id));
}

/* Rule 1: @vote's validator is in the current set @set. */
static int validator_check(struct contract_ctx *ctx,
                           const Tdei__ValidatorSet *set,
                           const Tdei__Vote *vote, const char *name)
{
    char hex[TDEI_HEX_SIZE(CODEC_KEY_SIZE)];

    for (size_t i = 0; i < set->n_validators; i++) {
        if (memcmp(set->validators[i]->node_key.data, vote->validator.data,
                   CODEC_KEY_SIZE) == 0) {
            return 0;
        }
    }
    (void)tdei_hex_encode(hex, sizeof(hex), vote->validator.data,
                          CODEC_KEY_SIZE);
    return contract_refuse(ctx, TDEI_NOT_VALIDATOR,
                           "evidence vote %s names %s, which is not a "
                           "validator of the current set (%zu validators); "
                           "evidence is taken against current validators "
                           "only",
                           name, hex, set->n_validators);
}

/* Rule 2: @vote's signature verifies under its validator on this chain. */
static int signature_check(struct contract_ctx *ctx, const Tdei__Vote *vote,
                           const char *name)
{
    uint8_t bytes[CODEC_VOTE_SIGN_BYTES_MAX];
    char hex[TDEI_HEX_SIZE(CODEC_KEY_SIZE)];
    size_t len = codec_vote_msg_sign_bytes(bytes, ctx->chain_id, vote);

    if (tdei_verify_tagged(vote->sig.data, vote->validator.data, TDEI_TAG_VOTE,
                           bytes, len) == 0) {
        return 0;
    }
    (void)tdei_hex_encode(hex, sizeof(hex), vote->validator.data,
                          CODEC_KEY_SIZE);
    return contract_refuse(ctx, TDEI_BADSIG,
                           "evidence vote %s: its signature does not verify "
                           "for validator %s on chain %s; submit the votes "
                           "exactly as the validator signed them",
                           name, hex, ctx->chain_id);
}

/* Rule 3: the votes conflict (the codec refuses any other evidence; this
 * keeps the contract's own rule whole). */
static int conflict_check(struct contract_ctx *ctx, const Tdei__Vote *a,
                          const Tdei__Vote *b)
{
    int same_id =
        a->block_id.len == b->block_id.len &&
        (a->block_id.len == 0 ||
         memcmp(a->block_id.data, b->block_id.data, a->block_id.len) == 0);

    if (memcmp(a->validator.data, b->validator.data, CODEC_KEY_SIZE) == 0 &&
        a->height == b->height && a->round == b->round && a->type == b->type &&
        !same_id) {
        return 0;
    }
    return contract_refuse(ctx, TDEI_MALFORMED,
                           "evidence votes do not conflict: they differ in "
                           "validator, height, round or type, or vote for "
                           "the same block; submit two votes of one "
                           "validator for one height, round and type with "
                           "different block ids");
}

/* The member that runs validator @key, into @member (its NodeKey record:
 * every validator's node key is registered, so a missing one is a
 * damaged state). */
static int validator_member(struct contract_ctx *ctx,
                            const uint8_t key[CODEC_KEY_SIZE],
                            char member[TDEI_MEMBER_ID_MAX + 1])
{
    Tdei__NodeKey *nk;
    int rc = contract_node_key_get(ctx, key, &nk);

    if (rc == TDEI_NOTFOUND) {
        char hex[TDEI_HEX_SIZE(CODEC_KEY_SIZE)];
        (void)tdei_hex_encode(hex, sizeof(hex), key, CODEC_KEY_SIZE);
        (void)snprintf(ctx->reason, sizeof(ctx->reason),
                       "state record node key of validator %s is missing", hex);
        return TDEI_CORRUPT;
    }
    if (rc != 0) {
        return rc;
    }
    (void)snprintf(member, TDEI_MEMBER_ID_MAX + 1, "%s", nk->member);
    codec_node_key_free(nk);
    return 0;
}

/* Rule 4: the equivocation @id is not recorded yet. */
static int recorded_check(struct contract_ctx *ctx,
                          const uint8_t id[CODEC_HASH_SIZE],
                          const Tdei__Vote *vote)
{
    char hex[TDEI_HEX_SIZE(CODEC_KEY_SIZE)];
    Tdei__EvidenceRecord *rec;
    uint64_t height;
    int rc = contract_evidence_record_get(ctx, id, &rec);

    if (rc == TDEI_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    height = rec->height;
    codec_evidence_record_free(rec);
    (void)tdei_hex_encode(hex, sizeof(hex), vote->validator.data,
                          CODEC_KEY_SIZE);
    return contract_refuse(ctx, TDEI_EVIDENCE_EXISTS,
                           "this equivocation of validator %s (height %" PRIu64
                           " round %" PRIu32 " %s) was recorded at height "
                           "%" PRIu64 "; it is on the ledger already",
                           hex, vote->height, vote->round,
                           vote_type_name(vote->type), height);
}

static int record_put(struct contract_ctx *ctx,
                      const uint8_t id[CODEC_HASH_SIZE], const Tdei__Vote *vote,
                      const char *member)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__EvidenceRecord rec = TDEI__EVIDENCE_RECORD__INIT;

    rec.height = ctx->height;
    rec.tx = (ProtobufCBinaryData){CODEC_HASH_SIZE, ctx->tx_id};
    rec.validator = vote->validator;
    rec.member = (char *)(uintptr_t)member;
    return contract_record_put(ctx, key, contract_key_evidence(key, id),
                               &rec.base);
}

static int event_emit(struct contract_ctx *ctx,
                      const uint8_t id[CODEC_HASH_SIZE], const Tdei__Vote *vote,
                      const char *member)
{
    char id_hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    char key_hex[TDEI_HEX_SIZE(CODEC_KEY_SIZE)];
    int rc = contract_event(ctx, EVENT_COMMITTED);

    (void)tdei_hex_encode(id_hex, sizeof(id_hex), id, CODEC_HASH_SIZE);
    (void)tdei_hex_encode(key_hex, sizeof(key_hex), vote->validator.data,
                          CODEC_KEY_SIZE);
    if (rc == 0) {
        rc = contract_event_attr(ctx, "id", id_hex);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "validator", key_hex);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "member", member);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "height", vote->height);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "round", vote->round);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "type", vote_type_name(vote->type));
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "by", ctx->member);
    }
    return rc;
}

int contract_evidence(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__Evidence *ev = body->evidence;
    char member[TDEI_MEMBER_ID_MAX + 1];
    Tdei__ValidatorSet *set;
    uint8_t id[CODEC_HASH_SIZE];
    int rc;

    TDEI_ASSERT(ev != NULL && ev->a != NULL && ev->b != NULL);
    rc = touch_member(ctx, ctx->member);
    if (rc == 0) {
        rc = contract_validators_get(ctx, &set);
    }
    if (rc != 0) {
        return rc;
    }
    rc = validator_check(ctx, set, ev->a, "a");
    if (rc == 0) {
        rc = validator_check(ctx, set, ev->b, "b");
    }
    codec_validator_set_free(set);
    if (rc == 0) {
        rc = signature_check(ctx, ev->a, "a");
    }
    if (rc == 0) {
        rc = signature_check(ctx, ev->b, "b");
    }
    if (rc == 0) {
        rc = conflict_check(ctx, ev->a, ev->b);
    }
    if (rc == 0) {
        rc = validator_member(ctx, ev->a->validator.data, member);
    }
    if (rc == 0) {
        rc = touch_member(ctx, member);
    }
    if (rc != 0) {
        return rc;
    }
    codec_evidence_id(id, ev);
    rc = recorded_check(ctx, id, ev->a);
    if (rc == 0) {
        rc = record_put(ctx, id, ev->a, member);
    }
    if (rc == 0) {
        rc = event_emit(ctx, id, ev->a, member);
    }
    return rc;
}
