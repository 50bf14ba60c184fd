"""What running a statement may change, for the slicing plan (grader/sandbox/ops_plan.py).

Runs in the sandbox worker; standard library only. A statement left out must not change
anything a graded name's behaviour depends on, and names are only handles: `D = Dense`,
`LAYERS.append(Dense)`, `patch(Dense)`, a decorator that registers its class, a call whose
body writes `Dense.forward` all reach the graded object through another name or none.
So the plan does not ask what a statement binds but what it may *touch*:

- every name it binds, and every name it reads where the object is handed to code (an
  argument, a receiver, a base, a decorator, an operand): any of them may be mutated, or
  made to hold the others (an over-approximation);
- for every student function it may call, transitively, the globals that function reads
  the same way. Calls resolve by name: `f(...)` to the defs of a plain `f`, `x.m(...)` to
  every function named `m`, a plain class to the constructors, a decorator to the call it
  is; a computed callee to every function. Any code that runs may reach the dunder methods
  (operators, printing, iteration, `__init_subclass__`, `__set_name__`); a call through an
  attribute or into library code may reach lambdas, decorated functions and functions used
  as values (callbacks); reading or setting an attribute may reach a property;
- state instances share: a method that changes `self.X` in place where X is not assigned
  in an `__init__` (a class attribute), a function with a mutable default, or any method of
  a class whose body holds mutable attributes, touches the names that own it;
- names that cannot carry a change are left out: imported modules (but see below), plain
  `def`/`class` names called directly, names bound only to constants, builtins.

Where a statement may reach objects no name can follow (`type(x)`, `x.__class__`,
`__dict__`, `sys`, `gc`, `inspect`, `__main__`, a computed `getattr`), change state the
graded code reads through a module (`np.seterr`, `*.seed`, `warnings`, `os.chdir`, an
assignment into a module, a call into a non-inert module graded code uses), or read files
(graded code that opens files or imports the notebook's own modules makes every statement
that calls anything run), it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plan_walk import ESCAPE_MODULES, NO_CALLBACKS, Body

__all__ = ["Effects", "Globals", "Program", "TOUCH_LIMIT"]

PROCESS_MODULES = frozenset({"os", "warnings", "signal", "resource", "threading", "multiprocessing", "locale", "logging", "atexit", "faulthandler", "site"})
"""Calls into these change the process for every later statement."""
OS_READERS = frozenset({"os.getcwd", "os.listdir", "os.getenv", "os.cpu_count", "os.getpid", "os.stat", "os.scandir", "os.walk", "os.fspath"})
INERT_MODULES = frozenset({
    "numpy", "matplotlib", "IPython", "tqdm", "time", "math", "cmath", "seaborn", "pprint", "json", "string", "re",
    "itertools", "functools", "collections", "copy", "operator", "typing", "dataclasses", "abc", "enum", "numbers",
    "decimal", "fractions", "statistics", "textwrap", "datetime", "urllib", "requests", "gzip", "zipfile", "tarfile",
    "pickle", "struct", "hashlib", "os",
})
"""Modules whose calls change no state graded code could read through them, apart from the
`set*`/`*seed*` functions; numpy's legacy generator is the name NUMPY_RANDOM."""
NUMPY_RANDOM = "<numpy.random>"
"""Stands for numpy's legacy global generator: a statement that draws from or seeds it touches
this name. The grader reseeds it after loading, so it only matters while the notebook loads."""
OWN_GENERATORS = frozenset({"default_rng", "Generator", "RandomState", "SeedSequence", "BitGenerator", "PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"})
TOUCH_LIMIT = 300
"""Names one statement may touch before the plan stops following them (hostile input: a chain of
calls through thousands of functions would make the plan quadratic)."""
CONSTRUCTORS = frozenset({"__init__", "__new__"})
"""Dunders run by instantiating a class, not by any operation on an instance."""


@dataclass
class Globals:
    """What the whole notebook binds at top level, by kind of binding."""

    bound: set[str]
    modules: dict[str, str]
    """Names bound only by imports: the module (or module member) they name."""
    plain: set[str]
    """Names bound only by undecorated defs and classes without decorators or keywords."""
    plain_defs: set[str]
    consts: set[str]
    """Names bound only to constants (`SCALE = 0.01`): nothing can change their object."""
    found: Any
    instance_attributes: set[str] = field(default_factory=set)
    """Attributes every `__init__` of the notebook assigns on the instance (not class state)."""


