/*
 * ab.c - `lore-bench ab`: interleaved runs of two builds and their paired
 * statistics (ab.h has the schedule, the statistic and the verdict rules).
 *
 * The point list comes from this lore-bench's own parse of the scenario (with
 * --set and --filter); each child gets --filter id=<point id>, so a build
 * whose sweep differs fails loudly ("no point matches") instead of measuring
 * another point. A child's median is read from its result.json
 * (points[0].latency_ns.p50); a child that fails leaves that round of that
 * point unpaired, and its log under runs/ says why.
 */
#include "ab.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "results.h"
#include "scenario.h"
#include "sweep.h"
#include "util.h"

#define AB_DEFAULT_ROUNDS 10
#define AB_MAX_ROUNDS 10000
/* Above this many pairs the signed-rank distribution is approximated (the
 * exact one costs O(n^3)). */
#define AB_WILCOXON_EXACT_MAX 200
#define AB_SCHEMA "lore-bench-ab/1"

const char *bench_ab_verdict_name(bench_ab_verdict v)
{
    static const char *const names[] = {"same", "faster", "slower", "inconclusive"};
    return (unsigned)v < 4 ? names[v] : "?";
}

bench_ab_opts bench_ab_default_opts(void)
{
    return (bench_ab_opts){.min_effect = 0.02, .confidence = 0.95, .alpha = 0.05};
}

bool bench_ab_old_first(size_t round)
{
    return round % 2 == 0;
}

/* ---- Student's t ------------------------------------------------------------ */

/* Continued fraction of the incomplete beta function (modified Lentz). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 300; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1.0 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1.0 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-15)
            break;
    }
    return h;
}

/* Regularised incomplete beta I_x(a, b). */
static double beta_inc(double a, double b, double x)
{
    if (x <= 0.0)
        return 0.0;
    if (x >= 1.0)
        return 1.0;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0))
        return exp(lbt) * beta_cf(a, b, x) / a;
    return 1.0 - exp(lbt) * beta_cf(b, a, 1.0 - x) / b;
}

/* P(T <= t) for Student's t with df degrees of freedom. */
static double t_cdf(double t, double df)
{
    double tail = 0.5 * beta_inc(df / 2.0, 0.5, df / (df + t * t));
    return t >= 0 ? 1.0 - tail : tail;
}

double bench_ab_t_quantile(double p, double df)
{
    if (!(p > 0.0 && p < 1.0) || !(df > 0.0))
        return NAN;
    if (p == 0.5)
        return 0.0;
    if (p < 0.5)
        return -bench_ab_t_quantile(1.0 - p, df);
    /* Bisection on the monotone cdf: 200 halvings of [0, 1e8] reach double precision. */
    double lo = 0.0, hi = 1e8;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (t_cdf(mid, df) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* ---- rank tests ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct abs_item {
    double abs;
    bool positive;
} abs_item;

static int cmp_abs(const void *a, const void *b)
{
    return cmp_double(&((const abs_item *)a)->abs, &((const abs_item *)b)->abs);
}

/* P(X <= k) for X ~ Binomial(n, 1/2). */
static double binom_half_cdf(size_t k, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i <= k && i <= n; i++)
        sum += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) - n * log(2.0));
    return sum;
}

double bench_ab_sign_p(const double *d, size_t n)
{
    size_t pos = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(d[i]) || d[i] == 0.0)
            continue;
        m++;
        pos += d[i] > 0;
    }
    if (n == 0)
        return NAN;
    if (m == 0)
        return 1.0;
    size_t low = pos < m - pos ? pos : m - pos;
    double p = 2.0 * binom_half_cdf(low, m);
    return p < 1.0 ? p : 1.0;
}

