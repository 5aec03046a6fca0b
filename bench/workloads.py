"""The two bake-offs bakeoff's scheduling is measured on: the same models for every contestant.

* equal: four random forests of the same size, each with its own seed;
* uneven: seven common classifiers whose costs differ by three orders of magnitude, where one
  forest is most of the work.
"""

from __future__ import annotations

from typing import Any

Model = tuple[str, str, dict[str, Any]]  # name, estimator, params

WORKLOADS: dict[str, dict[str, Any]] = {
    "equal": {"rows": 30_000, "features": 25, "models": [
        (f"forest-{seed}", "RandomForestClassifier", {"n_estimators": 100, "random_state": seed})
        for seed in range(4)]},
    "uneven": {"rows": 30_000, "features": 20, "models": [
        ("logistic", "LogisticRegression", {"max_iter": 1000}),
        ("naive-bayes", "GaussianNB", {}),
        ("knn", "KNeighborsClassifier", {}),
        ("tree", "DecisionTreeClassifier", {"random_state": 0}),
        ("extra-trees", "ExtraTreesClassifier", {"n_estimators": 100, "random_state": 0}),
        ("boosting", "HistGradientBoostingClassifier", {"max_iter": 300, "early_stopping": False,
                                                         "random_state": 0}),
        ("forest", "RandomForestClassifier", {"n_estimators": 200, "random_state": 0}),
    ]},
}
