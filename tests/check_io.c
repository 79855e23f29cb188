/*
 * check_io.c - the netpoller and the I/O calls: echo with 1, 100 and
 * 10,000 concurrent connections, partial reads and writes, EOF, peer reset,
 * deadlines on read, accept and connect, refused connections, green_close
 * while another task waits, EMFILE on accept, fd number reuse, cancellation,
 * plain threads, and I/O that CPU-bound tasks cannot starve.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "netutil.h"
#include "testutil.h"

#define NWORKERS 2
#define TIMEOUT (120 * TEST_TIMEOUT_MULT)
#define SHORT GREEN_MSEC(50)

static void
setup(void)
{
	init_workers(NWORKERS);
}

static void
teardown(void)
{
	shutdown_runtime();
}

/* --- helpers --------------------------------------------------------------- */

static void *count_job(void *arg); /* a pool job (green_offload tests) */

static int
dial(const struct sockaddr_in *addr, int64_t deadline)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	r = green_connect(fd, (const struct sockaddr *)addr, sizeof(*addr),
			  deadline);
	if (r != 0) {
		green_close(fd);
		return r;
	}
	return fd;
}

/* Read exactly n bytes (or fewer at EOF); returns the count or -errno. */
static ssize_t
read_full(int fd, void *buf, size_t n, int64_t deadline)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = green_read(fd, (char *)buf + got, n - got, deadline);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static void
raise_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

/* --- echo -------------------------------------------------------------------- */

#define ECHO_BYTES 1000

static void *
echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	ssize_t n;

	while ((n = green_read(fd, buf, sizeof(buf), -1)) > 0)
		if (green_write(fd, buf, (size_t)n, -1) != n)
			break;
	green_close(fd);
	return NULL;
}

/* Accept until the listener is closed; a task per connection. */
static void *
echo_server(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd;
	long served = 0;

	for (;;) {
		fd = green_accept(lfd, NULL, NULL, SOCK_CLOEXEC, -1);
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM ||
		    fd == -ENOBUFS) {
			/* out of resources for now (make fault-check makes
			 * it so): a server waits and accepts again */
			green_sleep(green_now() + GREEN_MSEC(1));
			continue;
		}
		if (fd < 0)
			break; /* -EBADF: the listener was closed */
		if (green_spawn(NULL, NULL, echo_conn, (void *)(intptr_t)fd) != 0)
			green_close(fd);
		served++;
	}
	return (void *)served;
}

struct echo_client {
	struct sockaddr_in addr;
	long id;
	atomic_long *ok;
	green_wg_t *connected; /* all connect before any talks */
};

static void *
echo_client(void *arg)
{
	struct echo_client *c = arg;
	char out[ECHO_BYTES], in[ECHO_BYTES];
	int fd = dial(&c->addr, green_now() + GREEN_SEC(60));

	green_wg_done(c->connected);
	if (fd < 0)
		return NULL;
	green_wg_wait(c->connected, -1);
	for (int i = 0; i < ECHO_BYTES; i++)
		out[i] = (char)(c->id * 31 + i);
	if (green_write(fd, out, sizeof(out), -1) == (ssize_t)sizeof(out) &&
	    read_full(fd, in, sizeof(in), -1) == (ssize_t)sizeof(in) &&
	    memcmp(in, out, sizeof(in)) == 0)
		atomic_fetch_add(c->ok, 1);
	green_close(fd);
	return NULL;
}

struct echo_run {
	struct sockaddr_in addr;
	long n;
	atomic_long ok;
};

static void
clients_main(void *arg)
{
	struct echo_run *e = arg;
	struct echo_client *c = calloc((size_t)e->n, sizeof(*c));
	green_task_t **h = calloc((size_t)e->n, sizeof(*h));
	green_wg_t connected = GREEN_WG_INITIALIZER;

	if (c == NULL || h == NULL || green_wg_add(&connected, e->n) != 0)
		_exit(2);
	for (long i = 0; i < e->n; i++) {
		c[i] = (struct echo_client){ e->addr, i, &e->ok, &connected };
		if (green_spawn(&h[i], NULL, echo_client, &c[i]) != 0)
			_exit(3);
	}
	for (long i = 0; i < e->n; i++)
		green_join(h[i], NULL, -1);
	free(c);
	free(h);
}

/* The child: n concurrent clients in their own process (each side of a
 * connection is an fd: 10,000 of both would pass RLIMIT_NOFILE here). */
static int
clients_child(void *arg)
{
	struct echo_run *e = arg;
	green_config_t cfg = { .workers = NWORKERS };

	raise_nofile();
	atomic_store(&e->ok, 0);
	if (green_run(clients_main, e, &cfg) != 0)
		return 4;
	return atomic_load(&e->ok) == e->n ? 0 : 5;
}

static void
echo_with_clients(long n)
{
	struct echo_run e = { .n = n };
	green_config_t cfg = { .workers = NWORKERS };
	green_task_t *server;
	char out[4096], st[64];
	void *served = NULL;
	int lfd, status;
	pid_t pid;

	raise_nofile();
	lfd = listener(4096, &e.addr);
	ck_assert_int_ge(lfd, 0);
	/* the clients' process starts before this one has a runtime */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(lfd);
		alarm(TEST_CHILD_ALARM * 3);
		_exit(clients_child(&e));
	}
	tfail_reset();
	ck_assert_int_eq(green_init(&cfg), 0);
	ck_assert_int_eq(green_spawn(&server, NULL, echo_server,
				     (void *)(intptr_t)lfd),
			 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* closing the listener ends the server's accept with -EBADF */
	ck_assert_int_eq(green_close(lfd), 0);
	ck_assert_int_eq(green_join(server, &served, -1), 0);
	ck_assert_int_eq(green_shutdown(), 0);
	(void)out;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "clients: %s", describe_status(status, st, sizeof(st)));
	ck_assert_int_eq((long)served, n);
}

START_TEST(test_echo_one_connection)
{
	echo_with_clients(1);
}
END_TEST

START_TEST(test_echo_100_connections)
{
	echo_with_clients(100);
}
END_TEST

START_TEST(test_echo_10000_connections)
{
	echo_with_clients(TEST_SLOW ? 1000 : 10000);
}
END_TEST

/* --- partial reads and writes ------------------------------------------------- */

#define BIG (4 << 20)

