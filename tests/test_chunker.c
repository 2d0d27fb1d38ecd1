/*
 * test_chunker.c - the chunker in character and token mode: parameter checks,
 * blank texts, boundary preference (paragraph, sentence, word, hard cut),
 * overlap, multibyte and invalid UTF-8, CRLF, long whitespace runs, words
 * longer than a token window, and a seeded property test over random texts.
 *
 * Every split goes through check_split, which checks the header's promises
 * against an independent UTF-8 decoder: chunks within the text, begin < end,
 * cuts at character boundaries, no whitespace at either end, starts and ends
 * strictly increasing, only whitespace between and around the chunks (so the
 * chunks cover every other byte), at most `size` units in a chunk and at most
 * `overlap` shared with the one before. Token counts come from
 * lore_tokenizer_encode on the chunk's own text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lore/lore.h"

/* ---- an independent UTF-8 reading --------------------------------------------------------- */

/* Length of the well-formed sequence at s[i], or 1 for a byte of an ill-formed one. */
static size_t t_len(const uint8_t *s, size_t n, size_t i, uint32_t *cp)
{
    const uint8_t b = s[i];
    *cp = 0xffffffffu;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t len;
    uint32_t min;
    if ((b & 0xe0) == 0xc0) {
        len = 2;
        min = 0x80;
    } else if ((b & 0xf0) == 0xe0) {
        len = 3;
        min = 0x800;
    } else if ((b & 0xf8) == 0xf0) {
        len = 4;
        min = 0x10000;
    } else {
        return 1;
    }
    if (i + len > n)
        return 1;
    uint32_t c = b & (0x7fu >> len);
    for (size_t k = 1; k < len; k++) {
        if ((s[i + k] & 0xc0) != 0x80)
            return 1;
        c = (c << 6) | (s[i + k] & 0x3fu);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 1;
    *cp = c;
    return len;
}

static bool t_space(uint32_t c)
{
    return c == ' ' || (c >= 9 && c <= 13) || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* Per byte of a text: starts a character, and is part of a whitespace character. */
typedef struct textmap {
    bool *start; /* n + 1 entries: start[n] is true */
    bool *space;
    size_t n;
} textmap;

static textmap map_text(const char *text, size_t n)
{
    textmap m = {calloc(n + 1, 1), calloc(n + 1, 1), n};
    assert_true(m.start && m.space);
    const uint8_t *s = (const uint8_t *)text;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        const size_t len = t_len(s, n, i, &c);
        m.start[i] = true;
        for (size_t k = 0; k < len; k++)
            m.space[i + k] = t_space(c);
        i += len;
    }
    m.start[n] = true;
    return m;
}

static void unmap(textmap *m)
{
    free(m->start);
    free(m->space);
}

static size_t count_chars(const textmap *m, size_t b, size_t e)
{
    size_t k = 0;
    for (size_t i = b; i < e; i++)
        k += m->start[i];
    return k;
}

static lore_tokenizer *g_tok; /* synthetic, LORE_UTF8_REPLACE */
static const uint64_t TOK_SEED = 11;

static size_t count_tokens(const lore_tokenizer *t, const char *text, size_t b, size_t e)
{
    int32_t ids[2];
    size_t n;
    lore_encode_info info;
    assert_int_equal(lore_tokenizer_encode(t, text + b, e - b, 2, ids, &n, &info), LORE_OK);
    return info.n_tokens_full - 2;
}

static size_t count_units(const lore_chunker_params *p, const textmap *m, const char *text,
                          size_t b, size_t e)
{
    return p->unit == LORE_CHUNK_CHARS ? count_chars(m, b, e)
                                       : count_tokens(p->tokenizer, text, b, e);
}

/* ---- the invariants ------------------------------------------------------------------------- */

static void check_split(const lore_chunker_params *p, const char *text, size_t len,
                        const lore_chunk_list *l, const char *what)
{
    textmap m = map_text(text, len);
    size_t n_content = 0;
    for (size_t i = 0; i < len; i++)
        n_content += !m.space[i];
    if (n_content == 0 && l->n)
        fail_msg("%s: %zu chunks of a blank text", what, l->n);
    if (n_content && !l->n)
        fail_msg("%s: no chunk for %zu non-space bytes", what, n_content);
    size_t covered_to = 0; /* everything before it is covered or whitespace */
    for (size_t c = 0; c < l->n; c++) {
        const lore_chunk k = l->items[c];
        if (!(k.begin < k.end && k.end <= len))
            fail_msg("%s: chunk %zu is [%zu, %zu) of %zu bytes", what, c, k.begin, k.end, len);
        if (!m.start[k.begin] || !m.start[k.end])
            fail_msg("%s: chunk %zu [%zu, %zu) cuts a UTF-8 sequence", what, c, k.begin, k.end);
        if (m.space[k.begin] || m.space[k.end - 1])
            fail_msg("%s: chunk %zu [%zu, %zu) not trimmed", what, c, k.begin, k.end);
        for (size_t i = covered_to; i < k.begin; i++)
            if (!m.space[i])
                fail_msg("%s: byte %zu (0x%02x) before chunk %zu [%zu, %zu) is in no chunk", what,
                         i, (unsigned)(uint8_t)text[i], c, k.begin, k.end);
        const size_t units = count_units(p, &m, text, k.begin, k.end);
        if (units > p->size)
            fail_msg("%s: chunk %zu [%zu, %zu) has %zu units, size %zu", what, c, k.begin, k.end,
                     units, p->size);
        if (c > 0) {
            const lore_chunk prev = l->items[c - 1];
            if (k.begin <= prev.begin || k.end <= prev.end)
                fail_msg("%s: chunk %zu [%zu, %zu) does not move past [%zu, %zu)", what, c, k.begin,
                         k.end, prev.begin, prev.end);
            if (k.begin < prev.end) {
                const size_t shared = count_units(p, &m, text, k.begin, prev.end);
                if (shared > p->overlap)
                    fail_msg("%s: chunks %zu and %zu share %zu units, overlap %zu", what, c - 1, c,
                             shared, p->overlap);
            }
        }
        covered_to = k.end;
    }
    for (size_t i = covered_to; i < len; i++)
        if (!m.space[i])
            fail_msg("%s: byte %zu after the last chunk is in no chunk", what, i);
    unmap(&m);
}

static lore_chunker_params chars_params(size_t size, size_t overlap, double frac)
{
    lore_chunker_params p = lore_chunker_default_params();
    p.size = size;
    p.overlap = overlap;
    p.boundary_fraction = frac;
    return p;
}

static lore_chunker_params token_params(size_t size, size_t overlap, double frac)
{
    lore_chunker_params p = chars_params(size, overlap, frac);
    p.unit = LORE_CHUNK_TOKENS;
    p.tokenizer = g_tok;
    return p;
}

/* Splits and checks; returns the list (owned by the caller). */
static lore_chunk_list split_ok(const lore_chunker_params *p, const char *text, size_t len,
                                const char *what)
{
    lore_chunk_list l = {0};
    const lore_status s = lore_chunker_split(p, text, len, &l);
    if (s != LORE_OK)
        fail_msg("%s: %s (%s)", what, lore_strerror(s), lore_last_error());
    check_split(p, text, len, &l, what);
    return l;
}

static void assert_chunk(const lore_chunk_list *l, size_t i, size_t begin, size_t end)
{
    if (i >= l->n)
        fail_msg("chunk %zu missing (%zu chunks)", i, l->n);
    if (l->items[i].begin != begin || l->items[i].end != end)
        fail_msg("chunk %zu is [%zu, %zu), want [%zu, %zu)", i, l->items[i].begin, l->items[i].end,
                 begin, end);
}

/* Text of n synthetic words (seeded), separated by single spaces, in a malloc'd buffer. */
static char *word_text(uint64_t seed, size_t n_words, size_t *len)
{
    char *t = malloc(n_words * 16 + 1);
    assert_non_null(t);
    size_t k = 0;
    for (size_t i = 0; i < n_words; i++) {
        char w[16];
        const size_t n = lore_tokenizer_synthetic_word(seed, (i * 7919) % 20000, w);
        memcpy(t + k, w, n);
        k += n;
        t[k++] = ' ';
    }
    *len = k ? k - 1 : 0;
    t[*len] = '\0';
    return t;
}

static int setup(void **state)
{
    (void)state;
    lore_tokenizer_params tp = lore_tokenizer_default_params();
    tp.utf8 = LORE_UTF8_REPLACE;
    return lore_tokenizer_new_synthetic(30522, TOK_SEED, &tp, &g_tok) == LORE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lore_tokenizer_free(g_tok);
    return 0;
}

/* ---- parameters ------------------------------------------------------------------------------ */

static void expect_einval(const lore_chunker_params *p, const char *text, size_t len,
                          const char *field, const char *value)
{
    lore_chunk_list l = {0};
    assert_int_equal(lore_chunker_split(p, text, len, &l), LORE_EINVAL);
    assert_int_equal(l.n, 0);
    if (!strstr(lore_last_error(), field) || (value && !strstr(lore_last_error(), value)))
        fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", lore_last_error(), field,
                 value ? value : "");
    lore_chunk_list_free(&l);
}

