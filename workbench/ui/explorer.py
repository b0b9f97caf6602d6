"""The explorer: an ipywidgets panel, generated from the scenario schema, that runs scenarios.

Every choice a widget offers comes from :mod:`workbench.scenario.schema` (a
``Literal`` becomes a dropdown, numeric bounds become a slider's range) or from
the blueprint catalogue, and :meth:`Explorer.scenario` validates the current
state with the same loader as a scenario file, so the panel cannot produce a
scenario the loader rejects. With ``compare=True`` two configurations sit side
by side and run on the same seed (common random numbers).

Use in a notebook::

    from workbench.ui import Explorer
    Explorer(compare=True)
"""

from __future__ import annotations

import math
import typing
import uuid
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import pandas as pd
from annotated_types import Ge, Gt, Le, Lt
from pydantic.fields import FieldInfo

from workbench.blueprints import blueprint_names, load_blueprint_data
from workbench.display import table as show_table
from workbench.scenario import scenario_from_dict
from workbench.scenario.schema import ClientSpec, Scenario, Workload, WriteAssurance
from workbench.scenario.units import parse_quantity

# UI ranges where the schema leaves a side open (a slider needs both ends).
RATE_RANGE = (50.0, 20_000.0)
CLIENTS_MAX = 64
DURATION_RANGE_S = (5, 600)
FAULT_DOWN_RANGE_S = (1, 300)
SLOW_LINK_RANGE_MS = (1, 500)
BLUEPRINT_DEFAULT = "(blueprint's choice)"


def literal_choices(model: type[Any], name: str) -> list[Any]:
    """The values a ``Literal`` field (or the Literal part of a union) allows."""
    annotation = model.model_fields[name].annotation
    choices: list[Any] = []
    for arg in typing.get_args(annotation) or (annotation,):
        if typing.get_origin(arg) is typing.Literal:
            choices.extend(typing.get_args(arg))
    if typing.get_origin(annotation) is typing.Literal:
        choices = list(typing.get_args(annotation))
    return choices


def numeric_bounds(field: FieldInfo) -> tuple[float | None, float | None, bool, bool]:
    """(low, high, low_inclusive, high_inclusive) from a field's ``ge``/``gt``/``le``/``lt`` constraints."""
    low = high = None
    low_inc = high_inc = True
    for item in field.metadata:
        if isinstance(item, Ge):
            low, low_inc = float(item.ge), True
        elif isinstance(item, Gt):
            low, low_inc = float(item.gt), False
        elif isinstance(item, Le):
            high, high_inc = float(item.le), True
        elif isinstance(item, Lt):
            high, high_inc = float(item.lt), False
    return low, high, low_inc, high_inc


def _slider_range(field: FieldInfo, ui_low: float, ui_high: float) -> tuple[float, float]:
    """The schema's bounds intersected with the UI's, with open ends nudged inside."""
    low, high, low_inc, high_inc = numeric_bounds(field)
    lo = ui_low if low is None else max(ui_low, low if low_inc else low + 1e-9)
    hi = ui_high if high is None else min(ui_high, high if high_inc else high - 1e-9)
    return lo, hi


