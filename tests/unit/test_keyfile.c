/* Tests of key files: round trips, modes, truncation, tampering, hostile
 * parameters and refusals.
 *
 * Argon2id at the saving cost runs only in the encrypted round trip; the
 * other encrypted cases use files written here with the cheapest
 * parameters (1 pass, 8 KiB), which the loader accepts. */
#include "testutil.h"

#include "core/error.h"
#include "core/hex.h"
#include "core/keyfile.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PASSPHRASE "correct horse battery staple"

/* BIP-340 vector 1: a known secp256k1 pair. */
static const char known_secret[] =
    "b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef";
static const char known_public[] =
    "dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659";

static char tmpdir[2048];
static char errmsg[TDEI_ERRMSG_SIZE];

static void setup(void)
{
    testutil_leak_setup();
    (void)snprintf(tmpdir, sizeof(tmpdir), "%s", testutil_tmpdir());
    errmsg[0] = '\0';
}

static void teardown(void)
{
    testutil_rmtree(tmpdir);
    testutil_leak_teardown();
}

/* The path of @name in the test directory (static buffer per slot). */
static const char *tmp_path(const char *name)
{
    static char paths[4][4096];
    static int slot;
    char *out = paths[slot++ % 4];

    (void)snprintf(out, sizeof(paths[0]), "%s/%s", tmpdir, name);
    return out;
}

static void write_file(const char *path, const void *data, size_t len,
                       mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
}

/* Read the file at @path into @buf (@cap bytes, NUL-terminated). */
static size_t read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t len;

    ck_assert_ptr_nonnull(f);
    len = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[len] = '\0';
    return len;
}

static void write_text(const char *path, const char *text)
{
    write_file(path, text, strlen(text), 0600);
}

static void check_errmsg_names(const char *path)
{
    ck_assert_msg(strstr(errmsg, path) != NULL, "errmsg '%s' does not name %s",
                  errmsg, path);
}

static int is_zero(const void *p, size_t len) { return sodium_is_zero(p, len); }

/* Write an encrypted key file for the known pair with the cheapest
 * Argon2id cost; the file claims @ops and @mem. @flip_box flips a box
 * byte (-1: none); @public_hex replaces the public key (NULL: keep). */
static void write_encrypted(const char *path, long long ops, long long mem,
                            int flip_box, const char *public_hex)
{
    uint8_t secret[32];
    uint8_t salt[crypto_pwhash_argon2id_SALTBYTES];
    uint8_t nonce[crypto_secretbox_NONCEBYTES];
    uint8_t dkey[crypto_secretbox_KEYBYTES];
    uint8_t box[crypto_secretbox_MACBYTES + 32];
    char salt_hex[TDEI_HEX_SIZE(sizeof(salt))];
    char nonce_hex[TDEI_HEX_SIZE(sizeof(nonce))];
    char box_hex[TDEI_HEX_SIZE(sizeof(box))];
    char text[1024];

    testutil_unhex(secret, sizeof(secret), known_secret);
    randombytes_buf(salt, sizeof(salt));
    randombytes_buf(nonce, sizeof(nonce));
    ck_assert_int_eq(crypto_pwhash(dkey, sizeof(dkey), PASSPHRASE,
                                   strlen(PASSPHRASE), salt,
                                   crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                   crypto_pwhash_argon2id_MEMLIMIT_MIN,
                                   crypto_pwhash_ALG_ARGON2ID13),
                     0);
    ck_assert_int_eq(
        crypto_secretbox_easy(box, secret, sizeof(secret), nonce, dkey), 0);
    if (flip_box >= 0) {
        box[flip_box] ^= 0x01;
    }
    (void)snprintf(
        text, sizeof(text),
        "{\"tdei_key\": 1, \"kind\": \"secp256k1\", \"public\": \"%s\", "
        "\"encrypted\": {\"kdf\": \"argon2id13\", \"opslimit\": %lld, "
        "\"memlimit\": %lld, \"salt\": \"%s\", \"nonce\": \"%s\", "
        "\"box\": \"%s\"}}\n",
        public_hex != NULL ? public_hex : known_public, ops, mem,
        tdei_hex_encode(salt_hex, sizeof(salt_hex), salt, sizeof(salt)),
        tdei_hex_encode(nonce_hex, sizeof(nonce_hex), nonce, sizeof(nonce)),
        tdei_hex_encode(box_hex, sizeof(box_hex), box, sizeof(box)));
    write_text(path, text);
}