static void test_params(void **state)
{
    (void)state;
    const lore_chunker_params d = lore_chunker_default_params();
    assert_int_equal(d.unit, LORE_CHUNK_CHARS);
    assert_int_equal(d.size, 500);
    assert_int_equal(d.overlap, 60);
    assert_true(d.boundary_fraction == 0.2);
    assert_null(d.tokenizer);

    lore_chunker_params p = chars_params(0, 0, 0.2);
    expect_einval(&p, "a", 1, "size", "0");
    p = chars_params(10, 10, 0.2);
    expect_einval(&p, "a", 1, "overlap", "10");
    p = chars_params(10, 11, 0.2);
    expect_einval(&p, "a", 1, "overlap", "11");
    p = chars_params(10, 2, -0.25);
    expect_einval(&p, "a", 1, "boundary_fraction", "-0.25");
    p = chars_params(10, 2, 1.5);
    expect_einval(&p, "a", 1, "boundary_fraction", "1.5");
    p = chars_params(10, 2, NAN);
    expect_einval(&p, "a", 1, "boundary_fraction", "nan");
    p = chars_params(10, 2, 0.2);
    p.unit = (lore_chunk_unit)7;
    expect_einval(&p, "a", 1, "unit", "7");
    p = chars_params(10, 2, 0.2);
    p.unit = LORE_CHUNK_TOKENS;
    expect_einval(&p, "a", 1, "tokenizer", NULL);
    p = chars_params(10, 2, 0.2);
    expect_einval(&p, NULL, 3, "text", NULL);
    expect_einval(NULL, "a", 1, "params", NULL);
    assert_int_equal(lore_chunker_split(&p, "a", 1, NULL), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "out"));

    /* Edge values are accepted; an error empties a list that held chunks. */
    lore_chunk_list l = {0};
    p = chars_params(1, 0, 0.0);
    assert_int_equal(lore_chunker_split(&p, "ab", 2, &l), LORE_OK);
    assert_int_equal(l.n, 2);
    p = chars_params(1, 0, 1.0);
    assert_int_equal(lore_chunker_split(&p, "ab", 2, &l), LORE_OK);
    assert_int_equal(l.n, 2);
    p.size = 0;
    assert_int_equal(lore_chunker_split(&p, "ab", 2, &l), LORE_EINVAL);
    assert_int_equal(l.n, 0);
    lore_chunk_list_free(&l);
    assert_null(l.items);
    assert_int_equal(l.cap, 0);
    lore_chunk_list_free(NULL);
}

