/*
 * lore/counters.h - the engine's work counters.
 *
 * The engine counts work (flops, bytes, later tokens, distance evaluations ...)
 * but never times itself. Every counter is exported as a PAPI software-defined
 * event named "lore::<name>", so a tool reads it through PAPI as
 * "sde:::lore::<name>"; the same values are readable here without PAPI.
 *
 * Counters are process-wide, monotonically increasing, and updated with relaxed
 * atomics: safe to read and bump from any thread.
 */
#ifndef LORE_COUNTERS_H
#define LORE_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

/* X(id, name, description). */
#define LORE_COUNTER_LIST(X)                                                                       \
    X(LORE_COUNTER_SGEMM_FLOPS, "sgemm_flops",                                                     \
      "floating-point operations issued through the engine's sgemm (2*m*n*k per call)")            \
    X(LORE_COUNTER_SGEMM_CALLS, "sgemm_calls", "calls of the engine's sgemm")                      \
    X(LORE_COUNTER_STREAM_BYTES, "stream_bytes",                                                   \
      "bytes moved by the stream triad kernel (read and written)")                                 \
    X(LORE_COUNTER_EMBED_TEXTS, "embed_texts", "texts (NLI: pairs) asked of an encoder")           \
    X(LORE_COUNTER_EMBED_TOKENS, "embed_tokens", "real tokens run through an encoder")             \
    X(LORE_COUNTER_EMBED_TOKENS_PADDED, "embed_tokens_padded",                                     \
      "token rows run through an encoder, padding included")                                       \
    X(LORE_COUNTER_EMBED_BATCHES, "embed_batches", "encoder forward passes")                       \
    X(LORE_COUNTER_EMBED_FLOPS, "embed_flops",                                                     \
      "GEMM floating-point operations of encoder forward passes (2 per multiply-add)")             \
    X(LORE_COUNTER_CACHE_HITS, "cache_hits", "embedding cache lookups that found the text")        \
    X(LORE_COUNTER_CACHE_MISSES, "cache_misses", "embedding cache lookups that did not")           \
    X(LORE_COUNTER_TOKENIZER_UNK, "tokenizer_unk", "[UNK] tokens emitted by the tokenizer")        \
    X(LORE_COUNTER_TOKENIZER_INVALID_UTF8, "tokenizer_invalid_utf8",                               \
      "invalid UTF-8 sequences met by the tokenizer (replaced or rejected)")                       \
    X(LORE_COUNTER_WORKSPACE_GROWS, "workspace_grows",                                             \
      "times an encoder's activation workspace grew after creation")                               \
    X(LORE_COUNTER_INDEX_SEARCHES, "index_searches", "queries answered by vector indexes")         \
    X(LORE_COUNTER_INDEX_DISTANCES, "index_distances",                                             \
      "vector distance evaluations by indexes (search, and HNSW construction)")                    \
    X(LORE_COUNTER_INDEX_LISTS_PROBED, "index_lists_probed", "IVF lists scanned")                  \
    X(LORE_COUNTER_INDEX_HOPS, "index_hops", "HNSW graph nodes expanded")                         \
    X(LORE_COUNTER_STORE_ROWS_WRITTEN, "store_rows_written",                                       \
      "rows inserted or deleted by the store, every table")                                        \
    X(LORE_COUNTER_STORE_ROWS_READ, "store_rows_read", "rows returned by the store's reads")       \
    X(LORE_COUNTER_STORE_TRANSACTIONS, "store_transactions", "store transactions committed")       \
    X(LORE_COUNTER_STORE_STATEMENTS, "store_statements",                                           \
      "SQLite statements the store stepped to completion")                                         \
    X(LORE_COUNTER_STORE_BYTES, "store_bytes", "text and BLOB payload bytes the store inserted")   \
    X(LORE_COUNTER_INGEST_DOCS, "ingest_docs", "documents stored (added or replaced) by ingest")   \
    X(LORE_COUNTER_INGEST_CHUNKS, "ingest_chunks", "chunks stored by ingest")                      \
    X(LORE_COUNTER_INGEST_SKIPPED, "ingest_skipped",                                               \
      "documents ingest skipped (binary, empty, unreadable, too large, bad UTF-8)")                \
    X(LORE_COUNTER_QUERIES, "queries", "queries answered by pipelines")

typedef enum lore_counter {
#define LORE_COUNTER_ENUM_(id, name, desc) id,
    LORE_COUNTER_LIST(LORE_COUNTER_ENUM_)
#undef LORE_COUNTER_ENUM_
        LORE_COUNTER_COUNT_
} lore_counter;

/* Number of counters; ids run from 0 to lore_counter_count() - 1. */
size_t lore_counter_count(void);

/*
 * Name of counter id without the "lore::" prefix ("sgemm_flops"), or NULL for an
 * id out of range. The first call of any function here registers every counter
 * with PAPI's SDE library.
 */
const char *lore_counter_name(lore_counter id);

/* One-line description of counter id, or NULL for an id out of range. */
const char *lore_counter_description(lore_counter id);

/* Current value of counter id (0 for an id out of range). */
int64_t lore_counter_read(lore_counter id);

#endif
