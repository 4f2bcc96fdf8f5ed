/* The governable ledger params (DESIGN.md section 6): one table of names,
 * ranges and defaults, read by genesis, by membership governance (a params
 * proposal names one of them) and by the contracts that apply them.
 *
 * Names: the top-level ones ("approve_ttl") are fields of the Params
 * record; "levelN.FIELD" (N = 1, 2, 3; FIELD = approval, roles,
 * grant_ttl, purpose) are fields of Params.levels[N-1] (LevelPolicy).
 * Every value is an unsigned integer; booleans are 0 or 1. Pure: no state,
 * no I/O. Pointers are non-NULL unless stated. */
#ifndef TDEI_CONTRACTS_PARAMS_H
#define TDEI_CONTRACTS_PARAMS_H

#include "tdei.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* LevelPolicy.approval. */
enum params_approval {
    PARAMS_APPROVAL_AUTO = 1,           /* approved at request */
    PARAMS_APPROVAL_OWNER = 2,          /* the owner approves */
    PARAMS_APPROVAL_OWNER_REGULATOR = 3 /* owner and a public_service */
};

/* Levels of the MIIT guide (LevelPolicy entries of Params.levels). */
#define PARAMS_LEVELS 3u

/* The roles mask that lets every role but the auditor receive (bits 1-3). */
#define PARAMS_ROLES_MEMBERS 14u

/* One governable param. */
struct params_def
{
    const char *name; /* "approve_ttl", "level2.approval" */
    uint64_t min;     /* smallest value */
    uint64_t max;     /* largest value */
    uint64_t def;     /* written at genesis */
    const char *help; /* one line: what it means, with its unit */
};

/* Storage for a Params record with its three LevelPolicy entries, so that
 * a Params can be built on the stack. Use params_storage_init. */
struct params_storage
{
    Tdei__Params params;
    Tdei__LevelPolicy levels[PARAMS_LEVELS];
    Tdei__LevelPolicy *level_ptrs[PARAMS_LEVELS];
};

/* Most entries the table may grow to (genesis keeps one slot each). */
#define PARAMS_MAX 64u

/* Number of entries of the table, and entry @i (< params_count()). */
size_t params_count(void);
const struct params_def *params_at(size_t i);

/* The table index of @def (an entry of the table). */
size_t params_index(const struct params_def *def);

/* Find the entry named @name, or NULL. */
const struct params_def *params_find(const char *name);

/* Make @s->params a Params whose governable fields hold their defaults
 * and whose levels point into @s. The limits (tx_size_max,
 * block_txs_max, block_size_max, validators_max) are left 0 for the
 * caller (genesis) to fill. */
void params_storage_init(struct params_storage *s);

/* Read param @def from @params (which has PARAMS_LEVELS levels; a record
 * that passed codec_params_decode does). */
uint64_t params_get(const Tdei__Params *params, const struct params_def *def);

/* Return 0 when @value is in range for @def, else TDEI_PARAM_RANGE
 * (outside [def->min, def->max], or a levelN.roles mask with bit 0 set,
 * which names no role). */
int params_check_value(const struct params_def *def, uint64_t value);

/* Set param @def of @params to @value. Returns 0, or TDEI_PARAM_RANGE when
 * @value is outside [def->min, def->max] or, for levelN.roles, sets bit 0
 * (which names no role); @params is unchanged then. */
int params_set(Tdei__Params *params, const struct params_def *def,
               uint64_t value);

/* The policy of @level (1-3, asserted) in @params. */
const Tdei__LevelPolicy *params_level(const Tdei__Params *params,
                                      uint32_t level);

#endif
