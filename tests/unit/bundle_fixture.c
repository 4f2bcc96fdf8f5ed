/* A synthetic chain and its audit bundle (bundle_fixture.h). */
#include "bundle_fixture.h"

#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/merkle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BFX_TIME0 1700000000000ull

/* A key pair derived from a label and a number (deterministic: the same
 * fixture every run). */
static int derive(struct tdei_keypair *kp, const char *label, size_t n)
{
    char text[64];
    uint8_t secret[32];
    int rc;

    (void)snprintf(text, sizeof(text), "%s %zu", label, n);
    tdei_sha256(secret, (const uint8_t *)text, strlen(text));
    rc = tdei_keypair_from_secret(kp, secret);
    memset(secret, 0, sizeof(secret));
    return rc;
}

static int member_add(struct genesis *g, const char *id,
                      const uint8_t node_key[32], const uint8_t op_key[32],
                      int validator)
{
    struct genesis_member m;
    struct tdei_enc_keypair enc;
    uint8_t secret[32];
    char errmsg[TDEI_ERRMSG_SIZE];
    int rc;

    memset(&m, 0, sizeof(m));
    (void)snprintf(m.id, sizeof(m.id), "%s", id);
    (void)snprintf(m.name, sizeof(m.name), "%s", id);
    m.role = TDEI_ROLE_MANUFACTURER;
    memcpy(m.node_key, node_key, 32);
    memcpy(m.operator_keys[0], op_key, 32);
    m.operator_key_count = 1;
    tdei_sha256(secret, (const uint8_t *)id, strlen(id));
    rc = tdei_enc_keypair_from_secret(&enc, secret);
    if (rc != 0) {
        return rc;
    }
    memcpy(m.encryption_key, enc.pubkey, 32);
    m.validator = validator;
    m.balance = 1000;
    return genesis_member_add(g, &m, errmsg);
}

static int key_cmp(const void *a, const void *b)
{
    const struct tdei_keypair *const *x = a;
    const struct tdei_keypair *const *y = b;

    return memcmp((*x)->pubkey, (*y)->pubkey, 32);
}

int bfx_commit(uint8_t **out, size_t *len, const char *chain, uint64_t height,
               const uint8_t id[32], const struct tdei_keypair *const *keys,
               size_t n)
{
    Tdei__Commit commit = TDEI__COMMIT__INIT;
    Tdei__CommitSig sigs[BFX_VALIDATORS_MAX + 1];
    Tdei__CommitSig *ptrs[BFX_VALIDATORS_MAX + 1];
    const struct tdei_keypair *sorted[BFX_VALIDATORS_MAX + 1];
    uint8_t raw[BFX_VALIDATORS_MAX + 1][64];
    uint8_t bytes[CODEC_VOTE_SIGN_BYTES_MAX];
    size_t blen;
    int rc;

    if (n == 0 || n > BFX_VALIDATORS_MAX + 1) {
        return TDEI_INVAL;
    }
    memcpy(sorted, keys, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), key_cmp);
    blen = codec_vote_sign_bytes(bytes, chain, CODEC_VOTE_PRECOMMIT, height, 0,
                                 id);
    for (size_t i = 0; i < n; i++) {
        rc = tdei_sign_tagged(raw[i], sorted[i], TDEI_TAG_VOTE, bytes, blen);
        if (rc != 0) {
            return rc;
        }
        tdei__commit_sig__init(&sigs[i]);
        sigs[i].validator.data = (uint8_t *)(uintptr_t)sorted[i]->pubkey;
        sigs[i].validator.len = 32;
        sigs[i].sig.data = raw[i];
        sigs[i].sig.len = 64;
        ptrs[i] = &sigs[i];
    }
    commit.height = height;
    commit.round = 0;
    commit.block_id.data = (uint8_t *)(uintptr_t)id;
    commit.block_id.len = 32;
    commit.n_signatures = n;
    commit.signatures = ptrs;
    return codec_commit_encode(&commit, out, len);
}

/* Everything one block of the fixture needs while it is made. */
struct block
{
    uint8_t **txs; /* serialized Tx */
    size_t *tx_lens;
    uint8_t **results; /* serialized TxResult */
    size_t *result_lens;
    long *event; /* index into the bundle's events, or -1 */
    size_t count;
    size_t cap;
};

