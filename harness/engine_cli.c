/*
 * engine_cli.c - `lore-bench ingest` and `lore-bench query`: the engine itself
 * from the command line, so a person can put a folder in and ask it things.
 *
 * Both open the store through lore_pipeline_open with the same model and index
 * flags (--tier, --model-dir, --index, same defaults), because the pipeline
 * names its vectors by the embedder's tier and its index snapshot
 * "<tier>/<kind>": query must name the model ingest used (a different --index
 * only costs a rebuild from the stored vectors). Every flag is checked before
 * the engine starts: bad usage exits 2 naming the flag and value, an engine
 * failure exits 3 with the engine's message, an interrupted ingest exits 130
 * (what was committed stays).
 *
 * Output: results and summaries on stdout, progress and notes on stderr.
 * Ingest progress is one line rewritten with \r when stderr is a terminal,
 * else a line at most every PROGRESS_LOG_NS.
 */
#include "engine_cli.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lore/lore.h"
#include "measure/clock.h"
#include "util.h"

#define PROGRESS_TTY_NS 100000000LL  /* a terminal line is redrawn at most 10 times a second */
#define PROGRESS_LOG_NS 2000000000LL /* a log gets a line at most every 2 s */
#define SNIPPET_CHARS 100
#define MAX_THREADS 256

/* Options of both commands; each command accepts its own subset. */
typedef struct engine_opts {
    const char *cmd; /* "ingest" or "query" */
    const char *db;
    const char **paths; /* ingest */
    size_t n_paths;
    const char *text; /* query */
    const char *tier;
    const char *model_dir;
    lore_index_kind kind;
    int threads;
    /* ingest */
    long chunk_size, chunk_overlap;
    lore_chunk_unit unit;
    long rows_per_txn;
    bool quiet;
    /* query */
    int k;
    lore_rerank rerank;
    long depth; /* 0: 2*k */
    long probes;
    long ef;
    bool json;
    const char *nli_model_dir;
} engine_opts;

static int usage(const engine_opts *o, const char *fmt, ...) BENCH_PRINTF(2, 3);

static int usage(const engine_opts *o, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "lore-bench %s: ", o->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see lore-bench help)\n");
    return BENCH_EXIT_USAGE;
}

/* An engine failure: the engine's own message, exit 3. */
static int engine_error(const engine_opts *o, const char *what, lore_status st)
{
    const char *detail = lore_last_error();
    fprintf(stderr, "lore-bench %s: %s: %s\n", o->cmd, what,
            detail[0] ? detail : lore_strerror(st));
    return BENCH_EXIT_RUNTIME;
}

static int parse_long(const engine_opts *o, const char *flag, const char *text, long min, long max,
                      long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (text[0] == '\0' || text[0] == ' ' || *end != '\0' || errno == ERANGE || v < min || v > max)
        return usage(o, "%s '%s': expected an integer in [%ld, %ld]", flag, text, min, max);
    *out = v;
    return BENCH_EXIT_OK;
}

static int check_tier(const engine_opts *o)
{
    const lore_tier *t = lore_tier_find(o->tier);
    if (t && t->kind == LORE_MODEL_EMBEDDING)
        return BENCH_EXIT_OK;
    char list[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < lore_tier_count() && used < sizeof list; i++) {
        const lore_tier *c = lore_tier_at(i);
        if (c->kind == LORE_MODEL_EMBEDDING)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                                     c->name);
    }
    return usage(o, "--tier '%s': %s; embedding tiers: %s", o->tier,
                 t ? "not an embedding tier" : "unknown tier", list);
}

/*
 * Parses argv[2..]. Positionals: DB then PATH... (ingest) or DB then TEXT
 * (query). "--" ends the options; "--flag=value" and "--flag value" both work.
 */
