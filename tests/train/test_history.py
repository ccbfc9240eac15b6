from dataclasses import asdict

from lookalike.training.history import EpochRow, write_history


def test_a_row_round_trips_through_a_checkpoint_and_old_flat_rows_still_read():
    row = EpochRow(epoch=2, train_loss=0.5, lr=1e-3, images=12, images_per_second=30.0, seconds=0.4,
                   statistics={"active": 0.25}, validation={"valid_loss": 0.4, "valid_triplet_accuracy": 0.75})
    assert EpochRow.from_checkpoint(asdict(row)) == row
    flat = {"epoch": 2, "train_loss": 0.5, "active": 0.25, "lr": 1e-3, "images": 12, "images_per_second": 30.0,
            "seconds": 0.4, "valid_loss": 0.4, "valid_triplet_accuracy": 0.75}  # as checkpoints held rows before
    assert EpochRow.from_checkpoint(flat) == row
    assert row.to_dict() == flat and row.measure("active") == 0.25 and row.measure("pair_accuracy") is None


def test_the_log_keeps_its_columns_in_order(tmp_path):
    rows = [EpochRow(1, 0.9, 1e-3, 8, 20.0, 0.4, {"active": 0.5}),
            EpochRow(2, 0.7, 1e-3, 8, 21.0, 0.38, {"active": 0.4}, {"valid_loss": 0.6})]
    lines = write_history(rows, tmp_path / "log.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,active,lr,images,images_per_second,seconds,valid_loss"
    assert lines[1].startswith("1,0.9,0.5,") and lines[2].endswith(",0.6")
