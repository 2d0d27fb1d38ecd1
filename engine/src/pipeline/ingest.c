/*
 * ingest.c - documents in: read -> chunk -> tokenize + embed -> store -> index.
 *
 * One call runs as a queue. Each document is read (files: whole, up to
 * max_file_bytes), checked (empty, binary: a NUL in the first 8 KiB), hashed
 * (XXH3-128 of its bytes, compared with the stored hash: unchanged documents
 * stop here), checked for UTF-8 and chunked; its chunks join a queue that
 * spans documents. Every embed_batch queued chunks make one embed call; each
 * document whose chunks all have vectors is then written whole with
 * lore_store_put_document, in document order.
 *
 * Transactions: the pipeline opens them itself and commits at document
 * boundaries once rows_per_txn chunk rows are written (0: one for the whole
 * call), so after a crash every document is whole or absent. Added, replaced
 * and chunk counts (report and progress) cover committed documents only;
 * skipped and unchanged ones count as done at once. Progress is reported
 * after every commit, and once more at the end when documents were handled
 * since the last report (a call where nothing changed still reports). A
 * failure rolls back the open transaction and keeps everything committed
 * before. A pipeline on a read-only store refuses to ingest (LORE_ESTATE)
 * before looking at any document.
 *
 * The index follows the commits: the vectors of a transaction are kept and
 * added to the index only after it commits (a rolled-back id may be reused by
 * SQLite, so it must never reach the index). The index has no remove, so a
 * replaced document, an untrained IVF, a transaction too large to keep in
 * memory (PENDING_ADD_MAX_BYTES), or a write by another handle since the
 * index was built (the generation read at BEGIN differs) marks the index
 * stale, and it is rebuilt from the stored embeddings at the end of the
 * call. The call ends by saving the snapshot stamped with the generation read
 * inside the last transaction, so a concurrent writer makes it stale rather
 * than wrong.
 *
 * Invalid UTF-8 (LORE_UTF8_REPLACE): chunk offsets stay offsets into the
 * source; only the stored (and embedded) chunk text has each maximal ill-formed
 * subpart replaced by U+FFFD. In token mode the chunker reads a same-length
 * copy whose bad bytes are 0x1A (a control character the tokenizer drops, as
 * it drops U+FFFD), since the embedder's tokenizer may be strict.
 *
 * Skipped documents (empty, whitespace only, binary, too large, unreadable,
 * invalid UTF-8 under LORE_UTF8_STRICT) leave the store as it was, including
 * an older version stored under the same path. Folders: entries in byte order
 * of their names; names starting with '.' are not looked at; symbolic links to
 * regular files are read, links to folders are not followed; other entries
 * (devices, sockets, fifos, dangling links) are not documents and are passed
 * over silently. A path named by the caller that is none of these is skipped
 * with a reason. The document's key is its path as walked (the caller's path,
 * then '/' and the entry names).
 *
 * A report is reused: it must be zero-initialised before its first call;
 * each call keeps its skip storage and resets the rest.
 */
#include "core/lore_int.h"
#include "text/utf8.h"
#include "pipeline/pipeline_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* Bytes at the start of a document searched for a NUL byte (binary detection). */
#define BINARY_PROBE_BYTES 8192
/* Vectors of one open transaction kept for the index; past this, rebuild at the end. */
#define PENDING_ADD_MAX_BYTES ((size_t)64 << 20)
/* Byte that stands for an ill-formed UTF-8 byte in the token-mode chunker's copy. */
#define SANITIZED_BYTE 0x1a
#define REASON_BYTES 320

typedef struct pend_doc {
    const char *path; /* the caller's or the walk's: valid for the call */
    char *owned;      /* the file's bytes, or NULL (texts: the caller's) */
    const char *src;
    size_t len;
    char *fixed; /* chunk texts with U+FFFD, or NULL */
    int64_t mtime_ns;
    uint8_t hash[16];
    bool existed;
    size_t c0, n; /* its rows in the chunk queue */
} pend_doc;

typedef struct run {
    lore_pipeline *p;
    lore_ingest_report *rep;
    lore_progress_fn progress;
    void *ctx;
    int dim;

    /* Documents waiting for their vectors or their write; [d_head, n_docs) are left. */
    pend_doc *docs;
    size_t d_head, n_docs, cap_docs;
    /* Their chunks; [0, n_embedded) have vectors. */
    lore_chunk_row *rows;
    const char **texts;
    size_t *lens;
    float *vecs;
    size_t n_rows, n_embedded, cap_rows;
    int64_t *chunk_ids;
    size_t cap_ids;
    lore_chunk_list chunks;
    char *sanitized;
    size_t cap_sanitized;

    /* Vectors written in the open transaction, for the index once it commits. */
    int64_t *add_ids;
    float *add_vecs;
    size_t n_add, cap_add;

    /* The open transaction and what it holds. */
    bool in_txn;
    int64_t txn_rows, txn_docs, txn_added, txn_replaced, txn_chunks;

    /* Progress. */
    int64_t n_done, n_total, last_reported;
    const char *last_path;
    bool stop;

    /* Embed phase timing. */
    int64_t t_phase;
    bool phase_seen;

    /* The store's own files (database, -wal, -shm, -journal) that exist. */
    struct {
        dev_t dev;
        ino_t ino;
    } own[4];
    int n_own;
} run;

