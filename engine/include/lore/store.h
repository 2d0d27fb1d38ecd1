/*
 * lore/store.h - the SQLite store: documents, chunks, embeddings and index
 * snapshots in one database file.
 *
 * The store keeps bytes, not meaning: it knows neither the index nor the
 * model. Schema (version 1; PRAGMA application_id 'LORE', user_version 1):
 *
 *   documents(id, path UNIQUE, hash BLOB(16), size_bytes, mtime_ns, n_chunks)
 *   chunks(id, doc_id -> documents, ordinal, byte_begin, byte_end, text)
 *       UNIQUE(doc_id, ordinal)
 *   embeddings(id, chunk_id -> chunks, tier, dim, vector BLOB(4*dim)) UNIQUE(chunk_id, tier)
 *   snapshots(name PRIMARY KEY, generation, size_bytes, data BLOB)
 *   meta(key PRIMARY KEY, value)         -- "generation": bumped by every chunk write
 *
 * A database with an older user_version is migrated on open, in one
 * transaction; a newer one, a foreign SQLite database or a file that is not
 * SQLite is refused with LORE_ECORRUPT naming the file. Opening sets WAL,
 * synchronous as asked and a busy timeout, and keeps every statement prepared
 * for the life of the handle.
 *
 * Writes are transactional. Each write call runs inside the transaction the
 * caller opened with lore_store_begin, or, when none is open, inside one of
 * its own. Any failure rolls the whole transaction back (an explicit one too:
 * the handle is then outside any transaction) and returns the error, so what
 * was committed before is never lost and nothing half-written stays.
 *
 * A handle is one SQLite connection: use it from one thread at a time.
 * Several handles (threads or processes) may open the same file.
 */
#ifndef LORE_STORE_H
#define LORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lore/index.h"
#include "lore/status.h"

typedef struct lore_store lore_store;

/* The schema version this build writes and reads. */
#define LORE_STORE_SCHEMA_VERSION 1

typedef enum lore_store_sync {
    LORE_STORE_SYNC_OFF = 0,
    LORE_STORE_SYNC_NORMAL = 1, /* WAL + NORMAL: durable at checkpoints, never corrupt (default) */
    LORE_STORE_SYNC_FULL = 2,   /* fsync at every commit */
} lore_store_sync;

typedef struct lore_store_params {
    bool read_only;          /* refuse every write (default false) */
    bool create;             /* create the file when missing (default true) */
    int busy_timeout_ms;     /* wait this long on a locked database, >= 0 (default 5000) */
    int max_bind_params;     /* ids bound per IN (...) read, 1..32766; 1 reads one
                                statement per id (default 256) */
    lore_store_sync synchronous;
    int64_t max_db_bytes;    /* cap on the file's size (PRAGMA max_page_count); writes past
                                it fail with LORE_EIO "database or disk is full"; 0: none */
    int cache_kib;           /* SQLite page cache, KiB >= 64 (default 16384) */
} lore_store_params;

/* Facts about an open store. */
typedef struct lore_store_info {
    int64_t n_documents, n_chunks, n_embeddings, n_snapshots;
    int64_t file_bytes;   /* page_count * page_size of the main database (WAL not included) */
    int64_t generation;   /* content generation (see lore_store_generation) */
    int schema_version;
    const char *sqlite_version; /* static string of the SQLite library in use */
} lore_store_info;

/* Work done through the handle since open (or the last reset). */
typedef struct lore_store_stats {
    int64_t n_rows_written; /* rows inserted or deleted, every table */
    int64_t n_rows_read;    /* rows returned by reads */
    int64_t n_transactions; /* transactions committed */
    int64_t n_rollbacks;
    int64_t n_statements;   /* statements stepped to completion */
    int64_t n_bytes_written; /* text and BLOB payload bytes inserted */
} lore_store_stats;

/* A document as stored. hash: the caller's content hash (the pipeline uses XXH3-128). */
typedef struct lore_doc_info {
    const char *path; /* unique key: a path, URL or name; NUL-terminated, non-empty */
    uint8_t hash[16];
    int64_t size_bytes;
    int64_t mtime_ns;
} lore_doc_info;

