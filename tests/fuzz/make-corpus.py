#!/usr/bin/python3
"""Writes the seed corpus of fuzz-onnx into tests/fuzz/corpus/: a copy of every small
model under tests/data/onnx/, plus hand-made models for the ops and file forms those
do not cover, plus a few broken files (truncated, cyclic, absurd sizes) so that the
fuzzer starts next to the error paths too.

Run with Debian's Python (it has onnx and numpy):

    /usr/bin/python3 tests/fuzz/make-corpus.py

Deterministic; every file stays small (the corpus is kept under 300 KB).
"""

import glob
import os
import shutil

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'corpus')
DATA = os.path.join(HERE, '..', 'data', 'onnx')
F = TensorProto.FLOAT
rng = np.random.RandomState(7)


def rand(*shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)


def init(name, array, raw=True):
    a = np.asarray(array)
    if raw:
        return numpy_helper.from_array(a, name)
    if a.dtype == np.int64:
        return helper.make_tensor(name, TensorProto.INT64, a.shape, a.flatten().tolist())
    return helper.make_tensor(name, F, a.shape, a.astype(np.float32).flatten().tolist())


def value(name, shape, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


def model(nodes, inputs, outputs, inits, opset, ir=7, name='g'):
    g = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)], producer_name='make-corpus.py')
    m.ir_version = ir
    return m


def write(name, data):
    if not isinstance(data, bytes):
        data = data.SerializeToString()
    with open(os.path.join(CORPUS, name + '.onnx'), 'wb') as f:
        f.write(data)


