/* libFuzzer target: every ledger decoder of node/core/codec.h.
 *
 * Each input goes to every decoder, twice: once under the default limits
 * and once under tiny ones (so the fuzzer reaches the limit paths without
 * megabyte inputs). Beyond "no crash, no sanitizer report", it checks:
 *   - a decoder that accepts saw the canonical encoding: re-encoding the
 *     decoded message gives exactly the input bytes;
 *   - a decoder that refuses leaves its out-pointers NULL;
 *   - no block allocated through tdei_malloc outlives the input.
 * Any violation calls abort(), which libFuzzer reports as a crash.
 *
 * Build with libFuzzer: `make fuzz` in the build directory (clang), then
 *   ./tests/fuzz/fuzz_codec -max_len=70000 CORPUS_DIR
 * `make check` runs it as tests/fuzz/smoke_codec (tests/fuzz/smoke.c):
 * seeded random and mutated inputs, no libFuzzer needed. With
 * -DFUZZ_CODEC_STANDALONE instead, ./fuzz_codec FILE... feeds each file
 * once (to replay a crash).
 */
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort unless @msg re-encodes to exactly @data. */
static void expect_canonical(const ProtobufCMessage *msg, const uint8_t *data,
                             size_t size)
{
    uint8_t *again = NULL;
    size_t again_len = 0;

    if (codec_encode(msg, &again, &again_len) != 0) {
        return; /* out of memory: nothing to compare */
    }
    if (again_len != size || (size > 0 && memcmp(again, data, size) != 0)) {
        fprintf(stderr, "fuzz_codec: accepted a non-canonical %s\n",
                msg->descriptor->name);
        abort();
    }
    tdei_free(again);
}

#define EXPECT(cond)                                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_codec: %s:%d: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Decode with decoder @call into @var of @type and check the oracle. */
#define RUN(type, var, freer, call)                                            \
    do {                                                                       \
        type *var = NULL;                                                      \
        if ((call) == 0) {                                                     \
            EXPECT(var != NULL);                                               \
            expect_canonical(&var->base, data, size);                          \
        } else {                                                               \
            EXPECT(var == NULL);                                               \
        }                                                                      \
        freer(var);                                                            \
    } while (0)

static void decode_all(const uint8_t *data, size_t size,
                       const struct codec_limits *limits)
{
    char errmsg[TDEI_ERRMSG_SIZE];

    RUN(Tdei__Tx, tx, codec_tx_free,
        codec_tx_decode(&tx, data, size, limits->tx_size_max, errmsg));
    RUN(Tdei__TxBody, body, codec_txbody_free,
        codec_txbody_decode(&body, data, size, errmsg));
    RUN(Tdei__Header, header, codec_header_free,
        codec_header_decode(&header, data, size, errmsg));
    RUN(Tdei__Vote, vote, codec_vote_free,
        codec_vote_decode(&vote, data, size, errmsg));
    RUN(Tdei__Commit, commit, codec_commit_free,
        codec_commit_decode(&commit, data, size, limits, errmsg));
    RUN(Tdei__Evidence, evidence, codec_evidence_free,
        codec_evidence_decode(&evidence, data, size, errmsg));
    RUN(Tdei__TxResult, result, codec_txresult_free,
        codec_txresult_decode(&result, data, size, errmsg));
    RUN(Tdei__ValidatorSet, set, codec_validator_set_free,
        codec_validator_set_decode(&set, data, size, limits, errmsg));
    RUN(Tdei__Member, member, codec_member_free,
        codec_member_decode(&member, data, size, errmsg));
    RUN(Tdei__Params, params, codec_params_free,
        codec_params_decode(&params, data, size, errmsg));
    RUN(Tdei__MemberProposal, proposal, codec_member_proposal_free,
        codec_member_proposal_decode(&proposal, data, size, errmsg));
    RUN(Tdei__Dataset, dataset, codec_dataset_free,
        codec_dataset_decode(&dataset, data, size, errmsg));
    RUN(Tdei__DatasetVersion, version, codec_dataset_version_free,
        codec_dataset_version_decode(&version, data, size, errmsg));
    RUN(Tdei__Exchange, exchange, codec_exchange_free,
        codec_exchange_decode(&exchange, data, size, errmsg));
    RUN(Tdei__GrantRef, grant, codec_grant_ref_free,
        codec_grant_ref_decode(&grant, data, size, errmsg));
    RUN(Tdei__Stream, stream, codec_stream_free,
        codec_stream_decode(&stream, data, size, errmsg));
    RUN(Tdei__DueList, due, codec_due_list_free,
        codec_due_list_decode(&due, data, size, errmsg));
    RUN(Tdei__EvidenceRecord, evrec, codec_evidence_record_free,
        codec_evidence_record_decode(&evrec, data, size, errmsg));
    {
        Tdei__Header *header = NULL;
        RUN(Tdei__Block, block, codec_block_free,
            codec_block_decode(&block, &header, data, size, limits, errmsg));
        codec_header_free(header);
    }
    {
        Tdei__Header *header = NULL;
        RUN(Tdei__Proposal, proposal, codec_proposal_free,
            codec_proposal_decode(&proposal, &header, data, size, limits,
                                  errmsg));
        codec_header_free(header);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct codec_limits defaults = CODEC_LIMITS_DEFAULT;
    static const struct codec_limits tiny = {
        .tx_size_max = 64,
        .block_size_max = 4096,
        .block_txs_max = 4,
        .validators_max = 4,
    };
    long live = tdei_alloc_live();

    decode_all(data, size, &defaults);
    decode_all(data, size, &tiny);
    EXPECT(tdei_alloc_live() == live);
    return 0;
}

#ifdef FUZZ_CODEC_STANDALONE
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *file = fopen(argv[i], "rb");
        uint8_t *buf;
        long size;

        if (file == NULL || fseek(file, 0, SEEK_END) != 0 ||
            (size = ftell(file)) < 0 || fseek(file, 0, SEEK_SET) != 0) {
            fprintf(stderr, "fuzz_codec: cannot read %s\n", argv[i]);
            return 1;
        }
        buf = malloc((size_t)size + 1);
        if (buf == NULL || fread(buf, 1, (size_t)size, file) != (size_t)size) {
            fprintf(stderr, "fuzz_codec: cannot read %s\n", argv[i]);
            return 1;
        }
        fclose(file);
        (void)LLVMFuzzerTestOneInput(buf, (size_t)size);
        free(buf);
        printf("%s: ok\n", argv[i]);
    }
    return 0;
}
#endif