double bench_ab_wilcoxon_p(const double *d, size_t n)
{
    if (n == 0)
        return NAN;
    abs_item *it = malloc(n * sizeof *it);
    if (!it)
        return NAN;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(d[i]) && d[i] != 0.0)
            it[m++] = (abs_item){fabs(d[i]), d[i] > 0};
    if (m == 0) {
        free(it);
        return 1.0;
    }
    qsort(it, m, sizeof *it, cmp_abs);
    /* Doubled average ranks are integers: a tie group over ranks i+1..j gets i+j+1. */
    size_t *rank2 = malloc(m * sizeof *rank2);
    if (!rank2) {
        free(it);
        return NAN;
    }
    size_t w2 = 0;         /* doubled W+ */
    double tie_term = 0.0; /* sum of t^3 - t over tie groups, for the normal approximation */
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j + 1 < m && it[j + 1].abs == it[i].abs)
            j++;
        for (size_t k = i; k <= j; k++) {
            rank2[k] = i + j + 2;
            if (it[k].positive)
                w2 += rank2[k];
        }
        double t = (double)(j - i + 1);
        tie_term += t * t * t - t;
        i = j + 1;
    }
    double p;
    size_t total2 = m * (m + 1); /* the doubled ranks sum to m(m+1) */
    if (m <= AB_WILCOXON_EXACT_MAX) {
        /* Exact null distribution: each rank is + or - with probability 1/2,
         * counted over the doubled-rank sums 0..total2. */
        double *dist = calloc(total2 + 1, sizeof *dist);
        if (!dist) {
            free(rank2);
            free(it);
            return NAN;
        }
        dist[0] = 1.0;
        size_t reach = 0;
        for (size_t k = 0; k < m; k++) {
            for (size_t s = reach + 1; s-- > 0;)
                if (dist[s] != 0.0)
                    dist[s + rank2[k]] += dist[s];
            reach += rank2[k];
            for (size_t s = 0; s <= reach; s++)
                dist[s] *= 0.5;
        }
        /* Symmetric about total2 / 2: the two-sided p doubles the smaller tail. */
        size_t lower = w2 * 2 <= total2 ? w2 : total2 - w2;
        double tail = 0.0;
        for (size_t s = 0; s <= lower; s++)
            tail += dist[s];
        free(dist);
        p = 2.0 * tail;
    } else {
        double mean = m * (m + 1) / 4.0;
        double var = m * (m + 1) * (2.0 * m + 1) / 24.0 - tie_term / 48.0;
        double z = (fabs(w2 / 2.0 - mean) - 0.5) / sqrt(var);
        p = var > 0 ? erfc((z > 0 ? z : 0) / sqrt(2.0)) : 1.0;
    }
    free(rank2);
    free(it);
    return p < 1.0 ? p : 1.0;
}

/* ---- the statistic and the verdict --------------------------------------------------- */

int bench_ab_stats_compute(const double *ratios, size_t n, const bench_ab_opts *o,
                           bench_ab_stats *out)
{
    memset(out, 0, sizeof *out);
    out->median = out->ci_lo = out->ci_hi = out->p_wilcoxon = out->p_sign = NAN;
    out->verdict = BENCH_AB_INCONCLUSIVE;
    double *lr = malloc((n ? n : 1) * sizeof *lr);
    if (!lr)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(ratios[i]))
            continue;
        if (!(ratios[i] > 0.0) || isinf(ratios[i])) {
            free(lr);
            return -1;
        }
        lr[m++] = log(ratios[i]);
    }
    out->n = m;
    const double me = o->min_effect;
    if (m == 0) {
        snprintf(out->reason, sizeof out->reason, "no paired rounds");
        free(lr);
        return 0;
    }
    /* The estimate is the median ratio and its interval the distribution-free
     * one of the sign test (order statistics k+1 and m-k of the sorted log
     * ratios): a process that lands in a slow state (on shared VMs one run in
     * five or ten is 30-50% slower as a whole) moves one ratio far, which a
     * mean and a t-interval follow and a median does not. */
    qsort(lr, m, sizeof *lr, cmp_double);
    out->median = exp(m % 2 ? lr[m / 2] : (lr[m / 2 - 1] + lr[m / 2]) / 2.0);
    out->p_wilcoxon = bench_ab_wilcoxon_p(lr, m);
    out->p_sign = bench_ab_sign_p(lr, m);
    const double tail = (1.0 - o->confidence) / 2.0;
    size_t k = 0;
    bool have_ci = false;
    while (k < m / 2 && binom_half_cdf(k, m) <= tail) {
        have_ci = true;
        k++;
    }
    if (!have_ci) {
        snprintf(out->reason, sizeof out->reason,
                 "%zu paired rounds: too few for a %.0f%% distribution-free interval", m,
                 o->confidence * 100);
        free(lr);
        return 0;
    }
    /* binom_half_cdf(k - 1) <= tail: the interval runs from order statistic k to m-k+1. */
    out->ci_lo = exp(lr[k - 1]);
    out->ci_hi = exp(lr[m - k]);
    free(lr);

    const double lo_pct = (out->ci_lo - 1) * 100, hi_pct = (out->ci_hi - 1) * 100;
    const bool significant = out->p_sign < o->alpha;
    if (out->ci_lo > 1.0 + me && significant) {
        out->verdict = BENCH_AB_SLOWER;
        snprintf(out->reason, sizeof out->reason,
                 "CI [%+.2f%%, %+.2f%%] entirely above +%.1f%%, sign test p=%.3g", lo_pct, hi_pct,
                 me * 100, out->p_sign);
    } else if (out->ci_hi < 1.0 - me && significant) {
        out->verdict = BENCH_AB_FASTER;
        snprintf(out->reason, sizeof out->reason,
                 "CI [%+.2f%%, %+.2f%%] entirely below -%.1f%%, sign test p=%.3g", lo_pct, hi_pct,
                 me * 100, out->p_sign);
    } else if (out->ci_lo >= 1.0 - me && out->ci_hi <= 1.0 + me) {
        out->verdict = BENCH_AB_SAME;
        snprintf(out->reason, sizeof out->reason, "CI [%+.2f%%, %+.2f%%] within +-%.1f%%", lo_pct,
                 hi_pct, me * 100);
    } else if (out->ci_lo > 1.0 + me || out->ci_hi < 1.0 - me) {
        snprintf(out->reason, sizeof out->reason,
                 "CI [%+.2f%%, %+.2f%%] past +-%.1f%% but sign test p=%.3g >= %.3g (more rounds)",
                 lo_pct, hi_pct, me * 100, out->p_sign, o->alpha);
    } else {
        snprintf(out->reason, sizeof out->reason,
                 "CI [%+.2f%%, %+.2f%%] straddles +-%.1f%% (more rounds, or a quieter machine)",
                 lo_pct, hi_pct, me * 100);
    }
    return 0;
}

