/*
 * fuzz_trace_reader.c - libFuzzer harness for green-trace: the input is a
 * trace in memory, run through all three subcommands (summary, the Chrome
 * export, the HTML report) with their output going to /dev/null.  Any
 * input must give success or an error message; crashes, leaks, undefined
 * behaviour (with -fsanitize=...) and hangs are findings.  Built and run
 * by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct gt_input in = {.buf = data, .len = size, .name = "fuzz"};
	int (*const cmds[])(const struct gt_input *, FILE *, char *, size_t) = {
		gt_summary, gt_chrome, gt_report};
	char err[1024];

	if (null == NULL && (null = fopen("/dev/null", "w")) == NULL)
		abort();
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		err[0] = '\0';
		if (cmds[i](&in, null, err, sizeof(err)) != 0 &&
		    (err[0] == '\0' || strlen(err) >= sizeof(err)))
			abort(); /* every failure has a message */
	}
	return 0;
}
