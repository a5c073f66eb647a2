"""What the training loop reports (official/training/reporter.py): a bar per loop on a terminal,
log lines elsewhere, nothing from workers other than the chief."""

import io
import logging

from official.training import progress, reporter
from official.training.loop import LoopMetrics

METRICS = LoopMetrics(
    step=20, loss=1.25, top1=0.5, learning_rate=0.1, images_per_second=64.0, steps=10
)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_one_bar_line_per_loop_with_its_figures(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TERM", "xterm")
    out = Terminal()
    report = reporter.Reporter(str(tmp_path), total_steps=40, stream=out)
    with caplog.at_level(logging.INFO, "official.train"):
        with report.running(10, 20, lambda: 15):
            pass
        report.train(METRICS, skipped=0)
    last = out.getvalue().split("\r")[-1]
    assert last.startswith("[" + "=" * progress.WIDTH + "] 20/40  steps 11-20")
    assert last.rstrip().endswith("loss 1.2500  top1 0.5000  lr 0.10000  64.0 img/s")
    assert last.endswith("\n")
    assert not [r for r in caplog.records if r.getMessage().startswith("step ")]
    report.flush()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval", "train"]
    assert any(p.name.startswith("events.out") for p in (tmp_path / "train").iterdir())


def test_a_pipe_gets_log_lines_and_no_bar(tmp_path, caplog):
    out = io.StringIO()
    report = reporter.Reporter(str(tmp_path), total_steps=40, stream=out)
    with caplog.at_level(logging.INFO, "official.train"):
        with report.running(10, 20, lambda: 15):
            pass
        report.train(METRICS, skipped=3)
    assert out.getvalue() == ""
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    assert line == "step 20  loss 1.2500  top1 0.5000  lr 0.10000  64.0 img/s  skipped records 3"


def test_a_bar_stopped_by_an_error_ends_its_line(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    out = Terminal()
    bar = progress.LoopBar(40, out)
    try:
        with bar.running(0, 10, lambda: 5):
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert out.getvalue().endswith("\n")
    bar.close()  # nothing left open: no second newline
    assert not out.getvalue().endswith("\n\n")


def test_workers_other_than_the_chief_write_no_summaries_and_draw_no_bar(tmp_path, monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    out = Terminal()
    report = reporter.Reporter(None, total_steps=40, stream=out)
    with report.running(10, 20, lambda: 15):
        pass
    report.train(METRICS, skipped=0)
    assert report.bar is None and out.getvalue() == ""
    assert list(tmp_path.iterdir()) == []
