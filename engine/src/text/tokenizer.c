/*
 * tokenizer.c - BERT tokenization: clean-up, basic splitting and WordPiece over
 * a vocab.txt, a token list or a seeded synthetic vocabulary.
 *
 * Invariants: a lore_tokenizer never changes after construction, so encode is
 * thread-safe; encode allocates nothing. It streams over the text once and
 * keeps only the current "piece" (a run of characters between whitespace,
 * punctuation and CJK ideographs, after lower-casing and accent stripping) in
 * fixed-size stack buffers; a piece longer than max_chars_per_word is consumed
 * without being stored and becomes one [UNK]. encode_offsets also notes the
 * source offset of each piece's first char (the chunker cuts text there); it
 * runs its own copy of the scanning loop, so plain encode pays nothing for it.
 *
 * Layout: tokens are NUL-terminated strings in one blob (span[id]: offset, length).
 * An open-addressing table (linear probing, load <= 1/2) maps a 64-bit hash of
 * a token's bytes to its id and keeps the hash's high half as a tag, so most
 * probes never touch the blob. The hash is FNV-1a, which streams over a prefix,
 * finished by a 64-bit mixer: WordPiece hashes every candidate end of a piece
 * in one forward pass, then probes from the longest candidate down, never
 * longer than the longest token of the vocabulary.
 *
 * Where the reference (Python) differs from plain per-character Unicode data,
 * this code follows Python: U+2028 and U+2029 separate words (str.split treats
 * them as whitespace); lower-casing uses str.lower's full mappings (U+0130
 * becomes "i" U+0307; capital sigma becomes final sigma at the end of a word);
 * accent stripping is NFD, canonical ordering included, then dropping Mn.
 */
#include "core/lore_int.h"
#include "text/tokenizer_int.h"
#include "text/utf8.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define MAXC LORE__TOK_MAX_CHARS_LIMIT

/* A vocabulary file larger than this is not a vocabulary (BERT's is 230 KB). */
#define VOCAB_FILE_MAX_BYTES (1u << 30)

typedef struct tok_span {
    uint32_t offset, len; /* where in blob; bytes without the NUL */
} tok_span;

typedef struct tok_slot {
    uint32_t tag; /* high half of the token's hash */
    int32_t id;   /* -1: empty */
} tok_slot;

struct lore_tokenizer {
    lore_tokenizer_params params;
    bool strip; /* accent stripping in effect (strip_accents -1 resolved) */
    size_t n_tokens, cap_tokens;
    char *blob; /* every token, NUL-terminated */
    size_t blob_len, blob_cap;
    tok_span *span;  /* per id */
    tok_slot *slots; /* mask + 1 slots */
    size_t mask;
    size_t max_len_word; /* longest token, bytes */
    size_t max_len_cont; /* longest "##" token, bytes without the "##" */
    lore_special_ids special;
};

/* ---- hashing and the token table ---- */

#define HASH_INIT 0xcbf29ce484222325ULL
#define HASH_MUL 0x100000001b3ULL

static inline uint64_t hash_byte(uint64_t h, uint8_t b)
{
    return (h ^ b) * HASH_MUL;
}

/* MurmurHash3's finaliser: FNV-1a's low bits alone index a table poorly. */
static inline uint64_t hash_final(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = HASH_INIT;
    for (size_t i = 0; i < n; i++)
        h = hash_byte(h, (uint8_t)s[i]);
    return hash_final(h);
}

static inline int32_t table_find(const lore_tokenizer *t, const char *key, size_t n, uint64_t h)
{
    const uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        const tok_slot s = t->slots[i];
        if (s.id < 0)
            return -1;
        if (s.tag == tag && t->span[s.id].len == n &&
            memcmp(t->blob + t->span[s.id].offset, key, n) == 0)
            return s.id;
    }
}

/*
 * Appends s[0..n) as the next id unless an equal token is there already.
 * Returns -1 when added, else the id of the equal token. The caller reserved
 * room (tok_alloc's cap_tokens and blob_cap).
 */
static int32_t tok_add(lore_tokenizer *t, const char *s, size_t n)
{
    assert(t->n_tokens < t->cap_tokens && t->blob_len + n + 1 <= t->blob_cap);
    const uint64_t h = hash_bytes(s, n);
    const int32_t found = table_find(t, s, n, h);
    if (found >= 0)
        return found;
    size_t i = (size_t)h & t->mask;
    while (t->slots[i].id >= 0)
        i = (i + 1) & t->mask;
    const int32_t id = (int32_t)t->n_tokens++;
    memcpy(t->blob + t->blob_len, s, n);
    t->blob[t->blob_len + n] = '\0';
    t->span[id] = (tok_span){(uint32_t)t->blob_len, (uint32_t)n};
    t->blob_len += n + 1;
    if (n > t->max_len_word)
        t->max_len_word = n;
    if (n > 2 && s[0] == '#' && s[1] == '#' && n - 2 > t->max_len_cont)
        t->max_len_cont = n - 2;
    t->slots[i] = (tok_slot){(uint32_t)(h >> 32), id};
    return -1;
}

/* ---- construction ---- */

lore_tokenizer_params lore_tokenizer_default_params(void)
{
    return (lore_tokenizer_params){.lowercase = true,
                                   .strip_accents = -1,
                                   .split_cjk = true,
                                   .max_chars_per_word = 100,
                                   .utf8 = LORE_UTF8_STRICT};
}

static lore_status check_params(const lore_tokenizer_params *p)
{
    if (p->max_chars_per_word < 1 || p->max_chars_per_word > MAXC)
        return lore__fail(LORE_EINVAL, "tokenizer max_chars_per_word must be 1..%d (got %d)", MAXC,
                          p->max_chars_per_word);
    if (p->strip_accents < -1 || p->strip_accents > 1)
        return lore__fail(LORE_EINVAL, "tokenizer strip_accents must be -1, 0 or 1 (got %d)",
                          p->strip_accents);
    if (p->utf8 != LORE_UTF8_STRICT && p->utf8 != LORE_UTF8_REPLACE)
        return lore__fail(LORE_EINVAL,
                          "tokenizer utf8 policy must be LORE_UTF8_STRICT or LORE_UTF8_REPLACE "
                          "(got %d)",
                          (int)p->utf8);
    return LORE_OK;
}

