/* elementwise.c: Add and Mul with numpy (multidirectional) broadcasting.
 *
 * Every call first collapses the broadcast into at most GRAFT_MAX_RANK dims:
 * dims of 1 in y are dropped and neighbours that broadcast the same way are
 * merged. Equal shapes and a scalar operand become one flat dim; squeeze-excite
 * (N,C,1,1) with (N,C,H,W) becomes (N*C rows) x (H*W, one side constant); a
 * per-channel vector becomes N x C x H*W. Every layout then runs as contiguous,
 * vectorised inner runs along the last collapsed dim, with the outer dims walked
 * by an odometer, so all of these are fast paths and the general case is too.
 *
 * Backward sums dy over the dims an operand was broadcast along. Each gradient
 * element is summed by one thread, in a fixed order, so results do not depend on
 * the thread count.
 */
#include "engine/ops.h"
#include "engine/simd.h"

#include <omp.h>

/* Below this many output elements everything runs on the calling thread. */
#define PARALLEL_THRESHOLD 32768
/* Reductions along a kept inner run accumulate blocks of this many floats. */
#define BLOCK 256

typedef struct {
  int rank;                         /* >= 1 */
  size_t dims[GRAFT_MAX_RANK];      /* collapsed dims, each >= 2 (or a single 1) */
  size_t sa[GRAFT_MAX_RANK];        /* element strides of a; 0 where a broadcasts */
  size_t sb[GRAFT_MAX_RANK];        /* same for b */
  size_t sy[GRAFT_MAX_RANK];        /* strides of y (contiguous) */
  size_t count;                     /* elements of y */
} plan;

static int64_t
aligned_dim (const graft_shape *s, int rank, int k)
{
  int j = k - (rank - s->rank);
  return j >= 0 ? s->dims[j] : 1;
}

/* Collapses p into pl; pl->count is 0 when y is empty (then nothing else is set). */
static void
make_plan (const graft_broadcast_params *p, plan *pl)
{
  int rank = p->y.rank;
  bool full_a[GRAFT_MAX_RANK], full_b[GRAFT_MAX_RANK];
  size_t sa = 1, sb = 1, sy = 1;

  pl->rank = 0;
  pl->count = 1;
  for (int k = 0; k < rank; k++)
    {
      int64_t dy = p->y.dims[k];
      bool fa = aligned_dim (&p->a, rank, k) == dy;
      bool fb = aligned_dim (&p->b, rank, k) == dy;
      pl->count *= (size_t) dy;
      if (dy == 1)
        continue;
      if (pl->rank > 0 && full_a[pl->rank - 1] == fa && full_b[pl->rank - 1] == fb)
        pl->dims[pl->rank - 1] *= (size_t) dy;
      else
        {
          pl->dims[pl->rank] = (size_t) dy;
          full_a[pl->rank] = fa;
          full_b[pl->rank] = fb;
          pl->rank++;
        }
    }
  if (pl->count == 0)
    return;
  if (pl->rank == 0)
    {
      /* One element each. */
      pl->rank = 1;
      pl->dims[0] = 1;
      full_a[0] = full_b[0] = true;
    }
  for (int k = pl->rank - 1; k >= 0; k--)
    {
      pl->sy[k] = sy;
      sy *= pl->dims[k];
      pl->sa[k] = full_a[k] ? sa : 0;
      sa *= full_a[k] ? pl->dims[k] : 1;
      pl->sb[k] = full_b[k] ? sb : 0;
      sb *= full_b[k] ? pl->dims[k] : 1;
    }
}

/* ------------------------------------------------------------------------ */
/* Forward-shaped traversal: one pass over y in order. */

typedef enum {
  OP_ADD,      /* y = a + b */
  OP_MUL,      /* y = a * b */
  OP_ACC,      /* y += a (b unused) */
  OP_ACC_MUL,  /* y += a * b */
} op_kind;

/* One inner run of n elements; a and b step by 1 when *_vec, else stay put.
 * y may be the same array as a or b (same index), which "omp simd" allows. */
