"""Generic, chemistry-free training loop shared by molecule pretraining and image SSL.

The domain-specific part is an *objective* ``(model, batch, generator) -> (loss, metrics)``
(augment two views, encode, contrast); the :class:`Trainer` owns everything else: Adam with
weight decay, the MolCLR schedule, a deterministic and resumable data order, validation with a
kept best checkpoint, atomic checkpoints, SIGINT/SIGTERM handling, logging, AMP/compile on CUDA
and DDP under torchrun.

Example::

    trainer = Trainer(model, objective, train_set, TrainerConfig(epochs=50, out_dir="runs/a"),
                      val_data=val_set, collate_fn=Batch.from_data_list)
    result = trainer.fit()
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from molssl.contrastive.config import ConfigError
from molssl.contrastive.io.atomic import remove_stale_temps
from molssl.contrastive.io.checkpoint import (
    capture_rng_state,
    check_weight_shapes,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
    to_plain,
)
from molssl.contrastive.io.runlock import run_lock
from molssl.contrastive.training import dist as trainer_dist
from molssl.contrastive.training.allocator import keep_freed_memory
from molssl.contrastive.training.config import TrainerConfig, resolve_device
from molssl.contrastive.training.data import EpochBatchSampler, move_to_device
from molssl.contrastive.training.logs import MetricsCSV, TensorBoardLogger, write_run_info
from molssl.contrastive.training.schedule import build_scheduler
from molssl.contrastive.training.seed import (
    derive_seed,
    make_generator,
    seed_everything,
    seed_worker,
)
from molssl.contrastive.training.signals import GracefulStop
from molssl.contrastive.training.state import LoopState, MetricWindow

__all__ = ["Objective", "Probe", "TrainResult", "Trainer", "TrainerConfig"]

logger = logging.getLogger(__name__)

Objective = Callable[[nn.Module, Any, torch.Generator], tuple[Tensor, Mapping[str, float]]]
Probe = Callable[[nn.Module], Mapping[str, float]]
LoaderFactory = Callable[[Dataset, Iterable[list[int]]], Iterable[Any]]
StepCallback = Callable[["Trainer", int], None]

LAST, BEST = "last.pt", "best.pt"


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Attributes:
        step: Optimizer steps taken in total (including before a resume).
        epoch: Completed epochs.
        last_checkpoint: Path of ``last.pt``.
        best_checkpoint: Path of ``best.pt`` (None without validation data).
        best_metric: Best validation loss (None without validation data).
        history: One dict per completed epoch (``epoch, step, train_loss, lr[, val_loss]``).
        interrupted: True when SIGINT/SIGTERM (or :meth:`Trainer.request_stop`) ended the run.
        stop_signal: The signal that ended it on this process (2 SIGINT, 15 SIGTERM); ``None``
            when it ran to its end, or stopped on request or on another rank's signal.
    """

    step: int
    epoch: int
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    best_metric: float | None
    history: list[dict[str, float]] = field(default_factory=list)
    interrupted: bool = False
    stop_signal: int | None = None

    @property
    def exit_code(self) -> int:
        """What a command should exit with: 0 for a run that reached its end, ``128 + N``
        after signal ``N`` (the shell's convention: 130 SIGINT, 143 SIGTERM) and 1 for another
        interruption, so a scheduler or a retry loop sees that the run is not finished (it
        resumes with ``--resume``)."""
        if not self.interrupted:
            return 0
        return 128 + self.stop_signal if self.stop_signal else 1