static void test_blank(void **state)
{
    (void)state;
    const char *blank[] = {"", " ", "\n\n\r\n\t\v\f", " \xc2\xa0\xe3\x80\x80\xe2\x80\xa8 "};
    const lore_chunker_params ps[2] = {chars_params(20, 2, 0.2), token_params(20, 2, 0.2)};
    for (int u = 0; u < 2; u++) {
        lore_chunk_list l = {0};
        assert_int_equal(lore_chunker_split(&ps[u], NULL, 0, &l), LORE_OK);
        assert_int_equal(l.n, 0);
        for (size_t i = 0; i < sizeof blank / sizeof blank[0]; i++) {
            l.n = 5; /* replaced, not appended to */
            assert_int_equal(lore_chunker_split(&ps[u], blank[i], strlen(blank[i]), &l), LORE_OK);
            assert_int_equal(l.n, 0);
        }
        /* Short texts are one trimmed chunk. */
        lore_chunk_list_free(&l);
        l = split_ok(&ps[u], "  hello world \n", 15, "short");
        assert_int_equal(l.n, 1);
        assert_chunk(&l, 0, 2, 13);
        /* The list is reused: a second call replaces the first's chunks. */
        assert_int_equal(lore_chunker_split(&ps[u], "abc", 3, &l), LORE_OK);
        assert_int_equal(l.n, 1);
        assert_chunk(&l, 0, 0, 3);
        lore_chunk_list_free(&l);
    }
}

