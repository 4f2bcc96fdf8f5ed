/* genesis.json parsing and writing (see genesis.h). */
#include "genesis.h"

#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One ledger param: its JSON name, its field and its accepted range. */
struct genesis_param_def {
    const char *name;
    size_t offset; /* in struct genesis_params */
    uint64_t min;
    uint64_t max;
};

static const struct genesis_param_def param_defs[] = {
    {"tx_size_max", offsetof(struct genesis_params, tx_size_max), 256,
     TDEI_BLOCK_SIZE_MAX},
    {"block_txs_max", offsetof(struct genesis_params, block_txs_max), 1,
     100000},
    {"block_size_max", offsetof(struct genesis_params, block_size_max),
     TDEI_KIB, 64u * TDEI_MIB},
    {"validators_max", offsetof(struct genesis_params, validators_max), 1,
     1000},
};

#define PARAM_COUNT (sizeof(param_defs) / sizeof(param_defs[0]))

void genesis_params_default(struct genesis_params *params)
{
    params->tx_size_max = TDEI_TX_SIZE_MAX;
    params->block_txs_max = TDEI_BLOCK_TXS_MAX;
    params->block_size_max = TDEI_BLOCK_SIZE_MAX;
    params->validators_max = TDEI_VALIDATORS_MAX;
    for (size_t i = 0; i < params_count(); i++) {
        params->contract[i] = params_at(i)->def;
    }
}

static uint64_t *param_field(struct genesis_params *params, size_t i)
{
    return (uint64_t *)(void *)((char *)params + param_defs[i].offset);
}

/* Read a JSON integer that must be >= 0 into @out. */
static int json_u64(const json_t *value, uint64_t *out)
{
    json_int_t n;

    if (!json_is_integer(value)) {
        return -1;
    }
    n = json_integer_value(value);
    if (n < 0) {
        return -1;
    }
    *out = (uint64_t)n;
    return 0;
}

/* Check that @obj has no field outside the NULL-terminated @allowed. */
static int json_fields_only(const json_t *obj, const char *const *allowed,
                            const char *what, char *errmsg)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)obj, key, value) {
        size_t i = 0;
        (void)value;
        while (allowed[i] != NULL && strcmp(allowed[i], key) != 0) {
            i++;
        }
        if (allowed[i] == NULL) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                               "%s: unknown field \"%.40s\"", what, key);
        }
    }
    return 0;
}

static int genesis_parse_params(struct genesis_params *params,
                                const json_t *obj, char *errmsg)
{
    const char *key;
    json_t *value;

    genesis_params_default(params);
    if (obj == NULL) {
        return 0;
    }
    if (!json_is_object(obj)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "params must be an object");
    }
    json_object_foreach((json_t *)obj, key, value) {
        size_t i = 0;
        uint64_t n;
        const struct params_def *def = params_find(key);
        if (def != NULL) {
            if (json_u64(value, &n) != 0 || params_check_value(def, n) != 0) {
                return tdei_errorf(
                    errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                    "params.%s must be an integer in %llu-%llu%s", key,
                    (unsigned long long)def->min,
                    (unsigned long long)def->max,
                    strstr(key, ".roles") != NULL ? ", even" : "");
            }
            params->contract[params_index(def)] = n;
            continue;
        }
        while (i < PARAM_COUNT && strcmp(param_defs[i].name, key) != 0) {
            i++;
        }
        if (i == PARAM_COUNT) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                               "params: unknown param \"%.40s\"", key);
        }
        if (json_u64(value, &n) != 0 || n < param_defs[i].min ||
            n > param_defs[i].max) {
            return tdei_errorf(
                errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                "params.%s must be an integer in %llu-%llu", key,
                (unsigned long long)param_defs[i].min,
                (unsigned long long)param_defs[i].max);
        }
        *param_field(params, i) = n;
    }
    if (params->tx_size_max > params->block_size_max) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "params.tx_size_max exceeds "
                           "params.block_size_max");
    }
    return 0;
}

