/* optimizer.c: SGD, Adam and AdamW updates as torch.optim does them (PyTorch 1.13
 * single-tensor code), and the pieces of global-norm clipping.
 *
 * Updates are elementwise: each chunk of elements goes to one thread, and the
 * inner loops are plain float loops over restrict pointers, so they vectorise.
 * The per-step scalars (bias corrections) are computed in double and rounded to
 * float once, as PyTorch does with its Python-float scalars. */
#include "engine/optimizer.h"

#include "engine/plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Elements per unit of parallel work, and the size below which one thread does all. */
#define OPTIMIZER_CHUNK 16384
#define OPTIMIZER_PARALLEL_THRESHOLD 65536
/* sum_of_squares: partial sums of this many chunks are combined in order per round. */
#define SUM_GROUP 256

graft_optimizer_config
graft_optimizer_config_default (graft_optimizer_kind kind)
{
  graft_optimizer_config config = {
    .kind = kind,
    .learning_rate = kind == GRAFT_OPTIMIZER_SGD ? 1e-2f : 1e-3f,
    .momentum = 0.0f,
    .nesterov = false,
    .beta1 = 0.9f,
    .beta2 = 0.999f,
    .epsilon = 1e-8f,
    .weight_decay = kind == GRAFT_OPTIMIZER_ADAMW ? 1e-2f : 0.0f,
    .max_grad_norm = 0.0f,
  };
  return config;
}

/* 0 <= value < 1; false for NaN. */
static bool
in_unit_interval (float value)
{
  return value >= 0.0f && value < 1.0f;
}

graft_status
graft_optimizer_config_validate (const graft_optimizer_config *config, graft_error *error)
{
  const graft_optimizer_kind kind = config->kind;

  if (kind != GRAFT_OPTIMIZER_SGD && kind != GRAFT_OPTIMIZER_ADAM && kind != GRAFT_OPTIMIZER_ADAMW)
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                            "optimizer: unknown kind %d", (int) kind);
  if (!(config->learning_rate >= 0.0f) || !isfinite (config->learning_rate))
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                            "optimizer: learning rate %g must be finite and at least 0",
                            (double) config->learning_rate);
  if (!(config->weight_decay >= 0.0f) || !isfinite (config->weight_decay))
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                            "optimizer: weight decay %g must be finite and at least 0",
                            (double) config->weight_decay);
  if (isnan (config->max_grad_norm))
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                            "optimizer: the maximum gradient norm is not a number");
  if (kind == GRAFT_OPTIMIZER_SGD)
    {
      if (!in_unit_interval (config->momentum))
        return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                                "optimizer: SGD momentum %g must be in [0, 1)",
                                (double) config->momentum);
      if (config->nesterov && config->momentum == 0.0f)
        return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                                "optimizer: Nesterov momentum needs a momentum above 0");
    }
  else
    {
      if (!in_unit_interval (config->beta1) || !in_unit_interval (config->beta2))
        return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                                "optimizer: Adam betas (%g, %g) must be in [0, 1)",
                                (double) config->beta1, (double) config->beta2);
      if (!(config->epsilon >= 0.0f) || !isfinite (config->epsilon))
        return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                                "optimizer: Adam epsilon %g must be finite and at least 0",
                                (double) config->epsilon);
    }
  return GRAFT_OK;
}

int
graft_optimizer_state_per_element (const graft_optimizer_config *config)
{
  switch (config->kind)
    {
    case GRAFT_OPTIMIZER_SGD:
      return config->momentum > 0.0f ? 1 : 0;
    case GRAFT_OPTIMIZER_ADAM:
    case GRAFT_OPTIMIZER_ADAMW:
      return 2;
    }
  return 0;
}

/* The per-step scalars of one update, all rounded to float. */
typedef struct {
  float lr, scale, weight_decay;
  float momentum;                       /* SGD */
  float beta1, one_minus_beta1;         /* Adam */
  float beta2, one_minus_beta2;
  float step_size, bias_correction2_sqrt, epsilon;
  float decay_factor;                   /* AdamW: 1 - lr * wd */
} update_scalars;

/* Plain SGD: p -= lr * (g * scale + wd * p) */
static void
sgd_chunk (const update_scalars *s, size_t count, float *restrict param, const float *restrict grad)
{
  const float lr = s->lr, scale = s->scale, wd = s->weight_decay;
  for (size_t i = 0; i < count; i++)
    {
      float g = grad[i] * scale + wd * param[i];
      param[i] -= lr * g;
    }
}