/* ---- boundaries in character mode ------------------------------------------------------------ */

/* Fills buf with `n` bytes of "xxxx xxxx ..." (words of four x) starting at buf. */
static void fill_words(char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = i % 5 == 4 ? ' ' : 'x';
}

static void test_boundaries(void **state)
{
    (void)state;
    /* Window 100 chars, tail 30: boundary cuts need at least 70 chars before them. */
    const lore_chunker_params p = chars_params(100, 10, 0.3);
    char t[400];
    lore_chunk_list l;

    /* A sentence end in the tail wins over later spaces. */
    fill_words(t, 300);
    memcpy(t + 73, ". ", 2);
    l = split_ok(&p, t, 300, "sentence in tail");
    assert_chunk(&l, 0, 0, 74);
    lore_chunk_list_free(&l);

    /* A sentence end before the tail is ignored: the last space in the window is taken. */
    fill_words(t, 300);
    memcpy(t + 40, "! ", 2);
    l = split_ok(&p, t, 300, "sentence before tail");
    assert_chunk(&l, 0, 0, 99); /* the space at 99; "xxxx" fits exactly before it */
    lore_chunk_list_free(&l);

    /* A window that ends right before a space cuts there. */
    fill_words(t, 300);
    t[99] = 'x';
    t[100] = ' ';
    l = split_ok(&p, t, 300, "space right after the window");
    assert_chunk(&l, 0, 0, 100);
    lore_chunk_list_free(&l);

    /* A paragraph break beats a later sentence end; sentence ends beat line breaks only by
     * coming later (same class). */
    fill_words(t, 300);
    memcpy(t + 72, "\n\n", 2);
    memcpy(t + 88, ". ", 2);
    l = split_ok(&p, t, 300, "paragraph");
    assert_chunk(&l, 0, 0, 72);
    lore_chunk_list_free(&l);
    fill_words(t, 300);
    memcpy(t + 86, "\r\n", 2);
    memcpy(t + 73, "? ", 2);
    l = split_ok(&p, t, 300, "line break after sentence");
    assert_chunk(&l, 0, 0, 86);
    lore_chunk_list_free(&l);

    /* Closing quotes after the stop; a stop without a space after is no sentence end. */
    fill_words(t, 300);
    memcpy(t + 70, "x.\") ", 5);
    memcpy(t + 90, "x.xx ", 5);
    l = split_ok(&p, t, 300, "closers");
    assert_chunk(&l, 0, 0, 74);
    lore_chunk_list_free(&l);

    /* No space at all: a hard cut at exactly 100 characters, then 90 further on. */
    memset(t, 'y', 300);
    l = split_ok(&p, t, 300, "hard cut");
    assert_int_equal(l.n, 4);
    assert_chunk(&l, 0, 0, 100);
    assert_chunk(&l, 1, 90, 190);
    assert_chunk(&l, 2, 180, 280);
    assert_chunk(&l, 3, 270, 300);
    lore_chunk_list_free(&l);

    /* Ideographic full stops end sentences without spaces: 3 bytes a char. */
    size_t n = 0;
    for (int i = 0; i < 120; i++) {
        memcpy(t + n, i == 79 ? "\xe3\x80\x82" : "\xe4\xb8\xad", 3);
        n += 3;
    }
    l = split_ok(&p, t, n, "cjk stop");
    assert_chunk(&l, 0, 0, 80 * 3);
    /* The overlap steps back 10 characters; there is no word start, so it stays there. */
    assert_int_equal(l.items[1].begin, 70 * 3);
    lore_chunk_list_free(&l);
}

