#!/usr/bin/python3
"""Writes the small ONNX models that tests/test-model-import.c reads, with an input and
the expected output for each, computed here with numpy straight from the ONNX operator
definitions (checked against torch.nn.functional where torch has the same op), or with
torch itself for the models that torch exports.

Run with Debian's Python (it has onnx, numpy and torch):

    /usr/bin/python3 tests/data/onnx/make-small.py

Every file is written into this folder: NAME.onnx, NAME.input.npy, NAME.output.npy, and
NAME.b3.input.npy / NAME.b3.output.npy for the models that are also run at batch 3.
The output is deterministic (fixed seeds), so rerunning it changes nothing.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
F = TensorProto.FLOAT

# ---------------------------------------------------------------------------------------
# Reference ops in float64, from the ONNX operator definitions.


def conv2d(x, w, b=None, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1):
    """pads: top, left, bottom, right (the ONNX order for 2-D)."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (wd + pads[1] + pads[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    y = np.zeros((n, m, oh, ow))
    mg = m // group
    for g in range(group):
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dilations[0], j * dilations[1]
                patch = xp[:, g * cg:(g + 1) * cg,
                           r0:r0 + strides[0] * (oh - 1) + 1:strides[0],
                           c0:c0 + strides[1] * (ow - 1) + 1:strides[1]]
                y[:, g * mg:(g + 1) * mg] += np.einsum('nchw,mc->nmhw', patch, w[g * mg:(g + 1) * mg, :, i, j])
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def same_pads(size, k, s, d, upper):
    out = -(-size // s)
    total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
    small, big = total // 2, total - total // 2
    return (small, big) if upper else (big, small)


def pool_size(n, k, s, pb, pe, ceil):
    if ceil:
        o = -(-(n + pb + pe - k) // s) + 1
        if (o - 1) * s >= n + pb:  # the last window must start inside the input or its left padding
            o -= 1
        return o
    return (n + pb + pe - k) // s + 1


def pool2d(x, kind, k, s, pads=(0, 0, 0, 0), ceil=False, count_include_pad=False):
    n, c, h, w = x.shape
    oh = pool_size(h, k[0], s[0], pads[0], pads[2], ceil)
    ow = pool_size(w, k[1], s[1], pads[1], pads[3], ceil)
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s[0] - pads[0], j * s[1] - pads[1]
            r1, c1 = r0 + k[0], c0 + k[1]
            window = x[:, :, max(r0, 0):min(r1, h), max(c0, 0):min(c1, w)]
            if kind == 'max':
                y[:, :, i, j] = window.max(axis=(2, 3))
            else:
                if count_include_pad:
                    count = (min(r1, h + pads[2]) - r0) * (min(c1, w + pads[3]) - c0)
                else:
                    count = window.shape[2] * window.shape[3]
                y[:, :, i, j] = window.sum(axis=(2, 3)) / count
    return y


def batchnorm(x, scale, bias, mean, var, eps):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * scale.reshape(shape) + bias.reshape(shape)


def relu(x):
    return np.maximum(x, 0)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def hard_sigmoid(x, alpha=0.2, beta=0.5):
    return np.clip(alpha * x + beta, 0, 1)


def hard_swish(x):
    return x * hard_sigmoid(x, 1 / 6, 0.5)


def leaky_relu(x, alpha=0.01):
    return np.where(x >= 0, x, alpha * x)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def gemm(a, b, c=None, alpha=1.0, beta=1.0, trans_a=False, trans_b=False):
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    y = alpha * (a @ b)
    if c is not None:
        y = y + beta * c
    return y


def upsample_asymmetric(x, scales, mode):
    """ONNX Upsample (opsets 7-9) and Resize-10 on (N,C,H,W): the output is floor (input *
    scale); an output pixel i maps to i / scale in the input (asymmetric); nearest rounds
    that down, linear interpolates between its two neighbours (the last row repeated)."""
    n, c, h, w = x.shape
    oh, ow = int(np.floor(h * scales[2])), int(np.floor(w * scales[3]))

    def taps(size, out, scale):
        pos = np.minimum(np.arange(out) / scale, size - 1)
        lo = np.floor(pos).astype(int)
        return lo, np.minimum(lo + 1, size - 1), pos - lo

    (r0, r1, fr), (c0, c1, fc) = taps(h, oh, scales[2]), taps(w, ow, scales[3])
    if mode == 'nearest':
        return np.ascontiguousarray(x[:, :, r0][:, :, :, c0])
    rows = x[:, :, r0] * (1 - fr)[:, None] + x[:, :, r1] * fr[:, None]
    return np.ascontiguousarray(rows[:, :, :, c0] * (1 - fc) + rows[:, :, :, c1] * fc)


def check_references():
    """The references above against torch, where torch has the same op."""
    import torch
    import torch.nn.functional as tf
    rng = np.random.RandomState(99)
    x = rng.uniform(-1, 1, (2, 4, 9, 8))
    w = rng.uniform(-1, 1, (6, 2, 3, 2))
    b = rng.uniform(-1, 1, 6)
    t = lambda a: torch.from_numpy(a)
    got = conv2d(x, w, b, (2, 1), (1, 0, 2, 1), (2, 1), 2)
    want = tf.conv2d(tf.pad(t(x), (0, 1, 1, 2)), t(w), t(b), (2, 1), 0, (2, 1), 2).numpy()
    assert np.allclose(got, want), 'conv2d'
    for ceil in (False, True):
        got = pool2d(x, 'max', (3, 3), (2, 2), (1, 1, 1, 1), ceil)
        want = tf.max_pool2d(t(x), 3, 2, 1, ceil_mode=ceil).numpy()
        assert np.allclose(got, want), 'maxpool'
        for cip in (False, True):
            got = pool2d(x, 'avg', (3, 2), (2, 2), (1, 1, 1, 1), ceil, cip)
            want = tf.avg_pool2d(t(x), (3, 2), 2, 1, ceil_mode=ceil, count_include_pad=cip).numpy()
            assert np.allclose(got, want), 'avgpool ceil=%s count_include_pad=%s' % (ceil, cip)
    assert np.allclose(hard_swish(x), tf.hardswish(t(x)).numpy()), 'hardswish'
    assert np.allclose(softmax(x, 1), torch.softmax(t(x), 1).numpy()), 'softmax'
    # PyTorch's nearest by a scale factor is the asymmetric mapping rounded down; ONNX's
    # own reference (its backend tests' interpolate_nd) for both modes.
    from onnx.backend.test.case.node.resize import interpolate_nd, linear_coeffs, nearest_coeffs
    for scales in ((1, 1, 2, 3), (1, 1, 1.5, 2.5)):
        got = upsample_asymmetric(x, scales, 'nearest')
        want = tf.interpolate(t(x), scale_factor=scales[2:], mode='nearest').numpy()
        assert np.array_equal(got, want), 'nearest %s' % (scales,)
        want = interpolate_nd(x, lambda r: nearest_coeffs(r, mode='floor'), scale_factors=scales,
                              coordinate_transformation_mode='asymmetric')
        assert np.array_equal(got, want), 'nearest (onnx) %s' % (scales,)
        got = upsample_asymmetric(x, scales, 'linear')
        want = interpolate_nd(x, linear_coeffs, scale_factors=scales, coordinate_transformation_mode='asymmetric')
        assert np.allclose(got, want), 'linear %s' % (scales,)


# ---------------------------------------------------------------------------------------
# Writing


def rand(rng, *shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, shape).astype(np.float32)


def init(name, array, raw=True):
    """A float32 (or int64) initializer; raw_data or the typed field."""
    if raw:
        return numpy_helper.from_array(np.asarray(array), name)
    a = np.asarray(array)
    if a.dtype == np.int64:
        return helper.make_tensor(name, TensorProto.INT64, a.shape, a.flatten().tolist())
    return helper.make_tensor(name, F, a.shape, a.astype(np.float32).flatten().tolist())


def value(name, shape, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


def model(graph, opset, ir=None, producer='make-small.py'):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)], producer_name=producer,
                          producer_version='1')
    m.ir_version = ir if ir is not None else min(8, m.ir_version)
    return m