/* Decode the 32-byte hex key field @name of member @m. */
static int member_key(uint8_t out[32], const json_t *value,
                      const char *member, const char *name, int secp,
                      char *errmsg)
{
    if (!json_is_string(value) ||
        tdei_hex_decode(out, 32, json_string_value(value)) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "member %s: %s must be 64 hex digits", member,
                           name);
    }
    if (secp && tdei_pubkey_check(out) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADKEY,
                           "member %s: %s is not a valid x-only "
                           "secp256k1 key",
                           member, name);
    }
    return 0;
}

static int genesis_parse_member(struct genesis_member *m, const json_t *obj,
                                size_t index, char *errmsg)
{
    static const char *const fields[] = {
        "id",           "name",      "role",    "node_key", "operator_keys",
        "encryption_key", "validator", "balance", NULL};
    char what[64];
    const json_t *value;
    const json_t *keys;
    int rc;

    memset(m, 0, sizeof(*m));
    (void)snprintf(what, sizeof(what), "members[%zu]", index);
    if (!json_is_object(obj)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "%s must be an object", what);
    }
    value = json_object_get(obj, "id");
    if (!json_is_string(value) ||
        tdei_member_id_check(json_string_value(value)) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "%s: id must be 3-32 bytes of [a-z0-9-]", what);
    }
    memcpy(m->id, json_string_value(value), json_string_length(value) + 1);
    (void)snprintf(what, sizeof(what), "member %s", m->id);
    rc = json_fields_only(obj, fields, what, errmsg);
    if (rc != 0) {
        return rc;
    }
    value = json_object_get(obj, "name");
    if (value != NULL) {
        if (!json_is_string(value) ||
            json_string_length(value) > GENESIS_NAME_MAX) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                               "%s: name must be a string of at most %u "
                               "bytes",
                               what, GENESIS_NAME_MAX);
        }
        memcpy(m->name, json_string_value(value),
               json_string_length(value) + 1);
    }
    value = json_object_get(obj, "role");
    if (!json_is_string(value) ||
        tdei_role_parse(json_string_value(value), &m->role) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "%s: role must be one of %s", what,
                           TDEI_ROLE_NAMES);
    }
    rc = member_key(m->node_key, json_object_get(obj, "node_key"), m->id,
                    "node_key", 1, errmsg);
    if (rc == 0) {
        rc = member_key(m->encryption_key,
                        json_object_get(obj, "encryption_key"), m->id,
                        "encryption_key", 0, errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    keys = json_object_get(obj, "operator_keys");
    if (!json_is_array(keys) || json_array_size(keys) == 0 ||
        json_array_size(keys) > GENESIS_OPERATOR_KEYS_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "%s: operator_keys must list 1-%u keys", what,
                           GENESIS_OPERATOR_KEYS_MAX);
    }
    for (size_t i = 0; i < json_array_size(keys); i++) {
        rc = member_key(m->operator_keys[i], json_array_get(keys, i), m->id,
                        "operator_keys[]", 1, errmsg);
        if (rc != 0) {
            return rc;
        }
    }
    m->operator_key_count = json_array_size(keys);
    value = json_object_get(obj, "validator");
    if (value != NULL && !json_is_boolean(value)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "%s: validator must be true or false", what);
    }
    m->validator = json_is_true(value);
    if (m->validator && m->role == TDEI_ROLE_AUDITOR) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "%s: an auditor observes and never votes; set "
                           "validator to false",
                           what);
    }
    value = json_object_get(obj, "balance");
    if (value != NULL && json_u64(value, &m->balance) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "%s: balance must be a non-negative integer",
                           what);
    }
    return 0;
}

static int member_compare(const void *a, const void *b)
{
    return strcmp(((const struct genesis_member *)a)->id,
                  ((const struct genesis_member *)b)->id);
}

