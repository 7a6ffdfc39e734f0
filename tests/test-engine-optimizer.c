/* Tests of the optimizers: 5 steps of each against torch.optim, decoupled weight
 * decay, clipping against clip_grad_norm_, determinism, and config validation. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "engine/optimizer.h"
#include "engine/parallel.h"
#include "gradcheck.h"

/* The expected values come from PyTorch 1.13 (/usr/bin/python3), with this script:
 *
 * import torch, numpy as np
 * f = lambda x: float(np.float32(x))  # hyperparameters as the C floats
 * p0 = [(i - 3) * 0.25 + 0.1 for i in range(7)]
 * grad = lambda t, i: ((i * 7 + t * 3) % 11 - 5) / 4.0  # step t from 1
 * B = dict(betas=(f(0.9), f(0.999)), eps=f(1e-8))
 * for cls, kw in [(torch.optim.SGD, dict(lr=f(0.1))), (torch.optim.SGD, dict(lr=f(0.1), momentum=f(0.9))),
 *                 (torch.optim.SGD, dict(lr=f(0.1), momentum=f(0.9), nesterov=True)),
 *                 (torch.optim.SGD, dict(lr=f(0.1), momentum=f(0.9), weight_decay=f(0.1))),
 *                 (torch.optim.Adam, dict(lr=f(0.01), **B)), (torch.optim.Adam, dict(lr=f(0.01), weight_decay=f(0.1), **B)),
 *                 (torch.optim.AdamW, dict(lr=f(0.01), weight_decay=f(0.1), **B))]:
 *     p = torch.tensor(p0, requires_grad=True); opt = cls([p], **kw)
 *     for t in range(1, 6):
 *         p.grad = torch.tensor([grad(t, i) for i in range(7)]); opt.step()
 *     print(', '.join('%.9gf' % v for v in p.tolist()))
 * for max_norm in (1.0, 100.0):
 *     a, b = torch.zeros(7, requires_grad=True), torch.zeros(5, requires_grad=True)
 *     a.grad = 3 * torch.tensor([grad(1, i) for i in range(7)]); b.grad = 3 * torch.tensor([grad(2, i) for i in range(5)])
 *     print(torch.nn.utils.clip_grad_norm_([a, b], max_norm).item(), a.grad.tolist(), b.grad.tolist())
 */
#define N 7
#define STEPS 5

static float
initial_param (int i)
{
  return (float) ((i - 3) * 0.25 + 0.1);
}

static float
step_grad (int t, int i)
{
  return (float) (((i * 7 + t * 3) % 11 - 5) / 4.0);
}

typedef struct {
  const char *name;
  graft_optimizer_config config;
  float want[N];
} torch_case;

static const torch_case torch_cases[] = {
  { "sgd", { .kind = GRAFT_OPTIMIZER_SGD, .learning_rate = 0.1f },
    { -0.599999964f, -0.400000036f, -0.200000003f, 0.275000006f, 0.199999988f, 0.675000072f, 0.875f } },
  { "sgd momentum", { .kind = GRAFT_OPTIMIZER_SGD, .learning_rate = 0.1f, .momentum = 0.9f },
    { -0.587220013f, -0.671462536f, -0.327777505f, 0.49138248f, 0.132139996f, 0.750825047f, 1.04748511f } },
  { "sgd nesterov", { .kind = GRAFT_OPTIMIZER_SGD, .learning_rate = 0.1f, .momentum = 0.9f, .nesterov = true },
    { -0.54349798f, -0.644316196f, -0.359999746f, 0.627244234f, 0.00392597541f, 0.810742497f, 1.05273652f } },
  { "sgd momentum weight decay",
    { .kind = GRAFT_OPTIMIZER_SGD, .learning_rate = 0.1f, .momentum = 0.9f, .weight_decay = 0.1f },
    { -0.507242322f, -0.604861975f, -0.299342692f, 0.467398047f, 0.0947785005f, 0.675297737f, 0.922288477f } },
  { "adam",
    { .kind = GRAFT_OPTIMIZER_ADAM, .learning_rate = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .epsilon = 1e-8f },
    { -0.639187217f, -0.416335762f, -0.16993916f, 0.124628581f, 0.337346137f, 0.601246297f, 0.868827939f } },
  { "adam l2",
    { .kind = GRAFT_OPTIMIZER_ADAM, .learning_rate = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .epsilon = 1e-8f,
      .weight_decay = 0.1f },
    { -0.63525784f, -0.414594024f, -0.16923824f, 0.124105334f, 0.335817873f, 0.588574767f, 0.86521697f } },
  { "adamw",
    { .kind = GRAFT_OPTIMIZER_ADAMW, .learning_rate = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .epsilon = 1e-8f,
      .weight_decay = 0.1f },
    { -0.635983586f, -0.414287388f, -0.169123948f, 0.124067307f, 0.335635722f, 0.598265767f, 0.864518344f } },
};

