/*
 * store.c - the SQLite store: opening and identifying the file, the schema
 * and its migrations, transactions, the write paths (documents, chunks,
 * embeddings, snapshots), verification and statistics.
 *
 * Identifying a file happens before anything is written to it: the store
 * reads application_id, user_version and the number of schema objects with
 * the connection still in its default journal mode, and refuses (unchanged)
 * a file that is not SQLite, a corrupt one, a SQLite database of another
 * application, or a lore store newer than this build. Only then does it
 * switch to WAL and, in one IMMEDIATE transaction that checks the version
 * again (another process may have raced it), apply the migrations from the
 * file's user_version up to LORE_STORE_SCHEMA_VERSION.
 *
 * Schema notes:
 *   - chunks.id is AUTOINCREMENT: ids of deleted chunks are never reused, so
 *     an id held by an index built before a document was replaced can only
 *     miss (found == false), never name another chunk.
 *   - documents keep their id when replaced (upsert on path).
 *   - UNIQUE(doc_id, ordinal) and UNIQUE(chunk_id, tier) are the indexes the
 *     deletes, the foreign-key checks and the paged embedding reads use.
 *   - meta holds "generation" (bumped in the transaction of every chunk
 *     write or document delete) and "dim:<tier>", the dimension of a tier's
 *     vectors, fixed by its first write, so a tier never mixes dimensions.
 *   - Vectors are stored as the caller's floats, native byte order.
 *
 * Write path: chunk rows go in multi-row INSERT ... VALUES (...), (...)
 * RETURNING id, ordinal statements of 64, 32, ..., 1 rows (203 rows: 64, 64,
 * 64, 8, 2, 1), and their embeddings in statements of the same sizes. Why:
 * SQLite runs a statement with RETURNING (a trigger, to it) inside a
 * statement journal, whose setup and 64 KiB buffer (malloc'd and freed each
 * time, which also makes glibc trim and regrow its heap) cost about as much
 * as writing the row. One row per statement ran at 0.56-0.61 of the bare loop
 * (lore_store_bare_insert); 64 rows per statement run at 1.0-1.2 of it (20k
 * rows of 500 text bytes and 384 floats, all in one transaction, this
 * machine). RETURNING rows are matched to input rows by ordinal (unique in a
 * document), since SQLite does not promise their order.
 *
 * Statistics: n_rows_written counts rows inserted, replaced or deleted in
 * documents, chunks, embeddings and snapshots (not the meta bookkeeping);
 * n_rows_read counts rows returned by find_document, get_chunks,
 * get_embeddings and get_snapshot; n_bytes_written counts chunk text, vector
 * and snapshot bytes. Work is counted when done, even if a rollback undoes it.
 */
#include "core/lore_int.h"
#include "store/store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest snapshot: SQLite's default SQLITE_MAX_LENGTH for one BLOB. */
#define STORE_MAX_SNAPSHOT_BYTES 1000000000u
/*
 * Page size of new stores. An embedding row of 384 floats is about 1550
 * bytes: 4 KiB pages hold two (a quarter of each page unused), 8 KiB pages
 * five (5% unused), so the file is smaller and a bulk insert writes fewer
 * pages.
 */
#define STORE_PAGE_SIZE_STR "8192"
/* Largest vector dimension accepted (a sanity bound, far above any encoder). */
#define STORE_MAX_DIM (1 << 20)

/*
 * Migration i takes a store from user_version i to i + 1. Each runs inside the
 * one transaction that also sets application_id and user_version.
 */
static const char *const migrations[LORE_STORE_SCHEMA_VERSION] = {
    "CREATE TABLE documents ("
    " id INTEGER PRIMARY KEY,"
    " path TEXT NOT NULL UNIQUE,"
    " hash BLOB NOT NULL,"
    " size_bytes INTEGER NOT NULL,"
    " mtime_ns INTEGER NOT NULL,"
    " n_chunks INTEGER NOT NULL);"
    "CREATE TABLE chunks ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    " ordinal INTEGER NOT NULL,"
    " byte_begin INTEGER NOT NULL,"
    " byte_end INTEGER NOT NULL,"
    " text TEXT NOT NULL,"
    " UNIQUE (doc_id, ordinal));"
    "CREATE TABLE embeddings ("
    " id INTEGER PRIMARY KEY,"
    " chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,"
    " tier TEXT NOT NULL,"
    " dim INTEGER NOT NULL,"
    " vector BLOB NOT NULL,"
    " UNIQUE (chunk_id, tier));"
    "CREATE TABLE snapshots ("
    " name TEXT PRIMARY KEY,"
    " generation INTEGER NOT NULL,"
    " size_bytes INTEGER NOT NULL,"
    " data BLOB NOT NULL);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value);"
    "INSERT INTO meta (key, value) VALUES ('generation', 0);",
};

static const char *const stmt_sql[LORE__ST_COUNT_] = {
#define STORE_STMT_SQL_(id, sql) sql,
    LORE__STORE_STMT_LIST(STORE_STMT_SQL_)
#undef STORE_STMT_SQL_
};

/* ---- shared helpers ---------------------------------------------------------- */

lore_status lore__store_status_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return LORE_OK;
    case SQLITE_NOMEM:
        return LORE_ENOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return LORE_ECORRUPT;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
        return LORE_EINVAL;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PERM:
    case SQLITE_INTERRUPT:
    case SQLITE_PROTOCOL:
    case SQLITE_AUTH:
        return LORE_EIO;
    default:
        return LORE_EINTERNAL;
    }
}

lore_status lore__store_fail(lore_store *st, int rc, const char *op, const char *key)
{
    int prim = rc & 0xff;
    const char *why;
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        why = "database is locked";
    else if (st->db && (sqlite3_errcode(st->db) & 0xff) == prim)
        why = sqlite3_errmsg(st->db);
    else
        why = sqlite3_errstr(rc);
    lore_status s = lore__store_status_of(rc);
    if (s == LORE_OK)
        s = LORE_EINTERNAL; /* a result the caller did not expect, such as a row */
    if (key)
        lore__fail(s, "%s '%s': %s (store %s)", op, key, why, st->path);
    else
        lore__fail(s, "%s: %s (store %s)", op, why, st->path);
    /* SQLite ends the transaction itself on some errors (full, I/O, no memory), which may
     * undo a tier's dim this handle recorded. */
    if (st->db && sqlite3_get_autocommit(st->db))
        st->explicit_txn = false;
    st->dim_val = 0;
    return s;
}

void lore__store_flush_work(lore_store *st, const lore__store_work *w)
{
    st->stats.n_rows_written += w->rows_written;
    st->stats.n_rows_read += w->rows_read;
    st->stats.n_statements += w->statements;
    st->stats.n_bytes_written += w->bytes;
    st->stats.n_transactions += w->transactions;
    st->stats.n_rollbacks += w->rollbacks;
    if (w->rows_written)
        lore__counter_add(LORE_COUNTER_STORE_ROWS_WRITTEN, w->rows_written);
    if (w->rows_read)
        lore__counter_add(LORE_COUNTER_STORE_ROWS_READ, w->rows_read);
    if (w->statements)
        lore__counter_add(LORE_COUNTER_STORE_STATEMENTS, w->statements);
    if (w->bytes)
        lore__counter_add(LORE_COUNTER_STORE_BYTES, w->bytes);
    if (w->transactions)
        lore__counter_add(LORE_COUNTER_STORE_TRANSACTIONS, w->transactions);
}

