/*
 * test_tokenizer.c - the BERT tokenizer: clean-up, splitting, accents, CJK,
 * WordPiece, invalid UTF-8, truncation of single texts and pairs, piece
 * offsets (lore_tokenizer_encode_offsets), vocabulary files and their errors,
 * the synthetic vocabulary, thread safety, and golden ids from an independent
 * Python reference (tests/fixtures/tiny-bert).
 *
 * The table cases run over a 35-token vocabulary; every expected id list was
 * derived by hand from the reference algorithm (comments give the steps where
 * they are not obvious).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lore/lore.h"
#include "text/tokenizer_int.h"

/* ---- the small vocabulary ------------------------------------------------------------------- */

static const char *const VOCAB[] = {
    "[PAD]",                             /* 0 */
    "[UNK]",                             /* 1 */
    "[CLS]",                             /* 2 */
    "[SEP]",                             /* 3 */
    "[MASK]",                            /* 4 */
    "cafe",                              /* 5 */
    "caf\xc3\xa9",                       /* 6 café */
    "naive",                             /* 7 */
    "na\xc3\xafve",                      /* 8 naïve */
    "angstrom",                          /* 9 */
    "\xc3\xa5ngstr\xc3\xb6m",            /* 10 ångström */
    "\xc3\x85ngstr\xc3\xb6m",            /* 11 Ångström */
    "hello",                             /* 12 */
    "world",                             /* 13 */
    ",",                                 /* 14 */
    ".",                                 /* 15 */
    "!",                                 /* 16 */
    "$",                                 /* 17 */
    "\xc2\xab",                          /* 18 « */
    "\xc2\xbb",                          /* 19 » */
    "\xe2\x80\x94",                      /* 20 — */
    "\xe4\xb8\xad",                      /* 21 中 */
    "\xe5\x9b\xbd",                      /* 22 国 */
    "un",                                /* 23 */
    "##aff",                             /* 24 */
    "##able",                            /* 25 */
    "a",                                 /* 26 */
    "##a",                               /* 27 */
    "i",                                 /* 28 */
    "\xcf\x83",                          /* 29 σ */
    "\xcf\x82",                          /* 30 ς */
    "\xce\xbf\xce\xb4\xce\xbf\xcf\x82",  /* 31 οδος */
    "Hello",                             /* 32 */
    "\xf0\xa0\xae\xb7",                  /* 33 U+20BB7, CJK extension B */
    "b\xf0\x9d\x85\xa5\xf0\x9d\x85\xad", /* 34 b U+1D165 (ccc 216) U+1D16D (ccc 226) */
};
#define N_VOCAB (sizeof VOCAB / sizeof VOCAB[0])
#define MAX_CHARS 12 /* max_chars_per_word of the table tokenizers */

enum variant { UNCASED, LOWER_KEEP, CASED, STRIP_ONLY, NO_CJK, N_VARIANTS };

static lore_tokenizer_params variant_params(enum variant v)
{
    lore_tokenizer_params p = lore_tokenizer_default_params();
    p.max_chars_per_word = MAX_CHARS;
    p.lowercase = v != CASED && v != STRIP_ONLY;
    p.strip_accents = v == LOWER_KEEP ? 0 : v == STRIP_ONLY ? 1 : -1;
    p.split_cjk = v != NO_CJK;
    return p;
}

static lore_tokenizer *new_small(enum variant v, lore_utf8_policy utf8)
{
    lore_tokenizer_params p = variant_params(v);
    p.utf8 = utf8;
    lore_tokenizer *t = NULL;
    assert_int_equal(lore_tokenizer_new_from_tokens(VOCAB, N_VOCAB, &p, &t), LORE_OK);
    assert_non_null(t);
    return t;
}

#define END (-1)
#define MAXIDS 40

static size_t id_count(const int32_t *ids)
{
    size_t n = 0;
    while (ids[n] != END)
        n++;
    return n;
}

static void assert_ids(const char *what, const int32_t *got, size_t n_got, const int32_t *want,
                       size_t n_want)
{
    bool same = n_got == n_want;
    for (size_t i = 0; same && i < n_got; i++)
        same = got[i] == want[i];
    if (same)
        return;
    char g[512] = "", w[512] = "";
    for (size_t i = 0; i < n_got && strlen(g) < 480; i++)
        snprintf(g + strlen(g), sizeof g - strlen(g), " %d", got[i]);
    for (size_t i = 0; i < n_want && strlen(w) < 480; i++)
        snprintf(w + strlen(w), sizeof w - strlen(w), " %d", want[i]);
    fail_msg("%s: got [%s ], want [%s ]", what, g, w);
}

/* ---- table: single texts ------------------------------------------------------------------------
 */

typedef struct enc_case {
    const char *name;
    enum variant v;
    const char *text;
    size_t len; /* 0: strlen(text) */
    int32_t ids[MAXIDS];
} enc_case;

#define AAC4 "\xc3\xa1\xc3\xa1\xc3\xa1\xc3\xa1"                /* four á */
#define ACOMB4 "a\314\201a\314\201a\314\201a\314\201"          /* four a + U+0301 */
#define A12_IDS 26, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27 /* a, then ##a 11 times */

