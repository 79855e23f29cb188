/*
 * fanout - many concurrent outgoing requests, each written as plain
 * blocking code in its own task.
 *
 * The program starts a tiny HTTP server task on an ephemeral port of
 * 127.0.0.1, then N client tasks that each connect to it, send one GET,
 * read the whole response and close.  The clients are a task group
 * (green_group_create(3)): at most CONNS of them run at once, the whole
 * batch has SECS seconds, and the first request that fails cancels the
 * rest.  The server and its connection tasks are a group too, so ending
 * the server is one green_group_destroy.
 *
 *   fanout [-n N] [-c CONNS] [-t SECS] [-w WORKERS]
 *          (default 1000, 100, 60 s, 1 worker)
 *
 * It prints how many requests succeeded and the time taken, and exits 0
 * only if all of them did.  Every client closes its end first, so each
 * request leaves a client port in TIME_WAIT for a minute: very large N
 * can run out of local ports.
 *
 * Build as a user would: cc fanout.c $(pkg-config --cflags --libs libgreen)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, strcasestr */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <green.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST_MAX 8192
#define TIMEOUT GREEN_SEC(10) /* per request: connect, send, receive */

static const char request[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\n"
			       "Content-Type: text/plain\r\n"
			       "Content-Length: 13\r\n"
			       "\r\n"
			       "Hello, world!";
static const char body[] = "Hello, world!";

/* What the tasks share; it lives in main()'s frame for the whole run. */
struct fanout {
	long n;			  /* client tasks */
	long conns;		  /* connections open at once, at most */
	long secs;		  /* the batch's deadline, from its start */
	int lfd;		  /* the server's listening socket */
	struct sockaddr_in addr;  /* ... and its address */
	atomic_long ok;		  /* clients that got the whole body */
	int64_t elapsed;	  /* ns, from the first spawn to the last done */
	int err;		  /* a setup error, negative errno */
};

/* --- the server: http_hello's loop, without pipelining batches --------- */

/* Answer each complete request in buf[0..*len); keep the partial rest. */
static int
answer(int fd, char *buf, size_t *len)
{
	char *start = buf, *end;

	while ((end = memmem(start, *len - (size_t)(start - buf), "\r\n\r\n",
			     4)) != NULL) {
		if (green_write(fd, response, sizeof(response) - 1,
				GREEN_FOREVER) < 0)
			return -1;
		start = end + 4;
	}
	*len -= (size_t)(start - buf);
	memmove(buf, start, *len);
	return 0;
}

static int
serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[REQUEST_MAX];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) && (n = green_read(fd, buf + len,
						    sizeof(buf) - len,
						    GREEN_FOREVER)) > 0) {
		len += (size_t)n;
		if (answer(fd, buf, &len) != 0)
			break;
	}
	green_close(fd);
	return 0;
}

/* Runs until its group is destroyed: green_accept then fails with
 * -ECANCELED.  Each connection's task joins the server's group. */
static int
server(void *arg)
{
	struct fanout *f = arg;
	int fd, err;

	for (;;) {
		fd = green_accept(f->lfd, NULL, NULL, SOCK_CLOEXEC,
				  GREEN_FOREVER);
		if (fd == -ECANCELED)
			return 0;
		if (fd < 0) {
			fprintf(stderr, "fanout: accept: %s\n",
				green_strerror(fd));
			/* out of fds: let connections end before trying again */
			green_sleep(green_now() + GREEN_MSEC(10));
			continue;
		}
		err = green_group_spawn(green_group_self(), NULL, serve,
					(void *)(intptr_t)fd, GREEN_FOREVER);
		if (err != 0) {
			fprintf(stderr, "fanout: spawn: %s\n",
				green_strerror(err));
			green_close(fd);
		}
	}
}

/* --- the clients ---------------------------------------------------------- */

/*
 * Read one response into buf until its body is complete.  Returns the
 * body's offset in buf and its length in *blen, or a negative errno.
 */
