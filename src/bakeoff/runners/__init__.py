"""Runners decide where each step runs. None of them may reimplement what a step does."""
