/* onednn.c: convolution, BatchNorm and pooling on oneDNN's primitives in blocked
 * layouts, and the few loops of the blocked layout that oneDNN has no primitive for
 * (layout changes, the global average, the channel scale, Concat).
 *
 * Every primitive is created once, when its object is (per plan node), with memory
 * objects whose data handles are set at each call. oneDNN runs on OpenMP (Debian's
 * libdnnl and the Flatpak's build use its OpenMP runtime), the engine's one pool. */
#include "engine/onednn.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <immintrin.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdint.h>

#include "engine/simd.h"
#include "engine/tensor.h"

static dnnl_engine_t cpu_engine;
static int block_size;
static bool bf16_isa;
static char description[64];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The src layout that a forward convolution with "any" formats picks for a typical
 * layer (64 -> 64 channels, 3x3, 56x56): its channel block. */
static int
probe_block (void)
{
  dnnl_memory_desc_t src, weights, dst;
  dnnl_convolution_desc_t desc;
  dnnl_primitive_desc_t pd;
  const dnnl_memory_desc_t *chosen;
  dnnl_dims_t src_dims = { 1, 64, 56, 56 }, w_dims = { 64, 64, 3, 3 }, dst_dims = { 1, 64, 56, 56 };
  dnnl_dims_t strides = { 1, 1 }, pad = { 1, 1 };
  int block = 0;

  if (dnnl_memory_desc_init_by_tag (&src, 4, src_dims, dnnl_f32, dnnl_format_tag_any) != dnnl_success
      || dnnl_memory_desc_init_by_tag (&weights, 4, w_dims, dnnl_f32, dnnl_format_tag_any) != dnnl_success
      || dnnl_memory_desc_init_by_tag (&dst, 4, dst_dims, dnnl_f32, dnnl_format_tag_any) != dnnl_success
      || dnnl_convolution_forward_desc_init (&desc, dnnl_forward_training, dnnl_convolution_direct, &src,
                                             &weights, NULL, &dst, strides, pad, pad) != dnnl_success
      || dnnl_primitive_desc_create (&pd, &desc, NULL, cpu_engine, NULL) != dnnl_success)
    return 0;
  chosen = dnnl_primitive_desc_query_md (pd, dnnl_query_src_md, 0);
  if (chosen != NULL && chosen->format_kind == dnnl_blocked && chosen->format_desc.blocking.inner_nblks == 1
      && chosen->format_desc.blocking.inner_idxs[0] == 1)
    block = (int) chosen->format_desc.blocking.inner_blks[0];
  dnnl_primitive_desc_destroy (pd);
  return block == 8 || block == 16 ? block : 0;
}