/* Notes which of the store's files exist, so a walk over their folder passes them over. */
static void find_own_files(run *r)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    const char *db = r->p->db_path;
    if (!db || strcmp(db, ":memory:") == 0 || strlen(db) > 4000)
        return;
    for (int i = 0; i < 4; i++) {
        char path[4100];
        struct stat st;
        snprintf(path, sizeof path, "%s%s", db, suffix[i]);
        if (stat(path, &st) == 0) {
            r->own[r->n_own].dev = st.st_dev;
            r->own[r->n_own].ino = st.st_ino;
            r->n_own++;
        }
    }
}

static bool is_own_file(const run *r, const struct stat *st)
{
    for (int i = 0; i < r->n_own; i++)
        if (r->own[i].dev == st->st_dev && r->own[i].ino == st->st_ino)
            return true;
    return false;
}

typedef struct path_list {
    char **v;
    size_t n, cap;
} path_list;

/* ---- UTF-8 ------------------------------------------------------------------------ */

/* Whether s starts with a well-formed sequence; *len: its length, or the bad one's. */
static bool utf8_seq(const uint8_t *s, size_t n, size_t *len)
{
    int32_t cp;
    *len = lore__utf8_decode(s, n, 0, &cp);
    return cp >= 0;
}

/* Counts the ill-formed sequences of s; *first gets the offset of the first one. */
static size_t utf8_scan(const char *text, size_t n, size_t *first)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t bad = 0;
    *first = n;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k;
        if (!utf8_seq(s + i, n - i, &k)) {
            if (bad++ == 0)
                *first = i;
        }
        i += k;
    }
    return bad;
}

/* Writes s[0, n) to out (when not NULL) with U+FFFD for each ill-formed sequence; the length. */
static size_t utf8_fix(const char *text, size_t n, char *out)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k;
        if (s[i] < 0x80 || utf8_seq(s + i, n - i, &k)) {
            k = s[i] < 0x80 ? 1 : k;
            if (out)
                memcpy(out + o, s + i, k);
            o += k;
        } else {
            if (out)
                memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
        }
        i += k;
    }
    return o;
}

/* ---- report -------------------------------------------------------------------------- */

static void report_reset(lore_ingest_report *r)
{
    lore_ingest_skip *skips = r->skips;
    char *arena = r->skip_arena_;
    size_t arena_cap = r->skip_arena_cap_, skips_cap = r->skips_cap_;
    memset(r, 0, sizeof *r);
    r->skips = skips;
    r->skip_arena_ = arena;
    r->skip_arena_cap_ = arena_cap;
    r->skips_cap_ = skips_cap;
}

void lore_ingest_report_free(lore_ingest_report *r)
{
    if (!r)
        return;
    free(r->skips);
    free(r->skip_arena_);
    memset(r, 0, sizeof *r);
}

/* Room for need more arena bytes; a new arena moves the strings, so the skips are rebased. */
static lore_status arena_reserve(lore_ingest_report *r, size_t need)
{
    if (r->skip_arena_len_ + need <= r->skip_arena_cap_)
        return LORE_OK;
    size_t cap = r->skip_arena_cap_ ? r->skip_arena_cap_ : 4096;
    while (cap < r->skip_arena_len_ + need)
        cap *= 2;
    char *a = malloc(cap);
    if (!a)
        return lore__fail(LORE_ENOMEM, "ingest: out of memory for the report's skip list");
    if (r->skip_arena_len_)
        memcpy(a, r->skip_arena_, r->skip_arena_len_);
    for (int64_t i = 0; i < r->n_skipped; i++) {
        r->skips[i].path = a + (r->skips[i].path - r->skip_arena_);
        r->skips[i].reason = a + (r->skips[i].reason - r->skip_arena_);
    }
    free(r->skip_arena_);
    r->skip_arena_ = a;
    r->skip_arena_cap_ = cap;
    return LORE_OK;
}

static const char *arena_put(lore_ingest_report *r, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = r->skip_arena_ + r->skip_arena_len_;
    memcpy(d, s, n);
    r->skip_arena_len_ += n;
    return d;
}