/* ---- the command ------------------------------------------------------------------------ */

static volatile sig_atomic_t ab_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    ab_stop = 1;
}

typedef struct ab_args {
    const char *bin[2]; /* 0: old, 1: new */
    const char *scenario;
    const char **sets;
    size_t n_sets;
    const char **filters;
    size_t n_filters;
    const char *output;
    long rounds;
    double fail_on_slowdown; /* < 0: off */
    bool quiet;
    bench_ab_opts opts;
} ab_args;

static int ab_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "lore-bench ab: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(usage: lore-bench ab OLD_BIN NEW_BIN SCENARIO [--rounds N] [--set K=V] "
                    "[--filter K=V] [-o DIR] [--min-effect X] [--confidence C] "
                    "[--fail-on-slowdown X]; see lore-bench help)\n");
    return BENCH_EXIT_USAGE;
}

/* Parses a number in [lo, hi] from text; returns 0 or -1. */
static int parse_number(const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int parse_ab_args(int argc, char **argv, ab_args *a)
{
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    a->filters = calloc((size_t)argc, sizeof *a->filters);
    if (!a->sets || !a->filters) {
        fprintf(stderr, "lore-bench ab: out of memory\n");
        return BENCH_EXIT_RUNTIME;
    }
    a->rounds = AB_DEFAULT_ROUNDS;
    a->fail_on_slowdown = -1.0;
    a->opts = bench_ab_default_opts();
    size_t n_pos = 0;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x;
        if (strcmp(s, "--rounds") == 0) {
            if (!v || parse_number(v, 1, AB_MAX_ROUNDS, &x) != 0 || x != floor(x))
                return ab_usage("--rounds '%s': expected an integer in [1, 10000]", v ? v : "");
            a->rounds = (long)x;
            i++;
        } else if (strcmp(s, "--set") == 0 || strcmp(s, "--filter") == 0) {
            if (!v)
                return ab_usage("%s needs KEY=VALUE", s);
            if (s[2] == 's')
                a->sets[a->n_sets++] = v;
            else
                a->filters[a->n_filters++] = v;
            i++;
        } else if (strcmp(s, "-o") == 0 || strcmp(s, "--output") == 0) {
            if (!v)
                return ab_usage("%s needs a folder", s);
            a->output = v;
            i++;
        } else if (strcmp(s, "--min-effect") == 0) {
            if (!v || parse_number(v, 0, 1, &a->opts.min_effect) != 0)
                return ab_usage("--min-effect '%s': expected a fraction in [0, 1] (0.02 = 2%%)",
                                v ? v : "");
            i++;
        } else if (strcmp(s, "--confidence") == 0) {
            if (!v || parse_number(v, 0.5, 0.9999, &a->opts.confidence) != 0)
                return ab_usage("--confidence '%s': expected a level in [0.5, 0.9999]", v ? v : "");
            i++;
        } else if (strcmp(s, "--fail-on-slowdown") == 0) {
            if (!v || parse_number(v, 0, 100, &a->fail_on_slowdown) != 0)
                return ab_usage("--fail-on-slowdown '%s': expected a fraction >= 0 (0.05 = 5%%)",
                                v ? v : "");
            i++;
        } else if (strcmp(s, "-q") == 0 || strcmp(s, "--quiet") == 0) {
            a->quiet = true;
        } else if (s[0] == '-' && s[1]) {
            return ab_usage("unknown option '%s'", s);
        } else if (n_pos < 3) {
            if (n_pos < 2)
                a->bin[n_pos] = s;
            else
                a->scenario = s;
            n_pos++;
        } else {
            return ab_usage("extra argument '%s'", s);
        }
    }
    if (n_pos < 3)
        return ab_usage("%s", "needs OLD_BIN, NEW_BIN and SCENARIO");
    for (int k = 0; k < 2; k++) {
        struct stat st;
        if (stat(a->bin[k], &st) != 0 || !S_ISREG(st.st_mode) || access(a->bin[k], X_OK) != 0) {
            fprintf(stderr, "lore-bench ab: %s '%s' is not an executable file%s%s\n",
                    k ? "NEW_BIN" : "OLD_BIN", a->bin[k], errno ? ": " : "",
                    errno ? strerror(errno) : "");
            return BENCH_EXIT_USAGE;
        }
    }
    return BENCH_EXIT_OK;
}

