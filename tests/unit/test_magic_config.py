"""``%%drill``'s settings from a configuration file (ipython_kernel_config.py), not only from
``%config`` after the extension is loaded."""

from __future__ import annotations

from traitlets.config import Config

from drillbook.jupyter.magic import Drill


def test_figure_helpers_can_be_turned_off_in_a_config_file() -> None:
    config = Config()
    config.Drill.parallel_figures = False  # c.Drill.parallel_figures = False
    magics = Drill(config=config)  # raised AttributeError: no figure_pool yet
    assert magics.parallel_figures is False


def test_config_file_settings_reach_the_magic() -> None:
    config = Config()
    config.Drill.tolerance_usecs = 25000
    assert Drill(config=config).tolerance_usecs == 25000
