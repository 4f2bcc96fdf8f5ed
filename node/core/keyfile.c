/* Key files: JSON, mode 0600, optionally Argon2id + secretbox (see
 * keyfile.h).
 *
 * Loading is strict because a key file is operator input: the file must be
 * a regular file of at most TDEI_KEYFILE_SIZE_MAX bytes, private to its
 * owner, hold exactly the documented fields, and its public key must be
 * the one of its secret. Encryption parameters are bounded before use, so
 * that a hostile file cannot make Argon2id allocate or spin without limit.
 *
 * Secrets are wiped: the file buffer, decoded secrets, derived keys, and
 * the string values jansson holds for "secret". Jansson's parser and
 * dumper keep no other copy of a decrypted secret, because the plaintext
 * of an encrypted file never passes through jansson; for clear files the
 * secret is on disk anyway. */
#include "core/keyfile.h"

#include "core/assert.h"
#include "core/error.h"
#include "core/fileio.h"
#include "core/hex.h"
#include "core/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYFILE_VERSION 1
#define KEYFILE_KDF "argon2id13"
#define KEYFILE_SECRET_SIZE 32
#define KEYFILE_BOX_SIZE (crypto_secretbox_MACBYTES + KEYFILE_SECRET_SIZE)

/* Argon2id bounds accepted on load; the upper ones are libsodium's
 * "sensitive" level (4 passes, 1 GiB). Saving uses "interactive". */
#define KEYFILE_OPS_MIN crypto_pwhash_argon2id_OPSLIMIT_MIN
#define KEYFILE_OPS_MAX crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE
#define KEYFILE_MEM_MIN crypto_pwhash_argon2id_MEMLIMIT_MIN
#define KEYFILE_MEM_MAX crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE
#define KEYFILE_OPS_SAVE crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE
#define KEYFILE_MEM_SAVE crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE

_Static_assert(TDEI_SECKEY_SIZE == KEYFILE_SECRET_SIZE, "secret size");
_Static_assert(TDEI_X25519_SIZE == KEYFILE_SECRET_SIZE, "secret size");
_Static_assert(crypto_secretbox_KEYBYTES == 32, "secretbox key size");
_Static_assert(crypto_pwhash_argon2id_SALTBYTES == 16, "salt size");
_Static_assert(crypto_secretbox_NONCEBYTES == 24, "nonce size");

/* A key file as parsed, before any secret is decrypted. */
struct keyfile_parsed
{
    enum tdei_key_kind kind;
    uint8_t pubkey[32];
    int encrypted;                       /* 1: the fields below hold */
    uint8_t secret[KEYFILE_SECRET_SIZE]; /* clear files only; wipe */
    unsigned long long opslimit;         /* Argon2id passes */
    size_t memlimit;                     /* Argon2id memory, bytes */
    uint8_t salt[crypto_pwhash_argon2id_SALTBYTES];
    uint8_t nonce[crypto_secretbox_NONCEBYTES];
    uint8_t box[KEYFILE_BOX_SIZE]; /* MAC || encrypted secret */
};

const char *tdei_key_kind_name(enum tdei_key_kind kind)
{
    switch (kind) {
    case TDEI_KEY_SECP256K1:
        return "secp256k1";
    case TDEI_KEY_X25519:
        return "x25519";
    }
    TDEI_ASSERT(0 && "unknown key kind");
    return "unknown";
}

void tdei_keyfile_key_wipe(struct tdei_keyfile_key *key)
{
    sodium_memzero(key, sizeof(*key));
}

/* Derive the public key of @secret for @kind into @pubkey.
 * Returns: 0 or TDEI_BADKEY. */