/* One chunk to write. text need not be NUL-terminated. */
typedef struct lore_chunk_row {
    int32_t ordinal; /* position in the document, unique per document */
    int64_t byte_begin, byte_end; /* range in the source document */
    const char *text;
    size_t text_len;
} lore_chunk_row;

/* One chunk read back. Strings are NUL-terminated and live in the buffer that holds the row. */
typedef struct lore_chunk_rec {
    int64_t id;  /* the id asked for */
    bool found;  /* false: no such chunk; the other fields are zero */
    int64_t doc_id;
    int32_t ordinal;
    int64_t byte_begin, byte_end;
    const char *text;
    size_t text_len;
    const char *path; /* the document's path */
} lore_chunk_rec;

/* Caller-owned, reusable read buffer; zero-initialise it, free it with lore_chunk_buf_free. */
typedef struct lore_chunk_buf {
    lore_chunk_rec *rows;
    size_t n, cap;
    char *arena; /* strings of the rows */
    size_t arena_len, arena_cap;
} lore_chunk_buf;

/* Defaults: create, read-write, busy timeout 5 s, 256 bind params, NORMAL, no cap. */
lore_store_params lore_store_default_params(void);

/*
 * Opens (or creates) the store at path; ":memory:" gives a private in-memory
 * store. params NULL means defaults. *out is NULL on failure.
 * Returns LORE_EINVAL (bad params), LORE_EIO (cannot open or create: the message
 * names the path and SQLite's reason), LORE_ECORRUPT (not SQLite, not a lore
 * store, corrupt, or a schema version newer than this build), LORE_ENOMEM.
 */
lore_status lore_store_open(const char *path, const lore_store_params *params, lore_store **out);

/* Closes the store (rolling back an open transaction); NULL is allowed. */
void lore_store_close(lore_store *st);

lore_status lore_store_get_info(lore_store *st, lore_store_info *out);
void lore_store_get_stats(const lore_store *st, lore_store_stats *out);
void lore_store_reset_stats(lore_store *st);

/*
 * Checks the database: PRAGMA integrity_check (quick_check when !full), then
 * that every document has exactly n_chunks chunks with ordinals 0..n-1 and
 * that every embedding's BLOB holds 4*dim bytes. Returns LORE_OK or
 * LORE_ECORRUPT with the first problem found.
 */
lore_status lore_store_verify(lore_store *st, bool full);

/* ---- transactions ---------------------------------------------------------- */

/* Opens an explicit transaction (BEGIN IMMEDIATE); LORE_ESTATE when one is open. */
lore_status lore_store_begin(lore_store *st);
/* Commits it; on failure it is rolled back and the error returned. LORE_ESTATE when none. */
lore_status lore_store_commit(lore_store *st);
/* Rolls it back; a no-op when none is open. */
lore_status lore_store_rollback(lore_store *st);
bool lore_store_in_transaction(const lore_store *st);

/* ---- documents and chunks ---------------------------------------------------- */

/*
 * Looks up the document stored under path: *doc_id is its id, or 0 when there
 * is none; hash (may be NULL) receives its stored hash.
 */
lore_status lore_store_find_document(lore_store *st, const char *path, int64_t *doc_id,
                                     uint8_t hash[16]);

/*
 * Writes a document with its n chunks and, when vectors is not NULL, their
 * embeddings under tier (n * dim floats, row i for chunk i), replacing any
 * document stored under the same path (its chunks and embeddings are deleted
 * first). All in one transaction (see the file comment). chunk_ids (may be
 * NULL) receives the n new chunk ids; *doc_id (may be NULL) the document's id;
 * *n_replaced (may be NULL) the chunks deleted. Chunk ordinals must be 0..n-1.
 * Returns LORE_EINVAL (bad arguments), LORE_EIO (SQLite failed: disk full,
 * read-only, I/O), LORE_ESTATE (read-only handle), LORE_ENOMEM.
 */