static void block_reset(struct block *blk)
{
    for (size_t i = 0; i < blk->count; i++) {
        tdei_free(blk->txs[i]);
        tdei_free(blk->results[i]);
    }
    blk->count = 0;
}

static void block_free(struct block *blk)
{
    block_reset(blk);
    tdei_free(blk->txs);
    tdei_free(blk->tx_lens);
    tdei_free(blk->results);
    tdei_free(blk->result_lens);
    tdei_free(blk->event);
}

static int block_push(struct block *blk, uint8_t *tx, size_t tx_len,
                      uint8_t *result, size_t result_len, long event)
{
    if (blk->count == blk->cap) {
        size_t cap = blk->cap == 0 ? 16 : blk->cap * 2;
        void *a = tdei_realloc(blk->txs, cap * sizeof(*blk->txs));
        if (a != NULL) {
            blk->txs = a;
        }
        void *b = tdei_realloc(blk->tx_lens, cap * sizeof(*blk->tx_lens));
        if (b != NULL) {
            blk->tx_lens = b;
        }
        void *c = tdei_realloc(blk->results, cap * sizeof(*blk->results));
        if (c != NULL) {
            blk->results = c;
        }
        void *d =
            tdei_realloc(blk->result_lens, cap * sizeof(*blk->result_lens));
        if (d != NULL) {
            blk->result_lens = d;
        }
        void *e = tdei_realloc(blk->event, cap * sizeof(*blk->event));
        if (e != NULL) {
            blk->event = e;
        }
        if (a == NULL || b == NULL || c == NULL || d == NULL || e == NULL) {
            tdei_free(tx);
            tdei_free(result);
            return TDEI_NOMEM;
        }
        blk->cap = cap;
    }
    blk->txs[blk->count] = tx;
    blk->tx_lens[blk->count] = tx_len;
    blk->results[blk->count] = result;
    blk->result_lens[blk->count] = result_len;
    blk->event[blk->count] = event;
    blk->count++;
    return 0;
}

/* Sign @body by @kp into a serialized Tx. */
static int tx_make(Tdei__TxBody *body, const struct tdei_keypair *kp,
                   const struct tdei_keypair *signs, uint64_t nonce,
                   uint8_t **out, size_t *len)
{
    Tdei__Tx tx = TDEI__TX__INIT;
    uint8_t *bytes = NULL;
    size_t blen = 0;
    uint8_t sig[64];
    int rc;

    body->version = 1;
    body->chain_id = (char *)BFX_CHAIN;
    body->signer.data = (uint8_t *)(uintptr_t)kp->pubkey;
    body->signer.len = 32;
    body->nonce = nonce;
    rc = codec_txbody_encode(body, &bytes, &blen);
    if (rc == 0) {
        rc = tdei_sign_tagged(sig, signs, TDEI_TAG_TX, bytes, blen);
    }
    if (rc == 0) {
        tx.body.data = bytes;
        tx.body.len = blen;
        tx.sig.data = sig;
        tx.sig.len = 64;
        rc = codec_tx_encode(&tx, out, len);
    }
    tdei_free(bytes);
    return rc;
}

/* new = SHA256(prev || tx id || code BE) */
static void head_next(uint8_t out[32], const uint8_t prev[32],
                      const uint8_t tx_id[32], uint32_t code)
{
    struct tdei_sha256 sha;
    uint8_t be[4] = {(uint8_t)(code >> 24), (uint8_t)(code >> 16),
                     (uint8_t)(code >> 8), (uint8_t)code};

    tdei_sha256_init(&sha);
    tdei_sha256_update(&sha, prev, 32);
    tdei_sha256_update(&sha, tx_id, 32);
    tdei_sha256_update(&sha, be, 4);
    tdei_sha256_final(&sha, out);
}

/* A result of @code touching @object from @head (moved on), with one
 * event of @type naming @by when applied. */
