/* gemm.c: ONNX Gemm, Y = alpha * op(A) op(B) + beta * C, on OpenBLAS.
 *
 * The products go to cblas_sgemm (which runs on OpenBLAS's threads); only the
 * broadcast of C and the reduction into dC are our own loops, parallelised with
 * OpenMP outside any BLAS call. */
#include "engine/ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Below this many elements the C broadcast and dC loops stay on one thread. */
#define GEMM_PARALLEL_THRESHOLD 32768
/* Columns one thread sums at a time for a (1,N) dC. */
#define GEMM_COLUMN_BLOCK 256

/* count += rows * cols, false when the total of floats, in bytes with room for
 * alignment, no longer fits in size_t. */
static bool
gemm_add_matrix (size_t *count, int rows, int cols)
{
  size_t size;
  if (!graft_size_mul ((size_t) rows, (size_t) cols, &size) || !graft_size_add (*count, size, count))
    return false;
  return *count <= SIZE_MAX / sizeof (float) - GRAFT_ALIGNMENT;
}

graft_status
graft_gemm_setup (graft_gemm_params *p, graft_error *error)
{
  size_t total = 0;

  if (p->m < 1 || p->n < 1 || p->k < 1)
    return graft_error_set (error, GRAFT_ERROR_SHAPE,
                            "gemm: sizes M=%d, N=%d, K=%d must all be at least 1",
                            p->m, p->n, p->k);
  /* A, B and Y must fit in memory together. */
  if (!gemm_add_matrix (&total, p->m, p->k) || !gemm_add_matrix (&total, p->k, p->n)
      || !gemm_add_matrix (&total, p->m, p->n))
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW,
                            "gemm: M=%d, N=%d, K=%d give matrices larger than memory can address",
                            p->m, p->n, p->k);
  if (!isfinite (p->alpha) || !isfinite (p->beta))
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                            "gemm: alpha (%g) and beta (%g) must be finite",
                            (double) p->alpha, (double) p->beta);
  if (p->c_rows == 0 && p->c_cols == 0)
    return GRAFT_OK;
  if ((p->c_rows != 1 && p->c_rows != p->m) || (p->c_cols != 1 && p->c_cols != p->n))
    return graft_error_set (error, GRAFT_ERROR_SHAPE,
                            "gemm: C of shape (%d, %d) does not broadcast to Y of shape (%d, %d)",
                            p->c_rows, p->c_cols, p->m, p->n);
  return GRAFT_OK;
}

static bool
gemm_has_c (const graft_gemm_params *p)
{
  return p->c_rows > 0 && p->c_cols > 0;
}

/* Shape: c (c_rows, c_cols), y (M,N); y = c broadcast. */
static void
gemm_broadcast_c (const graft_gemm_params *p, const float *restrict c, float *restrict y)
{
  const size_t m = (size_t) p->m, n = (size_t) p->n;
  const bool full_rows = p->c_rows != 1, full_cols = p->c_cols != 1;

#pragma omp parallel for schedule(static) if (m * n > GEMM_PARALLEL_THRESHOLD)
  for (size_t i = 0; i < m; i++)
    {
      float *restrict yi = y + i * n;
      if (full_cols)
        memcpy (yi, c + (full_rows ? i * n : 0), n * sizeof (float));
      else
        {
          const float value = c[full_rows ? i : 0];
          for (size_t j = 0; j < n; j++)
            yi[j] = value;
        }
    }
}

/* Shape: a is (M,K) or (K,M) when trans_a, b is (K,N) or (N,K) when trans_b,
 * c is (c_rows, c_cols) or NULL, y is (M,N). */
void
graft_gemm_forward (const graft_gemm_params *p, const float *a, const float *b, const float *c, float *y)
{
  const int lda = p->trans_a ? p->m : p->k;
  const int ldb = p->trans_b ? p->k : p->n;
  float beta = 0.0f;

  /* With beta 0 sgemm does not read Y, so the broadcast can be skipped. */
  if (c != NULL && gemm_has_c (p) && p->beta != 0.0f)
    {
      gemm_broadcast_c (p, c, y);
      beta = p->beta;
    }
  cblas_sgemm (CblasRowMajor, p->trans_a ? CblasTrans : CblasNoTrans,
               p->trans_b ? CblasTrans : CblasNoTrans,
               p->m, p->n, p->k, p->alpha, a, lda, b, ldb, beta, y, p->n);
}