lore_status lore_store_put_document(lore_store *st, const lore_doc_info *doc,
                                    const lore_chunk_row *chunks, size_t n, const char *tier,
                                    int dim, const float *vectors, int64_t *doc_id,
                                    int64_t *chunk_ids, int64_t *n_replaced);

/*
 * Appends n chunks (and their embeddings, when vectors is not NULL) to the
 * existing document doc_id, in one transaction, with ids from RETURNING into
 * chunk_ids (may be NULL). The document's n_chunks is not changed: this is the
 * raw row path, for callers that manage documents themselves.
 */
lore_status lore_store_put_chunks(lore_store *st, int64_t doc_id, const lore_chunk_row *chunks,
                                  size_t n, const char *tier, int dim, const float *vectors,
                                  int64_t *chunk_ids);

/* Deletes the document stored under path with its chunks and embeddings; *found may be NULL. */
lore_status lore_store_delete_document(lore_store *st, const char *path, bool *found);

/*
 * Reads the chunks with the given ids into out (replacing its rows), in the
 * order of ids, with IN (...) statements of at most max_bind_params ids each
 * (statements are kept per bucket size, powers of two up to the maximum, the
 * last id repeated to fill a bucket). Ids not stored give rows with found ==
 * false. Duplicated ids are allowed.
 */
lore_status lore_store_get_chunks(lore_store *st, const int64_t *ids, size_t n,
                                  lore_chunk_buf *out);

void lore_chunk_buf_free(lore_chunk_buf *buf);

/* ---- embeddings -------------------------------------------------------------- */

/* Number of embeddings stored under tier and their dimension (0 when none). */
lore_status lore_store_count_embeddings(lore_store *st, const char *tier, int64_t *n, int *dim);

/*
 * Reads up to max_n embeddings of tier with chunk id > after_id, in chunk id
 * order: ids (max_n) and vectors (max_n * dim floats). *n_out receives the
 * number read (0 at the end). LORE_ECORRUPT when a stored vector's size is
 * not 4 * dim.
 */
lore_status lore_store_get_embeddings(lore_store *st, const char *tier, int dim, int64_t after_id,
                                      size_t max_n, int64_t *ids, float *vectors, size_t *n_out);

/* ---- content generation and snapshots ---------------------------------------- */

/*
 * The content generation: a number that changes in the same transaction as
 * every write or delete of chunks. A snapshot saved with generation g is
 * current exactly while lore_store_generation returns g.
 */
lore_status lore_store_generation(lore_store *st, int64_t *generation);

/*
 * Writes the named snapshot (replacing any of that name): size_bytes bytes
 * that produce() writes through the writer it is given, straight into the
 * database (no copy in memory). produce must write exactly size_bytes bytes;
 * more, fewer, or an error roll the write back.
 */
lore_status lore_store_put_snapshot(lore_store *st, const char *name, int64_t generation,
                                    size_t size_bytes,
                                    lore_status (*produce)(void *ctx, const lore_writer *w),
                                    void *ctx);

/*
 * Reads the named snapshot: calls consume() with a reader over its bytes
 * (straight from the database), their size and the generation it was saved
 * with, and returns consume's status. *found (may be NULL) is false, and
 * consume is not called, when there is no snapshot of that name.
 */
lore_status lore_store_get_snapshot(lore_store *st, const char *name,
                                    lore_status (*consume)(void *ctx, const lore_reader *r,
                                                           size_t size_bytes, int64_t generation),
                                    void *ctx, bool *found);

/* ---- reference write path -------------------------------------------------------- */

/*
 * The yardstick for the store's write path: inserts the same rows the way a
 * bare prepared-statement loop does (statements prepared once per call, bind,
 * step, reset; no RETURNING, no checks, no counters), into the same tables of
 * this store, committing every rows_per_txn rows (0: all in one transaction).
 * For benchmarks only: it does not maintain documents' n_chunks nor the
 * content generation.
 */
lore_status lore_store_bare_insert(lore_store *st, int64_t doc_id, const lore_chunk_row *chunks,
                                   size_t n, const char *tier, int dim, const float *vectors,
                                   int rows_per_txn);

#endif
