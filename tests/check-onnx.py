#!/usr/bin/python3
"""Checks an ONNX file with onnx.checker (full_check) and prints what another tool
reads from it, as JSON on stdout:

  {"ir_version": 7, "opset": 13, "producer_name": "Graft", "producer_version": "...",
   "graph_name": "...", "inputs": [{"name": "image", "shape": ["N", 3, 8, 8]}],
   "outputs": [...], "op_counts": {"Conv": 3, ...}, "initializers": 17,
   "metadata_props": {"key": "value", ...}}

Exits 1 with the checker's message on stderr when the model is invalid, 77 when the
onnx module is missing (the test skips then). Use Debian's /usr/bin/python3.
"""
import json
import sys


def shape_of(value_info):
    dims = []
    for dim in value_info.type.tensor_type.shape.dim:
        if dim.HasField("dim_param"):
            dims.append(dim.dim_param)
        elif dim.HasField("dim_value"):
            dims.append(dim.dim_value)
        else:
            dims.append(None)
    return dims


def main():
    if len(sys.argv) != 2:
        print("usage: check-onnx.py MODEL.onnx", file=sys.stderr)
        return 64
    try:
        import onnx
    except ImportError as error:
        print(f"the onnx module is missing: {error}", file=sys.stderr)
        return 77

    path = sys.argv[1]
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:  # the checker raises ValidationError, load DecodeError...
        print(f"{path}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1

    op_counts = {}
    for node in model.graph.node:
        op_counts[node.op_type] = op_counts.get(node.op_type, 0) + 1
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    report = {
        "ir_version": model.ir_version,
        "opset": opset,
        "producer_name": model.producer_name,
        "producer_version": model.producer_version,
        "graph_name": model.graph.name,
        "inputs": [{"name": i.name, "shape": shape_of(i)} for i in model.graph.input],
        "outputs": [{"name": o.name, "shape": shape_of(o)} for o in model.graph.output],
        "op_counts": op_counts,
        "initializers": len(model.graph.initializer),
        "metadata_props": {p.key: p.value for p in model.metadata_props},
    }
    json.dump(report, sys.stdout, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
