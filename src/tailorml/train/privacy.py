"""Differentially private training: DP-SGD with Opacus on the trainer's own tensors.

The trainer hands over its network, optimizer and training split; this module
returns the Opacus pieces to train with (per-sample clipping, Gaussian noise,
Poisson-sampled batches, PRV privacy accounting). Ghost clipping is used where
it can be, so no per-sample gradient is ever held in memory. What Opacus leaves
to the caller is handled here:

* Layers are made compatible with ``ModuleValidator.fix`` on a copy of the
  network, and only where the fixed layer holds the same weights under the same
  names (LSTM/GRU → DPLSTM/DPGRU): the trained weights load back into the plain
  model, so the saved bundle is an ordinary ``TailorModel``. BatchNorm, whose
  replacement (GroupNorm) holds other weights, is swapped in the config before
  the model is built (:func:`private_layers`, done by ``tailor train``); a
  network handed over with BatchNorm still in it is refused with a ``ConfigError``.
* Opacus attributes a packed sequence's per-sample gradients to rows in
  length-sorted order; they are put back into batch order before clipping.
* Each encoder's per-sample gradients are checked against row-by-row autograd on
  a few training rows before training, so an encoder Opacus cannot handle fails
  with a ``ConfigError`` naming it instead of silently voiding the guarantee.
* An empty Poisson batch still takes a (noise-only) step.

All randomness (batch sampling and noise) comes from one seeded generator, the
trainer's, which the per-epoch checkpoint already saves; the accountant's state
is a function of the epochs done, so a resumed run spends exactly the budget of
an uninterrupted one. The guarantee covers the network's weights only: the
preprocessing (vocabularies, normalisation statistics) is fitted without noise.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from opacus import GradSampleModule, PrivacyEngine
from opacus.layers.dp_rnn import DPRNNBase
from opacus.optimizers import DPOptimizer
from opacus.utils.fast_gradient_clipping_utils import DPLossFastGradientClipping
from opacus.validators import ModuleValidator
from torch import nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils.data import DataLoader, StackDataset

from tailorml.config import ModelConfig, PrivacyConfig, TrainingConfig
from tailorml.errors import ConfigError
from tailorml.features import Encoded
from tailorml.models.model import module_key
from tailorml.models.registry import ENCODERS
from tailorml.records.metrics import Privacy
from tailorml.train.losses import make_loss

Batch = tuple[dict[str, torch.Tensor], torch.Tensor]
PROBE_ROWS = 4  # training rows whose per-sample gradients are checked before training
SCOPE = "network weights; preprocessing (vocabularies, scaling) is fitted without noise"
# Harmless and repeated on every step or ε query; kept out of the user's terminal.
NOISE = (
    "Full backward hook is firing when gradients are computed with respect to module outputs",
    "Optimal order is the largest alpha",
    "Secure RNG turned off",
    "In CPU autocast, but the target dtype is not supported",
    "There is a performance drop because we have not yet implemented the batching rule",
)


@contextmanager
def quiet_opacus() -> Iterator[None]:
    """Silence Opacus's known, harmless warnings (see ``NOISE``)."""
    with warnings.catch_warnings():
        for message in NOISE:
            warnings.filterwarnings("ignore", message=message)
        yield