class Trainer:
    """Train ``model`` by minimising ``objective`` over ``train_data``.

    Args:
        model: The module to train; after :meth:`fit` it holds the final weights.
        objective: ``(model, batch, generator) -> (loss, metrics)``; ``loss`` is a scalar mean
            over the batch, ``metrics`` floats to log. It must call ``model(...)`` (not its
            submodules) so DDP synchronises gradients, and draw all augmentation randomness
            from ``generator`` (on the training device).
        train_data: A map-style dataset (``len`` and integer indexing).
        config: Loop settings.
        val_data: Optional validation dataset; its mean objective loss picks ``best.pt``.
        collate_fn: Turns a list of samples into a batch (DataLoader default when None).
        loader_factory: ``(dataset, batch_sampler) -> iterable of batches`` to replace the
            default ``DataLoader`` (e.g. a graph-store loader); must yield batches in sampler order.
        run_config: The full resolved run config stored in checkpoints and ``config.yaml``
            (the trainer config is added under ``"trainer"`` when absent).
        metadata: Extra top-level checkpoint entries, e.g. ``{"featurizer": {...}}``.
        run_info: Extra entries of ``run_info.json`` (e.g. the objective's settings after
            presets).
        callbacks: Called as ``callback(trainer, step)`` after every optimizer step.
        probe: ``model -> {name: score}``, run on the main process every
            ``config.probe_every`` steps with the model in eval mode, without gradients and
            with the global RNG state restored afterwards (so probing never changes training);
            its time is left out of ``samples_per_s``.

    A model that keeps state updated outside the gradient step (an EMA target network, see
    :class:`~molssl.contrastive.momentum.MomentumNetwork`) defines
    ``after_optimizer_step(step, total_steps) -> Mapping[str, float] | None``; the trainer calls
    it on the unwrapped model after every optimizer step (``step`` counts steps taken, from 1;
    ``total_steps`` is ``epochs * steps_per_epoch``) and logs what it returns. Keep such state in
    parameters or buffers so that checkpoints and resume include it.
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Objective,
        train_data: Dataset,
        config: TrainerConfig,
        *,
        val_data: Dataset | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        loader_factory: LoaderFactory | None = None,
        run_config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        run_info: Mapping[str, Any] | None = None,
        callbacks: Sequence[StepCallback] = (),
        probe: Probe | None = None,
    ) -> None:
        self.model = model
        self.objective = objective
        self.train_data = train_data
        self.val_data = val_data
        self.config = config
        self.collate_fn = collate_fn
        self.loader_factory = loader_factory or self._default_loader
        self.run_config = to_plain(dict(run_config or {}))
        self.run_config.setdefault("trainer", to_plain(config))
        self.metadata = dict(metadata or {})
        self.run_info = to_plain(dict(run_info or {}))
        self.callbacks = list(callbacks)
        self.probe = probe
        self._postfix: dict[str, str] = {}
        self.out_dir = Path(config.out_dir)
        self._stop = GracefulStop()
        self._interrupted = False

    def request_stop(self) -> None:
        """Ask the loop to finish the current step, write ``last.pt`` and return."""
        self._stop.request()

    def fit(self) -> TrainResult:
        """Run the loop until ``epochs`` or ``max_steps``; resume first when configured.

        Returns:
            A :class:`TrainResult`.

        Raises:
            FileExistsError: If ``out_dir`` holds ``last.pt`` and ``resume`` is False.
            RunInUseError: If another process trains into ``out_dir`` (a ``ConfigError``).
            ValueError: If the resumed checkpoint has another number of steps per epoch.
            FloatingPointError: If the logged training loss is not finite.
        """
        cfg = self.config
        self._stop, self._interrupted = GracefulStop(), False
        device = resolve_device(cfg.device, int(os.environ.get("LOCAL_RANK", 0)))
        if device.type == "cpu" and cfg.keep_cpu_memory:
            keep_freed_memory()
        ctx = trainer_dist.setup(device.type)
        self._ctx, self._device = ctx, device
        tb = None
        try:
            with self._stop, contextlib.ExitStack() as lock:
                if ctx.is_main:  # one process per run folder (the other ranks are this job's)
                    lock.enter_context(run_lock(self.out_dir, "training run"))
                self._build(device)
                self._load_or_start()
                if ctx.is_main:
                    write_run_info(self.out_dir, self.run_config, self._run_extra())
                    resume_step = self.state.step if self.state.step > 0 else None
                    self._csv: MetricsCSV | None = MetricsCSV(
                        self.out_dir / "metrics.csv", resume_step
                    )
                    tb = TensorBoardLogger(self.out_dir / "tb", enabled=cfg.tensorboard)
                else:
                    self._csv = None
                self._tb = tb
                self._loop()
                return self._result()
        finally:
            if tb is not None:
                tb.close()
            ctx.teardown()

    def _build(self, device: torch.device) -> None:
        cfg, ctx = self.config, self._ctx
        seed_everything(derive_seed(cfg.seed, ctx.rank))
        if cfg.amp and device.type != "cuda":
            logger.warning("amp=True is CUDA only; training in float32 on %s", device)
        if cfg.compile and device.type != "cuda":
            logger.warning("compile=True is CUDA only; running eagerly on %s", device)
        use_amp = cfg.amp and device.type == "cuda"
        self._amp_dtype = torch.bfloat16
        if use_amp and not torch.cuda.is_bf16_supported():
            self._amp_dtype = torch.float16
        self._use_amp = use_amp
        if cfg.sync_batchnorm and ctx.world_size > 1 and device.type != "cuda":
            logger.warning("sync_batchnorm needs CUDA; keeping per-process BatchNorm on %s", device)
        elif cfg.sync_batchnorm and ctx.world_size > 1:
            self.model = nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        self.model.to(device)
        train_model: nn.Module = self.model
        if ctx.world_size > 1:
            train_model = nn.parallel.DistributedDataParallel(
                self.model,
                device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=cfg.find_unused_parameters,
            )
        eval_model: nn.Module = self.model
        if cfg.compile and device.type == "cuda":
            train_model, eval_model = torch.compile(train_model), torch.compile(self.model)
        self._train_model, self._eval_model = train_model, eval_model
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.sampler = EpochBatchSampler(
            len(self.train_data),
            cfg.batch_size,
            seed=cfg.seed,
            rank=ctx.rank,
            world_size=ctx.world_size,
            drop_last=cfg.drop_last,
        )
        spe = self.sampler.batches_per_epoch
        self.scheduler = build_scheduler(
            self.optimizer,
            spe,
            cfg.epochs,
            cfg.warmup_epochs,
            cfg.min_lr,
            kind=cfg.schedule,
            max_steps=cfg.max_steps,
        )
        self.scaler = torch.amp.GradScaler(
            device.type, enabled=use_amp and self._amp_dtype == torch.float16
        )
        self.generator = make_generator(derive_seed(cfg.seed, ctx.rank, 1), device=device)
        self.total_steps = cfg.epochs * spe
        self.stop_step = min(self.total_steps, cfg.max_steps or self.total_steps)
        self.state = LoopState(device=device)

    def _load_or_start(self) -> None:
        path = self.out_dir / LAST
        if not self.config.resume:
            if path.exists():
                raise FileExistsError(
                    f"{path} exists; pass --resume (resume=True) to continue that run or pick a new "
                    "--out (out_dir)"
                )
            return
        if self._ctx.is_main:  # under the run lock: no other process writes here
            stale = remove_stale_temps(self.out_dir)
            if stale:
                logger.info(
                    "removed %d temporary file(s) an interrupted write left in %s",
                    len(stale),
                    self.out_dir,
                )
        if not path.exists():
            logger.info("resume=True but %s does not exist; starting a new run", path)
            return
        ckpt = load_checkpoint(path, map_location="cpu")
        saved_spe = ckpt["trainer"]["steps_per_epoch"]
        if saved_spe != self.sampler.batches_per_epoch:
            raise ConfigError(
                f"{path} was written with {saved_spe} steps per epoch but this run has "
                f"{self.sampler.batches_per_epoch} (dataset size, batch size or world size "
                "changed); resume with the same data and --batch-size or start a new --out"
            )
        check_weight_shapes(
            self.model,
            ckpt["state_dict"],
            str(path),
            hint="; the run was started with another model or featurizer: resume with the "
            "same config and data, or start a new --out",
        )
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt["trainer"].get("scaler"):
            self.scaler.load_state_dict(ckpt["trainer"]["scaler"])
        self.state.load(ckpt)
        rngs = ckpt["rng"]
        if len(rngs) == self._ctx.world_size:
            restore_rng_state(rngs[self._ctx.rank], {"augment": self.generator})
        else:
            logger.warning(
                "%s was written by %d processes, this run has %d: RNG streams reseeded, the "
                "resumed run will not be bit-identical to an uninterrupted one",
                path,
                len(rngs),
                self._ctx.world_size,
            )
        logger.info("resumed %s at step %d (epoch %d)", path, self.state.step, self.state.epoch)

    def _run_extra(self) -> dict[str, Any]:
        return {
            "world_size": self._ctx.world_size,
            "device": str(self._device),
            "steps_per_epoch": self.sampler.batches_per_epoch,
            "global_batch_size": self.sampler.global_batch_size,
            "resumed_from_step": self.state.step,
            **self.run_info,
        }

    def _default_loader(self, dataset: Dataset, batch_sampler: Iterable[list[int]]) -> DataLoader:
        cfg, st = self.config, self.state
        generator = make_generator(derive_seed(cfg.seed, st.epoch, self._ctx.rank, 2))
        return DataLoader(
            dataset,
            batch_sampler=batch_sampler,  # type: ignore[arg-type]
            collate_fn=self.collate_fn,
            num_workers=cfg.num_workers,
            worker_init_fn=seed_worker,
            generator=generator,
            pin_memory=self._device.type == "cuda",
        )

    def _loop(self) -> None:
        cfg, st, ctx = self.config, self.state, self._ctx
        pbar = None
        if ctx.is_main and cfg.progress:
            from tqdm.auto import tqdm

            pbar = tqdm(total=self.stop_step, initial=st.step, desc="train", dynamic_ncols=True)
        window = MetricWindow(st.device)
        done = st.step >= self.stop_step
        while not done and st.epoch < cfg.epochs:
            self.sampler.set_epoch(st.epoch, st.batch_in_epoch)
            self._train_model.train()
            for batch in self.loader_factory(self.train_data, self.sampler):
                loss, metrics = self._train_step(move_to_device(batch, st.device))
                st.step += 1
                metrics |= self._after_optimizer_step()
                st.batch_in_epoch += 1
                st.add_epoch_loss(loss)
                window.add(loss, metrics, self.sampler.global_batch_len(st.batch_in_epoch - 1))
                for callback in self.callbacks:
                    callback(self, st.step)
                if st.step % cfg.log_every == 0:
                    self._log_window(window, pbar)
                if pbar is not None:
                    pbar.update(1)
                stop = trainer_dist.any_rank(self._stop.requested)
                paused = time.perf_counter()
                if self.probe is not None and cfg.probe_every and st.step % cfg.probe_every == 0:
                    self._run_probe(pbar)
                if st.batch_in_epoch == self.sampler.batches_per_epoch:
                    self._end_epoch()
                elif cfg.checkpoint_every_steps and st.step % cfg.checkpoint_every_steps == 0:
                    self._save(LAST)
                window.exclude(time.perf_counter() - paused)  # samples/s: training only
                if stop or st.step >= self.stop_step:
                    self._interrupted = stop
                    done = True
                    break
            if not done and st.batch_in_epoch != 0:
                raise RuntimeError(
                    f"the loader stopped after {st.batch_in_epoch} of "
                    f"{self.sampler.batches_per_epoch} batches of epoch {st.epoch}; a custom "
                    "loader_factory must yield one batch per batch-sampler entry"
                )
        if window.count:
            self._log_window(window, pbar)
        if pbar is not None:
            pbar.close()
        if st.last_saved_step != st.step:  # the same decision on every rank: _save is collective
            self._save(LAST)
        if self._interrupted:
            logger.warning("stopped on request at step %d; continue it with --resume", st.step)

    def _train_step(self, batch: Any) -> tuple[Tensor, dict[str, float]]:
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self._device.type, dtype=self._amp_dtype, enabled=self._use_amp):
            loss, metrics = self.objective(self._train_model, batch, self.generator)
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            raise TypeError(f"objective must return a scalar loss tensor first, got {loss!r}")
        self.scaler.scale(loss).backward()
        if self.config.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.detach(), {k: float(v) for k, v in metrics.items()}

    def _after_optimizer_step(self) -> dict[str, float]:
        hook = getattr(self.model, "after_optimizer_step", None)
        if hook is None:
            return {}
        extra = hook(self.state.step, self.total_steps)
        return {k: float(v) for k, v in (extra or {}).items()}

    def _log_window(self, window: MetricWindow, pbar: Any) -> None:
        values = trainer_dist.all_reduce_mean(window.means())
        rate = window.rate()
        window.reset()
        if not math.isfinite(values["loss"]):
            raise FloatingPointError(
                f"training loss is {values['loss']} at step {self.state.step}; lower lr, enable "
                "grad_clip or check the objective"
            )
        row = {"step": self.state.step, "epoch": self.state.epoch, "split": "train"}
        row |= {"lr": self.scheduler.get_last_lr()[0], "samples_per_s": rate, **values}
        if self._csv is not None:
            self._csv.log(row)
        if self._tb is not None:
            self._tb.log({k: v for k, v in row.items() if k != "split"}, row["step"], "train")
        if pbar is not None:
            self._postfix |= {"loss": f"{values['loss']:.4f}", "samples_s": f"{rate:.0f}"}
            pbar.set_postfix(self._postfix)

    def _run_probe(self, pbar: Any) -> None:
        if not self._ctx.is_main:
            return
        start = time.perf_counter()
        self.model.eval()
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=[]):
                scores = {k: float(v) for k, v in self.probe(self.model).items()}
        finally:
            self.model.train()
        st = self.state
        logger.info("probe at step %d: %s (%.1f s)", st.step, scores, time.perf_counter() - start)
        if self._csv is not None:
            self._csv.log({"step": st.step, "epoch": st.epoch, "split": "probe", **scores})
        if self._tb is not None:
            self._tb.log(scores, st.step, "probe")
        if pbar is not None:
            self._postfix |= {k: f"{v:.3f}" for k, v in scores.items()}
            pbar.set_postfix(self._postfix)

    def _end_epoch(self) -> None:
        st, cfg = self.state, self.config
        record = {"epoch": st.epoch, "step": st.step, "lr": self.scheduler.get_last_lr()[0]}
        record["train_loss"] = trainer_dist.all_reduce_mean({"l": st.epoch_mean_loss()})["l"]
        st.epoch += 1
        st.batch_in_epoch = 0
        st.reset_epoch_loss()
        improved = False
        if self.val_data is not None and (st.epoch % cfg.val_every == 0 or st.epoch == cfg.epochs):
            val = self._validate()
            record["val_loss"] = val["loss"]
            if self._csv is not None:
                self._csv.log({"step": st.step, "epoch": st.epoch, "split": "val", **val})
            if self._tb is not None:
                self._tb.log(val, st.step, "val")
            if st.best_metric is None or val["loss"] < st.best_metric:
                st.best_metric, improved = val["loss"], True
        st.history.append(record)
        self._save(LAST)
        if improved:
            self._save(BEST)

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        """Mean objective loss and metrics over the validation set (all ranks combined).

        Each rank evaluates every ``world_size``-th sample; a fixed generator makes the
        augmentations, and therefore the score, comparable between epochs.

        Returns:
            ``{"loss": ..., **metrics}`` weighted by batch size.
        """
        ctx, cfg = self._ctx, self.config
        indices = list(range(ctx.rank, len(self.val_data), ctx.world_size))
        batches = [indices[i : i + cfg.batch_size] for i in range(0, len(indices), cfg.batch_size)]
        generator = make_generator(derive_seed(cfg.seed, ctx.rank, 3), device=self._device)
        window = MetricWindow(self._device)
        self._eval_model.eval()
        with torch.autocast(self._device.type, dtype=self._amp_dtype, enabled=self._use_amp):
            for idx, batch in zip(
                batches, self.loader_factory(self.val_data, batches), strict=True
            ):
                loss, metrics = self.objective(
                    self._eval_model, move_to_device(batch, self._device), generator
                )
                window.add(loss.float(), {k: float(v) for k, v in metrics.items()}, len(idx))
        self._train_model.train()
        sums = trainer_dist.all_reduce_mean(window.weighted_sums())
        total = sums.pop("n")
        return {k: v / total for k, v in sums.items()} if total else {"loss": math.nan}

    def _save(self, name: str) -> None:
        st, ctx = self.state, self._ctx
        rngs = trainer_dist.gather_objects(capture_rng_state({"augment": self.generator}))
        trainer_dist.barrier()
        if ctx.is_main:
            save_checkpoint(
                self.out_dir / name,
                self.model.state_dict(),
                config=self.run_config,
                optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict(),
                step=st.step,
                epoch=st.epoch,
                best_metric=st.best_metric,
                rng=rngs,
                trainer=st.to_dict(self.sampler.batches_per_epoch, self.scaler.state_dict()),
                metadata=self.metadata,
            )
            logger.info("wrote %s at step %d", self.out_dir / name, st.step)
        st.last_saved_step = st.step
        trainer_dist.barrier()

    def _result(self) -> TrainResult:
        best = self.out_dir / BEST
        return TrainResult(
            step=self.state.step,
            epoch=self.state.epoch,
            last_checkpoint=self.out_dir / LAST,
            best_checkpoint=best if self.state.best_metric is not None else None,
            best_metric=self.state.best_metric,
            history=list(self.state.history),
            interrupted=self._interrupted,
            stop_signal=self._stop.signal if self._interrupted else None,
        )