GRAFT_SIMD_DISPATCH
static void
run_inner (op_kind op, size_t n, const float *a, bool a_vec, const float *b, bool b_vec, float *y)
{
  if (op == OP_ACC)
    {
#pragma omp simd
      for (size_t i = 0; i < n; i++)
        y[i] += a[i];
    }
  else if (a_vec && b_vec)
    {
      switch (op)
        {
        case OP_ADD:
#pragma omp simd
          for (size_t i = 0; i < n; i++)
            y[i] = a[i] + b[i];
          break;
        case OP_MUL:
#pragma omp simd
          for (size_t i = 0; i < n; i++)
            y[i] = a[i] * b[i];
          break;
        default:
#pragma omp simd
          for (size_t i = 0; i < n; i++)
            y[i] += a[i] * b[i];
          break;
        }
    }
  else
    {
      /* One side is constant along the run; both ops commute. */
      const float *v = a_vec ? a : b;
      float s = a_vec ? b[0] : a[0];
      switch (op)
        {
        case OP_ADD:
#pragma omp simd
          for (size_t i = 0; i < n; i++)
            y[i] = v[i] + s;
          break;
        case OP_MUL:
#pragma omp simd
          for (size_t i = 0; i < n; i++)
            y[i] = v[i] * s;
          break;
        default:
#pragma omp simd
          for (size_t i = 0; i < n; i++)
            y[i] += v[i] * s;
          break;
        }
    }
}

/* Elements [e0, e1) of y. */
static void
traverse_range (const plan *pl, op_kind op, const float *a, const float *b, float *y,
                size_t e0, size_t e1)
{
  int last = pl->rank - 1;
  size_t len = pl->dims[last];
  bool a_vec = pl->sa[last] != 0, b_vec = pl->sb[last] != 0;
  size_t idx[GRAFT_MAX_RANK], oa = 0, ob = 0, row, col, e = e0;

  if (e0 >= e1)
    return;
  row = e0 / len;
  col = e0 % len;
  for (int k = last - 1; k >= 0; k--)
    {
      idx[k] = row % pl->dims[k];
      row /= pl->dims[k];
      oa += idx[k] * pl->sa[k];
      ob += idx[k] * pl->sb[k];
    }
  while (e < e1)
    {
      size_t n = len - col < e1 - e ? len - col : e1 - e;
      run_inner (op, n, a + oa + (a_vec ? col : 0), a_vec, b + ob + (b_vec ? col : 0), b_vec, y + e);
      e += n;
      col = 0;
      for (int k = last - 1; k >= 0; k--)
        {
          oa += pl->sa[k];
          ob += pl->sb[k];
          if (++idx[k] < pl->dims[k])
            break;
          oa -= pl->sa[k] * pl->dims[k];
          ob -= pl->sb[k] * pl->dims[k];
          idx[k] = 0;
        }
    }
}

/* Splits y into one contiguous range per thread. */
static void
traverse (const plan *pl, op_kind op, const float *a, const float *b, float *y)
{
  size_t count = pl->count;

#pragma omp parallel if (count > PARALLEL_THRESHOLD)
  {
    size_t threads = (size_t) omp_get_num_threads (), t = (size_t) omp_get_thread_num ();
    size_t share = count / threads, extra = count % threads;
    size_t e0 = share * t + (t < extra ? t : extra);
    size_t e1 = e0 + share + (t < extra);
    traverse_range (pl, op, a, b, y, e0, e1);
  }
}

/* ------------------------------------------------------------------------ */
/* Reduction of dy into the gradient of one operand. */

/* Offsets of the multi-index number i over a subset of dims, row-major. */
static void
unflatten_offsets (size_t i, int n, const size_t *dims, const size_t *s1, const size_t *s2,
                   size_t *o1, size_t *o2)
{
  *o1 = *o2 = 0;
  for (int k = n - 1; k >= 0; k--)
    {
      size_t j = i % dims[k];
      i /= dims[k];
      *o1 += j * s1[k];
      *o2 += j * s2[k];
    }
}

/* An odometer over a subset of dims, carrying an offset into dy and one into
 * the other operand. */
typedef struct {
  int n;
  size_t dims[GRAFT_MAX_RANK], sy[GRAFT_MAX_RANK], so[GRAFT_MAX_RANK], idx[GRAFT_MAX_RANK];
  size_t oy, oo;
} odometer;

static void
odometer_reset (odometer *od)
{
  for (int k = 0; k < od->n; k++)
    od->idx[k] = 0;
  od->oy = od->oo = 0;
}

