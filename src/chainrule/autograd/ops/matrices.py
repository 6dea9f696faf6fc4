"""Functions of matrices, with their derivatives: inverse, determinant (and its log),
linear solve, Cholesky factor, eigenvalues of symmetric matrices, singular values, and the
eigen-, singular value and QR decompositions; ``chainrule.linalg`` gives them PyTorch's
names, and the norms and products built from them.

Every function takes a matrix or a stack of them (``(..., m, n)``; square where the
function needs it), as NumPy's and PyTorch's do, and works in the input's floating dtype.
The derivatives are the standard matrix-calculus results, written with ``A^-T`` for the
transposed inverse of each matrix in the stack:

- inverse:      Y = A^-1,       dL/dA = -Y^T G Y^T
- determinant:  d = det A,      dL/dA = g * cof(A), the cofactor matrix (d A^-T where A is
  invertible; computed from the singular value decomposition, so that it stays right for a
  singular A, as PyTorch's does)
- log |det A|:                  dL/dA = g A^-T
- solve:        X = A^-1 B,     dL/dB = A^-T G,  dL/dA = -(dL/dB) X^T
- Cholesky:     A = L L^T,      dL/dA = sym(L^-T Phi(L^T G) L^-1), Phi taking the lower
  triangle with its diagonal halved, sym(M) = (M + M^T) / 2
- eigvalsh:     A = V diag(w) V^T, dL/dA = V diag(g) V^T
- svdvals:      A = U diag(s) V^T, dL/dA = U diag(g) V^T
- eigh, svd, qr: the rules in the docstrings of ``_SymmetricEigen``,
  ``_SingularValueDecomposition`` and ``_QR`` (PyTorch's)

Those with eigen- or singular vectors hold for distinct eigenvalues or singular values, as
PyTorch's do; the values alone keep their gradient where they repeat. The decompositions
have several outputs and run through Function's tensor protocol, so ``compile_step`` runs a
step that calls them eagerly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from chainrule.autograd.function import Context, Function, register
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.autograd.ops._operands import as_floating_tensor, quietly
from chainrule.autograd.ops.elementwise import where
from chainrule.backend import Array, np
from chainrule.tensor import Tensor


def _t(a: Array) -> Array:
    """The transpose of each matrix in a stack."""
    return np.swapaxes(a, -1, -2)


def _square(where: str, a: Tensor) -> Tensor:
    """``a`` as a floating tensor of square matrices, or a clear error."""
    a = as_floating_tensor(a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(
            f"{where}: expected a square matrix or a stack of them (..., n, n), got shape {a.shape}"
        )
    return a


def _cofactors(a: Array) -> Array:
    """The cofactor matrix of each matrix of ``a`` (the transposed adjugate): d A^-T for an
    invertible A, and still defined for a singular one. From A = U diag(s) V^T it is
    det(U) det(V) U diag(prod of the other s) V^T."""
    u, s, vt = np.linalg.svd(a)
    n = s.shape[-1]
    others = np.ones_like(s)
    for i in range(n):  # the product of every singular value but the i-th, without dividing
        others[..., i] = np.prod(np.delete(s, i, axis=-1), axis=-1)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    return sign[..., None, None] * ((u * others[..., None, :]) @ vt)


@register("inv")
class Inverse(Function):
    """Y = A^-1;  dL/dA = -Y^T G Y^T."""

    @staticmethod
    def forward(ctx: Context, a: Array) -> Array:
        y = np.linalg.inv(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (y,) = ctx.saved
        yt = _t(y)
        return (-(yt @ grad @ yt),)


@register("det")
class Determinant(Function):
    """d = det A;  dL/dA = g * cofactors(A) (d A^-T where A is invertible)."""

    @staticmethod
    def forward(ctx: Context, a: Array) -> Array:
        ctx.save_for_backward(a)
        return np.asarray(np.linalg.det(a))

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (a,) = ctx.saved
        return (grad[..., None, None] * _cofactors(a),)


@register("logabsdet")
class LogAbsDeterminant(Function):
    """l = log |det A|;  dL/dA = g A^-T (huge or infinite for a singular A, where l = -inf)."""

    @staticmethod
    def forward(ctx: Context, a: Array) -> Array:
        ctx.save_for_backward(a)
        return np.asarray(np.linalg.slogdet(a)[1])

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (a,) = ctx.saved
        return (grad[..., None, None] * _inverse_transposed(a),)


def _inverse_transposed(a: Array) -> Array:
    """A^-T of each matrix; for a stack holding a singular one, U diag(1/s) V^T from the
    singular value decomposition, infinite where A has no inverse (as PyTorch's gradient)."""
    try:
        return _t(np.linalg.inv(a))
    except np.linalg.LinAlgError:
        u, s, vt = np.linalg.svd(a)
        return (u / s[..., None, :]) @ vt


@register("solve")
class Solve(Function):
    """X = A^-1 B for matrices B (..., n, k);  dL/dB = A^-T G, dL/dA = -(dL/dB) X^T, each
    summed over the batch axes that broadcasting A against B gave it."""

    @staticmethod
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        x = np.linalg.solve(a, b)
        ctx.save_for_backward(a, x)
        ctx.b_shape = b.shape
        return x

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        a, x = ctx.saved
        grad_b = np.linalg.solve(_t(a), grad)
        grad_a = -(grad_b @ _t(x)) if ctx.needs_input_grad[0] else None
        return _summed_to(grad_a, a.shape), _summed_to(grad_b, ctx.b_shape)


def _summed_to(grad: Array | None, shape: tuple[int, ...]) -> Array | None:
    """``grad`` summed over the batch axes that broadcasting gave it beyond ``shape``."""
    if grad is None or grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra))) if extra else grad
    ones = tuple(i for i, n in enumerate(shape[:-2]) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=ones, keepdims=True) if ones else grad