static int keyfile_derive_public(enum tdei_key_kind kind,
                                 const uint8_t secret[32], uint8_t pubkey[32])
{
    int rc;

    if (kind == TDEI_KEY_SECP256K1) {
        struct tdei_keypair kp;
        rc = tdei_keypair_from_secret(&kp, secret);
        memcpy(pubkey, kp.pubkey, 32);
        tdei_keypair_wipe(&kp);
    } else {
        struct tdei_enc_keypair kp;
        TDEI_ASSERT(kind == TDEI_KEY_X25519);
        rc = tdei_enc_keypair_from_secret(&kp, secret);
        memcpy(pubkey, kp.pubkey, 32);
        tdei_enc_keypair_wipe(&kp);
    }
    return rc;
}

int tdei_keyfile_key_generate(struct tdei_keyfile_key *key,
                              enum tdei_key_kind kind)
{
    int rc;

    tdei_keyfile_key_wipe(key);
    if (kind == TDEI_KEY_SECP256K1) {
        struct tdei_keypair kp;
        rc = tdei_keypair_generate(&kp);
        memcpy(key->secret, kp.secret, sizeof(key->secret));
        memcpy(key->pubkey, kp.pubkey, sizeof(key->pubkey));
        tdei_keypair_wipe(&kp);
    } else {
        struct tdei_enc_keypair kp;
        TDEI_ASSERT(kind == TDEI_KEY_X25519);
        rc = tdei_enc_keypair_generate(&kp);
        memcpy(key->secret, kp.secret, sizeof(key->secret));
        memcpy(key->pubkey, kp.pubkey, sizeof(key->pubkey));
        tdei_enc_keypair_wipe(&kp);
    }
    if (rc != 0) {
        tdei_keyfile_key_wipe(key);
        return TDEI_CRYPTO;
    }
    key->kind = kind;
    return 0;
}

/* ---- loading ----------------------------------------------------------- */

/* Read the file at @path into @buf (TDEI_KEYFILE_SIZE_MAX + 1 bytes) after
 * checking that it is a private regular file; the length goes to @len. */
static int keyfile_read(const char *path, uint8_t *buf, size_t *len,
                        char *errmsg)
{
    struct stat st;
    size_t total = 0;
    int fd;
    int rc = 0;

    /* O_NONBLOCK: a FIFO put in place of the key must not hang us. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                               "key file %s does not exist", path);
        }
        if (err == ELOOP) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                               "key file %s is a symbolic link; give the "
                               "path of the file itself",
                               path);
        }
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot open key file %s: %s", path, strerror(err));
    }
    if (fstat(fd, &st) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                         "cannot stat key file %s: %s", path, strerror(errno));
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                         "key file %s is not a regular file", path);
        goto out_close;
    }
    if ((st.st_mode & 077) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_MODE,
                         "key file %s has mode %04o; run chmod 600 %s", path,
                         (unsigned int)(st.st_mode & 07777), path);
        goto out_close;
    }
    if (st.st_size > TDEI_KEYFILE_SIZE_MAX) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                         "key file %s is %lld bytes, more than the %d of a "
                         "key file; it is not a tdei key",
                         path, (long long)st.st_size, TDEI_KEYFILE_SIZE_MAX);
        goto out_close;
    }
    /* Read to EOF; the extra byte catches a file that grew since fstat. */
    while (total < TDEI_KEYFILE_SIZE_MAX + 1) {
        ssize_t n = read(fd, buf + total, TDEI_KEYFILE_SIZE_MAX + 1 - total);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                             "cannot read key file %s: %s", path,
                             strerror(errno));
            goto out_close;
        }
        if (n == 0) {
            break;
        }
        total += (size_t)n;
    }
    if (total > TDEI_KEYFILE_SIZE_MAX) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                         "key file %s is more than %d bytes; it is not a "
                         "tdei key",
                         path, TDEI_KEYFILE_SIZE_MAX);
        goto out_close;
    }
    *len = total;
out_close:
    (void)close(fd);
    return rc;
}

/* Copy @name into @out for an error message: printable ASCII only, cut
 * at @size - 1 bytes. */
