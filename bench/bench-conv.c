/* bench-conv.c: Conv2d speed on every distinct conv shape of MobileNetV2 and ResNet-18
 * (torchvision, 224x224 input), against what this machine can do in the same run:
 * its SGEMM rate (dense convs) and its memcpy bandwidth (depthwise convs).
 *
 *   bench-conv [--threads N] [--batch N] [--quick] [--filter TEXT]
 *
 * --filter runs only the layers whose net, name or shape contains TEXT.
 *
 * Times are medians of repeats after a warm-up. Backward computes dx, dw and dbias.
 * Bandwidth figures count bytes read plus bytes written: memcpy of B bytes moves 2B;
 * a depthwise forward moves x + y + w, its backward x + dy + w + dx + dw (once each). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "engine/ops.h"
#include "engine/parallel.h"

typedef struct {
  const char *net, *name;
  int c, h, m, k, stride, groups;   /* square input and kernel, pad k / 2 */
} layer;

/* Every conv of the two networks, in order; repeats are folded into one row. */
static const layer layers[] = {
  /* MobileNetV2: stem, then inverted residuals (expand 1x1, depthwise 3x3, project 1x1). */
  { "mnv2", "stem 3x3 s2", 3, 224, 32, 3, 2, 1 },
  { "mnv2", "b1 dw s1", 32, 112, 32, 3, 1, 32 },
  { "mnv2", "b1 project", 32, 112, 16, 1, 1, 1 },
  { "mnv2", "b2 expand", 16, 112, 96, 1, 1, 1 },
  { "mnv2", "b2 dw s2", 96, 112, 96, 3, 2, 96 },
  { "mnv2", "b2 project", 96, 56, 24, 1, 1, 1 },
  { "mnv2", "b3 expand", 24, 56, 144, 1, 1, 1 },
  { "mnv2", "b3 dw s1", 144, 56, 144, 3, 1, 144 },
  { "mnv2", "b3 project", 144, 56, 24, 1, 1, 1 },
  { "mnv2", "b4 expand", 24, 56, 144, 1, 1, 1 },
  { "mnv2", "b4 dw s2", 144, 56, 144, 3, 2, 144 },
  { "mnv2", "b4 project", 144, 28, 32, 1, 1, 1 },
  { "mnv2", "b5 expand", 32, 28, 192, 1, 1, 1 },
  { "mnv2", "b5 dw s1", 192, 28, 192, 3, 1, 192 },
  { "mnv2", "b5 project", 192, 28, 32, 1, 1, 1 },
  { "mnv2", "b6 expand", 32, 28, 192, 1, 1, 1 },
  { "mnv2", "b6 dw s1", 192, 28, 192, 3, 1, 192 },
  { "mnv2", "b6 project", 192, 28, 32, 1, 1, 1 },
  { "mnv2", "b7 expand", 32, 28, 192, 1, 1, 1 },
  { "mnv2", "b7 dw s2", 192, 28, 192, 3, 2, 192 },
  { "mnv2", "b7 project", 192, 14, 64, 1, 1, 1 },
  { "mnv2", "b8 expand", 64, 14, 384, 1, 1, 1 },
  { "mnv2", "b8 dw s1", 384, 14, 384, 3, 1, 384 },
  { "mnv2", "b8 project", 384, 14, 64, 1, 1, 1 },
  { "mnv2", "b9 expand", 64, 14, 384, 1, 1, 1 },
  { "mnv2", "b9 dw s1", 384, 14, 384, 3, 1, 384 },
  { "mnv2", "b9 project", 384, 14, 64, 1, 1, 1 },
  { "mnv2", "b10 expand", 64, 14, 384, 1, 1, 1 },
  { "mnv2", "b10 dw s1", 384, 14, 384, 3, 1, 384 },
  { "mnv2", "b10 project", 384, 14, 64, 1, 1, 1 },
  { "mnv2", "b11 expand", 64, 14, 384, 1, 1, 1 },
  { "mnv2", "b11 dw s1", 384, 14, 384, 3, 1, 384 },
  { "mnv2", "b11 project", 384, 14, 96, 1, 1, 1 },
  { "mnv2", "b12 expand", 96, 14, 576, 1, 1, 1 },
  { "mnv2", "b12 dw s1", 576, 14, 576, 3, 1, 576 },
  { "mnv2", "b12 project", 576, 14, 96, 1, 1, 1 },
  { "mnv2", "b13 expand", 96, 14, 576, 1, 1, 1 },
  { "mnv2", "b13 dw s1", 576, 14, 576, 3, 1, 576 },
  { "mnv2", "b13 project", 576, 14, 96, 1, 1, 1 },
  { "mnv2", "b14 expand", 96, 14, 576, 1, 1, 1 },
  { "mnv2", "b14 dw s2", 576, 14, 576, 3, 2, 576 },
  { "mnv2", "b14 project", 576, 7, 160, 1, 1, 1 },
  { "mnv2", "b15 expand", 160, 7, 960, 1, 1, 1 },
  { "mnv2", "b15 dw s1", 960, 7, 960, 3, 1, 960 },
  { "mnv2", "b15 project", 960, 7, 160, 1, 1, 1 },
  { "mnv2", "b16 expand", 160, 7, 960, 1, 1, 1 },
  { "mnv2", "b16 dw s1", 960, 7, 960, 3, 1, 960 },
  { "mnv2", "b16 project", 960, 7, 160, 1, 1, 1 },
  { "mnv2", "b17 expand", 160, 7, 960, 1, 1, 1 },
  { "mnv2", "b17 dw s1", 960, 7, 960, 3, 1, 960 },
  { "mnv2", "b17 project", 960, 7, 320, 1, 1, 1 },
  { "mnv2", "head 1x1", 320, 7, 1280, 1, 1, 1 },
  /* ResNet-18. */
  { "r18", "stem 7x7 s2", 3, 224, 64, 7, 2, 1 },
  { "r18", "l1 3x3", 64, 56, 64, 3, 1, 1 },
  { "r18", "l1 3x3", 64, 56, 64, 3, 1, 1 },
  { "r18", "l1 3x3", 64, 56, 64, 3, 1, 1 },
  { "r18", "l1 3x3", 64, 56, 64, 3, 1, 1 },
  { "r18", "l2 3x3 s2", 64, 56, 128, 3, 2, 1 },
  { "r18", "l2 3x3", 128, 28, 128, 3, 1, 1 },
  { "r18", "l2 down 1x1 s2", 64, 56, 128, 1, 2, 1 },
  { "r18", "l2 3x3", 128, 28, 128, 3, 1, 1 },
  { "r18", "l2 3x3", 128, 28, 128, 3, 1, 1 },
  { "r18", "l3 3x3 s2", 128, 28, 256, 3, 2, 1 },
  { "r18", "l3 3x3", 256, 14, 256, 3, 1, 1 },
  { "r18", "l3 down 1x1 s2", 128, 28, 256, 1, 2, 1 },
  { "r18", "l3 3x3", 256, 14, 256, 3, 1, 1 },
  { "r18", "l3 3x3", 256, 14, 256, 3, 1, 1 },
  { "r18", "l4 3x3 s2", 256, 14, 512, 3, 2, 1 },
  { "r18", "l4 3x3", 512, 7, 512, 3, 1, 1 },
  { "r18", "l4 down 1x1 s2", 256, 14, 512, 1, 2, 1 },
  { "r18", "l4 3x3", 512, 7, 512, 3, 1, 1 },
  { "r18", "l4 3x3", 512, 7, 512, 3, 1, 1 },
};

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median (double *t, int count)
{
  qsort (t, count, sizeof *t, compare_doubles);
  return count % 2 ? t[count / 2] : 0.5 * (t[count / 2 - 1] + t[count / 2]);
}

