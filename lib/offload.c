/*
 * offload.c - the blocking pool: run a function on another OS thread while
 * the task that asked parks.
 *
 * For work that has no non-blocking form: regular files (epoll refuses
 * them, io.c sends their reads and writes here), name resolution, any
 * library call that blocks.  A bounded set of threads (offload_threads of
 * green_config_t, default OFFLOAD_DEFAULT) is started on demand and kept
 * until shutdown; jobs wait in one FIFO queue.  The queue is under a spin
 * lock, like every object a task parks on (the lock is released by the
 * worker after the task's switch); idle pool threads sleep on a futex.
 *
 * A job lives on the asking task's stack.  So a deadline or a cancellation
 * can only take back a job that has not started: one already running is
 * waited for (its function may be using that stack), and its result is
 * returned.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>

#include "green-internal.h"

#define OFFLOAD_DEFAULT 16

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct green_job {
	void *(*fn)(void *);
	void *arg;
	void *result;
	enum job_state state;	  /* under the pool lock */
	struct green_task *task;  /* parked asker, or NULL */
	struct green_job *next;	  /* queue link */
};

struct green_pool {
	int lock;		  /* spin lock */
	_Atomic uint32_t work;	  /* futex: bumped when a job is queued */
	struct green_job *head, *tail; /* under lock */
	unsigned nthreads, idle;  /* under lock */
	unsigned max;
	bool stop;		  /* under lock */
	pthread_t *threads;	  /* nthreads started so far */
};

/* Under the lock: sleep until a job is queued or the pool stops. */
static void
wait_for_work(struct green_pool *p)
{
	while (p->head == NULL && !p->stop) {
		uint32_t seen = atomic_load(&p->work);
		p->idle++;
		green__spin_unlock(&p->lock);
		green__futex_wait(&p->work, seen, -1);
		green__spin_lock(&p->lock);
		p->idle--;
	}
}

static void *
pool_thread(void *arg)
{
	struct green_pool *p = arg;
	struct green_job *j;

	green__spin_lock(&p->lock);
	for (;;) {
		wait_for_work(p);
		if (p->head == NULL)
			break; /* stopping, and nothing left to run */
		j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		j->state = JOB_RUNNING;
		green__spin_unlock(&p->lock);
		if (j->task != NULL)
			GREEN_TRACE(GT_OFFLOAD_BEGIN, 1, j->task->id, 0, 0);
		j->result = j->fn(j->arg);
		if (j->task != NULL)
			GREEN_TRACE(GT_OFFLOAD_END, 1, j->task->id, 0, 0);
		green__spin_lock(&p->lock);
		j->state = JOB_DONE;
		/* under the lock, which the task takes to look at its job:
		 * this is the park it made for this job (park.c) */
		if (j->task != NULL)
			green__wake(j->task, 0);
	}
	green__spin_unlock(&p->lock);
	return NULL;
}

/* Wake a sleeping pool thread (after a job was queued, or to stop). */
static void
signal_work(struct green_pool *p, int n)
{
	/* seq_cst: a thread that read the old value before sleeping is
	 * woken; one that reads the new value does not sleep */
	atomic_fetch_add(&p->work, 1);
	green__futex_wake(&p->work, n);
}

int
green__offload_init(struct green_rt *rt, unsigned threads)
{
	struct green_pool *p = green__calloc(sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	p->max = threads != 0 ? threads : OFFLOAD_DEFAULT;
	p->threads = green__calloc(p->max * sizeof(*p->threads));
	if (p->threads == NULL) {
		green__free(p, sizeof(*p));
		return -ENOMEM;
	}
	rt->pool = p;
	return 0;
}

/* Stop the threads once the queue is empty (no task is left to ask). */
void
green__offload_fini(struct green_rt *rt)
{
	struct green_pool *p = rt->pool;

	if (p == NULL)
		return;
	green__spin_lock(&p->lock);
	p->stop = true;
	green__spin_unlock(&p->lock);
	signal_work(p, INT_MAX);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	green__free(p->threads, p->max * sizeof(*p->threads));
	green__free(p, sizeof(*p));
	rt->pool = NULL;
}

/* Under the lock: queue j, starting a thread if none is idle. */
static int
enqueue(struct green_pool *p, struct green_job *j)
{
	if (p->idle == 0 && p->nthreads < p->max) {
		/* workers block asynchronous signals; the pool threads
		 * inherit the caller's mask, which is a worker's */
		if (!green__fault(GF_THREAD) &&
		    pthread_create(&p->threads[p->nthreads], NULL, pool_thread,
				   p) == 0)
			p->nthreads++;
		else if (p->nthreads == 0)
			return -EAGAIN;
	}
	j->next = NULL;
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	return 0;
}

/* Under the lock: take a job that has not started out of the queue. */
static void
dequeue(struct green_pool *p, struct green_job *j)
{
	struct green_job **q = &p->head, *prev = NULL;

	while (*q != j) {
		prev = *q;
		q = &(*q)->next;
	}
	*q = j->next;
	if (p->tail == j)
		p->tail = prev;
}

int
green_offload(void *(*fn)(void *), void *arg, void **result, int64_t deadline)
{
	struct green_rt *rt = green__rt;
	struct green_task *t = green__self();
	struct green_job j = { fn, arg, NULL, JOB_QUEUED, t, NULL };
	struct green_pool *p;
	int r;

	if (fn == NULL || deadline < -1)
		return -EINVAL;
	if (rt == NULL)
		return -EPERM;
	if (t == NULL) {
		/* a plain thread may block: run it here */
		j.result = fn(arg);
		goto done;
	}
	p = rt->pool;
	green__spin_lock(&p->lock);
	if ((r = enqueue(p, &j)) != 0) {
		green__spin_unlock(&p->lock);
		return r;
	}
	/* seq_cst: the deadlock check sees a task a pool thread will wake */
	atomic_fetch_add(&rt->offload_waiters, 1);
	if (p->idle > 0)
		signal_work(p, 1); /* under the spin lock: one syscall */
	r = green__park(t, GREEN_WAIT_OFFLOAD, (const void *)fn,
			green__unlock_spin, &p->lock, deadline, 0);
	green__spin_lock(&p->lock);
	if (j.state == JOB_QUEUED) {
		/* deadline or cancellation before a thread took it */
		dequeue(p, &j);
		green__spin_unlock(&p->lock);
		atomic_fetch_sub(&rt->offload_waiters, 1);
		return r != 0 ? r : -EINTR;
	}
	while (j.state != JOB_DONE) {
		/* running: fn may use this stack, so wait it out */
		green__park(t, GREEN_WAIT_OFFLOAD, (const void *)fn,
			    green__unlock_spin, &p->lock, -1,
			    GREEN_PARK_NOCANCEL);
		green__spin_lock(&p->lock);
	}
	green__spin_unlock(&p->lock);
	atomic_fetch_sub(&rt->offload_waiters, 1);
done:
	if (result != NULL)
		*result = j.result;
	return 0;
}
