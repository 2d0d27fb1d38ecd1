/*
 * chunker.c - splits a document into overlapping windows of characters or
 * tokens, cut at the best boundary near each window's end.
 *
 * Invariants (what the tests check): every chunk [begin, end) has begin < end,
 * starts and ends on a non-space character and at UTF-8 character boundaries
 * (each byte of an ill-formed sequence is a character of its own); starts and
 * ends strictly increase; whatever lies between one chunk's end and the next
 * one's start is whitespace, so the chunks cover every non-space byte; a chunk
 * holds at most `size` units and shares at most `overlap` units with the one
 * before.
 *
 * Both modes run the same loop: scan a window from the chunk's start, keep the
 * last candidate cut of each class (paragraph break, sentence end or line
 * break, whitespace) inside the window's tail, cut at the best class found or
 * at the window's length, then step back `overlap` units and forward to a word
 * start. A candidate cut must lie past the first non-space character after the
 * previous chunk (min_cut), so every chunk brings new text; when the overlap
 * leaves no room for that, the window restarts at that character.
 *
 * Character mode walks the bytes once per window (windows overlap by about
 * `overlap`): linear in the text. Token mode reads pieces through piece_iter,
 * which tokenizes the text in bounded segments with
 * lore_tokenizer_encode_offsets into fixed buffers, so nothing but the
 * caller's list is allocated and memory does not depend on the text. A
 * segment ends at an ASCII space where it can, so every piece in it is whole;
 * otherwise the pieces of its last word are dropped and read again from the
 * next segment. Cuts fall only at piece starts, where tokenizing the chunk on
 * its own gives the same pieces as tokenizing the whole text. Two limits come
 * from the tokenizer: a word with more pieces than a window is cut between
 * code points where its first part alone fits (a single code point at least,
 * which may exceed a window of 1 to 3 tokens); a word longer than
 * max_chars_per_word is one [UNK] however long, so a run of letters without
 * spaces or punctuation stays one chunk.
 */
#include "core/lore_int.h"
#include "text/utf8.h"
#include "text/tokenizer_int.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE SIZE_MAX

/* Boundary classes, best last. */
enum { CUT_HARD, CUT_SPACE, CUT_SENTENCE, CUT_PARAGRAPH, N_CUTS };

/* Extra spaces read past a character window's end to see whether it ends at a boundary. */
#define TAIL_PEEK_CHARS 16

/* ---- UTF-8 ---- */

/*
 * Length of the character at s[i] (i < n): a well-formed sequence (1..4
 * bytes, code point in *cp), or 1 for a byte of an ill-formed one (*cp = -1):
 * the chunker counts each byte of a bad sequence as a character of its own.
 */
static inline size_t u8_next(const uint8_t *s, size_t n, size_t i, int32_t *cp)
{
    const size_t k = lore__utf8_decode(s, n, i, cp);
    return *cp < 0 ? 1 : k;
}

/*
 * Start of the character that ends at boundary i (0 < i <= n). Every byte that
 * is not a continuation byte starts a character, so a forward walk from any
 * boundary meets the same boundaries as this backward step.
 */
static inline size_t u8_prev(const uint8_t *s, size_t n, size_t i)
{
    const size_t j = i - 1;
    if ((s[j] & 0xc0) != 0x80)
        return j;
    size_t k = j;
    while (k > 0 && i - k < 4 && (s[k] & 0xc0) == 0x80)
        k--;
    int32_t cp;
    if ((s[k] & 0xc0) != 0x80 && u8_next(s, n, k, &cp) == i - k && cp >= 0)
        return k;
    return j;
}

/* The last character boundary at or before i (0 <= i <= n). */
static size_t u8_floor(const uint8_t *s, size_t n, size_t i)
{
    if (i == 0 || i >= n || (s[i] & 0xc0) != 0x80)
        return i >= n ? n : i;
    size_t k = i;
    while (k > 0 && i - k < 3 && (s[k] & 0xc0) == 0x80)
        k--;
    int32_t cp;
    if ((s[k] & 0xc0) != 0x80 && u8_next(s, n, k, &cp) > i - k && cp >= 0)
        return k;
    return i;
}

