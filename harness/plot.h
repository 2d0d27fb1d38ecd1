/*
 * plot.h - gnuplot for reports: the scripts of a few plot kinds, the files
 * that keep them, and running gnuplot on them.
 *
 * Every plot is two files under the report's plots/ folder: NAME.dat (plain
 * numbers, one block per series, gnuplot `index` order) and NAME.gp (the
 * script: every label, tic and colour, then `plot 'plots/NAME.dat' ...`). The
 * script's paths are relative to the report's folder, so anyone can re-render
 * a plot there with `gnuplot plots/NAME.gp` (it writes plots/NAME.svg). The
 * report runs exactly that, in a child process with a time limit, checks its
 * exit status and that it wrote an SVG, and reads the SVG back to inline it.
 *
 * Data files hold numbers only (NaN where a value is missing: a gap in a
 * line, an empty heatmap cell), so no user text ever needs quoting there; all
 * text (titles, legends, tic labels, parameter values) goes through
 * bench_plot_quote into single-quoted gnuplot strings, with `noenhanced` so
 * '_' and '^' print as themselves.
 */
#ifndef BENCH_PLOT_H
#define BENCH_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Overrides the gnuplot executable: a path or a name looked up on PATH; "" or
 * "none" turns plotting off (tables only), as does a path that is not there. */
#define BENCH_PLOT_ENV "LORE_BENCH_GNUPLOT"

/* A growing NUL-terminated text; oom latches on the first failed allocation. */
typedef struct bench_plot_buf {
    char *p;
    size_t len, cap;
    bool oom;
} bench_plot_buf;

void bench_plot_buf_add(bench_plot_buf *b, const char *fmt, ...) BENCH_PRINTF(2, 3);
void bench_plot_buf_addn(bench_plot_buf *b, const char *s, size_t n);
void bench_plot_buf_free(bench_plot_buf *b);

/*
 * s as a gnuplot single-quoted string literal, quotes included: ' doubled,
 * control characters (newline, tab) turned into spaces. Appended to b.
 */
void bench_plot_quote(bench_plot_buf *b, const char *s);

/* Where gnuplot is and whether it can be used. */
typedef struct bench_plotter {
    char exe[1024];   /* what is executed (a path, or a name for PATH) */
    bool available;   /* false: tables only; why says why */
    char why[512];    /* "gnuplot not found on PATH", "LORE_BENCH_GNUPLOT=...: ..." */
    double timeout_s; /* limit for one gnuplot run */
} bench_plotter;

/*
 * Finds gnuplot: exe when not NULL, else $LORE_BENCH_GNUPLOT when set, else
 * "gnuplot" on PATH. Never fails: p->available says whether plots will be
 * rendered and p->why why not. timeout_s <= 0 takes the default (30 s).
 */
void bench_plot_find(bench_plotter *p, const char *exe, double timeout_s);

/* ---- plot kinds: each appends the data file to dat and the script to gp ---- */

/* Line styles of a series: the candidate solid, a baseline dashed, peers dotted. */
typedef enum bench_plot_style {
    BENCH_PLOT_SOLID = 0,
    BENCH_PLOT_DASHED = 1,
    BENCH_PLOT_DOTTED = 2,
    BENCH_PLOT_POINTS = 3, /* markers only, no line */
} bench_plot_style;

typedef struct bench_plot_series {
    char label[200]; /* legend text; "" keeps the series out of the legend */
    const double *x, *y;
    size_t n;  /* NAN in y: a gap */
    int color; /* index into a 10-colour qualitative palette (wraps) */
    bench_plot_style style;
    int point_type; /* gnuplot point type (7 filled circle, 6 open circle, 5 square ...); 0 none */
    double line_width; /* 0: 2 */
} bench_plot_series;