static void keyfile_printable(char *out, size_t size, const char *name)
{
    size_t i = 0;

    for (; name[i] != '\0' && i + 1 < size; i++) {
        char c = name[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    out[i] = '\0';
}

/* Check that every key of @obj is one of @allowed (@count names). */
static int keyfile_check_fields(const char *path, json_t *obj,
                                const char *where, const char *const *allowed,
                                size_t count, char *errmsg)
{
    const char *name;
    json_t *value;

    json_object_foreach(obj, name, value)
    {
        int known = 0;
        (void)value;
        for (size_t i = 0; i < count; i++) {
            if (strcmp(name, allowed[i]) == 0) {
                known = 1;
            }
        }
        if (!known) {
            char shown[40];
            keyfile_printable(shown, sizeof(shown), name);
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                               "key file %s: unknown field '%s'%s", path, shown,
                               where);
        }
    }
    return 0;
}

/* Decode the hex string field @name of @obj into exactly @len bytes. */
static int keyfile_hex_field(const char *path, json_t *obj, const char *name,
                             uint8_t *out, size_t len, char *errmsg)
{
    json_t *value = json_object_get(obj, name);

    if (value == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s has no field '%s'", path, name);
    }
    if (!json_is_string(value) || json_string_length(value) != 2 * len ||
        tdei_hex_decode(out, len, json_string_value(value)) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s: field '%s' must be a string of "
                           "%zu hex digits",
                           path, name, 2 * len);
    }
    return 0;
}

/* Read the integer field @name of @obj, which must be in [@min, @max]. */
static int keyfile_int_field(const char *path, json_t *obj, const char *name,
                             json_int_t min, json_int_t max, json_int_t *out,
                             char *errmsg)
{
    json_t *value = json_object_get(obj, name);

    if (value == NULL || !json_is_integer(value)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s: field '%s' must be an integer", path,
                           name);
    }
    *out = json_integer_value(value);
    if (*out < min || *out > max) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s: %s=%lld is outside %lld-%lld", path,
                           name, (long long)*out, (long long)min,
                           (long long)max);
    }
    return 0;
}

/* Parse the "encrypted" object @enc into @p. */
static int keyfile_parse_encrypted(const char *path, json_t *enc,
                                   struct keyfile_parsed *p, char *errmsg)
{
    static const char *const fields[] = {"kdf",  "opslimit", "memlimit",
                                         "salt", "nonce",    "box"};
    json_t *kdf;
    json_int_t ops = 0;
    json_int_t mem = 0;
    int rc;

    if (!json_is_object(enc)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s: field 'encrypted' must be an "
                           "object",
                           path);
    }
    rc = keyfile_check_fields(path, enc, " in 'encrypted'", fields,
                              sizeof(fields) / sizeof(fields[0]), errmsg);
    if (rc != 0) {
        return rc;
    }
    kdf = json_object_get(enc, "kdf");
    if (kdf == NULL || !json_is_string(kdf) ||
        strcmp(json_string_value(kdf), KEYFILE_KDF) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s: encrypted.kdf must be \"%s\"", path,
                           KEYFILE_KDF);
    }
    rc = keyfile_int_field(path, enc, "opslimit", KEYFILE_OPS_MIN,
                           KEYFILE_OPS_MAX, &ops, errmsg);
    if (rc == 0) {
        rc = keyfile_int_field(path, enc, "memlimit", KEYFILE_MEM_MIN,
                               KEYFILE_MEM_MAX, &mem, errmsg);
    }
    if (rc == 0) {
        rc = keyfile_hex_field(path, enc, "salt", p->salt, sizeof(p->salt),
                               errmsg);
    }
    if (rc == 0) {
        rc = keyfile_hex_field(path, enc, "nonce", p->nonce, sizeof(p->nonce),
                               errmsg);
    }
    if (rc == 0) {
        rc =
            keyfile_hex_field(path, enc, "box", p->box, sizeof(p->box), errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    p->opslimit = (unsigned long long)ops;
    p->memlimit = (size_t)mem;
    p->encrypted = 1;
    return 0;
}

/* Check the "tdei_key" version field of @root. */
static int keyfile_check_version(const char *path, json_t *root, char *errmsg)
{
    json_t *version = json_object_get(root, "tdei_key");

    if (version == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s has no field 'tdei_key'; it is not "
                           "a tdei key file",
                           path);
    }
    if (!json_is_integer(version)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s: field 'tdei_key' must be an "
                           "integer",
                           path);
    }
    if (json_integer_value(version) != KEYFILE_VERSION) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_VERSION,
                           "key file %s has format version %lld; this tdei "
                           "reads version %d",
                           path, (long long)json_integer_value(version),
                           KEYFILE_VERSION);
    }
    return 0;
}

