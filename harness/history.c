/*
 * history.c - results/history.sqlite: every run appended, trends read back,
 * change points found.
 *
 * File layout (schema version 1; PRAGMA application_id 0x4C4F5248 "LORH",
 * PRAGMA user_version 1; WAL journal, so a reader never blocks a run):
 *
 *   runs     one row per run: run_id (unique), started_at (ISO 8601 UTC, sorts
 *            as time), scenario name + hash + workload, machine class, host
 *            name, CPU, cores, memory, BLAS core, git commit + dirty, complete
 *            (0 when interrupted), mode ("wall", or "instructions" for a run
 *            under callgrind), lore version, where result.json was written
 *   points   one row per point of a run: index, id, params (canonical JSON,
 *            the key of a series), status ("ok" / "error"), n_samples
 *   metrics  one row per (point, name): value, unit, better (higher / lower /
 *            none). Names: throughput (items/s), ops_per_s, latency_p50,
 *            latency_p99 (ns), rss_peak (bytes), each workload metric under its
 *            own name, counter:<NAME> (per operation), instructions_per_op
 *            when the run counted instructions (such a run keeps no
 *            clock-based metric: they were measured under valgrind).
 *
 * Invariants: a run is written in one transaction (all of it or none); a file
 * that is not ours or is newer than this code is never modified; values are
 * finite (a metric that is NaN or infinite is left out, not stored as 0).
 *
 * A series is one metric of one point, keyed by the point's full parameters
 * and the machine class: a wall-clock trend across machines means nothing, and
 * a point whose fixed parameters changed is another point.
 */
#include "history.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "compare.h"
#include "scenario.h"

#define HISTORY_APP_ID 0x4C4F5248 /* "LORH" */
#define BUSY_TIMEOUT_MS 10000     /* two runs finishing together wait, not fail */
#define MAX_PLOT_SERIES 12        /* more lines than this are unreadable in one plot */
#define MAX_XTIC_LABELS 30
/* Longer segments are scanned for one change at a time: the circular scan costs n^2 per
 * permutation (500 values: about 0.1 s per test). */
#define CIRCULAR_MAX_N 500

static const char schema_sql[] =
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY,"
    " run_id TEXT NOT NULL UNIQUE,"
    " started_at TEXT NOT NULL,"
    " finished_at TEXT,"
    " recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
    " scenario TEXT NOT NULL,"
    " scenario_hash TEXT,"
    " scenario_file TEXT,"
    " workload TEXT,"
    " machine_class TEXT NOT NULL,"
    " hostname TEXT,"
    " cpu_model TEXT,"
    " n_cores INTEGER,"
    " memory_bytes INTEGER,"
    " blas_core TEXT,"
    " git_commit TEXT NOT NULL,"
    " git_dirty INTEGER NOT NULL,"
    " complete INTEGER NOT NULL,"
    " mode TEXT NOT NULL,"
    " lore_version TEXT,"
    " result_path TEXT);"
    "CREATE INDEX runs_by_scenario ON runs(scenario, started_at);"
    "CREATE TABLE points ("
    " id INTEGER PRIMARY KEY,"
    " run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " point_index INTEGER NOT NULL,"
    " point_id TEXT NOT NULL,"
    " params TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " n_samples INTEGER);"
    "CREATE INDEX points_by_run ON points(run);"
    "CREATE TABLE metrics ("
    " point INTEGER NOT NULL REFERENCES points(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL,"
    " value REAL NOT NULL,"
    " unit TEXT NOT NULL,"
    " better TEXT NOT NULL CHECK (better IN ('higher', 'lower', 'none')),"
    " PRIMARY KEY (point, name)) WITHOUT ROWID;";

const char *bench_history_path(const char *flag)
{
    if (flag)
        return flag;
    const char *env = getenv(BENCH_HISTORY_ENV);
    return env && *env ? env : BENCH_HISTORY_DEFAULT_PATH;
}

/* ---- opening and checking the file ---------------------------------------- */

/* e = "path: what: sqlite's message"; returns -1. */
static int db_fail(sqlite3 *db, const char *path, const char *what, bench_err *e)
{
    int code = db ? sqlite3_errcode(db) : SQLITE_NOMEM;
    const char *msg = db ? sqlite3_errmsg(db) : "out of memory";
    if (code == SQLITE_NOTADB)
        return bench_err_set(e,
                             "%s: not a SQLite database (%s); move it aside or use another "
                             "history file (--history FILE)",
                             path, msg);
    if (code == SQLITE_CORRUPT)
        return bench_err_set(e, "%s: damaged database while %s (%s); move it aside", path, what,
                             msg);
    return bench_err_set(e, "%s: %s: %s", path, what, msg);
}

typedef enum file_kind { FILE_OURS, FILE_EMPTY } file_kind;

/* Reads the header pragmas; refuses a foreign or newer file. */
static int check_file(sqlite3 *db, const char *path, file_kind *kind, bench_err *e)
{
    /* One statement, so one snapshot: another run may be creating the schema right now. */
    static const char sql[] = "SELECT (SELECT application_id FROM pragma_application_id),"
                              " (SELECT user_version FROM pragma_user_version),"
                              " (SELECT count(*) FROM sqlite_master)";
    int64_t app = 0, version = 0, n_objects = 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        app = sqlite3_column_int64(st, 0);
        version = sqlite3_column_int64(st, 1);
        n_objects = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return db_fail(db, path, "reading the header", e);
    if (app == HISTORY_APP_ID) {
        if (version > BENCH_HISTORY_SCHEMA_VERSION)
            return bench_err_set(e,
                                 "%s: history schema version %lld is newer than this lore-bench "
                                 "understands (%d); use a newer lore-bench or another history "
                                 "file (--history FILE)",
                                 path, (long long)version, BENCH_HISTORY_SCHEMA_VERSION);
        if (version < 1)
            return bench_err_set(e, "%s: lore-bench history without a schema version (got %lld)",
                                 path, (long long)version);
        *kind = FILE_OURS;
        return 0;
    }
    if (app != 0 || version != 0 || n_objects != 0)
        return bench_err_set(e,
                             "%s: a SQLite database but not a lore-bench history "
                             "(application_id 0x%llx, user_version %lld, %lld schema objects); "
                             "use another history file (--history FILE)",
                             path, (unsigned long long)app, (long long)version,
                             (long long)n_objects);
    *kind = FILE_EMPTY;
    return 0;
}

static int exec(sqlite3 *db, const char *path, const char *sql, const char *what, bench_err *e)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, path, what, e);
    return 0;
}

/* Creates the folder that will hold path. */
static int make_parent(const char *path, bench_err *e)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char dir[4096];
    size_t len = (size_t)(slash - path);
    if (len >= sizeof dir)
        return bench_err_set(e, "%s: path too long", path);
    memcpy(dir, path, len);
    dir[len] = '\0';
    return bench_mkdir_p(dir, e);
}

/*
 * Opens path for appending: creates it (and its folder) when missing, refuses
 * foreign or newer files before changing anything, switches to WAL, and leaves
 * an IMMEDIATE transaction open with the schema in place.
 */
/*
 * WAL lets `history` read while a run appends. Switching needs the file to
 * itself and SQLite does not wait for that (no busy handler), so retry while
 * another process holds it; once set, it stays set in the file.
 */
static int use_wal(sqlite3 *db, const char *path, bench_err *e)
{
    for (int waited_ms = 0;; waited_ms += 10) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        bool wal = rc == SQLITE_ROW &&
                   sqlite3_strnicmp((const char *)sqlite3_column_text(st, 0), "wal", 3) == 0;
        sqlite3_finalize(st);
        if (wal)
            return 0;
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited_ms >= BUSY_TIMEOUT_MS)
            return rc == SQLITE_ROW ? bench_err_set(e, "%s: cannot switch to WAL", path)
                                    : db_fail(db, path, "switching to WAL", e);
        sqlite3_sleep(10);
    }
}

/*
 * Opens path for appending: creates it (and its folder) when missing, refuses
 * foreign or newer files before changing anything, and leaves an IMMEDIATE
 * transaction open on a checked history.
 */
