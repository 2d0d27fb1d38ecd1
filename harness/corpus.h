/*
 * corpus.h - synthetic document corpora for the ingest and query workloads,
 * and a cache of stores built from them.
 *
 * A corpus is n_docs documents whose byte sizes follow a log-normal law
 * (median doc_bytes, shape sigma), written as prose from textgen.h in
 * paragraphs (blank-line separated) of 3 to 8 sentences, so the chunker meets
 * sentence and paragraph boundaries as in real text. Same parameters and seed,
 * same bytes.
 *
 * Built stores are cached under $LORE_BENCH_CACHE_DIR/corpus (default
 * results/.cache/corpus), one file per hash of everything the build depends
 * on, because embedding a 10k-chunk corpus takes minutes; a cached store is
 * opened read-only and verified before use.
 */
#ifndef BENCH_CORPUS_H
#define BENCH_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "lore/lore.h"
#include "util.h"

typedef struct bench_corpus_params {
    size_t n_docs;
    size_t doc_bytes; /* median document size */
    double sigma;     /* log-normal shape; 0: every document doc_bytes */
    uint64_t seed;
} bench_corpus_params;

/* The cache folder: $LORE_BENCH_CACHE_DIR, else results/.cache (no trailing slash). */
const char *bench_cache_dir(void);

/*
 * Makes the corpus in memory: *docs receives n_docs documents ("doc-000000.txt"
 * ...; text and path malloc'd), freed with bench_corpus_free. tok counts tokens
 * for textgen. Returns 0, or -1 with e set.
 */
int bench_corpus_make(const bench_corpus_params *p, const lore_tokenizer *tok, lore_doc_text **docs,
                      bench_err *e);
void bench_corpus_free(lore_doc_text *docs, size_t n);

/* Writes the documents as files into dir (created if missing). Returns 0, or -1 with e set. */
int bench_corpus_write_dir(const lore_doc_text *docs, size_t n, const char *dir, bench_err *e);

#endif