/* Steps a statement that returns no row to the end and resets it. */
static int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc;
}

/* Rolls back whatever is open; errors are ignored (the caller is already failing). A
 * transaction SQLite ended itself on the error counts as rolled back too. */
static void rollback_quietly(lore_store *st, lore__store_work *w)
{
    st->dim_val = 0;
    bool open = !sqlite3_get_autocommit(st->db);
    if (open) {
        step_done(st->stmt[LORE__ST_ROLLBACK]);
        w->statements++;
    }
    if (open || w->in_txn)
        w->rollbacks++;
    w->in_txn = false;
    st->explicit_txn = false;
}

lore_status lore__store_write_begin(lore_store *st, const char *op, const char *key, bool *own,
                                    lore__store_work *w)
{
    *own = false;
    if (st->p.read_only)
        return lore__fail(LORE_ESTATE, "%s: store %s was opened read-only", op, st->path);
    if (st->explicit_txn) {
        if (!sqlite3_get_autocommit(st->db)) {
            w->in_txn = true;
            return LORE_OK;
        }
        /* Cannot happen while every failure goes through lore__store_fail; kept as a guard. */
        st->explicit_txn = false;
        return lore__fail(LORE_ESTATE, "%s: the open transaction was rolled back (store %s)", op,
                          st->path);
    }
    int rc = step_done(st->stmt[LORE__ST_BEGIN]);
    if (rc != SQLITE_DONE)
        return lore__store_fail(st, rc, op, key);
    w->statements++;
    w->in_txn = true;
    *own = true;
    return LORE_OK;
}

lore_status lore__store_write_end(lore_store *st, bool own, lore_status s, const char *op,
                                  const char *key, lore__store_work *w)
{
    if (s != LORE_OK) {
        rollback_quietly(st, w);
        return s;
    }
    if (!own)
        return LORE_OK;
    int rc = step_done(st->stmt[LORE__ST_COMMIT]);
    if (rc != SQLITE_DONE) {
        s = lore__store_fail(st, rc, op, key);
        rollback_quietly(st, w);
        return s;
    }
    w->statements++;
    w->transactions++;
    w->in_txn = false;
    return LORE_OK;
}

/* ---- open and close ------------------------------------------------------------ */

lore_store_params lore_store_default_params(void)
{
    lore_store_params p;
    memset(&p, 0, sizeof p);
    p.read_only = false;
    p.create = true;
    p.busy_timeout_ms = 5000;
    p.max_bind_params = 256;
    p.synchronous = LORE_STORE_SYNC_NORMAL;
    p.max_db_bytes = 0;
    p.cache_kib = 16384;
    return p;
}

static lore_status check_params(const lore_store_params *p)
{
    if (p->busy_timeout_ms < 0)
        return lore__fail(LORE_EINVAL, "store params: busy_timeout_ms must be >= 0 (got %d)",
                          p->busy_timeout_ms);
    if (p->max_bind_params < 1 || p->max_bind_params > 32766)
        return lore__fail(LORE_EINVAL, "store params: max_bind_params must be 1..32766 (got %d)",
                          p->max_bind_params);
    if ((int)p->synchronous < LORE_STORE_SYNC_OFF || (int)p->synchronous > LORE_STORE_SYNC_FULL)
        return lore__fail(LORE_EINVAL, "store params: synchronous must be 0..2 (got %d)",
                          (int)p->synchronous);
    if (p->max_db_bytes < 0)
        return lore__fail(LORE_EINVAL, "store params: max_db_bytes must be >= 0 (got %" PRId64 ")",
                          p->max_db_bytes);
    if (p->cache_kib < 64)
        return lore__fail(LORE_EINVAL, "store params: cache_kib must be >= 64 (got %d)",
                          p->cache_kib);
    return LORE_OK;
}

/* Runs one SQL text (pragmas, migrations) to completion. */
static lore_status exec_sql(lore_store *st, const char *sql, const char *op)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return lore__store_fail(st, rc, op, NULL);
    return LORE_OK;
}

/* What the file's header and schema say it is. */
typedef struct store_ident {
    int64_t app_id, user_version, n_schema;
} store_ident;

/* Reads the identity without writing anything; a non-SQLite or corrupt file fails here. */
static lore_status read_ident(lore_store *st, store_ident *id)
{
    static const char sql[] = "SELECT (SELECT application_id FROM pragma_application_id()), "
                              "(SELECT user_version FROM pragma_user_version()), "
                              "(SELECT count(*) FROM sqlite_schema)";
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            id->app_id = sqlite3_column_int64(s, 0);
            id->user_version = sqlite3_column_int64(s, 1);
            id->n_schema = sqlite3_column_int64(s, 2);
            rc = SQLITE_OK;
        }
    }
    lore_status ret = LORE_OK;
    if (rc != SQLITE_OK) {
        int prim = rc & 0xff;
        if (prim == SQLITE_NOTADB)
            ret = lore__fail(LORE_ECORRUPT, "store %s is not a SQLite database (%s)", st->path,
                             sqlite3_errmsg(st->db));
        else if (prim == SQLITE_CORRUPT)
            ret = lore__fail(LORE_ECORRUPT, "store %s is corrupt (%s)", st->path,
                             sqlite3_errmsg(st->db));
        else
            ret = lore__store_fail(st, rc, "cannot read the store's header", NULL);
    }
    sqlite3_finalize(s);
    return ret;
}

/* LORE_OK when id is a lore store this build can use or an empty database; *fresh: empty. */
static lore_status judge_ident(const lore_store *st, const store_ident *id, bool *fresh)
{
    *fresh = false;
    if (id->app_id == LORE__STORE_APP_ID) {
        if (id->user_version > LORE_STORE_SCHEMA_VERSION)
            return lore__fail(LORE_ECORRUPT,
                              "store %s has schema version %" PRId64 ", newer than this build's %d",
                              st->path, id->user_version, LORE_STORE_SCHEMA_VERSION);
        if (id->user_version < 0)
            return lore__fail(LORE_ECORRUPT, "store %s has a bad schema version %" PRId64, st->path,
                              id->user_version);
        return LORE_OK;
    }
    if (id->app_id == 0 && id->user_version == 0 && id->n_schema == 0) {
        *fresh = true;
        return LORE_OK;
    }
    return lore__fail(LORE_ECORRUPT,
                      "%s is a SQLite database but not a lore store (application_id 0x%08" PRIx64
                      ", user_version %" PRId64 ", %" PRId64 " schema objects)",
                      st->path, (uint64_t)(uint32_t)id->app_id, id->user_version, id->n_schema);
}