#define CHEAP_OPS 1LL
#define CHEAP_MEM 8192LL

/* ---- round trips ------------------------------------------------------ */

static void check_plain_round_trip(enum tdei_key_kind kind)
{
    const char *path = tmp_path("plain.key");
    struct tdei_keyfile_key key;
    struct tdei_keyfile_key loaded;
    struct tdei_keyfile_info info;
    enum tdei_key_kind pub_kind;
    uint8_t pubkey[32];
    struct stat st;

    ck_assert_int_eq(tdei_keyfile_key_generate(&key, kind), 0);
    ck_assert_int_eq(key.kind, kind);
    ck_assert_int_eq(tdei_keyfile_save(path, &key, NULL, errmsg), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(tdei_keyfile_load(path, &loaded, NULL, errmsg), 0);
    ck_assert_int_eq(loaded.kind, kind);
    ck_assert_mem_eq(loaded.secret, key.secret, 32);
    ck_assert_mem_eq(loaded.pubkey, key.pubkey, 32);
    /* A passphrase given for a clear file is not needed and harmless. */
    ck_assert_int_eq(tdei_keyfile_load(path, &loaded, "unused", errmsg), 0);
    ck_assert_int_eq(tdei_keyfile_load_public(path, &pub_kind, pubkey, errmsg),
                     0);
    ck_assert_int_eq(pub_kind, kind);
    ck_assert_mem_eq(pubkey, key.pubkey, 32);
    ck_assert_int_eq(tdei_keyfile_inspect(path, &info, errmsg), 0);
    ck_assert_int_eq(info.encrypted, 0);
    tdei_keyfile_key_wipe(&key);
    tdei_keyfile_key_wipe(&loaded);
    ck_assert(is_zero(&key, sizeof(key)));
}

START_TEST(test_plain_round_trip_secp256k1)
{
    check_plain_round_trip(TDEI_KEY_SECP256K1);
}
END_TEST

START_TEST(test_plain_round_trip_x25519)
{
    check_plain_round_trip(TDEI_KEY_X25519);
}
END_TEST

START_TEST(test_plain_file_layout)
{
    const char *path = tmp_path("layout.key");
    struct tdei_keyfile_key key;
    char text[TDEI_KEYFILE_SIZE_MAX + 1];
    char secret_hex[65];
    char public_hex[65];

    ck_assert_int_eq(tdei_keyfile_key_generate(&key, TDEI_KEY_SECP256K1), 0);
    ck_assert_int_eq(tdei_keyfile_save(path, &key, NULL, errmsg), 0);
    read_file(path, text, sizeof(text));
    tdei_hex_encode(secret_hex, sizeof(secret_hex), key.secret, 32);
    tdei_hex_encode(public_hex, sizeof(public_hex), key.pubkey, 32);
    ck_assert_ptr_nonnull(strstr(text, "\"tdei_key\": 1"));
    ck_assert_ptr_nonnull(strstr(text, "\"kind\": \"secp256k1\""));
    ck_assert_ptr_nonnull(strstr(text, public_hex));
    ck_assert_ptr_nonnull(strstr(text, secret_hex));
    ck_assert_ptr_null(strstr(text, "encrypted"));
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    tdei_keyfile_key_wipe(&key);
}
END_TEST

START_TEST(test_encrypted_round_trip)
{
    const char *path = tmp_path("enc.key");
    struct tdei_keyfile_key key;
    struct tdei_keyfile_key loaded;
    struct tdei_keyfile_info info;
    char text[TDEI_KEYFILE_SIZE_MAX + 1];
    char secret_hex[65];
    struct stat st;

    ck_assert_int_eq(tdei_keyfile_key_generate(&key, TDEI_KEY_SECP256K1), 0);
    ck_assert_int_eq(tdei_keyfile_save(path, &key, PASSPHRASE, errmsg), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    /* The secret is not in the file; the saving cost is "interactive". */
    read_file(path, text, sizeof(text));
    tdei_hex_encode(secret_hex, sizeof(secret_hex), key.secret, 32);
    ck_assert_ptr_null(strstr(text, secret_hex));
    ck_assert_ptr_null(strstr(text, "\"secret\""));
    ck_assert_ptr_nonnull(strstr(text, "\"kdf\": \"argon2id13\""));
    ck_assert_ptr_nonnull(strstr(text, "\"opslimit\": 2,"));
    ck_assert_ptr_nonnull(strstr(text, "\"memlimit\": 67108864,"));
    ck_assert_int_eq(tdei_keyfile_inspect(path, &info, errmsg), 0);
    ck_assert_int_eq(info.encrypted, 1);
    ck_assert_int_eq(info.kind, TDEI_KEY_SECP256K1);
    ck_assert_mem_eq(info.pubkey, key.pubkey, 32);
    ck_assert_int_eq(tdei_keyfile_load(path, &loaded, PASSPHRASE, errmsg), 0);
    ck_assert_int_eq(loaded.kind, TDEI_KEY_SECP256K1);
    ck_assert_mem_eq(loaded.secret, key.secret, 32);
    ck_assert_mem_eq(loaded.pubkey, key.pubkey, 32);
    tdei_keyfile_key_wipe(&key);
    tdei_keyfile_key_wipe(&loaded);
}
END_TEST

START_TEST(test_encrypted_cheap_file_loads)
{
    const char *path = tmp_path("cheap.key");
    struct tdei_keyfile_key key;
    uint8_t secret[32];

    write_encrypted(path, CHEAP_OPS, CHEAP_MEM, -1, NULL);
    testutil_unhex(secret, sizeof(secret), known_secret);
    ck_assert_int_eq(tdei_keyfile_load(path, &key, PASSPHRASE, errmsg), 0);
    ck_assert_mem_eq(key.secret, secret, 32);
    tdei_keyfile_key_wipe(&key);
}
END_TEST

/* ---- passphrases ------------------------------------------------------ */

START_TEST(test_wrong_passphrase_refused)
{
    const char *path = tmp_path("cheap.key");
    struct tdei_keyfile_key key;

    write_encrypted(path, CHEAP_OPS, CHEAP_MEM, -1, NULL);
    memset(&key, 0xa5, sizeof(key));
    ck_assert_int_eq(tdei_keyfile_load(path, &key, "correct horse", errmsg),
                     TDEI_PASSPHRASE);
    ck_assert(is_zero(&key, sizeof(key)));
    check_errmsg_names(path);
    ck_assert_ptr_nonnull(strstr(errmsg, "passphrase"));
}
END_TEST

START_TEST(test_encrypted_without_passphrase_refused)
{
    const char *path = tmp_path("cheap.key");
    struct tdei_keyfile_key key;
    enum tdei_key_kind kind;
    uint8_t pubkey[32];
    uint8_t expected[32];

    write_encrypted(path, CHEAP_OPS, CHEAP_MEM, -1, NULL);
    ck_assert_int_eq(tdei_keyfile_load(path, &key, NULL, errmsg),
                     TDEI_NEED_PASSPHRASE);
    check_errmsg_names(path);
    ck_assert(is_zero(&key, sizeof(key)));
    /* The public half needs no passphrase. */
    ck_assert_int_eq(tdei_keyfile_load_public(path, &kind, pubkey, errmsg), 0);
    testutil_unhex(expected, sizeof(expected), known_public);
    ck_assert_int_eq(kind, TDEI_KEY_SECP256K1);
    ck_assert_mem_eq(pubkey, expected, 32);
}
END_TEST

START_TEST(test_every_altered_box_byte_refused)
{
    const char *path = tmp_path("cheap.key");
    struct tdei_keyfile_key key;

    for (int i = 0; i < (int)(crypto_secretbox_MACBYTES + 32); i++) {
        (void)unlink(path);
        write_encrypted(path, CHEAP_OPS, CHEAP_MEM, i, NULL);
        ck_assert_msg(tdei_keyfile_load(path, &key, PASSPHRASE, errmsg) ==
                          TDEI_PASSPHRASE,
                      "altered box byte %d accepted", i);
        ck_assert(is_zero(&key, sizeof(key)));
    }
}
END_TEST

/* ---- tampering and hostile files -------------------------------------- */

START_TEST(test_altered_public_refused)
{
    const char *path = tmp_path("plain.key");
    const char *enc_path = tmp_path("cheap.key");
    struct tdei_keyfile_key key;
    enum tdei_key_kind kind;
    uint8_t pubkey[32];
    char text[512];
    /* The public key of BIP-340 vector 0 (secret 3): valid, not ours. */
    const char *other =
        "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9";

    (void)snprintf(text, sizeof(text),
                   "{\"tdei_key\": 1, \"kind\": \"secp256k1\", "
                   "\"public\": \"%s\", \"secret\": \"%s\"}",
                   other, known_secret);
    write_text(path, text);
    ck_assert_int_eq(tdei_keyfile_load(path, &key, NULL, errmsg),
                     TDEI_KEYFILE_FORMAT);
    ck_assert_ptr_nonnull(strstr(errmsg, "does not match"));
    check_errmsg_names(path);
    ck_assert_int_eq(tdei_keyfile_load_public(path, &kind, pubkey, errmsg),
                     TDEI_KEYFILE_FORMAT);
    ck_assert(is_zero(pubkey, sizeof(pubkey)));
    /* Encrypted: found once the secret is decrypted. */
    write_encrypted(enc_path, CHEAP_OPS, CHEAP_MEM, -1, other);
    ck_assert_int_eq(tdei_keyfile_load(enc_path, &key, PASSPHRASE, errmsg),
                     TDEI_KEYFILE_FORMAT);
    ck_assert_ptr_nonnull(strstr(errmsg, "does not match"));
    ck_assert(is_zero(&key, sizeof(key)));
}
END_TEST

START_TEST(test_absurd_kdf_parameters_refused)
{
    static const long long bad[][2] = {
        {CHEAP_OPS, 107374182400LL},   /* 100 GiB */
        {CHEAP_OPS, 1073741824LL + 1}, /* just above 1 GiB */
        {CHEAP_OPS, 8191},             /* below the minimum */
        {CHEAP_OPS, -1},
        {0, CHEAP_MEM},
        {5, CHEAP_MEM},
        {4294967296LL, CHEAP_MEM},
        {-1, CHEAP_MEM},
    };
    const char *path = tmp_path("cheap.key");
    struct tdei_keyfile_key key;
    enum tdei_key_kind kind;
    uint8_t pubkey[32];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        (void)unlink(path);
        write_encrypted(path, bad[i][0], bad[i][1], -1, NULL);
        ck_assert_msg(tdei_keyfile_load(path, &key, PASSPHRASE, errmsg) ==
                          TDEI_KEYFILE_FORMAT,
                      "opslimit %lld memlimit %lld accepted", bad[i][0],
                      bad[i][1]);
        check_errmsg_names(path);
        ck_assert_msg(strstr(errmsg, "outside") != NULL, "errmsg: %s", errmsg);
        ck_assert_int_eq(tdei_keyfile_load_public(path, &kind, pubkey, errmsg),
                         TDEI_KEYFILE_FORMAT);
    }
}
END_TEST

START_TEST(test_mode_readable_by_others_refused)
{
    static const mode_t bad_modes[] = {0644, 0640, 0604, 0660,
                                       0601, 0610, 0666};
    const char *path = tmp_path("plain.key");
    struct tdei_keyfile_key key;
    enum tdei_key_kind kind;
    uint8_t pubkey[32];

    ck_assert_int_eq(tdei_keyfile_key_generate(&key, TDEI_KEY_SECP256K1), 0);
    ck_assert_int_eq(tdei_keyfile_save(path, &key, NULL, errmsg), 0);
    for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
        ck_assert_int_eq(chmod(path, bad_modes[i]), 0);
        ck_assert_int_eq(tdei_keyfile_load(path, &key, NULL, errmsg),
                         TDEI_KEYFILE_MODE);
        ck_assert(is_zero(&key, sizeof(key)));
        check_errmsg_names(path);
        ck_assert_ptr_nonnull(strstr(errmsg, "chmod 600"));
        ck_assert_int_eq(tdei_keyfile_load_public(path, &kind, pubkey, errmsg),
                         TDEI_KEYFILE_MODE);
    }
    ck_assert_int_eq(chmod(path, 0644), 0);
    ck_assert_int_eq(tdei_keyfile_load(path, &key, NULL, errmsg),
                     TDEI_KEYFILE_MODE);
    ck_assert_ptr_nonnull(strstr(errmsg, "mode 0644"));
    /* Owner-only modes are fine. */
    ck_assert_int_eq(chmod(path, 0400), 0);
    ck_assert_int_eq(tdei_keyfile_load(path, &key, NULL, errmsg), 0);
    tdei_keyfile_key_wipe(&key);
}
END_TEST

