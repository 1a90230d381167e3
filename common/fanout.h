/*
 * fanout.h — each content read, inflated and checked once for all the
 * local DPs of one command.
 *
 * A push to many local DPs asks its content source for the same contents
 * once per DP, and each time the store's copy is read, inflated and its
 * SHA-256 checked: for 8 DPs, eight times the CPU that one DP takes.  A
 * fanout wraps that source (dppush.h's struct content_source).  The
 * first DP to ask for a content gets it from the inner source, which
 * checks it as it writes; the fanout then keeps a read-only descriptor
 * of the file it was written to, in that DP's new tree.  Every other DP
 * that asks gets a copy of that file made by the kernel
 * (copy_file_range(2): no copy through user space, and shared extents
 * where the file system has them), its size checked.  A DP that asks
 * while the first is still writing waits for it instead of reading the
 * store again; when the first fails, the next one to ask reads the
 * store itself, so one DP's full disk never fails another.
 *
 * What the copies trust: the file copied from was written and checked
 * by this command moments before, in a tree no client writes to; its
 * descriptor stays open to the end, so a rename or removal of the file
 * on its DP does not matter.
 *
 * Bounded: at most FANOUT_MAX_FILES descriptors (and a quarter of the
 * process's limit) are kept, for contents of FANOUT_MIN_SIZE bytes and
 * more (below that, the store's copy costs no more than the kernel's).
 * Thread-safe: the -j workers of pkgpush share one fanout.
 */
#ifndef PKGDIST_FANOUT_H
#define PKGDIST_FANOUT_H

#include <stdint.h>

#include "dppush.h"

#define FANOUT_MIN_SIZE (16 * 1024)
#define FANOUT_MAX_FILES 4096

struct fanout;

/*
 * A fanout over inner (copied: the callbacks and ctx must outlive the
 * fanout); *src is set to the source the DPs use.  NULL with err set
 * when out of memory.
 */
struct fanout *fanout_new(const struct content_source *inner,
    struct content_source *src);
/* Close every kept descriptor and free f (NULL: nothing). */
void fanout_free(struct fanout *f);

#endif
