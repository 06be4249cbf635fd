/* The bag sum of dassdp.rules.kernels.bag_sum_into for float32, written with AVX-512 intrinsics
 * (dassdp.rules.native compiles it on first use). Same result up to the order of float additions:
 *
 *     out[o, n] (out[n, o] if transposed) = sum_b g_b table[bag[b, o], other[b, n]]
 *                                         = sum_b g_b E[r, p_bn] + sum_{b: bag[b, o] != r} g_b D[bag[b, o], p_bn]
 *
 * with r = nbins - 2 the silent bin and D[q, .] = E[q, .] - E[r, .]; with add, out[.] instead
 * gets clip(sum, -clip, clip) added (the plug-in's update of a linear layer's weight). What numba cannot express and
 * this does: a bag neuron's sum over its rows is held in eight vector registers (128 floats at a
 * time) instead of being loaded and stored for every row, and a transposed tile is written by
 * 16 x 16 in-register transposes instead of one float at a time. A tile's rows are picked from
 * 16 consecutive bins of each sample, so the bag side needs no transposed copy.
 *
 * Scratch from the caller: rows [nb * S, nn] (S: bins other than r that occur), picked [TILE, nb]
 * (int32) and acc [TILE + 1, nn]. */
#include <stdint.h>
#include <string.h>

#define TILE 16

#ifdef __AVX512F__
#include <immintrin.h>

int dassdp_has_avx512(void) { return 1; }

/* TILE, which must equal dassdp.rules.kernels.TILE: the caller sizes picked and acc by it. */
int dassdp_tile(void) { return TILE; }

/* Transpose the 16 x 16 block held in r[0..15] (row k = r[k]). */
static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
        __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int i = 0; i < 8; i++) {
        int a = (i / 4) * 8 + i % 4, b = a + 4;
        t[a] = _mm512_shuffle_f32x4(r[a], r[b], 0x88);
        t[b] = _mm512_shuffle_f32x4(r[a], r[b], 0xdd);
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}

static inline float clipped(float x, float clip) { return x < -clip ? -clip : (x > clip ? clip : x); }

/* a[0..nn) = base + the rows listed in picked[0..m), eight vectors at a time. */
static void sum_rows(int64_t nn, const float *base, const float *rows, const int32_t *picked, int64_t m, float *a) {
    int64_t n0 = 0;
    for (; n0 + 128 <= nn; n0 += 128) {
        __m512 x[8];
        for (int l = 0; l < 8; l++) x[l] = _mm512_loadu_ps(base + n0 + 16 * l);
        for (int64_t k = 0; k < m; k++) {
            const float *row = rows + (int64_t)picked[k] * nn + n0;
            for (int l = 0; l < 8; l++) x[l] = _mm512_add_ps(x[l], _mm512_loadu_ps(row + 16 * l));
        }
        for (int l = 0; l < 8; l++) _mm512_storeu_ps(a + n0 + 16 * l, x[l]);
    }
    for (; n0 + 16 <= nn; n0 += 16) {
        __m512 x = _mm512_loadu_ps(base + n0);
        for (int64_t k = 0; k < m; k++) x = _mm512_add_ps(x, _mm512_loadu_ps(rows + (int64_t)picked[k] * nn + n0));
        _mm512_storeu_ps(a + n0, x);
    }
    for (; n0 < nn; n0++) {
        float x = base[n0];
        for (int64_t k = 0; k < m; k++) x += rows[(int64_t)picked[k] * nn + n0];
        a[n0] = x;
    }
}

void dassdp_bag_sum_f32(int64_t nb, int64_t no, int64_t nn, const int32_t *bag, const uint8_t *seen,
                        const int32_t *other, const float *g, const float *table, int64_t nbins, float *rows,
                        int32_t *picked, float *acc, float *out, int64_t transposed, int64_t add, float clip) {
    int64_t ref = nbins - 2, slot[64], ns = 0;
    if (nbins > 64) return;  /* the caller uses the numba kernel then */
    for (int64_t q = 0; q < nbins; q++) slot[q] = (seen[q] && q != ref) ? ns++ : -1;
    float *base = acc + TILE * nn;  /* sum_b g_b E[r, p_b.] */
    memset(base, 0, sizeof(float) * nn);
    for (int64_t b = 0; b < nb; b++) {
        const float gb = g[b], *silent = table + ref * nbins;
        const int32_t *ob = other + b * nn;
        for (int64_t n = 0; n < nn; n++) base[n] += gb * silent[ob[n]];
        for (int64_t q = 0; q < nbins; q++) {
            if (slot[q] < 0) continue;
            const float *tq = table + q * nbins;
            float *row = rows + (b * ns + slot[q]) * nn;
            for (int64_t n = 0; n < nn; n++) row[n] = gb * (tq[ob[n]] - silent[ob[n]]);
        }
    }
    for (int64_t o0 = 0; o0 < no; o0 += TILE) {
        const int64_t width = no - o0 < TILE ? no - o0 : TILE;
        int64_t count[TILE] = {0};
        for (int64_t b = 0; b < nb; b++) {  /* the rows to add, without a branch */
            const int32_t *bins = bag + b * no + o0;
            for (int64_t k = 0; k < width; k++) {
                const int64_t s = slot[bins[k]];
                picked[k * nb + count[k]] = (int32_t)(b * ns + s);
                count[k] += s >= 0;
            }
        }
        for (int64_t k = 0; k < width; k++) sum_rows(nn, base, rows, picked + k * nb, count[k], acc + k * nn);
        if (!transposed) {
            if (add) {
                for (int64_t i = 0; i < width * nn; i++) out[o0 * nn + i] += clipped(acc[i], clip);
            } else {
                memcpy(out + o0 * nn, acc, sizeof(float) * width * nn);
            }
            continue;
        }
        int64_t n0 = 0;
        if (width == TILE) {
            const __m512 lo = _mm512_set1_ps(-clip), hi = _mm512_set1_ps(clip);
            for (; n0 + 16 <= nn; n0 += 16) {
                __m512 r[16];
                for (int k = 0; k < 16; k++) r[k] = _mm512_loadu_ps(acc + k * nn + n0);
                transpose16(r);
                for (int l = 0; l < 16; l++) {
                    float *dst = out + (n0 + l) * no + o0;
                    if (add) r[l] = _mm512_add_ps(_mm512_loadu_ps(dst), _mm512_min_ps(_mm512_max_ps(r[l], lo), hi));
                    _mm512_storeu_ps(dst, r[l]);
                }
            }
        }
        for (; n0 < nn; n0++)
            for (int64_t k = 0; k < width; k++) {
                float *dst = out + n0 * no + o0 + k;
                *dst = add ? *dst + clipped(acc[k * nn + n0], clip) : acc[k * nn + n0];
            }
    }
}
#else
int dassdp_has_avx512(void) { return 0; }
#endif
