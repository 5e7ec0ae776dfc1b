/* Structs, function pointers, qsort, malloc, bit operations, static data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct node {
    struct node *next;
    uint32_t key;
    char name[12];
};

static const uint32_t seeds[] = {7, 3, 99, 12, 5, 41, 0x80000000u, 17};

static int by_key(const void *a, const void *b)
{
    const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;
    return (x->key > y->key) - (x->key < y->key);
}

static uint32_t mix(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    return __builtin_popcount(h) + (h << 3);
}

int main(void)
{
    enum { N = sizeof seeds / sizeof seeds[0] };
    struct node *all[N], *head = NULL;
    for (int i = 0; i < N; i++) {
        struct node *n = malloc(sizeof *n);
        n->key = mix(seeds[i]);
        snprintf(n->name, sizeof n->name, "n%d", i);
        n->next = head;
        head = all[i] = n;
    }
    qsort(all, N, sizeof all[0], by_key);
    for (int i = 0; i < N; i++)
        printf("%s %u\n", all[i]->name, (unsigned)all[i]->key);
    while (head) {
        struct node *next = head->next;
        free(head);
        head = next;
    }
    return 0;
}
