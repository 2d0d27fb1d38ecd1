/*
 * store_int.h - what the store's files share: the handle, its table of
 * prepared statements, and the helpers every write or read goes through.
 *
 * Invariants:
 *   - Every fixed statement is prepared once, when the store opens (which
 *     also proves the schema has every table and column), and lives until
 *     close; the multi-row INSERT and IN (...) read statements are prepared
 *     on first use, one per bucket size. A statement is always reset before
 *     the call that stepped it returns, so no read transaction outlives a
 *     call.
 *   - explicit_txn is true exactly while a transaction the caller opened with
 *     lore_store_begin is open. A write call that fails rolls back whatever
 *     transaction is open, so after a failure the handle is outside any.
 *   - SQLite's message is copied (lore__store_fail) before any other SQLite
 *     call on the connection, which would overwrite it.
 *   - Work is counted in a lore__store_work on the stack and added to the
 *     handle's stats and the process counters once per call, not per row.
 */
#ifndef LORE_STORE_INT_H
#define LORE_STORE_INT_H

#include "core/lore_int.h"

#include <sqlite3.h>
#include <stdbool.h>

/* PRAGMA application_id of a lore store: 'LORE' in ASCII. */
#define LORE__STORE_APP_ID 0x4c4f5245

/*
 * Rows per multi-row INSERT: 1 << (LORE__STORE_INS_BUCKETS - 1). A statement
 * with RETURNING runs inside a statement journal (SQLite treats RETURNING as a
 * trigger), whose setup and 64 KiB buffer cost about as much as writing a row;
 * one statement per 64 rows makes that cost vanish (measured in store.c).
 */
#define LORE__STORE_INS_BUCKETS 7

/* X(id, sql): the statements every handle keeps prepared. */
#define LORE__STORE_STMT_LIST(X)                                                                   \
    X(LORE__ST_BEGIN, "BEGIN IMMEDIATE")                                                           \
    X(LORE__ST_COMMIT, "COMMIT")                                                                   \
    X(LORE__ST_ROLLBACK, "ROLLBACK")                                                               \
    X(LORE__ST_GENERATION, "SELECT value FROM meta WHERE key = 'generation'")                      \
    X(LORE__ST_GENERATION_BUMP, "UPDATE meta SET value = value + 1 WHERE key = 'generation'")      \
    X(LORE__ST_TIER_DIM, "SELECT value FROM meta WHERE key = 'dim:' || ?1")                        \
    X(LORE__ST_TIER_DIM_SET, "INSERT INTO meta(key, value) VALUES ('dim:' || ?1, ?2)")             \
    X(LORE__ST_DOC_FIND, "SELECT id, hash FROM documents WHERE path = ?1")                         \
    X(LORE__ST_DOC_UPSERT,                                                                         \
      "INSERT INTO documents(path, hash, size_bytes, mtime_ns, n_chunks) "                         \
      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(path) DO UPDATE SET hash = excluded.hash, "         \
      "size_bytes = excluded.size_bytes, mtime_ns = excluded.mtime_ns, "                           \
      "n_chunks = excluded.n_chunks RETURNING id")                                                 \
    X(LORE__ST_DOC_DELETE, "DELETE FROM documents WHERE id = ?1")                                  \
    X(LORE__ST_DOC_EMB_DELETE,                                                                     \
      "DELETE FROM embeddings WHERE chunk_id IN (SELECT id FROM chunks WHERE doc_id = ?1)")        \
    X(LORE__ST_DOC_CHUNKS_DELETE, "DELETE FROM chunks WHERE doc_id = ?1")                          \
    X(LORE__ST_EMB_COUNT, "SELECT count(*) FROM embeddings WHERE tier = ?1")                       \
    X(LORE__ST_EMB_PAGE,                                                                           \
      "SELECT chunk_id, vector FROM embeddings WHERE tier = ?1 AND chunk_id > ?2 "                 \
      "ORDER BY chunk_id LIMIT ?3")                                                                \
    X(LORE__ST_SNAP_PUT, "INSERT INTO snapshots(name, generation, size_bytes, data) "              \
                         "VALUES (?1, ?2, ?3, zeroblob(?3)) ON CONFLICT(name) DO UPDATE SET "      \
                         "generation = excluded.generation, size_bytes = excluded.size_bytes, "    \
                         "data = excluded.data RETURNING rowid")                                   \
    X(LORE__ST_SNAP_GET, "SELECT rowid, generation, size_bytes FROM snapshots WHERE name = ?1")    \
    X(LORE__ST_INFO,                                                                               \
      "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks), "                   \
      "(SELECT count(*) FROM embeddings), (SELECT count(*) FROM snapshots), "                      \
      "(SELECT value FROM meta WHERE key = 'generation'), "                                        \
      "(SELECT page_count FROM pragma_page_count()) * (SELECT page_size FROM pragma_page_size())") \
    X(LORE__ST_QUICK_CHECK, "PRAGMA quick_check")                                                  \
    X(LORE__ST_INTEGRITY_CHECK, "PRAGMA integrity_check")                                          \
    X(LORE__ST_FK_CHECK, "PRAGMA foreign_key_check")                                               \
    X(LORE__ST_VERIFY_DOCS,                                                                        \
      "SELECT d.path, d.n_chunks, count(c.id), coalesce(min(c.ordinal), 0), "                      \
      "coalesce(max(c.ordinal), -1) FROM documents d LEFT JOIN chunks c ON c.doc_id = d.id "       \
      "GROUP BY d.id HAVING count(c.id) != d.n_chunks OR (count(c.id) > 0 AND "                    \
      "(min(c.ordinal) != 0 OR max(c.ordinal) != d.n_chunks - 1)) LIMIT 1")                        \
    X(LORE__ST_VERIFY_EMB,                                                                         \
      "SELECT e.chunk_id, e.tier, e.dim, length(e.vector) FROM embeddings e "                      \
      "WHERE typeof(e.vector) != 'blob' OR e.dim < 1 OR length(e.vector) != 4 * e.dim "            \
      "OR e.dim != (SELECT value FROM meta WHERE key = 'dim:' || e.tier) LIMIT 1")

