/*
 * vecdata.c - synthetic clustered vectors, .fvecs / .npy files, exact ground
 * truth with its disk cache, recall (see vecdata.h for the formats).
 *
 * The random stream is splitmix64; normals come from Marsaglia's polar method
 * (no trigonometry, exact in distribution). Files are decoded field by field
 * as little-endian; the float payload is copied as is, which is right on the
 * little-endian hosts lore supports (checked at compile time).
 */
#include "vecdata.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vecdata.c reads and writes float32 payloads as little-endian bytes"
#endif

/* ---- random numbers -------------------------------------------------------- */

typedef struct rng {
    uint64_t state;
    double spare;
    bool has_spare;
} rng;

static uint64_t rng_next(rng *r)
{
    return bench_splitmix64(&r->state);
}

/* A stream of seed: the centres use one stream, each point stream another. */
static rng rng_stream(uint64_t seed, uint64_t stream)
{
    rng r = {.state = seed ^ (0xd1b54a32d192ed03ULL * (stream + 1))};
    rng_next(&r); /* decorrelate neighbouring seeds before the first draw */
    return r;
}

static double rng_normal(rng *r)
{
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double u, v, s;
    do {
        u = (double)(rng_next(r) >> 11) * 0x1.0p-52 - 1.0;
        v = (double)(rng_next(r) >> 11) * 0x1.0p-52 - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s);
    r->spare = v * f;
    r->has_spare = true;
    return u * f;
}

/* ---- synthetic data ------------------------------------------------------- */

#define STREAM_CENTRES 0x63656e7472657300ULL /* "centres": apart from the point streams */

void bench_vecs_free(bench_vecs *v)
{
    if (!v)
        return;
    free(v->x);
    memset(v, 0, sizeof *v);
}

static int check_synth(const bench_vecdata_synth *p, bench_err *e)
{
    if (p->dim < 1 || p->dim > BENCH_VECDATA_MAX_DIM)
        return bench_err_set(e, "synthetic vectors: dim must be in 1..%d (got %zu)",
                             BENCH_VECDATA_MAX_DIM, p->dim);
    if (p->n_clusters < 1)
        return bench_err_set(e, "synthetic vectors: clusters must be >= 1 (got %zu)",
                             p->n_clusters);
    if (!(p->spread >= 0) || !isfinite(p->spread))
        return bench_err_set(e, "synthetic vectors: spread must be finite and >= 0 (got %g)",
                             p->spread);
    return 0;
}

static void normalize_row(float *x, size_t dim)
{
    double ss = 0;
    for (size_t j = 0; j < dim; j++)
        ss += (double)x[j] * x[j];
    if (ss <= 0)
        return; /* a zero vector has no direction; only spread 0 with a zero centre could make one
                 */
    double inv = 1.0 / sqrt(ss);
    for (size_t j = 0; j < dim; j++)
        x[j] = (float)(x[j] * inv);
}

int bench_vecdata_centres(const bench_vecdata_synth *p, float *centres, bench_err *e)
{
    if (check_synth(p, e) != 0)
        return -1;
    rng r = rng_stream(p->seed, STREAM_CENTRES);
    for (size_t c = 0; c < p->n_clusters; c++) {
        float *row = centres + c * p->dim;
        for (size_t j = 0; j < p->dim; j++)
            row[j] = (float)rng_normal(&r);
        normalize_row(row, p->dim);
    }
    return 0;
}

int bench_vecdata_generate(const bench_vecdata_synth *p, uint64_t stream, size_t n, bench_vecs *out,
                           uint32_t *clusters, bench_err *e)
{
    memset(out, 0, sizeof *out);
    if (check_synth(p, e) != 0)
        return -1;
    if (n < 1)
        return bench_err_set(e, "synthetic vectors: n must be >= 1");
    if (p->n_clusters > UINT32_MAX || n > SIZE_MAX / sizeof(float) / p->dim ||
        p->n_clusters > SIZE_MAX / sizeof(float) / p->dim)
        return bench_err_set(e, "synthetic vectors: %zu x %zu (%zu clusters) is too large", n,
                             p->dim, p->n_clusters);
    float *centres = malloc(p->n_clusters * p->dim * sizeof *centres);
    float *x = malloc(n * p->dim * sizeof *x);
    if (!centres || !x) {
        free(centres);
        free(x);
        return bench_err_set(e, "synthetic vectors: out of memory for %zu x %zu floats", n, p->dim);
    }
    bench_vecdata_centres(p, centres, NULL);
    rng r = rng_stream(p->seed, stream);
    double sigma = p->spread / sqrt((double)p->dim);
    for (size_t i = 0; i < n; i++) {
        /* Multiply-high maps 64 random bits onto [0, n_clusters) without a modulo's bias. */
        uint32_t c = (uint32_t)(((unsigned __int128)rng_next(&r) * p->n_clusters) >> 64);
        const float *centre = centres + (size_t)c * p->dim;
        float *row = x + i * p->dim;
        for (size_t j = 0; j < p->dim; j++)
            row[j] = (float)(centre[j] + sigma * rng_normal(&r));
        if (p->normalize)
            normalize_row(row, p->dim);
        if (clusters)
            clusters[i] = c;
    }
    free(centres);
    out->x = x;
    out->n = n;
    out->dim = p->dim;
    return 0;
}