/* Creates or migrates the schema in one transaction, checking the file again inside it. */
static lore_status migrate(lore_store *st)
{
    lore_status s = exec_sql(st, "BEGIN IMMEDIATE", "cannot lock the store to create its schema");
    if (s != LORE_OK)
        return s;
    store_ident id;
    bool fresh;
    s = read_ident(st, &id);
    if (s == LORE_OK)
        s = judge_ident(st, &id, &fresh);
    int64_t from = fresh ? 0 : id.user_version;
    for (int64_t v = from; s == LORE_OK && v < LORE_STORE_SCHEMA_VERSION; v++)
        s = exec_sql(st, migrations[v], "cannot create the store's schema");
    if (s == LORE_OK && from < LORE_STORE_SCHEMA_VERSION) {
        char sql[128];
        snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                 LORE__STORE_APP_ID, LORE_STORE_SCHEMA_VERSION);
        s = exec_sql(st, sql, "cannot stamp the store's schema version");
    }
    if (s == LORE_OK)
        s = exec_sql(st, "COMMIT", "cannot commit the store's schema");
    if (s != LORE_OK && !sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return s;
}

static lore_status set_pragmas(lore_store *st)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "PRAGMA synchronous = %d; PRAGMA cache_size = -%d; PRAGMA foreign_keys = ON; "
             "PRAGMA temp_store = MEMORY;",
             (int)st->p.synchronous, st->p.cache_kib);
    lore_status s = exec_sql(st, sql, "cannot set the store's pragmas");
    if (s != LORE_OK || st->p.max_db_bytes == 0)
        return s;
    sqlite3_stmt *ps = NULL;
    int rc = sqlite3_prepare_v2(st->db, "PRAGMA page_size", -1, &ps, NULL);
    int64_t page = 0;
    if (rc == SQLITE_OK && (rc = sqlite3_step(ps)) == SQLITE_ROW) {
        page = sqlite3_column_int64(ps, 0);
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        s = lore__store_fail(st, rc, "cannot read the store's page size", NULL);
        sqlite3_finalize(ps);
        return s;
    }
    sqlite3_finalize(ps);
    int64_t pages = page > 0 ? st->p.max_db_bytes / page : 1;
    if (pages < 1)
        pages = 1;
    /* SQLite keeps the cap at or above the current size: a cap below it means "no growth". */
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %" PRId64 ";", pages);
    return exec_sql(st, sql, "cannot set the store's size cap");
}

static lore_status prepare_all(lore_store *st)
{
    for (int i = 0; i < LORE__ST_COUNT_; i++) {
        int rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &st->stmt[i], NULL);
        if (rc != SQLITE_OK) {
            /* A lore store of the current version lacking a table or column is damaged. */
            if ((rc & 0xff) == SQLITE_ERROR)
                return lore__fail(LORE_ECORRUPT, "store %s is damaged: %s", st->path,
                                  sqlite3_errmsg(st->db));
            return lore__store_fail(st, rc, "cannot prepare the store's statements", NULL);
        }
    }
    return LORE_OK;
}

/* Sizes of the IN (...) buckets: 1, 2, 4, ... below max_bind_params, then max_bind_params. */
static lore_status init_buckets(lore_store *st)
{
    int max = st->p.max_bind_params, n = 0;
    for (int b = 1; b < max; b *= 2)
        n++;
    n++;
    st->in_size = calloc((size_t)n, sizeof *st->in_size);
    st->in_stmt = calloc((size_t)n, sizeof *st->in_stmt);
    if (!st->in_size || !st->in_stmt)
        return lore__fail(LORE_ENOMEM, "store %s: no memory for %d read statements", st->path, n);
    int i = 0;
    for (int b = 1; b < max; b *= 2)
        st->in_size[i++] = b;
    st->in_size[i] = max;
    st->n_buckets = n;
    return LORE_OK;
}

lore_status lore_store_open(const char *path, const lore_store_params *params, lore_store **out)
{
    if (!out)
        return lore__fail(LORE_EINVAL, "lore_store_open: out is NULL");
    *out = NULL;
    if (!path || !*path)
        return lore__fail(LORE_EINVAL, "lore_store_open: path is NULL or empty");
    lore_store_params p = params ? *params : lore_store_default_params();
    lore_status s = check_params(&p);
    if (s != LORE_OK)
        return s;

    lore_store *st = calloc(1, sizeof *st);
    if (!st)
        return lore__fail(LORE_ENOMEM, "lore_store_open: no memory for the handle of %s", path);
    st->p = p;
    size_t plen = strlen(path);
    st->path = malloc(plen + 1);
    if (!st->path) {
        s = lore__fail(LORE_ENOMEM, "lore_store_open: no memory for the path %s", path);
        goto fail;
    }
    memcpy(st->path, path, plen + 1);
    s = init_buckets(st);
    if (s != LORE_OK)
        goto fail;

    /* NOMUTEX: a handle is used by one thread at a time, so SQLite's own locking is waste. */
    int flags = SQLITE_OPEN_NOMUTEX;
    if (p.read_only)
        flags |= SQLITE_OPEN_READONLY;
    else
        flags |= SQLITE_OPEN_READWRITE | (p.create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &st->db, flags, NULL);
    if (rc != SQLITE_OK) {
        const char *why = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
        s = lore__store_status_of(rc);
        if (s == LORE_OK || s == LORE_EINTERNAL)
            s = LORE_EIO;
        lore__fail(s, "cannot open store %s: %s", path, why);
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, p.busy_timeout_ms);
    /* SQLite quietly falls back to read-only on a write-protected file; say so now. */
    if (!p.read_only && sqlite3_db_readonly(st->db, "main") == 1) {
        s = lore__fail(LORE_EIO, "cannot open store %s for writing: the file is read-only", path);
        goto fail;
    }

    store_ident id;
    bool fresh;
    s = read_ident(st, &id);
    if (s == LORE_OK)
        s = judge_ident(st, &id, &fresh);
    if (s != LORE_OK)
        goto fail;
    bool current = !fresh && id.user_version == LORE_STORE_SCHEMA_VERSION;
    if (p.read_only) {
        if (!current) {
            s = lore__fail(LORE_ESTATE,
                           "store %s has schema version %" PRId64
                           " and needs migrating to %d, which a read-only handle cannot do",
                           path, fresh ? 0 : id.user_version, LORE_STORE_SCHEMA_VERSION);
            goto fail;
        }
    } else {
        /* A new file gets 8 KiB pages before anything is written (see STORE_PAGE_SIZE). */
        if (fresh)
            s = exec_sql(st, "PRAGMA page_size = " STORE_PAGE_SIZE_STR,
                         "cannot set the store's page size");
        /* WAL for every file store; ":memory:" keeps its own mode (the pragma is a no-op). */
        if (s == LORE_OK)
            s = exec_sql(st, "PRAGMA journal_mode = WAL", "cannot switch the store to WAL");
        if (s != LORE_OK)
            goto fail;
        if (!current) {
            s = migrate(st);
            if (s != LORE_OK)
                goto fail;
        }
    }
    s = set_pragmas(st);
    if (s == LORE_OK)
        s = prepare_all(st);
    if (s != LORE_OK)
        goto fail;
    /* The generation row must exist: reading it proves meta is sound. */
    int64_t g;
    s = lore_store_generation(st, &g);
    if (s != LORE_OK)
        goto fail;
    *out = st;
    return LORE_OK;

fail:
    lore_store_close(st);
    return s;
}