def save(name, m, inputs, outputs, check=True):
    """inputs/outputs: dicts batch -> array."""
    if check:
        onnx.checker.check_model(m, full_check=True)
    path = os.path.join(HERE, name + '.onnx')
    with open(path, 'wb') as f:
        f.write(m.SerializeToString())
    for batch, x in inputs.items():
        suffix = '' if batch == 1 else '.b%d' % batch
        np.save(os.path.join(HERE, name + suffix + '.input.npy'), np.asarray(x, np.float32))
        np.save(os.path.join(HERE, name + suffix + '.output.npy'), np.asarray(outputs[batch], np.float32))
    size = os.path.getsize(path)
    assert size < 100_000, '%s is %d bytes' % (name, size)
    print('%-22s %6d bytes' % (name, size))


def run_batches(f, rng, shape, batches=(1,)):
    inputs, outputs = {}, {}
    for b in batches:
        x = rand(rng, b, *shape[1:])
        inputs[b] = x
        outputs[b] = f(x.astype(np.float64))
    return inputs, outputs


# ---------------------------------------------------------------------------------------
# The models


def conv_relu():
    """Conv with asymmetric pads and strides, bias; depthwise dilated Conv without
    kernel_shape; LeakyRelu."""
    rng = np.random.RandomState(1)
    w1, b1 = rand(rng, 4, 3, 3, 3), rand(rng, 4)
    w2 = rand(rng, 4, 1, 3, 3)
    nodes = [
        helper.make_node('Conv', ['x', 'conv1.weight', 'conv1.bias'], ['c1'], name='conv1',
                         kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 2, 1]),
        helper.make_node('Relu', ['c1'], ['r1'], name='relu1'),
        helper.make_node('Conv', ['r1', 'conv2.weight'], ['c2'], name='conv2', group=4, dilations=[2, 2],
                         pads=[2, 2, 2, 2]),
        helper.make_node('LeakyRelu', ['c2'], ['y'], name='leaky', alpha=0.2),
    ]
    g = helper.make_graph(nodes, 'conv-relu', [value('x', ['N', 3, 9, 9])], [value('y', ['N', 4, 5, 4])],
                          [init('conv1.weight', w1), init('conv1.bias', b1), init('conv2.weight', w2)])

    def f(x):
        y = relu(conv2d(x, w1, b1, (2, 2), (1, 0, 2, 1)))
        return leaky_relu(conv2d(y, w2, None, (1, 1), (2, 2, 2, 2), (2, 2), 4), 0.2)
    m = model(g, 13)
    helper.set_model_props(m, {'graft.labels': '["cat", "dog", "bird", "fish"]', 'author': 'make-small.py'})
    save('conv-relu', m, *run_batches(f, rng, (1, 3, 9, 9), (1, 3)))


def conv_autopad():
    """auto_pad SAME_UPPER, SAME_LOWER (asymmetric with an even kernel) and VALID."""
    rng = np.random.RandomState(2)
    w1, w2, w3 = rand(rng, 3, 2, 3, 3), rand(rng, 3, 3, 2, 2), rand(rng, 2, 3, 3, 3)
    nodes = [
        helper.make_node('Conv', ['x', 'w1'], ['a'], name='same_upper', auto_pad='SAME_UPPER', strides=[2, 2]),
        helper.make_node('Conv', ['a', 'w2'], ['b'], name='same_lower', auto_pad='SAME_LOWER'),
        helper.make_node('Conv', ['b', 'w3'], ['y'], name='valid', auto_pad='VALID'),
    ]
    g = helper.make_graph(nodes, 'conv-autopad', [value('x', [1, 2, 8, 7])], [value('y', [1, 2, 2, 2])],
                          [init('w1', w1), init('w2', w2), init('w3', w3)])

    def f(x):
        p = same_pads(8, 3, 2, 1, True) + same_pads(7, 3, 2, 1, True)
        a = conv2d(x, w1, None, (2, 2), (p[0], p[2], p[1], p[3]))
        p = same_pads(4, 2, 1, 1, False) + same_pads(4, 2, 1, 1, False)
        b = conv2d(a, w2, None, (1, 1), (p[0], p[2], p[1], p[3]))
        return conv2d(b, w3)
    save('conv-autopad', model(g, 11), *run_batches(f, rng, (1, 2, 8, 7)))


