/* mobilenet-v2.h: torchvision's MobileNetV2, built directly as an engine graph with
 * seeded random weights and torchvision's parameter names, for benchmarks (the ONNX
 * importer builds the same graph from a file). */
#pragma once

#include <stdint.h>

#include "engine/graph.h"

typedef struct {
  graft_graph *graph;
  int input;        /* (N,3,224,224) */
  int features;     /* (N,1280) */
  int logits;       /* (N,classes) */
  int head_weight, head_bias;
} mobilenet_v2;

void mobilenet_v2_build (mobilenet_v2 *net, int classes, int size, uint64_t seed);
void mobilenet_v2_free (mobilenet_v2 *net);