static void
initialize (void)
{
  const dnnl_version_t *version = dnnl_version ();

  if (dnnl_engine_create (&cpu_engine, dnnl_cpu, 0) != dnnl_success)
    {
      cpu_engine = NULL;
      return;
    }
  block_size = probe_block ();
  /* The ISA values are cumulative bit masks: AMX's includes AVX512_BF16's. */
  bf16_isa = (dnnl_get_effective_cpu_isa () & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
  snprintf (description, sizeof description, "%d.%d.%d (%s)", version->major, version->minor, version->patch,
            version->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "not OpenMP");
}

bool
graft_onednn_available (void)
{
  pthread_once (&once, initialize);
  return cpu_engine != NULL && block_size > 0;
}

int
graft_onednn_block (void)
{
  return graft_onednn_available () ? block_size : 0;
}

bool
graft_onednn_bf16_available (void)
{
  return graft_onednn_available () && bf16_isa;
}

const char *
graft_onednn_describe (void)
{
  pthread_once (&once, initialize);
  return description;
}

static dnnl_format_tag_t
blocked_tag (void)
{
  return block_size == 16 ? dnnl_nChw16c : dnnl_nChw8c;
}

static size_t
padded_channels (int c)
{
  return ((size_t) c + (size_t) block_size - 1) / (size_t) block_size * (size_t) block_size;
}

size_t
graft_onednn_blocked_floats (int n, int c, int h, int w)
{
  return (size_t) n * padded_channels (c) * (size_t) h * (size_t) w;
}

/* ------------------------------------------------------------------------ */
/* Layout changes                                                            */

GRAFT_SIMD_DISPATCH
void
graft_onednn_to_blocked (int n, int c, int h, int w, const float *plain, float *blocked)
{
  size_t hw = (size_t) h * (size_t) w, b = (size_t) block_size;
  long blocks = (long) (padded_channels (c) / b);

#pragma omp parallel for schedule(static) collapse(2)
  for (long i = 0; i < n; i++)
    for (long cb = 0; cb < blocks; cb++)
      {
        float *out = blocked + ((size_t) i * (size_t) blocks + (size_t) cb) * hw * b;
        for (size_t l = 0; l < b; l++)
          {
            size_t ch = (size_t) cb * b + l;
            if (ch < (size_t) c)
              {
                const float *in = plain + ((size_t) i * (size_t) c + ch) * hw;
                for (size_t s = 0; s < hw; s++)
                  out[s * b + l] = in[s];
              }
            else
              for (size_t s = 0; s < hw; s++)
                out[s * b + l] = 0;
          }
      }
}

GRAFT_SIMD_DISPATCH
void
graft_onednn_to_plain (int n, int c, int h, int w, const float *blocked, float *plain, bool accumulate)
{
  size_t hw = (size_t) h * (size_t) w, b = (size_t) block_size;
  size_t blocks = padded_channels (c) / b;

#pragma omp parallel for schedule(static) collapse(2)
  for (long i = 0; i < n; i++)
    for (long ch = 0; ch < c; ch++)
      {
        const float *in = blocked + ((size_t) i * blocks + (size_t) ch / b) * hw * b + (size_t) ch % b;
        float *out = plain + ((size_t) i * (size_t) c + (size_t) ch) * hw;
        if (accumulate)
          for (size_t s = 0; s < hw; s++)
            out[s] += in[s * b];
        else
          for (size_t s = 0; s < hw; s++)
            out[s] = in[s * b];
      }
}

/* Each pixel's channels of a block are B floats in a row on both sides: whole blocks
 * copied, one block of every pixel after the other (one stream read, full cache lines
 * written), instead of a plain (N,C,H,W) copy and a transpose of it. */
GRAFT_SIMD_DISPATCH
void
graft_onednn_to_channels_last (int n, int c, int h, int w, const float *blocked, float *nhwc, bool accumulate)
{
  size_t hw = (size_t) h * (size_t) w, b = (size_t) block_size;
  size_t blocks = padded_channels (c) / b;

#pragma omp parallel for schedule(static) collapse(2)
  for (long i = 0; i < n; i++)
    for (long cb = 0; cb < (long) blocks; cb++)
      {
        const float *in = blocked + ((size_t) i * blocks + (size_t) cb) * hw * b;
        float *out = nhwc + (size_t) i * hw * (size_t) c + (size_t) cb * b;
        size_t width = (size_t) c - (size_t) cb * b < b ? (size_t) c - (size_t) cb * b : b;
        if (accumulate)
          for (size_t s = 0; s < hw; s++)
            for (size_t l = 0; l < width; l++)
              out[s * (size_t) c + l] += in[s * b + l];
        else
          for (size_t s = 0; s < hw; s++)
            for (size_t l = 0; l < width; l++)
              out[s * (size_t) c + l] = in[s * b + l];
      }
}

GRAFT_SIMD_DISPATCH
void
graft_onednn_from_channels_last (int n, int c, int h, int w, const float *nhwc, float *blocked)
{
  size_t hw = (size_t) h * (size_t) w, b = (size_t) block_size;
  size_t blocks = padded_channels (c) / b;

#pragma omp parallel for schedule(static) collapse(2)
  for (long i = 0; i < n; i++)
    for (long cb = 0; cb < (long) blocks; cb++)
      {
        const float *in = nhwc + (size_t) i * hw * (size_t) c + (size_t) cb * b;
        float *out = blocked + ((size_t) i * blocks + (size_t) cb) * hw * b;
        size_t width = (size_t) c - (size_t) cb * b < b ? (size_t) c - (size_t) cb * b : b;
        for (size_t s = 0; s < hw; s++)
          for (size_t l = 0; l < b; l++)
            out[s * b + l] = l < width ? in[s * (size_t) c + l] : 0.0f;
      }
}

GRAFT_SIMD_DISPATCH
void
graft_onednn_add_plain (int n, int c, int h, int w, const float *plain, float *blocked)
{
  size_t hw = (size_t) h * (size_t) w, b = (size_t) block_size;
  size_t blocks = padded_channels (c) / b;

#pragma omp parallel for schedule(static) collapse(2)
  for (long i = 0; i < n; i++)
    for (long ch = 0; ch < c; ch++)
      {
        const float *in = plain + ((size_t) i * (size_t) c + (size_t) ch) * hw;
        float *out = blocked + ((size_t) i * blocks + (size_t) ch / b) * hw * b + (size_t) ch % b;
        for (size_t s = 0; s < hw; s++)
          out[s * b] += in[s];
      }
}

void
graft_onednn_zero_padding (int n, int c, int h, int w, float *blocked)
{
  size_t hw = (size_t) h * (size_t) w, b = (size_t) block_size, blocks = padded_channels (c) / b;
  size_t first = (size_t) c % b;

  if (first == 0)
    return;
#pragma omp parallel for schedule(static) if (n > 1)
  for (long i = 0; i < n; i++)
    {
      float *last = blocked + ((size_t) i * blocks + blocks - 1) * hw * b;
      for (size_t s = 0; s < hw; s++)
        for (size_t l = first; l < b; l++)
          last[s * b + l] = 0;
    }
}

GRAFT_SIMD_DISPATCH
void
graft_onednn_add_into (size_t count, const float *restrict src, float *restrict dst)
{
#pragma omp parallel for schedule(static) if (count > 32768)
  for (size_t i = 0; i < count; i++)
    dst[i] += src[i];
}

/* ------------------------------------------------------------------------ */
/* Primitives and their memory objects                                       */

#define MAX_ARGS 10

/* A primitive with the memory objects of its arguments, whose data handles are set
 * before each execution. */
typedef struct {
  dnnl_primitive_t primitive;
  dnnl_primitive_desc_t pd;
  int n_args;
  dnnl_exec_arg_t args[MAX_ARGS];
} step;

static void
step_free (step *s)
{
  for (int i = 0; i < s->n_args; i++)
    dnnl_memory_destroy (s->args[i].memory);
  if (s->primitive != NULL)
    dnnl_primitive_destroy (s->primitive);
  if (s->pd != NULL)
    dnnl_primitive_desc_destroy (s->pd);
  memset (s, 0, sizeof *s);
}

static bool
step_make (step *s, dnnl_primitive_desc_t pd)
{
  s->pd = pd;
  return dnnl_primitive_create (&s->primitive, pd) == dnnl_success;
}

/* Adds an argument described by the primitive's query (what, index). */
static bool
step_arg (step *s, int arg, dnnl_query_t what, int index)
{
  const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md (s->pd, what, index);
  dnnl_memory_t memory;
  if (md == NULL || s->n_args == MAX_ARGS
      || dnnl_memory_create (&memory, md, cpu_engine, DNNL_MEMORY_NONE) != dnnl_success)
    return false;
  s->args[s->n_args++] = (dnnl_exec_arg_t) { .arg = arg, .memory = memory };
  return true;
}

static bool
step_arg_md (step *s, int arg, const dnnl_memory_desc_t *md)
{
  dnnl_memory_t memory;
  if (s->n_args == MAX_ARGS || dnnl_memory_create (&memory, md, cpu_engine, DNNL_MEMORY_NONE) != dnnl_success)
    return false;
  s->args[s->n_args++] = (dnnl_exec_arg_t) { .arg = arg, .memory = memory };
  return true;
}

/* Runs the step with the data pointers in the order its arguments were added. */
static void
step_run (step *s, dnnl_stream_t stream, void *const *data)
{
  for (int i = 0; i < s->n_args; i++)
    dnnl_memory_set_data_handle_v2 (s->args[i].memory, data[i], stream);
  dnnl_primitive_execute (s->primitive, stream, s->n_args, s->args);
  dnnl_stream_wait (stream);
}

static size_t
md_floats (const dnnl_memory_desc_t *md)
{
  return (dnnl_memory_desc_get_size (md) + sizeof (float) - 1) / sizeof (float);
}

/* A reorder from one layout to another; with accumulate, the destination adds. */
static bool
reorder_make (step *s, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, bool accumulate)
{
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t ops = NULL;
  dnnl_primitive_desc_t pd;
  bool ok;

  if (accumulate)
    {
      if (dnnl_primitive_attr_create (&attr) != dnnl_success)
        return false;
      if (dnnl_post_ops_create (&ops) != dnnl_success || dnnl_post_ops_append_sum (ops, 1.0f) != dnnl_success
          || dnnl_primitive_attr_set_post_ops (attr, ops) != dnnl_success)
        {
          dnnl_post_ops_destroy (ops);
          dnnl_primitive_attr_destroy (attr);
          return false;
        }
      dnnl_post_ops_destroy (ops);
    }
  ok = dnnl_reorder_primitive_desc_create (&pd, from, cpu_engine, to, cpu_engine, attr) == dnnl_success;
  dnnl_primitive_attr_destroy (attr);
  if (!ok)
    return false;
  return step_make (s, pd) && step_arg_md (s, DNNL_ARG_FROM, from) && step_arg_md (s, DNNL_ARG_TO, to);
}

static bool
activation_algorithm (const graft_activation_params *act, dnnl_alg_kind_t *alg, float *alpha, float *beta)
{
  *alpha = 0;
  *beta = 0;
  switch (act->kind)
    {
    case GRAFT_ACTIVATION_RELU:
      *alg = dnnl_eltwise_relu;
      return true;
    case GRAFT_ACTIVATION_LEAKY_RELU:
      *alg = dnnl_eltwise_relu;
      *alpha = act->alpha;
      return true;
    case GRAFT_ACTIVATION_CLIP:
      *alg = dnnl_eltwise_clip_v2;
      *alpha = act->alpha;
      *beta = act->beta;
      return true;
    case GRAFT_ACTIVATION_SWISH:
      *alg = dnnl_eltwise_swish;   /* x * sigmoid (alpha x) */
      *alpha = 1.0f;
      return true;
    default:
      return false;
    }
}

static graft_status
unsupported (graft_error *error, const char *what)
{
  return graft_error_set (error, GRAFT_ERROR_UNSUPPORTED, "oneDNN cannot run this %s", what);
}

static void
activation_md_typed (dnnl_memory_desc_t *md, int n, int c, int h, int w, bool blocked, dnnl_data_type_t type)
{
  dnnl_dims_t dims = { n, c, h, w };
  dnnl_memory_desc_init_by_tag (md, 4, dims, type, blocked ? blocked_tag () : dnnl_nchw);
}

static void
activation_md (dnnl_memory_desc_t *md, int n, int c, int h, int w, bool blocked)
{
  activation_md_typed (md, n, c, h, w, blocked, dnnl_f32);
}

/* ------------------------------------------------------------------------ */
/* Conv2d                                                                    */

#define GRAFT_ONEDNN_MAX_SPLIT 16
/* An f32 weight gradient runs per thread (split_make) from this many output pixels a
 * slice (8 images of 28x28 at batch 16 on 2 threads; 1x1: 8 of 14x14). Above them oneDNN's
 * f32 kernel reduces over the batch between its threads and waits in barriers: per
 * thread took 8-12 % less CPU (ResNet-18's 64x64 at 56x56: 37 against 41 ms; 1x1 64 to 128
 * stride 2: 2.6 against 5.3; MobileNetV2's 192 to 32 at 28x28: 1.6 against 3.7). Below,
 * with few pixels and a large gradient, each thread's own copy of the gradient and its
 * add cost more than the barrier (512x512 3x3 at 7x7: 54 against 41 ms). bf16 splits at
 * any size. */
#define SPLIT_F32_MIN_PIXELS 6272
#define SPLIT_F32_MIN_PIXELS_1X1 1568

struct graft_onednn_conv {
  graft_conv2d_params p;
  graft_onednn_conv_config config;
  graft_activation_params activation;
  dnnl_stream_t stream;
  step forward, backward_data, backward_weights;
  step weights_to_forward, weights_to_backward, diff_weights_to_plain;
  /* bf16: x and dy rounded to bf16 (same layout) into scratch at these offsets. */
  bool bf16;
  size_t src_elements, dst_elements;   /* of x and y in their layouts, padding included */
  size_t bf16_src_offset, bf16_dy_offset;
  /* The weight gradient in n_split slices of the batch, one per thread, each a
   * one-thread primitive (0: the one primitive over the batch). oneDNN's bf16 kernel
   * shares a transposed copy of x and dy between its threads and waits in spinning
   * barriers, its f32 kernel reduces over the batch behind barriers
   * (SPLIT_F32_MIN_PIXELS); each slice here has its own and writes its own gradient (at
   * split_stride floats apart in scratch, with its bias gradient and its scratchpad),
   * which are added in slice order, so the result does not depend on timing. */
  int n_split;
  step split[GRAFT_ONEDNN_MAX_SPLIT];
  dnnl_stream_t split_streams[GRAFT_ONEDNN_MAX_SPLIT];
  size_t split_stride, split_bias, split_scratchpad, split_x_bytes, split_dy_bytes;
  /* The weights in each primitive's format. Constant weights are reordered once into
   * buffers of their own; weights that may change are reordered at each use into
   * scratch at weights_offset (no memory held between steps). NULL/0: the plain
   * weights serve as they are. */
  float *weights_forward, *weights_backward;
  size_t weights_forward_floats, weights_backward_floats, weights_offset;
  bool weights_ready, weights_backward_ready;
  /* oneDNN 2.6 has only its reference loops for some weight gradients (depthwise 5x5):
   * the engine's kernel computes those from plain copies of x and dy. */
  bool portable_weights;
  int portable_chunk;   /* samples per call: plain copies of a quarter batch, not of all of it */
  size_t portable_x, portable_dy, portable_scratch;
  size_t src_floats, diff_weights_floats, scratch_floats;
  /* The weight gradient in tiles of (tile_i inputs, tile_o outputs), outputs fastest
   * (ABcd16b16a here), tile_strides apart for (O/tile_o, I/tile_i, KH, KW): added to the
   * plain gradient by diff_weights_add_plain, a tile at a time in cache; oneDNN's own
   * reorder with a sum took 3.5 times as long as the reorder the other way round and a
   * tenth of ResNet-18's training step outside the convolutions. 0: its reorder. */
  int tile_o, tile_i;
  size_t tile_strides[4];
  char implementation[160];
};

bool
graft_onednn_conv_fuses (graft_activation_kind kind)
{
  /* Those whose result is the same bits as graft_activation_forward's: the plan's
   * fused and unfused passes agree exactly (HardSwish rounds otherwise in oneDNN).
   * Swish too, though oneDNN's exp rounds otherwise (within 2 ulp): the plan fuses it
   * only where nothing runs backward (inference), and there the separate pass over the
   * convolution's output, which is as large as the network's largest activations, cost
   * a fifth of EfficientNet-B0's forward. */
  return kind == GRAFT_ACTIVATION_RELU || kind == GRAFT_ACTIVATION_LEAKY_RELU || kind == GRAFT_ACTIVATION_CLIP
         || kind == GRAFT_ACTIVATION_SWISH;
}

void
graft_onednn_conv_free (graft_onednn_conv *conv)
{
  if (conv == NULL)
    return;
  step_free (&conv->forward);
  step_free (&conv->backward_data);
  step_free (&conv->backward_weights);
  step_free (&conv->weights_to_forward);
  step_free (&conv->weights_to_backward);
  step_free (&conv->diff_weights_to_plain);
  for (int k = 0; k < conv->n_split; k++)
    {
      step_free (&conv->split[k]);
      if (conv->split_streams[k] != NULL)
        dnnl_stream_destroy (conv->split_streams[k]);
    }
  graft_floats_free (conv->weights_forward);
  graft_floats_free (conv->weights_backward);
  if (conv->stream != NULL)
    dnnl_stream_destroy (conv->stream);
  free (conv);
}

static const char *
implementation_of (const step *s)
{
  const char *name = NULL;
  if (s->pd == NULL || dnnl_primitive_desc_query (s->pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success)
    return "-";
  return name;
}

/* Reorders the plain weights to format when the primitive wants another layout than
 * the plain one: into a buffer it allocates for constant weights, else into scratch
 * (*floats says how much). */
static bool
weights_reorder_make (step *s, float **buffer, size_t *floats, bool constant, const dnnl_memory_desc_t *plain,
                      const dnnl_memory_desc_t *wanted)
{
  if (dnnl_memory_desc_equal (plain, wanted))
    return true;
  graft_size_align_floats (md_floats (wanted), floats);
  if (constant && (*buffer = graft_floats_alloc (*floats)) == NULL)
    return false;
  return reorder_make (s, plain, wanted, false);
}

/* Below this many weights the tiles are added on one thread. */
#define TILES_PARALLEL_MIN 16384

/* Whether md is a (O, I, KH, KW) layout of tiles of inputs by outputs, outputs fastest
 * (oneDNN's ABcd16b16a, ABcd8b8a), at no offset, and the tiles pay: then the conv's tile
 * fields describe it. They pay for larger kernels (ResNet-18's 3x3: 1.3 against 2.4 ms
 * for 512x256x3x3) and small 1x1 ones (one thread, no parallel region: 0.006 against
 * 0.012 ms for 144x24), but a 1x1 kernel large enough for threads has one float per
 * (output, input) pair, and there oneDNN's vectorised reorder took a quarter of the time
 * (1280x320: 0.15 against 0.69 ms; 1.6 ms of MobileNetV2's step, 1.6 of EfficientNet-B0's). */
static void
diff_weights_tiles (graft_onednn_conv *conv, const dnnl_memory_desc_t *md)
{
  const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
  const graft_conv2d_params *p = &conv->p;
  conv->tile_o = conv->tile_i = 0;
  if (md->ndims != 4 || md->format_kind != dnnl_blocked || md->offset0 != 0 || b->inner_nblks != 2
      || b->inner_idxs[0] != 1 || b->inner_idxs[1] != 0)
    return;
  if (p->kh * p->kw == 1 && (size_t) p->m * (size_t) p->c > TILES_PARALLEL_MIN)
    return;
  for (int d = 0; d < 4; d++)
    conv->tile_strides[d] = (size_t) b->strides[d];
  conv->tile_i = (int) b->inner_blks[0];
  conv->tile_o = (int) b->inner_blks[1];
}

/* dw += the gradient in conv's tiles (diff_weights_tiles). */
static void
diff_weights_add_plain (const graft_onednn_conv *conv, const float *tiles, float *dw)
{
  const graft_conv2d_params *p = &conv->p;
  const size_t *s = conv->tile_strides;
  int to = conv->tile_o, ti = conv->tile_i, kh = p->kh, kw = p->kw, m = p->m, c = p->c;
  int n_o = (m + to - 1) / to, n_i = (c + ti - 1) / ti;

#pragma omp parallel for schedule(static) if ((size_t) m * (size_t) c * (size_t) (kh * kw) > TILES_PARALLEL_MIN)
  for (int t = 0; t < n_o * n_i; t++)
    {
      int ob = t / n_i, ib = t % n_i;
      const float *tile = tiles + (size_t) ob * s[0] + (size_t) ib * s[1];
      for (int o = 0; o < to && ob * to + o < m; o++)
        for (int i = 0; i < ti && ib * ti + i < c; i++)
          {
            float *d = dw + ((size_t) (ob * to + o) * (size_t) c + (size_t) (ib * ti + i)) * (size_t) (kh * kw);
            const float *from = tile + (size_t) i * (size_t) to + (size_t) o;
            for (int y = 0; y < kh; y++)
              for (int x = 0; x < kw; x++)
                d[y * kw + x] += from[(size_t) y * s[2] + (size_t) x * s[3]];
          }
    }
}

/* The slices' steps from pd (the first owns it, the others clones), with their
 * streams; false when oneDNN fails (what was made is freed with the object). */
static bool
split_steps (graft_onednn_conv *conv, dnnl_primitive_desc_t pd, int slices)
{
  for (int k = 0; k < slices; k++)
    {
      dnnl_primitive_desc_t copy = pd;
      step *s = &conv->split[k];
      if (k > 0 && dnnl_primitive_desc_clone (&copy, pd) != dnnl_success)
        return false;
      conv->n_split = k + 1;
      if (!step_make (s, copy) || !step_arg (s, DNNL_ARG_SRC, dnnl_query_src_md, 0)
          || !step_arg (s, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0)
          || !step_arg (s, DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, 0)
          || (conv->config.bias && !step_arg (s, DNNL_ARG_DIFF_BIAS, dnnl_query_diff_weights_md, 1))
          || !step_arg (s, DNNL_ARG_SCRATCHPAD, dnnl_query_scratchpad_md, 0)
          || dnnl_stream_create (&conv->split_streams[k], cpu_engine, dnnl_stream_default_flags) != dnnl_success)
        return false;
    }
  return true;
}

/* The weight gradient per thread (n_split), where the batch divides evenly among the
 * threads (f32: with SPLIT_F32_MIN_PIXELS output pixels a slice) and oneDNN gives a
 * one-thread jit kernel the same gradient layout (md) as its kernel for the whole
 * batch: desc is that kernel's description (its data type bf16 or f32), *floats the
 * scratch the weight gradient needs, raised for the slices. false when oneDNN fails
 * making what it offered; not splitting is not a failure. */
static bool
split_make (graft_onednn_conv *conv, const dnnl_convolution_desc_t *desc, const dnnl_memory_desc_t *md,
            size_t *floats)
{
  const graft_conv2d_params *p = &conv->p;
  int threads = omp_get_max_threads ();
  dnnl_convolution_desc_t slice = *desc;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_primitive_desc_t pd = NULL;
  const dnnl_memory_desc_t *chosen, *scratchpad;
  const char *name = NULL;
  size_t stride = 0, bias = 0, pad = 0;
  bool usable, made;

  dnnl_memory_desc_t src, dst;
  int n;

  if (threads < 2 || threads > GRAFT_ONEDNN_MAX_SPLIT || p->n % threads != 0)
    return true;
  n = p->n / threads;
  if (desc->src_desc.data_type == dnnl_f32
      && (size_t) n * (size_t) p->oh * (size_t) p->ow
           < (p->kh * p->kw == 1 ? SPLIT_F32_MIN_PIXELS_1X1 : SPLIT_F32_MIN_PIXELS))
    return true;
  activation_md_typed (&src, n, p->c, p->h, p->w, conv->config.src_blocked, desc->src_desc.data_type);
  activation_md_typed (&dst, n, p->m, p->oh, p->ow, conv->config.dst_blocked, desc->diff_dst_desc.data_type);
  slice.src_desc = src;
  slice.diff_dst_desc = dst;
  if (dnnl_primitive_attr_create (&attr) != dnnl_success)
    return false;
  /* Made for one thread (oneDNN sizes its kernels and primitives by
   * omp_get_max_threads), and run below inside an OpenMP region, where oneDNN runs on
   * the calling thread alone. */
  omp_set_num_threads (1);
  usable = dnnl_primitive_attr_set_scratchpad_mode (attr, dnnl_scratchpad_mode_user) == dnnl_success
           && dnnl_primitive_desc_create (&pd, &slice, attr, cpu_engine, conv->forward.pd) == dnnl_success;
  dnnl_primitive_attr_destroy (attr);
  if (usable)
    {
      chosen = dnnl_primitive_desc_query_md (pd, dnnl_query_diff_weights_md, 0);
      scratchpad = dnnl_primitive_desc_query_md (pd, dnnl_query_scratchpad_md, 0);
      usable = chosen != NULL && dnnl_memory_desc_equal (chosen, md) && scratchpad != NULL
               && dnnl_primitive_desc_query (pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success
               && strncmp (name, "ref", 3) != 0;
      if (usable)
        {
          graft_size_align_floats (conv->diff_weights_floats, &bias);
          graft_size_align_floats (bias + (size_t) p->m, &pad);
          graft_size_align_floats (pad + md_floats (scratchpad), &stride);
        }
      else
        dnnl_primitive_desc_destroy (pd);
    }
  made = !usable || split_steps (conv, pd, threads);
  omp_set_num_threads (threads);
  if (!usable || !made)
    return made;
  conv->split_stride = stride;
  conv->split_bias = bias;
  conv->split_scratchpad = pad;
  conv->split_x_bytes = dnnl_memory_desc_get_size (dnnl_primitive_desc_query_md (conv->split[0].pd, dnnl_query_src_md, 0));
  conv->split_dy_bytes
    = dnnl_memory_desc_get_size (dnnl_primitive_desc_query_md (conv->split[0].pd, dnnl_query_diff_dst_md, 0));
  if (stride * (size_t) threads > *floats)
    *floats = stride * (size_t) threads;
  return true;
}

/* to (count bf16, stored in floats' memory) = from rounded to nearest even, the bf16
 * copy of a value in the same layout (x or dy). Runs only where the CPU has
 * AVX512_BF16 (bf16 objects exist only there): its conversion instruction, 16 floats
 * at a time. oneDNN's reorder did the same in 2.6 but took longer than MobileNetV2's
 * bf16 convolutions themselves (456 ms of a step's 821 ms of primitives). */
__attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512bf16"))) static void
round_to_bf16 (size_t count, const float *restrict from, float *restrict to)
{
  uint16_t *out = (uint16_t *) to;
  size_t blocks = (count + 15) / 16;

#pragma omp parallel for schedule(static) if (count > 65536)
  for (size_t b = 0; b < blocks; b++)
    {
      size_t i = b * 16, left = count - i;
      __mmask16 mask = left >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << left) - 1);
      __m256bh half = _mm512_cvtneps_pbh (_mm512_maskz_loadu_ps (mask, from + i));
      _mm256_mask_storeu_epi16 (out + i, mask, (__m256i) half);
    }
}

static graft_onednn_conv *
conv_create (const graft_conv2d_params *p, const graft_onednn_conv_config *config, bool bf16, graft_error *error)
{
  graft_onednn_conv *conv;
  /* src_compute, dst_compute, weights_any: what the primitives read (bf16 or f32);
   * src, dst: the f32 values the plan holds. */
  dnnl_memory_desc_t src, dst, src_compute, dst_compute, weights_any, weights_plain, bias;
  dnnl_data_type_t compute = bf16 ? dnnl_bf16 : dnnl_f32;
  dnnl_convolution_desc_t desc;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_dims_t strides = { p->stride_h, p->stride_w }, dilates = { p->dilation_h - 1, p->dilation_w - 1 };
  dnnl_dims_t pad_l = { p->pad_top, p->pad_left }, pad_r = { p->pad_bottom, p->pad_right };
  dnnl_dims_t bias_dims = { p->m };
  bool grouped = p->groups > 1;
  const dnnl_memory_desc_t *md;

  if (!graft_onednn_available ())
    return unsupported (error, "convolution (no oneDNN)"), NULL;
  conv = calloc (1, sizeof *conv);
  if (conv == NULL)
    return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory"), NULL;
  conv->p = *p;
  conv->config = *config;
  conv->bf16 = bf16;
  if (config->activation != NULL)
    {
      conv->activation = *config->activation;
      conv->config.activation = &conv->activation;
    }
  if (dnnl_stream_create (&conv->stream, cpu_engine, dnnl_stream_default_flags) != dnnl_success)
    goto fail;

  activation_md (&src, p->n, p->c, p->h, p->w, config->src_blocked);
  activation_md (&dst, p->n, p->m, p->oh, p->ow, config->dst_blocked);
  activation_md_typed (&src_compute, p->n, p->c, p->h, p->w, config->src_blocked, compute);
  activation_md_typed (&dst_compute, p->n, p->m, p->oh, p->ow, config->dst_blocked, compute);
  if (grouped)
    {
      dnnl_dims_t w_dims = { p->groups, p->m / p->groups, p->c / p->groups, p->kh, p->kw };
      dnnl_memory_desc_init_by_tag (&weights_any, 5, w_dims, compute, dnnl_format_tag_any);
      dnnl_memory_desc_init_by_tag (&weights_plain, 5, w_dims, dnnl_f32, dnnl_goihw);
    }
  else
    {
      dnnl_dims_t w_dims = { p->m, p->c, p->kh, p->kw };
      dnnl_memory_desc_init_by_tag (&weights_any, 4, w_dims, compute, dnnl_format_tag_any);
      dnnl_memory_desc_init_by_tag (&weights_plain, 4, w_dims, dnnl_f32, dnnl_oihw);
    }
  dnnl_memory_desc_init_by_tag (&bias, 1, bias_dims, dnnl_f32, dnnl_a);

  /* Forward, with the residual and the activation as post-ops. */
  if (config->activation != NULL || config->residual)
    {
      dnnl_alg_kind_t alg = dnnl_eltwise_relu;
      float alpha = 0, beta = 0;
      dnnl_post_ops_t ops;
      if (config->activation != NULL && !activation_algorithm (config->activation, &alg, &alpha, &beta))
        {
          unsupported (error, "activation after a convolution");
          goto fail_quiet;
        }
      if (dnnl_primitive_attr_create (&attr) != dnnl_success || dnnl_post_ops_create (&ops) != dnnl_success)
        goto fail;
      if ((config->residual && dnnl_post_ops_append_binary (ops, dnnl_binary_add, &dst) != dnnl_success)
          || (config->activation != NULL && dnnl_post_ops_append_eltwise (ops, 1.0f, alg, alpha, beta) != dnnl_success)
          || dnnl_primitive_attr_set_post_ops (attr, ops) != dnnl_success)
        {
          dnnl_post_ops_destroy (ops);
          goto fail;
        }
      dnnl_post_ops_destroy (ops);
    }
  if (dnnl_dilated_convolution_forward_desc_init (
        &desc, config->training || config->backward_data || config->backward_weights ? dnnl_forward_training
                                                                                       : dnnl_forward_inference,
        dnnl_convolution_direct, &src_compute, &weights_any, config->bias ? &bias : NULL, &dst, strides, dilates,
        pad_l, pad_r) != dnnl_success
      || dnnl_primitive_desc_create (&pd, &desc, attr, cpu_engine, NULL) != dnnl_success)
    goto fail;
  dnnl_primitive_attr_destroy (attr);
  attr = NULL;
  if (!step_make (&conv->forward, pd))
    goto fail;
  md = dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0);
  if (!step_arg_md (&conv->forward, DNNL_ARG_SRC, &src_compute) || !step_arg (&conv->forward, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0)
      || !step_arg_md (&conv->forward, DNNL_ARG_DST, &dst)
      || (config->bias && !step_arg_md (&conv->forward, DNNL_ARG_BIAS, &bias))
      || (config->residual
          && !step_arg_md (&conv->forward, DNNL_ARG_ATTR_MULTIPLE_POST_OP (0) | DNNL_ARG_SRC_1, &dst))
      || !weights_reorder_make (&conv->weights_to_forward, &conv->weights_forward, &conv->weights_forward_floats,
                                config->constant_weights, &weights_plain, md))
    goto fail;
  snprintf (conv->implementation, sizeof conv->implementation, "%s", implementation_of (&conv->forward));
  conv->src_floats = md_floats (&src);
  conv->src_elements = dnnl_memory_desc_get_size (&src) / sizeof (float);
  conv->dst_elements = dnnl_memory_desc_get_size (&dst) / sizeof (float);

  if (config->backward_data)
    {
      dnnl_primitive_desc_t bpd;
      if (dnnl_dilated_convolution_backward_data_desc_init (&desc, dnnl_convolution_direct, &src, &weights_any,
                                                            &dst_compute, strides, dilates, pad_l, pad_r)
            != dnnl_success
          || dnnl_primitive_desc_create (&bpd, &desc, NULL, cpu_engine, conv->forward.pd) != dnnl_success)
        goto fail;
      if (!step_make (&conv->backward_data, bpd))
        goto fail;
      md = dnnl_primitive_desc_query_md (bpd, dnnl_query_weights_md, 0);
      if (!step_arg_md (&conv->backward_data, DNNL_ARG_DIFF_DST, &dst_compute)
          || !step_arg (&conv->backward_data, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0)
          || !step_arg_md (&conv->backward_data, DNNL_ARG_DIFF_SRC, &src)
          || !weights_reorder_make (&conv->weights_to_backward, &conv->weights_backward,
                                    &conv->weights_backward_floats, config->constant_weights, &weights_plain, md))
        goto fail;
      if (config->accumulate_dx)
        conv->scratch_floats = conv->src_floats;
      snprintf (conv->implementation + strlen (conv->implementation),
                sizeof conv->implementation - strlen (conv->implementation), " / %s",
                implementation_of (&conv->backward_data));
    }
  if (config->backward_weights)
    {
      dnnl_primitive_desc_t bpd;
      dnnl_memory_desc_t diff_weights_any = weights_any;
      size_t floats;
      diff_weights_any.data_type = dnnl_f32;   /* the weight gradient in f32 */
      if (dnnl_dilated_convolution_backward_weights_desc_init (&desc, dnnl_convolution_direct, &src_compute,
                                                               &diff_weights_any, config->bias ? &bias : NULL,
                                                               &dst_compute, strides, dilates, pad_l, pad_r)
            != dnnl_success
          || dnnl_primitive_desc_create (&bpd, &desc, NULL, cpu_engine, conv->forward.pd) != dnnl_success)
        goto fail;
      if (!step_make (&conv->backward_weights, bpd))
        goto fail;
      md = dnnl_primitive_desc_query_md (bpd, dnnl_query_diff_weights_md, 0);
      if (!step_arg_md (&conv->backward_weights, DNNL_ARG_SRC, &src_compute)
          || !step_arg_md (&conv->backward_weights, DNNL_ARG_DIFF_DST, &dst_compute)
          || !step_arg (&conv->backward_weights, DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, 0)
          || (config->bias && !step_arg_md (&conv->backward_weights, DNNL_ARG_DIFF_BIAS, &bias))
          || !reorder_make (&conv->diff_weights_to_plain, md, &weights_plain, true))
        goto fail;
      graft_size_align_floats (md_floats (md), &conv->diff_weights_floats);
      if (!grouped)
        diff_weights_tiles (conv, md);
      floats = conv->diff_weights_floats + (size_t) p->m;
      if (strncmp (implementation_of (&conv->backward_weights), "ref", 3) == 0)
        {
          graft_conv2d_params chunk = *p;
          size_t x_floats, dy_floats;
          chunk.n = conv->portable_chunk = (p->n + 3) / 4;
          x_floats = (size_t) chunk.n * p->c * p->h * p->w;
          dy_floats = (size_t) chunk.n * p->m * p->oh * p->ow;
          conv->portable_weights = true;
          graft_size_align_floats (x_floats, &conv->portable_x);
          graft_size_align_floats (dy_floats, &conv->portable_dy);
          conv->portable_scratch = graft_conv2d_scratch_floats (&chunk);
          floats = conv->portable_x + conv->portable_dy + conv->portable_scratch;
        }
      if (!conv->portable_weights && !split_make (conv, &desc, md, &floats))
        goto fail;
      if (floats > conv->scratch_floats)
        conv->scratch_floats = floats;
      snprintf (conv->implementation + strlen (conv->implementation),
                sizeof conv->implementation - strlen (conv->implementation), " / %s%s",
                conv->portable_weights ? "graft portable" : implementation_of (&conv->backward_weights),
                conv->n_split > 0 ? " per thread" : "");
    }
  if (!config->constant_weights)
    {
      size_t weights = conv->weights_forward_floats > conv->weights_backward_floats ? conv->weights_forward_floats
                                                                                    : conv->weights_backward_floats;
      graft_size_align_floats (conv->scratch_floats, &conv->weights_offset);
      conv->scratch_floats = conv->weights_offset + weights;
    }
  if (bf16)
    {
      /* x's bf16 copy, and dy's for backward, past everything else: forward and both
       * backward passes read them while the weights sit in scratch. */
      size_t src_floats = 0;
      graft_size_align_floats (md_floats (&src_compute), &src_floats);
      graft_size_align_floats (conv->scratch_floats, &conv->bf16_src_offset);
      conv->scratch_floats = conv->bf16_src_offset + src_floats;
      if (config->backward_data || config->backward_weights)
        {
          size_t dy_floats = 0;
          graft_size_align_floats (md_floats (&dst_compute), &dy_floats);
          conv->bf16_dy_offset = conv->scratch_floats;
          conv->scratch_floats = conv->bf16_dy_offset + dy_floats;
        }
    }
  return conv;

fail:
  unsupported (error, "convolution");
fail_quiet:
  if (attr != NULL)
    dnnl_primitive_attr_destroy (attr);
  if (pd != NULL && conv->forward.pd != pd)
    dnnl_primitive_desc_destroy (pd);
  graft_onednn_conv_free (conv);
  return NULL;
}