static const enc_case ENC_CASES[] = {
    /* Accents: lower-case, then NFD and drop Mn, when strip is in effect. */
    {"cafe uncased", UNCASED, "caf\xc3\xa9", 0, {2, 5, 3, END}},
    {"CAFE uncased", UNCASED, "CAF\xc3\x89", 0, {2, 5, 3, END}},
    {"cafe lower keep", LOWER_KEEP, "caf\xc3\xa9", 0, {2, 6, 3, END}},
    /* "Café" unchanged: no prefix C, Ca ... is in the vocabulary. */
    {"Cafe cased", CASED, "Caf\xc3\xa9", 0, {2, 1, 3, END}},
    {"cafe strip only", STRIP_ONLY, "caf\xc3\xa9", 0, {2, 5, 3, END}},
    /* Decomposed e + U+0301: stripped; kept, "cafe" then "##\u0301" misses. */
    {"decomposed uncased", UNCASED, "cafe\xcc\x81", 0, {2, 5, 3, END}},
    {"decomposed lower keep", LOWER_KEEP, "cafe\xcc\x81", 0, {2, 1, 3, END}},
    {"naive uncased", UNCASED, "na\xc3\xafve", 0, {2, 7, 3, END}},
    {"NAIVE lower keep", LOWER_KEEP, "NA\xc3\x8fVE", 0, {2, 8, 3, END}},
    {"angstrom uncased", UNCASED, "\xc3\x85ngstr\xc3\xb6m", 0, {2, 9, 3, END}},
    {"angstrom lower keep", LOWER_KEEP, "\xc3\x85ngstr\xc3\xb6m", 0, {2, 10, 3, END}},
    {"angstrom cased", CASED, "\xc3\x85ngstr\xc3\xb6m", 0, {2, 11, 3, END}},
    {"angstrom strip only", STRIP_ONLY, "\xc3\x85ngstr\xc3\xb6m", 0, {2, 1, 3, END}},
    /* U+212B ANGSTROM SIGN lower-cases to å; cased it is not U+00C5 (no NFC). */
    {"angstrom sign uncased", UNCASED, "\xe2\x84\xabngstr\xc3\xb6m", 0, {2, 9, 3, END}},
    {"angstrom sign cased", CASED, "\xe2\x84\xabngstr\xc3\xb6m", 0, {2, 1, 3, END}},
    /* Punctuation: ASCII, ASCII symbols BERT treats as punctuation, Unicode P*. */
    {"ascii punct", UNCASED, "hello, world!", 0, {2, 12, 14, 13, 16, 3, END}},
    {"dollar splits", UNCASED, "hello$world", 0, {2, 12, 17, 13, 3, END}},
    {"guillemets dash",
     UNCASED,
     "\xc2\xabhello\xc2\xbb \xe2\x80\x94 world",
     0,
     {2, 18, 12, 19, 20, 13, 3, END}},
    {"dash inside word", UNCASED, "hello\xe2\x80\x94world", 0, {2, 12, 20, 13, 3, END}},
    /* The euro sign is Sc, not punctuation: "hello€" is one word, "##€" misses. */
    {"symbol not punct", UNCASED, "hello\xe2\x82\xac", 0, {2, 1, 3, END}},
    /* CJK ideographs stand alone; without split_cjk "中国" is one word. */
    {"cjk", UNCASED, "\xe4\xb8\xad\xe5\x9b\xbd", 0, {2, 21, 22, 3, END}},
    {"cjk in latin", UNCASED, "hello\xe4\xb8\xad\xe5\x9b\xbdworld", 0, {2, 12, 21, 22, 13, 3, END}},
    {"cjk extension b", UNCASED, "hello\xf0\xa0\xae\xb7world", 0, {2, 12, 33, 13, 3, END}},
    {"cjk not split", NO_CJK, "\xe4\xb8\xad\xe5\x9b\xbd", 0, {2, 1, 3, END}},
    {"cjk not split latin", NO_CJK, "hello\xe4\xb8\xad", 0, {2, 1, 3, END}},
    /* WordPiece. */
    {"wordpiece", UNCASED, "unaffable", 0, {2, 23, 24, 25, 3, END}},
    {"wordpiece upper punct", UNCASED, "UNAFFABLE!", 0, {2, 23, 24, 25, 16, 3, END}},
    {"wordpiece tail misses", UNCASED, "unaffablex hello", 0, {2, 1, 12, 3, END}},
    {"wordpiece no start", UNCASED, "xhello", 0, {2, 1, 3, END}},
    /* max_chars_per_word 12: 12 chars split, 13 become one [UNK], counted per piece. */
    {"12 chars", UNCASED, "aaaaaaaaaaaa", 0, {2, A12_IDS, 3, END}},
    {"13 chars", UNCASED, "aaaaaaaaaaaaa", 0, {2, 1, 3, END}},
    {"13 chars then punct", UNCASED, "aaaaaaaaaaaaa.hello", 0, {2, 1, 15, 12, 3, END}},
    {"long word of short pieces",
     UNCASED,
     "aaaaaaaaaaaa,aaaaaaaaaaaa",
     0,
     {2, A12_IDS, 14, A12_IDS, 3, END}},
    /* Twelve and thirteen á (two bytes each; stripped to a). */
    {"12 multibyte chars", UNCASED, AAC4 AAC4 AAC4, 0, {2, A12_IDS, 3, END}},
    {"13 multibyte chars", UNCASED, AAC4 AAC4 AAC4 "\xc3\xa1", 0, {2, 1, 3, END}},
    /* Twelve a + U+0301: 24 chars, 12 once stripped (the cap applies after). */
    {"12 chars after strip", UNCASED, ACOMB4 ACOMB4 ACOMB4, 0, {2, A12_IDS, 3, END}},
    {"24 chars unstripped", LOWER_KEEP, ACOMB4 ACOMB4 ACOMB4, 0, {2, 1, 3, END}},
    /* NFD puts marks in combining-class order: U+1D16D (226) after U+1D165 (216);
     * they are Mc, so stripping keeps them. Without NFD the order stays. */
    {"canonical order", UNCASED, "b\xf0\x9d\x85\xad\xf0\x9d\x85\xa5", 0, {2, 34, 3, END}},
    {"canonical order kept", UNCASED, "b\xf0\x9d\x85\xa5\xf0\x9d\x85\xad", 0, {2, 34, 3, END}},
    {"no reordering without nfd",
     LOWER_KEEP,
     "b\xf0\x9d\x85\xad\xf0\x9d\x85\xa5",
     0,
     {2, 1, 3, END}},
    /* Empty and blank. */
    {"empty", UNCASED, "", 0, {2, 3, END}},
    {"whitespace only", UNCASED, " \t\n\r \xc2\xa0\xe3\x80\x80\xe2\x80\x83 ", 0, {2, 3, END}},
    /* Clean-up drops controls (C*), NUL and U+FFFD without splitting the word. */
    {"control joins", UNCASED, "hel\x01lo", 0, {2, 12, 3, END}},
    {"nul and del", UNCASED, "\0hello\x7f world", 13, {2, 12, 13, 3, END}},
    {"zero width space (Cf)", UNCASED, "hel\xe2\x80\x8blo", 0, {2, 12, 3, END}},
    {"replacement char", UNCASED, "hel\xef\xbf\xbdlo", 0, {2, 12, 3, END}},
    /* NEL (U+0085) is Cc: dropped, so "helloworld" is one word ("##world" misses). */
    {"nel is control", UNCASED, "hello\xc2\x85world", 0, {2, 1, 3, END}},
    /* U+2028 separates words, as Python's str.split does. */
    {"line separator", UNCASED, "hello\xe2\x80\xa8world", 0, {2, 12, 13, 3, END}},
    /* Python's lower(): final sigma at a word end, U+0130 -> "i" U+0307. */
    {"final sigma", UNCASED, "\xce\x9f\xce\x94\xce\x9f\xce\xa3", 0, {2, 31, 3, END}},
    {"final sigma before dot",
     UNCASED,
     "\xce\x9f\xce\x94\xce\x9f\xce\xa3.",
     0,
     {2, 31, 15, 3, END}},
    {"lone sigma", UNCASED, "\xce\xa3", 0, {2, 29, 3, END}},
    {"dotted I stripped", UNCASED, "\xc4\xb0", 0, {2, 28, 3, END}},
    {"dotted I kept", LOWER_KEEP, "\xc4\xb0", 0, {2, 1, 3, END}},
    /* Case. */
    {"cased hello", CASED, "Hello hello HELLO", 0, {2, 32, 12, 1, 3, END}},
};

static void test_encode_table(void **state)
{
    (void)state;
    lore_tokenizer *tok[N_VARIANTS];
    for (int v = 0; v < N_VARIANTS; v++)
        tok[v] = new_small((enum variant)v, LORE_UTF8_STRICT);
    for (size_t c = 0; c < sizeof ENC_CASES / sizeof ENC_CASES[0]; c++) {
        const enc_case *k = &ENC_CASES[c];
        int32_t ids[64];
        size_t n = 99;
        lore_encode_info info;
        const size_t len = k->len ? k->len : strlen(k->text);
        lore_status s = lore_tokenizer_encode(tok[k->v], k->text, len, 64, ids, &n, &info);
        if (s != LORE_OK)
            fail_msg("%s: %s", k->name, lore_last_error());
        const size_t want = id_count(k->ids);
        assert_ids(k->name, ids, n, k->ids, want);
        assert_int_equal(info.n_tokens_full, want);
        assert_false(info.truncated);
        assert_int_equal(info.n_invalid_utf8, 0);
        size_t unk = 0;
        for (size_t i = 0; i < want; i++)
            unk += k->ids[i] == 1;
        assert_int_equal(info.n_unk, unk);
    }
    for (int v = 0; v < N_VARIANTS; v++)
        lore_tokenizer_free(tok[v]);
}