/* ---- little-endian fields ------------------------------------------------- */

static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(const unsigned char *b)
{
    return (uint64_t)get_u32(b) | (uint64_t)get_u32(b + 4) << 32;
}

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b + 4, (uint32_t)(v >> 32));
}

/* ---- files: common ---------------------------------------------------------- */

typedef enum vec_format { FORMAT_FVECS, FORMAT_NPY } vec_format;

/* Where the rows are: header size, row count, dimension, bytes per row (and its prefix). */
typedef struct vec_layout {
    vec_format format;
    uint64_t data_offset;
    size_t n_rows;
    size_t dim;
    size_t row_bytes;  /* fvecs: 4 + 4 * dim; npy: 4 * dim */
    size_t row_prefix; /* fvecs: 4 (the dimension field); npy: 0 */
    uint64_t file_bytes;
} vec_layout;

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int read_exact(FILE *f, void *buf, size_t n, const char *path, const char *what,
                      bench_err *e)
{
    if (fread(buf, 1, n, f) == n)
        return 0;
    if (ferror(f))
        return bench_err_set(e, "%s: cannot read %s: %s", path, what, strerror(errno));
    return bench_err_set(e, "%s: truncated: the file ends inside %s", path, what);
}

/* ---- .fvecs ----------------------------------------------------------------- */

static int fvecs_layout(FILE *f, const char *path, vec_layout *l, bench_err *e)
{
    if (l->file_bytes == 0)
        return bench_err_set(e,
                             "%s: empty file (an .fvecs file holds records of int32 dim, then "
                             "dim float32)",
                             path);
    unsigned char b[4];
    if (read_exact(f, b, 4, path, "the first record's dimension", e) != 0)
        return -1;
    int32_t d = (int32_t)get_u32(b);
    if (d < 1 || d > BENCH_VECDATA_MAX_DIM)
        return bench_err_set(e,
                             "%s: first record has dimension %d, outside 1..%d (not an .fvecs "
                             "file, or corrupt)",
                             path, (int)d, BENCH_VECDATA_MAX_DIM);
    l->dim = (size_t)d;
    l->row_prefix = 4;
    l->row_bytes = 4 + 4 * l->dim;
    l->data_offset = 0;
    if (l->file_bytes % l->row_bytes != 0)
        return bench_err_set(e,
                             "%s: truncated: %llu bytes is not a whole number of %zu-byte "
                             "records (dim %zu); the last record is cut after %llu bytes",
                             path, (unsigned long long)l->file_bytes, l->row_bytes, l->dim,
                             (unsigned long long)(l->file_bytes % l->row_bytes));
    l->n_rows = (size_t)(l->file_bytes / l->row_bytes);
    return 0;
}

/* ---- .npy ------------------------------------------------------------------- */

typedef struct npy_header {
    char descr[32];
    int fortran; /* -1 unset, 0, 1 */
    int ndim;    /* -1 unset */
    uint64_t shape[4];
} npy_header;

static const char *skip_ws(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++;
    return s;
}

/* A quoted Python string literal (no escapes: NumPy writes none here). */
static const char *parse_str(const char *s, const char *end, char *out, size_t size)
{
    if (s >= end || (*s != '\'' && *s != '"'))
        return NULL;
    char q = *s++;
    size_t n = 0;
    while (s < end && *s != q) {
        if (*s == '\\' || n + 1 >= size)
            return NULL;
        out[n++] = *s++;
    }
    if (s >= end)
        return NULL;
    out[n] = '\0';
    return s + 1;
}

