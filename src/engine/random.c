/* random.c: the out-of-line forms of random.h. */
#include "engine/random.h"

float
graft_random_uniform (uint64_t seed, uint64_t index)
{
  return graft_random_uniform_keyed (graft_random_key (seed), index);
}

/* A shorter finaliser than the stream's, kept as it was so that a seed still gives the
 * dropout masks it gave before. */
uint64_t
graft_random_derive (uint64_t seed, uint64_t a, uint64_t b)
{
  uint64_t z = seed ^ (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xc2b2ae3d27d4eb4full);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  return z ^ (z >> 31);
}