static void
odometer_next (odometer *od)
{
  for (int k = od->n - 1; k >= 0; k--)
    {
      od->oy += od->sy[k];
      od->oo += od->so[k];
      if (++od->idx[k] < od->dims[k])
        return;
      od->oy -= od->sy[k] * od->dims[k];
      od->oo -= od->so[k] * od->dims[k];
      od->idx[k] = 0;
    }
}

/* out (the operand with strides s_out) += sum over its broadcast dims of
 * dy * other (other has strides s_other; NULL means a factor of 1). */
GRAFT_SIMD_DISPATCH
static void
reduce_into (const plan *pl, const size_t *s_out, const size_t *s_other,
             const float *dy, const float *other, float *out)
{
  int last = pl->rank - 1;
  size_t len = pl->dims[last];
  bool reduced = false;
  /* Kept dims (out has them) and reduced dims (out broadcasts along them), in order. */
  size_t kept_dims[GRAFT_MAX_RANK], kept_sy[GRAFT_MAX_RANK], kept_so[GRAFT_MAX_RANK];
  size_t kept_count = 1, red_count = 1;
  int n_kept = 0;
  odometer red = { 0 };

  for (int k = 0; k < pl->rank; k++)
    reduced |= s_out[k] == 0;

  if (!reduced)
    {
      /* out has y's shape: one pass in y's order. */
      plan pass = *pl;
      if (other == NULL)
        {
          pass.rank = 1;
          pass.dims[0] = pl->count;
          pass.sa[0] = pass.sb[0] = pass.sy[0] = 1;
          traverse (&pass, OP_ACC, dy, dy, out);
        }
      else
        {
          for (int k = 0; k < pl->rank; k++)
            {
              pass.sa[k] = pl->sy[k];
              pass.sb[k] = s_other[k];
            }
          traverse (&pass, OP_ACC_MUL, dy, other, out);
        }
      return;
    }

  /* The last dim is handled by the inner loops below, not by these lists. */
  for (int k = 0; k < last; k++)
    {
      size_t so = other != NULL ? s_other[k] : 0;
      if (s_out[k] != 0)
        {
          kept_dims[n_kept] = pl->dims[k];
          kept_sy[n_kept] = pl->sy[k];
          kept_so[n_kept] = so;
          kept_count *= pl->dims[k];
          n_kept++;
        }
      else
        {
          red.dims[red.n] = pl->dims[k];
          red.sy[red.n] = pl->sy[k];
          red.so[red.n] = so;
          red.n++;
          red_count *= pl->dims[k];
        }
    }

  if (s_out[last] == 0)
    {
      /* The last dim is reduced: every out element is a sum of contiguous runs of
       * dy (and of other, which cannot broadcast where out does). */
#pragma omp parallel for schedule(static) if (pl->count > PARALLEL_THRESHOLD) firstprivate(red)
      for (size_t j = 0; j < kept_count; j++)
        {
          size_t by, bo;
          float sum = 0;
          unflatten_offsets (j, n_kept, kept_dims, kept_sy, kept_so, &by, &bo);
          odometer_reset (&red);
          for (size_t m = 0; m < red_count; m++, odometer_next (&red))
            {
              const float *d = dy + by + red.oy;
              float s = 0;
              if (other != NULL)
                {
                  const float *o = other + bo + red.oo;
#pragma omp simd reduction(+:s)
                  for (size_t i = 0; i < len; i++)
                    s += d[i] * o[i];
                }
              else
                {
#pragma omp simd reduction(+:s)
                  for (size_t i = 0; i < len; i++)
                    s += d[i];
                }
              sum += s;
            }
          out[j] += sum;
        }
    }
  else
    {
      /* The last dim is kept: out is rows of len; each block of a row sums the
       * matching blocks of dy over the reduced dims. */
      size_t rows = kept_count, blocks = (len + BLOCK - 1) / BLOCK;
      bool other_vec = other != NULL && s_other[last] != 0;
#pragma omp parallel for schedule(static) if (pl->count > PARALLEL_THRESHOLD) firstprivate(red)
      for (size_t item = 0; item < rows * blocks; item++)
        {
          size_t row = item / blocks, c0 = item % blocks * BLOCK;
          size_t n = len - c0 < BLOCK ? len - c0 : BLOCK;
          size_t by, bo;
          float acc[BLOCK];
          float *o_out = out + row * len + c0;
          unflatten_offsets (row, n_kept, kept_dims, kept_sy, kept_so, &by, &bo);
          for (size_t i = 0; i < n; i++)
            acc[i] = 0;
          odometer_reset (&red);
          for (size_t m = 0; m < red_count; m++, odometer_next (&red))
            {
              const float *d = dy + by + red.oy + c0;
              if (other == NULL)
                {
#pragma omp simd
                  for (size_t i = 0; i < n; i++)
                    acc[i] += d[i];
                }
              else if (other_vec)
                {
                  const float *o = other + bo + red.oo + c0;
#pragma omp simd
                  for (size_t i = 0; i < n; i++)
                    acc[i] += d[i] * o[i];
                }
              else
                {
                  float s = other[bo + red.oo];
#pragma omp simd
                  for (size_t i = 0; i < n; i++)
                    acc[i] += d[i] * s;
                }
            }
#pragma omp simd
          for (size_t i = 0; i < n; i++)
            o_out[i] += acc[i];
        }
    }
}

