/* Key files: one key per file, JSON, mode 0600 (DESIGN.md section 3).
 *
 *   {"tdei_key": 1, "kind": "secp256k1" | "x25519",
 *    "public": "<64 hex>", "secret": "<64 hex>"}
 *
 * or, passphrase-encrypted, "secret" replaced by
 *
 *   "encrypted": {"kdf": "argon2id13", "opslimit": N, "memlimit": N,
 *                 "salt": "<32 hex>", "nonce": "<48 hex>",
 *                 "box": "<96 hex>"}
 *
 * where box = crypto_secretbox_easy(secret) (XSalsa20-Poly1305) under the
 * key crypto_pwhash(passphrase, salt, opslimit, memlimit, ARGON2ID13).
 * The public key is stored in clear so that it can be shown without the
 * passphrase; on load it must match the one derived from the secret.
 * Saving uses libsodium's "interactive" Argon2id cost (opslimit 2,
 * memlimit 64 MiB, about 0.1-0.5 s); loading accepts opslimit 1-4 and
 * memlimit 8 KiB-1 GiB (up to the "sensitive" level) and refuses other
 * values, so that a hostile file cannot make us allocate without bound.
 * Unknown fields, duplicate fields and trailing bytes are refused.
 *
 * Files are created with O_EXCL and mode 0600, written, fsynced and
 * closed; a file readable by group or others is refused on load. The
 * errmsg buffers are TDEI_ERRMSG_SIZE bytes and name the path.
 * Pointers are non-NULL unless stated. */
#ifndef TDEI_CORE_KEYFILE_H
#define TDEI_CORE_KEYFILE_H

#include "core/keys.h"

#include <stddef.h>
#include <stdint.h>

/* Largest key file accepted on load; anything longer is not ours. */
#define TDEI_KEYFILE_SIZE_MAX 4096

enum tdei_key_kind {
    TDEI_KEY_SECP256K1 = 1, /* node or operator key */
    TDEI_KEY_X25519 = 2,    /* encryption key */
};

/* One key as held in a file. */
struct tdei_keyfile_key {
    enum tdei_key_kind kind;
    uint8_t secret[32]; /* secret key; wipe with tdei_keyfile_key_wipe */
    uint8_t pubkey[32]; /* x-only secp256k1 or X25519 public key */
};

/* What can be read from a key file without its passphrase. */
struct tdei_keyfile_info {
    enum tdei_key_kind kind;
    uint8_t pubkey[32]; /* x-only secp256k1 or X25519 public key */
    int encrypted;      /* 1 when the secret is passphrase-encrypted */
};

/* Generate a new key of @kind into @key. Returns: 0 or TDEI_CRYPTO. */
int tdei_keyfile_key_generate(struct tdei_keyfile_key *key,
                              enum tdei_key_kind kind);

/* Write @key to a new file at @path. @passphrase may be NULL (the secret
 * is stored in clear) or a NUL-terminated passphrase (at least 1 byte).
 * Returns: 0, TDEI_EXISTS (a file is there; it is left alone), TDEI_IOERR
 * (the file could not be created or written; nothing is left behind),
 * TDEI_BADKEY (@key's public key is not the one of its secret; nothing
 * is written), TDEI_NOMEM or TDEI_CRYPTO. */
int tdei_keyfile_save(const char *path, const struct tdei_keyfile_key *key,
                      const char *passphrase, char *errmsg);

/* Read the key at @path into @key. @passphrase may be NULL.
 * Returns: 0, TDEI_NOTFOUND, TDEI_IOERR (unreadable, a symbolic link or
 * not a regular file), TDEI_KEYFILE_MODE (group or world can read it),
 * TDEI_KEYFILE_FORMAT (empty, truncated, over TDEI_KEYFILE_SIZE_MAX, not
 * JSON, unknown, missing or duplicate field, wrong length, Argon2id
 * parameters out of range, public key does not match the secret),
 * TDEI_VERSION (tdei_key is not 1), TDEI_NEED_PASSPHRASE (encrypted and
 * @passphrase is NULL), TDEI_PASSPHRASE (wrong passphrase or altered
 * box) or TDEI_NOMEM (Argon2id could not get its memory).
 * On error @key is zeroed. */
int tdei_keyfile_load(const char *path, struct tdei_keyfile_key *key,
                      const char *passphrase, char *errmsg);

/* Read only the kind and public key at @path, without the passphrase.
 * Same checks and codes as tdei_keyfile_load, minus the passphrase ones
 * (for an encrypted file the public key is checked to be a valid key of
 * its kind; its match with the secret is checked by tdei_keyfile_load).
 * On error @kind and @pubkey are zeroed. */
int tdei_keyfile_load_public(const char *path, enum tdei_key_kind *kind,
                             uint8_t pubkey[32], char *errmsg);

/* As tdei_keyfile_load_public, and also tell whether the file is
 * encrypted. On error @info is zeroed. */
int tdei_keyfile_inspect(const char *path, struct tdei_keyfile_info *info,
                         char *errmsg);

/* Return "secp256k1" or "x25519". */
const char *tdei_key_kind_name(enum tdei_key_kind kind);

/* Wipe @key. */
void tdei_keyfile_key_wipe(struct tdei_keyfile_key *key);

#endif
