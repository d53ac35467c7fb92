"""QONNX -> folded FINN dataflow graph, using finn-plus transformations step by step.

This mirrors FINN's dataflow builder (qonnx_to_finn, tidy_up, streamline, convert_to_hw,
create_dataflow_partition, specialize_layers, target_fps_parallelization,
minimize_bit_width, hw_codegen) but calls the transformations directly, because the
builder module needs Vivado (DESIGN.md). Every stage is saved as ONNX and can be executed
in Python (`melflow.compiler.execute`), so a test can check each against the QONNX model.

What stays outside the accelerator, by design: the input layout change (NCHW -> NHWC with
one channel is a no-op on the stream order) and the classifier's positive output scale,
which argmax does not need. The accelerator returns integer logits.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from melflow.compiler.finn_env import init_finn
from melflow.compiler.folding import PackMVAUForDSP48
from melflow.compiler.lstm_cell import check_recurrent_supported
from melflow.compiler.lstm_hw import ConvertLSTMToHW, FoldLstmUnit
from melflow.compiler.memory import SpillWeightsToLutram, weight_lutram
from melflow.core import MelflowError

PYNQ_Z2_PART = "xc7z020clg400-1"

# Graph stages in order; each is saved as <out>/models/<index>_<name>.onnx.
STAGES = ["qonnx", "finn", "streamlined", "hw", "dataflow", "specialized", "folded", "ipgen"]

# Ops allowed around the dataflow partition (executed on the host, see module docstring).
_HOST_OPS_BEFORE = {"Transpose", "Reshape"}
_HOST_OPS_AFTER = {"Mul"}


@dataclass
class CompileOptions:
    fpga_part: str = PYNQ_Z2_PART
    clk_ns: float = 10.0
    target_fps: float = 5000.0  # inferences per second the folding aims for
    input_dtype: str = "INT8"
    mvau_wwidth_max: int = 1024  # widest weight stream SetFolding may give one MVAU (bits)
    # BRAM18s the weights may take; beyond them weights move to LUT RAM, at most lutram_budget
    # LUTs of it (melflow.compiler.memory). None leaves every weight memory where FINN put it.
    bram18_budget: int | None = None
    lutram_budget: int = 0

    @property
    def target_cycles(self) -> int:
        return int(1e9 / self.clk_ns / self.target_fps)


@dataclass
class CompiledModel:
    """Where a compilation left its models, and what the host must do around the accelerator."""

    out_dir: Path
    stage_paths: dict[str, str] = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    output_scale: float = 1.0  # positive scalar after the accelerator (argmax-invariant)

    def model(self, stage: str):
        from qonnx.core.modelwrapper import ModelWrapper

        return ModelWrapper(self.stage_paths[stage])

    def save(self) -> Path:
        p = self.out_dir / "compiled.json"
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        p.write_text(json.dumps(d, indent=2))
        return p

    @classmethod
    def load(cls, out_dir: str | Path) -> "CompiledModel":
        d = json.loads((Path(out_dir) / "compiled.json").read_text())
        d["out_dir"] = Path(d["out_dir"])
        return cls(**d)


def _tidy(model):
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (
        GiveReadableTensorNames,
        GiveUniqueNodeNames,
        RemoveStaticGraphInputs,
    )
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    for t in (InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(), InferDataTypes(), RemoveStaticGraphInputs()):
        model = model.transform(t)
    return model


def _streamline(model):
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.streamline import Streamline
    from qonnx.transformation.general import RemoveUnusedTensors
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    model = model.transform(absorb.AbsorbScalarBiasIntoMultiThreshold())
    model = model.transform(Streamline())
    model = model.transform(LowerConvsToMatMul())
    model = model.transform(absorb.AbsorbTransposeIntoMultiThreshold())
    model = model.transform(absorb.AbsorbConsecutiveTransposes())
    model = model.transform(Streamline())
    model = model.transform(InferDataLayouts())
    return model.transform(RemoveUnusedTensors())


def _convert_to_hw(model):
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import (
        InferConvInpGen,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.fm_padding import InferFMPadding
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
        InferQuantizedMatrixVectorActivation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.thresholding import (
        InferThresholdingLayer,
    )
    from finn.transformation.move_reshape import RemoveCNVtoFCFlatten
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    # Standalone thresholds: FINN's RTL MVAU has no embedded activation.
    for t in (
        InferThresholdingLayer(),
        InferQuantizedMatrixVectorActivation(),
        InferFMPadding(),
        InferConvInpGen(),
        RemoveCNVtoFCFlatten(),
        absorb.AbsorbConsecutiveTransposes(),
        GiveUniqueNodeNames(),
        InferDataLayouts(),
        InferDataTypes(),
        InferShapes(),
    ):
        model = model.transform(t)
    return _minimize_bit_width(model)


def _minimize_bit_width(model):
    from finn.transformation.fpgadataflow.minimize_accumulator_width import (
        MinimizeAccumulatorWidth,
    )
    from finn.transformation.fpgadataflow.minimize_weight_bit_width import (
        MinimizeWeightBitWidth,
    )
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.infer_datatypes import InferDataTypes

    # RoundAndClipThresholds must run before Thresholding RTL generation (DESIGN.md).
    for t in (MinimizeWeightBitWidth(), MinimizeAccumulatorWidth(), InferDataTypes(), RoundAndClipThresholds(), InferDataTypes(), MinimizeWeightBitWidth(), InferDataTypes()):
        model = model.transform(t)
    return model


def _check_mappable(model) -> None:
    """Every node between the first and last HW node must be a HW node; name the first that isn't."""
    nodes = list(model.graph.node)
    is_hw = [n.domain.startswith("finn.custom_op.fpgadataflow") for n in nodes]
    if not any(is_hw):
        raise MelflowError("no layer of the model could be mapped to hardware: " + ", ".join(f"{n.name} ({n.op_type})" for n in nodes))
    first, last = is_hw.index(True), len(is_hw) - 1 - is_hw[::-1].index(True)
    bad = [
        n for i, n in enumerate(nodes)
        if not is_hw[i] and not ((i < first and n.op_type in _HOST_OPS_BEFORE) or (i > last and n.op_type in _HOST_OPS_AFTER))
    ]
    if bad:
        # Name the layer the user wrote, not a layout change FINN put around it.
        layout = {"Transpose", "Reshape", "Flatten"}
        n = next((b for b in bad if b.op_type not in layout), bad[0])
        others = ", ".join(f"{b.name} ({b.op_type})" for b in bad if b is not n)
        raise MelflowError(
            f"node {n.name!r} (op type {n.op_type}) cannot be mapped to a hardware layer: "
            "melflow maps Conv/MatMul with quantized weights, quantized ReLU/identity activations "
            "(as thresholds), padding and one QuantLSTM; put anything else before the first or after the last layer"
            + (f" (also unmapped: {others})" if others else "")
        )


