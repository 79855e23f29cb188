/*
 * out.h - output helpers: durations for people, and trace strings (which
 * are arbitrary bytes) made safe for a terminal, JSON and HTML.
 */
#ifndef GT_OUT_H
#define GT_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "950 ns", "12.3 us", "4.56 ms", "1.235 s": about 3 significant digits. */
const char *gt_fmt_ns(uint64_t ns, char *buf, size_t len);
/* Nanoseconds as microseconds with three decimals ("1234.567"). */
void gt_put_us(FILE *f, uint64_t ns);
/* s with control characters shown as '?'. */
void gt_put_text(FILE *f, const char *s);
/* s as a quoted JSON string; invalid UTF-8 becomes U+FFFD. */
void gt_put_json(FILE *f, const char *s);
/* s escaped for HTML text and attribute values; invalid UTF-8 and control
 * characters become U+FFFD. */
void gt_put_html(FILE *f, const char *s);

#endif
