"""Models-from-code entry point: MLflow loads the pyfunc from this file, no pickle."""

import mlflow

from train.pyfunc import TopicTaggerPyfunc

mlflow.models.set_model(TopicTaggerPyfunc())
