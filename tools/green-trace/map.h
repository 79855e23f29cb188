/*
 * map.h - a hash map from 64-bit keys to pointers: open addressing, linear
 * probing, deletion by backward shift (no tombstones, so a map whose
 * entries come and go, like the live tasks, never degrades).  Values are
 * owned by the caller; NULL values are not allowed.
 */
#ifndef GT_MAP_H
#define GT_MAP_H

#include <stddef.h>
#include <stdint.h>

struct gt_map {
	uint64_t *keys;
	void **vals; /* NULL: empty slot */
	size_t cap, n;
};

void *gt_map_get(const struct gt_map *m, uint64_t key);
/* 0, or -1 when out of memory.  Replaces an existing value. */
int gt_map_put(struct gt_map *m, uint64_t key, void *val);
/* The removed value, or NULL. */
void *gt_map_del(struct gt_map *m, uint64_t key);
/* Iterate: start with *pos = 0; NULL at the end. */
void *gt_map_next(const struct gt_map *m, size_t *pos, uint64_t *key);
void gt_map_free(struct gt_map *m);

#endif