/* Word text: every chunk ends before a space and, with overlap, starts at a word start. */
static void test_words_and_overlap(void **state)
{
    (void)state;
    size_t len;
    char *t = word_text(3, 3000, &len);
    const lore_chunker_params p = chars_params(200, 40, 0.2);
    lore_chunk_list l = split_ok(&p, t, len, "words");
    assert_true(l.n > len / 200);
    size_t sum_shared = 0;
    for (size_t c = 0; c < l.n; c++) {
        const lore_chunk k = l.items[c];
        assert_true(k.begin == 0 || t[k.begin - 1] == ' ');
        assert_true(k.end == len || t[k.end] == ' ');
        if (c + 1 < l.n) {
            assert_true(k.end - k.begin >= 160); /* a cut in the tail: 160..200 chars */
            const size_t shared = k.end - l.items[c + 1].begin;
            assert_true(shared <= 40);
            assert_true(shared >= 40 - 16); /* one word of at most 15 letters lost */
            sum_shared += shared;
        }
    }
    assert_true(sum_shared > 0);
    lore_chunk_list_free(&l);

    /* No overlap: the chunks tile the text with single spaces between. */
    const lore_chunker_params p0 = chars_params(200, 0, 0.2);
    l = split_ok(&p0, t, len, "no overlap");
    for (size_t c = 0; c + 1 < l.n; c++)
        assert_int_equal(l.items[c + 1].begin, l.items[c].end + 1);
    lore_chunk_list_free(&l);
    free(t);
}

static void test_multibyte_and_invalid(void **state)
{
    (void)state;
    char t[4096];
    lore_chunk_list l;
    const lore_chunker_params p = chars_params(7, 2, 0.2);

    /* Two-, three- and four-byte characters: windows of 7 characters, hard cuts. */
    const char *seq[] = {"\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80"};
    for (int w = 0; w < 3; w++) {
        const size_t cl = strlen(seq[w]);
        for (size_t i = 0; i < 100; i++)
            memcpy(t + i * cl, seq[w], cl);
        l = split_ok(&p, t, 100 * cl, seq[w]);
        assert_chunk(&l, 0, 0, 7 * cl);
        assert_chunk(&l, 1, 5 * cl, 12 * cl);
        lore_chunk_list_free(&l);
    }

    /* Each byte of an invalid sequence is a character: 7 bytes a window. */
    const char bad[] = "\xff\xfe\x80\xe4\xb8\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xf5";
    for (size_t i = 0; i < 60; i++)
        t[i] = bad[i % (sizeof bad - 1)];
    l = split_ok(&p, t, 60, "invalid bytes");
    assert_chunk(&l, 0, 0, 7);
    assert_chunk(&l, 1, 5, 12);
    lore_chunk_list_free(&l);

    /* A truncated sequence before a valid one: the valid one is never split. */
    memcpy(t,
           "ab\xe4\xb8"
           "cd\xe4\xb8\xad\xe4\xb8\xadxyz",
           15);
    const lore_chunker_params p3 = chars_params(7, 0, 0.2);
    l = split_ok(&p3, t, 15, "truncated");
    assert_int_equal(l.n, 2);
    assert_chunk(&l, 0, 0, 9); /* a b E4 B8 c d 中 */
    assert_chunk(&l, 1, 9, 15);
    lore_chunk_list_free(&l);

    /* Unicode spaces are trimmed and are word boundaries. */
    const char *u = "\xe3\x80\x80hello\xc2\xa0world\xe2\x80\x83";
    const lore_chunker_params p8 = chars_params(8, 0, 0.5);
    l = split_ok(&p8, u, strlen(u), "unicode spaces");
    assert_int_equal(l.n, 2);
    assert_chunk(&l, 0, 3, 8);
    assert_chunk(&l, 1, 10, 15);
    lore_chunk_list_free(&l);
}

