/* test-engine-softmax.c: Softmax, softmax cross-entropy (against PyTorch), dropout and
 * its counter-based generator. */
#include "engine/ops.h"
#include "engine/parallel.h"
#include "gradcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  size_t rows, cols;
} shape2;

/* Odd sizes, a single column (softmax is then 1), and one large enough for the
 * parallel path. */
static const shape2 shapes[] = {
  { 1, 1 }, { 3, 7 }, { 13, 1 }, { 7, 13 }, { 5, 1000 }, { 512, 1001 },
};

/* Random data rounded to float, in both precisions. */
static void
fill_pair (double *d, float *f, size_t count, uint64_t seed, double lo, double hi)
{
  test_fill_uniform (d, count, seed, lo, hi);
  test_to_float (d, f, count);
  test_to_double (f, d, count);
}

/* ------------------------------------------------------------------------ */
/* Softmax                                                                    */

static void
test_softmax_forward (void)
{
  for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      size_t count = shapes[s].rows * shapes[s].cols;
      double *x = test_doubles (count), *want = test_doubles (count);
      float *xf = test_floats (count), *y = test_floats (count);

      fill_pair (x, xf, count, 10 + s, -5, 5);
      graft_softmax_forward (shapes[s].rows, shapes[s].cols, xf, y);
      graft_softmax_forward_reference (shapes[s].rows, shapes[s].cols, x, want);
      test_assert_close ("softmax y", y, want, count, 1e-7, 1e-5);
      g_free (x); g_free (want); g_free (xf); g_free (y);
    }
}

/* Logits around 1e4 (and -1e4) overflow a naive exp; the row max keeps them finite. */
static void
test_softmax_large (void)
{
  float x[] = { 1e4f, 1e4f - 1, -1e4f, 1e4f - 2, -1e4f, -1e4f + 3, -1e4f, -1e4f };
  double xd[8], want[8];
  float y[8];

  test_to_double (x, xd, 8);
  graft_softmax_forward (2, 4, x, y);
  graft_softmax_forward_reference (2, 4, xd, want);
  for (int i = 0; i < 8; i++)
    g_assert_true (isfinite (y[i]));
  test_assert_close ("softmax large y", y, want, 8, 1e-7, 1e-5);
  /* Row 1: exp(3) / (exp(3) + 3). */
  g_assert_cmpfloat_with_epsilon (y[5], exp (3.0) / (exp (3.0) + 3), 1e-6);
}

typedef struct {
  size_t rows, cols;
  double *x, *y, *r;
} softmax_ctx;

static double
softmax_loss (void *data)
{
  softmax_ctx *ctx = data;
  graft_softmax_forward_reference (ctx->rows, ctx->cols, ctx->x, ctx->y);
  return test_dot (ctx->y, ctx->r, ctx->rows * ctx->cols);
}

static void
test_softmax_gradient (void)
{
  static const shape2 small[] = { { 1, 1 }, { 3, 7 }, { 2, 13 }, { 4, 2 } };
  for (size_t s = 0; s < G_N_ELEMENTS (small); s++)
    {
      size_t count = small[s].rows * small[s].cols;
      softmax_ctx ctx = { small[s].rows, small[s].cols, test_doubles (count),
                          test_doubles (count), test_doubles (count) };
      double *dx = test_doubles (count);

      test_fill_uniform (ctx.x, count, 20 + s, -3, 3);
      test_fill_uniform (ctx.r, count, 30 + s, -1, 1);
      graft_softmax_forward_reference (ctx.rows, ctx.cols, ctx.x, ctx.y);
      graft_softmax_backward_reference (ctx.rows, ctx.cols, ctx.y, ctx.r, dx);
      test_check_gradient ("softmax dx", ctx.x, count, dx, softmax_loss, &ctx, 1e-6, 1e-6);
      g_free (ctx.x); g_free (ctx.y); g_free (ctx.r); g_free (dx);
    }
}

