/* Node home directories (see home.h). */
#include "home.h"

#include "core/assert.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const key_files[HOME_KEY_COUNT] = {
    [HOME_KEY_NODE] = "keys/node.key",
    [HOME_KEY_OPERATOR] = "keys/operator.key",
    [HOME_KEY_ENCRYPTION] = "keys/encryption.key",
};

static const enum tdei_key_kind key_kinds[HOME_KEY_COUNT] = {
    [HOME_KEY_NODE] = TDEI_KEY_SECP256K1,
    [HOME_KEY_OPERATOR] = TDEI_KEY_SECP256K1,
    [HOME_KEY_ENCRYPTION] = TDEI_KEY_X25519,
};

int home_path(char *out, const char *dir, const char *file)
{
    int n = snprintf(out, HOME_PATH_MAX, "%s/%s", dir, file);

    if (n < 0 || n >= HOME_PATH_MAX) {
        out[0] = '\0';
        return TDEI_TOOBIG;
    }
    return 0;
}

int home_key_path(char *out, const char *dir, enum home_key which)
{
    TDEI_ASSERT((unsigned)which < HOME_KEY_COUNT);
    return home_path(out, dir, key_files[which]);
}

/* mkdir @path with mode 0700 unless it exists as a directory. */
static int home_mkdir(const char *path, char *errmsg)
{
    struct stat st;

    if (mkdir(path, 0700) == 0) {
        return 0;
    }
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        return 0;
    }
    return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                       "cannot create directory %s: %s", path,
                       strerror(errno));
}

/* mkdir -p @dir: create each missing directory of the path, mode 0700. */
static int home_mkdir_parents(const char *dir, char *errmsg)
{
    char path[HOME_PATH_MAX];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "home path must be 1-%d bytes", HOME_PATH_MAX - 1);
    }
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i < len; i++) {
        if (path[i] != '/') {
            continue;
        }
        path[i] = '\0';
        if (home_mkdir(path, errmsg) != 0) {
            return TDEI_IOERR;
        }
        path[i] = '/';
    }
    return home_mkdir(path, errmsg);
}

/* Refuse to create over anything that is already there. */
static int home_check_empty(const char *dir, char *errmsg)
{
    char path[HOME_PATH_MAX];
    const char *files[HOME_KEY_COUNT + 1] = {"config.ini"};

    for (size_t i = 0; i < HOME_KEY_COUNT; i++) {
        files[i + 1] = key_files[i];
    }
    for (size_t i = 0; i < HOME_KEY_COUNT + 1; i++) {
        if (home_path(path, dir, files[i]) != 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                               "home path %.64s... is too long", dir);
        }
        if (access(path, F_OK) == 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_EXISTS,
                               "%s already exists; %s holds a node home "
                               "(use another --home or remove it)",
                               path, dir);
        }
    }
    return 0;
}

/* Write config.ini through a temporary file and a rename, so that a
 * config.ini is either complete or absent. */
static int home_write_config(const char *dir, const struct tdei_config *cfg,
                             char *errmsg)
{
    char path[HOME_PATH_MAX];
    char tmp[HOME_PATH_MAX];
    FILE *f;
    int fd;
    int rc;

    if (home_path(path, dir, "config.ini") != 0 ||
        home_path(tmp, dir, "config.ini.tmp") != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "home path is too long");
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot create %s: %s", tmp, strerror(errno));
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        unlink(tmp);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot write %s: %s", tmp, strerror(errno));
    }
    rc = config_write(cfg, f);
    if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0)) {
        rc = TDEI_IOERR;
    }
    if (fclose(f) != 0) {
        rc = TDEI_IOERR;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = TDEI_IOERR;
    }
    if (rc != 0) {
        unlink(tmp);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot write %s: %s", path, strerror(errno));
    }
    return 0;
}