def bn_opset7():
    """Like the MXNet zoo files (resnet18-v2-7): IR 3 with initializers listed in
    graph.input, float_data instead of raw_data, BatchNormalization on the input with
    spatial=1, Dropout with a ratio attribute, Reshape by an int64_data [0, -1]."""
    rng = np.random.RandomState(3)
    scale0, bias0 = rand(rng, 3, low=0.5, high=1.5), rand(rng, 3)
    mean0, var0 = rand(rng, 3), rand(rng, 3, low=0.5, high=2)
    w = rand(rng, 4, 3, 3, 3)
    scale1, bias1 = rand(rng, 4, low=0.5, high=1.5), rand(rng, 4)
    mean1, var1 = rand(rng, 4), rand(rng, 4, low=0.5, high=2)
    fc_w, fc_b = rand(rng, 5, 4), rand(rng, 5)
    inits = [init('bn_data_gamma', scale0, False), init('bn_data_beta', bias0, False),
             init('bn_data_moving_mean', mean0, False), init('bn_data_moving_var', var0, False),
             init('conv0_weight', w, False),
             init('bn0_gamma', scale1, False), init('bn0_beta', bias1, False),
             init('bn0_moving_mean', mean1, False), init('bn0_moving_var', var1, False),
             init('reshape_attr_tensor', np.array([0, -1], np.int64), False),
             init('dense0_weight', fc_w, False), init('dense0_bias', fc_b, False)]
    nodes = [
        helper.make_node('BatchNormalization', ['data', 'bn_data_gamma', 'bn_data_beta', 'bn_data_moving_mean',
                                                'bn_data_moving_var'], ['bn_data_fwd'], name='bn_data',
                         epsilon=2e-5, momentum=0.9, spatial=1),
        helper.make_node('Conv', ['bn_data_fwd', 'conv0_weight'], ['conv0_fwd'], name='conv0', kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node('BatchNormalization', ['conv0_fwd', 'bn0_gamma', 'bn0_beta', 'bn0_moving_mean',
                                                'bn0_moving_var'], ['bn0_fwd'], name='bn0', epsilon=1e-3,
                         momentum=0.99),
        helper.make_node('Relu', ['bn0_fwd'], ['relu0_fwd'], name='relu0'),
        helper.make_node('GlobalAveragePool', ['relu0_fwd'], ['pool1_fwd'], name='pool1'),
        helper.make_node('Dropout', ['pool1_fwd'], ['dropout0_fwd'], name='dropout0', ratio=0.25),
        helper.make_node('Reshape', ['dropout0_fwd', 'reshape_attr_tensor'], ['flatten0'], name='flatten0'),
        helper.make_node('Gemm', ['flatten0', 'dense0_weight', 'dense0_bias'], ['dense0_fwd'], name='dense0',
                         alpha=1.0, beta=1.0, transA=0, transB=1),
    ]
    graph_inputs = [value('data', ['N', 3, 6, 6])] + [value(t.name, list(t.dims), t.data_type) for t in inits]
    g = helper.make_graph(nodes, 'bn-opset7', graph_inputs, [value('dense0_fwd', ['N', 5])], inits)

    def f(x):
        a = batchnorm(x, scale0, bias0, mean0, var0, 2e-5)
        a = relu(batchnorm(conv2d(a, w, None, (2, 2), (1, 1, 1, 1)), scale1, bias1, mean1, var1, 1e-3))
        return gemm(a.mean(axis=(2, 3)), fc_w, fc_b, trans_b=True)
    save('bn-opset7', model(g, 7, ir=3), *run_batches(f, rng, (1, 3, 6, 6), (1, 3)))


def bn_opset14():
    """BatchNormalization unfolded the way torch writes it with TrainingMode.PRESERVE
    (training_mode=0), Flatten, Gemm."""
    rng = np.random.RandomState(4)
    w = rand(rng, 4, 2, 3, 3)
    scale, bias, mean, var = rand(rng, 4, low=0.5, high=1.5), rand(rng, 4), rand(rng, 4), rand(rng, 4, low=0.5, high=2)
    fc_w, fc_b = rand(rng, 3, 4), rand(rng, 3)
    nodes = [
        helper.make_node('Conv', ['x', 'features.0.weight'], ['c'], name='features.0', pads=[1, 1, 1, 1]),
        helper.make_node('BatchNormalization', ['c', 'features.1.weight', 'features.1.bias',
                                                'features.1.running_mean', 'features.1.running_var'], ['b'],
                         name='features.1', epsilon=1e-5, momentum=0.9, training_mode=0),
        helper.make_node('Relu', ['b'], ['r'], name='features.2'),
        helper.make_node('GlobalAveragePool', ['r'], ['p'], name='pool'),
        helper.make_node('Flatten', ['p'], ['flat'], name='flatten', axis=1),
        helper.make_node('Gemm', ['flat', 'fc.weight', 'fc.bias'], ['logits'], name='fc', transB=1),
    ]
    g = helper.make_graph(nodes, 'bn-opset14', [value('x', ['N', 2, 5, 5])], [value('logits', ['N', 3])],
                          [init('features.0.weight', w), init('features.1.weight', scale),
                           init('features.1.bias', bias), init('features.1.running_mean', mean),
                           init('features.1.running_var', var), init('fc.weight', fc_w), init('fc.bias', fc_b)])

    def f(x):
        a = relu(batchnorm(conv2d(x, w, None, (1, 1), (1, 1, 1, 1)), scale, bias, mean, var, 1e-5))
        return gemm(a.mean(axis=(2, 3)), fc_w, fc_b, trans_b=True)
    save('bn-opset14', model(g, 14), *run_batches(f, rng, (1, 2, 5, 5), (1, 3)))


def clip_opset10():
    """Clip with min/max attributes (opset < 11), one of them absent."""
    rng = np.random.RandomState(5)
    w = rand(rng, 3, 3, 1, 1, low=-3, high=3)
    nodes = [
        helper.make_node('Conv', ['x', 'w'], ['c'], name='conv'),
        helper.make_node('Clip', ['c'], ['r6'], name='relu6', min=0.0, max=6.0),
        helper.make_node('Clip', ['r6'], ['y'], name='cap', max=2.5),
    ]
    g = helper.make_graph(nodes, 'clip-opset10', [value('x', [1, 3, 4, 4])], [value('y', [1, 3, 4, 4])],
                          [init('w', w)])

    def f(x):
        return np.minimum(np.clip(conv2d(x, w), 0, 6), 2.5)
    save('clip-opset10', model(g, 10), *run_batches(f, rng, (1, 3, 4, 4)))


def clip_opset11():
    """Clip with min/max inputs (opset >= 11): from Constant nodes (as torch writes
    them), from an initializer (as tf2onnx does), max only, and none at all."""
    rng = np.random.RandomState(6)
    w = rand(rng, 3, 3, 1, 1, low=-3, high=3)
    nodes = [
        helper.make_node('Conv', ['x', 'w'], ['c'], name='conv'),
        helper.make_node('Constant', [], ['zero'], name='const_min', value=numpy_helper.from_array(np.array(0, np.float32))),
        helper.make_node('Constant', [], ['six'], name='const_max', value=numpy_helper.from_array(np.array(6, np.float32))),
        helper.make_node('Clip', ['c', 'zero', 'six'], ['r6'], name='relu6'),
        helper.make_node('Clip', ['r6', 'low', ''], ['a'], name='floor'),
        helper.make_node('Clip', ['a', '', 'high'], ['b'], name='cap'),
        helper.make_node('Clip', ['b'], ['y'], name='unbounded'),
    ]
    g = helper.make_graph(nodes, 'clip-opset11', [value('x', [1, 3, 4, 4])], [value('y', [1, 3, 4, 4])],
                          [init('w', w), init('low', np.array(0.5, np.float32)), init('high', np.array(3.0, np.float32))])

    def f(x):
        return np.minimum(np.maximum(np.clip(conv2d(x, w), 0, 6), 0.5), 3.0)
    save('clip-opset11', model(g, 11), *run_batches(f, rng, (1, 3, 4, 4)))


def activations():
    """HardSwish, SiLU (Sigmoid * x), the squeeze-excite gate with HardSigmoid(1/6) and
    a per-channel Mul/Add by constants."""
    rng = np.random.RandomState(7)
    w = rand(rng, 4, 3, 3, 3)
    se_w, se_b = rand(rng, 4, 4, 1, 1), rand(rng, 4)
    scale, shift = rand(rng, 1, 4, 1, 1), rand(rng, 4, 1, 1)
    nodes = [
        helper.make_node('Conv', ['x', 'w'], ['c'], name='conv', pads=[1, 1, 1, 1]),
        helper.make_node('HardSwish', ['c'], ['hs'], name='hardswish'),
        helper.make_node('Sigmoid', ['hs'], ['sg'], name='sigmoid'),
        helper.make_node('Mul', ['hs', 'sg'], ['silu'], name='silu'),
        helper.make_node('GlobalAveragePool', ['silu'], ['se_pool'], name='se.pool'),
        helper.make_node('Conv', ['se_pool', 'se.weight', 'se.bias'], ['se_conv'], name='se.conv'),
        helper.make_node('HardSigmoid', ['se_conv'], ['gate'], name='se.gate', alpha=1.0 / 6),
        helper.make_node('Mul', ['silu', 'gate'], ['gated'], name='se.mul'),
        helper.make_node('Mul', ['gated', 'scale'], ['scaled'], name='scale'),
        helper.make_node('Add', ['shift', 'scaled'], ['shifted'], name='shift'),
        helper.make_node('HardSigmoid', ['shifted'], ['y'], name='hardsigmoid'),
    ]
    g = helper.make_graph(nodes, 'activations', [value('x', ['N', 3, 5, 5])], [value('y', ['N', 4, 5, 5])],
                          [init('w', w), init('se.weight', se_w), init('se.bias', se_b), init('scale', scale),
                           init('shift', shift)])

    def f(x):
        a = hard_swish(conv2d(x, w, None, (1, 1), (1, 1, 1, 1)))
        a = a * sigmoid(a)
        gate = hard_sigmoid(conv2d(a.mean(axis=(2, 3), keepdims=True), se_w, se_b), 1 / 6, 0.5)
        return hard_sigmoid(a * gate * scale + shift)
    save('activations', model(g, 14), *run_batches(f, rng, (1, 3, 5, 5), (1, 3)))


def pools():
    """MaxPool (pads, ceil_mode, storage_order), AveragePool with and without
    count_include_pad, Concat of the two, ReduceMean over (H, W) without keepdims."""
    rng = np.random.RandomState(8)
    nodes = [
        helper.make_node('MaxPool', ['x'], ['mp'], name='maxpool', kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1], ceil_mode=1, storage_order=0),
        helper.make_node('AveragePool', ['x'], ['ap'], name='avgpool', kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=0),
        helper.make_node('AveragePool', ['x'], ['ap2'], name='avgpool_pad', kernel_shape=[3, 2], strides=[2, 2],
                         pads=[1, 1, 2, 1], count_include_pad=1),
        helper.make_node('MaxPool', ['ap2'], ['mp2'], name='maxpool_same', kernel_shape=[2, 2], auto_pad='SAME_UPPER',
                         strides=[1, 1]),
        helper.make_node('Concat', ['mp', 'ap', 'mp2'], ['cat'], name='concat', axis=1),
        helper.make_node('ReduceMean', ['cat'], ['y'], name='mean', axes=[-1, 2], keepdims=0),
    ]
    g = helper.make_graph(nodes, 'pools', [value('x', ['N', 2, 10, 10])], [value('y', ['N', 6])], [])

    def f(x):
        mp = pool2d(x, 'max', (3, 3), (2, 2), (1, 1, 1, 1), True)
        ap = pool2d(x, 'avg', (3, 3), (2, 2), (1, 1, 1, 1), True, False)
        ap2 = pool2d(x, 'avg', (3, 2), (2, 2), (1, 1, 2, 1), False, True)
        mp2 = pool2d(ap2, 'max', (2, 2), (1, 1), (0, 0, 1, 1))
        return np.concatenate([mp, ap, mp2], axis=1).mean(axis=(2, 3))
    save('pools', model(g, 12), *run_batches(f, rng, (1, 2, 10, 10), (1, 3)))