/* Records a skipped document (counted as done at once: it changes nothing). */
static lore_status skip(run *r, const char *path, const char *fmt, ...) LORE__PRINTF(3, 4);
static lore_status skip(run *r, const char *path, const char *fmt, ...)
{
    char reason[REASON_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    lore_ingest_report *rep = r->rep;
    if ((size_t)rep->n_skipped >= rep->skips_cap_) {
        size_t cap = rep->skips_cap_ ? 2 * rep->skips_cap_ : 16;
        lore_ingest_skip *v = realloc(rep->skips, cap * sizeof *v);
        if (!v)
            return lore__fail(LORE_ENOMEM, "ingest: out of memory for the report's skip list");
        rep->skips = v;
        rep->skips_cap_ = cap;
    }
    lore_status s = arena_reserve(rep, strlen(path) + 1 + strlen(reason) + 1);
    if (s != LORE_OK)
        return s;
    lore_ingest_skip *k = &rep->skips[rep->n_skipped++];
    k->path = arena_put(rep, path);
    k->reason = arena_put(rep, reason);
    lore__counter_add(LORE_COUNTER_INGEST_SKIPPED, 1);
    r->n_done++;
    return LORE_OK;
}

/* ---- growth ---------------------------------------------------------------------------- */

static lore_status grow(void **v, size_t *cap, size_t need, size_t elem, const char *what)
{
    if (need <= *cap)
        return LORE_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *n = realloc(*v, c * elem);
    if (!n)
        return lore__fail(LORE_ENOMEM, "ingest: out of memory for %zu %s", c, what);
    *v = n;
    *cap = c;
    return LORE_OK;
}

/* grow() on a typed array: through a real void *, so no pointer is written as another type. */
#define GROW(s, arr, capp, need, what)                                                             \
    do {                                                                                           \
        void *g_ = (arr);                                                                          \
        (s) = grow(&g_, (capp), (need), sizeof *(arr), (what));                                    \
        (arr) = g_;                                                                                \
    } while (0)

/* Grows the four chunk-queue arrays together to hold need rows. */
static lore_status grow_rows(run *r, size_t need)
{
    if (need <= r->cap_rows)
        return LORE_OK;
    size_t c = r->cap_rows ? r->cap_rows : 256;
    while (c < need)
        c *= 2;
    lore_chunk_row *rows = realloc(r->rows, c * sizeof *rows);
    if (rows)
        r->rows = rows;
    const char **texts = realloc(r->texts, c * sizeof *texts);
    if (texts)
        r->texts = texts;
    size_t *lens = realloc(r->lens, c * sizeof *lens);
    if (lens)
        r->lens = lens;
    float *vecs = realloc(r->vecs, c * (size_t)r->dim * sizeof *vecs);
    if (vecs)
        r->vecs = vecs;
    if (!rows || !texts || !lens || !vecs)
        return lore__fail(LORE_ENOMEM, "ingest: out of memory for a queue of %zu chunks", c);
    r->cap_rows = c;
    return LORE_OK;
}

static void free_doc(pend_doc *d)
{
    free(d->owned);
    free(d->fixed);
    d->owned = d->fixed = NULL;
}

/* ---- transactions ------------------------------------------------------------------------ */

static void report_progress(run *r)
{
    r->last_reported = r->n_done;
    if (!r->progress)
        return;
    lore_ingest_progress pr = {.n_done = r->n_done,
                               .n_total = r->n_total,
                               .n_chunks = r->rep->n_chunks,
                               .path = r->last_path ? r->last_path : ""};
    if (!r->progress(r->ctx, &pr)) {
        r->stop = true;
        r->rep->cancelled = true;
    }
}

static lore_status begin_txn(run *r)
{
    lore_pipeline *p = r->p;
    int64_t t0 = lore__pipe_now_ns();
    lore_status s = lore_store_begin(p->store);
    int64_t gen = 0;
    if (s == LORE_OK) {
        r->in_txn = true;
        s = lore_store_generation(p->store, &gen);
    }
    /* Someone else wrote since the index was built: it misses their chunks. */
    if (s == LORE_OK && gen != p->index_gen)
        p->index_stale = true;
    r->txn_rows = r->txn_docs = r->txn_added = r->txn_replaced = r->txn_chunks = 0;
    r->n_add = 0;
    r->rep->stage_ns[LORE_INGEST_STORE] += lore__pipe_now_ns() - t0;
    return s;
}

static lore_status commit_txn(run *r)
{
    lore_pipeline *p = r->p;
    lore_ingest_report *rep = r->rep;
    int64_t t0 = lore__pipe_now_ns();
    int64_t gen = 0;
    lore_status s = lore_store_generation(p->store, &gen);
    if (s == LORE_OK)
        s = lore_store_commit(p->store);
    r->in_txn = lore_store_in_transaction(p->store);
    rep->stage_ns[LORE_INGEST_STORE] += lore__pipe_now_ns() - t0;
    if (s != LORE_OK) {
        r->n_add = 0;
        return s;
    }
    rep->n_transactions++;
    rep->n_added += r->txn_added;
    rep->n_replaced += r->txn_replaced;
    rep->n_chunks += r->txn_chunks;
    r->n_done += r->txn_docs;
    lore__counter_add(LORE_COUNTER_INGEST_DOCS, r->txn_docs);
    lore__counter_add(LORE_COUNTER_INGEST_CHUNKS, r->txn_chunks);
    if (r->txn_docs > 0)
        p->snapshot_saved = false;
    if (!p->index_stale) {
        t0 = lore__pipe_now_ns();
        s = lore_index_add(p->index, r->add_vecs, r->add_ids, r->n_add);
        rep->stage_ns[LORE_INGEST_INDEX] += lore__pipe_now_ns() - t0;
        if (s != LORE_OK) {
            p->index_stale = true;
            r->n_add = 0;
            return s;
        }
        rep->stage_items[LORE_INGEST_INDEX] += (int64_t)r->n_add;
        p->index_gen = gen;
    }
    r->n_add = 0;
    report_progress(r);
    return LORE_OK;
}

/* Keeps the vectors of a written document for the index, when the index can take them. */
static lore_status keep_for_index(run *r, const int64_t *ids, const float *vecs, size_t n)
{
    lore_pipeline *p = r->p;
    if (p->index_stale)
        return LORE_OK;
    const size_t dim = (size_t)r->dim;
    if (!lore_index_is_trained(p->index) ||
        (r->n_add + n) * dim * sizeof(float) > PENDING_ADD_MAX_BYTES) {
        p->index_stale = true; /* trained or rebuilt from the store at the end */
        r->n_add = 0;
        return LORE_OK;
    }
    if (r->n_add + n > r->cap_add) {
        size_t c = r->cap_add ? r->cap_add : 256;
        while (c < r->n_add + n)
            c *= 2;
        /* Both arrays move on their own; the capacity grows only once both have. */
        int64_t *ids2 = realloc(r->add_ids, c * sizeof *ids2);
        if (ids2)
            r->add_ids = ids2;
        float *v = ids2 ? realloc(r->add_vecs, c * dim * sizeof *v) : NULL;
        if (v)
            r->add_vecs = v;
        if (!ids2 || !v)
            return lore__fail(LORE_ENOMEM, "ingest: out of memory for %zu pending vectors", c);
        r->cap_add = c;
    }
    memcpy(r->add_ids + r->n_add, ids, n * sizeof *ids);
    memcpy(r->add_vecs + r->n_add * dim, vecs, n * dim * sizeof *vecs);
    r->n_add += n;
    return LORE_OK;
}

/* Writes one document whose chunks all have vectors. */
static lore_status store_doc(run *r, pend_doc *d)
{
    lore_pipeline *p = r->p;
    lore_status s;
    if (!r->in_txn && (s = begin_txn(r)) != LORE_OK)
        return s;
    GROW(s, r->chunk_ids, &r->cap_ids, d->n, "chunk ids");
    if (s != LORE_OK)
        return s;
    lore_doc_info info = {.path = d->path, .size_bytes = (int64_t)d->len, .mtime_ns = d->mtime_ns};
    memcpy(info.hash, d->hash, sizeof info.hash);
    const float *vecs = r->vecs + d->c0 * (size_t)r->dim;
    int64_t doc_id = 0, n_replaced = 0;
    int64_t t0 = lore__pipe_now_ns();
    s = lore_store_put_document(p->store, &info, r->rows + d->c0, d->n, p->tier, r->dim, vecs,
                                &doc_id, r->chunk_ids, &n_replaced);
    r->rep->stage_ns[LORE_INGEST_STORE] += lore__pipe_now_ns() - t0;
    if (s != LORE_OK) {
        r->in_txn = lore_store_in_transaction(p->store);
        return s;
    }
    r->rep->stage_items[LORE_INGEST_STORE] += (int64_t)d->n;
    r->txn_docs++;
    if (d->existed || n_replaced > 0)
        r->txn_replaced++;
    else
        r->txn_added++;
    if (n_replaced > 0)
        p->index_stale = true; /* the index still holds the old ids */
    r->txn_chunks += (int64_t)d->n;
    r->txn_rows += (int64_t)d->n;
    r->last_path = d->path;
    if ((s = keep_for_index(r, r->chunk_ids, vecs, d->n)) != LORE_OK)
        return s;
    free_doc(d);
    if (p->p.rows_per_txn > 0 && r->txn_rows >= p->p.rows_per_txn)
        return commit_txn(r);
    return LORE_OK;
}

/* ---- embedding ---------------------------------------------------------------------------- */

static void phase_hook(void *ctx)
{
    run *r = ctx;
    r->t_phase = lore__pipe_now_ns();
    r->phase_seen = true;
}

/* Embeds queue rows [c0, c0 + m). */
static lore_status embed_rows(run *r, size_t c0, size_t m)
{
    lore_embedder *e = r->p->embedder;
    lore_ingest_report *rep = r->rep;
    lore_encoder_stats before, after;
    lore_embedder_get_stats(e, &before);
    r->phase_seen = false;
    int64_t t0 = lore__pipe_now_ns();
    lore_status s = lore_embedder_embed_batch_uncached(e, r->texts + c0, r->lens + c0, m,
                                                       r->vecs + c0 * (size_t)r->dim);
    int64_t t1 = lore__pipe_now_ns();
    if (r->phase_seen) {
        rep->stage_ns[LORE_INGEST_TOKENIZE] += r->t_phase - t0;
        rep->stage_ns[LORE_INGEST_EMBED] += t1 - r->t_phase;
    } else {
        rep->stage_ns[LORE_INGEST_TOKENIZE] += t1 - t0; /* all from the cache */
    }
    if (s != LORE_OK)
        return s;
    lore_embedder_get_stats(e, &after);
    rep->stage_items[LORE_INGEST_TOKENIZE] += (int64_t)m;
    rep->stage_items[LORE_INGEST_EMBED] += after.n_encoded - before.n_encoded;
    rep->n_tokens += after.n_tokens - before.n_tokens;
    return LORE_OK;
}

/* Drops the written documents and their rows from the front of the queue. */
static void compact(run *r)
{
    if (r->d_head == 0)
        return;
    size_t shift = r->d_head < r->n_docs ? r->docs[r->d_head].c0 : r->n_rows;
    size_t left = r->n_rows - shift, dim = (size_t)r->dim;
    if (left > 0 && shift > 0) {
        memmove(r->rows, r->rows + shift, left * sizeof *r->rows);
        memmove(r->texts, r->texts + shift, left * sizeof *r->texts);
        memmove(r->lens, r->lens + shift, left * sizeof *r->lens);
        if (r->n_embedded > shift)
            memmove(r->vecs, r->vecs + shift * dim, (r->n_embedded - shift) * dim * sizeof(float));
    }
    r->n_rows = left;
    r->n_embedded = r->n_embedded > shift ? r->n_embedded - shift : 0;
    size_t n_left = r->n_docs - r->d_head;
    memmove(r->docs, r->docs + r->d_head, n_left * sizeof *r->docs);
    for (size_t i = 0; i < n_left; i++)
        r->docs[i].c0 -= shift;
    r->n_docs = n_left;
    r->d_head = 0;
}

/*
 * Embeds full batches (all that is queued when flush) and writes every
 * document whose chunks all have vectors, stopping early when the progress
 * callback asked to.
 */
static lore_status pump(run *r, bool flush)
{
    const size_t batch = (size_t)r->p->p.embed_batch;
    lore_status s = LORE_OK;
    while (s == LORE_OK && !r->stop &&
           (r->n_rows - r->n_embedded >= batch || (flush && r->n_rows > r->n_embedded))) {
        size_t m = r->n_rows - r->n_embedded < batch ? r->n_rows - r->n_embedded : batch;
        if ((s = embed_rows(r, r->n_embedded, m)) != LORE_OK)
            break;
        r->n_embedded += m;
        while (s == LORE_OK && !r->stop && r->d_head < r->n_docs &&
               r->docs[r->d_head].c0 + r->docs[r->d_head].n <= r->n_embedded) {
            /* On failure the document stays in the queue, for run_end to free. */
            if ((s = store_doc(r, &r->docs[r->d_head])) == LORE_OK)
                r->d_head++;
        }
    }
    compact(r);
    return s;
}

/* ---- one document -------------------------------------------------------------------------- */

/* Marks a document that needs nothing written as done; progress counts it at the next report. */
static void done_unchanged(run *r, const char *path)
{
    r->rep->n_unchanged++;
    r->n_done++;
    r->last_path = path;
}

/*
 * Takes one document: checks, hashes, chunks and queues it (taking owned,
 * the file's buffer, which is freed whatever happens).
 */
static lore_status take_doc(run *r, const char *path, const char *src, size_t len, char *owned,
                            int64_t mtime_ns)
{
    lore_pipeline *p = r->p;
    lore_ingest_report *rep = r->rep;
    lore_status s = LORE_OK;
    char *fixed = NULL;
    int64_t t0 = lore__pipe_now_ns();
    r->last_path = path;
    if (len == 0) {
        s = skip(r, path, "empty");
        goto drop;
    }
    size_t probe = len < BINARY_PROBE_BYTES ? len : BINARY_PROBE_BYTES;
    const char *nul = memchr(src, 0, probe);
    if (nul) {
        s = skip(r, path, "binary (NUL byte at offset %zu)", (size_t)(nul - src));
        goto drop;
    }
    pend_doc d = {.path = path, .src = src, .len = len, .mtime_ns = mtime_ns};
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits(src, len));
    memcpy(d.hash, canon.digest, sizeof d.hash);
    int64_t t1 = lore__pipe_now_ns();
    rep->stage_ns[LORE_INGEST_CHUNK] += t1 - t0;

    int64_t doc_id = 0;
    uint8_t stored[16];
    s = lore_store_find_document(p->store, path, &doc_id, stored);
    t0 = lore__pipe_now_ns();
    rep->stage_ns[LORE_INGEST_STORE] += t0 - t1;
    if (s != LORE_OK)
        goto drop;
    if (doc_id != 0 && memcmp(stored, d.hash, sizeof d.hash) == 0) {
        done_unchanged(r, path);
        goto drop;
    }
    d.existed = doc_id != 0;

    size_t first_bad;
    size_t n_bad = utf8_scan(src, len, &first_bad);
    if (n_bad > 0 && p->p.utf8 == LORE_UTF8_STRICT) {
        s = skip(r, path, "invalid UTF-8 at byte %zu", first_bad);
        goto drop;
    }
    const char *to_split = src;
    if (n_bad > 0 && p->p.chunk.unit == LORE_CHUNK_TOKENS) {
        GROW(s, r->sanitized, &r->cap_sanitized, len, "bytes");
        if (s != LORE_OK)
            goto drop;
        const uint8_t *u = (const uint8_t *)src;
        for (size_t i = 0; i < len;) {
            size_t k = 1;
            bool ok = u[i] < 0x80 || utf8_seq(u + i, len - i, &k);
            if (ok)
                memcpy(r->sanitized + i, src + i, k);
            else
                memset(r->sanitized + i, SANITIZED_BYTE, k);
            i += k;
        }
        to_split = r->sanitized;
    }
    if ((s = lore_chunker_split(&p->p.chunk, to_split, len, &r->chunks)) != LORE_OK)
        goto drop;
    const lore_chunk_list *cl = &r->chunks;
    if (cl->n == 0) {
        s = skip(r, path, "no text (whitespace only)");
        goto drop;
    }
    if (n_bad > 0) {
        size_t total = 0;
        for (size_t i = 0; i < cl->n; i++)
            total +=
                utf8_fix(src + cl->items[i].begin, cl->items[i].end - cl->items[i].begin, NULL);
        if (!(fixed = malloc(total))) {
            s = lore__fail(LORE_ENOMEM, "ingest: out of memory for the text of '%s'", path);
            goto drop;
        }
    }
    GROW(s, r->docs, &r->cap_docs, r->n_docs + 1, "documents");
    if (s != LORE_OK || (s = grow_rows(r, r->n_rows + cl->n)) != LORE_OK)
        goto drop;
    d.c0 = r->n_rows;
    d.n = cl->n;
    d.owned = owned;
    d.fixed = fixed;
    size_t off = 0;
    for (size_t i = 0; i < cl->n; i++) {
        const lore_chunk *c = &cl->items[i];
        lore_chunk_row *row = &r->rows[r->n_rows + i];
        row->ordinal = (int32_t)i;
        row->byte_begin = (int64_t)c->begin;
        row->byte_end = (int64_t)c->end;
        if (fixed) {
            row->text = fixed + off;
            row->text_len = utf8_fix(src + c->begin, c->end - c->begin, fixed + off);
            off += row->text_len;
        } else {
            row->text = src + c->begin;
            row->text_len = c->end - c->begin;
        }
        r->texts[r->n_rows + i] = row->text;
        r->lens[r->n_rows + i] = row->text_len;
    }
    r->n_rows += cl->n;
    r->docs[r->n_docs++] = d;
    rep->n_invalid_utf8 += (int64_t)n_bad;
    rep->stage_items[LORE_INGEST_CHUNK] += (int64_t)cl->n;
    rep->stage_ns[LORE_INGEST_CHUNK] += lore__pipe_now_ns() - t0;
    return pump(r, false);
drop:
    free(owned);
    free(fixed);
    rep->stage_ns[LORE_INGEST_CHUNK] += lore__pipe_now_ns() - t0;
    return s;
}

