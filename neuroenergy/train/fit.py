"""``fit``: train a spiking network with L = L_CE + lambda * E(theta, x).

The readout is the model's output ``[T, B, K]`` (neuroenergy models: the
output layer's membrane potential at every step) averaged over time steps,
used as logits for the cross-entropy. E is recorded by
:mod:`neuroenergy.energy.terms` during the same forward pass (no second
forward) and is per sample, summed over time steps.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuroenergy.energy.costs import CostTable, get_cost_table, prices_neurons
from neuroenergy.energy.measure import OperationCounter
from neuroenergy.energy.terms import DEFAULT_TERM, list_terms, record
from neuroenergy.errors import ConfigError, InvalidInputError
from neuroenergy.train.config import DEFAULT_ENERGY_NORM, OPTIMIZER_NAMES, TrainingConfig, check_energy_norm
from neuroenergy.train.result import CurvePoint, TrainResult

__all__ = ["fit", "resolve_device", "readout_logits", "evaluate"]

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
}
assert tuple(OPTIMIZERS) == OPTIMIZER_NAMES
#: fit()'s keyword defaults: the one place they are set is TrainingConfig.
_DEFAULT = TrainingConfig()


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else as given."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise InvalidInputError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError("device 'cuda' was asked for but no CUDA GPU is available; use 'auto' or 'cpu'")
    return resolved


#: Training stops as ``diverged`` when its loss exceeds this many times the
#: larger of its first step's loss and ln(K) (a uniform guess's cross-entropy
#: over K classes; a floor for a first loss that happens to be tiny), or is
#: not finite. A run that healthy training would never produce: Adam at
#: lr = 1e6 reaches 1e8.
DIVERGENCE_FACTOR = 100.0

#: Added to the cell seed for the random draws of evaluations (the rate
#: encoder's), so they do not follow the training stream.
_EVAL_SEED_OFFSET = 1_000_003


@contextmanager
def _evaluation_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Random draws inside (a rate encoder's spikes) come from a stream of their own,
    seeded from ``seed`` afresh at every evaluation; training's stream is restored
    on leaving, so how often and on how much is evaluated changes no trained weight."""
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.random.default_generator.manual_seed(seed + _EVAL_SEED_OFFSET)
        for index in cuda:
            torch.cuda.default_generators[index].manual_seed(seed + _EVAL_SEED_OFFSET)
        yield


def readout_logits(output: torch.Tensor) -> torch.Tensor:
    """Logits ``[B, K]`` from a model output: ``[T, B, K]`` is averaged over T."""
    if isinstance(output, tuple):  # (spikes, membrane) style outputs: use the membrane
        output = output[-1]
    return output.mean(0) if output.dim() == 3 else output