void lore_store_close(lore_store *st)
{
    if (!st)
        return;
    if (st->db && !sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    lore__store_read_free(st);
    for (int b = 0; b < LORE__STORE_INS_BUCKETS; b++) {
        sqlite3_finalize(st->ins_chunks[b]);
        sqlite3_finalize(st->ins_embs[b]);
    }
    for (int i = 0; i < LORE__ST_COUNT_; i++)
        sqlite3_finalize(st->stmt[i]);
    if (st->db)
        sqlite3_close_v2(st->db);
    free(st->in_size);
    free(st->path);
    free(st);
}

/* ---- facts, stats, verification -------------------------------------------------- */

lore_status lore_store_get_info(lore_store *st, lore_store_info *out)
{
    if (!st || !out)
        return lore__fail(LORE_EINVAL, "lore_store_get_info: %s is NULL", st ? "out" : "st");
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = st->stmt[LORE__ST_INFO];
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        lore_status ret = lore__store_fail(st, rc, "get_info", NULL);
        sqlite3_reset(s);
        return ret;
    }
    out->n_documents = sqlite3_column_int64(s, 0);
    out->n_chunks = sqlite3_column_int64(s, 1);
    out->n_embeddings = sqlite3_column_int64(s, 2);
    out->n_snapshots = sqlite3_column_int64(s, 3);
    out->generation = sqlite3_column_int64(s, 4);
    out->file_bytes = sqlite3_column_int64(s, 5);
    sqlite3_reset(s);
    out->schema_version = LORE_STORE_SCHEMA_VERSION;
    out->sqlite_version = sqlite3_libversion();
    return LORE_OK;
}

void lore_store_get_stats(const lore_store *st, lore_store_stats *out)
{
    if (!out)
        return;
    if (!st) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = st->stats;
}

void lore_store_reset_stats(lore_store *st)
{
    if (st)
        memset(&st->stats, 0, sizeof st->stats);
}

/* Steps a verification query; a row is the first problem (formatted by the caller). */
static int verify_step(lore_store *st, lore__store_stmt id, lore_status *s)
{
    int rc = sqlite3_step(st->stmt[id]);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        *s = lore__store_fail(st, rc, "verify", NULL);
    return rc;
}

lore_status lore_store_verify(lore_store *st, bool full)
{
    if (!st)
        return lore__fail(LORE_EINVAL, "lore_store_verify: st is NULL");
    lore_status s = LORE_OK;
    lore__store_stmt chk = full ? LORE__ST_INTEGRITY_CHECK : LORE__ST_QUICK_CHECK;
    sqlite3_stmt *q = st->stmt[chk];
    int rc = verify_step(st, chk, &s);
    if (rc == SQLITE_ROW) {
        const char *txt = (const char *)sqlite3_column_text(q, 0);
        if (!txt || strcmp(txt, "ok") != 0)
            s = lore__fail(LORE_ECORRUPT, "store %s fails %s: %s", st->path,
                           full ? "integrity_check" : "quick_check", txt ? txt : "(no text)");
    }
    sqlite3_reset(q);
    if (s != LORE_OK)
        return s;

    q = st->stmt[LORE__ST_FK_CHECK];
    if (verify_step(st, LORE__ST_FK_CHECK, &s) == SQLITE_ROW)
        s = lore__fail(LORE_ECORRUPT,
                       "store %s: row %" PRId64 " of %s refers to a missing row of %s", st->path,
                       (int64_t)sqlite3_column_int64(q, 1), (const char *)sqlite3_column_text(q, 0),
                       (const char *)sqlite3_column_text(q, 2));
    sqlite3_reset(q);
    if (s != LORE_OK)
        return s;

    q = st->stmt[LORE__ST_VERIFY_DOCS];
    if (verify_step(st, LORE__ST_VERIFY_DOCS, &s) == SQLITE_ROW)
        s = lore__fail(LORE_ECORRUPT,
                       "store %s: document '%s' has %" PRId64 " chunks with ordinals %" PRId64
                       "..%" PRId64 ", expected n_chunks %" PRId64 " (ordinals 0..n-1)",
                       st->path, (const char *)sqlite3_column_text(q, 0),
                       (int64_t)sqlite3_column_int64(q, 2), (int64_t)sqlite3_column_int64(q, 3),
                       (int64_t)sqlite3_column_int64(q, 4), (int64_t)sqlite3_column_int64(q, 1));
    sqlite3_reset(q);
    if (s != LORE_OK)
        return s;

    q = st->stmt[LORE__ST_VERIFY_EMB];
    if (verify_step(st, LORE__ST_VERIFY_EMB, &s) == SQLITE_ROW)
        s = lore__fail(LORE_ECORRUPT,
                       "store %s: embedding of chunk %" PRId64 " tier '%s' has %" PRId64
                       " bytes for dim %" PRId64 " (or a dim other than its tier's)",
                       st->path, (int64_t)sqlite3_column_int64(q, 0),
                       (const char *)sqlite3_column_text(q, 1), (int64_t)sqlite3_column_int64(q, 3),
                       (int64_t)sqlite3_column_int64(q, 2));
    sqlite3_reset(q);
    if (s != LORE_OK)
        return s;

    int64_t g;
    return lore_store_generation(st, &g);
}

/* ---- transactions ------------------------------------------------------------------ */

lore_status lore_store_begin(lore_store *st)
{
    if (!st)
        return lore__fail(LORE_EINVAL, "lore_store_begin: st is NULL");
    if (st->p.read_only)
        return lore__fail(LORE_ESTATE, "begin: store %s was opened read-only", st->path);
    if (st->explicit_txn)
        return lore__fail(LORE_ESTATE, "begin: a transaction is already open (store %s)", st->path);
    lore__store_work w = {0};
    int rc = step_done(st->stmt[LORE__ST_BEGIN]);
    lore_status s = LORE_OK;
    if (rc != SQLITE_DONE)
        s = lore__store_fail(st, rc, "begin", NULL);
    else {
        st->explicit_txn = true;
        w.statements++;
    }
    lore__store_flush_work(st, &w);
    return s;
}

lore_status lore_store_commit(lore_store *st)
{
    if (!st)
        return lore__fail(LORE_EINVAL, "lore_store_commit: st is NULL");
    if (!st->explicit_txn)
        return lore__fail(LORE_ESTATE, "commit: no transaction is open (store %s)", st->path);
    lore__store_work w = {.in_txn = true};
    st->explicit_txn = false;
    lore_status s = lore__store_write_end(st, true, LORE_OK, "commit", NULL, &w);
    lore__store_flush_work(st, &w);
    return s;
}

lore_status lore_store_rollback(lore_store *st)
{
    if (!st)
        return lore__fail(LORE_EINVAL, "lore_store_rollback: st is NULL");
    if (!st->explicit_txn)
        return LORE_OK;
    lore__store_work w = {.in_txn = true};
    rollback_quietly(st, &w);
    lore__store_flush_work(st, &w);
    return LORE_OK;
}

bool lore_store_in_transaction(const lore_store *st)
{
    return st && st->explicit_txn && !sqlite3_get_autocommit(st->db);
}