static int open_for_append(const char *path, sqlite3 **out, bench_err *e)
{
    *out = NULL;
    if (make_parent(path, e) != 0)
        return -1;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        db_fail(db, path, "cannot open", e);
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    file_kind kind;
    if (check_file(db, path, &kind, e) != 0)
        goto fail;
    if (kind == FILE_EMPTY) {
        /* Created in a transaction of its own; checked again under the write lock, as
         * another run may have created it meanwhile. */
        if (exec(db, path, "BEGIN IMMEDIATE", "starting a transaction", e) != 0)
            goto fail;
        if (check_file(db, path, &kind, e) != 0)
            goto rollback;
        if (kind == FILE_EMPTY) {
            char sql[sizeof schema_sql + 128];
            snprintf(sql, sizeof sql, "%sPRAGMA application_id=%d; PRAGMA user_version=%d;",
                     schema_sql, HISTORY_APP_ID, BENCH_HISTORY_SCHEMA_VERSION);
            if (exec(db, path, sql, "creating the schema", e) != 0)
                goto rollback;
        }
        if (exec(db, path, "COMMIT", "creating the schema", e) != 0)
            goto rollback;
    }
    if (use_wal(db, path, e) != 0 ||
        exec(db, path, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL", "setting up", e) != 0 ||
        exec(db, path, "BEGIN IMMEDIATE", "starting a transaction", e) != 0)
        goto fail;
    if (check_file(db, path, &kind, e) != 0)
        goto rollback;
    *out = db;
    return 0;

rollback:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
fail:
    sqlite3_close(db);
    return -1;
}

/* Opens path read-only and checks it is a history this code understands. */
static int open_for_read(const char *path, sqlite3 **out, bench_err *e)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return bench_err_set(e,
                             "%s: no history file (%s); `lore-bench run` appends every run to "
                             "it, or name another with --history FILE",
                             path, strerror(errno));
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        db_fail(db, path, "cannot open", e);
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    file_kind kind;
    if (check_file(db, path, &kind, e) != 0) {
        sqlite3_close(db);
        return -1;
    }
    if (kind == FILE_EMPTY) {
        sqlite3_close(db);
        return bench_err_set(e, "%s: an empty database, not a lore-bench history", path);
    }
    *out = db;
    return 0;
}

/* ---- appending a run ------------------------------------------------------- */