@register("cholesky")
class Cholesky(Function):
    """A = L L^T for symmetric positive-definite A (its lower triangle is read);
    dL/dA = sym(L^-T Phi(L^T G) L^-1)."""

    @staticmethod
    def forward(ctx: Context, a: Array) -> Array:
        try:
            lower = np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise ValueError(
                "cholesky: expected a symmetric positive-definite matrix, got one that is not "
                "(a pivot was not positive)"
            ) from None
        ctx.save_for_backward(lower)
        return lower

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (lower,) = ctx.saved
        phi = np.tril(_t(lower) @ grad)
        diagonal = np.einsum("...ii->...i", phi)
        diagonal *= 0.5
        inverse = np.linalg.inv(lower)
        g = _t(inverse) @ phi @ inverse
        return ((g + _t(g)) / 2,)


@register("eigvalsh")
class SymmetricEigenvalues(Function):
    """w = eigenvalues of symmetric A (ascending; its lower triangle is read);
    dL/dA = V diag(g) V^T."""

    @staticmethod
    def forward(ctx: Context, a: Array) -> Array:
        w, v = np.linalg.eigh(a)
        ctx.save_for_backward(v)
        return w

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (v,) = ctx.saved
        return ((v * grad[..., None, :]) @ _t(v),)


@register("svdvals")
class SingularValues(Function):
    """s = singular values of A (..., m, n), descending;  dL/dA = U diag(g) V^T."""

    @staticmethod
    def forward(ctx: Context, a: Array) -> Array:
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        ctx.save_for_backward(u, vt)
        return s

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        u, vt = ctx.saved
        return ((u * grad[..., None, :]) @ vt,)


# ------------------------------------------------------------ decompositions
# Several differentiable outputs: these run through the tensor protocol of Function (one
# node for the call, one per output), which hands backward a gradient for every output,
# zeros for those that received none.


def _skew(x: Array) -> Array:
    return x - _t(x)


def _off_diagonal_ratio(numerator: Array, values: Array) -> Array:
    """``numerator[..., i, j] / (values[j] - values[i])`` off the diagonal, 0 on it."""
    gaps = values[..., None, :] - values[..., :, None]
    n = values.shape[-1]
    eye = np.eye(n, dtype=bool)
    gaps = np.where(eye, 1, gaps)
    return np.where(eye, 0, numerator / gaps)


