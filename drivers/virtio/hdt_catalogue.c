/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_catalogue.c - the hostile-driver catalogue as one list (hdt.h):
 * the class files (hdt_cases*.c) each export one table; this file strings
 * them together in a fixed order, so a case's index is stable for a build.
 * A new class file adds its table here.
 */
#include <stddef.h>
#include <string.h>

#include "hdt_internal.h"

static const struct hdt_table *const tables[] = {
    &hdt_table_split,
    &hdt_table_packed,
    &hdt_table_packed_el,
    &hdt_table_net,
    &hdt_table_dev,
    &hdt_table_xport,
    &hdt_table_pci,
    &hdt_table_state,
};

#define NTABLES (sizeof(tables) / sizeof(tables[0]))

unsigned hdt_count(void)
{
    unsigned i, n = 0;

    for (i = 0; i < NTABLES; i++)
        n += tables[i]->n;
    return n;
}

const struct hdt_case *hdt_case_at(unsigned i)
{
    unsigned t;

    for (t = 0; t < NTABLES; t++) {
        if (i < tables[t]->n)
            return &tables[t]->v[i];
        i -= tables[t]->n;
    }
    return NULL;
}

int hdt_index(const char *id)
{
    unsigned i, n = hdt_count();

    for (i = 0; id && i < n; i++) {
        if (strcmp(hdt_case_at(i)->id, id) == 0)
            return (int)i;
    }
    return -1;
}

const struct hdt_case *hdt_find(const char *id)
{
    int i = hdt_index(id);

    return i < 0 ? NULL : hdt_case_at((unsigned)i);
}
