/* genesis.json: the first state of a chain (DESIGN.md sections 3, 4, 11).
 *
 *   {"tdei_genesis": 1,
 *    "chain_id": "tdei-local",
 *    "genesis_time_ms": 1764000000000,
 *    "params": {"tx_size_max": 65536, ...},        (optional, see below)
 *    "members": [
 *      {"id": "acme-steel", "name": "ACME Steel", "role": "manufacturer",
 *       "node_key": "<64 hex>", "operator_keys": ["<64 hex>"],
 *       "encryption_key": "<64 hex>", "validator": true,
 *       "balance": 1000000}]}
 *
 * Parsing is strict: unknown fields, duplicates, bad hex, keys that are
 * not on the curve, a member id used twice, a node or operator key used
 * twice, an auditor validator, no validator at all or more than
 * params.validators_max of them are refused with a message naming the
 * member and the field. Every node of a chain holds the same file; its
 * SHA-256 (of the exact bytes) identifies the chain in the store.
 * Pointers are non-NULL unless stated; errmsg is TDEI_ERRMSG_SIZE bytes. */
#ifndef TDEI_NODE_GENESIS_H
#define TDEI_NODE_GENESIS_H

#include "core/hash.h"
#include "core/ids.h"
#include "core/keys.h"
#include "core/limits.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "contracts/params.h"

#define GENESIS_FILE_SIZE_MAX (4u * TDEI_MIB) /* larger files are refused */
#define GENESIS_MEMBERS_MAX 1000u            /* members in a genesis */
#define GENESIS_OPERATOR_KEYS_MAX 8u         /* operator keys per member */
#define GENESIS_NAME_MAX 128u                /* display name, bytes */

/* Ledger-wide limits held on the ledger (DESIGN.md section 4); governance
 * changes them later. Each has the default of limits.h. */
struct genesis_params {
    uint64_t tx_size_max;    /* bytes of one serialized Tx */
    uint64_t block_txs_max;  /* txs in one block */
    uint64_t block_size_max; /* bytes of one serialized block */
    uint64_t validators_max; /* validators at any height */
    /* The governable params of contracts/params.h, by table index. */
    uint64_t contract[PARAMS_MAX];
};

struct genesis_member {
    char id[TDEI_MEMBER_ID_MAX + 1];          /* member id */
    char name[GENESIS_NAME_MAX + 1];          /* display name, UTF-8 */
    enum tdei_role role;                      /* role */
    uint8_t node_key[TDEI_PUBKEY_SIZE];       /* x-only node key */
    uint8_t operator_keys[GENESIS_OPERATOR_KEYS_MAX][TDEI_PUBKEY_SIZE];
    size_t operator_key_count;                /* 1..GENESIS_OPERATOR_KEYS_MAX */
    uint8_t encryption_key[TDEI_X25519_SIZE]; /* X25519 public key */
    int validator;                            /* 1: votes in consensus */
    uint64_t balance;                         /* initial credits */
};

struct genesis {
    char chain_id[TDEI_CHAIN_ID_MAX + 1]; /* chain id */
    uint64_t time_ms;                     /* genesis time, ms since epoch */
    struct genesis_params params;         /* ledger-wide limits */
    struct genesis_member *members;       /* sorted by id; owned */
    size_t member_count;                  /* 1..GENESIS_MEMBERS_MAX */
    uint8_t hash[TDEI_HASH_SIZE];         /* SHA-256 of the file bytes */
};

/* Fill @params with the defaults of limits.h and of the params table. */
void genesis_params_default(struct genesis_params *params);

/* Flags of genesis_parse and genesis_load. */
#define GENESIS_DRAFT 1u /* allow no members and no validator yet: a file
                          * being assembled by `tdei genesis add-member` */

/* Parse @len bytes of genesis JSON at @data into @g (members sorted by
 * id; g->hash = SHA-256 of exactly these bytes). @flags is 0 (a complete
 * genesis, as a node needs) or GENESIS_DRAFT.
 * Returns: 0, TDEI_TOOBIG, TDEI_MALFORMED (not JSON), TDEI_VERSION,
 * TDEI_INVAL (a field is wrong: errmsg names it), TDEI_BADKEY or
 * TDEI_NOMEM. On error @g is empty (genesis_free is still safe). */
int genesis_parse(struct genesis *g, const uint8_t *data, size_t len,
                  unsigned flags, char *errmsg);

/* Read and parse the file at @path. Returns as genesis_parse, plus
 * TDEI_NOTFOUND and TDEI_IOERR; errmsg names the path. */
int genesis_load(struct genesis *g, const char *path, unsigned flags,
                 char *errmsg);

/* Build the JSON document of @g (members in id order); NULL when out of
 * memory. The caller owns the reference. */
json_t *genesis_to_json(const struct genesis *g);

/* Add @m to @g, keeping members sorted, after the same checks as parsing
 * (unique id and keys, auditors never validators, the member limit).
 * Returns: 0, TDEI_EXISTS (id or key already present: errmsg says which),
 * TDEI_INVAL, TDEI_TOOBIG or TDEI_NOMEM; on error @g is unchanged. */
int genesis_member_add(struct genesis *g, const struct genesis_member *m,
                       char *errmsg);

/* Write @g as JSON to @path through a temporary file and a rename (mode
 * 0644). Returns: 0, TDEI_IOERR or TDEI_NOMEM; errmsg names the path. */
int genesis_save(const struct genesis *g, const char *path, char *errmsg);

/* Find member @id. Returns a pointer into g->members or NULL. */
const struct genesis_member *genesis_member_find(const struct genesis *g,
                                                 const char *id);

/* The number of validators in @g. */
size_t genesis_validator_count(const struct genesis *g);

/* Release what @g owns and empty it. */
void genesis_free(struct genesis *g);

#endif