/* One point's measurements: p50[side][round], NAN where the invocation failed. */
typedef struct ab_point {
    const char *id;
    size_t index;
    double *p50[2];
    int n_failed[2];
    char last_error[2][256];
    double *ratios;
    bench_ab_stats st;
} ab_point;

/* The tail of a log file's last non-empty line, for messages. */
static void log_tail(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    char *text = bench_read_file(path, NULL, NULL);
    if (!text)
        return;
    size_t len = strlen(text);
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    const char *line = strrchr(text, '\n');
    snprintf(buf, size, "%s", line ? line + 1 : text);
    free(text);
}

/*
 * Runs bin on one point into dir/runs/<tag>, returns its median latency in ns
 * (NAN on failure, with err set), and sets *interrupted when it was stopped.
 */
static double run_child(const ab_args *a, const char *bin, const char *out_root, const char *tag,
                        const char *point_id, bool *interrupted, char *err, size_t err_size)
{
    char dir[4096], log_path[4200], id_filter[1024];
    snprintf(dir, sizeof dir, "%s/runs/%s", out_root, tag);
    snprintf(log_path, sizeof log_path, "%s/runs/%s.log", out_root, tag);
    snprintf(id_filter, sizeof id_filter, "id=%s", point_id);
    size_t max_args = 12 + 2 * (a->n_sets + a->n_filters);
    const char **args = calloc(max_args, sizeof *args);
    if (!args) {
        snprintf(err, err_size, "out of memory");
        return NAN;
    }
    size_t n = 0;
    args[n++] = bin;
    args[n++] = "run";
    args[n++] = a->scenario;
    for (size_t i = 0; i < a->n_sets; i++) {
        args[n++] = "--set";
        args[n++] = a->sets[i];
    }
    for (size_t i = 0; i < a->n_filters; i++) {
        args[n++] = "--filter";
        args[n++] = a->filters[i];
    }
    args[n++] = "--filter";
    args[n++] = id_filter;
    args[n++] = "-q";
    args[n++] = "-o";
    args[n++] = dir;
    args[n] = NULL;

    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        /* Measurements only: no history rows, no gate verdicts (history.h, gates.h). */
        setenv("LORE_BENCH_NO_HISTORY", "1", 1);
        setenv("LORE_BENCH_NO_GATES", "1", 1);
        execv(bin, (char *const *)args);
        fprintf(stderr, "cannot run %s: %s\n", bin, strerror(errno));
        _exit(BENCH_EXIT_RUNTIME);
    }
    free(args);
    if (pid < 0) {
        snprintf(err, err_size, "cannot start %s: %s", bin, strerror(errno));
        return NAN;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code == BENCH_EXIT_INTERRUPTED || (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT)) {
        *interrupted = true;
        snprintf(err, err_size, "interrupted");
        return NAN;
    }
    if (code != BENCH_EXIT_OK && code != BENCH_EXIT_GATE) {
        char tail[200];
        log_tail(log_path, tail, sizeof tail);
        snprintf(err, err_size, "exit %d: %.200s (log %.250s)", code, tail, log_path);
        return NAN;
    }
    char result_path[4200];
    snprintf(result_path, sizeof result_path, "%s/result.json", dir);
    cJSON *doc = NULL;
    bench_err e = {{0}};
    if (bench_results_read(result_path, &doc, &e) != 0) {
        snprintf(err, err_size, "%.500s", e.msg);
        return NAN;
    }
    const cJSON *pt = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "points"), 0);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(pt, "id");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(pt, "status");
    const cJSON *p50 =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pt, "latency_ns"), "p50");
    double v = NAN;
    if (!cJSON_IsString(id) || strcmp(id->valuestring, point_id) != 0)
        snprintf(err, err_size, "%.250s: $.points[0].id is not '%.200s'", result_path, point_id);
    else if (!cJSON_IsString(st) || strcmp(st->valuestring, "ok") != 0)
        snprintf(err, err_size, "%.250s: point failed: %.200s", result_path,
                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pt, "error"))
                     ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pt, "error"))
                     : "(no message)");
    else if (!cJSON_IsNumber(p50) || !(p50->valuedouble > 0))
        snprintf(err, err_size, "%.250s: $.points[0].latency_ns.p50 missing or not > 0",
                 result_path);
    else
        v = p50->valuedouble;
    cJSON_Delete(doc);
    return v;
}

