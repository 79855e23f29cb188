/*
 * soak/echo.c - -n concurrent echo connections over loopback (default
 * 10,000) for -t seconds (default 60), every byte checked.
 *
 * The server runs in a child process (the two ends of 10,000 connections
 * need more descriptors than one process may have here): a task accepts,
 * and a task per connection echoes what it reads.  The client, this
 * process, runs a task per connection that writes a message of random
 * length and content (a generator seeded per connection), reads the echo
 * back and compares it byte for byte, until the time is up.  The resident
 * sets of both processes are read once every connection is up and a
 * warm-up has passed, and again at the end.  PASS: every connection came
 * up, no error, no byte wrong, and neither resident set grew by more than
 * 5% (plus 1 MiB of slack for the allocator's noise) over the run.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "soak.h"

#define MAX_MSG 1024
#define WARMUP_SECONDS 5

/* --- the server (child process) -------------------------------------------- */

struct server {
	int lfd;
	long conns;
	atomic_long errors;
	green_wg_t wg;
};

struct conn {
	struct server *srv;
	int fd;
};

static void *
serve(void *arg)
{
	struct conn *c = arg;
	char *buf = malloc(MAX_MSG);
	ssize_t n = -ENOMEM;

	while (buf != NULL &&
	       (n = green_read(c->fd, buf, MAX_MSG, GREEN_FOREVER)) > 0)
		if ((n = green_write(c->fd, buf, (size_t)n, GREEN_FOREVER)) < 0)
			break;
	if (n < 0) {
		fprintf(stderr, "echo server: %s\n", green_strerror((int)n));
		atomic_fetch_add(&c->srv->errors, 1);
	}
	free(buf);
	green_close(c->fd);
	green_wg_done(&c->srv->wg);
	free(c);
	return NULL;
}

static void
server_main(void *arg)
{
	struct server *srv = arg;

	for (long i = 0; i < srv->conns; i++) {
		struct conn *c = malloc(sizeof(*c));
		int fd = green_accept(srv->lfd, NULL, NULL, SOCK_CLOEXEC,
				      GREEN_FOREVER);
		int err;

		if (fd < 0 || c == NULL) {
			fprintf(stderr, "echo server: accept: %s\n",
				green_strerror(fd < 0 ? fd : -ENOMEM));
			atomic_fetch_add(&srv->errors, 1);
			free(c);
			if (fd >= 0)
				green_close(fd);
			continue;
		}
		*c = (struct conn){ .srv = srv, .fd = fd };
		green_wg_add(&srv->wg, 1);
		if ((err = green_spawn(NULL, NULL, serve, c)) != 0) {
			fprintf(stderr, "echo server: spawn: %s\n",
				green_strerror(err));
			atomic_fetch_add(&srv->errors, 1);
			green_wg_done(&srv->wg);
			green_close(fd);
			free(c);
		}
	}
	/* every connection ends when the client closes it */
	green_wg_wait(&srv->wg, GREEN_FOREVER);
}

static int
run_server(int lfd, const struct soak_opts *o)
{
	struct server srv = { .lfd = lfd, .conns = o->n };
	green_config_t cfg = { .workers = o->workers };
	int err = green_run(server_main, &srv, &cfg);

	if (err != 0) {
		fprintf(stderr, "echo server: green_run: %s\n",
			green_strerror(err));
		return 1;
	}
	return atomic_load(&srv.errors) != 0;
}

/* --- the client (this process) --------------------------------------------- */

struct client {
	struct sockaddr_in addr;
	long conns;
	_Atomic int64_t stop_at; /* set once every connection is up */
	atomic_long up, errors, wrong, trips, bytes;
	long server_pid;
	long rss_warm, rss_end, srv_warm, srv_end;
	uint64_t seed;
};

struct peer {
	struct client *cl;
	long id;
};