static void
test_torch (void)
{
  for (size_t c = 0; c < G_N_ELEMENTS (torch_cases); c++)
    {
      const torch_case *tc = &torch_cases[c];
      int per_element = graft_optimizer_state_per_element (&tc->config);
      float param[N], grad[N], state[2 * N] = { 0 };
      double want[N];
      graft_error error;

      g_assert_cmpint (graft_optimizer_config_validate (&tc->config, &error), ==, GRAFT_OK);
      g_assert_cmpint (per_element, <=, 2);
      for (int i = 0; i < N; i++)
        param[i] = initial_param (i);
      for (int t = 1; t <= STEPS; t++)
        {
          for (int i = 0; i < N; i++)
            grad[i] = step_grad (t, i);
          graft_optimizer_update (&tc->config, tc->config.learning_rate, t, 1.0f, N, param, grad,
                                  per_element ? state : NULL);
        }
      test_to_double (tc->want, want, N);
      test_assert_close (tc->name, param, want, N, 1e-6, 1e-6);
    }
}

/* With a zero gradient, AdamW still shrinks every parameter by lr * wd * p, and
 * only that; Adam's L2 decay goes through the moments instead. */
static void
test_adamw_decoupled (void)
{
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAMW);
  const float lr = 0.05f;
  float param[N], grad[N] = { 0 }, state[2 * N] = { 0 };
  double want[N];

  config.weight_decay = 0.2f;
  for (int i = 0; i < N; i++)
    want[i] = param[i] = initial_param (i);
  for (int t = 1; t <= STEPS; t++)
    {
      graft_optimizer_update (&config, lr, t, 1.0f, N, param, grad, state);
      for (int i = 0; i < N; i++)
        want[i] -= (double) lr * config.weight_decay * want[i];
      test_assert_close ("adamw with zero gradient", param, want, N, 1e-7, 1e-6);
    }
  for (int i = 0; i < 2 * N; i++)
    g_assert_cmpfloat (state[i], ==, 0.0f);

  /* Adam's L2 term is normalised like a gradient: the first step moves each
   * nonzero parameter by about lr, not by lr * wd * p. */
  config.kind = GRAFT_OPTIMIZER_ADAM;
  memset (state, 0, sizeof state);
  for (int i = 0; i < N; i++)
    param[i] = initial_param (i);
  graft_optimizer_update (&config, lr, 1, 1.0f, N, param, grad, state);
  for (int i = 0; i < N; i++)
    {
      float p0 = initial_param (i);
      g_assert_cmpfloat_with_epsilon (p0 - param[i], copysignf (lr, p0), 1e-6);
    }
}

