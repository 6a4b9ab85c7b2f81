"""TOML config -> validated, typed settings.

The settings models, and ``load_settings``/``parse_settings`` to build them
(reading the file and wording the errors is ``monitor.config_loading``'s
job). The file is parsed once at start. Every error names the table and key it
concerns (``monitors[1].schedule: ...``) so a user can fix it without reading
a traceback. Secrets are never literal: a ``*_env`` key names an environment
variable that is read only when the secret is used.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from detectors import METHODS
from detectors.budget import FalseAlarmBudget
from detectors.choice import RULES as CHOICE_RULES
from detectors.performance import METRICS as PERFORMANCE_METRICS
from detectors.performance import default_metrics
from detectors.performance.registry import check_metrics
from detectors.registry import methods_accepting
from monitor.alerts.rules import ColumnDriftRule, PerformanceRule, RuleSettings
from monitor.config_loading import config_error, read_toml, union_tags
from monitor.durations import parse_false_alarms
from monitor.notifiers.registry import SINK_TYPES, SPECS
from monitor.notifiers.spec import ReceiverModel
from monitor.references import SPECS as REFERENCE_SPECS
from monitor.references import ReferenceSettingsModel, get_reference_spec
from monitor.schedule import Schedule, parse_schedule
from monitor.secrets import SecretError, resolve_secret
from monitor.segment_settings import SegmentSettings
from monitor.service_settings import (
    DeliverySettings,
    SchedulerSettings,
    ServerSettings,
    StoreSettings,
)
from monitor.settings_base import (
    MAX_COLUMN_NAME,
    MAX_MONITOR_NAME,
    MAX_RECEIVER_NAME,
    ConfigError,
    SettingsModel,
    as_duration,
    tagged_union,
)
from monitor.sources import (
    LABEL_SPECS,
    LabelSettingsModel,
    SourceSettingsModel,
    SqlSourceSettings,
    get_label_spec,
    get_source_spec,
)
from monitor.sources import SPECS as SOURCE_SPECS

# --- sources -----------------------------------------------------------------


if TYPE_CHECKING:
    # What code may rely on of any source's settings; narrow with isinstance for more.
    SourceSettings: TypeAlias = SourceSettingsModel
else:
    SourceSettings = tagged_union(spec.settings for spec in SOURCE_SPECS)


# --- references --------------------------------------------------------------


if TYPE_CHECKING:
    # What code may rely on of any reference's settings; narrow with isinstance for more.
    ReferenceSettings: TypeAlias = ReferenceSettingsModel
else:
    ReferenceSettings = tagged_union(spec.settings for spec in REFERENCE_SPECS)


# --- monitors ----------------------------------------------------------------


class ColumnSettings(SettingsModel):
    name: str = Field(min_length=1, max_length=MAX_COLUMN_NAME)
    kind: Literal["numeric", "categorical"]
    method: str | None = None
    threshold: float | None = Field(default=None, gt=0)
    effect_floor: float | None = Field(
        default=None, ge=0, description="p-value tests: smallest effect called drift (0: none)"
    )

    @field_validator("method")
    @classmethod
    def _known_method(cls, method: str | None) -> str | None:
        if method is not None and method not in METHODS:
            raise ValueError(f'unknown method "{method}" (known: {", ".join(sorted(METHODS))})')
        return method

    @model_validator(mode="after")
    def _method_fits_kind(self) -> ColumnSettings:
        if self.method is not None and self.kind not in METHODS[self.method].kinds:
            fitting = ", ".join(sorted(n for n, s in METHODS.items() if self.kind in s.kinds))
            raise ValueError(
                f'method "{self.method}" does not test {self.kind} columns '
                f"(methods for {self.kind}: {fitting})"
            )
        return self

    @model_validator(mode="after")
    def _threshold_fits_method(self) -> ColumnSettings:
        """What the detectors would refuse at every run, refused now.

        Without a method, every method the automatic choice may pick for the
        kind must take the setting (``detectors.choice``).
        """
        names: tuple[str, ...]
        if self.method is not None:
            names, which = (self.method,), self.method
        else:
            names = tuple(
                dict.fromkeys(m for r in CHOICE_RULES if r.kind == self.kind for m in r.methods)
            )
            which = f"the automatic method of {self.kind} columns ({', '.join(names)})"
        tests = [name for name in names if METHODS[name].has_p_value]
        distances = [name for name in names if not METHODS[name].has_p_value]
        if self.threshold is not None and self.threshold >= 1 and tests:
            raise ValueError(
                f"threshold {self.threshold:g} must be below 1: {which} "
                f"{'is' if not distances else 'may be'} a p-value test, whose threshold is "
                "a significance level"
            )
        if self.effect_floor is not None and distances:
            raise ValueError(
                f"effect_floor applies to p-value tests only: {which} "
                f"{'is' if not tests else 'may be'} a distance, whose floor is its threshold"
            )
        return self


# --- performance -------------------------------------------------------------


if TYPE_CHECKING:
    # What code may rely on of any label source's settings; narrow with isinstance for more.
    LabelSettings: TypeAlias = LabelSettingsModel
else:
    LabelSettings = tagged_union(spec.settings for spec in LABEL_SPECS)


class PerformanceSettings(SettingsModel):
    """How a monitor measures its model: metrics from labels, estimates from scores.

    Labels come from the window's own rows (``label``) or from a label
    source joined on ``id_column`` (``labels``), never both. ``allowed_drop``
    is an optional floor on top of the noise band (none by default: the
    band alone decides, so a drop far outside sampling noise alerts however
    small it is).
    """

    task: Literal["classification", "regression"]
    prediction: str = Field(min_length=1, max_length=MAX_COLUMN_NAME)
    label: str | None = Field(default=None, min_length=1, max_length=MAX_COLUMN_NAME)
    labels: LabelSettings | None = None
    id_column: str | None = Field(default=None, min_length=1, max_length=MAX_COLUMN_NAME)
    score: str | None = Field(default=None, min_length=1, max_length=MAX_COLUMN_NAME)
    metrics: tuple[str, ...] | None = None
    direction: Literal["worse", "both"] = "worse"
    allowed_drop: float | None = Field(default=None, ge=0)
    positive_label: bool | int | str | None = None

    def metric_names(self) -> tuple[str, ...]:
        """The configured metrics, else the task's defaults (``detectors.performance``)."""
        if self.metrics is not None:
            return self.metrics
        return default_metrics(self.task, scores=self.score is not None)

    @property
    def label_column(self) -> str:
        """The label's column: in the window's rows, or in the label source."""
        if self.labels is not None:
            return self.labels.label_column
        assert self.label is not None
        return self.label

    def estimates(self) -> bool:
        """Whether runs estimate performance from scores (CBPE): binary with a score."""
        return self.task == "classification" and self.score is not None


