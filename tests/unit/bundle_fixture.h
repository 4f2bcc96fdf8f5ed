/* A synthetic chain and the audit bundle of one of its objects, for the
 * tests of node/audit/bundle.h and for bench_bundle.
 *
 * The chain is made the way a node makes one, without a node: real
 * BIP-340 keys, txs signed by operator keys, TxResults that extend the
 * object's history head (new = SHA256(prev || tx id || code)), headers
 * with RFC 6962 txs_root and last_results_root, validators_hash and
 * next_validators_hash over the sets of each height, and commits signed
 * by every validator of the height's set. It has no state and runs no
 * contract: the ops are real ops on the entry "bfx-data" (a publish, then
 * reprices), but nothing checks them against the ledger's rules, and the
 * app hash of each header is SHA-256 of its height (bundles do not check
 * app hashes). Not for Check only: bench_bundle links it too. */
#ifndef TDEI_TESTS_BUNDLE_FIXTURE_H
#define TDEI_TESTS_BUNDLE_FIXTURE_H

#include "audit/bundle.h"
#include "core/keys.h"
#include "genesis.h"

#include <stddef.h>
#include <stdint.h>

#define BFX_CHAIN "bfx-chain"
#define BFX_ENTRY "bfx-data"
#define BFX_OWNER "bfx-owner" /* genesis member; signs the events */
/* A genesis member; a second key of it, which genesis does not name,
 * signs some events (bfx_opts.other_signs_every). */
#define BFX_OTHER "bfx-other"
#define BFX_VALIDATORS_MAX 16u

struct bfx_opts
{
    size_t validators;        /* genesis validators, 1..BFX_VALIDATORS_MAX */
    size_t events;            /* events of the entry, >= 1 */
    size_t events_per_block;  /* of them in one block, >= 1 */
    size_t others_per_block;  /* txs in each block that do not touch it */
    uint64_t change_from;     /* the first height of a second validator
                                 set (one validator replaced), >= 3;
                                 0: the set never changes */
    size_t refuse_every;      /* every Nth event is refused (code
                                 TDEI_PRICE_MISMATCH); 0: none */
    size_t other_signs_every; /* every Nth event is signed by BFX_OTHER's
                                 second key, which genesis does not name
                                 (its result names the member); 0: none */
    size_t bad_sig_event;     /* event number N - 1 carries a signature by
                                 another key than its signer (the chain
                                 is synthetic: no node checked it); 0:
                                 none */
};

struct bfx
{
    struct genesis genesis; /* the chain's genesis */
    struct bundle bundle;   /* the entry's bundle (BUNDLE_KIND_DATASET) */
    uint64_t height;        /* blocks made (the tip) */
    size_t validators;      /* validators of the genesis set */
    uint64_t change_from;   /* bfx_opts.change_from */
    struct tdei_keypair vals[BFX_VALIDATORS_MAX + 1]; /* the last one joins
                                                         at change_from */
};

/* Build the chain of @o and the bundle of entry BFX_ENTRY into @fx.
 * Returns 0, or a TDEI code (out of memory, a key that failed). */
int bfx_build(struct bfx *fx, const struct bfx_opts *o);

/* The validators of height @height: @fx's keys into @out (room for
 * BFX_VALIDATORS_MAX + 1). Returns their number. */
size_t bfx_set(const struct bfx *fx, uint64_t height,
               const struct tdei_keypair **out);

/* Decode header @j of @fx's bundle, let @edit change it, encode it again
 * and replace its commit by one of the validators of its height for the
 * new block id. Returns 0 or a TDEI code. */
int bfx_header_edit(struct bfx *fx, size_t j,
                    void (*edit)(Tdei__Header *h, void *arg), void *arg);

/* Release @fx. */
void bfx_free(struct bfx *fx);

/* Sign a Commit of block @id at @height, round 0, by the @n validators
 * @keys (any order: sorted here) on chain @chain; *out is tdei_malloc'd.
 * Returns 0 or a TDEI code. */
int bfx_commit(uint8_t **out, size_t *len, const char *chain, uint64_t height,
               const uint8_t id[32], const struct tdei_keypair *const *keys,
               size_t n);

#endif