static const cJSON *jget(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

static const char *jstr(const cJSON *o, const char *a, const char *b)
{
    return cJSON_GetStringValue(jget(o, a, b));
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

static int bind_num(sqlite3_stmt *st, int i, const cJSON *v)
{
    return cJSON_IsNumber(v) ? sqlite3_bind_int64(st, i, (sqlite3_int64)v->valuedouble)
                             : sqlite3_bind_null(st, i);
}

/* Runs a bound statement to completion and resets it. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int put_metric(sqlite3_stmt *st, int64_t point, const char *name, double value,
                      const char *unit, const char *better)
{
    if (!isfinite(value))
        return 0; /* never store a number that was not measured */
    sqlite3_bind_int64(st, 1, point);
    bind_text(st, 2, name);
    sqlite3_bind_double(st, 3, value);
    bind_text(st, 4, unit ? unit : "");
    if (!better || (strcmp(better, "higher") != 0 && strcmp(better, "lower") != 0))
        better = "none";
    bind_text(st, 5, better);
    return step_done(st);
}

static double jnum(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = jget(o, a, b);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/*
 * The metrics of one good point: the harness's own, the workload's, counters
 * per op. A run under callgrind (result "measurement.wall_metrics_valid":
 * false) ran tens of times slower than native: its clock-based metrics (and
 * its RSS, valgrind's own) would put a fake step into every wall series, so
 * only its deterministic ones are kept.
 */
static int put_point_metrics(sqlite3_stmt *st, int64_t point, const cJSON *p, bool wall_valid)
{
    char unit[64];
    const char *item_unit = jstr(p, "item_unit", NULL);
    snprintf(unit, sizeof unit, "%s/s", item_unit ? item_unit : "item");
    /* The harness's names first: a workload metric of the same name is then ignored. */
    if (wall_valid &&
        (put_metric(st, point, "throughput", jnum(p, "throughput", "items_per_s"), unit,
                    "higher") ||
         put_metric(st, point, "ops_per_s", jnum(p, "throughput", "ops_per_s"), "op/s", "higher") ||
         put_metric(st, point, "latency_p50", jnum(p, "latency_ns", "p50"), "ns", "lower") ||
         put_metric(st, point, "latency_p99", jnum(p, "latency_ns", "p99"), "ns", "lower") ||
         put_metric(st, point, "rss_peak", jnum(p, "rss", "peak_bytes"), "bytes", "lower")))
        return -1;
    /* The instruction-count track, when the run had one. */
    const cJSON *instr = jget(p, "instructions", NULL);
    double ipo = cJSON_IsNumber(instr) ? instr->valuedouble : jnum(instr, "per_op", NULL);
    if (put_metric(st, point, "instructions_per_op", ipo, "instructions/op", "lower"))
        return -1;
    const cJSON *m;
    cJSON_ArrayForEach(m, jget(p, "metrics", NULL))
    {
        const char *munit = jstr(m, "unit", NULL);
        if (!m->string || (!wall_valid && bench_metric_track(m->string, munit) == BENCH_TRACK_WALL))
            continue;
        if (put_metric(st, point, m->string, jnum(m, "value", NULL), munit,
                       jstr(m, "better", NULL)))
            return -1;
    }
    cJSON_ArrayForEach(m, jget(p, "counters", NULL))
    {
        if (!m->string || !cJSON_IsTrue(jget(m, "available", NULL)))
            continue;
        char name[160];
        snprintf(name, sizeof name, "counter:%s", m->string);
        if (put_metric(st, point, name, jnum(m, "per_op", NULL), "count/op", "none"))
            return -1;
    }
    return 0;
}
/* INSERT OR IGNORE on metrics: a duplicate name keeps the first value. */
static const char insert_run_sql[] =
    "INSERT INTO runs (run_id, started_at, finished_at, scenario, scenario_hash, scenario_file,"
    " workload, machine_class, hostname, cpu_model, n_cores, memory_bytes, blas_core,"
    " git_commit, git_dirty, complete, lore_version, result_path, mode)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
    " ?19)";
static const char insert_point_sql[] =
    "INSERT INTO points (run, point_index, point_id, params, status, n_samples)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char insert_metric_sql[] =
    "INSERT OR IGNORE INTO metrics (point, name, value, unit, better) VALUES (?1, ?2, ?3, ?4, ?5)";

/* Checks the fields a history row cannot do without. */
static int check_result(const cJSON *r, bench_err *e)
{
    static const char *const required[][2] = {
        {"run_id", NULL}, {"started_at", NULL}, {"scenario", "name"}, {"host", NULL}};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        const cJSON *v = jget(r, required[i][0], required[i][1]);
        bool ok = strcmp(required[i][0], "host") == 0 ? cJSON_IsObject(v) : cJSON_IsString(v);
        if (!ok)
            return bench_err_set(e, "result: $.%s%s%s: missing or of the wrong type",
                                 required[i][0], required[i][1] ? "." : "",
                                 required[i][1] ? required[i][1] : "");
    }
    if (!cJSON_IsArray(jget(r, "points", NULL)))
        return bench_err_set(e, "result: $.points: must be a list");
    return 0;
}

int bench_history_append(const char *path, const cJSON *result, const char *result_path,
                         const char *hostname, bench_err *e)
{
    if (check_result(result, e) != 0)
        return -1;
    const char *run_id = jstr(result, "run_id", NULL);
    char machine_class[160];
    bench_err class_err;
    if (bench_machine_class(result, machine_class, sizeof machine_class, &class_err) != 0)
        snprintf(machine_class, sizeof machine_class, "unknown");

    sqlite3 *db = NULL;
    sqlite3_stmt *run_st = NULL, *point_st = NULL, *metric_st = NULL;
    char *params_text = NULL;
    if (open_for_append(path, &db, e) != 0)
        return -1;
    if (sqlite3_prepare_v2(db, insert_run_sql, -1, &run_st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, insert_point_sql, -1, &point_st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, insert_metric_sql, -1, &metric_st, NULL) != SQLITE_OK) {
        db_fail(db, path, "preparing the inserts", e);
        goto fail;
    }
    const cJSON *host = jget(result, "host", NULL);
    const char *commit = jstr(host, "git", "commit");
    bind_text(run_st, 1, run_id);
    bind_text(run_st, 2, jstr(result, "started_at", NULL));
    bind_text(run_st, 3, jstr(result, "finished_at", NULL));
    bind_text(run_st, 4, jstr(result, "scenario", "name"));
    bind_text(run_st, 5, jstr(result, "scenario", "hash"));
    bind_text(run_st, 6, jstr(result, "scenario", "file"));
    bind_text(run_st, 7, jstr(result, "scenario", "workload"));
    bind_text(run_st, 8, machine_class);
    bind_text(run_st, 9, hostname);
    bind_text(run_st, 10, jstr(host, "cpu", "model"));
    bind_num(run_st, 11, jget(host, "cpu", "cores"));
    bind_num(run_st, 12, jget(host, "memory_bytes", NULL));
    bind_text(run_st, 13, jstr(host, "blas", "core"));
    bind_text(run_st, 14, commit ? commit : "unknown");
    sqlite3_bind_int(run_st, 15, cJSON_IsTrue(jget(host, "git", "dirty")));
    /* A result without the flag is taken as complete, as results before it were. */
    sqlite3_bind_int(run_st, 16, !cJSON_IsFalse(jget(result, "complete", NULL)));
    bind_text(run_st, 17, jstr(result, "lore_version", NULL));
    bind_text(run_st, 18, result_path);
    const char *mode = jstr(result, "measurement", "mode");
    bind_text(run_st, 19, mode ? mode : "wall");
    if (step_done(run_st) != 0) {
        if (sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_UNIQUE)
            bench_err_set(e, "%s: run %s is already recorded", path, run_id);
        else
            db_fail(db, path, "recording the run", e);
        goto fail;
    }
    int64_t run_row = sqlite3_last_insert_rowid(db);

    const cJSON *p;
    size_t i = 0;
    bool wall_valid = !cJSON_IsFalse(jget(result, "measurement", "wall_metrics_valid"));
    cJSON_ArrayForEach(p, jget(result, "points", NULL))
    {
        const cJSON *params = jget(p, "params", NULL);
        const char *status = jstr(p, "status", NULL);
        const char *id = jstr(p, "id", NULL);
        if (!cJSON_IsObject(params) || !id) {
            bench_err_set(e, "result: $.points[%zu]: needs \"id\" and a \"params\" object", i);
            goto fail;
        }
        params_text = cJSON_PrintUnformatted(params);
        if (!params_text) {
            bench_err_set(e, "%s: out of memory", path);
            goto fail;
        }
        const cJSON *index = jget(p, "index", NULL);
        sqlite3_bind_int64(point_st, 1, run_row);
        sqlite3_bind_int64(point_st, 2,
                           cJSON_IsNumber(index) ? (sqlite3_int64)index->valuedouble : (int64_t)i);
        bind_text(point_st, 3, id);
        bind_text(point_st, 4, params_text);
        bind_text(point_st, 5, status ? status : "ok");
        bind_num(point_st, 6, jget(p, "n_samples", NULL));
        int rc = step_done(point_st);
        free(params_text);
        params_text = NULL;
        if (rc != 0) {
            db_fail(db, path, "recording a point", e);
            goto fail;
        }
        int64_t point_row = sqlite3_last_insert_rowid(db);
        if ((!status || strcmp(status, "ok") == 0) &&
            put_point_metrics(metric_st, point_row, p, wall_valid) != 0) {
            db_fail(db, path, "recording a metric", e);
            goto fail;
        }
        i++;
    }
    sqlite3_finalize(run_st);
    sqlite3_finalize(point_st);
    sqlite3_finalize(metric_st);
    run_st = point_st = metric_st = NULL;
    if (exec(db, path, "COMMIT", "committing the run", e) != 0)
        goto fail;
    sqlite3_close(db);
    return 0;

fail:
    free(params_text);
    sqlite3_finalize(run_st);
    sqlite3_finalize(point_st);
    sqlite3_finalize(metric_st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return -1;
}

void bench_history_record_run(const char *path, const cJSON *result, const char *result_dir)
{
    const char *off = getenv(BENCH_HISTORY_OFF_ENV);
    if (off && *off && strcmp(off, "0") != 0)
        return;
    path = path ? path : bench_history_path(NULL);
    char result_path[4200];
    snprintf(result_path, sizeof result_path, "%s/result.json", result_dir ? result_dir : ".");
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    bench_err e = {{0}};
    if (bench_history_append(path, result, result_dir ? result_path : NULL, host[0] ? host : NULL,
                             &e) != 0)
        fprintf(stderr, "lore-bench: warning: history not updated: %s\n", e.msg);
}

/* ---- reading series -------------------------------------------------------- */

void bench_history_series_free(bench_history_series *s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++) {
        free(s[i].params_json);
        free(s[i].entries);
    }
    free(s);
}

/* A growing string for lists in messages. */
static void list_add(char *buf, size_t size, const char *item)
{
    size_t len = strlen(buf);
    if (len + 8 >= size)
        return;
    snprintf(buf + len, size - len, "%s%s", len ? ", " : "", item);
    if (strlen(buf) + 5 >= size)
        snprintf(buf + size - 5, 5, "...");
}

static int list_scenarios(sqlite3 *db, const char *path, const char *scenario, bench_err *e)
{
    sqlite3_stmt *st = NULL;
    char names[640] = "";
    if (sqlite3_prepare_v2(db,
                           "SELECT scenario, count(*) FROM runs GROUP BY scenario ORDER BY "
                           "scenario",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, path, "listing scenarios", e);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char item[200];
        snprintf(item, sizeof item, "%s (%lld run%s)", sqlite3_column_text(st, 0),
                 (long long)sqlite3_column_int64(st, 1),
                 sqlite3_column_int64(st, 1) == 1 ? "" : "s");
        list_add(names, sizeof names, item);
    }
    sqlite3_finalize(st);
    return bench_err_set(e, "%s: no run of scenario '%s' (scenarios recorded: %s)", path, scenario,
                         names[0] ? names : "none");
}

static int list_metrics(sqlite3 *db, const char *path, const char *scenario, const char *metric,
                        bench_err *e)
{
    sqlite3_stmt *st = NULL;
    char names[800] = "";
    if (sqlite3_prepare_v2(db,
                           "SELECT DISTINCT m.name FROM runs r JOIN points p ON p.run = r.id "
                           "JOIN metrics m ON m.point = p.id WHERE r.scenario = ?1 ORDER BY 1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, path, "listing metrics", e);
    bind_text(st, 1, scenario);
    while (sqlite3_step(st) == SQLITE_ROW)
        list_add(names, sizeof names, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return bench_err_set(e, "--metric %s: scenario '%s' has no such metric in %s (metrics: %s)",
                         metric, scenario, path, names[0] ? names : "none");
}

typedef struct point_filter {
    char key[96];
    const char *text;
} point_filter;

static int parse_filters(const bench_history_query_opts *o, point_filter *fs, bench_err *e)
{
    for (size_t i = 0; i < o->n_filters; i++) {
        const char *f = o->filters[i];
        const char *eq = strchr(f, '=');
        size_t klen = eq ? (size_t)(eq - f) : 0;
        if (!eq || klen == 0)
            return bench_err_set(e, "--point %s: expected KEY=VALUE", f);
        if (klen >= sizeof fs[i].key)
            return bench_err_set(e, "--point %.40s...: key too long", f);
        memcpy(fs[i].key, f, klen);
        fs[i].key[klen] = '\0';
        fs[i].text = eq + 1;
    }
    return 0;
}

/* Does a parameter value (JSON) equal the filter's text? */
static bool value_matches(const cJSON *v, const char *text)
{
    if (cJSON_IsString(v))
        return strcmp(v->valuestring, text) == 0;
    if (cJSON_IsBool(v))
        return strcmp(text, cJSON_IsTrue(v) ? "true" : "false") == 0;
    if (cJSON_IsNumber(v)) {
        char *end;
        errno = 0;
        double d = strtod(text, &end);
        return *text && !*end && errno == 0 && d == v->valuedouble;
    }
    return false;
}

/* One filter against one series; *known is set when the key exists for it. */
static bool filter_matches(const point_filter *f, const bench_history_series *s,
                           int64_t point_index, const cJSON *params, bool *known)
{
    if (strcmp(f->key, "id") == 0) {
        *known = true;
        return strcmp(s->point_id, f->text) == 0;
    }
    if (strcmp(f->key, "index") == 0) {
        *known = true;
        char *end;
        long long v = strtoll(f->text, &end, 10);
        return *f->text && !*end && v == point_index;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, f->key);
    if (!v)
        return false;
    *known = true;
    return value_matches(v, f->text);
}

/* Keeps the series that pass every key's filters (alternatives within a key). */
static int apply_filters(const bench_history_query_opts *o, bench_history_series *s, size_t *n,
                         const int64_t *point_index, const char *path, bench_err *e)
{
    if (o->n_filters == 0)
        return 0;
    point_filter *fs = calloc(o->n_filters, sizeof *fs);
    bool *known = calloc(o->n_filters, sizeof *known);
    bool *keep = calloc(*n, sizeof *keep);
    int rc = -1;
    if (!fs || !known || !keep) {
        bench_err_set(e, "%s: out of memory", path);
        rc = -2;
        goto done;
    }
    if (parse_filters(o, fs, e) != 0)
        goto done;
    for (size_t j = 0; j < *n; j++) {
        cJSON *params = cJSON_Parse(s[j].params_json);
        keep[j] = true;
        for (size_t i = 0; i < o->n_filters && keep[j]; i++) {
            bool seen_before = false;
            for (size_t k = 0; k < i; k++)
                seen_before |= strcmp(fs[k].key, fs[i].key) == 0;
            if (seen_before)
                continue;
            bool any = false;
            for (size_t k = i; k < o->n_filters; k++)
                if (strcmp(fs[k].key, fs[i].key) == 0)
                    any |= filter_matches(&fs[k], &s[j], point_index[j], params, &known[k]);
            keep[j] = any;
        }
        cJSON_Delete(params);
    }
    for (size_t i = 0; i < o->n_filters; i++)
        if (!known[i]) {
            bench_err_set(e,
                          "--point %s: unknown key '%s' (a parameter of scenario '%s', id or "
                          "index)",
                          o->filters[i], fs[i].key, o->scenario);
            goto done;
        }
    size_t kept = 0;
    for (size_t j = 0; j < *n; j++) {
        if (keep[j]) {
            s[kept++] = s[j];
        } else {
            free(s[j].params_json);
            free(s[j].entries);
        }
    }
    *n = kept;
    if (kept == 0) {
        char all[512] = "";
        for (size_t i = 0; i < o->n_filters; i++) {
            strncat(all, " --point ", sizeof all - strlen(all) - 1);
            strncat(all, o->filters[i], sizeof all - strlen(all) - 1);
        }
        bench_err_set(e, "%s: no point of scenario '%s' matches%s", path, o->scenario, all);
        goto done;
    }
    rc = 0;
done:
    free(fs);
    free(known);
    free(keep);
    return rc;
}

static bench_better better_from_text(const char *t)
{
    if (t && strcmp(t, "higher") == 0)
        return BENCH_BETTER_HIGHER;
    if (t && strcmp(t, "lower") == 0)
        return BENCH_BETTER_LOWER;
    return BENCH_BETTER_NONE;
}

static void copy_text(char *dst, size_t size, const unsigned char *src)
{
    snprintf(dst, size, "%s", src ? (const char *)src : "");
}

static const char series_sql[] =
    "SELECT r.run_id, r.started_at, r.git_commit, r.git_dirty, r.complete, r.machine_class,"
    " p.point_index, p.point_id, p.params, m.value, m.unit, m.better"
    " FROM runs r JOIN points p ON p.run = r.id JOIN metrics m ON m.point = p.id"
    " WHERE r.scenario = ?1 AND m.name = ?2"
    " ORDER BY r.started_at, r.id, p.point_index";

/* Appends one row to its series (found by machine class + params, else a new one). */
static int add_row(sqlite3_stmt *st, const char *metric, bench_history_series **s, size_t *n,
                   size_t *cap, int64_t **point_index)
{
    const char *klass = (const char *)sqlite3_column_text(st, 5);
    const char *params = (const char *)sqlite3_column_text(st, 8);
    klass = klass ? klass : "";
    params = params ? params : "";
    size_t j = 0;
    while (j < *n &&
           !(strcmp((*s)[j].params_json, params) == 0 && strcmp((*s)[j].machine_class, klass) == 0))
        j++;
    if (j == *n) {
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 16;
            bench_history_series *grown = realloc(*s, c * sizeof *grown);
            if (!grown)
                return -1;
            *s = grown;
            int64_t *gi = realloc(*point_index, c * sizeof *gi);
            if (!gi)
                return -1;
            *point_index = gi;
            *cap = c;
        }
        bench_history_series *ns = &(*s)[j];
        memset(ns, 0, sizeof *ns);
        ns->params_json = bench_strdup(params);
        if (!ns->params_json)
            return -1;
        (*n)++;
        snprintf(ns->machine_class, sizeof ns->machine_class, "%s", klass);
        snprintf(ns->metric, sizeof ns->metric, "%s", metric);
    }
    bench_history_series *ser = &(*s)[j];
    /* The latest run names the point and the metric's unit and direction. */
    copy_text(ser->point_id, sizeof ser->point_id, sqlite3_column_text(st, 7));
    copy_text(ser->unit, sizeof ser->unit, sqlite3_column_text(st, 10));
    ser->better = better_from_text((const char *)sqlite3_column_text(st, 11));
    (*point_index)[j] = sqlite3_column_int64(st, 6);
    bench_history_entry *grown = realloc(ser->entries, (ser->n_entries + 1) * sizeof *grown);
    if (!grown)
        return -1;
    ser->entries = grown;
    bench_history_entry *en = &ser->entries[ser->n_entries++];
    memset(en, 0, sizeof *en);
    copy_text(en->run_id, sizeof en->run_id, sqlite3_column_text(st, 0));
    copy_text(en->started_at, sizeof en->started_at, sqlite3_column_text(st, 1));
    copy_text(en->commit, sizeof en->commit, sqlite3_column_text(st, 2));
    en->dirty = sqlite3_column_int(st, 3) != 0;
    en->complete = sqlite3_column_int(st, 4) != 0;
    en->value = sqlite3_column_double(st, 9);
    return 0;
}

int bench_history_query(const char *path, const bench_history_query_opts *o,
                        bench_history_series **out, size_t *n_out, bench_err *e)
{
    *out = NULL;
    *n_out = 0;
    const char *metric = o->metric ? o->metric : "throughput";
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    bench_history_series *s = NULL;
    int64_t *point_index = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;
    if (open_for_read(path, &db, e) != 0)
        return -1;
    int64_t n_runs = 0;
    char count_sql[] = "SELECT count(*) FROM runs WHERE scenario = ?1";
    if (sqlite3_prepare_v2(db, count_sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, path, "reading runs", e);
        goto done;
    }
    bind_text(st, 1, o->scenario);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_fail(db, path, "reading runs", e);
        goto done;
    }
    n_runs = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (n_runs == 0) {
        list_scenarios(db, path, o->scenario, e);
        goto done;
    }
    if (sqlite3_prepare_v2(db, series_sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, path, "reading the series", e);
        goto done;
    }
    bind_text(st, 1, o->scenario);
    bind_text(st, 2, metric);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (add_row(st, metric, &s, &n, &cap, &point_index) != 0) {
            bench_err_set(e, "%s: out of memory reading the series", path);
            rc = -2;
            goto done;
        }
    if (step != SQLITE_DONE) {
        db_fail(db, path, "reading the series", e);
        rc = -2;
        goto done;
    }
    if (n == 0) {
        list_metrics(db, path, o->scenario, metric, e);
        goto done;
    }
    int frc = apply_filters(o, s, &n, point_index, path, e);
    if (frc != 0) {
        rc = frc;
        goto done;
    }
    if (o->last > 0)
        for (size_t j = 0; j < n; j++)
            if (s[j].n_entries > o->last) {
                memmove(s[j].entries, s[j].entries + (s[j].n_entries - o->last),
                        o->last * sizeof *s[j].entries);
                s[j].n_entries = o->last;
            }
    *out = s;
    *n_out = n;
    s = NULL;
    n = 0;
    rc = 0;
done:
    sqlite3_finalize(st);
    sqlite3_close(db);
    bench_history_series_free(s, n);
    free(point_index);
    return rc;
}

/* ---- change points --------------------------------------------------------- */

/*
 * Why this method. Wall-clock series on shared machines are noisy (4-30%),
 * skewed (slow outliers, never fast ones) and short (one value per run). A
 * mean-based test is dragged by one slow run; a fixed threshold on
 * consecutive values cries wolf. So, like E-divisive (MongoDB's performance
 * CI) we split the series hierarchically and judge each split with a
 * permutation test, which needs no model of the noise; but the statistic is
 * the Mann-Whitney U between the two sides (standardised, with the tie
 * correction), which depends only on ranks: one outlier can move the rank sum
 * by at most n, and a monotone transform (log) changes nothing. Taking the
 * maximum over all split positions inflates the statistic; the permutation
 * test compares it with the maximum over the same positions of shuffled data,
 * so the level alpha holds for the scan as a whole. Like asv's step detection
 * we then drop steps too small to matter (min_effect on the ratio of segment
 * medians) and steps on fewer than min_segment values. Last, each step is
 * placed again by a linear scan of just its two neighbouring segments: found
 * inside a longer segment (a staircase, an arc), the split is pulled by the
 * other levels. (Placing it at asv's least L1 cost on log values instead was
 * tried: on simulated steps in noise it misplaced more steps than the ranks.)
 */

/*
 * alpha 0.01: on simulated series of 40 runs, pure noise gives a change point
 * in about 1.3% of series whatever its size (min_effect filters noise below
 * 5% entirely), and a 10% step in 3% noise is found in 89% of 12-run series
 * and 99% of 20-run ones. At 0.05 steps are seen in 8-run series, but one
 * noisy series in 20 shows a step that is not there.
 */
bench_cp_opts bench_cp_default_opts(void)
{
    return (bench_cp_opts){
        .min_segment = 3, .min_effect = 0.05, .alpha = 0.01, .n_perm = 999, .seed = 1};
}

typedef struct ranked {
    double v;
    size_t i;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    double x = ((const ranked *)a)->v, y = ((const ranked *)b)->v;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mid-ranks (1-based) of x[0..n) into r; returns the tie term sum(t^3 - t). */
static double midranks(const double *x, size_t n, double *r, ranked *tmp)
{
    for (size_t i = 0; i < n; i++)
        tmp[i] = (ranked){x[i], i};
    qsort(tmp, n, sizeof *tmp, cmp_ranked);
    double ties = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && tmp[j].v == tmp[i].v)
            j++;
        double rank = (double)(i + j + 1) / 2.0; /* mean of ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            r[tmp[k].i] = rank;
        double t = (double)(j - i);
        ties += t * t * t - t;
        i = j;
    }
    return ties;
}

/*
 * A scan of one segment of n values for the most different part. Linear: the
 * splits r[0..k) | r[k..n), one change. Circular (Olshen et al.'s circular
 * binary segmentation): the arcs r[i..j) against the rest, which also finds a
 * change that comes back (a regression fixed later) - plain binary
 * segmentation misses it when neither single split separates enough. Every
 * part has at least min_seg values; inv_sd[k] = 1 / sd of U for an inside of
 * k values (with the tie correction), so the scan is additions and one
 * multiply per candidate.
 */
typedef struct scan {
    size_t n, min_seg;
    bool circular;
    double *inv_sd; /* [n + 1] */
    double *prefix; /* [n + 1] rank sums */
} scan;

static void scan_setup(scan *sc, size_t n, size_t min_seg, double ties)
{
    double big_n = (double)n;
    double tie_adj = n > 1 ? ties / (big_n * (big_n - 1)) : 0;
    sc->n = n;
    sc->min_seg = min_seg;
    for (size_t k = 0; k <= n; k++) {
        double n1 = (double)k, n2 = big_n - n1;
        double var = n1 * n2 / 12.0 * ((big_n + 1) - tie_adj);
        sc->inv_sd[k] = var > 0 ? 1 / sqrt(var) : 0;
    }
}

/* The largest |z| of the scan over ranks r; *bi, *bj (may be NULL) get the first part
 * reaching it: the inside is r[bi..bj), and bi == 0 or bj == n means one change. */
static double scan_max(const scan *sc, const double *r, size_t *bi, size_t *bj)
{
    size_t n = sc->n, m = sc->min_seg;
    double *pre = sc->prefix, best = -1;
    pre[0] = 0;
    for (size_t i = 0; i < n; i++)
        pre[i + 1] = pre[i] + r[i];
    size_t i_end = sc->circular ? n - m : 1;
    for (size_t i = 0; i < i_end; i++) {
        if (i != 0 && i < m)
            continue; /* the part before the arc would be too short */
        for (size_t j = i + m; j <= n; j++) {
            size_t k = j - i;
            if ((j != n && n - j < m) || n - k < m)
                continue; /* the part after the arc, or the outside, would be too short */
            double n1 = (double)k;
            double u = pre[j] - pre[i] - n1 * (n1 + 1) / 2;
            double z = fabs(u - n1 * (double)(n - k) / 2) * sc->inv_sd[k];
            if (z > best) {
                best = z;
                if (bi)
                    *bi = i;
                if (bj)
                    *bj = j;
            }
        }
    }
    return best;
}

/*
 * Permutation p-value of observed (the scan's maximum on the segment) from
 * n_perm shuffles of its ranks. Stops as soon as p can no longer reach alpha:
 * the value returned is then a lower bound above alpha, all the caller needs.
 */
static double permutation_p(const scan *sc, double *r, double observed, const bench_cp_opts *o,
                            uint64_t seed)
{
    uint64_t s = seed;
    long hits = 0;
    long limit = (long)floor(o->alpha * (o->n_perm + 1)); /* more hits than this: p > alpha */
    for (int p = 1; p <= o->n_perm; p++) {
        for (size_t i = sc->n - 1; i > 0; i--) {
            size_t j = (size_t)((double)(bench_splitmix64(&s) >> 11) * 0x1.0p-53 * (double)(i + 1));
            double t = r[i];
            r[i] = r[j];
            r[j] = t;
        }
        /* The relative slack keeps rounding from hiding a tie with the observed value. */
        if (scan_max(sc, r, NULL, NULL) >= observed * (1 - 1e-12))
            hits++;
        if (hits > limit)
            return (double)(hits + 1) / (double)(p + 1);
    }
    return (double)(hits + 1) / (double)(o->n_perm + 1);
}

/* Median of x[a..b) using scratch. */
static double seg_median(const double *x, size_t a, size_t b, double *scratch)
{
    size_t n = b - a;
    memcpy(scratch, x + a, n * sizeof *scratch);
    qsort(scratch, n, sizeof *scratch, cmp_double);
    return n % 2 ? scratch[n / 2] : (scratch[n / 2 - 1] + scratch[n / 2]) / 2;
}

static double rel_change(double before, double after)
{
    if (before == 0)
        return after == 0 ? 0 : copysign(INFINITY, after);
    return after / before - 1;
}

/* The change points as boundaries: cps[0] = 0, then every change, then n. Returns the count. */
static size_t boundaries(const bool *is_cp, size_t n, size_t *cps)
{
    size_t nc = 0;
    cps[nc++] = 0;
    for (size_t i = 1; i < n; i++)
        if (is_cp[i])
            cps[nc++] = i;
    cps[nc++] = n;
    return nc;
}

/* Removes the change point with the smallest effect when it is below min_effect. */
static bool prune_weakest(const double *x, size_t n, bool *is_cp, size_t *cps, double *scratch,
                          double min_effect)
{
    size_t nc = boundaries(is_cp, n, cps);
    size_t weakest = 0;
    double weakest_effect = INFINITY;
    for (size_t j = 1; j + 1 < nc; j++) {
        double before = seg_median(x, cps[j - 1], cps[j], scratch);
        double after = seg_median(x, cps[j], cps[j + 1], scratch);
        double eff = fabs(rel_change(before, after));
        if (eff < weakest_effect) {
            weakest_effect = eff;
            weakest = cps[j];
        }
    }
    if (weakest == 0 || weakest_effect >= min_effect)
        return false;
    is_cp[weakest] = false;
    return true;
}

int bench_history_change_points(const double *x, size_t n, const bench_cp_opts *o,
                                bench_change_point *out, size_t max_out, size_t *n_out)
{
    *n_out = 0;
    if (!o || o->min_segment < 1 || !(o->alpha > 0 && o->alpha < 1) || o->n_perm < 1 ||
        !(o->min_effect >= 0))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return -1;
    size_t m = o->min_segment;
    if (n < 2 * m)
        return 0;
    double *r = malloc(n * sizeof *r);
    double *scratch = malloc(n * sizeof *scratch);
    double *p_at = calloc(n + 1, sizeof *p_at);
    bool *is_cp = calloc(n + 1, sizeof *is_cp);
    ranked *tmp = malloc(n * sizeof *tmp);
    size_t *stack = malloc(3 * (n + 1) * sizeof *stack);
    size_t *cps = malloc((n + 2) * sizeof *cps);
    double *inv_sd = malloc((n + 1) * sizeof *inv_sd);
    double *prefix = malloc((n + 1) * sizeof *prefix);
    int rc = -1;
    if (!r || !scratch || !p_at || !is_cp || !tmp || !stack || !cps || !inv_sd || !prefix)
        goto done;

    /* Binary segmentation: test a segment, cut it (once, or twice around an arc), test
     * the parts. */
    size_t top = 0;
    stack[top++] = 0;
    stack[top++] = n;
    while (top > 0) {
        size_t b = stack[--top], a = stack[--top];
        size_t len = b - a;
        if (len < 2 * m)
            continue;
        /* One change first; an arc (a change and its return) only when no single split
         * explains the segment, so single steps keep the linear scan's placement. */
        scan sc = {.inv_sd = inv_sd, .prefix = prefix};
        double ties = midranks(x + a, len, r, tmp);
        scan_setup(&sc, len, m, ties);
        uint64_t seed = o->seed ^ ((uint64_t)a * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)b << 32);
        size_t i = 0, j = 0;
        double p = 1;
        for (int pass = 0; pass < 2 && p > o->alpha; pass++) {
            sc.circular = pass == 1;
            if (sc.circular && len > CIRCULAR_MAX_N)
                break;
            if (pass > 0)
                midranks(x + a, len, r, tmp); /* the permutations shuffled them */
            double observed = scan_max(&sc, r, &i, &j);
            if (!(observed > 0))
                break; /* every value equal: nothing to split */
            p = permutation_p(&sc, r, observed, o, seed + (uint64_t)pass);
        }
        if (p > o->alpha)
            continue;
        size_t cut[2], n_cut = 0;
        if (i > 0)
            cut[n_cut++] = a + i;
        if (j < len)
            cut[n_cut++] = a + j;
        size_t from = a;
        for (size_t c = 0; c < n_cut; c++) {
            is_cp[cut[c]] = true;
            p_at[cut[c]] = p;
            stack[top++] = from;
            stack[top++] = cut[c];
            from = cut[c];
        }
        stack[top++] = from;
        stack[top++] = b;
    }

    /* Drop steps smaller than min_effect (the smallest first, merging its segments); place
     * each step left by a linear scan between its neighbours, until nothing moves. */
    for (int round = 0; round < 10; round++) {
        while (prune_weakest(x, n, is_cp, cps, scratch, o->min_effect))
            ;
        bool moved = false;
        size_t nc = boundaries(is_cp, n, cps);
        for (size_t c = 1; c + 1 < nc; c++) {
            size_t a = cps[c - 1], b = cps[c + 1], len = b - a, i = 0, j = 0;
            scan sc = {.inv_sd = inv_sd, .prefix = prefix};
            scan_setup(&sc, len, m, midranks(x + a, len, r, tmp));
            if (!(scan_max(&sc, r, &i, &j) > 0) || a + j == cps[c])
                continue;
            is_cp[cps[c]] = false;
            is_cp[a + j] = true;
            p_at[a + j] = p_at[cps[c]];
            cps[c] = a + j;
            moved = true;
        }
        if (!moved)
            break;
    }

    size_t prev = 0, count = 0;
    for (size_t i = 1; i < n; i++) {
        if (!is_cp[i])
            continue;
        size_t next = i + 1;
        while (next < n && !is_cp[next])
            next++;
        if (count < max_out) {
            bench_change_point *c = &out[count];
            c->index = i;
            c->median_before = seg_median(x, prev, i, scratch);
            c->median_after = seg_median(x, i, next, scratch);
            c->rel_change = rel_change(c->median_before, c->median_after);
            c->p_value = p_at[i];
        }
        count++;
        prev = i;
    }
    *n_out = count;
    rc = 0;
done:
    free(r);
    free(scratch);
    free(p_at);
    free(is_cp);
    free(tmp);
    free(stack);
    free(cps);
    free(inv_sd);
    free(prefix);
    return rc;
}

/* ---- the history command --------------------------------------------------- */

typedef struct history_opts {
    const char *scenario;
    const char *metric;
    const char **points;
    size_t n_points;
    size_t last;
    const char *plot;
    bool json;
    const char *history;
    bench_cp_opts cp;
} history_opts;

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "lore-bench history: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see lore-bench help)\n");
    return BENCH_EXIT_USAGE;
}