static int result_make(uint32_t code, const char *type, const char *by,
                       const uint8_t *object, size_t olen, uint8_t head[32],
                       const uint8_t tx_id[32], uint8_t **out, size_t *len)
{
    Tdei__TxResult res = TDEI__TX_RESULT__INIT;
    Tdei__Event ev = TDEI__EVENT__INIT;
    Tdei__Event *evs[1] = {&ev};
    Tdei__Attr a_id = TDEI__ATTR__INIT;
    Tdei__Attr a_by = TDEI__ATTR__INIT;
    Tdei__Attr *attrs[2] = {&a_id, &a_by};
    Tdei__HeadUpdate hu = TDEI__HEAD_UPDATE__INIT;
    Tdei__HeadUpdate *hus[1] = {&hu};
    uint8_t prev[32];
    uint8_t next[32];

    memcpy(prev, head, 32);
    head_next(next, prev, tx_id, code);
    res.code = code;
    if (code != 0) {
        res.log = (char *)"the catalog price is not the one asked "
                          "(fixture refusal)";
    } else {
        ev.type = (char *)type;
        a_id.key = (char *)"id";
        a_id.value = (char *)BFX_ENTRY;
        a_by.key = (char *)"by";
        a_by.value = (char *)by;
        ev.n_attrs = 2;
        ev.attrs = attrs;
        res.n_events = 1;
        res.events = evs;
    }
    hu.object.data = (uint8_t *)(uintptr_t)object;
    hu.object.len = olen;
    hu.prev_head.data = prev;
    hu.prev_head.len = 32;
    hu.new_head.data = next;
    hu.new_head.len = 32;
    res.n_heads = 1;
    res.heads = hus;
    memcpy(head, next, 32);
    return codec_txresult_encode(&res, out, len);
}

/* The event tx number @k: a publish first, reprices after. */
static int event_make(const struct bfx_opts *o, size_t k,
                      const struct tdei_keypair *owner,
                      const struct tdei_keypair *other, uint64_t *nonces,
                      uint8_t head[32], struct block *blk)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogPublish pub = TDEI__CATALOG_PUBLISH__INIT;
    Tdei__CatalogReprice rep = TDEI__CATALOG_REPRICE__INIT;
    Tdei__PriceTerms price = TDEI__PRICE_TERMS__INIT;
    uint8_t root[32];
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_dataset(key, BFX_ENTRY);
    int by_other = k > 0 && o->other_signs_every > 0 &&
                   k % o->other_signs_every == 0 && k + 1 != o->bad_sig_event;
    int refused = k > 0 && o->refuse_every > 0 && k % o->refuse_every == 0;
    const struct tdei_keypair *kp = by_other ? other : owner;
    uint8_t *tx = NULL;
    uint8_t *res = NULL;
    size_t tx_len = 0;
    size_t res_len = 0;
    uint8_t tx_id[32];
    Tdei__Tx *dec = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];
    int rc;

    price.model = 1;
    price.amount = 100 + k;
    if (k == 0) {
        memset(root, 0x5a, sizeof(root));
        pub.id = (char *)BFX_ENTRY;
        pub.kind = 1;
        pub.title = (char *)"fixture entry";
        pub.domain = 1;
        pub.level = 1;
        pub.data_class = 1;
        pub.price = &price;
        pub.content_root.data = root;
        pub.content_root.len = 32;
        pub.size = 1;
        body.op_case = TDEI__TX_BODY__OP_CATALOG_PUBLISH;
        body.catalog_publish = &pub;
    } else {
        rep.id = (char *)BFX_ENTRY;
        rep.price = &price;
        body.op_case = TDEI__TX_BODY__OP_CATALOG_REPRICE;
        body.catalog_reprice = &rep;
    }
    rc = tx_make(&body, kp, k + 1 == o->bad_sig_event ? other : kp,
                 ++nonces[by_other], &tx, &tx_len);
    if (rc == 0) {
        rc = codec_tx_decode(&dec, tx, tx_len, BUNDLE_TX_SIZE_MAX, errmsg);
    }
    if (rc == 0) {
        codec_tx_id(tx_id, dec->body.data, dec->body.len);
        codec_tx_free(dec);
        rc = result_make(refused ? (uint32_t)TDEI_PRICE_MISMATCH : 0,
                         k == 0 ? "catalog.published" : "catalog.repriced",
                         by_other ? BFX_OTHER : BFX_OWNER, key, klen, head,
                         tx_id, &res, &res_len);
    }
    if (rc != 0) {
        tdei_free(tx);
        return rc;
    }
    return block_push(blk, tx, tx_len, res, res_len, (long)k);
}

