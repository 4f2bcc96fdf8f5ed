/* Consensus messages on this chain (DESIGN.md sections 3 and 5): the
 * struct cons_crypto the node gives the engine (consensus/engine.h), and
 * the bridge between the engine's votes and the ledger's Commit.
 *
 * Sign bytes are the codec's fixed layouts (core/codec.h) with the
 * chain's id: codec_vote_sign_bytes for votes, codec_proposal_sign_bytes
 * for proposals. Signatures are BIP-340 over the tagged hash of those
 * bytes (core/keys.h tdei_sign_tagged), tag "tdei/vote" (TDEI_TAG_VOTE)
 * for prevotes and precommits, "tdei/proposal" (TDEI_TAG_PROPOSAL) for
 * proposals. A Commit's signatures are precommits, so a Commit signature
 * verifies against codec_commit_sign_bytes, the same bytes.
 *
 * Signing draws BIP-340 auxiliary randomness from the system, so this
 * module lives outside the pure node/consensus directory; the engine only
 * sees the function pointers.
 *
 * Pointers are non-NULL unless stated; errmsg is TDEI_ERRMSG_SIZE bytes.
 * Threads: a struct votes_crypto may be used from one thread at a time
 * when it signs; verifying only, from any thread. */
#ifndef TDEI_NODE_VOTES_H
#define TDEI_NODE_VOTES_H

#include "consensus/engine.h"
#include "core/codec.h"
#include "core/keys.h"
#include "core/limits.h"

#include <stddef.h>
#include <stdint.h>

_Static_assert(CODEC_VOTE_SIGN_BYTES_MAX <= CONS_SIGN_BYTES_MAX,
               "vote sign bytes fit the engine's buffers");
_Static_assert(CODEC_PROPOSAL_SIGN_BYTES_MAX <= CONS_SIGN_BYTES_MAX,
               "proposal sign bytes fit the engine's buffers");
_Static_assert(CONS_KEY_SIZE == TDEI_PUBKEY_SIZE, "keys are x-only keys");
_Static_assert(CONS_SIG_SIZE == TDEI_SIG_SIZE, "signatures are BIP-340");
_Static_assert(CONS_ID_SIZE == CODEC_HASH_SIZE, "values are block ids");
_Static_assert((int)CONS_PREVOTE == (int)CODEC_VOTE_PREVOTE &&
                   (int)CONS_PRECOMMIT == (int)CODEC_VOTE_PRECOMMIT,
               "vote types agree");

/* The state behind a struct cons_crypto. */
struct votes_crypto
{
    char chain_id[TDEI_CHAIN_ID_MAX + 1]; /* inside every sign bytes */
    const struct tdei_keypair *key;       /* signs; NULL: verify only */
};

/* Fill @vc and @out: @out's functions build sign bytes with @chain_id and
 * sign with @key (sign returns TDEI_BADKEY when @key is NULL).
 * In:  chain_id: 1-64 bytes of [a-z0-9-] (asserted); key: borrowed while
 *      @out is used, may be NULL.
 * Out: vc: @out->impl points to it; keep it alive and in place while
 *      @out is used. */
void votes_crypto_init(struct votes_crypto *vc, struct cons_crypto *out,
                       const char *chain_id, const struct tdei_keypair *key);

/* Copy the node keys of @set (ascending, as the state keeps them) into
 * @out.
 * Returns: 0; TDEI_CORRUPT (0 or more than CONS_VALIDATORS_MAX
 * validators, a key that is not 32 bytes, or keys not in strictly
 * ascending order: errmsg says which). Out: out, zeroed on error. */
int votes_vset_from_proto(struct cons_vset *out, const Tdei__ValidatorSet *set,
                          char *errmsg);

/* Serialize the Commit of block @id at (@height, @round) holding the @n
 * precommits @votes (strictly ascending validator order, as
 * cons_commit_votes gives them: asserted).
 * Returns: 0 or TDEI_NOMEM. Out: *out (tdei_free it) and *len. */
int votes_commit_encode(uint8_t **out, size_t *len, uint64_t height,
                        uint32_t round, const uint8_t id[CONS_ID_SIZE],
                        const struct cons_vote *votes, size_t n);

/* Verify @commit (one that codec_commit_decode or codec_block_decode
 * accepted) on chain @chain_id against the validators @vset of its
 * height: cons_commit_verify over its signatures as precommits.
 * Returns: 0, or cons_commit_verify's codes (TDEI_MALFORMED, TDEI_NOT_VOTER,
 * TDEI_NO_QUORUM, TDEI_BADSIG), errmsg saying which rule failed;
 * TDEI_TOOBIG when @commit has more than CONS_VALIDATORS_MAX signatures. */
int votes_commit_verify(const Tdei__Commit *commit, const char *chain_id,
                        const struct cons_vset *vset, char *errmsg);

#endif
