/* hello: the smallest libgreen program.  Build it as a user would:
 *   cc hello.c $(pkg-config --cflags --libs libgreen) */
#include <green.h>
#include <stdio.h>

static void *
greet(void *arg)
{
	printf("hello from task %llu on worker %d: %s\n",
	       (unsigned long long)green_task_id(green_self()),
	       green_worker_id(), (const char *)arg);
	return NULL;
}

static void
start(void *arg)
{
	green_task_t *t;
	int err;

	(void)arg;
	if ((err = green_spawn(&t, NULL, greet, "world")) != 0 ||
	    (err = green_join(t, NULL, -1)) != 0)
		fprintf(stderr, "hello: %s\n", green_strerror(err));
}

int
main(void)
{
	int err = green_run(start, NULL, NULL);

	if (err != 0) {
		fprintf(stderr, "hello: %s\n", green_strerror(err));
		return 1;
	}
	return 0;
}
