/*
 * gt.h - the green-trace subcommands, callable from main.c, the tests and
 * the fuzzer.  Each returns 0, or 1 with a message in err: a bad trace
 * ("NAME: byte N: ..."), or a failure to write out.
 */
#ifndef GT_H
#define GT_H

#include <stddef.h>
#include <stdio.h>

#include "reader.h"

int gt_summary(const struct gt_input *in, FILE *out, char *err, size_t errlen);
int gt_chrome(const struct gt_input *in, FILE *out, char *err, size_t errlen);
int gt_report(const struct gt_input *in, FILE *out, char *err, size_t errlen);

/* Check out for write errors after a subcommand: 0, or 1 with a message. */
int gt_check_output(FILE *out, char *err, size_t errlen);

#endif