/* Whitespace: ASCII's six, and Unicode's Zs, Zl, Zp (the tokenizer's spaces). */
static inline bool cp_space(int32_t c)
{
    if (c < 0x80)
        return c == ' ' || (c >= 0x09 && c <= 0x0d);
    return c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Whether the character at i (< n) is whitespace; *len gets its length. */
static inline bool space_at(const uint8_t *s, size_t n, size_t i, size_t *len)
{
    if (s[i] < 0x80) {
        *len = 1;
        return cp_space(s[i]);
    }
    int32_t c;
    *len = u8_next(s, n, i, &c);
    return cp_space(c);
}

static size_t skip_space(const uint8_t *s, size_t n, size_t i)
{
    size_t len;
    while (i < n && space_at(s, n, i, &len))
        i += len;
    return i;
}

/* Moves end back over whitespace, not below lo. */
static size_t trim_back(const uint8_t *s, size_t n, size_t lo, size_t end)
{
    while (end > lo) {
        const size_t j = u8_prev(s, n, end);
        size_t len;
        if (!space_at(s, n, j, &len))
            break;
        end = j;
    }
    return end;
}

/* Whether i (0 < i <= n) follows a whitespace character. */
static bool space_before(const uint8_t *s, size_t n, size_t i)
{
    size_t len;
    return space_at(s, n, u8_prev(s, n, i), &len);
}

/* Ideographic full stop and full-width ! ? end a sentence with no space after them. */
static inline bool cp_wide_stop(int32_t c)
{
    return c == 0x3002 || c == 0xff01 || c == 0xff1f;
}

/* Closing quotes and brackets that may follow a sentence's final . ! ? */
static inline bool cp_closer(int32_t c)
{
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == 0xbb || c == 0x2019 || c == 0x201d;
}

/* A line break: \n, a lone \r (\r\n counts once), U+2028, U+2029. */
static inline bool line_break_at(const uint8_t *s, size_t n, size_t i, int32_t c)
{
    return c == '\n' || (c == '\r' && !(i + 1 < n && s[i + 1] == '\n')) || c == 0x2028 ||
           c == 0x2029;
}

/* ---- the output list ---- */

static lore_status push(lore_chunk_list *out, size_t begin, size_t end)
{
    if (out->n == out->cap) {
        const size_t cap = out->cap ? out->cap * 2 : 64;
        if (cap < out->cap || cap > SIZE_MAX / sizeof *out->items)
            return lore__fail(LORE_ENOMEM, "chunker: chunk list too large (%zu chunks)", out->n);
        lore_chunk *grown = realloc(out->items, cap * sizeof *grown);
        if (!grown)
            return lore__fail(LORE_ENOMEM, "chunker: out of memory for %zu chunks", cap);
        out->items = grown;
        out->cap = cap;
    }
    out->items[out->n++] = (lore_chunk){begin, end};
    return LORE_OK;
}

/* ---- shared state of one split ---- */

typedef struct split {
    const uint8_t *s;
    size_t n;
    size_t size, overlap;
    size_t lo; /* a boundary cut needs at least lo units before it (the window's tail) */
    lore_chunk_list *out;
} split;

/* A candidate cut: chunk [start, at) holds units units. */
typedef struct cut {
    size_t at, units;
} cut;

/* The best cut found: the last one of the best class, else none (at == NONE). */
static cut best_cut(const cut c[N_CUTS])
{
    for (int k = N_CUTS - 1; k >= 0; k--)
        if (c[k].at != NONE)
            return c[k];
    return (cut){NONE, 0};
}

/*
 * The next chunk's start in character mode: `overlap` characters before end,
 * then forward to the first word start up to nc (the first non-space at or
 * after end); never at or before pos. Without a word start there (one long
 * word, CJK text) it stays where the overlap put it.
 */
static size_t char_next_start(const split *sp, size_t pos, size_t end, size_t nc)
{
    const uint8_t *s = sp->s;
    const size_t n = sp->n;
    size_t p = end, len;
    for (size_t j = 0; j < sp->overlap && p > pos; j++)
        p = u8_prev(s, n, p);
    if (p <= pos) {
        int32_t c;
        p = pos + u8_next(s, n, pos, &c);
    }
    if (p >= nc)
        return nc;
    if (!space_at(s, n, p, &len) && space_before(s, n, p))
        return p;
    size_t x = p;
    while (x < nc && !space_at(s, n, x, &len))
        x += len;
    while (x < nc && space_at(s, n, x, &len))
        x += len;
    if (x < nc || nc > end)
        return x;
    return p;
}

/* ---- character mode ---- */

/*
 * Scans the window of sp->size characters from pos and picks its cut. Sets
 * *at_end when the rest of the text fits; *chosen.at is NONE when no cut lies
 * past min_cut.
 */
static cut char_window(const split *sp, size_t pos, size_t min_cut, bool *at_end)
{
    const uint8_t *s = sp->s;
    const size_t n = sp->n, size = sp->size, lo = sp->lo;
    cut best[N_CUTS] = {{NONE, 0}, {NONE, 0}, {NONE, 0}, {NONE, 0}};
    size_t i = pos, k = 0, extra = 0;
    size_t run = NONE, run_k = 0, run_nl = 0; /* the whitespace run after content */
    bool stop = false;                        /* the content so far ends with . ! ? (and closers) */
    size_t wend = NONE;
    while (i < n) {
        int32_t c;
        size_t len;
        if (s[i] < 0x80) {
            c = s[i];
            len = 1;
        } else {
            len = u8_next(s, n, i, &c);
        }
        const bool sp_c = cp_space(c);
        if (k >= size) {
            /* Past the window: only spaces, to classify a run starting at its end. */
            if (wend == NONE)
                wend = i;
            if (!sp_c || extra++ >= TAIL_PEEK_CHARS)
                break;
        }
        if (sp_c) {
            const bool in_tail = run == NONE ? k >= lo : run_k >= lo;
            if (run == NONE) {
                run = i;
                run_k = k;
                run_nl = 0;
                if (in_tail && run > min_cut) {
                    best[CUT_SPACE] = (cut){run, run_k};
                    if (stop)
                        best[CUT_SENTENCE] = (cut){run, run_k};
                }
            }
            if (line_break_at(s, n, i, c)) {
                run_nl += c == 0x2029 ? 2 : 1;
                if (in_tail && run > min_cut) {
                    best[CUT_SENTENCE] = (cut){run, run_k};
                    if (run_nl >= 2)
                        best[CUT_PARAGRAPH] = (cut){run, run_k};
                }
            }
        } else {
            run = NONE;
            if (c == '.' || c == '!' || c == '?') {
                stop = true;
            } else if (cp_wide_stop(c)) {
                stop = true;
                if (k + 1 >= lo && i + len > min_cut)
                    best[CUT_SENTENCE] = (cut){i + len, k + 1};
            } else if (!cp_closer(c)) {
                stop = false;
            }
        }
        i += len;
        k++;
    }
    if (k <= size && i >= n) {
        *at_end = true;
        return (cut){n, k};
    }
    *at_end = false;
    if (wend == NONE)
        wend = i;
    cut c = best_cut(best);
    if (c.at == NONE && wend > min_cut)
        c = (cut){wend, size};
    return c;
}

static lore_status split_chars(const split *sp)
{
    const uint8_t *s = sp->s;
    const size_t n = sp->n;
    size_t pos = skip_space(s, n, 0), min_cut = pos;
    while (pos < n) {
        bool at_end;
        const cut c = char_window(sp, pos, min_cut, &at_end);
        if (c.at == NONE) {
            pos = min_cut; /* the overlap left no room for new text */
            continue;
        }
        const size_t end = trim_back(s, n, pos, c.at);
        lore_status st = push(sp->out, pos, end);
        if (st != LORE_OK)
            return st;
        if (at_end)
            break;
        const size_t nc = skip_space(s, n, end);
        if (nc >= n)
            break;
        pos = char_next_start(sp, pos, end, nc);
        min_cut = nc;
    }
    return LORE_OK;
}

/* ---- token mode ---- */

/* Pieces a segment holds: more than one word can have (max_chars_per_word caps it). */
#define SEG_PIECES (LORE__TOK_MAX_CHARS_LIMIT + 64)
/* Piece offsets remembered for stepping back `overlap` tokens without tokenizing again. */
#define RING 1024
#define RING_MASK (RING - 1)
/* Bounds of the bytes-per-piece estimate that sizes segments. */
#define BPP_MIN 0.5
#define BPP_MAX 64.0

/* Reads the pieces of text from a start, one at a time, in bounded segments. */
typedef struct piece_iter {
    const lore_tokenizer *tok;
    const uint8_t *s;
    size_t n;
    size_t next_seg; /* where the next segment starts */
    size_t i, r;     /* next piece of the buffer, whole pieces in it */
    double bpp;      /* bytes per piece seen last: sizes the next segment */
    int32_t ids[SEG_PIECES];
    size_t offs[SEG_PIECES]; /* offsets in the text */
} piece_iter;

static void iter_start(piece_iter *it, size_t at)
{
    it->next_seg = at;
    it->i = it->r = 0;
}

/* Translates a tokenizer failure on text[s0, e) into one that names the document's offsets. */
static lore_status tok_error(const piece_iter *it, lore_status st, size_t s0, size_t e)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s", lore_last_error());
    /* The tokenizer's offset is the segment's: find the byte again (same rules). */
    for (size_t i = s0; strstr(msg, "invalid UTF-8") && i < e;) {
        int32_t c;
        const size_t len = u8_next(it->s, e, i, &c);
        if (c < 0)
            return lore__fail(st,
                              "chunker: invalid UTF-8 at byte offset %zu (byte 0x%02x) under a "
                              "LORE_UTF8_STRICT tokenizer",
                              i, (unsigned)it->s[i]);
        i += len;
    }
    return lore__fail(st, "chunker: tokenizing bytes %zu..%zu: %s", s0, e, msg);
}

