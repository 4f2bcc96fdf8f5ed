/* The governable params table (see params.h). */
#include "contracts/params.h"

#include "core/assert.h"
#include "core/error.h"

#include <string.h>

/* About a year of one-second blocks: the longest any ttl may be set. */
#define TTL_MAX 31536000u
/* A day of one-second blocks. */
#define DAY 86400u

/* Where each param lives in the record. */
enum field {
    F_PROPOSAL_TTL,
    F_MINT_ENABLED,
    F_APPROVE_TTL,
    F_DELIVER_TTL,
    F_CONFIRM_TTL,
    F_CORE_GRANT_TTL,
    F_MAX_LAG_MS,
    F_MAX_CLOCK_SKEW_MS,
    F_STREAM_BATCH_MAX,
    F_LEVEL_APPROVAL,
    F_LEVEL_ROLES,
    F_LEVEL_GRANT_TTL,
    F_LEVEL_PURPOSE
};

static const struct
{
    struct params_def def;
    enum field field;
    uint32_t level; /* 1-3 for the level fields, 0 otherwise */
} table[] = {
    {{"proposal_ttl", 1, TTL_MAX, 1000,
      "blocks after which an open member proposal expires"},
     F_PROPOSAL_TTL,
     0},
    {{"mint_enabled", 0, 1, 0, "1 lets a public_service member mint credits"},
     F_MINT_ENABLED,
     0},
    {{"approve_ttl", 1, TTL_MAX, 7200,
      "blocks a request waits for its approvals before it expires"},
     F_APPROVE_TTL,
     0},
    {{"deliver_ttl", 1, TTL_MAX, 7200,
      "blocks an approved exchange waits for delivery before it expires"},
     F_DELIVER_TTL,
     0},
    {{"confirm_ttl", 1, TTL_MAX, 7200,
      "blocks a delivery waits for confirmation; then the owner is paid"},
     F_CONFIRM_TTL,
     0},
    {{"core_grant_ttl", 1, TTL_MAX, DAY,
      "longest grant of a core-class entry, in blocks"},
     F_CORE_GRANT_TTL,
     0},
    {{"max_lag_ms", 1, DAY * 1000u, 60000,
      "a stream batch's last record is at most this far behind block time"},
     F_MAX_LAG_MS,
     0},
    {{"max_clock_skew_ms", 0, 3600000u, 5000,
      "a stream batch's last record is at most this far ahead of block "
      "time"},
     F_MAX_CLOCK_SKEW_MS,
     0},
    {{"stream_batch_max", 1, 10000, 10000, "records in one stream batch"},
     F_STREAM_BATCH_MAX,
     0},
    {{"level1.approval", 1, 3, PARAMS_APPROVAL_AUTO,
      "level 1 approval: 1 auto, 2 owner, 3 owner and regulator"},
     F_LEVEL_APPROVAL,
     1},
    {{"level1.roles", 0, 30, PARAMS_ROLES_MEMBERS,
      "level 1 receivers: bit mask of roles (2 public_service, 4 platform, "
      "8 manufacturer)"},
     F_LEVEL_ROLES,
     1},
    {{"level1.grant_ttl", 1, TTL_MAX, TTL_MAX,
      "level 1 longest grant, in blocks"},
     F_LEVEL_GRANT_TTL,
     1},
    {{"level1.purpose", 0, 1, 0, "1: a level 1 request must state a purpose"},
     F_LEVEL_PURPOSE,
     1},
    {{"level2.approval", 1, 3, PARAMS_APPROVAL_OWNER,
      "level 2 approval: 1 auto, 2 owner, 3 owner and regulator"},
     F_LEVEL_APPROVAL,
     2},
    {{"level2.roles", 0, 30, PARAMS_ROLES_MEMBERS,
      "level 2 receivers: bit mask of roles"},
     F_LEVEL_ROLES,
     2},
    {{"level2.grant_ttl", 1, TTL_MAX, 30u * DAY,
      "level 2 longest grant, in blocks"},
     F_LEVEL_GRANT_TTL,
     2},
    {{"level2.purpose", 0, 1, 1, "1: a level 2 request must state a purpose"},
     F_LEVEL_PURPOSE,
     2},
    {{"level3.approval", 1, 3, PARAMS_APPROVAL_OWNER_REGULATOR,
      "level 3 approval: 1 auto, 2 owner, 3 owner and regulator"},
     F_LEVEL_APPROVAL,
     3},
    {{"level3.roles", 0, 30, PARAMS_ROLES_MEMBERS,
      "level 3 receivers: bit mask of roles"},
     F_LEVEL_ROLES,
     3},
    {{"level3.grant_ttl", 1, TTL_MAX, 7u * DAY,
      "level 3 longest grant, in blocks"},
     F_LEVEL_GRANT_TTL,
     3},
    {{"level3.purpose", 0, 1, 1, "1: a level 3 request must state a purpose"},
     F_LEVEL_PURPOSE,
     3},
};

#define TABLE_COUNT (sizeof(table) / sizeof(table[0]))

_Static_assert(TABLE_COUNT <= PARAMS_MAX, "the table fits PARAMS_MAX");