/* Fast backward against the reference, on zeroed and on pre-filled dx (accumulation);
 * NULL dx is accepted. */
static void
test_softmax_backward (void)
{
  for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      size_t rows = shapes[s].rows, cols = shapes[s].cols, count = rows * cols;
      double *x = test_doubles (count), *y = test_doubles (count), *dy = test_doubles (count);
      double *want = test_doubles (count), *prefill = test_doubles (count);
      float *yf = test_floats (count), *dyf = test_floats (count), *dx = test_floats (count);

      test_fill_uniform (x, count, 40 + s, -4, 4);
      graft_softmax_forward_reference (rows, cols, x, y);
      test_to_float (y, yf, count);
      test_to_double (yf, y, count);
      fill_pair (dy, dyf, count, 50 + s, -1, 1);

      graft_softmax_backward_reference (rows, cols, y, dy, want);
      graft_softmax_backward (rows, cols, yf, dyf, dx);
      test_assert_close ("softmax fast dx", dx, want, count, 1e-6, 1e-5);

      /* Accumulation, in the fast path and in the reference. */
      fill_pair (prefill, dx, count, 60 + s, -2, 2);
      memset (want, 0, count * sizeof (double));
      graft_softmax_backward_reference (rows, cols, y, dy, want);
      for (size_t i = 0; i < count; i++)
        want[i] += prefill[i];
      graft_softmax_backward (rows, cols, yf, dyf, dx);
      test_assert_close ("softmax accumulated dx", dx, want, count, 1e-6, 1e-5);
      graft_softmax_backward_reference (rows, cols, y, dy, prefill);
      test_assert_close_double ("softmax reference accumulated dx", prefill, want, count, 1e-12, 1e-12);

      graft_softmax_backward (rows, cols, yf, dyf, NULL);
      graft_softmax_backward_reference (rows, cols, y, dy, NULL);

      g_free (x); g_free (y); g_free (dy); g_free (want); g_free (prefill);
      g_free (yf); g_free (dyf); g_free (dx);
    }
}

/* ------------------------------------------------------------------------ */
/* Cross-entropy                                                              */

/* PyTorch's values, regenerated by:
 * /usr/bin/python3 -c 'import torch; L=torch.tensor([[1.0,-0.5,2.0,0.25],[0.0,3.0,-1.0,0.5],[-2.0,1.5,0.75,-0.25]],dtype=torch.float64,requires_grad=True); t=torch.tensor([2,0,3]); w=torch.tensor([0.5,2.0,1.0,1.5],dtype=torch.float64); [(setattr(L,"grad",None), l:=torch.nn.CrossEntropyLoss(**kw)(L,t), l.backward(), print(repr(l.item()), L.grad.flatten().tolist())) for kw in [dict(), dict(weight=w), dict(label_smoothing=0.1), dict(weight=w,label_smoothing=0.1)]]; B=torch.tensor([[1e4,-1e4,0.0],[-1e4,1e4,9999.0]],dtype=torch.float64,requires_grad=True); l=torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0,2.0,0.5],dtype=torch.float64),label_smoothing=0.2)(B,torch.tensor([0,2])); l.backward(); print(repr(l.item()), B.grad.flatten().tolist())'
 */
