/*
 * corpus.c - synthetic document corpora (see corpus.h) and the benchmark
 * cache folder.
 *
 * Determinism: document sizes come from one splitmix64 stream of the seed and
 * the text from one textgen stream of the same seed, both drawn document
 * after document, so a corpus of n documents is the first n documents of any
 * larger corpus with the same parameters (the query workload relies on this to
 * grow a corpus until it holds enough chunks).
 *
 * A document is whole sentences (textgen texts of 10 to 30 word pieces, each
 * closed with a full stop) in paragraphs of 3 to 8 sentences separated by a
 * blank line, ending with a line break. Sentences are added until the size
 * drawn for the document is reached; the last one is kept only when that lands
 * nearer the drawn size, so sizes follow the log-normal law to within half a
 * sentence and no sentence is cut.
 */
#include "corpus.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "textgen.h"

#define DEFAULT_CACHE_DIR "results/.cache"
#define SENTENCE_MIN_TOKENS 10
#define SENTENCE_MAX_TOKENS 30
#define PARAGRAPH_MIN_SENTENCES 3
#define PARAGRAPH_MAX_SENTENCES 8
/* Documents are at least this long (one short sentence) and at most this (memory). */
#define DOC_MIN_BYTES 16
#define DOC_MAX_BYTES (64u << 20)
#define SIZE_STREAM 0x73697a6573000000ULL /* "sizes": apart from textgen's stream */

const char *bench_cache_dir(void)
{
    /* Read at every call: tests point it elsewhere with setenv. */
    static char buf[4096];
    const char *env = getenv("LORE_BENCH_CACHE_DIR");
    if (!env || !env[0])
        return DEFAULT_CACHE_DIR;
    size_t n = strlen(env);
    while (n > 1 && env[n - 1] == '/')
        n--;
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, env, n);
    buf[n] = '\0';
    return buf;
}

/* ---- sizes ------------------------------------------------------------------ */

typedef struct rng {
    uint64_t state;
} rng;

static uint64_t rng_next(rng *r)
{
    return bench_splitmix64(&r->state);
}

/* A standard normal by Marsaglia's polar method (one of the pair; the other is dropped so
 * that every document draws from the stream the same way). */