static int
connect_one(struct client *cl)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	err = green_connect(fd, (struct sockaddr *)&cl->addr,
			    sizeof(cl->addr), green_now() + GREEN_SEC(60));
	if (err != 0) {
		green_close(fd);
		return err;
	}
	return fd;
}

/* One round trip of n bytes of out; 1 when the echo matched, 0 when it
 * differed, <0 on error. */
static int
round_trip(int fd, const char *out, char *in, size_t n)
{
	size_t got = 0;
	ssize_t r;

	if ((r = green_write(fd, out, n, GREEN_FOREVER)) < 0)
		return (int)r;
	while (got < n) {
		r = green_read(fd, in + got, n - got, green_now() + GREEN_SEC(30));
		if (r <= 0)
			return r == 0 ? -ECONNRESET : (int)r;
		got += (size_t)r;
	}
	return memcmp(out, in, n) == 0;
}

static void *
client_conn(void *arg)
{
	struct peer *p = arg;
	struct client *cl = p->cl;
	uint64_t rng = soak_seed(cl->seed, (uint64_t)p->id);
	char *out = malloc(MAX_MSG), *in = malloc(MAX_MSG);
	int fd = connect_one(cl), r = 0;

	if (fd < 0 || out == NULL || in == NULL) {
		fprintf(stderr, "echo client %ld: connect: %s\n", p->id,
			green_strerror(fd < 0 ? fd : -ENOMEM));
		atomic_fetch_add(&cl->errors, 1);
		goto out;
	}
	atomic_fetch_add(&cl->up, 1);
	while (atomic_load(&cl->stop_at) == 0 ||
	       green_now() < atomic_load(&cl->stop_at)) {
		size_t n = 1 + soak_rand(&rng) % MAX_MSG;

		for (size_t i = 0; i < n; i++)
			out[i] = (char)soak_rand(&rng);
		if ((r = round_trip(fd, out, in, n)) < 0) {
			fprintf(stderr, "echo client %ld: %s\n", p->id,
				green_strerror(r));
			atomic_fetch_add(&cl->errors, 1);
			break;
		}
		if (r == 0)
			atomic_fetch_add(&cl->wrong, 1);
		atomic_fetch_add_explicit(&cl->trips, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&cl->bytes, (long)n,
					  memory_order_relaxed);
	}
out:
	if (fd >= 0)
		green_close(fd);
	free(out);
	free(in);
	return NULL;
}

struct client_run {
	struct client *cl;
	const struct soak_opts *o;
	double seconds;
};

static void
client_main(void *arg)
{
	struct client_run *run = arg;
	struct client *cl = run->cl;
	struct peer *peers = calloc((size_t)cl->conns, sizeof(*peers));
	green_task_t **t = calloc((size_t)cl->conns, sizeof(*t));
	int64_t start;
	int err;

	if (peers == NULL || t == NULL) {
		fprintf(stderr, "echo client: out of memory\n");
		exit(1);
	}
	for (long i = 0; i < cl->conns; i++) {
		peers[i] = (struct peer){ .cl = cl, .id = i };
		if ((err = green_spawn(&t[i], NULL, client_conn, &peers[i]))) {
			fprintf(stderr, "echo client: spawn: %s\n",
				green_strerror(err));
			exit(1);
		}
	}
	/* all up (or failed), then the warm-up, then the measured run */
	while (atomic_load(&cl->up) + atomic_load(&cl->errors) < cl->conns)
		green_sleep(green_now() + GREEN_MSEC(50));
	green_sleep(green_now() + GREEN_SEC(WARMUP_SECONDS));
	cl->rss_warm = soak_rss_kib(0);
	cl->srv_warm = soak_rss_kib(cl->server_pid);
	start = green_now();
	atomic_store(&cl->trips, 0);
	atomic_store(&cl->bytes, 0);
	atomic_store(&cl->stop_at, start + GREEN_SEC(run->o->seconds));
	green_sleep(atomic_load(&cl->stop_at));
	cl->rss_end = soak_rss_kib(0);
	cl->srv_end = soak_rss_kib(cl->server_pid);
	for (long i = 0; i < cl->conns; i++)
		green_join(t[i], NULL, GREEN_FOREVER);
	run->seconds = (double)(green_now() - start) / 1e9;
	free(peers);
	free(t);
}

