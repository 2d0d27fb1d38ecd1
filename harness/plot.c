/*
 * plot.c - gnuplot scripts for the report's plot kinds, their files, and a
 * time-limited gnuplot run that renders them to SVG (see plot.h).
 *
 * Readability rules every script follows: a title, axis labels that carry
 * units (the caller writes them), the legend below the plot so it never
 * covers data, tics chosen here (1-2-5 steps, "250k" rather than "2.5e+05")
 * so log axes spanning less than a decade still get labels, a light grid,
 * `noenhanced` text (metric names hold '_'), and a white background (the SVG
 * is shown on its own as well as inside the HTML page).
 *
 * Running gnuplot: fork, the child moves into the report's folder, reads
 * nothing (stdin /dev/null), writes its errors to plots/NAME.log, and execs
 * gnuplot on plots/NAME.gp in a process group of its own; the parent polls
 * waitpid and kills the group when the time limit passes. The log is removed
 * once read.
 */
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_S 30.0
#define POLL_NS 5000000L

/* Qualitative palette (Tableau 10): distinguishable, also in grey print. */
static const char *const PALETTE[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define N_PALETTE (sizeof PALETTE / sizeof PALETTE[0])

/* ---- text ---- */

void bench_plot_buf_add(bench_plot_buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap <= b->len + (size_t)n)
            cap *= 2;
        char *grown = realloc(b->p, cap);
        if (!grown) {
            b->oom = true;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
}

void bench_plot_buf_addn(bench_plot_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (!b->p || b->len + n >= b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->len + n)
            cap *= 2;
        char *grown = realloc(b->p, cap);
        if (!grown) {
            b->oom = true;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void bench_plot_buf_free(bench_plot_buf *b)
{
    free(b->p);
    *b = (bench_plot_buf){0};
}

void bench_plot_quote(bench_plot_buf *b, const char *s)
{
    bench_plot_buf_addn(b, "'", 1);
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '\'')
            bench_plot_buf_addn(b, "''", 2);
        else if ((unsigned char)*p < 0x20 || *p == 0x7f)
            bench_plot_buf_addn(b, " ", 1);
        else
            bench_plot_buf_addn(b, p, 1);
    }
    bench_plot_buf_addn(b, "'", 1);
}

/* A number short and exact enough for a data file (NaN as gnuplot's missing marker). */
static void add_num(bench_plot_buf *b, double v)
{
    if (isfinite(v))
        bench_plot_buf_add(b, "%.9g", v);
    else
        bench_plot_buf_add(b, "NaN");
}

static int cmp_double_asc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Engineering text for a tic: 250000 -> "250k", 2500 -> "2.5k", 0.25 -> "0.25". */
static void eng(double v, char *buf, size_t size)
{
    double a = fabs(v);
    if (a >= 1e9)
        snprintf(buf, size, "%.3gG", v / 1e9);
    else if (a >= 1e6)
        snprintf(buf, size, "%.3gM", v / 1e6);
    else if (a >= 1e4)
        snprintf(buf, size, "%.3gk", v / 1e3);
    else
        snprintf(buf, size, "%.4g", v);
}

/* ---- finding gnuplot ---- */

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Looks name up on PATH; writes the full path into out. */
static bool find_on_path(const char *name, char *out, size_t size)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        return false;
    const char *p = path;
    while (*p) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char full[1024];
        if (n == 0)
            snprintf(full, sizeof full, "./%s", name);
        else
            snprintf(full, sizeof full, "%.*s/%s", (int)n, p, name);
        if (is_executable_file(full)) {
            snprintf(out, size, "%s", full);
            return true;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

void bench_plot_find(bench_plotter *p, const char *exe, double timeout_s)
{
    memset(p, 0, sizeof *p);
    p->timeout_s = timeout_s > 0 ? timeout_s : DEFAULT_TIMEOUT_S;
    const char *from = "";
    if (!exe) {
        exe = getenv(BENCH_PLOT_ENV);
        from = BENCH_PLOT_ENV "=";
    }
    if (!exe) {
        if (find_on_path("gnuplot", p->exe, sizeof p->exe)) {
            p->available = true;
            return;
        }
        snprintf(p->why, sizeof p->why, "gnuplot not found on PATH");
        return;
    }
    if (!*exe || strcmp(exe, "none") == 0) {
        snprintf(p->why, sizeof p->why, "plotting turned off (%s\"%s\")", from, exe);
        return;
    }
    if (strchr(exe, '/')) {
        if (!is_executable_file(exe)) {
            snprintf(p->why, sizeof p->why, "%s%s: not an executable file", from, exe);
            return;
        }
        snprintf(p->exe, sizeof p->exe, "%s", exe);
    } else if (!find_on_path(exe, p->exe, sizeof p->exe)) {
        snprintf(p->why, sizeof p->why, "%s%s: not found on PATH", from, exe);
        return;
    }
    p->available = true;
}

/* ---- common script parts ---- */

static void preamble(bench_plot_buf *gp, const char *name, const char *title, int width, int height)
{
    bench_plot_buf_add(gp, "# ");
    bench_plot_buf_add(gp, "%s", title ? title : name);
    bench_plot_buf_add(gp,
                       "\n# Written by lore-bench report. Re-render from the report's folder:\n"
                       "#     gnuplot plots/%s.gp\n"
                       "# (reads plots/%s.dat, writes plots/%s.svg; for a PNG instead: set\n"
                       "# terminal pngcairo size %d,%d and set output 'plots/%s.png').\n",
                       name, name, name, width, height, name);
    bench_plot_buf_add(gp,
                       "set terminal svg size %d,%d font 'sans,13' background rgb 'white' "
                       "noenhanced\n"
                       "set output 'plots/%s.svg'\n"
                       "set encoding utf8\n"
                       "set datafile missing 'NaN'\n"
                       "set border 3 lc rgb '#444444'\n"
                       "set tics nomirror out scale 0.6\n"
                       "set grid back lc rgb '#dddddd' lw 1 dt 1\n",
                       width, height, name);
    if (title) {
        bench_plot_buf_add(gp, "set title ");
        bench_plot_quote(gp, title);
        bench_plot_buf_add(gp, " font ',15'\n");
    }
}

static void set_label(bench_plot_buf *gp, const char *which, const char *text)
{
    if (!text)
        return;
    bench_plot_buf_add(gp, "set %s ", which);
    bench_plot_quote(gp, text);
    bench_plot_buf_add(gp, "\n");
}

/*
 * Tics for a value axis spanning [lo, hi]: 1-2-5 steps on a log axis (only
 * powers of ten when that gives too many), a 1-2-5 step on a linear one, each
 * labelled in engineering text; also sets the range so the tics are in it.
 */
static void value_tics(bench_plot_buf *gp, const char *axis, double lo, double hi, bool log,
                       double floor_at)
{
    if (!(isfinite(lo) && isfinite(hi)))
        return;
    char txt[32];
    if (log) {
        if (lo <= 0)
            return;
        if (hi <= lo)
            hi = lo * 2;
        double rlo = lo / 1.25, rhi = hi * 1.25;
        static const double steps125[] = {1, 2, 5};
        int k0 = (int)floor(log10(rlo)), k1 = (int)ceil(log10(rhi));
        int n_in = 0;
        for (int k = k0; k <= k1; k++)
            for (int s = 0; s < 3; s++) {
                double t = steps125[s] * pow(10, k);
                n_in += t >= rlo && t <= rhi;
            }
        bool only_decades = n_in > 12;
        bench_plot_buf_add(gp, "set logscale %s 10\nset %srange [%.9g:%.9g]\nset %stics (", axis,
                           axis, rlo, rhi, axis);
        bool first = true;
        for (int k = k0; k <= k1; k++)
            for (int s = 0; s < (only_decades ? 1 : 3); s++) {
                double t = steps125[s] * pow(10, k);
                if (t < rlo || t > rhi)
                    continue;
                eng(t, txt, sizeof txt);
                bench_plot_buf_add(gp, "%s'%s' %.9g", first ? "" : ", ", txt, t);
                first = false;
            }
        bench_plot_buf_add(gp, ")\nset m%stics 10\n", axis);
        return;
    }
    if (isfinite(floor_at) && floor_at < lo)
        lo = floor_at;
    if (hi <= lo)
        hi = lo + (lo != 0 ? fabs(lo) : 1);
    double raw = (hi - lo) / 6;
    double mag = pow(10, floor(log10(raw)));
    double step = mag * (raw / mag < 1.5 ? 1 : raw / mag < 3.5 ? 2 : raw / mag < 7.5 ? 5 : 10);
    double t0 = floor(lo / step) * step, t1 = ceil(hi / step) * step;
    bench_plot_buf_add(gp, "set %srange [%.9g:%.9g]\nset %stics (", axis, t0, t1, axis);
    bool first = true;
    for (double t = t0; t <= t1 + step * 1e-6; t += step) {
        double v = fabs(t) < step * 1e-9 ? 0 : t;
        eng(v, txt, sizeof txt);
        bench_plot_buf_add(gp, "%s'%s' %.9g", first ? "" : ", ", txt, v);
        first = false;
    }
    bench_plot_buf_add(gp, ")\n");
}

/* Categorical tics at 0..n-1, rotated when the labels would not fit side by side. */
static void category_tics(bench_plot_buf *gp, const char *axis, const char *const *labels, size_t n,
                          int width)
{
    size_t longest = 0;
    for (size_t i = 0; i < n; i++)
        if (strlen(labels[i]) > longest)
            longest = strlen(labels[i]);
    double px_per_cat = (double)(width - 160) / (double)(n ? n : 1);
    bool rotate = (double)longest * 8.0 > px_per_cat;
    bench_plot_buf_add(gp, "set %srange [-0.6:%.1f]\nset %stics (", axis, (double)n - 0.4, axis);
    for (size_t i = 0; i < n; i++) {
        if (i)
            bench_plot_buf_add(gp, ", ");
        bench_plot_quote(gp, labels[i]);
        bench_plot_buf_add(gp, " %zu", i);
    }
    if (rotate && n > 12)
        bench_plot_buf_add(gp, ") rotate by 90 right\n");
    else if (rotate)
        bench_plot_buf_add(gp, ") rotate by 30 right\nset lmargin 14\n");
    else
        bench_plot_buf_add(gp, ")\n");
    if (n > 24)
        bench_plot_buf_add(gp, "set %stics font ',10'\n", axis);
    bench_plot_buf_add(gp, "set grid noxtics\n");
}

/* The legend below the plot: never over the data; columns as the width allows. */
static void key_below(bench_plot_buf *gp, bool outside_right)
{
    if (outside_right)
        bench_plot_buf_add(gp, "set key outside right top vertical Left reverse noautotitle "
                               "samplen 3 spacing 1.1\n");
    else
        bench_plot_buf_add(gp, "set key below center horizontal Left reverse samplen 3 "
                               "spacing 1.1 width 1 height 1\n");
}

/* ---- x/y lines ---- */

int bench_plot_xy_script(const bench_plot_xy *p, const char *name, bench_plot_buf *dat,
                         bench_plot_buf *gp)
{
    int width = p->width > 0 ? p->width : 960, height = p->height > 0 ? p->height : 540;
    preamble(gp, name, p->title, width, height);
    set_label(gp, "xlabel", p->xlabel);
    set_label(gp, "ylabel", p->ylabel);

    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    bool *has_data = calloc(p->n_series ? p->n_series : 1, sizeof *has_data);
    if (!has_data)
        return -1;
    bench_plot_buf_add(dat, "# %s\n", p->title ? p->title : name);
    for (size_t s = 0; s < p->n_series; s++) {
        const bench_plot_series *se = &p->series[s];
        bench_plot_buf_add(dat, "%s# index %zu: %s\n# x y\n", s ? "\n\n" : "", s,
                           se->label[0] ? se->label : "(unlabelled)");
        /* A missing value breaks the line: one blank line before the next row (two
         * would start a new index block, and none at the block's end). */
        bool gap = false, any = false;
        for (size_t i = 0; i < se->n; i++) {
            if (!isfinite(se->y[i]) || !isfinite(se->x[i])) {
                gap = any;
                continue;
            }
            if (gap)
                bench_plot_buf_add(dat, "\n");
            gap = false;
            any = true;
            add_num(dat, se->x[i]);
            bench_plot_buf_add(dat, " ");
            add_num(dat, se->y[i]);
            bench_plot_buf_add(dat, "\n");
            if (isfinite(se->x[i]) && isfinite(se->y[i]) && (!p->ylog || se->y[i] > 0) &&
                (!p->xlog || se->x[i] > 0)) {
                xlo = fmin(xlo, se->x[i]);
                xhi = fmax(xhi, se->x[i]);
                ylo = fmin(ylo, se->y[i]);
                yhi = fmax(yhi, se->y[i]);
            }
        }
        if (!any) /* keeps the block (and the index numbers after it); not plotted */
            bench_plot_buf_add(dat, "NaN NaN\n");
        if (has_data)
            has_data[s] = any;
    }

    if (p->xtics) {
        category_tics(gp, "x", p->xtics, p->n_xtics, width);
    } else if (p->xlog && (p->xlog_base == 2) && isfinite(xlo) && xlo > 0) {
        /* Powers of two (batch sizes): a tic at every power in range. */
        bench_plot_buf_add(gp, "set logscale x 2\nset xrange [%.9g:%.9g]\nset xtics (", xlo / 1.3,
                           xhi * 1.3);
        bool first = true;
        for (double t = pow(2, floor(log2(xlo))); t <= xhi * 1.0001; t *= 2) {
            if (t < xlo / 1.0001)
                continue;
            bench_plot_buf_add(gp, "%s'%g' %.9g", first ? "" : ", ", t, t);
            first = false;
        }
        bench_plot_buf_add(gp, ")\n");
    } else if (p->xlog) {
        value_tics(gp, "x", xlo, xhi, true, NAN);
    } else if (isfinite(xlo) && (fabs(xhi) >= 1e4 || fabs(xlo) >= 1e4)) {
        value_tics(gp, "x", xlo, xhi, false, NAN);
    }
    if (p->ylog)
        value_tics(gp, "y", ylo, yhi, true, NAN);
    else
        value_tics(gp, "y", ylo, yhi, false, p->ymin);
    key_below(gp, p->key_outside);

    bench_plot_buf_add(gp, "plot ");
    bool first = true;
    for (size_t s = 0; s < p->n_series; s++) {
        const bench_plot_series *se = &p->series[s];
        const char *color = PALETTE[(size_t)(se->color < 0 ? 0 : se->color) % N_PALETTE];
        double lw = se->line_width > 0 ? se->line_width : 2;
        if (!has_data[s])
            continue;
        bench_plot_buf_add(gp, "%s'plots/%s.dat' index %zu using 1:2 ", first ? "" : ", \\\n     ",
                           name, s);
        first = false;
        if (se->style == BENCH_PLOT_POINTS)
            bench_plot_buf_add(gp, "with points pt %d ps 1.1 lc rgb '%s'",
                               se->point_type > 0 ? se->point_type : 7, color);
        else if (se->point_type > 0)
            bench_plot_buf_add(gp, "with linespoints lw %.1f dt %d pt %d ps 0.9 lc rgb '%s'", lw,
                               (int)se->style + 1, se->point_type, color);
        else
            bench_plot_buf_add(gp, "with lines lw %.1f dt %d lc rgb '%s'", lw, (int)se->style + 1,
                               color);
        if (se->label[0]) {
            bench_plot_buf_add(gp, " title ");
            bench_plot_quote(gp, se->label);
        } else {
            bench_plot_buf_add(gp, " notitle");
        }
    }
    if (first) /* nothing to draw: an empty frame rather than a gnuplot error */
        bench_plot_buf_add(gp, "NaN notitle");
    bench_plot_buf_add(gp, "\n");
    free(has_data);
    return dat->oom || gp->oom ? -1 : 0;
}

/* ---- heatmap ---- */

int bench_plot_heat_script(const bench_plot_heat *p, const char *name, bench_plot_buf *dat,
                           bench_plot_buf *gp)
{
    size_t nf = p->n_facets ? p->n_facets : 1;
    /* a lone panel gets more room; several share the width */
    int min_w = nf == 1 ? 460 : 320;
    int facet_w = (int)(p->nx * 80 > (size_t)min_w ? p->nx * 80 : (size_t)min_w);
    int rows_h = (int)p->ny * 62 < 240 ? 240 : (int)p->ny * 62;
    int width = 230 + (int)nf * facet_w, height = 200 + rows_h;
    if (width > 1800)
        width = 1800;
    preamble(gp, name, NULL, width, height);
    double lo = INFINITY, hi = -INFINITY;
    bench_plot_buf_add(dat, "# %s\n", p->title ? p->title : name);
    for (size_t f = 0; f < p->n_facets; f++) {
        bench_plot_buf_add(dat,
                           "%s# index %zu: %s\n# x_index y_index value (cells without a "
                           "value are left out)\n",
                           f ? "\n\n" : "", f, p->facets[f].title);
        for (size_t iy = 0; iy < p->ny; iy++)
            for (size_t ix = 0; ix < p->nx; ix++) {
                double v = p->facets[f].v[iy * p->nx + ix];
                if (!isfinite(v) || (p->cblog && v <= 0))
                    continue;
                bench_plot_buf_add(dat, "%zu %zu %.9g\n", ix, iy, v);
                lo = fmin(lo, v);
                hi = fmax(hi, v);
            }
    }
    /* Light to dark orange: black cell labels stay readable on every colour. */
    bench_plot_buf_add(gp,
                       "set palette defined (0 '#fff5eb', 0.35 '#fdd0a2', 0.7 '#fd8d3c', "
                       "1 '#e6550d')\n"
                       "unset key\nset grid noxtics noytics\n"
                       "set style fill solid 1.0 noborder\n"
                       "set xrange [-0.5:%.1f]\nset yrange [-0.5:%.1f]\n",
                       (double)p->nx - 0.5, (double)p->ny - 0.5);
    if (isfinite(lo)) {
        if (p->cblog && hi > lo) {
            value_tics(gp, "cb", lo, hi, true, NAN);
        } else {
            value_tics(gp, "cb", lo, hi, false, NAN);
        }
    }
    bench_plot_buf_add(gp, "set xtics (");
    for (size_t i = 0; i < p->nx; i++) {
        bench_plot_buf_add(gp, "%s", i ? ", " : "");
        bench_plot_quote(gp, p->xtics[i]);
        bench_plot_buf_add(gp, " %zu", i);
    }
    bench_plot_buf_add(gp, ")\nset ytics (");
    for (size_t i = 0; i < p->ny; i++) {
        bench_plot_buf_add(gp, "%s", i ? ", " : "");
        bench_plot_quote(gp, p->ytics[i]);
        bench_plot_buf_add(gp, " %zu", i);
    }
    bench_plot_buf_add(gp, ")\n");
    set_label(gp, "xlabel", p->xlabel);
    if (p->cblabel) {
        bench_plot_buf_add(gp, "set cblabel ");
        bench_plot_quote(gp, p->cblabel);
        bench_plot_buf_add(gp, " offset 1.5,0\n");
    }

    /* Panels side by side at fixed screen positions, one colour box at the right. */
    double left = 110.0 / width, right_box = 1.0 - 170.0 / width;
    double w = (right_box - left) / (double)nf;
    bench_plot_buf_add(gp, "set multiplot title ");
    bench_plot_quote(gp, p->title ? p->title : "");
    bench_plot_buf_add(gp, " font ',15'\nset tmargin at screen %.4f\nset bmargin at screen %.4f\n",
                       1.0 - 95.0 / height, 85.0 / height);
    for (size_t f = 0; f < nf; f++) {
        bench_plot_buf_add(gp, "set lmargin at screen %.4f\nset rmargin at screen %.4f\n",
                           left + w * (double)f + (f ? 0.015 : 0),
                           left + w * (double)(f + 1) - 0.015);
        if (f == 0)
            set_label(gp, "ylabel", p->ylabel);
        else
            bench_plot_buf_add(gp, "unset ylabel\nunset ytics\n");
        if (f + 1 == nf)
            bench_plot_buf_add(gp,
                               "set colorbox user origin screen %.4f, screen %.4f size "
                               "screen 0.018, screen %.4f\n",
                               right_box + 25.0 / width, 85.0 / height, 1.0 - 180.0 / height);
        else
            bench_plot_buf_add(gp, "unset colorbox\n");
        bench_plot_buf_add(gp, "set title ");
        bench_plot_quote(gp, p->n_facets ? p->facets[f].title : "");
        bench_plot_buf_add(gp, " font ',13'\n");
        bench_plot_buf_add(gp,
                           "plot 'plots/%s.dat' index %zu using 1:2:(0.5):(0.5):3 with "
                           "boxxyerror fc palette, \\\n     '' index %zu using 1:2:(sprintf(",
                           name, f, f);
        bench_plot_quote(gp, p->value_format ? p->value_format : "%.3g");
        bench_plot_buf_add(gp, ", $3)) with labels font ',11' tc rgb '#111111'\n");
    }
    bench_plot_buf_add(gp, "unset multiplot\n");
    return dat->oom || gp->oom ? -1 : 0;
}

/* ---- horizontal bars with intervals ---- */

int bench_plot_hbars_script(const bench_plot_hbars *p, const char *name, bench_plot_buf *dat,
                            bench_plot_buf *gp)
{
    int height = 150 + 26 * (int)p->n_bars < 280 ? 280 : 150 + 26 * (int)p->n_bars, width = 1000;
    preamble(gp, name, p->title, width, height);
    set_label(gp, "xlabel", p->xlabel);
    double lo = 0, hi = 0;
    bench_plot_buf_add(dat, "# %s\n", p->title ? p->title : name);
    /* One block per class that has bars; remember which. */
    size_t blocks = 0;
    size_t class_block[64];
    for (size_t c = 0; c < p->n_classes && c < 64; c++) {
        class_block[c] = SIZE_MAX;
        bool any = false;
        for (size_t i = 0; i < p->n_bars; i++)
            any |= p->bars[i].cls == (int)c;
        if (!any)
            continue;
        class_block[c] = blocks;
        bench_plot_buf_add(dat, "%s# index %zu: %s\n# row value lo hi\n", blocks ? "\n\n" : "",
                           blocks, p->class_names[c]);
        blocks++;
        for (size_t i = 0; i < p->n_bars; i++) {
            const bench_plot_hbar *b = &p->bars[i];
            if (b->cls != (int)c)
                continue;
            bench_plot_buf_add(dat, "%zu ", i);
            add_num(dat, b->value);
            bench_plot_buf_add(dat, " ");
            add_num(dat, b->lo);
            bench_plot_buf_add(dat, " ");
            add_num(dat, b->hi);
            bench_plot_buf_add(dat, "\n");
            double vals[3] = {b->value, b->lo, b->hi};
            for (int k = 0; k < 3; k++)
                if (isfinite(vals[k])) {
                    lo = fmin(lo, vals[k]);
                    hi = fmax(hi, vals[k]);
                }
        }
    }
    if (p->guide > 0) {
        lo = fmin(lo, -p->guide);
        hi = fmax(hi, p->guide);
    }
    /* A few huge bars (an inconclusive p99 at +600%) would squash the rest: past a
     * limit well above the typical bar, bars are cut at the limit and labelled with
     * their value. */
    double clip = INFINITY;
    double *mag = malloc((p->n_bars ? p->n_bars : 1) * sizeof *mag);
    if (!mag)
        return -1;
    size_t nm = 0;
    for (size_t i = 0; i < p->n_bars; i++)
        if (isfinite(p->bars[i].value))
            mag[nm++] = fabs(p->bars[i].value);
    if (nm >= 4) {
        qsort(mag, nm, sizeof *mag, cmp_double_asc);
        double typical = mag[(nm * 3) / 4];
        double lim = fmax(typical * 2.5, p->guide * 4);
        if (mag[nm - 1] > lim * 1.3 && lim > 0)
            clip = lim;
    }
    free(mag);
    if (isfinite(clip)) {
        lo = fmax(lo, -clip * 1.3);
        hi = fmin(hi, clip * 1.3);
        bench_plot_buf_add(gp, "L = %.9g\nclip(v) = v > L ? L : (v < -L ? -L : v)\n", clip);
        for (size_t i = 0; i < p->n_bars; i++) {
            double v = p->bars[i].value;
            if (!(fabs(v) > clip))
                continue;
            bench_plot_buf_add(gp,
                               "set label %zu '%+.0f%%' at %.9g, %zu %s offset %d,0 font ',10' "
                               "front\n",
                               i + 1, v, v > 0 ? clip : -clip, i, v > 0 ? "left" : "right",
                               v > 0 ? 1 : -1);
        }
    } else {
        bench_plot_buf_add(gp, "L = 1e300\nclip(v) = v\n");
    }
    double pad = (hi - lo) * 0.06 + 1e-9;
    bench_plot_buf_add(gp, "set xrange [%.9g:%.9g]\nset yrange [%.1f:-0.6]\nset ytics (", lo - pad,
                       hi + pad, (double)p->n_bars - 0.4);
    for (size_t i = 0; i < p->n_bars; i++) {
        bench_plot_buf_add(gp, "%s", i ? ", " : "");
        bench_plot_quote(gp, p->bars[i].label);
        bench_plot_buf_add(gp, " %zu", i);
    }
    bench_plot_buf_add(gp,
                       ") font ',11'\nset grid xtics noytics\nset style fill solid 0.85 "
                       "noborder\n"
                       "set arrow from 0, graph 0 to 0, graph 1 nohead lc rgb '#333333' lw 1\n");
    if (p->guide > 0)
        bench_plot_buf_add(gp,
                           "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead lc rgb "
                           "'#888888' dt 2\nset arrow from %.9g, graph 0 to %.9g, graph 1 nohead "
                           "lc rgb '#888888' dt 2\n",
                           p->guide, p->guide, -p->guide, -p->guide);
    key_below(gp, false);
    bench_plot_buf_add(gp, "plot ");
    bool first = true;
    for (size_t c = 0; c < p->n_classes && c < 64; c++) {
        if (class_block[c] == SIZE_MAX)
            continue;
        bench_plot_buf_add(
            gp,
            "%s'plots/%s.dat' index %zu using (clip($2)/2):1:(abs(clip($2))/2):(0.32) with "
            "boxxyerror lc rgb '%s' title ",
            first ? "" : ", \\\n     ", name, class_block[c], p->class_colors[c]);
        bench_plot_quote(gp, p->class_names[c]);
        bench_plot_buf_add(
            gp,
            ", \\\n     '' index %zu using (abs($2) > L ? NaN : $2):1:(clip($3)):(clip($4)) "
            "with xerrorbars lc rgb "
            "'#222222' pt 7 ps 0.5 lw 1.2 notitle",
            class_block[c]);
        first = false;
    }
    if (first) /* no bars at all: an empty frame rather than a gnuplot error */
        bench_plot_buf_add(gp, "NaN notitle");
    bench_plot_buf_add(gp, "\n");
    return dat->oom || gp->oom ? -1 : 0;
}

/* ---- stacked bars ---- */

int bench_plot_stack_script(const bench_plot_stack *p, const char *name, bench_plot_buf *dat,
                            bench_plot_buf *gp)
{
    int width = 260 + 46 * (int)p->n_categories;
    if (width < 800)
        width = 800;
    if (width > 1800)
        width = 1800;
    preamble(gp, name, p->title, width, 560);
    set_label(gp, "xlabel", p->xlabel);
    set_label(gp, "ylabel", p->ylabel);
    bench_plot_buf_add(dat, "# %s\n# category_index", p->title ? p->title : name);
    for (size_t j = 0; j < p->n_parts; j++)
        bench_plot_buf_add(dat, " %s", p->parts[j]);
    bench_plot_buf_add(dat, "\n");
    double top = 0;
    for (size_t i = 0; i < p->n_categories; i++) {
        bench_plot_buf_add(dat, "%zu", i);
        double sum = 0;
        for (size_t j = 0; j < p->n_parts; j++) {
            double v = p->v[i * p->n_parts + j];
            v = isfinite(v) ? v : 0;
            sum += v;
            bench_plot_buf_add(dat, " %.9g", v);
        }
        bench_plot_buf_add(dat, "\n");
        top = fmax(top, sum);
    }
    category_tics(gp, "x", p->categories, p->n_categories, width);
    if (isfinite(p->ymax))
        top = p->ymax;
    value_tics(gp, "y", 0, top > 0 ? top : 1, false, 0);
    bench_plot_buf_add(gp, "set style data histograms\nset style histogram rowstacked\n"
                           "set style fill solid 0.9 border rgb 'white'\nset boxwidth 0.7\n");
    key_below(gp, p->n_parts > 8);
    bench_plot_buf_add(gp, "plot ");
    for (size_t j = 0; j < p->n_parts; j++) {
        if (j)
            bench_plot_buf_add(gp, ", \\\n     ''");
        else
            bench_plot_buf_add(gp, "'plots/%s.dat'", name);
        size_t color = p->part_colors ? (size_t)p->part_colors[j] : j;
        bench_plot_buf_add(gp, " using %zu lc rgb '%s' title ", j + 2, PALETTE[color % N_PALETTE]);
        bench_plot_quote(gp, p->parts[j]);
    }
    if (p->n_parts == 0)
        bench_plot_buf_add(gp, "NaN notitle");
    bench_plot_buf_add(gp, "\n");
    return dat->oom || gp->oom ? -1 : 0;
}

/* ---- files and rendering ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The last non-empty line of text (gnuplot's error), trimmed, into out. */
static void last_line(const char *text, char *out, size_t size)
{
    out[0] = '\0';
    if (!text)
        return;
    const char *end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\r'))
        end--;
    const char *start = end;
    while (start > text && start[-1] != '\n')
        start--;
    /* gnuplot puts a caret line under the offending text; the message is the line with a ':' */
    if (start > text && strspn(start, " ^") == (size_t)(end - start)) {
        end = start - 1;
        start = end;
        while (start > text && start[-1] != '\n')
            start--;
    }
    while (start < end && *start == ' ')
        start++;
    snprintf(out, size, "%.*s", (int)(end - start), start);
}

/*
 * Runs `exe plots/name.gp` in dir with a time limit. Returns 0 on a clean
 * exit, else -1 with e saying why; *fatal is set when gnuplot could not be
 * started or was killed (not worth trying again for the next plot).
 */
static int run_gnuplot(const bench_plotter *p, const char *dir, const char *name, bool *fatal,
                       bench_err *e)
{
    char gp_rel[256], log_rel[256], log_path[4096];
    snprintf(gp_rel, sizeof gp_rel, "plots/%s.gp", name);
    snprintf(log_rel, sizeof log_rel, "plots/%s.log", name);
    snprintf(log_path, sizeof log_path, "%s/%s", dir, log_rel);
    *fatal = false;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        *fatal = true;
        return bench_err_set(e, "cannot start gnuplot: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        setpgid(0, 0);
        if (chdir(dir) != 0)
            _exit(126);
        int in = open("/dev/null", O_RDONLY);
        int out = open("/dev/null", O_WRONLY);
        int err = open(log_rel, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0)
            _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        execl(p->exe, p->exe, gp_rel, (char *)NULL);
        _exit(127);
    }
    double deadline = now_s() + p->timeout_s;
    long poll_ns = 250000;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            *fatal = true;
            return bench_err_set(e, "gnuplot: waitpid: %s", strerror(errno));
        }
        if (now_s() > deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            unlink(log_path);
            *fatal = true;
            return bench_err_set(e, "gnuplot (%s) ran past the %.3g s limit and was killed", p->exe,
                                 p->timeout_s);
        }
        /* short waits first (gnuplot takes tens of ms), then POLL_NS */
        struct timespec ts = {0, poll_ns};
        nanosleep(&ts, NULL);
        if (poll_ns < POLL_NS)
            poll_ns *= 2;
    }
    char *log = bench_read_file(log_path, NULL, NULL);
    unlink(log_path);
    char line[400];
    last_line(log, line, sizeof line);
    free(log);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status) && (WEXITSTATUS(status) == 127 || WEXITSTATUS(status) == 126)) {
        *fatal = true;
        return bench_err_set(e, "cannot start gnuplot (%s): exit status %d", p->exe,
                             WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status))
        return bench_err_set(e, "gnuplot (%s) on %s: killed by signal %d%s%s", p->exe, gp_rel,
                             WTERMSIG(status), line[0] ? ": " : "", line);
    return bench_err_set(e, "gnuplot (%s) on %s: exit status %d%s%s", p->exe, gp_rel,
                         WEXITSTATUS(status), line[0] ? ": " : "", line);
}

