"""Kubeflow Pipelines: components, pipelines, compile-time validation and a REST client.

Only ``stepio`` and ``ui_metrics`` run inside a pod, and neither imports kfp: a train pod starts
with what the step needs and nothing else. Everything else imports kfp inside its functions.
"""