/* Parse the fields of the key file object @root into @p. */
static int keyfile_parse_root(const char *path, json_t *root,
                              struct keyfile_parsed *p, char *errmsg)
{
    static const char *const fields[] = {"tdei_key", "kind", "public", "secret",
                                         "encrypted"};
    json_t *kind;
    json_t *secret;
    json_t *enc;
    int rc;

    rc = keyfile_check_version(path, root, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = keyfile_check_fields(path, root, "", fields,
                              sizeof(fields) / sizeof(fields[0]), errmsg);
    if (rc != 0) {
        return rc;
    }
    kind = json_object_get(root, "kind");
    if (kind != NULL && json_is_string(kind) &&
        strcmp(json_string_value(kind), "secp256k1") == 0) {
        p->kind = TDEI_KEY_SECP256K1;
    } else if (kind != NULL && json_is_string(kind) &&
               strcmp(json_string_value(kind), "x25519") == 0) {
        p->kind = TDEI_KEY_X25519;
    } else {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s: field 'kind' must be \"secp256k1\" "
                           "or \"x25519\"",
                           path);
    }
    rc = keyfile_hex_field(path, root, "public", p->pubkey, sizeof(p->pubkey),
                           errmsg);
    if (rc != 0) {
        return rc;
    }
    secret = json_object_get(root, "secret");
    enc = json_object_get(root, "encrypted");
    if ((secret == NULL) == (enc == NULL)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s must hold exactly one of the fields "
                           "'secret' and 'encrypted'",
                           path);
    }
    if (enc != NULL) {
        return keyfile_parse_encrypted(path, enc, p, errmsg);
    }
    return keyfile_hex_field(path, root, "secret", p->secret, sizeof(p->secret),
                             errmsg);
}

/* Wipe the string value of "secret" in @root, if there is one. */
static void keyfile_json_wipe_secret(json_t *root)
{
    json_t *secret = json_object_get(root, "secret");

    if (secret != NULL && json_is_string(secret)) {
        /* Jansson owns the bytes; zeroing them in place before the
         * decref keeps the secret out of freed memory. */
        sodium_memzero((char *)json_string_value(secret),
                       json_string_length(secret));
    }
}

/* Parse the @len bytes of @buf, read from @path, into @p. */
static int keyfile_parse(const char *path, const uint8_t *buf, size_t len,
                         struct keyfile_parsed *p, char *errmsg)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    if (len == 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s is empty; restore it from a backup",
                           path);
    }
    root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* Jansson's text may quote the bad token ("near '...'"), which can
         * be part of a secret: keep only the description. */
        char *near = strstr(jerr.text, " near ");
        if (near != NULL) {
            *near = '\0';
        }
        if (json_error_code(&jerr) == json_error_premature_end_of_input) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                               "key file %s is truncated: the JSON ends "
                               "early (%zu bytes); restore it from a backup",
                               path, len);
        }
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s is damaged: %s at line %d, column "
                           "%d; restore it from a backup",
                           path, jerr.text, jerr.line, jerr.column);
    }
    if (!json_is_object(root)) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                         "key file %s does not hold a JSON object", path);
    } else {
        rc = keyfile_parse_root(path, root, p, errmsg);
        keyfile_json_wipe_secret(root);
    }
    json_decref(root);
    return rc;
}