/* The header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (n, d), }. */
static int npy_parse_header(const char *s, size_t len, const char *path, npy_header *h,
                            bench_err *e)
{
    const char *end = s + len;
    h->descr[0] = '\0';
    h->fortran = -1;
    h->ndim = -1;
    s = skip_ws(s, end);
    if (s >= end || *s++ != '{')
        return bench_err_set(e, "%s: bad .npy header: expected '{'", path);
    for (;;) {
        s = skip_ws(s, end);
        if (s < end && *s == '}')
            break;
        char key[32];
        if (!(s = parse_str(s, end, key, sizeof key)))
            return bench_err_set(e, "%s: bad .npy header: expected a quoted key", path);
        s = skip_ws(s, end);
        if (s >= end || *s++ != ':')
            return bench_err_set(e, "%s: bad .npy header: expected ':' after '%s'", path, key);
        s = skip_ws(s, end);
        if (strcmp(key, "descr") == 0) {
            if (!(s = parse_str(s, end, h->descr, sizeof h->descr)))
                return bench_err_set(e, "%s: bad .npy header: 'descr' is not a dtype string", path);
        } else if (strcmp(key, "fortran_order") == 0) {
            if ((size_t)(end - s) >= 4 && memcmp(s, "True", 4) == 0) {
                h->fortran = 1;
                s += 4;
            } else if ((size_t)(end - s) >= 5 && memcmp(s, "False", 5) == 0) {
                h->fortran = 0;
                s += 5;
            } else {
                return bench_err_set(e, "%s: bad .npy header: 'fortran_order' is not True/False",
                                     path);
            }
        } else if (strcmp(key, "shape") == 0) {
            if (s >= end || *s++ != '(')
                return bench_err_set(e, "%s: bad .npy header: 'shape' is not a tuple", path);
            h->ndim = 0;
            for (;;) {
                s = skip_ws(s, end);
                if (s < end && *s == ')') {
                    s++;
                    break;
                }
                if (s >= end || *s < '0' || *s > '9')
                    return bench_err_set(e, "%s: bad .npy header: 'shape' holds a non-integer",
                                         path);
                uint64_t v = 0;
                while (s < end && *s >= '0' && *s <= '9') {
                    if (v > (UINT64_MAX - 9) / 10)
                        return bench_err_set(e, "%s: bad .npy header: absurd shape value", path);
                    v = v * 10 + (uint64_t)(*s++ - '0');
                }
                if (s < end && *s == 'L') /* Python 2 long literals */
                    s++;
                if (h->ndim >= 4)
                    return bench_err_set(e,
                                         "%s: .npy shape has more than 4 dimensions; need a "
                                         "2-D (n, dim) array",
                                         path);
                h->shape[h->ndim++] = v;
                s = skip_ws(s, end);
                if (s < end && *s == ',')
                    s++;
            }
        } else {
            return bench_err_set(e, "%s: bad .npy header: unknown key '%s'", path, key);
        }
        s = skip_ws(s, end);
        if (s < end && *s == ',')
            s++;
    }
    if (!h->descr[0] || h->fortran < 0 || h->ndim < 0)
        return bench_err_set(e,
                             "%s: bad .npy header: needs 'descr', 'fortran_order' and "
                             "'shape'",
                             path);
    return 0;
}

