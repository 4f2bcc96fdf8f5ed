/* WORK IN PROGRESS (base branch only): the exchange contract. Replaced by
 * its implementation before anything lands on main. */
#include "contracts/contract.h"

int contract_exchange_request(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "exchange_request is not built yet");
}

int contract_exchange_approve(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "exchange_approve is not built yet");
}

int contract_exchange_reject(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "exchange_reject is not built yet");
}

int contract_exchange_deliver(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "exchange_deliver is not built yet");
}

int contract_exchange_confirm(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "exchange_confirm is not built yet");
}

int contract_exchange_dispute(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "exchange_dispute is not built yet");
}

int contract_exchange_resolve(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "exchange_resolve is not built yet");
}

int contract_grant_revoke(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "grant_revoke is not built yet");
}

int contract_block_begin(struct contract_ctx *ctx)
{
    (void)ctx;
    return 0;
}