/* Read and parse the key file at @path into @p (wiped on error). */
static int keyfile_load_parsed(const char *path, struct keyfile_parsed *p,
                               char *errmsg)
{
    uint8_t buf[TDEI_KEYFILE_SIZE_MAX + 1];
    size_t len = 0;
    int rc;

    memset(p, 0, sizeof(*p));
    rc = keyfile_read(path, buf, &len, errmsg);
    if (rc == 0) {
        rc = keyfile_parse(path, buf, len, p, errmsg);
    }
    sodium_memzero(buf, sizeof(buf));
    if (rc != 0) {
        sodium_memzero(p, sizeof(*p));
    }
    return rc;
}

/* Check that @secret gives the public key of @p. */
static int keyfile_check_pair(const char *path, const struct keyfile_parsed *p,
                              const uint8_t secret[32], char *errmsg)
{
    uint8_t derived[32];
    int rc;

    rc = keyfile_derive_public(p->kind, secret, derived);
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s: the secret is not a valid %s key",
                           path, tdei_key_kind_name(p->kind));
    }
    if (sodium_memcmp(derived, p->pubkey, sizeof(derived)) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s: public key does not match the "
                           "secret; restore the file from a backup",
                           path);
    }
    return 0;
}

/* Check the public key of an encrypted file, whose secret is unknown. */
static int keyfile_check_public(const char *path,
                                const struct keyfile_parsed *p, char *errmsg)
{
    int bad;

    if (p->kind == TDEI_KEY_SECP256K1) {
        bad = tdei_pubkey_check(p->pubkey) != 0;
    } else {
        bad = sodium_is_zero(p->pubkey, sizeof(p->pubkey));
    }
    if (bad) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_KEYFILE_FORMAT,
                           "key file %s: field 'public' is not a valid %s "
                           "public key",
                           path, tdei_key_kind_name(p->kind));
    }
    return 0;
}

/* Decrypt the secret of the encrypted @p into @secret. */
static int keyfile_decrypt(const char *path, const struct keyfile_parsed *p,
                           const char *passphrase, uint8_t secret[32],
                           char *errmsg)
{
    uint8_t dkey[crypto_secretbox_KEYBYTES];
    int rc = 0;

    if (crypto_pwhash(dkey, sizeof(dkey), passphrase, strlen(passphrase),
                      p->salt, p->opslimit, p->memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_memzero(dkey, sizeof(dkey));
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "key file %s: Argon2id could not get its %zu "
                           "bytes of memory",
                           path, p->memlimit);
    }
    if (crypto_secretbox_open_easy(secret, p->box, sizeof(p->box), p->nonce,
                                   dkey) != 0) {
        sodium_memzero(secret, KEYFILE_SECRET_SIZE);
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_PASSPHRASE,
                         "wrong passphrase for key file %s, or the file was "
                         "altered",
                         path);
    }
    sodium_memzero(dkey, sizeof(dkey));
    return rc;
}

int tdei_keyfile_load(const char *path, struct tdei_keyfile_key *key,
                      const char *passphrase, char *errmsg)
{
    struct keyfile_parsed p;
    uint8_t secret[KEYFILE_SECRET_SIZE];
    int rc;

    tdei_keyfile_key_wipe(key);
    errmsg[0] = '\0';
    rc = keyfile_load_parsed(path, &p, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (!p.encrypted) {
        memcpy(secret, p.secret, sizeof(secret));
    } else if (passphrase == NULL) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NEED_PASSPHRASE,
                         "key file %s is encrypted; give its passphrase "
                         "with --passphrase-file or TDEI_PASSPHRASE",
                         path);
    } else {
        rc = keyfile_decrypt(path, &p, passphrase, secret, errmsg);
    }
    if (rc == 0) {
        rc = keyfile_check_pair(path, &p, secret, errmsg);
    }
    if (rc == 0) {
        key->kind = p.kind;
        memcpy(key->secret, secret, sizeof(key->secret));
        memcpy(key->pubkey, p.pubkey, sizeof(key->pubkey));
    }
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(&p, sizeof(p));
    return rc;
}