/* ---- documents and chunks ------------------------------------------------------------ */

lore_status lore_store_find_document(lore_store *st, const char *path, int64_t *doc_id,
                                     uint8_t hash[16])
{
    if (!st || !path || !*path || !doc_id)
        return lore__fail(LORE_EINVAL, "find_document: %s is NULL or empty",
                          !st                 ? "st"
                          : (!path || !*path) ? "path"
                                              : "doc_id");
    *doc_id = 0;
    lore__store_work w = {0};
    lore_status s = LORE_OK;
    sqlite3_stmt *q = st->stmt[LORE__ST_DOC_FIND];
    sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *doc_id = sqlite3_column_int64(q, 0);
        if (hash) {
            const void *h = sqlite3_column_blob(q, 1);
            int hn = sqlite3_column_bytes(q, 1);
            if (!h || hn != 16)
                s = lore__fail(LORE_ECORRUPT,
                               "find_document '%s': stored hash has %d bytes, not 16 "
                               "(store %s)",
                               path, hn, st->path);
            else
                memcpy(hash, h, 16);
        }
        w.rows_read++;
    } else if (rc != SQLITE_DONE) {
        s = lore__store_fail(st, rc, "find_document", path);
    }
    sqlite3_reset(q);
    w.statements++;
    lore__store_flush_work(st, &w);
    return s;
}

/* Checks a batch of chunk rows; ordinals must be 0..n-1 when whole_doc. */
static lore_status check_rows(const lore_chunk_row *chunks, size_t n, bool whole_doc,
                              const char *tier, int dim, const float *vectors, const char *op,
                              const char *key)
{
    if (n > 0 && !chunks)
        return lore__fail(LORE_EINVAL, "%s '%s': chunks is NULL with n = %zu", op, key, n);
    if (vectors) {
        if (!tier || !*tier)
            return lore__fail(LORE_EINVAL, "%s '%s': vectors given without a tier", op, key);
        if (dim < 1 || dim > STORE_MAX_DIM)
            return lore__fail(LORE_EINVAL, "%s '%s': dim must be 1..%d (got %d)", op, key,
                              STORE_MAX_DIM, dim);
    }
    for (size_t i = 0; i < n; i++) {
        const lore_chunk_row *c = &chunks[i];
        if (c->ordinal < 0 || (whole_doc && (size_t)c->ordinal >= n))
            return lore__fail(LORE_EINVAL, "%s '%s': chunk %zu has ordinal %d, outside 0..%zu", op,
                              key, i, (int)c->ordinal, whole_doc ? n - 1 : (size_t)INT32_MAX);
        if (!c->text && c->text_len > 0)
            return lore__fail(LORE_EINVAL, "%s '%s': chunk %zu has text NULL with text_len %zu", op,
                              key, i, c->text_len);
        if (c->byte_begin < 0 || c->byte_end < c->byte_begin)
            return lore__fail(LORE_EINVAL,
                              "%s '%s': chunk %zu has byte range %" PRId64 "..%" PRId64, op, key, i,
                              c->byte_begin, c->byte_end);
    }
    return LORE_OK;
}

/* Refuses vectors whose dim differs from the tier's; records the dim of a new tier. */
static lore_status check_tier_dim(lore_store *st, const char *tier, int dim, const char *op,
                                  const char *key, lore__store_work *w)
{
    if (st->dim_val == dim && strcmp(st->dim_tier, tier) == 0)
        return LORE_OK;
    sqlite3_stmt *q = st->stmt[LORE__ST_TIER_DIM];
    sqlite3_bind_text(q, 1, tier, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    int64_t stored = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    lore_status s = LORE_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        s = lore__store_fail(st, rc, op, key);
    sqlite3_reset(q);
    w->statements++;
    if (s != LORE_OK)
        return s;
    if (rc == SQLITE_ROW) {
        if (stored != dim)
            return lore__fail(LORE_EINVAL,
                              "%s '%s': tier '%s' holds %" PRId64 "-dim vectors, got dim %d", op,
                              key, tier, stored, dim);
    } else {
        q = st->stmt[LORE__ST_TIER_DIM_SET];
        sqlite3_bind_text(q, 1, tier, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 2, dim);
        rc = step_done(q);
        if (rc != SQLITE_DONE)
            return lore__store_fail(st, rc, op, key);
        w->statements++;
    }
    size_t len = strlen(tier);
    if (len < sizeof st->dim_tier) {
        memcpy(st->dim_tier, tier, len + 1);
        st->dim_val = dim;
    }
    return LORE_OK;
}

/*
 * The multi-row INSERT of bucket b (1 << b rows), prepared on first use.
 * chunks: ?1 is doc_id, row j binds ?(2+4j) .. ?(5+4j); embeddings: ?1 is the
 * tier and ?2 the dim, row j binds ?(3+2j) and ?(4+2j). Values shared by all
 * rows are bound once per call (bindings survive sqlite3_reset).
 */
static lore_status ins_stmt(lore_store *st, bool emb, int b, sqlite3_stmt **out, const char *op,
                            const char *key)
{
    sqlite3_stmt **slot = emb ? &st->ins_embs[b] : &st->ins_chunks[b];
    if (*slot) {
        *out = *slot;
        return LORE_OK;
    }
    int k = 1 << b;
    size_t cap = 128 + (size_t)k * 48, len;
    char *sql = malloc(cap);
    if (!sql)
        return lore__fail(LORE_ENOMEM, "%s '%s': no memory for an insert statement", op, key);
    if (emb) {
        len = (size_t)snprintf(sql, cap,
                               "INSERT INTO embeddings(chunk_id, tier, dim, vector) VALUES ");
        for (int j = 0; j < k; j++)
            len += (size_t)snprintf(sql + len, cap - len, "%s(?%d, ?1, ?2, ?%d)", j ? ", " : "",
                                    3 + 2 * j, 4 + 2 * j);
    } else {
        len = (size_t)snprintf(
            sql, cap, "INSERT INTO chunks(doc_id, ordinal, byte_begin, byte_end, text) VALUES ");
        for (int j = 0; j < k; j++)
            len += (size_t)snprintf(sql + len, cap - len, "%s(?1, ?%d, ?%d, ?%d, ?%d)",
                                    j ? ", " : "", 2 + 4 * j, 3 + 4 * j, 4 + 4 * j, 5 + 4 * j);
        len += (size_t)snprintf(sql + len, cap - len, " RETURNING id, ordinal");
    }
    int rc = sqlite3_prepare_v3(st->db, sql, (int)len, SQLITE_PREPARE_PERSISTENT, slot, NULL);
    free(sql);
    if (rc != SQLITE_OK)
        return lore__store_fail(st, rc, op, key);
    *out = *slot;
    return LORE_OK;
}

/* Inserts rows[0..k) with one statement; ids[j] receives the id of rows[j]. */
static lore_status insert_chunk_batch(lore_store *st, int b, int64_t doc_id,
                                      const lore_chunk_row *rows, int64_t *ids, const char *op,
                                      const char *key)
{
    sqlite3_stmt *q = NULL;
    lore_status s = ins_stmt(st, false, b, &q, op, key);
    if (s != LORE_OK)
        return s;
    size_t k = (size_t)1 << b, got = 0;
    sqlite3_bind_int64(q, 1, doc_id);
    int rc = SQLITE_OK;
    for (size_t j = 0; j < k && rc == SQLITE_OK; j++) {
        const lore_chunk_row *c = &rows[j];
        int p = 2 + 4 * (int)j;
        sqlite3_bind_int(q, p, c->ordinal);
        sqlite3_bind_int64(q, p + 1, c->byte_begin);
        sqlite3_bind_int64(q, p + 2, c->byte_end);
        rc = sqlite3_bind_text64(q, p + 3, c->text_len ? c->text : "", c->text_len, SQLITE_STATIC,
                                 SQLITE_UTF8);
    }
    /* RETURNING rows come after every row is written; each names its row by its ordinal,
     * unique in the document (a duplicate fails the statement before any row returns). */
    while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q, 0);
        int ord = sqlite3_column_int(q, 1);
        size_t pos = got < k && rows[got].ordinal == ord ? got : k;
        for (size_t j = 0; pos == k && j < k; j++)
            if (rows[j].ordinal == ord)
                pos = j;
        if (pos == k) {
            sqlite3_reset(q);
            return lore__fail(LORE_EINTERNAL, "%s '%s': RETURNING gave an unknown ordinal %d", op,
                              key, ord);
        }
        ids[pos] = id;
        got++;
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE)
        s = lore__store_fail(st, rc, op, key);
    else if (got != k)
        s = lore__fail(LORE_EINTERNAL, "%s '%s': RETURNING gave %zu ids for %zu rows", op, key, got,
                       k);
    sqlite3_reset(q);
    return s;
}