/* Tokenizes the next segment, sized for about `want` more pieces. */
static lore_status iter_fill(piece_iter *it, size_t want)
{
    const uint8_t *s = it->s;
    const size_t n = it->n, s0 = it->next_seg;
    if (want > SEG_PIECES - 16)
        want = SEG_PIECES - 16;
    size_t budget = (size_t)(it->bpp * (double)(want + 16)) + 64;
    for (;;) {
        size_t e = n;
        bool mid = false; /* the segment may end inside a word */
        if (budget < n - s0) {
            const size_t lim = s0 + budget;
            e = lim;
            while (e > s0 && s[e] != ' ' && s[e] != '\n' && s[e] != '\t' && s[e] != '\r')
                e--;
            if (e == s0) {
                e = u8_floor(s, n, lim);
                mid = true;
            }
        }
        size_t got = 0;
        lore_encode_info info;
        lore_status st = lore_tokenizer_encode_offsets(it->tok, (const char *)s + s0, e - s0,
                                                       SEG_PIECES, it->ids, it->offs, &got, &info);
        if (st != LORE_OK)
            return tok_error(it, st, s0, e);
        if (info.n_tokens_full > 0) {
            const double bpp = (double)(e - s0) / (double)info.n_tokens_full;
            it->bpp = bpp < BPP_MIN ? BPP_MIN : bpp > BPP_MAX ? BPP_MAX : bpp;
        }
        size_t r = got, next = e;
        if ((mid || info.n_tokens_full > got) && got > 0) {
            /* The last word may be cut or missing pieces: read it again next time. */
            const size_t last = it->offs[got - 1];
            while (r > 0 && it->offs[r - 1] == last)
                r--;
            next = s0 + last;
        }
        if (next == s0) {
            budget = budget > (n - s0) / 2 ? n - s0 : budget * 2; /* one word longer than that */
            continue;
        }
        for (size_t k = 0; k < r; k++)
            it->offs[k] += s0;
        it->i = 0;
        it->r = r;
        it->next_seg = next;
        return LORE_OK;
    }
}

