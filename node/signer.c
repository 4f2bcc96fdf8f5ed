/* The double-sign guard's record on disk (see signer.h). */
#include "signer.h"

#include "core/assert.h"
#include "core/error.h"
#include "core/hash.h"

#include <inttypes.h>
#include <string.h>

#define ERRSZ TDEI_ERRMSG_SIZE

_Static_assert(CONS_SIGN_BYTES_MAX <= UINT16_MAX, "len fits its u16");
_Static_assert(SIGNER_CHECKSUM_SIZE == TDEI_HASH_SIZE, "checksum: SHA-256");

static void rec_assert(const struct cons_signed *rec)
{
    TDEI_ASSERT(rec->step >= CONS_STEP_PROPOSE &&
                rec->step <= CONS_STEP_PRECOMMIT);
    TDEI_ASSERT(rec->len >= 1 && rec->len <= CONS_SIGN_BYTES_MAX);
}

size_t signer_record_encode(uint8_t out[SIGNER_RECORD_SIZE_MAX],
                            const struct cons_signed *rec)
{
    size_t at;

    rec_assert(rec);
    out[0] = SIGNER_FORMAT_VERSION;
    store_u64_encode(out + 1, rec->height);
    store_u32_encode(out + 9, rec->round);
    out[13] = (uint8_t)rec->step;
    out[14] = (uint8_t)(rec->len >> 8);
    out[15] = (uint8_t)rec->len;
    memcpy(out + 16, rec->bytes, rec->len);
    at = 16 + rec->len;
    memcpy(out + at, rec->sig, CONS_SIG_SIZE);
    at += CONS_SIG_SIZE;
    out[at++] = rec->id.nil ? 1u : 0u;
    memcpy(out + at, rec->id.bytes, CONS_ID_SIZE);
    at += CONS_ID_SIZE;
    store_u32_encode(out + at, (uint32_t)rec->pol_round);
    at += 4;
    tdei_sha256(out + at, out, at);
    at += SIGNER_CHECKSUM_SIZE;
    TDEI_ASSERT(at == SIGNER_RECORD_OVERHEAD + rec->len);
    return at;
}

int signer_record_decode(struct cons_signed *out, const uint8_t *buf,
                         size_t len, char *errmsg)
{
    uint8_t sum[TDEI_HASH_SIZE];
    size_t n;

    memset(out, 0, sizeof(*out));
    if (len < SIGNER_RECORD_OVERHEAD + 1 || len > SIGNER_RECORD_SIZE_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                           "signer record is %zu bytes; a record is %u-%u", len,
                           SIGNER_RECORD_OVERHEAD + 1, SIGNER_RECORD_SIZE_MAX);
    }
    tdei_sha256(sum, buf, len - SIGNER_CHECKSUM_SIZE);
    if (memcmp(sum, buf + len - SIGNER_CHECKSUM_SIZE, sizeof(sum)) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                           "signer record failed its checksum");
    }
    if (buf[0] != SIGNER_FORMAT_VERSION) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                           "signer record has format version %u; this node "
                           "reads version %u",
                           buf[0], SIGNER_FORMAT_VERSION);
    }
    if (buf[13] < CONS_STEP_PROPOSE || buf[13] > CONS_STEP_PRECOMMIT) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                           "signer record step is %u; it must be 1-3", buf[13]);
    }
    n = ((size_t)buf[14] << 8) | buf[15];
    if (n == 0 || n > CONS_SIGN_BYTES_MAX ||
        len != SIGNER_RECORD_OVERHEAD + n) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                           "signer record holds %zu sign bytes in %zu bytes; "
                           "they must be 1-%u and fill the record",
                           n, len, CONS_SIGN_BYTES_MAX);
    }
    out->height = store_u64_decode(buf + 1);
    out->round = store_u32_decode(buf + 9);
    out->step = (enum cons_step)buf[13];
    if (buf[16 + n + CONS_SIG_SIZE] > 1) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                           "signer record's nil flag is %u; it must be 0-1",
                           buf[16 + n + CONS_SIG_SIZE]);
    }
    out->len = n;
    memcpy(out->bytes, buf + 16, n);
    memcpy(out->sig, buf + 16 + n, CONS_SIG_SIZE);
    out->id.nil = buf[16 + n + CONS_SIG_SIZE];
    memcpy(out->id.bytes, buf + 17 + n + CONS_SIG_SIZE, CONS_ID_SIZE);
    out->pol_round =
        (int32_t)store_u32_decode(buf + 17 + n + CONS_SIG_SIZE + CONS_ID_SIZE);
    return 0;
}