class _SymmetricEigen(Function):
    """A = V diag(w) V^T for symmetric A (its lower triangle is read), w ascending;
    dL/dA = V (diag(g_w) + F o skew(V^T g_V) / 2) V^T with F_ij = 1 / (w_j - w_i), i != j.

    The eigenvectors of a repeated eigenvalue are not unique and their gradient is not
    defined (F is infinite there), as in PyTorch.
    """

    @staticmethod
    def forward(ctx: Any, a: Tensor) -> tuple[Array, Array]:
        w, v = np.linalg.eigh(a.data)
        ctx.save_for_backward(w, v)
        # None, not zeros, for an output without a gradient: the eigenvectors' term is
        # then left out, and eigenvalues alone keep a gradient where some are repeated.
        ctx.set_materialize_grads(False)
        return w, v

    @staticmethod
    def backward(ctx: Any, grad_w: Tensor | None, grad_v: Tensor | None) -> Array:
        w, v = ctx.saved_tensors
        n = w.shape[-1]
        inner = np.zeros((*w.shape, n), dtype=w.dtype)
        if grad_v is not None:
            inner += _off_diagonal_ratio(_skew(_t(v) @ grad_v.data) / 2, w)
        if grad_w is not None:
            inner += np.einsum("...i,ij->...ij", grad_w.data, np.eye(n, dtype=w.dtype))
        return v @ inner @ _t(v)


class _SingularValueDecomposition(Function):
    """A = U diag(s) V^T for A (..., m, n), k = min(m, n), s descending. With
    E_ij = s_j^2 - s_i^2 off the diagonal (and the operations elementwise):
    dL/dA = U [skew(U^T g_U) / E * s + s * skew(V^T g_V) / E + diag(g_s)] V^T
            + (I - U U^T) g_U diag(1/s) V^T + U diag(1/s) g_V^T (I - V V^T),
    the last two only where m > k or n > k. With ``full_matrices`` the columns of U (rows of
    V^T) beyond k are arbitrary; their gradients are dropped, as PyTorch drops them.
    """

    @staticmethod
    def forward(ctx: Any, a: Tensor, full_matrices: bool) -> tuple[Array, Array, Array]:
        u, s, vt = np.linalg.svd(a.data, full_matrices=full_matrices)
        k = s.shape[-1]
        ctx.save_for_backward(u[..., :k], s, vt[..., :k, :])
        ctx.set_materialize_grads(False)  # as in eigh: terms without a gradient left out
        return u, s, vt

    @staticmethod
    def backward(
        ctx: Any, grad_u: Tensor | None, grad_s: Tensor | None, grad_vt: Tensor | None
    ) -> tuple[Array, None]:
        u, s, vt = ctx.saved_tensors
        k = s.shape[-1]
        v = _t(vt)
        squares = s * s
        inner = np.zeros((*s.shape, k), dtype=s.dtype)
        if grad_s is not None:
            inner += np.einsum("...i,ij->...ij", grad_s.data, np.eye(k, dtype=s.dtype))
        gu = None if grad_u is None else grad_u.data[..., :k]
        gv = None if grad_vt is None else _t(grad_vt.data[..., :k, :])
        if gu is not None:
            inner += _off_diagonal_ratio(_skew(_t(u) @ gu), squares) * s[..., None, :]
        if gv is not None:
            inner += s[..., :, None] * _off_diagonal_ratio(_skew(vt @ gv), squares)
        grad = u @ inner @ vt
        if gu is not None and u.shape[-2] > k:
            projected = gu - u @ (_t(u) @ gu)
            grad += (projected / s[..., None, :]) @ vt
        if gv is not None and v.shape[-2] > k:
            projected = gv - v @ (vt @ gv)
            grad += u @ (_t(projected) / s[..., :, None])
        return grad, None


def _copy_lower_to_upper(m: Array) -> Array:
    """The lower triangle of ``m`` with its strict part mirrored above the diagonal."""
    lower = np.tril(m, -1)
    return (
        lower
        + _t(lower)
        + np.einsum("...ii->...i", m)[..., None] * np.eye(m.shape[-1], dtype=m.dtype)
    )


