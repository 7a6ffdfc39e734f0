/* bench-kernels.c: the portable engine's hot kernels one by one, on MobileNetV2's and
 * EfficientNet-B0's largest shapes at batch 16 (224x224 input), timed in CPU time.
 *
 *   bench-kernels [--threads N] [--repeats N] [--filter TEXT]
 *
 * Each kernel runs a warm-up, then --repeats times (default 5); the figure is the least
 * CPU time of the process (CLOCK_PROCESS_CPUTIME_ID) over the repeats, in ms. On a
 * machine shared with other work, wall time measures the neighbours; the least CPU time
 * with one thread (the default) is what the kernel costs, and two builds run one after
 * the other compare fairly. --filter runs only the kernels whose name contains TEXT. */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/ops.h"
#include "engine/parallel.h"

static int repeats = 5;
static const char *filter = NULL;

static double
cpu_ms (void)
{
  struct timespec t;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static float *
floats (size_t count, unsigned seed)
{
  float *p = aligned_alloc (64, (count * sizeof (float) + 63) / 64 * 64);
  if (p == NULL)
    {
      fprintf (stderr, "bench-kernels: out of memory for %zu floats\n", count);
      exit (1);
    }
  for (size_t i = 0; i < count; i++)
    {
      seed = seed * 1103515245u + 12345u;
      p[i] = (float) ((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
  return p;
}

typedef void (*kernel_fn) (void *data);

static void
timed (const char *name, kernel_fn fn, void *data)
{
  double best = DBL_MAX;

  if (filter != NULL && strstr (name, filter) == NULL)
    return;
  fn (data);
  for (int r = 0; r < repeats; r++)
    {
      double start = cpu_ms ();
      fn (data);
      double ms = cpu_ms () - start;
      best = ms < best ? ms : best;
    }
  printf ("%-44s %9.2f ms\n", name, best);
  fflush (stdout);
}

/* ------------------------------------------------------------------------ */

typedef struct {
  graft_conv2d_params p;
  float *x, *w, *b, *y, *dy, *dx, *dw, *db, *scratch;
} conv_case;

static conv_case *
conv_make (int n, int c, int hw, int m, int k, int stride, int groups)
{
  conv_case *t = calloc (1, sizeof *t);
  graft_error error;
  size_t xs, ys, ws;

  t->p = (graft_conv2d_params) { .n = n, .c = c, .h = hw, .w = hw, .m = m, .kh = k, .kw = k,
                                 .stride_h = stride, .stride_w = stride, .dilation_h = 1, .dilation_w = 1,
                                 .pad_top = k / 2, .pad_left = k / 2, .pad_bottom = k / 2, .pad_right = k / 2,
                                 .groups = groups };
  if (graft_conv2d_setup (&t->p, &error) != GRAFT_OK)
    {
      fprintf (stderr, "bench-kernels: %s\n", error.message);
      exit (1);
    }
  xs = (size_t) n * c * hw * hw;
  ys = (size_t) n * m * t->p.oh * t->p.ow;
  ws = (size_t) m * (c / groups) * k * k;
  t->x = floats (xs, 1);
  t->dx = floats (xs, 2);
  t->w = floats (ws, 3);
  t->dw = floats (ws, 4);
  t->b = floats (m, 5);
  t->db = floats (m, 6);
  t->y = floats (ys, 7);
  t->dy = floats (ys, 8);
  t->scratch = floats (graft_conv2d_scratch_floats (&t->p) + 1, 9);
  return t;
}

static void
conv_forward (void *data)
{
  conv_case *t = data;
  graft_conv2d_forward (&t->p, t->x, t->w, t->b, t->y, t->scratch);
}

static void
conv_backward (void *data)
{
  conv_case *t = data;
  graft_conv2d_backward_set_dx (&t->p, t->x, t->w, t->dy, t->dx, t->dw, t->db, t->scratch);
}

static void
conv_backward_weights (void *data)
{
  conv_case *t = data;
  graft_conv2d_backward (&t->p, t->x, t->w, t->dy, NULL, t->dw, t->db, t->scratch);
}

static void
conv_free (conv_case *t)
{
  free (t->x); free (t->dx); free (t->w); free (t->dw); free (t->b); free (t->db);
  free (t->y); free (t->dy); free (t->scratch); free (t);
}

static void
bench_conv (const char *name, int c, int hw, int m, int k, int stride, int groups, bool weights_only)
{
  char label[96];
  conv_case *t = conv_make (16, c, hw, m, k, stride, groups);

  snprintf (label, sizeof label, "conv %s forward", name);
  timed (label, conv_forward, t);
  snprintf (label, sizeof label, "conv %s backward%s", name, weights_only ? " (dw, db)" : "");
  timed (label, weights_only ? conv_backward_weights : conv_backward, t);
  conv_free (t);
}

/* ------------------------------------------------------------------------ */

typedef struct {
  graft_batchnorm_params p;
  graft_activation_params act;
  size_t count;
  float *x, *y, *pre, *dy, *dx, *gamma, *beta, *rm, *rv, *mean, *invstd, *dgamma, *dbeta;
} bn_case;

static void
bn_forward (void *data)
{
  bn_case *t = data;
  graft_batchnorm_forward_training_activation (&t->p, t->x, t->gamma, t->beta, t->rm, t->rv, &t->act, t->pre,
                                               t->y, t->mean, t->invstd);
}

static void
bn_backward (void *data)
{
  bn_case *t = data;
  graft_batchnorm_backward_training_set_dx (&t->p, t->x, t->gamma, t->mean, t->invstd, t->dy, t->dx,
                                            t->dgamma, t->dbeta);
}

static void
act_forward (void *data)
{
  bn_case *t = data;
  graft_activation_forward (&t->act, t->count, t->x, t->y);
}

static void
act_backward (void *data)
{
  bn_case *t = data;
  graft_activation_backward_set_dx (&t->act, t->count, t->x, t->y, t->dy, t->dx);
}

static void
bench_bn_act (int c, int hw)
{
  bn_case t = { 0 };
  char label[96];
  graft_error error;

  t.p = (graft_batchnorm_params) { .n = 16, .c = c, .spatial = (size_t) hw * hw, .epsilon = 1e-5f,
                                   .momentum = 0.9f };
  graft_batchnorm_setup (&t.p, &error);
  t.count = (size_t) 16 * c * hw * hw;
  t.x = floats (t.count, 1);
  t.y = floats (t.count, 2);
  t.pre = floats (t.count, 3);
  t.dy = floats (t.count, 4);
  t.dx = floats (t.count, 5);
  t.gamma = floats (c, 6);
  t.beta = floats (c, 7);
  t.rm = floats (c, 8);
  t.rv = floats (c, 9);
  t.mean = floats (c, 10);
  t.invstd = floats (c, 11);
  t.dgamma = floats (c, 12);
  t.dbeta = floats (c, 13);
  for (int i = 0; i < c; i++)
    t.rv[i] = 1.0f;
  t.act = (graft_activation_params) { GRAFT_ACTIVATION_CLIP, 0.0f, 6.0f };
  snprintf (label, sizeof label, "batchnorm+relu6 train fwd (16,%d,%d,%d)", c, hw, hw);
  timed (label, bn_forward, &t);
  snprintf (label, sizeof label, "batchnorm train backward (16,%d,%d,%d)", c, hw, hw);
  timed (label, bn_backward, &t);
  snprintf (label, sizeof label, "relu6 forward (16,%d,%d,%d)", c, hw, hw);
  timed (label, act_forward, &t);
  snprintf (label, sizeof label, "relu6 backward (16,%d,%d,%d)", c, hw, hw);
  timed (label, act_backward, &t);
  t.act = (graft_activation_params) { GRAFT_ACTIVATION_SIGMOID, 0.0f, 0.0f };
  snprintf (label, sizeof label, "sigmoid forward (16,%d,%d,%d)", c, hw, hw);
  timed (label, act_forward, &t);
  snprintf (label, sizeof label, "sigmoid backward (16,%d,%d,%d)", c, hw, hw);
  timed (label, act_backward, &t);
  free (t.x); free (t.y); free (t.pre); free (t.dy); free (t.dx); free (t.gamma); free (t.beta);
  free (t.rm); free (t.rv); free (t.mean); free (t.invstd); free (t.dgamma); free (t.dbeta);
}

/* ------------------------------------------------------------------------ */

typedef struct {
  graft_broadcast_params p;
  float *a, *b, *y, *dy, *da, *db;
} mul_case;

static void
mul_forward (void *data)
{
  mul_case *t = data;
  graft_mul_forward (&t->p, t->a, t->b, t->y);
}

static void
mul_backward (void *data)
{
  mul_case *t = data;
  graft_mul_backward (&t->p, t->a, t->b, t->dy, t->da, t->db);
}

static void
add_forward (void *data)
{
  mul_case *t = data;
  graft_add_forward (&t->p, t->a, t->b, t->y);
}

static void
bench_mul (const char *name, graft_shape a, graft_shape b, bool add)
{
  mul_case t;
  char label[96];
  graft_error error;
  size_t na = 1, nb = 1, ny = 1;

  t.p.a = a;
  t.p.b = b;
  graft_broadcast_setup (&t.p, &error);
  for (int i = 0; i < a.rank; i++)
    na *= (size_t) a.dims[i];
  for (int i = 0; i < b.rank; i++)
    nb *= (size_t) b.dims[i];
  for (int i = 0; i < t.p.y.rank; i++)
    ny *= (size_t) t.p.y.dims[i];
  t.a = floats (na, 1);
  t.b = floats (nb, 2);
  t.y = floats (ny, 3);
  t.dy = floats (ny, 4);
  t.da = floats (na, 5);
  t.db = floats (nb, 6);
  snprintf (label, sizeof label, "%s %s forward", add ? "add" : "mul", name);
  timed (label, add ? add_forward : mul_forward, &t);
  if (!add)
    {
      snprintf (label, sizeof label, "mul %s backward", name);
      timed (label, mul_backward, &t);
    }
  free (t.a); free (t.b); free (t.y); free (t.dy); free (t.da); free (t.db);
}

/* ------------------------------------------------------------------------ */

int
main (int argc, char **argv)
{
  int threads = 1;

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
        threads = atoi (argv[++i]);
      else if (strcmp (argv[i], "--repeats") == 0 && i + 1 < argc)
        repeats = atoi (argv[++i]);
      else if (strcmp (argv[i], "--filter") == 0 && i + 1 < argc)
        filter = argv[++i];
      else
        {
          fprintf (stderr, "usage: bench-kernels [--threads N] [--repeats N] [--filter TEXT]\n");
          return 2;
        }
    }
  if (threads < 1 || repeats < 1)
    {
      fprintf (stderr, "bench-kernels: --threads and --repeats must be at least 1\n");
      return 2;
    }
  graft_set_num_threads (threads);
  printf ("bench-kernels: batch 16, %d thread(s), least CPU time of %d runs\n", threads, repeats);

  bench_conv ("stem 3x3 s2 3->32 @224", 3, 224, 32, 3, 2, 1, true);
  bench_conv ("dw 3x3 s1 32 @112", 32, 112, 32, 3, 1, 32, false);
  bench_conv ("dw 3x3 s2 96 @112", 96, 112, 96, 3, 2, 96, false);
  bench_conv ("dw 3x3 s1 144 @56", 144, 56, 144, 3, 1, 144, false);
  bench_conv ("dw 5x5 s2 144 @56", 144, 56, 144, 5, 2, 144, false);
  bench_conv ("dw 3x3 s1 192 @28", 192, 28, 192, 3, 1, 192, false);
  bench_conv ("dw 3x3 s1 384 @14", 384, 14, 384, 3, 1, 384, false);
  bench_conv ("1x1 24->144 @56", 24, 56, 144, 1, 1, 1, false);
  bench_conv ("1x1 384->64 @14", 384, 14, 64, 1, 1, 1, false);
  bench_conv ("1x1 s2 64->128 @56", 64, 56, 128, 1, 2, 1, false);
  bench_conv ("3x3 64->64 @56", 64, 56, 64, 3, 1, 1, false);
  bench_bn_act (96, 112);
  bench_mul ("(16,96,112,112)x(16,96,1,1)", (graft_shape) { 4, { 16, 96, 112, 112 } },
             (graft_shape) { 4, { 16, 96, 1, 1 } }, false);
  bench_mul ("(16,96,112,112)x(16,96,112,112)", (graft_shape) { 4, { 16, 96, 112, 112 } },
             (graft_shape) { 4, { 16, 96, 112, 112 } }, false);
  bench_mul ("(16,24,56,56)+(16,24,56,56)", (graft_shape) { 4, { 16, 24, 56, 56 } },
             (graft_shape) { 4, { 16, 24, 56, 56 } }, true);
  return 0;
}