int tdei_keyfile_inspect(const char *path, struct tdei_keyfile_info *info,
                         char *errmsg)
{
    struct keyfile_parsed p;
    int rc;

    memset(info, 0, sizeof(*info));
    errmsg[0] = '\0';
    rc = keyfile_load_parsed(path, &p, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (p.encrypted) {
        rc = keyfile_check_public(path, &p, errmsg);
    } else {
        rc = keyfile_check_pair(path, &p, p.secret, errmsg);
    }
    if (rc == 0) {
        info->kind = p.kind;
        memcpy(info->pubkey, p.pubkey, sizeof(info->pubkey));
        info->encrypted = p.encrypted;
    }
    sodium_memzero(&p, sizeof(p));
    return rc;
}

int tdei_keyfile_load_public(const char *path, enum tdei_key_kind *kind,
                             uint8_t pubkey[32], char *errmsg)
{
    struct tdei_keyfile_info info;
    int rc;

    rc = tdei_keyfile_inspect(path, &info, errmsg);
    *kind = info.kind;
    memcpy(pubkey, info.pubkey, sizeof(info.pubkey));
    return rc;
}

/* ---- saving ------------------------------------------------------------ */

/* Build the "encrypted" object for @key under @passphrase. */
static int keyfile_encrypt(const char *path, const struct tdei_keyfile_key *key,
                           const char *passphrase, json_t **out, char *errmsg)
{
    uint8_t salt[crypto_pwhash_argon2id_SALTBYTES];
    uint8_t nonce[crypto_secretbox_NONCEBYTES];
    uint8_t box[KEYFILE_BOX_SIZE];
    uint8_t dkey[crypto_secretbox_KEYBYTES];
    char salt_hex[TDEI_HEX_SIZE(sizeof(salt))];
    char nonce_hex[TDEI_HEX_SIZE(sizeof(nonce))];
    char box_hex[TDEI_HEX_SIZE(sizeof(box))];

    randombytes_buf(salt, sizeof(salt));
    randombytes_buf(nonce, sizeof(nonce));
    if (crypto_pwhash(dkey, sizeof(dkey), passphrase, strlen(passphrase), salt,
                      KEYFILE_OPS_SAVE, KEYFILE_MEM_SAVE,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_memzero(dkey, sizeof(dkey));
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "key file %s: Argon2id could not get its %u "
                           "bytes of memory",
                           path, (unsigned int)KEYFILE_MEM_SAVE);
    }
    (void)crypto_secretbox_easy(box, key->secret, sizeof(key->secret), nonce,
                                dkey);
    sodium_memzero(dkey, sizeof(dkey));
    *out = json_pack(
        "{s:s, s:I, s:I, s:s, s:s, s:s}", "kdf", KEYFILE_KDF, "opslimit",
        (json_int_t)KEYFILE_OPS_SAVE, "memlimit", (json_int_t)KEYFILE_MEM_SAVE,
        "salt", tdei_hex_encode(salt_hex, sizeof(salt_hex), salt, sizeof(salt)),
        "nonce",
        tdei_hex_encode(nonce_hex, sizeof(nonce_hex), nonce, sizeof(nonce)),
        "box", tdei_hex_encode(box_hex, sizeof(box_hex), box, sizeof(box)));
    if (*out == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "key file %s: out of memory", path);
    }
    return 0;
}

/* Serialize @key into @buf (TDEI_KEYFILE_SIZE_MAX bytes); length to
 * @len. */