/* ---- invalid UTF-8
 * --------------------------------------------------------------------------------- */

typedef struct utf8_case {
    const char *name;
    const char *text;
    size_t offset;    /* first bad byte (strict) */
    size_t n_invalid; /* maximal subparts (replace) */
    int32_t ids[MAXIDS];
} utf8_case;

static const utf8_case UTF8_CASES[] = {
    {"truncated at end", "hello\xc3", 5, 1, {2, 12, 3, END}},
    {"truncated 3-byte inside", "hel\xe2\x82lo", 3, 1, {2, 12, 3, END}},
    {"truncated 4-byte", "hello \xf0\x9f\x98", 6, 1, {2, 12, 3, END}},
    /* C0 can never start a sequence; AF is then a stray continuation. */
    {"overlong 2-byte", "hel\xc0\xaflo", 3, 2, {2, 12, 3, END}},
    {"overlong 3-byte", "hello \xe0\x80\xaf world", 6, 3, {2, 12, 13, 3, END}},
    {"lone continuation", "\x80hello", 0, 1, {2, 12, 3, END}},
    {"surrogate", "hello\xed\xa0\x80", 5, 3, {2, 12, 3, END}},
    {"above U+10FFFF", "\xf4\x90\x80\x80hello", 0, 4, {2, 12, 3, END}},
    {"F5 and FF", "hello \xf5\xff", 6, 2, {2, 12, 3, END}},
};

static void test_invalid_utf8(void **state)
{
    (void)state;
    lore_tokenizer *strict = new_small(UNCASED, LORE_UTF8_STRICT);
    lore_tokenizer *repl = new_small(UNCASED, LORE_UTF8_REPLACE);
    for (size_t c = 0; c < sizeof UTF8_CASES / sizeof UTF8_CASES[0]; c++) {
        const utf8_case *k = &UTF8_CASES[c];
        int32_t ids[64];
        size_t n = 99;
        lore_encode_info info;
        int64_t before = lore_counter_read(LORE_COUNTER_TOKENIZER_INVALID_UTF8);
        assert_int_equal(
            lore_tokenizer_encode(strict, k->text, strlen(k->text), 64, ids, &n, &info),
            LORE_EINVAL);
        assert_int_equal(n, 0);
        assert_int_equal(info.n_invalid_utf8, 1);
        char want[64];
        snprintf(want, sizeof want, "offset %zu ", k->offset);
        if (!strstr(lore_last_error(), want))
            fail_msg("%s: message \"%s\" lacks \"%s\"", k->name, lore_last_error(), want);
        assert_int_equal(lore_counter_read(LORE_COUNTER_TOKENIZER_INVALID_UTF8) - before, 1);

        before = lore_counter_read(LORE_COUNTER_TOKENIZER_INVALID_UTF8);
        assert_int_equal(lore_tokenizer_encode(repl, k->text, strlen(k->text), 64, ids, &n, &info),
                         LORE_OK);
        assert_ids(k->name, ids, n, k->ids, id_count(k->ids));
        if (info.n_invalid_utf8 != k->n_invalid)
            fail_msg("%s: %zu invalid sequences, want %zu", k->name, info.n_invalid_utf8,
                     k->n_invalid);
        assert_int_equal(lore_counter_read(LORE_COUNTER_TOKENIZER_INVALID_UTF8) - before,
                         (int64_t)k->n_invalid);
    }
    /* Pairs name the text. */
    int32_t ids[16], types[16];
    size_t n;
    assert_int_equal(
        lore_tokenizer_encode_pair(strict, "hello", 5, "a\xff", 2, 16, ids, types, &n, NULL),
        LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "text b"));
    assert_non_null(strstr(lore_last_error(), "offset 1 "));
    lore_tokenizer_free(strict);
    lore_tokenizer_free(repl);
}

/* ---- truncation, pairs, counters, argument checks -----------------------------------------------
 */