def hand_made():
    n = helper.make_node
    # SqueezeNet-like: fire module with Concat, MaxPool ceil_mode, GAP, Flatten, Gemm transB.
    write('fire-concat', model([
        n('Conv', ['x', 'w0', 'b0'], ['c0'], name='squeeze', kernel_shape=[1, 1]),
        n('Relu', ['c0'], ['r0']),
        n('Conv', ['r0', 'w1'], ['e1'], name='expand1x1'),
        n('Conv', ['r0', 'w3'], ['e3'], name='expand3x3', pads=[1, 1, 1, 1]),
        n('Concat', ['e1', 'e3'], ['cat'], axis=1),
        n('MaxPool', ['cat'], ['mp'], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        n('GlobalAveragePool', ['mp'], ['gap']),
        n('Flatten', ['gap'], ['flat'], axis=1),
        n('Gemm', ['flat', 'fc_w', 'fc_b'], ['y'], transB=1),
    ], [value('x', ['N', 3, 8, 8])], [value('y', ['N', 5])],
        [init('w0', rand(2, 3, 1, 1)), init('b0', rand(2)), init('w1', rand(2, 2, 1, 1)),
         init('w3', rand(2, 2, 3, 3)), init('fc_w', rand(5, 4)), init('fc_b', rand(5))], 13))

    # EfficientNet-like: depthwise conv, swish, squeeze-excite, residual Add, HardSwish.
    write('se-swish', model([
        n('Conv', ['x', 'dw'], ['d'], group=4, kernel_shape=[3, 3], pads=[1, 1, 1, 1], dilations=[1, 1]),
        n('Sigmoid', ['d'], ['ds']),
        n('Mul', ['d', 'ds'], ['sw']),
        n('GlobalAveragePool', ['sw'], ['se0']),
        n('Conv', ['se0', 'se_w1', 'se_b1'], ['se1']),
        n('Sigmoid', ['se1'], ['se1s']),
        n('Mul', ['se1', 'se1s'], ['se1m']),
        n('Conv', ['se1m', 'se_w2', 'se_b2'], ['se2']),
        n('HardSigmoid', ['se2'], ['gate'], alpha=1.0 / 6),
        n('Mul', ['sw', 'gate'], ['scaled']),
        n('Add', ['scaled', 'x'], ['res']),
        n('HardSwish', ['res'], ['y']),
    ], [value('x', [1, 4, 6, 6])], [value('y', [1, 4, 6, 6])],
        [init('dw', rand(4, 1, 3, 3)), init('se_w1', rand(2, 4, 1, 1)), init('se_b1', rand(2)),
         init('se_w2', rand(4, 2, 1, 1)), init('se_b2', rand(4))], 14))

    # Strided, dilated, asymmetric: depthwise stride 2, dilation 2, auto_pad SAME_LOWER.
    write('conv-strides', model([
        n('Conv', ['x', 'w'], ['c'], strides=[2, 2], dilations=[2, 2], pads=[2, 1, 0, 2]),
        n('Conv', ['c', 'dw', 'db'], ['d'], group=3, auto_pad='SAME_LOWER', kernel_shape=[3, 2], strides=[2, 1]),
        n('AveragePool', ['d'], ['a'], kernel_shape=[2, 2], pads=[1, 1, 0, 0], count_include_pad=1),
        n('LeakyRelu', ['a'], ['y'], alpha=0.1),
    ], [value('x', [1, 2, 11, 9])], [value('y', None)],
        [init('w', rand(3, 2, 3, 3)), init('dw', rand(3, 1, 3, 2)), init('db', rand(3))], 11))

    # MatMul, Transpose, Sub, Div, Softmax at opset 11 (axis 1 default).
    write('matmul-transpose', model([
        n('Transpose', ['x'], ['t'], perm=[0, 2, 1]),
        n('Flatten', ['t'], ['f'], axis=1),
        n('MatMul', ['f', 'm'], ['mm']),
        n('Sub', ['mm', 'mu'], ['s']),
        n('Div', ['s', 'sigma'], ['dv']),
        n('Softmax', ['dv'], ['y']),
    ], [value('x', [1, 3, 4])], [value('y', [1, 6])],
        [init('m', rand(12, 6)), init('mu', rand(6)), init('sigma', np.full(6, 2.0, np.float32))], 11))

    # GlobalMaxPool, ReduceMean over H,W (axes attribute, opset 13), Clip without bounds.
    write('reductions', model([
        n('ReduceMean', ['x'], ['rm'], axes=[2, 3], keepdims=1),
        n('GlobalMaxPool', ['x'], ['gm']),
        n('Add', ['rm', 'gm'], ['s']),
        n('Clip', ['s'], ['c']),
        n('ReduceMean', ['c'], ['y'], axes=[-1, -2], keepdims=0),
    ], [value('x', [1, 3, 5, 5])], [value('y', [1, 3])], [], 13))

    # Dropout: opset 7 (ratio attribute) and 13 (ratio input, mask output); Identity.
    write('dropout-opset7', model([
        n('Dropout', ['x'], ['d'], ratio=0.3),
        n('Identity', ['d'], ['y']),
    ], [value('x', [1, 4])], [value('y', [1, 4])], [], 7, ir=3))
    write('dropout-opset13', model([
        n('Dropout', ['x', 'ratio'], ['d', 'mask']),
        n('Gemm', ['d', 'w', 'c'], ['y'], transA=0, alpha=0.5, beta=2.0),
    ], [value('x', [1, 4])], [value('y', [1, 3])],
        [init('ratio', np.array(0.2, np.float32)), init('w', rand(4, 3)), init('c', rand(1, 3))], 13))
    # The bool training_mode input (what a training-mode torch export writes).
    write('dropout-bool', model([
        n('Dropout', ['x', 'ratio', 'training'], ['y']),
    ], [value('x', [1, 4])], [value('y', [1, 4])],
        [init('ratio', np.array(0.2, np.float32)), init('training', np.array(False))], 13))

    # IR 3 (MXNet style): initializers repeated in graph.input, typed float_data, an
    # int64_data Reshape shape [0, -1], BN with spatial=1 and is_test.
    write('ir3-typed', model([
        n('BatchNormalization', ['x', 'g', 'b', 'mean', 'var'], ['bn'], epsilon=1e-5, spatial=1, is_test=1),
        n('Relu', ['bn'], ['r']),
        n('Reshape', ['r', 'shape'], ['y']),
    ], [value('x', [1, 2, 3, 3]), value('g', [2]), value('b', [2]), value('mean', [2]), value('var', [2]),
        value('shape', [2], TensorProto.INT64)], [value('y', [1, 18])],
        [init('g', rand(2), False), init('b', rand(2), False), init('mean', rand(2), False),
         init('var', np.abs(rand(2)) + 0.5, False), init('shape', np.array([0, -1], np.int64), False)],
        7, ir=3))

    # Shape chain with Slice, Cast, Unsqueeze (opset 13 axes input), ConstantOfShape.
    write('shape-slice', model([
        n('Shape', ['x'], ['s']),
        n('Slice', ['s', 'start', 'end'], ['batch']),
        n('Cast', ['batch'], ['batch64'], to=TensorProto.INT64),
        n('Concat', ['batch64', 'minus1'], ['shape'], axis=0),
        n('Reshape', ['x', 'shape'], ['flat']),
        n('ConstantOfShape', ['two'], ['ones'], value=helper.make_tensor('v', F, [1], [1.0])),
        n('Unsqueeze', ['ones', 'axes'], ['ones2']),
        n('Add', ['flat', 'ones2'], ['y']),
    ], [value('x', ['batch', 2, 2, 2])], [value('y', ['batch', 8])],
        [init('start', np.array([0], np.int64)), init('end', np.array([1], np.int64)),
         init('minus1', np.array([-1], np.int64)), init('two', np.array([8], np.int64)),
         init('axes', np.array([0], np.int64))], 13))

    # NHWC input with a Transpose, Squeeze (opset 11 attribute), Softmax at the end.
    write('nhwc-softmax', model([
        n('Transpose', ['x'], ['t'], perm=[0, 3, 1, 2]),
        n('Conv', ['t', 'w'], ['c']),
        n('GlobalAveragePool', ['c'], ['g']),
        n('Squeeze', ['g'], ['s'], axes=[2, 3]),
        n('Softmax', ['s'], ['y'], axis=-1),
    ], [value('x', [1, 4, 4, 3])], [value('y', [1, 2])], [init('w', rand(2, 3, 1, 1))], 11))

    # Constant nodes of every attribute form (value, value_float, value_ints).
    write('constants', model([
        n('Constant', [], ['k'], value_float=0.5),
        n('Constant', [], ['shape'], value_ints=[1, -1]),
        n('Constant', [], ['bias'], value=helper.make_tensor('bias', F, [4], [1, 2, 3, 4])),
        n('Mul', ['x', 'k'], ['m']),
        n('Add', ['m', 'bias'], ['a']),
        n('Reshape', ['a', 'shape'], ['y']),
    ], [value('x', [1, 4])], [value('y', [1, 4])], [], 13))

    # Errors: an unsupported op, a custom domain, a cycle, a missing input, a tensor
    # produced twice, external data (refused without a folder), absurd and negative
    # dims, data shorter than its shape, a Conv whose groups do not divide.
    write('bad-unsupported-op', model([n('LSTM', ['x'], ['y'])], [value('x', [1, 4])], [value('y', [1, 4])], [], 13))
    write('bad-domain', model([n('Relu', ['x'], ['y'], domain='com.example')],
                              [value('x', [1, 4])], [value('y', [1, 4])], [], 13))
    write('bad-cycle', model([n('Relu', ['b'], ['a']), n('Relu', ['a'], ['b']), n('Add', ['x', 'b'], ['y'])],
                             [value('x', [1, 4])], [value('y', [1, 4])], [], 13))
    write('bad-missing-input', model([n('Add', ['x', 'nowhere'], ['y'])],
                                     [value('x', [1, 4])], [value('y', [1, 4])], [], 13))
    write('bad-twice', model([n('Relu', ['x'], ['y']), n('Sigmoid', ['x'], ['y'])],
                             [value('x', [1, 4])], [value('y', [1, 4])], [], 13))
    t = TensorProto()
    t.name, t.data_type = 'w', F
    t.dims.extend([2, 2, 1, 1])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (('location', '../../etc/passwd'), ('offset', '0'), ('length', '16')):
        e = t.external_data.add()
        e.key, e.value = k, v
    write('bad-external', model([n('Conv', ['x', 'w'], ['y'])], [value('x', [1, 2, 3, 3])], [value('y', None)],
                                [t], 13))
    huge = TensorProto()
    huge.name, huge.data_type = 'w', F
    huge.dims.extend([1 << 20, 1 << 20, 1 << 20, 1 << 20])
    huge.raw_data = bytes(16)
    write('bad-huge-dims', model([n('Conv', ['x', 'w'], ['y'])], [value('x', [1, 2, 3, 3])], [value('y', None)],
                                 [huge], 13))
    neg = TensorProto()
    neg.name, neg.data_type = 'b', F
    neg.dims.extend([-4])
    neg.float_data.extend([1, 2, 3, 4])
    write('bad-negative-dims', model([n('Add', ['x', 'b'], ['y'])], [value('x', [1, 4])], [value('y', [1, 4])],
                                     [neg], 13))
    short = TensorProto()
    short.name, short.data_type = 'b', F
    short.dims.extend([4])
    short.raw_data = bytes(7)
    write('bad-short-data', model([n('Add', ['x', 'b'], ['y'])], [value('x', [1, 4])], [value('y', [1, 4])],
                                  [short], 13))
    write('bad-groups', model([n('Conv', ['x', 'w'], ['y'], group=3)], [value('x', [1, 4, 3, 3])],
                              [value('y', None)], [init('w', rand(3, 1, 1, 1))], 13))
    write('bad-huge-input', model([n('Relu', ['x'], ['y'])], [value('x', [1, 1 << 30, 1 << 30, 4])],
                                  [value('y', None)], [], 13))
    write('bad-opset', model([n('Relu', ['x'], ['y'])], [value('x', [1, 4])], [value('y', [1, 4])], [], 6))

    # Not protobuf, or cut short.
    write('bad-empty', b'')
    write('bad-garbage', b'\x08\x07\x12\xff\xff\xff\xff\x0f' + bytes(range(32)))
    with open(os.path.join(DATA, 'conv-relu.onnx'), 'rb') as f:
        full = f.read()
    write('bad-truncated', full[:len(full) * 2 // 3])


def main():
    os.makedirs(CORPUS, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(DATA, '*.onnx'))):
        shutil.copy(path, os.path.join(CORPUS, os.path.basename(path)))
    hand_made()
    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(CORPUS, '*')))
    print('%d files, %d bytes' % (len(os.listdir(CORPUS)), total))
    assert total < 300_000


if __name__ == '__main__':
    main()
