/*
 * chan.c - channels, with Go's semantics.
 *
 * One spin lock per channel.  A value is copied (elem_size bytes) from the
 * sender's buffer to the receiver's; an unbuffered channel hands it over
 * directly from one party's stack to the other's, and a buffered channel
 * does the same whenever a receiver is already waiting (the buffer is then
 * empty) or a sender is waiting (the buffer is then full: the receiver
 * takes the oldest value and moves the sender's into the freed slot, so
 * FIFO order holds).  A blocked party waits on the channel's send or
 * receive list (waiter.c); the active party claims it, copies, finishes.
 */
#include <errno.h>
#include <string.h>

#include "green-internal.h"

static void
copy(void *dst, const void *src, size_t n)
{
	if (n != 0 && dst != NULL)
		green__memcpy(dst, src, n);
}

static char *
slot(struct green_chan *ch, size_t i)
{
	return ch->buf + ((ch->head + i) % ch->cap) * ch->elem_size;
}

/*
 * Channel structs are type-stable, like task structs: they come from chunks
 * that are never freed, through a worker's cache and a global free list, so
 * a destroyed channel's handle still reads a channel struct, whose
 * generation no longer matches (handle.h).  The value buffer is allocated
 * apart and freed by green_chan_destroy.
 */
#define CHAN_CHUNK 64 /* structs per chunk */
#define CHAN_CACHE 64 /* free structs a worker keeps */

struct chan_chunk {
	struct chan_chunk *next;
	struct green_chan chans[CHAN_CHUNK];
};

static pthread_mutex_t chan_lock = PTHREAD_MUTEX_INITIALIZER;
static struct chan_chunk *chan_chunks; /* under chan_lock; kept for good */
static struct green_chan *chan_free;   /* under chan_lock */

/* Under chan_lock: a new chunk's structs onto chan_free (false: no
 * memory). */
static bool
chunk_add(void)
{
	struct chan_chunk *c = green__calloc(sizeof(*c));

	if (c == NULL)
		return false;
	for (size_t i = 0; i < CHAN_CHUNK; i++) {
		c->chans[i].gen = 1;
		c->chans[i].free_next = chan_free;
		chan_free = &c->chans[i];
	}
	c->next = chan_chunks;
	chan_chunks = c;
	return true;
}

static struct green_chan *
chan_alloc(void)
{
	struct green_worker *w = green__worker();
	struct green_chan *ch;

	if (w != NULL && (ch = w->free_chans) != NULL) {
		w->free_chans = ch->free_next;
		w->nfree_chans--;
		return ch;
	}
	green__lock(&chan_lock);
	if ((ch = chan_free) != NULL || (chunk_add() && (ch = chan_free)))
		chan_free = ch->free_next;
	green__unlock(&chan_lock);
	return ch;
}

static void
chan_release(struct green_chan *ch)
{
	struct green_worker *w = green__worker();

	if (w != NULL && w->nfree_chans < CHAN_CACHE) {
		ch->free_next = w->free_chans;
		w->free_chans = ch;
		w->nfree_chans++;
		return;
	}
	green__lock(&chan_lock);
	ch->free_next = chan_free;
	chan_free = ch;
	green__unlock(&chan_lock);
}

/* At shutdown: w's cached structs go back to the global list. */
void
green__chan_cache_drain(struct green_worker *w)
{
	struct green_chan *ch;

	green__lock(&chan_lock);
	while ((ch = w->free_chans) != NULL) {
		w->free_chans = ch->free_next;
		ch->free_next = chan_free;
		chan_free = ch;
	}
	w->nfree_chans = 0;
	green__unlock(&chan_lock);
}

/* The struct handle h names, not yet checked (NULL: no channel at all).
 * Check it with green__chan_matches under its lock. */
struct green_chan *
green__chan_of(const green_chan_t *h)
{
	if (green__handle_gen(h) == 0)
		return NULL;
	return green__handle_obj(h);
}

/* Under ch->lock: whether ch is still the channel h named (not
 * destroyed). */
bool
green__chan_matches(const struct green_chan *ch, const green_chan_t *h)
{
	return ch->gen == green__handle_gen(h);
}

/* Lock the channel h names; NULL (nothing locked) when there is none.
 * always_inline: on every channel operation. */