void lore_tokenizer_free(lore_tokenizer *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t->span);
    free(t->blob);
    free(t);
}

/* An empty tokenizer with room for cap_tokens tokens of blob_cap bytes (NULs included). */
static lore_status tok_alloc(const lore_tokenizer_params *params, size_t cap_tokens,
                             size_t blob_cap, lore_tokenizer **out)
{
    *out = NULL;
    lore_tokenizer_params p = params ? *params : lore_tokenizer_default_params();
    lore_status s = check_params(&p);
    if (s != LORE_OK)
        return s;
    size_t n_slots = 16;
    while (n_slots < 2 * cap_tokens)
        n_slots *= 2;
    lore_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return lore__fail(LORE_ENOMEM, "tokenizer: out of memory");
    t->params = p;
    t->strip = p.strip_accents < 0 ? p.lowercase : p.strip_accents == 1;
    t->cap_tokens = cap_tokens;
    t->blob_cap = blob_cap;
    t->mask = n_slots - 1;
    t->special = (lore_special_ids){-1, -1, -1, -1};
    t->blob = malloc(blob_cap ? blob_cap : 1);
    t->span = malloc((cap_tokens ? cap_tokens : 1) * sizeof *t->span);
    t->slots = malloc(n_slots * sizeof *t->slots);
    if (!t->blob || !t->span || !t->slots) {
        lore_tokenizer_free(t);
        return lore__fail(LORE_ENOMEM, "tokenizer: out of memory for %zu tokens", cap_tokens);
    }
    memset(t->slots, 0xff, n_slots * sizeof *t->slots); /* id -1 everywhere */
    *out = t;
    return LORE_OK;
}

/* Resolves the special ids; source names the vocabulary in the message. */
static lore_status tok_finish(lore_tokenizer *t, const char *source)
{
    static const char *const names[4] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
    int32_t ids[4];
    for (int i = 0; i < 4; i++) {
        ids[i] = lore_tokenizer_token_id(t, names[i]);
        if (ids[i] < 0)
            return lore__fail(LORE_ECORRUPT, "%s: vocabulary has no %s token", source, names[i]);
    }
    t->special = (lore_special_ids){ids[0], ids[1], ids[2], ids[3]};
    return LORE_OK;
}

/* ---- UTF-8 ---- */

/* Validates a vocabulary token: well-formed UTF-8 without NUL. Returns the bad offset or n. */
static size_t utf8_check(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t k = lore__utf8_decode((const uint8_t *)s, n, i, &cp);
        if (cp <= 0)
            return i;
        i += k;
    }
    return n;
}


/* ---- character classes ---- */

/* ASCII classes: one table lookup per byte on the common path. */
enum {
    A_DROP = 1,    /* control: removed by clean-up */
    A_SPACE = 2,   /* ' ', \t, \n, \r */
    A_PUNCT = 4,   /* BERT's ASCII punctuation: 33-47, 58-64, 91-96, 123-126 */
    A_CASED = 8,   /* a letter (Final_Sigma context) */
    A_CASEIGN = 16 /* Unicode Case_Ignorable: ' . : ^ ` */
};
#define D_ A_DROP
#define S_ A_SPACE
#define P_ A_PUNCT
#define C_ A_CASED
#define I_ (A_PUNCT | A_CASEIGN)
static const uint8_t ascii_class[128] = {
    D_, D_, D_, D_, D_, D_, D_, D_, D_, S_, S_, D_, D_, S_, D_, D_, /* 0x00 */
    D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, /* 0x10 */
    S_, P_, P_, P_, P_, P_, P_, I_, P_, P_, P_, P_, P_, P_, I_, P_, /* 0x20  !"#$%&'()*+,-./ */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  I_, P_, P_, P_, P_, P_, /* 0x30 0-9 :;<=>? */
    P_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, /* 0x40 @A-O */
    C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, P_, P_, P_, I_, P_, /* 0x50 P-Z [\]^_ */
    I_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, /* 0x60 `a-o */
    C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, P_, P_, P_, P_, D_, /* 0x70 p-z {|}~ DEL */
};
#undef D_
#undef S_
#undef P_
#undef C_
#undef I_

static inline bool cat_is_dropped(int cat)
{
    return cat == UTF8PROC_CATEGORY_CN || cat >= UTF8PROC_CATEGORY_CC; /* every C* */
}

static inline bool cat_is_space(int cat)
{
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}