static void test_crlf_and_gaps(void **state)
{
    (void)state;
    const char *t = "line one\r\nline two\r\n\r\nline three\r\n";
    const lore_chunker_params p = chars_params(24, 0, 0.5);
    lore_chunk_list l = split_ok(&p, t, strlen(t), "crlf");
    /* The paragraph break (at 18) beats the line break (at 8). */
    assert_int_equal(l.n, 2);
    assert_chunk(&l, 0, 0, 18);
    assert_chunk(&l, 1, 22, 32);
    lore_chunk_list_free(&l);

    /* A long run of spaces between two words: two chunks, none made only of overlap. */
    const size_t gap = 100000;
    char *g = malloc(gap + 32);
    assert_non_null(g);
    memcpy(g, "alpha beta gamma", 16);
    memset(g + 16, ' ', gap);
    memcpy(g + 16 + gap, "delta", 5);
    const lore_chunker_params pg = chars_params(10, 8, 0.5);
    l = split_ok(&pg, g, gap + 21, "gap");
    assert_int_equal(l.n, 3);
    assert_chunk(&l, 0, 0, 10);
    assert_chunk(&l, 1, 6, 16);
    assert_chunk(&l, 2, 16 + gap, 21 + gap);
    lore_chunk_list_free(&l);
    const lore_chunker_params pt = token_params(2, 1, 0.5);
    l = split_ok(&pt, g, gap + 21, "gap tokens");
    assert_true(l.n < 16);
    lore_chunk_list_free(&l);
    free(g);
}

/* ---- token mode --------------------------------------------------------------------------- */

static void test_tokens(void **state)
{
    (void)state;
    size_t len;
    char *t = word_text(TOK_SEED, 6000, &len);
    /* Punctuation and sentence ends every few words. */
    for (size_t i = 0, w = 0; i < len; i++)
        if (t[i] == ' ' && ++w % 9 == 0 && i > 0)
            t[i - 1] = w % 27 == 0 ? '.' : ',';
    const size_t sizes[] = {16, 64, 300};
    for (size_t z = 0; z < 3; z++) {
        const size_t size = sizes[z], overlap = size / 8;
        const lore_chunker_params p = token_params(size, overlap, 0.25);
        char what[32];
        snprintf(what, sizeof what, "tokens %zu", size);
        lore_chunk_list l = split_ok(&p, t, len, what);
        size_t shared_total = 0;
        for (size_t c = 0; c + 1 < l.n; c++) {
            const lore_chunk k = l.items[c];
            const size_t units = count_tokens(g_tok, t, k.begin, k.end);
            if (units < size / 2)
                fail_msg("%s: chunk %zu has %zu tokens", what, c, units);
            const lore_chunk nx = l.items[c + 1];
            assert_true(k.end == len || t[k.end] == ' ' || t[k.end] == ',' || t[k.end] == '.');
            if (nx.begin < k.end)
                shared_total += count_tokens(g_tok, t, nx.begin, k.end);
            /* Starts at a word or at punctuation, never inside a word. */
            assert_true(t[nx.begin - 1] == ' ' || t[nx.begin] == ',' || t[nx.begin] == '.');
        }
        assert_true(shared_total >= (l.n - 1) * overlap / 2);
        lore_chunk_list_free(&l);
    }
    free(t);
}

/* Token windows prefer sentence ends, and paragraph breaks over them, in their tail. */
static void test_tokens_boundaries(void **state)
{
    (void)state;
    size_t len;
    char *t = word_text(TOK_SEED, 4000, &len);
    size_t n_para = 0;
    for (size_t i = 0, w = 0; i + 1 < len; i++) {
        if (t[i] != ' ' || ++w % 8)
            continue;
        t[i - 1] = '.'; /* a sentence of 8 words ends here */
        if (w % 56 == 0) {
            t[i] = '\n';
            t[i + 1] = '\n'; /* the next word loses its first letter to the paragraph break */
            n_para++;
        }
    }
    assert_true(n_para > 10);
    const lore_chunker_params p = token_params(64, 8, 0.5);
    lore_chunk_list l = split_ok(&p, t, len, "token sentences");
    size_t at_para = 0;
    for (size_t c = 0; c + 1 < l.n; c++) {
        const lore_chunk k = l.items[c];
        if (t[k.end - 1] != '.')
            fail_msg("chunk %zu [%zu, %zu) does not end a sentence", c, k.begin, k.end);
        if (t[k.end] == '\n') {
            at_para++;
            continue;
        }
        /* Not at a paragraph break: none may lie in the window's tail (32..64 tokens in). */
        for (size_t x = k.begin; x + 1 < len && x < k.begin + 2000; x++) {
            if (t[x] != '\n' || t[x + 1] != '\n')
                continue;
            const size_t before = count_tokens(g_tok, t, k.begin, x);
            if (before >= 32 && before <= 64)
                fail_msg("chunk %zu [%zu, %zu) passes over the paragraph break at %zu", c, k.begin,
                         k.end, x);
        }
    }
    assert_true(at_para > 10);
    lore_chunk_list_free(&l);

    /* Character mode on the same text: the same preferences. */
    const lore_chunker_params pc = chars_params(300, 30, 0.5);
    l = split_ok(&pc, t, len, "char sentences");
    for (size_t c = 0; c + 1 < l.n; c++)
        assert_int_equal(t[l.items[c].end - 1], '.');
    lore_chunk_list_free(&l);
    free(t);
}