static int parse_opts(int argc, char **argv, engine_opts *o)
{
    bool ingest = strcmp(o->cmd, "ingest") == 0;
    o->paths = calloc((size_t)argc, sizeof *o->paths);
    if (!o->paths) {
        fprintf(stderr, "lore-bench: out of memory\n");
        return BENCH_EXIT_RUNTIME;
    }
    bool options_done = false;
    bool depth_set = false, ef_set = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (!o->db)
                o->db = a;
            else if (ingest)
                o->paths[o->n_paths++] = a;
            else if (!o->text)
                o->text = a;
            else
                return usage(o, "one query text per call (quote it): extra argument '%s'", a);
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        /* Flags without a value. */
        if (ingest && (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0)) {
            o->quiet = true;
            continue;
        }
        if (!ingest && strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        char flag[64];
        const char *value = NULL;
        const char *eq = strchr(a, '=');
        if (eq && (size_t)(eq - a) < sizeof flag) {
            memcpy(flag, a, (size_t)(eq - a));
            flag[eq - a] = '\0';
            value = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", a);
        }
        static const char *const shared[] = {"--tier", "--model-dir", "--index", "--threads", NULL};
        static const char *const ingest_only[] = {"--chunk-size", "--chunk-overlap", "--chunk-unit",
                                                  "--rows-per-txn", NULL};
        static const char *const query_only[] = {"-k",   "--rerank", "--depth",         "--probes",
                                                 "--ef", "--k",      "--nli-model-dir", NULL};
        bool known = false;
        for (size_t j = 0; shared[j] && !known; j++)
            known = strcmp(flag, shared[j]) == 0;
        for (size_t j = 0; !known && (ingest ? ingest_only[j] : query_only[j]); j++)
            known = strcmp(flag, ingest ? ingest_only[j] : query_only[j]) == 0;
        if (!known)
            return usage(o, "unknown option '%s'", a);
        if (!value) {
            if (i + 1 >= argc)
                return usage(o, "%s needs a value", flag);
            value = argv[++i];
        }
        long v;
        int rc = BENCH_EXIT_OK;
        if (strcmp(flag, "--tier") == 0) {
            o->tier = value;
            rc = check_tier(o);
        } else if (strcmp(flag, "--model-dir") == 0) {
            if (!bench_is_dir(value))
                return usage(o,
                             "--model-dir '%s': not a folder (a Hugging Face model folder "
                             "with config.json, model.safetensors, vocab.txt)",
                             value);
            o->model_dir = value;
        } else if (strcmp(flag, "--nli-model-dir") == 0) {
            if (!bench_is_dir(value))
                return usage(o, "--nli-model-dir '%s': not a folder", value);
            o->nli_model_dir = value;
        } else if (strcmp(flag, "--index") == 0) {
            if (strcmp(value, "flat") == 0)
                o->kind = LORE_INDEX_FLAT;
            else if (strcmp(value, "ivf") == 0)
                o->kind = LORE_INDEX_IVF;
            else if (strcmp(value, "hnsw") == 0)
                o->kind = LORE_INDEX_HNSW;
            else
                return usage(o, "--index '%s': expected flat, ivf or hnsw", value);
        } else if (strcmp(flag, "--threads") == 0) {
            rc = parse_long(o, flag, value, 1, MAX_THREADS, &v);
            o->threads = (int)v;
        } else if (strcmp(flag, "--chunk-size") == 0) {
            rc = parse_long(o, flag, value, 1, 1000000, &o->chunk_size);
        } else if (strcmp(flag, "--chunk-overlap") == 0) {
            rc = parse_long(o, flag, value, 0, 999999, &o->chunk_overlap);
        } else if (strcmp(flag, "--chunk-unit") == 0) {
            if (strcmp(value, "chars") == 0)
                o->unit = LORE_CHUNK_CHARS;
            else if (strcmp(value, "tokens") == 0)
                o->unit = LORE_CHUNK_TOKENS;
            else
                return usage(o, "--chunk-unit '%s': expected chars or tokens", value);
        } else if (strcmp(flag, "--rows-per-txn") == 0) {
            rc = parse_long(o, flag, value, 0, INT_MAX, &o->rows_per_txn);
        } else if (strcmp(flag, "-k") == 0 || strcmp(flag, "--k") == 0) {
            rc = parse_long(o, flag, value, 1, 10000, &v);
            o->k = (int)v;
        } else if (strcmp(flag, "--rerank") == 0) {
            if (strcmp(value, "none") == 0)
                o->rerank = LORE_RERANK_NONE;
            else if (strcmp(value, "verify") == 0)
                o->rerank = LORE_RERANK_VERIFY;
            else if (strcmp(value, "nli") == 0)
                o->rerank = LORE_RERANK_NLI;
            else
                return usage(o, "--rerank '%s': expected none, verify or nli", value);
        } else if (strcmp(flag, "--depth") == 0) {
            rc = parse_long(o, flag, value, 1, 100000, &o->depth);
            depth_set = true;
        } else if (strcmp(flag, "--probes") == 0) {
            rc = parse_long(o, flag, value, 1, 1 << 24, &o->probes);
        } else if (strcmp(flag, "--ef") == 0) {
            rc = parse_long(o, flag, value, 1, 1 << 20, &o->ef);
            ef_set = true;
        }
        if (rc != BENCH_EXIT_OK)
            return rc;
    }
    if (!o->db)
        return usage(o, ingest ? "needs a database file and at least one PATH"
                               : "needs a database file and a query TEXT");
    if (ingest && o->n_paths == 0)
        return usage(o, "needs at least one PATH (a file or folder) after the database %s", o->db);
    if (!ingest && !o->text)
        return usage(o, "needs a query TEXT after the database %s", o->db);
    if (!ingest && o->text[0] == '\0')
        return usage(o, "the query TEXT is empty");
    if (ingest && o->chunk_overlap >= o->chunk_size)
        return usage(o, "--chunk-overlap %ld must be below --chunk-size %ld", o->chunk_overlap,
                     o->chunk_size);
    if (depth_set && o->depth < o->k)
        return usage(o, "--depth %ld must be at least -k %d", o->depth, o->k);
    if (ef_set && o->ef < o->k)
        return usage(o,
                     "--ef %ld must be at least -k %d (the HNSW candidate list holds the "
                     "hits)",
                     o->ef, o->k);
    if (o->kind != LORE_INDEX_IVF && o->probes != 0)
        return usage(o, "--probes applies to --index ivf (the index here is %s)",
                     lore_index_kind_name(o->kind));
    if (o->kind != LORE_INDEX_HNSW && ef_set)
        return usage(o, "--ef applies to --index hnsw (the index here is %s)",
                     lore_index_kind_name(o->kind));
    if (o->nli_model_dir && o->rerank == LORE_RERANK_NONE)
        return usage(o, "--nli-model-dir needs --rerank verify or nli");
    /* The database: a folder is not one; query needs it to exist, and never creates it. */
    struct stat sb;
    if (stat(o->db, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return usage(o, "database %s is a folder, not a file", o->db);
    } else if (!ingest || errno != ENOENT) {
        return usage(o, "database %s: %s%s", o->db, strerror(errno),
                     ingest ? "" : " (make it with lore-bench ingest DB PATH...)");
    }
    for (size_t i = 0; i < o->n_paths; i++)
        if (stat(o->paths[i], &sb) != 0)
            return usage(o, "%s: %s", o->paths[i], strerror(errno));
    return BENCH_EXIT_OK;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

static lore_pipeline_params pipeline_params(const engine_opts *o)
{
    lore_pipeline_params pp = lore_pipeline_default_params();
    pp.embed.tier = o->tier;
    pp.embed.model_dir = o->model_dir;
    pp.embed.n_threads = o->threads;
    pp.embed.thread_mode = LORE_THREADS_WORKERS;
    lore_index_params ip = lore_index_default_params(o->kind, pp.index.dim);
    ip.metric = pp.index.metric;
    pp.index = ip;
    return pp;
}

static void format_bytes(double b, char *buf, size_t size)
{
    if (b < 1024)
        snprintf(buf, size, "%.0f B", b);
    else if (b < 1024 * 1024)
        snprintf(buf, size, "%.1f KiB", b / 1024);
    else if (b < 1024.0 * 1024 * 1024)
        snprintf(buf, size, "%.1f MiB", b / (1024 * 1024));
    else
        snprintf(buf, size, "%.2f GiB", b / (1024.0 * 1024 * 1024));
}

static int64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

/* What the model is, for messages: "tier minilm-l6 (synthetic weights)" or the folder. */
static void model_label(lore_pipeline *p, char *buf, size_t size)
{
    lore_encoder_settings es;
    lore_embedder_get_settings(lore_pipeline_embedder(p), &es);
    if (es.synthetic_weights)
        snprintf(buf, size, "tier %s (synthetic weights: rankings are not semantic)",
                 es.shape.name);
    else
        snprintf(buf, size, "tier %s (%s)", es.shape.name, es.source);
}

/* ---- ingest ----------------------------------------------------------------- */

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

typedef struct progress_ctx {
    bool tty;
    bool quiet;
    bool line_open; /* a \r line is on the terminal */
    int64_t last_ns;
} progress_ctx;

static bool on_progress(void *opaque, const lore_ingest_progress *pr)
{
    progress_ctx *c = opaque;
    if (c->quiet)
        return !g_interrupted;
    int64_t now = bench_clock_ns();
    bool last = pr->n_done >= pr->n_total;
    if (!last && now - c->last_ns < (c->tty ? PROGRESS_TTY_NS : PROGRESS_LOG_NS))
        return !g_interrupted;
    c->last_ns = now;
    const char *path = pr->path ? pr->path : "";
    size_t len = strlen(path);
    /* Keep the line short: the tail of a long path says most. */
    const char *shown = len > 48 ? path + len - 45 : path;
    if (c->tty) {
        fprintf(stderr, "\r\033[K[%lld/%lld] %lld chunks  %s%s", (long long)pr->n_done,
                (long long)pr->n_total, (long long)pr->n_chunks, len > 48 ? "..." : "", shown);
        c->line_open = true;
    } else {
        fprintf(stderr, "[%lld/%lld] %lld chunks  %s%s\n", (long long)pr->n_done,
                (long long)pr->n_total, (long long)pr->n_chunks, len > 48 ? "..." : "", shown);
    }
    fflush(stderr);
    return !g_interrupted;
}

static const char *const stage_units[LORE_INGEST_N_STAGES] = {"bytes",  "chunks", "chunks",
                                                              "chunks", "rows",   "vectors"};

static void print_ingest_summary(const engine_opts *o, lore_pipeline *p,
                                 const lore_ingest_report *r)
{
    printf("files     %lld seen: %lld added, %lld replaced, %lld unchanged, %lld skipped\n",
           (long long)r->n_files, (long long)r->n_added, (long long)r->n_replaced,
           (long long)r->n_unchanged, (long long)r->n_skipped);
    for (int64_t i = 0; i < r->n_skipped && r->skips; i++)
        printf("  skipped %s: %s\n", r->skips[i].path, r->skips[i].reason);
    char read_b[32];
    format_bytes((double)r->n_bytes, read_b, sizeof read_b);
    printf("chunks    %lld stored, %lld tokens embedded, %s read, %lld transaction(s)",
           (long long)r->n_chunks, (long long)r->n_tokens, read_b, (long long)r->n_transactions);
    if (r->n_invalid_utf8)
        printf(", %lld invalid UTF-8 sequence(s) replaced", (long long)r->n_invalid_utf8);
    printf("\n\n%-10s %12s %7s %14s\n", "stage", "ms", "%", "items");
    double wall = r->wall_ns > 0 ? (double)r->wall_ns : 1.0;
    int64_t staged = 0;
    for (int s = 0; s < LORE_INGEST_N_STAGES; s++) {
        staged += r->stage_ns[s];
        printf("%-10s %12.2f %6.1f%% %14lld %s\n", lore_ingest_stage_name((lore_ingest_stage)s),
               (double)r->stage_ns[s] / 1e6, 100.0 * (double)r->stage_ns[s] / wall,
               (long long)r->stage_items[s], stage_units[s]);
    }
    int64_t other = r->wall_ns - staged;
    printf("%-10s %12.2f %6.1f%%\n", "other", (double)other / 1e6, 100.0 * (double)other / wall);
    printf("%-10s %12.2f %6.1f%%\n\n", "total", (double)r->wall_ns / 1e6, 100.0);

    lore_store_info info;
    if (lore_store_get_info(lore_pipeline_store(p), &info) == LORE_OK) {
        char db_b[32], wal_b[32], wal_path[4200];
        snprintf(wal_path, sizeof wal_path, "%s-wal", o->db);
        format_bytes((double)info.file_bytes, db_b, sizeof db_b);
        format_bytes((double)file_size(wal_path), wal_b, sizeof wal_b);
        printf("database  %s: %s (WAL %s); %lld documents, %lld chunks, %lld embeddings\n", o->db,
               db_b, wal_b, (long long)info.n_documents, (long long)info.n_chunks,
               (long long)info.n_embeddings);
    }
    char model[640];
    model_label(p, model, sizeof model);
    const lore_index *ix = lore_pipeline_index(p);
    size_t n_indexed = ix ? lore_index_size(ix) : 0;
    printf("index     %s, %zu vectors; %s\n", lore_index_kind_name(o->kind), n_indexed, model);
    if (!r->index_saved)
        printf("warning   the index snapshot was not saved (%s); the next open rebuilds it from "
               "the stored vectors\n",
               r->index_save_error);
    if (ix && o->kind == LORE_INDEX_IVF && n_indexed == 0 && r->n_chunks + r->n_unchanged > 0)
        printf("note      the ivf index trains once the store holds %d vectors (one per list); "
               "until then query with --index flat or hnsw\n",
               lore_index_params_of(ix)->n_lists);
}

static int cmd_ingest_run(const engine_opts *o)
{
    lore_pipeline_params pp = pipeline_params(o);
    pp.chunk.unit = o->unit;
    pp.chunk.size = (size_t)o->chunk_size;
    pp.chunk.overlap = (size_t)o->chunk_overlap;
    pp.rows_per_txn = (int)o->rows_per_txn;
    lore_pipeline *p = NULL;
    lore_pipeline_open_info oi;
    lore_ingest_report report;
    memset(&report, 0, sizeof report);
    lore_status st = lore_pipeline_open(o->db, &pp, &p, &oi);
    if (st != LORE_OK)
        return engine_error(o, o->db, st);
    if (!o->quiet && oi.index_rebuilt && oi.n_vectors > 0)
        fprintf(stderr, "lore-bench ingest: index rebuilt from %lld stored vectors\n",
                (long long)oi.n_vectors);

    progress_ctx pc = {.tty = isatty(STDERR_FILENO) == 1, .quiet = o->quiet};
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    g_interrupted = 0;
    sigaction(SIGINT, &sa, &old_sa);
    st = lore_pipeline_ingest_paths(p, o->paths, o->n_paths, on_progress, &pc, &report);
    sigaction(SIGINT, &old_sa, NULL);
    if (pc.line_open)
        fputc('\n', stderr);
    int rc = BENCH_EXIT_OK;
    if (st != LORE_OK) {
        rc = engine_error(o, o->db, st);
        fprintf(stderr, "lore-bench ingest: what was committed before the failure stays\n");
    } else {
        print_ingest_summary(o, p, &report);
        if (report.cancelled) {
            fprintf(stderr, "lore-bench ingest: interrupted; what was committed stays in %s\n",
                    o->db);
            rc = BENCH_EXIT_INTERRUPTED;
        }
    }
    lore_ingest_report_free(&report);
    lore_pipeline_close(p);
    return rc;
}

/* ---- query ------------------------------------------------------------------- */

/*
 * Up to SNIPPET_CHARS characters of text on one line: runs of whitespace and
 * control bytes become one space, whole UTF-8 sequences are copied (a cut
 * never splits one), and "..." marks a cut. size must be at least
 * 4 * SNIPPET_CHARS + 8.
 */
static void snippet(const char *text, size_t len, char *out, size_t size)
{
    size_t o = 0, chars = 0, i = 0;
    bool pending_space = false;
    for (; i < len && chars < SNIPPET_CHARS; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c == 0x7f) {
            pending_space = o > 0;
            continue;
        }
        size_t n = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (i + n > len || o + n + 1 + 4 > size)
            break;
        if (pending_space) {
            out[o++] = ' ';
            chars++;
            pending_space = false;
        }
        memcpy(out + o, text + i, n);
        o += n;
        i += n - 1;
        chars++;
    }
    while (i < len && ((unsigned char)text[i] <= ' ' || text[i] == 0x7f))
        i++;
    if (i < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static int print_query_json(const engine_opts *o, lore_pipeline *p, const lore_query_result *r,
                            const lore_query_params *qp)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *hits = cJSON_CreateArray();
    cJSON *stages = cJSON_CreateObject();
    lore_encoder_settings es;
    lore_embedder_get_settings(lore_pipeline_embedder(p), &es);
    static const char *const rerank_names[] = {"none", "verify", "nli"};
    bool ok = doc && hits && stages && cJSON_AddStringToObject(doc, "db", o->db) &&
              cJSON_AddStringToObject(doc, "query", o->text) &&
              cJSON_AddNumberToObject(doc, "k", qp->k) &&
              cJSON_AddStringToObject(doc, "tier", es.shape.name) &&
              cJSON_AddBoolToObject(doc, "synthetic_weights", es.synthetic_weights) &&
              cJSON_AddStringToObject(doc, "index", lore_index_kind_name(o->kind)) &&
              cJSON_AddStringToObject(doc, "rerank", rerank_names[qp->rerank]) &&
              cJSON_AddBoolToObject(doc, "embed_cached", r->embed_cached);
    for (size_t i = 0; ok && i < r->n_hits; i++) {
        const lore_hit *h = &r->hits[i];
        cJSON *hit = cJSON_CreateObject();
        ok = hit && cJSON_AddNumberToObject(hit, "rank", (double)(i + 1)) &&
             cJSON_AddNumberToObject(hit, "score", h->score) &&
             cJSON_AddStringToObject(hit, "path", h->path ? h->path : "") &&
             cJSON_AddNumberToObject(hit, "byte_begin", (double)h->byte_begin) &&
             cJSON_AddNumberToObject(hit, "byte_end", (double)h->byte_end) &&
             cJSON_AddNumberToObject(hit, "chunk_id", (double)h->chunk_id) &&
             cJSON_AddNumberToObject(hit, "doc_id", (double)h->doc_id) &&
             cJSON_AddNumberToObject(hit, "ordinal", h->ordinal) &&
             cJSON_AddStringToObject(hit, "text", h->text ? h->text : "") &&
             cJSON_AddBoolToObject(hit, "verified", h->verified);
        if (ok && h->verified) {
            cJSON *nli = cJSON_AddObjectToObject(hit, "nli");
            ok = nli && cJSON_AddNumberToObject(nli, "entailment", h->entailment) &&
                 cJSON_AddNumberToObject(nli, "neutral", h->neutral) &&
                 cJSON_AddNumberToObject(nli, "contradiction", h->contradiction);
        }
        if (hit)
            cJSON_AddItemToArray(hits, hit);
    }
    double total = 0;
    for (int s = 0; ok && s < LORE_QUERY_N_STAGES; s++) {
        ok = cJSON_AddNumberToObject(stages, lore_query_stage_name((lore_query_stage)s),
                                     (double)r->stage_ns[s] / 1e6) != NULL;
        total += (double)r->stage_ns[s] / 1e6;
    }
    ok = ok && cJSON_AddNumberToObject(stages, "total", total);
    if (hits)
        cJSON_AddItemToObject(doc, "hits", hits);
    if (stages)
        cJSON_AddItemToObject(doc, "stage_ms", stages);
    char *text = ok ? cJSON_Print(doc) : NULL;
    cJSON_Delete(doc);
    if (!text) {
        fprintf(stderr, "lore-bench query: out of memory building the JSON\n");
        return BENCH_EXIT_RUNTIME;
    }
    printf("%s\n", text);
    free(text);
    return BENCH_EXIT_OK;
}

static void print_query_text(const engine_opts *o, lore_pipeline *p, const lore_query_result *r)
{
    char model[640];
    model_label(p, model, sizeof model);
    printf("query \"%s\" on %s: index %s, %s\n\n", o->text, o->db, lore_index_kind_name(o->kind),
           model);
    if (r->n_hits == 0)
        printf("no hits\n");
    for (size_t i = 0; i < r->n_hits; i++) {
        const lore_hit *h = &r->hits[i];
        char snip[SNIPPET_CHARS * 4 + 8];
        snippet(h->text ? h->text : "", h->text_len, snip, sizeof snip);
        printf("%2zu  %8.4f  %s:%lld-%lld\n    %s\n", i + 1, h->score, h->path ? h->path : "?",
               (long long)h->byte_begin, (long long)h->byte_end, snip);
        if (h->verified)
            printf("    NLI: entailment %.3f, neutral %.3f, contradiction %.3f\n", h->entailment,
                   h->neutral, h->contradiction);
    }
    double total = 0;
    printf("\nstages:");
    for (int s = 0; s < LORE_QUERY_N_STAGES; s++) {
        double ms = (double)r->stage_ns[s] / 1e6;
        total += ms;
        printf(" %s %.2f ms%s%s", lore_query_stage_name((lore_query_stage)s), ms,
               s == LORE_QUERY_EMBED && r->embed_cached ? " (cached)" : "",
               s + 1 < LORE_QUERY_N_STAGES ? "," : "");
    }
    printf("; total %.2f ms\n", total);
}

static int cmd_query_run(const engine_opts *o)
{
    lore_pipeline_params pp = pipeline_params(o);
    pp.store.create = false;
    if (o->rerank != LORE_RERANK_NONE) {
        pp.nli = true;
        pp.nli_model = lore_nli_default_params();
        pp.nli_model.model_dir = o->nli_model_dir;
        pp.nli_model.n_threads = o->threads;
        pp.nli_model.thread_mode = LORE_THREADS_WORKERS;
    }
    lore_pipeline *p = NULL;
    lore_pipeline_open_info oi;
    lore_query_result res;
    memset(&res, 0, sizeof res);
    int64_t t0 = bench_clock_ns();
    lore_status st = lore_pipeline_open(o->db, &pp, &p, &oi);
    if (st != LORE_OK)
        return engine_error(o, o->db, st);
    double open_ms = (double)(bench_clock_ns() - t0) / 1e6;
    int rc = BENCH_EXIT_OK;
    if (oi.n_chunks == 0) {
        rc = usage(o, "%s holds no chunks yet: add documents with lore-bench ingest %s PATH...",
                   o->db, o->db);
        goto done;
    }
    if (oi.n_vectors == 0) {
        lore_encoder_settings es;
        lore_embedder_get_settings(lore_pipeline_embedder(p), &es);
        int64_t n_stored = 0;
        int dim = 0;
        lore_store_count_embeddings(lore_pipeline_store(p), es.shape.name, &n_stored, &dim);
        if (n_stored > 0)
            rc = usage(o,
                       "the %s index of %s holds none of its %lld vectors of tier %s (an IVF "
                       "index trains once there are %d, one per list): use --index flat or hnsw",
                       lore_index_kind_name(o->kind), o->db, (long long)n_stored, es.shape.name,
                       pp.index.n_lists);
        else
            rc = usage(o,
                       "%s has no embeddings for tier %s%s%s (it holds %lld chunks): query takes "
                       "the --tier and --model-dir that ingest used",
                       o->db, es.shape.name, o->model_dir ? " from " : "",
                       o->model_dir ? o->model_dir : "", (long long)oi.n_chunks);
        goto done;
    }
    if (!o->json)
        fprintf(stderr, "lore-bench query: opened in %.1f ms: index %s, %lld vectors\n", open_ms,
                oi.index_loaded    ? "loaded from its snapshot"
                : oi.index_rebuilt ? "rebuilt from the stored vectors (no current snapshot)"
                                   : "ready",
                (long long)oi.n_vectors);
    lore_query_params qp = lore_query_default_params();
    if (o->k)
        qp.k = o->k;
    qp.rerank = o->rerank;
    qp.rerank_depth = o->depth ? (int)o->depth : 2 * qp.k;
    if (o->probes)
        qp.search.n_probes = (int)o->probes;
    if (o->ef)
        qp.search.ef_search = (int)o->ef;
    st = lore_pipeline_query(p, o->text, strlen(o->text), &qp, &res);
    if (st != LORE_OK) {
        rc = engine_error(o, "query", st);
        goto done;
    }
    if (o->json)
        rc = print_query_json(o, p, &res, &qp);
    else
        print_query_text(o, p, &res);
done:
    lore_query_result_free(&res);
    lore_pipeline_close(p);
    return rc;
}

/* ---- entry points --------------------------------------------------------------- */

static void opts_init(engine_opts *o, const char *cmd)
{
    memset(o, 0, sizeof *o);
    lore_pipeline_params pp = lore_pipeline_default_params();
    o->cmd = cmd;
    o->tier = pp.embed.tier;
    o->kind = LORE_INDEX_FLAT;
    o->threads = default_threads();
    o->chunk_size = (long)pp.chunk.size;
    o->chunk_overlap = (long)pp.chunk.overlap;
    o->unit = pp.chunk.unit;
    o->rows_per_txn = pp.rows_per_txn;
    o->k = lore_query_default_params().k;
}

int bench_cli_ingest(int argc, char **argv)
{
    engine_opts o;
    opts_init(&o, "ingest");
    int rc = parse_opts(argc, argv, &o);
    if (rc == BENCH_EXIT_OK)
        rc = cmd_ingest_run(&o);
    free(o.paths);
    return rc;
}

int bench_cli_query(int argc, char **argv)
{
    engine_opts o;
    opts_init(&o, "query");
    int rc = parse_opts(argc, argv, &o);
    if (rc == BENCH_EXIT_OK)
        rc = cmd_query_run(&o);
    free(o.paths);
    return rc;
}