class ConfigPanel:
    """The widgets for one configuration: blueprint, clients, workload, write assurance, faults."""

    def __init__(self, title: str = "configuration", blueprint: str = "three-node", duration_s: int = 60) -> None:
        names = blueprint_names("cluster")  # deployments of several clusters run from notebooks and the CLI
        style = {"description_width": "9em"}
        layout = w.Layout(width="30em")
        self.title = title
        self.blueprint = w.Dropdown(
            options=names, value=blueprint if blueprint in names else names[0], description="blueprint", style=style
        )
        self.blueprint_notes = w.HTML()
        seed_field = Scenario.model_fields["seed"]
        self.seed = w.BoundedIntText(
            value=1, min=int(numeric_bounds(seed_field)[0] or 0), max=2**31 - 1, description="seed", style=style
        )
        self.duration = w.IntSlider(
            value=duration_s, min=DURATION_RANGE_S[0], max=DURATION_RANGE_S[1], description="duration (s)", style=style
        )
        lo, hi = _slider_range(ClientSpec.model_fields["count"], 1, CLIENTS_MAX)
        self.clients = w.IntSlider(value=4, min=int(lo), max=int(hi), description="clients", style=style)
        self.read_balance = w.Dropdown(
            options=[BLUEPRINT_DEFAULT, *literal_choices(ClientSpec, "read_balance")],
            description="read balance",
            style=style,
        )
        lo, hi = _slider_range(Workload.model_fields["rate"], *RATE_RANGE)
        # The exponents sit on the step's grid (1.70, 1.75, ... 3.00): 1000 is a position of the
        # slider, not 998 (10 ** 2.999), and the readout shows whole operations per second.
        step = 0.05
        self.rate = w.FloatLogSlider(
            value=1000,
            base=10,
            min=math.ceil(_log10(lo) / step - 1e-9) * step,
            max=math.floor(_log10(hi) / step + 1e-9) * step,
            step=step,
            description="rate (ops/s)",
            readout_format=",.0f",
            style=style,
        )
        from workbench.scenario.schema import OpMix

        lo, hi = _slider_range(OpMix.model_fields["read"], 0.0, 1.0)
        self.read_share = w.FloatSlider(
            value=0.8, min=lo, max=hi, step=0.05, description="read share", readout_format=".0%", style=style
        )
        self.key_popularity = w.Dropdown(
            options=[c for c in literal_choices(Workload, "key_popularity") if c in ("uniform", "zipf", "hotspot")],
            value="uniform",
            description="key popularity",
            style=style,
        )
        self.write_assurance = w.Dropdown(description="write assurance", style=style)
        # faults
        self.crash = w.Checkbox(description="crash a node", indent=False)
        self.crash_target = w.Dropdown(options=["leader", "preferred", "follower"], description="which", style=style)
        self.crash_at = w.IntSlider(value=20, min=0, max=duration_s - 1, description="at (s)", style=style)
        self.crash_for = w.IntSlider(value=20, min=FAULT_DOWN_RANGE_S[0], max=FAULT_DOWN_RANGE_S[1], style=style)
        self.crash_for.description = "down for (s)"
        self.partition = w.Checkbox(description="cut off a data centre or node", indent=False)
        self.partition_target = w.Dropdown(description="which", style=style)
        self.partition_at = w.IntSlider(value=20, min=0, max=duration_s - 1, description="at (s)", style=style)
        self.partition_for = w.IntSlider(
            value=20, min=FAULT_DOWN_RANGE_S[0], max=FAULT_DOWN_RANGE_S[1], description="for (s)", style=style
        )
        self.slow = w.Checkbox(description="slow a link", indent=False)
        self.slow_a = w.Dropdown(description="between", style=style)
        self.slow_b = w.Dropdown(description="and", style=style)
        self.slow_latency = w.IntSlider(
            value=50, min=SLOW_LINK_RANGE_MS[0], max=SLOW_LINK_RANGE_MS[1], description="latency (ms)", style=style
        )
        self.slow_at = w.IntSlider(value=20, min=0, max=duration_s - 1, description="at (s)", style=style)
        self.slow_for = w.IntSlider(
            value=20, min=FAULT_DOWN_RANGE_S[0], max=FAULT_DOWN_RANGE_S[1], description="for (s)", style=style
        )
        for slider in (self.crash_at, self.partition_at, self.slow_at):
            slider.layout = layout
        # Sliders and menus keep a usable width in a narrow notebook (a file browser open at
        # 1440 px): each takes at least 18em and rows wrap instead of squeezing them.
        for control in (
            self.seed,
            self.duration,
            self.clients,
            self.read_balance,
            self.rate,
            self.read_share,
            self.key_popularity,
            self.write_assurance,
            self.crash_for,
            self.partition_for,
            self.slow_latency,
            self.slow_for,
            self.crash_target,
            self.partition_target,
            self.slow_a,
            self.slow_b,
        ):
            control.layout = w.Layout(min_width="18em", flex="1 1 18em")
        self.blueprint.layout = w.Layout(min_width="24em", width="auto")
        # A fault's settings are live only while the fault is ticked.
        self._fault_controls = {
            self.crash: (self.crash_target, self.crash_at, self.crash_for),
            self.partition: (self.partition_target, self.partition_at, self.partition_for),
            self.slow: (self.slow_a, self.slow_b, self.slow_latency, self.slow_at, self.slow_for),
        }
        for box in self._fault_controls:
            box.observe(lambda _: self._faults_toggled(), names="value")
        self._faults_toggled()
        self.blueprint.observe(lambda _: self._blueprint_changed(), names="value")
        self.duration.observe(lambda _: self._duration_changed(), names="value")
        self._blueprint_changed()
        self.widget = w.VBox(
            [
                w.HTML(f"<b>{title}</b>"),
                self.blueprint,
                self.blueprint_notes,
                _row(self.seed, self.duration),
                _row(self.clients, self.read_balance),
                _row(self.rate, self.read_share),
                _row(self.key_popularity, self.write_assurance),
                w.HTML("<b>faults</b>"),
                self.crash,
                w.VBox([self.crash_target, self.crash_at, self.crash_for]),
                self.partition,
                w.VBox([self.partition_target, self.partition_at, self.partition_for]),
                self.slow,
                w.VBox([_row(self.slow_a, self.slow_b), self.slow_latency, self.slow_at, self.slow_for]),
            ]
        )

    # -- reactions

    def _blueprint_changed(self) -> None:
        data = load_blueprint_data(self.blueprint.value)
        self.blueprint_notes.value = f"<i>{_escape(str(data.get('description', '')).strip())}</i>"
        tags = [n["tag"] for n in data.get("nodes", [])]
        dcs = [d["name"] for d in data.get("datacenters", [])]
        rf = int(data.get("database", {}).get("replication_factor", 3))
        members = data.get("database", {}).get("members")
        copies = len(members) if members else min(rf, len(tags))
        numbers = [n for n in range(copies) if _valid_replicas(n)]
        self.write_assurance.options = [*numbers, *literal_choices(WriteAssurance, "replicas")]
        self.write_assurance.value = 0
        targets = (dcs if len(dcs) > 1 else []) + tags
        self.partition_target.options = targets
        self.partition_target.value = targets[0]
        self.slow_a.options = tags
        self.slow_a.value = tags[0]
        self.slow_b.options = tags
        self.slow_b.value = tags[1] if len(tags) > 1 else tags[0]
        has_peers = len(tags) > 1
        for box in (self.partition, self.slow):
            box.disabled = not has_peers
            if not has_peers:
                box.value = False

    def _faults_toggled(self) -> None:
        for box, controls in self._fault_controls.items():
            for control in controls:
                control.disabled = not box.value

    def _duration_changed(self) -> None:
        for slider in (self.crash_at, self.partition_at, self.slow_at):
            slider.max = self.duration.value - 1

    # -- the scenario

    def scenario_data(self) -> dict[str, Any]:
        """The current state as a scenario mapping (not yet validated)."""
        duration = int(self.duration.value)
        read = round(float(self.read_share.value), 6)
        clients: dict[str, Any] = {
            "count": int(self.clients.value),
            "write_assurance": {"replicas": self.write_assurance.value},
        }
        if self.read_balance.value != BLUEPRINT_DEFAULT:
            clients["read_balance"] = self.read_balance.value
        faults: list[dict[str, Any]] = []
        if self.crash.value:
            faults.append(
                {
                    "at": f"{min(self.crash_at.value, duration - 1)} s",
                    "action": "crash",
                    "node": self.crash_target.value,
                    "duration": f"{self.crash_for.value} s",
                }
            )
        if self.partition.value and self.partition_target.value:
            faults.append(
                {
                    "at": f"{min(self.partition_at.value, duration - 1)} s",
                    "action": "partition",
                    "groups": [[self.partition_target.value]],
                    "duration": f"{self.partition_for.value} s",
                }
            )
        if self.slow.value and self.slow_a.value and self.slow_b.value and self.slow_a.value != self.slow_b.value:
            faults.append(
                {
                    "at": f"{min(self.slow_at.value, duration - 1)} s",
                    "action": "degrade_link",
                    "between": [self.slow_a.value, self.slow_b.value],
                    "latency": f"{self.slow_latency.value} ms",
                    "duration": f"{self.slow_for.value} s",
                }
            )
        faults.sort(key=lambda f: parse_quantity(f["at"], "duration"))
        return {
            "name": f"explorer-{self.blueprint.value}",
            "seed": int(self.seed.value),
            "duration": f"{duration} s",
            "warmup": f"{min(5, duration // 10)} s",
            "blueprint": self.blueprint.value,
            "clients": clients,
            "workload": {
                "rate": float(f"{float(self.rate.value):.3g}"),  # 1000, not 1000.0000000002
                "mix": {"read": read, "write": round(1.0 - read, 6)},
                "key_popularity": self.key_popularity.value,
            },
            "faults": faults,
        }

    def scenario(self) -> Scenario:
        """The validated scenario for the current widget state."""
        return scenario_from_dict(self.scenario_data(), source=f"explorer ({self.title})")