def _performance_problem(perf: PerformanceSettings) -> tuple[str, str] | None:
    """(key, problem) of what ``perf`` asks that no run could do, or None."""
    if (perf.label is None) == (perf.labels is None):
        return "", (
            "set label (the label column of the window's rows) or labels (a label source "
            "joined by id), " + ("not both" if perf.label is not None else "one of them")
        )
    if perf.labels is not None and perf.id_column is None:
        return ".id_column", "required with labels: the predictions' column labels are joined on"
    if perf.labels is None and perf.id_column is not None:
        return ".id_column", "joins labels from performance.labels, which is not set"
    if perf.task == "regression":
        for key in ("score", "positive_label"):
            if getattr(perf, key) is not None:
                return f".{key}", "regression takes none (classification only)"
    if perf.metrics is not None:
        try:
            check_metrics(perf.metrics, perf.task, scores=perf.score is not None, binary=True)
        except ValueError as exc:
            return ".metrics", str(exc).removeprefix("metrics: ")
    return None


DEFAULT_FALSE_ALARMS = "1/30d"
MAX_SEQUENTIAL_SCALE = 1000


class ThresholdSettings(SettingsModel):
    false_alarms: str | None = Field(
        default=None,
        description='false alarms allowed on stationary data, e.g. "1/30d" (the default)',
    )
    alpha: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="per-window significance after correction, instead of a budget",
    )
    sequential_scales: tuple[int, ...] = Field(
        default=(4, 16),
        description="pooled-window tests over this many recent windows; [] turns them off",
    )
    correction: Literal["none", "bonferroni", "holm", "bh"] = "bh"
    drift_share: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="opt-in: drifted only when at least this share of columns drifted",
    )
    key_columns: tuple[str, ...] = Field(
        default=(), description="columns whose drift alone makes the run drift (with drift_share)"
    )
    multivariate: Literal["none", "mmd", "pca_reconstruction"] = Field(
        default="none", description="a whole-row test; a run drifts when it does"
    )

    @field_validator("false_alarms")
    @classmethod
    def _budget(cls, text: str | None) -> str | None:
        if text is not None:
            parse_false_alarms(text)
        return text

    @field_validator("sequential_scales")
    @classmethod
    def _scales(cls, scales: tuple[int, ...]) -> tuple[int, ...]:
        if any(scale < 2 for scale in scales):
            raise ValueError(f"every scale must be at least 2 windows, got {list(scales)}")
        if any(scale > MAX_SEQUENTIAL_SCALE for scale in scales):
            # Every run reads twice the largest scale of stored windows.
            raise ValueError(
                f"every scale must be at most {MAX_SEQUENTIAL_SCALE} windows, got {list(scales)}"
            )
        if list(scales) != sorted(set(scales)):
            raise ValueError(f"scales must be distinct and increasing, got {list(scales)}")
        return scales

    @model_validator(mode="after")
    def _budget_or_alpha(self) -> ThresholdSettings:
        if self.false_alarms is not None and self.alpha is not None:
            raise ValueError(
                'set false_alarms (a budget such as "1/30d") or alpha (a per-window level), '
                "not both"
            )
        explicit_scales = "sequential_scales" in self.model_fields_set
        if self.alpha is not None and explicit_scales and self.sequential_scales:
            raise ValueError(
                "sequential_scales need the false-alarm budget; with alpha, runs are decided "
                "window by window (remove alpha or sequential_scales)"
            )
        return self

    def budget(self) -> FalseAlarmBudget | None:
        """The budget in force: None when ``alpha`` asks for the per-window meaning."""
        if self.alpha is not None:
            return None
        return parse_false_alarms(self.false_alarms or DEFAULT_FALSE_ALARMS)