/* Refuse ids and keys used twice; members are sorted by id. */
static int genesis_check_unique(const struct genesis *g, char *errmsg)
{
    for (size_t i = 1; i < g->member_count; i++) {
        if (strcmp(g->members[i].id, g->members[i - 1].id) == 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                               "member id %s appears twice",
                               g->members[i].id);
        }
    }
    for (size_t i = 0; i < g->member_count; i++) {
        const struct genesis_member *a = &g->members[i];
        for (size_t j = 0; j < g->member_count; j++) {
            const struct genesis_member *b = &g->members[j];
            if (j != i &&
                memcmp(a->node_key, b->node_key, TDEI_PUBKEY_SIZE) == 0) {
                return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                                   "members %s and %s share a node key",
                                   a->id, b->id);
            }
            for (size_t k = 0; k < a->operator_key_count; k++) {
                for (size_t l = 0; l < b->operator_key_count; l++) {
                    if ((j != i || k != l) &&
                        memcmp(a->operator_keys[k], b->operator_keys[l],
                               TDEI_PUBKEY_SIZE) == 0) {
                        return tdei_errorf(
                            errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                            "operator key of %s is used twice (also by "
                            "%s)",
                            a->id, b->id);
                    }
                }
            }
        }
    }
    return 0;
}

static int genesis_parse_json(struct genesis *g, const json_t *root,
                              unsigned flags, char *errmsg)
{
    static const char *const fields[] = {"tdei_genesis", "chain_id",
                                         "genesis_time_ms", "params",
                                         "members", NULL};
    const json_t *value;
    const json_t *members;
    uint64_t version;
    size_t validators;
    int rc;

    if (!json_is_object(root)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "genesis must be a JSON object");
    }
    rc = json_fields_only(root, fields, "genesis", errmsg);
    if (rc != 0) {
        return rc;
    }
    if (json_u64(json_object_get(root, "tdei_genesis"), &version) != 0 ||
        version != 1) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_VERSION,
                           "tdei_genesis must be 1 (the format this tdei "
                           "reads)");
    }
    value = json_object_get(root, "chain_id");
    if (!json_is_string(value) ||
        tdei_chain_id_check(json_string_value(value)) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "chain_id must be 1-64 bytes of [a-z0-9-]");
    }
    memcpy(g->chain_id, json_string_value(value),
           json_string_length(value) + 1);
    if (json_u64(json_object_get(root, "genesis_time_ms"), &g->time_ms) !=
        0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "genesis_time_ms must be milliseconds since "
                           "1970 (a non-negative integer)");
    }
    rc = genesis_parse_params(&g->params, json_object_get(root, "params"),
                              errmsg);
    if (rc != 0) {
        return rc;
    }
    members = json_object_get(root, "members");
    if (!json_is_array(members) ||
        (json_array_size(members) == 0 && !(flags & GENESIS_DRAFT)) ||
        json_array_size(members) > GENESIS_MEMBERS_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "members must list 1-%u members",
                           GENESIS_MEMBERS_MAX);
    }
    g->members = tdei_calloc(json_array_size(members) + 1,
                             sizeof(*g->members));
    if (g->members == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "out of memory for %zu members",
                           json_array_size(members));
    }
    for (size_t i = 0; i < json_array_size(members); i++) {
        rc = genesis_parse_member(&g->members[i], json_array_get(members, i),
                                  i, errmsg);
        if (rc != 0) {
            return rc;
        }
        g->member_count++;
    }
    qsort(g->members, g->member_count, sizeof(*g->members), member_compare);
    rc = genesis_check_unique(g, errmsg);
    if (rc != 0) {
        return rc;
    }
    validators = genesis_validator_count(g);
    if (validators > CONTRACT_VALIDATORS_CONSENSUS_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "genesis has %zu validators; consensus takes at "
                           "most %u: make the others members without "
                           "\"validator\": true",
                           validators, CONTRACT_VALIDATORS_CONSENSUS_MAX);
    }
    if ((validators == 0 && !(flags & GENESIS_DRAFT)) ||
        validators > g->params.validators_max) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "genesis has %zu validators; it needs 1-%llu "
                           "(params.validators_max)",
                           validators,
                           (unsigned long long)g->params.validators_max);
    }
    return 0;
}

