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

int
green_chan_create(green_chan_t **chp, size_t elem_size, size_t capacity)
{
	struct green_chan *ch;
	size_t bytes;

	if (chp == NULL)
		return -EINVAL;
	if (__builtin_mul_overflow(elem_size, capacity, &bytes) ||
	    bytes > SIZE_MAX / 2)
		return -EINVAL;
	ch = green__calloc(sizeof(*ch));
	if (ch == NULL)
		return -ENOMEM;
	if (bytes != 0 && (ch->buf = green__alloc(bytes)) == NULL) {
		green__free(ch, sizeof(*ch));
		return -ENOMEM;
	}
	ch->elem_size = elem_size;
	ch->cap = capacity;
	ch->magic = GREEN_CHAN_MAGIC;
	*chp = ch;
	return 0;
}

int
green_chan_destroy(green_chan_t *ch)
{
	bool busy;

	if (ch == NULL)
		return -EINVAL;
	green__spin_lock(&ch->lock);
	busy = ch->sendq_head != NULL || ch->recvq_head != NULL;
	if (!busy)
		ch->magic = 0;
	green__spin_unlock(&ch->lock);
	if (busy)
		return -EBUSY;
	green__free(ch->buf, ch->cap * ch->elem_size);
	green__free(ch, sizeof(*ch));
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
	if (ch->len == 0 &&
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

	if (ch->cap == 0 &&
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
green_chan_send(green_chan_t *ch, const void *elem, int64_t deadline)
{
	int r;

	if (ch == NULL || (elem == NULL && ch->elem_size != 0) ||
	    deadline < -1)
		return -EINVAL;
	green__spin_lock(&ch->lock);
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
green_chan_recv(green_chan_t *ch, void *elem, int64_t deadline)
{
	int r;

	if (ch == NULL || deadline < -1)
		return -EINVAL;
	green__spin_lock(&ch->lock);
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
green_chan_close(green_chan_t *ch)
{
	struct green__waiter *w;

	if (ch == NULL)
		return -EINVAL;
	green__spin_lock(&ch->lock);
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

ssize_t
green_chan_len(const green_chan_t *ch)
{
	struct green_chan *c = (struct green_chan *)ch;
	ssize_t n;

	if (c == NULL)
		return -EINVAL;
	green__spin_lock(&c->lock);
	n = (ssize_t)c->len;
	green__spin_unlock(&c->lock);
	return n;
}

ssize_t
green_chan_cap(const green_chan_t *ch)
{
	return ch != NULL ? (ssize_t)ch->cap : -EINVAL;
}
