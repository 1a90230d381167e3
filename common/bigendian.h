/*
 * bigendian.h — unsigned integers as big-endian bytes, the byte order of
 * the package file (pack.h), the remote protocol (proto.h) and the chunk
 * index (chunkindex.h).  Byte by byte, so alignment and the host's own
 * order do not matter.
 */
#ifndef PKGDIST_BIGENDIAN_H
#define PKGDIST_BIGENDIAN_H

#include <stdint.h>

static inline void
be_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline uint32_t
be_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline void
be_put64(unsigned char *p, uint64_t v)
{
	be_put32(p, (uint32_t)(v >> 32));
	be_put32(p + 4, (uint32_t)v);
}

static inline uint64_t
be_get64(const unsigned char *p)
{
	return (uint64_t)be_get32(p) << 32 | be_get32(p + 4);
}

#endif
