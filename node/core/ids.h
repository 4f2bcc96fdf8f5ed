/* Member ids, chain ids and roles (DESIGN.md section 3).
 *
 * A member id is 3-32 bytes of [a-z0-9-]; a chain id 1-64 bytes of the
 * same alphabet. Roles are stored on the ledger by number, so the numbers
 * never change. Pointers are non-NULL unless stated. */
#ifndef TDEI_CORE_IDS_H
#define TDEI_CORE_IDS_H

#include <stddef.h>

enum tdei_role {
    TDEI_ROLE_PUBLIC_SERVICE = 1, /* public service platform; regulator */
    TDEI_ROLE_PLATFORM = 2,       /* industrial-internet platform */
    TDEI_ROLE_MANUFACTURER = 3,   /* manufacturer */
    TDEI_ROLE_AUDITOR = 4,        /* observer: reads, never votes */
};

/* Check that @id is a valid member id.
 * Returns: 0 or TDEI_INVAL (wrong length or a character outside
 * [a-z0-9-]). */
int tdei_member_id_check(const char *id);

/* Check that the @len bytes at @id form a valid member id (for ids that
 * arrive as counted strings). Returns as tdei_member_id_check. */
int tdei_member_id_check_n(const char *id, size_t len);

/* Check that @id is a valid chain id. Returns: 0 or TDEI_INVAL. */
int tdei_chain_id_check(const char *id);

/* Parse a role name ("public_service", "platform", "manufacturer",
 * "auditor") into @role. Returns: 0 or TDEI_INVAL (@role untouched). */
int tdei_role_parse(const char *text, enum tdei_role *role);

/* Return the name of @role, or NULL if @role is not a valid role. */
const char *tdei_role_name(enum tdei_role role);

/* The role names joined with ", ", for messages. Static string. */
#define TDEI_ROLE_NAMES "public_service, platform, manufacturer, auditor"

#endif