static void
fill (float *x, size_t count, unsigned seed)
{
  uint32_t s = seed * 2654435761u + 1;
  for (size_t i = 0; i < count; i++)
    {
      s = s * 1664525u + 1013904223u;
      x[i] = (float) ((s >> 8) * (1.0 / 16777216.0) - 0.5);
    }
}

static float *
alloc_filled (size_t count, unsigned seed)
{
  float *x = graft_floats_alloc (count);
  if (x == NULL)
    {
      fprintf (stderr, "bench-conv: out of memory (%zu floats)\n", count);
      exit (1);
    }
  fill (x, count, seed);
  return x;
}

/* Reference problems, allocated once: an n x n x n SGEMM and a memcpy of count floats. */
typedef struct {
  int n;
  float *a, *b, *c;
} sgemm_problem;

typedef struct {
  size_t count;
  float *src, *dst;
} copy_problem;

/* Best SGEMM rate in GFLOP/s over repeats runs, after one warm-up run. */
static double
sgemm_rate (const sgemm_problem *s, int repeats)
{
  double best = 1e30;
  int n = s->n;

  for (int r = 0; r <= repeats; r++)
    {
      double t0 = now ();
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, s->a, n, s->b, n,
                   0.0f, s->c, n);
      double t = now () - t0;
      if ((r > 0 || repeats == 0) && t < best)
        best = t;
    }
  return 2.0 * n * n * n / best * 1e-9;
}