static inline bool cat_is_punct(int cat)
{
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

/* BERT's punctuation: ASCII symbols too ("$", "=", "^"), and every P* character. */
static inline bool is_punct(int32_t c, int cat)
{
    return c < 0x80 ? ascii_class[c] & A_PUNCT : cat_is_punct(cat);
}

static inline bool is_cjk(int32_t c)
{
    return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) ||
           (c >= 0x20000 && c <= 0x2a6df) || (c >= 0x2a700 && c <= 0x2b73f) ||
           (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b820 && c <= 0x2ceaf) ||
           (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

/*
 * Unicode Cased: Lu/Ll/Lt, anything with a case mapping (Ⓐ, Ⅰ), and the
 * Other_Lowercase/Other_Uppercase characters that have neither and are not
 * case-ignorable anyway (ª º, squared and negative circled letters).
 */
static bool is_cased(int32_t c)
{
    if (c < 0x80)
        return ascii_class[c] & A_CASED;
    if (c == 0xaa || c == 0xba || (c >= 0x1f130 && c <= 0x1f149) ||
        (c >= 0x1f150 && c <= 0x1f169) || (c >= 0x1f170 && c <= 0x1f189))
        return true;
    const int cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
           cat == UTF8PROC_CATEGORY_LT || utf8proc_tolower(c) != c || utf8proc_toupper(c) != c;
}

/* Unicode Case_Ignorable: Mn Me Cf Lm Sk, and Word_Break MidLetter, MidNumLet, Single_Quote. */
static bool is_case_ignorable(int32_t c)
{
    if (c < 0x80)
        return ascii_class[c] & A_CASEIGN;
    switch (c) {
    case 0xb7:
    case 0x387:
    case 0x55f:
    case 0x5f4:
    case 0x2018:
    case 0x2019:
    case 0x2024:
    case 0x2027:
    case 0xfe13:
    case 0xfe52:
    case 0xfe55:
    case 0xff07:
    case 0xff0e:
    case 0xff1a:
        return true;
    default:
        break;
    }
    const int cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME ||
           cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_LM ||
           cat == UTF8PROC_CATEGORY_SK;
}

/* ---- encoding ---- */

typedef struct enc {
    const lore_tokenizer *t;
    const uint8_t *text;
    size_t len;
    int32_t *out;    /* the first cap ids are stored */
    size_t *offsets; /* NULL, or where the first cap ids' piece offsets are stored */
    size_t cap;
    size_t n;         /* ids produced so far, stored or not */
    size_t n_invalid; /* ill-formed UTF-8 sequences met */
    size_t max_chars;
    /* The current piece: its UTF-8 after two bytes of room for a "##" prefix. */
    size_t n_chars, n_bytes;
    size_t piece_at;        /* source offset of the piece's first char (set as it gets one) */
    size_t char_at;         /* source offset of the char being appended (not on the ASCII path) */
    bool overflow;          /* more than max_chars: consumed, becomes [UNK] */
    size_t run_start;       /* first char of the current run of non-starters (canonical order) */
    bool prev_cased;        /* the word's last non-case-ignorable char was cased (Final_Sigma) */
    uint16_t bnd[MAXC + 1]; /* bnd[k]: byte offset of char k; bnd[n_chars] == n_bytes */
    char buf[2 + 4 * MAXC];
    uint64_t hash[MAXC + 1]; /* WordPiece: unfinished hash of each candidate end */
} enc;

static inline void emit(enc *e, int32_t id)
{
    if (e->n < e->cap)
        e->out[e->n] = id;
    e->n++;
}

/* Greedy longest-match-first over the piece; no full match makes the piece [UNK]. */
static void wordpiece(enc *e)
{
    const lore_tokenizer *t = e->t;
    char *piece = e->buf + 2;
    const size_t nc = e->n_chars, first = e->n;
    size_t start = 0;
    while (start < nc) {
        const bool cont = start > 0;
        const size_t b0 = e->bnd[start];
        /* A continuation is looked up as "##" + rest: write the prefix over the
         * two bytes before it (the room before the piece, or the tail of the
         * previous char) and put them back after. */
        char *key = piece + b0 - (cont ? 2 : 0);
        char saved[2] = {key[0], key[1]};
        uint64_t h = HASH_INIT;
        if (cont) {
            key[0] = key[1] = '#';
            h = hash_byte(hash_byte(h, '#'), '#');
        }
        const size_t max_b = cont ? t->max_len_cont : t->max_len_word;
        size_t end_max = start, pos = b0;
        while (end_max < nc && e->bnd[end_max + 1] - b0 <= max_b) {
            for (; pos < e->bnd[end_max + 1]; pos++)
                h = hash_byte(h, (uint8_t)piece[pos]);
            e->hash[++end_max] = h;
        }
        int32_t id = -1;
        size_t end = end_max;
        for (; end > start; end--) {
            const size_t klen = e->bnd[end] - b0 + (cont ? 2 : 0);
            id = table_find(t, key, klen, hash_final(e->hash[end]));
            if (id >= 0)
                break;
        }
        if (cont) {
            key[0] = saved[0];
            key[1] = saved[1];
        }
        if (id < 0) {
            e->n = first; /* the whole piece becomes one [UNK] */
            emit(e, t->special.unk);
            return;
        }
        emit(e, id);
        start = end;
    }
}

static void piece_flush(enc *e)
{
    const size_t first = e->n;
    if (e->overflow)
        emit(e, e->t->special.unk);
    else if (e->n_chars)
        wordpiece(e);
    /* Every stored id of the piece gets its offset; after the fact, so that a
     * rewind to one [UNK] needs no care, and once a piece, not once an id. */
    if (e->offsets)
        for (size_t k = first; k < e->n && k < e->cap; k++)
            e->offsets[k] = e->piece_at;
    e->n_chars = e->n_bytes = e->run_start = 0;
    e->overflow = false;
}

static void word_end(enc *e)
{
    piece_flush(e);
    e->prev_cased = false;
}

/* Swaps chars k-1 and k of the piece (canonical reordering; rare). */
static void piece_swap(enc *e, size_t k)
{
    char *p = e->buf + 2;
    const size_t a = e->bnd[k - 1], m = e->bnd[k], z = e->bnd[k + 1];
    char tmp[8];
    memcpy(tmp, p + a, z - a);
    memcpy(p + a, tmp + (m - a), z - m);
    memcpy(p + a + (z - m), tmp, m - a);
    e->bnd[k] = (uint16_t)(a + (z - m));
}

static int32_t piece_char(const enc *e, size_t k)
{
    int32_t cp;
    lore__utf8_decode((const uint8_t *)e->buf + 2, e->n_bytes, e->bnd[k], &cp);
    return cp;
}

/* Appends c (canonical combining class ccc; 0 unless stripping accents) to the piece. */
static void piece_append(enc *e, int32_t c, int ccc)
{
    if (e->overflow)
        return;
    if (e->n_chars == e->max_chars) {
        e->overflow = true;
        return;
    }
    if (e->n_chars == 0)
        e->piece_at = e->char_at;
    e->n_bytes += lore__utf8_encode(c, e->buf + 2 + e->n_bytes);
    e->bnd[++e->n_chars] = (uint16_t)e->n_bytes;
    if (ccc == 0) {
        e->run_start = e->n_chars;
        return;
    }
    /* NFD orders each run of non-starters by combining class, stably. */
    for (size_t k = e->n_chars - 1; k > e->run_start; k--) {
        if (utf8proc_get_property(piece_char(e, k - 1))->combining_class <= ccc)
            break;
        piece_swap(e, k);
    }
}

/* A character after lower-casing and accent stripping: punctuation stands alone. */
static void word_out(enc *e, int32_t c, int ccc, bool punct)
{
    if (punct) {
        piece_flush(e);
        piece_append(e, c, 0);
        piece_flush(e);
    } else {
        piece_append(e, c, ccc);
    }
}

/* Whether a cased letter follows pos within the word, past case-ignorable ones. */
static bool next_is_cased(const enc *e, size_t pos)
{
    const lore_tokenizer *t = e->t;
    while (pos < e->len) {
        int32_t c;
        pos += lore__utf8_decode(e->text, e->len, pos, &c);
        if (c < 0 || c == 0 || c == 0xfffd)
            continue; /* dropped by clean-up */
        if (c < 0x80) {
            const uint8_t a = ascii_class[c];
            if (a & A_DROP)
                continue;
            if (a & A_SPACE)
                return false;
        } else {
            const int cat = utf8proc_category(c);
            if (cat_is_dropped(cat))
                continue;
            if (cat_is_space(cat) || (t->params.split_cjk && is_cjk(c)))
                return false;
        }
        if (!is_case_ignorable(c))
            return is_cased(c);
    }
    return false;
}

/* A non-ASCII character of a word (not dropped, not space): lower-case, strip, split. */
static void word_char(enc *e, int32_t cp, size_t next)
{
    const lore_tokenizer *t = e->t;
    int32_t lc[2] = {cp, 0};
    int n_lc = 1;
    if (t->params.lowercase) {
        if (cp == 0x3a3) {
            lc[0] = e->prev_cased && !next_is_cased(e, next) ? 0x3c2 : 0x3c3;
        } else if (cp == 0x130) { /* Python's full mapping: "i" + combining dot above */
            lc[0] = 'i';
            lc[1] = 0x307;
            n_lc = 2;
        } else {
            lc[0] = utf8proc_tolower(cp);
        }
        if (!is_case_ignorable(cp))
            e->prev_cased = is_cased(cp);
    }
    for (int j = 0; j < n_lc; j++) {
        if (!t->strip) {
            word_out(e, lc[j], 0, is_punct(lc[j], utf8proc_category(lc[j])));
            continue;
        }
        int32_t d[8];
        int bound = 0;
        utf8proc_ssize_t nd = utf8proc_decompose_char(lc[j], d, 8, UTF8PROC_DECOMPOSE, &bound);
        if (nd < 1 || nd > 8) {
            d[0] = lc[j];
            nd = 1;
        }
        for (utf8proc_ssize_t k = 0; k < nd; k++) {
            const utf8proc_property_t *p = utf8proc_get_property(d[k]);
            if (p->category == UTF8PROC_CATEGORY_MN) {
                if (p->combining_class == 0)
                    e->run_start = e->n_chars; /* a starter, though dropped, ends the run */
                continue;
            }
            word_out(e, d[k], p->combining_class, is_punct(d[k], p->category));
        }
    }
}

/*
 * Tokenizes text into e->out (WordPiece ids only, no [CLS]/[SEP]). Returns
 * false at the first ill-formed sequence under LORE_UTF8_STRICT, its offset in
 * *bad_at. With track (a constant: each caller gets its own copy), the source
 * offset of each piece's first char is kept for e->offsets; the copy without
 * it spends nothing on offsets in its per-byte ASCII loop.
 */
#define ALWAYS_INLINE static inline __attribute__((always_inline))
ALWAYS_INLINE bool tokenize_body(enc *e, size_t *bad_at, const bool track)
{
    const lore_tokenizer *t = e->t;
    const uint8_t *s = e->text;
    const size_t len = e->len;
    const bool lower = t->params.lowercase;
    for (size_t i = 0; i < len;) {
        const uint8_t b = s[i];
        if (b < 0x80) {
            i++;
            const uint8_t a = ascii_class[b];
            if (a & A_DROP)
                continue;
            if (a & A_SPACE) {
                word_end(e);
                continue;
            }
            int32_t c = b;
            if (lower) {
                if (!(a & A_CASEIGN))
                    e->prev_cased = a & A_CASED;
                if (c >= 'A' && c <= 'Z')
                    c += 'a' - 'A';
            }
            if (a & A_PUNCT) {
                if (track)
                    e->char_at = i - 1;
                word_out(e, c, 0, true);
            } else if (!e->overflow && e->n_chars < e->max_chars) {
                if (track && e->n_chars == 0)
                    e->piece_at = i - 1;
                e->buf[2 + e->n_bytes++] = (char)c; /* piece_append, inlined for ASCII */
                e->bnd[++e->n_chars] = (uint16_t)e->n_bytes;
                e->run_start = e->n_chars;
            } else {
                e->overflow = true;
            }
            continue;
        }
        int32_t cp;
        const size_t k = lore__utf8_decode(s, len, i, &cp);
        if (cp < 0) {
            e->n_invalid++;
            if (t->params.utf8 == LORE_UTF8_STRICT) {
                *bad_at = i;
                return false;
            }
            i += k; /* U+FFFD, which clean-up drops */
            continue;
        }
        if (track)
            e->char_at = i;
        i += k;
        const int cat = utf8proc_category(cp);
        if (cp == 0xfffd || cat_is_dropped(cat))
            continue;
        if (cat_is_space(cat)) {
            word_end(e);
        } else if (t->params.split_cjk && is_cjk(cp)) {
            word_end(e);
            word_char(e, cp, i);
            word_end(e);
        } else {
            word_char(e, cp, i);
        }
    }
    word_end(e);
    return true;
}

static bool tokenize(enc *e, size_t *bad_at)
{
    return tokenize_body(e, bad_at, false);
}

static bool tokenize_offsets(enc *e, size_t *bad_at)
{
    return tokenize_body(e, bad_at, true);
}

static void enc_init(enc *e, const lore_tokenizer *t, const char *text, size_t len, int32_t *out,
                     size_t cap)
{
    e->t = t;
    e->text = (const uint8_t *)text;
    e->len = len;
    e->out = out;
    e->offsets = NULL;
    e->cap = cap;
    e->n = e->n_invalid = 0;
    e->max_chars = (size_t)t->params.max_chars_per_word;
    e->n_chars = e->n_bytes = e->run_start = 0;
    e->piece_at = e->char_at = 0;
    e->overflow = e->prev_cased = false;
    e->bnd[0] = 0;
}

static size_t count_id(const int32_t *ids, size_t n, int32_t id)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ids[i] == id;
    return k;
}

lore_status lore_tokenizer_encode(const lore_tokenizer *t, const char *text, size_t len,
                                  size_t max_tokens, int32_t *ids, size_t *n_ids,
                                  lore_encode_info *info)
{
    if (n_ids)
        *n_ids = 0;
    if (info)
        *info = (lore_encode_info){0};
    if (!t || !ids || !n_ids || (!text && len))
        return lore__fail(LORE_EINVAL, "lore_tokenizer_encode: %s is NULL",
                          !t       ? "tokenizer"
                          : !ids   ? "ids"
                          : !n_ids ? "n_ids"
                                   : "text");
    if (max_tokens < 2)
        return lore__fail(LORE_EINVAL, "lore_tokenizer_encode: max_tokens must be >= 2 (got %zu)",
                          max_tokens);
    enc e;
    size_t bad_at = 0;
    enc_init(&e, t, text, len, ids + 1, max_tokens - 2);
    const bool ok = tokenize(&e, &bad_at);
    lore__counter_add(LORE_COUNTER_TOKENIZER_INVALID_UTF8, (int64_t)e.n_invalid);
    if (info)
        info->n_invalid_utf8 = e.n_invalid;
    if (!ok)
        return lore__fail(LORE_EINVAL, "invalid UTF-8 at byte offset %zu (byte 0x%02x)", bad_at,
                          (unsigned)(uint8_t)text[bad_at]);
    const size_t kept = e.n < max_tokens - 2 ? e.n : max_tokens - 2;
    ids[0] = t->special.cls;
    ids[kept + 1] = t->special.sep;
    *n_ids = kept + 2;
    const size_t n_unk = count_id(ids + 1, kept, t->special.unk);
    lore__counter_add(LORE_COUNTER_TOKENIZER_UNK, (int64_t)n_unk);
    if (info) {
        info->n_tokens_full = e.n + 2;
        info->n_unk = n_unk;
        info->truncated = e.n > kept;
    }
    return LORE_OK;
}

lore_status lore_tokenizer_encode_pair(const lore_tokenizer *t, const char *a, size_t a_len,
                                       const char *b, size_t b_len, size_t max_tokens, int32_t *ids,
                                       int32_t *type_ids, size_t *n_ids, lore_encode_info *info)
{
    if (n_ids)
        *n_ids = 0;
    if (info)
        *info = (lore_encode_info){0};
    if (!t || !ids || !type_ids || !n_ids || (!a && a_len) || (!b && b_len))
        return lore__fail(LORE_EINVAL, "lore_tokenizer_encode_pair: %s is NULL",
                          !t              ? "tokenizer"
                          : !ids          ? "ids"
                          : !type_ids     ? "type_ids"
                          : !n_ids        ? "n_ids"
                          : (!a && a_len) ? "text a"
                                          : "text b");
    if (ids == type_ids)
        return lore__fail(LORE_EINVAL, "lore_tokenizer_encode_pair: ids and type_ids are the "
                                       "same array");
    if (max_tokens < 3)
        return lore__fail(LORE_EINVAL,
                          "lore_tokenizer_encode_pair: max_tokens must be >= 3 (got %zu)",
                          max_tokens);
    /* At most max_tokens - 3 ids of either side survive truncation, so a goes
     * straight to its place in ids and b waits in type_ids until a's length is
     * known: one pass over each text, nothing allocated. */
    const size_t budget = max_tokens - 3;
    enc e;
    size_t bad_at = 0, n_invalid = 0;
    enc_init(&e, t, a, a_len, ids + 1, budget);
    bool ok = tokenize(&e, &bad_at);
    const size_t n_a = e.n;
    n_invalid += e.n_invalid;
    size_t n_b = 0;
    if (ok) {
        enc_init(&e, t, b, b_len, type_ids, budget);
        ok = tokenize(&e, &bad_at);
        n_b = e.n;
        n_invalid += e.n_invalid;
    }
    lore__counter_add(LORE_COUNTER_TOKENIZER_INVALID_UTF8, (int64_t)n_invalid);
    if (info)
        info->n_invalid_utf8 = n_invalid;
    if (!ok) {
        const char *which = e.text == (const uint8_t *)a ? "a" : "b";
        return lore__fail(LORE_EINVAL, "text %s: invalid UTF-8 at byte offset %zu (byte 0x%02x)",
                          which, bad_at, (unsigned)e.text[bad_at]);
    }
    /* "longest first": cut the longer side down to the shorter, then alternate,
     * b first on a tie; the closed form of removing one token at a time. */
    size_t keep_a = n_a, keep_b = n_b;
    if (keep_a + keep_b > budget) {
        size_t excess = keep_a + keep_b - budget;
        if (keep_a > keep_b) {
            const size_t d = keep_a - keep_b < excess ? keep_a - keep_b : excess;
            keep_a -= d;
            excess -= d;
        } else if (keep_b > keep_a) {
            const size_t d = keep_b - keep_a < excess ? keep_b - keep_a : excess;
            keep_b -= d;
            excess -= d;
        }
        keep_b -= (excess + 1) / 2;
        keep_a -= excess / 2;
    }
    ids[0] = t->special.cls;
    ids[1 + keep_a] = t->special.sep;
    memcpy(ids + 2 + keep_a, type_ids, keep_b * sizeof *ids);
    ids[2 + keep_a + keep_b] = t->special.sep;
    const size_t n = 3 + keep_a + keep_b;
    for (size_t i = 0; i < n; i++)
        type_ids[i] = i < 2 + keep_a ? 0 : 1;
    *n_ids = n;
    const size_t n_unk = count_id(ids, n, t->special.unk);
    lore__counter_add(LORE_COUNTER_TOKENIZER_UNK, (int64_t)n_unk);
    if (info) {
        info->n_tokens_full = n_a + n_b + 3;
        info->n_unk = n_unk;
        info->truncated = keep_a + keep_b < n_a + n_b;
    }
    return LORE_OK;
}

lore_status lore_tokenizer_encode_offsets(const lore_tokenizer *t, const char *text, size_t len,
                                          size_t max_ids, int32_t *ids, size_t *offsets,
                                          size_t *n_ids, lore_encode_info *info)
{
    if (n_ids)
        *n_ids = 0;
    if (info)
        *info = (lore_encode_info){0};
    if (!t || !ids || !offsets || !n_ids || (!text && len))
        return lore__fail(LORE_EINVAL, "lore_tokenizer_encode_offsets: %s is NULL",
                          !t         ? "tokenizer"
                          : !ids     ? "ids"
                          : !offsets ? "offsets"
                          : !n_ids   ? "n_ids"
                                     : "text");
    if (ids == (int32_t *)(void *)offsets)
        return lore__fail(LORE_EINVAL, "lore_tokenizer_encode_offsets: ids and offsets are the "
                                       "same array");
    if (max_ids < 1)
        return lore__fail(LORE_EINVAL,
                          "lore_tokenizer_encode_offsets: max_ids must be >= 1 (got %zu)", max_ids);
    enc e;
    size_t bad_at = 0;
    enc_init(&e, t, text, len, ids, max_ids);
    e.offsets = offsets;
    const bool ok = tokenize_offsets(&e, &bad_at);
    lore__counter_add(LORE_COUNTER_TOKENIZER_INVALID_UTF8, (int64_t)e.n_invalid);
    if (info)
        info->n_invalid_utf8 = e.n_invalid;
    if (!ok)
        return lore__fail(LORE_EINVAL, "invalid UTF-8 at byte offset %zu (byte 0x%02x)", bad_at,
                          (unsigned)(uint8_t)text[bad_at]);
    const size_t kept = e.n < max_ids ? e.n : max_ids;
    *n_ids = kept;
    const size_t n_unk = count_id(ids, kept, t->special.unk);
    lore__counter_add(LORE_COUNTER_TOKENIZER_UNK, (int64_t)n_unk);
    if (info) {
        info->n_tokens_full = e.n;
        info->n_unk = n_unk;
        info->truncated = e.n > kept;
    }
    return LORE_OK;
}

/* ---- vocabularies ---- */

/*
 * Adds the lines of a vocab.txt image (data[0..n)) as tokens; where names the
 * source in messages. A final '\n' is allowed, "\r\n" ends a line too.
 */
static lore_status add_lines(lore_tokenizer *t, const char *data, size_t n, const char *where)
{
    size_t line = 0;
    for (size_t i = 0; i < n;) {
        line++;
        const char *nl = memchr(data + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - data) : n;
        const size_t next = nl ? end + 1 : n;
        if (end > i && data[end - 1] == '\r')
            end--;
        const char *tok = data + i;
        const size_t tlen = end - i;
        if (tlen == 0)
            return lore__fail(LORE_ECORRUPT, "%s: line %zu: empty line", where, line);
        const size_t bad = utf8_check(tok, tlen);
        if (bad < tlen)
            return lore__fail(LORE_ECORRUPT,
                              "%s: line %zu: invalid UTF-8 (or NUL) at byte %zu of the token",
                              where, line, bad);
        const int32_t dup = tok_add(t, tok, tlen);
        if (dup >= 0)
            return lore__fail(LORE_ECORRUPT,
                              "%s: line %zu: duplicate token \"%.*s\" (first at line %d)", where,
                              line, (int)(tlen < 64 ? tlen : 64), tok, dup + 1);
        i = next;
    }
    return LORE_OK;
}

static lore_status read_whole(const char *path, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return lore__fail(LORE_EIO, "%s: cannot open vocabulary: %s", path, strerror(errno));
    lore_status s = LORE_OK;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        s = lore__fail(LORE_ENOMEM, "%s: out of memory reading the vocabulary", path);
        goto done;
    }
    for (;;) {
        len += fread(buf + len, 1, cap - len, f);
        if (ferror(f)) {
            s = lore__fail(LORE_EIO, "%s: cannot read vocabulary: %s", path, strerror(errno));
            goto done;
        }
        if (len < cap)
            break; /* end of file */
        if (cap >= VOCAB_FILE_MAX_BYTES) {
            s = lore__fail(LORE_ECORRUPT, "%s: vocabulary larger than %u bytes", path,
                           VOCAB_FILE_MAX_BYTES);
            goto done;
        }
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            s = lore__fail(LORE_ENOMEM, "%s: out of memory reading the vocabulary", path);
            goto done;
        }
        buf = grown;
        cap *= 2;
    }