/* A tx that does not touch the entry: a transfer by BFX_OTHER. */
static int other_make(const struct tdei_keypair *kp, uint64_t *nonce,
                      struct block *blk)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__Transfer tr = TDEI__TRANSFER__INIT;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_member(key, BFX_OTHER);
    uint8_t head[32] = {0};
    uint8_t tx_id[32];
    uint8_t *tx = NULL;
    uint8_t *res = NULL;
    size_t tx_len = 0;
    size_t res_len = 0;
    int rc;

    tr.to = (char *)BFX_OWNER;
    tr.amount = 1;
    body.op_case = TDEI__TX_BODY__OP_TRANSFER;
    body.transfer = &tr;
    rc = tx_make(&body, kp, kp, ++*nonce, &tx, &tx_len);
    if (rc == 0) {
        tdei_sha256(tx_id, tx, tx_len); /* any id: only its leaf counts */
        rc = result_make(0, "transfer", BFX_OTHER, key, klen, head, tx_id, &res,
                         &res_len);
    }
    if (rc != 0) {
        tdei_free(tx);
        return rc;
    }
    return block_push(blk, tx, tx_len, res, res_len, -1);
}

static int proof_make(struct bundle_proof *p,
                      const uint8_t (*leaves)[MERKLE_HASH_SIZE], size_t n,
                      size_t index, const uint8_t root[32])
{
    struct merkle_inclusion inc;
    int rc = merkle_inclusion_prove(&inc, leaves, n, index);

    if (rc != 0) {
        return rc;
    }
    memcpy(p->leaf_hash, leaves[index], 32);
    p->leaf_index = index;
    p->tree_size = n;
    memcpy(p->root, root, 32);
    p->count = inc.count;
    if (inc.count > 0) {
        p->path = tdei_malloc(inc.count * MERKLE_HASH_SIZE);
        if (p->path == NULL) {
            p->count = 0;
            return TDEI_NOMEM;
        }
        memcpy(p->path, inc.path, inc.count * MERKLE_HASH_SIZE);
    }
    return 0;
}

size_t bfx_set(const struct bfx *fx, uint64_t height,
               const struct tdei_keypair **out)
{
    size_t n = 0;
    int changed = fx->change_from != 0 && height >= fx->change_from;

    for (size_t i = changed ? 1 : 0; i < fx->validators; i++) {
        out[n++] = &fx->vals[i];
    }
    if (changed) {
        out[n++] = &fx->vals[fx->validators];
    }
    return n;
}

static void set_root(uint8_t root[32], const struct tdei_keypair **set,
                     size_t n)
{
    const struct tdei_keypair *sorted[BFX_VALIDATORS_MAX + 1];
    uint8_t leaves[BFX_VALIDATORS_MAX + 1][32];

    memcpy(sorted, set, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), key_cmp);
    for (size_t i = 0; i < n; i++) {
        merkle_leaf_hash(leaves[i], sorted[i]->pubkey, 32);
    }
    merkle_root(root, (const uint8_t(*)[32])leaves, n);
}

/* All the headers made, to pick the bundle's from. */
struct chain
{
    struct bundle_header *headers; /* by height - 1 */
    size_t count;
    size_t cap;
};

/* Make header @h over @blk, whose results root of the previous block is
 * @last_results; its commit by the set of @h. Moves the block id to @id. */
static int header_make(struct bfx *fx, uint64_t h,
                       const uint8_t (*tx_leaves)[32], size_t n,
                       const uint8_t last_results[32], uint8_t id[32],
                       struct chain *ch)
{
    Tdei__Header hd = TDEI__HEADER__INIT;
    const struct tdei_keypair *set[BFX_VALIDATORS_MAX + 1];
    const struct tdei_keypair *next[BFX_VALIDATORS_MAX + 1];
    size_t sn = bfx_set(fx, h, set);
    size_t nn = bfx_set(fx, h + 1, next);
    uint8_t txs_root[32];
    uint8_t app_hash[32];
    uint8_t vh[32];
    uint8_t nvh[32];
    uint8_t hb[8];
    struct bundle_header *bh;
    int rc;