static bool parse_size(const char *text, size_t lo, size_t hi, size_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || errno || v < (long long)lo || v > (long long)hi)
        return false;
    *out = (size_t)v;
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

static int parse_history_opts(int argc, char **argv, history_opts *o)
{
    o->cp = bench_cp_default_opts();
    o->points = calloc((size_t)argc, sizeof *o->points);
    if (!o->points) {
        fprintf(stderr, "lore-bench: out of memory\n");
        return BENCH_EXIT_RUNTIME;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--metric") == 0 || strcmp(a, "--point") == 0 || strcmp(a, "--last") == 0 ||
            strcmp(a, "--plot") == 0 || strcmp(a, "--history") == 0 ||
            strcmp(a, "--min-effect") == 0 || strcmp(a, "--min-segment") == 0 ||
            strcmp(a, "--alpha") == 0) {
            if (!v)
                return usage("%s needs a value", a);
            i++;
        }
        if (strcmp(a, "--metric") == 0) {
            o->metric = v;
        } else if (strcmp(a, "--point") == 0) {
            if (!strchr(v, '=') || v[0] == '=')
                return usage("--point '%s': expected KEY=VALUE", v);
            o->points[o->n_points++] = v;
        } else if (strcmp(a, "--last") == 0) {
            if (!parse_size(v, 1, 100000000, &o->last))
                return usage("--last '%s': expected a whole number >= 1", v);
        } else if (strcmp(a, "--plot") == 0) {
            if (!ends_with(v, ".svg") || strlen(v) < 5)
                return usage("--plot '%s': expected a file name ending in .svg", v);
            o->plot = v;
        } else if (strcmp(a, "--history") == 0) {
            o->history = v;
        } else if (strcmp(a, "--min-effect") == 0) {
            char *end;
            errno = 0;
            double d = strtod(v, &end);
            if (!*v || *end || errno || !(d >= 0 && d < 10))
                return usage("--min-effect '%s': expected a fraction in [0, 10) (0.05 = 5%%)", v);
            o->cp.min_effect = d;
        } else if (strcmp(a, "--alpha") == 0) {
            char *end;
            errno = 0;
            double d = strtod(v, &end);
            if (!*v || *end || errno || !(d > 0 && d < 1))
                return usage("--alpha '%s': expected a level in (0, 1), e.g. 0.01", v);
            o->cp.alpha = d;
        } else if (strcmp(a, "--min-segment") == 0) {
            if (!parse_size(v, 1, 1000, &o->cp.min_segment))
                return usage("--min-segment '%s': expected a whole number in [1, 1000]", v);
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (a[0] == '-' && a[1]) {
            return usage("unknown option '%s'", a);
        } else if (o->scenario) {
            return usage("one scenario at a time (extra argument '%s')", a);
        } else {
            o->scenario = a;
        }
    }
    if (!o->scenario)
        return usage("%s", "history needs a scenario name (or its .json file)");
    return BENCH_EXIT_OK;
}