static void format_ns(double ns, char *buf, size_t size)
{
    if (isnan(ns))
        snprintf(buf, size, "-");
    else if (ns < 1e3)
        snprintf(buf, size, "%.0f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, size, "%.2f us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, size, "%.3f ms", ns / 1e6);
    else
        snprintf(buf, size, "%.3f s", ns / 1e9);
}

/* Median of the non-NAN values of x[0..n-1]; NAN when none. */
static double median_of(const double *x, size_t n)
{
    double *c = malloc((n ? n : 1) * sizeof *c);
    if (!c)
        return NAN;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]))
            c[m++] = x[i];
    double v = NAN;
    if (m) {
        qsort(c, m, sizeof *c, cmp_double);
        v = m % 2 ? c[m / 2] : 0.5 * (c[m / 2 - 1] + c[m / 2]);
    }
    free(c);
    return v;
}

static void pct(double ratio, char *buf, size_t size)
{
    if (isnan(ratio))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%+.2f%%", (ratio - 1.0) * 100.0);
}

static bool fails_gate(const ab_args *a, const ab_point *p)
{
    return a->fail_on_slowdown >= 0 && p->st.n >= 2 && p->st.ci_lo > 1.0 + a->fail_on_slowdown;
}

static void print_table(FILE *f, const ab_args *a, const ab_point *pts, size_t n_pts, bool md)
{
    const char *hdr[] = {"point",   "pairs", "old p50",      "new p50",
                         "new/old", "CI",    "p (Wilcoxon)", "verdict"};
    char cl[16];
    snprintf(cl, sizeof cl, "%.0f%% CI", a->opts.confidence * 100);
    hdr[5] = cl;
    size_t idw = 5;
    for (size_t i = 0; i < n_pts; i++)
        idw = strlen(pts[i].id) > idw ? strlen(pts[i].id) : idw;
    if (md) {
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | reason |\n", hdr[0], hdr[1], hdr[2],
                hdr[3], hdr[4], hdr[5], hdr[6], hdr[7]);
        fprintf(f, "|---|---:|---:|---:|---:|---|---:|---|---|\n");
    } else {
        fprintf(f, "%-*s  %5s  %11s  %11s  %8s  %-20s  %12s  %s\n", (int)idw, hdr[0], hdr[1],
                hdr[2], hdr[3], hdr[4], hdr[5], hdr[6], hdr[7]);
    }
    for (size_t i = 0; i < n_pts; i++) {
        const ab_point *p = &pts[i];
        char mo[32], mn[32], g[32], lo[32], hi[32], ci[80], pw[32];
        format_ns(median_of(p->p50[0], (size_t)a->rounds), mo, sizeof mo);
        format_ns(median_of(p->p50[1], (size_t)a->rounds), mn, sizeof mn);
        pct(p->st.median, g, sizeof g);
        pct(p->st.ci_lo, lo, sizeof lo);
        pct(p->st.ci_hi, hi, sizeof hi);
        if (isnan(p->st.ci_lo))
            snprintf(ci, sizeof ci, "-");
        else
            snprintf(ci, sizeof ci, "[%s, %s]", lo, hi);
        if (isnan(p->st.p_wilcoxon))
            snprintf(pw, sizeof pw, "-");
        else
            snprintf(pw, sizeof pw, "%.3g", p->st.p_wilcoxon);
        const char *verdict = bench_ab_verdict_name(p->st.verdict);
        if (md)
            fprintf(f, "| `%s` | %zu | %s | %s | %s | %s | %s | **%s**%s | %s |\n", p->id, p->st.n,
                    mo, mn, g, ci, pw, verdict, fails_gate(a, p) ? " (gate failed)" : "",
                    p->st.reason);
        else
            fprintf(f, "%-*s  %5zu  %11s  %11s  %8s  %-20s  %12s  %s%s\n", (int)idw, p->id, p->st.n,
                    mo, mn, g, ci, pw, verdict, fails_gate(a, p) ? "  GATE FAILED" : "");
    }
}