/* ---- the call ------------------------------------------------------------------------------- */

static lore_status run_begin(run *r, lore_pipeline *p, lore_ingest_report *rep,
                             lore_progress_fn progress, void *ctx)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    r->rep = rep;
    r->progress = progress;
    r->ctx = ctx;
    r->dim = p->dim;
    report_reset(rep);
    if (p->p.store.read_only)
        return lore__fail(LORE_ESTATE, "ingest: the pipeline's store was opened read-only");
    find_own_files(r);
    lore_embedder_set_phase_hook(p->embedder, phase_hook, r);
    return LORE_OK;
}

/*
 * Ends a call that got status s: writes what is queued (when s is LORE_OK and
 * nobody asked to stop), or rolls back the open transaction; then rebuilds a
 * stale index and saves the snapshot, whatever happened, keeping the first
 * error and its message.
 */
static lore_status run_end(run *r, lore_status s, int64_t t_start)
{
    lore_pipeline *p = r->p;
    lore_ingest_report *rep = r->rep;
    if (s == LORE_OK && !r->stop)
        s = pump(r, true);
    if (s == LORE_OK && r->in_txn)
        s = commit_txn(r);
    char why[1024] = "";
    if (s != LORE_OK)
        snprintf(why, sizeof why, "%s", lore_last_error());
    if (lore_store_in_transaction(p->store))
        (void)lore_store_rollback(p->store);
    r->in_txn = false;
    if (s == LORE_OK && !r->stop && r->n_done != r->last_reported)
        report_progress(r);

    int64_t t0 = lore__pipe_now_ns();
    lore_status s2 = LORE_OK;
    if (p->index_stale) {
        int64_t n_added = 0;
        s2 = lore__pipeline_rebuild(p, &n_added);
        rep->stage_items[LORE_INGEST_INDEX] += n_added;
    }
    if (s2 == LORE_OK) {
        /* Every document is committed by now: a snapshot that cannot be saved
         * (disk full, over SQLite's BLOB limit) costs the next open a rebuild
         * from the store, nothing more, so it is reported, not failed. */
        rep->index_saved = lore__pipeline_save(p) == LORE_OK;
        if (!rep->index_saved)
            snprintf(rep->index_save_error, sizeof rep->index_save_error, "%s", lore_last_error());
    }
    rep->stage_ns[LORE_INGEST_INDEX] += lore__pipe_now_ns() - t0;
    if (s == LORE_OK)
        s = s2;
    else
        (void)lore__fail(s, "%s", why);

    lore_embedder_set_phase_hook(p->embedder, NULL, NULL);
    for (size_t i = r->d_head; i < r->n_docs; i++)
        free_doc(&r->docs[i]);
    free(r->docs);
    free(r->rows);
    free(r->texts);
    free(r->lens);
    free(r->vecs);
    free(r->chunk_ids);
    free(r->sanitized);
    free(r->add_ids);
    free(r->add_vecs);
    lore_chunk_list_free(&r->chunks);
    rep->n_files = r->n_total;
    rep->wall_ns = lore__pipe_now_ns() - t_start;
    return s;
}

