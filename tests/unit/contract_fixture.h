/* A small ledger in the in-memory state for contract tests: members,
 * accounts, keys and params written once into a base, and the overlay the
 * contract under test runs on (exec/state.h). */
#ifndef TDEI_TESTS_CONTRACT_FIXTURE_H
#define TDEI_TESTS_CONTRACT_FIXTURE_H

#include "contracts/contract.h"
#include "contracts/params.h"
#include "core/ids.h"
#include "exec/state.h"

#include <stdint.h>

#define FIXTURE_STATE_BYTES (16u * 1024u * 1024u)

extern struct state_mem *fixture_mem; /* the base, built by the seed */
extern struct state *fixture_st;      /* the overlay tests run on */

/* Checked-fixture pair: leak check, empty base; teardown frees both. */
void fixture_setup(void);
void fixture_teardown(void);

/* Start seeding: an overlay over the empty base; put records into it,
 * then fixture_seed_end applies them to the base and opens fixture_st. */
struct state *fixture_seed_begin(void);
void fixture_seed_end(struct state *seed);

/* Put @msg, encoded, under @key. */
void fixture_put(struct state *s, const uint8_t *key, size_t klen,
                 const ProtobufCMessage *msg);

/* Put member @id's records: Member (node, encryption and operator key
 * 32 bytes of which the first is @keybyte; validator when @id is
 * "pub-svc"), OperatorKey, NodeKey and an Account holding @balance. */
void fixture_member(struct state *s, const char *id, enum tdei_role role,
                    uint32_t status, uint8_t keybyte, uint64_t balance);

/* Make @ps->params the default params: the limits of DESIGN.md section 4
 * and the defaults of the params table (contracts/params.h). */
void fixture_params_default(struct params_storage *ps);

/* Put @p as the params record. */
void fixture_params_put(struct state *s, const Tdei__Params *p);

#endif
