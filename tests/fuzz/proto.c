/*
 * Harness: the remote DP protocol reader (proto.h) on arbitrary bytes:
 * the hello check, every payload decoder (protocol 2: PUSH with its
 * change-list base and digest, MANIFEST), and proto_recv() reading
 * frames from a descriptor holding the input.
 * fuzz-needs: common/proto.c common/manifest.c
 *
 * The first input byte picks the target; the rest is the payload (or
 * the stream).  Promises checked: a decoded message encodes to a payload
 * that decodes to the same message and encodes to the same bytes again
 * (one encoding per message); a decoded NEED list stays within its
 * bound; proto_recv never returns a frame longer than PROTO_FRAME_MAX,
 * never a KEEPALIVE, and says why when it stops.
 */
#define _GNU_SOURCE /* memfd_create */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proto.h"
#include "fuzz.h"
#include "path.h"

static unsigned char enc1[PROTO_FRAME_MAX], enc2[PROTO_FRAME_MAX];

#define ROUND_TRIP(T, dec, enc, b, n) \
	do { \
		T m1, m2; \
		size_t l1, l2; \
\
		memset(&m1, 0, sizeof(m1)); \
		memset(&m2, 0, sizeof(m2)); \
		if (dec(b, n, &m1) == -1) { \
			fuzz_check_err(); \
			break; \
		} \
		l1 = enc(&m1, enc1); \
		if (dec(enc1, l1, &m2) == -1) \
			fuzz_fail( \
			    #dec ": an encoded message does not decode"); \
		l2 = enc(&m2, enc2); \
		if (l1 != l2 || memcmp(enc1, enc2, l1) != 0) \
			fuzz_fail( \
			    #enc ": a message changed through a round trip"); \
	} while (0)

static void
fuzz_need(const unsigned char *b, size_t n)
{
	static unsigned char digests[PROTO_NEED_PER_FRAME][DIGEST_LEN];
	static uint64_t sizes[PROTO_NEED_PER_FRAME];
	size_t count = 0;

	if (proto_dec_need(b, n, digests, sizes, &count) == -1) {
		fuzz_check_err();
		return;
	}
	if (count > PROTO_NEED_PER_FRAME)
		fuzz_fail("proto_dec_need: more entries than its bound");
}

static void
fuzz_recv(const unsigned char *b, size_t n)
{
	struct proto p;
	const unsigned char *payload;
	size_t len;
	uint32_t type;
	int in, out, frames = 0;

	if ((in = memfd_create("fuzz-proto", 0)) == -1)
		abort();
	if (n > 0 && write(in, b, n) != (ssize_t)n)
		abort();
	if (lseek(in, 0, SEEK_SET) != 0)
		abort();
	if ((out = open("/dev/null", O_WRONLY)) == -1)
		abort();
	memset(&p, 0, sizeof(p));
	if (setenv(PROTO_TIMEOUT_ENV, "2", 1) == -1 ||
	    proto_init(&p, in, out, -1, "fuzz") == -1)
		abort();
	for (;;) {
		if (proto_recv(&p, &type, &payload, &len) == -1) {
			fuzz_check_err();
			break;
		}
		if (len > PROTO_FRAME_MAX)
			fuzz_fail("proto_recv: frame longer than its bound");
		if (type == PROTO_KEEPALIVE)
			fuzz_fail("proto_recv: returned a KEEPALIVE");
		if (++frames > 1000000)
			fuzz_fail("proto_recv: more frames than bytes");
	}
	proto_free(&p);
	close(in);
	close(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *b = data + 1;
	size_t n = size - 1;
	uint32_t version;
	char pkg[NAME_MAX_LEN + 1];
	static char path[PROTO_PATH_MAX + 1];
	static unsigned char again[PROTO_FRAME_MAX];

	if (size == 0)
		return 0;
	switch (data[0] % 13) {
	case 0:
		if (proto_check_hello(b, n, &version) == -1)
			fuzz_check_err();
		break;
	case 1:
		ROUND_TRIP(struct proto_push, proto_dec_push, proto_enc_push, b,
		    n);
		break;
	case 2:
		ROUND_TRIP(struct proto_content, proto_dec_content,
		    proto_enc_content, b, n);
		break;
	case 3:
		ROUND_TRIP(struct proto_result, proto_dec_result,
		    proto_enc_result, b, n);
		break;
	case 4:
		ROUND_TRIP(struct proto_state, proto_dec_state, proto_enc_state,
		    b, n);
		break;
	case 5:
		ROUND_TRIP(struct proto_error, proto_dec_error, proto_enc_error,
		    b, n);
		break;
	case 6:
		if (proto_dec_status(b, n, pkg) == -1)
			fuzz_check_err();
		else if (pkg[0] != '\0' && !name_valid(pkg))
			fuzz_fail("proto_dec_status: invalid package name");
		break;
	case 7:
		fuzz_need(b, n);
		break;
	case 8:
		ROUND_TRIP(struct proto_manifest, proto_dec_manifest,
		    proto_enc_manifest, b, n);
		break;
	case 9:
		if (proto_dec_paths(b, n, &version) == -1)
			fuzz_check_err();
		else if (version < 2 || version > PROTO_PATHS_MAX)
			fuzz_fail("proto_dec_paths: a count out of its bounds");
		break;
	case 10:
		/* NEXT: what decodes encodes back to the same bytes. */
		if (proto_dec_next(b, n, path) == -1)
			fuzz_check_err();
		else if (proto_enc_next(path, again) != n ||
		    memcmp(again, b, n) != 0)
			fuzz_fail("proto_dec_next: no round trip");
		break;
	default:
		fuzz_recv(b, n);
		break;
	}
	return 0;
}