/* SGD with momentum: buf = momentum * buf + g; p -= lr * (nesterov ? g + momentum * buf : buf).
 * A zero buffer gives buf = g on the first step, as PyTorch's clone. */
static void
sgd_momentum_chunk (const update_scalars *s, bool nesterov, size_t count, float *restrict param,
                    const float *restrict grad, float *restrict buf)
{
  const float lr = s->lr, scale = s->scale, wd = s->weight_decay, momentum = s->momentum;
  if (nesterov)
    for (size_t i = 0; i < count; i++)
      {
        float g = grad[i] * scale + wd * param[i];
        float b = momentum * buf[i] + g;
        buf[i] = b;
        param[i] -= lr * (g + momentum * b);
      }
  else
    for (size_t i = 0; i < count; i++)
      {
        float g = grad[i] * scale + wd * param[i];
        float b = momentum * buf[i] + g;
        buf[i] = b;
        param[i] -= lr * b;
      }
}

/* Adam (wd is L2, 0 for AdamW, whose decay is applied first):
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   p -= lr / bc1 * m / (sqrt (v) / sqrt (bc2) + eps) */
static void
adam_chunk (const update_scalars *s, bool decoupled, size_t count, float *restrict param,
            const float *restrict grad, float *restrict exp_avg, float *restrict exp_avg_sq)
{
  const float scale = s->scale, wd = s->weight_decay, decay_factor = s->decay_factor;
  const float beta1 = s->beta1, one_minus_beta1 = s->one_minus_beta1;
  const float beta2 = s->beta2, one_minus_beta2 = s->one_minus_beta2;
  const float step_size = s->step_size, bc2_sqrt = s->bias_correction2_sqrt, eps = s->epsilon;

  for (size_t i = 0; i < count; i++)
    {
      float p = param[i];
      float g = grad[i] * scale;
      float m, v, denom;
      if (decoupled)
        p *= decay_factor;
      else
        g += wd * p;
      m = beta1 * exp_avg[i] + one_minus_beta1 * g;
      v = beta2 * exp_avg_sq[i] + one_minus_beta2 * (g * g);
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
      /* v >= 0: the builtin lets the loop vectorise without errno handling. */
      denom = __builtin_sqrtf (v) / bc2_sqrt + eps;
      param[i] = p - step_size * (m / denom);
    }
}

void
graft_optimizer_update (const graft_optimizer_config *config, float lr, int64_t step, float grad_scale,
                        size_t count, float *param, const float *grad, float *state)
{
  const graft_optimizer_kind kind = config->kind;
  const bool momentum = kind == GRAFT_OPTIMIZER_SGD && config->momentum > 0.0f;
  const bool decoupled = kind == GRAFT_OPTIMIZER_ADAMW;
  const size_t chunks = (count + OPTIMIZER_CHUNK - 1) / OPTIMIZER_CHUNK;
  update_scalars s = {
    .lr = lr,
    .scale = grad_scale,
    .weight_decay = decoupled ? 0.0f : config->weight_decay,
    .momentum = config->momentum,
  };

  if (kind != GRAFT_OPTIMIZER_SGD && kind != GRAFT_OPTIMIZER_ADAM && kind != GRAFT_OPTIMIZER_ADAMW)
    return;
  if (kind != GRAFT_OPTIMIZER_SGD)
    {
      const double beta1 = config->beta1, beta2 = config->beta2;
      const double t = (double) (step < 1 ? 1 : step);
      s.beta1 = config->beta1;
      s.beta2 = config->beta2;
      s.one_minus_beta1 = (float) (1.0 - beta1);
      s.one_minus_beta2 = (float) (1.0 - beta2);
      s.step_size = (float) ((double) lr / (1.0 - pow (beta1, t)));
      s.bias_correction2_sqrt = (float) sqrt (1.0 - pow (beta2, t));
      s.epsilon = config->epsilon;
      s.decay_factor = (float) (1.0 - (double) lr * config->weight_decay);
    }

#pragma omp parallel for schedule(static) if (count > OPTIMIZER_PARALLEL_THRESHOLD)
  for (size_t c = 0; c < chunks; c++)
    {
      const size_t start = c * OPTIMIZER_CHUNK;
      const size_t n = count - start < OPTIMIZER_CHUNK ? count - start : OPTIMIZER_CHUNK;
      if (kind != GRAFT_OPTIMIZER_SGD)
        adam_chunk (&s, decoupled, n, param + start, grad + start, state + start, state + count + start);
      else if (momentum)
        sgd_momentum_chunk (&s, config->nesterov, n, param + start, grad + start, state + start);
      else
        sgd_chunk (&s, n, param + start, grad + start);
    }
}