class RowLoss(nn.Module):
    """The training loss (:func:`make_loss`) with a settable ``reduction``, as ghost
    clipping needs."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__()
        self.kind, self.name = kind, name
        self.reduction = "mean"

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return make_loss(self.kind, self.name, self.reduction)(out.float(), y)


def check_settings(cfg: TrainingConfig) -> None:
    """Refuse training options that do not combine with DP-SGD.

    Raises:
        ConfigError: ``gradient_clipping`` (DP-SGD clips per sample) or bf16.
    """
    if cfg.gradient_clipping is not None:
        raise ConfigError(
            "training.gradient_clipping cannot be combined with training.privacy: DP-SGD "
            "clips every sample's gradient to privacy.max_grad_norm instead. Remove "
            "gradient_clipping."
        )
    if cfg.precision != "fp32":
        raise ConfigError(
            f"training.precision '{cfg.precision}' is not supported with training.privacy "
            "(per-sample gradients are computed in fp32); use precision: fp32."
        )


def private_layers(config: ModelConfig) -> tuple[ModelConfig, list[str]]:
    """Under DP-SGD, the config with each encoder's options made trainable by it
    (its ``for_privacy`` hook: cnn's BatchNorm → GroupNorm), and what changed.

    The swap is made in the config, so the saved model is the one that trained.
    """
    if config.training.privacy is None:
        return config, []
    raw = config.model_dump(mode="json")
    changes = []
    for feature in raw["input_features"]:
        encoder = ENCODERS[feature["encoder"]["name"]].cls
        feature["encoder"], changed = encoder.for_privacy(feature["encoder"])
        changes += [f"input feature '{feature['name']}': {change}" for change in changed]
    return (ModelConfig.model_validate(raw) if changes else config), changes


def describe(model: nn.Module, module_name: str) -> str:
    """Name the encoder (and its input feature) that holds a submodule."""
    parts = module_name.split(".")
    names = getattr(model, "names", [])
    if len(parts) >= 2 and parts[0] == "encoders":
        feature = next((n for n in names if module_key(n) == parts[1]), parts[1])
        encoder = type(model.get_submodule(f"encoders.{parts[1]}"))
        label = next((e.name for e in ENCODERS.values() if e.cls is encoder), encoder.__name__)
        return f"the '{label}' encoder of input feature '{feature}'"
    return f"module '{module_name or type(model).__name__}'"


def compatible_copy(model: nn.Module) -> nn.Module:
    """A copy of the network with Opacus-compatible layers and the same ``state_dict`` keys.

    Raises:
        ConfigError: a layer would be replaced by one whose weights differ (e.g.
            BatchNorm → GroupNorm), so the trained model could not be saved as
            the configured architecture.
    """
    fixed = ModuleValidator.fix(model)
    for rnn in fixed.modules():
        if isinstance(rnn, DPRNNBase):
            hooks = rnn._state_dict_hooks  # Opacus's returns a copy, which a parent ignores
            for key in [k for k, h in hooks.items() if h.__name__ == "filter_out_old_keys"]:
                del hooks[key]
            rnn._register_state_dict_hook(drop_inner_names)
            rnn._register_load_state_dict_pre_hook(add_inner_names, with_module=True)
    if changed := set(model.state_dict()) ^ set(fixed.state_dict()):
        modules = dict(model.named_modules())
        name = sorted(changed)[0]
        while name and name not in modules:
            name = name.rpartition(".")[0]
        old = type(modules[name]).__name__
        raise ConfigError(
            f"training.privacy: {describe(model, name)} uses {old}, which DP-SGD cannot "
            "train (Opacus would swap it for a different layer). Remove it from the "
            "encoder (for cnn: group_norm: true instead of batch_norm; tailor train "
            "makes that swap itself)."
        )
    return fixed


def drop_inner_names(
    module: DPRNNBase, state: dict[str, torch.Tensor], prefix: str, _meta: object
) -> None:
    """``state_dict`` hook on a DP RNN: list each weight once, under nn.LSTM/GRU's name.

    Opacus's own hook for this only works on a top-level RNN, not one nested in a model.
    """
    for inner in module.old_to_new:
        state.pop(prefix + inner, None)


def add_inner_names(
    module: DPRNNBase, state: dict[str, torch.Tensor], prefix: str, *_: object
) -> None:
    """``load_state_dict`` pre-hook on a DP RNN: feed its inner layers the same weights."""
    for inner, outer in module.old_to_new.items():
        if prefix + outer in state:
            state[prefix + inner] = state[prefix + outer]


class RowOrder:
    """Puts DP RNN per-sample gradients back into batch order.

    Opacus computes them on the length-sorted packed batch, while every other
    layer's are in batch order, and clipping adds them up row by row. A forward
    pre-hook on each DP RNN of ``net`` keeps the packed batch's inverse sort order.
    """

    def __init__(self, net: nn.Module) -> None:
        self.rnns = [m for m in net.modules() if isinstance(m, DPRNNBase)]
        self.orders: dict[nn.Module, torch.Tensor | None] = {}
        for rnn in self.rnns:
            rnn.register_forward_pre_hook(self.remember)

    def remember(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        packed = args[0]
        self.orders[module] = (
            packed.unsorted_indices if isinstance(packed, PackedSequence) else None
        )

    def restore(self) -> None:
        """Reorder the per-sample gradients of the last backward pass (once)."""
        for rnn in self.rnns:
            order = self.orders.pop(rnn, None)
            if order is None:
                continue
            for param in rnn.parameters():
                samples = getattr(param, "grad_sample", None)
                if samples is not None:
                    param.grad_sample = samples[order]


def row_by_row(module: nn.Module, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Per-row gradients of ``(module(x) * weights).sum()`` by plain autograd, ``(k, P)``."""
    params = [p for p in module.parameters() if p.requires_grad]
    rows = []
    for i in range(len(x)):
        out = (module(x[i : i + 1]) * weights[i : i + 1]).sum()
        grads = torch.autograd.grad(out, params, allow_unused=True, materialize_grads=True)
        rows.append(torch.cat([g.reshape(-1) for g in grads]))  # zeros where unused
    return torch.stack(rows)


def per_sample(module: nn.Module, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The same per-row gradients as Opacus computes them in one batch, ``(k, P)``."""
    params = [p for p in module.parameters() if p.requires_grad]
    order = RowOrder(module)
    gsm = GradSampleModule(module, loss_reduction="sum")
    try:
        with quiet_opacus():
            (gsm(x) * weights).sum().backward()
        order.restore()
        samples = [p.grad_sample for p in params]  # type: ignore[attr-defined]
        return torch.cat([g.reshape(len(x), -1) for g in samples], dim=1)
    finally:
        gsm.zero_grad(set_to_none=True)
        gsm._close()


def deterministic_train_mode(module: nn.Module) -> nn.Module:
    """Training mode only on layers with weights, so dropout is off but Opacus hooks run."""
    module.eval()
    for layer in module.modules():
        if any(True for _ in layer.parameters(recurse=False)):
            layer.training = True
    return module


def check_encoder(label: str, encoder: nn.Module, x: torch.Tensor) -> None:
    """Compare Opacus's per-sample gradients for one encoder with row-by-row autograd.

    Raises:
        ConfigError: Opacus fails on the encoder or gets its gradients wrong.
    """
    if not any(p.requires_grad for p in encoder.parameters()):
        return  # nothing to train, nothing to check
    probe = deterministic_train_mode(copy.deepcopy(encoder))
    with torch.random.fork_rng(), quiet_opacus():
        try:
            with torch.no_grad():
                weights = torch.randn(probe(x).shape)  # a random direction per output
            expected = row_by_row(probe, x, weights)
            got = per_sample(probe, x, weights)
            probe.train()  # once with dropout on, as in training
            per_sample(probe, x, weights)
        except Exception as err:  # noqa: BLE001  any failure means: cannot train privately
            tip = " Set the encoder's dropout to 0." if "random" in str(err) else ""
            raise ConfigError(
                f"training.privacy: {label} cannot be trained with DP-SGD: Opacus cannot "
                f"compute its per-sample gradients ({type(err).__name__}: {err}).{tip}"
            ) from None
    scale = float(expected.abs().max()) + 1e-12
    if got.shape != expected.shape or not torch.allclose(got, expected, atol=1e-4 * scale):
        raise ConfigError(
            f"training.privacy: {label} cannot be trained with DP-SGD: Opacus computes wrong "
            "per-sample gradients for it (one of its layers is not applied row by row, such "
            "as a position table shared by the whole batch), so the guarantee would not hold."
        )


def check_encoders(net: nn.Module, train: Encoded) -> None:
    """Run :func:`check_encoder` on each encoder of the network with a few training rows."""
    encoders = getattr(net, "encoders", None)
    if not isinstance(encoders, nn.ModuleDict):
        return
    rows = torch.linspace(0, len(train) - 1, min(PROBE_ROWS, len(train))).long()
    for name in getattr(net, "names", []):
        key = module_key(name)
        x = train.inputs[name].index_select(0, rows)
        check_encoder(describe(net, f"encoders.{key}"), encoders[key], x)


@dataclass
class PrivateTraining:
    """The Opacus side of a private training run.

    Attributes:
        engine: the privacy engine, holding the accountant.
        module: the network wrapped to compute per-sample gradients.
        optimizer: clips per sample, adds noise, then steps the trainer's optimizer.
        loss: the training loss (ghost clipping's two-pass wrapper where used).
        loader: Poisson-sampled batches of the training split.
        order: puts DP RNN per-sample gradients back into batch order.
    """

    engine: PrivacyEngine
    module: nn.Module
    optimizer: DPOptimizer
    loss: RowLoss | DPLossFastGradientClipping
    loader: DataLoader[Batch]
    order: RowOrder
    settings: PrivacyConfig

    def step(
        self, inputs: dict[str, torch.Tensor], y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One DP-SGD step on a batch; returns the detached mean loss and outputs."""
        self.optimizer.zero_grad(set_to_none=True)
        if len(y) == 0:
            self.noise_only_step()
            return torch.zeros(()), torch.zeros(0)
        with quiet_opacus():
            out = self.module(inputs)
            loss = self.loss(out, y)
            loss.backward()
        self.order.restore()
        self.optimizer.step()
        return loss.detach(), out.detach()

    def noise_only_step(self) -> None:
        """Step on an empty Poisson batch: zero gradients plus noise, as the accounting assumes.

        Skipping the step instead would reveal that no row was drawn, and layers
        like packed RNNs cannot run on zero rows.
        """
        for param in self.optimizer.params:
            param.grad = torch.zeros_like(param)  # what ghost clipping reads
            param.grad_sample = param.new_zeros((0, *param.shape))  # what the hooks mode reads
        self.optimizer.step()

    def account_for(self, epochs: int) -> None:
        """Set the accountant to ``epochs`` full epochs already trained (on resume)."""
        steps = epochs * len(self.loader)
        sigma, rate = self.optimizer.noise_multiplier, self.loader.sample_rate  # type: ignore[attr-defined]
        self.engine.accountant.history = [(sigma, rate, steps)] if steps else []

    def epsilon(self) -> float:
        """The ε spent so far at the configured δ."""
        if not self.engine.accountant.history:
            return 0.0
        with quiet_opacus():
            return float(self.engine.get_epsilon(self.settings.delta))

    def figures(self) -> Privacy:
        """ε spent, δ, the clip norm and the noise multiplier, for metrics.json."""
        return Privacy(
            epsilon=self.epsilon(),
            delta=self.settings.delta,
            target_epsilon=self.settings.epsilon,
            max_grad_norm=self.settings.max_grad_norm,
            noise_multiplier=float(self.optimizer.noise_multiplier),
            sample_rate=float(self.loader.sample_rate),  # type: ignore[attr-defined]
            accountant=self.engine.accountant.mechanism(),
            covers=SCOPE,
        )


def make_private(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: Encoded,
    kind: str,
    cfg: TrainingConfig,
    generator: torch.Generator,
) -> PrivateTraining:
    """Wrap network, optimizer and data for DP-SGD at the configured (ε, δ).

    Ghost clipping (no per-sample gradients held in memory) is used unless the
    network has a DP RNN, whose per-sample gradients must be reordered.

    Args:
        net: the Opacus-compatible network (:func:`compatible_copy`).
        optimizer: the trainer's optimizer over ``net``'s parameters.
        cfg: training settings; ``cfg.privacy`` must be set.
        generator: the seeded source of batch sampling and noise.

    Raises:
        ConfigError: an encoder cannot be trained privately.
    """
    settings = cfg.privacy
    assert settings is not None
    check_encoders(net, train)
    order = RowOrder(net)
    assert train.target is not None
    # rows as ({feature: tensor}, target), which the loader's default collate stacks into
    # ({feature: (B, ...)}, (B,)); a tensor is a sized, indexable dataset
    rows = StackDataset(StackDataset(**train.inputs), train.target)  # type: ignore[arg-type]
    loader = DataLoader(rows, batch_size=cfg.batch_size, generator=generator)
    with quiet_opacus():
        engine = PrivacyEngine(accountant="prv", secure_mode=False)
        wrapped = engine.make_private_with_epsilon(
            module=net,
            optimizer=optimizer,
            criterion=RowLoss(kind, cfg.loss),
            data_loader=loader,
            target_epsilon=settings.epsilon,
            target_delta=settings.delta,
            epochs=cfg.epochs,
            max_grad_norm=settings.max_grad_norm,
            noise_generator=generator,
            grad_sample_mode="hooks" if order.rnns else "ghost",
        )
    if order.rnns:
        module, dp_optimizer, dp_loader = wrapped
        loss = RowLoss(kind, cfg.loss)
    else:
        module, dp_optimizer, loss, dp_loader = wrapped
    return PrivateTraining(engine, module, dp_optimizer, loss, dp_loader, order, settings)