static ssize_t
read_response(int fd, char *buf, size_t size, size_t *blen, int64_t deadline)
{
	size_t len = 0, hlen = 0;
	char *end, *cl;
	ssize_t n;

	for (;;) {
		if (hlen > 0 && len >= hlen + *blen)
			return (ssize_t)hlen;
		if (len == size - 1)
			return -EMSGSIZE;
		n = green_read(fd, buf + len, size - 1 - len, deadline);
		/* end of file before the whole body: the peer hung up */
		if (n <= 0)
			return n == 0 ? -ECONNRESET : n;
		len += (size_t)n;
		buf[len] = '\0';
		if (hlen > 0 || (end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		/* headers complete: the length says how much body follows */
		hlen = (size_t)(end + 4 - buf);
		*end = '\0';
		cl = strcasestr(buf, "\r\nContent-Length:");
		if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0 || cl == NULL)
			return -EPROTO;
		*blen = strtoul(cl + 17, NULL, 10);
		if (*blen > size - 1 - hlen)
			return -EMSGSIZE;
	}
}

/* One request on a new connection; 0 or a negative errno. */
static int
fetch(const struct sockaddr_in *addr)
{
	int64_t deadline = green_now() + TIMEOUT;
	char buf[1024];
	size_t blen = 0;
	ssize_t off, w;
	int fd, err, cerr;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = green_connect(fd, (const struct sockaddr *)addr, sizeof(*addr),
			    deadline);
	if (err == 0) {
		w = green_write(fd, request, sizeof(request) - 1, deadline);
		if (w < 0)
			err = (int)w;
	}
	if (err == 0) {
		off = read_response(fd, buf, sizeof(buf), &blen, deadline);
		if (off < 0)
			err = (int)off;
		else if (blen != sizeof(body) - 1 ||
			 memcmp(buf + off, body, blen) != 0)
			err = -EPROTO;
	}
	/* green_close, not close: it also forgets libgreen's record of fd */
	cerr = green_close(fd);
	return err != 0 ? err : cerr;
}

/* One client: 0 or a negative errno, which its group collects. */
static int
client(void *arg)
{
	struct fanout *f = arg;
	int err = fetch(&f->addr);

	if (err == 0)
		atomic_fetch_add(&f->ok, 1);
	else if (err != -ECANCELED) /* cancelled: another one failed */
		fprintf(stderr, "fanout: request: %s\n", green_strerror(err));
	return err;
}

/* --- the main task ---------------------------------------------------------- */

static int
run_clients(struct fanout *f)
{
	int64_t t0 = green_now();
	green_group_attr_t a = { .limit = (unsigned)f->conns,
				 .deadline = t0 + GREEN_SEC(f->secs),
				 .policy = GREEN_GROUP_FIRST_ERROR,
				 .name = "clients" };
	green_group_t *g;
	int err, werr;

	if ((err = green_group_create(&g, &a)) != 0)
		return err;
	/* each spawn waits while CONNS clients run; -ECANCELED once one
	 * has failed */
	for (long i = 0; i < f->n && err == 0; i++)
		err = green_group_spawn(g, NULL, client, f, GREEN_FOREVER);
	werr = green_group_wait(g, GREEN_FOREVER);
	f->elapsed = green_now() - t0;
	green_group_destroy(g);
	return werr != 0 ? werr : err;
}

static void
start(void *arg)
{
	struct fanout *f = arg;
	green_group_attr_t a = { .name = "server" };
	green_group_t *srv;
	int err;

	if ((err = green_group_create(&srv, &a)) != 0 ||
	    (err = green_group_spawn(srv, NULL, server, f, 0)) != 0) {
		f->err = err;
		return;
	}
	f->err = run_clients(f);
	/* the server would accept for ever: stop it and its connections */
	if ((err = green_group_destroy(srv)) != 0 ||
	    (err = green_close(f->lfd)) != 0) {
		if (f->err == 0)
			f->err = err;
	}
}

/* A listening socket on an ephemeral port of 127.0.0.1, its address in *a. */
static int
listen_local(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int fd;

	*a = (struct sockaddr_in){ .sin_family = AF_INET };
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* port 0: the kernel picks a free one, getsockname tells which */
	if (bind(fd, (struct sockaddr *)a, sizeof(*a)) != 0 ||
	    listen(fd, 4096) != 0 ||
	    getsockname(fd, (struct sockaddr *)a, &len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct fanout f = { .n = 1000, .conns = 100, .secs = 60 };
	green_config_t cfg = { .workers = 1 };
	int opt, err;

	while ((opt = getopt(argc, argv, "n:c:t:w:")) != -1) {
		if (opt == 'n')
			f.n = atol(optarg);
		else if (opt == 'c')
			f.conns = atol(optarg);
		else if (opt == 't')
			f.secs = atol(optarg);
		else if (opt == 'w')
			cfg.workers = (unsigned)atoi(optarg);
		else
			f.n = -1;
	}
	if (f.n < 1 || f.conns < 1 || f.conns > UINT32_MAX || f.secs < 1 ||
	    f.secs > 1000000000 ||
	    optind != argc) {
		fprintf(stderr,
			"usage: %s [-n N] [-c CONNS] [-t SECS] [-w WORKERS]\n",
			argv[0]);
		return 2;
	}
	if ((f.lfd = listen_local(&f.addr)) < 0) {
		perror("fanout: listen");
		return 1;
	}
	err = green_run(start, &f, &cfg);
	if (err == 0)
		err = f.err;
	if (err != 0)
		fprintf(stderr, "fanout: %s\n", green_strerror(err));
	printf("fanout: %ld/%ld requests succeeded, %ld at once, in %.1f ms\n",
	       atomic_load(&f.ok), f.n, f.conns, f.elapsed / 1e6);
	return err == 0 && atomic_load(&f.ok) == f.n ? 0 : 1;
}
