/*
 * out.c - output helpers (see out.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "gt.h"
#include "out.h"

const char *
gt_fmt_ns(uint64_t ns, char *buf, size_t len)
{
	static const struct {
		uint64_t div;
		const char *unit;
	} units[] = {{1000000000, "s"}, {1000000, "ms"}, {1000, "us"}};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ns >= units[i].div) {
			double v = (double)ns / (double)units[i].div;
			int prec = v >= 100 ? 1 : v >= 10 ? 2 : 3;

			snprintf(buf, len, "%.*f %s", prec, v, units[i].unit);
			return buf;
		}
	}
	snprintf(buf, len, "%" PRIu64 " ns", ns);
	return buf;
}

void
gt_put_us(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%03u", ns / 1000, (unsigned)(ns % 1000));
}

void
gt_put_text(FILE *f, const char *s)
{
	for (; *s; s++)
		putc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

/* The length of the well-formed UTF-8 sequence at s (1 to 4), or 0. */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned c = s[0], n, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (unsigned i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0; /* overlong, out of range, or a surrogate */
	return n;
}

void
gt_put_json(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	putc('"', f);
	while (*s) {
		size_t n = utf8_len(s);

		if (n == 0) {
			fputs("\\ufffd", f);
			s++;
		} else if (*s == '"' || *s == '\\') {
			fprintf(f, "\\%c", *s++);
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(f, "\\u%04x", *s++);
		} else {
			fwrite(s, 1, n, f);
			s += n;
		}
	}
	putc('"', f);
}

void
gt_put_html(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		size_t n = utf8_len(s);

		switch (n == 1 ? *s : 0) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7f)))
				fputs("&#xfffd;", f);
			else
				fwrite(s, 1, n, f);
			break;
		}
		s += n ? n : 1;
	}
}

int
gt_check_output(FILE *out, char *err, size_t errlen)
{
	if (fflush(out) == 0 && !ferror(out))
		return 0;
	snprintf(err, errlen, "write error: %s", strerror(errno ? errno : EIO));
	return 1;
}
