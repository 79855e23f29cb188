/*
 * main.c - green-trace(1): argument parsing only; the subcommands live in
 * summary.c, chrome.c and report.c (gt.h).
 *
 * Exit status: 0 success, 1 a bad trace or an I/O error (message on
 * stderr; a partial output file is removed), 2 a usage error.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gt.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define EXIT_BAD 1
#define EXIT_USAGE 2

static const char usage_text[] =
	"usage: green-trace summary TRACE [-o FILE]\n"
	"       green-trace export --format=chrome TRACE [-o FILE]\n"
	"       green-trace report TRACE [-o FILE]\n"
	"       green-trace --help | --version\n"
	"\n"
	"  summary   tasks by entry function, latencies, blocking, workers,\n"
	"            tasks that held a worker, the longest run slices, as text\n"
	"  export    Chrome trace-event JSON for Perfetto or chrome://tracing\n"
	"  report    one self-contained HTML page with a timeline\n"
	"  -o FILE   write to FILE instead of standard output\n"
	"\n"
	"Exit status: 0 success, 1 bad trace or I/O error, 2 usage error.\n"
	"See green-trace(1) and green-trace(5).\n";

struct args {
	const char *cmd, *trace, *output, *format;
};

__attribute__((format(printf, 1, 2))) static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("green-trace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'green-trace --help'.\n", stderr);
	return EXIT_USAGE;
}

/* "--name=value" or "--name value" (or "-o value", "-ovalue"). */
static int
option_value(int argc, char **argv, int *i, const char *name,
	     const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=' || (name[1] != '-' && a[n] != '\0')) {
		*val = a + n + (a[n] == '=');
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

static int
parse(int argc, char **argv, struct args *a)
{
	bool opts = true;

	a->cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		int r;

		if (opts && strcmp(arg, "--") == 0) {
			opts = false;
		} else if (opts && ((r = option_value(argc, argv, &i, "-o", &a->output)) != 0 ||
				    (r = option_value(argc, argv, &i, "--output", &a->output)) != 0 ||
				    (r = option_value(argc, argv, &i, "--format", &a->format)) != 0)) {
			if (r < 0)
				return usage_error("option %s needs a value", arg);
		} else if (opts && arg[0] == '-' && arg[1] != '\0') {
			return usage_error("unknown option %s", arg);
		} else if (a->trace == NULL) {
			a->trace = arg;
		} else {
			return usage_error("unexpected argument %s", arg);
		}
	}
	if (a->trace == NULL)
		return usage_error("%s: no trace file given", a->cmd);
	return 0;
}

typedef int (*command_fn)(const struct gt_input *, FILE *, char *, size_t);

static int
pick(const struct args *a, command_fn *fn)
{
	if (strcmp(a->cmd, "summary") == 0 || strcmp(a->cmd, "report") == 0) {
		if (a->format != NULL)
			return usage_error("%s takes no --format", a->cmd);
		*fn = a->cmd[0] == 's' ? gt_summary : gt_report;
		return 0;
	}
	if (strcmp(a->cmd, "export") == 0) {
		if (a->format == NULL)
			return usage_error("export needs --format=chrome");
		if (strcmp(a->format, "chrome") != 0)
			return usage_error("unknown format '%s' (known: chrome)",
					   a->format);
		*fn = gt_chrome;
		return 0;
	}
	return usage_error("unknown command '%s'", a->cmd);
}

static int
run(const struct args *a, command_fn fn)
{
	struct gt_input in = {.path = a->trace};
	bool to_file = a->output != NULL && strcmp(a->output, "-") != 0;
	FILE *out = to_file ? fopen(a->output, "w") : stdout;
	char err[1024];
	int rc;

	if (out == NULL) {
		fprintf(stderr, "green-trace: %s: %s\n", a->output,
			strerror(errno));
		return EXIT_BAD;
	}
	rc = fn(&in, out, err, sizeof(err));
	if (rc == 0 && to_file && fclose(out) != 0) {
		snprintf(err, sizeof(err), "%s: %s", a->output, strerror(errno));
		rc = EXIT_BAD;
	} else if (rc != 0 && to_file) {
		fclose(out);
	}
	if (rc != 0) {
		fprintf(stderr, "green-trace: %s\n", err);
		if (to_file)
			remove(a->output);
		return EXIT_BAD;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct args a = {0};
	command_fn fn = NULL;
	int rc;

	if (argc < 2)
		return usage_error("no command given");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_text, stdout);
		return fflush(stdout) == 0 ? 0 : EXIT_BAD;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("green-trace (libgreen) %s, trace format version %u\n",
		       PACKAGE_VERSION, GREEN_TRACE_VERSION);
		return fflush(stdout) == 0 ? 0 : EXIT_BAD;
	}
	if ((rc = parse(argc, argv, &a)) != 0 || (rc = pick(&a, &fn)) != 0)
		return rc;
	return run(&a, fn);
}