done:
    fclose(f);
    if (s != LORE_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    *out_len = len;
    return LORE_OK;
}

lore_status lore_tokenizer_load(const char *vocab_path, const lore_tokenizer_params *params,
                                lore_tokenizer **out)
{
    if (!out)
        return lore__fail(LORE_EINVAL, "lore_tokenizer_load: out is NULL");
    *out = NULL;
    if (!vocab_path)
        return lore__fail(LORE_EINVAL, "lore_tokenizer_load: vocab_path is NULL");
    lore_tokenizer_params p = params ? *params : lore_tokenizer_default_params();
    lore_status s = check_params(&p);
    if (s != LORE_OK)
        return s;
    char *data = NULL;
    size_t n = 0;
    lore_tokenizer *t = NULL;
    s = read_whole(vocab_path, &data, &n);
    if (s != LORE_OK)
        return s;
    size_t n_lines = 0;
    for (size_t i = 0; i < n; i++)
        n_lines += data[i] == '\n';
    n_lines += n > 0 && data[n - 1] != '\n';
    if (n_lines > INT32_MAX) {
        s = lore__fail(LORE_ECORRUPT, "%s: %zu lines, more tokens than ids", vocab_path, n_lines);
        goto fail;
    }
    s = tok_alloc(&p, n_lines, n + 1, &t);
    if (s != LORE_OK)
        goto fail;
    s = add_lines(t, data, n, vocab_path);
    if (s != LORE_OK)
        goto fail;
    s = tok_finish(t, vocab_path);
    if (s != LORE_OK)
        goto fail;
    free(data);
    *out = t;
    return LORE_OK;
fail:
    lore_tokenizer_free(t);
    free(data);
    return s;
}

