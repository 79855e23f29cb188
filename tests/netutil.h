/*
 * netutil.h - socket helpers shared by the I/O tests (check_io.c,
 * check_hook.c).  No check assertions: callable before the tests run.
 */
#ifndef GREEN_NETUTIL_H
#define GREEN_NETUTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A listening TCP socket on 127.0.0.1 and an ephemeral port, whose
 * address goes to *addr; or -errno. */
static inline int
listener(int backlog, struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
	    listen(fd, backlog) != 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

#endif /* GREEN_NETUTIL_H */
