/*
 * ab.h - `lore-bench ab OLD_BIN NEW_BIN SCENARIO`: two builds of lore-bench
 * measured interleaved on one machine, compared by paired ratios. The way to
 * compare two commits when no baseline from this machine exists.
 *
 * Schedule. Each invocation is `BIN run SCENARIO --filter id=<point> -q -o ...`
 * (plus the user's --set and --filter): one point at a time, so the two
 * measurements of a pair are seconds apart rather than a whole scenario apart,
 * and a machine whose speed drifts (other jobs, thermal state) moves both
 * sides of a pair alike. Rounds are the outer loop and points the inner one,
 * so a disturbance lasting a minute spreads over many points instead of
 * eating every round of one. Within a point the order alternates by round:
 * old first in even rounds, new first in odd ones, i.e. A B | B A | A B | B A
 * ..., which cancels a linear drift and any first-runner advantage (a warm
 * page cache, a CPU still at low clock) over each two rounds.
 *
 * Statistic. For each point and round r: ratio_r = p50_new / p50_old, the
 * ratio of the two invocations' median operation latency (> 1: the new build
 * is slower). Over the rounds where both sides measured:
 *   - the median of the ratios, with the sign test's distribution-free
 *     interval (order statistics k+1 and n-k of the sorted ratios, k the
 *     largest count with 2 P(Bin(n, 1/2) <= k) <= 1 - conf; at 95%: 6 rounds
 *     give the range, 12 drop the two lowest and highest). A mean with a
 *     t-interval was tried first: on shared VMs a process lands now and then
 *     in a state 30-50% slower as a whole, one such round swung the mean by
 *     5-10% and the interval to +-30%, and a real 10% slowdown came out
 *     inconclusive 4 times in 10; the median ignores such rounds;
 *   - the exact two-sided sign test and Wilcoxon signed-rank p-values of the
 *     log ratios against 0 (Wilcoxon: average ranks for ties, zeros dropped;
 *     the normal approximation above 200 pairs);
 *   - a verdict with a minimum effect m (--min-effect, default 0.02):
 *       slower        the whole CI above 1 + m and sign-test p < alpha (0.05)
 *       faster        the whole CI below 1 - m and sign-test p < alpha
 *       same          the whole CI inside [1 - m, 1 + m]
 *       inconclusive  anything else (the CI straddles 1 +- m, too few pairs
 *                     for the interval (6 at 95%), or a CI past m without
 *                     p < alpha)
 *
 * Output: a table on stdout, ab.json and ab.md in the output folder (default
 * results/ab-<time>), and each invocation's result and log under runs/. Exit
 * codes: 0; 1 with --fail-on-slowdown X when a point's whole CI lies above
 * 1 + X; 2 bad input; 3 when an invocation failed on every round of a point;
 * 130 interrupted (what finished is still summarised and written).
 *
 * The children get LORE_BENCH_NO_HISTORY=1 and LORE_BENCH_NO_GATES=1 in their
 * environment: A/B runs are not a commit's measurements (they stay out of
 * results/history.sqlite) and the verdict here is the paired one, not the
 * scenario's gates.
 */
#ifndef BENCH_AB_H
#define BENCH_AB_H

#include <stdbool.h>
#include <stddef.h>

typedef enum bench_ab_verdict {
    BENCH_AB_SAME = 0,
    BENCH_AB_FASTER = 1,
    BENCH_AB_SLOWER = 2,
    BENCH_AB_INCONCLUSIVE = 3,
} bench_ab_verdict;

const char *bench_ab_verdict_name(bench_ab_verdict v); /* "same", "faster", ... */

typedef struct bench_ab_opts {
    double min_effect; /* default 0.02 */
    double confidence; /* default 0.95 */
    double alpha;      /* default 0.05 */
} bench_ab_opts;

bench_ab_opts bench_ab_default_opts(void);

typedef struct bench_ab_stats {
    size_t n;      /* pairs used */
    double median; /* median of the ratios; NAN when n == 0 */
    double ci_lo,
        ci_hi; /* distribution-free (sign test) interval of the median; NAN when too few rounds */
    double p_wilcoxon; /* two-sided; 1 when every log ratio is 0; NAN when n == 0 */
    double p_sign;     /* two-sided exact sign test, same conventions */
    bench_ab_verdict verdict;
    char reason[192];
} bench_ab_stats;

/*
 * Statistics of n paired ratios (new/old, each > 0; NAN entries are skipped,
 * as unpaired rounds). Returns 0, or -1 when a ratio is <= 0 or infinite, or on OOM.
 */
int bench_ab_stats_compute(const double *ratios, size_t n, const bench_ab_opts *o,
                           bench_ab_stats *out);

/* ABBA: whether the old build runs first in round r (0-based): even rounds. */
bool bench_ab_old_first(size_t round);

/* Quantile p (0 < p < 1) of Student's t with df > 0 degrees of freedom. */
double bench_ab_t_quantile(double p, double df);

/* Two-sided Wilcoxon signed-rank p-value of d[0..n-1] against 0 (see above). */
double bench_ab_wilcoxon_p(const double *d, size_t n);

/* Two-sided exact sign-test p-value of d[0..n-1] against 0 (zeros dropped). */
double bench_ab_sign_p(const double *d, size_t n);

/* `lore-bench ab ...` (argv[1] is "ab"); returns the exit code. */
int bench_ab_main(int argc, char **argv);

#endif