START_TEST(test_every_truncation_refused)
{
    const char *path = tmp_path("full.key");
    const char *cut = tmp_path("cut.key");
    struct tdei_keyfile_key key;
    char text[TDEI_KEYFILE_SIZE_MAX + 1];
    size_t len;

    ck_assert_int_eq(tdei_keyfile_key_generate(&key, TDEI_KEY_SECP256K1), 0);
    ck_assert_int_eq(tdei_keyfile_save(path, &key, NULL, errmsg), 0);
    len = read_file(path, text, sizeof(text));
    ck_assert_uint_gt(len, 100);
    ck_assert_int_eq(text[len - 1], '\n');
    /* Every cut into the JSON is refused as a damaged file... */
    for (size_t n = 0; n < len - 1; n++) {
        (void)unlink(cut);
        write_file(cut, text, n, 0600);
        errmsg[0] = '\0';
        ck_assert_msg(tdei_keyfile_load(cut, &key, NULL, errmsg) ==
                          TDEI_KEYFILE_FORMAT,
                      "prefix of %zu bytes not refused as damaged", n);
        ck_assert(is_zero(&key, sizeof(key)));
        check_errmsg_names(cut);
    }
    /* ...and one that only loses the final newline is still the key. */
    (void)unlink(cut);
    write_file(cut, text, len - 1, 0600);
    ck_assert_int_eq(tdei_keyfile_load(cut, &key, NULL, errmsg), 0);
    tdei_keyfile_key_wipe(&key);
}
END_TEST