/* Order (height, round, step): <0, 0 or >0 as @a is before, at or after
 * @b. */
static int position_compare(const struct cons_signed *a,
                            const struct cons_signed *b)
{
    if (a->height != b->height) {
        return a->height < b->height ? -1 : 1;
    }
    if (a->round != b->round) {
        return a->round < b->round ? -1 : 1;
    }
    if (a->step != b->step) {
        return a->step < b->step ? -1 : 1;
    }
    return 0;
}

/* Turn the decoder's message in @errmsg into the guard's: what is damaged
 * and what to do. Returns TDEI_CORRUPT. */
static int damaged(char *errmsg, const char *doing)
{
    char what[ERRSZ];

    memcpy(what, errmsg, sizeof(what));
    what[sizeof(what) - 1] = '\0';
    return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                       "signer: %s: %s; restore the data "
                       "directory from a backup",
                       doing, what);
}

/* The check of signer_persist, run inside the write transaction. */
static int persist_check(void *arg, int found, const uint8_t *val, size_t vlen,
                         char *errmsg)
{
    const struct cons_signed *rec = arg;
    struct cons_signed last;
    int same_bytes;
    int rc;

    if (!found) {
        return 0;
    }
    if (signer_record_decode(&last, val, vlen, errmsg) != 0) {
        return damaged(errmsg, "nothing written");
    }
    rc = position_compare(rec, &last);
    if (rc < 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_SIGN_BACKWARDS,
                           "signer: height %" PRIu64 " round %" PRIu32
                           " %s is before the last signed "
                           "height %" PRIu64 " round %" PRIu32 " %s; never "
                           "sign backwards, resume from the stored record",
                           rec->height, rec->round, cons_step_name(rec->step),
                           last.height, last.round, cons_step_name(last.step));
    }
    if (rc > 0) {
        return 0;
    }
    same_bytes =
        rec->len == last.len && memcmp(rec->bytes, last.bytes, last.len) == 0;
    if (!same_bytes || memcmp(rec->sig, last.sig, CONS_SIG_SIZE) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_SIGN_CONFLICT,
                           "signer: height %" PRIu64 " round %" PRIu32
                           " %s is already signed with "
                           "other %s; re-send the stored message",
                           rec->height, rec->round, cons_step_name(rec->step),
                           same_bytes ? "signature" : "sign bytes");
    }
    return 0; /* identical: written again, unchanged */
}

int signer_persist(struct store *s, const struct cons_signed *rec, char *errmsg)
{
    static const uint8_t key[] = SIGNER_KEY;
    uint8_t val[SIGNER_RECORD_SIZE_MAX];
    struct store_batch *b;
    size_t vlen = signer_record_encode(val, rec);
    int rc;

    rc = store_batch_create(&b, SIGNER_RECORD_SIZE_MAX + 64u);
    if (rc == 0) {
        rc = store_batch_put(b, STORE_DB_SIGNER, key, sizeof(key) - 1, val,
                             vlen);
        TDEI_ASSERT(rc == 0 || rc == TDEI_NOMEM);
    }
    if (rc != 0) {
        store_batch_destroy(b);
        return tdei_errorf(errmsg, ERRSZ, rc,
                           "signer: no memory for a write batch; free "
                           "memory and retry");
    }
    rc = store_commit_checked(s, b, STORE_DB_SIGNER, key, sizeof(key) - 1,
                              errmsg, (void *)(uintptr_t)rec, persist_check);
    store_batch_destroy(b);
    return rc;
}

int signer_load(struct store *s, struct cons_signed *out, char *errmsg)
{
    static const uint8_t key[] = SIGNER_KEY;
    struct store_read *r;
    const uint8_t *val;
    size_t vlen;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store_read_begin(s, &r, errmsg);
    if (rc != 0) {
        return tdei_errwrap(errmsg, ERRSZ, rc, "signer: load");
    }
    rc = store_get(r, STORE_DB_SIGNER, key, sizeof(key) - 1, &val, &vlen);
    if (rc == 0) {
        rc = signer_record_decode(out, val, vlen, errmsg);
        if (rc != 0) {
            rc = damaged(errmsg, "load");
        }
    } else if (rc == TDEI_NOTFOUND) {
        (void)tdei_errorf(errmsg, ERRSZ, rc, "signer: no signed record yet");
    } else {
        (void)tdei_errorf(errmsg, ERRSZ, rc, "signer: load: %s",
                          store_read_errmsg(r));
    }
    store_read_end(r);
    return rc;
}
