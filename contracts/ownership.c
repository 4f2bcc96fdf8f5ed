/* WORK IN PROGRESS (base branch only): the ownership contract. Replaced by
 * its implementation before anything lands on main. */
#include "contracts/contract.h"

int contract_ownership_offer(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "ownership_offer is not built yet");
}

int contract_ownership_accept(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "ownership_accept is not built yet");
}

int contract_ownership_cancel(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "ownership_cancel is not built yet");
}