START_TEST(test_truncated_message_is_clear)
{
    const char *path = tmp_path("cut.key");
    struct tdei_keyfile_key key;

    write_text(path, "{\"tdei_key\": 1, \"kind\": \"secp256k1\", \"pub");
    ck_assert_int_eq(tdei_keyfile_load(path, &key, NULL, errmsg),
                     TDEI_KEYFILE_FORMAT);
    ck_assert_ptr_nonnull(strstr(errmsg, "truncated"));
    check_errmsg_names(path);
    write_text(path, "");
    ck_assert_int_eq(tdei_keyfile_load(path, &key, NULL, errmsg),
                     TDEI_KEYFILE_FORMAT);
    ck_assert_ptr_nonnull(strstr(errmsg, "empty"));
}
END_TEST

START_TEST(test_error_never_quotes_the_secret)
{
    const char *path = tmp_path("bad.key");
    struct tdei_keyfile_key key;
    char text[512];

    /* A control character early in the secret string: jansson's message
     * quotes the token read so far (up to 20 bytes), part of the secret. */
    (void)snprintf(text, sizeof(text),
                   "{\"tdei_key\": 1, \"kind\": \"secp256k1\", "
                   "\"public\": \"%s\", \"secret\": \"%.12s\t%s\"}",
                   known_public, known_secret, known_secret + 12);
    write_text(path, text);
    ck_assert_int_eq(tdei_keyfile_load(path, &key, NULL, errmsg),
                     TDEI_KEYFILE_FORMAT);
    ck_assert_ptr_null(strstr(errmsg, "b7e15162"));
    check_errmsg_names(path);
}
END_TEST

