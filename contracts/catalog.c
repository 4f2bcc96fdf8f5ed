/* WORK IN PROGRESS (base branch only): the catalog contract. Replaced by
 * its implementation before anything lands on main. */
#include "contracts/contract.h"

int contract_catalog_publish(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "catalog_publish is not built yet");
}

int contract_catalog_version(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "catalog_version is not built yet");
}

int contract_catalog_withdraw(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "catalog_withdraw is not built yet");
}

int contract_catalog_reprice(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "catalog_reprice is not built yet");
}