class _QR(Function):
    """A = Q R, Q with orthonormal columns, R upper triangular ('reduced': Q (m, k),
    R (k, n), k = min(m, n); 'complete': Q (m, m); 'r': R alone). For m >= n, with
    M = R g_R^T - g_Q^T Q:  dL/dA = (g_Q + Q copyltu(M)) R^-T, copyltu mirroring the
    lower triangle of M above the diagonal. For m < n, A = [X Y] with X square: X's part
    is the square case with g_Q + Y g_R2^T, and dL/dY = Q g_R2.
    """

    @staticmethod
    def forward(ctx: Any, a: Tensor, mode: str) -> tuple[Array, Array]:
        q, r = np.linalg.qr(a.data, mode="complete" if mode == "complete" else "reduced")
        ctx.save_for_backward(q, r)
        return q, r

    @staticmethod
    def backward(ctx: Any, grad_q: Tensor, grad_r: Tensor) -> tuple[Array, None]:
        q, r = ctx.saved_tensors
        gq, gr = grad_q.data, grad_r.data
        m, n = q.shape[-2], r.shape[-1]
        if q.shape[-1] > n:
            raise RuntimeError(
                f"qr: mode='complete' of a tall matrix ({m} x {n}) has no gradient: the last "
                f"{m - n} columns of Q are not determined by A; use mode='reduced'"
            )
        if m >= n:
            return _qr_square_or_tall(q, r, gq, gr), None
        tail = q @ r[..., m:]  # Y, the columns of A beyond the m-th
        x_part = _qr_square_or_tall(q, r[..., :m], gq + tail @ _t(gr[..., m:]), gr[..., :m])
        return np.concatenate([x_part, q @ gr[..., m:]], axis=-1), None


def _qr_square_or_tall(q: Array, r: Array, gq: Array, gr: Array) -> Array:
    m_matrix = r @ _t(gr) - _t(gq) @ q
    left = gq + q @ _copy_lower_to_upper(m_matrix)
    # left R^-T, as the solution X of X R^T = left: R X^T = left^T.
    try:
        return _t(np.linalg.solve(r, _t(left)))
    except np.linalg.LinAlgError:
        raise RuntimeError(
            "qr: the gradient needs R invertible, got a matrix of deficient rank (a zero on "
            "R's diagonal)"
        ) from None


# --------------------------------------------------------------------- front doors
@contextmanager
def _converging(where: str) -> Iterator[None]:
    """LAPACK's failure to converge (on NaN or infinite entries, in practice) as a clear
    error instead of NumPy's ``LinAlgError``."""
    try:
        yield
    except np.linalg.LinAlgError:
        raise ValueError(
            f"{where}: the decomposition did not converge; expected a matrix of finite "
            f"values, got one with NaN or infinity (or one too ill-conditioned to factor)"
        ) from None


def inv(a: Any) -> Tensor:
    """The inverse of a square matrix (or of each in a stack); an error for a singular one."""
    a = _square("inv", a)
    try:
        return Inverse.apply(a)
    except np.linalg.LinAlgError:
        raise ValueError("inv: expected an invertible matrix, got a singular one") from None


def inverse(a: Any) -> Tensor:
    """``inv``, under PyTorch's top-level name (``torch.inverse``, ``Tensor.inverse``)."""
    return inv(a)


def det(a: Any) -> Tensor:
    """The determinant of a square matrix (or of each in a stack)."""
    return Determinant.apply(_square("det", a))


def slogdet(a: Any) -> tuple[Tensor, Tensor]:
    """(sign, log |det|) of a square matrix (or of each in a stack): the determinant without
    its overflow; the sign carries no gradient, log |det| does."""
    a = _square("slogdet", a)
    sign = np.linalg.slogdet(a.data)[0]
    return Tensor._from_op(np.asarray(sign, dtype=a.dtype), None), LogAbsDeterminant.apply(a)


