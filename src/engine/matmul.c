/* matmul.c: ONNX MatMul on batches of matrices with numpy broadcasting (attention's
 * Q K^T and A V, and Linear layers applied to (N, tokens, features) or channels-last
 * (N, H, W, C) tensors), one cblas_sgemm per batch index.
 *
 * When B has no batch (a Linear layer's weight) and A is not broadcast, the batch is
 * folded into A's rows: one (batch * M, K) x (K, N) product, which is what makes a
 * transformer's MLP fast. Gradients of a broadcast operand are summed over its batch
 * indices in index order, one product after the other (beta 1), so they do not depend
 * on the thread count.
 *
 * The products are OpenBLAS's sgemm; the oneDNN backend runs the same code on
 * oneDNN's (dnnl_sgemm: on AVX-512, 1.3-1.5x OpenBLAS's speed per core for the
 * tall, narrow products of ConvNeXt's MLPs, and no separate pass that zeroes C). */
#include "engine/matmul.h"
#include "engine/ops.h"

#include <cblas.h>
#ifdef GRAFT_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif
#include <limits.h>
#include <omp.h>
#include <string.h>

/* Product of the batch dims (all but the last two) of a shape of rank rank. */
static size_t
batch_count (const graft_shape *s)
{
  size_t n = 1;
  for (int d = 0; d < s->rank - 2; d++)
    n *= (size_t) s->dims[d];
  return n;
}

graft_status
graft_matmul_setup (graft_matmul_params *p, graft_error *error)
{
  const graft_shape *a = &p->a, *b = &p->b;
  graft_status status;
  int rank;
  size_t count;

  if (a->rank < 2 || a->rank > GRAFT_MAX_RANK || b->rank < 2 || b->rank > GRAFT_MAX_RANK)
    return graft_error_set (error, GRAFT_ERROR_SHAPE,
                            "matmul: operands of rank %d and %d; both must have rank 2 to %d",
                            a->rank, b->rank, GRAFT_MAX_RANK);
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] < 1)
      return graft_error_set (error, GRAFT_ERROR_SHAPE, "matmul: A has an empty dim %d", d);
  for (int d = 0; d < b->rank; d++)
    if (b->dims[d] < 1)
      return graft_error_set (error, GRAFT_ERROR_SHAPE, "matmul: B has an empty dim %d", d);
  if (a->dims[a->rank - 1] != b->dims[b->rank - 2])
    return graft_error_set (error, GRAFT_ERROR_SHAPE,
                            "matmul: A has %lld columns but B has %lld rows",
                            (long long) a->dims[a->rank - 1], (long long) b->dims[b->rank - 2]);
  rank = a->rank > b->rank ? a->rank : b->rank;
  p->y.rank = rank;
  for (int d = 0; d < rank - 2; d++)
    {
      int da = d - (rank - a->rank), db = d - (rank - b->rank);
      int64_t xa = da >= 0 ? a->dims[da] : 1, xb = db >= 0 ? b->dims[db] : 1;
      if (xa != xb && xa != 1 && xb != 1)
        return graft_error_set (error, GRAFT_ERROR_SHAPE,
                                "matmul: batch dims %lld and %lld (dim %d of the result) do not broadcast",
                                (long long) xa, (long long) xb, d);
      p->y.dims[d] = xa > xb ? xa : xb;
    }
  p->y.dims[rank - 2] = a->dims[a->rank - 2];
  p->y.dims[rank - 1] = b->dims[b->rank - 1];
  if ((status = graft_shape_count (&p->y, &count, error)) != GRAFT_OK
      || (status = graft_shape_count (a, &count, error)) != GRAFT_OK
      || (status = graft_shape_count (b, &count, error)) != GRAFT_OK)
    return status;
  p->m = (size_t) a->dims[a->rank - 2];
  p->k = (size_t) a->dims[a->rank - 1];
  p->n = (size_t) b->dims[b->rank - 1];
  p->batch = batch_count (&p->y);
  /* cblas takes int sizes; the folded product has batch * M rows. */
  if (p->batch * p->m > INT_MAX || p->k > INT_MAX || p->n > INT_MAX)
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW,
                            "matmul: %zu x %zu by %zu x %zu in %zu batches is too large for BLAS",
                            p->m, p->k, p->k, p->n, p->batch);
  return GRAFT_OK;
}