/* The gradient scale multiplies the gradient before anything else. */
static void
test_grad_scale (void)
{
  for (size_t c = 0; c < G_N_ELEMENTS (torch_cases); c++)
    {
      const torch_case *tc = &torch_cases[c];
      float scaled[N], unscaled[N], grad[N], grad_half[N];
      float state_scaled[2 * N] = { 0 }, state_unscaled[2 * N] = { 0 };
      double want[N];

      for (int i = 0; i < N; i++)
        scaled[i] = unscaled[i] = initial_param (i);
      for (int t = 1; t <= STEPS; t++)
        {
          for (int i = 0; i < N; i++)
            {
              grad[i] = step_grad (t, i);
              grad_half[i] = 0.5f * grad[i];
            }
          graft_optimizer_update (&tc->config, tc->config.learning_rate, t, 0.5f, N, scaled, grad, state_scaled);
          graft_optimizer_update (&tc->config, tc->config.learning_rate, t, 1.0f, N, unscaled, grad_half,
                                  state_unscaled);
        }
      test_to_double (unscaled, want, N);
      test_assert_close (tc->name, scaled, want, N, 0, 0);
    }
}

static void
test_clip (void)
{
  static const float want_a[] = { -0.188144147f, 0.470360398f, 0.0940720737f, -0.282216221f, 0.376288295f, 0.0f,
                                  -0.376288295f };
  static const float want_b[] = { 0.0940720737f, -0.282216221f, 0.376288295f, 0.0f, -0.376288295f };
  const double torch_norm = 7.9726095199584961;
  float a[N], b[5];
  double norm, want[N];
  float scale;

  for (int i = 0; i < N; i++)
    a[i] = 3 * step_grad (1, i);
  for (int i = 0; i < 5; i++)
    b[i] = 3 * step_grad (2, i);
  norm = sqrt (graft_sum_of_squares (N, a) + graft_sum_of_squares (5, b));
  g_assert_cmpfloat_with_epsilon (norm, torch_norm, 1e-6);

  /* max_norm 100 does not clip; neither does max_norm <= 0. */
  g_assert_cmpfloat (graft_clip_scale (norm, 100.0f), ==, 1.0f);
  g_assert_cmpfloat (graft_clip_scale (norm, 0.0f), ==, 1.0f);
  g_assert_cmpfloat (graft_clip_scale (norm, -1.0f), ==, 1.0f);
  g_assert_cmpfloat (graft_clip_scale (0.0, 1.0f), ==, 1.0f);
  g_assert_cmpfloat (graft_clip_scale (1.0, 1.0f), ==, 1.0f);

  scale = graft_clip_scale (norm, 1.0f);
  g_assert_cmpfloat (scale, <, 1.0f);
  for (int i = 0; i < N; i++)
    a[i] *= scale;
  for (int i = 0; i < 5; i++)
    b[i] *= scale;
  test_to_double (want_a, want, N);
  test_assert_close ("clipped a", a, want, N, 1e-7, 1e-6);
  test_to_double (want_b, want, 5);
  test_assert_close ("clipped b", b, want, 5, 1e-7, 1e-6);
}

/* Large tensors: over the threshold of the parallel loops and, for the sum of
 * squares, more than one round of chunks. Results must not depend on the thread
 * count, and an update must not depend on how the tensor is split. */
