"""The parameter and attribute documentation that both estimators share, written once."""

SHARED_PARAMETERS = """\
hidden_layer_sizes : int or sequence of int, default=(100,)
    Width of each hidden layer; ``()`` gives a linear model.
activation : str or sequence of str, default='relu'
    Activation after each hidden layer: ``'identity'``, ``'logistic'``, ``'tanh'``,
    ``'relu'`` (scikit-learn's), ``'leaky_relu'``, ``'elu'``, ``'gelu'``, ``'silu'``;
    one name for every layer or one per hidden layer.
solver : {'lbfgs', 'sgd', 'adam', 'adamw', 'rmsprop'}, default='adam'
    'sgd', 'adam' and 'lbfgs' take scikit-learn's steps exactly ('lbfgs' is scipy's
    L-BFGS-B on chainrule's loss and gradient, as in scikit-learn); 'adamw' is
    ``chainrule.optim.AdamW`` with decoupled weight decay ``alpha``; 'rmsprop' is
    ``chainrule.optim.RMSprop`` with smoothing ``beta_2``.
alpha : float, default=1e-4
    L2 penalty: ``alpha / (2 * w) * sum of squared weights`` (w: the summed sample
    weight of the batch, its size when unweighted) is added to each batch's loss, as in
    scikit-learn. With 'adamw', the decoupled weight decay rate instead.
batch_size : int or 'auto', default='auto'
    Samples per step of the stochastic solvers; 'auto' is ``min(200, n_samples)``.
learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
    Schedule for 'sgd': constant; ``learning_rate_init / (t + 1) ** power_t`` after
    each epoch (t: samples seen); or divided by 5 each time the loss (or validation
    score) stops improving by ``tol`` for ``n_iter_no_change`` epochs, until 1e-6.
learning_rate_init : float, default=1e-3
power_t : float, default=0.5
max_iter : int, default=200
    Epochs of the stochastic solvers; iterations of 'lbfgs'.
shuffle : bool, default=True
    Shuffle the samples before each epoch.
random_state : int, RandomState instance or None, default=None
    Draws the initial weights (scikit-learn's Glorot uniform, in scikit-learn's order:
    the same seed gives the same weights as scikit-learn's MLP), the validation split,
    the shuffles and the dropout masks.
tol : float, default=1e-4
    Improvement of the loss (or validation score) below which an epoch counts as no
    improvement; for 'lbfgs', the gradient size at which it stops.
verbose : bool or int, default=False
    Print the loss of each epoch to stdout, as scikit-learn does ('lbfgs' prints
    nothing, as scikit-learn's does with SciPy 1.15 and later).
warm_start : bool, default=False
    Start ``fit`` from the previous solution. A changed ``activation`` is taken (as in
    scikit-learn); a changed ``loss`` output, ``batch_norm``, ``dropout`` (the rate of
    any hidden layer) or ``dtype`` is refused, as are other layer sizes.
momentum : float in [0, 1], default=0.9
nesterovs_momentum : bool, default=True
early_stopping : bool, default=False
    Hold out ``validation_fraction`` of the data (stratified for two classes, as in
    scikit-learn, whose multiclass and multi-label splits are not) and stop when its score
    stops improving by ``tol`` for ``n_iter_no_change`` epochs; the weights of the best
    epoch are restored, also after a warm start that never beats the earlier best (where
    scikit-learn's MLP keeps the last epoch's).
validation_fraction : float in [0, 1), default=0.1
beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
epsilon : float, default=1e-8
n_iter_no_change : int or numpy.inf, default=10
max_fun : int, default=15000
    Most loss evaluations of 'lbfgs'."""

EXTRA_PARAMETERS = """\
dropout : float or sequence of float in [0, 1), default=0.0
    Dropout after each hidden activation while training (one value for every hidden
    layer, or one per layer).
batch_norm : bool, default=False
    ``chainrule.nn.BatchNorm1d`` between each hidden ``Linear`` layer and its activation.
dtype : {None, 'float32', 'float64'}, default=None
    Precision of the network; None follows the input, as scikit-learn does (float64
    unless X is float32). float32 trains faster.
callbacks : list of chainrule.train.Callback, optional
    Called as ``chainrule.train.fit`` calls them (epoch logs: ``loss``, ``val_loss`` and
    ``val_score`` with ``early_stopping=True``, ``lr``, ``time``): a hook written for
    Keras (``on_epoch_end(self, epoch, logs)``, also on an object that is not a
    ``Callback``) gets Keras's arguments, and each callback gets ``model`` (``model_``) and
    ``params``. A callback that sets ``state.stop_training`` or ``model.stop_training``
    ends training; one that monitors ``val_loss`` or ``val_score`` (a score: accuracy or
    R², which ``mode='auto'`` maximizes) needs ``early_stopping=True``, unless it does not
    read it (``ModelCheckpoint`` with ``save_best_only=False``). The epochs of successive
    ``partial_fit`` calls make one run, as the epochs of one ``fit`` do: ``on_train_begin``
    at the first call, epochs counted on (of no known number: ``params['epochs']`` and
    ``state.epochs`` are None, where ``fit``'s are ``max_iter``), and ``on_train_end``
    when a callback stops training (``EarlyStopping.stopped_epoch`` then says so), after
    which the next call begins a new run; ``fit``, or other callbacks, begin a new run
    too. Stochastic solvers only."""

SHARED_ATTRIBUTES = """\
loss_ : float
    The loss of the last epoch (or where 'lbfgs' stopped), penalty included.
best_loss_ : float or None
    The lowest ``loss_`` of an epoch; None with early stopping. Stochastic solvers.
loss_curve_ : list of float
    ``loss_`` of each epoch. Stochastic solvers.
validation_scores_ : list of float or None
    The score on the held-out data after each epoch, with early stopping.
best_validation_score_ : float or None
validation_loss_curve_ : list of float or None
    The loss on the held-out data after each epoch (without the L2 penalty), with
    early stopping.
t_ : int
    Training samples seen by the stochastic solvers.
coefs_ : list of ndarray of shape (fan_in, fan_out)
    The weights of each layer: views of ``model_``'s ``Linear`` weights.
intercepts_ : list of ndarray of shape (fan_out,)
model_ : chainrule.nn.Sequential
    The trained network, in evaluation mode. It returns raw scores (before the output
    activation); ``chainrule.io.save`` writes it for PyTorch and chainrule to read.
n_features_in_ : int
feature_names_in_ : ndarray of shape (n_features_in_,)
    When X has string column names.
n_iter_ : int
    Epochs (or L-BFGS iterations) of the last call to ``fit``.
n_layers_ : int
n_outputs_ : int
out_activation_ : str"""