static bool
is_reference (const step *s)
{
  return s->pd != NULL && strncmp (implementation_of (s), "ref", 3) == 0;
}

graft_onednn_conv *
graft_onednn_conv_new (const graft_conv2d_params *p, const graft_onednn_conv_config *config, graft_error *error)
{
  graft_onednn_conv *conv;

  if (!config->bf16 || !graft_onednn_bf16_available ())
    return conv_create (p, config, false, error);
  /* bf16 where oneDNN has a jit kernel for it; its reference loops (some stems, some
   * dilations) would take many times f32's time, so those shapes compute in f32. A
   * shape oneDNN refuses in bf16 (a fused post-op) does too. */
  conv = conv_create (p, config, true, NULL);
  if (conv != NULL && !is_reference (&conv->forward) && !is_reference (&conv->backward_data))
    return conv;
  graft_onednn_conv_free (conv);
  return conv_create (p, config, false, error);
}

bool
graft_onednn_conv_is_bf16 (const graft_onednn_conv *conv)
{
  return conv->bf16;
}

size_t
graft_onednn_conv_scratch_floats (const graft_onednn_conv *conv)
{
  return conv->scratch_floats;
}

const char *
graft_onednn_conv_implementation (const graft_onednn_conv *conv)
{
  return conv->implementation;
}