lore_status lore_pipeline_ingest_texts(lore_pipeline *p, const lore_doc_text *docs, size_t n,
                                       lore_progress_fn progress, void *ctx,
                                       lore_ingest_report *report)
{
    int64_t t_start = lore__pipe_now_ns();
    if (!p)
        return lore__fail(LORE_EINVAL, "lore_pipeline_ingest_texts: pipeline is NULL");
    if (n > 0 && !docs)
        return lore__fail(LORE_EINVAL, "lore_pipeline_ingest_texts: docs is NULL");
    for (size_t i = 0; i < n; i++) {
        if (!docs[i].path || !docs[i].path[0])
            return lore__fail(LORE_EINVAL, "lore_pipeline_ingest_texts: docs[%zu] has no path", i);
        if (!docs[i].text && docs[i].len > 0)
            return lore__fail(LORE_EINVAL,
                              "lore_pipeline_ingest_texts: docs[%zu] ('%s') has "
                              "no text but len %zu",
                              i, docs[i].path, docs[i].len);
    }
    lore_ingest_report local = {0};
    run r;
    lore_status s = run_begin(&r, p, report ? report : &local, progress, ctx);
    if (s != LORE_OK) {
        lore_ingest_report_free(&local);
        return s;
    }
    r.n_total = (int64_t)n;
    for (size_t i = 0; i < n && s == LORE_OK && !r.stop; i++) {
        r.rep->n_bytes += (int64_t)docs[i].len;
        s = take_doc(&r, docs[i].path, docs[i].text ? docs[i].text : "", docs[i].len, NULL,
                     docs[i].mtime_ns);
    }
    s = run_end(&r, s, t_start);
    lore_ingest_report_free(&local);
    return s;
}

