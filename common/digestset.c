/*
 * digestset.c — sets of contents named by their SHA-256 (see
 * digestset.h).
 */
#include <stdlib.h>
#include <string.h>

#include "digestset.h"
#include "err.h"
#include "manifest.h"

static int
cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, DIGEST_LEN);
}

int
digestset_sort(void *v, size_t n, size_t elsize, bool strict, size_t *kept)
{
	unsigned char *p = v;
	const struct digestset_item *last, *it;
	size_t i, u;

	*kept = 0;
	if (n == 0)
		return 0;
	qsort(v, n, elsize, cmp_digest);
	for (i = 0, u = 0; i < n; i++) {
		it = (const struct digestset_item *)(p + i * elsize);
		if (u > 0) {
			last = (const struct digestset_item *)(p +
			    (u - 1) * elsize);
			if (memcmp(last->d, it->d, DIGEST_LEN) == 0) {
				if (strict && last->size != it->size)
					return err_set("one digest with two "
						       "sizes");
				continue;
			}
		}
		if (u != i)
			memcpy(p + u * elsize, it, elsize);
		u++;
	}
	*kept = u;
	return 0;
}

void *
digestset_find(const void *v, size_t n, size_t elsize,
    const unsigned char d[DIGEST_LEN])
{
	if (n == 0)
		return NULL;
	return bsearch(d, v, n, elsize, cmp_digest);
}

int
digestset_of_manifest(const struct manifest *m, struct digestset_item **out,
    size_t *n)
{
	struct digestset_item *v;
	size_t i, k = 0;

	*out = NULL;
	*n = 0;
	if ((v = calloc(m->n + 1, sizeof(*v))) == NULL)
		return err_nomem();
	for (i = 0; i < m->n; i++)
		if (m->v[i].type == ENTRY_FILE) {
			memcpy(v[k].d, m->v[i].digest, DIGEST_LEN);
			v[k++].size = m->v[i].size;
		}
	(void)digestset_sort(v, k, sizeof(*v), false, n);
	*out = v;
	return 0;
}