/* Best memcpy bandwidth in GB/s (read + write bytes), one slice per thread. */
static double
memcpy_rate (const copy_problem *m, int repeats)
{
  double best = 1e30;

  for (int r = 0; r <= repeats; r++)
    {
      double t0 = now ();
#pragma omp parallel
      {
        int threads = omp_get_num_threads (), id = omp_get_thread_num ();
        size_t lo = m->count / threads * id;
        size_t hi = id == threads - 1 ? m->count : m->count / threads * (id + 1);
        memcpy (m->dst + lo, m->src + lo, (hi - lo) * sizeof (float));
      }
      double t = now () - t0;
      if ((r > 0 || repeats == 0) && t < best)
        best = t;
    }
  return 2.0 * (double) m->count * sizeof (float) / best * 1e-9;
}

static bool
same_shape (const layer *a, const layer *b)
{
  return a->c == b->c && a->h == b->h && a->m == b->m && a->k == b->k && a->stride == b->stride
         && a->groups == b->groups;
}

int
main (int argc, char **argv)
{
  int threads = 0, batch = 16, repeats = 7;
  const char *filter = NULL;
  double gemm, bandwidth, totals[2][2] = { { 0 } };

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
        threads = atoi (argv[++i]);
      else if (strcmp (argv[i], "--batch") == 0 && i + 1 < argc)
        batch = atoi (argv[++i]);
      else if (strcmp (argv[i], "--quick") == 0)
        repeats = 3;
      else if (strcmp (argv[i], "--filter") == 0 && i + 1 < argc)
        filter = argv[++i];
      else
        {
          fprintf (stderr, "usage: %s [--threads N] [--batch N] [--quick] [--filter TEXT]\n", argv[0]);
          return 2;
        }
    }
  if (batch < 1)
    batch = 1;
  graft_set_num_threads (threads);
  threads = graft_get_num_threads ();

  sgemm_problem sg = { 1024 };
  copy_problem copy = { (size_t) 64 << 20 };   /* 256 MiB each way */
  sg.a = alloc_filled ((size_t) sg.n * sg.n, 1);
  sg.b = alloc_filled ((size_t) sg.n * sg.n, 2);
  sg.c = alloc_filled ((size_t) sg.n * sg.n, 3);
  copy.src = alloc_filled (copy.count, 4);
  copy.dst = alloc_filled (copy.count, 5);
  gemm = sgemm_rate (&sg, repeats);
  bandwidth = memcpy_rate (&copy, repeats);
  printf ("threads %d, batch %d, %d repeats (median)\n", threads, batch, repeats);
  printf ("SGEMM 1024^3: %.1f GFLOP/s; memcpy: %.1f GB/s (read + write), best of %d\n", gemm, bandwidth,
          repeats);
  printf ("%% is the median over repeats of (conv rate) / (reference rate measured just before):\n"
          "  dense: GFLOP/s of SGEMM's; depthwise: effective GB/s of memcpy's (bytes read + written,\n"
          "  x + y + w forward, x + dy + dx + w + dw backward, once each)\n\n");
  printf ("%-4s %-15s %-28s %3s %8s %8s %8s %8s %6s %6s  %s\n", "net", "layer", "shape (c,h -> m; k s g)",
          "x", "fwd ms", "bwd ms", "fwd GF/s", "bwd GF/s", "fwd %", "bwd %", "reference");

  for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
    {
      const layer *L = &layers[i];
      bool seen = false;
      int count = 0;
      for (size_t j = 0; j < sizeof layers / sizeof layers[0]; j++)
        if (same_shape (L, &layers[j]))
          {
            seen |= j < i;
            count += strcmp (L->net, layers[j].net) == 0;
          }
      if (seen)
        continue;

      graft_conv2d_params p = {
        .n = batch, .c = L->c, .h = L->h, .w = L->h, .m = L->m, .kh = L->k, .kw = L->k,
        .stride_h = L->stride, .stride_w = L->stride, .dilation_h = 1, .dilation_w = 1,
        .pad_top = L->k / 2, .pad_left = L->k / 2, .pad_bottom = L->k / 2, .pad_right = L->k / 2,
        .groups = L->groups,
      };
      graft_error error;
      if (graft_conv2d_setup (&p, &error) != GRAFT_OK)
        {
          fprintf (stderr, "bench-conv: %s: %s\n", L->name, error.message);
          return 1;
        }
      bool depthwise = p.groups == p.c && p.groups > 1;
      char shape[64];
      snprintf (shape, sizeof shape, "%d,%d -> %d; %dx%d s%d%s", p.c, p.h, p.m, p.kh, p.kw,
                p.stride_h, depthwise ? " dw" : "");
      if (filter != NULL && strstr (L->net, filter) == NULL && strstr (L->name, filter) == NULL
          && strstr (shape, filter) == NULL)
        continue;
      size_t nx = (size_t) p.n * p.c * p.h * p.w, ny = (size_t) p.n * p.m * p.oh * p.ow;
      size_t nw = (size_t) p.m * (p.c / p.groups) * p.kh * p.kw;
      float *x = alloc_filled (nx, 10), *w = alloc_filled (nw, 11), *b = alloc_filled (p.m, 12);
      float *y = alloc_filled (ny, 13), *dy = alloc_filled (ny, 14), *dx = alloc_filled (nx, 15);
      float *dw = alloc_filled (nw, 16), *db = alloc_filled (p.m, 17);
      float *scratch = alloc_filled (graft_conv2d_scratch_floats (&p), 18);
      double tf[64], tb[64], rf[64], rb[64], ref[64], fwd, bwd, ref_rate;
      double flops = 2.0 * p.n * p.m * p.oh * p.ow * (double) (p.c / p.groups) * p.kh * p.kw;
      double fbytes = 4.0 * (nx + ny + nw), bbytes = 4.0 * (nx + ny + nx + 2 * nw);

      /* Each repeat measures the reference (SGEMM or memcpy) next to the conv, and
       * compares with that: other load on the machine comes and goes. */
      for (int r = 0; r <= repeats; r++)
        {
          double rate = depthwise ? memcpy_rate (&copy, 0) : sgemm_rate (&sg, 0);
          double t0 = now ();
          graft_conv2d_forward (&p, x, w, b, y, scratch);
          double t1 = now ();
          graft_conv2d_backward (&p, x, w, dy, dx, dw, db, scratch);
          double t2 = now ();
          if (r == 0)
            continue;   /* warm-up */
          tf[r - 1] = t1 - t0;
          tb[r - 1] = t2 - t1;
          ref[r - 1] = rate;
          rf[r - 1] = (depthwise ? fbytes : flops) / tf[r - 1] * 1e-9 / rate;
          rb[r - 1] = (depthwise ? bbytes : 2 * flops) / tb[r - 1] * 1e-9 / rate;
        }
      fwd = median (tf, repeats);
      bwd = median (tb, repeats);
      ref_rate = median (ref, repeats);

      /* What SGEMM itself does on this layer's forward GEMM, as one call over the whole
       * batch (M = m / groups, N = n * oh * ow, K = c / groups * kh * kw): the most an
       * im2col + GEMM conv could do on this shape. */
      double shape_rate = 0;
      if (!depthwise)
        {
          int gm = p.m / p.groups, gk = p.c / p.groups * p.kh * p.kw, gn = p.n * p.oh * p.ow;
          float *a = alloc_filled ((size_t) gm * gk, 20), *bb = alloc_filled ((size_t) gk * gn, 21);
          float *cc = alloc_filled ((size_t) gm * gn, 22);
          double best = 1e30;
          for (int r = 0; r < 3; r++)
            {
              double t0 = now ();
              cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, gm, gn, gk, 1.0f, a, gk, bb, gn,
                           0.0f, cc, gn);
              double t = now () - t0;
              if (t < best)
                best = t;
            }
          shape_rate = 2.0 * gm * gn * (double) gk / best * 1e-9;
          graft_floats_free (a);
          graft_floats_free (bb);
          graft_floats_free (cc);
        }

      printf ("%-4s %-15s %-28s %3d %8.2f %8.2f %8.1f %8.1f %5.0f%% %5.0f%%", L->net, L->name, shape,
              count, fwd * 1e3, bwd * 1e3, flops / fwd * 1e-9, 2 * flops / bwd * 1e-9,
              100 * median (rf, repeats), 100 * median (rb, repeats));
      if (depthwise)
        printf ("  %5.1f %5.1f GB/s of memcpy %.1f\n", fbytes / fwd * 1e-9, bbytes / bwd * 1e-9, ref_rate);
      else
        {
          /* Roofline: what memory traffic (x, w, y once each) allows at memcpy speed. */
          double bound = flops / (fbytes / bandwidth);
          printf ("  of SGEMM %.0f; same-shape SGEMM %.0f GF/s%s\n", ref_rate, shape_rate,
                  bound < ref_rate ? ", memory-bound" : "");
        }
      fflush (stdout);

      /* Network totals count every occurrence, in both networks. */
      for (size_t j = 0; j < sizeof layers / sizeof layers[0]; j++)
        if (same_shape (L, &layers[j]))
          {
            int net = strcmp (layers[j].net, "mnv2") == 0 ? 0 : 1;
            totals[net][0] += fwd;
            totals[net][1] += bwd;
          }

      graft_floats_free (x);
      graft_floats_free (w);
      graft_floats_free (b);
      graft_floats_free (y);
      graft_floats_free (dy);
      graft_floats_free (dx);
      graft_floats_free (dw);
      graft_floats_free (db);
      graft_floats_free (scratch);
    }
  graft_floats_free (sg.a);
  graft_floats_free (sg.b);
  graft_floats_free (sg.c);
  graft_floats_free (copy.src);
  graft_floats_free (copy.dst);
  printf ("\nall convs of one batch: MobileNetV2 forward %.0f ms, backward %.0f ms; "
          "ResNet-18 forward %.0f ms, backward %.0f ms\n",
          totals[0][0] * 1e3, totals[0][1] * 1e3, totals[1][0] * 1e3, totals[1][1] * 1e3);
  return 0;
}
