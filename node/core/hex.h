/* Bytes to lower-case hex and strict hex back to bytes.
 *
 * Parsing is strict: no prefix ("0x"), no whitespace, no separators, an
 * even number of digits; upper- and lower-case digits are both accepted.
 * Pointers are non-NULL unless stated. */
#ifndef TDEI_CORE_HEX_H
#define TDEI_CORE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The size of the buffer tdei_hex_encode needs for @len bytes (with NUL). */
#define TDEI_HEX_SIZE(len) ((len) * 2 + 1)

/* Write @len bytes of @in as lower-case hex into @out, NUL-terminated.
 * @out_size must be at least TDEI_HEX_SIZE(@len) (asserted). Returns @out. */
char *tdei_hex_encode(char *out, size_t out_size, const uint8_t *in,
                      size_t len);

/* Parse @hex into exactly @len bytes at @out.
 * Returns: 0, or TDEI_BADHEX when @hex is not exactly 2*@len hex digits
 * (then @out is untouched). */
int tdei_hex_decode(uint8_t *out, size_t len, const char *hex);

/* Parse @hex of any even length up to 2*@cap digits into @out; the number
 * of bytes goes to @len.
 * Returns: 0, TDEI_BADHEX (odd length, a non-hex character) or
 * TDEI_TOOBIG (more than @cap bytes); on error @out and @len are
 * untouched. */
int tdei_hex_decode_var(uint8_t *out, size_t cap, size_t *len,
                        const char *hex);

#endif
