/* simd-math.h: branch-free float helpers that vectorise inside GRAFT_SIMD_DISPATCH
 * loops ("omp simd"), where glibc's expf and erff would be scalar calls: bit casts, a
 * select on the bits, and an expf for arguments <= 0. Activations (Sigmoid, Swish),
 * GELU and Softmax use them. */
#pragma once

#include <stdint.h>
#include <string.h>

static inline float
bits_to_float (uint32_t u)
{
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

static inline uint32_t
float_to_bits (float f)
{
  uint32_t u;
  memcpy (&u, &f, sizeof u);
  return u;
}

/* c ? a : b on the bits. gcc sinks the computation of a or b into a branch when
 * it sees a floating-point select whose arms do arithmetic, and then does not
 * vectorise the loop; integer masks keep it branch-free. */
static inline float
select_float (int c, float a, float b)
{
  uint32_t mask = -(uint32_t) (c != 0);
  return bits_to_float ((float_to_bits (a) & mask) | (float_to_bits (b) & ~mask));
}

/* A vectorisable expf for t <= 0 (glibc's expf is a scalar call without
 * -ffast-math): Cephes' range reduction and polynomial, about 1 ulp. 2^n is
 * applied as two normal factors, so that results in the subnormal range round
 * correctly and t below -104 (clamped) gives 0 with no select on the result.
 * NaN stays NaN. */

/* exp(tc) = p * 2^n for tc <= 0 already clamped: returns p and sets n, which the callers
 * apply as their range needs. */
static inline __attribute__ ((always_inline)) float
exp_reduced (float tc, int32_t *n)
{
  const float log2e = 1.44269504088896341f;
  const float c1 = 0.693359375f, c2 = -2.12194440e-4f;
  const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  float z = tc * log2e + shifter;
  /* The low mantissa bits of z hold 2^22 + n, n = round(tc * log2e) in [-150, 0]. */
  *n = (int32_t) (float_to_bits (z) & 0x7fffff) - 0x400000;
  float nf = z - shifter;
  float r = tc - nf * c1 - nf * c2;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * r * r + r + 1.0f;
}

static inline float
exp_nonpositive (float t)
{
  int32_t n;
  float p = exp_reduced (select_float (t < -104.0f, -104.0f, t), &n);
  int32_t n1 = n / 2, n2 = n - n1;
  return p * bits_to_float ((uint32_t) (n1 + 127) << 23) * bits_to_float ((uint32_t) (n2 + 127) << 23);
}
