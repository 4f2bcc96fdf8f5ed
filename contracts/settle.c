/* The settle contract (DESIGN.md section 6, "settle"): balances in integer
 * credits per member, overflow-checked; transfers between members and
 * optional minting by public_service. Escrow and price terms come with the
 * exchange contract. Rules and codes are listed in contract.h. Pure. */
#include "contracts/contract.h"

#include "core/assert.h"

#include <inttypes.h>
#include <string.h>

/* Look up the receiver @to: it must exist and be active. On 0 the
 * receiver is touched (its history records the tx). @op names the op in
 * reasons. */
static int receiver_check(struct contract_ctx *ctx, const char *op,
                          const char *to)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Member *member;
    uint32_t status;
    int rc = contract_member_get(ctx, to, &member);

    if (rc == TDEI_NOTFOUND) {
        return contract_refuse(ctx, TDEI_UNKNOWN_MEMBER,
                               "%s to %s: no such member; check the member "
                               "id",
                               op, to);
    }
    if (rc != 0) {
        return rc;
    }
    status = member->status;
    codec_member_free(member);
    rc = contract_touch(ctx, key, contract_key_member(key, to));
    if (rc != 0) {
        return rc;
    }
    if (status != CODEC_MEMBER_ACTIVE) {
        return contract_refuse(
            ctx, TDEI_MEMBER_INACTIVE,
            "%s to %s: the member is %s; only active "
            "members receive credits",
            op, to, status == CODEC_MEMBER_SUSPENDED ? "suspended" : "removed");
    }
    return 0;
}

/* Touch the signer's member: every op of settle is in its history. */
static int touch_signer(struct contract_ctx *ctx)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    return contract_touch(ctx, key, contract_key_member(key, ctx->member));
}

/* Credit @amount to @to, refusing an overflow of its balance. */
static int credit(struct contract_ctx *ctx, const char *op, const char *to,
                  uint64_t amount)
{
    uint64_t balance;
    int rc = contract_balance_get(ctx, to, &balance);

    if (rc != 0) {
        return rc;
    }
    if (balance > UINT64_MAX - amount) {
        return contract_refuse(ctx, TDEI_OVERFLOW,
                               "%s of %" PRIu64 " credits would overflow the "
                               "balance of %s (%" PRIu64 " of at most "
                               "%" PRIu64 "); lower the amount",
                               op, amount, to, balance, UINT64_MAX);
    }
    return contract_balance_put(ctx, to, balance + amount);
}

int contract_settle_transfer(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__Transfer *op = body->transfer;
    uint64_t balance;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_TRANSFER);
    TDEI_ASSERT(op != NULL);
    rc = touch_signer(ctx);
    if (rc != 0) {
        return rc;
    }
    if (op->amount == 0) {
        return contract_refuse(ctx, TDEI_BAD_AMOUNT,
                               "transfer amount is 0; send at least 1 "
                               "credit");
    }
    if (strcmp(op->to, ctx->member) == 0) {
        return contract_refuse(ctx, TDEI_SELF_TRANSFER,
                               "transfer from %s to itself; name another "
                               "member as the receiver",
                               ctx->member);
    }
    rc = receiver_check(ctx, "transfer", op->to);
    if (rc != 0) {
        return rc;
    }
    rc = contract_balance_get(ctx, ctx->member, &balance);
    if (rc != 0) {
        return rc;
    }
    if (balance < op->amount) {
        return contract_refuse(ctx, TDEI_INSUFFICIENT_FUNDS,
                               "transfer needs %" PRIu64 " credits; %s holds "
                               "%" PRIu64,
                               op->amount, ctx->member, balance);
    }
    /* Debit first: with the receiver distinct, the credit reads the
     * receiver's own balance. */
    rc = contract_balance_put(ctx, ctx->member, balance - op->amount);
    if (rc == 0) {
        rc = credit(ctx, "transfer", op->to, op->amount);
    }
    if (rc == 0) {
        rc = contract_event(ctx, "transfer");
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "from", ctx->member);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "to", op->to);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "amount", op->amount);
    }
    return rc;
}

int contract_settle_mint(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__Mint *op = body->mint;
    Tdei__Params *params;
    int enabled;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_MINT);
    TDEI_ASSERT(op != NULL);
    rc = touch_signer(ctx);
    if (rc != 0) {
        return rc;
    }
    if (ctx->role != TDEI_ROLE_PUBLIC_SERVICE) {
        const char *role = tdei_role_name(ctx->role);
        return contract_refuse(ctx, TDEI_ROLE,
                               "mint needs role public_service; %s is %s",
                               ctx->member, role != NULL ? role : "unknown");
    }
    rc = contract_params_get(ctx, &params);
    if (rc != 0) {
        return rc;
    }
    enabled = params->mint_enabled ? 1 : 0;
    codec_params_free(params);
    if (!enabled) {
        return contract_refuse(ctx, TDEI_DISABLED,
                               "mint is disabled (params.mint_enabled is "
                               "false); governance must enable it first");
    }
    if (op->amount == 0) {
        return contract_refuse(ctx, TDEI_BAD_AMOUNT,
                               "mint amount is 0; mint at least 1 credit");
    }
    rc = receiver_check(ctx, "mint", op->to);
    if (rc == 0) {
        rc = credit(ctx, "mint", op->to, op->amount);
    }
    if (rc == 0) {
        rc = contract_event(ctx, "mint");
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "by", ctx->member);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "to", op->to);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "amount", op->amount);
    }
    return rc;
}