/* Remove the key files this call created (@created of them). */
static void home_undo_keys(const char *dir, size_t created)
{
    char path[HOME_PATH_MAX];

    for (size_t i = 0; i < created; i++) {
        if (home_path(path, dir, key_files[i]) == 0) {
            (void)unlink(path);
        }
    }
}

static void home_identity_set(struct home_identity *id, enum home_key which,
                              const uint8_t pubkey[32])
{
    switch (which) {
    case HOME_KEY_NODE:
        memcpy(id->node_key, pubkey, TDEI_PUBKEY_SIZE);
        break;
    case HOME_KEY_OPERATOR:
        memcpy(id->operator_key, pubkey, TDEI_PUBKEY_SIZE);
        break;
    case HOME_KEY_ENCRYPTION:
        memcpy(id->encryption_key, pubkey, TDEI_X25519_SIZE);
        break;
    }
}

int home_create(const char *dir, const char *member, enum tdei_role role,
                const char *passphrase, struct home_identity *id,
                char *errmsg)
{
    struct tdei_config cfg;
    struct tdei_keyfile_key key;
    char path[HOME_PATH_MAX];
    size_t created = 0;
    int rc;

    memset(id, 0, sizeof(*id));
    if (tdei_member_id_check(member) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "member id '%.40s' is not 3-32 bytes of "
                           "[a-z0-9-]",
                           member);
    }
    if (tdei_role_name(role) == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "role %d is not one of %s", (int)role,
                           TDEI_ROLE_NAMES);
    }
    rc = home_check_empty(dir, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (home_mkdir_parents(dir, errmsg) != 0 ||
        home_path(path, dir, "keys") != 0 || home_mkdir(path, errmsg) != 0 ||
        home_path(path, dir, "data") != 0 || home_mkdir(path, errmsg) != 0) {
        return TDEI_IOERR;
    }
    for (; created < HOME_KEY_COUNT; created++) {
        enum home_key which = (enum home_key)created;
        rc = tdei_keyfile_key_generate(&key, key_kinds[which]);
        if (rc == 0) {
            (void)home_key_path(path, dir, which);
            rc = tdei_keyfile_save(path, &key, passphrase, errmsg);
        }
        if (rc != 0) {
            tdei_keyfile_key_wipe(&key);
            goto err_after_keys;
        }
        home_identity_set(id, which, key.pubkey);
        tdei_keyfile_key_wipe(&key);
    }
    config_defaults(&cfg);
    memcpy(cfg.member, member, strlen(member) + 1);
    cfg.role = role;
    rc = home_write_config(dir, &cfg, errmsg);
    if (rc != 0) {
        goto err_after_keys;
    }
    memcpy(id->member, member, strlen(member) + 1);
    id->role = role;
    return 0;

err_after_keys:
    home_undo_keys(dir, created);
    memset(id, 0, sizeof(*id));
    return rc;
}

int home_identity_load(const char *dir, struct home_identity *id,
                       char *errmsg)
{
    struct tdei_config cfg;
    char path[HOME_PATH_MAX];
    uint8_t pubkey[32];
    enum tdei_key_kind kind;
    int rc;

    memset(id, 0, sizeof(*id));
    if (home_path(path, dir, "config.ini") != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "home path is too long");
    }
    rc = config_load(&cfg, path, errmsg);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < HOME_KEY_COUNT; i++) {
        enum home_key which = (enum home_key)i;
        (void)home_key_path(path, dir, which);
        rc = tdei_keyfile_load_public(path, &kind, pubkey, errmsg);
        if (rc != 0) {
            memset(id, 0, sizeof(*id));
            return rc;
        }
        if (kind != key_kinds[which]) {
            memset(id, 0, sizeof(*id));
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADKEY,
                               "%s holds a %s key; it must be a %s key",
                               path, tdei_key_kind_name(kind),
                               tdei_key_kind_name(key_kinds[which]));
        }
        home_identity_set(id, which, pubkey);
    }
    memcpy(id->member, cfg.member, sizeof(id->member));
    id->role = cfg.role;
    return 0;
}