static void *
slow_reader(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char buf[1000];
	size_t got = 0;
	long bad = 0;

	while (got < BIG) {
		ssize_t n = green_read(fd, buf, sizeof(buf), -1);
		if (n <= 0) /* the writer must not wait for us for ever */
			shutdown(fd, SHUT_RDWR);
		T_REQUIRE(n > 0);
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != (unsigned char)((got + (size_t)i) * 7);
		got += (size_t)n;
		if (got % 100000 < sizeof(buf))
			green_yield();
	}
	T_CHECK_INT_EQ(bad, 0);
	return NULL;
}

static void *
partial_main(void *arg)
{
	unsigned char *big = malloc(BIG);
	green_task_t *r;
	ssize_t n;
	int sv[2];

	(void)arg;
	T_REQUIRE(big != NULL);
	for (size_t i = 0; i < BIG; i++)
		big[i] = (unsigned char)(i * 7);
	T_REQUIRE_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	T_REQUIRE_INT_EQ(green_spawn(&r, NULL, slow_reader,
				     (void *)(intptr_t)sv[1]),
			 0);
	/* far more than the socket buffer: the write parks many times */
	n = green_write(sv[0], big, BIG, -1);
	if (n != BIG) /* the reader must not wait for ever */
		shutdown(sv[0], SHUT_RDWR);
	T_CHECK_INT_EQ(n, BIG);
	T_CHECK_INT_EQ(green_join(r, NULL, -1), 0);
	green_close(sv[0]);
	green_close(sv[1]);
	free(big);
	return NULL;
}

START_TEST(test_partial_reads_and_writes_keep_every_byte)
{
	run_in_task(partial_main, NULL);
}
END_TEST

#define VA 100000
#define VB 3
#define VC 200000

static void *
drain_and_check(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *in = malloc(VA + VB + VC);
	ssize_t got;
	long bad = 0;

	T_REQUIRE(in != NULL);
	got = read_full(fd, in, VA + VB + VC, -1);
	if (got != VA + VB + VC) /* the writer must not wait for ever */
		shutdown(fd, SHUT_RDWR);
	T_CHECK_INT_EQ(got, VA + VB + VC);
	for (size_t i = 0; i < VA + VB + VC; i++)
		bad += in[i] != (i < VA ? 'a' : i < VA + VB ? 'b' : 'c');
	T_CHECK_INT_EQ(bad, 0);
	free(in);
	return NULL;
}

static void *
writev_main(void *arg)
{
	static char a[VA], b[VB], c[VC];
	struct iovec iov[3] = { { a, VA }, { b, VB }, { c, VC } };
	green_task_t *r;
	ssize_t n;
	int sv[2];

	(void)arg;
	memset(a, 'a', VA);
	memset(b, 'b', VB);
	memset(c, 'c', VC);
	T_REQUIRE_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	T_REQUIRE_INT_EQ(green_spawn(&r, NULL, drain_and_check,
				     (void *)(intptr_t)sv[1]),
			 0);
	/* more than the socket buffer: partial writev calls, parks */
	n = green_writev(sv[0], iov, 3, -1);
	if (n != VA + VB + VC) /* the reader must not wait for ever */
		shutdown(sv[0], SHUT_RDWR);
	T_CHECK_INT_EQ(n, VA + VB + VC);
	T_CHECK_INT_EQ(green_join(r, NULL, -1), 0);
	T_CHECK_INT_EQ(green_writev(sv[0], iov, -1, -1), -EINVAL);
	green_close(sv[0]);
	green_close(sv[1]);
	return NULL;
}

START_TEST(test_writev_writes_every_vector)
{
	run_in_task(writev_main, NULL);
}
END_TEST

/* --- EOF and reset -------------------------------------------------------------- */

static void *
eof_main(void *arg)
{
	char buf[16];
	int sv[2];

	(void)arg;
	T_REQUIRE_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	T_CHECK_INT_EQ(green_write(sv[0], "hi", 2, -1), 2);
	T_CHECK_INT_EQ(shutdown(sv[0], SHUT_WR), 0);
	T_CHECK_INT_EQ(green_read(sv[1], buf, sizeof(buf), -1), 2);
	T_CHECK_INT_EQ(green_read(sv[1], buf, sizeof(buf), -1), 0);
	green_close(sv[0]);
	green_close(sv[1]);
	return NULL;
}

START_TEST(test_read_returns_zero_at_eof)
{
	run_in_task(eof_main, NULL);
}
END_TEST

static void *
reset_main(void *arg)
{
	struct sockaddr_in addr;
	struct linger lin = { 1, 0 };
	char buf[16];
	int lfd, c, s;

	(void)arg;
	T_REQUIRE((lfd = listener(16, &addr)) >= 0);
	T_REQUIRE((c = dial(&addr, -1)) >= 0);
	T_REQUIRE((s = green_accept(lfd, NULL, NULL, 0, -1)) >= 0);
	/* linger 0: close sends a reset */
	T_CHECK_INT_EQ(setsockopt(s, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin)),
		       0);
	T_CHECK_INT_EQ(green_close(s), 0);
	T_CHECK_INT_EQ(green_read(c, buf, sizeof(buf), -1), -ECONNRESET);
	green_close(c);
	green_close(lfd);
	return NULL;
}

START_TEST(test_peer_reset_returns_econnreset)
{
	run_in_task(reset_main, NULL);
}
END_TEST

/* --- deadlines, refused, cancel --------------------------------------------------- */

static void *
deadline_main(void *arg)
{
	struct sockaddr_in addr;
	char buf[16];
	int sv[2], lfd, fds[8], n = 0, r;
	int64_t t0;

	(void)arg;
	T_REQUIRE_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	t0 = green_now();
	T_CHECK_INT_EQ(green_read(sv[0], buf, sizeof(buf), t0 + SHORT),
		       -ETIMEDOUT);
	T_CHECK(green_now() - t0 >= SHORT);
	T_CHECK_INT_EQ(green_read(sv[0], buf, sizeof(buf), 0), -ETIMEDOUT);

	T_REQUIRE((lfd = listener(1, &addr)) >= 0);
	t0 = green_now();
	T_CHECK_INT_EQ(green_accept(lfd, NULL, NULL, 0, t0 + SHORT),
		       -ETIMEDOUT);
	T_CHECK(green_now() - t0 >= SHORT);
	/* a full accept queue drops further SYNs: the connect times out */
	do {
		r = dial(&addr, green_now() + GREEN_MSEC(200));
		if (r >= 0)
			fds[n++] = r;
	} while (r >= 0 && n < 8);
	T_CHECK_INT_EQ(r, -ETIMEDOUT);
	while (n > 0)
		green_close(fds[--n]);
	green_close(lfd);
	green_close(sv[0]);
	green_close(sv[1]);
	return NULL;
}

START_TEST(test_deadlines_on_read_accept_connect)
{
	run_in_task(deadline_main, NULL);
}
END_TEST

