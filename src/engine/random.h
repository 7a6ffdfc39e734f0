/* random.h: the engine's random numbers, counter-based: every number is a pure function
 * of a seed and an index, so any thread can draw any element and a seed gives the same
 * numbers whatever the thread count or the order of the draws. Dropout masks,
 * augmentation, shuffles, weight initialisation and benchmarks' data all come from here.
 *
 * A stream is splitmix64's: element i of the stream keyed by key is
 * mix64(key + (i + 1) * golden), with key = mix64(seed ^ pi). The inline forms let a
 * loop mix the seed once and draw per element without a call.
 */
#pragma once

#include <stdint.h>

/* The splitmix64 finaliser: a bijection on 64 bits with full avalanche. */
static inline uint64_t
graft_random_mix64 (uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* The key of seed's stream. */
static inline uint64_t
graft_random_key (uint64_t seed)
{
  return graft_random_mix64 (seed ^ 0x243f6a8885a308d3ull);
}

/* Uniform float in [0, 1): element index of the stream keyed by key. The top 24 bits
 * make a float that is exact, uniform on the multiples of 2^-24. */
static inline float
graft_random_uniform_keyed (uint64_t key, uint64_t index)
{
  const uint64_t z = graft_random_mix64 (key + (index + 1) * 0x9e3779b97f4a7c15ull);
  return (float) (int32_t) (z >> 40) * 0x1p-24f;
}

/* Uniform float in [0, 1) from (seed, index): graft_random_uniform_keyed with the seed
 * mixed here. */
float graft_random_uniform (uint64_t seed, uint64_t index);

/* The seed of a sub-stream from a seed and two counters (dropout: the step and the
 * node), so that each (step, node) draws its own mask. */
uint64_t graft_random_derive (uint64_t seed, uint64_t a, uint64_t b);
