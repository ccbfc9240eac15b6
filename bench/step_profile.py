"""Where a training step's time goes, from torch.profiler: lightly's SimCLR loop against lookalike's, on the same
files, model, input size and batch as bench/train_throughput.py.

For each loop it profiles a few steps after a warm-up and prints:
- the wall time per step and, on a GPU, how much of it the device was busy with kernels and copies (the rest it
  waited for the host: data, Python, launches, synchronisation);
- the top kernels by device time (on a GPU), and the top operators by their own host time, which on a GPU shows what
  keeps the host busy between launches.
py-spy (bench/top_costs.py) cannot see inside a GPU; this can, and it also runs on a CPU.

    .venv-bench/bin/python bench/step_profile.py ../shared/data/cifar10_train_subset --device cuda
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, schedule
from train_throughput import LightlyLoop, add_loop_options, subset_folder, synchronise, train_lookalike

from lookalike.training import Callbacks


class StepProfiler:
    """torch.profiler over steps `skip`..`skip + steps` of a loop, and the wall time those steps took. The loop calls
    `step_done()` after each step; the device is synchronised there so that the wall times are the device's too."""

    def __init__(self, device: str, skip: int, steps: int) -> None:
        self.device, self.skip, self.steps = device, skip, steps
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
        self.profiler = profile(activities=activities,
                                schedule=schedule(wait=skip - 1, warmup=1, active=steps, repeat=1))
        self.done, self.stamps = 0, []

    def __enter__(self) -> StepProfiler:
        self.profiler.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.profiler.__exit__(*exc)

    def step_done(self) -> None:
        synchronise(self.device)
        self.done += 1
        if self.done in (self.skip, self.skip + self.steps):
            self.stamps.append(time.perf_counter())
        self.profiler.step()

    @property
    def finished(self) -> bool:
        return self.done >= self.skip + self.steps

    def table(self, name: str, top: int) -> list[str]:
        if not self.finished:
            raise SystemExit(f"{name}: only {self.done} steps ran; give more --images or fewer --skip/--steps")
        events = self.profiler.key_averages()
        wall_ms = (self.stamps[1] - self.stamps[0]) * 1e3 / self.steps
        host = [event for event in events if event.device_type == DeviceType.CPU]
        if not self.device.startswith("cuda"):
            return [f"**{name}**: {wall_ms:.1f} ms per step.",
                    *_top(host, "self_cpu_time_total", top, "CPU", self.steps)]
        # Kernels and copies are events of their own: an operator's "self device time" counts its kernels again, and
        # the step's and the optimiser's annotations span the kernels inside them.
        kernels = [event for event in events if event.device_type != DeviceType.CPU and not event.is_user_annotation]
        busy_ms = sum(event.self_device_time_total for event in kernels) / 1e3 / self.steps
        return [f"**{name}**: {wall_ms:.1f} ms per step, the device busy for {busy_ms:.1f} ms of it "
                f"({busy_ms / wall_ms:.0%}).",
                *_top(kernels, "self_device_time_total", top, "device", self.steps),
                *_top(host, "self_cpu_time_total", top, "host", self.steps)]


def _top(events: list, attribute: str, top: int, what: str, steps: int) -> list[str]:
    """The `top` events by `attribute` (microseconds over all profiled steps), per step and as a share of all."""
    total = sum(getattr(event, attribute) for event in events)
    lines = ["", f"| {what} time: top operators and kernels | ms per step | share |", "|---|---|---|"]
    for event in sorted(events, key=lambda event: getattr(event, attribute), reverse=True)[:top]:
        spent = getattr(event, attribute)
        name = "(host time outside any operator)" if event.key.startswith("ProfilerStep") else f"`{event.key[:70]}`"
        lines.append(f"| {name} | {spent / 1e3 / steps:.2f} | {spent / total:.0%} |")
    return lines + [""]


def profile_lightly(folder: Path, args) -> StepProfiler:
    loop = LightlyLoop(folder, args)
    with StepProfiler(args.device, args.skip, args.steps) as profiler:
        while not profiler.finished:
            for (first, second), _ in loop.loader:
                loop.step(first, second)
                profiler.step_done()
                if profiler.finished:
                    break
    return profiler


def profile_lookalike(folder: Path, out: Path, objective: str, args) -> StepProfiler:
    with StepProfiler(args.device, args.skip, args.steps) as profiler:
        train_lookalike(folder, out, objective, args, 1, Callbacks(on_progress=lambda _: profiler.step_done()))
    return profiler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_loop_options(parser, images=5120)
    parser.add_argument("--skip", type=int, default=5, help="steps run before profiling (at least 1)")
    parser.add_argument("--steps", type=int, default=10, help="steps profiled")
    parser.add_argument("--top", type=int, default=10, help="operators listed per table")
    parser.add_argument("--loops", nargs="+", choices=("lightly", "simclr", "triplet"), default=["lightly", "simclr"])
    args = parser.parse_args()
    if args.skip < 1 or args.steps < 1:
        parser.error("--skip and --steps must be at least 1")

    with tempfile.TemporaryDirectory() as scratch:
        folder = subset_folder(args.data, args.images, Path(scratch) / "images")
        for loop in args.loops:
            profiler = (profile_lightly(folder, args) if loop == "lightly" else
                        profile_lookalike(folder, Path(scratch) / loop, loop, args))
            name = "lightly SimCLR loop" if loop == "lightly" else f"lookalike {loop} step"
            print("\n".join(profiler.table(name, args.top)), flush=True)


if __name__ == "__main__":
    main()