static const float torch_logits[] = { 1.0f, -0.5f, 2.0f, 0.25f, 0.0f, 3.0f, -1.0f, 0.5f, -2.0f, 1.5f, 0.75f, -0.25f };
static const int32_t torch_labels[] = { 2, 0, 3 };
static const float torch_weights[] = { 0.5f, 2.0f, 1.0f, 1.5f };
static const struct {
  bool weighted;
  float smoothing;
  double loss;
  double grad[12];
} torch_cases[] = {
  { false, 0.0f, 1.9637559556063489,
    { 0.07552108249443207, 0.016851031231565408, -0.1280457471231621, 0.03567363339716467,
      -0.31890465410897123, 0.28980776931375607, 0.005308014449900333, 0.02378887034531484,
      0.0060046334313135505, 0.19884614992422173, 0.0939282703655276, -0.2987790537210629 } },
  { true, 0.0f, 1.8182036937723307,
    { 0.07552108249443207, 0.016851031231565408, -0.1280457471231621, 0.03567363339716467,
      -0.15945232705448562, 0.14490388465687803, 0.0026540072249501665, 0.01189443517265742,
      0.009006950146970326, 0.2982692248863326, 0.1408924055482914, -0.4481685805815943 } },
  { false, 0.1f, 1.9783392889396825,
    { 0.06718774916109874, 0.008517697898232077, -0.10304574712316211, 0.027340300063831344,
      -0.2939046541089712, 0.2814744359804228, -0.0030253188834329986, 0.015455537011981513,
      -0.002328699902019782, 0.19051281659088842, 0.08559493703219428, -0.2737790537210629 } },
  { true, 0.1f, 1.8714361521792244,
    { 0.0732424428901262, 0.0006056403456878773, -0.09791355746790785, 0.02406547423209379,
      -0.14587017611265846, 0.14997280068874308, -0.005281225024640642, 0.0011786004485560336,
      0.004690167644520821, 0.27663140447156037, 0.1302108654558199, -0.41153243757190106 } },
};

static void
test_cross_entropy_pytorch (void)
{
  for (size_t c = 0; c < G_N_ELEMENTS (torch_cases); c++)
    {
      /* torch's smoothing 0.1 is the double 0.1, ours the float: compare the reference
       * at a tolerance that covers the 1.5e-9 difference. */
      graft_cross_entropy_params p = { .n = 3, .classes = 4,
                                       .label_smoothing = torch_cases[c].smoothing,
                                       .class_weights = torch_cases[c].weighted ? torch_weights : NULL };
      double logits[12], dlogits_ref[12] = { 0 }, loss_ref;
      float probs[12], dlogits[12] = { 0 }, loss;

      test_to_double (torch_logits, logits, 12);
      loss_ref = graft_cross_entropy_forward_reference (&p, logits, torch_labels);
      test_assert_close_double ("torch reference loss", &loss_ref, &torch_cases[c].loss, 1, 1e-8, 1e-8);
      graft_cross_entropy_backward_reference (&p, logits, torch_labels, 1.0, dlogits_ref);
      test_assert_close_double ("torch reference dlogits", dlogits_ref, torch_cases[c].grad, 12, 1e-8, 1e-8);

      loss = graft_cross_entropy_forward (&p, torch_logits, torch_labels, probs);
      test_assert_close ("torch loss", &loss, &torch_cases[c].loss, 1, 1e-6, 1e-6);
      graft_cross_entropy_backward (&p, probs, torch_labels, 1.0f, dlogits);
      test_assert_close ("torch dlogits", dlogits, torch_cases[c].grad, 12, 1e-6, 1e-6);
    }
}

/* Logits of +-1e4: no overflow, and the smoothing term's -log p of about 2e4 is exact
 * (it does not go through probabilities that underflow to 0). */