/* ---- files and folders ------------------------------------------------------------------------
 */

static lore_status list_add(path_list *l, char *path)
{
    lore_status s;
    GROW(s, l->v, &l->cap, l->n + 1, "paths");
    if (s != LORE_OK) {
        free(path);
        return s;
    }
    l->v[l->n++] = path;
    return LORE_OK;
}

static void list_free(path_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    bool slash = a > 0 && dir[a - 1] != '/';
    char *s = malloc(a + slash + b + 1);
    if (!s)
        return NULL;
    memcpy(s, dir, a);
    if (slash)
        s[a] = '/';
    memcpy(s + a + slash, name, b + 1);
    return s;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static lore_status walk_dir(run *r, path_list *out, const char *dir);

/* An entry found inside a folder: folders recurse, regular files (or links to them) are kept. */
static lore_status walk_entry(run *r, path_list *out, char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        free(path); /* vanished since it was listed */
        return LORE_OK;
    }
    if (S_ISDIR(st.st_mode)) {
        lore_status s = walk_dir(r, out, path);
        free(path);
        return s;
    }
    if (S_ISLNK(st.st_mode) && (stat(path, &st) != 0 || !S_ISREG(st.st_mode))) {
        free(path); /* dangling, or a folder: not followed */
        return LORE_OK;
    }
    if (!S_ISREG(st.st_mode)) {
        free(path);
        return LORE_OK;
    }
    r->n_total++;
    if (is_own_file(r, &st)) {
        lore_status s = skip(r, path, "the store's own database file");
        free(path);
        return s;
    }
    return list_add(out, path);
}