static int keyfile_serialize(const char *path,
                             const struct tdei_keyfile_key *key,
                             const char *passphrase, char *buf, size_t *len,
                             char *errmsg)
{
    char pub_hex[TDEI_HEX_SIZE(32)];
    char secret_hex[TDEI_HEX_SIZE(32)];
    json_t *root;
    json_t *enc = NULL;
    size_t size;
    int rc;

    tdei_hex_encode(pub_hex, sizeof(pub_hex), key->pubkey, sizeof(key->pubkey));
    root = json_pack("{s:i, s:s, s:s}", "tdei_key", KEYFILE_VERSION, "kind",
                     tdei_key_kind_name(key->kind), "public", pub_hex);
    if (root == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "key file %s: out of memory", path);
    }
    if (passphrase != NULL) {
        rc = keyfile_encrypt(path, key, passphrase, &enc, errmsg);
        if (rc == 0 && json_object_set_new(root, "encrypted", enc) != 0) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                             "key file %s: out of memory", path);
        }
    } else {
        tdei_hex_encode(secret_hex, sizeof(secret_hex), key->secret,
                        sizeof(key->secret));
        rc = 0;
        if (json_object_set_new(root, "secret", json_string(secret_hex)) != 0) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                             "key file %s: out of memory", path);
        }
        sodium_memzero(secret_hex, sizeof(secret_hex));
    }
    if (rc == 0) {
        size = json_dumpb(root, buf, TDEI_KEYFILE_SIZE_MAX - 1,
                          JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        /* The largest file is about 400 bytes; 0 means out of memory. */
        if (size == 0 || size > TDEI_KEYFILE_SIZE_MAX - 1) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                             "key file %s: cannot serialize the key", path);
        } else {
            buf[size] = '\n';
            *len = size + 1;
        }
    }
    keyfile_json_wipe_secret(root);
    json_decref(root);
    return rc;
}

int tdei_keyfile_save(const char *path, const struct tdei_keyfile_key *key,
                      const char *passphrase, char *errmsg)
{
    char buf[TDEI_KEYFILE_SIZE_MAX];
    uint8_t derived[32];
    size_t len = 0;
    int fd;
    int err;
    int rc;

    TDEI_ASSERT(key->kind == TDEI_KEY_SECP256K1 ||
                key->kind == TDEI_KEY_X25519);
    TDEI_ASSERT(passphrase == NULL || passphrase[0] != '\0');
    errmsg[0] = '\0';
    if (keyfile_derive_public(key->kind, key->secret, derived) != 0 ||
        sodium_memcmp(derived, key->pubkey, sizeof(derived)) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADKEY,
                           "key for %s: the public key is not the one of "
                           "the secret; nothing was written",
                           path);
    }
    /* Everything that can fail without I/O happens before the file
     * exists, so that a failure leaves nothing behind. */
    rc = keyfile_serialize(path, key, passphrase, buf, &len, errmsg);
    if (rc != 0) {
        sodium_memzero(buf, sizeof(buf));
        return rc;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno;
        sodium_memzero(buf, sizeof(buf));
        if (err == EEXIST) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_EXISTS,
                               "key file %s already exists; it was left "
                               "alone: move it away or choose another path",
                               path);
        }
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot create key file %s: %s", path,
                           strerror(err));
    }
    /* The umask may only have narrowed 0600; make it exactly 0600. */
    err = fchmod(fd, 0600) != 0 ? errno : 0;
    if (err == 0) {
        err = tdei_write_all(fd, buf, len);
    }
    sodium_memzero(buf, sizeof(buf));
    if (err == 0 && fsync(fd) != 0) {
        err = errno;
    }
    if (close(fd) != 0 && err == 0) {
        err = errno;
    }
    if (err != 0) {
        (void)unlink(path);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot write key file %s: %s; nothing was left "
                           "behind",
                           path, strerror(err));
    }
    tdei_sync_parent_dir(path);
    return 0;
}
