"""Security of the reward pipeline: a corpus of hostile programs, a canary file, fuzzing.

Every program in ``tests/data/reward_corpus/hostile/`` declares the attack it tries and the
stage expected to stop it (``# expect: validate``). Each one must be rejected at that stage
with a message, and none may create the canary file it aims at. A hypothesis fuzz test feeds
random text and random syntactically valid programs through the pipeline in this process
and checks the host never sees anything but structured rejections or guarded callables.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewards
from rewards import RewardContext, RewardRejected, RewardRuntimeError, SandboxLimits
from rewards.compile import compile_validated
from rewards.extract import extract_code
from rewards.namespace import MATH, NUMPY, TERMS, program_globals
from rewards.states import synthetic_states
from rewards.validate import validate

CORPUS = Path(__file__).parent / "data" / "reward_corpus" / "hostile"
HOSTILE = sorted(CORPUS.glob("*.txt"))
# Tight limits keep the CPU and memory bombs quick to contain.
LIMITS = SandboxLimits(cpu_seconds=1.0, memory_mb=256, wall_seconds=60.0)

CTX = RewardContext(
    task_id="test/Fake-v0",
    field_shapes=(("pos", (3,)), ("vel", (3,)), ("tilt", ()), ("goal_rel", (3,))),
    constants={"pos_tolerance": 0.1},
    action_shape=(4,),
)
STATES = synthetic_states(CTX, n=32)


def _load(path: Path, canary: Path) -> tuple[str, str, str]:
    text = path.read_text().replace("{CANARY}", str(canary))
    expect = re.search(r"^# expect: (\w+)$", text, re.M)
    attack = re.search(r"^# attack: (.+)$", text, re.M)
    assert expect and attack, f"{path.name} needs '# attack:' and '# expect:' header lines"
    return text, expect.group(1), attack.group(1)


def test_corpus_is_large_and_covers_the_attack_classes():
    assert len(HOSTILE) >= 40
    names = " ".join(p.stem for p in HOSTILE)
    for needed in (
        "import",
        "subclasses",
        "globals",
        "format",
        "getattr",
        "frame",
        "while",
        "memory",
        "recursion",
        "output",
        "nan",
        "inf",
        "zero_division",
        "mutate",
    ):
        assert needed in names, f"no hostile program about {needed!r}"


@pytest.mark.slow
def test_every_hostile_program_is_rejected_and_nothing_escapes(tmp_path):
    canary = tmp_path / "canary"
    failures = []
    for path in HOSTILE:
        text, expect, attack = _load(path, canary)
        result = rewards.check_source(text, CTX, states=STATES, limits=LIMITS)
        if result.accepted:
            failures.append(f"{path.name} ({attack}): accepted")
        elif result.stage != expect:
            failures.append(
                f"{path.name}: rejected at {result.stage}, expected {expect}: {result.message}"
            )
        elif len(result.message) < 20:
            failures.append(f"{path.name}: message too short to act on: {result.message!r}")
        assert not canary.exists(), f"{path.name} wrote the canary file"
    assert not failures, "\n".join(failures)


def test_static_rejections_name_the_line(tmp_path):
    canary = tmp_path / "canary"
    for path in HOSTILE:
        text, expect, _ = _load(path, canary)
        if expect not in ("parse", "validate"):
            continue
        with pytest.raises(RewardRejected) as info:
            validate(extract_code(text), CTX)
        assert info.value.stage == expect, path.name
        assert info.value.line is not None, f"{path.name}: {info.value.message}"


def test_sandbox_child_cannot_write_files_even_through_numpy(tmp_path):
    # Simulate a hole in the allowlist: run code that writes a file in the sandboxed child.
    # RLIMIT_FSIZE = 0 makes the write fail even though the code itself was allowed.
    from rewards.child import run_guarded
    from rewards.guard import ProcessLimits

    canary = tmp_path / "canary.npy"
    outcome = run_guarded(
        "tests.test_rewards_security:write_after_limits",
        (str(canary),),
        limits=ProcessLimits(memory_mb=256, cpu_seconds=10, no_files=True, clear_env=True),
    )
    assert outcome.ok, outcome.message
    assert outcome.value == "no environment"
    assert not canary.exists() or canary.stat().st_size == 0


def write_after_limits(path: str) -> str:
    """Runs in the guarded child of the test above."""
    with contextlib.suppress(OSError):
        np.save(path, np.ones(1000))
    return "no environment" if os.environ.get("PATH") is None else "environment leaked"


def test_provided_namespaces_are_read_only_at_runtime():
    # Second line of defence, independent of the validator.
    for ns, member in ((NUMPY, "sqrt"), (MATH, "pi"), (TERMS, "norm"), (NUMPY.linalg, "norm")):
        with pytest.raises(AttributeError, match="read-only"):
            setattr(ns, member, None)
        with pytest.raises(AttributeError, match="read-only"):
            delattr(ns, member)
    for forbidden in ("save", "load", "frombuffer", "ctypeslib", "lib", "random", "vectorize"):
        assert not hasattr(NUMPY, forbidden), forbidden
    g = program_globals()
    assert "open" not in g["__builtins__"] and "getattr" not in g["__builtins__"]
    with pytest.raises(ImportError):
        g["__builtins__"]["__import__"]("os")
    with pytest.raises(NameError):
        exec("open('x', 'w')", program_globals())


def test_module_constants_are_frozen():
    src = (
        "W = {'a': 1.0}\nL = [1.0, 2.0]\nA = np.array([1.0, 2.0])\n\n"
        "def compute_reward(state, action, prev_state, task):\n"
        "    return {'w': W['a'], 'l': L[0], 'a': float(A[0])}\n"
    )
    fn = compile_validated(validate(src, CTX))
    g = fn.__globals__
    with pytest.raises(TypeError):
        g["W"]["a"] = 2.0
    assert isinstance(g["L"], tuple)
    with pytest.raises(ValueError, match="read-only"):
        g["A"][0] = 5.0


# --------------------------------------------------------------------------- fuzzing
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_fuzz_random_text_gives_structured_errors(text):
    try:
        validate(extract_code(text), CTX)
    except RewardRejected as exc:
        assert exc.stage in rewards.STAGES and exc.message


_LEAVES = st.sampled_from(
    [
        "0",
        "1",
        "2",
        "0.5",
        "3.0",
        "1e3",
        "-1",
        "True",
        "None",
        "'s'",
        "state['pos']",
        "state['pos'][0]",
        "state['tilt']",
        "prev_state['vel']",
        "state['goal_rel']",
        "state['nope']",
        "action",
        "action[1]",
        "task['pos_tolerance']",
        "task['bad']",
        "x",
        "y",
        "np.pi",
        "math.e",
        "np",
        "terms",
        "__import__",
        "__builtins__",
        "open",
        "getattr",
        "compute_reward",
        "state",
    ]
)
_ATTRS = st.sampled_from(
    [
        "sum",
        "shape",
        "T",
        "tolist",
        "__class__",
        "__globals__",
        "tofile",
        "format",
        "gi_frame",
        "sqrt",
        "linalg",
        "norm",
        "clip",
        "items",
        "get",
        "save",
        "_x",
        "mro",
        "real",
    ]
)
_FUNCS = st.sampled_from(
    [
        "np.sqrt",
        "np.clip",
        "np.linalg.norm",
        "math.exp",
        "math.sqrt",
        "terms.norm",
        "terms.closeness",
        "terms.tilt_penalty",
        "abs",
        "min",
        "max",
        "float",
        "len",
        "sum",
        "eval",
        "exec",
        "getattr",
        "type",
        "helper",
        "np.save",
        "print",
        "sorted",
        "range",
    ]
)
_BINOPS = st.sampled_from(["+", "-", "*", "/", "**", "%", "//", "<", "==", "and", "or", "@"])


def _exprs() -> st.SearchStrategy[str]:
    return st.recursive(
        _LEAVES,
        lambda inner: st.one_of(
            st.tuples(inner, _BINOPS, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, _ATTRS).map(lambda t: f"{t[0]}.{t[1]}"),
            st.tuples(_FUNCS, st.lists(inner, max_size=3)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"
            ),
            st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
            st.tuples(inner, st.integers(0, 20000)).map(
                lambda t: f"[{t[0]} for i in range({t[1]})]"
            ),
            inner.map(lambda e: f"(lambda q: {e})"),
            inner.map(lambda e: f"-{e}"),
        ),
        max_leaves=8,
    )


_STMTS = st.one_of(
    st.tuples(st.sampled_from(["x", "y", "np", "range", "__x", "state"]), _exprs()).map(
        lambda t: f"{t[0]} = {t[1]}"
    ),
    _exprs().map(lambda e: f"if {e}:\n        x = 1.0"),
    st.tuples(st.integers(0, 50), _exprs()).map(
        lambda t: f"for i in range({t[0]}):\n        y = {t[1]}"
    ),
    _exprs().map(lambda e: f"state['pos'][0] = {e}"),
    st.just("while x:\n        pass"),
    st.just("import os"),
)


@st.composite
def _programs(draw: st.DrawFn) -> str:
    body = draw(st.lists(_STMTS, max_size=4))
    terms = draw(st.lists(_exprs(), min_size=1, max_size=3))
    helper = draw(
        st.sampled_from(
            ["", "def helper(v):\n    return v\n\n", "def helper(v):\n    return helper(v)\n\n"]
        )
    )
    lines = ["    x = 1.0", "    y = 2.0", *(f"    {s}" for s in body)]
    ret = ", ".join(f"'t{i}': {e}" for i, e in enumerate(terms))
    return (
        f"{helper}def compute_reward(state, action, prev_state, task):\n"
        + "\n".join(lines)
        + f"\n    return {{{ret}}}\n"
    )


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_programs())
def test_fuzz_random_programs_never_crash_the_host(source):
    """Random programs either fail with a structured rejection or become a guarded callable
    whose calls return finite floats (or fail the candidate with a clear error)."""
    try:
        fn = rewards.compile_program(source, CTX, max_errors=3)
    except RewardRejected as exc:
        assert exc.stage in rewards.STAGES and exc.message
        return
    for state, action, prev_state in list(STATES.transitions())[:4]:
        try:
            out = fn(state, action, prev_state, CTX.constants)
        except RewardRuntimeError as exc:
            assert "exceptions" in str(exc)
            return
        assert isinstance(out, dict)
        assert all(isinstance(v, float) and np.isfinite(v) for v in out.values())