/* ------------------------------------------------------------------------ */

graft_status
graft_broadcast_setup (graft_broadcast_params *p, graft_error *error)
{
  char text_a[160], text_b[160];
  graft_error inner;
  graft_shape y = { 0 };
  size_t count;

  if (graft_shape_count (&p->a, &count, &inner) != GRAFT_OK)
    return graft_error_set (error, inner.status, "broadcast: input a: %s", inner.message);
  if (graft_shape_count (&p->b, &count, &inner) != GRAFT_OK)
    return graft_error_set (error, inner.status, "broadcast: input b: %s", inner.message);

  y.rank = p->a.rank > p->b.rank ? p->a.rank : p->b.rank;
  for (int k = 0; k < y.rank; k++)
    {
      int64_t da = aligned_dim (&p->a, y.rank, k), db = aligned_dim (&p->b, y.rank, k);
      if (da == db || db == 1)
        y.dims[k] = da;
      else if (da == 1)
        y.dims[k] = db;
      else
        {
          graft_shape_format (&p->a, text_a, sizeof text_a);
          graft_shape_format (&p->b, text_b, sizeof text_b);
          return graft_error_set (error, GRAFT_ERROR_SHAPE,
                                  "broadcast: shapes %s and %s are incompatible "
                                  "(dimension %d of the result: %lld vs %lld)",
                                  text_a, text_b, k, (long long) da, (long long) db);
        }
    }
  if (graft_shape_count (&y, &count, &inner) != GRAFT_OK)
    {
      graft_shape_format (&p->a, text_a, sizeof text_a);
      graft_shape_format (&p->b, text_b, sizeof text_b);
      return graft_error_set (error, inner.status, "broadcast: shapes %s and %s: output %s",
                              text_a, text_b, inner.message);
    }
  p->y = y;
  return GRAFT_OK;
}

void
graft_add_forward (const graft_broadcast_params *p, const float *a, const float *b, float *y)
{
  plan pl;
  make_plan (p, &pl);
  if (pl.count > 0)
    traverse (&pl, OP_ADD, a, b, y);
}

void
graft_mul_forward (const graft_broadcast_params *p, const float *a, const float *b, float *y)
{
  plan pl;
  make_plan (p, &pl);
  if (pl.count > 0)
    traverse (&pl, OP_MUL, a, b, y);
}

void
graft_add_backward (const graft_broadcast_params *p, const float *dy, float *da, float *db)
{
  plan pl;
  make_plan (p, &pl);
  if (pl.count == 0)
    return;
  if (da != NULL)
    reduce_into (&pl, pl.sa, pl.sb, dy, NULL, da);
  if (db != NULL)
    reduce_into (&pl, pl.sb, pl.sa, dy, NULL, db);
}

void
graft_mul_backward (const graft_broadcast_params *p, const float *a, const float *b,
                    const float *dy, float *da, float *db)
{
  plan pl;
  make_plan (p, &pl);
  if (pl.count == 0)
    return;
  if (da != NULL)
    reduce_into (&pl, pl.sa, pl.sb, dy, b, da);
  if (db != NULL)
    reduce_into (&pl, pl.sb, pl.sa, dy, a, db);
}
