/*
 * mchanges.c — a manifest as the changes from its base's (mchanges.h).
 */
#include <stdlib.h>
#include <string.h>

#include "bigendian.h"
#include "blob.h"
#include "changes.h"
#include "digest.h"
#include "err.h"
#include "mchanges.h"
#include "store.h"

/* The longest change list taken: every entry of a base deleted and every
 * entry of the version added, at the longest manifest. */
#define MCHANGES_TEXT_MAX (2 * STORE_MANIFEST_MAX)
/* zlib cannot shrink more than about 1032 to 1: a longer claim is a lie
 * meant to make the reader allocate. */
#define MCHANGES_ZLIB_RATIO 1100

static int
sha256(const void *buf, size_t len, unsigned char out[DIGEST_LEN])
{
	struct digest dg = { NULL };

	if (digest_init(&dg) == -1 || digest_update(&dg, buf, len) == -1 ||
	    digest_final(&dg, out) == -1) {
		digest_free(&dg);
		return -1;
	}
	return 0;
}

/* Apply the change lines text to base (used up) and render the result
 * as the store would keep pkg version: *buf, *len. */
static int
apply_text(struct manifest *base, const char *text, size_t tlen,
    const char *pkg, uint64_t version, const char *name, char **buf,
    size_t *len)
{
	struct change_file cf;
	struct manifest m;
	size_t bad = 0;
	int rc = -1;

	change_file_init(&cf);
	manifest_init(&m);
	if (change_file_load_buf(text, tlen, name, &cf) == -1)
		goto out;
	if (changes_apply(base, &cf, &m, "the base version", &bad) == -1) {
		err_prefix("%s: manifest changes, line %zu: ", name, bad + 1);
		goto out;
	}
	rc = store_manifest_render(&m, pkg, version, buf, len);
out:
	change_file_free(&cf);
	manifest_free(&m);
	return rc;
}

int
mchanges_make(const struct manifest *bm, struct manifest *bcopy,
    const struct manifest *m, const char *pkg, uint64_t version,
    const char *mbuf, size_t mlen, unsigned char **out, size_t *outlen)
{
	struct change_list cl;
	char *text = NULL, *re = NULL;
	unsigned char *z = NULL, *p;
	size_t tlen = 0, zlen = 0, relen = 0;
	int rc = -1;

	*out = NULL;
	*outlen = 0;
	change_list_init(&cl);
	if (changes_list(bm, m, &cl) == -1 ||
	    changes_write_mem(cl.v, cl.n, &text, &tlen) == -1 ||
	    blob_compress(text, tlen, &z, &zlen) == -1)
		goto out;
	/* What the child will do, done here: a rebuild that would not give
	 * these bytes (a manifest not in the store's spelling) goes whole. */
	if (apply_text(bcopy, text, tlen, pkg, version, "manifest changes", &re,
		&relen) == -1) {
		rc = 0;
		goto out;
	}
	if (relen != mlen || memcmp(re, mbuf, mlen) != 0) {
		rc = 0;
		goto out;
	}
	if ((p = malloc(MCHANGES_HEAD + zlen)) == NULL) {
		err_nomem();
		goto out;
	}
	if (sha256(mbuf, mlen, p) == -1) {
		free(p);
		goto out;
	}
	be_put64(p + DIGEST_LEN, tlen);
	memcpy(p + MCHANGES_HEAD, z, zlen);
	*out = p;
	*outlen = MCHANGES_HEAD + zlen;
	rc = 0;
out:
	change_list_free(&cl);
	free(text);
	free(re);
	free(z);
	return rc;
}

int
mchanges_rebuild(struct manifest *bm, const unsigned char *p, size_t plen,
    const char *pkg, uint64_t version, size_t mlen, const char *name,
    char **mbuf)
{
	unsigned char d[DIGEST_LEN];
	char *text = NULL, *buf = NULL;
	uint64_t tlen;
	size_t len = 0;
	int rc = -1;

	*mbuf = NULL;
	if (plen <= MCHANGES_HEAD)
		return err_set("%s: manifest changes: truncated", name);
	tlen = be_get64(p + DIGEST_LEN);
	if (tlen > MCHANGES_TEXT_MAX ||
	    tlen / MCHANGES_ZLIB_RATIO > plen - MCHANGES_HEAD)
		return err_set("%s: manifest changes: inconsistent lengths",
		    name);
	if ((text = malloc((size_t)tlen + 1)) == NULL)
		return err_nomem();
	if (blob_uncompress(p + MCHANGES_HEAD, plen - MCHANGES_HEAD,
		(unsigned char *)text, (size_t)tlen,
		"manifest changes") == -1) {
		err_prefix("%s: ", name);
		goto out;
	}
	text[tlen] = '\0';
	if (apply_text(bm, text, (size_t)tlen, pkg, version, name, &buf,
		&len) == -1 ||
	    sha256(buf, len, d) == -1)
		goto out;
	if (len != mlen || memcmp(d, p, DIGEST_LEN) != 0) {
		err_set("%s: the manifest rebuilt from the changes sent is not "
			"the sender's (this store's copy of the base version "
			"differs from the sender's)",
		    name);
		goto out;
	}
	*mbuf = buf;
	buf = NULL;
	rc = 0;
out:
	free(text);
	free(buf);
	return rc;
}