static void test_truncation_single(void **state)
{
    (void)state;
    lore_tokenizer *t = new_small(UNCASED, LORE_UTF8_STRICT);
    const char *text = "hello world x hello";
    int32_t ids[16];
    size_t n;
    lore_encode_info info;
    const struct {
        size_t max;
        int32_t ids[8];
        size_t n_unk;
    } cases[] = {
        {2, {2, 3, END}, 0},
        {4, {2, 12, 13, 3, END}, 0},
        {5, {2, 12, 13, 1, 3, END}, 1},
        {6, {2, 12, 13, 1, 12, 3, END}, 1},
        {16, {2, 12, 13, 1, 12, 3, END}, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t unk_before = lore_counter_read(LORE_COUNTER_TOKENIZER_UNK);
        assert_int_equal(lore_tokenizer_encode(t, text, strlen(text), cases[c].max, ids, &n, &info),
                         LORE_OK);
        assert_ids("truncation", ids, n, cases[c].ids, id_count(cases[c].ids));
        assert_int_equal(info.n_tokens_full, 6);
        assert_int_equal(info.truncated, cases[c].max < 6);
        assert_int_equal(info.n_unk, cases[c].n_unk);
        assert_int_equal(lore_counter_read(LORE_COUNTER_TOKENIZER_UNK) - unk_before,
                         (int64_t)cases[c].n_unk);
    }
    /* Nothing is written past max_tokens. */
    for (int i = 0; i < 16; i++)
        ids[i] = 77;
    assert_int_equal(lore_tokenizer_encode(t, text, strlen(text), 3, ids, &n, NULL), LORE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[3], 77);
    lore_tokenizer_free(t);
}

typedef struct pair_case {
    const char *a, *b;
    size_t max;
    int32_t ids[MAXIDS];
    size_t n_a_kept; /* type ids: 0 for [CLS] + n_a_kept + [SEP], then 1 */
} pair_case;

static const pair_case PAIR_CASES[] = {
    {"hello", "world", 16, {2, 12, 3, 13, 3, END}, 1},
    {"hello", "", 16, {2, 12, 3, 3, END}, 1},
    {"", "", 3, {2, 3, 3, END}, 0},
    /* 3 + 1 into 3: a is longer, loses one. */
    {"hello world hello", "world", 6, {2, 12, 13, 3, 13, 3, END}, 2},
    /* 2 + 2 into 3: a tie, b loses. */
    {"hello world", "world hello", 6, {2, 12, 13, 3, 13, 3, END}, 2},
    /* 2 + 2 into 2: b, then a. */
    {"hello world", "world hello", 5, {2, 12, 3, 13, 3, END}, 1},
    /* 1 + 3 into 2: b loses two. */
    {"hello", "world hello world", 5, {2, 12, 3, 13, 3, END}, 1},
    /* 1 + 3 into 3. */
    {"hello", "world hello world", 6, {2, 12, 3, 13, 12, 3, END}, 1},
    /* 6 + 1 into 3: a loses four. */
    {"a a a a a a", "hello", 6, {2, 26, 26, 3, 12, 3, END}, 2},
    /* 5 + 4 into 6: a to 4 (tie), then b, then a: 3 + 3. */
    {"a a a a a", "hello hello hello hello", 9, {2, 26, 26, 26, 3, 12, 12, 12, 3, END}, 3},
};

static void test_pairs(void **state)
{
    (void)state;
    lore_tokenizer *t = new_small(UNCASED, LORE_UTF8_STRICT);
    for (size_t c = 0; c < sizeof PAIR_CASES / sizeof PAIR_CASES[0]; c++) {
        const pair_case *k = &PAIR_CASES[c];
        int32_t ids[MAXIDS], types[MAXIDS];
        for (int i = 0; i < MAXIDS; i++)
            ids[i] = types[i] = 77;
        size_t n = 0;
        lore_encode_info info;
        assert_int_equal(lore_tokenizer_encode_pair(t, k->a, strlen(k->a), k->b, strlen(k->b),
                                                    k->max, ids, types, &n, &info),
                         LORE_OK);
        char what[96];
        snprintf(what, sizeof what, "pair %zu (\"%s\", \"%s\", %zu)", c, k->a, k->b, k->max);
        const size_t want = id_count(k->ids);
        assert_ids(what, ids, n, k->ids, want);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(types[i], i < k->n_a_kept + 2 ? 0 : 1);
        assert_true(n <= k->max);
        if (k->max < MAXIDS)
            assert_int_equal(ids[k->max], 77); /* nothing past max_tokens */
        assert_int_equal(info.truncated, info.n_tokens_full > n);
    }
    lore_tokenizer_free(t);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    lore_tokenizer *t = new_small(UNCASED, LORE_UTF8_STRICT);
    int32_t ids[8], types[8];
    size_t n = 5;
    assert_int_equal(lore_tokenizer_encode(t, "a", 1, 1, ids, &n, NULL), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "max_tokens"));
    assert_int_equal(n, 0);
    assert_int_equal(lore_tokenizer_encode(t, NULL, 3, 8, ids, &n, NULL), LORE_EINVAL);
    assert_int_equal(lore_tokenizer_encode(NULL, "a", 1, 8, ids, &n, NULL), LORE_EINVAL);
    assert_int_equal(lore_tokenizer_encode(t, "a", 1, 8, NULL, &n, NULL), LORE_EINVAL);
    assert_int_equal(lore_tokenizer_encode(t, NULL, 0, 8, ids, &n, NULL), LORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(lore_tokenizer_encode_pair(t, "a", 1, "b", 1, 2, ids, types, &n, NULL),
                     LORE_EINVAL);
    assert_int_equal(lore_tokenizer_encode_pair(t, "a", 1, "b", 1, 8, ids, ids, &n, NULL),
                     LORE_EINVAL);
    assert_int_equal(lore_tokenizer_encode_pair(t, "a", 1, NULL, 1, 8, ids, types, &n, NULL),
                     LORE_EINVAL);

    /* Accessors. */
    assert_int_equal(lore_tokenizer_vocab_size(t), N_VOCAB);
    for (size_t i = 0; i < N_VOCAB; i++) {
        assert_string_equal(lore_tokenizer_token(t, (int32_t)i), VOCAB[i]);
        assert_int_equal(lore_tokenizer_token_id(t, VOCAB[i]), (int32_t)i);
    }
    assert_int_equal(lore_tokenizer_token_id(t, "aff"), -1);
    assert_int_equal(lore_tokenizer_token_id(t, "##"), -1);
    assert_null(lore_tokenizer_token(t, -1));
    assert_null(lore_tokenizer_token(t, (int32_t)N_VOCAB));
    lore_special_ids sp = lore_tokenizer_special_ids(t);
    assert_int_equal(sp.pad, 0);
    assert_int_equal(sp.unk, 1);
    assert_int_equal(sp.cls, 2);
    assert_int_equal(sp.sep, 3);
    lore_tokenizer_free(t);
    lore_tokenizer_free(NULL);
    assert_int_equal(lore_tokenizer_vocab_size(NULL), 0);
}

static void test_bad_params(void **state)
{
    (void)state;
    const struct {
        int max_chars, strip;
        int utf8;
        const char *field;
    } bad[] = {
        {0, -1, 0, "max_chars_per_word"},
        {LORE__TOK_MAX_CHARS_LIMIT + 1, -1, 0, "max_chars_per_word"},
        {100, 2, 0, "strip_accents"},
        {100, -2, 0, "strip_accents"},
        {100, -1, 7, "utf8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lore_tokenizer_params p = lore_tokenizer_default_params();
        p.max_chars_per_word = bad[i].max_chars;
        p.strip_accents = bad[i].strip;
        p.utf8 = (lore_utf8_policy)bad[i].utf8;
        lore_tokenizer *t = (lore_tokenizer *)&p; /* must be reset to NULL */
        assert_int_equal(lore_tokenizer_new_from_tokens(VOCAB, N_VOCAB, &p, &t), LORE_EINVAL);
        assert_null(t);
        assert_non_null(strstr(lore_last_error(), bad[i].field));
        t = (lore_tokenizer *)&p;
        assert_int_equal(lore_tokenizer_new_synthetic(1000, 1, &p, &t), LORE_EINVAL);
        assert_null(t);
    }
    lore_tokenizer_params p = lore_tokenizer_default_params();
    assert_true(p.lowercase);
    assert_int_equal(p.strip_accents, -1);
    assert_true(p.split_cjk);
    assert_int_equal(p.max_chars_per_word, 100);
    assert_int_equal(p.utf8, LORE_UTF8_STRICT);
    p.max_chars_per_word = LORE__TOK_MAX_CHARS_LIMIT;
    lore_tokenizer *t = NULL;
    assert_int_equal(lore_tokenizer_new_from_tokens(VOCAB, N_VOCAB, &p, &t), LORE_OK);
    /* A word at the ceiling still splits; one more char is [UNK]. */
    char word[LORE__TOK_MAX_CHARS_LIMIT + 2];
    memset(word, 'a', sizeof word);
    int32_t *ids = malloc((LORE__TOK_MAX_CHARS_LIMIT + 2) * sizeof *ids);
    size_t n;
    assert_non_null(ids);
    assert_int_equal(lore_tokenizer_encode(t, word, LORE__TOK_MAX_CHARS_LIMIT,
                                           LORE__TOK_MAX_CHARS_LIMIT + 2, ids, &n, NULL),
                     LORE_OK);
    assert_int_equal(n, LORE__TOK_MAX_CHARS_LIMIT + 2);
    assert_int_equal(ids[LORE__TOK_MAX_CHARS_LIMIT], 27);
    assert_int_equal(lore_tokenizer_encode(t, word, LORE__TOK_MAX_CHARS_LIMIT + 1,
                                           LORE__TOK_MAX_CHARS_LIMIT + 2, ids, &n, NULL),
                     LORE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], 1);
    free(ids);
    lore_tokenizer_free(t);
}

/* ---- vocabulary files
 * ---------------------------------------------------------------------------- */

static char g_dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/lore-test-tok-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char path[128];
    for (int i = 0; i < 32; i++) {
        snprintf(path, sizeof path, "%s/v%d.txt", g_dir, i);
        unlink(path);
    }
    return rmdir(g_dir);
}

/* Writes content (len bytes) to a fresh file of the test folder; returns its path (static). */
static const char *write_vocab(const char *content, size_t len)
{
    static int counter;
    static char path[128];
    snprintf(path, sizeof path, "%s/v%d.txt", g_dir, counter++ % 32);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    fclose(f);
    return path;
}

static void expect_load_error(const char *content, lore_status want, const char *msg1,
                              const char *msg2)
{
    const char *path = write_vocab(content, strlen(content));
    lore_tokenizer *t = (lore_tokenizer *)&t;
    lore_status s = lore_tokenizer_load(path, NULL, &t);
    if (s != want)
        fail_msg("vocab \"%s\": status %d, want %d (%s)", content, s, want, lore_last_error());
    assert_null(t);
    const char *m = lore_last_error();
    if (!strstr(m, path) || (msg1 && !strstr(m, msg1)) || (msg2 && !strstr(m, msg2)))
        fail_msg("message \"%s\" should name %s, %s, %s", m, path, msg1 ? msg1 : "-",
                 msg2 ? msg2 : "-");
}

