"""The tags of every MLflow experiment the template creates (training and ``scripts/sync_mlflow.py``)."""

# MLflow 3's UI opens an experiment without a kind in its GenAI view (traces, judges, evaluations); this is
# the tag the UI itself sets when a user picks "Model training": the runs table and metric charts come first.
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}
