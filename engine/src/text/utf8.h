/*
 * text/utf8.h - the one UTF-8 decoder (and encoder) of the engine, shared by the
 * tokenizer, the chunker and the ingest pipeline so that all three agree on
 * what is ill-formed and how long a bad sequence is.
 */
#ifndef LORE_TEXT_UTF8_H
#define LORE_TEXT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the code point at s[i] (i < n) and returns the bytes it spans. *cp
 * gets the code point, or -1 for an ill-formed sequence whose length is that
 * of its maximal subpart (Unicode's recommended practice, which Python's
 * errors="replace" follows): overlongs, surrogates, values above U+10FFFF,
 * stray continuation bytes and truncated sequences are all rejected.
 */
static inline size_t lore__utf8_decode(const uint8_t *s, size_t n, size_t i, int32_t *cp)
{
    const uint8_t b0 = s[i];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t need;
    int32_t c;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        need = 1;
        c = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        need = 2;
        c = b0 & 0x0f;
        if (b0 == 0xe0)
            lo = 0xa0; /* overlong */
        else if (b0 == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        need = 3;
        c = b0 & 0x07;
        if (b0 == 0xf0)
            lo = 0x90; /* overlong */
        else if (b0 == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        *cp = -1; /* continuation byte, C0/C1 (overlong), F5..FF */
        return 1;
    }
    size_t k = 1;
    for (; k <= need && i + k < n; k++) {
        const uint8_t b = s[i + k];
        if (b < lo || b > hi)
            break;
        lo = 0x80;
        hi = 0xbf;
        c = (c << 6) | (b & 0x3f);
    }
    if (k <= need) {
        *cp = -1;
        return k;
    }
    *cp = c;
    return need + 1;
}

/* Writes code point c (0..0x10FFFF) as UTF-8 to o (room for 4 bytes); returns its length. */
static inline size_t lore__utf8_encode(int32_t c, char *o)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

#endif