static void
test_cross_entropy_large (void)
{
  static const float logits[] = { 1e4f, -1e4f, 0.0f, -1e4f, 1e4f, 9999.0f };
  static const int32_t labels[] = { 0, 2 };
  static const float weights[] = { 1.0f, 2.0f, 0.5f };
  static const double torch_loss = 2889.310043823619;
  static const double torch_grad[] = {
    0.11111111111111116, -0.08888888888888889, -0.022222222222222223,
    -0.044444444444444446, 0.21978028875489092, -0.1753358443104465,
  };
  /* Smoothing 0.2 as a float differs from torch's double 0.2 by 3e-9 relative. */
  graft_cross_entropy_params p = { .n = 2, .classes = 3, .label_smoothing = 0.2f,
                                   .class_weights = weights };
  double logits_d[6], grad_ref[6] = { 0 }, loss_ref;
  float probs[6], grad[6] = { 0 }, loss;

  test_to_double (logits, logits_d, 6);
  loss_ref = graft_cross_entropy_forward_reference (&p, logits_d, labels);
  test_assert_close_double ("large reference loss", &loss_ref, &torch_loss, 1, 0, 1e-7);
  graft_cross_entropy_backward_reference (&p, logits_d, labels, 1.0, grad_ref);
  test_assert_close_double ("large reference dlogits", grad_ref, torch_grad, 6, 1e-8, 1e-7);

  loss = graft_cross_entropy_forward (&p, logits, labels, probs);
  g_assert_true (isfinite (loss));
  test_assert_close ("large loss", &loss, &torch_loss, 1, 0, 1e-6);
  for (int i = 0; i < 6; i++)
    g_assert_true (isfinite (probs[i]));
  graft_cross_entropy_backward (&p, probs, labels, 1.0f, grad);
  test_assert_close ("large dlogits", grad, torch_grad, 6, 1e-6, 1e-6);
}

typedef struct {
  int n, classes;
  bool weighted;
  float smoothing;
} ce_shape;

static const ce_shape ce_shapes[] = {
  { 1, 1, false, 0.0f }, { 1, 1, true, 0.3f }, { 3, 7, false, 0.0f }, { 3, 7, true, 0.1f },
  { 13, 2, true, 0.0f }, { 7, 13, false, 0.25f }, { 64, 1000, true, 0.1f }, { 256, 257, false, 0.0f },
};

/* One random cross-entropy case. */
typedef struct {
  graft_cross_entropy_params p;
  size_t count;
  double *logits;
  float *logitsf, *weights;
  int32_t *labels;
  double dloss;
} ce_case;

static void
ce_init (ce_case *t, const ce_shape *s, uint64_t seed)
{
  uint64_t state = seed;
  t->count = (size_t) s->n * s->classes;
  t->logits = test_doubles (t->count);
  t->logitsf = test_floats (t->count);
  t->weights = test_floats (s->classes);
  t->labels = g_new0 (int32_t, s->n);
  fill_pair (t->logits, t->logitsf, t->count, seed, -3, 3);
  test_fill_uniform_float (t->weights, s->classes, seed + 1, 0.25f, 2.0f);
  for (int i = 0; i < s->n; i++)
    t->labels[i] = test_random_int (&state, 0, s->classes - 1);
  t->p = (graft_cross_entropy_params) { .n = s->n, .classes = s->classes,
                                        .label_smoothing = s->smoothing,
                                        .class_weights = s->weighted ? t->weights : NULL };
  t->dloss = 1.75;
}

static void
ce_clear (ce_case *t)
{
  g_free (t->logits); g_free (t->logitsf); g_free (t->weights); g_free (t->labels);
}

static void
test_cross_entropy_forward (void)
{
  for (size_t s = 0; s < G_N_ELEMENTS (ce_shapes); s++)
    {
      ce_case t;
      float *probs, loss;
      double *want_probs, want_loss;

      ce_init (&t, &ce_shapes[s], 100 + s);
      probs = test_floats (t.count);
      want_probs = test_doubles (t.count);
      loss = graft_cross_entropy_forward (&t.p, t.logitsf, t.labels, probs);
      want_loss = graft_cross_entropy_forward_reference (&t.p, t.logits, t.labels);
      test_assert_close ("cross-entropy loss", &loss, &want_loss, 1, 1e-6, 1e-6);
      graft_softmax_forward_reference (t.p.n, t.p.classes, t.logits, want_probs);
      test_assert_close ("cross-entropy probs", probs, want_probs, t.count, 1e-7, 1e-5);
      g_free (probs);
      g_free (want_probs);
      ce_clear (&t);
    }
}

typedef struct {
  ce_case *t;
} ce_ctx;

static double
ce_loss (void *data)
{
  ce_case *t = ((ce_ctx *) data)->t;
  return t->dloss * graft_cross_entropy_forward_reference (&t->p, t->logits, t->labels);
}