/* Inserts the embeddings of k = 1 << b chunks with one statement. */
static lore_status insert_emb_batch(lore_store *st, int b, const int64_t *ids, const char *tier,
                                    const float *vectors, int dim, const char *op, const char *key)
{
    sqlite3_stmt *q = NULL;
    lore_status s = ins_stmt(st, true, b, &q, op, key);
    if (s != LORE_OK)
        return s;
    size_t k = (size_t)1 << b, vec_bytes = (size_t)dim * sizeof(float);
    sqlite3_bind_text(q, 1, tier, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, dim);
    int rc = SQLITE_OK;
    for (size_t j = 0; j < k && rc == SQLITE_OK; j++) {
        int p = 3 + 2 * (int)j;
        sqlite3_bind_int64(q, p, ids[j]);
        rc = sqlite3_bind_blob64(q, p + 1, vectors + j * (size_t)dim, vec_bytes, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc != SQLITE_DONE)
        s = lore__store_fail(st, rc, op, key);
    sqlite3_reset(q);
    return s;
}

/*
 * The hot path: chunk rows (with RETURNING ids) and, with vectors, their
 * embeddings, in multi-row statements of 64, 32, ..., 1 rows. Nothing is
 * allocated once the statements exist.
 */
static lore_status insert_rows(lore_store *st, int64_t doc_id, const lore_chunk_row *chunks,
                               size_t n, const char *tier, int dim, const float *vectors,
                               int64_t *chunk_ids, const char *op, const char *key,
                               lore__store_work *w)
{
    int64_t ids[1 << (LORE__STORE_INS_BUCKETS - 1)];
    size_t vec_bytes = (size_t)dim * sizeof(float);
    lore_status s = LORE_OK;
    for (size_t i = 0; i < n && s == LORE_OK;) {
        int b = LORE__STORE_INS_BUCKETS - 1;
        while (((size_t)1 << b) > n - i)
            b--;
        size_t k = (size_t)1 << b;
        s = insert_chunk_batch(st, b, doc_id, chunks + i, ids, op, key);
        if (s != LORE_OK)
            break;
        w->statements++;
        w->rows_written += (int64_t)k;
        for (size_t j = 0; j < k; j++)
            w->bytes += (int64_t)chunks[i + j].text_len;
        if (chunk_ids)
            memcpy(chunk_ids + i, ids, k * sizeof *ids);
        if (vectors) {
            s = insert_emb_batch(st, b, ids, tier, vectors + i * (size_t)dim, dim, op, key);
            if (s != LORE_OK)
                break;
            w->statements++;
            w->rows_written += (int64_t)k;
            w->bytes += (int64_t)(k * vec_bytes);
        }
        i += k;
    }
    return s;
}

/* Runs a one-parameter delete; *n_deleted gets the rows it removed. */
static lore_status delete_by_id(lore_store *st, lore__store_stmt id, int64_t key_id,
                                int64_t *n_deleted, const char *op, const char *key,
                                lore__store_work *w)
{
    sqlite3_stmt *q = st->stmt[id];
    sqlite3_bind_int64(q, 1, key_id);
    int rc = step_done(q);
    if (rc != SQLITE_DONE)
        return lore__store_fail(st, rc, op, key);
    int64_t n = sqlite3_changes64(st->db);
    w->statements++;
    w->rows_written += n;
    if (n_deleted)
        *n_deleted = n;
    return LORE_OK;
}

/* Deletes the chunks and embeddings of a document; *n_chunks gets the chunks removed. */
static lore_status delete_doc_rows(lore_store *st, int64_t doc_id, int64_t *n_chunks,
                                   const char *op, const char *key, lore__store_work *w)
{
    lore_status s = delete_by_id(st, LORE__ST_DOC_EMB_DELETE, doc_id, NULL, op, key, w);
    if (s == LORE_OK)
        s = delete_by_id(st, LORE__ST_DOC_CHUNKS_DELETE, doc_id, n_chunks, op, key, w);
    return s;
}

/*
 * Bumps the content generation. Writers call it before their bulk rows, not
 * after: in a transaction larger than the page cache, the meta page would by
 * then have been spilled to the WAL, and changing it again rewrites its early
 * frame, which makes the commit re-read and re-checksum every later frame
 * (measured: a third more WAL I/O for 100k rows).
 */
static lore_status bump_generation(lore_store *st, const char *op, const char *key,
                                   lore__store_work *w)
{
    int rc = step_done(st->stmt[LORE__ST_GENERATION_BUMP]);
    if (rc != SQLITE_DONE)
        return lore__store_fail(st, rc, op, key);
    w->statements++;
    if (sqlite3_changes64(st->db) != 1)
        return lore__fail(LORE_ECORRUPT, "%s '%s': store %s has no generation in meta", op, key,
                          st->path);
    return LORE_OK;
}

/* Finds the document under path inside the write transaction; 0 when none. */
static lore_status find_doc_id(lore_store *st, const char *path, int64_t *doc_id, const char *op,
                               lore__store_work *w)
{
    sqlite3_stmt *q = st->stmt[LORE__ST_DOC_FIND];
    sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    *doc_id = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    lore_status s = LORE_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        s = lore__store_fail(st, rc, op, path);
    sqlite3_reset(q);
    w->statements++;
    return s;
}

static lore_status put_document_rows(lore_store *st, const lore_doc_info *doc,
                                     const lore_chunk_row *chunks, size_t n, const char *tier,
                                     int dim, const float *vectors, int64_t *doc_id,
                                     int64_t *chunk_ids, int64_t *n_replaced, lore__store_work *w)
{
    static const char op[] = "put_document";
    const char *key = doc->path;
    int64_t old_id = 0, id = 0;
    lore_status s = find_doc_id(st, doc->path, &old_id, op, w);
    if (s == LORE_OK && old_id != 0)
        s = delete_doc_rows(st, old_id, n_replaced, op, key, w);
    if (s == LORE_OK && vectors)
        s = check_tier_dim(st, tier, dim, op, key, w);
    if (s != LORE_OK)
        return s;

    sqlite3_stmt *q = st->stmt[LORE__ST_DOC_UPSERT];
    sqlite3_bind_text(q, 1, doc->path, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, doc->hash, 16, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, doc->size_bytes);
    sqlite3_bind_int64(q, 4, doc->mtime_ns);
    sqlite3_bind_int64(q, 5, (int64_t)n);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(q, 0);
        rc = sqlite3_step(q);
    }
    if (rc != SQLITE_DONE)
        s = lore__store_fail(st, rc, op, key);
    sqlite3_reset(q);
    if (s != LORE_OK)
        return s;
    w->statements++;
    w->rows_written++;
    if (doc_id)
        *doc_id = id;

    s = bump_generation(st, op, key, w);
    if (s == LORE_OK)
        s = insert_rows(st, id, chunks, n, tier, dim, vectors, chunk_ids, op, key, w);
    return s;
}

