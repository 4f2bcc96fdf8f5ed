/* WORK IN PROGRESS (base branch only): the classify contract. Replaced by
 * its implementation before anything lands on main. */
#include "contracts/contract.h"

int contract_classify_set(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "classify_set is not built yet");
}

int contract_classify_approve(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "classify_approve is not built yet");
}

