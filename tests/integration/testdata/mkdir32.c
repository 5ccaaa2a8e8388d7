/* A static i386 program without libc: mkdir(argv[1]) with int $0x80,
   prints "ok" or "errno N", exits 0. */
static long sys(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}
static void out(const char *s, long n) { sys(4, 1, (long)s, n); }
void __attribute__((noreturn, used)) start_c(long *sp)
{
	char **argv = (char **)(sp + 1);
	long r = sys(39 /* mkdir */, (long)argv[1], 0755, 0);
	if (r == 0) {
		out("ok\n", 3);
	} else {
		char buf[16] = "errno ";
		long e = -r, i = 6;
		char d[8]; int n = 0;
		do { d[n++] = '0' + e % 10; e /= 10; } while (e);
		while (n) buf[i++] = d[--n];
		buf[i++] = '\n';
		out(buf, i);
	}
	sys(1, 0, 0, 0);
	for (;;) {}
}
__asm__(".globl _start\n_start:\n\tmov %esp, %eax\n\tpush %eax\n\tcall start_c\n");