static int npy_layout(FILE *f, const char *path, vec_layout *l, bench_err *e)
{
    unsigned char pre[12];
    if (l->file_bytes < 10 || read_exact(f, pre, 10, path, "the .npy preamble", NULL) != 0 ||
        memcmp(pre, "\x93NUMPY", 6) != 0)
        return bench_err_set(e, "%s: bad magic: not a .npy file (expected \\x93NUMPY)", path);
    unsigned major = pre[6];
    uint64_t header_len, preamble;
    if (major == 1) {
        header_len = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
        preamble = 10;
    } else if (major == 2 || major == 3) {
        if (read_exact(f, pre + 10, 2, path, "the .npy preamble", e) != 0)
            return -1;
        header_len = get_u32(pre + 8);
        preamble = 12;
    } else {
        return bench_err_set(e, "%s: .npy format version %u.%u is not supported (1.0 to 3.0)", path,
                             major, (unsigned)pre[7]);
    }
    if (header_len > (1u << 20))
        return bench_err_set(e, "%s: absurd .npy header length %llu", path,
                             (unsigned long long)header_len);
    if (preamble + header_len > l->file_bytes)
        return bench_err_set(e,
                             "%s: truncated: the .npy header (%llu bytes) runs past the end "
                             "of the file (%llu bytes)",
                             path, (unsigned long long)header_len,
                             (unsigned long long)l->file_bytes);
    char *text = malloc(header_len + 1);
    if (!text)
        return bench_err_set(e, "%s: out of memory for the .npy header", path);
    npy_header h;
    int rc = read_exact(f, text, header_len, path, "the .npy header", e);
    if (rc == 0)
        rc = npy_parse_header(text, header_len, path, &h, e);
    free(text);
    if (rc != 0)
        return -1;
    if (strcmp(h.descr, "<f4") != 0 && strcmp(h.descr, "=f4") != 0)
        return bench_err_set(e,
                             "%s: dtype '%s' is not supported: need '<f4' (float32, "
                             "little-endian)",
                             path, h.descr);
    if (h.fortran)
        return bench_err_set(e, "%s: Fortran-ordered array: need C order (np.ascontiguousarray)",
                             path);
    if (h.ndim != 2)
        return bench_err_set(e, "%s: array has %d dimension(s): need a 2-D (n, dim) array", path,
                             h.ndim);
    if (h.shape[1] < 1 || h.shape[1] > BENCH_VECDATA_MAX_DIM)
        return bench_err_set(e, "%s: dimension %llu outside 1..%d", path,
                             (unsigned long long)h.shape[1], BENCH_VECDATA_MAX_DIM);
    if (h.shape[0] < 1)
        return bench_err_set(e, "%s: holds no vectors (shape (0, %llu))", path,
                             (unsigned long long)h.shape[1]);
    l->dim = (size_t)h.shape[1];
    l->row_bytes = 4 * l->dim;
    l->row_prefix = 0;
    l->data_offset = preamble + header_len;
    if (h.shape[0] > (UINT64_MAX - l->data_offset) / l->row_bytes ||
        h.shape[0] > SIZE_MAX / l->row_bytes)
        return bench_err_set(e, "%s: absurd shape (%llu, %zu)", path,
                             (unsigned long long)h.shape[0], l->dim);
    uint64_t want = l->data_offset + h.shape[0] * l->row_bytes;
    if (want > l->file_bytes)
        return bench_err_set(e,
                             "%s: truncated: shape (%llu, %zu) needs %llu bytes, the file has "
                             "%llu",
                             path, (unsigned long long)h.shape[0], l->dim, (unsigned long long)want,
                             (unsigned long long)l->file_bytes);
    if (want < l->file_bytes)
        return bench_err_set(e, "%s: %llu bytes after the data that shape (%llu, %zu) describes",
                             path, (unsigned long long)(l->file_bytes - want),
                             (unsigned long long)h.shape[0], l->dim);
    l->n_rows = (size_t)h.shape[0];
    return 0;
}

/* Opens path and works out its layout; *f stays open on success. */
static int open_layout(const char *path, FILE **f, vec_layout *l, bench_err *e)
{
    memset(l, 0, sizeof *l);
    if (ends_with(path, ".fvecs"))
        l->format = FORMAT_FVECS;
    else if (ends_with(path, ".npy"))
        l->format = FORMAT_NPY;
    else
        return bench_err_set(e, "%s: unknown vector file type (expected .fvecs or .npy)", path);
    *f = fopen(path, "rb");
    if (!*f)
        return bench_err_set(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(*f), &st) != 0 || !S_ISREG(st.st_mode)) {
        bench_err_set(e, "%s: not a regular file", path);
        goto fail;
    }
    l->file_bytes = (uint64_t)st.st_size;
    if ((l->format == FORMAT_FVECS ? fvecs_layout : npy_layout)(*f, path, l, e) != 0)
        goto fail;
    return 0;
fail:
    fclose(*f);
    *f = NULL;
    return -1;
}

int bench_vecdata_probe(const char *path, size_t *n_rows, size_t *dim, bench_err *e)
{
    FILE *f = NULL;
    vec_layout l;
    if (open_layout(path, &f, &l, e) != 0)
        return -1;
    fclose(f);
    *n_rows = l.n_rows;
    *dim = l.dim;
    return 0;
}

int bench_vecdata_read(const char *path, size_t first, size_t n, size_t want_dim, bench_vecs *out,
                       bench_err *e)
{
    memset(out, 0, sizeof *out);
    FILE *f = NULL;
    vec_layout l;
    float *x = NULL;
    if (open_layout(path, &f, &l, e) != 0)
        return -1;
    if (want_dim > 0 && l.dim != want_dim) {
        bench_err_set(e, "%s: dimension mismatch: the file's vectors have %zu, expected %zu", path,
                      l.dim, want_dim);
        goto fail;
    }
    if (n == 0)
        n = first < l.n_rows ? l.n_rows - first : 0;
    if (n == 0 || first > l.n_rows || n > l.n_rows - first) {
        bench_err_set(e, "%s: holds %zu vectors; rows %zu..%zu were asked for", path, l.n_rows,
                      first, first + (n ? n : 1) - 1);
        goto fail;
    }
    if (!(x = malloc(n * l.dim * sizeof *x))) {
        bench_err_set(e, "%s: out of memory for %zu x %zu floats", path, n, l.dim);
        goto fail;
    }
    if (fseeko(f, (off_t)(l.data_offset + (uint64_t)first * l.row_bytes), SEEK_SET) != 0) {
        bench_err_set(e, "%s: cannot seek: %s", path, strerror(errno));
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        char what[64];
        snprintf(what, sizeof what, "vector %zu", first + i);
        if (l.row_prefix) {
            unsigned char b[4];
            if (read_exact(f, b, 4, path, what, e) != 0)
                goto fail;
            int32_t d = (int32_t)get_u32(b);
            if (d != (int32_t)l.dim) {
                bench_err_set(e,
                              "%s: record %zu has dimension %d, the first has %zu (not an "
                              ".fvecs file, or corrupt)",
                              path, first + i, (int)d, l.dim);
                goto fail;
            }
        }
        float *row = x + i * l.dim;
        if (read_exact(f, row, l.dim * sizeof *row, path, what, e) != 0)
            goto fail;
        for (size_t j = 0; j < l.dim; j++)
            if (!isfinite(row[j])) {
                bench_err_set(e, "%s: vector %zu component %zu is not finite (%g)", path, first + i,
                              j, (double)row[j]);
                goto fail;
            }
    }
    fclose(f);
    out->x = x;
    out->n = n;
    out->dim = l.dim;
    return 0;
fail:
    free(x);
    fclose(f);
    return -1;
}