@dataclass
class _Split:
    """Whole-tensor view of a split, with the conversion to model values."""

    inputs: torch.Tensor
    targets: torch.Tensor
    convert: Callable[[torch.Tensor], torch.Tensor]

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def batch(self, index: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.convert(self.inputs[index].to(device, non_blocking=True))
        return x, self.targets[index].to(device, non_blocking=True)


def _as_split(data, name: str) -> _Split:
    if hasattr(data, "inputs") and hasattr(data, "targets"):
        convert = getattr(data, "convert", None) or _default_convert
        return _Split(data.inputs, data.targets, convert)
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        if data[0].shape[0] != data[1].shape[0]:
            raise InvalidInputError(f"{name}: inputs and targets differ in length "
                                    f"({data[0].shape[0]} vs {data[1].shape[0]})")
        return _Split(data[0], data[1].long(), _default_convert)
    raise InvalidInputError(
        f"{name} must be a dataset from neuroenergy.data.load or an (inputs, targets) pair of tensors, "
        f"got {type(data).__name__}"
    )


def _default_convert(x: torch.Tensor) -> torch.Tensor:
    return x if not x.is_floating_point() else x.float()


def evaluate(model: nn.Module, data, *, batch_size: int = 256, energy_term: str = DEFAULT_TERM,
             device: str | torch.device = "auto", costs: str | CostTable | None = None,
             index: torch.Tensor | None = None, compare_ann: bool = False) -> dict:
    """Accuracy, CE (nats per sample), energy term E (per sample) and the confusion
    matrix (``confusion``, ``K x K`` counts, rows true classes) of ``model`` on
    ``data`` (or its rows ``index``), in eval mode without gradients.

    With ``costs``, also the ``measure`` report over the same forward passes
    (``result["report"]``, per sample, summed over time; with ``compare_ann``
    it also prices the same layers run once as an ANN).
    """
    split = data if isinstance(data, _Split) else _as_split(data, "data")
    device = resolve_device(device)
    index = torch.arange(len(split)) if index is None else index
    was_training = model.training
    model.eval()
    correct, ce_sum, energy_sum, seen = 0, 0.0, 0.0, 0
    confusion: torch.Tensor | None = None
    counter = OperationCounter(model, costs=costs, sequence_calls=True) if costs is not None else None
    recorder = record(model, energy_term)
    try:
        with torch.no_grad(), (counter if counter is not None else nullcontext()):
            for start in range(0, len(index), batch_size):
                x, y = split.batch(index[start:start + batch_size], device)
                with recorder as energy:
                    logits = readout_logits(model(x))
                predicted = logits.argmax(1)
                correct += int((predicted == y).sum())
                k = logits.shape[1]
                counts = torch.bincount((y * k + predicted).cpu(), minlength=k * k).reshape(k, k)
                confusion = counts if confusion is None else confusion + counts
                ce_sum += float(F.cross_entropy(logits, y, reduction="sum"))
                energy_sum += float(energy.total)
                seen += len(y)
    finally:
        model.train(was_training)
    result = {"accuracy": correct / seen, "ce": ce_sum / seen, "energy": energy_sum / seen, "samples": seen,
              "confusion": confusion.numpy()}
    if counter is not None:
        result["report"] = counter.report(seen, getattr(model, "num_steps", None), compare_ann=compare_ann)
    return result


def fit(
    model: nn.Module,
    train,
    test,
    *,
    lam: float = 0.0,
    energy_term: str = DEFAULT_TERM,
    energy_norm: str = DEFAULT_ENERGY_NORM,
    epochs: float = _DEFAULT.epochs,
    batch_size: int = _DEFAULT.batch_size,
    lr: float = _DEFAULT.lr,
    optimizer: str = _DEFAULT.optimizer,
    num_steps: int | None = _DEFAULT.num_steps,
    seed: int = 0,
    device: str | torch.device = _DEFAULT.device,
    num_evals: int = _DEFAULT.num_evals,
    eval_size: int = _DEFAULT.eval_size,
    costs: str | CostTable = _DEFAULT.costs,
    count_training_ops: bool = True,
    progress: bool | Callable[[CurvePoint], None] = False,
) -> TrainResult:
    """Train ``model`` on ``train`` with L = CE + lam * E and evaluate it on ``test``.

    Args:
        model: a network whose output is ``[T, B, K]`` (averaged over T into
            logits; see :func:`readout_logits`) or ``[B, K]``.
        train, test: datasets from ``neuroenergy.data.load`` or
            ``(inputs, targets)`` tensor pairs.
        lam: weight of the energy term (>= 0).
        energy_term: ``activation`` (default), ``spikes`` or ``synops``
            (see :mod:`neuroenergy.energy.terms`); per sample.
        energy_norm: ``sum`` (the loss uses E as recorded) or ``initial``
            (E divided by the network's own E on its first training batch,
            before any update, so lambda weighs the fraction of the initial
            energy; see ``neuroenergy.train.config.ENERGY_NORMS``).
        epochs: passes over ``train`` (fractions allowed).
        batch_size, lr, optimizer: ``adam`` (default), ``adamw`` or ``sgd`` (momentum 0.9).
        num_steps: time steps T; sets ``model.num_steps`` when given.
        seed: seeds parameters' RNG use, shuffling, rate coding and the
            held-out subset; the same seed and config on CPU give bitwise
            identical results.
        device: ``auto`` (CUDA when present, else CPU), ``cpu`` or ``cuda``.
        num_evals: learning-curve evaluations after step 0 (>= 10 recommended),
            evenly spaced in steps, each on a fixed held-out subset of
            ``eval_size`` test samples.
        costs: cost table for training and test energy in pJ.
        count_training_ops: count synaptic operations of every training
            forward pass (cumulative training energy); costs some speed.
        progress: True shows a progress bar on stderr (steps, ETA, the last
            held-out accuracy and E); a callable is called with each new
            :class:`CurvePoint`.

    Returns:
        :class:`TrainResult`; a NaN or infinite loss, or one above
        :data:`DIVERGENCE_FACTOR` times the first step's, stops the run with
        status ``diverged`` and the step and reason in ``message`` (no
        exception). Evaluations draw their random numbers (rate coding) from
        a stream of their own seeded from ``seed``: ``num_evals`` and
        ``eval_size`` change no trained weight.
    """
    _check_args(lam, energy_term, epochs, batch_size, lr, optimizer, num_evals, eval_size, num_steps)
    try:
        check_energy_norm("energy_norm", energy_norm)
    except ConfigError as error:  # a bad argument of fit(), like the others _check_args refuses
        raise InvalidInputError(str(error)) from None
    table = get_cost_table(costs)
    device = resolve_device(device)
    train_split, test_split = _as_split(train, "train"), _as_split(test, "test")
    if len(train_split) == 0 or len(test_split) == 0:
        raise InvalidInputError("train and test must hold at least one sample each")
    if num_steps is not None:
        model.num_steps = int(num_steps)

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model.to(device)
    opt = OPTIMIZERS[optimizer](model.parameters(), lr=lr)
    steps_per_epoch = math.ceil(len(train_split) / batch_size)
    total_steps = max(1, round(epochs * steps_per_epoch))
    eval_steps = sorted({max(1, round(total_steps * k / num_evals)) for k in range(1, num_evals + 1)})
    heldout = torch.randperm(len(test_split), generator=generator)[:eval_size].sort().values

    started = time.perf_counter()
    train_time = 0.0
    curve: list[CurvePoint] = []
    # Training energy needs neuron statistics only when the cost table prices neuron updates.
    counter = (OperationCounter(model, costs=table, sequence_calls=True,
                                synapses_only=not prices_neurons(table))
               if count_training_ops else None)

    def evaluate_point(step: int, samples: int) -> None:
        with _evaluation_rng(seed, device):
            stats = evaluate(model, test_split, batch_size=max(batch_size, 256), energy_term=energy_term,
                             device=device, index=heldout)
        macs, acs = counter.synops_total if counter else (math.nan, math.nan)
        point = CurvePoint(step=step, samples=samples, epoch=step / steps_per_epoch, ce=stats["ce"],
                           energy=stats["energy"], accuracy=stats["accuracy"], train_synops=macs + acs,
                           train_energy_pj=counter.energy_pj_total if counter else math.nan,
                           train_time_s=train_time, wall_time_s=time.perf_counter() - started)
        curve.append(point)
        if callable(progress):
            progress(point)
        elif bar is not None:
            bar.set_postfix_str(f"held-out acc {point.accuracy:.3f}, E {point.energy:.4g}/sample")

    # One recorder and one counter serve every step: entering re-attaches their hooks
    # (the counter re-reads the weights, which the optimiser changes).
    recorder = record(model, energy_term)
    counting = counter if counter is not None else nullcontext()
    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, desc=f"fit lam={lam:g}", unit="step", file=sys.stderr, dynamic_ncols=True)
    evaluate_point(0, 0)
    step, samples, status, diverged_at, message = 0, 0, "ok", None, ""
    energy_scale: float | None = None
    bound: float | None = None  # the divergence bound, set at the first step
    order = torch.randperm(len(train_split), generator=generator)
    position = 0
    model.train()
    while step < total_steps:
        if position >= len(order):
            order, position = torch.randperm(len(train_split), generator=generator), 0
        index = order[position:position + batch_size]
        position += batch_size
        tick = time.perf_counter()
        x, y = train_split.batch(index, device)
        with counting, recorder as energy:
            logits = readout_logits(model(x))
        ce = F.cross_entropy(logits, y)
        if energy_scale is None:
            energy_scale = _energy_scale(energy_norm, float(energy.value.detach()))
        loss = ce + (lam / energy_scale) * energy.value if lam else ce
        if not bool(torch.isfinite(loss)):
            status, diverged_at = "diverged", step + 1
            message = (f"loss became {loss.item()} at step {step + 1} "
                       f"(CE {ce.item()}, E {energy.value.item()})")
            break
        value = float(loss.detach())
        if bound is None:
            bound = DIVERGENCE_FACTOR * max(value, math.log(max(2, logits.shape[-1])))
        elif value > bound:
            status, diverged_at = "diverged", step + 1
            message = (f"loss {value:.4g} at step {step + 1} exceeds {DIVERGENCE_FACTOR:g}x the first "
                       f"step's ({bound / DIVERGENCE_FACTOR:.4g}; CE {ce.item():.4g}, E {energy.value.item():.4g})")
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        try:
            opt.step()
        except RuntimeError as error:  # e.g. an update too large for float32: a numeric blow-up
            status, diverged_at = "diverged", step + 1
            message = f"optimizer step {step + 1} failed numerically: {error}"
            break
        step += 1
        samples += len(y)
        if bar is not None:
            bar.update(1)
        train_time += time.perf_counter() - tick
        if step in eval_steps:
            evaluate_point(step, samples)
            model.train()

    if bar is not None:
        bar.close()
    model.eval()
    if status == "ok":
        with _evaluation_rng(seed, device):
            final = evaluate(model, test_split, batch_size=max(batch_size, 256), energy_term=energy_term,
                             device=device, costs=table, compare_ann=True)
        test_accuracy, test_ce, test_energy, report = final["accuracy"], final["ce"], final["energy"], final["report"]
        confusion = final["confusion"]
    else:
        test_accuracy = test_ce = test_energy = math.nan
        report = confusion = None
    macs, acs = counter.synops_total if counter else (math.nan, math.nan)
    return TrainResult(
        status=status, lam=float(lam), energy_term=energy_term, seed=seed, device=str(device),
        steps=step, samples=samples, epochs=step / steps_per_epoch, curve=tuple(curve),
        test_accuracy=test_accuracy, test_ce=test_ce, test_energy=test_energy, test_report=report,
        train_synops=macs + acs, train_energy_pj=counter.energy_pj_total if counter else math.nan,
        train_backward_energy_pj=counter.backward_energy_pj_total if counter else math.nan,
        train_time_s=train_time, wall_time_s=time.perf_counter() - started,
        num_parameters=sum(p.numel() for p in model.parameters()),
        readout="output [T, B, K] averaged over T (membrane potential of the output layer) as logits",
        diverged_at_step=diverged_at, message=message,
        energy_norm=energy_norm, energy_scale=math.nan if energy_scale is None else energy_scale,
        test_confusion=None if confusion is None else confusion.tolist(),
    )