def logdet(a: Any) -> Tensor:
    """log det A: NaN where the determinant is negative, -inf where it is 0 (PyTorch's)."""
    sign, log_abs = slogdet(a)
    if not (sign.data < 0).any():
        return log_abs
    nan = Tensor._from_op(np.asarray(np.nan, dtype=log_abs.dtype), None)
    return where(sign.data < 0, nan, log_abs)  # no gradient where it is NaN, as PyTorch


def solve(a: Any, b: Any, *, left: bool = True) -> Tensor:
    """X with A X = B (``left=False``: X A = B), for A (..., n, n) and B (..., n, k) or a
    vector B (..., n), batch axes broadcast, as PyTorch's ``linalg.solve``."""
    a = _square("solve", a)
    b = as_floating_tensor(b)
    if b.dtype != a.dtype:
        raise TypeError(f"solve: expected A and B of one dtype, got {a.dtype} and {b.dtype}")
    if not left:
        if b.ndim < 2:
            raise ValueError(
                f"solve: with left=False, expected B of shape (..., k, {a.shape[-1]}), got "
                f"{b.shape}"
            )
        return solve(a.mT, b.mT).mT
    n = a.shape[-1]
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    matrix = b.unsqueeze(-1) if vector else b
    if matrix.ndim < 2 or matrix.shape[-2] != n:
        raise ValueError(
            f"solve: expected B of shape (..., {n}, k) or (..., {n}) for A of shape "
            f"{a.shape}, got {b.shape}"
        )
    try:
        np.broadcast_shapes(a.shape[:-2], matrix.shape[:-2])
    except ValueError:
        raise ValueError(
            f"solve: batch shapes of A {a.shape} and B {b.shape} do not broadcast"
        ) from None
    try:
        x = Solve.apply(a, matrix)
    except np.linalg.LinAlgError:
        raise ValueError("solve: expected an invertible A, got a singular one") from None
    return x.squeeze(-1) if vector else x


def cholesky(a: Any, *, upper: bool = False) -> Tensor:
    """The lower-triangular L with A = L L^T (``upper=True``: U = L^T, A = U^T U) of a
    symmetric positive-definite matrix; only its lower triangle is read."""
    lower = Cholesky.apply(_square("cholesky", a))
    return lower.mT if upper else lower


def eigvalsh(a: Any, UPLO: str = "L") -> Tensor:  # noqa: N803 - PyTorch's name
    """The eigenvalues of a symmetric matrix, ascending; its lower triangle is read
    (``UPLO="U"``: the upper one)."""
    a = _square("eigvalsh", a)
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigvalsh: expected UPLO 'L' or 'U', got {UPLO!r}")
    with _converging("eigvalsh"):
        return SymmetricEigenvalues.apply(a if UPLO == "L" else a.mT)


def svdvals(a: Any) -> Tensor:
    """The singular values of a matrix (..., m, n), descending."""
    a = as_floating_tensor(a)
    if a.ndim < 2:
        raise ValueError(f"svdvals: expected a matrix or a stack of them, got shape {a.shape}")
    with _converging("svdvals"):
        return SingularValues.apply(a)


class EigenDecomposition(NamedTuple):
    """What ``linalg.eigh`` returns: ``eigenvalues`` ascending, ``eigenvectors`` as columns."""

    eigenvalues: Tensor
    eigenvectors: Tensor


class SVDResult(NamedTuple):
    """What ``linalg.svd`` returns: A = U diag(S) Vh."""

    U: Tensor
    S: Tensor
    Vh: Tensor


class QRResult(NamedTuple):
    """What ``linalg.qr`` returns: A = Q R."""

    Q: Tensor
    R: Tensor