START_TEST(test_malformed_contents_refused)
{
    static const char *const bad[] = {
        "[]",
        "null",
        "{}",
        "{\"tdei_key\": 1}",
        "{\"tdei_key\": \"1\", \"kind\": \"secp256k1\", \"public\": \"%s\", "
        "\"secret\": \"%s\"}",
        "{\"tdei_key\": 1.0, \"kind\": \"secp256k1\", \"public\": \"%s\", "
        "\"secret\": \"%s\"}",
        "{\"tdei_key\": 1, \"kind\": \"ed25519\", \"public\": \"%s\", "
        "\"secret\": \"%s\"}",
        "{\"tdei_key\": 1, \"kind\": \"x25519\", \"public\": \"%s\", "
        "\"secret\": \"%s\"}",
        "{\"tdei_key\": 1, \"kind\": \"secp256k1\", \"public\": \"%.62s\", "
        "\"secret\": \"%s\"}",
        "{\"tdei_key\": 1, \"kind\": \"secp256k1\", \"public\": \"%s\", "
        "\"secret\": \"%.63s\"}",
        "{\"tdei_key\": 1, \"kind\": \"secp256k1\", \"public\": \"%s\", "
        "\"secret\": \"%sxx\"}",
        "{\"tdei_key\": 1, \"kind\": \"secp256k1\", \"public\": \"%s\", "
        "\"secret\": \"%s\", \"comment\": \"x\"}",
        "{\"tdei_key\": 1, \"kind\": \"secp256k1\", \"public\": \"%s\", "
        "\"secret\": \"%s\", \"kind\": \"secp256k1\"}",
        "{\"tdei_key\": 1, \"kind\": \"secp256k1\", \"public\": \"%s\", "
        "\"secret\": \"%s\"} {}",
        "{\"tdei_key\": 1, \"kind\": \"secp256k1\", \"public\": \"%s\", "
        "\"secret\": \"%s\", \"encrypted\": {}}",
        "{\"tdei_key\": 1, \"kind\": \"secp256k1\", \"public\": \"%s\"}",
        "{\"tdei_key\": 1, \"kind\": \"secp256k1\", \"public\": \"%s\", "
        "\"secret\": 7}",
        "{\"tdei_key\": 1, \"kind\": \"secp256k1\", \"public\": \"%s\", "
        "\"encrypted\": \"x\"}",
        "{\"tdei_key\": 1, \"kind\": \"secp256k1\", \"public\": \"%s\", "
        "\"encrypted\": {\"kdf\": \"scrypt\"}}",
    };
    const char *path = tmp_path("bad.key");
    struct tdei_keyfile_key key;
    char text[1024];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
        (void)snprintf(text, sizeof(text), bad[i], known_public, known_secret);
#pragma GCC diagnostic pop
        (void)unlink(path);
        write_text(path, text);
        ck_assert_msg(
            tdei_keyfile_load(path, &key, NULL, errmsg) == TDEI_KEYFILE_FORMAT,
            "case %zu accepted or misclassified: %s (%s)", i, text, errmsg);
        ck_assert(is_zero(&key, sizeof(key)));
        check_errmsg_names(path);
    }
}
END_TEST