static void
test_cross_entropy_gradient (void)
{
  for (size_t s = 0; s < 6; s++)  /* the small shapes */
    {
      ce_case t;
      ce_ctx ctx = { &t };
      double *grad;

      ce_init (&t, &ce_shapes[s], 200 + s);
      grad = test_doubles (t.count);
      graft_cross_entropy_backward_reference (&t.p, t.logits, t.labels, t.dloss, grad);
      test_check_gradient ("cross-entropy dlogits", t.logits, t.count, grad, ce_loss, &ctx, 1e-6, 1e-6);
      g_free (grad);
      ce_clear (&t);
    }
}

/* Fast backward against the reference, from zero and accumulating; NULL accepted. */
static void
test_cross_entropy_backward (void)
{
  for (size_t s = 0; s < G_N_ELEMENTS (ce_shapes); s++)
    {
      ce_case t;
      float *probs, *grad;
      double *want, *prefill;

      ce_init (&t, &ce_shapes[s], 300 + s);
      probs = test_floats (t.count);
      grad = test_floats (t.count);
      want = test_doubles (t.count);
      prefill = test_doubles (t.count);
      graft_cross_entropy_forward (&t.p, t.logitsf, t.labels, probs);
      graft_cross_entropy_backward (&t.p, probs, t.labels, (float) t.dloss, grad);
      graft_cross_entropy_backward_reference (&t.p, t.logits, t.labels, t.dloss, want);
      test_assert_close ("cross-entropy fast dlogits", grad, want, t.count, 1e-7, 1e-5);

      fill_pair (prefill, grad, t.count, 400 + s, -1, 1);
      for (size_t i = 0; i < t.count; i++)
        want[i] += prefill[i];
      graft_cross_entropy_backward (&t.p, probs, t.labels, (float) t.dloss, grad);
      test_assert_close ("cross-entropy accumulated dlogits", grad, want, t.count, 1e-7, 1e-5);
      graft_cross_entropy_backward_reference (&t.p, t.logits, t.labels, t.dloss, prefill);
      test_assert_close_double ("cross-entropy reference accumulated", prefill, want, t.count, 1e-12, 1e-12);

      graft_cross_entropy_backward (&t.p, probs, t.labels, (float) t.dloss, NULL);
      graft_cross_entropy_backward_reference (&t.p, t.logits, t.labels, t.dloss, NULL);
      g_free (probs); g_free (grad); g_free (want); g_free (prefill);
      ce_clear (&t);
    }
}

/* A label out of 0..K-1 (PyTorch's ignore_index -100 too) gives a NAN loss without
 * reading out of bounds or writing probs, and a NAN gradient. */
static void
test_cross_entropy_bad_label (void)
{
  static const int32_t bad[] = { -1, 4, -100, INT32_MAX, INT32_MIN };
  for (size_t b = 0; b < G_N_ELEMENTS (bad); b++)
    {
      graft_cross_entropy_params p = { .n = 3, .classes = 4, .label_smoothing = 0.1f,
                                       .class_weights = torch_weights };
      /* Allocated to size, so that ASan catches any read past the weights. */
      float *weights = g_memdup2 (torch_weights, sizeof torch_weights);
      int32_t labels[] = { 1, bad[b], 0 };
      double logits_d[12], grad_d[12] = { 0 };
      float probs[12], grad[12] = { 0 }, loss;

      p.class_weights = weights;
      for (int i = 0; i < 12; i++)
        probs[i] = 42.0f;
      loss = graft_cross_entropy_forward (&p, torch_logits, labels, probs);
      g_assert_true (isnan (loss));
      for (int i = 0; i < 12; i++)
        g_assert_cmpfloat (probs[i], ==, 42.0f);
      graft_cross_entropy_backward (&p, probs, labels, 1.0f, grad);
      for (int i = 0; i < 12; i++)
        g_assert_true (isnan (grad[i]));

      test_to_double (torch_logits, logits_d, 12);
      g_assert_true (isnan (graft_cross_entropy_forward_reference (&p, logits_d, labels)));
      graft_cross_entropy_backward_reference (&p, logits_d, labels, 1.0, grad_d);
      for (int i = 0; i < 12; i++)
        g_assert_true (isnan (grad_d[i]));
      g_free (weights);
    }
}