static int check_writable(const char *path, const bench_vecs *v, size_t per_row, size_t header,
                          bench_err *e)
{
    if (v->n < 1 || v->dim < 1 || v->dim > BENCH_VECDATA_MAX_DIM)
        return bench_err_set(e, "%s: cannot write %zu x %zu vectors", path, v->n, v->dim);
    if (v->n > (SIZE_MAX - header) / per_row)
        return bench_err_set(e, "%s: %zu x %zu vectors are too large", path, v->n, v->dim);
    return 0;
}

int bench_vecdata_write_fvecs(const char *path, const bench_vecs *v, bench_err *e)
{
    size_t row = 4 + 4 * v->dim;
    if (check_writable(path, v, row, 0, e) != 0)
        return -1;
    unsigned char *buf = malloc(v->n * row);
    if (!buf)
        return bench_err_set(e, "%s: out of memory", path);
    for (size_t i = 0; i < v->n; i++) {
        put_u32(buf + i * row, (uint32_t)v->dim);
        memcpy(buf + i * row + 4, v->x + i * v->dim, 4 * v->dim);
    }
    int rc = bench_write_file_atomic(path, buf, v->n * row, e);
    free(buf);
    return rc;
}

int bench_vecdata_write_npy(const char *path, const bench_vecs *v, bench_err *e)
{
    char dict[128];
    int dn = snprintf(dict, sizeof dict,
                      "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, "
                      "%zu), }",
                      v->n, v->dim);
    /* NumPy pads the header with spaces and a newline so the data starts 64-byte aligned. */
    size_t header = 10 + (size_t)dn + 1;
    header = (header + 63) / 64 * 64;
    if (check_writable(path, v, 4 * v->dim, header, e) != 0)
        return -1;
    size_t total = header + v->n * v->dim * 4;
    unsigned char *buf = malloc(total);
    if (!buf)
        return bench_err_set(e, "%s: out of memory", path);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)((header - 10) & 0xff);
    buf[9] = (unsigned char)((header - 10) >> 8);
    memset(buf + 10, ' ', header - 10);
    memcpy(buf + 10, dict, (size_t)dn);
    buf[header - 1] = '\n';
    memcpy(buf + header, v->x, v->n * v->dim * 4);
    int rc = bench_write_file_atomic(path, buf, total, e);
    free(buf);
    return rc;
}

/* ---- hashing ---------------------------------------------------------------- */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

/* Continues an FNV-1a 64 hash over len more bytes (bench_fnv1a64 starts at FNV_OFFSET). */
static uint64_t fnv_update(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    put_u64(b, v);
    return fnv_update(h, b, 8);
}

uint64_t bench_vecdata_hash(const bench_vecs *v)
{
    uint64_t h = fnv_u64(fnv_u64(FNV_OFFSET, v->n), v->dim);
    return fnv_update(h, v->x, v->n * v->dim * sizeof *v->x);
}

uint64_t bench_vecdata_gt_key(uint64_t data_hash, size_t n_data, uint64_t queries_hash,
                              size_t n_queries, size_t dim, int k, lore_metric metric)
{
    uint64_t h = FNV_OFFSET;
    h = fnv_update(h, "lore-gt/1", 9);
    h = fnv_u64(h, data_hash);
    h = fnv_u64(h, n_data);
    h = fnv_u64(h, queries_hash);
    h = fnv_u64(h, n_queries);
    h = fnv_u64(h, dim);
    h = fnv_u64(h, (uint64_t)k);
    return fnv_u64(h, (uint64_t)metric);
}

/* ---- exact ground truth -------------------------------------------------------- */