/* Shape: dy (M,N), dc (c_rows, c_cols); dc += beta * dy summed over broadcast dims. */
static void
gemm_backward_c (const graft_gemm_params *p, const float *restrict dy, float *restrict dc)
{
  const size_t m = (size_t) p->m, n = (size_t) p->n;
  const float beta = p->beta;
  const bool parallel = m * n > GEMM_PARALLEL_THRESHOLD;

  if (p->c_rows != 1 && p->c_cols != 1)
    {
#pragma omp parallel for schedule(static) if (parallel)
      for (size_t i = 0; i < m; i++)
        {
          const float *restrict dyi = dy + i * n;
          float *restrict dci = dc + i * n;
          for (size_t j = 0; j < n; j++)
            dci[j] += beta * dyi[j];
        }
    }
  else if (p->c_rows != 1)
    {
      /* (M,1): each row summed by one thread. */
#pragma omp parallel for schedule(static) if (parallel)
      for (size_t i = 0; i < m; i++)
        {
          const float *restrict dyi = dy + i * n;
          double sum = 0.0;
          for (size_t j = 0; j < n; j++)
            sum += dyi[j];
          dc[i] += (float) (beta * sum);
        }
    }
  else if (p->c_cols != 1)
    {
      /* (1,N): each block of columns summed by one thread, rows in order. */
      const size_t blocks = (n + GEMM_COLUMN_BLOCK - 1) / GEMM_COLUMN_BLOCK;
#pragma omp parallel for schedule(static) if (parallel)
      for (size_t block = 0; block < blocks; block++)
        {
          const size_t j0 = block * GEMM_COLUMN_BLOCK;
          const size_t width = n - j0 < GEMM_COLUMN_BLOCK ? n - j0 : GEMM_COLUMN_BLOCK;
          double sums[GEMM_COLUMN_BLOCK];
          for (size_t j = 0; j < width; j++)
            sums[j] = 0.0;
          for (size_t i = 0; i < m; i++)
            {
              const float *restrict dyi = dy + i * n + j0;
              for (size_t j = 0; j < width; j++)
                sums[j] += dyi[j];
            }
          for (size_t j = 0; j < width; j++)
            dc[j0 + j] += (float) (beta * sums[j]);
        }
    }
  else
    {
      /* (1,1): one sum, in order. */
      double sum = 0.0;
      for (size_t i = 0; i < m * n; i++)
        sum += dy[i];
      dc[0] += (float) (beta * sum);
    }
}

/* Shape: a, b as in forward; dy (M,N); da (shape of a), db (shape of b),
 * dc (c_rows, c_cols) accumulate; each may be NULL. */
void
graft_gemm_backward (const graft_gemm_params *p, const float *a, const float *b, const float *dy,
                     float *da, float *db, float *dc)
{
  const int m = p->m, n = p->n, k = p->k;
  const int lda = p->trans_a ? m : k;
  const int ldb = p->trans_b ? k : n;

  /* d op(A) = alpha * dY op(B)^T, (M,K). */
  if (da != NULL)
    {
      if (!p->trans_a)
        /* dA (M,K) += alpha * dY op(B)^T; op(B)^T is B^T, or B when trans_b. */
        cblas_sgemm (CblasRowMajor, CblasNoTrans, p->trans_b ? CblasNoTrans : CblasTrans,
                     m, k, n, p->alpha, dy, n, b, ldb, 1.0f, da, k);
      else
        /* dA (K,M) += alpha * op(B) dY^T. */
        cblas_sgemm (CblasRowMajor, p->trans_b ? CblasTrans : CblasNoTrans, CblasTrans,
                     k, m, n, p->alpha, b, ldb, dy, n, 1.0f, da, m);
    }

  /* d op(B) = alpha * op(A)^T dY, (K,N). */
  if (db != NULL)
    {
      if (!p->trans_b)
        /* dB (K,N) += alpha * op(A)^T dY. */
        cblas_sgemm (CblasRowMajor, p->trans_a ? CblasNoTrans : CblasTrans, CblasNoTrans,
                     k, n, m, p->alpha, a, lda, dy, n, 1.0f, db, n);
      else
        /* dB (N,K) += alpha * dY^T op(A). */
        cblas_sgemm (CblasRowMajor, CblasTrans, p->trans_a ? CblasTrans : CblasNoTrans,
                     n, k, m, p->alpha, dy, n, a, lda, 1.0f, db, k);
    }

  if (dc != NULL && gemm_has_c (p))
    gemm_backward_c (p, dy, dc);
}