static lore_status walk_dir(run *r, path_list *out, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        r->n_total++;
        return skip(r, dir, "cannot open folder: %s", strerror(errno));
    }
    path_list names = {0};
    lore_status s = LORE_OK;
    struct dirent *e;
    errno = 0;
    while (s == LORE_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* hidden, and "." / ".." */
        char *name = strdup(e->d_name);
        s = name ? list_add(&names, name)
                 : lore__fail(LORE_ENOMEM, "ingest: out of memory listing '%s'", dir);
        errno = 0;
    }
    int read_err = errno;
    closedir(d);
    if (s == LORE_OK && read_err != 0) {
        r->n_total++;
        s = skip(r, dir, "cannot read folder: %s", strerror(read_err));
    }
    if (s == LORE_OK && names.n > 1)
        qsort(names.v, names.n, sizeof *names.v, cmp_name);
    for (size_t i = 0; i < names.n && s == LORE_OK; i++) {
        char *path = join(dir, names.v[i]);
        s = path ? walk_entry(r, out, path)
                 : lore__fail(LORE_ENOMEM, "ingest: out of memory walking '%s'", dir);
    }
    list_free(&names);
    return s;
}

/* A path the caller named: followed when it is a link, skipped with a reason when unusable. */
static lore_status walk_top(run *r, path_list *out, const char *path)
{
    struct stat st;
    if (!path || !path[0]) {
        r->n_total++;
        return skip(r, path ? path : "(null)", "empty path");
    }
    if (stat(path, &st) != 0) {
        r->n_total++;
        return skip(r, path, "%s", strerror(errno));
    }
    if (S_ISDIR(st.st_mode))
        return walk_dir(r, out, path);
    r->n_total++;
    if (!S_ISREG(st.st_mode))
        return skip(r, path, "not a regular file");
    if (is_own_file(r, &st))
        return skip(r, path, "the store's own database file");
    char *copy = strdup(path);
    if (!copy)
        return lore__fail(LORE_ENOMEM, "ingest: out of memory for a path");
    return list_add(out, copy);
}