static void test_vocab_files(void **state)
{
    (void)state;
    /* "\r\n" lines, trailing newline or none. */
    const char *crlf = "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\nworld\r\n";
    const char *bare = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld";
    const char *texts[] = {crlf, bare};
    for (int i = 0; i < 2; i++) {
        lore_tokenizer *t = NULL;
        assert_int_equal(lore_tokenizer_load(write_vocab(texts[i], strlen(texts[i])), NULL, &t),
                         LORE_OK);
        assert_int_equal(lore_tokenizer_vocab_size(t), 6);
        assert_string_equal(lore_tokenizer_token(t, 4), "hello");
        assert_string_equal(lore_tokenizer_token(t, 5), "world");
        int32_t ids[8];
        size_t n;
        assert_int_equal(lore_tokenizer_encode(t, "Hello WORLD", 11, 8, ids, &n, NULL), LORE_OK);
        const int32_t want[] = {2, 4, 5, 3};
        assert_ids("crlf vocab", ids, n, want, 4);
        lore_tokenizer_free(t);
    }
    lore_tokenizer *t = (lore_tokenizer *)&t;
    char missing[128];
    snprintf(missing, sizeof missing, "%s/no-such-vocab.txt", g_dir);
    assert_int_equal(lore_tokenizer_load(missing, NULL, &t), LORE_EIO);
    assert_null(t);
    assert_non_null(strstr(lore_last_error(), missing));

    expect_load_error("[PAD]\n[UNK]\n\n[CLS]\n[SEP]\n", LORE_ECORRUPT, "line 3", "empty");
    expect_load_error("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n\n", LORE_ECORRUPT, "line 6", "empty");
    expect_load_error("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\r\n\r\n", LORE_ECORRUPT, "line 6",
                      "empty");
    expect_load_error("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\nhello\n", LORE_ECORRUPT, "line 7",
                      "\"hello\" (first at line 5)");
    expect_load_error("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhel\xfflo\n", LORE_ECORRUPT, "line 5", "UTF-8");
    expect_load_error("[PAD]\n[UNK]\n[CLS]\n[SEP]\n\xed\xa0\x80\n", LORE_ECORRUPT, "line 5",
                      "UTF-8");
    expect_load_error("", LORE_ECORRUPT, "[PAD]", NULL);
    expect_load_error("[UNK]\n[CLS]\n[SEP]\n", LORE_ECORRUPT, "[PAD]", NULL);
    expect_load_error("[PAD]\n[CLS]\n[SEP]\n", LORE_ECORRUPT, "[UNK]", NULL);
    expect_load_error("[PAD]\n[UNK]\n[SEP]\n", LORE_ECORRUPT, "[CLS]", NULL);
    expect_load_error("[PAD]\n[UNK]\n[CLS]\n", LORE_ECORRUPT, "[SEP]", NULL);

    /* A NUL inside a line is not a token. */
    const char nul[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhe\0llo\n";
    const char *path = write_vocab(nul, sizeof nul - 1);
    t = (lore_tokenizer *)&t;
    assert_int_equal(lore_tokenizer_load(path, NULL, &t), LORE_ECORRUPT);
    assert_null(t);
    assert_non_null(strstr(lore_last_error(), "line 5"));

    /* The same rules for a token list. */
    const char *dup[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "x", "x"};
    const char *empty[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", ""};
    const char *no_sep[] = {"[PAD]", "[UNK]", "[CLS]"};
    const char *with_null[] = {"[PAD]", NULL};
    assert_int_equal(lore_tokenizer_new_from_tokens(dup, 6, NULL, &t), LORE_ECORRUPT);
    assert_non_null(strstr(lore_last_error(), "duplicate"));
    assert_int_equal(lore_tokenizer_new_from_tokens(empty, 5, NULL, &t), LORE_ECORRUPT);
    assert_int_equal(lore_tokenizer_new_from_tokens(no_sep, 3, NULL, &t), LORE_ECORRUPT);
    assert_non_null(strstr(lore_last_error(), "[SEP]"));
    assert_int_equal(lore_tokenizer_new_from_tokens(with_null, 2, NULL, &t), LORE_EINVAL);
    assert_int_equal(lore_tokenizer_new_from_tokens(NULL, 2, NULL, &t), LORE_EINVAL);
    assert_null(t);
}

/* ---- the synthetic vocabulary
 * --------------------------------------------------------------------- */

static void test_synthetic_vocab(void **state)
{
    (void)state;
    const size_t sizes[] = {1000, 30522};
    for (size_t k = 0; k < 2; k++) {
        const size_t v = sizes[k];
        lore_tokenizer *a = NULL, *b = NULL, *c = NULL;
        assert_int_equal(lore_tokenizer_new_synthetic(v, 42, NULL, &a), LORE_OK);
        assert_int_equal(lore_tokenizer_new_synthetic(v, 42, NULL, &b), LORE_OK);
        assert_int_equal(lore_tokenizer_new_synthetic(v, 43, NULL, &c), LORE_OK);
        assert_int_equal(lore_tokenizer_vocab_size(a), v);
        assert_int_equal(lore_tokenizer_vocab_size(c), v);
        size_t differ = 0;
        for (size_t i = 0; i < v; i++) {
            const char *ta = lore_tokenizer_token(a, (int32_t)i);
            assert_non_null(ta);
            assert_true(strlen(ta) >= 1 && strlen(ta) <= 16);
            assert_string_equal(ta, lore_tokenizer_token(b, (int32_t)i));
            differ += strcmp(ta, lore_tokenizer_token(c, (int32_t)i)) != 0;
            /* No duplicates: every token maps back to its own id. */
            assert_int_equal(lore_tokenizer_token_id(a, ta), (int32_t)i);
        }
        assert_true(differ > v / 10);
        lore_special_ids sp = lore_tokenizer_special_ids(a);
        assert_int_equal(sp.pad, 0);
        assert_int_equal(sp.unk, 100);
        assert_int_equal(sp.cls, 101);
        assert_int_equal(sp.sep, 102);
        assert_string_equal(lore_tokenizer_token(a, 103), "[MASK]");
        assert_string_equal(lore_tokenizer_token(a, 1), "[unused0]");
        assert_string_equal(lore_tokenizer_token(a, 99), "[unused98]");
        /* Every printable ASCII character, bare and as a continuation. */
        for (int ch = 33; ch < 127; ch++) {
            char s[4] = {'#', '#', (char)ch, 0};
            assert_true(lore_tokenizer_token_id(a, s + 2) >= LORE__TOK_SYNTH_FIRST_FREE);
            assert_true(lore_tokenizer_token_id(a, s) >= LORE__TOK_SYNTH_FIRST_FREE);
        }
        assert_int_equal(lore_tokenizer_token_id(a, "!"), LORE__TOK_SYNTH_FIRST_FREE);
        lore_tokenizer_free(a);
        lore_tokenizer_free(b);
        lore_tokenizer_free(c);
    }
    lore_tokenizer *t = (lore_tokenizer *)&t;
    assert_int_equal(lore_tokenizer_new_synthetic(999, 1, NULL, &t), LORE_EINVAL);
    assert_null(t);
    assert_non_null(strstr(lore_last_error(), "999"));
}

static void test_synthetic_words(void **state)
{
    (void)state;
    char w[16], w2[16];
    size_t hist[16] = {0}, differ = 0;
    const size_t n_words = 30000;
    for (uint64_t i = 0; i < n_words; i++) {
        const size_t n = lore_tokenizer_synthetic_word(42, i, w);
        assert_true(n >= 1 && n <= 15);
        assert_int_equal(strlen(w), n);
        for (size_t j = 0; j < n; j++)
            assert_true(w[j] >= 'a' && w[j] <= 'z');
        assert_int_equal(lore_tokenizer_synthetic_word(42, i, w2), n);
        assert_string_equal(w, w2);
        lore_tokenizer_synthetic_word(43, i, w2);
        differ += strcmp(w, w2) != 0;
        hist[n]++;
    }
    assert_true(differ > n_words / 2);
    size_t short_words = 0, tail = 0;
    for (int n = 2; n <= 7; n++)
        short_words += hist[n];
    for (int n = 12; n <= 15; n++)
        tail += hist[n];
    assert_true(short_words > n_words / 2); /* mostly 2-7 letters */
    assert_true(tail > 0 && tail < n_words / 10);

    /* Frequent words are whole; rare ones split into several pieces, never [UNK]. */
    lore_tokenizer *t = NULL;
    assert_int_equal(lore_tokenizer_new_synthetic(30522, 42, NULL, &t), LORE_OK);
    int32_t ids[32];
    size_t n, pieces = 0, words = 0;
    lore_encode_info info;
    for (uint64_t i = 0; i < 1000; i++) {
        const size_t len = lore_tokenizer_synthetic_word(42, i, w);
        assert_int_equal(lore_tokenizer_encode(t, w, len, 32, ids, &n, NULL), LORE_OK);
        assert_int_equal(n, 3);
    }
    for (uint64_t i = 25000; i < 26000; i++) {
        const size_t len = lore_tokenizer_synthetic_word(42, i, w);
        assert_int_equal(lore_tokenizer_encode(t, w, len, 32, ids, &n, &info), LORE_OK);
        assert_int_equal(info.n_unk, 0);
        pieces += n - 2;
        words++;
    }
    assert_true(pieces > words * 3 / 2);
    lore_tokenizer_free(t);
    assert_int_equal(lore_tokenizer_synthetic_word(1, 1, NULL), 0);
}

/* ---- encode with offsets
 * -------------------------------------------------------------------------- */

#define NO_OFF ((size_t)-1)

typedef struct off_case {
    const char *name;
    lore_utf8_policy utf8;
    const char *text;
    int32_t ids[MAXIDS];
    size_t offsets[MAXIDS]; /* byte offset of each id's word in text */
} off_case;

/* Each piece points at its word's first byte in the source; pieces of one word share it. */
static const off_case OFF_CASES[] = {
    {"ascii", LORE_UTF8_STRICT, "hello, world!", {12, 14, 13, 16, END}, {0, 5, 7, 12}},
    {"spaces", LORE_UTF8_STRICT, "  hello \t\n world  ", {12, 13, END}, {2, 11}},
    {"multibyte word", LORE_UTF8_STRICT, "caf\xc3\xa9 hello", {5, 12, END}, {0, 6}},
    /* The accent is stripped, yet the next word's offset counts its two bytes. */
    {"decomposed accent", LORE_UTF8_STRICT, "cafe\xcc\x81 world", {5, 13, END}, {0, 7}},
    /* A leading combining mark is dropped: the word starts at its first kept char. */
    {"leading mark", LORE_UTF8_STRICT, "\xcc\x81hello", {12, END}, {2}},
    {"punct multibyte",
     LORE_UTF8_STRICT,
     "\xc2\xabhello\xc2\xbb \xe2\x80\x94 world",
     {18, 12, 19, 20, 13, END},
     {0, 2, 7, 10, 14}},
    {"cjk",
     LORE_UTF8_STRICT,
     "hello\xe4\xb8\xad\xe5\x9b\xbdworld",
     {12, 21, 22, 13, END},
     {0, 5, 8, 11}},
    {"cjk 4-byte", LORE_UTF8_STRICT, "hello\xf0\xa0\xae\xb7world", {12, 33, 13, END}, {0, 5, 9}},
    {"wordpiece", LORE_UTF8_STRICT, "a unaffable", {26, 23, 24, 25, END}, {0, 2, 2, 2}},
    /* WordPiece gives up after "un ##aff ##able" and rewinds to one [UNK]. */
    {"wordpiece rewind", LORE_UTF8_STRICT, "unaffablex hello", {1, 12, END}, {0, 11}},
    {"overflow", LORE_UTF8_STRICT, "aaaaaaaaaaaaa.hello", {1, 15, 12, END}, {0, 13, 14}},
    {"control inside", LORE_UTF8_STRICT, "x hel\x01lo", {1, 12, END}, {0, 2}},
    {"control first", LORE_UTF8_STRICT, "\x01\x02hello", {12, END}, {2}},
    {"dotted I", LORE_UTF8_STRICT, "a \xc4\xb0", {26, 28, END}, {0, 2}},
    {"invalid replaced", LORE_UTF8_REPLACE, "\x80hello \xff\xfe world", {12, 13, END}, {1, 10}},
    {"invalid inside", LORE_UTF8_REPLACE, "hel\xe2\x82lo world", {12, 13, END}, {0, 8}},
    {"empty", LORE_UTF8_STRICT, "", {END}, {0}},
};

static void test_encode_offsets(void **state)
{
    (void)state;
    lore_tokenizer *strict = new_small(UNCASED, LORE_UTF8_STRICT);
    lore_tokenizer *repl = new_small(UNCASED, LORE_UTF8_REPLACE);
    for (size_t c = 0; c < sizeof OFF_CASES / sizeof OFF_CASES[0]; c++) {
        const off_case *k = &OFF_CASES[c];
        const lore_tokenizer *t = k->utf8 == LORE_UTF8_STRICT ? strict : repl;
        int32_t ids[64];
        size_t offs[64], n = 99;
        lore_encode_info info;
        const lore_status s =
            lore_tokenizer_encode_offsets(t, k->text, strlen(k->text), 64, ids, offs, &n, &info);
        if (s != LORE_OK)
            fail_msg("%s: %s", k->name, lore_last_error());
        const size_t want = id_count(k->ids);
        assert_ids(k->name, ids, n, k->ids, want);
        for (size_t i = 0; i < n; i++)
            if (offs[i] != k->offsets[i])
                fail_msg("%s: piece %zu at offset %zu, want %zu", k->name, i, offs[i],
                         k->offsets[i]);
        assert_int_equal(info.n_tokens_full, want);
        assert_false(info.truncated);
    }

    /* Same ids as lore_tokenizer_encode less [CLS]/[SEP], for every table case and variant;
     * offsets never decrease and point inside the text. */
    lore_tokenizer *tok[N_VARIANTS];
    for (int v = 0; v < N_VARIANTS; v++)
        tok[v] = new_small((enum variant)v, LORE_UTF8_STRICT);
    for (size_t c = 0; c < sizeof ENC_CASES / sizeof ENC_CASES[0]; c++) {
        const enc_case *k = &ENC_CASES[c];
        const size_t len = k->len ? k->len : strlen(k->text);
        int32_t ids[64], ids2[64];
        size_t offs[64], n, n2;
        assert_int_equal(lore_tokenizer_encode(tok[k->v], k->text, len, 64, ids, &n, NULL),
                         LORE_OK);
        assert_int_equal(
            lore_tokenizer_encode_offsets(tok[k->v], k->text, len, 64, ids2, offs, &n2, NULL),
            LORE_OK);
        assert_ids(k->name, ids2, n2, ids + 1, n - 2);
        for (size_t i = 0; i < n2; i++) {
            assert_true(offs[i] < len);
            if (i)
                assert_true(offs[i] >= offs[i - 1]);
        }
    }
    for (int v = 0; v < N_VARIANTS; v++)
        lore_tokenizer_free(tok[v]);

    /* Truncation at max_ids: nothing written past it, n_tokens_full counts all. */
    const char *text = "hello world x hello";
    const size_t want_off[4] = {0, 6, 12, 14};
    for (size_t max = 1; max <= 6; max++) {
        int32_t ids[8];
        size_t offs[8], n;
        for (int i = 0; i < 8; i++) {
            ids[i] = 77;
            offs[i] = NO_OFF;
        }
        lore_encode_info info;
        assert_int_equal(
            lore_tokenizer_encode_offsets(strict, text, strlen(text), max, ids, offs, &n, &info),
            LORE_OK);
        assert_int_equal(n, max < 4 ? max : 4);
        assert_int_equal(info.n_tokens_full, 4);
        assert_int_equal(info.truncated, max < 4);
        assert_int_equal(info.n_unk, max >= 3 ? 1 : 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(offs[i], want_off[i]);
        assert_int_equal(ids[max], 77);
        assert_int_equal(offs[max], NO_OFF);
    }
    /* The rewind to [UNK] at the cap: the [UNK] keeps its word's offset. */
    {
        int32_t ids[4];
        size_t offs[4], n;
        lore_encode_info info;
        assert_int_equal(
            lore_tokenizer_encode_offsets(strict, "hello unaffablex", 16, 2, ids, offs, &n, &info),
            LORE_OK);
        assert_int_equal(n, 2);
        assert_int_equal(ids[1], 1);
        assert_int_equal(offs[1], 6);
        assert_int_equal(info.n_tokens_full, 2);
    }

    /* Errors. */
    int32_t ids[8];
    size_t offs[8], n = 5;
    lore_encode_info info;
    assert_int_equal(lore_tokenizer_encode_offsets(strict, "ab \xff", 4, 8, ids, offs, &n, &info),
                     LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "offset 3 "));
    assert_int_equal(n, 0);
    assert_int_equal(info.n_invalid_utf8, 1);
    assert_int_equal(lore_tokenizer_encode_offsets(strict, "a", 1, 0, ids, offs, &n, NULL),
                     LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "max_ids"));
    assert_int_equal(lore_tokenizer_encode_offsets(strict, "a", 1, 8, ids, NULL, &n, NULL),
                     LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "offsets"));
    assert_int_equal(lore_tokenizer_encode_offsets(NULL, "a", 1, 8, ids, offs, &n, NULL),
                     LORE_EINVAL);
    assert_int_equal(lore_tokenizer_encode_offsets(strict, NULL, 1, 8, ids, offs, &n, NULL),
                     LORE_EINVAL);
    assert_int_equal(lore_tokenizer_encode_offsets(strict, NULL, 0, 8, ids, offs, &n, NULL),
                     LORE_OK);
    assert_int_equal(n, 0);
    lore_tokenizer_free(strict);
    lore_tokenizer_free(repl);
}

