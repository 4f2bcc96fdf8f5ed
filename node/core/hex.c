/* Hex encoding and strict decoding (see hex.h). */
#include "core/hex.h"

#include "core/assert.h"
#include "core/error.h"

#include <string.h>

static int hex_digit_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

char *tdei_hex_encode(char *out, size_t out_size, const uint8_t *in,
                      size_t len)
{
    static const char digits[] = "0123456789abcdef";

    TDEI_ASSERT(out_size >= TDEI_HEX_SIZE(len));
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
    return out;
}

/* Check that the first 2*@len characters of @hex are digits. */
static int hex_check(const char *hex, size_t len)
{
    for (size_t i = 0; i < 2 * len; i++) {
        if (hex_digit_value(hex[i]) < 0) {
            return TDEI_BADHEX;
        }
    }
    return 0;
}

static void hex_convert(uint8_t *out, const char *hex, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int hi = hex_digit_value(hex[2 * i]);
        int lo = hex_digit_value(hex[2 * i + 1]);
        out[i] = (uint8_t)((hi << 4) | lo);
    }
}

int tdei_hex_decode(uint8_t *out, size_t len, const char *hex)
{
    if (strlen(hex) != 2 * len || hex_check(hex, len) != 0) {
        return TDEI_BADHEX;
    }
    hex_convert(out, hex, len);
    return 0;
}

int tdei_hex_decode_var(uint8_t *out, size_t cap, size_t *len,
                        const char *hex)
{
    size_t digits = strlen(hex);

    if (digits % 2 != 0 || hex_check(hex, digits / 2) != 0) {
        return TDEI_BADHEX;
    }
    if (digits / 2 > cap) {
        return TDEI_TOOBIG;
    }
    hex_convert(out, hex, digits / 2);
    *len = digits / 2;
    return 0;
}
