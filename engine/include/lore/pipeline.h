/*
 * lore/pipeline.h - the engine a local RAG application runs: documents go in,
 * ranked chunks with their sources come out.
 *
 * A pipeline joins a store (one SQLite file), an embedder, a vector index and,
 * optionally, an NLI cross-encoder:
 *
 *   ingest: files or folders -> read -> chunk -> tokenize + embed in batches
 *           -> store (transactions of rows_per_txn rows, at document
 *           boundaries) -> index
 *   query:  text -> embed (cached) -> index search -> fetch chunk texts
 *           -> optional NLI verification or re-ranking of the top n
 *
 * Index persistence: the index is saved into the store as a snapshot named
 * "<tier>/<kind>" at the end of every ingest, stamped with the store's content
 * generation. Opening loads the snapshot when its generation is current; when
 * it is missing or stale (a crash between commit and save, a document
 * replaced), the index is rebuilt from the stored embeddings, never by
 * embedding again. lore_pipeline_open_info says which happened.
 *
 * Documents: a file is read whole (up to max_file_bytes). One whose first 8 KiB
 * hold a NUL byte is binary and skipped; empty files and files that cannot be
 * read are skipped too, and so are the store's own files (a store kept inside
 * the folder it indexes); each skip is counted and reported with its reason.
 * Invalid UTF-8 either skips the document (LORE_UTF8_STRICT) or is stored with
 * each bad sequence replaced by U+FFFD (LORE_UTF8_REPLACE, the default); chunk
 * offsets always refer to the bytes of the source file. A document whose
 * content hash (XXH3-128) is unchanged is left alone; a changed one replaces
 * its chunks atomically.
 *
 * Stage times: the pipeline reads CLOCK_MONOTONIC at its stage boundaries
 * (per batch, not per item), because only it sees them; the counts beside
 * them come from the work done. The embedder reports when tokenization of a
 * call ends (lore_embedder_set_phase_hook) so tokenize and embed are apart.
 *
 * A pipeline is used by one thread at a time.
 */
#ifndef LORE_PIPELINE_H
#define LORE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lore/chunker.h"
#include "lore/embedder.h"
#include "lore/index.h"
#include "lore/status.h"
#include "lore/store.h"

typedef struct lore_pipeline lore_pipeline;

typedef struct lore_pipeline_params {
    lore_store_params store;
    lore_encoder_params embed;  /* the embedder; its tier names the vectors in the store */
    lore_chunker_params chunk;  /* token mode uses the embedder's tokenizer (tokenizer ignored) */
    lore_index_params index;    /* kind, metric and build parameters; dim comes from the embedder */
    int rows_per_txn;           /* chunk rows per transaction, rounded up to whole documents;
                                   0: the whole ingest call in one transaction (default 1024) */
    int embed_batch;            /* chunks gathered across documents per embed call (default 256) */
    size_t max_file_bytes;      /* larger files are skipped (default 64 MiB) */
    lore_utf8_policy utf8;      /* default LORE_UTF8_REPLACE */
    bool nli;                   /* load an NLI model for verification (default false) */
    lore_encoder_params nli_model;
    /* Models already loaded, to share between pipelines (borrowed: they must
     * outlive the pipeline; embed / nli_model are then ignored). NULL: create. */
    lore_embedder *shared_embedder;
    lore_nli *shared_nli;
} lore_pipeline_params;

/* What open found and did. */
typedef struct lore_pipeline_open_info {
    bool index_loaded;    /* a current snapshot was loaded */
    bool index_rebuilt;   /* built from stored embeddings (snapshot missing or stale) */
    int64_t n_vectors;    /* vectors in the index */
    int64_t n_documents;
    int64_t n_chunks;
} lore_pipeline_open_info;

/* ---- ingest -------------------------------------------------------------------- */

typedef enum lore_ingest_stage {
    LORE_INGEST_READ = 0,     /* items: bytes read */
    LORE_INGEST_CHUNK = 1,    /* items: chunks made */
    LORE_INGEST_TOKENIZE = 2, /* items: chunks tokenized (and cache lookups) */
    LORE_INGEST_EMBED = 3,    /* items: chunks embedded */
    LORE_INGEST_STORE = 4,    /* items: chunk rows written (commits included) */
    LORE_INGEST_INDEX = 5,    /* items: vectors added (and the snapshot saved) */
    LORE_INGEST_N_STAGES = 6
} lore_ingest_stage;

/* Name of a stage ("read", "chunk", ...), or "unknown". */
const char *lore_ingest_stage_name(lore_ingest_stage s);

/* A document that was not ingested, and why. Strings owned by the report. */
typedef struct lore_ingest_skip {
    const char *path;
    const char *reason; /* "binary (NUL byte at offset 12)", "empty", "Permission denied", ... */
} lore_ingest_skip;

typedef struct lore_ingest_report {
    int64_t n_files;          /* documents looked at */
    int64_t n_added;          /* new documents stored */
    int64_t n_replaced;       /* changed documents whose chunks were replaced */
    int64_t n_unchanged;      /* same hash as stored: nothing done */
    int64_t n_skipped;        /* binary, empty, unreadable, too large, bad UTF-8 (strict) */
    int64_t n_chunks;         /* chunks stored */
    int64_t n_tokens;         /* real tokens embedded */
    int64_t n_bytes;          /* document bytes read */
    int64_t n_invalid_utf8;   /* sequences replaced */
    int64_t n_transactions;   /* commits */
    bool cancelled;           /* the progress callback asked to stop */
    bool index_saved;         /* the index snapshot was saved into the store */
    char index_save_error[256]; /* why not, when it was not ("" otherwise); the
                                   next open then rebuilds the index from the store */
    int64_t stage_ns[LORE_INGEST_N_STAGES];
    int64_t stage_items[LORE_INGEST_N_STAGES];
    int64_t wall_ns;          /* the whole call */
    lore_ingest_skip *skips;  /* n_skipped entries */
    char *skip_arena_;        /* internal */
    size_t skip_arena_len_, skip_arena_cap_, skips_cap_;
} lore_ingest_report;

