/* toy-network.h: a small CNN that uses most of the engine's ops (conv, BN, residual
 * add, squeeze-excite with a broadcast Mul, pooling, depthwise conv, Clip, concat,
 * global pooling, dropout, Gemm), and a toy image task it can learn. */
#pragma once

#include <stdint.h>

#include "engine/graph.h"

#define TOY_SIZE 8
#define TOY_CHANNELS 3
#define TOY_CLASSES 3

typedef struct {
  graft_graph *graph;
  int input;       /* (N,3,8,8) */
  int features;    /* (N,16) before the head */
  int logits;      /* (N,3) */
  int conv1_weight, conv2_weight, fc_weight, fc_bias, bn1_gamma;
  int first_node_of_head; /* the head is the nodes from here on */
} toy_network;

void toy_network_build (toy_network *net, float dropout, uint64_t seed);
void toy_network_free (toy_network *net);
/* Every parameter frozen but the head's. */
void toy_network_freeze_backbone (toy_network *net);
/* A batch of the toy task: class 0 has a horizontal bar, 1 a vertical bar, 2 a diagonal,
 * on noise. images (N,3,8,8), labels (N). */
void toy_batch (int n, uint64_t seed, float *images, int32_t *labels);