typedef enum lore__store_stmt {
#define LORE__STORE_STMT_ENUM_(id, sql) id,
    LORE__STORE_STMT_LIST(LORE__STORE_STMT_ENUM_)
#undef LORE__STORE_STMT_ENUM_
        LORE__ST_COUNT_
} lore__store_stmt;

/* Scratch of get_chunks: an asked id and its position in the output. */
typedef struct lore__store_want {
    int64_t id;
    size_t pos;
} lore__store_want;

struct lore_store {
    sqlite3 *db;
    char *path;
    lore_store_params p;
    bool explicit_txn;
    lore_store_stats stats;
    sqlite3_stmt *stmt[LORE__ST_COUNT_];

    /* The last tier whose dim this handle saw in meta, so a write checks it once, not per call;
     * cleared by every rollback (which may undo the meta row this handle added). */
    char dim_tier[64];
    int dim_val;

    /* Multi-row inserts: bucket b writes 1 << b rows (see store.c, insert_rows). */
    sqlite3_stmt *ins_chunks[LORE__STORE_INS_BUCKETS];
    sqlite3_stmt *ins_embs[LORE__STORE_INS_BUCKETS];

    /* IN (...) reads: bucket b binds in_size[b] ids (powers of two, then max_bind_params). */
    int n_buckets;
    int *in_size;
    sqlite3_stmt **in_stmt;

    /* get_chunks scratch, grown as needed and kept: no allocation per call once warm. */
    lore__store_want *want;
    int64_t *uniq;
    size_t *str_off; /* per output row: text offset, path offset in the arena */
    size_t scratch_cap;
};

/* Work done by one call, flushed once into the handle's stats and the process counters. */
typedef struct lore__store_work {
    int64_t rows_written, rows_read, statements, bytes, transactions, rollbacks;
    bool in_txn; /* the call runs inside a transaction (its own or the caller's) */
} lore__store_work;

void lore__store_flush_work(lore_store *st, const lore__store_work *w);

/*
 * Translates the SQLite result rc of what the store was doing (op, and key
 * when not NULL: "put_document 'a.txt'") into a status and a message with
 * SQLite's own text and the store's path. Call it right after the failing
 * SQLite call.
 */
lore_status lore__store_fail(lore_store *st, int rc, const char *op, const char *key);

/* The status an SQLite result code maps to. */
lore_status lore__store_status_of(int rc);

/*
 * Opens the call's own transaction when the caller has none (*own true), and
 * refuses read-only handles with LORE_ESTATE.
 */
lore_status lore__store_write_begin(lore_store *st, const char *op, const char *key, bool *own,
                                    lore__store_work *w);

/*
 * Ends a write call: s != LORE_OK rolls back whatever transaction is open
 * (the caller's too) and returns s; otherwise commits the call's own
 * transaction (rolling back if the commit fails) and returns the result.
 */
lore_status lore__store_write_end(lore_store *st, bool own, lore_status s, const char *op,
                                  const char *key, lore__store_work *w);

/* Finalizes the IN (...) statements and frees the read scratch (store_read.c). */
void lore__store_read_free(lore_store *st);

#endif