static const char *better_text(bench_better b)
{
    return b == BENCH_BETTER_HIGHER ? "higher" : b == BENCH_BETTER_LOWER ? "lower" : "none";
}

/* "better", "worse", or "changed" when the metric has no direction. */
static const char *direction(bench_better b, double rel)
{
    if (b == BENCH_BETTER_NONE || rel == 0)
        return "changed";
    bool up = rel > 0;
    return (up == (b == BENCH_BETTER_HIGHER)) ? "better" : "worse";
}

/* "2025-06-01T10:11:12.345Z" -> "2025-06-01 10:11". */
static void short_date(const char *iso, char *buf, size_t size)
{
    snprintf(buf, size, "%.16s", iso);
    char *t = strchr(buf, 'T');
    if (t)
        *t = ' ';
}

static void short_commit(const bench_history_entry *en, char *buf, size_t size)
{
    snprintf(buf, size, "%.10s%s", en->commit, en->dirty ? "+" : "");
}

typedef struct series_cps {
    bench_change_point *cp;
    size_t n;
} series_cps;

static void print_series_text(const bench_history_series *s, const series_cps *c,
                              const bench_cp_opts *cp)
{
    printf("\n%s  [%s]\n", s->point_id, s->machine_class);
    printf("  %4s  %-16s  %-11s  %14s  %8s\n", "run", "date", "commit", "value", "change");
    size_t next_cp = 0;
    for (size_t i = 0; i < s->n_entries; i++) {
        const bench_history_entry *en = &s->entries[i];
        char date[24], commit[24], change[24] = "";
        short_date(en->started_at, date, sizeof date);
        short_commit(en, commit, sizeof commit);
        if (i > 0 && s->entries[i - 1].value != 0)
            snprintf(change, sizeof change, "%+.1f%%",
                     (en->value / s->entries[i - 1].value - 1) * 100);
        printf("  %4zu  %-16s  %-11s  %14.5g  %8s", i + 1, date, commit, en->value, change);
        if (!en->complete)
            printf("  (incomplete run)");
        if (next_cp < c->n && c->cp[next_cp].index == i) {
            printf("  <- change point: %+.1f%% (%s)", c->cp[next_cp].rel_change * 100,
                   direction(s->better, c->cp[next_cp].rel_change));
            next_cp++;
        }
        putchar('\n');
    }
    if (s->n_entries < 2 * cp->min_segment) {
        printf("  %zu run(s): change points need at least %zu\n", s->n_entries,
               2 * cp->min_segment);
        return;
    }
    if (c->n == 0) {
        printf("  no change point (steps of %.0f%% or more, p <= %.2f)\n", cp->min_effect * 100,
               cp->alpha);
        return;
    }
    for (size_t j = 0; j < c->n; j++) {
        const bench_change_point *p = &c->cp[j];
        const bench_history_entry *en = &s->entries[p->index];
        char date[24], commit[24];
        short_date(en->started_at, date, sizeof date);
        short_commit(en, commit, sizeof commit);
        printf("  change point at run %zu (commit %s, %s): median %.5g -> %.5g %s (%+.1f%%, %s; "
               "p = %.3f)\n",
               p->index + 1, commit, date, p->median_before, p->median_after, s->unit,
               p->rel_change * 100, direction(s->better, p->rel_change), p->p_value);
    }
}

