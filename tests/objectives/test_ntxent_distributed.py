import gloo_workers
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file


def test_two_gloo_processes_give_the_single_process_loss_and_gradients(tmp_path):
    """Negatives gathered across two ranks, with gradients flowing back through the gather, must reproduce the
    loss and every parameter gradient of one process holding the whole batch."""
    out = str(tmp_path / "rank")
    mp.spawn(gloo_workers.run_rank, args=(2, str(tmp_path / "init"), out), nprocs=2, join=True)
    expected_loss, expected = gloo_workers.loss_and_gradients(*gloo_workers.global_batch())
    for rank in range(2):
        seen = load_file(f"{out}.{rank}")
        assert abs(seen.pop("loss").item() - expected_loss) < 1e-5
        assert seen.keys() == expected.keys()
        for name, gradient in expected.items():
            torch.testing.assert_close(seen[name], gradient, rtol=1e-4, atol=1e-6, msg=name)
