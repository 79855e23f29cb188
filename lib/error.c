/* error.c - names for the negative errno values the API returns. */
#include <limits.h>
#include <string.h>

#include "green-internal.h"

const char *
green_strerror(int err)
{
	const char *s;

	if (err == INT_MIN)
		return "Unknown error";
	if (err < 0)
		err = -err;
	if (err == 0)
		return "Success";
	/* strerrordesc_np returns a constant string: no buffer, thread-safe. */
	s = strerrordesc_np(err);
	return s != NULL ? s : "Unknown error";
}