/* ------------------------------------------------------------------------ */
/* Dropout and the generator                                                  */

#define MANY 1000000

static void
test_random_uniform (void)
{
  double sum = 0, squares = 0;
  int differ = 0, low = 0;
  for (uint64_t i = 0; i < MANY; i++)
    {
      float u = graft_random_uniform (1234, i);
      g_assert_cmpfloat (u, >=, 0.0f);
      g_assert_cmpfloat (u, <, 1.0f);
      sum += u;
      squares += (double) u * u;
      low += u < 0.1f;
      differ += u != graft_random_uniform (1235, i);
    }
  /* Mean 1/2 with standard error sqrt(1/12 / 1e6) = 2.9e-4: allow 5 sigma. */
  g_assert_cmpfloat (fabs (sum / MANY - 0.5), <, 5 * sqrt (1.0 / 12 / MANY));
  /* Variance 1/12. */
  g_assert_cmpfloat (fabs (squares / MANY - sum * sum / MANY / MANY - 1.0 / 12), <, 1e-3);
  /* A decile holds a tenth: binomial sigma 300. */
  g_assert_cmpint (abs (low - MANY / 10), <, 5 * 300);
  /* Neighbouring seeds give unrelated values (a match has probability 2^-24). */
  g_assert_cmpint (differ, >, MANY - 10);
  /* A pure function of (seed, index). */
  g_assert_cmpfloat (graft_random_uniform (7, 99), ==, graft_random_uniform (7, 99));
}

static void
test_dropout_mask (void)
{
  const float ratio = 0.3f;
  const size_t count = MANY;
  float *x = test_floats (count), *y = test_floats (count), *y2 = test_floats (count);
  uint8_t *mask = g_new0 (uint8_t, count), *mask2 = g_new0 (uint8_t, count);
  size_t kept = 0, differ = 0;
  double sum = 0, sigma;
  int threads = graft_get_num_threads ();

  for (size_t i = 0; i < count; i++)
    x[i] = 1.0f;
  graft_dropout_forward (ratio, 42, count, x, y, mask);
  for (size_t i = 0; i < count; i++)
    {
      /* The mask is graft_random_uniform's, and y = x * mask / (1 - ratio). */
      g_assert_cmpint (mask[i], ==, graft_random_uniform (42, i) >= ratio);
      g_assert_cmpfloat (y[i], ==, mask[i] ? x[i] / (1 - ratio) : 0.0f);
      kept += mask[i];
      sum += y[i];
    }
  /* Kept fraction within 3 sigma of 1 - ratio. */
  sigma = sqrt (ratio * (1 - ratio) / count);
  g_assert_cmpfloat (fabs ((double) kept / count - (1 - ratio)), <, 3 * sigma);
  /* The mean is preserved: each y is 1/(1-ratio) with probability 1-ratio; the
   * standard error is sqrt(ratio / (1 - ratio) / count). */
  g_assert_cmpfloat (fabs (sum / count - 1), <, 3 * sqrt (ratio / (1 - ratio) / count));

  /* Same seed, same mask, whatever the thread count. */
  graft_set_num_threads (1);
  graft_dropout_forward (ratio, 42, count, x, y2, mask2);
  graft_set_num_threads (threads);
  g_assert_cmpmem (mask, count, mask2, count);
  g_assert_cmpmem (y, count * sizeof (float), y2, count * sizeof (float));

  /* Another seed, another mask: two independent masks disagree on 2 r (1 - r) = 42%. */
  graft_dropout_forward (ratio, 43, count, x, y2, mask2);
  for (size_t i = 0; i < count; i++)
    differ += mask[i] != mask2[i];
  g_assert_cmpfloat (fabs ((double) differ / count - 2 * ratio * (1 - ratio)), <, 0.01);

  g_free (x); g_free (y); g_free (y2); g_free (mask); g_free (mask2);
}

