/*
 * hist.c - log-linear histograms (see hist.h).
 */
#include <stdlib.h>

#include "hist.h"

/* The bucket of v: row and column. */
static void
locate(uint64_t v, unsigned *row, unsigned *col)
{
	unsigned shift;

	if (v < GT_HIST_ROW) {
		*row = 0;
		*col = (unsigned)v;
		return;
	}
	/* v has 64 - clz bits; keep the top 8 (1 + 7 of precision). */
	shift = (unsigned)(64 - __builtin_clzll(v)) - 8;
	*row = shift + 1;
	*col = (unsigned)(v >> shift) - GT_HIST_ROW;
}

static uint64_t
bucket_low(unsigned row, unsigned col)
{
	if (row == 0)
		return col;
	return (uint64_t)(GT_HIST_ROW + col) << (row - 1);
}

static uint64_t
bucket_width(unsigned row)
{
	return row == 0 ? 1 : (uint64_t)1 << (row - 1);
}

int
gt_hist_add(struct gt_hist *h, uint64_t v)
{
	unsigned row, col;

	locate(v, &row, &col);
	if (h->row[row] == NULL) {
		h->row[row] = calloc(GT_HIST_ROW, sizeof(uint64_t));
		if (h->row[row] == NULL)
			return -1;
	}
	h->row[row][col]++;
	if (h->n == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->n++;
	h->sum = v > UINT64_MAX - h->sum ? UINT64_MAX : h->sum + v;
	return 0;
}

uint64_t
gt_hist_quantile(const struct gt_hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->n == 0)
		return 0;
	if (!(q > 0))
		return h->min;
	if (q >= 1)
		return h->max;
	rank = (uint64_t)(q * (double)h->n);
	if ((double)rank < q * (double)h->n)
		rank++;
	if (rank == 0)
		rank = 1;
	for (unsigned r = 0; r < GT_HIST_ROWS; r++) {
		if (h->row[r] == NULL)
			continue;
		for (unsigned c = 0; c < GT_HIST_ROW; c++) {
			uint64_t v;

			seen += h->row[r][c];
			if (seen < rank)
				continue;
			v = bucket_low(r, c) + bucket_width(r) / 2;
			return v < h->min ? h->min : v > h->max ? h->max : v;
		}
	}
	return h->max;
}

uint64_t
gt_hist_mean(const struct gt_hist *h)
{
	return h->n ? h->sum / h->n : 0;
}

void
gt_hist_octaves(const struct gt_hist *h, uint64_t out[GT_HIST_OCTAVES])
{
	for (unsigned k = 0; k < GT_HIST_OCTAVES; k++)
		out[k] = 0;
	for (unsigned r = 0; r < GT_HIST_ROWS; r++) {
		if (h->row[r] == NULL)
			continue;
		for (unsigned c = 0; c < GT_HIST_ROW; c++) {
			uint64_t v = bucket_low(r, c);
			unsigned k = v ? (unsigned)(64 - __builtin_clzll(v)) : 0;

			out[k] += h->row[r][c];
		}
	}
}

void
gt_hist_free(struct gt_hist *h)
{
	for (unsigned r = 0; r < GT_HIST_ROWS; r++) {
		free(h->row[r]);
		h->row[r] = NULL;
	}
}
