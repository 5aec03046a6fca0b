"""The champion as MLflow serves it: a pyfunc model *from code* around the skops Pipeline.

MLflow logs this file (not an object) as the model's code and runs it when a server loads the
model: ``set_model`` below hands it the model. Nothing is unpickled on the way. The alternatives
would be: a ``PythonModel`` instance, which MLflow stores with cloudpickle; or the sklearn
flavor, whose loader reads the skops file with the trusted types listed in the MLmodel file
(data from the registry, so whoever can write a version could widen it). MLflow gates both
behind ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` (on by default in 3.17; a server should turn it
off); this model loads with it off. The code file itself is as trusted as the registry that
holds it: it is ours, and it only imports bakeoff and calls ``set_model``.

The Pipeline is loaded with bakeoff's own allowlist (``modeling.loads``), and answers with
``predict.predictions``, the same function `bakeoff predict` writes: served and batch
predictions are equal by construction. The server needs bakeoff installed (as it needs
scikit-learn): ``mlflow models serve --env-manager local`` in bakeoff's environment, or a
serving image with bakeoff in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.models import set_model

from bakeoff.modeling import loads
from bakeoff.predict import predictions
from bakeoff.tracking import SERVED_PIPELINE


class ServedPipeline(mlflow.pyfunc.PythonModel):
    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.pipeline = loads(Path(context.artifacts[SERVED_PIPELINE]).read_bytes())

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return predictions(self.pipeline, model_input, field="model input")


set_model(ServedPipeline())