/* Called after every commit; return false to stop (what is committed stays). */
typedef struct lore_ingest_progress {
    int64_t n_done;  /* documents handled so far (any outcome) */
    int64_t n_total; /* documents found */
    int64_t n_chunks;
    const char *path; /* the last document handled */
} lore_ingest_progress;
typedef bool (*lore_progress_fn)(void *ctx, const lore_ingest_progress *p);

/* An in-memory document (for programs that have text, not files). */
typedef struct lore_doc_text {
    const char *path; /* its key in the store */
    const char *text;
    size_t len;
    int64_t mtime_ns;
} lore_doc_text;

/* ---- query ----------------------------------------------------------------------- */

typedef enum lore_rerank {
    LORE_RERANK_NONE = 0,   /* vector scores only */
    LORE_RERANK_VERIFY = 1, /* NLI probabilities attached to the top n; order kept */
    LORE_RERANK_NLI = 2,    /* the top n re-ordered by entailment probability */
} lore_rerank;

typedef struct lore_query_params {
    int k;                    /* hits wanted, >= 1 (default 5) */
    lore_search_params search; /* probes / ef_search */
    lore_rerank rerank;
    int rerank_depth;         /* LORE_RERANK_NLI: candidates fetched and judged, the k most
                                 entailed kept (>= k; 0: 2*k). VERIFY judges the k hits. */
} lore_query_params;

typedef enum lore_query_stage {
    LORE_QUERY_EMBED = 0,
    LORE_QUERY_SEARCH = 1,
    LORE_QUERY_FETCH = 2,
    LORE_QUERY_VERIFY = 3,
    LORE_QUERY_N_STAGES = 4
} lore_query_stage;

const char *lore_query_stage_name(lore_query_stage s);

typedef struct lore_hit {
    int64_t chunk_id, doc_id;
    int32_t ordinal;
    int64_t byte_begin, byte_end; /* the chunk's range in its source */
    const char *path;             /* source document */
    const char *text;             /* chunk text, NUL-terminated */
    size_t text_len;
    float score;                  /* the index's similarity (ip) or distance (l2) */
    bool verified;                /* NLI ran on this hit */
    float entailment, neutral, contradiction; /* NLI probabilities when verified */
} lore_hit;

/* Caller-owned, reusable: zero-initialise, pass to every query, free once. */
typedef struct lore_query_result {
    lore_hit *hits; /* n_hits, best first; strings valid until the next query or free */
    size_t n_hits;
    int64_t stage_ns[LORE_QUERY_N_STAGES];
    bool embed_cached; /* the query's vector came from the embedder's cache */
    struct lore_query_scratch *scratch_; /* internal */
} lore_query_result;

/* ---- calls ------------------------------------------------------------------------ */

/*
 * Defaults: store defaults, embedder minilm-l6 (synthetic weights) with a 4 MiB
 * query cache, 500/60 character chunks, a flat IP index, 1024 rows per
 * transaction, embed batches of 256, no NLI.
 */
lore_pipeline_params lore_pipeline_default_params(void);
lore_query_params lore_query_default_params(void);

/*
 * Opens the store at path and brings the pipeline up: embedder (and NLI model),
 * index loaded from its snapshot or rebuilt from the store. info may be NULL.
 * Returns the store's, embedder's or index's errors; *out NULL on failure.
 */
lore_status lore_pipeline_open(const char *path, const lore_pipeline_params *params,
                               lore_pipeline **out, lore_pipeline_open_info *info);

/* Closes; NULL allowed. An index not yet saved is not saved (ingest saves it). */
void lore_pipeline_close(lore_pipeline *p);

/*
 * Ingests files and folders (folders recursively, entries in byte order of
 * their names, hidden entries and non-regular files skipped). report (may be
 * NULL) receives the counts, stage breakdown and skips: zero-initialise it
 * before its first use; each call resets its counts and reuses its storage,
 * lore_ingest_report_free releases it.
 * Skipped documents do not fail the call; a store, embed or index failure
 * does (what was committed before it stays, and the index is saved).
 */
lore_status lore_pipeline_ingest_paths(lore_pipeline *p, const char *const *paths, size_t n,
                                       lore_progress_fn progress, void *ctx,
                                       lore_ingest_report *report);

/* Ingests in-memory documents; as lore_pipeline_ingest_paths (no read stage). */
lore_status lore_pipeline_ingest_texts(lore_pipeline *p, const lore_doc_text *docs, size_t n,
                                       lore_progress_fn progress, void *ctx,
                                       lore_ingest_report *report);

void lore_ingest_report_free(lore_ingest_report *r);

/*
 * Answers one query: out->hits holds up to k hits, best first. qp NULL means
 * defaults. LORE_EINVAL for bad params, LORE_ESTATE for NLI re-ranking without
 * an NLI model, and the engine's errors.
 */
lore_status lore_pipeline_query(lore_pipeline *p, const char *text, size_t len,
                                const lore_query_params *qp, lore_query_result *out);

void lore_query_result_free(lore_query_result *r);

/* The parts, for callers that need their settings or stats (owned by p). */
lore_store *lore_pipeline_store(lore_pipeline *p);
lore_embedder *lore_pipeline_embedder(lore_pipeline *p);
const lore_index *lore_pipeline_index(const lore_pipeline *p);
lore_nli *lore_pipeline_nli(lore_pipeline *p);

#endif