lore_status lore_tokenizer_new_from_tokens(const char *const *tokens, size_t n,
                                           const lore_tokenizer_params *params,
                                           lore_tokenizer **out)
{
    if (!out)
        return lore__fail(LORE_EINVAL, "lore_tokenizer_new_from_tokens: out is NULL");
    *out = NULL;
    if (!tokens && n)
        return lore__fail(LORE_EINVAL, "lore_tokenizer_new_from_tokens: tokens is NULL");
    if (n > INT32_MAX)
        return lore__fail(LORE_EINVAL, "lore_tokenizer_new_from_tokens: %zu tokens, more than ids",
                          n);
    size_t blob = 0;
    for (size_t i = 0; i < n; i++) {
        if (!tokens[i])
            return lore__fail(LORE_EINVAL, "lore_tokenizer_new_from_tokens: token %zu is NULL", i);
        blob += strlen(tokens[i]) + 1;
        if (blob > UINT32_MAX)
            return lore__fail(LORE_EINVAL, "lore_tokenizer_new_from_tokens: tokens too long");
    }
    lore_tokenizer *t = NULL;
    lore_status s = tok_alloc(params, n, blob, &t);
    if (s != LORE_OK)
        return s;
    for (size_t i = 0; i < n; i++) {
        const size_t len = strlen(tokens[i]);
        if (len == 0) {
            s = lore__fail(LORE_ECORRUPT, "token list: id %zu: empty token", i);
            goto fail;
        }
        const size_t bad = utf8_check(tokens[i], len);
        if (bad < len) {
            s = lore__fail(LORE_ECORRUPT, "token list: id %zu: invalid UTF-8 at byte %zu", i, bad);
            goto fail;
        }
        const int32_t dup = tok_add(t, tokens[i], len);
        if (dup >= 0) {
            s = lore__fail(LORE_ECORRUPT, "token list: id %zu: duplicate token \"%.*s\" (id %d)", i,
                           (int)(len < 64 ? len : 64), tokens[i], dup);
            goto fail;
        }
    }
    s = tok_finish(t, "token list");
    if (s != LORE_OK)
        goto fail;
    *out = t;
    return LORE_OK;
fail:
    lore_tokenizer_free(t);
    return s;
}

