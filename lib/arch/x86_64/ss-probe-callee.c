/* ss-probe-callee.c - the non-split half of ss-probe.c: 8 KiB of frame. */
int callee(int n);

int
callee(int n)
{
	volatile char b[8192];

	b[0] = (char)n;
	b[8191] = (char)n;
	return b[0] + b[8191];
}