int genesis_parse(struct genesis *g, const uint8_t *data, size_t len,
                  unsigned flags, char *errmsg)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    memset(g, 0, sizeof(*g));
    if (len > GENESIS_FILE_SIZE_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "genesis is %zu bytes; the limit is %u", len,
                           GENESIS_FILE_SIZE_MAX);
    }
    root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "genesis is not valid JSON: line %d: %s",
                           jerr.line, jerr.text);
    }
    rc = genesis_parse_json(g, root, flags, errmsg);
    json_decref(root);
    if (rc != 0) {
        genesis_free(g);
        return rc;
    }
    tdei_sha256(g->hash, data, len);
    return 0;
}

int genesis_load(struct genesis *g, const char *path, unsigned flags,
                 char *errmsg)
{
    struct stat st;
    uint8_t *data;
    ssize_t got;
    int fd;
    int rc;

    memset(g, 0, sizeof(*g));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE,
                           errno == ENOENT ? TDEI_NOTFOUND : TDEI_IOERR,
                           "cannot open %s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > GENESIS_FILE_SIZE_MAX) {
        close(fd);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "%s is not a regular file of at most %u bytes",
                           path, GENESIS_FILE_SIZE_MAX);
    }
    data = tdei_malloc((size_t)st.st_size);
    if (data == NULL) {
        close(fd);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "out of memory reading %s", path);
    }
    got = read(fd, data, (size_t)st.st_size);
    close(fd);
    if (got != st.st_size) {
        tdei_free(data);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot read %s", path);
    }
    rc = genesis_parse(g, data, (size_t)got, flags, errmsg);
    tdei_free(data);
    if (rc != 0) {
        return tdei_errwrap(errmsg, TDEI_ERRMSG_SIZE, rc, "%s", path);
    }
    return 0;
}

static json_t *member_to_json(const struct genesis_member *m)
{
    char hex[TDEI_HEX_SIZE(32)];
    json_t *obj = json_object();
    json_t *keys = json_array();

    if (obj == NULL || keys == NULL) {
        json_decref(obj);
        json_decref(keys);
        return NULL;
    }
    (void)json_object_set_new(obj, "id", json_string(m->id));
    if (m->name[0] != '\0') {
        (void)json_object_set_new(obj, "name", json_string(m->name));
    }
    (void)json_object_set_new(obj, "role",
                              json_string(tdei_role_name(m->role)));
    (void)json_object_set_new(
        obj, "node_key",
        json_string(tdei_hex_encode(hex, sizeof(hex), m->node_key, 32)));
    for (size_t i = 0; i < m->operator_key_count; i++) {
        (void)json_array_append_new(
            keys, json_string(tdei_hex_encode(hex, sizeof(hex),
                                              m->operator_keys[i], 32)));
    }
    (void)json_object_set_new(obj, "operator_keys", keys);
    (void)json_object_set_new(
        obj, "encryption_key",
        json_string(
            tdei_hex_encode(hex, sizeof(hex), m->encryption_key, 32)));
    (void)json_object_set_new(obj, "validator", json_boolean(m->validator));
    (void)json_object_set_new(obj, "balance",
                              json_integer((json_int_t)m->balance));
    return obj;
}