/* ---- the synthetic vocabulary ---- */

/*
 * Words are strings of syllables: onset (one of 24, "" included), vowel,
 * optional coda (one time in five). Low word indices are short (1-2
 * syllables, like "the", "of"), higher ones longer, capped at 15 letters, so
 * lengths spread like English running text: mostly 2-7 letters, a tail to 15.
 *
 * Vocabulary, in id order after the specials and the printable ASCII
 * characters (bare and "##"): open syllables ("##" then bare) and closed ones
 * while they take at most a third of the free ids; generator words 0, 1, 2 ...
 * for a fifth of what is left; "##" pieces of two open syllables, then bare
 * two-syllable stems; generator words again to fill. Duplicates are skipped.
 * A frequent word is one token; a rare one splits into a stem and "##"
 * pieces. Over Zipf-distributed text of 30000 ranks and a 30522-token
 * vocabulary that is about 1.14 tokens per word (BERT on English prose is
 * roughly 1.1 to 1.2 before punctuation); a 1000-token vocabulary gives 1.9.
 */
static const char *const ONSETS[] = {"b", "c", "d",  "f",  "g",  "h",  "j",  "k",
                                     "l", "m", "n",  "p",  "r",  "s",  "t",  "v",
                                     "w", "z", "ch", "sh", "th", "st", "tr", ""};