int bench_plot_emit(bench_plotter *p, const char *dir, const char *name, const char *dat,
                    const char *gp, char **svg, size_t *svg_len, bool *written, bench_err *e)
{
    char path[4096];
    *svg = NULL;
    *svg_len = 0;
    if (written)
        *written = false;
    snprintf(path, sizeof path, "%s/plots", dir);
    if (bench_mkdir_p(path, e) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/plots/%s.dat", dir, name);
    if (bench_write_file_atomic(path, dat, strlen(dat), e) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/plots/%s.gp", dir, name);
    if (bench_write_file_atomic(path, gp, strlen(gp), e) != 0)
        return -1;
    if (written)
        *written = true;
    if (!p->available)
        return 0;

    snprintf(path, sizeof path, "%s/plots/%s.svg", dir, name);
    unlink(path); /* a stale SVG must not pass for this run's */
    bool fatal = false;
    if (run_gnuplot(p, dir, name, &fatal, e) != 0) {
        if (fatal) {
            p->available = false;
            snprintf(p->why, sizeof p->why, "%.500s", e->msg);
        }
        return -1;
    }
    size_t len = 0;
    char *text = bench_read_file(path, &len, NULL);
    if (!text || len == 0 || !strstr(text, "<svg")) {
        free(text);
        return bench_err_set(e, "gnuplot (%s) on plots/%s.gp exited 0 but wrote no SVG (%s)",
                             p->exe, name, path);
    }
    *svg = text;
    *svg_len = len;
    return 0;
}