static inline __attribute__((always_inline)) struct green_chan *
chan_lock_handle(const green_chan_t *h)
{
	struct green_chan *ch = green__chan_of(h);

	if (ch == NULL)
		return NULL;
	green__spin_lock(&ch->lock);
	if (green__chan_matches(ch, h))
		return ch;
	green__spin_unlock(&ch->lock);
	return NULL;
}

int
green_chan_create(green_chan_t **chp, size_t elem_size, size_t capacity)
{
	struct green_chan *ch;
	size_t bytes;
	char *buf = NULL;

	if (chp == NULL)
		return -EINVAL;
	if (__builtin_mul_overflow(elem_size, capacity, &bytes) ||
	    bytes > SIZE_MAX / 2)
		return -EINVAL;
	if (bytes != 0 && (buf = green__alloc(bytes)) == NULL)
		return -ENOMEM;
	if ((ch = chan_alloc()) == NULL) {
		green__free(buf, bytes);
		return -ENOMEM;
	}
	/* lock, gen: a free struct is unlocked, and a stale handle's call
	 * may hold the lock for a moment to read gen, which only destroy
	 * writes; the rest is ours */
	ch->closed = false;
	ch->elem_size = elem_size;
	ch->cap = capacity;
	ch->len = 0;
	ch->head = 0;
	ch->buf = buf;
	ch->sendq_head = ch->sendq_tail = NULL;
	ch->recvq_head = ch->recvq_tail = NULL;
	*chp = green__handle(ch, ch->gen);
	return 0;
}

int
green_chan_destroy(green_chan_t *h)
{
	struct green_chan *ch = chan_lock_handle(h);

	if (ch == NULL)
		return -EINVAL;
	if (ch->sendq_head != NULL || ch->recvq_head != NULL) {
		green__spin_unlock(&ch->lock);
		return -EBUSY;
	}
	ch->gen = green__gen_next(ch->gen);
	green__spin_unlock(&ch->lock);
	green__free(ch->buf, ch->cap * ch->elem_size);
	chan_release(ch);
	return 0;
}

struct handover {
	struct green_chan *ch;
	void *elem;
};

/* A sender's value goes straight into a waiting receiver's buffer. */
static void
fill_receiver(struct green__waiter *w, void *arg)
{
	struct handover *h = arg;

	copy(w->elem, h->elem, h->ch->elem_size);
}

/* An unbuffered receiver takes a waiting sender's value. */
static void
take_from_sender(struct green__waiter *w, void *arg)
{
	struct handover *h = arg;

	copy(h->elem, w->elem, h->ch->elem_size);
}

/*
 * Under ch->lock: send elem if that needs no waiting.  Returns 1 when
 * sent, -EPIPE when ch is closed, 0 when the sender would have to wait.
 */
int
green__chan_try_send(struct green_chan *ch, const void *elem)
{
	struct handover h = { ch, (void *)elem };

	if (ch->closed)
		return -EPIPE;
	/* the list's head tested here: no call for an empty list */
	if (ch->len == 0 && ch->recvq_head != NULL &&
	    green__waitq_wake(&ch->recvq_head, &ch->recvq_tail, fill_receiver,
			      &h, 0) != NULL)
		return 1;
	if (ch->len < ch->cap) {
		copy(slot(ch, ch->len), elem, ch->elem_size);
		ch->len++;
		return 1;
	}
	return 0;
}

/*
 * Under ch->lock: receive into elem (NULL: discard) if that needs no
 * waiting.  Returns 1 when received, -EPIPE when ch is closed and
 * drained, 0 when the receiver would have to wait.
 */
int
green__chan_try_recv(struct green_chan *ch, void *elem)
{
	struct handover h = { ch, elem };
	struct green__waiter *w;

	if (ch->cap == 0 && ch->sendq_head != NULL &&
	    green__waitq_wake(&ch->sendq_head, &ch->sendq_tail,
			      take_from_sender, &h, 0) != NULL)
		return 1;
	if (ch->cap != 0 && ch->len == ch->cap &&
	    (w = green__waitq_claim(&ch->sendq_head, &ch->sendq_tail))) {
		/* full: take the oldest, the sender's value goes last; the
		 * ring changes only once the sender is ours */
		copy(elem, slot(ch, 0), ch->elem_size);
		copy(slot(ch, 0), w->elem, ch->elem_size);
		ch->head = (ch->head + 1) % ch->cap;
		green__waiter_finish(w, 0);
		return 1;
	}
	if (ch->len > 0) {
		copy(elem, slot(ch, 0), ch->elem_size);
		ch->head = (ch->head + 1) % ch->cap;
		ch->len--;
		return 1;
	}
	return ch->closed ? -EPIPE : 0;
}

