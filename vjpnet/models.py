"""Classification models whose gradients come from vjpnet.

Each model keeps its weights in `model.params` (a dict of arrays keyed W1, b1, W2, b2, ... and
gamma1, beta1, ... for batchnorm layers) and has `loss(X, y=None)`:
- y is None: a test-time forward pass, returns scores of shape (N, C);
- otherwise: returns (loss, grads), grads a dict keyed like params.

The loss is written once, as a pure function of the params built from `vjpnet.nn` ops (the
L2 term 0.5 * reg * sum(W**2) over the weight matrices only is `nn.l2_penalty`); its gradient
comes from `vjpnet.value_and_grad`. There is no hand-written backward pass here.

Weights are drawn as weight_scale * np.random.randn(...) in layer order (so np.random.seed
makes a model reproducible), biases start at zero, batchnorm scales at one and shifts at zero.
`model.reg` and the arrays in `model.params` are read at every `loss` call, so both can be
changed after construction (the Solver replaces the arrays after each update).
"""
import numpy as np

from vjpnet import nn
from vjpnet.transforms import value_and_grad

__all__ = ["TwoLayerNet", "FullyConnectedNet", "ThreeLayerConvNet"]


def _float_dtype(owner, dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{owner}: dtype must be float32 or float64, got {dtype}")
    return dtype


def _positive_int(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _weights(weight_scale, shape, dtype):
    return (weight_scale * np.random.randn(*shape)).astype(dtype)


class _Classifier:
    """Shared loss(): subclasses define `_scores(params, X, mode)` and `weight_names`."""

    dtype = np.dtype(np.float64)
    weight_names = ()

    def _input(self, X):
        X = np.asarray(X)
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        return X

    def _regularization(self, params):
        if self.reg == 0:
            return 0.0
        # one op for the whole L2 term: a dot product per weight, one scaled copy in the VJP
        return nn.l2_penalty(self.reg, *[params[name] for name in self.weight_names])

    def _objective(self, params, X, y):
        scores = self._scores(params, X, mode="train")
        return nn.softmax_loss(scores, y) + self._regularization(params)

    def loss(self, X, y=None):
        """Scores (N, C) when y is None, else (loss, grads) with grads keyed like params.

        X: input data, (N, D) for fully-connected models or (N, C, H, W) for the convnet;
           cast to the model's dtype.
        y: integer labels of shape (N,), y[i] in [0, num_classes).
        """
        X = self._input(X)
        if y is None:
            return self._scores(self.params, X, mode="test")
        loss, grads = _objective_value_and_grad(self, self.params, X, y)
        return float(loss), grads


def _objective(model, params, X, y):
    return model._objective(params, X, y)


# made once (not per loss call); differentiates the params only
_objective_value_and_grad = value_and_grad(_objective, argnums=1)


class TwoLayerNet(_Classifier):
    """affine - relu - affine - softmax.

    Inputs (constructor):
    - input_dim: D, size of each input
    - hidden_dim: H, size of the hidden layer
    - num_classes: C
    - weight_scale: standard deviation of the initial weights
    - reg: L2 regularization strength
    - dtype: float64 (default) or float32

    params: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
    """

    weight_names = ("W1", "W2")

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10,
                 weight_scale=1e-3, reg=0.0, dtype=np.float64):
        owner = "TwoLayerNet"
        input_dim = _positive_int(owner, "input_dim", input_dim)
        hidden_dim = _positive_int(owner, "hidden_dim", hidden_dim)
        num_classes = _positive_int(owner, "num_classes", num_classes)
        self.dtype = _float_dtype(owner, dtype)
        self.reg = reg
        self.params = {
            "W1": _weights(weight_scale, (input_dim, hidden_dim), self.dtype),
            "b1": np.zeros(hidden_dim, dtype=self.dtype),
            "W2": _weights(weight_scale, (hidden_dim, num_classes), self.dtype),
            "b2": np.zeros(num_classes, dtype=self.dtype),
        }

    def _scores(self, params, X, mode):
        hidden = nn.affine_relu(X, params["W1"], params["b1"])
        return nn.affine(hidden, params["W2"], params["b2"])


class FullyConnectedNet(_Classifier):
    """{affine - [batchnorm] - relu - [dropout]} x (L - 1) - affine - softmax, any depth.

    Inputs (constructor):
    - hidden_dims: list of the sizes of the L - 1 hidden layers
    - input_dim: D; num_classes: C
    - dropout: probability of DROPPING a hidden unit, in [0, 1); 0 means no dropout layers
    - use_batchnorm: batch normalization after each hidden affine layer
    - reg: L2 regularization strength; weight_scale: standard deviation of initial weights
    - dtype: float32 (default) or float64 (use float64 for numeric gradient checks)
    - seed: if not None, the dropout layers use this seed, i.e. the same mask on every call
      (deterministic, for gradient checking); None draws fresh masks from np.random.

    params: W1 (D, H1), b1, ..., WL (H_{L-1}, C), bL; gamma_i, beta_i (H_i,) with batchnorm.
    bn_params: one dict per batchnorm layer holding its mode and running statistics.
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout=0,
                 use_batchnorm=False, reg=0.0, weight_scale=1e-2, dtype=np.float32,
                 seed=None):
        owner = "FullyConnectedNet"
        hidden_dims = [_positive_int(owner, "hidden_dims[i]", size) for size in hidden_dims]
        input_dim = _positive_int(owner, "input_dim", input_dim)
        num_classes = _positive_int(owner, "num_classes", num_classes)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.floating)) \
                or not 0 <= dropout < 1:
            raise ValueError(f"{owner}: dropout is the probability of dropping a unit and must "
                             f"be in [0, 1), got {dropout!r}")
        self.dtype = _float_dtype(owner, dtype)
        self.use_batchnorm = bool(use_batchnorm)
        self.use_dropout = dropout > 0
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.weight_names = tuple(f"W{i}" for i in range(1, self.num_layers + 1))

        sizes = [input_dim] + hidden_dims + [num_classes]
        self.params = {}
        for layer in range(1, self.num_layers + 1):
            fan_in, fan_out = sizes[layer - 1], sizes[layer]
            self.params[f"W{layer}"] = _weights(weight_scale, (fan_in, fan_out), self.dtype)
            self.params[f"b{layer}"] = np.zeros(fan_out, dtype=self.dtype)
            if self.use_batchnorm and layer < self.num_layers:
                self.params[f"gamma{layer}"] = np.ones(fan_out, dtype=self.dtype)
                self.params[f"beta{layer}"] = np.zeros(fan_out, dtype=self.dtype)

        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": float(dropout)}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params = ([{"mode": "train"} for _ in range(self.num_layers - 1)]
                          if self.use_batchnorm else [])

    def _scores(self, params, X, mode):
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        hidden = X
        for layer in range(1, self.num_layers):
            if self.use_batchnorm:
                hidden = nn.affine(hidden, params[f"W{layer}"], params[f"b{layer}"])
                hidden = nn.batchnorm(hidden, params[f"gamma{layer}"], params[f"beta{layer}"],
                                      self.bn_params[layer - 1])
                hidden = nn.relu(hidden)
            else:
                hidden = nn.affine_relu(hidden, params[f"W{layer}"], params[f"b{layer}"])
            if self.use_dropout:
                hidden = nn.dropout(hidden, self.dropout_param)
        last = self.num_layers
        return nn.affine(hidden, params[f"W{last}"], params[f"b{last}"])


class ThreeLayerConvNet(_Classifier):
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax.

    Inputs (constructor):
    - input_dim: (C, H, W) of each input image (H and W even)
    - num_filters: F; filter_size: odd size of the square filters (stride 1, padding
      (filter_size - 1) // 2 keeps H and W)
    - hidden_dim: size of the hidden affine layer; num_classes: number of scores
    - weight_scale: standard deviation of the initial weights; reg: L2 strength
    - dtype: float32 (default) or float64

    params: W1 (F, C, filter_size, filter_size), b1 (F,), W2 (F * H/2 * W/2, hidden_dim), b2,
    W3 (hidden_dim, num_classes), b3.
    """

    weight_names = ("W1", "W2", "W3")

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                 num_classes=10, weight_scale=1e-3, reg=0.0, dtype=np.float32):
        owner = "ThreeLayerConvNet"
        if len(input_dim) != 3:
            raise ValueError(f"{owner}: input_dim must be (C, H, W), got {input_dim!r}")
        channels, height, width = (_positive_int(owner, "input_dim[i]", size)
                                   for size in input_dim)
        num_filters = _positive_int(owner, "num_filters", num_filters)
        filter_size = _positive_int(owner, "filter_size", filter_size)
        hidden_dim = _positive_int(owner, "hidden_dim", hidden_dim)
        num_classes = _positive_int(owner, "num_classes", num_classes)
        if filter_size % 2 == 0:
            raise ValueError(f"{owner}: filter_size must be odd so that padding "
                             f"(filter_size - 1) // 2 preserves H and W, got {filter_size}")
        if height % 2 or width % 2:
            raise ValueError(f"{owner}: the 2x2 max pool needs even H and W, got "
                             f"input_dim={tuple(input_dim)}")
        self.dtype = _float_dtype(owner, dtype)
        self.reg = reg
        self.conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        pooled = num_filters * (height // 2) * (width // 2)
        self.params = {
            "W1": _weights(weight_scale, (num_filters, channels, filter_size, filter_size),
                           self.dtype),
            "b1": np.zeros(num_filters, dtype=self.dtype),
            "W2": _weights(weight_scale, (pooled, hidden_dim), self.dtype),
            "b2": np.zeros(hidden_dim, dtype=self.dtype),
            "W3": _weights(weight_scale, (hidden_dim, num_classes), self.dtype),
            "b3": np.zeros(num_classes, dtype=self.dtype),
        }

    def _scores(self, params, X, mode):
        # relu(max_pool(conv)) is max_pool(relu(conv)), output and gradient (the maximum of a
        # window commutes with the ReLU, ties included), on a quarter of the elements
        conv = nn.conv2d(X, params["W1"], params["b1"], self.conv_param)
        pooled = nn.relu(nn.max_pool2d(conv, self.pool_param))
        hidden = nn.affine_relu(pooled, params["W2"], params["b2"])
        return nn.affine(hidden, params["W3"], params["b3"])