static void *
refused_main(void *arg)
{
	struct sockaddr_in addr;
	int lfd;

	(void)arg;
	/* a port nobody listens on: bound, then closed */
	T_REQUIRE((lfd = listener(1, &addr)) >= 0);
	green_close(lfd);
	T_CHECK_INT_EQ(dial(&addr, -1), -ECONNREFUSED);
	return NULL;
}

START_TEST(test_connect_refused_returns_econnrefused)
{
	run_in_task(refused_main, NULL);
}
END_TEST

static void *
blocked_reader(void *arg)
{
	char buf[16];

	return (void *)(intptr_t)green_read((int)(intptr_t)arg, buf,
					    sizeof(buf), -1);
}

/*
 * Spawn waiter(fd) on one end of a fresh socketpair, let it block, then
 * green_close the fd (or, with cancel, cancel the waiter); returns what
 * the waiter returned, or INTPTR_MIN when the setup failed.
 */
static intptr_t
interrupt_waiter(void *(*waiter)(void *), bool cancel)
{
	green_task_t *t;
	void *res = (void *)INTPTR_MIN;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return INTPTR_MIN;
	if (green_spawn(&t, NULL, waiter, (void *)(intptr_t)sv[0]) == 0) {
		green_sleep(green_now() + SHORT);
		if (cancel)
			green_cancel(t);
		else
			green_close(sv[0]);
		if (green_join(t, &res, -1) != 0)
			res = (void *)INTPTR_MIN;
	}
	if (cancel)
		green_close(sv[0]);
	green_close(sv[1]);
	return (intptr_t)res;
}

static void *
close_while_waiting_main(void *arg)
{
	(void)arg;
	T_CHECK_INT_EQ(interrupt_waiter(blocked_reader, false), -EBADF);
	/* and a blocked read is cancelled */
	T_CHECK_INT_EQ(interrupt_waiter(blocked_reader, true), -ECANCELED);
	return NULL;
}

START_TEST(test_close_or_cancel_wakes_a_blocked_reader)
{
	run_in_task(close_while_waiting_main, NULL);
}
END_TEST

/* --- EMFILE, fd reuse, fdwait ------------------------------------------------------- */

static void *
emfile_main(void *arg)
{
	struct sockaddr_in addr;
	struct rlimit old, low;
	int lfd, c, s, spare;
	int64_t t0;

	(void)arg;
	T_REQUIRE((lfd = listener(16, &addr)) >= 0);
	T_REQUIRE((c = dial(&addr, -1)) >= 0);
	T_REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
	/* no fd left for the accepted connection */
	spare = dup(0);
	T_REQUIRE(spare >= 0);
	close(spare);
	low = old;
	low.rlim_cur = (rlim_t)spare;
	T_REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
	t0 = green_now();
	s = green_accept(lfd, NULL, NULL, 0, green_now() + GREEN_SEC(5));
	T_CHECK_INT_EQ(s, -EMFILE);
	/* an error at once, not a wait (nor a spin) until the deadline */
	T_CHECK(green_now() - t0 < GREEN_SEC(5));
	T_REQUIRE(setrlimit(RLIMIT_NOFILE, &old) == 0);
	/* the connection waited in the queue: with fds again, it comes.
	 * (valgrind emulates RLIMIT_NOFILE and does not give them back) */
	s = green_accept(lfd, NULL, NULL, 0, green_now() + GREEN_SEC(5));
	T_CHECK(s >= 0 || TEST_VALGRIND);
	if (s >= 0)
		green_close(s);
	green_close(c);
	green_close(lfd);
	return NULL;
}

START_TEST(test_accept_emfile_returns_error)
{
	run_in_task(emfile_main, NULL);
}
END_TEST

static void *
reuse_main(void *arg)
{
	char buf[16];
	int sv[2], nv[2];

	(void)arg;
	T_REQUIRE_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	/* registered, then readiness arrives while nobody waits */
	T_CHECK_INT_EQ(green_read(sv[0], buf, sizeof(buf), 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_write(sv[1], "x", 1, -1), 1);
	green_sleep(green_now() + GREEN_MSEC(10));
	T_CHECK_INT_EQ(green_close(sv[0]), 0);
	T_CHECK_INT_EQ(green_close(sv[1]), 0);
	/* the same numbers again: nothing stale may show up */
	T_REQUIRE_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, nv),
			 0);
	T_CHECK(nv[0] == sv[0] || nv[1] == sv[0]);
	T_CHECK_INT_EQ(green_fdwait(sv[0], GREEN_READ, green_now() + SHORT),
		       -ETIMEDOUT);
	T_CHECK_INT_EQ(green_fdwait(nv[0], GREEN_WRITE, 0), GREEN_WRITE);
	T_CHECK_INT_EQ(green_write(nv[1], "y", 1, -1), 1);
	T_CHECK_INT_EQ(green_fdwait(nv[0], GREEN_READ | GREEN_WRITE, -1),
		       GREEN_READ | GREEN_WRITE);
	T_CHECK_INT_EQ(green_fdwait(nv[0], 0, -1), -EINVAL);
	T_CHECK_INT_EQ(green_fdwait(-1, GREEN_READ, -1), -EBADF);
	green_close(nv[0]);
	green_close(nv[1]);
	return NULL;
}

START_TEST(test_reused_fd_number_gets_no_stale_readiness)
{
	run_in_task(reuse_main, NULL);
}
END_TEST

/* --- plain threads, starvation, deadlock detection ---------------------------------- */

static void *
late_writer(void *arg)
{
	int fd = (int)(intptr_t)arg;

	pause_ns(GREEN_MSEC(100));
	if (write(fd, "late", 4) != 4)
		abort();
	return NULL;
}

START_TEST(test_plain_thread_read_blocks_the_thread)
{
	pthread_t th;
	char buf[16];
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	ck_assert_int_eq(green_read(sv[0], buf, sizeof(buf),
				    green_now() + SHORT),
			 -ETIMEDOUT);
	ck_assert_int_eq(pthread_create(&th, NULL, late_writer,
					(void *)(intptr_t)sv[1]),
			 0);
	ck_assert_int_eq(green_read(sv[0], buf, sizeof(buf), -1), 4);
	pthread_join(th, NULL);
	green_close(sv[0]);
	green_close(sv[1]);
}
END_TEST

static atomic_bool spin_stop;

static void *
spinner(void *arg)
{
	(void)arg;
	while (!atomic_load(&spin_stop))
		green_yield();
	return NULL;
}

