/*
 * handle.h - public handles: an object's address and its generation.
 *
 * A green_task_t * or green_chan_t * that a user holds is the address of a
 * type-stable struct (it is never given back to the system while the
 * process runs) with the struct's 16-bit generation in the bits above the
 * 48 of a user-space address.  Freeing the struct (a join, a destroy)
 * advances its generation, so a stale handle no longer matches the struct,
 * even once the struct serves a new object; generation 0 is never handed
 * out, so a struct whose memory was given back (zero) matches nothing.  A
 * stale handle goes undetected only when its struct was reused a multiple
 * of 65,535 times since.  (DECISIONS, "Handles".)
 */
#ifndef GREEN_HANDLE_H
#define GREEN_HANDLE_H

#include <stdint.h>

#define GREEN_HANDLE_SHIFT 48
#define GREEN_HANDLE_ADDR (((uintptr_t)1 << GREEN_HANDLE_SHIFT) - 1)

/* The handle for the struct at obj, of generation gen. */
static inline void *
green__handle(const void *obj, uint16_t gen)
{
	return (void *)((uintptr_t)obj | (uintptr_t)gen << GREEN_HANDLE_SHIFT);
}

/* The struct a handle names (not yet checked). */
static inline void *
green__handle_obj(const void *h)
{
	return (void *)((uintptr_t)h & GREEN_HANDLE_ADDR);
}

/* The generation a handle was made with. */
static inline uint16_t
green__handle_gen(const void *h)
{
	return (uint16_t)((uintptr_t)h >> GREEN_HANDLE_SHIFT);
}

/* The generation after gen: never 0. */
static inline uint16_t
green__gen_next(uint16_t gen)
{
	return gen == UINT16_MAX ? 1 : (uint16_t)(gen + 1);
}

#endif