START_TEST(test_unknown_version_refused)
{
    const char *path = tmp_path("v2.key");
    struct tdei_keyfile_key key;
    char text[512];

    (void)snprintf(text, sizeof(text),
                   "{\"tdei_key\": 2, \"kind\": \"secp256k1\", "
                   "\"public\": \"%s\", \"secret\": \"%s\", "
                   "\"future\": true}",
                   known_public, known_secret);
    write_text(path, text);
    ck_assert_int_eq(tdei_keyfile_load(path, &key, NULL, errmsg), TDEI_VERSION);
    check_errmsg_names(path);
    ck_assert_ptr_nonnull(strstr(errmsg, "version 2"));
}
END_TEST

START_TEST(test_hand_written_plain_file_loads)
{
    const char *path = tmp_path("hand.key");
    struct tdei_keyfile_key key;
    uint8_t secret[32];
    uint8_t pubkey[32];
    char text[512];

    /* Upper-case hex and any JSON layout are fine. */
    (void)snprintf(text, sizeof(text),
                   "{\"secret\":\"%s\",\"public\":\"%s\",\"kind\":"
                   "\"secp256k1\",\"tdei_key\":1}",
                   "B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D904"
                   "5190CFEF",
                   known_public);
    write_text(path, text);
    ck_assert_int_eq(tdei_keyfile_load(path, &key, NULL, errmsg), 0);
    testutil_unhex(secret, sizeof(secret), known_secret);
    testutil_unhex(pubkey, sizeof(pubkey), known_public);
    ck_assert_mem_eq(key.secret, secret, 32);
    ck_assert_mem_eq(key.pubkey, pubkey, 32);
    tdei_keyfile_key_wipe(&key);
}
END_TEST