/*
 * Synthetic text with punctuation, accents, CJK and controls: the ids are
 * encode's, and re-encoding the source from one word's offset to the next
 * word's gives exactly that word's pieces (so each offset is where its word
 * starts, not just somewhere before it).
 */
static void test_encode_offsets_synthetic(void **state)
{
    (void)state;
    lore_tokenizer *t = NULL;
    lore_tokenizer_params p = lore_tokenizer_default_params();
    p.utf8 = LORE_UTF8_REPLACE;
    assert_int_equal(lore_tokenizer_new_synthetic(30522, 5, &p, &t), LORE_OK);
    static const char *const EXTRA[] = {",",
                                        ". ",
                                        "\xc3\xa9",
                                        "\xe4\xb8\xad",
                                        "\x01",
                                        "'",
                                        "\xe2\x80\x94",
                                        "\n",
                                        "\xff",
                                        "\xc3\x89t\xc3\xa9",
                                        "(",
                                        "\xf0\x9f\x98\x80"};
    uint64_t rng = 99;
    enum { TEXT_CAP = 4096, IDS_CAP = 2048 };
    char *text = malloc(TEXT_CAP);
    int32_t *ids = malloc(IDS_CAP * sizeof *ids), *ref = malloc(IDS_CAP * sizeof *ref);
    int32_t *sub = malloc(IDS_CAP * sizeof *sub);
    size_t *offs = malloc(IDS_CAP * sizeof *offs), *sub_offs = malloc(IDS_CAP * sizeof *offs);
    assert_true(text && ids && ref && sub && offs && sub_offs);
    for (int r = 0; r < 50; r++) {
        size_t len = 0;
        while (len < TEXT_CAP - 64) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            const unsigned x = (unsigned)(rng >> 33);
            char w[16];
            const size_t n = lore_tokenizer_synthetic_word(5, x % 40000, w);
            if (x % 5 == 0)
                w[0] = (char)(w[0] - 32);
            memcpy(text + len, w, n);
            len += n;
            if ((x >> 8) % 3 == 0) {
                const char *e = EXTRA[(x >> 12) % (sizeof EXTRA / sizeof EXTRA[0])];
                memcpy(text + len, e, strlen(e));
                len += strlen(e);
            }
            if ((x >> 16) % 4)
                text[len++] = ' ';
        }
        size_t n, n_ref;
        lore_encode_info info;
        assert_int_equal(lore_tokenizer_encode(t, text, len, IDS_CAP, ref, &n_ref, NULL), LORE_OK);
        assert_int_equal(lore_tokenizer_encode_offsets(t, text, len, IDS_CAP, ids, offs, &n, &info),
                         LORE_OK);
        assert_true(n_ref < IDS_CAP);
        assert_ids("synthetic", ids, n, ref + 1, n_ref - 2);
        assert_int_equal(info.n_tokens_full, n);
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;
            while (j < n && offs[j] == offs[i])
                j++;
            assert_true(j == n || offs[j] > offs[i]);
            const size_t end = j < n ? offs[j] : len;
            size_t n_sub;
            assert_int_equal(lore_tokenizer_encode_offsets(t, text + offs[i], end - offs[i],
                                                           IDS_CAP, sub, sub_offs, &n_sub, NULL),
                             LORE_OK);
            char what[64];
            snprintf(what, sizeof what, "word at %zu", offs[i]);
            assert_ids(what, sub, n_sub, ids + i, j - i);
            for (size_t k = 0; k < n_sub; k++)
                assert_int_equal(sub_offs[k], 0);
            i = j;
        }
    }
    free(text);
    free(ids);
    free(ref);
    free(sub);
    free(offs);
    free(sub_offs);
    lore_tokenizer_free(t);
}