json_t *genesis_to_json(const struct genesis *g)
{
    json_t *root = json_object();
    json_t *params = json_object();
    json_t *members = json_array();

    if (root == NULL || params == NULL || members == NULL) {
        json_decref(root);
        json_decref(params);
        json_decref(members);
        return NULL;
    }
    (void)json_object_set_new(root, "tdei_genesis", json_integer(1));
    (void)json_object_set_new(root, "chain_id", json_string(g->chain_id));
    (void)json_object_set_new(root, "genesis_time_ms",
                              json_integer((json_int_t)g->time_ms));
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        (void)json_object_set_new(
            params, param_defs[i].name,
            json_integer((json_int_t)*param_field(
                (struct genesis_params *)(void *)&g->params, i)));
    }
    for (size_t i = 0; i < params_count(); i++) {
        (void)json_object_set_new(
            params, params_at(i)->name,
            json_integer((json_int_t)g->params.contract[i]));
    }
    (void)json_object_set_new(root, "params", params);
    for (size_t i = 0; i < g->member_count; i++) {
        json_t *m = member_to_json(&g->members[i]);
        if (m == NULL || json_array_append_new(members, m) != 0) {
            json_decref(root);
            json_decref(members);
            return NULL;
        }
    }
    (void)json_object_set_new(root, "members", members);
    return root;
}

int genesis_member_add(struct genesis *g, const struct genesis_member *m,
                       char *errmsg)
{
    struct genesis_member *grown;
    size_t validators = genesis_validator_count(g) + (m->validator ? 1 : 0);
    int rc;

    if (g->member_count >= GENESIS_MEMBERS_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "genesis already has %u members, the limit",
                           GENESIS_MEMBERS_MAX);
    }
    if (m->validator && m->role == TDEI_ROLE_AUDITOR) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "member %s: an auditor observes and never votes; "
                           "drop --validator",
                           m->id);
    }
    if (validators > g->params.validators_max ||
        validators > CONTRACT_VALIDATORS_CONSENSUS_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "genesis would have %zu validators; "
                           "params.validators_max is %llu and consensus "
                           "takes at most %u",
                           validators,
                           (unsigned long long)g->params.validators_max,
                           CONTRACT_VALIDATORS_CONSENSUS_MAX);
    }
    grown = tdei_realloc(g->members,
                         (g->member_count + 1) * sizeof(*g->members));
    if (grown == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "out of memory adding member %s", m->id);
    }
    g->members = grown;
    g->members[g->member_count++] = *m;
    qsort(g->members, g->member_count, sizeof(*g->members), member_compare);
    rc = genesis_check_unique(g, errmsg);
    if (rc != 0) {
        /* Take the new member out again: find it by its node key. */
        for (size_t i = 0; i < g->member_count; i++) {
            if (memcmp(&g->members[i], m, sizeof(*m)) == 0) {
                memmove(&g->members[i], &g->members[i + 1],
                        (g->member_count - i - 1) * sizeof(*m));
                break;
            }
        }
        g->member_count--;
        return TDEI_EXISTS;
    }
    return 0;
}

int genesis_save(const struct genesis *g, const char *path, char *errmsg)
{
    char tmp[4200];
    json_t *doc = genesis_to_json(g);
    int fd;
    int rc = 0;

    if (doc == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "out of memory writing %s", path);
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        json_decref(doc);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "path %.64s... is too long", path);
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        json_decref(doc);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot create %s: %s", tmp, strerror(errno));
    }
    if (json_dumpfd(doc, fd, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
        write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        rc = TDEI_IOERR;
    }
    if (close(fd) != 0) {
        rc = TDEI_IOERR;
    }
    json_decref(doc);
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = TDEI_IOERR;
    }
    if (rc != 0) {
        (void)unlink(tmp);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot write %s: %s", path, strerror(errno));
    }
    return 0;
}

const struct genesis_member *genesis_member_find(const struct genesis *g,
                                                 const char *id)
{
    for (size_t i = 0; i < g->member_count; i++) {
        if (strcmp(g->members[i].id, id) == 0) {
            return &g->members[i];
        }
    }
    return NULL;
}

size_t genesis_validator_count(const struct genesis *g)
{
    size_t count = 0;

    for (size_t i = 0; i < g->member_count; i++) {
        count += g->members[i].validator ? 1u : 0u;
    }
    return count;
}

void genesis_free(struct genesis *g)
{
    tdei_free(g->members);
    memset(g, 0, sizeof(*g));
}