lore_status lore_store_put_document(lore_store *st, const lore_doc_info *doc,
                                    const lore_chunk_row *chunks, size_t n, const char *tier,
                                    int dim, const float *vectors, int64_t *doc_id,
                                    int64_t *chunk_ids, int64_t *n_replaced)
{
    static const char op[] = "put_document";
    if (doc_id)
        *doc_id = 0;
    if (n_replaced)
        *n_replaced = 0;
    if (!st)
        return lore__fail(LORE_EINVAL, "put_document: st is NULL");
    const char *key = doc && doc->path ? doc->path : "";
    lore__store_work w = {0};
    bool own = false;
    lore_status s = LORE_OK;
    if (!doc || !doc->path || !*doc->path)
        s = lore__fail(LORE_EINVAL, "put_document: %s", !doc ? "doc is NULL" : "path is empty");
    if (s == LORE_OK)
        s = check_rows(chunks, n, true, tier, dim, vectors, op, key);
    if (s == LORE_OK && (int64_t)n > INT32_MAX)
        s = lore__fail(LORE_EINVAL, "put_document '%s': %zu chunks, more than ordinals hold", key,
                       n);
    if (s == LORE_OK)
        s = lore__store_write_begin(st, op, key, &own, &w);
    if (s == LORE_OK)
        s = put_document_rows(st, doc, chunks, n, tier, dim, vectors, doc_id, chunk_ids, n_replaced,
                              &w);
    s = lore__store_write_end(st, own, s, op, key, &w);
    if (s != LORE_OK) {
        if (doc_id)
            *doc_id = 0;
        if (n_replaced)
            *n_replaced = 0;
    }
    lore__store_flush_work(st, &w);
    return s;
}

lore_status lore_store_put_chunks(lore_store *st, int64_t doc_id, const lore_chunk_row *chunks,
                                  size_t n, const char *tier, int dim, const float *vectors,
                                  int64_t *chunk_ids)
{
    static const char op[] = "put_chunks";
    if (!st)
        return lore__fail(LORE_EINVAL, "put_chunks: st is NULL");
    char key[40];
    snprintf(key, sizeof key, "document %" PRId64, doc_id);
    lore__store_work w = {0};
    bool own = false;
    lore_status s = check_rows(chunks, n, false, tier, dim, vectors, op, key);
    if (s == LORE_OK && doc_id < 1)
        s = lore__fail(LORE_EINVAL, "put_chunks: doc_id must be >= 1 (got %" PRId64 ")", doc_id);
    if (s == LORE_OK)
        s = lore__store_write_begin(st, op, key, &own, &w);
    if (s == LORE_OK && vectors)
        s = check_tier_dim(st, tier, dim, op, key, &w);
    if (s == LORE_OK)
        s = bump_generation(st, op, key, &w);
    if (s == LORE_OK)
        s = insert_rows(st, doc_id, chunks, n, tier, dim, vectors, chunk_ids, op, key, &w);
    s = lore__store_write_end(st, own, s, op, key, &w);
    lore__store_flush_work(st, &w);
    return s;
}

lore_status lore_store_delete_document(lore_store *st, const char *path, bool *found)
{
    static const char op[] = "delete_document";
    if (found)
        *found = false;
    if (!st)
        return lore__fail(LORE_EINVAL, "delete_document: st is NULL");
    lore__store_work w = {0};
    bool own = false;
    int64_t id = 0;
    lore_status s = LORE_OK;
    if (!path || !*path)
        s = lore__fail(LORE_EINVAL, "delete_document: path is NULL or empty");
    if (s == LORE_OK)
        s = lore__store_write_begin(st, op, path, &own, &w);
    if (s == LORE_OK)
        s = find_doc_id(st, path, &id, op, &w);
    if (s == LORE_OK && id != 0) {
        s = delete_doc_rows(st, id, NULL, op, path, &w);
        if (s == LORE_OK)
            s = delete_by_id(st, LORE__ST_DOC_DELETE, id, NULL, op, path, &w);
        if (s == LORE_OK)
            s = bump_generation(st, op, path, &w);
    }
    s = lore__store_write_end(st, own, s, op, path, &w);
    if (s == LORE_OK && found)
        *found = id != 0;
    lore__store_flush_work(st, &w);
    return s;
}

/* ---- generation and snapshots ------------------------------------------------------------ */

lore_status lore_store_generation(lore_store *st, int64_t *generation)
{
    if (!st || !generation)
        return lore__fail(LORE_EINVAL, "lore_store_generation: %s is NULL",
                          st ? "generation" : "st");
    *generation = 0;
    sqlite3_stmt *q = st->stmt[LORE__ST_GENERATION];
    int rc = sqlite3_step(q);
    lore_status s = LORE_OK;
    if (rc == SQLITE_ROW)
        *generation = sqlite3_column_int64(q, 0);
    else if (rc == SQLITE_DONE)
        s = lore__fail(LORE_ECORRUPT, "store %s has no generation in meta", st->path);
    else
        s = lore__store_fail(st, rc, "generation", NULL);
    sqlite3_reset(q);
    return s;
}

/* The writer handed to a snapshot's producer: bytes go straight into the BLOB. */
typedef struct blob_sink {
    lore_store *st;
    const char *name;
    sqlite3_blob *blob;
    size_t size, off;
    bool overflow;
    lore_status err; /* the first failure of a write, kept even if produce ignores it */
} blob_sink;