static void *
starve_main(void *arg)
{
	green_task_t *s;
	pthread_t th;
	char buf[16];
	int sv[2];

	(void)arg;
	atomic_store(&spin_stop, false);
	T_REQUIRE_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	T_REQUIRE_INT_EQ(green_spawn(&s, NULL, spinner, NULL), 0);
	T_REQUIRE_INT_EQ(pthread_create(&th, NULL, late_writer,
					(void *)(intptr_t)sv[1]),
			 0);
	/* the only worker never idles: busy polling must deliver this */
	T_CHECK_INT_EQ(green_read(sv[0], buf, sizeof(buf), -1), 4);
	atomic_store(&spin_stop, true);
	T_CHECK_INT_EQ(green_join(s, NULL, -1), 0);
	pthread_join(th, NULL);
	green_close(sv[0]);
	green_close(sv[1]);
	return NULL;
}

static void
one_worker(void)
{
	init_workers(1);
}

START_TEST(test_io_is_polled_while_tasks_keep_the_worker_busy)
{
	run_in_task(starve_main, NULL);
}
END_TEST

static void
io_waiting_main(void *arg)
{
	int *sv = arg;
	pthread_t th;
	char buf[16];

	if (pthread_create(&th, NULL, late_writer, (void *)(intptr_t)sv[1]))
		_exit(2);
	if (green_read(sv[0], buf, sizeof(buf), -1) != 4)
		_exit(3);
	pthread_join(th, NULL);
}