/* The weights in the format of one primitive: the plain ones when it reads those,
 * else reordered into its buffer once (constant weights) or into scratch each time. */
static float *
weights_for (graft_onednn_conv *conv, step *reorder, float *buffer, size_t floats, const float *w, bool *ready,
             float *scratch)
{
  if (floats == 0)
    return (float *) w;
  if (!conv->config.constant_weights)
    buffer = scratch + conv->weights_offset;
  else if (*ready)
    return buffer;
  {
    void *data[] = { (void *) w, buffer };
    step_run (reorder, conv->stream, data);
    *ready = true;
  }
  return buffer;
}

size_t
graft_onednn_conv_held_floats (const graft_onednn_conv *conv)
{
  return (conv->weights_forward != NULL ? conv->weights_forward_floats : 0)
         + (conv->weights_backward != NULL ? conv->weights_backward_floats : 0);
}

void
graft_onednn_conv_forward (graft_onednn_conv *conv, const float *x, const float *w, const float *bias,
                           float *y, float *scratch)
{
  graft_onednn_conv_forward_add (conv, x, w, bias, NULL, y, scratch);
}

void
graft_onednn_conv_forward_add (graft_onednn_conv *conv, const float *x, const float *w, const float *bias,
                               const float *residual, float *y, float *scratch)
{
  void *data[5];
  int n = 0;
  if (conv->bf16)
    {
      round_to_bf16 (conv->src_elements, x, scratch + conv->bf16_src_offset);
      x = scratch + conv->bf16_src_offset;
    }
  data[n++] = (void *) x;
  data[n++] = weights_for (conv, &conv->weights_to_forward, conv->weights_forward, conv->weights_forward_floats, w,
                           &conv->weights_ready, scratch);
  data[n++] = y;
  if (conv->config.bias)
    data[n++] = (void *) bias;
  data[n] = (void *) residual;   /* the post-op's argument, after the others */
  step_run (&conv->forward, conv->stream, data);
}

