/*
 * pushrun.h — a push of one version of one package to its target DPs:
 * what pkgpush does after parsing its options.
 *
 * In this order, every check that may fail the whole command before a
 * DP is touched: the names of o->sel are in the DP list (targets.h), the
 * version exists (0: the newest), the targets are picked (F4: the union
 * of --dp, --group, --all and --refresh-existing, narrowed by --only),
 * the version is locked against gc and its manifest loaded, its
 * signature checked (o->trust), the bandwidth caps set up (the bwlimit
 * lines of STORE/config and o->bwlimit, for remote DPs), and every
 * target recorded as being brought to the version
 * (store_holdings_begin(): gc keeps it for a DP whose push is killed
 * after its switch).  Then o->jobs worker threads push to the targets in
 * DP list order: a local DP by dp_push() under its lock (with a content
 * source reading the store, through a fanout when two local DPs or more
 * are pushed at once), a remote one by remote_push() from the base the
 * store records it holding whole.  After each DP its outcome is
 * recorded in the store (holdings) and on the DP (its state).
 *
 * Then the child sites picked (sites.h, the same rule over o->sites)
 * are pushed to one after another by site_push(); a site that fails
 * gets its retry job as a DP does.
 *
 * A DP that failed gets a retry job (retryjob.h), the command as parsed
 * narrowed to it (--only DP, --version N) — unless waiting cannot help:
 * the store cannot give a content (damaged: that DP counts as trouble),
 * the DP refused to move down without --rollback (it still holds its
 * version, and is recorded so), or the failure is permanent.  Run by
 * pkgretry as that very job, nothing is said of a retry.
 *
 * Nothing here prints (but the progress display, progress.h): the
 * caller is told through struct pushrun_hooks, one call at a time.
 * pushrun() returns 0 when the targets were pushed (*res says how it
 * went), or -1 with err.h set when the command failed before any DP was
 * touched.
 */
#ifndef PKGDIST_PUSHRUN_H
#define PKGDIST_PUSHRUN_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp.h"
#include "dplist.h"
#include "dppush.h"
#include "sites.h"
#include "targets.h"

struct store;

/* How long a push waits for another push on the same DP. */
#define PUSHRUN_DP_LOCK_WAIT 3600.0
/* DPs pushed at once when o->jobs is 0. */
#define PUSHRUN_JOBS 4

struct pushrun_opts {
	uint64_t version; /* 0: the newest */
	struct targets_sel sel;
	bool inplace, verify, rollback, dry_run, reinit;
	unsigned keep;	   /* atomic layout: trees kept on a DP */
	const char *trust; /* a key.pub the version must be signed by */
	int jobs;	   /* DPs pushed at once (at most 64, workq.h);
			    * 0: PUSHRUN_JOBS */
	uint64_t bwlimit;  /* the command's total, bytes/s; 0: none */
	/* The command as parsed, which a retry job repeats
	 * (retryjob_pkgpush_argv(): drop lists what the job sets itself). */
	int argc;
	char **argv;
	const char *shortopts;
	const struct option *longopts;
	const int *drop;
	/* Child sites (sites.h): the site list (NULL: none) and what the
	 * command names of it (ssel.only and ssel.refresh as sel's); sel.sites
	 * is the same list, so --only may name a site.  cascade, json: as
	 * site_push_opts. */
	const struct dplist *sites;
	struct sites_sel ssel;
	bool cascade, json;
};

/* Called one at a time (under the run's lock), from worker threads. */
struct pushrun_hooks {
	/* dp now holds r->new_version (or would, with dry_run); the
	 * progress display is held meanwhile. */
	void (*done)(void *arg, const struct dp *dp,
	    const struct dp_push_result *r);
	/* dp failed, after every note about it: why, and the id of the
	 * retry job queued for it, or NULL. */
	void (*failed)(void *arg, const struct dp *dp,
	    const struct dp_push_result *r, const char *why, const char *retry);
	/* A note about the DP (or a name in the store's records) called
	 * name: why it failed, what was queued, what went wrong on the
	 * side.  The caller shows it as "NAME: TEXT" (name NULL: about
	 * the whole push, "TEXT"). */
	void (*note)(void *arg, const char *name, const char *text);
	/* A child site brought to the version (r->up_to_date: it had it),
	 * or failed (after the notes), as for a DP. */
	void (*site_done)(void *arg, const struct dp *site,
	    const struct site_push_result *r);
	void (*site_failed)(void *arg, const struct dp *site,
	    const struct site_push_result *r, const char *why,
	    const char *retry);
	/* A line of a child's own push (--cascade), named SITE/DP: a
	 * report line, or (err) a message. */
	void (*site_line)(void *arg, bool err, const char *text);
};

struct pushrun_result {
	size_t ntargets;   /* DPs and sites pushed to */
	size_t nfailed;	   /* of them, failed (a site whose own push
			    * left some of its targets failed too) */
	bool store_failed; /* some failed on a content the store could
			    * not give: trouble no retry cures */
};

void pushrun_opts_init(struct pushrun_opts *o);

/*
 * Push pkg to the targets that o picks from l, the DP list of store s
 * (targets_load_dplist()).  -1 with err before any DP is touched: a name
 * not in l (err names what the DP list lacks when it is empty), no such
 * package, no target, a version not signed by o->trust, a store that
 * cannot be read.
 */
int pushrun(struct store *s, const struct dplist *l, const char *pkg,
    const struct pushrun_opts *o, const struct pushrun_hooks *h, void *arg,
    struct pushrun_result *res);

#endif