START_TEST(test_waiting_for_io_is_not_a_deadlock)
{
	green_config_t cfg = { .workers = 1 };
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	ck_assert_int_eq(green_run(io_waiting_main, sv, &cfg), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_io_without_runtime_returns_eperm)
{
	char buf[4];

	ck_assert_int_eq(green_read(0, buf, sizeof(buf), 0), -EPERM);
	ck_assert_int_eq(green_write(1, buf, 0, 0), -EPERM);
	ck_assert_int_eq(green_fdwait(0, GREEN_READ, 0), -EPERM);
	ck_assert_int_eq(green_offload(count_job, NULL, NULL, -1), -EPERM);
}
END_TEST

/* --- green_select with fd cases --------------------------------------------- */

static green_case_t
fd_case(int kind, int fd)
{
	return (green_case_t){ .kind = kind, .fd = fd };
}

/* Writes one byte to the fd in arg after SHORT (failing, it shuts the
 * socket down: the reader waiting for the byte then sees a hangup). */
static void *
late_byte(void *arg)
{
	int fd = (int)(intptr_t)arg;
	ssize_t r;

	green_sleep(green_now() + SHORT);
	if ((r = green_write(fd, "x", 1, -1)) != 1)
		shutdown(fd, SHUT_RDWR);
	return (void *)(intptr_t)r;
}

static void *
select_fd_read_main(void *arg)
{
	green_chan_t *ch;
	green_task_t *w;
	green_case_t cs[2];
	void *res;
	int sv[2];
	char c;

	(void)arg;
	T_REQUIRE_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	T_REQUIRE_INT_EQ(green_chan_create(&ch, sizeof(int), 0), 0);
	cs[0] = (green_case_t){ .kind = GREEN_RECV, .chan = ch };
	cs[1] = fd_case(GREEN_FD_READ, sv[0]);
	/* nothing ready: a poll times out, a deadline too */
	T_CHECK_INT_EQ(green_select(cs, 2, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ(green_select(cs, 2, green_now() + SHORT), -ETIMEDOUT);
	/* a byte written later wakes the parked select */
	T_REQUIRE_INT_EQ(green_spawn(&w, NULL, late_byte,
				     (void *)(intptr_t)sv[1]),
			 0);
	cs[1].result = 99;
	T_CHECK_INT_EQ(green_select(cs, 2, -1), 1);
	T_CHECK_INT_EQ(cs[1].result, 0);
	T_CHECK_INT_EQ(green_join(w, &res, -1), 0);
	T_CHECK_INT_EQ((intptr_t)res, 1);
	/* still readable (nobody read): a poll sees it */
	T_CHECK_INT_EQ(green_select(cs, 2, 0), 1);
	T_CHECK_INT_EQ(green_read(sv[0], &c, 1, -1), 1);
	T_CHECK_INT_EQ(green_select(cs, 2, 0), -ETIMEDOUT);
	/* the write end of a socket with room is writable at once */
	cs[1] = fd_case(GREEN_FD_WRITE, sv[0]);
	T_CHECK_INT_EQ(green_select(cs, 2, -1), 1);
	/* a hangup makes a read case ready: the read then says EOF */
	cs[1] = fd_case(GREEN_FD_READ, sv[0]);
	T_CHECK_INT_EQ(green_close(sv[1]), 0);
	T_CHECK_INT_EQ(green_select(cs, 2, -1), 1);
	T_CHECK_INT_EQ(green_read(sv[0], &c, 1, -1), 0);
	T_CHECK_INT_EQ(green_close(sv[0]), 0);
	T_CHECK_INT_EQ(green_chan_destroy(ch), 0);
	return NULL;
}

START_TEST(test_select_fd_read_and_write_cases)
{
	run_in_task(select_fd_read_main, NULL);
}
END_TEST

/* Data that arrived before the fd was ever registered is seen. */
static void *
select_fd_ready_before_main(void *arg)
{
	green_case_t c;
	int p[2];

	(void)arg;
	T_REQUIRE_INT_EQ(pipe2(p, O_CLOEXEC), 0);
	T_REQUIRE_INT_EQ(write(p[1], "abc", 3), 3);
	c = fd_case(GREEN_FD_READ, p[0]);
	T_CHECK_INT_EQ(green_select(&c, 1, 0), 0);
	T_CHECK_INT_EQ(green_select(&c, 1, -1), 0);
	T_CHECK_INT_EQ(c.result, 0);
	green_close(p[0]);
	green_close(p[1]);
	return NULL;
}

START_TEST(test_select_fd_sees_data_from_before_registration)
{
	run_in_task(select_fd_ready_before_main, NULL);
}
END_TEST

/* A full socket buffer: the write case waits until the peer reads. */
static void *
drain_later(void *arg)
{
	static char buf[1 << 16];
	int fd = (int)(intptr_t)arg;
	ssize_t n, total = 0;

	green_sleep(green_now() + SHORT);
	while ((n = green_read(fd, buf, sizeof(buf), 0)) > 0)
		total += n;
	if (n < 0 && n != -ETIMEDOUT) /* the writer must not wait for ever */
		shutdown(fd, SHUT_RDWR);
	return (void *)(intptr_t)total;
}

static void *
select_fd_write_main(void *arg)
{
	static char buf[1 << 16];
	green_task_t *d;
	green_case_t c;
	void *res;
	int sv[2];

	(void)arg;
	T_REQUIRE_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	/* fill the buffer: until a write cannot finish by its deadline */
	for (int i = 0; i < 1024; i++)
		if (green_write(sv[0], buf, sizeof(buf), green_now() + SHORT) ==
		    -ETIMEDOUT)
			break;
	c = fd_case(GREEN_FD_WRITE, sv[0]);
	T_CHECK_INT_EQ(green_select(&c, 1, 0), -ETIMEDOUT);
	T_REQUIRE_INT_EQ(green_spawn(&d, NULL, drain_later,
				     (void *)(intptr_t)sv[1]),
			 0);
	T_CHECK_INT_EQ(green_select(&c, 1, -1), 0);
	T_CHECK_INT_EQ(c.result, 0);
	T_CHECK_INT_EQ(green_join(d, &res, -1), 0);
	T_CHECK((intptr_t)res > 0);
	green_close(sv[0]);
	green_close(sv[1]);
	return NULL;
}

START_TEST(test_select_fd_write_waits_for_room)
{
	run_in_task(select_fd_write_main, NULL);
}
END_TEST

/* green_close of the fd wakes the select with the case's result -EBADF;
 * a bad fd fails the select itself. */
static void *
select_on_fd(void *arg)
{
	green_case_t c = fd_case(GREEN_FD_READ, (int)(intptr_t)arg);
	int r = green_select(&c, 1, -1);

	return (void *)(intptr_t)(r == 0 ? c.result : 1000 + r);
}

static void *
select_fd_close_main(void *arg)
{
	green_case_t c;
	int sv[2];

	(void)arg;
	T_CHECK_INT_EQ(interrupt_waiter(select_on_fd, false), -EBADF);
	c = fd_case(GREEN_FD_READ, -1);
	T_CHECK_INT_EQ(green_select(&c, 1, 0), -EBADF);
	/* an fd number that is closed */
	T_REQUIRE_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	green_close(sv[0]);
	green_close(sv[1]);
	c = fd_case(GREEN_FD_WRITE, sv[0]);
	T_CHECK_INT_EQ(green_select(&c, 1, -1), -EBADF);
	return NULL;
}

START_TEST(test_select_fd_close_and_bad_fd)
{
	run_in_task(select_fd_close_main, NULL);
}
END_TEST

/*
 * Races between a channel case and an fd case of the same select: each
 * round a sender and a writer both try to win; exactly one case fires,
 * the loser's waiter is taken off, and what the loser offered is still
 * there afterwards (the byte stays readable, the value stays sendable).
 */
#define RACE_ROUNDS 2000

struct race {
	green_chan_t *ch;
	int fd;
};

static void *
race_sender(void *arg)
{
	struct race *r = arg;
	int v = 1;

	return (void *)(intptr_t)green_chan_send(r->ch, &v, -1);
}

static void *
race_writer(void *arg)
{
	struct race *r = arg;
	ssize_t n = green_write(r->fd, "y", 1, -1);

	if (n != 1) /* the reader must not wait for ever */
		shutdown(r->fd, SHUT_RDWR);
	return (void *)(intptr_t)n;
}

static void *
select_fd_race_main(void *arg)
{
	struct race r;
	int sv[2], rounds = TEST_SLOW ? RACE_ROUNDS / 10 : RACE_ROUNDS;
	long chan_won = 0, fd_won = 0;

	(void)arg;
	T_REQUIRE_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	T_REQUIRE_INT_EQ(green_chan_create(&r.ch, sizeof(int), 0), 0);
	r.fd = sv[1];
	for (int i = 0; i < rounds; i++) {
		green_task_t *s, *w;
		green_case_t cs[2];
		void *res;
		int v = 0, idx;
		char c;

		cs[0] = (green_case_t){ .kind = GREEN_RECV, .chan = r.ch,
					.elem = &v };
		cs[1] = fd_case(GREEN_FD_READ, sv[0]);
		T_REQUIRE_INT_EQ(green_spawn(&s, NULL, race_sender, &r), 0);
		T_REQUIRE_INT_EQ(green_spawn(&w, NULL, race_writer, &r), 0);
		idx = green_select(cs, 2, -1);
		T_REQUIRE(idx == 0 || idx == 1);
		T_CHECK_INT_EQ(cs[idx].result, 0);
		if (idx == 0) {
			chan_won++;
			T_CHECK_INT_EQ(v, 1);
		} else {
			fd_won++;
			/* the sender still waits: take its value */
			T_CHECK_INT_EQ(green_chan_recv(r.ch, &v, -1), 0);
			T_CHECK_INT_EQ(v, 1);
		}
		T_CHECK_INT_EQ(green_join(s, &res, -1), 0);
		T_CHECK_INT_EQ((intptr_t)res, 0);
		T_CHECK_INT_EQ(green_join(w, &res, -1), 0);
		T_CHECK_INT_EQ((intptr_t)res, 1);
		T_CHECK_INT_EQ(green_read(sv[0], &c, 1, -1), 1);
		T_CHECK_INT_EQ(c, 'y');
	}
	T_CHECK_INT_EQ(chan_won + fd_won, rounds);
	T_CHECK_INT_EQ(green_chan_destroy(r.ch), 0);
	green_close(sv[0]);
	green_close(sv[1]);
	return NULL;
}

START_TEST(test_select_fd_and_channel_race_without_loss)
{
	run_in_task(select_fd_race_main, NULL);
}
END_TEST

/* A plain thread's select waits for the fd too (the workers poll). */
START_TEST(test_select_fd_from_a_plain_thread)
{
	green_task_t *w;
	green_case_t c;
	void *res;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	ck_assert_int_eq(green_spawn(&w, NULL, late_byte,
				     (void *)(intptr_t)sv[1]),
			 0);
	c = fd_case(GREEN_FD_READ, sv[0]);
	ck_assert_int_eq(green_select(&c, 1, -1), 0);
	ck_assert_int_eq(c.result, 0);
	ck_assert_int_eq(green_join(w, &res, -1), 0);
	ck_assert_int_eq((intptr_t)res, 1);
	green_close(sv[0]);
	green_close(sv[1]);
}
END_TEST

/* --- the blocking pool ------------------------------------------------------------------- */

static atomic_long ticks;

static void *
ticker(void *arg)
{
	atomic_bool *stop = arg;

	while (!atomic_load(stop)) {
		atomic_fetch_add(&ticks, 1);
		green_sleep(green_now() + GREEN_MSEC(1));
	}
	return NULL;
}

static void *
slow_job(void *arg)
{
	pause_ns(GREEN_MSEC(100));
	return (void *)((intptr_t)arg * 2);
}

static void *
offload_main(void *arg)
{
	atomic_bool stop = false;
	green_task_t *t;
	void *res = NULL;
	long before;

	(void)arg;
	atomic_store(&ticks, 0);
	T_REQUIRE_INT_EQ(green_spawn(&t, NULL, ticker, &stop), 0);
	green_sleep(green_now() + GREEN_MSEC(5));
	before = atomic_load(&ticks);
	/* the only worker keeps running the ticker while the job runs */
	T_CHECK_INT_EQ(green_offload(slow_job, (void *)21, &res, -1), 0);
	T_CHECK_INT_EQ((intptr_t)res, 42);
	T_CHECK(atomic_load(&ticks) - before >= 10);
	atomic_store(&stop, true);
	T_CHECK_INT_EQ(green_join(t, NULL, -1), 0);
	T_CHECK_INT_EQ(green_offload(NULL, NULL, NULL, -1), -EINVAL);
	return NULL;
}

START_TEST(test_offload_parks_only_the_task)
{
	run_in_task(offload_main, NULL);
}
END_TEST

static atomic_int ran;

static void *
count_job(void *arg)
{
	atomic_fetch_add(&ran, 1);
	return arg;
}

static void *
blocker_task(void *arg)
{
	void *res = NULL;

	T_CHECK_INT_EQ(green_offload(slow_job, arg, &res, -1), 0);
	return res;
}

static void *
offload_deadline_main(void *arg)
{
	green_task_t *b, *c;
	void *res = (void *)1;

	(void)arg;
	atomic_store(&ran, 0);
	/* one pool thread, busy for 100 ms */
	T_REQUIRE_INT_EQ(green_spawn(&b, NULL, blocker_task, (void *)5), 0);
	green_sleep(green_now() + GREEN_MSEC(20));
	/* queued behind it: the deadline takes it back unrun */
	T_CHECK_INT_EQ(green_offload(count_job, NULL, &res,
				     green_now() + GREEN_MSEC(20)),
		       -ETIMEDOUT);
	T_CHECK_INT_EQ(green_offload(count_job, NULL, &res, 0), -ETIMEDOUT);
	T_CHECK_INT_EQ((intptr_t)res, 1);
	/* a running job is waited for even when cancelled */
	T_REQUIRE_INT_EQ(green_join(b, &res, -1), 0);
	T_CHECK_INT_EQ((intptr_t)res, 10);
	T_REQUIRE_INT_EQ(green_spawn(&c, NULL, blocker_task, (void *)7), 0);
	green_sleep(green_now() + GREEN_MSEC(30));
	T_CHECK_INT_EQ(green_cancel(c), 0);
	T_CHECK_INT_EQ(green_join(c, &res, -1), 0);
	T_CHECK_INT_EQ((intptr_t)res, 14);
	T_CHECK_INT_EQ(atomic_load(&ran), 0);
	return NULL;
}

static void
one_pool_thread(void)
{
	green_config_t cfg = { .workers = NWORKERS, .offload_threads = 1 };

	tfail_reset();
	ck_assert_int_eq(green_init(&cfg), 0);
}

START_TEST(test_offload_deadline_takes_back_a_queued_job)
{
	run_in_task(offload_deadline_main, NULL);
}
END_TEST

#define MANY_JOBS TEST_SCALE(2000)

static void *
many_jobs_task(void *arg)
{
	void *res = NULL;

	T_CHECK_INT_EQ(green_offload(count_job, arg, &res, -1), 0);
	T_CHECK(res == arg);
	return NULL;
}

static void *
many_jobs_main(void *arg)
{
	green_task_t **h = malloc(MANY_JOBS * sizeof(*h));

	(void)arg;
	T_REQUIRE(h != NULL);
	atomic_store(&ran, 0);
	for (long i = 0; i < MANY_JOBS; i++)
		T_REQUIRE_INT_EQ(green_spawn(&h[i], NULL, many_jobs_task,
					     (void *)(i + 1)),
				 0);
	for (long i = 0; i < MANY_JOBS; i++)
		T_CHECK_INT_EQ(green_join(h[i], NULL, -1), 0);
	T_CHECK_INT_EQ(atomic_load(&ran), MANY_JOBS);
	free(h);
	return NULL;
}

/* Name resolution, which has no non-blocking form, through the pool:
 * "localhost" resolves from /etc/hosts, no network needed. */
struct lookup {
	const char *host;
	struct addrinfo *res;
	int err;
};

static void *
lookup_job(void *arg)
{
	struct lookup *l = arg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };

	l->err = getaddrinfo(l->host, "80", &hints, &l->res);
	return NULL;
}

static void *
resolve_main(void *arg)
{
	struct lookup l = { "localhost", NULL, -1 };
	bool loopback = false;

	(void)arg;
	T_REQUIRE_INT_EQ(green_offload(lookup_job, &l, NULL, -1), 0);
	T_REQUIRE_INT_EQ(l.err, 0);
	for (struct addrinfo *a = l.res; a != NULL; a = a->ai_next) {
		if (a->ai_family == AF_INET)
			loopback |= ((struct sockaddr_in *)a->ai_addr)
					    ->sin_addr.s_addr ==
				    htonl(INADDR_LOOPBACK);
		if (a->ai_family == AF_INET6)
			loopback |= memcmp(&((struct sockaddr_in6 *)a->ai_addr)
						    ->sin6_addr,
					   &in6addr_loopback,
					   sizeof(in6addr_loopback)) == 0;
	}
	freeaddrinfo(l.res);
	T_CHECK(loopback);
	return NULL;
}

START_TEST(test_offload_resolves_names)
{
	run_in_task(resolve_main, NULL);
}
END_TEST

START_TEST(test_offload_many_jobs_all_run)
{
	run_in_task(many_jobs_main, NULL);
}
END_TEST

/* Regular files go through the pool; the data is the file's. */
static void *
file_main(void *arg)
{
	char path[] = "/tmp/check_io.XXXXXX", buf[64];
	int fd = mkstemp(path);

	(void)arg;
	T_REQUIRE(fd >= 0);
	unlink(path);
	T_CHECK_INT_EQ(green_write(fd, "regular file", 12, -1), 12);
	T_CHECK_INT_EQ(lseek(fd, 0, SEEK_SET), 0);
	T_CHECK_INT_EQ(green_read(fd, buf, sizeof(buf), -1), 12);
	T_CHECK(memcmp(buf, "regular file", 12) == 0);
	T_CHECK_INT_EQ(green_read(fd, buf, sizeof(buf), -1), 0);
	T_CHECK_INT_EQ(green_fdwait(fd, GREEN_READ, 0), GREEN_READ);
	green_close(fd);
	return NULL;
}

START_TEST(test_regular_file_io_in_a_task)
{
	run_in_task(file_main, NULL);
}
END_TEST

START_TEST(test_offload_from_a_plain_thread_runs_inline)
{
	void *res = NULL;

	ck_assert_int_eq(green_offload(count_job, (void *)3, &res, -1), 0);
	ck_assert_ptr_eq(res, (void *)3);
}
END_TEST

/* --- short reads: after a read returns less than it asked for, the next
 * read waits for an input event instead of trying (lib/netpoll.c,
 * green__fd_drained); these check that no input is ever left behind. */

/* A connected TCP pair on 127.0.0.1, made with plain (blocking) calls:
 * loopback connects complete in the listener's backlog.  Returns whether
 * it worked. */
static bool
tcp_pair(int sv[2])
{
	struct sockaddr_in addr;
	int ls = listener(1, &addr);

	if (ls < 0)
		return false;
	sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sv[0] < 0 || connect(sv[0], (struct sockaddr *)&addr,
				 sizeof(addr)) != 0) {
		close(ls);
		return false;
	}
	sv[1] = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	close(ls);
	return sv[1] >= 0;
}

static void
close_pair(int sv[2])
{
	green_close(sv[0]);
	green_close(sv[1]);
}

/* Registers fd with the netpoller and lets an idle worker poll, so that
 * input sent before this returns has had its event handled. */
static void
register_and_settle(int fd)
{
	T_CHECK_INT_EQ(green_fdwait(fd, GREEN_WRITE, green_now() + SHORT),
		       GREEN_WRITE);
}

static void
settle(void)
{
	green_sleep(green_now() + SHORT);
}

#define SHORT_READ_ROUNDS 300

static void *
later_writer(void *arg)
{
	intptr_t v = (intptr_t)arg;
	int fd = (int)(v >> 8), delay = (int)(v & 0xff);

	if (delay > 1)
		green_sleep(green_now() + GREEN_USEC(delay));
	else if (delay == 1)
		green_yield();
	T_CHECK_INT_EQ(green_write(fd, "def", 3, -1), 3);
	return NULL;
}

static void *
short_read_main(void *arg)
{
	int sv[2];
	char buf[64];

	(void)arg;
	T_REQUIRE(tcp_pair(sv));
	for (int i = 0; i < SHORT_READ_ROUNDS; i++) {
		green_task_t *w;
		int64_t deadline = green_now() + GREEN_SEC(5);

		T_REQUIRE_INT_EQ(green_write(sv[0], "abc", 3, -1), 3);
		T_REQUIRE_INT_EQ(green_read(sv[1], buf, sizeof(buf), deadline),
				 3);
		/* more input right away, after a yield, or a little later */
		T_REQUIRE_INT_EQ(green_spawn(&w, NULL, later_writer,
					     (void *)(((intptr_t)sv[0] << 8) |
						      (i % 3 == 2 ? 50 + i % 100
								  : i % 3))),
				 0);
		T_REQUIRE_INT_EQ(green_read(sv[1], buf, sizeof(buf), deadline),
				 3);
		T_CHECK(memcmp(buf, "def", 3) == 0);
		T_CHECK_INT_EQ(green_join(w, NULL, -1), 0);
	}
	/* and the end of input after a short read */
	T_CHECK_INT_EQ(green_write(sv[0], "x", 1, -1), 1);
	T_CHECK_INT_EQ(green_read(sv[1], buf, sizeof(buf), -1), 1);
	T_CHECK_INT_EQ(shutdown(sv[0], SHUT_WR), 0);
	T_CHECK_INT_EQ(green_read(sv[1], buf, sizeof(buf),
				  green_now() + GREEN_SEC(5)),
		       0);
	close_pair(sv);
	/* input and its end both seen by the netpoller before the read */
	T_REQUIRE(tcp_pair(sv));
	register_and_settle(sv[1]);
	T_CHECK_INT_EQ(green_write(sv[0], "x", 1, -1), 1);
	T_CHECK_INT_EQ(shutdown(sv[0], SHUT_WR), 0);
	settle();
	T_CHECK_INT_EQ(green_read(sv[1], buf, sizeof(buf), -1), 1);
	T_CHECK_INT_EQ(green_read(sv[1], buf, sizeof(buf),
				  green_now() + GREEN_SEC(5)),
		       0);
	close_pair(sv);
	return NULL;
}

START_TEST(test_input_after_a_short_read_is_read)
{
	run_in_task(short_read_main, NULL);
}
END_TEST

/* Two tasks read one socket while a third writes chunks of every size:
 * every byte arrives at one of them, and both see the end. */
#define TWO_READERS_ROUNDS 20
#define TWO_READERS_BYTES 200000

struct two_readers {
	int fd;
	atomic_long got;
};

static void *
sharing_reader(void *arg)
{
	struct two_readers *tr = arg;
	char buf[512];
	ssize_t n;

	while ((n = green_read(tr->fd, buf, sizeof(buf),
			       green_now() + GREEN_SEC(10))) > 0)
		atomic_fetch_add(&tr->got, n);
	T_CHECK_INT_EQ(n, 0);
	return NULL;
}

static void *
two_readers_main(void *arg)
{
	static char chunk[1500];

	(void)arg;
	for (int round = 0; round < TWO_READERS_ROUNDS; round++) {
		struct two_readers tr = { .got = 0 };
		green_task_t *r[2];
		unsigned seed = (unsigned)round;
		int sv[2];
		long sent = 0;

		T_REQUIRE(tcp_pair(sv));
		tr.fd = sv[1];
		for (int i = 0; i < 2; i++)
			T_REQUIRE_INT_EQ(green_spawn(&r[i], NULL,
						     sharing_reader, &tr),
					 0);
		while (sent < TWO_READERS_BYTES) {
			size_t n = 1 + (size_t)rand_r(&seed) % sizeof(chunk);
			T_REQUIRE_INT_EQ(green_write(sv[0], chunk, n, -1),
					 (ssize_t)n);
			sent += (long)n;
			if (rand_r(&seed) % 4 == 0)
				green_yield();
		}
		T_CHECK_INT_EQ(shutdown(sv[0], SHUT_WR), 0);
		for (int i = 0; i < 2; i++)
			T_CHECK_INT_EQ(green_join(r[i], NULL, -1), 0);
		T_CHECK_INT_EQ(atomic_load(&tr.got), sent);
		close_pair(sv);
	}
	return NULL;
}

START_TEST(test_two_readers_of_one_socket_lose_nothing)
{
	run_in_task(two_readers_main, NULL);
}
END_TEST

/* A peek leaves its input there: a short peek proves nothing. */
static void *
peek_main(void *arg)
{
	int sv[2];
	char buf[64];

	(void)arg;
	T_REQUIRE(tcp_pair(sv));
	register_and_settle(sv[1]);
	T_CHECK_INT_EQ(send(sv[0], "abc", 3, 0), 3);
	settle();
	T_CHECK_INT_EQ(green_recv(sv[1], buf, sizeof(buf), MSG_PEEK, -1), 3);
	T_CHECK_INT_EQ(green_read(sv[1], buf, sizeof(buf),
				  green_now() + GREEN_SEC(2)),
		       3);
	close_pair(sv);
	return NULL;
}

START_TEST(test_short_peek_then_read_gets_the_input)
{
	run_in_task(peek_main, NULL);
}
END_TEST

/* A TCP read stops short at the urgent mark with input queued behind it,
 * its event long handled: the next read must still get that input. */
static void *
urgent_main(void *arg)
{
	int sv[2];
	char buf[64];

	(void)arg;
	T_REQUIRE(tcp_pair(sv));
	register_and_settle(sv[1]);
	T_CHECK_INT_EQ(send(sv[0], "abc", 3, 0), 3);
	T_CHECK_INT_EQ(send(sv[0], "X", 1, MSG_OOB), 1);
	T_CHECK_INT_EQ(send(sv[0], "def", 3, 0), 3);
	settle();
	T_CHECK_INT_EQ(green_read(sv[1], buf, sizeof(buf), -1), 3);
	T_CHECK_INT_EQ(green_read(sv[1], buf, sizeof(buf),
				  green_now() + GREEN_SEC(2)),
		       3);
	T_CHECK(memcmp(buf, "def", 3) == 0);
	close_pair(sv);
	return NULL;
}

START_TEST(test_read_after_urgent_data_gets_the_rest)
{
	run_in_task(urgent_main, NULL);
}
END_TEST

/* A Unix stream socket with SO_PASSCRED never glues input from two
 * senders in one read: a short read there proves nothing either. */
static void *
unix_creds_main(void *arg)
{
	int sv[2], one = 1, status;
	char buf[64];
	ssize_t n, got = 0;
	pid_t child;

	(void)arg;
	T_REQUIRE_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	T_REQUIRE_INT_EQ(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one,
				    sizeof(one)),
			 0);
	register_and_settle(sv[1]);
	child = fork();
	T_REQUIRE(child >= 0);
	if (child == 0)
		_exit(write(sv[0], "abc", 3) == 3 ? 0 : 1);
	T_REQUIRE_INT_EQ(waitpid(child, &status, 0), child);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	T_CHECK_INT_EQ(write(sv[0], "def", 3), 3);
	settle();
	while (got < 6 && (n = green_read(sv[1], buf + got,
					  sizeof(buf) - (size_t)got,
					  green_now() + GREEN_SEC(2))) > 0)
		got += n;
	T_CHECK_INT_EQ(got, 6);
	T_CHECK(memcmp(buf, "abcdef", 6) == 0);
	close_pair(sv);
	return NULL;
}