def _row(*children: w.Widget) -> w.HBox:
    """Controls side by side that wrap onto the next line when the output is narrow."""
    return w.HBox(list(children), layout=w.Layout(flex_flow="row wrap"))


def _valid_replicas(n: int) -> bool:
    try:
        WriteAssurance(replicas=n)
    except ValueError:
        return False
    return True


def _log10(x: float) -> float:
    return math.log10(x)


def _escape(text: str) -> str:
    import html

    return html.escape(text)


class Explorer:
    """One configuration (or two with ``compare=True``), a run button with a progress bar,
    and result tabs (summary table, charts). Display it as the last expression of a cell."""

    def __init__(self, *, compare: bool = False, blueprints: tuple[str, ...] = ("three-node", "five-node")) -> None:
        self.panels = [ConfigPanel("configuration A", blueprints[0])]
        if compare:
            self.panels.append(ConfigPanel("configuration B", blueprints[1] if len(blueprints) > 1 else blueprints[0]))
        self.results: dict[str, Any] = {}
        self.button = w.Button(description="Run", button_style="primary", icon="play")
        self.progress = w.IntProgress(value=0, min=0, max=len(self.panels), description="runs")
        self.status = w.HTML()
        self.log = w.Output()
        self.log_lines: list[str] = []  # what the log tab shows, one line per run
        self.summary_out = w.Output()
        self.charts_out = w.Output()
        self.tabs = w.Tab(children=[self.summary_out, self.charts_out, self.log])
        for i, name in enumerate(("summary", "charts", "log")):
            self.tabs.set_title(i, name)
        # A class of its own, so that the page can scroll this explorer's results into view.
        self.results_class = f"workbench-results-{uuid.uuid4().hex[:12]}"
        self.tabs.add_class(self.results_class)
        self.scroller = w.Output(layout=w.Layout(height="0px", overflow="hidden"))
        self.button.on_click(lambda _: self.run())
        self.widget = w.VBox(
            [
                w.HBox([p.widget for p in self.panels]),
                w.HBox([self.button, self.progress, self.status]),
                self.tabs,
                self.scroller,
            ]
        )

    def scenario(self, index: int = 0) -> Scenario:
        """The validated scenario of configuration ``index`` (0: A, 1: B)."""
        return self.panels[index].scenario()

    def scenarios(self) -> dict[str, Scenario]:
        """Every configuration's validated scenario, keyed by a label (blueprint, and A/B if they clash)."""
        out: dict[str, Scenario] = {}
        for i, panel in enumerate(self.panels):
            label = panel.blueprint.value
            if label in out:
                label = f"{label} ({'AB'[i]})"
            out[label] = panel.scenario()
        return out

    def run(self, *, charts: bool = True, runner: Callable[..., Any] | None = None) -> dict[str, Any]:
        """Run every configuration, fill the tabs and return the results by label."""
        from workbench.errors import WorkbenchInputError
        from workbench.experiment import run as run_scenario

        runner = runner or run_scenario
        self.progress.value = 0
        self.results = {}
        self.button.disabled = True
        try:
            try:
                scenarios = self.scenarios()
            except WorkbenchInputError as err:
                self.status.value = f"<span style='color:#c00'>{_escape(str(err))}</span>"
                return {}
            self.status.value = "running…"
            for label, scenario in scenarios.items():
                with self.log:
                    result = runner(scenario, progress=True)
                    self.results[label] = result
                    prov = getattr(result, "provenance", {}) or {}
                    line = (
                        f"{label}: {scenario.duration:g} simulated s, seed {scenario.seed}, "
                        f"{prov.get('events_processed', 0):,} events in {prov.get('wall_seconds', 0.0):.1f} s"
                        + ("" if getattr(result, "ok", True) else f"; FAILED: {prov.get('exception')}")
                    )
                    self.log_lines.append(line)
                    print(line)
                self.progress.value += 1
            failed = [k for k, r in self.results.items() if not r.ok]
            self.status.value = f"failed: {', '.join(failed)}" if failed else "done"
            self._show(charts)
            self.tabs.selected_index = 0  # the summary, where the answer is
            self._scroll_to_results()
        finally:
            self.button.disabled = False
        return self.results

    def _scroll_to_results(self) -> None:
        """Bring the results into view after a run: below a tall configuration they start out of
        sight. A one-line script in a hidden output of this explorer (outputs made in the session
        are trusted, so JupyterLab runs it); outside a browser it does nothing."""
        from IPython.display import Javascript, display

        self.scroller.clear_output()
        with self.scroller:
            display(
                Javascript(
                    f"document.querySelector('.{self.results_class}')"
                    "?.scrollIntoView({behavior: 'smooth', block: 'start'});"
                )
            )

    def summary_table(self) -> pd.DataFrame:
        """Headline figures per configuration (rows: metrics, columns: configurations)."""
        from workbench.study import flatten

        keys = {
            "ops.total": "operations",
            "ops.failed": "failed operations",
            "latency_ms.read.p99": "read p99 (ms)",
            "latency_ms.write.p99": "write p99 (ms)",
            "availability.read": "read availability",
            "availability.write": "write availability",
            "stale_read_fraction": "stale reads",
            "replication_lag_ms.p99": "replication lag p99 (ms)",
            "cluster.leaderless_seconds": "leaderless (s)",
            "conflicts.total": "conflicts",
            "lost_writes": "lost writes",
        }
        columns = {}
        for label, result in self.results.items():
            flat = flatten(result.summary())
            columns[label] = {name: flat.get(key) for key, name in keys.items()}
        return pd.DataFrame(columns)

    def _show(self, charts: bool) -> None:
        from IPython.display import display

        from workbench import charts as ch

        self.summary_out.clear_output()
        with self.summary_out:
            display(show_table(self.summary_table().T).T)  # each row formatted by its unit
        self.charts_out.clear_output()
        if not charts or not self.results:
            return
        with self.charts_out:
            display(ch.latency_cdf(self.results))
            display(ch.availability_timeline(self.results))
            for label, result in self.results.items():
                display(w.HTML(f"<b>{_escape(label)}</b>"))
                display(ch.node_state_timeline(result))
                display(ch.latency_timeline(result))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