class MonitorSettings(SegmentSettings):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=MAX_MONITOR_NAME)
    schedule: Schedule
    window: timedelta = Field(default=timedelta(hours=1))
    sample_limit: int = Field(default=100_000, ge=1)
    reference_limit: int = Field(default=1_000_000, ge=1)
    source: SourceSettings
    reference: ReferenceSettings
    columns: tuple[ColumnSettings, ...]
    performance: PerformanceSettings | None = None
    thresholds: ThresholdSettings = ThresholdSettings()
    receivers: tuple[str, ...] = ()
    sinks: tuple[str, ...] = Field(
        default=(), description="receivers of a sink type told of every completed run (mlflow)"
    )
    rules: tuple[RuleSettings, ...] = ()

    _check_window = field_validator("window", mode="before")(as_duration)

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> Schedule:
        if isinstance(value, Schedule):
            return value
        if not isinstance(value, str):
            raise ValueError(f'expected a cron expression or "every 5m", got {value!r}')
        return parse_schedule(value)

    @field_validator("columns")
    @classmethod
    def _some_columns(cls, columns: tuple[ColumnSettings, ...]) -> tuple[ColumnSettings, ...]:
        # Not Field(min_length=1): pydantic would also report an empty tuple
        # whenever one column is invalid, as if none were configured.
        if not columns:
            raise ValueError("at least one column is required")
        return columns

    @model_validator(mode="after")
    def _unique_rules(self) -> MonitorSettings:
        names = [rule.name for rule in self.rules]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f'rules[{index}].name: rule name "{name}" is used twice')
        return self

    @model_validator(mode="after")
    def _key_columns_exist(self) -> MonitorSettings:
        names = {column.name for column in self.columns}
        for name in self.thresholds.key_columns:
            if name not in names:
                raise ValueError(
                    f'thresholds.key_columns: "{name}" is not one of the monitor\'s columns'
                )
        return self

    @model_validator(mode="before")
    @classmethod
    def _profiled_in_database_only_by_sql(cls, data: Any) -> Any:
        source = data.get("source") if isinstance(data, dict) else None
        if (
            isinstance(source, dict)
            and "profile_in_database" in source
            and source.get("type") != "sql"
        ):
            raise ValueError(
                "source.profile_in_database: only an sql source on PostgreSQL is profiled "
                f'in the database, not a "{source.get("type")}" source'
            )
        return data

    @model_validator(mode="after")
    def _rows_for_what_needs_them(self) -> MonitorSettings:
        """With the window counted in the database, refuse what needs its rows (by key)."""
        if not isinstance(self.source, SqlSourceSettings) or not self.source.profile_in_database:
            return self
        counted = "with source.profile_in_database the window is counted in the database"
        if self.thresholds.multivariate != "none":
            raise ValueError(
                f'thresholds.multivariate: "{self.thresholds.multivariate}" needs the window\'s '
                f'rows; {counted} (set it to "none", or test it in a monitor that samples rows)'
            )
        if self.performance is not None:
            raise ValueError(
                f"performance: needs each row's label and prediction; {counted} (test "
                "performance in a monitor that samples rows)"
            )
        if self.segments:
            raise ValueError(
                f"segments: needs the window's rows to split them; {counted} (test segments "
                "in a monitor that samples rows)"
            )
        for index, column in enumerate(self.columns):
            if column.method is not None and "counts" not in METHODS[column.method].forms:
                accepting = ", ".join(methods_accepting("counts", column.kind))
                raise ValueError(
                    f'columns[{index}].method: "{column.method}" needs the window\'s rows; '
                    f"{counted} (methods that test {column.kind} counts: {accepting})"
                )
        return self

    @model_validator(mode="after")
    def _unique_columns(self) -> MonitorSettings:
        seen: set[str] = set()
        for column in self.columns:
            if column.name in seen:
                raise ValueError(f'column "{column.name}" is listed twice')
            seen.add(column.name)
        return self