/* ---- the file itself -------------------------------------------------- */

START_TEST(test_existing_file_left_alone)
{
    const char *path = tmp_path("taken.key");
    const char *target = tmp_path("target");
    const char *link = tmp_path("link.key");
    struct tdei_keyfile_key key;
    char text[64];
    struct stat st;

    write_file(path, "precious", 8, 0640);
    ck_assert_int_eq(tdei_keyfile_key_generate(&key, TDEI_KEY_SECP256K1), 0);
    ck_assert_int_eq(tdei_keyfile_save(path, &key, NULL, errmsg), TDEI_EXISTS);
    check_errmsg_names(path);
    read_file(path, text, sizeof(text));
    ck_assert_str_eq(text, "precious");
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0640);
    /* A symbolic link, even a dangling one, is not followed. */
    ck_assert_int_eq(symlink(target, link), 0);
    ck_assert_int_eq(tdei_keyfile_save(link, &key, NULL, errmsg), TDEI_EXISTS);
    ck_assert_int_eq(lstat(target, &st), -1);
    tdei_keyfile_key_wipe(&key);
}
END_TEST

START_TEST(test_save_failure_leaves_nothing)
{
    const char *path = tmp_path("no/such/dir.key");
    struct tdei_keyfile_key key;

    ck_assert_int_eq(tdei_keyfile_key_generate(&key, TDEI_KEY_X25519), 0);
    ck_assert_int_eq(tdei_keyfile_save(path, &key, NULL, errmsg), TDEI_IOERR);
    check_errmsg_names(path);
    tdei_keyfile_key_wipe(&key);
}
END_TEST

START_TEST(test_save_mismatched_key_refused)
{
    const char *path = tmp_path("mismatch.key");
    struct tdei_keyfile_key key;
    struct stat st;

    ck_assert_int_eq(tdei_keyfile_key_generate(&key, TDEI_KEY_SECP256K1), 0);
    key.pubkey[0] ^= 1;
    ck_assert_int_eq(tdei_keyfile_save(path, &key, NULL, errmsg), TDEI_BADKEY);
    ck_assert_int_eq(lstat(path, &st), -1);
    /* A secp256k1 secret filed as X25519 does not match either. */
    key.pubkey[0] ^= 1;
    key.kind = TDEI_KEY_X25519;
    ck_assert_int_eq(tdei_keyfile_save(path, &key, NULL, errmsg), TDEI_BADKEY);
    ck_assert_int_eq(lstat(path, &st), -1);
    tdei_keyfile_key_wipe(&key);
}
END_TEST

START_TEST(test_missing_file_not_found)
{
    const char *path = tmp_path("absent.key");
    struct tdei_keyfile_key key;
    enum tdei_key_kind kind;
    uint8_t pubkey[32];

    ck_assert_int_eq(tdei_keyfile_load(path, &key, NULL, errmsg),
                     TDEI_NOTFOUND);
    check_errmsg_names(path);
    ck_assert_int_eq(tdei_keyfile_load_public(path, &kind, pubkey, errmsg),
                     TDEI_NOTFOUND);
}
END_TEST