/* The next piece's offset in *off, or *ok false at the end of the text. */
static lore_status iter_next(piece_iter *it, size_t want, size_t *off, bool *ok)
{
    while (it->i == it->r) {
        if (it->next_seg >= it->n) {
            *ok = false;
            return LORE_OK;
        }
        lore_status st = iter_fill(it, want);
        if (st != LORE_OK)
            return st;
    }
    *off = it->offs[it->i++];
    *ok = true;
    return LORE_OK;
}

/*
 * Class of a cut before the piece at o, the previous piece starting at prev:
 * the whitespace between them and the character before it decide.
 */
static int classify(const uint8_t *s, size_t n, size_t prev, size_t o)
{
    size_t x = o, nl = 0;
    while (x > prev) {
        const size_t j = u8_prev(s, n, x);
        int32_t c;
        u8_next(s, n, j, &c);
        if (!cp_space(c))
            break;
        if (line_break_at(s, n, j, c))
            nl += c == 0x2029 ? 2 : 1;
        x = j;
    }
    if (nl >= 2)
        return CUT_PARAGRAPH;
    if (nl == 1)
        return CUT_SENTENCE;
    /* The text before: closers, then . ! ? (needs a space after) or a wide stop. */
    size_t y = x;
    int32_t c = -1;
    while (y > prev) {
        y = u8_prev(s, n, y);
        u8_next(s, n, y, &c);
        if (!cp_closer(c))
            break;
    }
    if (cp_wide_stop(c) || (x < o && (c == '.' || c == '!' || c == '?')))
        return CUT_SENTENCE;
    return x < o ? CUT_SPACE : CUT_HARD;
}