    if (ch->count == ch->cap) {
        size_t cap = ch->cap == 0 ? 64 : ch->cap * 2;
        void *grown = tdei_realloc(ch->headers, cap * sizeof(*ch->headers));
        if (grown == NULL) {
            return TDEI_NOMEM;
        }
        ch->headers = grown;
        ch->cap = cap;
    }
    bh = &ch->headers[ch->count];
    memset(bh, 0, sizeof(*bh));
    merkle_root(txs_root, tx_leaves, n);
    for (int i = 0; i < 8; i++) {
        hb[i] = (uint8_t)(h >> (56 - 8 * i));
    }
    tdei_sha256(app_hash, hb, sizeof(hb));
    set_root(vh, set, sn);
    set_root(nvh, next, nn);
    hd.version = 1;
    hd.chain_id = (char *)BFX_CHAIN;
    hd.height = h;
    hd.time_ms = BFX_TIME0 + h * 1000u;
    if (h > 1) {
        hd.last_block_id.data = id;
        hd.last_block_id.len = 32;
    }
    hd.txs_root.data = txs_root;
    hd.txs_root.len = 32;
    hd.last_results_root.data = (uint8_t *)(uintptr_t)last_results;
    hd.last_results_root.len = 32;
    hd.app_hash.data = app_hash;
    hd.app_hash.len = 32;
    hd.validators_hash.data = vh;
    hd.validators_hash.len = 32;
    hd.next_validators_hash.data = nvh;
    hd.next_validators_hash.len = 32;
    hd.proposer.data = (uint8_t *)(uintptr_t)set[0]->pubkey;
    hd.proposer.len = 32;
    rc = codec_header_encode(&hd, &bh->header, &bh->header_len);
    if (rc == 0) {
        codec_block_id(id, bh->header, bh->header_len);
        rc =
            bfx_commit(&bh->commit, &bh->commit_len, BFX_CHAIN, h, id, set, sn);
    }
    if (rc != 0) {
        tdei_free(bh->header);
        tdei_free(bh->commit);
        return rc;
    }
    bh->height = h;
    ch->count++;
    return 0;
}

/* Close block @blk at height @h: header, commit, the proofs of its events.
 * @last_results: in, the results root of h - 1; out, this block's. */
static int block_close(struct bfx *fx, uint64_t h, struct block *blk,
                       uint8_t last_results[32], uint8_t id[32],
                       struct chain *ch)
{
    uint8_t(*tl)[32] = tdei_calloc(blk->count + 1, 32);
    uint8_t(*rl)[32] = tdei_calloc(blk->count + 1, 32);
    uint8_t txs_root[32];
    uint8_t results_root[32];
    int rc = 0;

    if (tl == NULL || rl == NULL) {
        rc = TDEI_NOMEM;
    }
    for (size_t i = 0; rc == 0 && i < blk->count; i++) {
        merkle_leaf_hash(tl[i], blk->txs[i], blk->tx_lens[i]);
        merkle_leaf_hash(rl[i], blk->results[i], blk->result_lens[i]);
    }
    if (rc == 0) {
        merkle_root(txs_root, (const uint8_t(*)[32])tl, blk->count);
        merkle_root(results_root, (const uint8_t(*)[32])rl, blk->count);
        rc = header_make(fx, h, (const uint8_t(*)[32])tl, blk->count,
                         last_results, id, ch);
    }
    for (size_t i = 0; rc == 0 && i < blk->count; i++) {
        struct bundle_event *e;
        if (blk->event[i] < 0) {
            continue;
        }
        e = &fx->bundle.events[blk->event[i]];
        e->height = h;
        e->index = (uint32_t)i;
        e->tx = blk->txs[i];
        e->tx_len = blk->tx_lens[i];
        e->result = blk->results[i];
        e->result_len = blk->result_lens[i];
        blk->txs[i] = NULL;
        blk->results[i] = NULL;
        rc = proof_make(&e->tx_proof, (const uint8_t(*)[32])tl, blk->count, i,
                        txs_root);
        if (rc == 0) {
            rc = proof_make(&e->result_proof, (const uint8_t(*)[32])rl,
                            blk->count, i, results_root);
        }
    }
    if (rc == 0) {
        memcpy(last_results, results_root, 32);
    }
    tdei_free(tl);
    tdei_free(rl);
    block_reset(blk);
    return rc;
}