def eigh(a: Any, UPLO: str = "L") -> EigenDecomposition:  # noqa: N803 - PyTorch's name
    """Eigenvalues (ascending) and eigenvectors (the columns) of a symmetric matrix, or of
    each in a stack; its lower triangle is read (``UPLO="U"``: the upper one). Both carry
    gradients, the eigenvectors' where the eigenvalues are distinct.

    Raises
    ------
    ValueError
        If ``a`` is not square, ``UPLO`` is not 'L' or 'U', or LAPACK does not converge
        (NaN or infinite entries; PyTorch raises its ``LinAlgError`` there).

    Examples
    --------
    >>> import chainrule as cr
    >>> a = cr.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=cr.float64, requires_grad=True)
    >>> values, vectors = cr.linalg.eigh(a)
    >>> values
    tensor([1., 3.], dtype=float64, grad_fn=<_SymmetricEigenBackward>)
    >>> values.sum().backward()  # the trace's gradient: the identity
    >>> a.grad.allclose(cr.eye(2, dtype=cr.float64))
    True
    """
    a = _square("eigh", a)
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: expected UPLO 'L' or 'U', got {UPLO!r}")
    with _converging("eigh"):
        values, vectors = _SymmetricEigen.apply(a if UPLO == "L" else a.mT)
    return EigenDecomposition(values, vectors)


def svd(a: Any, full_matrices: bool = True) -> SVDResult:
    """A = U diag(S) Vh for A (..., m, n): U (..., m, m), S (..., k) descending and
    Vh (..., n, n), k = min(m, n); with ``full_matrices=False`` U (..., m, k) and
    Vh (..., k, n). All three carry gradients where the singular values are distinct and
    nonzero; U's and V's are determined up to the sign of each singular pair.

    Raises
    ------
    ValueError
        If ``a`` has fewer than two axes, or LAPACK does not converge (NaN or infinite
        entries; PyTorch raises its ``LinAlgError`` there).

    Examples
    --------
    >>> import chainrule as cr
    >>> a = cr.tensor([[3.0, 0.0], [0.0, -2.0], [0.0, 0.0]], dtype=cr.float64)
    >>> u, s, vh = cr.linalg.svd(a, full_matrices=False)
    >>> u.shape, s, vh.shape
    ((3, 2), tensor([3., 2.], dtype=float64), (2, 2))
    """
    a = as_floating_tensor(a)
    if a.ndim < 2:
        raise ValueError(f"svd: expected a matrix or a stack of them, got shape {a.shape}")
    with _converging("svd"):
        u, s, vh = _SingularValueDecomposition.apply(a, bool(full_matrices))
    return SVDResult(u, s, vh)


def qr(a: Any, mode: str = "reduced") -> QRResult:
    """A = Q R for A (..., m, n), Q with orthonormal columns and R upper triangular.
    ``mode``: 'reduced' (Q (m, k), R (k, n), k = min(m, n)), 'complete' (Q (m, m),
    R (m, n)) or 'r' (R alone and Q empty; where R needs a gradient, Q is computed for it,
    where PyTorch refuses the backward).

    Raises
    ------
    ValueError
        If ``a`` has fewer than two axes or ``mode`` is unknown.
    RuntimeError
        In backward: for mode 'complete' of a tall matrix (the extra columns of Q are not
        determined by A), or for a matrix of deficient rank.

    Examples
    --------
    >>> import chainrule as cr
    >>> q, r = cr.linalg.qr(cr.tensor([[3.0, 1.0], [4.0, 2.0]], dtype=cr.float64))
    >>> (q @ r).allclose(cr.tensor([[3.0, 1.0], [4.0, 2.0]], dtype=cr.float64))
    True
    """
    a = as_floating_tensor(a)
    if a.ndim < 2:
        raise ValueError(f"qr: expected a matrix or a stack of them, got shape {a.shape}")
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: expected mode 'reduced', 'complete' or 'r', got {mode!r}")
    if mode == "r":
        empty = Tensor._from_op(np.zeros((0,), dtype=a.dtype), None)
        if a.requires_grad and is_grad_enabled():
            # R's gradient needs Q: computed, and kept for backward only.
            return QRResult(empty, _QR.apply(a, "reduced")[1])
        r = np.linalg.qr(a.data, mode="r")
        return QRResult(empty, Tensor._from_op(np.asarray(r, dtype=a.dtype), None))
    q, r = _QR.apply(a, mode)
    return QRResult(q, r)
