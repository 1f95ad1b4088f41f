"""The MLflow pyfunc of a samskaping model, logged as MLflow "models from code".

MLflow copies this file into every logged model and runs it when the model is
loaded; ``set_model`` tells MLflow which object to use. No Python object is
pickled, so loading a model runs only this file and the samskaping package
logged beside it (``code/samskaping``). The samskaping model folder itself is
the artifact ``model_dir`` (safetensors and JSON).

``mlflow.pyfunc.load_model(uri).predict(DataFrame with a text column)`` (and
optionally ``context``, the lead-in of a list item, as ``predict.py`` passes it)
returns the same table as ``predict.py``: per label set the label, its
probability and one probability column per class. With ``params={"output":
"raw"}`` it returns the raw probabilities instead, for a caller that decides
labels over many batches together (``samskaping.spark``). A transformer model
runs in ONNX Runtime (fp32, the same labels as PyTorch) unless it is loaded with
``model_config={"runtime": "torch"}``; the export is made once into the user's cache.
``model_config={"runtime": "bf16"}`` runs it as ``predict.py --bf16``.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.models import set_model

MODEL_DIR_KEY = "model_dir"
RAW_OUTPUT = "raw"  # params={"output": "raw"}: predict.raw_frame's probabilities (samskaping.spark decides itself)


class SamskapingModel(mlflow.pyfunc.PythonModel):
    """Loads the model folder once; classifies a frame with a ``text`` column."""

    def load_context(self, context: Any) -> None:
        from samskaping.runtime import RuntimeOptions, prepare

        # model_config={"runtime": "torch"} keeps a transformer in PyTorch; the default ("auto") runs it in
        # ONNX Runtime when an export is there or can be made (same labels, faster on a CPU)
        runtime = (getattr(context, "model_config", None) or {}).get("runtime", "auto")
        if runtime not in ("auto", "torch", "onnx", "bf16"):
            raise ValueError(f"model_config runtime must be auto, torch, onnx or bf16; got {runtime!r}")
        options = RuntimeOptions(
            runtime="torch" if runtime == "bf16" else runtime,
            bf16=runtime == "bf16",  # as predict.py --bf16 (refuses CPUs without bf16 instructions)
            set_threads=False,  # the caller's process (Spark, a notebook) keeps its own thread settings
            export_place="cache",  # the model folder is a fresh download each time: export once per machine
        )
        self.classifier = prepare(context.artifacts[MODEL_DIR_KEY], options).model

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from samskaping.predict import classify_frame

        if "text" not in model_input.columns:
            raise ValueError(f"input needs a 'text' column; got {list(model_input.columns)}")
        texts = model_input["text"].astype(str).tolist()
        contexts = self.classifier.contexts(model_input)  # the columns the model reads: context, heading, previous
        if (params or {}).get("output") == RAW_OUTPUT:
            from samskaping.predict import raw_frame

            return raw_frame(self.classifier, texts, contexts=contexts)
        return classify_frame(self.classifier, texts, contexts=contexts)


set_model(SamskapingModel())