def _energy_scale(energy_norm: str, first_energy: float) -> float:
    """The divisor of E in the loss (see ``energy_norm`` of :func:`fit`)."""
    if energy_norm == "initial" and math.isfinite(first_energy) and first_energy > 0:
        return first_energy
    return 1.0  # ``sum``, or an initial network that is silent: nothing to be relative to


def _check_args(lam, energy_term, epochs, batch_size, lr, optimizer, num_evals, eval_size, num_steps) -> None:
    if not isinstance(lam, (int, float)) or isinstance(lam, bool) or not math.isfinite(lam) or lam < 0:
        raise InvalidInputError(f"lam must be a finite number >= 0, got {lam!r}")
    if energy_term not in list_terms():
        raise InvalidInputError(f"unknown energy_term {energy_term!r}; known: {', '.join(list_terms())}")
    if not epochs > 0:
        raise InvalidInputError(f"epochs must be > 0, got {epochs!r}")
    for name, value in (("batch_size", batch_size), ("num_evals", num_evals), ("eval_size", eval_size)):
        if not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
    if num_steps is not None and (not isinstance(num_steps, int) or num_steps < 1):
        raise InvalidInputError(f"num_steps must be a positive integer, got {num_steps!r}")
    if not lr > 0:
        raise InvalidInputError(f"lr must be > 0, got {lr!r}")
    if optimizer not in OPTIMIZERS:
        raise InvalidInputError(f"unknown optimizer {optimizer!r}; known: {', '.join(OPTIMIZERS)}")