typedef struct bench_plot_xy {
    const char *title, *xlabel, *ylabel;
    bool xlog, ylog;
    int xlog_base; /* 2 or 10 (0: 10) */
    /* Categorical x: series x values are 0..n_xtics-1 and these are the tic
     * labels, rotated when they are long. NULL: numeric x. */
    const char *const *xtics;
    size_t n_xtics;
    const bench_plot_series *series;
    size_t n_series;
    int width, height; /* pixels; 0: 960 x 540 */
    bool key_outside;  /* legend right of the plot, for many series */
    double ymin;       /* NAN: automatic */
} bench_plot_xy;

int bench_plot_xy_script(const bench_plot_xy *p, const char *name, bench_plot_buf *dat,
                         bench_plot_buf *gp);

/* A grid of cells coloured by value, one panel (facet) per fixed setting. */
typedef struct bench_plot_heat_facet {
    char title[200];
    const double *v; /* ny * nx values, v[iy * nx + ix]; NAN: no value (blank cell) */
} bench_plot_heat_facet;

typedef struct bench_plot_heat {
    const char *title, *xlabel, *ylabel, *cblabel;
    const char *const *xtics; /* nx labels */
    size_t nx;
    const char *const *ytics; /* ny labels */
    size_t ny;
    const bench_plot_heat_facet *facets;
    size_t n_facets;          /* 1 or more, side by side with one shared colour scale */
    bool cblog;               /* log colour scale (values spanning decades) */
    const char *value_format; /* printf format of the cell labels, e.g. "%.3g" */
} bench_plot_heat;

int bench_plot_heat_script(const bench_plot_heat *p, const char *name, bench_plot_buf *dat,
                           bench_plot_buf *gp);

/* Horizontal bars with an interval each (ratios with confidence intervals). */
typedef struct bench_plot_hbar {
    char label[240];
    double value, lo, hi; /* lo/hi NAN: no interval */
    int cls;              /* index into the classes (colour and legend) */
} bench_plot_hbar;

typedef struct bench_plot_hbars {
    const char *title, *xlabel;
    const bench_plot_hbar *bars;
    size_t n_bars;                   /* drawn top to bottom in this order */
    const char *const *class_names;  /* legend text per class */
    const char *const *class_colors; /* "#rrggbb" per class */
    size_t n_classes;
    double guide; /* > 0: dashed guide lines at +-guide (the minimum effect) */
} bench_plot_hbars;

int bench_plot_hbars_script(const bench_plot_hbars *p, const char *name, bench_plot_buf *dat,
                            bench_plot_buf *gp);

/* Stacked bars: one bar per category, one segment per part. */
typedef struct bench_plot_stack {
    const char *title, *xlabel, *ylabel;
    const char *const *categories; /* n_categories bar labels */
    size_t n_categories;
    const char *const *parts; /* n_parts segment names, bottom first */
    size_t n_parts;
    const double *v;        /* v[ic * n_parts + ip]; NAN counts as 0 */
    double ymax;            /* NAN: automatic */
    const int *part_colors; /* palette index per part (the same stage, the same colour
                               across plots); NULL: 0, 1, 2 ... */
} bench_plot_stack;

int bench_plot_stack_script(const bench_plot_stack *p, const char *name, bench_plot_buf *dat,
                            bench_plot_buf *gp);

/* ---- files and rendering ---- */

/*
 * Writes dir/plots/name.dat and dir/plots/name.gp (making plots/), then, when
 * p is available, runs `gnuplot plots/name.gp` in dir and reads
 * dir/plots/name.svg into *svg (caller frees; *svg_len its size).
 * Returns 0 with *svg NULL when p is unavailable, 0 with *svg set when
 * rendered, -1 with e set when the files cannot be written (then nothing was
 * rendered) or when gnuplot failed: it did not start, ran past p->timeout_s
 * (killed), exited non-zero (e quotes its last error line) or wrote no SVG.
 * A timeout or a failure to start turns p off (p->available false, p->why set)
 * so that the next plots do not wait in turn.
 * *written (may be NULL) says whether the files were written.
 */
int bench_plot_emit(bench_plotter *p, const char *dir, const char *name, const char *dat,
                    const char *gp, char **svg, size_t *svg_len, bool *written, bench_err *e);

#endif