static void
test_dropout_backward (void)
{
  const float ratio = 0.5f;
  const size_t count = 1001;
  float *x = test_floats (count), *y = test_floats (count), *dy = test_floats (count);
  float *dx = test_floats (count);
  double *want = test_doubles (count);
  uint8_t *mask = g_new0 (uint8_t, count);

  test_fill_uniform_float (x, count, 1, -2, 2);
  test_fill_uniform_float (dy, count, 2, -1, 1);
  test_fill_uniform_float (dx, count, 3, -1, 1);
  graft_dropout_forward (ratio, 9, count, x, y, mask);
  /* Accumulates dy * mask / (1 - ratio) onto what dx held. */
  for (size_t i = 0; i < count; i++)
    want[i] = dx[i] + (mask[i] ? dy[i] / (1.0 - ratio) : 0.0);
  graft_dropout_backward (ratio, count, mask, dy, dx);
  test_assert_close ("dropout dx", dx, want, count, 0, 1e-7);
  graft_dropout_backward (ratio, count, mask, dy, NULL);

  /* In place: y may be x. */
  memcpy (dx, x, count * sizeof (float));
  graft_dropout_forward (ratio, 9, count, dx, dx, mask);
  g_assert_cmpmem (dx, count * sizeof (float), y, count * sizeof (float));

  g_free (x); g_free (y); g_free (dy); g_free (dx); g_free (want); g_free (mask);
}

/* Ratio 0 keeps everything unchanged, forward and backward. */
static void
test_dropout_identity (void)
{
  const size_t count = 100003;
  float *x = test_floats (count), *y = test_floats (count), *dx = test_floats (count);
  uint8_t *mask = g_new0 (uint8_t, count);

  test_fill_uniform_float (x, count, 5, -3, 3);
  graft_dropout_forward (0.0f, 77, count, x, y, mask);
  g_assert_cmpmem (x, count * sizeof (float), y, count * sizeof (float));
  for (size_t i = 0; i < count; i++)
    g_assert_cmpint (mask[i], ==, 1);
  graft_dropout_backward (0.0f, count, mask, x, dx);
  g_assert_cmpmem (x, count * sizeof (float), dx, count * sizeof (float));
  g_free (x); g_free (y); g_free (dx); g_free (mask);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/softmax/forward", test_softmax_forward);
  g_test_add_func ("/engine/softmax/large-logits", test_softmax_large);
  g_test_add_func ("/engine/softmax/gradient", test_softmax_gradient);
  g_test_add_func ("/engine/softmax/backward", test_softmax_backward);
  g_test_add_func ("/engine/softmax/cross-entropy/pytorch", test_cross_entropy_pytorch);
  g_test_add_func ("/engine/softmax/cross-entropy/large-logits", test_cross_entropy_large);
  g_test_add_func ("/engine/softmax/cross-entropy/forward", test_cross_entropy_forward);
  g_test_add_func ("/engine/softmax/cross-entropy/gradient", test_cross_entropy_gradient);
  g_test_add_func ("/engine/softmax/cross-entropy/backward", test_cross_entropy_backward);
  g_test_add_func ("/engine/softmax/cross-entropy/bad-label", test_cross_entropy_bad_label);
  g_test_add_func ("/engine/softmax/dropout/random-uniform", test_random_uniform);
  g_test_add_func ("/engine/softmax/dropout/mask", test_dropout_mask);
  g_test_add_func ("/engine/softmax/dropout/backward", test_dropout_backward);
  g_test_add_func ("/engine/softmax/dropout/identity", test_dropout_identity);
  return g_test_run ();
}