static int genesis_make(struct bfx *fx, const struct tdei_keypair *owner,
                        const struct tdei_keypair *other)
{
    struct tdei_keypair node;
    char id[32];
    int rc = 0;

    memset(&fx->genesis, 0, sizeof(fx->genesis));
    (void)snprintf(fx->genesis.chain_id, sizeof(fx->genesis.chain_id), "%s",
                   BFX_CHAIN);
    fx->genesis.time_ms = BFX_TIME0;
    genesis_params_default(&fx->genesis.params);
    for (size_t i = 0; rc == 0 && i < fx->validators; i++) {
        struct tdei_keypair op;
        (void)snprintf(id, sizeof(id), "bfx-val-%zu", i);
        rc = derive(&op, "bfx validator operator", i);
        if (rc == 0) {
            rc = member_add(&fx->genesis, id, fx->vals[i].pubkey, op.pubkey, 1);
        }
    }
    if (rc == 0) {
        rc = derive(&node, "bfx node", 0);
    }
    if (rc == 0) {
        rc = member_add(&fx->genesis, BFX_OWNER, node.pubkey, owner->pubkey, 0);
    }
    if (rc == 0) {
        rc = derive(&node, "bfx node", 1);
    }
    if (rc == 0) {
        rc = member_add(&fx->genesis, BFX_OTHER, node.pubkey, other->pubkey, 0);
    }
    return rc;
}

int bfx_build(struct bfx *fx, const struct bfx_opts *o)
{
    struct tdei_keypair owner;
    struct tdei_keypair other;
    struct tdei_keypair other2;
    struct block blk = {0};
    struct chain ch = {0};
    uint64_t nonces[2] = {0, 0};
    uint64_t other_nonce = 0;
    uint8_t head[32] = {0};
    uint8_t last_results[32];
    uint8_t id[32] = {0};
    uint8_t *need = NULL;
    size_t placed = 0;
    uint64_t h = 0;
    int rc = 0;

    memset(fx, 0, sizeof(*fx));
    if (o->validators == 0 || o->validators > BFX_VALIDATORS_MAX ||
        o->events == 0 || o->events_per_block == 0 ||
        (o->change_from != 0 && o->change_from < 3)) {
        return TDEI_INVAL;
    }
    fx->validators = o->validators;
    fx->change_from = o->change_from;
    for (size_t i = 0; rc == 0 && i <= o->validators; i++) {
        rc = derive(&fx->vals[i], "bfx validator", i);
    }
    if (rc == 0) {
        rc = derive(&owner, "bfx owner", 0);
    }
    if (rc == 0) {
        rc = derive(&other, "bfx other", 0);
    }
    if (rc == 0) {
        rc = derive(&other2, "bfx other", 2);
    }
    if (rc == 0) {
        rc = genesis_make(fx, &owner, &other);
    }
    if (rc != 0) {
        bfx_free(fx);
        return rc;
    }
    fx->bundle.events = tdei_calloc(o->events, sizeof(*fx->bundle.events));
    if (fx->bundle.events == NULL) {
        bfx_free(fx);
        return TDEI_NOMEM;
    }
    fx->bundle.event_count = o->events;
    tdei_sha256(last_results, (const uint8_t *)"", 0);
    /* Blocks until every event is placed, then one more: its header holds
     * the results root of the last event's block. */
    while (rc == 0 && placed < o->events) {
        h++;
        if (o->others_per_block > 0) {
            rc = other_make(&other, &other_nonce, &blk);
        }
        for (size_t k = 0;
             rc == 0 && k < o->events_per_block && placed < o->events; k++) {
            rc = event_make(o, placed, &owner, &other2, nonces, head, &blk);
            placed++;
        }
        for (size_t k = 1; rc == 0 && k < o->others_per_block; k++) {
            rc = other_make(&other, &other_nonce, &blk);
        }
        if (rc == 0) {
            rc = block_close(fx, h, &blk, last_results, id, &ch);
        }
    }
    if (rc == 0) {
        h++;
        rc = block_close(fx, h, &blk, last_results, id, &ch);
    }
    fx->height = h;
    /* The bundle: the headers of the events' heights and the next ones,
     * the announcer of the change when it is reached, and the tip. */
    need = rc == 0 ? tdei_calloc(h + 2, 1) : NULL;
    if (rc == 0 && need == NULL) {
        rc = TDEI_NOMEM;
    }
    if (rc == 0) {
        for (size_t i = 0; i < o->events; i++) {
            need[fx->bundle.events[i].height] = 1;
            need[fx->bundle.events[i].height + 1] = 1;
        }
        need[h] = 1;
        if (o->change_from != 0 && o->change_from <= h + 1) {
            const struct tdei_keypair *set[BFX_VALIDATORS_MAX + 1];
            const struct tdei_keypair *sorted[BFX_VALIDATORS_MAX + 1];
            size_t n = bfx_set(fx, o->change_from, set);
            need[o->change_from - 1] = 1;
            fx->bundle.changes = tdei_calloc(1, sizeof(*fx->bundle.changes));
            if (fx->bundle.changes == NULL) {
                rc = TDEI_NOMEM;
            } else {
                fx->bundle.change_count = 1;
                fx->bundle.changes[0].from_height = o->change_from;
                fx->bundle.changes[0].keys = tdei_calloc(n, 32);
                if (fx->bundle.changes[0].keys == NULL) {
                    rc = TDEI_NOMEM;
                } else {
                    memcpy(sorted, set, n * sizeof(*sorted));
                    qsort(sorted, n, sizeof(*sorted), key_cmp);
                    fx->bundle.changes[0].count = n;
                    for (size_t i = 0; i < n; i++) {
                        memcpy(fx->bundle.changes[0].keys[i], sorted[i]->pubkey,
                               32);
                    }
                }
            }
        }
    }
    if (rc == 0) {
        fx->bundle.headers = tdei_calloc(h + 1, sizeof(*fx->bundle.headers));
        rc = fx->bundle.headers == NULL ? TDEI_NOMEM : 0;
    }
    for (uint64_t i = 1; rc == 0 && i <= h; i++) {
        struct bundle_header *src = &ch.headers[i - 1];
        if (need[i]) {
            fx->bundle.headers[fx->bundle.header_count++] = *src;
            memset(src, 0, sizeof(*src));
        }
    }
    if (rc == 0) {
        char errmsg[TDEI_ERRMSG_SIZE];
        (void)snprintf(fx->bundle.chain_id, sizeof(fx->bundle.chain_id), "%s",
                       BFX_CHAIN);
        fx->bundle.kind = BUNDLE_KIND_DATASET;
        (void)snprintf(fx->bundle.id, sizeof(fx->bundle.id), "%s", BFX_ENTRY);
        rc = bundle_object_key(BUNDLE_KIND_DATASET, BFX_ENTRY, fx->bundle.key,
                               &fx->bundle.key_len, errmsg);
        fx->bundle.as_of = h;
        memcpy(fx->bundle.head, head, 32);
    }
    for (size_t i = 0; i < ch.count; i++) {
        tdei_free(ch.headers[i].header);
        tdei_free(ch.headers[i].commit);
    }
    tdei_free(ch.headers);
    tdei_free(need);
    block_free(&blk);
    if (rc != 0) {
        bfx_free(fx);
    }
    return rc;
}