#define N_ONSETS (sizeof ONSETS / sizeof ONSETS[0])
static const char VOWELS[] = "aeiou";
static const char CODAS[] = "nrslt";
#define SYNTH_WORD_MAX 15

/* Syllable-count weights (percent, 1..6 syllables) by word-index band. */
static const struct {
    uint64_t below;
    uint8_t w[6];
} NSYLL[] = {
    {100, {70, 30, 0, 0, 0, 0}},
    {2000, {25, 45, 25, 5, 0, 0}},
    {20000, {8, 32, 35, 18, 6, 1}},
    {UINT64_MAX, {3, 20, 35, 25, 12, 5}},
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Writes syllable (onset, vowel, coda: 0 none, else CODAS[coda - 1]) at o; returns its length. */
static size_t syllable(size_t onset, size_t vowel, size_t coda, char *o)
{
    size_t n = strlen(ONSETS[onset]);
    memcpy(o, ONSETS[onset], n);
    o[n++] = VOWELS[vowel];
    if (coda)
        o[n++] = CODAS[coda - 1];
    return n;
}

size_t lore_tokenizer_synthetic_word(uint64_t seed, uint64_t i, char buf[16])
{
    if (!buf)
        return 0;
    uint64_t st = seed ^ (i * 0xd1b54a32d192ed03ULL);
    splitmix64(&st);
    size_t band = 0;
    while (i >= NSYLL[band].below)
        band++;
    unsigned r = (unsigned)(splitmix64(&st) % 100), n_syll = 1;
    for (unsigned acc = NSYLL[band].w[0]; r >= acc; acc += NSYLL[band].w[n_syll++])
        ;
    size_t len = 0;
    for (unsigned k = 0; k < n_syll; k++) {
        const uint64_t x = splitmix64(&st);
        const size_t coda = (x >> 16) % 5 == 0 ? 1 + (size_t)((x >> 24) % 5) : 0;
        char syl[4];
        const size_t n = syllable((size_t)(x % N_ONSETS), (size_t)((x >> 8) % 5), coda, syl);
        if (len + n > SYNTH_WORD_MAX)
            break;
        memcpy(buf + len, syl, n);
        len += n;
    }
    buf[len] = '\0';
    return len;
}

/* Adds s unless present or the vocabulary is full. */
static void synth_add(lore_tokenizer *t, const char *s, size_t n)
{
    if (t->n_tokens < t->cap_tokens)
        tok_add(t, s, n);
}

/* Adds every syllable of one shape, with or without "##", while below limit tokens. */
static void synth_syllables(lore_tokenizer *t, bool closed, bool cont, size_t limit)
{
    for (size_t o = 0; o < N_ONSETS; o++)
        for (size_t v = 0; v < 5; v++)
            for (size_t c = closed ? 1 : 0; c <= (closed ? 5u : 0u); c++) {
                if (t->n_tokens >= limit)
                    return;
                char s[8] = "##";
                const size_t n = syllable(o, v, c, s + 2);
                if (cont)
                    synth_add(t, s, n + 2);
                else
                    synth_add(t, s + 2, n);
            }
}

/*
 * Adds two-syllable pieces ("##" + two open syllables when cont, else the bare
 * stem), all 120 * 120 pairs in a seeded order, while there is room.
 */
static void synth_pairs(lore_tokenizer *t, uint64_t seed, bool cont)
{
    enum { N_OPEN = N_ONSETS * 5, N_PAIRS = N_OPEN * N_OPEN };
    /* j -> (j * step + offset) mod N_PAIRS visits every pair once when step is
     * coprime with N_PAIRS (= 2^6 * 3^2 * 5^2): odd, not a multiple of 3 or 5. */
    uint64_t st = seed ^ 0x5851f42d4c957f2dULL;
    uint64_t step = splitmix64(&st) % N_PAIRS;
    step |= 1;
    while (step % 3 == 0 || step % 5 == 0)
        step += 2;
    const uint64_t offset = splitmix64(&st) % N_PAIRS;
    for (uint64_t j = 0; j < N_PAIRS && t->n_tokens < t->cap_tokens; j++) {
        const uint64_t p = (j * step + offset) % N_PAIRS;
        const size_t a = (size_t)(p / N_OPEN), b = (size_t)(p % N_OPEN);
        char s[12] = "##";
        size_t n = 2 + syllable(a / 5, a % 5, 0, s + 2);
        n += syllable(b / 5, b % 5, 0, s + n);
        if (cont)
            tok_add(t, s, n);
        else
            tok_add(t, s + 2, n - 2);
    }
}

lore_status lore_tokenizer_new_synthetic(size_t vocab_size, uint64_t seed,
                                         const lore_tokenizer_params *params, lore_tokenizer **out)
{
    if (!out)
        return lore__fail(LORE_EINVAL, "lore_tokenizer_new_synthetic: out is NULL");
    *out = NULL;
    if (vocab_size < LORE__TOK_SYNTH_MIN || vocab_size > LORE__TOK_SYNTH_MAX)
        return lore__fail(LORE_EINVAL, "synthetic vocabulary size must be %u..%u (got %zu)",
                          LORE__TOK_SYNTH_MIN, LORE__TOK_SYNTH_MAX, vocab_size);
    lore_tokenizer *t = NULL;
    /* No token is longer than 16 bytes ("##" and 4 letters, a 15-letter word). */
    lore_status s = tok_alloc(params, vocab_size, vocab_size * (SYNTH_WORD_MAX + 2), &t);
    if (s != LORE_OK)
        return s;
    char tok[24];
    synth_add(t, "[PAD]", 5);
    for (int i = 0; i < 99; i++)
        synth_add(t, tok, (size_t)snprintf(tok, sizeof tok, "[unused%d]", i));
    synth_add(t, "[UNK]", 5);
    synth_add(t, "[CLS]", 5);
    synth_add(t, "[SEP]", 5);
    synth_add(t, "[MASK]", 6);
    for (int c = 33; c < 127; c++) {
        tok[0] = (char)c;
        synth_add(t, tok, 1);
    }
    for (int c = 33; c < 127; c++) {
        tok[0] = tok[1] = '#';
        tok[2] = (char)c;
        synth_add(t, tok, 3);
    }
    const size_t limit = t->n_tokens + (vocab_size - t->n_tokens) / 3;
    synth_syllables(t, false, true, limit);
    synth_syllables(t, false, false, limit);
    synth_syllables(t, true, true, limit);
    synth_syllables(t, true, false, limit);
    /* Whole words first, a fifth of the free ids; then two-syllable pieces, "##"
     * ones (like "##ation") before stems; then more words while room is left. */
    /* Distinct words are plentiful (720 syllables, up to 6 a word); the bound on i
     * only guarantees termination. */
    const size_t word_limit = t->n_tokens + (vocab_size - t->n_tokens) / 5;
    const uint64_t i_max = 64 * (uint64_t)vocab_size;
    uint64_t i = 0;
    for (; t->n_tokens < word_limit && i < i_max; i++) {
        char w[16];
        synth_add(t, w, lore_tokenizer_synthetic_word(seed, i, w));
    }
    synth_pairs(t, seed, true);
    synth_pairs(t, seed ^ 1, false);
    for (; t->n_tokens < vocab_size && i < i_max; i++) {
        char w[16];
        synth_add(t, w, lore_tokenizer_synthetic_word(seed, i, w));
    }
    if (t->n_tokens != vocab_size) {
        s = lore__fail(LORE_EINTERNAL, "synthetic vocabulary: only %zu of %zu tokens made",
                       t->n_tokens, vocab_size);
        goto fail;
    }
    s = tok_finish(t, "synthetic vocabulary");
    if (s != LORE_OK)
        goto fail;
    *out = t;
    return LORE_OK;
fail:
    lore_tokenizer_free(t);
    return s;
}

/* ---- accessors ---- */

size_t lore_tokenizer_vocab_size(const lore_tokenizer *t)
{
    return t ? t->n_tokens : 0;
}

int32_t lore_tokenizer_token_id(const lore_tokenizer *t, const char *token)
{
    if (!t || !token)
        return -1;
    const size_t n = strlen(token);
    return table_find(t, token, n, hash_bytes(token, n));
}

const char *lore_tokenizer_token(const lore_tokenizer *t, int32_t id)
{
    if (!t || id < 0 || (size_t)id >= t->n_tokens)
        return NULL;
    return t->blob + t->span[id].offset;
}

lore_special_ids lore_tokenizer_special_ids(const lore_tokenizer *t)
{
    return t ? t->special : (lore_special_ids){-1, -1, -1, -1};
}
