/* A small socket filter with a subprogram, for line-info tests. */
typedef unsigned int __u32;
struct __sk_buff { __u32 len; };

__attribute__((noinline)) static int weigh(int x)
{
	int y = x * 3;
	if (y > 100)
		return y - 7;
	return y + 1;
}

__attribute__((section("socket"), used))
int ksym_lines_test(struct __sk_buff *skb)
{
	int n = skb->len;
	int w = weigh(n);
	if (w & 1)
		return 0;
	return w;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