/* Queries per GEMM block and data rows per block: 256 x 4096 scores = 4 MiB of scratch. */
#define GT_QUERY_BLOCK 256
#define GT_DATA_BLOCK 4096

typedef struct cand {
    double score; /* larger is better: IP, or -squared distance */
    int64_t id;
} cand;

/* Min-heap on (score, then higher id worse) of a fixed capacity: the root is the worst kept. */
typedef struct heap {
    float *score;
    int64_t *id;
    size_t n, cap;
} heap;

static void heap_push(heap *h, float s, int64_t id)
{
    size_t i;
    if (h->n < h->cap) {
        i = h->n++;
        while (i > 0) {
            size_t parent = (i - 1) / 2;
            if (h->score[parent] <= s)
                break;
            h->score[i] = h->score[parent];
            h->id[i] = h->id[parent];
            i = parent;
        }
    } else {
        if (s <= h->score[0])
            return;
        i = 0;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= h->n)
                break;
            if (c + 1 < h->n && h->score[c + 1] < h->score[c])
                c++;
            if (h->score[c] >= s)
                break;
            h->score[i] = h->score[c];
            h->id[i] = h->id[c];
            i = c;
        }
    }
    h->score[i] = s;
    h->id[i] = id;
}

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static double exact_score(const float *q, const float *x, size_t dim, lore_metric metric)
{
    double s = 0;
    if (metric == LORE_METRIC_IP) {
        for (size_t j = 0; j < dim; j++)
            s += (double)q[j] * x[j];
        return s;
    }
    for (size_t j = 0; j < dim; j++) {
        double d = (double)q[j] - x[j];
        s += d * d;
    }
    return -s;
}

int bench_vecdata_gt_compute(const bench_vecs *data, const bench_vecs *queries, int k,
                             lore_metric metric, int64_t *ids, bench_err *e)
{
    if (k < 1 || data->n < 1 || queries->n < 1 || data->dim != queries->dim ||
        data->dim > INT32_MAX)
        return bench_err_set(e,
                             "ground truth: bad shapes (data %zu x %zu, queries %zu x %zu, "
                             "k %d)",
                             data->n, data->dim, queries->n, queries->dim, k);
    size_t dim = data->dim, n = data->n;
    /* Float GEMM scores may misorder near ties; the double re-rank of a wider
     * candidate set makes the final order exact. */
    size_t n_cand = 2 * (size_t)k + 8;
    if (n_cand > n)
        n_cand = n;
    size_t qb_max = queries->n < GT_QUERY_BLOCK ? queries->n : GT_QUERY_BLOCK;
    size_t db_max = n < GT_DATA_BLOCK ? n : GT_DATA_BLOCK;
    int rc = -1;
    float *qt = malloc(dim * qb_max * sizeof *qt);
    float *st = malloc(db_max * qb_max * sizeof *st);
    float *norms = metric == LORE_METRIC_L2 ? malloc(n * sizeof *norms) : NULL;
    float *hs = malloc(qb_max * n_cand * sizeof *hs);
    int64_t *hi = malloc(qb_max * n_cand * sizeof *hi);
    cand *cs = malloc(n_cand * sizeof *cs);
    heap *heaps = malloc(qb_max * sizeof *heaps);
    if (!qt || !st || (metric == LORE_METRIC_L2 && !norms) || !hs || !hi || !cs || !heaps) {
        bench_err_set(e, "ground truth: out of memory (%zu x %zu data, %zu queries)", n, dim,
                      queries->n);
        goto done;
    }
    if (norms)
        for (size_t i = 0; i < n; i++) {
            double ss = 0;
            for (size_t j = 0; j < dim; j++)
                ss += (double)data->x[i * dim + j] * data->x[i * dim + j];
            norms[i] = (float)ss;
        }
    for (size_t q0 = 0; q0 < queries->n; q0 += qb_max) {
        size_t qb = queries->n - q0 < qb_max ? queries->n - q0 : qb_max;
        /* QT = the block's queries transposed (dim x qb), so S^T = X_block * QT needs no copy
         * of the data. */
        for (size_t i = 0; i < qb; i++) {
            for (size_t j = 0; j < dim; j++)
                qt[j * qb + i] = queries->x[(q0 + i) * dim + j];
            heaps[i] = (heap){.score = hs + i * n_cand, .id = hi + i * n_cand, .cap = n_cand};
        }
        for (size_t d0 = 0; d0 < n; d0 += db_max) {
            size_t db = n - d0 < db_max ? n - d0 : db_max;
            if (lore_blas_sgemm((int)db, (int)qb, (int)dim, data->x + d0 * dim, qt, st) !=
                LORE_OK) {
                bench_err_set(e, "ground truth: %s", lore_last_error());
                goto done;
            }
            for (size_t r = 0; r < db; r++) {
                const float *row = st + r * qb;
                int64_t id = (int64_t)(d0 + r);
                if (metric == LORE_METRIC_IP) {
                    for (size_t i = 0; i < qb; i++)
                        heap_push(&heaps[i], row[i], id);
                } else {
                    /* |q - x|^2 = |q|^2 - 2 q.x + |x|^2; |q|^2 is the same for every x. */
                    for (size_t i = 0; i < qb; i++)
                        heap_push(&heaps[i], 2 * row[i] - norms[d0 + r], id);
                }
            }
        }
        for (size_t i = 0; i < qb; i++) {
            const float *q = queries->x + (q0 + i) * dim;
            size_t nc = heaps[i].n;
            for (size_t c = 0; c < nc; c++) {
                cs[c].id = heaps[i].id[c];
                cs[c].score = exact_score(q, data->x + (size_t)cs[c].id * dim, dim, metric);
            }
            qsort(cs, nc, sizeof *cs, cand_cmp);
            int64_t *out = ids + (q0 + i) * (size_t)k;
            for (size_t c = 0; c < (size_t)k; c++)
                out[c] = c < nc ? cs[c].id : -1;
        }
    }
    rc = 0;
done:
    free(qt);
    free(st);
    free(norms);
    free(hs);
    free(hi);
    free(cs);
    free(heaps);
    return rc;
}