static double rng_normal(rng *r)
{
    double u, v, s;
    do {
        u = (double)(rng_next(r) >> 11) * 0x1.0p-52 - 1.0;
        v = (double)(rng_next(r) >> 11) * 0x1.0p-52 - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}

static size_t draw_size(rng *r, const bench_corpus_params *p)
{
    double z = rng_normal(r);
    double bytes = (double)p->doc_bytes * exp(p->sigma * z);
    if (!(bytes >= DOC_MIN_BYTES))
        return DOC_MIN_BYTES;
    if (bytes > DOC_MAX_BYTES)
        return DOC_MAX_BYTES;
    return (size_t)(bytes + 0.5);
}

/* ---- text ------------------------------------------------------------------- */

/* One sentence: a textgen text closed with a full stop (textgen may stop mid-sentence). */
static char *make_sentence(bench_textgen *g, size_t *len, bench_err *e)
{
    int tokens = SENTENCE_MIN_TOKENS +
                 (int)(bench_textgen_rand(g) % (SENTENCE_MAX_TOKENS - SENTENCE_MIN_TOKENS + 1));
    size_t n;
    char *s = bench_textgen_text(g, tokens, &n, e);
    if (!s)
        return NULL;
    while (n > 0 && (s[n - 1] == ',' || s[n - 1] == ' '))
        n--;
    if (n == 0 || s[n - 1] != '.') {
        char *grown = realloc(s, n + 2);
        if (!grown) {
            free(s);
            bench_err_set(e, "corpus: out of memory");
            return NULL;
        }
        s = grown;
        s[n++] = '.';
    }
    s[n] = '\0';
    *len = n;
    return s;
}

/* One document of about target bytes into out (reset first). */
static int make_doc(bench_textgen *g, size_t target, bench_strbuf *out, bench_err *e)
{
    out->len = 0;
    int left_in_paragraph = 0;
    for (;;) {
        const char *sep = "";
        if (out->len > 0)
            sep = left_in_paragraph > 0 ? " " : "\n\n";
        if (left_in_paragraph == 0)
            left_in_paragraph = PARAGRAPH_MIN_SENTENCES +
                                (int)(bench_textgen_rand(g) %
                                      (PARAGRAPH_MAX_SENTENCES - PARAGRAPH_MIN_SENTENCES + 1));
        size_t n;
        char *s = make_sentence(g, &n, e);
        if (!s)
            return -1;
        size_t with = out->len + strlen(sep) + n;
        /* Keep the sentence that crosses the target only when it lands nearer to it. */
        bool keep = out->len == 0 || with <= target || with - target < target - out->len;
        int rc = 0;
        if (keep) {
            rc = bench_strbuf_append(out, sep, strlen(sep)) | bench_strbuf_append(out, s, n);
            left_in_paragraph--;
        }
        free(s);
        if (rc != 0)
            return bench_err_set(e, "corpus: out of memory for a %zu-byte document", target);
        if (!keep || out->len >= target)
            break;
    }
    if (bench_strbuf_append(out, "\n", 1) != 0)
        return bench_err_set(e, "corpus: out of memory");
    return 0;
}

void bench_corpus_free(lore_doc_text *docs, size_t n)
{
    if (!docs)
        return;
    for (size_t i = 0; i < n; i++) {
        free((void *)docs[i].path);
        free((void *)docs[i].text);
    }
    free(docs);
}

int bench_corpus_make(const bench_corpus_params *p, const lore_tokenizer *tok, lore_doc_text **docs,
                      bench_err *e)
{
    *docs = NULL;
    if (p->n_docs == 0)
        return bench_err_set(e, "corpus: n_docs must be >= 1");
    if (p->doc_bytes == 0)
        return bench_err_set(e, "corpus: doc_bytes must be >= 1");
    if (!(p->sigma >= 0) || !isfinite(p->sigma))
        return bench_err_set(e, "corpus: sigma must be finite and >= 0 (got %g)", p->sigma);
    lore_doc_text *d = calloc(p->n_docs, sizeof *d);
    bench_textgen *g = NULL;
    bench_strbuf doc = {0};
    if (!d)
        return bench_err_set(e, "corpus: out of memory for %zu documents", p->n_docs);
    if (bench_textgen_new(tok, p->seed, &g, e) != 0)
        goto fail;
    rng sizes = {.state = p->seed ^ SIZE_STREAM};
    for (size_t i = 0; i < p->n_docs; i++) {
        size_t target = draw_size(&sizes, p);
        if (make_doc(g, target, &doc, e) != 0)
            goto fail;
        char name[32];
        snprintf(name, sizeof name, "doc-%06zu.txt", i);
        char *text = malloc(doc.len + 1);
        char *path = bench_strdup(name);
        if (!text || !path) {
            free(text);
            free(path);
            bench_err_set(e, "corpus: out of memory at document %zu", i);
            goto fail;
        }
        memcpy(text, doc.s, doc.len + 1);
        d[i] = (lore_doc_text){.path = path, .text = text, .len = doc.len, .mtime_ns = 0};
    }
    free(doc.s);
    bench_textgen_free(g);
    *docs = d;
    return 0;
fail:
    free(doc.s);
    bench_textgen_free(g);
    bench_corpus_free(d, p->n_docs);
    return -1;
}

static int write_all(const char *path, const char *data, size_t len, bench_err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return bench_err_set(e, "%s: cannot create: %s", path, strerror(errno));
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int err = w < 0 ? errno : EIO;
            close(fd);
            return bench_err_set(e, "%s: cannot write: %s", path, strerror(err));
        }
        data += w;
        len -= (size_t)w;
    }
    if (close(fd) != 0)
        return bench_err_set(e, "%s: cannot close: %s", path, strerror(errno));
    return 0;
}

int bench_corpus_write_dir(const lore_doc_text *docs, size_t n, const char *dir, bench_err *e)
{
    if (bench_mkdir_p(dir, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, docs[i].path) >= (int)sizeof path)
            return bench_err_set(e, "%s/%s: path too long", dir, docs[i].path);
        if (write_all(path, docs[i].text, docs[i].len, e) != 0)
            return -1;
    }
    return 0;
}