static void
test_large (void)
{
  const size_t count = 4 * 1024 * 1024 + 12345;
  float *grad = test_floats (count);
  double exact = 0.0, sums[3];
  const int threads[3] = { 1, 2, 3 };
  int saved_threads = graft_get_num_threads ();

  test_fill_uniform_float (grad, count, 7, -1, 1);
  for (size_t i = 0; i < count; i++)
    exact += (double) grad[i] * grad[i];
  for (int t = 0; t < 3; t++)
    {
      graft_set_num_threads (threads[t]);
      sums[t] = graft_sum_of_squares (count, grad);
    }
  g_assert_cmpfloat_with_epsilon (sums[0], exact, 1e-9 * exact);
  g_assert_cmpmem (&sums[0], sizeof (double), &sums[1], sizeof (double));
  g_assert_cmpmem (&sums[0], sizeof (double), &sums[2], sizeof (double));

  for (size_t c = 0; c < G_N_ELEMENTS (torch_cases); c++)
    {
      const graft_optimizer_config *config = &torch_cases[c].config;
      const size_t n = 300007;
      float *params[3], *states[3];

      for (int t = 0; t < 3; t++)
        {
          params[t] = test_floats (n);
          states[t] = test_floats (2 * n);
          test_fill_uniform_float (params[t], n, 11, -1, 1);
        }
      for (int step = 1; step <= 3; step++)
        {
          /* Whole tensor on 1 and on 3 threads; in pieces of 1000 on 2. */
          graft_set_num_threads (1);
          graft_optimizer_update (config, config->learning_rate, step, 0.75f, n, params[0], grad, states[0]);
          graft_set_num_threads (3);
          graft_optimizer_update (config, config->learning_rate, step, 0.75f, n, params[1], grad, states[1]);
          graft_set_num_threads (2);
          for (size_t start = 0; start < n; start += 1000)
            {
              size_t piece = n - start < 1000 ? n - start : 1000;
              float state_piece[2 * 1000];
              int per_element = graft_optimizer_state_per_element (config);
              /* Adam's state is exp_avg for all elements, then exp_avg_sq. */
              for (int s = 0; s < per_element; s++)
                memcpy (state_piece + s * piece, states[2] + s * n + start, piece * sizeof (float));
              graft_optimizer_update (config, config->learning_rate, step, 0.75f, piece, params[2] + start,
                                      grad + start, state_piece);
              for (int s = 0; s < per_element; s++)
                memcpy (states[2] + s * n + start, state_piece + s * piece, piece * sizeof (float));
            }
        }
      g_assert_cmpmem (params[0], n * sizeof (float), params[1], n * sizeof (float));
      g_assert_cmpmem (params[0], n * sizeof (float), params[2], n * sizeof (float));
      g_assert_cmpmem (states[0], 2 * n * sizeof (float), states[1], 2 * n * sizeof (float));
      g_assert_cmpmem (states[0], 2 * n * sizeof (float), states[2], 2 * n * sizeof (float));
      for (int t = 0; t < 3; t++)
        {
          g_free (params[t]);
          g_free (states[t]);
        }
    }
  graft_set_num_threads (saved_threads);
  g_free (grad);
}