size_t params_count(void) { return TABLE_COUNT; }

const struct params_def *params_at(size_t i)
{
    TDEI_ASSERT(i < TABLE_COUNT);
    return &table[i].def;
}

const struct params_def *params_find(const char *name)
{
    for (size_t i = 0; i < TABLE_COUNT; i++) {
        if (strcmp(table[i].def.name, name) == 0) {
            return &table[i].def;
        }
    }
    return NULL;
}

/* The table row of @def (which must come from the table). */
static size_t row_of(const struct params_def *def)
{
    size_t i = (size_t)((const char *)def - (const char *)&table[0].def) /
               sizeof(table[0]);

    TDEI_ASSERT(i < TABLE_COUNT && &table[i].def == def);
    return i;
}

size_t params_index(const struct params_def *def) { return row_of(def); }

const Tdei__LevelPolicy *params_level(const Tdei__Params *params,
                                      uint32_t level)
{
    TDEI_ASSERT(level >= 1 && level <= PARAMS_LEVELS);
    TDEI_ASSERT(params->n_levels == PARAMS_LEVELS);
    return params->levels[level - 1];
}

/* The u64 behind a non-boolean top-level field. */
static uint64_t *top_field(Tdei__Params *params, enum field field)
{
    switch (field) {
    case F_PROPOSAL_TTL:
        return &params->proposal_ttl;
    case F_APPROVE_TTL:
        return &params->approve_ttl;
    case F_DELIVER_TTL:
        return &params->deliver_ttl;
    case F_CONFIRM_TTL:
        return &params->confirm_ttl;
    case F_CORE_GRANT_TTL:
        return &params->core_grant_ttl;
    case F_MAX_LAG_MS:
        return &params->max_lag_ms;
    case F_MAX_CLOCK_SKEW_MS:
        return &params->max_clock_skew_ms;
    case F_STREAM_BATCH_MAX:
        return &params->stream_batch_max;
    default:
        TDEI_ASSERT(0);
        return NULL;
    }
}

uint64_t params_get(const Tdei__Params *params, const struct params_def *def)
{
    size_t i = row_of(def);
    const Tdei__LevelPolicy *lp;

    switch (table[i].field) {
    case F_MINT_ENABLED:
        return params->mint_enabled ? 1u : 0u;
    case F_LEVEL_APPROVAL:
    case F_LEVEL_ROLES:
    case F_LEVEL_GRANT_TTL:
    case F_LEVEL_PURPOSE:
        lp = params_level(params, table[i].level);
        if (table[i].field == F_LEVEL_APPROVAL) {
            return lp->approval;
        }
        if (table[i].field == F_LEVEL_ROLES) {
            return lp->roles;
        }
        if (table[i].field == F_LEVEL_GRANT_TTL) {
            return lp->grant_ttl;
        }
        return lp->purpose ? 1u : 0u;
    default:
        return *top_field((Tdei__Params *)params, table[i].field);
    }
}

int params_check_value(const struct params_def *def, uint64_t value)
{
    size_t i = row_of(def);

    if (value < def->min || value > def->max) {
        return TDEI_PARAM_RANGE;
    }
    if (table[i].field == F_LEVEL_ROLES && (value & 1u) != 0) {
        return TDEI_PARAM_RANGE;
    }
    return 0;
}

int params_set(Tdei__Params *params, const struct params_def *def,
               uint64_t value)
{
    size_t i = row_of(def);
    Tdei__LevelPolicy *lp;

    if (params_check_value(def, value) != 0) {
        return TDEI_PARAM_RANGE;
    }
    switch (table[i].field) {
    case F_MINT_ENABLED:
        params->mint_enabled = value == 1;
        return 0;
    case F_LEVEL_APPROVAL:
    case F_LEVEL_ROLES:
    case F_LEVEL_GRANT_TTL:
    case F_LEVEL_PURPOSE:
        TDEI_ASSERT(params->n_levels == PARAMS_LEVELS);
        lp = params->levels[table[i].level - 1];
        if (table[i].field == F_LEVEL_APPROVAL) {
            lp->approval = (uint32_t)value;
        } else if (table[i].field == F_LEVEL_ROLES) {
            lp->roles = (uint32_t)value;
        } else if (table[i].field == F_LEVEL_GRANT_TTL) {
            lp->grant_ttl = value;
        } else {
            lp->purpose = value == 1;
        }
        return 0;
    default:
        *top_field(params, table[i].field) = value;
        return 0;
    }
}

void params_storage_init(struct params_storage *s)
{
    tdei__params__init(&s->params);
    for (size_t l = 0; l < PARAMS_LEVELS; l++) {
        tdei__level_policy__init(&s->levels[l]);
        s->level_ptrs[l] = &s->levels[l];
    }
    s->params.n_levels = PARAMS_LEVELS;
    s->params.levels = s->level_ptrs;
    for (size_t i = 0; i < TABLE_COUNT; i++) {
        int rc = params_set(&s->params, &table[i].def, table[i].def.def);
        TDEI_ASSERT(rc == 0);
    }
}