void
graft_onednn_conv_backward (graft_onednn_conv *conv, const float *x, const float *w, const float *dy,
                            float *dx, bool set_dx, float *dw, float *dbias, float *scratch)
{
  /* bf16: the primitives read dy (and x for the weight gradient) rounded to bf16; the
   * portable weight gradient reads the f32 ones. */
  const float *dy_compute = dy, *x_compute = x;
  bool weights = (dw != NULL || dbias != NULL) && (conv->portable_weights || conv->backward_weights.primitive != NULL);
  bool data_pass = dx != NULL && conv->backward_data.primitive != NULL;
  if (conv->bf16 && ((weights && !conv->portable_weights) || data_pass))
    {
      round_to_bf16 (conv->dst_elements, dy, scratch + conv->bf16_dy_offset);
      dy_compute = scratch + conv->bf16_dy_offset;
    }
  if (conv->bf16 && weights && !conv->portable_weights)
    {
      round_to_bf16 (conv->src_elements, x, scratch + conv->bf16_src_offset);
      x_compute = scratch + conv->bf16_src_offset;
    }
  if ((dw != NULL || dbias != NULL) && conv->portable_weights)
    {
      const graft_conv2d_params *p = &conv->p;
      size_t hw = (size_t) p->h * p->w, ohw = (size_t) p->oh * p->ow;
      size_t x_sample = (conv->config.src_blocked ? padded_channels (p->c) : (size_t) p->c) * hw;
      size_t dy_sample = (conv->config.dst_blocked ? padded_channels (p->m) : (size_t) p->m) * ohw;
      /* A few samples at a time, in order: dw and dbias accumulate over the chunks. */
      for (int i = 0; i < p->n; i += conv->portable_chunk)
        {
          graft_conv2d_params chunk = *p;
          const float *xs = x + (size_t) i * x_sample, *dys = dy + (size_t) i * dy_sample;
          float *plain_x = scratch, *plain_dy = scratch + conv->portable_x;
          chunk.n = p->n - i < conv->portable_chunk ? p->n - i : conv->portable_chunk;
          if (conv->config.src_blocked)
            graft_onednn_to_plain (chunk.n, p->c, p->h, p->w, xs, plain_x, false);
          else
            plain_x = (float *) xs;
          if (conv->config.dst_blocked)
            graft_onednn_to_plain (chunk.n, p->m, p->oh, p->ow, dys, plain_dy, false);
          else
            plain_dy = (float *) dys;
          graft_conv2d_backward (&chunk, plain_x, w, plain_dy, NULL, dw, conv->config.bias ? dbias : NULL,
                                 scratch + conv->portable_x + conv->portable_dy);
        }
    }
  else if ((dw != NULL || dbias != NULL) && conv->n_split > 0)
    {
      int n = conv->n_split;
#pragma omp parallel for num_threads(n) schedule(static, 1)
      for (int k = 0; k < n; k++)
        {
          float *slice = scratch + (size_t) k * conv->split_stride;
          void *data[5];
          int a = 0;
          data[a++] = (char *) x_compute + (size_t) k * conv->split_x_bytes;
          data[a++] = (char *) dy_compute + (size_t) k * conv->split_dy_bytes;
          data[a++] = slice;
          if (conv->config.bias)
            data[a++] = slice + conv->split_bias;
          data[a] = slice + conv->split_scratchpad;
          step_run (&conv->split[k], conv->split_streams[k], data);
        }
      for (int k = 0; k < n; k++)
        {
          float *slice = scratch + (size_t) k * conv->split_stride;
          if (dw != NULL && conv->tile_o > 0)
            diff_weights_add_plain (conv, slice, dw);
          else if (dw != NULL)
            {
              void *to_plain[] = { slice, dw };
              step_run (&conv->diff_weights_to_plain, conv->stream, to_plain);
            }
          if (dbias != NULL && conv->config.bias)
            for (int m = 0; m < conv->p.m; m++)
              dbias[m] += slice[conv->split_bias + (size_t) m];
        }
    }
  else if ((dw != NULL || dbias != NULL) && conv->backward_weights.primitive != NULL)
    {
      float *diff_weights = scratch, *diff_bias = scratch + conv->diff_weights_floats;
      void *data[4] = { (void *) x_compute, (void *) dy_compute, diff_weights, diff_bias };
      step_run (&conv->backward_weights, conv->stream, data);
      if (dw != NULL && conv->tile_o > 0)
        diff_weights_add_plain (conv, diff_weights, dw);
      else if (dw != NULL)
        {
          void *to_plain[] = { diff_weights, dw };
          step_run (&conv->diff_weights_to_plain, conv->stream, to_plain);
        }
      if (dbias != NULL && conv->config.bias)
        for (int m = 0; m < conv->p.m; m++)
          dbias[m] += diff_bias[m];
    }
  if (dx != NULL && conv->backward_data.primitive != NULL)
    {
      /* Scratch holds the whole dx only where the plan said it may accumulate: the
       * largest activation of a network (MobileNetV2's, 73.5 MiB at batch 16) would
       * otherwise sit in every plan's scratch for calls that all overwrite. */
      float *own = NULL;
      float *target = set_dx ? dx : conv->config.accumulate_dx ? scratch : (own = graft_floats_alloc (conv->src_floats));
      void *data[3];
      if (target == NULL)
        return; /* out of memory, where the plan promised set_dx: not reached */
      data[0] = (void *) dy_compute;
      data[1] = weights_for (conv, &conv->weights_to_backward, conv->weights_backward, conv->weights_backward_floats,
                             w, &conv->weights_backward_ready, scratch);
      data[2] = target;
      step_run (&conv->backward_data, conv->stream, data);
      if (!set_dx)
        graft_onednn_add_into (conv->src_floats, target, dx);
      graft_floats_free (own);
    }
}

