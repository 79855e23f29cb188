/*
 * hist.h - log-linear histograms of durations in ns, HDR-style: values
 * below 128 are counted exactly, larger ones in 128 buckets per power of
 * two, so a quantile is off by at most 1/128 (< 0.8%) of its value.  The
 * 58 rows of 128 counters are allocated as values land in them: a
 * histogram of durations between 1 us and 1 s holds about 11 KiB.
 */
#ifndef GT_HIST_H
#define GT_HIST_H

#include <stdint.h>

#define GT_HIST_ROW 128 /* buckets per row: 2^7 */
#define GT_HIST_ROWS 58 /* row 0: 0..127; row r: [128, 256) << (r - 1) */
#define GT_HIST_OCTAVES 65 /* gt_hist_octaves: 0, then [2^k, 2^(k+1)) */

struct gt_hist {
	uint64_t n, sum, min, max; /* sum saturates at UINT64_MAX */
	uint64_t *row[GT_HIST_ROWS];
};

/* 0, or -1 when out of memory (the histogram is unchanged). */
int gt_hist_add(struct gt_hist *h, uint64_t v);
/* The q-quantile (0 < q <= 1): the smallest bucket holding at least
 * ceil(q * n) values, as its midpoint clamped to [min, max]; 0 if empty. */
uint64_t gt_hist_quantile(const struct gt_hist *h, double q);
uint64_t gt_hist_mean(const struct gt_hist *h);
/* Counts per power of two: out[0] for value 0, out[k + 1] for values in
 * [2^k, 2^(k+1)). */
void gt_hist_octaves(const struct gt_hist *h, uint64_t out[GT_HIST_OCTAVES]);
void gt_hist_free(struct gt_hist *h);

#endif