/* A word with more pieces than the window is cut inside, never above the size. */
static void test_tokens_long_words(void **state)
{
    (void)state;
    static const char *const vocab[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "##a", "b"};
    lore_tokenizer_params tp = lore_tokenizer_default_params();
    tp.max_chars_per_word = 40;
    lore_tokenizer *t = NULL;
    assert_int_equal(lore_tokenizer_new_from_tokens(vocab, 7, &tp, &t), LORE_OK);
    const char *text = "b aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b aaaaaaa";
    lore_chunker_params p = token_params(4, 1, 0.5);
    p.tokenizer = t;
    lore_chunk_list l = split_ok(&p, text, strlen(text), "long word");
    assert_true(l.n >= 9);
    lore_chunk_list_free(&l);

    /* More than max_chars_per_word: the word is one [UNK], whatever its length. */
    char *big = malloc(200001);
    assert_non_null(big);
    memset(big, 'a', 200000);
    l = split_ok(&p, big, 200000, "huge word tokens");
    assert_int_equal(l.n, 1);
    lore_chunk_list_free(&l);
    /* With separators every few bytes it splits into many windows. */
    for (size_t i = 3; i < 200000; i += 4)
        big[i] = i % 3 ? ',' : ' ';
    l = split_ok(&p, big, 200000, "huge line tokens");
    assert_true(l.n > 200000 / 4 / 4);
    lore_chunk_list_free(&l);
    free(big);
    lore_tokenizer_free(t);
}

static void test_tokens_strict(void **state)
{
    (void)state;
    lore_tokenizer *strict = NULL;
    assert_int_equal(lore_tokenizer_new_synthetic(30522, TOK_SEED, NULL, &strict), LORE_OK);
    size_t len;
    char *t = word_text(TOK_SEED, 3000, &len);
    t[5000] = '\xff';
    lore_chunker_params p = token_params(50, 5, 0.2);
    p.tokenizer = strict;
    lore_chunk_list l = {0};
    assert_int_equal(lore_chunker_split(&p, t, len, &l), LORE_EINVAL);
    assert_int_equal(l.n, 0);
    if (!strstr(lore_last_error(), "offset 5000 "))
        fail_msg("message \"%s\" lacks the offset", lore_last_error());
    lore_chunk_list_free(&l);
    free(t);

    /* Valid text without ASCII spaces: segments end inside it, never inside a character. */
    static const char unit[] = "\xe4\xb8\xad\xe6\x96\x87\xf0\x9f\x98\x80\xc3\xa9\xe3\x80\x80";
    const size_t n_units = 3000, ul = sizeof unit - 1;
    t = malloc(n_units * ul);
    assert_non_null(t);
    for (size_t i = 0; i < n_units; i++)
        memcpy(t + i * ul, unit, ul);
    l = split_ok(&p, t, n_units * ul, "strict multibyte");
    assert_true(l.n > n_units * 3 / 50);
    lore_chunk_list_free(&l);
    free(t);
    lore_tokenizer_free(strict);
}

/* ---- a huge single line in character mode ---------------------------------------------------- */