/* Matrix offsets (in matrices, not floats) of A and B at batch index t of the result. */
static void
batch_offsets (const graft_matmul_params *p, size_t t, size_t *oa, size_t *ob)
{
  int rank = p->y.rank;
  size_t sa = 1, sb = 1;

  *oa = *ob = 0;
  for (int d = rank - 3; d >= 0; d--)
    {
      int da = d - (rank - p->a.rank), db = d - (rank - p->b.rank);
      size_t coord = t % (size_t) p->y.dims[d];
      int64_t xa = da >= 0 ? p->a.dims[da] : 1, xb = db >= 0 ? p->b.dims[db] : 1;
      t /= (size_t) p->y.dims[d];
      if (xa != 1)
        *oa += coord * sa;
      if (xb != 1)
        *ob += coord * sb;
      sa *= (size_t) xa;
      sb *= (size_t) xb;
    }
}

/* B has no batch and A one matrix per result batch index: the batch folds into rows. */
static bool
folds_into_rows (const graft_matmul_params *p)
{
  return batch_count (&p->b) == 1 && batch_count (&p->a) == p->batch;
}

/* Batches of independent products (attention's) go to threads, one single-threaded
 * product each, when there are enough of them: a BLAS splits one small product badly
 * (197 x 64 by 64 x 197), and each output is still computed by one call, whatever the
 * thread count. */
#define PARALLEL_BATCH 8

/* C = A B (^T as asked) + beta C, row-major: OpenBLAS's sgemm, or oneDNN's. */
static void
gemm_openblas (bool trans_a, bool trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
               float beta, float *c, int ldc)
{
  cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
               1.0f, a, lda, b, ldb, beta, c, ldc);
}

