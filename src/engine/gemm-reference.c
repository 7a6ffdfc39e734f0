/* gemm-reference.c: naive double-precision Gemm, straight from the definition,
 * for tests. */
#include "engine/ops.h"

/* op(A)[i][l] */
static double
ref_a (const graft_gemm_params *p, const double *a, int i, int l)
{
  return p->trans_a ? a[(size_t) l * p->m + i] : a[(size_t) i * p->k + l];
}

/* op(B)[l][j] */
static double
ref_b (const graft_gemm_params *p, const double *b, int l, int j)
{
  return p->trans_b ? b[(size_t) j * p->k + l] : b[(size_t) l * p->n + j];
}

/* Index in C of the element broadcast to Y[i][j]. */
static size_t
ref_c_index (const graft_gemm_params *p, int i, int j)
{
  int ci = p->c_rows == 1 ? 0 : i;
  int cj = p->c_cols == 1 ? 0 : j;
  return (size_t) ci * p->c_cols + cj;
}

/* Shape: a is (M,K) or (K,M), b is (K,N) or (N,K), c is (c_rows, c_cols) or NULL, y is (M,N). */
void
graft_gemm_forward_reference (const graft_gemm_params *p, const double *a, const double *b,
                              const double *c, double *y)
{
  bool has_c = c != NULL && p->c_rows > 0 && p->c_cols > 0;

  for (int i = 0; i < p->m; i++)
    for (int j = 0; j < p->n; j++)
      {
        double sum = 0.0;
        for (int l = 0; l < p->k; l++)
          sum += ref_a (p, a, i, l) * ref_b (p, b, l, j);
        y[(size_t) i * p->n + j] = p->alpha * sum + (has_c ? p->beta * c[ref_c_index (p, i, j)] : 0.0);
      }
}

/* Shape: dy (M,N); da, db, dc (shapes of a, b, c) accumulate; each may be NULL. */
void
graft_gemm_backward_reference (const graft_gemm_params *p, const double *a, const double *b,
                               const double *dy, double *da, double *db, double *dc)
{
  bool has_c = p->c_rows > 0 && p->c_cols > 0;

  for (int i = 0; i < p->m; i++)
    for (int j = 0; j < p->n; j++)
      {
        double g = dy[(size_t) i * p->n + j];
        for (int l = 0; l < p->k; l++)
          {
            /* Y[i][j] += alpha * op(A)[i][l] * op(B)[l][j] */
            if (da != NULL)
              {
                size_t index = p->trans_a ? (size_t) l * p->m + i : (size_t) i * p->k + l;
                da[index] += p->alpha * g * ref_b (p, b, l, j);
              }
            if (db != NULL)
              {
                size_t index = p->trans_b ? (size_t) j * p->k + l : (size_t) l * p->n + j;
                db[index] += p->alpha * g * ref_a (p, a, i, l);
              }
          }
        if (dc != NULL && has_c)
          dc[ref_c_index (p, i, j)] += p->beta * g;
      }
}