typedef struct tok_state {
    split sp;
    piece_iter it;
    size_t ring[RING]; /* ring[k & RING_MASK]: offset of piece k of the current window */
} tok_state;

/*
 * Scans the window from pos (pieces 0..size) and picks its cut; *n_read gets
 * the pieces read. *at_end: the rest of the text fits.
 */
static lore_status tok_window(tok_state *ts, size_t pos, size_t min_cut, cut *chosen,
                              size_t *n_read, bool *at_end)
{
    const split *sp = &ts->sp;
    cut best[N_CUTS] = {{NONE, 0}, {NONE, 0}, {NONE, 0}, {NONE, 0}};
    size_t k = 0, prev = NONE;
    *at_end = false;
    iter_start(&ts->it, pos);
    while (k <= sp->size) {
        size_t o;
        bool ok;
        lore_status st = iter_next(&ts->it, sp->size + 1 - k, &o, &ok);
        if (st != LORE_OK)
            return st;
        if (!ok) {
            *at_end = true;
            break;
        }
        ts->ring[k & RING_MASK] = o;
        if (k >= 1 && o != prev && o > min_cut) {
            const cut c = {o, k};
            best[CUT_HARD] = c;
            if (k >= sp->lo) {
                const int cls = classify(sp->s, sp->n, prev, o);
                if (cls != CUT_HARD)
                    best[cls] = c;
            }
        }
        prev = o;
        k++;
    }
    *n_read = k;
    *chosen = *at_end ? (cut){sp->n, k} : best_cut(best);
    return LORE_OK;
}

/*
 * The next chunk's start after a cut before piece c.units: the first word
 * start among pieces c.units - overlap .. c.units, else the first piece start
 * there (the cut itself at worst). Offsets come from the ring, or, when the
 * overlap reaches further back than it holds, from reading the window again.
 */
static lore_status tok_next_start(tok_state *ts, size_t pos, cut c, size_t n_read, size_t *next)
{
    const split *sp = &ts->sp;
    const size_t target = c.units > sp->overlap + 1 ? c.units - sp->overlap : 1;
    size_t first_piece = NONE;
    if (n_read - target + 1 <= RING) {
        for (size_t k = target; k <= c.units; k++) {
            const size_t o = ts->ring[k & RING_MASK];
            if (o == ts->ring[(k - 1) & RING_MASK])
                continue;
            if (space_before(sp->s, sp->n, o)) {
                *next = o;
                return LORE_OK;
            }
            if (first_piece == NONE)
                first_piece = o;
        }
        *next = first_piece;
        return LORE_OK;
    }
    iter_start(&ts->it, pos);
    size_t prev = NONE;
    for (size_t k = 0; k <= c.units; k++) {
        size_t o;
        bool ok;
        lore_status st = iter_next(&ts->it, c.units + 1 - k, &o, &ok);
        if (st != LORE_OK)
            return st;
        if (!ok)
            break;
        if (k >= target && o != prev) {
            if (space_before(sp->s, sp->n, o)) {
                *next = o;
                return LORE_OK;
            }
            if (first_piece == NONE)
                first_piece = o;
        }
        prev = o;
    }
    *next = first_piece != NONE ? first_piece : c.at;
    return LORE_OK;
}

/*
 * The word at pos has more pieces than a window: cut it after the most code
 * points (size, halved while needed) whose text alone has at most size
 * tokens; a single code point at least.
 */
static lore_status tok_split_word(tok_state *ts, size_t pos, size_t *cut_at)
{
    const split *sp = &ts->sp;
    for (size_t m = sp->size;; m = (m + 1) / 2) {
        size_t q = pos;
        for (size_t j = 0; j < m && q < sp->n; j++) {
            int32_t c;
            q += u8_next(sp->s, sp->n, q, &c);
        }
        size_t got;
        lore_encode_info info;
        lore_status st =
            lore_tokenizer_encode_offsets(ts->it.tok, (const char *)sp->s + pos, q - pos,
                                          SEG_PIECES, ts->it.ids, ts->it.offs, &got, &info);
        if (st != LORE_OK)
            return tok_error(&ts->it, st, pos, q);
        if (info.n_tokens_full <= sp->size || m == 1) {
            *cut_at = q;
            return LORE_OK;
        }
    }
}