int bfx_header_edit(struct bfx *fx, size_t j,
                    void (*edit)(Tdei__Header *h, void *arg), void *arg)
{
    struct bundle_header *bh = &fx->bundle.headers[j];
    const struct tdei_keypair *set[BFX_VALIDATORS_MAX + 1];
    Tdei__Header *h = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *bytes = NULL;
    uint8_t *commit = NULL;
    size_t len = 0;
    size_t clen = 0;
    uint8_t id[32];
    size_t n;
    int rc;

    rc = codec_header_decode(&h, bh->header, bh->header_len, errmsg);
    if (rc != 0) {
        return rc;
    }
    edit(h, arg);
    rc = codec_header_encode(h, &bytes, &len);
    n = bfx_set(fx, h->height, set);
    codec_header_free(h);
    if (rc == 0) {
        codec_block_id(id, bytes, len);
        rc = bfx_commit(&commit, &clen, BFX_CHAIN, bh->height, id, set, n);
    }
    if (rc != 0) {
        tdei_free(bytes);
        return rc;
    }
    tdei_free(bh->header);
    tdei_free(bh->commit);
    bh->header = bytes;
    bh->header_len = len;
    bh->commit = commit;
    bh->commit_len = clen;
    return 0;
}

void bfx_free(struct bfx *fx)
{
    bundle_free(&fx->bundle);
    genesis_free(&fx->genesis);
    memset(fx, 0, sizeof(*fx));
}