static void
test_defaults (void)
{
  graft_optimizer_config sgd = graft_optimizer_config_default (GRAFT_OPTIMIZER_SGD);
  graft_optimizer_config adam = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAM);
  graft_optimizer_config adamw = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAMW);
  graft_error error;

  g_assert_cmpfloat (sgd.learning_rate, ==, 1e-2f);
  g_assert_cmpfloat (sgd.momentum, ==, 0.0f);
  g_assert_false (sgd.nesterov);
  g_assert_cmpfloat (sgd.weight_decay, ==, 0.0f);
  g_assert_cmpfloat (adam.learning_rate, ==, 1e-3f);
  g_assert_cmpfloat (adam.beta1, ==, 0.9f);
  g_assert_cmpfloat (adam.beta2, ==, 0.999f);
  g_assert_cmpfloat (adam.epsilon, ==, 1e-8f);
  g_assert_cmpfloat (adam.weight_decay, ==, 0.0f);
  g_assert_cmpfloat (adamw.learning_rate, ==, 1e-3f);
  g_assert_cmpfloat (adamw.weight_decay, ==, 1e-2f);
  g_assert_cmpfloat (adamw.max_grad_norm, ==, 0.0f);
  g_assert_cmpint (graft_optimizer_config_validate (&sgd, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_optimizer_config_validate (&adam, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_optimizer_config_validate (&adamw, &error), ==, GRAFT_OK);

  g_assert_cmpint (graft_optimizer_state_per_element (&sgd), ==, 0);
  sgd.momentum = 0.9f;
  g_assert_cmpint (graft_optimizer_state_per_element (&sgd), ==, 1);
  g_assert_cmpint (graft_optimizer_state_per_element (&adam), ==, 2);
  g_assert_cmpint (graft_optimizer_state_per_element (&adamw), ==, 2);
}

static void
expect_invalid (const graft_optimizer_config *config)
{
  graft_error error;
  graft_error_clear (&error);
  g_assert_cmpint (graft_optimizer_config_validate (config, &error), ==, GRAFT_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (error.status, ==, GRAFT_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (strlen (error.message), >, 0);
  g_test_message ("%s", error.message);
  g_assert_cmpint (graft_optimizer_config_validate (config, NULL), ==, GRAFT_ERROR_INVALID_ARGUMENT);
}

static void
test_validate (void)
{
  static const float bad_unit[] = { -0.1f, 1.0f, 1.5f, NAN };
  const graft_optimizer_kind kinds[] = { GRAFT_OPTIMIZER_SGD, GRAFT_OPTIMIZER_ADAM, GRAFT_OPTIMIZER_ADAMW };
  graft_optimizer_config config;
  graft_error error;

  for (size_t k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      config = graft_optimizer_config_default (kinds[k]);
      config.learning_rate = -1e-3f;
      expect_invalid (&config);
      config.learning_rate = NAN;
      expect_invalid (&config);
      config.learning_rate = INFINITY;
      expect_invalid (&config);
      config = graft_optimizer_config_default (kinds[k]);
      config.learning_rate = 0.0f;
      g_assert_cmpint (graft_optimizer_config_validate (&config, &error), ==, GRAFT_OK);
      config.weight_decay = -0.1f;
      expect_invalid (&config);
      config = graft_optimizer_config_default (kinds[k]);
      config.max_grad_norm = NAN;
      expect_invalid (&config);
      config.max_grad_norm = 1.0f;
      g_assert_cmpint (graft_optimizer_config_validate (&config, &error), ==, GRAFT_OK);
    }

  config = graft_optimizer_config_default (GRAFT_OPTIMIZER_SGD);
  for (size_t i = 0; i < G_N_ELEMENTS (bad_unit); i++)
    {
      config.momentum = bad_unit[i];
      expect_invalid (&config);
    }
  config.momentum = 0.0f;
  config.nesterov = true;
  expect_invalid (&config);
  config.momentum = 0.9f;
  g_assert_cmpint (graft_optimizer_config_validate (&config, &error), ==, GRAFT_OK);

  for (size_t k = 1; k < G_N_ELEMENTS (kinds); k++)
    {
      for (size_t i = 0; i < G_N_ELEMENTS (bad_unit); i++)
        {
          config = graft_optimizer_config_default (kinds[k]);
          config.beta1 = bad_unit[i];
          expect_invalid (&config);
          config = graft_optimizer_config_default (kinds[k]);
          config.beta2 = bad_unit[i];
          expect_invalid (&config);
        }
      config = graft_optimizer_config_default (kinds[k]);
      config.beta1 = 0.0f;
      config.beta2 = 0.0f;
      g_assert_cmpint (graft_optimizer_config_validate (&config, &error), ==, GRAFT_OK);
      config.epsilon = -1e-8f;
      expect_invalid (&config);
    }

  config = graft_optimizer_config_default (GRAFT_OPTIMIZER_SGD);
  config.kind = (graft_optimizer_kind) 42;
  expect_invalid (&config);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/optimizer/torch", test_torch);
  g_test_add_func ("/engine/optimizer/adamw-decoupled", test_adamw_decoupled);
  g_test_add_func ("/engine/optimizer/grad-scale", test_grad_scale);
  g_test_add_func ("/engine/optimizer/clip", test_clip);
  g_test_add_func ("/engine/optimizer/large", test_large);
  g_test_add_func ("/engine/optimizer/defaults", test_defaults);
  g_test_add_func ("/engine/optimizer/validate", test_validate);
  return g_test_run ();
}