def _check_performance_rule(monitor: MonitorSettings, rule: PerformanceRule, key: str) -> None:
    perf = monitor.performance
    if perf is None:
        raise ValueError(
            f"{key}.type: a performance rule needs the monitor's performance table "
            "(task, prediction, label or labels)"
        )
    metrics = perf.metric_names()
    if rule.metric is not None and rule.metric not in metrics:
        raise ValueError(
            f'{key}.metric: "{rule.metric}" is not one of the monitor\'s {perf.task} metrics '
            f"({', '.join(metrics)})"
        )
    if rule.estimated and not perf.estimates():
        raise ValueError(
            f"{key}.estimated: estimates need a classification monitor with a score column "
            "(performance.score)"
        )
    metric = rule.metric
    if rule.estimated and metric is not None and not PERFORMANCE_METRICS[metric].estimable:
        estimable = [name for name in metrics if PERFORMANCE_METRICS[name].estimable]
        raise ValueError(
            f'{key}.metric: "{metric}" is not estimated from scores '
            f"(estimated: {', '.join(estimable)})"
        )


# --- receivers ---------------------------------------------------------------


if TYPE_CHECKING:
    # What code may rely on of any receiver's settings; narrow with isinstance for more.
    ReceiverSettings: TypeAlias = ReceiverModel
else:
    ReceiverSettings = tagged_union(spec.settings for spec in SPECS)