static int
listen_any(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*addr = (struct sockaddr_in){ .sin_family = AF_INET };
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
	    listen(fd, 4096) != 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
		perror("echo: listen");
		exit(1);
	}
	return fd;
}

/* Room for n connections' descriptors and some. */
static void
raise_fd_limit(long n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max
							    : (rlim_t)n + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 16) {
		fprintf(stderr,
			"echo: %ld connections need %ld descriptors; the "
			"limit is %lu\n",
			n, n + 16, (unsigned long)rl.rlim_cur);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	struct soak_opts o = { .workers = 2, .n = 10000, .seconds = 60 };
	struct client cl = { 0 };
	struct client_run run = { .cl = &cl, .o = &o };
	green_config_t cfg;
	int lfd, status, err, server_failed;
	pid_t pid;
	char why[256] = "";

	soak_parse(&o, argc, argv, "concurrent connections");
	raise_fd_limit(o.n);
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_any(&cl.addr);
	if ((pid = fork()) < 0) {
		perror("echo: fork");
		return 1;
	}
	if (pid == 0)
		_exit(run_server(lfd, &o));
	close(lfd);
	cl.conns = o.n;
	cl.server_pid = pid;
	cl.seed = o.seed;
	cfg = (green_config_t){ .workers = o.workers };
	if ((err = green_run(client_main, &run, &cfg)) != 0) {
		fprintf(stderr, "echo client: green_run: %s\n",
			green_strerror(err));
		kill(pid, SIGKILL);
		return 1;
	}
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	server_failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	soak_report("echo_connections", "%ld", o.n);
	soak_report("echo_connected", "%ld", atomic_load(&cl.up));
	soak_report("echo_workers", "%u (each side)", o.workers);
	soak_report("echo_seconds", "%.1f", run.seconds);
	soak_report("echo_round_trips", "%ld", atomic_load(&cl.trips));
	soak_report("echo_round_trips_per_s", "%.0f",
		    (double)atomic_load(&cl.trips) / run.seconds);
	soak_report("echo_bytes_checked", "%ld", atomic_load(&cl.bytes));
	soak_report("echo_errors", "%ld", atomic_load(&cl.errors));
	soak_report("echo_wrong_echoes", "%ld", atomic_load(&cl.wrong));
	soak_report("echo_server_status", "%s",
		    server_failed ? "failed" : "ok");
	soak_report("echo_client_rss_kib", "%ld -> %ld (%+.2f%%)", cl.rss_warm,
		    cl.rss_end, soak_growth(cl.rss_warm, cl.rss_end));
	soak_report("echo_server_rss_kib", "%ld -> %ld (%+.2f%%)", cl.srv_warm,
		    cl.srv_end, soak_growth(cl.srv_warm, cl.srv_end));
	if (atomic_load(&cl.up) != o.n)
		snprintf(why, sizeof(why), "%ld of %ld connections came up",
			 atomic_load(&cl.up), o.n);
	else if (atomic_load(&cl.errors) != 0 || server_failed)
		snprintf(why, sizeof(why), "errors");
	else if (atomic_load(&cl.wrong) != 0)
		snprintf(why, sizeof(why), "echoes differed");
	else if (cl.rss_end > cl.rss_warm + cl.rss_warm / 20 + 1024 ||
		 cl.srv_end > cl.srv_warm + cl.srv_warm / 20 + 1024)
		snprintf(why, sizeof(why), "a resident set grew");
	return soak_verdict(&o, why[0] != '\0' ? why : NULL);
}