/* ------------------------------------------------------------------------ */
/* BatchNormalization                                                        */
/* Loops of the blocked layout rather than oneDNN's primitive: its jit BatchNorm
 * synchronises its threads with spinning barriers, which took 10-25x as long as the
 * convolutions beside it on a busy 2-core machine. Here each (sample, channel block)
 * is one task; its partial sums (double) are added over the samples in a fixed order,
 * so results do not depend on the thread count. */

struct graft_onednn_batchnorm {
  graft_batchnorm_params p;
  bool batch_statistics;
  size_t blocks, padded;
  double *partial;   /* (2, N, padded) sums per sample, then (2, padded) totals */
  float *scale, *shift, *mean, *invstd;  /* (padded); 0 in the padding channels */
};

void
graft_onednn_batchnorm_free (graft_onednn_batchnorm *bn)
{
  if (bn == NULL)
    return;
  free (bn->partial);
  graft_floats_free (bn->scale);
  free (bn);
}

graft_onednn_batchnorm *
graft_onednn_batchnorm_new (const graft_batchnorm_params *p, int h, int w, bool batch_statistics, bool backward,
                            graft_error *error)
{
  graft_onednn_batchnorm *bn;
  size_t padded;

  (void) backward;
  if (!graft_onednn_available ())
    return unsupported (error, "BatchNormalization (no oneDNN)"), NULL;
  if ((size_t) h * (size_t) w != p->spatial)
    return graft_error_set (error, GRAFT_ERROR_SHAPE, "BatchNormalization: H*W is not the spatial size"), NULL;
  bn = calloc (1, sizeof *bn);
  if (bn == NULL)
    return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory"), NULL;
  bn->p = *p;
  bn->batch_statistics = batch_statistics;
  bn->padded = padded = padded_channels (p->c);
  bn->blocks = padded / (size_t) block_size;
  bn->partial = calloc ((2 * (size_t) p->n + 2) * padded, sizeof (double));
  bn->scale = graft_floats_alloc (4 * padded);
  if (bn->partial == NULL || bn->scale == NULL)
    {
      graft_onednn_batchnorm_free (bn);
      return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory"), NULL;
    }
  memset (bn->scale, 0, 4 * padded * sizeof (float));
  bn->shift = bn->scale + padded;
  bn->mean = bn->shift + padded;
  bn->invstd = bn->mean + padded;
  return bn;
}

size_t
graft_onednn_batchnorm_scratch_floats (const graft_onednn_batchnorm *bn)
{
  (void) bn;
  return 0;
}

/* The gradient that reaches BatchNorm's output, over positions [start, end) of one
 * (sample, block) plane at offset: dy itself, or where relu_y (the fused ReLU's output)
 * is not NULL, dy where y > 0 and 0 elsewhere, as the ReLU's own backward computes it
 * (activation.c), written into g. */
static inline __attribute__ ((always_inline)) const float *
relu_gradient (const float *dy, const float *relu_y, size_t offset, size_t start, size_t end, size_t bs, float *g)
{
  const float *pd = dy + offset + start * bs, *py;
  size_t count = (end - start) * bs;
  if (relu_y == NULL)
    return pd;
  py = relu_y + offset + start * bs;
#pragma omp simd
  for (size_t k = 0; k < count; k++)
    g[k] = py[k] > 0.0f ? pd[k] : 0.0f;
  return g;
}

/* The sums of one run of positions of a (sample, block) plane: f1, f2 += g and
 * (x - mu) * g (g not NULL), else x and x * x. bs is a constant where it is inlined
 * (block_of), so that the loop over a block is one vector. */
static inline __attribute__ ((always_inline)) void
sums_run (size_t bs, size_t positions, const float *x, const float *g, const float *mu, float *f1, float *f2)
{
  if (g != NULL)
    for (size_t s = 0; s < positions; s++)
      for (size_t l = 0; l < bs; l++)
        {
          float v = x[s * bs + l], d = g[s * bs + l];
          f1[l] += d;
          f2[l] += (v - mu[l]) * d;
        }
  else
    for (size_t s = 0; s < positions; s++)
      for (size_t l = 0; l < bs; l++)
        {
          float v = x[s * bs + l];
          f1[l] += v;
          f2[l] += v * v;
        }
}

/* dx = kd * (g - km - (x - mu) * kx) over one run, written (set_dx) or added. */
static inline __attribute__ ((always_inline)) void
dx_run (size_t bs, size_t positions, const float *g, const float *x, const float *kd, const float *km,
        const float *mu, const float *kx, float *dx, bool set_dx)
{
  for (size_t s = 0; s < positions; s++)
    for (size_t l = 0; l < bs; l++)
      {
        size_t k = s * bs + l;
        float v = kd[l] * (g[k] - km[l] - (x[k] - mu[l]) * kx[l]);
        dx[k] = set_dx ? v : dx[k] + v;
      }
}

/* Positions per run of the blocked loops below: their sums are in float over a run,
 * then in double; backward's gradient of one run (64 x 16 floats) stays in cache. */
#define RUN 64

/* Per sample and channel, two sums over the plane: of x and x * x (center NULL), or of
 * g and (x - center) * g, where g is dy, masked by the fused ReLU's output relu_y when
 * that is not NULL (relu_gradient); then out1[c], out2[c] = their sums over the samples,
 * in order. Each (sample, block) sums in float over runs of RUN positions, then in double. */
GRAFT_SIMD_DISPATCH
static void
channel_sums (const graft_onednn_batchnorm *bn, const float *x, const float *center, const float *dy,
              const float *relu_y, double *out1, double *out2)
{
  size_t bs = (size_t) block_size, spatial = bn->p.spatial, padded = bn->padded;
  long n = bn->p.n, blocks = (long) bn->blocks;
  double *p1 = bn->partial, *p2 = bn->partial + (size_t) n * padded;

#pragma omp parallel for schedule(static) collapse(2)
  for (long i = 0; i < n; i++)
    for (long cb = 0; cb < blocks; cb++)
      {
        size_t offset = ((size_t) i * (size_t) blocks + (size_t) cb) * spatial * bs;
        const float *px = x + offset;
        float mu[16] = { 0 }, g[RUN * 16];
        double s1[16] = { 0 }, s2[16] = { 0 };
        if (center != NULL)
          for (size_t l = 0; l < bs; l++)
            mu[l] = center[(size_t) cb * bs + l];
        for (size_t start = 0; start < spatial; start += RUN)
          {
            size_t end = start + RUN < spatial ? start + RUN : spatial;
            float f1[16] = { 0 }, f2[16] = { 0 };
            const float *d = dy != NULL ? relu_gradient (dy, relu_y, offset, start, end, bs, g) : NULL;
            if (bs == 16)
              sums_run (16, end - start, px + start * bs, d, mu, f1, f2);
            else
              sums_run (bs, end - start, px + start * bs, d, mu, f1, f2);
            for (size_t l = 0; l < bs; l++)
              {
                s1[l] += f1[l];
                s2[l] += f2[l];
              }
          }
        for (size_t l = 0; l < bs; l++)
          {
            p1[(size_t) i * padded + (size_t) cb * bs + l] = s1[l];
            p2[(size_t) i * padded + (size_t) cb * bs + l] = s2[l];
          }
      }
  for (size_t c = 0; c < padded; c++)
    {
      double t1 = 0, t2 = 0;
      for (long i = 0; i < n; i++)
        {
          t1 += p1[(size_t) i * padded + c];
          t2 += p2[(size_t) i * padded + c];
        }
      out1[c] = t1;
      out2[c] = t2;
    }
}