/* ---- threads
 * ---------------------------------------------------------------------------------------- */

#define THREAD_TEXT                                                                                \
    "Caf\xc3\xa9 na\xc3\xafve \xc3\x85ngstr\xc3\xb6m, hello \xe4\xb8\xad\xe5\x9b\xbd world! "      \
    "unaffable aaaaaaaaaaaaaaaa \xce\x9f\xce\x94\xce\x9f\xce\xa3 \xc2\xabhello\xc2\xbb xyz "
#define THREAD_REPS 300

typedef struct thread_arg {
    const lore_tokenizer *t;
    const int32_t *want;
    size_t n_want;
    int bad;
} thread_arg;

static void *encode_loop(void *p)
{
    thread_arg *a = p;
    for (int r = 0; r < THREAD_REPS; r++) {
        int32_t ids[64];
        size_t n = 0;
        if (lore_tokenizer_encode(a->t, THREAD_TEXT, strlen(THREAD_TEXT), 64, ids, &n, NULL) !=
                LORE_OK ||
            n != a->n_want || memcmp(ids, a->want, n * sizeof *ids) != 0)
            a->bad++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    lore_tokenizer *t = new_small(UNCASED, LORE_UTF8_STRICT);
    int32_t want[64];
    size_t n_want;
    assert_int_equal(
        lore_tokenizer_encode(t, THREAD_TEXT, strlen(THREAD_TEXT), 64, want, &n_want, NULL),
        LORE_OK);
    /* cafe naive angstrom , hello 中 国 world ! un ##aff ##able [UNK] οδος « hello » [UNK] */
    const int32_t expect[] = {2,  5,  7,  9, 14, 12, 21, 22, 13, 16,
                              23, 24, 25, 1, 31, 18, 12, 19, 1,  3};
    assert_ids("thread text", want, n_want, expect, sizeof expect / sizeof expect[0]);
    thread_arg args[2] = {{t, want, n_want, 0}, {t, want, n_want, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, encode_loop, &args[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(args[0].bad, 0);
    assert_int_equal(args[1].bad, 0);
    lore_tokenizer_free(t);
}

/* ---- golden ids from the Python reference
 * --------------------------------------------------------- */

static char *hex_decode(const char *hex, size_t *len)
{
    const size_t n = strlen(hex) / 2;
    char *out = malloc(n + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (char)v;
    }
    *len = n;
    return out;
}

static char *read_text_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void test_golden(void **state)
{
    (void)state;
    char *json = read_text_file(LORE_FIXTURES_DIR "/tiny-bert/golden.json");
    cJSON *root = cJSON_Parse(json);
    free(json);
    assert_non_null(root);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "tokenizer");
    assert_true(cJSON_IsArray(cases));
    assert_true(cJSON_GetArraySize(cases) >= 20);

    /* One tokenizer per (lowercase, utf8) the cases use. */
    lore_tokenizer *tok[2][2];
    for (int lc = 0; lc < 2; lc++)
        for (int rep = 0; rep < 2; rep++) {
            lore_tokenizer_params p = lore_tokenizer_default_params();
            p.lowercase = lc;
            p.utf8 = rep ? LORE_UTF8_REPLACE : LORE_UTF8_STRICT;
            assert_int_equal(
                lore_tokenizer_load(LORE_FIXTURES_DIR "/tiny-bert/vocab.txt", &p, &tok[lc][rep]),
                LORE_OK);
        }
    const cJSON *c;
    size_t n_cases = 0;
    cJSON_ArrayForEach(c, cases)
    {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        const cJSON *hb = cJSON_GetObjectItemCaseSensitive(c, "text_b_hex");
        const int max = cJSON_GetObjectItemCaseSensitive(c, "max_tokens")->valueint;
        const int lc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "lowercase"));
        const int rep =
            strcmp(cJSON_GetObjectItemCaseSensitive(c, "utf8")->valuestring, "replace") == 0;
        const bool error = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "error"));
        const cJSON *want_ids = cJSON_GetObjectItemCaseSensitive(c, "ids");
        const cJSON *want_types = cJSON_GetObjectItemCaseSensitive(c, "type_ids");
        const cJSON *full = cJSON_GetObjectItemCaseSensitive(c, "n_tokens_full");
        const cJSON *invalid = cJSON_GetObjectItemCaseSensitive(c, "n_invalid_utf8");
        const cJSON *err_off = cJSON_GetObjectItemCaseSensitive(c, "error_offset");
        const cJSON *err_b = cJSON_GetObjectItemCaseSensitive(c, "error_in_b");
        size_t a_len, b_len = 0;
        char *a = hex_decode(cJSON_GetObjectItemCaseSensitive(c, "text_hex")->valuestring, &a_len);
        char *b = cJSON_IsString(hb) ? hex_decode(hb->valuestring, &b_len) : NULL;
        int32_t *ids = malloc((size_t)max * sizeof *ids);
        int32_t *types = malloc((size_t)max * sizeof *types);
        assert_non_null(ids);
        assert_non_null(types);
        size_t n = 0;
        lore_encode_info info;
        lore_status s;
        if (b) {
            s = lore_tokenizer_encode_pair(tok[lc][rep], a, a_len, b, b_len, (size_t)max, ids,
                                           types, &n, &info);
        } else {
            s = lore_tokenizer_encode(tok[lc][rep], a, a_len, (size_t)max, ids, &n, &info);
            for (size_t i = 0; i < n; i++)
                types[i] = 0;
        }
        if (error) {
            if (s != LORE_EINVAL)
                fail_msg("golden %s: status %d, want LORE_EINVAL", name, s);
            if (cJSON_IsNumber(err_off)) {
                char want[48];
                snprintf(want, sizeof want, "offset %d ", err_off->valueint);
                if (!strstr(lore_last_error(), want))
                    fail_msg("golden %s: message \"%s\" lacks \"%s\"", name, lore_last_error(),
                             want);
            }
            if (cJSON_IsTrue(err_b))
                assert_non_null(strstr(lore_last_error(), "text b"));
        } else {
            if (s != LORE_OK)
                fail_msg("golden %s: %s", name, lore_last_error());
            const size_t nw = (size_t)cJSON_GetArraySize(want_ids);
            int32_t want[512], want_t[512];
            assert_true(nw <= 512);
            assert_int_equal(cJSON_GetArraySize(want_types), nw);
            for (size_t i = 0; i < nw; i++) {
                want[i] = cJSON_GetArrayItem(want_ids, (int)i)->valueint;
                want_t[i] = cJSON_GetArrayItem(want_types, (int)i)->valueint;
            }
            char what[96];
            snprintf(what, sizeof what, "golden %s ids", name);
            assert_ids(what, ids, n, want, nw);
            snprintf(what, sizeof what, "golden %s type_ids", name);
            assert_ids(what, types, n, want_t, nw);
            if (cJSON_IsNumber(full) && info.n_tokens_full != (size_t)full->valueint)
                fail_msg("golden %s: n_tokens_full %zu, want %d", name, info.n_tokens_full,
                         full->valueint);
            if (cJSON_IsNumber(invalid) && info.n_invalid_utf8 != (size_t)invalid->valueint)
                fail_msg("golden %s: n_invalid_utf8 %zu, want %d", name, info.n_invalid_utf8,
                         invalid->valueint);
        }
        free(ids);
        free(types);
        free(a);
        free(b);
        n_cases++;
    }
    assert_true(n_cases >= 20);
    for (int lc = 0; lc < 2; lc++)
        for (int rep = 0; rep < 2; rep++)
            lore_tokenizer_free(tok[lc][rep]);
    cJSON_Delete(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_table),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_truncation_single),
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test_setup_teardown(test_vocab_files, make_dir, remove_dir),
        cmocka_unit_test(test_synthetic_vocab),
        cmocka_unit_test(test_synthetic_words),
        cmocka_unit_test(test_encode_offsets),
        cmocka_unit_test(test_encode_offsets_synthetic),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