/* ---- ground-truth cache ------------------------------------------------------ */

#define GT_MAGIC "lore-gt\0"
#define GT_VERSION 1u
#define GT_HEADER 48
#define GT_TRAILER 8

static void gt_path(const char *cache_dir, uint64_t key, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%016llx.bin", cache_dir ? cache_dir : BENCH_VECDATA_GT_CACHE_DIR,
             (unsigned long long)key);
}

int bench_vecdata_gt_load(const char *cache_dir, uint64_t key, size_t n_data, size_t n_queries,
                          size_t dim, int k, lore_metric metric, int64_t **ids, bench_err *warn,
                          bench_err *e)
{
    *ids = NULL;
    if (warn)
        warn->msg[0] = '\0';
    char path[4096];
    gt_path(cache_dir, key, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno != ENOENT)
            bench_err_set(warn, "%s: cannot open: %s", path, strerror(errno));
        return 0;
    }
    if (n_queries > (SIZE_MAX - GT_HEADER - GT_TRAILER) / 8 / (size_t)k) {
        fclose(f);
        return bench_err_set(e, "ground truth: %zu queries x k %d is too large", n_queries, k);
    }
    size_t want = GT_HEADER + n_queries * (size_t)k * 8 + GT_TRAILER;
    unsigned char *buf = malloc(want + 1);
    int64_t *out = malloc(n_queries * (size_t)k * sizeof *out);
    if (!buf || !out) {
        free(buf);
        free(out);
        fclose(f);
        return bench_err_set(e, "ground truth: out of memory loading %s", path);
    }
    /* One byte more than expected: a longer file is as wrong as a shorter one. */
    size_t got = fread(buf, 1, want + 1, f);
    bool read_error = ferror(f);
    fclose(f);
    const char *why = NULL;
    char detail[160] = "";
    if (read_error) {
        why = "read error";
    } else if (got != want) {
        snprintf(detail, sizeof detail, "%s: expected %zu bytes",
                 got > want ? "too long" : "truncated", want);
        why = detail;
    } else if (memcmp(buf, GT_MAGIC, 8) != 0) {
        why = "bad magic (not a ground-truth cache file)";
    } else if (get_u32(buf + 8) != GT_VERSION) {
        snprintf(detail, sizeof detail, "version %u, this build reads %u", get_u32(buf + 8),
                 GT_VERSION);
        why = detail;
    } else if (get_u64(buf + want - GT_TRAILER) != bench_fnv1a64(buf, want - GT_TRAILER)) {
        why = "checksum mismatch";
    } else if (get_u32(buf + 12) != (uint32_t)k || get_u64(buf + 16) != n_queries ||
               get_u64(buf + 24) != n_data || get_u64(buf + 32) != key ||
               get_u32(buf + 40) != (uint32_t)metric || get_u32(buf + 44) != dim) {
        why = "its header describes another computation";
    }
    if (!why)
        for (size_t i = 0; i < n_queries * (size_t)k; i++) {
            int64_t id = (int64_t)get_u64(buf + GT_HEADER + 8 * i);
            if (id < -1 || id >= (int64_t)n_data) {
                snprintf(detail, sizeof detail, "id %lld at slot %zu is out of range",
                         (long long)id, i);
                why = detail;
                break;
            }
            out[i] = id;
        }
    free(buf);
    if (why) {
        free(out);
        bench_err_set(warn, "%s: %s", path, why);
        return 0;
    }
    *ids = out;
    return 1;
}