@dataclass
class Effects:
    """The union of what a set of bodies may do."""

    touches: set[str] = field(default_factory=set)
    escapes: list[str] = field(default_factory=list)
    stateful: list[str] = field(default_factory=list)
    module_roots: set[str] = field(default_factory=set)
    reads_files: bool = False
    overflow: bool = False
    """More than TOUCH_LIMIT names: the plan does not follow them (the statement runs, and every other)."""

    def add(self, other: Effects) -> None:
        """Merge `other` in (touches stop growing past TOUCH_LIMIT: then `overflow`)."""
        if other.overflow or len(self.touches) + len(other.touches) > TOUCH_LIMIT:
            self.overflow = True
        if not self.overflow:
            self.touches |= other.touches
        self.escapes += [e for e in other.escapes if e not in self.escapes][:4]
        self.stateful += [s for s in other.stateful if s not in self.stateful][:4]
        self.module_roots |= other.module_roots
        self.reads_files = self.reads_files or other.reads_files


def _globals_read(body: Body, world: Globals) -> tuple[set[str], list[str], list[str], set[str]]:
    """(globals the body may touch, escapes, state changes, non-inert modules it calls into)."""
    local = ((body.params | body.stores) - body.declared) | body.enclosing
    escapes = list(body.escapes)
    stateful: list[str] = []
    roots: set[str] = set()
    rng = False
    modules = dict(world.modules)
    for name in local:
        modules.pop(name, None)
    modules.update({k: v for k, v in body.local_modules.items() if k not in body.declared})
    mentioned = body.loads | body.bases | body.receivers | body.callees
    for name in mentioned:
        if name in modules and modules[name].split(".")[0] in ESCAPE_MODULES:
            escapes.append(f"uses {modules[name].split('.')[0]}")
    for name in body.store_roots:
        if name in modules:
            stateful.append(f"assigns into the module {name!r}")
    for root, path in body.module_calls:
        if root not in modules:
            continue
        dotted = f"{modules[root]}.{path}"
        top, last = dotted.split(".")[0], dotted.rsplit(".", 1)[-1]
        if dotted.startswith("numpy.random.") and last not in OWN_GENERATORS:
            rng = True  # draws from or seeds the legacy global generator
        elif last.startswith("set") or "seed" in last:
            stateful.append(f"{dotted}() changes the module's state")
        elif top in PROCESS_MODULES and not dotted.startswith("os.path.") and dotted not in OS_READERS:
            stateful.append(f"{dotted}() changes the process")
        elif top not in INERT_MODULES:
            roots.add(root)
    candidates = body.loads | body.bases | (body.receivers - world.plain) | {c for c in body.callees if c not in world.plain}
    touched = {n for n in candidates - local if n in world.bound and n not in world.modules and n not in world.consts}
    touched |= body.stores & body.declared
    if body.owner_state or body.in_place - world.instance_attributes:
        touched |= body.owners  # state its owner holds: every instance shares it
    if rng:
        touched.add(NUMPY_RANDOM)
    return touched, escapes, stateful, roots