def _output_scale(parent) -> float:
    """The positive scalar the host applies after the accelerator (only a Mul may follow it)."""
    scale = 1.0
    after = False
    for n in parent.graph.node:
        if n.op_type == "StreamingDataflowPartition":
            after = True
        elif after:
            value = parent.get_initializer(n.input[1])
            if value is None or value.size != 1 or float(value.ravel()[0]) <= 0:
                raise MelflowError(
                    f"node {n.name!r} ({n.op_type}) after the last hardware layer is not a positive scalar "
                    "scale: the classifier must have no bias so that argmax of the integer logits is exact"
                )
            scale *= float(value.ravel()[0])
    return scale


def compile_qonnx(onnx_path: str | Path, out_dir: str | Path, options: CompileOptions | None = None) -> CompiledModel:
    """Lower a Brevitas-exported QONNX model to a folded dataflow graph with RTL generated per layer."""
    options = options or CompileOptions()
    out_dir = Path(out_dir).resolve()
    models_dir = out_dir / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    init_finn(out_dir / "finn_build")

    from finn.transformation.fpgadataflow.create_dataflow_partition import (
        CreateDataflowPartition,
    )
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from finn.transformation.fpgadataflow.set_folding import SetFolding
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from finn.util.basic import get_dsp_block
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    try:
        model = ModelWrapper(str(onnx_path))
    except Exception as err:  # onnx raises many types for a bad file
        raise MelflowError(f"cannot read ONNX model {onnx_path}: {err}") from None
    result = CompiledModel(out_dir=out_dir, options=asdict(options))

    def save(stage: str, m):
        path = models_dir / f"{STAGES.index(stage)}_{stage}.onnx"
        m.save(str(path))
        result.stage_paths[stage] = str(path)
        return m

    model = cleanup_model(model)
    check_recurrent_supported(model)  # a recurrent layer it cannot map is named before FINN sees it
    if not any(n.op_type in ("Quant", "BipolarQuant") for n in model.graph.node):
        raise MelflowError(f"{onnx_path} has no quantizers (a float model, weight_bits: null?): FINN maps only "
                           "quantized layers; train the model with weight_bits and act_bits set")
    model.set_tensor_datatype(model.graph.input[0].name, DataType[options.input_dtype])
    save("qonnx", model)
    # the LSTM first: FINN's conversion cannot take its cell apart (lstm_hw.py)
    model = save("finn", _tidy(model.transform(ConvertLSTMToHW()).transform(ConvertQONNXtoFINN())))
    model = save("streamlined", _streamline(model))
    model = save("hw", _convert_to_hw(model))
    _check_mappable(model)

    parent = model.transform(CreateDataflowPartition(partition_model_dir=str(out_dir / "finn_build" / "partitions")))
    result.output_scale = _output_scale(parent)
    parent.save(str(models_dir / "dataflow_parent.onnx"))
    result.stage_paths["parent"] = str(models_dir / "dataflow_parent.onnx")
    sdp = getCustomOp(parent.get_nodes_by_op_type("StreamingDataflowPartition")[0])
    model = save("dataflow", ModelWrapper(sdp.get_nodeattr("model")))

    for t in (SpecializeLayers(options.fpga_part), GiveUniqueNodeNames(), InferShapes(), InferDataTypes()):
        model = model.transform(t)
    model = save("specialized", model)
    # the LSTM first: SetFolding does not know it and would relax every layer to its cycles
    model = model.transform(FoldLstmUnit(options.target_cycles))
    model = model.transform(SetFolding(options.target_cycles, mvau_wwidth_max=options.mvau_wwidth_max))
    if get_dsp_block(options.fpga_part) == "DSP48E1":
        model = model.transform(PackMVAUForDSP48())
    model = _minimize_bit_width(model)
    if options.bram18_budget is not None:
        model = model.transform(SpillWeightsToLutram(options.fpga_part, options.bram18_budget, options.lutram_budget))
    model = save("folded", model)

    for t in (InsertDWC(), InsertFIFO(create_shallow_fifos=True), SpecializeLayers(options.fpga_part), GiveUniqueNodeNames(), InferShapes(), InferDataTypes()):
        model = model.transform(t)
    model = model.transform(PrepareIP(options.fpga_part, options.clk_ns))
    save("ipgen", model)
    result.save()
    return result


