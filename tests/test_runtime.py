import pytest
import torch

from lookalike import runtime
from lookalike.errors import LookalikeError


def test_auto_precision_on_cpu_follows_the_hardware(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    assert runtime.autocast_dtype(cpu, "auto") is torch.bfloat16
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    assert runtime.autocast_dtype(cpu, "auto") is None


def test_forced_precisions():
    cpu = torch.device("cpu")
    assert runtime.autocast_dtype(cpu, "fp32") is None
    assert runtime.autocast_dtype(cpu, "bf16") is torch.bfloat16
    with pytest.raises(LookalikeError, match="only supported on CUDA"):
        runtime.autocast_dtype(cpu, "fp16")
    with pytest.raises(LookalikeError, match="unknown precision"):
        runtime.autocast_dtype(cpu, "fp8")


def test_device_requests():
    assert runtime.pick_device("cpu") == torch.device("cpu")
    with pytest.raises(LookalikeError, match="unknown device"):
        runtime.pick_device("abacus")
    if not torch.cuda.is_available():
        with pytest.raises(LookalikeError, match="CUDA is not available"):
            runtime.pick_device("cuda")