#ifdef GRAFT_HAVE_ONEDNN
static void
gemm_onednn (bool trans_a, bool trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
             float beta, float *c, int ldc)
{
  dnnl_sgemm (trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
#endif

static void
matmul_forward (const graft_matmul_params *p, graft_matmul_gemm_func *gemm, const float *a, const float *b, float *y)
{
  int m = (int) p->m, k = (int) p->k, n = (int) p->n;

  if (folds_into_rows (p))
    {
      gemm (false, false, (int) (p->batch * p->m), n, k, a, k, b, n, 0.0f, y, n);
      return;
    }
#pragma omp parallel for schedule(static) if (p->batch >= PARALLEL_BATCH)
  for (size_t t = 0; t < p->batch; t++)
    {
      size_t oa, ob;
      batch_offsets (p, t, &oa, &ob);
      gemm (false, false, m, n, k, a + oa * p->m * p->k, k, b + ob * p->k * p->n, n, 0.0f, y + t * p->m * p->n, n);
    }
}

/* A fused epilogue (bias, GELU) runs on blocks of about this many floats of the product
 * (512 KiB: still in a core's L2 cache when the epilogue reads them), of at least
 * EPILOGUE_MIN_ROWS rows, in a multiple of 16 rows. Each block's product packs B again:
 * only where B has at most EPILOGUE_MAX_B floats is that free (dnnl_sgemm on one thread,
 * 128-row blocks against the whole product: 0.97x at K 384, N 1536, but 1.14x at K 768,
 * N 3072, ConvNeXt's last stage and ViT-B's MLP, which take the second pass instead). */
#define EPILOGUE_FLOATS 131072
#define EPILOGUE_MIN_ROWS 128
#define EPILOGUE_MAX_B (1 << 20)

/* The epilogue over rows rows of y, in blocks of block rows over threads. */
static void
epilogue (size_t rows, size_t cols, size_t block, const float *bias, bool gelu, graft_gelu_kind kind, float *y)
{
  size_t blocks = (rows + block - 1) / block;
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (size_t t = 0; t < blocks; t++)
    {
      size_t r0 = t * block, nr = rows - r0 < block ? rows - r0 : block;
      graft_gelu_bias_rows (gelu, kind, nr, cols, bias, y + r0 * cols);
    }
}

/* Rows per block of the epilogue for products of cols columns. */
static size_t
epilogue_block (size_t cols)
{
  size_t block = EPILOGUE_FLOATS / cols;
  return block < EPILOGUE_MIN_ROWS ? EPILOGUE_MIN_ROWS : (block + 15) / 16 * 16;
}

/* matmul_forward and the epilogue. With nested, gemm runs on one thread inside an OpenMP
 * region (oneDNN's does; OpenBLAS's rule is parallel.h's: never from a region), and each
 * thread multiplies a block of rows and runs the epilogue on it while it is in cache;
 * otherwise the epilogue is a second pass. */
static void
matmul_forward_bias (const graft_matmul_params *p, graft_matmul_gemm_func *gemm, bool nested, const float *a,
                     const float *b, const float *bias, bool gelu, graft_gelu_kind kind, float *y)
{
  size_t rows = p->batch * p->m, block = epilogue_block (p->n);

  if (!nested || !folds_into_rows (p) || p->k * p->n > EPILOGUE_MAX_B || rows < 2 * EPILOGUE_MIN_ROWS
      || omp_get_max_threads () < 2)
    {
      matmul_forward (p, gemm, a, b, y);
      epilogue (rows, p->n, block, bias, gelu, kind, y);
      return;
    }
  /* Each thread its share of the rows (a multiple of 16), block by block. */
#pragma omp parallel
  {
    size_t threads = (size_t) omp_get_num_threads (), t = (size_t) omp_get_thread_num ();
    size_t share = ((rows + threads - 1) / threads + 15) / 16 * 16;
    size_t begin = t * share < rows ? t * share : rows, end = begin + share < rows ? begin + share : rows;
    for (size_t r0 = begin; r0 < end; r0 += block)
      {
        size_t nr = end - r0 < block ? end - r0 : block;
        gemm (false, false, (int) nr, (int) p->n, (int) p->k, a + r0 * p->k, (int) p->k, b, (int) p->n, 0.0f,
              y + r0 * p->n, (int) p->n);
        graft_gelu_bias_rows (gelu, kind, nr, p->n, bias, y + r0 * p->n);
      }
  }
}

static void
matmul_backward (const graft_matmul_params *p, graft_matmul_gemm_func *gemm, const float *a, const float *b,
                 const float *dy, float *da, float *db)
{
  int m = (int) p->m, k = (int) p->k, n = (int) p->n;
  /* An operand with a matrix per batch index has its own gradient matrix per index:
   * those products go to threads. A broadcast one sums in index order, on one. */
  bool a_parallel = p->batch >= PARALLEL_BATCH && batch_count (&p->a) == p->batch;
  bool b_parallel = p->batch >= PARALLEL_BATCH && batch_count (&p->b) == p->batch;

  if (folds_into_rows (p))
    {
      int rows = (int) (p->batch * p->m);
      if (da != NULL)
        gemm (false, true, rows, k, n, dy, n, b, n, 1.0f, da, k);
      if (db != NULL)
        gemm (true, false, k, n, rows, a, k, dy, n, 1.0f, db, n);
      return;
    }
  if (da != NULL)
    {
#pragma omp parallel for schedule(static) if (a_parallel)
      for (size_t t = 0; t < p->batch; t++)
        {
          size_t oa, ob;
          batch_offsets (p, t, &oa, &ob);
          gemm (false, true, m, k, n, dy + t * p->m * p->n, n, b + ob * p->k * p->n, n, 1.0f, da + oa * p->m * p->k,
                k);
        }
    }
  if (db != NULL)
    {
#pragma omp parallel for schedule(static) if (b_parallel)
      for (size_t t = 0; t < p->batch; t++)
        {
          size_t oa, ob;
          batch_offsets (p, t, &oa, &ob);
          gemm (true, false, k, n, m, a + oa * p->m * p->k, k, dy + t * p->m * p->n, n, 1.0f, db + ob * p->k * p->n,
                n);
        }
    }
}

void
graft_matmul_forward (const graft_matmul_params *p, const float *a, const float *b, float *y)
{
  matmul_forward (p, gemm_openblas, a, b, y);
}

void
graft_matmul_forward_bias (const graft_matmul_params *p, const float *a, const float *b, const float *bias, bool gelu,
                           graft_gelu_kind kind, float *y)
{
  matmul_forward_bias (p, gemm_openblas, false, a, b, bias, gelu, kind, y);
}

void
graft_matmul_backward (const graft_matmul_params *p, const float *a, const float *b, const float *dy,
                       float *da, float *db)
{
  matmul_backward (p, gemm_openblas, a, b, dy, da, db);
}

#ifdef GRAFT_HAVE_ONEDNN
void
graft_matmul_forward_onednn (const graft_matmul_params *p, const float *a, const float *b, float *y)
{
  matmul_forward (p, gemm_onednn, a, b, y);
}

void
graft_matmul_forward_bias_onednn (const graft_matmul_params *p, const float *a, const float *b, const float *bias,
                                  bool gelu, graft_gelu_kind kind, float *y)
{
  matmul_forward_bias (p, gemm_onednn, true, a, b, bias, gelu, kind, y);
}

void
graft_matmul_backward_onednn (const graft_matmul_params *p, const float *a, const float *b, const float *dy,
                              float *da, float *db)
{
  matmul_backward (p, gemm_onednn, a, b, dy, da, db);
}
#endif

/* The reference, in double, from numpy's definition: y[c..., i, j] = sum_l a[c'..., i, l]
 * b[c''..., l, j], where an operand's batch coordinates c' are those of the result
 * aligned to the right, with 0 where the operand's dim is 1. It shares no index code
 * with the fast path. */
static size_t
reference_matrix (const graft_shape *s, const graft_shape *y, size_t t)
{
  size_t coords[GRAFT_MAX_RANK] = { 0 }, index = 0;

  for (int d = y->rank - 3; d >= 0; d--)
    {
      coords[d] = t % (size_t) y->dims[d];
      t /= (size_t) y->dims[d];
    }
  for (int d = 0; d < s->rank - 2; d++)
    {
      size_t c = coords[d + (y->rank - s->rank)];
      index = index * (size_t) s->dims[d] + (s->dims[d] == 1 ? 0 : c);
    }
  return index;
}

void
graft_matmul_forward_reference (const graft_matmul_params *p, const double *a, const double *b, double *y)
{
  for (size_t t = 0; t < p->batch; t++)
    {
      size_t oa = reference_matrix (&p->a, &p->y, t), ob = reference_matrix (&p->b, &p->y, t);
      for (size_t i = 0; i < p->m; i++)
        for (size_t j = 0; j < p->n; j++)
          {
            double s = 0;
            for (size_t l = 0; l < p->k; l++)
              s += a[(oa * p->m + i) * p->k + l] * b[(ob * p->k + l) * p->n + j];
            y[(t * p->m + i) * p->n + j] = s;
          }
    }
}

void
graft_matmul_backward_reference (const graft_matmul_params *p, const double *a, const double *b,
                                 const double *dy, double *da, double *db)
{
  for (size_t t = 0; t < p->batch; t++)
    {
      size_t oa = reference_matrix (&p->a, &p->y, t), ob = reference_matrix (&p->b, &p->y, t);
      for (size_t i = 0; i < p->m; i++)
        for (size_t j = 0; j < p->n; j++)
          {
            double g = dy[(t * p->m + i) * p->n + j];
            for (size_t l = 0; l < p->k; l++)
              {
                if (da != NULL)
                  da[(oa * p->m + i) * p->k + l] += g * b[(ob * p->k + l) * p->n + j];
                if (db != NULL)
                  db[(ob * p->k + l) * p->n + j] += g * a[(oa * p->m + i) * p->k + l];
              }
          }
    }
}
