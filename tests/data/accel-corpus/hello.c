/* stdio, strings, a switch table and varargs. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int say(FILE *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(out, fmt, ap);
    va_end(ap);
    return n;
}

static const char *weekday(int d)
{
    switch (d % 7) {
    case 0: return "Sunday";
    case 1: return "Monday";
    case 2: return "Tuesday";
    case 3: return "Wednesday";
    case 4: return "Thursday";
    case 5: return "Friday";
    default: return "Saturday";
    }
}

int main(int argc, char **argv)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s has %d arguments", argv[0], argc - 1);
    say(stdout, "%s, %zu bytes, day %s\n", buf, strlen(buf), weekday(argc + 3));
    return 0;
}

/* Wide and UTF-16/32 literals: cc1 converts them with glibc's built-in converters. */
#include <uchar.h>
#include <wchar.h>
const wchar_t *wide = L"wide \u00fc\u20ac";
const char16_t *u16 = u"utf-16 \u00fc";
const char32_t *u32 = U"utf-32 \U0001F600";
size_t wide_length(void) { return wcslen(wide); }