/*
 * Reads a whole regular file into *buf (owned by the caller). Problems that
 * concern only this file become skips (*skipped true), not errors.
 */
static lore_status read_file(run *r, const char *path, char **buf, size_t *len, int64_t *mtime_ns,
                             bool *skipped)
{
    *buf = NULL;
    *len = 0;
    *skipped = true;
    r->last_path = path;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return skip(r, path, "%s", strerror(errno));
    struct stat st;
    lore_status s = LORE_OK;
    if (fstat(fd, &st) != 0) {
        s = skip(r, path, "%s", strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        s = skip(r, path, "not a regular file");
        goto done;
    }
    size_t max = r->p->p.max_file_bytes;
    if ((uint64_t)st.st_size > (uint64_t)max) {
        s = skip(r, path, "too large (%lld bytes, max_file_bytes %zu)", (long long)st.st_size, max);
        goto done;
    }
    size_t want = (size_t)st.st_size;
    char *b = malloc(want ? want : 1);
    if (!b) {
        s = lore__fail(LORE_ENOMEM, "ingest: out of memory reading '%s' (%zu bytes)", path, want);
        goto done;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t k = read(fd, b + got, want - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int err = errno;
            free(b);
            s = skip(r, path, "%s", strerror(err));
            goto done;
        }
        if (k == 0)
            break; /* shrank since fstat: take what is there */
        got += (size_t)k;
    }
    *buf = b;
    *len = got;
    *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    *skipped = false;
done:
    close(fd);
    return s;
}

lore_status lore_pipeline_ingest_paths(lore_pipeline *p, const char *const *paths, size_t n,
                                       lore_progress_fn progress, void *ctx,
                                       lore_ingest_report *report)
{
    int64_t t_start = lore__pipe_now_ns();
    if (!p)
        return lore__fail(LORE_EINVAL, "lore_pipeline_ingest_paths: pipeline is NULL");
    if (n > 0 && !paths)
        return lore__fail(LORE_EINVAL, "lore_pipeline_ingest_paths: paths is NULL");
    lore_ingest_report local = {0};
    run r;
    lore_status s = run_begin(&r, p, report ? report : &local, progress, ctx);
    if (s != LORE_OK) {
        lore_ingest_report_free(&local);
        return s;
    }
    path_list files = {0};
    for (size_t i = 0; i < n && s == LORE_OK; i++)
        s = walk_top(&r, &files, paths[i]);
    for (size_t i = 0; i < files.n && s == LORE_OK && !r.stop; i++) {
        char *buf;
        size_t len;
        int64_t mtime = 0;
        bool skipped;
        int64_t t0 = lore__pipe_now_ns();
        s = read_file(&r, files.v[i], &buf, &len, &mtime, &skipped);
        r.rep->stage_ns[LORE_INGEST_READ] += lore__pipe_now_ns() - t0;
        if (s != LORE_OK || skipped)
            continue;
        r.rep->stage_items[LORE_INGEST_READ] += (int64_t)len;
        r.rep->n_bytes += (int64_t)len;
        s = take_doc(&r, files.v[i], buf, len, buf, mtime);
    }
    s = run_end(&r, s, t_start);
    list_free(&files);
    lore_ingest_report_free(&local);
    return s;
}