START_TEST(test_special_files_refused)
{
    const char *path = tmp_path("real.key");
    const char *link = tmp_path("link.key");
    const char *dir = tmp_path("dir.key");
    const char *fifo = tmp_path("fifo.key");
    struct tdei_keyfile_key key;

    ck_assert_int_eq(tdei_keyfile_key_generate(&key, TDEI_KEY_SECP256K1), 0);
    ck_assert_int_eq(tdei_keyfile_save(path, &key, NULL, errmsg), 0);
    ck_assert_int_eq(symlink(path, link), 0);
    ck_assert_int_eq(tdei_keyfile_load(link, &key, NULL, errmsg), TDEI_IOERR);
    check_errmsg_names(link);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(tdei_keyfile_load(dir, &key, NULL, errmsg), TDEI_IOERR);
    ck_assert_ptr_nonnull(strstr(errmsg, "not a regular file"));
    /* A FIFO must not block the reader. */
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(tdei_keyfile_load(fifo, &key, NULL, errmsg), TDEI_IOERR);
    ck_assert(is_zero(&key, sizeof(key)));
}
END_TEST

START_TEST(test_oversize_file_refused)
{
    const char *path = tmp_path("big.key");
    struct tdei_keyfile_key key;
    char text[TDEI_KEYFILE_SIZE_MAX + 1];
    char body[512];
    size_t len;

    /* A valid key padded with whitespace: refused on size alone. */
    len = (size_t)snprintf(body, sizeof(body),
                           "{\"tdei_key\": 1, \"kind\": \"secp256k1\", "
                           "\"public\": \"%s\", \"secret\": \"%s\"}",
                           known_public, known_secret);
    memset(text, ' ', sizeof(text));
    memcpy(text, body, len);
    write_file(path, text, TDEI_KEYFILE_SIZE_MAX, 0600);
    ck_assert_int_eq(tdei_keyfile_load(path, &key, NULL, errmsg), 0);
    (void)unlink(path);
    write_file(path, text, TDEI_KEYFILE_SIZE_MAX + 1, 0600);
    ck_assert_int_eq(tdei_keyfile_load(path, &key, NULL, errmsg),
                     TDEI_KEYFILE_FORMAT);
    check_errmsg_names(path);
}
END_TEST

START_TEST(test_kind_names)
{
    ck_assert_str_eq(tdei_key_kind_name(TDEI_KEY_SECP256K1), "secp256k1");
    ck_assert_str_eq(tdei_key_kind_name(TDEI_KEY_X25519), "x25519");
}
END_TEST

static TCase *keyfile_tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    return tc;
}

static Suite *keyfile_suite(void)
{
    Suite *suite = suite_create("keyfile");
    TCase *tc;

    tc = keyfile_tcase("round_trip");
    tcase_add_test(tc, test_plain_round_trip_secp256k1);
    tcase_add_test(tc, test_plain_round_trip_x25519);
    tcase_add_test(tc, test_plain_file_layout);
    tcase_add_test(tc, test_encrypted_round_trip);
    tcase_add_test(tc, test_encrypted_cheap_file_loads);
    tcase_add_test(tc, test_hand_written_plain_file_loads);
    tcase_add_test(tc, test_kind_names);
    suite_add_tcase(suite, tc);

    tc = keyfile_tcase("passphrase");
    tcase_add_test(tc, test_wrong_passphrase_refused);
    tcase_add_test(tc, test_encrypted_without_passphrase_refused);
    tcase_add_test(tc, test_every_altered_box_byte_refused);
    suite_add_tcase(suite, tc);

    tc = keyfile_tcase("damaged");
    tcase_add_test(tc, test_altered_public_refused);
    tcase_add_test(tc, test_absurd_kdf_parameters_refused);
    tcase_add_test(tc, test_every_truncation_refused);
    tcase_add_test(tc, test_truncated_message_is_clear);
    tcase_add_test(tc, test_error_never_quotes_the_secret);
    tcase_add_test(tc, test_malformed_contents_refused);
    tcase_add_test(tc, test_unknown_version_refused);
    suite_add_tcase(suite, tc);

    tc = keyfile_tcase("file");
    tcase_add_test(tc, test_mode_readable_by_others_refused);
    tcase_add_test(tc, test_existing_file_left_alone);
    tcase_add_test(tc, test_save_failure_leaves_nothing);
    tcase_add_test(tc, test_save_mismatched_key_refused);
    tcase_add_test(tc, test_missing_file_not_found);
    tcase_add_test(tc, test_special_files_refused);
    tcase_add_test(tc, test_oversize_file_refused);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) { return testutil_run(keyfile_suite()); }