int bench_vecdata_gt_store(const char *cache_dir, uint64_t key, size_t n_data, size_t n_queries,
                           size_t dim, int k, lore_metric metric, const int64_t *ids, bench_err *e)
{
    const char *dir = cache_dir ? cache_dir : BENCH_VECDATA_GT_CACHE_DIR;
    if (bench_mkdir_p(dir, e) != 0)
        return -1;
    char path[4096];
    gt_path(cache_dir, key, path, sizeof path);
    size_t n_ids = n_queries * (size_t)k;
    size_t total = GT_HEADER + n_ids * 8 + GT_TRAILER;
    unsigned char *buf = malloc(total);
    if (!buf)
        return bench_err_set(e, "%s: out of memory", path);
    memcpy(buf, GT_MAGIC, 8);
    put_u32(buf + 8, GT_VERSION);
    put_u32(buf + 12, (uint32_t)k);
    put_u64(buf + 16, n_queries);
    put_u64(buf + 24, n_data);
    put_u64(buf + 32, key);
    put_u32(buf + 40, (uint32_t)metric);
    put_u32(buf + 44, (uint32_t)dim);
    for (size_t i = 0; i < n_ids; i++)
        put_u64(buf + GT_HEADER + 8 * i, (uint64_t)ids[i]);
    put_u64(buf + total - GT_TRAILER, bench_fnv1a64(buf, total - GT_TRAILER));
    int rc = bench_write_file_atomic(path, buf, total, e);
    free(buf);
    return rc;
}

int bench_vecdata_groundtruth(const bench_vecs *data, const bench_vecs *queries, int k,
                              lore_metric metric, const char *cache_dir, int64_t **ids,
                              bool *cached, bench_err *e)
{
    *ids = NULL;
    if (cached)
        *cached = false;
    uint64_t key =
        bench_vecdata_gt_key(bench_vecdata_hash(data), data->n, bench_vecdata_hash(queries),
                             queries->n, data->dim, k, metric);
    bench_err warn;
    int hit = bench_vecdata_gt_load(cache_dir, key, data->n, queries->n, data->dim, k, metric, ids,
                                    &warn, e);
    if (hit < 0)
        return -1;
    if (hit) {
        if (cached)
            *cached = true;
        return 0;
    }
    if (warn.msg[0])
        fprintf(stderr, "lore-bench: warning: ground-truth cache %s; recomputing it\n", warn.msg);
    int64_t *out = malloc(queries->n * (size_t)k * sizeof *out);
    if (!out)
        return bench_err_set(e, "ground truth: out of memory");
    if (bench_vecdata_gt_compute(data, queries, k, metric, out, e) != 0) {
        free(out);
        return -1;
    }
    if (bench_vecdata_gt_store(cache_dir, key, data->n, queries->n, data->dim, k, metric, out,
                               &warn) != 0)
        fprintf(stderr, "lore-bench: warning: ground truth not cached: %s\n", warn.msg);
    *ids = out;
    return 0;
}

/* ---- recall ------------------------------------------------------------------- */

static int id_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int bench_vecdata_recall(const int64_t *found, const int64_t *truth, size_t n_queries, int k,
                         double *recall, bench_err *e)
{
    *recall = 0;
    if (k < 1 || n_queries < 1)
        return bench_err_set(e, "recall: needs k >= 1 and queries (got k %d, %zu queries)", k,
                             n_queries);
    int64_t *sorted = malloc((size_t)k * sizeof *sorted);
    if (!sorted)
        return bench_err_set(e, "recall: out of memory");
    double sum = 0;
    size_t counted = 0;
    for (size_t q = 0; q < n_queries; q++) {
        const int64_t *f = found + q * (size_t)k, *t = truth + q * (size_t)k;
        memcpy(sorted, f, (size_t)k * sizeof *sorted);
        qsort(sorted, (size_t)k, sizeof *sorted, id_cmp);
        size_t n_true = 0, hits = 0;
        for (int i = 0; i < k; i++) {
            if (t[i] < 0)
                continue;
            n_true++;
            /* Truth ids are distinct, so each found id matches at most one of them. */
            if (bsearch(&t[i], sorted, (size_t)k, sizeof *sorted, id_cmp))
                hits++;
        }
        if (n_true == 0)
            continue; /* nothing to find: the query does not count */
        sum += (double)hits / (double)n_true;
        counted++;
    }
    free(sorted);
    *recall = counted ? sum / (double)counted : 1.0;
    return 0;
}