def gemm_softmax():
    """Gemm with alpha, beta, C and transB on a rank-2 input; Softmax at the output
    (opset 11: axis 1)."""
    rng = np.random.RandomState(9)
    w1, c1 = rand(rng, 6, 10), rand(rng, 1, 6)
    w2, c2 = rand(rng, 6, 4), rand(rng, 4)
    nodes = [
        helper.make_node('Gemm', ['x', 'fc1.weight', 'fc1.bias'], ['h'], name='fc1', transB=1, alpha=0.5, beta=2.0),
        helper.make_node('Relu', ['h'], ['hr'], name='relu'),
        helper.make_node('Gemm', ['hr', 'fc2.weight', 'fc2.bias'], ['logits'], name='fc2'),
        helper.make_node('Softmax', ['logits'], ['probs'], name='softmax'),
    ]
    g = helper.make_graph(nodes, 'gemm-softmax', [value('x', ['N', 10])], [value('probs', ['N', 4])],
                          [init('fc1.weight', w1), init('fc1.bias', c1), init('fc2.weight', w2), init('fc2.bias', c2)])

    def f(x):
        return softmax(gemm(relu(gemm(x, w1, c1, 0.5, 2.0, trans_b=True)), w2, c2), 1)
    save('gemm-softmax', model(g, 11), *run_batches(f, rng, (1, 10), (1, 3)))