/* Under ch->lock: list w (w->is_send says which list). */
void
green__chan_enqueue(struct green_chan *ch, struct green__waiter *w)
{
	if (w->is_send)
		green__waitq_push(&ch->sendq_head, &ch->sendq_tail, w);
	else
		green__waitq_push(&ch->recvq_head, &ch->recvq_tail, w);
}

/* Under ch->lock: unlist w if a waker did not. */
void
green__chan_dequeue(struct green_chan *ch, struct green__waiter *w)
{
	if (w->is_send)
		green__waitq_remove(&ch->sendq_head, &ch->sendq_tail, w);
	else
		green__waitq_remove(&ch->recvq_head, &ch->recvq_tail, w);
}

/* Block on ch for one send or receive; see green_chan_send/recv. */
static int
chan_wait(struct green_chan *ch, void *elem, bool is_send, int64_t deadline)
{
	struct green__waiter w;
	int r;

	green__waiter_init(&w, green__self());
	w.elem = elem;
	w.is_send = is_send;
	green__chan_enqueue(ch, &w);
	r = green__wait(&w, is_send ? GREEN_WAIT_CHAN_SEND
				    : GREEN_WAIT_CHAN_RECV,
			ch, green__unlock_spin, &ch->lock, deadline, 0);
	if (r != 0 && r != -EPIPE) {
		/* a deadline or a cancellation won: nobody touched w */
		green__spin_lock(&ch->lock);
		green__chan_dequeue(ch, &w);
		green__spin_unlock(&ch->lock);
	}
	return r;
}

int
green_chan_send(green_chan_t *h, const void *elem, int64_t deadline)
{
	struct green_chan *ch;
	int r;

	if (deadline < -1 || (ch = chan_lock_handle(h)) == NULL)
		return -EINVAL;
	if (elem == NULL && ch->elem_size != 0) {
		green__spin_unlock(&ch->lock);
		return -EINVAL;
	}
	r = green__chan_try_send(ch, elem);
	if (r != 0) {
		green__spin_unlock(&ch->lock);
		return r < 0 ? r : 0;
	}
	if (deadline == 0) {
		green__spin_unlock(&ch->lock);
		return -ETIMEDOUT;
	}
	return chan_wait(ch, (void *)elem, true, deadline);
}

int
green_chan_recv(green_chan_t *h, void *elem, int64_t deadline)
{
	struct green_chan *ch;
	int r;

	if (deadline < -1 || (ch = chan_lock_handle(h)) == NULL)
		return -EINVAL;
	r = green__chan_try_recv(ch, elem);
	if (r != 0) {
		green__spin_unlock(&ch->lock);
		return r < 0 ? r : 0;
	}
	if (deadline == 0) {
		green__spin_unlock(&ch->lock);
		return -ETIMEDOUT;
	}
	return chan_wait(ch, elem, false, deadline);
}

int
green_chan_close(green_chan_t *h)
{
	struct green_chan *ch = chan_lock_handle(h);
	struct green__waiter *w;

	if (ch == NULL)
		return -EINVAL;
	if (ch->closed) {
		green__spin_unlock(&ch->lock);
		return -EPIPE;
	}
	ch->closed = true;
	while ((w = green__waitq_claim(&ch->recvq_head, &ch->recvq_tail)))
		green__waiter_finish(w, -EPIPE);
	while ((w = green__waitq_claim(&ch->sendq_head, &ch->sendq_tail)))
		green__waiter_finish(w, -EPIPE);
	green__spin_unlock(&ch->lock);
	return 0;
}

/* The buffered count (or the capacity) of the channel h names. */
static ssize_t
chan_count(const green_chan_t *h, bool capacity)
{
	struct green_chan *ch = chan_lock_handle(h);
	ssize_t n;

	if (ch == NULL)
		return -EINVAL;
	n = (ssize_t)(capacity ? ch->cap : ch->len);
	green__spin_unlock(&ch->lock);
	return n;
}

ssize_t
green_chan_len(const green_chan_t *h)
{
	return chan_count(h, false);
}

ssize_t
green_chan_cap(const green_chan_t *h)
{
	return chan_count(h, true);
}
