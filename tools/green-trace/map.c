/*
 * map.c - hash map from uint64_t to pointers (see map.h).
 */
#include <stdlib.h>

#include "map.h"

/* A 64-bit mixer (splitmix64's finaliser): task ids are sequential and
 * function addresses aligned, so the low bits alone would cluster. */
static size_t
slot_of(const struct gt_map *m, uint64_t key)
{
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ull;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebull;
	key ^= key >> 31;
	return (size_t)key & (m->cap - 1);
}

static size_t
find(const struct gt_map *m, uint64_t key)
{
	size_t i = slot_of(m, key);

	while (m->vals[i] != NULL && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

void *
gt_map_get(const struct gt_map *m, uint64_t key)
{
	return m->cap ? m->vals[find(m, key)] : NULL;
}

static int
grow(struct gt_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct gt_map nm = {.cap = cap};

	if (cap > SIZE_MAX / sizeof(void *) / 2)
		return -1;
	nm.keys = malloc(cap * sizeof(*nm.keys));
	nm.vals = calloc(cap, sizeof(*nm.vals));
	if (nm.keys == NULL || nm.vals == NULL) {
		free(nm.keys);
		free(nm.vals);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (m->vals[i] != NULL) {
			size_t j = find(&nm, m->keys[i]);

			nm.keys[j] = m->keys[i];
			nm.vals[j] = m->vals[i];
		}
	}
	nm.n = m->n;
	free(m->keys);
	free(m->vals);
	*m = nm;
	return 0;
}

int
gt_map_put(struct gt_map *m, uint64_t key, void *val)
{
	size_t i;

	/* Keep the load under 3/4. */
	if ((m->n + 1) * 4 > m->cap * 3 && grow(m) != 0)
		return -1;
	i = find(m, key);
	if (m->vals[i] == NULL)
		m->n++;
	m->keys[i] = key;
	m->vals[i] = val;
	return 0;
}

void *
gt_map_del(struct gt_map *m, uint64_t key)
{
	size_t i, j, mask = m->cap - 1;
	void *val;

	if (m->cap == 0 || (val = m->vals[i = find(m, key)]) == NULL)
		return NULL;
	m->vals[i] = NULL;
	m->n--;
	/* Move back any later entry of the run whose home slot is not
	 * between the hole and it, so lookups never hit a false end. */
	for (j = (i + 1) & mask; m->vals[j] != NULL; j = (j + 1) & mask) {
		size_t home = slot_of(m, m->keys[j]);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			m->vals[j] = NULL;
			i = j;
		}
	}
	return val;
}

void *
gt_map_next(const struct gt_map *m, size_t *pos, uint64_t *key)
{
	for (; *pos < m->cap; (*pos)++) {
		if (m->vals[*pos] != NULL) {
			if (key != NULL)
				*key = m->keys[*pos];
			return m->vals[(*pos)++];
		}
	}
	return NULL;
}

void
gt_map_free(struct gt_map *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->n = 0;
}