static void test_huge_line(void **state)
{
    (void)state;
    const size_t n = 4u << 20;
    char *t = malloc(n);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        t[i] = (char)('a' + i % 26);
    const lore_chunker_params p = lore_chunker_default_params();
    lore_chunk_list l = {0};
    assert_int_equal(lore_chunker_split(&p, t, n, &l), LORE_OK);
    /* Hard cuts: every chunk 500 bytes, each 440 after the last. */
    assert_int_equal(l.n, (n - 500 + 439) / 440 + 1);
    for (size_t c = 0; c < l.n; c++) {
        assert_int_equal(l.items[c].begin, c * 440);
        assert_int_equal(l.items[c].end, c + 1 < l.n ? c * 440 + 500 : n);
    }
    lore_chunk_list_free(&l);
    free(t);
}

/* ---- random texts ------------------------------------------------------------------------------
 */

static uint64_t rnd(uint64_t *st)
{
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t z = *st;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    return z ^ (z >> 31);
}

static const char *const BITS[] = {
    " ",
    "  ",
    "\n",
    "\n\n",
    "\r\n",
    "\t",
    ". ",
    "! ",
    "? ",
    ",",
    "'",
    "\"",
    "(",
    "\xc3\xa9",
    "\xe4\xb8\xad\xe6\x96\x87",
    "\xf0\x9f\x98\x80",
    "\xff",
    "\x80",
    "\xe4\xb8",
    "\xc2\xa0",
    "\xe3\x80\x80",
    "\xe3\x80\x82",
    "\x01",
    "\xe2\x80\x94",
    "\xcc\x81",
    "\xc3\x89t\xc3\xa9",
    ".\" ",
};

static size_t random_text(uint64_t *st, char *t, size_t cap)
{
    const size_t target = rnd(st) % cap;
    size_t n = 0;
    while (n + 20 < target) {
        const uint64_t x = rnd(st);
        if (x % 3) {
            char w[16];
            const size_t k = lore_tokenizer_synthetic_word(TOK_SEED, (x >> 8) % 5000, w);
            memcpy(t + n, w, k);
            n += k;
            if ((x >> 20) % 4)
                t[n++] = ' ';
        } else {
            const char *b = BITS[(x >> 8) % (sizeof BITS / sizeof BITS[0])];
            memcpy(t + n, b, strlen(b));
            n += strlen(b);
        }
    }
    return n;
}

static void test_random(void **state)
{
    (void)state;
    uint64_t st = 2024;
    char t[700];
    static const size_t sizes[] = {1, 2, 3, 5, 8, 13, 40, 100};
    static const double fracs[] = {0.0, 0.1, 0.2, 0.5, 1.0};
    lore_chunk_list l = {0};
    for (int r = 0; r < 3000; r++) {
        const size_t len = random_text(&st, t, sizeof t - 40);
        const bool tokens = r % 3 == 0;
        const size_t size = sizes[rnd(&st) % 8];
        const size_t overlap = rnd(&st) % 2 ? rnd(&st) % size : size - 1;
        const double frac = fracs[rnd(&st) % 5];
        const lore_chunker_params p =
            tokens ? token_params(size, overlap, frac) : chars_params(size, overlap, frac);
        char what[96];
        snprintf(what, sizeof what, "random %d (%s, size %zu, overlap %zu, fraction %g)", r,
                 tokens ? "tokens" : "chars", size, overlap, frac);
        const lore_status s = lore_chunker_split(&p, t, len, &l);
        if (s != LORE_OK)
            fail_msg("%s: %s", what, lore_last_error());
        check_split(&p, t, len, &l, what);
        /* Deterministic: the same split again. */
        lore_chunk_list l2 = {0};
        assert_int_equal(lore_chunker_split(&p, t, len, &l2), LORE_OK);
        assert_int_equal(l2.n, l.n);
        if (l.n)
            assert_memory_equal(l.items, l2.items, l.n * sizeof *l.items);
        lore_chunk_list_free(&l2);
    }
    lore_chunk_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_blank),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_words_and_overlap),
        cmocka_unit_test(test_multibyte_and_invalid),
        cmocka_unit_test(test_crlf_and_gaps),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_tokens_boundaries),
        cmocka_unit_test(test_tokens_long_words),
        cmocka_unit_test(test_tokens_strict),
        cmocka_unit_test(test_huge_line),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