class Program:
    """Every function body of the notebook, and what calling any of them may do.

    A call graph over the bodies and a few shared nodes (the dunders, the first-class
    functions, the constructors, every def of one name), closed by strongly connected
    components in one pass: linear in the bodies and calls, however they recurse."""

    def __init__(self, functions: list[Body], world: Globals) -> None:
        self.world = world
        self.functions = functions
        self.by_name: dict[str, list[int]] = {}
        for index, body in enumerate(functions):
            if body.name is not None:
                self.by_name.setdefault(body.name, []).append(index)
        self.values: set[str] = set()
        for body in functions:
            self.values |= body.values | body.attr_loads
            if body.name == "__init__":
                world.instance_attributes |= body.assigned
        self.own = [self._own(b) for b in functions]
        self.everything = Effects()
        for effect in self.own:
            self.everything.add(effect)
        self.passed_classes = False
        self.edges: list[set[int]] = [set() for _ in functions]
        self.nodes: dict[str, int] = {}
        """Shared nodes by key: "always" (dunders: any code that runs may call them), "first"
        (lambdas, decorated functions, functions used as values: library code or a call
        through an attribute may call them), "constructors", "name:<m>" (every def named m)."""
        self.closed: list[Effects] = []

    def close(self, top_values: set[str], classes: set[str], metaclass: bool) -> None:
        """Close each function's effects over what it may call. `top_values`: names and
        attributes used as values at top level (a function passed or stored may be called
        from anywhere); `classes`: names bound by class statements; `metaclass`: whether
        creating a class may run student code."""
        used = self.values | top_values
        self.passed_classes = bool(classes & used)  # a class handed to code may be instantiated there
        dunder = [i for i, b in enumerate(self.functions) if b.name is not None and b.name.startswith("__") and b.name.endswith("__")]
        self._node("always", {i for i in dunder if metaclass or self.functions[i].name not in CONSTRUCTORS})
        self._node("first", {i for i, b in enumerate(self.functions) if b.first_class or b.name is None or b.name in used})
        self._node("constructors", {i for i in dunder if self.functions[i].name in CONSTRUCTORS})
        self._node("decorated", {i for i, b in enumerate(self.functions) if b.decorated})
        for name, members in self.by_name.items():
            self._node("name:" + name, set(members))
        everything = []
        for index, body in enumerate(self.functions):
            targets = self._direct(body)
            if targets is None:
                everything.append(index)
            else:
                self.edges[index] |= targets
        self.closed = self._components(set(everything))

    def effects(self, body: Body) -> Effects:
        """What running `body` (a top-level statement) may do, through the code it calls."""
        effect = self._own(body)
        targets = self._direct(body)
        for target in self.nodes.values() if targets is None else targets:
            effect.add(self.closed[target])
        return effect

    def _node(self, key: str, members: set[int]) -> int:
        if key not in self.nodes:
            self.nodes[key] = len(self.edges)
            self.edges.append(set(members))
            self.own.append(Effects())
        return self.nodes[key]

    def _components(self, everything: set[int]) -> list[Effects]:
        """Tarjan's algorithm, iterative; a component's effects are its members' and those of
        every component it calls (found first, as Tarjan emits them in that order)."""
        count = len(self.edges)
        order, low, on_stack = [-1] * count, [0] * count, [False] * count
        closed: list[Effects] = [Effects() for _ in range(count)]
        stack: list[int] = []
        counter = 0
        for start in range(count):
            if order[start] >= 0:
                continue
            work = [(start, iter(self.edges[start]))]
            order[start] = low[start] = counter
            counter += 1
            stack.append(start)
            on_stack[start] = True
            while work:
                node, successors = work[-1]
                advanced = False
                for successor in successors:
                    if order[successor] < 0:
                        order[successor] = low[successor] = counter
                        counter += 1
                        stack.append(successor)
                        on_stack[successor] = True
                        work.append((successor, iter(self.edges[successor])))
                        advanced = True
                        break
                    if on_stack[successor]:
                        low[node] = min(low[node], order[successor])
                if advanced:
                    continue
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] != order[node]:
                    continue
                members = []
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    members.append(member)
                    if member == node:
                        break
                effect = Effects()
                for member in members:
                    effect.add(self.own[member])
                    if member in everything:
                        effect.add(self.everything)
                    for successor in self.edges[member]:
                        if not on_stack[successor] and closed[successor] is not effect:
                            effect.add(closed[successor])
                for member in members:
                    closed[member] = effect
        return closed

    @staticmethod
    def _runs_code(body: Body) -> bool:
        return bool(body.loads or body.bases or body.callees or body.receivers or body.unknown_call)

    def _own(self, body: Body) -> Effects:
        touched, escapes, stateful, roots = _globals_read(body, self.world)
        return Effects(touched, escapes, stateful, roots, body.reads_files)

    def _direct(self, body: Body) -> set[int] | None:
        """The nodes `body` calls; None: any function."""
        if body.unknown_call:
            return None
        local = ((body.params | body.stores) - body.declared) | body.enclosing
        targets: set[int] = set()
        calls_out = bool(body.methods)  # `x.m(...)`: any function stored as an attribute, or library code handed functions
        for name in body.callees:
            if name in local:
                return None
            if name in self.world.plain_defs and name in self.by_name:
                targets.add(self.nodes["name:" + name])
            elif name in self.world.plain:  # a plain class: instantiating it runs its constructors
                targets.add(self.nodes["constructors"])
            elif name in self.world.bound and name not in self.world.modules:
                return None
            elif name not in NO_CALLBACKS or name in self.world.bound:
                calls_out = True  # library code may call back what it is handed
        for name in body.methods:
            if name in self.by_name:
                targets.add(self.nodes["name:" + name])
        if calls_out:
            targets.add(self.nodes["first"])
        if self.passed_classes and (body.callees or body.methods):
            targets.add(self.nodes["constructors"])
        if self._runs_code(body):
            targets.add(self.nodes["always"])
        if body.attr_loads or body.store_roots:
            targets.add(self.nodes["decorated"])  # a property's getter or setter
        return targets
