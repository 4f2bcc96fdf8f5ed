/* WORK IN PROGRESS (base branch only): the stream contract. Replaced by
 * its implementation before anything lands on main. */
#include "contracts/contract.h"

int contract_stream_open(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "stream_open is not built yet");
}

int contract_stream_append(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "stream_append is not built yet");
}

int contract_stream_close(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    (void)body;
    return contract_refuse(ctx, TDEI_UNKNOWN_OP, "stream_close is not built yet");
}