START_TEST(test_unix_reads_split_by_sender_lose_nothing)
{
	run_in_task(unix_creds_main, NULL);
}
END_TEST

/* --- suite ------------------------------------------------------------------------------ */

static Suite *
io_suite(void)
{
	Suite *s = suite_create("io");
	TCase *tc;

	tc = add_tcase(s, "echo", NULL, NULL, TIMEOUT);
	tcase_add_test(tc, test_echo_one_connection);
	tcase_add_test(tc, test_echo_100_connections);
	tcase_add_test(tc, test_echo_10000_connections);

	tc = add_tcase(s, "calls", setup, teardown, TIMEOUT);
	tcase_add_test(tc, test_partial_reads_and_writes_keep_every_byte);
	tcase_add_test(tc, test_writev_writes_every_vector);
	tcase_add_test(tc, test_read_returns_zero_at_eof);
	tcase_add_test(tc, test_peer_reset_returns_econnreset);
	tcase_add_test(tc, test_deadlines_on_read_accept_connect);
	tcase_add_test(tc, test_connect_refused_returns_econnrefused);
	tcase_add_test(tc, test_close_or_cancel_wakes_a_blocked_reader);
	tcase_add_test(tc, test_accept_emfile_returns_error);
	tcase_add_test(tc, test_reused_fd_number_gets_no_stale_readiness);
	tcase_add_test(tc, test_plain_thread_read_blocks_the_thread);
	tcase_add_test(tc, test_input_after_a_short_read_is_read);
	tcase_add_test(tc, test_two_readers_of_one_socket_lose_nothing);
	tcase_add_test(tc, test_short_peek_then_read_gets_the_input);
	tcase_add_test(tc, test_read_after_urgent_data_gets_the_rest);
	tcase_add_test(tc, test_unix_reads_split_by_sender_lose_nothing);
	tcase_add_test(tc, test_select_fd_read_and_write_cases);
	tcase_add_test(tc, test_select_fd_sees_data_from_before_registration);
	tcase_add_test(tc, test_select_fd_write_waits_for_room);
	tcase_add_test(tc, test_select_fd_close_and_bad_fd);
	tcase_add_test(tc, test_select_fd_and_channel_race_without_loss);
	tcase_add_test(tc, test_select_fd_from_a_plain_thread);

	tcase_add_test(tc, test_offload_many_jobs_all_run);
	tcase_add_test(tc, test_offload_resolves_names);
	tcase_add_test(tc, test_regular_file_io_in_a_task);
	tcase_add_test(tc, test_offload_from_a_plain_thread_runs_inline);

	tc = add_tcase(s, "one_worker", one_worker, teardown, TIMEOUT);
	tcase_add_test(tc, test_io_is_polled_while_tasks_keep_the_worker_busy);
	tcase_add_test(tc, test_offload_parks_only_the_task);

	tc = add_tcase(s, "one_pool_thread", one_pool_thread, teardown, TIMEOUT);
	tcase_add_test(tc, test_offload_deadline_takes_back_a_queued_job);

	tc = add_tcase(s, "runtime", NULL, NULL, TIMEOUT);
	tcase_add_test(tc, test_waiting_for_io_is_not_a_deadlock);
	tcase_add_test(tc, test_io_without_runtime_returns_eperm);
	return s;
}

int
main(void)
{
	return run_suite(io_suite());
}
