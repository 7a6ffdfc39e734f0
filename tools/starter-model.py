#!/usr/bin/python3
"""The architecture of Graft's starter model, written untrained (random init) as ONNX.

    /usr/bin/python3 tools/starter-model.py OUT.onnx [--seed N]

A small ResNet for 3x32x32 images ("ResNet-10" at CIFAR scale):

    conv1 3->16 3x3 + bn1 + ReLU                       32x32   (the "stem" block)
    layer1.0  basic block 16->16                        32x32
    layer2.0  basic block 16->32, stride 2 (+ 1x1 downsample)  16x16
    layer3.0  basic block 32->64, stride 2 (+ 1x1 downsample)   8x8
    layer4.0  basic block 64->128, stride 2 (+ 1x1 downsample)  4x4
    global average pool, fc 128->5

A basic block is conv-BN-ReLU-conv-BN, plus the skip (the identity, or a 1x1 conv + BN
when the shape changes), then ReLU, as in torchvision's ResNet. Parameters carry
torchvision's state_dict names (conv1.weight, bn1.running_mean, layer2.0.downsample.0.weight,
fc.bias, ...), so Graft's block analysis groups them into stem, layer1.0 ... layer4.0, fc.

The file is exported in eval mode with TrainingMode.PRESERVE and no constant folding, so
BatchNormalization stays a node of its own (not folded into the convolutions) and every
initializer keeps its state_dict name; the script checks both before it returns. Graft
(graft-cli train) does the training: see tools/make-starter.py.

Needs Debian's python3-torch and python3-onnx (use /usr/bin/python3).
"""
import argparse
import sys

import torch
from torch import nn

CLASSES = 5
WIDTHS = (16, 32, 64, 128)
INPUT_SIZE = 32


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class StarterNet(nn.Module):
    def __init__(self, classes=CLASSES, widths=WIDTHS):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        channels = widths[0]
        for stage, width in enumerate(widths):
            stride = 1 if stage == 0 else 2
            setattr(self, f"layer{stage + 1}", nn.Sequential(BasicBlock(channels, width, stride)))
            channels = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        # Zero-init the last BN of each residual branch: each block starts as the identity.
        for name, module in self.named_modules():
            if name.endswith(".bn2"):
                nn.init.zeros_(module.weight)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def export(path, seed=0):
    """Writes the untrained network to path and checks it; returns the model."""
    torch.manual_seed(seed)
    model = StarterNet().eval()
    dummy = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    # torch.onnx (1.13) merges initializers with equal values when it exports an eval-mode
    # model: at random init every BN's running mean is zeros, so layer1.0.bn1.running_mean
    # would become a reference to bn1.running_mean, and Graft, which trains and updates
    # them, would see one tensor shared by every BN of that width. Deduplicate by
    # identity only (what torch does for a training-mode export), for this export.
    deduplicate = torch._C._jit_pass_onnx_deduplicate_initializers
    torch._C._jit_pass_onnx_deduplicate_initializers = (
        lambda graph, params, is_train: deduplicate(graph, params, True))
    try:
        torch.onnx.export(
            model, dummy, path,
            input_names=["input"], output_names=["logits"],
            training=torch.onnx.TrainingMode.PRESERVE,
            do_constant_folding=False,
            opset_version=13,
            dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        )
    finally:
        torch._C._jit_pass_onnx_deduplicate_initializers = deduplicate
    check(path, model)
    return model


def check(path, model):
    """The ONNX file has BN nodes and exactly the state_dict's tensors under their names."""
    import onnx

    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    initializers = {t.name for t in proto.graph.initializer}
    expected = {name for name in model.state_dict() if not name.endswith("num_batches_tracked")}
    missing = sorted(expected - initializers)
    extra = sorted(initializers - expected)
    if missing or extra:
        raise SystemExit(f"{path}: initializer names differ from the state_dict: "
                         f"missing {missing[:5]}, unexpected {extra[:5]}")
    ops = [node.op_type for node in proto.graph.node]
    bn = ops.count("BatchNormalization")
    expected_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    if bn != expected_bn:
        raise SystemExit(f"{path}: {bn} BatchNormalization nodes, expected {expected_bn}")
    return ops


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = export(args.output, args.seed)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.output}: {parameters} parameters", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
