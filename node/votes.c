/* Consensus messages on this chain (see votes.h). */
#include "votes.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hash.h"

#include <inttypes.h>
#include <string.h>

#define ERRSZ TDEI_ERRMSG_SIZE

static size_t votes_vote_bytes(void *impl, const struct cons_vote *v,
                               uint8_t out[CONS_SIGN_BYTES_MAX])
{
    const struct votes_crypto *vc = impl;

    return codec_vote_sign_bytes(out, vc->chain_id,
                                 (enum codec_vote_type)v->type, v->height,
                                 v->round, v->id.nil ? NULL : v->id.bytes);
}

static size_t votes_proposal_bytes(void *impl, const struct cons_proposal *p,
                                   uint8_t out[CONS_SIGN_BYTES_MAX])
{
    const struct votes_crypto *vc = impl;

    return codec_proposal_sign_bytes(out, vc->chain_id, p->height, p->round,
                                     p->pol_round, p->id);
}

/* The tag of sign bytes @bytes: the proposal layout is 2 bytes longer
 * than the vote layout for one chain id (codec.h), and nothing else tells
 * them apart. */
static const char *votes_tag(const struct votes_crypto *vc, size_t len)
{
    return len == 50u + strlen(vc->chain_id) ? TDEI_TAG_PROPOSAL
                                             : TDEI_TAG_VOTE;
}

static int votes_sign(void *impl, const uint8_t *bytes, size_t len,
                      uint8_t sig[CONS_SIG_SIZE])
{
    const struct votes_crypto *vc = impl;

    if (vc->key == NULL) {
        memset(sig, 0, CONS_SIG_SIZE);
        return TDEI_BADKEY;
    }
    return tdei_sign_tagged(sig, vc->key, votes_tag(vc, len), bytes, len);
}

static int votes_verify(void *impl, const uint8_t key[CONS_KEY_SIZE],
                        const uint8_t *bytes, size_t len,
                        const uint8_t sig[CONS_SIG_SIZE])
{
    const struct votes_crypto *vc = impl;

    return tdei_verify_tagged(sig, key, votes_tag(vc, len), bytes, len) == 0;
}

void votes_crypto_init(struct votes_crypto *vc, struct cons_crypto *out,
                       const char *chain_id, const struct tdei_keypair *key)
{
    size_t n = strlen(chain_id);

    TDEI_ASSERT(n >= 1 && n <= TDEI_CHAIN_ID_MAX);
    memset(vc, 0, sizeof(*vc));
    memcpy(vc->chain_id, chain_id, n);
    vc->key = key;
    memset(out, 0, sizeof(*out));
    out->vote_bytes = votes_vote_bytes;
    out->proposal_bytes = votes_proposal_bytes;
    out->sign = votes_sign;
    out->verify = votes_verify;
    out->impl = vc;
}

int votes_vset_from_proto(struct cons_vset *out, const Tdei__ValidatorSet *set,
                          char *errmsg)
{
    memset(out, 0, sizeof(*out));
    if (set->n_validators == 0 || set->n_validators > CONS_VALIDATORS_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                           "the validator set has %zu validators; consensus "
                           "takes 1-%u",
                           set->n_validators, CONS_VALIDATORS_MAX);
    }
    for (size_t i = 0; i < set->n_validators; i++) {
        const ProtobufCBinaryData *k = &set->validators[i]->node_key;
        if (k->len != CONS_KEY_SIZE ||
            (i > 0 && memcmp(out->keys[i - 1], k->data, CONS_KEY_SIZE) >= 0)) {
            memset(out, 0, sizeof(*out));
            return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                               "validator %zu of the validator set is not a "
                               "32-byte key above the previous one",
                               i);
        }
        memcpy(out->keys[i], k->data, CONS_KEY_SIZE);
    }
    out->n = set->n_validators;
    return 0;
}

int votes_commit_encode(uint8_t **out, size_t *len, uint64_t height,
                        uint32_t round, const uint8_t id[CONS_ID_SIZE],
                        const struct cons_vote *votes, size_t n)
{
    Tdei__Commit commit = TDEI__COMMIT__INIT;
    Tdei__CommitSig *sigs = NULL;
    Tdei__CommitSig **ptrs = NULL;
    int rc;

    TDEI_ASSERT(n >= 1 && n <= CONS_VALIDATORS_MAX);
    *out = NULL;
    *len = 0;
    sigs = tdei_calloc(n, sizeof(*sigs));
    ptrs = tdei_calloc(n, sizeof(*ptrs));
    if (sigs == NULL || ptrs == NULL) {
        tdei_free(sigs);
        tdei_free(ptrs);
        return TDEI_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        TDEI_ASSERT(votes[i].type == CONS_PRECOMMIT && !votes[i].id.nil);
        TDEI_ASSERT(i == 0 || memcmp(votes[i - 1].validator, votes[i].validator,
                                     CONS_KEY_SIZE) < 0);
        tdei__commit_sig__init(&sigs[i]);
        sigs[i].validator = (ProtobufCBinaryData){
            CONS_KEY_SIZE, (uint8_t *)(uintptr_t)votes[i].validator};
        sigs[i].sig = (ProtobufCBinaryData){CONS_SIG_SIZE,
                                            (uint8_t *)(uintptr_t)votes[i].sig};
        ptrs[i] = &sigs[i];
    }
    commit.height = height;
    commit.round = round;
    commit.block_id =
        (ProtobufCBinaryData){CONS_ID_SIZE, (uint8_t *)(uintptr_t)id};
    commit.n_signatures = n;
    commit.signatures = ptrs;
    rc = codec_commit_encode(&commit, out, len);
    tdei_free(sigs);
    tdei_free(ptrs);
    return rc;
}

int votes_commit_verify(const Tdei__Commit *commit, const char *chain_id,
                        const struct cons_vset *vset, char *errmsg)
{
    struct votes_crypto vc;
    struct cons_crypto crypto;
    struct cons_vote *votes;
    size_t n = commit->n_signatures;
    int rc;

    TDEI_ASSERT(commit->block_id.len == CONS_ID_SIZE);
    if (n > CONS_VALIDATORS_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "commit of height %" PRIu64 " has %zu "
                           "signatures; consensus takes at most %u",
                           commit->height, n, CONS_VALIDATORS_MAX);
    }
    votes = tdei_calloc(n > 0 ? n : 1, sizeof(*votes));
    if (votes == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                           "commit check: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const Tdei__CommitSig *s = commit->signatures[i];
        TDEI_ASSERT(s->validator.len == CONS_KEY_SIZE &&
                    s->sig.len == CONS_SIG_SIZE);
        votes[i].type = CONS_PRECOMMIT;
        votes[i].height = commit->height;
        votes[i].round = commit->round;
        votes[i].id.nil = 0;
        memcpy(votes[i].id.bytes, commit->block_id.data, CONS_ID_SIZE);
        memcpy(votes[i].validator, s->validator.data, CONS_KEY_SIZE);
        memcpy(votes[i].sig, s->sig.data, CONS_SIG_SIZE);
    }
    votes_crypto_init(&vc, &crypto, chain_id, NULL);
    rc = cons_commit_verify(&crypto, vset, commit->height, commit->round,
                            commit->block_id.data, votes, n, errmsg);
    tdei_free(votes);
    return rc;
}