def folding_config(model) -> dict:
    """The FINN-format folding config (node name -> PE/SIMD/... attributes) of a HW graph."""
    from qonnx.custom_op.registry import getCustomOp

    keys = ["PE", "SIMD", "parallel_window", "ram_style", "resType", "mem_mode", "depth", "impl_style"]
    cfg: dict = {"Defaults": {}}
    for n in model.graph.node:
        inst = getCustomOp(n)
        attrs = inst.get_nodeattr_types()
        cfg[n.name] = {k: inst.get_nodeattr(k) for k in keys if k in attrs}
    return cfg


def layer_cycles(model) -> dict[str, int]:
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer

    return {k: int(v) for k, v in model.analysis(exp_cycles_per_layer).items()}


def layer_resources(model, fpga_part: str) -> dict[str, dict]:
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from qonnx.custom_op.registry import getCustomOp

    res = model.analysis(partial(res_estimation, fpgapart=fpga_part))
    for node in model.graph.node:  # FINN's RTL MVAU counts no LUTs, so none for weights in LUT RAM
        luts = weight_lutram(getCustomOp(node))
        if luts:
            res[node.name] = {**res[node.name], "LUT": res[node.name].get("LUT", 0) + luts, "LUTRAM": luts}
    return res


def as_int_array(x) -> np.ndarray:
    """Integer-valued float arrays from FINN execution, as exact int64."""
    a = np.asarray(x)
    r = np.rint(a)
    if not np.array_equal(r, a):
        raise MelflowError("expected integer values from the integer graph, got fractions")
    return r.astype(np.int64)