/* y = x * scale + shift per channel, then the activation, one (sample, block) at a time. */
GRAFT_SIMD_DISPATCH
static void
apply_channels (const graft_onednn_batchnorm *bn, const float *x, const float *residual,
                const graft_activation_params *act, float *pre, float *y)
{
  size_t bs = (size_t) block_size, spatial = bn->p.spatial;
  long n = bn->p.n, blocks = (long) bn->blocks;

#pragma omp parallel for schedule(static) collapse(2)
  for (long i = 0; i < n; i++)
    for (long cb = 0; cb < blocks; cb++)
      {
        size_t offset = ((size_t) i * (size_t) blocks + (size_t) cb) * spatial * bs;
        const float *k = bn->scale + (size_t) cb * bs, *d = bn->shift + (size_t) cb * bs;
        float *out = act != NULL && pre != NULL ? pre + offset : y + offset;
        for (size_t s = 0; s < spatial; s++)
          for (size_t l = 0; l < bs; l++)
            out[s * bs + l] = x[offset + s * bs + l] * k[l] + d[l];
        /* Rounded as the Add after BatchNorm rounds it, in a second pass over the plane
         * in cache. */
        if (residual != NULL)
          for (size_t s = 0; s < spatial * bs; s++)
            out[s] += residual[offset + s];
        if (act != NULL)
          graft_activation_forward_serial (act, spatial * bs, out, y + offset);
      }
}

void
graft_onednn_batchnorm_forward (graft_onednn_batchnorm *bn, const float *x, const float *gamma, const float *beta,
                                float *running_mean, float *running_var, const float *residual,
                                const graft_activation_params *act, float *pre, float *y, float *saved)
{
  int c = bn->p.c;
  double count = (double) bn->p.n * (double) bn->p.spatial;

  if (bn->batch_statistics)
    {
      double *sums = bn->partial + 2 * (size_t) bn->p.n * bn->padded, *squares = sums + bn->padded;
      float unbias = count > 1 ? (float) (count / (count - 1)) : 1.0f, m = bn->p.momentum;
      /* One pass: the variance as E[x^2] - mean^2, summed in double. */
      channel_sums (bn, x, NULL, NULL, NULL, sums, squares);
      for (int k = 0; k < c; k++)
        {
          double mean = sums[k] / count, v = squares[k] / count - mean * mean;
          float var = (float) (v > 0 ? v : 0);
          bn->mean[k] = (float) mean;
          saved[k] = bn->mean[k];
          saved[c + k] = var;
          bn->invstd[k] = 1.0f / sqrtf (var + bn->p.epsilon);
          running_mean[k] = running_mean[k] * m + bn->mean[k] * (1 - m);
          running_var[k] = running_var[k] * m + var * unbias * (1 - m);
        }
    }
  else
    for (int k = 0; k < c; k++)
      {
        bn->mean[k] = running_mean[k];
        bn->invstd[k] = 1.0f / sqrtf (running_var[k] + bn->p.epsilon);
      }
  for (int k = 0; k < c; k++)
    {
      bn->scale[k] = gamma[k] * bn->invstd[k];
      bn->shift[k] = beta[k] - bn->mean[k] * bn->scale[k];
    }
  apply_channels (bn, x, residual, act, pre, y);
}

static void batchnorm_dx (const graft_onednn_batchnorm *bn, const float *x, const float *dy, const float *relu_y,
                          float *dresidual, bool set_residual, float *dx, bool set_dx);

void
graft_onednn_batchnorm_backward (graft_onednn_batchnorm *bn, const float *x, const float *gamma,
                                 const float *running_mean, const float *running_var, const float *saved,
                                 const float *dy, float *dx, bool set_dx, float *dgamma, float *dbeta, float *scratch)
{
  graft_onednn_batchnorm_backward_fused (bn, x, gamma, running_mean, running_var, saved, dy, NULL, NULL, false, dx,
                                         set_dx, dgamma, dbeta, scratch);
}

void
graft_onednn_batchnorm_backward_fused (graft_onednn_batchnorm *bn, const float *x, const float *gamma,
                                       const float *running_mean, const float *running_var, const float *saved,
                                       const float *dy, const float *relu_y, float *dresidual, bool set_residual,
                                       float *dx, bool set_dx, float *dgamma, float *dbeta, float *scratch)
{
  int c = bn->p.c;
  size_t padded = bn->padded;
  double count = (double) bn->p.n * (double) bn->p.spatial;
  double *totals = bn->partial + 2 * (size_t) bn->p.n * padded;
  /* dx = k_dx * (g - k_mean - (x - mean) * k_xmu), per channel. */
  float *k_dx = bn->scale, *k_mean = bn->shift, *k_xmu = bn->invstd;

  (void) scratch;
  for (int k = 0; k < c; k++)
    {
      bn->mean[k] = bn->batch_statistics ? saved[k] : running_mean[k];
      bn->invstd[k] = 1.0f / sqrtf ((bn->batch_statistics ? saved[c + k] : running_var[k]) + bn->p.epsilon);
    }
  channel_sums (bn, x, bn->mean, dy, relu_y, totals, totals + padded);
  for (int k = 0; k < c; k++)
    {
      double sum_dy = totals[k], dg = totals[padded + k] * bn->invstd[k];
      float invstd = bn->invstd[k];
      if (dbeta != NULL)
        dbeta[k] += (float) sum_dy;
      if (dgamma != NULL)
        dgamma[k] += (float) dg;
      k_dx[k] = gamma[k] * invstd;
      /* With batch statistics, the mean and the variance depend on x too. */
      k_mean[k] = bn->batch_statistics ? (float) (sum_dy / count) : 0;
      k_xmu[k] = bn->batch_statistics ? (float) (invstd * dg / count) : 0;
    }
  if (dx != NULL || dresidual != NULL)
    batchnorm_dx (bn, x, dy, relu_y, dresidual, set_residual, dx, set_dx);
}

/* g as relu_gradient gives it, run by run: the fused Add's other operand's gradient
 * dresidual gets g (0 + g where set_residual, as the Add's backward over a cleared buffer
 * gives it), and dx = k_dx * (g - k_mean - (x - mean) * k_xmu), per channel. */
GRAFT_SIMD_DISPATCH
static void
batchnorm_dx (const graft_onednn_batchnorm *bn, const float *x, const float *dy, const float *relu_y,
              float *dresidual, bool set_residual, float *dx, bool set_dx)
{
  size_t bs = (size_t) block_size, spatial = bn->p.spatial;
  long n = bn->p.n, blocks = (long) bn->blocks;
  const float *k_dx = bn->scale, *k_mean = bn->shift, *k_xmu = bn->invstd;

#pragma omp parallel for schedule(static) collapse(2)
  for (long i = 0; i < n; i++)
    for (long cb = 0; cb < blocks; cb++)
      {
        size_t offset = ((size_t) i * (size_t) blocks + (size_t) cb) * spatial * bs;
        const float *kd = k_dx + (size_t) cb * bs, *km = k_mean + (size_t) cb * bs;
        const float *mu = bn->mean + (size_t) cb * bs, *kx = k_xmu + (size_t) cb * bs;
        float buffer[RUN * 16];
        for (size_t start = 0; start < spatial; start += RUN)
          {
            size_t end = start + RUN < spatial ? start + RUN : spatial, run = (end - start) * bs;
            size_t at = offset + start * bs;
            const float *g = relu_gradient (dy, relu_y, offset, start, end, bs, buffer);
            if (dresidual != NULL && set_residual)
              for (size_t k = 0; k < run; k++)
                dresidual[at + k] = 0.0f + g[k];
            else if (dresidual != NULL)
              for (size_t k = 0; k < run; k++)
                dresidual[at + k] += g[k];
            if (dx == NULL)
              continue;
            if (bs == 16 && set_dx)
              dx_run (16, end - start, g, x + at, kd, km, mu, kx, dx + at, true);
            else if (bs == 16)
              dx_run (16, end - start, g, x + at, kd, km, mu, kx, dx + at, false);
            else
              dx_run (bs, end - start, g, x + at, kd, km, mu, kx, dx + at, set_dx);
          }
      }
}

/* ------------------------------------------------------------------------ */
/* Pooling                                                                   */

struct graft_onednn_pool {
  graft_pool2d_params p;
  dnnl_stream_t stream;
  step forward, backward;
  void *workspace;
  size_t src_floats;
};

void
graft_onednn_pool_free (graft_onednn_pool *pool)
{
  if (pool == NULL)
    return;
  step_free (&pool->forward);
  step_free (&pool->backward);
  free (pool->workspace);
  if (pool->stream != NULL)
    dnnl_stream_destroy (pool->stream);
  free (pool);
}