/* Eight independent double accumulators: vectorisable and still a fixed order. */
static double
chunk_sum_of_squares (size_t count, const float *restrict x)
{
  double acc[8] = { 0 };
  size_t i = 0;
  for (; i + 8 <= count; i += 8)
    for (int j = 0; j < 8; j++)
      acc[j] += (double) x[i + j] * (double) x[i + j];
  for (; i < count; i++)
    acc[0] += (double) x[i] * (double) x[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

double
graft_sum_of_squares (size_t count, const float *grad)
{
  const size_t chunks = (count + OPTIMIZER_CHUNK - 1) / OPTIMIZER_CHUNK;
  double total = 0.0;

  /* Rounds of up to SUM_GROUP chunks: every chunk is summed by one thread, and the
   * partial sums are added in chunk order, whatever the thread count. */
  for (size_t first = 0; first < chunks; first += SUM_GROUP)
    {
      const size_t group = chunks - first < SUM_GROUP ? chunks - first : SUM_GROUP;
      double partial[SUM_GROUP];

#pragma omp parallel for schedule(static) if (count > OPTIMIZER_PARALLEL_THRESHOLD)
      for (size_t c = 0; c < group; c++)
        {
          const size_t start = (first + c) * OPTIMIZER_CHUNK;
          const size_t n = count - start < OPTIMIZER_CHUNK ? count - start : OPTIMIZER_CHUNK;
          partial[c] = chunk_sum_of_squares (n, grad + start);
        }
      for (size_t c = 0; c < group; c++)
        total += partial[c];
    }
  return total;
}

float
graft_clip_scale (double norm, float max_norm)
{
  if (!(max_norm > 0.0f) || norm <= max_norm)
    return 1.0f;
  return (float) (max_norm / (norm + 1e-6));
}

/* ------------------------------------------------------------------------ */
/* Optimizer state (optimizer.h): moments by parameter name, outliving plans   */

typedef struct {
  char *name;
  size_t count;
  size_t offset;   /* floats into arena */
  int64_t steps;   /* updates this parameter has had (Adam's bias correction is per parameter) */
} state_entry;

struct graft_optimizer_state {
  graft_optimizer_config config;
  int per_element;
  state_entry *entries;
  int n_entries;
  float *arena;
  int64_t steps;
};

graft_optimizer_state *
graft_optimizer_state_new (const graft_optimizer_config *config, graft_error *error)
{
  graft_optimizer_state *state;
  if (graft_optimizer_config_validate (config, error) != GRAFT_OK)
    return NULL;
  state = calloc (1, sizeof *state);
  if (state == NULL)
    return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory"), NULL;
  state->config = *config;
  state->per_element = graft_optimizer_state_per_element (config);
  return state;
}

void
graft_optimizer_state_free (graft_optimizer_state *state)
{
  if (state == NULL)
    return;
  for (int i = 0; i < state->n_entries; i++)
    free (state->entries[i].name);
  free (state->entries);
  graft_floats_free (state->arena);
  free (state);
}

int64_t
graft_optimizer_state_steps (const graft_optimizer_state *state)
{
  return state->steps;
}

/* Elements of a parameter (its shape is the graph's, whatever the plan's batch). */
static size_t
parameter_count (const graft_graph *graph, int v)
{
  size_t count = 0;
  graft_shape_count (&graft_graph_value (graph, v)->shape, &count, NULL);
  return count;
}

static int
find_entry (const graft_optimizer_state *state, const char *name)
{
  for (int i = 0; i < state->n_entries; i++)
    if (strcmp (state->entries[i].name, name) == 0)
      return i;
  return -1;
}

/* Makes room for every parameter of plan that has a gradient, keeping the state of
 * parameters already known: one allocation, carved per parameter. */
static graft_status
sync_state (graft_optimizer_state *state, graft_plan *plan, graft_error *error)
{
  const graft_graph *graph = graft_plan_graph (plan);
  int missing = 0, n_entries, n_values = graft_graph_value_count (graph);
  size_t total = 0, size;
  state_entry *entries;
  float *arena;

  for (int v = 0; v < n_values; v++)
    if (graft_plan_gradient (plan, v) != NULL)
      {
        int e = find_entry (state, graft_graph_value (graph, v)->name);
        if (e < 0)
          missing++;
        else if (state->entries[e].count != parameter_count (graph, v))
          return graft_error_set (error, GRAFT_ERROR_SHAPE,
                                  "parameter '%s' changed size under the optimizer", state->entries[e].name);
      }
  if (missing == 0)
    return GRAFT_OK;

  n_entries = state->n_entries + missing;
  entries = realloc (state->entries, (size_t) n_entries * sizeof *entries);
  if (entries == NULL)
    return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory for optimizer state");
  state->entries = entries;
  for (int v = 0, e = state->n_entries; v < n_values; v++)
    if (graft_plan_gradient (plan, v) != NULL
        && find_entry (state, graft_graph_value (graph, v)->name) < 0)
      {
        entries[e] = (state_entry) { .name = strdup (graft_graph_value (graph, v)->name),
                                     .count = parameter_count (graph, v), .offset = SIZE_MAX };
        if (entries[e].name == NULL)
          return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory for optimizer state");
        state->n_entries = ++e;
      }
  for (int e = 0; e < n_entries; e++)
    {
      graft_size_align_floats (entries[e].count * (size_t) state->per_element, &size);
      total += size;
    }
  arena = graft_floats_alloc (total);
  if (arena == NULL)
    return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "not enough memory for optimizer state (%.1f MiB)",
                            total * 4.0 / 1048576.0);
  total = 0;
  for (int e = 0; e < n_entries; e++)
    {
      size_t floats = entries[e].count * (size_t) state->per_element;
      if (entries[e].offset != SIZE_MAX && floats > 0)
        memcpy (arena + total, state->arena + entries[e].offset, floats * sizeof (float));
      entries[e].offset = total;
      graft_size_align_floats (floats, &size);
      total += size;
    }
  graft_floats_free (state->arena);
  state->arena = arena;
  return GRAFT_OK;
}

graft_status
graft_optimizer_state_step (graft_optimizer_state *state, graft_plan *plan, float lr,
                            double *norm, graft_error *error)
{
  const graft_graph *graph = graft_plan_graph (plan);
  int n_values = graft_graph_value_count (graph);
  double sum = 0;
  float scale;

  if (sync_state (state, plan, error) != GRAFT_OK)
    return error != NULL ? error->status : GRAFT_ERROR_OUT_OF_MEMORY;
  for (int v = 0; v < n_values; v++)
    {
      const float *grad = graft_plan_gradient (plan, v);
      if (grad != NULL)
        sum += graft_sum_of_squares (parameter_count (graph, v), grad);
    }
  if (!isfinite (sum))
    return graft_error_set (error, GRAFT_ERROR_NUMERIC, "the gradients are not finite");
  if (norm != NULL)
    *norm = sqrt (sum);
  scale = graft_clip_scale (sqrt (sum), state->config.max_grad_norm);
  for (int v = 0; v < n_values; v++)
    {
      const float *grad = graft_plan_gradient (plan, v);
      const graft_value *value = graft_graph_value (graph, v);
      state_entry *entry;
      if (grad == NULL)
        continue;
      entry = &state->entries[find_entry (state, value->name)];
      entry->steps++;
      graft_optimizer_update (&state->config, lr * value->lr_multiplier, entry->steps, scale,
                              parameter_count (graph, v), value->data, grad, state->arena + entry->offset);
    }
  state->steps++;
  return GRAFT_OK;
}

/* Serialised optimizer state: "GOPT", version 1, steps (i64), per_element (i32),
 * n_entries (i32), then per entry: name length (u32), name, count (u64), steps (i64),
 * count * per_element floats. Native byte order: a checkpoint is read back on the
 * machine that wrote it. */
#define STATE_MAGIC "GOPT"

size_t
graft_optimizer_state_serialized_size (const graft_optimizer_state *state)
{
  size_t size = 4 + 4 + 8 + 4 + 4;
  for (int e = 0; e < state->n_entries; e++)
    size += 4 + strlen (state->entries[e].name) + 8 + 8
            + state->entries[e].count * (size_t) state->per_element * sizeof (float);
  return size;
}

static void
put (uint8_t **cursor, const void *data, size_t size)
{
  if (size > 0)
    memcpy (*cursor, data, size);
  *cursor += size;
}

void
graft_optimizer_state_serialize (const graft_optimizer_state *state, void *buffer)
{
  uint8_t *cursor = buffer;
  uint32_t version = 1;
  int32_t per_element = state->per_element, n_entries = state->n_entries;

  put (&cursor, STATE_MAGIC, 4);
  put (&cursor, &version, 4);
  put (&cursor, &state->steps, 8);
  put (&cursor, &per_element, 4);
  put (&cursor, &n_entries, 4);
  for (int e = 0; e < state->n_entries; e++)
    {
      const state_entry *entry = &state->entries[e];
      uint32_t length = (uint32_t) strlen (entry->name);
      uint64_t count = entry->count;
      put (&cursor, &length, 4);
      put (&cursor, entry->name, length);
      put (&cursor, &count, 8);
      put (&cursor, &entry->steps, 8);
      put (&cursor, state->arena + entry->offset, entry->count * (size_t) state->per_element * sizeof (float));
    }
}

static bool
take (const uint8_t **cursor, const uint8_t *end, void *out, size_t size)
{
  if ((size_t) (end - *cursor) < size)
    return false;
  if (out != NULL && size > 0)
    memcpy (out, *cursor, size);
  *cursor += size;
  return true;
}

graft_optimizer_state *
graft_optimizer_state_deserialize (const graft_optimizer_config *config, const void *data, size_t size,
                                   graft_error *error)
{
  const uint8_t *cursor = data, *end = (const uint8_t *) data + size;
  graft_optimizer_state *state = graft_optimizer_state_new (config, error);
  char magic[4];
  uint32_t version;
  int32_t per_element, n_entries;
  size_t total = 0, floats, aligned;

  if (state == NULL)
    return NULL;
  if (!take (&cursor, end, magic, 4) || memcmp (magic, STATE_MAGIC, 4) != 0 || !take (&cursor, end, &version, 4)
      || version != 1 || !take (&cursor, end, &state->steps, 8) || !take (&cursor, end, &per_element, 4)
      || !take (&cursor, end, &n_entries, 4))
    goto invalid;
  if (per_element != state->per_element || n_entries < 0 || (size_t) n_entries > size / 24)
    {
      graft_optimizer_state_free (state);
      graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "the saved optimizer state is for another optimizer");
      return NULL;
    }
  state->entries = calloc ((size_t) (n_entries ? n_entries : 1), sizeof (state_entry));
  if (state->entries == NULL)
    goto oom;
  /* First pass: names and sizes; the moments follow once the arena exists. */
  {
    const uint8_t *start = cursor;
    for (int e = 0; e < n_entries; e++)
      {
        uint32_t length;
        uint64_t count;
        if (!take (&cursor, end, &length, 4) || length > (size_t) (end - cursor) || length == 0)
          goto invalid;
        state->entries[e].name = strndup ((const char *) cursor, length);
        state->n_entries = e + 1;
        if (state->entries[e].name == NULL)
          goto oom;
        cursor += length;
        if (!take (&cursor, end, &count, 8) || !take (&cursor, end, &state->entries[e].steps, 8)
            || !graft_size_mul (count, (size_t) per_element * sizeof (float), &floats)
            || floats > (size_t) (end - cursor))
          goto invalid;
        state->entries[e].count = count;
        state->entries[e].offset = total;
        cursor += floats;
        if (!graft_size_align_floats (count * (size_t) per_element, &aligned) || !graft_size_add (total, aligned, &total))
          goto invalid;
      }
    if (cursor != end)
      goto invalid;
    state->arena = graft_floats_alloc (total);
    if (state->arena == NULL)
      goto oom;
    cursor = start;
    for (int e = 0; e < n_entries; e++)
      {
        uint32_t length = 0;
        take (&cursor, end, &length, 4);
        cursor += length + 16;
        floats = state->entries[e].count * (size_t) per_element;
        take (&cursor, end, state->arena + state->entries[e].offset, floats * sizeof (float));
      }
  }
  return state;

invalid:
  graft_optimizer_state_free (state);
  graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "the saved optimizer state is damaged");
  return NULL;
oom:
  graft_optimizer_state_free (state);
  graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory reading the optimizer state");
  return NULL;
}