static lore_status blob_sink_write(void *ctx, const void *buf, size_t n)
{
    blob_sink *b = ctx;
    if (b->err != LORE_OK)
        return b->err;
    if (n > b->size - b->off) {
        b->overflow = true;
        b->err = lore__fail(LORE_EINVAL,
                            "put_snapshot '%s': produce wrote past the %zu bytes announced "
                            "(store %s)",
                            b->name, b->size, b->st->path);
        return b->err;
    }
    if (n == 0)
        return LORE_OK;
    /* size <= STORE_MAX_SNAPSHOT_BYTES, so every count and offset fits an int. */
    int rc = sqlite3_blob_write(b->blob, buf, (int)n, (int)b->off);
    if (rc != SQLITE_OK) {
        b->err = lore__store_fail(b->st, rc, "put_snapshot", b->name);
        return b->err;
    }
    b->off += n;
    return LORE_OK;
}

static lore_status put_snapshot_rows(lore_store *st, const char *name, int64_t generation,
                                     size_t size_bytes,
                                     lore_status (*produce)(void *ctx, const lore_writer *w),
                                     void *ctx, lore__store_work *w)
{
    static const char op[] = "put_snapshot";
    sqlite3_stmt *q = st->stmt[LORE__ST_SNAP_PUT];
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, generation);
    sqlite3_bind_int64(q, 3, (int64_t)size_bytes);
    int64_t rowid = 0;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        rowid = sqlite3_column_int64(q, 0);
        rc = sqlite3_step(q);
    }
    lore_status s = LORE_OK;
    if (rc != SQLITE_DONE)
        s = lore__store_fail(st, rc, op, name);
    sqlite3_reset(q);
    if (s != LORE_OK)
        return s;
    w->statements++;
    w->rows_written++;

    blob_sink b = {.st = st, .name = name, .size = size_bytes};
    rc = sqlite3_blob_open(st->db, "main", "snapshots", "data", rowid, 1, &b.blob);
    if (rc != SQLITE_OK) {
        s = lore__store_fail(st, rc, op, name);
        sqlite3_blob_close(b.blob);
        return s;
    }
    lore_writer wr = {.write = blob_sink_write, .ctx = &b};
    s = produce(ctx, &wr);
    if (s == LORE_OK && b.err != LORE_OK)
        s = b.err; /* produce ignored a failed write; the message is the writer's */
    else if (s == LORE_OK && b.off != b.size)
        s = lore__fail(LORE_EINVAL,
                       "put_snapshot '%s': produce wrote %zu of the %zu bytes announced (store %s)",
                       name, b.off, b.size, st->path);
    /* The handle must be closed before the transaction ends; closing flushes cached writes. */
    rc = sqlite3_blob_close(b.blob);
    if (s == LORE_OK && rc != SQLITE_OK)
        s = lore__store_fail(st, rc, op, name);
    if (s == LORE_OK)
        w->bytes += (int64_t)size_bytes;
    return s;
}

lore_status lore_store_put_snapshot(lore_store *st, const char *name, int64_t generation,
                                    size_t size_bytes,
                                    lore_status (*produce)(void *ctx, const lore_writer *w),
                                    void *ctx)
{
    static const char op[] = "put_snapshot";
    if (!st)
        return lore__fail(LORE_EINVAL, "put_snapshot: st is NULL");
    lore__store_work w = {0};
    bool own = false;
    lore_status s = LORE_OK;
    if (!name || !*name)
        s = lore__fail(LORE_EINVAL, "put_snapshot: name is NULL or empty");
    else if (!produce)
        s = lore__fail(LORE_EINVAL, "put_snapshot '%s': produce is NULL", name);
    else if (size_bytes > STORE_MAX_SNAPSHOT_BYTES)
        s = lore__fail(LORE_EINVAL, "put_snapshot '%s': %zu bytes, more than the %u a BLOB holds",
                       name, size_bytes, STORE_MAX_SNAPSHOT_BYTES);
    if (s == LORE_OK)
        s = lore__store_write_begin(st, op, name, &own, &w);
    if (s == LORE_OK)
        s = put_snapshot_rows(st, name, generation, size_bytes, produce, ctx, &w);
    s = lore__store_write_end(st, own, s, op, name, &w);
    lore__store_flush_work(st, &w);
    return s;
}

/* The reader handed to a snapshot's consumer: bytes come straight from the BLOB. */
typedef struct blob_source {
    lore_store *st;
    const char *name;
    sqlite3_blob *blob;
    size_t size, off;
} blob_source;

static lore_status blob_source_read(void *ctx, void *buf, size_t n)
{
    blob_source *b = ctx;
    if (n > b->size - b->off)
        return lore__fail(LORE_ECORRUPT,
                          "snapshot '%s': read of %zu bytes at offset %zu runs past its end (%zu "
                          "bytes; store %s)",
                          b->name, n, b->off, b->size, b->st->path);
    if (n == 0)
        return LORE_OK;
    int rc = sqlite3_blob_read(b->blob, buf, (int)n, (int)b->off);
    if (rc != SQLITE_OK)
        return lore__store_fail(b->st, rc, "get_snapshot", b->name);
    b->off += n;
    return LORE_OK;
}

lore_status lore_store_get_snapshot(lore_store *st, const char *name,
                                    lore_status (*consume)(void *ctx, const lore_reader *r,
                                                           size_t size_bytes, int64_t generation),
                                    void *ctx, bool *found)
{
    static const char op[] = "get_snapshot";
    if (found)
        *found = false;
    if (!st || !name || !*name || !consume)
        return lore__fail(LORE_EINVAL, "get_snapshot: %s is NULL or empty",
                          !st                 ? "st"
                          : (!name || !*name) ? "name"
                                              : "consume");
    lore__store_work w = {0};
    sqlite3_stmt *q = st->stmt[LORE__ST_SNAP_GET];
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    w.statements++;
    lore_status s = LORE_OK;
    if (rc == SQLITE_DONE)
        goto done;
    if (rc != SQLITE_ROW) {
        s = lore__store_fail(st, rc, op, name);
        goto done;
    }
    /* The statement stays on its row while the BLOB is read: its read transaction keeps the
     * bytes consistent with the generation even when another connection writes meanwhile. */
    int64_t rowid = sqlite3_column_int64(q, 0);
    int64_t generation = sqlite3_column_int64(q, 1);
    int64_t size = sqlite3_column_int64(q, 2);
    blob_source b = {.st = st, .name = name};
    rc = sqlite3_blob_open(st->db, "main", "snapshots", "data", rowid, 0, &b.blob);
    if (rc != SQLITE_OK) {
        s = lore__store_fail(st, rc, op, name);
        sqlite3_blob_close(b.blob);
        goto done;
    }
    if (size < 0 || sqlite3_blob_bytes(b.blob) != size) {
        s = lore__fail(LORE_ECORRUPT,
                       "get_snapshot '%s': %d bytes stored, size_bytes says %" PRId64 " (store %s)",
                       name, sqlite3_blob_bytes(b.blob), size, st->path);
        sqlite3_blob_close(b.blob);
        goto done;
    }
    b.size = (size_t)size;
    if (found)
        *found = true;
    w.rows_read++;
    lore_reader rd = {.read = blob_source_read, .ctx = &b};
    s = consume(ctx, &rd, b.size, generation);
    sqlite3_blob_close(b.blob);
done:
    sqlite3_reset(q);
    lore__store_flush_work(st, &w);
    return s;
}