def softmax_4d():
    """Softmax before opset 13 on a rank-4 tensor with axis 1: it normalises over the
    flattened (C, H, W)."""
    rng = np.random.RandomState(10)
    w = rand(rng, 2, 2, 1, 1)
    nodes = [
        helper.make_node('Conv', ['x', 'w'], ['c'], name='conv'),
        helper.make_node('Softmax', ['c'], ['y'], name='softmax', axis=1),
    ]
    g = helper.make_graph(nodes, 'softmax-4d', [value('x', ['N', 2, 3, 3])], [value('y', ['N', 2, 3, 3])],
                          [init('w', w)])

    def f(x):
        c = conv2d(x, w)
        return softmax(c.reshape(c.shape[0], -1), 1).reshape(c.shape)
    save('softmax-4d', model(g, 11), *run_batches(f, rng, (1, 2, 3, 3), (1, 3)))


def flatten_chain(opset):
    """The old PyTorch flatten, x.reshape(x.size(0), -1): Shape -> Gather -> Unsqueeze
    -> Concat -> Reshape (mobilenetv2-10/-12). Unsqueeze axes: attribute before opset
    13, input from 13."""
    rng = np.random.RandomState(11 + opset)
    w, fc_w, fc_b = rand(rng, 4, 3, 3, 3), rand(rng, 5, 4), rand(rng, 5)
    inits = [init('conv.weight', w), init('classifier.weight', fc_w), init('classifier.bias', fc_b)]
    nodes = [
        helper.make_node('Conv', ['input', 'conv.weight'], ['c'], name='conv', pads=[1, 1, 1, 1]),
        helper.make_node('Clip', ['c'], ['r'], name='relu6', min=0.0, max=6.0) if opset < 11 else
        helper.make_node('Relu', ['c'], ['r'], name='relu'),
        helper.make_node('GlobalAveragePool', ['r'], ['464'], name='pool'),
        helper.make_node('Shape', ['464'], ['465'], name='Shape_0'),
        helper.make_node('Constant', [], ['466'], name='Constant_1', value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node('Gather', ['465', '466'], ['467'], name='Gather_2', axis=0),
        helper.make_node('Constant', [], ['468'], name='Constant_3', value=numpy_helper.from_array(np.array(-1, np.int64))),
    ]
    if opset < 13:
        nodes += [helper.make_node('Unsqueeze', ['467'], ['469'], name='Unsqueeze_4', axes=[0]),
                  helper.make_node('Unsqueeze', ['468'], ['470'], name='Unsqueeze_5', axes=[0])]
    else:
        inits.append(init('axes0', np.array([0], np.int64)))
        nodes += [helper.make_node('Unsqueeze', ['467', 'axes0'], ['469'], name='Unsqueeze_4'),
                  helper.make_node('Unsqueeze', ['468', 'axes0'], ['470'], name='Unsqueeze_5')]
    nodes += [
        helper.make_node('Concat', ['469', '470'], ['471'], name='Concat_6', axis=0),
        helper.make_node('Reshape', ['464', '471'], ['472'], name='Reshape_7'),
        helper.make_node('Gemm', ['472', 'classifier.weight', 'classifier.bias'], ['output'], name='Gemm_8',
                         alpha=1.0, beta=1.0, transB=1),
    ]
    g = helper.make_graph(nodes, 'torch-jit-export', [value('input', ['batch_size', 3, 6, 6])],
                          [value('output', ['batch_size', 5])], inits)

    def f(x):
        a = conv2d(x, w, None, (1, 1), (1, 1, 1, 1))
        a = np.clip(a, 0, 6) if opset < 11 else relu(a)
        return gemm(a.mean(axis=(2, 3)), fc_w, fc_b, trans_b=True)
    save('flatten-chain-opset%d' % opset, model(g, opset), *run_batches(f, rng, (1, 3, 6, 6), (1, 3)))


def squeeze_unsqueeze(opset):
    """Squeeze/Unsqueeze of activations: axes attribute before opset 13, input from 13;
    Squeeze without axes keeps the batch."""
    rng = np.random.RandomState(20 + opset)
    w = rand(rng, 3, 2, 2, 2)
    inits = [init('w', w)]
    if opset < 13:
        nodes = [helper.make_node('Squeeze', ['p'], ['s'], name='squeeze', axes=[2, 3]),
                 helper.make_node('Unsqueeze', ['s'], ['u'], name='unsqueeze', axes=[1, -1])]
    else:
        inits += [init('squeeze_axes', np.array([-1, 2], np.int64)), init('unsqueeze_axes', np.array([1, 3], np.int64))]
        nodes = [helper.make_node('Squeeze', ['p', 'squeeze_axes'], ['s'], name='squeeze'),
                 helper.make_node('Unsqueeze', ['s', 'unsqueeze_axes'], ['u'], name='unsqueeze')]
    nodes = [helper.make_node('Conv', ['x', 'w'], ['c'], name='conv'),
             helper.make_node('GlobalAveragePool', ['c'], ['p'], name='pool')] + nodes + [
             helper.make_node('Squeeze', ['u'], ['y'], name='squeeze_all')]
    g = helper.make_graph(nodes, 'squeeze-unsqueeze', [value('x', ['N', 2, 4, 4])], [value('y', ['N', 3])], inits)

    def f(x):
        return conv2d(x, w).mean(axis=(2, 3))
    save('squeeze-opset%d' % opset, model(g, opset), *run_batches(f, rng, (1, 2, 4, 4), (1, 3)))


def nhwc():
    """An NHWC input (like tf2onnx's efficientnet-lite4): Transpose (0,3,1,2) first;
    MatMul + Add become one Gemm; Softmax at the end (opset 11, rank 2)."""
    rng = np.random.RandomState(30)
    w, b = rand(rng, 4, 3, 3, 3), rand(rng, 4)
    fc_w, fc_b = rand(rng, 4, 5), rand(rng, 5)
    nodes = [
        helper.make_node('Transpose', ['images:0'], ['nchw'], name='transpose', perm=[0, 3, 1, 2]),
        helper.make_node('Conv', ['nchw', 'conv/w', 'conv/b'], ['c'], name='conv', pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node('Clip', ['c', 'clip/min', 'clip/max'], ['r'], name='relu6'),
        helper.make_node('GlobalAveragePool', ['r'], ['p'], name='pool'),
        helper.make_node('Squeeze', ['p'], ['s'], name='squeeze', axes=[2, 3]),
        helper.make_node('MatMul', ['s', 'dense/kernel'], ['mm'], name='dense/MatMul'),
        helper.make_node('Add', ['mm', 'dense/bias'], ['logits:0'], name='dense/BiasAdd'),
        helper.make_node('Softmax', ['logits:0'], ['Softmax:0'], name='Softmax'),
    ]
    g = helper.make_graph(nodes, 'nhwc', [value('images:0', [1, 7, 7, 3])], [value('Softmax:0', [1, 5])],
                          [init('conv/w', w), init('conv/b', b), init('clip/min', np.array(0, np.float32)),
                           init('clip/max', np.array(6, np.float32)), init('dense/kernel', fc_w), init('dense/bias', fc_b)])

    def f(x):
        a = np.clip(conv2d(x.transpose(0, 3, 1, 2), w, b, (2, 2), (1, 1, 1, 1)), 0, 6)
        return softmax(a.mean(axis=(2, 3)) @ fc_w + fc_b, 1)
    save('nhwc', model(g, 11, producer='tf2onnx'), *run_batches(f, rng, (1, 7, 7, 3), (1, 3)))


def identity_constant():
    """Constant nodes as weights and operands (value, value_float, value_floats), an
    initializer shared through Identity by two Convs (torch's deduplicated BN biases),
    Identity of an activation, and an Identity that makes the graph output."""
    rng = np.random.RandomState(31)
    w1, w2, bias = rand(rng, 3, 2, 1, 1), rand(rng, 3, 3, 1, 1), rand(rng, 3)
    per_channel = rand(rng, 3)
    nodes = [
        helper.make_node('Constant', [], ['conv1.weight'], name='weight_const', value=numpy_helper.from_array(w1)),
        helper.make_node('Identity', ['shared_bias'], ['onnx::Conv_7'], name='Identity_0'),
        helper.make_node('Identity', ['shared_bias'], ['onnx::Conv_8'], name='Identity_1'),
        helper.make_node('Conv', ['x', 'conv1.weight', 'onnx::Conv_7'], ['c1'], name='conv1'),
        helper.make_node('Identity', ['c1'], ['c1_alias'], name='alias'),
        helper.make_node('Conv', ['c1_alias', 'conv2.weight', 'onnx::Conv_8'], ['c2'], name='conv2'),
        helper.make_node('Constant', [], ['half'], name='half', value_float=0.5),
        helper.make_node('Mul', ['c2', 'half'], ['m'], name='mul_half'),
        helper.make_node('Constant', [], ['offsets'], name='offsets', value_floats=per_channel.tolist()),
        helper.make_node('Constant', [], ['offsets_shape'], name='offsets_shape', value_ints=[3, 1, 1]),
        helper.make_node('Reshape', ['offsets', 'offsets_shape'], ['offsets3'], name='offsets_reshape'),
        helper.make_node('Add', ['m', 'offsets3'], ['a'], name='add_offsets'),
        helper.make_node('Identity', ['a'], ['y'], name='output_identity'),
    ]
    g = helper.make_graph(nodes, 'identity-constant', [value('x', ['N', 2, 3, 3])], [value('y', ['N', 3, 3, 3])],
                          [init('shared_bias', bias), init('conv2.weight', w2)])

    def f(x):
        c = conv2d(conv2d(x, w1, bias), w2, bias)
        return c * 0.5 + per_channel.reshape(3, 1, 1)
    save('identity-constant', model(g, 13), *run_batches(f, rng, (1, 2, 3, 3), (1, 3)))


def normalise():
    """A normalisation prologue: Sub by a mean and Div by a std (per channel and a
    scalar), then Conv; a double initializer and an int32 constant Cast to int64."""
    rng = np.random.RandomState(32)
    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
    w = rand(rng, 2, 3, 1, 1)
    bias = rand(rng, 2).astype(np.float64)
    nodes = [
        helper.make_node('Sub', ['x', 'mean'], ['centred'], name='sub_mean'),
        helper.make_node('Div', ['centred', 'std'], ['normalised'], name='div_std'),
        helper.make_node('Div', ['normalised', 'two'], ['halved'], name='div_two'),
        helper.make_node('Conv', ['halved', 'w', 'b'], ['c'], name='conv'),
        helper.make_node('Constant', [], ['shape32'], name='shape32',
                         value=helper.make_tensor('shape32', TensorProto.INT32, [2], [1, -1])),
        helper.make_node('Cast', ['shape32'], ['shape64'], name='cast', to=TensorProto.INT64),
        helper.make_node('Reshape', ['c', 'shape64'], ['y'], name='flatten'),
    ]
    g = helper.make_graph(nodes, 'normalise', [value('x', ['N', 3, 2, 2])], [value('y', ['N', 8])],
                          [init('mean', mean), init('std', std), init('two', np.array(2.0, np.float32)),
                           init('w', w), numpy_helper.from_array(bias, 'b')])

    def f(x):
        a = (x - mean) / std / 2
        return conv2d(a, w, bias).reshape(x.shape[0], -1)
    # A double bias for a float Conv is not valid typing: the checker is skipped.
    save('normalise', model(g, 13), *run_batches(f, rng, (1, 3, 2, 2), (1, 3)), check=False)


def external():
    """Weights in an external file next to the model (offsets into one file)."""
    rng = np.random.RandomState(33)
    w, b = rand(rng, 3, 2, 3, 3), rand(rng, 3)
    blob = b.tobytes() + bytes(12) + w.tobytes()
    with open(os.path.join(HERE, 'external.bin'), 'wb') as f:
        f.write(blob)
    tensors = []
    for name, array, offset in (('conv.weight', w, len(b.tobytes()) + 12), ('conv.bias', b, 0)):
        t = TensorProto()
        t.name, t.data_type = name, F
        t.dims.extend(array.shape)
        t.data_location = TensorProto.EXTERNAL
        for k, v in (('location', 'external.bin'), ('offset', str(offset)), ('length', str(array.nbytes))):
            e = t.external_data.add()
            e.key, e.value = k, v
        tensors.append(t)
    nodes = [helper.make_node('Conv', ['x', 'conv.weight', 'conv.bias'], ['y'], name='conv', pads=[1, 1, 1, 1])]
    g = helper.make_graph(nodes, 'external', [value('x', [1, 2, 4, 4])], [value('y', [1, 3, 4, 4])], tensors)

    def f(x):
        return conv2d(x, w, b, (1, 1), (1, 1, 1, 1))
    save('external', model(g, 13), *run_batches(f, rng, (1, 2, 4, 4)), check=False)


def pad_conv():
    """A zero Pad (pads as an input, opset 11+) folded into the Conv after it and into an
    AveragePool; Dropout with a ratio input (opset 12+)."""
    rng = np.random.RandomState(34)
    w = rand(rng, 3, 2, 3, 3)
    nodes = [
        helper.make_node('Pad', ['x', 'pads'], ['padded'], name='pad', mode='constant'),
        helper.make_node('Conv', ['padded', 'w'], ['c'], name='conv', strides=[2, 1]),
        helper.make_node('Pad', ['c', 'pads2', 'zero'], ['padded2'], name='pad2'),
        helper.make_node('AveragePool', ['padded2'], ['ap'], name='avgpool', kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node('Dropout', ['ap', 'ratio'], ['y'], name='dropout'),
    ]
    g = helper.make_graph(nodes, 'pad-conv', [value('x', ['N', 2, 6, 5])], [value('y', ['N', 3, 2, 3])],
                          [init('w', w), init('pads', np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)),
                           init('pads2', np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64)),
                           init('zero', np.array(0, np.float32)), init('ratio', np.array(0.1, np.float32))])

    def f(x):
        c = conv2d(np.pad(x, ((0, 0), (0, 0), (1, 2), (2, 1))), w, None, (2, 1))
        return pool2d(np.pad(c, ((0, 0), (0, 0), (1, 0), (0, 1))), 'avg', (2, 2), (2, 2))
    save('pad-conv', model(g, 13), *run_batches(f, rng, (1, 2, 6, 5), (1, 3)))


def reshape_literal():
    """Reshape by a plain constant [1, -1]: some exporters write the batch as 1."""
    rng = np.random.RandomState(35)
    w, fc_w = rand(rng, 3, 2, 1, 1), rand(rng, 4, 12)
    nodes = [
        helper.make_node('Conv', ['x', 'w'], ['c'], name='conv'),
        helper.make_node('Reshape', ['c', 'shape'], ['flat'], name='flatten'),
        helper.make_node('Gemm', ['flat', 'fc'], ['y'], name='fc', transB=1),
    ]
    g = helper.make_graph(nodes, 'reshape-literal', [value('x', [1, 2, 2, 2])], [value('y', [1, 4])],
                          [init('w', w), init('shape', np.array([1, -1], np.int64)), init('fc', fc_w)])

    def f(x):
        return gemm(conv2d(x, w).reshape(x.shape[0], -1), fc_w, trans_b=True)
    save('reshape-literal', model(g, 13), *run_batches(f, rng, (1, 2, 2, 2), (1, 3)))


def upsample_opset7():
    """Upsample-7: nearest, the scales in an attribute, after a 1x1 Conv."""
    rng = np.random.RandomState(23)
    w = rand(rng, 2, 2, 1, 1, low=-2, high=2)
    scales = [1.0, 1.0, 2.0, 3.0]
    nodes = [
        helper.make_node('Conv', ['x', 'w'], ['c'], name='conv'),
        helper.make_node('Upsample', ['c'], ['y'], name='up', mode='nearest', scales=scales),
    ]
    g = helper.make_graph(nodes, 'upsample-opset7', [value('x', [1, 2, 3, 4])], [value('y', [1, 2, 6, 12])],
                          [init('w', w)])

    def f(x):
        return upsample_asymmetric(conv2d(x, w), scales, 'nearest')
    save('upsample-opset7', model(g, 7), *run_batches(f, rng, (1, 2, 3, 4), (1, 3)))


def upsample_opset9():
    """Upsample-9: linear, the scales an initializer input (fractional in W), after a
    1x1 Conv."""
    rng = np.random.RandomState(24)
    w = rand(rng, 2, 2, 1, 1, low=-2, high=2)
    scales = np.array([1.0, 1.0, 2.0, 1.5], np.float32)
    nodes = [
        helper.make_node('Conv', ['x', 'w'], ['c'], name='conv'),
        helper.make_node('Upsample', ['c', 'scales'], ['y'], name='up', mode='linear'),
    ]
    g = helper.make_graph(nodes, 'upsample-opset9', [value('x', [1, 2, 3, 4])], [value('y', [1, 2, 6, 6])],
                          [init('w', w), init('scales', scales)])

    def f(x):
        return upsample_asymmetric(conv2d(x, w), scales, 'linear')
    save('upsample-opset9', model(g, 9), *run_batches(f, rng, (1, 2, 3, 4), (1, 3)))


def resize_opset10():
    """Resize-10 (Upsample's semantics, no coordinate transformation attribute): nearest
    by whole scales, then linear by fractional ones, one of them shrinking."""
    rng = np.random.RandomState(25)
    w = rand(rng, 2, 2, 1, 1, low=-2, high=2)
    up = np.array([1.0, 1.0, 3.0, 2.0], np.float32)
    mixed = np.array([1.0, 1.0, 1.5, 0.75], np.float32)
    nodes = [
        helper.make_node('Conv', ['x', 'w'], ['c'], name='conv'),
        helper.make_node('Resize', ['c', 'up'], ['r'], name='nearest', mode='nearest'),
        helper.make_node('Resize', ['r', 'mixed'], ['y'], name='linear', mode='linear'),
    ]
    g = helper.make_graph(nodes, 'resize-opset10', [value('x', [1, 2, 3, 4])], [value('y', [1, 2, 13, 6])],
                          [init('w', w), init('up', up), init('mixed', mixed)])

    def f(x):
        return upsample_asymmetric(upsample_asymmetric(conv2d(x, w), up, 'nearest'), mixed, 'linear')
    save('resize-opset10', model(g, 10), *run_batches(f, rng, (1, 2, 3, 4), (1, 3)))


def torch_exports():
    """Two tiny nets exported by torch itself, expected outputs from torch: the old
    flatten x.reshape(x.shape[0], -1) at opset 12 with a dynamic batch, and an eval net
    exported with TrainingMode.PRESERVE and no constant folding, which keeps
    BatchNormalization unfolded under state_dict names."""
    import torch
    import torch.nn as nn
    torch.manual_seed(0)

    class OldFlatten(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU6())
            self.classifier = nn.Linear(4, 3)

        def forward(self, x):
            x = self.features(x)
            x = nn.functional.adaptive_avg_pool2d(x, 1).reshape(x.shape[0], -1)
            return self.classifier(x)

    class SmallNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(4)
            self.pool = nn.MaxPool2d(3, 2, 1)
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            x = self.pool(torch.relu(self.bn1(self.conv1(x))))
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    for name, net, kwargs in (
            ('torch-old-flatten', OldFlatten(), dict(opset_version=12)),
            ('torch-bn', SmallNet(), dict(opset_version=13, training=torch.onnx.TrainingMode.PRESERVE,
                                          do_constant_folding=False))):
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.5, 0.5)
        net.eval()
        path = os.path.join(HERE, name + '.onnx')
        x1 = torch.rand(1, 3, 8, 8) * 2 - 1
        x3 = torch.rand(3, 3, 8, 8) * 2 - 1
        torch.onnx.export(net, x1, path, input_names=['input'], output_names=['logits'],
                          dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}}, **kwargs)
        with torch.no_grad():
            outputs = {1: net(x1).numpy(), 3: net(x3).numpy()}
        m = onnx.load(path)
        save(name, m, {1: x1.numpy(), 3: x3.numpy()}, outputs)


def main():
    check_references()
    conv_relu()
    conv_autopad()
    bn_opset7()
    bn_opset14()
    clip_opset10()
    clip_opset11()
    activations()
    pools()
    gemm_softmax()
    softmax_4d()
    flatten_chain(10)
    flatten_chain(13)
    squeeze_unsqueeze(11)
    squeeze_unsqueeze(13)
    nhwc()
    identity_constant()
    normalise()
    external()
    pad_conv()
    reshape_literal()
    upsample_opset7()
    upsample_opset9()
    resize_opset10()
    torch_exports()


if __name__ == '__main__':
    sys.exit(main())