static cJSON *number_or_null(double v)
{
    return isnan(v) || isinf(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

static cJSON *ab_json(const ab_args *a, const ab_point *pts, size_t n_pts, size_t rounds_done,
                      bool interrupted, const char *started, const char *finished)
{
    cJSON *doc = cJSON_CreateObject();
    if (!doc)
        return NULL;
    bool ok =
        cJSON_AddStringToObject(doc, "schema", AB_SCHEMA) &&
        cJSON_AddStringToObject(doc, "old_bin", a->bin[0]) &&
        cJSON_AddStringToObject(doc, "new_bin", a->bin[1]) &&
        cJSON_AddStringToObject(doc, "scenario", a->scenario) &&
        cJSON_AddNumberToObject(doc, "rounds", (double)a->rounds) &&
        cJSON_AddNumberToObject(doc, "rounds_done", (double)rounds_done) &&
        cJSON_AddBoolToObject(doc, "complete", !interrupted) &&
        cJSON_AddStringToObject(doc, "started_at", started) &&
        cJSON_AddStringToObject(doc, "finished_at", finished) &&
        cJSON_AddStringToObject(
            doc, "order",
            "rounds outer, points inner; one point per invocation; old first in even "
            "rounds, new first in odd rounds (A B | B A | A B ...)") &&
        cJSON_AddStringToObject(
            doc, "statistic",
            "per round: ratio = new p50 / old p50 of operation latency; the median ratio "
            "with the sign test's distribution-free interval; exact sign and Wilcoxon signed-rank "
            "tests on log ratios") &&
        cJSON_AddNumberToObject(doc, "min_effect", a->opts.min_effect) &&
        cJSON_AddNumberToObject(doc, "confidence", a->opts.confidence) &&
        cJSON_AddNumberToObject(doc, "alpha", a->opts.alpha);
    cJSON *sets = ok ? cJSON_AddArrayToObject(doc, "set") : NULL;
    cJSON *filters = sets ? cJSON_AddArrayToObject(doc, "filter") : NULL;
    ok = ok && filters;
    for (size_t i = 0; ok && i < a->n_sets; i++)
        ok = cJSON_AddItemToArray(sets, cJSON_CreateString(a->sets[i]));
    for (size_t i = 0; ok && i < a->n_filters; i++)
        ok = cJSON_AddItemToArray(filters, cJSON_CreateString(a->filters[i]));
    ok = ok &&
         cJSON_AddItemToObject(doc, "fail_on_slowdown",
                               a->fail_on_slowdown >= 0 ? cJSON_CreateNumber(a->fail_on_slowdown)
                                                        : cJSON_CreateNull());
    cJSON *arr = ok ? cJSON_AddArrayToObject(doc, "points") : NULL;
    ok = ok && arr;
    for (size_t i = 0; ok && i < n_pts; i++) {
        const ab_point *p = &pts[i];
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(arr, o);
        ok = ok && cJSON_AddStringToObject(o, "id", p->id) &&
             cJSON_AddNumberToObject(o, "index", (double)p->index) &&
             cJSON_AddNumberToObject(o, "pairs", (double)p->st.n) &&
             cJSON_AddItemToObject(o, "median_ratio", number_or_null(p->st.median)) &&
             cJSON_AddItemToObject(o, "ci_lo", number_or_null(p->st.ci_lo)) &&
             cJSON_AddItemToObject(o, "ci_hi", number_or_null(p->st.ci_hi)) &&
             cJSON_AddItemToObject(o, "p_wilcoxon", number_or_null(p->st.p_wilcoxon)) &&
             cJSON_AddItemToObject(o, "p_sign", number_or_null(p->st.p_sign)) &&
             cJSON_AddStringToObject(o, "verdict", bench_ab_verdict_name(p->st.verdict)) &&
             cJSON_AddStringToObject(o, "reason", p->st.reason) &&
             cJSON_AddBoolToObject(o, "gate_failed", fails_gate(a, p)) &&
             cJSON_AddNumberToObject(o, "old_failures", p->n_failed[0]) &&
             cJSON_AddNumberToObject(o, "new_failures", p->n_failed[1]);
        cJSON *rounds = ok ? cJSON_AddArrayToObject(o, "rounds") : NULL;
        ok = ok && rounds;
        for (size_t r = 0; ok && r < rounds_done; r++) {
            cJSON *ro = cJSON_CreateObject();
            ok = ro && cJSON_AddItemToArray(rounds, ro) &&
                 cJSON_AddNumberToObject(ro, "round", (double)r) &&
                 cJSON_AddStringToObject(ro, "first", bench_ab_old_first(r) ? "old" : "new") &&
                 cJSON_AddItemToObject(ro, "old_p50_ns", number_or_null(p->p50[0][r])) &&
                 cJSON_AddItemToObject(ro, "new_p50_ns", number_or_null(p->p50[1][r])) &&
                 cJSON_AddItemToObject(ro, "ratio", number_or_null(p->ratios[r]));
        }
    }
    if (!ok) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

static void iso_now(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_outputs(const char *dir, const ab_args *a, const ab_point *pts, size_t n_pts,
                         size_t rounds_done, bool interrupted, const char *started)
{
    char finished[40];
    iso_now(finished, sizeof finished);
    cJSON *doc = ab_json(a, pts, n_pts, rounds_done, interrupted, started, finished);
    char *text = doc ? cJSON_Print(doc) : NULL;
    cJSON_Delete(doc);
    char *md = NULL;
    size_t md_len = 0;
    FILE *mf = open_memstream(&md, &md_len);
    if (!text || !mf) {
        free(text);
        if (mf)
            fclose(mf);
        free(md);
        fprintf(stderr, "lore-bench ab: out of memory writing the report\n");
        return -1;
    }
    fprintf(mf,
            "# A/B: %s\n\n- old: `%s`\n- new: `%s`\n- rounds: %zu of %ld%s, one point per "
            "invocation, ABBA order\n- ratio: new/old median latency per round; the median "
            "ratio with the sign test's %.0f%% distribution-free interval and exact sign-test p; "
            "minimum effect %.1f%%\n\n",
            a->scenario, a->bin[0], a->bin[1], rounds_done, a->rounds,
            interrupted ? " (interrupted)" : "", a->opts.confidence * 100,
            a->opts.min_effect * 100);
    print_table(mf, a, pts, n_pts, true);
    fclose(mf);
    char path[4200];
    bench_err e = {{0}};
    int rc = 0;
    snprintf(path, sizeof path, "%s/ab.json", dir);
    size_t len = strlen(text);
    text[len] = '\n'; /* overwrite the NUL: the file ends with a newline */
    if (bench_write_file_atomic(path, text, len + 1, &e) != 0) {
        fprintf(stderr, "lore-bench ab: %s\n", e.msg);
        rc = -1;
    }
    snprintf(path, sizeof path, "%s/ab.md", dir);
    if (rc == 0 && bench_write_file_atomic(path, md, md_len, &e) != 0) {
        fprintf(stderr, "lore-bench ab: %s\n", e.msg);
        rc = -1;
    }
    free(text);
    free(md);
    return rc;
}

int bench_ab_main(int argc, char **argv)
{
    ab_args a = {0};
    bench_scenario *s = NULL;
    bench_grid *g = NULL;
    ab_point *pts = NULL;
    bench_err e = {{0}};
    int rc = parse_ab_args(argc, argv, &a);
    if (rc != BENCH_EXIT_OK)
        goto done;
    if (bench_scenario_load(a.scenario, &s, &e) != 0)
        goto usage;
    for (size_t i = 0; i < a.n_sets; i++)
        if (bench_scenario_apply_set(s, a.sets[i], &e) != 0)
            goto usage;
    if (bench_sweep_expand(s, &g, &e) != 0 || bench_sweep_filter(g, a.filters, a.n_filters, &e))
        goto usage;

    char default_dir[256];
    if (!a.output) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(default_dir, sizeof default_dir, "results/ab-%s-%s-%ld", stamp, s->name,
                 (long)getpid());
        a.output = default_dir;
    }
    char runs[4200];
    snprintf(runs, sizeof runs, "%s/runs", a.output);
    if (bench_mkdir_p(runs, &e) != 0) {
        fprintf(stderr, "lore-bench ab: output folder %s\n", e.msg);
        rc = BENCH_EXIT_USAGE;
        goto done;
    }

    const size_t n_pts = g->n_points, rounds = (size_t)a.rounds;
    pts = calloc(n_pts, sizeof *pts);
    if (!pts)
        goto oom;
    for (size_t i = 0; i < n_pts; i++) {
        pts[i].id = g->points[i].id;
        pts[i].index = g->points[i].index;
        pts[i].p50[0] = malloc(rounds * sizeof(double));
        pts[i].p50[1] = malloc(rounds * sizeof(double));
        pts[i].ratios = malloc(rounds * sizeof(double));
        if (!pts[i].p50[0] || !pts[i].p50[1] || !pts[i].ratios)
            goto oom;
        for (size_t r = 0; r < rounds; r++)
            pts[i].p50[0][r] = pts[i].p50[1][r] = pts[i].ratios[r] = NAN;
    }

    char started[40];
    iso_now(started, sizeof started);
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (!a.quiet)
        fprintf(stderr,
                "lore-bench ab: %s, %zu point(s) x %zu round(s) x 2 builds, one point per "
                "invocation, ABBA order; output %s\n",
                s->name, n_pts, rounds, a.output);
    bool interrupted = false;
    size_t rounds_done = 0;
    for (size_t r = 0; r < rounds && !interrupted; r++) {
        for (size_t i = 0; i < n_pts && !interrupted; i++) {
            ab_point *p = &pts[i];
            for (int k = 0; k < 2 && !interrupted; k++) {
                int side = bench_ab_old_first(r) ? k : 1 - k;
                char tag[64], err[512] = "";
                snprintf(tag, sizeof tag, "r%03zu-p%03zu-%s", r, p->index, side ? "new" : "old");
                p->p50[side][r] =
                    run_child(&a, a.bin[side], a.output, tag, p->id, &interrupted, err, sizeof err);
                interrupted |= ab_stop != 0;
                if (isnan(p->p50[side][r]) && !interrupted) {
                    p->n_failed[side]++;
                    snprintf(p->last_error[side], sizeof p->last_error[side], "%.*s",
                             (int)sizeof p->last_error[side] - 1, err);
                    fprintf(stderr, "lore-bench ab: round %zu, %s, %s build: %s\n", r + 1, p->id,
                            side ? "new" : "old", err);
                }
            }
            if (interrupted)
                break;
            p->ratios[r] = p->p50[1][r] / p->p50[0][r];
            if (!a.quiet) {
                char o[32], n[32];
                format_ns(p->p50[0][r], o, sizeof o);
                format_ns(p->p50[1][r], n, sizeof n);
                fprintf(stderr, "[round %zu/%zu] %-40s old %s  new %s  new/old %.4f\n", r + 1,
                        rounds, p->id, o, n, p->ratios[r]);
            }
        }
        if (!interrupted)
            rounds_done = r + 1;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    bool any_gate = false, all_failed = false;
    for (size_t i = 0; i < n_pts; i++) {
        /* A round cut short by the interrupt is left out: its pair is incomplete. */
        if (bench_ab_stats_compute(pts[i].ratios, rounds_done, &a.opts, &pts[i].st) != 0)
            goto oom;
        any_gate |= fails_gate(&a, &pts[i]);
        if (rounds_done &&
            (pts[i].n_failed[0] == (int)rounds_done || pts[i].n_failed[1] == (int)rounds_done)) {
            all_failed = true;
            fprintf(stderr, "lore-bench ab: %s: the %s build failed on every round: %s\n",
                    pts[i].id, pts[i].n_failed[0] == (int)rounds_done ? "old" : "new",
                    pts[i].last_error[pts[i].n_failed[0] == (int)rounds_done ? 0 : 1]);
        }
    }
    print_table(stdout, &a, pts, n_pts, false);
    if (write_outputs(a.output, &a, pts, n_pts, rounds_done, interrupted, started) != 0) {
        rc = BENCH_EXIT_RUNTIME;
        goto done;
    }
    printf("%s/ab.json\n", a.output);
    if (interrupted)
        rc = BENCH_EXIT_INTERRUPTED;
    else if (all_failed)
        rc = BENCH_EXIT_RUNTIME;
    else if (any_gate)
        rc = BENCH_EXIT_GATE;
    else
        rc = BENCH_EXIT_OK;
    if (any_gate)
        fprintf(stderr,
                "lore-bench ab: slower by more than %.1f%% with the whole interval past "
                "it: gate failed\n",
                a.fail_on_slowdown * 100);
    goto done;

oom:
    fprintf(stderr, "lore-bench ab: out of memory\n");
    rc = BENCH_EXIT_RUNTIME;
    goto done;
usage:
    fprintf(stderr, "lore-bench ab: %s\n", e.msg);
    rc = BENCH_EXIT_USAGE;
done:
    if (pts)
        for (size_t i = 0; g && i < g->n_points; i++) {
            free(pts[i].p50[0]);
            free(pts[i].p50[1]);
            free(pts[i].ratios);
        }
    free(pts);
    bench_grid_free(g);
    bench_scenario_free(s);
    free(a.sets);
    free(a.filters);
    return rc;
}