graft_onednn_pool *
graft_onednn_pool_new (const graft_pool2d_params *p, bool max, bool backward, graft_error *error)
{
  graft_onednn_pool *pool;
  dnnl_memory_desc_t src, dst;
  dnnl_pooling_desc_t desc;
  dnnl_primitive_desc_t pd;
  dnnl_alg_kind_t alg;
  /* ceil_mode: the last window may reach past the bottom/right padding; oneDNN's
   * right padding is set to reach as far (a max ignores it; an average that excludes
   * padding divides by what is inside the input, as PyTorch does). */
  int pad_b = (p->oh - 1) * p->stride_h + p->kh - p->h - p->pad_top;
  int pad_r = (p->ow - 1) * p->stride_w + p->kw - p->w - p->pad_left;
  dnnl_dims_t strides = { p->stride_h, p->stride_w }, kernel = { p->kh, p->kw };
  dnnl_dims_t pad_l = { p->pad_top, p->pad_left }, pad_rd = { pad_b < 0 ? 0 : pad_b, pad_r < 0 ? 0 : pad_r };

  if (!graft_onednn_available ())
    return unsupported (error, "pooling (no oneDNN)"), NULL;
  if (!max && p->count_include_pad && (pad_b > p->pad_bottom || pad_r > p->pad_right))
    return unsupported (error, "AveragePool (count_include_pad with ceil_mode past the padding)"), NULL;
  if (max)
    alg = dnnl_pooling_max;
  else
    alg = p->count_include_pad ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding;
  pool = calloc (1, sizeof *pool);
  if (pool == NULL)
    return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory"), NULL;
  pool->p = *p;
  activation_md (&src, p->n, p->c, p->h, p->w, true);
  activation_md (&dst, p->n, p->c, p->oh, p->ow, true);
  pool->src_floats = md_floats (&src);
  if (dnnl_stream_create (&pool->stream, cpu_engine, dnnl_stream_default_flags) != dnnl_success
      || dnnl_pooling_forward_desc_init (&desc, backward ? dnnl_forward_training : dnnl_forward_inference, alg, &src,
                                         &dst, strides, kernel, pad_l, pad_rd) != dnnl_success
      || dnnl_primitive_desc_create (&pd, &desc, NULL, cpu_engine, NULL) != dnnl_success)
    goto fail;
  if (!step_make (&pool->forward, pd) || !step_arg_md (&pool->forward, DNNL_ARG_SRC, &src)
      || !step_arg_md (&pool->forward, DNNL_ARG_DST, &dst))
    goto fail;
  if (backward && max)
    {
      const dnnl_memory_desc_t *ws = dnnl_primitive_desc_query_md (pd, dnnl_query_workspace_md, 0);
      if (ws == NULL || !step_arg (&pool->forward, DNNL_ARG_WORKSPACE, dnnl_query_workspace_md, 0)
          || (pool->workspace = malloc (dnnl_memory_desc_get_size (ws) + 64)) == NULL)
        goto fail;
    }
  if (backward)
    {
      if (dnnl_pooling_backward_desc_init (&desc, alg, &src, &dst, strides, kernel, pad_l, pad_rd) != dnnl_success
          || dnnl_primitive_desc_create (&pd, &desc, NULL, cpu_engine, pool->forward.pd) != dnnl_success)
        goto fail;
      if (!step_make (&pool->backward, pd) || !step_arg_md (&pool->backward, DNNL_ARG_DIFF_DST, &dst)
          || !step_arg_md (&pool->backward, DNNL_ARG_DIFF_SRC, &src)
          || (max && !step_arg (&pool->backward, DNNL_ARG_WORKSPACE, dnnl_query_workspace_md, 0)))
        goto fail;
    }
  return pool;

fail:
  unsupported (error, "pooling");
  graft_onednn_pool_free (pool);
  return NULL;
}

size_t
graft_onednn_pool_scratch_floats (const graft_onednn_pool *pool)
{
  return pool->src_floats;
}

void
graft_onednn_pool_forward (graft_onednn_pool *pool, const float *x, float *y)
{
  void *data[] = { (void *) x, y, pool->workspace };
  step_run (&pool->forward, pool->stream, data);
}

void
graft_onednn_pool_backward (graft_onednn_pool *pool, const float *dy, float *dx, bool set_dx, float *scratch)
{
  void *data[] = { (void *) dy, set_dx ? dx : scratch, pool->workspace };
  step_run (&pool->backward, pool->stream, data);
  if (!set_dx)
    graft_onednn_add_into (pool->src_floats, scratch, dx);
}

/* ------------------------------------------------------------------------ */
/* Loops of the blocked layout                                               */

GRAFT_SIMD_DISPATCH
void
graft_onednn_mean_spatial_forward (int n, int c, size_t spatial, const float *x, float *y)
{
  size_t b = (size_t) block_size, blocks = padded_channels (c) / b;
  float scale = spatial ? 1.0f / (float) spatial : 0;

#pragma omp parallel for schedule(static) collapse(2)
  for (long i = 0; i < n; i++)
    for (long cb = 0; cb < (long) blocks; cb++)
      {
        const float *in = x + ((size_t) i * blocks + (size_t) cb) * spatial * b;
        float sum[16] = { 0 };
        for (size_t s = 0; s < spatial; s++)
          for (size_t l = 0; l < b; l++)
            sum[l] += in[s * b + l];
        for (size_t l = 0; l < b && (size_t) cb * b + l < (size_t) c; l++)
          y[(size_t) i * (size_t) c + (size_t) cb * b + l] = sum[l] * scale;
      }
}

GRAFT_SIMD_DISPATCH
void
graft_onednn_mean_spatial_backward (int n, int c, size_t spatial, const float *dy, float *dx)
{
  size_t b = (size_t) block_size, blocks = padded_channels (c) / b;
  float scale = spatial ? 1.0f / (float) spatial : 0;

#pragma omp parallel for schedule(static) collapse(2)
  for (long i = 0; i < n; i++)
    for (long cb = 0; cb < (long) blocks; cb++)
      {
        float *out = dx + ((size_t) i * blocks + (size_t) cb) * spatial * b;
        float g[16] = { 0 };
        for (size_t l = 0; l < b && (size_t) cb * b + l < (size_t) c; l++)
          g[l] = dy[(size_t) i * (size_t) c + (size_t) cb * b + l] * scale;
        for (size_t s = 0; s < spatial; s++)
          for (size_t l = 0; l < b; l++)
            out[s * b + l] += g[l];
      }
}

GRAFT_SIMD_DISPATCH
void
graft_onednn_scale_channels_forward (int n, int c, size_t spatial, const float *x, const float *s, float *y)
{
  size_t b = (size_t) block_size, blocks = padded_channels (c) / b;

#pragma omp parallel for schedule(static) collapse(2)
  for (long i = 0; i < n; i++)
    for (long cb = 0; cb < (long) blocks; cb++)
      {
        size_t offset = ((size_t) i * blocks + (size_t) cb) * spatial * b;
        float g[16] = { 0 };
        for (size_t l = 0; l < b && (size_t) cb * b + l < (size_t) c; l++)
          g[l] = s[(size_t) i * (size_t) c + (size_t) cb * b + l];
        /* y may be x (the plan's writes_over_input): omp simd, as the same element. */
        for (size_t k = 0; k < spatial; k++)
#pragma omp simd
          for (size_t l = 0; l < b; l++)
            y[offset + k * b + l] = x[offset + k * b + l] * g[l];
      }
}

GRAFT_SIMD_DISPATCH
void
graft_onednn_scale_channels_backward (int n, int c, size_t spatial, const float *x, const float *s,
                                      const float *dy, float *dx, float *ds)
{
  size_t b = (size_t) block_size, blocks = padded_channels (c) / b;

#pragma omp parallel for schedule(static) collapse(2)
  for (long i = 0; i < n; i++)
    for (long cb = 0; cb < (long) blocks; cb++)
      {
        size_t offset = ((size_t) i * blocks + (size_t) cb) * spatial * b;
        float g[16] = { 0 }, sum[16] = { 0 };
        for (size_t l = 0; l < b && (size_t) cb * b + l < (size_t) c; l++)
          g[l] = s[(size_t) i * (size_t) c + (size_t) cb * b + l];
        if (dx != NULL)
          for (size_t k = 0; k < spatial; k++)
            for (size_t l = 0; l < b; l++)
              dx[offset + k * b + l] += dy[offset + k * b + l] * g[l];
        if (ds != NULL)
          {
            for (size_t k = 0; k < spatial; k++)
              for (size_t l = 0; l < b; l++)
                sum[l] += dy[offset + k * b + l] * x[offset + k * b + l];
            for (size_t l = 0; l < b && (size_t) cb * b + l < (size_t) c; l++)
              ds[(size_t) i * (size_t) c + (size_t) cb * b + l] += sum[l];
          }
      }
}

void
graft_onednn_concat_forward (int n, size_t spatial, int k, const int *c, const float *const *xs, float *y)
{
  size_t total = 0;
  for (int j = 0; j < k; j++)
    total += padded_channels (c[j]);

  for (int i = 0; i < n; i++)
    {
      float *out = y + (size_t) i * total * spatial;
      for (int j = 0; j < k; j++)
        {
          size_t floats = padded_channels (c[j]) * spatial;
          memcpy (out, xs[j] + (size_t) i * floats, floats * sizeof (float));
          out += floats;
        }
    }
}

void
graft_onednn_concat_backward (int n, size_t spatial, int k, const int *c, const float *dy, float *const *dxs)
{
  size_t total = 0;
  for (int j = 0; j < k; j++)
    total += padded_channels (c[j]);

  for (int i = 0; i < n; i++)
    {
      const float *in = dy + (size_t) i * total * spatial;
      for (int j = 0; j < k; j++)
        {
          size_t floats = padded_channels (c[j]) * spatial;
          if (dxs[j] != NULL)
            graft_onednn_add_into (floats, in, dxs[j] + (size_t) i * floats);
          in += floats;
        }
    }
}
