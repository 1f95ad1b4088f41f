"""CPU speed helpers: thread settings, int8 that keeps fp32's labels, FLOP accounting.

None of this changes what a model predicts in fp32. The int8 path of
``predict.py --int8`` is ONNX Runtime's dynamic quantisation
(:mod:`samskaping.onnx_runtime`) with a recipe chosen per model by
:func:`calibrate` (``python -m samskaping.speed calibrate MODEL``): per-channel
7-bit weights, and the layer parts whose int8 products disturb the logits
most kept in fp32, added one by one until int8 keeps at least 99.5 % of
fp32's labels on the validation split. The agreement on the test split is
saved with the model (``int8.json``) and ``--int8`` refuses a model whose
saved agreement is below 99 % (:func:`int8_model`).

``predict.py --bf16`` (:mod:`samskaping.speed.bf16`) is PyTorch's bf16
autocast on CPUs with bf16 instructions (AMX, AVX512-BF16); its agreement with
fp32 is measured once per model in the same way (``bf16.json``).

:func:`quantize_int8` is the earlier PyTorch path (eager dynamic quantisation,
``torch.ao.quantization.quantize_dynamic``, optionally smoothed); the
benchmark keeps it as a comparison. PyTorch marks the ``torch.ao.quantization``
namespace deprecated in favour of ``torchao`` but it still ships and works in
torch 2.13; the warning is silenced and the import isolated in
:func:`_quantize_dynamic`.
"""

from samskaping.speed.bf16 import (
    BF16_FILE,
    bf16_model,
    measure_bf16,
    measure_bf16_folder,
    native_bf16_flags,
    read_bf16_measurement,
    to_bf16,
)
from samskaping.speed.int8 import (
    EFFECT_SENTENCES,
    INT8_FILE,
    MIN_AGREEMENT,
    RANKING_SENTENCES,
    VALIDATION_GOAL,
    calibrate,
    calibrate_folder,
    int8_model,
    label_agreement,
    layer_part_effects,
    layer_part_errors,
    layer_part_of,
    read_int8_calibration,
)
from samskaping.speed.machine import (
    encoder_flops,
    linear_count,
    matmul_gflops,
    physical_cores,
    quantized_linear_count,
    tune_threads,
)
from samskaping.speed.torch_int8 import SmoothedLinear, input_channel_maxima, quantize_int8

__all__ = [
    "BF16_FILE",
    "EFFECT_SENTENCES",
    "INT8_FILE",
    "MIN_AGREEMENT",
    "RANKING_SENTENCES",
    "VALIDATION_GOAL",
    "SmoothedLinear",
    "bf16_model",
    "calibrate",
    "calibrate_folder",
    "encoder_flops",
    "input_channel_maxima",
    "int8_model",
    "label_agreement",
    "layer_part_effects",
    "layer_part_errors",
    "layer_part_of",
    "linear_count",
    "matmul_gflops",
    "measure_bf16",
    "measure_bf16_folder",
    "native_bf16_flags",
    "physical_cores",
    "quantize_int8",
    "quantized_linear_count",
    "read_bf16_measurement",
    "read_int8_calibration",
    "to_bf16",
    "tune_threads",
]