/* JSON numbers that cJSON can print: a non-finite value becomes null. */
static cJSON *jnumber(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *series_json(const bench_history_series *s, const series_cps *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = cJSON_AddStringToObject(o, "point_id", s->point_id) != NULL;
    cJSON *params = cJSON_Parse(s->params_json);
    ok &= params != NULL;
    cJSON_AddItemToObject(o, "params", params);
    ok &= cJSON_AddStringToObject(o, "machine_class", s->machine_class) != NULL;
    ok &= cJSON_AddStringToObject(o, "metric", s->metric) != NULL;
    ok &= cJSON_AddStringToObject(o, "unit", s->unit) != NULL;
    ok &= cJSON_AddStringToObject(o, "better", better_text(s->better)) != NULL;
    cJSON *runs = cJSON_AddArrayToObject(o, "runs");
    ok &= runs != NULL;
    for (size_t i = 0; i < s->n_entries && ok; i++) {
        const bench_history_entry *en = &s->entries[i];
        cJSON *r = cJSON_CreateObject();
        ok &= r != NULL;
        cJSON_AddItemToArray(runs, r);
        ok &= cJSON_AddStringToObject(r, "run_id", en->run_id) != NULL;
        ok &= cJSON_AddStringToObject(r, "started_at", en->started_at) != NULL;
        ok &= cJSON_AddStringToObject(r, "commit", en->commit) != NULL;
        ok &= cJSON_AddBoolToObject(r, "dirty", en->dirty) != NULL;
        ok &= cJSON_AddBoolToObject(r, "complete", en->complete) != NULL;
        cJSON_AddItemToObject(r, "value", jnumber(en->value));
        double ch =
            i > 0 && s->entries[i - 1].value != 0 ? en->value / s->entries[i - 1].value - 1 : NAN;
        cJSON_AddItemToObject(r, "change", jnumber(ch));
    }
    cJSON *cps = cJSON_AddArrayToObject(o, "change_points");
    ok &= cps != NULL;
    for (size_t j = 0; j < c->n && ok; j++) {
        const bench_change_point *p = &c->cp[j];
        const bench_history_entry *en = &s->entries[p->index];
        cJSON *r = cJSON_CreateObject();
        ok &= r != NULL;
        cJSON_AddItemToArray(cps, r);
        ok &= cJSON_AddNumberToObject(r, "index", (double)p->index) != NULL;
        ok &= cJSON_AddStringToObject(r, "run_id", en->run_id) != NULL;
        ok &= cJSON_AddStringToObject(r, "commit", en->commit) != NULL;
        ok &= cJSON_AddBoolToObject(r, "dirty", en->dirty) != NULL;
        ok &= cJSON_AddStringToObject(r, "started_at", en->started_at) != NULL;
        cJSON_AddItemToObject(r, "median_before", jnumber(p->median_before));
        cJSON_AddItemToObject(r, "median_after", jnumber(p->median_after));
        cJSON_AddItemToObject(r, "rel_change", jnumber(p->rel_change));
        cJSON_AddItemToObject(r, "p_value", jnumber(p->p_value));
        ok &= cJSON_AddStringToObject(r, "direction", direction(s->better, p->rel_change)) != NULL;
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---- --plot: gnuplot --------------------------------------------------------- */

/* Writes s into a gnuplot single-quoted string ('' is a quote). */
static void gp_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The position of each run on the x axis: runs of every plotted series, in time order. */
typedef struct run_slot {
    const bench_history_entry *en;
} run_slot;

static int cmp_slot(const void *a, const void *b)
{
    const bench_history_entry *x = ((const run_slot *)a)->en, *y = ((const run_slot *)b)->en;
    int c = strcmp(x->started_at, y->started_at);
    return c ? c : strcmp(x->run_id, y->run_id);
}

static size_t slot_of(const run_slot *slots, size_t n, const bench_history_entry *en)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(slots[i].en->run_id, en->run_id) == 0)
            return i + 1;
    return 0;
}

/*
 * Writes STEM.dat and STEM.gp beside the SVG (kept, so anyone can re-render
 * with `gnuplot STEM.gp` from that folder) and runs gnuplot there. Returns 0
 * (SVG written, or gnuplot missing: *missing set), or -1 with e set.
 */
static int plot_history(const char *svg, const char *scenario, const bench_history_series *s,
                        const series_cps *c, size_t n, bool *missing, bench_err *e)
{
    *missing = false;
    size_t n_plot = n < MAX_PLOT_SERIES ? n : MAX_PLOT_SERIES;
    size_t stem_len = strlen(svg) - 4;
    char dat[4096], gp[4096];
    if (stem_len + 5 > sizeof dat)
        return bench_err_set(e, "--plot %s: path too long", svg);
    snprintf(dat, sizeof dat, "%.*s.dat", (int)stem_len, svg);
    snprintf(gp, sizeof gp, "%.*s.gp", (int)stem_len, svg);

    size_t total = 0;
    for (size_t j = 0; j < n_plot; j++)
        total += s[j].n_entries;
    run_slot *slots = calloc(total ? total : 1, sizeof *slots);
    if (!slots)
        return bench_err_set(e, "--plot: out of memory");
    size_t n_slots = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t j = 0; j < n_plot; j++)
        for (size_t i = 0; i < s[j].n_entries; i++) {
            const bench_history_entry *en = &s[j].entries[i];
            lo = fmin(lo, en->value);
            hi = fmax(hi, en->value);
            if (!slot_of(slots, n_slots, en))
                slots[n_slots++].en = en;
        }
    qsort(slots, n_slots, sizeof *slots, cmp_slot);

    FILE *f = fopen(dat, "w");
    if (!f) {
        free(slots);
        return bench_err_set(e, "%s: cannot create: %s", dat, strerror(errno));
    }
    /* Per series two blocks: its values, then its segment medians; last, the change points. */
    fprintf(f, "# lore-bench history %s: %s\n", scenario, s[0].metric);
    for (size_t j = 0; j < n_plot; j++) {
        fprintf(f, "# series %zu: %s [%s]\n# x value\n", j, s[j].point_id, s[j].machine_class);
        for (size_t i = 0; i < s[j].n_entries; i++)
            fprintf(f, "%zu %.17g\n", slot_of(slots, n_slots, &s[j].entries[i]),
                    s[j].entries[i].value);
        fprintf(f, "\n\n# segment medians of series %zu\n", j);
        size_t start = 0;
        for (size_t k = 0; k <= c[j].n; k++) {
            size_t end = k < c[j].n ? c[j].cp[k].index : s[j].n_entries;
            double med = k < c[j].n ? c[j].cp[k].median_before
                                    : (c[j].n ? c[j].cp[c[j].n - 1].median_after : NAN);
            if (c[j].n == 0)
                break;
            fprintf(f, "%zu %.17g\n%zu %.17g\n\n", slot_of(slots, n_slots, &s[j].entries[start]),
                    med, slot_of(slots, n_slots, &s[j].entries[end - 1]), med);
            start = end;
        }
        if (c[j].n == 0)
            fprintf(f, "0 NaN\n");
        fprintf(f, "\n\n");
    }
    fprintf(f, "# change points: x value label\n");
    size_t n_cp = 0;
    for (size_t j = 0; j < n_plot; j++)
        for (size_t k = 0; k < c[j].n; k++, n_cp++) {
            const bench_history_entry *en = &s[j].entries[c[j].cp[k].index];
            fprintf(f, "%zu %.17g \"%+.1f%%\"\n", slot_of(slots, n_slots, en), en->value,
                    c[j].cp[k].rel_change * 100);
        }
    if (n_cp == 0)
        fprintf(f, "0 NaN \"\"\n");
    bool write_failed = ferror(f) != 0;
    write_failed |= fclose(f) != 0;
    if (write_failed) {
        free(slots);
        return bench_err_set(e, "%s: cannot write: %s", dat, strerror(errno));
    }

    f = fopen(gp, "w");
    if (!f) {
        free(slots);
        return bench_err_set(e, "%s: cannot create: %s", gp, strerror(errno));
    }
    fprintf(f, "# lore-bench history: re-render with `gnuplot %s` in this folder\n", base_name(gp));
    fprintf(f, "set terminal svg size 1100,600 dynamic background rgb 'white' font 'sans,11'\n");
    fprintf(f, "set output ");
    gp_quoted(f, base_name(svg));
    char title[512];
    snprintf(title, sizeof title, "%s: %s (%s, %s is better)%s", scenario, s[0].metric, s[0].unit,
             better_text(s[0].better),
             n_plot < n ? " - first series only; narrow with --point" : "");
    fprintf(f, "\nset title ");
    gp_quoted(f, title);
    fprintf(f, " noenhanced\nset ylabel ");
    gp_quoted(f, s[0].unit);
    fprintf(f, " noenhanced\nset xlabel 'run (commit; + = uncommitted changes)'\n");
    fprintf(f, "set key below noenhanced\nset grid ytics\n");
    if (lo > 0 && hi / lo > 50)
        fprintf(f, "set logscale y\n");
    if (fabs(hi) >= 1e4)
        fprintf(f, "set format y '%%.1s%%c'\n"); /* 1.2e11 as 120G */
    fprintf(f, "set xrange [0.5:%zu.5]\n", n_slots);
    size_t every = (n_slots + MAX_XTIC_LABELS - 1) / MAX_XTIC_LABELS;
    fprintf(f, "set xtics rotate by -45 (");
    for (size_t i = 0; i < n_slots; i += every) {
        char commit[24];
        short_commit(slots[i].en, commit, sizeof commit);
        fprintf(f, "%s", i ? ", " : "");
        gp_quoted(f, commit);
        fprintf(f, " %zu", i + 1);
    }
    fprintf(f, ")\nplot");
    /* Only blocks with points are plotted: gnuplot 5.4 crashes on labels it cannot place. */
    for (size_t j = 0; j < n_plot; j++) {
        fprintf(f, "%s \\\n  ", j ? "," : "");
        gp_quoted(f, base_name(dat));
        fprintf(f, " index %zu using 1:2 with linespoints lc %zu pt 7 ps 0.6 title ", 2 * j, j + 1);
        bool other_class = strcmp(s[j].machine_class, s[0].machine_class) != 0;
        char t[448];
        snprintf(t, sizeof t, "%s%s%s", s[j].point_id, other_class ? " @ " : "",
                 other_class ? s[j].machine_class : "");
        gp_quoted(f, t);
        if (c[j].n > 0)
            fprintf(f, ", \\\n  '' index %zu using 1:2 with lines lc %zu dt 2 lw 2 notitle",
                    2 * j + 1, j + 1);
    }
    if (n_cp > 0) {
        fprintf(f,
                ", \\\n  '' index %zu using 1:2 with points pt 6 ps 2.5 lw 2 lc rgb 'red' "
                "title 'change point (dashed: segment medians)'",
                2 * n_plot);
        fprintf(f,
                ", \\\n  '' index %zu using 1:2:3 with labels offset 0,1.6 tc rgb 'red' "
                "notitle",
                2 * n_plot);
    }
    fprintf(f, "\n");
    write_failed = ferror(f) != 0;
    write_failed |= fclose(f) != 0;
    free(slots);
    if (write_failed)
        return bench_err_set(e, "%s: cannot write: %s", gp, strerror(errno));

    /* gnuplot runs in the plot's folder so the script names its files relatively. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)(base_name(gp) - gp), gp);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return bench_err_set(e, "--plot: cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        if (dir[0] && chdir(dir) != 0)
            _exit(126);
        execlp("gnuplot", "gnuplot", base_name(gp), (char *)NULL);
        _exit(errno == ENOENT ? 127 : 126);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return bench_err_set(e, "--plot: waiting for gnuplot: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        *missing = true;
        return 0;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return bench_err_set(e, "--plot: gnuplot failed on %s (exit status %d)", gp,
                             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

/* A scenario given as its file: the name inside it. */
static int scenario_name(const char *arg, char *buf, size_t size, bench_err *e)
{
    if (!ends_with(arg, ".json")) {
        snprintf(buf, size, "%s", arg);
        return 0;
    }
    bench_scenario *sc = NULL;
    if (bench_scenario_load(arg, &sc, e) != 0)
        return -1;
    snprintf(buf, size, "%s", sc->name);
    bench_scenario_free(sc);
    return 0;
}

int bench_history_main(int argc, char **argv)
{
    history_opts o = {0};
    bench_history_series *s = NULL;
    series_cps *c = NULL;
    size_t n = 0;
    bench_err e = {{0}};
    int rc = parse_history_opts(argc, argv, &o);
    if (rc != BENCH_EXIT_OK)
        goto done;
    char name[256];
    if (scenario_name(o.scenario, name, sizeof name, &e) != 0) {
        rc = BENCH_EXIT_USAGE;
        goto report;
    }
    const char *path = bench_history_path(o.history);
    bench_history_query_opts q = {.scenario = name,
                                  .metric = o.metric,
                                  .filters = o.points,
                                  .n_filters = o.n_points,
                                  .last = o.last};
    int qrc = bench_history_query(path, &q, &s, &n, &e);
    if (qrc != 0) {
        rc = qrc == -2 ? BENCH_EXIT_RUNTIME : BENCH_EXIT_USAGE;
        goto report;
    }
    c = calloc(n, sizeof *c);
    if (!c) {
        bench_err_set(&e, "out of memory");
        rc = BENCH_EXIT_RUNTIME;
        goto report;
    }
    for (size_t j = 0; j < n; j++) {
        size_t max = s[j].n_entries / o.cp.min_segment + 1;
        c[j].cp = calloc(max, sizeof *c[j].cp);
        double *v = malloc((s[j].n_entries + 1) * sizeof *v);
        if (!c[j].cp || !v) {
            free(v);
            bench_err_set(&e, "out of memory");
            rc = BENCH_EXIT_RUNTIME;
            goto report;
        }
        for (size_t i = 0; i < s[j].n_entries; i++)
            v[i] = s[j].entries[i].value;
        int cprc = bench_history_change_points(v, s[j].n_entries, &o.cp, c[j].cp, max, &c[j].n);
        free(v);
        if (cprc != 0) {
            bench_err_set(&e, "change-point search on %s: out of memory", s[j].point_id);
            rc = BENCH_EXIT_RUNTIME;
            goto report;
        }
    }
    if (o.json) {
        cJSON *doc = cJSON_CreateObject();
        bool ok = doc && cJSON_AddStringToObject(doc, "schema", "lore-bench-history/1") &&
                  cJSON_AddStringToObject(doc, "history", path) &&
                  cJSON_AddStringToObject(doc, "scenario", name) &&
                  cJSON_AddStringToObject(doc, "metric", s[0].metric);
        cJSON *method = ok ? cJSON_AddObjectToObject(doc, "change_point_method") : NULL;
        ok = method &&
             cJSON_AddStringToObject(method, "name",
                                     "binary segmentation (linear, then circular), Mann-Whitney "
                                     "max-|z| permutation test") &&
             cJSON_AddNumberToObject(method, "min_segment", (double)o.cp.min_segment) &&
             cJSON_AddNumberToObject(method, "min_effect", o.cp.min_effect) &&
             cJSON_AddNumberToObject(method, "alpha", o.cp.alpha) &&
             cJSON_AddNumberToObject(method, "n_perm", o.cp.n_perm);
        cJSON *arr = ok ? cJSON_AddArrayToObject(doc, "series") : NULL;
        ok = arr != NULL;
        for (size_t j = 0; j < n && ok; j++) {
            cJSON *sj = series_json(&s[j], &c[j]);
            ok = sj != NULL;
            cJSON_AddItemToArray(arr, sj);
        }
        char *text = ok ? cJSON_Print(doc) : NULL;
        cJSON_Delete(doc);
        if (!text) {
            bench_err_set(&e, "out of memory writing JSON");
            rc = BENCH_EXIT_RUNTIME;
            goto report;
        }
        puts(text);
        free(text);
    } else {
        printf("%s: %s (%s, %s is better), %zu series, from %s\n", name, s[0].metric, s[0].unit,
               better_text(s[0].better), n, path);
        for (size_t j = 0; j < n; j++)
            print_series_text(&s[j], &c[j], &o.cp);
    }
    if (o.plot) {
        bool missing = false;
        if (plot_history(o.plot, name, s, c, n, &missing, &e) != 0) {
            rc = BENCH_EXIT_RUNTIME;
            goto report;
        }
        if (missing)
            fprintf(stderr,
                    "lore-bench history: gnuplot is not installed: no plot drawn (the table "
                    "above has the numbers; the gnuplot script and data are kept beside %s)\n",
                    o.plot);
        else
            fprintf(stderr, "lore-bench history: plot written to %s\n", o.plot);
        if (n > MAX_PLOT_SERIES)
            fprintf(stderr,
                    "lore-bench history: the plot shows the first %d of %zu series; narrow "
                    "them with --point KEY=VALUE\n",
                    MAX_PLOT_SERIES, n);
    }
    rc = BENCH_EXIT_OK;
    goto done;

report:
    fprintf(stderr, "lore-bench history: %s\n", e.msg);
done:
    if (c)
        for (size_t j = 0; j < n; j++)
            free(c[j].cp);
    free(c);
    bench_history_series_free(s, n);
    free(o.points);
    return rc;
}
