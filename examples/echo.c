/*
 * echo - a TCP echo server: every byte a client sends comes back to it.
 * A task per connection, written as straight-line blocking code: each
 * green_read and green_write parks only its task, so one worker serves
 * thousands of connections.
 *
 *   echo [-p PORT] [-w WORKERS]     (default port 8007, 1 worker)
 *
 * Build as a user would:  cc echo.c $(pkg-config --cflags --libs libgreen)
 * Try it:                 ./a.out -p 8007 &  nc localhost 8007
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* getopt, even under -std=c11 */
#endif
#include <arpa/inet.h>
#include <green.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void *
serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	ssize_t n;

	/*
	 * Read returns what has arrived, however little; green_write sends
	 * all of it or fails, so no partial-write loop is needed here.  A
	 * client that stops reading parks this task in green_write until it
	 * does: the back-pressure reaches the sender instead of a buffer.
	 */
	while ((n = green_read(fd, buf, sizeof(buf), GREEN_FOREVER)) > 0) {
		if (green_write(fd, buf, (size_t)n, GREEN_FOREVER) < 0)
			break;
	}
	if (n < 0)
		fprintf(stderr, "echo: read: %s\n", green_strerror((int)n));
	green_close(fd);
	return NULL;
}

static void
accept_loop(void *arg)
{
	int lfd = *(int *)arg, fd, err;

	for (;;) {
		fd = green_accept(lfd, NULL, NULL, SOCK_CLOEXEC, GREEN_FOREVER);
		if (fd < 0) {
			fprintf(stderr, "echo: accept: %s\n",
				green_strerror(fd));
			/* out of fds: let connections end before trying again */
			green_sleep(green_now() + GREEN_MSEC(10));
			continue;
		}
		/* detached (NULL handle): the task cleans up after itself */
		err = green_spawn(NULL, NULL, serve, (void *)(intptr_t)fd);
		if (err != 0) {
			fprintf(stderr, "echo: spawn: %s\n",
				green_strerror(err));
			green_close(fd);
		}
	}
}

static int
listen_on(int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	int one = 1, fd;

	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_ANY);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* restart at once on a port whose old connections are in TIME_WAIT */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(fd, 4096) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	green_config_t cfg = { .workers = 1 };
	int port = 8007, lfd, opt, err;

	while ((opt = getopt(argc, argv, "p:w:")) != -1) {
		if (opt == 'p')
			port = atoi(optarg);
		else if (opt == 'w')
			cfg.workers = (unsigned)atoi(optarg);
		else {
			fprintf(stderr, "usage: %s [-p PORT] [-w WORKERS]\n",
				argv[0]);
			return 2;
		}
	}
	if ((lfd = listen_on(port)) < 0) {
		perror("echo: listen");
		return 1;
	}
	fprintf(stderr, "echo: listening on port %d\n", port);
	err = green_run(accept_loop, &lfd, &cfg);
	if (err != 0)
		fprintf(stderr, "echo: %s\n", green_strerror(err));
	return err != 0;
}
