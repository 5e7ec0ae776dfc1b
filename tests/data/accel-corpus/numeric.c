/* libm, floating point, loops the vectorizer works on, a VLA under the stack protector
   (Debian builds with -fstack-protector-strong), 128-bit integers where the target has
   them (not on 32-bit arm). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

double dot(const double *a, const double *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

void saxpy(float *restrict y, const float *restrict x, float a, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = a * x[i] + y[i];
}

#ifdef __SIZEOF_INT128__
typedef unsigned __int128 wide_t;
#else
typedef uint64_t wide_t;
#endif

wide_t mulwide(uint64_t a, uint64_t b)
{
    return (wide_t)a * b;
}

double vla_sum(int n)
{
    double v[n];
    for (int i = 0; i < n; i++)
        v[i] = sin(i) * exp(-i / 10.0) + sqrt((double)i);
    return dot(v, v, n);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
    float x[16], y[16];
    for (int i = 0; i < 16; i++) {
        x[i] = (float)i;
        y[i] = 1.0f;
    }
    saxpy(y, x, 0.5f, 16);
    wide_t w = mulwide(0xfedcba9876543210ull, 0x123456789abcdefull);
    printf("%.6f %.3f %llx\n", vla_sum(n), (double)y[15],
           (unsigned long long)(w >> (sizeof w > 8 ? 64 : 32)));
    return 0;
}
