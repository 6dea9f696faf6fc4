"""scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor``, drop-in replacements for
scikit-learn's, trained by chainrule's backpropagation.

A package rather than one ``sklearn.py``: scikit-learn's MLP training is some 1,500 lines
of behaviour to reproduce (two solvers, schedules, stopping rules, label handling), and
its pieces read better apart: ``_params`` (checks), ``_network`` (layers, initialization,
loss), ``_base`` (the training loops), ``_classifier``/``_regressor`` (labels and targets)
and ``_files`` (model files). Importing it imports scikit-learn; ``import chainrule`` does
not.

>>> from sklearn.datasets import load_breast_cancer
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from chainrule.sklearn import MLPClassifier
>>> X, y = load_breast_cancer(return_X_y=True)
>>> model = make_pipeline(StandardScaler(), MLPClassifier(solver="lbfgs", random_state=0))
>>> model.fit(X, y).score(X, y) > 0.98
True
"""

from chainrule.sklearn._classifier import MLPClassifier
from chainrule.sklearn._regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
