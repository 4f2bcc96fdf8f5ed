/* Member ids, chain ids and roles (see ids.h). */
#include "core/ids.h"

#include "core/error.h"
#include "core/limits.h"

#include <string.h>

static const char *const role_names[] = {
    [TDEI_ROLE_PUBLIC_SERVICE] = "public_service",
    [TDEI_ROLE_PLATFORM] = "platform",
    [TDEI_ROLE_MANUFACTURER] = "manufacturer",
    [TDEI_ROLE_AUDITOR] = "auditor",
};

#define ROLE_SLOTS (sizeof(role_names) / sizeof(role_names[0]))

/* Check @len bytes against [a-z0-9-] and the bounds [@min, @max]. */
static int id_check(const char *id, size_t len, size_t min, size_t max)
{
    if (len < min || len > max) {
        return TDEI_INVAL;
    }
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-')) {
            return TDEI_INVAL;
        }
    }
    return 0;
}

int tdei_member_id_check(const char *id)
{
    return id_check(id, strnlen(id, TDEI_MEMBER_ID_MAX + 1),
                    TDEI_MEMBER_ID_MIN, TDEI_MEMBER_ID_MAX);
}

int tdei_member_id_check_n(const char *id, size_t len)
{
    return id_check(id, len, TDEI_MEMBER_ID_MIN, TDEI_MEMBER_ID_MAX);
}

int tdei_chain_id_check(const char *id)
{
    return id_check(id, strnlen(id, TDEI_CHAIN_ID_MAX + 1), 1,
                    TDEI_CHAIN_ID_MAX);
}

int tdei_role_parse(const char *text, enum tdei_role *role)
{
    for (size_t i = 1; i < ROLE_SLOTS; i++) {
        if (strcmp(text, role_names[i]) == 0) {
            *role = (enum tdei_role)i;
            return 0;
        }
    }
    return TDEI_INVAL;
}

const char *tdei_role_name(enum tdei_role role)
{
    if ((size_t)role == 0 || (size_t)role >= ROLE_SLOTS) {
        return NULL;
    }
    return role_names[role];
}
