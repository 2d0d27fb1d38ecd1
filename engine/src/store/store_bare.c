/*
 * store_bare.c - the yardstick of the store's write path: the loop a
 * programmer writes with SQLite's C API and nothing else.
 *
 * Statements are prepared once per call; every row is bind, step, reset;
 * a chunk's id comes from sqlite3_last_insert_rowid, not RETURNING; there is
 * no argument check per row, no counter, no generation. It writes the same
 * rows into the same tables (and indexes) as lore_store_put_chunks, on the
 * same connection and pragmas, so the two rates compare the store's own
 * overhead and nothing else. It records a new tier's dimension in meta once
 * per call, as the store does, so counting and verifying still work after it.
 */
#include "core/lore_int.h"
#include "store/store_int.h"

enum { BARE_BEGIN, BARE_COMMIT, BARE_CHUNK, BARE_EMB, BARE_DIM, BARE_COUNT_ };

static const char *const bare_sql[BARE_COUNT_] = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "INSERT INTO chunks(doc_id, ordinal, byte_begin, byte_end, text) VALUES (?1, ?2, ?3, ?4, ?5)",
    "INSERT INTO embeddings(chunk_id, tier, dim, vector) VALUES (?1, ?2, ?3, ?4)",
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('dim:' || ?1, ?2)",
};

/* Steps a statement to its end and resets it; returns SQLITE_DONE on success. */
static int bare_run(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc;
}

lore_status lore_store_bare_insert(lore_store *st, int64_t doc_id, const lore_chunk_row *chunks,
                                   size_t n, const char *tier, int dim, const float *vectors,
                                   int rows_per_txn)
{
    static const char op[] = "bare_insert";
    if (!st)
        return lore__fail(LORE_EINVAL, "bare_insert: st is NULL");
    if (st->p.read_only)
        return lore__fail(LORE_ESTATE, "bare_insert: store %s was opened read-only", st->path);
    if (st->explicit_txn)
        return lore__fail(LORE_ESTATE,
                          "bare_insert: it makes its own transactions, but one is "
                          "open (store %s)",
                          st->path);
    if ((n > 0 && !chunks) || rows_per_txn < 0 || (vectors && (!tier || !*tier || dim < 1)))
        return lore__fail(LORE_EINVAL,
                          "bare_insert: bad arguments (chunks %s, n %zu, rows_per_txn %d, "
                          "tier %s, dim %d)",
                          chunks ? "set" : "NULL", n, rows_per_txn, tier ? tier : "NULL", dim);
    if (n == 0)
        return LORE_OK;

    sqlite3_stmt *q[BARE_COUNT_] = {0};
    lore_status s = LORE_OK;
    int rc = SQLITE_OK;
    for (int i = 0; i < BARE_COUNT_ && rc == SQLITE_OK; i++)
        rc = sqlite3_prepare_v2(st->db, bare_sql[i], -1, &q[i], NULL);
    if (rc != SQLITE_OK) {
        s = lore__store_fail(st, rc, op, NULL);
        goto done;
    }

    size_t per = rows_per_txn == 0 ? n : (size_t)rows_per_txn, in_txn = 0;
    int vec_bytes = dim * (int)sizeof(float);
    for (size_t i = 0; i < n; i++) {
        if (in_txn == 0) {
            rc = bare_run(q[BARE_BEGIN]);
            if (rc != SQLITE_DONE)
                goto fail;
            if (i == 0 && vectors) {
                sqlite3_bind_text(q[BARE_DIM], 1, tier, -1, SQLITE_STATIC);
                sqlite3_bind_int(q[BARE_DIM], 2, dim);
                if ((rc = bare_run(q[BARE_DIM])) != SQLITE_DONE)
                    goto fail;
            }
        }
        const lore_chunk_row *c = &chunks[i];
        sqlite3_stmt *ci = q[BARE_CHUNK];
        sqlite3_bind_int64(ci, 1, doc_id);
        sqlite3_bind_int(ci, 2, c->ordinal);
        sqlite3_bind_int64(ci, 3, c->byte_begin);
        sqlite3_bind_int64(ci, 4, c->byte_end);
        sqlite3_bind_text(ci, 5, c->text_len ? c->text : "", (int)c->text_len, SQLITE_STATIC);
        if ((rc = bare_run(ci)) != SQLITE_DONE)
            goto fail;
        if (vectors) {
            sqlite3_stmt *ei = q[BARE_EMB];
            sqlite3_bind_int64(ei, 1, sqlite3_last_insert_rowid(st->db));
            sqlite3_bind_text(ei, 2, tier, -1, SQLITE_STATIC);
            sqlite3_bind_int(ei, 3, dim);
            sqlite3_bind_blob(ei, 4, vectors + i * (size_t)dim, vec_bytes, SQLITE_STATIC);
            if ((rc = bare_run(ei)) != SQLITE_DONE)
                goto fail;
        }
        if (++in_txn == per || i + 1 == n) {
            if ((rc = bare_run(q[BARE_COMMIT])) != SQLITE_DONE)
                goto fail;
            in_txn = 0;
        }
    }
    goto done;

fail:
    s = lore__store_fail(st, rc, op, NULL);
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
done:
    for (int i = 0; i < BARE_COUNT_; i++)
        sqlite3_finalize(q[i]);
    return s;
}