class Settings(SettingsModel):
    store: StoreSettings = StoreSettings(url="sqlite:///driftwarden.db")
    server: ServerSettings = ServerSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    delivery: DeliverySettings = DeliverySettings()
    monitors: tuple[MonitorSettings, ...] = ()
    receivers: tuple[ReceiverSettings, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> Settings:
        names = [monitor.name for monitor in self.monitors]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f'monitors[{index}].name: monitor name "{name}" is used twice')
        receiver_list = [receiver.name for receiver in self.receivers]
        for index, name in enumerate(receiver_list):
            if not 0 < len(name) <= MAX_RECEIVER_NAME:
                raise ValueError(
                    f"receivers[{index}].name: expected 1 to {MAX_RECEIVER_NAME} characters, "
                    f"got {len(name)}"
                )
            if name in receiver_list[:index]:
                raise ValueError(f'receivers[{index}].name: receiver name "{name}" is used twice')
        receiver_names = set(receiver_list)
        types = {receiver.name: receiver.type for receiver in self.receivers}
        known = ", ".join(sorted(receiver_names)) or "none are defined"
        for index, monitor in enumerate(self.monitors):
            routes = [(f"monitors[{index}].receivers", monitor.receivers)] + [
                (f"monitors[{index}].rules[{r}].receivers", rule.receivers or ())
                for r, rule in enumerate(monitor.rules)
            ]
            for key, routed in [*routes, (f"monitors[{index}].sinks", monitor.sinks)]:
                repeated = sorted({name for name in routed if routed.count(name) > 1})
                if repeated:
                    raise ValueError(f'{key}: receiver "{repeated[0]}" is listed twice')
            for key, routed in routes:
                for receiver in routed:
                    if receiver not in receiver_names:
                        raise ValueError(f'{key}: unknown receiver "{receiver}" (known: {known})')
                    if types[receiver] in SINK_TYPES:
                        raise ValueError(
                            f'{key}: receiver "{receiver}" is an {types[receiver]} sink, '
                            f"not an alert receiver; name it in monitors[{index}].sinks"
                        )
            for sink in monitor.sinks:
                key = f"monitors[{index}].sinks"
                if sink not in receiver_names:
                    raise ValueError(f'{key}: unknown receiver "{sink}" (known: {known})')
                if types[sink] not in SINK_TYPES:
                    raise ValueError(
                        f'{key}: receiver "{sink}" is of type {types[sink]}, not a sink '
                        f"(sink types: {', '.join(sorted(SINK_TYPES))})"
                    )
        return self

    @model_validator(mode="after")
    def _rules_fit_their_monitor(self) -> Settings:
        """A rule that can only ever be "unknown" is a config error, not a silent alert."""
        for index, monitor in enumerate(self.monitors):
            columns = [column.name for column in monitor.columns]
            for r, rule in enumerate(monitor.rules):
                key = f"monitors[{index}].rules[{r}]"
                if isinstance(rule, ColumnDriftRule):
                    for name in rule.columns:
                        if name not in columns:
                            raise ValueError(
                                f'{key}.columns: "{name}" is not one of the monitor\'s columns '
                                f"({', '.join(columns)})"
                            )
                if isinstance(rule, PerformanceRule):
                    _check_performance_rule(monitor, rule, key)
        return self

    @model_validator(mode="after")
    def _performance_fits_its_monitor(self) -> Settings:
        for index, monitor in enumerate(self.monitors):
            if monitor.performance is not None:
                problem = _performance_problem(monitor.performance)
                if problem is not None:
                    raise ValueError(f"monitors[{index}].performance{problem[0]}: {problem[1]}")
        return self

    def monitor(self, name: str) -> MonitorSettings:
        for monitor in self.monitors:
            if monitor.name == name:
                return monitor
        known = ", ".join(m.name for m in self.monitors) or "none are configured"
        raise ConfigError(f'no monitor named "{name}" (known: {known})')

    def receiver(self, name: str) -> ReceiverSettings:
        for receiver in self.receivers:
            if receiver.name == name:
                return receiver
        raise ConfigError(f'no receiver named "{name}"')


def secret_references(settings: Settings) -> list[tuple[str, str]]:
    """Every (config key, environment variable) the daemon will read a secret from."""
    references: list[tuple[str, str]] = []
    if settings.store.url_env:
        references.append(("store.url_env", settings.store.url_env))
    for index, token in enumerate(settings.server.tokens):
        references.append((f"server.tokens[{index}].token_env", token.token_env))
    for index, monitor in enumerate(settings.monitors):
        for key, env_name in get_source_spec(monitor.source.type).secrets(monitor.source):
            references.append((f"monitors[{index}].source.{key}", env_name))
        for key, env_name in get_reference_spec(monitor.reference.type).secrets(monitor.reference):
            references.append((f"monitors[{index}].reference.{key}", env_name))
        labels = monitor.performance.labels if monitor.performance else None
        if labels is not None:
            for key, env_name in get_label_spec(labels.type).secrets(labels):
                references.append((f"monitors[{index}].performance.labels.{key}", env_name))
    for index, receiver in enumerate(settings.receivers):
        # Receivers name every secret in a "*_env" key (a variable name, or a
        # mapping of header -> variable name), whatever their kind.
        key = f"receivers[{index}]"
        for field_name, value in receiver:
            if not field_name.endswith("_env") or not value:
                continue
            if isinstance(value, str):
                references.append((f"{key}.{field_name}", value))
            elif isinstance(value, dict):
                for header, env_name in value.items():
                    references.append((f"{key}.{field_name}.{header}", env_name))
    return references


def missing_secrets(settings: Settings) -> list[str]:
    """One message per secret whose environment variable (or its _FILE) is not set."""
    missing = []
    for key, env_name in secret_references(settings):
        try:
            resolve_secret(env_name, key)
        except SecretError as exc:
            missing.append(str(exc))
    return missing


_UNION_TAGS = union_tags(
    SourceSettings, ReferenceSettings, ReceiverSettings, RuleSettings, LabelSettings
)


def parse_settings(data: dict[str, Any], origin: str = "config") -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, origin, _UNION_TAGS) from None


def load_settings(path: str | Path) -> Settings:
    """Read and validate a TOML config file."""
    config_path = Path(path)
    return parse_settings(read_toml(config_path), origin=str(config_path))
