/* A node home directory (DESIGN.md section 11):
 *
 *   DIR/config.ini          node settings (config.h)
 *   DIR/keys/node.key       secp256k1 node key: consensus and p2p identity
 *   DIR/keys/operator.key   secp256k1 operator key: signs transactions
 *   DIR/keys/encryption.key X25519 key: payload keys are sealed to it
 *   DIR/data/               ledger and payload stores
 *
 * Directories are created mode 0700, key files 0600. config.ini is
 * written last, so a home with a config.ini is complete.
 * Pointers are non-NULL unless stated; errmsg buffers are
 * TDEI_ERRMSG_SIZE bytes. */
#ifndef TDEI_NODE_HOME_H
#define TDEI_NODE_HOME_H

#include "config.h"
#include "core/ids.h"
#include "core/keyfile.h"

#include <stdint.h>

#define HOME_PATH_MAX 4096

enum home_key {
    HOME_KEY_NODE = 0,       /* keys/node.key */
    HOME_KEY_OPERATOR = 1,   /* keys/operator.key */
    HOME_KEY_ENCRYPTION = 2, /* keys/encryption.key */
};

#define HOME_KEY_COUNT 3

/* The public identity of a node home. */
struct home_identity {
    char member[TDEI_MEMBER_ID_MAX + 1];    /* member id */
    enum tdei_role role;                    /* member role */
    uint8_t node_key[TDEI_PUBKEY_SIZE];     /* x-only node key */
    uint8_t operator_key[TDEI_PUBKEY_SIZE]; /* x-only operator key */
    uint8_t encryption_key[TDEI_X25519_SIZE]; /* X25519 public key */
};

/* Write the path of @file (relative, e.g. "config.ini") under @dir into
 * @out (HOME_PATH_MAX bytes). Returns: 0 or TDEI_TOOBIG (path too long). */
int home_path(char *out, const char *dir, const char *file);

/* Write the path of key @which under @dir into @out (HOME_PATH_MAX).
 * Returns: 0 or TDEI_TOOBIG. */
int home_key_path(char *out, const char *dir, enum home_key which);

/* Create a new home at @dir for @member with @role: directories, three
 * fresh keys (encrypted with @passphrase unless it is NULL) and a
 * config.ini with every key at its default. The identity goes to @id.
 * Returns: 0, TDEI_INVAL (bad member id or role), TDEI_EXISTS (@dir
 * already holds a config.ini or key files; nothing is changed),
 * TDEI_IOERR (errmsg names the path; whatever this call created is
 * removed), TDEI_NOMEM or TDEI_CRYPTO. */
int home_create(const char *dir, const char *member, enum tdei_role role,
                const char *passphrase, struct home_identity *id,
                char *errmsg);

/* Read the identity of the home at @dir: config.ini and the public halves
 * of its keys (no passphrase needed).
 * Returns: 0, or the code of the first failure (TDEI_NOTFOUND for a
 * missing file, TDEI_CONFIG, TDEI_KEYFILE_MODE, TDEI_KEYFILE_FORMAT,
 * TDEI_BADKEY for a key of the wrong kind...), errmsg naming the file. */
int home_identity_load(const char *dir, struct home_identity *id,
                       char *errmsg);

#endif