static lore_status split_tokens(tok_state *ts)
{
    const split *sp = &ts->sp;
    const uint8_t *s = sp->s;
    const size_t n = sp->n;
    size_t pos = skip_space(s, n, 0), min_cut = pos;
    while (pos < n) {
        cut c;
        size_t n_read;
        bool at_end;
        lore_status st = tok_window(ts, pos, min_cut, &c, &n_read, &at_end);
        if (st != LORE_OK)
            return st;
        if (c.at == NONE && pos < min_cut) {
            pos = min_cut; /* the overlap left no room for new text */
            continue;
        }
        size_t next;
        if (c.at == NONE) {
            size_t q = pos;
            st = tok_split_word(ts, pos, &q);
            if (st != LORE_OK)
                return st;
            c.at = q;
            next = skip_space(s, n, q);
        } else if (!at_end) {
            st = tok_next_start(ts, pos, c, n_read, &next);
            if (st != LORE_OK)
                return st;
        } else {
            next = n;
        }
        st = push(sp->out, pos, trim_back(s, n, pos, c.at));
        if (st != LORE_OK)
            return st;
        if (at_end || skip_space(s, n, c.at) >= n)
            break;
        min_cut = skip_space(s, n, c.at);
        pos = next;
    }
    return LORE_OK;
}

/* ---- the API ---- */

lore_chunker_params lore_chunker_default_params(void)
{
    return (lore_chunker_params){.unit = LORE_CHUNK_CHARS,
                                 .size = 500,
                                 .overlap = 60,
                                 .boundary_fraction = 0.2,
                                 .tokenizer = NULL};
}

static lore_status check_params(const lore_chunker_params *p)
{
    if (p->unit != LORE_CHUNK_CHARS && p->unit != LORE_CHUNK_TOKENS)
        return lore__fail(LORE_EINVAL,
                          "chunker unit must be LORE_CHUNK_CHARS or LORE_CHUNK_TOKENS (got %d)",
                          (int)p->unit);
    if (p->size < 1)
        return lore__fail(LORE_EINVAL, "chunker size must be >= 1 (got %zu)", p->size);
    if (p->overlap >= p->size)
        return lore__fail(LORE_EINVAL, "chunker overlap must be < size (got overlap %zu, size %zu)",
                          p->overlap, p->size);
    if (!(p->boundary_fraction >= 0.0 && p->boundary_fraction <= 1.0))
        return lore__fail(LORE_EINVAL, "chunker boundary_fraction must be in [0, 1] (got %g)",
                          p->boundary_fraction);
    if (p->unit == LORE_CHUNK_TOKENS && !p->tokenizer)
        return lore__fail(LORE_EINVAL, "chunker unit LORE_CHUNK_TOKENS needs a tokenizer "
                                       "(tokenizer is NULL)");
    return LORE_OK;
}

lore_status lore_chunker_split(const lore_chunker_params *params, const char *text, size_t len,
                               lore_chunk_list *out)
{
    if (out)
        out->n = 0;
    if (!params || !out || (!text && len))
        return lore__fail(LORE_EINVAL, "lore_chunker_split: %s is NULL",
                          !params ? "params"
                          : !out  ? "out"
                                  : "text");
    lore_status st = check_params(params);
    if (st != LORE_OK)
        return st;
    /* The tail searched for a boundary: floor(fraction * size) units, at most size - 1. */
    const double tail = params->boundary_fraction * (double)params->size;
    const size_t lo = tail >= (double)params->size ? 1 : params->size - (size_t)tail;
    const split sp = {(const uint8_t *)text, len, params->size, params->overlap,
                      lo < 1 ? 1 : lo,       out};
    if (params->unit == LORE_CHUNK_CHARS) {
        st = split_chars(&sp);
    } else {
        /* About 21 KiB of fixed buffers (and the tokenizer's 15 KiB below it):
         * the stack, so that nothing but the caller's list is allocated. */
        tok_state ts;
        ts.sp = sp;
        ts.it.tok = params->tokenizer;
        ts.it.s = sp.s;
        ts.it.n = len;
        ts.it.bpp = 4.0;
        st = split_tokens(&ts);
    }
    if (st != LORE_OK)
        out->n = 0;
    return st;
}

void lore_chunk_list_free(lore_chunk_list *list)
{
    if (!list)
        return;
    free(list->items);
    *list = (lore_chunk_list){0};
}
